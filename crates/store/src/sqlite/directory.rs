//! SQL of the directory on SQLite.
//!
//! Writes run inside the writer's group transaction (see `writer`), so the checks they make
//! against live rows (counts, duplicates) cannot race with another write. Reads use the pool.

use std::collections::BTreeSet;

use async_trait::async_trait;
use postwerk_model::resolve::{Facts, ServiceFacts};
use postwerk_model::{
    Access, Address, AddressId, AddressKind, Alias, AliasId, DEFAULT_FOLDERS, Domain, FolderId,
    HostedAddress, LocalPart, MailService, Membership, OrgId, Organization, Permissions,
    Redirection, Role, ServiceId, SignatureTemplate, UserAccount, UserId, check_new_alias,
    check_quota_change, recovery_username, validate_org_name,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, Row, Sqlite, SqliteConnection};

use super::writer::Written;
use super::{SqliteStore, conflict_or, int, json, mail, now, parse, to_json};
use crate::error::Context;
use crate::{
    AddressExtras, Directory, DkimKey, FolderEvent, FolderEventKind, NewAddress, NewDkimKey,
    NewService, NewUser, ServiceSettings, StoreError,
};
use postwerk_model::phone_key;

// ---- Column lists, shared by every query that builds the same entity.

macro_rules! org_select {
    () => {
        "SELECT id, name, created_at FROM organizations"
    };
}

macro_rules! user_select {
    () => {
        "SELECT id, login, display_name, password_hash, totp_secret, phone, recovery_email, \
         credential_epoch, recovery_username, must_choose_login, created_at FROM users"
    };
}
pub(super) use user_select;

macro_rules! service_select {
    () => {
        "SELECT s.id, s.org_id, s.domain, s.address_quota, s.features, s.default_permissions, \
         s.signature_templates, s.dkim, s.created_at, \
         (SELECT group_concat(d.domain, ',') FROM service_domains d \
          WHERE d.service_id = s.id AND d.is_alias = 1) AS alias_domains \
         FROM services s"
    };
}

macro_rules! address_select {
    () => {
        "SELECT a.id, a.service_id, a.address, a.kind, a.display_name, a.password_hash, \
         a.credential_epoch, a.enabled, a.storage_limit, a.redirect, a.created_at \
         FROM addresses a"
    };
}

macro_rules! access_select {
    () => {
        "SELECT user_id, address_id, permissions, signature FROM access"
    };
}

macro_rules! dkim_select {
    () => {
        "SELECT service_id, selector, algorithm, private_key, public_key, created_at, active \
         FROM dkim_keys"
    };
}

fn org_from_row(row: &SqliteRow) -> Result<Organization, StoreError> {
    const WHAT: &str = "reading an organization";
    Ok(Organization {
        id: OrgId(row.try_get("id").ctx(WHAT)?),
        name: row.try_get("name").ctx(WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
    })
}

pub(super) fn user_from_row(row: &SqliteRow) -> Result<UserAccount, StoreError> {
    const WHAT: &str = "reading a user account";
    let recovery_email: Option<String> = row.try_get("recovery_email").ctx(WHAT)?;
    let recovery_username: Option<String> = row.try_get("recovery_username").ctx(WHAT)?;
    Ok(UserAccount {
        id: UserId(row.try_get("id").ctx(WHAT)?),
        login: parse(row.try_get::<&str, _>("login").ctx(WHAT)?, WHAT)?,
        display_name: row.try_get("display_name").ctx(WHAT)?,
        password_hash: row.try_get("password_hash").ctx(WHAT)?,
        totp_secret: row.try_get("totp_secret").ctx(WHAT)?,
        phone: row.try_get("phone").ctx(WHAT)?,
        recovery_email: recovery_email.map(|e| parse(&e, WHAT)).transpose()?,
        credential_epoch: int(row.try_get("credential_epoch").ctx(WHAT)?, WHAT)?,
        recovery_username: recovery_username.map(|u| parse(&u, WHAT)).transpose()?,
        must_choose_login: row.try_get("must_choose_login").ctx(WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
    })
}

fn service_from_row(row: &SqliteRow) -> Result<MailService, StoreError> {
    const WHAT: &str = "reading a mail service";
    let alias_domains: Option<String> = row.try_get("alias_domains").ctx(WHAT)?;
    // group_concat has no order; the sort gives callers a stable list.
    let alias_domains: BTreeSet<String> = alias_domains
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::to_owned)
        .collect();
    let dkim: Option<String> = row.try_get("dkim").ctx(WHAT)?;
    Ok(MailService {
        id: ServiceId(row.try_get("id").ctx(WHAT)?),
        org: OrgId(row.try_get("org_id").ctx(WHAT)?),
        domain: parse(row.try_get::<&str, _>("domain").ctx(WHAT)?, WHAT)?,
        address_quota: int(row.try_get("address_quota").ctx(WHAT)?, WHAT)?,
        alias_domains: alias_domains
            .iter()
            .map(|d| parse(d, WHAT))
            .collect::<Result<_, _>>()?,
        features: json(row.try_get("features").ctx(WHAT)?, WHAT)?,
        default_permissions: Permissions::from_bits(int(
            row.try_get("default_permissions").ctx(WHAT)?,
            WHAT,
        )?),
        signature_templates: json(row.try_get("signature_templates").ctx(WHAT)?, WHAT)?,
        dkim: dkim.map(|d| json(&d, WHAT)).transpose()?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
    })
}

fn address_from_row(row: &SqliteRow) -> Result<HostedAddress, StoreError> {
    const WHAT: &str = "reading a hosted address";
    let storage_limit: Option<i64> = row.try_get("storage_limit").ctx(WHAT)?;
    let redirect: Option<String> = row.try_get("redirect").ctx(WHAT)?;
    Ok(HostedAddress {
        id: AddressId(row.try_get("id").ctx(WHAT)?),
        service: ServiceId(row.try_get("service_id").ctx(WHAT)?),
        address: parse(row.try_get::<&str, _>("address").ctx(WHAT)?, WHAT)?,
        kind: parse(row.try_get::<&str, _>("kind").ctx(WHAT)?, WHAT)?,
        display_name: row.try_get("display_name").ctx(WHAT)?,
        password_hash: row.try_get("password_hash").ctx(WHAT)?,
        credential_epoch: int(row.try_get("credential_epoch").ctx(WHAT)?, WHAT)?,
        enabled: row.try_get("enabled").ctx(WHAT)?,
        storage_limit: storage_limit.map(|l| int(l, WHAT)).transpose()?,
        redirect: redirect.map(|r| json(&r, WHAT)).transpose()?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
    })
}

fn alias_from_row(row: &SqliteRow) -> Result<Alias, StoreError> {
    const WHAT: &str = "reading an alias";
    Ok(Alias {
        id: AliasId(row.try_get("id").ctx(WHAT)?),
        address: AddressId(row.try_get("address_id").ctx(WHAT)?),
        local: parse(row.try_get::<&str, _>("local_part").ctx(WHAT)?, WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
    })
}

fn access_from_row(row: &SqliteRow) -> Result<Access, StoreError> {
    const WHAT: &str = "reading an access grant";
    Ok(Access {
        user: UserId(row.try_get("user_id").ctx(WHAT)?),
        address: AddressId(row.try_get("address_id").ctx(WHAT)?),
        permissions: Permissions::from_bits(int(row.try_get("permissions").ctx(WHAT)?, WHAT)?),
        signature: row.try_get("signature").ctx(WHAT)?,
    })
}

fn membership_from_row(row: &SqliteRow) -> Result<Membership, StoreError> {
    const WHAT: &str = "reading a membership";
    Ok(Membership {
        org: OrgId(row.try_get("org_id").ctx(WHAT)?),
        user: UserId(row.try_get("user_id").ctx(WHAT)?),
        role: parse(row.try_get::<&str, _>("role").ctx(WHAT)?, WHAT)?,
    })
}

fn dkim_key_from_row(row: &SqliteRow) -> Result<DkimKey, StoreError> {
    const WHAT: &str = "reading a DKIM key";
    Ok(DkimKey {
        service: ServiceId(row.try_get("service_id").ctx(WHAT)?),
        selector: row.try_get("selector").ctx(WHAT)?,
        algorithm: row.try_get("algorithm").ctx(WHAT)?,
        private_key: row.try_get("private_key").ctx(WHAT)?,
        public_key: row.try_get("public_key").ctx(WHAT)?,
        created_at: row.try_get("created_at").ctx(WHAT)?,
        active: row.try_get("active").ctx(WHAT)?,
    })
}

// ---- Lookups usable both on the pool and inside a write.

pub(super) async fn fetch_service<'e, E>(
    e: E,
    id: ServiceId,
) -> Result<Option<MailService>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(concat!(service_select!(), " WHERE s.id = ?1"))
        .bind(id.0)
        .fetch_optional(e)
        .await
        .ctx("looking up a mail service")?;
    row.as_ref().map(service_from_row).transpose()
}

