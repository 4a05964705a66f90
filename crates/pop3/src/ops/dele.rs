//! DELE (RFC 1939 §5): marks a message as deleted. Nothing leaves the store until QUIT
//! enters the UPDATE state.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::maildrop::Missing;
use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    msg: u32,
) -> Flow {
    let Some(transaction) = ops::transaction(session) else {
        return session.answer(conn, reply::log_in_first());
    };
    let reply = match transaction.maildrop.delete(msg) {
        Ok(()) => reply::deleted(msg),
        Err(Missing::NoSuchMessage) => reply::no_such_message(),
        Err(Missing::Deleted) => reply::message_deleted(msg),
    };
    session.answer(conn, reply)
}
