//! STLS (RFC 2595 §4): `+OK`, then the handshake at once. Only in the AUTHORIZATION state and
//! only once; `Session::reset_after_tls` forgets a pending USER after the handshake.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    if let State::Transaction(_) = session.state {
        return session.answer(conn, reply::already_logged_in());
    }
    if session.tls {
        return session.answer(conn, reply::already_tls());
    }
    if session.server.tls.is_none() {
        return session.answer(conn, reply::tls_unavailable());
    }
    conn.push(&reply::begin_tls());
    Flow::StartTls
}
