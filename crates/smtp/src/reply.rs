//! Every reply the server sends: code, enhanced status code (RFC 3463, announced with
//! ENHANCEDSTATUSCODES, RFC 2034) and sentence, in one place. The ops decide *what* happened;
//! this file decides how that reads on the wire, including how `core` outcomes map to codes.
//!
//! RFC 2034 §3: the enhanced code prefixes the text of every 2xx/4xx/5xx reply except the
//! greeting and the answers to HELO and EHLO.

use std::borrow::Cow;

use postwerk_core::{CoreError, Delivered, FilterReply, LoginOutcome, Recipient};
use postwerk_model::Refusal;

/// One reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code (RFC 5321 §4.2).
    pub code: u16,
    /// The enhanced status code, such as `5.1.1`; `None` where RFC 2034 leaves it out.
    pub status: Option<&'static str>,
    /// The text lines; at least one.
    pub lines: Vec<Cow<'static, str>>,
}

impl Reply {
    fn new(code: u16, status: &'static str, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    fn bare(code: u16, lines: Vec<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    /// Whether this is a permanent refusal (counted against the session's error budget).
    pub fn is_refusal(&self) -> bool {
        self.code >= 500
    }

    /// Whether the session ends after this reply.
    pub fn closes(&self) -> bool {
        self.code == 421 || self.code == 221
    }

    /// Appends the wire form: `code-text` for every line but the last, `code text` last.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let count = self.lines.len();
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i + 1 == count { ' ' } else { '-' };
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(separator as u8);
            if let Some(status) = self.status {
                out.extend_from_slice(status.as_bytes());
                out.push(b' ');
            }
            // Reply text never carries CR or LF (a sentence built from client input could).
            out.extend(line.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
            out.extend_from_slice(b"\r\n");
        }
    }
}

// ---- Connection

/// RFC 5321 §4.2: the greeting, without enhanced code (RFC 2034 §3).
pub fn greeting(hostname: &str) -> Reply {
    Reply::bare(220, vec![format!("{hostname} ESMTP Postwerk").into()])
}

/// RFC 5321 §4.1.1.1: the EHLO answer, the first line naming the server, then one capability
/// per line.
pub fn ehlo(hostname: &str, client: &str, capabilities: Vec<String>) -> Reply {
    let mut lines: Vec<Cow<'static, str>> = vec![format!("{hostname} greets {client}").into()];
    lines.extend(capabilities.into_iter().map(Cow::Owned));
    Reply::bare(250, lines)
}

/// RFC 5321 §4.1.1.1: the HELO answer.
pub fn helo(hostname: &str, client: &str) -> Reply {
    Reply::bare(250, vec![format!("{hostname} greets {client}").into()])
}

/// RFC 5321 §4.1.1.10 QUIT.
pub fn bye(hostname: &str) -> Reply {
    Reply::new(221, "2.0.0", format!("{hostname} closing connection"))
}

/// RFC 5321 §4.1.1.9 NOOP, and RSET (§4.1.1.5).
pub fn ok() -> Reply {
    Reply::new(250, "2.0.0", "OK")
}

/// RFC 5321 §4.1.1.5 RSET.
pub fn reset() -> Reply {
    Reply::new(250, "2.0.0", "Reset")
}

/// RFC 5321 §3.5.3: VRFY (and EXPN) answered 252 so that nobody learns which addresses exist.
pub fn cannot_verify() -> Reply {
    Reply::new(
        252,
        "2.5.0",
        "Cannot verify the user, but will accept the message and attempt delivery",
    )
}

/// RFC 5321 §4.1.1.8 HELP.
pub fn help() -> Reply {
    Reply::new(
        214,
        "2.0.0",
        "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH",
    )
}

/// The server is stopping (RFC 5321 §3.8: 421 and close).
pub fn shutting_down(hostname: &str) -> Reply {
    Reply::new(
        421,
        "4.3.2",
        format!("{hostname} shutting down, try again later"),
    )
}

/// No command for `idle_timeout` (RFC 5321 §4.5.3.2.7), or the session lasted too long.
pub fn timeout(hostname: &str) -> Reply {
    Reply::new(
        421,
        "4.4.2",
        format!("{hostname} timeout, closing connection"),
    )
}

/// RCV-11: too many refused commands.
pub fn too_many_errors(hostname: &str) -> Reply {
    Reply::new(
        421,
        "4.7.0",
        format!("{hostname} too many errors, closing connection"),
    )
}

/// RCV-11: too many commands in one session.
pub fn too_many_commands(hostname: &str) -> Reply {
    Reply::new(
        421,
        "4.7.0",
        format!("{hostname} too many commands, closing connection"),
    )
}

