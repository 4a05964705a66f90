//! Directory administration (SPEC §2, CLI-4): organizations, accounts, mail services, addresses,
//! aliases and access. The CLI, the REST API and the Manager console all call these methods, so
//! validation and permission checks live here once.

use std::sync::Arc;

use postwerk_model::{
    Access, Address, AddressKind, Alias, DkimKeyRef, Domain, HostedAddress, MailService, OrgId,
    Organization, Permissions, Role, ServiceFeatures, SessionId, UserAccount, UserId,
};
use postwerk_store::{
    Directory, IdentityStore, ManagerStore, NewDkimKey, NewService, NewUser, Stores,
};
use zeroize::Zeroizing;

use crate::CoreError;
use crate::audit::Audit;
use crate::audit::{Change, Owners};
use crate::identity::actor::{actor_label, protocol_of};
use crate::identity::unification::{self, ChangeContext};
use crate::identity::{Identity, MailboxPasswordChanged, Unification};

mod addresses;
mod bulk;
mod invitations;
mod members;
mod send_as;
mod sender_rules;
mod services;
mod signatures;

use crate::dkim::{self, DkimAlgorithm, DkimError, DkimPublicKey};
use crate::notify::Mailer;
use crate::password;
use crate::records::{DnsRecord, dkim_record, required_records};
pub use addresses::{AddressDetails, AddressUpdate, Grant, Holder, InvitationRequest};
pub use bulk::{BulkCreated, BulkLine, BulkOptions, BulkOutcome, BulkPlan, LineProblem};
pub use invitations::{AcceptInvitation, InvitationDetails, InvitationSent};
pub use members::Member;
pub use services::ServiceUpdate;

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

/// What an address creation needs (ADDR-1, ADDR-2, ADDR-4, ADDR-5, ADDR-6).
#[derive(Debug, Clone)]
pub struct CreateAddress {
    /// The full address; its domain must be a service's primary domain.
    pub address: String,
    /// Mailbox, no-reply, catch-all or redirect-only.
    pub kind: AddressKind,
    /// Mailbox password; `None` generates one for kinds that log in (shown once), except for
    /// an invitation with [`LoginMode::ExactAddress`](postwerk_model::LoginMode), where the
    /// invited person chooses it.
    pub password: Option<String>,
    /// Who will use it (ADDR-1 a, b, b', c).
    pub holder: Holder,
    /// The name shown with the address in mail sent from it (ADDR-3's display name).
    pub display_name: String,
    /// Alias addresses created with it, in the same domain (ADDR-6).
    pub aliases: Vec<String>,
    /// Redirection targets (required for redirect-only addresses).
    pub redirect_to: Vec<String>,
    /// Keep a copy in the mailbox when redirecting (ADDR-5).
    pub keep_copy: bool,
}

/// An address just created.
#[derive(Debug)]
pub struct AddressCreated {
    /// The address.
    pub address: HostedAddress,
    /// `Some` when the mailbox password was generated (ADDR-1 b), shown once.
    pub generated_password: Option<Zeroizing<String>>,
    /// The invitation sent (ADDR-1 b').
    pub invitation: Option<InvitationSent>,
}

/// The outcome of deleting addresses (ADDR-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The addresses deleted, each once.
    pub addresses: Vec<Address>,
    /// Accounts whose login was a deleted address: they need a recovery username (ID-10).
    pub orphaned_logins: Vec<Address>,
    /// Those accounts as the store left them (with their new recovery username), for
    /// `Recovery::issue_recovery_usernames`.
    pub orphaned_accounts: Vec<UserAccount>,
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
    manager: Arc<dyn ManagerStore>,
    /// Unification marks (ID-5).
    identity: Arc<dyn IdentityStore>,
    /// Security-relevant changes are recorded here (ID-11).
    audit: Audit,
    /// Sends invitations (ADDR-1 b'); `None`: creating an invitation is refused with a
    /// sentence saying mail cannot be sent from here.
    mailer: Option<Arc<dyn Mailer>>,
    /// Where the acceptance links of invitations point, e.g. `https://mail.example.com`.
    public_url: String,
}

