//! ID-11 over the API: logins and changes recorded, read newest first and paged by id; an
//! account reads its own entries, its organization's administrators read them too, a member
//! reads nobody else's.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Api, PASSWORD};

fn events(page: &Value) -> Vec<(String, String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["category"].as_str().unwrap_or_default().to_owned(),
                entry["event"].as_str().unwrap_or_default().to_owned(),
                entry["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn id_11_logins_are_recorded_and_each_reader_sees_what_concerns_them() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "member").await;
    api.user("joe@outside.test", "member").await;
    api.user("boss@outside.test", "admin").await;
    api.try_sign_in("jane@outside.test", "not-the-password", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let jane = api.sign_in("jane@outside.test").await;
    let joe = api.sign_in("joe@outside.test").await;
    let boss = api.sign_in("boss@outside.test").await;
    api.put("/api/v1/me/password")
        .cookie(&jane)
        .json(json!({"current_password": PASSWORD, "new_password": "jane-new-passphrase"}))
        .send()
        .await
        .expect(StatusCode::OK);
    api.state.audit.flush().await;

    let own = api
        .get("/api/v1/audit")
        .cookie(&jane)
        .send()
        .await
        .expect(StatusCode::OK);
    let seen = events(&own.body);
    let login = |event: &str| {
        (
            "login".to_owned(),
            event.to_owned(),
            "jane@outside.test".to_owned(),
        )
    };
    assert!(seen.contains(&login("wrong_password")), "{seen:?}");
    assert!(seen.contains(&login("success")), "{seen:?}");
    assert!(
        seen.iter()
            .any(|(category, event, _)| category == "change" && event == "account_password_changed"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|(_, _, subject)| subject == "jane@outside.test"),
        "a member sees only their own entries: {seen:?}"
    );
    let entry = &own.body["items"][0];
    for field in [
        "id",
        "at",
        "protocol",
        "event",
        "remote_ip",
        "subject",
        "actor",
        "detail",
    ] {
        assert!(entry.get(field).is_some(), "{field} in {entry}");
    }
    assert!(
        !own.body.to_string().contains(PASSWORD),
        "no password in the log"
    );

    // Nobody else's, asked by name.
    api.get("/api/v1/audit?user=joe@outside.test")
        .cookie(&jane)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    let joes = api
        .get("/api/v1/audit")
        .cookie(&joe)
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(
        events(&joes.body)
            .iter()
            .all(|(_, _, subject)| subject != "jane@outside.test"),
        "{}",
        joes.body
    );

    // The organization's administrator reads a member's entries.
    let by_boss = api
        .get("/api/v1/audit?user=jane@outside.test&category=login")
        .cookie(&boss)
        .send()
        .await
        .expect(StatusCode::OK);
    let seen = events(&by_boss.body);
    assert!(seen.contains(&login("success")), "{seen:?}");
    assert!(
        seen.iter().all(|(category, _, _)| category == "login"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn id_11_the_log_pages_backwards_by_id() {
    let api = Api::new().await.with_acme().await;
    api.user("jane@outside.test", "member").await;
    for _ in 0..3 {
        api.sign_in("jane@outside.test").await;
    }
    api.state.audit.flush().await;
    let first = api
        .get("/api/v1/audit?category=login&limit=2")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    let items = first.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]["id"].as_i64() > items[1]["id"].as_i64(),
        "newest first"
    );
    let before = first.body["next_before"]
        .as_i64()
        .expect("more entries behind");
    assert_eq!(Some(before), items[1]["id"].as_i64());
    let rest = api
        .get(&format!(
            "/api/v1/audit?category=login&limit=2&before={before}"
        ))
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    let rest_items = rest.body["items"].as_array().unwrap();
    assert_eq!(rest_items.len(), 1, "{}", rest.body);
    assert!(rest_items[0]["id"].as_i64() < Some(before));
    assert_eq!(rest.body["next_before"], Value::Null, "the end of the log");

    api.get("/api/v1/audit?limit=0")
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
}
