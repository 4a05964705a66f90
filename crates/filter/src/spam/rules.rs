//! The rule set of the built-in score: each rule a named test with a weight.
//!
//! Weights are chosen so that no single sign of carelessness sends a message to Junk (a
//! hand-written message from a small server lacks a `Message-ID:` and DKIM and still scores
//! well under 5), while the usual combination of a bulk spam tool — no date, shouting
//! subject, HTML only, links to bare IP addresses, no authentication — passes the junk
//! threshold. The reject threshold (15 by default) needs failed authentication on top.

use super::facts::Facts;
use super::{DkimSignal, DmarcSignal, SpfSignal};

/// One rule: its name in `X-Spam-Status`, its weight, and its test.
pub(crate) struct Rule {
    pub name: &'static str,
    pub weight: f64,
    pub test: fn(&Facts) -> bool,
}

/// Every rule, in the order the headers list them.
#[rustfmt::skip]
pub(crate) const RULES: &[Rule] = &[
    Rule { name: "MISSING_DATE", weight: 1.0, test: missing_date },
    Rule { name: "MISSING_MESSAGE_ID", weight: 0.5, test: missing_message_id },
    Rule { name: "MISSING_FROM", weight: 1.5, test: missing_from },
    Rule { name: "EMPTY_SUBJECT", weight: 0.5, test: empty_subject },
    Rule { name: "SUBJECT_ALL_CAPS", weight: 1.5, test: subject_all_caps },
    Rule { name: "FROM_REPLYTO_DIFFERENT_DOMAIN", weight: 1.0, test: from_replyto_different_domain },
    Rule { name: "FROM_NAME_FORGED_ADDRESS", weight: 1.5, test: from_name_forged_address },
    Rule { name: "HTML_ONLY", weight: 1.0, test: html_only },
    Rule { name: "BASE64_TEXT_BODY", weight: 1.0, test: base64_text_body },
    Rule { name: "URL_WITH_IP_HOST", weight: 2.0, test: url_with_ip_host },
    Rule { name: "MANY_URLS", weight: 0.5, test: many_urls },
    Rule { name: "SPAM_PHRASE", weight: 0.5, test: spam_phrase },
    Rule { name: "SPAM_PHRASES_MANY", weight: 2.0, test: spam_phrases_many },
    Rule { name: "SPF_FAIL", weight: 3.0, test: spf_fail },
    Rule { name: "SPF_SOFTFAIL", weight: 1.5, test: spf_softfail },
    Rule { name: "SPF_NONE", weight: 0.5, test: spf_none },
    Rule { name: "SPF_PERMERROR", weight: 0.5, test: spf_permerror },
    Rule { name: "DKIM_NONE", weight: 0.3, test: dkim_none },
    Rule { name: "DKIM_INVALID", weight: 1.0, test: dkim_invalid },
    Rule { name: "DMARC_FAIL", weight: 2.5, test: dmarc_fail },
];

/// RFC 5322 §3.6 requires `Date:`; every mail program adds one, bulk tools often do not.
fn missing_date(facts: &Facts) -> bool {
    facts.parsed && !facts.has_date
}

/// RFC 5322 §3.6.4: every client and submission server adds a `Message-ID:`; its absence
/// says the message was made by hand or by a script — weak alone.
fn missing_message_id(facts: &Facts) -> bool {
    facts.parsed && !facts.has_message_id
}

/// RFC 5322 §3.6 requires `From:`; without it the recipient cannot tell who wrote.
fn missing_from(facts: &Facts) -> bool {
    facts.parsed && !facts.has_from
}

/// A missing or blank subject: people write one, mass mailers that rotate content often
/// leave it out.
fn empty_subject(facts: &Facts) -> bool {
    facts.parsed && facts.subject.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// A subject in capitals ("FREE MONEY NOW") shouts for attention the way spam does; short
/// ones ("RE: OK", an acronym) are left alone.
fn subject_all_caps(facts: &Facts) -> bool {
    let Some(subject) = facts.subject.as_deref() else {
        return false;
    };
    let letters = subject.chars().filter(|c| c.is_alphabetic());
    letters.clone().count() >= 10 && letters.clone().all(|c| !c.is_lowercase())
}

/// Replies collected at a domain other than the sender's: phishing and advance-fee fraud
/// write from a borrowed domain and read the answers elsewhere. Subdomains of each other
/// (`news.shop.example` and `shop.example`) are the same sender.
fn from_replyto_different_domain(facts: &Facts) -> bool {
    let Some(from) = facts.from_domain.as_deref() else {
        return false;
    };
    facts
        .reply_to_domains
        .iter()
        .any(|reply| !related_domains(from, reply))
}

/// A display name holding another domain's address (`"service@bank.example"
/// <x@elsewhere.example>`): clients show the name, so the reader believes the fake one.
fn from_name_forged_address(facts: &Facts) -> bool {
    let (Some(name), Some(from)) = (facts.from_name.as_deref(), facts.from_domain.as_deref())
    else {
        return false;
    };
    name.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '"' | '\''))
        .filter_map(|word| word.rsplit_once('@'))
        .any(|(local, domain)| {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            !local.is_empty() && domain.contains('.') && !related_domains(from, &domain)
        })
}

