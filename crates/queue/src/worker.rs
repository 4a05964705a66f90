//! The delivery workers: lease what is due, attempt it domain by domain, record the outcome,
//! tell the sender, and drop what is settled.
//!
//! ```text
//!  run ─┬─► lease_due (up to the free message slots) ─► one task per message:
//!       │      process ─► group due recipients by (domain, reverse-path after SRS)
//!       │               ─► one Attempt per group, concurrently, each holding a permit of
//!       │                  its domain (`per_domain`) and of the whole queue (`workers`)
//!       │               ─► schedule::decide per recipient
//!       │               ─► one report per event kind (failed / delayed / delivered)
//!       │                  through core::Delivery, from the null sender
//!       │               ─► record_attempt (releases the lease) ─► dequeue when settled
//!       └─► sleep until next_due, an enqueue or retry (`changed`), a task's end, or shutdown
//! ```
//!
//! A worker that dies mid-message leaves its lease to expire; the message is then attempted
//! again (issue 6: never forgotten). The report goes out before the attempt is recorded:
//! should the process die in between, the sender may get a report twice, never none.

use std::collections::{HashMap, HashSet};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postwerk_core::{Delivered, Delivery, Envelope, EnvelopeRecipient, Recipient};
use postwerk_model::EnvelopeAddress;
use postwerk_net::Shutdown;
use postwerk_store::{
    Notify, QueueId, QueueStore, QueuedMessage, QueuedRecipient, RecipientState, RecipientStatus,
    StoreError,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Clock;
use crate::config::QueueConfig;
use crate::dsn::{self, Action, Report, ReportRecipient};
use crate::schedule::{self, Notice};
use crate::srs::Srs;
use crate::transport::{Attempt, AttemptRecipient, Failure, Outcome, Transport};

/// The longest idle sleep: enqueues and `admin queue retry` from other processes sharing the
/// database (the admin CLI, other nodes) do not reach this process's `changed` signal, and
/// the wall clock may jump. One indexed query every few seconds is cheap.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// How long a stop waits for attempts in flight before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The pause after the store failed, before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// The outbound queue's delivery workers.
///
/// Cloning is cheap and shares the workers' limits: [`Queue::run`] consumes one handle
/// while tests keep another for [`Queue::run_once`].
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Arc<dyn QueueStore>,
    delivery: Delivery,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    config: QueueConfig,
    srs: Srs,
    /// Messages being processed by `run` (one permit each): what `lease_due` may take.
    slots: Arc<Semaphore>,
    /// Attempts in flight over all domains (`workers`).
    attempts: Semaphore,
    /// Attempts in flight per destination domain (`per_domain`); an entry lives while an
    /// attempt at its domain holds or awaits it.
    domains: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Messages being processed here. A message whose attempts wait long for their domain's
    /// permits may outlive its lease and be leased again by this process: the second lease
    /// is then not processed, so an attempt is never made twice at once.
    in_flight: Mutex<HashSet<QueueId>>,
}

/// Marks a message in flight for as long as it lives.
struct InFlight<'a> {
    set: &'a Mutex<HashSet<QueueId>>,
    id: QueueId,
}

