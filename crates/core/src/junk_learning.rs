//! RCV-4 learning: a user who moves a message into Junk, or out of it, over IMAP (and later
//! webmail) tells the platform what they think of its sender. With `[spam] learn_from_moves`
//! on (the default), that updates the mailbox's sender lists, the same lists the Manager API
//! edits and delivery reads:
//!
//! ```text
//!  MOVE/COPY  anything but Junk ─► Junk        : Block the sender's address
//!             Junk ─► anything but Junk, Trash : Allow the sender's address
//! ```
//!
//! The sender is the first `From:` address of each message (the address people see and list,
//! as in `delivery::sender_lists`). Only exact-address rules are written: a domain rule the
//! user wrote stays as it is, and because an address outranks a domain
//! (`model::sender_verdict`) the learnt rule is the one that decides for that sender. A rule
//! for the same address of the other kind is replaced (the user changed their mind).
//!
//! Moving a message whose sender is the mailbox itself teaches nothing (spam often forges the
//! recipient's own address in `From:`, and blocking it would refuse the user's notes to
//! self). The two stores this type reads cannot name a mailbox's address from its id (that
//! is the `Directory`'s), so the caller that knows it says it: [`JunkLearning::learn_as`],
//! which IMAP calls with the logged-in address; [`JunkLearning::learn`], given only the id,
//! cannot apply that rule.

use std::sync::Arc;

use postwerk_message::MessageIndex;
use postwerk_model::{Address, AddressId, ListKind, SenderPattern, SenderRule, SpecialUse};
use postwerk_store::{Folder, MailStore, ManagerStore, UidSet};

use crate::CoreError;

/// At most this many distinct senders are learnt from one move: a user moving a whole folder
/// of newsletters into Junk does not turn into thousands of rules in one command.
pub const MAX_LEARNT_PER_MOVE: usize = 100;

/// The moved messages' indexes are read this many UIDs at a time, so that a move of a huge
/// folder neither holds every index in memory nor reads past the cap once it is reached.
const INDEX_BATCH: usize = 500;

/// What one move taught.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learnt {
    /// Addresses now on the mailbox's allow list (moved out of Junk).
    pub allowed: Vec<Address>,
    /// Addresses now on the mailbox's block list (moved into Junk).
    pub blocked: Vec<Address>,
}

/// Learning from moves, over the mail store (to read the moved messages' `From:`) and the
/// manager store (the lists).
#[derive(Clone)]
pub struct JunkLearning {
    mail: Arc<dyn MailStore>,
    rules: Arc<dyn ManagerStore>,
}

impl std::fmt::Debug for JunkLearning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JunkLearning").finish_non_exhaustive()
    }
}

impl JunkLearning {
    /// Learning that reads messages from `mail` and writes the lists into `rules`.
    pub fn new(mail: Arc<dyn MailStore>, rules: Arc<dyn ManagerStore>) -> JunkLearning {
        JunkLearning { mail, rules }
    }

    /// The messages now at `uids` in `destination` were moved or copied there from `source`
    /// by the user of `mailbox` (both folders are that mailbox's). Into Junk from any other
    /// folder: their senders are blocked; from Junk into any folder but Junk and Trash: they
    /// are allowed; any other move teaches nothing and costs no query.
    ///
    /// The mailbox's own address is not known here, so a message from it is learnt like any
    /// other; callers that know the address use [`JunkLearning::learn_as`].
    pub async fn learn(
        &self,
        mailbox: AddressId,
        source: &Folder,
        destination: &Folder,
        uids: &[u32],
    ) -> Result<Learnt, CoreError> {
        self.learn_skipping(mailbox, None, source, destination, uids)
            .await
    }

    /// [`JunkLearning::learn`] for the mailbox whose address is `own`: a message from `own`
    /// teaches nothing.
    pub async fn learn_as(
        &self,
        mailbox: AddressId,
        own: &Address,
        source: &Folder,
        destination: &Folder,
        uids: &[u32],
    ) -> Result<Learnt, CoreError> {
        self.learn_skipping(mailbox, Some(own), source, destination, uids)
            .await
    }

    async fn learn_skipping(
        &self,
        mailbox: AddressId,
        own: Option<&Address>,
        source: &Folder,
        destination: &Folder,
        uids: &[u32],
    ) -> Result<Learnt, CoreError> {
        let Some(kind) = lesson(mailbox, source, destination) else {
            return Ok(Learnt::default());
        };
        if uids.is_empty() {
            return Ok(Learnt::default());
        }
        let senders = self.senders(destination, uids, own).await?;
        if senders.is_empty() {
            return Ok(Learnt::default());
        }
        let existing = self.rules.sender_rules(mailbox).await?;
        let mut learnt = Learnt::default();
        for sender in senders {
            let pattern = SenderPattern::Address(sender.clone());
            let already = existing
                .iter()
                .any(|rule| rule.pattern == pattern && rule.kind == kind);
            if !already {
                // The store keeps one rule per pattern: writing it again with the other kind
                // replaces the opposite rule (the user changed their mind).
                let rule = SenderRule {
                    address: mailbox,
                    kind,
                    pattern,
                };
                self.rules.put_sender_rule(rule).await?;
            }
            match kind {
                ListKind::Allow => learnt.allowed.push(sender),
                ListKind::Block => learnt.blocked.push(sender),
            }
        }
        tracing::info!(
            %mailbox,
            allowed = learnt.allowed.len(),
            blocked = learnt.blocked.len(),
            "sender lists learnt from a move"
        );
        Ok(learnt)
    }

