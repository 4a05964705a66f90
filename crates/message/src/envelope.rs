//! The IMAP ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) built from the raw header fields.
//!
//! IMAP sends header values as they are on the wire, unfolded but not decoded: encoded-words
//! (RFC 2047) stay encoded and the client decodes them. That is why the ENVELOPE has its own small
//! address parser over the raw text instead of reusing `mail-parser`'s decoded addresses.

use mail_parser::{Header, HeaderName};
use serde::{Deserialize, Serialize};

use crate::raw;

/// Mailbox name used when an address has no local part, so that the entry is not mistaken for a
/// group marker (whose host is NIL). The value is UW-IMAP's (c-client), the reference server.
pub const MISSING_MAILBOX: &str = "MISSING_MAILBOX";

/// Host name used when an address has no domain (`To: root`): RFC 9051 §7.5.2 reserves a NIL host
/// for group markers, so a plain mailbox must carry some host. The value is UW-IMAP's (c-client).
pub const MISSING_HOST: &str = ".MISSING-HOST-NAME.";

/// The IMAP ENVELOPE of a message, exactly as [`crate::write_envelope`] sends it.
///
/// Strings are the raw header values, unfolded and trimmed but not decoded (RFC 9051 §7.5.2:
/// encoded-words are left for the client). `None` is NIL: the field is absent. `sender` and
/// `reply_to` already hold `from` when their header is absent or empty, as RFC 9051 §7.5.2 asks of
/// the server ("the client is not expected to know how to do this").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Raw `Date:` value.
    pub date: Option<String>,
    /// Raw `Subject:` value, encoded-words left encoded.
    pub subject: Option<String>,
    /// `From:` addresses; empty is NIL.
    pub from: Vec<EnvelopeAddr>,
    /// `Sender:` addresses, or `from` when absent or empty.
    pub sender: Vec<EnvelopeAddr>,
    /// `Reply-To:` addresses, or `from` when absent or empty.
    pub reply_to: Vec<EnvelopeAddr>,
    /// `To:` addresses; empty is NIL.
    pub to: Vec<EnvelopeAddr>,
    /// `Cc:` addresses; empty is NIL.
    pub cc: Vec<EnvelopeAddr>,
    /// `Bcc:` addresses; empty is NIL.
    pub bcc: Vec<EnvelopeAddr>,
    /// Raw `In-Reply-To:` value.
    pub in_reply_to: Option<String>,
    /// Raw `Message-ID:` value, angle brackets included.
    pub message_id: Option<String>,
}

/// One IMAP `address` structure: `(name adl mailbox host)` (RFC 9051 §7.5.2).
///
/// RFC 5322 groups are flattened into the list with markers, as the RFC says: a group start has a
/// NIL host and the group's display name in `mailbox`; a group end has NIL `mailbox` and `host`.
/// A real mailbox therefore always has a host ([`MISSING_HOST`] when the message gave none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeAddr {
    /// The display name (phrase) with RFC 5322 quoting removed but encoded-words kept; when there
    /// is no phrase, the text of a comment such as `jdoe@example.com (John Doe)`.
    pub name: Option<String>,
    /// Obsolete source route (`@relay1,@relay2`, RFC 5322 §4.4 obs-route), almost always NIL.
    pub adl: Option<String>,
    /// Local part with quoting removed; the group name for a group start marker.
    pub mailbox: Option<String>,
    /// Domain; NIL only for group markers.
    pub host: Option<String>,
}

impl EnvelopeAddr {
    /// The marker that opens the group called `name`.
    pub fn group_start(name: impl Into<String>) -> Self {
        EnvelopeAddr {
            mailbox: Some(name.into()),
            ..Default::default()
        }
    }

    /// The marker that closes the current group.
    pub fn group_end() -> Self {
        EnvelopeAddr::default()
    }

    /// True for group start and end markers (RFC 9051 §7.5.2: host is NIL).
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }
}

