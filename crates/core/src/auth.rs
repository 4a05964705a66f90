//! Mailbox login for the mail protocols (SMTP submission, IMAP, POP3), ID-2 and ID-6.
//!
//! An email client logs in with the full address as username and that address's own mailbox
//! password. A user account's password never opens a mail protocol session (ID-1, ID-2): this
//! module looks up hosted addresses only. A successful login returns the address's credential
//! epoch; the protocol sessions compare it with the stored one between commands
//! ([`MailboxAuth::still_valid`]) and end the session when a password change bumped it (ID-6).
//! The check reads the directory every time: the admin CLI writes the same database from its
//! own process and announces nothing to the server, so only a read is exact. A session waiting
//! without commands (IMAP IDLE) keeps a [`CredentialWatch`] to hear of in-process changes at
//! once.
//!
//! Failed logins are counted per client IP address ([`FailureLimiter`]): after a few, each
//! answer is slowed down; after more, the address is refused for a while without a password
//! check at all. The limiter is shared by every protocol, so a guesser cannot move from SMTP to
//! IMAP to get fresh attempts.
//!
//! ```text
//!  login(protocol, ip, user, password)      test_credentials(ip, address, password)
//!    └──────────────┬──────────────────────────────┘
//!    ├─ limiter: locked out? ─────────────────────────► Throttled
//!    ├─ parse user as an address ─ no ─┐
//!    ├─ hosted address with a password? ─ no ─┴─► failure counted ─► Unknown  ┐ Invalid
//!    ├─ cache hit or Argon2id verify ─ no ──────► failure counted ─► WrongPassword ┘ (+ delay)
//!    ├─ disabled ───────────────────────────────────► Disabled
//!    └─ Accepted(Login { mailbox, address, epoch })
//! ```
//!
//! Every attempt, whatever its result, is recorded in the audit log (ID-11) with the protocol
//! it came through; an attempt on a known address belongs to that mailbox and to its service's
//! organization, so the mailbox's users and the organization's administrators can read it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postwerk_model::{Address, AddressId};
use postwerk_store::{Directory, Events};
use rand::RngExt;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::CoreError;
use crate::audit::{Audit, LoginAttempt, LoginResult, Owners, Protocol};
use crate::password;

/// Entries kept in the verified-credential cache before it is emptied and refilled.
const CACHE_CAPACITY: usize = 4096;

/// Client addresses tracked by the failure limiter before the stalest are forgotten.
const TRACKED_CLIENTS: usize = 65_536;

/// An authenticated mailbox: what a session keeps after a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The mailbox (hosted address) logged into.
    pub mailbox: AddressId,
    /// Its address, as stored.
    pub address: Address,
    /// The credential epoch at login; a different stored epoch means the password changed
    /// since, and the session must end (ID-6).
    pub epoch: u32,
}

/// The answer to a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The credentials are right and the address may log in.
    Accepted(Login),
    /// Unknown address, an address nobody logs into, or a wrong password: the client is told
    /// nothing more, so addresses cannot be enumerated. `delay` is how long the protocol should
    /// wait before answering (the slow-down of repeated failures).
    Invalid {
        /// Wait this long before answering.
        delay: Duration,
    },
    /// The password is right but the address is disabled (ID-7 tells these apart; the
    /// password was verified first, so this reveals nothing to a guesser).
    Disabled,
    /// Too many failures from this client address: refused without checking the password.
    Throttled,
}

/// ID-7: what the credential tester answers for an address/password pair.
#[derive(Copy, Debug, Clone, PartialEq, Eq)]
pub enum CredentialTest {
    /// An email client would log in with it.
    Valid,
    /// The address takes logins, the password is not its password.
    WrongPassword,
    /// No hosted address that takes logins has this name.
    UnknownAddress,
    /// The password is right but the address is disabled.
    Disabled,
    /// Too many failures from the tester's client address: nothing was checked.
    Throttled,
}

/// What a login attempt came to, before the protocol or the tester words it.
#[derive(Debug)]
enum Attempt {
    Accepted(Login),
    /// A hosted address that takes logins, a wrong password.
    WrongPassword {
        delay: Duration,
    },
    /// No such address, or one nobody logs into.
    Unknown {
        delay: Duration,
    },
    Disabled,
    Throttled,
}

impl Attempt {
    fn result(&self) -> LoginResult {
        match self {
            Attempt::Accepted(_) => LoginResult::Success,
            Attempt::WrongPassword { .. } => LoginResult::WrongPassword,
            Attempt::Unknown { .. } => LoginResult::Unknown,
            Attempt::Disabled => LoginResult::Disabled,
            Attempt::Throttled => LoginResult::Throttled,
        }
    }
}

