//! Delivery status notifications (SND-5): RFC 3464 reports in an RFC 6522 `multipart/report`,
//! honouring the RFC 3461 parameters the sender gave (ENVID, ORCPT, RET).
//!
//! ```text
//!  multipart/report; report-type=delivery-status
//!   ├─ text/plain                what happened to each recipient, the remote server's
//!   │                            answer, and what to do (the classes of the bounce guide)
//!   ├─ message/delivery-status   per-message fields, then one group per recipient
//!   └─ message/rfc822            the message (RET=FULL), or text/rfc822-headers: its header
//! ```
//!
//! Built by hand rather than with `mail-builder`: that crate picks the transfer encoding
//! itself and base64-encodes `message/*` bodies, which RFC 2046 §5.2.1 forbids (a returned
//! message must stay 7bit or 8bit so that programs can read it), and the report needs its
//! `report-type` parameter (RFC 6522 §3). The structure is fixed and small.
//!
//! Everything we write is ASCII (addresses are A-labels, replies are reduced to printable
//! ASCII); only the returned message may carry 8-bit octets, declared as such.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use postwerk_store::{DsnRet, QueueId};
use sha2::{Digest, Sha256};

use crate::schedule::is_enhanced_status;

/// Without RET, the whole message is returned in a failure report up to this size, and only
/// its header above it. RFC 3461 §4.3 leaves the choice to the MTA: the whole message lets
/// the sender resend it as it was, but returning megabytes to a sender whose mailbox may be
/// full, or to a forged sender, does harm. 100 KiB covers most text mail.
pub const RET_FULL_LIMIT: usize = 100 * 1024;

/// The RFC 3464 §2.3.3 action of a report: one report covers one kind of event.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Delivery failed for good (refused, or given up on).
    Failed,
    /// Not delivered yet; the queue keeps trying.
    Delayed,
    /// Delivered (reported only when NOTIFY asked for SUCCESS).
    Delivered,
}

impl Action {
    /// The `Action:` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
        }
    }

    /// The report's `Subject:`.
    pub fn subject(self) -> &'static str {
        match self {
            Action::Failed => "Undelivered Mail Returned to Sender",
            Action::Delayed => "Delayed Mail (still being retried)",
            Action::Delivered => "Successful Mail Delivery Report",
        }
    }

    /// The status used when the recorded one is missing or malformed.
    fn default_status(self) -> &'static str {
        match self {
            Action::Failed => "5.0.0",
            Action::Delayed => "4.0.0",
            Action::Delivered => "2.0.0",
        }
    }
}

/// One recipient of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRecipient {
    /// The address delivery was attempted to (`Final-Recipient`).
    pub address: String,
    /// The RFC 3461 ORCPT as `addr-type;address` (`Original-Recipient`), when given.
    pub orcpt: Option<String>,
    /// The hosted address that forwarded to it (RCV-13), named in the human part.
    pub forwarded_by: Option<String>,
    /// RFC 3463 status (`Status`).
    pub status: String,
    /// The host that answered (`Remote-MTA`), when one did.
    pub remote_mta: Option<String>,
    /// The remote server's reply (`Diagnostic-Code: smtp; …`), when it answered.
    pub reply: Option<String>,
    /// What happened, in a sentence (used when there is no reply, and in the human part).
    pub reason: String,
    /// When the last attempt was made (`Last-Attempt-Date`).
    pub last_attempt_at: Option<i64>,
    /// The queue gave up after `give_up` (rather than being refused).
    pub expired: bool,
}

/// Everything a report says.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// This host's name (`Reporting-MTA`, `From:`, `Message-ID`).
    pub hostname: &'a str,
    /// The queue entry reported on (for the `Message-ID`).
    pub queue_id: QueueId,
    /// Who receives the report: the message's reverse-path. Empty for the null sender, who
    /// never gets one.
    pub return_path: &'a str,
    /// RFC 3461 ENVID (`Original-Envelope-Id`).
    pub envid: Option<&'a str>,
    /// RFC 3461 RET.
    pub ret: Option<DsnRet>,
    /// When the message was accepted (`Arrival-Date`).
    pub received_at: i64,
    /// The event reported.
    pub action: Action,
    /// The recipients it covers, at least one.
    pub recipients: &'a [ReportRecipient],
    /// The message as queued (with our `Received:` on top).
    pub original: &'a [u8],
    /// Now (the `Date:`).
    pub now: i64,
    /// The delay point, for the warning's sentence (SND-4).
    pub delay_notice: Duration,
    /// The give-up point (`Will-Retry-Until`, and the sentences).
    pub give_up: Duration,
}