pub(super) async fn fetch_address<'e, E>(
    e: E,
    id: AddressId,
) -> Result<Option<HostedAddress>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(concat!(address_select!(), " WHERE a.id = ?1"))
        .bind(id.0)
        .fetch_optional(e)
        .await
        .ctx("looking up an address")?;
    row.as_ref().map(address_from_row).transpose()
}

pub(super) async fn fetch_user<'e, E>(e: E, id: UserId) -> Result<Option<UserAccount>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(concat!(user_select!(), " WHERE id = ?1"))
        .bind(id.0)
        .fetch_optional(e)
        .await
        .ctx("looking up a user account")?;
    row.as_ref().map(user_from_row).transpose()
}

async fn count_addresses(
    conn: &mut SqliteConnection,
    service: ServiceId,
) -> Result<u32, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM addresses WHERE service_id = ?1")
        .bind(service.0)
        .fetch_one(&mut *conn)
        .await
        .ctx("counting addresses")?;
    int(count, "counting addresses")
}

pub(super) fn no_service(id: ServiceId) -> StoreError {
    StoreError::NotFound(format!("there is no mail service with id {id}"))
}

pub(super) fn no_address(id: AddressId) -> StoreError {
    StoreError::NotFound(format!("there is no address with id {id}"))
}

pub(super) fn no_user(id: UserId) -> StoreError {
    StoreError::NotFound(format!("there is no user account with id {id}"))
}

/// Refuse a local part already used by an address or an alias of the service: both receive
/// mail at `local@domain`, so they share one namespace.
async fn check_local_part_free(
    conn: &mut SqliteConnection,
    service: &MailService,
    local: &LocalPart,
) -> Result<(), StoreError> {
    let full = format!("{local}@{}", service.domain);
    let address: Option<i64> =
        sqlx::query_scalar("SELECT id FROM addresses WHERE service_id = ?1 AND local_part = ?2")
            .bind(service.id.0)
            .bind(local.as_str())
            .fetch_optional(&mut *conn)
            .await
            .ctx("checking for a duplicate address")?;
    if address.is_some() {
        return Err(StoreError::Conflict(format!(
            "the address {full} already exists"
        )));
    }
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT a.address FROM aliases x JOIN addresses a ON a.id = x.address_id \
         WHERE x.service_id = ?1 AND x.local_part = ?2",
    )
    .bind(service.id.0)
    .bind(local.as_str())
    .fetch_optional(&mut *conn)
    .await
    .ctx("checking for a duplicate alias")?;
    match owner {
        Some(owner) => Err(StoreError::Conflict(format!(
            "{full} already exists as an alias of {owner}"
        ))),
        None => Ok(()),
    }
}

/// Refuse a domain some service serves already (one service per domain, as primary or alias).
async fn check_domain_free(conn: &mut SqliteConnection, domain: &Domain) -> Result<(), StoreError> {
    let owner: Option<(String, bool)> = sqlx::query_as(
        "SELECT s.domain, d.is_alias FROM service_domains d JOIN services s ON s.id = d.service_id \
         WHERE d.domain = ?1",
    )
    .bind(domain.as_str())
    .fetch_optional(&mut *conn)
    .await
    .ctx("checking whether a domain is served")?;
    match owner {
        None => Ok(()),
        Some((_, false)) => Err(StoreError::Conflict(format!(
            "the mail service {domain} already exists"
        ))),
        Some((primary, true)) => Err(StoreError::Conflict(format!(
            "the domain {domain} is already an alias domain of the mail service {primary}"
        ))),
    }
}

// ---- Writes: each runs inside the writer's transaction.

async fn create_org_tx(
    conn: &mut SqliteConnection,
    name: String,
) -> Result<Written<Organization>, StoreError> {
    let key = name.to_lowercase();
    let existing: Option<String> =
        sqlx::query_scalar("SELECT name FROM organizations WHERE name_key = ?1")
            .bind(&key)
            .fetch_optional(&mut *conn)
            .await
            .ctx("checking for a duplicate organization")?;
    if let Some(existing) = existing {
        return Err(StoreError::Conflict(format!(
            "the organization {existing} already exists"
        )));
    }
    let created_at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO organizations (name, name_key, created_at) VALUES (?1, ?2, ?3) RETURNING id",
    )
    .bind(&name)
    .bind(&key)
    .bind(created_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, format!("the organization {name} already exists")))?;
    Ok(Written::value(Organization {
        id: OrgId(id),
        name,
        created_at,
    }))
}

pub(super) async fn create_user_tx(
    conn: &mut SqliteConnection,
    new: NewUser,
) -> Result<Written<UserAccount>, StoreError> {
    let taken = format!("a user account with the login {} already exists", new.login);
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE login = ?1")
        .bind(new.login.to_string())
        .fetch_optional(&mut *conn)
        .await
        .ctx("checking for a duplicate login")?;
    if existing.is_some() {
        return Err(StoreError::Conflict(taken));
    }
    let created_at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (login, display_name, password_hash, phone, phone_key, \
         recovery_email, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .bind(new.login.to_string())
    .bind(&new.display_name)
    .bind(&new.password_hash)
    .bind(&new.phone)
    .bind(new.phone.as_deref().and_then(phone_key))
    .bind(new.recovery_email.as_ref().map(Address::to_string))
    .bind(created_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, taken))?;
    Ok(Written::value(UserAccount {
        id: UserId(id),
        login: new.login,
        display_name: new.display_name,
        password_hash: new.password_hash,
        totp_secret: None,
        phone: new.phone,
        recovery_email: new.recovery_email,
        credential_epoch: 0,
        recovery_username: None,
        must_choose_login: false,
        created_at,
    }))
}

async fn set_user_password_tx(
    conn: &mut SqliteConnection,
    id: UserId,
    hash: String,
) -> Result<Written<u32>, StoreError> {
    let epoch: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET password_hash = ?2, credential_epoch = credential_epoch + 1 \
         WHERE id = ?1 RETURNING credential_epoch",
    )
    .bind(id.0)
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await
    .ctx("changing an account password")?;
    let epoch = epoch.ok_or_else(|| no_user(id))?;
    Ok(Written::value(int(epoch, "changing an account password")?))
}

async fn add_membership_tx(
    conn: &mut SqliteConnection,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<Written<Membership>, StoreError> {
    let org_name: Option<String> =
        sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?1")
            .bind(org.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx("looking up an organization")?;
    let org_name = org_name
        .ok_or_else(|| StoreError::NotFound(format!("there is no organization with id {org}")))?;
    let account = fetch_user(&mut *conn, user)
        .await?
        .ok_or_else(|| no_user(user))?;
    let already = format!("{} is already a member of {org_name}", account.login);
    let existing: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = ?1 AND user_id = ?2")
            .bind(org.0)
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx("checking for a membership")?;
    if existing.is_some() {
        return Err(StoreError::Conflict(already));
    }
    sqlx::query("INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3)")
        .bind(org.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, already))?;
    Ok(Written::value(Membership { org, user, role }))
}

async fn create_service_tx(
    conn: &mut SqliteConnection,
    new: NewService,
) -> Result<Written<MailService>, StoreError> {
    let org: Option<i64> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = ?1")
        .bind(new.org.0)
        .fetch_optional(&mut *conn)
        .await
        .ctx("looking up an organization")?;
    if org.is_none() {
        return Err(StoreError::NotFound(format!(
            "there is no organization with id {}",
            new.org
        )));
    }
    check_domain_free(conn, &new.domain).await?;
    let created_at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO services (org_id, domain, address_quota, features, default_permissions, \
         signature_templates, dkim, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         RETURNING id",
    )
    .bind(new.org.0)
    .bind(new.domain.as_str())
    .bind(i64::from(new.address_quota))
    .bind(to_json(&new.features)?)
    .bind(i64::from(new.default_permissions.bits()))
    .bind(to_json(&new.signature_templates)?)
    .bind(new.dkim.as_ref().map(to_json).transpose()?)
    .bind(created_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, format!("the mail service {} already exists", new.domain)))?;
    sqlx::query("INSERT INTO service_domains (domain, service_id, is_alias) VALUES (?1, ?2, 0)")
        .bind(new.domain.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, format!("the domain {} is already served", new.domain)))?;
    Ok(Written::value(MailService {
        id: ServiceId(id),
        org: new.org,
        domain: new.domain,
        address_quota: new.address_quota,
        alias_domains: Vec::new(),
        features: new.features,
        default_permissions: new.default_permissions,
        signature_templates: new.signature_templates,
        dkim: new.dkim,
        created_at,
    }))
}

