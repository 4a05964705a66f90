//! CLI-3 end to end: the autoconfiguration documents fetched with curl from the real server,
//! read by independent parsers (Python's `xml.etree.ElementTree` at the paths Thunderbird and
//! Outlook read, `plistlib` for the Apple profile), and the username they give used to log in
//! over IMAPS and SMTPS with the mailbox password.

use std::path::Path;

use postwerk_testkit::TestServer;
use postwerk_testkit::api::{Answer, Api};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

/// The host name the test server announces (testkit's configuration).
const HOSTNAME: &str = "mail.example.test";

/// A server with service abc.xyz (alias domain alias.xyz) and the mailbox bob@abc.xyz;
/// answers it with bob's generated password.
fn platform() -> (TestServer, String) {
    let server = TestServer::start(Path::new(BIN), &["http", "imaps", "submissions"])
        .expect("server starts");
    let operator = server.api().with_token(&server.operator_token());
    let post = |path: &str, body: Value| operator.json("POST", path, &body).expect("curl");
    post("/api/v1/orgs", json!({"name": "Acme"})).expect(201);
    post(
        "/api/v1/services",
        json!({"domain": "abc.xyz", "org": "Acme", "address_quota": 5}),
    )
    .expect(201);
    operator
        .send(
            "PUT",
            "/api/v1/services/abc.xyz/alias-domains/alias.xyz",
            None,
            &[],
        )
        .expect("curl")
        .expect(204);
    let created = post(
        "/api/v1/services/abc.xyz/addresses",
        json!({"local_part": "bob", "kind": "mailbox", "holder": {"mode": "nobody"}}),
    )
    .expect(201);
    let password = created["generated_password"]
        .as_str()
        .expect("a generated password")
        .to_owned();
    (server, password)
}

/// Runs the Python `script` over `document` (standard input) with `args`; what it prints, as
/// JSON. A document the parser rejects fails the test.
fn python(script: &str, document: &[u8], args: &[&str]) -> Value {
    postwerk_testkit::python::json(script, args, document)
}

/// Thunderbird's reading of `config-v1.1.xml`: `clientConfig/emailProvider/…`.
const THUNDERBIRD: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
provider = root.find("emailProvider")
def server(path):
    element = root.find("emailProvider/" + path)
    return {"hostname": element.findtext("hostname"), "port": element.findtext("port"),
            "socketType": element.findtext("socketType"),
            "authentication": element.findtext("authentication"),
            "username": element.findtext("username")}
print(json.dumps({
    "id": provider.get("id"), "domain": provider.findtext("domain"),
    "imap": server("incomingServer[@type='imap']"),
    "pop3": server("incomingServer[@type='pop3']"),
    "smtp": server("outgoingServer[@type='smtp']"),
    "first_incoming": provider.find("incomingServer").get("type"),
}))
"#;

/// Outlook's reading of an Autodiscover response, in its two namespaces.
const OUTLOOK: &str = r#"
import json, sys, xml.etree.ElementTree as ET
ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "{%s}Autodiscover" % ns["a"], root.tag
out = {}
account = root.find("o:Response/o:Account", ns)
if account is not None:
    out["account"] = [account.findtext("o:AccountType", namespaces=ns),
                      account.findtext("o:Action", namespaces=ns)]
    for protocol in account.findall("o:Protocol", ns):
        out[protocol.findtext("o:Type", namespaces=ns)] = {
            key: protocol.findtext("o:" + key, namespaces=ns)
            for key in ["Server", "Port", "SSL", "LoginName", "SPA", "AuthRequired"]}
error = root.find("a:Response/a:Error", ns)
if error is not None:
    out["error"] = error.findtext("a:ErrorCode", namespaces=ns)
print(json.dumps(out))
"#;

/// The mail payload of a configuration profile, as `plistlib` loads it.
const PLIST: &str = r#"
import json, plistlib, sys
profile = plistlib.loads(sys.stdin.buffer.read())
assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
[mail] = profile["PayloadContent"]
print(json.dumps(mail))
"#;

/// Logs in with Python's imaplib over implicit TLS and submits nothing over SMTPS but the
/// login; prints which of the two logins were accepted.
const LOGINS: &str = r#"
import imaplib, json, smtplib, ssl, sys
host, imaps, smtps, user, password = sys.argv[1:6]
context = ssl._create_unverified_context()
result = {}
try:
    imap = imaplib.IMAP4_SSL(host, int(imaps), ssl_context=context)
    imap.login(user, password)
    imap.logout()
    result["imap"] = True
except imaplib.IMAP4.error:
    result["imap"] = False
try:
    smtp = smtplib.SMTP_SSL(host, int(smtps), context=context)
    smtp.login(user, password)
    smtp.quit()
    result["smtp"] = True
except smtplib.SMTPAuthenticationError:
    result["smtp"] = False
print(json.dumps(result))
"#;

/// Whether `user` logs in with `password` over IMAPS and SMTPS.
fn logins(server: &TestServer, user: &str, password: &str) -> Value {
    let (imaps, smtps) = (server.addr("imaps"), server.addr("submissions"));
    python(
        LOGINS,
        b"",
        &[
            &imaps.ip().to_string(),
            &imaps.port().to_string(),
            &smtps.port().to_string(),
            user,
            password,
        ],
    )
}

fn get(api: &Api, path: &str) -> Answer {
    api.get(path).expect("curl runs")
}