/// The report as a complete message (CRLF line ends), or `None` when it must not be sent:
/// to the null sender (RFC 3461 §6.2: "a DSN MUST NOT be sent" to it; RFC 5321 §4.5.5) or
/// about no recipient.
pub fn build(report: &Report<'_>) -> Option<Vec<u8>> {
    if report.return_path.is_empty() || report.recipients.is_empty() {
        return None;
    }
    let returned = Returned::choose(report);
    let (token, boundary) = unique_names(report);
    let human = human_part(report, &returned);
    let status = status_part(report);

    let mut out = String::new();
    // RFC 3464 §2: From names the MTA, which no one should answer automatically.
    let _ = write!(
        out,
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{token}.dsn@{host}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME-encapsulated delivery status notification.\r\n",
        // RFC 3834 §5.1: auto-replied, so that vacation responders stay silent.
        host = printable(report.hostname),
        to = printable(report.return_path),
        subject = report.action.subject(),
        date = rfc5322_date(report.now),
    );
    let _ = write!(
        out,
        "\r\n--{boundary}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         Content-Description: Notification\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n{human}"
    );
    let _ = write!(
        out,
        "\r\n--{boundary}\r\n\
         Content-Type: {status_type}\r\n\
         Content-Description: Delivery report\r\n\
         Content-Transfer-Encoding: {status_encoding}\r\n\r\n{status}",
        status_type = status_content_type(&status),
        status_encoding = if status.is_ascii() { "7bit" } else { "8bit" },
    );
    let _ = write!(
        out,
        "\r\n--{boundary}\r\n\
         Content-Type: {}\r\n\
         Content-Description: {}\r\n\
         Content-Transfer-Encoding: {}\r\n\r\n",
        returned.content_type,
        returned.description,
        if returned.content.iter().any(|b| *b >= 0x80) {
            "8bit"
        } else {
            "7bit"
        },
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(returned.content);
    if !returned.content.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(bytes)
}

/// What of the original message a report returns.
struct Returned<'a> {
    content_type: &'static str,
    description: &'static str,
    content: &'a [u8],
    full: bool,
}

impl<'a> Returned<'a> {
    fn choose(report: &Report<'a>) -> Returned<'a> {
        let original = report.original;
        // RFC 3461 §4.3: RET is about failure reports; delays and successes return the
        // header only, as the sender has (or will have) the message delivered anyway.
        let full = report.action == Action::Failed
            && match report.ret {
                Some(DsnRet::Full) => true,
                Some(DsnRet::Headers) => false,
                None => original.len() <= RET_FULL_LIMIT,
            };
        let header = header_section(original);
        // RFC 6532 §3.7 / RFC 6533 §6.3: a message with a UTF-8 header (SMTPUTF8) travels as
        // message/global, its header as message/global-headers.
        let international = !header.is_ascii();
        if full {
            Returned {
                content_type: if international {
                    "message/global"
                } else {
                    "message/rfc822"
                },
                description: "Undelivered Message",
                content: original,
                full,
            }
        } else {
            Returned {
                content_type: if international {
                    "message/global-headers"
                } else {
                    "text/rfc822-headers"
                },
                description: if report.action == Action::Failed {
                    "Undelivered Message Headers"
                } else {
                    "Message Headers"
                },
                content: header,
                full,
            }
        }
    }
}

/// The header section of a message: up to and including the empty line that ends it (or
/// all of it when there is no body).
pub fn header_section(message: &[u8]) -> &[u8] {
    if message.starts_with(b"\r\n") {
        return &message[..2];
    }
    match find(message, b"\r\n\r\n") {
        Some(end) => &message[..end + 4],
        None => message,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Counts reports built by this process, so that two reports in the same second differ.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A token for the `Message-ID` and a MIME boundary that the returned message does not
/// contain (RFC 2046 §5.1.1: the boundary must not occur in the encapsulated parts).
fn unique_names(report: &Report<'_>) -> (String, String) {
    loop {
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let mut hash = Sha256::new();
        hash.update(report.hostname.as_bytes());
        hash.update(report.queue_id.0.to_be_bytes());
        hash.update(report.now.to_be_bytes());
        hash.update(serial.to_be_bytes());
        hash.update(std::process::id().to_be_bytes());
        hash.update([report.action as u8]);
        let digest = hash.finalize();
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let boundary = format!("=_postwerk-report_{hex}");
        if find(report.original, boundary.as_bytes()).is_none() {
            return (format!("{}.{hex}", report.now), boundary);
        }
    }
}

/// The RFC 3464 `message/delivery-status` body: per-message fields, then one group of
/// fields per recipient, groups separated by empty lines.
fn status_part(report: &Report<'_>) -> String {
    let mut out = String::new();
    // RFC 3464 §2.2.2: the MTA that issues the report.
    field(
        &mut out,
        "Reporting-MTA",
        &format!("dns; {}", report.hostname),
    );
    if let Some(envid) = report.envid {
        // RFC 3464 §2.2.1 (RFC 3461 §4.4: echoed, xtext decoded).
        field(&mut out, "Original-Envelope-Id", envid);
    }
    // RFC 3464 §2.2.4: whom we received the message from: the client named in our own
    // `Received:` line when there is one, else this host (the message was made here).
    let from = received_from(report.original).unwrap_or_else(|| report.hostname.to_owned());
    field(&mut out, "Received-From-MTA", &format!("dns; {from}"));
    field(&mut out, "Arrival-Date", &rfc5322_date(report.received_at));

    for rcpt in report.recipients {
        out.push_str("\r\n");
        if rcpt.address.is_ascii() {
            field(
                &mut out,
                "Final-Recipient",
                &format!("rfc822; {}", rcpt.address),
            );
        } else {
            // RFC 6533 §3: an SMTPUTF8 address is of type `utf-8`, written as UTF-8 in a
            // message/global-delivery-status part (see `status_content_type`).
            utf8_field(
                &mut out,
                "Final-Recipient",
                &format!("utf-8; {}", rcpt.address),
            );
        }
        if let Some(orcpt) = &rcpt.orcpt {
            // RFC 3464 §2.3.1: `address-type ";" generic-address`, as the sender gave it.
            let value = if orcpt.contains(';') {
                orcpt.clone()
            } else {
                format!("rfc822; {orcpt}")
            };
            if value.is_ascii() {
                field(&mut out, "Original-Recipient", &value);
            } else {
                // RFC 6533 §3: a `utf-8` original recipient, kept as UTF-8 like the final one.
                utf8_field(&mut out, "Original-Recipient", &value);
            }
        }
        field(&mut out, "Action", report.action.as_str());
        field(&mut out, "Status", &status_of(report.action, &rcpt.status));
        if let Some(mta) = &rcpt.remote_mta {
            field(&mut out, "Remote-MTA", &format!("dns; {mta}"));
        }
        match &rcpt.reply {
            // RFC 3464 §2.3.6: the remote server's own words.
            Some(reply) => field(&mut out, "Diagnostic-Code", &format!("smtp; {reply}")),
            // No server answered (DNS, connection, TLS): an `X-` diagnostic type (RFC 3464
            // §2.3.6 allows extensions), as Postfix does with `X-Postfix`, so programs see
            // the reason too.
            None if report.action != Action::Delivered => field(
                &mut out,
                "Diagnostic-Code",
                &format!("X-Postwerk; {}", rcpt.reason),
            ),
            None => {}
        }
        if let Some(at) = rcpt.last_attempt_at {
            field(&mut out, "Last-Attempt-Date", &rfc5322_date(at));
        }
        if report.action == Action::Delayed {
            // RFC 3464 §2.3.9: until when we keep trying.
            let until = report
                .received_at
                .saturating_add(i64::try_from(report.give_up.as_secs()).unwrap_or(i64::MAX));
            field(&mut out, "Will-Retry-Until", &rfc5322_date(until));
        }
    }
    out
}

/// The status to report: the recorded one if it is a valid RFC 3463 code of a plausible
/// class for the action, else the action's generic one.
fn status_of(action: Action, status: &str) -> String {
    let plausible = match action {
        Action::Delivered => status.starts_with('2'),
        // An expired recipient keeps its last 4.x.x (the reason it could not be delivered).
        Action::Failed => status.starts_with('5') || status.starts_with('4'),
        Action::Delayed => status.starts_with('4'),
    };
    if is_enhanced_status(status) && plausible {
        status.to_owned()
    } else {
        action.default_status().to_owned()
    }
}

/// Appends `Name: value` CRLF, the value reduced to printable ASCII on one line and folded
/// at spaces before 78 columns where it can be (RFC 5322 §2.2.3; RFC 3464 fields follow
/// RFC 822 syntax).
fn field(out: &mut String, name: &str, value: &str) {
    let value = printable(value);
    let mut line_len = name.len() + 2;
    out.push_str(name);
    out.push(':');
    let mut first = true;
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if !first && line_len + 1 + word.len() > 78 {
            out.push_str("\r\n\t");
            line_len = 1;
        } else {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
        first = false;
    }
    out.push_str("\r\n");
}

/// RFC 6533 §6.2: a status part that names an SMTPUTF8 address carries UTF-8, which only
/// message/global-delivery-status allows; every other report keeps RFC 3464's type.
fn status_content_type(status: &str) -> &'static str {
    if status.is_ascii() {
        "message/delivery-status"
    } else {
        "message/global-delivery-status"
    }
}

/// [`field`] for a value that may hold UTF-8 (RFC 6533 `utf-8-addr-unitext`): control
/// characters are still removed, so no header can be injected, but letters outside ASCII
/// are kept. Not folded: an address is one word.
fn utf8_field(out: &mut String, name: &str, value: &str) {
    let value: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(900)
        .collect();
    let _ = write!(out, "{name}: {}\r\n", value.trim());
}

/// `text` on one line of printable ASCII: line breaks and tabs become spaces, anything else
/// outside ASCII becomes `?` (the report parts are 7bit; header injection is impossible),
/// at most 900 characters (RFC 5322 §2.1.1: lines of at most 998).
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\r' | '\n' | '\t' => ' ',
            ' '..='~' => c,
            _ => '?',
        })
        .take(900)
        .collect();
    // Multi-line replies joined: "550-5.1.1 a  550 5.1.1 b" reads better with one space.
    while out.contains("  ") {
        out = out.replace("  ", " ");
    }
    out.trim().to_owned()
}

