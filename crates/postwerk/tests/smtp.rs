//! Issue 3 end to end: the real server on ephemeral ports, driven by independent clients —
//! Python's smtplib/ssl (tests/smtp/client.py) and swaks — with the results checked in the
//! store the server wrote. One server per test, so failures stay independent.

use std::path::Path;
use std::process::Command;

use postwerk_testkit::TestServer;
use serde_json::{Value, json};

#[path = "smtp/send_as.rs"]
mod send_as;
#[path = "smtp/smtputf8.rs"]
mod smtputf8;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const LISTENERS: [&str; 3] = ["smtp", "submission", "submissions"];

const TOTO: &str = "toto@example.com";
const TOTO_PASSWORD: &str = "mailbox-secret-1";
/// The password of the *user account* whose login is also toto@example.com (ID-2, ID-3).
const TOTO_USER_PASSWORD: &str = "account-secret-1";

/// A server hosting example.com: the mailbox toto (alias tata), a no-reply address, a
/// redirection to an outside address, and a user account with toto's address as login.
fn server_with(extra: &str) -> TestServer {
    let server = TestServer::start_with(Path::new(BIN), &LISTENERS, extra).unwrap();
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", TOTO_PASSWORD],
        &["alias", "add", TOTO, "tata@example.com"],
        &[
            "address",
            "create",
            "other@example.com",
            "--password",
            "other-secret-1",
        ],
        &[
            "address",
            "create",
            "info@example.com",
            "--kind",
            "noreply",
            "--password",
            "noreply-secret",
        ],
        &[
            "address",
            "create",
            "fwd@example.com",
            "--kind",
            "redirect",
            "--to",
            "someone@elsewhere.example",
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

/// Runs a client.py scenario against `listener` and returns its JSON.
fn python(server: &TestServer, listener: &str, scenario: &str, mut args: Value) -> Value {
    let addr = server.addr(listener);
    args["host"] = json!(addr.ip().to_string());
    args["port"] = json!(addr.port());
    let out = Command::new("python3")
        .arg(CLIENT)
        .arg(scenario)
        .arg(args.to_string())
        .output()
        .expect("python3 is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "client.py {scenario} failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs swaks against `listener`; returns (exit code, transcript).
fn swaks(server: &TestServer, listener: &str, args: &[&str]) -> (i32, String) {
    let addr = server.addr(listener);
    let out = Command::new("swaks")
        .args([
            "--server",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args(["--helo", "client.example", "--timeout", "60"])
        .args(args)
        .output()
        .expect("swaks is installed (.ci/run installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn code(reply: &Value) -> i64 {
    reply[0].as_i64().unwrap_or(-1)
}

fn text(reply: &Value) -> String {
    reply[1].as_str().unwrap_or_default().to_string()
}

fn message(subject: &str, from: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {TOTO}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.example>\r\n\r\n{body}\r\n"
    )
}

fn submit(server: &TestServer, listener: &str, from: &str, to: &[&str], msg: &str) -> Value {
    let tls = if listener == "submissions" {
        "implicit"
    } else {
        "starttls"
    };
    python(
        server,
        listener,
        "send",
        json!({"tls": tls, "user": TOTO, "password": TOTO_PASSWORD,
               "from": from, "to": to, "message": msg}),
    )
}

fn count_with(messages: &[Vec<u8>], needle: &str) -> usize {
    messages
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains(needle))
        .count()
}

// ---- 1, 2: listeners and capabilities

#[test]
fn proto_3_each_port_advertises_its_capabilities_before_and_after_tls() {
    let server = server_with("[smtp]\nmax_message_size = 123456\n");
    let base = [
        "8bitmime",
        "chunking",
        "dsn",
        "enhancedstatuscodes",
        "pipelining",
        "size",
        "smtputf8",
    ];
    let with = |extra: &[&str]| {
        let mut all: Vec<String> = base.iter().chain(extra).map(|s| s.to_string()).collect();
        all.sort();
        json!(all)
    };

    let mx = python(&server, "smtp", "ehlo", json!({}));
    assert_eq!(mx["plain"], with(&["starttls"]), "MX before TLS");
    assert_eq!(mx["tls"], with(&[]), "MX after TLS: no AUTH, ever");
    assert_eq!(
        mx["plain_size"],
        json!("123456"),
        "RCV-7: the limit is advertised"
    );

    let submission = python(&server, "submission", "ehlo", json!({}));
    assert_eq!(
        submission["plain"],
        with(&["starttls"]),
        "no AUTH before TLS"
    );
    assert_eq!(submission["tls"], with(&["auth"]));
    assert_eq!(submission["auth"], json!(["PLAIN", "LOGIN"]));

    let submissions = python(&server, "submissions", "ehlo", json!({"tls": "implicit"}));
    assert_eq!(submissions["tls"], with(&["auth"]));
    assert_eq!(submissions["auth"], json!(["PLAIN", "LOGIN"]));
}

#[test]
fn proto_3_swaks_sees_starttls_then_auth_on_submission() {
    let server = server();
    let (status, out) = swaks(
        &server,
        "submission",
        &[
            "--quit-after",
            "AUTH",
            "--tls",
            "--auth",
            "LOGIN",
            "--auth-user",
            TOTO,
            "--auth-password",
            TOTO_PASSWORD,
        ],
    );
    assert_eq!(status, 0, "{out}");
    let offered = |capability: &str| {
        out.lines().any(|l| {
            (l.starts_with("<-  250") || l.starts_with("<~  250")) && l.ends_with(capability)
        })
    };
    assert!(offered("STARTTLS"), "{out}");
    assert!(offered("AUTH PLAIN LOGIN"), "{out}");
    let before_tls = out.split("STARTTLS\n").next().unwrap_or_default();
    assert!(!before_tls.contains("AUTH"), "no AUTH before TLS: {out}");
    assert!(out.contains("235 2.7.0"), "{out}");
}

// ---- 2, 5: authentication

#[test]
fn id_2_auth_plain_and_login_with_the_mailbox_password() {
    let server = server();
    for (listener, tls) in [("submission", "starttls"), ("submissions", "implicit")] {
        for mechanism in ["PLAIN", "LOGIN"] {
            let out = python(
                &server,
                listener,
                "send",
                json!({"tls": tls, "user": TOTO, "password": TOTO_PASSWORD,
                       "mechanism": mechanism}),
            );
            assert_eq!(code(&out["auth"]), 235, "{listener} {mechanism}: {out}");
        }
    }
}

#[test]
fn id_2_wrong_password_and_user_account_password_get_535_5_7_8() {
    let server = server();
    for password in ["wrong-password-1", TOTO_USER_PASSWORD] {
        let out = python(
            &server,
            "submissions",
            "send",
            json!({"tls": "implicit", "user": TOTO, "password": password}),
        );
        assert_eq!(code(&out["auth"]), 535, "{out}");
        assert!(text(&out["auth"]).starts_with("5.7.8"), "{out}");
    }
    let (status, out) = swaks(
        &server,
        "submission",
        &[
            "--quit-after",
            "AUTH",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            TOTO,
            "--auth-password",
            "wrong-password-2",
        ],
    );
    assert_ne!(status, 0, "{out}");
    assert!(out.contains("535 5.7.8"), "{out}");
}

#[test]
fn proto_3_auth_is_refused_before_tls_and_on_mx() {
    let server = server();
    let out = python(
        &server,
        "submission",
        "auth_before_tls",
        json!({"user": TOTO, "password": TOTO_PASSWORD}),
    );
    assert_eq!(code(&out["auth"]), 538, "{out}");
    assert!(text(&out["auth"]).starts_with("5.7.11"), "{out}");
    assert_eq!(code(&out["mail"]), 530, "{out}");
    assert!(text(&out["mail"]).starts_with("5.7.0"), "{out}");

    let mx = python(
        &server,
        "smtp",
        "send",
        json!({"tls": "starttls", "user": TOTO, "password": TOTO_PASSWORD}),
    );
    assert_ne!(code(&mx["auth"]), 235, "never AUTH on MX: {mx}");
}

#[test]
fn proto_3_submission_refuses_mail_without_authentication() {
    let server = server();
    let out = python(
        &server,
        "submission",
        "send",
        json!({"tls": "starttls", "from": TOTO, "to": ["someone@elsewhere.example"],
               "message": message("noauth", TOTO, "x")}),
    );
    let mail = &out["transactions"][0]["mail"];
    assert_eq!(code(mail), 530, "{out}");
}

#[test]
fn auth_failures_are_refused_for_a_while_after_the_limit() {
    let server = server_with("[auth]\nfree_failures = 5\nlockout_after = 2\ndelay_step = 0\n");
    let attempt = |password: &str| {
        let out = python(
            &server,
            "submissions",
            "send",
            json!({"tls": "implicit", "user": TOTO, "password": password}),
        );
        code(&out["auth"])
    };
    assert_eq!(attempt("wrong-password-1"), 535);
    assert_eq!(attempt("wrong-password-2"), 535);
    assert_eq!(
        attempt(TOTO_PASSWORD),
        454,
        "locked out, even with the right password"
    );
}

// ---- 3: recipient checks

#[test]
fn rcv_1_unknown_recipient_refused_at_rcpt_and_no_reply_refused_clearly() {
    let server = server();
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"from": "sender@remote.example",
               "to": ["nobody@example.com", "info@example.com", TOTO],
               "message": message("rcpt-checks", "sender@remote.example", "hello")}),
    );
    let rcpt = &out["transactions"][0]["rcpt"];
    assert_eq!(code(&rcpt[0]), 550, "{out}");
    assert!(text(&rcpt[0]).starts_with("5.1.1"), "{out}");
    assert_eq!(code(&rcpt[1]), 550, "{out}");
    assert!(
        text(&rcpt[1]).contains("does not accept incoming mail"),
        "{out}"
    );
    assert_eq!(code(&rcpt[2]), 250, "{out}");
    assert_eq!(code(&out["transactions"][0]["data"]), 250, "{out}");
    let (status, swaks_out) = swaks(
        &server,
        "smtp",
        &[
            "--from",
            "sender@remote.example",
            "--to",
            "nobody@example.com",
        ],
    );
    assert_ne!(status, 0);
    assert!(swaks_out.contains("550 5.1.1"), "{swaks_out}");
}

#[test]
fn never_an_open_relay() {
    let server = server();
    // MX, with and without TLS: a domain not hosted here is refused.
    for tls in ["none", "starttls"] {
        let out = python(
            &server,
            "smtp",
            "send",
            json!({"tls": tls, "from": TOTO, "to": ["victim@elsewhere.example"],
                   "message": message("relay", TOTO, "x")}),
        );
        let rcpt = &out["transactions"][0]["rcpt"][0];
        assert_eq!(code(rcpt), 550, "{out}");
        assert!(text(rcpt).starts_with("5.7.1"), "{out}");
    }
    let (status, out) = swaks(
        &server,
        "smtp",
        &["--from", TOTO, "--to", "victim@elsewhere.example"],
    );
    assert_ne!(status, 0);
    assert!(out.contains("550 5.7.1"), "{out}");
    let queued = server.queued().unwrap();
    assert!(queued.is_empty(), "nothing queued: {queued:?}");
}

// ---- 4: local delivery

#[test]
fn rcv_12_end_to_end_delivery_stores_the_exact_bytes_with_trace_headers() {
    let server = server();
    let body = "Hello Toto,\r\n.leading dot survives\r\nline with 8-bit: caf\u{e9}\r\n";
    let original = message("e2e", "sender@remote.example", body);
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"tls": "starttls", "from": "sender@remote.example", "to": [TOTO],
               "message": original, "mail_options": ["BODY=8BITMIME"]}),
    );
    let data = &out["transactions"][0]["data"];
    assert_eq!(code(data), 250, "{out}");
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), 1);
    let stored = String::from_utf8(inbox[0].clone()).unwrap();
    // Return-Path first (RFC 5321 §4.4), then the checks' record (RCV-2, RFC 8601), then the
    // trace line of this hop.
    assert!(
        stored.starts_with(
            "Return-Path: <sender@remote.example>\r\nAuthentication-Results: mail.example.test;"
        ),
        "{stored}"
    );
    let received = stored
        .find("\r\nReceived: from client.example")
        .expect("Received:");
    let body = stored.find("\r\nFrom: ").expect("the message");
    assert!(received < body, "{stored}");
    assert!(
        stored.contains("by mail.example.test (Postwerk) with ESMTPS"),
        "{stored}"
    );
    assert!(stored.contains("for <toto@example.com>;"), "{stored}");
    assert!(
        stored.ends_with(&original),
        "the message bytes are kept exactly:\n{stored}"
    );
    let id = text(data)
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        stored.contains(&format!("id {id}")),
        "the queue id of the 250 is in Received:"
    );
}

