//! The Manager console (`ui::console`, CLI-4): what an administrator sees and does, checked
//! through the pages and read back through the REST API.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{PASSWORD, Ui};

const BOSS: &str = "boss@example.net";
const MIA: &str = "mia@example.net";

/// Acme with its administrator and a member, both signed in: (site, boss's session, mia's).
async fn acme() -> (Ui, String, String) {
    let ui = Ui::new().await;
    ui.acme().await;
    ui.user(BOSS, "admin").await;
    ui.user(MIA, "member").await;
    let boss = ui.sign_in(BOSS).await;
    let mia = ui.sign_in(MIA).await;
    (ui, boss, mia)
}

/// A redirect-only address made through the API (no password to hash: quick).
async fn forwarder(ui: &Ui, local: &str) {
    ui.api(
        Method::POST,
        "/api/v1/services/acme.test/addresses",
        json!({"local_part": local, "kind": "redirect", "redirect_to": ["out@example.org"]}),
    )
    .await;
}

/// The text of the element with `id` (the first `>` after it up to the next `<`).
fn text_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].trim().to_owned())
}

#[tokio::test]
async fn cli_4_administrators_see_the_console_and_members_are_refused() {
    let (ui, boss, mia) = acme().await;
    let home = ui.get("/manager", Some(&boss)).await.ok();
    assert!(home.html.contains("Acme"), "{}", home.html);
    assert!(home.html.contains("acme.test"));
    assert!(home.html.contains("0 of 50"));

    let refused = ui.get("/manager", Some(&mia)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.html.contains("administrators"), "{}", refused.html);
    let service = ui.get("/manager/services/acme.test", Some(&mia)).await;
    assert_eq!(service.status, StatusCode::FORBIDDEN);
    let anonymous = ui.get("/manager", None).await;
    assert!(anonymous.location().starts_with("/signin"));
}

#[tokio::test]
async fn org_1_members_are_listed_and_their_role_changed() {
    let (ui, boss, mia) = acme().await;
    let org = ui.get("/manager/orgs/Acme", Some(&boss)).await.ok();
    assert!(
        org.html.contains(MIA) && org.html.contains(BOSS),
        "{}",
        org.html
    );

    let made_admin = ui
        .post(
            "/manager/orgs/Acme/members",
            &[("login", MIA), ("role", "admin")],
            Some(&boss),
        )
        .await;
    assert_eq!(made_admin.location(), "/manager/orgs/Acme");
    assert!(made_admin.notice().unwrap().contains("administrator"));
    ui.get("/manager", Some(&mia)).await.ok();

    let unknown = ui
        .post(
            "/manager/orgs/Acme/members",
            &[("login", "nobody@example.net"), ("role", "member")],
            Some(&boss),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.html.contains("id=\"problem\""), "{}", unknown.html);
    assert!(unknown.html.contains("nobody@example.net"));
}

#[tokio::test]
async fn svc_2_4_the_service_page_changes_quota_alias_domains_and_defaults() {
    let (ui, boss, _) = acme().await;
    let page = ui
        .get("/manager/services/acme.test", Some(&boss))
        .await
        .ok();
    assert!(page.html.contains("0 of 50"));

    let raised = ui
        .post(
            "/manager/services/acme.test/quota",
            &[("quota", "80")],
            Some(&boss),
        )
        .await;
    assert_eq!(raised.location(), "/manager/services/acme.test");
    let aliased = ui
        .post(
            "/manager/services/acme.test/alias-domains",
            &[("alias_domain", "acme.example")],
            Some(&boss),
        )
        .await;
    assert!(aliased.status.is_redirection(), "{}", aliased.html);
    let defaults = ui
        .post(
            "/manager/services/acme.test/defaults",
            &[
                ("permission", "read_send"),
                ("permission", "manage_aliases"),
            ],
            Some(&boss),
        )
        .await;
    assert!(defaults.status.is_redirection(), "{}", defaults.html);
    let template = ui
        .post(
            "/manager/services/acme.test/templates",
            &[("name", "Sales"), ("body", "-- \nAcme Sales")],
            Some(&boss),
        )
        .await;
    assert!(template.status.is_redirection(), "{}", template.html);

    let service = ui.api_get("/api/v1/services/acme.test").await;
    assert_eq!(service["address_quota"], 80);
    assert_eq!(service["alias_domains"], json!(["acme.example"]));
    assert_eq!(
        service["default_permissions"],
        json!(["read_send", "manage_aliases"])
    );
    assert_eq!(service["signature_templates"][0]["name"], "Sales");

    // Below the addresses in use: core refuses, the page says why.
    forwarder(&ui, "one").await;
    let too_low = ui
        .post(
            "/manager/services/acme.test/quota",
            &[("quota", "0")],
            Some(&boss),
        )
        .await;
    assert_eq!(too_low.status, StatusCode::CONFLICT, "{}", too_low.html);
    assert!(too_low.html.contains("id=\"problem\""));
}

