//! `postwerk-fuzzing`: the bodies of the fuzz targets (issue 10, item 2).
//!
//! Each public function takes arbitrary bytes and runs them through one of the parsers that
//! face the network or an uploaded file, the way the server uses it, and asserts what must hold
//! for every input. A panic, from the parser or from an assertion here, is a finding.
//!
//! The cargo-fuzz project in `fuzz/` (nightly, libFuzzer) calls these functions; the test
//! `tests/replay.rs` runs every committed corpus and regression input through them on the
//! stable toolchain, so CI needs no nightly and no libFuzzer.

#![forbid(unsafe_code)]

mod attachments;
mod csv_import;
mod imap;
mod message;
mod pop3;
mod smtp;

pub use attachments::attachments;
pub use csv_import::csv_import;
pub use imap::imap_command;
pub use message::message_ingest;
pub use pop3::pop3_command;
pub use smtp::smtp_command;

/// One fuzz target: its name (the file `fuzz/fuzz_targets/<name>.rs` and the folders
/// `fuzz/corpus/<name>/`, `fuzz/regressions/<name>/`) and its body.
pub struct Target {
    /// The target's name.
    pub name: &'static str,
    /// The body; panics on a finding.
    pub run: fn(&[u8]),
}

/// Every target, for the replay test.
pub const TARGETS: [Target; 6] = [
    Target {
        name: "smtp_command",
        run: smtp_command,
    },
    Target {
        name: "imap_command",
        run: imap_command,
    },
    Target {
        name: "pop3_command",
        run: pop3_command,
    },
    Target {
        name: "message_ingest",
        run: message_ingest,
    },
    Target {
        name: "attachments",
        run: attachments,
    },
    Target {
        name: "csv_import",
        run: csv_import,
    },
];

/// A split point inside `input` chosen by the input itself, so the fuzzer explores how
/// stream readers behave when the same bytes arrive in two reads.
fn split_point(input: &[u8]) -> usize {
    input
        .first()
        .map_or(0, |&first| usize::from(first) % (input.len() + 1))
}
