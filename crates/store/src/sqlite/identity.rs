//! The SQLite side of [`crate::IdentityStore`] (migration 0011): two-factor enrolment, account
//! contact details and logins, password unification (ID-5), recovery codes, verification
//! requests, the SMS outbox and the audit log.
//!
//! Like the directory, every write runs inside the writer's group transaction, so a check made
//! against live rows (a login still free, an access row still there) holds until the commit.

use async_trait::async_trait;
use postwerk_model::{Address, AddressId, OrgId, RecoveryUsername, UserAccount, UserId, phone_key};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::directory::{fetch_user, no_address, no_user, user_from_row, user_select};
use super::writer::Written;
use super::{SqliteStore, conflict_or, int};
use crate::error::Context;
use crate::{
    AuditCategory, AuditEntry, AuditFilter, Channel, IdentityStore, NewAuditEntry, NewRecoveryCode,
    NewVerificationRequest, OutboxSms, RecoveryCode, RecoveryPurpose, StoreError,
    VerificationRequest,
};

// ---- Column lists, shared by every query that builds the same entity.

macro_rules! recovery_code_select {
    () => {
        "SELECT id, user_id, purpose, channel, code_hash, created_at, expires_at, attempts, \
         used_at FROM recovery_codes"
    };
}

macro_rules! verification_select {
    () => {
        "SELECT id, login, phone, email, name, message, user_id, created_at, closed_at, \
         resolution, closed_by FROM verification_requests"
    };
}

const AUDIT_SELECT: &str = "SELECT id, at, category, protocol, event, remote_ip, subject, actor, \
     detail, user_id, address_id, org_id FROM audit_log";

// ---- Stored names of the enumerations (the same words as `as_str`).

fn purpose_from_name(name: &str, what: &'static str) -> Result<RecoveryPurpose, StoreError> {
    match name {
        "password_reset" => Ok(RecoveryPurpose::PasswordReset),
        other => Err(StoreError::backend(
            what,
            format!("{other:?} is not a recovery purpose"),
        )),
    }
}

fn category_from_name(name: &str, what: &'static str) -> Result<AuditCategory, StoreError> {
    match name {
        "login" => Ok(AuditCategory::Login),
        "change" => Ok(AuditCategory::Change),
        other => Err(StoreError::backend(
            what,
            format!("{other:?} is not an audit category"),
        )),
    }
}

// ---- Rows to values.

