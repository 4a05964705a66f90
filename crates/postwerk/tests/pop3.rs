//! Issue 5 end to end: the real server on ephemeral ports, driven by independent clients —
//! Python's poplib/ssl (tests/pop3/client.py) over both POP3 ports, and fetchmail delivering
//! into local files — with the results checked against the raw bytes the store holds. Messages
//! arrive through the real SMTP listener (tests/smtp/client.py). IMAP does not exist yet, so
//! "what IMAP returns" is the raw message in the store, which IMAP's `BODY[]` will serve.
//! One server per test, so failures stay independent.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use postwerk_testkit::TestServer;

mod common;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pop3/client.py");
const SMTP_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const LISTENERS: [&str; 4] = ["smtp", "submissions", "pop3", "pop3s"];

const TOTO: &str = "toto@example.com";
const TOTO_PASSWORD: &str = "mailbox-secret-1";
/// The password of the *user account* whose login is also toto@example.com (ID-2, ID-3).
const TOTO_USER_PASSWORD: &str = "account-secret-1";

/// A server hosting example.com: the mailbox toto with a user account of the same login, and
/// the mailbox other.
fn server_with(extra: &str) -> TestServer {
    let server = TestServer::start_with(Path::new(BIN), &LISTENERS, extra).unwrap();
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", TOTO_PASSWORD],
        &[
            "address",
            "create",
            "other@example.com",
            "--password",
            "other-secret-1",
        ],
        &[
            "user",
            "create",
            TOTO,
            "--password",
            TOTO_USER_PASSWORD,
            "--org",
            "Acme",
        ],
    ] {
        server.admin_ok(args);
    }
    server
}

fn server() -> TestServer {
    server_with("")
}

/// Messages with what POP3 must carry exactly: lines starting with ".", a lone "." line, a
/// "From " line, 8-bit text, an empty last line.
fn messages() -> Vec<String> {
    vec![
        format!(
            "From: a@remote.example\r\nTo: {TOTO}\r\nSubject: first\r\nMessage-ID: <first@remote.example>\r\n\r\nHello.\r\n"
        ),
        format!(
            "From: b@remote.example\r\nTo: {TOTO}\r\nSubject: dots\r\nMessage-ID: <dots@remote.example>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nFrom the start of a line\r\nend\r\n"
        ),
        format!(
            "From: c@remote.example\r\nTo: {TOTO}\r\nSubject: long\r\nMessage-ID: <long@remote.example>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\nGrüße\r\n\r\n",
            "x".repeat(900)
        ),
    ]
}

/// Delivers `messages()` to toto through the MX listener; returns the raw bytes the store now
/// holds for them, in order.
fn deliver(server: &TestServer) -> Vec<Vec<u8>> {
    let addr = server.addr("smtp");
    for message in messages() {
        let args = json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": "none",
                          "from": "sender@remote.example", "to": [TOTO], "message": message});
        let out = Command::new("python3")
            .arg(SMTP_CLIENT)
            .arg("send")
            .arg(args.to_string())
            .output()
            .expect("python3 is installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out["transactions"][0]["data"][0], json!(250), "{out}");
    }
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), 3);
    inbox
}

/// Runs client.py with `steps` against `listener`; returns its JSON.
fn pop(server: &TestServer, listener: &str, tls: &str, steps: Value) -> Value {
    let addr = server.addr(listener);
    let args = json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": tls,
                      "steps": steps});
    let out = Command::new("python3")
        .arg(CLIENT)
        .arg(args.to_string())
        .output()
        .expect("python3 is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "client.py failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ok(out: &Value, index: usize) -> &Value {
    let step = &out["steps"][index];
    assert!(step.get("ok").is_some(), "step {index} failed: {out}");
    &step["ok"]
}

fn err(out: &Value, index: usize) -> String {
    out["steps"][index]["err"]
        .as_str()
        .unwrap_or_else(|| panic!("step {index} should fail: {out}"))
        .to_string()
}

fn content(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value["content"].as_str().unwrap_or_default())
        .unwrap()
}

// ---- 1, 2: listeners, STLS, capabilities, commands