/// ID-6: the password of the authenticated mailbox changed (or it was disabled or deleted).
pub fn credentials_changed(hostname: &str) -> Reply {
    Reply::new(
        421,
        "4.7.0",
        format!("{hostname} the mailbox credentials changed; log in again"),
    )
}

// ---- Syntax (class "client syntax", STYLE.md)

/// RFC 5321 §4.2.4: an unknown command.
pub fn unknown_command() -> Reply {
    Reply::new(500, "5.5.1", "Command unrecognized")
}

/// RFC 5321 §4.5.3.1.4: a command line over the limit.
pub fn line_too_long() -> Reply {
    Reply::new(500, "5.5.2", "Line too long")
}

/// RCV-11, RFC 5321 §2.3.8: a command line with a bare CR or LF.
pub fn bare_line_ending_in_command() -> Reply {
    Reply::new(
        500,
        "5.5.2",
        "Bare CR or LF in a command line; lines end with CRLF (RFC 5321 §2.3.8)",
    )
}

/// What `smtp-proto` found wrong with a command line.
pub fn parse_error(error: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error;
    match error {
        Error::UnknownCommand => unknown_command(),
        Error::InvalidSenderAddress => bad_sender_syntax(),
        Error::InvalidRecipientAddress => bad_recipient_syntax(),
        Error::SyntaxError { syntax } => self::syntax(syntax),
        Error::InvalidParameter { param } => Reply::new(
            501,
            "5.5.4",
            format!("Invalid value for the {param} parameter"),
        ),
        Error::UnsupportedParameter { param } => unsupported_parameter(param),
        // A complete line never needs more data; the rest are reply-side errors.
        Error::NeedsMoreData { .. } | Error::ResponseTooLong | Error::InvalidResponse { .. } => {
            syntax("a valid SMTP command")
        }
    }
}

/// A command whose arguments do not parse.
pub fn syntax(usage: &'static str) -> Reply {
    Reply::new(501, "5.5.4", format!("Syntax: {usage}"))
}

/// MAIL FROM with an unusable address.
pub fn bad_sender_syntax() -> Reply {
    Reply::new(501, "5.1.7", "Bad sender address syntax")
}

/// RCPT TO with an unusable address.
pub fn bad_recipient_syntax() -> Reply {
    Reply::new(501, "5.1.3", "Bad recipient address syntax")
}

/// RFC 5321 §4.1.1.11: a MAIL or RCPT parameter not offered here.
pub fn unsupported_parameter(param: &str) -> Reply {
    Reply::new(
        555,
        "5.5.4",
        format!("Parameter {param} is not supported here"),
    )
}

/// RFC 6531 §3.4: a non-ASCII address without SMTPUTF8.
pub fn needs_smtputf8() -> Reply {
    Reply::new(
        553,
        "5.6.7",
        "Non-ASCII address requires the SMTPUTF8 parameter",
    )
}

/// RFC 6531 §3.3: a reverse-path whose non-ASCII local part breaks the SMTPUTF8 syntax
/// (a control character, invalid UTF-8, more than 64 octets).
pub fn bad_utf8_sender(problem: &str) -> Reply {
    Reply::new(
        501,
        "5.1.7",
        format!("Bad sender address syntax: {problem}"),
    )
}

/// Commands out of sequence (RFC 5321 §4.1.4).
pub fn bad_sequence(what: &'static str) -> Reply {
    Reply::new(503, "5.5.1", what)
}

/// Commands this server does not offer (ETRN, ATRN, BURL, LHLO).
pub fn not_implemented() -> Reply {
    Reply::new(502, "5.5.1", "Command not implemented")
}

// ---- TLS and authentication

/// RFC 3207 §4: go ahead with the handshake.
pub fn start_tls() -> Reply {
    Reply::new(220, "2.0.0", "Ready to start TLS")
}

/// RFC 3207 §4: TLS cannot start (no certificate, or already in TLS).
pub fn tls_unavailable() -> Reply {
    Reply::new(454, "4.7.0", "TLS not available")
}

/// RFC 3207 §4 + RFC 6409 §4.3: submission needs TLS, then AUTH, before MAIL.
pub fn tls_required() -> Reply {
    Reply::new(530, "5.7.0", "Must issue a STARTTLS command first")
}

/// RFC 4954 §6: submission needs AUTH before MAIL.
pub fn auth_required() -> Reply {
    Reply::new(530, "5.7.0", "Authentication required")
}

