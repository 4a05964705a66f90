//! Reading a delivery report: part bodies decoded from their transfer encoding, the RFC 3464
//! `message/delivery-status` field groups, and the SMTP replies that plain-text bounces quote.
//!
//! Everything here is tolerant: reports come from every kind of MTA, and a field or line we
//! cannot read is skipped rather than making the whole report unreadable.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use postwerk_message::BodyStructure;

use super::classify::is_enhanced_status;

/// The decoded text of a leaf part: transfer encoding undone (RFC 2045 §6), charset read as
/// UTF-8, or as ISO-8859-1 when it says so; `None` for a multipart or a range outside `raw`.
pub(super) fn part_text(raw: &[u8], part: &BodyStructure) -> Option<String> {
    let BodyStructure::Single { encoding, body, .. } = part else {
        return None;
    };
    let start = usize::try_from(body.start).ok()?;
    let end = usize::try_from(body.end).ok()?;
    let bytes = raw.get(start..end)?;
    let decoded = match encoding.as_str() {
        "base64" => decode_base64(bytes),
        "quoted-printable" => decode_quoted_printable(bytes),
        _ => bytes.to_vec(),
    };
    let charset = part
        .param("charset")
        .unwrap_or("utf-8")
        .to_ascii_lowercase();
    Some(match charset.as_str() {
        // Every octet is the code point of the same value (ISO-8859-1 is the first 256 of
        // Unicode); windows-1252 differs only in 0x80–0x9F, which bounces hardly use.
        "iso-8859-1" | "latin1" | "iso_8859-1" | "windows-1252" | "cp1252" => {
            decoded.iter().map(|&b| char::from(b)).collect()
        }
        _ => String::from_utf8_lossy(&decoded).into_owned(),
    })
}

/// Base64 as mail carries it: line breaks and stray characters ignored, padding optional.
fn decode_base64(bytes: &[u8]) -> Vec<u8> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
        .collect();
    LENIENT.decode(clean).unwrap_or_default()
}

/// RFC 2045 §6.7: `=XX` octets and soft line breaks (`=` at a line end); anything malformed
/// is kept as it is.
fn decode_quoted_printable(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let rest = &bytes[i + 1..];
        if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = rest
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// One group of RFC 3464 fields: the per-message group or one per-recipient group. Names
/// lowercase, values unfolded, in message order.
#[derive(Debug, Default)]
pub(super) struct FieldGroup(Vec<(String, String)>);

impl FieldGroup {
    /// The first value of the field `name` (lowercase).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 3464 §2.1: a `message/delivery-status` body is a per-message group of header-style
/// fields followed by one group per recipient, groups separated by blank lines. Folded lines
/// (RFC 5322 §2.2.3) are unfolded with the fold's whitespace as one space, which gives back
/// exactly the line a sender folded at a space. Lines that are no field are skipped.
pub(super) fn field_groups(text: &str) -> Vec<FieldGroup> {
    let mut groups = Vec::new();
    let mut current = FieldGroup::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.0.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.0.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':')
            && !name.is_empty()
            && !name.contains(char::is_whitespace)
        {
            current
                .0
                .push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !current.0.is_empty() {
        groups.push(current);
    }
    groups
}

/// The value of a typed field without its type (RFC 3464 §2.3.6 `diagnostic-type ";" text`,
/// §2.3.1 `address-type ";" address`, §2.3.5 `mta-name-type ";" mta-name`):
/// `smtp; 550 5.1.1 …` → `550 5.1.1 …`. A value without a type is returned whole.
pub(super) fn untyped(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.is_empty()
                && kind.len() <= 32
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// An address as reports write it, without angle brackets.
pub(super) fn bare_address(value: &str) -> String {
    let value = value.trim();
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(value)
        .to_owned()
}

/// The first RFC 3463 code in `text` (`550-5.1.1 …` gives `5.1.1`).
pub(super) fn first_enhanced_status(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|word| word.trim_matches(|c: char| !c.is_ascii_digit()))
        .find(|word| is_enhanced_status(word))
        .map(str::to_owned)
}

/// The RFC 5321 §4.2 reply code `text` starts with, if it does (`451 …`, `550-…`).
pub(super) fn reply_code(text: &str) -> Option<u16> {
    let code = text.get(..3)?;
    let after = text[3..].chars().next();
    let valid = code.bytes().all(|b| b.is_ascii_digit())
        && matches!(code.as_bytes()[0], b'2'..=b'5')
        && matches!(after, None | Some(' ' | '-'));
    valid.then(|| code.parse().ok())?
}

/// A reply a plain-text bounce quotes, with the recipient and host it was said about.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct QuotedReply {
    pub address: Option<String>,
    pub remote_mta: Option<String>,
    /// The reply from its code on, continuation lines joined with one space.
    pub reply: String,
}

/// Lines (lowercase) after which a bounce quotes the returned message: codes found there are
/// the original's, not the server's (Exim, qmail, Sendmail, Gmail, Exchange wordings).
const ORIGINAL_FOLLOWS: &[&str] = &[
    "this is a copy of the message",
    "below this line is a copy of the message",
    "original message follows",
    "----- original message",
    "-----original message",
    "----- transcript of session follows",
    "the header of the original message",
    "original message headers",
    "undelivered message headers",
];

/// The part of a plain-text bounce written by the reporting MTA: everything before the
/// returned message starts.
pub(super) fn own_words(text: &str) -> &str {
    let mut end = text.len();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        if ORIGINAL_FOLLOWS.iter().any(|m| lower.contains(m)) {
            end = offset;
            break;
        }
        offset += line.len();
    }
    &text[..end]
}

