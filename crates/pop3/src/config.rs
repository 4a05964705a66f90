//! What a listener is for, and the limits of its sessions.

use std::time::Duration;

/// The two POP3 listeners (PROTO-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Port 110: clear text until STLS (RFC 2595); no login before TLS (PROTO-3).
    Pop3,
    /// Port 995: implicit TLS (RFC 8314 §3.3).
    Pop3s,
}

impl ListenerKind {
    /// The configuration key of the listener, also used in logs.
    pub fn key(self) -> &'static str {
        match self {
            ListenerKind::Pop3 => "pop3",
            ListenerKind::Pop3s => "pop3s",
        }
    }

    /// Whether TLS starts before the first byte.
    pub fn implicit_tls(self) -> bool {
        self == ListenerKind::Pop3s
    }
}

/// Session limits. Every value comes from the `[pop3]` configuration table; [`Limits::default`]
/// holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included. RFC 2449 §4 bounds commands at 255 octets;
    /// more leaves room for AUTH PLAIN responses with long addresses and passwords.
    pub max_line_length: usize,
    /// Bad commands (unknown, malformed, wrong state) before the session is closed.
    pub max_errors: u32,
    /// How long the server waits for the next command. RFC 1939 §3: an inactivity
    /// autologout timer, if any, must be of at least 10 minutes.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_length: 2048,
            max_errors: 20,
            idle_timeout: Duration::from_secs(600),
        }
    }
}