/// HTML without a plain-text alternative: mail programs send both (RFC 2046 §5.1.4
/// multipart/alternative); spam tools often send HTML alone.
fn html_only(facts: &Facts) -> bool {
    facts.html_only
}

/// Text sent base64-encoded hides its words from simple filters; most mail programs use
/// quoted-printable or 8bit for text.
fn base64_text_body(facts: &Facts) -> bool {
    facts.base64_text
}

/// A link to a bare IP address hides where it goes, and points at a host that could not get
/// a name: typical of phishing kits on hijacked machines.
fn url_with_ip_host(facts: &Facts) -> bool {
    facts.url_with_ip_host
}

/// Twenty or more distinct links: newsletters do it too, so it weighs little.
fn many_urls(facts: &Facts) -> bool {
    facts.urls.len() >= 20
}

/// Phrases that real correspondence rarely uses and spam campaigns live on. Lowercase; the
/// subject and the text are searched.
const SPAM_PHRASES: &[&str] = &[
    "100% free",
    "act now",
    "claim your prize",
    "you have been selected",
    "you are a winner",
    "lottery",
    "wire transfer",
    "viagra",
    "cialis",
    "risk-free",
    "limited time offer",
    "earn money fast",
    "work from home",
    "verify your account",
    "your account has been suspended",
    "urgent response",
    "million dollars",
    "no credit check",
];

fn spam_phrase_count(facts: &Facts) -> usize {
    let subject = facts.subject.as_deref().unwrap_or_default().to_lowercase();
    SPAM_PHRASES
        .iter()
        .filter(|phrase| facts.text.contains(*phrase) || subject.contains(*phrase))
        .count()
}

/// One spam phrase: a hint only, since a real message may quote one.
fn spam_phrase(facts: &Facts) -> bool {
    spam_phrase_count(facts) >= 1
}

/// Three or more different spam phrases in one message: a pattern, not a coincidence.
fn spam_phrases_many(facts: &Facts) -> bool {
    spam_phrase_count(facts) >= 3
}

fn spf(facts: &Facts) -> Option<SpfSignal> {
    facts.auth.map(|auth| auth.spf)
}

/// SPF `fail` reaches the score only under `[auth] spf_fail = "mark"`: the domain says this
/// client may not send its mail.
fn spf_fail(facts: &Facts) -> bool {
    spf(facts) == Some(SpfSignal::Fail)
}

/// SPF `softfail`: the domain says this client is probably not one of its senders.
fn spf_softfail(facts: &Facts) -> bool {
    spf(facts) == Some(SpfSignal::SoftFail)
}

/// No SPF record (or a neutral one): a domain that says nothing about its senders, as
/// throwaway spam domains often do.
fn spf_none(facts: &Facts) -> bool {
    matches!(spf(facts), Some(SpfSignal::None | SpfSignal::Neutral))
}

/// A broken SPF record: a badly run domain, not proof of abuse.
fn spf_permerror(facts: &Facts) -> bool {
    spf(facts) == Some(SpfSignal::PermError)
}

/// No DKIM signature: most large senders sign; weak alone since small servers often do not.
fn dkim_none(facts: &Facts) -> bool {
    facts.auth.is_some_and(|auth| auth.dkim == DkimSignal::None)
}

/// Signatures that do not verify: the message was altered or the signature forged.
fn dkim_invalid(facts: &Facts) -> bool {
    facts
        .auth
        .is_some_and(|auth| auth.dkim == DkimSignal::Invalid)
}

/// DMARC `fail` (under `p=none`, the only policy that leaves it to the score): the From:
/// domain is not authenticated by either SPF or DKIM.
fn dmarc_fail(facts: &Facts) -> bool {
    facts
        .auth
        .is_some_and(|auth| auth.dmarc == DmarcSignal::Fail)
}

/// True when `a` and `b` are the same domain or one is a subdomain of the other.
fn related_domains(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}
