//! VRFY and EXPN: RFC 5321 §3.5.3 allows `252` ("cannot verify, will try"), which is what a
//! server answers when it will not disclose whether an address exists.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    session.answer(conn, reply::cannot_verify())
}
