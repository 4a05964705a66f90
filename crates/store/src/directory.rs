//! The directory: organizations, user accounts, mail services, hosted addresses, aliases and
//! access grants (SPEC §1–2), independent of any backend.
//!
//! Lookups answer `Ok(None)` when nothing matches (absence is a normal answer); changes to an
//! id that does not exist answer `StoreError::NotFound`. Every rule that involves a count or
//! another row (quota, duplicates, the 50 aliases, one catch-all, one service per domain) is
//! checked inside the write's transaction, so two concurrent writers cannot both pass it.

use async_trait::async_trait;
use postwerk_model::resolve::Facts;
use postwerk_model::{
    Access, Address, AddressId, AddressKind, Alias, AliasId, DkimKeyRef, Domain, HostedAddress,
    LocalPart, MailService, Membership, OrgId, Organization, Permissions, Redirection, Role,
    ServiceFeatures, ServiceId, SignatureTemplate, UserAccount, UserId,
};

use crate::StoreError;

/// What it takes to create a user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// The login (ID-1), usually an outside address.
    pub login: Address,
    /// Name shown in the Manager; recovery usernames take its initials (ID-10).
    pub display_name: String,
    /// Argon2id PHC string (ID-4); the store never sees a password.
    pub password_hash: String,
    /// Mobile number for recovery codes (ID-8).
    pub phone: Option<String>,
    /// Recovery email (ID-8).
    pub recovery_email: Option<Address>,
}

/// What it takes to create a mail service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewService {
    /// The owning organization.
    pub org: OrgId,
    /// The primary domain; must not be served by any service yet.
    pub domain: Domain,
    /// How many addresses it may hold (SVC-2).
    pub address_quota: u32,
    /// Feature switches of the plan.
    pub features: ServiceFeatures,
    /// Permissions prefilled when a user is given access (SVC-4).
    pub default_permissions: Permissions,
    /// Signature templates (SVC-4).
    pub signature_templates: Vec<SignatureTemplate>,
    /// DKIM selector, if a key was generated already.
    pub dkim: Option<DkimKeyRef>,
}

/// A DKIM key pair to store for a service (SVC-1, SND-2; RFC 6376).
///
/// `Debug` never prints the private key: a key that leaks into a log signs for the domain.
#[derive(Clone, PartialEq, Eq)]
pub struct NewDkimKey {
    /// The selector, published at `<selector>._domainkey.<domain>` (RFC 6376 §3.1); unique
    /// within the service.
    pub selector: String,
    /// The `a=` tag of its signatures (RFC 6376 §3.5), e.g. `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: String,
    /// The private key, unencrypted PKCS#8 DER (RFC 5208).
    pub private_key: Vec<u8>,
    /// The `p=` tag of the key record (RFC 6376 §3.6.1), base64.
    pub public_key: String,
}

impl std::fmt::Debug for NewDkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDkimKey")
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"<redacted>")
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// A stored DKIM key of a service: the active one signs, the others are kept after rotation
/// so the administrator knows which old records may be removed from the zone.
///
/// `Debug` never prints the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimKey {
    /// The service it signs for.
    pub service: ServiceId,
    /// The selector (RFC 6376 §3.1).
    pub selector: String,
    /// The `a=` tag of its signatures (RFC 6376 §3.5).
    pub algorithm: String,
    /// The private key, unencrypted PKCS#8 DER (RFC 5208). Secret.
    pub private_key: Vec<u8>,
    /// The `p=` tag of the key record (RFC 6376 §3.6.1), base64.
    pub public_key: String,
    /// When it was stored, Unix seconds.
    pub created_at: i64,
    /// Whether it is the key that signs the service's mail now.
    pub active: bool,
}

impl DkimKey {
    /// The reference kept on the service (`MailService::dkim`).
    pub fn key_ref(&self) -> DkimKeyRef {
        DkimKeyRef {
            selector: self.selector.clone(),
            algorithm: self.algorithm.clone(),
        }
    }
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKey")
            .field("service", &self.service)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("created_at", &self.created_at)
            .field("active", &self.active)
            .finish()
    }
}

