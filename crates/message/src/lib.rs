//! `postwerk-message`: parse a message once, at ingest, into everything later readers need.
//!
//! The crate owns the [`MessageIndex`]: the header summary (lists, sorting, SEARCH header keys),
//! the IMAP ENVELOPE and BODYSTRUCTURE, the byte ranges of every MIME part (for `BODY[1.2]`,
//! `BODY[1.2.MIME]`, ...), the searchable text and an attachment flag. The store keeps it beside
//! the message ([`MessageIndex::to_bytes`]); IMAP FETCH and SEARCH read it instead of parsing the
//! message again, and stream section bytes straight from the stored message.
//!
//! It is pure: no I/O, no async, no clock, and it depends on no other Postwerk crate. Parsing is
//! `mail-parser`'s; this crate reads the raw bytes wherever IMAP wants values as transmitted.
//!
//! ```text
//!  raw bytes ──► MessageIndex::parse ──► MessageIndex ──► to_bytes ──► (store) ──► from_bytes
//!                   │ mail-parser                │
//!                   │ (structure, decoding)      ├─► write_envelope / write_bodystructure
//!                   └ raw header values          │       (FETCH ENVELOPE, BODY, BODYSTRUCTURE)
//!                     (IMAP strings)             ├─► section(raw, [1, 2]) (FETCH BODY[1.2])
//!                                                └─► summary, search_text (SEARCH, SORT)
//! ```
//!
//! Parsing never fails and never panics: a message `mail-parser` cannot read still gets an index
//! (an empty envelope and a text/plain body), because the message has already been accepted and
//! must be readable.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod envelope;
mod imap;
mod numbering;
mod raw;
mod section;
mod subject;
mod summary;

use serde::{Deserialize, Serialize};

pub use body::{BodyStructure, Disposition, MAX_DEPTH};
pub use envelope::{Envelope, EnvelopeAddr, MISSING_HOST, MISSING_MAILBOX, parse_address_list};
pub use imap::{write_bodystructure, write_envelope, write_nstring, write_string};
pub use raw::header_end;
pub use section::SectionRanges;
pub use subject::{BaseSubject, base_subject, extract_base_subject};
pub use summary::{Addr, HeaderSummary, SEARCH_TEXT_LIMIT, split_search_text};

/// Version byte that starts [`MessageIndex::to_bytes`]; bump it when the stored form changes
/// incompatibly, so old indexes are recognised (and rebuilt from the message) instead of misread.
///
/// 1 was JSON (still read); 2 is postcard, a compact binary serde format: IMAP FETCH decodes
/// one index per message, and JSON made that decoding most of `FETCH 1:* (ENVELOPE)`.
pub const FORMAT_VERSION: u8 = 2;

/// The JSON form of the first stored indexes.
const FORMAT_JSON: u8 = 1;

/// Everything derived from a message at ingest, stored beside the message.
///
/// Invariant: built from exactly one raw message, whose length is `size`; every range in `body`
/// lies within `0..size`. [`MessageIndex::section`] checks the raw message it is given against
/// `size`, so an index can never address bytes of another message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageIndex {
    /// RFC822.SIZE: octets of the raw message.
    pub size: u64,
    /// Offset where the body starts, just after the blank line that ends the header (or `size`
    /// when there is no blank line). `BODY[HEADER]` is `0..header_len`.
    pub header_len: u64,
    /// Decoded header fields for lists, sorting and SEARCH header keys.
    pub summary: HeaderSummary,
    /// The IMAP ENVELOPE (RFC 9051 §7.5.2), raw values.
    pub envelope: Envelope,
    /// The IMAP BODYSTRUCTURE tree with the byte ranges of every part.
    pub body: BodyStructure,
    /// Decoded text of the header fields and of the text parts (nested messages included), at
    /// most [`SEARCH_TEXT_LIMIT`] bytes, for SEARCH TEXT / BODY.
    pub search_text: String,
    /// Whether a mail client would list an attachment ([`BodyStructure::has_attachments`]).
    pub has_attachments: bool,
}

