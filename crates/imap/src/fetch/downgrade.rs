//! ENVELOPE and BODYSTRUCTURE for a client that has not enabled UTF-8 (neither
//! `ENABLE UTF8=ACCEPT`, RFC 6855 §3, nor `ENABLE IMAP4rev2`).
//!
//! A message with raw UTF-8 in its header (RFC 6532) renders with UTF-8 strings. Such a client
//! reads strings as ASCII (RFC 3501 §9 has no charset for them), so RFC 6855 §3 keeps UTF-8 from
//! it, and RFC 6855 §5 points to the downgrade of RFC 6857 §3: what is text becomes RFC 2047
//! encoded-words, which every IMAP client decodes; a domain becomes its IDNA A-labels; an
//! address whose local part is not ASCII cannot be written as an address at all, so it becomes
//! an empty group whose name is the encoded address (RFC 6857 §3.1.x), which a client shows
//! and cannot mistake for a mailbox.
//!
//! It works on the rendered form the store's folder view caches (shared by every session, see
//! `postwerk_store::FetchView`), so the common case costs one ASCII check and no copy of the
//! structure; only a non-ASCII rendering is parsed back and written again.

use postwerk_message::write_string;
use postwerk_model::Domain;

/// Appends `rendered`, an ENVELOPE as `postwerk_message::write_envelope` writes it, in ASCII.
pub(crate) fn envelope(rendered: &[u8], out: &mut Vec<u8>) {
    rewrite(rendered, out, envelope_node);
}

/// Appends `rendered`, a BODYSTRUCTURE or BODY as `postwerk_message::write_bodystructure`
/// writes it, in ASCII.
pub(crate) fn body_structure(rendered: &[u8], out: &mut Vec<u8>) {
    rewrite(rendered, out, body_node);
}

fn rewrite(rendered: &[u8], out: &mut Vec<u8>, transform: impl FnOnce(Node) -> Node) {
    if rendered.is_ascii() {
        out.extend_from_slice(rendered);
        return;
    }
    let mut parser = Parser {
        input: rendered,
        at: 0,
    };
    match parser.node() {
        Some(node) if parser.at == rendered.len() => transform(node).write(out),
        // Our own renderer wrote it, so it parses; should it not, every string is still
        // encoded so that no UTF-8 reaches the client.
        _ => out.extend_from_slice(&ascii_fallback(rendered)),
    }
}

/// A value of the IMAP syntax the renderers write: `NIL` and numbers, strings (quoted or
/// literal), and parenthesised lists.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Atom(Vec<u8>),
    Str(Vec<u8>),
    List(Vec<Node>),
}

impl Node {
    fn nil() -> Node {
        Node::Atom(b"NIL".to_vec())
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Atom(atom) => out.extend_from_slice(atom),
            // Transformed strings are ASCII; `write_string` quotes them (or sends a literal
            // for CR or LF, as the original renderer did).
            Node::Str(bytes) => write_string(&String::from_utf8_lossy(bytes), out),
            Node::List(items) => {
                out.push(b'(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    item.write(out);
                }
                out.push(b')');
            }
        }
    }

    fn as_str(&self) -> Option<&[u8]> {
        match self {
            Node::Str(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// Parses the renderers' output: `(`, `)`, single spaces, `"quoted"` with `\` escapes,
/// `{n}\r\n` literals, and atoms.
struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn node(&mut self) -> Option<Node> {
        match *self.input.get(self.at)? {
            b'(' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    match *self.input.get(self.at)? {
                        b')' => {
                            self.at += 1;
                            return Some(Node::List(items));
                        }
                        b' ' => self.at += 1,
                        _ => items.push(self.node()?),
                    }
                }
            }
            b'"' => {
                self.at += 1;
                let mut bytes = Vec::new();
                loop {
                    match *self.input.get(self.at)? {
                        b'"' => {
                            self.at += 1;
                            return Some(Node::Str(bytes));
                        }
                        b'\\' => {
                            bytes.push(*self.input.get(self.at + 1)?);
                            self.at += 2;
                        }
                        byte => {
                            bytes.push(byte);
                            self.at += 1;
                        }
                    }
                }
            }
            b'{' => {
                let close = self.at + self.input[self.at..].iter().position(|&b| b == b'}')?;
                let len: usize = std::str::from_utf8(&self.input[self.at + 1..close])
                    .ok()?
                    .parse()
                    .ok()?;
                let start = close + 3; // `}\r\n`
                let end = start.checked_add(len)?;
                let bytes = self.input.get(start..end)?.to_vec();
                self.at = end;
                Some(Node::Str(bytes))
            }
            _ => {
                let start = self.at;
                while let Some(&b) = self.input.get(self.at) {
                    if b == b' ' || b == b')' || b == b'(' {
                        break;
                    }
                    self.at += 1;
                }
                (self.at > start).then(|| Node::Atom(self.input[start..self.at].to_vec()))
            }
        }
    }
}

