//! ID-5 over the API: unification offered to the one account whose login is the mailbox,
//! performed on request, shown on both screens, and ended when a second account gets access;
//! and ID-7, the credential tester.

use axum::http::StatusCode;
use serde_json::json;

use crate::fixture::{Api, PASSWORD, quick_policy};

const MAILBOX_PASSWORD: &str = "mailbox-only-passphrase";
const UNIFIED_PASSWORD: &str = "one-password-for-both";

/// Acme with the mailbox `toto@example.test` and the member account of the same login, the
/// only one with access, allowed to change its password. Answers the account's session.
async fn toto_with_own_mailbox(api: &Api) -> String {
    let op = api.operator.clone();
    api.user("toto@example.test", "member").await;
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .json(json!({
            "local_part": "toto",
            "password": MAILBOX_PASSWORD,
            "holder": {"mode": "users", "users": [
                {"login": "toto@example.test", "permissions": ["read_send", "change_password"]}
            ]},
        }))
        .send()
        .await
        .expect(StatusCode::CREATED);
    api.sign_in("toto@example.test").await
}

async fn tested(api: &Api, session: &str, address: &str, password: &str) -> String {
    let answer = api
        .post("/api/v1/credentials/test")
        .cookie(session)
        .json(json!({"address": address, "password": password}))
        .send()
        .await
        .expect(StatusCode::OK);
    answer.body["result"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn id_5_unification_is_offered_performed_shown_and_ended_by_a_second_account() {
    let api = Api::new().await.with_acme().await;
    let session = toto_with_own_mailbox(&api).await;

    let details = api
        .get("/api/v1/addresses/toto@example.test")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(details.body["unification"]["state"], "offered");
    // The operator has no account password: nothing to say.
    let for_operator = api
        .get("/api/v1/addresses/toto@example.test")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(for_operator.body.get("unification").is_none());

    // A change without asking: offered, not done; the account password is untouched (ID-3).
    let changed = api
        .put("/api/v1/addresses/toto@example.test/password")
        .cookie(&session)
        .json(json!({"password": MAILBOX_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(changed.body["unification"]["state"], "offered");
    assert_eq!(changed.body["unification"]["address"], "toto@example.test");
    api.try_sign_in("toto@example.test", PASSWORD, None)
        .await
        .expect(StatusCode::OK);

    let unified = api
        .put("/api/v1/addresses/toto@example.test/password")
        .cookie(&session)
        .json(json!({"password": UNIFIED_PASSWORD, "unify": true}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(unified.body["unification"]["state"], "unified");
    // The session the change was made in goes on.
    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["unified_with"], "toto@example.test");
    let details = api
        .get("/api/v1/addresses/toto@example.test")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(details.body["unification"]["state"], "unified");
    api.try_sign_in("toto@example.test", UNIFIED_PASSWORD, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        tested(&api, &session, "toto@example.test", UNIFIED_PASSWORD).await,
        "valid"
    );

    // Changing the account's password changes the mailbox's too, and says so.
    let both = api
        .put("/api/v1/me/password")
        .cookie(&session)
        .json(json!({"current_password": UNIFIED_PASSWORD, "new_password": MAILBOX_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(both.body["unification"]["state"], "unified");
    assert_eq!(
        tested(&api, &session, "toto@example.test", MAILBOX_PASSWORD).await,
        "valid"
    );

    // ID-5 (b): a second account with access ends it, and both screens say so.
    api.user("jane@outside.test", "member").await;
    api.put("/api/v1/addresses/toto@example.test/access/jane@outside.test")
        .bearer(&api.operator)
        .json(json!({"permissions": ["read_send"]}))
        .send()
        .await
        .expect(StatusCode::OK);
    let details = api
        .get("/api/v1/addresses/toto@example.test")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(details.body["unification"]["state"], "not_offered");
    let reasons = details.body["unification"]["reasons"].to_string();
    assert!(reasons.contains("other accounts"), "{reasons}");
    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["unified_with"], serde_json::Value::Null);

    // From now on the two passwords diverge.
    let diverged = api
        .put("/api/v1/addresses/toto@example.test/password")
        .cookie(&session)
        .json(json!({"password": UNIFIED_PASSWORD, "unify": true}))
        .send()
        .await;
    assert_ne!(
        diverged.body["unification"]["state"], "unified",
        "{}",
        diverged.body
    );
    api.try_sign_in("toto@example.test", MAILBOX_PASSWORD, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn id_5_an_account_whose_login_differs_is_told_why_nothing_is_offered() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "admin").await;
    let session = api.sign_in("jane@outside.test").await;
    api.post("/api/v1/services/example.test/addresses")
        .cookie(&session)
        .json(json!({"local_part": "jane", "password": MAILBOX_PASSWORD, "holder": {"mode": "myself"}}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let changed = api
        .put("/api/v1/addresses/jane@example.test/password")
        .cookie(&session)
        .json(json!({"password": UNIFIED_PASSWORD, "unify": true}))
        .send()
        .await;
    assert_ne!(
        changed.body["unification"]["state"], "unified",
        "{}",
        changed.body
    );
    let details = api
        .get("/api/v1/addresses/jane@example.test")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(details.body["unification"]["state"], "not_offered");
    assert!(
        details.body["unification"]["reasons"]
            .to_string()
            .contains("login is not this address"),
        "{}",
        details.body
    );
    // ID-3: the account's password did not change.
    api.try_sign_in("jane@outside.test", PASSWORD, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn id_7_the_credential_tester_tells_the_four_outcomes_apart() {
    let api = Api::new().await.with_acme().await;
    let session = toto_with_own_mailbox(&api).await;
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&api.operator)
        .json(json!({"local_part": "off", "password": MAILBOX_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    api.patch("/api/v1/addresses/off@example.test")
        .bearer(&api.operator)
        .json(json!({"enabled": false}))
        .send()
        .await
        .expect(StatusCode::OK);

    let cases = [
        ("toto@example.test", MAILBOX_PASSWORD, "valid"),
        ("toto@example.test", "not-the-password", "wrong_password"),
        // ID-2: the account password is not the mailbox's.
        ("toto@example.test", PASSWORD, "wrong_password"),
        ("nobody@example.test", MAILBOX_PASSWORD, "unknown_address"),
        ("off@example.test", MAILBOX_PASSWORD, "disabled"),
    ];
    for (address, password, expected) in cases {
        assert_eq!(
            tested(&api, &session, address, password).await,
            expected,
            "{address}"
        );
    }
    // Any authenticated caller, a token too; nobody without a credential.
    let by_operator = api
        .post("/api/v1/credentials/test")
        .bearer(&api.operator)
        .json(json!({"address": "toto@example.test", "password": MAILBOX_PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(by_operator.body["result"], "valid");
    api.post("/api/v1/credentials/test")
        .json(json!({"address": "toto@example.test", "password": MAILBOX_PASSWORD}))
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn id_7_the_credential_tester_is_rate_limited_like_a_login() {
    let api = Api::with_policy(quick_policy(3)).await.with_acme().await;
    let session = toto_with_own_mailbox(&api).await;
    let mut throttled_after = None;
    for attempt in 1..=6 {
        let answer = api
            .post("/api/v1/credentials/test")
            .cookie(&session)
            .json(json!({"address": "toto@example.test", "password": "guess"}))
            .send()
            .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            answer.expect_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
            throttled_after = Some(attempt);
            break;
        }
        assert_eq!(answer.body["result"], "wrong_password");
    }
    assert_eq!(throttled_after, Some(4), "locked out after 3 failures");
    // Locked out: even the right password is not checked.
    api.post("/api/v1/credentials/test")
        .cookie(&session)
        .json(json!({"address": "toto@example.test", "password": MAILBOX_PASSWORD}))
        .send()
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
}
