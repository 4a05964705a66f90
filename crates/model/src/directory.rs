//! The directory entities of SPEC §1–2: organizations, user accounts, mail services, hosted
//! addresses, aliases, access grants, invitations and sender allow/block lists.
//!
//! These are plain values as the store keeps them. Rules that involve several of them live in
//! their own modules ([`crate::resolve`], [`crate::quota`], [`crate::aliases`],
//! [`crate::unification`], [`crate::recovery`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{
    Address, AddressError, AddressId, AliasId, Domain, InvitationId, LocalPart, OrgId, Permissions,
    RecoveryUsername, ServiceId, UserId,
};

/// ORG-1: at most this many characters in an organization name.
pub const MAX_ORG_NAME_CHARS: usize = 100;

/// ADDR-4/ADDR-5: at most this many targets in one redirection.
pub const MAX_REDIRECT_TARGETS: usize = 20;

/// Why a directory rule refused an operation.
///
/// The messages are shown verbatim to administrators and users, so each is one sentence that
/// says what was refused and, where it helps, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// A mail service's filter setting is out of range (issue 7); the text says which.
    #[error("{0}")]
    InvalidFilterSetting(String),
    /// An address, local part or domain did not parse.
    #[error(transparent)]
    InvalidAddress(#[from] AddressError),
    /// An organization name is empty after trimming.
    #[error("an organization name cannot be empty")]
    EmptyOrgName,
    /// An organization name is longer than [`MAX_ORG_NAME_CHARS`].
    #[error("an organization name can be at most {MAX_ORG_NAME_CHARS} characters long")]
    OrgNameTooLong,
    /// An organization name contains a control character (a line break, a tab…).
    #[error("an organization name cannot contain line breaks or other control characters")]
    OrgNameControlCharacter,
    /// SVC-2: creating one more address would exceed the service's quota.
    #[error("{}", quota_reached_message(.domain.as_ref(), *.quota))]
    AddressQuotaReached {
        /// The service's domain, when the caller knows it.
        domain: Option<Domain>,
        /// The quota in force.
        quota: u32,
    },
    /// SVC-2: a quota may not be lowered below the number of addresses in use.
    #[error(
        "the quota cannot be lowered to {new_quota} addresses because {in_use} addresses are in \
         use; delete some first"
    )]
    QuotaBelowUsage {
        /// The quota asked for.
        new_quota: u32,
        /// The addresses that exist.
        in_use: u32,
    },
    /// ADDR-6: the 51st alias of an address.
    #[error("an address can have at most {max} aliases", max = crate::MAX_ALIASES_PER_ADDRESS)]
    AliasLimitReached,
    /// ADDR-6: the service's plan does not include aliases.
    #[error("aliases are not enabled for this mail service")]
    AliasesNotAllowed,
    /// A redirection with no target.
    #[error("a redirection needs at least one target address")]
    NoRedirectTargets,
    /// A redirection with more than [`MAX_REDIRECT_TARGETS`] targets.
    #[error("a redirection can have at most {MAX_REDIRECT_TARGETS} target addresses")]
    TooManyRedirectTargets,
    /// The same target listed twice in one redirection.
    #[error("the address {target} is listed twice in the redirection")]
    DuplicateRedirectTarget {
        /// The repeated target.
        target: Address,
    },
    /// A redirection that names the address it belongs to.
    #[error("the address {address} cannot redirect to itself; keep a copy instead")]
    RedirectToSelf {
        /// The redirecting address.
        address: Address,
    },
    /// ADDR-4: a redirection-only address without a redirection would lose all its mail.
    #[error("the redirection-only address {address} needs at least one target address")]
    RedirectOnlyWithoutTargets {
        /// The address.
        address: Address,
    },
    /// ADDR-4: a redirection-only address holds no mail, so it cannot keep a copy.
    #[error("the redirection-only address {address} holds no mail, so it cannot keep a copy")]
    RedirectOnlyKeepsCopy {
        /// The address.
        address: Address,
    },
    /// ADDR-2: a no-reply address never accepts mail, so a redirection on it would never run.
    #[error("the no-reply address {address} accepts no mail, so it cannot have a redirection")]
    NoReplyWithRedirect {
        /// The address.
        address: Address,
    },
    /// A role name that is not owner, admin or member.
    #[error("\"{input}\" is not a role; use owner, admin or member")]
    UnknownRole {
        /// The text given.
        input: String,
    },
    /// An address kind name that is not one of the four kinds.
    #[error("\"{input}\" is not an address kind; use mailbox, noreply, catchall or redirect")]
    UnknownAddressKind {
        /// The text given.
        input: String,
    },
    /// A permission name that does not exist.
    #[error(
        "\"{name}\" is not a permission; use read_send, change_password, manage_aliases, \
         manage_redirections, manage_filters or manage_signatures"
    )]
    UnknownPermission {
        /// The unknown name.
        name: String,
    },
    /// A sender allow/block pattern that is neither an address nor a domain.
    #[error("\"{input}\" is neither a sender address nor a domain: {source}")]
    InvalidSenderPattern {
        /// The text given.
        input: String,
        /// Why it did not parse.
        source: AddressError,
    },
    /// A recovery username (ID-10) not of the form initials + 6 digits.
    #[error(
        "\"{input}\" is not a recovery username; it is one to three letters followed by six \
         digits, like jd042917"
    )]
    InvalidRecoveryUsername {
        /// The text given.
        input: String,
    },
    /// A folder name that breaks the rules of [`crate::validate_folder_name`].
    #[error("\"{name}\" is not a valid folder name: {reason}")]
    InvalidFolderName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: crate::FolderNameProblem,
    },
}