impl Envelope {
    /// Builds the envelope from a message header; `raw` is the buffer the header offsets point into.
    pub(crate) fn from_headers(headers: &[Header<'_>], raw: &[u8]) -> Envelope {
        let text =
            |name: HeaderName<'static>| raw::first(headers, &name).map(|h| raw::value(raw, h));
        let addrs = |name: HeaderName<'static>| {
            raw::first(headers, &name).map(|h| parse_address_list(&raw::value(raw, h)))
        };
        let from = addrs(HeaderName::From).unwrap_or_default();
        // RFC 9051 §7.5.2: absent or empty Sender/Reply-To are sent as a copy of From.
        let or_from = |list: Option<Vec<EnvelopeAddr>>| match list {
            Some(list) if !list.is_empty() => list,
            _ => from.clone(),
        };
        Envelope {
            date: text(HeaderName::Date),
            subject: text(HeaderName::Subject),
            sender: or_from(addrs(HeaderName::Sender)),
            reply_to: or_from(addrs(HeaderName::ReplyTo)),
            to: addrs(HeaderName::To).unwrap_or_default(),
            cc: addrs(HeaderName::Cc).unwrap_or_default(),
            bcc: addrs(HeaderName::Bcc).unwrap_or_default(),
            in_reply_to: text(HeaderName::InReplyTo),
            message_id: text(HeaderName::MessageId),
            from,
        }
    }
}

/// A lexical token of an RFC 5322 address list (§3.2: atoms, quoted strings, comments, specials).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An atom, a quoted string's content (quoting removed) or a domain literal (`[1.2.3.4]`).
    Word(String),
    /// One of `< > @ , ; : .`.
    Special(char),
    /// A comment's text, without the outer parentheses.
    Comment(String),
}

/// A token and whether white space or a comment came before it, so phrases keep their spacing
/// (`John Q. Public` must not become `John Q . Public`).
#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    spaced: bool,
}

/// Splits an unfolded header value into tokens. Tolerant: unterminated quotes, comments and
/// literals simply end at the end of the input.
fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    let mut spaced = false;
    while let Some(&ch) = chars.peek() {
        match ch {
            ' ' | '\t' | '\r' | '\n' => {
                chars.next();
                spaced = true;
            }
            '(' => {
                chars.next();
                // RFC 5322 §3.2.2: comments nest and may contain quoted-pairs.
                let mut depth = 1usize;
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '(' => {
                            depth += 1;
                            text.push(c);
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            text.push(c);
                        }
                        _ => text.push(c),
                    }
                }
                tokens.push(Token {
                    tok: Tok::Comment(text),
                    spaced,
                });
                spaced = true;
            }
            '"' => {
                chars.next();
                // RFC 5322 §3.2.4: quoted-string; the quoting is removed (RFC 9051 §7.5.2).
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '"' => break,
                        _ => text.push(c),
                    }
                }
                tokens.push(Token {
                    tok: Tok::Word(text),
                    spaced,
                });
                spaced = false;
            }
            '[' => {
                // RFC 5322 §3.4.1: domain-literal, kept with its brackets.
                let mut text = String::new();
                for c in chars.by_ref() {
                    text.push(c);
                    if c == ']' {
                        break;
                    }
                }
                tokens.push(Token {
                    tok: Tok::Word(text),
                    spaced,
                });
                spaced = false;
            }
            '<' | '>' | '@' | ',' | ';' | ':' | '.' => {
                chars.next();
                tokens.push(Token {
                    tok: Tok::Special(ch),
                    spaced,
                });
                spaced = false;
            }
            _ => {
                let mut text = String::new();
                while let Some(&c) = chars.peek() {
                    if matches!(
                        c,
                        ' ' | '\t'
                            | '\r'
                            | '\n'
                            | '('
                            | '"'
                            | '['
                            | '<'
                            | '>'
                            | '@'
                            | ','
                            | ';'
                            | ':'
                            | '.'
                    ) {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
                tokens.push(Token {
                    tok: Tok::Word(text),
                    spaced,
                });
                spaced = false;
            }
        }
    }
    tokens
}

