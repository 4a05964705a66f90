//! The account side of SPEC §1: two-factor enrolment (ID-1), the account's own password, login
//! and contact details, and password unification (ID-5). Sign-in itself is
//! [`crate::ManagerAuth`]; recovery is [`crate::recovery`].
//!
//! Every change here is recorded in the audit log (ID-11).

use std::net::IpAddr;
use std::sync::Arc;

use postwerk_model::{Address, SessionId, UnificationBlocker, UserAccount, UserId};
use postwerk_store::{Directory, IdentityStore, ManagerStore, StoreError, Stores};
use zeroize::Zeroizing;

use crate::CoreError;
use crate::audit::{Audit, Change, Owners, Protocol};
use crate::password;

mod account;
pub(crate) mod actor;
pub(crate) mod totp;
mod two_factor;
pub(crate) mod unification;

use unification::ChangeContext;

/// How many 2FA recovery codes an enrolment hands out.
pub const TOTP_RECOVERY_CODES: usize = 10;

/// An enrolment just started: what the authenticator app needs. Shown once; confirmed by
/// [`Identity::confirm_totp`] with a first code.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The RFC 4648 base32 secret, for typing it in by hand.
    pub secret: Zeroizing<String>,
    /// The `otpauth://totp/…` URI (issuer `Postwerk`, the login as account name) that the
    /// QR code encodes.
    pub otpauth_uri: Zeroizing<String>,
}

/// Where a mailbox password and an account password stand with respect to each other (ID-5),
/// as every screen and answer about either password says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unification {
    /// The two passwords are one: changing either changes both.
    Unified {
        /// The mailbox.
        address: Address,
        /// The account.
        login: Address,
    },
    /// All three conditions hold but the passwords are separate: unification may be asked for.
    Offered,
    /// Not possible, for these reasons (ID-5 (a)–(c)).
    NotOffered(Vec<UnificationBlocker>),
    /// The caller is not an account (the operator): nothing to unify with.
    NotApplicable,
}

/// A mailbox password change.
#[derive(Debug)]
pub struct MailboxPasswordChanged {
    /// A generated password, shown once.
    pub generated: Option<Zeroizing<String>>,
    /// Where the two passwords stand now.
    pub unification: Unification,
}

/// An account password change.
#[derive(Debug)]
pub struct AccountPasswordChanged {
    /// A generated password, shown once.
    pub generated: Option<Zeroizing<String>>,
    /// `Unified` when the mailbox's password changed with it.
    pub unification: Unification,
}

/// The account use cases of SPEC §1.
#[derive(Clone)]
pub struct Identity {
    directory: Arc<dyn Directory>,
    identity: Arc<dyn IdentityStore>,
    manager: Arc<dyn ManagerStore>,
    audit: Audit,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

impl Identity {
    /// Over a store, recording in `audit`.
    pub fn new(stores: &Stores, audit: Audit) -> Identity {
        Identity::from_parts(
            stores.directory.clone(),
            stores.identity.clone(),
            stores.manager.clone(),
            audit,
        )
    }

    /// Over the stores another service already holds (`Admin`).
    pub(crate) fn from_parts(
        directory: Arc<dyn Directory>,
        identity: Arc<dyn IdentityStore>,
        manager: Arc<dyn ManagerStore>,
        audit: Audit,
    ) -> Identity {
        Identity {
            directory,
            identity,
            manager,
            audit,
        }
    }

    // ---- The account's password

    /// The account changes its own password, giving the current one (`Invalid` when wrong;
    /// `None` generates one). Every other session of the account ends (ID-6); `keep`, the
    /// session the change was made in, goes on. When the account is unified with a mailbox
    /// and the three conditions still hold, the mailbox's password changes too (and its mail
    /// sessions end); when a condition stopped holding, the unification ends and only the
    /// account's changes (ID-5).
    pub async fn change_password(
        &self,
        user: UserId,
        current: &str,
        new: Option<&str>,
        keep: Option<SessionId>,
        ip: Option<IpAddr>,
    ) -> Result<AccountPasswordChanged, CoreError> {
        let account = self.account(user).await?;
        self.require_password(&account, current).await?;
        let (hash, generated) = crate::admin::hash_password(new.map(str::to_owned)).await?;
        let unification = self
            .store_account_password(user, &hash, keep, Protocol::Manager, ip)
            .await?;
        Ok(AccountPasswordChanged {
            generated,
            unification,
        })
    }