fn quota_reached_message(domain: Option<&Domain>, quota: u32) -> String {
    match domain {
        Some(domain) => format!(
            "the mail service {domain} has reached its quota of {quota} addresses; an \
             administrator can raise it"
        ),
        None => format!(
            "the mail service has reached its quota of {quota} addresses; an administrator can \
             raise it"
        ),
    }
}

/// ORG-1: what a member may do in an organization.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Created the organization or was handed it; administers it and cannot be removed by an
    /// administrator.
    Owner,
    /// Administers services, addresses and members.
    Admin,
    /// Uses the mailboxes they were given access to.
    Member,
}

impl Role {
    /// The name used by the CLI, the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// True for the roles that may manage services, addresses and members.
    pub fn can_administer(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accepts the [`Role::as_str`] names in any case, and `administrator` for `admin`.
impl FromStr for Role {
    type Err = DirectoryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "admin" | "administrator" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(DirectoryError::UnknownRole {
                input: input.to_owned(),
            }),
        }
    }
}

/// ORG-1: a customer of the platform, holding user accounts (through [`Membership`]) and mail
/// services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Store identifier.
    pub id: OrgId,
    /// Display name, validated by [`validate_org_name`].
    pub name: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// Validates an organization name and returns it trimmed.
pub fn validate_org_name(name: &str) -> Result<String, DirectoryError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DirectoryError::EmptyOrgName);
    }
    if trimmed.chars().count() > MAX_ORG_NAME_CHARS {
        return Err(DirectoryError::OrgNameTooLong);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(DirectoryError::OrgNameControlCharacter);
    }
    Ok(trimmed.to_owned())
}

/// ID-1: a person's account, which logs into the Manager and webmail (never IMAP/POP3/SMTP).
///
/// Its password is not any mailbox's password (ID-3), even when the login is a hosted address.
/// `Debug` leaves out the password hash and the TOTP secret, so logging an account leaks
/// neither.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccount {
    /// Store identifier.
    pub id: UserId,
    /// The login identifier, usually an outside personal address.
    pub login: Address,
    /// The person's name, also the source of recovery-username initials (ID-10).
    pub display_name: String,
    /// Argon2id PHC string (ID-4); never the password itself.
    pub password_hash: String,
    /// Base32 TOTP secret (RFC 6238) when two-factor authentication is on.
    pub totp_secret: Option<String>,
    /// Mobile number for recovery codes (ID-8, ID-9), as entered.
    pub phone: Option<String>,
    /// Address that receives recovery codes (ID-8, ID-9).
    pub recovery_email: Option<Address>,
    /// Bumped on every password change so sessions opened with the old one end (ID-6).
    pub credential_epoch: u32,
    /// ID-10: set when the hosted login address disappeared; the user logs in with it.
    pub recovery_username: Option<RecoveryUsername>,
    /// ID-10: the user must choose a new login address before doing anything else.
    pub must_choose_login: bool,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// Shown by `Debug` in place of a secret that is set.
const REDACTED: &str = "<redacted>";

impl fmt::Debug for UserAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAccount")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("display_name", &self.display_name)
            .field("password_hash", &REDACTED)
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| REDACTED))
            .field("phone", &self.phone)
            .field("recovery_email", &self.recovery_email)
            .field("credential_epoch", &self.credential_epoch)
            .field("recovery_username", &self.recovery_username)
            .field("must_choose_login", &self.must_choose_login)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// ORG-1: a user account's place in an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization.
    pub org: OrgId,
    /// The member.
    pub user: UserId,
    /// What the member may do there.
    pub role: Role,
}

/// Per-service feature switches that depend on the plan sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFeatures {
    /// ADDR-6: whether addresses of the service may have aliases at all.
    pub aliases_allowed: bool,
    /// Issue 7: the service's own settings of the inbound checks, over the platform's.
    #[serde(default)]
    pub filters: FilterOverrides,
}

impl Default for ServiceFeatures {
    fn default() -> Self {
        ServiceFeatures {
            aliases_allowed: true,
            filters: FilterOverrides::default(),
        }
    }
}

/// A mail service's settings of the inbound checks (issue 7: "configured per platform and
/// overridable per mail service"); each `None` keeps the platform's value.
///
/// Only the checks that run once the recipient is known can differ per service: the block
/// lists (at connection), the rate limits (at MAIL) and the virus scanner stay the
/// platform's. A transaction whose recipients belong to services that disagree gets the
/// strictest of their settings: a check runs when any of them wants it, and the lowest
/// thresholds apply, so that sharing a transaction never weakens a service's protection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterOverrides {
    /// RCV-3: greylisting on or off for the service's recipients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greylist: Option<bool>,
    /// RCV-5: the forbidden-attachment check on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<bool>,
    /// RCV-4: spam scoring on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam: Option<bool>,
    /// RCV-4: the score from which mail goes to Junk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junk_threshold: Option<f64>,
    /// RCV-4: the score from which mail is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_threshold: Option<f64>,
}