/// RFC 9051 §7.5.2: `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
fn envelope_node(node: Node) -> Node {
    let Node::List(fields) = node else {
        return text_node(node);
    };
    let fields = fields
        .into_iter()
        .enumerate()
        .map(|(i, field)| match (i, field) {
            (2..=7, Node::List(addresses)) => {
                Node::List(addresses.into_iter().flat_map(address_nodes).collect())
            }
            (_, field) => text_node(field),
        })
        .collect();
    Node::List(fields)
}

/// RFC 9051 §7.5.2: `(name adl mailbox host)`; one address may become two entries (the start
/// and end markers of a group).
fn address_nodes(address: Node) -> Vec<Node> {
    let Node::List(parts) = address else {
        return vec![text_node(address)];
    };
    let [name, adl, mailbox, host] = match <[Node; 4]>::try_from(parts) {
        Ok(parts) => parts,
        // Not the renderer's shape: every string encoded, nothing else changed.
        Err(parts) => return vec![text_node(Node::List(parts))],
    };
    // A group marker (NIL host) keeps its shape: the group's name is a phrase.
    let Some(host_bytes) = host.as_str() else {
        return vec![Node::List(vec![
            text_node(name),
            text_node(adl),
            text_node(mailbox),
            host,
        ])];
    };
    let local_is_ascii = mailbox.as_str().is_none_or(<[u8]>::is_ascii);
    let ascii_host = if host_bytes.is_ascii() {
        Some(host_bytes.to_vec())
    } else {
        std::str::from_utf8(host_bytes)
            .ok()
            .and_then(|h| Domain::parse(h).ok())
            .map(|d| d.as_str().as_bytes().to_vec())
    };
    match ascii_host {
        Some(ascii_host) if local_is_ascii => vec![Node::List(vec![
            text_node(name),
            text_node(adl),
            mailbox,
            Node::Str(ascii_host),
        ])],
        _ => {
            // RFC 6857 §3: an address that stays non-ASCII is shown as an empty group named by
            // the encoded address, `name <local@host>`.
            let local = mailbox.as_str().unwrap_or_default();
            let mut shown = Vec::new();
            if let Some(name) = name.as_str() {
                shown.extend_from_slice(name);
                shown.extend_from_slice(b" <");
            }
            shown.extend_from_slice(local);
            shown.push(b'@');
            shown.extend_from_slice(host_bytes);
            if name.as_str().is_some() {
                shown.push(b'>');
            }
            vec![
                Node::List(vec![
                    Node::nil(),
                    Node::nil(),
                    Node::Str(encode_words(&shown)),
                    Node::nil(),
                ]),
                Node::List(vec![Node::nil(), Node::nil(), Node::nil(), Node::nil()]),
            ]
        }
    }
}

