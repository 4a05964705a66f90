//! Conversation scripts run against the real IMAP session over an in-memory stream, with the
//! real `core` login over a real embedded store in a temporary folder (script syntax:
//! `postwerk_testkit::transcript`). Named after the requirement or RFC rule they prove.
//!
//! Issue 4: one test per command or family of commands, each asserting the exact lines the
//! server sends. `*` stands only where a test does not check the value (the greeting's
//! CAPABILITY list outside the capability tests); UIDVALIDITY, UIDNEXT and MODSEQs are read
//! from the store. (To the script runner the leading `*` of an untagged line is a wildcard
//! too; everything after it still has to match.)
//!
//! Layout: shared constants and helpers, then the tests by command in the order of RFC 9051
//! §6: session and login, SELECT/EXAMINE, CREATE/DELETE/RENAME, SUBSCRIBE, LIST/LSUB,
//! NAMESPACE, STATUS, APPEND, ENABLE, IDLE, FETCH, STORE, SEARCH, SORT/THREAD, COPY/MOVE,
//! EXPUNGE, CLOSE/UNSELECT, QUOTA, COMPRESS, and what one session sees of another's changes.

use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use postwerk_core::{FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_imap::{Limits, ListenerKind, Server};
use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, AddressKind, LocalPart};
use postwerk_net::Shutdown;
use postwerk_store::{DeliveryTarget, Flags, Folder, NewAddress, Stores, UidSet};
use postwerk_testkit::directory::Directory;
use postwerk_testkit::transcript::{Client, TlsPair, glob};

const TOTO: &str = "toto@example.test";
const PASSWORD: &str = "mailbox-secret-1";

/// Two messages in toto's INBOX.
const MESSAGES: [&str; 2] = [
    "From: Alice <alice@remote.example>\r\nTo: toto@example.test\r\nSubject: one\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <one@remote.example>\r\n\r\nHello.\r\n",
    "From: bob@remote.example\r\nSubject: two\r\n\r\nSecond message.\r\n",
];

/// A multipart message: a text part, and a base64 attachment that decodes to
/// `Hello, binary!` (14 octets).
const MULTIPART: &str = "From: carol@remote.example\r\nTo: toto@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attachment.\r\n--xyz\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8sIGJpbmFyeSE=\r\n--xyz--\r\n";

/// A reply to the first message, by subject and by reference.
const REPLY: &str = "From: dave@remote.example\r\nSubject: Re: one\r\nIn-Reply-To: <one@remote.example>\r\nReferences: <one@remote.example>\r\nDate: Tue, 8 Feb 1994 10:00:00 +0000\r\n\r\nReply.\r\n";

/// A reply to the first message by reference only: a subject of its own.
const ASIDE: &str = "From: erin@remote.example\r\nSubject: Lunch?\r\nIn-Reply-To: <one@remote.example>\r\nReferences: <one@remote.example>\r\nDate: Wed, 9 Feb 1994 12:00:00 +0000\r\n\r\nLunch?\r\n";

/// When [`deliver`] delivers (Unix seconds), and the INTERNALDATE that shows.
const DELIVERED_AT: i64 = 1_700_000_000;
const DELIVERED: &str = "14-Nov-2023 22:13:20 +0000";

/// Greeting and login over implicit TLS.
const LOGIN_IMAPS: &str = "
    S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 * AUTH=PLAIN*] mail.example.test Postwerk IMAP ready
    C: a0 LOGIN toto@example.test mailbox-secret-1
    S: a0 OK [CAPABILITY IMAP4rev1 IMAP4rev2 *] Logged in
";

/// The FLAGS and PERMANENTFLAGS lines of a read-write SELECT of a folder without keywords.
const FLAG_LINES: &str = r"
    S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
    S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted
";

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    tls: TlsPair,
    toto: AddressId,
}

/// example.test with the mailbox toto (two messages) and a second mailbox other.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    let toto = directory.mailbox(TOTO, PASSWORD).await;
    directory.mailbox("other@example.test", PASSWORD).await;
    let Directory { dir, stores, .. } = directory;
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

/// Delivers `raw` to toto's INBOX.
async fn deliver(f: &Fixture, raw: &str) {
    deliver_to(f, f.toto, raw).await;
}

async fn deliver_to(f: &Fixture, mailbox: AddressId, raw: &str) {
    let index = MessageIndex::parse(raw.as_bytes());
    f.stores
        .mail
        .deliver(
            raw.as_bytes(),
            &index,
            &[DeliveryTarget::inbox(mailbox)],
            &Flags::none(),
            DELIVERED_AT,
        )
        .await
        .unwrap();
}

/// Creates `quota@example.test` (toto's password) with a storage limit of `limit` octets
/// (ADDR-10), which the admin API does not set yet.
async fn limited_mailbox(f: &Fixture, limit: u64) -> AddressId {
    let toto = f.stores.directory.address(f.toto).await.unwrap().unwrap();
    let new = NewAddress {
        service: toto.service,
        local: LocalPart::parse("quota").unwrap(),
        kind: AddressKind::Mailbox,
        display_name: String::new(),
        password_hash: toto.password_hash,
        redirect: None,
        storage_limit: Some(limit),
    };
    f.stores.directory.create_address(new).await.unwrap().id
}

/// One of toto's folders as the store has it now.
async fn folder(f: &Fixture, name: &str) -> Folder {
    f.stores
        .mail
        .folder_by_name(f.toto, name)
        .await
        .unwrap()
        .unwrap()
}

/// The MODSEQ of each message of toto's `name`, by UID order.
async fn modseqs(f: &Fixture, name: &str) -> Vec<u64> {
    let folder = folder(f, name).await;
    let messages = f
        .stores
        .mail
        .list_messages(folder.id, &UidSet::all())
        .await
        .unwrap();
    messages.iter().map(|m| m.modseq).collect()
}

/// The MODSEQ the store gives the next change in toto's `name`: one above the folder's
/// HIGHESTMODSEQ (RFC 7162 §3.1.1 only asks for a bigger one; this store counts by one).
async fn next_modseq(f: &Fixture, name: &str) -> u64 {
    folder(f, name).await.highest_modseq + 1
}

/// The untagged lines answering a SELECT (`read_only`: EXAMINE) of toto's `name` in an
/// IMAP4rev1 session, for a folder as the store has it now, holding `exists` messages without
/// keywords, the first unseen being `unseen`.
async fn opened(
    f: &Fixture,
    name: &str,
    read_only: bool,
    exists: u32,
    unseen: Option<u32>,
) -> String {
    let folder = folder(f, name).await;
    let mut lines = vec![format!("S: * {exists} EXISTS"), "S: * 0 RECENT".to_owned()];
    if read_only {
        lines.push(r"S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)".into());
        lines.push("S: * OK [PERMANENTFLAGS ()] Read-only folder".into());
    } else {
        lines.push(FLAG_LINES.trim().to_owned());
    }
    lines.push(format!(
        "S: * OK [UIDVALIDITY {}] UIDs valid",
        folder.uid_validity
    ));
    lines.push(format!(
        "S: * OK [UIDNEXT {}] Predicted next UID",
        folder.uid_next
    ));
    if let Some(unseen) = unseen {
        lines.push(format!("S: * OK [UNSEEN {unseen}] First unseen"));
    }
    lines.push(format!(
        "S: * OK [HIGHESTMODSEQ {}] Highest",
        folder.highest_modseq
    ));
    lines.join("\n")
}

/// [`opened`] for SELECT.
async fn selected(f: &Fixture, name: &str, exists: u32, unseen: Option<u32>) -> String {
    opened(f, name, false, exists, unseen).await
}

/// [`opened`] for EXAMINE.
async fn examined(f: &Fixture, name: &str, exists: u32, unseen: Option<u32>) -> String {
    opened(f, name, true, exists, unseen).await
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
        junk_learning: None,
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

/// A client logged in as toto over imaps.
async fn logged_in(f: &Fixture, server: &Arc<Server>) -> Client {
    let mut client = connect(f, server).await;
    client.script(LOGIN_IMAPS).await;
    client
}

/// Runs `script` against a fresh session of `server` and waits for its end.
async fn run(f: &Fixture, server: Arc<Server>, script: &str) {
    let mut client = connect(f, &server).await;
    client.script(script).await;
    client.finish().await;
}

/// Runs `script` against a fresh imaps session and waits for its end.
async fn run_imaps(f: &Fixture, script: &str) {
    run(f, server(f, ListenerKind::Imaps), script).await;
}

/// The client side of COMPRESS=DEFLATE (RFC 4978 §3): raw DEFLATE both ways, each command
/// sent with a sync flush, responses inflated octet by octet so that reading never waits for
/// octets the server has not sent.
struct Deflate {
    deflate: Compress,
    inflate: Decompress,
    /// Inflated output not yet taken as lines.
    plain: Vec<u8>,
}

impl Deflate {
    fn new() -> Deflate {
        Deflate {
            deflate: Compress::new(Compression::default(), false),
            inflate: Decompress::new(false),
            plain: Vec::new(),
        }
    }

    async fn send(&mut self, client: &mut Client, line: &str) {
        let input = format!("{line}\r\n");
        let mut out = Vec::with_capacity(input.len() + 64);
        let before = self.deflate.total_in();
        self.deflate
            .compress_vec(input.as_bytes(), &mut out, FlushCompress::Sync)
            .unwrap();
        assert_eq!(self.deflate.total_in() - before, input.len() as u64);
        client.send(&out).await;
    }

    async fn read_line(&mut self, client: &mut Client) -> String {
        loop {
            if let Some(end) = self.plain.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.plain[..end].to_vec()).unwrap();
                self.plain.drain(..end + 2);
                return line;
            }
            let octet = client.read_exact(1).await;
            let mut out = Vec::with_capacity(4096);
            self.inflate
                .decompress_vec(&octet, &mut out, FlushDecompress::None)
                .unwrap();
            self.plain.extend_from_slice(&out);
        }
    }

    /// Plays `C:` and `S:` lines of a script (see `postwerk_testkit::transcript`) over the
    /// compressed stream.
    async fn script(&mut self, client: &mut Client, script: &str) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(text) = line.strip_prefix("C: ") {
                self.send(client, text).await;
            } else if let Some(pattern) = line.strip_prefix("S: ") {
                let got = self.read_line(client).await;
                assert!(glob(pattern, &got), "{line}: got {got:?}");
            } else {
                panic!("bad compressed script line {line:?}");
            }
        }
    }
}

// ---- Session, login and command framing (RFC 9051 §6.1-6.2, §4.3, §7.1)

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