/// What it takes to create a hosted address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAddress {
    /// The service; the address's domain is the service's primary domain.
    pub service: ServiceId,
    /// The local part the administrator typed.
    pub local: LocalPart,
    /// Mailbox, no-reply, catch-all or redirect-only.
    pub kind: AddressKind,
    /// The name shown with the address in mail sent from it; empty for none.
    pub display_name: String,
    /// Mailbox password hash (ID-2), `None` for addresses nobody logs into.
    pub password_hash: Option<String>,
    /// Redirection (ADDR-4, ADDR-5); required for redirect-only addresses.
    pub redirect: Option<Redirection>,
    /// Storage limit in octets (ADDR-10); `None` = unlimited, the default.
    pub storage_limit: Option<u64>,
}

/// A service's settings an administrator changes after creation (SVC-4, plan switches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSettings {
    /// Feature switches of the plan.
    pub features: ServiceFeatures,
    /// Permissions prefilled when a user is given access (SVC-4).
    pub default_permissions: Permissions,
    /// Signature templates (SVC-4); names are unique.
    pub signature_templates: Vec<SignatureTemplate>,
}

/// What is created with an address in the same transaction (ADDR-1 b, ADDR-3): either all of
/// it or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressExtras {
    /// Alias local parts (ADDR-6: the feature switch, the 50 limit and collisions apply).
    pub aliases: Vec<LocalPart>,
    /// Accounts given access, with their permissions and signature template (ADDR-9).
    pub access: Vec<(UserId, Permissions, Option<String>)>,
}

/// Organizations, accounts, services and addresses.
#[async_trait]
pub trait Directory: Send + Sync {
    // ---- Organizations (ORG-1)

    /// Create an organization. The name is validated by the model's `validate_org_name`;
    /// `Conflict` if one with the same name (ignoring case) exists.
    async fn create_org(&self, name: &str) -> Result<Organization, StoreError>;

    /// One organization by id.
    async fn org(&self, id: OrgId) -> Result<Option<Organization>, StoreError>;

    /// One organization by name, ignoring case.
    async fn org_by_name(&self, name: &str) -> Result<Option<Organization>, StoreError>;

    /// Every organization, by name.
    async fn list_orgs(&self) -> Result<Vec<Organization>, StoreError>;

    // ---- User accounts (ID-1)

    /// Create a user account with credential epoch 0. `Conflict` if the login is taken.
    async fn create_user(&self, new: NewUser) -> Result<UserAccount, StoreError>;

    /// One account by id.
    async fn user(&self, id: UserId) -> Result<Option<UserAccount>, StoreError>;

    /// One account by login.
    async fn user_by_login(&self, login: &Address) -> Result<Option<UserAccount>, StoreError>;

    /// Every account, by login.
    async fn list_users(&self) -> Result<Vec<UserAccount>, StoreError>;

    /// Replace the account's password hash and bump its credential epoch, which ends the
    /// sessions opened with the old password (ID-6). Returns the new epoch.
    async fn set_user_password(&self, id: UserId, password_hash: &str) -> Result<u32, StoreError>;

    // ---- Memberships (ORG-1)

    /// Make `user` a member of `org` with `role`. `Conflict` if already a member.
    async fn add_membership(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
    ) -> Result<Membership, StoreError>;

