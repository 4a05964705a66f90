//! Accepting mail (SPEC §4): recipient resolution at RCPT and durable delivery at the end of
//! the message, for the SMTP listeners (MX and submission) and anything else that delivers.
//!
//! ```text
//!  RCPT ─► check_recipient ─► resolve_facts ⇄ model::Expansion (RCV-13) ─► Recipient
//!
//!  end of DATA ─► deliver
//!     ├─ Filters::check_message               ─► refused, or headers and a spam class
//!     ├─ MessageIndex::parse (once)           ─► SND-1 From: check when submitted
//!     ├─ sender_lists::sort                   ─► per mailbox: dropped, INBOX or Junk (RCV-4)
//!     ├─ MailStore::deliver(local copy)  ┐ run together, so both writes share the
//!     └─ QueueStore::enqueue(queue copy) ┘ store's group commit (RCV-12)
//!  ─► Delivered::Accepted only once every copy is on stable storage
//! ```
//!
//! The local copy is the message as received, preceded by `Return-Path:` (RFC 5321 §4.4: the
//! final delivery adds it) and by the trace lines the protocol built (`Received:`). The queue
//! copy, for redirections (RCV-13) and remote recipients of submitted mail, carries the trace
//! lines but no `Return-Path:`, which only the final delivery adds. For submitted mail, and
//! given a signer ([`Delivery::with_signer`]), the queue copy starts with the `DKIM-Signature:`
//! of the sender's service (SND-2).
//!
//! Strangers' mail meets the mailboxes' sender lists (RCV-4, given
//! [`Delivery::with_sender_rules`]) twice: at RCPT, where a block refuses the recipient and an
//! allow skips greylisting ([`Delivery::screen_recipient`]), and at the end of the message,
//! where they sort each mailbox's copy ([`sender_lists::sort`]).
//!
//! This module knows no protocol: it answers [`Recipient`] and [`Delivered`], and each
//! protocol maps those to its replies.

mod held;
mod sender_lists;

use std::collections::HashMap;
use std::sync::Arc;

use postwerk_filter::{Client, Filters, MessageVerdict, Reply as FilterReply};
use postwerk_message::MessageIndex;
use postwerk_model::resolve::{Delivery as Route, Expansion, Outcome, Refusal};
use postwerk_model::{
    Address, AddressId, DEFAULT_MAX_DELIVERIES, DEFAULT_MAX_DEPTH, EnvelopeAddress, ListKind,
};
use postwerk_store::{
    Directory, DsnRet, Fingerprint, Flags, MailStore, ManagerStore, NewQueued, Notify, QueueId,
    QueueStore, QueuedRecipient,
};

use crate::CoreError;
use crate::auth::Login;
use crate::dkim::DkimSigner;
use crate::send_limit::{LimitNotice, SendLimiter, SendVerdict, limit_notice_message};
use crate::srs::Srs;
use crate::submission::{AuthGuards, SenderCheck};
use sender_lists::{MessageClass, SenderLists, Sorted};

/// How long a message counts as already delivered to a mailbox (issue 10): longer than any
/// sender's retry of a transaction whose reply was lost, short enough to keep the table small.
/// Within it, the same bytes from the same sender are the same message (RFC 5322's Date and
/// Message-ID make every message a person sends unique).
pub const DUPLICATE_WINDOW_SECS: i64 = 2 * 86_400;

/// The fingerprint of a message as the client sent it: SHA-256 of the envelope sender and the
/// bytes (our trace lines, which differ per attempt, are not part of it).
fn fingerprint(return_path: &str, body: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(return_path.as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.finalize().into()
}

/// What becomes of mail for one recipient, decided at RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Hosted here: store into these mailboxes and forward to these outside addresses
    /// (never empty).
    Local(Vec<Route>),
    /// Not hosted here, and the sender may relay (authenticated submission): queued for
    /// delivery by the outbound queue.
    Remote,
    /// Hosted here, but refused (RCV-1 unknown, ADDR-2 no-reply, disabled, redirection loop).
    Refused(Refusal),
    /// Not hosted here and the sender may not relay: never an open relay.
    RelayDenied,
}

