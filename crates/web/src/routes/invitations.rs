//! ADDR-1 (b'): invitations. The acceptance link's page asks `GET /api/v1/invitations/{secret}`
//! what is offered and posts the person's choice to `…/accept`; both are public (the secret in
//! the link is the credential). Administrators send a new invitation for an existing address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_core::{AcceptInvitation, InvitationDetails};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::dto::{InvitationRequestBody, InvitationSentView, LoginModeName, UserView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(show_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(invite))
}

/// What an invitation offers.
#[derive(Serialize, ToSchema)]
pub struct InvitationDetailsView {
    /// The address offered.
    address: String,
    /// The organization offering it.
    organization: String,
    /// How the new account will log in: `exact_address` (with `address`) or `own_choice`.
    login_mode: LoginModeName,
    /// Unix seconds after which the link no longer works.
    expires_at: i64,
}

impl From<InvitationDetails> for InvitationDetailsView {
    fn from(details: InvitationDetails) -> InvitationDetailsView {
        InvitationDetailsView {
            address: details.address.to_string(),
            organization: details.organization,
            login_mode: details.login_mode.into(),
            expires_at: details.expires_at,
        }
    }
}

/// What the invited person chooses.
#[derive(Deserialize, ToSchema)]
pub struct AcceptBody {
    /// The new account's login: required with `own_choice`; absent (or the address itself)
    /// with `exact_address`.
    login: Option<String>,
    /// The account's password; with `exact_address` it becomes the mailbox password too.
    password: String,
    /// The person's name.
    display_name: String,
}

/// The account an accepted invitation created.
#[derive(Serialize, ToSchema)]
pub struct AcceptedView {
    /// The new account, which can now sign in.
    user: UserView,
}

/// What the invitation with this link secret offers.
#[utoipa::path(
    get,
    path = "/api/v1/invitations/{secret}",
    tag = "invitations",
    security(()),
    params(("secret" = String, Path, description = "The secret from the invitation's link")),
    responses(
        (status = 200, description = "The offer", body = InvitationDetailsView),
        (status = 404, description = "Unknown, used or expired", body = ErrorBody),
    )
)]
async fn show_invitation(
    State(state): State<ApiState>,
    ApiPath(secret): ApiPath<String>,
) -> Result<Json<InvitationDetailsView>, ApiError> {
    let secret = Zeroizing::new(secret);
    let details = state.admin.invitation(&secret).await?;
    Ok(Json(details.into()))
}

/// Accepts an invitation: creates the person's account with the chosen login mode and links
/// it to the address. The link cannot be used again.
#[utoipa::path(
    post,
    path = "/api/v1/invitations/{secret}/accept",
    tag = "invitations",
    security(()),
    params(("secret" = String, Path, description = "The secret from the invitation's link")),
    request_body = AcceptBody,
    responses(
        (status = 201, description = "The account was created", body = AcceptedView),
        (status = 400, description = "A missing or invalid login, or a weak password", body = ErrorBody),
        (status = 404, description = "Unknown, used or expired", body = ErrorBody),
        (status = 409, description = "The login is taken, or the invitation was used meanwhile", body = ErrorBody),
    )
)]
async fn accept_invitation(
    State(state): State<ApiState>,
    ApiPath(secret): ApiPath<String>,
    ApiJson(mut body): ApiJson<AcceptBody>,
) -> Result<(StatusCode, Json<AcceptedView>), ApiError> {
    let secret = Zeroizing::new(secret);
    let acceptance = AcceptInvitation {
        login: body.login,
        // Moved, not copied, so the only copy is wiped when core drops it.
        password: Zeroizing::new(std::mem::take(&mut body.password)),
        display_name: body.display_name,
    };
    let user = state.admin.accept_invitation(&secret, acceptance).await?;
    Ok((
        StatusCode::CREATED,
        Json(AcceptedView {
            user: UserView::from(&user),
        }),
    ))
}

/// Sends a new invitation for an existing address (a lost or expired one).
#[utoipa::path(
    post,
    path = "/api/v1/addresses/{address}/invitations",
    tag = "invitations",
    params(("address" = String, Path, description = "The full address")),
    request_body = InvitationRequestBody,
    responses(
        (status = 201, description = "Sent", body = InvitationSentView),
        (status = 400, description = "Invalid input, or mail cannot be sent from here", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn invite(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiJson(body): ApiJson<InvitationRequestBody>,
) -> Result<(StatusCode, Json<InvitationSentView>), ApiError> {
    let sent = state
        .admin
        .invite(caller.actor, &address, body.into_core()?)
        .await?;
    Ok((StatusCode::CREATED, Json(sent.into())))
}
