//! The bounce explainer (CLI-2): given a whole message, decide whether it reports a failed or
//! delayed delivery and explain it in plain language, per recipient, with the remote server's
//! own words.
//!
//! ```text
//!  raw message ─► MessageIndex (parts) ─┬─ message/delivery-status part? ─► RFC 3464 fields
//!                                       │     (Final-Recipient, Action, Status, Remote-MTA,
//!                                       │      Diagnostic-Code per recipient)
//!                                       └─ else, from a mail daemon: its text ─► quoted
//!                                             SMTP replies (Postfix, Exim, qmail wordings)
//!                 each recipient ─► classify (status + words, one table) ─► BounceClass
//! ```
//!
//! Reports of every provider are read, not only ours (`queue::dsn`): standard RFC 3464 reports
//! through their `message/delivery-status` part, older plain-text bounces by the replies they
//! quote. The webmail shows the result; `postwerk admin bounce explain` prints it.

mod classify;
mod parse;

use postwerk_message::{BodyStructure, HeaderSummary, MessageIndex};
use serde::Serialize;

pub use classify::BounceClass;

/// The remote server's words are kept verbatim up to this many characters (a hostile report
/// could quote megabytes); longer ones are cut and end with `…`.
pub const MAX_DIAGNOSTIC_CHARS: usize = 1000;

/// What a report says happened (RFC 3464 §2.3.3). Only failures and delays are explained:
/// a report that only says `delivered`, `relayed` or `expanded` is no bounce.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Delivery failed for good; the message will not be retried.
    Failed,
    /// Not delivered yet; the reporting server keeps trying.
    Delayed,
}

impl Action {
    /// The RFC 3464 `Action:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
        }
    }
}

/// How the report was written, which tells how much of it could be read exactly.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// A standard report (RFC 3464 `message/delivery-status`): every field read as written.
    DeliveryStatus,
    /// A plain-text bounce: recipients and replies found in its sentences.
    PlainText,
}

/// What happened to one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecipientReport {
    /// The recipient (`Final-Recipient`, else `Original-Recipient`, else the address a
    /// plain-text bounce names); `None` when the report does not say.
    pub address: Option<String>,
    /// Whether delivery to it failed or is delayed.
    pub action: Action,
    /// The RFC 3463 status (`Status:`, else the one in the server's words).
    pub status: Option<String>,
    /// The server that answered (`Remote-MTA`, or the host a plain bounce names).
    pub remote_mta: Option<String>,
    /// The remote server's words, verbatim (folding undone), at most
    /// [`MAX_DIAGNOSTIC_CHARS`] characters.
    pub diagnostic: Option<String>,
    /// The class of the bounce guide.
    pub class: BounceClass,
}

/// A failure or delay report, explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// `Failed` when delivery to any recipient failed, else `Delayed`.
    pub action: Action,
    /// How the report was written.
    pub format: ReportFormat,
    /// The recipients that failed or are delayed, at least one.
    pub recipients: Vec<RecipientReport>,
    /// The whole report in one or two sentences for the sender.
    pub summary: String,
}

/// Explains `raw` if it is a delivery failure or delay report; `None` for any other message
/// (an ordinary one, or a report that only says the message was delivered).
pub fn explain(raw: &[u8]) -> Option<Explanation> {
    let index = MessageIndex::parse(raw);
    let human = find_part(&index.body, &|p| p.mime_type() == "text/plain")
        .and_then(|part| parse::part_text(raw, part));
    let status_part = find_part(&index.body, &|p| {
        matches!(
            p.mime_type().as_str(),
            // RFC 6533 §6.2: the internationalised form, read alike.
            "message/delivery-status" | "message/global-delivery-status"
        )
    });
    if let Some(text) = status_part.and_then(|part| parse::part_text(raw, part)) {
        match from_delivery_status(&text, human.as_deref()) {
            Read::Explained(recipients) => {
                return Some(explanation(ReportFormat::DeliveryStatus, recipients));
            }
            Read::NothingFailed => return None,
            // A broken status part: read the report's text like any plain bounce.
            Read::Unreadable => {}
        }
    } else if !from_a_mail_daemon(&index.summary) {
        return None;
    }
    let subject = index.summary.subject.as_deref().unwrap_or("");
    let recipients = from_plain_text(subject, human.as_deref()?);
    (!recipients.is_empty()).then(|| explanation(ReportFormat::PlainText, recipients))
}

/// The first part below `body` (not inside an attached message, whose parts are the
/// original's) that `wanted` accepts.
fn find_part<'a>(
    body: &'a BodyStructure,
    wanted: &dyn Fn(&BodyStructure) -> bool,
) -> Option<&'a BodyStructure> {
    match body {
        BodyStructure::Multipart { parts, .. } => {
            parts.iter().find_map(|part| find_part(part, wanted))
        }
        single => wanted(single).then_some(single),
    }
}