/// One accepted recipient of a transaction, with its RFC 3461 parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecipient {
    /// The address as given in RCPT TO: an ASCII Dot-string normalised like every [`Address`]
    /// (`From<Address>`); a remote mailbox with a non-ASCII or quoted local part (RFC 6531)
    /// kept exactly, since only the remote server knows what it means.
    pub address: EnvelopeAddress,
    /// What `check_recipient` decided: `Local` or `Remote`.
    pub recipient: Recipient,
    /// RFC 3461 §4.1 NOTIFY, when given.
    pub notify: Option<Notify>,
    /// RFC 3461 §4.2 ORCPT, when given, as `addr-type;address` with the xtext decoded.
    pub orcpt: Option<String>,
}

/// The envelope of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path of MAIL FROM, without angle brackets; empty for the null sender.
    pub return_path: String,
    /// The accepted recipients, in RCPT order.
    pub recipients: Vec<EnvelopeRecipient>,
    /// RFC 3461 §4.4 ENVID, when given.
    pub envid: Option<String>,
    /// RFC 3461 §4.3 RET, when given.
    pub ret: Option<DsnRet>,
    /// The authenticated mailbox for submitted mail: its `From:` is checked (SND-1).
    pub submitted_by: Option<Login>,
    /// The client that sent it over SMTP, for the checks on mail from strangers (SPF, DKIM,
    /// DMARC); `None` for mail this server makes itself (DSNs, notices).
    pub client: Option<Client>,
}

/// The outcome of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Every copy is on stable storage (RCV-12).
    Accepted {
        /// Messages stored in local mailboxes.
        stored: usize,
        /// The outbound queue entry, when something was forwarded or relayed.
        queued: Option<QueueId>,
    },
    /// SND-1: the `From:` header names an address the authenticated mailbox does not own.
    SenderDenied,
    /// A check on the message refused it (RCV-2, RCV-5); the protocol sends this reply.
    Refused(FilterReply),
    /// SND-6: a submission the spam filter scored at or above `[spam] outgoing_threshold`,
    /// kept in the queue for an administrator (who releases or deletes it) and sent to
    /// nobody yet; the organization's administrators are told.
    Held {
        /// The queue entry that holds it.
        queued: QueueId,
        /// Why: its spam score and the rules that made it.
        reason: String,
    },
}

/// The delivery use case.
#[derive(Clone)]
pub struct Delivery {
    directory: Arc<dyn Directory>,
    mail: Arc<dyn MailStore>,
    queue: Arc<dyn QueueStore>,
    guards: AuthGuards,
    /// SND-2: signs the queue copy of submitted mail; `None` queues it unsigned.
    signer: Option<DkimSigner>,
    /// RCV-13: checks the SRS addresses forwards left with, when bounces come back to them.
    srs: Option<Srs>,
    /// SND-6: outgoing rate limits; `None` sends without limits.
    send_limits: Option<Arc<SendLimiter>>,
    /// SPEC §4 checks (RCV-2 … RCV-9); `None` accepts without them.
    filters: Option<Arc<Filters>>,
    /// RCV-4: the mailboxes' sender allow/block lists; `None`: no lists.
    sender_lists: Option<SenderLists>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").finish_non_exhaustive()
    }
}

impl Delivery {
    /// Delivery into `mail` and `queue`, resolving against `directory`.
    pub fn new(
        directory: Arc<dyn Directory>,
        mail: Arc<dyn MailStore>,
        queue: Arc<dyn QueueStore>,
    ) -> Delivery {
        Delivery {
            guards: AuthGuards::new(directory.clone()),
            directory,
            mail,
            queue,
            signer: None,
            srs: None,
            send_limits: None,
            filters: None,
            sender_lists: None,
        }
    }

    /// Runs the checks of SPEC §4 (`filters`) at each stage.
    pub fn with_filters(mut self, filters: Arc<Filters>) -> Delivery {
        self.filters = Some(filters);
        self
    }

    /// RCV-9, when a client connects to the MX listener: the refusal it gets for every
    /// transaction when a DNS block list names it.
    pub async fn check_connection(&self, client: &Client) -> Option<FilterReply> {
        self.filters.as_ref()?.check_connection(client).await
    }