impl Admin {
    /// The use cases over `directory`, `manager` and `identity`; changes are not audited until
    /// [`Admin::with_audit`].
    pub fn new(
        directory: Arc<dyn Directory>,
        manager: Arc<dyn ManagerStore>,
        identity: Arc<dyn IdentityStore>,
    ) -> Admin {
        Admin {
            directory,
            manager,
            identity,
            audit: Audit::discard(),
            mailer: None,
            public_url: String::from("https://localhost"),
        }
    }

    /// The use cases over a store's directory and Manager records.
    pub fn from_stores(stores: &Stores) -> Admin {
        Admin::new(
            stores.directory.clone(),
            stores.manager.clone(),
            stores.identity.clone(),
        )
    }

    /// Records security-relevant changes (access, roles, passwords) in `audit` (ID-11).
    pub fn with_audit(mut self, audit: Audit) -> Admin {
        self.audit = audit;
        self
    }

    /// Sends invitation emails through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Admin {
        self.mailer = Some(mailer);
        self
    }

    /// Acceptance links of invitations start with `url` (no trailing slash), e.g.
    /// `https://mail.example.com`.
    pub fn with_public_url(mut self, url: impl Into<String>) -> Admin {
        self.public_url = url.into().trim_end_matches('/').to_owned();
        self
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
        let (hash, generated) = hash_password(request.password).await?;
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
        let (hash, generated) = hash_password(password.map(str::to_owned)).await?;
        // Through the account side of ID-5: a unified mailbox follows while the conditions
        // hold, and the change is recorded.
        self.identity_service()
            .store_account_password(user.id, &hash, None, protocol_of(actor), None)
            .await?;
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
            orphaned_logins: orphaned.iter().map(|user| user.login.clone()).collect(),
            orphaned_accounts: orphaned,
        })
    }

    /// Sets a mailbox password; sessions that used the old one end (ID-6, via the epoch).
    /// Administrators, or users holding `CHANGE_PASSWORD` on the mailbox (ADDR-9).
    ///
    /// ID-5: for an account caller, the answer says whether unification is offered; with
    /// `unify` (and the three conditions holding) the account's password becomes the same, and
    /// from then on changing either changes both. A mailbox already unified with an account
    /// changes that account's password too while the conditions hold; when one stopped
    /// holding, the unification ends here and only the mailbox's password changes.
    ///
    /// When the caller's own account password changes with it, every session of the account
    /// ends; a caller in a web session uses [`Admin::set_address_password_in_session`] to
    /// keep that one.
    pub async fn set_address_password(
        &self,
        actor: Actor,
        address: &str,
        password: Option<&str>,
        unify: bool,
    ) -> Result<MailboxPasswordChanged, CoreError> {
        self.set_address_password_in_session(actor, address, password, unify, None)
            .await
    }

    /// [`Admin::set_address_password`] from the web session `keep` of the caller, which goes on
    /// when the caller's account password changes through unification (ID-6).
    pub async fn set_address_password_in_session(
        &self,
        actor: Actor,
        address: &str,
        password: Option<&str>,
        unify: bool,
        keep: Option<SessionId>,
    ) -> Result<MailboxPasswordChanged, CoreError> {
        let Reached { hosted, service } = self
            .address_for(
                actor,
                address,
                Need::Permission(Permissions::CHANGE_PASSWORD),
            )
            .await?;
        if hosted.kind == AddressKind::RedirectOnly {
            return Err(CoreError::Invalid(format!(
                "the redirection-only address {} has no password",
                hosted.address
            )));
        }
        let context = ChangeContext {
            protocol: protocol_of(actor),
            ip: None,
            actor: actor_label(self.directory.as_ref(), actor).await,
        };
        // Where the caller stands with the mailbox (the offer of ID-5), decided before
        // anything is written so a refused unification changes nothing.
        let caller = match actor {
            Actor::Operator if unify => {
                return Err(CoreError::Invalid(String::from(
                    "the platform operator has no account whose password could be unified with \
                     a mailbox's",
                )));
            }
            Actor::Operator => None,
            Actor::User(user) => {
                let account = self.directory.user(user).await?.ok_or_else(|| {
                    CoreError::NotFound(String::from("your account no longer exists"))
                })?;
                let standing = self.unification_standing(&account, &hosted).await?;
                if unify && !standing.blockers.is_empty() {
                    return Err(CoreError::Invalid(format!(
                        "the passwords of {} and your account cannot be unified: {}",
                        hosted.address,
                        standing.explanation()
                    )));
                }
                Some((account, standing))
            }
        };
        let (hash, generated) = hash_password(password.map(str::to_owned)).await?;

        // The account already unified with the mailbox, whoever the caller is.
        let holder = match self.identity.unified_user(hosted.id).await? {
            Some(user) => self.directory.user(user).await?,
            None => None,
        };
        let mut unified_with = None;
        if let Some(holder) = holder {
            let standing = self.unification_standing(&holder, &hosted).await?;
            if standing.unified() {
                let (epoch, _) = self
                    .identity
                    .set_unified_password(holder.id, hosted.id, &hash)
                    .await?;
                unified_with = Some((holder, epoch));
            } else {
                unification::end(
                    self.identity.as_ref(),
                    &self.audit,
                    &holder,
                    &hosted,
                    &standing,
                    &context,
                )
                .await?;
            }
        }
        if unified_with.is_none()
            && unify
            && let Some((account, _)) = &caller
        {
            let (epoch, _) = self
                .identity
                .set_unified_password(account.id, hosted.id, &hash)
                .await?;
            self.identity
                .set_unified(account.id, hosted.id, true)
                .await?;
            self.audit.change(Change {
                protocol: context.protocol,
                ip: None,
                actor: context.actor.clone(),
                subject: hosted.address.to_string(),
                event: "passwords_unified",
                detail: format!(
                    "the account {} and the mailbox {} now share one password",
                    account.login, hosted.address
                ),
                owners: Owners {
                    user: Some(account.id),
                    address: Some(hosted.id),
                    org: Some(service.org),
                },
            });
            unified_with = Some((account.clone(), epoch));
        }

        let unification = match (&unified_with, caller) {
            (Some((holder, epoch)), caller) => {
                if caller.is_some_and(|(account, _)| account.id == holder.id) {
                    self.keep_session(keep, *epoch).await?;
                }
                self.audit.change(Change {
                    protocol: context.protocol,
                    ip: None,
                    actor: context.actor.clone(),
                    subject: holder.login.to_string(),
                    event: "account_password_changed",
                    detail: format!(
                        "changed with the password of the mailbox {}, with which it is unified",
                        hosted.address
                    ),
                    owners: Owners {
                        user: Some(holder.id),
                        ..Owners::default()
                    },
                });
                Unification::Unified {
                    address: hosted.address.clone(),
                    login: holder.login.clone(),
                }
            }
            (None, caller) => {
                self.directory
                    .set_address_password(hosted.id, &hash)
                    .await?;
                match caller {
                    None => Unification::NotApplicable,
                    Some((_, standing)) if standing.blockers.is_empty() => Unification::Offered,
                    Some((_, standing)) => Unification::NotOffered(standing.blockers),
                }
            }
        };
        self.audit.change(Change {
            protocol: context.protocol,
            ip: None,
            actor: context.actor,
            subject: hosted.address.to_string(),
            event: "mailbox_password_changed",
            detail: String::from("every mail session that used the old password ends"),
            owners: Owners {
                user: match actor {
                    Actor::User(user) => Some(user),
                    Actor::Operator => None,
                },
                address: Some(hosted.id),
                org: Some(service.org),
            },
        });
        Ok(MailboxPasswordChanged {
            generated,
            unification,
        })
    }

    /// ID-5 for `account` and `mailbox`, as [`crate::Identity`] decides it too.
    async fn unification_standing(
        &self,
        account: &UserAccount,
        mailbox: &HostedAddress,
    ) -> Result<unification::Standing, CoreError> {
        unification::standing(
            self.directory.as_ref(),
            self.identity.as_ref(),
            account,
            mailbox,
        )
        .await
    }

    /// The account side of SPEC §1 over the same stores and audit log.
    fn identity_service(&self) -> Identity {
        Identity::from_parts(
            self.directory.clone(),
            self.identity.clone(),
            self.manager.clone(),
            self.audit.clone(),
        )
    }

    /// Moves the caller's web session `keep` to the account's new credential epoch (ID-6); a
    /// session that ended meanwhile is fine.
    async fn keep_session(&self, keep: Option<SessionId>, epoch: u32) -> Result<(), CoreError> {
        let Some(session) = keep else {
            return Ok(());
        };
        match self.manager.set_web_session_epoch(session, epoch).await {
            Ok(()) | Err(postwerk_store::StoreError::NotFound(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    // ---- Aliases (ADDR-6)

    /// Adds `alias_address` (same domain) as an alias of `address`. Administrators, or users
    /// holding `MANAGE_ALIASES` on the address; the service's switch and the limit of 50 apply
    /// to both.
    pub async fn add_alias(
        &self,
        actor: Actor,
        address: &str,
        alias_address: &str,
    ) -> Result<Alias, CoreError> {
        let hosted = self
            .address_for(
                actor,
                address,
                Need::Permission(Permissions::MANAGE_ALIASES),
            )
            .await?
            .hosted;
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

    /// Removes an alias, named by its full address. Administrators, or users holding
    /// `MANAGE_ALIASES` on the address it belongs to.
    pub async fn remove_alias(&self, actor: Actor, alias_address: &str) -> Result<(), CoreError> {
        let alias = Address::parse(alias_address)?;
        self.service_serving(alias.domain()).await?;
        let facts = self.directory.resolve_facts(&alias).await?;
        let owner = facts
            .alias_of
            .filter(|_| facts.service.as_ref().is_some_and(|s| !s.via_alias_domain));
        let not_found = || CoreError::NotFound(format!("{alias} is not an alias"));
        let owner = owner.ok_or_else(not_found)?;
        let need = Need::Permission(Permissions::MANAGE_ALIASES);
        let service = self.service_of(&owner).await?;
        self.reach(actor, owner.clone(), service, need).await?;
        let aliases = self.directory.list_aliases(owner.id).await?;
        let found = aliases
            .iter()
            .find(|a| &a.local == alias.local())
            .ok_or_else(not_found)?;
        Ok(self.directory.remove_alias(found.id).await?)
    }

    /// The aliases of an address. Administrators, or users holding `MANAGE_ALIASES` on it.
    pub async fn list_aliases(&self, actor: Actor, address: &str) -> Result<Vec<Alias>, CoreError> {
        let hosted = self
            .address_for(
                actor,
                address,
                Need::Permission(Permissions::MANAGE_ALIASES),
            )
            .await?
            .hosted;
        Ok(self.directory.list_aliases(hosted.id).await?)
    }

    // ---- Access (ADDR-9)

    /// Gives a user access to an address, or changes that access; `None` takes the service's
    /// default permissions; `signature` names one of the service's signature templates (SVC-4).
    /// The account must be a member of the service's organization (ORG-1): leaving it takes
    /// the access away, so access never outlives membership.
    pub async fn grant_access(
        &self,
        actor: Actor,
        address: &str,
        login: &str,
        permissions: Option<Permissions>,
        signature: Option<&str>,
    ) -> Result<Access, CoreError> {
        let hosted = self.hosted(actor, address).await?;
        if !hosted.kind.holds_mail() {
            return Err(CoreError::Invalid(format!(
                "{} holds no mail, so no user can be given access to it",
                hosted.address
            )));
        }
        let service = self.service_of(&hosted).await?;
        addresses::check_signature(&service, signature)?;
        let user = self.member_by_login(login, service.org).await?;
        let permissions = permissions.unwrap_or(service.default_permissions);
        let unified_before = self.identity.unified_user(hosted.id).await?;
        let access = self
            .directory
            .grant_access(
                user.id,
                hosted.id,
                permissions,
                signature.map(str::to_owned),
            )
            .await?;
        let context = self.change_context(actor).await;
        self.audit.change(Change {
            protocol: context.protocol,
            ip: None,
            actor: context.actor.clone(),
            subject: hosted.address.to_string(),
            event: "access_granted",
            detail: format!("{} may: {permissions}", user.login),
            owners: Owners {
                user: Some(user.id),
                address: Some(hosted.id),
                org: Some(service.org),
            },
        });
        // A second account, or fewer permissions, ends a unification of the mailbox (ID-5):
        // the store clears the mark in the same transaction; the log says so.
        if let Some(holder) = unified_before
            && self.identity.unified_user(hosted.id).await?.is_none()
        {
            let login = match self.directory.user(holder).await? {
                Some(account) => account.login.to_string(),
                None => format!("account #{}", holder.0),
            };
            let reason = if holder == user.id {
                "it no longer holds the permission to change the mailbox's password"
            } else {
                "another account was given access to the mailbox"
            };
            self.audit.change(Change {
                protocol: context.protocol,
                ip: None,
                actor: context.actor.clone(),
                subject: hosted.address.to_string(),
                event: "unification_ended",
                detail: format!(
                    "the passwords of the account {login} and the mailbox {} are separate \
                     again: {reason}",
                    hosted.address
                ),
                owners: Owners {
                    user: Some(holder),
                    address: Some(hosted.id),
                    org: Some(service.org),
                },
            });
        }
        Ok(access)
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
        let was_unified = self.identity.unified_user(hosted.id).await? == Some(user.id);
        self.directory.revoke_access(user.id, hosted.id).await?;
        let context = self.change_context(actor).await;
        let org = self.service_of(&hosted).await.ok().map(|s| s.org);
        let owners = Owners {
            user: Some(user.id),
            address: Some(hosted.id),
            org,
        };
        self.audit.change(Change {
            protocol: context.protocol,
            ip: None,
            actor: context.actor.clone(),
            subject: hosted.address.to_string(),
            event: "access_revoked",
            detail: format!("{} no longer has access", user.login),
            owners,
        });
        if was_unified {
            // The unification mark went with the access row (ID-5 (b) and (c)).
            self.audit.change(Change {
                protocol: context.protocol,
                ip: None,
                actor: context.actor,
                subject: hosted.address.to_string(),
                event: "unification_ended",
                detail: format!(
                    "the account {} no longer has access, so the two passwords are separate again",
                    user.login
                ),
                owners,
            });
        }
        Ok(())
    }

    /// Where a change by `actor` comes from and who made it, for the audit log (ID-11).
    pub(super) async fn change_context(&self, actor: Actor) -> ChangeContext {
        ChangeContext {
            protocol: protocol_of(actor),
            ip: None,
            actor: actor_label(self.directory.as_ref(), actor).await,
        }
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

    /// The account `login`, which must be a member of `org`: only the organization's people
    /// are given its mailboxes (ADDR-1 b).
    pub(super) async fn member_by_login(
        &self,
        login: &str,
        org: OrgId,
    ) -> Result<UserAccount, CoreError> {
        let user = self.user_by_login(login).await?;
        let member = self
            .directory
            .user_memberships(user.id)
            .await?
            .iter()
            .any(|m| m.org == org);
        if !member {
            let name = self.org_name(org).await?;
            return Err(CoreError::Invalid(format!(
                "the account {} is not a member of the organization {name}; add it first",
                user.login
            )));
        }
        Ok(user)
    }

    /// The name of an organization, for sentences.
    pub(super) async fn org_name(&self, org: OrgId) -> Result<String, CoreError> {
        Ok(self
            .directory
            .org(org)
            .await?
            .map(|o| o.name)
            .unwrap_or_else(|| format!("#{}", org.0)))
    }

    /// The service whose primary or alias domain is `domain`, whoever asks.
    pub(super) async fn service_serving(&self, domain: &Domain) -> Result<MailService, CoreError> {
        self.directory
            .service_by_domain(domain)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!("no mail service exists for the domain {domain}"))
            })
    }

    /// The service whose primary or alias domain is `domain`, if the actor administers it.
    pub(super) async fn service_for(
        &self,
        actor: Actor,
        domain: &str,
    ) -> Result<MailService, CoreError> {
        let domain = Domain::parse(domain)?;
        let service = self.service_serving(&domain).await?;
        self.require_admin(actor, service.org).await?;
        Ok(service)
    }

    pub(super) async fn service_of(
        &self,
        hosted: &HostedAddress,
    ) -> Result<MailService, CoreError> {
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
        Ok(self
            .address_for(actor, address, Need::Administrator)
            .await?
            .hosted)
    }

    /// The permission model of ORG-1 and ADDR-9 for one address, in one place: the hosted
    /// address `address` names (written in the primary or an alias domain), if the actor
    /// administers its organization or, as a user with access to it, holds what `need` asks.
    /// Otherwise `Forbidden`, with a sentence naming what is missing. An unknown address is
    /// `NotFound` for everyone: SMTP tells as much to anybody at RCPT.
    pub(super) async fn address_for(
        &self,
        actor: Actor,
        address: &str,
        need: Need,
    ) -> Result<Reached, CoreError> {
        let address = Address::parse(address)?;
        let service = self.service_serving(address.domain()).await?;
        let primary = Address::new(address.local().clone(), service.domain.clone())?;
        let hosted = self
            .directory
            .address_by_address(&primary)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("the address {address} does not exist")))?;
        self.reach(actor, hosted, service, need).await
    }

    /// [`Admin::address_for`] once the address and its service are known.
    pub(super) async fn reach(
        &self,
        actor: Actor,
        hosted: HostedAddress,
        service: MailService,
        need: Need,
    ) -> Result<Reached, CoreError> {
        let standing = self.standing(actor, &hosted, &service).await?;
        if let Some(missing) = standing.missing(need) {
            let sentence = match missing {
                Need::Administrator => {
                    let org = self.org_name(service.org).await?;
                    format!(
                        "only an owner or administrator of the organization {org}, which holds \
                         {}, can do this",
                        hosted.address
                    )
                }
                Need::Access => format!(
                    "you need access to {}, or to administer its organization",
                    hosted.address
                ),
                Need::Permission(permission) => format!(
                    "you need the permission to {} {}, or to administer its organization",
                    permission_phrase(permission),
                    hosted.address
                ),
            };
            return Err(CoreError::Forbidden(sentence));
        }
        Ok(Reached { hosted, service })
    }

    /// What the actor may do with `hosted` (ORG-1, ADDR-9).
    async fn standing(
        &self,
        actor: Actor,
        hosted: &HostedAddress,
        service: &MailService,
    ) -> Result<Standing, CoreError> {
        let Actor::User(user) = actor else {
            return Ok(Standing::Administrator);
        };
        if self.is_admin(actor, service.org).await? {
            return Ok(Standing::Administrator);
        }
        let access = self.directory.address_access(hosted.id).await?;
        Ok(access
            .iter()
            .find(|a| a.user == user)
            .map_or(Standing::Stranger, |a| Standing::Holder(a.permissions)))
    }

    async fn is_admin(&self, actor: Actor, org: OrgId) -> Result<bool, CoreError> {
        Ok(self
            .role_in(actor, org)
            .await?
            .is_some_and(Role::can_administer))
    }

    /// The actor's role in `org`: the operator counts as an owner; `None` for a non-member.
    pub(super) async fn role_in(
        &self,
        actor: Actor,
        org: OrgId,
    ) -> Result<Option<Role>, CoreError> {
        match actor {
            Actor::Operator => Ok(Some(Role::Owner)),
            Actor::User(user) => {
                let memberships = self.directory.user_memberships(user).await?;
                Ok(memberships.iter().find(|m| m.org == org).map(|m| m.role))
            }
        }
    }

    pub(super) async fn require_admin(&self, actor: Actor, org: OrgId) -> Result<(), CoreError> {
        if self.is_admin(actor, org).await? {
            Ok(())
        } else {
            let name = self.org_name(org).await?;
            Err(CoreError::Forbidden(format!(
                "only an owner or administrator of the organization {name} can do this"
            )))
        }
    }
}

