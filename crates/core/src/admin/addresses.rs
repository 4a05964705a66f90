//! Addresses: creation with the modes of ADDR-1, details, and the changes an administrator (or
//! a user holding the permission, ADDR-9) makes to one address afterwards.

use postwerk_model::{
    Access, Address, AddressKind, Alias, HostedAddress, Invitation, LocalPart, LoginMode,
    MailService, Permissions, Redirection, UserId, check_new_alias,
};
use postwerk_store::{AddressExtras, NewAddress, StoreError};

use super::invitations::PreparedInvitation;
use super::{Actor, AddressCreated, Admin, CreateAddress, Need, hash_password};
use crate::CoreError;

/// The longest display name accepted, in characters: it goes into `From:` headers.
const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// ADDR-1: who will use a new address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// (a) the signed-in user themself: they choose the password; the address is linked to
    /// their account at once with the service's default permissions. Refused for the operator,
    /// who has no account.
    Myself,
    /// (b) these users of the organization (the creator may be among them): permissions from
    /// the service defaults unless given, a signature template, a generated password shown
    /// once.
    Users(Vec<Grant>),
    /// (b') an invitation, sent through the outbound queue.
    Invitation(InvitationRequest),
    /// (c) "I don't know": like (a) without linking it to any account.
    Nobody,
}

/// ADDR-1 (b), ADDR-9: one user given access to an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The user account's login; it must be a member of the service's organization.
    pub login: String,
    /// `None`: the service's default permissions (SVC-4).
    pub permissions: Option<Permissions>,
    /// The name of one of the service's signature templates (SVC-4).
    pub signature: Option<String>,
}

/// ADDR-1 (b'): an invitation to use the address being created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRequest {
    /// Where to send it; `None`: to the address being created.
    pub send_to: Option<String>,
    /// How the invited person's account will log in.
    pub login_mode: LoginMode,
    /// `None`: the service's default permissions.
    pub permissions: Option<Permissions>,
    /// The name of one of the service's signature templates.
    pub signature: Option<String>,
}

/// Everything about one address, for the Manager's address page.
#[derive(Debug, Clone)]
pub struct AddressDetails {
    /// The address.
    pub address: HostedAddress,
    /// Its aliases (ADDR-6).
    pub aliases: Vec<Alias>,
    /// Who has access, with their logins (ADDR-9).
    pub access: Vec<(Address, Access)>,
    /// Its invitations, open or not (ADDR-1 b').
    pub invitations: Vec<Invitation>,
}

/// Changes to an address; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressUpdate {
    /// Enable or disable (a disabled address refuses mail and logins, keeps its content).
    /// Administrators only.
    pub enabled: Option<bool>,
    /// ADDR-10: `Some(Some(octets))` sets a storage limit, `Some(None)` lifts it.
    /// Administrators only.
    pub storage_limit: Option<Option<u64>>,
    /// ADDR-4/5: `Some(Some((targets, keep_copy)))` sets the redirection, `Some(None)` removes
    /// it. Administrators, or users with `MANAGE_REDIRECTIONS` on the address.
    pub redirect: Option<Option<(Vec<String>, bool)>>,
    /// The display name. Administrators, or users with `MANAGE_SIGNATURES`.
    pub display_name: Option<String>,
}

