//! RCV-3 greylisting, at RCPT: a (client network, sender, recipient) triplet never seen before
//! is refused `451 4.7.1`; a retry after the configured delay is accepted, and from then on the
//! triplet passes at once (auto-whitelist) until it has been idle for `greylist_expiry`.
//!
//! Why it works: real mail servers queue and retry a temporary failure, most spam engines fire
//! once and move on. Why networks rather than addresses: large senders retry from another
//! address of the same pool, which would otherwise start the wait again at every retry.
//!
//! The caller skips this check for authenticated submission (and, later, whitelisted senders).
//! Loopback and private addresses are not exempt: a provider behind a relay or a test harness
//! on 127.0.0.1 is greylisted like anybody else unless configured otherwise.
//!
//! Greylisting must never lose mail or block it because of our own fault: when the store fails,
//! the recipient is accepted and the failure logged.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicI64, Ordering};

use postwerk_model::Address;
use postwerk_store::GreylistStore;
use sha2::{Digest, Sha256};

use crate::{FilterConfig, Reply};

/// The sentence of the refusal (RCV-3, issue 7 item 2): it tells the sender what to do.
pub const GREYLISTED: &str =
    "Greylisted: this server does not know you yet; please retry in a few minutes";

/// How often one process sweeps old entries: a sweep deletes rows through the writer, which
/// costs a commit, so it must not ride on every RCPT; an hour late changes nothing for entries
/// that live weeks.
const EXPIRY_INTERVAL: i64 = 3600;

/// When this process last swept (Unix seconds), `i64::MIN` before the first sweep.
static LAST_EXPIRY: AtomicI64 = AtomicI64::new(i64::MIN);

/// The temporary refusal for an unknown triplet (or one retrying too early), `None` to accept.
///
/// `sender` is the reverse-path without angle brackets, empty for the null sender; `now` is in
/// Unix seconds.
pub async fn check(
    store: &dyn GreylistStore,
    config: &FilterConfig,
    ip: IpAddr,
    sender: &str,
    recipient: &Address,
    now: i64,
) -> Option<Reply> {
    expire_if_due(store, config, now).await;
    let key = triplet_key(ip, sender, recipient);
    let entry = match store.greylist_sighting(&key, now).await {
        Ok(entry) => entry,
        Err(error) => {
            // Fail open: our storage problem must not cost the sender its mail.
            tracing::error!(%error, %ip, "greylisting: reading the triplet failed; accepting");
            return None;
        }
    };
    if entry.passed_at.is_some() {
        return None;
    }
    let delay = i64::try_from(config.greylist_delay.as_secs()).unwrap_or(i64::MAX);
    if now.saturating_sub(entry.first_seen) < delay {
        tracing::debug!(%ip, sender, %recipient, "greylisted");
        return Some(Reply {
            code: 451,
            status: "4.7.1",
            text: GREYLISTED.to_owned(),
        });
    }
    // A retry after the delay: remember the pass, so the triplet skips the wait from now on.
    if let Err(error) = store.greylist_passed(&key, now).await {
        tracing::error!(%error, %ip, "greylisting: recording a pass failed; accepting");
    }
    None
}

/// Forgets triplets that passed and were idle for longer than `greylist_expiry`, and those
/// never retried after the delay within `greylist_pending_expiry` (a day: a real queue retries
/// within hours, and spam engines that fired once fill the table otherwise), at most once an
/// hour per process.
async fn expire_if_due(store: &dyn GreylistStore, config: &FilterConfig, now: i64) {
    let mut last = LAST_EXPIRY.load(Ordering::Relaxed);
    loop {
        // `now < last`: the clock went back (or tests run at other times): sweep rather than
        // wait for a time that may be far off.
        let due = now < last || now.saturating_sub(last) >= EXPIRY_INTERVAL;
        if !due {
            return;
        }
        // Whoever wins the exchange sweeps, so concurrent RCPTs do not all sweep at once; a
        // loser looks again at what the winner wrote.
        match LAST_EXPIRY.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break,
            Err(current) => last = current,
        }
    }
    let cutoff = |age: std::time::Duration| {
        now.saturating_sub(i64::try_from(age.as_secs()).unwrap_or(i64::MAX))
    };
    let expired = store
        .greylist_expire(
            cutoff(config.greylist_expiry),
            cutoff(config.greylist_pending_expiry),
        )
        .await;
    match expired {
        Ok(removed) => tracing::debug!(removed, "greylisting: expired idle triplets"),
        Err(error) => tracing::error!(%error, "greylisting: expiring idle triplets failed"),
    }
}

/// The store key of a triplet: the SHA-256 hex digest of the client network, the sender and the
/// recipient. Hashed so the key has a fixed size and the table holds no addresses in clear.
fn triplet_key(ip: IpAddr, sender: &str, recipient: &Address) -> String {
    let sender = sender.trim();
    let sender = if sender.is_empty() || sender == "<>" {
        "<>".to_owned()
    } else {
        sender.to_lowercase()
    };
    // NUL cannot occur in any part, so the concatenation is unambiguous.
    let material = format!("{}\0{sender}\0{recipient}", network(ip));
    format!("{:x}", Sha256::digest(material.as_bytes()))
}

