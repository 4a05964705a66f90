//! APOP (RFC 1939 §7): recognised and refused. It needs the clear-text password on the server
//! to compute the digest, and passwords are kept only as Argon2id hashes (ID-4); the greeting
//! carries no timestamp, so clients do not offer it.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    let reply = match session.state {
        State::Transaction(_) => reply::already_logged_in(),
        State::Authorization { .. } => reply::apop_not_offered(),
    };
    session.answer(conn, reply)
}
