//! Getting back in (ID-8, ID-9, ID-10): a forgotten password, a forgotten login, and the
//! identity-verification requests administrators handle when neither works.
//!
//! The endpoints a locked-out person uses need no authentication and never say whether an
//! account exists: a login that exists, one that does not and one without the chosen channel
//! get the same answer, word for word. Only a locked-out client address (too many failures)
//! gets another one, 429.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_core::VerificationInput;
use postwerk_store::VerificationRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ApiState;
use crate::auth::{Authenticated, ClientInfo};
use crate::dto::ChannelName;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(start_password_reset))
        .routes(routes!(finish_password_reset))
        .routes(routes!(remind_login))
        .routes(routes!(request_verification))
        .routes(routes!(list_verification_requests))
        .routes(routes!(close_verification_request))
}

/// ID-8, step 1: where to send a reset code.
#[derive(Deserialize, ToSchema)]
pub struct StartResetBody {
    /// The account's login, or the recovery username it was sent (ID-10).
    #[schema(example = "jane@example.net")]
    login: String,
    /// Where the code goes: the account's recovery email or its phone.
    channel: ChannelName,
}

/// An answer that says what happens without saying whether an account exists.
#[derive(Serialize, ToSchema)]
pub struct AcceptedView {
    /// What the person should expect.
    message: String,
}

/// ID-8, step 2: the code received and the new password. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct FinishResetBody {
    /// The login the code was asked for.
    login: String,
    /// The code received.
    #[schema(example = "12345678")]
    code: String,
    /// The new password; absent: one is generated and answered once.
    new_password: Option<String>,
}

/// A finished reset.
#[derive(Serialize, ToSchema)]
pub struct ResetView {
    /// The generated password, when none was given: shown this once only.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
}

/// ID-9: what a person remembers when the login is forgotten.
#[derive(Deserialize, ToSchema)]
pub struct RemindLoginBody {
    /// The account's mobile phone number.
    #[schema(example = "+33 6 12 34 56 78")]
    phone: String,
    /// The account's recovery email; needed when several accounts share the phone number.
    recovery_email: Option<String>,
    /// Where the login goes: by SMS to the phone, or to the recovery email.
    channel: ChannelName,
}

/// ID-8, ID-9: a request for an administrator to identify the person.
#[derive(Deserialize, ToSchema)]
pub struct VerificationBody {
    /// The login they remember.
    login: Option<String>,
    /// Their phone number.
    phone: Option<String>,
    /// An address to answer them at.
    email: Option<String>,
    /// Their name.
    name: String,
    /// What they say (at most 2,000 characters).
    message: String,
}

/// A request queued.
#[derive(Serialize, ToSchema)]
pub struct VerificationQueuedView {
    /// Its number, to quote when the administrator answers.
    request: i64,
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenQuery {
    /// Only the requests not closed yet (default `true`).
    open: Option<bool>,
}

/// An identity-verification request, as an administrator sees it.
#[derive(Serialize, ToSchema)]
pub struct VerificationRequestView {
    /// Its number.
    id: i64,
    /// The login they gave.
    login: Option<String>,
    /// The phone number they gave.
    phone: Option<String>,
    /// The address to answer them at.
    email: Option<String>,
    /// Their name.
    name: String,
    /// What they said.
    message: String,
    /// The login of the account the details point at, when exactly one does.
    account: Option<String>,
    /// Unix seconds.
    created_at: i64,
    /// When it was closed; `null` while open.
    closed_at: Option<i64>,
    /// The administrator's note.
    resolution: Option<String>,
}

/// How a request was handled.
#[derive(Deserialize, ToSchema)]
pub struct CloseBody {
    /// A note on what was done (kept with the request and in the audit log).
    #[schema(example = "identity checked by phone; password reset link sent")]
    resolution: String,
}

/// ID-8: sends a reset code to the account's recovery email or phone, if the login is an
/// account's and it has that channel. The answer is the same in every case.
#[utoipa::path(
    post,
    path = "/api/v1/recovery/password",
    tag = "recovery",
    security(()),
    request_body = StartResetBody,
    responses(
        (status = 202, description = "A code was sent if the account has that channel", body = AcceptedView),
        (status = 429, description = "`throttled`: too many failures from this address", body = ErrorBody),
    )
)]
async fn start_password_reset(
    State(state): State<ApiState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<StartResetBody>,
) -> Result<(StatusCode, Json<AcceptedView>), ApiError> {
    state
        .recovery
        .start_password_reset(&body.login, body.channel.into(), client.ip)
        .await??;
    Ok(accepted(format!(
        "If an account with this login has a recovery {}, a code was sent to it.",
        body.channel.in_words()
    )))
}

