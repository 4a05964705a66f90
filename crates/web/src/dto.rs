//! The JSON shapes shared by several resources, built from the model's values.
//!
//! Only what a client needs goes out: password hashes, TOTP secrets and token or session
//! digests never appear; generated passwords and token secrets appear once, in the answer to
//! the request that made them (in the resource modules). Permissions travel as lists of names
//! (ADDR-9: `read_send`, `change_password`, `manage_aliases`, `manage_redirections`,
//! `manage_filters`, `manage_signatures`).

use postwerk_core::{InvitationSent, Unification};
use postwerk_model::{
    Access, Address, AddressKind, Alias, HostedAddress, Invitation, LoginMode, Organization,
    Permissions, Role, UserAccount,
};
use postwerk_store::{Channel, TokenScope};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The names of a permission set, in a fixed order.
pub fn permission_names(permissions: Permissions) -> Vec<String> {
    permissions.names().into_iter().map(str::to_owned).collect()
}

/// Reads a list of permission names (`all` and `none` accepted too); an unknown name is
/// refused with the list of known ones.
pub fn permissions_from_names(names: &[String]) -> Result<Permissions, ApiError> {
    let mut permissions = Permissions::NONE;
    for name in names {
        if name.contains(',') {
            return Err(ApiError::invalid(format!(
                "\"{name}\" is not a permission name; give each name as its own list item"
            )));
        }
        permissions.insert(Permissions::parse_list(name)?);
    }
    Ok(permissions)
}

/// Reads a field that may be absent (leave as it is), `null` (remove) or a value (set), into
/// `Option<Option<T>>`; use with `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// What a credential allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeName {
    /// Only reads (`GET`).
    Read,
    /// Everything its owner may do.
    Write,
}

impl From<TokenScope> for ScopeName {
    fn from(scope: TokenScope) -> ScopeName {
        match scope {
            TokenScope::Read => ScopeName::Read,
            TokenScope::Write => ScopeName::Write,
        }
    }
}

impl From<ScopeName> for TokenScope {
    fn from(scope: ScopeName) -> TokenScope {
        match scope {
            ScopeName::Read => TokenScope::Read,
            ScopeName::Write => TokenScope::Write,
        }
    }
}

/// ORG-1: a member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Administers the organization and cannot be removed by an administrator.
    Owner,
    /// Administers services, addresses and members.
    Admin,
    /// Uses the mailboxes given to them.
    Member,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> RoleName {
        match role {
            Role::Owner => RoleName::Owner,
            Role::Admin => RoleName::Admin,
            Role::Member => RoleName::Member,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Role {
        match role {
            RoleName::Owner => Role::Owner,
            RoleName::Admin => Role::Admin,
            RoleName::Member => Role::Member,
        }
    }
}

/// What an address does with incoming mail (ADDR-1, ADDR-2, ADDR-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddressKindName {
    /// Holds mail, has a password.
    #[default]
    Mailbox,
    /// Sends, never accepts mail.
    #[serde(alias = "no-reply")]
    Noreply,
    /// A mailbox that also receives mail for every unknown local part of the service.
    #[serde(alias = "catch-all")]
    Catchall,
    /// Holds no mail and only forwards.
    #[serde(alias = "redirect-only")]
    Redirect,
}

impl From<AddressKind> for AddressKindName {
    fn from(kind: AddressKind) -> AddressKindName {
        match kind {
            AddressKind::Mailbox => AddressKindName::Mailbox,
            AddressKind::NoReply => AddressKindName::Noreply,
            AddressKind::CatchAll => AddressKindName::Catchall,
            AddressKind::RedirectOnly => AddressKindName::Redirect,
        }
    }
}

impl From<AddressKindName> for AddressKind {
    fn from(kind: AddressKindName) -> AddressKind {
        match kind {
            AddressKindName::Mailbox => AddressKind::Mailbox,
            AddressKindName::Noreply => AddressKind::NoReply,
            AddressKindName::Catchall => AddressKind::CatchAll,
            AddressKindName::Redirect => AddressKind::RedirectOnly,
        }
    }
}

/// ADDR-1 (b'): how an invited person's account will log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginModeName {
    /// With exactly the created address.
    ExactAddress,
    /// With a login of their choice.
    OwnChoice,
}

impl From<LoginMode> for LoginModeName {
    fn from(mode: LoginMode) -> LoginModeName {
        match mode {
            LoginMode::ExactAddress => LoginModeName::ExactAddress,
            LoginMode::OwnChoice => LoginModeName::OwnChoice,
        }
    }
}

impl From<LoginModeName> for LoginMode {
    fn from(mode: LoginModeName) -> LoginMode {
        match mode {
            LoginModeName::ExactAddress => LoginMode::ExactAddress,
            LoginModeName::OwnChoice => LoginMode::OwnChoice,
        }
    }
}

/// A user account (ID-1).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The login, an email address.
    pub login: String,
    /// The person's name.
    pub display_name: String,
    /// Whether sign-in asks for a TOTP code.
    pub two_factor: bool,
    /// ID-10: the login address disappeared; the account must choose a new one.
    pub must_choose_login: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&UserAccount> for UserView {
    fn from(user: &UserAccount) -> UserView {
        UserView {
            login: user.login.to_string(),
            display_name: user.display_name.clone(),
            two_factor: user.totp_secret.is_some(),
            must_choose_login: user.must_choose_login,
            created_at: user.created_at,
        }
    }
}

