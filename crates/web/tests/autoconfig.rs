//! CLI-3: the documents mail clients configure themselves from (Thunderbird autoconfig,
//! Outlook Autodiscover, the Apple configuration profile), served in process over a real
//! SQLite store. Every document is read back by an independent parser, Python's
//! `xml.etree.ElementTree` and `plistlib`, at the exact paths the clients read.

#[path = "api/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fixture::{Api, HOSTNAME};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The answer to a request, body as bytes.
struct Raw {
    status: StatusCode,
    content_type: String,
    disposition: String,
    body: Vec<u8>,
}

/// Sends `method uri` (with `host` as the Host header, `body` as the body) to the web router.
async fn send(api: &Api, method: Method, uri: &str, host: &str, body: Vec<u8>) -> Raw {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host)
        .body(Body::from(body))
        .expect("request");
    let response = postwerk_web::router(api.state.clone())
        .oneshot(request)
        .await
        .expect("router answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (status, content_type, disposition) = (
        response.status(),
        header("content-type"),
        header("content-disposition"),
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Raw {
        status,
        content_type,
        disposition,
        body,
    }
}

async fn get(api: &Api, uri: &str, host: &str) -> Raw {
    send(api, Method::GET, uri, host, Vec::new()).await
}

/// Acme's service `example.test` with the alias domain `alias.test`.
async fn platform() -> Api {
    let api = Api::new().await.with_acme().await;
    api.put("/api/v1/services/example.test/alias-domains/alias.test")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT);
    api
}

/// Runs the Python `script` over `document` (standard input); what it prints, as JSON. A
/// document the parser rejects fails the test.
fn python(script: &str, document: &[u8]) -> Value {
    postwerk_testkit::python::json(script, &[], document)
}

/// Thunderbird's reading of `config-v1.1.xml`.
const THUNDERBIRD: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
providers = root.findall("emailProvider")
provider = providers[0]
def server(element):
    fields = {child.tag: child.text for child in element}
    fields["type"] = element.get("type")
    return fields
print(json.dumps({
    "root": root.tag, "version": root.get("version"), "providers": len(providers),
    "id": provider.get("id"),
    "domains": [d.text for d in provider.findall("domain")],
    "displayName": provider.findtext("displayName"),
    "incoming": [server(e) for e in provider.findall("incomingServer")],
    "outgoing": [server(e) for e in provider.findall("outgoingServer")],
}))
"#;

/// Outlook's reading of an Autodiscover response: the account's protocols, or the error.
const OUTLOOK: &str = r#"
import json, sys, xml.etree.ElementTree as ET
ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
root = ET.fromstring(sys.stdin.buffer.read())
out = {"root": root.tag}
account = root.find("o:Response/o:Account", ns)
if account is not None:
    out["accountType"] = account.findtext("o:AccountType", namespaces=ns)
    out["action"] = account.findtext("o:Action", namespaces=ns)
    out["protocols"] = [{child.tag.split("}")[1]: child.text for child in protocol}
                        for protocol in account.findall("o:Protocol", ns)]
error = root.find("a:Response/a:Error", ns)
if error is not None:
    out["error"] = {"code": error.findtext("a:ErrorCode", namespaces=ns),
                    "message": error.findtext("a:Message", namespaces=ns),
                    "time": error.get("Time"), "id": error.get("Id")}
print(json.dumps(out))
"#;

/// A property list as `plistlib` loads it.
const PLIST: &str = r#"
import json, plistlib, sys
print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))
"#;

/// The Autodiscover request Outlook posts for `email`, asking for `schema`.
fn autodiscover_request(email: &str, schema: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\n\
         <Request><EMailAddress>{email}</EMailAddress>\n\
         <AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request>\n\
         </Autodiscover>"
    )
    .into_bytes()
}

const OUTLOOK_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

fn tls_server(kind: &str, port: &str, username: &str) -> Value {
    json!({"type": kind, "hostname": HOSTNAME, "port": port, "socketType": "SSL",
           "authentication": "password-cleartext", "username": username})
}

