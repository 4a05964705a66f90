//! The SQLite backend of [`ManagerStore`]: API tokens, sessions, invitations and sender lists
//! (migration 0010), webmail's shared files (migration 0014, SND-7).
//!
//! Like the directory, every write runs inside the writer's group transaction, so a check made
//! against live rows (an invitation still open, a login still free) holds until the commit.

use std::sync::Arc;

use async_trait::async_trait;
use postwerk_model::{
    Access, AddressId, ApiTokenId, Invitation, InvitationId, ListKind, LoginMode, Permissions,
    Role, SenderPattern, SenderRule, SessionId, UserAccount, UserId,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::directory::{
    create_user_tx, fetch_address, fetch_service, fetch_user, grant_access_tx, no_address,
    no_service, no_user,
};
use super::writer::Written;
use super::{SqliteStore, conflict_or, int, now, parse};
use crate::error::Context;
use crate::manager::{
    Acceptance, ApiToken, ManagerStore, NewApiToken, NewInvitation, NewSharedFile, NewWebSession,
    SharedFileRecord, TokenOwner, TokenScope, WebSession,
};
use crate::{BlobId, BlobStore, StoreError};

/// The longest `User-Agent` kept for a session: enough to recognise a browser in the session
/// list, and a client cannot make the row grow without bound.
const USER_AGENT_MAX: usize = 200;

// ---- Column lists, shared by every query that builds the same entity.

macro_rules! token_select {
    () => {
        "SELECT id, owner_id, name, prefix, secret_hash, scope, created_at, expires_at, \
         last_used_at, revoked_at FROM api_tokens"
    };
}

macro_rules! session_select {
    () => {
        "SELECT id, user_id, secret_hash, credential_epoch, created_at, last_seen_at, \
         expires_at, ip, user_agent FROM web_sessions"
    };
}

macro_rules! invitation_select {
    () => {
        "SELECT id, address_id, sent_to, login_mode, permissions, signature, expires_at, \
         accepted_at FROM invitations"
    };
}

// ---- Stored names of the enumerations (the same words as their serde names).

fn login_mode_name(mode: LoginMode) -> &'static str {
    match mode {
        LoginMode::ExactAddress => "exact_address",
        LoginMode::OwnChoice => "own_choice",
    }
}

fn login_mode_from_name(name: &str, what: &'static str) -> Result<LoginMode, StoreError> {
    match name {
        "exact_address" => Ok(LoginMode::ExactAddress),
        "own_choice" => Ok(LoginMode::OwnChoice),
        other => Err(StoreError::backend(
            what,
            format!("{other:?} is not a login mode"),
        )),
    }
}

fn list_kind_name(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Allow => "allow",
        ListKind::Block => "block",
    }
}

fn list_kind_from_name(name: &str, what: &'static str) -> Result<ListKind, StoreError> {
    match name {
        "allow" => Ok(ListKind::Allow),
        "block" => Ok(ListKind::Block),
        other => Err(StoreError::backend(
            what,
            format!("{other:?} is not a sender list kind"),
        )),
    }
}

// ---- Rows to values.

