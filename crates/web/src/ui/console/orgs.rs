//! ORG-1 in the console: the organizations the account administers with their services
//! (`/manager`), and one organization's members with their roles.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_model::Role;

use super::forms::{Fields, segment, settle};
use crate::ApiState;
use crate::ui::page::{self, Layout, PageError, PageUser};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/manager", get(home))
        .route("/manager/orgs/{org}", get(org_page))
        .route("/manager/orgs/{org}/members", post(set_member))
        .route("/manager/orgs/{org}/members/remove", post(remove_member))
}

/// An organization the account administers, with its services.
struct OrgCard {
    name: String,
    link: String,
    role: &'static str,
    services: Vec<ServiceLine>,
}

/// A service in the overview.
struct ServiceLine {
    domain: String,
    link: String,
    used: u32,
    quota: u32,
}

#[derive(askama::Template)]
#[template(path = "console/home.html")]
struct HomePage {
    layout: Layout,
    orgs: Vec<OrgCard>,
}

/// `/manager`: the organizations the account owns or administers, each with its services.
async fn home(State(state): State<ApiState>, me: PageUser) -> Result<Response, PageError> {
    if !me.manages {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "The Manager is for the owners and administrators of an organization. Ask an owner \
             of yours to make you an administrator if you need it.",
        ));
    }
    let actor = me.caller.actor;
    let memberships = state
        .directory
        .user_memberships(me.user.id)
        .await
        .map_err(|e| PageError::from(postwerk_core::CoreError::from(e)))?;
    let services = state.admin.list_services(actor).await?;
    let mut orgs = Vec::new();
    for org in state.admin.list_orgs(actor).await? {
        let Some(role) = memberships
            .iter()
            .find(|m| m.org == org.id)
            .map(|m| m.role)
            .filter(|role| role.can_administer())
        else {
            continue;
        };
        let services = services
            .iter()
            .filter(|(service, _)| service.org == org.id)
            .map(|(service, used)| ServiceLine {
                domain: service.domain.to_string(),
                link: format!("/manager/services/{}", segment(service.domain.as_str())),
                used: *used,
                quota: service.address_quota,
            })
            .collect();
        orgs.push(OrgCard {
            link: format!("/manager/orgs/{}", segment(&org.name)),
            name: org.name,
            role: role_words(role),
            services,
        });
    }
    Ok(page::render(&HomePage {
        layout: me.layout("Manager", "manager"),
        orgs,
    }))
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Admin => "Administrator",
        Role::Member => "Member",
    }
}

/// A member in the organization's table.
struct MemberRow {
    login: String,
    display_name: String,
    role: &'static str,
    role_name: &'static str,
    is_me: bool,
}

#[derive(askama::Template)]
#[template(path = "console/org.html")]
struct OrgPage {
    layout: Layout,
    name: String,
    action: String,
    members: Vec<MemberRow>,
    problem: Option<String>,
    login: String,
}

/// `/manager/orgs/{org}`: its members and their roles.
async fn org_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    let page = org_view(&state, &me, &org, None, String::new()).await?;
    Ok(page::render(&page))
}

async fn org_view(
    state: &ApiState,
    me: &PageUser,
    org: &str,
    problem: Option<String>,
    login: String,
) -> Result<OrgPage, PageError> {
    let members = state.admin.org_members(me.caller.actor, org).await?;
    let members = members
        .into_iter()
        .map(|member| MemberRow {
            is_me: member.user == me.user.id,
            login: member.login.to_string(),
            display_name: member.display_name,
            role: role_words(member.role),
            role_name: member.role.as_str(),
        })
        .collect();
    Ok(OrgPage {
        layout: me.layout(org.to_owned(), "manager"),
        name: org.to_owned(),
        action: format!("/manager/orgs/{}/members", segment(org)),
        members,
        problem,
        login,
    })
}

fn role_from(name: &str) -> Result<Role, PageError> {
    match name {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        _ => Err(PageError::invalid(
            "Choose a role: owner, administrator or member.",
        )),
    }
}

/// Adds an account with a role, or changes a member's role.
async fn set_member(
    State(state): State<ApiState>,
    me: PageUser,
    Path(org): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let login = fields.get("login").to_owned();
    let outcome = match role_from(fields.get("role")) {
        Ok(role) => state
            .admin
            .set_member(me.caller.actor, &org, &login, role)
            .await
            .map_err(PageError::from),
        Err(error) => Err(error),
    };
    let outcome =
        outcome.map(|member| format!("{} is now {} of {org}.", member.login, article(member.role)));
    settle(
        outcome,
        &format!("/manager/orgs/{}", segment(&org)),
        |problem| org_view(&state, &me, &org, Some(problem), login),
    )
    .await
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Owner => "an owner",
        Role::Admin => "an administrator",
        Role::Member => "a member",
    }
}

/// Removes a member (with their access to the organization's mailboxes).
async fn remove_member(
    State(state): State<ApiState>,
    me: PageUser,
    Path(org): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    let login = fields.get("login").to_owned();
    let outcome = state
        .admin
        .remove_member(me.caller.actor, &org, &login)
        .await
        .map_err(PageError::from)
        .map(|()| format!("{login} is no longer a member of {org}."));
    settle(
        outcome,
        &format!("/manager/orgs/{}", segment(&org)),
        |problem| org_view(&state, &me, &org, Some(problem), String::new()),
    )
    .await
}