/// RFC 5322 §3.3 date-time, in UTC.
pub fn rfc5322_date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc2822()
}

/// The client named in the topmost `Received:` field (ours, RFC 5321 §4.4):
/// `from client.example ([192.0.2.7])` → `client.example ([192.0.2.7])`.
fn received_from(original: &[u8]) -> Option<String> {
    let header = String::from_utf8_lossy(header_section(original));
    let mut lines = header.split("\r\n");
    let mut value = String::new();
    // Find the first Received field and unfold it (RFC 5322 §2.2.3).
    for line in lines.by_ref() {
        if let Some((name, rest)) = line.split_once(':')
            && name.eq_ignore_ascii_case("received")
        {
            value.push_str(rest);
            break;
        }
    }
    for line in lines {
        if line.starts_with([' ', '\t']) {
            value.push(' ');
            value.push_str(line.trim());
        } else {
            break;
        }
    }
    let mut words = value.split_whitespace();
    if words.next()? != "from" {
        return None;
    }
    let name = words.next()?;
    let sane = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
    };
    if !sane(name) {
        return None;
    }
    let comment = words
        .next()
        .filter(|c| c.starts_with("([") && c.ends_with("])"))
        .filter(|c| sane(&c[1..c.len() - 1]));
    Some(match comment {
        Some(comment) => format!("{name} {comment}"),
        None => name.to_owned(),
    })
}