#[test]
fn adr_6_alias_delivers_to_the_mailbox_and_redirection_is_queued() {
    let server = server();
    let (status, out) = swaks(
        &server,
        "smtp",
        &[
            "--from",
            "sender@remote.example",
            "--to",
            "tata@example.com,fwd@example.com",
            "--header",
            "Subject: alias-and-forward",
        ],
    );
    assert_eq!(status, 0, "{out}");
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(count_with(&inbox, "alias-and-forward"), 1);
    let queued = server.queued().unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let (entry, content) = &queued[0];
    assert_eq!(entry.message.return_path, "sender@remote.example");
    let rcpt = &entry.message.recipients[0];
    assert_eq!(rcpt.address.to_string(), "someone@elsewhere.example");
    assert_eq!(
        rcpt.forwarded_by.as_ref().map(|a| a.to_string()).as_deref(),
        Some("fwd@example.com")
    );
    let content = String::from_utf8_lossy(content);
    assert!(
        content.starts_with("Received: "),
        "queue copy has trace, no Return-Path"
    );
    assert!(content.contains("alias-and-forward"));
}

// ---- 5: submission

#[test]
fn snd_1_submission_delivers_locally_and_queues_remote_with_dsn_parameters() {
    let server = server();
    for listener in ["submission", "submissions"] {
        let tls = if listener == "submissions" {
            "implicit"
        } else {
            "starttls"
        };
        let subject = format!("submitted-{listener}");
        let out = python(
            &server,
            listener,
            "send",
            json!({"tls": tls, "user": TOTO, "password": TOTO_PASSWORD,
                   "from": "tata@example.com", "to": ["other@example.com", "friend@elsewhere.example"],
                   "mail_options": ["RET=HDRS", "ENVID=env-1"],
                   "rcpt_options": ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;friend@elsewhere.example"],
                   "message": message(&subject, "Toto <tata@example.com>", "hi")}),
        );
        let tx = &out["transactions"][0];
        assert_eq!(code(&tx["data"]), 250, "{listener}: {out}");
        let inbox = server.inbox("other@example.com").unwrap();
        assert_eq!(count_with(&inbox, &subject), 1, "{listener}");
    }
    let queued = server.queued().unwrap();
    assert_eq!(queued.len(), 2);
    for (entry, content) in &queued {
        let m = &entry.message;
        assert_eq!(m.return_path, "tata@example.com");
        assert_eq!(m.envid.as_deref(), Some("env-1"));
        assert_eq!(m.ret, Some(postwerk_store::DsnRet::Headers));
        assert_eq!(m.recipients.len(), 1);
        let rcpt = &m.recipients[0];
        assert_eq!(rcpt.address.to_string(), "friend@elsewhere.example");
        let notify = rcpt.notify.unwrap();
        assert!(notify.success && notify.failure && !notify.delay);
        assert_eq!(
            rcpt.orcpt.as_deref(),
            Some("rfc822;friend@elsewhere.example")
        );
        assert!(String::from_utf8_lossy(content).contains("with ESMTPSA"));
    }
}

