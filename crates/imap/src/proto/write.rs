//! Response encoding: the pieces the session writes into its output buffer (RFC 9051 §7, §9).
//!
//! Each helper appends to a `Vec<u8>` and never fails. Strings follow one rule throughout: an
//! atom where the grammar allows one and the value is a plain atom, else a quoted string when
//! every octet can be quoted, else a literal (which any client reads, since IMAP4rev1 requires
//! literals for 8-bit data). The ENVELOPE/BODYSTRUCTURE renderings live in `postwerk-message`;
//! [`string`] and [`nstring`] reuse its writers so both agree.

use chrono::{DateTime, FixedOffset};
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

/// Writes a literal `{n}\r\n` followed by `data` (RFC 9051 §4.3), or the `literal8` form
/// `~{n}\r\n` for BINARY content that may hold NUL (RFC 3516 §4.2).
pub fn literal(out: &mut Vec<u8>, data: &[u8], binary: bool) {
    if binary {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
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
    out.push(b'(');
    let system = postwerk_store::SystemFlags::NAMES
        .into_iter()
        .filter(|(flag, _)| flags.system.contains(*flag))
        .map(|(_, name)| name);
    let keywords = flags.keywords.iter().map(|keyword| keyword.as_str());
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

/// Writes a `date-time` (RFC 9051 §9), as INTERNALDATE is sent:
/// `"17-Jul-1996 02:44:25 -0700"`.
pub fn date_time(out: &mut Vec<u8>, value: &DateTime<FixedOffset>) {
    out.extend_from_slice(
        value
            .format("\"%d-%b-%Y %H:%M:%S %z\"")
            .to_string()
            .as_bytes(),
    );
}

/// Writes `tag OK [code] text\r\n`.
pub fn tagged_ok(out: &mut Vec<u8>, tag: &str, code: Option<&str>, text: &str) {
    status(out, tag, "OK", code, text);
}

/// Writes `tag NO [code] text\r\n`: the command was valid but refused.
pub fn tagged_no(out: &mut Vec<u8>, tag: &str, code: Option<&str>, text: &str) {
    status(out, tag, "NO", code, text);
}

/// Writes `tag BAD [code] text\r\n`: the command was not understood.
pub fn tagged_bad(out: &mut Vec<u8>, tag: &str, code: Option<&str>, text: &str) {
    status(out, tag, "BAD", code, text);
}

/// Writes `* OK [code] text\r\n`.
pub fn untagged_ok(out: &mut Vec<u8>, code: Option<&str>, text: &str) {
    status(out, "*", "OK", code, text);
}

/// Writes `* NO [code] text\r\n`: a warning.
pub fn untagged_no(out: &mut Vec<u8>, code: Option<&str>, text: &str) {
    status(out, "*", "NO", code, text);
}

/// Writes `* BAD [code] text\r\n`: an error not tied to a tag (RFC 9051 §7.1.3).
pub fn untagged_bad(out: &mut Vec<u8>, code: Option<&str>, text: &str) {
    status(out, "*", "BAD", code, text);
}

/// Writes `* BYE [code] text\r\n`: the server is closing the connection (RFC 9051 §7.1.5).
pub fn untagged_bye(out: &mut Vec<u8>, code: Option<&str>, text: &str) {
    status(out, "*", "BYE", code, text);
}

/// Writes a command continuation request `+ text\r\n` (RFC 9051 §7.5).
pub fn continuation(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+ ");
    text_line(out, text);
    out.extend_from_slice(b"\r\n");
}

/// `tag SP status [SP "[" code "]"] SP text CRLF` (RFC 9051 §9 `resp-cond-state`).
fn status(out: &mut Vec<u8>, tag: &str, status: &str, code: Option<&str>, text: &str) {
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.as_bytes());
    if let Some(code) = code {
        out.extend_from_slice(b" [");
        text_line(out, code);
        out.push(b']');
    }
    out.push(b' ');
    // RFC 9051 §9: text = 1*TEXT-CHAR, so an empty text would break the grammar.
    text_line(out, if text.is_empty() { "done" } else { text });
    out.extend_from_slice(b"\r\n");
}

/// Appends `text` with CR and LF replaced by spaces: a response line must not be split by a
/// value that came from elsewhere (RFC 9051 §9 `TEXT-CHAR`).
fn text_line(out: &mut Vec<u8>, text: &str) {
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
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
    use chrono::TimeZone;
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
    fn literals_plain_and_binary() {
        assert_eq!(render(|out| literal(out, b"abc", false)), "{3}\r\nabc");
        assert_eq!(render(|out| literal(out, b"", false)), "{0}\r\n");
        assert_eq!(render(|out| literal(out, b"a\0b", true)), "~{3}\r\na\0b");
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

    #[test]
    fn date_times_as_internaldate() {
        let zone = FixedOffset::west_opt(7 * 3600).expect("offset");
        let date = zone
            .with_ymd_and_hms(1996, 7, 17, 2, 44, 25)
            .single()
            .expect("date");
        assert_eq!(
            render(|out| date_time(out, &date)),
            "\"17-Jul-1996 02:44:25 -0700\""
        );
        let utc = FixedOffset::east_opt(0).expect("offset");
        let early = utc
            .with_ymd_and_hms(2024, 2, 1, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            render(|out| date_time(out, &early)),
            "\"01-Feb-2024 00:00:00 +0000\""
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            render(|out| tagged_ok(out, "a1", None, "LOGIN completed")),
            "a1 OK LOGIN completed\r\n"
        );
        assert_eq!(
            render(|out| tagged_no(out, "a2", Some("TOOBIG"), "Message too large")),
            "a2 NO [TOOBIG] Message too large\r\n"
        );
        assert_eq!(
            render(|out| tagged_bad(out, "a3", None, "bad\r\ninjected")),
            "a3 BAD bad  injected\r\n"
        );
        assert_eq!(
            render(|out| untagged_ok(out, Some("UIDVALIDITY 3857529045"), "UIDs valid")),
            "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
        );
        assert_eq!(render(|out| untagged_no(out, None, "")), "* NO done\r\n");
        assert_eq!(
            render(|out| untagged_bad(out, None, "what?")),
            "* BAD what?\r\n"
        );
        assert_eq!(
            render(|out| untagged_bye(out, None, "Logging out")),
            "* BYE Logging out\r\n"
        );
        assert_eq!(
            render(|out| continuation(out, "Ready for literal data")),
            "+ Ready for literal data\r\n"
        );
    }
}