async fn create_service_with_dkim_tx(
    conn: &mut SqliteConnection,
    new: NewService,
    key: NewDkimKey,
) -> Result<Written<(MailService, DkimKey)>, StoreError> {
    let mut service = create_service_tx(&mut *conn, new).await?.value;
    let key = put_dkim_key_tx(conn, service.id, key).await?.value;
    service.dkim = Some(key.key_ref());
    Ok(Written::value((service, key)))
}

async fn put_dkim_key_tx(
    conn: &mut SqliteConnection,
    service: ServiceId,
    key: NewDkimKey,
) -> Result<Written<DkimKey>, StoreError> {
    let found = fetch_service(&mut *conn, service)
        .await?
        .ok_or_else(|| no_service(service))?;
    let taken = format!(
        "the mail service {} already had a DKIM key with the selector {}",
        found.domain, key.selector
    );
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM dkim_keys WHERE service_id = ?1 AND selector = ?2")
            .bind(service.0)
            .bind(&key.selector)
            .fetch_optional(&mut *conn)
            .await
            .ctx("checking for a duplicate DKIM selector")?;
    if existing.is_some() {
        return Err(StoreError::Conflict(taken));
    }
    // The old key stays, inactive: mail signed with it may still be verified for a while
    // (RFC 6376 §3.6.2.1), and the administrator removes its record when that is over.
    sqlx::query("UPDATE dkim_keys SET active = 0 WHERE service_id = ?1 AND active = 1")
        .bind(service.0)
        .execute(&mut *conn)
        .await
        .ctx("retiring the active DKIM key")?;
    let created_at = now();
    sqlx::query(
        "INSERT INTO dkim_keys (service_id, selector, algorithm, private_key, public_key, \
         created_at, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
    )
    .bind(service.0)
    .bind(&key.selector)
    .bind(&key.algorithm)
    .bind(&key.private_key)
    .bind(&key.public_key)
    .bind(created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, taken))?;
    let stored = DkimKey {
        service,
        selector: key.selector,
        algorithm: key.algorithm,
        private_key: key.private_key,
        public_key: key.public_key,
        created_at,
        active: true,
    };
    sqlx::query("UPDATE services SET dkim = ?2 WHERE id = ?1")
        .bind(service.0)
        .bind(to_json(&stored.key_ref())?)
        .execute(&mut *conn)
        .await
        .ctx("naming the active DKIM key of a service")?;
    Ok(Written::value(stored))
}

async fn set_address_quota_tx(
    conn: &mut SqliteConnection,
    service: ServiceId,
    quota: u32,
) -> Result<Written<()>, StoreError> {
    fetch_service(&mut *conn, service)
        .await?
        .ok_or_else(|| no_service(service))?;
    let in_use = count_addresses(conn, service).await?;
    check_quota_change(quota, in_use)?;
    sqlx::query("UPDATE services SET address_quota = ?2 WHERE id = ?1")
        .bind(service.0)
        .bind(i64::from(quota))
        .execute(&mut *conn)
        .await
        .ctx("changing an address quota")?;
    Ok(Written::value(()))
}

async fn add_alias_domain_tx(
    conn: &mut SqliteConnection,
    service: ServiceId,
    domain: Domain,
) -> Result<Written<()>, StoreError> {
    fetch_service(&mut *conn, service)
        .await?
        .ok_or_else(|| no_service(service))?;
    check_domain_free(conn, &domain).await?;
    sqlx::query("INSERT INTO service_domains (domain, service_id, is_alias) VALUES (?1, ?2, 1)")
        .bind(domain.as_str())
        .bind(service.0)
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, format!("the domain {domain} is already served")))?;
    Ok(Written::value(()))
}

async fn remove_alias_domain_tx(
    conn: &mut SqliteConnection,
    service: ServiceId,
    domain: Domain,
) -> Result<Written<()>, StoreError> {
    let removed = sqlx::query(
        "DELETE FROM service_domains WHERE domain = ?1 AND service_id = ?2 AND is_alias = 1",
    )
    .bind(domain.as_str())
    .bind(service.0)
    .execute(&mut *conn)
    .await
    .ctx("removing an alias domain")?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "{domain} is not an alias domain of the mail service with id {service}"
        )));
    }
    Ok(Written::value(()))
}

async fn create_address_tx(
    conn: &mut SqliteConnection,
    new: NewAddress,
) -> Result<Written<HostedAddress>, StoreError> {
    let service = fetch_service(&mut *conn, new.service)
        .await?
        .ok_or_else(|| no_service(new.service))?;
    // SVC-2 against the live count, inside the transaction that inserts.
    service.check_address_quota(count_addresses(conn, service.id).await?)?;
    let address = Address::new(new.local.clone(), service.domain.clone())
        .map_err(postwerk_model::DirectoryError::from)?;
    let storage_limit = storage_limit_column(new.storage_limit)?;
    let mut hosted = HostedAddress {
        id: AddressId(0),
        service: service.id,
        address,
        kind: new.kind,
        display_name: new.display_name,
        password_hash: new.password_hash,
        credential_epoch: 0,
        enabled: true,
        storage_limit: new.storage_limit,
        redirect: new.redirect,
        created_at: now(),
    };
    hosted.validate()?;
    check_local_part_free(conn, &service, &new.local).await?;
    if hosted.kind == AddressKind::CatchAll {
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT address FROM addresses WHERE service_id = ?1 AND kind = 'catchall'",
        )
        .bind(service.id.0)
        .fetch_optional(&mut *conn)
        .await
        .ctx("looking for a catch-all address")?;
        if let Some(existing) = existing {
            return Err(StoreError::Conflict(format!(
                "the mail service {} already has a catch-all address, {existing}",
                service.domain
            )));
        }
    }
    let duplicate = format!("the address {} already exists", hosted.address);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO addresses (service_id, local_part, address, kind, display_name, \
         password_hash, storage_limit, redirect, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
    )
    .bind(service.id.0)
    .bind(new.local.as_str())
    .bind(hosted.address.to_string())
    .bind(hosted.kind.as_str())
    .bind(&hosted.display_name)
    .bind(&hosted.password_hash)
    .bind(storage_limit)
    .bind(hosted.redirect.as_ref().map(to_json).transpose()?)
    .bind(hosted.created_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, duplicate))?;
    hosted.id = AddressId(id);
    let mut events = Vec::new();
    if hosted.kind.holds_mail() {
        // ADDR-11: the special-use folders exist from the first moment.
        for (name, special_use) in DEFAULT_FOLDERS {
            let folder = mail::insert_folder(conn, hosted.id, name, special_use).await?;
            events.push(FolderEvent {
                folder: folder.id,
                mailbox: hosted.id,
                modseq: folder.highest_modseq,
                kind: FolderEventKind::Created,
            });
        }
    }
    Ok(Written::with_events(hosted, events))
}

async fn set_address_password_tx(
    conn: &mut SqliteConnection,
    id: AddressId,
    hash: String,
) -> Result<Written<u32>, StoreError> {
    let epoch: Option<i64> = sqlx::query_scalar(
        "UPDATE addresses SET password_hash = ?2, credential_epoch = credential_epoch + 1 \
         WHERE id = ?1 RETURNING credential_epoch",
    )
    .bind(id.0)
    .bind(&hash)
    .fetch_optional(&mut *conn)
    .await
    .ctx("changing a mailbox password")?;
    let epoch = epoch.ok_or_else(|| no_address(id))?;
    Ok(Written::value(int(epoch, "changing a mailbox password")?))
}