#[tokio::test]
async fn svc_1_the_dns_report_lists_each_expected_record_and_what_to_fix() {
    let (ui, boss, _) = acme().await;
    let report = ui
        .get("/manager/services/acme.test/dns", Some(&boss))
        .await
        .ok();
    for expected in [
        "MX",
        "TXT",
        "mail.platform.test",
        "_dmarc.acme.test",
        "v=spf1",
    ] {
        assert!(
            report.html.contains(expected),
            "{expected}: {}",
            report.html
        );
    }
    // The test resolver knows nothing: every record is missing and says what to add.
    assert!(report.html.contains("Missing"));
    assert!(report.html.contains("Add a MX record named acme.test"));
    assert!(!report.html.contains("In place"));
}

async fn create(ui: &Ui, session: &str, fields: &[(&str, &str)]) -> crate::fixture::Page {
    ui.post(
        "/manager/services/acme.test/addresses/new",
        fields,
        Some(session),
    )
    .await
}

#[tokio::test]
async fn addr_1_a_for_myself_links_the_address_to_my_account() {
    let (ui, boss, _) = acme().await;
    let chooser = ui
        .get("/manager/services/acme.test/addresses/new", Some(&boss))
        .await
        .ok();
    assert!(chooser.html.contains("mode=myself") && chooser.html.contains("mode=invitation"));
    let form = ui
        .get(
            "/manager/services/acme.test/addresses/new?mode=myself",
            Some(&boss),
        )
        .await
        .ok();
    assert!(form.html.contains("@acme.test"));

    let created = create(
        &ui,
        &boss,
        &[
            ("mode", "myself"),
            ("local_part", "boss"),
            ("password", PASSWORD),
        ],
    )
    .await
    .ok();
    assert!(
        created.html.contains("boss@acme.test is ready"),
        "{}",
        created.html
    );
    assert!(!created.html.contains("generated-password"), "I chose it");
    let address = ui.address_details("boss@acme.test").await;
    assert_eq!(address["access"][0]["login"], BOSS);
}

#[tokio::test]
async fn addr_1_b_for_users_shows_the_generated_password_once() {
    let (ui, boss, _) = acme().await;
    let form = ui
        .get(
            "/manager/services/acme.test/addresses/new?mode=users",
            Some(&boss),
        )
        .await
        .ok();
    assert!(form.html.contains(MIA), "members to pick: {}", form.html);
    assert!(
        form.html.contains("value=\"manage_signatures\" checked"),
        "the service defaults are ticked"
    );

    let created = create(
        &ui,
        &boss,
        &[
            ("mode", "users"),
            ("local_part", "team"),
            ("user", MIA),
            ("permission", "read_send"),
        ],
    )
    .await
    .ok();
    let password = text_of(&created.html, "generated-password").expect("a password");
    assert!(password.len() >= 12, "{password}");
    assert!(created.html.contains("data-copy=\"#generated-password\""));

    let address = ui.address_details("team@acme.test").await;
    assert_eq!(address["access"][0]["login"], MIA);
    assert_eq!(address["access"][0]["permissions"], json!(["read_send"]));
    let again = ui
        .get("/manager/addresses/team@acme.test", Some(&boss))
        .await
        .ok();
    assert!(!again.html.contains(&password), "shown once only");

    // Nobody picked: the form comes back with the problem and what was typed.
    let nobody = create(&ui, &boss, &[("mode", "users"), ("local_part", "lonely")]).await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST);
    assert!(nobody.html.contains("value=\"lonely\""));
}

