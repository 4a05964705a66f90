//! IMAP: the command reader (lines with their literals, under size limits, RFC 9051 §4.3 and
//! RFC 7888), the grammar, and modified UTF-7 mailbox names (RFC 9051 §5.1.3).

use postwerk_imap::proto::framing::{CommandReader, Framed, Limits};
use postwerk_imap::proto::{mutf7, parse};

/// Small limits, so the fuzzer reaches every refusal (the server's own are larger, the code
/// paths the same).
const LIMITS: Limits = Limits {
    max_line: 512,
    max_literal: 2048,
    max_command: 4096,
};

/// Runs `input` as a client's command stream: read whole and read in two pieces, the commands
/// must be the same (the reader promises any split gives the same commands); each complete
/// command is parsed, and every line is tried as a mailbox name.
pub fn imap_command(input: &[u8]) {
    let whole = frame(&[input]);
    let split = super::split_point(input);
    let parts = frame(&[&input[..split], &input[split..]]);
    assert_eq!(
        whole, parts,
        "the commands do not depend on how the input was read"
    );
    for outcome in &whole {
        if let Framed::Complete(command) = outcome {
            assert!(
                command.len() as u64 <= LIMITS.max_command,
                "a complete command is within the command limit"
            );
            if let Ok(parsed) = parse::command(command) {
                assert!(!parsed.tag.is_empty(), "a parsed command has a tag");
            }
        }
    }
    for line in input.split(|&b| b == b'\n') {
        mailbox_name(line);
    }
}

/// Every outcome of the reader over `reads`, `NeedMore` left out.
fn frame(reads: &[&[u8]]) -> Vec<Framed> {
    let mut reader = CommandReader::new(LIMITS);
    let mut outcomes = Vec::new();
    for read in reads {
        let mut rest: &[u8] = read;
        // Each call either uses octets or ends a command; more calls than that is a reader
        // that stopped making progress, which would hang a session.
        let mut calls_left = 2 * rest.len() + 16;
        loop {
            assert!(calls_left > 0, "the command reader makes no progress");
            calls_left -= 1;
            let (used, outcome) = reader.take(rest);
            assert!(used <= rest.len(), "the reader used more than its input");
            rest = &rest[used..];
            match outcome {
                Framed::NeedMore => {
                    assert!(rest.is_empty(), "NeedMore with input left");
                    break;
                }
                other => outcomes.push(other),
            }
        }
    }
    outcomes
}

/// Modified UTF-7 has one spelling per name: what decodes encodes back to the same octets, and
/// what is encoded decodes back to the same name.
fn mailbox_name(octets: &[u8]) {
    if let Ok(name) = mutf7::decode(octets) {
        assert_eq!(
            mutf7::encode(&name).as_bytes(),
            octets,
            "decoding is canonical"
        );
    }
    let text = String::from_utf8_lossy(octets);
    let encoded = mutf7::encode(&text);
    assert_eq!(
        mutf7::decode(encoded.as_bytes()).ok().as_deref(),
        Some(text.as_ref()),
        "an encoded name decodes back"
    );
}
