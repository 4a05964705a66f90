//! CLI parity with the REST API (issue 8, CLI-4): members, service settings, the address
//! creation modes the operator has, address details and changes, invitations, confirmed
//! deletion, CSV import, sender lists and API tokens — each in text and `--json`, and each
//! refusal with a sentence that names what is wrong.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use postwerk_core::{FailureLimiter, FailurePolicy, LoginOutcome, MailboxAuth, ManagerAuth};
use postwerk_store::Stores;
use postwerk_testkit::cli::Cli;
use postwerk_testkit::dns::{DnsServer, Zone};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

/// Organization Acme with its owner, a member, and the service `example.com`.
fn with_service(quota: u32) -> Cli {
    let cli = Cli::new(Path::new(BIN));
    cli.ok(&["org", "create", "Acme"]);
    for (login, role) in [
        ("boss@outside.example", "owner"),
        ("ann@outside.example", "member"),
    ] {
        cli.ok(&[
            "user",
            "create",
            login,
            "--password",
            "account-password-1",
            "--org",
            "Acme",
            "--role",
            role,
        ]);
    }
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

fn mailbox(cli: &Cli, address: &str) {
    cli.ok(&[
        "address",
        "create",
        address,
        "--password",
        "mailbox-secret-1",
    ]);
}

/// Runs `work` against the data folder's stores, opened from this process.
fn with_store<T, F, Fut>(cli: &Cli, work: F) -> T
where
    F: FnOnce(Stores) -> Fut,
    Fut: Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stores = postwerk_store::open_sqlite(&cli.data()).await.unwrap();
        let result = work(stores.clone()).await;
        stores.close().await;
        result
    })
}

