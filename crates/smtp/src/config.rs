//! What a listener is for, and the limits of its sessions (RCV-11).

use std::time::Duration;

/// The three SMTP listeners (PROTO-2, PROTO-1, RFC 8314).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Port 25: mail from the internet for hosted addresses, STARTTLS offered, never AUTH
    /// and never relay.
    Mx,
    /// Port 587: submission by authenticated mailboxes after STARTTLS (RFC 6409).
    Submission,
    /// Port 465: submission over implicit TLS (RFC 8314 §3.3).
    Submissions,
}

impl ListenerKind {
    /// The configuration key of the listener, also used in logs.
    pub fn key(self) -> &'static str {
        match self {
            ListenerKind::Mx => "smtp",
            ListenerKind::Submission => "submission",
            ListenerKind::Submissions => "submissions",
        }
    }

    /// Whether the listener is for submission (AUTH offered inside TLS, relay when
    /// authenticated, SND-1 guards).
    pub fn is_submission(self) -> bool {
        self != ListenerKind::Mx
    }

    /// Whether TLS starts before the first byte (RFC 8314 implicit TLS).
    pub fn implicit_tls(self) -> bool {
        self == ListenerKind::Submissions
    }
}

/// Session limits (RCV-7, RCV-11). Every value comes from the `[smtp]` configuration table;
/// [`Limits::default`] holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, in octets; advertised with SIZE (RFC 1870).
    pub max_message_size: usize,
    /// Recipients per message; RFC 5321 §4.5.3.1.8 asks for at least 100.
    pub max_recipients: usize,
    /// Longest command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512 as the minimum a
    /// server must take; more leaves room for AUTH initial responses (RFC 4954 §4) and
    /// SMTPUTF8 addresses.
    pub max_line_length: usize,
    /// Refused commands (5xx replies) before the session is closed with `421`.
    pub max_errors: u32,
    /// Commands in one session before it is closed with `421`.
    pub max_commands: u32,
    /// How long the server waits for the next command or the next piece of a message;
    /// RFC 5321 §4.5.3.2.7 asks for at least 5 minutes.
    pub idle_timeout: Duration,
    /// Longest session, whatever it does.
    pub session_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_line_length: 4096,
            max_errors: 20,
            max_commands: 100_000,
            idle_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(3600),
        }
    }
}
