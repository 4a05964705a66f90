//! USER (RFC 1939 §7): the full address (ID-2), remembered for the PASS that follows. Refused
//! before TLS (PROTO-3): a client must not be led to send the password in clear text.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    name: String,
) -> Flow {
    let State::Authorization { user } = &mut session.state else {
        return session.answer(conn, reply::already_logged_in());
    };
    if !session.tls {
        return session.answer(conn, reply::needs_tls());
    }
    *user = Some(name);
    session.answer(conn, reply::send_password())
}
