//! PASS (RFC 1939 §7): the mailbox's own password (ID-2) for the name given with USER; inside
//! TLS only (PROTO-3). Whatever the outcome, the USER name is used up: a failed PASS needs a
//! new USER (§7: "the server ... returns to the AUTHORIZATION state").

use postwerk_core::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::command::Secret;
use crate::ops;
use crate::reply;
use crate::session::{Conn, Flow, Session, State};

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    password: Secret,
) -> Flow {
    let State::Authorization { user } = &mut session.state else {
        return session.answer(conn, reply::already_logged_in());
    };
    if !session.tls {
        return session.answer(conn, reply::needs_tls());
    }
    let Some(username) = user.take() else {
        return session.answer(conn, reply::user_first());
    };
    let auth = session.server.auth.clone();
    let outcome = auth
        .login(
            Protocol::Pop3,
            session.peer.ip(),
            &username,
            password.expose(),
        )
        .await;
    ops::finish_login(session, conn, &username, outcome).await
}
