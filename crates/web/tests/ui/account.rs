//! The account pages (issue 11 item 1; ID-1, ID-5, ID-6, ID-10): contact details, login,
//! password, two-factor enrolment and the sessions list, as a signed-in person uses them.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::fixture::{PASSWORD, Ui, session_cookie};
use crate::signin::{text_of, totp};

const NEW_PASSWORD: &str = "a-brand-new-passphrase";

/// Acme with the member `jane@outside.test`, signed in; answers the session.
async fn jane() -> (Ui, String) {
    let ui = Ui::acme_with_member("jane@outside.test").await;
    let session = ui.sign_in("jane@outside.test").await;
    (ui, session)
}

#[tokio::test]
async fn the_account_page_needs_a_session_and_shows_who_is_signed_in() {
    let (ui, session) = jane().await;
    assert_eq!(
        ui.get("/account", None).await.location(),
        "/signin?next=/account"
    );
    let page = ui.get("/account", Some(&session)).await.ok();
    assert!(
        page.html
            .contains(r#"id="account-login">jane@outside.test<"#),
        "{}",
        page.html
    );
    assert!(page.html.contains("Some One"));
    assert!(
        page.html
            .contains(r#"href="/account" id="tab-profile" aria-current="page""#)
    );
}

#[tokio::test]
async fn contact_details_are_saved_and_a_bad_phone_is_explained_beside_the_form() {
    let (ui, session) = jane().await;
    let saved = ui
        .post(
            "/account/contact",
            &[
                ("phone", "+33 6 12 34 56 78"),
                ("recovery_email", "jane@home.test"),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(saved.location(), "/account");
    assert!(saved.notice().unwrap().contains("saved"));
    let page = ui.get("/account", Some(&session)).await.ok();
    assert!(
        page.html.contains(r#"value="+33 6 12 34 56 78""#),
        "{}",
        page.html
    );
    assert!(page.html.contains(r#"value="jane@home.test""#));

    let bad = ui
        .post(
            "/account/contact",
            &[("phone", "12"), ("recovery_email", "jane@home.test")],
            Some(&session),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains(r#"id="form-problem""#), "{}", bad.html);
    assert!(
        bad.html.contains(r#"value="12""#),
        "the typed value is kept"
    );
}

#[tokio::test]
async fn id_6_a_password_change_keeps_this_session_and_ends_the_others() {
    let (ui, session) = jane().await;
    let elsewhere = ui.sign_in("jane@outside.test").await;

    let wrong = ui
        .post(
            "/account/password",
            &[
                ("current_password", "not-my-password"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.html.contains(r#"id="form-problem""#));

    let changed = ui
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(changed.location(), "/account/password");
    assert!(
        changed.notice().unwrap().contains("signed out"),
        "{:?}",
        changed.notice()
    );
    ui.get("/account", Some(&session)).await.ok();
    assert!(
        ui.get("/account", Some(&elsewhere))
            .await
            .status
            .is_redirection()
    );

    let old = ui.try_sign_in("jane@outside.test", PASSWORD).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = ui.try_sign_in("jane@outside.test", NEW_PASSWORD).await;
    assert_eq!(new.location(), "/mail");
}

#[tokio::test]
async fn a_generated_password_is_shown_once_in_the_answer() {
    let (ui, session) = jane().await;
    let page = ui
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", ""),
                ("new_password_again", ""),
            ],
            Some(&session),
        )
        .await
        .ok();
    let generated = text_of(&page.html, r#"id="generated-password">"#);
    assert!(generated.len() >= 12, "{generated}");
    let signed_in = ui.try_sign_in("jane@outside.test", &generated).await;
    assert_eq!(signed_in.location(), "/mail");
    assert!(
        !ui.get("/account/password", Some(&session))
            .await
            .html
            .contains(&generated)
    );
}

#[tokio::test]
async fn id_1_two_factor_enrolment_with_a_qr_code_then_turned_off() {
    let (ui, session) = jane().await;
    let off = ui.get("/account/2fa", Some(&session)).await.ok();
    assert!(
        off.html.contains(r#"id="two-factor-state">Off"#),
        "{}",
        off.html
    );

    let enrolment = ui
        .post("/account/2fa/begin", &[], Some(&session))
        .await
        .ok();
    assert!(
        enrolment.html.contains("<svg"),
        "the QR code is drawn inline"
    );
    let secret = text_of(&enrolment.html, r#"id="totp-secret">"#);
    assert!(secret.len() >= 16, "{secret}");

    let wrong = ui
        .post("/account/2fa/confirm", &[("code", "abc")], Some(&session))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        !wrong.html.contains(&secret),
        "the secret is shown once only"
    );

    let confirmed = ui
        .post(
            "/account/2fa/confirm",
            &[("code", &totp::code_steps_ago(&secret, 1))],
            Some(&session),
        )
        .await
        .ok();
    assert_eq!(
        confirmed.html.matches("<li><code>").count(),
        10,
        "{}",
        confirmed.html
    );
    let on = ui.get("/account/2fa", Some(&session)).await.ok();
    assert!(
        on.html.contains(r#"id="two-factor-state">On"#),
        "{}",
        on.html
    );

    // A recovery code stands in for the app's code once.
    let recovery = text_of(&confirmed.html, "<li><code>");
    let with_recovery = ui
        .post(
            "/signin",
            &[
                ("login", "jane@outside.test"),
                ("password", PASSWORD),
                ("code", &recovery),
            ],
            None,
        )
        .await;
    assert_eq!(with_recovery.location(), "/mail");

    let refused = ui
        .post(
            "/account/2fa/disable",
            &[("password", "wrong")],
            Some(&session),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let disabled = ui
        .post(
            "/account/2fa/disable",
            &[("password", PASSWORD)],
            Some(&session),
        )
        .await;
    assert_eq!(disabled.location(), "/account/2fa");
    let page = ui.try_sign_in("jane@outside.test", PASSWORD).await;
    assert_eq!(page.location(), "/mail", "no code asked any more");
}

#[tokio::test]
async fn the_sessions_list_marks_this_one_and_ends_the_others() {
    let (ui, session) = jane().await;
    let other = ui.sign_in("jane@outside.test").await;
    let third = ui.sign_in("jane@outside.test").await;
    let page = ui.get("/account/sessions", Some(&session)).await.ok();
    assert_eq!(
        page.html.matches("<tr id=\"session-").count(),
        3,
        "{}",
        page.html
    );
    assert_eq!(page.html.matches(r#"id="this-session""#).count(), 1);

    // End one by its button.
    let other_page = ui.get("/account/sessions", Some(&other)).await.ok();
    let marker = r#"<tr id="session-"#;
    let other_id = other_page
        .html
        .split(marker)
        .skip(1)
        .find(|row| row.contains(r#"id="this-session""#))
        .and_then(|row| row.split('"').next())
        .expect("the other browser's own row")
        .to_owned();
    let ended = ui
        .post(
            &format!("/account/sessions/{other_id}/end"),
            &[],
            Some(&session),
        )
        .await;
    assert_eq!(ended.location(), "/account/sessions");
    assert!(
        ui.get("/account", Some(&other))
            .await
            .status
            .is_redirection()
    );
    ui.get("/account", Some(&third)).await.ok();

    let all = ui
        .post("/account/sessions/end-others", &[], Some(&session))
        .await;
    assert_eq!(all.location(), "/account/sessions");
    assert!(
        all.notice().unwrap().contains("1 other session"),
        "{:?}",
        all.notice()
    );
    assert!(
        ui.get("/account", Some(&third))
            .await
            .status
            .is_redirection()
    );
    let page = ui.get("/account/sessions", Some(&session)).await.ok();
    assert!(
        page.html.contains(r#"id="no-other-sessions""#),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn the_login_changes_with_the_password_and_the_new_one_signs_in() {
    let (ui, session) = jane().await;
    let form = ui.get("/account/login", Some(&session)).await.ok();
    assert!(form.html.contains(r#"name="password""#));
    let refused = ui
        .post(
            "/account/login",
            &[("login", "jane@elsewhere.test"), ("password", "wrong")],
            Some(&session),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains(r#"value="jane@elsewhere.test""#));
    let changed = ui
        .post(
            "/account/login",
            &[("login", "jane@elsewhere.test"), ("password", PASSWORD)],
            Some(&session),
        )
        .await;
    assert_eq!(changed.location(), "/account");
    let page = ui.try_sign_in("jane@elsewhere.test", PASSWORD).await;
    assert!(session_cookie(&page.headers).is_some());
}

#[tokio::test]
async fn id_10_an_account_whose_login_was_deleted_must_choose_a_new_one_first() {
    let ui = Ui::new().await;
    ui.acme().await;
    ui.mailbox("toto", PASSWORD).await;
    ui.api(
        Method::POST,
        "/api/v1/users",
        json!({
            "login": "toto@acme.test", "password": PASSWORD, "display_name": "Toto Tata",
            "org": "Acme", "role": "member",
        }),
    )
    .await;
    let session = ui.sign_in("toto@acme.test").await;
    ui.post(
        "/account/contact",
        &[("phone", ""), ("recovery_email", "toto@home.test")],
        Some(&session),
    )
    .await;
    ui.api(
        Method::DELETE,
        "/api/v1/addresses/toto@acme.test?confirm=toto@acme.test",
        json!(null),
    )
    .await;
    let mail = ui
        .notifications()
        .last()
        .expect("the recovery username")
        .text
        .clone();
    let username = mail
        .split("recovery username ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the username in the message")
        .to_owned();

    let page = ui.try_sign_in(&username, PASSWORD).await;
    let session = session_cookie(&page.headers).expect("signed in with the recovery username");
    // Every page sends the person to the choice first; that page asks for no password.
    assert_eq!(
        ui.get("/mail", Some(&session)).await.location(),
        "/account/login"
    );
    assert_eq!(
        ui.get("/account", Some(&session)).await.location(),
        "/account/login"
    );
    let choose = ui.get("/account/login", Some(&session)).await.ok();
    assert!(
        choose.html.contains(r#"id="must-choose-login""#),
        "{}",
        choose.html
    );
    assert!(choose.html.contains(&username), "{}", choose.html);
    assert!(!choose.html.contains(r#"name="password""#));

    let chosen = ui
        .post(
            "/account/login",
            &[("login", "toto@home.test")],
            Some(&session),
        )
        .await;
    assert_eq!(chosen.location(), "/account");
    let account = ui.get("/account", Some(&session)).await.ok();
    assert!(
        account
            .html
            .contains(r#"id="account-login">toto@home.test<"#),
        "{}",
        account.html
    );
}
