//! The mailbox settings (CLI-1 settings, ADDR-5, ADDR-6, RCV-4, ID-5) and the device setup
//! assistant (CLI-3, ID-7), driven as a browser would: each page shows what the account's
//! permissions allow, each form's change is read back through the API, and another account's
//! mailbox is out of reach.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::fixture::{HOSTNAME, PASSWORD, Ui, session_cookie};

const MAILBOX_PASSWORD: &str = "mailbox-only-passphrase";
const UNIFIED_PASSWORD: &str = "one-password-for-both";
const EVERY_PERMISSION: &[&str] = &[
    "read_send",
    "change_password",
    "manage_aliases",
    "manage_redirections",
    "manage_filters",
    "manage_signatures",
];

/// Acme with the account `login` (a member) and the mailbox of the same address, linked to it
/// alone with `permissions`. Answers the account's session.
async fn account_with_own_mailbox(ui: &Ui, login: &str, permissions: &[&str]) -> String {
    ui.user(login, "member").await;
    let local_part = login.split('@').next().unwrap();
    ui.api(
        Method::POST,
        "/api/v1/services/acme.test/addresses",
        json!({
            "local_part": local_part,
            "password": MAILBOX_PASSWORD,
            "holder": {"mode": "users", "users": [{"login": login, "permissions": permissions}]},
        }),
    )
    .await;
    ui.sign_in(login).await
}

/// Anna (`anna@acme.test`) with her own mailbox and every permission on it.
async fn anna(ui: &Ui) -> String {
    ui.acme().await;
    account_with_own_mailbox(ui, "anna@acme.test", EVERY_PERMISSION).await
}

#[tokio::test]
async fn cli_1_the_settings_show_only_what_the_permissions_allow_and_say_what_is_not() {
    let ui = Ui::new().await;
    ui.acme().await;
    let session =
        account_with_own_mailbox(&ui, "anna@acme.test", &["read_send", "manage_aliases"]).await;

    let list = ui.get("/settings", Some(&session)).await.ok();
    assert!(
        list.html.contains("href=\"/settings/anna@acme.test\""),
        "{}",
        list.html
    );

    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("id=\"alias-add-form\""), "{}", page.html);
    for absent in [
        "id=\"password-form\"",
        "id=\"redirect-form\"",
        "id=\"sender-add-form\"",
        "id=\"name-form\"",
    ] {
        assert!(!page.html.contains(absent), "{absent} shown: {}", page.html);
    }
    for sentence in [
        "You may not change the password of anna@acme.test",
        "You may not change the forwarding of anna@acme.test",
        "You may not change the allowed and blocked senders of anna@acme.test",
        "You may not change the signature or the name shown with mail from anna@acme.test",
    ] {
        assert!(
            page.html.contains(sentence),
            "{sentence} missing: {}",
            page.html
        );
    }
    // The page hides nothing that core would allow anyway: a form posted by hand is refused
    // by core with its own sentence.
    let forced = ui
        .post(
            "/settings/anna@acme.test/redirect",
            &[("targets", "out@elsewhere.test")],
            Some(&session),
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.html);
    assert!(
        forced.html.contains("you need the permission"),
        "{}",
        forced.html
    );
    assert!(ui.address_details("anna@acme.test").await["redirect"].is_null());
}

