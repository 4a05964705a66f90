//! ID-11: the audit log. Every login attempt on every protocol (Manager, webmail, IMAP, POP3,
//! SMTP AUTH, the credential tester) and every security-relevant change (passwords, 2FA,
//! permissions, logins, recovery) is recorded, and is readable by the account it concerns and by
//! the administrators of its organization.
//!
//! Recording never slows a login down: entries go through a bounded channel to one task that
//! writes them in batches (one transaction, so one group commit, per batch). [`Audit::flush`]
//! waits until everything recorded before it is written (the CLI calls it before exiting; tests
//! before reading). A full channel drops the entry with a warning rather than blocking a
//! protocol session; the count of dropped entries is logged.
//!
//! Entries never hold a password, a code or message content: only who, what, when, from where
//! and the result.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use postwerk_model::{Address, AddressId, OrgId, Role, UserId};
use postwerk_store::{
    AuditCategory, AuditEntry, AuditFilter, Directory, IdentityStore, NewAuditEntry,
};
use tokio::sync::{mpsc, oneshot};

use crate::CoreError;
use crate::admin::Actor;

/// Where a login or change came from (the `protocol` column).
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The Manager's sign-in (REST API session or console).
    Manager,
    /// Webmail's sign-in.
    Webmail,
    /// A REST API call with a token.
    Api,
    /// IMAP LOGIN / AUTHENTICATE.
    Imap,
    /// POP3 USER/PASS / AUTH.
    Pop3,
    /// SMTP AUTH (submission).
    Smtp,
    /// The credential tester (ID-7).
    Tester,
    /// The operator's command line.
    Cli,
    /// The account recovery pages (ID-8, ID-9).
    Recovery,
}

impl Protocol {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Manager => "manager",
            Protocol::Webmail => "webmail",
            Protocol::Api => "api",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
            Protocol::Tester => "tester",
            Protocol::Cli => "cli",
            Protocol::Recovery => "recovery",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of a login attempt (the `event` column of a login entry).
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginResult {
    /// Logged in.
    Success,
    /// A known login or address, a wrong password.
    WrongPassword,
    /// No such login or address.
    Unknown,
    /// The address is disabled.
    Disabled,
    /// Refused by the failure limiter without a password check.
    Throttled,
    /// The password was right; a two-factor code is needed.
    TotpRequired,
    /// The two-factor code was wrong or replayed.
    TotpInvalid,
}

impl LoginResult {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::WrongPassword => "wrong_password",
            LoginResult::Unknown => "unknown",
            LoginResult::Disabled => "disabled",
            LoginResult::Throttled => "throttled",
            LoginResult::TotpRequired => "totp_required",
            LoginResult::TotpInvalid => "totp_invalid",
        }
    }
}

/// Whose an entry is: decides who may read it.
#[derive(Copy, Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    /// The account concerned.
    pub user: Option<UserId>,
    /// The mailbox concerned.
    pub address: Option<AddressId>,
    /// The organization concerned (a mailbox's service's organization).
    pub org: Option<OrgId>,
}

/// A login attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    /// Where.
    pub protocol: Protocol,
    /// The client.
    pub ip: Option<IpAddr>,
    /// The login or address presented (as typed, trimmed, at most 320 characters kept).
    pub subject: String,
    /// What came of it.
    pub result: LoginResult,
    /// Whose entry it is.
    pub owners: Owners,
}

/// A security-relevant change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where it was made.
    pub protocol: Protocol,
    /// The client, when there is one.
    pub ip: Option<IpAddr>,
    /// Who made it: `operator` or an account login.
    pub actor: String,
    /// What it concerns (an account login, an address), as text.
    pub subject: String,
    /// The change, snake_case: `account_password_changed`, `mailbox_password_changed`,
    /// `passwords_unified`, `unification_ended`, `totp_enabled`, `totp_disabled`,
    /// `totp_recovery_code_used`, `login_changed`, `contact_changed`, `access_granted`,
    /// `access_revoked`, `signature_chosen`, `role_changed`, `member_removed`,
    /// `recovery_code_sent`, `password_reset`, `login_reminder_sent`, `verification_requested`,
    /// `verification_closed`, `recovery_username_issued`, `session_revoked`,
    /// `token_created`, `token_revoked`, `send_as_granted`, `send_as_revoked` (SND-1).
    pub event: &'static str,
    /// More words; never a secret.
    pub detail: String,
    /// Whose entry it is.
    pub owners: Owners,
}