#[tokio::test]
async fn addr_1_b_prime_an_invitation_is_sent_and_the_password_shown_unless_exact() {
    let (ui, boss, _) = acme().await;
    let own = create(
        &ui,
        &boss,
        &[
            ("mode", "invitation"),
            ("local_part", "guest"),
            ("send_to_choice", "other"),
            ("send_to", "guest@example.org"),
            ("login_mode", "own_choice"),
            ("permission", "read_send"),
        ],
    )
    .await
    .ok();
    assert!(
        own.html
            .contains("invitation was sent to <strong>guest@example.org"),
        "{}",
        own.html
    );
    assert!(text_of(&own.html, "generated-password").is_some());

    let exact = create(
        &ui,
        &boss,
        &[
            ("mode", "invitation"),
            ("local_part", "newbie"),
            ("send_to_choice", "new"),
            ("login_mode", "exact_address"),
            ("permission", "read_send"),
        ],
    )
    .await
    .ok();
    assert!(exact.html.contains("newbie@acme.test"));
    assert!(
        text_of(&exact.html, "generated-password").is_none(),
        "the invited person chooses it"
    );
    assert_eq!(ui.notifications().len(), 2);
    let address = ui.address_details("guest@acme.test").await;
    assert_eq!(address["invitations"][0]["sent_to"], "guest@example.org");
}

#[tokio::test]
async fn addr_1_c_2_4_unlinked_generic_and_redirect_only_addresses() {
    let (ui, boss, _) = acme().await;
    let unknown = create(&ui, &boss, &[("mode", "nobody"), ("local_part", "info")])
        .await
        .ok();
    assert!(text_of(&unknown.html, "generated-password").is_some());
    assert_eq!(
        ui.address_details("info@acme.test").await["access"],
        json!([])
    );

    create(
        &ui,
        &boss,
        &[
            ("mode", "generic"),
            ("kind", "catchall"),
            ("local_part", "all"),
        ],
    )
    .await
    .ok();
    assert_eq!(
        ui.address_details("all@acme.test").await["kind"],
        "catchall"
    );

    create(
        &ui,
        &boss,
        &[
            ("mode", "redirect"),
            ("local_part", "fwd"),
            ("redirect_to", "out@example.org\nother@example.org"),
        ],
    )
    .await
    .ok();
    let forward = ui.address_details("fwd@acme.test").await;
    assert_eq!(forward["kind"], "redirect");
    assert_eq!(
        forward["redirect"]["targets"].as_array().map(Vec::len),
        Some(2)
    );

    let full = create(
        &ui,
        &boss,
        &[("mode", "nobody"), ("local_part", "x@elsewhere.test")],
    )
    .await;
    assert_eq!(full.status, StatusCode::BAD_REQUEST);
    assert!(
        full.html.contains("only the part before the @"),
        "{}",
        full.html
    );
}

