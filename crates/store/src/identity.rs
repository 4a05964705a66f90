//! What identity keeps (SPEC §1, issue 9): two-factor enrolment and its recovery codes, account
//! contact details and login changes, password unification (ID-5), recovery codes (ID-8,
//! ID-9), identity-verification requests, the SMS outbox (ID-12) and the audit log (ID-11).
//!
//! Codes a person types are short, so the store only ever receives their Argon2id PHC strings
//! from `core`; it never sees a code.

use async_trait::async_trait;
use postwerk_model::{Address, AddressId, OrgId, RecoveryUsername, UserAccount, UserId};

use crate::StoreError;

/// Why a recovery code was sent.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecoveryPurpose {
    /// ID-8: the code lets the person choose a new account password.
    PasswordReset,
}

impl RecoveryPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryPurpose::PasswordReset => "password_reset",
        }
    }
}

/// How a notification reaches a person (ID-12).
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// To the account's recovery email address.
    Email,
    /// To the account's mobile phone.
    Sms,
}

impl Channel {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    /// Parses [`Channel::as_str`] names, in any case.
    pub fn parse(input: &str) -> Option<Channel> {
        match input.trim().to_ascii_lowercase().as_str() {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A recovery code to store (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecoveryCode {
    /// Whose.
    pub user: UserId,
    /// What for.
    pub purpose: RecoveryPurpose,
    /// Where it was sent.
    pub channel: Channel,
    /// Argon2id PHC string of the code.
    pub code_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the code no longer works.
    pub expires_at: i64,
}

/// A stored recovery code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCode {
    /// Row id.
    pub id: i64,
    /// Whose.
    pub user: UserId,
    /// What for.
    pub purpose: RecoveryPurpose,
    /// Where it was sent.
    pub channel: Channel,
    /// Argon2id PHC string of the code.
    pub code_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Wrong codes typed against it so far.
    pub attempts: u32,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

/// A person's request to be identified by an administrator (ID-8, ID-9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVerificationRequest {
    /// The login they remember, as typed.
    pub login: Option<String>,
    /// Their phone number, as typed.
    pub phone: Option<String>,
    /// An email address to answer them at, as typed.
    pub email: Option<String>,
    /// Their name.
    pub name: String,
    /// What they say.
    pub message: String,
    /// The account the details point at, when exactly one does.
    pub user: Option<UserId>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A stored verification request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRequest {
    /// Row id.
    pub id: i64,
    /// As in [`NewVerificationRequest`].
    pub login: Option<String>,
    /// As in [`NewVerificationRequest`].
    pub phone: Option<String>,
    /// As in [`NewVerificationRequest`].
    pub email: Option<String>,
    /// As in [`NewVerificationRequest`].
    pub name: String,
    /// As in [`NewVerificationRequest`].
    pub message: String,
    /// As in [`NewVerificationRequest`].
    pub user: Option<UserId>,
    /// Unix seconds.
    pub created_at: i64,
    /// When an administrator closed it.
    pub closed_at: Option<i64>,
    /// The administrator's note.
    pub resolution: Option<String>,
    /// Which account closed it (`None`: the operator, or still open).
    pub closed_by: Option<UserId>,
}

/// An SMS written to the outbox gateway (ID-12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSms {
    /// Row id.
    pub id: i64,
    /// The phone number, as the account has it.
    pub phone: String,
    /// The text.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Logins or changes (ID-11).
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditCategory {
    /// A login attempt, successful or not.
    Login,
    /// A security-relevant change.
    Change,
}

impl AuditCategory {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCategory::Login => "login",
            AuditCategory::Change => "change",
        }
    }
}

/// One audit entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Login or change.
    pub category: AuditCategory,
    /// `manager`, `webmail`, `api`, `imap`, `pop3`, `smtp`, `cli`.
    pub protocol: String,
    /// The result of a login, or the name of a change.
    pub event: String,
    /// The client's address, when there is a client.
    pub remote_ip: Option<String>,
    /// The identifier presented or concerned (a login, an address), as text.
    pub subject: String,
    /// Who made a change (`operator`, an account login).
    pub actor: Option<String>,
    /// More words, never a secret.
    pub detail: String,
    /// The account the entry belongs to.
    pub user: Option<UserId>,
    /// The mailbox the entry belongs to.
    pub address: Option<AddressId>,
    /// The organization the entry belongs to.
    pub org: Option<OrgId>,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Row id, increasing with time.
    pub id: i64,
    /// The entry as written.
    pub entry: NewAuditEntry,
}

/// Which audit entries to read: those matching any of the listed owners (or all of them when
/// `everything`), newest first, with ids below `before` when given, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Every entry (the operator).
    pub everything: bool,
    /// Entries of these accounts.
    pub users: Vec<UserId>,
    /// Entries of these mailboxes.
    pub addresses: Vec<AddressId>,
    /// Entries of these organizations, and of every account that is a member of one of them.
    pub orgs: Vec<OrgId>,
    /// Only this category.
    pub category: Option<AuditCategory>,
    /// Only ids below this one (paging backwards).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Identity records.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    // ---- Two-factor authentication (ID-1)

    /// Stores the secret of an enrolment in progress (replacing any earlier one); `NotFound`
    /// for an unknown account.
    async fn set_totp_pending(&self, user: UserId, secret: &str) -> Result<(), StoreError>;

    /// The secret of the enrolment in progress.
    async fn totp_pending(&self, user: UserId) -> Result<Option<String>, StoreError>;