impl Admin {
    /// Creates an address (ADDR-1, ADDR-2, ADDR-4, ADDR-5, ADDR-6). Everything is validated
    /// before anything is written, and the address, its aliases and its access grants are
    /// written in one transaction, so a refusal leaves nothing behind. An invitation is sent
    /// after the commit; if sending fails the address stays and the error says so.
    ///
    /// Administrators of the service's organization only. The mailbox password: chosen or
    /// generated (shown once) for every kind that logs in; none for a redirect-only address,
    /// and none yet for an invitation with [`LoginMode::ExactAddress`], whose acceptance sets
    /// it ([`Admin::accept_invitation`]).
    pub async fn create_address(
        &self,
        actor: Actor,
        request: CreateAddress,
    ) -> Result<AddressCreated, CoreError> {
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
        let redirect = parse_redirect(&request.redirect_to, request.keep_copy)?;
        let display_name = check_display_name(&request.display_name).map_err(CoreError::Invalid)?;
        let aliases = new_aliases(&service, &address, &request.aliases)?;
        check_holder_fits_kind(&address, request.kind, &request.holder)?;
        if request.kind == AddressKind::RedirectOnly && request.password.is_some() {
            return Err(CoreError::Invalid(format!(
                "the redirection-only address {address} holds no mail and has no password"
            )));
        }

        let (access, invitation) = self
            .holder_parts(actor, &service, &address, &request)
            .await?;

        let password_set_later = invitation
            .as_ref()
            .is_some_and(|i| i.login_mode == LoginMode::ExactAddress);
        let (password_hash, generated_password) =
            if request.kind == AddressKind::RedirectOnly || password_set_later {
                (None, None)
            } else {
                let (hash, generated) = hash_password(request.password).await?;
                (Some(hash), generated)
            };
        let new = NewAddress {
            service: service.id,
            local: address.local().clone(),
            kind: request.kind,
            display_name,
            password_hash,
            redirect,
            storage_limit: None,
        };
        let hosted = self
            .directory
            .create_address_with(new, AddressExtras { aliases, access })
            .await?;
        let invitation = match invitation {
            Some(prepared) => Some(
                self.send_invitation(actor, &hosted, &service, prepared)
                    .await
                    .map_err(|error| invitation_not_sent(&hosted.address, error))?,
            ),
            None => None,
        };
        Ok(AddressCreated {
            address: hosted,
            generated_password,
            invitation,
        })
    }

    /// One address with its aliases, access and invitations. Administrators, or a user with
    /// any access to it.
    pub async fn address_details(
        &self,
        actor: Actor,
        address: &str,
    ) -> Result<AddressDetails, CoreError> {
        let hosted = self.address_for(actor, address, Need::Access).await?.hosted;
        let aliases = self.directory.list_aliases(hosted.id).await?;
        let mut access = Vec::new();
        for grant in self.directory.address_access(hosted.id).await? {
            if let Some(user) = self.directory.user(grant.user).await? {
                access.push((user.login, grant));
            }
        }
        let invitations = self.manager.list_invitations(hosted.id).await?;
        Ok(AddressDetails {
            address: hosted,
            aliases,
            access,
            invitations,
        })
    }

    /// Applies `update` to an address, each field checked against the actor's rights first;
    /// nothing changes when any field is refused. (Every field is checked and validated
    /// before the first is written; each field is then its own transaction.)
    pub async fn update_address(
        &self,
        actor: Actor,
        address: &str,
        update: AddressUpdate,
    ) -> Result<HostedAddress, CoreError> {
        let hosted = self
            .address_for(actor, address, update_need(&update))
            .await?
            .hosted;

        let redirect = match &update.redirect {
            None => None,
            Some(None) => Some(None),
            Some(Some((targets, keep_copy))) => match parse_redirect(targets, *keep_copy)? {
                Some(redirect) => Some(Some(redirect)),
                None => {
                    return Err(CoreError::Invalid(format!(
                        "a redirection needs at least one target address; to stop redirecting \
                         {}, remove the redirection",
                        hosted.address
                    )));
                }
            },
        };
        if let Some(redirect) = &redirect {
            // The kind's rules (ADDR-2, ADDR-4) with the new redirection, before writing.
            let mut changed = hosted.clone();
            changed.redirect = redirect.clone();
            changed.validate()?;
        }
        if matches!(update.storage_limit, Some(Some(_))) && !hosted.kind.holds_mail() {
            return Err(CoreError::Invalid(format!(
                "{} holds no mail, so it cannot have a storage limit",
                hosted.address
            )));
        }
        let display_name = update
            .display_name
            .as_deref()
            .map(check_display_name)
            .transpose()
            .map_err(CoreError::Invalid)?;

        if let Some(enabled) = update.enabled {
            self.directory
                .set_address_enabled(hosted.id, enabled)
                .await?;
        }
        if let Some(limit) = update.storage_limit {
            self.directory.set_storage_limit(hosted.id, limit).await?;
        }
        if let Some(redirect) = redirect {
            self.directory.set_redirect(hosted.id, redirect).await?;
        }
        if let Some(display_name) = display_name {
            self.directory
                .set_address_display_name(hosted.id, &display_name)
                .await?;
        }
        self.directory.address(hosted.id).await?.ok_or_else(|| {
            CoreError::NotFound(format!("the address {} no longer exists", hosted.address))
        })
    }