// `validate` refuses NaN, so equality is reflexive on every value a service can hold.
impl Eq for FilterOverrides {}

impl FilterOverrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == FilterOverrides::default()
    }

    /// Thresholds are finite scores of at least 0, and a reject threshold set together with
    /// a junk threshold lies above it; the error says which.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        for (name, value) in [
            ("junk_threshold", self.junk_threshold),
            ("reject_threshold", self.reject_threshold),
        ] {
            if let Some(value) = value
                && !(value.is_finite() && value >= 0.0)
            {
                return Err(DirectoryError::InvalidFilterSetting(format!(
                    "{name} must be a number of at least 0"
                )));
            }
        }
        if let (Some(junk), Some(reject)) = (self.junk_threshold, self.reject_threshold)
            && reject <= junk
        {
            return Err(DirectoryError::InvalidFilterSetting(format!(
                "reject_threshold ({reject}) must be above junk_threshold ({junk}), or mail \
                 would be refused before it could go to Junk"
            )));
        }
        Ok(())
    }
}

/// SVC-4: a signature an administrator prepares, picked when giving a user access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureTemplate {
    /// The name shown in the picker.
    pub name: String,
    /// The signature text.
    pub body: String,
}

/// SVC-1: which DKIM key signs the service's mail (RFC 6376 §3.1 selector). The private key
/// itself stays in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKeyRef {
    /// The selector, published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing algorithm as named in the `a=` tag, e.g. `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: String,
}

/// SVC-1: a mail service, built around one domain, that holds hosted addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailService {
    /// Store identifier.
    pub id: ServiceId,
    /// The owning organization.
    pub org: OrgId,
    /// The primary domain: every hosted address of the service is in it.
    pub domain: Domain,
    /// SVC-2: how many addresses the service may hold.
    pub address_quota: u32,
    /// SVC-3: other domains whose addresses map onto the primary domain's.
    pub alias_domains: Vec<Domain>,
    /// Plan switches.
    pub features: ServiceFeatures,
    /// SVC-4: permissions prefilled when giving a user access to an address.
    pub default_permissions: Permissions,
    /// SVC-4: signatures offered when giving a user access.
    pub signature_templates: Vec<SignatureTemplate>,
    /// The DKIM key that signs the service's outgoing mail, once generated.
    pub dkim: Option<DkimKeyRef>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

impl MailService {
    /// True when mail for `domain` belongs to this service (primary or alias domain).
    pub fn serves(&self, domain: &Domain) -> bool {
        self.domain == *domain || self.alias_domains.contains(domain)
    }

    /// SVC-2: whether one more address fits; the error names the service's domain.
    pub fn check_address_quota(&self, in_use: u32) -> Result<(), DirectoryError> {
        crate::check_address_quota(in_use, self.address_quota).map_err(|_| {
            DirectoryError::AddressQuotaReached {
                domain: Some(self.domain.clone()),
                quota: self.address_quota,
            }
        })
    }
}

/// What a hosted address does with incoming mail.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AddressKind {
    /// A mailbox: holds mail, has a password, may redirect (ADDR-5).
    #[serde(rename = "mailbox")]
    Mailbox,
    /// ADDR-2: sends, never accepts incoming mail (refused at RCPT).
    #[serde(rename = "noreply")]
    NoReply,
    /// ADDR-2: a mailbox that also receives mail for every unknown local part of the service.
    #[serde(rename = "catchall")]
    CatchAll,
    /// ADDR-4: holds no mail and only forwards.
    #[serde(rename = "redirect")]
    RedirectOnly,
}

impl AddressKind {
    /// The name used by the CLI, the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Mailbox => "mailbox",
            AddressKind::NoReply => "noreply",
            AddressKind::CatchAll => "catchall",
            AddressKind::RedirectOnly => "redirect",
        }
    }

    /// True for the kinds that store mail and so have folders.
    pub fn holds_mail(self) -> bool {
        matches!(self, AddressKind::Mailbox | AddressKind::CatchAll)
    }
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accepts the [`AddressKind::as_str`] names in any case, plus the spellings `no-reply`,
/// `catch-all` and `redirect-only`.
impl FromStr for AddressKind {
    type Err = DirectoryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_ascii_lowercase().as_str() {
            "mailbox" => Ok(AddressKind::Mailbox),
            "noreply" | "no-reply" => Ok(AddressKind::NoReply),
            "catchall" | "catch-all" => Ok(AddressKind::CatchAll),
            "redirect" | "redirect-only" => Ok(AddressKind::RedirectOnly),
            _ => Err(DirectoryError::UnknownAddressKind {
                input: input.to_owned(),
            }),
        }
    }
}

/// ADDR-4/ADDR-5: where incoming mail is forwarded, and whether the mailbox keeps a copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirection {
    /// 1..=[`MAX_REDIRECT_TARGETS`] distinct addresses, hosted here or elsewhere.
    pub targets: Vec<Address>,
    /// Whether the redirecting mailbox also stores the message (never for redirect-only).
    pub keep_copy: bool,
}

