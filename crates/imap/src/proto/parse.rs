//! The command grammar of RFC 3501 and RFC 9051 (§9) with the extensions the server speaks,
//! over one complete command as [`super::framing`] delivers it.
//!
//! Literals are inline (`{n}` CRLF and then n octets, likewise `{n+}`, `~{n}` and `~{n+}`); the
//! parser takes the announced count of octets and goes on. Keywords are case-insensitive
//! (RFC 9051 §9: "Case is ignored"). The parser is strict where the grammar is (exactly one SP
//! between items, only `\"` and `\\` escaped in quoted strings, no NUL in a plain literal), and
//! lenient where clients are known to stretch it, each marked where it happens: a bare LF line
//! end (see [`super::framing`]), a one-digit day without the leading space in an APPEND
//! date-time, and a MODSEQ of 0 in QRESYNC and CHANGEDSINCE (it can only mean "since the
//! beginning").
//!
//! `$` (RFC 5182) is taken as a whole sequence set only: [`SequenceSet`] cannot hold it mixed
//! with numbers, and no known client mixes them.
//!
//! It never panics: every index is checked and recursion in search keys is bounded by
//! [`MAX_DEPTH`], so any byte string gives a [`Command`] or a [`ParseError`].

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::command::*;
use super::framing::{is_atom_char, is_tag_char};

/// Deepest nesting of search keys (parentheses, NOT, OR) accepted; deeper is `BAD`. Real
/// clients nest a handful of levels; the bound keeps a hostile command from exhausting the
/// stack.
pub const MAX_DEPTH: usize = 64;

/// The response code for an unsupported charset, listing those supported (RFC 9051 §7.1:
/// `BADCHARSET`, §6.4.4: US-ASCII and UTF-8 are the ones a server must support).
pub const BADCHARSET_CODE: &str = "BADCHARSET (US-ASCII UTF-8)";

/// Why a command could not be parsed, and how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The command is malformed or unknown: answer `<tag> BAD <reason>`, or `* BAD <reason>`
    /// when not even a tag could be read (RFC 9051 §7.1.3).
    Bad {
        /// The tag, when one was read.
        tag: Option<String>,
        /// A short reason for the client.
        reason: String,
    },
    /// SEARCH, SORT or THREAD named a charset other than US-ASCII and UTF-8: answer
    /// `<tag> NO [BADCHARSET (US-ASCII UTF-8)] ...` (RFC 9051 §6.4.4; see [`BADCHARSET_CODE`]).
    BadCharset {
        /// The tag.
        tag: String,
        /// The charset asked for, upper-cased.
        charset: String,
    },
}

