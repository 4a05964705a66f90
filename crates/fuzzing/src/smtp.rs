//! SMTP: command lines (the session's `LineReader` then `smtp-proto`'s grammar, then the model's
//! address parser for MAIL and RCPT) and message content (DATA's dot-unstuffing and bare CR/LF
//! detection, BDAT chunks), RCV-11.

use postwerk_model::Address;
use postwerk_smtp::framing::{Chunks, DataReceiver, Line, LineReader, Received, non_ascii_header};
use smtp_proto::Request;

/// The session's command line limit (RFC 5321 §4.5.3.1.4: 512 octets; we allow extensions).
const MAX_LINE: usize = 4096;

/// Message size limit for the DATA and BDAT readers; small so the fuzzer reaches "too big".
const MAX_MESSAGE: usize = 2048;

/// Runs `input` as a client's command stream and as DATA content.
pub fn smtp_command(input: &[u8]) {
    command_lines(input);
    data(input);
    bdat(input);
    let _ = non_ascii_header(input);
}

/// Cuts lines as the session does and parses each complete one as the session does.
fn command_lines(input: &[u8]) {
    let mut reader = LineReader::new(MAX_LINE);
    let mut rest = input;
    loop {
        let (line, consumed) = reader.take(rest);
        assert!(
            consumed <= rest.len(),
            "the line reader consumed past its input"
        );
        let taken = &rest[..consumed];
        rest = &rest[consumed..];
        match line {
            None if rest.is_empty() || consumed == 0 => break,
            None => {}
            Some(Line::Complete(len)) => {
                assert_eq!(len, consumed, "a complete line is all that was consumed");
                let line = &taken[..len];
                // RFC 5321 §2.3.8: the only line end is the final CRLF.
                assert!(line.ends_with(b"\r\n"), "a line ends with CRLF");
                let body = &line[..len - 2];
                assert!(
                    !body.contains(&b'\r') && !body.contains(&b'\n'),
                    "a complete line holds no other CR or LF"
                );
                assert!(len <= MAX_LINE, "a complete line is within the limit");
                parse_command(line);
            }
            Some(Line::TooLong | Line::Bare) => {}
        }
    }
}

/// `smtp-proto`'s grammar, then the addresses the way MAIL and RCPT read them.
fn parse_command(line: &[u8]) {
    let Ok(request) = Request::parse(&mut line.iter()) else {
        return;
    };
    match request.into_owned() {
        Request::Mail { from } => {
            let _ = Address::parse(&from.address);
        }
        Request::Rcpt { to } => {
            if let Ok(address) = Address::parse(&to.address) {
                // A parsed address prints as something that parses to itself.
                let printed = address.to_string();
                let again = Address::parse(&printed);
                assert_eq!(again.as_ref().ok(), Some(&address), "{printed:?} re-parses");
            }
        }
        _ => {}
    }
}

/// DATA: the whole input in one read, then in two reads; both must agree. A message the
/// receiver accepts holds no bare CR or LF, and stuffing it again gives it back.
fn data(input: &[u8]) {
    let whole = receive(&[input]);
    let split = super::split_point(input);
    let parts = receive(&[&input[..split], &input[split..]]);
    assert_eq!(
        whole, parts,
        "DATA gives the same result whatever the reads"
    );
    if let (consumed, Some(Received::Message(message))) = whole {
        assert!(consumed <= input.len());
        assert!(
            !has_bare_line_ending(&message),
            "an accepted message has no bare CR/LF"
        );
        let mut stuffed = stuff(&message);
        stuffed.extend_from_slice(b".\r\n");
        let again = receive(&[&stuffed]);
        assert_eq!(
            again,
            (stuffed.len(), Some(Received::Message(message))),
            "a message dot-stuffed again reads back the same"
        );
    }
}

/// Feeds `reads` to a fresh receiver: the octets used and, when the message ended, what was
/// received.
fn receive(reads: &[&[u8]]) -> (usize, Option<Received>) {
    let mut receiver = DataReceiver::new(MAX_MESSAGE);
    let mut used = 0;
    for read in reads {
        let (consumed, ended) = receiver.feed(read);
        assert!(consumed <= read.len(), "DATA consumed past its input");
        used += consumed;
        if ended {
            return (used, Some(receiver.finish()));
        }
    }
    (used, None)
}

/// BDAT: the input as chunks cut at the split point must read as the input in one chunk.
fn bdat(input: &[u8]) {
    let split = super::split_point(input);
    let mut one = Chunks::default();
    one.push(input, MAX_MESSAGE);
    let mut two = Chunks::default();
    two.push(&input[..split], MAX_MESSAGE);
    two.push(&input[split..], MAX_MESSAGE);
    let (one, two) = (one.finish(MAX_MESSAGE), two.finish(MAX_MESSAGE));
    assert_eq!(one, two, "BDAT gives the same result whatever the chunks");
    if let Received::Message(message) = one {
        assert_eq!(message, input, "BDAT keeps the content as sent");
        assert!(!has_bare_line_ending(&message));
    }
}

/// Whether a CR not followed by LF, or a LF not preceded by CR, is in `content`.
fn has_bare_line_ending(content: &[u8]) -> bool {
    content.iter().enumerate().any(|(i, &b)| match b {
        b'\r' => content.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || content[i - 1] != b'\r',
        _ => false,
    })
}

/// RFC 5321 §4.5.2: a line starting with `.` gets one more.
fn stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}