/// The limits of the failure limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Failures from one client address answered at normal speed; later ones are delayed.
    pub free_failures: u32,
    /// Delay added per failure beyond the free ones, up to `max_delay`.
    pub delay_step: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Failures after which the client address is refused for `lockout`.
    pub lockout_after: u32,
    /// How long a locked-out address is refused; also how long failures are remembered.
    pub lockout: Duration,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            free_failures: 3,
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            lockout_after: 10,
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// What the limiter says about a client address before a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the credentials.
    Allow,
    /// Refuse without checking: too many recent failures.
    Refuse,
}

#[derive(Debug, Clone, Copy)]
struct FailureRecord {
    count: u32,
    last: Instant,
}

/// Counts authentication failures per client IP address (IMAP and POP3 share it with SMTP).
///
/// Time is passed in, so tests need no clock. Failures older than `policy.lockout` are
/// forgotten; a success forgets the address's failures.
#[derive(Debug)]
pub struct FailureLimiter {
    policy: FailurePolicy,
    clients: Mutex<HashMap<IpAddr, FailureRecord>>,
}

impl FailureLimiter {
    /// A limiter with these limits.
    pub fn new(policy: FailurePolicy) -> FailureLimiter {
        FailureLimiter {
            policy,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The limits in force.
    pub fn policy(&self) -> FailurePolicy {
        self.policy
    }

    /// May `ip` try to log in at `now`?
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Admission {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        match clients.get(&ip) {
            Some(record)
                if record.count >= self.policy.lockout_after
                    && now.saturating_duration_since(record.last) < self.policy.lockout =>
            {
                Admission::Refuse
            }
            _ => Admission::Allow,
        }
    }

    /// Records a failure of `ip` at `now`; returns how long to wait before answering.
    pub fn fail(&self, ip: IpAddr, now: Instant) -> Duration {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.len() >= TRACKED_CLIENTS && !clients.contains_key(&ip) {
            let lockout = self.policy.lockout;
            clients.retain(|_, record| now.saturating_duration_since(record.last) < lockout);
            if clients.len() >= TRACKED_CLIENTS {
                // Under a flood of distinct addresses, forget everything rather than grow.
                clients.clear();
            }
        }
        let record = clients.entry(ip).or_insert(FailureRecord {
            count: 0,
            last: now,
        });
        if now.saturating_duration_since(record.last) >= self.policy.lockout {
            record.count = 0;
        }
        record.count = record.count.saturating_add(1);
        record.last = now;
        let beyond = record.count.saturating_sub(self.policy.free_failures);
        self.policy
            .delay_step
            .saturating_mul(beyond)
            .min(self.policy.max_delay)
    }

    /// Forgets the failures of `ip` after a successful login.
    pub fn succeed(&self, ip: IpAddr) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients.remove(&ip);
    }
}

/// A session's ear for the store's announcements of its own mailbox's credential changes
/// (ID-6), made by [`MailboxAuth::watch`] right after a successful login: a session that waits
/// without commands (IMAP IDLE) checks its login as soon as one comes.
#[derive(Debug)]
pub struct CredentialWatch {
    mailbox: AddressId,
    /// The store's credential announcements; `None` when it makes none (or stopped).
    changes: Option<broadcast::Receiver<AddressId>>,
}

impl CredentialWatch {
    /// Waits until the store announces a credential change of this mailbox, or that some
    /// announcements were lost (ours may have been among them). Never returns when the store
    /// makes no announcements: a caller that waits long (IMAP IDLE) checks periodically
    /// besides. Cancel-safe, so it can race input in a `select!`.
    pub async fn changed(&mut self) {
        loop {
            let Some(changes) = &mut self.changes else {
                return std::future::pending().await;
            };
            match changes.recv().await {
                Ok(mailbox) if mailbox != self.mailbox => {}
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => {
                    self.changes = None;
                    return;
                }
            }
        }
    }
}

/// Mailbox login (ID-2) with the shared failure limiter.
///
/// Argon2id costs tens of milliseconds by design; clients that reconnect every few minutes
/// would pay it each time. A successful verification is remembered as a SHA-256 of a per-process
/// secret, the stored hash and the password, so the next login with the same password against
/// the same stored hash skips Argon2. A password change stores a new hash, so old entries can
/// never match again; nothing in the cache reveals a password.
pub struct MailboxAuth {
    directory: Arc<dyn Directory>,
    limiter: Arc<FailureLimiter>,
    secret: [u8; 32],
    verified: Mutex<HashSet<[u8; 32]>>,
    /// Every attempt is recorded here (ID-11).
    audit: Audit,
    /// The store's announcements of credential changes (ID-6), for sessions waiting in IDLE.
    events: Option<Events>,
}

impl std::fmt::Debug for MailboxAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxAuth")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl MailboxAuth {
    /// Login against `directory`, counting failures in `limiter`.
    pub fn new(directory: Arc<dyn Directory>, limiter: Arc<FailureLimiter>) -> MailboxAuth {
        let mut secret = [0u8; 32];
        rand::rng().fill(&mut secret);
        MailboxAuth {
            directory,
            limiter,
            secret,
            verified: Mutex::new(HashSet::new()),
            audit: Audit::discard(),
            events: None,
        }
    }

