//! Wire framing, sans I/O: command lines in, multi-line responses out (RFC 1939 §3).
//!
//! Commands are lines ended by CRLF. RFC 1939 asks for CRLF, but a bare LF is taken as a line
//! end too: unlike SMTP there is no message data flowing from the client, so no second reading
//! of the same bytes can be smuggled, and some old clients send LF alone. A line longer than
//! the limit is discarded whole and answered `-ERR`, so the session stays in step.
//!
//! Multi-line responses are byte-stuffed (§3): every line of the content that starts with `.`
//! gets one more `.`, and the response ends with `CRLF.CRLF`.

/// One line taken from the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line of `len` octets, its line end not included; `consumed` octets (line end
    /// included) were used from the input.
    Complete {
        /// Length of the line without CRLF.
        len: usize,
        /// Octets of input used, line end included.
        consumed: usize,
    },
    /// The line was longer than the limit; it was discarded up to and including its LF.
    TooLong {
        /// Octets of input used.
        consumed: usize,
    },
}

/// Splits command lines off the input, bounded in length.
#[derive(Debug)]
pub struct LineReader {
    max: usize,
    /// True while discarding an overlong line whose LF has not arrived yet.
    skipping: bool,
}

impl LineReader {
    /// Lines longer than `max` octets (line end included) are refused. RFC 2449 §4 bounds
    /// a command line at 255 octets, so anything below that is raised to it.
    pub fn new(max: usize) -> LineReader {
        LineReader {
            max: max.max(255),
            skipping: false,
        }
    }

    /// Takes one line off the front of `buf`: `Ok(line)` when a line ended; `Err(n)`
    /// with the number of octets already discarded (of an overlong line) when more input is
    /// needed.
    pub fn take(&mut self, buf: &[u8]) -> Result<Line, usize> {
        let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
            if self.skipping || buf.len() > self.max {
                self.skipping = true;
                return Err(buf.len());
            }
            return Err(0);
        };
        let consumed = lf + 1;
        if std::mem::take(&mut self.skipping) || consumed > self.max {
            return Ok(Line::TooLong { consumed });
        }
        let len = if lf > 0 && buf[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        Ok(Line::Complete { len, consumed })
    }
}

/// Appends `content` as the body of a multi-line response, byte-stuffed, with its
/// terminating `.` line (RFC 1939 §3).
///
/// Lines go out with CRLF: a bare LF in the content (which no delivery path stores, since SMTP
/// refuses bare line endings) becomes CRLF. A content that does not end with a line end gets
/// one, which belongs to the terminator (`CRLF.CRLF`), not to the message.
pub fn write_multiline(out: &mut Vec<u8>, content: &[u8]) {
    out.reserve(content.len() + content.len() / 64 + 5);
    let mut rest = content;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (&rest[..lf], &rest[lf + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // RFC 1939 §3: a line starting with the termination octet is byte-stuffed.
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        rest = next;
    }
    out.extend_from_slice(b".\r\n");
}

/// The part of a message TOP returns (RFC 1939 §7): the header, the blank line after it, and
/// the first `lines` lines of the body. A message without a blank line is all header.
pub fn top(message: &[u8], lines: u32) -> &[u8] {
    let body = postwerk_message::header_end(message);
    let mut end = body;
    for _ in 0..lines {
        if end >= message.len() {
            break;
        }
        end = match message[end..].iter().position(|&b| b == b'\n') {
            Some(lf) => end + lf + 1,
            None => message.len(),
        };
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multiline(content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_multiline(&mut out, content);
        out
    }

    #[test]
    fn lines_end_at_crlf_or_lf_and_are_bounded() {
        let mut reader = LineReader::new(300);
        assert_eq!(
            reader.take(b"STAT\r\nNOOP"),
            Ok(Line::Complete {
                len: 4,
                consumed: 6
            })
        );
        assert_eq!(
            reader.take(b"NOOP\n"),
            Ok(Line::Complete {
                len: 4,
                consumed: 5
            })
        );
        assert_eq!(reader.take(b"NOOP"), Err(0), "incomplete");
        let long = vec![b'x'; 400];
        assert_eq!(reader.take(&long), Err(400), "discarded while too long");
        assert_eq!(
            reader.take(b"yyy\r\nSTAT\r\n"),
            Ok(Line::TooLong { consumed: 5 })
        );
        assert_eq!(
            reader.take(b"STAT\r\n"),
            Ok(Line::Complete {
                len: 4,
                consumed: 6
            }),
            "back in step"
        );
        let mut exact = LineReader::new(255);
        let at_limit = [vec![b'a'; 253], b"\r\n".to_vec()].concat();
        assert!(matches!(exact.take(&at_limit), Ok(Line::Complete { .. })));
        let over = [vec![b'a'; 254], b"\r\n".to_vec()].concat();
        assert!(matches!(exact.take(&over), Ok(Line::TooLong { .. })));
    }

    #[test]
    fn multiline_responses_are_byte_stuffed_and_terminated() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b".\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (
                b"x\r\n.hidden\r\n..two\r\n",
                b"x\r\n..hidden\r\n...two\r\n.\r\n",
            ),
            (b"no final line end", b"no final line end\r\n.\r\n"),
            (b"bare\nlf\n", b"bare\r\nlf\r\n.\r\n"),
            (b"a\r\n\r\n.\r\n", b"a\r\n\r\n..\r\n.\r\n"),
        ];
        for (content, wire) in cases {
            assert_eq!(
                multiline(content),
                wire,
                "{:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    #[test]
    fn canonical_content_goes_out_unchanged_apart_from_stuffing() {
        let message = b"Subject: s\r\n\r\nline\r\n";
        let wire = multiline(message);
        assert_eq!(&wire[..message.len()], message);
        assert_eq!(wire.len(), message.len() + 3);
    }

    /// What a client does with a multi-line response (RFC 1939 §3): lines up to the lone
    /// ".", one leading "." removed from the others.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in wire.split_inclusive(|&b| b == b'\n') {
            if line == b".\r\n" {
                return out;
            }
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        panic!("no terminating line in {:?}", String::from_utf8_lossy(wire));
    }

    #[test]
    fn every_canonical_content_survives_stuffing_and_unstuffing() {
        // Every sequence of up to 6 lines drawn from lines that stress the terminator.
        let pieces: [&[u8]; 5] = [b".", b"..", b"", b"a.b", b". x"];
        let mut count = 0;
        for len in 0..=6u32 {
            for n in 0..pieces.len().pow(len) {
                let mut content = Vec::new();
                let mut rest = n;
                for _ in 0..len {
                    content.extend_from_slice(pieces[rest % pieces.len()]);
                    content.extend_from_slice(b"\r\n");
                    rest /= pieces.len();
                }
                let wire = multiline(&content);
                assert_eq!(
                    unstuff(&wire),
                    content,
                    "{:?}",
                    String::from_utf8_lossy(&content)
                );
                count += 1;
            }
        }
        assert_eq!(count, 19531);
    }

    #[test]
    fn top_is_the_header_the_blank_line_and_n_body_lines() {
        let message = b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n";
        assert_eq!(top(message, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(top(message, 2), b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n");
        assert_eq!(top(message, 99), &message[..]);
        assert_eq!(top(b"A: 1\r\nB: 2\r\n", 5), b"A: 1\r\nB: 2\r\n", "no body");
        assert_eq!(top(b"A: 1\r\n\r\nlast", 3), b"A: 1\r\n\r\nlast");
    }
}