    /// RCV-8, at MAIL FROM: counts one transaction from `client` by `sender` (the envelope
    /// sender of a stranger's mail, the login of authenticated submission), or answers the
    /// `450 4.7.1` refusal when the client or the sender is over its rate limit.
    pub fn check_rate(&self, client: &Client, sender: &str) -> Option<FilterReply> {
        self.filters.as_ref()?.check_rate(client.ip, sender)
    }

    /// RCV-3, at RCPT of mail from a stranger for a hosted recipient: the temporary refusal
    /// of an unknown (client network, sender, recipient) triplet, unless the recipient's
    /// service turns greylisting off.
    pub async fn check_greylist(
        &self,
        client: &Client,
        sender: &str,
        recipient: &Address,
        now: i64,
    ) -> Result<Option<FilterReply>, CoreError> {
        let Some(filters) = &self.filters else {
            return Ok(None);
        };
        let service = self.directory.service_by_domain(recipient.domain()).await?;
        let overrides = service.map(|s| s.features.filters).unwrap_or_default();
        Ok(filters
            .check_recipient(client, sender, recipient, &overrides, now)
            .await)
    }

    /// Issue 7: the filter settings of the services the recipients of a stranger's message
    /// belong to (one read per distinct domain; the domain of the mailbox a route reaches,
    /// or of the hosted address that forwards).
    async fn filter_overrides(
        &self,
        envelope: &Envelope,
    ) -> Result<Vec<postwerk_model::FilterOverrides>, CoreError> {
        let mut domains: Vec<&postwerk_model::Domain> = Vec::new();
        for rcpt in &envelope.recipients {
            let Recipient::Local(routes) = &rcpt.recipient else {
                continue;
            };
            for route in routes {
                let hosted = match route {
                    Route::Local { address, .. } => address,
                    Route::Forward { original, .. } => original,
                };
                if !domains.contains(&hosted.domain()) {
                    domains.push(hosted.domain());
                }
            }
        }
        let mut overrides = Vec::with_capacity(domains.len());
        for domain in domains {
            if let Some(service) = self.directory.service_by_domain(domain).await? {
                overrides.push(service.features.filters);
            }
        }
        Ok(overrides)
    }

    /// SND-6: limit how many outside recipients a mailbox and its organization reach per hour.
    pub fn with_send_limits(mut self, limits: Arc<SendLimiter>) -> Delivery {
        self.send_limits = Some(limits);
        self
    }

    /// SND-6: counts one outside recipient of mail submitted by `login`, or says which limit
    /// it is over. On the first refusal of the hour for a mailbox, the organization's owners
    /// and administrators are sent a notice (in the background: the answer does not wait).
    pub async fn check_sending(
        &self,
        login: &Login,
        hostname: &str,
        now: i64,
    ) -> Result<SendVerdict, CoreError> {
        let Some(limits) = &self.send_limits else {
            return Ok(SendVerdict::Allowed);
        };
        let verdict = limits.check(login).await?;
        let notify = matches!(
            verdict,
            SendVerdict::MailboxLimit { notify: true, .. }
                | SendVerdict::OrganizationLimit { notify: true, .. }
        );
        if notify {
            tracing::warn!(mailbox = %login.address, ?verdict, "sending limit reached");
            let notice = limits.notice_for(login).await?;
            let raw = limit_notice_message(hostname, &notice, &verdict, now);
            let delivery = self.clone();
            tokio::spawn(async move { delivery.notify_administrators(notice, raw, now).await });
        }
        Ok(verdict)
    }

