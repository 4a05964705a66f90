//! Every response the server sends, in one place: status indicator, response code (RFC 2449
//! §8 RESP-CODES, RFC 3206 AUTH-RESP-CODE) and sentence. The ops decide *what* happened; this
//! file decides how it reads on the wire, including how `core` outcomes map to responses.
//!
//! Error classes (STYLE.md): client syntax → `-ERR` (counted against the session's budget of
//! bad commands), refusal → `-ERR [CODE]` where a code applies, our fault →
//! `-ERR [SYS/TEMP]`. RFC 2449 §4: a response line is at most 512 octets; every sentence here
//! is far shorter, and sentences never echo client input.

use std::borrow::Cow;

use postwerk_core::LoginOutcome;

use crate::framing::write_multiline;

/// What a response says about the command, for the session's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `+OK`.
    Ok,
    /// The SASL continuation `+ ` (RFC 5034 §4).
    Continue,
    /// `-ERR` for a line that is not a valid command here (counted as a bad command).
    Syntax,
    /// `-ERR`: a valid command refused.
    Refused,
    /// `-ERR [SYS/TEMP]`: our fault.
    Internal,
}

/// The body of a multi-line response (RFC 1939 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Short lines (capabilities, scan listings); never start with `.`.
    Lines(Vec<String>),
    /// Message content, sent byte-stuffed.
    Content(Vec<u8>),
}

/// One response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status and its class.
    pub kind: Kind,
    /// The response code (RFC 2449 §8), such as `IN-USE`.
    pub code: Option<&'static str>,
    /// The sentence after the status (and code).
    pub text: Cow<'static, str>,
    /// The multi-line body, if any.
    pub body: Option<Body>,
    /// Whether the server closes the connection after this response.
    pub closes: bool,
}

impl Reply {
    fn ok(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            kind: Kind::Ok,
            code: None,
            text: text.into(),
            body: None,
            closes: false,
        }
    }

    fn err(kind: Kind, code: Option<&'static str>, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            kind,
            code,
            text: text.into(),
            body: None,
            closes: false,
        }
    }

    fn with_body(mut self, body: Body) -> Reply {
        self.body = Some(body);
        self
    }

    fn closing(mut self) -> Reply {
        self.closes = true;
        self
    }

    /// Whether this answers a line that was not a valid command here.
    pub fn is_bad_command(&self) -> bool {
        self.kind == Kind::Syntax
    }

    /// Appends the wire form: the status line, then the byte-stuffed body and its `.` line.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::Ok => out.extend_from_slice(b"+OK"),
            // RFC 5034 §4: a continuation is "+" SP base64; PLAIN's challenge is empty.
            Kind::Continue => out.extend_from_slice(b"+"),
            Kind::Syntax | Kind::Refused | Kind::Internal => out.extend_from_slice(b"-ERR"),
        }
        // A bare `+OK` for an empty sentence; the continuation keeps its space (RFC 5034 §4).
        if self.kind == Kind::Continue || self.code.is_some() || !self.text.is_empty() {
            out.push(b' ');
        }
        if let Some(code) = self.code {
            out.push(b'[');
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"] ");
        }
        out.extend(self.text.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
        out.extend_from_slice(b"\r\n");
        match &self.body {
            None => {}
            Some(Body::Lines(lines)) => {
                let mut content = Vec::new();
                for line in lines {
                    content.extend_from_slice(line.as_bytes());
                    content.extend_from_slice(b"\r\n");
                }
                write_multiline(out, &content);
            }
            Some(Body::Content(content)) => write_multiline(out, content),
        }
    }
}

/// RFC 2449 §8.1.2 / RFC 3206 §4: the failure is the credentials' (ask the user again).
const AUTH: &str = "AUTH";
/// RFC 2449 §8.1.1: the maildrop is locked by another session.
const IN_USE: &str = "IN-USE";
/// RFC 3206 §4: a temporary problem of the server; the client tries again later and does not
/// ask the user for a new password.
const SYS_TEMP: &str = "SYS/TEMP";
/// RFC 3206 §4: a permanent problem the user cannot fix by retyping the password.
const SYS_PERM: &str = "SYS/PERM";

