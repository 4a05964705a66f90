//! Writing (CLI-1): new messages with the signature, replies, reply-all, forwards, drafts
//! (saved by the button, or every ~20 s by mail.js), attachments, and sending through
//! `core::Webmail::send` (SND-1 guards, SND-6, SND-7 links for large files).
//!
//! `GET /mail/{mailbox}/compose[?reply=uid&folder=id&kind=reply|reply_all|forward | ?draft=uid]`
//! `POST` the same path (multipart): `action=send` or `action=save`. A save asked with
//! `Accept: application/json` (mail.js) answers `{"draft": uid}` instead of a redirect.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postwerk_core::webmail::{
    Draft, KeptAttachment, ReadOptions, ReplyKind, ReplyTarget, SendOutcome, Upload,
};
use postwerk_model::{AddressId, FolderId};
use serde::Deserialize;

use super::list::Sidebar;
use super::{compose_path, folder_path, format, inbox, now, webmail};
use crate::ApiState;
use crate::ui::page::{self, Layout, PageError, PageUser};

/// What the compose page is opened for.
#[derive(Debug, Default, Deserialize)]
pub struct ComposeParams {
    reply: Option<u32>,
    folder: Option<FolderId>,
    kind: Option<String>,
    draft: Option<u32>,
}

struct KeptLine {
    /// `folder:uid:index`, the value the form sends back.
    key: String,
    name: String,
}

#[derive(Template)]
#[template(path = "mail/compose.html")]
struct ComposePage {
    layout: Layout,
    sidebar: Sidebar,
    action: String,
    identities: Vec<(String, bool)>,
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    body: String,
    reply_folder: String,
    reply_uid: String,
    replaces_draft: String,
    kept: Vec<KeptLine>,
    problem: Option<String>,
    large_attachment: String,
}

/// `GET /mail/{mailbox}/compose`.
pub async fn form(
    State(state): State<ApiState>,
    me: PageUser,
    Path(mailbox): Path<AddressId>,
    Query(params): Query<ComposeParams>,
) -> Response {
    match start(&state, &me, mailbox, &params).await {
        Ok(draft) => show(&state, &me, mailbox, &draft, None, StatusCode::OK).await,
        Err(error) => error.into_response(),
    }
}

/// The draft the form starts from.
async fn start(
    state: &ApiState,
    me: &PageUser,
    mailbox: AddressId,
    params: &ComposeParams,
) -> Result<Draft, PageError> {
    let webmail = webmail(state)?;
    let user = me.user.id;
    if let Some(uid) = params.draft {
        let mut draft = webmail.load_draft(user, mailbox, uid).await?;
        draft.replaces_draft = Some(uid);
        return Ok(draft);
    }
    if let Some(uid) = params.reply {
        let folder = params.folder.ok_or_else(|| {
            PageError::invalid(
                "This reply link is incomplete; open the message again and reply from there.",
            )
        })?;
        let kind = match params.kind.as_deref() {
            Some("reply_all") => ReplyKind::ReplyAll,
            Some("forward") => ReplyKind::Forward,
            _ => ReplyKind::Reply,
        };
        return Ok(webmail.prefill(user, mailbox, folder, uid, kind).await?);
    }
    // A new message: from the mailbox itself, with the account's signature (SVC-4) below.
    let linked = webmail.mailbox(user, mailbox).await?;
    let body = match linked.signature.as_deref().map(str::trim_end) {
        Some(signature) if !signature.is_empty() => format!("\n\n-- \n{signature}\n"),
        _ => String::new(),
    };
    Ok(Draft {
        from: linked.address,
        body,
        ..Draft::default()
    })
}

/// Draws the form for `draft`, with `problem` above it.
async fn show(
    state: &ApiState,
    me: &PageUser,
    mailbox: AddressId,
    draft: &Draft,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    match compose_page(state, me, mailbox, draft, problem).await {
        Ok(page) => page::render_with(status, &page),
        Err(error) => error.into_response(),
    }
}

