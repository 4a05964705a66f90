//! STAT (RFC 1939 §5): `+OK count octets`, messages marked as deleted left out.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    let Some(transaction) = ops::transaction(session) else {
        return session.answer(conn, reply::log_in_first());
    };
    let (count, size) = transaction.maildrop.stat();
    session.answer(conn, reply::stat(count, size))
}
