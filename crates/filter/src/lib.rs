//! Checks on mail in flight (SPEC §4, RCV-2 … RCV-9): each a small unit with one job that
//! answers a verdict and the SMTP reply it implies. `core::Delivery` runs them at the SMTP
//! stage each belongs to:
//!
//! ```text
//!  connection ─► dnsbl        (RCV-9: the client address on DNS block lists)
//!  RCPT       ─► greylist     (RCV-3: unknown client/sender/recipient triplets wait)
//!  end of DATA ─► attachments (RCV-5: forbidden file names, zip archives included)
//!              ─► auth        (RCV-2: SPF, DKIM, DMARC; the Authentication-Results header)
//! ```
//!
//! Mail from authenticated submission skips the checks that judge strangers (block lists,
//! greylisting, SPF/DMARC) but not the attachment check (issue 7 item 8).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attachments;
pub mod auth;
pub mod dnsbl;
pub mod greylist;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use postwerk_dns::Resolver;
use postwerk_model::Address;
use postwerk_store::GreylistStore;

/// The SMTP reply a refusal implies; the protocol sends it as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The basic code (`550`).
    pub code: u16,
    /// The RFC 3463 enhanced status (`5.7.1`).
    pub status: &'static str,
    /// A sentence telling the sender what happened and what to do.
    pub text: String,
}

/// The connecting client, as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its address.
    pub ip: IpAddr,
    /// The name it gave in EHLO/HELO.
    pub helo: String,
}

/// The verdict on a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageVerdict {
    /// Deliver it, with these header lines (CRLF-terminated) added on top, such as
    /// `Authentication-Results:`; into Junk instead of INBOX when `junk` says why.
    Accept {
        /// Header lines to prepend.
        headers: Vec<u8>,
        /// The reason to file it as junk (DMARC `p=quarantine`, later the spam score).
        junk: Option<String>,
    },
    /// Refuse it with this reply.
    Refuse(Reply),
}

/// What SPF `fail` leads to (RCV-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpfPolicy {
    /// Refuse the message `550 5.7.23` (the default).
    #[default]
    Refuse,
    /// Deliver it, recording the result in `Authentication-Results`.
    Mark,
}

/// The configuration of every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterConfig {
    /// `[greylist] enabled`.
    pub greylist: bool,
    /// `[greylist] delay`: how long an unknown triplet waits before a retry is accepted.
    pub greylist_delay: Duration,
    /// How long a triplet that passed is remembered (auto-whitelist), and how long an unretried
    /// one is kept.
    pub greylist_expiry: Duration,
    /// `[dnsbl] zones`; empty: no lookups.
    pub dnsbl_zones: Vec<String>,
    /// `[attachments] enabled`.
    pub attachments: bool,
    /// Bounds of archive inspection.
    pub archive_limits: attachments::ArchiveLimits,
    /// `[auth] enabled`: SPF, DKIM and DMARC verification.
    pub auth: bool,
    /// `[auth] spf_fail`.
    pub spf_policy: SpfPolicy,
}

impl Default for FilterConfig {
    fn default() -> FilterConfig {
        FilterConfig {
            greylist: true,
            greylist_delay: Duration::from_secs(300),
            greylist_expiry: Duration::from_secs(36 * 86400),
            dnsbl_zones: Vec::new(),
            attachments: true,
            archive_limits: attachments::ArchiveLimits::default(),
            auth: true,
            spf_policy: SpfPolicy::Refuse,
        }
    }
}

/// Every check, configured, with what they need.
pub struct Filters {
    config: FilterConfig,
    resolver: Arc<dyn Resolver>,
    greylist: Arc<dyn GreylistStore>,
    auth: auth::Verifier,
    hostname: String,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Filters {
    /// The checks per `config`, asking `resolver` (block lists) and `auth` (SPF/DKIM/DMARC),
    /// remembering triplets in `greylist`; `hostname` names this server in
    /// `Authentication-Results` (RFC 8601 §2.5).
    pub fn new(
        config: FilterConfig,
        resolver: Arc<dyn Resolver>,
        greylist: Arc<dyn GreylistStore>,
        auth: auth::Verifier,
        hostname: String,
    ) -> Filters {
        Filters {
            config,
            resolver,
            greylist,
            auth,
            hostname,
        }
    }

    /// RCV-9, at connection: a reply refusing the client when a block list names it.
    pub async fn check_connection(&self, client: &Client) -> Option<Reply> {
        if self.config.dnsbl_zones.is_empty() {
            return None;
        }
        dnsbl::check(self.resolver.as_ref(), client.ip, &self.config.dnsbl_zones).await
    }

    /// RCV-3, at RCPT: a reply asking an unknown triplet to come back later.
    pub async fn check_recipient(
        &self,
        client: &Client,
        sender: &str,
        recipient: &Address,
        now: i64,
    ) -> Option<Reply> {
        if !self.config.greylist {
            return None;
        }
        greylist::check(
            self.greylist.as_ref(),
            &self.config,
            client.ip,
            sender,
            recipient,
            now,
        )
        .await
    }

    /// RCV-5 and RCV-2, at the end of the message. `client` is `None` for authenticated
    /// submission, which gets the attachment check only.
    pub async fn check_message(
        &self,
        client: Option<&Client>,
        sender: &str,
        raw: &[u8],
    ) -> MessageVerdict {
        if self.config.attachments {
            // Parsing and unpacking archives is CPU work of up to the archive budget: off the
            // async threads. The copy costs far less than the parse.
            let limits = self.config.archive_limits;
            let bytes = raw.to_vec();
            let refusal = tokio::task::spawn_blocking(move || attachments::check(&bytes, &limits))
                .await
                // The check catches its own panics; a join error is a cancelled runtime.
                .unwrap_or_else(|_| Some(attachments::refusal()));
            if let Some(reply) = refusal {
                return MessageVerdict::Refuse(reply);
            }
        }
        match client {
            Some(client) if self.config.auth => {
                self.auth
                    .check(client, sender, raw, &self.hostname, self.config.spf_policy)
                    .await
            }
            _ => MessageVerdict::Accept {
                headers: Vec::new(),
                junk: None,
            },
        }
    }
}
