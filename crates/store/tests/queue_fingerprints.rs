//! Issue 10: the outbound queue recognises a client's retry of a message it already queued
//! (`QueueStore::enqueue_once`), so remote recipients receive it once.

use std::path::Path;
use std::sync::Arc;

use postwerk_model::Address;
use postwerk_store::{Fingerprint, NewQueued, QueueId, QueueStore, QueuedRecipient, Stores};
use tempfile::TempDir;

/// When the first copy was accepted (Unix seconds).
const ACCEPTED: i64 = 1_800_000_000;
/// The window the tests use: two days, as core's `DUPLICATE_WINDOW_SECS`.
const WINDOW: i64 = 2 * 86_400;

async fn open(dir: &Path) -> Stores {
    postwerk_store::open_sqlite(dir)
        .await
        .expect("open the SQLite store")
}

fn message(recipients: &[&str], received_at: i64) -> NewQueued {
    NewQueued {
        return_path: "sender@test.example".into(),
        recipients: recipients
            .iter()
            .map(|to| QueuedRecipient {
                address: Address::parse(to).expect("a valid address").into(),
                notify: None,
                orcpt: None,
                forwarded_by: None,
            })
            .collect(),
        envid: None,
        ret: None,
        received_at,
        submitted_by: None,
        held: None,
    }
}

/// The fingerprint core gives for one message (any 32 octets identify it here).
fn once(digest: u8, received_at: i64) -> Fingerprint {
    Fingerprint {
        digest: [digest; 32],
        since: received_at - WINDOW,
    }
}

/// Queues `raw` for `recipients` once per fingerprint `digest`, as core does for a message
/// accepted at `at`; the id of the entry that holds it.
async fn queue_once(
    queue: &Arc<dyn QueueStore>,
    raw: &[u8],
    recipients: &[&str],
    digest: u8,
    at: i64,
) -> QueueId {
    queue
        .enqueue_once(raw, message(recipients, at), once(digest, at))
        .await
        .expect("queue")
}

/// How many content files the queue's blob folder holds.
fn queue_files(dir: &Path) -> usize {
    let root = dir.join(postwerk_store::QUEUE_FOLDER);
    let Ok(entries) = std::fs::read_dir(&root) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name() != "tmp" && e.path().is_dir())
        .map(|e| std::fs::read_dir(e.path()).map_or(0, |files| files.count()))
        .sum()
}

async fn queued_ids(stores: &Stores) -> Vec<QueueId> {
    let queued = stores.queue.queued().await.expect("list the queue");
    queued.iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn a_retried_message_is_queued_once_and_answers_the_first_entry() {
    let dir = TempDir::new().expect("a temporary folder");
    let stores = open(dir.path()).await;
    let queue = &stores.queue;
    let first = queue_once(
        queue,
        b"Received: first attempt\r\n\r\nbody",
        &["a@remote.example", "b@remote.example"],
        1,
        ACCEPTED,
    )
    .await;
    // The retry comes with other trace lines and its recipients in another order.
    let retry_at = ACCEPTED + 600;
    let retry = queue_once(
        queue,
        b"Received: second attempt\r\n\r\nbody",
        &["b@remote.example", "a@remote.example"],
        1,
        retry_at,
    )
    .await;
    assert_eq!(
        retry, first,
        "the retry answers the entry that has the message"
    );
    assert_eq!(queued_ids(&stores).await, vec![first], "one entry");
    assert_eq!(
        queue.read_queued(first).await.expect("read the entry"),
        b"Received: first attempt\r\n\r\nbody",
        "the first copy is kept"
    );
    assert_eq!(
        queue_files(dir.path()),
        1,
        "the retry's content file is not left behind"
    );

    // Still recognised after the first copy was delivered and dequeued.
    queue.dequeue(first).await.expect("dequeue");
    let later = queue_once(
        queue,
        b"Received: third attempt\r\n\r\nbody",
        &["a@remote.example", "b@remote.example"],
        1,
        retry_at,
    )
    .await;
    assert_eq!(later, first);
    assert!(queued_ids(&stores).await.is_empty(), "nothing queued again");
    assert_eq!(queue_files(dir.path()), 0);
    stores.close().await;
}

#[tokio::test]
async fn other_messages_other_recipients_and_plain_enqueues_are_all_queued() {
    let dir = TempDir::new().expect("a temporary folder");
    let stores = open(dir.path()).await;
    let queue = &stores.queue;
    let first = queue_once(queue, b"one", &["a@remote.example"], 1, ACCEPTED).await;
    // The same bytes for another recipient list is another message for the queue.
    let other_recipients = queue_once(
        queue,
        b"one",
        &["a@remote.example", "c@remote.example"],
        1,
        ACCEPTED,
    )
    .await;
    let other_message = queue_once(queue, b"two", &["a@remote.example"], 2, ACCEPTED).await;
    // Plain enqueues (reports the queue makes itself) are never deduplicated.
    let plain = queue
        .enqueue(b"one", message(&["a@remote.example"], ACCEPTED))
        .await
        .expect("queue");
    let ids = queued_ids(&stores).await;
    assert_eq!(ids, vec![first, other_recipients, other_message, plain]);
    stores.close().await;
}

#[tokio::test]
async fn after_the_window_the_same_message_is_queued_again() {
    let dir = TempDir::new().expect("a temporary folder");
    let stores = open(dir.path()).await;
    let queue = &stores.queue;
    let first = queue_once(queue, b"body", &["a@remote.example"], 1, ACCEPTED).await;
    let late = ACCEPTED + WINDOW + 1;
    let second = queue_once(queue, b"body", &["a@remote.example"], 1, late).await;
    assert_ne!(second, first);
    assert_eq!(
        queued_ids(&stores).await,
        vec![first, second],
        "two entries"
    );
    // The second copy's fingerprint is the one remembered now.
    let again = queue_once(queue, b"body", &["a@remote.example"], 1, late).await;
    assert_eq!(again, second);
    stores.close().await;
}

#[tokio::test]
async fn the_fingerprint_survives_a_restart() {
    let dir = TempDir::new().expect("a temporary folder");
    let stores = open(dir.path()).await;
    let first = queue_once(&stores.queue, b"body", &["a@remote.example"], 1, ACCEPTED).await;
    stores.close().await;
    let stores = open(dir.path()).await;
    let retry = queue_once(
        &stores.queue,
        b"body",
        &["a@remote.example"],
        1,
        ACCEPTED + 5,
    )
    .await;
    assert_eq!(retry, first);
    assert_eq!(queued_ids(&stores).await, vec![first]);
    stores.close().await;
}
