//! Wire framing, sans I/O: command lines, the DATA stream and BDAT chunks (RCV-11).
//!
//! The grammar of a command is `smtp-proto`'s; what is framed here is where a command or a
//! message *ends*, which is where SMTP smuggling lives. The rule is RFC 5321 §2.3.8: lines end
//! with CRLF and only CRLF. A bare LF or a bare CR never ends anything here:
//! - in a command line it gets the line refused;
//! - in a message it gets the whole message refused once its real end (`CRLF.CRLF`, RFC 5321
//!   §4.1.1.4) arrives, so bytes that another server would read as "end of message, next
//!   command" can never become a second message here;
//! - in a BDAT chunk (no BINARYMIME is offered, so the content is text) likewise.

/// A command line taken from the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line; the slice bounds in the buffer include the CRLF.
    Complete(usize),
    /// The line was longer than the limit (RFC 5321 §4.5.3.1.4); it was discarded up to and
    /// including its LF.
    TooLong,
    /// The line contained a CR not followed by LF, or ended with LF not preceded by CR.
    Bare,
}

/// Splits command lines off the input, bounded in length.
#[derive(Debug)]
pub struct LineReader {
    max: usize,
    /// True while discarding an overlong line whose LF has not arrived yet.
    skipping: bool,
}

impl LineReader {
    /// Lines longer than `max` octets (CRLF included) are refused.
    pub fn new(max: usize) -> LineReader {
        LineReader {
            max: max.max(8),
            skipping: false,
        }
    }

    /// Takes one line off the front of `buf`: `(Some(line), consumed)` when a line ended,
    /// `(None, consumed)` when more input is needed (`consumed` is then the part of an overlong
    /// line already discarded).
    pub fn take(&mut self, buf: &[u8]) -> (Option<Line>, usize) {
        let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
            if self.skipping || buf.len() > self.max {
                self.skipping = true;
                return (None, buf.len());
            }
            return (None, 0);
        };
        let consumed = lf + 1;
        if std::mem::take(&mut self.skipping) || consumed > self.max {
            return (Some(Line::TooLong), consumed);
        }
        // RFC 5321 §2.3.8: CRLF ends a line; a LF alone, or a CR anywhere else, is refused.
        let crlf = lf > 0 && buf[lf - 1] == b'\r';
        if !crlf || buf[..lf - 1].contains(&b'\r') {
            return (Some(Line::Bare), consumed);
        }
        (Some(Line::Complete(consumed)), consumed)
    }
}

/// Where the DATA receiver stands between two input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataState {
    /// Just after CRLF (or at the start): a `.` here is special.
    LineStart,
    /// A `.` at the start of a line.
    Dot,
    /// `.` then CR at the start of a line: LF now ends the message.
    DotCr,
    /// Inside a line.
    Middle,
    /// A CR inside a line, not yet known to be followed by LF.
    Cr,
}

/// The content of a DATA command (RFC 5321 §4.1.1.4), unstuffed (§4.5.2), bounded in size.
///
/// Feed it input until [`DataReceiver::feed`] says the message ended; the message is then
/// [`DataReceiver::finish`]. Oversized messages are read to their end and discarded, so the
/// session stays in step with the client and can answer `552`.
#[derive(Debug)]
pub struct DataReceiver {
    max: usize,
    message: Vec<u8>,
    size: usize,
    bare: bool,
    state: DataState,
}

/// A message received with DATA or BDAT.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// The message, as sent (dot-stuffing removed).
    Message(Vec<u8>),
    /// Larger than the limit (RCV-7); its content was discarded.
    TooBig,
    /// A bare CR or LF was in it (RCV-11); refused whole.
    BareLineEnding,
}

impl DataReceiver {
    /// A receiver for messages of at most `max` octets.
    pub fn new(max: usize) -> DataReceiver {
        DataReceiver {
            max,
            message: Vec::new(),
            size: 0,
            bare: false,
            state: DataState::LineStart,
        }
    }

