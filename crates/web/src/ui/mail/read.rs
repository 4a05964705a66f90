//! Reading a message (CLI-1): headers, the text, the sanitised HTML in a sandboxed frame
//! (body.rs), attachments, the buttons, and the bounce explainer box (CLI-2).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use postwerk_core::bounce::{Action, Explanation};
use postwerk_core::webmail::{FolderSummary, OpenedMessage, ReadOptions};
use postwerk_model::{AddressId, FolderId};
use serde::Deserialize;

use super::list::Sidebar;
use super::{compose_path, folder_label, folder_path, format, message_path, webmail};
use crate::ApiState;
use crate::ui::format::{date_time, file_size};
use crate::ui::page::{self, Layout, PageError, PageUser};

/// `?images=1`: the reader asked to see the remote images of this message.
#[derive(Debug, Default, Deserialize)]
pub struct ImagesParam {
    images: Option<String>,
}

impl ImagesParam {
    pub fn allowed(&self) -> bool {
        self.images.as_deref() == Some("1")
    }
}

struct AttachmentLine {
    name: String,
    content_type: String,
    size: String,
    path: String,
}

/// One recipient of a delivery failure report, in words.
struct BounceLine {
    recipient: String,
    label: &'static str,
    what_happened: &'static str,
    what_to_do: &'static str,
    remote_words: Option<String>,
    remote_server: Option<String>,
    status: Option<String>,
}

struct BounceBox {
    failed: bool,
    summary: String,
    recipients: Vec<BounceLine>,
}

impl BounceBox {
    fn new(explanation: &Explanation) -> BounceBox {
        BounceBox {
            failed: explanation.action == Action::Failed,
            summary: explanation.summary.clone(),
            recipients: explanation
                .recipients
                .iter()
                .map(|r| BounceLine {
                    recipient: r
                        .address
                        .clone()
                        .unwrap_or_else(|| "A recipient the report does not name".to_owned()),
                    label: r.class.label(),
                    what_happened: r.class.what_happened(),
                    what_to_do: r.class.what_to_do(),
                    remote_words: r.diagnostic.clone(),
                    remote_server: r.remote_mta.clone(),
                    status: r.status.clone(),
                })
                .collect(),
        }
    }
}

/// A folder the "Move to" list offers (`mail/message_actions.html`).
pub(super) struct MoveTarget {
    pub(super) id: String,
    pub(super) label: String,
}

/// The folders a message of `current` may be moved to: all the others.
pub(super) fn move_targets(folders: &[FolderSummary], current: FolderId) -> Vec<MoveTarget> {
    folders
        .iter()
        .filter(|f| f.id != current)
        .map(|f| MoveTarget {
            id: f.id.to_string(),
            label: folder_label(f),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "mail/read.html")]
struct ReadPage {
    layout: Layout,
    sidebar: Sidebar,
    uid: u32,
    subject: String,
    from: String,
    to: String,
    cc: String,
    reply_to: String,
    date: String,
    text: String,
    /// The frame's address when the message has an HTML body.
    frame: Option<String>,
    /// The "show them" link when remote images were blocked.
    show_images: Option<String>,
    attachments: Vec<AttachmentLine>,
    bounce: Option<BounceBox>,
    flagged: bool,
    is_junk: bool,
    list: String,
    actions: String,
    back_here: String,
    raw: String,
    reply: String,
    reply_all: String,
    forward: String,
    edit_draft: Option<String>,
    move_targets: Vec<MoveTarget>,
}

/// `GET /mail/{mailbox}/{folder}/{uid}`: opens the message, which marks it read.
pub async fn message(
    State(state): State<ApiState>,
    me: PageUser,
    Path((mailbox, folder, uid)): Path<(AddressId, FolderId, u32)>,
    Query(images): Query<ImagesParam>,
) -> Result<Response, PageError> {
    let images = images.allowed();
    let opened = open(&state, &me, (mailbox, folder, uid), images, false).await?;
    // After opening, so the folder's unread count already counts this message as read.
    let (sidebar, folders) = Sidebar::load(&state, &me, mailbox, Some(folder)).await?;
    let here = message_path(mailbox, folder, uid);
    let page = ReadPage {
        layout: me.layout(shown_subject(&opened.subject), "mail"),
        uid,
        subject: shown_subject(&opened.subject),
        from: opened.from.clone(),
        to: opened.to.join(", "),
        cc: opened.cc.join(", "),
        reply_to: opened.reply_to.join(", "),
        date: date_time(opened.date),
        text: opened.text.clone(),
        frame: opened.html.as_ref().map(|_| {
            if images {
                format!("{here}/body?images=1")
            } else {
                format!("{here}/body")
            }
        }),
        show_images: (opened.has_remote_images && !images).then(|| format!("{here}?images=1")),
        attachments: attachments(&opened, &here),
        bounce: opened.bounce.as_ref().map(BounceBox::new),
        flagged: opened.flagged,
        is_junk: opened.folder.role.as_deref() == Some("junk"),
        list: folder_path(mailbox, folder),
        actions: format!("{}/actions", folder_path(mailbox, folder)),
        back_here: here.clone(),
        raw: format!("{here}/raw"),
        reply: reply_link(mailbox, folder, uid, "reply"),
        reply_all: reply_link(mailbox, folder, uid, "reply_all"),
        forward: reply_link(mailbox, folder, uid, "forward"),
        edit_draft: (opened.folder.role.as_deref() == Some("drafts"))
            .then(|| format!("{}?draft={uid}", compose_path(mailbox))),
        move_targets: move_targets(&folders, folder),
        sidebar,
    };
    Ok(page::render(&page))
}

/// Opens the message `uid` of a reading URL as `me`, with its remote images when the reader
/// asked for them. It is marked read unless `keep_unseen` (the body frame, loaded by the
/// reading page that already marked it).
pub(super) async fn open(
    state: &ApiState,
    me: &PageUser,
    (mailbox, folder, uid): (AddressId, FolderId, u32),
    images: bool,
    keep_unseen: bool,
) -> Result<OpenedMessage, PageError> {
    let options = ReadOptions {
        remote_images: images,
        keep_unseen,
    };
    let webmail = webmail(state)?;
    Ok(webmail
        .open(me.user.id, mailbox, folder, uid, options)
        .await?)
}

/// A message's subject as the list and the reading page show it, with a word for none.
pub(super) fn shown_subject(subject: &str) -> String {
    if subject.trim().is_empty() {
        "(no subject)".to_owned()
    } else {
        subject.to_owned()
    }
}

fn attachments(opened: &OpenedMessage, here: &str) -> Vec<AttachmentLine> {
    opened
        .attachments
        .iter()
        .map(|a| AttachmentLine {
            name: format::safe_file_name(&a.file_name, "attachment"),
            content_type: a.content_type.clone(),
            size: file_size(a.size),
            path: format!("{here}/attachments/{}", a.index),
        })
        .collect()
}

fn reply_link(mailbox: AddressId, folder: FolderId, uid: u32, kind: &str) -> String {
    format!(
        "{}?reply={uid}&folder={folder}&kind={kind}",
        compose_path(mailbox)
    )
}
