//! Directory administration (SPEC §2, CLI-4): organizations, accounts, mail services, addresses,
//! aliases and access. The CLI, the REST API and the Manager console all call these methods, so
//! validation and permission checks live here once.

use std::sync::Arc;

use postwerk_model::{
    Access, Address, AddressKind, Alias, DkimKeyRef, Domain, HostedAddress, MailService, OrgId,
    Organization, Permissions, Redirection, Role, ServiceFeatures, UserAccount, UserId,
};
use postwerk_store::{Directory, NewAddress, NewDkimKey, NewService, NewUser};
use zeroize::Zeroizing;

use crate::CoreError;
use crate::dkim::{self, DkimAlgorithm, DkimError, DkimPublicKey};
use crate::password;
use crate::records::{DnsRecord, dkim_record, required_records};

/// Who is asking. The permission model of ORG-1: owners and administrators of an organization
/// manage its services and addresses; the platform operator (the CLI on the server's own data
/// folder) manages everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The person running the server: unrestricted.
    Operator,
    /// A signed-in user account: limited to the organizations it administers.
    User(UserId),
}

/// Something created, with the password generated for it, shown once and never stored in clear.
#[derive(Debug)]
pub struct Created<T> {
    /// What was created.
    pub value: T,
    /// `Some` when the password was generated rather than chosen (ADDR-1 b).
    pub generated_password: Option<Zeroizing<String>>,
}

/// What an account creation needs.
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    /// The login, an email address (ID-1).
    pub login: String,
    /// `None` generates one.
    pub password: Option<String>,
    /// Name shown in the Manager; empty when `None`.
    pub display_name: Option<String>,
    /// Organization name to join, with the role.
    pub org: Option<(String, Role)>,
}

/// What an address creation needs (ADDR-1, ADDR-2, ADDR-4, ADDR-5).
#[derive(Debug, Clone)]
pub struct CreateAddress {
    /// The full address; its domain must be a service's primary domain.
    pub address: String,
    /// Mailbox, no-reply, catch-all or redirect-only.
    pub kind: AddressKind,
    /// Mailbox password; `None` generates one for kinds that log in.
    pub password: Option<String>,
    /// Link the address to this account with the service's default permissions (ADDR-1 a/b).
    pub user: Option<String>,
    /// Redirection targets (required for redirect-only addresses).
    pub redirect_to: Vec<String>,
    /// Keep a copy in the mailbox when redirecting (ADDR-5).
    pub keep_copy: bool,
}

/// The outcome of deleting addresses (ADDR-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The addresses deleted, each once.
    pub addresses: Vec<Address>,
    /// Accounts whose login was a deleted address: they need a recovery username (ID-10).
    pub orphaned_logins: Vec<Address>,
}

/// The outcome of a DKIM key rotation (SVC-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimRotation {
    /// The service's primary domain, which the key signs for.
    pub domain: Domain,
    /// The new key, which signs from now on.
    pub key: DkimKeyRef,
    /// Its record, to publish: mail signed with it fails verification until it is in place.
    pub record: DnsRecord,
    /// The key it replaces, kept in the store; its record can be removed from the zone once
    /// mail signed with it has been delivered and verified (a few days).
    pub retired: Option<DkimKeyRef>,
}

/// The directory use cases.
#[derive(Clone)]
pub struct Admin {
    directory: Arc<dyn Directory>,
}

impl Admin {
    /// The use cases over `directory`.
    pub fn new(directory: Arc<dyn Directory>) -> Admin {
        Admin { directory }
    }

    // ---- Organizations

    /// Creates an organization; a user who creates one becomes its owner (ORG-1).
    pub async fn create_org(&self, actor: Actor, name: &str) -> Result<Organization, CoreError> {
        let org = self.directory.create_org(name).await?;
        if let Actor::User(user) = actor {
            self.directory
                .add_membership(org.id, user, Role::Owner)
                .await?;
        }
        Ok(org)
    }

    /// The organizations the actor may see.
    pub async fn list_orgs(&self, actor: Actor) -> Result<Vec<Organization>, CoreError> {
        let orgs = self.directory.list_orgs().await?;
        match actor {
            Actor::Operator => Ok(orgs),
            Actor::User(user) => {
                let mine = self.directory.user_memberships(user).await?;
                Ok(orgs
                    .into_iter()
                    .filter(|o| mine.iter().any(|m| m.org == o.id))
                    .collect())
            }
        }
    }