impl ParseError {
    /// The tag to answer with, if one was read.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ParseError::Bad { tag, .. } => tag.as_deref(),
            ParseError::BadCharset { tag, .. } => Some(tag),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Bad { reason, .. } => f.write_str(reason),
            ParseError::BadCharset { charset, .. } => write!(f, "charset {charset} not supported"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses one complete command: `tag SP command CRLF` (RFC 9051 §9 `command`).
pub fn command(input: &[u8]) -> Result<Command, ParseError> {
    let mut parser = Parser::new(input);
    let tag = parser.tag().map_err(|fail| ParseError::Bad {
        tag: None,
        reason: fail.reason(),
    })?;
    match parser.after_tag() {
        Ok(body) => Ok(Command { tag, body }),
        Err(Fail::Syntax(reason)) => Err(ParseError::Bad {
            tag: Some(tag),
            reason: reason.into_owned(),
        }),
        Err(Fail::Charset(charset)) => Err(ParseError::BadCharset { tag, charset }),
    }
}

/// An internal failure, turned into a [`ParseError`] once the tag is known.
#[derive(Debug)]
enum Fail {
    Syntax(Cow<'static, str>),
    Charset(String),
}

impl Fail {
    fn reason(self) -> String {
        match self {
            Fail::Syntax(reason) => reason.into_owned(),
            Fail::Charset(charset) => format!("charset {charset} not supported"),
        }
    }
}

type Parsed<T> = Result<T, Fail>;

fn bad<T>(reason: &'static str) -> Parsed<T> {
    Err(Fail::Syntax(Cow::Borrowed(reason)))
}

/// A cursor over the command's octets.
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Current nesting of search keys.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8]) -> Parser<'a> {
        Parser {
            input,
            pos: 0,
            depth: 0,
        }
    }

    // ---- primitives ----

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.input.get(self.pos + ahead).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Parsed<()> {
        if self.eat(b) { Ok(()) } else { bad(reason) }
    }

    fn sp(&mut self) -> Parsed<()> {
        self.expect(b' ', "expected a space")
    }

    fn open(&mut self) -> Parsed<()> {
        self.expect(b'(', "expected '('")
    }

    fn close(&mut self) -> Parsed<()> {
        self.expect(b')', "expected ')'")
    }

    /// CRLF, or a bare LF (accepted as the framing does, see there).
    fn line_end(&mut self) -> Parsed<()> {
        if self.eat(b'\r') {
            return self.expect(b'\n', "CR without LF");
        }
        self.expect(b'\n', "expected the end of the command")
    }

    /// The end of the command: a line end and nothing after it.
    fn end(&mut self) -> Parsed<()> {
        self.line_end()?;
        if self.pos == self.input.len() {
            Ok(())
        } else {
            bad("data after the end of the command")
        }
    }

    /// Octets while `accept` holds (possibly none).
    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&accept) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// Whether a keyword is next (case-insensitively) and ends there (not followed by an
    /// atom character); consumes it if so.
    fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let matches = self
            .input
            .get(self.pos..end)
            .is_some_and(|s| s.eq_ignore_ascii_case(word.as_bytes()))
            && !self.input.get(end).copied().is_some_and(is_atom_char);
        if matches {
            self.pos = end;
        }
        matches
    }

    /// RFC 9051 §9: `tag = 1*<any ASTRING-CHAR except "+">`.
    fn tag(&mut self) -> Parsed<String> {
        let tag = self.take_while(is_tag_char);
        if tag.is_empty() {
            return bad("missing or invalid tag");
        }
        Ok(ascii(tag))
    }

    /// RFC 9051 §9: `atom = 1*ATOM-CHAR`.
    fn atom(&mut self) -> Parsed<&'a [u8]> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return bad("expected an atom");
        }
        Ok(atom)
    }

    /// An atom, upper-cased: command names, capability names, mechanisms.
    fn upper_atom(&mut self) -> Parsed<String> {
        Ok(ascii(self.atom()?).to_ascii_uppercase())
    }

    /// RFC 9051 §9: `number = 1*DIGIT` (32 bits).
    fn number(&mut self) -> Parsed<u32> {
        let n = self.number64()?;
        u32::try_from(n).or_else(|_| bad("number too large"))
    }

    /// RFC 9051 §9: `nz-number`.
    fn nz_number(&mut self) -> Parsed<u32> {
        match self.number()? {
            0 => bad("zero is not allowed here"),
            n => Ok(n),
        }
    }

    /// RFC 9051 §9: `number64 = 1*DIGIT` (63 bits).
    fn number64(&mut self) -> Parsed<u64> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return bad("expected a number");
        }
        let n = digits.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        match n {
            Some(n) if n <= i64::MAX as u64 => Ok(n),
            _ => bad("number too large"),
        }
    }

    // ---- strings ----

    /// RFC 9051 §9: `astring = 1*ASTRING-CHAR / string`.
    fn astring(&mut self) -> Parsed<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let atom = self.take_while(is_astring_char);
                if atom.is_empty() {
                    return bad("expected a string");
                }
                Ok(Cow::Borrowed(atom))
            }
        }
    }

    /// An astring that must be UTF-8 (user names, search strings, header names).
    fn astring_utf8(&mut self) -> Parsed<String> {
        utf8(self.astring()?)
    }

    /// RFC 9051 §9: `string = quoted / literal`.
    fn string(&mut self) -> Parsed<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(Cow::Borrowed(self.literal()?)),
            _ => bad("expected a quoted string or a literal"),
        }
    }

    /// RFC 9051 §9: `nstring = string / nil`.
    fn nstring(&mut self) -> Parsed<Option<Cow<'a, [u8]>>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// RFC 9051 §9: `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, where `QUOTED-CHAR` is a
    /// `TEXT-CHAR` other than `"` and `\`, an escaped `"` or `\`, or UTF-8 (`UTF8-2/3/4`).
    fn quoted(&mut self) -> Parsed<Cow<'a, [u8]>> {
        self.expect(b'"', "expected '\"'")?;
        let start = self.pos;
        let mut unescaped: Option<Vec<u8>> = None;
        loop {
            let Some(b) = self.peek() else {
                return bad("unterminated quoted string");
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let escaped = match self.peek() {
                        Some(e @ (b'"' | b'\\')) => e,
                        _ => return bad("only \\\" and \\\\ may be escaped in a quoted string"),
                    };
                    self.pos += 1;
                    let buf =
                        unescaped.get_or_insert_with(|| self.input[start..self.pos - 2].to_vec());
                    buf.push(escaped);
                }
                b'\r' | b'\n' | 0 => return bad("CR, LF or NUL in a quoted string"),
                _ => {
                    if let Some(buf) = unescaped.as_mut() {
                        buf.push(b);
                    }
                }
            }
        }
        let value = match unescaped {
            Some(buf) => Cow::Owned(buf),
            None => Cow::Borrowed(&self.input[start..self.pos - 1]),
        };
        if !value.is_ascii() && std::str::from_utf8(&value).is_err() {
            return bad("8-bit quoted string that is not UTF-8");
        }
        Ok(value)
    }

    /// RFC 9051 §9: `literal = "{" number64 ["+"] "}" CRLF *CHAR8` (`+` from RFC 7888).
    /// `CHAR8` excludes NUL; binary data comes as [`Parser::literal8`].
    fn literal(&mut self) -> Parsed<&'a [u8]> {
        let data = self.literal_data()?;
        if data.contains(&0) {
            return bad("NUL in a literal (RFC 9051 §4.3); send it as literal8");
        }
        Ok(data)
    }

    /// RFC 3516 §4.2 / RFC 9051 §9: `literal8 = "~{" number64 ["+"] "}" CRLF *OCTET`.
    fn literal8(&mut self) -> Parsed<&'a [u8]> {
        self.expect(b'~', "expected '~'")?;
        self.literal_data()
    }

    /// The `{n}` CRLF header of a literal and its `n` octets.
    fn literal_data(&mut self) -> Parsed<&'a [u8]> {
        self.expect(b'{', "expected '{'")?;
        let size = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "expected '}'")?;
        self.line_end()?;
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| self.pos.checked_add(size))
            .filter(|&end| end <= self.input.len());
        let Some(end) = end else {
            return bad("literal longer than the command");
        };
        let data = &self.input[self.pos..end];
        self.pos = end;
        Ok(data)
    }

    /// RFC 9051 §9: `mailbox = "INBOX" / astring`, kept as sent.
    fn mailbox(&mut self) -> Parsed<MailboxName> {
        Ok(MailboxName(self.astring()?.into_owned()))
    }

    /// RFC 9051 §9: `list-mailbox = 1*list-char / string`, list-char adding `%`, `*` and `]`
    /// to ATOM-CHAR.
    fn list_mailbox(&mut self) -> Parsed<MailboxName> {
        if matches!(self.peek(), Some(b'"' | b'{')) {
            return Ok(MailboxName(self.string()?.into_owned()));
        }
        let pattern = self.take_while(|b| is_astring_char(b) || b == b'%' || b == b'*');
        if pattern.is_empty() {
            return bad("expected a mailbox pattern");
        }
        Ok(MailboxName(pattern.to_vec()))
    }

    /// A parenthesised list of one or more items separated by SP.
    fn list_of<T>(&mut self, mut item: impl FnMut(&mut Self) -> Parsed<T>) -> Parsed<Vec<T>> {
        self.open()?;
        let mut items = vec![item(self)?];
        while !self.eat(b')') {
            self.sp()?;
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// A parenthesised list of zero or more items separated by SP.
    fn list_of_any<T>(&mut self, item: impl FnMut(&mut Self) -> Parsed<T>) -> Parsed<Vec<T>> {
        if self.peek() == Some(b'(') && self.peek_at(1) == Some(b')') {
            self.pos += 2;
            return Ok(Vec::new());
        }
        self.list_of(item)
    }

    // ---- sets, flags, dates ----

    /// RFC 9051 §9: `sequence-set`, or `$` (RFC 5182 `seq-last-command`).
    fn sequence_set(&mut self) -> Parsed<SequenceSet> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let first = self.seq_number()?;
            let last = if self.eat(b':') {
                self.seq_number()?
            } else {
                first
            };
            ranges.push((first, last));
            if !self.eat(b',') {
                return Ok(SequenceSet::Ranges(ranges));
            }
        }
    }

    /// RFC 9051 §9: `seq-number = nz-number / "*"`.
    fn seq_number(&mut self) -> Parsed<SeqNumber> {
        if self.eat(b'*') {
            return Ok(SeqNumber::Largest);
        }
        match self.peek() {
            Some(b) if b.is_ascii_digit() => Ok(SeqNumber::Value(self.nz_number()?)),
            _ => bad("expected a message number or '*'"),
        }
    }

    /// RFC 9051 §9: `flag = "\Answered" / ... / flag-keyword / flag-extension`, i.e. an atom
    /// with or without a leading backslash, kept as sent.
    fn flag(&mut self) -> Parsed<String> {
        let backslash = self.eat(b'\\');
        let atom = self.atom()?;
        let mut flag = String::with_capacity(atom.len() + 1);
        if backslash {
            flag.push('\\');
        }
        flag.push_str(&ascii(atom));
        Ok(flag)
    }

    /// RFC 9051 §9: `flag-list = "(" [flag *(SP flag)] ")"`.
    fn flag_list(&mut self) -> Parsed<Vec<String>> {
        self.list_of_any(Parser::flag)
    }

    /// RFC 9051 §9: `flag-keyword = atom` (no backslash).
    fn flag_keyword(&mut self) -> Parsed<String> {
        Ok(ascii(self.atom()?))
    }

    /// RFC 9051 §9: `date = date-text / DQUOTE date-text DQUOTE`,
    /// `date-text = date-day "-" date-month "-" date-year`.
    fn date(&mut self) -> Parsed<NaiveDate> {
        let quoted = self.eat(b'"');
        let day = self.digits(1, 2)?;
        self.expect(b'-', "expected '-' in a date")?;
        let date = self.month_year(day)?;
        if quoted {
            self.expect(b'"', "expected '\"' after the date")?;
        }
        Ok(date)
    }

    /// `date-month "-" date-year` after the day, as a valid calendar date.
    fn month_year(&mut self, day: u32) -> Parsed<NaiveDate> {
        let month = self.month()?;
        self.expect(b'-', "expected '-' in a date")?;
        let year = self.digits(4, 4)?;
        let year = i32::try_from(year).or_else(|_| bad("invalid year"))?;
        NaiveDate::from_ymd_opt(year, month, day).map_or_else(|| bad("no such date"), Ok)
    }

    /// RFC 9051 §9: `date-month = "Jan" / ... / "Dec"` (case-insensitive).
    fn month(&mut self) -> Parsed<u32> {
        const MONTHS: [&str; 12] = [
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ];
        let name = self.input.get(self.pos..self.pos + 3).unwrap_or_default();
        let Some(index) = MONTHS
            .iter()
            .position(|m| m.as_bytes().eq_ignore_ascii_case(name))
        else {
            return bad("invalid month in a date");
        };
        self.pos += 3;
        Ok(index as u32 + 1)
    }

    /// Between `min` and `max` digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Parsed<u32> {
        let start = self.pos;
        while self.pos - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.input[start..self.pos];
        if digits.len() < min {
            return bad("expected digits");
        }
        Ok(digits.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
    }

    /// RFC 9051 §9: `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
    /// SP zone DQUOTE`.
    fn date_time(&mut self) -> Parsed<DateTime<FixedOffset>> {
        self.expect(b'"', "expected '\"' before the date-time")?;
        // `date-day-fixed = (SP DIGIT) / 2DIGIT`; a one-digit day without the space is
        // accepted too, as some clients send it.
        self.eat(b' ');
        let day = self.digits(1, 2)?;
        self.expect(b'-', "expected '-' in a date")?;
        let date = self.month_year(day)?;
        self.sp()?;
        let hour = self.digits(2, 2)?;
        self.expect(b':', "expected ':' in a time")?;
        let minute = self.digits(2, 2)?;
        self.expect(b':', "expected ':' in a time")?;
        let second = self.digits(2, 2)?;
        self.sp()?;
        // `zone = ("+" / "-") 4DIGIT`: hours and minutes east of UTC.
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return bad("expected a time zone"),
        };
        self.pos += 1;
        let zone_hours = self.digits(2, 2)?;
        let zone_minutes = self.digits(2, 2)?;
        self.expect(b'"', "expected '\"' after the date-time")?;
        if zone_minutes >= 60 {
            return bad("invalid time zone");
        }
        let offset = sign * (zone_hours * 3600 + zone_minutes * 60) as i32;
        let zone = FixedOffset::east_opt(offset).map_or_else(|| bad("invalid time zone"), Ok)?;
        date.and_hms_opt(hour, minute, second)
            .and_then(|local| local.and_local_timezone(zone).single())
            .map_or_else(|| bad("invalid time"), Ok)
    }

    // ---- commands ----

    /// `SP command CRLF` after the tag.
    fn after_tag(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let body = self.command_body()?;
        self.end()?;
        Ok(body)
    }

    /// Everything between the tag and the final CRLF.
    fn command_body(&mut self) -> Parsed<CommandBody> {
        let name = self
            .upper_atom()
            .or_else(|_| bad("expected a command name"))?;
        match name.as_str() {
            "CAPABILITY" => Ok(CommandBody::Capability),
            "NOOP" => Ok(CommandBody::Noop),
            "LOGOUT" => Ok(CommandBody::Logout),
            "STARTTLS" => Ok(CommandBody::StartTls),
            "CHECK" => Ok(CommandBody::Check),
            "CLOSE" => Ok(CommandBody::Close),
            "UNSELECT" => Ok(CommandBody::Unselect),
            "NAMESPACE" => Ok(CommandBody::Namespace),
            "IDLE" => Ok(CommandBody::Idle),
            "EXPUNGE" => Ok(CommandBody::Expunge { uids: None }),
            "ID" => self.id(),
            "AUTHENTICATE" => self.authenticate(),
            "LOGIN" => self.login(),
            "ENABLE" => self.enable(),
            "SELECT" => self.select(false),
            "EXAMINE" => self.select(true),
            "CREATE" => self.create(),
            "DELETE" => self.then_mailbox(CommandBody::Delete),
            "SUBSCRIBE" => self.then_mailbox(CommandBody::Subscribe),
            "UNSUBSCRIBE" => self.then_mailbox(CommandBody::Unsubscribe),
            "GETQUOTAROOT" => self.then_mailbox(CommandBody::GetQuotaRoot),
            "RENAME" => self.rename(),
            "LIST" => self.list(),
            "LSUB" => self.lsub(),
            "STATUS" => self.status(),
            "APPEND" => self.append(),
            "GETQUOTA" => self.get_quota(),
            "SETQUOTA" => self.set_quota(),
            "COMPRESS" => self.compress(),
            "UID" => self.uid(),
            "FETCH" => self.fetch(false),
            "STORE" => self.store(false),
            "COPY" => self.copy(false),
            "MOVE" => self.move_(false),
            "SEARCH" => self.search(false),
            "SORT" => self.sort(false),
            "THREAD" => self.thread(false),
            _ => bad("unknown command"),
        }
    }

    /// `UID SP (copy / move / fetch / search / store / uid-expunge / sort / thread)`
    /// (RFC 9051 §6.4.9, RFC 4315 §2.1, RFC 5256, RFC 6851).
    fn uid(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let name = self.upper_atom()?;
        match name.as_str() {
            "FETCH" => self.fetch(true),
            "STORE" => self.store(true),
            "COPY" => self.copy(true),
            "MOVE" => self.move_(true),
            "SEARCH" => self.search(true),
            "SORT" => self.sort(true),
            "THREAD" => self.thread(true),
            "EXPUNGE" => {
                self.sp()?;
                let uids = self.sequence_set()?;
                Ok(CommandBody::Expunge { uids: Some(uids) })
            }
            _ => bad("unknown UID command"),
        }
    }

    /// `command SP mailbox`.
    fn then_mailbox(&mut self, make: fn(MailboxName) -> CommandBody) -> Parsed<CommandBody> {
        self.sp()?;
        Ok(make(self.mailbox()?))
    }

    /// RFC 2971: `id = "ID" SP id-params-list`,
    /// `id-params-list = "(" *(string SP nstring) ")" / nil`.
    fn id(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        if self.keyword("NIL") {
            return Ok(CommandBody::Id(None));
        }
        let pairs = self.list_of_any(|p| {
            let field = utf8(p.string()?)?;
            p.sp()?;
            let value = p.nstring()?.map(utf8).transpose()?;
            Ok((field, value))
        })?;
        Ok(CommandBody::Id(Some(pairs)))
    }

    /// RFC 9051 §9: `authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]`,
    /// `initial-resp = (base64 / "=")` (RFC 4959).
    fn authenticate(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let mechanism = self.upper_atom()?;
        let initial = if self.eat(b' ') {
            let response = self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            if !is_base64_or_empty(response) {
                return bad("initial response is not base64");
            }
            Some(Secret::new(ascii(response)))
        } else {
            None
        };
        Ok(CommandBody::Authenticate { mechanism, initial })
    }

    /// RFC 9051 §9: `login = "LOGIN" SP userid SP password`.
    fn login(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let user = self.astring_utf8()?;
        self.sp()?;
        let password = Secret::new(self.astring_utf8()?);
        Ok(CommandBody::Login { user, password })
    }

    /// RFC 5161: `enable = "ENABLE" 1*(SP capability)`.
    fn enable(&mut self) -> Parsed<CommandBody> {
        let mut names = Vec::new();
        while self.eat(b' ') {
            names.push(self.upper_atom()?);
        }
        if names.is_empty() {
            return bad("ENABLE needs at least one capability");
        }
        Ok(CommandBody::Enable(names))
    }

    /// RFC 9051 §9: `select = "SELECT" SP mailbox [select-params]`, with the CONDSTORE and
    /// QRESYNC parameters of RFC 7162 §3.1.8 and §3.2.5.
    fn select(&mut self, read_only: bool) -> Parsed<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut params = SelectParams::default();
        if self.eat(b' ') {
            self.list_of(|p| p.select_param(&mut params))?;
        }
        Ok(CommandBody::Select {
            mailbox,
            read_only,
            params,
        })
    }

    fn select_param(&mut self, params: &mut SelectParams) -> Parsed<()> {
        if self.keyword("CONDSTORE") {
            params.condstore = true;
        } else if self.keyword("QRESYNC") {
            self.sp()?;
            params.qresync = Some(self.qresync()?);
        } else {
            return bad("unknown SELECT parameter");
        }
        Ok(())
    }

    /// RFC 7162 §7: `"(" uidvalidity SP mod-sequence-value [SP known-uids]
    /// [SP seq-match-data] ")"`, `seq-match-data = "(" known-sequence-set SP known-uid-set ")"`.
    ///
    /// A MODSEQ of 0 is accepted though the grammar says `mod-sequence-value` (positive): it
    /// can only mean "I know nothing", which is what the server then assumes.
    fn qresync(&mut self) -> Parsed<QResync> {
        self.open()?;
        let uid_validity = self.nz_number()?;
        self.sp()?;
        let modseq = self.number64()?;
        let mut known_uids = None;
        let mut seq_match = None;
        if self.eat(b' ') {
            if self.peek() != Some(b'(') {
                known_uids = Some(self.sequence_set()?);
            }
            if known_uids.is_none() || self.eat(b' ') {
                self.open()?;
                let seqs = self.sequence_set()?;
                self.sp()?;
                let uids = self.sequence_set()?;
                self.close()?;
                seq_match = Some((seqs, uids));
            }
        }
        self.close()?;
        Ok(QResync {
            uid_validity,
            modseq,
            known_uids,
            seq_match,
        })
    }

    /// RFC 9051 §9: `create = "CREATE" SP mailbox [create-params]`, with RFC 6154 §3
    /// `USE (attrs)`.
    fn create(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut special_use = Vec::new();
        if self.eat(b' ') {
            self.list_of(|p| {
                if !p.keyword("USE") {
                    return bad("unknown CREATE parameter");
                }
                p.sp()?;
                special_use.extend(p.list_of_any(Parser::flag)?);
                Ok(())
            })?;
        }
        Ok(CommandBody::Create {
            mailbox,
            special_use,
        })
    }

    fn rename(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let from = self.mailbox()?;
        self.sp()?;
        let to = self.mailbox()?;
        Ok(CommandBody::Rename { from, to })
    }

    /// RFC 5258 §6: `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    /// [SP list-return-opts]`.
    fn list(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let mut selection = Vec::new();
        if self.peek() == Some(b'(') {
            selection = self.list_of_any(Parser::list_select)?;
            // RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) MUST be refused BAD.
            let has_base = selection
                .iter()
                .any(|s| matches!(s, ListSelect::Subscribed | ListSelect::SpecialUse));
            if selection.contains(&ListSelect::RecursiveMatch) && !has_base {
                return bad("RECURSIVEMATCH needs another selection option");
            }
            self.sp()?;
        }
        let reference = self.mailbox()?;
        self.sp()?;
        let patterns = if self.peek() == Some(b'(') {
            self.list_of(Parser::list_mailbox)?
        } else {
            vec![self.list_mailbox()?]
        };
        let mut returns = Vec::new();
        if self.eat(b' ') {
            if !self.keyword("RETURN") {
                return bad("expected RETURN");
            }
            self.sp()?;
            returns = self.list_of_any(Parser::list_return)?;
        }
        Ok(CommandBody::List(ListCommand {
            selection,
            reference,
            patterns,
            returns,
        }))
    }

    /// RFC 5258 §6 `list-select-opt`, RFC 6154 §4 `SPECIAL-USE`.
    fn list_select(&mut self) -> Parsed<ListSelect> {
        match self.upper_atom()?.as_str() {
            "SUBSCRIBED" => Ok(ListSelect::Subscribed),
            "REMOTE" => Ok(ListSelect::Remote),
            "RECURSIVEMATCH" => Ok(ListSelect::RecursiveMatch),
            "SPECIAL-USE" => Ok(ListSelect::SpecialUse),
            _ => bad("unknown LIST selection option"),
        }
    }

    /// RFC 5258 §6 `return-option`, RFC 5819 `STATUS (...)`, RFC 6154 `SPECIAL-USE`.
    fn list_return(&mut self) -> Parsed<ListReturn> {
        match self.upper_atom()?.as_str() {
            "SUBSCRIBED" => Ok(ListReturn::Subscribed),
            "CHILDREN" => Ok(ListReturn::Children),
            "SPECIAL-USE" => Ok(ListReturn::SpecialUse),
            "STATUS" => {
                self.sp()?;
                Ok(ListReturn::Status(self.list_of(Parser::status_item)?))
            }
            _ => bad("unknown LIST return option"),
        }
    }

    /// RFC 3501 §6.3.9: `lsub = "LSUB" SP mailbox SP list-mailbox`.
    fn lsub(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let reference = self.mailbox()?;
        self.sp()?;
        let pattern = self.list_mailbox()?;
        Ok(CommandBody::Lsub { reference, pattern })
    }

    /// RFC 9051 §9: `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"`.
    fn status(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        let items = self.list_of(Parser::status_item)?;
        Ok(CommandBody::Status { mailbox, items })
    }

    /// RFC 9051 §9 `status-att`, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 7889 APPENDLIMIT.
    fn status_item(&mut self) -> Parsed<StatusItem> {
        match self.upper_atom()?.as_str() {
            "MESSAGES" => Ok(StatusItem::Messages),
            "RECENT" => Ok(StatusItem::Recent),
            "UIDNEXT" => Ok(StatusItem::UidNext),
            "UIDVALIDITY" => Ok(StatusItem::UidValidity),
            "UNSEEN" => Ok(StatusItem::Unseen),
            "DELETED" => Ok(StatusItem::Deleted),
            "SIZE" => Ok(StatusItem::Size),
            "HIGHESTMODSEQ" => Ok(StatusItem::HighestModSeq),
            "APPENDLIMIT" => Ok(StatusItem::AppendLimit),
            _ => bad("unknown STATUS item"),
        }
    }

    /// RFC 9051 §9 / RFC 3502: `append = "APPEND" SP mailbox 1*append-message`,
    /// `append-message = [SP flag-list] [SP date-time] SP append-data`.
    fn append(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut messages = Vec::new();
        while self.eat(b' ') {
            messages.push(self.append_message()?);
        }
        if messages.is_empty() {
            return bad("APPEND needs a message");
        }
        Ok(CommandBody::Append { mailbox, messages })
    }

    fn append_message(&mut self) -> Parsed<AppendMessage> {
        let mut flags = Vec::new();
        if self.peek() == Some(b'(') {
            flags = self.flag_list()?;
            self.sp()?;
        }
        let mut date = None;
        if self.peek() == Some(b'"') {
            date = Some(self.date_time()?);
            self.sp()?;
        }
        let (data, binary) = self.append_data()?;
        Ok(AppendMessage {
            flags,
            date,
            data: data.to_vec(),
            binary,
        })
    }

    /// RFC 9051 §9: `append-data = literal / literal8`; RFC 6855 §4:
    /// `"UTF8" SP "(" literal8 ")"`, counted as literal8.
    fn append_data(&mut self) -> Parsed<(&'a [u8], bool)> {
        match self.peek() {
            Some(b'{') => Ok((self.literal()?, false)),
            Some(b'~') => Ok((self.literal8()?, true)),
            _ if self.keyword("UTF8") => {
                self.sp()?;
                self.open()?;
                let data = self.literal8()?;
                self.close()?;
                Ok((data, true))
            }
            _ => bad("expected the message as a literal"),
        }
    }

    /// RFC 9208: `getquota = "GETQUOTA" SP quota-root-name`.
    fn get_quota(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        Ok(CommandBody::GetQuota(self.astring_utf8()?))
    }

    /// RFC 9208: `setquota = "SETQUOTA" SP quota-root-name SP setquota-list`,
    /// `setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"`.
    fn set_quota(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        let root = self.astring_utf8()?;
        self.sp()?;
        let limits = self.list_of_any(|p| {
            let name = p.upper_atom()?;
            p.sp()?;
            Ok((name, p.number64()?))
        })?;
        Ok(CommandBody::SetQuota { root, limits })
    }

    /// RFC 4978: `compress = "COMPRESS" SP algorithm`.
    fn compress(&mut self) -> Parsed<CommandBody> {
        self.sp()?;
        Ok(CommandBody::Compress(self.upper_atom()?))
    }

    /// RFC 9051 §9: `copy = "COPY" SP sequence-set SP mailbox`.
    fn copy(&mut self, uid: bool) -> Parsed<CommandBody> {
        let (set, mailbox) = self.set_and_mailbox()?;
        Ok(CommandBody::Copy { uid, set, mailbox })
    }

    /// RFC 6851: `move = "MOVE" SP sequence-set SP mailbox`.
    fn move_(&mut self, uid: bool) -> Parsed<CommandBody> {
        let (set, mailbox) = self.set_and_mailbox()?;
        Ok(CommandBody::Move { uid, set, mailbox })
    }

    fn set_and_mailbox(&mut self) -> Parsed<(SequenceSet, MailboxName)> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        Ok((set, self.mailbox()?))
    }

    // ---- FETCH ----

    /// RFC 9051 §9: `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
    /// fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]` (RFC 4466 §2.4).
    fn fetch(&mut self, uid: bool) -> Parsed<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let items = if self.peek() == Some(b'(') {
            self.list_of(Parser::fetch_att)?
        } else if let Some(items) = self.fetch_macro() {
            items
        } else {
            vec![self.fetch_att()?]
        };
        // CHANGEDSINCE takes 0 as well, though RFC 7162 §3.1.4 says mod-sequence-value
        // (positive): "changed since the beginning" is what a client sending it means.
        let mut changed_since = None;
        let mut vanished = false;
        if self.eat(b' ') {
            self.list_of(|p| {
                if p.keyword("CHANGEDSINCE") {
                    p.sp()?;
                    changed_since = Some(p.number64()?);
                } else if p.keyword("VANISHED") {
                    vanished = true;
                } else {
                    return bad("unknown FETCH modifier");
                }
                Ok(())
            })?;
        }
        // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
        if vanished && (!uid || changed_since.is_none()) {
            return bad("VANISHED needs UID FETCH with CHANGEDSINCE");
        }
        Ok(CommandBody::Fetch {
            uid,
            set,
            items,
            changed_since,
            vanished,
        })
    }

    /// RFC 9051 §6.4.5: the macros, only on their own.
    fn fetch_macro(&mut self) -> Option<Vec<FetchAttr>> {
        use FetchAttr::*;
        if self.keyword("ALL") {
            Some(vec![Flags, InternalDate, Rfc822Size, Envelope])
        } else if self.keyword("FAST") {
            Some(vec![Flags, InternalDate, Rfc822Size])
        } else if self.keyword("FULL") {
            Some(vec![Flags, InternalDate, Rfc822Size, Envelope, Body])
        } else {
            None
        }
    }

    /// RFC 9051 §9 `fetch-att`, RFC 7162 MODSEQ, RFC 8514 SAVEDATE.
    fn fetch_att(&mut self) -> Parsed<FetchAttr> {
        // The name runs up to "[" or "<" (which ATOM-CHAR would take in), so read it apart.
        let name = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.');
        let name = ascii(name).to_ascii_uppercase();
        let attr = match name.as_str() {
            "ENVELOPE" => FetchAttr::Envelope,
            "FLAGS" => FetchAttr::Flags,
            "INTERNALDATE" => FetchAttr::InternalDate,
            "RFC822.SIZE" => FetchAttr::Rfc822Size,
            "UID" => FetchAttr::Uid,
            "BODYSTRUCTURE" => FetchAttr::BodyStructure,
            "RFC822" => FetchAttr::Rfc822,
            "RFC822.HEADER" => FetchAttr::Rfc822Header,
            "RFC822.TEXT" => FetchAttr::Rfc822Text,
            "MODSEQ" => FetchAttr::ModSeq,
            "SAVEDATE" => FetchAttr::SaveDate,
            "BODY" if self.peek() != Some(b'[') => FetchAttr::Body,
            "BODY" | "BODY.PEEK" => FetchAttr::BodySection {
                peek: name == "BODY.PEEK",
                section: self.section()?,
                partial: self.partial()?,
            },
            "BINARY" | "BINARY.PEEK" => FetchAttr::Binary {
                peek: name == "BINARY.PEEK",
                part: self.section_binary()?,
                partial: self.partial()?,
            },
            "BINARY.SIZE" => FetchAttr::BinarySize {
                part: self.section_binary()?,
            },
            _ => return bad("unknown FETCH item"),
        };
        Ok(attr)
    }

    /// RFC 9051 §9: `section = "[" [section-spec] "]"`,
    /// `section-spec = section-msgtext / (section-part ["." section-text])`.
    fn section(&mut self) -> Parsed<Section> {
        self.expect(b'[', "expected '['")?;
        let mut section = Section::default();
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            section.part = self.section_part()?;
            if self.eat(b'.') {
                section.text = Some(self.section_text(true)?);
            }
        } else if self.peek() != Some(b']') {
            section.text = Some(self.section_text(false)?);
        }
        self.expect(b']', "expected ']'")?;
        Ok(section)
    }

    /// RFC 9051 §9: `section-part = nz-number *("." nz-number)`.
    fn section_part(&mut self) -> Parsed<Vec<u32>> {
        let mut part = vec![self.nz_number()?];
        while self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            part.push(self.nz_number()?);
        }
        Ok(part)
    }

    /// RFC 9051 §9: `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
    /// "TEXT"`, `section-text = section-msgtext / "MIME"` (MIME only after a part).
    fn section_text(&mut self, after_part: bool) -> Parsed<SectionText> {
        let name = self.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
        let text = match ascii(name).to_ascii_uppercase().as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if after_part => SectionText::Mime,
            "HEADER.FIELDS" => {
                self.sp()?;
                SectionText::HeaderFields(self.header_list()?)
            }
            "HEADER.FIELDS.NOT" => {
                self.sp()?;
                SectionText::HeaderFieldsNot(self.header_list()?)
            }
            _ => return bad("unknown section"),
        };
        Ok(text)
    }

    /// RFC 9051 §9: `header-list = "(" header-fld-name *(SP header-fld-name) ")"`,
    /// `header-fld-name = astring`.
    fn header_list(&mut self) -> Parsed<Vec<String>> {
        self.list_of(Parser::astring_utf8)
    }

    /// RFC 3516 §4.2: `section-binary = "[" [section-part] "]"`.
    fn section_binary(&mut self) -> Parsed<Vec<u32>> {
        self.expect(b'[', "expected '['")?;
        let part = if self.peek() == Some(b']') {
            Vec::new()
        } else {
            self.section_part()?
        };
        self.expect(b']', "expected ']'")?;
        Ok(part)
    }

    /// RFC 9051 §9: `partial = "<" number64 "." nz-number64 ">"` (32 bits here: no message
    /// is larger).
    fn partial(&mut self) -> Parsed<Option<(u32, u32)>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let offset = self.number()?;
        self.expect(b'.', "expected '.' in a partial range")?;
        let length = self.nz_number()?;
        self.expect(b'>', "expected '>'")?;
        Ok(Some((offset, length)))
    }

    // ---- STORE ----

    /// RFC 9051 §9: `store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags`,
    /// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP
    /// flag)))`; RFC 7162 §3.1.3 `UNCHANGEDSINCE`.
    fn store(&mut self, uid: bool) -> Parsed<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.peek() == Some(b'(') {
            self.list_of(|p| {
                if !p.keyword("UNCHANGEDSINCE") {
                    return bad("unknown STORE modifier");
                }
                p.sp()?;
                unchanged_since = Some(p.number64()?);
                Ok(())
            })?;
            self.sp()?;
        }
        let (op, silent) = match self.upper_atom()?.as_str() {
            "FLAGS" => (StoreOp::Replace, false),
            "FLAGS.SILENT" => (StoreOp::Replace, true),
            "+FLAGS" => (StoreOp::Add, false),
            "+FLAGS.SILENT" => (StoreOp::Add, true),
            "-FLAGS" => (StoreOp::Remove, false),
            "-FLAGS.SILENT" => (StoreOp::Remove, true),
            _ => return bad("expected FLAGS, +FLAGS or -FLAGS"),
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut flags = vec![self.flag()?];
            while self.eat(b' ') {
                flags.push(self.flag()?);
            }
            flags
        };
        Ok(CommandBody::Store {
            uid,
            set,
            op,
            silent,
            flags,
            unchanged_since,
        })
    }

    // ---- SEARCH, SORT, THREAD ----

    /// RFC 9051 §9: `search = "SEARCH" [search-return-opts] SP search-program`,
    /// `search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)`.
    fn search(&mut self, uid: bool) -> Parsed<CommandBody> {
        self.sp()?;
        let returns = self.search_returns()?;
        let charset = if self.keyword("CHARSET") {
            self.sp()?;
            let charset = self.charset()?;
            self.sp()?;
            Some(charset)
        } else {
            None
        };
        let criteria = self.search_program()?;
        Ok(CommandBody::Search {
            uid,
            charset,
            criteria,
            returns,
        })
    }

    /// RFC 4731 §3.1: `search-return-opts = "RETURN" SP "(" [search-return-opt *(SP
    /// search-return-opt)] ")"`, followed by SP; `None` when absent.
    fn search_returns(&mut self) -> Parsed<Option<Vec<SearchReturn>>> {
        if !self.keyword("RETURN") {
            return Ok(None);
        }
        self.sp()?;
        let returns = self.list_of_any(|p| match p.upper_atom()?.as_str() {
            "MIN" => Ok(SearchReturn::Min),
            "MAX" => Ok(SearchReturn::Max),
            "ALL" => Ok(SearchReturn::All),
            "COUNT" => Ok(SearchReturn::Count),
            "SAVE" => Ok(SearchReturn::Save),
            _ => bad("unknown SEARCH return option"),
        })?;
        self.sp()?;
        Ok(Some(returns))
    }

    /// `search-key *(SP search-key)`: several keys become one [`SearchKey::And`].
    fn search_program(&mut self) -> Parsed<SearchKey> {
        let mut keys = vec![self.search_key()?];
        while self.eat(b' ') {
            keys.push(self.search_key()?);
        }
        Ok(and(keys))
    }

    /// RFC 9051 §9: `charset = atom / quoted`; only US-ASCII and UTF-8 are supported
    /// (§6.4.4), anything else is [`Fail::Charset`] so the session answers BADCHARSET.
    fn charset(&mut self) -> Parsed<String> {
        let name = if self.peek() == Some(b'"') {
            self.quoted()?.into_owned()
        } else {
            self.atom()?.to_vec()
        };
        let name = String::from_utf8_lossy(&name).to_ascii_uppercase();
        match name.as_str() {
            "US-ASCII" | "UTF-8" => Ok(name),
            _ => Err(Fail::Charset(name)),
        }
    }

    /// One search key, nesting counted against [`MAX_DEPTH`].
    fn search_key(&mut self) -> Parsed<SearchKey> {
        if self.depth >= MAX_DEPTH {
            return bad("search keys nested too deeply");
        }
        self.depth += 1;
        let key = self.search_key_inner();
        self.depth -= 1;
        key
    }

    /// RFC 9051 §9 `search-key`, RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 8514
    /// SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED.
    fn search_key_inner(&mut self) -> Parsed<SearchKey> {
        match self.peek() {
            Some(b'(') => {
                let keys = self.list_of(Parser::search_key)?;
                return Ok(and(keys));
            }
            Some(b'*' | b'$') => return Ok(SearchKey::Sequence(self.sequence_set()?)),
            Some(b) if b.is_ascii_digit() => {
                return Ok(SearchKey::Sequence(self.sequence_set()?));
            }
            _ => {}
        }
        let name = self
            .upper_atom()
            .or_else(|_| bad("expected a search key"))?;
        let key = match name.as_str() {
            "ALL" => SearchKey::All,
            "ANSWERED" => SearchKey::Answered,
            "DELETED" => SearchKey::Deleted,
            "DRAFT" => SearchKey::Draft,
            "FLAGGED" => SearchKey::Flagged,
            "NEW" => SearchKey::New,
            "OLD" => SearchKey::Old,
            "RECENT" => SearchKey::Recent,
            "SEEN" => SearchKey::Seen,
            "UNANSWERED" => SearchKey::Unanswered,
            "UNDELETED" => SearchKey::Undeleted,
            "UNDRAFT" => SearchKey::Undraft,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNSEEN" => SearchKey::Unseen,
            "SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
            "BCC" => SearchKey::Bcc(self.then_search_string()?),
            "BODY" => SearchKey::Body(self.then_search_string()?),
            "CC" => SearchKey::Cc(self.then_search_string()?),
            "FROM" => SearchKey::From(self.then_search_string()?),
            "SUBJECT" => SearchKey::Subject(self.then_search_string()?),
            "TEXT" => SearchKey::Text(self.then_search_string()?),
            "TO" => SearchKey::To(self.then_search_string()?),
            "HEADER" => {
                let field = self.then_search_string()?;
                SearchKey::Header(field, self.then_search_string()?)
            }
            "KEYWORD" => SearchKey::Keyword(self.then(Parser::flag_keyword)?),
            "UNKEYWORD" => SearchKey::Unkeyword(self.then(Parser::flag_keyword)?),
            "BEFORE" => SearchKey::Before(self.then(Parser::date)?),
            "ON" => SearchKey::On(self.then(Parser::date)?),
            "SINCE" => SearchKey::Since(self.then(Parser::date)?),
            "SENTBEFORE" => SearchKey::SentBefore(self.then(Parser::date)?),
            "SENTON" => SearchKey::SentOn(self.then(Parser::date)?),
            "SENTSINCE" => SearchKey::SentSince(self.then(Parser::date)?),
            "SAVEDBEFORE" => SearchKey::SavedBefore(self.then(Parser::date)?),
            "SAVEDON" => SearchKey::SavedOn(self.then(Parser::date)?),
            "SAVEDSINCE" => SearchKey::SavedSince(self.then(Parser::date)?),
            "LARGER" => SearchKey::Larger(self.then(Parser::number64)?),
            "SMALLER" => SearchKey::Smaller(self.then(Parser::number64)?),
            "OLDER" => SearchKey::Older(u64::from(self.then(Parser::nz_number)?)),
            "YOUNGER" => SearchKey::Younger(u64::from(self.then(Parser::nz_number)?)),
            "UID" => SearchKey::Uid(self.then(Parser::sequence_set)?),
            "NOT" => SearchKey::Not(Box::new(self.then(Parser::search_key)?)),
            "OR" => {
                let left = self.then(Parser::search_key)?;
                let right = self.then(Parser::search_key)?;
                SearchKey::Or(Box::new(left), Box::new(right))
            }
            "MODSEQ" => self.search_modseq()?,
            _ => return bad("unknown search key"),
        };
        Ok(key)
    }

    /// `SP` and then one item.
    fn then<T>(&mut self, item: fn(&mut Self) -> Parsed<T>) -> Parsed<T> {
        self.sp()?;
        item(self)
    }

    /// `SP astring`, as UTF-8 (the charset was checked).
    fn then_search_string(&mut self) -> Parsed<String> {
        self.then(Parser::astring_utf8)
    }

    /// RFC 7162 §7: `search-modsequence = "MODSEQ" [search-modseq-ext] SP
    /// mod-sequence-valzer`, `search-modseq-ext = SP entry-name SP entry-type-req`.
    fn search_modseq(&mut self) -> Parsed<SearchKey> {
        self.sp()?;
        if self.peek() == Some(b'"') {
            // entry-name: a quoted "/flags/..." name; entry-type-req: priv / shared / all.
            self.quoted()?;
            self.sp()?;
            let kind = self.upper_atom()?;
            if !matches!(kind.as_str(), "PRIV" | "SHARED" | "ALL") {
                return bad("expected priv, shared or all");
            }
            self.sp()?;
        }
        Ok(SearchKey::ModSeq(self.number64()?))
    }

    /// RFC 5256 §5 / RFC 5267 §3.2: `sort = ["UID" SP] "SORT" [search-return-opts] SP
    /// sort-criteria SP search-criteria`, `search-criteria = charset 1*(SP search-key)`.
    fn sort(&mut self, uid: bool) -> Parsed<CommandBody> {
        self.sp()?;
        let returns = self.search_returns()?;
        let criteria = self.list_of(Parser::sort_criterion)?;
        self.sp()?;
        let charset = self.charset()?;
        self.sp()?;
        let search = self.search_program()?;
        Ok(CommandBody::Sort {
            uid,
            criteria,
            charset,
            search,
            returns,
        })
    }

    /// RFC 5256 §5: `sort-criterion = ["REVERSE" SP] sort-key`; RFC 5957 DISPLAYFROM/TO.
    fn sort_criterion(&mut self) -> Parsed<SortCriterion> {
        let reverse = self.keyword("REVERSE");
        if reverse {
            self.sp()?;
        }
        let key = match self.upper_atom()?.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            _ => return bad("unknown SORT key"),
        };
        Ok(SortCriterion { reverse, key })
    }

    /// RFC 5256 §5: `thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria`.
    fn thread(&mut self, uid: bool) -> Parsed<CommandBody> {
        self.sp()?;
        let algorithm = match self.upper_atom()?.as_str() {
            "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
            "REFERENCES" => ThreadAlgorithm::References,
            _ => return bad("unknown THREAD algorithm"),
        };
        self.sp()?;
        let charset = self.charset()?;
        self.sp()?;
        let search = self.search_program()?;
        Ok(CommandBody::Thread {
            uid,
            algorithm,
            charset,
            search,
        })
    }
}

