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
}

impl Events {
    /// A new, empty event bus.
    pub fn new() -> Events {
        let (sender, _) = broadcast::channel(CAPACITY);
        Events { sender }
    }

    /// Receive every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FolderEvent> {
        self.sender.subscribe()
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
