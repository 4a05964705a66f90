//! Change events: every committed write that changes a folder is announced, so IMAP sessions
//! (IDLE, untagged EXISTS/EXPUNGE/FETCH) and webmail learn about it without polling.
//!
//! In-process only for now (a `tokio::sync::broadcast`); the PostgreSQL backend will carry the
//! same events between nodes with `LISTEN/NOTIFY`. Events from another process writing to the
//! same SQLite file (the admin CLI) are not seen: a session that must be exact re-reads the
//! folder when it resumes anyway, and the CLI changes the directory, rarely folders.

use postwerk_model::{AddressId, FolderId};
use tokio::sync::broadcast;

/// How many events a slow subscriber may lag behind before it is told it lost some
/// (`RecvError::Lagged`) and must re-read the folders it watches.
const CAPACITY: usize = 4096;

/// Credential changes are rare; a subscriber that lags behind this many re-checks its login.
const CREDENTIAL_CAPACITY: usize = 256;

/// One committed change to one folder.
///
/// Published only after the commit that holds the change, so a subscriber that reads the folder
/// on receipt sees the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEvent {
    /// The folder that changed.
    pub folder: FolderId,
    /// The mailbox (hosted address) that owns the folder: sessions subscribe per mailbox.
    pub mailbox: AddressId,
    /// The folder's HIGHESTMODSEQ after the change (RFC 7162); unchanged for events that do not
    /// touch messages (subscription).
    pub modseq: u64,
    /// What happened.
    pub kind: FolderEventKind,
}

/// What happened to a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderEventKind {
    /// The folder was created.
    Created,
    /// The folder now has this name (its UIDVALIDITY and UIDs are unchanged).
    Renamed {
        /// The new name.
        name: String,
    },
    /// The folder and its messages are gone (also when its whole mailbox was deleted).
    Deleted,
    /// Messages were added with these UIDs (delivery, APPEND, COPY, MOVE).
    Appended {
        /// The new UIDs, ascending.
        uids: Vec<u32>,
    },
    /// The flags of these messages changed; their MODSEQ is the event's `modseq`.
    FlagsChanged {
        /// The UIDs whose flags changed, ascending.
        uids: Vec<u32>,
    },
    /// These messages were removed (EXPUNGE, MOVE away).
    Expunged {
        /// The removed UIDs, ascending.
        uids: Vec<u32>,
    },
    /// The subscription flag changed (RFC 9051 §6.3.7).
    Subscription {
        /// The new state.
        subscribed: bool,
    },
}

/// The publishing side of the change events, shared by the store and its users.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<FolderEvent>,
    /// ID-6: mailboxes whose password changed, or that were disabled or deleted, so sessions
    /// sitting in IDLE end at once rather than at their next periodic check.
    credentials: broadcast::Sender<AddressId>,
}

impl Events {
    /// A new, empty event bus.
    pub fn new() -> Events {
        let (sender, _) = broadcast::channel(CAPACITY);
        let (credentials, _) = broadcast::channel(CREDENTIAL_CAPACITY);
        Events {
            sender,
            credentials,
        }
    }

    /// Receive every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FolderEvent> {
        self.sender.subscribe()
    }

    /// Receive the mailboxes whose credentials change from now on (ID-6). Published after the
    /// commit of a mailbox password change (unified or not), a disabling or a deletion.
    pub fn subscribe_credentials(&self) -> broadcast::Receiver<AddressId> {
        self.credentials.subscribe()
    }

    /// Announce that a mailbox's credentials changed. Having no subscriber is normal.
    pub(crate) fn publish_credentials(&self, mailbox: AddressId) {
        let _ = self.credentials.send(mailbox);
    }

    /// Publish one event. Having no subscriber is normal (no session open), not an error.
    pub(crate) fn publish(&self, event: FolderEvent) {
        let _ = self.sender.send(event);
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}