    /// Delivers a notice from the null sender to each of `notice.recipients` (locally when
    /// hosted here, else through the queue): a sending limit reached, a submission held
    /// (SND-6). Failures are logged: a notice is best effort.
    async fn notify_administrators(&self, notice: LimitNotice, raw: Vec<u8>, now: i64) {
        let mut recipients = Vec::new();
        for address in notice.recipients {
            match self.check_recipient(&address, true).await {
                Ok(recipient @ (Recipient::Local(_) | Recipient::Remote)) => {
                    recipients.push(EnvelopeRecipient {
                        address: address.into(),
                        recipient,
                        notify: Some(Notify::default()),
                        orcpt: None,
                    });
                }
                Ok(refused) => {
                    tracing::warn!(%address, ?refused, "an administrators' notice cannot reach it");
                }
                Err(error) => tracing::error!(%address, %error, "resolving a notice recipient"),
            }
        }
        if recipients.is_empty() {
            tracing::warn!(mailbox = %notice.mailbox, "no administrator to notify");
            return;
        }
        let envelope = Envelope {
            return_path: String::new(),
            recipients,
            envid: None,
            ret: None,
            submitted_by: None,
            client: None,
        };
        if let Err(error) = self.deliver(&envelope, b"", &raw, now).await {
            tracing::error!(%error, "delivering an administrators' notice failed");
        }
    }

    /// RCV-13, issue 6 item 7: accept bounces addressed to the SRS addresses that forwards
    /// left with, checked with `srs` (the queue's key), and send them on to the original
    /// sender ([`Delivery::srs_return`]).
    pub fn with_srs(mut self, srs: Srs) -> Delivery {
        self.srs = Some(srs);
        self
    }

    /// The original sender behind `recipient` when it is an SRS address this server made
    /// (its hash and age check out, and its domain is hosted here): a bounce to it goes on to
    /// that sender, through the outbound queue. `None` for any other address, which is then
    /// resolved as usual (and an SRS address that does not check out is unknown, RCV-1).
    ///
    /// `recipient` is the RCPT text as given: SRS local parts often exceed the 64 octets of
    /// RFC 5321 §4.5.3.1.1 that address parsing enforces, and forwarders accept them anyway.
    pub async fn srs_return(
        &self,
        recipient: &str,
        now: i64,
    ) -> Result<Option<Address>, CoreError> {
        let Some(srs) = &self.srs else {
            return Ok(None);
        };
        if !crate::srs::is_srs(recipient) {
            return Ok(None);
        }
        let Some((_, domain)) = recipient.rsplit_once('@') else {
            return Ok(None);
        };
        let Ok(domain) = postwerk_model::Domain::parse(domain) else {
            return Ok(None);
        };
        if self.directory.service_by_domain(&domain).await?.is_none() {
            return Ok(None);
        }
        Ok(srs
            .decode(recipient, now)
            .and_then(|original| Address::parse(&original).ok()))
    }

    /// SND-2: DKIM-sign the queue copy of submitted mail with `signer` (the local copy and
    /// forwards of received mail stay unsigned).
    pub fn with_signer(mut self, signer: DkimSigner) -> Delivery {
        self.signer = Some(signer);
        self
    }

    /// RCV-4: apply the mailboxes' sender allow/block lists kept in `rules` to strangers'
    /// mail, at RCPT and at the end of the message.
    pub fn with_sender_rules(mut self, rules: Arc<dyn ManagerStore>) -> Delivery {
        self.sender_lists = Some(SenderLists::new(rules));
        self
    }

    /// The auth guards (SND-1) over the same directory.
    pub fn guards(&self) -> &AuthGuards {
        &self.guards
    }

    /// RCV-13: resolves `recipient` at RCPT time. `may_relay` says whether an address that no
    /// service here hosts is accepted for the outbound queue (authenticated submission only).
    pub async fn check_recipient(
        &self,
        recipient: &Address,
        may_relay: bool,
    ) -> Result<Recipient, CoreError> {
        self.check_recipient_sized(recipient, may_relay, 0).await
    }

