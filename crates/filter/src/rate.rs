//! RCV-8: rate limits at MAIL FROM, one count per transaction (never per recipient), per
//! connecting client and per sender. Over either limit the transaction is refused
//! `450 4.7.1 Rate limit exceeded`: temporary, so a legitimate MTA queues the mail and comes
//! back later, while a spraying client is slowed to the configured pace.
//!
//! Both limits are keyed GCRA limiters (`governor`): a burst of the configured size, then
//! one more transaction each `period / limit`.
//!
//! - The client is keyed by its address, an IPv6 client by its /64: a host is normally given
//!   a whole /64 and could otherwise rotate addresses inside it to escape the limit.
//! - The sender is keyed by its address, lowercased. The null sender (`<>`, RFC 5321 §4.5.5:
//!   bounces) names nobody, so its transactions are counted per client network instead.
//!
//! Memory stays bounded: a keyed limiter keeps a state per key it has seen, and strangers
//! choose the keys (addresses, forged senders). Every [`CLEANUP_EVERY`] checks, the states
//! that have returned to "fresh" (no different from a key never seen) are dropped, so the
//! limiters hold the keys active within one limit period plus at most that many new ones.

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::Reply;

/// The `[rate]` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateConfig {
    /// `[rate] enabled`: off, no transaction is ever refused for its rate.
    pub enabled: bool,
    /// `[rate] messages_per_minute_per_client`: transactions per minute from one client
    /// address (an IPv6 client's /64); 0: unlimited.
    pub per_client_per_minute: u32,
    /// `[rate] messages_per_hour_per_sender`: transactions per hour from one sender (the
    /// envelope sender on the MX listener, the login on submission); 0: unlimited.
    pub per_sender_per_hour: u32,
}

impl Default for RateConfig {
    fn default() -> RateConfig {
        RateConfig {
            enabled: true,
            per_client_per_minute: 60,
            per_sender_per_hour: 200,
        }
    }
}

/// How many checks pass between two cleanups of the limiters' states. Small enough that
/// keys a stranger invents cannot pile up, large enough that the walk over the states (a
/// pass over every key) costs nothing per transaction.
pub const CLEANUP_EVERY: u64 = 4096;

/// The network a client is counted by: an IPv4 address itself, an IPv6 address's /64 (an
/// IPv4-mapped IPv6 address is its IPv4 address).
fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = v6.to_bits() & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from_bits(prefix))
        }
    }
}

/// Who the per-sender limit counts a transaction against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SenderKey {
    /// A sender address, lowercased.
    Address(String),
    /// The null sender, per client network.
    Null(IpAddr),
}

impl SenderKey {
    fn new(client: IpAddr, sender: &str) -> SenderKey {
        let sender = sender.trim();
        if sender.is_empty() || sender == "<>" {
            SenderKey::Null(client_network(client))
        } else {
            SenderKey::Address(sender.to_lowercase())
        }
    }
}

/// Which limit a transaction went over; the refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Client,
    Sender,
}

/// The refusal of a transaction over `limit`.
fn refusal(limit: Limit) -> Reply {
    let whom = match limit {
        Limit::Client => "your address",
        Limit::Sender => "this sender",
    };
    Reply {
        code: 450,
        status: "4.7.1",
        text: format!(
            "Rate limit exceeded: too many messages from {whom}; slow down and try again in a \
             few minutes"
        ),
    }
}

type Keyed<K, C> =
    RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// A limiter with one state per key, empty at first.
fn keyed<K: Clone + Eq + Hash, C: Clock>(quota: Quota, clock: C) -> Keyed<K, C> {
    RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock)
}

/// The per-client and per-sender limiters of one server process, shared by every session.
pub struct RateLimits<C: Clock = DefaultClock> {
    /// `None`: unlimited (disabled, or a limit of 0).
    per_client: Option<Keyed<IpAddr, C>>,
    per_sender: Option<Keyed<SenderKey, C>>,
    checks: AtomicU64,
}

impl<C: Clock> fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits")
            .field("clients", &self.per_client.as_ref().map(|l| l.len()))
            .field("senders", &self.per_sender.as_ref().map(|l| l.len()))
            .finish()
    }
}