    // ---- User accounts

    /// Creates a user account (ID-1), optionally joining an organization.
    pub async fn create_user(
        &self,
        actor: Actor,
        request: CreateUser,
    ) -> Result<Created<UserAccount>, CoreError> {
        let login = Address::parse(&request.login)?;
        let org = match &request.org {
            Some((name, role)) => {
                let org = self.org_named(name).await?;
                self.require_admin(actor, org.id).await?;
                Some((org, *role))
            }
            None if actor != Actor::Operator => {
                return Err(CoreError::Forbidden(
                    "only the platform operator can create an account outside an organization"
                        .into(),
                ));
            }
            None => None,
        };
        if self.directory.user_by_login(&login).await?.is_some() {
            return Err(CoreError::Invalid(format!(
                "the account {login} already exists"
            )));
        }
        let (hash, generated) = choose_password(request.password.as_deref())?;
        let display_name = request.display_name.unwrap_or_default();
        let new = NewUser {
            login,
            display_name,
            password_hash: hash,
            phone: None,
            recovery_email: None,
        };
        let user = self.directory.create_user(new).await?;
        if let Some((org, role)) = org {
            self.directory.add_membership(org.id, user.id, role).await?;
        }
        Ok(Created {
            value: user,
            generated_password: generated,
        })
    }

