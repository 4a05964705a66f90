//! Conversation scripts run against the real session over an in-memory stream, with the real
//! `core` login over a real embedded store in a temporary folder. Named after the requirement
//! or RFC rule they prove.
//!
//! Script lines: `C: text` is sent with CRLF; `C~ text` is sent as is, after turning `\r` and
//! `\n` into CR and LF; `S: pattern` must match the next line the server sends, where `*`
//! matches any run of characters (`S:` alone expects an empty line); `TLS` runs a TLS handshake as a client (after `+OK` to
//! STLS); `END` expects the server to close the connection. A test may hold several clients
//! and act on the store between their lines.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use postwerk_core::{Actor, Admin, FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, FolderId};
use postwerk_net::Shutdown;
use postwerk_pop3::{Limits, ListenerKind, MaildropLocks, Server};
use postwerk_store::{DeliveryTarget, FlagOp, Flags, Stores, SystemFlags, UidSet};
use postwerk_testkit::directory::Directory;
use postwerk_testkit::transcript::{Client, TlsPair};

const TOTO: &str = "toto@example.test";
const PASSWORD: &str = "mailbox-secret-1";

/// The three messages in toto's INBOX, in delivery order: the second has lines starting with
/// "." (byte-stuffing), the third a body of several lines (TOP).
const MESSAGES: [&str; 3] = [
    "From: a@remote.example\r\nTo: toto@example.test\r\nSubject: one\r\n\r\nHello.\r\n",
    "From: b@remote.example\r\nSubject: two\r\n\r\n.dotted\r\n..double\r\n.\r\nend\r\n",
    "From: c@remote.example\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\nline 3\r\n",
];

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    tls: TlsPair,
    toto: AddressId,
    inbox: FolderId,
    locks: Arc<MaildropLocks>,
}

/// example.test with the mailbox toto (three messages) and a second mailbox other.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    let toto = directory.mailbox(TOTO, PASSWORD).await;
    directory.mailbox("other@example.test", PASSWORD).await;
    let Directory { dir, stores, .. } = directory;
    for raw in MESSAGES {
        let index = MessageIndex::parse(raw.as_bytes());
        stores
            .mail
            .deliver(
                raw.as_bytes(),
                &index,
                &[DeliveryTarget::inbox(toto)],
                &Flags::none(),
                1_700_000_000,
            )
            .await
            .unwrap();
    }
    let inbox = stores
        .mail
        .folder_by_name(toto, "INBOX")
        .await
        .unwrap()
        .unwrap()
        .id;
    let tls = TlsPair::self_signed(&dir.path().join("tls"));
    Fixture {
        _dir: dir,
        stores,
        tls,
        toto,
        inbox,
        locks: MaildropLocks::new(),
    }
}

fn server_with(
    f: &Fixture,
    kind: ListenerKind,
    limits: Limits,
    policy: FailurePolicy,
) -> Arc<Server> {
    let stores = &f.stores;
    Arc::new(Server {
        hostname: "mail.example.test".into(),
        kind,
        limits,
        auth: Arc::new(MailboxAuth::new(
            stores.directory.clone(),
            Arc::new(FailureLimiter::new(policy)),
        )),
        mail: stores.mail.clone(),
        locks: f.locks.clone(),
        tls: Some(f.tls.acceptor.clone()),
        shutdown: Shutdown::new(),
    })
}

fn server(f: &Fixture, kind: ListenerKind) -> Arc<Server> {
    server_with(f, kind, Limits::default(), FailurePolicy::default())
}

