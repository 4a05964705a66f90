//! ID-6 over a real IMAP session and a real embedded store: a session waiting in IDLE is ended
//! as soon as its mailbox password changes or the mailbox is disabled (the store's credential
//! announcement), not at the next periodic check a minute later; sessions of other mailboxes
//! go on idling. A session between commands is ended at its next command, although it no
//! longer reads the directory before each one; and a change made by another process on the
//! same database (the admin CLI), which announces nothing, still ends it within the recheck
//! bound.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use postwerk_core::{Actor, AddressUpdate, Admin, FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_imap::{Limits, ListenerKind, Server};
use postwerk_net::Shutdown;
use postwerk_store::Stores;
use postwerk_testkit::directory::Directory;
use postwerk_testkit::transcript::{Client, TlsPair};

const PASSWORD: &str = "mailbox-secret-1";

/// Only a guard against a hang: the periodic check would end the session after 60 s, so a
/// BYE within this bound can only come from the announcement.
const GUARD: Duration = Duration::from_secs(10);

/// Only a guard against a hang while polling for a change made by another process (which the
/// check before every command reads at once).
const OTHER_PROCESS_GUARD: Duration = Duration::from_secs(60);

struct Fixture {
    _dir: tempfile::TempDir,
    /// The store's folder, for a second store standing for another process.
    data: PathBuf,
    stores: Stores,
    admin: Admin,
    tls: TlsPair,
}

/// example.test with the mailboxes toto and other, both with [`PASSWORD`].
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 10).await;
    for address in ["toto@example.test", "other@example.test"] {
        directory.mailbox(address, PASSWORD).await;
    }
    let Directory { dir, stores, admin } = directory;
    Fixture {
        tls: TlsPair::self_signed(&dir.path().join("tls")),
        data: dir.path().join("data"),
        _dir: dir,
        stores,
        admin,
    }
}

/// An imaps listener whose logins hear the store's credential announcements, as `serve` wires
/// it.
fn server(f: &Fixture) -> Arc<Server> {
    let auth = MailboxAuth::new(
        f.stores.directory.clone(),
        Arc::new(FailureLimiter::new(FailurePolicy::default())),
    )
    .with_credential_events(f.stores.events.clone());
    Arc::new(Server {
        hostname: "mail.example.test".into(),
        kind: ListenerKind::Imaps,
        limits: Limits::default(),
        auth: Arc::new(auth),
        mail: f.stores.mail.clone(),
        directory: f.stores.directory.clone(),
        tls: Some(f.tls.acceptor.clone()),
        shutdown: Shutdown::new(),
        junk_learning: None,
    })
}

/// A session logged in as `address` with its INBOX selected, waiting in IDLE (tag `a2`).
async fn idling(f: &Fixture, server: &Arc<Server>, address: &str) -> Client {
    let mut client = selected(f, server, address).await;
    client.script("C: a2 IDLE\nS: + idling").await;
    client
}

/// A session logged in as `address` with its INBOX selected (tags `a0`, `a1`).
async fn selected(f: &Fixture, server: &Arc<Server>, address: &str) -> Client {
    let session = server.clone();
    let mut client = Client::connect(&f.tls.connector, move |io, peer| session.handle(io, peer));
    client.tls().await;
    client
        .script(&format!(
            "
            S: * OK * Postwerk IMAP ready
            C: a0 LOGIN {address} {PASSWORD}
            S: a0 OK * Logged in
            C: a1 SELECT INBOX
            "
        ))
        .await;
    loop {
        let line = client.read_line().await.expect("the SELECT answer");
        if line.starts_with("a1 ") {
            assert!(line.starts_with("a1 OK"), "{line}");
            break;
        }
    }
    client
}

/// Sends NOOP with `tag`; the session's last line: its tagged answer, or the BYE that ended it.
async fn noop(client: &mut Client, tag: &str) -> String {
    client.send(format!("{tag} NOOP\r\n").as_bytes()).await;
    loop {
        let line = next_line(client).await.expect("an answer to NOOP or a BYE");
        if line.starts_with(&format!("{tag} ")) || line.starts_with("* BYE") {
            return line;
        }
    }
}