fn recovery_code_from_row(row: &SqliteRow) -> Result<RecoveryCode, StoreError> {
    const WHAT: &str = "reading a recovery code";
    let channel: &str = row.try_get("channel").ctx(WHAT)?;
    Ok(RecoveryCode {
        id: row.try_get("id").ctx(WHAT)?,
        user: UserId(row.try_get("user_id").ctx(WHAT)?),
        purpose: purpose_from_name(row.try_get("purpose").ctx(WHAT)?, WHAT)?,
        channel: Channel::parse(channel)
            .ok_or_else(|| StoreError::backend(WHAT, format!("{channel:?} is not a channel")))?,
        code_hash: row.try_get("code_hash").ctx(WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
        expires_at: row.try_get("expires_at").ctx(WHAT)?,
        attempts: int(row.try_get("attempts").ctx(WHAT)?, WHAT)?,
        used_at: row.try_get("used_at").ctx(WHAT)?,
    })
}

fn verification_from_row(row: &SqliteRow) -> Result<VerificationRequest, StoreError> {
    const WHAT: &str = "reading a verification request";
    let user: Option<i64> = row.try_get("user_id").ctx(WHAT)?;
    let closed_by: Option<i64> = row.try_get("closed_by").ctx(WHAT)?;
    Ok(VerificationRequest {
        id: row.try_get("id").ctx(WHAT)?,
        login: row.try_get("login").ctx(WHAT)?,
        phone: row.try_get("phone").ctx(WHAT)?,
        email: row.try_get("email").ctx(WHAT)?,
        name: row.try_get("name").ctx(WHAT)?,
        message: row.try_get("message").ctx(WHAT)?,
        user: user.map(UserId),
        created_at: row.try_get("created_at").ctx(WHAT)?,
        closed_at: row.try_get("closed_at").ctx(WHAT)?,
        resolution: row.try_get("resolution").ctx(WHAT)?,
        closed_by: closed_by.map(UserId),
    })
}

fn sms_from_row(row: &SqliteRow) -> Result<OutboxSms, StoreError> {
    const WHAT: &str = "reading the SMS outbox";
    Ok(OutboxSms {
        id: row.try_get("id").ctx(WHAT)?,
        phone: row.try_get("phone").ctx(WHAT)?,
        body: row.try_get("body").ctx(WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
    })
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditEntry, StoreError> {
    const WHAT: &str = "reading the audit log";
    let user: Option<i64> = row.try_get("user_id").ctx(WHAT)?;
    let address: Option<i64> = row.try_get("address_id").ctx(WHAT)?;
    let org: Option<i64> = row.try_get("org_id").ctx(WHAT)?;
    Ok(AuditEntry {
        id: row.try_get("id").ctx(WHAT)?,
        entry: NewAuditEntry {
            at: row.try_get("at").ctx(WHAT)?,
            category: category_from_name(row.try_get("category").ctx(WHAT)?, WHAT)?,
            protocol: row.try_get("protocol").ctx(WHAT)?,
            event: row.try_get("event").ctx(WHAT)?,
            remote_ip: row.try_get("remote_ip").ctx(WHAT)?,
            subject: row.try_get("subject").ctx(WHAT)?,
            actor: row.try_get("actor").ctx(WHAT)?,
            detail: row.try_get("detail").ctx(WHAT)?,
            user: user.map(UserId),
            address: address.map(AddressId),
            org: org.map(OrgId),
        },
    })
}

/// An unknown recovery code id: the caller holds an id the store never gave, or one whose
/// account was deleted.
fn no_recovery_code(id: i64) -> StoreError {
    StoreError::NotFound(format!("there is no recovery code with id {id}"))
}

fn no_access(user: UserId, address: AddressId) -> StoreError {
    StoreError::NotFound(format!(
        "the user account {user} has no access to the address {address}"
    ))
}

/// `NotFound` unless the account exists (the foreign keys would refuse the row anyway, but as
/// a backend failure rather than a sentence naming the account).
async fn require_user(conn: &mut SqliteConnection, user: UserId) -> Result<(), StoreError> {
    fetch_user(&mut *conn, user)
        .await?
        .ok_or_else(|| no_user(user))
        .map(|_| ())
}

// ---- Writes: each runs inside the writer's transaction.

async fn set_totp_pending_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    secret: String,
) -> Result<Written<()>, StoreError> {
    let updated = sqlx::query("UPDATE users SET totp_pending = ?2 WHERE id = ?1")
        .bind(user.0)
        .bind(&secret)
        .execute(&mut *conn)
        .await
        .ctx("starting a two-factor enrolment")?;
    if updated.rows_affected() == 0 {
        return Err(no_user(user));
    }
    Ok(Written::value(()))
}

async fn set_totp_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    secret: Option<String>,
    recovery_code_hashes: Vec<String>,
) -> Result<Written<()>, StoreError> {
    const WHAT: &str = "turning two-factor authentication on or off";
    let updated =
        sqlx::query("UPDATE users SET totp_secret = ?2, totp_pending = NULL WHERE id = ?1")
            .bind(user.0)
            .bind(&secret)
            .execute(&mut *conn)
            .await
            .ctx(WHAT)?;
    if updated.rows_affected() == 0 {
        return Err(no_user(user));
    }
    // The codes shown at an earlier enrolment stop working with it.
    sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = ?1")
        .bind(user.0)
        .execute(&mut *conn)
        .await
        .ctx(WHAT)?;
    if secret.is_some() {
        for hash in &recovery_code_hashes {
            sqlx::query("INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES (?1, ?2)")
                .bind(user.0)
                .bind(hash)
                .execute(&mut *conn)
                .await
                .ctx(WHAT)?;
        }
    }
    Ok(Written::value(()))
}

async fn use_totp_recovery_code_tx(
    conn: &mut SqliteConnection,
    id: i64,
    at: i64,
) -> Result<Written<bool>, StoreError> {
    // The condition on `used_at` makes the check and the mark one statement: of two sign-ins
    // racing with the same code, one changes the row and the other sees it used.
    let updated = sqlx::query(
        "UPDATE totp_recovery_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .execute(&mut *conn)
    .await
    .ctx("using a two-factor recovery code")?;
    Ok(Written::value(updated.rows_affected() > 0))
}

async fn set_user_contact_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    phone: Option<String>,
    recovery_email: Option<String>,
) -> Result<Written<()>, StoreError> {
    let key = phone.as_deref().and_then(phone_key);
    let updated = sqlx::query(
        "UPDATE users SET phone = ?2, phone_key = ?3, recovery_email = ?4 WHERE id = ?1",
    )
    .bind(user.0)
    .bind(&phone)
    .bind(&key)
    .bind(&recovery_email)
    .execute(&mut *conn)
    .await
    .ctx("changing the contact details of an account")?;
    if updated.rows_affected() == 0 {
        return Err(no_user(user));
    }
    Ok(Written::value(()))
}

async fn set_user_login_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    login: Address,
) -> Result<Written<()>, StoreError> {
    const WHAT: &str = "changing the login of an account";
    let account = fetch_user(&mut *conn, user)
        .await?
        .ok_or_else(|| no_user(user))?;
    let login_text = login.to_string();
    let taken = format!("a user account with the login {login} already exists");
    let holder: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE login = ?1 AND id <> ?2")
            .bind(&login_text)
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx("checking for a duplicate login")?;
    if holder.is_some() {
        return Err(StoreError::Conflict(taken));
    }
    // ID-10: a chosen login ends the recovery-username state.
    sqlx::query(
        "UPDATE users SET login = ?2, recovery_username = NULL, must_choose_login = 0 \
         WHERE id = ?1",
    )
    .bind(user.0)
    .bind(&login_text)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, taken))?;
    // ID-5 (a): the login no longer equals the unified mailbox's address. The same login
    // typed again keeps condition (a), so it keeps the unification.
    if account.login != login {
        sqlx::query("UPDATE access SET unified = 0 WHERE user_id = ?1")
            .bind(user.0)
            .execute(&mut *conn)
            .await
            .ctx(WHAT)?;
    }
    Ok(Written::value(()))
}