/// One setting of an address changed on its own, with the value to store.
enum AddressSetting {
    /// A disabled address refuses mail and logins.
    Enabled(bool),
    /// ADDR-10, in octets; `None` lifts the limit.
    StorageLimit(Option<i64>),
    /// The name shown with the address.
    DisplayName(String),
}

async fn set_address_setting_tx(
    conn: &mut SqliteConnection,
    id: AddressId,
    setting: AddressSetting,
) -> Result<Written<()>, StoreError> {
    let (query, what) = match setting {
        AddressSetting::Enabled(enabled) => (
            sqlx::query("UPDATE addresses SET enabled = ?1 WHERE id = ?2").bind(enabled),
            "enabling or disabling an address",
        ),
        AddressSetting::StorageLimit(limit) => (
            sqlx::query("UPDATE addresses SET storage_limit = ?1 WHERE id = ?2").bind(limit),
            "changing a storage limit",
        ),
        AddressSetting::DisplayName(name) => (
            sqlx::query("UPDATE addresses SET display_name = ?1 WHERE id = ?2").bind(name),
            "changing a display name",
        ),
    };
    // The value is bound first (`?1`), the id last (`?2`).
    let updated = query.bind(id.0).execute(&mut *conn).await.ctx(what)?;
    if updated.rows_affected() == 0 {
        return Err(no_address(id));
    }
    Ok(Written::value(()))
}

async fn set_redirect_tx(
    conn: &mut SqliteConnection,
    id: AddressId,
    redirect: Option<Redirection>,
) -> Result<Written<()>, StoreError> {
    let mut hosted = fetch_address(&mut *conn, id)
        .await?
        .ok_or_else(|| no_address(id))?;
    hosted.redirect = redirect;
    hosted.validate()?;
    sqlx::query("UPDATE addresses SET redirect = ?2 WHERE id = ?1")
        .bind(id.0)
        .bind(hosted.redirect.as_ref().map(to_json).transpose()?)
        .execute(&mut *conn)
        .await
        .ctx("changing a redirection")?;
    Ok(Written::value(()))
}

async fn delete_addresses_tx(
    conn: &mut SqliteConnection,
    ids: BTreeSet<AddressId>,
) -> Result<Written<Vec<UserAccount>>, StoreError> {
    let mut orphaned_logins = Vec::new();
    let mut events = Vec::new();
    for id in ids {
        let hosted = fetch_address(&mut *conn, id)
            .await?
            .ok_or_else(|| no_address(id))?;
        // ID-10: accounts that logged in with this address need a recovery username.
        let rows = sqlx::query(concat!(user_select!(), " WHERE login = ?1"))
            .bind(hosted.address.to_string())
            .fetch_all(&mut *conn)
            .await
            .ctx("looking up accounts by login")?;
        for row in &rows {
            orphaned_logins.push(user_from_row(row)?);
        }
        let folders: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, highest_modseq FROM folders WHERE mailbox_id = ?1")
                .bind(id.0)
                .fetch_all(&mut *conn)
                .await
                .ctx("listing the folders of a deleted address")?;
        // The messages go first: their trigger queues the contents for collection once the
        // commit is done (ADDR-8: contents no longer referenced are destroyed).
        for statement in [
            "DELETE FROM messages WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)",
            "DELETE FROM expunged WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = ?1)",
            "DELETE FROM folders WHERE mailbox_id = ?1",
            "DELETE FROM aliases WHERE address_id = ?1",
            "DELETE FROM access WHERE address_id = ?1",
            // Nothing of a deleted address stays: an open invitation would grant access to a
            // mailbox that no longer exists, or to a new one created under the same name.
            "DELETE FROM invitations WHERE address_id = ?1",
            "DELETE FROM sender_rules WHERE address_id = ?1",
            "DELETE FROM addresses WHERE id = ?1",
        ] {
            sqlx::query(statement)
                .bind(id.0)
                .execute(&mut *conn)
                .await
                .ctx("deleting an address")?;
        }
        for (folder, modseq) in folders {
            events.push(FolderEvent {
                folder: FolderId(folder),
                mailbox: id,
                modseq: int(modseq, "deleting an address")?,
                kind: FolderEventKind::Deleted,
            });
        }
    }
    for account in &mut orphaned_logins {
        issue_recovery_username(conn, account).await?;
    }
    Ok(Written::with_events(orphaned_logins, events).collect_garbage())
}

/// ID-10: how many random draws a recovery username gets before the deletion gives up. With
/// a million numbers per set of initials, even one collision is rare.
const RECOVERY_USERNAME_TRIES: usize = 20;

/// ID-10: gives an account whose login address is being deleted a recovery username (its
/// initials and random digits, unique among accounts) and marks that it must choose a new
/// login. The login itself stays: with the unchanged password it still names the account
/// until the person chooses another.
async fn issue_recovery_username(
    conn: &mut SqliteConnection,
    account: &mut UserAccount,
) -> Result<(), StoreError> {
    const WHAT: &str = "issuing a recovery username";
    for _ in 0..RECOVERY_USERNAME_TRIES {
        // SQLite's random() draws from its own generator, seeded by the operating system: the
        // store has no other source of randomness.
        let draw: i64 = sqlx::query_scalar("SELECT random()")
            .fetch_one(&mut *conn)
            .await
            .ctx(WHAT)?;
        let digits = u32::try_from(draw.rem_euclid(1_000_000)).unwrap_or_default();
        let username = recovery_username(&account.display_name, &account.login, digits);
        let holder: Option<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE recovery_username = ?1 AND id <> ?2")
                .bind(username.as_str())
                .bind(account.id.0)
                .fetch_optional(&mut *conn)
                .await
                .ctx(WHAT)?;
        if holder.is_some() {
            continue;
        }
        sqlx::query("UPDATE users SET recovery_username = ?2, must_choose_login = 1 WHERE id = ?1")
            .bind(account.id.0)
            .bind(username.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, format!("the recovery username {username} is taken")))?;
        account.recovery_username = Some(username);
        account.must_choose_login = true;
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "no free recovery username was found for the account {}; try the deletion again",
        account.login
    )))
}

async fn add_alias_tx(
    conn: &mut SqliteConnection,
    address: AddressId,
    local: LocalPart,
) -> Result<Written<Alias>, StoreError> {
    let hosted = fetch_address(&mut *conn, address)
        .await?
        .ok_or_else(|| no_address(address))?;
    let service = fetch_service(&mut *conn, hosted.service)
        .await?
        .ok_or_else(|| no_service(hosted.service))?;
    Ok(Written::value(
        insert_alias(conn, &service, address, local).await?,
    ))
}

/// ADDR-6's checks and the insert of one alias of `address`, an address of `service`.
async fn insert_alias(
    conn: &mut SqliteConnection,
    service: &MailService,
    address: AddressId,
    local: LocalPart,
) -> Result<Alias, StoreError> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aliases WHERE address_id = ?1")
        .bind(address.0)
        .fetch_one(&mut *conn)
        .await
        .ctx("counting aliases")?;
    // ADDR-6: aliases enabled for the plan, and at most 50 per address.
    check_new_alias(&service.features, int(existing, "counting aliases")?)?;
    check_local_part_free(conn, service, &local).await?;
    let created_at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO aliases (address_id, service_id, local_part, created_at) \
         VALUES (?1, ?2, ?3, ?4) RETURNING id",
    )
    .bind(address.0)
    .bind(service.id.0)
    .bind(local.as_str())
    .bind(created_at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, format!("{local}@{} already exists", service.domain)))?;
    Ok(Alias {
        id: AliasId(id),
        address,
        local,
        created_at,
    })
}

async fn remove_alias_tx(
    conn: &mut SqliteConnection,
    id: AliasId,
) -> Result<Written<()>, StoreError> {
    let removed = sqlx::query("DELETE FROM aliases WHERE id = ?1")
        .bind(id.0)
        .execute(&mut *conn)
        .await
        .ctx("removing an alias")?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "there is no alias with id {id}"
        )));
    }
    Ok(Written::value(()))
}

