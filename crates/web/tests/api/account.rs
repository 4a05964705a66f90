//! The caller's own account over the API: two-factor enrolment and sign-in with it (ID-1),
//! the account's password change (ID-6), and the forced choice of a new login after the login
//! address was deleted (ID-10).

use axum::http::StatusCode;
use serde_json::json;

use crate::fixture::{Api, PASSWORD, session_cookie};
use crate::totp;

const NEW_PASSWORD: &str = "another-long-passphrase";

#[tokio::test]
async fn id_1_totp_enrolment_then_sign_in_needs_a_fresh_code_or_a_recovery_code() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "member").await;
    let session = api.sign_in("jane@outside.test").await;

    let enrolment = api
        .post("/api/v1/me/totp")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    let uri = enrolment.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");

    // A wrong first code leaves 2FA off.
    let current = totp::code_now(&secret);
    let wrong = format!(
        "{:06}",
        (current.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    api.post("/api/v1/me/totp/confirm")
        .cookie(&session)
        .json(json!({"code": wrong}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    // Confirmed with the previous step's code (one step of skew is allowed), so the current
    // step's code is still unused for the sign-in below.
    let confirmed = api
        .post("/api/v1/me/totp/confirm")
        .cookie(&session)
        .json(json!({"code": totp::code_steps_ago(&secret, 1)}))
        .send()
        .await
        .expect(StatusCode::OK);
    let recovery_codes: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery_codes.len(), 10);
    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["two_factor"], true);
    // A second enrolment needs 2FA turned off first.
    api.post("/api/v1/me/totp")
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");

    api.try_sign_in("jane@outside.test", PASSWORD, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "totp_required");
    let code = totp::code_now(&secret);
    let signed_in = api
        .try_sign_in("jane@outside.test", PASSWORD, Some(&code))
        .await
        .expect(StatusCode::OK);
    assert!(session_cookie(&signed_in.headers).is_some());
    // RFC 6238 §5.2: the same code never works twice.
    api.try_sign_in("jane@outside.test", PASSWORD, Some(&code))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "totp_invalid");

    // A recovery code stands in for the app once.
    api.try_sign_in("jane@outside.test", PASSWORD, Some(&recovery_codes[3]))
        .await
        .expect(StatusCode::OK);
    api.try_sign_in("jane@outside.test", PASSWORD, Some(&recovery_codes[3]))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "totp_invalid");

    // Turning 2FA off needs the password; then the password alone signs in again.
    api.delete("/api/v1/me/totp")
        .cookie(&session)
        .json(json!({"password": "not-the-password"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.delete("/api/v1/me/totp")
        .cookie(&session)
        .json(json!({"password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    api.try_sign_in("jane@outside.test", PASSWORD, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "member").await;
    let session = api.sign_in("jane@outside.test").await;
    let secret = api
        .post("/api/v1/me/totp")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK)
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = api
        .post("/api/v1/me/totp/confirm")
        .cookie(&session)
        .json(json!({"code": totp::code_now(&secret)}))
        .send()
        .await
        .expect(StatusCode::OK);
    let renewed = api
        .post("/api/v1/me/totp/recovery-codes")
        .cookie(&session)
        .json(json!({"password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    let old = first.body["recovery_codes"][0].as_str().unwrap();
    let new = renewed.body["recovery_codes"][0].as_str().unwrap();
    assert_ne!(old, new);
    api.try_sign_in("jane@outside.test", PASSWORD, Some(old))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "totp_invalid");
    api.try_sign_in("jane@outside.test", PASSWORD, Some(new))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn the_operator_has_no_account_to_manage() {
    let api = Api::new().await;
    let message = api
        .post("/api/v1/me/totp")
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(message.contains("operator has no account"), "{message}");
    api.put("/api/v1/me/password")
        .bearer(&api.operator)
        .json(json!({"current_password": PASSWORD}))
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn id_6_a_password_change_keeps_this_session_and_ends_the_others() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "member").await;
    let here = api.sign_in("jane@outside.test").await;
    let elsewhere = api.sign_in("jane@outside.test").await;

    api.put("/api/v1/me/password")
        .cookie(&here)
        .json(json!({"current_password": "not-the-password", "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    let changed = api
        .put("/api/v1/me/password")
        .cookie(&here)
        .json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(changed.body.get("generated_password").is_none());
    assert_ne!(changed.body["unification"]["state"], "unified");

    api.get("/api/v1/me")
        .cookie(&here)
        .send()
        .await
        .expect(StatusCode::OK);
    api.get("/api/v1/me")
        .cookie(&elsewhere)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    api.try_sign_in("jane@outside.test", PASSWORD, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    api.try_sign_in("jane@outside.test", NEW_PASSWORD, None)
        .await
        .expect(StatusCode::OK);

    // Without a new password, one is generated and shown once.
    let generated = api
        .put("/api/v1/me/password")
        .cookie(&here)
        .json(json!({"current_password": NEW_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    let password = generated.body["generated_password"].as_str().unwrap();
    api.try_sign_in("jane@outside.test", password, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn contact_details_are_set_and_removed_and_shown_on_the_own_screen() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "member").await;
    let session = api.sign_in("jane@outside.test").await;
    let set = api
        .put("/api/v1/me/contact")
        .cookie(&session)
        .json(json!({"phone": "+33 6 12 34 56 78", "recovery_email": "jane@home.test"}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(set.body["recovery_email"], "jane@home.test");
    assert!(set.body["phone"].as_str().is_some());
    api.put("/api/v1/me/contact")
        .cookie(&session)
        .json(json!({"phone": "12", "recovery_email": null}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.put("/api/v1/me/contact")
        .cookie(&session)
        .json(json!({"phone": null}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    let removed = api
        .put("/api/v1/me/contact")
        .cookie(&session)
        .json(json!({"phone": null, "recovery_email": null}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(removed.body["phone"], serde_json::Value::Null);
    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(me.body.get("recovery_email").is_none(), "{}", me.body);
    assert_eq!(me.body["unified_with"], serde_json::Value::Null);
}

#[tokio::test]
async fn id_10_after_the_login_address_is_deleted_only_choosing_a_new_login_is_allowed() {
    let api = Api::new().await.with_acme().await;
    let op = api.operator.clone();
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .json(json!({"local_part": "toto", "password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    api.post("/api/v1/users")
        .bearer(&op)
        .json(json!({
            "login": "toto@example.test", "password": PASSWORD, "display_name": "Toto Tata",
            "org": "Acme", "role": "member",
        }))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let session = api.sign_in("toto@example.test").await;
    api.put("/api/v1/me/contact")
        .cookie(&session)
        .json(json!({"phone": "+33 6 12 34 56 78", "recovery_email": null}))
        .send()
        .await
        .expect(StatusCode::OK);

    api.delete("/api/v1/addresses/toto@example.test?confirm=toto@example.test")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);

    // The recovery username went out by SMS.
    let outbox = api.sms_outbox().await;
    let sms = outbox
        .iter()
        .find(|text| text.contains("toto@example.test"))
        .expect("an SMS with the recovery username");
    let username = sms
        .split("username ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the username in the SMS")
        .to_owned();
    assert!(
        username.to_ascii_lowercase().starts_with("tt"),
        "initials then digits: {username}"
    );

    let recovered = api
        .try_sign_in(&username, PASSWORD, None)
        .await
        .expect(StatusCode::OK);
    let session = session_cookie(&recovered.headers).unwrap();
    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["must_choose_login"], true);
    api.get("/api/v1/sessions")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    for (method, uri) in [
        ("GET", "/api/v1/orgs"),
        ("POST", "/api/v1/me/totp"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/tokens"),
    ] {
        let message = api
            .call(method.parse().unwrap(), uri)
            .cookie(&session)
            .send()
            .await
            .expect_error(StatusCode::FORBIDDEN, "must_choose_login");
        assert!(message.contains("new login"), "{method} {uri}: {message}");
    }

    let chosen = api
        .put("/api/v1/me/login")
        .cookie(&session)
        .json(json!({"login": "toto@home.test"}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(chosen.body["login"], "toto@home.test");
    assert_eq!(chosen.body["must_choose_login"], false);
    api.get("/api/v1/orgs")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    api.try_sign_in("toto@home.test", PASSWORD, None)
        .await
        .expect(StatusCode::OK);
}
