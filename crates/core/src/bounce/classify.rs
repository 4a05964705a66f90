//! Which class of the bounce guide an answer belongs to (CLI-2), and what to tell the sender.
//!
//! One ordered table of rules, [`RULES`]: the first that matches wins. A rule looks at the
//! RFC 3463 enhanced status (`class.subject.detail`; the class digit is ignored unless the
//! rule is about temporary answers) and/or words of the remote server's answer. Specific
//! words come first because servers reuse one status for many reasons (x.7.1 is spam, block
//! lists, reputation and our own auth guards alike); unambiguous statuses next; generic words
//! last. What no rule recognises is [`BounceClass::Delayed`] when the answer was temporary,
//! else [`BounceClass::Other`].

use serde::Serialize;

/// The classes of SPEC CLI-2 and the seed's bounce guide, plus `Other`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceClass {
    /// The recipient's address does not exist or was disabled.
    UnknownUser,
    /// The recipient's mailbox is over its quota.
    MailboxFull,
    /// The sending domain's SPF (or DKIM/DMARC) did not check out.
    SpfFailure,
    /// The content was taken for spam.
    SpamFilter,
    /// The sending domain or server has a poor reputation.
    BadReputation,
    /// The recipient's domain does not exist or accepts no mail.
    DomainNotFound,
    /// The sending server or network is on a block list.
    BlockList,
    /// The first attempt was deferred on purpose (greylisting).
    Greylisting,
    /// Not delivered yet, for a temporary reason with no more precise class.
    Delayed,
    /// A virus or dangerous content was found.
    Malware,
    /// The message is larger than the receiving server accepts.
    Size,
    /// Too many messages or recipients in too little time.
    RateLimit,
    /// Our own SND-1 refusal: the sender is not an address of the mailbox.
    AuthGuards,
    /// A non-ASCII character in a header the receiving server does not accept.
    UnicodeHeader,
    /// Nothing above.
    Other,
}

impl BounceClass {
    /// Every class, in the order of the list.
    pub const ALL: [BounceClass; 15] = [
        BounceClass::UnknownUser,
        BounceClass::MailboxFull,
        BounceClass::SpfFailure,
        BounceClass::SpamFilter,
        BounceClass::BadReputation,
        BounceClass::DomainNotFound,
        BounceClass::BlockList,
        BounceClass::Greylisting,
        BounceClass::Delayed,
        BounceClass::Malware,
        BounceClass::Size,
        BounceClass::RateLimit,
        BounceClass::AuthGuards,
        BounceClass::UnicodeHeader,
        BounceClass::Other,
    ];

