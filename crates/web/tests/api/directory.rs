//! Organizations, accounts, services, addresses, aliases, access, sender rules, invitations
//! and deletion, as an administrator does them through the API.

use axum::http::StatusCode;
use serde_json::json;

use crate::fixture::{Api, HOSTNAME, PASSWORD};

#[tokio::test]
async fn the_operator_builds_an_organization_with_a_service_addresses_and_aliases() {
    let api = Api::new().await;
    let op = api.operator.clone();
    let org = api
        .post("/api/v1/orgs")
        .bearer(&op)
        .json(json!({"name": "Acme"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(org.body["name"], "Acme");

    let user = api
        .post("/api/v1/users")
        .bearer(&op)
        .json(json!({"login": "jane@outside.test", "display_name": "Jane", "org": "Acme", "role": "admin"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(user.body["user"]["login"], "jane@outside.test");
    assert!(user.body["generated_password"].as_str().unwrap().len() >= 12);
    assert!(user.body["user"].get("password_hash").is_none());

    let service = api
        .post("/api/v1/services")
        .bearer(&op)
        .json(json!({"domain": "Example.TEST", "org": "Acme", "address_quota": 5}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(service.body["service"]["domain"], "example.test");
    assert_eq!(service.body["service"]["org"], "Acme");
    let records = service.body["dns_records"].as_array().unwrap();
    let mx = records.iter().find(|r| r["type"] == "MX").unwrap();
    assert_eq!(mx["value"], format!("10 {HOSTNAME}."));
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "TXT" && r["name"].as_str().unwrap().contains("_domainkey")),
        "the DKIM record: {records:?}"
    );

    let created = api
        .post("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .json(json!({
            "local_part": "toto",
            "display_name": "Toto",
            "holder": {"mode": "users", "users": [{"login": "jane@outside.test", "permissions": ["read_send", "manage_aliases"]}]},
            "aliases": ["tata", "titi@example.test"],
        }))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.body["address"]["address"], "toto@example.test");
    assert_eq!(created.body["address"]["kind"], "mailbox");
    assert!(created.body["generated_password"].is_string(), "ADDR-1 b");

    let alias = api
        .post("/api/v1/addresses/toto@example.test/aliases")
        .bearer(&op)
        .json(json!({"alias": "tutu"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(alias.body["alias"], "tutu@example.test");

    let details = api
        .get("/api/v1/addresses/toto@example.test")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    let aliases: Vec<&str> = details.body["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["alias"].as_str())
        .collect();
    assert_eq!(aliases.len(), 3, "{aliases:?}");
    assert!(aliases.contains(&"tutu@example.test"));
    assert_eq!(
        details.body["access"],
        json!([{"login": "jane@outside.test", "permissions": ["read_send", "manage_aliases"], "signature": null}])
    );
    assert!(details.body.get("password_hash").is_none());

    let listed = api
        .get("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["address"], "toto@example.test");
    assert_eq!(
        listed.body["items"][0]["aliases"].as_array().unwrap().len(),
        3
    );

    let services = api
        .get("/api/v1/services")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(services.body["items"][0]["addresses_used"], 1);

    api.delete("/api/v1/addresses/toto@example.test/aliases/tutu")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    api.delete("/api/v1/addresses/toto@example.test/aliases/tutu")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_administrator_creates_for_themself_and_manages_the_service() {
    let api = Api::new().await.with_acme().await;
    api.user("boss@outside.test", "owner").await;
    let session = api.sign_in("boss@outside.test").await;
    let created = api
        .post("/api/v1/services/example.test/addresses")
        .cookie(&session)
        .json(json!({"local_part": "boss", "password": PASSWORD, "holder": {"mode": "myself"}}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert!(created.body.get("generated_password").is_none(), "ADDR-1 a");

    let changed = api
        .patch("/api/v1/services/example.test")
        .cookie(&session)
        .json(json!({
            "address_quota": 20,
            "features": {"aliases_allowed": false},
            "default_permissions": ["read_send"],
            "signature_templates": [{"name": "formal", "body": "Regards"}],
        }))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(changed.body["address_quota"], 20);
    assert_eq!(changed.body["features"]["aliases_allowed"], false);
    assert_eq!(changed.body["default_permissions"], json!(["read_send"]));
    assert_eq!(changed.body["signature_templates"][0]["name"], "formal");
    api.post("/api/v1/addresses/boss@example.test/aliases")
        .cookie(&session)
        .json(json!({"alias": "chief"}))
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "aliases_disabled");
    api.patch("/api/v1/services/example.test")
        .cookie(&session)
        .json(json!({"default_permissions": ["read_everything"]}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");

    // Issue 7: the service's own filter settings; the plan switches are left alone.
    let filtered = api
        .patch("/api/v1/services/example.test")
        .cookie(&session)
        .json(json!({"filters": {"greylist": false, "junk_threshold": 4.0}}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        filtered.body["filters"],
        json!({"greylist": false, "junk_threshold": 4.0})
    );
    assert_eq!(filtered.body["features"]["aliases_allowed"], false);
    let kept = api
        .patch("/api/v1/services/example.test")
        .cookie(&session)
        .json(json!({"features": {"aliases_allowed": true}}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        kept.body["filters"]["greylist"], false,
        "not reset by features"
    );
    api.patch("/api/v1/services/example.test")
        .cookie(&session)
        .json(json!({"filters": {"junk_threshold": 9, "reject_threshold": 3}}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.patch("/api/v1/services/example.test")
        .cookie(&session)
        .json(json!({"features": {"aliases_allowed": false}, "filters": {}}))
        .send()
        .await
        .expect(StatusCode::OK);

    api.put("/api/v1/services/example.test/alias-domains/example.org")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let service = api
        .get("/api/v1/services/example.test")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(service.body["alias_domains"], json!(["example.org"]));
    api.delete("/api/v1/services/example.test/alias-domains/example.org")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);

    let rotation = api
        .post("/api/v1/services/example.test/dkim/rotate")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(rotation.body["retired"]["selector"].is_string());
    assert_ne!(
        rotation.body["key"]["selector"],
        rotation.body["retired"]["selector"]
    );

    let dns = api
        .get("/api/v1/services/example.test/dns")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    let checks = dns.body.as_array().unwrap();
    assert!(checks.iter().any(|c| c["expected"]["type"] == "MX"));
    assert!(
        checks.iter().all(|c| c["in_place"] == false),
        "nothing is published"
    );
}

#[tokio::test]
async fn svc_2_the_address_beyond_the_quota_is_refused_with_409() {
    let api = Api::new().await.with_acme().await;
    api.patch("/api/v1/services/example.test")
        .bearer(&api.operator)
        .json(json!({"address_quota": 1}))
        .send()
        .await
        .expect(StatusCode::OK);
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&api.operator)
        .json(json!({"local_part": "one"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let message = api
        .post("/api/v1/services/example.test/addresses")
        .bearer(&api.operator)
        .json(json!({"local_part": "two"}))
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "quota_reached");
    assert!(message.contains("quota"), "{message}");
    api.patch("/api/v1/services/example.test")
        .bearer(&api.operator)
        .json(json!({"address_quota": 0}))
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn addr_6_the_51st_alias_and_an_alias_taken_by_an_address_are_refused() {
    let api = Api::new().await.with_acme().await;
    let op = api.operator.clone();
    for local in ["toto", "other"] {
        api.post("/api/v1/services/example.test/addresses")
            .bearer(&op)
            .json(json!({"local_part": local}))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    api.post("/api/v1/addresses/toto@example.test/aliases")
        .bearer(&op)
        .json(json!({"alias": "other"}))
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
    for n in 0..50 {
        api.post("/api/v1/addresses/toto@example.test/aliases")
            .bearer(&op)
            .json(json!({"alias": format!("alias{n}")}))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    let message = api
        .post("/api/v1/addresses/toto@example.test/aliases")
        .bearer(&op)
        .json(json!({"alias": "alias50"}))
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "alias_limit");
    assert!(message.contains("50"), "{message}");
    api.post("/api/v1/addresses/toto@example.test/aliases")
        .bearer(&op)
        .json(json!({"alias": "x@elsewhere.test"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    let page = api
        .get("/api/v1/addresses/toto@example.test/aliases?per_page=20&page=3")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(page.body["total"], 50);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn lists_are_paginated() {
    let api = Api::new().await;
    for n in 0..7 {
        api.post("/api/v1/orgs")
            .bearer(&api.operator)
            .json(json!({"name": format!("Org {n}")}))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    let first = api
        .get("/api/v1/orgs")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (
            &first.body["page"],
            &first.body["per_page"],
            &first.body["total"]
        ),
        (&json!(1), &json!(50), &json!(7))
    );
    let last = api
        .get("/api/v1/orgs?page=3&per_page=3")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["total"], 7);
    api.get("/api/v1/orgs?per_page=501")
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.get("/api/v1/orgs?page=zero")
        .bearer(&api.operator)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
}

#[tokio::test]
async fn unknown_things_and_malformed_input_answer_in_the_error_shape() {
    let api = Api::new().await.with_acme().await;
    let op = api.operator.clone();
    let message = api
        .get("/api/v1/services/nowhere.test")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(message.contains("nowhere.test"), "{message}");
    api.post("/api/v1/orgs")
        .bearer(&op)
        .header("content-type", "application/json")
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.post("/api/v1/orgs")
        .bearer(&op)
        .json(json!({"title": "Acme"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.post("/api/v1/orgs")
        .bearer(&op)
        .csv("name\nAcme\n")
        .send()
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let huge = "x".repeat(postwerk_web::JSON_BODY_LIMIT + 1);
    api.post("/api/v1/orgs")
        .bearer(&op)
        .json(json!({"name": huge}))
        .send()
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    api.get("/api/v1/no-such-thing")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
    api.post("/api/v1/me")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .json(json!({"address": "toto@example.org"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
}

#[tokio::test]
async fn addr_4_5_10_an_address_is_changed_field_by_field() {
    let api = Api::new().await.with_acme().await;
    let op = api.operator.clone();
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .json(json!({"local_part": "toto", "password": PASSWORD}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let changed = api
        .patch("/api/v1/addresses/toto@example.test")
        .bearer(&op)
        .json(json!({
            "enabled": false,
            "storage_limit": 1000000,
            "redirect": {"targets": ["away@elsewhere.test"], "keep_copy": true},
        }))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["storage_limit"], 1000000);
    assert_eq!(
        changed.body["redirect"],
        json!({"targets": ["away@elsewhere.test"], "keep_copy": true})
    );
    let lifted = api
        .patch("/api/v1/addresses/toto@example.test")
        .bearer(&op)
        .json(json!({"storage_limit": null, "redirect": null}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(lifted.body["storage_limit"].is_null());
    assert!(lifted.body["redirect"].is_null());
    assert_eq!(
        lifted.body["enabled"], false,
        "absent fields stay as they are"
    );

    let generated = api
        .put("/api/v1/addresses/toto@example.test/password")
        .bearer(&op)
        .json(json!({}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(generated.body["generated_password"].is_string());
    let chosen = api
        .put("/api/v1/addresses/toto@example.test/password")
        .bearer(&op)
        .json(json!({"password": "another-good-password"}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert!(chosen.body.get("generated_password").is_none());
    api.put("/api/v1/addresses/toto@example.test/password")
        .bearer(&op)
        .json(json!({"password": "short"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
}

#[tokio::test]
async fn addr_9_access_and_rcv_4_sender_rules_are_managed_per_mailbox() {
    let api = Api::new().await.with_acme().await;
    let op = api.operator.clone();
    api.user("jane@outside.test", "member").await;
    api.post("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .json(json!({"local_part": "toto"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let granted = api
        .put("/api/v1/addresses/toto@example.test/access/jane@outside.test")
        .bearer(&op)
        .json(json!({"permissions": ["read_send", "manage_filters"]}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        granted.body["permissions"],
        json!(["read_send", "manage_filters"])
    );
    let access = api
        .get("/api/v1/addresses/toto@example.test/access")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(access.body["items"][0]["login"], "jane@outside.test");

    let rule = api
        .post("/api/v1/addresses/toto@example.test/sender-rules")
        .bearer(&op)
        .json(json!({"kind": "block", "pattern": "spam.example"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        rule.body,
        json!({"kind": "block", "pattern": "@spam.example"})
    );
    api.post("/api/v1/addresses/toto@example.test/sender-rules")
        .bearer(&op)
        .json(json!({"kind": "allow", "pattern": "friend@ok.example"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    let rules = api
        .get("/api/v1/addresses/toto@example.test/sender-rules")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(rules.body["items"][0]["kind"], "allow", "allow rules first");
    api.delete("/api/v1/addresses/toto@example.test/sender-rules/%40spam.example")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    api.post("/api/v1/addresses/toto@example.test/sender-rules")
        .bearer(&op)
        .json(json!({"kind": "block", "pattern": "not a pattern"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");

    // Jane holds manage_filters on the mailbox: she manages its lists herself.
    let session = api.sign_in("jane@outside.test").await;
    api.post("/api/v1/addresses/toto@example.test/sender-rules")
        .cookie(&session)
        .json(json!({"kind": "block", "pattern": "@junk.example"}))
        .send()
        .await
        .expect(StatusCode::CREATED);

    api.delete("/api/v1/addresses/toto@example.test/access/jane@outside.test")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let none = api
        .get("/api/v1/addresses/toto@example.test/access")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(none.body["total"], 0);
}

#[tokio::test]
async fn addr_8_deletion_needs_the_addresses_repeated() {
    let api = Api::new().await.with_acme().await;
    let op = api.operator.clone();
    for local in ["one", "two", "three"] {
        api.post("/api/v1/services/example.test/addresses")
            .bearer(&op)
            .json(json!({"local_part": local}))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    let message = api
        .post("/api/v1/addresses/delete")
        .bearer(&op)
        .json(json!({"addresses": ["one@example.test", "two@example.test"], "confirm": ["one@example.test"]}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    assert!(message.contains("confirm"), "{message}");
    let deleted = api
        .post("/api/v1/addresses/delete")
        .bearer(&op)
        .json(json!({"addresses": ["one@example.test", "two@example.test"], "confirm": ["one@example.test", "two@example.test"]}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        deleted.body["deleted"],
        json!(["one@example.test", "two@example.test"])
    );

    api.delete("/api/v1/addresses/three@example.test")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.delete("/api/v1/addresses/three@example.test?confirm=one@example.test")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.delete("/api/v1/addresses/three@example.test?confirm=three@example.test")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    let left = api
        .get("/api/v1/services/example.test/addresses")
        .bearer(&op)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(left.body["total"], 0);
    api.get("/api/v1/addresses/three@example.test")
        .bearer(&op)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
}

/// The secret of the acceptance link in the last notification sent.
fn last_invitation_secret(api: &Api) -> String {
    let sent = api.mailer.sent.lock().unwrap();
    let text = &sent.last().expect("an invitation was sent").text;
    let start = text.find("/invite/").expect("an acceptance link") + "/invite/".len();
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn addr_1_b_prime_an_invitation_is_shown_and_accepted_with_its_own_login() {
    let api = Api::new().await.with_acme().await;
    let created = api
        .post("/api/v1/services/example.test/addresses")
        .bearer(&api.operator)
        .json(json!({
            "local_part": "newcomer",
            "holder": {"mode": "invitation", "invitation": {"send_to": "person@home.test", "login_mode": "own_choice"}},
        }))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created.body["invitation"]["sent_to"], "person@home.test");
    assert_eq!(created.body["invitation"]["login_mode"], "own_choice");
    let secret = last_invitation_secret(&api);

    let offer = api
        .get(&format!("/api/v1/invitations/{secret}"))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(offer.body["address"], "newcomer@example.test");
    assert_eq!(offer.body["organization"], "Acme");
    api.get("/api/v1/invitations/not-a-secret")
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    let accepted = api
        .post(&format!("/api/v1/invitations/{secret}/accept"))
        .json(
            json!({"login": "person@home.test", "password": PASSWORD, "display_name": "A Person"}),
        )
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(accepted.body["user"]["login"], "person@home.test");
    let session = api.sign_in("person@home.test").await;
    let me = api
        .get("/api/v1/me")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.body["memberships"][0]["org"], "Acme");
    api.post(&format!("/api/v1/invitations/{secret}/accept"))
        .json(json!({"login": "again@home.test", "password": PASSWORD, "display_name": "Again"}))
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");

    let details = api
        .get("/api/v1/addresses/newcomer@example.test")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(details.body["access"][0]["login"], "person@home.test");
    assert!(details.body["invitations"][0]["accepted_at"].is_i64());

    let again = api
        .post("/api/v1/addresses/newcomer@example.test/invitations")
        .bearer(&api.operator)
        .json(json!({"login_mode": "exact_address"}))
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(again.body["sent_to"], "newcomer@example.test");
}

#[tokio::test]
async fn org_1_members_are_listed_and_their_roles_changed() {
    let api = Api::new().await.with_acme().await;
    api.user("boss@outside.test", "owner").await;
    api.user("jane@outside.test", "member").await;
    let session = api.sign_in("boss@outside.test").await;
    let members = api
        .get("/api/v1/orgs/Acme/members")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(members.body["total"], 2);
    let promoted = api
        .put("/api/v1/orgs/Acme/members/jane@outside.test")
        .cookie(&session)
        .json(json!({"role": "admin"}))
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(promoted.body["role"], "admin");
    api.put("/api/v1/orgs/Acme/members/jane@outside.test")
        .cookie(&session)
        .json(json!({"role": "emperor"}))
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
    api.delete("/api/v1/orgs/Acme/members/jane@outside.test")
        .cookie(&session)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    api.delete("/api/v1/orgs/Acme/members/boss@outside.test")
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::CONFLICT, "conflict");
    let users = api
        .get("/api/v1/users")
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(users.contains("operator"), "{users}");
}
