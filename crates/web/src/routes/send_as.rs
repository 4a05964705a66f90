//! SND-1 send-as grants: the hosted addresses of its organization a mailbox may send as,
//! besides itself and its aliases ("sales@ may be sent as by anna@ and bob@").
//!
//! Declared inside `addresses` (its routes are merged into the addresses' ones): a grant
//! belongs to the address page of the mailbox that sends.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_model::HostedAddress;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_send_as))
        .routes(routes!(grant_send_as, revoke_send_as))
}

/// The addresses a mailbox may send as besides itself and its aliases.
#[derive(Serialize, ToSchema)]
pub struct SendAsView {
    /// The mailbox that sends.
    #[schema(example = "anna@example.com")]
    mailbox: String,
    /// The addresses it has been granted, by address.
    #[schema(example = json!(["sales@example.com"]))]
    send_as: Vec<String>,
}

impl SendAsView {
    fn new(mailbox: &str, granted: &[HostedAddress]) -> SendAsView {
        SendAsView {
            mailbox: mailbox.to_owned(),
            send_as: addresses_of(granted),
        }
    }
}

/// The addresses of `granted`, as the answers show them.
pub(crate) fn addresses_of(granted: &[HostedAddress]) -> Vec<String> {
    granted.iter().map(|a| a.address.to_string()).collect()
}

/// The addresses a mailbox may send as (SND-1). Administrators, or a user with access to it.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{address}/send-as",
    tag = "addresses",
    params(("address" = String, Path, description = "The mailbox's full address")),
    responses(
        (status = 200, description = "The granted addresses", body = SendAsView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Neither an administrator nor a user of it", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn list_send_as(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<SendAsView>, ApiError> {
    let granted = state.admin.list_send_as(caller.actor, &address).await?;
    Ok(Json(SendAsView::new(&address, &granted)))
}

/// Lets the mailbox send as another address of its organization (SND-1); granting it again
/// changes nothing.
#[utoipa::path(
    put,
    path = "/api/v1/addresses/{address}/send-as/{send_as}",
    tag = "addresses",
    params(
        ("address" = String, Path, description = "The mailbox that sends"),
        ("send_as" = String, Path, description = "The address it may send as"),
    ),
    responses(
        (status = 200, description = "The mailbox's grants as they are now", body = SendAsView),
        (status = 400, description = "Another organization's address, the mailbox itself, or a sender nobody logs into", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn grant_send_as(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((address, send_as)): ApiPath<(String, String)>,
) -> Result<Json<SendAsView>, ApiError> {
    state
        .admin
        .grant_send_as(caller.actor, &address, &send_as)
        .await?;
    let granted = state.admin.list_send_as(caller.actor, &address).await?;
    Ok(Json(SendAsView::new(&address, &granted)))
}

/// Takes the grant back: the mailbox may no longer send as that address.
#[utoipa::path(
    delete,
    path = "/api/v1/addresses/{address}/send-as/{send_as}",
    tag = "addresses",
    params(
        ("address" = String, Path, description = "The mailbox that sends"),
        ("send_as" = String, Path, description = "The address it may no longer send as"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address or grant", body = ErrorBody),
    )
)]
async fn revoke_send_as(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((address, send_as)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .revoke_send_as(caller.actor, &address, &send_as)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