#[test]
fn proto_3_poplib_over_stls_logs_in_only_inside_tls_and_reads_exact_bytes() {
    let server = server();
    let stored = deliver(&server);
    let out = pop(
        &server,
        "pop3",
        "stls",
        json!([
            ["capa"],
            ["user", TOTO],
            ["stls"],
            ["capa"],
            ["user", TOTO],
            ["pass", TOTO_PASSWORD],
            ["capa"],
            ["stat"],
            ["list"],
            ["retr", 1],
            ["retr", 2],
            ["retr", 3],
            ["top", 2, 1],
            ["quit"],
        ]),
    );
    assert!(out["welcome"].as_str().unwrap().starts_with("+OK"), "{out}");
    let before_tls = json!([
        "AUTH-RESP-CODE",
        "CAPA",
        "IMPLEMENTATION",
        "PIPELINING",
        "RESP-CODES",
        "STLS",
        "TOP",
        "UIDL"
    ]);
    assert_eq!(ok(&out, 0), &before_tls, "no USER or SASL before TLS");
    assert!(
        err(&out, 1).starts_with("-ERR [AUTH] Log in over TLS only"),
        "{out}"
    );
    let after_tls = json!([
        "AUTH-RESP-CODE",
        "CAPA",
        "IMPLEMENTATION",
        "PIPELINING",
        "RESP-CODES",
        "SASL",
        "TOP",
        "UIDL",
        "USER"
    ]);
    assert_eq!(ok(&out, 3), &after_tls, "no STLS inside TLS");
    let logged_in = json!([
        "AUTH-RESP-CODE",
        "CAPA",
        "IMPLEMENTATION",
        "PIPELINING",
        "RESP-CODES",
        "TOP",
        "UIDL"
    ]);
    assert_eq!(ok(&out, 6), &logged_in);
    let total: usize = stored.iter().map(Vec::len).sum();
    assert_eq!(ok(&out, 7), &json!([3, total]), "sizes in octets with CRLF");
    let listing: Vec<String> = stored
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}", i + 1, m.len()))
        .collect();
    assert_eq!(ok(&out, 8), &json!(listing));
    for (i, raw) in stored.iter().enumerate() {
        assert_eq!(
            &content(ok(&out, 9 + i)),
            raw,
            "message {} byte-identical to the store",
            i + 1
        );
    }
    let top = String::from_utf8(content(ok(&out, 12))).unwrap();
    assert!(
        top.ends_with("Message-ID: <dots@remote.example>\r\n\r\n.leading dot\r\n"),
        "{top}"
    );
    assert_eq!(server.inbox(TOTO).unwrap().len(), 3, "nothing deleted");
}

#[test]
fn proto_2_poplib_over_pop3s_with_auth_plain_deletes_at_quit() {
    let server = server();
    let stored = deliver(&server);
    let out = pop(
        &server,
        "pop3s",
        "implicit",
        json!([
            ["auth_plain", TOTO, TOTO_PASSWORD],
            ["uidl"],
            ["dele", 1],
            ["retr", 1],
            ["dele", 3],
            ["rset"],
            ["dele", 2],
            ["raw", "XTND XMIT"],
            ["noop"],
            ["quit"],
        ]),
    );
    assert!(
        ok(&out, 0).as_str().unwrap().starts_with("+OK Logged in"),
        "{out}"
    );
    let uidl = ok(&out, 1).as_array().unwrap().clone();
    assert_eq!(uidl.len(), 3);
    assert!(err(&out, 3).contains("already deleted"), "{out}");
    assert_eq!(err(&out, 7), "-ERR Unknown command", "the session goes on");
    assert!(ok(&out, 8).as_str().unwrap().starts_with("+OK"), "{out}");
    assert!(
        ok(&out, 9).as_str().unwrap().contains("1 message deleted"),
        "{out}"
    );
    let left = server.inbox(TOTO).unwrap();
    assert_eq!(
        left,
        [stored[0].clone(), stored[2].clone()],
        "RSET undid 1 and 3"
    );

    // UIDL values are stable: the survivors keep theirs in a new session.
    let again = pop(
        &server,
        "pop3",
        "stls",
        json!([
            ["stls"],
            ["user", TOTO],
            ["pass", TOTO_PASSWORD],
            ["uidl"],
            ["quit"]
        ]),
    );
    let id = |line: &Value| {
        line.as_str()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_string()
    };
    let now: Vec<String> = ok(&again, 3).as_array().unwrap().iter().map(id).collect();
    assert_eq!(now, [id(&uidl[0]), id(&uidl[2])]);
}

#[test]
fn id_2_only_the_mailbox_password_opens_the_maildrop() {
    let server = server();
    let out = pop(
        &server,
        "pop3s",
        "implicit",
        json!([
            ["user", TOTO],
            ["pass", TOTO_USER_PASSWORD],
            ["user", "nobody@example.com"],
            ["pass", TOTO_PASSWORD],
            ["auth_plain", TOTO, "wrong-password"],
            ["user", TOTO],
            ["pass", TOTO_PASSWORD],
            ["quit"],
        ]),
    );
    for step in [1, 3, 4] {
        assert_eq!(
            err(&out, step),
            "-ERR [AUTH] Invalid address or password",
            "{out}"
        );
    }
    assert!(
        ok(&out, 6).as_str().unwrap().starts_with("+OK Logged in"),
        "{out}"
    );
}

// ---- 3: semantics