pub(super) async fn grant_access_tx(
    conn: &mut SqliteConnection,
    access: Access,
) -> Result<Written<Access>, StoreError> {
    fetch_user(&mut *conn, access.user)
        .await?
        .ok_or_else(|| no_user(access.user))?;
    fetch_address(&mut *conn, access.address)
        .await?
        .ok_or_else(|| no_address(access.address))?;
    sqlx::query(
        "INSERT INTO access (user_id, address_id, permissions, signature) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_id, address_id) DO UPDATE SET permissions = excluded.permissions, \
         signature = excluded.signature",
    )
    .bind(access.user.0)
    .bind(access.address.0)
    .bind(i64::from(access.permissions.bits()))
    .bind(&access.signature)
    .execute(&mut *conn)
    .await
    .ctx("granting access")?;
    // ID-5 (b): a second account with access to the mailbox ends its unification.
    sqlx::query("UPDATE access SET unified = 0 WHERE address_id = ?1 AND user_id <> ?2")
        .bind(access.address.0)
        .bind(access.user.0)
        .execute(&mut *conn)
        .await
        .ctx("ending a password unification")?;
    // ID-5 (c): without the permission to change the mailbox's password, neither can change
    // both.
    if !access.permissions.contains(Permissions::CHANGE_PASSWORD) {
        sqlx::query("UPDATE access SET unified = 0 WHERE address_id = ?1 AND user_id = ?2")
            .bind(access.address.0)
            .bind(access.user.0)
            .execute(&mut *conn)
            .await
            .ctx("ending a password unification")?;
    }
    Ok(Written::value(access))
}

async fn revoke_access_tx(
    conn: &mut SqliteConnection,
    user: UserId,
    address: AddressId,
) -> Result<Written<()>, StoreError> {
    let removed = sqlx::query("DELETE FROM access WHERE user_id = ?1 AND address_id = ?2")
        .bind(user.0)
        .bind(address.0)
        .execute(&mut *conn)
        .await
        .ctx("revoking access")?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "the user account {user} has no access to the address {address}"
        )));
    }
    Ok(Written::value(()))
}

/// SND-1: a send-as grant; both addresses must exist, and a grant to itself means nothing.
async fn grant_send_as_tx(
    conn: &mut SqliteConnection,
    mailbox: AddressId,
    address: AddressId,
) -> Result<Written<()>, StoreError> {
    if mailbox == address {
        return Err(StoreError::Refused(format!(
            "the address {address} sends as itself already; it needs no grant for that"
        )));
    }
    for id in [mailbox, address] {
        fetch_address(&mut *conn, id)
            .await?
            .ok_or_else(|| no_address(id))?;
    }
    sqlx::query(
        "INSERT INTO send_as_grants (mailbox_id, address_id, created_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (mailbox_id, address_id) DO NOTHING",
    )
    .bind(mailbox.0)
    .bind(address.0)
    .bind(now())
    .execute(&mut *conn)
    .await
    .ctx("granting send-as")?;
    Ok(Written::value(()))
}

async fn revoke_send_as_tx(
    conn: &mut SqliteConnection,
    mailbox: AddressId,
    address: AddressId,
) -> Result<Written<()>, StoreError> {
    let removed =
        sqlx::query("DELETE FROM send_as_grants WHERE mailbox_id = ?1 AND address_id = ?2")
            .bind(mailbox.0)
            .bind(address.0)
            .execute(&mut *conn)
            .await
            .ctx("revoking send-as")?;
    if removed.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "the address {mailbox} has no grant to send as the address {address}"
        )));
    }
    Ok(Written::value(()))
}

/// A storage limit as the column holds it; a limit beyond what the column can hold is refused
/// rather than wrapped into a small or negative one.
fn storage_limit_column(limit: Option<u64>) -> Result<Option<i64>, StoreError> {
    limit
        .map(|l| {
            i64::try_from(l).map_err(|_| {
                StoreError::Refused(format!("a storage limit of {l} octets is too large"))
            })
        })
        .transpose()
}

/// A member of an organization as the membership writes need it: the organization's name and
/// the account's login for their sentences, and the current role.
struct Member {
    org_name: String,
    login: Address,
    role: Role,
}

/// The membership of `user` in `org`; `NotFound` naming what is missing.
async fn fetch_member(
    conn: &mut SqliteConnection,
    org: OrgId,
    user: UserId,
) -> Result<Member, StoreError> {
    let org_name: Option<String> =
        sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?1")
            .bind(org.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx("looking up an organization")?;
    let org_name = org_name
        .ok_or_else(|| StoreError::NotFound(format!("there is no organization with id {org}")))?;
    let account = fetch_user(&mut *conn, user)
        .await?
        .ok_or_else(|| no_user(user))?;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = ?1 AND user_id = ?2")
            .bind(org.0)
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await
            .ctx("looking up a membership")?;
    let Some(role) = role else {
        return Err(StoreError::NotFound(format!(
            "{} is not a member of {org_name}",
            account.login
        )));
    };
    Ok(Member {
        org_name,
        login: account.login,
        role: parse(&role, "looking up a membership")?,
    })
}

/// ORG-1: an organization always keeps an owner, someone who can manage everything else in
/// it. Refuses when `member`, an owner, is the only one.
async fn check_another_owner(
    conn: &mut SqliteConnection,
    org: OrgId,
    user: UserId,
    member: &Member,
) -> Result<(), StoreError> {
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE org_id = ?1 AND role = ?2 AND user_id <> ?3",
    )
    .bind(org.0)
    .bind(Role::Owner.as_str())
    .bind(user.0)
    .fetch_one(&mut *conn)
    .await
    .ctx("counting the owners of an organization")?;
    if others == 0 {
        return Err(StoreError::Refused(format!(
            "{} is the last owner of {}; make another member an owner first",
            member.login, member.org_name
        )));
    }
    Ok(())
}

async fn set_membership_role_tx(
    conn: &mut SqliteConnection,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<Written<Membership>, StoreError> {
    let member = fetch_member(conn, org, user).await?;
    if member.role == Role::Owner && role != Role::Owner {
        check_another_owner(conn, org, user, &member).await?;
    }
    sqlx::query("UPDATE memberships SET role = ?3 WHERE org_id = ?1 AND user_id = ?2")
        .bind(org.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&mut *conn)
        .await
        .ctx("changing a member's role")?;
    Ok(Written::value(Membership { org, user, role }))
}

async fn remove_membership_tx(
    conn: &mut SqliteConnection,
    org: OrgId,
    user: UserId,
) -> Result<Written<()>, StoreError> {
    let member = fetch_member(conn, org, user).await?;
    if member.role == Role::Owner {
        check_another_owner(conn, org, user, &member).await?;
    }
    // Access to the organization's mailboxes came with the membership (ADDR-9); access to
    // mailboxes of other organizations the account belongs to stays.
    sqlx::query(
        "DELETE FROM access WHERE user_id = ?1 AND address_id IN \
         (SELECT a.id FROM addresses a JOIN services s ON s.id = a.service_id \
          WHERE s.org_id = ?2)",
    )
    .bind(user.0)
    .bind(org.0)
    .execute(&mut *conn)
    .await
    .ctx("removing a former member's access")?;
    sqlx::query("DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2")
        .bind(org.0)
        .bind(user.0)
        .execute(&mut *conn)
        .await
        .ctx("removing a member")?;
    Ok(Written::value(()))
}

/// SVC-4: templates are picked by name, so every template needs one, and two with the same
/// name (ignoring case and surrounding spaces, as a person reading the picker would) could not
/// be told apart.
fn check_signature_templates(templates: &[SignatureTemplate]) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    for template in templates {
        let name = template.name.trim();
        if name.is_empty() {
            return Err(StoreError::Refused(
                "every signature template needs a name".to_owned(),
            ));
        }
        if !seen.insert(name.to_lowercase()) {
            return Err(StoreError::Refused(format!(
                "two signature templates are named \"{name}\"; give each a different name"
            )));
        }
    }
    Ok(())
}

async fn set_service_settings_tx(
    conn: &mut SqliteConnection,
    service: ServiceId,
    settings: ServiceSettings,
) -> Result<Written<MailService>, StoreError> {
    check_signature_templates(&settings.signature_templates)?;
    let updated = sqlx::query(
        "UPDATE services SET features = ?2, default_permissions = ?3, signature_templates = ?4 \
         WHERE id = ?1",
    )
    .bind(service.0)
    .bind(to_json(&settings.features)?)
    .bind(i64::from(settings.default_permissions.bits()))
    .bind(to_json(&settings.signature_templates)?)
    .execute(&mut *conn)
    .await
    .ctx("changing the settings of a mail service")?;
    if updated.rows_affected() == 0 {
        return Err(no_service(service));
    }
    let changed = fetch_service(&mut *conn, service)
        .await?
        .ok_or_else(|| no_service(service))?;
    Ok(Written::value(changed))
}