/// What a reader asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries of this account (login).
    pub user: Option<String>,
    /// Only entries of this mailbox (address).
    pub address: Option<String>,
    /// Only entries of this organization (name).
    pub org: Option<String>,
    /// Only logins or only changes.
    pub category: Option<AuditCategory>,
    /// Only entries older than this id (paging).
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
}

/// Entries waiting to be written before new ones are dropped (a stalled disk must not stall
/// logins, and the queue must not grow without bound).
const CHANNEL_CAPACITY: usize = 10_000;

/// Entries written per transaction at most.
const BATCH_SIZE: usize = 500;

/// A warning is logged for the first dropped entry and then once per this many.
const DROP_WARNING_EVERY: u64 = 1_000;

/// The longest subject kept, in characters (the longest address RFC 5321 allows is 320).
const SUBJECT_MAX_CHARS: usize = 320;

/// Entries read when the query gives no limit.
const DEFAULT_LIMIT: u32 = 100;

/// Entries read at most per query.
const MAX_LIMIT: u32 = 1_000;

/// The audit log: a cheap handle, cloned into every service that records.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Inner>,
}

/// Private state; the implementation decides its fields.
struct Inner {
    /// `None` for [`Audit::discard`].
    writer: Option<Writer>,
    /// Entries lost to a full channel since the start.
    dropped: AtomicU64,
}

/// The recording side of a started audit log.
struct Writer {
    store: Arc<dyn IdentityStore>,
    sender: mpsc::Sender<Message>,
}

/// What goes through the channel to the writing task.
enum Message {
    /// An entry to write.
    Entry(NewAuditEntry),
    /// Answer once everything received before is written ([`Audit::flush`]).
    Flush(oneshot::Sender<()>),
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audit").finish_non_exhaustive()
    }
}