/// The outcome of reading a `message/delivery-status` part.
enum Read {
    Explained(Vec<RecipientReport>),
    /// Recipients were read, and none failed or was delayed (a success report).
    NothingFailed,
    /// No recipient with an action: the report's text is read instead.
    Unreadable,
}

/// RFC 3464 §2.3: one recipient group after the per-message group. Recipients whose action is
/// `delivered`, `relayed` or `expanded` are not explained.
fn from_delivery_status(text: &str, human: Option<&str>) -> Read {
    let groups = parse::field_groups(text);
    let recipient_groups: Vec<_> = groups
        .iter()
        .filter(|g| g.get("final-recipient").is_some() || g.get("action").is_some())
        .collect();
    if recipient_groups.is_empty() {
        return Read::Unreadable;
    }
    let mut recipients = Vec::new();
    let mut other_actions = false;
    for group in recipient_groups {
        let action = match group.get("action").map(|a| a.trim().to_ascii_lowercase()) {
            Some(a) if a.starts_with("failed") => Action::Failed,
            Some(a) if a.starts_with("delayed") => Action::Delayed,
            Some(_) => {
                other_actions = true;
                continue;
            }
            // RFC 3464 §2.3.3 makes Action required: without it the part is not trusted.
            None => continue,
        };
        let address = group
            .get("final-recipient")
            .or(group.get("original-recipient"))
            .map(|v| parse::bare_address(parse::untyped(v)));
        let diagnostic = group
            .get("diagnostic-code")
            .map(parse::untyped)
            .filter(|d| !d.is_empty());
        let status = group
            .get("status")
            .and_then(|s| s.split_whitespace().next())
            .filter(|s| classify::is_enhanced_status(s))
            .map(str::to_owned)
            .or_else(|| diagnostic.and_then(parse::first_enhanced_status));
        let class = recipient_class(action, status.as_deref(), diagnostic, human);
        recipients.push(RecipientReport {
            address,
            action,
            status,
            remote_mta: group
                .get("remote-mta")
                .map(|v| parse::untyped(v).to_owned()),
            diagnostic: diagnostic.map(bounded),
            class,
        });
    }
    match (recipients.is_empty(), other_actions) {
        (false, _) => Read::Explained(recipients),
        (true, true) => Read::NothingFailed,
        (true, false) => Read::Unreadable,
    }
}

/// The class of a standard report's recipient: its status and the server's words; a generic
/// status (`x.0.0`) gives way to a precise one in the words; a report without words is
/// classed by its human-readable text when the status alone says nothing.
fn recipient_class(
    action: Action,
    status: Option<&str>,
    diagnostic: Option<&str>,
    human: Option<&str>,
) -> BounceClass {
    let temporary = action == Action::Delayed;
    let precise = diagnostic
        .and_then(parse::first_enhanced_status)
        .filter(|s| !s.ends_with(".0.0"));
    let status = match status {
        Some(s) if s.ends_with(".0.0") => precise.as_deref().or(Some(s)),
        other => other,
    };
    let class = classify::classify(status, diagnostic.unwrap_or(""), temporary);
    match (diagnostic, human) {
        (None, Some(text)) if matches!(class, BounceClass::Other | BounceClass::Delayed) => {
            classify::classify(status, parse::own_words(text), temporary)
        }
        _ => class,
    }
}

/// A plain-text bounce is only considered when it comes from a mail system: its `From:` is a
/// mailer daemon or postmaster, or its subject is a bounce's. An ordinary message quoting an
/// SMTP error is not a bounce.
fn from_a_mail_daemon(summary: &HeaderSummary) -> bool {
    const DAEMONS: &[&str] = &["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"];
    const SUBJECTS: &[&str] = &[
        "undeliver",
        "delivery status notification",
        "mail delivery failed",
        "delivery failure",
        "failure notice",
        "returned mail",
        "non-delivery",
        "could not be delivered",
        "delayed mail",
        "warning: message",
    ];
    let from_daemon = summary.from.iter().any(|addr| {
        let mailbox = addr.mailbox.as_deref().unwrap_or("").to_ascii_lowercase();
        let name = addr.name.as_deref().unwrap_or("").to_ascii_lowercase();
        DAEMONS.contains(&mailbox.as_str()) || name.contains("mail delivery")
    });
    let subject = summary
        .subject
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    from_daemon || SUBJECTS.iter().any(|s| subject.contains(s))
}