    /// Lets sessions learn of credential changes as they are committed (ID-6): an IMAP session
    /// in IDLE ends at once instead of at its next periodic check.
    pub fn with_credential_events(mut self, events: Events) -> MailboxAuth {
        self.events = Some(events);
        self
    }

    /// The mailboxes whose credentials change from now on, when the store announces them
    /// ([`MailboxAuth::with_credential_events`]); `None` leaves a session to its periodic
    /// check.
    pub fn credential_changes(&self) -> Option<broadcast::Receiver<AddressId>> {
        self.events.as_ref().map(Events::subscribe_credentials)
    }

    /// Records every login attempt in `audit` (ID-11).
    pub fn with_audit(mut self, audit: Audit) -> MailboxAuth {
        self.audit = audit;
        self
    }

    /// The failure limiter (shared with the other protocols).
    pub fn limiter(&self) -> &Arc<FailureLimiter> {
        &self.limiter
    }

    /// Checks `username` (the full address) and `password` for a client at `ip`, and records
    /// the attempt in the audit log under `protocol` (ID-11).
    pub async fn login(
        &self,
        protocol: Protocol,
        ip: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<LoginOutcome, CoreError> {
        Ok(
            match self.attempt(protocol, ip, username, password).await? {
                Attempt::Accepted(login) => LoginOutcome::Accepted(login),
                Attempt::WrongPassword { delay } | Attempt::Unknown { delay } => {
                    LoginOutcome::Invalid { delay }
                }
                Attempt::Disabled => LoginOutcome::Disabled,
                Attempt::Throttled => LoginOutcome::Throttled,
            },
        )
    }

    /// ID-7: tests `address`/`password` exactly as an IMAP login would (same lookup, same
    /// verification, same failure counting for `ip`), but tells the four outcomes apart.
    /// Recorded in the audit log as a `tester` login attempt.
    pub async fn test_credentials(
        &self,
        ip: IpAddr,
        address: &str,
        password: &str,
    ) -> Result<CredentialTest, CoreError> {
        Ok(
            match self
                .attempt(Protocol::Tester, ip, address, password)
                .await?
            {
                Attempt::Accepted(_) => CredentialTest::Valid,
                Attempt::WrongPassword { .. } => CredentialTest::WrongPassword,
                Attempt::Unknown { .. } => CredentialTest::UnknownAddress,
                Attempt::Disabled => CredentialTest::Disabled,
                Attempt::Throttled => CredentialTest::Throttled,
            },
        )
    }

    /// The one login path shared by the mail protocols and the tester: limiter, lookup,
    /// verification, failure counting and the audit entry.
    async fn attempt(
        &self,
        protocol: Protocol,
        ip: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<Attempt, CoreError> {
        let mut owners = Owners::default();
        let attempt = self.check(ip, username, password, &mut owners).await?;
        self.audit.login(LoginAttempt {
            protocol,
            ip: Some(ip),
            subject: username.to_owned(),
            result: attempt.result(),
            owners,
        });
        Ok(attempt)
    }

    /// The check itself; fills `owners` once the address is known so the entry is readable by
    /// the mailbox's users and its organization's administrators.
    async fn check(
        &self,
        ip: IpAddr,
        username: &str,
        password: &str,
        owners: &mut Owners,
    ) -> Result<Attempt, CoreError> {
        if self.limiter.admit(ip, Instant::now()) == Admission::Refuse {
            return Ok(Attempt::Throttled);
        }
        let hosted = match Address::parse(username.trim()) {
            Ok(address) => self.directory.address_by_address(&address).await?,
            Err(_) => None,
        };
        let Some(hosted) = hosted else {
            return Ok(Attempt::Unknown {
                delay: self.count_failure(ip),
            });
        };
        // The store adds the address's organization when it writes the entry.
        owners.address = Some(hosted.id);
        // Addresses without a password (redirect-only) take no login; neither does any
        // user account, which this lookup never sees (ID-2).
        let Some(stored) = hosted.password_hash.as_deref() else {
            return Ok(Attempt::Unknown {
                delay: self.count_failure(ip),
            });
        };
        if !self.verify(password, stored).await {
            return Ok(Attempt::WrongPassword {
                delay: self.count_failure(ip),
            });
        }
        self.limiter.succeed(ip);
        if !hosted.enabled {
            return Ok(Attempt::Disabled);
        }
        Ok(Attempt::Accepted(Login {
            mailbox: hosted.id,
            address: hosted.address,
            epoch: hosted.credential_epoch,
        }))
    }

    /// Whether a session opened with `login` may go on: the address still exists, is enabled,
    /// and its password has not changed since (ID-6).
    pub async fn still_valid(&self, login: &Login) -> Result<bool, CoreError> {
        let current = self.directory.address(login.mailbox).await?;
        Ok(current.is_some_and(|h| h.enabled && h.credential_epoch == login.epoch))
    }

    /// Starts listening to `login`'s credential announcements for its session.
    pub fn watch(&self, login: &Login) -> CredentialWatch {
        CredentialWatch {
            mailbox: login.mailbox,
            changes: self.credential_changes(),
        }
    }

    fn count_failure(&self, ip: IpAddr) -> Duration {
        self.limiter.fail(ip, Instant::now())
    }

    async fn verify(&self, password: &str, stored: &str) -> bool {
        let key = self.cache_key(password, stored);
        if self.cache().contains(&key) {
            return true;
        }
        let (password_owned, stored_owned) = (
            zeroize::Zeroizing::new(password.to_owned()),
            stored.to_owned(),
        );
        // Argon2id is CPU-bound for tens of milliseconds: keep it off the async workers.
        let verified =
            password::off_thread(move || password::verify(&password_owned, &stored_owned))
                .await
                .unwrap_or(false);
        if verified {
            let mut cache = self.cache();
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key);
        }
        verified
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cache_key(&self, password: &str, stored: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update((stored.len() as u64).to_be_bytes());
        hasher.update(stored.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn policy() -> FailurePolicy {
        FailurePolicy {
            free_failures: 2,
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(3),
            lockout_after: 5,
            lockout: Duration::from_secs(600),
        }
    }

    #[test]
    fn failures_are_slowed_down_then_refused_per_client_address() {
        let limiter = FailureLimiter::new(policy());
        let start = Instant::now();
        let delays: Vec<u64> = (0..5)
            .map(|_| limiter.fail(ip(1), start).as_secs())
            .collect();
        assert_eq!(delays, [0, 0, 1, 2, 3]);
        assert_eq!(limiter.admit(ip(1), start), Admission::Refuse);
        assert_eq!(limiter.admit(ip(2), start), Admission::Allow, "per address");
        let later = start + Duration::from_secs(601);
        assert_eq!(
            limiter.admit(ip(1), later),
            Admission::Allow,
            "lockout ends"
        );
        assert_eq!(
            limiter.fail(ip(1), later),
            Duration::ZERO,
            "old failures forgotten"
        );
    }

    #[tokio::test]
    async fn id_6_a_watch_wakes_for_its_own_mailbox_and_for_lost_announcements() {
        let (announce, changes) = broadcast::channel(2);
        let mut watch = CredentialWatch {
            mailbox: AddressId(7),
            changes: Some(changes),
        };
        announce.send(AddressId(8)).expect("a receiver");
        announce.send(AddressId(7)).expect("a receiver");
        // Another mailbox's change is passed over; its own wakes the watch.
        watch.changed().await;
        for other in 10..15 {
            announce.send(AddressId(other)).expect("a receiver");
        }
        // Lost announcements may have held its own.
        watch.changed().await;
        drop(announce);
        watch.changed().await;
        assert!(watch.changes.is_none(), "the store stopped announcing");
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let limiter = FailureLimiter::new(policy());
        let now = Instant::now();
        for _ in 0..4 {
            limiter.fail(ip(3), now);
        }
        limiter.succeed(ip(3));
        assert_eq!(limiter.fail(ip(3), now), Duration::ZERO);
    }
}