impl Audit {
    /// An audit log writing to `store` through a background task (spawned on the current
    /// tokio runtime).
    pub fn start(store: Arc<dyn IdentityStore>) -> Audit {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(write_entries(Arc::clone(&store), receiver));
        Audit {
            inner: Arc::new(Inner {
                writer: Some(Writer { store, sender }),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// An audit log that records nothing (unit tests of other services).
    pub fn discard() -> Audit {
        Audit {
            inner: Arc::new(Inner {
                writer: None,
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// Records a login attempt; never waits.
    pub fn login(&self, attempt: LoginAttempt) {
        if self.inner.writer.is_some() {
            self.record(login_entry(&attempt, unix_now()));
        }
    }

    /// Records a change; never waits.
    pub fn change(&self, change: Change) {
        if self.inner.writer.is_some() {
            self.record(change_entry(&change, unix_now()));
        }
    }

    /// Waits until every entry recorded before this call is written.
    pub async fn flush(&self) {
        let Some(writer) = &self.inner.writer else {
            return;
        };
        let (done, written) = oneshot::channel();
        // Waiting for room is right here: the caller asked to wait. A closed channel (the
        // runtime is shutting down) has nothing left to wait for.
        if writer.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// The entries `actor` may read, narrowed by `query`, newest first. The operator reads
    /// everything; an account reads its own entries and those of the organizations it
    /// administers (owner or administrator). Asking for another account's, mailbox's or
    /// organization's entries without that right is `Forbidden`.
    pub async fn entries(
        &self,
        directory: &dyn Directory,
        actor: Actor,
        query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        let owners = visible_owners(directory, actor, &query).await?;
        let Some(writer) = &self.inner.writer else {
            return Ok(Vec::new());
        };
        let filter = AuditFilter {
            everything: owners.everything,
            users: owners.users,
            addresses: owners.addresses,
            orgs: owners.orgs,
            category: query.category,
            before: query.before,
            limit: query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        };
        Ok(writer.store.audit_entries(&filter).await?)
    }

    fn record(&self, entry: NewAuditEntry) {
        let Some(writer) = &self.inner.writer else {
            return;
        };
        if writer.sender.try_send(Message::Entry(entry)).is_err() {
            let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped % DROP_WARNING_EVERY == 1 {
                tracing::warn!(
                    dropped,
                    "audit log entries dropped: the writer cannot keep up with the logins"
                );
            }
        }
    }
}

/// The writing task: one batch per transaction, as many entries as are waiting (up to
/// [`BATCH_SIZE`]), so a burst of logins costs one group commit rather than one each.
async fn write_entries(store: Arc<dyn IdentityStore>, mut receiver: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    let mut flushes = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Entry(entry) => batch.push(entry),
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() < BATCH_SIZE {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let count = batch.len();
            if let Err(error) = store.append_audit(std::mem::take(&mut batch)).await {
                tracing::warn!(%error, count, "audit log entries could not be written");
            }
        }
        // Everything received before each flush marker has been handled now.
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// The owners a reader may see, after the query's narrowing.
#[derive(Debug, Default)]
struct VisibleOwners {
    everything: bool,
    users: Vec<UserId>,
    addresses: Vec<AddressId>,
    orgs: Vec<OrgId>,
}

/// The one owner a query narrows to, resolved to its id.
enum Narrowing {
    None,
    User(UserId),
    Address { id: AddressId, org: Option<OrgId> },
    Org(OrgId),
}

async fn visible_owners(
    directory: &dyn Directory,
    actor: Actor,
    query: &AuditQuery,
) -> Result<VisibleOwners, CoreError> {
    let narrowing = resolve_narrowing(directory, query).await?;
    let me = match actor {
        Actor::Operator => {
            return Ok(match narrowing {
                Narrowing::None => VisibleOwners {
                    everything: true,
                    ..VisibleOwners::default()
                },
                narrowed => narrowed_owners(narrowed),
            });
        }
        Actor::User(me) => me,
    };
    let admin_orgs: HashSet<OrgId> = directory
        .user_memberships(me)
        .await?
        .into_iter()
        .filter(|membership| matches!(membership.role, Role::Owner | Role::Admin))
        .map(|membership| membership.org)
        .collect();
    let allowed = match &narrowing {
        Narrowing::None => {
            return Ok(VisibleOwners {
                users: vec![me],
                orgs: admin_orgs.into_iter().collect(),
                ..VisibleOwners::default()
            });
        }
        Narrowing::User(user) => {
            *user == me || is_member_of_any(directory, *user, &admin_orgs).await?
        }
        Narrowing::Address { id, org } => {
            org.is_some_and(|org| admin_orgs.contains(&org))
                || directory
                    .address_access(*id)
                    .await?
                    .iter()
                    .any(|access| access.user == me)
        }
        Narrowing::Org(org) => admin_orgs.contains(org),
    };
    if !allowed {
        return Err(CoreError::Forbidden(
            forbidden_sentence(&narrowing).to_owned(),
        ));
    }
    Ok(narrowed_owners(narrowing))
}

async fn resolve_narrowing(
    directory: &dyn Directory,
    query: &AuditQuery,
) -> Result<Narrowing, CoreError> {
    match (&query.user, &query.address, &query.org) {
        (None, None, None) => Ok(Narrowing::None),
        (Some(login), None, None) => {
            let login = Address::parse(login.trim())?;
            let user = directory
                .user_by_login(&login)
                .await?
                .ok_or_else(|| CoreError::NotFound(format!("No account has the login {login}.")))?;
            Ok(Narrowing::User(user.id))
        }
        (None, Some(address), None) => {
            let address = Address::parse(address.trim())?;
            let hosted = directory
                .address_by_address(&address)
                .await?
                .ok_or_else(|| {
                    CoreError::NotFound(format!("The address {address} is not hosted here."))
                })?;
            let org = directory.service(hosted.service).await?.map(|s| s.org);
            Ok(Narrowing::Address { id: hosted.id, org })
        }
        (None, None, Some(name)) => {
            let org = directory.org_by_name(name.trim()).await?.ok_or_else(|| {
                CoreError::NotFound(format!("The organization {} does not exist.", name.trim()))
            })?;
            Ok(Narrowing::Org(org.id))
        }
        _ => Err(CoreError::Invalid(
            "Ask for the entries of one account, one address or one organization at a time."
                .to_owned(),
        )),
    }
}

fn narrowed_owners(narrowing: Narrowing) -> VisibleOwners {
    let mut owners = VisibleOwners::default();
    match narrowing {
        Narrowing::None => owners.everything = true,
        Narrowing::User(user) => owners.users.push(user),
        Narrowing::Address { id, .. } => owners.addresses.push(id),
        Narrowing::Org(org) => owners.orgs.push(org),
    }
    owners
}

async fn is_member_of_any(
    directory: &dyn Directory,
    user: UserId,
    orgs: &HashSet<OrgId>,
) -> Result<bool, CoreError> {
    if orgs.is_empty() {
        return Ok(false);
    }
    Ok(directory
        .user_memberships(user)
        .await?
        .iter()
        .any(|membership| orgs.contains(&membership.org)))
}

fn forbidden_sentence(narrowing: &Narrowing) -> &'static str {
    match narrowing {
        Narrowing::User(_) => {
            "You may read only your own audit log and that of members of organizations you administer."
        }
        Narrowing::Address { .. } => {
            "You may read the audit log of an address only if you use it or administer its organization."
        }
        Narrowing::Org(_) | Narrowing::None => {
            "You may read the audit log only of organizations you administer."
        }
    }
}

/// The stored form of an attempt (for the implementation and its tests).
pub(crate) fn login_entry(attempt: &LoginAttempt, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        at,
        category: AuditCategory::Login,
        protocol: attempt.protocol.as_str().to_owned(),
        event: attempt.result.as_str().to_owned(),
        remote_ip: attempt.ip.map(|ip| ip.to_string()),
        subject: clip_subject(&attempt.subject),
        actor: None,
        detail: String::new(),
        user: attempt.owners.user,
        address: attempt.owners.address,
        org: attempt.owners.org,
    }
}

/// The stored form of a change.
pub(crate) fn change_entry(change: &Change, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        at,
        category: AuditCategory::Change,
        protocol: change.protocol.as_str().to_owned(),
        event: change.event.to_owned(),
        remote_ip: change.ip.map(|ip| ip.to_string()),
        subject: clip_subject(&change.subject),
        actor: Some(change.actor.clone()),
        detail: change.detail.clone(),
        user: change.owners.user,
        address: change.owners.address,
        org: change.owners.org,
    }
}

/// What a client typed as a login is kept trimmed and short: it is attacker-controlled.
fn clip_subject(subject: &str) -> String {
    subject.trim().chars().take(SUBJECT_MAX_CHARS).collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_entry_keeps_who_where_and_the_result_and_clips_the_subject() {
        let attempt = LoginAttempt {
            protocol: Protocol::Imap,
            ip: Some(IpAddr::from([192, 0, 2, 7])),
            subject: format!("  {}  ", "x".repeat(400)),
            result: LoginResult::WrongPassword,
            owners: Owners::default(),
        };
        let entry = login_entry(&attempt, 42);
        assert_eq!(entry.category, AuditCategory::Login);
        assert_eq!(entry.protocol, "imap");
        assert_eq!(entry.event, "wrong_password");
        assert_eq!(entry.remote_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(entry.subject, "x".repeat(320));
        assert_eq!(entry.at, 42);
    }

    #[test]
    fn a_discarding_log_ignores_everything() {
        let audit = Audit::discard();
        audit.login(LoginAttempt {
            protocol: Protocol::Smtp,
            ip: None,
            subject: "a@example.com".to_owned(),
            result: LoginResult::Success,
            owners: Owners::default(),
        });
        audit.change(Change {
            protocol: Protocol::Cli,
            ip: None,
            actor: "operator".to_owned(),
            subject: "a@example.com".to_owned(),
            event: "mailbox_password_changed",
            detail: String::new(),
            owners: Owners::default(),
        });
    }
}
