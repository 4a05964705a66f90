//! Webmail (CLI-1) with the bounce explainer (CLI-2) and the public download links of large
//! attachments (SND-7), over `core::Webmail`. Every call passes the signed-in account and the
//! mailbox from the URL: `core` refuses a mailbox the account has no access to, so changing
//! an id in a URL never reaches someone else's mail.
//!
//! ```text
//!  /mail                                  first linked mailbox's INBOX (redirect)
//!  /mail/{mailbox}                        its INBOX (redirect)
//!  /mail/{mailbox}/events                 events.rs (folder counts as Server-Sent Events)
//!  /mail/{mailbox}/counts                 the same counts as JSON (mail.js polls it when
//!                                         events fail)
//!  /mail/{mailbox}/compose                compose.rs (GET form, POST send / save draft)
//!  /mail/{mailbox}/{folder}               list.rs (message list)
//!  /mail/{mailbox}/{folder}/actions       actions.rs (POST: flags, move, delete, spam)
//!  /mail/{mailbox}/{folder}/{uid}         read.rs (reading page, bounce box)
//!  /mail/{mailbox}/{folder}/{uid}/body    body.rs (sanitised HTML, its own strict CSP)
//!  /mail/{mailbox}/{folder}/{uid}/attachments/{index}, …/raw    downloads.rs
//!  /files/{token}                         downloads.rs (public SND-7 link)
//! ```

mod actions;
mod body;
mod compose;
mod downloads;
mod events;
mod format;
mod list;
mod read;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use postwerk_core::Webmail;
use postwerk_core::webmail::FolderSummary;
use postwerk_model::{AddressId, FolderId};

use super::page::PageError;
use crate::ApiState;

/// The largest compose form accepted: attachments above the large-attachment threshold
/// become download links (SND-7), so this is well above it.
const COMPOSE_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/mail", get(list::first_mailbox))
        .route("/mail/{mailbox}", get(list::mailbox_inbox))
        .route("/mail/{mailbox}/counts", get(list::counts))
        .route("/mail/{mailbox}/events", get(events::stream))
        .route(
            "/mail/{mailbox}/compose",
            get(compose::form)
                .post(compose::submit)
                .layer(DefaultBodyLimit::max(COMPOSE_BODY_LIMIT)),
        )
        .route("/mail/{mailbox}/{folder}", get(list::folder))
        .route("/mail/{mailbox}/{folder}/actions", post(actions::apply))
        .route("/mail/{mailbox}/{folder}/{uid}", get(read::message))
        .route("/mail/{mailbox}/{folder}/{uid}/body", get(body::frame))
        .route("/mail/{mailbox}/{folder}/{uid}/raw", get(downloads::raw))
        .route(
            "/mail/{mailbox}/{folder}/{uid}/attachments/{index}",
            get(downloads::attachment),
        )
        .route("/files/{token}", get(downloads::shared_file))
}

/// The webmail service, or the page saying this server runs without it.
fn webmail(state: &ApiState) -> Result<&Webmail, PageError> {
    state.webmail.as_ref().ok_or_else(|| {
        PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Webmail is not enabled on this server",
        )
    })
}

/// Paths of the mail pages, built in one place so templates and redirects agree.
fn folder_path(mailbox: AddressId, folder: FolderId) -> String {
    format!("/mail/{mailbox}/{folder}")
}

fn message_path(mailbox: AddressId, folder: FolderId, uid: u32) -> String {
    format!("/mail/{mailbox}/{folder}/{uid}")
}

fn compose_path(mailbox: AddressId) -> String {
    format!("/mail/{mailbox}/compose")
}

/// The INBOX among `folders` (core lists it first), for redirects after sending.
fn inbox(folders: &[FolderSummary]) -> Option<&FolderSummary> {
    folders
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case("INBOX"))
        .or_else(|| folders.first())
}

/// The name a person reads for a folder: the special-use folders by their role.
fn folder_label(folder: &FolderSummary) -> String {
    match folder.role.as_deref() {
        _ if folder.name.eq_ignore_ascii_case("INBOX") => "Inbox".to_owned(),
        Some("sent") => "Sent".to_owned(),
        Some("drafts") => "Drafts".to_owned(),
        Some("trash") => "Trash".to_owned(),
        Some("junk") => "Junk".to_owned(),
        Some("archive") => "Archive".to_owned(),
        _ => folder.name.clone(),
    }
}

/// Now, in Unix seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