#[tokio::test]
async fn addr_6_aliases_are_added_and_removed_with_the_limit_in_sight() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("0 of 50"), "{}", page.html);
    assert!(page.html.contains("No aliases yet"), "{}", page.html);

    let added = ui
        .post(
            "/settings/anna@acme.test/aliases",
            &[("alias", "sales")],
            Some(&session),
        )
        .await;
    assert_eq!(added.location(), "/settings/anna@acme.test#aliases");
    assert!(added.notice().unwrap().contains("sales@acme.test"));
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("1 of 50"), "{}", page.html);
    assert!(page.html.contains("sales@acme.test"), "{}", page.html);
    let aliases = ui.api_get("/api/v1/addresses/anna@acme.test/aliases").await;
    assert_eq!(aliases["items"][0]["alias"], "sales@acme.test", "{aliases}");

    // A name already taken is refused next to the form, with what was typed kept.
    let taken = ui
        .post(
            "/settings/anna@acme.test/aliases",
            &[("alias", "anna")],
            Some(&session),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.html);
    assert!(taken.html.contains("id=\"alias-error\""), "{}", taken.html);
    assert!(taken.html.contains("value=\"anna\""), "{}", taken.html);

    let removed = ui
        .post(
            "/settings/anna@acme.test/aliases/remove",
            &[("alias", "sales@acme.test")],
            Some(&session),
        )
        .await;
    assert_eq!(removed.location(), "/settings/anna@acme.test#aliases");
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("0 of 50"), "{}", page.html);
    let aliases = ui.api_get("/api/v1/addresses/anna@acme.test/aliases").await;
    assert_eq!(
        aliases["items"].as_array().map(Vec::len),
        Some(0),
        "{aliases}"
    );
}

#[tokio::test]
async fn addr_5_forwarding_is_set_with_or_without_a_copy_and_stopped() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    let set = ui
        .post(
            "/settings/anna@acme.test/redirect",
            &[
                ("targets", "out@elsewhere.test\nother@elsewhere.test"),
                ("keep_copy", "yes"),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(set.location(), "/settings/anna@acme.test#redirect");
    let redirect = &ui.address_details("anna@acme.test").await["redirect"];
    assert_eq!(
        redirect["targets"],
        json!(["out@elsewhere.test", "other@elsewhere.test"])
    );
    assert_eq!(redirect["keep_copy"], true);
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(
        page.html
            .contains("out@elsewhere.test, other@elsewhere.test"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("a copy stays in this mailbox"),
        "{}",
        page.html
    );

    // Without the box ticked, no copy is kept.
    ui.post(
        "/settings/anna@acme.test/redirect",
        &[("targets", "out@elsewhere.test")],
        Some(&session),
    )
    .await
    .location();
    assert_eq!(
        ui.address_details("anna@acme.test").await["redirect"]["keep_copy"],
        false
    );

    // A target that is not an address is refused by core next to the form.
    let bad = ui
        .post(
            "/settings/anna@acme.test/redirect",
            &[("targets", "not an address")],
            Some(&session),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);
    assert!(bad.html.contains("id=\"redirect-error\""), "{}", bad.html);

    let stopped = ui
        .post(
            "/settings/anna@acme.test/redirect/remove",
            &[],
            Some(&session),
        )
        .await;
    assert_eq!(stopped.location(), "/settings/anna@acme.test#redirect");
    assert!(ui.address_details("anna@acme.test").await["redirect"].is_null());
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("is not forwarded"), "{}", page.html);
}

#[tokio::test]
async fn rcv_4_a_blocked_sender_is_listed_and_can_be_removed() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("id=\"no-blocked\""), "{}", page.html);

    let blocked = ui
        .post(
            "/settings/anna@acme.test/senders",
            &[("pattern", "@spam.example"), ("list", "block")],
            Some(&session),
        )
        .await;
    assert_eq!(blocked.location(), "/settings/anna@acme.test#senders");
    assert!(blocked.notice().unwrap().contains("kept out"));
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    let list = page
        .html
        .split("id=\"blocked-senders\"")
        .nth(1)
        .expect("a block list");
    assert!(list.contains("@spam.example"), "{}", page.html);
    let rules = ui
        .api_get("/api/v1/addresses/anna@acme.test/sender-rules")
        .await;
    assert_eq!(
        rules["items"][0],
        json!({"kind": "block", "pattern": "@spam.example"})
    );

    let bad = ui
        .post(
            "/settings/anna@acme.test/senders",
            &[("pattern", "not a sender!"), ("list", "allow")],
            Some(&session),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);
    assert!(bad.html.contains("id=\"sender-error\""), "{}", bad.html);

    ui.post(
        "/settings/anna@acme.test/senders/remove",
        &[("pattern", "@spam.example")],
        Some(&session),
    )
    .await
    .location();
    let rules = ui
        .api_get("/api/v1/addresses/anna@acme.test/sender-rules")
        .await;
    assert_eq!(rules["items"].as_array().map(Vec::len), Some(0), "{rules}");
}

