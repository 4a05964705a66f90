//! Issue 10 item 2, issue 4: every part BODYSTRUCTURE lists can be fetched by its number, with
//! that part's bytes, however malformed the nesting (RFC 9051 §6.4.5 numbering, message/rfc822
//! parts included). An IMAP client numbers parts from the BODYSTRUCTURE it was sent; a number it
//! cannot fetch is an empty or failed `BODY[n]` for the user.

use std::ops::Range;

use postwerk_message::{BodyStructure, MessageIndex};

/// The fuzz finding: a nested message/rfc822 whose own body is message/rfc822 again (its header
/// is garbled, so the last Content-Type wins) and holds a multipart. Its parts were listed as
/// `2.1`/`2.2`, where lookup (rightly) has `2.1.1`/`2.1.2`.
const FUZZ_FINDING: &[u8] = include_bytes!(
    "../../../fuzz/regressions/message_ingest/rfc822_root_body_is_rfc822_broken_boundary.eml"
);

/// A multipart without a boundary parameter inside a forwarded message: read as text.
const MISSING_BOUNDARY: &str = "Subject: outer\r\n\
Content-Type: multipart/mixed; boundary=\"o\"\r\n\
\r\n\
--o\r\n\
Content-Type: text/plain\r\n\
\r\n\
hello\r\n\
--o\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
Content-Type: multipart/alternative\r\n\
\r\n\
--x\r\n\
Content-Type: text/plain\r\n\
\r\n\
not a part\r\n\
--x--\r\n\
--o--\r\n";

/// A top-level message/rfc822 holding a multipart whose boundary is never closed, whose last
/// part is another message.
const BOUNDARY_NEVER_CLOSED: &str = "Subject: outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
first\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: innermost\r\n\
\r\n\
deepest\r\n";

/// A message/rfc822 part with nothing in it, followed by another part.
const EMPTY_RFC822_PART: &str = "Subject: outer\r\n\
Content-Type: multipart/mixed; boundary=\"e\"\r\n\
\r\n\
--e\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
--e\r\n\
Content-Type: text/plain\r\n\
\r\n\
after\r\n\
--e--\r\n";

/// A whole message that is an empty message/rfc822.
const EMPTY_RFC822_MESSAGE: &str = "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\n";

/// Three messages nested directly in one another, the last a single text part.
const RFC822_CHAIN: &str = "Subject: one\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: two\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: three\r\n\
\r\n\
innermost text\r\n";

/// One numbered part as the check below saw it: its number and its body's bytes.
struct Listed {
    number: String,
    body: Vec<u8>,
}

/// Checks that every part listed in the BODYSTRUCTURE of `raw` is found by `section` with the
/// bytes of that part (body and MIME header), and returns the listed parts in order.
fn listed_parts_are_found(raw: &[u8]) -> Vec<Listed> {
    let index = MessageIndex::parse(raw);
    let mut listed = Vec::new();
    visit(&index, raw, &index.body, Some(""), true, &mut listed);
    let mut numbers: Vec<&str> = listed.iter().map(|l| l.number.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), listed.len(), "each number names one part");
    listed
}

/// `message_root` is the number of the message when `node` is its root body.
fn visit(
    index: &MessageIndex,
    raw: &[u8],
    node: &BodyStructure,
    message_root: Option<&str>,
    addressable: bool,
    listed: &mut Vec<Listed>,
) {
    // RFC 9051 §6.4.5: the root body of a message is no part of its own when it is a multipart
    // (the number names the message), and is the message's part 1 otherwise.
    let number = match (message_root, node) {
        (Some(message), _) => {
            assert_eq!(
                node.path(),
                message,
                "a root body carries its message's number"
            );
            match node {
                BodyStructure::Multipart { .. } => None,
                BodyStructure::Single { .. } => Some(child(message, 1)),
            }
        }
        (None, _) => Some(node.path().to_string()),
    };
    if let Some(number) = number.filter(|_| addressable) {
        let path: Vec<u32> = number
            .split('.')
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|_| panic!("part number {number:?}"))
            })
            .collect();
        let found = index
            .body
            .part(&path)
            .unwrap_or_else(|| panic!("part {number} is not found by its number"));
        assert!(std::ptr::eq(found, node), "part {number} finds itself");
        let section = index
            .section(raw, &path)
            .unwrap_or_else(|| panic!("BODY[{number}] has no section"));
        assert_eq!(
            bytes(raw, &section.body),
            bytes(raw, node.body()),
            "BODY[{number}]"
        );
        assert_eq!(
            section.mime.as_ref().map(|r| bytes(raw, r)),
            Some(bytes(raw, node.header())),
            "BODY[{number}.MIME]"
        );
        listed.push(Listed {
            body: bytes(raw, node.body()).to_vec(),
            number,
        });
    }
    match node {
        BodyStructure::Multipart { parts, .. } => {
            for part in parts {
                visit(index, raw, part, None, addressable, listed);
            }
        }
        BodyStructure::Single {
            message: Some(inner),
            encoding,
            ..
        } => {
            // The parts of a transfer-encoded message have no bytes of their own (see
            // `BodyStructure::Single::message`), so they are listed but not fetched.
            let encoded = ["base64", "quoted-printable"].contains(&encoding.as_str());
            let own = match message_root {
                Some(message) => child(message, 1),
                None => node.path().to_string(),
            };
            visit(
                index,
                raw,
                &inner.1,
                Some(&own),
                addressable && !encoded,
                listed,
            );
        }
        BodyStructure::Single { .. } => {}
    }
}

