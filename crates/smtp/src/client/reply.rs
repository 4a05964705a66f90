//! Replies from the remote server: framing with limits (a hostile server must not make us buffer
//! without end) and parsing with `smtp-proto`'s client-side types.
//!
//! Framing is ours because `smtp-proto`'s parsers want a complete reply in hand (EHLO) and
//! because the limits are a policy of this client; the grammar (code, enhanced status code,
//! text, EHLO keywords) is `smtp-proto`'s.

use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{EhloResponse, Error as ProtoError};

/// The longest reply line accepted. RFC 5321 §4.5.3.1.5 allows 512 octets; real servers send
/// longer ones (long EHLO lines, verbose rejections), so be lenient but bounded.
pub(crate) const MAX_LINE: usize = 4096;
/// The most lines one reply may have (an EHLO with many extensions has a few dozen).
pub(crate) const MAX_LINES: usize = 256;
/// The largest reply accepted, all lines together.
pub(crate) const MAX_REPLY: usize = 64 * 1024;
/// How much reply text is handed to `smtp-proto`, whose receiver refuses more than 4 KiB: a
/// longer reply keeps its first lines and its last line.
const MAX_PARSED: usize = 3 * 1024;

/// A reply that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyError {
    /// Not an SMTP reply (RFC 5321 §4.2: three digits, then a space or a hyphen).
    Malformed(String),
    /// Over one of the limits above.
    TooLong,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Malformed(why) => write!(f, "malformed reply: {why}"),
            ReplyError::TooLong => write!(
                f,
                "reply over the limits ({MAX_LINE} octets a line, {MAX_LINES} lines, \
                 {MAX_REPLY} octets)"
            ),
        }
    }
}

/// One reply, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The basic reply code (RFC 5321 §4.2).
    pub code: u16,
    /// The RFC 3463 enhanced status code, when the reply starts with one (RFC 2034).
    pub esc: Option<[u8; 3]>,
    /// The text, lines joined with a space, without codes.
    pub text: String,
}

impl Reply {
    /// The first digit of the code: 2 positive, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// Whether the reply is a positive completion (2yz).
    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }

    /// The RFC 3463 status this reply stands for: its own enhanced code when it gave one whose
    /// class agrees with the basic code (RFC 3463 §2: the class digits must agree), else one
    /// derived from the basic code (4xx → 4.0.0, 5xx → 5.0.0, anything else unexpected → 4.5.0,
    /// "other or undefined protocol status", to be retried).
    pub fn status(&self) -> String {
        if let Some([class, subject, detail]) = self.esc
            && u16::from(class) == self.class()
            && matches!(class, 2 | 4 | 5)
        {
            return format!("{class}.{subject}.{detail}");
        }
        match self.class() {
            2 => "2.0.0".to_string(),
            5 => "5.0.0".to_string(),
            4 => "4.0.0".to_string(),
            _ => "4.5.0".to_string(),
        }
    }

    /// The reply as a line for people and for a DSN's `Diagnostic-Code: smtp; …`
    /// (`550 5.1.1 no such user`), multi-line replies joined with a space.
    pub fn full(&self) -> String {
        let mut out = self.code.to_string();
        if let Some([class, subject, detail]) = self.esc {
            out.push_str(&format!(" {class}.{subject}.{detail}"));
        }
        if !self.text.is_empty() {
            out.push(' ');
            out.push_str(&self.text);
        }
        out
    }
}

/// Finds the end of the first complete reply in `buf`: `Ok(Some(len))` when the reply is the
/// first `len` octets, `Ok(None)` when more input is needed. A reply ends with the line whose
/// code is followed by a space or by nothing (RFC 5321 §4.2.1).
pub(crate) fn frame(buf: &[u8]) -> Result<Option<usize>, ReplyError> {
    let mut start = 0;
    let mut lines = 0;
    loop {
        let rest = &buf[start..];
        let Some(newline) = rest.iter().position(|&byte| byte == b'\n') else {
            if rest.len() > MAX_LINE || buf.len() > MAX_REPLY {
                return Err(ReplyError::TooLong);
            }
            return Ok(None);
        };
        let line = &rest[..newline];
        if line.len() > MAX_LINE {
            return Err(ReplyError::TooLong);
        }
        lines += 1;
        let end = start + newline + 1;
        if lines > MAX_LINES || end > MAX_REPLY {
            return Err(ReplyError::TooLong);
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::Malformed(format!(
                "line does not start with a reply code: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(40)])
            )));
        }
        match line.get(3) {
            None | Some(b' ') => return Ok(Some(end)),
            Some(b'-') => start = end,
            Some(_) => {
                return Err(ReplyError::Malformed(
                    "reply code not followed by a space or a hyphen".to_string(),
                ));
            }
        }
    }
}

/// Parses one complete reply (as framed by [`frame`]) with `smtp-proto`'s receiver.
pub(crate) fn parse(raw: &[u8]) -> Result<Reply, ReplyError> {
    let shortened;
    let input = if raw.len() > MAX_PARSED {
        shortened = shorten(raw);
        &shortened[..]
    } else {
        raw
    };
    let mut receiver = ResponseReceiver::default();
    let mut bytes = input.iter();
    match receiver.parse(&mut bytes) {
        Ok(response) => {
            let esc = (response.esc != [0, 0, 0]).then_some(response.esc);
            let text = response
                .message
                .split('\n')
                .map(|line| line.trim_end_matches('\r').trim())
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Ok(Reply {
                code: response.code,
                esc,
                text,
            })
        }
        Err(ProtoError::ResponseTooLong) => Err(ReplyError::TooLong),
        Err(err) => Err(ReplyError::Malformed(format!("{err:?}"))),
    }
}

