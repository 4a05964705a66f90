//! Reading: the account's mailboxes, folders, the message list, opening a message, its
//! attachments, flags, moving, deleting to Trash, and spam / not spam (CLI-1, RCV-4).

#[path = "read_events.rs"]
mod read_events;
pub use read_events::{FolderChange, MailboxEvents};
#[path = "read_folders.rs"]
mod read_folders;
#[path = "read_list.rs"]
mod read_list;
#[path = "read_message.rs"]
mod read_message;

use std::collections::{HashMap, HashSet};

use postwerk_model::folders::INBOX;
use postwerk_model::{
    Access, Address, AddressId, FolderId, HostedAddress, MailService, ServiceId, SpecialUse, UserId,
};
use postwerk_store::{FlagOp, Flags, Folder, MessageMeta, StoreError, SystemFlags, UidSet};

use super::{
    AttachmentData, FolderSummary, LinkedMailbox, ListQuery, MailFlag, MessagePage, OpenedMessage,
    ReadOptions, SortKey, SpamOutcome, WEBMAIL, Webmail,
};
use crate::CoreError;
use crate::junk_learning::Learnt;
use read_folders::{folder_with_role, list_rank, parse_role, role_name, role_of, with_role};

impl Webmail {
    /// The mailbox if `user` holds the webmail permission on it (ADDR-9); every webmail call
    /// starts here, so a page can never reach a mailbox by changing an id in a URL.
    pub(crate) async fn checked_mailbox(
        &self,
        user: UserId,
        mailbox: AddressId,
    ) -> Result<HostedAddress, CoreError> {
        self.grant(user, mailbox).await.map(|(_, address)| address)
    }

    /// The folder if it belongs to `mailbox`; `NotFound` otherwise (the same answer as for a
    /// folder that does not exist, so ids of other mailboxes reveal nothing).
    pub(crate) async fn checked_folder(
        &self,
        mailbox: AddressId,
        folder: FolderId,
    ) -> Result<Folder, CoreError> {
        match self.mail.folder(folder).await? {
            Some(found) if found.mailbox == mailbox => Ok(found),
            _ => Err(CoreError::NotFound(
                "This folder does not exist in the mailbox; reload the folder list.".into(),
            )),
        }
    }

    /// The account's access row on the mailbox and the mailbox, when the row grants webmail.
    async fn grant(
        &self,
        user: UserId,
        mailbox: AddressId,
    ) -> Result<(Access, HostedAddress), CoreError> {
        let forbidden = || {
            CoreError::Forbidden(
                "Your account has no access to read and send from this mailbox; ask its \
                 administrator to grant it."
                    .into(),
            )
        };
        let access = self
            .directory
            .user_access(user)
            .await?
            .into_iter()
            .find(|access| access.address == mailbox && access.permissions.contains(WEBMAIL))
            .ok_or_else(forbidden)?;
        let address = self
            .directory
            .address(mailbox)
            .await?
            .ok_or_else(forbidden)?;
        if !address.enabled {
            return Err(CoreError::Forbidden(
                "This mailbox is disabled; ask its administrator to enable it.".into(),
            ));
        }
        Ok((access, address))
    }

    /// Every mailbox linked to `user` with the webmail permission, by address.
    pub async fn mailboxes(&self, user: UserId) -> Result<Vec<LinkedMailbox>, CoreError> {
        let mut services: HashMap<ServiceId, Option<MailService>> = HashMap::new();
        let mut linked = Vec::new();
        for access in self.directory.user_access(user).await? {
            if !access.permissions.contains(WEBMAIL) {
                continue;
            }
            // A mailbox deleted meanwhile or disabled is not offered (the calls would refuse it).
            let Some(address) = self.directory.address(access.address).await? else {
                continue;
            };
            if !address.enabled {
                continue;
            }
            let service = match services.get(&address.service) {
                Some(service) => service.clone(),
                None => {
                    let service = self.directory.service(address.service).await?;
                    services.insert(address.service, service.clone());
                    service
                }
            };
            linked.push(self.linked(&access, &address, service.as_ref()).await?);
        }
        linked.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(linked)
    }

