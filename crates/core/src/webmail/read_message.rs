//! A message taken apart for the reader (CLI-1): headers for display and replies, the text
//! and HTML bodies, and the attachments, with mail-parser (which decodes transfer encodings
//! and charsets).

use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders};

use crate::CoreError;
use crate::webmail::sanitize::sanitize;
use crate::webmail::{AttachmentData, AttachmentInfo};

/// What [`crate::webmail::OpenedMessage`] shows of the message itself.
pub(super) struct Reading {
    pub subject: Option<String>,
    pub from: String,
    pub from_address: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Vec<String>,
    /// Without the angle brackets.
    pub message_id: Option<String>,
    pub references: Vec<String>,
    pub text: String,
    pub html: Option<String>,
    pub has_remote_images: bool,
    pub attachments: Vec<AttachmentInfo>,
}

/// Parses `raw`; an unreadable message is refused with a sentence that offers the download.
pub(super) fn parse(raw: &[u8]) -> Result<Message<'_>, CoreError> {
    MessageParser::default().parse(raw).ok_or_else(|| {
        CoreError::Invalid(
            "This message cannot be shown; download it to open it in another program.".into(),
        )
    })
}

/// The message as the reader shows it; remote images kept only if `remote_images`.
pub(super) fn reading(message: &Message<'_>, remote_images: bool) -> Reading {
    let from = message.from();
    let html_parts: Vec<&str> = message
        .html_bodies()
        .filter(|part| part.is_text_html())
        .filter_map(MessagePart::text_contents)
        .collect();
    let sanitized =
        (!html_parts.is_empty()).then(|| sanitize(&html_parts.join("\n"), remote_images));
    Reading {
        subject: message.subject().map(str::to_owned),
        from: from
            .and_then(|from| from.first())
            .map(display_address)
            .unwrap_or_default(),
        from_address: from
            .and_then(|from| from.first())
            .and_then(|addr| addr.address())
            .map(str::to_owned),
        to: display_addresses(message.to()),
        cc: display_addresses(message.cc()),
        reply_to: message
            .reply_to()
            .map(|list| {
                list.iter()
                    .filter_map(|addr| addr.address())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        message_id: message.message_id().map(str::to_owned),
        references: message
            .references()
            .as_text_list()
            .map(|list| list.iter().map(|id| id.to_string()).collect())
            .or_else(|| message.references().as_text().map(|id| vec![id.to_owned()]))
            .unwrap_or_default(),
        text: text_body(message),
        has_remote_images: sanitized
            .as_ref()
            .is_some_and(|sanitized| sanitized.blocked_remote_images),
        html: sanitized.map(|sanitized| sanitized.html),
        attachments: message
            .attachments()
            .enumerate()
            .map(|(index, part)| AttachmentInfo {
                index,
                file_name: file_name(part, index),
                content_type: content_type(part),
                size: part.contents().len() as u64,
            })
            .collect(),
    }
}

/// The text/plain parts (mail-parser turns an HTML-only body into text here), one after the
/// other.
fn text_body(message: &Message<'_>) -> String {
    (0..message.text_body_count())
        .filter_map(|position| message.body_text(position))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Attachment `index` (as listed by [`reading`]), decoded.
pub(super) fn attachment(message: &Message<'_>, index: usize) -> Option<AttachmentData> {
    let part = message.attachments().nth(index)?;
    Some(data(part, index))
}

/// The part whose `Content-ID` is `content_id` (with or without its angle brackets), decoded:
/// what a `cid:` image source of the HTML refers to (RFC 2392).
pub(super) fn inline_part(message: &Message<'_>, content_id: &str) -> Option<AttachmentData> {
    let wanted = unbracket(content_id);
    message
        .attachments()
        .enumerate()
        .find(|(_, part)| part.content_id().is_some_and(|id| unbracket(id) == wanted))
        .map(|(index, part)| data(part, index))
}

fn unbracket(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|id| id.strip_suffix('>'))
        .unwrap_or(id)
}

fn data(part: &MessagePart<'_>, index: usize) -> AttachmentData {
    AttachmentData {
        file_name: file_name(part, index),
        content_type: content_type(part),
        bytes: part.contents().to_vec(),
    }
}

/// The file name the sender gave, else `attachment-N` (N counting from 1). Only the last path
/// component is kept: a name like `../../x` must not steer where a browser saves the file.
fn file_name(part: &MessagePart<'_>, index: usize) -> String {
    part.attachment_name()
        .map(|name| name.rsplit(['/', '\\']).next().unwrap_or(name).trim())
        .filter(|name| !name.is_empty() && *name != "." && *name != "..")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("attachment-{}", index + 1))
}

/// `type/subtype` in lower case; `application/octet-stream` when the part does not say.
fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_ascii_lowercase(),
            None if part.is_message() => "message/rfc822".into(),
            None => "application/octet-stream".into(),
        },
        None if part.is_message() => "message/rfc822".into(),
        None if part.is_text() => "text/plain".into(),
        None => "application/octet-stream".into(),
    }
}

