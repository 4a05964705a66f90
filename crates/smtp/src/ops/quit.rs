//! QUIT (RFC 5321 §4.1.1.10): 221, then the server closes.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    let hostname = session.server.hostname.clone();
    session.answer(conn, reply::bye(&hostname))
}
