//! ADDR-1 (b'): invitations. The administrator creates an address and invites a person; the
//! email (through the outbound queue) carries a link with a one-time secret; opening it shows
//! what is offered, and accepting creates the person's account with the chosen login mode and
//! links it to the address.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postwerk_model::{
    Address, HostedAddress, Invitation, InvitationId, LoginMode, MailService, Permissions,
    UserAccount,
};
use postwerk_store::{Acceptance, NewInvitation, NewUser, StoreError};
use rand::RngExt;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::addresses::{check_display_name, check_signature};
use super::{Actor, Admin, InvitationRequest, Need, hash_on_blocking_thread};
use crate::CoreError;
use crate::notify::{Mailer, Notification};
use crate::password;

/// How long an invitation link works.
pub const INVITATION_LIFETIME_SECS: i64 = 7 * 86_400;

/// Random bytes in an invitation link's secret: 256 bits, so the link cannot be guessed and
/// a fast digest is enough to store it (as for API tokens).
const SECRET_BYTES: usize = 32;

/// The one answer for a link that cannot be used, whatever the reason: it tells a guesser
/// nothing.
const UNUSABLE_LINK: &str = "this invitation link is unknown, already used or expired; ask your administrator for a new one";

/// An invitation that was sent. The link's secret went to the invited person only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationSent {
    /// Store identifier.
    pub id: InvitationId,
    /// Where it was sent.
    pub sent_to: Address,
    /// How the future account logs in.
    pub login_mode: LoginMode,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
}

/// What the acceptance page shows before the person accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationDetails {
    /// The address offered.
    pub address: Address,
    /// The organization offering it.
    pub organization: String,
    /// How the account will log in; with [`LoginMode::ExactAddress`] the login is `address`.
    pub login_mode: LoginMode,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What the invited person submits.
#[derive(Debug, Clone)]
pub struct AcceptInvitation {
    /// The login of the account to create: must be `None` (or the address itself) with
    /// [`LoginMode::ExactAddress`]; required with [`LoginMode::OwnChoice`].
    pub login: Option<String>,
    /// The account's password (policy-checked). With [`LoginMode::ExactAddress`] it becomes the
    /// mailbox password too, so the person knows one password for both (ID-5 starts unified).
    pub password: Zeroizing<String>,
    /// The person's name.
    pub display_name: String,
}

impl Admin {
    /// What the invitation with this link secret offers. An unknown, used or expired secret
    /// answers `NotFound` with one sentence that does not say which.
    pub async fn invitation(&self, secret: &str) -> Result<InvitationDetails, CoreError> {
        let (invitation, hosted) = self.open_invitation(secret, now()).await?;
        let service = self.service_of(&hosted).await?;
        Ok(InvitationDetails {
            address: hosted.address,
            organization: self.org_name(service.org).await?,
            login_mode: invitation.login_mode,
            expires_at: invitation.expires_at,
        })
    }

    /// Accepts the invitation: creates the account and links it to the address with the
    /// invitation's permissions and signature, all in one transaction (ADDR-1 b'). The
    /// invitation cannot be used again.
    ///
    /// With [`LoginMode::ExactAddress`] the mailbox password becomes the account's password
    /// right after that transaction commits (so the sessions of an older mailbox password
    /// end, ID-6); if that second write failed, the account exists and the mailbox keeps its
    /// previous password, and the error says so.
    pub async fn accept_invitation(
        &self,
        secret: &str,
        acceptance: AcceptInvitation,
    ) -> Result<UserAccount, CoreError> {
        let now = now();
        let (invitation, hosted) = self.open_invitation(secret, now).await?;
        let chosen = acceptance
            .login
            .as_deref()
            .map(str::trim)
            .filter(|login| !login.is_empty());
        let login = match (invitation.login_mode, chosen) {
            (LoginMode::ExactAddress, None) => hosted.address.clone(),
            (LoginMode::ExactAddress, Some(text)) => {
                let login = Address::parse(text)?;
                if login != hosted.address {
                    return Err(CoreError::Invalid(format!(
                        "this invitation makes {} the login of your account; leave the login \
                         empty",
                        hosted.address
                    )));
                }
                login
            }
            (LoginMode::OwnChoice, None) => {
                return Err(CoreError::Invalid(
                    "choose the login of your account: an email address of yours, such as your \
                     personal address"
                        .into(),
                ));
            }
            (LoginMode::OwnChoice, Some(text)) => Address::parse(text)?,
        };
        if self.directory.user_by_login(&login).await?.is_some() {
            return Err(CoreError::Invalid(match invitation.login_mode {
                LoginMode::ExactAddress => format!(
                    "an account already logs in with {login}; ask your administrator to give \
                     that account access to the address instead"
                ),
                LoginMode::OwnChoice => {
                    format!("an account already logs in with {login}; choose another login")
                }
            }));
        }
        let display_name =
            check_display_name(&acceptance.display_name).map_err(CoreError::Invalid)?;
        password::check_policy(&acceptance.password)?;
        let password_hash = hash_on_blocking_thread(acceptance.password).await?;
        let new = NewUser {
            login,
            display_name,
            password_hash: password_hash.clone(),
            phone: None,
            recovery_email: None,
        };
        let user = self
            .manager
            .accept_invitation(invitation.id, Acceptance::NewAccount(new), now)
            .await?;
        if invitation.login_mode == LoginMode::ExactAddress {
            // One password for both (ID-5 starts unified): the same Argon2id string verifies
            // the same password for the account and for the mailbox.
            self.directory
                .set_address_password(hosted.id, &password_hash)
                .await
                .map_err(|error| StoreError::Backend {
                    context: "setting the mailbox password after an invitation was accepted \
                              (the account exists: change the mailbox password from the Manager)",
                    detail: error.to_string(),
                })?;
        }
        Ok(user)
    }