async fn set_unified_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    address: AddressId,
    unified: bool,
) -> Result<Written<()>, StoreError> {
    const WHAT: &str = "marking a password unification";
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM access WHERE user_id = ?1 AND address_id = ?2")
            .bind(user.0)
            .bind(address.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx(WHAT)?;
    if exists.is_none() {
        return Err(no_access(user, address));
    }
    if unified {
        // ID-5: one account, one mailbox; a new unification replaces any other of either.
        sqlx::query("UPDATE access SET unified = 0 WHERE user_id = ?1 OR address_id = ?2")
            .bind(user.0)
            .bind(address.0)
            .execute(&mut *conn)
            .await
            .ctx(WHAT)?;
    }
    sqlx::query("UPDATE access SET unified = ?3 WHERE user_id = ?1 AND address_id = ?2")
        .bind(user.0)
        .bind(address.0)
        .bind(unified)
        .execute(&mut *conn)
        .await
        .ctx(WHAT)?;
    Ok(Written::value(()))
}

async fn set_unified_password_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    address: AddressId,
    hash: String,
) -> Result<Written<(u32, u32)>, StoreError> {
    const WHAT: &str = "changing a unified password";
    // ID-6: both epochs move, so sessions opened with the old password end on both sides.
    let user_epoch: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET password_hash = ?2, credential_epoch = credential_epoch + 1 \
         WHERE id = ?1 RETURNING credential_epoch",
    )
    .bind(user.0)
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await
    .ctx(WHAT)?;
    let user_epoch = user_epoch.ok_or_else(|| no_user(user))?;
    // A missing mailbox fails the job, and the writer rolls its savepoint back, the account's
    // change included.
    let address_epoch: Option<i64> = sqlx::query_scalar(
        "UPDATE addresses SET password_hash = ?2, credential_epoch = credential_epoch + 1 \
         WHERE id = ?1 RETURNING credential_epoch",
    )
    .bind(address.0)
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await
    .ctx(WHAT)?;
    let address_epoch = address_epoch.ok_or_else(|| no_address(address))?;
    Ok(Written::value((
        int(user_epoch, WHAT)?,
        int(address_epoch, WHAT)?,
    )))
}

