//! Exclusive access to a maildrop (RFC 1939 §8: "the server acquires an exclusive-access lock
//! on the maildrop"), so a second POP3 session on the same mailbox is refused `[IN-USE]`
//! (RFC 2449 §8.1.1). IMAP sessions never take this lock and go on beside POP3.
//!
//! The table lives in the process: with several nodes sharing one database, two POP3 sessions
//! on the same mailbox could each hold a lock on a different node. Each still sees a
//! consistent snapshot and deletes only what it marked, so the cost is the one RFC 1939 §8
//! guards against (two clients downloading the same messages), not lost or corrupted mail.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use postwerk_model::AddressId;

/// The maildrops held by the POP3 sessions of this process (shared by both listeners).
#[derive(Debug, Default)]
pub struct MaildropLocks {
    held: Mutex<HashSet<AddressId>>,
}

/// A held maildrop; dropping it releases the maildrop, however the session ended.
#[derive(Debug)]
pub struct MaildropLock {
    locks: Arc<MaildropLocks>,
    mailbox: AddressId,
}

impl MaildropLocks {
    /// An empty table.
    pub fn new() -> Arc<MaildropLocks> {
        Arc::new(MaildropLocks::default())
    }

    /// Takes the maildrop of `mailbox`, or `None` when another session holds it.
    pub fn try_lock(self: &Arc<Self>, mailbox: AddressId) -> Option<MaildropLock> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.insert(mailbox).then(|| MaildropLock {
            locks: Arc::clone(self),
            mailbox,
        })
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.remove(&self.mailbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maildrop_is_held_by_one_session_until_it_ends() {
        let locks = MaildropLocks::new();
        let first = locks.try_lock(AddressId(1));
        assert!(first.is_some());
        assert!(locks.try_lock(AddressId(1)).is_none(), "second session");
        assert!(locks.try_lock(AddressId(2)).is_some(), "another mailbox");
        drop(first);
        assert!(locks.try_lock(AddressId(1)).is_some(), "released on drop");
    }
}