/// One alias refused among the several of `create_address_with`: the sentence says which.
fn naming_alias(error: StoreError, local: &LocalPart, domain: &Domain) -> StoreError {
    let refused =
        |why: &dyn std::fmt::Display| format!("the alias {local}@{domain} cannot be added: {why}");
    match error {
        // The model's error carries no alias, so the reworded sentence becomes a refusal.
        StoreError::Rule(rule) => StoreError::Refused(refused(&rule)),
        StoreError::Conflict(sentence) => StoreError::Conflict(refused(&sentence)),
        other => other,
    }
}

async fn create_address_with_tx(
    conn: &mut SqliteConnection,
    new: NewAddress,
    extras: AddressExtras,
) -> Result<Written<HostedAddress>, StoreError> {
    // Any `?` below drops the whole job: the writer rolls its savepoint back, so the address,
    // its folders, aliases and grants are all created or none is (ADDR-1 b, ADDR-3).
    let created = create_address_tx(&mut *conn, new).await?;
    let hosted = &created.value;
    let service = fetch_service(&mut *conn, hosted.service)
        .await?
        .ok_or_else(|| no_service(hosted.service))?;
    for local in extras.aliases {
        insert_alias(conn, &service, hosted.id, local.clone())
            .await
            .map_err(|e| naming_alias(e, &local, &service.domain))?;
    }
    for (user, permissions, signature) in extras.access {
        let access = Access {
            user,
            address: hosted.id,
            permissions,
            signature,
        };
        grant_access_tx(conn, access).await?;
    }
    Ok(created)
}

