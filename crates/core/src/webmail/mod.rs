//! Webmail (CLI-1): what a signed-in user account does with the mailboxes linked to it,
//! without IMAP in between but with the same store and the same rules as the protocols.
//!
//! ```text
//!  web::ui::mail (pages) ─► Webmail(user, mailbox, …)
//!        │ access check: the account's ADDR-9 grant on the mailbox (READ_SEND), in every call
//!        ├─ read.rs      folders, message list (sort, page, search), reading (sanitize.rs:
//!        │               ammonia, remote images blocked), attachments, flags, move, Trash,
//!        │               spam / not spam (JunkLearning, RCV-4)
//!        └─ compose.rs   build (mail-builder), SND-1 guards, send through core::Delivery
//!                        (DKIM, queue, SND-6 limits and scoring), copy to Sent, drafts,
//!                        large attachments as expiring links (shared_files.rs, SND-7)
//! ```
//!
//! Every method takes the account (`UserId`) and the mailbox, and refuses with
//! `CoreError::Forbidden` when the account has no access to the mailbox, and with
//! `CoreError::NotFound` for a folder or message that is not the mailbox's: a page can
//! never reach another mailbox by changing an id in a URL.

mod compose;
mod read;
pub mod sanitize;
mod shared_files;

use std::sync::Arc;

use postwerk_model::{Address, AddressId, FolderId, Permissions};
use postwerk_store::{BlobStore, Directory, MailStore, ManagerStore};
use serde::Serialize;

use crate::CoreError;
use crate::bounce::Explanation;
use crate::delivery::Delivery;
use crate::junk_learning::JunkLearning;
use crate::submission::AuthGuards;

pub use read::{FolderChange, MailboxEvents};
pub use shared_files::{SHARED_FILE_LIFETIME_SECS, SharedFile};

/// Messages per page of the message list unless the page asks otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most messages a page may list.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Attachments above this many octets are not put in the message but stored on the platform
/// and replaced by a download link (SND-7).
pub const DEFAULT_LARGE_ATTACHMENT: u64 = 10 * 1024 * 1024;

/// The webmail use cases.
#[derive(Clone)]
pub struct Webmail {
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) mail: Arc<dyn MailStore>,
    pub(crate) manager: Arc<dyn ManagerStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) delivery: Delivery,
    pub(crate) guards: AuthGuards,
    pub(crate) junk: JunkLearning,
    /// The platform's host name (Message-ID right-hand side).
    pub(crate) hostname: String,
    /// The public base URL of the web listener, e.g. `https://mail.example.com`, for the
    /// download links of large attachments (SND-7).
    pub(crate) public_url: String,
    /// See [`DEFAULT_LARGE_ATTACHMENT`].
    pub(crate) large_attachment: u64,
}

impl std::fmt::Debug for Webmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webmail")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

/// What [`Webmail::new`] is built from.
pub struct WebmailParts {
    pub directory: Arc<dyn Directory>,
    pub mail: Arc<dyn MailStore>,
    pub manager: Arc<dyn ManagerStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub delivery: Delivery,
    pub hostname: String,
    pub public_url: String,
}

impl Webmail {
    /// The webmail over these stores; large attachments above [`DEFAULT_LARGE_ATTACHMENT`].
    pub fn new(parts: WebmailParts) -> Webmail {
        Webmail {
            guards: AuthGuards::new(parts.directory.clone()),
            junk: JunkLearning::new(parts.mail.clone(), parts.manager.clone()),
            directory: parts.directory,
            mail: parts.mail,
            manager: parts.manager,
            blobs: parts.blobs,
            delivery: parts.delivery,
            hostname: parts.hostname,
            public_url: parts.public_url.trim_end_matches('/').to_owned(),
            large_attachment: DEFAULT_LARGE_ATTACHMENT,
        }
    }

    /// Attachments above `octets` become download links (SND-7).
    pub fn with_large_attachment(mut self, octets: u64) -> Webmail {
        self.large_attachment = octets;
        self
    }

    /// The sending identities the mailbox has been granted (SND-1 send-as grants), after its
    /// own: each granted address as stored, which the guards accept like the mailbox's own.
    pub(crate) async fn granted_identities(
        &self,
        mailbox: AddressId,
    ) -> Result<Vec<Address>, CoreError> {
        let granted = self.directory.send_as_grants(mailbox).await?;
        Ok(granted.into_iter().map(|hosted| hosted.address).collect())
    }
}

/// A mailbox linked to the account (ADDR-9), as the mailbox switcher shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkedMailbox {
    /// The mailbox.
    pub id: AddressId,
    /// Its address.
    pub address: String,
    /// Its display name, if set.
    pub display_name: Option<String>,
    /// What the account may do with it.
    pub permissions: Permissions,
    /// The signature text picked for the account (SVC-4), if any.
    pub signature: Option<String>,
    /// Messages without `\Seen` in its INBOX.
    pub unread: u32,
}

/// One folder in the folder list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FolderSummary {
    /// The folder.
    pub id: FolderId,
    /// Full name with `/` as delimiter (`INBOX`, `Archive/2025`).
    pub name: String,
    /// The RFC 6154 role in lower case (`sent`, `drafts`, `trash`, `junk`, `archive`), if any.
    pub role: Option<String>,
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unread: u32,
}