/// The SMTP replies quoted in a plain-text bounce, each with the recipient address and host
/// named on the lines before it: Postfix `<a@b>: host mx[ip] said: 550 …`, Exim's indented
/// address, host and reply lines, qmail `<a@b>:` then `Remote host said: 550 …`.
pub(super) fn quoted_replies(text: &str) -> Vec<QuotedReply> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut address = None;
    let mut host = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let mut rest = line;
        if let Some((addr, after)) = address_line(line) {
            address = Some(addr);
            host = None;
            rest = after;
        }
        if let Some(name) = host_named(rest) {
            host = Some(name);
        }
        let Some(start) = reply_start(rest) else {
            i += 1;
            continue;
        };
        let indent = indentation(line);
        let mut reply = rest[start..].trim_end().to_owned();
        let mut continues = reply.as_bytes().get(3) == Some(&b'-');
        i += 1;
        while let Some(next) = lines.get(i) {
            let trimmed = next.trim();
            let same_reply = continues && reply_code(trimmed).is_some();
            // A continuation is more indented than the reply's line (Postfix wraps its
            // quote, Exim indents it; the next recipient starts at the margin again), or is
            // the next line of a multi-line reply (`550-…` then `550 …`).
            if trimmed.is_empty() || !(same_reply || indentation(next) > indent) {
                break;
            }
            continues = trimmed.as_bytes().get(3) == Some(&b'-');
            reply.push(' ');
            reply.push_str(trimmed);
            i += 1;
        }
        found.push(QuotedReply {
            address: address.clone(),
            remote_mta: host.clone(),
            reply,
        });
    }
    found
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// A line that starts with a recipient address: `<a@b>: …`, `<a@b>`, `  a@b`, `a@b: …`.
/// Returns the address and what follows it on the line.
fn address_line(line: &str) -> Option<(String, &str)> {
    let trimmed = line.trim_start();
    let (candidate, after) = if let Some(inner) = trimmed.strip_prefix('<') {
        let close = inner.find('>')?;
        (&inner[..close], &inner[close + 1..])
    } else {
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let word = trimmed[..end].strip_suffix(':').unwrap_or(&trimmed[..end]);
        // A bare address is the whole line or ends with a colon (qmail, Postfix).
        if end != trimmed.len() && !trimmed[..end].ends_with(':') {
            return None;
        }
        (word, &trimmed[end..])
    };
    let (local, domain) = candidate.rsplit_once('@')?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !candidate.contains(char::is_whitespace)
        && !domain.contains([':', '<', '>', '(', ')']);
    plausible.then(|| {
        (
            candidate.to_owned(),
            after.strip_prefix(':').unwrap_or(after),
        )
    })
}

