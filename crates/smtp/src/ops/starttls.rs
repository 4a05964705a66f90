//! STARTTLS (RFC 3207): `220`, then the handshake; the session forgets everything it knew
//! (§4.2), which `Session::reset_after_tls` does once the handshake succeeded.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Phase, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    if session.tls.is_some() {
        return session.answer(conn, reply::bad_sequence("Already in TLS"));
    }
    if session.server.tls.is_none() {
        return session.answer(conn, reply::tls_unavailable());
    }
    if matches!(session.phase, Phase::Mail(_)) {
        return session.answer(
            conn,
            reply::bad_sequence("STARTTLS is not allowed inside a mail transaction"),
        );
    }
    // RFC 3207 §4.2 (and CVE-2011-0411): commands pipelined after STARTTLS in clear text
    // must not be run inside TLS; `Conn::into_inner` drops them with the buffer.
    conn.push(&reply::start_tls());
    Flow::StartTls
}