#[tokio::test]
async fn the_address_list_searches_sorts_and_pages() {
    let (ui, boss, _) = acme().await;
    let empty = ui
        .get("/manager/services/acme.test/addresses", Some(&boss))
        .await
        .ok();
    assert!(empty.html.contains("No addresses yet"));
    for local in ["delta", "alpha", "charlie", "bravo", "echo"] {
        forwarder(&ui, local).await;
    }
    let first = ui
        .get(
            "/manager/services/acme.test/addresses?per_page=2",
            Some(&boss),
        )
        .await
        .ok();
    assert!(first.html.contains("alpha@acme.test") && first.html.contains("bravo@acme.test"));
    assert!(!first.html.contains("charlie@acme.test"));
    assert!(first.html.contains("page 1 of 3"));
    assert!(first.html.contains("id=\"next-page\""));

    let third = ui
        .get(
            "/manager/services/acme.test/addresses?per_page=2&page=3",
            Some(&boss),
        )
        .await
        .ok();
    assert!(third.html.contains("echo@acme.test") && !third.html.contains("alpha@acme.test"));

    let backwards = ui
        .get(
            "/manager/services/acme.test/addresses?sort=address&dir=desc&per_page=1",
            Some(&boss),
        )
        .await
        .ok();
    assert!(backwards.html.contains("echo@acme.test") && !backwards.html.contains("alpha@"));

    let found = ui
        .get("/manager/services/acme.test/addresses?q=arl", Some(&boss))
        .await
        .ok();
    assert!(found.html.contains("charlie@acme.test"));
    assert!(!found.html.contains("delta@acme.test"));
    let none = ui
        .get("/manager/services/acme.test/addresses?q=zulu", Some(&boss))
        .await
        .ok();
    assert!(none.html.contains("No address matches"));
}

#[tokio::test]
async fn addr_8_deleting_several_asks_for_confirmation_first() {
    let (ui, boss, _) = acme().await;
    for local in ["one", "two", "three"] {
        forwarder(&ui, local).await;
    }
    let list = ui
        .get("/manager/services/acme.test/addresses", Some(&boss))
        .await
        .ok();
    assert!(list.html.contains("data-select-all=\"address\""));
    assert!(list.html.contains("id=\"delete-selected\" data-confirm="));

    let picked = [("address", "one@acme.test"), ("address", "two@acme.test")];
    let asked = ui
        .post(
            "/manager/services/acme.test/addresses/delete",
            &picked,
            Some(&boss),
        )
        .await
        .ok();
    assert!(
        asked
            .html
            .contains("Delete these 2 addresses and all their mail?"),
        "{}",
        asked.html
    );
    assert_eq!(
        ui.address_details("one@acme.test").await["kind"],
        "redirect"
    );

    let mut confirmed = picked.to_vec();
    confirmed.push(("confirmed", "yes"));
    let done = ui
        .post(
            "/manager/services/acme.test/addresses/delete",
            &confirmed,
            Some(&boss),
        )
        .await;
    assert_eq!(done.location(), "/manager/services/acme.test/addresses");
    assert!(done.notice().unwrap().contains("2 addresses were deleted"));
    let left = ui.api_get("/api/v1/services/acme.test/addresses").await;
    assert_eq!(left["total"], 1);
    assert_eq!(left["items"][0]["address"], "three@acme.test");
}

#[tokio::test]
async fn addr_6_aliases_show_the_limit_and_the_address_page_changes_settings() {
    let (ui, boss, _) = acme().await;
    ui.api(
        Method::POST,
        "/api/v1/services/acme.test/addresses",
        json!({"local_part": "anna", "password": PASSWORD}),
    )
    .await;
    let page = ui
        .get("/manager/addresses/anna@acme.test", Some(&boss))
        .await
        .ok();
    assert!(page.html.contains("0 of 50"), "{}", page.html);

    let base = "/manager/addresses/anna@acme.test";
    let added = ui
        .post(&format!("{base}/aliases"), &[("alias", "a.s")], Some(&boss))
        .await;
    assert_eq!(added.location(), base);
    let page = ui.get(base, Some(&boss)).await.ok();
    assert!(page.html.contains("1 of 50"));
    assert!(page.html.contains("a.s@acme.test"));

    for (path, fields) in [
        ("storage", vec![("storage_limit", "2 GB")]),
        (
            "redirect",
            vec![("targets", "out@example.org"), ("keep_copy", "on")],
        ),
        (
            "senders",
            vec![("pattern", "spam.example"), ("list", "block")],
        ),
        ("access", vec![("login", MIA), ("permission", "read_send")]),
        ("enabled", vec![("enabled", "no")]),
    ] {
        let changed = ui
            .post(&format!("{base}/{path}"), &fields, Some(&boss))
            .await;
        assert_eq!(changed.location(), base, "{path}: {}", changed.html);
    }
    let address = ui.address_details("anna@acme.test").await;
    assert_eq!(address["storage_limit"], 2_000_000_000u64);
    assert_eq!(
        address["redirect"],
        json!({"targets": ["out@example.org"], "keep_copy": true})
    );
    assert_eq!(address["enabled"], false);
    assert_eq!(address["access"][0]["login"], MIA);
    assert_eq!(address["aliases"][0]["alias"], "a.s@acme.test");
    let rules = ui
        .api_get("/api/v1/addresses/anna@acme.test/sender-rules")
        .await;
    assert_eq!(
        rules["items"][0],
        json!({"kind": "block", "pattern": "@spam.example"})
    );

    let bad_size = ui
        .post(
            &format!("{base}/storage"),
            &[("storage_limit", "lots")],
            Some(&boss),
        )
        .await;
    assert_eq!(bad_size.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_size.html.contains("2 GB"),
        "the page shows the limit and the problem"
    );
}