#[async_trait]
impl Directory for SqliteStore {
    async fn set_membership_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
    ) -> Result<Membership, StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_membership_role_tx(conn, org, user, role)))
            .await
    }

    async fn remove_membership(&self, org: OrgId, user: UserId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(remove_membership_tx(conn, org, user)))
            .await
    }

    async fn set_service_settings(
        &self,
        service: ServiceId,
        settings: ServiceSettings,
    ) -> Result<MailService, StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_service_settings_tx(conn, service, settings)))
            .await
    }

    async fn create_address_with(
        &self,
        new: NewAddress,
        extras: AddressExtras,
    ) -> Result<HostedAddress, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_address_with_tx(conn, new, extras)))
            .await
    }

    async fn set_storage_limit(&self, id: AddressId, limit: Option<u64>) -> Result<(), StoreError> {
        let setting = AddressSetting::StorageLimit(storage_limit_column(limit)?);
        self.writer
            .write(move |conn| Box::pin(set_address_setting_tx(conn, id, setting)))
            .await
    }

    async fn set_address_display_name(
        &self,
        id: AddressId,
        display_name: &str,
    ) -> Result<(), StoreError> {
        let setting = AddressSetting::DisplayName(display_name.to_owned());
        self.writer
            .write(move |conn| Box::pin(set_address_setting_tx(conn, id, setting)))
            .await
    }

    async fn create_org(&self, name: &str) -> Result<Organization, StoreError> {
        let name = validate_org_name(name)?;
        self.writer
            .write(move |conn| Box::pin(create_org_tx(conn, name)))
            .await
    }

    async fn org(&self, id: OrgId) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query(concat!(org_select!(), " WHERE id = ?1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up an organization")?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn org_by_name(&self, name: &str) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query(concat!(org_select!(), " WHERE name_key = ?1"))
            .bind(name.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up an organization")?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Organization>, StoreError> {
        let rows = sqlx::query(concat!(org_select!(), " ORDER BY name_key"))
            .fetch_all(&self.pool)
            .await
            .ctx("listing organizations")?;
        rows.iter().map(org_from_row).collect()
    }

    async fn create_user(&self, new: NewUser) -> Result<UserAccount, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_user_tx(conn, new)))
            .await
    }

    async fn user(&self, id: UserId) -> Result<Option<UserAccount>, StoreError> {
        fetch_user(&self.pool, id).await
    }

    async fn user_by_login(&self, login: &Address) -> Result<Option<UserAccount>, StoreError> {
        let row = sqlx::query(concat!(user_select!(), " WHERE login = ?1"))
            .bind(login.to_string())
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up a user account")?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> Result<Vec<UserAccount>, StoreError> {
        let rows = sqlx::query(concat!(user_select!(), " ORDER BY login"))
            .fetch_all(&self.pool)
            .await
            .ctx("listing user accounts")?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_user_password(&self, id: UserId, password_hash: &str) -> Result<u32, StoreError> {
        let hash = password_hash.to_owned();
        self.writer
            .write(move |conn| Box::pin(set_user_password_tx(conn, id, hash)))
            .await
    }

    async fn add_membership(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
    ) -> Result<Membership, StoreError> {
        self.writer
            .write(move |conn| Box::pin(add_membership_tx(conn, org, user, role)))
            .await
    }

    async fn org_members(&self, org: OrgId) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, user_id, role FROM memberships WHERE org_id = ?1 ORDER BY user_id",
        )
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing members")?;
        rows.iter().map(membership_from_row).collect()
    }

    async fn user_memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, user_id, role FROM memberships WHERE user_id = ?1 ORDER BY org_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing memberships")?;
        rows.iter().map(membership_from_row).collect()
    }

    async fn create_service(&self, new: NewService) -> Result<MailService, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_service_tx(conn, new)))
            .await
    }

    async fn service(&self, id: ServiceId) -> Result<Option<MailService>, StoreError> {
        fetch_service(&self.pool, id).await
    }

    async fn service_by_domain(&self, domain: &Domain) -> Result<Option<MailService>, StoreError> {
        let row = sqlx::query(concat!(
            service_select!(),
            " WHERE s.id = (SELECT service_id FROM service_domains WHERE domain = ?1)"
        ))
        .bind(domain.as_str())
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a mail service")?;
        row.as_ref().map(service_from_row).transpose()
    }

    async fn list_services(&self, org: Option<OrgId>) -> Result<Vec<MailService>, StoreError> {
        let rows = sqlx::query(concat!(
            service_select!(),
            " WHERE ?1 IS NULL OR s.org_id = ?1 ORDER BY s.domain"
        ))
        .bind(org.map(|o| o.0))
        .fetch_all(&self.pool)
        .await
        .ctx("listing mail services")?;
        rows.iter().map(service_from_row).collect()
    }

    async fn address_count(&self, service: ServiceId) -> Result<u32, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM addresses WHERE service_id = ?1")
            .bind(service.0)
            .fetch_one(&self.pool)
            .await
            .ctx("counting addresses")?;
        int(count, "counting addresses")
    }

    async fn set_address_quota(&self, service: ServiceId, quota: u32) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_address_quota_tx(conn, service, quota)))
            .await
    }

    async fn add_alias_domain(
        &self,
        service: ServiceId,
        domain: &Domain,
    ) -> Result<(), StoreError> {
        let domain = domain.clone();
        self.writer
            .write(move |conn| Box::pin(add_alias_domain_tx(conn, service, domain)))
            .await
    }

    async fn remove_alias_domain(
        &self,
        service: ServiceId,
        domain: &Domain,
    ) -> Result<(), StoreError> {
        let domain = domain.clone();
        self.writer
            .write(move |conn| Box::pin(remove_alias_domain_tx(conn, service, domain)))
            .await
    }

    async fn create_service_with_dkim(
        &self,
        new: NewService,
        key: NewDkimKey,
    ) -> Result<(MailService, DkimKey), StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_service_with_dkim_tx(conn, new, key)))
            .await
    }

    async fn put_dkim_key(
        &self,
        service: ServiceId,
        key: NewDkimKey,
    ) -> Result<DkimKey, StoreError> {
        self.writer
            .write(move |conn| Box::pin(put_dkim_key_tx(conn, service, key)))
            .await
    }

    async fn active_dkim_key(&self, service: ServiceId) -> Result<Option<DkimKey>, StoreError> {
        let row = sqlx::query(concat!(
            dkim_select!(),
            " WHERE service_id = ?1 AND active = 1"
        ))
        .bind(service.0)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up the active DKIM key")?;
        row.as_ref().map(dkim_key_from_row).transpose()
    }

    async fn dkim_keys(&self, service: ServiceId) -> Result<Vec<DkimKey>, StoreError> {
        let rows = sqlx::query(concat!(
            dkim_select!(),
            " WHERE service_id = ?1 ORDER BY created_at, id"
        ))
        .bind(service.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing DKIM keys")?;
        rows.iter().map(dkim_key_from_row).collect()
    }

    async fn create_address(&self, new: NewAddress) -> Result<HostedAddress, StoreError> {
        self.writer
            .write(move |conn| Box::pin(create_address_tx(conn, new)))
            .await
    }

    async fn address(&self, id: AddressId) -> Result<Option<HostedAddress>, StoreError> {
        fetch_address(&self.pool, id).await
    }

    async fn address_by_address(
        &self,
        address: &Address,
    ) -> Result<Option<HostedAddress>, StoreError> {
        let row = sqlx::query(concat!(address_select!(), " WHERE a.address = ?1"))
            .bind(address.to_string())
            .fetch_optional(&self.pool)
            .await
            .ctx("looking up an address")?;
        row.as_ref().map(address_from_row).transpose()
    }

    async fn list_addresses(&self, service: ServiceId) -> Result<Vec<HostedAddress>, StoreError> {
        let rows = sqlx::query(concat!(
            address_select!(),
            " WHERE a.service_id = ?1 ORDER BY a.local_part"
        ))
        .bind(service.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing addresses")?;
        rows.iter().map(address_from_row).collect()
    }

    async fn set_address_password(
        &self,
        id: AddressId,
        password_hash: &str,
    ) -> Result<u32, StoreError> {
        let hash = password_hash.to_owned();
        let epoch = self
            .writer
            .write(move |conn| Box::pin(set_address_password_tx(conn, id, hash)))
            .await?;
        // ID-6: after the commit, so sessions in IDLE that re-check see the new epoch.
        self.events.publish_credentials(id);
        Ok(epoch)
    }

    async fn set_address_enabled(&self, id: AddressId, enabled: bool) -> Result<(), StoreError> {
        let setting = AddressSetting::Enabled(enabled);
        self.writer
            .write(move |conn| Box::pin(set_address_setting_tx(conn, id, setting)))
            .await?;
        // ID-6: a disabled mailbox ends its sessions at once, IDLE included.
        if !enabled {
            self.events.publish_credentials(id);
        }
        Ok(())
    }

    async fn set_redirect(
        &self,
        id: AddressId,
        redirect: Option<Redirection>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(set_redirect_tx(conn, id, redirect)))
            .await
    }

    async fn delete_addresses(&self, ids: &[AddressId]) -> Result<Vec<UserAccount>, StoreError> {
        // A repeated id names the same address once.
        let ids: BTreeSet<AddressId> = ids.iter().copied().collect();
        let deleted = ids.clone();
        let orphaned = self
            .writer
            .write(move |conn| Box::pin(delete_addresses_tx(conn, ids)))
            .await?;
        // ID-6: sessions of a deleted mailbox end at once, IDLE included.
        for id in deleted {
            self.events.publish_credentials(id);
        }
        Ok(orphaned)
    }

    async fn add_alias(&self, address: AddressId, local: &LocalPart) -> Result<Alias, StoreError> {
        let local = local.clone();
        self.writer
            .write(move |conn| Box::pin(add_alias_tx(conn, address, local)))
            .await
    }

    async fn remove_alias(&self, id: AliasId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(remove_alias_tx(conn, id)))
            .await
    }

    async fn list_aliases(&self, address: AddressId) -> Result<Vec<Alias>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, address_id, local_part, created_at FROM aliases WHERE address_id = ?1 \
             ORDER BY local_part",
        )
        .bind(address.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing aliases")?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn grant_access(
        &self,
        user: UserId,
        address: AddressId,
        permissions: Permissions,
        signature: Option<String>,
    ) -> Result<Access, StoreError> {
        let access = Access {
            user,
            address,
            permissions,
            signature,
        };
        self.writer
            .write(move |conn| Box::pin(grant_access_tx(conn, access)))
            .await
    }

    async fn revoke_access(&self, user: UserId, address: AddressId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(revoke_access_tx(conn, user, address)))
            .await
    }

    async fn address_access(&self, address: AddressId) -> Result<Vec<Access>, StoreError> {
        let rows = sqlx::query(concat!(
            access_select!(),
            " WHERE address_id = ?1 ORDER BY user_id"
        ))
        .bind(address.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing access grants")?;
        rows.iter().map(access_from_row).collect()
    }

    async fn user_access(&self, user: UserId) -> Result<Vec<Access>, StoreError> {
        let rows = sqlx::query(concat!(
            access_select!(),
            " WHERE user_id = ?1 ORDER BY address_id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing access grants")?;
        rows.iter().map(access_from_row).collect()
    }

    async fn grant_send_as(
        &self,
        mailbox: AddressId,
        address: AddressId,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(grant_send_as_tx(conn, mailbox, address)))
            .await
    }

    async fn revoke_send_as(
        &self,
        mailbox: AddressId,
        address: AddressId,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| Box::pin(revoke_send_as_tx(conn, mailbox, address)))
            .await
    }

    async fn send_as_grants(&self, mailbox: AddressId) -> Result<Vec<HostedAddress>, StoreError> {
        let rows = sqlx::query(concat!(
            address_select!(),
            " JOIN send_as_grants g ON g.address_id = a.id WHERE g.mailbox_id = ?1 \
             ORDER BY a.address"
        ))
        .bind(mailbox.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing send-as grants")?;
        rows.iter().map(address_from_row).collect()
    }

    async fn send_as_holders(&self, address: AddressId) -> Result<Vec<HostedAddress>, StoreError> {
        let rows = sqlx::query(concat!(
            address_select!(),
            " JOIN send_as_grants g ON g.mailbox_id = a.id WHERE g.address_id = ?1 \
             ORDER BY a.address"
        ))
        .bind(address.0)
        .fetch_all(&self.pool)
        .await
        .ctx("listing send-as grants")?;
        rows.iter().map(address_from_row).collect()
    }

    async fn may_send_as(
        &self,
        mailbox: AddressId,
        address: AddressId,
    ) -> Result<bool, StoreError> {
        let granted: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM send_as_grants WHERE mailbox_id = ?1 AND address_id = ?2",
        )
        .bind(mailbox.0)
        .bind(address.0)
        .fetch_optional(&self.pool)
        .await
        .ctx("checking a send-as grant")?;
        Ok(granted.is_some())
    }

    async fn resolve_facts(&self, recipient: &Address) -> Result<Facts, StoreError> {
        const WHAT: &str = "resolving a recipient";
        // One statement, so the answers come from one snapshot without a transaction around
        // them: a recipient is resolved at every RCPT, and each statement is a round trip to
        // the database thread (issue 3's ingest profile). No row: the domain is not hosted;
        // otherwise a row per address found, or one with `matched` NULL when none is.
        // SVC-3: an alias-domain address is looked up under the primary domain; aliases and
        // the catch-all are per service, so the same query serves both cases.
        let rows = sqlx::query(concat!(
            "WITH svc AS (SELECT s.id AS resolved_service, s.domain AS resolved_domain, \
             d.is_alias AS resolved_via_alias FROM service_domains d \
             JOIN services s ON s.id = d.service_id WHERE d.domain = ?1), \
             hits AS (SELECT 'exact' AS matched, a.* FROM (",
            address_select!(),
            " WHERE a.service_id = (SELECT resolved_service FROM svc) AND a.local_part = ?2) a \
             UNION ALL SELECT 'alias' AS matched, a.* FROM (",
            address_select!(),
            " JOIN aliases x ON x.address_id = a.id \
             WHERE x.service_id = (SELECT resolved_service FROM svc) AND x.local_part = ?2) a \
             UNION ALL SELECT 'catchall' AS matched, a.* FROM (",
            address_select!(),
            " WHERE a.service_id = (SELECT resolved_service FROM svc) AND a.kind = 'catchall') a) \
             SELECT svc.*, hits.* FROM svc LEFT JOIN hits ON 1"
        ))
        .bind(recipient.domain().as_str())
        .bind(recipient.local().as_str())
        .fetch_all(&self.pool)
        .await
        .ctx(WHAT)?;
        let Some(first) = rows.first() else {
            return Ok(Facts::not_local());
        };
        let service_id: i64 = first.try_get("resolved_service").ctx(WHAT)?;
        let domain: String = first.try_get("resolved_domain").ctx(WHAT)?;
        let via_alias_domain: bool = first.try_get("resolved_via_alias").ctx(WHAT)?;
        let mut facts = Facts {
            service: Some(ServiceFacts {
                id: ServiceId(service_id),
                domain: parse(&domain, "resolving a recipient")?,
                via_alias_domain,
            }),
            ..Facts::default()
        };
        for row in &rows {
            let Some(matched) = row.try_get::<Option<&str>, _>("matched").ctx(WHAT)? else {
                continue;
            };
            let hosted = Some(address_from_row(row)?);
            match matched {
                "exact" => facts.exact = hosted,
                "alias" => facts.alias_of = hosted,
                _ => facts.catch_all = hosted,
            }
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use postwerk_model::{Domain, Permissions, ServiceFeatures};

    use super::super::fixture;
    use crate::{NewDkimKey, NewService, StoreError};

    fn key(selector: &str, secret: u8) -> NewDkimKey {
        NewDkimKey {
            selector: selector.to_owned(),
            algorithm: "rsa-sha256".to_owned(),
            private_key: vec![secret; 8],
            public_key: format!("PUB{selector}"),
        }
    }

    fn new_service(org: postwerk_model::OrgId, domain: &str) -> NewService {
        NewService {
            org,
            domain: Domain::parse(domain).expect("domain"),
            address_quota: 10,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        }
    }

    /// SVC-1: rotation adds a key and makes it the active one; the old one stays, inactive, so
    /// its record can be removed from the zone later; the service names the active key.
    #[tokio::test]
    async fn svc_1_dkim_rotation_keeps_old_keys_inactive() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = crate::open_sqlite(dir.path()).await.expect("open");
        let toto = fixture::mailbox_toto(&stores, 5).await;
        let d = &stores.directory;
        let service = toto.service;
        assert_eq!(d.active_dkim_key(service).await.expect("active"), None);
        assert!(d.dkim_keys(service).await.expect("keys").is_empty());

        let first = d
            .put_dkim_key(service, key("pw202601", 1))
            .await
            .expect("put");
        assert!(first.active);
        assert_eq!(first.private_key, vec![1; 8]);
        assert_eq!(
            d.active_dkim_key(service).await.expect("active"),
            Some(first.clone())
        );
        let second = d
            .put_dkim_key(service, key("pw202602", 2))
            .await
            .expect("rotate");
        let keys = d.dkim_keys(service).await.expect("keys");
        assert_eq!(
            keys.iter()
                .map(|k| (k.selector.as_str(), k.active))
                .collect::<Vec<_>>(),
            [("pw202601", false), ("pw202602", true)]
        );
        assert_eq!(
            d.active_dkim_key(service).await.expect("active"),
            Some(second.clone())
        );
        let named = d.service(service).await.expect("service").expect("exists");
        assert_eq!(named.dkim, Some(second.key_ref()));

        // A selector is never reused within a service: a receiver may have cached its record.
        let again = d.put_dkim_key(service, key("pw202601", 3)).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert_eq!(d.dkim_keys(service).await.expect("keys"), keys, "unchanged");

        let missing = d
            .put_dkim_key(postwerk_model::ServiceId(9999), key("pw1", 4))
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
        stores.close().await;

        // Durable: the same keys after a restart.
        let stores = crate::open_sqlite(dir.path()).await.expect("reopen");
        assert_eq!(
            stores.directory.dkim_keys(service).await.expect("keys"),
            keys
        );
        stores.close().await;
    }

    /// A service created with its key never exists without it; a refused creation stores
    /// no key.
    #[tokio::test]
    async fn svc_1_service_created_with_its_dkim_key() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = crate::open_sqlite(dir.path()).await.expect("open");
        let d = &stores.directory;
        let org = d.create_org("Org").await.expect("org");
        let (service, stored) = d
            .create_service_with_dkim(new_service(org.id, "abc.xyz"), key("pw202611", 7))
            .await
            .expect("service");
        assert_eq!(service.dkim, Some(stored.key_ref()));
        assert_eq!(
            d.service(service.id).await.expect("service"),
            Some(service.clone()),
            "what was returned is what is stored"
        );
        assert_eq!(
            d.active_dkim_key(service.id).await.expect("active"),
            Some(stored)
        );

        let duplicate = d
            .create_service_with_dkim(new_service(org.id, "abc.xyz"), key("pw202612", 8))
            .await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict(_))),
            "{duplicate:?}"
        );
        assert_eq!(d.dkim_keys(service.id).await.expect("keys").len(), 1);
        stores.close().await;
    }

    /// The private key never shows in `Debug` output (and so in no log line that formats one).
    #[test]
    fn dkim_key_debug_hides_the_private_key() {
        let new = key("pw1", 0xAB);
        let printed = format!("{new:?}");
        assert!(
            printed.contains("pw1") && printed.contains("<redacted>"),
            "{printed}"
        );
        assert!(!printed.contains("171"), "{printed}");
        let stored = crate::DkimKey {
            service: postwerk_model::ServiceId(1),
            selector: new.selector,
            algorithm: new.algorithm,
            private_key: new.private_key,
            public_key: new.public_key,
            created_at: 0,
            active: true,
        };
        let printed = format!("{stored:?} {stored:#?}");
        assert!(
            !printed.contains("171") && printed.contains("<redacted>"),
            "{printed}"
        );
    }

    /// SND-1: a send-as grant is found by the guards' check, listed from both sides, granted
    /// twice without harm, revoked once, and taken away with either address (ADDR-8).
    #[tokio::test]
    async fn snd_1_send_as_grant_revoke_and_cascade() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let stores = crate::open_sqlite(dir.path()).await.expect("open");
        let toto = fixture::mailbox_toto(&stores, 5).await;
        let d = &stores.directory;
        let new = |name: &str, kind| crate::NewAddress {
            service: toto.service,
            local: postwerk_model::LocalPart::parse(name).expect("local part"),
            kind,
            display_name: String::new(),
            password_hash: None,
            redirect: None,
            storage_limit: None,
        };
        let sales = d
            .create_address(new("sales", postwerk_model::AddressKind::Mailbox))
            .await
            .expect("sales");
        let anna = d
            .create_address(new("anna", postwerk_model::AddressKind::Mailbox))
            .await
            .expect("anna");
        let noreply = d
            .create_address(new("noreply", postwerk_model::AddressKind::NoReply))
            .await
            .expect("noreply");

        assert!(!d.may_send_as(anna.id, sales.id).await.expect("check"));
        d.grant_send_as(anna.id, sales.id).await.expect("grant");
        d.grant_send_as(anna.id, sales.id)
            .await
            .expect("granted again");
        d.grant_send_as(anna.id, noreply.id).await.expect("grant");
        d.grant_send_as(toto.id, sales.id).await.expect("grant");
        assert!(d.may_send_as(anna.id, sales.id).await.expect("check"));
        // A grant goes one way only.
        assert!(!d.may_send_as(sales.id, anna.id).await.expect("check"));
        let names = |list: Vec<postwerk_model::HostedAddress>| {
            list.iter()
                .map(|a| a.address.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(d.send_as_grants(anna.id).await.expect("list")),
            ["noreply@abc.xyz", "sales@abc.xyz"]
        );
        assert_eq!(
            names(d.send_as_holders(sales.id).await.expect("list")),
            ["anna@abc.xyz", "toto@abc.xyz"]
        );
        assert!(matches!(
            d.grant_send_as(anna.id, anna.id).await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            d.grant_send_as(anna.id, postwerk_model::AddressId(999))
                .await,
            Err(StoreError::NotFound(_))
        ));

        d.revoke_send_as(anna.id, noreply.id).await.expect("revoke");
        assert!(matches!(
            d.revoke_send_as(anna.id, noreply.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(!d.may_send_as(anna.id, noreply.id).await.expect("check"));

        // Deleting the granted address takes its grants; deleting the sender takes its own.
        d.delete_addresses(&[sales.id]).await.expect("delete sales");
        assert!(d.send_as_grants(anna.id).await.expect("list").is_empty());
        assert!(d.send_as_grants(toto.id).await.expect("list").is_empty());
        d.grant_send_as(anna.id, noreply.id).await.expect("grant");
        d.delete_addresses(&[anna.id]).await.expect("delete anna");
        assert!(
            d.send_as_holders(noreply.id)
                .await
                .expect("list")
                .is_empty()
        );
        stores.close().await;
    }
}