impl Redirection {
    /// Builds a redirection, refusing an empty, oversized or repetitive target list.
    pub fn new(targets: Vec<Address>, keep_copy: bool) -> Result<Redirection, DirectoryError> {
        let redirection = Redirection { targets, keep_copy };
        redirection.validate()?;
        Ok(redirection)
    }

    /// Checks the rules of [`Redirection::new`] on a value built field by field (from
    /// storage, say): 1..=[`MAX_REDIRECT_TARGETS`] targets, none repeated.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        if self.targets.is_empty() {
            return Err(DirectoryError::NoRedirectTargets);
        }
        if self.targets.len() > MAX_REDIRECT_TARGETS {
            return Err(DirectoryError::TooManyRedirectTargets);
        }
        for (index, target) in self.targets.iter().enumerate() {
            if self.targets[..index].contains(target) {
                return Err(DirectoryError::DuplicateRedirectTarget {
                    target: target.clone(),
                });
            }
        }
        Ok(())
    }
}

/// An address of a mail service (`anything@domain.xyz`), and the mailbox behind it.
///
/// `Debug` leaves out the password hash, so logging an address leaks nothing to crack.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedAddress {
    /// Store identifier; also identifies the mailbox.
    pub id: AddressId,
    /// The service it belongs to.
    pub service: ServiceId,
    /// The address, always in the service's primary domain.
    pub address: Address,
    /// What it does with incoming mail.
    pub kind: AddressKind,
    /// The name shown with the address in mail sent from it; empty when none was given.
    #[serde(default)]
    pub display_name: String,
    /// ID-2: Argon2id PHC string of the mailbox password, used by IMAP/POP3/SMTP clients.
    pub password_hash: Option<String>,
    /// Bumped on every mailbox password change so client sessions end (ID-6).
    pub credential_epoch: u32,
    /// A disabled address refuses mail and logins but keeps its content.
    pub enabled: bool,
    /// ADDR-10: storage limit in bytes; `None` means unlimited (the default).
    pub storage_limit: Option<u64>,
    /// ADDR-4/ADDR-5: forwarding, if any.
    pub redirect: Option<Redirection>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

impl fmt::Debug for HostedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostedAddress")
            .field("id", &self.id)
            .field("service", &self.service)
            .field("address", &self.address)
            .field("kind", &self.kind)
            .field("display_name", &self.display_name)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| REDACTED),
            )
            .field("credential_epoch", &self.credential_epoch)
            .field("enabled", &self.enabled)
            .field("storage_limit", &self.storage_limit)
            .field("redirect", &self.redirect)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl HostedAddress {
    /// Checks the rules that tie the kind to the redirection: a redirect-only address has
    /// targets and keeps no copy, a no-reply address has no redirection, the redirection obeys
    /// [`Redirection::validate`], and nothing redirects to itself.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let address = || self.address.clone();
        match (self.kind, &self.redirect) {
            (AddressKind::RedirectOnly, None) => {
                return Err(DirectoryError::RedirectOnlyWithoutTargets { address: address() });
            }
            (AddressKind::RedirectOnly, Some(redirect)) if redirect.keep_copy => {
                return Err(DirectoryError::RedirectOnlyKeepsCopy { address: address() });
            }
            (AddressKind::NoReply, Some(_)) => {
                return Err(DirectoryError::NoReplyWithRedirect { address: address() });
            }
            _ => {}
        }
        if let Some(redirect) = &self.redirect {
            redirect.validate()?;
            if redirect.targets.contains(&self.address) {
                return Err(DirectoryError::RedirectToSelf { address: address() });
            }
        }
        Ok(())
    }
}

/// ADDR-6: another local part in the same service that delivers to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// Store identifier.
    pub id: AliasId,
    /// The address it delivers to.
    pub address: AddressId,
    /// The alias local part; its domain is the address's (and its alias domains').
    pub local: LocalPart,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// ADDR-9: a user account's access to a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Who.
    pub user: UserId,
    /// Which mailbox.
    pub address: AddressId,
    /// What they may do with it.
    pub permissions: Permissions,
    /// SVC-4: the name of the signature template picked for this user, if any.
    #[serde(default)]
    pub signature: Option<String>,
}

/// ADDR-1 (b'): how the invited person's future account logs in.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMode {
    /// With exactly the created address as login.
    ExactAddress,
    /// With a login address of their choice.
    OwnChoice,
}

/// ADDR-1 (b'): an invitation to use an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Store identifier.
    pub id: InvitationId,
    /// The address the invited person will use.
    pub address: AddressId,
    /// Where the invitation was sent: the created address or the person's own.
    pub sent_to: Address,
    /// How the future account logs in.
    pub login_mode: LoginMode,
    /// Permissions granted on acceptance.
    pub permissions: Permissions,
    /// The signature picked, if any.
    pub signature: Option<String>,
    /// After this instant (Unix seconds) the invitation no longer works.
    pub expires_at: i64,
    /// When it was accepted, if it was.
    pub accepted_at: Option<i64>,
}

impl Invitation {
    /// True while the invitation can still be accepted at `now` (Unix seconds): not accepted
    /// yet and not expired (it expires at `expires_at` exactly).
    pub fn is_open(&self, now: i64) -> bool {
        self.accepted_at.is_none() && now < self.expires_at
    }
}

