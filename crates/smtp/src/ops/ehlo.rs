//! EHLO and HELO (RFC 5321 §4.1.1.1): greet, reset any transaction (§4.1.4), and for EHLO
//! list the extensions this listener offers in its current state.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::reply;
use crate::session::{Conn, Flow, Helo, Phase, Session};

pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    host: String,
    extended: bool,
) -> Flow {
    // RFC 5321 §4.1.4: EHLO in the middle of a transaction abandons it, like RSET.
    session.phase = Phase::Greeted;
    let hostname = session.server.hostname.clone();
    let reply = if extended {
        reply::ehlo(&hostname, &host, capabilities(session))
    } else {
        reply::helo(&hostname, &host)
    };
    session.helo = Some(Helo {
        name: host,
        extended,
    });
    session.answer(conn, reply)
}

/// The extensions offered now: AUTH only on submission listeners inside TLS (PROTO-3),
/// STARTTLS only before TLS and when a certificate exists.
pub(crate) fn capabilities(session: &Session) -> Vec<String> {
    let server = &session.server;
    let mut caps = vec![
        // RFC 2920.
        "PIPELINING".to_string(),
        // RFC 1870 §4: the fixed maximum message size.
        format!("SIZE {}", server.limits.max_message_size),
        // RFC 6152.
        "8BITMIME".to_string(),
        // RFC 6531.
        "SMTPUTF8".to_string(),
        // RFC 2034.
        "ENHANCEDSTATUSCODES".to_string(),
        // RFC 3461.
        "DSN".to_string(),
        // RFC 3030.
        "CHUNKING".to_string(),
    ];
    if session.tls.is_none() && server.tls.is_some() {
        // RFC 3207.
        caps.push("STARTTLS".to_string());
    }
    if server.kind.is_submission() && session.tls.is_some() && session.login.is_none() {
        // RFC 4954 §3; PLAIN (RFC 4616) and LOGIN, inside TLS only.
        caps.push("AUTH PLAIN LOGIN".to_string());
    }
    caps
}
