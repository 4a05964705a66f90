//! The sign-in pages (issue 11 item 1; ID-1, ID-2, ID-8, ID-9, ADDR-1 b'): what a person
//! sees when signing in, with two-factor authentication, when mistaking a mailbox password for
//! the account's, when recovering a password or a login, and when accepting an invitation.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::fixture::{PASSWORD, Ui, session_cookie};

/// The tests' authenticator app, shared with the API's tests.
#[path = "../api/totp.rs"]
pub mod totp;

/// The sentence of ID-2, as the page words it.
const MAILBOX_SENTENCE: &str = "which only mail programs use";

/// Acme with the member `jane@outside.test`.
async fn with_jane() -> Ui {
    Ui::acme_with_member("jane@outside.test").await
}

#[tokio::test]
async fn id_1_signing_in_sets_the_cookie_and_goes_to_the_page_asked_for() {
    let ui = with_jane().await;
    let form = ui.get("/signin?next=/account", None).await.ok();
    assert!(
        form.html.contains(r#"name="next" value="/account""#),
        "{}",
        form.html
    );
    assert!(form.html.contains(r#"href="/signin/forgot-password""#));

    let page = ui
        .post(
            "/signin",
            &[
                ("login", "jane@outside.test"),
                ("password", PASSWORD),
                ("next", "/account"),
            ],
            None,
        )
        .await;
    assert_eq!(page.location(), "/account");
    let cookie = page.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = session_cookie(&page.headers).expect("a session cookie");
    let account = ui.get("/account", Some(&session)).await.ok();
    assert!(
        account.html.contains("jane@outside.test"),
        "{}",
        account.html
    );

    // Without `next`, webmail; and the sign-in page sends a signed-in browser on.
    let page = ui.try_sign_in("jane@outside.test", PASSWORD).await;
    assert_eq!(page.location(), "/mail");
    assert_eq!(ui.get("/signin", Some(&session)).await.location(), "/mail");
}

#[tokio::test]
async fn a_next_parameter_never_leaves_the_site() {
    let ui = with_jane().await;
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let page = ui
            .post(
                "/signin",
                &[
                    ("login", "jane@outside.test"),
                    ("password", PASSWORD),
                    ("next", evil),
                ],
                None,
            )
            .await;
        assert_eq!(page.location(), "/", "{evil}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_saying_whether_the_login_exists() {
    let ui = with_jane().await;
    let wrong = ui
        .try_sign_in("jane@outside.test", "not-the-password")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.html.contains("The login or the password is wrong."),
        "{}",
        wrong.html
    );
    assert!(session_cookie(&wrong.headers).is_none());
    // The login is kept, the password is not written back.
    assert!(wrong.html.contains(r#"value="jane@outside.test""#));
    assert!(!wrong.html.contains("not-the-password"));

    let unknown = ui
        .try_sign_in("nobody@outside.test", "not-the-password")
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.html.contains("The login or the password is wrong."));
    assert!(!unknown.html.contains(MAILBOX_SENTENCE));
}

#[tokio::test]
async fn id_2_a_mailbox_address_with_its_mailbox_password_is_told_what_this_page_wants() {
    let ui = with_jane().await;
    ui.mailbox("info", "mailbox-password-42").await;
    let page = ui
        .try_sign_in("info@acme.test", "mailbox-password-42")
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        session_cookie(&page.headers).is_none(),
        "a mailbox password opens no session"
    );
    assert!(page.html.contains(MAILBOX_SENTENCE), "{}", page.html);
    assert!(page.html.contains("login of your account"), "{}", page.html);

    // The same address with a wrong password is only a wrong password.
    let page = ui.try_sign_in("info@acme.test", "something-else-42").await;
    assert!(
        page.html.contains("The login or the password is wrong."),
        "{}",
        page.html
    );
    assert!(!page.html.contains(MAILBOX_SENTENCE));
}

#[tokio::test]
async fn id_1_two_factor_sign_in_asks_for_the_code_then_accepts_it() {
    let ui = with_jane().await;
    let session = ui.sign_in("jane@outside.test").await;
    let enrolment = ui
        .post("/account/2fa/begin", &[], Some(&session))
        .await
        .ok();
    let secret = text_of(&enrolment.html, r#"id="totp-secret">"#);
    ui.post(
        "/account/2fa/confirm",
        &[("code", &totp::code_steps_ago(&secret, 1))],
        Some(&session),
    )
    .await
    .ok();

    let first = ui.try_sign_in("jane@outside.test", PASSWORD).await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&first.headers).is_none());
    assert!(first.html.contains(r#"name="code""#), "{}", first.html);
    assert!(
        first.html.contains("two-factor authentication"),
        "{}",
        first.html
    );
    assert!(
        !first.html.contains(PASSWORD),
        "the password is never written into the page"
    );

    let wrong = ui
        .post(
            "/signin",
            &[
                ("login", "jane@outside.test"),
                ("password", PASSWORD),
                ("code", "000000"),
            ],
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("code is wrong"), "{}", wrong.html);

    let code = totp::code_now(&secret);
    let page = ui
        .post(
            "/signin",
            &[
                ("login", "jane@outside.test"),
                ("password", PASSWORD),
                ("code", &code),
                ("next", "/account/sessions"),
            ],
            None,
        )
        .await;
    assert_eq!(page.location(), "/account/sessions");
    assert!(session_cookie(&page.headers).is_some());
}

#[tokio::test]
async fn signing_out_ends_the_session_and_forgets_the_cookie() {
    let ui = with_jane().await;
    let session = ui.sign_in("jane@outside.test").await;
    ui.get("/account", Some(&session)).await.ok();
    let out = ui.post("/signout", &[], Some(&session)).await;
    assert_eq!(out.location(), "/signin");
    assert_eq!(out.notice().as_deref(), Some("You are signed out."));
    let cleared = out
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("postwerk_session="))
        .expect("the session cookie cleared")
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The sign-in page the browser lands on says so.
    let notice = out
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("postwerk_notice="))
        .and_then(|v| v.split(';').next())
        .expect("a notice for the next page")
        .to_owned();
    let request = axum::http::Request::builder()
        .uri("/signin")
        .header("cookie", notice)
        .body(axum::body::Body::empty())
        .unwrap();
    let landed = ui.send(request).await.ok();
    assert!(
        landed.html.contains("You are signed out."),
        "{}",
        landed.html
    );
    // The old cookie no longer opens anything.
    assert_eq!(
        ui.get("/account", Some(&session)).await.location(),
        "/signin?next=/account"
    );
}

#[tokio::test]
async fn id_8_a_forgotten_password_is_reset_with_a_code_and_unknown_logins_look_the_same() {
    let ui = with_jane().await;
    let session = ui.sign_in("jane@outside.test").await;
    ui.post(
        "/account/contact",
        &[("phone", ""), ("recovery_email", "jane@home.test")],
        Some(&session),
    )
    .await;
    let form = ui.get("/signin/forgot-password", None).await.ok();
    assert!(form.html.contains(r#"id="forgot-password-form""#));

    let ask = |login: &'static str| {
        let ui = &ui;
        async move {
            ui.post(
                "/signin/forgot-password",
                &[("login", login), ("channel", "email")],
                None,
            )
            .await
        }
    };
    let for_jane = ask("jane@outside.test").await;
    let sent_after_jane = ui.notifications().len();
    let for_nobody = ask("nobody@outside.test").await;
    assert_eq!(
        for_jane.notice(),
        for_nobody.notice(),
        "the same words for both"
    );
    assert!(for_jane.notice().unwrap().starts_with("If an account"));
    assert_eq!(
        ui.notifications().len(),
        sent_after_jane,
        "nothing sent for nobody"
    );
    assert_eq!(
        for_jane.location(),
        "/signin/reset-password?login=jane%40outside.test"
    );
    assert_eq!(for_nobody.status, for_jane.status);

    let mail = ui.notifications().last().unwrap().text.clone();
    let code = mail
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 8)
        .expect("an 8-digit code")
        .to_owned();

    // A wrong code and an unknown login read the same.
    let reset = |login: &'static str, code: String| {
        let ui = &ui;
        async move {
            ui.post(
                "/signin/reset-password",
                &[
                    ("login", login),
                    ("code", &code),
                    ("new_password", "recovered-passphrase"),
                    ("new_password_again", "recovered-passphrase"),
                ],
                None,
            )
            .await
        }
    };
    let wrong = reset("jane@outside.test", "00000000".into()).await;
    let unknown = reset("nobody@outside.test", code.clone()).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong
            .html
            .contains("The code is wrong, expired or already used"),
        "{}",
        wrong.html
    );
    assert!(
        unknown
            .html
            .contains("The code is wrong, expired or already used")
    );

    let done = reset("jane@outside.test", code).await;
    assert_eq!(done.location(), "/signin");
    // The old session ended; the new password works.
    assert!(
        ui.get("/account", Some(&session))
            .await
            .status
            .is_redirection()
    );
    let page = ui
        .try_sign_in("jane@outside.test", "recovered-passphrase")
        .await;
    assert_eq!(page.location(), "/mail");
}

