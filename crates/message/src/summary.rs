//! The decoded header summary (message lists, sorting, SEARCH header keys) and the search text.
//!
//! Unlike the ENVELOPE, everything here is decoded for humans: encoded-words (RFC 2047) are
//! decoded, addresses of groups are flattened, the date is a Unix timestamp.

use mail_parser::{Address, Header, HeaderName, HeaderValue, Message, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use crate::raw;

/// Upper bound, in bytes, of [`crate::MessageIndex::search_text`].
///
/// The index is stored beside every message; a 30 MB log file sent as text must not double the
/// storage it takes. Text beyond the limit is not found by SEARCH TEXT/BODY.
pub const SEARCH_TEXT_LIMIT: usize = 2 * 1024 * 1024;

/// A decoded address, for display, sorting and searching (not for IMAP ENVELOPE, which has
/// [`crate::EnvelopeAddr`] with the raw values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addr {
    /// Display name, encoded-words decoded.
    pub name: Option<String>,
    /// Local part (before the last `@`).
    pub mailbox: Option<String>,
    /// Domain (after the last `@`); `None` when the address has none.
    pub host: Option<String>,
}

impl Addr {
    /// `mailbox@host`, or whichever of the two exists.
    pub fn address(&self) -> Option<String> {
        match (&self.mailbox, &self.host) {
            (Some(m), Some(h)) => Some(format!("{m}@{h}")),
            (Some(m), None) => Some(m.clone()),
            (None, Some(h)) => Some(format!("@{h}")),
            (None, None) => None,
        }
    }
}

/// The decoded header fields that message lists, sorting (RFC 5256) and SEARCH header keys need.
///
/// When a field appears more than once (malformed), the first one counts, as for the ENVELOPE.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSummary {
    /// Decoded `Subject:`; `Some("")` when present but empty.
    pub subject: Option<String>,
    /// `From:` mailboxes, groups flattened.
    pub from: Vec<Addr>,
    /// `To:` mailboxes, groups flattened.
    pub to: Vec<Addr>,
    /// `Cc:` mailboxes, groups flattened.
    pub cc: Vec<Addr>,
    /// `Bcc:` mailboxes, groups flattened.
    pub bcc: Vec<Addr>,
    /// `Reply-To:` mailboxes as written (no defaulting to `From`, unlike the ENVELOPE).
    pub reply_to: Vec<Addr>,
    /// `Date:` as seconds since the Unix epoch, `None` when absent or unparseable.
    pub date: Option<i64>,
    /// `Message-ID:` without angle brackets.
    pub message_id: Option<String>,
    /// First message id of `In-Reply-To:`, without angle brackets.
    pub in_reply_to: Option<String>,
    /// Message ids of `References:`, oldest first, without angle brackets.
    pub references: Vec<String>,
}

impl HeaderSummary {
    /// Builds the summary from the (already parsed) root header of a message.
    pub(crate) fn from_headers(headers: &[Header<'_>]) -> HeaderSummary {
        let value = |name: HeaderName<'static>| raw::first(headers, &name).map(|h| &h.value);
        let addrs = |name: HeaderName<'static>| value(name).map(addresses).unwrap_or_default();
        let ids = |name: HeaderName<'static>| value(name).map(text_list).unwrap_or_default();
        HeaderSummary {
            subject: value(HeaderName::Subject).map(|v| text_list(v).join(" ")),
            from: addrs(HeaderName::From),
            to: addrs(HeaderName::To),
            cc: addrs(HeaderName::Cc),
            bcc: addrs(HeaderName::Bcc),
            reply_to: addrs(HeaderName::ReplyTo),
            date: match value(HeaderName::Date) {
                Some(HeaderValue::DateTime(dt)) if dt.is_valid() => Some(dt.to_timestamp()),
                _ => None,
            },
            message_id: ids(HeaderName::MessageId).into_iter().next(),
            in_reply_to: ids(HeaderName::InReplyTo).into_iter().next(),
            references: ids(HeaderName::References),
        }
    }
}

/// The text items of a parsed header value.
fn text_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// The mailboxes of a parsed address header, groups flattened.
fn addresses(value: &HeaderValue<'_>) -> Vec<Addr> {
    let convert = |a: &mail_parser::Addr<'_>| {
        let name = a
            .name
            .as_ref()
            .map(|n| n.to_string())
            .filter(|n| !n.is_empty());
        let (mailbox, host) = match a.address.as_deref() {
            Some(address) => match address.rsplit_once('@') {
                Some((m, h)) => (
                    Some(m.to_string()),
                    Some(h.to_string()).filter(|h| !h.is_empty()),
                ),
                None => (Some(address.to_string()), None),
            },
            None => (None, None),
        };
        Addr {
            name,
            mailbox: mailbox.filter(|m| !m.is_empty()),
            host,
        }
    };
    match value {
        HeaderValue::Address(Address::List(list)) => list.iter().map(convert).collect(),
        HeaderValue::Address(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter().map(convert))
            .collect(),
        _ => Vec::new(),
    }
}