// ---- Connection

/// RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered.
pub fn greeting(hostname: &str) -> Reply {
    Reply::ok(format!("{hostname} Postwerk POP3 server ready"))
}

/// RFC 2449 §5 CAPA: the capability list.
pub fn capabilities(lines: Vec<String>) -> Reply {
    Reply::ok("Capability list follows").with_body(Body::Lines(lines))
}

/// RFC 1939 §6 QUIT (from AUTHORIZATION, or from TRANSACTION after a successful UPDATE).
pub fn bye(hostname: &str, deleted: usize) -> Reply {
    let text = match deleted {
        0 => format!("{hostname} POP3 server signing off"),
        1 => format!("{hostname} POP3 server signing off (1 message deleted)"),
        n => format!("{hostname} POP3 server signing off ({n} messages deleted)"),
    };
    Reply::ok(text).closing()
}

/// RFC 1939 §6: the UPDATE state could not remove the messages; none was removed.
pub fn update_failed() -> Reply {
    Reply::err(
        Kind::Internal,
        Some(SYS_TEMP),
        "Some deleted messages not removed: nothing was deleted, try again later",
    )
    .closing()
}

/// RFC 1939 §5 NOOP.
pub fn noop() -> Reply {
    Reply::ok("")
}

/// RFC 1939 §3: the autologout timer expired; the session ends without UPDATE.
pub fn timeout() -> Reply {
    Reply::err(Kind::Refused, None, "Disconnected for inactivity").closing()
}

/// The server is stopping; the session ends without UPDATE.
pub fn shutting_down() -> Reply {
    Reply::err(
        Kind::Internal,
        Some(SYS_TEMP),
        "Server shutting down; try again in a moment",
    )
    .closing()
}

/// Too many bad commands in one session.
pub fn too_many_errors() -> Reply {
    Reply::err(Kind::Refused, None, "Too many bad commands; closing").closing()
}

// ---- Syntax and state

/// A keyword this server does not know (RFC 1939 §3: `-ERR`, the session goes on).
pub fn unknown_command() -> Reply {
    Reply::err(Kind::Syntax, None, "Unknown command")
}

/// A known command with bad arguments.
pub fn syntax(usage: &'static str) -> Reply {
    Reply::err(Kind::Syntax, None, usage)
}

/// A command line over the limit.
pub fn line_too_long() -> Reply {
    Reply::err(Kind::Syntax, None, "Line too long")
}

/// A TRANSACTION command sent in the AUTHORIZATION state.
pub fn log_in_first() -> Reply {
    Reply::err(Kind::Syntax, None, "Log in first")
}

/// An AUTHORIZATION command sent in the TRANSACTION state.
pub fn already_logged_in() -> Reply {
    Reply::err(Kind::Syntax, None, "Already logged in")
}

// ---- TLS

/// RFC 2595 §4: STLS accepted; the handshake follows at once.
pub fn begin_tls() -> Reply {
    Reply::ok("Begin TLS negotiation")
}

/// RFC 2595 §4: STLS inside TLS.
pub fn already_tls() -> Reply {
    Reply::err(Kind::Syntax, None, "Already using TLS")
}

/// STLS on a server without a certificate.
pub fn tls_unavailable() -> Reply {
    Reply::err(Kind::Internal, Some(SYS_TEMP), "TLS is not available")
}

// ---- Authorization

/// PROTO-3: USER/PASS and AUTH only inside TLS. The `[AUTH]` code is what Dovecot sends here
/// too, so clients show the sentence instead of retrying silently.
pub fn needs_tls() -> Reply {
    Reply::err(
        Kind::Refused,
        Some(AUTH),
        "Log in over TLS only: send STLS first (RFC 2595), or use port 995",
    )
}