/// An organization (ORG-1).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    /// Its name, unique; the API names organizations by it.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<Organization> for OrgView {
    fn from(org: Organization) -> OrgView {
        OrgView {
            name: org.name,
            created_at: org.created_at,
        }
    }
}

/// ADDR-4/ADDR-5: where an address forwards its mail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedirectView {
    /// The target addresses (1 to 20).
    pub targets: Vec<String>,
    /// Whether the mailbox keeps a copy (never for redirect-only addresses).
    #[serde(default)]
    pub keep_copy: bool,
}

/// A hosted address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    /// The full address.
    #[schema(example = "toto@example.com")]
    pub address: String,
    /// What it does with incoming mail.
    pub kind: AddressKindName,
    /// The name shown with it in mail sent from it.
    pub display_name: String,
    /// A disabled address refuses mail and logins but keeps its content.
    pub enabled: bool,
    /// ADDR-10: storage limit in bytes; `null` means no limit.
    pub storage_limit: Option<u64>,
    /// ADDR-4/ADDR-5: its redirection, if any.
    pub redirect: Option<RedirectView>,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&HostedAddress> for AddressView {
    fn from(hosted: &HostedAddress) -> AddressView {
        AddressView {
            address: hosted.address.to_string(),
            kind: hosted.kind.into(),
            display_name: hosted.display_name.clone(),
            enabled: hosted.enabled,
            storage_limit: hosted.storage_limit,
            redirect: hosted.redirect.as_ref().map(|redirect| RedirectView {
                targets: redirect.targets.iter().map(Address::to_string).collect(),
                keep_copy: redirect.keep_copy,
            }),
            created_at: hosted.created_at,
        }
    }
}

/// ADDR-6: an alias of an address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasView {
    /// The alias as a full address, in the domain of the address it delivers to.
    #[schema(example = "tata@example.com")]
    pub alias: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl AliasView {
    /// The alias `alias` of `owner`.
    pub fn new(alias: &Alias, owner: &Address) -> AliasView {
        AliasView {
            alias: format!("{}@{}", alias.local, owner.domain()),
            created_at: alias.created_at,
        }
    }
}

/// ADDR-9: a user's access to a mailbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessView {
    /// The user account's login.
    pub login: String,
    /// What the user may do with the mailbox.
    #[schema(example = json!(["read_send", "change_password"]))]
    pub permissions: Vec<String>,
    /// The signature template picked for the user (SVC-4).
    pub signature: Option<String>,
}

impl AccessView {
    /// `access` of the account whose login is `login`.
    pub fn new(login: &Address, access: &Access) -> AccessView {
        AccessView {
            login: login.to_string(),
            permissions: permission_names(access.permissions),
            signature: access.signature.clone(),
        }
    }
}

/// ADDR-1 (b'): an invitation to use an address.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    /// Its identifier.
    pub id: i64,
    /// Where it was sent.
    pub sent_to: String,
    /// How the invited person's account will log in.
    pub login_mode: LoginModeName,
    /// Permissions granted on acceptance.
    pub permissions: Vec<String>,
    /// The signature template picked.
    pub signature: Option<String>,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
    /// When it was accepted, if it was.
    pub accepted_at: Option<i64>,
}

impl From<&Invitation> for InvitationView {
    fn from(invitation: &Invitation) -> InvitationView {
        InvitationView {
            id: invitation.id.0,
            sent_to: invitation.sent_to.to_string(),
            login_mode: invitation.login_mode.into(),
            permissions: permission_names(invitation.permissions),
            signature: invitation.signature.clone(),
            expires_at: invitation.expires_at,
            accepted_at: invitation.accepted_at,
        }
    }
}

/// ADDR-1 (b'): an invitation just sent. The link's secret went to the invited person only.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationSentView {
    /// Its identifier.
    pub id: i64,
    /// Where it was sent.
    pub sent_to: String,
    /// How the invited person's account will log in.
    pub login_mode: LoginModeName,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
}

impl From<InvitationSent> for InvitationSentView {
    fn from(sent: InvitationSent) -> InvitationSentView {
        InvitationSentView {
            id: sent.id.0,
            sent_to: sent.sent_to.to_string(),
            login_mode: sent.login_mode.into(),
            expires_at: sent.expires_at,
        }
    }
}

/// ADDR-1 (b'): what an invitation offers, asked by the administrator.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct InvitationRequestBody {
    /// Where to send it; absent: to the address itself.
    pub send_to: Option<String>,
    /// How the invited person's account will log in.
    pub login_mode: LoginModeName,
    /// Permissions granted on acceptance; absent: the service's defaults.
    pub permissions: Option<Vec<String>>,
    /// The name of one of the service's signature templates.
    pub signature: Option<String>,
}

