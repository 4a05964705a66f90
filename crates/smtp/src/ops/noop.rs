//! NOOP (RFC 5321 §4.1.1.9): changes nothing.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    session.answer(conn, reply::ok())
}