    /// The mailbox if `user` may use it in webmail; `Forbidden` otherwise.
    pub async fn mailbox(
        &self,
        user: UserId,
        mailbox: AddressId,
    ) -> Result<LinkedMailbox, CoreError> {
        let (access, address) = self.grant(user, mailbox).await?;
        let service = self.directory.service(address.service).await?;
        self.linked(&access, &address, service.as_ref()).await
    }

    /// The folders of the mailbox with their counts: INBOX first, then the special-use
    /// folders (Drafts, Sent, Archive, Junk, Trash), then the others by name.
    pub async fn folders(
        &self,
        user: UserId,
        mailbox: AddressId,
    ) -> Result<Vec<FolderSummary>, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folders = self.mail.list_folders(mailbox).await?;
        let mut ranked = Vec::with_capacity(folders.len());
        for folder in &folders {
            let role = role_of(folder, &folders);
            ranked.push((list_rank(folder, role), self.summary(folder, role).await?));
        }
        // Stable: within a rank the store's order by name stays.
        ranked.sort_by_key(|(rank, _)| *rank);
        Ok(ranked.into_iter().map(|(_, summary)| summary).collect())
    }

    /// The folder of the mailbox with the given role (`drafts`, `sent`, `trash`, `junk`),
    /// created when missing (ADDR-11).
    pub async fn special_folder(
        &self,
        user: UserId,
        mailbox: AddressId,
        role: &str,
    ) -> Result<FolderSummary, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let Some(special) = parse_role(role) else {
            return Err(CoreError::Invalid(format!(
                "There is no special folder called {role:?}; use sent, drafts, trash, junk or \
                 archive."
            )));
        };
        let folder = self.role_folder(mailbox, special).await?;
        self.summary(&folder, Some(special)).await
    }

    /// One page of a folder's messages.
    pub async fn list(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        query: &ListQuery,
    ) -> Result<MessagePage, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folder = self.checked_folder(mailbox, folder).await?;
        let summary = self.summary_of(&folder).await?;
        if query.sort == SortKey::Arrival
            && !query.unread_only
            && read_list::search_needle(query).is_none()
        {
            return self.list_by_arrival(&folder, summary, query).await;
        }
        // Metadata only (module read_list): no message body is read to list a folder.
        let metas = self.mail.list_messages(folder.id, &UidSet::all()).await?;
        let text_hits: Option<HashSet<u32>> = match read_list::search_needle(query) {
            Some(needle) => Some(
                self.mail
                    .search_text(folder.id, needle)
                    .await?
                    .into_iter()
                    .collect(),
            ),
            None => None,
        };
        let mut matching = read_list::filter(metas, query, text_hits.as_ref());
        read_list::sort(&mut matching, query.sort, query.ascending);
        let total = matching.len();
        let (page, per_page, range) = read_list::page_bounds(total, query.page, query.per_page);
        Ok(MessagePage {
            folder: summary,
            messages: matching[range].iter().map(read_list::line).collect(),
            page,
            per_page,
            total: u32::try_from(total).unwrap_or(u32::MAX),
        })
    }

    /// The default list (newest first, nothing filtered) of a folder of any size: arrival
    /// order is UID order, so the page is cut from the UIDs alone and only its messages'
    /// metadata is read (50 rows, not 100,000).
    async fn list_by_arrival(
        &self,
        folder: &Folder,
        summary: FolderSummary,
        query: &ListQuery,
    ) -> Result<MessagePage, CoreError> {
        let mut uids = self.mail.select_view(folder.id).await?.uids;
        if !query.ascending {
            uids.reverse();
        }
        let total = uids.len();
        let (page, per_page, range) = read_list::page_bounds(total, query.page, query.per_page);
        let shown = &uids[range];
        let metas = self
            .mail
            .list_messages(folder.id, &UidSet::from_uids(shown.iter().copied()))
            .await?;
        let by_uid: HashMap<u32, &MessageMeta> = metas.iter().map(|m| (m.uid, m)).collect();
        Ok(MessagePage {
            folder: summary,
            // A message expunged between the two reads is left out of this page.
            messages: shown
                .iter()
                .filter_map(|uid| by_uid.get(uid).map(|meta| read_list::line(meta)))
                .collect(),
            page,
            per_page,
            total: u32::try_from(total).unwrap_or(u32::MAX),
        })
    }

    /// Opens a message: parsed, its HTML sanitised, its bounce explained; sets `\Seen` unless
    /// `options.keep_unseen`.
    pub async fn open(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uid: u32,
        options: ReadOptions,
    ) -> Result<OpenedMessage, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folder = self.checked_folder(mailbox, folder).await?;
        let meta = self.message_meta(&folder, uid).await?;
        let raw = self.read_raw(&folder, uid).await?;
        let message = read_message::parse(&raw)?;
        let reading = read_message::reading(&message, options.remote_images);
        let seen = meta.flags.system.contains(SystemFlags::SEEN);
        if !options.keep_unseen && !seen {
            self.mail
                .set_flags(
                    folder.id,
                    &UidSet::single(uid),
                    FlagOp::Add,
                    &Flags::system(SystemFlags::SEEN),
                    None,
                )
                .await?;
        }
        let date = read_list::display_date(&meta);
        Ok(OpenedMessage {
            uid,
            // After `\Seen` was set, so the folder's unread count is the one now true.
            folder: self.summary_of(&folder).await?,
            subject: reading.subject.or(meta.subject).unwrap_or_default(),
            from: reading.from,
            from_address: reading.from_address,
            to: reading.to,
            cc: reading.cc,
            reply_to: reading.reply_to,
            date,
            message_id: reading.message_id,
            references: reading.references,
            text: reading.text,
            html: reading.html,
            has_remote_images: reading.has_remote_images,
            attachments: reading.attachments,
            // CLI-2: `None` for anything but a failure or delay report.
            bounce: crate::bounce::explain(&raw),
            flagged: meta.flags.system.contains(SystemFlags::FLAGGED),
        })
    }

    /// The raw message (download as `.eml`).
    pub async fn raw(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uid: u32,
    ) -> Result<Vec<u8>, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folder = self.checked_folder(mailbox, folder).await?;
        self.read_raw(&folder, uid).await
    }

    /// One attachment of a message, decoded.
    pub async fn attachment(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uid: u32,
        index: usize,
    ) -> Result<AttachmentData, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folder = self.checked_folder(mailbox, folder).await?;
        let raw = self.read_raw(&folder, uid).await?;
        let message = read_message::parse(&raw)?;
        read_message::attachment(&message, index).ok_or_else(|| {
            CoreError::NotFound(format!(
                "This message has no attachment number {}; open the message again.",
                index.saturating_add(1)
            ))
        })
    }

    /// The part of a message that a `cid:` image source of its HTML names (RFC 2392), decoded:
    /// the reader's page points `cid:` sources at this, since [`OpenedMessage::html`] keeps
    /// them as they are. `content_id` with or without angle brackets.
    pub async fn inline_part(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uid: u32,
        content_id: &str,
    ) -> Result<AttachmentData, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folder = self.checked_folder(mailbox, folder).await?;
        let raw = self.read_raw(&folder, uid).await?;
        let message = read_message::parse(&raw)?;
        read_message::inline_part(&message, content_id).ok_or_else(|| {
            CoreError::NotFound(
                "This message has no embedded image with that content id.".to_owned(),
            )
        })
    }

    /// Sets (`on`) or clears a flag on messages.
    pub async fn set_flag(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uids: &[u32],
        flag: MailFlag,
        on: bool,
    ) -> Result<(), CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let folder = self.checked_folder(mailbox, folder).await?;
        if uids.is_empty() {
            return Ok(());
        }
        let flag = match flag {
            MailFlag::Seen => SystemFlags::SEEN,
            MailFlag::Flagged => SystemFlags::FLAGGED,
        };
        let op = if on { FlagOp::Add } else { FlagOp::Remove };
        self.mail
            .set_flags(folder.id, &uid_set(uids), op, &Flags::system(flag), None)
            .await?;
        Ok(())
    }

    /// Moves messages to another folder of the same mailbox; learns like IMAP MOVE does
    /// (into or out of Junk, RCV-4). Returns how many moved.
    pub async fn move_to(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<usize, CoreError> {
        let own = self.checked_mailbox(user, mailbox).await?.address;
        let source = self.checked_folder(mailbox, folder).await?;
        let destination = self.checked_folder(mailbox, to).await?;
        if source.id == destination.id || uids.is_empty() {
            return Ok(0);
        }
        let folders = self.mail.list_folders(mailbox).await?;
        let source = with_role(source, &folders);
        let destination = with_role(destination, &folders);
        let (moved, _) = self
            .move_and_learn(mailbox, &own, &source, &destination, uids)
            .await?;
        Ok(moved)
    }

    /// Deletes messages: moved to Trash, or removed for good when already in Trash.
    pub async fn delete(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<usize, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let source = self.checked_folder(mailbox, folder).await?;
        if uids.is_empty() {
            return Ok(0);
        }
        let set = uid_set(uids);
        let trash = self.role_folder(mailbox, SpecialUse::Trash).await?;
        if trash.id != source.id {
            let copied = self.mail.move_messages(source.id, &set, trash.id).await?;
            return Ok(copied.uids.len());
        }
        // Already in Trash: `\Deleted` then an expunge of exactly these UIDs (UID EXPUNGE,
        // RFC 4315 §2.1), so messages another client marked are left to that client.
        self.mail
            .set_flags(
                source.id,
                &set,
                FlagOp::Add,
                &Flags::system(SystemFlags::DELETED),
                None,
            )
            .await?;
        let expunged = self.mail.expunge(source.id, Some(&set)).await?;
        Ok(expunged.uids.len())
    }

    /// Spam (`spam`: move to Junk, block the senders) or not spam (move to INBOX, allow the
    /// senders), RCV-4.
    pub async fn mark_spam(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uids: &[u32],
        spam: bool,
    ) -> Result<SpamOutcome, CoreError> {
        let own = self.checked_mailbox(user, mailbox).await?.address;
        let source = self.checked_folder(mailbox, folder).await?;
        let destination = if spam {
            self.role_folder(mailbox, SpecialUse::Junk).await?
        } else {
            self.mail
                .folder_by_name(mailbox, INBOX)
                .await?
                .ok_or_else(|| {
                    CoreError::NotFound("This mailbox has no INBOX to move the messages to.".into())
                })?
        };
        // Already where the button would put them: nothing moves, so nothing is learnt
        // (JunkLearning learns from a move, as IMAP teaches it).
        if source.id == destination.id || uids.is_empty() {
            return Ok(SpamOutcome::default());
        }
        let folders = self.mail.list_folders(mailbox).await?;
        let source = with_role(source, &folders);
        let destination = with_role(destination, &folders);
        let (moved, learnt) = self
            .move_and_learn(mailbox, &own, &source, &destination, uids)
            .await?;
        let learnt = learnt
            .blocked
            .iter()
            .chain(&learnt.allowed)
            .map(ToString::to_string)
            .collect();
        Ok(SpamOutcome { moved, learnt })
    }

    /// The switcher's entry for one access row.
    async fn linked(
        &self,
        access: &Access,
        address: &HostedAddress,
        service: Option<&MailService>,
    ) -> Result<LinkedMailbox, CoreError> {
        // SVC-4: the access row names one of the service's signature templates.
        let signature = access.signature.as_deref().and_then(|name| {
            service?
                .signature_templates
                .iter()
                .find(|template| template.name == name)
                .map(|template| template.body.clone())
        });
        let unread = match self.mail.folder_by_name(address.id, INBOX).await? {
            Some(inbox) => self.mail.unseen_counts(inbox.id).await?.1,
            None => 0,
        };
        Ok(LinkedMailbox {
            id: address.id,
            address: address.address.to_string(),
            display_name: Some(address.display_name.trim())
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
            permissions: access.permissions,
            signature,
            unread,
        })
    }

    /// The folder playing `role` in the mailbox, created with its usual name when missing
    /// (ADDR-11).
    async fn role_folder(&self, mailbox: AddressId, role: SpecialUse) -> Result<Folder, CoreError> {
        let folders = self.mail.list_folders(mailbox).await?;
        if let Some(folder) = folder_with_role(&folders, role) {
            return Ok(folder.clone());
        }
        let name = read_folders::default_name(role);
        match self.mail.create_folder(mailbox, name).await {
            Ok(folder) => Ok(folder),
            // Created by another session in between: use that one.
            Err(StoreError::Conflict(_)) => self
                .mail
                .folder_by_name(mailbox, name)
                .await?
                .ok_or_else(|| {
                    CoreError::NotFound(format!("The folder {name} disappeared; try again."))
                }),
            Err(error) => Err(error.into()),
        }
    }

    /// The list entry of a folder whose role is not known yet.
    async fn summary_of(&self, folder: &Folder) -> Result<FolderSummary, CoreError> {
        let folders = self.mail.list_folders(folder.mailbox).await?;
        self.summary(folder, role_of(folder, &folders)).await
    }

    /// The list entry of a folder playing `role`, with its counts.
    async fn summary(
        &self,
        folder: &Folder,
        role: Option<SpecialUse>,
    ) -> Result<FolderSummary, CoreError> {
        let (messages, unread) = self.mail.unseen_counts(folder.id).await?;
        Ok(FolderSummary {
            id: folder.id,
            name: folder.name.clone(),
            role: role.map(|role| role_name(role).to_owned()),
            messages,
            unread,
        })
    }

    /// The metadata of one message of the folder; `NotFound` when it is not there (moved or
    /// deleted meanwhile, or a UID made up).
    async fn message_meta(&self, folder: &Folder, uid: u32) -> Result<MessageMeta, CoreError> {
        self.mail
            .list_messages(folder.id, &UidSet::single(uid))
            .await?
            .into_iter()
            .find(|meta| meta.uid == uid)
            .ok_or_else(message_gone)
    }

    /// The raw bytes of one message of the folder.
    async fn read_raw(&self, folder: &Folder, uid: u32) -> Result<Vec<u8>, CoreError> {
        match self.mail.read_message(folder.id, uid).await {
            Ok(raw) => Ok(raw),
            Err(StoreError::NotFound(_)) => Err(message_gone()),
            Err(error) => Err(error.into()),
        }
    }

    /// MOVE, then RCV-4 learning from it. A failure to learn does not undo the move the user
    /// saw happen: it is logged, and nothing is reported learnt.
    async fn move_and_learn(
        &self,
        mailbox: AddressId,
        own: &Address,
        source: &Folder,
        destination: &Folder,
        uids: &[u32],
    ) -> Result<(usize, Learnt), CoreError> {
        let copied = self
            .mail
            .move_messages(source.id, &uid_set(uids), destination.id)
            .await?;
        let moved: Vec<u32> = copied.uids.iter().map(|&(_, to)| to).collect();
        let learnt = match self
            .junk
            .learn_as(mailbox, own, source, destination, &moved)
            .await
        {
            Ok(learnt) => learnt,
            Err(error) => {
                tracing::warn!(%mailbox, %error, "could not update the sender lists from a webmail move");
                Learnt::default()
            }
        };
        Ok((moved.len(), learnt))
    }
}

fn uid_set(uids: &[u32]) -> UidSet {
    UidSet::from_uids(uids.iter().copied())
}

fn message_gone() -> CoreError {
    CoreError::NotFound(
        "This message is no longer in the folder; it was moved or deleted. Reload the list.".into(),
    )
}