impl InvitationRequestBody {
    /// The `core` request.
    pub fn into_core(self) -> Result<postwerk_core::InvitationRequest, ApiError> {
        Ok(postwerk_core::InvitationRequest {
            send_to: self.send_to,
            login_mode: self.login_mode.into(),
            permissions: self
                .permissions
                .as_deref()
                .map(permissions_from_names)
                .transpose()?,
            signature: self.signature,
        })
    }
}

/// ID-1, ID-8, ID-9: the caller's own account, with the contact details only its owner sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnAccountView {
    /// The account.
    #[serde(flatten)]
    pub user: UserView,
    /// The mobile phone number recovery codes and login reminders are sent to by SMS.
    pub phone: Option<String>,
    /// The address recovery codes and login reminders are sent to by email.
    pub recovery_email: Option<String>,
}

impl From<&UserAccount> for OwnAccountView {
    fn from(user: &UserAccount) -> OwnAccountView {
        OwnAccountView {
            user: UserView::from(user),
            phone: user.phone.clone(),
            recovery_email: user.recovery_email.as_ref().map(Address::to_string),
        }
    }
}

/// ID-5: where a mailbox password and an account password stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnificationState {
    /// The two passwords are one: changing either changes both.
    Unified,
    /// The three conditions of ID-5 hold: ask for unification with `"unify": true`.
    Offered,
    /// A condition of ID-5 does not hold; `reasons` says which.
    NotOffered,
    /// The caller is the operator, who has no account password.
    NotApplicable,
}

/// ID-5, as every answer about a mailbox or account password says it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnificationView {
    /// Where the two passwords stand.
    pub state: UnificationState,
    /// The mailbox concerned (absent for `not_applicable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "toto@example.com")]
    pub address: Option<String>,
    /// For `not_offered`: one sentence per condition that does not hold; empty otherwise.
    pub reasons: Vec<String>,
}

impl UnificationView {
    /// `unification` of the mailbox `concerning` (the one the request named, when the outcome
    /// does not carry it itself).
    pub fn new(unification: &Unification, concerning: Option<&str>) -> UnificationView {
        let concerning = concerning.map(str::to_owned);
        match unification {
            Unification::Unified { address, .. } => UnificationView {
                state: UnificationState::Unified,
                address: Some(address.to_string()),
                reasons: Vec::new(),
            },
            Unification::Offered => UnificationView {
                state: UnificationState::Offered,
                address: concerning,
                reasons: Vec::new(),
            },
            Unification::NotOffered(blockers) => UnificationView {
                state: UnificationState::NotOffered,
                address: concerning,
                reasons: blockers
                    .iter()
                    .map(|blocker| blocker.explanation().to_owned())
                    .collect(),
            },
            Unification::NotApplicable => UnificationView {
                state: UnificationState::NotApplicable,
                address: None,
                reasons: Vec::new(),
            },
        }
    }
}

/// ID-8, ID-9, ID-12: how a code or a reminder reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelName {
    /// To the account's recovery email address.
    Email,
    /// By SMS to the account's mobile phone.
    Sms,
}

impl From<ChannelName> for Channel {
    fn from(channel: ChannelName) -> Channel {
        match channel {
            ChannelName::Email => Channel::Email,
            ChannelName::Sms => Channel::Sms,
        }
    }
}

impl ChannelName {
    /// The words for it in a sentence.
    pub fn in_words(self) -> &'static str {
        match self {
            ChannelName::Email => "email address",
            ChannelName::Sms => "mobile phone number",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_5_unification_says_where_the_passwords_stand_and_why() {
        let address = Address::parse("toto@example.com").unwrap();
        let unified = Unification::Unified {
            address: address.clone(),
            login: address,
        };
        let view = UnificationView::new(&unified, None);
        assert_eq!(view.state, UnificationState::Unified);
        assert_eq!(view.address.as_deref(), Some("toto@example.com"));
        let blocked = Unification::NotOffered(vec![
            postwerk_model::UnificationBlocker::LoginDiffers,
            postwerk_model::UnificationBlocker::SharedMailbox,
        ]);
        let view = UnificationView::new(&blocked, Some("toto@example.com"));
        assert_eq!(view.state, UnificationState::NotOffered);
        assert_eq!(view.reasons.len(), 2);
        assert!(
            view.reasons[1].contains("other accounts"),
            "{:?}",
            view.reasons
        );
        let json =
            serde_json::to_value(UnificationView::new(&Unification::NotApplicable, None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"state": "not_applicable", "reasons": []})
        );
    }

    #[test]
    fn addr_9_permissions_travel_as_names() {
        let names = vec!["read_send".to_owned(), "Manage_Aliases".to_owned()];
        let permissions = permissions_from_names(&names).unwrap();
        assert_eq!(
            permission_names(permissions),
            ["read_send", "manage_aliases"]
        );
        assert_eq!(permissions_from_names(&[]).unwrap(), Permissions::NONE);
    }

    #[test]
    fn unknown_or_packed_permission_names_are_refused() {
        for bad in ["read", "read_send,manage_aliases"] {
            let refused = permissions_from_names(&[bad.to_owned()]).err();
            assert_eq!(refused.map(|e| e.code()), Some("invalid"), "{bad}");
        }
    }
}
