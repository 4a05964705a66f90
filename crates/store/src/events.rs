//! Change events: every committed write that changes a folder is announced, so IMAP sessions
//! (IDLE, untagged EXISTS/EXPUNGE/FETCH) and webmail learn about it without polling.
//!
//! Each mailbox has its own channel, made when the first session of that mailbox subscribes:
//! a session hears only its own mailbox's changes, so a delivery wakes the few tasks watching
//! that mailbox rather than every session of the server (issue 10: with one channel for all,
//! 5,000 sessions woke on every delivery, and slow ones lost events they did not even need).
//! A channel nobody listens to any more is dropped at its mailbox's next change, or by the
//! sweep that runs as new channels are made, so the table follows the sessions open.
//!
//! In-process only for now (`tokio::sync::broadcast`); the PostgreSQL backend will carry the
//! same events between nodes with `LISTEN/NOTIFY`. Events from another process writing to the
//! same SQLite file (the admin CLI) are not seen: a session that must be exact re-reads the
//! folder when it resumes anyway, and the CLI changes the directory, rarely folders.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use postwerk_model::{AddressId, FolderId};
use tokio::sync::broadcast;

/// How many events of one mailbox a slow subscriber may lag behind before it is told it lost
/// some (`RecvError::Lagged`) and must re-read the folders it watches. The ring is allocated
/// whole per watched mailbox (about 90 bytes a slot), so it stays small: a session that falls
/// this far behind its own mailbox re-reads one folder, which is cheap.
const MAILBOX_CAPACITY: usize = 128;

/// Credential changes are rare; a subscriber that lags behind this many re-checks its login.
const CREDENTIAL_CAPACITY: usize = 256;

/// The table is swept of channels without receivers when it reaches this size, then whenever
/// it doubles since the last sweep: amortised, a sweep costs O(1) per channel made.
const FIRST_SWEEP_AT: usize = 64;

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
    /// One channel per mailbox that has (or recently had) a subscriber.
    mailboxes: Arc<Mutex<Channels>>,
    /// ID-6: mailboxes whose password changed, or that were disabled or deleted, so sessions
    /// end before their next command (and at once when in IDLE) rather than at a periodic
    /// check.
    credentials: broadcast::Sender<AddressId>,
}

/// The per-mailbox channels and when to sweep them next.
#[derive(Debug)]
struct Channels {
    senders: HashMap<AddressId, broadcast::Sender<FolderEvent>>,
    sweep_at: usize,
}

impl Channels {
    /// Drops the channels whose receivers are all gone, and sets the next sweep at twice what
    /// is left, so a table of live channels is not swept again and again.
    fn sweep(&mut self) {
        self.senders.retain(|_, sender| sender.receiver_count() > 0);
        self.sweep_at = (self.senders.len() * 2).max(FIRST_SWEEP_AT);
    }
}

impl Events {
    /// A new, empty event bus.
    pub fn new() -> Events {
        let (credentials, _) = broadcast::channel(CREDENTIAL_CAPACITY);
        Events {
            mailboxes: Arc::new(Mutex::new(Channels {
                senders: HashMap::new(),
                sweep_at: FIRST_SWEEP_AT,
            })),
            credentials,
        }
    }

    /// Receive the events of `mailbox`'s folders published from now on, and no other
    /// mailbox's.
    pub fn subscribe(&self, mailbox: AddressId) -> broadcast::Receiver<FolderEvent> {
        let mut channels = self.channels();
        if let Some(sender) = channels.senders.get(&mailbox) {
            return sender.subscribe();
        }
        if channels.senders.len() >= channels.sweep_at {
            channels.sweep();
        }
        let (sender, receiver) = broadcast::channel(MAILBOX_CAPACITY);
        channels.senders.insert(mailbox, sender);
        receiver
    }

    /// How many mailboxes have a channel held for them: those with subscribers, plus at most
    /// the ones whose last subscriber left since their last change or the last sweep (for
    /// metrics and tests).
    pub fn watched_mailboxes(&self) -> usize {
        self.channels().senders.len()
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

    /// Publish one event to the subscribers of its mailbox. Having none is normal (no session
    /// open), not an error; a channel whose subscribers all left is dropped here.
    pub(crate) fn publish(&self, event: FolderEvent) {
        let mut channels = self.channels();
        let Some(sender) = channels.senders.get(&event.mailbox) else {
            return;
        };
        // Under the lock, so a subscriber arriving now either gets this channel (and the
        // event) or a new one made after the removal (and reads the folder after this commit).
        if sender.receiver_count() == 0 {
            channels.senders.remove(&event.mailbox);
            return;
        }
        let _ = sender.send(event);
    }

    /// The table of channels. Nothing panics while holding it, but a poisoned lock still holds
    /// a consistent map (every change to it is one call), so it is used as is.
    fn channels(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(mailbox: i64, uid: u32) -> FolderEvent {
        FolderEvent {
            folder: FolderId(mailbox * 10),
            mailbox: AddressId(mailbox),
            modseq: u64::from(uid),
            kind: FolderEventKind::Appended { uids: vec![uid] },
        }
    }

    #[test]
    fn a_subscriber_hears_its_own_mailbox_only() {
        let events = Events::new();
        let mut a = events.subscribe(AddressId(1));
        let mut a_too = events.subscribe(AddressId(1));
        let mut b = events.subscribe(AddressId(2));
        events.publish(appended(2, 7));
        events.publish(appended(1, 3));
        assert_eq!(a.try_recv().ok(), Some(appended(1, 3)));
        assert!(a.try_recv().is_err(), "B's change never reached A");
        assert_eq!(a_too.try_recv().ok(), Some(appended(1, 3)));
        assert_eq!(b.try_recv().ok(), Some(appended(2, 7)));
        assert!(b.try_recv().is_err());
        assert_eq!(events.watched_mailboxes(), 2, "one channel per mailbox");
    }

    #[test]
    fn a_channel_without_receivers_goes_at_its_next_change() {
        let events = Events::new();
        let kept = events.subscribe(AddressId(1));
        drop(events.subscribe(AddressId(2)));
        events.publish(appended(2, 1));
        assert_eq!(events.watched_mailboxes(), 1);
        // A later subscriber of the dropped mailbox gets a fresh channel that works.
        let mut again = events.subscribe(AddressId(2));
        events.publish(appended(2, 2));
        assert_eq!(again.try_recv().ok(), Some(appended(2, 2)));
        drop(kept);
    }

    #[test]
    fn channels_left_without_changes_are_swept_as_new_ones_are_made() {
        let events = Events::new();
        let mut live: Vec<_> = (1_000..1_010)
            .map(|mailbox| (mailbox, events.subscribe(AddressId(mailbox))))
            .collect();
        // Sessions of many other mailboxes come and go without any change to their mailboxes.
        for mailbox in 0..(FIRST_SWEEP_AT as i64 * 10) {
            drop(events.subscribe(AddressId(mailbox)));
        }
        assert!(
            events.watched_mailboxes() <= FIRST_SWEEP_AT + live.len(),
            "the table follows the open sessions: {}",
            events.watched_mailboxes()
        );
        // A sweep never takes a channel that still has a receiver.
        for (mailbox, receiver) in &mut live {
            events.publish(appended(*mailbox, 1));
            assert_eq!(receiver.try_recv().ok(), Some(appended(*mailbox, 1)));
        }
    }
}
