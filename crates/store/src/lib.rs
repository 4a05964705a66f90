//! Persistence for Postwerk: the directory (organizations, accounts, services, addresses) and
//! the mail store (folders and messages with IMAP semantics), behind traits so that the
//! embedded SQLite backend and a later PostgreSQL backend are interchangeable.
//!
//! This crate owns the schema, the transactions that enforce the directory rules against live
//! data (quota, duplicates, the 50-alias limit, one catch-all, one service per domain), message
//! contents as content-addressed blobs, group commit, and the change events. It knows no
//! protocol: it answers in model types and [`StoreError`], never in SMTP or IMAP replies. It
//! depends on `postwerk-model` (types and pure rules) and `postwerk-message` (the parse-once
//! index) only.
//!
//! Main flow of a delivery:
//!
//! ```text
//! MailStore::deliver(raw, index, targets)
//!   ├─ BlobStore::put(raw)        temp file → fsync → rename → fsync dir   (caller's task;
//!   │                             only above INLINE_CONTENT_MAX octets)
//!   └─ writer queue ─► BEGIN IMMEDIATE … SAVEPOINT per caller … COMMIT     (one fsync, shared;
//!                                 a smaller content's bytes are rows of this transaction)
//!        └─ wake the indexer, answer each caller, then publish FolderEvents
//!             └─► indexer task: full-text rows in search.sqlite3, after the commit
//!                 (its own connection and file; searches scan what it has not reached)
//! ```
//!
//! Open the embedded store with [`open_sqlite`] (or [`open_sqlite_with`] to size its folder
//! cache); the server keeps the [`Stores`] it returns and hands out `Arc<dyn Directory>` /
//! `Arc<dyn MailStore>` / `Arc<dyn QueueStore>`.
//!
//! Reads for IMAP FETCH of the common items go through [`MailStore::fetch_view`]: a
//! [`FetchView`] per folder (flags, MODSEQ, sizes, dates, rendered ENVELOPE and BODYSTRUCTURE),
//! cached in memory by the SQLite backend, shared by every session, checked against the
//! folder's HIGHESTMODSEQ at each call and brought up to date from the rows changed since.

// One module may use `unsafe`: `sqlite::direct`, which lends the writer's SQLite handle to
// rusqlite (see there); `deny` makes any other use an error.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod blob;
mod directory;
mod error;
mod events;
pub mod fsck;
mod greylist;
mod identity;
mod mail;
mod manager;
mod queue;
mod sqlite;
mod view;

use std::sync::Arc;

use async_trait::async_trait;

pub use blob::{BlobId, BlobStore, FsBlobStore};
pub use directory::{
    AddressExtras, Directory, DkimKey, NewAddress, NewDkimKey, NewService, NewUser, ServiceSettings,
};
pub use error::StoreError;
pub use events::{Events, FolderEvent, FolderEventKind};
pub use fsck::{Check, Depth, Finding, FsckReport, Repair};
pub use greylist::{GreylistEntry, GreylistStore};
pub use identity::{
    AuditCategory, AuditEntry, AuditFilter, Channel, IdentityStore, NewAuditEntry, NewRecoveryCode,
    NewVerificationRequest, OutboxSms, RecoveryCode, RecoveryPurpose, VerificationRequest,
};
pub use mail::{
    Copied, DeliveryTarget, Expunged, Fingerprint, FlagChange, FlagOp, FlagUpdate, Flags, Folder,
    FolderStatus, Keyword, MailStore, MessageMeta, SelectView, Stored, SystemFlags, TargetFolder,
    UidSet,
};
pub use manager::{
    Acceptance, ApiToken, ManagerStore, NewApiToken, NewInvitation, NewSharedFile, NewWebSession,
    SharedFileRecord, TokenOwner, TokenScope, WebSession,
};
pub use queue::{
    DsnRet, NewQueued, Notify, QueueId, QueueStore, QueuedMessage, QueuedRecipient, RecipientState,
    RecipientStatus,
};
pub use sqlite::{
    BLOB_FOLDER, DATABASE_FILE, DEFAULT_CACHE_BYTES, INLINE_CONTENT_MAX, QUEUE_FOLDER,
    SEARCH_DATABASE_FILE, SqliteOptions, open_sqlite, open_sqlite_with,
};
pub use view::{FetchParts, FetchRecord, FetchView};

/// An open store: what the server wires into its services.
///
/// The directory and the mail store are two views of one backend; they share its writer, so
/// their writes are group-committed together.
#[derive(Clone)]
pub struct Stores {
    /// Organizations, accounts, services, addresses.
    pub directory: Arc<dyn Directory>,
    /// Folders and messages.
    pub mail: Arc<dyn MailStore>,
    /// The Manager's records: API tokens, sessions, invitations, sender lists.
    pub manager: Arc<dyn ManagerStore>,
    /// Identity records: 2FA, unification, recovery, the SMS outbox, the audit log.
    pub identity: Arc<dyn IdentityStore>,
    /// Message contents (for streaming large bodies without reading them through the store).
    /// Only contents larger than [`INLINE_CONTENT_MAX`] octets (and those stored before inline
    /// contents existed) are here; `MailStore::read_message` returns every content.
    pub blobs: Arc<dyn BlobStore>,
    /// The durable outbound queue (forwards and remote recipients, drained by the outbound
    /// delivery).
    pub queue: Arc<dyn QueueStore>,
    /// Greylisting's memory of (client network, sender, recipient) triplets (RCV-3).
    pub greylist: Arc<dyn GreylistStore>,
    /// Change events of the mail store.
    pub events: Events,
    backend: Arc<dyn Backend>,
}

impl Stores {
    /// Finish the writes already submitted, then close the backend. Writes submitted after
    /// (through clones of the trait objects) fail with a backend error. Dropping a `Stores`
    /// without closing is safe too: every answered write is durable already.
    pub async fn close(self) {
        self.backend.close().await;
    }

    /// Wait until the full-text index holds every message content committed before the call.
    ///
    /// Searches never need this: they are exact while the index catches up (what it does not
    /// hold yet is scanned). It is for tests, benchmarks and operators who want to know the
    /// index is complete. Fails if the store is closed meanwhile.
    pub async fn wait_indexed(&self) -> Result<(), StoreError> {
        self.backend.wait_indexed().await
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

/// What [`Stores`] needs from its backend beyond the public traits.
#[async_trait]
trait Backend: Send + Sync {
    /// Shutdown, behind `Stores::close`.
    async fn close(&self);

    /// Behind `Stores::wait_indexed`.
    async fn wait_indexed(&self) -> Result<(), StoreError>;
}
