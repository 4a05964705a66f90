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
//! of clients sit in IDLE, and their memory is what a server pays for them.

use std::time::Duration;

use postwerk_model::AddressId;
use postwerk_net::Stop;
use postwerk_store::FolderEvent;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// How often an idling session checks that its password is still the current one (ID-6).
const CREDENTIAL_CHECK: Duration = Duration::from_secs(60);

/// What interrupted the wait, besides input.
enum Wake {
    /// A store event, or news that some were lost or the channel closed.
    Event(Result<FolderEvent, RecvError>),
    /// The store announced a credential change (of some mailbox), or lost some announcements.
    Credentials(Result<AddressId, RecvError>),
    /// Time to check the credentials again.
    CheckCredentials,
}

/// The line ending a session whose login no longer holds (ID-6).
fn credentials_changed() -> Status {
    Status::bye("Credentials changed; log in again").code("ALERT")
}

/// IDLE.
pub(crate) async fn run(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    // Subscribed for this IDLE only (a receiver is a few bytes, and a session outside IDLE is
    // checked before each command anyway). Subscribing comes before one more check, so a change
    // committed since the check before this command is either seen by it or announced here.
    let mut credentials = match &session.login {
        Some(_) => session.server.auth.credential_changes(),
        None => None,
    };
    if credentials.is_some() && !session.credentials_still_valid().await {
        conn.push(&credentials_changed());
        return Flow::Close;
    }
    session.report_changes(conn, true).await;
    conn.output().extend_from_slice(b"+ idling\r\n");
    let mut events = session.events.take();
    let flow = wait_for_done(session, conn, tag, &mut events, &mut credentials).await;
    session.events = events;
    flow
}

async fn wait_for_done(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    events: &mut Option<Receiver<FolderEvent>>,
    credentials: &mut Option<Receiver<AddressId>>,
) -> Flow {
    // A deadline rather than a sleep per wait: announcements for other mailboxes wake the
    // session often on a busy server, and must not keep postponing the periodic check.
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
        let wake = async {
            let event = async {
                match events {
                    Some(events) => events.recv().await,
                    None => std::future::pending().await,
                }
            };
            let credential = async {
                match credentials {
                    Some(credentials) => credentials.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = event => Wake::Event(event),
                changed = credential => Wake::Credentials(changed),
                () = tokio::time::sleep_until(next_check) => Wake::CheckCredentials,
            }
        };
        match conn.fill_or(Some(&session.server.shutdown), wake).await {
            Ok(None) => continue,
            Ok(Some(Wake::CheckCredentials)) => {
                next_check = Instant::now() + CREDENTIAL_CHECK;
                if !session.credentials_still_valid().await {
                    conn.push(&credentials_changed());
                    return Flow::Close;
                }
            }
            Ok(Some(Wake::Credentials(changed))) => {
                let recheck = match changed {
                    Ok(mailbox) => session.login.as_ref().is_some_and(|l| l.mailbox == mailbox),
                    // Announcements were lost: ours may have been among them.
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => {
                        *credentials = None;
                        false
                    }
                };
                if recheck && !session.credentials_still_valid().await {
                    conn.push(&credentials_changed());
                    return Flow::Close;
                }
            }
            Ok(Some(Wake::Event(Ok(event)))) => {
                // News about this mailbox is only for a client whose password still holds.
                let ours = session
                    .login
                    .as_ref()
                    .is_some_and(|l| l.mailbox == event.mailbox);
                if ours && !session.credentials_still_valid().await {
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

fn stopped(session: &mut Session, conn: &mut Connection, stop: Stop) -> Flow {
    session.stopped(conn, stop);
    Flow::Close
}
