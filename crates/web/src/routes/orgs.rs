//! ORG-1: organizations and their members.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_core::Member;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::{OrgView, RoleName};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(list_members))
        .routes(routes!(set_member, remove_member))
}

/// An organization to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateOrgBody {
    /// Its name: unique, at most 100 characters, no line breaks.
    #[schema(example = "Acme")]
    name: String,
}

/// A member of an organization.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    /// The account's login.
    login: String,
    /// The account's name.
    display_name: String,
    /// Its role in the organization.
    role: RoleName,
}

impl From<Member> for MemberView {
    fn from(member: Member) -> MemberView {
        MemberView {
            login: member.login.to_string(),
            display_name: member.display_name,
            role: member.role.into(),
        }
    }
}

/// A role to give.
#[derive(Deserialize, ToSchema)]
pub struct SetMemberBody {
    /// The role.
    role: RoleName,
}

/// The organizations the caller belongs to (all of them for the operator).
#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    tag = "organizations",
    params(PageQuery),
    responses(
        (status = 200, description = "The organizations", body = Page<OrgView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
async fn list_orgs(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<OrgView>>, ApiError> {
    let orgs = state.admin.list_orgs(caller.actor).await?;
    Ok(Json(page.paginate(orgs, OrgView::from)?))
}

/// Creates an organization; a user who creates one becomes its owner.
#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "organizations",
    request_body = CreateOrgBody,
    responses(
        (status = 201, description = "Created", body = OrgView),
        (status = 400, description = "An invalid name", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    )
)]
async fn create_org(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<CreateOrgBody>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    let org = state.admin.create_org(caller.actor, &body.name).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// The members of an organization, with their roles. Any member may list them.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/members",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's name"), PageQuery),
    responses(
        (status = 200, description = "The members", body = Page<MemberView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The caller is not a member", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
    )
)]
async fn list_members(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(org): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<MemberView>>, ApiError> {
    let members = state.admin.org_members(caller.actor, &org).await?;
    Ok(Json(page.paginate(members, MemberView::from)?))
}

/// Adds an account to an organization with a role, or changes its role. Administrators only;
/// only an owner makes or unmakes owners; the last owner keeps the role.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/members/{login}",
    tag = "organizations",
    params(
        ("org" = String, Path, description = "The organization's name"),
        ("login" = String, Path, description = "The account's login"),
    ),
    request_body = SetMemberBody,
    responses(
        (status = 200, description = "The member with its role", body = MemberView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization", body = ErrorBody),
        (status = 404, description = "No such organization or account", body = ErrorBody),
        (status = 409, description = "The last owner would lose the role", body = ErrorBody),
    )
)]
async fn set_member(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((org, login)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<SetMemberBody>,
) -> Result<Json<MemberView>, ApiError> {
    let member = state
        .admin
        .set_member(caller.actor, &org, &login, body.role.into())
        .await?;
    Ok(Json(member.into()))
}

/// Removes an account from an organization, with its access to the organization's
/// mailboxes. Administrators only (a member may remove themself); never the last owner.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{login}",
    tag = "organizations",
    params(
        ("org" = String, Path, description = "The organization's name"),
        ("login" = String, Path, description = "The account's login"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization", body = ErrorBody),
        (status = 404, description = "No such organization or member", body = ErrorBody),
        (status = 409, description = "The last owner cannot leave", body = ErrorBody),
    )
)]
async fn remove_member(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((org, login)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .remove_member(caller.actor, &org, &login)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