// ---- SELECT and EXAMINE (RFC 9051 §6.3.2-3, QRESYNC of RFC 7162 §3.2.5)

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
async fn rfc_7162_3_2_5_select_qresync_reports_vanished_earlier_and_changed_flags() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    let validity = folder(&f, "INBOX").await.uid_validity;
    let before = folder(&f, "INBOX").await.highest_modseq;
    client
        .script(&format!(
            r"
            C: a1 SELECT INBOX
            {inbox}
            S: a1 OK [READ-WRITE] SELECT completed
            C: a2 STORE 2 +FLAGS.SILENT (\Deleted)
            S: a2 OK STORE completed
            C: a3 EXPUNGE
            S: * 2 EXPUNGE
            S: a3 OK EXPUNGE completed
            C: a4 STORE 1 +FLAGS (\Flagged)
            S: * 1 FETCH (FLAGS (\Flagged))
            S: a4 OK STORE completed
            C: a5 UNSELECT
            S: a5 OK UNSELECT completed
            # RFC 7162 §3.2.5: the QRESYNC parameter needs ENABLE QRESYNC first.
            C: a6 SELECT INBOX (QRESYNC ({validity} {before}))
            S: a6 BAD ENABLE QRESYNC first
            C: a7 ENABLE QRESYNC
            S: * ENABLED QRESYNC
            S: a7 OK ENABLE completed
            ",
            inbox = selected(&f, "INBOX", 3, Some(1)).await,
        ))
        .await;
    // UID 1 changed after `before`; UID 3 is the message delivered last, at `before` itself.
    let [first, third] = modseqs(&f, "INBOX").await[..] else {
        panic!("two messages left");
    };
    let state = selected(&f, "INBOX", 2, Some(1)).await;
    client
        .script(&format!(
            r"
            C: b1 SELECT INBOX (QRESYNC ({validity} {before}))
            {state}
            S: * VANISHED (EARLIER) 2
            S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ ({first}))
            S: b1 OK [READ-WRITE] SELECT completed
            # Everything since just before the last delivery.
            C: b2 SELECT INBOX (QRESYNC ({validity} {since}))
            S: * OK [CLOSED] Previous folder closed
            {state}
            S: * VANISHED (EARLIER) 2
            S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ ({first}))
            S: * 2 FETCH (UID 3 FLAGS () MODSEQ ({third}))
            S: b2 OK [READ-WRITE] SELECT completed
            # Known UIDs limit the answer to what the client has.
            C: b3 EXAMINE INBOX (QRESYNC ({validity} {since} 1:2))
            S: * OK [CLOSED] Previous folder closed
            {examined}
            S: * VANISHED (EARLIER) 2
            S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ ({first}))
            S: b3 OK [READ-ONLY] EXAMINE completed
            # Nothing changed since the current HIGHESTMODSEQ.
            C: b4 SELECT INBOX (QRESYNC ({validity} {highest}))
            S: * OK [CLOSED] Previous folder closed
            {state}
            S: b4 OK [READ-WRITE] SELECT completed
            # Another UIDVALIDITY: the client's cache is useless, nothing is resynchronised.
            C: b5 SELECT INBOX (QRESYNC ({other} 1))
            S: * OK [CLOSED] Previous folder closed
            {state}
            S: b5 OK [READ-WRITE] SELECT completed
            ",
            since = third - 1,
            highest = folder(&f, "INBOX").await.highest_modseq,
            other = validity + 1,
            examined = examined(&f, "INBOX", 2, Some(1)).await,
        ))
        .await;
    client.finish().await;
}

// ---- CREATE, DELETE, RENAME, SUBSCRIBE, LIST, LSUB, NAMESPACE, STATUS (RFC 9051 §6.3.4-11)

#[tokio::test]
async fn rfc_9051_6_3_4_create_makes_superior_names_and_refuses_existing_ones() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Work/2027
        S: a1 OK CREATE completed
        # The superior name was created with it (RFC 9051 §6.3.4 SHOULD).
        C: a2 CREATE Work
        S: a2 NO [ALREADYEXISTS] the folder Work already exists
        C: a3 CREATE inbox
        S: a3 NO [ALREADYEXISTS] INBOX always exists
        # A trailing delimiter only says folders will go below.
        C: a4 CREATE "New Folder/"
        S: a4 OK CREATE completed
        C: a5 LIST "" *
        S: * LIST (\HasNoChildren) "/" INBOX
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * LIST (\HasNoChildren \Drafts) "/" Drafts
        S: * LIST (\HasNoChildren \Junk) "/" Junk
        S: * LIST (\HasNoChildren) "/" "New Folder"
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: * LIST (\HasNoChildren \Trash) "/" Trash
        S: * LIST (\HasChildren) "/" Work
        S: * LIST (\HasNoChildren) "/" Work/2027
        S: a5 OK LIST completed
        # RFC 6154 §3: a special use the server cannot give is refused, nothing created.
        C: a6 CREATE Spam (USE (\Junk))
        S: a6 NO [USEATTR] the folder Junk already has the special use \Junk
        C: a7 LIST "" Spam
        S: a7 OK LIST completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_5_delete_refuses_inbox_missing_names_and_parents() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Work/2027
        S: a1 OK CREATE completed
        C: a2 DELETE Work
        S: a2 NO [HASCHILDREN] The folder has subfolders; delete them first
        C: a3 DELETE Nowhere
        S: a3 NO [NONEXISTENT] No such folder
        C: a4 DELETE INBOX
        S: a4 NO [CANNOT] INBOX cannot be deleted
        C: a5 DELETE Work/2027
        S: a5 OK DELETE completed
        C: a6 DELETE Work
        S: a6 OK DELETE completed
        C: a7 LIST "" Work*
        S: a7 OK LIST completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_6_rename_carries_children_and_renaming_inbox_moves_its_messages() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Work/2027
        S: a1 OK CREATE completed
        C: a2 RENAME Work Projects
        S: a2 OK RENAME completed
        C: a3 LIST "" Projects*
        S: * LIST (\HasChildren) "/" Projects
        S: * LIST (\HasNoChildren) "/" Projects/2027
        S: a3 OK LIST completed
        C: a4 RENAME Projects Archive
        S: a4 NO [ALREADYEXISTS] the folder Archive already exists
        C: a5 RENAME Nowhere Else
        S: a5 NO [NONEXISTENT] No such folder
        C: a6 RENAME Archive INBOX
        S: a6 NO [ALREADYEXISTS] INBOX already exists
        C: a7 RENAME Projects Projects/Inside
        S: a7 NO [CANNOT] A folder cannot be moved inside itself
        # RFC 9051 §6.3.6: renaming INBOX moves its messages to the new name; INBOX stays.
        C: a8 RENAME INBOX Old
        S: a8 OK RENAME completed
        C: a9 STATUS Old (MESSAGES)
        S: * STATUS Old (MESSAGES 2)
        S: a9 OK STATUS completed
        C: b1 STATUS INBOX (MESSAGES)
        S: * STATUS INBOX (MESSAGES 0)
        S: b1 OK STATUS completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_7_subscribe_and_unsubscribe_change_the_subscribed_list() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 UNSUBSCRIBE Junk
        S: a1 OK UNSUBSCRIBE completed
        C: a2 LIST (SUBSCRIBED) "" *
        S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
        S: * LIST (\HasNoChildren \Archive \Subscribed) "/" Archive
        S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
        S: * LIST (\HasNoChildren \Sent \Subscribed) "/" Sent
        S: * LIST (\HasNoChildren \Trash \Subscribed) "/" Trash
        S: a2 OK LIST completed
        # RFC 9051 §6.3.8: OK also when the name was not subscribed.
        C: a3 UNSUBSCRIBE Junk
        S: a3 OK UNSUBSCRIBE completed
        C: a4 SUBSCRIBE Junk
        S: a4 OK SUBSCRIBE completed
        C: a5 LIST (SUBSCRIBED) "" Junk
        S: * LIST (\HasNoChildren \Junk \Subscribed) "/" Junk
        S: a5 OK LIST completed
        # RFC 9051 §6.3.7: the server MAY check that the folder exists.
        C: a6 SUBSCRIBE Nowhere
        S: a6 NO [NONEXISTENT] No such folder
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_8_unsubscribe_of_a_name_never_subscribed_is_ok() {
    let f = fixture().await;
    let script = format!(
        "{LOGIN_IMAPS}
        C: a1 UNSUBSCRIBE Nowhere
        S: a1 OK UNSUBSCRIBE completed
        "
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_9_list_percent_stops_at_a_level_star_does_not() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Work/2027
        S: a1 OK CREATE completed
        C: a2 LIST "" *
        S: * LIST (\HasNoChildren) "/" INBOX
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * LIST (\HasNoChildren \Drafts) "/" Drafts
        S: * LIST (\HasNoChildren \Junk) "/" Junk
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: * LIST (\HasNoChildren \Trash) "/" Trash
        S: * LIST (\HasChildren) "/" Work
        S: * LIST (\HasNoChildren) "/" Work/2027
        S: a2 OK LIST completed
        C: a3 LIST "" %
        S: * LIST (\HasNoChildren) "/" INBOX
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * LIST (\HasNoChildren \Drafts) "/" Drafts
        S: * LIST (\HasNoChildren \Junk) "/" Junk
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: * LIST (\HasNoChildren \Trash) "/" Trash
        S: * LIST (\HasChildren) "/" Work
        S: a3 OK LIST completed
        C: a4 LIST "" Work/%
        S: * LIST (\HasNoChildren) "/" Work/2027
        S: a4 OK LIST completed
        # The reference is a prefix of the pattern.
        C: a5 LIST Work/ %
        S: * LIST (\HasNoChildren) "/" Work/2027
        S: a5 OK LIST completed
        # An empty pattern asks for the delimiter.
        C: a6 LIST "" ""
        S: * LIST (\Noselect) "/" ""
        S: a6 OK LIST completed
        # RFC 5258 §3: several patterns at once.
        C: a7 LIST "" (INBOX Sent)
        S: * LIST (\HasNoChildren) "/" INBOX
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: a7 OK LIST completed
        C: a8 LIST "" Nowhere
        S: a8 OK LIST completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_5258_3_list_subscribed_selection_and_recursivematch() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Deep/Er
        S: a1 OK CREATE completed
        C: a2 UNSUBSCRIBE Deep
        S: a2 OK UNSUBSCRIBE completed
        C: a3 LIST (SUBSCRIBED) "" *
        S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
        S: * LIST (\HasNoChildren \Archive \Subscribed) "/" Archive
        S: * LIST (\HasNoChildren \Subscribed) "/" Deep/Er
        S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
        S: * LIST (\HasNoChildren \Junk \Subscribed) "/" Junk
        S: * LIST (\HasNoChildren \Sent \Subscribed) "/" Sent
        S: * LIST (\HasNoChildren \Trash \Subscribed) "/" Trash
        S: a3 OK LIST completed
        # §3.5: a name that `%` stops at, unsubscribed itself, with a subscribed child below.
        C: a4 LIST (SUBSCRIBED RECURSIVEMATCH) "" %
        S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
        S: * LIST (\HasNoChildren \Archive \Subscribed) "/" Archive
        S: * LIST (\HasChildren) "/" Deep ("CHILDINFO" ("SUBSCRIBED"))
        S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
        S: * LIST (\HasNoChildren \Junk \Subscribed) "/" Junk
        S: * LIST (\HasNoChildren \Sent \Subscribed) "/" Sent
        S: * LIST (\HasNoChildren \Trash \Subscribed) "/" Trash
        S: a4 OK LIST completed
        C: a5 LIST "" D* RETURN (SUBSCRIBED)
        S: * LIST (\HasChildren) "/" Deep
        S: * LIST (\HasNoChildren \Subscribed) "/" Deep/Er
        S: * LIST (\HasNoChildren \Drafts \Subscribed) "/" Drafts
        S: a5 OK LIST completed
        # §3.1: RECURSIVEMATCH alone is a syntax error.
        C: a6 LIST (RECURSIVEMATCH) "" *
        S: a6 BAD RECURSIVEMATCH needs another selection option
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_5819_list_return_status_with_special_use_and_children() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Work/2027
        S: a1 OK CREATE completed
        C: a2 LIST "" * RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES))
        S: * LIST (\HasNoChildren) "/" INBOX
        S: * STATUS INBOX (MESSAGES 2)
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * STATUS Archive (MESSAGES 0)
        S: * LIST (\HasNoChildren \Drafts) "/" Drafts
        S: * STATUS Drafts (MESSAGES 0)
        S: * LIST (\HasNoChildren \Junk) "/" Junk
        S: * STATUS Junk (MESSAGES 0)
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: * STATUS Sent (MESSAGES 0)
        S: * LIST (\HasNoChildren \Trash) "/" Trash
        S: * STATUS Trash (MESSAGES 0)
        S: * LIST (\HasChildren) "/" Work
        S: * STATUS Work (MESSAGES 0)
        S: * LIST (\HasNoChildren) "/" Work/2027
        S: * STATUS Work/2027 (MESSAGES 0)
        S: a2 OK LIST completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_6154_4_list_special_use_selects_the_special_folders() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 LIST (SPECIAL-USE) "" *
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * LIST (\HasNoChildren \Drafts) "/" Drafts
        S: * LIST (\HasNoChildren \Junk) "/" Junk
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: * LIST (\HasNoChildren \Trash) "/" Trash
        S: a1 OK LIST completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_3501_6_3_9_lsub_marks_an_unsubscribed_parent_noselect() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CREATE Deep/Er
        S: a1 OK CREATE completed
        C: a2 UNSUBSCRIBE Deep
        S: a2 OK UNSUBSCRIBE completed
        C: a3 UNSUBSCRIBE Junk
        S: a3 OK UNSUBSCRIBE completed
        C: a4 LSUB "" *
        S: * LSUB () "/" INBOX
        S: * LSUB () "/" Archive
        S: * LSUB () "/" Deep/Er
        S: * LSUB () "/" Drafts
        S: * LSUB () "/" Sent
        S: * LSUB () "/" Trash
        S: a4 OK LSUB completed
        # `%` cannot reach Deep/Er: Deep stands for it, \Noselect.
        C: a5 LSUB "" %
        S: * LSUB () "/" INBOX
        S: * LSUB () "/" Archive
        S: * LSUB (\Noselect) "/" Deep
        S: * LSUB () "/" Drafts
        S: * LSUB () "/" Sent
        S: * LSUB () "/" Trash
        S: a5 OK LSUB completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_2342_namespace_is_one_personal_namespace() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 NAMESPACE
        S: * NAMESPACE (("" "/")) NIL NIL
        S: a1 OK NAMESPACE completed
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_11_status_reports_every_item_in_the_order_asked() {
    let f = fixture().await;
    let inbox = folder(&f, "INBOX").await;
    let script = format!(
        "{LOGIN_IMAPS}
        C: a1 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)
        S: * STATUS INBOX (MESSAGES 2 RECENT 0 UIDNEXT {next} UIDVALIDITY {validity} UNSEEN 2 DELETED 0 SIZE {size} HIGHESTMODSEQ {modseq} APPENDLIMIT {limit})
        S: a1 OK STATUS completed
        C: a2 STATUS inbox (UNSEEN MESSAGES)
        S: * STATUS INBOX (UNSEEN 2 MESSAGES 2)
        S: a2 OK STATUS completed
        C: a3 STATUS Nowhere (MESSAGES)
        S: a3 NO [NONEXISTENT] No such folder
        C: a4 STATUS INBOX ()
        S: a4 BAD expected an atom
        C: a5 STATUS INBOX (FOO)
        S: a5 BAD unknown STATUS item
        ",
        next = inbox.uid_next,
        validity = inbox.uid_validity,
        size = MESSAGES[0].len() + MESSAGES[1].len(),
        modseq = inbox.highest_modseq,
        limit = Limits::default().max_literal,
    );
    run_imaps(&f, &script).await;
}