async fn create_recovery_code_tx(
    conn: &mut SqliteConnection,
    new: NewRecoveryCode,
) -> Result<Written<RecoveryCode>, StoreError> {
    const WHAT: &str = "storing a recovery code";
    require_user(&mut *conn, new.user).await?;
    // Only the newest code works. The earlier unused ones are expired rather than deleted, so
    // `recovery_codes_sent_since` still counts them and the cap on sending holds.
    sqlx::query(
        "UPDATE recovery_codes SET expires_at = MIN(expires_at, ?3) \
         WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL",
    )
    .bind(new.user.0)
    .bind(new.purpose.as_str())
    .bind(new.created_at)
    .execute(&mut *conn)
    .await
    .ctx(WHAT)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO recovery_codes (user_id, purpose, channel, code_hash, created_at, \
         expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    )
    .bind(new.user.0)
    .bind(new.purpose.as_str())
    .bind(new.channel.as_str())
    .bind(&new.code_hash)
    .bind(new.created_at)
    .bind(new.expires_at)
    .fetch_one(&mut *conn)
    .await
    .ctx(WHAT)?;
    Ok(Written::value(RecoveryCode {
        id,
        user: new.user,
        purpose: new.purpose,
        channel: new.channel,
        code_hash: new.code_hash,
        created_at: new.created_at,
        expires_at: new.expires_at,
        attempts: 0,
        used_at: None,
    }))
}

