//! SND-1 send-as grants over the REST API, in process over a real store: an administrator lets
//! anna@ send as sales@ with `PUT /addresses/{a}/send-as/{b}`, the address's details show it,
//! `DELETE` takes it back, and the refusals answer the API's error shape.
//!
//! Its own test target (with the API suite's fixture) so that it needs no line in the suite's
//! `main.rs`.

#[allow(dead_code, unused_imports)]
#[path = "api/fixture.rs"]
mod fixture;

use axum::http::StatusCode;
use serde_json::json;

use fixture::Api;

const ANNA: &str = "/api/v1/addresses/anna@example.test";

/// Acme (example.test) with the mailboxes anna and sales, and the organization Other
/// (other.test) with the mailbox stranger.
async fn api() -> Api {
    let api = Api::new().await.with_acme().await;
    api.post("/api/v1/orgs")
        .bearer(&api.operator)
        .json(json!({"name": "Other"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    api.post("/api/v1/services")
        .bearer(&api.operator)
        .json(json!({"domain": "other.test", "org": "Other", "address_quota": 10}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    for (domain, local) in [
        ("example.test", "anna"),
        ("example.test", "sales"),
        ("other.test", "stranger"),
    ] {
        api.post(&format!("/api/v1/services/{domain}/addresses"))
            .bearer(&api.operator)
            .json(json!({
                "local_part": local,
                "password": fixture::PASSWORD,
                "holder": {"mode": "nobody"},
            }))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    api
}

#[tokio::test]
async fn snd_1_send_as_granted_shown_and_revoked() {
    let api = api().await;
    let grant = format!("{ANNA}/send-as/sales@example.test");
    let list = format!("{ANNA}/send-as");
    // The grant, the same grant again (nothing doubled), the address's details and its list
    // all answer the one granted address.
    for request in [
        api.put(&grant),
        api.put(&grant),
        api.get(ANNA),
        api.get(&list),
    ] {
        let answer = request
            .bearer(&api.operator)
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(answer.body["send_as"], json!(["sales@example.test"]));
    }

    api.delete(&format!("{ANNA}/send-as/sales@example.test"))
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let details = api
        .get(ANNA)
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(details.body["send_as"], json!([]));
    api.delete(&format!("{ANNA}/send-as/sales@example.test"))
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn snd_1_send_as_refusals_answer_the_error_shape() {
    let api = api().await;
    let across = api
        .put(&format!("{ANNA}/send-as/stranger@other.test"))
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    assert!(across.contains("another organization"), "{across}");
    api.put(&format!("{ANNA}/send-as/anna@example.test"))
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.put(&format!("{ANNA}/send-as/nobody@example.test"))
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    // A member without administration rights may not grant.
    api.user("member@outside.test", "member").await;
    let session = api.sign_in("member@outside.test").await;
    api.put(&format!("{ANNA}/send-as/sales@example.test"))
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    api.get(&format!("{ANNA}/send-as"))
        .send()
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
}