/// Why a stored index could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The stored bytes are empty.
    #[error("stored message index is empty")]
    Empty,
    /// The stored bytes were written by a format this version does not know; rebuild the index
    /// from the message.
    #[error("stored message index has unknown format version {0}")]
    UnknownVersion(u8),
    /// The stored bytes are not a valid index (truncated or corrupted).
    #[error("stored message index is corrupt: {0}")]
    Corrupt(String),
}

impl MessageIndex {
    /// Parses `raw` (the message as received, CRLF or LF line ends) into its index.
    ///
    /// Never fails and never panics: what `mail-parser` cannot read is indexed as a message
    /// without header fields, whose body is text/plain.
    pub fn parse(raw: &[u8]) -> MessageIndex {
        let size = raw.len() as u64;
        let mut search = summary::SearchText::new();
        let parsed = raw::parse_message(raw);
        let (summary, envelope, mut body) = match &parsed {
            Some(message) => {
                let (envelope, body) = body::message_tree(message, raw);
                let root = &message.parts[0].headers;
                search.headers(root, raw);
                search.end_of_header();
                search.bodies(message, MAX_DEPTH);
                (HeaderSummary::from_headers(root), envelope, body)
            }
            None => {
                let (envelope, body) = body::unparsed_message(raw, 0);
                // Without a recognisable header, the header bytes are text a user may search;
                // they are the message's body (`unparsed_message`).
                search.end_of_header();
                search.push_bytes(raw);
                (HeaderSummary::default(), envelope, body)
            }
        };
        // The part numbers are given once the tree is whole, by the rule lookup follows.
        numbering::assign(&mut body);
        MessageIndex {
            size,
            header_len: body.header().end,
            has_attachments: body.has_attachments(),
            summary,
            envelope,
            body,
            search_text: search.finish(),
        }
    }

