//! ADDR-1 to ADDR-10: the addresses of a service: creation with the modes of ADDR-1, details,
//! changes, passwords and deletion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_core::{Actor, AddressUpdate, CreateAddress, Deleted, Grant, Holder};
use postwerk_model::{Address, Domain};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::{
    AccessView, AddressKindName, AddressView, AliasView, InvitationRequestBody, InvitationSentView,
    InvitationView, RedirectView, UnificationView, permissions_from_names, present,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(address_details, update_address, delete_address))
        .routes(routes!(set_password))
        .routes(routes!(delete_addresses))
        .merge(send_as::routes())
}

/// SND-1 send-as grants, under `/addresses/{address}/send-as`.
#[path = "send_as.rs"]
mod send_as;

/// An address with its aliases, as listed.
#[derive(Serialize, ToSchema)]
pub struct ListedAddressView {
    /// The address.
    #[serde(flatten)]
    address: AddressView,
    /// Its aliases, as full addresses.
    aliases: Vec<String>,
}

/// ADDR-1: who will use a new address, chosen by `mode`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum HolderBody {
    /// (a) the signed-in user: they choose the password; the address is linked to their
    /// account at once.
    Myself,
    /// (b) these users of the organization, with a generated password shown once.
    Users {
        /// The users given access.
        users: Vec<GrantBody>,
    },
    /// (b') an invitation.
    Invitation {
        /// What the invitation offers.
        invitation: InvitationRequestBody,
    },
    /// (c) "I don't know": created, linked to nobody.
    #[default]
    Nobody,
}

/// ADDR-1 (b): one user given access to a new address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    /// The account's login; it must belong to the service's organization.
    login: String,
    /// Permission names; absent: the service's defaults.
    permissions: Option<Vec<String>>,
    /// The name of one of the service's signature templates.
    signature: Option<String>,
}