async fn compose_page(
    state: &ApiState,
    me: &PageUser,
    mailbox: AddressId,
    draft: &Draft,
    problem: Option<String>,
) -> Result<ComposePage, PageError> {
    let webmail = webmail(state)?;
    let user = me.user.id;
    let (sidebar, _) = Sidebar::load(state, me, mailbox, None).await?;
    let mut identities: Vec<(String, bool)> = webmail
        .identities(user, mailbox)
        .await?
        .addresses
        .into_iter()
        .map(|address| {
            let selected = address.eq_ignore_ascii_case(&draft.from);
            (address, selected)
        })
        .collect();
    if !identities.iter().any(|(_, selected)| *selected)
        && let Some(first) = identities.first_mut()
    {
        first.1 = true;
    }
    let title = if draft.subject.trim().is_empty() {
        "New message".to_owned()
    } else {
        draft.subject.clone()
    };
    Ok(ComposePage {
        layout: me.layout(title, "mail"),
        sidebar,
        action: compose_path(mailbox),
        identities,
        to: draft.to.clone(),
        cc: draft.cc.clone(),
        bcc: draft.bcc.clone(),
        subject: draft.subject.clone(),
        body: draft.body.clone(),
        reply_folder: draft
            .in_reply_to
            .as_ref()
            .map(|r| r.folder.to_string())
            .unwrap_or_default(),
        reply_uid: draft
            .in_reply_to
            .as_ref()
            .map(|r| r.uid.to_string())
            .unwrap_or_default(),
        replaces_draft: draft
            .replaces_draft
            .map(|uid| uid.to_string())
            .unwrap_or_default(),
        kept: kept_lines(state, me, mailbox, &draft.kept_attachments).await?,
        problem,
        large_attachment: crate::ui::format::file_size(
            postwerk_core::webmail::DEFAULT_LARGE_ATTACHMENT,
        ),
    })
}

/// The names of the attachments carried over, read from their messages (each opened once,
/// without marking it read).
async fn kept_lines(
    state: &ApiState,
    me: &PageUser,
    mailbox: AddressId,
    kept: &[KeptAttachment],
) -> Result<Vec<KeptLine>, PageError> {
    let webmail = webmail(state)?;
    let mut names: BTreeMap<(FolderId, u32), Vec<(usize, String)>> = BTreeMap::new();
    for message in kept.iter().map(|k| (k.folder, k.uid)) {
        if names.contains_key(&message) {
            continue;
        }
        let options = ReadOptions {
            remote_images: false,
            keep_unseen: true,
        };
        let opened = webmail
            .open(me.user.id, mailbox, message.0, message.1, options)
            .await?;
        names.insert(
            message,
            opened
                .attachments
                .into_iter()
                .map(|a| (a.index, a.file_name))
                .collect(),
        );
    }
    Ok(kept
        .iter()
        .map(|k| KeptLine {
            key: format!("{}:{}:{}", k.folder, k.uid, k.index),
            name: names
                .get(&(k.folder, k.uid))
                .and_then(|list| list.iter().find(|(index, _)| *index == k.index))
                .map(|(_, name)| format::safe_file_name(name, "attachment"))
                .unwrap_or_else(|| "attachment".to_owned()),
        })
        .collect())
}

/// What the form posts.
struct Submitted {
    action: String,
    draft: Draft,
}

/// Reads the multipart form into a draft.
async fn read_form(mut multipart: Multipart) -> Result<Submitted, PageError> {
    let unreadable =
        || PageError::invalid("The form could not be read completely; please send it again.");
    let mut draft = Draft::default();
    let mut action = String::new();
    let mut reply_folder: Option<FolderId> = None;
    let mut reply_uid: Option<u32> = None;
    let mut kept: Vec<String> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "attachments" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = field.bytes().await.map_err(|_| unreadable())?;
            // An empty file input still sends one part without a name.
            if !file_name.is_empty() || !bytes.is_empty() {
                draft.attachments.push(Upload {
                    file_name: format::safe_file_name(&file_name, "attachment"),
                    content_type,
                    bytes: bytes.to_vec(),
                });
            }
            continue;
        }
        let value = field.text().await.map_err(|_| unreadable())?;
        match name.as_str() {
            "action" => action = value,
            "from" => draft.from = value,
            "to" => draft.to = value,
            "cc" => draft.cc = value,
            "bcc" => draft.bcc = value,
            "subject" => draft.subject = value,
            // Browsers send CRLF line ends for textareas; the message builder makes its own.
            "body" => draft.body = value.replace("\r\n", "\n"),
            "reply_folder" => reply_folder = value.parse().ok(),
            "reply_uid" => reply_uid = value.parse().ok(),
            "replaces_draft" => draft.replaces_draft = value.parse().ok(),
            "kept" => kept.push(value),
            "remove" => removed.push(value),
            _ => {}
        }
    }
    if let (Some(folder), Some(uid)) = (reply_folder, reply_uid) {
        draft.in_reply_to = Some(ReplyTarget { folder, uid });
    }
    draft.kept_attachments = kept
        .iter()
        .filter(|key| !removed.contains(key))
        .filter_map(|key| parse_kept(key))
        .collect();
    Ok(Submitted { action, draft })
}

