//! The FETCH response of one message (RFC 9051 §6.4.5 and §7.5.2, BINARY of RFC 3516, MODSEQ of
//! RFC 7162, SAVEDATE of RFC 8514).
//!
//! Pure: the session asks [`view_parts`] whether the store's `FetchView` answers every item
//! (FLAGS, UID, MODSEQ, RFC822.SIZE, INTERNALDATE, SAVEDATE, ENVELOPE, BODYSTRUCTURE: then the
//! ENVELOPE and BODYSTRUCTURE come already rendered and are copied), and otherwise [`needs`]
//! what to load (metas always, indexes and raw contents only when an item needs them, each in
//! one query for the whole set); then it calls [`write_fetch`] once per message, which appends
//! `* <seq> FETCH (...)\r\n` to the output buffer. Nothing is allocated per message for the
//! common items; body sections are sliced out of the raw message, and only HEADER.FIELDS and
//! BINARY build a copy.
//!
//! ```text
//!  items ──► view_parts() ──► session reads the folder's view (rendered parts included)
//!        └─► needs() ──► session loads metas (+ indexes) (+ contents)
//!                                  │
//!  for each message ──► write_fetch_with(out, seq, FetchMessage, items, FetchOptions, Strings)
//!                           ├─ Ok: "* 3 FETCH (UID 7 FLAGS (\Seen) ...)\r\n" appended
//!                           └─ Err(UnknownCte): nothing appended, session answers NO [UNKNOWN-CTE]
//! ```
//!
//! A client that has not enabled UTF-8 gets ENVELOPE, BODY and BODYSTRUCTURE in ASCII
//! ([`Strings::Ascii`], module `downgrade`); an ASCII rendering is copied as it is.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Datelike, Timelike};
pub(crate) use postwerk_message::header_end;
use postwerk_message::{BodyStructure, MessageIndex, write_bodystructure, write_envelope};
use postwerk_store::{FetchParts, FetchRecord, MessageMeta};

use crate::proto::{FetchAttr, Section, SectionText};

mod downgrade;

/// What the session must load, beyond the metas, to answer a FETCH.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The messages' [`MessageIndex`]es: ENVELOPE, BODY, BODYSTRUCTURE, and sections or BINARY
    /// items with a part number (their byte ranges and transfer encodings).
    pub index: bool,
    /// The raw messages: any body section, BINARY item or RFC822 item.
    pub content: bool,
}

/// What loading `items` takes. FLAGS, UID, RFC822.SIZE, INTERNALDATE, MODSEQ and SAVEDATE come
/// from the [`MessageMeta`] alone.
pub fn needs(items: &[FetchAttr]) -> Needs {
    let mut needs = Needs::default();
    for item in items {
        match item {
            FetchAttr::Envelope | FetchAttr::BodyStructure | FetchAttr::Body => needs.index = true,
            FetchAttr::BodySection { section, .. } => {
                needs.content = true;
                // The top-level header and text are found by scanning the raw message for the
                // blank line; only numbered parts need the index's offsets.
                needs.index |= !section.part.is_empty();
            }
            FetchAttr::Binary { part, .. } | FetchAttr::BinarySize { part } => {
                needs.content = true;
                needs.index |= !part.is_empty();
            }
            FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
                needs.content = true
            }
            FetchAttr::Flags
            | FetchAttr::InternalDate
            | FetchAttr::Rfc822Size
            | FetchAttr::Uid
            | FetchAttr::ModSeq
            | FetchAttr::SaveDate => {}
        }
    }
    needs
}

/// The parts of the store's [`postwerk_store::FetchView`] that answer `items`, or `None` when some item needs
/// more (a body section, BODY, RFC822, BINARY): then the session loads with [`needs`].
pub fn view_parts(items: &[FetchAttr]) -> Option<FetchParts> {
    let mut parts = FetchParts::NONE;
    for item in items {
        match item {
            FetchAttr::Envelope => parts.envelope = true,
            FetchAttr::BodyStructure => parts.body_structure = true,
            FetchAttr::Flags
            | FetchAttr::InternalDate
            | FetchAttr::Rfc822Size
            | FetchAttr::Uid
            | FetchAttr::ModSeq
            | FetchAttr::SaveDate => {}
            _ => return None,
        }
    }
    Some(parts)
}

/// Whether fetching `items` sets `\Seen` (RFC 9051 §6.4.5: `BODY[...]` and `BINARY[...]` without
/// `.PEEK`; RFC 3501 §6.4.5: RFC822 and RFC822.TEXT). The session sets the flag before rendering
/// (on a read-write selection only) and passes [`FetchOptions::flags`] so the new flags are sent.
pub fn sets_seen(items: &[FetchAttr]) -> bool {
    items.iter().any(|item| match item {
        FetchAttr::BodySection { peek, .. } | FetchAttr::Binary { peek, .. } => !peek,
        FetchAttr::Rfc822 | FetchAttr::Rfc822Text => true,
        _ => false,
    })
}

/// One message's UID, flags, MODSEQ, size and dates: as listed, or from a
/// [`postwerk_store::FetchView`].
#[derive(Debug, Clone, Copy)]
pub enum Meta<'a> {
    /// From `MailStore::list_messages`.
    Listed(&'a MessageMeta),
    /// From `MailStore::fetch_view`, with the ENVELOPE and BODYSTRUCTURE rendered when the view
    /// was asked for them.
    Viewed(FetchRecord<'a>),
}

impl<'a> From<&'a MessageMeta> for Meta<'a> {
    fn from(meta: &'a MessageMeta) -> Self {
        Meta::Listed(meta)
    }
}

impl<'a> From<FetchRecord<'a>> for Meta<'a> {
    fn from(record: FetchRecord<'a>) -> Self {
        Meta::Viewed(record)
    }
}

impl<'a> Meta<'a> {
    /// The UID.
    pub fn uid(&self) -> u32 {
        match self {
            Meta::Listed(m) => m.uid,
            Meta::Viewed(r) => r.uid,
        }
    }

    /// The MODSEQ.
    pub fn modseq(&self) -> u64 {
        match self {
            Meta::Listed(m) => m.modseq,
            Meta::Viewed(r) => r.modseq,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Meta::Listed(m) => m.size,
            Meta::Viewed(r) => r.size,
        }
    }

    fn internal_date(&self) -> i64 {
        match self {
            Meta::Listed(m) => m.internal_date,
            Meta::Viewed(r) => r.internal_date,
        }
    }

    fn saved_at(&self) -> i64 {
        match self {
            Meta::Listed(m) => m.saved_at,
            Meta::Viewed(r) => r.saved_at,
        }
    }

    /// `(\Seen ...)`.
    fn write_flags(&self, out: &mut Vec<u8>) {
        match self {
            Meta::Listed(m) => crate::proto::write::flags(out, &m.flags),
            Meta::Viewed(r) => crate::proto::write::flag_list(out, r.system, r.keywords()),
        }
    }

    fn envelope(&self) -> Option<&'a [u8]> {
        match self {
            Meta::Listed(_) => None,
            Meta::Viewed(r) => r.envelope,
        }
    }

    fn body_structure(&self) -> Option<&'a [u8]> {
        match self {
            Meta::Listed(_) => None,
            Meta::Viewed(r) => r.body_structure,
        }
    }
}