/// The classes of answers that the sender can act on, after the bounce guide of the seed
/// knowledge base: each says what happened and what to do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// The address does not exist or was disabled (x.1.1, x.1.6, x.2.1).
    UnknownRecipient,
    /// The recipient's mailbox is full (x.2.2).
    MailboxFull,
    /// The message is larger than the receiving server accepts (x.2.3, x.3.4).
    TooLarge,
    /// Refused as spam or by the receiving server's policy (x.7.0, x.7.1).
    SpamOrPolicy,
    /// The sending domain's SPF, DKIM or DMARC did not check out (x.7.23 – x.7.27).
    Authentication,
    /// The sending network is on a block list.
    BlockListed,
    /// A virus or dangerous content was found.
    Malware,
    /// Too many messages in too little time.
    RateLimited,
    /// Greylisting: the first attempt is deferred on purpose.
    Greylisted,
    /// The domain does not exist or accepts no mail (x.1.2, x.1.10 null MX, x.4.4).
    NoMailServers,
    /// The domain's DNS could not be read (x.4.3).
    DnsProblem,
    /// No server of the domain could be reached (x.4.1, x.4.2).
    ConnectFailed,
    /// Encryption was required and failed: TLS or DANE (x.7.5, x.7.10, RFC 7672).
    Tls,
    /// The message's header or encoding was refused, e.g. a non-ASCII character (x.6.x).
    BadContent,
    /// Anything else.
    Other,
}

impl Class {
    /// Classifies an answer by its RFC 3463 status, refined by words of the reply or reason
    /// (servers use x.7.1 for spam, block lists and rate limits alike).
    pub fn of(status: &str, text: &str) -> Class {
        let text = text.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        let mut code = status.splitn(3, '.').skip(1);
        let (subject, detail) = (code.next().unwrap_or(""), code.next().unwrap_or(""));
        if has(&["greylist", "graylist"]) {
            return Class::Greylisted;
        }
        if has(&["virus", "malware", "infected"]) {
            return Class::Malware;
        }
        if has(&["rate limit", "too many messages", "too many connections"])
            || (subject, detail) == ("7", "28")
        {
            return Class::RateLimited;
        }
        if has(&["spf", "dkim", "dmarc"])
            || (subject == "7" && matches!(detail, "23" | "24" | "25" | "26" | "27"))
        {
            return Class::Authentication;
        }
        if has(&["block list", "blocklist", "blacklist", "spamhaus", "dnsbl"]) {
            return Class::BlockListed;
        }
        if has(&["dane", "tlsa", "starttls", "certificate", " tls"])
            || (subject == "7" && matches!(detail, "4" | "5" | "10" | "11"))
        {
            return Class::Tls;
        }
        match (subject, detail) {
            ("1", "1" | "0" | "3" | "6") | ("2", "1") => Class::UnknownRecipient,
            ("1", "2" | "10") | ("4", "4") => Class::NoMailServers,
            ("2", "2") => Class::MailboxFull,
            ("2", "3") | ("3", "4") => Class::TooLarge,
            ("4", "3") => Class::DnsProblem,
            ("4", "1" | "2" | "0") => Class::ConnectFailed,
            ("6", _) => Class::BadContent,
            ("7", _) => Class::SpamOrPolicy,
            _ if has(&[
                "quota",
                "mailbox full",
                "mailbox is full",
                "insufficient storage",
            ]) =>
            {
                Class::MailboxFull
            }
            _ if has(&["too large", "too big", "size limit", "exceeds"]) => Class::TooLarge,
            _ if has(&["spam"]) => Class::SpamOrPolicy,
            _ if has(&["no such user", "user unknown", "does not exist"]) => {
                Class::UnknownRecipient
            }
            _ => Class::Other,
        }
    }

    /// What happened, for people.
    pub fn what(self) -> &'static str {
        match self {
            Class::UnknownRecipient => {
                "The recipient's address does not exist, or its provider has disabled it."
            }
            Class::MailboxFull => "The recipient's mailbox is full and cannot take new messages.",
            Class::TooLarge => {
                "The message (with its attachments) is larger than the recipient's server \
                 accepts."
            }
            Class::SpamOrPolicy => {
                "The recipient's server refused the message as spam or because of its own \
                 rules."
            }
            Class::Authentication => {
                "The recipient's server could not confirm that your domain sent this message \
                 (its SPF, DKIM or DMARC records did not check out)."
            }
            Class::BlockListed => {
                "The recipient's server refused the message because the sending network is \
                 on a block list."
            }
            Class::Malware => {
                "The recipient's server found a virus or dangerous content in the message or \
                 its attachments."
            }
            Class::RateLimited => {
                "The recipient's server refused the message because too many messages were \
                 sent to it in a short time."
            }
            Class::Greylisted => {
                "The recipient's server uses greylisting: it defers the first attempt from an \
                 unknown sender on purpose."
            }
            Class::NoMailServers => {
                "The recipient's domain does not exist or does not accept mail (it has no mail \
                 servers)."
            }
            Class::DnsProblem => "The recipient's domain could not be looked up in the DNS.",
            Class::ConnectFailed => "None of the recipient's mail servers could be reached.",
            Class::Tls => {
                "A secure (encrypted) connection to the recipient's server could not be \
                 established, and the domain requires one (TLS/DANE)."
            }
            Class::BadContent => {
                "The recipient's server refused the message's format, for example a special \
                 character in a header such as the subject or a name."
            }
            Class::Other => "The recipient's server did not accept the message.",
        }
    }

    /// What the sender can do about a final failure.
    pub fn advice(self) -> &'static str {
        match self {
            Class::UnknownRecipient => {
                "Check the recipient's address for typing mistakes, correct it and send the \
                 message again; if it is right, ask the recipient for a working address."
            }
            Class::MailboxFull => {
                "Tell the recipient by other means and ask them to free space, then send the \
                 message again."
            }
            Class::TooLarge => {
                "Send the message again without its largest attachments, or share them as a \
                 download link."
            }
            Class::SpamOrPolicy => {
                "Check the message for content often taken as spam (suspicious links, many \
                 recipients, forbidden attachment types) and ask the recipient to expect or \
                 allow your messages."
            }
            Class::Authentication => {
                "Ask your domain's administrator to check its SPF, DKIM and DMARC records."
            }
            Class::BlockListed => {
                "Ask your administrator or provider to check the sending server's reputation; \
                 send from an authenticated account rather than from a website or script."
            }
            Class::Malware => {
                "Remove the attachment or link concerned (share files as a download link \
                 instead) and send the message again."
            }
            Class::RateLimited => "Wait a while and send the message again, to fewer recipients.",
            Class::Greylisted | Class::ConnectFailed | Class::DnsProblem => {
                "Try again later; if the problem persists, contact the recipient by other \
                 means so that their administrator can fix it."
            }
            Class::NoMailServers => {
                "Check the spelling of the recipient's domain (the part after the @) and send \
                 the message again."
            }
            Class::Tls => {
                "Nothing is wrong on your side: the recipient's administrator must fix their \
                 server's certificate or DANE (TLSA) records. Contact the recipient by other \
                 means."
            }
            Class::BadContent => {
                "Keep headers simple (no special characters or symbols in the subject or \
                 names) and send the message again."
            }
            Class::Other => {
                "Read the server's answer above; if it is unclear, forward this report to \
                 your administrator (postmaster)."
            }
        }
    }
}