/// RFC 1939 §7 USER accepted; the password comes next.
pub fn send_password() -> Reply {
    Reply::ok("Send the mailbox password")
}

/// RFC 1939 §7: PASS without a USER before it.
pub fn user_first() -> Reply {
    Reply::err(Kind::Syntax, None, "Send USER first")
}

/// APOP is recognised and refused (it needs clear-text passwords on the server, ID-4).
pub fn apop_not_offered() -> Reply {
    Reply::err(
        Kind::Refused,
        None,
        "APOP is not offered: use USER/PASS or AUTH PLAIN over TLS",
    )
}

/// RFC 5034 §4 AUTH without a mechanism: the list (the RFC 1734 form Outlook sends).
pub fn mechanisms() -> Reply {
    Reply::ok("SASL mechanisms follow").with_body(Body::Lines(vec!["PLAIN".into()]))
}

/// RFC 5034 §4: the empty challenge of PLAIN when no initial response was given.
pub fn auth_challenge() -> Reply {
    Reply {
        kind: Kind::Continue,
        code: None,
        text: Cow::Borrowed(""),
        body: None,
        closes: false,
    }
}

/// RFC 5034 §4: a mechanism that is not offered.
pub fn unknown_mechanism() -> Reply {
    Reply::err(
        Kind::Refused,
        None,
        "Unsupported authentication mechanism: use PLAIN",
    )
}

/// RFC 5034 §4: the client answered the challenge with `*`.
pub fn auth_cancelled() -> Reply {
    Reply::err(Kind::Refused, None, "Authentication cancelled")
}

/// RFC 5034 §4: a response that is not base64, or not `authzid NUL authcid NUL passwd`.
pub fn auth_malformed() -> Reply {
    Reply::err(Kind::Syntax, None, "Malformed SASL response")
}

/// The answer to a login that did not open the maildrop (RFC 3206 response codes).
pub fn login_refused(outcome: &LoginOutcome) -> Reply {
    match outcome {
        LoginOutcome::Accepted(_) => Reply::ok("Logged in"),
        LoginOutcome::Invalid { .. } => {
            Reply::err(Kind::Refused, Some(AUTH), "Invalid address or password")
        }
        LoginOutcome::Disabled => {
            Reply::err(Kind::Refused, Some(SYS_PERM), "This mailbox is disabled")
        }
        LoginOutcome::Throttled => Reply::err(
            Kind::Refused,
            Some(SYS_TEMP),
            "Too many failed logins from your address; try again later",
        ),
    }
}

/// RFC 1939 §7 PASS / RFC 5034 AUTH: logged in, maildrop locked and ready.
pub fn logged_in(count: usize, size: u64) -> Reply {
    Reply::ok(format!(
        "Logged in; maildrop has {count} messages ({size} octets)"
    ))
}

/// RFC 2449 §8.1.1 IN-USE: another POP3 session holds the maildrop.
pub fn in_use() -> Reply {
    Reply::err(
        Kind::Refused,
        Some(IN_USE),
        "The maildrop is already open in another POP3 session",
    )
}

/// ID-6: the mailbox password changed since this session logged in; it ends without UPDATE.
pub fn credentials_changed() -> Reply {
    Reply::err(
        Kind::Refused,
        Some(AUTH),
        "The mailbox password was changed or the mailbox disabled; log in again",
    )
    .closing()
}

// ---- Transaction

/// RFC 1939 §5 STAT: `+OK nn mm`, exactly.
pub fn stat(count: usize, size: u64) -> Reply {
    Reply::ok(format!("{count} {size}"))
}

/// RFC 1939 §5 LIST msg: one scan listing.
pub fn scan_listing(msg: u32, size: u64) -> Reply {
    Reply::ok(format!("{msg} {size}"))
}

