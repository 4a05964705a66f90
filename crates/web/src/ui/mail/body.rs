//! The message's HTML body, alone, for the sandboxed `<iframe>` of the reading page. Served
//! with its own policy, stricter than the pages': nothing may load but inline styles and
//! `data:` images (and remote images once the reader asked), and only this site may frame
//! it. The security middleware keeps a handler's own policy.

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use postwerk_core::Webmail;
use postwerk_model::{AddressId, FolderId, UserId};

use super::read::{ImagesParam, open};
use super::{format, webmail};
use crate::ApiState;
use crate::ui::page::{PageError, PageUser};

/// The frame's policy while remote images are blocked.
const FRAME_POLICY: &str =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'";
/// The frame's policy once the reader asked for remote images.
const FRAME_POLICY_IMAGES: &str = "default-src 'none'; img-src data: https: http:; \
     style-src 'unsafe-inline'; frame-ancestors 'self'";

/// Inline (`cid:`) images larger than this are left out rather than inlined as `data:`.
const MAX_INLINE_IMAGE: u64 = 5 * 1024 * 1024;

/// `GET /mail/{mailbox}/{folder}/{uid}/body[?images=1]`. Opening it does not mark the message
/// read (the reading page did).
pub async fn frame(
    State(state): State<ApiState>,
    me: PageUser,
    Path((mailbox, folder, uid)): Path<(AddressId, FolderId, u32)>,
    Query(images): Query<ImagesParam>,
) -> Result<Response, PageError> {
    let images = images.allowed();
    let opened = open(&state, &me, (mailbox, folder, uid), images, true).await?;
    let html = opened
        .html
        .ok_or_else(|| PageError::not_found("This message has no formatted (HTML) text."))?;
    let target = Target {
        webmail: webmail(&state)?,
        user: me.user.id,
        mailbox,
        folder,
        uid,
    };
    let html = inline_cid_images(&html, &target).await;
    let document = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><base target=\"_blank\"></head>\
         <body>{html}</body></html>"
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if images {
            FRAME_POLICY_IMAGES
        } else {
            FRAME_POLICY
        }),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    Ok((headers, document).into_response())
}

/// The message whose attachments the body refers to.
struct Target<'a> {
    webmail: &'a Webmail,
    user: UserId,
    mailbox: AddressId,
    folder: FolderId,
    uid: u32,
}

/// Replaces `src="cid:…"` (RFC 2392) by the image itself as a `data:` URL: the sandboxed
/// frame carries no cookie of this site, so it could not load the part from a route here. A
/// part that is missing, too large or not an image keeps its `cid:` and is simply not shown.
async fn inline_cid_images(html: &str, target: &Target<'_>) -> String {
    const MARK: &str = "src=\"cid:";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(MARK) {
        let (before, from_mark) = rest.split_at(at);
        out.push_str(before);
        let after = &from_mark[MARK.len()..];
        let Some(end) = after.find('"') else {
            out.push_str(from_mark);
            rest = "";
            break;
        };
        let content_id = &after[..end];
        match data_url(content_id, target).await {
            Some(url) => {
                out.push_str("src=\"");
                out.push_str(&url);
                out.push('"');
            }
            None => out.push_str(&from_mark[..MARK.len() + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn data_url(content_id: &str, target: &Target<'_>) -> Option<String> {
    let part = target
        .webmail
        .inline_part(
            target.user,
            target.mailbox,
            target.folder,
            target.uid,
            content_id,
        )
        .await
        .ok()?;
    let content_type = format::safe_content_type(&part.content_type);
    let small = u64::try_from(part.bytes.len()).is_ok_and(|len| len <= MAX_INLINE_IMAGE);
    if !content_type.starts_with("image/") || !small {
        return None;
    }
    Some(format!(
        "data:{content_type};base64,{}",
        format::base64(&part.bytes)
    ))
}