/// What a user who does not administer an address's organization needs to act on it (ADDR-9).
/// Owners and administrators of the organization, and the operator, may always.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    /// Nothing short of administering the organization.
    Administrator,
    /// Any access to the mailbox, whatever its permissions.
    Access,
    /// Every permission of this set on the mailbox.
    Permission(Permissions),
}

/// Where the actor stands with one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Standing {
    /// The operator, or an owner or administrator of the address's organization.
    Administrator,
    /// A user with access to the mailbox, with these permissions on it.
    Holder(Permissions),
    /// Neither.
    Stranger,
}

impl Standing {
    /// What of `need` this standing lacks: `None` when it allows it; for permissions, the
    /// first one missing, so the refusal names it.
    pub(super) fn missing(self, need: Need) -> Option<Need> {
        match (self, need) {
            (Standing::Administrator, _) => None,
            (Standing::Holder(_), Need::Access) => None,
            (Standing::Holder(held), Need::Permission(wanted)) => {
                first_missing(wanted, held).map(Need::Permission)
            }
            (Standing::Stranger, Need::Permission(wanted)) => Some(
                first_missing(wanted, Permissions::NONE).map_or(Need::Access, Need::Permission),
            ),
            (_, need) => Some(need),
        }
    }
}

/// A hosted address the actor reached through [`Admin::address_for`].
#[derive(Debug, Clone)]
pub(super) struct Reached {
    /// The address.
    pub(super) hosted: HostedAddress,
    /// Its service.
    pub(super) service: MailService,
}

