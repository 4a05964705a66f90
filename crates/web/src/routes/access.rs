//! ADDR-9: which user accounts may use a mailbox, with what permissions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::{AccessView, permissions_from_names};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_access))
        .routes(routes!(grant_access, revoke_access))
}

/// Access to give.
#[derive(Deserialize, ToSchema)]
pub struct GrantAccessBody {
    /// Permission names; absent: the service's default permissions (SVC-4).
    #[schema(example = json!(["read_send", "manage_aliases"]))]
    permissions: Option<Vec<String>>,
    /// The name of one of the service's signature templates (SVC-4); absent: none.
    #[schema(example = "Sales")]
    signature: Option<String>,
}

/// Who has access to a mailbox, with their permissions.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{address}/access",
    tag = "access",
    params(("address" = String, Path, description = "The full address"), PageQuery),
    responses(
        (status = 200, description = "The access list", body = Page<AccessView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn list_access(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<AccessView>>, ApiError> {
    let access = state.admin.list_access(caller.actor, &address).await?;
    Ok(Json(page.paginate(access, |(login, access)| {
        AccessView::new(&login, &access)
    })?))
}

/// Gives a user access to a mailbox, or changes their permissions.
#[utoipa::path(
    put,
    path = "/api/v1/addresses/{address}/access/{login}",
    tag = "access",
    params(
        ("address" = String, Path, description = "The full address"),
        ("login" = String, Path, description = "The user account's login"),
    ),
    request_body = GrantAccessBody,
    responses(
        (status = 200, description = "The access as it is now", body = AccessView),
        (status = 400, description = "An unknown permission, or an address that holds no mail", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address or account", body = ErrorBody),
    )
)]
async fn grant_access(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((address, login)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<GrantAccessBody>,
) -> Result<Json<AccessView>, ApiError> {
    let permissions = body
        .permissions
        .as_deref()
        .map(permissions_from_names)
        .transpose()?;
    let access = state
        .admin
        .grant_access(
            caller.actor,
            &address,
            &login,
            permissions,
            body.signature.as_deref(),
        )
        .await?;
    let login = postwerk_model::Address::parse(&login)?;
    Ok(Json(AccessView::new(&login, &access)))
}

/// Takes a user's access to a mailbox away.
#[utoipa::path(
    delete,
    path = "/api/v1/addresses/{address}/access/{login}",
    tag = "access",
    params(
        ("address" = String, Path, description = "The full address"),
        ("login" = String, Path, description = "The user account's login"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address, account or access", body = ErrorBody),
    )
)]
async fn revoke_access(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((address, login)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .revoke_access(caller.actor, &address, &login)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
