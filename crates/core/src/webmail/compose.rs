//! Writing: sending identities, reply/forward prefills, sending (SND-1 guards, DKIM, queue,
//! SND-6), the copy in Sent, drafts, and large attachments as links (SND-7).
//!
//! The pieces: `compose_recipients` (the typed address fields), `compose_build` (the message,
//! with mail-builder), `compose_quote` (reply and forward texts), `compose_draft` (a stored
//! draft read back), `compose_send` (the submission as SMTP makes it), `shared_files` (SND-7).

use postwerk_message::MessageIndex;
use postwerk_model::{Address, AddressId, FolderId, HostedAddress, UserId};
use postwerk_store::{FlagOp, Flags, SystemFlags, UidSet};

use self::compose_build::{Outgoing, Variant, new_message_id};
use self::compose_draft::parse_draft;
use self::compose_quote::{
    ForwardedHeaders, forward_subject, forwarded, quoted_reply, reply_subject,
};
use self::compose_recipients::{NamedAddress, display_list, parse_entry, parse_list, without};
use self::compose_send::not_owned;
use super::{
    Draft, Identities, KeptAttachment, ReadOptions, ReplyKind, ReplyTarget, SendOutcome, Upload,
    Webmail,
};
use crate::CoreError;
use crate::auth::Login;

#[path = "compose_build.rs"]
mod compose_build;
#[path = "compose_draft.rs"]
mod compose_draft;
#[path = "compose_quote.rs"]
mod compose_quote;
#[path = "compose_recipients.rs"]
mod compose_recipients;
#[path = "compose_send.rs"]
mod compose_send;

/// Reading a message for a prefill or a reply header must not mark it read.
const UNSEEN: ReadOptions = ReadOptions {
    remote_images: false,
    keep_unseen: true,
};

/// The header fields of a message being written, checked.
struct Fields {
    from: NamedAddress,
    to: Vec<NamedAddress>,
    cc: Vec<NamedAddress>,
    bcc: Vec<NamedAddress>,
}

impl Webmail {
    /// The addresses the mailbox may send as (SND-1): itself and its aliases, in alias
    /// domains too, then the addresses it has been granted.
    pub async fn identities(
        &self,
        user: UserId,
        mailbox: AddressId,
    ) -> Result<Identities, CoreError> {
        let hosted = self.checked_mailbox(user, mailbox).await?;
        let addresses = self.identity_addresses(&hosted).await?;
        Ok(Identities {
            addresses: addresses.iter().map(ToString::to_string).collect(),
        })
    }

    /// The draft a reply, reply-all or forward of a message starts from: recipients, `Re:` /
    /// `Fwd:` subject, the quoted text, references, and (forward) the attachments kept.
    pub async fn prefill(
        &self,
        user: UserId,
        mailbox: AddressId,
        folder: FolderId,
        uid: u32,
        kind: ReplyKind,
    ) -> Result<Draft, CoreError> {
        let hosted = self.checked_mailbox(user, mailbox).await?;
        let original = self.open(user, mailbox, folder, uid, UNSEEN).await?;
        let own = self.identity_addresses(&hosted).await?;
        let named = |entries: &[String]| -> Vec<NamedAddress> {
            entries.iter().filter_map(|e| parse_entry(e).ok()).collect()
        };
        let (to, cc) = (named(&original.to), named(&original.cc));
        // Answer as the identity the message was sent to, else as the mailbox itself.
        let from = to
            .iter()
            .chain(&cc)
            .find(|n| own.contains(&n.address))
            .map_or_else(|| hosted.address.clone(), |n| n.address.clone());
        let mut draft = Draft {
            from: from.to_string(),
            ..Draft::default()
        };
        if kind == ReplyKind::Forward {
            draft.subject = forward_subject(&original.subject);
            let headers = ForwardedHeaders {
                from: &original.from,
                date: original.date,
                subject: &original.subject,
                to: &original.to,
                cc: &original.cc,
            };
            draft.body = forwarded(&headers, &original.text);
            draft.kept_attachments = original
                .attachments
                .iter()
                .map(|a| KeptAttachment {
                    folder,
                    uid,
                    index: a.index,
                })
                .collect();
            return Ok(draft);
        }
        // RFC 5322 §3.6.3: replies go to Reply-To when the message has one, else to From.
        let reply_to = if original.reply_to.is_empty() {
            named(std::slice::from_ref(&original.from))
        } else {
            named(&original.reply_to)
        };
        let reply_to = without(reply_to, &[]);
        if kind == ReplyKind::ReplyAll {
            let mut exclude = own;
            exclude.extend(reply_to.iter().map(|n| n.address.clone()));
            draft.cc = display_list(&without([to, cc].concat(), &exclude));
        }
        draft.to = display_list(&reply_to);
        draft.subject = reply_subject(&original.subject);
        draft.body = quoted_reply(original.date, &original.from, &original.text);
        draft.in_reply_to = Some(ReplyTarget { folder, uid });
        Ok(draft)
    }