// ---- APPEND (RFC 9051 §6.3.12, UIDPLUS, MULTIAPPEND, LITERAL+)

#[tokio::test]
async fn rfc_4315_3_append_answers_appenduid_and_keeps_flags_and_date() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    let validity = folder(&f, "Drafts").await.uid_validity;
    client
        .script(&format!(
            r#"
            C~ a1 APPEND Drafts (\Draft \Seen $Work) "17-Jul-1996 02:44:25 -0700" {{23+}}\r\nSubject: draft\r\n\r\nHi.\r\n\r\n
            S: a1 OK [APPENDUID {validity} 1] APPEND completed
            "#
        ))
        .await;
    let drafts = folder(&f, "Drafts").await;
    client
        .script(&format!(
            r#"
            C: a2 EXAMINE Drafts
            S: * 1 EXISTS
            S: * 0 RECENT
            S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)
            S: * OK [PERMANENTFLAGS ()] Read-only folder
            S: * OK [UIDVALIDITY {validity}] UIDs valid
            S: * OK [UIDNEXT 2] Predicted next UID
            S: * OK [HIGHESTMODSEQ {modseq}] Highest
            S: a2 OK [READ-ONLY] EXAMINE completed
            # The date is kept as an instant; this server shows every date in UTC.
            C: a3 FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])
            S: * 1 FETCH (UID 1 FLAGS (\Seen \Draft $Work) INTERNALDATE "17-Jul-1996 09:44:25 +0000" RFC822.SIZE 23 BODY[] {{23}}
            S: Subject: draft
            S:
            S: Hi.
            S: )
            S: a3 OK FETCH completed
            "#,
            modseq = drafts.highest_modseq,
        ))
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_3502_multiappend_stores_every_message_or_none() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    let validity = folder(&f, "Drafts").await.uid_validity;
    client
        .script(&format!(
            r#"
            C~ a1 APPEND Drafts {{12+}}\r\nSubject: a\r\n (\Seen) {{12+}}\r\nSubject: b\r\n\r\n
            S: a1 OK [APPENDUID {validity} 1:2] APPEND completed
            # A bad second message: the first is not stored either.
            C~ a2 APPEND Drafts {{12+}}\r\nSubject: c\r\n (\Bogus) {{12+}}\r\nSubject: d\r\n\r\n
            S: a2 BAD Unknown system flag \Bogus
            C: a3 STATUS Drafts (MESSAGES UIDNEXT)
            S: * STATUS Drafts (MESSAGES 2 UIDNEXT 3)
            S: a3 OK STATUS completed
            "#
        ))
        .await;
    client
        .script(&format!(
            r#"
            C: a4 EXAMINE Drafts
            {state}
            S: a4 OK [READ-ONLY] EXAMINE completed
            C: a5 FETCH 1:2 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])
            S: * 1 FETCH (FLAGS () BODY[HEADER.FIELDS (SUBJECT)] {{14}}
            S: Subject: a
            S:
            S: )
            S: * 2 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] {{14}}
            S: Subject: b
            S:
            S: )
            S: a5 OK FETCH completed
            "#,
            state = examined(&f, "Drafts", 2, Some(1)).await,
        ))
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_9051_6_3_12_append_to_a_missing_folder_answers_trycreate() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    client
        .script(
            r"
            C~ a1 APPEND Nowhere {12+}\r\nSubject: a\r\n\r\n
            S: a1 NO [TRYCREATE] No such folder
            C: a2 CREATE Nowhere
            S: a2 OK CREATE completed
            ",
        )
        .await;
    let validity = folder(&f, "Nowhere").await.uid_validity;
    client
        .script(&format!(
            r"
            C~ a3 APPEND Nowhere {{12+}}\r\nSubject: a\r\n\r\n
            S: a3 OK [APPENDUID {validity} 1] APPEND completed
            "
        ))
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_7888_a_non_synchronising_literal_needs_no_continuation() {
    let f = fixture().await;
    let inbox = folder(&f, "INBOX").await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        # A synchronising literal waits for the server's go-ahead.
        C: a2 APPEND INBOX {{12}}
        S: + Ready for literal data
        C~ Subject: a\r\n\r\n
        # RFC 9051 §6.3.12: the selected folder's new message is announced.
        S: * 3 EXISTS
        S: a2 OK [APPENDUID {validity} 3] APPEND completed
        # LITERAL+: the octets follow at once, and the next line is the answer.
        C~ a3 APPEND INBOX {{12+}}\r\nSubject: b\r\n\r\n
        S: * 4 EXISTS
        S: a3 OK [APPENDUID {validity} 4] APPEND completed
        C: a4 FETCH 3:4 (UID RFC822.SIZE)
        S: * 3 FETCH (UID 3 RFC822.SIZE 12)
        S: * 4 FETCH (UID 4 RFC822.SIZE 12)
        S: a4 OK FETCH completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
        validity = inbox.uid_validity,
    );
    run_imaps(&f, &script).await;
}

// ---- ENABLE (RFC 5161)

#[tokio::test]
async fn rfc_7162_3_2_3_enable_qresync_implies_condstore() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 ENABLE QRESYNC
        S: * ENABLED QRESYNC
        S: a1 OK ENABLE completed
        # CONDSTORE is on already: nothing new to enable. Unknown names are ignored (RFC 5161).
        C: a2 ENABLE CONDSTORE QRESYNC X-UNKNOWN
        S: * ENABLED
        S: a2 OK ENABLE completed
        C: a3 SELECT INBOX
        {state}
        S: a3 OK [READ-WRITE] SELECT completed
        # RFC 7162 §3.1.3: under CONDSTORE a STORE answers UID and MODSEQ too.
        C: a4 STORE 1 +FLAGS (\Seen)
        S: * 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ ({next}))
        S: a4 OK STORE completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
        next = next_modseq(&f, "INBOX").await,
    );
    run_imaps(&f, &script).await;
}

