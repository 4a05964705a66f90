//! Command framing, sans I/O: the client's byte stream cut into complete commands, literals
//! included (RFC 9051 §2.2.1, §4.3, §7.5; RFC 7888 LITERAL+/LITERAL-; RFC 3516 `literal8`).
//!
//! An IMAP command is one or more lines: a line that ends with a literal announcement
//! (`{n}`, `{n+}`, `~{n}`, `~{n+}`) is followed by exactly `n` octets and then by the rest of
//! the command on the next line. [`CommandReader`] follows that structure and hands the session
//! the whole command, exactly as received, for [`super::parse::command`]:
//!
//! ```text
//!            line ends without a literal ──────────────────────────▶ Complete(command)
//!   Line ──┬ line ends with {n}  (synchronising) ── Continue ──▶ Literal(n) ──▶ Line
//!          ├ line ends with {n+} (non-synchronising) ────────────▶ Literal(n) ──▶ Line
//!          ├ literal over the limits ── LiteralTooBig ──▶ (skip the literal and the rest)
//!          └ line over the limit ────── LineTooLong ────▶ (skip the rest of the command)
//! ```
//!
//! The reader owns the partial command and never holds more than [`Limits`] allow; refused
//! commands are skipped without being stored. Skipping follows the same structure (a refused
//! line that announces a non-synchronising literal is followed by its octets), so the bytes of
//! a refused literal are never mistaken for a command: RFC 7888 §9 warns about exactly that.
//!
//! A bare LF is taken as a line end as well as CRLF (RFC 9051 §2.2 asks for CRLF). Unlike SMTP
//! DATA, nothing in IMAP is delimited by a line end that a second system could read
//! differently: message data travels in counted literals, so accepting LF cannot smuggle
//! anything, and it keeps hand-typed sessions (`nc`, some `telnet`s) and a few old clients
//! working, as Dovecot and Cyrus do.

/// Size limits of the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, its line end included; literals do not count. Commands without literals
    /// are one line, so this bounds them.
    pub max_line: usize,
    /// Largest literal accepted (the APPENDLIMIT of RFC 7889 when the session advertises one).
    pub max_literal: u64,
    /// Largest command: every line and literal together (bounds MULTIAPPEND and commands made
    /// of many small literals).
    pub max_command: u64,
}

impl Default for Limits {
    /// 64 KiB lines, 64 MiB literals, and room for one maximal literal plus its lines.
    fn default() -> Limits {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_command: 65 * 1024 * 1024,
        }
    }
}

/// What the session must do after [`CommandReader::take`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// All the input given was used; read more and call again.
    NeedMore,
    /// A whole command: its lines with their line ends and its literals inline, exactly as
    /// received, ready for [`super::parse::command`].
    Complete(Vec<u8>),
    /// A synchronising literal was announced and accepted: send a command continuation request
    /// (`+ Ready for literal data\r\n`, RFC 9051 §7.5) before reading on, since the client waits
    /// for it.
    Continue,
    /// A literal was announced that is over [`Limits::max_literal`] or would make the command
    /// larger than [`Limits::max_command`]. The reader has dropped the command so far.
    ///
    /// A synchronising literal was never sent (the client waits for `+`): answer
    /// `<tag> NO [TOOBIG] ...` (RFC 9051 §7.1, RFC 7889 §3) and the command is over.
    ///
    /// A non-synchronising literal is on its way anyway. RFC 7888 §4 leaves the server two
    /// choices, and §5 asks for the TOOBIG response code with either: answer
    /// `<tag> BAD [TOOBIG] ...` and keep reading (the reader then skips the `size` octets and
    /// the rest of the command by itself), or send `* BYE [TOOBIG] ...` and close, which a
    /// session may prefer when `size` is absurd (reading it costs bandwidth, never memory).
    LiteralTooBig {
        /// The command's tag, or `*` when none could be read.
        tag: String,
        /// The size announced.
        size: u64,
        /// `{n}` rather than `{n+}`.
        synchronizing: bool,
    },
    /// A line went over [`Limits::max_line`] (or the command's lines over
    /// [`Limits::max_command`]). The reader dropped the command and skips the rest of it,
    /// literals included; answer `<tag> BAD ...` at once, the connection stays usable.
    LineTooLong {
        /// The command's tag, or `*` when none could be read.
        tag: String,
    },
}