impl HolderBody {
    fn into_core(self) -> Result<Holder, ApiError> {
        Ok(match self {
            HolderBody::Myself => Holder::Myself,
            HolderBody::Nobody => Holder::Nobody,
            HolderBody::Invitation { invitation } => Holder::Invitation(invitation.into_core()?),
            HolderBody::Users { users } => Holder::Users(
                users
                    .into_iter()
                    .map(|grant| {
                        Ok(Grant {
                            login: grant.login,
                            permissions: grant
                                .permissions
                                .as_deref()
                                .map(permissions_from_names)
                                .transpose()?,
                            signature: grant.signature,
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
            ),
        })
    }
}

/// An address to create in the service of the path's domain.
#[derive(Deserialize, ToSchema)]
pub struct CreateAddressBody {
    /// The local part (the domain is the service's); or give `address`.
    #[schema(example = "toto")]
    local_part: Option<String>,
    /// The full address, in the service's primary domain; or give `local_part`.
    address: Option<String>,
    /// What it does with incoming mail (default `mailbox`).
    #[serde(default)]
    kind: AddressKindName,
    /// Who will use it (default `{"mode": "nobody"}`).
    #[serde(default)]
    holder: HolderBody,
    /// The mailbox password; absent: generated and answered once (except for an invitation
    /// whose person logs in with exactly this address: they choose it).
    password: Option<String>,
    /// The name shown with the address in mail sent from it.
    display_name: Option<String>,
    /// Aliases created with it (ADDR-6): local parts or full addresses in the same domain.
    #[serde(default)]
    aliases: Vec<String>,
    /// Redirection targets (ADDR-4/5; required for `redirect` addresses).
    #[serde(default)]
    redirect_to: Vec<String>,
    /// Keep a copy in the mailbox when redirecting (ADDR-5).
    #[serde(default)]
    keep_copy: bool,
}

/// An address just created.
#[derive(Serialize, ToSchema)]
pub struct CreatedAddressView {
    /// The address.
    address: AddressView,
    /// The generated mailbox password: shown this once only.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
    /// The invitation sent (ADDR-1 b').
    #[serde(skip_serializing_if = "Option::is_none")]
    invitation: Option<InvitationSentView>,
}

/// Everything about one address.
#[derive(Serialize, ToSchema)]
pub struct AddressDetailsView {
    /// The address.
    #[serde(flatten)]
    address: AddressView,
    /// Its aliases (ADDR-6).
    aliases: Vec<AliasView>,
    /// Who has access, with what (ADDR-9).
    access: Vec<AccessView>,
    /// Its invitations, open or not (ADDR-1 b').
    invitations: Vec<InvitationView>,
    /// SND-1: the addresses it may send as besides itself and its aliases.
    send_as: Vec<String>,
    /// ID-5: where the caller's account password and this mailbox's password stand (absent
    /// for the operator, who has no account).
    #[serde(skip_serializing_if = "Option::is_none")]
    unification: Option<UnificationView>,
}

/// Changes to an address; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateAddressBody {
    /// Enable or disable (a disabled address refuses mail and logins, keeps its content).
    enabled: Option<bool>,
    /// ADDR-10: a storage limit in bytes; `null` lifts it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    storage_limit: Option<Option<u64>>,
    /// ADDR-4/5: the redirection; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RedirectView>)]
    redirect: Option<Option<RedirectView>>,
    /// The name shown with the address.
    display_name: Option<String>,
}

/// A mailbox password to set. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct SetPasswordBody {
    /// The new password; absent: one is generated and answered once.
    password: Option<String>,
    /// ID-5: make the caller's account password the same, when unification is offered
    /// (`unification.state` was `offered`); from then on changing either changes both.
    #[serde(default)]
    unify: bool,
}

/// The outcome of a password change.
#[derive(Serialize, ToSchema)]
pub struct PasswordView {
    /// The generated password, when none was given: shown this once only.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
    /// ID-5: where the mailbox's and the caller's account password stand now.
    unification: UnificationView,
}

/// ADDR-8: addresses to delete, named twice.
#[derive(Deserialize, ToSchema)]
pub struct DeleteAddressesBody {
    /// The addresses to delete.
    addresses: Vec<String>,
    /// The same list again, in the same order: deletion destroys their mail for good.
    confirm: Vec<String>,
}

/// ADDR-8: what a deletion did.
#[derive(Serialize, ToSchema)]
pub struct DeletedView {
    /// The addresses deleted.
    deleted: Vec<String>,
    /// Accounts whose login was a deleted address: they log in with a recovery username
    /// from now on (ID-10).
    orphaned_logins: Vec<String>,
}

/// ADDR-8: the confirmation of a single deletion.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmQuery {
    /// The address again, exactly as in the path.
    confirm: Option<String>,
}

/// The full address of `local_or_address` in `domain`: a local part gets the domain; a full
/// address must be in it.
pub fn in_domain(local_or_address: &str, domain: &str) -> Result<String, ApiError> {
    let text = local_or_address.trim();
    if !text.contains('@') {
        return Ok(format!("{text}@{domain}"));
    }
    let address = Address::parse(text)?;
    let domain = Domain::parse(domain)?;
    if address.domain() != &domain {
        return Err(ApiError::invalid(format!(
            "{address} is not in the domain {domain}; give a local part or an address in \
             {domain}"
        )));
    }
    Ok(address.to_string())
}

/// The addresses of a service, each with its aliases.
#[utoipa::path(
    get,
    path = "/api/v1/services/{domain}/addresses",
    tag = "addresses",
    params(("domain" = String, Path, description = "The service's domain"), PageQuery),
    responses(
        (status = 200, description = "The addresses", body = Page<ListedAddressView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
    )
)]
async fn list_addresses(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ListedAddressView>>, ApiError> {
    let addresses = state.admin.list_addresses(caller.actor, &domain).await?;
    Ok(Json(page.paginate(addresses, |(hosted, aliases)| {
        ListedAddressView {
            aliases: aliases
                .iter()
                .map(|alias| AliasView::new(alias, &hosted.address).alias)
                .collect(),
            address: AddressView::from(&hosted),
        }
    })?))
}

/// ADDR-1, ADDR-2, ADDR-4, ADDR-5: creates an address in the service, with its aliases and
/// the access or invitation chosen by `holder`. All or nothing.
#[utoipa::path(
    post,
    path = "/api/v1/services/{domain}/addresses",
    tag = "addresses",
    params(("domain" = String, Path, description = "The service's primary domain")),
    request_body = CreateAddressBody,
    responses(
        (status = 201, description = "Created; a generated password is shown this once", body = CreatedAddressView),
        (status = 400, description = "Invalid input (address, kind and redirection, password, permissions…)", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain, or an unknown user", body = ErrorBody),
        (status = 409, description = "`quota_reached`, `alias_limit`, `aliases_disabled`, or `conflict` (the address or an alias exists)", body = ErrorBody),
    )
)]
async fn create_address(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
    ApiJson(body): ApiJson<CreateAddressBody>,
) -> Result<(StatusCode, Json<CreatedAddressView>), ApiError> {
    let address = match (&body.local_part, &body.address) {
        (Some(local), None) if !local.contains('@') => in_domain(local, &domain)?,
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "local_part is the part before the @; give a full address as \"address\"",
            ));
        }
        (None, Some(address)) => in_domain(address, &domain)?,
        _ => {
            return Err(ApiError::invalid(
                "give either \"local_part\" or \"address\", not both and not neither",
            ));
        }
    };
    let aliases = body
        .aliases
        .iter()
        .map(|alias| in_domain(alias, &domain))
        .collect::<Result<_, _>>()?;
    let request = CreateAddress {
        address,
        kind: body.kind.into(),
        password: body.password,
        holder: body.holder.into_core()?,
        display_name: body.display_name.unwrap_or_default(),
        aliases,
        redirect_to: body.redirect_to,
        keep_copy: body.keep_copy,
    };
    let created = state.admin.create_address(caller.actor, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAddressView {
            address: AddressView::from(&created.address),
            generated_password: created
                .generated_password
                .map(|password| password.as_str().to_owned()),
            invitation: created.invitation.map(InvitationSentView::from),
        }),
    ))
}

