//! Who may call what: no credential, a member's session and token, a read-only token, signing
//! in and out, and the CSRF check of cookie requests.

use axum::http::StatusCode;
use postwerk_core::Actor;
use postwerk_store::TokenScope;
use serde_json::json;

use crate::fixture::{Api, PASSWORD, quick_policy, session_cookie};

#[tokio::test]
async fn without_a_credential_the_answer_is_401_with_a_sentence() {
    let api = Api::new().await;
    let message = api
        .get("/api/v1/orgs")
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(message.contains("Bearer"), "{message}");
    api.get("/api/v1/orgs")
        .bearer("pwk_nothing_here")
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    api.get("/api/v1/orgs")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_member_is_refused_an_administrators_operation_with_403() {
    let api = Api::new().await.with_acme().await;
    api.user("member@outside.test", "member").await;
    let session = api.sign_in("member@outside.test").await;

    let refused = json!({"local_part": "boss", "password": PASSWORD});
    let message = api
        .post("/api/v1/services/example.test/addresses")
        .cookie(&session)
        .json(refused.clone())
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(message.contains("administrator"), "{message}");

    // The member's own token has the member's rights, never more.
    let token = api
        .post("/api/v1/tokens")
        .cookie(&session)
        .json(json!({"name": "script", "scope": "write"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let secret = token.body["secret"].as_str().unwrap().to_owned();
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&secret)
        .json(refused)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    api.get("/api/v1/services/example.test")
        .bearer(&secret)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    let nothing = api
        .get("/api/v1/services/example.test/addresses")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(nothing.body["total"], 0);
}

#[tokio::test]
async fn a_read_scope_token_reads_but_may_not_change_anything() {
    let api = Api::new().await.with_acme().await;
    let read_only = api
        .state
        .auth
        .create_token(Actor::Operator, "dashboard", TokenScope::Read, None)
        .await
        .unwrap()
        .secret
        .as_str()
        .to_owned();
    let orgs = api
        .get("/api/v1/orgs")
        .bearer(&read_only)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(orgs.body["items"][0]["name"], "Acme");
    let message = api
        .post("/api/v1/orgs")
        .bearer(&read_only)
        .json(json!({"name": "Other"}))
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(message.contains("only read"), "{message}");
    api.delete("/api/v1/services/example.test/alias-domains/example.org")
        .bearer(&read_only)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    let after = api
        .get("/api/v1/orgs")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(after.body["total"], 1, "nothing was created");
}

#[tokio::test]
async fn signing_in_sets_a_safe_cookie_and_signing_out_ends_the_session() {
    let api = Api::new().await.with_acme().await;
    api.user("admin@outside.test", "admin").await;
    let answer = api
        .post("/api/v1/session")
        .json(json!({"login": "admin@outside.test", "password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer.body["user"]["login"], "admin@outside.test");
    assert!(answer.body["user"].get("password_hash").is_none());
    assert!(answer.body["expires_at"].as_i64().unwrap() > 0);
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    let session = session_cookie(&answer.headers).unwrap();

    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["operator"], false);
    assert_eq!(me.body["login"], "admin@outside.test");
    assert_eq!(
        me.body["memberships"],
        json!([{"org": "Acme", "role": "admin"}])
    );
    let sessions = api
        .get("/api/v1/sessions")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(sessions.body["total"], 1);
    assert_eq!(sessions.body["items"][0]["current"], true);

    let out = api
        .delete("/api/v1/session")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let cleared = out.headers["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    api.get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn the_operator_is_told_it_is_the_operator() {
    let api = Api::new().await;
    let me = api
        .get("/api/v1/me")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["operator"], true);
    assert_eq!(me.body["scope"], "write");
    assert!(me.body.get("login").is_none());
}

#[tokio::test]
async fn refused_sign_ins_say_why_without_saying_whether_the_login_exists() {
    let api = Api::with_policy(quick_policy(3)).await.with_acme().await;
    api.user("admin@outside.test", "admin").await;
    let wrong_password = api
        .post("/api/v1/session")
        .json(json!({"login": "admin@outside.test", "password": "not-the-password"}))
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unknown_login = api
        .post("/api/v1/session")
        .json(json!({"login": "nobody@outside.test", "password": "not-the-password"}))
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong_password, unknown_login);
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            api.post("/api/v1/session")
                .json(json!({"login": "admin@outside.test", "password": "still-wrong-password"}))
                .send()
                .await,
        );
    }
    last.unwrap()
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_stop_working_when_revoked() {
    let api = Api::new().await;
    let created = api
        .post("/api/v1/tokens")
        .bearer(&api.operator)
        .json(json!({"name": "billing sync", "scope": "read"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let id = created.body["token"]["id"].as_i64().unwrap();
    api.get("/api/v1/orgs")
        .bearer(&secret)
        .send()
        .await
        .expect(StatusCode::OK);
    let list = api
        .get("/api/v1/tokens")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    let text = list.body.to_string();
    assert!(text.contains("billing sync"), "{text}");
    assert!(!text.contains(&secret), "the secret is shown once only");
    assert!(!text.contains("secret_hash"), "{text}");
    api.delete(&format!("/api/v1/tokens/{id}"))
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    api.get("/api/v1/orgs")
        .bearer(&secret)
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_cookie_request_from_another_site_is_refused_but_a_token_request_is_not() {
    let api = Api::new().await.with_acme().await;
    api.user("admin@outside.test", "admin").await;
    let session = api.sign_in("admin@outside.test").await;
    let cookie = format!("postwerk_session={session}");
    let body = json!({"name": "Forged"});

    // A modern browser says where the request comes from.
    api.post("/api/v1/orgs")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .json(body.clone())
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "csrf");
    // An older one only sends Origin, which must match the host.
    api.post("/api/v1/orgs")
        .header("cookie", &cookie)
        .header("host", "manager.test")
        .header("origin", "https://evil.example")
        .json(body.clone())
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "csrf");
    // Reading is never refused, and a same-origin page may change things.
    api.get("/api/v1/orgs")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect(StatusCode::OK);
    api.post("/api/v1/orgs")
        .header("cookie", &cookie)
        .header("host", "manager.test")
        .header("origin", "https://manager.test")
        .json(json!({"name": "Mine"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    // A bearer token is never sent by a browser on its own: no CSRF check.
    api.post("/api/v1/orgs")
        .bearer(&api.operator)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://tools.example")
        .json(json!({"name": "Scripted"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let orgs = api
        .get("/api/v1/orgs")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    let names: Vec<&str> = orgs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|org| org["name"].as_str())
        .collect();
    assert!(!names.contains(&"Forged"), "{names:?}");
}