/// How the message list is ordered.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// By arrival in the folder (UID order), newest first (the default).
    #[default]
    Arrival,
    /// By the Date header.
    Date,
    /// By sender address.
    From,
    /// By subject, ignoring `Re:`/`Fwd:` (RFC 5256 base subject).
    Subject,
    /// By size.
    Size,
}

/// What page of which messages to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// The order.
    pub sort: SortKey,
    /// Oldest (or smallest, or A) first instead of newest first.
    pub ascending: bool,
    /// 1-based page number.
    pub page: u32,
    /// Messages per page, at most [`MAX_PAGE_SIZE`]; 0 means [`DEFAULT_PAGE_SIZE`].
    pub per_page: u32,
    /// Only messages whose headers or text contain this, case-insensitively.
    pub search: Option<String>,
    /// Only messages without `\Seen`.
    pub unread_only: bool,
}

/// One line of the message list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageLine {
    pub uid: u32,
    pub subject: String,
    /// The first From address (`mailbox@host`), or empty.
    pub from: String,
    /// The Date header, else the arrival time (Unix seconds).
    pub date: i64,
    pub size: u64,
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub has_attachments: bool,
}

/// One page of the message list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessagePage {
    /// The folder listed.
    pub folder: FolderSummary,
    /// The messages of this page, in the asked order.
    pub messages: Vec<MessageLine>,
    /// The page shown (1-based; clamped to the last page).
    pub page: u32,
    /// Messages per page used.
    pub per_page: u32,
    /// Messages matching the query in the whole folder.
    pub total: u32,
}

/// A message opened for reading.
#[derive(Clone, Debug, Serialize)]
pub struct OpenedMessage {
    pub uid: u32,
    pub folder: FolderSummary,
    pub subject: String,
    /// `From:` as written for display (`Name <a@b>`).
    pub from: String,
    /// The first From address alone, for the spam buttons and replies.
    pub from_address: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// `Reply-To:` addresses, if any.
    pub reply_to: Vec<String>,
    /// The Date header, else the arrival time (Unix seconds).
    pub date: i64,
    /// The Message-ID, for replies (`In-Reply-To`, `References`).
    pub message_id: Option<String>,
    /// The References of the message, for replies.
    pub references: Vec<String>,
    /// The text body (the text/plain part, or the HTML part turned into text).
    pub text: String,
    /// The HTML body after [`sanitize`], if the message has one; remote images are kept only
    /// when [`ReadOptions::remote_images`] was asked.
    pub html: Option<String>,
    /// Whether the HTML refers to remote images that were blocked.
    pub has_remote_images: bool,
    pub attachments: Vec<AttachmentInfo>,
    /// CLI-2: the plain-language explanation when the message is a delivery failure report.
    pub bounce: Option<Explanation>,
    pub flagged: bool,
}

/// Options for [`Webmail::open`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Keep remote images in the sanitised HTML (the reader clicked "show images").
    pub remote_images: bool,
    /// Do not set `\Seen` (opening a draft, the HTML frame's second request).
    pub keep_unseen: bool,
}

/// An attachment of an opened message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    /// Its number among the message's attachments (0-based), as [`Webmail::attachment`] takes.
    pub index: usize,
    pub file_name: String,
    pub content_type: String,
    /// Decoded size in octets.
    pub size: u64,
}

/// An attachment's content, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentData {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A flag the list or the reader toggles.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MailFlag {
    Seen,
    Flagged,
}

/// What happened when messages were marked as spam or not spam (RCV-4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SpamOutcome {
    /// Messages moved.
    pub moved: usize,
    /// Sender addresses added to the mailbox's block list (spam) or allow list (not spam).
    pub learnt: Vec<String>,
}

/// A message being written: what the compose form sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    /// The sending identity: the mailbox's address or one it owns (SND-1).
    pub from: String,
    /// Recipients as typed, comma-separated addresses (`Name <a@b>` accepted).
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    /// The text; the signature is already in it when the form added it.
    pub body: String,
    /// The message answered, for `In-Reply-To`/`References` and `\Answered`.
    pub in_reply_to: Option<ReplyTarget>,
    /// Attachments uploaded with the form.
    pub attachments: Vec<Upload>,
    /// Attachments of the message forwarded or of the draft being edited, kept by reference.
    pub kept_attachments: Vec<KeptAttachment>,
    /// The draft this one replaces (its UID in the Drafts folder), deleted once saved or sent.
    pub replaces_draft: Option<u32>,
}

/// The message a draft answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTarget {
    pub folder: FolderId,
    pub uid: u32,
}

/// An attachment of another message carried into a draft (forward, edited draft).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptAttachment {
    pub folder: FolderId,
    pub uid: u32,
    /// Its index among that message's attachments.
    pub index: usize,
}

/// A file uploaded with the compose form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What compose prefills for a reply, reply-all or forward.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    Reply,
    ReplyAll,
    Forward,
}

/// The outcome of sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued or delivered; a copy is in Sent at this UID.
    Sent {
        sent_uid: Option<u32>,
        /// Links made for large attachments (SND-7).
        links: Vec<String>,
    },
    /// SND-6: held for an administrator's review; the sentence says why.
    Held(String),
    /// Refused: a sentence for the person (SND-1 guards, a recipient refused, over a limit).
    Refused(String),
}

/// The sending identities of a mailbox: its address, its aliases and the addresses it has been
/// granted (SND-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identities {
    pub addresses: Vec<String>,
}

/// The permission every webmail call needs (ADDR-9).
pub(crate) const WEBMAIL: Permissions = Permissions::READ_SEND;
