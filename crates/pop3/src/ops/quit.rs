//! QUIT (RFC 1939 §6). From AUTHORIZATION it only ends the session. From TRANSACTION it enters
//! the UPDATE state: the messages marked with DELE are removed from the INBOX, all or none,
//! then the lock is released and the connection closed.
//!
//! The store removes messages with EXPUNGE semantics: `\Deleted` is added to the marked
//! messages, then `expunge` restricted to exactly those UIDs removes them in one transaction.
//! Messages an IMAP client flagged `\Deleted` but did not mark here are never touched. If the
//! expunge fails, the flags this op added are taken away again, so a later IMAP EXPUNGE does
//! not remove what POP3 reported as kept. Marked messages that another client expunged
//! meanwhile are simply gone already.

use postwerk_model::FolderId;
use postwerk_store::{FlagOp, Flags, MailStore, StoreError, SystemFlags, UidSet};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    let hostname = session.server.hostname.clone();
    // The lock goes with the state, before the response: a client that reconnects as soon as
    // it reads `+OK` finds the maildrop free.
    let state = std::mem::replace(&mut session.state, State::Authorization { user: None });
    let State::Transaction(transaction) = state else {
        return session.answer(conn, reply::bye(&hostname, 0));
    };
    let marked = transaction.maildrop.marked();
    let Some(folder) = transaction.folder.filter(|_| !marked.is_empty()) else {
        return session.answer(conn, reply::bye(&hostname, 0));
    };
    let mail = session.server.mail.clone();
    let reply = match update(mail.as_ref(), folder, &marked).await {
        Ok(removed) => {
            tracing::info!(removed, marked = marked.len(), "maildrop updated");
            reply::bye(&hostname, removed)
        }
        Err(error) => {
            tracing::error!(%error, "removing the deleted messages failed");
            reply::update_failed()
        }
    };
    drop(transaction);
    session.answer(conn, reply)
}

/// RFC 1939 §6 UPDATE: removes the marked messages; returns how many were removed.
async fn update(
    mail: &dyn MailStore,
    folder: FolderId,
    marked: &[u32],
) -> Result<usize, StoreError> {
    let marked_set = UidSet::from_uids(marked.iter().copied());
    let deleted = Flags::system(SystemFlags::DELETED);
    let unflagged: Vec<u32> = mail
        .list_messages(folder, &marked_set)
        .await?
        .iter()
        .filter(|meta| !meta.flags.system.contains(SystemFlags::DELETED))
        .map(|meta| meta.uid)
        .collect();
    let added = UidSet::from_uids(unflagged);
    if !added.is_empty() {
        mail.set_flags(folder, &added, FlagOp::Add, &deleted, None)
            .await?;
    }
    match mail.expunge(folder, Some(&marked_set)).await {
        Ok(expunged) => Ok(expunged.uids.len()),
        Err(error) => {
            if !added.is_empty()
                && let Err(undo) = mail
                    .set_flags(folder, &added, FlagOp::Remove, &deleted, None)
                    .await
            {
                tracing::error!(error = %undo, "taking back the \\Deleted flags failed");
            }
            Err(error)
        }
    }
}
