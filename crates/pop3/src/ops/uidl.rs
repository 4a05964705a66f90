//! UIDL (RFC 1939 §7): unique-id listings `msg id`, for one message or for every message not
//! marked as deleted. The id is derived from UIDVALIDITY and UID (`Maildrop::unique_id`), so it
//! is the same in every session and never reused.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::maildrop::Missing;
use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    msg: Option<u32>,
) -> Flow {
    let Some(transaction) = ops::transaction(session) else {
        return session.answer(conn, reply::log_in_first());
    };
    let maildrop = &transaction.maildrop;
    let reply = match msg {
        Some(msg) => match maildrop.get(msg) {
            Ok(message) => reply::unique_id(msg, &maildrop.unique_id(message.uid)),
            Err(Missing::NoSuchMessage) => reply::no_such_message(),
            Err(Missing::Deleted) => reply::message_deleted(msg),
        },
        None => reply::unique_ids(
            maildrop
                .live()
                .map(|(msg, message)| format!("{msg} {}", maildrop.unique_id(message.uid)))
                .collect(),
        ),
    };
    session.answer(conn, reply)
}