/// One message as FETCH renders it.
#[derive(Debug, Clone, Copy)]
pub struct FetchMessage<'a> {
    /// The message as listed or viewed, with its current flags (after any `\Seen` this FETCH
    /// set).
    pub meta: Meta<'a>,
    /// Its index, when [`Needs::index`] asked for it (not needed for the ENVELOPE and
    /// BODYSTRUCTURE a viewed meta carries).
    pub index: Option<&'a MessageIndex>,
    /// Its raw bytes, when [`Needs::content`] asked for them.
    pub content: Option<&'a [u8]>,
}

/// Items the response carries even when the client did not ask for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchOptions {
    /// UID FETCH: RFC 9051 §6.4.9 says the response includes UID whether asked or not.
    pub uid: bool,
    /// CONDSTORE is enabled: RFC 7162 §3.1.4.1 says every FETCH response then includes MODSEQ.
    pub modseq: bool,
    /// This FETCH set `\Seen` (see [`sets_seen`]): RFC 9051 §6.4.5 says the change is reported,
    /// so FLAGS is included.
    pub flags: bool,
}

/// Why a message's FETCH response could not be rendered. Nothing was written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Refusal: `BINARY[part]` or `BINARY.SIZE[part]` of a part whose Content-Transfer-Encoding
    /// this server cannot decode; the session answers `NO [UNKNOWN-CTE]` (RFC 3516 §4.3, RFC
    /// 9051 §7.1). The string is the encoding as the message declares it.
    UnknownCte(String),
    /// Our fault: an item needs the message's index but the session did not load it (see
    /// [`needs`]); answer `NO [SERVERBUG]`.
    MissingIndex,
    /// Our fault: an item needs the raw message but the session did not load it.
    MissingContent,
}

