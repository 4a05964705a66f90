//! Checks on mail in flight (SPEC §4, RCV-2 … RCV-9): each a small unit with one job that
//! answers a verdict and the SMTP reply it implies. `core::Delivery` runs them at the SMTP
//! stage each belongs to:
//!
//! ```text
//!  connection ─► dnsbl        (RCV-9: the client address on DNS block lists)
//!  MAIL       ─► rate         (RCV-8: transactions per client address and per sender)
//!  RCPT       ─► greylist     (RCV-3: unknown client/sender/recipient triplets wait)
//!  end of DATA ─► attachments (RCV-5: forbidden file names, zip archives included)
//!              ─► malware     (RCV-6: clamd's INSTREAM, when configured)
//!              ─► auth        (RCV-2: SPF, DKIM, DMARC; the Authentication-Results header)
//!              ─► spam        (RCV-4: the score and X-Spam-* headers; Junk or refusal is
//!                              decided per recipient by core::Delivery, whose allow lists
//!                              override it)
//! ```
//!
//! Mail from authenticated submission skips the checks that judge strangers (block lists,
//! greylisting, SPF/DMARC) but not the attachment and malware checks (issue 7 item 8).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attachments;
pub mod auth;
pub mod dnsbl;
pub mod forged_results;
pub mod greylist;
pub mod malware;
pub mod rate;
pub mod spam;

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
#[derive(Debug, Clone, PartialEq)]
pub enum MessageVerdict {
    /// Deliver it, with these header lines (CRLF-terminated) added on top, such as
    /// `Authentication-Results:`; into Junk instead of INBOX when `junk` says why.
    Accept {
        /// Header lines to prepend.
        headers: Vec<u8>,
        /// The reason to file it as junk (DMARC `p=quarantine`, later the spam score).
        junk: Option<String>,
    },
    /// RCV-4: the spam score reached the junk threshold. Deliver it to Junk — or refuse it
    /// with `refusal` when the score reached the reject threshold — except for recipients
    /// whose allow list names the sender: they get it in INBOX, and a message one of them
    /// allows is never refused for its score.
    Spam {
        /// Header lines to prepend (`Authentication-Results:`, then `X-Spam-*`).
        headers: Vec<u8>,
        /// A reason to file it as junk that allow lists do not override (DMARC
        /// `p=quarantine`).
        junk: Option<String>,
        /// The score and the rules that made it.
        score: spam::Score,
        /// The refusal when the score reached the reject threshold.
        refusal: Option<Reply>,
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
#[derive(Debug, Clone, PartialEq)]
pub struct FilterConfig {
    /// `[greylist] enabled`.
    pub greylist: bool,
    /// `[greylist] delay`: how long an unknown triplet waits before a retry is accepted.
    pub greylist_delay: Duration,
    /// How long a triplet that passed is remembered (auto-whitelist) after it was last seen.
    pub greylist_expiry: Duration,
    /// `[greylist] pending_expiry`: how long a triplet that never retried after the delay is
    /// kept.
    pub greylist_pending_expiry: Duration,
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
    /// `[spam]`: the score of strangers' mail and its thresholds (RCV-4).
    pub spam: spam::SpamConfig,
    /// `[rate]`: transactions per client and per sender (RCV-8).
    pub rate: rate::RateConfig,
    /// `[malware]`: the clamd to scan every message with (RCV-6); `None`: no scanning.
    pub clamd: Option<malware::ClamdConfig>,
}

impl Default for FilterConfig {
    fn default() -> FilterConfig {
        FilterConfig {
            greylist: true,
            greylist_delay: Duration::from_secs(300),
            greylist_expiry: Duration::from_secs(36 * 86400),
            greylist_pending_expiry: Duration::from_secs(86400),
            dnsbl_zones: Vec::new(),
            attachments: true,
            archive_limits: attachments::ArchiveLimits::default(),
            auth: true,
            spf_policy: SpfPolicy::Refuse,
            spam: spam::SpamConfig::default(),
            rate: rate::RateConfig::default(),
            clamd: None,
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
    /// RCV-8: the counts of the whole process, shared by every session.
    rate: rate::RateLimits,
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
            rate: rate::RateLimits::new(&config.rate),
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

    /// RCV-8, at MAIL FROM: counts one transaction from `client` by `sender` (the envelope
    /// sender from strangers, empty or `<>` for the null sender; the login on submission), or
    /// answers `450 4.7.1` when the client or the sender is over its limit.
    pub fn check_rate(&self, client: IpAddr, sender: &str) -> Option<Reply> {
        self.rate.check(client, sender)
    }

    /// RFC 8601 §5: `raw` without the `Authentication-Results` fields that claim to come from
    /// this server, for strangers' mail (their verification must be ours alone).
    pub fn strip_forged_results<'m>(&self, raw: &'m [u8]) -> std::borrow::Cow<'m, [u8]> {
        forged_results::strip(raw, &self.hostname)
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

    /// RCV-5, RCV-6 and RCV-2, at the end of the message. `client` is `None` for authenticated
    /// submission, which gets the attachment and malware checks only.
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
        // RCV-6, submissions included (SND-6): a message that could not be scanned is deferred,
        // never accepted unscanned.
        if let Some(clamd) = &self.config.clamd {
            match malware::scan(clamd, raw).await {
                malware::ScanOutcome::Clean => {}
                malware::ScanOutcome::Infected(signature) => {
                    return MessageVerdict::Refuse(malware::infected(&signature));
                }
                malware::ScanOutcome::Failed(_) => {
                    return MessageVerdict::Refuse(malware::unavailable());
                }
            }
        }
        let Some(client) = client else {
            // Authenticated submission: not scored here (outgoing mail is SND-6's).
            return MessageVerdict::Accept {
                headers: Vec::new(),
                junk: None,
            };
        };
        let (verdict, signals) = if self.config.auth {
            self.auth
                .check_with_signals(client, sender, raw, &self.hostname, self.config.spf_policy)
                .await
        } else {
            let verdict = MessageVerdict::Accept {
                headers: Vec::new(),
                junk: None,
            };
            (verdict, None)
        };
        self.score_spam(verdict, raw, signals.as_ref())
    }

    /// RCV-4 after the authentication checks: the score of an accepted stranger's message,
    /// its `X-Spam-*` headers on top of the others, and [`MessageVerdict::Spam`] at or above
    /// the junk threshold. The scorer reads a bounded prefix of the message, so it runs here
    /// rather than on a blocking thread.
    fn score_spam(
        &self,
        verdict: MessageVerdict,
        raw: &[u8],
        signals: Option<&spam::AuthSignals>,
    ) -> MessageVerdict {
        let config = &self.config.spam;
        let MessageVerdict::Accept { headers, junk } = verdict else {
            return verdict;
        };
        if !config.enabled {
            return MessageVerdict::Accept { headers, junk };
        }
        let score = spam::score(raw, signals);
        // After `Authentication-Results:` (the record of checks comes first, right under
        // `Return-Path:`), still above the message's own header section.
        let headers = [headers, spam::headers(&score, config)].concat();
        match config.classify(score.total) {
            spam::SpamClass::Clean => MessageVerdict::Accept { headers, junk },
            class => {
                let refusal = (class == spam::SpamClass::Reject).then(|| spam::refusal(&score));
                MessageVerdict::Spam {
                    headers,
                    junk,
                    score,
                    refusal,
                }
            }
        }
    }
}