#[tokio::test]
async fn cli_3_thunderbird_gets_imap_pop3_and_smtp_over_tls_for_a_hosted_address() {
    let api = platform().await;
    let answer = get(
        &api,
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40example.test",
        "example.test",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.content_type.contains("xml"),
        "{}",
        answer.content_type
    );
    let config = python(THUNDERBIRD, &answer.body);
    assert_eq!(
        config,
        json!({
            "root": "clientConfig", "version": "1.1", "providers": 1,
            "id": "example.test", "domains": ["example.test"],
            "displayName": "Mail for example.test",
            "incoming": [
                tls_server("imap", "993", "%EMAILADDRESS%"),
                tls_server("pop3", "995", "%EMAILADDRESS%"),
            ],
            "outgoing": [tls_server("smtp", "465", "%EMAILADDRESS%")],
        })
    );
}

#[tokio::test]
async fn cli_3_thunderbird_autoconfig_host_names_the_domain_without_an_address() {
    let api = platform().await;
    let answer = get(&api, "/mail/config-v1.1.xml", "autoconfig.example.test").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(python(THUNDERBIRD, &answer.body)["id"], "example.test");

    // An alias domain's addresses log in at the primary domain (SVC-3, ID-2).
    let answer = get(&api, "/mail/config-v1.1.xml", "autoconfig.alias.test:443").await;
    assert_eq!(answer.status, StatusCode::OK);
    let config = python(THUNDERBIRD, &answer.body);
    assert_eq!(config["domains"], json!(["alias.test"]));
    for server in [&config["incoming"][0], &config["outgoing"][0]] {
        assert_eq!(server["username"], "%EMAILLOCALPART%@example.test");
    }
}

#[tokio::test]
async fn cli_3_thunderbird_gets_nothing_for_a_domain_not_hosted_here() {
    let api = platform().await;
    for (uri, host) in [
        (
            "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=eve%40stranger.test",
            "example.test",
        ),
        ("/mail/config-v1.1.xml", "autoconfig.stranger.test"),
        (
            "/mail/config-v1.1.xml?emailaddress=eve%40stranger.test",
            "autoconfig.example.test",
        ),
    ] {
        let answer = get(&api, uri, host).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri} via {host}");
        let text = String::from_utf8_lossy(&answer.body);
        assert!(
            text.contains("stranger.test is not a mail domain"),
            "{text}"
        );
    }
    let answer = get(
        &api,
        "/mail/config-v1.1.xml?emailaddress=not-an-address",
        "autoconfig.example.test",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&answer.body).contains("not an email address"));
}

#[tokio::test]
async fn cli_3_outlook_autodiscover_answers_imap_and_smtp_settings() {
    let api = platform().await;
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
    ] {
        let request = autodiscover_request("bob@alias.test", OUTLOOK_SCHEMA);
        let answer = send(&api, Method::POST, path, "autodiscover.alias.test", request).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(
            answer.content_type.contains("xml"),
            "{}",
            answer.content_type
        );
        let protocol = |kind: &str, port: &str| {
            json!({"Type": kind, "Server": HOSTNAME, "Port": port, "DomainRequired": "off",
                   "LoginName": "bob@example.test", "SPA": "off", "SSL": "on",
                   "AuthRequired": "on"})
        };
        assert_eq!(
            python(OUTLOOK, &answer.body),
            json!({
                "root": "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}Autodiscover",
                "accountType": "email", "action": "settings",
                "protocols": [protocol("IMAP", "993"), protocol("SMTP", "465")],
            })
        );
    }
}

