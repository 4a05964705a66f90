//! SND-1 end to end: a mailbox sends as another address of its organization only while it
//! has been granted it. The grant and its revocation go through the real CLI binary
//! (`postwerk admin address send-as grant|revoke|list`) against the running server's data
//! folder; the sending through Python's smtplib over submission with AUTH.

use serde_json::{Value, json};

use super::{TOTO, code, python, server, text};

const ANNA: &str = "anna@example.com";
const ANNA_PASSWORD: &str = "anna-secret-1";
const SALES: &str = "sales@example.com";

/// anna@ submits, with AUTH, a message whose envelope sender and `From:` are sales@.
fn anna_sends_as_sales(server: &postwerk_testkit::TestServer, subject: &str) -> Value {
    let message = format!(
        "From: Sales <{SALES}>\r\nTo: {TOTO}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@client.example>\r\n\r\nOur offer.\r\n"
    );
    python(
        server,
        "submission",
        "send",
        json!({"tls": "starttls", "user": ANNA, "password": ANNA_PASSWORD,
               "from": SALES, "to": [TOTO], "message": message}),
    )
}

/// The CLI's standard output for `postwerk admin address send-as ARGS` (asserts success).
fn send_as(server: &postwerk_testkit::TestServer, args: &[&str]) -> String {
    let mut full = vec!["address", "send-as"];
    full.extend_from_slice(args);
    String::from_utf8_lossy(&server.admin_ok(&full).stdout).into_owned()
}

#[test]
fn snd_1_a_granted_address_is_accepted_as_sender_until_revoked() {
    let server = server();
    server.admin_ok(&["address", "create", ANNA, "--password", ANNA_PASSWORD]);
    server.admin_ok(&["address", "create", SALES, "--password", "sales-secret-1"]);

    let before = anna_sends_as_sales(&server, "before-grant");
    assert_eq!(code(&before["auth"]), 235, "{before}");
    let mail = &before["transactions"][0]["mail"];
    assert_eq!(code(mail), 553, "{before}");
    assert!(text(mail).starts_with("5.7.1"), "{before}");
    assert!(
        send_as(&server, &["list", ANNA]).contains("sends only as itself"),
        "no grant yet"
    );

    let granted = send_as(&server, &["grant", ANNA, SALES]);
    assert!(granted.contains(SALES), "{granted}");
    let listed = send_as(&server, &["list", ANNA]);
    assert_eq!(listed.trim(), SALES, "list names the one grant");

    let after = anna_sends_as_sales(&server, "after-grant");
    let tx = &after["transactions"][0];
    assert_eq!(code(&tx["mail"]), 250, "{after}\n{}", server.stderr());
    assert_eq!(code(&tx["rcpt"][0]), 250, "{after}");
    assert_eq!(code(&tx["data"]), 250, "{after}");
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), 1, "{after}");
    assert!(String::from_utf8_lossy(&inbox[0]).contains("Subject: after-grant"));

    send_as(&server, &["revoke", ANNA, SALES]);
    let revoked = anna_sends_as_sales(&server, "after-revoke");
    let mail = &revoked["transactions"][0]["mail"];
    assert_eq!(code(mail), 553, "{revoked}");
    assert!(text(mail).starts_with("5.7.1"), "{revoked}");
    assert_eq!(
        server.inbox(TOTO).unwrap().len(),
        1,
        "nothing more was delivered"
    );
}
