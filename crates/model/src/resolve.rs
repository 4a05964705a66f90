//! RCV-13: what happens to mail for one recipient address, sans I/O.
//!
//! The directory lives in the store, so resolution is a state machine that asks for the
//! [`Facts`] of one address at a time; the store (or a test) answers, and the machine decides.
//!
//! ```text
//!   Expansion::new(rcpt) ──► next_lookup() ──Some(addr)──► caller looks up Facts(addr)
//!                               ▲   │                               │
//!                               │   None                            ▼
//!                               │   ▼                            feed(facts)
//!                               │ finish() ──► Outcome              │
//!                               └───────────────────────────────────┘
//! ```
//!
//! One address resolves in the order of RCV-13: exact address → alias → alias domain (the
//! store maps `x@alias.example` onto the primary domain before filling `exact` and `alias_of`)
//! → redirection-only address (an exact or alias match of kind
//! [`RedirectOnly`](crate::AddressKind::RedirectOnly)) → catch-all → reject.
//!
//! Redirections (ADDR-4, ADDR-5) are expanded breadth-first: a hosted target is resolved in
//! turn with the same rules, an outside target becomes a [`Delivery::Forward`] (the caller
//! applies SRS). The expansion is bounded and loop-safe:
//! - a hosted address already on the path that led to it is a loop and is not expanded again;
//!   one reached a second time by another path is a join and is not expanded again either;
//! - redirections deeper than `max_depth` hops, deliveries beyond `max_deliveries` and lookups
//!   beyond a work budget are dropped and recorded in [`Expansion::notes`];
//! - a mailbox receives one local copy however many paths lead to it, and an outside address
//!   one forward.
//!
//! If the recipient resolves but the expansion delivers nowhere, the recipient is refused:
//! with [`Refusal::RedirectLoop`] when a loop or a bound cut it short (RFC 5321 §6.3 treats
//! runaway forwarding as a loop), otherwise with the refusal of the first dead end met (say,
//! a redirection whose only target is disabled). Refusing at RCPT beats accepting mail that
//! would silently vanish.
//!
//! Each recipient of a message is a separate expansion, so a message sent to an address and
//! to one of its aliases is delivered twice, once per recipient (ADDR-6).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Address, AddressId, AddressKind, Domain, HostedAddress, ServiceId};

/// A sensible `max_depth`: ten redirection hops.
pub const DEFAULT_MAX_DEPTH: usize = 10;

/// A sensible `max_deliveries`: a hundred mailboxes and outside addresses per recipient.
pub const DEFAULT_MAX_DELIVERIES: usize = 100;

/// Unless set with [`Expansion::with_max_lookups`], an expansion makes at most this many
/// lookups per allowed delivery, which leaves room for redirect-only hops and joins while
/// bounding the work a redirection graph can cause.
pub const LOOKUPS_PER_DELIVERY: usize = 4;

/// What the directory knows about one recipient address (filled by the store).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    /// The service whose primary domain or alias domain is the address's domain, if any.
    pub service: Option<ServiceFacts>,
    /// The hosted address whose (service-domain) local part equals the recipient's.
    pub exact: Option<HostedAddress>,
    /// The hosted address owning an alias with this local part.
    pub alias_of: Option<HostedAddress>,
    /// The catch-all of the service, if one exists.
    pub catch_all: Option<HostedAddress>,
}

impl Facts {
    /// The facts of an address whose domain no service here serves.
    pub fn not_local() -> Facts {
        Facts::default()
    }
}

/// The service a recipient's domain belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFacts {
    /// The service.
    pub id: ServiceId,
    /// Its primary domain.
    pub domain: Domain,
    /// True when the recipient's domain is one of the service's alias domains (SVC-3); for
    /// logs, the mapping itself is the store's job.
    pub via_alias_domain: bool,
}

/// Why mail for a recipient is refused at RCPT.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Refusal {
    /// RCV-1: no address, alias, redirection or catch-all of the domain takes it.
    UnknownUser,
    /// ADDR-2: a no-reply address never accepts mail.
    NoReply,
    /// The address exists but is disabled.
    Disabled,
    /// Its redirections loop or fan out beyond the bounds, so the mail would go nowhere.
    RedirectLoop,
    /// ADDR-10: the mailbox has a storage limit and the message does not fit.
    MailboxFull,
}

impl Refusal {
    /// A sentence for the sender, without the reply code (the SMTP layer picks that).
    pub fn sentence(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "no mailbox by that name exists here",
            Refusal::NoReply => "this address does not accept incoming mail",
            Refusal::Disabled => "this mailbox is disabled",
            Refusal::RedirectLoop => "the redirections of this address form a loop",
            Refusal::MailboxFull => "Mailbox full",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sentence())
    }
}

/// One place a message for the recipient must go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Store into this mailbox's INBOX.
    Local {
        /// The mailbox.
        mailbox: AddressId,
        /// Its address (in the primary domain, whatever alias or alias domain led here).
        address: Address,
    },
    /// Forward to an outside address (SRS applies); `original` is the hosted address forwarding.
    Forward {
        /// The outside address.
        to: Address,
        /// The hosted address whose redirection names `to`.
        original: Address,
    },
}

/// The final answer for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Accept; deliver to each of these (never empty).
    Deliver(Vec<Delivery>),
    /// Refuse at RCPT.
    Refused(Refusal),
    /// No service here serves the domain; the caller applies its relay policy.
    NotLocal,
}

/// Something an expansion dropped or cut short, for logs and for the Manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpansionNote {
    /// `at` redirects back to an address on the path that led to it.
    Loop {
        /// The target that closed the loop.
        at: Address,
    },
    /// The redirection of `at` was not followed: it is `max_depth` hops from the recipient.
    DepthExceeded {
        /// The hosted address whose targets were dropped.
        at: Address,
    },
    /// `max_deliveries` was reached; `at` and anything after it was dropped.
    DeliveryLimitReached {
        /// The first address dropped.
        at: Address,
    },
    /// The lookup budget ran out; `at` and anything after it was dropped.
    LookupLimitReached {
        /// The first address dropped.
        at: Address,
    },
    /// A redirection target that takes no mail (unknown, no-reply or disabled).
    DeadEnd {
        /// The target.
        at: Address,
        /// What a sender writing to it directly would be told.
        refusal: Refusal,
    },
}

