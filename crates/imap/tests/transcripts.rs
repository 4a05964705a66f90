//! Conversation scripts run against the real IMAP session over an in-memory stream, with the
//! real `core` login over a real embedded store in a temporary folder (script syntax:
//! `postwerk_testkit::transcript`). Named after the requirement or RFC rule they prove.

use std::sync::Arc;

use postwerk_core::{Actor, Admin, CreateAddress, FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_imap::{Limits, ListenerKind, Server};
use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, AddressKind};
use postwerk_net::Shutdown;
use postwerk_store::{DeliveryTarget, Flags, Stores};
use postwerk_testkit::transcript::{Client, TlsPair};

const TOTO: &str = "toto@example.test";
const PASSWORD: &str = "mailbox-secret-1";

/// Two messages in toto's INBOX.
const MESSAGES: [&str; 2] = [
    "From: Alice <alice@remote.example>\r\nTo: toto@example.test\r\nSubject: one\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <one@remote.example>\r\n\r\nHello.\r\n",
    "From: bob@remote.example\r\nSubject: two\r\n\r\nSecond message.\r\n",
];

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    tls: TlsPair,
    toto: AddressId,
}

/// example.test with the mailbox toto (two messages) and a second mailbox other.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let admin = Admin::new(stores.directory.clone());
    let op = Actor::Operator;
    admin.create_org(op, "Acme").await.unwrap();
    admin
        .create_service(op, "example.test", "Acme", 100)
        .await
        .unwrap();
    for address in [TOTO, "other@example.test"] {
        let request = CreateAddress {
            address: address.into(),
            kind: AddressKind::Mailbox,
            password: Some(PASSWORD.into()),
            user: None,
            redirect_to: Vec::new(),
            keep_copy: false,
        };
        admin.create_address(op, request).await.unwrap();
    }
    let toto = stores
        .directory
        .address_by_address(&TOTO.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let f = Fixture {
        tls: TlsPair::self_signed(&dir.path().join("tls")),
        _dir: dir,
        stores,
        toto,
    };
    for raw in MESSAGES {
        deliver(&f, raw).await;
    }
    f
}

async fn deliver(f: &Fixture, raw: &str) {
    let index = MessageIndex::parse(raw.as_bytes());
    f.stores
        .mail
        .deliver(
            raw.as_bytes(),
            &index,
            &[DeliveryTarget::inbox(f.toto)],
            &Flags::none(),
            1_700_000_000,
        )
        .await
        .unwrap();
}

fn server_with(f: &Fixture, kind: ListenerKind, limits: Limits) -> Arc<Server> {
    Arc::new(Server {
        hostname: "mail.example.test".into(),
        kind,
        limits,
        auth: Arc::new(MailboxAuth::new(
            f.stores.directory.clone(),
            Arc::new(FailureLimiter::new(FailurePolicy::default())),
        )),
        mail: f.stores.mail.clone(),
        directory: f.stores.directory.clone(),
        tls: Some(f.tls.acceptor.clone()),
        shutdown: Shutdown::new(),
    })
}

fn server(f: &Fixture, kind: ListenerKind) -> Arc<Server> {
    server_with(f, kind, Limits::default())
}

/// A client connected to a fresh session of `server` (TLS first on imaps).
async fn connect(f: &Fixture, server: &Arc<Server>) -> Client {
    let session = server.clone();
    let mut client = Client::connect(&f.tls.connector, move |io, peer| session.handle(io, peer));
    if server.kind == ListenerKind::Imaps {
        client.tls().await;
    }
    client
}

/// Runs `script` against a fresh session of `server` and waits for its end.
async fn run(f: &Fixture, server: Arc<Server>, script: &str) {
    let mut client = connect(f, &server).await;
    client.script(script).await;
    client.finish().await;
}

/// Greeting and login over implicit TLS.
const LOGIN_IMAPS: &str = "
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 * AUTH=PLAIN*] mail.example.test Postwerk IMAP ready
    C: a0 LOGIN toto@example.test mailbox-secret-1
    S: a0 OK [CAPABILITY IMAP4rev1 IMAP4rev2 *] Logged in
";

#[tokio::test]
async fn proto_3_login_disabled_before_starttls_and_capabilities_follow_the_state() {
    let f = fixture().await;
    run(
        &f,
        server(&f, ListenerKind::Imap),
        "
        S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE STARTTLS LOGINDISABLED COMPRESS=DEFLATE] *
        C: a1 LOGIN toto@example.test mailbox-secret-1
        S: a1 NO [PRIVACYREQUIRED] *
        C: a2 AUTHENTICATE PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=
        S: a2 NO [PRIVACYREQUIRED] *
        C: a3 SELECT INBOX
        S: a3 BAD Log in first
        C: a4 STARTTLS
        S: a4 OK Begin TLS negotiation now
        TLS
        C: a5 CAPABILITY
        S: * CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE AUTH=PLAIN COMPRESS=DEFLATE
        S: a5 OK CAPABILITY completed
        C: a6 STARTTLS
        S: a6 BAD TLS is already active
        C: a7 AUTHENTICATE PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=
        S: a7 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE *QRESYNC*APPENDLIMIT=* COMPRESS=DEFLATE] Logged in
        C: a8 LOGOUT
        S: * BYE Logging out
        S: a8 OK LOGOUT completed
        END
        ",
    )
    .await;
}

#[tokio::test]
async fn rfc_9051_6_2_1_commands_pipelined_after_starttls_are_discarded() {
    let f = fixture().await;
    run(
        &f,
        server(&f, ListenerKind::Imap),
        "
        S: * OK *
        C~ a1 STARTTLS\\r\\na2 LOGIN toto@example.test mailbox-secret-1\\r\\n
        S: a1 OK Begin TLS negotiation now
        TLS
        C: a3 NOOP
        S: a3 OK NOOP completed
        ",
    )
    .await;
}