#[tokio::test]
async fn addr_3_a_csv_with_a_bad_line_is_reported_then_the_others_created() {
    let (ui, boss, _) = acme().await;
    let csv = "address,password\nanna,correct-horse-battery\nnot an address!,\nbob,correct-horse-battery\n";
    let report = ui
        .post_multipart(
            "/manager/services/acme.test/bulk",
            &[],
            &[("csv", "people.csv", "text/csv", csv.as_bytes())],
            Some(&boss),
        )
        .await;
    assert_eq!(
        report.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        report.html
    );
    assert!(report.html.contains("Line 3"), "{}", report.html);
    assert!(report.html.contains("not an address!"));
    let none = ui.api_get("/api/v1/services/acme.test/addresses").await;
    assert_eq!(none["total"], 0, "nothing created before the choice");

    // "Skip the wrong lines": the report's form carries the file again.
    let started = ui
        .post_multipart(
            "/manager/services/acme.test/bulk",
            &[("csv_text", csv), ("skip_invalid", "on")],
            &[],
            Some(&boss),
        )
        .await;
    let job = started.location();
    assert!(job.starts_with("/manager/jobs/"), "{job}");

    // A generous guard against a hang, not a timing.
    let mut progress = Value::Null;
    for _ in 0..600 {
        let answer = ui.get(&format!("{job}/progress"), Some(&boss)).await.ok();
        progress = serde_json::from_str(&answer.html).unwrap();
        if progress["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(progress["status"], "done", "{progress}");
    assert_eq!(progress["created"], 2);
    assert_eq!(progress["skipped"][0]["line"], 3);
    let result = progress["result_csv"].as_str().unwrap();
    assert!(result.contains("anna@acme.test"), "{result}");
    let page = ui.get(&job, Some(&boss)).await.ok();
    assert!(page.html.contains("Done."));
    assert!(
        !page.html.contains("anna@acme.test,"),
        "the result file is handed out once"
    );
    let other = ui.get(&job, Some(&ui.sign_in(MIA).await)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "someone else's job");
}

#[tokio::test]
async fn id_11_the_audit_log_page_shows_sign_ins_and_filters_them() {
    let (ui, boss, _) = acme().await;
    // Entries are written by a background task: a generous guard against a hang, not a timing.
    let mut page = ui.get("/manager/audit", Some(&boss)).await.ok();
    for _ in 0..600 {
        if page.html.contains("<td>Login</td>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = ui.get("/manager/audit", Some(&boss)).await.ok();
    }
    assert!(page.html.contains("<td>Login</td>"), "{}", page.html);
    assert!(page.html.contains(BOSS));

    let changes = ui
        .get("/manager/audit?category=change", Some(&boss))
        .await
        .ok();
    assert!(changes.html.contains("<option value=\"change\" selected>"));
    assert!(!changes.html.contains("<td>Login</td>"), "{}", changes.html);
}
