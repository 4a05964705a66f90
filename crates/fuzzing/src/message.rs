//! Message ingest (crate `message`): `MessageIndex::parse`, what it promises about its ranges,
//! the stored form, the IMAP ENVELOPE and BODYSTRUCTURE renderings, and section lookup.

use std::ops::Range;

use postwerk_message::{
    BodyStructure, MessageIndex, SEARCH_TEXT_LIMIT, parse_address_list, write_bodystructure,
    write_envelope,
};

/// Parts visited at most, so a message of thousands of parts costs the fuzzer little.
const MAX_PARTS: usize = 256;

/// Indexes `raw` as the store does at delivery and reads the index back the ways FETCH does.
pub fn message_ingest(raw: &[u8]) {
    let index = MessageIndex::parse(raw);
    let size = raw.len() as u64;
    assert_eq!(index.size, size, "the index records the message's size");
    assert!(
        index.header_len <= size,
        "the header ends inside the message"
    );
    assert!(
        index.search_text.len() <= SEARCH_TEXT_LIMIT,
        "search text is bounded"
    );

    let stored = MessageIndex::from_bytes(&index.to_bytes());
    assert_eq!(
        stored.ok().as_ref(),
        Some(&index),
        "the stored form reads back"
    );

    let mut out = Vec::new();
    write_envelope(&index.envelope, &mut out);
    assert_imap_syntax(&out, "ENVELOPE");
    for extensible in [false, true] {
        out.clear();
        write_bodystructure(&index.body, extensible, &mut out);
        assert_imap_syntax(&out, "BODYSTRUCTURE");
    }

    let whole = index.section(raw, &[]);
    assert!(whole.is_some(), "the whole message is always a section");
    let mut visited = 0;
    walk(&index, raw, &index.body, true, &mut visited);

    for line in String::from_utf8_lossy(raw).lines().take(64) {
        if let Some((_, value)) = line.split_once(':') {
            let _ = parse_address_list(value);
        }
    }
}

/// Checks every part below `part`: its ranges lie in the message (the index's invariant), its
/// number finds it again when it is `addressable`, and section lookup stays inside the message.
///
/// Parts inside a transfer-encoded message/rfc822 part have no bytes of their own and are not
/// addressable by number (see `BodyStructure::Single::message`), so they are not looked up.
fn walk(
    index: &MessageIndex,
    raw: &[u8],
    part: &BodyStructure,
    addressable: bool,
    visited: &mut usize,
) {
    *visited += 1;
    if *visited > MAX_PARTS {
        return;
    }
    let size = raw.len() as u64;
    assert!(
        within(part.header(), size),
        "a part's header range lies in the message"
    );
    assert!(
        within(part.body(), size),
        "a part's body range lies in the message"
    );
    if let Some(path) = part_number(part.path()).filter(|_| addressable) {
        let found = index.body.part(&path);
        assert!(
            found.is_some(),
            "part {} is found by its number",
            part.path()
        );
        if let Some(ranges) = index.section(raw, &path) {
            let mut all = vec![ranges.body.clone()];
            all.extend(ranges.mime.clone());
            all.extend(ranges.header.clone());
            all.extend(ranges.text.clone());
            assert!(
                all.iter().all(|r| within(r, size)),
                "sections lie in the message"
            );
        }
    }
    match part {
        BodyStructure::Single {
            message, encoding, ..
        } => {
            if let Some(inner) = message {
                let encoded = ["base64", "quoted-printable"]
                    .iter()
                    .any(|e| encoding.eq_ignore_ascii_case(e));
                walk(index, raw, &inner.1, addressable && !encoded, visited);
            }
        }
        BodyStructure::Multipart { parts, .. } => {
            for inner in parts {
                walk(index, raw, inner, addressable, visited);
            }
        }
    }
}

fn within(range: &Range<u64>, size: u64) -> bool {
    range.start <= range.end && range.end <= size
}

/// `1.2.3` as numbers; `None` for the root's own number (`""` or `TEXT`-like names).
fn part_number(path: &str) -> Option<Vec<u32>> {
    if path.is_empty() {
        return None;
    }
    path.split('.').map(|n| n.parse().ok()).collect()
}

/// A rendered ENVELOPE or BODYSTRUCTURE is one parenthesised list: quoted strings closed,
/// literals complete, parentheses balanced, no line end outside a literal announcement.
fn assert_imap_syntax(out: &[u8], what: &str) {
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < out.len() {
        match out[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                assert!(depth >= 0, "{what}: a ')' closes nothing");
            }
            b'"' => {
                i += 1;
                while i < out.len() && out[i] != b'"' {
                    i += if out[i] == b'\\' { 2 } else { 1 };
                }
                assert!(i < out.len(), "{what}: a quoted string is not closed");
            }
            b'{' => {
                let close = out[i..].iter().position(|&b| b == b'}');
                let close = close.map(|c| i + c);
                let size = close
                    .and_then(|c| std::str::from_utf8(&out[i + 1..c]).ok())
                    .and_then(|n| n.parse::<usize>().ok());
                let (Some(close), Some(size)) = (close, size) else {
                    panic!("{what}: a literal announcement is malformed");
                };
                assert_eq!(
                    out.get(close + 1..close + 3),
                    Some(&b"\r\n"[..]),
                    "{what}: a literal announcement ends with CRLF"
                );
                i = close + 3 + size;
                assert!(
                    i <= out.len(),
                    "{what}: a literal is shorter than announced"
                );
                continue;
            }
            b'\r' | b'\n' => panic!("{what}: a line end outside a literal"),
            _ => {}
        }
        i += 1;
    }
    assert_eq!(depth, 0, "{what}: parentheses are balanced");
}