impl<'a> InFlight<'a> {
    /// `None` when the message is in flight already.
    fn enter(set: &'a Mutex<HashSet<QueueId>>, id: QueueId) -> Option<InFlight<'a>> {
        let fresh = set.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        fresh.then_some(InFlight { set, id })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// The recipients of one message that share an attempt.
#[derive(Debug)]
struct Group {
    /// Their domain (A-label, lowercase, as `Domain` keeps it).
    domain: String,
    /// The reverse-path to announce, after SRS for forwards.
    return_path: String,
    /// Their positions in the message's recipient list.
    positions: Vec<usize>,
}

impl Queue {
    /// The workers over `store`, delivering through `transport`, reporting to senders
    /// through `delivery`, with time from `clock`.
    pub fn new(
        store: Arc<dyn QueueStore>,
        delivery: Delivery,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        config: QueueConfig,
    ) -> Queue {
        if config.srs_secret.is_empty() {
            tracing::warn!("no SRS secret configured: rewritten sender addresses are forgeable");
        }
        let workers = config.workers.max(1);
        Queue {
            inner: Arc::new(Inner {
                store,
                delivery,
                transport,
                clock,
                srs: Srs::new(config.srs_secret.clone()),
                slots: Arc::new(Semaphore::new(workers)),
                attempts: Semaphore::new(workers),
                domains: Mutex::new(HashMap::new()),
                in_flight: Mutex::new(HashSet::new()),
                config,
            }),
        }
    }

    /// The SRS rewriting in use (the MX decodes bounces to SRS addresses with it).
    pub fn srs(&self) -> &Srs {
        &self.inner.srs
    }

    /// Delivers until `shutdown`: leases due messages as slots free up and sleeps until the
    /// next is due or something is queued. On shutdown it stops leasing and waits for the
    /// attempts in flight (their outcomes are recorded; nothing is cut mid-delivery).
    pub async fn run(self, shutdown: Shutdown) {
        let inner = self.inner;
        inner.sweep_settled().await;
        let mut tasks = JoinSet::new();
        loop {
            // Enabled before looking at the queue, so that an enqueue between the look and
            // the sleep still wakes us (see `QueueStore::changed`).
            let changed = inner.store.changed();
            let mut notified = pin!(changed.notified());
            notified.as_mut().enable();
            if shutdown.is_triggered() {
                break;
            }
            while let Some(done) = tasks.try_join_next() {
                log_task_end(done);
            }
            let wait = inner.clone().lease_and_spawn(&mut tasks).await;
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = shutdown.triggered() => break,
                _ = notified.as_mut() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(done) = tasks.join_next(), if !tasks.is_empty() => log_task_end(done),
            }
        }
        tracing::info!(
            in_flight = tasks.len(),
            "queue stopping: finishing attempts in flight"
        );
        // OPS-2: a stop must not wait for a remote server's minutes-long timeouts. Attempts
        // still running after the grace period are dropped: their messages keep their
        // leases, which the next start releases, so they are attempted again, not lost.
        let drain = async {
            while let Some(done) = tasks.join_next().await {
                log_task_end(done);
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!(
                abandoned = tasks.len(),
                "attempts still running at shutdown were abandoned; they are retried at start"
            );
            tasks.abort_all();
        }
    }

    /// One pass over what is due now: leases up to `workers` messages, attempts them, and
    /// waits for every outcome to be recorded. Answers the number of attempts made (one per
    /// message and destination group). For tests and `postwerk admin queue` runs.
    pub async fn run_once(&self) -> usize {
        let inner = &self.inner;
        let now = inner.clock.now();
        let leased = match inner
            .store
            .lease_due(now, inner.lease_secs(), inner.config.workers.max(1))
            .await
        {
            Ok(leased) => leased,
            Err(error) => {
                tracing::error!(%error, "could not lease due queued messages");
                return 0;
            }
        };
        futures::future::join_all(leased.into_iter().map(|message| inner.process(message)))
            .await
            .into_iter()
            .sum()
    }
}

fn log_task_end(done: Result<usize, tokio::task::JoinError>) {
    if let Err(error) = done {
        // A panic in one message's processing: its lease expires and it is retried.
        tracing::error!(%error, "a queue task failed");
    }
}

impl Inner {
    fn lease_secs(&self) -> i64 {
        i64::try_from(self.config.lease.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// Leases what is due into the free slots and spawns a task per message. Answers how
    /// long to sleep: zero when the slots were filled and more may be due.
    async fn lease_and_spawn(self: Arc<Self>, tasks: &mut JoinSet<usize>) -> Duration {
        let free = self.slots.available_permits();
        if free == 0 {
            // Every slot busy: a task's end wakes the loop.
            return MAX_IDLE;
        }
        let now = self.clock.now();
        let leased = match self.store.lease_due(now, self.lease_secs(), free).await {
            Ok(leased) => leased,
            Err(error) => {
                tracing::error!(%error, "could not lease due queued messages");
                return ERROR_BACKOFF;
            }
        };
        let filled = leased.len() == free;
        for message in leased {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                // Cannot happen: only this loop takes slots, and it saw them free. The lease
                // expires and the message is taken again.
                tracing::error!(queue_id = %message.id, "no free slot for a leased message");
                continue;
            };
            let inner = self.clone();
            tasks.spawn(async move {
                let attempts = inner.process(message).await;
                drop(permit);
                attempts
            });
        }
        if filled {
            return Duration::ZERO;
        }
        match self.store.next_due().await {
            Ok(Some(at)) => {
                let secs = at.saturating_sub(self.clock.now());
                // At least a second: what is due now and was not leased is held by another
                // worker, whose lease ends later (`next_due` accounts for leases).
                Duration::from_secs(u64::try_from(secs).unwrap_or(0).max(1)).min(MAX_IDLE)
            }
            Ok(None) => MAX_IDLE,
            Err(error) => {
                tracing::error!(%error, "could not read the queue's next due time");
                ERROR_BACKOFF
            }
        }
    }

    /// At start: entries whose recipients are all settled but which were not removed (the
    /// process stopped between recording and removing) are removed now; `lease_due` never
    /// returns them.
    async fn sweep_settled(&self) {
        // The store is this process's alone (SQLite): a lease found now was held by a run
        // that died mid-attempt. Attempt those messages again at once (issue 6, item 1).
        match self.store.release_leases().await {
            Ok(0) => {}
            Ok(released) => tracing::warn!(released, "leases of a previous run released"),
            Err(error) => tracing::error!(%error, "could not release leases at start"),
        }
        let queued = match self.store.queued().await {
            Ok(queued) => queued,
            Err(error) => {
                tracing::error!(%error, "could not list the queue at start");
                return;
            }
        };
        let now = self.clock.now();
        for message in queued {
            if settled(&message.states) && message.leased_until <= now {
                self.remove(message.id).await;
            }
        }
    }

    /// Attempts the due recipients of one leased message, records the outcome and reports
    /// to the sender. Answers the number of attempts made.
    async fn process(&self, message: QueuedMessage) -> usize {
        let id = message.id;
        let Some(_in_flight) = InFlight::enter(&self.in_flight, id) else {
            // Its first task records the outcome and releases this lease too.
            tracing::warn!(queue_id = %id, "lease expired while the message was in flight");
            return 0;
        };
        let started = self.clock.now();
        let groups = self.groups(&message, started);
        if groups.is_empty() {
            // Leased but nothing due (changed meanwhile): release the lease.
            self.record(id, Vec::new()).await;
            if settled(&message.states) {
                self.remove(id).await;
            }
            return 0;
        }
        let (content, outcomes) = match self.store.read_queued(id).await {
            Ok(content) => {
                let attempts = groups.iter().map(|g| self.attempt(&message, g, &content));
                let outcomes = futures::future::join_all(attempts).await;
                (content, Some(outcomes))
            }
            Err(StoreError::NotFound(_)) => {
                tracing::info!(queue_id = %id, "queued message removed while leased");
                return 0;
            }
            Err(error) => {
                // Our fault, not the remote's: it follows the retry schedule like any
                // temporary failure, so the sender is warned and, in the end, told.
                tracing::error!(queue_id = %id, %error, "could not read a queued message");
                (Vec::new(), None)
            }
        };
        let attempts = if outcomes.is_some() { groups.len() } else { 0 };
        let outcomes = outcomes.unwrap_or_else(|| {
            groups
                .iter()
                .map(|g| vec![Outcome::Temporary(unreadable()); g.positions.len()])
                .collect()
        });

        let now = self.clock.now();
        let mut states = message.states.clone();
        let mut changed = Vec::new();
        let mut reports: HashMap<Action, Vec<ReportRecipient>> = HashMap::new();
        for (group, outcomes) in groups.iter().zip(outcomes) {
            for (&position, outcome) in group.positions.iter().zip(outcomes) {
                let rcpt = &message.message.recipients[position];
                let decision = schedule::decide(
                    &states[position],
                    rcpt.notify,
                    message.message.received_at,
                    now,
                    &self.config,
                    &outcome,
                );
                log_outcome(id, &group.domain, rcpt, &outcome, &decision.state);
                if let Some(notice) = decision.notice {
                    reports
                        .entry(action_of(notice))
                        .or_default()
                        .push(report_recipient(rcpt, &decision.state, &outcome, notice));
                }
                states[position] = decision.state.clone();
                changed.push((position, decision.state));
            }
        }

        // One report per event kind, covering every recipient settled in this pass.
        let mut actions: Vec<_> = reports.into_iter().collect();
        actions.sort_by_key(|(action, _)| *action);
        for (action, recipients) in actions {
            self.report(&message, action, &recipients, &content, now)
                .await;
        }
        if !self.record(id, changed).await {
            return attempts;
        }
        if settled(&states) {
            self.remove(id).await;
        }
        attempts
    }

    /// The due recipients of `message`, grouped by destination domain and reverse-path.
    fn groups(&self, message: &QueuedMessage, now: i64) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        let due = message
            .message
            .recipients
            .iter()
            .zip(&message.states)
            .enumerate()
            .filter(|(_, (_, state))| {
                state.status == RecipientStatus::Pending && state.next_attempt_at <= now
            });
        for (position, (rcpt, _)) in due {
            let domain = rcpt.address.domain().as_str().to_owned();
            let return_path = match &rcpt.forwarded_by {
                // RCV-13: a forward leaves from the forwarding domain, so that SPF at the
                // next hop checks us; bounces come back to it and are decoded.
                Some(by) => {
                    let forwarding = by.domain().as_str();
                    let forwarding = if forwarding.is_empty() {
                        self.config.srs_domain.as_str()
                    } else {
                        forwarding
                    };
                    self.srs
                        .encode(&message.message.return_path, forwarding, now)
                }
                None => message.message.return_path.clone(),
            };
            match groups
                .iter_mut()
                .find(|g| g.domain == domain && g.return_path == return_path)
            {
                Some(group) => group.positions.push(position),
                None => groups.push(Group {
                    domain,
                    return_path,
                    positions: vec![position],
                }),
            }
        }
        groups
    }

    /// One attempt at one domain, within the concurrency limits. Always one outcome per
    /// recipient of the group.
    async fn attempt(
        &self,
        message: &QueuedMessage,
        group: &Group,
        content: &[u8],
    ) -> Vec<Outcome> {
        let recipients: Vec<AttemptRecipient> = group
            .positions
            .iter()
            .map(|&p| {
                let rcpt = &message.message.recipients[p];
                AttemptRecipient {
                    address: rcpt.address.to_string(),
                    notify: rcpt.notify,
                    orcpt: rcpt.orcpt.clone(),
                }
            })
            .collect();
        let (eight_bit, smtputf8) = content_flags(&group.return_path, &recipients, content);
        let attempt = Attempt {
            return_path: group.return_path.clone(),
            domain: group.domain.clone(),
            recipients,
            envid: message.message.envid.clone(),
            ret: message.message.ret,
            eight_bit,
            smtputf8,
        };
        let domain_slots = self.domain_slots(&group.domain);
        // The domain's permit first: waiting for it holds nothing that others need.
        let domain_permit = domain_slots.acquire().await.ok();
        let permit = self.attempts.acquire().await.ok();
        tracing::debug!(
            queue_id = %message.id,
            domain = %group.domain,
            recipients = attempt.recipients.len(),
            eight_bit,
            smtputf8,
            "delivery attempt"
        );
        let mut outcomes = self.transport.deliver(&attempt, content).await;
        drop(permit);
        drop(domain_permit);
        self.release_domain(&group.domain, domain_slots);
        if outcomes.len() != group.positions.len() {
            tracing::error!(
                queue_id = %message.id,
                domain = %group.domain,
                expected = group.positions.len(),
                got = outcomes.len(),
                "the transport answered the wrong number of outcomes"
            );
            outcomes.resize_with(group.positions.len(), || {
                Outcome::Temporary(Failure {
                    status: "4.3.0".into(),
                    remote_mta: None,
                    reply: None,
                    reason: "the delivery gave no answer for this recipient".into(),
                })
            });
        }
        outcomes
    }

    /// The semaphore of `domain`, created on first use.
    fn domain_slots(&self, domain: &str) -> Arc<Semaphore> {
        let mut domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        domains
            .entry(domain.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_domain.max(1))))
            .clone()
    }

    /// Drops our handle on `domain`'s semaphore, and the entry when no attempt uses it, so
    /// that the map does not grow with every domain ever written to.
    fn release_domain(&self, domain: &str, slots: Arc<Semaphore>) {
        let mut domains = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        drop(slots);
        // Handles are only made under this lock: one left means the map's own.
        if domains
            .get(domain)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            domains.remove(domain);
        }
    }

