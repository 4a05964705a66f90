//! What a listener is for, and the limits of its sessions.

use std::time::Duration;

/// The two IMAP listeners (PROTO-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Port 143: clear text until STARTTLS, `LOGINDISABLED` before it (PROTO-3).
    Imap,
    /// Port 993: implicit TLS (RFC 8314 §3.3).
    Imaps,
}

impl ListenerKind {
    /// The configuration key of the listener, also used in logs.
    pub fn key(self) -> &'static str {
        match self {
            ListenerKind::Imap => "imap",
            ListenerKind::Imaps => "imaps",
        }
    }

    /// Whether TLS starts before the first byte.
    pub fn implicit_tls(self) -> bool {
        self == ListenerKind::Imaps
    }
}

/// Session limits. Every value comes from the `[imap]` configuration table; [`Limits::default`]
/// holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, literals not included (RFC 7162 §4 asks servers to take lines
    /// of at least 8192 octets; long UID sets from QRESYNC clients need more).
    pub max_line_length: usize,
    /// Largest literal, hence largest APPEND (advertised as `APPENDLIMIT`, RFC 7889).
    pub max_literal: u64,
    /// Bad commands before the session is closed with `BYE`.
    pub max_errors: u32,
    /// Wait for the next command before login. Short: an unauthenticated connection costs
    /// memory and gives nothing.
    pub login_timeout: Duration,
    /// Wait for the next command once logged in. RFC 9051 §5.4: the autologout timer must be
    /// at least 30 minutes (IDLE clients re-issue IDLE every 29 minutes, RFC 2177 §3).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_length: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_errors: 50,
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
        }
    }
}
