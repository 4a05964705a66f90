//! One address in the console: its details and the changes an administrator makes to it —
//! enabled, storage limit (ADDR-10), display name, aliases with the limit of 50 in view
//! (ADDR-6), redirection with or without a copy kept (ADDR-5), who has access with what
//! permissions (ADDR-9), the allowed and blocked senders (RCV-4), the addresses a mailbox may
//! also send as (SND-1, in `send_as.rs`) — each through the same `Admin` call as its REST
//! endpoint. Deleting goes through the confirmation of
//! `addresses.rs`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_core::AddressUpdate;
use postwerk_model::{AddressKind, ListKind, MAX_ALIASES_PER_ADDRESS, Permissions};

use super::forms::{
    Fields, PermissionChoice, kind_words, parse_size, permission_choices, permission_words,
    segment, settle as settle_with, split_list,
};
use super::service_of;
use crate::ApiState;
use crate::ui::format::{date, date_time, storage_size};
use crate::ui::page::{self, Layout, PageError, PageUser};

#[path = "send_as.rs"]
mod send_as;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/manager/addresses/{address}", get(address_page))
        .route("/manager/addresses/{address}/enabled", post(set_enabled))
        .route("/manager/addresses/{address}/storage", post(set_storage))
        .route("/manager/addresses/{address}/name", post(set_name))
        .route("/manager/addresses/{address}/aliases", post(add_alias))
        .route(
            "/manager/addresses/{address}/aliases/remove",
            post(remove_alias),
        )
        .route("/manager/addresses/{address}/redirect", post(set_redirect))
        .route(
            "/manager/addresses/{address}/redirect/remove",
            post(remove_redirect),
        )
        .route("/manager/addresses/{address}/access", post(grant_access))
        .route(
            "/manager/addresses/{address}/access/revoke",
            post(revoke_access),
        )
        .route("/manager/addresses/{address}/senders", post(add_sender))
        .route(
            "/manager/addresses/{address}/senders/remove",
            post(remove_sender),
        )
        .merge(send_as::routes())
}

/// A user's access, with the form that edits it.
struct AccessRow {
    login: String,
    summary: String,
    permissions: Vec<PermissionChoice>,
    signature: String,
}

/// An invitation of the address.
struct InvitationRow {
    sent_to: String,
    state: String,
}

/// A rule of the sender lists.
struct SenderRow {
    pattern: String,
    allowed: bool,
}

#[derive(askama::Template)]
#[template(path = "console/address.html")]
struct AddressPage {
    layout: Layout,
    address: String,
    domain: String,
    base: String,
    service_link: String,
    kind: &'static str,
    holds_mail: bool,
    display_name: String,
    enabled: bool,
    storage_limit: String,
    created: String,
    aliases: Vec<String>,
    alias_limit: usize,
    alias_domains: Vec<String>,
    aliases_allowed: bool,
    redirect_targets: String,
    redirect_keep_copy: bool,
    redirecting: bool,
    redirect_only: bool,
    access: Vec<AccessRow>,
    candidates: Vec<String>,
    new_permissions: Vec<PermissionChoice>,
    templates: Vec<String>,
    invitations: Vec<InvitationRow>,
    senders: Vec<SenderRow>,
    /// SND-1: the addresses this mailbox may also send as.
    send_as: Vec<String>,
    /// SND-1: the mailboxes that may send as this address (`None`: not the viewer's to see).
    send_as_holders: Option<Vec<String>>,
    problem: Option<String>,
}

