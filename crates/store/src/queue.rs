//! The durable outbound queue: messages accepted for recipients elsewhere — redirections of
//! hosted addresses (RCV-13) and remote recipients of submitted mail (SND-2) — waiting for the
//! outbound delivery (issue 6) to drain them.
//!
//! An entry holds the message content (a blob written and fsynced before the entry's commit,
//! RCV-12), the envelope, and the RFC 3461 DSN parameters the client gave, so that delivery
//! status notifications can honour them later (SND-5).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use postwerk_model::{Address, AddressId, EnvelopeAddress};

use crate::{BlobId, Fingerprint, StoreError};

/// The id of a queued message. Never reused by a store.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub i64);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// RFC 3461 §4.1 NOTIFY: when the sender wants a DSN. NOTIFY=NEVER is all three false.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Notify {
    /// A DSN on successful delivery.
    pub success: bool,
    /// A DSN on failure.
    pub failure: bool,
    /// A DSN when delivery is delayed.
    pub delay: bool,
}

/// RFC 3461 §4.3 RET: how much of the message a failure DSN returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DsnRet {
    /// The whole message.
    Full,
    /// The header only.
    Headers,
}

/// One recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedRecipient {
    /// Where to deliver: as the envelope carries it, so a remote mailbox with a non-ASCII or
    /// quoted local part (RFC 6531) is kept exactly; stored as its wire form.
    pub address: EnvelopeAddress,
    /// RFC 3461 NOTIFY as given with RCPT; `None` when absent (the default applies).
    pub notify: Option<Notify>,
    /// RFC 3461 §4.2 ORCPT as `addr-type;address`, the xtext decoded (`rfc822;a@b.example`).
    pub orcpt: Option<String>,
    /// For a redirection (RCV-13): the hosted address that forwards here. The delivery applies
    /// SRS for it so that SPF survives the forward.
    pub forwarded_by: Option<Address>,
}

/// What is queued with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewQueued {
    /// The reverse-path of MAIL FROM, without brackets; empty for the null sender (which never
    /// gets a DSN).
    pub return_path: String,
    /// The recipients, at least one.
    pub recipients: Vec<QueuedRecipient>,
    /// RFC 3461 §4.4 ENVID as given.
    pub envid: Option<String>,
    /// RFC 3461 §4.3 RET as given.
    pub ret: Option<DsnRet>,
    /// When the message was accepted (Unix seconds): the start of the retry schedule and of
    /// the 4 h / 3 d limits (SND-4).
    pub received_at: i64,
    /// The mailbox that submitted it, for submitted mail (rate limits, DKIM key choice).
    pub submitted_by: Option<AddressId>,
    /// SND-6: why it is held for an administrator (the spam score of a submission); the
    /// workers never attempt a held message. `None` for every message to deliver.
    pub held: Option<String>,
}

/// Where one recipient of a queued message stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecipientStatus {
    /// Still to be delivered (waiting for its next attempt, or being attempted).
    Pending,
    /// A remote server (or the local store) accepted it.
    Delivered,
    /// Given up on: a permanent refusal, or too old (SND-4).
    Failed,
}

/// The delivery state of one recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientState {
    /// Where it stands.
    pub status: RecipientStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix seconds); 0 at first: due at once.
    pub next_attempt_at: i64,
    /// When the last attempt was made.
    pub last_attempt_at: Option<i64>,
    /// RFC 3463 status of the last attempt, e.g. `4.4.1`.
    pub last_status: Option<String>,
    /// The last attempt's answer: the remote server's reply, or what went wrong before one
    /// answered (for the DSN's `Diagnostic-Code` and the administrator).
    pub diagnostic: Option<String>,
    /// The host that gave the last answer, when one did (the DSN's `Remote-MTA`).
    pub remote_mta: Option<String>,
    /// Whether the sender was told of the delay (SND-4: once, after 4 hours).
    pub delay_notified: bool,
}

impl RecipientState {
    /// The state of a recipient just queued.
    pub fn new() -> RecipientState {
        RecipientState {
            status: RecipientStatus::Pending,
            attempts: 0,
            next_attempt_at: 0,
            last_attempt_at: None,
            last_status: None,
            diagnostic: None,
            remote_mta: None,
            delay_notified: false,
        }
    }
}

impl Default for RecipientState {
    fn default() -> RecipientState {
        RecipientState::new()
    }
}

/// A queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Its id.
    pub id: QueueId,
    /// Where its content lives.
    pub blob: BlobId,
    /// Its size in octets.
    pub size: u64,
    /// The envelope and DSN parameters.
    pub message: NewQueued,
    /// The state of each recipient, in the order of `message.recipients`.
    pub states: Vec<RecipientState>,
    /// Until when a delivery worker holds it (Unix seconds); in the past when none does.
    pub leased_until: i64,
}