    /// ADDR-1: what the holder of a new address makes of it: the access grants written with
    /// the address (a, b), or the invitation to send once it exists (b'); nothing for (c).
    async fn holder_parts(
        &self,
        actor: Actor,
        service: &MailService,
        address: &Address,
        request: &CreateAddress,
    ) -> Result<(Vec<AccessGrant>, Option<PreparedInvitation>), CoreError> {
        match &request.holder {
            Holder::Myself => {
                let Actor::User(user) = actor else {
                    return Err(CoreError::Invalid(
                        "the platform operator has no account to link an address to; create it \
                         for other users, with an invitation, or for nobody"
                            .into(),
                    ));
                };
                if request.password.is_none() {
                    return Err(CoreError::Invalid(format!(
                        "choose the password of {address}: an address created for yourself \
                         gets the password you type, not a generated one"
                    )));
                }
                Ok((vec![(user, service.default_permissions, None)], None))
            }
            Holder::Users(grants) => Ok((self.grants(service, address, grants).await?, None)),
            Holder::Invitation(invitation) => {
                let prepared = self
                    .prepare_invitation(service, address, invitation)
                    .await?;
                if prepared.login_mode == LoginMode::ExactAddress && request.password.is_some() {
                    return Err(CoreError::Invalid(format!(
                        "the invited person chooses the password of {address} when accepting, \
                         since they will log in with exactly this address; leave the password \
                         empty"
                    )));
                }
                Ok((Vec::new(), Some(prepared)))
            }
            Holder::Nobody => Ok((Vec::new(), None)),
        }
    }

    /// ADDR-1 (b): the access grants of `grants`, each account a member of the service's
    /// organization, each once, with the service's default permissions unless given and a
    /// signature template the service has.
    async fn grants(
        &self,
        service: &MailService,
        address: &Address,
        grants: &[Grant],
    ) -> Result<Vec<AccessGrant>, CoreError> {
        if grants.is_empty() {
            return Err(CoreError::Invalid(format!(
                "name at least one user who will use {address}, or create it for nobody"
            )));
        }
        let mut access: Vec<AccessGrant> = Vec::new();
        for grant in grants {
            let user = self.member_by_login(&grant.login, service.org).await?;
            if access.iter().any(|(id, _, _)| *id == user.id) {
                return Err(CoreError::Invalid(format!(
                    "the account {} is listed twice",
                    user.login
                )));
            }
            check_signature(service, grant.signature.as_deref())?;
            let permissions = grant.permissions.unwrap_or(service.default_permissions);
            access.push((user.id, permissions, grant.signature.clone()));
        }
        Ok(access)
    }
}

/// One access grant written with an address: the account, its permissions, its signature
/// template (as [`AddressExtras::access`] takes them).
type AccessGrant = (UserId, Permissions, Option<String>);

/// What `update` asks of a user who does not administer the address (ADDR-9).
fn update_need(update: &AddressUpdate) -> Need {
    if update.enabled.is_some() || update.storage_limit.is_some() {
        return Need::Administrator;
    }
    let mut wanted = Permissions::NONE;
    if update.redirect.is_some() {
        wanted.insert(Permissions::MANAGE_REDIRECTIONS);
    }
    if update.display_name.is_some() {
        wanted.insert(Permissions::MANAGE_SIGNATURES);
    }
    match wanted.is_empty() {
        true => Need::Access,
        false => Need::Permission(wanted),
    }
}

