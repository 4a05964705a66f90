//! RCV-8 end to end: the rate limits of the real server, configured with small `[rate]`
//! limits, driven by Python's smtplib (tests/smtp/client.py) over the MX and submission
//! listeners; the mailbox's INBOX shows which transactions were let through.

use std::path::Path;
use std::process::Command;

use postwerk_testkit::TestServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const TOTO: &str = "toto@example.com";
const TOTO_PASSWORD: &str = "toto-secret-1";

/// A server hosting example.com with the mailbox toto (alias tata), with `[rate]` set to
/// `rate`.
fn server(rate: &str) -> TestServer {
    let config = format!("[rate]\n{rate}\n");
    let server = TestServer::start_with(Path::new(BIN), &["smtp", "submission"], &config)
        .unwrap_or_else(|error| panic!("the server starts with [rate] {rate:?}: {error:#}"));
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", TOTO_PASSWORD],
        &["alias", "add", TOTO, "tata@example.com"],
    ] {
        server.admin_ok(args);
    }
    server
}

/// One session over `listener` running a transaction to toto per sender in `senders`, then
/// QUIT; the replies of each transaction as JSON. `login` authenticates first (STARTTLS).
fn session(server: &TestServer, listener: &str, login: bool, senders: &[&str]) -> Vec<Value> {
    let addr = server.addr(listener);
    // Each message its own Message-ID, as a mail program writes: the same bytes again from
    // the same sender would be a retry, delivered once (issue 10).
    let transactions: Vec<Value> = senders
        .iter()
        .enumerate()
        .map(|(n, from)| {
            json!({
                "from": from, "to": [TOTO],
                "message": format!(
                    "From: <{from}>\r\nTo: <{TOTO}>\r\nSubject: rate\r\n\
                     Message-ID: <rate-{n}@remote.example>\r\n\r\nhello\r\n"
                ),
            })
        })
        .collect();
    let mut args = json!({
        "host": addr.ip().to_string(), "port": addr.port(), "transactions": transactions,
    });
    if login {
        args["tls"] = json!("starttls");
        args["user"] = json!(TOTO);
        args["password"] = json!(TOTO_PASSWORD);
    }
    let out = Command::new("python3")
        .arg(CLIENT)
        .arg("send")
        .arg(args.to_string())
        .output()
        .expect("python3 is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "client.py failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    if login {
        assert_eq!(reply["auth"][0], 235, "{reply}");
    }
    reply["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The MAIL reply's code and text.
fn mail(transaction: &Value) -> (i64, String) {
    let reply = &transaction["mail"];
    (
        reply[0].as_i64().unwrap_or(-1),
        reply[1].as_str().unwrap_or_default().to_string(),
    )
}

/// Asserts the transaction was refused by the rate limit naming `whom`.
fn assert_rate_limited(transaction: &Value, whom: &str) {
    let (code, text) = mail(transaction);
    assert_eq!(code, 450, "{transaction}");
    assert!(
        text.starts_with("4.7.1 Rate limit exceeded") && text.contains(whom),
        "{text}"
    );
    assert!(text.contains("try again in a few minutes"), "{text}");
}

/// Asserts the transaction was delivered.
fn assert_delivered(transaction: &Value) {
    assert_eq!(mail(transaction).0, 250, "{transaction}");
    assert_eq!(transaction["data"][0], 250, "{transaction}");
}

#[test]
fn rcv_8_a_client_over_its_minute_gets_450_4_7_1_and_can_quit() {
    let server = server(
        "enabled = true\nmessages_per_minute_per_client = 3\nmessages_per_hour_per_sender = 0",
    );
    let senders = [
        "a@remote.example",
        "b@remote.example",
        "c@remote.example",
        "d@remote.example",
    ];
    let replies = session(&server, "smtp", false, &senders);
    assert_eq!(replies.len(), 4, "{replies:?}");
    for delivered in &replies[..3] {
        assert_delivered(delivered);
    }
    // smtplib then sent RSET and QUIT on the same connection: the refusal ended nothing.
    assert_rate_limited(&replies[3], "your address");
    // The count belongs to the address, not to the connection.
    let again = session(&server, "smtp", false, &["e@remote.example"]);
    assert_rate_limited(&again[0], "your address");
    assert_eq!(server.inbox(TOTO).unwrap().len(), 3);
}

#[test]
fn rcv_8_a_sender_over_its_hour_gets_450_whatever_the_case_of_its_address() {
    let server = server(
        "enabled = true\nmessages_per_minute_per_client = 0\nmessages_per_hour_per_sender = 2",
    );
    let replies = session(
        &server,
        "smtp",
        false,
        &[
            "bulk@remote.example",
            "Bulk@Remote.Example",
            "BULK@remote.example",
            "other@remote.example",
        ],
    );
    assert_delivered(&replies[0]);
    assert_delivered(&replies[1]);
    assert_rate_limited(&replies[2], "this sender");
    assert_delivered(&replies[3]);
    assert_eq!(server.inbox(TOTO).unwrap().len(), 3);
}

#[test]
fn rcv_8_a_submission_is_counted_by_its_login_not_its_sender_address() {
    let server = server(
        "enabled = true\nmessages_per_minute_per_client = 0\nmessages_per_hour_per_sender = 2",
    );
    // toto may send as itself and as its alias; both count against the one login.
    let replies = session(
        &server,
        "submission",
        true,
        &[TOTO, "tata@example.com", "tata@example.com"],
    );
    assert_delivered(&replies[0]);
    assert_delivered(&replies[1]);
    assert_rate_limited(&replies[2], "this sender");
    assert_eq!(server.inbox(TOTO).unwrap().len(), 2);
}

#[test]
fn rcv_8_disabled_limits_refuse_nothing() {
    let server = server(
        "enabled = false\nmessages_per_minute_per_client = 1\nmessages_per_hour_per_sender = 1",
    );
    let replies = session(
        &server,
        "smtp",
        false,
        &["a@remote.example", "a@remote.example", "a@remote.example"],
    );
    for delivered in &replies {
        assert_delivered(delivered);
    }
    assert_eq!(server.inbox(TOTO).unwrap().len(), 3);
}