#[tokio::test]
async fn id_5_a_password_change_offers_unification_and_accepting_it_unifies() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;

    let mismatch = ui
        .post(
            "/settings/anna@acme.test/password",
            &[
                ("password", "a-new-mailbox-pass"),
                ("confirm", "another-one-typed"),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(
        mismatch.html.contains("The two passwords differ"),
        "{}",
        mismatch.html
    );
    assert!(
        !mismatch.html.contains("a-new-mailbox-pass"),
        "a password was echoed"
    );

    let changed = ui
        .post(
            "/settings/anna@acme.test/password",
            &[
                ("password", "a-new-mailbox-pass"),
                ("confirm", "a-new-mailbox-pass"),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(changed.location(), "/settings/anna@acme.test#password");
    assert!(
        changed.notice().unwrap().contains("one password"),
        "{:?}",
        changed.notice()
    );
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("id=\"unify-form\""), "{}", page.html);
    // Only the mailbox password changed (ID-3): the account still signs in with its own.
    let tested = ui
        .post(
            "/devices/anna@acme.test/test",
            &[("password", "a-new-mailbox-pass")],
            Some(&session),
        )
        .await
        .ok();
    assert!(
        tested.html.contains("This password is right"),
        "{}",
        tested.html
    );
    ui.sign_in("anna@acme.test").await;

    let unified = ui
        .post(
            "/settings/anna@acme.test/password",
            &[
                ("unify", "yes"),
                ("password", UNIFIED_PASSWORD),
                ("confirm", UNIFIED_PASSWORD),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(unified.location(), "/settings/anna@acme.test#password");
    // The session the change was made in goes on, and the page says the two are one.
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(
        page.html.contains("id=\"unification-unified\""),
        "{}",
        page.html
    );
    assert!(!page.html.contains("id=\"unify-form\""), "{}", page.html);
    let signed_in = ui.try_sign_in("anna@acme.test", UNIFIED_PASSWORD).await;
    assert!(
        session_cookie(&signed_in.headers).is_some(),
        "{}",
        signed_in.html
    );
    let old = ui.try_sign_in("anna@acme.test", PASSWORD).await;
    assert!(
        session_cookie(&old.headers).is_none(),
        "the old account password still works"
    );
}

#[tokio::test]
async fn id_5_unification_is_not_offered_when_the_login_is_not_the_mailbox() {
    let ui = Ui::acme_with_member("jane@outside.test").await;
    ui.api(
        Method::POST,
        "/api/v1/services/acme.test/addresses",
        json!({
            "local_part": "desk",
            "password": MAILBOX_PASSWORD,
            "holder": {"mode": "users", "users": [
                {"login": "jane@outside.test", "permissions": ["read_send", "change_password"]}
            ]},
        }),
    )
    .await;
    let session = ui.sign_in("jane@outside.test").await;
    let page = ui
        .get("/settings/desk@acme.test", Some(&session))
        .await
        .ok();
    assert!(
        page.html.contains("id=\"unification-separate\""),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("your login is not this address"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("id=\"unify-form\""), "{}", page.html);

    // Asking for it anyway is refused by core, with its reason next to the password form.
    let refused = ui
        .post(
            "/settings/desk@acme.test/password",
            &[
                ("unify", "yes"),
                ("password", UNIFIED_PASSWORD),
                ("confirm", UNIFIED_PASSWORD),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("id=\"password-error\""),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("cannot be unified"),
        "{}",
        refused.html
    );
}

#[tokio::test]
async fn cli_3_the_device_page_gives_the_recommended_settings() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    let list = ui.get("/devices", Some(&session)).await.ok();
    assert!(
        list.html.contains("href=\"/devices/anna@acme.test\""),
        "{}",
        list.html
    );

    let page = ui.get("/devices/anna@acme.test", Some(&session)).await.ok();
    for expected in [
        HOSTNAME,
        ">993<",
        ">465<",
        ">995<",
        "id=\"device-username\">anna@acme.test<",
    ] {
        assert!(
            page.html.contains(expected),
            "{expected} missing: {}",
            page.html
        );
    }
    assert!(
        page.html
            .contains("not the password you use to sign in here"),
        "{}",
        page.html
    );
    // The Apple profile link leads to a profile for this address.
    let link = "/mobileconfig?address=anna%40acme.test";
    assert!(page.html.contains(link), "{}", page.html);
    let profile = ui.get(link, None).await.ok();
    assert!(profile.html.contains("anna@acme.test"), "{}", profile.html);
}

#[tokio::test]
async fn id_7_the_password_test_says_right_or_wrong_without_echoing_it() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    let right = ui
        .post(
            "/devices/anna@acme.test/test",
            &[("password", MAILBOX_PASSWORD)],
            Some(&session),
        )
        .await
        .ok();
    assert!(
        right.html.contains("This password is right"),
        "{}",
        right.html
    );
    assert!(
        !right.html.contains(MAILBOX_PASSWORD),
        "the password was echoed"
    );

    // The account password is not the mailbox password (ID-2, ID-3).
    let wrong = ui
        .post(
            "/devices/anna@acme.test/test",
            &[("password", PASSWORD)],
            Some(&session),
        )
        .await
        .ok();
    assert!(
        wrong
            .html
            .contains("This is not the password of anna@acme.test"),
        "{}",
        wrong.html
    );
    assert!(!wrong.html.contains(PASSWORD), "the password was echoed");
}

#[tokio::test]
async fn another_accounts_mailbox_is_out_of_reach() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    account_with_own_mailbox(&ui, "bob@acme.test", EVERY_PERMISSION).await;

    for uri in ["/settings/bob@acme.test", "/devices/bob@acme.test"] {
        assert_eq!(
            ui.get(uri, Some(&session)).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
    let alias = ui
        .post(
            "/settings/bob@acme.test/aliases",
            &[("alias", "sneaky")],
            Some(&session),
        )
        .await;
    assert_eq!(alias.status, StatusCode::FORBIDDEN);
    let test = ui
        .post(
            "/devices/bob@acme.test/test",
            &[("password", MAILBOX_PASSWORD)],
            Some(&session),
        )
        .await;
    assert_eq!(test.status, StatusCode::FORBIDDEN);
    let aliases = ui.api_get("/api/v1/addresses/bob@acme.test/aliases").await;
    assert_eq!(
        aliases["items"].as_array().map(Vec::len),
        Some(0),
        "{aliases}"
    );

    let signed_out = ui.get("/settings/anna@acme.test", None).await;
    assert_eq!(
        signed_out.location(),
        "/signin?next=/settings/anna%40acme.test"
    );
}

#[tokio::test]
async fn the_name_shown_with_mail_is_changed_with_the_signature_permission() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("id=\"no-signature\""), "{}", page.html);
    let saved = ui
        .post(
            "/settings/anna@acme.test/name",
            &[("display_name", "Anna from Acme")],
            Some(&session),
        )
        .await;
    assert_eq!(saved.location(), "/settings/anna@acme.test#signature");
    assert_eq!(
        ui.address_details("anna@acme.test").await["display_name"],
        "Anna from Acme"
    );
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(
        page.html.contains("value=\"Anna from Acme\""),
        "{}",
        page.html
    );
}

/// The signature templates of acme.test (SVC-4), set by the operator through the API.
async fn signature_templates(ui: &Ui) {
    ui.api(
        Method::PATCH,
        "/api/v1/services/acme.test",
        json!({"signature_templates": [
            {"name": "Formal", "body": "Kind regards from Acme"},
            {"name": "Casual", "body": "Cheers"},
        ]}),
    )
    .await;
}

/// The text of the compose form's `#body` field.
fn compose_body(html: &str) -> &str {
    let start = html.find("id=\"body\"").expect("a body field");
    let text = &html[start..];
    let text = &text[text.find('>').expect("the field's text") + 1..];
    &text[..text.find("</textarea>").expect("the field's end")]
}

#[tokio::test]
async fn svc_4_a_user_with_the_signature_permission_chooses_their_own_signature() {
    let ui = Ui::new().await;
    let session = anna(&ui).await;
    signature_templates(&ui).await;
    let settings = "/settings/anna@acme.test";

    let page = ui.get(settings, Some(&session)).await.ok();
    assert!(page.html.contains("id=\"signature-form\""), "{}", page.html);
    assert!(
        page.html
            .contains("<option value=\"\" selected>No signature</option>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("Kind regards from Acme"),
        "{}",
        page.html
    );

    let saved = ui
        .post(
            "/settings/anna@acme.test/signature",
            &[("signature", "Formal")],
            Some(&session),
        )
        .await;
    assert_eq!(saved.location(), "/settings/anna@acme.test#signature");
    assert_eq!(saved.notice().as_deref(), Some("Signature saved."));
    let page = ui.get(settings, Some(&session)).await.ok();
    assert!(
        page.html
            .contains("<option value=\"Formal\" selected>Formal</option>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("id=\"signature-current\""),
        "{}",
        page.html
    );

    // Webmail writes new messages with it.
    let mailbox = ui.address_id("anna@acme.test").await;
    let compose = ui
        .get(&format!("/mail/{}/compose", mailbox.0), Some(&session))
        .await
        .ok();
    assert!(
        compose_body(&compose.html).contains("Kind regards from Acme"),
        "{}",
        compose.html
    );

    // A template the service does not offer: core's sentence next to the form, nothing changed.
    let refused = ui
        .post(
            "/settings/anna@acme.test/signature",
            &[("signature", "Pirate")],
            Some(&session),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("id=\"signature-error\""),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("Pirate"), "{}", refused.html);
    assert!(
        refused
            .html
            .contains("<option value=\"Formal\" selected>Formal</option>"),
        "{}",
        refused.html
    );

    // No signature: the choice is cleared and compose starts empty.
    let cleared = ui
        .post(
            "/settings/anna@acme.test/signature",
            &[("signature", "")],
            Some(&session),
        )
        .await;
    assert_eq!(cleared.location(), "/settings/anna@acme.test#signature");
    let page = ui.get(settings, Some(&session)).await.ok();
    assert!(page.html.contains("id=\"no-signature\""), "{}", page.html);
    let compose = ui
        .get(&format!("/mail/{}/compose", mailbox.0), Some(&session))
        .await
        .ok();
    assert!(
        !compose_body(&compose.html).contains("Kind regards"),
        "{}",
        compose.html
    );
}

#[tokio::test]
async fn svc_4_without_the_signature_permission_there_is_no_signature_form() {
    let ui = Ui::new().await;
    ui.acme().await;
    signature_templates(&ui).await;
    let session = account_with_own_mailbox(&ui, "anna@acme.test", &["read_send"]).await;

    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(
        !page.html.contains("id=\"signature-form\""),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("id=\"signature-not-allowed\""),
        "{}",
        page.html
    );

    // Posting the form anyway is refused by core, and the signature stays as it was.
    let refused = ui
        .post(
            "/settings/anna@acme.test/signature",
            &[("signature", "Formal")],
            Some(&session),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let page = ui
        .get("/settings/anna@acme.test", Some(&session))
        .await
        .ok();
    assert!(page.html.contains("id=\"no-signature\""), "{}", page.html);
}
