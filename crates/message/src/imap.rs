//! Renderers for the IMAP `envelope` and `body` productions (RFC 9051 §9, RFC 3501 §9).
//!
//! The bytes go to clients verbatim (FETCH ENVELOPE, BODY, BODYSTRUCTURE), so they follow the
//! grammar exactly:
//!
//! ```text
//! envelope        = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP
//!                   env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
//! address         = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
//! body            = "(" (body-type-1part / body-type-mpart) ")"
//! body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
//! body-type-basic = media-basic SP body-fields
//! body-type-msg   = media-message SP body-fields SP envelope SP body SP body-fld-lines
//! body-type-text  = media-text SP body-fields SP body-fld-lines
//! body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
//!                   body-fld-octets
//! body-ext-1part  = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc ...]]]
//! body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
//! body-ext-mpart  = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc ...]]]
//! ```
//!
//! Extension data is written in full (all four fields) in the extensible form and not at all in
//! the non-extensible one (FETCH BODY, RFC 9051 §7.5.2: "BODY ... without extension data").

use crate::body::BodyStructure;
use crate::envelope::{Envelope, EnvelopeAddr};

/// Writes `envelope` as the IMAP `envelope` production (RFC 9051 §7.5.2).
pub fn write_envelope(envelope: &Envelope, out: &mut Vec<u8>) {
    out.push(b'(');
    write_nstring(envelope.date.as_deref(), out);
    out.push(b' ');
    write_nstring(envelope.subject.as_deref(), out);
    for list in [
        &envelope.from,
        &envelope.sender,
        &envelope.reply_to,
        &envelope.to,
        &envelope.cc,
        &envelope.bcc,
    ] {
        out.push(b' ');
        write_address_list(list, out);
    }
    out.push(b' ');
    write_nstring(envelope.in_reply_to.as_deref(), out);
    out.push(b' ');
    write_nstring(envelope.message_id.as_deref(), out);
    out.push(b')');
}

/// Writes `body` as the IMAP `body` production: with `extensible` false as FETCH BODY sends it,
/// with `extensible` true as FETCH BODYSTRUCTURE sends it (RFC 9051 §7.5.2).
pub fn write_bodystructure(body: &BodyStructure, extensible: bool, out: &mut Vec<u8>) {
    out.push(b'(');
    match body {
        BodyStructure::Multipart {
            parts,
            subtype,
            params,
            disposition,
            language,
            location,
            ..
        } => {
            // RFC 9051 §9: "1*body SP media-subtype": the parts follow each other without space.
            for part in parts {
                write_bodystructure(part, extensible, out);
            }
            out.push(b' ');
            write_string(&subtype.to_ascii_uppercase(), out);
            if extensible {
                out.push(b' ');
                write_params(params, out);
                write_extension_tail(disposition.as_ref(), language, location.as_deref(), out);
            }
        }
        BodyStructure::Single {
            media_type,
            subtype,
            params,
            id,
            description,
            encoding,
            size_octets,
            lines,
            md5,
            disposition,
            language,
            location,
            message,
            ..
        } => {
            write_string(&media_type.to_ascii_uppercase(), out);
            out.push(b' ');
            write_string(&subtype.to_ascii_uppercase(), out);
            out.push(b' ');
            write_params(params, out);
            out.push(b' ');
            write_nstring(id.as_deref(), out);
            out.push(b' ');
            write_nstring(description.as_deref(), out);
            out.push(b' ');
            write_string(&encoding.to_ascii_uppercase(), out);
            out.push(b' ');
            out.extend_from_slice(size_octets.to_string().as_bytes());
            let is_message = media_type.eq_ignore_ascii_case("message")
                && subtype.eq_ignore_ascii_case("rfc822");
            if is_message {
                // RFC 9051 §7.5.2: message/rfc822 carries envelope, body structure and lines.
                // A tree always has them; the fallback only keeps a hand-made or old stored tree
                // within the grammar.
                out.push(b' ');
                match message {
                    Some(inner) => {
                        write_envelope(&inner.0, out);
                        out.push(b' ');
                        write_bodystructure(&inner.1, extensible, out);
                    }
                    None => {
                        write_envelope(&Envelope::default(), out);
                        out.push(b' ');
                        out.extend_from_slice(EMPTY_TEXT_BODY);
                    }
                }
            }
            if is_message || media_type.eq_ignore_ascii_case("text") {
                // RFC 9051 §7.5.2: "body-fld-lines" for text and message/rfc822.
                out.push(b' ');
                out.extend_from_slice(lines.unwrap_or(0).to_string().as_bytes());
            }
            if extensible {
                out.push(b' ');
                write_nstring(md5.as_deref(), out);
                write_extension_tail(disposition.as_ref(), language, location.as_deref(), out);
            }
        }
    }
    out.push(b')');
}

