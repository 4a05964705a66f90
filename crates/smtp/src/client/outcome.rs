//! Turning what happened into [`Outcome`]s: the RFC 3463 status codes this client chooses when
//! the remote server gave none, in one place.

use postwerk_queue::{Failure, Outcome};

use super::reply::Reply;

/// RFC 3463 codes the client itself assigns (when the failure is not a remote reply).
pub(crate) mod status {
    /// X.1.2 "Bad destination system address": the domain does not exist (NXDOMAIN).
    pub const NO_DOMAIN: &str = "5.1.2";
    /// X.1.10 "Recipient address has null MX" (RFC 7505 §4.2).
    pub const NULL_MX: &str = "5.1.10";
    /// X.1.3 "Bad destination mailbox address syntax": an address we must not put on the wire.
    pub const BAD_RECIPIENT: &str = "5.1.3";
    /// X.1.7 "Bad sender's mailbox address syntax".
    pub const BAD_SENDER: &str = "5.1.7";
    /// X.3.4 "Message too big for system" (RFC 1870 §6: the server's SIZE is smaller).
    pub const TOO_BIG: &str = "5.3.4";
    /// X.4.1 "No answer from host": no MX host accepted a connection and greeted.
    pub const NO_ANSWER: &str = "4.4.1";
    /// X.4.2 "Bad connection": the connection broke or timed out mid-dialogue.
    pub const BAD_CONNECTION: &str = "4.4.2";
    /// X.4.3 "Directory server failure": a DNS lookup failed (SERVFAIL, timeout).
    pub const DNS_FAILURE: &str = "4.4.3";
    /// X.5.0 "Other or undefined protocol status": the server's reply was not SMTP.
    pub const PROTOCOL: &str = "4.5.0";
    /// X.6.7 "Non-ASCII addresses not permitted for that sender/recipient" (RFC 6531 §3.5).
    pub const NEEDS_SMTPUTF8: &str = "5.6.7";
    /// X.7.4 "Security features not supported": DANE requires TLS and the host offers no
    /// STARTTLS (or refuses it).
    pub const TLS_NOT_OFFERED: &str = "4.7.4";
    /// X.7.5 "Cryptographic failure": the TLS handshake failed or the certificate does not
    /// match the TLSA records (DANE).
    pub const CRYPTO_FAILURE: &str = "4.7.5";
}

/// A failure of the client's own making (no remote reply).
pub(crate) fn failure(
    status: &str,
    remote_mta: Option<&str>,
    reason: impl Into<String>,
) -> Failure {
    Failure {
        status: status.to_string(),
        remote_mta: remote_mta.map(str::to_string),
        reply: None,
        reason: reason.into(),
    }
}

/// A temporary outcome of the client's own making.
pub(crate) fn temporary(
    status: &str,
    remote_mta: Option<&str>,
    reason: impl Into<String>,
) -> Outcome {
    Outcome::Temporary(failure(status, remote_mta, reason))
}

/// A permanent outcome of the client's own making.
pub(crate) fn permanent(
    status: &str,
    remote_mta: Option<&str>,
    reason: impl Into<String>,
) -> Outcome {
    Outcome::Permanent(failure(status, remote_mta, reason))
}

/// The outcome a negative reply stands for: 5xx is permanent, anything else that is not a
/// positive completion is retried (RFC 5321 §4.2.1).
pub(crate) fn from_reply(reply: &Reply, remote_mta: &str, what: &str) -> Outcome {
    let failure = Failure {
        status: reply.status(),
        remote_mta: Some(remote_mta.to_string()),
        reply: Some(reply.full()),
        reason: format!("{remote_mta} answered {what} with {}", reply.full()),
    };
    if reply.class() == 5 {
        Outcome::Permanent(failure)
    } else {
        Outcome::Temporary(failure)
    }
}

/// The outcome of a final reply to the end of data for an accepted recipient.
pub(crate) fn after_data(reply: &Reply, remote_mta: &str) -> Outcome {
    if reply.is_positive() {
        Outcome::Delivered {
            remote_mta: remote_mta.to_string(),
            reply: reply.full(),
        }
    } else {
        from_reply(reply, remote_mta, "the end of data")
    }
}

/// A short word for logs.
pub(crate) fn label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::Temporary(_) => "deferred",
        Outcome::Permanent(_) => "bounced",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_to_outcomes() {
        let reply = Reply {
            code: 550,
            esc: Some([5, 1, 1]),
            text: "no such user".to_string(),
        };
        let Outcome::Permanent(failure) = from_reply(&reply, "mx.example.org", "RCPT TO") else {
            panic!("550 is permanent");
        };
        assert_eq!(failure.status, "5.1.1");
        assert_eq!(failure.reply.as_deref(), Some("550 5.1.1 no such user"));
        assert_eq!(failure.remote_mta.as_deref(), Some("mx.example.org"));

        let reply = Reply {
            code: 451,
            esc: None,
            text: "try later".to_string(),
        };
        let Outcome::Temporary(failure) = from_reply(&reply, "mx", "MAIL FROM") else {
            panic!("451 is temporary");
        };
        assert_eq!(failure.status, "4.0.0");
    }
}