    /// A draft stored in the Drafts folder, to edit it again.
    pub async fn load_draft(
        &self,
        user: UserId,
        mailbox: AddressId,
        uid: u32,
    ) -> Result<Draft, CoreError> {
        self.checked_mailbox(user, mailbox).await?;
        let drafts = self.special_folder(user, mailbox, "drafts").await?;
        // Through `open`, so the attachments are numbered as `attachment` numbers them.
        let opened = self.open(user, mailbox, drafts.id, uid, UNSEEN).await?;
        let raw = self.mail.read_message(drafts.id, uid).await?;
        let parsed = parse_draft(&raw);
        let mut draft = parsed.draft;
        if let Some(target) = parsed.reply_target
            && self.checked_folder(mailbox, target.folder).await.is_ok()
        {
            draft.in_reply_to = Some(target);
        }
        draft.kept_attachments = opened
            .attachments
            .iter()
            .map(|a| KeptAttachment {
                folder: drafts.id,
                uid,
                index: a.index,
            })
            .collect();
        draft.replaces_draft = Some(uid);
        Ok(draft)
    }

    /// Saves `draft` in Drafts (flag `\Draft`), replacing `draft.replaces_draft`; returns
    /// the new UID there.
    pub async fn save_draft(
        &self,
        user: UserId,
        mailbox: AddressId,
        draft: &Draft,
    ) -> Result<u32, CoreError> {
        let hosted = self.checked_mailbox(user, mailbox).await?;
        let fields = fields(&hosted, draft)?;
        let now = chrono::Utc::now().timestamp();
        // Kept attachments may live in the draft being replaced: read before it goes.
        let attachments = self.gather_attachments(user, mailbox, draft).await?;
        let (in_reply_to, references) = self.answered_ids(user, mailbox, draft).await?;
        let outgoing = Outgoing {
            from: fields.from,
            to: fields.to,
            cc: fields.cc,
            bcc: fields.bcc,
            subject: draft.subject.clone(),
            body: draft.body.clone(),
            message_id: new_message_id(&self.hostname),
            in_reply_to,
            references,
            attachments,
            date: now,
        };
        let raw = outgoing.build(Variant::Draft(draft.in_reply_to.as_ref()))?;
        let drafts = self.special_folder(user, mailbox, "drafts").await?;
        let flags = Flags::system(SystemFlags::DRAFT.union(SystemFlags::SEEN));
        let stored = self
            .mail
            .append(drafts.id, &raw, &MessageIndex::parse(&raw), &flags, now)
            .await?;
        if let Some(old) = draft.replaces_draft.filter(|&old| old != stored.uid) {
            remove_message(self, drafts.id, old).await?;
        }
        Ok(stored.uid)
    }

