//! Response encoding: the pieces the session writes into its output buffer (RFC 9051 §7, §9).
//!
//! Each helper appends to a `Vec<u8>` and never fails. Strings follow one rule throughout: an
//! atom where the grammar allows one and the value is a plain atom, else a quoted string when
//! every octet can be quoted, else a literal (which any client reads, since IMAP4rev1 requires
//! literals for 8-bit data). The ENVELOPE/BODYSTRUCTURE renderings live in `postwerk-message`;
//! [`string`] and [`nstring`] reuse its writers so both agree.

use postwerk_message::{write_nstring, write_string};
use postwerk_store::Flags;

use super::framing::is_atom_char;
use super::mutf7;

/// Writes an IMAP `string` (RFC 9051 §4.3): quoted when every octet is 7-bit `TEXT-CHAR`,
/// else a literal `{n}\r\n...`. NUL, which neither form may carry, is dropped.
pub fn string(out: &mut Vec<u8>, value: &str) {
    write_string(value, out);
}

/// Writes an IMAP `nstring`: `NIL` for `None`, else as [`string`].
pub fn nstring(out: &mut Vec<u8>, value: Option<&str>) {
    write_nstring(value, out);
}

/// Writes an IMAP `astring`: a bare atom when `value` is one (RFC 9051 §9
/// `1*ASTRING-CHAR`), else as [`string`].
///
/// `NIL` is quoted although it is an atom, so that no client reading an `nstring`-shaped
/// position can take it for the absent value.
pub fn astring(out: &mut Vec<u8>, value: &str) {
    if is_astring_atom(value) {
        out.extend_from_slice(value.as_bytes());
    } else {
        string(out, value);
    }
}

/// Writes a mailbox name as the client expects it: modified UTF-7 (RFC 3501 §5.1.3) unless
/// the session has UTF-8 names (`utf8`, after `ENABLE UTF8=ACCEPT` or `IMAP4rev2`, RFC 9051
/// §5.1, RFC 6855 §3), where it goes as quoted UTF-8.
///
/// INBOX is written `INBOX` in whatever case it is stored (RFC 9051 §5.1: the name is
/// case-insensitive and clients compare it as `INBOX`).
pub fn mailbox_name(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if name.eq_ignore_ascii_case("INBOX") {
        out.extend_from_slice(b"INBOX");
        return;
    }
    if !utf8 {
        // Modified UTF-7 is printable ASCII, so this is an atom or a quoted string.
        astring(out, &mutf7::encode(name));
        return;
    }
    if is_astring_atom(name) {
        out.extend_from_slice(name.as_bytes());
    } else if name.chars().all(|c| !c.is_control()) {
        // RFC 9051 §9 (and RFC 6855 §3 for UTF8=ACCEPT): QUOTED-CHAR takes UTF-8.
        quoted(out, name);
    } else {
        string(out, name);
    }
}

/// Writes a flag list: `(\Seen \Flagged $Forwarded)` (RFC 9051 §7.5.2 FLAGS), system flags in
/// their usual order, then keywords.
pub fn flags(out: &mut Vec<u8>, flags: &Flags) {
    flag_list(
        out,
        flags.system,
        flags.keywords.iter().map(|keyword| keyword.as_str()),
    );
}

/// [`flags`] from system flags and keywords (atoms, ascending) given apart.
pub fn flag_list<'a>(
    out: &mut Vec<u8>,
    system: postwerk_store::SystemFlags,
    keywords: impl Iterator<Item = &'a str>,
) {
    out.push(b'(');
    let system = postwerk_store::SystemFlags::NAMES
        .into_iter()
        .filter(|(flag, _)| system.contains(*flag))
        .map(|(_, name)| name);
    for (i, name) in system.chain(keywords).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b')');
}

/// Writes numbers as a compact sequence set: `1:3,5,7:9` (RFC 9051 §9 `sequence-set`), for
/// COPYUID and APPENDUID (RFC 4315), ESEARCH `ALL` (RFC 4731) and VANISHED (RFC 7162).
///
/// Runs of consecutive numbers become ranges; repeated numbers are written once. The numbers
/// are expected in ascending order (unordered input still gives a correct, longer, set).
/// Writes nothing for an empty slice: the grammar has no empty set, so callers leave the item
/// out.
pub fn uid_set(out: &mut Vec<u8>, numbers: &[u32]) {
    let mut numbers = numbers.iter().copied();
    let Some(first) = numbers.next() else {
        return;
    };
    let (mut start, mut end) = (first, first);
    for n in numbers {
        if n == end {
            continue;
        }
        if end.checked_add(1) == Some(n) {
            end = n;
            continue;
        }
        range(out, start, end);
        out.push(b',');
        (start, end) = (n, n);
    }
    range(out, start, end);
}