/// The client's network: the /24 of an IPv4 address, the /64 of an IPv6 one (a site's usual
/// allocation). An IPv4-mapped IPv6 address counts as the IPv4 address it carries.
fn network(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{}/24", Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use postwerk_store::{GreylistEntry, StoreError, Stores};

    use super::*;

    /// A base time of its own for each test, far from the others': the sweep throttle is one
    /// per process, and tests run in parallel.
    const T0: i64 = 1_700_000_000;

    struct Fixture {
        stores: Stores,
        config: FilterConfig,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = postwerk_store::open_sqlite(dir.path())
            .await
            .expect("open store");
        Fixture {
            stores,
            config: FilterConfig::default(),
            _dir: dir,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn to() -> Address {
        Address::parse("toto@abc.xyz").expect("address")
    }

    impl Fixture {
        async fn check(&self, client: &str, sender: &str, now: i64) -> Option<Reply> {
            check(
                self.stores.greylist.as_ref(),
                &self.config,
                ip(client),
                sender,
                &to(),
                now,
            )
            .await
        }
    }

    fn delay(f: &Fixture) -> i64 {
        i64::try_from(f.config.greylist_delay.as_secs()).expect("delay")
    }

    #[tokio::test]
    async fn rcv_3_unknown_refused_early_retry_refused_late_retry_accepted_then_at_once() {
        let f = fixture().await;
        let t = T0;
        let refused = f.check("127.0.0.1", "a@b.example", t).await;
        assert_eq!(
            refused,
            Some(Reply {
                code: 451,
                status: "4.7.1",
                text: GREYLISTED.to_owned(),
            }),
            "loopback is greylisted too"
        );
        assert!(
            f.check("127.0.0.1", "a@b.example", t + delay(&f) - 1)
                .await
                .is_some(),
            "still too early"
        );
        assert_eq!(
            f.check("127.0.0.1", "a@b.example", t + delay(&f)).await,
            None
        );
        // Passed: accepted at once from then on, and the pass is stored.
        assert_eq!(
            f.check("127.0.0.1", "a@b.example", t + delay(&f) + 1).await,
            None
        );
        let key = triplet_key(ip("127.0.0.1"), "a@b.example", &to());
        let entry = f
            .stores
            .greylist
            .greylist_sighting(&key, t + delay(&f) + 2)
            .await
            .expect("entry");
        assert_eq!(entry.passed_at, Some(t + delay(&f)));
        // Another sender through the same network is a new triplet.
        assert!(
            f.check("127.0.0.1", "c@d.example", t + 1000)
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn rcv_3_triplet_is_per_network_and_sender_case_insensitive() {
        let f = fixture().await;
        let t = T0 + 10 * 86_400;
        assert!(f.check("192.0.2.10", "A@B.example", t).await.is_some());
        // Another address of the same /24 (and the sender in other case): the same triplet.
        assert_eq!(
            f.check("192.0.2.77", "a@b.example", t + delay(&f)).await,
            None
        );
        // IPv4-mapped IPv6 is the IPv4 network.
        assert_eq!(
            f.check("::ffff:192.0.2.1", "a@b.example", t + delay(&f) + 1)
                .await,
            None
        );
        // A different /24: a new triplet.
        assert!(
            f.check("192.0.3.10", "a@b.example", t + delay(&f) + 2)
                .await
                .is_some()
        );
        // The null sender, however written, is one sender.
        assert!(f.check("192.0.2.10", "", t).await.is_some());
        assert_eq!(f.check("192.0.2.10", "<>", t + delay(&f)).await, None);
    }

    #[tokio::test]
    async fn rcv_3_ipv6_shares_the_slash_64() {
        let f = fixture().await;
        let t = T0 + 20 * 86_400;
        assert!(f.check("2001:db8:1:2::1", "a@b.example", t).await.is_some());
        assert_eq!(
            f.check("2001:db8:1:2:ffff::9", "a@b.example", t + delay(&f))
                .await,
            None
        );
        assert!(
            f.check("2001:db8:1:3::1", "a@b.example", t + delay(&f))
                .await
                .is_some(),
            "another /64"
        );
    }

    #[tokio::test]
    async fn rcv_3_idle_triplets_expire_and_are_greylisted_again() {
        let mut f = fixture().await;
        f.config.greylist_expiry = Duration::from_secs(7 * 86_400);
        // Far from the other tests' times, so this test's sweeps are due when it needs them.
        let t = T0 + 1000 * 86_400;
        assert!(f.check("198.51.100.1", "a@b.example", t).await.is_some());
        assert_eq!(
            f.check("198.51.100.1", "a@b.example", t + delay(&f)).await,
            None
        );
        // Within the expiry: still whitelisted, even though a sweep ran meanwhile.
        let within = t + 6 * 86_400;
        assert_eq!(f.check("198.51.100.1", "a@b.example", within).await, None);
        // Idle past the expiry (counted from the last sighting): forgotten, greylisted anew.
        let after = within + 7 * 86_400 + 1;
        assert!(
            f.check("198.51.100.1", "a@b.example", after)
                .await
                .is_some()
        );
    }

    /// A store that always fails.
    struct Broken;

    fn broken() -> StoreError {
        StoreError::Io {
            path: "greylist".into(),
            source: std::io::Error::other("disk on fire"),
        }
    }

    #[async_trait]
    impl GreylistStore for Broken {
        async fn greylist_sighting(&self, _: &str, _: i64) -> Result<GreylistEntry, StoreError> {
            Err(broken())
        }
        async fn greylist_passed(&self, _: &str, _: i64) -> Result<(), StoreError> {
            Err(broken())
        }
        async fn greylist_expire(&self, _: i64, _: i64) -> Result<u64, StoreError> {
            Err(broken())
        }
    }

    #[tokio::test]
    async fn rcv_3_store_failure_fails_open() {
        let reply = check(
            &Broken,
            &FilterConfig::default(),
            ip("203.0.113.1"),
            "a@b.example",
            &to(),
            T0,
        )
        .await;
        assert_eq!(reply, None);
    }
}