fn token_from_row(row: &SqliteRow) -> Result<ApiToken, StoreError> {
    const WHAT: &str = "reading an API token";
    let owner: Option<i64> = row.try_get("owner_id").ctx(WHAT)?;
    let scope: &str = row.try_get("scope").ctx(WHAT)?;
    Ok(ApiToken {
        id: ApiTokenId(row.try_get("id").ctx(WHAT)?),
        owner: owner.map_or(TokenOwner::Operator, |id| TokenOwner::User(UserId(id))),
        name: row.try_get("name").ctx(WHAT)?,
        prefix: row.try_get("prefix").ctx(WHAT)?,
        secret_hash: row.try_get("secret_hash").ctx(WHAT)?,
        scope: TokenScope::parse(scope)
            .ok_or_else(|| StoreError::backend(WHAT, format!("{scope:?} is not a scope")))?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
        expires_at: row.try_get("expires_at").ctx(WHAT)?,
        last_used_at: row.try_get("last_used_at").ctx(WHAT)?,
        revoked_at: row.try_get("revoked_at").ctx(WHAT)?,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<WebSession, StoreError> {
    const WHAT: &str = "reading a session";
    Ok(WebSession {
        id: SessionId(row.try_get("id").ctx(WHAT)?),
        user: UserId(row.try_get("user_id").ctx(WHAT)?),
        secret_hash: row.try_get("secret_hash").ctx(WHAT)?,
        credential_epoch: int(row.try_get("credential_epoch").ctx(WHAT)?, WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
        last_seen_at: row.try_get("last_seen_at").ctx(WHAT)?,
        expires_at: row.try_get("expires_at").ctx(WHAT)?,
        ip: row.try_get("ip").ctx(WHAT)?,
        user_agent: row.try_get("user_agent").ctx(WHAT)?,
    })
}

fn invitation_from_row(row: &SqliteRow) -> Result<Invitation, StoreError> {
    const WHAT: &str = "reading an invitation";
    Ok(Invitation {
        id: InvitationId(row.try_get("id").ctx(WHAT)?),
        address: AddressId(row.try_get("address_id").ctx(WHAT)?),
        sent_to: parse(row.try_get::<&str, _>("sent_to").ctx(WHAT)?, WHAT)?,
        login_mode: login_mode_from_name(row.try_get("login_mode").ctx(WHAT)?, WHAT)?,
        permissions: Permissions::from_bits(int(row.try_get("permissions").ctx(WHAT)?, WHAT)?),
        signature: row.try_get("signature").ctx(WHAT)?,
        expires_at: row.try_get("expires_at").ctx(WHAT)?,
        accepted_at: row.try_get("accepted_at").ctx(WHAT)?,
    })
}

fn sender_rule_from_row(row: &SqliteRow) -> Result<SenderRule, StoreError> {
    const WHAT: &str = "reading a sender rule";
    Ok(SenderRule {
        address: AddressId(row.try_get("address_id").ctx(WHAT)?),
        kind: list_kind_from_name(row.try_get("kind").ctx(WHAT)?, WHAT)?,
        pattern: parse(row.try_get::<&str, _>("pattern").ctx(WHAT)?, WHAT)?,
    })
}

/// `text` cut to at most `max` characters (never inside a character).
fn truncated(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text,
    }
}

// ---- Writes: each runs inside the writer's transaction.

async fn create_api_token_tx(
    conn: &mut SqliteConnection,
    new: NewApiToken,
) -> Result<Written<ApiToken>, StoreError> {
    let owner = match new.owner {
        TokenOwner::Operator => None,
        TokenOwner::User(user) => {
            fetch_user(&mut *conn, user)
                .await?
                .ok_or_else(|| no_user(user))?;
            Some(user.0)
        }
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (owner_id, name, prefix, secret_hash, scope, created_at, \
         expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .bind(owner)
    .bind(&new.name)
    .bind(&new.prefix)
    .bind(&new.secret_hash)
    .bind(new.scope.as_str())
    .bind(new.created_at)
    .bind(new.expires_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        conflict_or(
            e,
            format!("an API token with the prefix {} already exists", new.prefix),
        )
    })?;
    Ok(Written::value(ApiToken {
        id: ApiTokenId(id),
        owner: new.owner,
        name: new.name,
        prefix: new.prefix,
        secret_hash: new.secret_hash,
        scope: new.scope,
        created_at: new.created_at,
        expires_at: new.expires_at,
        last_used_at: None,
        revoked_at: None,
    }))
}

fn no_token(id: ApiTokenId) -> StoreError {
    StoreError::NotFound(format!("there is no API token with id {id}"))
}

async fn revoke_api_token_tx(
    conn: &mut SqliteConnection,
    id: ApiTokenId,
    at: i64,
) -> Result<Written<()>, StoreError> {
    // Revoking twice keeps the first instant: that is when the token stopped working.
    let updated =
        sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1")
            .bind(id.0)
            .bind(at)
            .execute(&mut *conn)
            .await
            .ctx("revoking an API token")?;
    if updated.rows_affected() == 0 {
        return Err(no_token(id));
    }
    Ok(Written::value(()))
}

async fn touch_api_token_tx(
    conn: &mut SqliteConnection,
    id: ApiTokenId,
    at: i64,
) -> Result<Written<()>, StoreError> {
    let updated = sqlx::query("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")
        .bind(id.0)
        .bind(at)
        .execute(&mut *conn)
        .await
        .ctx("recording the use of an API token")?;
    if updated.rows_affected() == 0 {
        return Err(no_token(id));
    }
    Ok(Written::value(()))
}

async fn create_web_session_tx(
    conn: &mut SqliteConnection,
    new: NewWebSession,
) -> Result<Written<WebSession>, StoreError> {
    fetch_user(&mut *conn, new.user)
        .await?
        .ok_or_else(|| no_user(new.user))?;
    let user_agent = new.user_agent.map(|ua| truncated(ua, USER_AGENT_MAX));
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO web_sessions (user_id, secret_hash, credential_epoch, created_at, \
         last_seen_at, expires_at, ip, user_agent) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7) \
         RETURNING id",
    )
    .bind(new.user.0)
    .bind(&new.secret_hash)
    .bind(i64::from(new.credential_epoch))
    .bind(new.created_at)
    .bind(new.expires_at)
    .bind(&new.ip)
    .bind(&user_agent)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a session with this cookie already exists".to_owned()))?;
    Ok(Written::value(WebSession {
        id: SessionId(id),
        user: new.user,
        secret_hash: new.secret_hash,
        credential_epoch: new.credential_epoch,
        created_at: new.created_at,
        last_seen_at: new.created_at,
        expires_at: new.expires_at,
        ip: new.ip,
        user_agent,
    }))
}

fn no_session(id: SessionId) -> StoreError {
    StoreError::NotFound(format!("there is no session with id {id}"))
}

async fn touch_web_session_tx(
    conn: &mut SqliteConnection,
    id: SessionId,
    at: i64,
    expires_at: i64,
) -> Result<Written<()>, StoreError> {
    let updated =
        sqlx::query("UPDATE web_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id = ?1")
            .bind(id.0)
            .bind(at)
            .bind(expires_at)
            .execute(&mut *conn)
            .await
            .ctx("recording the activity of a session")?;
    if updated.rows_affected() == 0 {
        return Err(no_session(id));
    }
    Ok(Written::value(()))
}

async fn set_web_session_epoch_tx(
    conn: &mut SqliteConnection,
    id: SessionId,
    epoch: u32,
) -> Result<Written<()>, StoreError> {
    let updated = sqlx::query("UPDATE web_sessions SET credential_epoch = ?2 WHERE id = ?1")
        .bind(id.0)
        .bind(i64::from(epoch))
        .execute(&mut *conn)
        .await
        .ctx("moving a session to the new password")?;
    if updated.rows_affected() == 0 {
        return Err(no_session(id));
    }
    Ok(Written::value(()))
}

async fn delete_web_session_tx(
    conn: &mut SqliteConnection,
    id: SessionId,
) -> Result<Written<()>, StoreError> {
    let deleted = sqlx::query("DELETE FROM web_sessions WHERE id = ?1")
        .bind(id.0)
        .execute(&mut *conn)
        .await
        .ctx("ending a session")?;
    if deleted.rows_affected() == 0 {
        return Err(no_session(id));
    }
    Ok(Written::value(()))
}

async fn create_invitation_tx(
    conn: &mut SqliteConnection,
    new: NewInvitation,
) -> Result<Written<Invitation>, StoreError> {
    let hosted = fetch_address(&mut *conn, new.address)
        .await?
        .ok_or_else(|| no_address(new.address))?;
    // ADDR-1 b': the invited person will read and send mail with it.
    if !hosted.kind.holds_mail() {
        return Err(StoreError::Refused(format!(
            "the address {} holds no mail, so nobody can be invited to use it",
            hosted.address
        )));
    }
    if let Some(inviter) = new.invited_by {
        fetch_user(&mut *conn, inviter)
            .await?
            .ok_or_else(|| no_user(inviter))?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invitations (address_id, secret_hash, sent_to, login_mode, permissions, \
         signature, invited_by, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
    )
    .bind(new.address.0)
    .bind(&new.secret_hash)
    .bind(new.sent_to.to_string())
    .bind(login_mode_name(new.login_mode))
    .bind(i64::from(new.permissions.bits()))
    .bind(&new.signature)
    .bind(new.invited_by.map(|u| u.0))
    .bind(new.created_at)
    .bind(new.expires_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "an invitation with this link already exists".to_owned()))?;
    Ok(Written::value(Invitation {
        id: InvitationId(id),
        address: new.address,
        sent_to: new.sent_to,
        login_mode: new.login_mode,
        permissions: new.permissions,
        signature: new.signature,
        expires_at: new.expires_at,
        accepted_at: None,
    }))
}

async fn accept_invitation_tx(
    conn: &mut SqliteConnection,
    id: InvitationId,
    acceptance: Acceptance,
    now: i64,
) -> Result<Written<UserAccount>, StoreError> {
    const WHAT: &str = "looking up an invitation";
    let row = sqlx::query(concat!(invitation_select!(), " WHERE id = ?1"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .ctx(WHAT)?;
    let invitation = row
        .as_ref()
        .map(invitation_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no invitation with id {id}")))?;
    if invitation.accepted_at.is_some() {
        return Err(StoreError::Refused(
            "this invitation was already accepted; it can be used only once".to_owned(),
        ));
    }
    if !invitation.is_open(now) {
        return Err(StoreError::Refused(
            "this invitation has expired; ask the administrator who sent it for a new one"
                .to_owned(),
        ));
    }
    // Invitations go with their address (ADDR-8), so it exists; checked all the same, since
    // what follows would otherwise grant access to nothing.
    let hosted = fetch_address(&mut *conn, invitation.address)
        .await?
        .ok_or_else(|| no_address(invitation.address))?;
    let service = fetch_service(&mut *conn, hosted.service)
        .await?
        .ok_or_else(|| no_service(hosted.service))?;
    let account = match acceptance {
        // A taken login is a Conflict out of `create_user_tx`; the job's savepoint is rolled
        // back, so the invitation stays open for another try.
        Acceptance::NewAccount(new) => create_user_tx(&mut *conn, new).await?.value,
        Acceptance::Existing(user) => fetch_user(&mut *conn, user)
            .await?
            .ok_or_else(|| no_user(user))?,
    };
    // ORG-1: using a mailbox of the organization makes the account one of its members; an
    // existing membership keeps its role.
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3) \
         ON CONFLICT (org_id, user_id) DO NOTHING",
    )
    .bind(service.org.0)
    .bind(account.id.0)
    .bind(Role::Member.as_str())
    .execute(&mut *conn)
    .await
    .ctx("making an invited account a member")?;
    let access = Access {
        user: account.id,
        address: invitation.address,
        permissions: invitation.permissions,
        signature: invitation.signature,
    };
    grant_access_tx(&mut *conn, access).await?;
    sqlx::query("UPDATE invitations SET accepted_at = ?2, accepted_by = ?3 WHERE id = ?1")
        .bind(id.0)
        .bind(now)
        .bind(account.id.0)
        .execute(&mut *conn)
        .await
        .ctx("marking an invitation accepted")?;
    Ok(Written::value(account))
}

async fn put_sender_rule_tx(
    conn: &mut SqliteConnection,
    rule: SenderRule,
) -> Result<Written<()>, StoreError> {
    fetch_address(&mut *conn, rule.address)
        .await?
        .ok_or_else(|| no_address(rule.address))?;
    sqlx::query(
        "INSERT INTO sender_rules (address_id, kind, pattern, created_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (address_id, pattern) DO UPDATE SET kind = excluded.kind",
    )
    .bind(rule.address.0)
    .bind(list_kind_name(rule.kind))
    .bind(rule.pattern.to_string())
    .bind(now())
    .execute(&mut *conn)
    .await
    .ctx("storing a sender rule")?;
    Ok(Written::value(()))
}

async fn remove_sender_rule_tx(
    conn: &mut SqliteConnection,
    address: AddressId,
    pattern: String,
) -> Result<Written<()>, StoreError> {
    let removed = sqlx::query("DELETE FROM sender_rules WHERE address_id = ?1 AND pattern = ?2")
        .bind(address.0)
        .bind(&pattern)
        .execute(&mut *conn)
        .await
        .ctx("removing a sender rule")?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "the address with id {address} has no rule for {pattern}"
        )));
    }
    Ok(Written::value(()))
}