/// RFC 1939 §5 LIST: every scan listing.
pub fn scan_listings(count: usize, size: u64, lines: Vec<String>) -> Reply {
    Reply::ok(format!("{count} messages ({size} octets)")).with_body(Body::Lines(lines))
}

/// RFC 1939 §7 UIDL msg: one unique-id listing.
pub fn unique_id(msg: u32, id: &str) -> Reply {
    Reply::ok(format!("{msg} {id}"))
}

/// RFC 1939 §7 UIDL: every unique-id listing.
pub fn unique_ids(lines: Vec<String>) -> Reply {
    Reply::ok("Unique-id listing follows").with_body(Body::Lines(lines))
}

/// RFC 1939 §5 RETR: the whole message.
pub fn message(size: u64, content: Vec<u8>) -> Reply {
    Reply::ok(format!("{size} octets")).with_body(Body::Content(content))
}

/// RFC 1939 §7 TOP: the header and the first lines of the body.
pub fn top(content: Vec<u8>) -> Reply {
    Reply::ok("Top of message follows").with_body(Body::Content(content))
}

/// RFC 1939 §5 DELE.
pub fn deleted(msg: u32) -> Reply {
    Reply::ok(format!("Message {msg} deleted"))
}

/// RFC 1939 §5 RSET.
pub fn reset(count: usize, size: u64) -> Reply {
    Reply::ok(format!("Maildrop has {count} messages ({size} octets)"))
}

/// RFC 1939 §5: a number that names no message.
pub fn no_such_message() -> Reply {
    Reply::err(Kind::Refused, None, "No such message")
}

/// RFC 1939 §5: a message marked as deleted in this session.
pub fn message_deleted(msg: u32) -> Reply {
    Reply::err(
        Kind::Refused,
        None,
        format!("Message {msg} already deleted"),
    )
}

/// A message of the snapshot that another client (IMAP) expunged since the login.
pub fn expunged_meanwhile(msg: u32) -> Reply {
    Reply::err(
        Kind::Refused,
        None,
        format!("Message {msg} was removed by another client"),
    )
}

/// Our fault: the store failed. The details go to the log, not to the client.
pub fn internal() -> Reply {
    Reply::err(
        Kind::Internal,
        Some(SYS_TEMP),
        "Temporary server error; try again later",
    )
}

impl postwerk_net::Wire for Reply {
    fn write_to(&self, out: &mut Vec<u8>) {
        Reply::write_to(self, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_lines_carry_their_response_codes() {
        assert_eq!(wire(&stat(2, 320)), "+OK 2 320\r\n");
        assert_eq!(
            wire(&in_use()),
            "-ERR [IN-USE] The maildrop is already open in another POP3 session\r\n"
        );
        assert_eq!(wire(&auth_challenge()), "+ \r\n");
        assert_eq!(wire(&noop()), "+OK\r\n");
        assert!(wire(&internal()).starts_with("-ERR [SYS/TEMP] "));
        let invalid = login_refused(&LoginOutcome::Invalid {
            delay: std::time::Duration::ZERO,
        });
        assert!(wire(&invalid).starts_with("-ERR [AUTH] "));
    }

    #[test]
    fn multi_line_bodies_are_terminated_and_stuffed() {
        assert_eq!(
            wire(&scan_listings(2, 30, vec!["1 10".into(), "2 20".into()])),
            "+OK 2 messages (30 octets)\r\n1 10\r\n2 20\r\n.\r\n"
        );
        assert_eq!(
            wire(&message(5, b".a\r\n".to_vec())),
            "+OK 5 octets\r\n..a\r\n.\r\n"
        );
    }

    #[test]
    fn every_status_line_fits_rfc_2449_limit() {
        for reply in [
            needs_tls(),
            update_failed(),
            credentials_changed(),
            bye("a-very-long-host-name.example.test", 1000),
            login_refused(&LoginOutcome::Throttled),
        ] {
            let line = wire(&reply);
            assert!(line.len() <= 512, "{line}");
        }
    }
}
