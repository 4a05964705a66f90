//! The IMAP BODYSTRUCTURE tree (RFC 9051 §7.5.2, RFC 3501 §7.4.2) with the byte offsets of every
//! part, built from `mail-parser`'s part list and the raw MIME header fields.
//!
//! `mail-parser` decides the structure (where each part starts and ends); the values IMAP sends
//! (parameters, Content-ID, description, encoding, ...) are read from the raw header fields,
//! because IMAP wants them as they are on the wire: RFC 2231 parameters stay in their `name*`
//! form and encoded-words stay encoded, for the client to decode.

use std::ops::Range;

use mail_parser::{Encoding, HeaderName, Message, MessagePart, PartType};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::raw;

/// Deepest nesting of multiparts and encapsulated messages that is described part by part.
///
/// A deeper multipart or message/rfc822 part is described as one opaque
/// `application/octet-stream` part (its bytes stay reachable as a whole). Real mail nests a
/// handful of levels; the bound keeps recursion (here, in the renderers, and in `serde_json`,
/// whose decoder refuses more than 128 levels of JSON nesting) safe on hostile input. Dovecot has
/// the same kind of limit (100 nested MIME parts).
pub const MAX_DEPTH: usize = 24;

/// A MIME part of a message, in the shape of the IMAP BODYSTRUCTURE, with its place in the raw
/// message.
///
/// Case-insensitive tokens (media type and subtype, encoding, parameter and disposition names)
/// are stored lowercase; the renderer sends them uppercase, like the RFC 9051 examples. Values
/// (parameter values, ids, descriptions) are stored as the message has them.
///
/// `path` is the IMAP part number (RFC 9051 §6.4.5): children of a multipart are numbered from 1
/// (`"1"`, `"1.2"`, ...). The root body of a message carries the number of the message itself:
/// `""` for the top level, `"2"` for the message inside the message/rfc822 part `"2"`. When that
/// root body is not a multipart, IMAP also calls it part `1` of that message (`BODY[1]`,
/// `BODY[2.1]`), and the parts of a message it encapsulates are numbered below that part 1
/// (`1.1`, `2.1.1`); [`crate::MessageIndex::section`] resolves that. The numbers are given from
/// the finished tree by the same rule lookup follows (`numbering`), so every number listed here
/// finds its part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BodyStructure {
    /// Any part that is not a multipart (`body-type-1part`).
    Single {
        /// Media type, e.g. `text` (RFC 2045 §5; lowercase).
        media_type: String,
        /// Media subtype, e.g. `plain` (lowercase).
        subtype: String,
        /// `Content-Type` parameters in message order, names lowercase, RFC 2231 continuations
        /// joined (`filename*0*`, `filename*1*` become `filename*`). A text part without a
        /// charset gets `("charset", "US-ASCII")`, the RFC 2046 §4.1.2 default.
        params: Vec<(String, String)>,
        /// Raw `Content-ID` value, angle brackets included.
        id: Option<String>,
        /// Raw `Content-Description` value.
        description: Option<String>,
        /// `Content-Transfer-Encoding`, lowercase; `7bit` when absent (RFC 2045 §6.1).
        encoding: String,
        /// Size of the body in octets, in its transfer encoding (RFC 9051 §7.5.2).
        size_octets: u64,
        /// Number of lines of the body (still encoded), for text/* and message/rfc822 parts.
        lines: Option<u64>,
        /// Raw `Content-MD5` value (RFC 1864), if the part has one.
        md5: Option<String>,
        /// `Content-Disposition` (RFC 2183).
        disposition: Option<Disposition>,
        /// `Content-Language` tags (RFC 3282); empty is NIL.
        language: Vec<String>,
        /// Raw `Content-Location` value (RFC 2557).
        location: Option<String>,
        /// For message/rfc822: the envelope and structure of the encapsulated message.
        ///
        /// RFC 2046 §5.2.1 forbids encoding a message/rfc822 body; when a message does it
        /// anyway (base64 or quoted-printable), the structure describes the decoded message, but
        /// its parts have no bytes of their own in the raw message: their ranges are empty and
        /// [`crate::MessageIndex::section`] does not address them.
        message: Option<Box<(Envelope, BodyStructure)>>,
        /// The part's MIME header, blank line included (`BODY[path.MIME]`).
        header: Range<u64>,
        /// The part's body, still encoded (`BODY[path]`).
        body: Range<u64>,
        /// IMAP part number; see the type documentation.
        path: String,
    },
    /// A multipart (`body-type-mpart`).
    Multipart {
        /// The parts, in order; never empty (RFC 9051 `1*body`: a multipart without any part
        /// gets one empty text/plain part, as Dovecot does).
        parts: Vec<BodyStructure>,
        /// Multipart subtype, e.g. `mixed` (lowercase).
        subtype: String,
        /// `Content-Type` parameters (the boundary among them), as for [`BodyStructure::Single`].
        params: Vec<(String, String)>,
        /// `Content-Disposition` (RFC 2183).
        disposition: Option<Disposition>,
        /// `Content-Language` tags (RFC 3282); empty is NIL.
        language: Vec<String>,
        /// Raw `Content-Location` value (RFC 2557).
        location: Option<String>,
        /// The multipart's MIME header, blank line included.
        header: Range<u64>,
        /// The multipart's body: preamble, parts with their boundaries, epilogue.
        body: Range<u64>,
        /// IMAP part number; see the type documentation.
        path: String,
    },
}