/// The character between the header's text and the bodies' text in a search text (ASCII
/// record separator: never part of text a person searches for).
const HEADER_END: char = '\u{1e}';

/// The search text cut where its header's text ends: `(header, bodies)`. `None` for a text
/// written before the mark existed, or cut at [`SEARCH_TEXT_LIMIT`] inside the header.
pub fn split_search_text(text: &str) -> Option<(&str, &str)> {
    text.split_once(HEADER_END)
}

/// Accumulates search text up to [`SEARCH_TEXT_LIMIT`].
pub(crate) struct SearchText {
    text: String,
}

impl SearchText {
    pub(crate) fn new() -> Self {
        SearchText {
            text: String::new(),
        }
    }

    /// Appends `piece` and a line break, cutting at a character boundary at the limit.
    fn push(&mut self, piece: &str) {
        if piece.is_empty() {
            return;
        }
        let room = SEARCH_TEXT_LIMIT.saturating_sub(self.text.len());
        if room == 0 {
            return;
        }
        // A hostile header holding the mark's character would move the cut.
        let cleaned;
        let piece = if piece.contains(HEADER_END) {
            cleaned = piece.replace(HEADER_END, " ");
            cleaned.as_str()
        } else {
            piece
        };
        let mut cut = piece.len().min(room);
        while !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text.push_str(&piece[..cut]);
        if self.text.len() < SEARCH_TEXT_LIMIT {
            self.text.push('\n');
        }
    }

    /// Marks where the text of the message's own header ends and its bodies' text begins, so
    /// the full-text index can tell `BODY` from `TEXT` (RFC 9051 §6.4.4) without the message.
    /// Text pushed before the mark has the mark's character replaced ([`push`](Self::push)),
    /// so the first mark is always this one.
    pub(crate) fn end_of_header(&mut self) {
        if self.text.len() + HEADER_END.len_utf8() <= SEARCH_TEXT_LIMIT {
            self.text.push(HEADER_END);
        }
    }

