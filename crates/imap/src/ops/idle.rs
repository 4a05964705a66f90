//! IDLE (RFC 2177, RFC 9051 §6.3.13): the client waits for changes; the session reports each
//! as soon as the store announces it (within the time of one event delivery, far below the
//! one second the issue asks), until the client sends `DONE`.
//!
//! A client may idle for 29 minutes at a time, so the password check done before every command
//! (ID-6) is repeated while idling: at once when the store announces a credential change of
//! the session's mailbox (a password change, unified or not, a disabling, a deletion), and
//! every [`CREDENTIAL_CHECK`] besides, because the admin CLI changes passwords from another
//! process, whose changes arrive as no event.
//!
//! While idling the session holds no read or write buffer (`Conn::release_buffers`): thousands
//! of clients sit in IDLE, and their memory is what a server pays for them. It wakes for its
//! own mailbox's changes only: the store keeps one channel per mailbox.

use std::time::Duration;

use postwerk_core::auth::CredentialWatch;
use postwerk_net::Stop;
use postwerk_store::FolderEvent;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// How often an idling session checks that its password is still the current one (ID-6), for
/// changes made by another process (the admin CLI), which nobody announces: in-process changes
/// end the IDLE at once, and news of the mailbox is checked before it is sent.
const CREDENTIAL_CHECK: Duration = Duration::from_secs(60);

/// What interrupted the wait, besides input.
enum Wake {
    /// A store event of this mailbox, or news that some were lost or the channel closed.
    Event(Result<FolderEvent, RecvError>),
    /// The store announced a credential change of this mailbox, or lost some announcements.
    CredentialsChanged,
    /// Time to check the credentials again.
    CheckCredentials,
}

/// The line ending a session whose login no longer holds (ID-6).
fn credentials_changed() -> Status {
    Status::bye("Credentials changed; log in again").code("ALERT")
}

/// IDLE.
///
/// The session's credential watch has been subscribed since login and the check before this
/// command just ran, so a change committed since is announced to the wait below.
pub(crate) async fn run(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    session.report_changes(conn, true).await;
    conn.output().extend_from_slice(b"+ idling\r\n");
    let mut events = session.events.take();
    let flow = wait_for_done(session, conn, tag, &mut events).await;
    session.events = events;
    flow
}

async fn wait_for_done(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    events: &mut Option<Receiver<FolderEvent>>,
) -> Flow {
    // A deadline rather than a sleep per wait: the mailbox's own changes may wake the session
    // often, and must not keep postponing the periodic check.
    let mut next_check = Instant::now() + CREDENTIAL_CHECK;
    loop {
        // A line may already be buffered (pipelined DONE).
        if !conn.buffered().is_empty() {
            return match session.read_line(conn).await {
                Ok(Some(line)) if line.eq_ignore_ascii_case(b"DONE") => {
                    session.report_changes(conn, true).await;
                    session.answer(conn, Status::ok(tag, "IDLE terminated"))
                }
                Ok(_) => session.answer(conn, Status::bad(tag, "Expected DONE")),
                Err(stop) => stopped(session, conn, stop),
            };
        }
        conn.release_buffers();
        let wake = wake(events, &mut session.credentials, next_check);
        match conn.fill_or(Some(&session.server.shutdown), wake).await {
            Ok(None) => continue,
            Ok(Some(Wake::CheckCredentials)) => {
                next_check = Instant::now() + CREDENTIAL_CHECK;
                if !session.credentials_still_valid().await {
                    conn.push(&credentials_changed());
                    return Flow::Close;
                }
            }
            Ok(Some(Wake::CredentialsChanged)) => {
                if !session.credentials_still_valid().await {
                    conn.push(&credentials_changed());
                    return Flow::Close;
                }
            }
            Ok(Some(Wake::Event(Ok(event)))) => {
                // News about this mailbox is only for a client whose password still holds.
                if !session.credentials_still_valid().await {
                    conn.push(&credentials_changed());
                    return Flow::Close;
                }
                if let Some(selected) = &mut session.selected {
                    selected.observe(&event);
                }
                // Take whatever else arrived with it, then report at once.
                session.events = events.take();
                session.report_changes(conn, true).await;
                *events = session.events.take();
            }
            Ok(Some(Wake::Event(Err(RecvError::Lagged(_))))) => {
                crate::ops::updates::resync(session).await;
                session.report_changes(conn, true).await;
            }
            Ok(Some(Wake::Event(Err(RecvError::Closed)))) => *events = None,
            Err(stop) => return stopped(session, conn, stop),
        }
    }
}

/// Waits for the first of: a change event, a credential announcement of this mailbox, the
/// periodic check. Every branch is cancel-safe, so input arriving first loses nothing.
async fn wake(
    events: &mut Option<Receiver<FolderEvent>>,
    credentials: &mut Option<CredentialWatch>,
    next_check: Instant,
) -> Wake {
    let event = async {
        match events {
            Some(events) => events.recv().await,
            None => std::future::pending().await,
        }
    };
    let announced = async {
        match credentials {
            Some(watch) => watch.changed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        event = event => Wake::Event(event),
        () = announced => Wake::CredentialsChanged,
        () = tokio::time::sleep_until(next_check) => Wake::CheckCredentials,
    }
}

fn stopped(session: &mut Session, conn: &mut Connection, stop: Stop) -> Flow {
    session.stopped(conn, stop);
    Flow::Close
}