/// One address with its aliases, access, invitations and send-as grants (SND-1).
/// Administrators, or a user with access to it.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{address}",
    tag = "addresses",
    params(("address" = String, Path, description = "The full address")),
    responses(
        (status = 200, description = "The address", body = AddressDetailsView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Neither an administrator nor a user of it", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn address_details(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<AddressDetailsView>, ApiError> {
    let details = state.admin.address_details(caller.actor, &address).await?;
    let send_as = state.admin.list_send_as(caller.actor, &address).await?;
    let owner = &details.address.address;
    let unification = match caller.actor {
        Actor::User(user) => {
            let unification = state.identity.unification(user, owner).await?;
            Some(UnificationView::new(&unification, Some(&owner.to_string())))
        }
        Actor::Operator => None,
    };
    Ok(Json(AddressDetailsView {
        unification,
        aliases: details
            .aliases
            .iter()
            .map(|alias| AliasView::new(alias, owner))
            .collect(),
        access: details
            .access
            .iter()
            .map(|(login, access)| AccessView::new(login, access))
            .collect(),
        invitations: details
            .invitations
            .iter()
            .map(InvitationView::from)
            .collect(),
        send_as: send_as::addresses_of(&send_as),
        address: AddressView::from(&details.address),
    }))
}

/// Changes an address: enabled, storage limit (ADDR-10), redirection (ADDR-4/5), display
/// name. Each field is checked against the caller's rights; nothing changes when any is
/// refused.
#[utoipa::path(
    patch,
    path = "/api/v1/addresses/{address}",
    tag = "addresses",
    params(("address" = String, Path, description = "The full address")),
    request_body = UpdateAddressBody,
    responses(
        (status = 200, description = "The address as changed", body = AddressView),
        (status = 400, description = "An invalid redirection", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "A field the caller may not change", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn update_address(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateAddressBody>,
) -> Result<Json<AddressView>, ApiError> {
    let update = AddressUpdate {
        enabled: body.enabled,
        storage_limit: body.storage_limit,
        redirect: body
            .redirect
            .map(|redirect| redirect.map(|r| (r.targets, r.keep_copy))),
        display_name: body.display_name,
    };
    let hosted = state
        .admin
        .update_address(caller.actor, &address, update)
        .await?;
    Ok(Json(AddressView::from(&hosted)))
}

/// ADDR-8: deletes one address and everything it holds, for good. `confirm` must repeat the
/// address.
#[utoipa::path(
    delete,
    path = "/api/v1/addresses/{address}",
    tag = "addresses",
    params(("address" = String, Path, description = "The full address"), ConfirmQuery),
    responses(
        (status = 204, description = "Deleted, with its mail, aliases and redirections"),
        (status = 400, description = "`confirm` does not repeat the address", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn delete_address(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiQuery(query): ApiQuery<ConfirmQuery>,
) -> Result<StatusCode, ApiError> {
    if query.confirm.as_deref() != Some(address.as_str()) {
        return Err(ApiError::invalid(format!(
            "deleting {address} destroys its mail for good: repeat the address as \
             ?confirm={address} to go ahead"
        )));
    }
    let deleted = state
        .admin
        .delete_addresses(caller.actor, &[address])
        .await?;
    state.issue_recovery_usernames(&deleted).await;
    Ok(StatusCode::NO_CONTENT)
}

// A method of the state rather than a function of this module, so the console's delete page
// (ui/console/addresses.rs) calls the very same code after its deletion.
impl ApiState {
    /// ID-10: tells the accounts whose login was a deleted address their recovery username.
    /// The deletion is done whatever happens here, so a failure to send is logged rather than
    /// answered: the operator can still read the username from the SMS outbox or the database.
    pub(crate) async fn issue_recovery_usernames(&self, deleted: &Deleted) {
        if deleted.orphaned_accounts.is_empty() {
            return;
        }
        if let Err(error) = self
            .recovery
            .issue_recovery_usernames(&deleted.orphaned_accounts)
            .await
        {
            tracing::warn!(
                %error,
                accounts = deleted.orphaned_accounts.len(),
                "the recovery usernames of accounts whose login address was deleted could not be sent"
            );
        }
    }
}

/// ADDR-8: deletes several addresses and everything they hold, for good, all or none.
/// `confirm` must repeat exactly the list of `addresses`.
#[utoipa::path(
    post,
    path = "/api/v1/addresses/delete",
    tag = "addresses",
    request_body = DeleteAddressesBody,
    responses(
        (status = 200, description = "Deleted", body = DeletedView),
        (status = 400, description = "`confirm` does not repeat the list, or the list is empty", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of an address's organization", body = ErrorBody),
        (status = 404, description = "An address does not exist; nothing was deleted", body = ErrorBody),
    )
)]
async fn delete_addresses(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<DeleteAddressesBody>,
) -> Result<Json<DeletedView>, ApiError> {
    if body.addresses.is_empty() {
        return Err(ApiError::invalid(
            "name the addresses to delete in \"addresses\"",
        ));
    }
    if body.confirm != body.addresses {
        return Err(ApiError::invalid(
            "deleting addresses destroys their mail for good: repeat exactly the same list, \
             in the same order, in \"confirm\" to go ahead",
        ));
    }
    let deleted = state
        .admin
        .delete_addresses(caller.actor, &body.addresses)
        .await?;
    state.issue_recovery_usernames(&deleted).await;
    Ok(Json(DeletedView {
        deleted: deleted.addresses.iter().map(ToString::to_string).collect(),
        orphaned_logins: deleted
            .orphaned_logins
            .iter()
            .map(ToString::to_string)
            .collect(),
    }))
}

/// Sets a mailbox password (mail clients using the old one are signed out, ID-6). Send `{}`
/// to generate one, answered once. ID-5: `unification` says whether the caller's account
/// password may be unified with it (ask with `"unify": true`), or already is, in which case
/// the account's password changed too.
#[utoipa::path(
    put,
    path = "/api/v1/addresses/{address}/password",
    tag = "addresses",
    params(("address" = String, Path, description = "The full address")),
    request_body = SetPasswordBody,
    responses(
        (status = 200, description = "Set; a generated password is shown this once", body = PasswordView),
        (status = 400, description = "A weak password, or an address without a password", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn set_password(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiJson(body): ApiJson<SetPasswordBody>,
) -> Result<Json<PasswordView>, ApiError> {
    let changed = state
        .admin
        .set_address_password_in_session(
            caller.actor,
            &address,
            body.password.as_deref(),
            body.unify,
            caller.session,
        )
        .await?;
    Ok(Json(PasswordView {
        generated_password: changed
            .generated
            .map(|password| password.as_str().to_owned()),
        unification: UnificationView::new(&changed.unification, Some(&address)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_part_gets_the_domain_and_a_full_address_must_be_in_it() {
        assert_eq!(
            in_domain("toto", "example.com").unwrap(),
            "toto@example.com"
        );
        assert_eq!(
            in_domain("Toto@Example.COM", "example.com").unwrap(),
            "toto@example.com"
        );
        let elsewhere = in_domain("toto@example.org", "example.com").err();
        assert_eq!(elsewhere.map(|e| e.code()), Some("invalid"));
    }

    #[test]
    fn absent_null_and_values_are_three_different_changes() {
        let absent: UpdateAddressBody = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.storage_limit, None);
        assert!(absent.redirect.is_none());
        let lifted: UpdateAddressBody =
            serde_json::from_str(r#"{"storage_limit": null, "redirect": null}"#).unwrap();
        assert_eq!(lifted.storage_limit, Some(None));
        assert!(matches!(lifted.redirect, Some(None)));
        let set: UpdateAddressBody = serde_json::from_str(
            r#"{"storage_limit": 1000, "redirect": {"targets": ["a@b.example"]}}"#,
        )
        .unwrap();
        assert_eq!(set.storage_limit, Some(Some(1000)));
        assert!(
            matches!(set.redirect, Some(Some(RedirectView { ref targets, keep_copy: false })) if targets.len() == 1)
        );
    }

    #[test]
    fn addr_1_holder_modes_read_from_json() {
        let holder: HolderBody = serde_json::from_str(
            r#"{"mode": "users", "users": [{"login": "jane@example.net", "permissions": ["read_send"]}]}"#,
        )
        .unwrap();
        match holder.into_core().unwrap() {
            Holder::Users(grants) => {
                assert_eq!(grants.len(), 1);
                assert_eq!(grants[0].login, "jane@example.net");
                assert_eq!(
                    grants[0].permissions,
                    Some(postwerk_model::Permissions::READ_SEND)
                );
            }
            other => panic!("expected users, got {other:?}"),
        }
        let invitation: HolderBody = serde_json::from_str(
            r#"{"mode": "invitation", "invitation": {"login_mode": "own_choice", "send_to": "jane@example.net"}}"#,
        )
        .unwrap();
        assert!(matches!(
            invitation.into_core().unwrap(),
            Holder::Invitation(request) if request.login_mode == postwerk_model::LoginMode::OwnChoice
        ));
        let myself: HolderBody = serde_json::from_str(r#"{"mode": "myself"}"#).unwrap();
        assert_eq!(myself.into_core().unwrap(), Holder::Myself);
        assert!(serde_json::from_str::<HolderBody>(r#"{"mode": "everyone"}"#).is_err());
    }
}