#[tokio::test]
async fn id_9_a_forgotten_login_is_sent_without_revealing_who_matched() {
    let ui = with_jane().await;
    let session = ui.sign_in("jane@outside.test").await;
    ui.post(
        "/account/contact",
        &[
            ("phone", "+33 6 12 34 56 78"),
            ("recovery_email", "jane@home.test"),
        ],
        Some(&session),
    )
    .await;
    ui.get("/signin/forgot-login", None).await.ok();
    let remind = |phone: &'static str| {
        let ui = &ui;
        async move {
            ui.post(
                "/signin/forgot-login",
                &[
                    ("phone", phone),
                    ("recovery_email", ""),
                    ("channel", "email"),
                ],
                None,
            )
            .await
        }
    };
    let known = remind("+33 6 12 34 56 78").await;
    let sent = ui.notifications().len();
    let unknown = remind("+33 7 00 00 00 00").await;
    assert_eq!(known.location(), "/signin");
    assert_eq!(unknown.location(), "/signin");
    assert_eq!(known.notice(), unknown.notice());
    assert_eq!(
        ui.notifications().len(),
        sent,
        "nothing sent for an unknown phone"
    );
    let reminder = ui.notifications().last().unwrap().clone();
    assert_eq!(reminder.to.to_string(), "jane@home.test");
    assert!(
        reminder.text.contains("jane@outside.test"),
        "{}",
        reminder.text
    );

    // Neither works: an administrator is asked.
    let queued = ui
        .post(
            "/signin/verification",
            &[
                ("name", "Jane"),
                ("phone", "+33 6 12 34 56 78"),
                ("message", "I lost my phone"),
            ],
            None,
        )
        .await;
    assert_eq!(queued.location(), "/signin");
    assert!(
        queued.notice().unwrap().contains("request number"),
        "{:?}",
        queued.notice()
    );
    let empty = ui
        .post(
            "/signin/verification",
            &[("name", "Jane"), ("message", "")],
            None,
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(
        empty.html.contains(r#"value="Jane""#),
        "the form keeps what was typed"
    );
}

#[tokio::test]
async fn addr_1_b_prime_an_invitation_is_accepted_and_the_person_signed_in() {
    let ui = Ui::new().await;
    ui.acme().await;
    ui.api(
        Method::POST,
        "/api/v1/services/acme.test/addresses",
        json!({
            "local_part": "newcomer",
            "holder": {"mode": "invitation", "invitation": {"send_to": "person@home.test", "login_mode": "own_choice"}},
        }),
    )
    .await;
    let mail = ui
        .notifications()
        .last()
        .expect("the invitation")
        .text
        .clone();
    let start = mail
        .find("https://mail.platform.test/invite/")
        .expect("a link");
    let link = mail[start + "https://mail.platform.test".len()..]
        .split(char::is_whitespace)
        .next()
        .unwrap()
        .to_owned();

    let offer = ui.get(&link, None).await.ok();
    assert!(offer.html.contains("newcomer@acme.test"), "{}", offer.html);
    assert!(offer.html.contains("Acme"));
    assert!(
        offer.html.contains(r#"name="login""#),
        "own choice: the login is asked"
    );
    assert_eq!(
        ui.get("/invite/not-a-secret", None).await.status,
        StatusCode::NOT_FOUND
    );

    let differ = ui
        .post(
            &link,
            &[
                ("display_name", "A Person"),
                ("login", "person@home.test"),
                ("password", PASSWORD),
                ("password_again", "something else"),
            ],
            None,
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(differ.html.contains(r#"value="A Person""#));

    let accepted = ui
        .post(
            &link,
            &[
                ("display_name", "A Person"),
                ("login", "person@home.test"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(accepted.location(), "/mail");
    assert!(accepted.notice().unwrap().contains("newcomer@acme.test"));
    let session = session_cookie(&accepted.headers).expect("signed in at once");
    let account = ui.get("/account", Some(&session)).await.ok();
    assert!(
        account.html.contains("person@home.test"),
        "{}",
        account.html
    );
    // The link works once.
    assert_eq!(ui.get(&link, None).await.status, StatusCode::NOT_FOUND);
}

/// The text of the element that starts right after `marker`.
pub fn text_of(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('<').next().unwrap().trim().to_owned()
}