/// A plain line taken by [`CommandReader::take_line`] (AUTHENTICATE responses, IDLE's `DONE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// All the input given was used; read more and call again.
    NeedMore,
    /// The line, without its line end.
    Complete(Vec<u8>),
    /// The line went over [`Limits::max_line`]; the rest of it is skipped by the reader.
    TooLong,
}

/// Splits the client's byte stream into complete commands (see the module documentation).
///
/// Feed it the session's input buffer with [`CommandReader::take`]; it says how many octets it
/// used and what to do. It copies what it keeps, so the caller may drop the used octets at
/// once, and any split of the input (down to one octet at a time) gives the same commands.
#[derive(Debug)]
pub struct CommandReader {
    limits: Limits,
    /// The command so far: its lines with their line ends and its literals.
    command: Vec<u8>,
    /// Where the line being read starts in `command` (after the last literal).
    line_start: usize,
    state: State,
}

/// Longest tail of a skipped line that can hold a literal announcement: `~{`, 20 digits, `+}`,
/// CR, LF.
const TAIL: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a line into `command`.
    Line,
    /// Copying this many more literal octets into `command`.
    Literal(u64),
    /// Skipping the rest of a refused command's line; `tail` keeps its last octets to see
    /// whether the line announces a literal whose octets must be skipped too.
    SkipLine { tail: Vec<u8> },
    /// Skipping this many more octets of a refused command's literal.
    SkipLiteral(u64),
    /// Skipping the rest of an overlong plain line (see [`CommandReader::take_line`]).
    SkipPlainLine,
}

/// A literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announcement {
    size: u64,
    synchronizing: bool,
}