    /// Sets an account's password. The mailboxes' passwords are unchanged (ID-3).
    pub async fn set_user_password(
        &self,
        actor: Actor,
        login: &str,
        password: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, CoreError> {
        let user = self.user_by_login(login).await?;
        if actor != Actor::Operator && actor != Actor::User(user.id) {
            return Err(CoreError::Forbidden(
                "only the account itself can change its password".into(),
            ));
        }
        let (hash, generated) = choose_password(password)?;
        self.directory.set_user_password(user.id, &hash).await?;
        Ok(generated)
    }

    /// Every account (operator only).
    pub async fn list_users(&self, actor: Actor) -> Result<Vec<UserAccount>, CoreError> {
        require_operator(actor)?;
        Ok(self.directory.list_users().await?)
    }

    // ---- Mail services

    /// Creates the mail service for `domain` in organization `org` (SVC-1, SVC-2), with its
    /// DKIM key (RSA-2048, SND-2) stored in the same transaction.
    pub async fn create_service(
        &self,
        actor: Actor,
        domain: &str,
        org: &str,
        address_quota: u32,
    ) -> Result<MailService, CoreError> {
        let domain = Domain::parse(domain)?;
        let org = self.org_named(org).await?;
        self.require_admin(actor, org.id).await?;
        let new = NewService {
            org: org.id,
            domain,
            address_quota,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND
                .union(Permissions::CHANGE_PASSWORD)
                .union(Permissions::MANAGE_ALIASES)
                .union(Permissions::MANAGE_REDIRECTIONS)
                .union(Permissions::MANAGE_FILTERS)
                .union(Permissions::MANAGE_SIGNATURES),
            signature_templates: Vec::new(),
            dkim: None,
        };
        let selector = dkim::choose_selector(chrono::Utc::now().timestamp(), []);
        let key = generate_key(DkimAlgorithm::default(), selector).await?;
        let (service, _) = self.directory.create_service_with_dkim(new, key).await?;
        Ok(service)
    }

    /// SVC-1: gives the service of `domain` a new DKIM key, which signs from now on; the old
    /// one is kept. Also makes the first key of a service created before keys existed. The
    /// new key has the algorithm of the old one (RSA-2048 for a first key).
    pub async fn rotate_dkim(&self, actor: Actor, domain: &str) -> Result<DkimRotation, CoreError> {
        let service = self.service_for(actor, domain).await?;
        let keys = self.directory.dkim_keys(service.id).await?;
        let retired = keys.iter().find(|k| k.active);
        let algorithm = match retired {
            Some(key) => DkimAlgorithm::from_tag(&key.algorithm).unwrap_or_default(),
            None => DkimAlgorithm::default(),
        };
        let retired = retired.map(|k| k.key_ref());
        let selector = dkim::choose_selector(
            chrono::Utc::now().timestamp(),
            keys.iter().map(|k| k.selector.as_str()),
        );
        let key = generate_key(algorithm, selector).await?;
        let stored = self.directory.put_dkim_key(service.id, key).await?;
        let public = DkimPublicKey::from_stored(&stored, &service.domain)?;
        Ok(DkimRotation {
            record: dkim_record(&service.domain, &public),
            key: stored.key_ref(),
            domain: service.domain,
            retired,
        })
    }

    /// SVC-1: the DNS records `domain` needs when this platform's host is `hostname`: MX, SPF,
    /// DMARC, the service's active DKIM key (for its primary domain only: alias domains are
    /// signed with `d=` the primary domain) and the autoconfiguration records.
    pub async fn service_dns_records(
        &self,
        actor: Actor,
        domain: &str,
        hostname: &str,
    ) -> Result<Vec<DnsRecord>, CoreError> {
        let asked = Domain::parse(domain)?;
        let service = self.service_for(actor, domain).await?;
        let key = match (asked == service.domain, service.dkim.is_some()) {
            (true, true) => match self.directory.active_dkim_key(service.id).await? {
                Some(key) => Some(DkimPublicKey::from_stored(&key, &service.domain)?),
                None => None,
            },
            _ => None,
        };
        Ok(required_records(&asked, hostname, key.as_ref()))
    }

    /// The services the actor may see, with the number of addresses each holds.
    pub async fn list_services(&self, actor: Actor) -> Result<Vec<(MailService, u32)>, CoreError> {
        let mut out = Vec::new();
        for service in self.directory.list_services(None).await? {
            if self.is_admin(actor, service.org).await? {
                let used = self.directory.address_count(service.id).await?;
                out.push((service, used));
            }
        }
        Ok(out)
    }

    /// Changes a service's address quota, never below what is in use (SVC-2).
    pub async fn set_quota(&self, actor: Actor, domain: &str, quota: u32) -> Result<(), CoreError> {
        let service = self.service_for(actor, domain).await?;
        Ok(self.directory.set_address_quota(service.id, quota).await?)
    }

    /// Adds an alias domain to a service (SVC-3).
    pub async fn add_alias_domain(
        &self,
        actor: Actor,
        domain: &str,
        alias_domain: &str,
    ) -> Result<(), CoreError> {
        let service = self.service_for(actor, domain).await?;
        let alias_domain = Domain::parse(alias_domain)?;
        Ok(self
            .directory
            .add_alias_domain(service.id, &alias_domain)
            .await?)
    }

    // ---- Addresses

    /// Creates an address (ADDR-1, ADDR-2, ADDR-4, ADDR-5). Everything is validated before
    /// anything is written, so a refusal leaves nothing behind.
    pub async fn create_address(
        &self,
        actor: Actor,
        request: CreateAddress,
    ) -> Result<Created<HostedAddress>, CoreError> {
        let address = Address::parse(&request.address)?;
        let service = self.service_for(actor, address.domain().as_str()).await?;
        if service.domain != *address.domain() {
            return Err(CoreError::Invalid(format!(
                "{} is an alias domain of {}; create the address as {}@{}",
                address.domain(),
                service.domain,
                address.local(),
                service.domain
            )));
        }
        let user = match &request.user {
            Some(login) => Some(self.user_by_login(login).await?),
            None => None,
        };
        let redirect = match request.redirect_to.is_empty() {
            true => None,
            false => {
                let targets = request
                    .redirect_to
                    .iter()
                    .map(|t| Address::parse(t))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Redirection::new(targets, request.keep_copy)?)
            }
        };
        if request.keep_copy && redirect.is_none() {
            return Err(CoreError::Invalid(
                "--keep-copy needs at least one --to target".into(),
            ));
        }
        let logs_in = request.kind != AddressKind::RedirectOnly;
        if !logs_in && request.password.is_some() {
            return Err(CoreError::Invalid(format!(
                "the redirection-only address {address} holds no mail and has no password"
            )));
        }
        if !logs_in && user.is_some() {
            return Err(CoreError::Invalid(format!(
                "the redirection-only address {address} holds no mail, so no user can be linked to it"
            )));
        }
        let (hash, generated) = match logs_in {
            true => {
                let (hash, generated) = choose_password(request.password.as_deref())?;
                (Some(hash), generated)
            }
            false => (None, None),
        };
        let new = NewAddress {
            service: service.id,
            local: address.local().clone(),
            kind: request.kind,
            password_hash: hash,
            redirect,
            storage_limit: None,
        };
        let created = self.directory.create_address(new).await?;
        if let Some(user) = user {
            let granted = self
                .directory
                .grant_access(user.id, created.id, service.default_permissions)
                .await;
            if let Err(error) = granted {
                // Nothing half-created: the address goes again if the link cannot be made.
                self.directory.delete_addresses(&[created.id]).await?;
                return Err(error.into());
            }
        }
        Ok(Created {
            value: created,
            generated_password: generated,
        })
    }