/// Each ADDR-9 permission with the words that follow "the permission to" in refusals.
const PERMISSION_PHRASES: [(Permissions, &str); 6] = [
    (Permissions::READ_SEND, "read and send mail from"),
    (Permissions::CHANGE_PASSWORD, "change the password of"),
    (Permissions::MANAGE_ALIASES, "manage aliases of"),
    (Permissions::MANAGE_REDIRECTIONS, "manage redirections of"),
    (
        Permissions::MANAGE_FILTERS,
        "manage filters and sender lists of",
    ),
    (
        Permissions::MANAGE_SIGNATURES,
        "manage signatures and the display name of",
    ),
];

/// The first single permission of `wanted` that `held` lacks.
fn first_missing(wanted: Permissions, held: Permissions) -> Option<Permissions> {
    PERMISSION_PHRASES
        .iter()
        .map(|(permission, _)| *permission)
        .find(|one| wanted.contains(*one) && !held.contains(*one))
}

/// The words after "the permission to" for a single permission.
fn permission_phrase(permission: Permissions) -> &'static str {
    PERMISSION_PHRASES
        .iter()
        .find(|(one, _)| permission.contains(*one))
        .map_or("use", |(_, phrase)| *phrase)
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

/// Hashes the chosen password after checking the policy, or generates one (shown once). The
/// hash runs on a blocking thread: Argon2id takes tens of milliseconds of CPU by design (ID-4),
/// which must not stall the runtime's other tasks.
pub(crate) async fn hash_password(
    chosen: Option<String>,
) -> Result<(String, Option<Zeroizing<String>>), CoreError> {
    let (secret, generated) = match chosen {
        Some(chosen) => {
            let chosen = Zeroizing::new(chosen);
            password::check_policy(&chosen)?;
            (chosen, None)
        }
        None => {
            let generated = password::generate();
            (generated.clone(), Some(generated))
        }
    };
    let hash = hash_on_blocking_thread(secret).await?;
    Ok((hash, generated))
}

/// Argon2id on a blocking thread, for a password that passed the policy.
pub(super) async fn hash_on_blocking_thread(
    password: Zeroizing<String>,
) -> Result<String, CoreError> {
    password::off_thread(move || password::hash(&password))
        .await
        .map_err(|e| CoreError::Password(password::PasswordError::Hashing(e.to_string())))?
        .map_err(CoreError::from)
}
