//! POP3: command lines (RFC 1939 §3), the grammar, SASL PLAIN initial responses (RFC 5034),
//! and the byte-stuffed multi-line responses and TOP going out.

use postwerk_core::sasl::PlainResponse;
use postwerk_pop3::command::Command;
use postwerk_pop3::framing::{Line, LineReader, top, write_multiline};

/// The session's line limit (RFC 2449 §4 bounds a command at 255 octets).
const MAX_LINE: usize = 255;

/// Runs `input` as a client's command stream, then as a message sent back with RETR and TOP.
pub fn pop3_command(input: &[u8]) {
    command_lines(input);
    multiline(input);
    let lines = input.first().map_or(0, |&b| u32::from(b));
    let head = top(input, lines);
    assert!(
        input.starts_with(head),
        "TOP returns a prefix of the message"
    );
}

/// Cuts lines as the session does and parses each.
fn command_lines(input: &[u8]) {
    let mut reader = LineReader::new(MAX_LINE);
    let mut rest = input;
    while !rest.is_empty() {
        match reader.take(rest) {
            Ok(Line::Complete { len, consumed }) => {
                assert!(
                    len < consumed && consumed <= rest.len(),
                    "line bounds are inside"
                );
                parse(&rest[..len]);
                rest = &rest[consumed..];
            }
            Ok(Line::TooLong { consumed }) => {
                assert!(consumed > 0 && consumed <= rest.len());
                rest = &rest[consumed..];
            }
            Err(_) => break,
        }
    }
}

fn parse(line: &[u8]) {
    match Command::parse(line) {
        Ok(Command::Auth {
            initial: Some(initial),
            ..
        }) => {
            let _ = PlainResponse::decode(initial.expose());
        }
        Ok(Command::Pass(secret)) => {
            let _ = PlainResponse::decode(secret.expose());
        }
        _ => {}
    }
}

/// RFC 1939 §3: the response ends at the first line that is a lone `.`, so that line must be
/// the last, and unstuffing gives the content's lines back.
fn multiline(content: &[u8]) {
    let mut out = Vec::new();
    write_multiline(&mut out, content);
    assert!(
        out.ends_with(b".\r\n"),
        "a multi-line response ends with its terminator"
    );
    let body = &out[..out.len() - 3];
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    // `body` ends with CRLF (or is empty), so the last split piece is empty.
    for line in &lines[..lines.len() - 1] {
        assert!(line.ends_with(b"\r"), "every line goes out with CRLF");
        assert_ne!(
            *line, b".\r",
            "no line of the content ends the response early"
        );
    }
    let unstuffed: Vec<u8> = lines[..lines.len() - 1]
        .iter()
        .flat_map(|line| {
            let line = &line[..line.len() - 1];
            let line = line.strip_prefix(b".").unwrap_or(line);
            line.iter().copied().chain(*b"\n")
        })
        .collect();
    let expected: Vec<u8> = content_lines(content)
        .into_iter()
        .flat_map(|line| line.iter().copied().chain(*b"\n"))
        .collect();
    assert_eq!(
        unstuffed, expected,
        "unstuffing gives the content's lines back"
    );
}

/// The content's lines without their line ends (LF or CRLF), as `write_multiline` reads them.
fn content_lines(content: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    if content.is_empty() || content.ends_with(b"\n") {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect()
}