    /// Builds and delivers one report to the sender of `message`. Failures are logged: the
    /// queue's own state must still be recorded.
    async fn report(
        &self,
        message: &QueuedMessage,
        action: Action,
        recipients: &[ReportRecipient],
        content: &[u8],
        now: i64,
    ) {
        let queued = &message.message;
        let Some(bytes) = dsn::build(&Report {
            hostname: &self.config.hostname,
            queue_id: message.id,
            return_path: &queued.return_path,
            envid: queued.envid.as_deref(),
            ret: queued.ret,
            received_at: queued.received_at,
            action,
            recipients,
            original: content,
            now,
            delay_notice: self.config.delay_notice,
            give_up: self.config.give_up,
        }) else {
            // The null sender: RFC 3461 §6.2, never a report.
            return;
        };
        // The reverse-path as smtp-proto decoded it: quotes removed, maybe non-ASCII (RFC 6531).
        let Ok(sender) = EnvelopeAddress::from_unquoted(&queued.return_path) else {
            tracing::warn!(queue_id = %message.id, "the sender's address cannot receive a report");
            return;
        };
        // Checked as if relaying is allowed: a hosted sender gets it in INBOX, a remote one
        // through the queue (from the null sender, so it can never bounce back). A non-ASCII
        // or quoted local part is never a hosted one, so that sender is remote.
        let (sender, checked) = match sender.to_address() {
            Some(hosted_form) => {
                let checked = self.delivery.check_recipient(&hosted_form, true).await;
                (hosted_form.into(), checked)
            }
            None => (sender, Ok(Recipient::Remote)),
        };
        let recipient = match checked {
            Ok(recipient @ (Recipient::Local(_) | Recipient::Remote)) => recipient,
            Ok(refused) => {
                tracing::warn!(queue_id = %message.id, ?refused, "the sender refuses reports");
                return;
            }
            Err(error) => {
                tracing::error!(queue_id = %message.id, %error, "could not route a report");
                return;
            }
        };
        let envelope = Envelope {
            return_path: String::new(),
            recipients: vec![EnvelopeRecipient {
                address: sender,
                recipient,
                // NOTIFY=NEVER: a report about a report helps no one.
                notify: Some(Notify::default()),
                orcpt: None,
            }],
            envid: None,
            ret: None,
            submitted_by: None,
            client: None,
        };
        match self.delivery.deliver(&envelope, b"", &bytes, now).await {
            Ok(Delivered::Accepted { stored, queued }) => tracing::info!(
                queue_id = %message.id,
                action = action.as_str(),
                recipients = recipients.len(),
                stored,
                report_queue_id = ?queued.map(|q| q.0),
                "delivery report sent"
            ),
            Ok(Delivered::SenderDenied | Delivered::Held { .. }) => {
                tracing::error!(queue_id = %message.id, "a report was judged as a submission");
            }
            Ok(Delivered::Refused(reply)) => {
                // Our own reports carry no client, so no check should judge them.
                tracing::error!(queue_id = %message.id, reason = %reply.text, "a report was refused by a check");
            }
            Err(error) => {
                tracing::error!(queue_id = %message.id, %error, "could not deliver a report");
            }
        }
    }