#[tokio::test]
async fn id_2_wrong_password_and_sasl_continuation_and_cancel() {
    let f = fixture().await;
    run(
        &f,
        server(&f, ListenerKind::Imaps),
        "
        S: * OK *
        C: a1 LOGIN toto@example.test wrong-password
        S: a1 NO [AUTHENTICATIONFAILED] Invalid credentials
        C: a2 AUTHENTICATE PLAIN
        S: +*
        C: *
        S: a2 BAD Authentication cancelled
        C: a3 AUTHENTICATE PLAIN
        S: +*
        C: AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=
        S: a3 OK [CAPABILITY *] Logged in
        C: a4 LOGIN toto@example.test mailbox-secret-1
        S: a4 BAD Already logged in
        ",
    )
    .await;
}

#[tokio::test]
async fn rfc_9051_6_3_2_select_reports_the_folder_state() {
    let f = fixture().await;
    let inbox = f
        .stores
        .mail
        .folder_by_name(f.toto, "INBOX")
        .await
        .unwrap()
        .unwrap();
    let script = format!(
        "{LOGIN_IMAPS}
        C: a1 SELECT inbox
        S: * 2 EXISTS
        S: * 0 RECENT
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted
        S: * OK [UIDVALIDITY {validity}] UIDs valid
        S: * OK [UIDNEXT {next}] Predicted next UID
        S: * OK [UNSEEN 1] First unseen
        S: * OK [HIGHESTMODSEQ *] Highest
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 ENABLE IMAP4rev2 CONDSTORE
        S: * ENABLED IMAP4REV2 CONDSTORE
        S: a2 OK ENABLE completed
        C: a3 EXAMINE INBOX
        S: * OK [CLOSED] Previous folder closed
        S: * 2 EXISTS
        S: * FLAGS (*)
        S: * OK [PERMANENTFLAGS ()] Read-only folder
        S: * OK [UIDVALIDITY {validity}] UIDs valid
        S: * OK [UIDNEXT {next}] Predicted next UID
        S: * OK [HIGHESTMODSEQ *] Highest
        S: * LIST () \"/\" INBOX
        S: a3 OK [READ-ONLY] EXAMINE completed
        C: a4 SELECT Nowhere
        S: * OK [CLOSED] Previous folder closed
        S: a4 NO [NONEXISTENT] No such folder
        C: a5 FETCH 1 FLAGS
        S: a5 BAD No folder selected
        C: a6 SELECT ../other
        S: a6 NO *
        ",
        validity = inbox.uid_validity,
        next = inbox.uid_next,
    );
    run(&f, server(&f, ListenerKind::Imaps), &script).await;
}

#[tokio::test]
async fn rfc_2177_idle_reports_a_delivery_at_once_and_ends_with_done() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = connect(&f, &server).await;
    client
        .script(&format!(
            "{LOGIN_IMAPS}
            C: a1 SELECT INBOX
            S: * 2 EXISTS
            S: *
            S: *
            S: *
            S: *
            S: *
            S: *
            S: *
            S: a1 OK [READ-WRITE] SELECT completed
            C: a2 IDLE
            S: + idling
            "
        ))
        .await;
    deliver(&f, "Subject: three\r\n\r\nThird.\r\n").await;
    client
        .script(
            "
            S: * 3 EXISTS
            C: DONE
            S: a2 OK IDLE terminated
            C: a3 IDLE
            S: + idling
            C: nonsense
            S: a3 BAD Expected DONE
            ",
        )
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_9051_7_1_bad_commands_are_answered_and_too_many_close_the_session() {
    let f = fixture().await;
    let limits = Limits {
        max_errors: 3,
        ..Limits::default()
    };
    run(
        &f,
        server_with(&f, ListenerKind::Imaps, limits),
        "
        S: * OK *
        C: a1 FROBNICATE
        S: a1 BAD *
        C: a2 ID (\"name\" \"test client\")
        S: * ID (\"name\" \"Postwerk\" \"vendor\" \"Postwerk\")
        S: a2 OK ID completed
        C: )(
        S: * BAD *
        C: a3 LOGIN
        S: a3 BAD *
        S: * BYE Too many invalid commands
        END
        ",
    )
    .await;
}

#[tokio::test]
async fn rfc_7889_a_literal_over_the_limit_is_refused_and_the_session_goes_on() {
    let f = fixture().await;
    let limits = Limits {
        max_literal: 1000,
        ..Limits::default()
    };
    let script = format!(
        "{LOGIN_IMAPS}
        C: a1 APPEND INBOX {{5000}}
        S: a1 NO [TOOBIG] Literal too big
        C: a2 NOOP
        S: a2 OK NOOP completed
        "
    );
    run(&f, server_with(&f, ListenerKind::Imaps, limits), &script).await;
}

#[tokio::test]
async fn rfc_9051_4_3_before_login_only_small_literals_are_invited() {
    let f = fixture().await;
    run(
        &f,
        server(&f, ListenerKind::Imaps),
        "
        S: * OK *
        C: a1 LOGIN {50000000}
        S: a1 NO [TOOBIG] Literal too big
        C: a2 LOGIN {17}
        S: + Ready for literal data
        C~ toto@example.test {16+}\\r\\nmailbox-secret-1\\r\\n
        S: a2 OK [CAPABILITY *] Logged in
        C: a3 APPEND INBOX {50000}
        S: + Ready for literal data
        ",
    )
    .await;
}