/// RCV-4: whether a sender rule lets mail through or keeps it out, overriding the spam score.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// Whitelist: never treated as spam.
    Allow,
    /// Blacklist: always kept out.
    Block,
}

/// RCV-4: which senders a rule applies to.
///
/// Serialised as text: `user@example.com` for an address, `@example.com` for a domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SenderPattern {
    /// Exactly this sender.
    Address(Address),
    /// This domain and all its subdomains.
    Domain(Domain),
}

impl SenderPattern {
    /// Parses `user@example.com` as an address, `example.com` or `@example.com` as a domain.
    pub fn parse(input: &str) -> Result<SenderPattern, DirectoryError> {
        let invalid = |source| DirectoryError::InvalidSenderPattern {
            input: input.to_owned(),
            source,
        };
        if let Some(domain) = input.strip_prefix('@') {
            return Domain::parse(domain)
                .map(SenderPattern::Domain)
                .map_err(invalid);
        }
        if input.contains('@') {
            return Address::parse(input)
                .map(SenderPattern::Address)
                .map_err(invalid);
        }
        Domain::parse(input)
            .map(SenderPattern::Domain)
            .map_err(invalid)
    }

    /// True when the rule applies to `sender`; a domain pattern covers its subdomains too.
    pub fn matches(&self, sender: &Address) -> bool {
        match self {
            SenderPattern::Address(address) => address == sender,
            SenderPattern::Domain(domain) => sender.domain().is_within(domain),
        }
    }
}

impl fmt::Display for SenderPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderPattern::Address(address) => write!(f, "{address}"),
            SenderPattern::Domain(domain) => write!(f, "@{domain}"),
        }
    }
}

impl FromStr for SenderPattern {
    type Err = DirectoryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        SenderPattern::parse(input)
    }
}

impl TryFrom<String> for SenderPattern {
    type Error = DirectoryError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        SenderPattern::parse(&input)
    }
}

impl From<SenderPattern> for String {
    fn from(pattern: SenderPattern) -> String {
        pattern.to_string()
    }
}

/// RCV-4: one entry of a mailbox's allow or block list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRule {
    /// The mailbox whose list it is.
    pub address: AddressId,
    /// Allow or block.
    pub kind: ListKind,
    /// Which senders.
    pub pattern: SenderPattern,
}