/// An address waiting to be looked up.
#[derive(Debug, Clone)]
struct Pending {
    address: Address,
    /// Redirection hops from the recipient (0 for the recipient).
    depth: usize,
    /// The hosted addresses whose redirections led here, to tell loops from joins.
    path: Vec<AddressId>,
    /// The hosted address whose redirection names this one; `None` for the recipient.
    redirected_by: Option<Address>,
}

/// What the recipient itself resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recipient {
    NotLookedUp,
    NotLocal,
    Refused(Refusal),
    Hosted,
}

/// How the facts of one address resolve, before redirections.
enum Step<'a> {
    NotLocal,
    Refused(Refusal),
    Hosted(&'a HostedAddress),
}

/// RCV-13 order over the facts of one address.
fn step(facts: &Facts) -> Step<'_> {
    if facts.service.is_none() {
        return Step::NotLocal;
    }
    // Exact address, then alias; alias-domain addresses arrive here already mapped by the
    // store; a redirect-only address is an exact or alias match like any other.
    if let Some(hosted) = facts.exact.as_ref().or(facts.alias_of.as_ref()) {
        if !hosted.enabled {
            return Step::Refused(Refusal::Disabled);
        }
        if hosted.kind == AddressKind::NoReply {
            return Step::Refused(Refusal::NoReply);
        }
        return Step::Hosted(hosted);
    }
    // A disabled catch-all catches nothing: the sender is told the name is unknown rather
    // than about a catch-all they never wrote to.
    match &facts.catch_all {
        Some(catch_all) if catch_all.enabled && catch_all.kind != AddressKind::NoReply => {
            Step::Hosted(catch_all)
        }
        _ => Step::Refused(Refusal::UnknownUser),
    }
}

/// The resolution of one recipient, driven by the caller's lookups (see the module docs).
#[derive(Debug, Clone)]
pub struct Expansion {
    max_depth: usize,
    max_deliveries: usize,
    max_lookups: usize,
    queue: VecDeque<Pending>,
    in_flight: Option<Pending>,
    lookups: usize,
    recipient: Recipient,
    expanded: BTreeSet<AddressId>,
    /// Names already looked up that resolved to a hosted address, to skip repeat lookups.
    resolved_names: BTreeMap<Address, AddressId>,
    local_mailboxes: BTreeSet<AddressId>,
    forwarded_to: BTreeSet<Address>,
    deliveries: Vec<Delivery>,
    notes: Vec<ExpansionNote>,
}

