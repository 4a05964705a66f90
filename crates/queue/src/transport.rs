//! The boundary between deciding and delivering: one attempt to hand a message to the servers
//! of one domain, with an outcome per recipient (RFC 5321 §3.3: each RCPT is answered alone).

use async_trait::async_trait;
use postwerk_store::{DsnRet, Notify};

/// One recipient of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecipient {
    /// The forward-path, as an address (`local@domain`).
    pub address: String,
    /// RFC 3461 NOTIFY to pass on when the next hop supports DSN.
    pub notify: Option<Notify>,
    /// RFC 3461 ORCPT to pass on, as `addr-type;address` (xtext-decoded).
    pub orcpt: Option<String>,
}

/// One delivery attempt: a message to recipients that all share `domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The reverse-path to announce in MAIL FROM, without brackets; empty for the null sender.
    /// Already SRS-rewritten for forwards.
    pub return_path: String,
    /// The recipients' domain, in A-label form: whose MX hosts to try.
    pub domain: String,
    /// The recipients, at least one.
    pub recipients: Vec<AttemptRecipient>,
    /// RFC 3461 ENVID to pass on.
    pub envid: Option<String>,
    /// RFC 3461 RET to pass on.
    pub ret: Option<DsnRet>,
    /// Whether the content has octets above 127 (BODY=8BITMIME needed).
    pub eight_bit: bool,
    /// Whether the envelope or header needs SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
}

/// Why an attempt did not deliver to a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// RFC 3463 enhanced status, e.g. `5.1.1` (the remote server's own when it gave one).
    pub status: String,
    /// The host that answered (`mx1.example.org`), when one did.
    pub remote_mta: Option<String>,
    /// The remote server's reply as received (`550 5.1.1 <x@example.org>: no such user`),
    /// when the failure is its answer: the DSN's `Diagnostic-Code: smtp; …`.
    pub reply: Option<String>,
    /// What happened, in a sentence for people and logs (`no MX or address for example.org`,
    /// `TLS certificate does not match the domain's TLSA records (DANE)`).
    pub reason: String,
}

/// The outcome of an attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The remote server accepted responsibility for it (RFC 5321 §4.2.5: `250` after DATA).
    Delivered {
        /// The host that accepted it.
        remote_mta: String,
        /// Its reply to the end of data.
        reply: String,
    },
    /// Try again later (a 4xx, no connection, DNS trouble, a DANE mismatch).
    Temporary(Failure),
    /// Give up now (a 5xx, a null MX, a domain that does not exist).
    Permanent(Failure),
}

/// Hands messages to other servers. Implemented by the SMTP client; faked in tests.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Attempts to deliver `content` (the message as queued, CRLF line ends) per `attempt`.
    /// Answers one outcome per recipient, in the order of `attempt.recipients`; never fails as
    /// a whole (a connection problem is a `Temporary` outcome for every recipient).
    async fn deliver(&self, attempt: &Attempt, content: &[u8]) -> Vec<Outcome>;
}
