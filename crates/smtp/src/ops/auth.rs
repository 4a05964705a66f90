//! AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, on submission listeners inside TLS only
//! (PROTO-3). The username is the full address; the password is the mailbox's own (ID-2).
//!
//! Neither the password nor the decoded responses are ever logged; they live in `Zeroizing`
//! buffers that are wiped when dropped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use postwerk_core::{LoginOutcome, Protocol};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

use crate::reply::{self, Reply};
use crate::session::{Conn, Flow, Phase, Session};

/// RFC 4954 §4 LOGIN challenges: "Username:" and "Password:" in base64.
const USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
const PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// Why a SASL exchange ended without credentials.
enum Abort {
    Reply(Reply),
    Stop(crate::session::Stop),
}

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    mechanism: u64,
    initial: String,
) -> Flow {
    let initial = Zeroizing::new(initial);
    if !session.server.kind.is_submission() {
        return session.answer(conn, reply::auth_not_offered());
    }
    if session.tls.is_none() {
        return session.answer(conn, reply::auth_needs_tls());
    }
    if !session.helo.as_ref().is_some_and(|h| h.extended) {
        return session.answer(conn, reply::bad_sequence("Send EHLO before AUTH"));
    }
    if session.login.is_some() {
        return session.answer(conn, reply::bad_sequence("Already authenticated"));
    }
    if matches!(session.phase, Phase::Mail(_)) {
        return session.answer(
            conn,
            reply::bad_sequence("AUTH is not allowed inside a mail transaction"),
        );
    }
    let credentials = match mechanism {
        AUTH_PLAIN => plain(session, conn, &initial).await,
        AUTH_LOGIN => login(session, conn, &initial).await,
        _ => Err(Abort::Reply(reply::unknown_mechanism())),
    };
    let (username, password) = match credentials {
        Ok(pair) => pair,
        Err(Abort::Reply(reply)) => return session.answer(conn, reply),
        Err(Abort::Stop(stop)) => {
            session.stopped(conn, stop);
            return Flow::Close;
        }
    };
    let auth = session.server.auth.clone();
    let outcome = match auth
        .login(Protocol::Smtp, session.peer.ip(), &username, &password)
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "checking credentials failed");
            return session.answer(conn, reply::internal(&error));
        }
    };
    match &outcome {
        LoginOutcome::Accepted(login) => {
            tracing::Span::current().record("user", login.address.to_string());
            tracing::info!(user = %login.address, "authenticated");
            session.login = Some(login.clone());
        }
        LoginOutcome::Invalid { delay } => {
            tracing::info!(username = %printable(&username), "authentication failed");
            // The slow-down of repeated failures (shared with IMAP and POP3).
            if !delay.is_zero() {
                let _ = conn.flush().await;
                tokio::time::sleep(*delay).await;
            }
        }
        LoginOutcome::Disabled => {
            tracing::info!(username = %printable(&username), "login to a disabled mailbox")
        }
        LoginOutcome::Throttled => tracing::info!("authentication refused: too many failures"),
    }
    session.answer(conn, reply::login(&outcome))
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`, as the initial response or after `334 `.
async fn plain<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    initial: &str,
) -> Result<(Zeroizing<String>, Zeroizing<String>), Abort> {
    let response = if initial.is_empty() {
        conn.push(&reply::auth_challenge(""));
        response(session, conn).await?
    } else {
        decode(initial)?
    };
    let mut parts = response.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Abort::Reply(reply::auth_malformed()));
    };
    // Acting for another identity (authzid) is not offered: it must be empty or the same.
    if !authzid.is_empty() && authzid != authcid {
        return Err(Abort::Reply(reply::login(&LoginOutcome::Invalid {
            delay: std::time::Duration::ZERO,
        })));
    }
    Ok((utf8(authcid)?, utf8(password)?))
}

/// LOGIN: username and password, each after its challenge (the username may come as the
/// initial response).
async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
    initial: &str,
) -> Result<(Zeroizing<String>, Zeroizing<String>), Abort> {
    let username = if initial.is_empty() {
        conn.push(&reply::auth_challenge(USERNAME_CHALLENGE));
        response(session, conn).await?
    } else {
        decode(initial)?
    };
    conn.push(&reply::auth_challenge(PASSWORD_CHALLENGE));
    let password = response(session, conn).await?;
    Ok((utf8(&username)?, utf8(&password)?))
}

/// Reads one client response line and decodes it; `*` cancels (RFC 4954 §4).
async fn response<S: AsyncRead + AsyncWrite + Unpin>(
    session: &mut Session,
    conn: &mut Conn<S>,
) -> Result<Zeroizing<Vec<u8>>, Abort> {
    let line = match session.read_line(conn, false).await {
        Ok(Ok(line)) => Zeroizing::new(line),
        Ok(Err(crate::framing::Line::TooLong)) => return Err(Abort::Reply(reply::line_too_long())),
        Ok(Err(_)) => return Err(Abort::Reply(reply::bare_line_ending_in_command())),
        Err(stop) => return Err(Abort::Stop(stop)),
    };
    let text = line.strip_suffix(b"\r\n").unwrap_or(&line);
    if text == b"*" {
        return Err(Abort::Reply(reply::auth_cancelled()));
    }
    let text = std::str::from_utf8(text).map_err(|_| Abort::Reply(reply::auth_malformed()))?;
    decode(text)
}

fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, Abort> {
    // RFC 4954 §4: "=" is an empty initial response.
    if text.trim() == "=" {
        return Ok(Zeroizing::new(Vec::new()));
    }
    BASE64
        .decode(text.trim())
        .map(Zeroizing::new)
        .map_err(|_| Abort::Reply(reply::auth_malformed()))
}

fn utf8(bytes: &[u8]) -> Result<Zeroizing<String>, Abort> {
    std::str::from_utf8(bytes)
        .map(|s| Zeroizing::new(s.to_owned()))
        .map_err(|_| Abort::Reply(reply::auth_malformed()))
}

/// A username for the log: printable ASCII only and bounded, so a client cannot forge log
/// lines or flood them.
fn printable(username: &str) -> String {
    username
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}