    /// Records new states and releases the lease. False when the entry is gone (removed by an
    /// administrator) or the store failed (the lease then expires and the message is retried).
    async fn record(&self, id: QueueId, states: Vec<(usize, RecipientState)>) -> bool {
        match self.store.record_attempt(id, states).await {
            Ok(()) => true,
            Err(StoreError::NotFound(_)) => {
                tracing::info!(queue_id = %id, "queued message removed during its attempt");
                false
            }
            Err(error) => {
                tracing::error!(queue_id = %id, %error, "could not record a delivery attempt");
                false
            }
        }
    }

    async fn remove(&self, id: QueueId) {
        match self.store.dequeue(id).await {
            Ok(()) => tracing::debug!(queue_id = %id, "queued message settled and removed"),
            Err(StoreError::NotFound(_)) => {}
            Err(error) => tracing::error!(queue_id = %id, %error, "could not remove a message"),
        }
    }
}

/// Whether no recipient is pending.
fn settled(states: &[RecipientState]) -> bool {
    states.iter().all(|s| s.status != RecipientStatus::Pending)
}

/// The temporary failure used when the queued content cannot be read.
fn unreadable() -> Failure {
    Failure {
        status: "4.3.0".into(),
        remote_mta: None,
        reply: None,
        reason: "the queued message could not be read on this server".into(),
    }
}