// ---- IDLE (RFC 2177)

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

// ---- FETCH (RFC 9051 §6.4.5, §6.4.9, BINARY of RFC 3516, CONDSTORE/QRESYNC of RFC 7162)

#[tokio::test]
async fn rfc_9051_6_4_5_fetch_returns_flags_uid_size_date_envelope_and_bodystructure() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 FETCH 1:2 (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)
        S: * 1 FETCH (FLAGS () UID 1 RFC822.SIZE {one} INTERNALDATE "{DELIVERED}" ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "one" (("Alice" NIL "alice" "remote.example")) (("Alice" NIL "alice" "remote.example")) (("Alice" NIL "alice" "remote.example")) ((NIL NIL "toto" "example.test")) NIL NIL NIL "<one@remote.example>") BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 8 1 NIL NIL NIL NIL))
        S: * 2 FETCH (FLAGS () UID 2 RFC822.SIZE {two} INTERNALDATE "{DELIVERED}" ENVELOPE (NIL "two" ((NIL NIL "bob" "remote.example")) ((NIL NIL "bob" "remote.example")) ((NIL NIL "bob" "remote.example")) NIL NIL NIL NIL NIL) BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 17 1 NIL NIL NIL NIL))
        S: a2 OK FETCH completed
        # Macros: FAST is (FLAGS INTERNALDATE RFC822.SIZE); BODY is BODYSTRUCTURE without
        # extension data.
        C: a3 FETCH 2 FAST
        S: * 2 FETCH (FLAGS () INTERNALDATE "{DELIVERED}" RFC822.SIZE {two})
        S: a3 OK FETCH completed
        C: a4 FETCH 2 BODY
        S: * 2 FETCH (BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 17 1))
        S: a4 OK FETCH completed
        "#,
        state = selected(&f, "INBOX", 2, Some(1)).await,
        one = MESSAGES[0].len(),
        two = MESSAGES[1].len(),
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_4_5_body_sections_partials_and_the_seen_flag() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]
        S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {{16}}
        S: Subject: one
        S:
        S: )
        S: a2 OK FETCH completed
        # A partial names only its origin in the answer.
        C: a3 FETCH 1 BODY.PEEK[]<0.5>
        S: * 1 FETCH (BODY[]<0> {{5}}
        S: From:)
        S: a3 OK FETCH completed
        # Beyond the end: an empty string.
        C: a4 FETCH 1 BODY.PEEK[TEXT]<1000.5>
        S: * 1 FETCH (BODY[TEXT]<1000> {{0}}
        S: )
        S: a4 OK FETCH completed
        # .PEEK left \Seen alone.
        C: a5 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: a5 OK FETCH completed
        # BODY[] sets \Seen, and the answer carries the new flags.
        C: a6 FETCH 2 BODY[]
        S: * 2 FETCH (BODY[] {{59}}
        S: From: bob@remote.example
        S: Subject: two
        S:
        S: Second message.
        S:  FLAGS (\Seen))
        S: a6 OK FETCH completed
        # Already seen: nothing changes, no FLAGS.
        C: a7 FETCH 2 BODY[TEXT]
        S: * 2 FETCH (BODY[TEXT] {{17}}
        S: Second message.
        S: )
        S: a7 OK FETCH completed
        C: a8 FETCH 1:2 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: * 2 FETCH (FLAGS (\Seen))
        S: a8 OK FETCH completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_3516_binary_decodes_a_base64_part_and_body_does_not() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 FETCH 3 BODYSTRUCTURE
        S: * 3 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL)("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 20 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL))
        S: a2 OK FETCH completed
        C: a3 FETCH 3 (BODY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[2])
        S: * 3 FETCH (BODY[1] {{15}}
        S: See attachment. BINARY[2] {{14}}
        S: Hello, binary! BINARY.SIZE[2] 14 BODY[2] {{20}}
        S: SGVsbG8sIGJpbmFyeSE=)
        S: a3 OK FETCH completed
        # RFC 3516 §4.2: the origin of a partial counts decoded octets.
        C: a4 FETCH 3 BINARY.PEEK[2]<7.6>
        S: * 3 FETCH (BINARY[2]<7> {{6}}
        S: binary)
        S: a4 OK FETCH completed
        C: a5 FETCH 3 BODY.PEEK[2.MIME]
        S: * 3 FETCH (BODY[2.MIME] {{91}}
        S: Content-Type: application/octet-stream; name="a.bin"
        S: Content-Transfer-Encoding: base64
        S:
        S: )
        S: a5 OK FETCH completed
        # BINARY without .PEEK sets \Seen like BODY.
        C: a6 FETCH 3 BINARY[2]
        S: * 3 FETCH (BINARY[2] {{14}}
        S: Hello, binary! FLAGS (\Seen))
        S: a6 OK FETCH completed
        "#,
        state = selected(&f, "INBOX", 3, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_3_fetch_in_an_examined_folder_does_not_set_seen() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 EXAMINE INBOX
        {state}
        S: a1 OK [READ-ONLY] EXAMINE completed
        C: a2 FETCH 1 BODY[TEXT]
        S: * 1 FETCH (BODY[TEXT] {{8}}
        S: Hello.
        S: )
        S: a2 OK FETCH completed
        C: a3 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: a3 OK FETCH completed
        ",
        state = examined(&f, "INBOX", 2, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_4_9_uid_fetch_includes_uid_in_every_response() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 UID FETCH 1:* FLAGS
        S: * 1 FETCH (UID 1 FLAGS ())
        S: * 2 FETCH (UID 2 FLAGS ())
        S: a2 OK UID FETCH completed
        C: a3 UID FETCH 2 RFC822.SIZE
        S: * 2 FETCH (UID 2 RFC822.SIZE {two})
        S: a3 OK UID FETCH completed
        # UIDs that name no message are no error.
        C: a4 UID FETCH 3:10 FLAGS
        S: a4 OK UID FETCH completed
        # `n:*` always names the last message, even with n above its UID.
        C: a5 UID FETCH 5:* FLAGS
        S: * 2 FETCH (UID 2 FLAGS ())
        S: a5 OK UID FETCH completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
        two = MESSAGES[1].len(),
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_9_a_sequence_number_beyond_the_last_message_is_bad() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 FETCH 3 FLAGS
        S: a2 BAD Message sequence number beyond the last message
        C: a3 FETCH 2:3 FLAGS
        S: a3 BAD Message sequence number beyond the last message
        C: a4 FETCH 0 FLAGS
        S: a4 BAD zero is not allowed here
        C: a5 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: a5 OK FETCH completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_7162_3_2_6_uid_fetch_changedsince_vanished() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    client
        .script(&format!(
            r"
            C: a1 ENABLE QRESYNC
            S: * ENABLED QRESYNC
            S: a1 OK ENABLE completed
            C: a2 SELECT INBOX
            {state}
            S: a2 OK [READ-WRITE] SELECT completed
            C: a3 STORE 2 +FLAGS.SILENT (\Deleted)
            S: * 2 FETCH (UID 2 MODSEQ ({deleted}))
            S: a3 OK STORE completed
            C: a4 EXPUNGE
            S: * VANISHED 2
            S: a4 OK [HIGHESTMODSEQ {expunged}] EXPUNGE completed
            C: a5 STORE 1 +FLAGS.SILENT (\Flagged)
            S: * 1 FETCH (UID 1 MODSEQ ({flagged}))
            S: a5 OK STORE completed
            ",
            state = selected(&f, "INBOX", 3, Some(1)).await,
            deleted = next_modseq(&f, "INBOX").await,
            expunged = next_modseq(&f, "INBOX").await + 1,
            flagged = next_modseq(&f, "INBOX").await + 2,
        ))
        .await;
    let [first, third] = modseqs(&f, "INBOX").await[..] else {
        panic!("two messages left");
    };
    client
        .script(&format!(
            r"
            C: b1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)
            S: * VANISHED (EARLIER) 2
            S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ ({first}))
            S: * 2 FETCH (UID 3 FLAGS () MODSEQ ({third}))
            S: b1 OK UID FETCH completed
            C: b2 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {third})
            S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ ({first}))
            S: b2 OK UID FETCH completed
            C: b3 FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)
            S: b3 BAD VANISHED needs UID FETCH with CHANGEDSINCE
            C: b4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {first} VANISHED)
            S: b4 OK UID FETCH completed
            ",
            since = third - 1,
        ))
        .await;
    client.finish().await;
}

// ---- STORE (RFC 9051 §6.4.6, UNCHANGEDSINCE of RFC 7162 §3.1.3)