/// A `Content-Disposition` (RFC 2183): `inline` or `attachment` and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// Disposition type, lowercase (`attachment`, `inline`, ...).
    pub kind: String,
    /// Parameters (`filename`, `size`, ...), as for `Content-Type`.
    pub params: Vec<(String, String)>,
}

impl BodyStructure {
    /// The part's MIME header range (for the root body of a message: the message header).
    pub fn header(&self) -> &Range<u64> {
        match self {
            BodyStructure::Single { header, .. } | BodyStructure::Multipart { header, .. } => {
                header
            }
        }
    }

    /// The part's body range.
    pub fn body(&self) -> &Range<u64> {
        match self {
            BodyStructure::Single { body, .. } | BodyStructure::Multipart { body, .. } => body,
        }
    }

    /// The IMAP part number (see the type documentation).
    pub fn path(&self) -> &str {
        match self {
            BodyStructure::Single { path, .. } | BodyStructure::Multipart { path, .. } => path,
        }
    }

    /// `type/subtype`, lowercase.
    pub fn mime_type(&self) -> String {
        match self {
            BodyStructure::Single {
                media_type,
                subtype,
                ..
            } => format!("{media_type}/{subtype}"),
            BodyStructure::Multipart { subtype, .. } => format!("multipart/{subtype}"),
        }
    }

    /// The value of the `Content-Type` parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        let params = match self {
            BodyStructure::Single { params, .. } | BodyStructure::Multipart { params, .. } => {
                params
            }
        };
        find_param(params, name)
    }

    /// The file name a client would show: disposition `filename`, else content-type `name`.
    pub fn filename(&self) -> Option<&str> {
        let disposition = match self {
            BodyStructure::Single { disposition, .. }
            | BodyStructure::Multipart { disposition, .. } => disposition.as_ref(),
        };
        disposition
            .and_then(|d| find_param(&d.params, "filename").or(find_param(&d.params, "filename*")))
            .or(self.param("name"))
            .or(self.param("name*"))
    }

    /// Whether this part or one below it is what mail clients list as an attachment.
    ///
    /// A leaf part counts when its disposition is `attachment`, when it is an encapsulated
    /// message, or when it has a file name and is not an inline part of a multipart/related
    /// (those are the images an HTML body shows). Apple Mail marks real attachments `inline`
    /// with a file name, hence the file name rule.
    pub fn has_attachments(&self) -> bool {
        self.attachment_below(false)
    }

    fn attachment_below(&self, in_related: bool) -> bool {
        match self {
            BodyStructure::Multipart { parts, subtype, .. } => {
                let related = subtype == "related";
                parts.iter().any(|p| p.attachment_below(related))
            }
            BodyStructure::Single {
                media_type,
                subtype,
                disposition,
                ..
            } => {
                let kind = disposition.as_ref().map(|d| d.kind.as_str());
                if kind == Some("attachment") || (media_type == "message" && subtype == "rfc822") {
                    return true;
                }
                self.filename().is_some() && !(in_related && kind != Some("attachment"))
            }
        }
    }
}