/// `folder:uid:index` back into a kept attachment.
fn parse_kept(key: &str) -> Option<KeptAttachment> {
    let mut parts = key.split(':');
    let folder = parts.next()?.parse().ok()?;
    let uid = parts.next()?.parse().ok()?;
    let index = parts.next()?.parse().ok()?;
    Some(KeptAttachment { folder, uid, index })
}

/// `POST /mail/{mailbox}/compose`.
pub async fn submit(
    State(state): State<ApiState>,
    me: PageUser,
    Path(mailbox): Path<AddressId>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let wants_json = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let submitted = match read_form(multipart).await {
        Ok(submitted) => submitted,
        Err(error) => return error.into_response(),
    };
    let webmail = match webmail(&state) {
        Ok(webmail) => webmail,
        Err(error) => return error.into_response(),
    };
    let user = me.user.id;
    let mut draft = submitted.draft;
    if submitted.action == "save" {
        return match webmail.save_draft(user, mailbox, &draft).await {
            Ok(uid) if wants_json => saved_json(&state, &me, mailbox, uid).await,
            Ok(uid) => page::see_other(
                &format!("{}?draft={uid}", compose_path(mailbox)),
                "Draft saved.",
            ),
            Err(error) => {
                let error = PageError::from(error);
                if wants_json {
                    let body = serde_json::json!({ "error": error.message() });
                    (error.status(), Json(body)).into_response()
                } else {
                    let status = error.status();
                    let problem = again(error.message().to_owned(), &mut draft);
                    show(&state, &me, mailbox, &draft, Some(problem), status).await
                }
            }
        };
    }
    if submitted.action != "send" {
        return PageError::invalid("This button is unknown; reload the page.").into_response();
    }
    let (status, sentence) = match webmail.send(user, mailbox, &draft, now()).await {
        Ok(SendOutcome::Sent { links, .. }) => {
            let folders = webmail.folders(user, mailbox).await.unwrap_or_default();
            let back = draft
                .in_reply_to
                .as_ref()
                .map(|r| folder_path(mailbox, r.folder))
                .or_else(|| inbox(&folders).map(|f| folder_path(mailbox, f.id)))
                .unwrap_or_else(|| format!("/mail/{mailbox}"));
            let notice = match links.len() {
                0 => "Message sent.".to_owned(),
                1 => "Message sent. One large file was sent as a download link.".to_owned(),
                n => format!("Message sent. {n} large files were sent as download links."),
            };
            return page::see_other(&back, &notice);
        }
        Ok(SendOutcome::Held(sentence)) => (StatusCode::ACCEPTED, sentence),
        Ok(SendOutcome::Refused(sentence)) => (StatusCode::CONFLICT, sentence),
        Err(error) => {
            let error = PageError::from(error);
            (error.status(), error.message().to_owned())
        }
    };
    // Held, refused or failed: the form again with the sentence, what was typed kept.
    let problem = again(sentence, &mut draft);
    show(&state, &me, mailbox, &draft, Some(problem), status).await
}

/// The answer to mail.js after an automatic save: the new draft's number and the
/// attachments it now holds. The uploads went into the draft, so the page lists them as kept
/// (and empties its file input): the next save or the sending refers to the new draft, as
/// the old one is gone.
async fn saved_json(state: &ApiState, me: &PageUser, mailbox: AddressId, uid: u32) -> Response {
    let kept = match webmail(state) {
        Ok(webmail) => match webmail.load_draft(me.user.id, mailbox, uid).await {
            Ok(draft) => kept_lines(state, me, mailbox, &draft.kept_attachments).await,
            Err(error) => Err(PageError::from(error)),
        },
        Err(error) => Err(error),
    };
    match kept {
        Ok(kept) => Json(serde_json::json!({
            "draft": uid,
            "kept": kept
                .iter()
                .map(|k| serde_json::json!({ "key": k.key, "name": k.name }))
                .collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(error) => (
            error.status(),
            Json(serde_json::json!({ "error": error.message() })),
        )
            .into_response(),
    }
}

/// The sentence shown above the form drawn again. A file input cannot be filled in by the
/// page, so uploaded files are dropped from the draft and the sentence says to add them again.
fn again(sentence: String, draft: &mut Draft) -> String {
    if draft.attachments.is_empty() {
        return sentence;
    }
    draft.attachments.clear();
    format!("{sentence} Please choose your files again before sending.")
}