    /// [`Delivery::check_recipient`] for a message the client announced as `size` octets
    /// (RFC 1870 SIZE; 0 when unknown): a mailbox with a storage limit that the message would
    /// overflow, or that is full already, refuses it (ADDR-10).
    pub async fn check_recipient_sized(
        &self,
        recipient: &Address,
        may_relay: bool,
        size: u64,
    ) -> Result<Recipient, CoreError> {
        let mut expansion =
            Expansion::new(recipient.clone(), DEFAULT_MAX_DEPTH, DEFAULT_MAX_DELIVERIES);
        // ADDR-10: the limits of the mailboxes met on the way, from the facts already read.
        let mut limits: HashMap<AddressId, u64> = HashMap::new();
        while let Some(next) = expansion.next_lookup() {
            let facts = self.directory.resolve_facts(&next).await?;
            for hosted in [&facts.exact, &facts.alias_of, &facts.catch_all]
                .into_iter()
                .flatten()
            {
                if let Some(limit) = hosted.storage_limit {
                    limits.insert(hosted.id, limit);
                }
            }
            expansion.feed(facts);
        }
        for note in expansion.notes() {
            tracing::debug!(?note, "recipient expansion note");
        }
        Ok(match expansion.finish() {
            Outcome::Deliver(routes) if self.overflows(&routes, &limits, size).await? => {
                Recipient::Refused(Refusal::MailboxFull)
            }
            Outcome::Deliver(routes) => Recipient::Local(routes),
            Outcome::Refused(refusal) => Recipient::Refused(refusal),
            Outcome::NotLocal if may_relay => Recipient::Remote,
            Outcome::NotLocal => Recipient::RelayDenied,
        })
    }