/// A body structure: a multipart's parts are bodies; a `MESSAGE/RFC822` part carries an
/// envelope (8th) and a body (9th, RFC 9051 §7.5.2); every other string is text.
fn body_node(node: Node) -> Node {
    let Node::List(items) = node else {
        return text_node(node);
    };
    if matches!(items.first(), Some(Node::List(_))) {
        let mut in_parts = true;
        let items = items
            .into_iter()
            .map(|item| {
                in_parts &= matches!(item, Node::List(_));
                if in_parts {
                    body_node(item)
                } else {
                    text_node(item)
                }
            })
            .collect();
        return Node::List(items);
    }
    let is = |i: usize, want: &[u8]| {
        items
            .get(i)
            .and_then(Node::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    let is_message = is(0, b"MESSAGE") && is(1, b"RFC822");
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match i {
            7 if is_message => envelope_node(item),
            8 if is_message => body_node(item),
            _ => text_node(item),
        })
        .collect();
    Node::List(items)
}

/// Every non-ASCII string in `node` as encoded-words.
fn text_node(node: Node) -> Node {
    match node {
        Node::Str(bytes) if !bytes.is_ascii() => Node::Str(encode_words(&bytes)),
        Node::List(items) => Node::List(items.into_iter().map(text_node).collect()),
        other => other,
    }
}

/// The fallback of [`rewrite`]: each maximal non-ASCII run of octets as encoded-words, the
/// rest unchanged.
fn ascii_fallback(rendered: &[u8]) -> Vec<u8> {
    let Node::Str(encoded) = text_node(Node::Str(rendered.to_vec())) else {
        return Vec::new();
    };
    encoded
}

/// The longest encoded-word (RFC 2047 §2).
const MAX_WORD: usize = 75;
const PREFIX: &[u8] = b"=?utf-8?q?";
const SUFFIX: &[u8] = b"?=";

/// `text` with each run of space-separated words that hold non-ASCII as RFC 2047 encoded-words
/// (Q encoding, UTF-8), the ASCII words left as they are. Adjacent non-ASCII words share one
/// run, because a decoder drops the white space between two encoded-words (RFC 2047 §6.2).
fn encode_words(text: &[u8]) -> Vec<u8> {
    let words: Vec<&[u8]> = text.split(|&b| b == b' ').collect();
    let mut out = Vec::with_capacity(text.len() * 3);
    let mut i = 0;
    while i < words.len() {
        if i > 0 {
            out.push(b' ');
        }
        if words[i].is_ascii() {
            out.extend_from_slice(words[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < words.len() && !words[i].is_ascii() {
            i += 1;
        }
        encode_run(&words[start..i].join(&b' '), &mut out);
    }
    out
}

/// Writes `run` as encoded-words of at most [`MAX_WORD`] characters, split between characters
/// (RFC 2047 §5: a multi-octet character is never split between words).
fn encode_run(run: &[u8], out: &mut Vec<u8>) {
    let budget = MAX_WORD - PREFIX.len() - SUFFIX.len();
    let mut word: Vec<u8> = Vec::new();
    for piece in characters(run) {
        let mut encoded = Vec::with_capacity(piece.len() * 3);
        for &b in piece {
            q_encode(b, &mut encoded);
        }
        if !word.is_empty() && word.len() + encoded.len() > budget {
            finish_word(&word, out);
            out.push(b' ');
            word.clear();
        }
        word.extend_from_slice(&encoded);
    }
    finish_word(&word, out);
}

fn finish_word(word: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(word);
    out.extend_from_slice(SUFFIX);
}

/// The octets of each character of `run` (an octet alone where `run` is not UTF-8).
fn characters(run: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = run;
    while let Some(&first) = rest.first() {
        let len = match first {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        let len = if std::str::from_utf8(rest.get(..len).unwrap_or(rest)).is_ok() {
            len.min(rest.len())
        } else {
            1
        };
        let (piece, tail) = rest.split_at(len);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// RFC 2047 §4.2 and §5(3): the Q encoding restricted to what may appear in a phrase, so the
/// word is valid in a display name as well as in unstructured text; a space is `_`.
fn q_encode(byte: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    match byte {
        b' ' => out.push(b'_'),
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => {
            out.push(byte)
        }
        _ => {
            out.push(b'=');
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0x0f)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use postwerk_message::{MessageIndex, write_bodystructure, write_envelope};

    use super::*;

    fn envelope_of(raw: &str) -> (String, String) {
        let index = MessageIndex::parse(raw.as_bytes());
        let mut rendered = Vec::new();
        write_envelope(&index.envelope, &mut rendered);
        let mut out = Vec::new();
        envelope(&rendered, &mut out);
        (
            String::from_utf8(rendered).expect("UTF-8"),
            String::from_utf8(out).expect("UTF-8"),
        )
    }

    #[test]
    fn an_ascii_envelope_is_copied_as_it_is() {
        let (rendered, out) = envelope_of(
            "From: Alice <alice@remote.example>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx\r\n",
        );
        assert_eq!(out, rendered);
    }

    #[test]
    fn rfc_6855_utf8_subject_and_display_name_become_encoded_words() {
        let (rendered, out) = envelope_of(
            "From: Zoë Ärger <zoe@example.test>\r\nSubject: Grüße aus Köln\r\nTo: bob@bücher.example\r\n\r\nx\r\n",
        );
        assert!(rendered.contains("Grüße"), "{rendered}");
        assert!(out.is_ascii(), "{out}");
        assert!(
            out.starts_with(
                "(NIL \"=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?utf-8?q?K=C3=B6ln?=\" \
                 ((\"=?utf-8?q?Zo=C3=AB_=C3=84rger?=\" NIL \"zoe\" \"example.test\"))"
            ),
            "{out}"
        );
        // The domain in A-labels (RFC 6857 §3, IDNA).
        assert!(
            out.contains("((NIL NIL \"bob\" \"xn--bcher-kva.example\"))"),
            "{out}"
        );
    }

    #[test]
    fn rfc_6857_a_utf8_local_part_becomes_an_empty_group() {
        let (_, out) = envelope_of("From: Zoë <zoë@example.test>\r\n\r\nx\r\n");
        assert!(
            out.contains(
                "((NIL NIL \"=?utf-8?q?Zo=C3=AB_=3Czo=C3=AB=40example=2Etest=3E?=\" NIL) \
                 (NIL NIL NIL NIL))"
            ),
            "{out}"
        );
    }

    #[test]
    fn body_structure_parameters_and_nested_envelopes_are_downgraded() {
        let raw = "From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=\"Grüße.txt\"\r\n\r\nhi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: Zoë <zoe@example.test>\r\nSubject: Grüße\r\n\r\ninner\r\n--b--\r\n";
        let index = MessageIndex::parse(raw.as_bytes());
        for extensible in [true, false] {
            let mut rendered = Vec::new();
            write_bodystructure(&index.body, extensible, &mut rendered);
            assert!(!rendered.is_ascii());
            let mut out = Vec::new();
            body_structure(&rendered, &mut out);
            let out = String::from_utf8(out).expect("ASCII");
            assert!(out.is_ascii(), "{out}");
            assert!(
                out.contains("(\"NAME\" \"=?utf-8?q?Gr=C3=BC=C3=9Fe=2Etxt?=\" \"CHARSET\""),
                "{out}"
            );
            assert!(out.contains("\"=?utf-8?q?Gr=C3=BC=C3=9Fe?=\""), "{out}");
            assert!(
                out.contains("((\"=?utf-8?q?Zo=C3=AB?=\" NIL \"zoe\""),
                "{out}"
            );
            // Same shape: the downgraded form parses as the original did.
            let reparsed = Parser {
                input: out.as_bytes(),
                at: 0,
            }
            .node();
            assert!(matches!(reparsed, Some(Node::List(_))));
        }
    }

    #[test]
    fn long_runs_are_split_between_characters_into_words_of_75_at_most() {
        let text = "ü".repeat(40);
        let encoded = String::from_utf8(encode_words(text.as_bytes())).expect("ASCII");
        let words: Vec<&str> = encoded.split(' ').collect();
        assert!(words.len() > 1, "{encoded}");
        for word in &words {
            assert!(word.len() <= MAX_WORD, "{word}");
            assert!(
                word.starts_with("=?utf-8?q?") && word.ends_with("?="),
                "{word}"
            );
            // Whole characters only: each word holds a multiple of the 6 characters of `=C3=BC`.
            assert_eq!((word.len() - 12) % 6, 0, "{word}");
        }
        assert_eq!(encoded.matches("=C3=BC").count(), 40);
    }

    #[test]
    fn the_fallback_never_lets_utf8_through() {
        let out = ascii_fallback("(\"broken Grüße".as_bytes());
        assert!(out.is_ascii());
        assert!(
            String::from_utf8(out)
                .expect("ASCII")
                .contains("=?utf-8?q?Gr=C3=BC=C3=9Fe?=")
        );
    }
}