#[tokio::test]
async fn rfc_9051_6_4_6_store_adds_removes_and_replaces_flags_and_keywords() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    client
        .script(&format!(
            r"
            C: a1 SELECT INBOX
            {state}
            S: a1 OK [READ-WRITE] SELECT completed
            C: a2 STORE 1 +FLAGS (\Flagged)
            S: * 1 FETCH (FLAGS (\Flagged))
            S: a2 OK STORE completed
            C: a3 STORE 1 +FLAGS ($Work \Answered)
            S: * 1 FETCH (FLAGS (\Answered \Flagged $Work))
            S: a3 OK STORE completed
            C: a4 STORE 1 -FLAGS (\Flagged)
            S: * 1 FETCH (FLAGS (\Answered $Work))
            S: a4 OK STORE completed
            C: a5 STORE 1:2 FLAGS (\Seen)
            S: * 1 FETCH (FLAGS (\Seen))
            S: * 2 FETCH (FLAGS (\Seen))
            S: a5 OK STORE completed
            C: a6 STORE 2 FLAGS.SILENT ($Later)
            S: a6 OK STORE completed
            C: a7 FETCH 1:2 FLAGS
            S: * 1 FETCH (FLAGS (\Seen))
            S: * 2 FETCH (FLAGS ($Later))
            S: a7 OK FETCH completed
            C: a8 UID STORE 1 +FLAGS (\Draft)
            S: * 1 FETCH (UID 1 FLAGS (\Seen \Draft))
            S: a8 OK UID STORE completed
            C: a9 STORE 1 +FLAGS (\Bogus)
            S: a9 BAD Unknown system flag
            C: b1 UNSELECT
            S: b1 OK UNSELECT completed
            ",
            state = selected(&f, "INBOX", 2, Some(1)).await,
        ))
        .await;
    // RFC 9051 §7.3.5: the keyword in use is a flag of the folder from now on.
    let inbox = folder(&f, "INBOX").await;
    client
        .script(&format!(
            r"
            C: b2 SELECT INBOX
            S: * 2 EXISTS
            S: * 0 RECENT
            S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Later)
            S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Later \*)] Flags permitted
            S: * OK [UIDVALIDITY {validity}] UIDs valid
            S: * OK [UIDNEXT 3] Predicted next UID
            S: * OK [UNSEEN 2] First unseen
            S: * OK [HIGHESTMODSEQ {modseq}] Highest
            S: b2 OK [READ-WRITE] SELECT completed
            ",
            validity = inbox.uid_validity,
            modseq = inbox.highest_modseq,
        ))
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_7162_3_1_3_store_unchangedsince_stores_only_unchanged_messages() {
    let f = fixture().await;
    let [first, second] = modseqs(&f, "INBOX").await[..] else {
        panic!("two messages");
    };
    let next = next_modseq(&f, "INBOX").await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        # The first CONDSTORE command reports HIGHESTMODSEQ (RFC 7162 §3.1).
        C: a2 FETCH 1:2 MODSEQ
        S: * OK [HIGHESTMODSEQ {highest}] Highest
        S: * 1 FETCH (MODSEQ ({first}))
        S: * 2 FETCH (MODSEQ ({second}))
        S: a2 OK FETCH completed
        # Message 2 changed after {first}: left alone and listed as MODIFIED.
        C: a3 STORE 1:2 (UNCHANGEDSINCE {first}) +FLAGS (\Flagged)
        S: * 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ ({next}))
        S: a3 OK [MODIFIED 2] Conditional STORE failed for some messages
        # .SILENT still reports the new MODSEQ under CONDSTORE (§3.1.3 example).
        C: a4 UID STORE 1:2 (UNCHANGEDSINCE {next}) +FLAGS.SILENT (\Seen)
        S: * 1 FETCH (UID 1 MODSEQ ({after}))
        S: * 2 FETCH (UID 2 MODSEQ ({after}))
        S: a4 OK UID STORE completed
        # MODIFIED lists UIDs for UID STORE, numbers for STORE.
        C: a5 UID STORE 1:2 (UNCHANGEDSINCE {first}) -FLAGS (\Seen)
        S: a5 OK [MODIFIED 1:2] Conditional STORE failed for some messages
        C: a6 STORE 2 (UNCHANGEDSINCE {first}) -FLAGS (\Seen)
        S: a6 OK [MODIFIED 2] Conditional STORE failed for some messages
        C: a7 FETCH 1:2 (FLAGS MODSEQ)
        S: * 1 FETCH (FLAGS (\Seen \Flagged) MODSEQ ({after}))
        S: * 2 FETCH (FLAGS (\Seen) MODSEQ ({after}))
        S: a7 OK FETCH completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
        highest = next - 1,
        after = next + 1,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_3_3_changes_to_an_examined_folder_are_refused_read_only() {
    let f = fixture().await;
    let archive = folder(&f, "Archive").await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 EXAMINE INBOX
        {state}
        S: a1 OK [READ-ONLY] EXAMINE completed
        C: a2 STORE 1 +FLAGS (\Seen)
        S: a2 NO [READ-ONLY] Folder is read-only
        C: a3 EXPUNGE
        S: a3 NO [READ-ONLY] Folder is read-only
        C: a4 MOVE 1 Archive
        S: a4 NO [READ-ONLY] Folder is read-only
        # Copying out of it changes nothing in it.
        C: a5 COPY 1 Archive
        S: a5 OK [COPYUID {validity} 1 1] COPY completed
        C: a6 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: a6 OK FETCH completed
        ",
        state = examined(&f, "INBOX", 2, Some(1)).await,
        validity = archive.uid_validity,
    );
    run_imaps(&f, &script).await;
}

// ---- SEARCH (RFC 9051 §6.4.4, ESEARCH of RFC 4731, SEARCHRES of RFC 5182)