#[tokio::test]
async fn cli_3_outlook_errors_are_autodiscover_error_responses() {
    let api = platform().await;
    let path = "/autodiscover/autodiscover.xml";
    let cases = [
        (
            autodiscover_request("eve@stranger.test", OUTLOOK_SCHEMA),
            StatusCode::NOT_FOUND,
            "500",
        ),
        (
            b"<Autodiscover><Request><EMailAddress>bob@example.test</Request>".to_vec(),
            StatusCode::BAD_REQUEST,
            "600",
        ),
        (
            autodiscover_request("not an address", OUTLOOK_SCHEMA),
            StatusCode::BAD_REQUEST,
            "600",
        ),
        (
            autodiscover_request(
                "bob@example.test",
                "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
            ),
            StatusCode::NOT_ACCEPTABLE,
            "601",
        ),
    ];
    for (body, status, code) in cases {
        let answer = send(&api, Method::POST, path, "example.test", body).await;
        assert_eq!(answer.status, status);
        let parsed = python(OUTLOOK, &answer.body);
        assert_eq!(parsed["error"]["code"], code, "{parsed}");
        assert!(parsed.get("protocols").is_none(), "no settings: {parsed}");
        let message = parsed["error"]["message"].as_str().unwrap_or_default();
        assert!(message.len() > 20, "a sentence: {parsed}");
        assert!(parsed["error"]["time"].is_string() && parsed["error"]["id"].is_string());
    }

    // A body larger than any real request is not read.
    let mut huge = autodiscover_request("bob@example.test", OUTLOOK_SCHEMA);
    huge.extend(std::iter::repeat_n(b' ', 70 * 1024));
    let answer = send(&api, Method::POST, path, "example.test", huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn cli_3_apple_profile_is_a_property_list_with_the_mail_payload() {
    let api = platform().await;
    let uri = "/mobileconfig?address=o%26neil%40alias.test";
    let answer = get(&api, uri, HOSTNAME).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/x-apple-aspen-config");
    assert!(
        answer.disposition.contains("alias.test.mobileconfig"),
        "{}",
        answer.disposition
    );
    let profile = python(PLIST, &answer.body);
    assert_eq!(profile["PayloadType"], "Configuration");
    assert_eq!(profile["PayloadVersion"], 1);
    assert!(profile["PayloadDisplayName"].is_string());
    let payloads = profile["PayloadContent"].as_array().expect("payloads");
    assert_eq!(payloads.len(), 1);
    let mail = &payloads[0];
    // The `&` of the address travelled escaped and came back whole.
    for (key, value) in [
        ("PayloadType", json!("com.apple.mail.managed")),
        ("PayloadVersion", json!(1)),
        ("EmailAccountType", json!("EmailTypeIMAP")),
        ("EmailAddress", json!("o&neil@alias.test")),
        ("IncomingMailServerHostName", json!(HOSTNAME)),
        ("IncomingMailServerPortNumber", json!(993)),
        ("IncomingMailServerUseSSL", json!(true)),
        ("IncomingMailServerUsername", json!("o&neil@example.test")),
        ("OutgoingMailServerHostName", json!(HOSTNAME)),
        ("OutgoingMailServerPortNumber", json!(465)),
        ("OutgoingMailServerUseSSL", json!(true)),
        (
            "OutgoingMailServerAuthentication",
            json!("EmailAuthPassword"),
        ),
        ("OutgoingMailServerUsername", json!("o&neil@example.test")),
    ] {
        assert_eq!(mail[key], value, "{key}");
    }
    assert!(mail["PayloadDisplayName"].is_string());

    // The same address gets the same identifiers (installing again replaces the profile);
    // another address gets others.
    let again = python(PLIST, &get(&api, uri, HOSTNAME).await.body);
    let other = python(
        PLIST,
        &get(&api, "/mobileconfig?address=bob%40example.test", HOSTNAME)
            .await
            .body,
    );
    for key in ["PayloadUUID", "PayloadIdentifier"] {
        assert_eq!(profile[key], again[key], "{key}");
        assert_eq!(mail[key], again["PayloadContent"][0][key], "{key}");
        assert_ne!(profile[key], other[key], "{key}");
        assert_ne!(profile[key], mail[key], "{key}");
    }
}

#[tokio::test]
async fn cli_3_apple_profile_only_for_hosted_addresses() {
    let api = platform().await;
    let answer = get(&api, "/mobileconfig?address=eve%40stranger.test", HOSTNAME).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&answer.body).contains("stranger.test"));
    for uri in ["/mobileconfig", "/mobileconfig?address=nobody"] {
        let answer = get(&api, uri, HOSTNAME).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(String::from_utf8_lossy(&answer.body).contains("address=name@example.com"));
    }
}