#[test]
fn snd_1_auth_guards_refuse_foreign_envelope_sender_and_from_header() {
    let server = server();
    let out = submit(
        &server,
        "submissions",
        "other@example.com",
        &["friend@elsewhere.example"],
        &message("x", "other@example.com", "x"),
    );
    let mail = &out["transactions"][0]["mail"];
    assert_eq!(code(mail), 553, "{out}");
    assert_eq!(text(mail), "5.7.1 Sender denied: auth guards failed");

    let out = submit(
        &server,
        "submission",
        TOTO,
        &["friend@elsewhere.example"],
        &message("forged-from", "boss@example.com", "x"),
    );
    let data = &out["transactions"][0]["data"];
    assert_eq!(code(data), 553, "{out}");
    assert_eq!(text(data), "5.7.1 Sender denied: auth guards failed");
    assert!(server.queued().unwrap().is_empty());

    let (status, swaks_out) = swaks(
        &server,
        "submission",
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            TOTO,
            "--auth-password",
            TOTO_PASSWORD,
            "--from",
            "someone@elsewhere.example",
            "--to",
            "other@example.com",
        ],
    );
    assert_ne!(status, 0);
    assert!(
        swaks_out.contains("553 5.7.1 Sender denied: auth guards failed"),
        "{swaks_out}"
    );
}