    /// In one transaction: `totp_secret` := `secret`, the pending secret cleared, the account's
    /// 2FA recovery codes replaced by `recovery_code_hashes`. `None` turns 2FA off and deletes
    /// the recovery codes.
    async fn set_totp(
        &self,
        user: UserId,
        secret: Option<&str>,
        recovery_code_hashes: &[String],
    ) -> Result<(), StoreError>;

    /// The account's unused 2FA recovery codes: (row id, Argon2id hash).
    async fn totp_recovery_codes(&self, user: UserId) -> Result<Vec<(i64, String)>, StoreError>;

    /// Marks a 2FA recovery code used; false if it was used already (a race of two sign-ins).
    async fn use_totp_recovery_code(&self, id: i64, at: i64) -> Result<bool, StoreError>;

    // ---- Account details (ID-1, ID-9, ID-10)

    /// Sets the phone number and recovery email (each `None` to remove it).
    async fn set_user_contact(
        &self,
        user: UserId,
        phone: Option<&str>,
        recovery_email: Option<&Address>,
    ) -> Result<(), StoreError>;

    /// Changes the account's login, in one transaction: `Conflict` when another account has
    /// it; clears the recovery username and `must_choose_login` (ID-10); ends the account's
    /// unification (ID-5: the login no longer equals the mailbox). Does not change the epoch.
    async fn set_user_login(&self, user: UserId, login: &Address) -> Result<(), StoreError>;

    /// Accounts whose phone number, reduced to digits (and a leading `+`), equals `phone`'s.
    async fn users_by_phone(&self, phone: &str) -> Result<Vec<UserAccount>, StoreError>;

    /// The account with this recovery username (ID-10).
    async fn user_by_recovery_username(
        &self,
        username: &RecoveryUsername,
    ) -> Result<Option<UserAccount>, StoreError>;

    // ---- Unification (ID-5)

    /// Marks the access of `user` to `address` unified or not; `NotFound` without such access.
    /// Marking one unified clears any other unification of the same account or address.
    async fn set_unified(
        &self,
        user: UserId,
        address: AddressId,
        unified: bool,
    ) -> Result<(), StoreError>;

    /// The mailbox the account's password is unified with, if any.
    async fn unified_address(&self, user: UserId) -> Result<Option<AddressId>, StoreError>;

    /// The account whose password is unified with the mailbox's, if any.
    async fn unified_user(&self, address: AddressId) -> Result<Option<UserId>, StoreError>;

    /// In one transaction: both the account's and the mailbox's password hash set to
    /// `password_hash`, both credential epochs bumped. Returns (account epoch, mailbox epoch).
    async fn set_unified_password(
        &self,
        user: UserId,
        address: AddressId,
        password_hash: &str,
    ) -> Result<(u32, u32), StoreError>;

    // ---- Recovery codes (ID-8, ID-9)

    /// Stores a code; the account's earlier unused codes of the same purpose stop working (they
    /// are expired, not deleted, so `recovery_codes_sent_since` still counts them).
    async fn create_recovery_code(&self, new: NewRecoveryCode) -> Result<RecoveryCode, StoreError>;

    /// The account's newest code of this purpose that is unused and not expired at `now`.
    async fn live_recovery_code(
        &self,
        user: UserId,
        purpose: RecoveryPurpose,
        now: i64,
    ) -> Result<Option<RecoveryCode>, StoreError>;

    /// How many codes of this purpose were made for the account at or after `since` (a cap on
    /// how often codes are sent, so nobody is flooded with them).
    async fn recovery_codes_sent_since(
        &self,
        user: UserId,
        purpose: RecoveryPurpose,
        since: i64,
    ) -> Result<u32, StoreError>;

    /// Counts one wrong attempt against a code; returns the new count.
    async fn count_recovery_attempt(&self, id: i64) -> Result<u32, StoreError>;

    /// Marks a code used; false if it was used already.
    async fn use_recovery_code(&self, id: i64, at: i64) -> Result<bool, StoreError>;

    // ---- Verification requests (ID-8, ID-9)

    /// Stores a request.
    async fn create_verification_request(
        &self,
        new: NewVerificationRequest,
    ) -> Result<VerificationRequest, StoreError>;

    /// Requests, newest first; only open ones when `open_only`.
    async fn verification_requests(
        &self,
        open_only: bool,
    ) -> Result<Vec<VerificationRequest>, StoreError>;

    /// One request.
    async fn verification_request(
        &self,
        id: i64,
    ) -> Result<Option<VerificationRequest>, StoreError>;

    /// Closes a request with a note; `NotFound` for an unknown id, `Conflict` if closed.
    async fn close_verification_request(
        &self,
        id: i64,
        at: i64,
        resolution: &str,
        by: Option<UserId>,
    ) -> Result<(), StoreError>;

    // ---- SMS outbox (ID-12)

    /// Writes an SMS to the outbox.
    async fn push_sms(&self, phone: &str, body: &str, at: i64) -> Result<OutboxSms, StoreError>;

    /// The newest `limit` outbox messages, newest first.
    async fn outbox_sms(&self, limit: u32) -> Result<Vec<OutboxSms>, StoreError>;

    // ---- Audit log (ID-11)

    /// Appends entries (one transaction for the batch). An entry with a mailbox and no
    /// organization is given the organization of the mailbox's service.
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError>;

    /// Entries per the filter, newest first.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;

    /// Deletes entries older than `before` (Unix seconds); returns how many.
    async fn prune_audit(&self, before: i64) -> Result<u64, StoreError>;
}