impl FetchError {
    /// Whether the client's request was refused (rather than the server failing).
    pub fn is_refusal(&self) -> bool {
        matches!(self, FetchError::UnknownCte(_))
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::UnknownCte(cte) => {
                write!(f, "cannot decode content transfer encoding {cte:?}")
            }
            FetchError::MissingIndex => f.write_str("the message index was not loaded for FETCH"),
            FetchError::MissingContent => f.write_str("the message was not loaded for FETCH"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Whether the client reads UTF-8 in strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    /// It enabled `UTF8=ACCEPT` (RFC 6855 §3) or `IMAP4rev2` (RFC 9051 §6.3.1): strings go out
    /// as the message has them.
    Utf8,
    /// It did not: a message with raw UTF-8 in its header (RFC 6532) has its ENVELOPE, BODY and
    /// BODYSTRUCTURE downgraded to ASCII (see [`downgrade`]). Sections (`BODY[...]`, `RFC822`,
    /// `BINARY[...]`) go out unchanged as literals: a literal is octets, not a string (RFC 3501
    /// §4.3), and a downgraded copy would disagree with the RFC822.SIZE and the partial
    /// offsets of the same message, which RFC 6855 §5 leaves to the server to avoid; a legacy
    /// client shows such a header as it shows any 8-bit header.
    Ascii,
}

/// Appends `* <seq> FETCH (...)\r\n` for one message to `out`: the requested `items` in the
/// order given (each simple item once), plus the items `opts` adds (UID first, FLAGS and MODSEQ
/// last, like Dovecot). On error nothing is appended. Strings go out as the message has them
/// ([`Strings::Utf8`]); [`write_fetch_with`] chooses.
pub fn write_fetch(
    out: &mut Vec<u8>,
    seq: u32,
    msg: &FetchMessage<'_>,
    items: &[FetchAttr],
    opts: &FetchOptions,
) -> Result<(), FetchError> {
    write_fetch_with(out, seq, msg, items, opts, Strings::Utf8)
}

/// [`write_fetch`] for a client that reads UTF-8 in strings or not (`strings`).
pub fn write_fetch_with(
    out: &mut Vec<u8>,
    seq: u32,
    msg: &FetchMessage<'_>,
    items: &[FetchAttr],
    opts: &FetchOptions,
    strings: Strings,
) -> Result<(), FetchError> {
    let start = out.len();
    let result = write_response(out, seq, msg, items, opts, strings);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Bits of [`Written`]: which simple items were already written.
const UID: u16 = 1;
const FLAGS: u16 = 1 << 1;
const MODSEQ: u16 = 1 << 2;
const ENVELOPE: u16 = 1 << 3;
const INTERNALDATE: u16 = 1 << 4;
const SIZE: u16 = 1 << 5;
const BODYSTRUCTURE: u16 = 1 << 6;
const BODY: u16 = 1 << 7;
const SAVEDATE: u16 = 1 << 8;

/// Tracks the separator between items and the simple items already written, so `FETCH 1 (UID
/// UID)` or UID FETCH with UID asked still sends UID once.
struct Written {
    any: bool,
    simple: u16,
    /// How the structures' strings go out.
    strings: Strings,
}

impl Written {
    /// Starts the next item: a space unless it is the first. Returns false (and writes nothing)
    /// when `bit` names a simple item already written.
    fn begin(&mut self, out: &mut Vec<u8>, bit: u16) -> bool {
        if self.simple & bit != 0 {
            return false;
        }
        self.simple |= bit;
        if self.any {
            out.push(b' ');
        }
        self.any = true;
        true
    }

    /// Appends a rendered ENVELOPE or body structure, through `downgrade` for a client that
    /// does not read UTF-8 (a copy when the rendering is ASCII, as nearly all are).
    fn structure(&self, out: &mut Vec<u8>, rendered: &[u8], downgrade: fn(&[u8], &mut Vec<u8>)) {
        match self.strings {
            Strings::Utf8 => out.extend_from_slice(rendered),
            Strings::Ascii => downgrade(rendered, out),
        }
    }

    /// Passes what was just rendered into `out` from `start` through `downgrade` for a client
    /// that does not read UTF-8, when it is not ASCII.
    fn downgrade_from(&self, out: &mut Vec<u8>, start: usize, downgrade: fn(&[u8], &mut Vec<u8>)) {
        if self.strings == Strings::Ascii && !out[start..].is_ascii() {
            let rendered = out.split_off(start);
            downgrade(&rendered, out);
        }
    }
}

fn write_response(
    out: &mut Vec<u8>,
    seq: u32,
    msg: &FetchMessage<'_>,
    items: &[FetchAttr],
    opts: &FetchOptions,
    strings: Strings,
) -> Result<(), FetchError> {
    out.extend_from_slice(b"* ");
    push_number(out, u64::from(seq));
    out.extend_from_slice(b" FETCH (");
    let mut written = Written {
        any: false,
        simple: 0,
        strings,
    };
    if opts.uid {
        write_item(out, &mut written, msg, &FetchAttr::Uid)?;
    }
    for item in items {
        write_item(out, &mut written, msg, item)?;
    }
    if opts.flags {
        write_item(out, &mut written, msg, &FetchAttr::Flags)?;
    }
    if opts.modseq {
        write_item(out, &mut written, msg, &FetchAttr::ModSeq)?;
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

fn write_item(
    out: &mut Vec<u8>,
    written: &mut Written,
    msg: &FetchMessage<'_>,
    item: &FetchAttr,
) -> Result<(), FetchError> {
    let meta = &msg.meta;
    match item {
        FetchAttr::Uid => {
            if written.begin(out, UID) {
                out.extend_from_slice(b"UID ");
                push_number(out, u64::from(meta.uid()));
            }
        }
        FetchAttr::Flags => {
            if written.begin(out, FLAGS) {
                out.extend_from_slice(b"FLAGS ");
                meta.write_flags(out);
            }
        }
        FetchAttr::ModSeq => {
            // RFC 7162 §3.1.4.1: `MODSEQ (<mod-sequence>)`.
            if written.begin(out, MODSEQ) {
                out.extend_from_slice(b"MODSEQ (");
                push_number(out, meta.modseq());
                out.push(b')');
            }
        }
        FetchAttr::Rfc822Size => {
            if written.begin(out, SIZE) {
                out.extend_from_slice(b"RFC822.SIZE ");
                push_number(out, meta.size());
            }
        }
        FetchAttr::InternalDate => {
            if written.begin(out, INTERNALDATE) {
                out.extend_from_slice(b"INTERNALDATE ");
                write_date_time(out, meta.internal_date());
            }
        }
        FetchAttr::SaveDate => {
            // RFC 8514 §4: `SAVEDATE (date-time / nil)`; every message here has one.
            if written.begin(out, SAVEDATE) {
                out.extend_from_slice(b"SAVEDATE ");
                write_date_time(out, meta.saved_at());
            }
        }
        FetchAttr::Envelope => {
            // Rendered once, from the same index, by the store's view; else rendered here.
            let rendered = meta.envelope();
            let index = match rendered {
                Some(_) => None,
                None => Some(msg.index.ok_or(FetchError::MissingIndex)?),
            };
            if written.begin(out, ENVELOPE) {
                out.extend_from_slice(b"ENVELOPE ");
                match (rendered, index) {
                    (Some(bytes), _) => written.structure(out, bytes, downgrade::envelope),
                    (None, Some(index)) => {
                        let start = out.len();
                        write_envelope(&index.envelope, out);
                        written.downgrade_from(out, start, downgrade::envelope);
                    }
                    (None, None) => {}
                }
            }
        }
        FetchAttr::BodyStructure => {
            let rendered = meta.body_structure();
            let index = match rendered {
                Some(_) => None,
                None => Some(msg.index.ok_or(FetchError::MissingIndex)?),
            };
            if written.begin(out, BODYSTRUCTURE) {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                match (rendered, index) {
                    (Some(bytes), _) => written.structure(out, bytes, downgrade::body_structure),
                    (None, Some(index)) => {
                        let start = out.len();
                        write_bodystructure(&index.body, true, out);
                        written.downgrade_from(out, start, downgrade::body_structure);
                    }
                    (None, None) => {}
                }
            }
        }
        FetchAttr::Body => {
            // RFC 9051 §7.5.2: BODY is BODYSTRUCTURE without extension data.
            let index = msg.index.ok_or(FetchError::MissingIndex)?;
            if written.begin(out, BODY) {
                out.extend_from_slice(b"BODY ");
                let start = out.len();
                write_bodystructure(&index.body, false, out);
                written.downgrade_from(out, start, downgrade::body_structure);
            }
        }
        FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
            // RFC 3501 §6.4.5: the same as BODY[], BODY.PEEK[HEADER] and BODY[TEXT], under their
            // own names and never partial.
            let content = msg.content.ok_or(FetchError::MissingContent)?;
            let header_len = header_end(content);
            let (name, bytes): (&[u8], &[u8]) = match item {
                FetchAttr::Rfc822 => (b"RFC822", content),
                FetchAttr::Rfc822Header => (b"RFC822.HEADER", &content[..header_len]),
                _ => (b"RFC822.TEXT", &content[header_len..]),
            };
            written.begin(out, 0);
            out.extend_from_slice(name);
            out.push(b' ');
            write_literal(out, bytes, false);
        }
        FetchAttr::BodySection {
            section, partial, ..
        } => {
            let bytes = section_bytes(msg, section)?;
            written.begin(out, 0);
            out.extend_from_slice(b"BODY");
            write_section_spec(out, section);
            write_origin(out, *partial);
            out.push(b' ');
            write_body(out, bytes.as_deref(), *partial, false);
        }
        FetchAttr::Binary { part, partial, .. } => {
            let bytes = binary_bytes(msg, part)?;
            written.begin(out, 0);
            out.extend_from_slice(b"BINARY");
            write_part_spec(out, part);
            // RFC 3516 §4.2 describes the origin as for BODY; the ABNF of RFC 3516 and RFC 9051
            // lacks it (RFC 9051 erratum 7246). Dovecot echoes it, and clients that asked for a
            // partial match the response by the name they asked for, so it is sent.
            write_origin(out, *partial);
            out.push(b' ');
            write_body(out, bytes.as_deref(), *partial, true);
        }
        FetchAttr::BinarySize { part } => {
            // A part that does not exist has size 0, as Dovecot answers for undecodable parts.
            let size = binary_bytes(msg, part)?.map_or(0, |b| b.len());
            written.begin(out, 0);
            out.extend_from_slice(b"BINARY.SIZE");
            write_part_spec(out, part);
            out.push(b' ');
            push_number(out, size as u64);
        }
    }
    Ok(())
}

/// The bytes of `BODY[section]` before any partial, or `None` when the section does not exist.
fn section_bytes<'a>(
    msg: &FetchMessage<'a>,
    section: &Section,
) -> Result<Option<Cow<'a, [u8]>>, FetchError> {
    let content = msg.content.ok_or(FetchError::MissingContent)?;
    // The message's own header and text, or, for a numbered part, its byte ranges. HEADER and
    // TEXT of a numbered part only exist for message/rfc822 parts (RFC 9051 §6.4.5).
    let (whole, mime, header, text): (_, Option<Range<u64>>, Option<Range<u64>>, _) =
        if section.part.is_empty() {
            let len = content.len() as u64;
            let header_len = header_end(content) as u64;
            // MIME needs a part number (RFC 9051 §6.4.5); the parser refuses `BODY[MIME]`.
            (0..len, None, Some(0..header_len), Some(header_len..len))
        } else {
            let index = msg.index.ok_or(FetchError::MissingIndex)?;
            match index.section(content, &section.part) {
                Some(ranges) => (ranges.body, ranges.mime, ranges.header, ranges.text),
                None => return Ok(None),
            }
        };
    let pick = |range: Option<Range<u64>>| range.map(|r| Cow::Borrowed(slice(content, &r)));
    Ok(match &section.text {
        None => pick(Some(whole)),
        Some(SectionText::Mime) => pick(mime),
        Some(SectionText::Header) => pick(header),
        Some(SectionText::Text) => pick(text),
        Some(SectionText::HeaderFields(names)) => {
            header.map(|r| Cow::Owned(filter_fields(slice(content, &r), names, true)))
        }
        Some(SectionText::HeaderFieldsNot(names)) => {
            header.map(|r| Cow::Owned(filter_fields(slice(content, &r), names, false)))
        }
    })
}

/// The bytes of `BINARY[part]`: the part's body with its Content-Transfer-Encoding removed (RFC
/// 3516 §4.2), or `None` when the part does not exist. `BINARY[]` is the whole message as stored:
/// a message has no transfer encoding of its own.
fn binary_bytes<'a>(
    msg: &FetchMessage<'a>,
    part: &[u32],
) -> Result<Option<Cow<'a, [u8]>>, FetchError> {
    let content = msg.content.ok_or(FetchError::MissingContent)?;
    if part.is_empty() {
        return Ok(Some(Cow::Borrowed(content)));
    }
    let index = msg.index.ok_or(FetchError::MissingIndex)?;
    let (Some(ranges), Some(node)) = (index.section(content, part), index.body.part(part)) else {
        return Ok(None);
    };
    let body = slice(content, &ranges.body);
    let encoding = match node {
        BodyStructure::Single { encoding, .. } => encoding.as_str(),
        // A multipart has no transfer encoding of its own (RFC 2045 §6.4: only 7bit, 8bit or
        // binary are allowed on it); its body goes out as it is.
        BodyStructure::Multipart { .. } => "7bit",
    };
    decode_transfer_encoding(body, encoding).map(Some)
}

