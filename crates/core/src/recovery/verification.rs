//! ID-8, ID-9: identity-verification requests, for a person who can use neither recovery
//! channel. Queued with the account the details point at (when exactly one), and handled by
//! the operator or an owner or administrator of an organization that account belongs to.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Instant;

use postwerk_model::{OrgId, UserAccount, UserId};
use postwerk_store::{NewVerificationRequest, VerificationRequest};

use super::{Recovery, ResetRefusal, VerificationInput, unix_now};
use crate::CoreError;
use crate::admin::Actor;
use crate::audit::{Change, Owners, Protocol};

/// Longest name kept.
const MAX_NAME_CHARS: usize = 200;
/// Longest message kept.
const MAX_MESSAGE_CHARS: usize = 2_000;
/// Longest login, phone or email kept (an address is at most 320 characters).
const MAX_DETAIL_CHARS: usize = 320;
/// Longest closing note kept.
const MAX_RESOLUTION_CHARS: usize = 2_000;

impl Recovery {
    /// ID-8, ID-9: queues a request for an administrator; answers its number. At most
    /// [`super::REQUESTS_PER_HOUR`] per client address and hour (then `Throttled`).
    pub async fn request_verification(
        &self,
        input: VerificationInput,
        ip: IpAddr,
    ) -> Result<Result<i64, ResetRefusal>, CoreError> {
        let name = required(&input.name, "your name", MAX_NAME_CHARS)?;
        let message = required(&input.message, "a message", MAX_MESSAGE_CHARS)?;
        let login = optional(input.login.as_deref(), "login")?;
        let phone = optional(input.phone.as_deref(), "phone number")?;
        let email = optional(input.email.as_deref(), "email address")?;
        // Counted once the request is well-formed: a typo does not use up the allowance.
        if !self.requests.allow(&ip.to_string(), Instant::now()) {
            return Ok(Err(ResetRefusal::Throttled));
        }
        let user = self
            .matching_account(login.as_deref(), phone.as_deref())
            .await?;
        let request = self
            .identity_store
            .create_verification_request(NewVerificationRequest {
                login: login.clone(),
                phone,
                email,
                name,
                message,
                user: user.as_ref().map(|user| user.id),
                created_at: unix_now(),
            })
            .await?;
        self.audit.change(Change {
            protocol: Protocol::Recovery,
            ip: Some(ip),
            actor: "anonymous".to_string(),
            subject: user
                .as_ref()
                .map(|user| user.login.to_string())
                .or(login)
                .unwrap_or_default(),
            event: "verification_requested",
            detail: format!("verification request #{} queued", request.id),
            owners: Owners {
                user: user.map(|user| user.id),
                address: None,
                org: None,
            },
        });
        Ok(Ok(request.id))
    }

    /// The requests `actor` handles: every one for the operator; for an account, those whose
    /// matched account is a member of an organization it administers.
    pub async fn verification_requests(
        &self,
        actor: Actor,
        open_only: bool,
    ) -> Result<Vec<VerificationRequest>, CoreError> {
        let requests = self.identity_store.verification_requests(open_only).await?;
        let Actor::User(admin) = actor else {
            return Ok(requests);
        };
        let administered = self.administered_orgs(admin).await?;
        let mut handled = Vec::new();
        let mut verdicts: HashMap<UserId, bool> = HashMap::new();
        for request in requests {
            let Some(user) = request.user else { continue };
            let allowed = match verdicts.get(&user) {
                Some(&allowed) => allowed,
                None => {
                    let allowed = self.is_member_of_any(user, &administered).await?;
                    verdicts.insert(user, allowed);
                    allowed
                }
            };
            if allowed {
                handled.push(request);
            }
        }
        Ok(handled)
    }

    /// Closes a request with a note (`Forbidden` for one the actor does not handle).
    pub async fn close_verification_request(
        &self,
        actor: Actor,
        id: i64,
        resolution: &str,
    ) -> Result<(), CoreError> {
        let resolution = required(
            resolution,
            "a note saying how it was handled",
            MAX_RESOLUTION_CHARS,
        )?;
        let request = self
            .identity_store
            .verification_request(id)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!("verification request #{id} does not exist"))
            })?;
        let (closed_by, actor_name, protocol) = match actor {
            Actor::Operator => (None, "operator".to_string(), Protocol::Cli),
            Actor::User(admin) => {
                let administered = self.administered_orgs(admin).await?;
                let handles = match request.user {
                    Some(user) => self.is_member_of_any(user, &administered).await?,
                    None => false,
                };
                if !handles {
                    return Err(CoreError::Forbidden(format!(
                        "verification request #{id} is handled by the operator or an administrator \
                         of an organization the account belongs to"
                    )));
                }
                (Some(admin), self.login_of(admin).await?, Protocol::Manager)
            }
        };
        self.identity_store
            .close_verification_request(id, unix_now(), &resolution, closed_by)
            .await?;
        let subject = match request.user {
            Some(user) => self.login_of(user).await?,
            None => request.login.clone().unwrap_or_default(),
        };
        self.audit.change(Change {
            protocol,
            ip: None,
            actor: actor_name,
            subject,
            event: "verification_closed",
            detail: format!("verification request #{id} closed"),
            owners: Owners {
                user: request.user,
                address: None,
                org: None,
            },
        });
        Ok(())
    }

    /// The account the details point at: by login (or recovery username) when one is given
    /// and matches, else by phone number when exactly one account has it.
    async fn matching_account(
        &self,
        login: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Option<UserAccount>, CoreError> {
        if let Some(login) = login
            && let Some(user) = self.account_by_login(login).await?
        {
            return Ok(Some(user));
        }
        match phone {
            Some(phone) => self.account_by_phone(phone, None).await,
            None => Ok(None),
        }
    }

    /// The organizations `user` owns or administers.
    async fn administered_orgs(&self, user: UserId) -> Result<HashSet<OrgId>, CoreError> {
        Ok(self
            .directory
            .user_memberships(user)
            .await?
            .into_iter()
            .filter(|membership| membership.role.can_administer())
            .map(|membership| membership.org)
            .collect())
    }

    async fn is_member_of_any(
        &self,
        user: UserId,
        orgs: &HashSet<OrgId>,
    ) -> Result<bool, CoreError> {
        if orgs.is_empty() {
            return Ok(false);
        }
        let memberships = self.directory.user_memberships(user).await?;
        Ok(memberships
            .iter()
            .any(|membership| orgs.contains(&membership.org)))
    }

    /// An account's login as the audit log names actors; its id if it is gone.
    async fn login_of(&self, user: UserId) -> Result<String, CoreError> {
        Ok(match self.directory.user(user).await? {
            Some(account) => account.login.to_string(),
            None => format!("account {user}"),
        })
    }
}

/// A required text field, trimmed: `Invalid` when empty or longer than `max` characters.
fn required(value: &str, what: &str, max: usize) -> Result<String, CoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(CoreError::Invalid(format!("give {what}")));
    }
    if value.chars().count() > max {
        return Err(CoreError::Invalid(format!(
            "shorten {what} to at most {max} characters"
        )));
    }
    Ok(value.to_string())
}

/// An optional detail, trimmed (empty counts as absent): `Invalid` when too long.
fn optional(value: Option<&str>, what: &str) -> Result<Option<String>, CoreError> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_DETAIL_CHARS {
        return Err(CoreError::Invalid(format!(
            "the {what} is too long: at most {MAX_DETAIL_CHARS} characters"
        )));
    }
    Ok(Some(value.to_string()))
}