async fn address_view(
    state: &ApiState,
    me: &PageUser,
    address: &str,
    problem: Option<String>,
) -> Result<AddressPage, PageError> {
    let actor = me.caller.actor;
    let details = state.admin.address_details(actor, address).await?;
    let hosted = &details.address;
    let domain = hosted.address.domain().to_string();
    let (service, _, org) = service_of(state, actor, &domain).await?;
    let holds_mail = matches!(hosted.kind, AddressKind::Mailbox | AddressKind::CatchAll);
    let senders = if holds_mail {
        state
            .admin
            .sender_rules(actor, address)
            .await?
            .into_iter()
            .map(|rule| SenderRow {
                pattern: rule.pattern.to_string(),
                allowed: rule.kind == ListKind::Allow,
            })
            .collect()
    } else {
        Vec::new()
    };
    let with_access: Vec<String> = details.access.iter().map(|(l, _)| l.to_string()).collect();
    let candidates = state
        .admin
        .org_members(actor, &org)
        .await?
        .into_iter()
        .map(|member| member.login.to_string())
        .filter(|login| !with_access.contains(login))
        .collect();
    let now = unix_now();
    let text = hosted.address.to_string();
    let send_as = send_as::granted(state, actor, &text, holds_mail).await?;
    let send_as_holders = send_as::holders(state, actor, &text).await?;
    Ok(AddressPage {
        layout: me.layout(text.clone(), "manager"),
        base: format!("/manager/addresses/{}", segment(&text)),
        service_link: format!("/manager/services/{}", segment(&domain)),
        kind: kind_words(hosted.kind),
        holds_mail,
        display_name: hosted.display_name.clone(),
        enabled: hosted.enabled,
        storage_limit: hosted.storage_limit.map(storage_size).unwrap_or_default(),
        created: date_time(hosted.created_at),
        aliases: details
            .aliases
            .iter()
            .map(|alias| format!("{}@{domain}", alias.local))
            .collect(),
        alias_limit: MAX_ALIASES_PER_ADDRESS,
        alias_domains: service
            .alias_domains
            .iter()
            .map(ToString::to_string)
            .collect(),
        aliases_allowed: service.features.aliases_allowed,
        redirecting: hosted.redirect.is_some(),
        redirect_targets: hosted
            .redirect
            .as_ref()
            .map(|r| {
                r.targets
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        redirect_keep_copy: hosted.redirect.as_ref().is_some_and(|r| r.keep_copy),
        redirect_only: hosted.kind == AddressKind::RedirectOnly,
        access: details
            .access
            .iter()
            .map(|(login, access)| AccessRow {
                login: login.to_string(),
                summary: permission_words(access.permissions),
                permissions: permission_choices(access.permissions),
                signature: access.signature.clone().unwrap_or_default(),
            })
            .collect(),
        candidates,
        new_permissions: permission_choices(service.default_permissions),
        templates: service
            .signature_templates
            .iter()
            .map(|t| t.name.clone())
            .collect(),
        invitations: details
            .invitations
            .iter()
            .map(|invitation| InvitationRow {
                sent_to: invitation.sent_to.to_string(),
                state: match invitation.accepted_at {
                    Some(at) => format!("Accepted on {}", date(at)),
                    None if invitation.is_open(now) => {
                        format!("Waiting, until {}", date(invitation.expires_at))
                    }
                    None => format!("Expired on {}", date(invitation.expires_at)),
                },
            })
            .collect(),
        senders,
        send_as,
        send_as_holders,
        address: text,
        domain,
        problem,
    })
}

/// The current Unix time (the invitations' state).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// `/manager/addresses/{address}`.
async fn address_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
) -> Result<Response, PageError> {
    Ok(page::render(
        &address_view(&state, &me, &address, None).await?,
    ))
}

/// Back to the address page with `notice`, or the page again with the refusal.
async fn settle<T>(
    state: &ApiState,
    me: &PageUser,
    address: &str,
    outcome: Result<T, impl Into<PageError>>,
    notice: &str,
) -> Result<Response, PageError> {
    settle_with(
        outcome.map(|_| notice.to_owned()).map_err(Into::into),
        &format!("/manager/addresses/{}", segment(address)),
        |problem| address_view(state, me, address, Some(problem)),
    )
    .await
}

async fn update(
    state: &ApiState,
    me: &PageUser,
    address: &str,
    update: AddressUpdate,
) -> Result<(), PageError> {
    state
        .admin
        .update_address(me.caller.actor, address, update)
        .await?;
    Ok(())
}

/// Enables or disables the address (a disabled one refuses mail and logins, keeps its mail).
async fn set_enabled(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let enabled = fields.get("enabled") == "yes";
    let change = AddressUpdate {
        enabled: Some(enabled),
        ..AddressUpdate::default()
    };
    let outcome = update(&state, &me, &address, change).await;
    let notice = if enabled {
        format!("{address} is enabled again.")
    } else {
        format!("{address} is disabled: it refuses mail and logins, and keeps its content.")
    };
    settle(&state, &me, &address, outcome, &notice).await
}

/// ADDR-10: sets or lifts the storage limit.
async fn set_storage(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let text = fields.get("storage_limit");
    let outcome = async {
        let limit = if text.is_empty() {
            None
        } else {
            Some(parse_size(text)?)
        };
        let change = AddressUpdate {
            storage_limit: Some(limit),
            ..AddressUpdate::default()
        };
        update(&state, &me, &address, change).await
    }
    .await;
    let notice = if text.is_empty() {
        format!("{address} has no storage limit now.")
    } else {
        format!("The storage limit of {address} was saved.")
    };
    settle(&state, &me, &address, outcome, &notice).await
}

/// The name shown with the address.
async fn set_name(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let change = AddressUpdate {
        display_name: Some(fields.get("display_name").to_owned()),
        ..AddressUpdate::default()
    };
    let outcome = update(&state, &me, &address, change).await;
    settle(&state, &me, &address, outcome, "The name was saved.").await
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
}

/// `alias` (a local part or a full address) in the address's domain.
fn alias_address(alias: &str, address: &str) -> String {
    if alias.contains('@') {
        alias.to_owned()
    } else {
        format!("{alias}@{}", domain_of(address))
    }
}

/// ADDR-6: adds an alias (core applies the service's switch and the limit of 50).
async fn add_alias(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let alias = alias_address(fields.get("alias"), &address);
    let outcome = state
        .admin
        .add_alias(me.caller.actor, &address, &alias)
        .await;
    let notice = format!("Mail to {alias} now reaches {address}.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// ADDR-6: removes one of the address's aliases.
async fn remove_alias(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let alias = alias_address(fields.get("alias"), &address);
    let outcome = async {
        // As the REST handler: only an alias of this address may be removed from its page.
        let local = alias.rsplit_once('@').map(|(l, _)| l).unwrap_or_default();
        let aliases = state.admin.list_aliases(me.caller.actor, &address).await?;
        if !aliases.iter().any(|a| a.local.to_string() == local) {
            return Err(PageError::not_found(format!(
                "{alias} is not an alias of {address}."
            )));
        }
        state.admin.remove_alias(me.caller.actor, &alias).await?;
        Ok(())
    }
    .await;
    let notice = format!("{alias} was removed.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// ADDR-4/5: sets the redirection.
async fn set_redirect(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let targets = split_list(fields.get("targets"));
    let change = AddressUpdate {
        redirect: Some(Some((targets, fields.checked("keep_copy")))),
        ..AddressUpdate::default()
    };
    let outcome = update(&state, &me, &address, change).await;
    settle(&state, &me, &address, outcome, "The redirection was saved.").await
}

/// ADDR-5: removes the redirection.
async fn remove_redirect(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
) -> Result<Response, PageError> {
    let change = AddressUpdate {
        redirect: Some(None),
        ..AddressUpdate::default()
    };
    let outcome = update(&state, &me, &address, change).await;
    let notice = format!("{address} no longer forwards its mail.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// ADDR-9: gives an account access, or changes its permissions and signature.
async fn grant_access(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let login = fields.get("login").to_owned();
    let outcome = async {
        let permissions: Permissions = fields.permissions()?;
        let signature = fields.optional("signature");
        state
            .admin
            .grant_access(
                me.caller.actor,
                &address,
                &login,
                Some(permissions),
                signature.as_deref(),
            )
            .await?;
        Ok::<_, PageError>(())
    }
    .await;
    let notice = format!("The access of {login} was saved.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// ADDR-9: takes an account's access away.
async fn revoke_access(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let login = fields.get("login").to_owned();
    let outcome = state
        .admin
        .revoke_access(me.caller.actor, &address, &login)
        .await;
    let notice = format!("{login} can no longer use {address}.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// RCV-4: adds a sender to the allowed or blocked list.
async fn add_sender(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let pattern = fields.get("pattern").to_owned();
    let (kind, words) = if fields.get("list") == "block" {
        (ListKind::Block, "blocked")
    } else {
        (ListKind::Allow, "allowed")
    };
    let outcome = state
        .admin
        .add_sender_rule(me.caller.actor, &address, kind, &pattern)
        .await;
    let notice = format!("{pattern} is {words} now.");
    settle(&state, &me, &address, outcome, &notice).await
}

/// RCV-4: removes a sender rule.
async fn remove_sender(
    State(state): State<ApiState>,
    me: PageUser,
    Path(address): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let pattern = fields.get("pattern").to_owned();
    let outcome = state
        .admin
        .remove_sender_rule(me.caller.actor, &address, &pattern)
        .await;
    let notice = format!("{pattern} was taken off the list.");
    settle(&state, &me, &address, outcome, &notice).await
}