impl CommandReader {
    /// A reader between commands.
    pub fn new(limits: Limits) -> CommandReader {
        CommandReader {
            limits,
            command: Vec::new(),
            line_start: 0,
            state: State::Line,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits, for instance the literal limit after login. Takes effect with the
    /// next line or literal.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether the reader is between commands (nothing of a command held or being skipped).
    pub fn is_idle(&self) -> bool {
        self.command.is_empty() && self.state == State::Line
    }

    /// Takes octets off the front of `input`: returns how many were used and what to do.
    ///
    /// [`Framed::NeedMore`] means all of `input` was used. Any other outcome may leave octets
    /// unused (the next command, pipelined); call again with them after acting on it.
    pub fn take(&mut self, input: &[u8]) -> (usize, Framed) {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            let (n, outcome) = match std::mem::replace(&mut self.state, State::Line) {
                State::Line => self.read_line(rest),
                State::Literal(remaining) => self.read_literal(rest, remaining),
                State::SkipLine { tail } => self.skip_line(rest, tail),
                State::SkipLiteral(remaining) => self.skip_literal(rest, remaining),
                State::SkipPlainLine => self.skip_plain_line(rest),
            };
            used += n;
            match outcome {
                Some(framed) => return (used, framed),
                None if used == input.len() && self.waits_for_input() => {
                    return (used, Framed::NeedMore);
                }
                None => {}
            }
        }
    }

    /// Takes one plain line off the front of `input` (no literals): a client response during
    /// AUTHENTICATE (RFC 9051 §6.2.2) or `DONE` ending IDLE (RFC 2177). Call it only between
    /// commands; it returns how many octets were used and the outcome.
    pub fn take_line(&mut self, input: &[u8]) -> (usize, Line) {
        let mut used = 0;
        if self.state == State::SkipPlainLine {
            self.state = State::Line;
            used = self.skip_plain_line(input).0;
            if self.state == State::SkipPlainLine {
                return (used, Line::NeedMore);
            }
        }
        let rest = &input[used..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            if self.command.len() + rest.len() > self.limits.max_line {
                self.command.clear();
                self.state = State::SkipPlainLine;
                return (input.len(), Line::TooLong);
            }
            self.command.extend_from_slice(rest);
            return (input.len(), Line::NeedMore);
        };
        used += lf + 1;
        if self.command.len() + lf + 1 > self.limits.max_line {
            self.command.clear();
            return (used, Line::TooLong);
        }
        self.command.extend_from_slice(&rest[..lf]);
        let mut line = std::mem::take(&mut self.command);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        (used, Line::Complete(line))
    }

    /// Whether the current state can only go on with more input (so an empty rest means
    /// [`Framed::NeedMore`]); states that finish without input (a literal of 0 octets) say no.
    fn waits_for_input(&self) -> bool {
        !matches!(self.state, State::Literal(0) | State::SkipLiteral(0))
    }

    /// State [`State::Line`]: the command's current line.
    fn read_line(&mut self, rest: &[u8]) -> (usize, Option<Framed>) {
        let line_so_far = self.command.len() - self.line_start;
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            if line_so_far + rest.len() > self.limits.max_line
                || self.over_command_limit(rest.len())
            {
                return (rest.len(), Some(self.refuse_line(rest)));
            }
            self.command.extend_from_slice(rest);
            return (rest.len(), None);
        };
        let line = &rest[..=lf];
        if line_so_far + line.len() > self.limits.max_line || self.over_command_limit(line.len()) {
            return (line.len(), Some(self.refuse_line(line)));
        }
        self.command.extend_from_slice(line);
        if self.command == b"\r\n" || self.command == b"\n" {
            // An empty line between commands: some clients send one after a literal they
            // miscounted, or to keep a connection alive. Ignored rather than answered BAD.
            self.command.clear();
            return (line.len(), None);
        }
        let Some(literal) = announcement(&self.command[self.line_start..]) else {
            self.line_start = 0;
            return (
                line.len(),
                Some(Framed::Complete(std::mem::take(&mut self.command))),
            );
        };
        if literal.size > self.limits.max_literal || self.over_command_limit_u64(literal.size) {
            let tag = tag_of(&self.command);
            self.reset();
            if !literal.synchronizing {
                // RFC 7888 §4: the client sends the octets without waiting; skip them.
                self.state = State::SkipLiteral(literal.size);
            }
            let framed = Framed::LiteralTooBig {
                tag,
                size: literal.size,
                synchronizing: literal.synchronizing,
            };
            return (line.len(), Some(framed));
        }
        self.state = State::Literal(literal.size);
        // RFC 9051 §7.5: the client waits for "+" before sending a synchronising literal, even
        // an empty one.
        let framed = literal.synchronizing.then_some(Framed::Continue);
        (line.len(), framed)
    }

    /// State [`State::Literal`]: octets of an accepted literal.
    fn read_literal(&mut self, rest: &[u8], remaining: u64) -> (usize, Option<Framed>) {
        let n = clamp(remaining, rest.len());
        self.command.extend_from_slice(&rest[..n]);
        let remaining = remaining - n as u64;
        if remaining == 0 {
            self.line_start = self.command.len();
        } else {
            self.state = State::Literal(remaining);
        }
        (n, None)
    }

    /// State [`State::SkipLine`]: the rest of a refused command's line.
    fn skip_line(&mut self, rest: &[u8], mut tail: Vec<u8>) -> (usize, Option<Framed>) {
        match rest.iter().position(|&b| b == b'\n') {
            None => {
                keep_tail(&mut tail, rest);
                self.state = State::SkipLine { tail };
                (rest.len(), None)
            }
            Some(lf) => {
                keep_tail(&mut tail, &rest[..=lf]);
                self.state = after_skipped_line(&tail);
                (lf + 1, None)
            }
        }
    }

    /// State [`State::SkipLiteral`]: octets of a refused command's literal.
    fn skip_literal(&mut self, rest: &[u8], remaining: u64) -> (usize, Option<Framed>) {
        let n = clamp(remaining, rest.len());
        let remaining = remaining - n as u64;
        self.state = if remaining == 0 {
            // The command goes on after the literal until a line without one.
            State::SkipLine { tail: Vec::new() }
        } else {
            State::SkipLiteral(remaining)
        };
        (n, None)
    }