/// Recipients of a plain-text bounce: one per address with a quoted reply (its last reply),
/// or, when it quotes none, one whose class comes from the bounce's own sentences.
fn from_plain_text(subject: &str, text: &str) -> Vec<RecipientReport> {
    let words = parse::own_words(text);
    let action = plain_action(subject, words);
    let mut recipients: Vec<RecipientReport> = Vec::new();
    for quoted in parse::quoted_replies(words) {
        let status = parse::first_enhanced_status(&quoted.reply);
        let temporary =
            action == Action::Delayed || parse::reply_code(&quoted.reply).is_some_and(|c| c < 500);
        let report = RecipientReport {
            class: classify::classify(status.as_deref(), &quoted.reply, temporary),
            address: quoted.address,
            action,
            status,
            remote_mta: quoted.remote_mta,
            diagnostic: Some(bounded(&quoted.reply)),
        };
        match recipients.iter_mut().find(|r| r.address == report.address) {
            Some(earlier) => *earlier = report,
            None => recipients.push(report),
        }
    }
    if recipients.is_empty() {
        let class = classify::classify(None, words, action == Action::Delayed);
        // Without a reply, only a recognised sentence makes this a bounce we can explain.
        if class != BounceClass::Other {
            recipients.push(RecipientReport {
                address: first_address(words),
                action,
                status: parse::first_enhanced_status(words),
                remote_mta: None,
                diagnostic: None,
                class,
            });
        }
    }
    recipients
}

/// Whether a plain-text bounce reports a delay: it says so (Exim "has not yet been
/// delivered", Postfix and the seed's "still undelivered after 4 hours", Gmail "(Delay)") and
/// does not also say it gave up.
fn plain_action(subject: &str, text: &str) -> Action {
    let all = format!("{subject}\n{text}").to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| all.contains(w));
    if has(&[
        "permanent",
        "giving up",
        "gave up",
        "given up",
        "retry timeout exceeded",
    ]) {
        Action::Failed
    } else if has(&[
        "delayed",
        "(delay)",
        "not yet been delivered",
        "still undelivered",
        "will keep trying",
        "will continue trying",
        "still trying",
        "will retry",
    ]) {
        Action::Delayed
    } else {
        Action::Failed
    }
}

/// The first thing in `text` that looks like an address, for a bounce without replies.
fn first_address(text: &str) -> Option<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '<' | '>' | ',' | ';' | ':' | '"')))
        .find(|w| {
            w.rsplit_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        })
        .map(|w| w.trim_end_matches('.').to_owned())
}

/// `text` cut to [`MAX_DIAGNOSTIC_CHARS`] characters.
fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_DIAGNOSTIC_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn explanation(format: ReportFormat, recipients: Vec<RecipientReport>) -> Explanation {
    let action = if recipients.iter().any(|r| r.action == Action::Failed) {
        Action::Failed
    } else {
        Action::Delayed
    };
    let summary = summary(&recipients);
    Explanation {
        action,
        format,
        recipients,
        summary,
    }
}

/// "Your message could not be delivered to a@example.org (Unknown user)." and/or "Delivery to
/// b@example.org (Greylisting) is delayed; the sending server keeps trying."
fn summary(recipients: &[RecipientReport]) -> String {
    let list = |action: Action| {
        let names: Vec<String> = recipients
            .iter()
            .filter(|r| r.action == action)
            .map(|r| {
                let who = r.address.as_deref().unwrap_or("a recipient");
                format!("{who} ({})", r.class.label())
            })
            .collect();
        match names.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [rest @ .., last] => Some(format!("{} and {last}", rest.join(", "))),
        }
    };
    let mut sentences = Vec::new();
    if let Some(failed) = list(Action::Failed) {
        sentences.push(format!("Your message could not be delivered to {failed}."));
    }
    if let Some(delayed) = list(Action::Delayed) {
        sentences.push(format!(
            "Delivery to {delayed} is delayed; the sending server keeps trying."
        ));
    }
    sentences.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_diagnostics_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_DIAGNOSTIC_CHARS + 5);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_DIAGNOSTIC_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn summary_names_failed_and_delayed_recipients() {
        let recipient = |address: &str, action, class| RecipientReport {
            address: Some(address.into()),
            action,
            status: None,
            remote_mta: None,
            diagnostic: None,
            class,
        };
        let text = summary(&[
            recipient("a@example.org", Action::Failed, BounceClass::UnknownUser),
            recipient("b@example.org", Action::Failed, BounceClass::MailboxFull),
            recipient("c@example.org", Action::Delayed, BounceClass::Greylisting),
        ]);
        assert_eq!(
            text,
            "Your message could not be delivered to a@example.org (Unknown user) and \
             b@example.org (Mailbox full). Delivery to c@example.org (Greylisting) is delayed; \
             the sending server keeps trying."
        );
    }

    #[test]
    fn plain_bounces_say_whether_they_gave_up() {
        assert_eq!(
            plain_action("Warning: message delayed", "will keep trying"),
            Action::Delayed
        );
        assert_eq!(
            plain_action("failure notice", "permanent error; delayed"),
            Action::Failed
        );
        assert_eq!(plain_action("Undelivered Mail", "550 no"), Action::Failed);
    }
}
