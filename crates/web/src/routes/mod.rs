//! The API's resources, one module each. Every handler is registered through
//! [`utoipa_axum::routes!`], which puts it in the axum router and its `#[utoipa::path]` in the
//! OpenAPI document at once, so the document cannot miss a route.

use axum::http::{Method, StatusCode, Uri};
use utoipa_axum::router::OpenApiRouter;

use crate::ApiState;
use crate::error::ApiError;

mod access;
mod account;
mod addresses;
mod aliases;
mod audit;
mod bulk;
mod credentials;
mod invitations;
mod notifications;
mod openapi;
mod orgs;
mod recovery;
mod sender_rules;
mod services;
mod session;
mod tokens;
mod users;

/// Every route of the API, with the document describing them.
pub fn api() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::base_document())
        .merge(session::routes())
        .merge(account::routes())
        .merge(recovery::routes())
        .merge(tokens::routes())
        .merge(orgs::routes())
        .merge(users::routes())
        .merge(services::routes())
        .merge(addresses::routes())
        .merge(aliases::routes())
        .merge(access::routes())
        .merge(sender_rules::routes())
        .merge(invitations::routes())
        .merge(bulk::routes())
        .merge(credentials::routes())
        .merge(audit::routes())
        .merge(notifications::routes())
        .merge(openapi::routes())
}

/// Every path under `/api/v1`; the routes above are more specific, so this one only matches
/// paths that none of them does.
pub const ALL_API_PATHS: &str = "/api/v1/{*rest}";

/// The answer for a path under `/api/v1` that no route matches.
pub async fn no_such_endpoint(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "there is no API endpoint at {}; the list is at /api/v1/openapi.json",
        uri.path()
    ))
}

/// The answer for a method that a path of the API does not accept.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not accept {method}; the list is at /api/v1/openapi.json",
            uri.path()
        ),
    )
}
