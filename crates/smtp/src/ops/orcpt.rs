//! RFC 6533 §3: the `utf-8` address type of RCPT's ORCPT parameter (RFC 3461 §4.2), which
//! smtp-proto's parser refuses (it knows only `rfc822`). The parameter is taken out of the
//! line before the parser sees it, and decoded here.
//!
//! ```text
//! utf-8-addr-xtext   = 1*(QCHAR / EmbeddedUnicodeChar)     ; any session
//! utf-8-addr-unitext = 1*(QUCHAR / EmbeddedUnicodeChar)    ; SMTPUTF8 sessions
//! EmbeddedUnicodeChar = "\x{" HEXPOINT "}"
//! QCHAR  = printable ASCII except "+", "=" and "\"
//! QUCHAR = QCHAR / a UTF-8 character outside ASCII
//! ```
//!
//! Both forms are accepted in any session: the parameter only says what the sender called
//! the recipient, for DSNs (Postel's rule; the address itself is checked for SMTPUTF8).

/// The ORCPT parameter's prefix for the `utf-8` type, compared without case.
const PREFIX: &[u8] = b"ORCPT=utf-8;";

/// Longest HEXPOINT (RFC 6533 §3: up to U+10FFFF).
const MAX_HEX_DIGITS: usize = 6;

/// A `utf-8` ORCPT found in a RCPT line: the line without it, for smtp-proto, and the
/// parameter as `utf-8;address` with the address decoded, or `None` when its value breaks
/// the grammar above. `None` for a line without one.
pub(crate) fn take_utf8_orcpt(line: &[u8]) -> Option<(Vec<u8>, Option<String>)> {
    if line.len() < 5 || !line[..5].eq_ignore_ascii_case(b"RCPT ") {
        return None;
    }
    let params = end_of_path(line)?;
    // Parameters are separated by spaces and hold none (RFC 5321 §4.1.2 esmtp-param).
    let mut start = params;
    while start < line.len() {
        let end = line[start..]
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
            .map_or(line.len(), |at| start + at);
        let param = &line[start..end];
        if param.len() >= PREFIX.len() && param[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
            let decoded = decode(&param[PREFIX.len()..]).map(|address| format!("utf-8;{address}"));
            // The space before the parameter goes with it.
            let cut_from = if start > params { start - 1 } else { start };
            let rest = [&line[..cut_from], &line[end..]].concat();
            return Some((rest, decoded));
        }
        start = end + 1;
    }
    None
}

/// Where the parameters start: just after the `>` that closes the path, skipping a `>` in a
/// quoted local part.
fn end_of_path(line: &[u8]) -> Option<usize> {
    let open = line.iter().position(|&b| b == b'<')?;
    let (mut quoted, mut escaped) = (false, false);
    for (at, &b) in line.iter().enumerate().skip(open + 1) {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(at + 1),
            _ => {}
        }
    }
    None
}

/// The address of a `utf-8-addr-xtext` or `utf-8-addr-unitext`; `None` when it breaks their
/// grammar or decodes to a control character.
fn decode(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if chars.next() != Some('x') || chars.next() != Some('{') {
                    return None;
                }
                let mut hex = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        digit if digit.is_ascii_hexdigit() && hex.len() < MAX_HEX_DIGITS => {
                            hex.push(digit);
                        }
                        _ => return None,
                    }
                }
                // RFC 6533 §3: at least two digits.
                if hex.len() < 2 {
                    return None;
                }
                let point = char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?;
                if point.is_control() {
                    return None;
                }
                out.push(point);
            }
            '+' | '=' => return None,
            c if c.is_ascii() && !c.is_ascii_graphic() => return None,
            c if c.is_control() => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::take_utf8_orcpt;

    fn take(line: &str) -> Option<(String, Option<String>)> {
        take_utf8_orcpt(line.as_bytes())
            .map(|(rest, orcpt)| (String::from_utf8(rest).expect("utf-8"), orcpt))
    }

    #[test]
    fn rfc_6533_utf8_orcpt_is_taken_out_and_decoded() {
        // utf-8-addr-unitext, as an SMTPUTF8 client sends it.
        assert_eq!(
            take("RCPT TO:<jörg@b.test> NOTIFY=FAILURE ORCPT=utf-8;jörg@b.test\r\n"),
            Some((
                "RCPT TO:<jörg@b.test> NOTIFY=FAILURE\r\n".to_owned(),
                Some("utf-8;jörg@b.test".to_owned())
            ))
        );
        // utf-8-addr-xtext, safe in any session; the type is matched without case.
        assert_eq!(
            take("rcpt to:<a@b.test> ORCPT=UTF-8;j\\x{F6}rg@b.test NOTIFY=NEVER\r\n"),
            Some((
                "rcpt to:<a@b.test> NOTIFY=NEVER\r\n".to_owned(),
                Some("utf-8;jörg@b.test".to_owned())
            ))
        );
        // A quoted `>` in the path does not end it.
        assert_eq!(
            take("RCPT TO:<\"a> ORCPT=utf-8;x\"@b.test>\r\n"),
            None,
            "inside the path, not a parameter"
        );
    }

    #[test]
    fn other_lines_are_left_to_the_parser() {
        assert_eq!(take("RCPT TO:<a@b.test> ORCPT=rfc822;a@b.test\r\n"), None);
        assert_eq!(take("MAIL FROM:<a@b.test> ORCPT=utf-8;a@b.test\r\n"), None);
        assert_eq!(take("RCPT TO:<a@b.test>\r\n"), None);
    }

    #[test]
    fn a_value_outside_the_grammar_is_refused() {
        for bad in [
            "",
            "a+b@c",
            "a=b@c",
            "\\x{}@c",
            "\\x{1}@c",
            "\\x{110000}@c",
            "\\x{1234567}@c",
            "\\x{0A}@c",
            "\\y{41}@c",
            "\\x{41@c",
            "a\tb@c",
        ] {
            let line = format!("RCPT TO:<a@b.test> ORCPT=utf-8;{bad}\r\n");
            let (_, orcpt) = take(&line).expect("taken out");
            assert_eq!(orcpt, None, "{bad:?}");
        }
    }
}