/// An empty text/plain body, for a message/rfc822 part that has no structure to show.
const EMPTY_TEXT_BODY: &[u8] =
    b"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)";

/// ` body-fld-dsp SP body-fld-lang SP body-fld-loc`, shared by both extension forms.
fn write_extension_tail(
    disposition: Option<&crate::Disposition>,
    language: &[String],
    location: Option<&str>,
    out: &mut Vec<u8>,
) {
    out.push(b' ');
    // RFC 9051 §9: body-fld-dsp = "(" string SP body-fld-param ")" / nil
    match disposition {
        Some(d) => {
            out.push(b'(');
            write_string(&d.kind.to_ascii_uppercase(), out);
            out.push(b' ');
            write_params(&d.params, out);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    // RFC 9051 §9: body-fld-lang = nstring / "(" string *(SP string) ")"
    match language {
        [] => out.extend_from_slice(b"NIL"),
        [one] => write_string(one, out),
        many => {
            out.push(b'(');
            for (i, tag) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_string(tag, out);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    write_nstring(location, out);
}

/// RFC 9051 §9: body-fld-param = "(" string SP string *(SP string SP string) ")" / nil.
/// Names go out uppercase (they are case-insensitive), values as they are.
fn write_params(params: &[(String, String)], out: &mut Vec<u8>) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(&name.to_ascii_uppercase(), out);
        out.push(b' ');
        write_string(value, out);
    }
    out.push(b')');
}

/// RFC 9051 §9: env-from etc. = "(" 1*address ")" / nil.
fn write_address_list(list: &[EnvelopeAddr], out: &mut Vec<u8>) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for addr in list {
        out.push(b'(');
        write_nstring(addr.name.as_deref(), out);
        out.push(b' ');
        write_nstring(addr.adl.as_deref(), out);
        out.push(b' ');
        write_nstring(addr.mailbox.as_deref(), out);
        out.push(b' ');
        write_nstring(addr.host.as_deref(), out);
        out.push(b')');
    }
    out.push(b')');
}

/// Writes an IMAP `nstring`: `NIL` for `None`, else as [`write_string`].
pub fn write_nstring(value: Option<&str>, out: &mut Vec<u8>) {
    match value {
        Some(value) => write_string(value, out),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Writes an IMAP `string`: a quoted string when every byte is a 7-bit `TEXT-CHAR` (RFC 3501 §9:
/// `%x01-7F` except CR and LF), with `"` and `\` escaped; otherwise a synchronizing literal
/// `{n}\r\n...`, which IMAP4rev1 requires for 8-bit data and which every client reads.
///
/// NUL may appear in neither form (RFC 9051 §4.3: `literal` excludes it), so it is dropped.
pub fn write_string(value: &str, out: &mut Vec<u8>) {
    let bytes = value.as_bytes();
    let quotable = bytes
        .iter()
        .all(|&b| (0x01..=0x7f).contains(&b) && b != b'\r' && b != b'\n');
    if quotable {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        let kept = bytes.iter().filter(|&&b| b != 0).count();
        out.extend_from_slice(format!("{{{kept}}}\r\n").as_bytes());
        out.extend(bytes.iter().copied().filter(|&b| b != 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Disposition;

    fn render_string(value: &str) -> String {
        let mut out = Vec::new();
        write_string(value, &mut out);
        String::from_utf8(out).expect("input was UTF-8")
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        let cases = [
            ("", "\"\""),
            ("plain", "\"plain\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("tab\there", "\"tab\there\""),
            ("café", "{5}\r\ncafé"),
            ("line\r\nbreak", "{11}\r\nline\r\nbreak"),
            ("bare\nlf", "{7}\r\nbare\nlf"),
            ("nul\0byte", "{7}\r\nnulbyte"),
        ];
        for (input, expected) in cases {
            assert_eq!(render_string(input), expected, "input {input:?}");
        }
    }

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> EnvelopeAddr {
        EnvelopeAddr {
            name: name.map(str::to_string),
            adl: None,
            mailbox: Some(mailbox.to_string()),
            host: Some(host.to_string()),
        }
    }

    #[test]
    fn envelope_matches_rfc_3501_example() {
        // RFC 3501 §8, the FETCH example (ENVELOPE part).
        let gray = vec![addr(Some("Terry Gray"), "gray", "cac.washington.edu")];
        let envelope = Envelope {
            date: Some("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)".into()),
            subject: Some("IMAP4rev1 WG mtg summary and minutes".into()),
            from: gray.clone(),
            sender: gray.clone(),
            reply_to: gray,
            to: vec![addr(None, "imap", "cac.washington.edu")],
            cc: vec![
                addr(None, "minutes", "CNRI.Reston.VA.US"),
                addr(Some("John Klensin"), "KLENSIN", "MIT.EDU"),
            ],
            bcc: vec![],
            in_reply_to: None,
            message_id: Some("<B27397-0100000@cac.washington.edu>".into()),
        };
        let mut out = Vec::new();
        write_envelope(&envelope, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((NIL NIL \"imap\" \"cac.washington.edu\")) \
             ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")\
             (\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
             \"<B27397-0100000@cac.washington.edu>\")"
        );
    }

    #[test]
    fn group_markers_render_with_nil_host() {
        let envelope = Envelope {
            to: vec![
                EnvelopeAddr::group_start("Team"),
                addr(None, "a", "x.test"),
                EnvelopeAddr::group_end(),
            ],
            ..Default::default()
        };
        let mut out = Vec::new();
        write_envelope(&envelope, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "(NIL NIL NIL NIL NIL \
             ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.test\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
    }

    fn text_part(params: &[(&str, &str)], id: Option<&str>, desc: Option<&str>) -> BodyStructure {
        BodyStructure::Single {
            media_type: "text".into(),
            subtype: "plain".into(),
            params: params
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            id: id.map(str::to_string),
            description: desc.map(str::to_string),
            encoding: "7bit".into(),
            size_octets: 0,
            lines: Some(0),
            md5: None,
            disposition: None,
            language: vec![],
            location: None,
            message: None,
            header: 0..0,
            body: 0..0,
            path: String::new(),
        }
    }

    fn with_size(mut part: BodyStructure, octets: u64, n: u64, enc: &str) -> BodyStructure {
        if let BodyStructure::Single {
            size_octets,
            lines,
            encoding,
            ..
        } = &mut part
        {
            *size_octets = octets;
            *lines = Some(n);
            *encoding = enc.into();
        }
        part
    }

    #[test]
    fn bodystructure_matches_rfc_3501_examples() {
        // RFC 3501 §7.4.2, BODYSTRUCTURE example (non-extensible form, as printed there).
        let multipart = BodyStructure::Multipart {
            parts: vec![
                with_size(
                    text_part(&[("charset", "US-ASCII")], None, None),
                    1152,
                    23,
                    "7bit",
                ),
                with_size(
                    text_part(
                        &[("charset", "US-ASCII"), ("name", "cc.diff")],
                        Some("<960723163407.20117h@cac.washington.edu>"),
                        Some("Compiled diff"),
                    ),
                    4554,
                    73,
                    "base64",
                ),
            ],
            subtype: "mixed".into(),
            params: vec![("boundary".into(), "x".into())],
            disposition: None,
            language: vec![],
            location: None,
            header: 0..0,
            body: 0..0,
            path: String::new(),
        };
        let mut out = Vec::new();
        write_bodystructure(&multipart, false, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)\
             (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \
             \"<960723163407.20117h@cac.washington.edu>\" \"Compiled diff\" \"BASE64\" 4554 73) \
             \"MIXED\")"
        );

        // RFC 3501 §8 example: a single text part, FETCH BODY.
        let single = with_size(
            text_part(&[("charset", "US-ASCII")], None, None),
            3028,
            92,
            "7bit",
        );
        let mut out = Vec::new();
        write_bodystructure(&single, false, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)"
        );
    }

    #[test]
    fn extension_data_only_in_extensible_form() {
        let mut part = with_size(text_part(&[], None, None), 10, 1, "8bit");
        if let BodyStructure::Single {
            disposition,
            language,
            location,
            md5,
            ..
        } = &mut part
        {
            *disposition = Some(Disposition {
                kind: "attachment".into(),
                params: vec![("filename".into(), "notes.txt".into())],
            });
            *language = vec!["en".into(), "de".into()];
            *location = Some("http://x.test/notes.txt".into());
            *md5 = Some("Q2hlY2sgSW50ZWdyaXR5IQ==".into());
        }
        let cases = [
            (false, "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"8BIT\" 10 1)"),
            (
                true,
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"8BIT\" 10 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" \
                 (\"ATTACHMENT\" (\"FILENAME\" \"notes.txt\")) (\"en\" \"de\") \
                 \"http://x.test/notes.txt\")",
            ),
        ];
        for (extensible, expected) in cases {
            let mut out = Vec::new();
            write_bodystructure(&part, extensible, &mut out);
            assert_eq!(String::from_utf8(out).expect("ascii"), expected);
        }
    }

    #[test]
    fn message_part_without_structure_stays_in_the_grammar() {
        let part = BodyStructure::Single {
            media_type: "message".into(),
            subtype: "rfc822".into(),
            params: vec![],
            id: None,
            description: None,
            encoding: "7bit".into(),
            size_octets: 0,
            lines: None,
            md5: None,
            disposition: None,
            language: vec![],
            location: None,
            message: None,
            header: 0..0,
            body: 0..0,
            path: "1".into(),
        };
        let mut out = Vec::new();
        write_bodystructure(&part, false, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 0 \
             (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
             (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) 0)"
        );
    }
}