// ---- Shared files (SND-7)

async fn put_shared_file_tx(
    conn: &mut SqliteConnection,
    blobs: Arc<dyn BlobStore>,
    new: NewSharedFile,
) -> Result<Written<()>, StoreError> {
    // Under the write lock: a purge that removed this content just before cannot cross us.
    if !blobs.exists(&new.blob).await? {
        return Err(StoreError::NotFound(
            "the shared file's content is not in the blob store; store it again".into(),
        ));
    }
    let size = i64::try_from(new.size)
        .map_err(|_| StoreError::Refused(format!("a file of {} octets is too large", new.size)))?;
    sqlx::query(
        "INSERT INTO shared_files (token_hash, mailbox, file_name, content_type, size, blob, \
         created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(&new.token_hash)
    .bind(new.mailbox.0)
    .bind(&new.file_name)
    .bind(&new.content_type)
    .bind(size)
    .bind(new.blob.as_str())
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a shared file with this token exists already".into()))?;
    Ok(Written::value(()))
}

async fn delete_expired_shared_files_tx(
    conn: &mut SqliteConnection,
    blobs: Arc<dyn BlobStore>,
    now: i64,
) -> Result<Written<Vec<BlobId>>, StoreError> {
    const WHAT: &str = "removing expired shared files";
    let expired: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT blob FROM shared_files WHERE expires_at <= ?1")
            .bind(now)
            .fetch_all(&mut *conn)
            .await
            .ctx(WHAT)?;
    sqlx::query("DELETE FROM shared_files WHERE expires_at <= ?1")
        .bind(now)
        .execute(&mut *conn)
        .await
        .ctx(WHAT)?;
    // A file shared twice, or a content that is also a message, stays while something needs
    // it (blobs are content-addressed, so they are shared by whatever has the same bytes).
    let mut unneeded = Vec::new();
    for hash in expired {
        let needed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM shared_files WHERE blob = ?1) \
             OR EXISTS (SELECT 1 FROM contents WHERE hash = ?1)",
        )
        .bind(&hash)
        .fetch_one(&mut *conn)
        .await
        .ctx(WHAT)?;
        if !needed {
            let id = BlobId::parse(&hash)
                .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {hash:?}")))?;
            unneeded.push(id);
        }
    }
    blobs.remove_many(&unneeded).await?;
    Ok(Written::value(unneeded))
}