/// A client connected to a fresh session of `server` (TLS first on pop3s).
async fn connect(f: &Fixture, server: &Arc<Server>) -> Client {
    let session = server.clone();
    let mut client = Client::connect(&f.tls.connector, move |io, peer| session.handle(io, peer));
    if server.kind == ListenerKind::Pop3s {
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

async fn inbox_uids(f: &Fixture) -> Vec<u32> {
    f.stores
        .mail
        .list_messages(f.inbox, &UidSet::all())
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect()
}

fn plain(authzid: &str, user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{authzid}\0{user}\0{password}"))
}

/// Greeting, then login with USER/PASS over implicit TLS.
const LOGIN_POP3S: &str = "
    S: +OK mail.example.test Postwerk POP3 server ready
    C: USER toto@example.test
    S: +OK *
    C: PASS mailbox-secret-1
    S: +OK Logged in; maildrop has 3 messages (*
";

// ---- 1: listeners, TLS, capabilities

#[tokio::test]
async fn proto_3_login_refused_before_stls_and_capa_follows_the_state() {
    let f = fixture().await;
    let script = "
        S: +OK mail.example.test Postwerk POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S: CAPA
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: STLS
        S: IMPLEMENTATION Postwerk
        S: .
        C: USER toto@example.test
        S: -ERR [AUTH] Log in over TLS only: send STLS first*
        C: PASS mailbox-secret-1
        S: -ERR [AUTH] Log in over TLS only*
        C: AUTH PLAIN
        S: -ERR [AUTH] Log in over TLS only*
        C: STAT
        S: -ERR Log in first
        C: STLS
        S: +OK Begin TLS negotiation
        TLS
        C: CAPA
        S: +OK Capability list follows
        S: CAPA
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: USER
        S: SASL PLAIN
        S: IMPLEMENTATION Postwerk
        S: .
        C: STLS
        S: -ERR Already using TLS
        C: USER toto@example.test
        S: +OK Send the mailbox password
        C: PASS mailbox-secret-1
        S: +OK Logged in; maildrop has 3 messages (*
        C: CAPA
        S: +OK Capability list follows
        S: CAPA
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: IMPLEMENTATION Postwerk
        S: .
        C: STLS
        S: -ERR Already logged in
        C: QUIT
        S: +OK mail.example.test POP3 server signing off
        END
    ";
    run(&f, server(&f, ListenerKind::Pop3), script).await;
}

#[tokio::test]
async fn proto_2_pop3s_speaks_inside_implicit_tls() {
    let f = fixture().await;
    let script = format!(
        "{LOGIN_POP3S}
        C: STAT
        S: +OK 3 {}
        C: QUIT
        S: +OK *signing off
        END",
        MESSAGES.iter().map(|m| m.len()).sum::<usize>()
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn rfc_2595_user_given_in_clear_text_is_forgotten_after_stls() {
    let f = fixture().await;
    let script = "
        S: +OK *
        C: STLS
        S: +OK Begin TLS negotiation
        TLS
        C: PASS mailbox-secret-1
        S: -ERR Send USER first
        C: QUIT
        S: +OK *
        END
    ";
    run(&f, server(&f, ListenerKind::Pop3), script).await;
}

#[tokio::test]
async fn rfc_2595_commands_pipelined_after_stls_in_clear_text_are_dropped() {
    let f = fixture().await;
    let script = "
        S: +OK *
        C~ STLS\\r\\nCAPA\\r\\n
        S: +OK Begin TLS negotiation
        TLS
        C: STAT
        S: -ERR Log in first
        C: QUIT
        S: +OK *
        END
    ";
    run(&f, server(&f, ListenerKind::Pop3), script).await;
}

// ---- 2: RFC 1939 commands

#[tokio::test]
async fn rfc_1939_stat_list_and_uidl_describe_the_inbox() {
    let f = fixture().await;
    let sizes: Vec<usize> = MESSAGES.iter().map(|m| m.len()).collect();
    let total: usize = sizes.iter().sum();
    let uids = inbox_uids(&f).await;
    let validity = f
        .stores
        .mail
        .folder(f.inbox)
        .await
        .unwrap()
        .unwrap()
        .uid_validity;
    let id = |uid: u32| format!("{validity:08x}{uid:08x}");
    let script = format!(
        "{LOGIN_POP3S}
        C: STAT
        S: +OK 3 {total}
        C: LIST
        S: +OK 3 messages ({total} octets)
        S: 1 {}
        S: 2 {}
        S: 3 {}
        S: .
        C: LIST 2
        S: +OK 2 {}
        C: LIST 4
        S: -ERR No such message
        C: UIDL
        S: +OK Unique-id listing follows
        S: 1 {}
        S: 2 {}
        S: 3 {}
        S: .
        C: UIDL 3
        S: +OK 3 {}
        C: uidl 9
        S: -ERR No such message
        C: NOOP
        S: +OK
        C: QUIT
        S: +OK *
        END",
        sizes[0],
        sizes[1],
        sizes[2],
        sizes[1],
        id(uids[0]),
        id(uids[1]),
        id(uids[2]),
        id(uids[2]),
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn rfc_1939_retr_sends_the_message_byte_stuffed() {
    let f = fixture().await;
    let script = format!(
        "{LOGIN_POP3S}
        C: RETR 2
        S: +OK {} octets
        S: From: b@remote.example
        S: Subject: two
        S:
        S: ..dotted
        S: ...double
        S: ..
        S: end
        S: .
        C: RETR 1
        S: +OK {} octets
        S: From: a@remote.example
        S: To: toto@example.test
        S: Subject: one
        S:
        S: Hello.
        S: .
        C: RETR 7
        S: -ERR No such message
        C: QUIT
        S: +OK *
        END",
        MESSAGES[1].len(),
        MESSAGES[0].len()
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn rfc_1939_top_sends_the_header_and_n_body_lines() {
    let f = fixture().await;
    let script = format!(
        "{LOGIN_POP3S}
        C: TOP 3 2
        S: +OK Top of message follows
        S: From: c@remote.example
        S: Subject: three
        S:
        S: line 1
        S: line 2
        S: .
        C: TOP 3 0
        S: +OK *
        S: From: c@remote.example
        S: Subject: three
        S:
        S: .
        C: TOP 2 1
        S: +OK *
        S: From: b@remote.example
        S: Subject: two
        S:
        S: ..dotted
        S: .
        C: TOP 3
        S: -ERR TOP needs a message number and a number of lines
        C: QUIT
        S: +OK *
        END"
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn rfc_1939_dele_marks_rset_unmarks_and_only_quit_deletes() {
    let f = fixture().await;
    let before = inbox_uids(&f).await;
    let script = format!(
        "{LOGIN_POP3S}
        C: DELE 1
        S: +OK Message 1 deleted
        C: DELE 1
        S: -ERR Message 1 already deleted
        C: RETR 1
        S: -ERR Message 1 already deleted
        C: LIST 1
        S: -ERR Message 1 already deleted
        C: STAT
        S: +OK 2 {}
        C: LIST
        S: +OK 2 messages *
        S: 2 *
        S: 3 *
        S: .
        C: RSET
        S: +OK Maildrop has 3 messages *
        C: DELE 1
        S: +OK *
        C: DELE 3
        S: +OK *",
        MESSAGES[1].len() + MESSAGES[2].len()
    );
    let mut client = connect(&f, &server(&f, ListenerKind::Pop3s)).await;
    client.script(&script).await;
    assert_eq!(inbox_uids(&f).await, before, "nothing deleted before QUIT");
    client
        .script(
            "
        C: QUIT
        S: +OK mail.example.test POP3 server signing off (2 messages deleted)
        END",
        )
        .await;
    client.finish().await;
    assert_eq!(inbox_uids(&f).await, [before[1]], "deleted at QUIT");
}

#[tokio::test]
async fn rfc_1939_a_session_that_ends_without_quit_deletes_nothing() {
    let f = fixture().await;
    let before = inbox_uids(&f).await;
    let script = format!(
        "{LOGIN_POP3S}
        C: DELE 1
        S: +OK *
        C: DELE 2
        S: +OK *"
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
    assert_eq!(inbox_uids(&f).await, before, "hang-up: no UPDATE state");
}

#[tokio::test]
async fn rfc_1939_commands_outside_their_state_are_refused_and_the_session_goes_on() {
    let f = fixture().await;
    let script = "
        S: +OK *
        C: NOOP
        S: -ERR Log in first
        C: RSET
        S: -ERR Log in first
        C: RETR 1
        S: -ERR Log in first
        C: UIDL
        S: -ERR Log in first
        C: APOP toto@example.test c4c9334bac560ecc979e58001b3e22fb
        S: -ERR APOP is not offered*
        C: USER toto@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: +OK Logged in*
        C: USER toto@example.test
        S: -ERR Already logged in
        C: PASS mailbox-secret-1
        S: -ERR Already logged in
        C: AUTH PLAIN
        S: -ERR Already logged in
        C: QUIT
        S: +OK *
        END
    ";
    run(&f, server(&f, ListenerKind::Pop3s), script).await;
}

// ---- 2: AUTH PLAIN and response codes

#[tokio::test]
async fn rfc_5034_auth_plain_with_an_initial_response() {
    let f = fixture().await;
    let script = format!(
        "
        S: +OK *
        C: AUTH
        S: +OK SASL mechanisms follow
        S: PLAIN
        S: .
        C: AUTH PLAIN {}
        S: +OK Logged in; maildrop has 3 messages*
        C: QUIT
        S: +OK *
        END",
        plain("", TOTO, PASSWORD)
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn rfc_5034_auth_plain_after_the_empty_challenge_and_cancel() {
    let f = fixture().await;
    let script = format!(
        "
        S: +OK *
        C: AUTH PLAIN
        S: + *
        C: *
        S: -ERR Authentication cancelled
        C: AUTH PLAIN
        S: + *
        C: not-base64!
        S: -ERR Malformed SASL response
        C: AUTH CRAM-MD5
        S: -ERR Unsupported authentication mechanism*
        C: AUTH PLAIN
        S: + *
        C: {}
        S: +OK Logged in*
        C: QUIT
        S: +OK *
        END",
        plain(TOTO, TOTO, PASSWORD)
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn id_2_wrong_password_or_unknown_address_get_auth_code() {
    let f = fixture().await;
    let script = format!(
        "
        S: +OK *
        C: PASS mailbox-secret-1
        S: -ERR Send USER first
        C: USER toto@example.test
        S: +OK *
        C: PASS wrong-password
        S: -ERR [AUTH] Invalid address or password
        C: PASS mailbox-secret-1
        S: -ERR Send USER first
        C: USER nobody@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: -ERR [AUTH] Invalid address or password
        C: AUTH PLAIN {}
        S: -ERR [AUTH] Invalid address or password
        C: QUIT
        S: +OK *
        END",
        plain("other@example.test", TOTO, PASSWORD)
    );
    let policy = FailurePolicy {
        free_failures: 10,
        ..FailurePolicy::default()
    };
    run(
        &f,
        server_with(&f, ListenerKind::Pop3s, Limits::default(), policy),
        &script,
    )
    .await;
}

#[tokio::test]
async fn auth_failures_lock_the_client_out_with_sys_temp() {
    let f = fixture().await;
    let policy = FailurePolicy {
        free_failures: 5,
        lockout_after: 2,
        delay_step: Duration::ZERO,
        ..FailurePolicy::default()
    };
    let script = "
        S: +OK *
        C: USER toto@example.test
        S: +OK *
        C: PASS wrong-1
        S: -ERR [AUTH] *
        C: USER toto@example.test
        S: +OK *
        C: PASS wrong-2
        S: -ERR [AUTH] *
        C: USER toto@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: -ERR [SYS/TEMP] Too many failed logins*
        C: QUIT
        S: +OK *
        END
    ";
    run(
        &f,
        server_with(&f, ListenerKind::Pop3s, Limits::default(), policy),
        script,
    )
    .await;
}

#[tokio::test]
async fn a_disabled_mailbox_is_refused_with_sys_perm() {
    let f = fixture().await;
    f.stores
        .directory
        .set_address_enabled(f.toto, false)
        .await
        .unwrap();
    let script = "
        S: +OK *
        C: USER toto@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: -ERR [SYS/PERM] This mailbox is disabled
        C: QUIT
        S: +OK *
        END
    ";
    run(&f, server(&f, ListenerKind::Pop3s), script).await;
}

// ---- 3: semantics

#[tokio::test]
async fn rfc_2449_a_second_pop3_session_on_the_maildrop_is_refused_in_use() {
    let f = fixture().await;
    // The two listeners share the lock table.
    let mut first = connect(&f, &server(&f, ListenerKind::Pop3s)).await;
    first.script(LOGIN_POP3S).await;
    let mut second = connect(&f, &server(&f, ListenerKind::Pop3)).await;
    second
        .script(
            "
        S: +OK *
        C: STLS
        S: +OK *
        TLS
        C: USER toto@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: -ERR [IN-USE] The maildrop is already open in another POP3 session
        C: USER other@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: +OK Logged in; maildrop has 0 messages (0 octets)
        C: QUIT
        S: +OK *
        END",
        )
        .await;
    second.finish().await;
    first.script("C: QUIT\nS: +OK *\nEND").await;
    first.finish().await;
    run(
        &f,
        server(&f, ListenerKind::Pop3s),
        &format!("{LOGIN_POP3S}\nC: QUIT\nS: +OK *\nEND"),
    )
    .await;
}

#[tokio::test]
async fn uidl_is_stable_across_sessions_and_never_reused() {
    let f = fixture().await;
    let mut first = connect(&f, &server(&f, ListenerKind::Pop3s)).await;
    first.script(LOGIN_POP3S).await;
    first.script("C: UIDL 2").await;
    let second_id = first.read_line().await.unwrap();
    first.script("C: UIDL 3").await;
    let third_id = first.read_line().await.unwrap();
    first
        .script("C: DELE 1\nS: +OK *\nC: QUIT\nS: +OK *(1 message deleted)\nEND")
        .await;
    first.finish().await;
    // A new message after the deletion gets a new id; the others keep theirs, renumbered.
    let raw = "Subject: four\r\n\r\nx\r\n";
    f.stores
        .mail
        .deliver(
            raw.as_bytes(),
            &MessageIndex::parse(raw.as_bytes()),
            &[DeliveryTarget::inbox(f.toto)],
            &Flags::none(),
            1_700_000_000,
        )
        .await
        .unwrap();
    let id = |line: &str| line.split(' ').nth(2).unwrap_or_default().to_owned();
    let (second_id, third_id) = (id(&second_id), id(&third_id));
    let mut again = connect(&f, &server(&f, ListenerKind::Pop3s)).await;
    again
        .script(&format!(
            "
        S: +OK *
        C: USER toto@example.test
        S: +OK *
        C: PASS mailbox-secret-1
        S: +OK Logged in; maildrop has 3 messages*
        C: UIDL
        S: +OK *
        S: 1 {second_id}
        S: 2 {third_id}"
        ))
        .await;
    let fourth = again.read_line().await.unwrap();
    assert!(fourth.starts_with("3 "), "{fourth}");
    let fourth = fourth.trim_start_matches("3 ").to_owned();
    assert!(
        fourth != second_id && fourth != third_id && fourth.len() == 16,
        "{fourth}"
    );
    again.script("S: .\nC: QUIT\nS: +OK *\nEND").await;
    again.finish().await;
}

#[tokio::test]
async fn messages_expunged_by_another_client_are_handled_without_error() {
    let f = fixture().await;
    let uids = inbox_uids(&f).await;
    let mut client = connect(&f, &server(&f, ListenerKind::Pop3s)).await;
    client.script(LOGIN_POP3S).await;
    // An IMAP client deletes message 2 while the POP3 session holds its snapshot.
    let mail = &f.stores.mail;
    let deleted = Flags::system(SystemFlags::DELETED);
    let doomed = UidSet::single(uids[1]);
    mail.set_flags(f.inbox, &doomed, FlagOp::Add, &deleted, None)
        .await
        .unwrap();
    mail.expunge(f.inbox, Some(&doomed)).await.unwrap();
    client
        .script(
            "
        C: STAT
        S: +OK 3 *
        C: RETR 2
        S: -ERR Message 2 was removed by another client
        C: TOP 2 0
        S: -ERR Message 2 was removed by another client
        C: RETR 3
        S: +OK *
        S: From: c@remote.example
        S: Subject: three
        S:
        S: line 1
        S: line 2
        S: line 3
        S: .
        C: DELE 2
        S: +OK *
        C: DELE 3
        S: +OK *
        C: QUIT
        S: +OK *(1 message deleted)
        END",
        )
        .await;
    client.finish().await;
    assert_eq!(inbox_uids(&f).await, [uids[0]]);
}

#[tokio::test]
async fn quit_leaves_messages_flagged_deleted_by_imap_but_not_marked_here() {
    let f = fixture().await;
    let uids = inbox_uids(&f).await;
    f.stores
        .mail
        .set_flags(
            f.inbox,
            &UidSet::single(uids[0]),
            FlagOp::Add,
            &Flags::system(SystemFlags::DELETED),
            None,
        )
        .await
        .unwrap();
    let script = format!(
        "{LOGIN_POP3S}
        C: DELE 3
        S: +OK *
        C: QUIT
        S: +OK *(1 message deleted)
        END"
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
    assert_eq!(inbox_uids(&f).await, [uids[0], uids[1]]);
}

#[tokio::test]
async fn id_6_a_password_change_ends_the_session_without_update() {
    let f = fixture().await;
    let before = inbox_uids(&f).await;
    let mut client = connect(&f, &server(&f, ListenerKind::Pop3s)).await;
    client.script(LOGIN_POP3S).await;
    client.script("C: DELE 1\nS: +OK *").await;
    Admin::from_stores(&f.stores)
        .set_address_password(Actor::Operator, TOTO, Some("new-secret-22"), false)
        .await
        .unwrap();
    client
        .script(
            "
        C: QUIT
        S: -ERR [AUTH] The mailbox password was changed*
        END",
        )
        .await;
    client.finish().await;
    assert_eq!(inbox_uids(&f).await, before, "no UPDATE after ID-6");
    let script = "
        S: +OK *
        C: USER toto@example.test
        S: +OK *
        C: PASS new-secret-22
        S: +OK Logged in*
        C: QUIT
        S: +OK *
        END
    ";
    run(&f, server(&f, ListenerKind::Pop3s), script).await;
}

// ---- 4: limits and hostile input

#[tokio::test]
async fn unknown_commands_and_long_lines_get_err_and_the_connection_stays() {
    let f = fixture().await;
    let long = "x".repeat(3000);
    let script = format!(
        "
        S: +OK *
        C: HELO there
        S: -ERR Unknown command
        C: XTND XMIT
        S: -ERR Unknown command
        C:
        S: -ERR Unknown command
        C: RETR one
        S: -ERR invalid message number
        C: {long}
        S: -ERR Line too long
        C~ CAPA\\n
        S: +OK *
        S: CAPA
        S: *
        S: *
        S: *
        S: *
        S: *
        S: USER
        S: *
        S: *
        S: .
        C: QUIT
        S: +OK *
        END"
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn too_many_bad_commands_close_the_session() {
    let f = fixture().await;
    let limits = Limits {
        max_errors: 3,
        ..Limits::default()
    };
    let script = "
        S: +OK *
        C: FOO
        S: -ERR Unknown command
        C: BAR
        S: -ERR Unknown command
        C: BAZ
        S: -ERR Unknown command
        S: -ERR Too many bad commands; closing
        END
    ";
    run(
        &f,
        server_with(&f, ListenerKind::Pop3s, limits, FailurePolicy::default()),
        script,
    )
    .await;
}

#[tokio::test]
async fn rfc_1939_autologout_ends_an_idle_session_without_update() {
    let f = fixture().await;
    let before = inbox_uids(&f).await;
    let limits = Limits {
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let script = format!(
        "{LOGIN_POP3S}
        C: DELE 1
        S: +OK *
        S: -ERR Disconnected for inactivity
        END"
    );
    run(
        &f,
        server_with(&f, ListenerKind::Pop3s, limits, FailurePolicy::default()),
        &script,
    )
    .await;
    assert_eq!(inbox_uids(&f).await, before);
}

#[tokio::test]
async fn rfc_2449_pipelined_commands_are_answered_in_order() {
    let f = fixture().await;
    let script = format!(
        "{LOGIN_POP3S}
        C~ STAT\\r\\nLIST 1\\r\\nUIDL 1\\r\\nNOOP\\r\\n
        S: +OK 3 *
        S: +OK 1 {}
        S: +OK 1 *
        S: +OK
        C: QUIT
        S: +OK *
        END",
        MESSAGES[0].len()
    );
    run(&f, server(&f, ListenerKind::Pop3s), &script).await;
}

#[tokio::test]
async fn shutdown_ends_sessions_between_commands_without_update() {
    let f = fixture().await;
    let before = inbox_uids(&f).await;
    let server = server(&f, ListenerKind::Pop3s);
    let mut client = connect(&f, &server).await;
    client.script(LOGIN_POP3S).await;
    client.script("C: DELE 1\nS: +OK *").await;
    server.shutdown.trigger();
    client
        .script("S: -ERR [SYS/TEMP] Server shutting down*\nEND")
        .await;
    client.finish().await;
    assert_eq!(inbox_uids(&f).await, before);
}