#[test]
fn id_6_password_change_ends_the_submission_session() {
    let server = server();
    let data_dir = server.data_dir();
    let out = python(
        &server,
        "submissions",
        "password_change",
        json!({"tls": "implicit", "user": TOTO, "password": TOTO_PASSWORD,
               "from": TOTO, "to": ["other@example.com"],
               "message": message("before-change", TOTO, "x"),
               "passwd_command": [BIN, "admin", "--data-dir", data_dir.to_str().unwrap(),
                                  "address", "passwd", TOTO, "--password", "new-secret-22"]}),
    );
    assert_eq!(code(&out["first"]["data"]), 250, "{out}");
    assert_eq!(out["passwd_status"], json!(0), "{out}");
    assert_eq!(code(&out["second_mail"]), 421, "{out}");
    assert_eq!(out["still_connected"], json!(false), "{out}");
}

// ---- 6: protocol safety

#[test]
fn rcv_11_smuggling_attempts_deliver_at_most_one_message() {
    let server = server();
    for (i, smuggle) in ["\n.\n", "\r\n.\n", "\n.\r\n"].into_iter().enumerate() {
        let subject = format!("smuggle-{i}");
        let data = format!(
            "Subject: {subject}\r\n\r\nfirst{smuggle}MAIL FROM:<evil@remote.example>\r\n\
             RCPT TO:<{TOTO}>\r\nDATA\r\nSubject: smuggled-{i}\r\n\r\nsecond\r\n.\r\n"
        );
        let out = python(
            &server,
            "smtp",
            "raw",
            json!({"steps": [
                {"send": "EHLO client.example\r\n", "expect": 1},
                {"send": format!("MAIL FROM:<a@remote.example>\r\nRCPT TO:<{TOTO}>\r\nDATA\r\n"), "expect": 3},
                {"send": data, "expect": 1},
                {"send": "QUIT\r\n", "expect": 1},
            ]}),
        );
        let steps = &out["steps"];
        assert_eq!(code(&steps[2][0]), 554, "{smuggle:?}: {out}");
        assert_eq!(
            code(&steps[3][0]),
            221,
            "{smuggle:?}: exactly one reply, no second message: {out}"
        );
        let inbox = server.inbox(TOTO).unwrap();
        assert_eq!(
            count_with(&inbox, &format!("smuggled-{i}")),
            0,
            "{smuggle:?}"
        );
        assert_eq!(count_with(&inbox, &subject), 0, "{smuggle:?}");
    }
}