/// One key stays itself; several are ANDed.
fn and(mut keys: Vec<SearchKey>) -> SearchKey {
    if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    }
}

/// RFC 9051 §9: `ASTRING-CHAR = ATOM-CHAR / resp-specials` (`]`).
fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// RFC 4959 / RFC 9051 §9: `base64 = *(4base64-char) [base64-terminal]`, or `=` alone for an
/// empty initial response.
fn is_base64_or_empty(text: &[u8]) -> bool {
    if text == b"=" {
        return true;
    }
    let padding = text.iter().rev().take_while(|&&b| b == b'=').count();
    !text.is_empty()
        && text.len().is_multiple_of(4)
        && padding <= 2
        && !text[..text.len() - padding].contains(&b'=')
}

/// Octets known to be ASCII as a string.
fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A string argument that must be UTF-8.
fn utf8(bytes: Cow<'_, [u8]>) -> Parsed<String> {
    String::from_utf8(bytes.into_owned()).or_else(|_| bad("string is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn parse(input: &str) -> CommandBody {
        match command(input.as_bytes()) {
            Ok(command) => command.body,
            Err(error) => panic!("{input:?} failed: {error:?}"),
        }
    }

    fn set(ranges: &[(u32, u32)]) -> SequenceSet {
        let number = |n| {
            if n == u32::MAX {
                SeqNumber::Largest
            } else {
                SeqNumber::Value(n)
            }
        };
        SequenceSet::Ranges(
            ranges
                .iter()
                .map(|&(a, b)| (number(a), number(b)))
                .collect(),
        )
    }

    fn mailbox(name: &str) -> MailboxName {
        MailboxName(name.as_bytes().to_vec())
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn search_of(input: &str) -> SearchKey {
        match parse(input) {
            CommandBody::Search { criteria, .. } => criteria,
            other => panic!("not a search: {other:?}"),
        }
    }

    fn fetch_items(input: &str) -> Vec<FetchAttr> {
        match parse(input) {
            CommandBody::Fetch { items, .. } => items,
            other => panic!("not a fetch: {other:?}"),
        }
    }

    fn bad_reason(input: &[u8]) -> (Option<String>, String) {
        match command(input) {
            Err(ParseError::Bad { tag, reason }) => (tag, reason),
            other => panic!(
                "{:?} should be BAD: {other:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }

    #[test]
    fn commands_without_arguments_in_any_case() {
        let cases = [
            ("a CAPABILITY\r\n", CommandBody::Capability),
            ("a noop\r\n", CommandBody::Noop),
            ("a LogOut\r\n", CommandBody::Logout),
            ("a STARTTLS\r\n", CommandBody::StartTls),
            ("a CHECK\r\n", CommandBody::Check),
            ("a CLOSE\r\n", CommandBody::Close),
            ("a UNSELECT\r\n", CommandBody::Unselect),
            ("a NAMESPACE\r\n", CommandBody::Namespace),
            ("a IDLE\r\n", CommandBody::Idle),
            ("a EXPUNGE\r\n", CommandBody::Expunge { uids: None }),
            // A bare LF ends the command too (see the framing module).
            ("a NOOP\n", CommandBody::Noop),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn tags_are_kept_and_checked() {
        let command = command(b"A.001]x NOOP\r\n").expect("valid");
        assert_eq!(command.tag, "A.001]x");
        for input in [
            &b"+ NOOP\r\n"[..],
            b"* NOOP\r\n",
            b" NOOP\r\n",
            b"\r\n",
            b"",
        ] {
            assert_eq!(bad_reason(input).0, None, "{input:?}");
        }
        assert_eq!(
            bad_reason(b"a+b NOOP\r\n").0,
            Some("a".into()),
            "tag ends at '+'"
        );
    }

    #[test]
    fn login_with_atoms_quoted_strings_and_literals() {
        let login = |user: &str, password: &str| CommandBody::Login {
            user: user.into(),
            password: Secret::new(password.into()),
        };
        let cases = [
            ("a LOGIN fred secret\r\n", login("fred", "secret")),
            ("a LOGIN \"fred\" \"se cret\"\r\n", login("fred", "se cret")),
            ("a LOGIN \"\" \"\"\r\n", login("", "")),
            ("a LOGIN \"q\\\"uo\\\\te\" x\r\n", login("q\"uo\\te", "x")),
            (
                "a LOGIN {4}\r\nfred {6}\r\nsecret\r\n",
                login("fred", "secret"),
            ),
            ("a LOGIN {4+}\r\nfred {0+}\r\n\r\n", login("fred", "")),
            ("a LOGIN \"jürgen\" pw\r\n", login("jürgen", "pw")),
            (
                "a LOGIN user@example.com p]w\r\n",
                login("user@example.com", "p]w"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn authenticate_with_and_without_initial_response() {
        let cases = [
            ("a AUTHENTICATE plain\r\n", "PLAIN", None),
            (
                "a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n",
                "PLAIN",
                Some("AGZyZWQAc2VjcmV0"),
            ),
            ("a AUTHENTICATE PLAIN =\r\n", "PLAIN", Some("=")),
            (
                "a AUTHENTICATE XOAUTH2 dXNlcg==\r\n",
                "XOAUTH2",
                Some("dXNlcg=="),
            ),
        ];
        for (input, mechanism, initial) in cases {
            assert_eq!(
                parse(input),
                CommandBody::Authenticate {
                    mechanism: mechanism.into(),
                    initial: initial.map(|i: &str| Secret::new(i.into()))
                },
                "{input:?}"
            );
        }
        for input in [
            "a AUTHENTICATE PLAIN abc\r\n",
            "a AUTHENTICATE PLAIN a=bc\r\n",
        ] {
            bad_reason(input.as_bytes());
        }
    }

    #[test]
    fn id_enable_compress_quota() {
        assert_eq!(parse("a ID NIL\r\n"), CommandBody::Id(None));
        assert_eq!(parse("a ID ()\r\n"), CommandBody::Id(Some(vec![])));
        assert_eq!(
            parse("a ID (\"name\" \"Thunderbird\" \"os\" NIL {7}\r\nversion \"1.0\")\r\n"),
            CommandBody::Id(Some(vec![
                ("name".into(), Some("Thunderbird".into())),
                ("os".into(), None),
                ("version".into(), Some("1.0".into())),
            ]))
        );
        assert_eq!(
            parse("a ENABLE utf8=accept CONDSTORE\r\n"),
            CommandBody::Enable(vec!["UTF8=ACCEPT".into(), "CONDSTORE".into()])
        );
        assert_eq!(
            parse("a COMPRESS deflate\r\n"),
            CommandBody::Compress("DEFLATE".into())
        );
        assert_eq!(
            parse("a GETQUOTA \"\"\r\n"),
            CommandBody::GetQuota(String::new())
        );
        assert_eq!(
            parse("a GETQUOTAROOT INBOX\r\n"),
            CommandBody::GetQuotaRoot(mailbox("INBOX"))
        );
        assert_eq!(
            parse("a SETQUOTA \"\" (storage 512 MESSAGE 100)\r\n"),
            CommandBody::SetQuota {
                root: String::new(),
                limits: vec![("STORAGE".into(), 512), ("MESSAGE".into(), 100)]
            }
        );
        assert_eq!(
            parse("a SETQUOTA x ()\r\n"),
            CommandBody::SetQuota {
                root: "x".into(),
                limits: vec![]
            }
        );
        bad_reason(b"a ENABLE\r\n");
    }

    #[test]
    fn select_and_examine_with_condstore_and_qresync() {
        let select = |params: SelectParams, read_only| CommandBody::Select {
            mailbox: mailbox("INBOX"),
            read_only,
            params,
        };
        assert_eq!(
            parse("a SELECT INBOX\r\n"),
            select(SelectParams::default(), false)
        );
        assert_eq!(
            parse("a examine inbox\r\n"),
            CommandBody::Select {
                mailbox: mailbox("inbox"),
                read_only: true,
                params: SelectParams::default()
            }
        );
        let condstore = SelectParams {
            condstore: true,
            qresync: None,
        };
        assert_eq!(
            parse("a SELECT INBOX (CONDSTORE)\r\n"),
            select(condstore, false)
        );
        let qresync = |known_uids, seq_match| SelectParams {
            condstore: false,
            qresync: Some(QResync {
                uid_validity: 67890007,
                modseq: 20050715194045000,
                known_uids,
                seq_match,
            }),
        };
        // RFC 7162 §3.2.5.2 examples.
        assert_eq!(
            parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000))\r\n"),
            select(qresync(None, None), false)
        );
        assert_eq!(
            parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n"),
            select(
                qresync(Some(set(&[(41, 41), (43, 211), (214, 541)])), None),
                false
            )
        );
        assert_eq!(
            parse(
                "B04 EXAMINE INBOX (QRESYNC (67890007 20050715194045000 1:29997 \
                 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))\r\n"
            ),
            select(
                qresync(
                    Some(set(&[(1, 29997)])),
                    Some((
                        set(&[(5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)]),
                        set(&[
                            (15000, 15000),
                            (22500, 22500),
                            (27000, 27000),
                            (29970, 29970),
                            (29973, 29973),
                            (29976, 29979)
                        ])
                    ))
                ),
                true
            )
        );
        assert_eq!(
            parse("a SELECT INBOX (QRESYNC (67890007 20050715194045000 (1 2)))\r\n"),
            select(qresync(None, Some((set(&[(1, 1)]), set(&[(2, 2)])))), false)
        );
        bad_reason(b"a SELECT INBOX (FOO)\r\n");
        bad_reason(b"a SELECT INBOX ()\r\n");
        bad_reason(b"a SELECT INBOX (QRESYNC (0 5))\r\n");
    }

    #[test]
    fn mailbox_names_are_raw_bytes() {
        assert_eq!(
            parse("a DELETE \"Entw&APw-rfe\"\r\n"),
            CommandBody::Delete(mailbox("Entw&APw-rfe"))
        );
        assert_eq!(
            parse("a SUBSCRIBE {3}\r\n\u{e9}x\r\n"),
            CommandBody::Subscribe(MailboxName("\u{e9}x".as_bytes().to_vec()))
        );
        assert_eq!(
            parse("a UNSUBSCRIBE \"a b\"\r\n"),
            CommandBody::Unsubscribe(mailbox("a b"))
        );
        assert_eq!(
            parse("a RENAME \"Old\" New/Sub\r\n"),
            CommandBody::Rename {
                from: mailbox("Old"),
                to: mailbox("New/Sub")
            }
        );
        // Any literal octets, even 8-bit that is not UTF-8, are kept for the session.
        let raw = command(b"a DELETE {2}\r\n\xff\xfe\r\n").expect("valid");
        assert_eq!(raw.body, CommandBody::Delete(MailboxName(vec![0xff, 0xfe])));
        bad_reason(b"a DELETE \"\xff\"\r\n");
    }

    #[test]
    fn create_with_special_use() {
        assert_eq!(
            parse("a CREATE Sent (USE (\\Sent))\r\n"),
            CommandBody::Create {
                mailbox: mailbox("Sent"),
                special_use: vec!["\\Sent".into()]
            }
        );
        assert_eq!(
            parse("a CREATE Foo\r\n"),
            CommandBody::Create {
                mailbox: mailbox("Foo"),
                special_use: vec![]
            }
        );
        assert_eq!(
            parse("a CREATE Mix (USE (\\Archive \\Junk))\r\n"),
            CommandBody::Create {
                mailbox: mailbox("Mix"),
                special_use: vec!["\\Archive".into(), "\\Junk".into()]
            }
        );
        bad_reason(b"a CREATE Foo (BAR)\r\n");
    }

    #[test]
    fn list_basic_and_extended() {
        let list = |selection, reference: &str, patterns: &[&str], returns| {
            CommandBody::List(ListCommand {
                selection,
                reference: mailbox(reference),
                patterns: patterns.iter().map(|p| mailbox(p)).collect(),
                returns,
            })
        };
        assert_eq!(parse("a LIST \"\" *\r\n"), list(vec![], "", &["*"], vec![]));
        assert_eq!(
            parse("a LIST \"\" \"\"\r\n"),
            list(vec![], "", &[""], vec![])
        );
        assert_eq!(
            parse("a LIST ~/Mail/ %\r\n"),
            list(vec![], "~/Mail/", &["%"], vec![])
        );
        assert_eq!(
            parse("a list \"\" INBOX.*]\r\n"),
            list(vec![], "", &["INBOX.*]"], vec![])
        );
        assert_eq!(
            parse(
                "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Foo*\") \
                 RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n"
            ),
            list(
                vec![ListSelect::Subscribed, ListSelect::RecursiveMatch],
                "",
                &["INBOX", "Foo*"],
                vec![
                    ListReturn::Children,
                    ListReturn::SpecialUse,
                    ListReturn::Status(vec![StatusItem::Messages, StatusItem::Unseen])
                ]
            )
        );
        assert_eq!(
            parse("a LIST () \"\" % RETURN (SUBSCRIBED)\r\n"),
            list(vec![], "", &["%"], vec![ListReturn::Subscribed])
        );
        assert_eq!(
            parse("a LIST (SPECIAL-USE REMOTE) \"\" * RETURN ()\r\n"),
            list(
                vec![ListSelect::SpecialUse, ListSelect::Remote],
                "",
                &["*"],
                vec![]
            )
        );
        // RFC 5258 §3.1: RECURSIVEMATCH alone is BAD.
        bad_reason(b"a LIST (RECURSIVEMATCH) \"\" *\r\n");
        bad_reason(b"a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n");
        bad_reason(b"a LIST (FOO) \"\" *\r\n");
        bad_reason(b"a LIST \"\" * RETURN (FOO)\r\n");
        bad_reason(b"a LIST \"\"\r\n");
        assert_eq!(
            parse("a LSUB \"#news.\" comp.mail.*\r\n"),
            CommandBody::Lsub {
                reference: mailbox("#news."),
                pattern: mailbox("comp.mail.*")
            }
        );
    }

    #[test]
    fn status_items() {
        assert_eq!(
            parse(
                "a STATUS blurdybloop (UIDNEXT MESSAGES recent uidvalidity UNSEEN DELETED SIZE \
                 HIGHESTMODSEQ APPENDLIMIT)\r\n"
            ),
            CommandBody::Status {
                mailbox: mailbox("blurdybloop"),
                items: vec![
                    StatusItem::UidNext,
                    StatusItem::Messages,
                    StatusItem::Recent,
                    StatusItem::UidValidity,
                    StatusItem::Unseen,
                    StatusItem::Deleted,
                    StatusItem::Size,
                    StatusItem::HighestModSeq,
                    StatusItem::AppendLimit,
                ]
            }
        );
        bad_reason(b"a STATUS x ()\r\n");
        bad_reason(b"a STATUS x (FOO)\r\n");
    }

    #[test]
    fn append_single_multi_binary_and_utf8() {
        let date = FixedOffset::west_opt(8 * 3600)
            .expect("zone")
            .with_ymd_and_hms(1994, 2, 7, 21, 52, 25)
            .single()
            .expect("date");
        let message = |flags: &[&str], date, data: &[u8], binary| AppendMessage {
            flags: flags.iter().map(|f| f.to_string()).collect(),
            date,
            data: data.to_vec(),
            binary,
        };
        assert_eq!(
            parse(
                "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n"
            ),
            CommandBody::Append {
                mailbox: mailbox("saved-messages"),
                messages: vec![message(&["\\Seen"], Some(date), b"hello", false)]
            }
        );
        assert_eq!(
            parse("a APPEND x \"07-Feb-1994 21:52:25 -0800\" {0+}\r\n\r\n"),
            CommandBody::Append {
                mailbox: mailbox("x"),
                messages: vec![message(&[], Some(date), b"", false)]
            }
        );
        // Leniency: a one-digit day without the leading space.
        assert_eq!(
            parse("a APPEND x \"7-Feb-1994 21:52:25 -0800\" {1}\r\nz\r\n"),
            CommandBody::Append {
                mailbox: mailbox("x"),
                messages: vec![message(&[], Some(date), b"z", false)]
            }
        );
        // RFC 3502 MULTIAPPEND, literal8 and the RFC 6855 UTF8 form.
        let multi = command(
            b"a APPEND INBOX () {2+}\r\nab (\\Flagged $Work) ~{3+}\r\nc\0d UTF8 (~{2}\r\n\xc3\xa9)\r\n",
        )
        .expect("valid");
        assert_eq!(
            multi.body,
            CommandBody::Append {
                mailbox: mailbox("INBOX"),
                messages: vec![
                    message(&[], None, b"ab", false),
                    message(&["\\Flagged", "$Work"], None, b"c\0d", true),
                    message(&[], None, "é".as_bytes(), true),
                ]
            }
        );
        bad_reason(b"a APPEND x\r\n");
        bad_reason(b"a APPEND x \"hello\"\r\n");
        bad_reason(b"a APPEND x {3}\r\na\0b\r\n");
        bad_reason(b"a APPEND x \"31-Feb-1994 21:52:25 -0800\" {1}\r\nz\r\n");
        bad_reason(b"a APPEND x \"07-Feb-1994 25:52:25 -0800\" {1}\r\nz\r\n");
        bad_reason(b"a APPEND x \"07-Feb-1994 21:52:25 -0875\" {1}\r\nz\r\n");
        bad_reason(b"a APPEND x {10}\r\nshort\r\n");
        bad_reason(b"a APPEND x {1-}\r\nz\r\n");
    }

    #[test]
    fn fetch_items_and_macros() {
        use FetchAttr::*;
        assert_eq!(
            fetch_items("a FETCH 1 ALL\r\n"),
            vec![Flags, InternalDate, Rfc822Size, Envelope]
        );
        assert_eq!(
            fetch_items("a FETCH 1 fast\r\n"),
            vec![Flags, InternalDate, Rfc822Size]
        );
        assert_eq!(
            fetch_items("a FETCH 1 FULL\r\n"),
            vec![Flags, InternalDate, Rfc822Size, Envelope, Body]
        );
        assert_eq!(fetch_items("a FETCH 1 FLAGS\r\n"), vec![Flags]);
        assert_eq!(
            fetch_items(
                "a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822.SIZE UID BODYSTRUCTURE BODY \
                 RFC822 RFC822.HEADER RFC822.TEXT MODSEQ SAVEDATE)\r\n"
            ),
            vec![
                Envelope,
                Flags,
                InternalDate,
                Rfc822Size,
                Uid,
                BodyStructure,
                Body,
                Rfc822,
                Rfc822Header,
                Rfc822Text,
                ModSeq,
                SaveDate
            ]
        );
        // The macros are not items of a list.
        bad_reason(b"a FETCH 1 (ALL)\r\n");
        bad_reason(b"a FETCH 1 ()\r\n");
        bad_reason(b"a FETCH 1 (FLAGS\r\n");
        bad_reason(b"a FETCH 1 EMAILID\r\n");
    }

    #[test]
    fn fetch_body_sections_and_partials() {
        let section = |part: &[u32], text| Section {
            part: part.to_vec(),
            text,
        };
        let body = |peek, section, partial| FetchAttr::BodySection {
            peek,
            section,
            partial,
        };
        let cases = [
            ("BODY[]", body(false, section(&[], None), None)),
            (
                "BODY[]<0.10>",
                body(false, section(&[], None), Some((0, 10))),
            ),
            (
                "body.peek[text]",
                body(true, section(&[], Some(SectionText::Text)), None),
            ),
            (
                "BODY[HEADER]",
                body(false, section(&[], Some(SectionText::Header)), None),
            ),
            ("BODY[1]", body(false, section(&[1], None), None)),
            ("BODY[1.2.3]", body(false, section(&[1, 2, 3], None), None)),
            (
                "BODY[4.2.MIME]",
                body(false, section(&[4, 2], Some(SectionText::Mime)), None),
            ),
            (
                "BODY[2.HEADER]",
                body(false, section(&[2], Some(SectionText::Header)), None),
            ),
            (
                "BODY.PEEK[HEADER.FIELDS (From To)]",
                body(
                    true,
                    section(
                        &[],
                        Some(SectionText::HeaderFields(vec!["From".into(), "To".into()])),
                    ),
                    None,
                ),
            ),
            (
                "BODY[3.HEADER.FIELDS.NOT (\"Received\" {7}\r\nX-Spam])]<5.100>",
                body(
                    false,
                    section(
                        &[3],
                        Some(SectionText::HeaderFieldsNot(vec![
                            "Received".into(),
                            "X-Spam]".into(),
                        ])),
                    ),
                    Some((5, 100)),
                ),
            ),
        ];
        for (item, expected) in cases {
            assert_eq!(
                fetch_items(&format!("a FETCH 1 {item}\r\n")),
                vec![expected.clone()],
                "{item}"
            );
            // The same item inside a list.
            assert_eq!(
                fetch_items(&format!("a FETCH 1 (UID {item})\r\n")),
                vec![FetchAttr::Uid, expected],
                "({item})"
            );
        }
        for bad_item in [
            "BODY[MIME]",
            "BODY[0]",
            "BODY[1.0]",
            "BODY[HEADER.FIELDS ()]",
            "BODY[HEADER.FIELDS]",
            "BODY[]<0>",
            "BODY[]<0.0>",
            "BODY.PEEK",
            "BODY[FOO]",
            "BODY[1.]",
        ] {
            bad_reason(format!("a FETCH 1 {bad_item}\r\n").as_bytes());
        }
    }

    #[test]
    fn fetch_binary_items() {
        assert_eq!(
            fetch_items("a FETCH 1 (BINARY[] BINARY.PEEK[1.2]<0.1024> BINARY.SIZE[3])\r\n"),
            vec![
                FetchAttr::Binary {
                    peek: false,
                    part: vec![],
                    partial: None
                },
                FetchAttr::Binary {
                    peek: true,
                    part: vec![1, 2],
                    partial: Some((0, 1024))
                },
                FetchAttr::BinarySize { part: vec![3] },
            ]
        );
        bad_reason(b"a FETCH 1 BINARY[TEXT]\r\n");
        bad_reason(b"a FETCH 1 BINARY\r\n");
    }

    #[test]
    fn fetch_modifiers_and_uid_fetch() {
        assert_eq!(
            parse("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n"),
            CommandBody::Fetch {
                uid: true,
                set: set(&[(1, u32::MAX)]),
                items: vec![FetchAttr::Flags],
                changed_since: Some(5),
                vanished: true
            }
        );
        assert_eq!(
            parse("a FETCH 2:4,* FLAGS (CHANGEDSINCE 12345)\r\n"),
            CommandBody::Fetch {
                uid: false,
                set: set(&[(2, 4), (u32::MAX, u32::MAX)]),
                items: vec![FetchAttr::Flags],
                changed_since: Some(12345),
                vanished: false
            }
        );
        // RFC 7162 §3.2.6: VANISHED needs UID FETCH and CHANGEDSINCE.
        bad_reason(b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)\r\n");
        bad_reason(b"a UID FETCH 1:* (FLAGS) (VANISHED)\r\n");
        bad_reason(b"a UID FETCH 1:* (FLAGS) (FOO 1)\r\n");
    }

    #[test]
    fn sequence_sets() {
        let fetch_set = |input: &str| match parse(input) {
            CommandBody::Fetch { set, .. } => set,
            other => panic!("{other:?}"),
        };
        assert_eq!(fetch_set("a FETCH 1 UID\r\n"), set(&[(1, 1)]));
        assert_eq!(fetch_set("a FETCH * UID\r\n"), set(&[(u32::MAX, u32::MAX)]));
        assert_eq!(
            fetch_set("a FETCH 5:3,9:* UID\r\n"),
            set(&[(5, 3), (9, u32::MAX)])
        );
        assert_eq!(fetch_set("a FETCH $ UID\r\n"), SequenceSet::Saved);
        for input in [
            "a FETCH 0 UID\r\n",
            "a FETCH 1:0 UID\r\n",
            "a FETCH 1, UID\r\n",
            "a FETCH ,1 UID\r\n",
            "a FETCH 1: UID\r\n",
            "a FETCH 4294967296 UID\r\n",
            "a FETCH $,1 UID\r\n",
            "a FETCH 1 UID \r\n",
            "a FETCH  1 UID\r\n",
        ] {
            bad_reason(input.as_bytes());
        }
    }

    #[test]
    fn store_forms() {
        let store = |op, silent, flags: &[&str], unchanged_since| CommandBody::Store {
            uid: false,
            set: set(&[(2, 4)]),
            op,
            silent,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            unchanged_since,
        };
        let cases = [
            (
                "a STORE 2:4 FLAGS (\\Seen)\r\n",
                store(StoreOp::Replace, false, &["\\Seen"], None),
            ),
            (
                "a STORE 2:4 FLAGS ()\r\n",
                store(StoreOp::Replace, false, &[], None),
            ),
            (
                "a STORE 2:4 +FLAGS.SILENT (\\Deleted $Junk)\r\n",
                store(StoreOp::Add, true, &["\\Deleted", "$Junk"], None),
            ),
            (
                "a STORE 2:4 -flags \\Seen \\Flagged\r\n",
                store(StoreOp::Remove, false, &["\\Seen", "\\Flagged"], None),
            ),
            (
                "a STORE 2:4 flags.silent foo\r\n",
                store(StoreOp::Replace, true, &["foo"], None),
            ),
            (
                "a STORE 2:4 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n",
                store(StoreOp::Add, true, &["\\Deleted"], Some(320162338)),
            ),
            (
                "a STORE 2:4 (UNCHANGEDSINCE 0) -FLAGS (x)\r\n",
                store(StoreOp::Remove, false, &["x"], Some(0)),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), expected, "{input:?}");
        }
        assert!(matches!(
            parse("a UID STORE 1 FLAGS (x)\r\n"),
            CommandBody::Store { uid: true, .. }
        ));
        bad_reason(b"a STORE 1 FLAGS\r\n");
        bad_reason(b"a STORE 1 LABELS (x)\r\n");
        bad_reason(b"a STORE 1 FLAGS (\\*)\r\n");
        bad_reason(b"a STORE 1 (FOO 1) FLAGS (x)\r\n");
    }

    #[test]
    fn copy_move_and_uid_expunge() {
        assert_eq!(
            parse("a COPY 2:4 MEETING\r\n"),
            CommandBody::Copy {
                uid: false,
                set: set(&[(2, 4)]),
                mailbox: mailbox("MEETING")
            }
        );
        assert_eq!(
            parse("a UID MOVE 42:69 \"Old Mail\"\r\n"),
            CommandBody::Move {
                uid: true,
                set: set(&[(42, 69)]),
                mailbox: mailbox("Old Mail")
            }
        );
        assert_eq!(
            parse("a uid copy $ Trash\r\n"),
            CommandBody::Copy {
                uid: true,
                set: SequenceSet::Saved,
                mailbox: mailbox("Trash")
            }
        );
        assert_eq!(
            parse("a UID EXPUNGE 3000:3002\r\n"),
            CommandBody::Expunge {
                uids: Some(set(&[(3000, 3002)]))
            }
        );
        bad_reason(b"a UID EXPUNGE\r\n");
        bad_reason(b"a UID NOOP\r\n");
        bad_reason(b"a EXPUNGE 1\r\n");
    }

    #[test]
    fn search_keys_one_by_one() {
        use SearchKey::*;
        let cases = [
            ("ALL", All),
            ("answered", Answered),
            ("BCC x", Bcc("x".into())),
            ("BEFORE 1-Feb-1994", Before(date(1994, 2, 1))),
            ("BODY \"two words\"", Body("two words".into())),
            ("CC {3}\r\nabc", Cc("abc".into())),
            ("DELETED", Deleted),
            ("DRAFT", Draft),
            ("FLAGGED", Flagged),
            ("FROM \"Smith\"", From("Smith".into())),
            (
                "HEADER X-Mailer \"\"",
                Header("X-Mailer".into(), String::new()),
            ),
            ("KEYWORD $Junk", Keyword("$Junk".into())),
            ("LARGER 10000", Larger(10000)),
            ("NEW", New),
            ("NOT SEEN", Not(Box::new(Seen))),
            ("OLD", Old),
            ("ON \"01-Jan-2024\"", On(date(2024, 1, 1))),
            ("OR SEEN FLAGGED", Or(Box::new(Seen), Box::new(Flagged))),
            ("RECENT", Recent),
            ("SEEN", Seen),
            ("SENTBEFORE 31-dec-1999", SentBefore(date(1999, 12, 31))),
            ("SENTON 29-Feb-2024", SentOn(date(2024, 2, 29))),
            ("SENTSINCE 1-Mar-2000", SentSince(date(2000, 3, 1))),
            ("SINCE 1-Feb-1994", Since(date(1994, 2, 1))),
            ("SMALLER 5", Smaller(5)),
            ("SUBJECT \"café\"", Subject("café".into())),
            ("TEXT {0}\r\n", Text(String::new())),
            ("TO bob@example.com", To("bob@example.com".into())),
            ("UID 1:*", Uid(set(&[(1, u32::MAX)]))),
            ("UID $", Uid(SequenceSet::Saved)),
            ("UNANSWERED", Unanswered),
            ("UNDELETED", Undeleted),
            ("UNDRAFT", Undraft),
            ("UNFLAGGED", Unflagged),
            ("UNKEYWORD work", Unkeyword("work".into())),
            ("UNSEEN", Unseen),
            ("2,4:*", Sequence(set(&[(2, 2), (4, u32::MAX)]))),
            ("$", Sequence(SequenceSet::Saved)),
            ("*", Sequence(set(&[(u32::MAX, u32::MAX)]))),
            ("MODSEQ 620162338", ModSeq(620162338)),
            (
                "MODSEQ \"/flags/\\\\draft\" all 620162338",
                ModSeq(620162338),
            ),
            ("OLDER 3600", Older(3600)),
            ("YOUNGER 60", Younger(60)),
            ("SAVEDBEFORE 1-Jan-2020", SavedBefore(date(2020, 1, 1))),
            ("SAVEDON 2-Jan-2020", SavedOn(date(2020, 1, 2))),
            ("SAVEDSINCE 3-Jan-2020", SavedSince(date(2020, 1, 3))),
            ("SAVEDATESUPPORTED", SaveDateSupported),
            ("(SEEN)", Seen),
            ("(SEEN FLAGGED)", And(vec![Seen, Flagged])),
        ];
        for (key, expected) in cases {
            assert_eq!(search_of(&format!("a SEARCH {key}\r\n")), expected, "{key}");
        }
    }

    #[test]
    fn search_programs_combine_and_nest() {
        use SearchKey::*;
        assert_eq!(
            search_of("a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n"),
            And(vec![
                Flagged,
                Since(date(1994, 2, 1)),
                Not(Box::new(From("Smith".into())))
            ])
        );
        assert_eq!(
            search_of("a SEARCH OR (SEEN UNFLAGGED) NOT (OR 1:3 UID 7) DELETED\r\n"),
            And(vec![
                Or(
                    Box::new(And(vec![Seen, Unflagged])),
                    Box::new(Not(Box::new(Or(
                        Box::new(Sequence(set(&[(1, 3)]))),
                        Box::new(Uid(set(&[(7, 7)])))
                    ))))
                ),
                Deleted
            ])
        );
        // A literal inside a search string, followed by more keys.
        assert_eq!(
            search_of("a SEARCH CHARSET UTF-8 TEXT {6+}\r\nXXXXXX SEEN\r\n"),
            And(vec![Text("XXXXXX".into()), Seen])
        );
        assert_eq!(search_of("a SEARCH ((((ALL))))\r\n"), All);
    }

    #[test]
    fn search_charset_and_return_options() {
        assert_eq!(
            parse("a UID SEARCH RETURN (MIN MAX ALL COUNT SAVE) CHARSET utf-8 UNSEEN\r\n"),
            CommandBody::Search {
                uid: true,
                charset: Some("UTF-8".into()),
                criteria: SearchKey::Unseen,
                returns: Some(vec![
                    SearchReturn::Min,
                    SearchReturn::Max,
                    SearchReturn::All,
                    SearchReturn::Count,
                    SearchReturn::Save
                ])
            }
        );
        assert_eq!(
            parse("a SEARCH RETURN () CHARSET \"US-ASCII\" ALL\r\n"),
            CommandBody::Search {
                uid: false,
                charset: Some("US-ASCII".into()),
                criteria: SearchKey::All,
                returns: Some(vec![])
            }
        );
        assert_eq!(
            command(b"t9 SEARCH CHARSET ISO-8859-1 TEXT x\r\n"),
            Err(ParseError::BadCharset {
                tag: "t9".into(),
                charset: "ISO-8859-1".into()
            })
        );
        let error = command(b"t9 SORT (DATE) KOI8-R ALL\r\n").unwrap_err();
        assert_eq!(error.tag(), Some("t9"));
        assert!(matches!(error, ParseError::BadCharset { .. }));
        bad_reason(b"a SEARCH RETURN (PARTIAL 1:10) ALL\r\n");
        bad_reason(b"a SEARCH CHARSET UTF-8\r\n");
        bad_reason(b"a SEARCH\r\n");
        bad_reason(b"a SEARCH FOO\r\n");
        bad_reason(b"a SEARCH KEYWORD \\Seen\r\n");
        bad_reason(b"a SEARCH BEFORE 30-Feb-2020\r\n");
        bad_reason(b"a SEARCH BEFORE 1-Foo-2020\r\n");
        bad_reason(b"a SEARCH SUBJECT {2}\r\n\xff\xfe\r\n");
        bad_reason(b"a SEARCH ()\r\n");
        bad_reason(b"a SEARCH OR SEEN\r\n");
        bad_reason(b"a SEARCH MODSEQ \"/flags/x\" mine 5\r\n");
    }

    #[test]
    fn search_depth_is_bounded() {
        let deep = |n: usize| format!("a SEARCH {}ALL{}\r\n", "(".repeat(n), ")".repeat(n));
        assert_eq!(search_of(&deep(MAX_DEPTH - 1)), SearchKey::All);
        let (tag, reason) = bad_reason(deep(MAX_DEPTH + 1).as_bytes());
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(reason.contains("nested"), "{reason}");
        let nots = format!("a SEARCH {}ALL\r\n", "NOT ".repeat(100_000));
        bad_reason(nots.as_bytes());
        let ors = format!("a SEARCH {}ALL\r\n", "OR ALL ".repeat(1_000));
        bad_reason(ors.as_bytes());
    }

    #[test]
    fn sort_and_thread() {
        assert_eq!(
            parse(
                "a UID SORT (REVERSE ARRIVAL subject DISPLAYFROM) UTF-8 SINCE 1-Feb-1994 SEEN\r\n"
            ),
            CommandBody::Sort {
                uid: true,
                criteria: vec![
                    SortCriterion {
                        reverse: true,
                        key: SortKey::Arrival
                    },
                    SortCriterion {
                        reverse: false,
                        key: SortKey::Subject
                    },
                    SortCriterion {
                        reverse: false,
                        key: SortKey::DisplayFrom
                    },
                ],
                charset: "UTF-8".into(),
                search: SearchKey::And(vec![SearchKey::Since(date(1994, 2, 1)), SearchKey::Seen]),
                returns: None
            }
        );
        assert_eq!(
            parse("a SORT RETURN (MIN COUNT) (DATE) US-ASCII ALL\r\n"),
            CommandBody::Sort {
                uid: false,
                criteria: vec![SortCriterion {
                    reverse: false,
                    key: SortKey::Date
                }],
                charset: "US-ASCII".into(),
                search: SearchKey::All,
                returns: Some(vec![SearchReturn::Min, SearchReturn::Count])
            }
        );
        assert_eq!(
            parse("a THREAD REFERENCES UTF-8 UNDELETED\r\n"),
            CommandBody::Thread {
                uid: false,
                algorithm: ThreadAlgorithm::References,
                charset: "UTF-8".into(),
                search: SearchKey::Undeleted
            }
        );
        assert!(matches!(
            parse("a UID THREAD orderedsubject US-ASCII ALL\r\n"),
            CommandBody::Thread {
                uid: true,
                algorithm: ThreadAlgorithm::OrderedSubject,
                ..
            }
        ));
        bad_reason(b"a SORT () UTF-8 ALL\r\n");
        bad_reason(b"a SORT (REVERSE) UTF-8 ALL\r\n");
        // The charset is missing, so ALL is taken for one.
        assert!(command(b"a SORT (DATE) ALL\r\n").is_err());
        bad_reason(b"a THREAD REFS UTF-8 ALL\r\n");
    }

    #[test]
    fn bad_commands_carry_the_tag_and_a_reason() {
        let cases: [&[u8]; 16] = [
            b"a1 FOO\r\n",
            b"a1 NOOP extra\r\n",
            b"a1 NOOP",
            b"a1 NOOP\r\nmore",
            b"a1 NOOP\r",
            b"a1 LOGIN fred\r\n",
            b"a1 LOGIN \"fred secret\r\n",
            b"a1 LOGIN \"a\\b\" c\r\n",
            b"a1 LOGIN {5}\r\nab\r\n",
            b"a1 LOGIN {x}\r\nab\r\n",
            b"a1 LOGIN fred  secret\r\n",
            b"a1 SELECT\r\n",
            b"a1 FETCH 1:2\r\n",
            b"a1 STATUS x (MESSAGES\r\n",
            b"a1 LOGIN {99999999999999999999}\r\n",
            b"a1 \r\n",
        ];
        for input in cases {
            let (tag, reason) = bad_reason(input);
            assert_eq!(tag.as_deref(), Some("a1"), "{input:?}");
            assert!(!reason.is_empty());
        }
        let error = command(b"a1 FOO\r\n").unwrap_err();
        assert_eq!(error.to_string(), "unknown command");
    }

    #[test]
    fn framed_transcript_parses_command_by_command() {
        use super::super::framing::{CommandReader, Framed, Limits};
        let wire: &[u8] = b"a1 CAPABILITY\r\n\
            a2 LOGIN {4}\r\nfred {6+}\r\nsecret\r\n\
            a3 SELECT INBOX (CONDSTORE)\r\n\
            a4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]) (CHANGEDSINCE 5 VANISHED)\n\
            a5 APPEND Drafts (\\Draft) {11}\r\nSubject: x\n\r\n\
            a6 IDLE\r\n";
        let mut reader = CommandReader::new(Limits::default());
        let mut rest = wire;
        let (mut commands, mut continuations) = (Vec::new(), 0);
        loop {
            let (used, framed) = reader.take(rest);
            rest = &rest[used..];
            match framed {
                Framed::Complete(bytes) => commands.push(command(&bytes).expect("parses")),
                Framed::Continue => continuations += 1,
                Framed::NeedMore => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let tags: Vec<&str> = commands.iter().map(|c| c.tag.as_str()).collect();
        assert_eq!(tags, ["a1", "a2", "a3", "a4", "a5", "a6"]);
        assert_eq!(
            continuations, 2,
            "{{4}} and {{11}} wait for '+', {{6+}} does not"
        );
        assert_eq!(
            commands[1].body,
            CommandBody::Login {
                user: "fred".into(),
                password: Secret::new("secret".into())
            }
        );
        assert!(matches!(
            &commands[3].body,
            CommandBody::Fetch { uid: true, vanished: true, changed_since: Some(5), items, .. }
                if items.len() == 2
        ));
        assert!(matches!(
            &commands[4].body,
            CommandBody::Append { messages, .. } if messages[0].data == b"Subject: x\n"
        ));
        assert_eq!(commands[5].body, CommandBody::Idle);
    }

    #[test]
    fn errors_display_their_reason() {
        let charset = ParseError::BadCharset {
            tag: "x".into(),
            charset: "KOI8-R".into(),
        };
        assert_eq!(charset.to_string(), "charset KOI8-R not supported");
        assert_eq!(charset.tag(), Some("x"));
        let untagged = command(b"\r\n").unwrap_err();
        assert_eq!(untagged.tag(), None);
        assert_eq!(untagged.to_string(), "missing or invalid tag");
    }

    #[test]
    fn never_panics_on_mutated_or_random_input() {
        let seeds: [&[u8]; 12] = [
            b"a UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.10>) (CHANGEDSINCE 5 VANISHED)\r\n",
            b"a SEARCH RETURN (MIN) CHARSET UTF-8 OR (SEEN TEXT {3+}\r\nabc) NOT UID $ HEADER x y\r\n",
            b"a APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" ~{3+}\r\na\0b UTF8 (~{1}\r\nz)\r\n",
            b"a SELECT INBOX (QRESYNC (1 2 3:4 (5 6)) CONDSTORE)\r\n",
            b"a LIST (SUBSCRIBED) \"\" (\"a\" b) RETURN (STATUS (MESSAGES))\r\n",
            b"a STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Seen $x)\r\n",
            b"a SORT RETURN (ALL) (REVERSE DATE) UTF-8 SENTSINCE 1-Jan-2000\r\n",
            b"a ID (\"a\" NIL \"b\" {1}\r\nc)\r\n",
            b"a LOGIN {4+}\r\nfred \"x\\\"y\"\r\n",
            b"a CREATE x (USE (\\Sent))\r\n",
            b"a SETQUOTA \"\" (STORAGE 1)\r\n",
            b"a AUTHENTICATE PLAIN AGZyZWQ=\r\n",
        ];
        for seed in seeds {
            command(seed).unwrap_or_else(|e| panic!("seed {seed:?}: {e:?}"));
        }
        let interesting = b"(){}[]<>\"\\ *$:,.+-~0123456789\r\nALLNOTORUIDBODYHEADER\0\xff";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 7;
            state ^= state >> 9;
            state
        };
        for round in 0..60_000 {
            let seed = seeds[round % seeds.len()];
            let mut input = seed.to_vec();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % (input.len() + 1);
                match next() % 4 {
                    0 if at < input.len() => {
                        input.remove(at);
                    }
                    1 => input.insert(at, interesting[(next() as usize) % interesting.len()]),
                    2 if at < input.len() => input[at] = (next() & 0xff) as u8,
                    _ => input.truncate(at),
                }
            }
            let _ = command(&input);
        }
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| interesting[(next() as usize) % interesting.len()])
                .collect();
            let _ = command(&input);
        }
    }
}