/// ADDR-2, ADDR-4: only addresses that hold mail can be used by someone.
fn check_holder_fits_kind(
    address: &Address,
    kind: AddressKind,
    holder: &Holder,
) -> Result<(), CoreError> {
    if kind.holds_mail() || *holder == Holder::Nobody {
        return Ok(());
    }
    let what = match kind {
        AddressKind::RedirectOnly => "redirection-only",
        _ => "no-reply",
    };
    Err(CoreError::Invalid(format!(
        "the {what} address {address} holds no mail, so nobody can be linked to it or invited \
         to it; create it for nobody"
    )))
}

/// ADDR-4/5: the redirection of `targets`, `None` when there are none.
pub(super) fn parse_redirect(
    targets: &[String],
    keep_copy: bool,
) -> Result<Option<Redirection>, CoreError> {
    if targets.is_empty() {
        if keep_copy {
            return Err(CoreError::Invalid(
                "keeping a copy only applies to a redirection; give at least one target address"
                    .into(),
            ));
        }
        return Ok(None);
    }
    let targets = targets
        .iter()
        .map(|target| Address::parse(target.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Redirection::new(targets, keep_copy)?))
}

/// ADDR-6: the aliases given with a new address, as local parts of its domain, after the
/// checks that need no database (the service's switch, the limit of 50, repeats); collisions
/// with existing addresses and aliases are the store's, in the creating transaction.
fn new_aliases(
    service: &MailService,
    address: &Address,
    aliases: &[String],
) -> Result<Vec<LocalPart>, CoreError> {
    if aliases.is_empty() {
        return Ok(Vec::new());
    }
    check_new_alias(&service.features, aliases.len() - 1)?;
    let mut locals: Vec<LocalPart> = Vec::with_capacity(aliases.len());
    for text in aliases {
        let local = alias_local(text, service).map_err(CoreError::Invalid)?;
        if &local == address.local() {
            return Err(CoreError::Invalid(format!(
                "{address} cannot be an alias of itself"
            )));
        }
        if locals.contains(&local) {
            return Err(CoreError::Invalid(format!(
                "the alias {local}@{} is listed twice",
                service.domain
            )));
        }
        locals.push(local);
    }
    Ok(locals)
}

/// ADDR-6: an alias written as a local part or as a full address in the service's primary
/// domain, or the sentence saying why not.
pub(super) fn alias_local(text: &str, service: &MailService) -> Result<LocalPart, String> {
    let text = text.trim();
    if text.contains('@') {
        let alias = Address::parse(text).map_err(|e| format!("the alias {e}"))?;
        if alias.domain() != &service.domain {
            return Err(format!(
                "the alias {alias} is not in {}: aliases are in the domain of their address",
                service.domain
            ));
        }
        return Ok(alias.local().clone());
    }
    LocalPart::parse(text).map_err(|e| format!("the alias {e}"))
}

/// The display name of an address, trimmed, or the sentence saying why it cannot be one: it
/// goes into `From:` headers, so line breaks and other control characters are refused.
pub(super) fn check_display_name(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(
            "a display name cannot contain line breaks or other control characters".to_owned(),
        );
    }
    if trimmed.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "a display name can be at most {MAX_DISPLAY_NAME_CHARS} characters long"
        ));
    }
    Ok(trimmed.to_owned())
}

/// SVC-4: a signature template must be one the service offers.
pub(super) fn check_signature(
    service: &MailService,
    signature: Option<&str>,
) -> Result<(), CoreError> {
    match signature {
        Some(name) if !service.signature_templates.iter().any(|t| t.name == name) => {
            Err(CoreError::Invalid(format!(
                "the mail service {} has no signature template named \"{name}\"",
                service.domain
            )))
        }
        _ => Ok(()),
    }
}

/// The error of an invitation that failed after its address was created: the sentence says
/// the address exists, so the administrator sends a new invitation rather than creating the
/// address again.
fn invitation_not_sent(address: &Address, error: CoreError) -> CoreError {
    if error.is_refusal() {
        return CoreError::Invalid(format!(
            "the address {address} was created, but its invitation was not sent: {error}; send \
             a new invitation once this is fixed"
        ));
    }
    CoreError::Store(StoreError::Backend {
        context: "sending the invitation of an address just created (the address exists: send \
                  a new invitation)",
        detail: error.to_string(),
    })
}
