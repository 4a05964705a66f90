//! RFC 6531 SMTPUTF8 on the real server, driven by Python's smtplib (which sends UTF-8
//! addresses once `SMTPUTF8` is among the MAIL options) and by raw bytes where a client must
//! break the rule smtplib enforces.

use serde_json::json;

use super::{TOTO, TOTO_PASSWORD, code, python, server, text};

const UTF8_SENDER: &str = "用户@例子.中国";

fn utf8_message(from: &str) -> String {
    format!("From: {from}\r\nTo: {TOTO}\r\nSubject: Grüße\r\n\r\nbody\r\n")
}

/// `text` as latin-1 characters whose code points are its UTF-8 octets: what the `raw`
/// scenario must be given to put UTF-8 on the wire (it encodes its input as latin-1).
fn wire(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

#[test]
fn rfc_6531_mx_delivers_mail_from_a_utf8_sender_with_its_return_path() {
    let server = server();
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"tls": "starttls", "from": UTF8_SENDER, "to": [TOTO],
               "mail_options": ["SMTPUTF8"], "message": utf8_message(UTF8_SENDER)}),
    );
    let tx = &out["transactions"][0];
    assert_eq!(code(&tx["mail"]), 250, "{out}");
    assert_eq!(code(&tx["rcpt"][0]), 250, "{out}");
    assert_eq!(code(&tx["data"]), 250, "{out}\n{}", server.stderr());
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), 1, "{out}");
    let stored = String::from_utf8_lossy(&inbox[0]);
    assert!(
        stored.starts_with(&format!("Return-Path: <{UTF8_SENDER}>\r\n")),
        "the reverse-path is kept as given:\n{stored}"
    );
}

#[test]
fn rcv_1_a_utf8_local_part_at_a_hosted_domain_is_an_unknown_user() {
    let server = server();
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"from": "sender@remote.example",
               "to": ["用户@example.com", "zoë@example.com", TOTO],
               "mail_options": ["SMTPUTF8"], "message": utf8_message("sender@remote.example")}),
    );
    let rcpt = &out["transactions"][0]["rcpt"];
    for refused in [&rcpt[0], &rcpt[1]] {
        assert_eq!(code(refused), 550, "{out}");
        assert!(
            text(refused).starts_with("5.1.1"),
            "not a syntax error: {out}"
        );
    }
    assert_eq!(code(&rcpt[2]), 250, "{out}");
    assert_eq!(code(&out["transactions"][0]["data"]), 250, "{out}");
    assert_eq!(server.inbox(TOTO).unwrap().len(), 1);
}

#[test]
fn rfc_6531_utf8_addresses_without_smtputf8_get_553_5_6_7() {
    let server = server();
    let steps = [
        ("EHLO client.example\r\n", 1),
        (&*wire(&format!("MAIL FROM:<{UTF8_SENDER}>\r\n")), 1),
        ("MAIL FROM:<sender@remote.example>\r\n", 1),
        (&*wire("RCPT TO:<zoë@example.com>\r\n"), 1),
    ];
    let steps: Vec<_> = steps
        .iter()
        .map(|(send, expect)| json!({"send": send, "expect": expect}))
        .collect();
    let out = python(&server, "smtp", "raw", json!({ "steps": steps }));
    let steps = &out["steps"];
    assert_eq!(code(&steps[1][0]), 553, "{out}");
    assert!(text(&steps[1][0]).contains("553 5.6.7"), "{out}");
    assert_eq!(code(&steps[2][0]), 250, "{out}");
    assert_eq!(code(&steps[3][0]), 553, "{out}");
    assert!(text(&steps[3][0]).contains("553 5.6.7"), "{out}");
}

#[test]
fn rfc_6531_mx_refuses_a_utf8_sender_with_an_overlong_local_part() {
    let server = server();
    // 22 characters of three octets: 66 octets, over RFC 5321's 64.
    let sender = format!("{}@例子.中国", "用".repeat(22));
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"from": sender, "to": [TOTO], "mail_options": ["SMTPUTF8"],
               "message": utf8_message(&sender)}),
    );
    let mail = &out["transactions"][0]["mail"];
    assert_eq!(code(mail), 501, "{out}");
    assert!(text(mail).contains("5.1.7"), "{out}");
    assert!(text(mail).contains("64"), "the reply says why: {out}");
}

/// An authenticated submission to a remote mailbox with a non-ASCII local part is queued
/// with that local part exactly (the domain in A-labels, for routing), for the outbound
/// client to send with SMTPUTF8.
#[test]
fn rfc_6531_submission_to_a_utf8_remote_mailbox_is_queued_exactly() {
    let server = server();
    let out = python(
        &server,
        "submission",
        "send",
        json!({"tls": "starttls", "user": TOTO, "password": TOTO_PASSWORD,
               "from": TOTO, "to": ["用户@例子.中国"], "mail_options": ["SMTPUTF8"],
               "message": utf8_message(TOTO)}),
    );
    let tx = &out["transactions"][0];
    assert_eq!(code(&tx["rcpt"][0]), 250, "{out}");
    assert_eq!(code(&tx["data"]), 250, "{out}\n{}", server.stderr());
    let queued = server.queued().unwrap();
    assert_eq!(queued.len(), 1, "{out}");
    let recipients: Vec<String> = queued[0]
        .0
        .message
        .recipients
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(recipients, ["用户@xn--fsqu00a.xn--fiqs8s"]);
}