/// The host a line names: `host mx.example.org[192.0.2.1] said:` (Postfix), `host
/// mx.example.org [192.0.2.1]` (Exim).
fn host_named(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let at = lower.find("host ")?;
    let name: String = line[at + 5..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    (name.contains('.') && name.chars().any(|c| c.is_ascii_alphabetic())).then_some(name)
}

/// Where a quoted reply starts in `line`: a 4xx or 5xx code at the start of the line or after
/// `said:`, `said`, `returned` or a colon (`Remote host said: 550 …`).
fn reply_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (0..bytes.len().saturating_sub(2)).find(|&at| {
        matches!(bytes[at], b'4' | b'5')
            && line.is_char_boundary(at)
            && reply_code(&line[at..]).is_some()
            && {
                let before = line[..at].trim_end().to_ascii_lowercase();
                before.is_empty()
                    || before.ends_with(':')
                    || before.ends_with('\'')
                    || before.ends_with("said")
                    || before.ends_with("returned")
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_groups_are_split_by_blank_lines_and_unfolded() {
        let text = "Reporting-MTA: dns; mx.example.test\r\n\r\n\
                    Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\n\
                    Diagnostic-Code: smtp; 550 5.1.1 no such\r\n\tuser here\r\n\r\n\
                    final-recipient: RFC822; b@example.org\r\nnot a field\r\n";
        let groups = field_groups(text);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].get("reporting-mta"), Some("dns; mx.example.test"));
        assert_eq!(
            groups[1].get("diagnostic-code"),
            Some("smtp; 550 5.1.1 no such user here")
        );
        assert_eq!(
            groups[2].get("final-recipient").map(untyped),
            Some("b@example.org")
        );
    }

    #[test]
    fn typed_values_lose_their_type_only() {
        assert_eq!(untyped("smtp; 550 5.1.1 x"), "550 5.1.1 x");
        assert_eq!(untyped("X-Postwerk; refused"), "refused");
        assert_eq!(untyped("550 a; b"), "550 a; b");
    }

    #[test]
    fn reply_codes_and_enhanced_statuses() {
        assert_eq!(reply_code("550-5.1.1 x"), Some(550));
        assert_eq!(reply_code("451 later"), Some(451));
        assert_eq!(reply_code("5500 x"), None);
        assert_eq!(
            first_enhanced_status("550-5.1.1 The email"),
            Some("5.1.1".into())
        );
        assert_eq!(first_enhanced_status("(5.7.23)"), Some("5.7.23".into()));
        assert_eq!(first_enhanced_status("version 1.2.3"), None);
    }

    #[test]
    fn quoted_printable_and_base64_bodies_are_decoded() {
        assert_eq!(
            decode_quoted_printable(b"caf=C3=A9 =\r\nend=3"),
            "café end=3".as_bytes()
        );
        assert_eq!(decode_base64(b"NTUw\r\nIDUu\r\nMS4x"), b"550 5.1.1");
    }

    #[test]
    fn postfix_plain_reply_with_continuation_lines() {
        let text = "<a@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1\n    \
                    <a@example.org>: Recipient address rejected: User unknown (in reply to\n    \
                    RCPT TO command)\n\nnext paragraph 550 nothing\n";
        let replies = quoted_replies(text);
        assert_eq!(
            replies,
            vec![QuotedReply {
                address: Some("a@example.org".into()),
                remote_mta: Some("mx.example.org".into()),
                reply: "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown \
                        (in reply to RCPT TO command)"
                    .into(),
            }]
        );
    }

    #[test]
    fn codes_inside_sentences_or_addresses_are_no_replies() {
        assert!(quoted_replies("We tried 550 times.\n[192.0.2.1]\n").is_empty());
    }

    #[test]
    fn own_words_stop_where_the_original_starts() {
        let text = "failed:\n550 5.1.1 x\n------ This is a copy of the message\n550 later\n";
        assert_eq!(own_words(text), "failed:\n550 5.1.1 x\n");
    }
}