/// The human-readable part: a greeting line, the event, then per recipient what happened
/// and what to do.
fn human_part(report: &Report<'_>, returned: &Returned<'_>) -> String {
    let mut out = String::new();
    let host = printable(report.hostname);
    let mut para = |text: &str| {
        wrap(&mut out, text, "");
        out.push_str("\r\n");
    };
    para(&format!(
        "This is the mail delivery system at {host}. This report was generated automatically."
    ));
    let give_up = age(report.give_up);
    match report.action {
        Action::Failed => para(
            "Your message could not be delivered to the recipient(s) below. It has not been \
             sent to them, and it will not be retried.",
        ),
        // SND-4: the sentence of the specification, with the configured durations.
        Action::Delayed => para(&format!(
            "Warning: message still undelivered after {}, will keep trying until message is \
             {give_up} old. There is no need to send it again: you will get another report \
             only if it finally fails.",
            age(report.delay_notice)
        )),
        Action::Delivered => {
            para("Your message was delivered to the recipient(s) below, as you asked to be told.")
        }
    }
    for rcpt in report.recipients {
        let mut heading = format!("<{}>", printable(&rcpt.address));
        if let Some(by) = &rcpt.forwarded_by {
            let _ = write!(heading, " (forwarded by <{}>)", printable(by));
        }
        heading.push(':');
        wrap(&mut out, &heading, "");
        let answer = match (&rcpt.remote_mta, &rcpt.reply) {
            (Some(mta), Some(reply)) => format!("The server {mta} answered: {reply}"),
            (None, Some(reply)) => format!("The server answered: {reply}"),
            (_, None) => format!("Problem: {}", rcpt.reason),
        };
        if report.action == Action::Delivered {
            let to = rcpt
                .remote_mta
                .as_deref()
                .unwrap_or("the recipient's server");
            wrap(&mut out, &format!("Delivered to {to}."), "    ");
            if let Some(reply) = &rcpt.reply {
                wrap(&mut out, &format!("Its answer: {reply}"), "    ");
            }
            out.push_str("\r\n");
            continue;
        }
        wrap(&mut out, &answer, "    ");
        let text = format!("{} {}", rcpt.reply.as_deref().unwrap_or(""), rcpt.reason);
        let class = Class::of(&rcpt.status, &text);
        wrap(
            &mut out,
            &format!("What happened: {}", class.what()),
            "    ",
        );
        let advice = match report.action {
            Action::Delayed => format!(
                "What to do: nothing for now; delivery is retried automatically until the \
                 message is {give_up} old."
            ),
            _ if rcpt.expired => format!(
                "We gave up after {give_up} of trying. What to do: {}",
                class.advice()
            ),
            _ => format!("What to do: {}", class.advice()),
        };
        wrap(&mut out, &advice, "    ");
        out.push_str("\r\n");
    }
    let attached = if returned.full {
        "a copy of your message"
    } else {
        "the header of your message"
    };
    let mut closing = format!(
        "The delivery report for programs and {attached} are attached. If you need help, \
         forward this report to your administrator (postmaster)."
    );
    if report.action == Action::Failed && !returned.full {
        closing.push_str(" Your message's content is in your Sent folder.");
    }
    wrap(&mut out, &closing, "");
    out
}

