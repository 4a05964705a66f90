//! Greylisting's memory (RCV-3): one entry per (client network, sender, recipient) triplet,
//! keyed by a digest the filter computes.

use async_trait::async_trait;

use crate::StoreError;

/// What is known of a triplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreylistEntry {
    /// When it was first seen (Unix seconds).
    pub first_seen: i64,
    /// When a retry was accepted, after which it passes at once (auto-whitelist).
    pub passed_at: Option<i64>,
    /// When it was last seen.
    pub last_seen: i64,
}

/// Where greylisting remembers triplets.
#[async_trait]
pub trait GreylistStore: Send + Sync {
    /// The entry for `key` after recording a sighting at `now` (created when new). A known
    /// entry is only written when something changes, so passing mail costs a read.
    async fn greylist_sighting(&self, key: &str, now: i64) -> Result<GreylistEntry, StoreError>;

    /// Records that `key` passed at `now`.
    async fn greylist_passed(&self, key: &str, now: i64) -> Result<(), StoreError>;

    /// Forgets the entries that passed and were last seen before `passed_before`, and those
    /// that never passed (never retried after the delay) last seen before `pending_before`;
    /// answers how many.
    async fn greylist_expire(
        &self,
        passed_before: i64,
        pending_before: i64,
    ) -> Result<u64, StoreError>;
}