    /// ADDR-10: whether a message of `size` octets overflows one of the limited mailboxes
    /// among `routes` (a full mailbox overflows whatever the size). Mailboxes without a limit,
    /// the default, cost no query.
    async fn overflows(
        &self,
        routes: &[Route],
        limits: &HashMap<AddressId, u64>,
        size: u64,
    ) -> Result<bool, CoreError> {
        for route in routes {
            let Route::Local { mailbox, .. } = route else {
                continue;
            };
            let Some(&limit) = limits.get(mailbox) else {
                continue;
            };
            let usage = self.mail.mailbox_usage(*mailbox).await?;
            if usage >= limit || usage.saturating_add(size) > limit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// RCV-4 and RCV-3, at RCPT of a stranger's mail (not authenticated submission) from
    /// `sender` for `recipient`, resolved as `verdict`: refused `550 5.7.1` when the list of
    /// every mailbox it reaches blocks the sender (and it forwards nowhere); let through
    /// without greylisting when one of them allows the sender; else greylisted
    /// ([`Delivery::check_greylist`]). Only the envelope sender is known here; the `From:`
    /// addresses are judged at the end of the message.
    pub async fn screen_recipient(
        &self,
        client: &Client,
        sender: &str,
        recipient: &Address,
        verdict: &Recipient,
        now: i64,
    ) -> Result<Option<FilterReply>, CoreError> {
        if let (Some(lists), Recipient::Local(routes)) = (&self.sender_lists, verdict) {
            let senders = sender_lists::senders(sender, std::iter::empty());
            let mut verdicts = Vec::new();
            for route in routes {
                if let Route::Local { mailbox, .. } = route {
                    verdicts.push(lists.verdict(*mailbox, &senders).await?);
                }
            }
            let forwards = routes
                .iter()
                .any(|route| matches!(route, Route::Forward { .. }));
            if !verdicts.is_empty()
                && !forwards
                && verdicts.iter().all(|v| *v == Some(ListKind::Block))
            {
                return Ok(Some(sender_lists::blocked()));
            }
            if verdicts.contains(&Some(ListKind::Allow)) {
                return Ok(None);
            }
        }
        self.check_greylist(client, sender, recipient, now).await
    }

    /// Stores the message for every local mailbox and queues it for every forward and remote
    /// recipient; answers only once all of it is durable (RCV-12).
    ///
    /// `trace` holds complete header lines (CRLF-terminated) to put before the message, such as
    /// the protocol's `Received:`; `body` is the message exactly as received.
    pub async fn deliver(
        &self,
        envelope: &Envelope,
        trace: &[u8],
        body: &[u8],
        received_at: i64,
    ) -> Result<Delivered, CoreError> {
        self.deliver_checked(envelope, trace, body, received_at, held::Review::Pending)
            .await
    }

    /// [`Delivery::deliver`], where `review` says whether an administrator has already
    /// released the message (SND-6: it is then not held again).
    async fn deliver_checked(
        &self,
        envelope: &Envelope,
        trace: &[u8],
        body: &[u8],
        received_at: i64,
        review: held::Review,
    ) -> Result<Delivered, CoreError> {
        // RFC 8601 §5: an Authentication-Results field from outside that claims to be ours
        // would make a client trust what we never verified; it goes before anything else.
        let stripped;
        let body = match (&self.filters, &envelope.submitted_by, &envelope.client) {
            (Some(filters), None, Some(_)) => {
                stripped = filters.strip_forged_results(body);
                &*stripped
            }
            _ => body,
        };
        // SPEC §4 at the end of the message: strangers' mail gets every check, submitted mail
        // the attachment check (issue 7 item 8), our own reports none.
        let verdict = match (&self.filters, &envelope.submitted_by) {
            (Some(filters), Some(_)) => Some(filters.check_message(None, "", body, &[]).await),
            (Some(filters), None) if envelope.client.is_some() => {
                let services = self.filter_overrides(envelope).await?;
                Some(
                    filters
                        .check_message(
                            envelope.client.as_ref(),
                            &envelope.return_path,
                            body,
                            &services,
                        )
                        .await,
                )
            }
            _ => None,
        };
        let (filter_headers, class) = match verdict {
            Some(MessageVerdict::Refuse(reply)) => return Ok(Delivered::Refused(reply)),
            Some(MessageVerdict::Accept { headers, junk }) => {
                (headers, MessageClass { junk, spam: None })
            }
            Some(MessageVerdict::Spam {
                headers,
                junk,
                score,
                refusal,
            }) => (
                headers,
                MessageClass {
                    junk,
                    spam: Some((score, refusal)),
                },
            ),
            None => (Vec::new(), MessageClass::default()),
        };
        let mut mailboxes = Vec::new();
        let mut queued = Vec::new();
        for rcpt in &envelope.recipients {
            match &rcpt.recipient {
                Recipient::Local(routes) => {
                    for route in routes {
                        match route {
                            Route::Local { mailbox, .. } => mailboxes.push(*mailbox),
                            Route::Forward { to, original } => queued.push(QueuedRecipient {
                                address: to.clone().into(),
                                notify: rcpt.notify,
                                orcpt: rcpt.orcpt.clone(),
                                forwarded_by: Some(original.clone()),
                            }),
                        }
                    }
                }
                Recipient::Remote => queued.push(QueuedRecipient {
                    address: rcpt.address.clone(),
                    notify: rcpt.notify,
                    orcpt: rcpt.orcpt.clone(),
                    forwarded_by: None,
                }),
                Recipient::Refused(_) | Recipient::RelayDenied => {}
            }
        }

        // Each copy is built only when someone receives it (a 100 KB message is copied once,
        // not twice, on the MX path).
        let local_copy = (!mailboxes.is_empty()).then(|| {
            let return_path = format!("Return-Path: <{}>\r\n", envelope.return_path);
            [return_path.as_bytes(), &filter_headers, trace, body].concat()
        });
        let queue_copy =
            (!queued.is_empty() || local_copy.is_none()).then(|| [trace, body].concat());
        // Parse once: the index goes into the store, and submission checks From: with it.
        let parsed = local_copy
            .as_deref()
            .or(queue_copy.as_deref())
            .unwrap_or_default();
        let index = MessageIndex::parse(parsed);
        if let Some(login) = &envelope.submitted_by
            && self.guards.check_from(login, &index).await? == SenderCheck::Denied
        {
            return Ok(Delivered::SenderDenied);
        }
        // SND-6: a submission that scores like spam waits for an administrator.
        if let (Some(filters), Some(login), held::Review::Pending) =
            (&self.filters, &envelope.submitted_by, review)
            && let Some(score) = filters
                .check_outgoing(
                    &login.address.to_string(),
                    &envelope.return_path,
                    &held::recipient_texts(envelope),
                    body,
                )
                .await
        {
            // A client's retry of a held submission is held once (issue 10), as below.
            let once = Fingerprint {
                digest: fingerprint(&envelope.return_path, body),
                since: received_at - DUPLICATE_WINDOW_SECS,
            };
            let raw = [trace, body].concat();
            return self
                .hold(envelope, login, raw, once, score, received_at)
                .await;
        }
        // RCV-4: strangers' mail meets the mailboxes' lists; everything else goes where the
        // filters said (our own reports and submissions to INBOX).
        let stranger = envelope.submitted_by.is_none() && envelope.client.is_some();
        let senders = if stranger {
            let from = index.summary.from.iter().filter_map(|addr| addr.address());
            sender_lists::senders(&envelope.return_path, from)
        } else {
            Vec::new()
        };
        let lists = self.sender_lists.as_ref().filter(|_| stranger);
        let targets =
            match sender_lists::sort(lists, &mailboxes, &senders, &class, !queued.is_empty())
                .await?
            {
                Sorted::Deliver(targets) => targets,
                Sorted::Refuse(reply) => return Ok(Delivered::Refused(reply)),
            };
        let queue_copy = self
            .sign(envelope, &index, body, queue_copy, !queued.is_empty())
            .await;

        // Issue 10: a client that lost our 250 in a crash sends the same message again; the
        // mailboxes that have it get it once.
        let fingerprint = fingerprint(&envelope.return_path, body);
        let store_locally = async {
            match &local_copy {
                Some(raw) if !targets.is_empty() => self
                    .mail
                    .deliver_once(
                        raw,
                        &index,
                        &targets,
                        &Flags::none(),
                        received_at,
                        Fingerprint {
                            digest: fingerprint,
                            since: received_at - DUPLICATE_WINDOW_SECS,
                        },
                    )
                    .await
                    .map(|stored| stored.iter().flatten().count()),
                _ => Ok(0),
            }
        };
        let enqueue = async move {
            let Some(raw) = queue_copy.filter(|_| !queued.is_empty()) else {
                return Ok(None);
            };
            let message = NewQueued {
                return_path: envelope.return_path.clone(),
                recipients: queued,
                envid: envelope.envid.clone(),
                ret: envelope.ret,
                received_at,
                submitted_by: envelope.submitted_by.as_ref().map(|login| login.mailbox),
                held: None,
            };
            // Issue 10: a client's retry of a message whose 250 it lost, or whose local half
            // failed while this half was committed, reaches the remote recipients once; the
            // store adds the sorted recipients to the fingerprint.
            let once = Fingerprint {
                digest: fingerprint,
                since: received_at - DUPLICATE_WINDOW_SECS,
            };
            self.queue.enqueue_once(&raw, message, once).await.map(Some)
        };
        // Both writes are submitted at once so the store's writer commits them together.
        let (stored, queued) = tokio::join!(store_locally, enqueue);
        Ok(Delivered::Accepted {
            stored: stored?,
            queued: queued?,
        })
    }

    /// SND-2: the queue copy of submitted mail with the `DKIM-Signature:` of its `From:`
    /// domain's service put before it (and before the trace lines); the signature covers
    /// `body`, the message as submitted. Unchanged when there is no signer or nothing to queue,
    /// and for mail not submitted here. Signing that fails (a service without a key) is logged
    /// and the copy goes unsigned: a missing key must not stop the mail.
    async fn sign(
        &self,
        envelope: &Envelope,
        index: &MessageIndex,
        body: &[u8],
        queue_copy: Option<Vec<u8>>,
        queued: bool,
    ) -> Option<Vec<u8>> {
        let (Some(signer), Some(copy), Some(_), true) =
            (&self.signer, &queue_copy, &envelope.submitted_by, queued)
        else {
            return queue_copy;
        };
        // SND-1 passed: every From: address is the mailbox's, so the first names the service.
        let from = index.summary.from.iter().find_map(|addr| addr.address());
        let Some(domain) = from.and_then(|text| Address::parse(&text).ok()) else {
            return queue_copy;
        };
        let domain = domain.domain();
        match signer.sign(domain, body).await {
            Ok(header) => Some([header.as_bytes(), copy].concat()),
            Err(error) => {
                tracing::warn!(%domain, %error, "DKIM signing failed; the message goes unsigned");
                queue_copy
            }
        }
    }
}
