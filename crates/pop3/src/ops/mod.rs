//! One file per command: each checks that the command is allowed in the session's state, calls
//! `core` or the store where there is something to decide, and queues the response `reply.rs`
//! gives for the outcome. What two commands share (opening the maildrop after PASS or AUTH)
//! is here.

pub(crate) mod apop;
pub(crate) mod auth;
pub(crate) mod capa;
pub(crate) mod dele;
pub(crate) mod list;
pub(crate) mod noop;
pub(crate) mod pass;
pub(crate) mod quit;
pub(crate) mod retr;
pub(crate) mod rset;
pub(crate) mod stat;
pub(crate) mod stls;
pub(crate) mod top;
pub(crate) mod uidl;
pub(crate) mod user;

use postwerk_core::{CoreError, Login, LoginOutcome};
use postwerk_store::UidSet;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::maildrop::Maildrop;
use crate::reply;
use crate::session::{Conn, Flow, Session, State, Transaction};

/// The TRANSACTION state of the session, if it is in it.
pub(crate) fn transaction(session: &mut Session) -> Option<&mut Transaction> {
    match &mut session.state {
        State::Transaction(transaction) => Some(transaction),
        State::Authorization { .. } => None,
    }
}

/// Answers a login attempt (PASS or AUTH PLAIN): on success, locks the maildrop and takes
/// the INBOX snapshot (RFC 1939 §7: "the POP3 server then acquires an exclusive-access lock on
/// the maildrop"), entering the TRANSACTION state.
pub(crate) async fn finish_login<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    username: &str,
    outcome: Result<LoginOutcome, CoreError>,
) -> Flow {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "checking credentials failed");
            return session.answer(conn, reply::internal());
        }
    };
    match outcome {
        LoginOutcome::Accepted(login) => open_maildrop(session, conn, login).await,
        LoginOutcome::Invalid { delay } => {
            tracing::info!(username = %printable(username), "authentication failed");
            // The slow-down of repeated failures, shared with SMTP and IMAP.
            if !delay.is_zero() {
                let _ = conn.flush().await;
                tokio::time::sleep(delay).await;
            }
            session.answer(conn, reply::login_refused(&outcome))
        }
        LoginOutcome::Disabled => {
            tracing::info!(username = %printable(username), "login to a disabled mailbox");
            session.answer(conn, reply::login_refused(&outcome))
        }
        LoginOutcome::Throttled => {
            tracing::info!("authentication refused: too many failures");
            session.answer(conn, reply::login_refused(&outcome))
        }
    }
}

async fn open_maildrop<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    login: Login,
) -> Flow {
    let server = session.server.clone();
    // RFC 2449 §8.1.1: the credentials were right, the maildrop is busy; the session stays
    // in AUTHORIZATION.
    let Some(lock) = server.locks.try_lock(login.mailbox) else {
        tracing::info!(user = %login.address, "maildrop in use by another POP3 session");
        return session.answer(conn, reply::in_use());
    };
    let (folder, maildrop) = match server.mail.folder_by_name(login.mailbox, "INBOX").await {
        Ok(Some(inbox)) => match server.mail.list_messages(inbox.id, &UidSet::all()).await {
            Ok(messages) => (
                Some(inbox.id),
                Maildrop::new(
                    inbox.uid_validity,
                    messages.iter().map(|meta| (meta.uid, meta.size)),
                ),
            ),
            Err(error) => {
                tracing::error!(%error, "listing the INBOX failed");
                return session.answer(conn, reply::internal());
            }
        },
        // An address that holds no mail (no-reply) has no INBOX: its maildrop is empty.
        Ok(None) => (None, Maildrop::new(0, [])),
        Err(error) => {
            tracing::error!(%error, "opening the INBOX failed");
            return session.answer(conn, reply::internal());
        }
    };
    let (count, size) = maildrop.stat();
    tracing::Span::current().record("user", login.address.to_string());
    tracing::info!(user = %login.address, messages = count, "logged in");
    session.state = State::Transaction(Box::new(Transaction {
        login,
        folder,
        maildrop,
        _lock: lock,
    }));
    session.answer(conn, reply::logged_in(count, size))
}

/// A username for the log: printable ASCII only and bounded, so a client cannot forge log
/// lines or flood them.
fn printable(username: &str) -> String {
    username
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}