/// Parses an RFC 5322 §3.4 `address-list` (groups included) into IMAP address structures.
///
/// ```text
/// address-list = (address *("," address))
/// address      = mailbox / group
/// group        = display-name ":" [group-list] ";" [CFWS]
/// mailbox      = name-addr / addr-spec
/// name-addr    = [display-name] angle-addr
/// angle-addr   = [CFWS] "<" [obs-route] addr-spec ">" [CFWS]
/// ```
///
/// Tolerant, like every mail reader must be: empty list members are skipped, an unterminated
/// group is closed at the end, a missing local part or domain gets [`MISSING_MAILBOX`] or
/// [`MISSING_HOST`].
pub fn parse_address_list(value: &str) -> Vec<EnvelopeAddr> {
    let mut out = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut in_group = false;
    let mut angle_depth = 0usize;
    for token in tokenize(value) {
        match token.tok {
            Tok::Special('<') => {
                angle_depth += 1;
                current.push(token);
            }
            Tok::Special('>') => {
                angle_depth = angle_depth.saturating_sub(1);
                current.push(token);
            }
            Tok::Special(',') if angle_depth == 0 => {
                out.extend(mailbox(&current));
                current.clear();
            }
            Tok::Special(';') if angle_depth == 0 => {
                out.extend(mailbox(&current));
                current.clear();
                if in_group {
                    out.push(EnvelopeAddr::group_end());
                    in_group = false;
                }
            }
            Tok::Special(':') if angle_depth == 0 && !in_group => {
                // RFC 9051 §7.5.2: a group start marker carries the group name in the mailbox.
                out.push(EnvelopeAddr::group_start(phrase(&current)));
                current.clear();
                in_group = true;
            }
            _ => current.push(token),
        }
    }
    out.extend(mailbox(&current));
    if in_group {
        out.push(EnvelopeAddr::group_end());
    }
    out
}

/// Joins words into a phrase, one space where the source had white space or a comment.
fn phrase(tokens: &[Token]) -> String {
    let mut text = String::new();
    for token in tokens {
        let piece = match &token.tok {
            Tok::Word(w) => w.as_str(),
            Tok::Special(c) => {
                if token.spaced && !text.is_empty() {
                    text.push(' ');
                }
                text.push(*c);
                continue;
            }
            Tok::Comment(_) => continue,
        };
        if token.spaced && !text.is_empty() {
            text.push(' ');
        }
        text.push_str(piece);
    }
    text
}

/// Concatenates tokens with no spacing (local parts, domains, routes: RFC 5322 §3.4.1 allows
/// CFWS around their dots, which is not part of the value).
fn concat(tokens: &[Token]) -> String {
    let mut text = String::new();
    for token in tokens {
        match &token.tok {
            Tok::Word(w) => text.push_str(w),
            Tok::Special(c) => text.push(*c),
            Tok::Comment(_) => {}
        }
    }
    text
}