    /// The distinct first `From:` addresses of the messages at `uids` in `folder`, in UID
    /// order, but `own`, at most [`MAX_LEARNT_PER_MOVE`] of them.
    async fn senders(
        &self,
        folder: &Folder,
        uids: &[u32],
        own: Option<&Address>,
    ) -> Result<Vec<Address>, CoreError> {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        uids.dedup();
        let mut senders: Vec<Address> = Vec::new();
        for batch in uids.chunks(INDEX_BATCH) {
            let set = UidSet::from_uids(batch.iter().copied());
            let indexes = self.mail.message_indexes(folder.id, &set).await?;
            for (_, index) in &indexes {
                if let Some(sender) = first_from(index)
                    && own != Some(&sender)
                    && !senders.contains(&sender)
                {
                    senders.push(sender);
                    if senders.len() == MAX_LEARNT_PER_MOVE {
                        return Ok(senders);
                    }
                }
            }
        }
        Ok(senders)
    }
}

/// What a move from `source` to `destination` teaches about the senders, if anything: into
/// Junk blocks, out of Junk allows, except into Trash (deleting spam is no verdict on it).
/// Folders of another mailbox teach this one nothing.
fn lesson(mailbox: AddressId, source: &Folder, destination: &Folder) -> Option<ListKind> {
    if source.mailbox != mailbox || destination.mailbox != mailbox {
        return None;
    }
    let junk = |folder: &Folder| folder.special_use == Some(SpecialUse::Junk);
    match (junk(source), junk(destination)) {
        (false, true) => Some(ListKind::Block),
        (true, false) if destination.special_use != Some(SpecialUse::Trash) => {
            Some(ListKind::Allow)
        }
        _ => None,
    }
}

/// The first `From:` entry that is an address, as `delivery::sender_lists` reads it.
fn first_from(index: &MessageIndex) -> Option<Address> {
    index.summary.from.iter().find_map(|addr| {
        addr.address()
            .and_then(|text| Address::parse(text.trim()).ok())
    })
}

#[cfg(test)]
mod tests {
    use postwerk_model::FolderId;

    use super::*;

    const MAILBOX: AddressId = AddressId(7);

    fn folder(id: i64, special_use: Option<SpecialUse>) -> Folder {
        Folder {
            id: FolderId(id),
            mailbox: MAILBOX,
            name: format!("folder {id}"),
            special_use,
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 0,
            subscribed: true,
        }
    }

    #[test]
    fn only_moves_across_the_junk_boundary_teach() {
        let inbox = folder(1, None);
        let junk = folder(2, Some(SpecialUse::Junk));
        let trash = folder(3, Some(SpecialUse::Trash));
        let archive = folder(4, Some(SpecialUse::Archive));
        assert_eq!(lesson(MAILBOX, &inbox, &junk), Some(ListKind::Block));
        assert_eq!(lesson(MAILBOX, &trash, &junk), Some(ListKind::Block));
        assert_eq!(lesson(MAILBOX, &junk, &inbox), Some(ListKind::Allow));
        assert_eq!(lesson(MAILBOX, &junk, &archive), Some(ListKind::Allow));
        assert_eq!(lesson(MAILBOX, &junk, &trash), None, "deleting spam");
        assert_eq!(lesson(MAILBOX, &junk, &junk), None);
        assert_eq!(lesson(MAILBOX, &inbox, &archive), None);
        assert_eq!(lesson(MAILBOX, &inbox, &trash), None);
    }

    #[test]
    fn another_mailboxs_folders_teach_nothing() {
        let inbox = folder(1, None);
        let mut foreign_junk = folder(2, Some(SpecialUse::Junk));
        foreign_junk.mailbox = AddressId(8);
        assert_eq!(lesson(MAILBOX, &inbox, &foreign_junk), None);
    }

    #[test]
    fn the_sender_is_the_first_from_entry_that_is_an_address() {
        let index = MessageIndex::parse(
            b"From: undisclosed-recipients:;, Shop News <News@Shop.Example>, b@x.example\r\n\
              Subject: hi\r\n\r\nbody\r\n",
        );
        let sender = first_from(&index).map(|address| address.to_string());
        assert_eq!(sender.as_deref(), Some("news@shop.example"));
        let none = MessageIndex::parse(b"Subject: no sender\r\n\r\nbody\r\n");
        assert_eq!(first_from(&none), None);
    }
}