/// ID-8: sets a new account password with the code received. Every session of the account
/// ends; a unified mailbox follows (ID-5).
#[utoipa::path(
    post,
    path = "/api/v1/recovery/password/reset",
    tag = "recovery",
    security(()),
    request_body = FinishResetBody,
    responses(
        (status = 200, description = "The password is changed; a generated one is shown this once", body = ResetView),
        (status = 400, description = "`invalid_code`: wrong, expired or used (the same for an unknown login); or a weak password", body = ErrorBody),
        (status = 429, description = "`throttled`: too many failures from this address", body = ErrorBody),
    )
)]
async fn finish_password_reset(
    State(state): State<ApiState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<FinishResetBody>,
) -> Result<Json<ResetView>, ApiError> {
    let generated = state
        .recovery
        .finish_password_reset(
            &body.login,
            &body.code,
            body.new_password.as_deref(),
            client.ip,
        )
        .await??;
    Ok(Json(ResetView {
        generated_password: generated.map(|password| password.as_str().to_owned()),
    }))
}

/// ID-9: sends the login of the account with this phone number (and this recovery email,
/// when several share the number) by the channel chosen. The answer is the same in every case.
#[utoipa::path(
    post,
    path = "/api/v1/recovery/login",
    tag = "recovery",
    security(()),
    request_body = RemindLoginBody,
    responses(
        (status = 202, description = "The login was sent if one account matched", body = AcceptedView),
        (status = 429, description = "`throttled`: too many failures from this address", body = ErrorBody),
    )
)]
async fn remind_login(
    State(state): State<ApiState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RemindLoginBody>,
) -> Result<(StatusCode, Json<AcceptedView>), ApiError> {
    state
        .recovery
        .remind_login(
            &body.phone,
            body.recovery_email.as_deref(),
            body.channel.into(),
            client.ip,
        )
        .await??;
    Ok(accepted(format!(
        "If one account matches these details and has a recovery {}, its login was sent to it; \
         if none arrives, ask for an identity verification.",
        body.channel.in_words()
    )))
}

/// ID-8, ID-9: asks an administrator to identify the person, when no recovery channel works.
#[utoipa::path(
    post,
    path = "/api/v1/recovery/verification",
    tag = "recovery",
    security(()),
    request_body = VerificationBody,
    responses(
        (status = 202, description = "Queued for an administrator", body = VerificationQueuedView),
        (status = 400, description = "No name, no message, or a message over 2,000 characters", body = ErrorBody),
        (status = 429, description = "`throttled`: too many requests from this address this hour", body = ErrorBody),
    )
)]
async fn request_verification(
    State(state): State<ApiState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<VerificationBody>,
) -> Result<(StatusCode, Json<VerificationQueuedView>), ApiError> {
    let input = VerificationInput {
        login: body.login,
        phone: body.phone,
        email: body.email,
        name: body.name,
        message: body.message,
    };
    let request = state
        .recovery
        .request_verification(input, client.ip)
        .await??;
    Ok((
        StatusCode::ACCEPTED,
        Json(VerificationQueuedView { request }),
    ))
}

/// The identity-verification requests the caller handles, newest first: all of them for the
/// operator; for an administrator, those pointing at a member of an organization they
/// administer.
#[utoipa::path(
    get,
    path = "/api/v1/recovery/requests",
    tag = "recovery",
    params(OpenQuery, PageQuery),
    responses(
        (status = 200, description = "The requests", body = Page<VerificationRequestView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
async fn list_verification_requests(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(open): ApiQuery<OpenQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<VerificationRequestView>>, ApiError> {
    let requests = state
        .recovery
        .verification_requests(caller.actor, open.open.unwrap_or(true))
        .await?;
    let mut views = Vec::with_capacity(requests.len());
    for request in requests {
        views.push(request_view(&state, request).await?);
    }
    Ok(Json(page.paginate(views, |view| view)?))
}

/// Closes an identity-verification request with a note on what was done.
#[utoipa::path(
    post,
    path = "/api/v1/recovery/requests/{id}/close",
    tag = "recovery",
    params(("id" = i64, Path, description = "The request's number")),
    request_body = CloseBody,
    responses(
        (status = 204, description = "Closed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "A request the caller does not handle", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Already closed", body = ErrorBody),
    )
)]
async fn close_verification_request(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<StatusCode, ApiError> {
    state
        .recovery
        .close_verification_request(caller.actor, id, &body.resolution)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn accepted(message: String) -> (StatusCode, Json<AcceptedView>) {
    (StatusCode::ACCEPTED, Json(AcceptedView { message }))
}

/// A request with the login of the account it points at (an account deleted since shows none).
async fn request_view(
    state: &ApiState,
    request: VerificationRequest,
) -> Result<VerificationRequestView, ApiError> {
    let account = match request.user {
        Some(id) => state
            .directory
            .user(id)
            .await?
            .map(|user| user.login.to_string()),
        None => None,
    };
    Ok(VerificationRequestView {
        id: request.id,
        login: request.login,
        phone: request.phone,
        email: request.email,
        name: request.name,
        message: request.message,
        account,
        created_at: request.created_at,
        closed_at: request.closed_at,
        resolution: request.resolution,
    })
}