impl Expansion {
    /// Starts resolving `recipient`.
    ///
    /// `max_depth` is the number of redirection hops followed (0: redirections are not
    /// followed at all); `max_deliveries` bounds the deliveries (at least 1 is always allowed,
    /// so a plain mailbox is never refused by the bound).
    pub fn new(recipient: Address, max_depth: usize, max_deliveries: usize) -> Self {
        let max_deliveries = max_deliveries.max(1);
        let root = Pending {
            address: recipient,
            depth: 0,
            path: Vec::new(),
            redirected_by: None,
        };
        Expansion {
            max_depth,
            max_deliveries,
            max_lookups: max_deliveries.saturating_mul(LOOKUPS_PER_DELIVERY),
            queue: VecDeque::from([root]),
            in_flight: None,
            lookups: 0,
            recipient: Recipient::NotLookedUp,
            expanded: BTreeSet::new(),
            resolved_names: BTreeMap::new(),
            local_mailboxes: BTreeSet::new(),
            forwarded_to: BTreeSet::new(),
            deliveries: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Replaces the lookup budget (at least 1, so the recipient itself is always looked up).
    pub fn with_max_lookups(mut self, max_lookups: usize) -> Self {
        self.max_lookups = max_lookups.max(1);
        self
    }

    /// The next address whose Facts the caller must look up, or None when done.
    ///
    /// Until [`Expansion::feed`] is called, it keeps returning the same address.
    pub fn next_lookup(&mut self) -> Option<Address> {
        if let Some(pending) = &self.in_flight {
            return Some(pending.address.clone());
        }
        let pending = loop {
            let pending = self.queue.pop_front()?;
            if !self.already_known(&pending) {
                break pending;
            }
        };
        let cut_short = if self.deliveries.len() >= self.max_deliveries {
            Some(ExpansionNote::DeliveryLimitReached {
                at: pending.address.clone(),
            })
        } else if self.lookups >= self.max_lookups {
            Some(ExpansionNote::LookupLimitReached {
                at: pending.address.clone(),
            })
        } else {
            None
        };
        if let Some(note) = cut_short {
            self.notes.push(note);
            self.queue.clear();
            return None;
        }
        self.lookups += 1;
        let address = pending.address.clone();
        self.in_flight = Some(pending);
        Some(address)
    }

    /// Feed the Facts for the address last returned by next_lookup.
    ///
    /// Facts fed while no lookup is outstanding are ignored.
    pub fn feed(&mut self, facts: Facts) {
        let Some(pending) = self.in_flight.take() else {
            return;
        };
        let is_recipient = pending.redirected_by.is_none();
        match step(&facts) {
            Step::NotLocal => match pending.redirected_by {
                None => self.recipient = Recipient::NotLocal,
                Some(original) => self.forward(pending.address, original),
            },
            Step::Refused(refusal) => {
                if is_recipient {
                    self.recipient = Recipient::Refused(refusal);
                } else {
                    self.notes.push(ExpansionNote::DeadEnd {
                        at: pending.address,
                        refusal,
                    });
                }
            }
            Step::Hosted(hosted) => {
                if is_recipient {
                    self.recipient = Recipient::Hosted;
                }
                self.expand(hosted, pending);
            }
        }
    }

    /// What was dropped or cut short so far.
    pub fn notes(&self) -> &[ExpansionNote] {
        &self.notes
    }

    /// Final result for the original recipient.
    ///
    /// Meant for after [`Expansion::next_lookup`] returned `None`; lookups not made by then
    /// count as not made, and a recipient never looked up is refused as unknown.
    pub fn finish(self) -> Outcome {
        match self.recipient {
            Recipient::NotLookedUp => Outcome::Refused(Refusal::UnknownUser),
            Recipient::NotLocal => Outcome::NotLocal,
            Recipient::Refused(refusal) => Outcome::Refused(refusal),
            Recipient::Hosted if !self.deliveries.is_empty() => Outcome::Deliver(self.deliveries),
            Recipient::Hosted => Outcome::Refused(refusal_for_nowhere(&self.notes)),
        }
    }

    /// True when looking `pending` up again would teach nothing: it was already forwarded
    /// to, or its name already resolved to a hosted address (then a loop is noted if that
    /// address is on the path to `pending`).
    fn already_known(&mut self, pending: &Pending) -> bool {
        if self.forwarded_to.contains(&pending.address) {
            return true;
        }
        let Some(id) = self.resolved_names.get(&pending.address) else {
            return false;
        };
        if pending.path.contains(id) {
            self.notes.push(ExpansionNote::Loop {
                at: pending.address.clone(),
            });
        }
        true
    }

    /// Handles a hosted address reached by `pending`: local copy, then redirection targets.
    fn expand(&mut self, hosted: &HostedAddress, pending: Pending) {
        self.resolved_names
            .insert(pending.address.clone(), hosted.id);
        if pending.path.contains(&hosted.id) {
            self.notes.push(ExpansionNote::Loop {
                at: pending.address,
            });
            return;
        }
        if !self.expanded.insert(hosted.id) {
            // A join: another path already delivered to it and followed its redirection.
            return;
        }
        let keeps_copy = hosted
            .redirect
            .as_ref()
            .is_none_or(|redirect| redirect.keep_copy);
        // ADDR-4: a redirect-only address holds no mail, whatever its keep_copy says.
        if hosted.kind.holds_mail() && keeps_copy {
            self.deliver_locally(hosted);
        }
        let Some(redirect) = &hosted.redirect else {
            if !hosted.kind.holds_mail() {
                let at = pending.address;
                self.notes.push(ExpansionNote::DeadEnd {
                    at,
                    refusal: Refusal::UnknownUser,
                });
            }
            return;
        };
        let depth = pending.depth + 1;
        if depth > self.max_depth {
            self.notes.push(ExpansionNote::DepthExceeded {
                at: hosted.address.clone(),
            });
            return;
        }
        let mut path = pending.path;
        path.push(hosted.id);
        for target in &redirect.targets {
            self.queue.push_back(Pending {
                address: target.clone(),
                depth,
                path: path.clone(),
                redirected_by: Some(hosted.address.clone()),
            });
        }
    }

    fn deliver_locally(&mut self, hosted: &HostedAddress) {
        if self.local_mailboxes.contains(&hosted.id) {
            return;
        }
        if self.deliveries.len() >= self.max_deliveries {
            let at = hosted.address.clone();
            self.notes.push(ExpansionNote::DeliveryLimitReached { at });
            return;
        }
        self.local_mailboxes.insert(hosted.id);
        self.deliveries.push(Delivery::Local {
            mailbox: hosted.id,
            address: hosted.address.clone(),
        });
    }

    fn forward(&mut self, to: Address, original: Address) {
        if self.forwarded_to.contains(&to) {
            return;
        }
        if self.deliveries.len() >= self.max_deliveries {
            self.notes
                .push(ExpansionNote::DeliveryLimitReached { at: to });
            return;
        }
        self.forwarded_to.insert(to.clone());
        self.deliveries.push(Delivery::Forward { to, original });
    }
}

/// Why a recipient that exists delivers nowhere (see the module docs).
fn refusal_for_nowhere(notes: &[ExpansionNote]) -> Refusal {
    let runaway = notes.iter().any(|note| {
        matches!(
            note,
            ExpansionNote::Loop { .. }
                | ExpansionNote::DepthExceeded { .. }
                | ExpansionNote::LookupLimitReached { .. }
                | ExpansionNote::DeliveryLimitReached { .. }
        )
    });
    if runaway {
        return Refusal::RedirectLoop;
    }
    notes
        .iter()
        .find_map(|note| match note {
            ExpansionNote::DeadEnd { refusal, .. } => Some(*refusal),
            _ => None,
        })
        .unwrap_or(Refusal::UnknownUser)
}

/// Resolves `recipient` with the default bounds, calling `lookup` for each address the
/// expansion needs. Handy where the directory is in memory (tests, a snapshot).
pub fn resolve_with(recipient: Address, mut lookup: impl FnMut(&Address) -> Facts) -> Outcome {
    let mut expansion = Expansion::new(recipient, DEFAULT_MAX_DEPTH, DEFAULT_MAX_DELIVERIES);
    while let Some(address) = expansion.next_lookup() {
        let facts = lookup(&address);
        expansion.feed(facts);
    }
    expansion.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalPart, Redirection};

    fn address(text: &str) -> Address {
        match Address::parse(text) {
            Ok(address) => address,
            Err(error) => panic!("test address {text:?}: {error}"),
        }
    }

    fn domain(text: &str) -> Domain {
        match Domain::parse(text) {
            Ok(domain) => domain,
            Err(error) => panic!("test domain {text:?}: {error}"),
        }
    }

    /// An in-memory directory that answers lookups the way the store does, and records them.
    struct Directory {
        /// (id, primary domain, alias domains)
        services: Vec<(ServiceId, Domain, Vec<Domain>)>,
        addresses: Vec<HostedAddress>,
        /// (alias local part, owning address)
        aliases: Vec<(LocalPart, AddressId)>,
        lookups: Vec<Address>,
    }

    impl Directory {
        /// example.com (alias domain example.net) and other.example, both hosted here.
        fn new() -> Self {
            Directory {
                services: vec![
                    (
                        ServiceId(1),
                        domain("example.com"),
                        vec![domain("example.net")],
                    ),
                    (ServiceId(2), domain("other.example"), Vec::new()),
                ],
                addresses: Vec::new(),
                aliases: Vec::new(),
                lookups: Vec::new(),
            }
        }

        fn add(&mut self, text: &str, kind: AddressKind) -> AddressId {
            let address = address(text);
            let service = self
                .services
                .iter()
                .find(|(_, primary, _)| primary == address.domain())
                .map(|(id, _, _)| *id)
                .unwrap_or(ServiceId(0));
            let id = AddressId(self.addresses.len() as i64 + 1);
            self.addresses.push(HostedAddress {
                id,
                service,
                address,
                kind,
                display_name: String::new(),
                password_hash: None,
                credential_epoch: 0,
                enabled: true,
                storage_limit: None,
                redirect: None,
                created_at: 0,
            });
            id
        }

        fn mailbox(&mut self, text: &str) -> AddressId {
            self.add(text, AddressKind::Mailbox)
        }

        fn redirect(&mut self, id: AddressId, targets: &[&str], keep_copy: bool) {
            let targets = targets.iter().map(|t| address(t)).collect();
            self.entry(id).redirect = Some(Redirection { targets, keep_copy });
        }

        fn redirect_only(&mut self, text: &str, targets: &[&str]) -> AddressId {
            let id = self.add(text, AddressKind::RedirectOnly);
            self.redirect(id, targets, false);
            id
        }

        fn alias(&mut self, local: &str, owner: AddressId) {
            match LocalPart::parse(local) {
                Ok(local) => self.aliases.push((local, owner)),
                Err(error) => panic!("test alias {local:?}: {error}"),
            }
        }

        fn disable(&mut self, id: AddressId) {
            self.entry(id).enabled = false;
        }

        fn entry(&mut self, id: AddressId) -> &mut HostedAddress {
            match self.addresses.iter_mut().find(|hosted| hosted.id == id) {
                Some(hosted) => hosted,
                None => panic!("no test address {id}"),
            }
        }

        fn facts(&mut self, recipient: &Address) -> Facts {
            self.lookups.push(recipient.clone());
            let found = self.services.iter().find(|(_, primary, alias_domains)| {
                primary == recipient.domain() || alias_domains.contains(recipient.domain())
            });
            let Some((id, primary, _)) = found.cloned() else {
                return Facts::not_local();
            };
            let mapped = Address::new(recipient.local().clone(), primary.clone());
            let mapped = mapped.ok();
            let in_service = |hosted: &&HostedAddress| hosted.service == id;
            let exact = self
                .addresses
                .iter()
                .filter(in_service)
                .find(|hosted| Some(&hosted.address) == mapped.as_ref())
                .cloned();
            let alias_of = self
                .aliases
                .iter()
                .filter(|(local, _)| local == recipient.local())
                .find_map(|(_, owner)| {
                    self.addresses
                        .iter()
                        .filter(in_service)
                        .find(|h| h.id == *owner)
                })
                .cloned();
            let catch_all = self
                .addresses
                .iter()
                .filter(in_service)
                .find(|hosted| hosted.kind == AddressKind::CatchAll)
                .cloned();
            Facts {
                service: Some(ServiceFacts {
                    id,
                    via_alias_domain: primary != *recipient.domain(),
                    domain: primary,
                }),
                exact,
                alias_of,
                catch_all,
            }
        }

        fn resolve(&mut self, recipient: &str) -> Outcome {
            resolve_with(address(recipient), |a| self.facts(a))
        }

        /// Runs a bounded expansion and returns its outcome and notes.
        fn expand(
            &mut self,
            recipient: &str,
            max_depth: usize,
            max_deliveries: usize,
        ) -> (Outcome, Vec<ExpansionNote>) {
            let mut expansion = Expansion::new(address(recipient), max_depth, max_deliveries);
            self.drive(&mut expansion);
            let notes = expansion.notes().to_vec();
            (expansion.finish(), notes)
        }

        fn drive(&mut self, expansion: &mut Expansion) {
            while let Some(next) = expansion.next_lookup() {
                let facts = self.facts(&next);
                expansion.feed(facts);
            }
        }
    }

    fn local(id: AddressId, text: &str) -> Delivery {
        Delivery::Local {
            mailbox: id,
            address: address(text),
        }
    }

    fn forward(to: &str, original: &str) -> Delivery {
        Delivery::Forward {
            to: address(to),
            original: address(original),
        }
    }

    #[test]
    fn rcv_13_exact_address_delivers_to_its_mailbox() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.mailbox("alice@example.com");
        assert_eq!(
            dir.resolve("bob@example.com"),
            Outcome::Deliver(vec![local(bob, "bob@example.com")])
        );
        assert_eq!(
            dir.resolve("BOB@Example.COM"),
            Outcome::Deliver(vec![local(bob, "bob@example.com")])
        );
    }