/// What [`QueueStore::enqueue_once`] keys a queued message by: SHA-256 of the message's
/// `digest` and of the recipients' addresses as queued, sorted (the order of RCPT commands is
/// the client's choice and does not make another message). Each address is followed by a
/// NUL, which no address contains, so that two lists cannot run together into one.
pub(crate) fn queue_fingerprint(digest: &[u8; 32], recipients: &[QueuedRecipient]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut addresses: Vec<String> = recipients.iter().map(|r| r.address.to_string()).collect();
    addresses.sort_unstable();
    let mut hash = Sha256::new();
    hash.update(digest);
    for address in &addresses {
        hash.update(address.as_bytes());
        hash.update([0]);
    }
    hash.finalize().into()
}

/// The outbound queue. `enqueue` answers once content and entry are on stable storage.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Queue `raw` for `message.recipients`: the content is written and fsynced first, then the
    /// entry is committed (with the store's group commit). `Refused` without recipients.
    async fn enqueue(&self, raw: &[u8], message: NewQueued) -> Result<QueueId, StoreError>;

    /// [`QueueStore::enqueue`] without duplicates (issue 10, RCV-12). `fingerprint.digest`
    /// identifies the message as the client sent it (core: the envelope sender and the bytes);
    /// the store combines it with the sorted addresses of `message.recipients` (the order of
    /// RCPT commands does not make another message). When a message of the same combined fingerprint was queued
    /// since `fingerprint.since`, nothing is queued and the id of that first entry is
    /// answered (it may have been delivered and dequeued meanwhile). Otherwise the message is
    /// queued as by `enqueue`, and its fingerprint recorded in the entry's own transaction,
    /// so a client that lost the `250` in a crash and sends the same message again has it
    /// sent to the remote recipients once. Fingerprints older than `since` are forgotten.
    async fn enqueue_once(
        &self,
        raw: &[u8],
        message: NewQueued,
        fingerprint: Fingerprint,
    ) -> Result<QueueId, StoreError>;

    /// Every queued message, oldest first.
    async fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError>;

    /// One queued message; `NotFound` if there is no such entry.
    async fn queued_message(&self, id: QueueId) -> Result<QueuedMessage, StoreError>;

    /// Leases up to `limit` messages that have a pending recipient due at `now` and that no
    /// worker holds: each is held until `now + lease_secs`, oldest due first. A worker that
    /// dies leaves its lease to expire, and the message is attempted again (issue 6: never
    /// forgotten).
    async fn lease_due(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>, StoreError>;

    /// Records the outcome of an attempt: the new state of the recipients at the given
    /// positions (indexes into `message.recipients`), and releases the lease. `NotFound` if
    /// the entry is gone (deleted by an administrator meanwhile).
    async fn record_attempt(
        &self,
        id: QueueId,
        states: Vec<(usize, RecipientState)>,
    ) -> Result<(), StoreError>;

    /// Releases every lease; answers how many were held. For a store that one process
    /// delivers from (the embedded SQLite store): at start, every lease found was left by a
    /// previous run that died mid-attempt, and waiting for it to expire would only delay
    /// mail. Stores shared by several nodes need leases that name their holder instead.
    async fn release_leases(&self) -> Result<u64, StoreError>;

    /// The earliest `next_attempt_at` of a pending recipient, or `None` when nothing is
    /// pending: how long the workers may sleep.
    async fn next_due(&self) -> Result<Option<i64>, StoreError>;

    /// Makes every pending recipient of `id` due at `now` and releases its lease
    /// (`postwerk admin queue retry`). `NotFound` if there is no such entry.
    async fn retry_now(&self, id: QueueId, now: i64) -> Result<(), StoreError>;

    /// Signalled (`notify_waiters`) after every enqueue and `retry_now`, so idle workers wake at
    /// once. A worker creates and enables its `notified()` future before it looks at the queue,
    /// so that a signal between its look and its sleep is not lost.
    fn changed(&self) -> Arc<tokio::sync::Notify>;

    /// The content of a queued message; `NotFound` if there is no such entry.
    async fn read_queued(&self, id: QueueId) -> Result<Vec<u8>, StoreError>;

    /// Remove an entry (delivered, or given up on) and its content once nothing else uses it.
    /// `NotFound` if there is no such entry.
    async fn dequeue(&self, id: QueueId) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn recipient(address: EnvelopeAddress) -> QueuedRecipient {
        QueuedRecipient {
            address,
            notify: None,
            orcpt: None,
            forwarded_by: None,
        }
    }

    /// Fingerprints recorded before recipients became [`EnvelopeAddress`] hashed the text of
    /// an [`Address`]; an ASCII recipient must hash the same text now, or a client's retry
    /// across the upgrade would be queued twice.
    #[test]
    fn an_ascii_recipient_hashes_the_text_it_had_as_an_address() {
        let digest = [7u8; 32];
        let hosted_form = Address::parse("Bob.Smith+x@Remote.Example").expect("an address");
        let mut old = Sha256::new();
        old.update(digest);
        old.update(hosted_form.to_string().as_bytes());
        old.update([0]);
        let old: [u8; 32] = old.finalize().into();

        let from_address = recipient(hosted_form.into());
        let read_back = recipient(
            EnvelopeAddress::parse("bob.smith+x@remote.example").expect("an envelope address"),
        );
        assert_eq!(queue_fingerprint(&digest, &[from_address]), old);
        assert_eq!(queue_fingerprint(&digest, &[read_back]), old);
    }
}