async fn next_line(client: &mut Client) -> Option<String> {
    tokio::time::timeout(GUARD, client.read_line())
        .await
        .expect("the session answered within the guard")
}

#[tokio::test]
async fn id_6_an_idling_session_ends_at_once_when_its_mailbox_password_changes() {
    let f = fixture().await;
    let server = server(&f);
    let mut toto = idling(&f, &server, "toto@example.test").await;
    let mut other = idling(&f, &server, "other@example.test").await;

    f.admin
        .set_address_password(
            Actor::Operator,
            "toto@example.test",
            Some("a-brand-new-secret-2"),
            false,
        )
        .await
        .unwrap();

    assert_eq!(
        next_line(&mut toto).await.as_deref(),
        Some("* BYE [ALERT] Credentials changed; log in again")
    );
    assert_eq!(next_line(&mut toto).await, None, "the connection is closed");
    toto.finish().await;

    // The other mailbox's session heard the same announcement and is still idling.
    other.script("C: DONE\nS: a2 OK IDLE terminated").await;
    other
        .script("C: a3 LOGOUT\nS: * BYE *\nS: a3 OK *\nEND")
        .await;
    other.finish().await;
}

#[tokio::test]
async fn id_6_an_idling_session_ends_at_once_when_its_mailbox_is_disabled() {
    let f = fixture().await;
    let server = server(&f);
    let mut toto = idling(&f, &server, "toto@example.test").await;

    let update = AddressUpdate {
        enabled: Some(false),
        ..AddressUpdate::default()
    };
    f.admin
        .update_address(Actor::Operator, "toto@example.test", update)
        .await
        .unwrap();

    assert_eq!(
        next_line(&mut toto).await.as_deref(),
        Some("* BYE [ALERT] Credentials changed; log in again")
    );
    toto.finish().await;
}

#[tokio::test]
async fn id_6_a_session_between_commands_ends_at_its_next_command_when_its_password_changes() {
    let f = fixture().await;
    let server = server(&f);
    let mut toto = selected(&f, &server, "toto@example.test").await;
    let mut other = selected(&f, &server, "other@example.test").await;
    // The sessions have confirmed their logins once and now trust them between commands.
    assert!(noop(&mut toto, "b1").await.starts_with("b1 OK"));
    assert!(noop(&mut other, "b1").await.starts_with("b1 OK"));

    f.admin
        .set_address_password(
            Actor::Operator,
            "toto@example.test",
            Some("a-brand-new-secret-2"),
            false,
        )
        .await
        .unwrap();

    assert_eq!(
        noop(&mut toto, "b2").await,
        "* BYE [ALERT] Credentials changed; log in again",
        "the very next command"
    );
    assert_eq!(next_line(&mut toto).await, None, "the connection is closed");
    toto.finish().await;
    assert!(noop(&mut other, "b2").await.starts_with("b2 OK"));
    other
        .script("C: b3 LOGOUT\nS: * BYE *\nS: b3 OK *\nEND")
        .await;
    other.finish().await;
}

#[tokio::test]
async fn id_6_a_password_change_by_another_process_ends_the_session_at_its_next_command() {
    let f = fixture().await;
    let server = server(&f);
    let mut toto = selected(&f, &server, "toto@example.test").await;
    assert!(noop(&mut toto, "b0").await.starts_with("b0 OK"));

    // The admin CLI: its own store on the same database, whose announcements never reach
    // this server.
    let cli = postwerk_store::open_sqlite(&f.data).await.unwrap();
    Admin::from_stores(&cli)
        .set_address_password(
            Actor::Operator,
            "toto@example.test",
            Some("a-brand-new-secret-2"),
            false,
        )
        .await
        .unwrap();

    let ended = tokio::time::timeout(OTHER_PROCESS_GUARD, noop(&mut toto, "b1"))
        .await
        .expect("an answer within the guard");
    assert_eq!(ended, "* BYE [ALERT] Credentials changed; log in again");
    toto.finish().await;
}
