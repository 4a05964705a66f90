//! RSET (RFC 5321 §4.1.1.5): abandons the transaction, keeps EHLO, TLS and authentication.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Phase, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    if matches!(session.phase, Phase::Mail(_)) {
        session.phase = Phase::Greeted;
    }
    session.answer(conn, reply::reset())
}