    /// Stores a new account password hash (already policy-checked and hashed), for the
    /// account's own change and for a recovery reset: every session of the account ends but
    /// `keep`; a unified mailbox whose conditions still hold gets the same hash (its mail
    /// sessions end), otherwise the unification ends. Records the change in the audit log.
    ///
    /// Answers `Unified` when the mailbox changed too, `NotOffered` with the reasons when a
    /// unification just ended, and `NotApplicable` when there was none.
    pub(crate) async fn store_account_password(
        &self,
        user: UserId,
        hash: &str,
        keep: Option<SessionId>,
        protocol: Protocol,
        ip: Option<IpAddr>,
    ) -> Result<Unification, CoreError> {
        let account = self.account(user).await?;
        let context = ChangeContext {
            protocol,
            ip,
            actor: account.login.to_string(),
        };
        let mut unification = Unification::NotApplicable;
        let mut unified_epoch = None;
        if let Some(mailbox) = self.unified_mailbox_row(user).await? {
            let standing = unification::standing(
                self.directory.as_ref(),
                self.identity.as_ref(),
                &account,
                &mailbox,
            )
            .await?;
            if standing.unified() {
                let (account_epoch, _) = self
                    .identity
                    .set_unified_password(user, mailbox.id, hash)
                    .await?;
                unified_epoch = Some(account_epoch);
                self.audit.change(Change {
                    protocol,
                    ip,
                    actor: context.actor.clone(),
                    subject: mailbox.address.to_string(),
                    event: "mailbox_password_changed",
                    detail: format!(
                        "changed with the password of the account {}, with which it is unified",
                        account.login
                    ),
                    owners: Owners {
                        user: Some(user),
                        address: Some(mailbox.id),
                        org: standing.org,
                    },
                });
                unification = Unification::Unified {
                    address: mailbox.address.clone(),
                    login: account.login.clone(),
                };
            } else {
                unification::end(
                    self.identity.as_ref(),
                    &self.audit,
                    &account,
                    &mailbox,
                    &standing,
                    &context,
                )
                .await?;
                unification = Unification::NotOffered(standing.blockers);
            }
        }
        let epoch = match unified_epoch {
            Some(epoch) => epoch,
            None => self.directory.set_user_password(user, hash).await?,
        };
        self.record(
            &account,
            "account_password_changed",
            String::from("every other session of the account ended"),
            protocol,
            ip,
        );
        self.keep_session(keep, epoch).await?;
        Ok(unification)
    }

    // ---- Unification (ID-5)

    /// Where the account and the mailbox `address` stand. Ends a recorded unification whose
    /// conditions no longer hold (so the screens never say "unified" wrongly).
    pub async fn unification(
        &self,
        user: UserId,
        address: &Address,
    ) -> Result<Unification, CoreError> {
        let account = self.account(user).await?;
        let mailbox = self
            .directory
            .address_by_address(address)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("the address {address} does not exist")))?;
        let standing = unification::standing(
            self.directory.as_ref(),
            self.identity.as_ref(),
            &account,
            &mailbox,
        )
        .await?;
        if standing.unified() {
            return Ok(Unification::Unified {
                address: mailbox.address,
                login: account.login,
            });
        }
        if standing.stale() {
            let context = ChangeContext {
                protocol: Protocol::Manager,
                ip: None,
                actor: account.login.to_string(),
            };
            unification::end(
                self.identity.as_ref(),
                &self.audit,
                &account,
                &mailbox,
                &standing,
                &context,
            )
            .await?;
        }
        Ok(if standing.blockers.is_empty() {
            Unification::Offered
        } else {
            Unification::NotOffered(standing.blockers)
        })
    }

    /// The mailbox the account is unified with, if any (for the account's screen). A
    /// unification whose conditions stopped holding ends here and is not answered.
    pub async fn unified_mailbox(&self, user: UserId) -> Result<Option<Address>, CoreError> {
        let Some(mailbox) = self.unified_mailbox_row(user).await? else {
            return Ok(None);
        };
        Ok(match self.unification(user, &mailbox.address).await? {
            Unification::Unified { address, .. } => Some(address),
            _ => None,
        })
    }

    // ---- Shared steps

    /// The account, or `NotFound` when it was deleted meanwhile.
    async fn account(&self, user: UserId) -> Result<UserAccount, CoreError> {
        self.directory
            .user(user)
            .await?
            .ok_or_else(|| CoreError::NotFound(String::from("this account no longer exists")))
    }

    /// The mailbox the store marks as unified with the account, if it still exists.
    async fn unified_mailbox_row(
        &self,
        user: UserId,
    ) -> Result<Option<postwerk_model::HostedAddress>, CoreError> {
        match self.identity.unified_address(user).await? {
            Some(id) => Ok(self.directory.address(id).await?),
            None => Ok(None),
        }
    }

    /// `Invalid` unless `password` is the account's (Argon2id off the async workers).
    async fn require_password(
        &self,
        account: &UserAccount,
        password: &str,
    ) -> Result<(), CoreError> {
        let wrong = || CoreError::Invalid(String::from("the password of your account is wrong"));
        if password.len() > password::MAX_PASSWORD_LEN {
            return Err(wrong());
        }
        let stored = account.password_hash.clone();
        let password = Zeroizing::new(password.to_owned());
        let matches = password::off_thread(move || password::verify(&password, &stored))
            .await
            .unwrap_or(false);
        if matches { Ok(()) } else { Err(wrong()) }
    }

    /// Moves `keep` to the account's new credential epoch, so the session in which the change
    /// was made goes on (ID-6); a session that ended meanwhile is fine.
    async fn keep_session(&self, keep: Option<SessionId>, epoch: u32) -> Result<(), CoreError> {
        let Some(session) = keep else {
            return Ok(());
        };
        match self.manager.set_web_session_epoch(session, epoch).await {
            Ok(()) | Err(StoreError::NotFound(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Records a change the account made to itself (ID-11).
    fn record(
        &self,
        account: &UserAccount,
        event: &'static str,
        detail: String,
        protocol: Protocol,
        ip: Option<IpAddr>,
    ) {
        self.audit.change(Change {
            protocol,
            ip,
            actor: account.login.to_string(),
            subject: account.login.to_string(),
            event,
            detail,
            owners: Owners {
                user: Some(account.id),
                ..Owners::default()
            },
        });
    }
}
