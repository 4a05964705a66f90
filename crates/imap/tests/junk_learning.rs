//! RCV-4 learning end to end: Python's imaplib, an independent client, moves and copies
//! messages into and out of Junk over a real imaps listener on loopback, and the mailbox's
//! sender lists in the real embedded store change as the user meant.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use postwerk_core::{FailureLimiter, FailurePolicy, JunkLearning, MailboxAuth};
use postwerk_imap::{Limits, ListenerKind, Server};
use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, ListKind, SpecialUse, sender_verdict};
use postwerk_net::Shutdown;
use postwerk_store::{DeliveryTarget, Flags, Stores, TargetFolder};
use postwerk_testkit::directory::Directory;
use postwerk_testkit::transcript::TlsPair;
use tokio::net::TcpListener;

const TOTO: &str = "toto@example.test";
const PASSWORD: &str = "mailbox-secret-1";
const NOW: i64 = 1_800_000_000;

/// Only a guard against a hang of the client or the server.
const GUARD: Duration = Duration::from_secs(60);

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    mailbox: AddressId,
    tls: TlsPair,
}

/// example.test with the mailbox toto, no sender rules.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 10).await;
    let mailbox = directory.mailbox(TOTO, PASSWORD).await;
    let Directory { dir, stores, .. } = directory;
    Fixture {
        tls: TlsPair::self_signed(&dir.path().join("tls")),
        _dir: dir,
        stores,
        mailbox,
    }
}

impl Fixture {
    /// Delivers a message from `from` to toto's `folder`, as local delivery does.
    async fn deliver(&self, from: &str, folder: TargetFolder) {
        let raw = format!(
            "From: <{from}>\r\nTo: {TOTO}\r\nSubject: Offers from {from}\r\n\
             Message-ID: <{from}@test>\r\n\r\nToday only.\r\n"
        );
        let index = MessageIndex::parse(raw.as_bytes());
        let target = DeliveryTarget {
            mailbox: self.mailbox,
            folder,
        };
        self.stores
            .mail
            .deliver(raw.as_bytes(), &index, &[target], &Flags::none(), NOW)
            .await
            .unwrap();
    }

    /// What toto's lists now say about `sender`.
    async fn verdict(&self, sender: &str) -> Option<ListKind> {
        let rules = self
            .stores
            .manager
            .sender_rules(self.mailbox)
            .await
            .unwrap();
        sender_verdict(&rules, &sender.parse().unwrap())
    }

    /// An imaps listener on loopback with learning on, as `serve` wires it with
    /// `[spam] learn_from_moves = true`; its port.
    async fn listen(&self) -> u16 {
        let auth = MailboxAuth::new(
            self.stores.directory.clone(),
            Arc::new(FailureLimiter::new(FailurePolicy::default())),
        );
        let learning = JunkLearning::new(self.stores.mail.clone(), self.stores.manager.clone());
        let server = Arc::new(Server {
            hostname: "mail.example.test".into(),
            kind: ListenerKind::Imaps,
            limits: Limits::default(),
            auth: Arc::new(auth),
            mail: self.stores.mail.clone(),
            directory: self.stores.directory.clone(),
            tls: Some(self.tls.acceptor.clone()),
            shutdown: Shutdown::new(),
            junk_learning: Some(Arc::new(learning)),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                tokio::spawn(server.clone().handle(stream, peer));
            }
        });
        port
    }
}

/// Logs in as toto over implicit TLS and, for each `(verb, from, source, destination)`,
/// selects `source`, finds the message from `from` and runs `UID <verb>` to `destination`;
/// prints one line per step: the verb and the tagged status.
const CLIENT: &str = r#"
import imaplib, ssl, sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
steps = [step.split(",") for step in sys.argv[4:]]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
conn = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
conn.login(user, password)
for verb, sender, source, destination in steps:
    status, _ = conn.select(source)
    assert status == "OK", (source, status)
    status, data = conn.uid("SEARCH", "FROM", '"' + sender + '"')
    uids = data[0].split()
    assert status == "OK" and len(uids) == 1, (sender, status, data)
    status, data = conn.uid(verb, uids[0].decode(), destination)
    print(verb, status, data[-1].decode() if data and data[-1] else "")
conn.logout()
"#;

/// Runs [`CLIENT`] against `port` with `steps`; its output lines.
async fn imaplib(port: u16, steps: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-c".into(),
        CLIENT.into(),
        port.to_string(),
        TOTO.into(),
        PASSWORD.into(),
    ];
    args.extend(steps.iter().map(|step| step.to_string()));
    let run = tokio::task::spawn_blocking(move || Command::new("python3").args(&args).output());
    let output = tokio::time::timeout(GUARD, run)
        .await
        .expect("imaplib finished within the guard")
        .unwrap()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "imaplib failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn rcv_4_moves_into_and_out_of_junk_over_imap_update_the_sender_lists() {
    let f = fixture().await;
    f.deliver("news@shop.example", TargetFolder::Inbox).await;
    f.deliver(
        "promo@spam.example",
        TargetFolder::SpecialUse(SpecialUse::Junk),
    )
    .await;
    let port = f.listen().await;

    let lines = imaplib(
        port,
        &[
            "MOVE,news@shop.example,INBOX,Junk",
            "MOVE,promo@spam.example,Junk,INBOX",
        ],
    )
    .await;

    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.iter().all(|line| line.starts_with("MOVE OK")),
        "{lines:?}"
    );
    assert_eq!(
        f.verdict("news@shop.example").await,
        Some(ListKind::Block),
        "a newsletter the user moved to Junk is blocked"
    );
    assert_eq!(
        f.verdict("promo@spam.example").await,
        Some(ListKind::Allow),
        "a message the user rescued from Junk makes its sender allowed"
    );
    assert_eq!(f.verdict("other@shop.example").await, None);
}

#[tokio::test]
async fn rcv_4_a_copy_into_junk_blocks_and_deleting_spam_or_ones_own_teaches_nothing() {
    let f = fixture().await;
    f.deliver("deals@outlet.example", TargetFolder::Inbox).await;
    // Spam forging the user's own address in From:.
    f.deliver(TOTO, TargetFolder::Inbox).await;
    f.deliver(
        "promo@spam.example",
        TargetFolder::SpecialUse(SpecialUse::Junk),
    )
    .await;
    let port = f.listen().await;

    let lines = imaplib(
        port,
        &[
            "COPY,deals@outlet.example,INBOX,Junk",
            "MOVE,promo@spam.example,Junk,Trash",
            &format!("MOVE,{TOTO},INBOX,Junk"),
        ],
    )
    .await;

    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("COPY OK"), "{lines:?}");
    assert!(lines[1].starts_with("MOVE OK"), "{lines:?}");
    assert!(lines[2].starts_with("MOVE OK"), "{lines:?}");
    assert_eq!(
        f.verdict("deals@outlet.example").await,
        Some(ListKind::Block)
    );
    assert_eq!(f.verdict("promo@spam.example").await, None);
    assert_eq!(
        f.verdict(TOTO).await,
        None,
        "the user's own address is never blocked, or their notes to self would bounce"
    );
}