fn autodiscover(server: &TestServer, path: &str, email: &str) -> Answer {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\
         <Request><EMailAddress>{email}</EMailAddress>\
         <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\
         </Request></Autodiscover>"
    );
    server
        .api()
        .send("POST", path, Some("text/xml"), body.as_bytes())
        .expect("curl runs")
}

#[test]
fn cli_3_thunderbird_config_from_both_urls_and_its_username_logs_in() {
    let (server, password) = platform();
    let tls = |port: &str, username: &str| {
        json!({"hostname": HOSTNAME, "port": port, "socketType": "SSL",
               "authentication": "password-cleartext", "username": username})
    };
    // The `.well-known` form on the domain's own web server, with the address.
    let well_known = server.api().with_header("Host: abc.xyz");
    let answer = get(
        &well_known,
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob%40abc.xyz",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer
            .header("content-type")
            .unwrap_or_default()
            .contains("xml")
    );
    let config = python(THUNDERBIRD, &answer.raw, &[]);
    assert_eq!(
        config,
        json!({"id": "abc.xyz", "domain": "abc.xyz", "first_incoming": "imap",
               "imap": tls("993", "%EMAILADDRESS%"), "pop3": tls("995", "%EMAILADDRESS%"),
               "smtp": tls("465", "%EMAILADDRESS%")})
    );
    // Thunderbird replaces %EMAILADDRESS% with the typed address; that login works.
    assert_eq!(
        logins(&server, "bob@abc.xyz", &password),
        json!({"imap": true, "smtp": true})
    );

    // The autoconfig.<domain> form, for the alias domain: the local part at the primary domain.
    let autoconfig = server.api().with_header("Host: autoconfig.alias.xyz");
    let answer = get(&autoconfig, "/mail/config-v1.1.xml");
    assert_eq!(answer.status, 200, "{answer:?}");
    let config = python(THUNDERBIRD, &answer.raw, &[]);
    assert_eq!(config["id"], "alias.xyz");
    assert_eq!(config["imap"]["username"], "%EMAILLOCALPART%@abc.xyz");
    assert_eq!(config["smtp"]["username"], "%EMAILLOCALPART%@abc.xyz");

    // A stranger's domain, by host or by address: nothing.
    let stranger = server.api().with_header("Host: autoconfig.stranger.test");
    assert_eq!(get(&stranger, "/mail/config-v1.1.xml").status, 404);
    let answer = get(
        &autoconfig,
        "/mail/config-v1.1.xml?emailaddress=eve%40stranger.test",
    );
    assert_eq!(answer.status, 404, "{answer:?}");
}

#[test]
fn cli_3_outlook_autodiscover_settings_log_in_and_strangers_get_an_error() {
    let (server, password) = platform();
    let answer = autodiscover(&server, "/autodiscover/autodiscover.xml", "bob@alias.xyz");
    assert_eq!(answer.status, 200, "{answer:?}");
    let settings = python(OUTLOOK, &answer.raw, &[]);
    let protocol = |port: &str| {
        json!({"Server": HOSTNAME, "Port": port, "SSL": "on", "LoginName": "bob@abc.xyz",
               "SPA": "off", "AuthRequired": "on"})
    };
    assert_eq!(
        settings,
        json!({"account": ["email", "settings"], "IMAP": protocol("993"),
               "SMTP": protocol("465")})
    );
    let login = settings["IMAP"]["LoginName"].as_str().unwrap_or_default();
    assert_eq!(
        logins(&server, login, &password),
        json!({"imap": true, "smtp": true})
    );

    let answer = autodiscover(
        &server,
        "/Autodiscover/Autodiscover.xml",
        "eve@stranger.test",
    );
    assert_eq!(answer.status, 404, "{answer:?}");
    assert_eq!(python(OUTLOOK, &answer.raw, &[]), json!({"error": "500"}));

    let malformed = server
        .api()
        .send(
            "POST",
            "/autodiscover/autodiscover.xml",
            Some("text/xml"),
            b"<Autodiscover><Request>",
        )
        .expect("curl runs");
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert_eq!(
        python(OUTLOOK, &malformed.raw, &[]),
        json!({"error": "600"})
    );
}

#[test]
fn cli_3_apple_profile_is_a_property_list_whose_account_logs_in() {
    let (server, password) = platform();
    let answer = get(&server.api(), "/mobileconfig?address=bob%40alias.xyz");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/x-apple-aspen-config")
    );
    let mail = python(PLIST, &answer.raw, &[]);
    for (key, value) in [
        ("PayloadType", json!("com.apple.mail.managed")),
        ("EmailAccountType", json!("EmailTypeIMAP")),
        ("EmailAddress", json!("bob@alias.xyz")),
        ("IncomingMailServerHostName", json!(HOSTNAME)),
        ("IncomingMailServerPortNumber", json!(993)),
        ("IncomingMailServerUseSSL", json!(true)),
        ("IncomingMailServerUsername", json!("bob@abc.xyz")),
        ("OutgoingMailServerHostName", json!(HOSTNAME)),
        ("OutgoingMailServerPortNumber", json!(465)),
        ("OutgoingMailServerUseSSL", json!(true)),
        (
            "OutgoingMailServerAuthentication",
            json!("EmailAuthPassword"),
        ),
        ("OutgoingMailServerUsername", json!("bob@abc.xyz")),
    ] {
        assert_eq!(mail[key], value, "{key}: {mail}");
    }
    let user = mail["IncomingMailServerUsername"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        logins(&server, user, &password),
        json!({"imap": true, "smtp": true})
    );

    let answer = get(&server.api(), "/mobileconfig?address=eve%40stranger.test");
    assert_eq!(answer.status, 404, "{answer:?}");
}