#[tokio::test]
async fn rfc_9051_6_4_4_search_combines_keys() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 STORE 2 +FLAGS.SILENT (\Seen)
        S: a2 OK STORE completed
        C: a3 SEARCH SEEN
        S: * SEARCH 2
        S: a3 OK SEARCH completed
        C: a4 SEARCH UNSEEN
        S: * SEARCH 1 3
        S: a4 OK SEARCH completed
        # Keys side by side must all match.
        C: a5 SEARCH FROM alice SUBJECT one
        S: * SEARCH 1
        S: a5 OK SEARCH completed
        C: a6 SEARCH OR SUBJECT two SUBJECT parts
        S: * SEARCH 2 3
        S: a6 OK SEARCH completed
        # UID SEARCH answers UIDs (here equal to the numbers).
        C: a7 UID SEARCH NOT SEEN LARGER 100
        S: * SEARCH 1 3
        S: a7 OK UID SEARCH completed
        C: a8 SEARCH BODY attachment
        S: * SEARCH 3
        S: a8 OK SEARCH completed
        C: a9 SEARCH HEADER Message-ID one@remote
        S: * SEARCH 1
        S: a9 OK SEARCH completed
        C: b1 SEARCH SINCE 1-Jan-2020 SMALLER 100
        S: * SEARCH 2
        S: b1 OK SEARCH completed
        # Nothing matched: an empty SEARCH response all the same.
        C: b2 SEARCH BEFORE 1-Jan-2020
        S: * SEARCH
        S: b2 OK SEARCH completed
        C: b3 SEARCH SENTBEFORE 1-Jan-2000
        S: * SEARCH 1
        S: b3 OK SEARCH completed
        C: b4 SEARCH 2:* NOT DELETED
        S: * SEARCH 2 3
        S: b4 OK SEARCH completed
        C: b5 SEARCH UID 2:* TO toto@example.test
        S: * SEARCH 3
        S: b5 OK SEARCH completed
        C: b6 SEARCH FOO
        S: b6 BAD unknown search key
        ",
        state = selected(&f, "INBOX", 3, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_4731_esearch_return_min_max_count_all() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 STORE 2 +FLAGS.SILENT (\Seen)
        S: a2 OK STORE completed
        C: a3 SEARCH RETURN (MIN MAX COUNT ALL) ALL
        S: * ESEARCH (TAG "a3") MIN 1 MAX 3 COUNT 3 ALL 1:3
        S: a3 OK SEARCH completed
        C: a4 UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN
        S: * ESEARCH (TAG "a4") UID MIN 1 MAX 3 COUNT 2 ALL 1,3
        S: a4 OK UID SEARCH completed
        # RETURN () means ALL.
        C: a5 SEARCH RETURN () SEEN
        S: * ESEARCH (TAG "a5") ALL 2
        S: a5 OK SEARCH completed
        C: a6 SEARCH RETURN (COUNT) KEYWORD nothing
        S: * ESEARCH (TAG "a6") COUNT 0
        S: a6 OK SEARCH completed
        # No match: no MIN, MAX or ALL (RFC 4731 §3.1).
        C: a7 SEARCH RETURN (MIN MAX COUNT ALL) KEYWORD nothing
        S: * ESEARCH (TAG "a7") COUNT 0
        S: a7 OK SEARCH completed
        # Plain SEARCH in the same session keeps the RFC 3501 answer.
        C: a8 SEARCH UNSEEN
        S: * SEARCH 1 3
        S: a8 OK SEARCH completed
        "#,
        state = selected(&f, "INBOX", 3, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_5182_a_saved_search_result_is_used_as_dollar() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 STORE 2 +FLAGS.SILENT (\Seen)
        S: a2 OK STORE completed
        # SAVE alone answers no ESEARCH.
        C: a3 SEARCH RETURN (SAVE) UNSEEN
        S: a3 OK SEARCH completed
        C: a4 FETCH $ UID
        S: * 1 FETCH (UID 1)
        S: * 3 FETCH (UID 3)
        S: a4 OK FETCH completed
        C: a5 SEARCH $ SUBJECT parts
        S: * SEARCH 3
        S: a5 OK SEARCH completed
        # With MIN, only the lowest match is saved (RFC 5182 §2.1).
        C: a6 UID SEARCH RETURN (SAVE MIN) UNSEEN
        S: * ESEARCH (TAG "a6") UID MIN 1
        S: a6 OK UID SEARCH completed
        C: a7 UID FETCH $ FLAGS
        S: * 1 FETCH (UID 1 FLAGS ())
        S: a7 OK UID FETCH completed
        # An empty result is a valid $ that names nothing.
        C: a8 SEARCH RETURN (SAVE) KEYWORD nothing
        S: a8 OK SEARCH completed
        C: a9 FETCH $ UID
        S: a9 OK FETCH completed
        "#,
        state = selected(&f, "INBOX", 3, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_4_4_an_unsupported_charset_is_badcharset() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 SEARCH CHARSET ISO-8859-1 SUBJECT one
        S: a2 NO [BADCHARSET (US-ASCII UTF-8)] charset ISO-8859-1 not supported
        C: a3 SEARCH CHARSET UTF-8 SUBJECT one
        S: * SEARCH 1
        S: a3 OK SEARCH completed
        C: a4 SORT (SUBJECT) ISO-8859-1 ALL
        S: a4 NO [BADCHARSET (US-ASCII UTF-8)] charset ISO-8859-1 not supported
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9051_6_4_4_an_imap4rev2_session_gets_esearch() {
    let f = fixture().await;
    let inbox = folder(&f, "INBOX").await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 ENABLE IMAP4rev2
        S: * ENABLED IMAP4REV2
        S: a1 OK ENABLE completed
        C: a2 SELECT INBOX
        S: * 2 EXISTS
        {FLAG_LINES}
        S: * OK [UIDVALIDITY {validity}] UIDs valid
        S: * OK [UIDNEXT 3] Predicted next UID
        S: * OK [HIGHESTMODSEQ {modseq}] Highest
        S: * LIST () "/" INBOX
        S: a2 OK [READ-WRITE] SELECT completed
        C: a3 SEARCH SUBJECT two
        S: * ESEARCH (TAG "a3") ALL 2
        S: a3 OK SEARCH completed
        C: a4 UID SEARCH ALL
        S: * ESEARCH (TAG "a4") UID ALL 1:2
        S: a4 OK UID SEARCH completed
        # An ESEARCH response even when nothing matched.
        C: a5 SEARCH KEYWORD nothing
        S: * ESEARCH (TAG "a5")
        S: a5 OK SEARCH completed
        "#,
        validity = inbox.uid_validity,
        modseq = inbox.highest_modseq,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_7162_3_1_5_search_modseq_answers_the_highest_modseq_of_the_matches() {
    let f = fixture().await;
    let [first, second] = modseqs(&f, "INBOX").await[..] else {
        panic!("two messages");
    };
    let highest = folder(&f, "INBOX").await.highest_modseq;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 SEARCH MODSEQ {first}
        S: * OK [HIGHESTMODSEQ {highest}] Highest
        S: * SEARCH 1 2 (MODSEQ {second})
        S: a2 OK SEARCH completed
        C: a3 SEARCH MODSEQ {since}
        S: * SEARCH 2 (MODSEQ {second})
        S: a3 OK SEARCH completed
        # Nothing matched: no MODSEQ.
        C: a4 SEARCH MODSEQ {after}
        S: * SEARCH
        S: a4 OK SEARCH completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
        since = first + 1,
        after = highest + 1,
    );
    run_imaps(&f, &script).await;
}

// ---- SORT and THREAD (RFC 5256, ESORT of RFC 5267)

#[tokio::test]
async fn rfc_5256_sort_orders_by_subject_size_sender_and_date() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 SORT (SUBJECT) UTF-8 ALL
        S: * SORT 1 3 2
        S: a2 OK SORT completed
        C: a3 SORT (REVERSE SIZE) UTF-8 ALL
        S: * SORT 3 1 2
        S: a3 OK SORT completed
        C: a4 UID SORT (FROM) UTF-8 ALL
        S: * SORT 1 2 3
        S: a4 OK UID SORT completed
        # A message without Date: sorts by its INTERNALDATE (2023), after 1994.
        C: a5 SORT (REVERSE DATE) US-ASCII SUBJECT o
        S: * SORT 2 1
        S: a5 OK SORT completed
        # RFC 5267 §3: ESEARCH in sort order; MIN and MAX are the first and last.
        C: a6 SORT RETURN (MIN MAX COUNT ALL) (REVERSE SIZE) UTF-8 ALL
        S: * ESEARCH (TAG "a6") MIN 3 MAX 2 COUNT 3 ALL 3,1:2
        S: a6 OK SORT completed
        "#,
        state = selected(&f, "INBOX", 3, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_5256_thread_by_subject_and_by_references() {
    let f = fixture().await;
    for raw in [MULTIPART, REPLY, ASIDE] {
        deliver(&f, raw).await;
    }
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        # The reply shares the base subject; the aside has a subject of its own.
        C: a2 THREAD ORDEREDSUBJECT UTF-8 ALL
        S: * THREAD (1 4)(5)(2)(3)
        S: a2 OK THREAD completed
        # By references both answer message 1: two children of one parent.
        C: a3 THREAD REFERENCES UTF-8 ALL
        S: * THREAD (1 (4)(5))(2)(3)
        S: a3 OK THREAD completed
        C: a4 UID THREAD REFERENCES UTF-8 SUBJECT one
        S: * THREAD (1 4)
        S: a4 OK UID THREAD completed
        ",
        state = selected(&f, "INBOX", 5, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

// ---- COPY and MOVE (RFC 9051 §6.4.7-8, COPYUID of RFC 4315, RFC 6851)

#[tokio::test]
async fn rfc_4315_3_copy_answers_copyuid_and_keeps_flags_and_date() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    let archive = folder(&f, "Archive").await.uid_validity;
    client
        .script(&format!(
            r"
            C: a1 SELECT INBOX
            {state}
            S: a1 OK [READ-WRITE] SELECT completed
            C: a2 STORE 1 +FLAGS.SILENT (\Flagged)
            S: a2 OK STORE completed
            C: a3 COPY 1:2 Archive
            S: a3 OK [COPYUID {archive} 1:2 1:2] COPY completed
            C: a4 UID COPY 2 Archive
            S: a4 OK [COPYUID {archive} 2 3] UID COPY completed
            # UIDs that name nothing copy nothing: no COPYUID.
            C: a5 UID COPY 10:20 Archive
            S: a5 OK UID COPY completed; no messages matched
            C: a6 COPY 1 Nowhere
            S: a6 NO [TRYCREATE] No such folder; create it first
            # The originals stay.
            C: a7 FETCH 1:2 UID
            S: * 1 FETCH (UID 1)
            S: * 2 FETCH (UID 2)
            S: a7 OK FETCH completed
            C: a8 STATUS Archive (MESSAGES UIDNEXT)
            S: * STATUS Archive (MESSAGES 3 UIDNEXT 4)
            S: a8 OK STATUS completed
            ",
            state = selected(&f, "INBOX", 2, Some(1)).await,
        ))
        .await;
    client
        .script(&format!(
            r#"
            C: b1 EXAMINE Archive
            S: * OK [CLOSED] Previous folder closed
            {state}
            S: b1 OK [READ-ONLY] EXAMINE completed
            C: b2 FETCH 1 (FLAGS INTERNALDATE)
            S: * 1 FETCH (FLAGS (\Flagged) INTERNALDATE "{DELIVERED}")
            S: b2 OK FETCH completed
            "#,
            state = examined(&f, "Archive", 3, Some(1)).await,
        ))
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_6851_4_3_move_sends_copyuid_before_the_expunges() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 MOVE 1 Trash
        S: * OK [COPYUID {trash} 1 1] Moved
        S: * 1 EXPUNGE
        S: a2 OK MOVE completed
        C: a3 UID MOVE 2 Nowhere
        S: a3 NO [TRYCREATE] No such folder; create it first
        C: a4 UID MOVE 2:3 Archive
        S: * OK [COPYUID {archive} 2:3 1:2] Moved
        S: * 1 EXPUNGE
        S: * 1 EXPUNGE
        S: a4 OK UID MOVE completed
        C: a5 UID MOVE 1:* Archive
        S: a5 OK UID MOVE completed; no messages matched
        C: a6 STATUS Trash (MESSAGES)
        S: * STATUS Trash (MESSAGES 1)
        S: a6 OK STATUS completed
        ",
        state = selected(&f, "INBOX", 3, Some(1)).await,
        trash = folder(&f, "Trash").await.uid_validity,
        archive = folder(&f, "Archive").await.uid_validity,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_7162_3_2_10_move_under_qresync_answers_vanished() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 ENABLE QRESYNC
        S: * ENABLED QRESYNC
        S: a1 OK ENABLE completed
        C: a2 SELECT INBOX
        {state}
        S: a2 OK [READ-WRITE] SELECT completed
        C: a3 MOVE 2 Trash
        S: * OK [COPYUID {trash} 2 1] Moved
        S: * VANISHED 2
        S: a3 OK MOVE completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
        trash = folder(&f, "Trash").await.uid_validity,
    );
    run_imaps(&f, &script).await;
}

// ---- EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1, RFC 7162 §3.2.7)

#[tokio::test]
async fn rfc_9051_6_4_3_expunge_reports_each_removed_message_in_turn() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    deliver(&f, REPLY).await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 STORE 1,3 +FLAGS.SILENT (\Deleted)
        S: a2 OK STORE completed
        # Once 1 is gone, the old 3 is number 2.
        C: a3 EXPUNGE
        S: * 1 EXPUNGE
        S: * 2 EXPUNGE
        S: a3 OK EXPUNGE completed
        C: a4 FETCH 1:* UID
        S: * 1 FETCH (UID 2)
        S: * 2 FETCH (UID 4)
        S: a4 OK FETCH completed
        C: a5 EXPUNGE
        S: a5 OK EXPUNGE completed
        ",
        state = selected(&f, "INBOX", 4, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_4315_2_1_uid_expunge_removes_only_the_given_uids() {
    let f = fixture().await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 SELECT INBOX
        {state}
        S: a1 OK [READ-WRITE] SELECT completed
        C: a2 STORE 1:2 +FLAGS.SILENT (\Deleted)
        S: a2 OK STORE completed
        C: a3 UID EXPUNGE 2
        S: * 2 EXPUNGE
        S: a3 OK UID EXPUNGE completed
        C: a4 FETCH 1:* (UID FLAGS)
        S: * 1 FETCH (UID 1 FLAGS (\Deleted))
        S: a4 OK FETCH completed
        C: a5 UID EXPUNGE 5:9
        S: a5 OK UID EXPUNGE completed
        ",
        state = selected(&f, "INBOX", 2, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_7162_3_2_7_expunge_under_qresync_answers_vanished_and_highestmodseq() {
    let f = fixture().await;
    deliver(&f, MULTIPART).await;
    let next = next_modseq(&f, "INBOX").await;
    let script = format!(
        r"{LOGIN_IMAPS}
        C: a1 ENABLE QRESYNC
        S: * ENABLED QRESYNC
        S: a1 OK ENABLE completed
        C: a2 SELECT INBOX
        {state}
        S: a2 OK [READ-WRITE] SELECT completed
        C: a3 STORE 1:3 +FLAGS.SILENT (\Deleted)
        S: * 1 FETCH (UID 1 MODSEQ ({next}))
        S: * 2 FETCH (UID 2 MODSEQ ({next}))
        S: * 3 FETCH (UID 3 MODSEQ ({next}))
        S: a3 OK STORE completed
        C: a4 UID EXPUNGE 2
        S: * VANISHED 2
        S: a4 OK [HIGHESTMODSEQ {second}] UID EXPUNGE completed
        C: a5 EXPUNGE
        S: * VANISHED 1,3
        S: a5 OK [HIGHESTMODSEQ {third}] EXPUNGE completed
        ",
        state = selected(&f, "INBOX", 3, Some(1)).await,
        second = next + 1,
        third = next + 2,
    );
    run_imaps(&f, &script).await;
}

// ---- CLOSE and UNSELECT (RFC 9051 §6.4.1-2)

#[tokio::test]
async fn rfc_9051_6_4_1_close_expunges_silently_and_unselect_does_not() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    client
        .script(&format!(
            r"
            C: a1 SELECT INBOX
            {state}
            S: a1 OK [READ-WRITE] SELECT completed
            C: a2 STORE 1 +FLAGS.SILENT (\Deleted)
            S: a2 OK STORE completed
            # RFC 3691: UNSELECT leaves without expunging.
            C: a3 UNSELECT
            S: a3 OK UNSELECT completed
            C: a4 STATUS INBOX (MESSAGES DELETED)
            S: * STATUS INBOX (MESSAGES 2 DELETED 1)
            S: a4 OK STATUS completed
            ",
            state = selected(&f, "INBOX", 2, Some(1)).await,
        ))
        .await;
    client
        .script(&format!(
            r"
            # CLOSE of a read-only selection removes nothing.
            C: b1 EXAMINE INBOX
            {examined}
            S: b1 OK [READ-ONLY] EXAMINE completed
            C: b2 CLOSE
            S: b2 OK CLOSE completed
            C: b3 STATUS INBOX (MESSAGES)
            S: * STATUS INBOX (MESSAGES 2)
            S: b3 OK STATUS completed
            # CLOSE of a read-write selection removes \Deleted messages, saying nothing.
            C: b4 SELECT INBOX
            {selected}
            S: b4 OK [READ-WRITE] SELECT completed
            C: b5 CLOSE
            S: b5 OK CLOSE completed
            C: b6 STATUS INBOX (MESSAGES DELETED)
            S: * STATUS INBOX (MESSAGES 1 DELETED 0)
            S: b6 OK STATUS completed
            C: b7 CLOSE
            S: b7 BAD No folder selected
            C: b8 UNSELECT
            S: b8 BAD No folder selected
            ",
            examined = examined(&f, "INBOX", 2, Some(1)).await,
            selected = selected(&f, "INBOX", 2, Some(1)).await,
        ))
        .await;
    client.finish().await;
}

// ---- QUOTA (RFC 9208)

#[tokio::test]
async fn rfc_9208_a_mailbox_without_a_limit_has_no_quota_root() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 GETQUOTAROOT INBOX
        S: * QUOTAROOT INBOX
        S: a1 OK GETQUOTAROOT completed
        C: a2 GETQUOTA ""
        S: a2 NO [NONEXISTENT] This mailbox has no quota
        C: a3 GETQUOTAROOT Nowhere
        S: a3 NO [NONEXISTENT] No such folder
        C: a4 SETQUOTA "" (STORAGE 10)
        S: a4 NO [NOPERM] Quotas are set by the administrator
        "#
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_9208_a_mailbox_with_a_limit_reports_its_storage_in_kib() {
    let f = fixture().await;
    let mailbox = limited_mailbox(&f, 1024 * 1024).await;
    for raw in MESSAGES {
        deliver_to(&f, mailbox, raw).await;
    }
    run_imaps(
        &f,
        r#"
        S: * OK *
        C: a1 LOGIN quota@example.test mailbox-secret-1
        S: a1 OK [CAPABILITY *] Logged in
        C: a2 GETQUOTAROOT INBOX
        S: * QUOTAROOT INBOX ""
        S: * QUOTA "" (STORAGE 1 1024)
        S: a2 OK GETQUOTAROOT completed
        C: a3 GETQUOTA ""
        S: * QUOTA "" (STORAGE 1 1024)
        S: a3 OK GETQUOTA completed
        C: a4 GETQUOTA "other"
        S: a4 NO [NONEXISTENT] No such quota root
        C: a5 SETQUOTA "" (STORAGE 2048)
        S: a5 NO [NOPERM] Quotas are set by the administrator
        "#,
    )
    .await;
}

// ---- COMPRESS (RFC 4978)

#[tokio::test]
async fn rfc_4978_3_compress_with_an_unknown_mechanism_is_bad() {
    let f = fixture().await;
    let script = format!(
        "{LOGIN_IMAPS}
        C: a1 COMPRESS FOO
        S: a1 BAD Only DEFLATE is offered
        C: a2 NOOP
        S: a2 OK NOOP completed
        "
    );
    run_imaps(&f, &script).await;
}

#[tokio::test]
async fn rfc_4978_3_after_compress_the_stream_is_deflate_and_a_second_compress_is_refused() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    client
        .script(
            "
            C: a1 COMPRESS DEFLATE
            S: a1 OK DEFLATE active
            ",
        )
        .await;
    let mut deflate = Deflate::new();
    deflate
        .script(
            &mut client,
            &format!(
                "
                C: a2 COMPRESS DEFLATE
                S: a2 NO [COMPRESSIONACTIVE] Compression is already active
                C: a3 CAPABILITY
                S: * CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS CONDSTORE QRESYNC ESEARCH SEARCHRES SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES WITHIN STATUS=SIZE SAVEDATE QUOTA QUOTA=RES-STORAGE MULTIAPPEND BINARY UTF8=ACCEPT APPENDLIMIT={limit}
                S: a3 OK CAPABILITY completed
                C: a4 STATUS INBOX (MESSAGES)
                S: * STATUS INBOX (MESSAGES 2)
                S: a4 OK STATUS completed
                C: a5 LOGOUT
                S: * BYE Logging out
                S: a5 OK LOGOUT completed
                ",
                limit = Limits::default().max_literal,
            ),
        )
        .await;
    client.finish().await;
}

// ---- Changes made by another session (RFC 9051 §7.5, RFC 7162 §3.2.10)

/// The ENVELOPEs of [`MESSAGES`] and [`MULTIPART`].
const ENVELOPE_ONE: &str = r#"("Mon, 7 Feb 1994 21:52:25 -0800" "one" (("Alice" NIL "alice" "remote.example")) (("Alice" NIL "alice" "remote.example")) (("Alice" NIL "alice" "remote.example")) ((NIL NIL "toto" "example.test")) NIL NIL NIL "<one@remote.example>")"#;
const ENVELOPE_TWO: &str = r#"(NIL "two" ((NIL NIL "bob" "remote.example")) ((NIL NIL "bob" "remote.example")) ((NIL NIL "bob" "remote.example")) NIL NIL NIL NIL NIL)"#;
const ENVELOPE_PARTS: &str = r#"(NIL "parts" ((NIL NIL "carol" "remote.example")) ((NIL NIL "carol" "remote.example")) ((NIL NIL "carol" "remote.example")) ((NIL NIL "toto" "example.test")) NIL NIL NIL NIL)"#;
const BODYSTRUCTURE_PARTS: &str = r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL)("APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 20 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL)"#;

/// FETCH of the common items reads the store's folder view, which one session's FETCH
/// caches and every session shares: after changes by another session (flags and keywords,
/// an expunge, a delivery) and by another process on the same data folder (which publishes
/// no event here), the next FETCH answers exactly the new state, MODSEQs included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_4_fetch_from_the_shared_folder_view_sees_every_change_made_elsewhere() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let state = selected(&f, "INBOX", 2, Some(1)).await;
    let mut a = logged_in(&f, &server).await;
    let mut b = logged_in(&f, &server).await;
    let open = |tag: &str| {
        format!("C: {tag} SELECT INBOX\n{state}\nS: {tag} OK [READ-WRITE] SELECT completed")
    };
    a.script(&open("a1")).await;
    let (ms, highest) = (
        modseqs(&f, "INBOX").await,
        folder(&f, "INBOX").await.highest_modseq,
    );
    a.script(&format!(
        r"
        C: a2 FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE MODSEQ)
        S: * OK [HIGHESTMODSEQ {highest}] Highest
        S: * 1 FETCH (UID 1 FLAGS () RFC822.SIZE {one} ENVELOPE {ENVELOPE_ONE} MODSEQ ({m1}))
        S: * 2 FETCH (UID 2 FLAGS () RFC822.SIZE {two} ENVELOPE {ENVELOPE_TWO} MODSEQ ({m2}))
        S: a2 OK FETCH completed
        ",
        one = MESSAGES[0].len(),
        two = MESSAGES[1].len(),
        m1 = ms[0],
        m2 = ms[1],
    ))
    .await;

    // Another session changes flags and a keyword, and expunges; a message is delivered.
    b.script(&open("b1")).await;
    b.script(
        r"
        C: b2 STORE 1 +FLAGS.SILENT (\Flagged $Work)
        S: b2 OK STORE completed
        C: b3 STORE 2 +FLAGS.SILENT (\Deleted)
        S: b3 OK STORE completed
        C: b4 EXPUNGE
        S: * 2 EXPUNGE
        S: b4 OK EXPUNGE completed
        ",
    )
    .await;
    deliver(&f, MULTIPART).await;
    let ms = modseqs(&f, "INBOX").await;
    a.script(&format!(
        r"
        C: a3 NOOP
        S: * 2 EXPUNGE
        S: * 2 EXISTS
        S: * 1 FETCH (UID 1 FLAGS (\Flagged $Work) MODSEQ ({m1}))
        S: a3 OK NOOP completed
        C: a4 FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE MODSEQ)
        S: * 1 FETCH (UID 1 FLAGS (\Flagged $Work) RFC822.SIZE {one} ENVELOPE {ENVELOPE_ONE} BODYSTRUCTURE {one_body} MODSEQ ({m1}))
        S: * 2 FETCH (UID 3 FLAGS () RFC822.SIZE {parts} ENVELOPE {ENVELOPE_PARTS} BODYSTRUCTURE {BODYSTRUCTURE_PARTS} MODSEQ ({m3}))
        S: a4 OK FETCH completed
        ",
        one = MESSAGES[0].len(),
        one_body = r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 8 1 NIL NIL NIL NIL)"#,
        parts = MULTIPART.len(),
        m1 = ms[0],
        m3 = ms[1],
    ))
    .await;

    // Another process on the same data folder: its writes reach this server only through the
    // database, never as events, so the session reports nothing; its FETCHes still see them.
    let other = postwerk_store::open_sqlite(&f._dir.path().join("data"))
        .await
        .unwrap();
    let inbox = folder(&f, "INBOX").await;
    other
        .mail
        .set_flags(
            inbox.id,
            &UidSet::from_uids([1, 3]),
            postwerk_store::FlagOp::Replace,
            &Flags::system(postwerk_store::SystemFlags::SEEN),
            None,
        )
        .await
        .unwrap();
    let raw = MESSAGES[1].as_bytes();
    other
        .mail
        .append(
            inbox.id,
            raw,
            &MessageIndex::parse(raw),
            &Flags::none(),
            DELIVERED_AT,
        )
        .await
        .unwrap();
    other.close().await;
    let seen = folder(&f, "INBOX").await.highest_modseq - 1;
    a.script(&format!(
        r"
        C: a5 FETCH 1:* (UID FLAGS MODSEQ)
        S: * 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ ({seen}))
        S: * 2 FETCH (UID 3 FLAGS (\Seen) MODSEQ ({seen}))
        S: a5 OK FETCH completed
        C: a6 NOOP
        S: a6 OK NOOP completed
        # Selected again (from the cached view), the folder shows the other process's message.
        C: a7 SELECT INBOX
        S: * OK [CLOSED] Previous folder closed
        {state}
        S: a7 OK [READ-WRITE] SELECT completed
        C: a8 FETCH 3 (UID FLAGS RFC822.SIZE ENVELOPE MODSEQ)
        S: * 3 FETCH (UID 4 FLAGS () RFC822.SIZE {two} ENVELOPE {ENVELOPE_TWO} MODSEQ ({last}))
        S: a8 OK FETCH completed
        ",
        state = selected(&f, "INBOX", 3, Some(3)).await,
        two = MESSAGES[1].len(),
        last = seen + 1,
    ))
    .await;
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn rfc_9051_7_5_2_a_flag_change_by_another_session_is_reported_at_the_next_noop() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let state = selected(&f, "INBOX", 2, Some(1)).await;
    let mut a = logged_in(&f, &server).await;
    let mut b = logged_in(&f, &server).await;
    let open = |tag: &str| {
        format!("C: {tag} SELECT INBOX\n{state}\nS: {tag} OK [READ-WRITE] SELECT completed")
    };
    a.script(&open("a1")).await;
    b.script(&open("b1")).await;
    b.script(
        r"
        C: b2 STORE 1 +FLAGS (\Flagged)
        S: * 1 FETCH (FLAGS (\Flagged))
        S: b2 OK STORE completed
        ",
    )
    .await;
    let highest = folder(&f, "INBOX").await.highest_modseq;
    a.script(&format!(
        r"
        C: a2 NOOP
        S: * 1 FETCH (UID 1 FLAGS (\Flagged))
        S: a2 OK NOOP completed
        C: a3 NOOP
        S: a3 OK NOOP completed
        # FETCH MODSEQ turns CONDSTORE on: from now on updates carry MODSEQ (RFC 7162 §3.1).
        C: a4 FETCH 2 MODSEQ
        S: * OK [HIGHESTMODSEQ {highest}] Highest
        S: * 2 FETCH (MODSEQ ({second}))
        S: a4 OK FETCH completed
        ",
        second = modseqs(&f, "INBOX").await[1],
    ))
    .await;
    b.script(
        r"
        C: b3 STORE 2 +FLAGS (\Seen)
        S: * 2 FETCH (FLAGS (\Seen))
        S: b3 OK STORE completed
        ",
    )
    .await;
    a.script(&format!(
        r"
        C: a5 NOOP
        S: * 2 FETCH (UID 2 FLAGS (\Seen) MODSEQ ({modseq}))
        S: a5 OK NOOP completed
        ",
        modseq = highest + 1,
    ))
    .await;
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn rfc_9051_7_5_1_an_expunge_by_another_session_waits_for_noop_not_fetch() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let state = selected(&f, "INBOX", 2, Some(1)).await;
    let mut a = logged_in(&f, &server).await;
    let mut b = logged_in(&f, &server).await;
    let open = |tag: &str| {
        format!("C: {tag} SELECT INBOX\n{state}\nS: {tag} OK [READ-WRITE] SELECT completed")
    };
    a.script(&open("a1")).await;
    b.script(&open("b1")).await;
    b.script(
        r"
        C: b2 STORE 2 +FLAGS.SILENT (\Deleted)
        S: b2 OK STORE completed
        C: b3 EXPUNGE
        S: * 2 EXPUNGE
        S: b3 OK EXPUNGE completed
        ",
    )
    .await;
    a.script(
        "
        # No EXPUNGE during FETCH: it would renumber the messages the FETCH names.
        C: a2 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: a2 OK FETCH completed
        # RFC 5530 §3: the message still numbered 2 is gone.
        C: a3 FETCH 2 FLAGS
        S: a3 NO [EXPUNGEISSUED] Some of the requested messages no longer exist
        C: a4 NOOP
        S: * 2 EXPUNGE
        S: a4 OK NOOP completed
        C: a5 FETCH 1:* UID
        S: * 1 FETCH (UID 1)
        S: a5 OK FETCH completed
        ",
    )
    .await;
    a.finish().await;
    b.finish().await;
}