    /// Sends `draft`: builds the message, checks the guards, hands it to delivery, stores
    /// the copy in Sent, marks the answered message `\Answered`, removes the draft it
    /// replaces.
    pub async fn send(
        &self,
        user: UserId,
        mailbox: AddressId,
        draft: &Draft,
        now: i64,
    ) -> Result<SendOutcome, CoreError> {
        let hosted = self.checked_mailbox(user, mailbox).await?;
        let fields = fields(&hosted, draft)?;
        let login = Login {
            mailbox: hosted.id,
            address: hosted.address.clone(),
            epoch: hosted.credential_epoch,
        };
        // SND-1 before anything is stored or counted.
        if !self.guards.owns(&login, &fields.from.address).await? {
            return Ok(not_owned(&fields.from.address));
        }
        let everyone = without(
            [fields.to.clone(), fields.cc.clone(), fields.bcc.clone()].concat(),
            &[],
        );
        if everyone.is_empty() {
            return Err(CoreError::Invalid(
                "Add at least one recipient in To, Cc or Bcc.".into(),
            ));
        }
        let files = self.gather_attachments(user, mailbox, draft).await?;
        let (large, small): (Vec<Upload>, Vec<Upload>) = files.into_iter().partition(|f| {
            u64::try_from(f.bytes.len()).unwrap_or(u64::MAX) > self.large_attachment
        });
        let size = estimated_size(&draft.body, &small);
        let recipients = match self
            .envelope_recipients(&login, &everyone, size, now)
            .await?
        {
            Ok(recipients) => recipients,
            Err(refused) => return Ok(refused),
        };
        // SND-7: files above the limit travel as links.
        let mut body = draft.body.clone();
        let mut links = Vec::new();
        for (n, file) in large.iter().enumerate() {
            let link = self.share(mailbox, file, now).await?;
            body.push_str(if n == 0 { "\n\n" } else { "\n" });
            body.push_str(&link.line);
            links.push(link.url);
        }
        if !large.is_empty() {
            body.push('\n');
        }
        let (in_reply_to, references) = self.answered_ids(user, mailbox, draft).await?;
        let outgoing = Outgoing {
            from: fields.from,
            to: fields.to,
            cc: fields.cc,
            bcc: fields.bcc,
            subject: draft.subject.clone(),
            body,
            message_id: new_message_id(&self.hostname),
            in_reply_to,
            references,
            attachments: small,
            date: now,
        };
        let raw = outgoing.build(Variant::Sent)?;
        if let Some(refused) = self
            .submit(login, &outgoing.from.address, recipients, &raw, now)
            .await?
        {
            return Ok(refused);
        }
        // The message is out: what follows must not make the person send it twice, so a
        // failure is logged and the answer still says it was sent.
        let sent_uid = self.keep_sent_copy(user, mailbox, &outgoing, now).await;
        self.after_sending(user, mailbox, draft, now).await;
        Ok(SendOutcome::Sent { sent_uid, links })
    }

    /// The mailbox's address, its aliases, and both in each alias domain of its service.
    async fn identity_addresses(&self, hosted: &HostedAddress) -> Result<Vec<Address>, CoreError> {
        let aliases = self.directory.list_aliases(hosted.id).await?;
        let alias_domains = match self.directory.service(hosted.service).await? {
            Some(service) => service.alias_domains,
            None => Vec::new(),
        };
        let locals: Vec<_> = std::iter::once(hosted.address.local().clone())
            .chain(aliases.into_iter().map(|alias| alias.local))
            .collect();
        let mut addresses = Vec::new();
        for domain in std::iter::once(hosted.address.domain()).chain(&alias_domains) {
            for local in &locals {
                if let Ok(address) = Address::new(local.clone(), domain.clone())
                    && !addresses.contains(&address)
                {
                    addresses.push(address);
                }
            }
        }
        for granted in self.granted_identities(hosted.id).await? {
            if !addresses.contains(&granted) {
                addresses.push(granted);
            }
        }
        Ok(addresses)
    }

    /// The uploads, then the kept attachments read from their messages.
    async fn gather_attachments(
        &self,
        user: UserId,
        mailbox: AddressId,
        draft: &Draft,
    ) -> Result<Vec<Upload>, CoreError> {
        let mut files = draft.attachments.clone();
        for kept in &draft.kept_attachments {
            let data = self
                .attachment(user, mailbox, kept.folder, kept.uid, kept.index)
                .await?;
            files.push(Upload {
                file_name: data.file_name,
                content_type: data.content_type,
                bytes: data.bytes,
            });
        }
        Ok(files)
    }

    /// `In-Reply-To` and `References` for a draft that answers a message (RFC 5322 §3.6.4):
    /// the answered message's Message-ID, and its References followed by that id. Nothing
    /// when the message is gone meanwhile.
    async fn answered_ids(
        &self,
        user: UserId,
        mailbox: AddressId,
        draft: &Draft,
    ) -> Result<(Option<String>, Vec<String>), CoreError> {
        let Some(target) = &draft.in_reply_to else {
            return Ok((None, Vec::new()));
        };
        let answered = match self
            .open(user, mailbox, target.folder, target.uid, UNSEEN)
            .await
        {
            Ok(answered) => answered,
            Err(CoreError::NotFound(_)) => return Ok((None, Vec::new())),
            Err(error) => return Err(error),
        };
        let Some(id) = answered.message_id.as_deref().map(bare_id) else {
            return Ok((None, Vec::new()));
        };
        let mut references: Vec<String> = answered.references.iter().map(|r| bare_id(r)).collect();
        references.push(id.clone());
        Ok((Some(id), references))
    }

