//! RCV-4: the per-mailbox allow and block lists of senders ("whitelist" and "blacklist"), as
//! delivery applies them, and the folder each mailbox's copy goes to.
//!
//! A list judges the envelope sender (MAIL FROM) and, at the end of the message, also the
//! `From:` addresses: people list the address they see, which for bulk mail is rarely the
//! envelope's bounce address. A block of either keeps the message out; otherwise an allow of
//! either lets it in. Like SpamAssassin's `whitelist_from`, an allow trusts what the message
//! says about its sender: forged `From:` headers are for SPF, DKIM and DMARC to catch, and a
//! DMARC `p=quarantine` or `p=reject` still applies to an allowed sender (only the score is
//! overridden).

use std::sync::Arc;

use postwerk_filter::Reply as FilterReply;
use postwerk_filter::spam::Score;
use postwerk_model::{Address, AddressId, ListKind, SpecialUse, sender_verdict};
use postwerk_store::{DeliveryTarget, ManagerStore, TargetFolder};

use crate::CoreError;

/// The mailboxes' lists, read from the store on every message (a change takes effect at
/// once, like every directory change).
#[derive(Clone)]
pub(super) struct SenderLists {
    store: Arc<dyn ManagerStore>,
}

/// What the filters decided about a message as a whole, before the lists are consulted.
#[derive(Debug, Default)]
pub(super) struct MessageClass {
    /// A reason for Junk that the lists do not override (DMARC `p=quarantine`).
    pub junk: Option<String>,
    /// The spam score when it reached the junk threshold, and the refusal when it reached
    /// the reject threshold.
    pub spam: Option<(Score, Option<FilterReply>)>,
}

impl SenderLists {
    pub(super) fn new(store: Arc<dyn ManagerStore>) -> SenderLists {
        SenderLists { store }
    }

    /// What `mailbox`'s list says about `senders`: Block when it blocks any of them, else
    /// Allow when it allows any, else `None` (the filters decide).
    pub(super) async fn verdict(
        &self,
        mailbox: AddressId,
        senders: &[Address],
    ) -> Result<Option<ListKind>, CoreError> {
        if senders.is_empty() {
            return Ok(None);
        }
        let rules = self.store.sender_rules(mailbox).await?;
        if rules.is_empty() {
            return Ok(None);
        }
        let verdicts: Vec<ListKind> = senders
            .iter()
            .filter_map(|sender| sender_verdict(&rules, sender))
            .collect();
        Ok(if verdicts.contains(&ListKind::Block) {
            Some(ListKind::Block)
        } else if verdicts.contains(&ListKind::Allow) {
            Some(ListKind::Allow)
        } else {
            None
        })
    }
}

/// The senders a list judges: the envelope sender (none for the null sender) and the `From:`
/// addresses, each once; text that is not an address is skipped.
pub(super) fn senders(return_path: &str, from: impl Iterator<Item = String>) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    let candidates = std::iter::once(return_path.to_string()).chain(from);
    for text in candidates {
        if let Ok(address) = Address::parse(text.trim())
            && !out.contains(&address)
        {
            out.push(address);
        }
    }
    out
}

/// RCV-4: the refusal of a recipient whose list blocks the sender.
pub(super) fn blocked() -> FilterReply {
    FilterReply {
        code: 550,
        status: "5.7.1",
        text: "The recipient does not accept mail from this sender".into(),
    }
}

/// The outcome of the lists for one message.
#[derive(Debug)]
pub(super) enum Sorted {
    /// Deliver to these targets (possibly none, when only forwards remain).
    Deliver(Vec<DeliveryTarget>),
    /// Refuse the whole message with this reply.
    Refuse(FilterReply),
}

/// Sorts a message's local copies per mailbox (RCV-4): a mailbox whose list blocks a sender
/// gets none; one whose list allows it gets it in INBOX whatever the score (Junk still for
/// `class.junk`); every other gets it in Junk when the score or `class.junk` says so. Spam at
/// the reject threshold is refused unless some mailbox allows the sender; a message every
/// mailbox blocks, with nothing to forward, is refused as blocked.
pub(super) async fn sort(
    lists: Option<&SenderLists>,
    mailboxes: &[AddressId],
    senders: &[Address],
    class: &MessageClass,
    forwards: bool,
) -> Result<Sorted, CoreError> {
    let mut verdicts = Vec::with_capacity(mailboxes.len());
    for mailbox in mailboxes {
        let verdict = match lists {
            Some(lists) => lists.verdict(*mailbox, senders).await?,
            None => None,
        };
        verdicts.push((*mailbox, verdict));
    }
    let allowed_somewhere = verdicts
        .iter()
        .any(|(_, verdict)| *verdict == Some(ListKind::Allow));
    if let Some((score, Some(refusal))) = &class.spam
        && !allowed_somewhere
    {
        tracing::info!(score = score.total, "refused as spam");
        return Ok(Sorted::Refuse(refusal.clone()));
    }
    let junk_folder = || TargetFolder::SpecialUse(SpecialUse::Junk);
    let mut targets = Vec::with_capacity(verdicts.len());
    for (mailbox, verdict) in verdicts {
        let folder = match verdict {
            Some(ListKind::Block) => {
                tracing::info!(%mailbox, "sender blocked by the mailbox's list");
                continue;
            }
            _ if class.junk.is_some() => junk_folder(),
            Some(ListKind::Allow) => TargetFolder::Inbox,
            None if class.spam.is_some() => junk_folder(),
            None => TargetFolder::Inbox,
        };
        targets.push(DeliveryTarget { mailbox, folder });
    }
    if targets.is_empty() && !mailboxes.is_empty() && !forwards {
        return Ok(Sorted::Refuse(blocked()));
    }
    if let Some(reason) = &class.junk {
        tracing::info!(%reason, "delivered to Junk");
    }
    if let Some((score, _)) = &class.spam {
        tracing::info!(
            score = score.total,
            "spam: Junk unless the sender is allowed"
        );
    }
    Ok(Sorted::Deliver(targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_the_envelope_and_from_addresses_once_each() {
        let found = senders(
            "bounce-1@mailer.shop.example",
            [
                "news@shop.example".to_string(),
                "Bounce-1@mailer.shop.example".to_string(),
                "not an address".to_string(),
            ]
            .into_iter(),
        );
        let found: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            ["bounce-1@mailer.shop.example", "news@shop.example"],
            "the null sender and junk are skipped, duplicates kept once"
        );
        assert!(senders("", std::iter::empty()).is_empty());
    }
}