/// PROTO-3, RFC 4954 §6: AUTH before TLS.
pub fn auth_needs_tls() -> Reply {
    Reply::new(
        538,
        "5.7.11",
        "Encryption required for requested authentication mechanism",
    )
}

/// AUTH on the MX listener, which never offers it.
pub fn auth_not_offered() -> Reply {
    Reply::new(
        502,
        "5.5.1",
        "AUTH is not offered on this port; use submission (587 or 465)",
    )
}

/// RFC 4954 §4: a mechanism other than PLAIN and LOGIN.
pub fn unknown_mechanism() -> Reply {
    Reply::new(
        504,
        "5.5.4",
        "Unrecognized authentication type; use PLAIN or LOGIN",
    )
}

/// RFC 4954 §4: a server challenge (base64).
pub fn auth_challenge(base64: &'static str) -> Reply {
    Reply::bare(334, vec![base64.into()])
}

/// RFC 4954 §4: the client answered `*`.
pub fn auth_cancelled() -> Reply {
    Reply::new(501, "5.7.0", "Authentication cancelled")
}

/// RFC 4954 §4: a response that is not base64 or not a PLAIN message.
pub fn auth_malformed() -> Reply {
    Reply::new(501, "5.5.2", "Cannot decode the authentication response")
}

/// The outcome of a mailbox login (ID-2, RFC 4954 §6).
pub fn login(outcome: &LoginOutcome) -> Reply {
    match outcome {
        LoginOutcome::Accepted(_) => Reply::new(235, "2.7.0", "Authentication successful"),
        LoginOutcome::Invalid { .. } => {
            Reply::new(535, "5.7.8", "Authentication credentials invalid")
        }
        LoginOutcome::Disabled => Reply::new(535, "5.7.8", "This mailbox is disabled"),
        LoginOutcome::Throttled => Reply::new(
            454,
            "4.7.0",
            "Too many failed logins from your address; try again later",
        ),
    }
}

// ---- Transactions

/// RFC 5321 §4.1.1.2 MAIL accepted.
pub fn sender_ok() -> Reply {
    Reply::new(250, "2.1.0", "Sender OK")
}

/// SND-1: the authenticated mailbox does not own the sender (envelope or From:).
pub fn sender_denied() -> Reply {
    Reply::new(553, "5.7.1", "Sender denied: auth guards failed")
}

/// RCV-7, RFC 1870 §6.1: SIZE above the limit, or a message that turned out bigger.
pub fn too_big() -> Reply {
    Reply::new(
        552,
        "5.3.4",
        "Message size exceeds fixed maximum message size",
    )
}

/// RFC 5321 §4.5.3.1.10: one recipient too many for this transaction.
pub fn too_many_recipients() -> Reply {
    Reply::new(452, "4.5.3", "Too many recipients")
}

/// SND-6: an outside recipient over the outgoing rate limit of the mailbox (or of its
/// organization). Temporary, so a well-behaved client retries later (RFC 5321 §4.2.5).
pub fn sending_limit(organization: bool, per_hour: u32) -> Reply {
    let who = if organization {
        "your organization"
    } else {
        "this mailbox"
    };
    Reply::new(
        450,
        "4.7.1",
        format!(
            "Sending limit reached: {who} may send to at most {per_hour} outside recipients \
             per hour; try again later"
        ),
    )
}

/// The RCPT verdict of `core::Delivery::check_recipient` (RCV-1, RCV-13, ADDR-2).
pub fn recipient(verdict: &Recipient) -> Reply {
    match verdict {
        Recipient::Local(_) | Recipient::Remote => Reply::new(250, "2.1.5", "Recipient OK"),
        Recipient::Refused(refusal) => refused_recipient(*refusal),
        Recipient::RelayDenied => Reply::new(
            550,
            "5.7.1",
            "Relaying denied: this server only accepts mail for the domains it hosts",
        ),
    }
}

fn refused_recipient(refusal: Refusal) -> Reply {
    let sentence = refusal.sentence();
    match refusal {
        // RCV-1: X.1.1 bad destination mailbox address.
        Refusal::UnknownUser => Reply::new(550, "5.1.1", format!("Recipient unknown: {sentence}")),
        // ADDR-2: X.7.1 delivery not authorized; a no-reply address only sends.
        Refusal::NoReply => Reply::new(
            550,
            "5.7.1",
            format!("Recipient refuses mail: {sentence} (no-reply address)"),
        ),
        // X.2.1: mailbox disabled, not accepting messages.
        Refusal::Disabled => Reply::new(550, "5.2.1", format!("Recipient refused: {sentence}")),
        // X.4.6: routing loop detected.
        Refusal::RedirectLoop => Reply::new(550, "5.4.6", format!("Recipient refused: {sentence}")),
        // ADDR-10; RFC 3463 §3.3: X.2.2 "mailbox full", with 552 (RFC 5321 §4.2.2).
        Refusal::MailboxFull => Reply::new(552, "5.2.2", sentence.to_owned()),
    }
}