/// Keeps the first lines of a long reply that fit in [`MAX_PARSED`], and its last line (the one
/// that ends the reply), so that the parsed text stays under `smtp-proto`'s limit.
fn shorten(raw: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = raw.split_inclusive(|&byte| byte == b'\n').collect();
    let Some((last, first)) = lines.split_last() else {
        return raw.to_vec();
    };
    let mut out = Vec::with_capacity(MAX_PARSED + last.len());
    for line in first {
        if out.len() + line.len() > MAX_PARSED.saturating_sub(last.len().min(MAX_PARSED / 2)) {
            break;
        }
        out.extend_from_slice(line);
    }
    if last.len() > MAX_PARSED / 2 {
        // A single huge last line: keep its code and the start of its text.
        out.extend_from_slice(&last[..MAX_PARSED / 2]);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(last);
    }
    out
}

/// The capabilities an EHLO reply advertised (RFC 5321 §4.1.1.1), from `smtp-proto`'s parser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// `smtp_proto::EXT_*` bits.
    pub bits: u32,
    /// The SIZE limit (RFC 1870), 0 when none was given.
    pub size: usize,
}

impl Capabilities {
    /// Whether the extension `ext` (an `smtp_proto::EXT_*` constant) was advertised.
    pub fn has(&self, ext: u32) -> bool {
        self.bits & ext != 0
    }
}

/// Parses a complete positive EHLO reply. A reply whose extension lines `smtp-proto` cannot
/// read is taken as advertising nothing: plain RFC 5321 still works, which is safer than
/// guessing.
pub(crate) fn parse_ehlo(raw: &[u8]) -> Capabilities {
    let input = if raw.len() > MAX_PARSED {
        shorten(raw)
    } else {
        raw.to_vec()
    };
    let mut bytes = input.iter();
    match EhloResponse::parse(&mut bytes) {
        Ok(response) => Capabilities {
            bits: response.capabilities,
            size: response.size,
        },
        Err(_) => Capabilities::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_single_and_multi_line_replies() {
        assert_eq!(frame(b"250 ok\r\n"), Ok(Some(8)));
        assert_eq!(frame(b"250 ok\r\n354 go"), Ok(Some(8)));
        assert_eq!(frame(b"250-a\r\n250 b\r\n"), Ok(Some(14)));
        assert_eq!(frame(b"250-a\r\n250 b"), Ok(None));
        assert_eq!(frame(b"250\r\n"), Ok(Some(5)));
        assert_eq!(frame(b""), Ok(None));
        assert!(matches!(frame(b"hello\r\n"), Err(ReplyError::Malformed(_))));
    }

    #[test]
    fn framing_refuses_hostile_sizes() {
        let long_line = vec![b'2'; MAX_LINE + 10];
        assert_eq!(frame(&long_line), Err(ReplyError::TooLong));
        let many_lines = "250-x\r\n".repeat(MAX_LINES + 1);
        assert_eq!(frame(many_lines.as_bytes()), Err(ReplyError::TooLong));
    }

    #[test]
    fn parses_codes_enhanced_codes_and_text() {
        let reply = parse(b"550-5.1.1 first line\r\n550 5.1.1 second line\r\n").unwrap();
        assert_eq!(reply.code, 550);
        assert_eq!(reply.status(), "5.1.1");
        assert_eq!(reply.full(), "550 5.1.1 first line second line");

        let reply = parse(b"450 mailbox busy\r\n").unwrap();
        assert_eq!(reply.status(), "4.0.0");
        assert_eq!(reply.full(), "450 mailbox busy");

        let reply = parse(b"550 5.7.26 unauthenticated\r\n").unwrap();
        assert_eq!(reply.status(), "5.7.26");

        // RFC 3463 §2: a class that disagrees with the basic code is ignored.
        let reply = parse(b"550 4.1.1 odd\r\n").unwrap();
        assert_eq!(reply.status(), "5.0.0");
    }

    #[test]
    fn long_replies_are_shortened_not_refused() {
        let mut raw = String::new();
        for index in 0..100 {
            raw.push_str(&format!("550-5.7.1 line {index} {}\r\n", "x".repeat(60)));
        }
        raw.push_str("550 5.7.1 the end\r\n");
        assert_eq!(frame(raw.as_bytes()), Ok(Some(raw.len())));
        let reply = parse(raw.as_bytes()).unwrap();
        assert_eq!(reply.code, 550);
        assert_eq!(reply.status(), "5.7.1");
        assert!(reply.text.starts_with("line 0 "));
        assert!(reply.text.ends_with("the end"));
    }

    #[test]
    fn ehlo_capabilities() {
        let caps = parse_ehlo(
            b"250-mx.example.org hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n\
              250-X-ODD thing\r\n250 STARTTLS\r\n",
        );
        assert!(caps.has(smtp_proto::EXT_PIPELINING));
        assert!(caps.has(smtp_proto::EXT_START_TLS));
        assert!(!caps.has(smtp_proto::EXT_DSN));
        assert_eq!(caps.size, 1000);
    }
}