fn find_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Walks one `mail-parser` message (top level or encapsulated) and builds its tree.
struct Walk<'m, 'x> {
    message: &'m Message<'x>,
    /// The buffer the message's offsets point into.
    raw: &'m [u8],
    /// Where `raw` starts in the stored message, added to every range.
    base: u64,
}

impl Walk<'_, '_> {
    fn range(&self, range: Range<usize>) -> Range<u64> {
        let range = raw::clamp(self.raw.len(), range);
        self.base + range.start as u64..self.base + range.end as u64
    }

    fn bytes(&self, range: &Range<usize>) -> &[u8] {
        &self.raw[raw::clamp(self.raw.len(), range.clone())]
    }

    /// Builds the node of part `id`, whose header and body are `header` and `body` in `raw`.
    fn node(
        &self,
        id: usize,
        header: Range<usize>,
        body: Range<usize>,
        depth: usize,
        in_digest: bool,
    ) -> BodyStructure {
        let Some(part) = self.message.parts.get(id) else {
            return empty_text(self.range(body.start..body.start).start);
        };
        let headers = &part.headers;
        let text = |name: HeaderName<'static>| {
            raw::last(headers, &name)
                .map(|h| raw::value(self.raw, h))
                .filter(|v| !v.is_empty())
        };
        // RFC 2045 §5.2: a missing or syntactically invalid Content-Type means text/plain;
        // RFC 2046 §5.1.5: inside multipart/digest the default is message/rfc822.
        let content_type = raw::last(headers, &HeaderName::ContentType).and_then(|h| {
            let ct = h.value.as_content_type()?;
            let subtype = ct.subtype().filter(|s| !s.is_empty())?;
            let (_, params) = parse_content_header(&raw::value(self.raw, h));
            Some((
                ct.ctype().to_ascii_lowercase(),
                subtype.to_ascii_lowercase(),
                params,
            ))
        });
        let (media_type, subtype, params) = content_type.unwrap_or_else(|| {
            if in_digest {
                ("message".into(), "rfc822".into(), Vec::new())
            } else {
                ("text".into(), "plain".into(), Vec::new())
            }
        });
        let disposition = raw::last(headers, &HeaderName::ContentDisposition).and_then(|h| {
            let (kind, params) = parse_content_header(&raw::value(self.raw, h));
            let kind = raw::strip_comments(&kind).to_ascii_lowercase();
            (!kind.is_empty()).then_some(Disposition { kind, params })
        });
        let language = text(HeaderName::ContentLanguage)
            .map(|v| {
                raw::strip_comments(&v)
                    .split([',', ' ', '\t'])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let location = text(HeaderName::ContentLocation);

        if media_type == "multipart"
            && let PartType::Multipart(ids) = &part.body
            && depth < MAX_DEPTH
        {
            let in_digest = subtype == "digest";
            let mut parts: Vec<BodyStructure> = ids
                .iter()
                .map(|&c| c as usize)
                // mail-parser lists parts in document order, so children come after their
                // parent; requiring it rules out cycles whatever a corrupt parse returns.
                .filter(|&c| c > id && c < self.message.parts.len())
                .map(|c| {
                    let (h, b) = part_ranges(&self.message.parts[c]);
                    self.node(c, h, b, depth + 1, in_digest)
                })
                .collect();
            if parts.is_empty() {
                parts.push(empty_text(self.range(body.clone()).end));
            }
            return BodyStructure::Multipart {
                parts,
                subtype,
                params,
                disposition,
                language,
                location,
                header: self.range(header),
                body: self.range(body),
                path: String::new(),
            };
        }

        let encoding = text(HeaderName::ContentTransferEncoding)
            .map(|v| raw::strip_comments(&v).to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "7bit".to_string());
        let body_bytes = self.bytes(&body);
        let is_message = media_type == "message" && subtype == "rfc822";
        let (media_type, subtype, mut params) =
            if depth >= MAX_DEPTH && (is_message || media_type == "multipart") {
                (
                    "application".to_string(),
                    "octet-stream".to_string(),
                    Vec::new(),
                )
            } else if media_type == "multipart" {
                // No boundary, or it never occurs: mail-parser read the body as text, and so do we.
                ("text".to_string(), "plain".to_string(), Vec::new())
            } else {
                (media_type, subtype, params)
            };
        let message = (is_message && depth < MAX_DEPTH)
            .then(|| Box::new(self.encapsulated(part, &body, depth + 1)));
        let is_text = media_type == "text";
        if is_text && find_param(&params, "charset").is_none() {
            // RFC 2046 §4.1.2: the default charset of text/* is US-ASCII.
            params.push(("charset".to_string(), "US-ASCII".to_string()));
        }
        BodyStructure::Single {
            lines: (is_text || message.is_some()).then(|| raw::count_lines(body_bytes)),
            media_type,
            subtype,
            params,
            id: text(HeaderName::ContentId),
            description: text(HeaderName::ContentDescription),
            encoding,
            size_octets: body_bytes.len() as u64,
            md5: text(HeaderName::ContentMd5),
            disposition,
            language,
            location,
            message,
            header: self.range(header),
            body: self.range(body),
            path: String::new(),
        }
    }

    /// The envelope and structure of the message inside the message/rfc822 `part`.
    fn encapsulated(
        &self,
        part: &MessagePart<'_>,
        body: &Range<usize>,
        depth: usize,
    ) -> (Envelope, BodyStructure) {
        match &part.body {
            // Parsed in place: the nested offsets point into the same buffer.
            PartType::Message(nested) if part.encoding == Encoding::None => {
                let walk = Walk {
                    message: nested,
                    raw: self.raw,
                    base: self.base,
                };
                walk.message_tree(body.clone(), depth)
            }
            // Decoded first (base64 or quoted-printable, RFC 2046 §5.2.1 forbids both): the
            // nested offsets point into the decoded copy, which the stored message does not hold.
            PartType::Message(nested) => {
                let walk = Walk {
                    message: nested,
                    raw: nested.raw_message.as_ref(),
                    base: 0,
                };
                let (envelope, mut tree) = walk.message_tree(0..nested.raw_message.len(), depth);
                tree.collapse_ranges(self.range(body.clone()).start);
                (envelope, tree)
            }
            // mail-parser gave up on the nested message; read it again on its own.
            _ => {
                let slice = self.bytes(body);
                let base = self.range(body.clone()).start;
                match raw::parse_message(slice) {
                    Some(nested) => {
                        let walk = Walk {
                            message: &nested,
                            raw: slice,
                            base,
                        };
                        walk.message_tree(0..slice.len(), depth)
                    }
                    _ => unparsed_message(slice, base),
                }
            }
        }
    }

    /// The envelope and tree of this walk's message, which spans `extent` of `raw`.
    fn message_tree(&self, extent: Range<usize>, depth: usize) -> (Envelope, BodyStructure) {
        let Some(root) = self.message.parts.first() else {
            return unparsed_message(self.bytes(&extent), self.range(extent).start);
        };
        let extent = raw::clamp(self.raw.len(), extent);
        let body_start = (root.offset_body as usize).clamp(extent.start, extent.end);
        let envelope = Envelope::from_headers(&root.headers, self.raw);
        let tree = self.node(
            0,
            extent.start..body_start,
            body_start..extent.end,
            depth,
            false,
        );
        (envelope, tree)
    }
}

/// The header and body ranges `mail-parser` recorded for a part.
fn part_ranges(part: &MessagePart<'_>) -> (Range<usize>, Range<usize>) {
    let (h, b, e) = (
        part.offset_header as usize,
        part.offset_body as usize,
        part.offset_end as usize,
    );
    let b = b.max(h);
    (h..b, b..e.max(b))
}

impl BodyStructure {
    /// Empties every range of this tree at `at` (see [`BodyStructure::Single::message`]).
    fn collapse_ranges(&mut self, at: u64) {
        match self {
            BodyStructure::Single {
                header,
                body,
                message,
                ..
            } => {
                *header = at..at;
                *body = at..at;
                if let Some(inner) = message {
                    inner.1.collapse_ranges(at);
                }
            }
            BodyStructure::Multipart {
                header,
                body,
                parts,
                ..
            } => {
                *header = at..at;
                *body = at..at;
                parts.iter_mut().for_each(|p| p.collapse_ranges(at));
            }
        }
    }
}

/// The tree of the whole message `raw` (at offset 0), or of a message `mail-parser` cannot read.
pub(crate) fn message_tree(message: &Message<'_>, raw: &[u8]) -> (Envelope, BodyStructure) {
    let walk = Walk {
        message,
        raw,
        base: 0,
    };
    walk.message_tree(0..raw.len(), 0)
}

/// A message without any header `mail-parser` recognises: no envelope, a text/plain body after
/// the first blank line (RFC 5322 §2.1), or an all-header message without one.
pub(crate) fn unparsed_message(raw: &[u8], base: u64) -> (Envelope, BodyStructure) {
    let header_len = raw::header_end(raw);
    let body = &raw[header_len..];
    let tree = BodyStructure::Single {
        media_type: "text".into(),
        subtype: "plain".into(),
        params: vec![("charset".into(), "US-ASCII".into())],
        id: None,
        description: None,
        encoding: "7bit".into(),
        size_octets: body.len() as u64,
        lines: Some(raw::count_lines(body)),
        md5: None,
        disposition: None,
        language: Vec::new(),
        location: None,
        message: None,
        header: base..base + header_len as u64,
        body: base + header_len as u64..base + raw.len() as u64,
        path: String::new(),
    };
    (Envelope::default(), tree)
}

/// An empty text/plain part at offset `at` (stands in for the parts of an empty multipart).
fn empty_text(at: u64) -> BodyStructure {
    BodyStructure::Single {
        media_type: "text".into(),
        subtype: "plain".into(),
        params: vec![("charset".into(), "US-ASCII".into())],
        id: None,
        description: None,
        encoding: "7bit".into(),
        size_octets: 0,
        lines: Some(0),
        md5: None,
        disposition: None,
        language: Vec::new(),
        location: None,
        message: None,
        header: at..at,
        body: at..at,
        path: String::new(),
    }
}

/// Splits a raw `Content-Type` or `Content-Disposition` value into its leading token and its
/// parameters.
///
/// ```text
/// content   := "Content-Type" ":" type "/" subtype *(";" parameter)   ; RFC 2045 §5.1
/// parameter := attribute "=" value
/// value     := token / quoted-string
/// ```
///
/// Parameter names are lowercased, quoted values unquoted, comments dropped, and RFC 2231
/// continuations joined ([`join_continuations`]). Nothing is decoded.
pub(crate) fn parse_content_header(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = split_unquoted(value, ';').into_iter();
    let main = pieces
        .next()
        .map(|m| raw::strip_comments(&m))
        .unwrap_or_default();
    let mut params = Vec::new();
    for piece in pieces {
        let Some((name, value)) = piece.split_once('=') else {
            continue;
        };
        let name = raw::strip_comments(name).to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        params.push((name, unquote(value)));
    }
    (main, join_continuations(params))
}

/// Splits at `sep` outside quoted strings and comments.
fn split_unquoted(value: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut in_quote, mut depth, mut escaped) = (false, 0usize, false);
    for ch in value.chars() {
        if escaped {
            escaped = false;
            current.push(ch);
            continue;
        }
        match ch {
            '\\' if in_quote || depth > 0 => escaped = true,
            '"' if depth == 0 => in_quote = !in_quote,
            '(' if !in_quote => depth += 1,
            ')' if !in_quote && depth > 0 => depth -= 1,
            c if c == sep && !in_quote && depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    out.push(current);
    out
}

/// A parameter value: quoted-string content with quoting removed, or the token with comments
/// and surrounding white space removed.
fn unquote(value: &str) -> String {
    let value = value.trim();
    let Some(inner) = value.strip_prefix('"') else {
        return raw::strip_comments(value);
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => out.extend(chars.next()),
            '"' => break,
            _ => out.push(ch),
        }
    }
    out
}

/// Joins RFC 2231 §3 continuations (`name*0`, `name*1*`, ...) into one parameter, in place of
/// the first segment: `name` when no segment is extended, else `name*` with the
/// `charset'language'` prefix of segment 0 kept and plain segments percent-encoded (RFC 2231
/// §4: mixing is allowed). This is the form Dovecot sends and IMAP clients decode.
fn join_continuations(params: Vec<(String, String)>) -> Vec<(String, String)> {
    enum Slot {
        Plain(String, String),
        Joined(usize),
    }
    struct Group {
        base: String,
        segments: Vec<(u32, bool, String)>,
    }
    let mut slots = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for (name, value) in params {
        let segment = name.split_once('*').and_then(|(base, rest)| {
            let extended = rest.ends_with('*');
            let number = rest.strip_suffix('*').unwrap_or(rest).parse::<u32>().ok()?;
            Some((base.to_string(), number, extended))
        });
        match segment {
            Some((base, number, extended)) => {
                match groups.iter_mut().position(|g| g.base == base) {
                    Some(g) => groups[g].segments.push((number, extended, value)),
                    None => {
                        slots.push(Slot::Joined(groups.len()));
                        groups.push(Group {
                            base,
                            segments: vec![(number, extended, value)],
                        });
                    }
                }
            }
            None => slots.push(Slot::Plain(name, value)),
        }
    }
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Plain(name, value) => (name, value),
            Slot::Joined(g) => {
                let group = &mut groups[g];
                group.segments.sort_by_key(|s| s.0);
                group.segments.dedup_by_key(|s| s.0);
                let extended = group.segments.iter().any(|s| s.1);
                let mut value = String::new();
                for (_, is_extended, text) in &group.segments {
                    if extended && !is_extended {
                        percent_encode(text, &mut value);
                    } else {
                        value.push_str(text);
                    }
                }
                let name = if extended {
                    format!("{}*", group.base)
                } else {
                    group.base.clone()
                };
                (name, value)
            }
        })
        .collect()
}