/// RFC 5321 §4.1.1.4: go ahead with the message.
pub fn start_data() -> Reply {
    Reply::bare(354, vec!["Start mail input; end with <CRLF>.<CRLF>".into()])
}

/// DATA or BDAT without an accepted recipient (RFC 5321 §3.3).
pub fn no_recipients() -> Reply {
    Reply::new(554, "5.5.1", "No valid recipients")
}

/// RFC 3030 §2: a BDAT chunk taken, more to come.
pub fn chunk_received(size: usize) -> Reply {
    Reply::new(250, "2.0.0", format!("{size} octets received"))
}

/// RCV-11: a bare CR or LF in the message; the whole message is refused.
pub fn bare_line_ending_in_message() -> Reply {
    Reply::new(
        554,
        "5.6.0",
        "Message refused: bare CR or LF; lines end with CRLF (RFC 5321 §2.3.8)",
    )
}

/// RCV-10: a non-ASCII header without SMTPUTF8.
pub fn non_ascii_header(field: &str) -> Reply {
    Reply::new(
        554,
        "5.6.7",
        format!("Non-ASCII characters in the {field} header require SMTPUTF8 (RFC 6531)"),
    )
}

/// The end-of-message verdict of `core::Delivery::deliver` (RCV-12, SND-1).
pub fn delivered(outcome: &Delivered, id: &str) -> Reply {
    match outcome {
        Delivered::Accepted { .. } => Reply::new(250, "2.0.0", format!("OK queued as {id}")),
        Delivered::SenderDenied => sender_denied(),
        Delivered::Refused(reply) => filtered(reply),
        // SND-6: accepted (it is on stable storage), but the sender learns it is not sent yet.
        Delivered::Held { .. } => Reply::new(
            250,
            "2.0.0",
            format!(
                "OK queued as {id}, but held: it looks like spam, so it waits for an \
                 administrator of your organization to release it"
            ),
        ),
    }
}

/// A refusal by one of the checks of SPEC §4 (block lists, greylisting, attachments, SPF,
/// DMARC): each check words its own reply, so that it names what was found.
pub fn filtered(reply: &FilterReply) -> Reply {
    Reply::new(reply.code, reply.status, reply.text.clone())
}

/// Our fault (class "internal", STYLE.md): the client should try again later.
pub fn internal(error: &CoreError) -> Reply {
    // Logged by the caller with the session's context; never shown to clients. A full disk is
    // named (RFC 5321 §4.2.3 452, RFC 3463 X.3.1 "mail system full"): the sender retries.
    if error.is_storage_full() {
        return Reply::new(
            452,
            "4.3.1",
            "Insufficient system storage: the server cannot store mail now, try again later",
        );
    }
    Reply::new(
        451,
        "4.3.0",
        "Temporary server error, please try again later",
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
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn multi_line_replies_use_dashes_and_enhanced_codes_prefix_text() {
        let reply = ehlo(
            "mx.test",
            "client",
            vec!["PIPELINING".into(), "SIZE 10".into()],
        );
        assert_eq!(
            wire(&reply),
            "250-mx.test greets client\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
        assert_eq!(
            wire(&too_big()),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
        );
    }

    #[test]
    fn reply_text_never_carries_line_breaks() {
        let reply = unsupported_parameter("X\r\n250 injected");
        assert_eq!(wire(&reply).matches("\r\n").count(), 1);
    }

    #[test]
    fn rcv_1_and_adr_2_refusals_map_to_their_codes() {
        let code = |r: Refusal| {
            let reply = recipient(&Recipient::Refused(r));
            (reply.code, reply.status)
        };
        assert_eq!(code(Refusal::UnknownUser), (550, Some("5.1.1")));
        assert_eq!(code(Refusal::NoReply), (550, Some("5.7.1")));
        assert_eq!(code(Refusal::Disabled), (550, Some("5.2.1")));
        assert_eq!(code(Refusal::RedirectLoop), (550, Some("5.4.6")));
        assert_eq!(code(Refusal::MailboxFull), (552, Some("5.2.2")));
        assert_eq!(recipient(&Recipient::RelayDenied).status, Some("5.7.1"));
    }
}