/// Turns the tokens of one list member into an address, or nothing when the member is empty.
fn mailbox(tokens: &[Token]) -> Option<EnvelopeAddr> {
    if !tokens.iter().any(|t| !matches!(t.tok, Tok::Comment(_))) {
        return None;
    }
    let comment = tokens.iter().find_map(|t| match &t.tok {
        Tok::Comment(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
        _ => None,
    });
    let open = tokens.iter().position(|t| t.tok == Tok::Special('<'));
    let (name, mut spec) = match open {
        Some(open) => {
            let close = tokens[open..]
                .iter()
                .position(|t| t.tok == Tok::Special('>'))
                .map_or(tokens.len(), |p| open + p);
            let name = phrase(&tokens[..open]);
            (
                Some(name).filter(|n| !n.is_empty()),
                &tokens[open + 1..close],
            )
        }
        None => (None, tokens),
    };
    let name = name.or(comment);
    // RFC 5322 §4.4 obs-route: "@a,@b:" before the addr-spec.
    let mut adl = None;
    if spec.first().is_some_and(|t| t.tok == Tok::Special('@'))
        && let Some(colon) = spec.iter().position(|t| t.tok == Tok::Special(':'))
    {
        adl = Some(concat(&spec[..colon]));
        spec = &spec[colon + 1..];
    }
    let at = spec.iter().rposition(|t| t.tok == Tok::Special('@'));
    let (local, host) = match at {
        Some(at) => (concat(&spec[..at]), concat(&spec[at + 1..])),
        // No "@": keep what there is as the local part (`To: root`, `To: John Doe`).
        None => (phrase(spec), String::new()),
    };
    let local = if local.is_empty() {
        MISSING_MAILBOX.to_string()
    } else {
        local
    };
    let host = if host.is_empty() {
        MISSING_HOST.to_string()
    } else {
        host
    };
    Some(EnvelopeAddr {
        name,
        adl,
        mailbox: Some(local),
        host: Some(host),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> EnvelopeAddr {
        EnvelopeAddr {
            name: name.map(str::to_string),
            adl: None,
            mailbox: Some(mailbox.to_string()),
            host: Some(host.to_string()),
        }
    }

    #[test]
    fn address_lists_parse_like_rfc_5322_says() {
        let cases: Vec<(&str, Vec<EnvelopeAddr>)> = vec![
            ("jdoe@example.com", vec![addr(None, "jdoe", "example.com")]),
            (
                "<jdoe@example.com>",
                vec![addr(None, "jdoe", "example.com")],
            ),
            (
                "John Doe <jdoe@machine.example>",
                vec![addr(Some("John Doe"), "jdoe", "machine.example")],
            ),
            (
                "\"Joe Q. Public\" <john.q.public@example.com>",
                vec![addr(Some("Joe Q. Public"), "john.q.public", "example.com")],
            ),
            (
                "John Q. Public <jqp@example.com>",
                vec![addr(Some("John Q. Public"), "jqp", "example.com")],
            ),
            (
                "\"Doe, John\" <jd@x.example>, mary@x.example",
                vec![
                    addr(Some("Doe, John"), "jd", "x.example"),
                    addr(None, "mary", "x.example"),
                ],
            ),
            (
                "=?utf-8?q?J=C3=B6rg?= <j@x.example>",
                vec![addr(Some("=?utf-8?q?J=C3=B6rg?="), "j", "x.example")],
            ),
            (
                "jdoe@example.com (John Doe)",
                vec![addr(Some("John Doe"), "jdoe", "example.com")],
            ),
            (
                "\"quoted local\"@example.com",
                vec![addr(None, "quoted local", "example.com")],
            ),
            ("a@[192.0.2.1]", vec![addr(None, "a", "[192.0.2.1]")]),
            ("root", vec![addr(None, "root", MISSING_HOST)]),
            (
                "Someone <@example.com>",
                vec![addr(Some("Someone"), MISSING_MAILBOX, "example.com")],
            ),
            (
                "a@x.example,, ,b@x.example,",
                vec![addr(None, "a", "x.example"), addr(None, "b", "x.example")],
            ),
            ("", vec![]),
            ("   (just a comment)  ", vec![]),
            (
                "Jörg Müller <jm@bücher.example>",
                vec![addr(Some("Jörg Müller"), "jm", "bücher.example")],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_address_list(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn groups_become_start_and_end_markers() {
        let cases: Vec<(&str, Vec<EnvelopeAddr>)> = vec![
            (
                "undisclosed-recipients:;",
                vec![
                    EnvelopeAddr::group_start("undisclosed-recipients"),
                    EnvelopeAddr::group_end(),
                ],
            ),
            (
                "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, x@y.test",
                vec![
                    EnvelopeAddr::group_start("A Group"),
                    addr(Some("Ed Jones"), "c", "a.test"),
                    addr(None, "joe", "where.test"),
                    addr(Some("John"), "jdoe", "one.test"),
                    EnvelopeAddr::group_end(),
                    addr(None, "x", "y.test"),
                ],
            ),
            (
                "Unclosed: a@b.test",
                vec![
                    EnvelopeAddr::group_start("Unclosed"),
                    addr(None, "a", "b.test"),
                    EnvelopeAddr::group_end(),
                ],
            ),
        ];
        for (input, expected) in cases {
            let got = parse_address_list(input);
            assert_eq!(got, expected, "input {input:?}");
            assert!(got.iter().filter(|a| a.is_group_marker()).count() % 2 == 0);
        }
    }

    #[test]
    fn source_route_goes_to_adl() {
        let got = parse_address_list("Relay <@r1.test,@r2.test:user@host.test>");
        assert_eq!(
            got,
            vec![EnvelopeAddr {
                name: Some("Relay".into()),
                adl: Some("@r1.test,@r2.test".into()),
                mailbox: Some("user".into()),
                host: Some("host.test".into()),
            }]
        );
    }

    #[test]
    fn malformed_lists_never_panic_and_never_look_like_group_markers() {
        for input in [
            "<", ">", "@", ":", ";", "\"", "(", "[", "<<>>", "a<b@c", "@:", "\\", "<@>",
        ] {
            for entry in parse_address_list(input) {
                if entry.host.is_none() {
                    // Only real group syntax may produce markers.
                    assert!(
                        input.contains(':') || input.contains(';'),
                        "input {input:?}"
                    );
                }
            }
        }
    }
}
