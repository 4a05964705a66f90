//! Small helpers over raw message bytes: header lookup, unfolding, line counting.
//!
//! Everything here works on the bytes as received, because IMAP sends header values and sizes as
//! they are on the wire, not as `mail-parser` decoded them.

use std::ops::Range;

use mail_parser::{Header, HeaderName, Message, MessageParser};

/// Runs `mail-parser` on `raw`, treating a panic inside it as "cannot parse".
///
/// mail-parser 0.11.9 promises never to panic, but its recovery paths for corrupted MIME trees
/// hold `debug_assert!(false, ...)` (`parsers/message.rs`, "Invalid part ID, could not find
/// multipart"), which this crate's fuzz test reaches in debug builds; index arithmetic on
/// hostile offsets is the same kind of risk in release builds. A message that was accepted must
/// still be indexed, so the caller falls back to indexing it as unparsed text. (This relies on
/// the workspace's default `panic = "unwind"`.)
pub(crate) fn parse_message(raw: &[u8]) -> Option<Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .ok()
        .flatten()
        .filter(|m| !m.parts.is_empty())
}

/// The first header called `name`.
///
/// RFC 5322 §3.6 allows at most one of each originator/destination/identification field; when a
/// malformed message repeats one, the first wins (as in UW-IMAP's c-client, the reference IMAP
/// implementation) for the ENVELOPE and the summary alike, so both always agree.
pub(crate) fn first<'a, 'x>(
    headers: &'a [Header<'x>],
    name: &HeaderName<'_>,
) -> Option<&'a Header<'x>> {
    headers.iter().find(|h| &h.name == name)
}

/// The last header called `name`.
///
/// Used for the `Content-*` fields: `mail-parser` splits MIME parts by the last `Content-Type` and
/// decodes by the last `Content-Transfer-Encoding`, so BODYSTRUCTURE must read the same ones or it
/// would describe a structure other than the one whose offsets it carries.
pub(crate) fn last<'a, 'x>(
    headers: &'a [Header<'x>],
    name: &HeaderName<'_>,
) -> Option<&'a Header<'x>> {
    headers.iter().rev().find(|h| &h.name == name)
}

/// The raw value of `header` inside `raw`, unfolded and trimmed, as IMAP sends it.
///
/// RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by WSP. A value cannot contain a
/// line break that is not a fold (it would end the field), so dropping every CR and LF is the same
/// thing and also removes stray bare CRs, which no IMAP quoted string may carry. Bytes that are not
/// UTF-8 (illegal in headers, RFC 6532 §3.2) are replaced with U+FFFD.
pub(crate) fn value(raw: &[u8], header: &Header<'_>) -> String {
    let range = clamp(
        raw.len(),
        header.offset_start as usize..header.offset_end as usize,
    );
    unfold(&raw[range])
}

/// See [`value`]: drop CR and LF, decode as UTF-8 (lossily), trim surrounding WSP.
pub(crate) fn unfold(bytes: &[u8]) -> String {
    let kept: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let text = String::from_utf8_lossy(&kept);
    text.trim_matches([' ', '\t']).to_string()
}

/// Number of lines in `bytes`, for the IMAP `body-fld-lines` of text and message/rfc822 parts.
///
/// RFC 9051 §7.5.2 only says "the size of the body in text lines". A part body inside a multipart
/// ends without the CRLF that precedes the next boundary (RFC 2046 §5.1.1: that CRLF belongs to the
/// boundary), so a final line without a line break is still counted as a line.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    let breaks = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    match bytes.last() {
        Some(b'\n') | None => breaks,
        Some(_) => breaks + 1,
    }
}

/// `range` limited to `0..len` and made non-decreasing, so slicing with it can never panic.
pub(crate) fn clamp(len: usize, range: Range<usize>) -> Range<usize> {
    let end = range.end.min(len);
    range.start.min(end)..end
}

/// Offset just after the blank line (CRLF or bare LF) that ends the header of `raw`, or
/// `raw.len()` without one (RFC 5322 §2.1: the header is everything up to the first empty
/// line). The parser uses it when `mail-parser` finds no header at all; IMAP `BODY[HEADER]`
/// and POP3 TOP use it so they never depend on an index.
pub fn header_end(raw: &[u8]) -> usize {
    let mut line_start = 0;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' {
            let line = &raw[line_start..i];
            if line.is_empty() || line == b"\r" {
                return i + 1;
            }
            line_start = i + 1;
        }
    }
    raw.len()
}

/// Comment-free, trimmed text of a structured header value (RFC 5322 §3.2.2 CFWS removed, quoted
/// strings kept as they are).
pub(crate) fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut in_quote = false;
    let mut escaped = false;
    for ch in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(ch);
            }
            continue;
        }
        match ch {
            '\\' if in_quote || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(ch);
                }
            }
            '"' if depth == 0 => {
                in_quote = !in_quote;
                out.push(ch);
            }
            '(' if !in_quote => depth += 1,
            ')' if !in_quote && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfold_removes_line_breaks_and_trims() {
        let cases: &[(&[u8], &str)] = &[
            (b" Hello\r\n", "Hello"),
            (b" Hello\r\n world\r\n", "Hello world"),
            (b"\tfolded\n\tlf-only\n", "folded\tlf-only"),
            (b"", ""),
            (b" \xff\xfe\r\n", "\u{fffd}\u{fffd}"),
            (b" =?utf-8?q?caf=C3=A9?=\r\n", "=?utf-8?q?caf=C3=A9?="),
        ];
        for (input, expected) in cases {
            assert_eq!(unfold(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn count_lines_counts_partial_last_line() {
        let cases: &[(&[u8], u64)] = &[
            (b"", 0),
            (b"one", 1),
            (b"one\r\n", 1),
            (b"one\r\ntwo", 2),
            (b"one\r\ntwo\r\n", 2),
            (b"\r\n\r\n", 2),
        ];
        for (input, expected) in cases {
            assert_eq!(count_lines(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn clamp_never_yields_an_invalid_range() {
        let cases = [
            (10, 2..5, 2..5),
            (10, 2..50, 2..10),
            (10, 20..50, 10..10),
            // A reversed range, as corrupt offsets could give.
            (10, Range { start: 7, end: 3 }, 3..3),
            (0, 0..0, 0..0),
        ];
        for (len, input, expected) in cases {
            assert_eq!(
                clamp(len, input.clone()),
                expected,
                "len {len} range {input:?}"
            );
        }
    }

    #[test]
    fn header_end_finds_first_blank_line() {
        let cases: &[(&[u8], usize)] = &[
            (b"A: b\r\n\r\nbody", 8),
            (b"A: b\n\nbody", 6),
            (b"\r\nbody", 2),
            (b"no blank line", 13),
            (b"", 0),
        ];
        for (input, expected) in cases {
            assert_eq!(header_end(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn strip_comments_keeps_quoted_text() {
        let cases = [
            ("7bit (the default)", "7bit"),
            ("en (English), de", "en , de"),
            ("\"(not a comment)\"", "\"(not a comment)\""),
            ("a (nested (deep) comment) b", "a  b"),
            ("(unterminated", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_comments(input), expected, "input {input:?}");
        }
    }
}
