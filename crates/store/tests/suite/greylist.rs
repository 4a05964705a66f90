//! Greylisting's memory (RCV-3): sightings, passes, expiry.

use postwerk_store::GreylistEntry;

use super::*;

/// A day in seconds: the store refreshes `last_seen` at most this often.
const DAY: i64 = 86_400;

/// Reads the entry without changing it: a sighting within a day of the last one writes nothing.
async fn peek(stores: &Stores, key: &str, now: i64) -> GreylistEntry {
    stores
        .greylist
        .greylist_sighting(key, now)
        .await
        .expect("sighting")
}

/// A new key is created at its first sighting; later sightings find it unchanged until a day
/// has passed, then refresh `last_seen` only.
pub async fn rcv_3_sighting_creates_then_reads_and_refreshes_daily<B: Backend>(backend: &B) {
    let mut harness = Harness::new(backend).await;
    let first = peek(harness.stores(), "k1", DATE).await;
    assert_eq!(
        first,
        GreylistEntry {
            first_seen: DATE,
            passed_at: None,
            last_seen: DATE,
        }
    );
    // Within a day: the stored entry, not rewritten.
    assert_eq!(peek(harness.stores(), "k1", DATE + 600).await, first);
    // Durable: the entry survives a reopen.
    harness.reopen().await;
    assert_eq!(peek(harness.stores(), "k1", DATE + DAY).await, first);
    // More than a day later: `last_seen` moves, `first_seen` never does.
    let later = peek(harness.stores(), "k1", DATE + DAY + 1).await;
    assert_eq!(
        later,
        GreylistEntry {
            first_seen: DATE,
            passed_at: None,
            last_seen: DATE + DAY + 1,
        }
    );
    // Keys are independent.
    assert_eq!(
        peek(harness.stores(), "k2", DATE + 5).await.first_seen,
        DATE + 5
    );
}

/// A pass is remembered with its time and refreshes `last_seen`; it is kept across sightings.
pub async fn rcv_3_passed_is_remembered<B: Backend>(backend: &B) {
    let mut harness = Harness::new(backend).await;
    let greylist = harness.stores().greylist.clone();
    peek(harness.stores(), "k", DATE).await;
    greylist
        .greylist_passed("k", DATE + 300)
        .await
        .expect("passed");
    harness.reopen().await;
    let entry = peek(harness.stores(), "k", DATE + 400).await;
    assert_eq!(
        entry,
        GreylistEntry {
            first_seen: DATE,
            passed_at: Some(DATE + 300),
            last_seen: DATE + 300,
        }
    );
}

/// Expiry removes the entries last seen before the cutoff, and only those.
pub async fn rcv_3_expire_removes_entries_last_seen_before_the_cutoff<B: Backend>(backend: &B) {
    let harness = Harness::new(backend).await;
    let greylist = &harness.stores().greylist;
    peek(harness.stores(), "old", DATE).await;
    peek(harness.stores(), "old-passed", DATE).await;
    greylist
        .greylist_passed("old-passed", DATE + 10)
        .await
        .expect("passed");
    peek(harness.stores(), "recent", DATE + 100).await;
    let removed = greylist
        .greylist_expire(DATE + 50, DATE + 50)
        .await
        .expect("expire");
    assert_eq!(removed, 2);
    assert_eq!(
        greylist
            .greylist_expire(DATE + 50, DATE + 50)
            .await
            .expect("expire"),
        0
    );
    // The expired keys are new again; the recent one is still there.
    assert_eq!(
        peek(harness.stores(), "old", DATE + 200).await.first_seen,
        DATE + 200
    );
    let passed = peek(harness.stores(), "old-passed", DATE + 200).await;
    assert_eq!((passed.first_seen, passed.passed_at), (DATE + 200, None));
    assert_eq!(
        peek(harness.stores(), "recent", DATE + 200)
            .await
            .first_seen,
        DATE + 100
    );
}

/// Triplets that never passed have their own, shorter cutoff: a day without a retry is spam
/// that fired once, while a passed triplet is a known sender kept for weeks.
pub async fn rcv_3_unretried_triplets_expire_sooner_than_passed_ones<B: Backend>(backend: &B) {
    let harness = Harness::new(backend).await;
    let greylist = &harness.stores().greylist;
    peek(harness.stores(), "unretried", DATE).await;
    peek(harness.stores(), "passed", DATE).await;
    greylist
        .greylist_passed("passed", DATE)
        .await
        .expect("passed");
    // The passed cutoff is long ago, the pending one after both were last seen.
    let removed = greylist
        .greylist_expire(DATE - 1_000, DATE + 50)
        .await
        .expect("expire");
    assert_eq!(removed, 1, "only the unretried triplet goes");
    assert_eq!(
        peek(harness.stores(), "unretried", DATE + 60)
            .await
            .first_seen,
        DATE + 60,
        "forgotten: it starts over"
    );
    let passed = peek(harness.stores(), "passed", DATE + 60).await;
    assert_eq!(passed.passed_at, Some(DATE), "the passed triplet stays");
}