    /// The stored form: [`FORMAT_VERSION`] followed by the postcard encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings, numbers and vectors into memory cannot fail;
        // should postcard ever disagree, an unreadable index is rebuilt from the message.
        let encoded = postcard::to_extend(self, vec![FORMAT_VERSION]);
        encoded.unwrap_or_else(|_| vec![FORMAT_VERSION])
    }

    /// Reads back what [`MessageIndex::to_bytes`] wrote, in this format or the JSON one before.
    pub fn from_bytes(bytes: &[u8]) -> Result<MessageIndex, MessageError> {
        let (&version, encoded) = bytes.split_first().ok_or(MessageError::Empty)?;
        match version {
            FORMAT_VERSION => {
                postcard::from_bytes(encoded).map_err(|e| MessageError::Corrupt(e.to_string()))
            }
            FORMAT_JSON => {
                serde_json::from_slice(encoded).map_err(|e| MessageError::Corrupt(e.to_string()))
            }
            other => Err(MessageError::UnknownVersion(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5322 §A.1.1, a plain single-part message.
    const SIMPLE: &str = "From: John Doe <jdoe@machine.example>\r\n\
To: Mary Smith <mary@example.net>\r\n\
Subject: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n\
Message-ID: <1234@local.machine.example>\r\n\
\r\n\
This is a message just to say hello.\r\n\
So, \"Hello\".\r\n";

    /// multipart/alternative, an encoded-word subject and name, groups.
    const ALTERNATIVE: &str = "From: =?utf-8?q?J=C3=B6rg?= <j@x.test>\r\n\
To: Team: a@x.test, B <b@x.test>;, undisclosed-recipients:;\r\n\
Subject: =?utf-8?B?SGVsbG8gV8O2cmxk?=\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hello W=C3=B6rld\r\n\
line 2\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hello <b>World</b></p>\r\n\
--alt--\r\n";

    /// multipart/mixed with a PDF attachment carrying every body field.
    const MIXED: &str = "From: a@x.test\r\n\
To: b@y.test\r\n\
Subject: report\r\n\
Content-Type: multipart/mixed; boundary=\"mix\"\r\n\
\r\n\
--mix\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
See attached.\r\n\
--mix\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename=\"report.pdf\"; size=6\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <part2@x.test>\r\n\
Content-Description: Quarterly report\r\n\
Content-Language: en\r\n\
\r\n\
JVBERi0=\r\n\
--mix--\r\n";

    /// A forwarded message as a message/rfc822 part.
    const NESTED: &str = "From: a@x.test\r\n\
Subject: Fwd: hi\r\n\
Content-Type: multipart/mixed; boundary=\"o\"\r\n\
\r\n\
--o\r\n\
Content-Type: text/plain\r\n\
\r\n\
Forwarding.\r\n\
--o\r\n\
Content-Type: message/rfc822\r\n\
Content-Disposition: inline\r\n\
\r\n\
From: b@y.test\r\n\
To: a@x.test\r\n\
Subject: hi\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
\r\n\
Inner line 1\r\n\
Inner line 2\r\n\
\r\n\
--o--\r\n";

    /// multipart/digest, whose parts default to message/rfc822 (RFC 2046 §5.1.5).
    const DIGEST: &str = "Subject: digest\r\n\
Content-Type: multipart/digest; boundary=\"d\"\r\n\
\r\n\
--d\r\n\
\r\n\
Subject: one\r\n\
\r\n\
First\r\n\
--d\r\n\
\r\n\
Subject: two\r\n\
\r\n\
Second\r\n\
--d--\r\n";

    /// multipart/related: the inline image is not an attachment.
    const RELATED: &str = "Subject: related\r\n\
Content-Type: multipart/related; boundary=\"r\"\r\n\
\r\n\
--r\r\n\
Content-Type: text/html\r\n\
\r\n\
<img src=\"cid:i1\">\r\n\
--r\r\n\
Content-Type: image/png; name=\"logo.png\"\r\n\
Content-ID: <i1>\r\n\
Content-Disposition: inline; filename=\"logo.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0=\r\n\
--r--\r\n";

    const SAMPLES: [&str; 6] = [SIMPLE, ALTERNATIVE, MIXED, NESTED, DIGEST, RELATED];

    fn envelope(index: &MessageIndex) -> String {
        let mut out = Vec::new();
        write_envelope(&index.envelope, &mut out);
        String::from_utf8(out).expect("test messages render as UTF-8")
    }

    fn body(index: &MessageIndex, extensible: bool) -> String {
        let mut out = Vec::new();
        write_bodystructure(&index.body, extensible, &mut out);
        String::from_utf8(out).expect("test messages render as UTF-8")
    }

    #[test]
    fn simple_text_message() {
        let index = MessageIndex::parse(SIMPLE.as_bytes());
        assert_eq!(index.size, SIMPLE.len() as u64);
        assert_eq!(index.header_len, 180);
        assert_eq!(
            envelope(&index),
            r#"("Fri, 21 Nov 1997 09:55:06 -0600" "Saying Hello" (("John Doe" NIL "jdoe" "machine.example")) (("John Doe" NIL "jdoe" "machine.example")) (("John Doe" NIL "jdoe" "machine.example")) (("Mary Smith" NIL "mary" "example.net")) NIL NIL NIL "<1234@local.machine.example>")"#
        );
        assert_eq!(
            body(&index, false),
            r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 52 2)"#
        );
        assert_eq!(
            body(&index, true),
            r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 52 2 NIL NIL NIL NIL)"#
        );
        assert_eq!(index.summary.date, Some(880_127_706));
        assert_eq!(index.summary.subject.as_deref(), Some("Saying Hello"));
        assert_eq!(
            index.summary.message_id.as_deref(),
            Some("1234@local.machine.example")
        );
        assert!(
            index
                .search_text
                .contains("This is a message just to say hello.")
        );
        assert!(!index.has_attachments);
    }

    #[test]
    fn lf_only_message_counts_the_same_lines() {
        let raw = SIMPLE.replace("\r\n", "\n");
        let index = MessageIndex::parse(raw.as_bytes());
        assert_eq!(index.header_len, 174);
        assert_eq!(
            body(&index, false),
            r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 50 2)"#
        );
        let text = index.section(raw.as_bytes(), &[1]).expect("part 1").body;
        assert_eq!(
            &raw[text.start as usize..text.end as usize],
            "This is a message just to say hello.\nSo, \"Hello\".\n"
        );
    }

    #[test]
    fn multipart_alternative() {
        let index = MessageIndex::parse(ALTERNATIVE.as_bytes());
        assert_eq!(
            body(&index, false),
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 24 2)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 25 1) "ALTERNATIVE")"#
        );
        assert_eq!(
            body(&index, true),
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 24 2 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 25 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "alt") NIL NIL NIL)"#
        );
        assert!(!index.has_attachments);
    }

    #[test]
    fn encoded_words_raw_in_envelope_decoded_in_summary_and_search() {
        let index = MessageIndex::parse(ALTERNATIVE.as_bytes());
        let env = envelope(&index);
        assert!(env.starts_with(r#"(NIL "=?utf-8?B?SGVsbG8gV8O2cmxk?=" (("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x.test"))"#), "{env}");
        assert_eq!(index.summary.subject.as_deref(), Some("Hello Wörld"));
        assert_eq!(index.summary.from[0].name.as_deref(), Some("Jörg"));
        for needle in [
            "Subject: Hello Wörld",
            "Jörg <j@x.test>",
            "Hello Wörld\r\nline 2",
            "Hello World",
        ] {
            assert!(
                index.search_text.contains(needle),
                "{needle:?} in {:?}",
                index.search_text
            );
        }
        assert!(!index.search_text.contains("=?utf-8?"));
    }

    /// RFC 9051 §6.4.4: the index tells the header's text from the bodies' (SEARCH BODY), and a
    /// header carrying the mark's character cannot move the cut.
    #[test]
    fn search_text_marks_where_the_header_ends() {
        let raw = "Subject: zanzibar\u{1e}forged\r\nX-Note: header words\r\n\r\nbody words\r\n\
                   Subject: in the body\r\n";
        let index = MessageIndex::parse(raw.as_bytes());
        let (header, body) = split_search_text(&index.search_text).expect("a header mark");
        assert!(header.contains("zanzibar") && header.contains("forged"));
        assert!(header.contains("header words"));
        assert!(!header.contains("body words"));
        assert!(body.contains("body words") && body.contains("Subject: in the body"));
        assert!(!body.contains("zanzibar"));
    }

    #[test]
    fn group_addresses_in_envelope() {
        let index = MessageIndex::parse(ALTERNATIVE.as_bytes());
        assert!(envelope(&index).contains(
            r#" ((NIL NIL "Team" NIL)(NIL NIL "a" "x.test")("B" NIL "b" "x.test")(NIL NIL NIL NIL)(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)"#
        ));
        // The summary flattens groups into their members.
        let to: Vec<_> = index.summary.to.iter().filter_map(Addr::address).collect();
        assert_eq!(to, ["a@x.test", "b@x.test"]);
    }

    #[test]
    fn multipart_mixed_with_attachment() {
        let index = MessageIndex::parse(MIXED.as_bytes());
        assert_eq!(
            body(&index, false),
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 13 1)("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2@x.test>" "Quarterly report" "BASE64" 8) "MIXED")"#
        );
        assert_eq!(
            body(&index, true),
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 13 1 NIL NIL NIL NIL)("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2@x.test>" "Quarterly report" "BASE64" 8 NIL ("ATTACHMENT" ("FILENAME" "report.pdf" "SIZE" "6")) "en" NIL) "MIXED" ("BOUNDARY" "mix") NIL NIL NIL)"#
        );
        assert!(index.has_attachments);
        assert!(index.search_text.contains("See attached."));
        assert!(!index.search_text.contains("JVBERi0"));
        let pdf = index.section(MIXED.as_bytes(), &[2]).expect("part 2").body;
        assert_eq!(&MIXED[pdf.start as usize..pdf.end as usize], "JVBERi0=");
    }

    #[test]
    fn nested_message_rfc822() {
        let index = MessageIndex::parse(NESTED.as_bytes());
        let inner_env = r#"("Mon, 7 Feb 1994 21:52:25 -0800" "hi" ((NIL NIL "b" "y.test")) ((NIL NIL "b" "y.test")) ((NIL NIL "b" "y.test")) ((NIL NIL "a" "x.test")) NIL NIL NIL NIL)"#;
        assert_eq!(
            body(&index, false),
            format!(
                r#"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 111 {inner_env} ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 28 2) 7) "MIXED")"#
            )
        );
        assert_eq!(
            body(&index, true),
            format!(
                r#"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 111 {inner_env} ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 28 2 NIL NIL NIL NIL) 7 NIL ("INLINE" NIL) NIL NIL) "MIXED" ("BOUNDARY" "o") NIL NIL NIL)"#
            )
        );
        assert!(index.has_attachments);
        assert!(index.search_text.contains("Inner line 2"));
        let paths: Vec<&str> = match &index.body {
            BodyStructure::Multipart { parts, .. } => {
                parts.iter().map(BodyStructure::path).collect()
            }
            BodyStructure::Single { .. } => panic!("expected a multipart"),
        };
        assert_eq!(paths, ["1", "2"]);
    }

    #[test]
    fn digest_parts_default_to_message_rfc822() {
        let index = MessageIndex::parse(DIGEST.as_bytes());
        assert_eq!(
            body(&index, false),
            r#"(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 21 (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 1) 3)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 22 (NIL "two" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 6 1) 3) "DIGEST")"#
        );
        let second = index
            .section(DIGEST.as_bytes(), &[2, 1])
            .expect("part 2.1")
            .body;
        assert_eq!(
            &DIGEST[second.start as usize..second.end as usize],
            "Second"
        );
    }

    #[test]
    fn base64_message_rfc822_is_described_but_not_addressed_inside() {
        let raw = "From: a@x.test\nSubject: b64 fwd\nContent-Type: multipart/mixed; boundary=\"o\"\n\n\
--o\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n\
U3ViamVjdDogZW5jb2RlZCBpbm5lcgoKaW5uZXIgYm9keQo=\n--o--\n";
        let index = MessageIndex::parse(raw.as_bytes());
        assert_eq!(
            body(&index, false),
            r#"(("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 48 (NIL "encoded inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1) 1) "MIXED")"#
        );
        let part = index.section(raw.as_bytes(), &[1]).expect("part 1");
        assert_eq!(
            &raw[part.body.start as usize..part.body.end as usize],
            "U3ViamVjdDogZW5jb2RlZCBpbm5lcgoKaW5uZXIgYm9keQo="
        );
        assert_eq!((part.header, part.text), (None, None));
        assert_eq!(index.section(raw.as_bytes(), &[1, 1]), None);
        assert!(index.search_text.contains("inner body"));
    }

    #[test]
    fn broken_multiparts_stay_within_the_grammar() {
        let cases = [
            // No boundary parameter: read as text, like mail-parser does.
            (
                "Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nJust text\r\n",
                r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1)"#,
            ),
            // A multipart without parts gets one empty text part (RFC 9051: 1*body).
            (
                "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"e\"\r\n\r\n--e--\r\n",
                r#"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "MIXED")"#,
            ),
            // RFC 2045 §5.2: an invalid Content-Type means text/plain; charset=us-ascii.
            (
                "Content-Type: garbage\r\n\r\nx",
                r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1 1)"#,
            ),
            // Non-text parts have no line count.
            (
                "Content-Type: Image/GIF\r\nContent-Transfer-Encoding: Base64\r\n\r\nR0lG\r\n",
                r#"("IMAGE" "GIF" NIL NIL NIL "BASE64" 6)"#,
            ),
        ];
        for (raw, expected) in cases {
            let index = MessageIndex::parse(raw.as_bytes());
            assert_eq!(body(&index, false), expected, "message {raw:?}");
        }
        let index = MessageIndex::parse(
            b"Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nJust text\r\n",
        );
        assert!(index.search_text.contains("Just text"));
    }

    #[test]
    fn mail_parser_internal_assertion_is_contained() {
        // Found by `malformed_input_never_panics`: an empty message/rfc822 inside a digest trips
        // a `debug_assert!` in mail-parser 0.11.9 (debug builds only).
        let raw = "t\nContent-Type:multipart/digest;boundary=d\n\n--d\n\ne\n\
Content-Type:message/rfc822\n\n\n--d--";
        check_invariants(raw.as_bytes());
    }

    #[test]
    fn missing_headers_give_nil_and_sender_defaults_to_from() {
        let cases = [
            (
                "X-Nothing: 1\r\n\r\nbody\r\n",
                "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
            ),
            (
                "From: a@x.test\r\nSender:\r\nReply-To: r@x.test\r\n\r\n",
                r#"(NIL NIL ((NIL NIL "a" "x.test")) ((NIL NIL "a" "x.test")) ((NIL NIL "r" "x.test")) NIL NIL NIL NIL NIL)"#,
            ),
            (
                "Subject:\r\nIn-Reply-To: <p@x.test>\r\nTo: root\r\n\r\n",
                r#"(NIL "" NIL NIL NIL ((NIL NIL "root" ".MISSING-HOST-NAME.")) NIL NIL "<p@x.test>" NIL)"#,
            ),
            ("", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
            (
                "just some text\nwithout any header\n",
                "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
            ),
        ];
        for (raw, expected) in cases {
            let index = MessageIndex::parse(raw.as_bytes());
            assert_eq!(envelope(&index), expected, "message {raw:?}");
        }
        let index = MessageIndex::parse(b"just some text\nwithout any header\n");
        assert!(index.search_text.contains("without any header"));
        assert_eq!(index.header_len, index.size);
    }

    #[test]
    fn eight_bit_strings_are_literals() {
        let raw = "From: \"Müller, Jörg\" <joerg@bücher.test>\r\n\
Subject: Grüße\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.txt; name=\"Ü.txt\"\r\n\
\r\n\
Grüße\r\n";
        let index = MessageIndex::parse(raw.as_bytes());
        let from = "(({14}\r\nMüller, Jörg NIL \"joerg\" {12}\r\nbücher.test))";
        assert_eq!(
            envelope(&index),
            format!("(NIL {{7}}\r\nGrüße {from} {from} {from} NIL NIL NIL NIL NIL)")
        );
        assert_eq!(
            body(&index, true),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 1 NIL \
             (\"ATTACHMENT\" (\"FILENAME*\" \"utf-8''%C3%A9t%C3%A9.txt\" \"NAME\" {6}\r\nÜ.txt)) NIL NIL)"
        );
        // Bytes that are not UTF-8 become U+FFFD, still sent as a literal.
        let index = MessageIndex::parse(b"Subject: caf\xe9\r\n\r\n");
        assert_eq!(
            envelope(&index),
            "(NIL {6}\r\ncaf\u{fffd} NIL NIL NIL NIL NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn has_attachments_follows_what_clients_show() {
        let apple_inline_pdf = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
Content-Type: application/pdf\r\nContent-Disposition: inline; filename=a.pdf\r\n\r\nJVBE\r\n--b--\r\n";
        let nameless_attachment = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
Content-Type: text/csv\r\nContent-Disposition: attachment\r\n\r\na,b\r\n--b--\r\n";
        let cases = [
            (SIMPLE, false),
            (ALTERNATIVE, false),
            (MIXED, true),
            (NESTED, true),
            (RELATED, false),
            (apple_inline_pdf, true),
            (nameless_attachment, true),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                MessageIndex::parse(raw.as_bytes()).has_attachments,
                expected,
                "message {raw:?}"
            );
        }
    }

    #[test]
    fn stored_form_round_trips_and_rejects_garbage() {
        for raw in SAMPLES {
            let index = MessageIndex::parse(raw.as_bytes());
            let bytes = index.to_bytes();
            assert_eq!(bytes[0], FORMAT_VERSION);
            assert_eq!(MessageIndex::from_bytes(&bytes).expect("reads back"), index);
        }
        assert!(matches!(
            MessageIndex::from_bytes(b""),
            Err(MessageError::Empty)
        ));
        assert!(matches!(
            MessageIndex::from_bytes(b"\x09{}"),
            Err(MessageError::UnknownVersion(9))
        ));
        // Indexes stored as JSON (format 1) still read.
        let index = MessageIndex::parse(MIXED.as_bytes());
        let mut json = vec![FORMAT_JSON];
        serde_json::to_writer(&mut json, &index).expect("JSON");
        assert_eq!(MessageIndex::from_bytes(&json).expect("JSON reads"), index);
        assert!(
            index.to_bytes().len() < json.len() * 2 / 3,
            "postcard is the smaller form"
        );
        let stored = MessageIndex::parse(MIXED.as_bytes()).to_bytes();
        for cut in [1, 2, stored.len() / 2, stored.len() - 1] {
            assert!(
                matches!(
                    MessageIndex::from_bytes(&stored[..cut]),
                    Err(MessageError::Corrupt(_))
                ),
                "cut {cut}"
            );
        }
    }

    /// The nesting depth of a tree, counting message/rfc822 levels and multipart levels.
    fn depth(body: &BodyStructure) -> usize {
        match body {
            BodyStructure::Multipart { parts, .. } => {
                1 + parts.iter().map(depth).max().unwrap_or(0)
            }
            BodyStructure::Single {
                message: Some(inner),
                ..
            } => 1 + depth(&inner.1),
            BodyStructure::Single { .. } => 1,
        }
    }

    #[test]
    fn deep_nesting_is_capped_and_still_stored() {
        let levels = MAX_DEPTH + 20;
        let mut forwarded = String::new();
        for i in 0..levels {
            forwarded.push_str(&format!(
                "Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n"
            ));
        }
        forwarded.push_str("Subject: leaf\r\n\r\nbottom\r\n");
        let mut multipart = String::new();
        for i in 0..levels {
            multipart.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        multipart.push_str("Content-Type: text/plain\r\n\r\nbottom\r\n");
        for i in (0..levels).rev() {
            multipart.push_str(&format!("--b{i}--\r\n"));
        }
        for raw in [forwarded, multipart] {
            let index = MessageIndex::parse(raw.as_bytes());
            assert!(
                depth(&index.body) <= MAX_DEPTH + 1,
                "depth {}",
                depth(&index.body)
            );
            let back =
                MessageIndex::from_bytes(&index.to_bytes()).expect("deepest tree still decodes");
            assert_eq!(back, index);
            assert_imap_syntax(body(&index, true).as_bytes());
        }
    }

    /// Checks the shape of rendered IMAP data: balanced parentheses outside quoted strings and
    /// literals, literals as long as they say, no CR or LF outside literals.
    fn assert_imap_syntax(data: &[u8]) {
        let mut depth = 0i64;
        let mut i = 0;
        while i < data.len() {
            match data[i] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    assert!(
                        depth >= 0,
                        "unbalanced at {i}: {:?}",
                        String::from_utf8_lossy(data)
                    );
                }
                b'"' => {
                    i += 1;
                    while data[i] != b'"' {
                        assert!(data[i] != b'\r' && data[i] != b'\n' && data[i] < 0x80);
                        i += if data[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'{' => {
                    let close = i + data[i..]
                        .iter()
                        .position(|&b| b == b'}')
                        .expect("literal length");
                    let n: usize = std::str::from_utf8(&data[i + 1..close])
                        .expect("digits")
                        .parse()
                        .expect("number");
                    assert_eq!(&data[close + 1..close + 3], b"\r\n");
                    assert!(!data[close + 3..close + 3 + n].contains(&0));
                    i = close + 2 + n;
                }
                b'\r' | b'\n' => panic!("line break outside a literal at {i}"),
                _ => {}
            }
            i += 1;
        }
        assert_eq!(depth, 0, "unbalanced: {:?}", String::from_utf8_lossy(data));
    }

    /// Every structural invariant an index must keep, whatever the input.
    fn check_invariants(raw: &[u8]) {
        let index = MessageIndex::parse(raw);
        assert_eq!(index.size, raw.len() as u64);
        assert!(index.header_len <= index.size);
        assert!(index.search_text.len() <= SEARCH_TEXT_LIMIT);
        // (node, whether it is the root body of a message, whether its bytes are its own)
        let mut nodes = vec![(&index.body, true, true)];
        while let Some((node, is_root, addressable)) = nodes.pop() {
            for range in [node.header(), node.body()] {
                assert!(
                    range.start <= range.end && range.end <= index.size,
                    "{range:?} in {}",
                    index.size
                );
            }
            // A root body carries its message's number; every other listed part is found by
            // its own number (issue 10 item 2: BODYSTRUCTURE and BODY[n] agree).
            if !is_root && addressable {
                let path: Vec<u32> = node.path().split('.').flat_map(str::parse).collect();
                let found = index.body.part(&path);
                assert!(
                    found.is_some_and(|f| std::ptr::eq(f, node)),
                    "part {} is found by its number",
                    node.path()
                );
            }
            match node {
                BodyStructure::Multipart { parts, .. } => {
                    assert!(!parts.is_empty());
                    nodes.extend(parts.iter().map(|p| (p, false, addressable)));
                }
                BodyStructure::Single {
                    message: Some(inner),
                    encoding,
                    ..
                } => {
                    let encoded = encoding == "base64" || encoding == "quoted-printable";
                    nodes.push((&inner.1, true, addressable && !encoded));
                }
                BodyStructure::Single { .. } => {}
            }
        }
        let mut out = Vec::new();
        write_envelope(&index.envelope, &mut out);
        assert_imap_syntax(&out);
        for extensible in [false, true] {
            let mut out = Vec::new();
            write_bodystructure(&index.body, extensible, &mut out);
            assert_imap_syntax(&out);
        }
        for path in [
            &[][..],
            &[1],
            &[2],
            &[1, 1],
            &[1, 2],
            &[2, 1],
            &[1, 1, 1],
            &[3, 2, 1],
            &[0],
            &[u32::MAX],
        ] {
            if let Some(s) = index.section(raw, path) {
                for r in [Some(s.body), s.mime, s.header, s.text]
                    .into_iter()
                    .flatten()
                {
                    assert!(r.start <= r.end && r.end <= raw.len() as u64);
                }
            }
        }
        assert_eq!(
            MessageIndex::from_bytes(&index.to_bytes()).expect("round trip"),
            index
        );
    }

    /// xorshift64: a tiny deterministic generator, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Pieces that steer random input into the parser's interesting paths.
    const PIECES: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b": ",
        b"--b",
        b"--b--",
        b"--",
        b";",
        b"\"",
        b"(",
        b")",
        b"<",
        b">",
        b"@",
        b",",
        b":;",
        b"=?utf-8?q?",
        b"?=",
        b"=?x?b?",
        b"\xc3\xa9",
        b"\xff",
        b"\0",
        b" ",
        b"\t",
        b"From: ",
        b"To: g:a@b,c;",
        b"Subject: ",
        b"Content-Type: multipart/mixed; boundary=b",
        b"Content-Type: message/rfc822",
        b"Content-Type: multipart/digest; boundary=b",
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: quoted-printable",
        b"Content-Disposition: attachment; filename*0*=utf-8''a; filename*1=b",
        b"Content-Type: text/plain; charset=",
        b"=\r\n",
        b"=4",
        b"\\",
    ];

    #[test]
    fn malformed_input_never_panics() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Random byte strings built from raw bytes and meaningful pieces.
        for _ in 0..3000 {
            let mut raw = Vec::new();
            for _ in 0..rng.below(60) {
                if rng.below(3) == 0 {
                    raw.push(rng.next() as u8);
                } else {
                    raw.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                }
            }
            check_invariants(&raw);
        }
        // Every truncation of every sample, then random mutations of them.
        for sample in SAMPLES {
            let sample = sample.as_bytes();
            for cut in 0..=sample.len() {
                check_invariants(&sample[..cut]);
            }
            for _ in 0..300 {
                let mut raw = sample.to_vec();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(raw.len());
                    match rng.below(3) {
                        0 => raw[at] = rng.next() as u8,
                        1 => {
                            let end = (at + rng.below(20)).min(raw.len());
                            raw.drain(at..end);
                        }
                        _ => {
                            let piece = PIECES[rng.below(PIECES.len())];
                            raw.splice(at..at, piece.iter().copied());
                        }
                    }
                    if raw.is_empty() {
                        break;
                    }
                }
                check_invariants(&raw);
            }
        }
    }
}