fn child(number: &str, index: u32) -> String {
    if number.is_empty() {
        index.to_string()
    } else {
        format!("{number}.{index}")
    }
}

fn bytes<'a>(raw: &'a [u8], range: &Range<u64>) -> &'a [u8] {
    &raw[range.start as usize..range.end as usize]
}

fn numbers(listed: &[Listed]) -> Vec<&str> {
    listed.iter().map(|l| l.number.as_str()).collect()
}

fn body_of<'a>(listed: &'a [Listed], number: &str) -> &'a str {
    let part = listed.iter().find(|l| l.number == number);
    let part = part.unwrap_or_else(|| panic!("part {number} is listed"));
    std::str::from_utf8(&part.body).unwrap_or_else(|_| panic!("part {number} is text"))
}

#[test]
fn fuzz_finding_parts_are_numbered_under_the_inner_message() {
    let listed = listed_parts_are_found(FUZZ_FINDING);
    assert_eq!(numbers(&listed), ["1", "2", "2.1", "2.1.1", "2.1.2"]);
    assert_eq!(body_of(&listed, "2.1.1"), "inner text");
    assert!(body_of(&listed, "2.1.2").starts_with("U3ViamVjdDogZW5jb2RlZA0KDQpib2R5DQo="));
}

#[test]
fn multipart_without_boundary_is_one_text_part() {
    let listed = listed_parts_are_found(MISSING_BOUNDARY.as_bytes());
    assert_eq!(numbers(&listed), ["1", "2", "2.1"]);
    assert!(body_of(&listed, "2.1").starts_with("--x\r\nContent-Type: text/plain"));
}

#[test]
fn unclosed_boundary_keeps_the_parts_it_found() {
    let listed = listed_parts_are_found(BOUNDARY_NEVER_CLOSED.as_bytes());
    assert_eq!(numbers(&listed), ["1", "1.1", "1.2", "1.2.1"]);
    assert_eq!(body_of(&listed, "1.1"), "first");
    assert_eq!(body_of(&listed, "1.2.1"), "deepest\r\n");
}

#[test]
fn empty_message_rfc822_parts_are_found() {
    // mail-parser reads the part after the empty message as that message's content; whichever
    // part holds the text, it is listed under a number that fetches it.
    let listed = listed_parts_are_found(EMPTY_RFC822_PART.as_bytes());
    assert_eq!(numbers(&listed)[..2], ["1", "1.1"]);
    assert!(
        listed.iter().any(|l| l.body == b"after"),
        "the text part is listed"
    );

    let listed = listed_parts_are_found(EMPTY_RFC822_MESSAGE.as_bytes());
    assert_eq!(numbers(&listed), ["1", "1.1"]);
    assert_eq!(body_of(&listed, "1"), "");
    assert_eq!(body_of(&listed, "1.1"), "");
}

#[test]
fn message_in_message_in_message_numbers_down_one_level_each() {
    let listed = listed_parts_are_found(RFC822_CHAIN.as_bytes());
    assert_eq!(numbers(&listed), ["1", "1.1", "1.1.1"]);
    assert_eq!(body_of(&listed, "1.1.1"), "innermost text\r\n");
    assert!(body_of(&listed, "1").starts_with("Subject: two\r\n"));
}