/// Removes a Content-Transfer-Encoding (RFC 2045 §6). The identity encodings return the bytes
/// as they are; unknown ones are refused (RFC 3516 §4.3: `NO [UNKNOWN-CTE]`).
fn decode_transfer_encoding<'a>(
    body: &'a [u8],
    encoding: &str,
) -> Result<Cow<'a, [u8]>, FetchError> {
    let lower = encoding.to_ascii_lowercase();
    match lower.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(Cow::Borrowed(body)),
        "base64" => Ok(Cow::Owned(decode_base64(body))),
        "quoted-printable" => Ok(Cow::Owned(decode_quoted_printable(body))),
        _ => Err(FetchError::UnknownCte(encoding.to_string())),
    }
}

/// `bytes[range]`, empty when the range does not fit (an index never yields such a range for
/// the message it was built from; this only keeps a mismatch from panicking).
fn slice<'a>(bytes: &'a [u8], range: &Range<u64>) -> &'a [u8] {
    let start = usize::try_from(range.start).unwrap_or(usize::MAX);
    let end = usize::try_from(range.end).unwrap_or(usize::MAX);
    bytes.get(start..end).unwrap_or_default()
}

/// The header lines of `header` whose field name is (`keep` true) or is not (`keep` false) one
/// of `names`, case-insensitively, each with its continuation lines, followed by the blank line
/// (RFC 9051 §6.4.5: "the blank line is included in all header fetches").
fn filter_fields(header: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for field in HeaderFields::new(header) {
        let listed = names
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(field.name));
        if listed == keep {
            out.extend_from_slice(field.raw);
            if !field.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// One header field in the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderField<'a> {
    /// The field name, without the colon and surrounding white space (RFC 5322 §4.5.2 allows
    /// white space before the colon in obsolete syntax). Empty for a line without a colon.
    pub name: &'a [u8],
    /// The value: everything after the colon, continuation lines and line ends included.
    pub value: &'a [u8],
    /// The whole field as it is in the message: name, value, continuation lines, line end.
    pub raw: &'a [u8],
}

/// The fields of a raw header block (RFC 5322 §2.2: a field continues on lines that start with
/// white space), up to the blank line that ends the header or the end of the input.
pub(crate) struct HeaderFields<'a> {
    rest: &'a [u8],
}

impl<'a> HeaderFields<'a> {
    /// The fields of `header` (the message's leading bytes or a header range).
    pub(crate) fn new(header: &'a [u8]) -> Self {
        HeaderFields { rest: header }
    }
}

impl<'a> Iterator for HeaderFields<'a> {
    type Item = HeaderField<'a>;

    fn next(&mut self) -> Option<HeaderField<'a>> {
        let rest = self.rest;
        if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        let mut end = line_end(rest, 0);
        while end < rest.len() && matches!(rest[end], b' ' | b'\t') {
            end = line_end(rest, end);
        }
        let raw = &rest[..end];
        self.rest = &rest[end..];
        let first_line = &raw[..line_end(raw, 0)];
        let (name, value) = match first_line.iter().position(|&b| b == b':') {
            Some(colon) => (raw[..colon].trim_ascii(), &raw[colon + 1..]),
            None => (&raw[..0], raw),
        };
        Some(HeaderField { name, value, raw })
    }
}

/// The offset just after the line that starts at `from` (after its LF, or the end of `bytes`).
fn line_end(bytes: &[u8], from: usize) -> usize {
    match bytes
        .get(from..)
        .and_then(|b| b.iter().position(|&c| c == b'\n'))
    {
        Some(i) => from + i + 1,
        None => bytes.len(),
    }
}

/// Writes `[1.2.HEADER.FIELDS (FROM SUBJECT)]` for a section.
///
/// Header field names are sent upper-cased, as Dovecot and Cyrus do: RFC 9051 §6.4.5 makes them
/// case-insensitive, and a fixed case lets clients match the response to the request without
/// caring how they spelled the names (Dovecot normalises the whole section to upper case).
fn write_section_spec(out: &mut Vec<u8>, section: &Section) {
    out.push(b'[');
    write_part_numbers(out, &section.part);
    if let Some(text) = &section.text {
        if !section.part.is_empty() {
            out.push(b'.');
        }
        let (keyword, names): (&[u8], Option<&[String]>) = match text {
            SectionText::Header => (b"HEADER", None),
            SectionText::HeaderFields(names) => (b"HEADER.FIELDS", Some(names)),
            SectionText::HeaderFieldsNot(names) => (b"HEADER.FIELDS.NOT", Some(names)),
            SectionText::Text => (b"TEXT", None),
            SectionText::Mime => (b"MIME", None),
        };
        out.extend_from_slice(keyword);
        if let Some(names) = names {
            out.extend_from_slice(b" (");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_header_name(out, name);
            }
            out.push(b')');
        }
    }
    out.push(b']');
}

/// Writes `[1.2]` for a BINARY part.
fn write_part_spec(out: &mut Vec<u8>, part: &[u32]) {
    out.push(b'[');
    write_part_numbers(out, part);
    out.push(b']');
}

fn write_part_numbers(out: &mut Vec<u8>, part: &[u32]) {
    for (i, number) in part.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_number(out, u64::from(*number));
    }
}

/// A header name of HEADER.FIELDS, upper-cased: as an atom when it is one, else as a quoted
/// string or literal (RFC 9051 §9 `header-fld-name = astring`).
fn write_header_name(out: &mut Vec<u8>, name: &str) {
    let upper = name.to_ascii_uppercase();
    let is_atom = !upper.is_empty()
        && upper
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
    if is_atom {
        out.extend_from_slice(upper.as_bytes());
    } else {
        postwerk_message::write_string(&upper, out);
    }
}

/// RFC 9051 §7.5.2: a partial response names only the origin octet, `BODY[]<0>`.
fn write_origin(out: &mut Vec<u8>, partial: Option<(u32, u32)>) {
    if let Some((origin, _)) = partial {
        out.push(b'<');
        push_number(out, u64::from(origin));
        out.push(b'>');
    }
}