    /// State [`State::SkipPlainLine`]: the rest of an overlong plain line.
    fn skip_plain_line(&mut self, rest: &[u8]) -> (usize, Option<Framed>) {
        match rest.iter().position(|&b| b == b'\n') {
            None => {
                self.state = State::SkipPlainLine;
                (rest.len(), None)
            }
            Some(lf) => (lf + 1, None),
        }
    }

    /// Drops the command whose line (`part`, as far as it arrived) is over a limit, and skips
    /// the rest of it.
    fn refuse_line(&mut self, part: &[u8]) -> Framed {
        // The tag is at the start of the command: in what is held, or in `part`, or across
        // both when the first line arrived in pieces. It is read from the command's first
        // `max_line` octets, which have always arrived by the time a line is refused, so the
        // answer does not depend on how the input was split (found by fuzzing: a long tag cut
        // between two reads was answered `*`).
        let head: Vec<u8> = self
            .command
            .iter()
            .chain(part)
            .take(self.limits.max_line)
            .copied()
            .collect();
        let tag = tag_of(&head);
        // The line's start may be held already; its tail can announce a literal.
        let mut tail = Vec::new();
        keep_tail(&mut tail, &self.command[self.line_start..]);
        keep_tail(&mut tail, part);
        self.reset();
        self.state = if part.last() == Some(&b'\n') {
            after_skipped_line(&tail)
        } else {
            State::SkipLine { tail }
        };
        Framed::LineTooLong { tag }
    }

    fn over_command_limit(&self, more: usize) -> bool {
        self.over_command_limit_u64(more as u64)
    }

    fn over_command_limit_u64(&self, more: u64) -> bool {
        (self.command.len() as u64).saturating_add(more) > self.limits.max_command
    }

    fn reset(&mut self) {
        self.command.clear();
        self.line_start = 0;
    }
}

/// How many of `available` octets to take when `remaining` are wanted.
fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |wanted| wanted.min(available))
}

/// Keeps the last [`TAIL`] octets of `tail` followed by `more`.
fn keep_tail(tail: &mut Vec<u8>, more: &[u8]) {
    let more = &more[more.len().saturating_sub(TAIL)..];
    tail.extend_from_slice(more);
    let excess = tail.len().saturating_sub(TAIL);
    tail.drain(..excess);
}

/// What follows a skipped line that ended with `tail`: the octets of its non-synchronising
/// literal, or (no literal, or a synchronising one the client now waits for in vain) the next
/// command.
fn after_skipped_line(tail: &[u8]) -> State {
    match announcement(tail) {
        Some(literal) if !literal.synchronizing => State::SkipLiteral(literal.size),
        _ => State::Line,
    }
}

/// The literal announced at the end of `line` (line end included), if any.
///
/// RFC 9051 §9: `literal = "{" number64 ["+"] "}" CRLF`, `literal8 = "~{" number64 ["+"] "}"
/// CRLF` (the `+` from RFC 7888). `{` appears in no other production a line can end with, so
/// this is decided without parsing. RFC 7888 §5: LITERAL- uses the same `{n+}` form, so there
/// is no `{n-}`. A count too large for 64 bits stands as `u64::MAX`, which every limit refuses.
fn announcement(line: &[u8]) -> Option<Announcement> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let (line, synchronizing) = match line.strip_suffix(b"+") {
        Some(line) => (line, false),
        None => (line, true),
    };
    let digits = line.len() - line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let (line, count) = line.split_at(digits);
    if count.is_empty() || line.last() != Some(&b'{') {
        return None;
    }
    let size = count.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    Some(Announcement {
        size: size.unwrap_or(u64::MAX),
        synchronizing,
    })
}

