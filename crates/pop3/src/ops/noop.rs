//! NOOP (RFC 1939 §5): `+OK`, in the TRANSACTION state only. Like every command of that
//! state it also runs the ID-6 check, so a client polling with NOOP learns of a password
//! change.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    if ops::transaction(session).is_none() {
        return session.answer(conn, reply::log_in_first());
    }
    session.answer(conn, reply::noop())
}