/// Writes a section's data: `""` when the section does not exist, else a literal of the partial
/// range (RFC 9051 §6.4.5: "If the starting octet is beyond the end of the text, an empty string
/// is returned").
///
/// RFC 9051 does not say what a section that does not exist (`BODY[5]` of a two-part message)
/// returns. An error would fail the FETCH for every message in the set; Dovecot answers an empty
/// part, and so does this server.
fn write_body(out: &mut Vec<u8>, bytes: Option<&[u8]>, partial: Option<(u32, u32)>, binary: bool) {
    let Some(bytes) = bytes else {
        out.extend_from_slice(b"\"\"");
        return;
    };
    let bytes = match partial {
        Some((origin, length)) => {
            let start = (origin as usize).min(bytes.len());
            let end = start.saturating_add(length as usize).min(bytes.len());
            &bytes[start..end]
        }
        None => bytes,
    };
    write_literal(out, bytes, binary);
}

/// A literal of `bytes`. For BINARY (RFC 3516 §4.3) data holding NUL goes out as `literal8`
/// (`~{n}`), other data as a plain literal. A plain literal may not carry NUL (RFC 9051 §4.3), so
/// outside BINARY each NUL becomes 0x80, as Dovecot does, keeping the length.
fn write_literal(out: &mut Vec<u8>, bytes: &[u8], binary: bool) {
    let has_nul = bytes.contains(&0);
    if binary && has_nul {
        out.push(b'~');
    }
    out.push(b'{');
    push_number(out, bytes.len() as u64);
    out.extend_from_slice(b"}\r\n");
    if has_nul && !binary {
        out.extend(bytes.iter().map(|&b| if b == 0 { 0x80 } else { b }));
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Latest second a `date-time` can show: 9999-12-31 23:59:59 UTC (`date-year = 4DIGIT`).
const MAX_DATE_TIME: i64 = 253_402_300_799;

/// Writes `"17-Jul-1996 02:44:25 +0000"` (RFC 9051 §9 `date-time`) for Unix seconds.
///
/// The store keeps instants, not the zone they were given in, so every date is sent in UTC;
/// SEARCH BEFORE/ON/SINCE compare dates in UTC too ([`crate::search`]), so what a client sees
/// and what it searches agree. Instants outside years 1970 to 9999 are clamped into them.
fn write_date_time(out: &mut Vec<u8>, seconds: i64) {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let seconds = seconds.clamp(0, MAX_DATE_TIME);
    let at = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    out.push(b'"');
    // `date-day-fixed = (SP DIGIT) / 2DIGIT`.
    if at.day() < 10 {
        out.push(b' ');
    }
    push_number(out, u64::from(at.day()));
    out.push(b'-');
    out.extend_from_slice(MONTHS[at.month0() as usize % 12]);
    out.push(b'-');
    push_padded(out, at.year().unsigned_abs(), 4);
    out.push(b' ');
    push_padded(out, at.hour(), 2);
    out.push(b':');
    push_padded(out, at.minute(), 2);
    out.push(b':');
    push_padded(out, at.second(), 2);
    out.extend_from_slice(b" +0000\"");
}

/// Appends `n` in decimal without allocating.
pub(crate) fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `n` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut digits = [0u8; 10];
    let len = (n.checked_ilog10().unwrap_or(0) + 1) as usize;
    for _ in len..width {
        out.push(b'0');
    }
    let mut n = n;
    for slot in digits[..len].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[..len]);
}