    /// Appends raw bytes as text (invalid UTF-8 replaced).
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        self.push(&String::from_utf8_lossy(bytes));
    }

    /// Every header field of `headers` as `Name: value`, decoded where `mail-parser` decodes it
    /// (unstructured text, addresses, message ids) and raw otherwise.
    pub(crate) fn headers(&mut self, headers: &[Header<'_>], raw_bytes: &[u8]) {
        for header in headers {
            let value = match &header.value {
                HeaderValue::Text(_) | HeaderValue::TextList(_) => {
                    text_list(&header.value).join(" ")
                }
                HeaderValue::Address(_) => addresses(&header.value)
                    .iter()
                    .map(|a| match (&a.name, a.address()) {
                        (Some(n), Some(addr)) => format!("{n} <{addr}>"),
                        (Some(n), None) => n.clone(),
                        (None, Some(addr)) => addr,
                        (None, None) => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => raw::value(raw_bytes, header),
            };
            self.push(&format!("{}: {}", header.name.as_str(), value));
        }
    }

    /// The decoded text of every text part of `message`, nested messages (their headers too)
    /// included, in document order. `depth` bounds the recursion into nested messages.
    pub(crate) fn bodies(&mut self, message: &Message<'_>, depth: usize) {
        for (i, part) in message.parts.iter().enumerate() {
            match &part.body {
                PartType::Text(text) => self.push(text),
                PartType::Html(html) => self.push(&mail_parser::decoders::html::html_to_text(html)),
                // Text that mail-parser kept as bytes: a multipart without a usable boundary
                // (shown as text/plain in BODYSTRUCTURE) or a part without a Content-Type.
                PartType::Binary(bytes) | PartType::InlineBinary(bytes)
                    if part.content_type().is_none_or(|ct| {
                        ct.ctype().eq_ignore_ascii_case("multipart")
                            || ct.ctype().eq_ignore_ascii_case("text")
                    }) =>
                {
                    self.push_bytes(bytes)
                }
                PartType::Message(nested) if i > 0 && depth > 0 => {
                    if let Some(root) = nested.parts.first() {
                        self.headers(&root.headers, nested.raw_message.as_ref());
                    }
                    self.bodies(nested, depth - 1);
                }
                _ => {}
            }
        }
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use mail_parser::MessageParser;

    use super::*;

    fn summary(raw: &str) -> HeaderSummary {
        let message = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        HeaderSummary::from_headers(&message.parts[0].headers)
    }

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> Addr {
        Addr {
            name: name.map(str::to_string),
            mailbox: Some(mailbox.to_string()),
            host: Some(host.to_string()),
        }
    }

    #[test]
    fn summary_decodes_what_humans_read() {
        let s = summary(
            "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\r\n\
             To: Team: a@example.com, B <b@example.com>;\r\n\
             Subject: =?iso-8859-1?q?Caf=E9?= ok\r\n\
             Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
             Message-ID: <1234@local.machine.example>\r\n\
             In-Reply-To: <a@x> <b@x>\r\n\
             References: <r1@x>\r\n <r2@x>\r\n\
             \r\n\
             body\r\n",
        );
        assert_eq!(s.subject.as_deref(), Some("Café ok"));
        assert_eq!(s.from, vec![addr(Some("Jörg"), "joerg", "example.com")]);
        assert_eq!(
            s.to,
            vec![
                addr(None, "a", "example.com"),
                addr(Some("B"), "b", "example.com")
            ]
        );
        assert_eq!(s.date, Some(1_057_049_557));
        assert_eq!(s.message_id.as_deref(), Some("1234@local.machine.example"));
        assert_eq!(s.in_reply_to.as_deref(), Some("a@x"));
        assert_eq!(s.references, vec!["r1@x".to_string(), "r2@x".to_string()]);
        assert!(s.cc.is_empty() && s.bcc.is_empty() && s.reply_to.is_empty());
    }

    #[test]
    fn missing_and_broken_fields_are_none() {
        let s = summary("X-Other: 1\r\nDate: not a date\r\nSubject:\r\n\r\n");
        assert_eq!(s.date, None);
        assert_eq!(s.subject.as_deref(), Some(""));
        assert_eq!(s.message_id, None);
        assert!(s.from.is_empty());
    }

    #[test]
    fn first_of_repeated_fields_wins() {
        let s = summary("Subject: one\r\nSubject: two\r\n\r\n");
        assert_eq!(s.subject.as_deref(), Some("one"));
    }

    #[test]
    fn addr_address_joins_parts() {
        let cases = [
            (addr(None, "a", "b.example"), Some("a@b.example")),
            (
                Addr {
                    mailbox: Some("root".into()),
                    ..Default::default()
                },
                Some("root"),
            ),
            (Addr::default(), None),
        ];
        for (input, expected) in cases {
            assert_eq!(input.address().as_deref(), expected);
        }
    }

    #[test]
    fn search_text_stops_at_the_limit_on_a_char_boundary() {
        let mut text = SearchText::new();
        let big = "é".repeat(SEARCH_TEXT_LIMIT); // two bytes each
        text.push("start");
        text.push(&big);
        text.push("never seen");
        let text = text.finish();
        assert!(text.len() <= SEARCH_TEXT_LIMIT);
        assert!(text.len() >= SEARCH_TEXT_LIMIT - 1);
        assert!(text.starts_with("start\n"));
        assert!(!text.contains("never seen"));
    }
}