    /// A short title for the class, as the webmail box heads it.
    pub fn label(self) -> &'static str {
        match self {
            BounceClass::UnknownUser => "Unknown user",
            BounceClass::MailboxFull => "Mailbox full",
            BounceClass::SpfFailure => "SPF failure",
            BounceClass::SpamFilter => "Blocked by a spam filter",
            BounceClass::BadReputation => "Bad reputation",
            BounceClass::DomainNotFound => "Domain not found",
            BounceClass::BlockList => "On a block list",
            BounceClass::Greylisting => "Greylisting",
            BounceClass::Delayed => "Delayed",
            BounceClass::Malware => "Malware",
            BounceClass::Size => "Message too large",
            BounceClass::RateLimit => "Rate limit",
            BounceClass::AuthGuards => "Sender denied (auth guards)",
            BounceClass::UnicodeHeader => "Special character in a header",
            BounceClass::Other => "Other",
        }
    }

    /// What happened, in plain language for the sender (after the seed's bounce guide).
    pub fn what_happened(self) -> &'static str {
        match self {
            BounceClass::UnknownUser => {
                "The recipient's address does not exist, or their provider has disabled it."
            }
            BounceClass::MailboxFull => "The recipient's mailbox is full.",
            BounceClass::SpfFailure => {
                "The recipient's server could not confirm that your domain allows this server \
                 to send its mail: the SPF check (or DKIM/DMARC) of your domain failed."
            }
            BounceClass::SpamFilter => {
                "The recipient's server took the message for spam and refused it."
            }
            BounceClass::BadReputation => {
                "The recipient's server refused the message because of the poor reputation of \
                 your domain or of the server that sent it."
            }
            BounceClass::DomainNotFound => {
                "The recipient's domain (the part after the @) does not exist or accepts no mail."
            }
            BounceClass::BlockList => {
                "The server that sent the message, or its network, is on a block list that the \
                 recipient's server uses."
            }
            BounceClass::Greylisting => {
                "The recipient's server deferred the first attempt on purpose, as it does with \
                 senders it does not know yet (greylisting)."
            }
            BounceClass::Delayed => {
                "The message has not been delivered yet: the recipient's server could not be \
                 reached or asked to come back later."
            }
            BounceClass::Malware => {
                "The recipient's server found a virus or dangerous content in the message or \
                 its attachments."
            }
            BounceClass::Size => {
                "The message with its attachments is larger than the recipient's server accepts."
            }
            BounceClass::RateLimit => {
                "Too many messages, or too many recipients, were sent to the recipient's server \
                 in a short time."
            }
            BounceClass::AuthGuards => {
                "You tried to send as an address your mailbox does not own, so the server \
                 refused the message: the sender must be your mailbox's address or one of its \
                 aliases."
            }
            BounceClass::UnicodeHeader => {
                "The message has a special character (an accent, an emoji or a symbol such as \
                 a heart) in its subject, a name or an address, and the recipient's server does \
                 not accept it there."
            }
            BounceClass::Other => {
                "The recipient's server did not accept the message, for a reason this \
                 explanation does not recognise."
            }
        }
    }

    /// What the sender can do about it.
    pub fn what_to_do(self) -> &'static str {
        match self {
            BounceClass::UnknownUser => {
                "Check the address for typing mistakes and send the message again; if it is \
                 right, ask the recipient for an address that works."
            }
            BounceClass::MailboxFull => "Try again in a few days or reach them another way.",
            BounceClass::SpfFailure => {
                "Ask the administrator of your domain to check its SPF record (and DKIM and \
                 DMARC), especially when a website, shop or other service also sends mail in \
                 your domain's name."
            }
            BounceClass::SpamFilter => {
                "Remove what looks like spam (many links, shortened links, words in capitals, \
                 images without text) and send the message again; ask the recipient to look in \
                 their junk folder and to add you to their contacts."
            }
            BounceClass::BadReputation => {
                "Check that none of your addresses has sent spam without your knowledge (change \
                 their passwords if in doubt) and forward this report to your administrator; \
                 meanwhile, reach the recipient another way."
            }
            BounceClass::DomainNotFound => {
                "Check the spelling of the part after the @ and send the message again."
            }
            BounceClass::BlockList => {
                "Send from your mailbox with its password (not from a website or script); if you \
                 did, forward this report to your administrator, who can ask the list named in \
                 the server's words to remove the server."
            }
            BounceClass::Greylisting => {
                "Nothing: delivery is retried automatically and usually succeeds within the \
                 hour; if a final failure report follows, send the message again later."
            }
            BounceClass::Delayed => {
                "Nothing for now: delivery is retried automatically for several days, and you \
                 will be told if it finally fails; then send it again later or reach the \
                 recipient another way."
            }
            BounceClass::Malware => {
                "Check your device for viruses, remove the attachment or link concerned (share \
                 files through a download link instead) and send the message again."
            }
            BounceClass::Size => {
                "Send it again without the largest attachments, or share them through a \
                 download link."
            }
            BounceClass::RateLimit => {
                "Wait an hour or so and send the message again, to fewer recipients at a time."
            }
            BounceClass::AuthGuards => {
                "Choose your own address as the sender in your mail app, or ask your \
                 administrator to add this address to your mailbox as an alias; then send the \
                 message again."
            }
            BounceClass::UnicodeHeader => {
                "Remove special characters and symbols from the subject and the names, and send \
                 the message again."
            }
            BounceClass::Other => {
                "Read the server's words below; if they are unclear, forward this report to \
                 your administrator."
            }
        }
    }
}

/// When a rule applies.
enum When {
    /// Any of these words occurs in the answer (lowercase; the answer is lowercased).
    Words(&'static [&'static str]),
    /// The enhanced status's `subject.detail` is one of these (`"1.1"` for 4.1.1 and 5.1.1).
    Status(&'static [&'static str]),
    /// A temporary answer (4xx, 4.x.x) containing any of these words.
    TemporaryWords(&'static [&'static str]),
}

/// One rule: the class it gives and when.
struct Rule {
    class: BounceClass,
    when: When,
}