/// BODY=8BITMIME (RFC 6152) when any octet is above 127; SMTPUTF8 (RFC 6531 §3.4) when the
/// envelope or the header is not ASCII (8-bit in the body alone needs only 8BITMIME).
fn content_flags(
    return_path: &str,
    recipients: &[AttemptRecipient],
    content: &[u8],
) -> (bool, bool) {
    let eight_bit = !content.is_ascii();
    let smtputf8 = !return_path.is_ascii()
        || recipients.iter().any(|r| !r.address.is_ascii())
        || !dsn::header_section(content).is_ascii();
    (eight_bit, smtputf8)
}

fn action_of(notice: Notice) -> Action {
    match notice {
        Notice::Delivered => Action::Delivered,
        Notice::Delayed => Action::Delayed,
        Notice::Failed | Notice::Expired => Action::Failed,
    }
}

fn report_recipient(
    rcpt: &QueuedRecipient,
    state: &RecipientState,
    outcome: &Outcome,
    notice: Notice,
) -> ReportRecipient {
    let (reply, reason) = match outcome {
        Outcome::Delivered { remote_mta, reply } => {
            (Some(reply.clone()), format!("delivered to {remote_mta}"))
        }
        Outcome::Temporary(failure) | Outcome::Permanent(failure) => {
            (failure.reply.clone(), failure.reason.clone())
        }
    };
    ReportRecipient {
        address: rcpt.address.to_string(),
        orcpt: rcpt.orcpt.clone(),
        forwarded_by: rcpt.forwarded_by.as_ref().map(ToString::to_string),
        status: state.last_status.clone().unwrap_or_default(),
        remote_mta: state.remote_mta.clone(),
        reply,
        reason,
        last_attempt_at: state.last_attempt_at,
        expired: notice == Notice::Expired,
    }
}