/// A quoted string with `"` and `\` escaped; the caller has checked there is no CR, LF or NUL.
fn quoted(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    for &b in value.as_bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn range(out: &mut Vec<u8>, start: u32, end: u32) {
    out.extend_from_slice(start.to_string().as_bytes());
    if end != start {
        out.push(b':');
        out.extend_from_slice(end.to_string().as_bytes());
    }
}

/// RFC 9051 §9: `1*ASTRING-CHAR`, ASTRING-CHAR being an ATOM-CHAR or `]`; `NIL` excluded
/// (see [`astring`]).
fn is_astring_atom(value: &str) -> bool {
    !value.is_empty()
        && !value.eq_ignore_ascii_case("NIL")
        && value.bytes().all(|b| is_atom_char(b) || b == b']')
}

#[cfg(test)]
mod tests {
    use postwerk_store::{Keyword, SystemFlags};

    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("test output is UTF-8")
    }

    #[test]
    fn astrings_choose_atom_quoted_or_literal() {
        let cases = [
            ("INBOX", "INBOX"),
            ("Sent", "Sent"),
            ("a]b", "a]b"),
            ("", "\"\""),
            ("two words", "\"two words\""),
            ("100%", "\"100%\""),
            ("star*", "\"star*\""),
            ("par(en", "\"par(en\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("NIL", "\"NIL\""),
            ("nil", "\"nil\""),
            ("café", "{5}\r\ncafé"),
            ("two\r\nlines", "{10}\r\ntwo\r\nlines"),
        ];
        for (value, wire) in cases {
            assert_eq!(render(|out| astring(out, value)), wire, "{value:?}");
        }
        assert_eq!(render(|out| string(out, "Sent")), "\"Sent\"");
        assert_eq!(render(|out| nstring(out, None)), "NIL");
        assert_eq!(render(|out| nstring(out, Some("x"))), "\"x\"");
    }

    #[test]
    fn mailbox_names_follow_the_session_encoding() {
        let cases = [
            ("INBOX", false, "INBOX"),
            ("inbox", true, "INBOX"),
            ("Inbox/Sub", false, "Inbox/Sub"),
            ("Entwürfe", false, "Entw&APw-rfe"),
            ("Entwürfe", true, "\"Entwürfe\""),
            ("Tom & Jerry", false, "\"Tom &- Jerry\""),
            ("Tom & Jerry", true, "\"Tom & Jerry\""),
            ("A&B", false, "A&-B"),
            ("A&B", true, "A&B"),
            ("日本語", false, "&ZeVnLIqe-"),
            ("Say \"x\"", true, "\"Say \\\"x\\\"\""),
            ("tab\there", true, "\"tab\there\""),
            ("nul\0", true, "{3}\r\nnul"),
            ("", false, "\"\""),
        ];
        for (name, utf8, wire) in cases {
            assert_eq!(
                render(|out| mailbox_name(out, name, utf8)),
                wire,
                "{name:?} {utf8}"
            );
        }
    }

    #[test]
    fn flag_lists() {
        assert_eq!(render(|out| flags(out, &Flags::none())), "()");
        let all = Flags::system(
            SystemFlags::DRAFT
                .union(SystemFlags::SEEN)
                .union(SystemFlags::FLAGGED)
                .union(SystemFlags::ANSWERED)
                .union(SystemFlags::DELETED),
        );
        assert_eq!(
            render(|out| flags(out, &all)),
            "(\\Seen \\Answered \\Flagged \\Deleted \\Draft)"
        );
        let mixed = Flags::system(SystemFlags::SEEN)
            .with_keyword(Keyword::parse("$Forwarded").expect("keyword"))
            .with_keyword(Keyword::parse("$Junk").expect("keyword"));
        assert_eq!(
            render(|out| flags(out, &mixed)),
            "(\\Seen $Forwarded $Junk)"
        );
        let keyword_only = Flags::none().with_keyword(Keyword::parse("work").expect("keyword"));
        assert_eq!(render(|out| flags(out, &keyword_only)), "(work)");
    }

    #[test]
    fn uid_sets_compress_runs() {
        let cases: [(&[u32], &str); 9] = [
            (&[], ""),
            (&[7], "7"),
            (&[1, 2, 3], "1:3"),
            (&[1, 2, 3, 5, 7, 8, 9], "1:3,5,7:9"),
            (&[4, 4, 5, 5], "4:5"),
            (&[1, 3, 5], "1,3,5"),
            (&[9, 8, 7], "9,8,7"),
            (&[u32::MAX - 1, u32::MAX], "4294967294:4294967295"),
            (&[1, u32::MAX], "1,4294967295"),
        ];
        for (numbers, wire) in cases {
            assert_eq!(render(|out| uid_set(out, numbers)), wire, "{numbers:?}");
        }
    }
}
