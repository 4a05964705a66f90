//! The admin CLI and quickstart as scripts use them: the exact forms of issue 2, their human and
//! JSON output, and every bad input refused with one sentence and nothing half-created.

use std::path::Path;

use postwerk_testkit::cli::Cli;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

/// An organization, an owner account and a service `example.com` with `quota`.
fn with_service(quota: u32) -> Cli {
    let cli = Cli::new(Path::new(BIN));
    cli.ok(&["org", "create", "Acme"]);
    cli.ok(&[
        "user",
        "create",
        "boss@outside.example",
        "--password",
        "boss-password-1",
        "--org",
        "Acme",
        "--role",
        "owner",
    ]);
    cli.ok(&[
        "service",
        "create",
        "example.com",
        "--org",
        "Acme",
        "--quota",
        &quota.to_string(),
    ]);
    cli
}

#[test]
fn org_user_service_and_address_forms_work_as_documented() {
    let cli = Cli::new(Path::new(BIN));
    assert!(cli.ok(&["org", "create", "Acme"]).contains("Acme"));
    let user = cli.json(&[
        "user",
        "create",
        "Boss@Outside.example",
        "--password",
        "boss-password-1",
        "--org",
        "Acme",
        "--role",
        "owner",
    ]);
    assert_eq!(
        user["login"], "boss@outside.example",
        "logins are normalised"
    );
    assert!(
        user["generated_password"].is_null(),
        "a chosen password is not echoed"
    );
    let service = cli.json(&[
        "service",
        "create",
        "Example.COM",
        "--org",
        "Acme",
        "--quota",
        "5",
    ]);
    assert_eq!(service["domain"], "example.com");
    assert_eq!(service["address_quota"], 5);

    let created = cli.json(&[
        "address",
        "create",
        "toto@example.com",
        "--password",
        "mailbox-secret-1",
        "--user",
        "boss@outside.example",
    ]);
    assert_eq!(created["kind"], "mailbox");
    let access = cli.json(&["access", "list", "toto@example.com"]);
    assert_eq!(
        access[0]["user"], "boss@outside.example",
        "ADDR-1 a: linked to the account"
    );

    // ADDR-1 b: no password given, one is generated and shown once.
    let generated = cli.json(&["address", "create", "gen@example.com"]);
    let password = generated["generated_password"].as_str().unwrap();
    assert!(password.len() >= 16, "{password}");
    let listed = cli.ok(&["address", "list", "example.com"]);
    assert!(
        !listed.contains(password),
        "the password is never shown again"
    );
    assert!(!listed.contains("argon2"), "hashes are never printed");

    assert_eq!(
        cli.addresses("example.com"),
        ["gen@example.com", "toto@example.com"]
    );
}