/// The rules, in order; the first that matches wins. Each cites where its wording comes from.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    // SND-1: our own refusal, `553 5.7.1 Sender denied: auth guards failed` (smtp::reply),
    // and the seed guide's "Sender denied: auth guards failed". Before anything about x.7.1.
    Rule { class: BounceClass::AuthGuards, when: When::Words(&["auth guards"]) },
    // RFC 6531 §3.7.4.2 / §3.7.5: X.6.7 non-ASCII addresses, X.6.8 UTF-8 reply required,
    // X.6.9 UTF-8 header cannot be transferred; our RCV-10 reply "Non-ASCII characters in the
    // Subject header require SMTPUTF8"; the seed guide's "contains a unicode character in a
    // disallowed header".
    Rule { class: BounceClass::UnicodeHeader, when: When::Status(&["6.7", "6.8", "6.9"]) },
    Rule { class: BounceClass::UnicodeHeader, when: When::Words(&[
        "unicode character", "smtputf8", "non-ascii", "8-bit character", "8bit character",
    ]) },
    // The seed guide's "Malware message rejected"; ClamAV-based filters say "virus found" or
    // "infected"; our RCV-6 refusal names the virus.
    Rule { class: BounceClass::Malware, when: When::Words(&["virus", "malware", "infected"]) },
    // Explicit greylisting: Postgrey "Greylisted, see http://postgrey.schweikert.ch/…",
    // our RCV-3 "Greylisted: this server does not know you yet", Exim/milter "greylisting".
    Rule { class: BounceClass::Greylisting, when: When::Words(&[
        "greylist", "graylist", "grey list", "gray list",
    ]) },
    // DNS block lists: Postfix reject_rbl_client "blocked using zen.spamhaus.org"; Spamhaus
    // return texts; Microsoft 365 "5.7.606 Access denied, banned sending IP" and the seed
    // guide's "part of their network is on our block list"; the word "listed" in its usual
    // phrasings ("is listed on", "listed at").
    Rule { class: BounceClass::BlockList, when: When::Status(&["7.606", "7.607", "7.608"]) },
    Rule { class: BounceClass::BlockList, when: When::Words(&[
        "spamhaus", "blocked using", "block list", "blocklist", "blacklist", "black list",
        "dnsbl", "rbl", "banned sending ip", "is listed", "are listed", "listed at",
        "listed on", "listed by",
    ]) },
    // Gmail 550-5.7.1 "very low reputation of the sending domain" (seed guide), Gmail
    // "421-4.7.0 … low IP reputation", Microsoft "poor reputation", Validity "senderscore".
    Rule { class: BounceClass::BadReputation, when: When::Words(&["reputation", "senderscore"]) },
    // RFC 7372 §3.1–3.3: X.7.20–X.7.22 DKIM, X.7.23 SPF validation failed, X.7.24 SPF
    // validation error, X.7.26 multiple authentication checks failed (Gmail "Unauthenticated
    // email … DMARC"); the seed guide's "Delivery … failed due to SPF failure".
    Rule { class: BounceClass::SpfFailure, when: When::Status(&[
        "7.20", "7.21", "7.22", "7.23", "7.24", "7.26",
    ]) },
    Rule { class: BounceClass::SpfFailure, when: When::Words(&[
        "spf", "sender policy framework", "dmarc", "dkim", "unauthenticated email",
    ]) },
    // Rate limits: Gmail "4.7.28 … unusual rate of unsolicited mail" and "receiving mail too
    // quickly", Microsoft "4.7.500 Server busy" / "too many connections", Postfix
    // "452 4.5.3 Too many recipients", the seed guide's "Rate Limit Exceeded"; X.7.28 is the
    // IANA registry's "mail flood detected".
    Rule { class: BounceClass::RateLimit, when: When::Status(&["7.28"]) },
    Rule { class: BounceClass::RateLimit, when: When::Words(&[
        "rate limit", "rate-limit", "ratelimit", "too many", "too quickly", "unusual rate",
        "sending rate", "throttl", "server busy",
    ]) },
    // Temporary x.7.1 that asks to come back later, without naming a reason: the shape of
    // greylisting replies that do not say the word ("451 4.7.1 Please try again later").
    Rule { class: BounceClass::Greylisting, when: When::TemporaryWords(&[
        "try again later", "retry later", "please retry", "come back later",
    ]) },
    // Content filters: the seed guide's "rejected as spam" and "Content Rejected"; SpamAssassin
    // and rspamd "spam message rejected"; Microsoft "5.7.1 … message content rejected".
    Rule { class: BounceClass::SpamFilter, when: When::Words(&[
        "spam", "content rejected", "message content", "junk mail", "suspicious",
    ]) },
    // RFC 3463 §3.2: X.1.2 bad destination system address; RFC 7505 §4.2: X.1.10 null MX;
    // §3.5: X.4.4 unable to route. Our client's NXDOMAIN and null MX reports (smtp::client).
    Rule { class: BounceClass::DomainNotFound, when: When::Status(&["1.2", "1.10", "4.4"]) },
    Rule { class: BounceClass::DomainNotFound, when: When::Words(&[
        "domain not found", "host not found", "host or domain name not found",
        "domain does not exist", "no such domain", "nxdomain", "unrouteable", "no mx record",
        "name or service not known",
    ]) },
    // RFC 3463 §3.3: X.2.2 mailbox full; the seed guide's "Mailbox disk quota exceeded";
    // Dovecot "Quota exceeded (mailbox for user is full)", Gmail "4.2.2 … over quota",
    // RFC 821's "exceeded storage allocation". Before the size words: "quota exceeded".
    Rule { class: BounceClass::MailboxFull, when: When::Status(&["2.2"]) },
    // RFC 3463 §3.3 X.2.3 message length exceeds administrative limit, §3.4 X.3.4 message too
    // big for system; Postfix and our RCV-7 "552 5.3.4 Message size exceeds fixed maximum
    // message size", Gmail "552-5.2.3 … exceeded Google's message size limits".
    Rule { class: BounceClass::Size, when: When::Status(&["2.3", "3.4"]) },
    // RFC 3463 §3.2: X.1.1 bad destination mailbox, X.1.6 mailbox moved; §3.3 X.2.1 mailbox
    // disabled (the seed guide's "account administratively disabled").
    Rule { class: BounceClass::UnknownUser, when: When::Status(&["1.1", "1.6", "2.1"]) },
    Rule { class: BounceClass::MailboxFull, when: When::Words(&[
        "quota", "mailbox full", "mailbox is full", "mailbox has exceeded", "storage allocation",
        "insufficient storage",
    ]) },
    Rule { class: BounceClass::Size, when: When::Words(&[
        "message size exceeds", "size exceeds", "exceeds size", "message too large",
        "message is too large", "too big", "file too large", "size limit",
    ]) },
    // Postfix "User unknown in virtual mailbox table", Exim "Unrouteable address" (above, as
    // a domain) and "no such user", qmail "does not like recipient", Microsoft 365
    // "5.4.1 Recipient address rejected: Access denied" (directory-based edge blocking: the
    // address does not exist there), the seed guide's "does not exist".
    Rule { class: BounceClass::UnknownUser, when: When::Words(&[
        "user unknown", "unknown user", "no such user", "does not exist", "recipient not found",
        "unknown recipient", "invalid recipient", "no mailbox", "does not like recipient",
        "address rejected: access denied", "account disabled", "administratively disabled",
        "mailbox not found", "mailbox unavailable",
    ]) },
    // RFC 3463 §3.5: X.4.7 delivery time expired (the queue gave up after retrying).
    Rule { class: BounceClass::Delayed, when: When::Status(&["4.7"]) },
];