#[test]
fn rcv_11_bare_lf_in_a_command_line_is_refused() {
    let server = server();
    let out = python(
        &server,
        "smtp",
        "raw",
        json!({"steps": [
            {"send": "EHLO client.example\n", "expect": 1},
            {"send": "NOOP\r\n", "expect": 1},
        ]}),
    );
    assert_eq!(code(&out["steps"][0][0]), 500, "{out}");
    assert!(text(&out["steps"][0][0]).contains("5.5.2"), "{out}");
    assert_eq!(code(&out["steps"][1][0]), 250, "the session goes on: {out}");
}

#[test]
fn rcv_11_pipelined_transactions_get_their_replies_in_order() {
    let server = server();
    let msg = |s: &str| format!("Subject: {s}\r\n\r\nbody\r\n.\r\n");
    let out = python(
        &server,
        "smtp",
        "raw",
        json!({"steps": [
            {"send": "EHLO client.example\r\n", "expect": 1},
            {"send": format!("MAIL FROM:<a@remote.example>\r\nRCPT TO:<{TOTO}>\r\n\
                              RCPT TO:<nobody@example.com>\r\nDATA\r\n"), "expect": 4},
            {"send": format!("{}MAIL FROM:<b@remote.example>\r\nRCPT TO:<tata@example.com>\r\nDATA\r\n",
                             msg("pipelined-1")), "expect": 4},
            {"send": format!("{}RSET\r\nNOOP\r\nQUIT\r\n", msg("pipelined-2")), "expect": 4},
        ]}),
    );
    let codes: Vec<Vec<i64>> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step.as_array().unwrap().iter().map(code).collect())
        .collect();
    assert_eq!(
        codes,
        vec![
            vec![250],
            vec![250, 250, 550, 354],
            vec![250, 250, 250, 354],
            vec![250, 250, 250, 221]
        ],
        "{out}"
    );
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(count_with(&inbox, "pipelined-1"), 1);
    assert_eq!(count_with(&inbox, "pipelined-2"), 1);
    let (status, swaks_out) = swaks(
        &server,
        "smtp",
        &[
            "--pipeline",
            "--from",
            "c@remote.example",
            "--to",
            TOTO,
            "--header",
            "Subject: swaks-pipelined",
        ],
    );
    assert_eq!(status, 0, "{swaks_out}");
    assert_eq!(
        count_with(&server.inbox(TOTO).unwrap(), "swaks-pipelined"),
        1
    );
}