/// Base64 (RFC 2045 §6.8), leniently: characters outside the alphabet (line breaks, stray
/// spaces) are ignored as the RFC says, decoding stops at the first `=`, and bits left over from
/// a truncated quantum are dropped rather than refused.
fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in input {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is an octet (lower-case hex accepted too, as robust
/// decoders do, though rule 1 asks for upper case), `=` at the end of a line is a soft line
/// break, white space at the end of a line is transport padding and removed (rule 3). Malformed
/// `=` sequences stay as they are.
fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut line_start = 0;
    while line_start < input.len() {
        let end = line_end(input, line_start);
        let line = &input[line_start..end];
        let (text, line_break) = match line.strip_suffix(b"\r\n") {
            Some(text) => (text, &b"\r\n"[..]),
            None => match line.strip_suffix(b"\n") {
                Some(text) => (text, &b"\n"[..]),
                None => (line, &b""[..]),
            },
        };
        // Rule 3: trailing white space is not part of the data.
        let text = text.trim_ascii_end();
        let soft_break = text.ends_with(b"=");
        let text = if soft_break {
            &text[..text.len() - 1]
        } else {
            text
        };
        let mut i = 0;
        while i < text.len() {
            let byte = text[i];
            if byte == b'=' {
                let hex = text.get(i + 1..i + 3).and_then(|h| {
                    let high = (h[0] as char).to_digit(16)?;
                    let low = (h[1] as char).to_digit(16)?;
                    Some((high * 16 + low) as u8)
                });
                if let Some(value) = hex {
                    out.push(value);
                    i += 3;
                    continue;
                }
            }
            out.push(byte);
            i += 1;
        }
        if !soft_break {
            out.extend_from_slice(line_break);
        }
        line_start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use postwerk_store::{BlobId, Flags, Keyword, SystemFlags};

    use super::*;

    /// multipart/mixed: a quoted-printable text, a base64 attachment holding NUL, a forwarded
    /// message, and a part in an encoding nobody knows.
    const RAW: &str = "From: a@x.test\r\n\
Subject: sections\r\n\
X-Long: first\r\n\tsecond\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe  \r\n\
soft=\r\n\
break\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
QUJD\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
From: b@y.test\r\n\
\r\n\
inner body\r\n\
--b\r\n\
Content-Type: application/x-thing\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\
\r\n\
begin 644 x\r\n\
--b--\r\n";

    fn meta() -> MessageMeta {
        let mut flags = Flags::system(SystemFlags::SEEN.union(SystemFlags::FLAGGED));
        flags
            .keywords
            .insert(Keyword::parse("$Forwarded").expect("keyword"));
        MessageMeta {
            uid: 42,
            modseq: 917_162_500,
            flags,
            // 1996-07-17 02:44:25 UTC
            internal_date: 837_571_465,
            saved_at: 1_700_000_000,
            size: RAW.len() as u64,
            blob: BlobId::of(RAW.as_bytes()),
            subject: Some("sections".into()),
            from: Some("a@x.test".into()),
            sent_date: None,
            has_attachments: true,
        }
    }

    /// Renders one FETCH response for `raw` with everything loaded.
    fn fetch_raw(raw: &str, items: &[FetchAttr], opts: FetchOptions) -> String {
        String::from_utf8_lossy(&fetch_bytes(raw, items, opts)).into_owned()
    }

    fn fetch_bytes(raw: &str, items: &[FetchAttr], opts: FetchOptions) -> Vec<u8> {
        let meta = meta();
        let index = MessageIndex::parse(raw.as_bytes());
        let msg = FetchMessage {
            meta: (&meta).into(),
            index: Some(&index),
            content: Some(raw.as_bytes()),
        };
        let mut out = Vec::new();
        write_fetch(&mut out, 3, &msg, items, &opts).expect("renders");
        out
    }

    fn fetch(items: &[FetchAttr]) -> String {
        fetch_raw(RAW, items, FetchOptions::default())
    }

    fn body(part: &[u32], text: Option<SectionText>, partial: Option<(u32, u32)>) -> FetchAttr {
        FetchAttr::BodySection {
            peek: true,
            section: Section {
                part: part.to_vec(),
                text,
            },
            partial,
        }
    }

    /// A literal of `text`: `{len}\r\ntext`.
    fn lit(text: &str) -> String {
        format!("{{{}}}\r\n{text}", text.len())
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn meta_items_render_from_the_meta() {
        let cases = [
            (vec![FetchAttr::Uid], "* 3 FETCH (UID 42)\r\n"),
            (
                vec![FetchAttr::Flags],
                "* 3 FETCH (FLAGS (\\Seen \\Flagged $Forwarded))\r\n",
            ),
            (
                vec![FetchAttr::InternalDate],
                "* 3 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 +0000\")\r\n",
            ),
            (
                vec![FetchAttr::SaveDate],
                "* 3 FETCH (SAVEDATE \"14-Nov-2023 22:13:20 +0000\")\r\n",
            ),
            (
                vec![FetchAttr::ModSeq],
                "* 3 FETCH (MODSEQ (917162500))\r\n",
            ),
            (
                vec![FetchAttr::Rfc822Size, FetchAttr::Uid, FetchAttr::Uid],
                &format!("* 3 FETCH (RFC822.SIZE {} UID 42)\r\n", RAW.len()),
            ),
            (vec![], "* 3 FETCH ()\r\n"),
        ];
        for (items, expected) in cases {
            let meta = meta();
            let msg = FetchMessage {
                meta: (&meta).into(),
                index: None,
                content: None,
            };
            let mut out = Vec::new();
            write_fetch(&mut out, 3, &msg, &items, &FetchOptions::default()).expect("renders");
            assert_eq!(
                String::from_utf8(out).expect("ascii"),
                expected,
                "{items:?}"
            );
        }
    }

    #[test]
    fn options_add_uid_first_and_flags_and_modseq_last() {
        let opts = FetchOptions {
            uid: true,
            modseq: true,
            flags: true,
        };
        assert_eq!(
            fetch_raw(RAW, &[FetchAttr::Rfc822Size], opts),
            format!(
                "* 3 FETCH (UID 42 RFC822.SIZE {} FLAGS (\\Seen \\Flagged $Forwarded) MODSEQ (917162500))\r\n",
                RAW.len()
            )
        );
        // Items asked for are not repeated.
        assert_eq!(
            fetch_raw(
                RAW,
                &[FetchAttr::ModSeq, FetchAttr::Flags, FetchAttr::Uid],
                opts
            ),
            "* 3 FETCH (UID 42 MODSEQ (917162500) FLAGS (\\Seen \\Flagged $Forwarded))\r\n"
        );
    }

    #[test]
    fn dates_are_fixed_width_utc() {
        let cases = [
            (0, "\" 1-Jan-1970 00:00:00 +0000\""),
            (837_571_465, "\"17-Jul-1996 02:44:25 +0000\""),
            (951_782_400, "\"29-Feb-2000 00:00:00 +0000\""),
            (-5, "\" 1-Jan-1970 00:00:00 +0000\""),
            (i64::MAX, "\"31-Dec-9999 23:59:59 +0000\""),
        ];
        for (seconds, expected) in cases {
            let mut out = Vec::new();
            write_date_time(&mut out, seconds);
            assert_eq!(String::from_utf8(out).expect("ascii"), expected);
        }
    }

    #[test]
    fn structure_items_use_the_index() {
        let index = MessageIndex::parse(RAW.as_bytes());
        let mut envelope = b"* 3 FETCH (ENVELOPE ".to_vec();
        write_envelope(&index.envelope, &mut envelope);
        envelope.extend_from_slice(b" BODY ");
        write_bodystructure(&index.body, false, &mut envelope);
        envelope.extend_from_slice(b" BODYSTRUCTURE ");
        write_bodystructure(&index.body, true, &mut envelope);
        envelope.extend_from_slice(b")\r\n");
        assert_eq!(
            fetch(&[
                FetchAttr::Envelope,
                FetchAttr::Body,
                FetchAttr::BodyStructure
            ]),
            String::from_utf8(envelope).expect("utf-8")
        );
    }

    #[test]
    fn rfc_6855_a_legacy_client_gets_structures_in_ascii_and_sections_unchanged() {
        const UTF8: &str = "From: Zoë <zoe@remote.example>\r\nSubject: Grüße\r\n\r\nHallo.\r\n";
        let meta = meta();
        let index = MessageIndex::parse(UTF8.as_bytes());
        let msg = FetchMessage {
            meta: (&meta).into(),
            index: Some(&index),
            content: Some(UTF8.as_bytes()),
        };
        let items = [
            FetchAttr::Envelope,
            FetchAttr::Body,
            FetchAttr::BodyStructure,
            body(&[], Some(SectionText::Header), None),
        ];
        let render = |strings| {
            let mut out = Vec::new();
            write_fetch_with(&mut out, 3, &msg, &items, &FetchOptions::default(), strings)
                .expect("renders");
            String::from_utf8(out).expect("UTF-8")
        };
        let header = &UTF8[..UTF8.find("\r\n\r\n").expect("header end") + 4];
        let legacy = render(Strings::Ascii);
        assert!(
            legacy.starts_with(
                "* 3 FETCH (ENVELOPE (NIL \"=?utf-8?q?Gr=C3=BC=C3=9Fe?=\" \
                 ((\"=?utf-8?q?Zo=C3=AB?=\" NIL \"zoe\" \"remote.example\"))"
            ),
            "{legacy}"
        );
        // Only the header section carries UTF-8, as a literal of the stored octets.
        let (structures, section) = legacy.split_at(legacy.find("BODY[HEADER]").expect("header"));
        assert!(structures.is_ascii(), "{structures}");
        assert_eq!(section, format!("BODY[HEADER] {})\r\n", lit(header)));
        // A client that enabled UTF-8 gets the strings as they are.
        let utf8 = render(Strings::Utf8);
        assert!(
            utf8.contains(&format!("(NIL {} ((", lit("Grüße"))),
            "{utf8}"
        );
        assert_eq!(utf8, fetch_raw(UTF8, &items, FetchOptions::default()));
    }

    #[test]
    fn body_sections_address_the_right_bytes() {
        let header = &RAW[..RAW.find("\r\n\r\n").expect("blank line") + 4];
        let text = &RAW[header.len()..];
        let cases: Vec<(FetchAttr, String)> = vec![
            (
                body(&[], None, None),
                format!("BODY[] {{{}}}\r\n{RAW}", RAW.len()),
            ),
            (
                body(&[], Some(SectionText::Header), None),
                format!("BODY[HEADER] {{{}}}\r\n{header}", header.len()),
            ),
            (
                body(&[], Some(SectionText::Text), None),
                format!("BODY[TEXT] {{{}}}\r\n{text}", text.len()),
            ),
            (
                body(&[1], None, None),
                format!("BODY[1] {}", lit("Gr=C3=BC=C3=9Fe  \r\nsoft=\r\nbreak")),
            ),
            (
                body(&[1], Some(SectionText::Mime), None),
                format!(
                    "BODY[1.MIME] {}",
                    lit("Content-Type: text/plain; charset=utf-8\r\n\
                         Content-Transfer-Encoding: quoted-printable\r\n\r\n")
                ),
            ),
            (
                body(&[3, 1], None, None),
                "BODY[3.1] {10}\r\ninner body".into(),
            ),
            (
                body(&[3], Some(SectionText::Header), None),
                format!(
                    "BODY[3.HEADER] {}",
                    lit("Subject: inner\r\nFrom: b@y.test\r\n\r\n")
                ),
            ),
            (
                body(&[3], Some(SectionText::Text), None),
                "BODY[3.TEXT] {10}\r\ninner body".into(),
            ),
            // HEADER and TEXT only exist for message/rfc822 parts; other missing parts too.
            (
                body(&[1], Some(SectionText::Header), None),
                "BODY[1.HEADER] \"\"".into(),
            ),
            (body(&[9], None, None), "BODY[9] \"\"".into()),
            (body(&[1, 1, 1], None, None), "BODY[1.1.1] \"\"".into()),
        ];
        for (item, expected) in cases {
            assert_eq!(
                fetch(std::slice::from_ref(&item)),
                format!("* 3 FETCH ({expected})\r\n"),
                "{item:?}"
            );
        }
    }

    #[test]
    fn header_fields_filter_lines_with_their_continuations() {
        let cases: [(FetchAttr, String); 5] = [
            (
                body(
                    &[],
                    Some(SectionText::HeaderFields(names(&["subject", "X-LONG"]))),
                    None,
                ),
                format!(
                    "BODY[HEADER.FIELDS (SUBJECT X-LONG)] {}",
                    lit("Subject: sections\r\nX-Long: first\r\n\tsecond\r\n\r\n")
                ),
            ),
            (
                body(
                    &[],
                    Some(SectionText::HeaderFieldsNot(names(&[
                        "From",
                        "content-type",
                        "x-long",
                    ]))),
                    None,
                ),
                format!(
                    "BODY[HEADER.FIELDS.NOT (FROM CONTENT-TYPE X-LONG)] {}",
                    lit("Subject: sections\r\n\r\n")
                ),
            ),
            (
                body(
                    &[3],
                    Some(SectionText::HeaderFields(names(&["FROM"]))),
                    Some((0, 6)),
                ),
                "BODY[3.HEADER.FIELDS (FROM)]<0> {6}\r\nFrom: ".into(),
            ),
            // No field matches: only the blank line.
            (
                body(
                    &[],
                    Some(SectionText::HeaderFields(names(&["x-absent"]))),
                    None,
                ),
                "BODY[HEADER.FIELDS (X-ABSENT)] {2}\r\n\r\n".into(),
            ),
            // A name that is not an atom is quoted in the response.
            (
                body(&[], Some(SectionText::HeaderFields(names(&["a]b"]))), None),
                "BODY[HEADER.FIELDS (\"A]B\")] {2}\r\n\r\n".into(),
            ),
        ];
        for (item, expected) in cases {
            assert_eq!(
                fetch(std::slice::from_ref(&item)),
                format!("* 3 FETCH ({expected})\r\n"),
                "{item:?}"
            );
        }
    }

    #[test]
    fn partial_fetches_cut_the_section_and_name_the_origin() {
        let cases = [
            (body(&[], None, Some((0, 4))), "BODY[]<0> {4}\r\nFrom"),
            (
                body(&[3, 1], None, Some((6, 100))),
                "BODY[3.1]<6> {4}\r\nbody",
            ),
            (body(&[3, 1], None, Some((10, 5))), "BODY[3.1]<10> {0}\r\n"),
            (
                body(&[3, 1], None, Some((4_000_000_000, 5))),
                "BODY[3.1]<4000000000> {0}\r\n",
            ),
            (
                body(&[3, 1], None, Some((2, u32::MAX))),
                "BODY[3.1]<2> {8}\r\nner body",
            ),
            (body(&[3, 1], None, Some((0, 0))), "BODY[3.1]<0> {0}\r\n"),
        ];
        for (item, expected) in cases {
            assert_eq!(
                fetch(std::slice::from_ref(&item)),
                format!("* 3 FETCH ({expected})\r\n"),
                "{item:?}"
            );
        }
    }

    #[test]
    fn rfc822_items_are_whole_header_and_text() {
        let header_len = RAW.find("\r\n\r\n").expect("blank line") + 4;
        let out = fetch(&[
            FetchAttr::Rfc822Header,
            FetchAttr::Rfc822Text,
            FetchAttr::Rfc822,
        ]);
        assert_eq!(
            out,
            format!(
                "* 3 FETCH (RFC822.HEADER {{{}}}\r\n{} RFC822.TEXT {{{}}}\r\n{} RFC822 {{{}}}\r\n{RAW})\r\n",
                header_len,
                &RAW[..header_len],
                RAW.len() - header_len,
                &RAW[header_len..],
                RAW.len()
            )
        );
    }

    fn binary(part: &[u32], partial: Option<(u32, u32)>) -> FetchAttr {
        FetchAttr::Binary {
            peek: true,
            part: part.to_vec(),
            partial,
        }
    }

    #[test]
    fn binary_decodes_the_transfer_encoding() {
        let cases: Vec<(FetchAttr, &[u8])> = vec![
            (
                binary(&[1], None),
                "BINARY[1] {18}\r\nGrüße\r\nsoftbreak".as_bytes(),
            ),
            (binary(&[2], None), b"BINARY[2] ~{6}\r\n\x00\x01\x02ABC"),
            (binary(&[2], Some((3, 2))), b"BINARY[2]<3> {2}\r\nAB"),
            (binary(&[3, 1], None), b"BINARY[3.1] {10}\r\ninner body"),
            (binary(&[7], None), b"BINARY[7] \"\""),
            (
                FetchAttr::BinarySize { part: vec![1] },
                b"BINARY.SIZE[1] 18",
            ),
            (FetchAttr::BinarySize { part: vec![2] }, b"BINARY.SIZE[2] 6"),
            (FetchAttr::BinarySize { part: vec![7] }, b"BINARY.SIZE[7] 0"),
        ];
        for (item, expected) in cases {
            let meta = meta();
            let index = MessageIndex::parse(RAW.as_bytes());
            let msg = FetchMessage {
                meta: (&meta).into(),
                index: Some(&index),
                content: Some(RAW.as_bytes()),
            };
            let mut out = Vec::new();
            write_fetch(
                &mut out,
                3,
                &msg,
                std::slice::from_ref(&item),
                &FetchOptions::default(),
            )
            .expect("renders");
            let mut want = b"* 3 FETCH (".to_vec();
            want.extend_from_slice(expected);
            want.extend_from_slice(b")\r\n");
            assert_eq!(out, want, "{item:?}: {:?}", String::from_utf8_lossy(&out));
        }
        let whole = fetch(&[binary(&[], None)]);
        assert_eq!(
            whole,
            format!("* 3 FETCH (BINARY[] {{{}}}\r\n{RAW})\r\n", RAW.len())
        );
    }

    #[test]
    fn unknown_encoding_fails_the_message_and_writes_nothing() {
        let meta = meta();
        let index = MessageIndex::parse(RAW.as_bytes());
        let msg = FetchMessage {
            meta: (&meta).into(),
            index: Some(&index),
            content: Some(RAW.as_bytes()),
        };
        for item in [binary(&[4], None), FetchAttr::BinarySize { part: vec![4] }] {
            let mut out = b"previous response\r\n".to_vec();
            let err = write_fetch(
                &mut out,
                3,
                &msg,
                &[FetchAttr::Uid, item],
                &FetchOptions::default(),
            )
            .expect_err("x-uuencode is not decodable");
            assert_eq!(err, FetchError::UnknownCte("x-uuencode".into()));
            assert!(err.is_refusal());
            assert_eq!(out, b"previous response\r\n");
        }
    }

    #[test]
    fn missing_loads_are_errors_not_panics() {
        let meta = meta();
        let msg = FetchMessage {
            meta: (&meta).into(),
            index: None,
            content: None,
        };
        let cases = [
            (FetchAttr::Envelope, FetchError::MissingIndex),
            (body(&[], None, None), FetchError::MissingContent),
            (FetchAttr::Rfc822, FetchError::MissingContent),
            (binary(&[], None), FetchError::MissingContent),
        ];
        for (item, expected) in cases {
            let mut out = Vec::new();
            let err = write_fetch(&mut out, 1, &msg, &[item], &FetchOptions::default())
                .expect_err("nothing loaded");
            assert_eq!(err, expected);
            assert!(!err.is_refusal());
            assert!(out.is_empty());
        }
        let content = FetchMessage {
            meta: (&meta).into(),
            index: None,
            content: Some(RAW.as_bytes()),
        };
        let mut out = Vec::new();
        let err = write_fetch(
            &mut out,
            1,
            &content,
            &[body(&[1], None, None)],
            &FetchOptions::default(),
        );
        assert_eq!(err, Err(FetchError::MissingIndex));
    }

    #[test]
    fn index_of_another_message_gives_empty_sections() {
        // A content that does not match the index (a store bug) must not panic.
        let meta = meta();
        let index = MessageIndex::parse(RAW.as_bytes());
        let other = b"Subject: other\r\n\r\nshort";
        let msg = FetchMessage {
            meta: (&meta).into(),
            index: Some(&index),
            content: Some(other),
        };
        let mut out = Vec::new();
        write_fetch(
            &mut out,
            1,
            &msg,
            &[body(&[1], None, None), binary(&[2], None)],
            &FetchOptions::default(),
        )
        .expect("renders");
        assert_eq!(out, b"* 1 FETCH (BODY[1] \"\" BINARY[2] \"\")\r\n");
    }

    #[test]
    fn single_part_messages_have_part_one_and_nul_is_replaced_outside_binary() {
        let raw = "Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nAGE=\r\n";
        let out = fetch_raw(
            raw,
            &[body(&[1], None, None), binary(&[1], None)],
            FetchOptions::default(),
        );
        assert_eq!(
            out,
            "* 3 FETCH (BODY[1] {6}\r\nAGE=\r\n BINARY[1] ~{2}\r\n\0a)\r\n"
        );
        let raw = "Subject: x\r\n\r\na\0b";
        let out = fetch_bytes(
            raw,
            &[body(&[], Some(SectionText::Text), None)],
            FetchOptions::default(),
        );
        assert_eq!(out, b"* 3 FETCH (BODY[TEXT] {3}\r\na\x80b)\r\n");
        // A message without a blank line is all header.
        let raw = "Subject: only header";
        let out = fetch_raw(
            raw,
            &[body(
                &[],
                Some(SectionText::HeaderFields(names(&["subject"]))),
                None,
            )],
            FetchOptions::default(),
        );
        assert_eq!(
            out,
            "* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: only header\r\n\r\n)\r\n"
        );
    }

    #[test]
    fn needs_and_seen_follow_the_items() {
        let cases = [
            (
                vec![
                    FetchAttr::Flags,
                    FetchAttr::Uid,
                    FetchAttr::Rfc822Size,
                    FetchAttr::InternalDate,
                    FetchAttr::ModSeq,
                    FetchAttr::SaveDate,
                ],
                Needs {
                    index: false,
                    content: false,
                },
                false,
            ),
            (
                vec![FetchAttr::Envelope],
                Needs {
                    index: true,
                    content: false,
                },
                false,
            ),
            (
                vec![FetchAttr::BodyStructure],
                Needs {
                    index: true,
                    content: false,
                },
                false,
            ),
            (
                vec![body(&[], Some(SectionText::Header), None)],
                Needs {
                    index: false,
                    content: true,
                },
                false,
            ),
            (
                vec![body(&[2], None, None)],
                Needs {
                    index: true,
                    content: true,
                },
                false,
            ),
            (
                vec![binary(&[], None)],
                Needs {
                    index: false,
                    content: true,
                },
                false,
            ),
            (
                vec![FetchAttr::BinarySize { part: vec![1] }],
                Needs {
                    index: true,
                    content: true,
                },
                false,
            ),
            (
                vec![FetchAttr::Rfc822Header],
                Needs {
                    index: false,
                    content: true,
                },
                false,
            ),
            (
                vec![FetchAttr::Rfc822Text],
                Needs {
                    index: false,
                    content: true,
                },
                true,
            ),
            (
                vec![FetchAttr::Rfc822],
                Needs {
                    index: false,
                    content: true,
                },
                true,
            ),
            (
                vec![FetchAttr::BodySection {
                    peek: false,
                    section: Section::default(),
                    partial: None,
                }],
                Needs {
                    index: false,
                    content: true,
                },
                true,
            ),
            (
                vec![FetchAttr::Binary {
                    peek: false,
                    part: vec![1],
                    partial: None,
                }],
                Needs {
                    index: true,
                    content: true,
                },
                true,
            ),
        ];
        for (items, expected, seen) in cases {
            assert_eq!(needs(&items), expected, "{items:?}");
            assert_eq!(sets_seen(&items), seen, "{items:?}");
        }
    }

    #[test]
    fn decoders_are_lenient() {
        let base64: &[(&[u8], &[u8])] = &[
            (b"SGVsbG8=", b"Hello"),
            (b"SGVs\r\nbG8h", b"Hello!"),
            (b"SG Vs*bG8", b"Hello"),
            (b"SGVsbA", b"Hell"),
            (b"S", b""),
            (b"", b""),
            (b"AA==trailing", b"\0"),
        ];
        for (input, expected) in base64 {
            assert_eq!(decode_base64(input), *expected, "{input:?}");
        }
        let qp: &[(&[u8], &[u8])] = &[
            (b"a=3Db", b"a=b"),
            (b"caf=e9", b"caf\xe9"),
            (b"soft=\r\nbreak", b"softbreak"),
            (b"soft= \t\r\nbreak", b"softbreak"),
            (b"pad   \r\nnext", b"pad\r\nnext"),
            (b"bare\nlf", b"bare\nlf"),
            (b"bad=ZZ=", b"bad=ZZ"),
            (b"end=4", b"end=4"),
            (b"=", b""),
            (b"", b""),
        ];
        for (input, expected) in qp {
            assert_eq!(decode_quoted_printable(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn header_fields_iterate_folded_fields() {
        let header = b"A: 1\r\nB : two\r\n  more\r\nno colon\r\nC:3\n\r\nbody: x\r\n";
        let fields: Vec<(&[u8], &[u8])> = HeaderFields::new(header)
            .map(|f| (f.name, f.value))
            .collect();
        assert_eq!(
            fields,
            vec![
                (&b"A"[..], &b" 1\r\n"[..]),
                (b"B", b" two\r\n  more\r\n"),
                (b"", b"no colon\r\n"),
                (b"C", b"3\n"),
            ]
        );
    }

    #[test]
    fn numbers_render_without_allocation_helpers() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        let mut out = Vec::new();
        push_padded(&mut out, 7, 4);
        push_padded(&mut out, 12345, 2);
        assert_eq!(out, b"000712345");
    }
}
