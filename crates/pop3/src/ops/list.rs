//! LIST (RFC 1939 §5): scan listings `msg octets`, for one message or for every message not
//! marked as deleted. Sizes are the stored octets, CRLF line ends included, as RETR sends
//! them.

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
            Ok(message) => reply::scan_listing(msg, message.size),
            Err(Missing::NoSuchMessage) => reply::no_such_message(),
            Err(Missing::Deleted) => reply::message_deleted(msg),
        },
        None => {
            let (count, size) = maildrop.stat();
            let lines = maildrop
                .live()
                .map(|(msg, message)| format!("{msg} {}", message.size))
                .collect();
            reply::scan_listings(count, size, lines)
        }
    };
    session.answer(conn, reply)
}