    /// Change a member's role; `NotFound` if `user` is not a member. Refuses (`Refused`) to
    /// leave the organization without an owner.
    async fn set_membership_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
    ) -> Result<Membership, StoreError>;

    /// Remove a member and the member's access to the organization's mailboxes; `NotFound` if
    /// not a member, `Refused` for the last owner.
    async fn remove_membership(&self, org: OrgId, user: UserId) -> Result<(), StoreError>;

    /// The members of an organization.
    async fn org_members(&self, org: OrgId) -> Result<Vec<Membership>, StoreError>;

    /// The organizations a user belongs to.
    async fn user_memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError>;

    // ---- Mail services (SVC)

    /// Create a mail service. `Conflict` if its domain is served already (as a primary or an
    /// alias domain: a domain belongs to one service only).
    async fn create_service(&self, new: NewService) -> Result<MailService, StoreError>;

    /// One service by id.
    async fn service(&self, id: ServiceId) -> Result<Option<MailService>, StoreError>;

    /// The service serving `domain`, as its primary domain or as an alias domain.
    async fn service_by_domain(&self, domain: &Domain) -> Result<Option<MailService>, StoreError>;

    /// The services of one organization, or of all with `None`, by domain.
    async fn list_services(&self, org: Option<OrgId>) -> Result<Vec<MailService>, StoreError>;

    /// How many hosted addresses the service holds now (what its quota counts).
    async fn address_count(&self, service: ServiceId) -> Result<u32, StoreError>;

    /// Change the address quota; `Rule(QuotaBelowUsage)` below what is in use (SVC-2).
    async fn set_address_quota(&self, service: ServiceId, quota: u32) -> Result<(), StoreError>;

    /// Replace a service's feature switches, default permissions and signature templates.
    /// Turning aliases off keeps existing aliases working (they are removed one by one);
    /// it only stops new ones.
    async fn set_service_settings(
        &self,
        service: ServiceId,
        settings: ServiceSettings,
    ) -> Result<MailService, StoreError>;

    /// Add an alias domain (SVC-3). `Conflict` if the domain is served already.
    async fn add_alias_domain(&self, service: ServiceId, domain: &Domain)
    -> Result<(), StoreError>;

    /// Remove an alias domain. `NotFound` if it is not an alias domain of this service.
    async fn remove_alias_domain(
        &self,
        service: ServiceId,
        domain: &Domain,
    ) -> Result<(), StoreError>;

    // ---- DKIM keys (SVC-1, SND-2)

    /// Create a mail service and its first DKIM key in one transaction, so a service never
    /// exists without the key it was created with. `new.dkim` is ignored: the service's
    /// reference is the stored key's. The same refusals as [`Directory::create_service`].
    async fn create_service_with_dkim(
        &self,
        new: NewService,
        key: NewDkimKey,
    ) -> Result<(MailService, DkimKey), StoreError>;

    /// Store `key` for `service` and make it the active one, in one transaction: the previous
    /// active key stays, inactive, and `MailService::dkim` names the new one. `NotFound` if the
    /// service does not exist, `Conflict` if the service had a key with this selector.
    async fn put_dkim_key(
        &self,
        service: ServiceId,
        key: NewDkimKey,
    ) -> Result<DkimKey, StoreError>;

    /// The key that signs the service's mail now, if it has one.
    async fn active_dkim_key(&self, service: ServiceId) -> Result<Option<DkimKey>, StoreError>;

    /// Every key the service has had, oldest first (the active one included).
    async fn dkim_keys(&self, service: ServiceId) -> Result<Vec<DkimKey>, StoreError>;

    // ---- Hosted addresses (ADDR)

    /// Create an address, in one transaction: the quota is checked against the live count
    /// (SVC-2), the local part must be neither an address nor an alias of the service
    /// (`Conflict`), at most one catch-all per service (`Conflict`), the model's
    /// `HostedAddress::validate` holds (`Rule`), and an address that holds mail gets the six
    /// folders of `DEFAULT_FOLDERS` (ADDR-11).
    async fn create_address(&self, new: NewAddress) -> Result<HostedAddress, StoreError>;

    /// Create an address with its aliases and access grants in one transaction (ADDR-1 b,
    /// ADDR-3): if any part is refused, nothing is created.
    async fn create_address_with(
        &self,
        new: NewAddress,
        extras: AddressExtras,
    ) -> Result<HostedAddress, StoreError>;

    /// Set (`Some`) or lift (`None`) a mailbox's storage limit in octets (ADDR-10).
    async fn set_storage_limit(&self, id: AddressId, limit: Option<u64>) -> Result<(), StoreError>;

    /// Change the name shown with an address in mail sent from it; `NotFound` if no address
    /// has that id.
    async fn set_address_display_name(
        &self,
        id: AddressId,
        display_name: &str,
    ) -> Result<(), StoreError>;

    /// One address by id.
    async fn address(&self, id: AddressId) -> Result<Option<HostedAddress>, StoreError>;

    /// One address by its exact address (primary domain, no alias resolution).
    async fn address_by_address(
        &self,
        address: &Address,
    ) -> Result<Option<HostedAddress>, StoreError>;

    /// The addresses of a service, by local part.
    async fn list_addresses(&self, service: ServiceId) -> Result<Vec<HostedAddress>, StoreError>;

    /// Replace the mailbox password hash and bump the address's credential epoch (ID-6).
    /// Returns the new epoch.
    async fn set_address_password(
        &self,
        id: AddressId,
        password_hash: &str,
    ) -> Result<u32, StoreError>;

    /// Enable or disable an address (a disabled address refuses mail and logins).
    async fn set_address_enabled(&self, id: AddressId, enabled: bool) -> Result<(), StoreError>;

    /// Set or clear the redirection (ADDR-5); `Rule` if the result breaks
    /// `HostedAddress::validate` (a redirect-only address must keep one).
    async fn set_redirect(
        &self,
        id: AddressId,
        redirect: Option<Redirection>,
    ) -> Result<(), StoreError>;

    /// ADDR-8: destroy these addresses and everything of theirs in one transaction: folders,
    /// messages, aliases, access grants, redirections; then the message contents no longer
    /// referenced anywhere. `NotFound` (and nothing deleted) if one id does not exist.
    /// Returns the user accounts whose login was one of the deleted addresses, for ID-10.
    async fn delete_addresses(&self, ids: &[AddressId]) -> Result<Vec<UserAccount>, StoreError>;

    // ---- Aliases (ADDR-6)

    /// Give an address another local part in its service, in one transaction: aliases must be
    /// enabled for the service and the address under its limit of 50 (`Rule`), and the local
    /// part must be neither an address nor an alias of the service (`Conflict`).
    async fn add_alias(&self, address: AddressId, local: &LocalPart) -> Result<Alias, StoreError>;

    /// Remove an alias.
    async fn remove_alias(&self, id: AliasId) -> Result<(), StoreError>;

    /// The aliases of an address, by local part.
    async fn list_aliases(&self, address: AddressId) -> Result<Vec<Alias>, StoreError>;

    // ---- Access (ADDR-9)

    /// Give a user access to a mailbox with these permissions and signature template, or
    /// replace those of an existing grant.
    async fn grant_access(
        &self,
        user: UserId,
        address: AddressId,
        permissions: Permissions,
        signature: Option<String>,
    ) -> Result<Access, StoreError>;

    /// Take a user's access away. `NotFound` if there was none.
    async fn revoke_access(&self, user: UserId, address: AddressId) -> Result<(), StoreError>;

    /// Who has access to an address.
    async fn address_access(&self, address: AddressId) -> Result<Vec<Access>, StoreError>;

    /// Which addresses a user has access to.
    async fn user_access(&self, user: UserId) -> Result<Vec<Access>, StoreError>;

    // ---- Send-as grants (SND-1)

    /// Let the mailbox `mailbox` send as the hosted address `address` ("an address it has
    /// been granted", SND-1). Granting again changes nothing. `NotFound` if either address
    /// does not exist; `Refused` for a grant of an address to itself. Which grants make sense
    /// (same organization, a mailbox as the sender) is the caller's rule, not the store's.
    async fn grant_send_as(&self, mailbox: AddressId, address: AddressId)
    -> Result<(), StoreError>;

    /// Take a send-as grant away. `NotFound` if there was none.
    async fn revoke_send_as(
        &self,
        mailbox: AddressId,
        address: AddressId,
    ) -> Result<(), StoreError>;

    /// The addresses the mailbox has been granted, by address.
    async fn send_as_grants(&self, mailbox: AddressId) -> Result<Vec<HostedAddress>, StoreError>;

    /// The mailboxes that have been granted `address`, by address.
    async fn send_as_holders(&self, address: AddressId) -> Result<Vec<HostedAddress>, StoreError>;

    /// Whether the mailbox has been granted `address`: the auth guards' check, one lookup of
    /// the grant's key.
    async fn may_send_as(&self, mailbox: AddressId, address: AddressId)
    -> Result<bool, StoreError>;

    // ---- Recipient resolution (RCV-13)

    /// Everything the model's resolution needs to know about one recipient, in one call: the
    /// service serving its domain (primary or alias domain, `via_alias_domain` set for the
    /// latter), the hosted address with that local part, the address owning an alias with
    /// that local part, and the service's catch-all. For an alias domain, the local part is
    /// looked up in the primary domain (SVC-3).
    async fn resolve_facts(&self, recipient: &Address) -> Result<Facts, StoreError>;
}
