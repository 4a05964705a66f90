//! IMAP SEARCH BODY against SEARCH TEXT (RFC 9051 §6.4.4) over a real session and store: BODY
//! looks at the body only, TEXT at the header and the body, whether or not the full-text
//! indexer has run yet.

use std::sync::Arc;
use std::time::Duration;

use postwerk_core::{FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_imap::{Limits, ListenerKind, Server};
use postwerk_message::MessageIndex;
use postwerk_net::Shutdown;
use postwerk_store::{DeliveryTarget, Flags};
use postwerk_testkit::directory::Directory;
use postwerk_testkit::transcript::{Client, TlsPair};

const TOTO: &str = "toto@example.test";
const PASSWORD: &str = "mailbox-secret-1";

/// Only a guard against a hang of the indexer.
const GUARD: Duration = Duration::from_secs(60);

/// The word is in the subject of the first message and in the body of the second.
const MESSAGES: [&str; 2] = [
    "From: alice@remote.example\r\nTo: toto@example.test\r\nSubject: Zanzibar itinerary\r\n\
     Message-ID: <one@remote.example>\r\n\r\nSee you at the airport.\r\n",
    "From: bob@remote.example\r\nTo: toto@example.test\r\nSubject: Photos\r\n\
     Message-ID: <two@remote.example>\r\n\r\nBack from Zanzibar, photos attached.\r\n",
];

const SEARCHES: &str = "
    C: s1 UID SEARCH BODY zanzibar
    S: * SEARCH 2
    S: s1 OK UID SEARCH completed
    C: s2 UID SEARCH TEXT zanzibar
    S: * SEARCH 1 2
    S: s2 OK UID SEARCH completed
    # Only in a subject: BODY finds nothing, TEXT finds it.
    C: s3 UID SEARCH BODY itinerary
    S: * SEARCH
    S: s3 OK UID SEARCH completed
    C: s4 UID SEARCH TEXT itinerary
    S: * SEARCH 1
    S: s4 OK UID SEARCH completed
    # A body word, and header field names, which are header text.
    C: s5 UID SEARCH BODY airport
    S: * SEARCH 1
    S: s5 OK UID SEARCH completed
    C: s6 UID SEARCH BODY message-id
    S: * SEARCH
    S: s6 OK UID SEARCH completed
    # Both keys in one search, with another key (the general path).
    C: s7 UID SEARCH TEXT itinerary NOT BODY itinerary UNSEEN
    S: * SEARCH 1
    S: s7 OK UID SEARCH completed
    C: s8 UID SEARCH OR BODY itinerary BODY photos
    S: * SEARCH 2
    S: s8 OK UID SEARCH completed
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_body_ignores_the_header_and_search_text_does_not() {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 10).await;
    let toto = directory.mailbox(TOTO, PASSWORD).await;
    let Directory { dir, stores, .. } = directory;
    let tls = TlsPair::self_signed(&dir.path().join("tls"));
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
            .expect("deliver");
    }
    let server = Arc::new(Server {
        hostname: "mail.example.test".into(),
        kind: ListenerKind::Imaps,
        limits: Limits::default(),
        auth: Arc::new(MailboxAuth::new(
            stores.directory.clone(),
            Arc::new(FailureLimiter::new(FailurePolicy::default())),
        )),
        mail: stores.mail.clone(),
        directory: stores.directory.clone(),
        tls: Some(tls.acceptor.clone()),
        shutdown: Shutdown::new(),
        junk_learning: None,
    });
    let mut client = logged_in(&tls, &server).await;
    // Straight after delivery (the index may lag: the store scans what it has not indexed),
    // then once the indexer has caught up.
    client.script(SEARCHES).await;
    tokio::time::timeout(GUARD, stores.wait_indexed())
        .await
        .expect("the indexer caught up before the guard")
        .expect("the indexer runs");
    client.script(SEARCHES).await;
    client
        .script("C: z LOGOUT\nS: * BYE *\nS: z OK *\nEND")
        .await;
    client.finish().await;
}

/// A client logged in as toto over imaps, INBOX selected.
async fn logged_in(tls: &TlsPair, server: &Arc<Server>) -> Client {
    let session = server.clone();
    let mut client = Client::connect(&tls.connector, move |io, peer| session.handle(io, peer));
    client.tls().await;
    client
        .script(
            "
            S: * OK *
            C: a0 LOGIN toto@example.test mailbox-secret-1
            S: a0 OK *
            ",
        )
        .await;
    client.send(b"a1 SELECT INBOX\r\n").await;
    loop {
        let line = client.read_line().await.expect("the server answers SELECT");
        if line.starts_with("a1 ") {
            assert!(line.starts_with("a1 OK"), "{line}");
            break;
        }
    }
    client
}