async fn count_recovery_attempt_tx(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Written<u32>, StoreError> {
    const WHAT: &str = "counting a wrong recovery code";
    let attempts: Option<i64> = sqlx::query_scalar(
        "UPDATE recovery_codes SET attempts = attempts + 1 WHERE id = ?1 RETURNING attempts",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .ctx(WHAT)?;
    let attempts = attempts.ok_or_else(|| no_recovery_code(id))?;
    Ok(Written::value(int(attempts, WHAT)?))
}

async fn use_recovery_code_tx(
    conn: &mut SqliteConnection,
    id: i64,
    at: i64,
) -> Result<Written<bool>, StoreError> {
    // One statement checks and marks, so a code works once even for two racing requests.
    let updated =
        sqlx::query("UPDATE recovery_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&mut *conn)
            .await
            .ctx("using a recovery code")?;
    Ok(Written::value(updated.rows_affected() > 0))
}

async fn create_verification_request_tx(
    conn: &mut SqliteConnection,
    new: NewVerificationRequest,
) -> Result<Written<VerificationRequest>, StoreError> {
    if let Some(user) = new.user {
        require_user(&mut *conn, user).await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO verification_requests (login, phone, email, name, message, user_id, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .bind(&new.login)
    .bind(&new.phone)
    .bind(&new.email)
    .bind(&new.name)
    .bind(&new.message)
    .bind(new.user.map(|u| u.0))
    .bind(new.created_at)
    .fetch_one(&mut *conn)
    .await
    .ctx("storing a verification request")?;
    Ok(Written::value(VerificationRequest {
        id,
        login: new.login,
        phone: new.phone,
        email: new.email,
        name: new.name,
        message: new.message,
        user: new.user,
        created_at: new.created_at,
        closed_at: None,
        resolution: None,
        closed_by: None,
    }))
}

async fn close_verification_request_tx(
    conn: &mut SqliteConnection,
    id: i64,
    at: i64,
    resolution: String,
    by: Option<UserId>,
) -> Result<Written<()>, StoreError> {
    const WHAT: &str = "closing a verification request";
    let closed_at: Option<Option<i64>> =
        sqlx::query_scalar("SELECT closed_at FROM verification_requests WHERE id = ?1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .ctx(WHAT)?;
    match closed_at {
        None => {
            return Err(StoreError::NotFound(format!(
                "there is no verification request with id {id}"
            )));
        }
        Some(Some(_)) => {
            return Err(StoreError::Conflict(format!(
                "the verification request {id} is already closed"
            )));
        }
        Some(None) => {}
    }
    if let Some(user) = by {
        require_user(&mut *conn, user).await?;
    }
    sqlx::query(
        "UPDATE verification_requests SET closed_at = ?2, resolution = ?3, closed_by = ?4 \
         WHERE id = ?1",
    )
    .bind(id)
    .bind(at)
    .bind(&resolution)
    .bind(by.map(|u| u.0))
    .execute(&mut *conn)
    .await
    .ctx(WHAT)?;
    Ok(Written::value(()))
}

async fn push_sms_tx(
    conn: &mut SqliteConnection,
    phone: String,
    body: String,
    at: i64,
) -> Result<Written<OutboxSms>, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sms_outbox (phone, body, created_at) VALUES (?1, ?2, ?3) RETURNING id",
    )
    .bind(&phone)
    .bind(&body)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
    .ctx("writing an SMS to the outbox")?;
    Ok(Written::value(OutboxSms {
        id,
        phone,
        body,
        created_at: at,
    }))
}

async fn append_audit_tx(
    conn: &mut SqliteConnection,
    entries: Vec<NewAuditEntry>,
) -> Result<Written<()>, StoreError> {
    for entry in &entries {
        // An entry about a mailbox without its organization gets it here, from the mailbox's
        // service, inside the writer's transaction: the login path does not pay a read for it.
        sqlx::query(
            "INSERT INTO audit_log (at, category, protocol, event, remote_ip, subject, actor, \
             detail, user_id, address_id, org_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, COALESCE(?11, \
               (SELECT s.org_id FROM addresses a JOIN services s ON s.id = a.service_id \
                WHERE a.id = ?10)))",
        )
        .bind(entry.at)
        .bind(entry.category.as_str())
        .bind(&entry.protocol)
        .bind(&entry.event)
        .bind(&entry.remote_ip)
        .bind(&entry.subject)
        .bind(&entry.actor)
        .bind(&entry.detail)
        .bind(entry.user.map(|u| u.0))
        .bind(entry.address.map(|a| a.0))
        .bind(entry.org.map(|o| o.0))
        .execute(&mut *conn)
        .await
        .ctx("writing the audit log")?;
    }
    Ok(Written::value(()))
}

async fn prune_audit_tx(
    conn: &mut SqliteConnection,
    before: i64,
) -> Result<Written<u64>, StoreError> {
    let deleted = sqlx::query("DELETE FROM audit_log WHERE at < ?1")
        .bind(before)
        .execute(&mut *conn)
        .await
        .ctx("pruning the audit log")?;
    Ok(Written::value(deleted.rows_affected()))
}

/// The audit query for `filter`, every value bound; `None` when it can match nothing (no
/// owner named and not `everything`, or a limit of 0).
fn audit_query(filter: &AuditFilter) -> Option<QueryBuilder<Sqlite>> {
    let users: Vec<i64> = filter.users.iter().map(|u| u.0).collect();
    let addresses: Vec<i64> = filter.addresses.iter().map(|a| a.0).collect();
    let orgs: Vec<i64> = filter.orgs.iter().map(|o| o.0).collect();
    let no_owner = users.is_empty() && addresses.is_empty() && orgs.is_empty();
    if filter.limit == 0 || (!filter.everything && no_owner) {
        return None;
    }
    let mut query = QueryBuilder::<Sqlite>::new(AUDIT_SELECT);
    query.push(" WHERE 1 = 1");
    if !filter.everything {
        // ID-11: visible to the account, the mailbox, and the organization's administrators,
        // who see their organization's entries and those of every member.
        query.push(" AND (");
        let mut or = "";
        if !users.is_empty() {
            query.push(or).push("user_id IN ");
            push_ids(&mut query, &users);
            or = " OR ";
        }
        if !addresses.is_empty() {
            query.push(or).push("address_id IN ");
            push_ids(&mut query, &addresses);
            or = " OR ";
        }
        if !orgs.is_empty() {
            query.push(or).push("org_id IN ");
            push_ids(&mut query, &orgs);
            query.push(" OR user_id IN (SELECT user_id FROM memberships WHERE org_id IN ");
            push_ids(&mut query, &orgs);
            query.push(")");
        }
        query.push(")");
    }
    if let Some(category) = filter.category {
        query.push(" AND category = ").push_bind(category.as_str());
    }
    if let Some(before) = filter.before {
        query.push(" AND id < ").push_bind(before);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(filter.limit));
    Some(query)
}

/// `(?, ?, …)` with one bound value per id; `ids` is never empty.
fn push_ids(query: &mut QueryBuilder<Sqlite>, ids: &[i64]) {
    query.push("(");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    list.push_unseparated(")");
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn set_totp_pending(&self, user: UserId, secret: &str) -> Result<(), StoreError> {
        let secret = secret.to_owned();
        self.writer
            .write(move |conn| Box::pin(set_totp_pending_tx(conn, user, secret)))
            .await
    }

    async fn totp_pending(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let pending: Option<Option<String>> =
            sqlx::query_scalar("SELECT totp_pending FROM users WHERE id = ?1")
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .ctx("reading a two-factor enrolment")?;
        Ok(pending.flatten())
    }

    async fn set_totp(
        &self,
        user: UserId,
        secret: Option<&str>,
        recovery_code_hashes: &[String],
    ) -> Result<(), StoreError> {
        let secret = secret.map(str::to_owned);
        let hashes = recovery_code_hashes.to_vec();
        self.writer
            .write(move |conn| Box::pin(set_totp_tx(conn, user, secret, hashes)))
            .await
    }

    async fn totp_recovery_codes(&self, user: UserId) -> Result<Vec<(i64, String)>, StoreError> {
        sqlx::query_as(
            "SELECT id, code_hash FROM totp_recovery_codes \
             WHERE user_id = ?1 AND used_at IS NULL ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .ctx("reading two-factor recovery codes")
    }

    async fn use_totp_recovery_code(&self, id: i64, at: i64) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| Box::pin(use_totp_recovery_code_tx(conn, id, at)))
            .await
    }

    async fn set_user_contact(
        &self,
        user: UserId,
        phone: Option<&str>,
        recovery_email: Option<&Address>,
    ) -> Result<(), StoreError> {
        let phone = phone.map(str::to_owned);
        let recovery_email = recovery_email.map(Address::to_string);
        self.writer
            .write(move |conn| Box::pin(set_user_contact_tx(conn, user, phone, recovery_email)))
            .await
    }

    async fn set_user_login(&self, user: UserId, login: &Address) -> Result<(), StoreError> {
        let login = login.clone();
        self.writer
            .write(move |conn| Box::pin(set_user_login_tx(conn, user, login)))
            .await
    }

    async fn users_by_phone(&self, phone: &str) -> Result<Vec<UserAccount>, StoreError> {
        let Some(key) = phone_key(phone) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(concat!(user_select!(), " WHERE phone_key = ?1 ORDER BY id"))
            .bind(&key)
            .fetch_all(&self.pool)
            .await
            .ctx("looking up accounts by phone number")?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_by_recovery_username(
        &self,
        username: &RecoveryUsername,
    ) -> Result<Option<UserAccount>, StoreError> {
        let row = sqlx::query(concat!(user_select!(), " WHERE recovery_username = ?1"))
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up an account by recovery username")?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_unified(
        &self,
        user: UserId,
        address: AddressId,
        unified: bool,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_unified_tx(conn, user, address, unified)))
            .await
    }

    async fn unified_address(&self, user: UserId) -> Result<Option<AddressId>, StoreError> {
        let address: Option<i64> = sqlx::query_scalar(
            "SELECT address_id FROM access WHERE user_id = ?1 AND unified = 1 \
             ORDER BY address_id LIMIT 1",
        )
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a password unification")?;
        Ok(address.map(AddressId))
    }

    async fn unified_user(&self, address: AddressId) -> Result<Option<UserId>, StoreError> {
        let user: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM access WHERE address_id = ?1 AND unified = 1 \
             ORDER BY user_id LIMIT 1",
        )
        .bind(address.0)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a password unification")?;
        Ok(user.map(UserId))
    }

    async fn set_unified_password(
        &self,
        user: UserId,
        address: AddressId,
        password_hash: &str,
    ) -> Result<(u32, u32), StoreError> {
        let hash = password_hash.to_owned();
        let epochs = self
            .writer
            .write(move |conn| Box::pin(set_unified_password_tx(conn, user, address, hash)))
            .await?;
        // ID-6: after the commit, so a session that re-checks on the event sees the new epoch.
        self.events.publish_credentials(address);
        Ok(epochs)
    }

    async fn create_recovery_code(&self, new: NewRecoveryCode) -> Result<RecoveryCode, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_recovery_code_tx(conn, new)))
            .await
    }

    async fn live_recovery_code(
        &self,
        user: UserId,
        purpose: RecoveryPurpose,
        now: i64,
    ) -> Result<Option<RecoveryCode>, StoreError> {
        // Attempts are not checked here: core decides how many wrong tries a code survives.
        let row = sqlx::query(concat!(
            recovery_code_select!(),
            " WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a recovery code")?;
        row.as_ref().map(recovery_code_from_row).transpose()
    }

    async fn recovery_codes_sent_since(
        &self,
        user: UserId,
        purpose: RecoveryPurpose,
        since: i64,
    ) -> Result<u32, StoreError> {
        const WHAT: &str = "counting the recovery codes sent";
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes \
             WHERE user_id = ?1 AND purpose = ?2 AND created_at >= ?3",
        )
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .ctx(WHAT)?;
        int(count, WHAT)
    }

    async fn count_recovery_attempt(&self, id: i64) -> Result<u32, StoreError> {
        self.writer
            .write(move |conn| Box::pin(count_recovery_attempt_tx(conn, id)))
            .await
    }

    async fn use_recovery_code(&self, id: i64, at: i64) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| Box::pin(use_recovery_code_tx(conn, id, at)))
            .await
    }

    async fn create_verification_request(
        &self,
        new: NewVerificationRequest,
    ) -> Result<VerificationRequest, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_verification_request_tx(conn, new)))
            .await
    }

    async fn verification_requests(
        &self,
        open_only: bool,
    ) -> Result<Vec<VerificationRequest>, StoreError> {
        let rows = sqlx::query(concat!(
            verification_select!(),
            " WHERE ?1 = 0 OR closed_at IS NULL ORDER BY created_at DESC, id DESC"
        ))
        .bind(open_only)
        .fetch_all(&self.pool)
        .await
        .ctx("listing verification requests")?;
        rows.iter().map(verification_from_row).collect()
    }

    async fn verification_request(
        &self,
        id: i64,
    ) -> Result<Option<VerificationRequest>, StoreError> {
        let row = sqlx::query(concat!(verification_select!(), " WHERE id = ?1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up a verification request")?;
        row.as_ref().map(verification_from_row).transpose()
    }

    async fn close_verification_request(
        &self,
        id: i64,
        at: i64,
        resolution: &str,
        by: Option<UserId>,
    ) -> Result<(), StoreError> {
        let resolution = resolution.to_owned();
        self.writer
            .write(move |conn| {
                Box::pin(close_verification_request_tx(conn, id, at, resolution, by))
            })
            .await
    }

    async fn push_sms(&self, phone: &str, body: &str, at: i64) -> Result<OutboxSms, StoreError> {
        let phone = phone.to_owned();
        let body = body.to_owned();
        self.writer
            .write(move |conn| Box::pin(push_sms_tx(conn, phone, body, at)))
            .await
    }

    async fn outbox_sms(&self, limit: u32) -> Result<Vec<OutboxSms>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, phone, body, created_at FROM sms_outbox ORDER BY id DESC LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .ctx("reading the SMS outbox")?;
        rows.iter().map(sms_from_row).collect()
    }

    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.writer
            .write(move |conn| Box::pin(append_audit_tx(conn, entries)))
            .await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let Some(mut query) = audit_query(filter) else {
            return Ok(Vec::new());
        };
        let rows = query
            .build()
            .fetch_all(&self.pool)
            .await
            .ctx("reading the audit log")?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn prune_audit(&self, before: i64) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| Box::pin(prune_audit_tx(conn, before)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_queries_bind_every_value() {
        let filter = AuditFilter {
            users: vec![UserId(1), UserId(2)],
            addresses: vec![AddressId(3)],
            orgs: vec![OrgId(4)],
            category: Some(AuditCategory::Login),
            before: Some(99),
            limit: 10,
            ..AuditFilter::default()
        };
        let sql = audit_query(&filter).map(|q| q.into_string());
        assert_eq!(
            sql.as_deref().map(|s| s.trim_start_matches(AUDIT_SELECT)),
            Some(
                " WHERE 1 = 1 AND (user_id IN (?, ?) OR address_id IN (?) OR org_id IN (?) \
                 OR user_id IN (SELECT user_id FROM memberships WHERE org_id IN (?))) \
                 AND category = ? AND id < ? ORDER BY id DESC LIMIT ?"
            )
        );
        assert!(
            audit_query(&AuditFilter {
                limit: 10,
                ..AuditFilter::default()
            })
            .is_none()
        );
        assert!(
            audit_query(&AuditFilter {
                everything: true,
                limit: 0,
                ..AuditFilter::default()
            })
            .is_none()
        );
    }

    #[test]
    fn stored_names_read_back_as_the_same_values() {
        assert_eq!(
            purpose_from_name(RecoveryPurpose::PasswordReset.as_str(), "test").ok(),
            Some(RecoveryPurpose::PasswordReset)
        );
        for category in [AuditCategory::Login, AuditCategory::Change] {
            assert_eq!(
                category_from_name(category.as_str(), "test").ok(),
                Some(category)
            );
            assert_eq!(
                serde_json::to_value(category).ok(),
                Some(serde_json::Value::from(category.as_str())),
                "the API's word is the stored one"
            );
        }
        assert!(purpose_from_name("reset", "test").is_err());
        assert!(category_from_name("logout", "test").is_err());
    }
}