/// Whether `password` opens `address` as an email client would log in (ID-2).
fn mailbox_login(cli: &Cli, address: &str, password: &str) -> bool {
    with_store(cli, |stores| async move {
        let auth = MailboxAuth::new(
            stores.directory.clone(),
            Arc::new(FailureLimiter::new(FailurePolicy::default())),
        );
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        matches!(
            auth.login(postwerk_core::Protocol::Imap, ip, address, password)
                .await
                .unwrap(),
            LoginOutcome::Accepted(_)
        )
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn org_members_are_listed_added_changed_and_removed() {
    let cli = with_service(10);
    let members = cli.json(&["org", "members", "Acme"]);
    let roles: Vec<(String, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["login"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(roles.contains(&("boss@outside.example".into(), "owner".into())));
    assert!(roles.contains(&("ann@outside.example".into(), "member".into())));
    let text = cli.ok(&["org", "members", "Acme"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("boss@outside.example") && l.contains("owner")),
        "{text}"
    );

    cli.ok(&[
        "user",
        "create",
        "carl@outside.example",
        "--password",
        "account-password-1",
    ]);
    let added = cli.json(&[
        "org",
        "member-set",
        "Acme",
        "carl@outside.example",
        "--role",
        "admin",
    ]);
    assert_eq!(added["login"], "carl@outside.example");
    assert_eq!(added["role"], "admin");
    let changed = cli.ok(&[
        "org",
        "member-set",
        "Acme",
        "Carl@Outside.example",
        "--role",
        "member",
    ]);
    assert!(changed.contains("carl@outside.example"), "{changed}");
    assert!(changed.contains("member"), "{changed}");

    let removed = cli.json(&["org", "member-remove", "Acme", "carl@outside.example"]);
    assert_eq!(removed["removed"], "carl@outside.example");
    let logins: Vec<Value> = cli
        .json(&["org", "members", "Acme"])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["login"].clone())
        .collect();
    assert!(!logins.contains(&Value::from("carl@outside.example")));

    let last_owner = cli.refused(&["org", "member-remove", "Acme", "boss@outside.example"]);
    assert!(last_owner.contains("owner"), "{last_owner}");
    let bad_role = cli.refused(&[
        "org",
        "member-set",
        "Acme",
        "ann@outside.example",
        "--role",
        "emperor",
    ]);
    assert!(bad_role.contains("emperor"), "{bad_role}");
    let unknown = cli.refused(&["org", "members", "Nobody"]);
    assert!(unknown.contains("Nobody"), "{unknown}");
}

#[test]
fn service_show_and_set_change_quota_switches_and_default_permissions() {
    let cli = with_service(3);
    mailbox(&cli, "one@example.com");
    let shown = cli.json(&["service", "show", "example.com"]);
    assert_eq!(shown["domain"], "example.com");
    assert_eq!(shown["address_quota"], 3);
    assert_eq!(shown["addresses_in_use"], 1);
    assert_eq!(shown["aliases_allowed"], true);
    let text = cli.ok(&["service", "show", "example.com"]);
    assert!(text.contains("1 of 3"), "{text}");
    assert!(text.contains("\"Acme\""), "{text}");

    let set = cli.json(&[
        "service",
        "set",
        "example.com",
        "--quota",
        "20",
        "--aliases",
        "off",
        "--default-permissions",
        "read_send,manage_filters",
    ]);
    assert_eq!(set["address_quota"], 20);
    assert_eq!(set["aliases_allowed"], false);
    assert_eq!(
        strings(&set["default_permissions"]),
        ["read_send", "manage_filters"]
    );

    // ADDR-6: the switch is off, so no alias can be added.
    let no_alias = cli.refused(&["alias", "add", "one@example.com", "uno@example.com"]);
    assert!(no_alias.contains("alias"), "{no_alias}");
    // SVC-4: access given without permissions takes the new defaults.
    let access = cli.json(&["access", "grant", "one@example.com", "ann@outside.example"]);
    assert_eq!(
        strings(&access["permissions"]),
        ["read_send", "manage_filters"]
    );

    let on = cli.ok(&["service", "set", "example.com", "--aliases", "on"]);
    assert!(on.contains("aliases allowed"), "{on}");
    cli.ok(&["alias", "add", "one@example.com", "uno@example.com"]);

    let nothing = cli.refused(&["service", "set", "example.com"]);
    assert!(nothing.contains("nothing to change"), "{nothing}");
    let below = cli.refused(&["service", "set", "example.com", "--quota", "0"]);
    assert!(below.contains('1'), "{below}");
    assert_eq!(
        cli.json(&["service", "show", "example.com"])["address_quota"],
        20,
        "a refused change changes nothing"
    );
    let unknown = cli.refused(&["service", "show", "unknown.example"]);
    assert!(unknown.contains("unknown.example"), "{unknown}");
}

#[test]
fn service_signatures_and_alias_domains_are_added_and_removed() {
    let cli = with_service(10);
    let added = cli.ok(&[
        "service",
        "signature-set",
        "example.com",
        "Formal",
        "--body",
        "Kind regards,\nAcme",
    ]);
    assert!(
        added.contains("\"Formal\"") && added.contains("added"),
        "{added}"
    );
    cli.ok(&[
        "service",
        "signature-set",
        "example.com",
        "Casual",
        "--body",
        "Cheers",
    ]);
    let replaced = cli.json(&[
        "service",
        "signature-set",
        "example.com",
        "Formal",
        "--body",
        "Yours faithfully,\nAcme",
    ]);
    let templates = replaced["signature_templates"].as_array().unwrap();
    assert_eq!(templates.len(), 2, "{replaced}");
    assert_eq!(templates[0]["name"], "Formal");
    assert_eq!(templates[0]["body"], "Yours faithfully,\nAcme");

    // A template can be picked when creating an address (SVC-4).
    let created = cli.json(&[
        "address",
        "create",
        "sig@example.com",
        "--user",
        "ann@outside.example",
        "--signature",
        "Casual",
    ]);
    assert_eq!(created["access"][0]["signature"], "Casual");
    let granted = cli.json(&[
        "access",
        "grant",
        "sig@example.com",
        "boss@outside.example",
        "--signature",
        "Formal",
    ]);
    assert_eq!(granted["signature"], "Formal");
    let unknown_sig = cli.refused(&[
        "address",
        "create",
        "nosig@example.com",
        "--user",
        "ann@outside.example",
        "--signature",
        "Pirate",
    ]);
    assert!(unknown_sig.contains("Pirate"), "{unknown_sig}");

    let removed = cli.json(&["service", "signature-remove", "example.com", "Formal"]);
    let names: Vec<&str> = removed["signature_templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Casual"]);
    let gone = cli.refused(&["service", "signature-remove", "example.com", "Formal"]);
    assert!(gone.contains("\"Formal\""), "{gone}");
    let text = cli.ok(&["service", "show", "example.com"]);
    assert!(text.contains("\"Casual\""), "{text}");

    cli.ok(&["service", "alias-domain", "example.com", "example.org"]);
    assert_eq!(
        strings(&cli.json(&["service", "show", "example.com"])["alias_domains"]),
        ["example.org"]
    );
    let removed = cli.ok(&[
        "service",
        "alias-domain-remove",
        "example.com",
        "example.org",
    ]);
    assert!(removed.contains("example.org"), "{removed}");
    assert!(
        cli.json(&["service", "show", "example.com"])["alias_domains"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The domain is free again: it may now have its own service.
    cli.ok(&["service", "create", "example.org", "--org", "Acme"]);
}

#[test]
fn service_dns_check_says_which_records_are_in_place() {
    let cli = with_service(10);
    let mut zone = Zone::new();
    zone.mx("example.com", 10, "mail.example.test");
    zone.txt("example.com", "v=spf1 include:elsewhere.example -all");
    let dns = DnsServer::start(zone).unwrap();
    let config = cli.path("postwerk.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"mail.example.test\"\ndata_dir = \"{}\"\n[dns]\nservers = [\"{}\"]\n\
             dnssec = \"off\"\ntimeout = 2\n",
            cli.data().display(),
            dns.addr()
        ),
    )
    .unwrap();
    let check = |json: bool| {
        let mut command = Command::new(BIN);
        command.arg("admin").arg("--config").arg(&config);
        if json {
            command.arg("--json");
        }
        let out = command
            .args(["service", "dns", "example.com", "--check"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let text = check(false);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
            .to_string()
    };
    assert!(
        line("IN MX 10 mail.example.test.").starts_with("in place"),
        "{text}"
    );
    assert!(line("v=spf1 mx").starts_with("missing"), "{text}");
    assert!(
        text.contains("found instead: \"v=spf1 include:elsewhere.example -all\""),
        "{text}"
    );
    assert!(line("_dmarc.example.com").starts_with("missing"), "{text}");
    assert!(text.contains("1 of "), "{text}");

    let doc: Value = serde_json::from_str(&check(true)).unwrap();
    assert_eq!(doc["in_place"], 1);
    let records = doc["records"].as_array().unwrap();
    let mx = records.iter().find(|r| r["kind"] == "MX").unwrap();
    assert_eq!(mx["in_place"], true);
    let spf = records
        .iter()
        .find(|r| r["kind"] == "TXT" && r["name"] == "example.com")
        .unwrap();
    assert_eq!(spf["in_place"], false);
    assert_eq!(
        strings(&spf["found"]),
        ["\"v=spf1 include:elsewhere.example -all\""]
    );
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "TXT" && r["name"].as_str().unwrap().contains("_domainkey")),
        "the DKIM record is checked too"
    );
}

#[test]
fn address_create_for_users_with_permissions_signature_aliases_and_name() {
    let cli = with_service(10);
    cli.ok(&[
        "service",
        "signature-set",
        "example.com",
        "Team",
        "--body",
        "The team",
    ]);
    let created = cli.json(&[
        "address",
        "create",
        "team@example.com",
        "--user",
        "boss@outside.example",
        "--user",
        "ann@outside.example",
        "--permissions",
        "read_send,manage_aliases",
        "--signature",
        "Team",
        "--alias",
        "crew",
        "--alias",
        "staff@example.com",
        "--name",
        "Acme Team",
    ]);
    assert_eq!(created["address"], "team@example.com");
    assert_eq!(created["display_name"], "Acme Team");
    assert_eq!(strings(&created["aliases"]), ["crew", "staff"]);
    let password = created["generated_password"].as_str().unwrap();
    assert!(
        mailbox_login(&cli, "team@example.com", password),
        "ADDR-1 b"
    );
    let access = created["access"].as_array().unwrap();
    assert_eq!(access.len(), 2);
    for grant in access {
        assert_eq!(
            strings(&grant["permissions"]),
            ["read_send", "manage_aliases"]
        );
        assert_eq!(grant["signature"], "Team");
    }

    let text = cli.ok(&[
        "address",
        "create",
        "solo@example.com",
        "--user",
        "ann@outside.example",
        "--alias",
        "alone",
    ]);
    assert!(text.contains("linked to ann@outside.example"), "{text}");
    assert!(text.contains("alone@example.com"), "{text}");
    assert!(text.contains("password (shown once): "), "{text}");

    // ADDR-1 c: for nobody.
    let nobody = cli.json(&["address", "create", "later@example.com"]);
    assert!(nobody["access"].as_array().unwrap().is_empty());

    // Only members of the organization may be given an address.
    cli.ok(&[
        "user",
        "create",
        "stranger@outside.example",
        "--password",
        "account-password-1",
    ]);
    let stranger = cli.refused(&[
        "address",
        "create",
        "x@example.com",
        "--user",
        "stranger@outside.example",
    ]);
    assert!(stranger.contains("stranger@outside.example"), "{stranger}");
    let loose = cli.refused(&[
        "address",
        "create",
        "y@example.com",
        "--permissions",
        "read_send",
    ]);
    assert!(loose.contains("--user or --invite"), "{loose}");
    assert!(
        !cli.addresses("example.com")
            .contains(&"x@example.com".into())
    );
}

#[test]
fn addr_6_the_fifty_first_alias_given_at_creation_is_refused_and_nothing_is_created() {
    let cli = with_service(10);
    let mut args: Vec<String> = ["address", "create", "many@example.com"]
        .map(String::from)
        .to_vec();
    for n in 1..=51 {
        args.push("--alias".into());
        args.push(format!("a{n}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let refused = cli.refused(&args);
    assert!(refused.contains("50 aliases"), "{refused}");
    assert!(
        cli.addresses("example.com").is_empty(),
        "nothing half-created"
    );
    let fifty = &args[..args.len() - 2];
    let created = cli.json(fifty);
    assert_eq!(created["aliases"].as_array().unwrap().len(), 50);
}

#[test]
fn quota_reached_and_unknown_domain_are_refused_with_a_sentence() {
    let cli = with_service(1);
    mailbox(&cli, "one@example.com");
    let quota = cli.refused(&["address", "create", "two@example.com"]);
    assert!(quota.contains("quota"), "{quota}");
    let unknown = cli.refused(&["address", "create", "x@unknown.example"]);
    assert!(unknown.contains("unknown.example"), "{unknown}");
    let csv = cli.path("one.csv");
    std::fs::write(&csv, "address\nthree\n").unwrap();
    let unknown = cli.refused(&[
        "address",
        "import",
        "unknown.example",
        csv.to_str().unwrap(),
    ]);
    assert!(unknown.contains("unknown.example"), "{unknown}");
}

#[test]
fn invitations_are_queued_with_the_chosen_login_mode() {
    let cli = with_service(10);
    let own = cli.json(&[
        "address",
        "create",
        "new@example.com",
        "--invite",
        "person@outside.example",
        "--login-mode",
        "own",
    ]);
    assert_eq!(own["invitation"]["sent_to"], "person@outside.example");
    assert_eq!(own["invitation"]["login_mode"], "own_choice");
    assert!(
        own["generated_password"].as_str().is_some(),
        "ADDR-1 b': the password is shown unless the login is the address itself"
    );
    let queue = cli.json(&["queue", "list"]);
    let recipients: Vec<&Value> = queue
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["recipients"].as_array().unwrap())
        .map(|r| &r["address"])
        .collect();
    assert!(
        recipients.contains(&&Value::from("person@outside.example")),
        "the invitation waits in the queue for the server's workers: {queue}"
    );

    let exact = cli.ok(&[
        "address",
        "create",
        "self@example.com",
        "--invite",
        "self",
        "--login-mode",
        "exact",
    ]);
    assert!(
        exact.contains("invitation sent to self@example.com"),
        "{exact}"
    );
    assert!(exact.contains("logs in as self@example.com"), "{exact}");
    assert!(
        !exact.contains("password (shown once)"),
        "the invited person chooses it: {exact}"
    );

    let again = cli.json(&[
        "address",
        "invite",
        "new@example.com",
        "--to",
        "other@outside.example",
        "--login-mode",
        "exact",
    ]);
    assert_eq!(again["sent_to"], "other@outside.example");
    assert_eq!(again["login_mode"], "exact_address");
    let shown = cli.json(&["address", "show", "new@example.com"]);
    let sent_to: Vec<&str> = shown["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sent_to"].as_str().unwrap())
        .collect();
    assert_eq!(sent_to.len(), 2, "{shown}");
    assert!(sent_to.contains(&"person@outside.example"));
    assert!(sent_to.contains(&"other@outside.example"));
    let text = cli.ok(&["address", "show", "new@example.com"]);
    assert!(text.contains("open until"), "{text}");

    let no_mode = cli.run(&[
        "address",
        "create",
        "nomode@example.com",
        "--invite",
        "person@outside.example",
    ]);
    assert!(!no_mode.status.success());
    assert!(String::from_utf8_lossy(&no_mode.stderr).contains("--login-mode"));
    assert!(
        !cli.addresses("example.com")
            .contains(&"nomode@example.com".into())
    );
}

#[test]
fn address_show_and_set_change_state_limit_redirection_and_name() {
    let cli = with_service(10);
    mailbox(&cli, "toto@example.com");
    cli.ok(&["alias", "add", "toto@example.com", "thomas@example.com"]);
    cli.ok(&["access", "grant", "toto@example.com", "ann@outside.example"]);
    let text = cli.ok(&["address", "show", "toto@example.com"]);
    for expected in [
        "mailbox",
        "enabled",
        "thomas@example.com",
        "ann@outside.example",
        "no limit",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }

    let disabled = cli.json(&["address", "set", "toto@example.com", "--disable"]);
    assert_eq!(disabled["enabled"], false);
    assert!(
        !mailbox_login(&cli, "toto@example.com", "mailbox-secret-1"),
        "a disabled address refuses logins"
    );
    let text = cli.ok(&["address", "show", "toto@example.com"]);
    assert!(text.contains("disabled"), "{text}");
    let enabled = cli.ok(&["address", "set", "toto@example.com", "--enable"]);
    assert!(enabled.contains("enabled"), "{enabled}");
    assert!(mailbox_login(&cli, "toto@example.com", "mailbox-secret-1"));

    let limited = cli.json(&[
        "address",
        "set",
        "toto@example.com",
        "--storage-limit",
        "1000000",
        "--name",
        "Toto Example",
    ]);
    assert_eq!(limited["display_name"], "Toto Example");
    assert_eq!(limited["storage_limit"], 1_000_000);
    let shown = cli.ok(&["address", "show", "toto@example.com"]);
    assert!(shown.contains("limit 1.0 MB"), "{shown}");
    let lifted = cli.json(&[
        "address",
        "set",
        "toto@example.com",
        "--storage-limit",
        "none",
    ]);
    assert!(lifted["storage_limit"].is_null());

    let redirected = cli.json(&[
        "address",
        "set",
        "toto@example.com",
        "--redirect",
        "toto@home.example",
        "--keep-copy",
    ]);
    assert_eq!(
        strings(&redirected["redirect"]["targets"]),
        ["toto@home.example"]
    );
    assert_eq!(redirected["redirect"]["keep_copy"], true);
    let text = cli.ok(&["address", "show", "toto@example.com"]);
    assert!(text.contains("toto@home.example (keeps a copy)"), "{text}");
    let unredirected = cli.json(&["address", "set", "toto@example.com", "--no-redirect"]);
    assert!(unredirected["redirect"].is_null());

    let nothing = cli.refused(&["address", "set", "toto@example.com"]);
    assert!(nothing.contains("nothing to change"), "{nothing}");
    let bad_limit = cli.refused(&[
        "address",
        "set",
        "toto@example.com",
        "--storage-limit",
        "lots",
    ]);
    assert!(bad_limit.contains("lots"), "{bad_limit}");
    let ghost = cli.refused(&["address", "show", "ghost@example.com"]);
    assert!(ghost.contains("ghost@example.com"), "{ghost}");

    let shown = cli.json(&["address", "show", "toto@example.com"]);
    assert_eq!(shown["usage"], 0);
    assert_eq!(strings(&shown["aliases"]), ["thomas"]);
    assert_eq!(shown["access"][0]["user"], "ann@outside.example");
}

#[test]
fn addr_8_delete_is_refused_without_yes_and_names_what_would_be_destroyed() {
    let cli = with_service(10);
    mailbox(&cli, "a@example.com");
    cli.ok(&["alias", "add", "a@example.com", "alpha@example.com"]);
    cli.ok(&[
        "address",
        "create",
        "fwd@example.com",
        "--kind",
        "redirect",
        "--to",
        "x@elsewhere.example",
    ]);
    cli.ok(&[
        "user",
        "create",
        "a@example.com",
        "--password",
        "account-password-1",
    ]);

    let refused = cli.refused(&["address", "delete", "a@example.com", "fwd@example.com"]);
    for expected in [
        "a@example.com (0 messages in 6 folders, 1 alias)",
        "fwd@example.com (its redirection to 1 address)",
        "choose a new login",
        "--yes",
    ] {
        assert!(refused.contains(expected), "{expected}:\n{refused}");
    }
    assert_eq!(
        cli.addresses("example.com"),
        ["a@example.com", "fwd@example.com"],
        "nothing deleted without --yes"
    );
    let ghost = cli.refused(&["address", "delete", "ghost@example.com"]);
    assert!(ghost.contains("ghost@example.com"), "{ghost}");

    let deleted = cli.json(&[
        "address",
        "delete",
        "a@example.com",
        "fwd@example.com",
        "--yes",
    ]);
    assert_eq!(
        strings(&deleted["deleted"]),
        ["a@example.com", "fwd@example.com"]
    );
    assert_eq!(strings(&deleted["orphaned_logins"]), ["a@example.com"]);
    assert!(cli.addresses("example.com").is_empty());
}

#[test]
fn addr_3_a_csv_with_bad_lines_is_refused_line_by_line_and_creates_nothing() {
    let cli = with_service(10);
    mailbox(&cli, "taken@example.com");
    let csv = cli.path("people.csv");
    std::fs::write(
        &csv,
        "address,password,display_name,users,aliases\n\
         good,,Good One,,\n\
         bad..dots,,,,\n\
         taken,,,,\n\
         good,,Twice,,\n\
         linked,,,ghost@outside.example,\n\
         fine,a-chosen-password-1,,ann@outside.example,fi\n",
    )
    .unwrap();
    let file = csv.to_str().unwrap();
    let refused = cli.failed(&["address", "import", "example.com", file]);
    for line in [3, 4, 5, 6] {
        assert!(
            refused.contains(&format!("line {line} (")),
            "line {line} named:\n{refused}"
        );
    }
    for good in [2, 7] {
        assert!(
            !refused.contains(&format!("line {good} (")),
            "line {good} is good:\n{refused}"
        );
    }
    assert!(refused.contains("--skip-invalid"), "{refused}");
    assert!(refused.contains("ghost@outside.example"), "{refused}");
    assert_eq!(cli.addresses("example.com"), ["taken@example.com"]);

    let out = cli.run(&["--json", "address", "import", "example.com", file]);
    assert!(!out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines: Vec<u64> = doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(
        doc["problems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| !p["reason"].as_str().unwrap().is_empty())
    );

    let dry = cli.ok(&[
        "address",
        "import",
        "example.com",
        file,
        "--dry-run",
        "--skip-invalid",
    ]);
    assert!(dry.contains("2 addresses would be created"), "{dry}");
    assert!(dry.contains("4 lines would be skipped"), "{dry}");
    assert_eq!(cli.addresses("example.com"), ["taken@example.com"]);

    // SVC-2: the quota is respected by the file as a whole.
    let small = with_service(1);
    let three = small.path("three.csv");
    std::fs::write(&three, "address\nx\ny\nz\n").unwrap();
    let quota = small.failed(&["address", "import", "example.com", three.to_str().unwrap()]);
    assert!(quota.contains("quota"), "{quota}");
    assert!(small.addresses("example.com").is_empty());
}

#[test]
fn addr_3_skip_invalid_creates_the_good_lines_and_writes_the_passwords_once() {
    let cli = with_service(10);
    let csv = cli.path("people.csv");
    std::fs::write(
        &csv,
        "address,password,display_name,users,aliases\n\
         gen,,Generated,ann@outside.example,g1;g2\n\
         bad..dots,,,,\n\
         chosen,a-chosen-password-1,,,\n",
    )
    .unwrap();
    let file = csv.to_str().unwrap();
    let result = cli.path("result.csv");
    let out = cli.ok(&[
        "address",
        "import",
        "example.com",
        file,
        "--skip-invalid",
        "--result",
        result.to_str().unwrap(),
    ]);
    assert!(out.contains("created 2 addresses"), "{out}");
    assert!(out.contains("line 3 (bad..dots)"), "{out}");
    assert_eq!(
        cli.addresses("example.com"),
        ["chosen@example.com", "gen@example.com"]
    );
    let aliases = cli.json(&["alias", "list", "gen@example.com"]);
    assert_eq!(aliases.as_array().unwrap().len(), 2);
    assert_eq!(
        cli.json(&["access", "list", "gen@example.com"])[0]["user"],
        "ann@outside.example"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&result).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the result holds passwords");
    }
    let written = std::fs::read_to_string(&result).unwrap();
    let mut rows = csv_rows(&written);
    let header = rows.remove(0);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (address, password) = (column("address"), column("password"));
    let gen_row = rows
        .iter()
        .find(|r| r[address] == "gen@example.com")
        .unwrap_or_else(|| panic!("{written}"));
    let generated = &gen_row[password];
    assert!(generated.len() >= 16, "{written}");
    assert!(
        mailbox_login(&cli, "gen@example.com", generated),
        "the generated password in the result works"
    );
    let chosen_row = rows
        .iter()
        .find(|r| r[address] == "chosen@example.com")
        .unwrap();
    assert!(
        chosen_row[password].is_empty(),
        "a chosen password is not echoed"
    );
    assert!(mailbox_login(
        &cli,
        "chosen@example.com",
        "a-chosen-password-1"
    ));
    assert!(
        !out.contains(generated.as_str()),
        "passwords only in the file"
    );

    // An existing result file is never overwritten, and nothing is created then.
    std::fs::write(&csv, "address\nlater\n").unwrap();
    let exists = cli.refused(&[
        "address",
        "import",
        "example.com",
        file,
        "--result",
        result.to_str().unwrap(),
    ]);
    assert!(exists.contains("already exists"), "{exists}");
    assert!(
        !cli.addresses("example.com")
            .contains(&"later@example.com".into())
    );

    // Without --result, the result CSV is stdout; with --json it is a field.
    let stdout = cli.ok(&["address", "import", "example.com", file]);
    let rows = csv_rows(&stdout);
    assert!(
        rows.iter()
            .any(|r| r.contains(&"later@example.com".to_string())),
        "{stdout}"
    );
    std::fs::write(&csv, "address\nscripted\n").unwrap();
    let doc = cli.json(&["address", "import", "example.com", file]);
    assert_eq!(doc["created"][0]["address"], "scripted@example.com");
    assert_eq!(doc["created"][0]["password_generated"], true);
    assert!(
        doc["result_csv"]
            .as_str()
            .unwrap()
            .contains("scripted@example.com")
    );
}

/// The rows of a CSV document, header first, read by an independent CSV parser.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn rcv_4_sender_rules_are_added_listed_moved_and_removed() {
    let cli = with_service(10);
    mailbox(&cli, "toto@example.com");
    let added = cli.ok(&[
        "sender-rule",
        "add",
        "toto@example.com",
        "allow",
        "friend@elsewhere.example",
    ]);
    assert!(added.contains("never treated as spam"), "{added}");
    let blocked = cli.json(&[
        "sender-rule",
        "add",
        "toto@example.com",
        "block",
        "spam.example",
    ]);
    assert_eq!(blocked["kind"], "block");
    assert_eq!(blocked["pattern"], "@spam.example");

    let list = cli.json(&["sender-rule", "list", "toto@example.com"]);
    let rules: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().into(),
                r["pattern"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("allow".into(), "friend@elsewhere.example".into()),
            ("block".into(), "@spam.example".into())
        ]
    );
    // A pattern already listed moves to the other list.
    cli.ok(&[
        "sender-rule",
        "add",
        "toto@example.com",
        "block",
        "friend@elsewhere.example",
    ]);
    let text = cli.ok(&["sender-rule", "list", "toto@example.com"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("block") && l.contains("friend@elsewhere.example")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");

    cli.ok(&[
        "sender-rule",
        "remove",
        "toto@example.com",
        "friend@elsewhere.example",
    ]);
    let bad = cli.refused(&[
        "sender-rule",
        "add",
        "toto@example.com",
        "allow",
        "not a pattern",
    ]);
    assert!(bad.contains("not a pattern"), "{bad}");
    let missing = cli.refused(&[
        "sender-rule",
        "remove",
        "toto@example.com",
        "nobody@elsewhere.example",
    ]);
    assert!(missing.contains("nobody@elsewhere.example"), "{missing}");
    assert_eq!(
        cli.json(&["sender-rule", "list", "toto@example.com"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn operator_tokens_are_shown_once_listed_without_secret_and_revoked() {
    let cli = Cli::new(Path::new(BIN));
    let created = cli.json(&[
        "token",
        "create",
        "billing sync",
        "--scope",
        "write",
        "--expires-days",
        "30",
    ]);
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("pwk_"), "{secret}");
    assert_eq!(created["scope"], "write");
    assert_eq!(created["active"], true);
    let id = created["id"].as_i64().unwrap();
    let expires = created["expires_at"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (29 * 86_400..=31 * 86_400).contains(&(expires - now)),
        "{created}"
    );

    let works = |secret: String| {
        with_store(&cli, |stores| async move {
            let auth = ManagerAuth::new(
                stores.directory.clone(),
                stores.manager.clone(),
                stores.identity.clone(),
                Arc::new(FailureLimiter::new(FailurePolicy::default())),
            );
            auth.authenticate_token(&secret).await.unwrap().is_some()
        })
    };
    assert!(works(secret.clone()), "the printed secret authenticates");

    let text = cli.ok(&["token", "create", "reader"]);
    assert!(text.contains("(read, works until revoked)"), "{text}");
    assert!(text.contains("shown once"), "{text}");

    let listed = cli.ok(&["token", "list"]);
    assert!(
        listed.contains("billing sync") && listed.contains("reader"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "secrets are never listed");
    let list = cli.json(&["token", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&secret));

    let revoked = cli.ok(&["token", "revoke", &id.to_string()]);
    assert!(revoked.contains("no longer works"), "{revoked}");
    assert!(!works(secret), "a revoked token opens nothing");
    let list = cli.json(&["token", "list"]);
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap();
    assert_eq!(entry["active"], false);
    assert!(entry["revoked_at"].is_i64());
    assert!(cli.ok(&["token", "list"]).contains("revoked"));

    let unknown = cli.refused(&["token", "revoke", "999999"]);
    assert!(unknown.contains("999999"), "{unknown}");
    let zero = cli.refused(&["token", "create", "never", "--expires-days", "0"]);
    assert!(zero.contains("at least 1"), "{zero}");
}