    /// Appends the sender's copy (with `Bcc:`) to Sent, `\Seen`; its UID, `None` if it
    /// could not be kept.
    async fn keep_sent_copy(
        &self,
        user: UserId,
        mailbox: AddressId,
        outgoing: &Outgoing,
        now: i64,
    ) -> Option<u32> {
        let kept = async {
            let raw = outgoing.build(Variant::Kept)?;
            let sent = self.special_folder(user, mailbox, "sent").await?;
            let flags = Flags::system(SystemFlags::SEEN);
            let stored = self
                .mail
                .append(sent.id, &raw, &MessageIndex::parse(&raw), &flags, now)
                .await?;
            Ok::<_, CoreError>(stored.uid)
        };
        match kept.await {
            Ok(uid) => Some(uid),
            Err(error) => {
                tracing::error!(%error, mailbox = %mailbox, "keeping a sent message in Sent failed");
                None
            }
        }
    }

    /// After a message left: `\Answered` on the message it answers, the draft it came from
    /// removed, expired shared files purged. Failures are logged only.
    async fn after_sending(&self, user: UserId, mailbox: AddressId, draft: &Draft, now: i64) {
        if let Some(target) = &draft.in_reply_to {
            let answered = async {
                let folder = self.checked_folder(mailbox, target.folder).await?;
                let flags = Flags::system(SystemFlags::ANSWERED);
                self.mail
                    .set_flags(
                        folder.id,
                        &UidSet::single(target.uid),
                        FlagOp::Add,
                        &flags,
                        None,
                    )
                    .await?;
                Ok::<_, CoreError>(())
            };
            if let Err(error) = answered.await {
                tracing::error!(%error, "marking an answered message \\Answered failed");
            }
        }
        if let Some(uid) = draft.replaces_draft {
            let removed = async {
                let drafts = self.special_folder(user, mailbox, "drafts").await?;
                remove_message(self, drafts.id, uid).await
            };
            if let Err(error) = removed.await {
                tracing::error!(%error, "removing the draft of a sent message failed");
            }
        }
        if let Err(error) = self.purge_shared_files(now).await {
            tracing::error!(%error, "removing expired shared files failed");
        }
    }
}

/// The checked header fields of `draft`: the sender (the mailbox itself when left empty, with
/// its display name when none was typed) and the recipients.
fn fields(hosted: &HostedAddress, draft: &Draft) -> Result<Fields, CoreError> {
    let mut from = if draft.from.trim().is_empty() {
        NamedAddress {
            name: None,
            address: hosted.address.clone(),
        }
    } else {
        parse_entry(&draft.from)?
    };
    if from.name.is_none() && !hosted.display_name.is_empty() {
        from.name = Some(hosted.display_name.clone());
    }
    Ok(Fields {
        from,
        to: parse_list(&draft.to)?,
        cc: parse_list(&draft.cc)?,
        bcc: parse_list(&draft.bcc)?,
    })
}

/// A Message-ID without its angle brackets.
fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// About the size of the message built from `body` and `attachments` (base64 adds a third),
/// for the storage limits checked at RCPT (ADDR-10).
fn estimated_size(body: &str, attachments: &[Upload]) -> u64 {
    let files: usize = attachments.iter().map(|f| f.bytes.len() / 3 * 4 + 4).sum();
    u64::try_from(body.len() + files + 2048).unwrap_or(u64::MAX)
}

/// Removes one message of `folder` for good (`\Deleted`, then UID EXPUNGE of it alone).
async fn remove_message(webmail: &Webmail, folder: FolderId, uid: u32) -> Result<(), CoreError> {
    let only = UidSet::single(uid);
    let deleted = Flags::system(SystemFlags::DELETED);
    webmail
        .mail
        .set_flags(folder, &only, FlagOp::Add, &deleted, None)
        .await?;
    webmail.mail.expunge(folder, Some(&only)).await?;
    Ok(())
}