impl RateLimits {
    /// The limits of `config`, on the system's monotonic clock.
    pub fn new(config: &RateConfig) -> RateLimits {
        RateLimits::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// The limits of `config`, reading the time from `clock` (a fake one in tests).
    pub fn with_clock(config: &RateConfig, clock: C) -> RateLimits<C> {
        let limit = |limit: u32| NonZeroU32::new(limit).filter(|_| config.enabled);
        RateLimits {
            per_client: limit(config.per_client_per_minute)
                .map(|limit| keyed(Quota::per_minute(limit), clock.clone())),
            per_sender: limit(config.per_sender_per_hour)
                .map(|limit| keyed(Quota::per_hour(limit), clock.clone())),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one transaction (a MAIL FROM) from `client` by `sender` (the envelope sender,
    /// empty or `<>` for the null sender, or the login on submission), or answers the
    /// refusal when it is over a limit.
    ///
    /// The client's limit is asked first; a transaction it refuses is not counted against
    /// the sender. One refused by the sender's limit still counts for the client, so a client
    /// that keeps trying rate-limited senders slows itself down too.
    pub fn check(&self, client: IpAddr, sender: &str) -> Option<Reply> {
        self.clean_up_now_and_then();
        if let Some(limiter) = &self.per_client
            && limiter.check_key(&client_network(client)).is_err()
        {
            return Some(refusal(Limit::Client));
        }
        if let Some(limiter) = &self.per_sender
            && limiter.check_key(&SenderKey::new(client, sender)).is_err()
        {
            return Some(refusal(Limit::Sender));
        }
        None
    }

    /// Drops the states that returned to fresh, once every [`CLEANUP_EVERY`] checks.
    fn clean_up_now_and_then(&self) {
        let count = self.checks.fetch_add(1, Ordering::Relaxed) + 1;
        if count.is_multiple_of(CLEANUP_EVERY) {
            self.clean_up();
        }
    }

    fn clean_up(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_sender {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limits(
        per_client: u32,
        per_sender: u32,
    ) -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let config = RateConfig {
            enabled: true,
            per_client_per_minute: per_client,
            per_sender_per_hour: per_sender,
        };
        (RateLimits::with_clock(&config, clock.clone()), clock)
    }

    /// How many client networks and senders have a state kept.
    fn kept(limits: &RateLimits<FakeRelativeClock>) -> usize {
        limits.per_client.as_ref().map_or(0, |l| l.len())
            + limits.per_sender.as_ref().map_or(0, |l| l.len())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// How many of `n` transactions from `client` by `sender` are accepted.
    fn accepted(
        limits: &RateLimits<FakeRelativeClock>,
        n: usize,
        client: &str,
        sender: &str,
    ) -> usize {
        (0..n)
            .filter(|_| limits.check(ip(client), sender).is_none())
            .count()
    }

    #[test]
    fn defaults_are_60_per_minute_per_client_and_200_per_hour_per_sender() {
        let config = RateConfig::default();
        assert!(config.enabled);
        assert_eq!(config.per_client_per_minute, 60);
        assert_eq!(config.per_sender_per_hour, 200);
    }

    #[test]
    fn a_client_over_its_minute_is_refused_450_4_7_1_naming_its_address() {
        let (limits, clock) = limits(3, 0);
        for n in 0..3 {
            let sender = format!("s{n}@remote.example");
            assert_eq!(
                limits.check(ip("192.0.2.1"), &sender),
                None,
                "transaction {n}"
            );
        }
        let refused = limits.check(ip("192.0.2.1"), "new@remote.example").unwrap();
        assert_eq!((refused.code, refused.status), (450, "4.7.1"));
        assert!(
            refused.text.starts_with("Rate limit exceeded"),
            "{}",
            refused.text
        );
        assert!(refused.text.contains("your address"), "{}", refused.text);
        assert!(
            refused.text.contains("try again in a few minutes"),
            "{}",
            refused.text
        );
        // Another client is not affected.
        assert_eq!(limits.check(ip("192.0.2.2"), "new@remote.example"), None);
        // 3 per minute: one more every 20 seconds.
        clock.advance(Duration::from_secs(20));
        assert_eq!(limits.check(ip("192.0.2.1"), "new@remote.example"), None);
        assert!(
            limits
                .check(ip("192.0.2.1"), "new@remote.example")
                .is_some()
        );
    }

    #[test]
    fn a_sender_over_its_hour_is_refused_from_any_client_and_case() {
        let (limits, clock) = limits(0, 2);
        assert_eq!(limits.check(ip("192.0.2.1"), "Bulk@Remote.Example"), None);
        assert_eq!(
            limits.check(ip("198.51.100.7"), "bulk@remote.example"),
            None
        );
        let refused = limits
            .check(ip("203.0.113.9"), "BULK@remote.example")
            .unwrap();
        assert_eq!((refused.code, refused.status), (450, "4.7.1"));
        assert!(refused.text.contains("this sender"), "{}", refused.text);
        assert_eq!(
            limits.check(ip("203.0.113.9"), "other@remote.example"),
            None
        );
        // 2 per hour: one more every 30 minutes.
        clock.advance(Duration::from_secs(29 * 60));
        assert!(
            limits
                .check(ip("192.0.2.1"), "bulk@remote.example")
                .is_some()
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(limits.check(ip("192.0.2.1"), "bulk@remote.example"), None);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let (limits, _clock) = limits(2, 0);
        assert_eq!(limits.check(ip("2001:db8:1:2::1"), "a@x.example"), None);
        assert_eq!(
            limits.check(ip("2001:db8:1:2:ffff::9"), "b@x.example"),
            None
        );
        assert!(
            limits
                .check(ip("2001:db8:1:2:abcd::42"), "c@x.example")
                .is_some(),
            "rotating addresses inside the /64 does not escape the limit"
        );
        assert_eq!(
            limits.check(ip("2001:db8:1:3::1"), "c@x.example"),
            None,
            "the next /64 is another client"
        );
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_client() {
        let (limits, _clock) = limits(1, 0);
        assert_eq!(limits.check(ip("192.0.2.1"), "a@x.example"), None);
        assert!(
            limits
                .check(ip("::ffff:192.0.2.1"), "a@x.example")
                .is_some()
        );
        assert_eq!(
            limits.check(ip("192.0.2.2"), "a@x.example"),
            None,
            "IPv4 is per address"
        );
    }

    #[test]
    fn the_null_sender_is_counted_per_client_network() {
        let (limits, _clock) = limits(0, 2);
        assert_eq!(accepted(&limits, 5, "192.0.2.1", ""), 2);
        assert!(
            limits.check(ip("192.0.2.1"), "<>").is_some(),
            "<> is the null sender too"
        );
        // Bounces from another client are not held back by the first one's.
        assert_eq!(accepted(&limits, 5, "198.51.100.7", "<>"), 2);
        assert_eq!(accepted(&limits, 5, "2001:db8::1", ""), 2);
        assert_eq!(accepted(&limits, 5, "2001:db8::2", ""), 0, "same /64");
    }

    #[test]
    fn a_disabled_config_refuses_nothing() {
        let config = RateConfig {
            enabled: false,
            per_client_per_minute: 1,
            per_sender_per_hour: 1,
        };
        let limits = RateLimits::with_clock(&config, FakeRelativeClock::default());
        for _ in 0..100 {
            assert_eq!(limits.check(ip("192.0.2.1"), "a@x.example"), None);
        }
    }

    #[test]
    fn zero_means_unlimited_for_that_limit_only() {
        let (no_client_limit, _clock) = limits(0, 3);
        let senders = (0..500)
            .filter(|n| {
                let sender = format!("s{n}@x.example");
                no_client_limit.check(ip("192.0.2.1"), &sender).is_none()
            })
            .count();
        assert_eq!(senders, 500, "one client, any number of transactions");
        assert_eq!(
            accepted(&no_client_limit, 10, "192.0.2.1", "same@x.example"),
            3,
            "the sender's limit still applies"
        );
        let (no_sender_limit, _clock) = limits(3, 0);
        let clients = (0..500u32)
            .filter(|n| {
                let client = IpAddr::V4((0xc000_0200 + n).into());
                no_sender_limit.check(client, "same@x.example").is_none()
            })
            .count();
        assert_eq!(clients, 500, "one sender, any number of transactions");
        assert_eq!(
            accepted(&no_sender_limit, 10, "198.51.100.1", "same@x.example"),
            3,
            "the client's limit still applies"
        );
    }

    #[test]
    fn a_client_refusal_does_not_count_against_the_sender() {
        let (limits, _clock) = limits(1, 2);
        assert_eq!(limits.check(ip("192.0.2.1"), "a@x.example"), None);
        assert!(limits.check(ip("192.0.2.1"), "a@x.example").is_some());
        assert!(limits.check(ip("192.0.2.1"), "a@x.example").is_some());
        assert_eq!(
            limits.check(ip("192.0.2.2"), "a@x.example"),
            None,
            "the sender's second transaction, from another client"
        );
    }

    #[test]
    fn states_back_to_fresh_are_dropped_every_cleanup_period() {
        let (limits, clock) = limits(60, 200);
        // More distinct keys than a cleanup period, all used once.
        let keys = (CLEANUP_EVERY - 1) as usize;
        for n in 0..keys {
            let client = IpAddr::V4((0x0a00_0000 + n as u32).into());
            assert_eq!(limits.check(client, &format!("s{n}@x.example")), None);
        }
        assert_eq!(kept(&limits), 2 * keys);
        // An hour later every state is fresh again; the next check is the cleanup's turn.
        clock.advance(Duration::from_secs(3600));
        assert_eq!(limits.check(ip("192.0.2.1"), "last@x.example"), None);
        assert!(kept(&limits) <= 2, "kept {} states", kept(&limits));
    }
}