fn shared_file_from_row(row: &SqliteRow) -> Result<SharedFileRecord, StoreError> {
    const WHAT: &str = "reading a shared file";
    let blob: String = row.try_get("blob").ctx(WHAT)?;
    Ok(SharedFileRecord {
        mailbox: AddressId(row.try_get("mailbox").ctx(WHAT)?),
        file_name: row.try_get("file_name").ctx(WHAT)?,
        content_type: row.try_get("content_type").ctx(WHAT)?,
        size: int(row.try_get("size").ctx(WHAT)?, WHAT)?,
        blob: BlobId::parse(&blob)
            .ok_or_else(|| StoreError::backend(WHAT, format!("bad blob id {blob:?}")))?,
        expires_at: row.try_get("expires_at").ctx(WHAT)?,
    })
}

#[async_trait]
impl ManagerStore for SqliteStore {
    async fn create_api_token(&self, new: NewApiToken) -> Result<ApiToken, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_api_token_tx(conn, new)))
            .await
    }

    async fn api_token_by_prefix(&self, prefix: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(concat!(token_select!(), " WHERE prefix = ?1"))
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up an API token")?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_api_tokens(&self, owner: TokenOwner) -> Result<Vec<ApiToken>, StoreError> {
        let owner = match owner {
            TokenOwner::Operator => None,
            TokenOwner::User(user) => Some(user.0),
        };
        // Spelled out rather than SQLite's `IS ?1`, which PostgreSQL does not have.
        let rows = sqlx::query(concat!(
            token_select!(),
            " WHERE (?1 IS NULL AND owner_id IS NULL) OR owner_id = ?1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .ctx("listing API tokens")?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_api_token(&self, id: ApiTokenId, at: i64) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(revoke_api_token_tx(conn, id, at)))
            .await
    }

    async fn touch_api_token(&self, id: ApiTokenId, at: i64) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(touch_api_token_tx(conn, id, at)))
            .await
    }

    async fn create_web_session(&self, new: NewWebSession) -> Result<WebSession, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_web_session_tx(conn, new)))
            .await
    }

    async fn web_session_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<WebSession>, StoreError> {
        let row = sqlx::query(concat!(session_select!(), " WHERE secret_hash = ?1"))
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up a session")?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn list_web_sessions(&self, user: UserId) -> Result<Vec<WebSession>, StoreError> {
        let rows = sqlx::query(concat!(
            session_select!(),
            " WHERE user_id = ?1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing sessions")?;
        rows.iter().map(session_from_row).collect()
    }

    async fn touch_web_session(
        &self,
        id: SessionId,
        at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(touch_web_session_tx(conn, id, at, expires_at)))
            .await
    }

    async fn delete_web_session(&self, id: SessionId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(delete_web_session_tx(conn, id)))
            .await
    }

    async fn set_web_session_epoch(&self, id: SessionId, epoch: u32) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_web_session_epoch_tx(conn, id, epoch)))
            .await
    }

    async fn create_invitation(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_invitation_tx(conn, new)))
            .await
    }

    async fn invitation_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        let row = sqlx::query(concat!(invitation_select!(), " WHERE secret_hash = ?1"))
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up an invitation")?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn list_invitations(&self, address: AddressId) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query(concat!(
            invitation_select!(),
            " WHERE address_id = ?1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(address.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing invitations")?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn accept_invitation(
        &self,
        id: InvitationId,
        acceptance: Acceptance,
        now: i64,
    ) -> Result<UserAccount, StoreError> {
        self.writer
            .write(move |conn| Box::pin(accept_invitation_tx(conn, id, acceptance, now)))
            .await
    }

    async fn put_sender_rule(&self, rule: SenderRule) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(put_sender_rule_tx(conn, rule)))
            .await
    }

    async fn remove_sender_rule(
        &self,
        address: AddressId,
        pattern: &SenderPattern,
    ) -> Result<(), StoreError> {
        let pattern = pattern.to_string();
        self.writer
            .write(move |conn| Box::pin(remove_sender_rule_tx(conn, address, pattern)))
            .await
    }

    async fn sender_rules(&self, address: AddressId) -> Result<Vec<SenderRule>, StoreError> {
        // Allow rules first (the order the contract promises), then by pattern.
        let rows = sqlx::query(
            "SELECT address_id, kind, pattern FROM sender_rules WHERE address_id = ?1 \
             ORDER BY CASE kind WHEN 'allow' THEN 0 ELSE 1 END, pattern",
        )
        .bind(address.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing sender rules")?;
        rows.iter().map(sender_rule_from_row).collect()
    }

    async fn put_shared_file(&self, new: NewSharedFile) -> Result<(), StoreError> {
        let blobs = self.blobs.clone();
        self.writer
            .write(move |conn| Box::pin(put_shared_file_tx(conn, blobs, new)))
            .await
    }

    async fn shared_file_by_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SharedFileRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT mailbox, file_name, content_type, size, blob, expires_at FROM shared_files \
             WHERE token_hash = ?1 AND expires_at > ?2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a shared file")?;
        row.as_ref().map(shared_file_from_row).transpose()
    }

    async fn delete_expired_shared_files(&self, now: i64) -> Result<Vec<BlobId>, StoreError> {
        let blobs = self.blobs.clone();
        self.writer
            .write(move |conn| Box::pin(delete_expired_shared_files_tx(conn, blobs, now)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(token_hash: &str, blob: &BlobId, expires_at: i64) -> NewSharedFile {
        NewSharedFile {
            token_hash: token_hash.into(),
            mailbox: AddressId(1),
            file_name: "plans.pdf".into(),
            content_type: "application/pdf".into(),
            size: 5,
            blob: blob.clone(),
            created_at: 100,
            expires_at,
        }
    }

    #[tokio::test]
    async fn snd_7_shared_files_expire_and_their_content_goes_with_the_last_link() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = crate::open_sqlite(dir.path()).await.expect("store");
        let (manager, blobs) = (&stores.manager, &stores.blobs);
        let blob = blobs.put(b"plans").await.expect("blob");
        manager
            .put_shared_file(shared("early", &blob, 1_000))
            .await
            .expect("first link");
        manager
            .put_shared_file(shared("late", &blob, 2_000))
            .await
            .expect("second link to the same content");
        let duplicate = manager.put_shared_file(shared("late", &blob, 3_000)).await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict(_))),
            "{duplicate:?}"
        );

        let found = manager
            .shared_file_by_hash("early", 999)
            .await
            .expect("read");
        assert_eq!(
            found.map(|f| (f.file_name, f.size)),
            Some(("plans.pdf".into(), 5))
        );
        assert_eq!(
            manager.shared_file_by_hash("early", 1_000).await.ok(),
            Some(None)
        );
        assert_eq!(
            manager.shared_file_by_hash("unknown", 0).await.ok(),
            Some(None)
        );

        // The first link expires; the second still needs the content.
        let removed = manager
            .delete_expired_shared_files(1_500)
            .await
            .expect("purge");
        assert!(removed.is_empty());
        assert!(blobs.exists(&blob).await.expect("exists"));
        assert!(
            manager
                .shared_file_by_hash("late", 1_500)
                .await
                .expect("read")
                .is_some()
        );

        let removed = manager
            .delete_expired_shared_files(2_000)
            .await
            .expect("purge");
        assert_eq!(removed, vec![blob.clone()]);
        assert!(!blobs.exists(&blob).await.expect("exists"));

        // A record whose content is gone is refused, so it never points at nothing.
        let missing = manager.put_shared_file(shared("again", &blob, 9_000)).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }

    #[test]
    fn user_agents_are_cut_at_a_character_boundary() {
        assert_eq!(truncated("short".to_owned(), 200), "short");
        let long = "é".repeat(250);
        let cut = truncated(long, USER_AGENT_MAX);
        assert_eq!(cut.chars().count(), USER_AGENT_MAX);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn stored_names_read_back_as_the_same_values() {
        for mode in [LoginMode::ExactAddress, LoginMode::OwnChoice] {
            assert_eq!(
                serde_json::to_value(mode).ok(),
                Some(serde_json::Value::from(login_mode_name(mode))),
                "the API's word is the stored one"
            );
            assert_eq!(
                login_mode_from_name(login_mode_name(mode), "test").ok(),
                Some(mode)
            );
        }
        for kind in [ListKind::Allow, ListKind::Block] {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(list_kind_name(kind))),
                "the API's word is the stored one"
            );
            assert_eq!(
                list_kind_from_name(list_kind_name(kind), "test").ok(),
                Some(kind)
            );
        }
        assert!(login_mode_from_name("exact", "test").is_err());
        assert!(list_kind_from_name("deny", "test").is_err());
    }
}
