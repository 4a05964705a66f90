//! API tokens: created by an account (or by the operator with the CLI), scoped, revocable,
//! stored hashed. The secret is shown once, in the answer to its creation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_model::ApiTokenId;
use postwerk_store::ApiToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::ScopeName;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// An API token, without its secret.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    /// Its identifier, for `DELETE /api/v1/tokens/{id}`.
    id: i64,
    /// The name its owner gave it.
    name: String,
    /// The public first part of the token, to recognise it.
    prefix: String,
    /// What it may do.
    scope: ScopeName,
    /// Unix seconds.
    created_at: i64,
    /// Unix seconds after which it stops working, if it expires.
    expires_at: Option<i64>,
    /// When it last authenticated a request.
    last_used_at: Option<i64>,
    /// When it was revoked; a revoked token never works again.
    revoked_at: Option<i64>,
}

impl From<ApiToken> for TokenView {
    fn from(token: ApiToken) -> TokenView {
        TokenView {
            id: token.id.0,
            name: token.name,
            prefix: token.prefix,
            scope: token.scope.into(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// A token to create.
#[derive(Deserialize, ToSchema)]
pub struct CreateTokenBody {
    /// A name to recognise it by ("billing sync").
    name: String,
    /// `read` (GET only) or `write` (everything the owner may do).
    scope: ScopeName,
    /// Unix seconds after which it stops working; absent: until revoked.
    expires_at: Option<i64>,
}

/// A token just created.
#[derive(Serialize, ToSchema)]
pub struct CreatedTokenView {
    /// The token.
    token: TokenView,
    /// The whole token, for `Authorization: Bearer …`. Shown this once only: it is stored
    /// hashed.
    secret: String,
}

/// The caller's tokens, revoked ones included, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    params(PageQuery),
    responses(
        (status = 200, description = "The tokens", body = Page<TokenView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
async fn list_tokens(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<TokenView>>, ApiError> {
    let tokens = state.auth.list_tokens(caller.actor).await?;
    Ok(Json(page.paginate(tokens, TokenView::from)?))
}

/// Creates a token acting for the caller; answers its secret once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    request_body = CreateTokenBody,
    responses(
        (status = 201, description = "Created; `secret` is shown this once", body = CreatedTokenView),
        (status = 400, description = "An empty name or an expiry in the past", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "A read-scope token cannot create tokens", body = ErrorBody),
    )
)]
async fn create_token(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<(StatusCode, Json<CreatedTokenView>), ApiError> {
    let issued = state
        .auth
        .create_token(caller.actor, &body.name, body.scope.into(), body.expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenView {
            token: issued.token.into(),
            secret: issued.secret.as_str().to_owned(),
        }),
    ))
}

/// Revokes one of the caller's tokens (the operator may revoke any); it never works again.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    params(("id" = i64, Path, description = "The token's identifier")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 404, description = "No such token of the caller's", body = ErrorBody),
    )
)]
async fn revoke_token(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .revoke_token(caller.actor, ApiTokenId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
