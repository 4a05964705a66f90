//! How a score is shown: the `X-Spam-*` header lines on a delivered message, and the refusal
//! above the reject threshold.
//!
//! The header lines are SpamAssassin's, which mail programs and Sieve scripts already know:
//!
//! ```text
//! X-Spam-Flag: YES                     (only at or above the junk threshold)
//! X-Spam-Score: 6.8
//! X-Spam-Status: Yes, score=6.8 required=5.0 tests=HTML_ONLY,MISSING_DATE,…
//! ```
//!
//! They are prepended with `Authentication-Results:`, above the trace lines and the message:
//! a sender may write its own `X-Spam-Status: No` into the message, and it stays in place (the
//! message is stored as received, so that its DKIM signatures keep verifying), but below ours,
//! and readers take the first one.

use super::{Score, SpamClass, SpamConfig};
use crate::Reply;

/// Header lines longer than this are folded between test names (RFC 5322 §2.1.1 says 78).
const LINE_LENGTH: usize = 78;

/// The `X-Spam-*` header lines for `score` under `config`, CRLF-terminated.
pub fn headers(score: &Score, config: &SpamConfig) -> Vec<u8> {
    let spam = config.classify(score.total) != SpamClass::Clean;
    let mut out = String::new();
    if spam {
        out.push_str("X-Spam-Flag: YES\r\n");
    }
    out.push_str(&format!("X-Spam-Score: {:.1}\r\n", score.total));
    let mut line = format!(
        "X-Spam-Status: {}, score={:.1} required={:.1} tests=",
        if spam { "Yes" } else { "No" },
        score.total,
        config.junk_threshold
    );
    let mut names: Vec<&str> = score.symbols.iter().map(|symbol| &*symbol.name).collect();
    names.sort_unstable();
    if names.is_empty() {
        line.push_str("none");
    }
    for (i, name) in names.iter().enumerate() {
        let separator = if i + 1 < names.len() { "," } else { "" };
        if i > 0 && line.len() + name.len() + separator.len() > LINE_LENGTH {
            out.push_str(&line);
            out.push_str("\r\n");
            line = String::from("\t");
        }
        line.push_str(name);
        line.push_str(separator);
    }
    out.push_str(&line);
    out.push_str("\r\n");
    out.into_bytes()
}

/// RCV-4: the refusal of a message at or above the reject threshold.
pub fn refusal(score: &Score) -> Reply {
    Reply {
        code: 554,
        status: "5.7.1",
        text: format!(
            "The message was classified as spam (score {:.1}); if this is wrong, ask the \
             recipient to add you to their allowed senders",
            score.total
        ),
    }
}