    /// Consumes input; returns how many bytes were used and whether the terminating
    /// `CRLF.CRLF` was among them (bytes after it are not consumed: they are the next command).
    pub fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            let byte = input[i];
            match self.state {
                DataState::Middle => {
                    // Fast path: copy up to the next CR or LF in one go.
                    let run = input[i..]
                        .iter()
                        .position(|&b| b == b'\r' || b == b'\n')
                        .unwrap_or(input.len() - i);
                    self.emit(&input[i..i + run]);
                    i += run;
                    if i < input.len() {
                        self.middle_line_end(input[i]);
                        i += 1;
                    }
                    continue;
                }
                DataState::LineStart => match byte {
                    b'.' => self.state = DataState::Dot,
                    _ => self.middle(byte),
                },
                DataState::Dot => match byte {
                    b'\r' => self.state = DataState::DotCr,
                    // RFC 5321 §4.5.2: the leading dot of a line is removed, and whatever
                    // follows is ordinary content.
                    _ => self.middle(byte),
                },
                DataState::DotCr => {
                    if byte == b'\n' {
                        self.state = DataState::LineStart;
                        return (i + 1, true);
                    }
                    // ".<CR>x": the CR was bare.
                    self.bare = true;
                    self.emit(b"\r");
                    self.state = DataState::Middle;
                    self.middle(byte);
                }
                DataState::Cr => match byte {
                    b'\n' => {
                        self.emit(b"\r\n");
                        self.state = DataState::LineStart;
                    }
                    _ => {
                        self.bare = true;
                        self.emit(b"\r");
                        self.state = DataState::Middle;
                        self.middle(byte);
                    }
                },
            }
            i += 1;
        }
        (input.len(), false)
    }

    /// The message, once `feed` reported its end.
    pub fn finish(self) -> Received {
        if self.size > self.max {
            Received::TooBig
        } else if self.bare {
            Received::BareLineEnding
        } else {
            Received::Message(self.message)
        }
    }

    /// One byte inside a line (or at its start, after the dot rules).
    fn middle(&mut self, byte: u8) {
        match byte {
            b'\r' | b'\n' => self.middle_line_end(byte),
            _ => {
                self.emit(&[byte]);
                self.state = DataState::Middle;
            }
        }
    }

    fn middle_line_end(&mut self, byte: u8) {
        if byte == b'\r' {
            self.state = DataState::Cr;
        } else {
            // A LF without CR: content, never a line end (no smuggling), and a refusal.
            self.bare = true;
            self.emit(b"\n");
            self.state = DataState::Middle;
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.size <= self.max {
            self.message.extend_from_slice(bytes);
        }
    }
}

/// The chunks of a BDAT transaction (RFC 3030 §2), bounded in size, checked for bare CR/LF
/// across chunk boundaries.
#[derive(Debug, Default)]
pub struct Chunks {
    message: Vec<u8>,
    size: usize,
    bare: bool,
    /// The previous chunk ended with CR.
    pending_cr: bool,
}

impl Chunks {
    /// Adds a chunk; `max` is the message size limit. Returns false once the message is too
    /// big (the content is then no longer kept).
    pub fn push(&mut self, chunk: &[u8], max: usize) -> bool {
        for (i, &byte) in chunk.iter().enumerate() {
            let prev_cr = if i == 0 {
                self.pending_cr
            } else {
                chunk[i - 1] == b'\r'
            };
            if (byte == b'\n' && !prev_cr) || (prev_cr && byte != b'\n') {
                self.bare = true;
            }
        }
        if let Some(&last) = chunk.last() {
            self.pending_cr = last == b'\r';
        }
        self.size = self.size.saturating_add(chunk.len());
        if self.size > max {
            self.message = Vec::new();
            return false;
        }
        self.message.extend_from_slice(chunk);
        true
    }

    /// The message after the LAST chunk.
    pub fn finish(self, max: usize) -> Received {
        if self.size > max {
            Received::TooBig
        } else if self.bare || self.pending_cr {
            Received::BareLineEnding
        } else {
            Received::Message(self.message)
        }
    }
}

