//! Getting back in (SPEC §1): a forgotten account password (ID-8), a forgotten login (ID-9),
//! identity-verification requests for administrators when neither works, and the recovery
//! username of an account whose hosted login address was deleted (ID-10).
//!
//! No answer here ever says whether an account exists: the same words come back for a login
//! that exists, one that does not, and one without the chosen channel. Codes are 8 random
//! digits, valid for [`CODE_LIFETIME_SECS`], good for one use and [`CODE_ATTEMPTS`] wrong
//! tries, stored as Argon2id hashes only, and at most [`CODES_PER_HOUR`] are sent per account
//! and hour. Wrong codes count as failed logins of the client address (the shared
//! [`FailureLimiter`]).
//!
//! ```text
//!  start_password_reset(login, channel) ─► code by email/SMS ─► finish_password_reset(code)
//!  remind_login(phone [+ recovery email], channel) ─► login by SMS/email
//!  request_verification(details) ─► queued ─► an administrator closes it
//!  address deleted ─► issue_recovery_usernames ─► sign-in with it ─► must choose a new login
//! ```
//!
//! Layout: `reset` (ID-8), `login` (ID-9), `verification` (the requests), `usernames` (ID-10),
//! `codes` (making, hashing and checking codes), `messages` (every text sent).
//!
//! Sending a code or a login can fail (no mail delivery, a gateway down): that is logged and
//! the answer stays the same, because an error only for existing accounts would reveal them.

mod cap;
mod codes;
mod login;
mod messages;
mod reset;
mod usernames;
mod verification;

use std::net::IpAddr;
use std::sync::Arc;

use postwerk_model::{Address, RecoveryUsername, UserAccount};
use postwerk_store::{Directory, IdentityStore, OutboxSms, Stores};

use crate::CoreError;
use crate::admin::Actor;
use crate::audit::{Audit, Change, Owners, Protocol};
use crate::auth::FailureLimiter;
use crate::identity::Identity;
use crate::notify::Notifier;
use cap::SendCap;

/// How long a reset code works.
pub const CODE_LIFETIME_SECS: i64 = 15 * 60;

/// Wrong tries before a code stops working.
pub const CODE_ATTEMPTS: u32 = 5;

/// Codes sent per account and hour, at most.
pub const CODES_PER_HOUR: u32 = 5;

/// Why a reset did not happen. One refusal for "no such login", "no code", "wrong code",
/// "expired" and "used up", so nothing is revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetRefusal {
    /// The code does not (or no longer) work.
    InvalidCode,
    /// Too many failures from this client address.
    Throttled,
}

/// What a person gives when asking an administrator to identify them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerificationInput {
    /// The login they remember.
    pub login: Option<String>,
    /// Their phone number.
    pub phone: Option<String>,
    /// An address to answer them at.
    pub email: Option<String>,
    /// Their name (required).
    pub name: String,
    /// What they say (required, at most 2,000 characters).
    pub message: String,
}

/// The recovery use cases.
#[derive(Clone)]
pub struct Recovery {
    directory: Arc<dyn Directory>,
    identity_store: Arc<dyn IdentityStore>,
    identity: Identity,
    notifier: Notifier,
    audit: Audit,
    limiter: Arc<FailureLimiter>,
    /// ID-9: login reminders per account, so nobody's phone is flooded with them.
    reminders: Arc<SendCap>,
    /// Verification requests per client address, so the administrators' queue is not flooded.
    requests: Arc<SendCap>,
}

/// Login reminders sent per account and hour, at most.
pub const REMINDERS_PER_HOUR: usize = 3;

/// Verification requests accepted per client address and hour, at most.
pub const REQUESTS_PER_HOUR: usize = 5;

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery").finish_non_exhaustive()
    }
}

impl Recovery {
    /// Over a store; codes and usernames go out through `notifier`; wrong codes counted by
    /// `limiter` (the one every login shares).
    pub fn new(
        stores: &Stores,
        identity: Identity,
        notifier: Notifier,
        audit: Audit,
        limiter: Arc<FailureLimiter>,
    ) -> Recovery {
        Recovery {
            directory: stores.directory.clone(),
            identity_store: stores.identity.clone(),
            identity,
            notifier,
            audit,
            limiter,
            reminders: Arc::new(SendCap::new(REMINDERS_PER_HOUR, HOUR)),
            requests: Arc::new(SendCap::new(REQUESTS_PER_HOUR, HOUR)),
        }
    }

    /// The account a person means by `login`: its login address, or its recovery username
    /// (ID-10). `None` for anything else, malformed input included.
    async fn account_by_login(&self, login: &str) -> Result<Option<UserAccount>, CoreError> {
        let login = login.trim();
        if let Ok(address) = login.parse::<Address>() {
            return Ok(self.directory.user_by_login(&address).await?);
        }
        match RecoveryUsername::parse(login) {
            Ok(username) => Ok(self
                .identity_store
                .user_by_recovery_username(&username)
                .await?),
            Err(_) => Ok(None),
        }
    }

    /// ID-12: the newest SMS of the outbox gateway (the operator only).
    pub async fn sms_outbox(&self, actor: Actor, limit: u32) -> Result<Vec<OutboxSms>, CoreError> {
        match actor {
            Actor::Operator => Ok(self
                .identity_store
                .outbox_sms(limit.clamp(1, 1_000))
                .await?),
            Actor::User(_) => Err(CoreError::Forbidden(
                "only the server's operator can read the SMS outbox".to_string(),
            )),
        }
    }

    /// Records a recovery step the account itself made (no secret in `detail`).
    fn record(&self, user: &UserAccount, event: &'static str, detail: String, ip: Option<IpAddr>) {
        self.audit.change(Change {
            protocol: Protocol::Recovery,
            ip,
            actor: user.login.to_string(),
            subject: user.login.to_string(),
            event,
            detail,
            owners: Owners {
                user: Some(user.id),
                address: None,
                org: None,
            },
        });
    }
}

/// Unix seconds now.
fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
