//! The maildrop of one POP3 session, sans I/O (RFC 1939 §5): a numbered snapshot of the INBOX
//! taken at login, with the deletion marks of the session.
//!
//! Message numbers are fixed for the whole session (RFC 1939 §3: they "do not change during a
//! POP3 session"), so messages delivered meanwhile are not shown, and a message expunged
//! meanwhile by an IMAP client keeps its number; reading it is refused cleanly by the op.
//! Nothing here touches the store: the marks become a deletion only in the UPDATE state
//! ([`Maildrop::marked`]).

/// One message of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    uid: u32,
    size: u64,
    deleted: bool,
}

/// A message found by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Its UID in the INBOX.
    pub uid: u32,
    /// Its size in octets.
    pub size: u64,
}

/// Why a message number names no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// There is no message with this number (RFC 1939 §5).
    NoSuchMessage,
    /// The message is marked as deleted in this session (RFC 1939 §5: "may NOT refer to a
    /// message marked as deleted").
    Deleted,
}

/// The numbered messages of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    uid_validity: u32,
    messages: Vec<Entry>,
}

impl Maildrop {
    /// A snapshot of `(uid, size)` pairs, numbered from 1 in ascending UID order (the order of
    /// arrival).
    pub fn new(uid_validity: u32, messages: impl IntoIterator<Item = (u32, u64)>) -> Maildrop {
        let mut messages: Vec<Entry> = messages
            .into_iter()
            .map(|(uid, size)| Entry {
                uid,
                size,
                deleted: false,
            })
            .collect();
        messages.sort_by_key(|entry| entry.uid);
        Maildrop {
            uid_validity,
            messages,
        }
    }

    /// RFC 1939 §5 STAT: the number of messages and their total size, those marked as deleted
    /// left out.
    pub fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(count, size), (_, m)| (count + 1, size + m.size))
    }

    /// The message numbered `msg`, unless it does not exist or is marked as deleted.
    pub fn get(&self, msg: u32) -> Result<Message, Missing> {
        let index = usize::try_from(msg)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .ok_or(Missing::NoSuchMessage)?;
        let entry = self.messages.get(index).ok_or(Missing::NoSuchMessage)?;
        if entry.deleted {
            return Err(Missing::Deleted);
        }
        Ok(Message {
            uid: entry.uid,
            size: entry.size,
        })
    }

    /// The messages not marked as deleted, with their numbers, in order.
    pub fn live(&self) -> impl Iterator<Item = (u32, Message)> + '_ {
        self.messages
            .iter()
            .zip(1u32..)
            .filter(|(entry, _)| !entry.deleted)
            .map(|(entry, msg)| {
                (
                    msg,
                    Message {
                        uid: entry.uid,
                        size: entry.size,
                    },
                )
            })
    }

    /// RFC 1939 §5 DELE: marks a message as deleted.
    pub fn delete(&mut self, msg: u32) -> Result<(), Missing> {
        self.get(msg)?;
        let index = (msg - 1) as usize;
        self.messages[index].deleted = true;
        Ok(())
    }

    /// RFC 1939 §5 RSET: unmarks every message.
    pub fn reset(&mut self) {
        for entry in &mut self.messages {
            entry.deleted = false;
        }
    }

    /// The UIDs marked as deleted, ascending: what the UPDATE state removes.
    pub fn marked(&self) -> Vec<u32> {
        self.messages
            .iter()
            .filter(|entry| entry.deleted)
            .map(|entry| entry.uid)
            .collect()
    }

    /// RFC 1939 §7 UIDL: the unique-id of a message, 16 hex digits made of the INBOX's
    /// UIDVALIDITY and the message's UID.
    ///
    /// The store never reuses a UID within a UIDVALIDITY, nor a UIDVALIDITY for a folder
    /// (RFC 9051 §2.3.1.1), so the pair names one message forever: the id is the same in every
    /// session and never given to another message. 16 characters of 0x30–0x66 fit the
    /// 1–70 characters of 0x21–0x7E that §7 allows.
    pub fn unique_id(&self, uid: u32) -> String {
        format!("{:08x}{:08x}", self.uid_validity, uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildrop() -> Maildrop {
        Maildrop::new(7, [(12, 300), (3, 100), (5, 200)])
    }

    #[test]
    fn messages_are_numbered_by_uid_and_counted_without_deleted_ones() {
        let mut drop = maildrop();
        assert_eq!(drop.stat(), (3, 600));
        assert_eq!(drop.get(1), Ok(Message { uid: 3, size: 100 }));
        assert_eq!(drop.get(3), Ok(Message { uid: 12, size: 300 }));
        assert_eq!(drop.get(0), Err(Missing::NoSuchMessage));
        assert_eq!(drop.get(4), Err(Missing::NoSuchMessage));
        assert_eq!(drop.get(u32::MAX), Err(Missing::NoSuchMessage));
        assert_eq!(drop.delete(2), Ok(()));
        assert_eq!(drop.delete(2), Err(Missing::Deleted));
        assert_eq!(drop.get(2), Err(Missing::Deleted));
        assert_eq!(drop.stat(), (2, 400));
        let live: Vec<u32> = drop.live().map(|(msg, _)| msg).collect();
        assert_eq!(live, [1, 3], "numbers stay fixed");
        assert_eq!(drop.marked(), [5]);
        drop.reset();
        assert_eq!(drop.stat(), (3, 600));
        assert!(drop.marked().is_empty());
    }

    #[test]
    fn unique_ids_are_uidvalidity_and_uid_in_hex() {
        let drop = maildrop();
        assert_eq!(drop.unique_id(12), "000000070000000c");
        let other = Maildrop::new(8, [(12, 1)]);
        assert_ne!(drop.unique_id(12), other.unique_id(12));
        let id = Maildrop::new(u32::MAX, []).unique_id(u32::MAX);
        assert_eq!(id, "ffffffffffffffff");
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    }
}