/// RCV-10: the name of the first header field holding a non-ASCII octet, when the message was
/// sent without SMTPUTF8 (RFC 6532 headers need it; 8BITMIME covers bodies only).
pub fn non_ascii_header(message: &[u8]) -> Option<String> {
    let mut field = String::new();
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None; // end of the header section
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or(line);
            field = String::from_utf8_lossy(name).trim().to_string();
        }
        if !line.is_ascii() {
            if field.is_ascii() && !field.is_empty() {
                return Some(field);
            }
            return Some("(unnamed)".to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(max);
        let mut rest = input;
        let mut out = Vec::new();
        loop {
            let (line, consumed) = reader.take(rest);
            rest = &rest[consumed..];
            match line {
                Some(line) => out.push(line),
                None if consumed == 0 || rest.is_empty() => return out,
                None => {}
            }
        }
    }

    #[test]
    fn rcv_11_command_lines_end_only_at_crlf() {
        let table: &[(&[u8], Vec<Line>)] = &[
            (b"NOOP\r\n", vec![Line::Complete(6)]),
            (b"NOOP\n", vec![Line::Bare]),
            (b"NO\rOP\r\n", vec![Line::Bare]),
            (
                b"NOOP\r\nRSET\r\n",
                vec![Line::Complete(6), Line::Complete(6)],
            ),
            (b"NOOP", vec![]),
        ];
        for (input, expected) in table {
            assert_eq!(&lines(input, 100), expected, "{input:?}");
        }
    }

    #[test]
    fn rcv_11_an_overlong_line_is_refused_once_and_the_next_one_read() {
        let mut input = vec![b'x'; 300];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        assert_eq!(lines(&input, 64), vec![Line::TooLong, Line::Complete(6)]);
        // Discarded while its end has not arrived yet, then refused when it does.
        let mut reader = LineReader::new(64);
        assert_eq!(reader.take(&[b'y'; 100]), (None, 100));
        assert_eq!(reader.take(b"yy\r\n"), (Some(Line::TooLong), 4));
    }

    fn receive(input: &[u8]) -> (Received, usize) {
        let mut receiver = DataReceiver::new(1000);
        let (used, done) = receiver.feed(input);
        assert!(done, "no end found in {input:?}");
        (receiver.finish(), used)
    }

    #[test]
    fn rcv_11_only_crlf_dot_crlf_ends_data_and_dots_are_unstuffed() {
        let (message, used) = receive(b"a\r\n..b\r\n.c\r\n.\r\nQUIT\r\n");
        assert_eq!(message, Received::Message(b"a\r\n.b\r\nc\r\n".to_vec()));
        assert_eq!(used, 15, "the next command is left in the buffer");
        assert_eq!(receive(b".\r\n").0, Received::Message(Vec::new()));
    }

    #[test]
    fn rcv_11_smuggling_sequences_do_not_end_the_message_and_refuse_it() {
        for smuggled in [&b"\n.\n"[..], b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r"] {
            let mut input = b"Subject: x\r\n\r\nbody".to_vec();
            input.extend_from_slice(smuggled);
            input.extend_from_slice(b"MAIL FROM:<evil@example.net>\r\n");
            let mut receiver = DataReceiver::new(1000);
            let (used, done) = receiver.feed(&input);
            assert!(!done, "{smuggled:?} ended the message");
            assert_eq!(used, input.len());
            let (used, done) = receiver.feed(b"\r\n.\r\n");
            assert!(done && used == 5);
            assert_eq!(receiver.finish(), Received::BareLineEnding, "{smuggled:?}");
        }
    }

    #[test]
    fn data_split_anywhere_gives_the_same_message() {
        let input = b"x\r\n..y\r\nz\r\n.\r\n";
        for split in 0..input.len() {
            let mut receiver = DataReceiver::new(1000);
            let (a, done_a) = receiver.feed(&input[..split]);
            assert!(!done_a && a == split);
            let (_, done) = receiver.feed(&input[split..]);
            assert!(done, "split at {split}");
            assert_eq!(
                receiver.finish(),
                Received::Message(b"x\r\n.y\r\nz\r\n".to_vec())
            );
        }
    }

    /// The DATA rules written the slow, obvious way: the message ends at the first
    /// `CRLF.CRLF` (counting the start as after a CRLF); lines are split at CRLF only; a
    /// leading dot is dropped; any CR or LF left over is bare.
    fn reference(input: &[u8]) -> Option<(Received, usize)> {
        let prefixed = [&b"\r\n"[..], input].concat();
        let k = prefixed.windows(5).position(|w| w == b"\r\n.\r\n")?;
        let content = &input[..k];
        let mut lines: Vec<Vec<u8>> = vec![Vec::new()];
        let mut i = 0;
        while i < content.len() {
            if content[i] == b'\r' && content.get(i + 1) == Some(&b'\n') {
                lines.push(Vec::new());
                i += 2;
            } else {
                lines.last_mut()?.push(content[i]);
                i += 1;
            }
        }
        let bare = lines.iter().flatten().any(|&b| b == b'\r' || b == b'\n');
        let unstuffed: Vec<Vec<u8>> = lines
            .into_iter()
            .map(|line| line.strip_prefix(b".").map(<[u8]>::to_vec).unwrap_or(line))
            .collect();
        let message = unstuffed.join(&b"\r\n"[..]);
        let received = if bare {
            Received::BareLineEnding
        } else {
            Received::Message(message)
        };
        Some((received, k + 3))
    }

    #[test]
    fn rcv_11_data_receiver_agrees_with_the_reference_however_input_is_split() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5321);
        let alphabet = [b'\r', b'\n', b'.', b'a'];
        for _ in 0..5000 {
            let len = rng.random_range(0..40);
            let mut input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            input.extend_from_slice(b"\r\n.\r\nNEXT");
            let Some((expected, end)) = reference(&input) else {
                panic!("the appended terminator is always found: {input:?}");
            };
            let cut = rng.random_range(0..=input.len());
            let mut receiver = DataReceiver::new(1 << 20);
            let (used, done) = receiver.feed(&input[..cut]);
            let (used, done) = if done {
                (used, true)
            } else {
                let (more, done) = receiver.feed(&input[cut..]);
                (cut + more, done)
            };
            assert!(done, "{input:?}");
            assert_eq!(used, end, "{input:?} cut at {cut}");
            assert_eq!(receiver.finish(), expected, "{input:?} cut at {cut}");
        }
    }

    #[test]
    fn rcv_7_an_oversized_message_is_read_to_its_end_and_refused() {
        let mut receiver = DataReceiver::new(10);
        let (_, done) = receiver.feed(b"0123456789abcdef\r\n.\r\n");
        assert!(done);
        assert_eq!(receiver.finish(), Received::TooBig);
    }

    #[test]
    fn bdat_chunks_are_checked_across_boundaries() {
        let mut chunks = Chunks::default();
        assert!(chunks.push(b"a\r", 100));
        assert!(chunks.push(b"\nb\r\n", 100));
        assert_eq!(
            chunks.finish(100),
            Received::Message(b"a\r\nb\r\n".to_vec())
        );
        let mut bare = Chunks::default();
        assert!(bare.push(b"a\nb\r\n", 100));
        assert_eq!(bare.finish(100), Received::BareLineEnding);
        let mut big = Chunks::default();
        assert!(!big.push(&[b'x'; 20], 10));
        assert_eq!(big.finish(10), Received::TooBig);
    }

    #[test]
    fn rcv_10_non_ascii_header_is_named_and_bodies_are_free() {
        assert_eq!(
            non_ascii_header("Subject: Grüße\r\n\r\nbody".as_bytes()),
            Some("Subject".to_string())
        );
        assert_eq!(
            non_ascii_header("To: a@b\r\n  ü\r\n\r\n".as_bytes()),
            Some("To".to_string())
        );
        assert_eq!(non_ascii_header("Subject: x\r\n\r\nGrüße".as_bytes()), None);
    }
}
