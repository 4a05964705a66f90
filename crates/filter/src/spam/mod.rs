//! RCV-4: the built-in spam score of a stranger's message, and what it leads to.
//!
//! ```text
//!  raw ─► facts (parse once, a bounded prefix) ─► rules (named, weighted) ─► Score
//!  Score ─► classify: below junk → clean; junk ≤ score < reject → Junk; ≥ reject → 554 5.7.1
//! ```
//!
//! The score is the sum of the weights of the rules that match ([`rules`]); SPF, DKIM and
//! DMARC results from [`crate::auth`] count as rules too ([`AuthSignals`]). The rule names are
//! SpamAssassin-like so that a mail administrator recognises them in `X-Spam-Status`.
//!
//! This module decides the class of the message only. Whether a recipient's allow list
//! (RCV-4 whitelist) overrides it is decided per recipient by `core::Delivery`, which alone
//! knows the recipients: so a message at or above the reject threshold reaches Delivery as
//! [`crate::MessageVerdict::Spam`] with its refusal, not as a refusal.

mod facts;
mod report;
mod rules;

use std::borrow::Cow;

pub use report::{headers, refusal};

/// `[spam]`: the thresholds of RCV-4.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamConfig {
    /// `[spam] enabled`: score strangers' mail and add the `X-Spam-*` headers.
    pub enabled: bool,
    /// `[spam] junk_threshold`: at or above it, the message goes to the Junk folder.
    pub junk_threshold: f64,
    /// `[spam] reject_threshold`: at or above it, the message is refused `554 5.7.1`.
    pub reject_threshold: f64,
    /// `[spam] rspamd_url` and companions: score with rspamd instead of the built-in rules
    /// (the built-in rules remain the fallback when rspamd gives no answer).
    pub rspamd: Option<crate::rspamd::RspamdConfig>,
    /// `[spam] learn_from_moves`: moving a message into or out of Junk over IMAP updates the
    /// mailbox's sender lists (`core::JunkLearning`).
    pub learn_from_moves: bool,
    /// `[spam] hold_outgoing`: SND-6, score submitted mail too, and hold what reaches
    /// `outgoing_threshold` for an administrator instead of sending it.
    pub hold_outgoing: bool,
    /// `[spam] outgoing_threshold`: the score from which a submitted message is held.
    pub outgoing_threshold: f64,
}

impl Default for SpamConfig {
    /// 5.0 is SpamAssassin's `required_score`, the figure administrators know; 15.0 leaves a
    /// wide Junk band so that refusal, which the recipient never sees, is for the obvious.
    /// Outgoing mail is held from 8.0: it has no SPF/DKIM/DMARC results yet, so the built-in
    /// rules reach at most 14.5 on it and the reject threshold would hold nothing; 8.0 takes
    /// most of the marks of bulk spam together (caps subject, spam phrases, links to bare IP
    /// addresses, HTML only, missing headers), which mail written by people does not show.
    fn default() -> SpamConfig {
        SpamConfig {
            enabled: true,
            junk_threshold: 5.0,
            reject_threshold: 15.0,
            rspamd: None,
            learn_from_moves: true,
            hold_outgoing: true,
            outgoing_threshold: 8.0,
        }
    }
}

impl SpamConfig {
    /// The class of a message that scored `total`.
    pub fn classify(&self, total: f64) -> SpamClass {
        if total >= self.reject_threshold {
            SpamClass::Reject
        } else if total >= self.junk_threshold {
            SpamClass::Junk
        } else {
            SpamClass::Clean
        }
    }
}

/// What a score leads to, before any recipient's allow list is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpamClass {
    /// Below the junk threshold: INBOX.
    Clean,
    /// At or above the junk threshold: the Junk folder.
    Junk,
    /// At or above the reject threshold: refused `554 5.7.1`.
    Reject,
}

/// One rule that matched, and what it added to the score.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    /// The rule's name, as listed in `X-Spam-Status: … tests=`: a built-in rule's, or one of
    /// rspamd's symbols when rspamd scored the message.
    pub name: Cow<'static, str>,
    /// Its weight.
    pub weight: f64,
}

/// The spam score of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The sum of the weights, rounded to one decimal (the precision shown in the headers,
    /// so the headers and the decision never disagree).
    pub total: f64,
    /// The rules that matched, in rule order.
    pub symbols: Vec<Symbol>,
}

/// The SPF result (RFC 7208 §2.6) as the score needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfSignal {
    /// `pass`.
    Pass,
    /// `fail` (delivered only under `[auth] spf_fail = "mark"`).
    Fail,
    /// `softfail`.
    SoftFail,
    /// `neutral`.
    Neutral,
    /// `none`: the domain publishes no SPF record.
    None,
    /// `permerror`: the record is broken.
    PermError,
    /// `temperror`: DNS trouble, which never counts against the sender.
    TempError,
}

/// The DKIM results (RFC 6376) of all signatures, as the score needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimSignal {
    /// At least one signature verified.
    Pass,
    /// Signatures are present and none verified (bad signature, body changed, no key).
    Invalid,
    /// No signature.
    None,
    /// Verification was not possible for a temporary reason (DNS).
    TempError,
}

/// The DMARC result (RFC 7489) as the score needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcSignal {
    /// Aligned SPF or DKIM pass.
    Pass,
    /// Neither aligns; the domain's policy was applied before scoring (reject refused,
    /// quarantine to Junk), so what is scored here is mostly `p=none`.
    Fail,
    /// The From: domain publishes no DMARC policy.
    None,
    /// Not evaluated for a temporary or permanent error.
    Error,
}

/// SPF, DKIM and DMARC results of a message (RCV-2), for the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSignals {
    /// SPF of the MAIL FROM (or HELO) identity.
    pub spf: SpfSignal,
    /// DKIM over all signatures.
    pub dkim: DkimSignal,
    /// DMARC of the From: domain.
    pub dmarc: DmarcSignal,
}

/// The spam score of `raw`, with `auth` the SPF/DKIM/DMARC results when they were checked.
///
/// The message is parsed once, and only its first [`facts::SCANNED_BYTES`]; text parts count
/// up to [`facts::TEXT_BYTES`] in all: the cost is bounded whatever the size of the message,
/// and spam shows itself at the start.
pub fn score(raw: &[u8], auth: Option<&AuthSignals>) -> Score {
    let facts = facts::Facts::of(raw, auth.copied());
    let symbols: Vec<Symbol> = rules::RULES
        .iter()
        .filter(|rule| (rule.test)(&facts))
        .map(|rule| Symbol {
            name: Cow::Borrowed(rule.name),
            weight: rule.weight,
        })
        .collect();
    let sum: f64 = symbols.iter().map(|symbol| symbol.weight).sum();
    Score {
        total: (sum * 10.0).round() / 10.0,
        symbols,
    }
}
