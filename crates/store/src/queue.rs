//! The durable outbound queue: messages accepted for recipients elsewhere — redirections of
//! hosted addresses (RCV-13) and remote recipients of submitted mail (SND-2) — waiting for the
//! outbound delivery (issue 6) to drain them.
//!
//! An entry holds the message content (a blob written and fsynced before the entry's commit,
//! RCV-12), the envelope, and the RFC 3461 DSN parameters the client gave, so that delivery
//! status notifications can honour them later (SND-5).

use std::fmt;

use async_trait::async_trait;
use postwerk_model::{Address, AddressId};

use crate::{BlobId, StoreError};

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
    /// Where to deliver.
    pub address: Address,
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
}

/// The outbound queue. `enqueue` answers once content and entry are on stable storage.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Queue `raw` for `message.recipients`: the content is written and fsynced first, then the
    /// entry is committed (with the store's group commit). `Refused` without recipients.
    async fn enqueue(&self, raw: &[u8], message: NewQueued) -> Result<QueueId, StoreError>;

    /// Every queued message, oldest first.
    async fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError>;

    /// The content of a queued message; `NotFound` if there is no such entry.
    async fn read_queued(&self, id: QueueId) -> Result<Vec<u8>, StoreError>;

    /// Remove an entry (delivered, or given up on) and its content once nothing else uses it.
    /// `NotFound` if there is no such entry.
    async fn dequeue(&self, id: QueueId) -> Result<(), StoreError>;
}
