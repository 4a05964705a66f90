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
pub mod rspamd;
pub mod spam;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use postwerk_dns::Resolver;
use postwerk_model::{Address, FilterOverrides};
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

impl FilterConfig {
    /// The settings for a transaction whose recipients belong to services with these
    /// overrides: the strictest of them ([`FilterOverrides`]): a check runs when any service
    /// wants it, and the lowest thresholds apply. The platform's settings, unchanged and
    /// uncopied, when no service overrides anything (the common case).
    pub fn for_services(&self, services: &[FilterOverrides]) -> Cow<'_, FilterConfig> {
        if services.iter().all(FilterOverrides::is_empty) {
            return Cow::Borrowed(self);
        }
        let any = |platform: bool, pick: fn(&FilterOverrides) -> Option<bool>| {
            services
                .iter()
                .any(|service| pick(service).unwrap_or(platform))
        };
        let lowest = |platform: f64, pick: fn(&FilterOverrides) -> Option<f64>| {
            services
                .iter()
                .map(|service| pick(service).unwrap_or(platform))
                .fold(f64::INFINITY, f64::min)
        };
        let mut config = self.clone();
        config.greylist = any(self.greylist, |s| s.greylist);
        config.attachments = any(self.attachments, |s| s.attachments);
        config.spam.enabled = any(self.spam.enabled, |s| s.spam);
        config.spam.junk_threshold = lowest(self.spam.junk_threshold, |s| s.junk_threshold);
        config.spam.reject_threshold = lowest(self.spam.reject_threshold, |s| s.reject_threshold);
        Cow::Owned(config)
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

    /// The name of this server, as `Authentication-Results` gives it.
    pub fn hostname(&self) -> &str {
        &self.hostname
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

    /// RCV-3, at RCPT: a reply asking an unknown triplet to come back later, unless the
    /// recipient's service (`service`) or the platform turns greylisting off.
    pub async fn check_recipient(
        &self,
        client: &Client,
        sender: &str,
        recipient: &Address,
        service: &FilterOverrides,
        now: i64,
    ) -> Option<Reply> {
        if !service.greylist.unwrap_or(self.config.greylist) {
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
    /// submission, which gets the attachment and malware checks only. `services` are the
    /// overrides of the services the recipients belong to ([`FilterConfig::for_services`]).
    pub async fn check_message(
        &self,
        client: Option<&Client>,
        sender: &str,
        raw: &[u8],
        services: &[FilterOverrides],
    ) -> MessageVerdict {
        let config = self.config.for_services(services);
        if config.attachments {
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
        let envelope = rspamd::Envelope {
            ip: Some(client.ip),
            helo: Some(&client.helo),
            sender,
            recipients: Vec::new(),
            user: None,
        };
        self.score_spam(&config.spam, verdict, &envelope, raw, signals.as_ref())
            .await
    }

    /// SND-6: the spam score of a message submitted by `login` from `sender` to
    /// `recipients`, when `[spam] hold_outgoing` is on and the score reaches
    /// `outgoing_threshold`: the message is then held for an administrator instead of sent.
    /// `None` lets it go.
    pub async fn check_outgoing(
        &self,
        login: &str,
        sender: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Option<spam::Score> {
        let config = &self.config.spam;
        if !config.hold_outgoing {
            return None;
        }
        let envelope = rspamd::Envelope {
            ip: None,
            helo: None,
            sender,
            recipients: recipients.iter().map(String::as_str).collect(),
            user: Some(login),
        };
        let score = self.score(&envelope, raw, None).await;
        (score.total >= config.outgoing_threshold).then_some(score)
    }

    /// RCV-4 after the authentication checks: the score of an accepted stranger's message,
    /// its `X-Spam-*` headers on top of the others, and [`MessageVerdict::Spam`] at or above
    /// the junk threshold. The scorer reads a bounded prefix of the message, so it runs here
    /// rather than on a blocking thread.
    async fn score_spam(
        &self,
        config: &spam::SpamConfig,
        verdict: MessageVerdict,
        envelope: &rspamd::Envelope<'_>,
        raw: &[u8],
        signals: Option<&spam::AuthSignals>,
    ) -> MessageVerdict {
        let MessageVerdict::Accept { headers, junk } = verdict else {
            return verdict;
        };
        if !config.enabled {
            return MessageVerdict::Accept { headers, junk };
        }
        let score = self.score(envelope, raw, signals).await;
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

    /// The score of `raw`: rspamd's when it is configured and answers, else the built-in
    /// rules' (RCV-4: a scorer that is down must not stop the mail).
    async fn score(
        &self,
        envelope: &rspamd::Envelope<'_>,
        raw: &[u8],
        signals: Option<&spam::AuthSignals>,
    ) -> spam::Score {
        if let Some(rspamd) = &self.config.spam.rspamd {
            match rspamd::check(rspamd, envelope, raw).await {
                Ok(score) => return score,
                Err(error) => {
                    tracing::warn!(%error, "rspamd gave no score; the built-in rules score the message");
                }
            }
        }
        spam::score(raw, signals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(f: impl FnOnce(&mut FilterOverrides)) -> FilterOverrides {
        let mut o = FilterOverrides::default();
        f(&mut o);
        o
    }

    #[test]
    fn services_without_overrides_use_the_platform_settings_uncopied() {
        let platform = FilterConfig::default();
        let none = [FilterOverrides::default(), FilterOverrides::default()];
        assert!(matches!(platform.for_services(&none), Cow::Borrowed(_)));
        assert!(matches!(platform.for_services(&[]), Cow::Borrowed(_)));
    }

    #[test]
    fn the_strictest_setting_of_the_services_wins() {
        let platform = FilterConfig::default();
        let relaxed = overrides(|o| {
            o.attachments = Some(false);
            o.spam = Some(false);
            o.junk_threshold = Some(8.0);
        });
        let alone = platform.for_services(std::slice::from_ref(&relaxed));
        assert!(!alone.attachments && !alone.spam.enabled);
        assert_eq!(alone.spam.junk_threshold, 8.0);
        assert_eq!(alone.spam.reject_threshold, 15.0, "not overridden");

        let strict = overrides(|o| o.reject_threshold = Some(9.0));
        let shared = platform.for_services(&[relaxed, strict]);
        assert!(
            shared.attachments,
            "the other service keeps the platform's check"
        );
        assert!(shared.spam.enabled);
        assert_eq!(shared.spam.junk_threshold, 5.0, "the platform's is lower");
        assert_eq!(shared.spam.reject_threshold, 9.0);
    }
}