#[test]
fn rfc_3030_bdat_chunks_deliver_one_message() {
    let server = server();
    let part1 = "Subject: chunked\r\n\r\nfirst part, ";
    let part2 = "second part\r\n";
    let out = python(
        &server,
        "smtp",
        "raw",
        json!({"steps": [
            {"send": "EHLO client.example\r\n", "expect": 1},
            {"send": format!("MAIL FROM:<a@remote.example>\r\nRCPT TO:<{TOTO}>\r\n\
                              BDAT {}\r\n{part1}BDAT {} LAST\r\n{part2}", part1.len(), part2.len()),
             "expect": 4},
            {"send": "QUIT\r\n", "expect": 1},
        ]}),
    );
    let step = &out["steps"][1];
    assert_eq!(code(&step[2]), 250, "{out}");
    assert!(
        text(&step[2]).contains(&format!("{} octets", part1.len())),
        "{out}"
    );
    assert_eq!(code(&step[3]), 250, "{out}");
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].ends_with(format!("{part1}{part2}").as_bytes()));
}

#[test]
fn rcv_7_oversized_messages_are_refused_552_5_3_4() {
    let server = server_with("[smtp]\nmax_message_size = 2000\n");
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(3000));
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"transactions": [
            {"from": "a@remote.example", "to": [TOTO], "message": big,
             "mail_options": ["SIZE=5000"]},
            {"from": "a@remote.example", "to": [TOTO], "message": big},
            {"from": "a@remote.example", "to": [TOTO], "message": message("small", "a@remote.example", "ok")},
        ]}),
    );
    let txs = &out["transactions"];
    assert_eq!(code(&txs[0]["mail"]), 552, "declared SIZE: {out}");
    assert_eq!(code(&txs[1]["data"]), 552, "{out}");
    assert!(text(&txs[1]["data"]).starts_with("5.3.4"), "{out}");
    assert_eq!(code(&txs[2]["data"]), 250, "the session goes on: {out}");
    assert_eq!(server.inbox(TOTO).unwrap().len(), 1);
}

#[test]
fn rcv_10_non_ascii_header_without_smtputf8_is_refused() {
    let server = server();
    let msg = "Subject: Gr\u{fc}\u{df}e\r\n\r\nbody\r\n";
    let out = python(
        &server,
        "smtp",
        "send",
        json!({"transactions": [
            {"from": "a@remote.example", "to": [TOTO], "message": msg},
            {"from": "a@remote.example", "to": [TOTO], "message": msg, "mail_options": ["SMTPUTF8"]},
        ]}),
    );
    let txs = &out["transactions"];
    assert_eq!(code(&txs[0]["data"]), 554, "{out}");
    assert!(text(&txs[0]["data"]).contains("5.6.7"), "{out}");
    assert!(text(&txs[0]["data"]).contains("Subject"), "{out}");
    assert_eq!(code(&txs[1]["data"]), 250, "{out}");
}

#[test]
fn vrfy_answers_252_whether_or_not_the_address_exists() {
    let server = server();
    let out = python(
        &server,
        "smtp",
        "raw",
        json!({"steps": [
            {"send": "EHLO client.example\r\n", "expect": 1},
            {"send": format!("VRFY {TOTO}\r\nVRFY nobody@example.com\r\n"), "expect": 2},
        ]}),
    );
    let step = &out["steps"][1];
    assert_eq!((code(&step[0]), code(&step[1])), (252, 252), "{out}");
    assert_eq!(text(&step[0]), text(&step[1]));
}

#[test]
fn rcv_11_too_many_errors_close_the_session_with_421() {
    let server = server_with("[smtp]\nmax_errors = 3\n");
    let out = python(
        &server,
        "smtp",
        "raw",
        json!({"steps": [{"send": "BOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\n", "expect": 4}]}),
    );
    let codes: Vec<i64> = out["steps"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(code)
        .collect();
    assert_eq!(codes, vec![500, 500, 500, 421], "{out}");
}

// ---- 7: logs

#[test]
fn logs_name_the_session_and_never_the_password() {
    let server = server();
    let out = submit(
        &server,
        "submissions",
        TOTO,
        &["other@example.com"],
        &message("logged", TOTO, "secret body text"),
    );
    assert_eq!(code(&out["transactions"][0]["data"]), 250, "{out}");
    let log = server.stderr();
    assert!(log.contains("authenticated"), "{log}");
    assert!(log.contains("message accepted"), "{log}");
    assert!(log.contains("queue_id"), "{log}");
    assert!(!log.contains(TOTO_PASSWORD), "the password is never logged");
    assert!(
        !log.contains("secret body text"),
        "message content is never logged"
    );
}
