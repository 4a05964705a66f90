//! STARTTLS (RFC 9051 §6.2.1), LOGIN (§6.2.3) and AUTHENTICATE PLAIN (§6.2.2, RFC 4616, with
//! the SASL-IR initial response of RFC 4959). Logins are the mailbox's own credentials (ID-2),
//! only inside TLS (PROTO-3), slowed down and counted with SMTP's and POP3's failures.

use postwerk_core::sasl::{PlainResponse, Secret};
use postwerk_core::{CoreError, LoginOutcome, Protocol};

use crate::ops::capability;
use crate::ops::id::printable;
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// STARTTLS.
pub(crate) fn starttls(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    if session.tls {
        return session.answer(conn, Status::bad(tag, "TLS is already active"));
    }
    if session.server.tls.is_none() {
        return session.answer(conn, Status::no(tag, "TLS is not available"));
    }
    // The session drops whatever the client pipelined after this command (RFC 9051 §6.2.1):
    // `Conn::into_inner` discards the buffer.
    conn.push(&Status::ok(tag, "Begin TLS negotiation now"));
    Flow::StartTls
}

/// LOGIN.
pub(crate) async fn login(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    user: String,
    password: Secret,
) -> Flow {
    if !session.tls {
        return session.answer(conn, privacy_required(tag));
    }
    let auth = session.server.auth.clone();
    let outcome = auth
        .login(Protocol::Imap, session.peer.ip(), &user, password.expose())
        .await;
    finish(session, conn, tag, &user, outcome).await
}

/// AUTHENTICATE.
pub(crate) async fn authenticate(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mechanism: &str,
    initial: Option<Secret>,
) -> Flow {
    if !session.tls {
        return session.answer(conn, privacy_required(tag));
    }
    if !mechanism.eq_ignore_ascii_case("PLAIN") {
        return session.answer(
            conn,
            Status::no(tag, "Unsupported mechanism").code("CANNOT"),
        );
    }
    let text = match initial {
        Some(text) => text,
        None => {
            // RFC 9051 §7.5: an empty continuation request asks for the response.
            conn.output().extend_from_slice(b"+ \r\n");
            match session.read_line(conn).await {
                Ok(Some(line)) => match String::from_utf8(line) {
                    Ok(text) => Secret::new(text),
                    Err(_) => return session.answer(conn, Status::bad(tag, "Malformed response")),
                },
                Ok(None) => return session.answer(conn, Status::bad(tag, "Response too long")),
                Err(stop) => {
                    session.stopped(conn, stop);
                    return Flow::Close;
                }
            }
        }
    };
    // RFC 9051 §6.2.2: "*" cancels the exchange, answered BAD.
    if text.expose().trim() == "*" {
        return session.answer(conn, Status::bad(tag, "Authentication cancelled"));
    }
    let Some(response) = PlainResponse::decode(text.expose()) else {
        return session.answer(conn, Status::bad(tag, "Malformed PLAIN response"));
    };
    // Acting for another identity is not offered: authzid must be empty or the same.
    let outcome = if !response.authzid.is_empty() && response.authzid != response.authcid {
        Ok(LoginOutcome::Invalid {
            delay: std::time::Duration::ZERO,
        })
    } else {
        let auth = session.server.auth.clone();
        auth.login(
            Protocol::Imap,
            session.peer.ip(),
            &response.authcid,
            response.password.expose(),
        )
        .await
    };
    finish(session, conn, tag, &response.authcid, outcome).await
}

fn privacy_required(tag: &str) -> Status {
    Status::no(tag, "Log in only after STARTTLS").code("PRIVACYREQUIRED")
}

/// Answers a login attempt; on success the session is authenticated and starts receiving the
/// change events of its mailbox and the announcements of its credential changes (ID-6).
async fn finish(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    username: &str,
    outcome: Result<LoginOutcome, CoreError>,
) -> Flow {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "checking credentials failed");
            return session.answer(
                conn,
                Status::no(tag, "Internal error; try again").code("UNAVAILABLE"),
            );
        }
    };
    match outcome {
        LoginOutcome::Accepted(login) => {
            tracing::Span::current().record("user", login.address.to_string().as_str());
            tracing::info!("logged in");
            session.events = Some(session.server.mail.subscribe(login.mailbox));
            session.credentials = Some(session.server.auth.watch(&login));
            session.login = Some(login);
            session.logged_in();
            let code = format!("CAPABILITY {}", capability::list(session));
            session.answer(conn, Status::ok(tag, "Logged in").code(code))
        }
        LoginOutcome::Invalid { delay } => {
            tracing::info!(username = %printable(username), "authentication failed");
            // The slow-down of repeated failures, shared with SMTP and POP3.
            if !delay.is_zero() {
                let _ = conn.flush().await;
                tokio::time::sleep(delay).await;
            }
            session.answer(
                conn,
                Status::no(tag, "Invalid credentials").code("AUTHENTICATIONFAILED"),
            )
        }
        LoginOutcome::Disabled => {
            tracing::info!(username = %printable(username), "login to a disabled mailbox");
            session.answer(
                conn,
                Status::no(tag, "This mailbox is disabled").code("CONTACTADMIN"),
            )
        }
        LoginOutcome::Throttled => {
            tracing::info!("authentication refused: too many failures");
            session.answer(
                conn,
                Status::no(tag, "Too many failed logins; try again later").code("UNAVAILABLE"),
            )
        }
    }
}
