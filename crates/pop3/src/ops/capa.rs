//! CAPA (RFC 2449 §5), in both states. The list follows the session: STLS only in clear text
//! on the pop3 listener; USER and SASL only inside TLS (PROTO-3, RFC 2595 §4); neither after
//! login, when they can no longer be used.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::ListenerKind;
use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Flow {
    let mut capabilities: Vec<String> = [
        "CAPA",
        "TOP",
        "UIDL",
        // RFC 2449 §6.4, §8: responses carry codes; RFC 3206 §3: AUTH and SYS codes too.
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
    ]
    .map(String::from)
    .to_vec();
    if let State::Authorization { .. } = session.state {
        if session.tls {
            capabilities.push("USER".into());
            capabilities.push("SASL PLAIN".into());
        } else if session.server.kind == ListenerKind::Pop3 && session.server.tls.is_some() {
            capabilities.push("STLS".into());
        }
    }
    capabilities.push("IMPLEMENTATION Postwerk".into());
    session.answer(conn, reply::capabilities(capabilities))
}