/// The class of one answer: its enhanced status (if any), the server's words (any case), and
/// whether it was temporary (a 4.x.x status, a 4xx reply, or a report of a delay).
pub fn classify(status: Option<&str>, text: &str, temporary: bool) -> BounceClass {
    let text = text.to_ascii_lowercase();
    let subject_detail = status.and_then(subject_detail);
    let temporary = temporary || status.is_some_and(|s| s.starts_with('4'));
    let found = RULES.iter().find(|rule| match rule.when {
        When::Words(words) => words.iter().any(|w| text.contains(w)),
        When::Status(codes) => subject_detail.is_some_and(|sd| codes.contains(&sd)),
        When::TemporaryWords(words) => temporary && words.iter().any(|w| text.contains(w)),
    });
    match found {
        Some(rule) => rule.class,
        None if temporary => BounceClass::Delayed,
        None => BounceClass::Other,
    }
}

/// `5.1.1` → `1.1`; `None` when `status` is not an RFC 3463 code.
fn subject_detail(status: &str) -> Option<&str> {
    if !is_enhanced_status(status) {
        return None;
    }
    status.split_once('.').map(|(_, rest)| rest)
}

/// RFC 3463 §2: `class "." subject "." detail`, class 2, 4 or 5, subject 1–3 digits, detail
/// 1–3 digits.
pub fn is_enhanced_status(status: &str) -> bool {
    let mut parts = status.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    matches!(class, "2" | "4" | "5") && digits(subject) && digits(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_decides_when_the_words_say_nothing_specific() {
        assert_eq!(classify(Some("5.1.1"), "", false), BounceClass::UnknownUser);
        assert_eq!(classify(Some("5.2.2"), "", false), BounceClass::MailboxFull);
        assert_eq!(classify(Some("5.3.4"), "", false), BounceClass::Size);
        assert_eq!(classify(Some("5.7.23"), "", false), BounceClass::SpfFailure);
        assert_eq!(
            classify(Some("5.1.10"), "", false),
            BounceClass::DomainNotFound
        );
        assert_eq!(
            classify(Some("5.6.7"), "", false),
            BounceClass::UnicodeHeader
        );
        assert_eq!(classify(Some("4.4.7"), "", false), BounceClass::Delayed);
    }

    #[test]
    fn policy_refusals_are_told_apart_by_their_words() {
        let cases = [
            (
                "553 5.7.1 Sender denied: auth guards failed",
                BounceClass::AuthGuards,
            ),
            (
                "554 5.7.1 Client host blocked using zen.spamhaus.org",
                BounceClass::BlockList,
            ),
            (
                "550 5.7.1 very low reputation of the sending domain",
                BounceClass::BadReputation,
            ),
            (
                "550 5.7.1 Message rejected as spam",
                BounceClass::SpamFilter,
            ),
            ("554 5.7.1 Malware message rejected", BounceClass::Malware),
            ("550 5.7.1 SPF check failed", BounceClass::SpfFailure),
            ("550 5.7.1 Relaying denied", BounceClass::Other),
        ];
        for (text, class) in cases {
            assert_eq!(classify(Some("5.7.1"), text, false), class, "{text}");
        }
    }

    #[test]
    fn temporary_x_7_1_is_greylisting_or_a_rate_limit_by_its_words() {
        let grey = "451 4.7.1 Please try again later";
        assert_eq!(
            classify(Some("4.7.1"), grey, false),
            BounceClass::Greylisting
        );
        let rate = "451 4.7.1 Too many messages from your address, try again later";
        assert_eq!(classify(Some("4.7.1"), rate, false), BounceClass::RateLimit);
        // The same words in a permanent refusal are no greylisting.
        assert_eq!(classify(Some("5.7.1"), grey, false), BounceClass::Other);
    }

    #[test]
    fn unrecognised_temporary_answers_are_delays() {
        assert_eq!(
            classify(Some("4.4.1"), "connection refused", false),
            BounceClass::Delayed
        );
        assert_eq!(
            classify(None, "451 local problem", true),
            BounceClass::Delayed
        );
        assert_eq!(classify(None, "550 go away", false), BounceClass::Other);
    }

    #[test]
    fn words_classify_answers_without_a_status() {
        let full = "552 RCPT TO:anna.a@abc.xyz Mailbox disk quota exceeded";
        assert_eq!(classify(None, full, false), BounceClass::MailboxFull);
        let big = "552 Message size exceeds maximum permitted";
        assert_eq!(classify(None, big, false), BounceClass::Size);
    }

    #[test]
    fn every_class_has_a_label_and_both_sentences() {
        for class in BounceClass::ALL {
            assert!(!class.label().is_empty());
            assert!(class.what_happened().ends_with('.'), "{class:?}");
            assert!(class.what_to_do().ends_with('.'), "{class:?}");
        }
    }

    #[test]
    fn enhanced_status_syntax() {
        assert!(is_enhanced_status("5.1.1"));
        assert!(is_enhanced_status("4.7.606"));
        assert!(!is_enhanced_status("3.1.1"));
        assert!(!is_enhanced_status("5.1"));
        assert!(!is_enhanced_status("5.1.1.1"));
        assert!(!is_enhanced_status("5.a.1"));
    }
}