/// One line per recipient and attempt: who, where, what came of it. Never content.
fn log_outcome(
    id: QueueId,
    domain: &str,
    rcpt: &QueuedRecipient,
    outcome: &Outcome,
    state: &RecipientState,
) {
    let status = state.last_status.as_deref().unwrap_or("");
    match outcome {
        Outcome::Delivered { remote_mta, .. } => tracing::info!(
            queue_id = %id,
            domain,
            recipient = %rcpt.address,
            status,
            remote_mta,
            attempts = state.attempts,
            "delivered"
        ),
        Outcome::Temporary(failure) if state.status == RecipientStatus::Pending => {
            tracing::info!(
                queue_id = %id,
                domain,
                recipient = %rcpt.address,
                status,
                remote_mta = ?failure.remote_mta,
                reason = %failure.reason,
                attempts = state.attempts,
                next_attempt_at = state.next_attempt_at,
                "deferred"
            )
        }
        Outcome::Temporary(failure) => tracing::info!(
            queue_id = %id,
            domain,
            recipient = %rcpt.address,
            status,
            remote_mta = ?failure.remote_mta,
            reason = %failure.reason,
            attempts = state.attempts,
            "expired: gave up"
        ),
        Outcome::Permanent(failure) => tracing::info!(
            queue_id = %id,
            domain,
            recipient = %rcpt.address,
            status,
            remote_mta = ?failure.remote_mta,
            reason = %failure.reason,
            attempts = state.attempts,
            "bounced"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(address: &str) -> AttemptRecipient {
        AttemptRecipient {
            address: address.into(),
            notify: None,
            orcpt: None,
        }
    }

    #[test]
    fn content_flags_follow_the_octets() {
        let ascii = b"Subject: x\r\n\r\nbody\r\n";
        let body8 = "Subject: x\r\n\r\ncaf\u{e9}\r\n".as_bytes();
        let header8 = "Subject: caf\u{e9}\r\n\r\nbody\r\n".as_bytes();
        let to = [rcpt("a@example.org")];
        assert_eq!(content_flags("s@example.test", &to, ascii), (false, false));
        assert_eq!(content_flags("s@example.test", &to, body8), (true, false));
        assert_eq!(content_flags("s@example.test", &to, header8), (true, true));
        assert_eq!(
            content_flags("j\u{f6}rg@example.test", &to, ascii),
            (false, true)
        );
        assert_eq!(content_flags("", &to, ascii), (false, false));
    }

    #[test]
    fn notices_map_to_report_actions() {
        assert_eq!(action_of(Notice::Delivered), Action::Delivered);
        assert_eq!(action_of(Notice::Delayed), Action::Delayed);
        assert_eq!(action_of(Notice::Failed), Action::Failed);
        assert_eq!(action_of(Notice::Expired), Action::Failed);
    }
}
