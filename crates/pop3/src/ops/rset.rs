//! RSET (RFC 1939 §5): every deletion mark of the session is removed.

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
    transaction.maildrop.reset();
    let (count, size) = transaction.maildrop.stat();
    session.answer(conn, reply::reset(count, size))
}
