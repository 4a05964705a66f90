//! AUTH (RFC 5034) with PLAIN (RFC 4616), inside TLS only (PROTO-3): with an initial response
//! on the command line, or after the empty `+ ` challenge. `AUTH` alone lists the mechanisms.
//! The username is the full address and the password the mailbox's own (ID-2).

use postwerk_core::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::command::{PlainResponse, Secret};
use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    mechanism: Option<String>,
    initial: Option<Secret>,
) -> Flow {
    let State::Authorization { user } = &mut session.state else {
        return session.answer(conn, reply::already_logged_in());
    };
    // A USER given before is abandoned by AUTH.
    *user = None;
    if !session.tls {
        return session.answer(conn, reply::needs_tls());
    }
    let Some(mechanism) = mechanism else {
        return session.answer(conn, reply::mechanisms());
    };
    if mechanism != "PLAIN" {
        return session.answer(conn, reply::unknown_mechanism());
    }
    let text = match initial {
        Some(initial) => initial,
        None => {
            conn.push(&reply::auth_challenge());
            match session.read_line(conn, false).await {
                Ok(Some(line)) => match String::from_utf8(line) {
                    Ok(text) => Secret::new(text),
                    Err(_) => return session.answer(conn, reply::auth_malformed()),
                },
                Ok(None) => return session.answer(conn, reply::line_too_long()),
                Err(stop) => {
                    session.stopped(conn, stop);
                    return Flow::Close;
                }
            }
        }
    };
    // RFC 5034 §4: "*" cancels the exchange.
    if text.expose().trim() == "*" {
        return session.answer(conn, reply::auth_cancelled());
    }
    let Some(response) = PlainResponse::decode(text.expose()) else {
        return session.answer(conn, reply::auth_malformed());
    };
    // Acting for another identity is not offered: authzid must be empty or the same.
    let auth = session.server.auth.clone();
    let outcome = if !response.authzid.is_empty() && response.authzid != response.authcid {
        Ok(postwerk_core::LoginOutcome::Invalid {
            delay: std::time::Duration::ZERO,
        })
    } else {
        auth.login(
            Protocol::Pop3,
            session.peer.ip(),
            &response.authcid,
            response.password.expose(),
        )
        .await
    };
    ops::finish_login(session, conn, &response.authcid, outcome).await
}