#[test]
fn rfc_2449_a_second_pop3_session_is_refused_in_use() {
    let server = server();
    // The first session (pop3s) holds the maildrop while client.py runs a second one on the
    // other port from inside it.
    let pop3 = server.addr("pop3");
    let second = json!({"host": pop3.ip().to_string(), "port": pop3.port(), "tls": "stls",
                        "steps": [["stls"], ["user", TOTO], ["pass", TOTO_PASSWORD],
                                  ["user", "other@example.com"], ["pass", "other-secret-1"],
                                  ["quit"]]});
    let report = server.data_dir().join("second.json");
    let script = format!(
        "python3 {CLIENT} '{}' > {}",
        second.to_string().replace('\'', ""),
        report.display()
    );
    let out = pop(
        &server,
        "pop3s",
        "implicit",
        json!([
            ["user", TOTO],
            ["pass", TOTO_PASSWORD],
            ["run", ["sh", "-c", script]],
            ["stat"],
            ["quit"],
        ]),
    );
    assert_eq!(ok(&out, 2), &json!(0), "{out}");
    assert_eq!(
        ok(&out, 3),
        &json!([0, 0]),
        "the first session goes on: {out}"
    );
    let second: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        err(&second, 2),
        "-ERR [IN-USE] The maildrop is already open in another POP3 session",
        "{second}"
    );
    assert!(
        ok(&second, 4)
            .as_str()
            .unwrap()
            .starts_with("+OK Logged in"),
        "another maildrop"
    );
    // Released at the end of the first session.
    let third = pop(
        &server,
        "pop3s",
        "implicit",
        json!([["user", TOTO], ["pass", TOTO_PASSWORD], ["quit"]]),
    );
    assert!(
        ok(&third, 1).as_str().unwrap().starts_with("+OK Logged in"),
        "{third}"
    );
}

#[test]
fn id_6_a_password_change_ends_the_pop3_session() {
    let server = server();
    deliver(&server);
    let data_dir = server.data_dir();
    let out = pop(
        &server,
        "pop3s",
        "implicit",
        json!([
            ["user", TOTO],
            ["pass", TOTO_PASSWORD],
            ["dele", 1],
            [
                "run",
                [
                    BIN,
                    "admin",
                    "--data-dir",
                    data_dir.to_str().unwrap(),
                    "address",
                    "passwd",
                    TOTO,
                    "--password",
                    "new-secret-22"
                ]
            ],
            ["stat"],
            ["quit"],
        ]),
    );
    assert_eq!(ok(&out, 3), &json!(0), "passwd ran: {out}");
    assert!(
        err(&out, 4).starts_with("-ERR [AUTH] The mailbox password was changed"),
        "{out}"
    );
    assert!(
        out["steps"][5].get("ok").is_none(),
        "connection closed: {out}"
    );
    assert_eq!(server.inbox(TOTO).unwrap().len(), 3, "no UPDATE after ID-6");
}

#[test]
fn auth_failures_are_counted_with_smtp() {
    let server = server_with("[auth]\nfree_failures = 5\nlockout_after = 2\ndelay_step = 0\n");
    let addr = server.addr("submissions");
    let smtp = Command::new("python3")
        .arg(SMTP_CLIENT)
        .arg("send")
        .arg(
            json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": "implicit",
                   "user": TOTO, "password": "wrong-over-smtp"})
            .to_string(),
        )
        .output()
        .unwrap();
    let smtp: Value = serde_json::from_slice(&smtp.stdout).unwrap();
    assert_eq!(smtp["auth"][0], json!(535), "{smtp}");
    let out = pop(
        &server,
        "pop3s",
        "implicit",
        json!([
            ["user", TOTO],
            ["pass", "wrong-over-pop3"],
            ["user", TOTO],
            ["pass", TOTO_PASSWORD],
            ["quit"],
        ]),
    );
    assert!(err(&out, 1).starts_with("-ERR [AUTH]"), "{out}");
    assert!(
        err(&out, 3).starts_with("-ERR [SYS/TEMP] Too many failed logins"),
        "locked out by the failures of both protocols: {out}"
    );
}

// ---- fetchmail

fn fetchmail(server: &TestServer, listener: &str) -> (Vec<Vec<u8>>, String) {
    common::fetchmail(server, listener, TOTO, TOTO_PASSWORD)
}

#[test]
fn fetchmail_over_pop3s_fetches_byte_identical_messages_and_deletes_them() {
    let server = server();
    let mut stored = deliver(&server);
    stored.sort();
    let (delivered, log) = fetchmail(&server, "pop3s");
    assert_eq!(delivered.len(), 3, "{log}");
    for (got, want) in delivered.iter().zip(&stored) {
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want),
            "byte-identical to the store\n{log}"
        );
    }
    assert!(
        server.inbox(TOTO).unwrap().is_empty(),
        "fetchmail deleted them: {log}"
    );
}

#[test]
fn fetchmail_over_stls_fetches_byte_identical_messages() {
    let server = server();
    let mut stored = deliver(&server);
    stored.sort();
    let (delivered, log) = fetchmail(&server, "pop3");
    assert_eq!(delivered, stored, "{log}");
    assert!(server.inbox(TOTO).unwrap().is_empty(), "{log}");
}