    /// Sends a new invitation for an existing address (a lost or expired one), with the
    /// permissions and login mode of `request`. Administrators only. With
    /// [`LoginMode::ExactAddress`], accepting sets the mailbox password to the one the person
    /// chooses.
    pub async fn invite(
        &self,
        actor: Actor,
        address: &str,
        request: InvitationRequest,
    ) -> Result<InvitationSent, CoreError> {
        let reached = self
            .address_for(actor, address, Need::Administrator)
            .await?;
        let (hosted, service) = (reached.hosted, reached.service);
        if !hosted.kind.holds_mail() {
            return Err(CoreError::Invalid(format!(
                "{} holds no mail, so nobody can be invited to use it",
                hosted.address
            )));
        }
        let prepared = self
            .prepare_invitation(&service, &hosted.address, &request)
            .await?;
        self.send_invitation(actor, &hosted, &service, prepared)
            .await
    }

    /// Checks an invitation request for `address` before anything is written: mail can be
    /// sent from here, the destination and the signature are valid, and with
    /// [`LoginMode::ExactAddress`] no account logs in with the address yet.
    pub(super) async fn prepare_invitation(
        &self,
        service: &MailService,
        address: &Address,
        request: &InvitationRequest,
    ) -> Result<PreparedInvitation, CoreError> {
        let mailer = self.mailer.clone().ok_or_else(|| {
            CoreError::Invalid(
                "invitations need outgoing mail, which this process cannot send".into(),
            )
        })?;
        let send_to = match request.send_to.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Address::parse(text)?,
            _ => address.clone(),
        };
        check_signature(service, request.signature.as_deref())?;
        if request.login_mode == LoginMode::ExactAddress
            && self.directory.user_by_login(address).await?.is_some()
        {
            return Err(CoreError::Invalid(format!(
                "an account already logs in with {address}; give that account access instead, \
                 or invite with a login of the person's choice"
            )));
        }
        Ok(PreparedInvitation {
            send_to,
            login_mode: request.login_mode,
            permissions: request.permissions.unwrap_or(service.default_permissions),
            signature: request.signature.clone(),
            mailer,
        })
    }

    /// Stores the invitation (only the digest of its secret) and mails the link. The secret
    /// goes into the message and nowhere else: not to the caller, not to the logs.
    pub(super) async fn send_invitation(
        &self,
        actor: Actor,
        hosted: &HostedAddress,
        service: &MailService,
        prepared: PreparedInvitation,
    ) -> Result<InvitationSent, CoreError> {
        let secret = random_secret();
        let created_at = now();
        let expires_at = created_at + INVITATION_LIFETIME_SECS;
        let stored = self
            .manager
            .create_invitation(NewInvitation {
                address: hosted.id,
                sent_to: prepared.send_to.clone(),
                login_mode: prepared.login_mode,
                permissions: prepared.permissions,
                signature: prepared.signature,
                secret_hash: sha256_hex(&secret),
                invited_by: match actor {
                    Actor::User(user) => Some(user),
                    Actor::Operator => None,
                },
                created_at,
                expires_at,
            })
            .await?;
        let link = format!("{}/invite/{}", self.public_url, secret.as_str());
        let organization = self.org_name(service.org).await?;
        let message = InvitationMessage {
            organization: &organization,
            address: &hosted.address,
            login_mode: prepared.login_mode,
            link: &link,
            expires_at,
        };
        let notification = Notification {
            to: prepared.send_to.clone(),
            subject: message.subject(),
            text: message.text(),
        };
        prepared.mailer.send(notification).await?;
        Ok(InvitationSent {
            id: stored.id,
            sent_to: prepared.send_to,
            login_mode: prepared.login_mode,
            expires_at,
        })
    }

    /// The open invitation behind a link secret, with its address; one sentence for any link
    /// that cannot be used.
    async fn open_invitation(
        &self,
        secret: &str,
        now: i64,
    ) -> Result<(Invitation, HostedAddress), CoreError> {
        let unusable = || CoreError::NotFound(UNUSABLE_LINK.into());
        let invitation = self
            .manager
            .invitation_by_hash(&sha256_hex(secret.trim()))
            .await?
            .filter(|invitation| invitation.is_open(now))
            .ok_or_else(unusable)?;
        let hosted = self
            .directory
            .address(invitation.address)
            .await?
            .ok_or_else(unusable)?;
        Ok((invitation, hosted))
    }
}