#[tokio::test]
async fn rfc_7162_3_2_10_under_qresync_an_expunge_elsewhere_is_vanished() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let state = selected(&f, "INBOX", 2, Some(1)).await;
    let mut a = logged_in(&f, &server).await;
    let mut b = logged_in(&f, &server).await;
    a.script(&format!(
        "
        C: a1 ENABLE QRESYNC
        S: * ENABLED QRESYNC
        S: a1 OK ENABLE completed
        C: a2 SELECT INBOX
        {state}
        S: a2 OK [READ-WRITE] SELECT completed
        "
    ))
    .await;
    b.script(&format!(
        r"
        C: b1 SELECT INBOX
        {state}
        S: b1 OK [READ-WRITE] SELECT completed
        C: b2 STORE 1 +FLAGS.SILENT (\Deleted)
        S: b2 OK STORE completed
        C: b3 EXPUNGE
        S: * 1 EXPUNGE
        S: b3 OK EXPUNGE completed
        "
    ))
    .await;
    deliver(&f, MULTIPART).await;
    a.script(
        "
        C: a3 NOOP
        S: * VANISHED 1
        S: * 2 EXISTS
        S: a3 OK NOOP completed
        C: a4 FETCH 1:* UID
        S: * 1 FETCH (UID 2)
        S: * 2 FETCH (UID 3)
        S: a4 OK FETCH completed
        ",
    )
    .await;
    a.finish().await;
    b.finish().await;
}