/// Appends `text` as lines of at most 76 columns, each starting with `indent`; a word longer
/// than a line is cut. Printable ASCII only.
fn wrap(out: &mut String, text: &str, indent: &str) {
    const WIDTH: usize = 76;
    let text = printable(text);
    let mut line = String::from(indent);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        loop {
            let room = WIDTH.saturating_sub(line.len());
            let needs_space = line.len() > indent.len();
            let need = word.len() + usize::from(needs_space);
            if need <= room {
                if needs_space {
                    line.push(' ');
                }
                line.push_str(word);
                break;
            }
            if needs_space {
                out.push_str(&line);
                out.push_str("\r\n");
                line = String::from(indent);
                continue;
            }
            // A single word longer than the line: cut it (ASCII, so any byte is a boundary).
            let cut = room.max(1).min(word.len());
            line.push_str(&word[..cut]);
            out.push_str(&line);
            out.push_str("\r\n");
            line = String::from(indent);
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if line.len() > indent.len() {
        out.push_str(&line);
        out.push_str("\r\n");
    }
}

/// A duration in the largest whole unit that divides it: "4 hours", "3 days", "90 minutes".
pub fn age(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = if secs >= 86_400 && secs.is_multiple_of(86_400) {
        (secs / 86_400, "day")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;
    const ORIGINAL: &[u8] = b"Received: from client.example ([192.0.2.7])\r\n\tby mx.example.test \
        (Postwerk) with ESMTPSA\r\n\tid ABC; Tue, 14 Nov 2023 22:13:20 +0000\r\n\
        From: sender@example.test\r\nTo: out@remote.example\r\nSubject: hello\r\n\r\n\
        The body line.\r\n";

    fn recipient() -> ReportRecipient {
        ReportRecipient {
            address: "out@remote.example".into(),
            orcpt: Some("rfc822;orig@example.test".into()),
            forwarded_by: None,
            status: "5.1.1".into(),
            remote_mta: Some("mx.remote.example".into()),
            reply: Some("550 5.1.1 <out@remote.example>: no such user".into()),
            reason: "the server refused the recipient".into(),
            last_attempt_at: Some(T0 + 60),
            expired: false,
        }
    }

    fn report<'a>(action: Action, recipients: &'a [ReportRecipient]) -> Report<'a> {
        Report {
            hostname: "mx.example.test",
            queue_id: QueueId(7),
            return_path: "sender@example.test",
            envid: Some("ENV-42"),
            ret: None,
            received_at: T0,
            action,
            recipients,
            original: ORIGINAL,
            now: T0 + 120,
            delay_notice: Duration::from_secs(4 * 3600),
            give_up: Duration::from_secs(3 * 86_400),
        }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn no_report_for_the_null_sender_or_no_recipient() {
        let rcpts = [recipient()];
        let mut r = report(Action::Failed, &rcpts);
        r.return_path = "";
        assert_eq!(build(&r), None);
        let r = report(Action::Failed, &[]);
        assert_eq!(build(&r), None);
    }

    #[test]
    fn snd_5_failure_report_has_the_rfc_3464_fields() {
        let rcpts = [recipient()];
        let dsn = text(&build(&report(Action::Failed, &rcpts)).unwrap());
        for expected in [
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n",
            "To: <sender@example.test>\r\n",
            "Subject: Undelivered Mail Returned to Sender\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "Content-Type: multipart/report; report-type=delivery-status;\r\n",
            "Content-Type: message/delivery-status\r\n",
            "Reporting-MTA: dns; mx.example.test\r\n",
            "Original-Envelope-Id: ENV-42\r\n",
            "Received-From-MTA: dns; client.example ([192.0.2.7])\r\n",
            "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
            "\r\n\r\nFinal-Recipient: rfc822; out@remote.example\r\n",
            "Original-Recipient: rfc822;orig@example.test\r\n",
            "Action: failed\r\n",
            "Status: 5.1.1\r\n",
            "Remote-MTA: dns; mx.remote.example\r\n",
            "Diagnostic-Code: smtp; 550 5.1.1 <out@remote.example>: no such user\r\n",
            "Last-Attempt-Date: Tue, 14 Nov 2023 22:14:20 +0000\r\n",
            "Content-Type: message/rfc822\r\n",
            "The body line.\r\n",
        ] {
            assert!(dsn.contains(expected), "missing {expected:?} in\n{dsn}");
        }
        assert!(!dsn.contains("Will-Retry-Until"), "delays only");
        assert!(
            dsn.contains("does not exist"),
            "human part names the class:\n{dsn}"
        );
        assert!(dsn.contains("Check the recipient's address"));
        assert!(dsn.ends_with("--\r\n"));
    }

    #[test]
    fn snd_4_delay_report_says_the_sentence_and_until_when() {
        let mut rcpt = recipient();
        rcpt.status = "4.4.1".into();
        rcpt.reply = None;
        rcpt.remote_mta = None;
        rcpt.reason = "connection refused by every MX host of remote.example".into();
        let rcpts = [rcpt];
        let dsn = text(&build(&report(Action::Delayed, &rcpts)).unwrap());
        let unwrapped = dsn.replace("\r\n", " ");
        assert!(
            unwrapped.contains(
                "Warning: message still undelivered after 4 hours, will keep trying until \
                 message is 3 days old"
            ),
            "{dsn}"
        );
        assert!(dsn.contains("Subject: Delayed Mail (still being retried)\r\n"));
        assert!(dsn.contains("Action: delayed\r\n"));
        assert!(dsn.contains("Status: 4.4.1\r\n"));
        assert!(dsn.contains("Will-Retry-Until: Fri, 17 Nov 2023 22:13:20 +0000\r\n"));
        assert!(
            dsn.contains(
                "Diagnostic-Code: X-Postwerk; connection refused by every MX host of\r\n\t\
                 remote.example\r\n"
            ),
            "no reply: our reason, folded:\n{dsn}"
        );
        assert!(!dsn.contains("Remote-MTA"));
        assert!(
            dsn.contains("Content-Type: text/rfc822-headers\r\n"),
            "headers only"
        );
        assert!(!dsn.contains("The body line."));
    }

    #[test]
    fn ret_decides_what_is_returned() {
        let rcpts = [recipient()];
        let mut r = report(Action::Failed, &rcpts);
        r.ret = Some(DsnRet::Headers);
        let dsn = text(&build(&r).unwrap());
        assert!(dsn.contains("Content-Type: text/rfc822-headers\r\n"));
        assert!(dsn.contains("Subject: hello\r\n"));
        assert!(!dsn.contains("The body line."));

        r.ret = Some(DsnRet::Full);
        let dsn = text(&build(&r).unwrap());
        assert!(dsn.contains("Content-Type: message/rfc822\r\n"));
        assert!(dsn.contains("The body line."));
    }

    #[test]
    fn without_ret_large_messages_return_their_header_only() {
        let mut big = ORIGINAL.to_vec();
        big.extend(std::iter::repeat_n(b'x', RET_FULL_LIMIT));
        big.extend_from_slice(b"\r\n");
        let rcpts = [recipient()];
        let mut r = report(Action::Failed, &rcpts);
        r.original = &big;
        let dsn = build(&r).unwrap();
        assert!(dsn.len() < 10_000);
        assert!(text(&dsn).contains("Content-Type: text/rfc822-headers\r\n"));
        // Even RET=FULL is honoured when asked.
        r.ret = Some(DsnRet::Full);
        assert!(build(&r).unwrap().len() > RET_FULL_LIMIT);
    }

    #[test]
    fn eight_bit_and_international_originals_are_declared() {
        let body8 = b"From: a@example.test\r\nSubject: x\r\n\r\ncaf\xc3\xa9\r\n";
        let rcpts = [recipient()];
        let mut r = report(Action::Failed, &rcpts);
        r.original = body8;
        let dsn = build(&r).unwrap();
        let head = String::from_utf8_lossy(&dsn);
        assert!(head.contains("Content-Type: message/rfc822\r\nContent-Description: Undelivered Message\r\nContent-Transfer-Encoding: 8bit\r\n"));

        let utf8_header = "From: a@example.test\r\nSubject: caf\u{e9}\r\n\r\nbody\r\n";
        r.original = utf8_header.as_bytes();
        let dsn = build(&r).unwrap();
        assert!(String::from_utf8_lossy(&dsn).contains("Content-Type: message/global\r\n"));
        r.ret = Some(DsnRet::Headers);
        let dsn = build(&r).unwrap();
        assert!(String::from_utf8_lossy(&dsn).contains("Content-Type: message/global-headers\r\n"));
    }

    #[test]
    fn rfc_6533_a_utf8_recipient_is_reported_in_a_global_delivery_status() {
        let rcpts = [ReportRecipient {
            address: "用户@xn--fsqu00a.xn--fiqs8s".into(),
            orcpt: Some("utf-8;用户@例子.广告".into()),
            status: "5.6.7".into(),
            remote_mta: Some("mx.xn--fsqu00a.xn--fiqs8s".into()),
            reply: None,
            reason: "the message needs SMTPUTF8 (RFC 6531) and mx.xn--fsqu00a.xn--fiqs8s \
                     does not support it"
                .into(),
            ..recipient()
        }];
        let dsn = text(&build(&report(Action::Failed, &rcpts)).unwrap());
        assert!(
            dsn.contains(
                "Content-Type: message/global-delivery-status\r\n\
                 Content-Description: Delivery report\r\n\
                 Content-Transfer-Encoding: 8bit\r\n"
            ),
            "{dsn}"
        );
        assert!(
            dsn.contains("\r\nFinal-Recipient: utf-8; 用户@xn--fsqu00a.xn--fiqs8s\r\n"),
            "{dsn}"
        );
        assert!(
            dsn.contains("\r\nOriginal-Recipient: utf-8;用户@例子.广告\r\n"),
            "{dsn}"
        );
        assert!(dsn.contains("\r\nStatus: 5.6.7\r\n"), "{dsn}");
        assert!(dsn.contains("does not support it"), "{dsn}");
        // An ASCII report keeps RFC 3464's own type.
        let ascii = text(&build(&report(Action::Failed, &[recipient()])).unwrap());
        assert!(ascii.contains("Content-Type: message/delivery-status\r\n"));
    }

    #[test]
    fn success_report() {
        let rcpt = ReportRecipient {
            status: "2.0.0".into(),
            reply: Some("250 2.0.0 Ok: queued".into()),
            ..recipient()
        };
        let rcpts = [rcpt];
        let dsn = text(&build(&report(Action::Delivered, &rcpts)).unwrap());
        assert!(dsn.contains("Subject: Successful Mail Delivery Report\r\n"));
        assert!(dsn.contains("Action: delivered\r\n"));
        assert!(dsn.contains("Status: 2.0.0\r\n"));
        assert!(dsn.contains("Diagnostic-Code: smtp; 250 2.0.0 Ok: queued\r\n"));
        assert!(dsn.contains("Content-Type: text/rfc822-headers\r\n"));
    }

    #[test]
    fn expired_recipients_say_we_gave_up() {
        let rcpt = ReportRecipient {
            status: "4.2.0".into(),
            reply: Some("451 4.2.0 later".into()),
            expired: true,
            ..recipient()
        };
        let rcpts = [rcpt];
        let dsn = text(&build(&report(Action::Failed, &rcpts)).unwrap());
        assert!(
            dsn.replace("\r\n", " ")
                .contains("We gave up after 3 days of trying")
        );
        assert!(
            dsn.contains("Status: 4.2.0\r\n"),
            "the last answer's status"
        );
    }

    #[test]
    fn hostile_replies_cannot_inject_fields() {
        let rcpt = ReportRecipient {
            reply: Some("550 5.7.1 bad\r\nAction: delivered\r\n\u{1F600}".into()),
            status: "5.7.1\r\nX: y".into(),
            ..recipient()
        };
        let rcpts = [rcpt];
        let dsn = text(&build(&report(Action::Failed, &rcpts)).unwrap());
        assert!(!dsn.contains("\r\nAction: delivered"), "{dsn}");
        assert!(
            dsn.contains("Status: 5.0.0\r\n"),
            "a malformed status is replaced"
        );
        assert!(dsn.contains("Diagnostic-Code: smtp; 550 5.7.1 bad Action: delivered ?\r\n"));
    }

    #[test]
    fn long_diagnostics_are_folded() {
        let mut out = String::new();
        let long = "word ".repeat(40);
        field(&mut out, "Diagnostic-Code", &format!("smtp; {long}"));
        for line in out.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        assert!(out.contains("\r\n\tword"));
    }

    #[test]
    fn the_boundary_never_occurs_in_the_returned_message() {
        let rcpts = [recipient()];
        let r = report(Action::Failed, &rcpts);
        let (_, boundary) = unique_names(&r);
        assert!(boundary.starts_with("=_postwerk-report_"));
        let (token_a, _) = unique_names(&r);
        let (token_b, _) = unique_names(&r);
        assert_ne!(token_a, token_b, "Message-IDs differ within a second");
    }

    #[test]
    fn received_from_reads_our_trace_line() {
        assert_eq!(
            received_from(ORIGINAL).as_deref(),
            Some("client.example ([192.0.2.7])")
        );
        assert_eq!(
            received_from(b"Subject: x\r\n\r\nReceived: from a\r\n"),
            None
        );
        assert_eq!(
            received_from(b"Received: by host; date\r\n\r\n"),
            None,
            "no from clause"
        );
        assert_eq!(received_from(b"Received: from bad(name) x\r\n\r\n"), None);
    }

    #[test]
    fn without_a_trace_line_received_from_is_this_host() {
        let rcpts = [recipient()];
        let mut r = report(Action::Failed, &rcpts);
        r.original = b"Subject: x\r\n\r\nbody\r\n";
        let dsn = text(&build(&r).unwrap());
        assert!(dsn.contains("Received-From-MTA: dns; mx.example.test\r\n"));
    }

    #[test]
    fn header_section_stops_after_the_empty_line() {
        assert_eq!(header_section(b"A: b\r\n\r\nbody"), b"A: b\r\n\r\n");
        assert_eq!(header_section(b"A: b\r\n"), b"A: b\r\n");
        assert_eq!(header_section(b"\r\nbody"), b"\r\n");
    }

    #[test]
    fn classes_of_the_bounce_guide() {
        let cases = [
            ("5.1.1", "550 5.1.1 user unknown", Class::UnknownRecipient),
            (
                "5.2.1",
                "550 5.2.1 account administratively disabled",
                Class::UnknownRecipient,
            ),
            (
                "5.2.2",
                "552 5.2.2 Mailbox disk quota exceeded",
                Class::MailboxFull,
            ),
            (
                "5.0.0",
                "552 RCPT TO:<a@b> Mailbox disk quota exceeded",
                Class::MailboxFull,
            ),
            (
                "5.3.4",
                "552 5.3.4 Message size exceeds fixed maximum",
                Class::TooLarge,
            ),
            (
                "5.7.1",
                "550 5.7.1 Message rejected as spam",
                Class::SpamOrPolicy,
            ),
            ("5.7.1", "550 5.7.1 Relaying denied", Class::SpamOrPolicy),
            (
                "5.7.26",
                "550 5.7.26 Unauthenticated email",
                Class::Authentication,
            ),
            ("5.7.1", "550 5.7.1 SPF check failed", Class::Authentication),
            (
                "5.7.1",
                "550 5.7.1 part of their network is on our block list",
                Class::BlockListed,
            ),
            (
                "5.7.1",
                "554 5.7.1 Malware message rejected",
                Class::Malware,
            ),
            ("4.7.1", "450 4.7.1 Rate limit exceeded", Class::RateLimited),
            (
                "4.7.1",
                "451 4.7.1 Greylisting in action",
                Class::Greylisted,
            ),
            (
                "5.1.10",
                "null MX: example.org accepts no mail",
                Class::NoMailServers,
            ),
            (
                "5.1.2",
                "example.invalid does not exist",
                Class::NoMailServers,
            ),
            (
                "4.4.3",
                "DNS lookup of example.org failed: SERVFAIL",
                Class::DnsProblem,
            ),
            (
                "4.4.1",
                "connection refused by every MX host",
                Class::ConnectFailed,
            ),
            (
                "4.7.5",
                "TLS certificate does not match the TLSA records (DANE)",
                Class::Tls,
            ),
            ("4.4.2", "STARTTLS failed", Class::Tls),
            (
                "5.6.7",
                "554 5.6.7 non-ASCII character in header Subject",
                Class::BadContent,
            ),
            ("5.0.0", "550 go away", Class::Other),
        ];
        for (status, text, class) in cases {
            assert_eq!(Class::of(status, text), class, "{status} {text}");
            assert!(!class.what().is_empty() && !class.advice().is_empty());
        }
    }

    #[test]
    fn ages_in_words() {
        assert_eq!(age(Duration::from_secs(4 * 3600)), "4 hours");
        assert_eq!(age(Duration::from_secs(3 * 86_400)), "3 days");
        assert_eq!(age(Duration::from_secs(86_400)), "1 day");
        assert_eq!(age(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(age(Duration::from_secs(45)), "45 seconds");
    }

    #[test]
    fn wrapping_keeps_lines_short_and_cuts_long_words() {
        let mut out = String::new();
        wrap(&mut out, &format!("short {} end", "x".repeat(200)), "    ");
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 76, "{line:?}");
            assert!(line.starts_with("    "));
        }
        assert_eq!(out.matches('x').count(), 200);
    }
}
