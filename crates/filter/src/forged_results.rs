//! RFC 8601 §5: an `Authentication-Results` header field that arrives from outside claiming to
//! be ours (its authserv-id is this server's name) is a forgery meant to make a client trust an
//! unauthenticated message; the receiving border server removes it before delivery. Fields of
//! other servers are kept (they are the record of earlier hops, and ours goes on top).

use std::borrow::Cow;
use std::ops::Range;

/// The message with every `Authentication-Results` field of the header section whose
/// authserv-id is `authserv_id` (compared ignoring case) removed, continuation lines included;
/// borrowed unchanged when there is none.
pub fn strip<'m>(raw: &'m [u8], authserv_id: &str) -> Cow<'m, [u8]> {
    let forged: Vec<Range<usize>> = header_fields(raw)
        .filter(|field| is_ours(&raw[field.clone()], authserv_id))
        .collect();
    if forged.is_empty() {
        return Cow::Borrowed(raw);
    }
    let mut kept = Vec::with_capacity(raw.len());
    let mut at = 0;
    for field in forged {
        kept.extend_from_slice(&raw[at..field.start]);
        at = field.end;
    }
    kept.extend_from_slice(&raw[at..]);
    Cow::Owned(kept)
}

/// The byte ranges of the header fields, each with its continuation lines and line ends, up to
/// the empty line that ends the header section (or the end of a message without a body).
fn header_fields(raw: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= raw.len() || raw[at] == b'\r' || raw[at] == b'\n' {
            return None;
        }
        let start = at;
        loop {
            at = line_end(raw, at);
            // RFC 5322 §2.2.3: a line starting with white space continues the field.
            if at >= raw.len() || !matches!(raw[at], b' ' | b'\t') {
                break;
            }
        }
        Some(start..at)
    })
}

/// The index just after the line starting at `from` (after its LF, or the end).
fn line_end(raw: &[u8], from: usize) -> usize {
    raw[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(raw.len(), |lf| from + lf + 1)
}

/// True for an `Authentication-Results:` field whose authserv-id (RFC 8601 §2.2: the first
/// token of the value, before any version and `;`) is `authserv_id`.
fn is_ours(field: &[u8], authserv_id: &str) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = field[..colon].trim_ascii();
    if !name.eq_ignore_ascii_case(b"Authentication-Results") {
        return false;
    }
    let value = &field[colon + 1..];
    let id_end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    let id = value[..id_end]
        .split(|b| b.is_ascii_whitespace())
        .find(|token| !token.is_empty());
    id.is_some_and(|id| id.eq_ignore_ascii_case(authserv_id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "mx.example.com";

    #[test]
    fn a_field_claiming_our_name_is_removed_with_its_continuation_lines() {
        let raw = b"Received: from a\r\n\
            Authentication-Results: MX.example.com;\r\n\
            \tdkim=pass header.d=bank.example;\r\n\
            \tspf=pass\r\n\
            Authentication-Results: relay.other.example; spf=fail\r\n\
            Subject: hi\r\n\
            \r\n\
            Authentication-Results: mx.example.com; in the body stays\r\n";
        let stripped = strip(raw, OURS);
        assert_eq!(
            String::from_utf8_lossy(&stripped),
            "Received: from a\r\n\
             Authentication-Results: relay.other.example; spf=fail\r\n\
             Subject: hi\r\n\
             \r\n\
             Authentication-Results: mx.example.com; in the body stays\r\n"
        );
    }

    #[test]
    fn a_version_after_the_id_and_lowercase_names_are_recognised() {
        let raw = b"authentication-results:  mx.example.com 1; none\r\nSubject: x\r\n\r\nbody";
        assert_eq!(&*strip(raw, OURS), b"Subject: x\r\n\r\nbody");
    }

    #[test]
    fn a_message_without_forgery_is_borrowed_unchanged() {
        let raw = b"Authentication-Results: mx.example.com.evil; spf=pass\r\n\r\nbody";
        assert!(matches!(strip(raw, OURS), Cow::Borrowed(_)));
        let no_body = b"Subject: only headers";
        assert!(matches!(strip(no_body, OURS), Cow::Borrowed(_)));
    }
}
