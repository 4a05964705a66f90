//! ID-8, ID-9 over the API: password reset by a code sent by email or SMS, the login reminder
//! and identity-verification requests; answers that never say whether an account exists. And
//! ID-12: the SMS outbox is the operator's to read.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Api, PASSWORD, digits};

const PHONE: &str = "+33 6 12 34 56 78";
const NEW_PASSWORD: &str = "recovered-passphrase";

/// Acme with the member `jane@outside.test`, whose recovery contact is [`PHONE`] and
/// `jane@home.test`. Answers her session.
async fn jane_with_contact(api: &Api) -> String {
    api.user("jane@outside.test", "member").await;
    let session = api.sign_in("jane@outside.test").await;
    api.put("/api/v1/me/contact")
        .cookie(&session)
        .json(json!({"phone": PHONE, "recovery_email": "jane@home.test"}))
        .send()
        .await
        .expect(StatusCode::OK);
    session
}

async fn ask_code(api: &Api, login: &str, channel: &str) -> Value {
    api.post("/api/v1/recovery/password")
        .json(json!({"login": login, "channel": channel}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED)
        .body
}

#[tokio::test]
async fn id_8_a_password_reset_by_email_code_works_once_and_reveals_nothing() {
    let api = Api::new().await.with_acme().await;
    let old_session = jane_with_contact(&api).await;

    let for_jane = ask_code(&api, "jane@outside.test", "email").await;
    let mails_after_jane = api.mails_sent();
    let for_nobody = ask_code(&api, "nobody@outside.test", "email").await;
    assert_eq!(
        for_jane, for_nobody,
        "the same words whether the login exists"
    );
    assert_eq!(
        api.mails_sent(),
        mails_after_jane,
        "nothing sent for nobody"
    );
    let message = for_jane["message"].as_str().unwrap();
    assert!(message.starts_with("If an account"), "{message}");

    let mail = api
        .last_mail_to("jane@home.test")
        .expect("the code by email");
    let code = digits(&mail, 8).expect("an 8-digit code");
    assert!(!mail.contains(PASSWORD));

    let wrong = api
        .post("/api/v1/recovery/password/reset")
        .json(
            json!({"login": "jane@outside.test", "code": "00000000", "new_password": NEW_PASSWORD}),
        )
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_code");
    let unknown = api
        .post("/api/v1/recovery/password/reset")
        .json(json!({"login": "nobody@outside.test", "code": code, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_code");
    assert_eq!(wrong, unknown, "an unknown login reads like a wrong code");

    let reset = api
        .post("/api/v1/recovery/password/reset")
        .json(json!({"login": "jane@outside.test", "code": code, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(reset.body.get("generated_password").is_none());
    api.try_sign_in("jane@outside.test", NEW_PASSWORD, None)
        .await
        .expect(StatusCode::OK);
    // Every session of the account ended.
    api.get("/api/v1/me")
        .cookie(&old_session)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    // A code works once.
    api.post("/api/v1/recovery/password/reset")
        .json(json!({"login": "jane@outside.test", "code": code, "new_password": PASSWORD}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_code");
}

#[tokio::test]
async fn id_8_a_password_reset_by_sms_code_with_a_generated_password() {
    let api = Api::new().await.with_acme().await;
    jane_with_contact(&api).await;

    let for_jane = ask_code(&api, "jane@outside.test", "sms").await;
    let for_nobody = ask_code(&api, "nobody@outside.test", "sms").await;
    assert_eq!(for_jane, for_nobody);
    let outbox = api.sms_outbox().await;
    assert_eq!(outbox.len(), 1, "one SMS, for jane only: {outbox:?}");
    let code = digits(&outbox[0], 8).expect("an 8-digit code");

    let reset = api
        .post("/api/v1/recovery/password/reset")
        .json(json!({"login": "jane@outside.test", "code": code}))
        .send()
        .await
        .expect(StatusCode::OK);
    let generated = reset.body["generated_password"].as_str().unwrap();
    api.try_sign_in("jane@outside.test", generated, None)
        .await
        .expect(StatusCode::OK);

    // ID-12: the outbox is the operator's only (checked with a fresh session, the old one
    // ended with the reset).
    let session = api
        .try_sign_in("jane@outside.test", generated, None)
        .await
        .headers;
    let session = crate::fixture::session_cookie(&session).unwrap();
    api.get("/api/v1/notifications/sms")
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn id_9_a_forgotten_login_is_sent_to_the_phone_that_identifies_it() {
    let api = Api::new().await.with_acme().await;
    jane_with_contact(&api).await;

    let remind = |phone: &'static str| {
        api.post("/api/v1/recovery/login")
            .json(json!({"phone": phone, "channel": "sms"}))
            .send()
    };
    let known = remind("+33612345678").await.expect(StatusCode::ACCEPTED);
    let unknown = remind("+44 7700 900123").await.expect(StatusCode::ACCEPTED);
    assert_eq!(known.body, unknown.body);
    let outbox = api.sms_outbox().await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert!(outbox[0].contains("jane@outside.test"), "{}", outbox[0]);

    let by_email = api
        .post("/api/v1/recovery/login")
        .json(json!({"phone": PHONE, "recovery_email": "jane@home.test", "channel": "email"}))
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    assert!(by_email.body["message"].as_str().unwrap().contains("email"));
    let mail = api
        .last_mail_to("jane@home.test")
        .expect("the login by email");
    assert!(mail.contains("jane@outside.test"), "{mail}");
}

#[tokio::test]
async fn id_8_a_verification_request_is_listed_for_the_operator_and_closed() {
    let api = Api::new().await.with_acme().await;
    jane_with_contact(&api).await;

    let queued = api
        .post("/api/v1/recovery/verification")
        .json(json!({
            "login": "jane@outside.test", "name": "Jane Doe",
            "message": "I lost my phone and my recovery mailbox",
        }))
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    let id = queued.body["request"].as_i64().unwrap();
    api.post("/api/v1/recovery/verification")
        .json(json!({"name": "", "message": ""}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");

    let open = api
        .get("/api/v1/recovery/requests")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(open.body["total"], 1);
    let listed = &open.body["items"][0];
    assert_eq!(listed["id"], id);
    assert_eq!(listed["name"], "Jane Doe");
    assert_eq!(listed["account"], "jane@outside.test");
    assert_eq!(listed["closed_at"], Value::Null);

    // A member handles nobody's requests.
    let member = api.sign_in("jane@outside.test").await;
    api.post(&format!("/api/v1/recovery/requests/{id}/close"))
        .cookie(&member)
        .json(json!({"resolution": "closing my own"}))
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");

    api.post(&format!("/api/v1/recovery/requests/{id}/close"))
        .bearer(&api.operator)
        .json(json!({"resolution": "identity checked by phone"}))
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let open = api
        .get("/api/v1/recovery/requests?open=true")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(open.body["total"], 0);
    let all = api
        .get("/api/v1/recovery/requests?open=false&per_page=10")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        all.body["items"][0]["resolution"],
        "identity checked by phone"
    );
    api.post(&format!("/api/v1/recovery/requests/{id}/close"))
        .bearer(&api.operator)
        .json(json!({"resolution": "again"}))
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
}