    #[test]
    fn rcv_13_alias_delivers_to_the_owning_mailbox() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.alias("robert", bob);
        let expected = Outcome::Deliver(vec![local(bob, "bob@example.com")]);
        assert_eq!(dir.resolve("robert@example.com"), expected);
    }

    #[test]
    fn rcv_13_alias_domain_maps_onto_the_primary_domain() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.alias("robert", bob);
        let expected = Outcome::Deliver(vec![local(bob, "bob@example.com")]);
        assert_eq!(dir.resolve("bob@example.net"), expected);
        assert_eq!(dir.resolve("robert@example.net"), expected);
        assert_eq!(
            dir.resolve("nobody@example.net"),
            Outcome::Refused(Refusal::UnknownUser)
        );
    }

    #[test]
    fn rcv_13_redirect_only_address_forwards_and_holds_nothing() {
        let mut dir = Directory::new();
        dir.redirect_only(
            "sales@example.com",
            &["boss@gmail.example", "team@partner.example"],
        );
        assert_eq!(
            dir.resolve("sales@example.com"),
            Outcome::Deliver(vec![
                forward("boss@gmail.example", "sales@example.com"),
                forward("team@partner.example", "sales@example.com"),
            ])
        );
    }

    #[test]
    fn rcv_13_redirect_only_reached_by_alias_or_alias_domain() {
        let mut dir = Directory::new();
        let sales = dir.redirect_only("sales@example.com", &["boss@gmail.example"]);
        dir.alias("ventes", sales);
        let expected = Outcome::Deliver(vec![forward("boss@gmail.example", "sales@example.com")]);
        assert_eq!(dir.resolve("ventes@example.com"), expected);
        assert_eq!(dir.resolve("sales@example.net"), expected);
        assert_eq!(dir.resolve("ventes@example.net"), expected);
    }

    #[test]
    fn rcv_13_redirect_only_ignores_a_stored_keep_copy() {
        let mut dir = Directory::new();
        let sales = dir.redirect_only("sales@example.com", &["boss@gmail.example"]);
        dir.redirect(sales, &["boss@gmail.example"], true);
        let expected = Outcome::Deliver(vec![forward("boss@gmail.example", "sales@example.com")]);
        assert_eq!(dir.resolve("sales@example.com"), expected);
    }

    #[test]
    fn rcv_13_redirect_only_without_targets_takes_no_mail() {
        let mut dir = Directory::new();
        dir.add("empty@example.com", AddressKind::RedirectOnly);
        assert_eq!(
            dir.resolve("empty@example.com"),
            Outcome::Refused(Refusal::UnknownUser)
        );
    }

    #[test]
    fn rcv_13_catch_all_takes_what_nothing_else_takes() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        let all = dir.add("all@example.com", AddressKind::CatchAll);
        dir.alias("robert", bob);
        let to_bob = Outcome::Deliver(vec![local(bob, "bob@example.com")]);
        let to_all = Outcome::Deliver(vec![local(all, "all@example.com")]);
        assert_eq!(dir.resolve("bob@example.com"), to_bob);
        assert_eq!(dir.resolve("robert@example.com"), to_bob);
        assert_eq!(dir.resolve("anything@example.com"), to_all);
        assert_eq!(dir.resolve("anything@example.net"), to_all);
        assert_eq!(dir.resolve("all@example.com"), to_all);
        // The other service has no catch-all.
        assert_eq!(
            dir.resolve("anything@other.example"),
            Outcome::Refused(Refusal::UnknownUser)
        );
    }

    #[test]
    fn rcv_13_catch_all_with_a_redirection_forwards() {
        let mut dir = Directory::new();
        let all = dir.add("all@example.com", AddressKind::CatchAll);
        dir.redirect(all, &["admin@gmail.example"], false);
        assert_eq!(
            dir.resolve("typo@example.com"),
            Outcome::Deliver(vec![forward("admin@gmail.example", "all@example.com")])
        );
    }

    #[test]
    fn rcv_1_unknown_recipient_is_refused() {
        let mut dir = Directory::new();
        dir.mailbox("bob@example.com");
        assert_eq!(
            dir.resolve("alice@example.com"),
            Outcome::Refused(Refusal::UnknownUser)
        );
    }

    #[test]
    fn rcv_13_foreign_domain_is_not_local() {
        let mut dir = Directory::new();
        dir.mailbox("bob@example.com");
        assert_eq!(dir.resolve("bob@example.org"), Outcome::NotLocal);
        assert_eq!(dir.resolve("bob@sub.example.com"), Outcome::NotLocal);
        assert_eq!(dir.lookups.len(), 2);
    }

    #[test]
    fn addr_2_no_reply_address_is_refused() {
        let mut dir = Directory::new();
        let noreply = dir.add("noreply@example.com", AddressKind::NoReply);
        dir.alias("donotreply", noreply);
        dir.add("all@example.com", AddressKind::CatchAll);
        let refused = Outcome::Refused(Refusal::NoReply);
        assert_eq!(dir.resolve("noreply@example.com"), refused);
        assert_eq!(dir.resolve("donotreply@example.com"), refused);
        assert_eq!(dir.resolve("noreply@example.net"), refused);
    }

    #[test]
    fn rcv_13_disabled_address_is_refused_even_with_a_catch_all() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.alias("robert", bob);
        dir.disable(bob);
        dir.add("all@example.com", AddressKind::CatchAll);
        let refused = Outcome::Refused(Refusal::Disabled);
        assert_eq!(dir.resolve("bob@example.com"), refused);
        assert_eq!(dir.resolve("robert@example.com"), refused);
        let sales = dir.redirect_only("sales@example.com", &["boss@gmail.example"]);
        dir.disable(sales);
        assert_eq!(dir.resolve("sales@example.com"), refused);
    }

    #[test]
    fn rcv_13_disabled_catch_all_catches_nothing() {
        let mut dir = Directory::new();
        let all = dir.add("all@example.com", AddressKind::CatchAll);
        dir.disable(all);
        assert_eq!(
            dir.resolve("anything@example.com"),
            Outcome::Refused(Refusal::UnknownUser)
        );
        assert_eq!(
            dir.resolve("all@example.com"),
            Outcome::Refused(Refusal::Disabled)
        );
    }

    #[test]
    fn rcv_13_exact_beats_alias_beats_catch_all() {
        let mut dir = Directory::new();
        let exact = dir.mailbox("exact@example.com");
        let owner = dir.mailbox("owner@example.com");
        let all = dir.add("all@example.com", AddressKind::CatchAll);
        let hosted = |id: AddressId| dir.addresses.iter().find(|h| h.id == id).cloned();
        let service = Some(ServiceFacts {
            id: ServiceId(1),
            domain: domain("example.com"),
            via_alias_domain: false,
        });
        let cases = [
            (
                Facts {
                    exact: hosted(exact),
                    alias_of: hosted(owner),
                    catch_all: hosted(all),
                    service: service.clone(),
                },
                exact,
            ),
            (
                Facts {
                    exact: None,
                    alias_of: hosted(owner),
                    catch_all: hosted(all),
                    service: service.clone(),
                },
                owner,
            ),
            (
                Facts {
                    exact: None,
                    alias_of: None,
                    catch_all: hosted(all),
                    service: service.clone(),
                },
                all,
            ),
        ];
        for (facts, expected) in cases {
            let outcome = resolve_with(address("x@example.com"), |_| facts.clone());
            let mailboxes: Vec<AddressId> = match &outcome {
                Outcome::Deliver(deliveries) => deliveries
                    .iter()
                    .filter_map(|delivery| match delivery {
                        Delivery::Local { mailbox, .. } => Some(*mailbox),
                        Delivery::Forward { .. } => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            assert_eq!(mailboxes, [expected], "{outcome:?}");
        }
        // Without a service, whatever else the facts say, the address is not local.
        let stray = Facts {
            service: None,
            exact: hosted(exact),
            alias_of: None,
            catch_all: None,
        };
        assert_eq!(
            resolve_with(address("x@example.com"), |_| stray.clone()),
            Outcome::NotLocal
        );
    }

    #[test]
    fn addr_5_redirection_with_kept_copy_delivers_and_forwards() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.redirect(bob, &["bob@gmail.example"], true);
        assert_eq!(
            dir.resolve("bob@example.com"),
            Outcome::Deliver(vec![
                local(bob, "bob@example.com"),
                forward("bob@gmail.example", "bob@example.com"),
            ])
        );
    }

    #[test]
    fn addr_5_redirection_without_kept_copy_only_forwards() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.redirect(bob, &["bob@gmail.example"], false);
        assert_eq!(
            dir.resolve("bob@example.com"),
            Outcome::Deliver(vec![forward("bob@gmail.example", "bob@example.com")])
        );
    }

    #[test]
    fn addr_5_forward_names_the_primary_address_even_via_alias_or_alias_domain() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.alias("robert", bob);
        dir.redirect(bob, &["bob@gmail.example"], false);
        let expected = Outcome::Deliver(vec![forward("bob@gmail.example", "bob@example.com")]);
        assert_eq!(dir.resolve("robert@example.net"), expected);
    }

    #[test]
    fn addr_5_redirection_to_hosted_addresses_resolves_them_in_turn() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        let carol = dir.mailbox("carol@other.example");
        let dave = dir.mailbox("dave@example.com");
        dir.alias("david", dave);
        dir.redirect(
            bob,
            &[
                "carol@other.example",
                "david@example.net",
                "x@outside.example",
            ],
            true,
        );
        assert_eq!(
            dir.resolve("bob@example.com"),
            Outcome::Deliver(vec![
                local(bob, "bob@example.com"),
                local(carol, "carol@other.example"),
                local(dave, "dave@example.com"),
                forward("x@outside.example", "bob@example.com"),
            ])
        );
    }

    #[test]
    fn addr_5_redirection_to_an_unknown_hosted_name_falls_to_the_catch_all() {
        let mut dir = Directory::new();
        let all = dir.add("all@example.com", AddressKind::CatchAll);
        dir.redirect_only("sales@other.example", &["gone@example.com"]);
        let expected = Outcome::Deliver(vec![local(all, "all@example.com")]);
        assert_eq!(dir.resolve("sales@other.example"), expected);
    }

    #[test]
    fn addr_4_chained_redirections_are_followed() {
        let mut dir = Directory::new();
        dir.redirect_only("a@example.com", &["b@example.com"]);
        let b = dir.mailbox("b@example.com");
        dir.redirect(b, &["c@other.example"], true);
        dir.redirect_only("c@other.example", &["d@example.com"]);
        let d = dir.mailbox("d@example.com");
        dir.redirect(d, &["d@gmail.example"], false);
        assert_eq!(
            dir.resolve("a@example.com"),
            Outcome::Deliver(vec![
                local(b, "b@example.com"),
                forward("d@gmail.example", "d@example.com"),
            ])
        );
        let looked_up: Vec<String> = dir.lookups.iter().map(ToString::to_string).collect();
        assert_eq!(
            looked_up,
            [
                "a@example.com",
                "b@example.com",
                "c@other.example",
                "d@example.com",
                "d@gmail.example"
            ]
        );
    }

    #[test]
    fn rcv_13_pure_redirection_loop_is_refused() {
        let mut dir = Directory::new();
        dir.redirect_only("a@example.com", &["b@example.com"]);
        dir.redirect_only("b@example.com", &["a@example.com"]);
        let (outcome, notes) = dir.expand("a@example.com", 10, 100);
        assert_eq!(outcome, Outcome::Refused(Refusal::RedirectLoop));
        assert_eq!(
            notes,
            [ExpansionNote::Loop {
                at: address("a@example.com")
            }]
        );
        assert_eq!(dir.lookups.len(), 2);
    }

    #[test]
    fn rcv_13_loop_through_mailboxes_without_copies_is_refused() {
        let mut dir = Directory::new();
        let a = dir.mailbox("a@example.com");
        let b = dir.mailbox("b@example.com");
        dir.redirect(a, &["b@example.com"], false);
        dir.redirect(b, &["a@example.net"], false);
        assert_eq!(
            dir.resolve("a@example.com"),
            Outcome::Refused(Refusal::RedirectLoop)
        );
    }

    #[test]
    fn rcv_13_loop_with_kept_copies_delivers_each_once_and_stops() {
        let mut dir = Directory::new();
        let a = dir.mailbox("a@example.com");
        let b = dir.mailbox("b@example.com");
        dir.redirect(a, &["b@example.com"], true);
        dir.redirect(b, &["a@example.com"], true);
        let (outcome, notes) = dir.expand("a@example.com", 10, 100);
        assert_eq!(
            outcome,
            Outcome::Deliver(vec![local(a, "a@example.com"), local(b, "b@example.com")])
        );
        assert_eq!(
            notes,
            [ExpansionNote::Loop {
                at: address("a@example.com")
            }]
        );
    }

    #[test]
    fn rcv_13_loop_through_an_alias_of_oneself_is_detected() {
        let mut dir = Directory::new();
        let a = dir.redirect_only("a@example.com", &["again@example.com"]);
        dir.alias("again", a);
        let (outcome, notes) = dir.expand("a@example.com", 10, 100);
        assert_eq!(outcome, Outcome::Refused(Refusal::RedirectLoop));
        assert_eq!(
            notes,
            [ExpansionNote::Loop {
                at: address("again@example.com")
            }]
        );
    }

    #[test]
    fn rcv_13_a_join_is_delivered_once_and_is_not_a_loop() {
        let mut dir = Directory::new();
        dir.redirect_only("root@example.com", &["b@example.com", "c@example.com"]);
        dir.redirect_only("b@example.com", &["d@example.com"]);
        dir.redirect_only("c@example.com", &["d@example.com", "x@outside.example"]);
        let d = dir.mailbox("d@example.com");
        dir.redirect(d, &["x@outside.example"], true);
        let (outcome, notes) = dir.expand("root@example.com", 10, 100);
        assert_eq!(
            outcome,
            Outcome::Deliver(vec![
                local(d, "d@example.com"),
                forward("x@outside.example", "c@example.com"),
            ])
        );
        assert_eq!(notes, []);
        // Breadth first: d is reached from b before c's targets are looked at, and names
        // already resolved or forwarded to are not looked up twice.
        let looked_up: Vec<String> = dir.lookups.iter().map(ToString::to_string).collect();
        assert_eq!(
            looked_up,
            [
                "root@example.com",
                "b@example.com",
                "c@example.com",
                "d@example.com",
                "x@outside.example",
            ]
        );
    }

    #[test]
    fn addr_6_address_and_alias_in_one_redirection_deliver_once() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.alias("robert", bob);
        dir.redirect_only(
            "team@example.com",
            &["bob@example.com", "robert@example.com"],
        );
        assert_eq!(
            dir.resolve("team@example.com"),
            Outcome::Deliver(vec![local(bob, "bob@example.com")])
        );
    }

    #[test]
    fn addr_6_address_and_alias_as_two_recipients_deliver_twice() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        dir.alias("robert", bob);
        // A message To: bob and Cc: robert is two recipients, so two expansions.
        let deliveries: Vec<Delivery> = ["bob@example.com", "robert@example.com"]
            .into_iter()
            .flat_map(|recipient| match dir.resolve(recipient) {
                Outcome::Deliver(deliveries) => deliveries,
                other => panic!("{recipient}: {other:?}"),
            })
            .collect();
        assert_eq!(
            deliveries,
            [local(bob, "bob@example.com"), local(bob, "bob@example.com")]
        );
    }

    #[test]
    fn rcv_13_same_outside_target_is_forwarded_once() {
        let mut dir = Directory::new();
        let a = dir.mailbox("a@example.com");
        dir.redirect(a, &["b@example.com", "x@outside.example"], true);
        dir.redirect_only("b@example.com", &["X@Outside.example"]);
        assert_eq!(
            dir.resolve("a@example.com"),
            Outcome::Deliver(vec![
                local(a, "a@example.com"),
                forward("x@outside.example", "a@example.com"),
            ])
        );
    }

    #[test]
    fn rcv_13_depth_is_bounded() {
        let mut dir = Directory::new();
        dir.redirect_only("a@example.com", &["b@example.com"]);
        dir.redirect_only("b@example.com", &["c@example.com"]);
        let c = dir.mailbox("c@example.com");
        dir.redirect(c, &["d@example.com"], true);
        let d = dir.mailbox("d@example.com");
        // a → b → c is two hops; c → d would be the third.
        let (outcome, notes) = dir.expand("a@example.com", 2, 100);
        assert_eq!(outcome, Outcome::Deliver(vec![local(c, "c@example.com")]));
        assert_eq!(
            notes,
            [ExpansionNote::DepthExceeded {
                at: address("c@example.com")
            }]
        );
        let (outcome, notes) = dir.expand("a@example.com", 3, 100);
        assert_eq!(
            outcome,
            Outcome::Deliver(vec![local(c, "c@example.com"), local(d, "d@example.com")])
        );
        assert_eq!(notes, []);
        // With no hops allowed, a redirect-only recipient reaches nothing.
        let (outcome, _) = dir.expand("a@example.com", 0, 100);
        assert_eq!(outcome, Outcome::Refused(Refusal::RedirectLoop));
    }

    #[test]
    fn rcv_13_default_depth_follows_ten_hops_and_not_eleven() {
        let mut dir = Directory::new();
        for hop in 0..11 {
            let next = format!("r{}@example.com", hop + 1);
            dir.redirect_only(&format!("r{hop}@example.com"), &[next.as_str()]);
        }
        let last = dir.mailbox("r11@example.com");
        let ten = dir.mailbox("r10x@example.com");
        // r1 → … → r11 is ten hops: delivered.
        assert_eq!(
            dir.resolve("r1@example.com"),
            Outcome::Deliver(vec![local(last, "r11@example.com")])
        );
        // r0 → … → r11 is eleven hops: refused.
        assert_eq!(
            dir.resolve("r0@example.com"),
            Outcome::Refused(Refusal::RedirectLoop)
        );
        assert_ne!(ten, last);
    }

    #[test]
    fn rcv_13_deliveries_are_bounded() {
        let mut dir = Directory::new();
        let targets: Vec<String> = (0..20).map(|n| format!("t{n}@outside.example")).collect();
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let list = dir.mailbox("list@example.com");
        dir.redirect(list, &targets, true);
        let (outcome, notes) = dir.expand("list@example.com", 10, 5);
        let Outcome::Deliver(deliveries) = outcome else {
            panic!("expected deliveries");
        };
        assert_eq!(deliveries.len(), 5);
        assert_eq!(deliveries[0], local(list, "list@example.com"));
        assert_eq!(
            deliveries[4],
            forward("t3@outside.example", "list@example.com")
        );
        assert_eq!(
            notes,
            [ExpansionNote::DeliveryLimitReached {
                at: address("t4@outside.example")
            }]
        );
        // The lookups stop at the bound rather than running through the rest.
        assert_eq!(dir.lookups.len(), 5);
    }

    #[test]
    fn rcv_13_fan_out_of_redirect_only_addresses_is_bounded() {
        let mut dir = Directory::new();
        let mut level_one = Vec::new();
        for branch in 0..20 {
            let leaves: Vec<String> = (0..20)
                .map(|leaf| format!("l{branch}x{leaf}@outside.example"))
                .collect();
            let leaves: Vec<&str> = leaves.iter().map(String::as_str).collect();
            let name = format!("b{branch}@example.com");
            dir.redirect_only(&name, &leaves);
            level_one.push(name);
        }
        let level_one: Vec<&str> = level_one.iter().map(String::as_str).collect();
        dir.redirect_only("all-hands@example.com", &level_one);
        let outcome = dir.resolve("all-hands@example.com");
        let Outcome::Deliver(deliveries) = outcome else {
            panic!("expected deliveries");
        };
        assert_eq!(deliveries.len(), DEFAULT_MAX_DELIVERIES);
        assert!(dir.lookups.len() <= DEFAULT_MAX_DELIVERIES * LOOKUPS_PER_DELIVERY);
    }

    #[test]
    fn rcv_13_lookup_budget_is_bounded() {
        let mut dir = Directory::new();
        dir.redirect_only("a@example.com", &["b@example.com"]);
        dir.redirect_only("b@example.com", &["c@example.com"]);
        let c = dir.mailbox("c@example.com");
        let mut expansion = Expansion::new(address("a@example.com"), 10, 100).with_max_lookups(2);
        dir.drive(&mut expansion);
        assert_eq!(
            expansion.notes(),
            [ExpansionNote::LookupLimitReached {
                at: address("c@example.com")
            }]
        );
        assert_eq!(expansion.finish(), Outcome::Refused(Refusal::RedirectLoop));
        let mut expansion = Expansion::new(address("a@example.com"), 10, 100).with_max_lookups(3);
        dir.drive(&mut expansion);
        assert_eq!(
            expansion.finish(),
            Outcome::Deliver(vec![local(c, "c@example.com")])
        );
    }

    #[test]
    fn rcv_13_redirection_to_dead_ends_refuses_with_their_reason() {
        let mut dir = Directory::new();
        let off = dir.mailbox("off@example.com");
        dir.disable(off);
        dir.add("noreply@example.com", AddressKind::NoReply);
        dir.redirect_only("to-off@example.com", &["off@example.com"]);
        dir.redirect_only("to-noreply@example.com", &["noreply@example.com"]);
        dir.redirect_only("to-nobody@example.com", &["nobody@example.com"]);
        let cases = [
            ("to-off@example.com", Refusal::Disabled, "off@example.com"),
            (
                "to-noreply@example.com",
                Refusal::NoReply,
                "noreply@example.com",
            ),
            (
                "to-nobody@example.com",
                Refusal::UnknownUser,
                "nobody@example.com",
            ),
        ];
        for (recipient, refusal, dead_end) in cases {
            let (outcome, notes) = dir.expand(recipient, 10, 100);
            assert_eq!(outcome, Outcome::Refused(refusal), "{recipient}");
            assert_eq!(
                notes,
                [ExpansionNote::DeadEnd {
                    at: address(dead_end),
                    refusal
                }]
            );
        }
    }

    #[test]
    fn rcv_13_dead_ends_beside_live_targets_are_skipped() {
        let mut dir = Directory::new();
        let off = dir.mailbox("off@example.com");
        dir.disable(off);
        dir.redirect_only(
            "team@example.com",
            &["off@example.com", "x@outside.example"],
        );
        let (outcome, notes) = dir.expand("team@example.com", 10, 100);
        assert_eq!(
            outcome,
            Outcome::Deliver(vec![forward("x@outside.example", "team@example.com")])
        );
        assert_eq!(
            notes,
            [ExpansionNote::DeadEnd {
                at: address("off@example.com"),
                refusal: Refusal::Disabled
            }]
        );
    }

    #[test]
    fn expansion_asks_for_the_recipient_first_and_repeats_until_fed() {
        let mut expansion = Expansion::new(address("bob@example.com"), 10, 100);
        assert_eq!(expansion.next_lookup(), Some(address("bob@example.com")));
        assert_eq!(expansion.next_lookup(), Some(address("bob@example.com")));
        expansion.feed(Facts::not_local());
        assert_eq!(expansion.next_lookup(), None);
        // Facts fed with no lookup outstanding change nothing.
        expansion.feed(Facts::default());
        assert_eq!(expansion.finish(), Outcome::NotLocal);
    }

    #[test]
    fn expansion_finished_before_any_lookup_refuses() {
        let expansion = Expansion::new(address("bob@example.com"), 10, 100);
        assert_eq!(expansion.finish(), Outcome::Refused(Refusal::UnknownUser));
    }

    #[test]
    fn expansion_always_allows_the_recipients_own_mailbox() {
        let mut dir = Directory::new();
        let bob = dir.mailbox("bob@example.com");
        let (outcome, _) = dir.expand("bob@example.com", 0, 0);
        assert_eq!(
            outcome,
            Outcome::Deliver(vec![local(bob, "bob@example.com")])
        );
    }

    #[test]
    fn refusals_have_a_sentence_for_the_sender() {
        let cases = [
            (Refusal::UnknownUser, "no mailbox by that name exists here"),
            (
                Refusal::NoReply,
                "this address does not accept incoming mail",
            ),
            (Refusal::Disabled, "this mailbox is disabled"),
            (
                Refusal::RedirectLoop,
                "the redirections of this address form a loop",
            ),
        ];
        for (refusal, sentence) in cases {
            assert_eq!(refusal.to_string(), sentence);
        }
    }
}
