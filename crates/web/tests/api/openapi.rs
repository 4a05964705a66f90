//! The OpenAPI document is generated from the handlers: it lists exactly the API's routes,
//! every route it lists is served, and it is the document served at /api/v1/openapi.json.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};

use crate::fixture::Api;

/// Every route of the Manager API (issues 8 and 9), as a client calls it.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions/{id}"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{id}"),
    ("GET", "/api/v1/orgs"),
    ("POST", "/api/v1/orgs"),
    ("GET", "/api/v1/orgs/{org}/members"),
    ("PUT", "/api/v1/orgs/{org}/members/{login}"),
    ("DELETE", "/api/v1/orgs/{org}/members/{login}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/services"),
    ("POST", "/api/v1/services"),
    ("GET", "/api/v1/services/{domain}"),
    ("PATCH", "/api/v1/services/{domain}"),
    ("GET", "/api/v1/services/{domain}/dns"),
    ("POST", "/api/v1/services/{domain}/dkim/rotate"),
    ("PUT", "/api/v1/services/{domain}/alias-domains/{alias}"),
    ("DELETE", "/api/v1/services/{domain}/alias-domains/{alias}"),
    ("GET", "/api/v1/services/{domain}/addresses"),
    ("POST", "/api/v1/services/{domain}/addresses"),
    ("POST", "/api/v1/services/{domain}/addresses/bulk"),
    ("GET", "/api/v1/jobs/{id}"),
    ("GET", "/api/v1/addresses/{address}"),
    ("PATCH", "/api/v1/addresses/{address}"),
    ("DELETE", "/api/v1/addresses/{address}"),
    ("PUT", "/api/v1/addresses/{address}/password"),
    ("POST", "/api/v1/addresses/{address}/invitations"),
    ("POST", "/api/v1/addresses/delete"),
    ("GET", "/api/v1/addresses/{address}/aliases"),
    ("POST", "/api/v1/addresses/{address}/aliases"),
    ("DELETE", "/api/v1/addresses/{address}/aliases/{alias}"),
    ("GET", "/api/v1/addresses/{address}/access"),
    ("PUT", "/api/v1/addresses/{address}/access/{login}"),
    ("DELETE", "/api/v1/addresses/{address}/access/{login}"),
    ("GET", "/api/v1/addresses/{address}/send-as"),
    ("PUT", "/api/v1/addresses/{address}/send-as/{send_as}"),
    ("DELETE", "/api/v1/addresses/{address}/send-as/{send_as}"),
    ("GET", "/api/v1/addresses/{address}/sender-rules"),
    ("POST", "/api/v1/addresses/{address}/sender-rules"),
    (
        "DELETE",
        "/api/v1/addresses/{address}/sender-rules/{pattern}",
    ),
    ("GET", "/api/v1/invitations/{secret}"),
    ("POST", "/api/v1/invitations/{secret}/accept"),
    ("POST", "/api/v1/me/totp"),
    ("DELETE", "/api/v1/me/totp"),
    ("POST", "/api/v1/me/totp/confirm"),
    ("POST", "/api/v1/me/totp/recovery-codes"),
    ("PUT", "/api/v1/me/password"),
    ("PUT", "/api/v1/me/login"),
    ("PUT", "/api/v1/me/contact"),
    ("POST", "/api/v1/credentials/test"),
    ("POST", "/api/v1/recovery/password"),
    ("POST", "/api/v1/recovery/password/reset"),
    ("POST", "/api/v1/recovery/login"),
    ("POST", "/api/v1/recovery/verification"),
    ("GET", "/api/v1/recovery/requests"),
    ("POST", "/api/v1/recovery/requests/{id}/close"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/notifications/sms"),
    ("GET", "/api/v1/openapi.json"),
];

/// Routes that answer without a credential.
const PUBLIC: &[(&str, &str)] = &[
    ("POST", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/api/v1/invitations/{secret}"),
    ("POST", "/api/v1/invitations/{secret}/accept"),
    ("POST", "/api/v1/recovery/password"),
    ("POST", "/api/v1/recovery/password/reset"),
    ("POST", "/api/v1/recovery/login"),
    ("POST", "/api/v1/recovery/verification"),
    ("GET", "/api/v1/openapi.json"),
];

fn documented(document: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn the_served_document_lists_exactly_the_api_s_routes() {
    let api = Api::new().await;
    let served = api
        .get("/api/v1/openapi.json")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(served.body["openapi"], "3.1.0");
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented(&served.body), expected);
    let generated = serde_json::to_value(postwerk_web::openapi()).unwrap();
    assert_eq!(served.body, generated);
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_protected_as_documented() {
    let api = Api::new().await;
    let document = serde_json::to_value(postwerk_web::openapi()).unwrap();
    for (method, path) in documented(&document) {
        let operation = &document["paths"][&path][method.to_lowercase()];
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path} documents its answers"
        );
        let is_public = PUBLIC.contains(&(method.as_str(), path.as_str()));
        // `security: [{}]` says no credential is needed.
        let documented_public = operation["security"] == serde_json::json!([{}]);
        assert_eq!(documented_public, is_public, "{method} {path}");

        let uri = path
            .replace("{domain}", "example.test")
            .replace("{address}", "toto@example.test")
            .replace("{alias}", "tata")
            .replace("{login}", "jane@outside.test")
            .replace("{pattern}", "%40spam.example")
            .replace("{org}", "Acme")
            .replace("{secret}", "not-a-secret")
            .replace("{id}", "1");
        let answer = api
            .call(Method::from_bytes(method.as_bytes()).unwrap(), &uri)
            .send()
            .await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_ne!(
            answer.body["error"]["code"], "method_not_allowed",
            "{method} {path}"
        );
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("there is no API endpoint"),
            "{method} {path} is not routed"
        );
        if !is_public {
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn the_document_describes_both_ways_to_authenticate_and_the_error_shape() {
    let document = serde_json::to_value(postwerk_web::openapi()).unwrap();
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "postwerk_session");
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert!(error["properties"]["error"].is_object(), "{error}");
    // No view exposes a secret that is stored hashed.
    let text = document["components"]["schemas"].to_string();
    for secret in ["password_hash", "totp_secret", "secret_hash"] {
        assert!(!text.contains(secret), "{secret}");
    }
}