/// RCV-4: what a mailbox's allow/block list says about `sender`, or `None` when no rule
/// applies (the spam score then decides).
///
/// `rules` are the rules of one mailbox. The most specific matching rules win: an exact
/// address beats any domain, and a domain beats its parent domains (`news.example.com` beats
/// `example.com`). Among equally specific matches, Block beats Allow, so a contradiction never
/// lets mail in.
pub fn sender_verdict(rules: &[SenderRule], sender: &Address) -> Option<ListKind> {
    // Specificity: an address outranks every domain; a domain ranks by its label count.
    let specificity = |pattern: &SenderPattern| match pattern {
        SenderPattern::Address(_) => usize::MAX,
        SenderPattern::Domain(domain) => domain.as_str().split('.').count(),
    };
    let matching = rules.iter().filter(|rule| rule.pattern.matches(sender));
    let best = matching
        .clone()
        .map(|rule| specificity(&rule.pattern))
        .max()?;
    let mut verdict = ListKind::Allow;
    for rule in matching.filter(|rule| specificity(&rule.pattern) == best) {
        if rule.kind == ListKind::Block {
            verdict = ListKind::Block;
        }
    }
    Some(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> Address {
        match Address::parse(text) {
            Ok(address) => address,
            Err(error) => panic!("test address {text:?}: {error}"),
        }
    }

    fn domain(text: &str) -> Domain {
        match Domain::parse(text) {
            Ok(domain) => domain,
            Err(error) => panic!("test domain {text:?}: {error}"),
        }
    }

    fn pattern(text: &str) -> SenderPattern {
        match SenderPattern::parse(text) {
            Ok(pattern) => pattern,
            Err(error) => panic!("test pattern {text:?}: {error}"),
        }
    }

    fn rule(kind: ListKind, text: &str) -> SenderRule {
        SenderRule {
            address: AddressId(1),
            kind,
            pattern: pattern(text),
        }
    }

    fn hosted(kind: AddressKind, redirect: Option<Redirection>) -> HostedAddress {
        HostedAddress {
            id: AddressId(1),
            service: ServiceId(1),
            address: address("box@example.com"),
            kind,
            display_name: String::new(),
            password_hash: None,
            credential_epoch: 0,
            enabled: true,
            storage_limit: None,
            redirect,
            created_at: 0,
        }
    }

    fn service() -> MailService {
        MailService {
            id: ServiceId(1),
            org: OrgId(1),
            domain: domain("example.com"),
            address_quota: 3,
            alias_domains: vec![domain("example.net"), domain("bücher.example")],
            features: ServiceFeatures::default(),
            default_permissions: Permissions::default(),
            signature_templates: Vec::new(),
            dkim: None,
            created_at: 0,
        }
    }

    #[test]
    fn org_1_roles_parse_and_administer() {
        let cases = [
            ("owner", Role::Owner, true),
            ("admin", Role::Admin, true),
            ("member", Role::Member, false),
        ];
        for (name, role, administers) in cases {
            assert_eq!(role.as_str(), name);
            assert_eq!(name.parse::<Role>(), Ok(role));
            assert_eq!(name.to_uppercase().parse::<Role>(), Ok(role));
            assert_eq!(role.can_administer(), administers);
        }
        assert_eq!("Administrator".parse::<Role>(), Ok(Role::Admin));
        assert_eq!(
            "boss".parse::<Role>(),
            Err(DirectoryError::UnknownRole {
                input: "boss".to_owned()
            })
        );
        assert_eq!(
            serde_json::to_string(&Role::Admin).ok().as_deref(),
            Some("\"admin\"")
        );
    }

    #[test]
    fn org_1_organization_names_are_trimmed_and_bounded() {
        let hundred = "n".repeat(100);
        let hundred_accented = "é".repeat(100);
        let valid = [
            ("Acme", "Acme"),
            ("  Acme SARL  ", "Acme SARL"),
            ("Société Générale", "Société Générale"),
            (&hundred, &hundred),
            (&hundred_accented, &hundred_accented),
        ];
        for (input, expected) in valid {
            assert_eq!(
                validate_org_name(input),
                Ok(expected.to_owned()),
                "{input:?}"
            );
        }
        let too_long = "n".repeat(101);
        let invalid = [
            ("", DirectoryError::EmptyOrgName),
            ("   ", DirectoryError::EmptyOrgName),
            ("\t\n", DirectoryError::EmptyOrgName),
            (&too_long, DirectoryError::OrgNameTooLong),
            ("Acme\nEvil", DirectoryError::OrgNameControlCharacter),
            ("Acme\u{7}", DirectoryError::OrgNameControlCharacter),
        ];
        for (input, expected) in invalid {
            assert_eq!(validate_org_name(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn addr_2_address_kinds_have_stable_names() {
        let cases = [
            (AddressKind::Mailbox, "mailbox", true),
            (AddressKind::NoReply, "noreply", false),
            (AddressKind::CatchAll, "catchall", true),
            (AddressKind::RedirectOnly, "redirect", false),
        ];
        for (kind, name, holds_mail) in cases {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(name.parse::<AddressKind>(), Ok(kind));
            assert_eq!(kind.holds_mail(), holds_mail);
            let json = serde_json::to_string(&kind).ok();
            assert_eq!(json, Some(format!("\"{name}\"")));
        }
        let spellings = [
            ("No-Reply", AddressKind::NoReply),
            ("catch-all", AddressKind::CatchAll),
            ("redirect-only", AddressKind::RedirectOnly),
        ];
        for (input, kind) in spellings {
            assert_eq!(input.parse::<AddressKind>(), Ok(kind));
        }
        assert_eq!(
            "alias".parse::<AddressKind>(),
            Err(DirectoryError::UnknownAddressKind {
                input: "alias".to_owned()
            })
        );
    }

    #[test]
    fn addr_5_redirections_need_one_to_twenty_distinct_targets() {
        let one = vec![address("a@example.org")];
        assert_eq!(
            Redirection::new(one.clone(), true),
            Ok(Redirection {
                targets: one,
                keep_copy: true
            })
        );
        let twenty: Vec<Address> = (0..20)
            .map(|n| address(&format!("t{n}@example.org")))
            .collect();
        assert!(Redirection::new(twenty.clone(), false).is_ok());
        let mut twenty_one = twenty;
        twenty_one.push(address("t20@example.org"));
        assert_eq!(
            Redirection::new(twenty_one, false),
            Err(DirectoryError::TooManyRedirectTargets)
        );
        assert_eq!(
            Redirection::new(Vec::new(), false),
            Err(DirectoryError::NoRedirectTargets)
        );
        // Duplicates are found after normalisation.
        let twice = vec![
            address("a@example.org"),
            address("b@x.org"),
            address("A@EXAMPLE.org"),
        ];
        assert_eq!(
            Redirection::new(twice, false),
            Err(DirectoryError::DuplicateRedirectTarget {
                target: address("a@example.org")
            })
        );
    }

    #[test]
    fn addr_4_hosted_address_kind_and_redirection_must_agree() {
        let elsewhere = || Redirection {
            targets: vec![address("me@elsewhere.example")],
            keep_copy: false,
        };
        let keeping = || Redirection {
            keep_copy: true,
            ..elsewhere()
        };
        let to_self = || Redirection {
            targets: vec![address("other@example.com"), address("BOX@example.com")],
            keep_copy: true,
        };
        let empty = || Redirection {
            targets: Vec::new(),
            keep_copy: false,
        };
        let boxed = address("box@example.com");
        let cases = [
            (AddressKind::Mailbox, None, Ok(())),
            (AddressKind::Mailbox, Some(elsewhere()), Ok(())),
            (AddressKind::Mailbox, Some(keeping()), Ok(())),
            (AddressKind::CatchAll, Some(keeping()), Ok(())),
            (AddressKind::NoReply, None, Ok(())),
            (AddressKind::RedirectOnly, Some(elsewhere()), Ok(())),
            (
                AddressKind::RedirectOnly,
                None,
                Err(DirectoryError::RedirectOnlyWithoutTargets {
                    address: boxed.clone(),
                }),
            ),
            (
                AddressKind::RedirectOnly,
                Some(keeping()),
                Err(DirectoryError::RedirectOnlyKeepsCopy {
                    address: boxed.clone(),
                }),
            ),
            (
                AddressKind::NoReply,
                Some(elsewhere()),
                Err(DirectoryError::NoReplyWithRedirect {
                    address: boxed.clone(),
                }),
            ),
            (
                AddressKind::Mailbox,
                Some(to_self()),
                Err(DirectoryError::RedirectToSelf {
                    address: boxed.clone(),
                }),
            ),
            (
                AddressKind::Mailbox,
                Some(empty()),
                Err(DirectoryError::NoRedirectTargets),
            ),
        ];
        for (kind, redirect, expected) in cases {
            let described = format!("{kind:?} {redirect:?}");
            assert_eq!(hosted(kind, redirect).validate(), expected, "{described}");
        }
    }

    #[test]
    fn svc_3_a_service_serves_its_domain_and_alias_domains() {
        let service = service();
        assert!(service.serves(&domain("example.com")));
        assert!(service.serves(&domain("EXAMPLE.NET")));
        assert!(service.serves(&domain("xn--bcher-kva.example")));
        assert!(!service.serves(&domain("sub.example.com")));
        assert!(!service.serves(&domain("example.org")));
    }

    #[test]
    fn svc_2_service_quota_refusal_names_the_domain() {
        let service = service();
        assert_eq!(service.check_address_quota(2), Ok(()));
        let refused = service.check_address_quota(3);
        assert_eq!(
            refused,
            Err(DirectoryError::AddressQuotaReached {
                domain: Some(domain("example.com")),
                quota: 3
            })
        );
        assert_eq!(
            refused.map_err(|e| e.to_string()),
            Err(
                "the mail service example.com has reached its quota of 3 addresses; an \
                 administrator can raise it"
                    .to_owned()
            )
        );
    }

    #[test]
    fn rcv_4_sender_patterns_parse_addresses_and_domains() {
        let cases = [
            (
                "John@Example.com",
                SenderPattern::Address(address("john@example.com")),
            ),
            ("example.com", SenderPattern::Domain(domain("example.com"))),
            ("@Example.com", SenderPattern::Domain(domain("example.com"))),
            (
                "@bücher.example",
                SenderPattern::Domain(domain("xn--bcher-kva.example")),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                SenderPattern::parse(input),
                Ok(expected.clone()),
                "{input:?}"
            );
            assert_eq!(expected.to_string().parse::<SenderPattern>(), Ok(expected));
        }
        for input in [
            "",
            "@",
            "john@",
            "localhost",
            "a b@example.com",
            "@@example.com",
        ] {
            assert!(
                matches!(
                    SenderPattern::parse(input),
                    Err(DirectoryError::InvalidSenderPattern { .. })
                ),
                "{input:?}"
            );
        }
        assert_eq!(pattern("example.com").to_string(), "@example.com");
        let json = serde_json::to_string(&pattern("Bob@Example.com")).ok();
        assert_eq!(json.as_deref(), Some("\"bob@example.com\""));
        assert!(serde_json::from_str::<SenderPattern>("\"not a pattern\"").is_err());
    }

    #[test]
    fn rcv_4_domain_patterns_match_subdomains_and_address_patterns_match_exactly() {
        let cases = [
            ("bob@example.com", "bob@example.com", true),
            ("bob@example.com", "BOB@example.com", true),
            ("bob@example.com", "alice@example.com", false),
            ("bob@example.com", "bob@mail.example.com", false),
            ("example.com", "bob@example.com", true),
            ("example.com", "bob@mail.example.com", true),
            ("example.com", "bob@badexample.com", false),
            ("example.com", "bob@example.com.evil.example", false),
            ("mail.example.com", "bob@example.com", false),
        ];
        for (text, sender, expected) in cases {
            assert_eq!(
                pattern(text).matches(&address(sender)),
                expected,
                "{text} {sender}"
            );
        }
    }

    #[test]
    fn rcv_4_sender_verdict_prefers_the_most_specific_rule_and_block_on_ties() {
        use ListKind::{Allow, Block};
        let sender = "bob@news.example.com";
        let cases: Vec<(Vec<SenderRule>, Option<ListKind>)> = vec![
            (vec![], None),
            (vec![rule(Block, "other.example")], None),
            (vec![rule(Allow, "bob@example.com")], None),
            (vec![rule(Allow, "bob@news.example.com")], Some(Allow)),
            (vec![rule(Block, "bob@news.example.com")], Some(Block)),
            (vec![rule(Allow, "example.com")], Some(Allow)),
            (vec![rule(Block, "example.com")], Some(Block)),
            // An exact address beats a domain, either way round.
            (
                vec![rule(Block, "example.com"), rule(Allow, sender)],
                Some(Allow),
            ),
            (
                vec![rule(Allow, "example.com"), rule(Block, sender)],
                Some(Block),
            ),
            (
                vec![rule(Block, "news.example.com"), rule(Allow, sender)],
                Some(Allow),
            ),
            // A subdomain beats its parent.
            (
                vec![rule(Block, "example.com"), rule(Allow, "news.example.com")],
                Some(Allow),
            ),
            (
                vec![rule(Allow, "example.com"), rule(Block, "news.example.com")],
                Some(Block),
            ),
            // At the same specificity, Block wins whatever the order.
            (vec![rule(Allow, sender), rule(Block, sender)], Some(Block)),
            (vec![rule(Block, sender), rule(Allow, sender)], Some(Block)),
            (
                vec![rule(Allow, "example.com"), rule(Block, "@example.com")],
                Some(Block),
            ),
            // Rules that do not match take no part.
            (
                vec![rule(Allow, "example.com"), rule(Block, "alice@example.com")],
                Some(Allow),
            ),
        ];
        for (rules, expected) in cases {
            assert_eq!(
                sender_verdict(&rules, &address(sender)),
                expected,
                "{rules:?}"
            );
        }
    }

    #[test]
    fn addr_5_redirection_validate_catches_values_built_field_by_field() {
        let twenty_one: Vec<Address> = (0..21)
            .map(|n| address(&format!("t{n}@example.org")))
            .collect();
        let cases = [
            (vec![address("a@example.org")], Ok(())),
            (Vec::new(), Err(DirectoryError::NoRedirectTargets)),
            (twenty_one, Err(DirectoryError::TooManyRedirectTargets)),
            (
                vec![address("a@example.org"), address("a@example.org")],
                Err(DirectoryError::DuplicateRedirectTarget {
                    target: address("a@example.org"),
                }),
            ),
        ];
        for (targets, expected) in cases {
            let redirection = Redirection {
                targets,
                keep_copy: false,
            };
            assert_eq!(redirection.validate(), expected, "{redirection:?}");
            let mut with_it = hosted(AddressKind::Mailbox, Some(redirection));
            assert_eq!(with_it.validate(), expected);
            with_it.kind = AddressKind::RedirectOnly;
            assert_eq!(with_it.validate(), expected);
        }
    }

    #[test]
    fn addr_1_invitation_is_open_until_accepted_or_expired() {
        let invitation = |accepted_at| Invitation {
            id: InvitationId(1),
            address: AddressId(1),
            sent_to: address("new@example.com"),
            login_mode: LoginMode::OwnChoice,
            permissions: Permissions::default(),
            signature: None,
            expires_at: 1_000,
            accepted_at,
        };
        let cases = [
            (None, 0, true),
            (None, 999, true),
            (None, 1_000, false),
            (None, 5_000, false),
            (Some(500), 600, false),
        ];
        for (accepted_at, now, open) in cases {
            assert_eq!(
                invitation(accepted_at).is_open(now),
                open,
                "{accepted_at:?} {now}"
            );
        }
    }

    #[test]
    fn id_4_debug_output_hides_hashes_and_secrets() {
        let account = UserAccount {
            id: UserId(1),
            login: address("toto@gmail.example"),
            display_name: "Toto".to_owned(),
            password_hash: "$argon2id$v=19$secret-hash".to_owned(),
            totp_secret: Some("JBSWY3DPEHPK3PXP".to_owned()),
            phone: None,
            recovery_email: None,
            credential_epoch: 0,
            recovery_username: None,
            must_choose_login: false,
            created_at: 0,
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("secret-hash"), "{shown}");
        assert!(!shown.contains("JBSWY3DPEHPK3PXP"), "{shown}");
        assert!(shown.contains("toto@gmail.example"), "{shown}");
        let mut mailbox = hosted(AddressKind::Mailbox, None);
        mailbox.password_hash = Some("$argon2id$v=19$mailbox-hash".to_owned());
        let shown = format!("{mailbox:?}");
        assert!(!shown.contains("mailbox-hash"), "{shown}");
        assert!(
            shown.contains("password_hash: Some(\"<redacted>\")"),
            "{shown}"
        );
        mailbox.password_hash = None;
        assert!(format!("{mailbox:?}").contains("password_hash: None"));
    }

    #[test]
    fn entities_round_trip_through_serde() {
        let account = UserAccount {
            id: UserId(7),
            login: address("toto@gmail.example"),
            display_name: "Toto".to_owned(),
            password_hash: "$argon2id$v=19$...".to_owned(),
            totp_secret: None,
            phone: Some("+33600000000".to_owned()),
            recovery_email: Some(address("backup@example.org")),
            credential_epoch: 2,
            recovery_username: RecoveryUsername::parse("t000042").ok(),
            must_choose_login: true,
            created_at: 1_700_000_000,
        };
        let json = serde_json::to_string(&account).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<UserAccount>(&json).ok(),
            Some(account)
        );

        let service = service();
        let json = serde_json::to_string(&service).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<MailService>(&json).ok(),
            Some(service)
        );

        let invitation = Invitation {
            id: InvitationId(3),
            address: AddressId(4),
            sent_to: address("new@example.com"),
            login_mode: LoginMode::ExactAddress,
            permissions: Permissions::READ_SEND | Permissions::CHANGE_PASSWORD,
            signature: None,
            expires_at: 10,
            accepted_at: None,
        };
        let json = serde_json::to_string(&invitation).unwrap_or_default();
        assert!(json.contains("\"exact_address\""), "{json}");
        assert_eq!(
            serde_json::from_str::<Invitation>(&json).ok(),
            Some(invitation)
        );

        let hosted = hosted(AddressKind::Mailbox, None);
        let json = serde_json::to_string(&hosted).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<HostedAddress>(&json).ok(),
            Some(hosted)
        );
    }
}