/// The tag at the start of `command` for an error reply: its first token when that is a valid
/// tag (RFC 9051 §9) ended by a space or line end, else `*` (an untagged BAD, RFC 9051 §7.1.3).
/// A token cut off by the end of `command` is not taken: it may be a flood of octets rather
/// than a tag, and echoing it back would be worse than `*`.
pub fn tag_of(command: &[u8]) -> String {
    let Some(end) = command
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
    else {
        return "*".to_owned();
    };
    let token = &command[..end];
    if !token.is_empty() && token.iter().all(|&b| is_tag_char(b)) {
        // Tag characters are ASCII, so this cannot fail.
        String::from_utf8_lossy(token).into_owned()
    } else {
        "*".to_owned()
    }
}

/// RFC 9051 §9: `tag = 1*<any ASTRING-CHAR except "+">`; ASTRING-CHAR is an ATOM-CHAR or `]`.
pub fn is_tag_char(b: u8) -> bool {
    b != b'+' && (is_atom_char(b) || b == b']')
}

/// RFC 9051 §9: `ATOM-CHAR = <any CHAR except atom-specials>`, where atom-specials are
/// `( ) {` SP, controls, `% *`, `" \` and `]`.
pub fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
        && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            max_line: 64,
            max_literal: 100,
            max_command: 300,
        }
    }

    /// Feeds `input` in chunks of `chunk` octets and collects every outcome but NeedMore,
    /// answering nothing (the test reads the outcomes).
    fn run(limits: Limits, input: &[u8], chunk: usize) -> Vec<Framed> {
        let mut reader = CommandReader::new(limits);
        let mut pending = Vec::new();
        let mut outcomes = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                let (used, framed) = reader.take(&pending);
                pending.drain(..used);
                if framed == Framed::NeedMore {
                    assert!(pending.is_empty(), "NeedMore leaves nothing unused");
                    break;
                }
                outcomes.push(framed);
            }
        }
        outcomes
    }

    /// Runs `input` whole and one octet at a time, which must agree.
    fn frames(limits: Limits, input: &[u8]) -> Vec<Framed> {
        let whole = run(limits, input, input.len());
        for chunk in [1, 2, 3, 7] {
            assert_eq!(run(limits, input, chunk), whole, "chunk size {chunk}");
        }
        whole
    }

    fn complete(bytes: &[u8]) -> Framed {
        Framed::Complete(bytes.to_vec())
    }

    #[test]
    fn plain_commands_are_split_at_line_ends() {
        let outcomes = frames(small(), b"a1 NOOP\r\na2 CAPABILITY\na3 LOGOUT\r\n");
        assert_eq!(
            outcomes,
            vec![
                complete(b"a1 NOOP\r\n"),
                complete(b"a2 CAPABILITY\n"),
                complete(b"a3 LOGOUT\r\n"),
            ]
        );
    }

    #[test]
    fn synchronising_literal_asks_for_continuation() {
        let input = b"a LOGIN {4}\r\nfred {6}\r\nsecret\r\nb NOOP\r\n";
        assert_eq!(
            frames(small(), input),
            vec![
                Framed::Continue,
                Framed::Continue,
                complete(b"a LOGIN {4}\r\nfred {6}\r\nsecret\r\n"),
                complete(b"b NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn non_synchronising_and_binary_literals_need_no_continuation() {
        let input = b"a APPEND INBOX ~{5+}\r\n\0\r\n\n\x01 {0+}\r\n\r\n";
        assert_eq!(frames(small(), input), vec![complete(input)]);
        // A literal's octets are data, whatever they look like.
        let tricky = b"a LOGIN {9+}\r\nb LOGOUT\n x\r\n";
        assert_eq!(frames(small(), tricky), vec![complete(tricky)]);
    }

    #[test]
    fn empty_synchronising_literal_still_waits_for_continuation() {
        let input = b"a LOGIN {0}\r\n {0}\r\n\r\n";
        assert_eq!(
            frames(small(), input),
            vec![Framed::Continue, Framed::Continue, complete(input)]
        );
    }

    #[test]
    fn empty_lines_between_commands_are_ignored() {
        assert_eq!(
            frames(small(), b"\r\n\na NOOP\r\n\r\n"),
            vec![complete(b"a NOOP\r\n")]
        );
    }

    #[test]
    fn synchronising_literal_over_the_limit_is_refused_before_its_data() {
        let input = b"a7 APPEND INBOX {101}\r\nb NOOP\r\n";
        assert_eq!(
            frames(small(), input),
            vec![
                Framed::LiteralTooBig {
                    tag: "a7".into(),
                    size: 101,
                    synchronizing: true
                },
                complete(b"b NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn non_synchronising_literal_over_the_limit_is_skipped_with_the_rest_of_the_command() {
        // The refused literal holds what looks like a command, and the command goes on with a
        // second literal after it: none of it may be read as a command.
        let body = [b"x LOGOUT\r\n".repeat(11), b"y".to_vec()].concat();
        let input = [
            b"a8 APPEND INBOX {111+}\r\n".as_slice(),
            &body,
            b" {3+}\r\nz\r\n".as_slice(),
            b"\r\nb NOOP\r\n",
        ]
        .concat();
        assert_eq!(body.len(), 111);
        assert_eq!(
            frames(small(), &input),
            vec![
                Framed::LiteralTooBig {
                    tag: "a8".into(),
                    size: 111,
                    synchronizing: false
                },
                complete(b"b NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn overlong_line_is_refused_and_skipped_to_its_end() {
        let long = [b"t1 LOGIN ".as_slice(), &[b'x'; 100], b"\r\nb NOOP\r\n"].concat();
        assert_eq!(
            frames(small(), &long),
            vec![
                Framed::LineTooLong { tag: "t1".into() },
                complete(b"b NOOP\r\n")
            ]
        );
        // An overlong second line keeps the tag of the first, and its literal is skipped.
        let second = [
            b"t2 LOGIN {1+}\r\nu ".as_slice(),
            &[b'x'; 100],
            b" {9+}\r\nc LOGOUT\n\r\nb NOOP\r\n",
        ]
        .concat();
        assert_eq!(
            frames(small(), &second),
            vec![
                Framed::LineTooLong { tag: "t2".into() },
                complete(b"b NOOP\r\n")
            ]
        );
    }

    /// Found by fuzzing: a tag longer than one read was answered `*` when the line arrived in
    /// pieces, and by name when it arrived whole. Every split now answers the tag.
    #[test]
    fn a_long_tag_is_answered_however_the_line_arrived() {
        let tag = "t".repeat(40);
        let long = [tag.as_bytes(), b" NOOP ", &[b'x'; 100], b"\r\nb NOOP\r\n"].concat();
        assert_eq!(
            frames(small(), &long),
            vec![Framed::LineTooLong { tag }, complete(b"b NOOP\r\n")]
        );
    }

    #[test]
    fn command_over_the_total_limit_is_refused() {
        // Each literal fits, their sum does not.
        let mut input = b"a9 LOGIN".to_vec();
        for _ in 0..4 {
            input.extend_from_slice(b" {90+}\r\n");
            input.extend_from_slice(&[b'p'; 90]);
        }
        input.extend_from_slice(b"\r\nb NOOP\r\n");
        assert_eq!(
            frames(small(), &input),
            vec![
                Framed::LiteralTooBig {
                    tag: "a9".into(),
                    size: 90,
                    synchronizing: false
                },
                complete(b"b NOOP\r\n"),
            ]
        );
        // Many small literals make many lines; those count too.
        let mut lines = b"a10 LOGIN".to_vec();
        for _ in 0..60 {
            lines.extend_from_slice(b" {0+}\r\n");
        }
        lines.extend_from_slice(b"\r\nb NOOP\r\n");
        assert_eq!(
            frames(small(), &lines),
            vec![
                Framed::LineTooLong { tag: "a10".into() },
                complete(b"b NOOP\r\n")
            ]
        );
    }

    #[test]
    fn absurd_literal_counts_are_too_big() {
        let input = b"a LOGIN {99999999999999999999999}\r\nb NOOP\r\n";
        assert_eq!(
            frames(Limits::default(), input),
            vec![
                Framed::LiteralTooBig {
                    tag: "a".into(),
                    size: u64::MAX,
                    synchronizing: true
                },
                complete(b"b NOOP\r\n"),
            ]
        );
    }

    #[test]
    fn untaggable_errors_use_star() {
        let long = [b"+bad".as_slice(), &[b'x'; 100], b"\r\n"].concat();
        assert_eq!(
            frames(small(), &long),
            vec![Framed::LineTooLong { tag: "*".into() }]
        );
        assert_eq!(tag_of(b"A.1 NOOP"), "A.1");
        assert_eq!(tag_of(b"a]b x"), "a]b");
        for bad in [
            &b""[..],
            b" x",
            b"a*b x",
            b"a{b x",
            b"abc",
            b"caf\xc3\xa9 x",
            b"\"q\" x",
        ] {
            assert_eq!(tag_of(bad), "*", "{bad:?}");
        }
    }

    #[test]
    fn announcements_are_read_only_at_the_end_of_a_line() {
        // (line, announced (size, synchronising))
        type Case = (&'static [u8], Option<(u64, bool)>);
        let cases: [Case; 10] = [
            (b"a LOGIN {5}\r\n", Some((5, true))),
            (b"a LOGIN {5+}\n", Some((5, false))),
            (b"a APPEND x ~{007}\r\n", Some((7, true))),
            (b"a LOGIN {5-}\r\n", None),
            (b"a LOGIN {}\r\n", None),
            (b"a LOGIN 5}\r\n", None),
            (b"a LOGIN {5} \r\n", None),
            (b"a LOGIN {x5}\r\n", None),
            (b"{5}", None),
            (b"}\r\n", None),
        ];
        for (line, expected) in cases {
            let got = announcement(line).map(|a| (a.size, a.synchronizing));
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn plain_lines_for_authenticate_and_idle() {
        let mut reader = CommandReader::new(small());
        assert_eq!(reader.take_line(b"DO"), (2, Line::NeedMore));
        assert_eq!(
            reader.take_line(b"NE\r\na NOOP\r\n"),
            (4, Line::Complete(b"DONE".to_vec()))
        );
        assert_eq!(reader.take_line(b"*\n"), (2, Line::Complete(b"*".to_vec())));
        let long = [b'A'; 70];
        assert_eq!(reader.take_line(&long), (70, Line::TooLong));
        assert_eq!(
            reader.take_line(b"AAAA"),
            (4, Line::NeedMore),
            "still skipping"
        );
        assert_eq!(
            reader.take_line(b"AA\r\ndGVzdA==\r\n"),
            (14, Line::Complete(b"dGVzdA==".to_vec()))
        );
        assert!(reader.is_idle());
        // An overlong line that arrives whole is refused without skipping state.
        let whole = [&[b'A'; 70][..], b"\r\nDONE\r\n"].concat();
        assert_eq!(reader.take_line(&whole), (72, Line::TooLong));
        assert_eq!(
            reader.take(&whole[72..]),
            (6, Framed::Complete(b"DONE\r\n".to_vec()))
        );
    }

    #[test]
    fn reader_never_holds_more_than_its_limits() {
        let limits = small();
        let mut reader = CommandReader::new(limits);
        let flood = vec![b'x'; 10_000];
        let (used, framed) = reader.take(&flood);
        assert_eq!(used, flood.len());
        assert_eq!(framed, Framed::LineTooLong { tag: "*".into() });
        for _ in 0..10 {
            assert_eq!(reader.take(&flood), (flood.len(), Framed::NeedMore));
            assert!(reader.command.len() <= limits.max_line);
        }
        assert!(!reader.is_idle());
        assert_eq!(
            reader.take(b"\r\na NOOP\r\n"),
            (10, Framed::Complete(b"a NOOP\r\n".to_vec()))
        );
        assert!(reader.is_idle());
    }

    #[test]
    fn line_limit_counts_the_line_end() {
        let limits = Limits {
            max_line: 10,
            ..small()
        };
        assert_eq!(
            frames(limits, b"a NOOP12\r\n"),
            vec![complete(b"a NOOP12\r\n")]
        );
        assert_eq!(
            frames(limits, b"a NOOP123\r\n"),
            vec![Framed::LineTooLong { tag: "a".into() }]
        );
    }
}