    /// The addresses of a domain, each with its aliases.
    pub async fn list_addresses(
        &self,
        actor: Actor,
        domain: &str,
    ) -> Result<Vec<(HostedAddress, Vec<Alias>)>, CoreError> {
        let service = self.service_for(actor, domain).await?;
        let mut out = Vec::new();
        for address in self.directory.list_addresses(service.id).await? {
            let aliases = self.directory.list_aliases(address.id).await?;
            out.push((address, aliases));
        }
        Ok(out)
    }

    /// Deletes addresses and everything they hold, all or none (ADDR-8).
    pub async fn delete_addresses(
        &self,
        actor: Actor,
        addresses: &[String],
    ) -> Result<Deleted, CoreError> {
        let mut ids = Vec::new();
        let mut deleted = Vec::new();
        for text in addresses {
            let hosted = self.hosted(actor, text).await?;
            if !ids.contains(&hosted.id) {
                ids.push(hosted.id);
                deleted.push(hosted.address);
            }
        }
        let orphaned = self.directory.delete_addresses(&ids).await?;
        Ok(Deleted {
            addresses: deleted,
            orphaned_logins: orphaned.into_iter().map(|user| user.login).collect(),
        })
    }

    /// Sets a mailbox password; sessions that used the old one end (ID-6, via the epoch).
    pub async fn set_address_password(
        &self,
        actor: Actor,
        address: &str,
        password: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, CoreError> {
        let hosted = self.hosted(actor, address).await?;
        if hosted.kind == AddressKind::RedirectOnly {
            return Err(CoreError::Invalid(format!(
                "the redirection-only address {} has no password",
                hosted.address
            )));
        }
        let (hash, generated) = choose_password(password)?;
        self.directory
            .set_address_password(hosted.id, &hash)
            .await?;
        Ok(generated)
    }

    // ---- Aliases (ADDR-6)

    /// Adds `alias_address` (same domain) as an alias of `address`.
    pub async fn add_alias(
        &self,
        actor: Actor,
        address: &str,
        alias_address: &str,
    ) -> Result<Alias, CoreError> {
        let hosted = self.hosted(actor, address).await?;
        let alias = Address::parse(alias_address)?;
        if alias.domain() != hosted.address.domain() {
            return Err(CoreError::Invalid(format!(
                "an alias must be in the domain of its address: {} is not in {}",
                alias,
                hosted.address.domain()
            )));
        }
        Ok(self.directory.add_alias(hosted.id, alias.local()).await?)
    }

    /// Removes an alias, named by its full address.
    pub async fn remove_alias(&self, actor: Actor, alias_address: &str) -> Result<(), CoreError> {
        let alias = Address::parse(alias_address)?;
        self.service_for(actor, alias.domain().as_str()).await?;
        let facts = self.directory.resolve_facts(&alias).await?;
        let owner = facts
            .alias_of
            .filter(|_| facts.service.as_ref().is_some_and(|s| !s.via_alias_domain));
        let not_found = || CoreError::NotFound(format!("{alias} is not an alias"));
        let owner = owner.ok_or_else(not_found)?;
        let aliases = self.directory.list_aliases(owner.id).await?;
        let found = aliases
            .iter()
            .find(|a| &a.local == alias.local())
            .ok_or_else(not_found)?;
        Ok(self.directory.remove_alias(found.id).await?)
    }

    /// The aliases of an address.
    pub async fn list_aliases(&self, actor: Actor, address: &str) -> Result<Vec<Alias>, CoreError> {
        let hosted = self.hosted(actor, address).await?;
        Ok(self.directory.list_aliases(hosted.id).await?)
    }

    // ---- Access (ADDR-9)

    /// Gives a user access to an address; `None` takes the service's default permissions.
    pub async fn grant_access(
        &self,
        actor: Actor,
        address: &str,
        login: &str,
        permissions: Option<Permissions>,
    ) -> Result<Access, CoreError> {
        let hosted = self.hosted(actor, address).await?;
        if !hosted.kind.holds_mail() {
            return Err(CoreError::Invalid(format!(
                "{} holds no mail, so no user can be given access to it",
                hosted.address
            )));
        }
        let user = self.user_by_login(login).await?;
        let permissions = match permissions {
            Some(permissions) => permissions,
            None => self.service_of(&hosted).await?.default_permissions,
        };
        Ok(self
            .directory
            .grant_access(user.id, hosted.id, permissions)
            .await?)
    }

    /// Removes a user's access to an address.
    pub async fn revoke_access(
        &self,
        actor: Actor,
        address: &str,
        login: &str,
    ) -> Result<(), CoreError> {
        let hosted = self.hosted(actor, address).await?;
        let user = self.user_by_login(login).await?;
        Ok(self.directory.revoke_access(user.id, hosted.id).await?)
    }

    /// Who has access to an address, with their logins.
    pub async fn list_access(
        &self,
        actor: Actor,
        address: &str,
    ) -> Result<Vec<(Address, Access)>, CoreError> {
        let hosted = self.hosted(actor, address).await?;
        let mut out = Vec::new();
        for access in self.directory.address_access(hosted.id).await? {
            if let Some(user) = self.directory.user(access.user).await? {
                out.push((user.login, access));
            }
        }
        Ok(out)
    }

    // ---- Lookups and permission checks

    async fn org_named(&self, name: &str) -> Result<Organization, CoreError> {
        self.directory.org_by_name(name).await?.ok_or_else(|| {
            CoreError::NotFound(format!("the organization \"{name}\" does not exist"))
        })
    }

    async fn user_by_login(&self, login: &str) -> Result<UserAccount, CoreError> {
        let address = Address::parse(login)?;
        self.directory
            .user_by_login(&address)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!("the user account {address} does not exist"))
            })
    }

    /// The service whose primary or alias domain is `domain`, if the actor administers it.
    async fn service_for(&self, actor: Actor, domain: &str) -> Result<MailService, CoreError> {
        let domain = Domain::parse(domain)?;
        let service = self
            .directory
            .service_by_domain(&domain)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!("no mail service exists for the domain {domain}"))
            })?;
        self.require_admin(actor, service.org).await?;
        Ok(service)
    }

    async fn service_of(&self, hosted: &HostedAddress) -> Result<MailService, CoreError> {
        self.directory
            .service(hosted.service)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!(
                    "the mail service of {} no longer exists",
                    hosted.address
                ))
            })
    }

    /// A hosted address in a service the actor administers.
    async fn hosted(&self, actor: Actor, address: &str) -> Result<HostedAddress, CoreError> {
        let address = Address::parse(address)?;
        let service = self.service_for(actor, address.domain().as_str()).await?;
        let primary = Address::new(address.local().clone(), service.domain.clone())?;
        self.directory
            .address_by_address(&primary)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("the address {address} does not exist")))
    }

    async fn is_admin(&self, actor: Actor, org: OrgId) -> Result<bool, CoreError> {
        match actor {
            Actor::Operator => Ok(true),
            Actor::User(user) => {
                let memberships = self.directory.user_memberships(user).await?;
                Ok(memberships
                    .iter()
                    .any(|m| m.org == org && m.role.can_administer()))
            }
        }
    }

    async fn require_admin(&self, actor: Actor, org: OrgId) -> Result<(), CoreError> {
        if self.is_admin(actor, org).await? {
            Ok(())
        } else {
            Err(CoreError::Forbidden(
                "only an owner or administrator of the organization can do this".into(),
            ))
        }
    }
}

fn require_operator(actor: Actor) -> Result<(), CoreError> {
    match actor {
        Actor::Operator => Ok(()),
        Actor::User(_) => Err(CoreError::Forbidden(
            "only the platform operator can do this".into(),
        )),
    }
}

/// Generates a DKIM key on a blocking thread: RSA key generation takes tens of milliseconds of
/// CPU, which must not stall the runtime's other tasks.
async fn generate_key(algorithm: DkimAlgorithm, selector: String) -> Result<NewDkimKey, CoreError> {
    let generated = tokio::task::spawn_blocking(move || dkim::generate_key(algorithm, &selector))
        .await
        .map_err(|e| DkimError::Generate(e.to_string()))??;
    Ok(generated)
}

/// Hashes the chosen password after checking the policy, or generates one (shown once).
fn choose_password(chosen: Option<&str>) -> Result<(String, Option<Zeroizing<String>>), CoreError> {
    match chosen {
        Some(password) => {
            password::check_policy(password)?;
            Ok((password::hash(password)?, None))
        }
        None => {
            let generated = password::generate();
            Ok((password::hash(&generated)?, Some(generated)))
        }
    }
}