#[test]
fn addr_2_and_addr_4_generic_and_redirect_addresses() {
    let cli = with_service(10);
    cli.ok(&[
        "address",
        "create",
        "noreply@example.com",
        "--kind",
        "noreply",
    ]);
    cli.ok(&["address", "create", "all@example.com", "--kind", "catchall"]);
    let team = cli.json(&[
        "address",
        "create",
        "team@example.com",
        "--kind",
        "redirect",
        "--to",
        "a@elsewhere.example",
        "--to",
        "b@elsewhere.example",
    ]);
    assert_eq!(team["redirect"]["targets"].as_array().unwrap().len(), 2);
    assert!(
        team["generated_password"].is_null(),
        "redirect-only addresses have no password"
    );
    let kept = cli.json(&[
        "address",
        "create",
        "bob@example.com",
        "--to",
        "bob@home.example",
        "--keep-copy",
    ]);
    assert_eq!(kept["redirect"]["keep_copy"], true);

    let kinds: Vec<(String, String)> = cli
        .json(&["address", "list", "example.com"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().into(),
                a["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(kinds.contains(&("noreply@example.com".into(), "noreply".into())));
    assert!(kinds.contains(&("all@example.com".into(), "catchall".into())));
    assert!(kinds.contains(&("team@example.com".into(), "redirect".into())));

    let second = cli.refused(&[
        "address",
        "create",
        "other@example.com",
        "--kind",
        "catchall",
    ]);
    assert!(second.contains("catch-all"), "{second}");
    let without_target = cli.refused(&[
        "address",
        "create",
        "lost@example.com",
        "--kind",
        "redirect",
    ]);
    assert!(without_target.contains("target"), "{without_target}");
    assert!(
        !cli.addresses("example.com")
            .contains(&"lost@example.com".to_string())
    );
}

#[test]
fn addr_6_aliases_up_to_fifty_and_the_fifty_first_refused() {
    let cli = with_service(10);
    cli.ok(&[
        "address",
        "create",
        "toto@example.com",
        "--password",
        "mailbox-secret-1",
    ]);
    for n in 1..=50 {
        cli.ok(&[
            "alias",
            "add",
            "toto@example.com",
            &format!("alias{n}@example.com"),
        ]);
    }
    let refused = cli.refused(&["alias", "add", "toto@example.com", "alias51@example.com"]);
    assert!(refused.contains("50 aliases"), "{refused}");
    let aliases = cli.json(&["alias", "list", "toto@example.com"]);
    assert_eq!(aliases.as_array().unwrap().len(), 50);

    cli.ok(&["alias", "remove", "alias7@example.com"]);
    cli.ok(&["alias", "add", "toto@example.com", "alias51@example.com"]);
    cli.ok(&["alias", "remove", "alias8@example.com"]);
    let clash = cli.refused(&["alias", "add", "toto@example.com", "toto@example.com"]);
    assert!(clash.contains("toto"), "{clash}");
    let other_domain = cli.refused(&["alias", "add", "toto@example.com", "x@other.example"]);
    assert!(other_domain.contains("domain"), "{other_domain}");
}

#[test]
fn addr_8_delete_removes_addresses_and_their_aliases() {
    let cli = with_service(10);
    for local in ["a", "b", "c"] {
        cli.ok(&[
            "address",
            "create",
            &format!("{local}@example.com"),
            "--password",
            "mailbox-secret-1",
        ]);
    }
    cli.ok(&["alias", "add", "a@example.com", "alpha@example.com"]);
    let out = cli.ok(&[
        "address",
        "delete",
        "a@example.com",
        "b@example.com",
        "--yes",
    ]);
    assert!(
        out.contains("deleted a@example.com") && out.contains("deleted b@example.com"),
        "{out}"
    );
    assert_eq!(cli.addresses("example.com"), ["c@example.com"]);
    // The alias went with its address: its local part is free again.
    cli.ok(&[
        "address",
        "create",
        "alpha@example.com",
        "--password",
        "mailbox-secret-1",
    ]);

    // All or nothing: one unknown address and nothing is deleted.
    let refused = cli.refused(&[
        "address",
        "delete",
        "c@example.com",
        "ghost@example.com",
        "--yes",
    ]);
    assert!(refused.contains("ghost@example.com"), "{refused}");
    assert!(
        cli.addresses("example.com")
            .contains(&"c@example.com".to_string())
    );
}

#[test]
fn bad_inputs_exit_non_zero_with_one_sentence_and_create_nothing() {
    let cli = with_service(2);
    cli.ok(&[
        "address",
        "create",
        "one@example.com",
        "--password",
        "mailbox-secret-1",
    ]);

    let unknown_domain = cli.refused(&[
        "address",
        "create",
        "x@unknown.example",
        "--password",
        "mailbox-secret-1",
    ]);
    assert!(
        unknown_domain.contains("unknown.example"),
        "{unknown_domain}"
    );

    let duplicate = cli.refused(&[
        "address",
        "create",
        "ONE@example.com",
        "--password",
        "mailbox-secret-1",
    ]);
    assert!(duplicate.contains("already exists"), "{duplicate}");

    let invalid = cli.refused(&[
        "address",
        "create",
        "bad..local@example.com",
        "--password",
        "mailbox-secret-1",
    ]);
    assert!(invalid.contains("bad..local"), "{invalid}");
    for bad in [
        "sp ace@example.com",
        "no-at-sign",
        "\"quoted\"@example.com",
        ".dot@example.com",
    ] {
        cli.refused(&["address", "create", bad, "--password", "mailbox-secret-1"]);
    }

    let unknown_org = cli.refused(&["service", "create", "new.example", "--org", "Nobody"]);
    assert!(unknown_org.contains("Nobody"), "{unknown_org}");
    let unknown_org_user = cli.refused(&[
        "user",
        "create",
        "x@y.example",
        "--password",
        "long-enough-1",
        "--org",
        "Nobody",
    ]);
    assert!(unknown_org_user.contains("Nobody"), "{unknown_org_user}");
    assert!(
        cli.json(&["user", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["login"] != "x@y.example")
    );

    let short = cli.refused(&[
        "address",
        "create",
        "two@example.com",
        "--password",
        "short",
    ]);
    assert!(short.contains("too short"), "{short}");

    let unknown_user = cli.refused(&[
        "address",
        "create",
        "two@example.com",
        "--user",
        "ghost@outside.example",
    ]);
    assert!(
        unknown_user.contains("ghost@outside.example"),
        "{unknown_user}"
    );
    assert_eq!(
        cli.addresses("example.com"),
        ["one@example.com"],
        "nothing half-created"
    );

    // SVC-2: the quota of 2 holds; the third address is refused.
    cli.ok(&[
        "address",
        "create",
        "two@example.com",
        "--password",
        "mailbox-secret-1",
    ]);
    let quota = cli.refused(&[
        "address",
        "create",
        "three@example.com",
        "--password",
        "mailbox-secret-1",
    ]);
    assert!(quota.contains("quota"), "{quota}");
    let below = cli.refused(&["service", "quota", "example.com", "1"]);
    assert!(below.contains("2"), "{below}");
    cli.ok(&["service", "quota", "example.com", "3"]);
    cli.ok(&[
        "address",
        "create",
        "three@example.com",
        "--password",
        "mailbox-secret-1",
    ]);

    let org_twice = cli.refused(&["org", "create", "acme"]);
    assert!(
        org_twice.contains("Acme") || org_twice.contains("acme"),
        "{org_twice}"
    );
}

#[test]
fn svc_3_alias_domain_and_a_domain_in_one_service_only() {
    let cli = with_service(10);
    cli.ok(&["service", "alias-domain", "example.com", "example.org"]);
    let twice = cli.refused(&["service", "create", "example.org", "--org", "Acme"]);
    assert!(twice.contains("example.org"), "{twice}");
    let on_alias = cli.refused(&[
        "address",
        "create",
        "x@example.org",
        "--password",
        "mailbox-secret-1",
    ]);
    assert!(on_alias.contains("alias domain"), "{on_alias}");
}

#[test]
fn id_3_user_and_mailbox_passwords_change_independently() {
    let cli = with_service(10);
    cli.ok(&[
        "address",
        "create",
        "toto@example.com",
        "--password",
        "mailbox-secret-1",
    ]);
    cli.ok(&[
        "user",
        "create",
        "toto@example.com",
        "--password",
        "account-secret-1",
    ]);
    let changed = cli.json(&["address", "passwd", "toto@example.com"]);
    assert!(changed["generated_password"].as_str().is_some());
    cli.ok(&[
        "user",
        "passwd",
        "toto@example.com",
        "--password",
        "account-secret-2",
    ]);
}

#[test]
fn quickstart_sets_up_a_domain_once_and_refuses_a_second_time() {
    let cli = Cli::new(Path::new(BIN));
    let data = cli.data();
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .arg("quickstart")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["example.net", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let owner_password = doc["owner"]["password"].as_str().unwrap();
    let mailbox_password = doc["mailbox"]["password"].as_str().unwrap();
    assert_ne!(owner_password, mailbox_password, "ID-3: two credentials");
    let records = doc["dns_records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "MX" && r["name"] == "example.net")
    );
    assert_eq!(doc["client_settings"]["imap"]["port"], 993);
    assert_eq!(cli.addresses("example.net"), ["postmaster@example.net"]);
    let access = cli.json(&["access", "list", "postmaster@example.net"]);
    assert_eq!(access[0]["user"], "postmaster@example.net");

    let again = run(&["example.net"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already hosted"));

    let text = run(&["example.org", "--org", "Other"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("IN MX 10 mail.example.test."), "{text}");
    assert!(text.contains("port 993"), "{text}");
}