/// `Name <a@b>`, or the address alone.
fn display_address(addr: &mail_parser::Addr<'_>) -> String {
    let address = addr.address().unwrap_or_default();
    match addr.name().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) if !address.is_empty() => format!("{name} <{address}>"),
        Some(name) => name.to_owned(),
        None => address.to_owned(),
    }
}

fn display_addresses(list: Option<&Address<'_>>) -> Vec<String> {
    list.map(|list| list.iter().map(display_address).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: Alice Example <alice@example.org>\r\n\
To: Bob <bob@example.test>, carol@example.test\r\n\
Subject: Report\r\n\
Message-ID: <abc@example.org>\r\n\
References: <one@example.org> <two@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
See attached.\r\n\
--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"../../report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment\r\n\
\r\n\
raw\r\n\
--b--\r\n";

    #[test]
    fn headers_bodies_and_attachments_are_read() {
        let message = parse(MIXED).expect("parses");
        let reading = reading(&message, false);
        assert_eq!(reading.from, "Alice Example <alice@example.org>");
        assert_eq!(reading.from_address.as_deref(), Some("alice@example.org"));
        assert_eq!(reading.to, ["Bob <bob@example.test>", "carol@example.test"]);
        assert_eq!(reading.message_id.as_deref(), Some("abc@example.org"));
        assert_eq!(reading.references, ["one@example.org", "two@example.org"]);
        assert_eq!(reading.text.trim(), "See attached.");
        assert_eq!(reading.html, None);
        let names: Vec<&str> = reading
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        assert_eq!(names, ["report.pdf", "attachment-2"]);
        assert_eq!(reading.attachments[0].content_type, "application/pdf");
        assert_eq!(reading.attachments[0].size, 9);
        let pdf = attachment(&message, 0).expect("first attachment");
        assert_eq!(pdf.bytes, b"%PDF-1.4\n");
        assert!(attachment(&message, 2).is_none());
    }

    #[test]
    fn cid_images_stay_in_the_html_and_are_found_by_content_id() {
        let raw = b"From: a@example.org\r\n\
Subject: Logo\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=r\r\n\
\r\n\
--r\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hi</p><img src=\"cid:logo@example.org\">\r\n\
--r\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@example.org>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--r--\r\n";
        let message = parse(raw).expect("parses");
        let reading = reading(&message, false);
        let html = reading.html.expect("has HTML");
        assert!(html.contains("src=\"cid:logo@example.org\""), "{html}");
        assert!(!reading.has_remote_images);
        assert_eq!(reading.text.trim(), "Hi");
        for id in ["logo@example.org", "<logo@example.org>"] {
            let logo = inline_part(&message, id).expect("found by its content id");
            assert_eq!(logo.content_type, "image/png");
            assert_eq!(logo.bytes, b"\x89PNG\r\n\x1a\n");
        }
        assert!(inline_part(&message, "other@example.org").is_none());
    }
}
