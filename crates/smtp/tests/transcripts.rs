//! Conversation scripts run against the real session over an in-memory stream, with the real
//! `core` services over a real embedded store in a temporary folder.
//!
//! Script syntax: `postwerk_testkit::transcript`.

use std::sync::Arc;

use postwerk_core::{Actor, Admin, Delivery, FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_net::Shutdown;
use postwerk_smtp::{Limits, ListenerKind, Server};

use postwerk_testkit::transcript::Client;

#[path = "common/fixture.rs"]
mod fixture;

use fixture::{Fixture, fixture};

fn server(fixture: &Fixture, kind: ListenerKind, limits: Limits) -> Arc<Server> {
    let stores = &fixture.stores;
    Arc::new(Server {
        hostname: "mx.example.test".into(),
        kind,
        limits,
        delivery: Delivery::new(
            stores.directory.clone(),
            stores.mail.clone(),
            stores.queue.clone(),
        ),
        auth: Arc::new(MailboxAuth::new(
            stores.directory.clone(),
            Arc::new(FailureLimiter::new(FailurePolicy::default())),
        )),
        tls: Some(fixture.tls.acceptor.clone()),
        shutdown: Shutdown::new(),
    })
}

/// A client connected to a fresh session of `server` (TLS first on submissions).
async fn connect(fixture: &Fixture, server: &Arc<Server>) -> Client {
    let session = server.clone();
    let mut client = Client::connect(&fixture.tls.connector, move |io, peer| {
        session.handle(io, peer)
    });
    if server.kind == ListenerKind::Submissions {
        client.tls().await;
    }
    client
}

/// Runs `script` against a fresh session of `server`.
async fn run(fixture: &Fixture, server: Arc<Server>, script: &str) {
    let mut client = connect(fixture, &server).await;
    client.script(script).await;
    client.finish().await;
}

async fn inbox(fixture: &Fixture, address: &str) -> Vec<Vec<u8>> {
    let stores = &fixture.stores;
    let hosted = stores
        .directory
        .address_by_address(&address.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let folder = stores
        .mail
        .folder_by_name(hosted.id, "INBOX")
        .await
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    for meta in stores
        .mail
        .list_messages(folder.id, &postwerk_store::UidSet::all())
        .await
        .unwrap()
    {
        out.push(stores.mail.read_message(folder.id, meta.uid).await.unwrap());
    }
    out
}

const EHLO_MX_PLAIN: &str = "
    S: 220 mx.example.test ESMTP*
    C: EHLO client.example
    S: 250-mx.example.test greets client.example
    S: 250-PIPELINING
    S: 250-SIZE 52428800
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250-DSN
    S: 250-CHUNKING
    S: 250 STARTTLS
";

#[tokio::test]
async fn rcv_1_unknown_recipient_refused_at_rcpt_never_after_data() {
    let f = fixture().await;
    let script = format!(
        "{EHLO_MX_PLAIN}
        C: MAIL FROM:<a@remote.example>
        S: 250 2.1.0 *
        C: RCPT TO:<nobody@example.test>
        S: 550 5.1.1 *
        C: RCPT TO:<info@example.test>
        S: 550 5.7.1 *no-reply*
        C: RCPT TO:<elsewhere@other.example>
        S: 550 5.7.1 Relaying denied*
        C: DATA
        S: 554 5.5.1 *
        C: QUIT
        S: 221 2.0.0 *
        END"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &script).await;
}

#[tokio::test]
async fn rcv_12_data_is_delivered_with_return_path_and_received() {
    let f = fixture().await;
    let script = format!(
        "{EHLO_MX_PLAIN}
        C: MAIL FROM:<a@remote.example>
        S: 250 2.1.0 *
        C: RCPT TO:<tata@example.test>
        S: 250 2.1.5 *
        C: DATA
        S: 354 *
        C: Subject: hello
        C:
        C: ..dot-stuffed
        C: .
        S: 250 2.0.0 OK queued as *
        C: QUIT
        S: 221 *
        END"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &script).await;
    let inbox = inbox(&f, "toto@example.test").await;
    assert_eq!(inbox.len(), 1);
    let text = String::from_utf8(inbox[0].clone()).unwrap();
    assert!(
        text.starts_with(
            "Return-Path: <a@remote.example>\r\nReceived: from client.example ([192.0.2.1])\r\n"
        ),
        "{text}"
    );
    assert!(text.contains("with ESMTP\r\n"), "{text}");
    assert!(
        text.ends_with("\r\nSubject: hello\r\n\r\n.dot-stuffed\r\n"),
        "{text}"
    );
}

/// RFC 5321 §4.1.2: a quoted local part in MAIL FROM keeps its quotes in `Return-Path:`,
/// where unquoted it would name another mailbox (or none); a needless pair of quotes goes.
#[tokio::test]
async fn a_quoted_reverse_path_stays_quoted_in_return_path() {
    let f = fixture().await;
    let script = format!(
        "{EHLO_MX_PLAIN}
        C: MAIL FROM:<\"john doe\"@remote.example>
        S: 250 2.1.0 *
        C: RCPT TO:<tata@example.test>
        S: 250 2.1.5 *
        C: DATA
        S: 354 *
        C: Subject: one
        C:
        C: first
        C: .
        S: 250 2.0.0 *
        C: MAIL FROM:<\"jane\"@remote.example>
        S: 250 2.1.0 *
        C: RCPT TO:<tata@example.test>
        S: 250 2.1.5 *
        C: DATA
        S: 354 *
        C: Subject: two
        C:
        C: second
        C: .
        S: 250 2.0.0 *
        C: QUIT
        S: 221 *
        END"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &script).await;
    let inbox = inbox(&f, "toto@example.test").await;
    let return_paths: Vec<String> = inbox
        .iter()
        .map(|raw| {
            let text = String::from_utf8_lossy(raw);
            text.lines().next().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        return_paths,
        [
            "Return-Path: <\"john doe\"@remote.example>",
            "Return-Path: <jane@remote.example>"
        ]
    );
}

#[tokio::test]
async fn rfc_3207_starttls_resets_the_session_and_submission_offers_auth_inside() {
    let f = fixture().await;
    let script = "
        S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-PIPELINING
        S: 250-SIZE *
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 STARTTLS
        C: AUTH PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=
        S: 538 5.7.11 *
        C: MAIL FROM:<toto@example.test>
        S: 530 5.7.0 *STARTTLS*
        C: STARTTLS
        S: 220 2.0.0 *
        TLS
        # RFC 3207 §4.2: EHLO is forgotten; MAIL first is out of sequence.
        C: MAIL FROM:<toto@example.test>
        S: 503 5.5.1 *
        C: EHLO client.example
        S: 250-*
        S: 250-PIPELINING
        S: 250-SIZE *
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 AUTH PLAIN LOGIN
        C: MAIL FROM:<toto@example.test>
        S: 530 5.7.0 Authentication required
        C: AUTH PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=
        S: 235 2.7.0 *
        C: MAIL FROM:<tata@example.test>
        S: 250 2.1.0 *
        C: RCPT TO:<friend@elsewhere.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;friend@elsewhere.example
        S: 250 2.1.5 *
        C: DATA
        S: 354 *
        C: From: <tata@example.test>
        C: Subject: out
        C:
        C: hi
        C: .
        S: 250 2.0.0 *
        # RFC 6533 §3: the utf-8 type of ORCPT, as xtext; a value outside its grammar is a
        # syntax error.
        C: MAIL FROM:<tata@example.test> SMTPUTF8
        S: 250 2.1.0 *
        C: RCPT TO:<other@elsewhere.example> ORCPT=utf-8;a+b@elsewhere.example
        S: 501 5.5.4 *ORCPT*
        C: RCPT TO:<jörg@elsewhere.example> NOTIFY=FAILURE ORCPT=utf-8;j\\x{F6}rg@elsewhere.example
        S: 250 2.1.5 *
        C: DATA
        S: 354 *
        C: From: <tata@example.test>
        C: Subject: out again
        C:
        C: hi
        C: .
        S: 250 2.0.0 *
        C: QUIT
        S: 221 *
        END";
    run(
        &f,
        server(&f, ListenerKind::Submission, Limits::default()),
        script,
    )
    .await;
    let queued = f.stores.queue.queued().await.unwrap();
    assert_eq!(queued.len(), 2);
    let rcpt = &queued[0].message.recipients[0];
    assert_eq!(rcpt.address.to_string(), "friend@elsewhere.example");
    let notify = rcpt.notify.unwrap();
    assert!(!notify.success && notify.failure && notify.delay);
    assert_eq!(
        rcpt.orcpt.as_deref(),
        Some("rfc822;friend@elsewhere.example")
    );
    let utf8 = &queued[1].message.recipients;
    assert_eq!(utf8.len(), 1);
    assert_eq!(utf8[0].address.to_string(), "jörg@elsewhere.example");
    assert_eq!(
        utf8[0].orcpt.as_deref(),
        Some("utf-8;jörg@elsewhere.example")
    );
}

#[tokio::test]
async fn snd_1_auth_guards_and_auth_login_on_submissions() {
    let f = fixture().await;
    // LOGIN: "toto@example.test" and the password, each after its challenge.
    let script = "
        S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 AUTH PLAIN LOGIN
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: dG90b0BleGFtcGxlLnRlc3Q=
        S: 334 UGFzc3dvcmQ6
        C: bWFpbGJveC1zZWNyZXQtMQ==
        S: 235 2.7.0 *
        C: MAIL FROM:<info@example.test>
        S: 553 5.7.1 Sender denied: auth guards failed
        C: MAIL FROM:<toto@example.test>
        S: 250 2.1.0 *
        C: RCPT TO:<tata@example.test>
        S: 250 2.1.5 *
        C: DATA
        S: 354 *
        C: From: Someone Else <info@example.test>
        C:
        C: forged
        C: .
        S: 553 5.7.1 Sender denied: auth guards failed
        C: QUIT
        S: 221 *
        END";
    run(
        &f,
        server(&f, ListenerKind::Submissions, Limits::default()),
        script,
    )
    .await;
    assert!(inbox(&f, "toto@example.test").await.is_empty());
}

#[tokio::test]
async fn id_2_wrong_password_is_535_and_mx_never_offers_auth() {
    let f = fixture().await;
    let script = "
        S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 AUTH PLAIN LOGIN
        C: AUTH PLAIN
        S: 334*
        C: AHRvdG9AZXhhbXBsZS50ZXN0AHdyb25n
        S: 535 5.7.8 Authentication credentials invalid
        C: AUTH CRAM-MD5
        S: 504 5.5.4 *
        C: AUTH LOGIN
        S: 334 *
        C: *
        S: 501 5.7.0 *
        C: QUIT
        S: 221 *";
    run(
        &f,
        server(&f, ListenerKind::Submissions, Limits::default()),
        script,
    )
    .await;
    let mx = format!(
        "{EHLO_MX_PLAIN}
        C: AUTH PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=
        S: 502 5.5.1 *
        C: QUIT
        S: 221 *"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &mx).await;
}

#[tokio::test]
async fn rcv_11_smuggled_end_of_data_never_makes_a_second_message() {
    let f = fixture().await;
    let script = format!(
        "{EHLO_MX_PLAIN}
        C: MAIL FROM:<a@remote.example>
        S: 250 *
        C: RCPT TO:<toto@example.test>
        S: 250 *
        C: DATA
        S: 354 *
        C~ Subject: one\\r\\n\\r\\nbody\\n.\\nMAIL FROM:<b@remote.example>\\r\\nRCPT TO:<toto@example.test>\\r\\nDATA\\r\\nSubject: two\\r\\n\\r\\n.\\r\\n
        S: 554 5.6.0 *bare CR or LF*
        C: NOOP
        S: 250 2.0.0 OK
        C: QUIT
        S: 221 *"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &script).await;
    assert!(inbox(&f, "toto@example.test").await.is_empty());
}

#[tokio::test]
async fn rcv_11_pipelined_commands_get_batched_replies_in_order() {
    let f = fixture().await;
    let script = format!(
        "{EHLO_MX_PLAIN}
        C~ MAIL FROM:<a@remote.example>\\r\\nRCPT TO:<toto@example.test>\\r\\nRCPT TO:<x@example.test>\\r\\nDATA\\r\\n
        S: 250 2.1.0 *
        S: 250 2.1.5 *
        S: 550 5.1.1 *
        S: 354 *
        C~ Subject: p\\r\\n\\r\\nx\\r\\n.\\r\\nRSET\\r\\nQUIT\\r\\n
        S: 250 2.0.0 *
        S: 250 2.0.0 Reset
        S: 221 *
        END"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &script).await;
    assert_eq!(inbox(&f, "toto@example.test").await.len(), 1);
}

#[tokio::test]
async fn rfc_3030_bdat_and_limits_on_size_lines_recipients_and_errors() {
    let f = fixture().await;
    let limits = Limits {
        max_message_size: 40,
        max_recipients: 1,
        max_line_length: 600,
        max_errors: 4,
        ..Limits::default()
    };
    let long = "x".repeat(700);
    let script = format!(
        "S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-PIPELINING
        S: 250-SIZE 40
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-CHUNKING
        S: 250 STARTTLS
        C: MAIL FROM:<a@remote.example> SIZE=41
        S: 552 5.3.4 *
        C: MAIL FROM:<a@remote.example> SIZE=10
        S: 250 *
        C: RCPT TO:<toto@example.test>
        S: 250 *
        C: RCPT TO:<tata@example.test>
        S: 452 4.5.3 *
        C~ BDAT 12\\r\\nSubject: b\\r\\nBDAT 4 LAST\\r\\n\\r\\nok
        S: 250 2.0.0 12 octets received
        S: 250 2.0.0 OK queued as *
        C: NOOP {long}
        S: 500 5.5.2 Line too long
        C: MAIL FROM:<a@remote.example>
        S: 250 *
        C: RCPT TO:<toto@example.test>
        S: 250 *
        C~ BDAT 50 LAST\\r\\n{fifty}
        S: 552 5.3.4 *
        C: BOGUS
        S: 500 5.5.1 *
        S: 421 4.7.0 *
        END",
        fifty = "y".repeat(50)
    );
    run(&f, server(&f, ListenerKind::Mx, limits), &script).await;
    let inbox = inbox(&f, "toto@example.test").await;
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].ends_with(b"Subject: b\r\n\r\nok"));
}

#[tokio::test]
async fn rcv_10_non_ascii_header_needs_smtputf8_and_vrfy_discloses_nothing() {
    let f = fixture().await;
    let script = format!(
        "{EHLO_MX_PLAIN}
        C: VRFY toto@example.test
        S: 252 2.5.0 *
        C: VRFY nobody@example.test
        S: 252 2.5.0 *
        C: MAIL FROM:<a@remote.example>
        S: 250 *
        C: RCPT TO:<toto@example.test>
        S: 250 *
        C: DATA
        S: 354 *
        C: Subject: Grüße
        C:
        C: x
        C: .
        S: 554 5.6.7 *Subject*
        C: MAIL FROM:<a@remote.example> SMTPUTF8
        S: 250 *
        C: RCPT TO:<toto@example.test>
        S: 250 *
        C: DATA
        S: 354 *
        C: Subject: Grüße
        C:
        C: x
        C: .
        S: 250 *
        C: QUIT
        S: 221 *"
    );
    run(&f, server(&f, ListenerKind::Mx, Limits::default()), &script).await;
    let inbox = inbox(&f, "toto@example.test").await;
    assert_eq!(inbox.len(), 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("with UTF8SMTP\r\n"));
}

#[tokio::test]
async fn id_6_a_password_change_ends_the_session_at_the_next_transaction() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Submissions, Limits::default());
    let mut client = connect(&f, &server).await;
    client
        .send(b"EHLO c\r\nAUTH PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=\r\n")
        .await;
    let mut last = String::new();
    while !last.starts_with("235") {
        last = client.read_line().await.unwrap();
    }
    let admin = Admin::from_stores(&f.stores);
    admin
        .set_address_password(
            Actor::Operator,
            "toto@example.test",
            Some("another-secret-2"),
            false,
        )
        .await
        .unwrap();
    client.send(b"MAIL FROM:<toto@example.test>\r\n").await;
    let reply = client.read_line().await.unwrap();
    assert!(reply.starts_with("421 4.7.0"), "{reply}");
    assert_eq!(client.read_line().await, None);
    client.finish().await;
}

#[tokio::test]
async fn rcv_11_an_idle_session_is_closed_with_421() {
    let f = fixture().await;
    let limits = Limits {
        idle_timeout: std::time::Duration::from_secs(1),
        ..Limits::default()
    };
    let script = "
        S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 STARTTLS
        S: 421 4.4.2 *
        END";
    run(&f, server(&f, ListenerKind::Mx, limits), script).await;
}

#[tokio::test]
async fn ops_2_shutdown_ends_an_idle_session_with_421() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Mx, Limits::default());
    let mut client = connect(&f, &server).await;
    let greeting = client.read_line().await.unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    server.shutdown.trigger();
    let reply = client.read_line().await.unwrap();
    assert!(reply.starts_with("421 4.3.2"), "{reply}");
    assert_eq!(client.read_line().await, None);
    client.finish().await;
}