// ---- CREATE-SPECIAL-USE (RFC 6154 §3)

#[tokio::test]
async fn rfc_6154_3_create_special_use_gives_a_free_use_and_refuses_the_others() {
    let f = fixture().await;
    let script = format!(
        r#"{LOGIN_IMAPS}
        C: a1 CAPABILITY
        S: * CAPABILITY IMAP4rev1 IMAP4rev2 * SPECIAL-USE CREATE-SPECIAL-USE *
        S: a1 OK CAPABILITY completed
        # The default Junk folder holds \Junk (ADDR-11); once it is gone the use is free.
        C: a2 DELETE Junk
        S: a2 OK DELETE completed
        C: a3 CREATE Spam (USE (\Junk))
        S: a3 OK CREATE completed
        C: a4 LIST "" Spam
        S: * LIST (\HasNoChildren \Junk) "/" Spam
        S: a4 OK LIST completed
        C: a5 LIST (SPECIAL-USE) "" *
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * LIST (\HasNoChildren \Drafts) "/" Drafts
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: * LIST (\HasNoChildren \Junk) "/" Spam
        S: * LIST (\HasNoChildren \Trash) "/" Trash
        S: a5 OK LIST completed
        # A use held by another folder, a virtual one, and two at once: nothing is created.
        C: a6 CREATE "Sent Items" (USE (\Sent))
        S: a6 NO [USEATTR] the folder Sent already has the special use \Sent
        C: a7 CREATE Everything (USE (\All))
        S: a7 NO [USEATTR] \All is not a special use this server can give a folder
        C: a8 CREATE Both (USE (\Drafts \Archive))
        S: a8 NO [USEATTR] A folder can have only one special use here
        C: a9 LIST "" "*e*"
        S: * LIST (\HasNoChildren \Archive) "/" Archive
        S: * LIST (\HasNoChildren \Sent) "/" Sent
        S: a9 OK LIST completed
        # USE () asks for nothing.
        C: a10 CREATE Plain (USE ())
        S: a10 OK CREATE completed
        C: a11 LIST "" Plain
        S: * LIST (\HasNoChildren) "/" Plain
        S: a11 OK LIST completed
        "#
    );
    run_imaps(&f, &script).await;
}

// ---- UTF-8 (RFC 6855): a client that enabled UTF8=ACCEPT, and one that did not

/// A message whose header holds raw UTF-8 (RFC 6532): Subject `Grüße`, From `Zoë`.
const UTF8_HEADER: &str =
    "From: Zoë <zoe@remote.example>\r\nTo: toto@example.test\r\nSubject: Grüße\r\n\r\nHallo.\r\n";

#[tokio::test]
async fn rfc_6855_3_a_utf8_accept_client_gets_utf8_names_and_strings() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Imaps);
    let mut client = logged_in(&f, &server).await;
    // `C~` lines spell CR and LF as `\r` and `\n`.
    let message = UTF8_HEADER.replace("\r\n", r"\r\n");
    client
        .script(&format!(
            r#"
            C: a1 ENABLE UTF8=ACCEPT
            S: * ENABLED UTF8=ACCEPT
            S: a1 OK ENABLE completed
            # Mailbox names are UTF-8 quoted strings, not modified UTF-7 (RFC 6855 §3).
            C: a2 CREATE "Grüße"
            S: a2 OK CREATE completed
            C: a3 LIST "" "Gr*"
            S: * LIST (\HasNoChildren) "/" "Grüße"
            S: a3 OK LIST completed
            # RFC 6855 §4: the message as a UTF8 APPEND data item.
            C~ a4 APPEND "Grüße" UTF8 (~{{84+}}\r\n{message})\r\n
            S: a4 OK [APPENDUID * 1] APPEND completed
            "#
        ))
        .await;
    client
        .script(&format!(
            r#"
            C: a5 EXAMINE "Grüße"
            {state}
            S: a5 OK [READ-ONLY] EXAMINE completed
            # The strings as the message has them (a literal each: UTF-8 is never quoted here).
            C: a6 FETCH 1 (ENVELOPE)
            S: * 1 FETCH (ENVELOPE (NIL {{7}}
            S: Grüße (({{4}}
            S: Zoë NIL "zoe" "remote.example")) (({{4}}
            S: Zoë NIL "zoe" "remote.example")) (({{4}}
            S: Zoë NIL "zoe" "remote.example")) ((NIL NIL "toto" "example.test")) NIL NIL NIL NIL))
            S: a6 OK FETCH completed
            "#,
            state = examined(&f, "Grüße", 1, Some(1)).await,
        ))
        .await;
    client.finish().await;
}

#[tokio::test]
async fn rfc_6855_5_a_legacy_client_gets_modified_utf7_names_and_the_message_as_stored() {
    let f = fixture().await;
    deliver(&f, UTF8_HEADER).await;
    f.stores.mail.create_folder(f.toto, "Grüße").await.unwrap();
    let script = format!(
        r#"{LOGIN_IMAPS}
        # RFC 3501 §5.1.3: without UTF8=ACCEPT the name is in modified UTF-7, both ways.
        C: a1 LIST "" "Gr*"
        S: * LIST (\HasNoChildren) "/" Gr&APwA3w-e
        S: a1 OK LIST completed
        C: a2 STATUS Gr&APwA3w-e (MESSAGES)
        S: * STATUS Gr&APwA3w-e (MESSAGES 0)
        S: a2 OK STATUS completed
        C: a3 EXAMINE INBOX
        {state}
        S: a3 OK [READ-ONLY] EXAMINE completed
        # A section is octets in a literal (RFC 3501 §4.3), sent as stored so that it agrees
        # with RFC822.SIZE (see `fetch::Strings`).
        C: a4 FETCH 3 (RFC822.SIZE BODY.PEEK[HEADER])
        S: * 3 FETCH (RFC822.SIZE 84 BODY[HEADER] {{76}}
        S: From: Zoë <zoe@remote.example>
        S: To: toto@example.test
        S: Subject: Grüße
        S:
        S: )
        S: a4 OK FETCH completed
        # RFC 6855 §3: no UTF-8 in a string for this client; RFC 2047 words (RFC 6857 §3).
        C: a5 FETCH 3 (ENVELOPE)
        S: * 3 FETCH (ENVELOPE (NIL "=?utf-8?q?Gr=C3=BC=C3=9Fe?=" (("=?utf-8?q?Zo=C3=AB?=" NIL "zoe" "remote.example")) (("=?utf-8?q?Zo=C3=AB?=" NIL "zoe" "remote.example")) (("=?utf-8?q?Zo=C3=AB?=" NIL "zoe" "remote.example")) ((NIL NIL "toto" "example.test")) NIL NIL NIL NIL))
        S: a5 OK FETCH completed
        "#,
        state = examined(&f, "INBOX", 3, Some(1)).await,
    );
    run_imaps(&f, &script).await;
}