/// RFC 2231 §7 `extended-other-values`: bytes outside `attribute-char` become `%XX`.
fn percent_encode(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        let plain = b.is_ascii_graphic() && !b"*'%()<>@,;:\\\"/[]?=".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// (header value, leading token, parameters)
    type ContentCase = (&'static str, &'static str, Vec<(String, String)>);

    #[test]
    fn content_headers_split_into_token_and_params() {
        let cases: Vec<ContentCase> = vec![
            ("text/plain", "text/plain", vec![]),
            (
                "text/plain; charset=\"utf-8\"; format=flowed",
                "text/plain",
                pairs(&[("charset", "utf-8"), ("format", "flowed")]),
            ),
            (
                "multipart/mixed;\r\n boundary=\"b1;not=param\"",
                "multipart/mixed",
                pairs(&[("boundary", "b1;not=param")]),
            ),
            (
                "attachment; FileName=\"a \\\"quoted\\\" name.txt\"",
                "attachment",
                pairs(&[("filename", "a \"quoted\" name.txt")]),
            ),
            (
                "text/plain (comment; here) ; charset=us-ascii (Plain text)",
                "text/plain",
                pairs(&[("charset", "us-ascii")]),
            ),
            (
                "attachment; filename==?UTF-8?B?w6kudHh0?=",
                "attachment",
                pairs(&[("filename", "=?UTF-8?B?w6kudHh0?=")]),
            ),
            ("image/png; ; junk; =x", "image/png", vec![]),
            ("", "", vec![]),
        ];
        for (input, main, params) in cases {
            assert_eq!(
                parse_content_header(input),
                (main.to_string(), params),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn rfc2231_continuations_are_joined() {
        let cases: Vec<(&str, Vec<(String, String)>)> = vec![
            (
                // RFC 2231 §3 example.
                "message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
                pairs(&[
                    ("access-type", "URL"),
                    (
                        "url",
                        "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar",
                    ),
                ]),
            ),
            (
                // RFC 2231 §4.1 example: mixed extended and plain segments.
                "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
                pairs(&[(
                    "title*",
                    "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!",
                )]),
            ),
            (
                "attachment; filename*=utf-8''%C3%A9t%C3%A9.pdf; size=10",
                pairs(&[("filename*", "utf-8''%C3%A9t%C3%A9.pdf"), ("size", "10")]),
            ),
            (
                "attachment; filename*1=\"b.txt\"; filename*0=\"a\"; x*y=1",
                pairs(&[("filename", "ab.txt"), ("x*y", "1")]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_content_header(input).1, expected, "input {input:?}");
        }
    }

    #[test]
    fn unparsed_message_is_text_after_the_first_blank_line() {
        let (envelope, tree) = unparsed_message(b"garbage\n\nline one\nline two", 10);
        assert_eq!(envelope, Envelope::default());
        assert_eq!(*tree.header(), 10..19);
        assert_eq!(*tree.body(), 19..36);
        assert_eq!(tree.mime_type(), "text/plain");
        match tree {
            BodyStructure::Single {
                lines, size_octets, ..
            } => {
                assert_eq!((lines, size_octets), (Some(2), 17));
            }
            BodyStructure::Multipart { .. } => panic!("expected a single part"),
        }
    }
}
