//! Downloads: a message's attachments and its original (`.eml`), and the public download
//! links of large attachments (SND-7). Always `Content-Disposition: attachment` with a safe
//! file name, and never a type a browser would run as a page of this site.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use postwerk_model::{AddressId, FolderId};

use super::{format, now, webmail};
use crate::ApiState;
use crate::ui::page::{self, Layout, PageError, PageUser};

/// `GET /mail/{mailbox}/{folder}/{uid}/attachments/{index}`.
pub async fn attachment(
    State(state): State<ApiState>,
    me: PageUser,
    Path((mailbox, folder, uid, index)): Path<(AddressId, FolderId, u32, usize)>,
) -> Response {
    let data = match webmail(&state) {
        Ok(webmail) => {
            webmail
                .attachment(me.user.id, mailbox, folder, uid, index)
                .await
        }
        Err(error) => return error.into_response(),
    };
    match data {
        Ok(data) => download(
            &format::safe_file_name(&data.file_name, "attachment"),
            &format::safe_content_type(&data.content_type),
            data.bytes,
        ),
        Err(error) => PageError::from(error).into_response(),
    }
}

/// `GET /mail/{mailbox}/{folder}/{uid}/raw`: the message as received.
pub async fn raw(
    State(state): State<ApiState>,
    me: PageUser,
    Path((mailbox, folder, uid)): Path<(AddressId, FolderId, u32)>,
) -> Response {
    let raw = match webmail(&state) {
        Ok(webmail) => webmail.raw(me.user.id, mailbox, folder, uid).await,
        Err(error) => return error.into_response(),
    };
    match raw {
        Ok(bytes) => download(&format!("message-{uid}.eml"), "message/rfc822", bytes),
        Err(error) => PageError::from(error).into_response(),
    }
}

#[derive(Template)]
#[template(path = "mail/file_gone.html")]
struct FileGone {
    layout: Layout,
}

/// `GET /files/{token}`: the file behind a download link, for anyone holding the link
/// (SND-7: the recipients of the message need no account).
pub async fn shared_file(State(state): State<ApiState>, Path(token): Path<String>) -> Response {
    let file = match webmail(&state) {
        Ok(webmail) => webmail.shared_file(&token, now()).await,
        Err(error) => return error.into_response(),
    };
    match file {
        Ok(Some(file)) => download(
            &format::safe_file_name(&file.file_name, "download"),
            &format::safe_content_type(&file.content_type),
            file.bytes,
        ),
        Ok(None) => page::render_with(
            StatusCode::NOT_FOUND,
            &FileGone {
                layout: Layout::public("Link expired"),
            },
        ),
        Err(error) => PageError::from(error).into_response(),
    }
}

fn download(file_name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&format::attachment_disposition(file_name))
            .unwrap_or(HeaderValue::from_static("attachment")),
    );
    (headers, bytes).into_response()
}