/// An invitation checked by [`Admin::prepare_invitation`], ready to store and send.
pub(super) struct PreparedInvitation {
    /// Where the email goes.
    pub(super) send_to: Address,
    /// How the future account logs in.
    pub(super) login_mode: LoginMode,
    /// Granted on acceptance.
    pub(super) permissions: Permissions,
    /// The signature template granted with it.
    pub(super) signature: Option<String>,
    /// What sends it.
    mailer: Arc<dyn Mailer>,
}

/// The email of an invitation (ADDR-1 b'), plain text.
struct InvitationMessage<'a> {
    organization: &'a str,
    address: &'a Address,
    login_mode: LoginMode,
    link: &'a str,
    expires_at: i64,
}

impl InvitationMessage<'_> {
    fn subject(&self) -> String {
        format!(
            "{} invites you to use the address {}",
            self.organization, self.address
        )
    }

    fn text(&self) -> String {
        let login = match self.login_mode {
            LoginMode::ExactAddress => format!(
                "Your account will log in with the address {address} and a password you choose \
                 when accepting. That password is also the password of the mailbox: email \
                 programs (IMAP, POP3, SMTP) log in with {address} and the same password.",
                address = self.address
            ),
            LoginMode::OwnChoice => format!(
                "When accepting, you choose the login of your account (an email address of \
                 yours) and its password; you will read and send the mail of {} from webmail. \
                 Email programs (IMAP, POP3, SMTP) use the mailbox's own password, which your \
                 administrator gives you.",
                self.address
            ),
        };
        let expiry = chrono::DateTime::from_timestamp(self.expires_at, 0).map_or_else(
            || format!("{} (Unix time)", self.expires_at),
            |at| at.format("%A %-d %B %Y at %H:%M UTC").to_string(),
        );
        format!(
            "Hello,\n\n\
             {organization} invites you to use the email address {address}.\n\n\
             To accept, open this link and create your account:\n\n\
             {link}\n\n\
             {login}\n\n\
             The link works once, until {expiry}.\n\n\
             If you did not expect this message, ignore it: nothing happens unless the link is \
             opened.\n",
            organization = self.organization,
            address = self.address,
            link = self.link,
        )
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// 256 random bits, base64url without padding (43 characters): the secret of a link.
fn random_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    rand::rng().fill(&mut bytes[..]);
    Zeroizing::new(URL_SAFE_NO_PAD.encode(*bytes))
}

/// Lower-case hex SHA-256: what the store keeps of a link's secret.
fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(login_mode: LoginMode) -> String {
        let address = Address::parse("new@example.com").unwrap();
        InvitationMessage {
            organization: "Acme",
            address: &address,
            login_mode,
            link: "https://mail.example.com/invite/SECRET",
            expires_at: 1_700_000_000,
        }
        .text()
    }

    #[test]
    fn addr_1_invitation_text_names_organization_address_link_login_and_expiry() {
        for mode in [LoginMode::ExactAddress, LoginMode::OwnChoice] {
            let text = message(mode);
            for expected in [
                "Acme invites you",
                "new@example.com",
                "\nhttps://mail.example.com/invite/SECRET\n",
                "Tuesday 14 November 2023 at 22:13 UTC",
            ] {
                assert!(text.contains(expected), "{expected:?} missing from {text}");
            }
        }
        assert!(
            message(LoginMode::ExactAddress).contains("log in with the address new@example.com")
        );
        assert!(message(LoginMode::OwnChoice).contains("you choose the login of your account"));
    }

    #[test]
    fn link_secrets_are_256_bits_of_base64url_and_differ() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(*a, *b);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
