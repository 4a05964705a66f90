//! Modified UTF-7, the mailbox name encoding of IMAP4rev1 (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII (0x20–0x7E) stands for itself, except `&`, written `&-`. Everything else
//! is UTF-16BE in a modified base64 (`,` instead of `/`, no padding) between `&` and `-`.
//!
//! [`decode`] is strict because a mailbox has exactly one name: RFC 3501 §5.1.3 forbids
//! encoding a printable character, raw 8-bit and control octets, and null shifts (`-&`), and a
//! name spelled two ways would let a client create two folders that look the same. Every
//! decoded name therefore encodes back to the very octets it came from.

use std::fmt;

use base64::Engine;
use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// A byte string that is not canonical modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutf7Error {
    /// Offset of the offending octet or shift sequence.
    pub at: usize,
    /// What is wrong, for the client's `BAD`/`NO` text.
    pub reason: &'static str,
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid modified UTF-7 at octet {}: {}",
            self.at, self.reason
        )
    }
}

impl std::error::Error for Mutf7Error {}

/// RFC 3501 §5.1.3: "modified BASE64, with a further modification from [UTF-7] that ','
/// is used instead of '/'".
const ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("the modified base64 alphabet is valid"),
    };

/// No padding either way; non-zero trailing bits are refused on decoding (the engine's
/// default), so each sequence of UTF-16 units has one spelling only.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Encodes a mailbox name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut shifted: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_printable(c as u32) {
            flush(&mut out, &mut shifted);
            out.push(c);
            if c == '&' {
                // RFC 3501 §5.1.3: "'&' is represented by the two-octet sequence '&-'".
                out.push('-');
            }
        } else {
            let mut units = [0u16; 2];
            shifted.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut shifted);
    out
}

/// Decodes a mailbox name from modified UTF-7, refusing every non-canonical form.
pub fn decode(name: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(name.len());
    let mut at = 0;
    // Where the last shift sequence ended, to refuse "&AAA-&BBB-" (a null shift "-&").
    let mut shift_ended = None;
    while at < name.len() {
        let b = name[at];
        if b != b'&' {
            if !is_printable(u32::from(b)) {
                return Err(error(at, "octet outside printable US-ASCII"));
            }
            out.push(char::from(b));
            at += 1;
            continue;
        }
        let Some(len) = name[at + 1..].iter().position(|&b| b == b'-') else {
            return Err(error(at, "shift sequence without '-'"));
        };
        let encoded = &name[at + 1..at + 1 + len];
        if encoded.is_empty() {
            out.push('&');
        } else {
            if shift_ended == Some(at) {
                return Err(error(at, "two shift sequences in a row"));
            }
            decode_shifted(encoded, &mut out).map_err(|reason| error(at, reason))?;
            shift_ended = Some(at + len + 2);
        }
        at += len + 2;
    }
    Ok(out)
}

/// Appends the characters of one shift sequence's base64 (without `&` and `-`).
fn decode_shifted(encoded: &[u8], out: &mut String) -> Result<(), &'static str> {
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| "invalid modified base64")?;
    if bytes.len() % 2 != 0 {
        return Err("base64 that is not whole UTF-16 units");
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| "unpaired UTF-16 surrogate")?;
        // RFC 3501 §5.1.3: "Modified BASE64 MUST NOT be used to represent any printing
        // US-ASCII character which can represent itself."
        if is_printable(c as u32) {
            return Err("printable US-ASCII inside a shift sequence");
        }
        out.push(c);
    }
    Ok(())
}

/// Writes the pending UTF-16 units as one shift sequence.
fn flush(out: &mut String, shifted: &mut Vec<u16>) {
    if shifted.is_empty() {
        return;
    }
    let bytes: Vec<u8> = shifted.iter().flat_map(|unit| unit.to_be_bytes()).collect();
    out.push('&');
    BASE64.encode_string(&bytes, out);
    out.push('-');
    shifted.clear();
}

/// RFC 3501 §5.1.3: the characters that represent themselves (0x20–0x7E).
fn is_printable(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

fn error(at: usize, reason: &'static str) -> Mutf7Error {
    Mutf7Error { at, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_example_round_trips() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(decode(wire.as_bytes()), Ok(name.to_owned()));
        assert_eq!(encode(name), wire);
    }

    #[test]
    fn names_encode_as_expected() {
        let cases = [
            ("INBOX", "INBOX"),
            ("", ""),
            ("&", "&-"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Gesendete Objekte", "Gesendete Objekte"),
            ("日本語", "&ZeVnLIqe-"),
            ("tab\there", "tab&AAk-here"),
            ("\u{7f}", "&AH8-"),
            // Outside the BMP: a surrogate pair.
            ("📧 mail", "&2D3c5w- mail"),
            ("a&é&", "a&-&AOk-&-"),
        ];
        for (name, wire) in cases {
            assert_eq!(encode(name), wire, "encoding {name:?}");
            assert_eq!(
                decode(wire.as_bytes()).as_deref(),
                Ok(name),
                "decoding {wire:?}"
            );
        }
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        let cases: [&[u8]; 14] = [
            b"&",                    // no end of shift
            b"&ZeVnLIqe",            // no end of shift
            b"&AGE-",                // 'a' encoded although it represents itself
            b"&ACY-",                // '&' encoded instead of "&-"
            b"&U/BTFw-",             // '/' of plain base64
            b"&U,BTFw=-",            // padding
            b"&ZeVnLIqe-&ZeVnLIqe-", // null shift "-&"
            b"&AOk",                 // unterminated
            b"&AO-",                 // not whole UTF-16 units
            b"&AOl-",                // non-zero trailing bits
            b"&2D0-",                // lone high surrogate
            b"caf\xc3\xa9",          // raw 8-bit
            b"tab\there",            // raw control
            b"&!!!-",                // not base64
        ];
        for wire in cases {
            assert!(
                decode(wire).is_err(),
                "{:?} must be refused",
                String::from_utf8_lossy(wire)
            );
        }
        // Two shift sequences separated by anything are fine.
        assert_eq!(decode(b"&AOk- &AOk-").as_deref(), Ok("é é"));
        assert_eq!(decode(b"&AOk-&-").as_deref(), Ok("é&"));
    }

    #[test]
    fn error_says_where() {
        assert_eq!(
            decode(b"ok/&AGE-"),
            Err(Mutf7Error {
                at: 3,
                reason: "printable US-ASCII inside a shift sequence"
            })
        );
        assert_eq!(decode(b"ab\x80").unwrap_err().at, 2);
    }

    #[test]
    fn every_decoded_name_encodes_back_to_the_same_octets() {
        // A small deterministic fuzz: whatever decodes must be canonical.
        let alphabet = b"&-AZaz09+,/=GBUO \x7f\xc3";
        let mut state = 0x2545_f491_u32;
        for _ in 0..20_000 {
            let len = (state % 12) as usize;
            let mut wire = Vec::with_capacity(len);
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                wire.push(alphabet[state as usize % alphabet.len()]);
            }
            if let Ok(name) = decode(&wire) {
                assert_eq!(encode(&name).as_bytes(), wire.as_slice(), "{name:?}");
            }
        }
    }
}
