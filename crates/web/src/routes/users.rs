//! ID-1: user accounts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_core::CreateUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::{RoleName, UserView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default().routes(routes!(list_users, create_user))
}

/// An account to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateUserBody {
    /// The login, an email address (usually the person's own, outside address).
    #[schema(example = "jane@example.net")]
    login: String,
    /// The password; absent: one is generated and answered once.
    password: Option<String>,
    /// The person's name.
    display_name: Option<String>,
    /// The organization to join (required unless the caller is the operator).
    org: Option<String>,
    /// The role in `org` (default `member`).
    role: Option<RoleName>,
}

/// An account just created.
#[derive(Serialize, ToSchema)]
pub struct CreatedUserView {
    /// The account.
    user: UserView,
    /// The generated password, when none was given: shown this once only.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
}

/// Every account (the operator only).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(PageQuery),
    responses(
        (status = 200, description = "The accounts", body = Page<UserView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Only the operator lists every account", body = ErrorBody),
    )
)]
async fn list_users(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let users = state.admin.list_users(caller.actor).await?;
    Ok(Json(page.paginate(users, |user| UserView::from(&user))?))
}

/// Creates an account, joining an organization with a role. Administrators of that
/// organization (or the operator, who may also create accounts outside any).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = CreateUserBody,
    responses(
        (status = 201, description = "Created; a generated password is shown this once", body = CreatedUserView),
        (status = 400, description = "An invalid login, a weak password, or a role without an organization", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of the organization", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
    )
)]
async fn create_user(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<(StatusCode, Json<CreatedUserView>), ApiError> {
    let org = match (body.org, body.role) {
        (Some(org), role) => Some((org, role.unwrap_or(RoleName::Member).into())),
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "a role is given in an organization: name the organization in \"org\" too",
            ));
        }
        (None, None) => None,
    };
    let request = CreateUser {
        login: body.login,
        password: body.password,
        display_name: body.display_name,
        org,
    };
    let created = state.admin.create_user(caller.actor, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUserView {
            user: UserView::from(&created.value),
            generated_password: created
                .generated_password
                .map(|password| password.as_str().to_owned()),
        }),
    ))
}
