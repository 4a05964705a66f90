//! How often something may be sent for one key (an account, a client address) in a sliding
//! window, so the recovery pages cannot be used to flood a phone or an administrator's queue.
//!
//! Kept in memory: a restart forgets the counts, which at worst allows one more window's worth.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys remembered before the ones with nothing in the window are forgotten.
const TRACKED_KEYS: usize = 10_000;

/// At most `max` sends per key within `window`.
#[derive(Debug)]
pub(super) struct SendCap {
    max: usize,
    window: Duration,
    sent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SendCap {
    pub(super) fn new(max: usize, window: Duration) -> SendCap {
        SendCap {
            max,
            window,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// True, and counted, when `key` has had fewer than `max` sends in the window before `now`.
    pub(super) fn allow(&self, key: &str, now: Instant) -> bool {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if sent.len() >= TRACKED_KEYS {
            sent.retain(|_, times| times.back().is_some_and(|t| now - *t < self.window));
        }
        let times = sent.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|t| now - *t >= self.window) {
            times.pop_front();
        }
        if times.len() >= self.max {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_max_sends_per_window_and_others_are_independent() {
        let cap = SendCap::new(2, Duration::from_secs(3600));
        let start = Instant::now();
        assert!(cap.allow("a", start));
        assert!(cap.allow("a", start + Duration::from_secs(1)));
        assert!(!cap.allow("a", start + Duration::from_secs(2)));
        assert!(cap.allow("b", start + Duration::from_secs(2)));
        // The first send leaves the window: one more is allowed, then the cap holds again
        // until the second one leaves it too.
        assert!(cap.allow("a", start + Duration::from_secs(3600)));
        assert!(!cap.allow("a", start + Duration::from_secs(3600)));
        assert!(cap.allow("a", start + Duration::from_secs(3601)));
    }
}
