//! RETR (RFC 1939 §5): the whole message, byte-stuffed. A message of the session's snapshot
//! that another client (IMAP) expunged since the login is answered `-ERR` and the session goes
//! on; the content is never logged.

use postwerk_store::StoreError;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::maildrop::Missing;
use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    msg: u32,
) -> Flow {
    let Some(transaction) = ops::transaction(session) else {
        return session.answer(conn, reply::log_in_first());
    };
    let (folder, message) = match (transaction.folder, transaction.maildrop.get(msg)) {
        (Some(folder), Ok(message)) => (folder, message),
        (_, Err(Missing::Deleted)) => return session.answer(conn, reply::message_deleted(msg)),
        _ => return session.answer(conn, reply::no_such_message()),
    };
    let mail = session.server.mail.clone();
    let reply = match mail.read_message(folder, message.uid).await {
        Ok(content) => reply::message(message.size, content),
        Err(StoreError::NotFound(_)) => {
            tracing::info!(msg, uid = message.uid, "message expunged by another client");
            reply::expunged_meanwhile(msg)
        }
        Err(error) => {
            tracing::error!(%error, uid = message.uid, "reading a message failed");
            reply::internal()
        }
    };
    session.answer(conn, reply)
}
