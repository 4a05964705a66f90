//! ID-7: the credential tester. Tests an address and a mailbox password exactly as an email
//! client's IMAP login would, and says which of the four outcomes it is. Failures count
//! against the caller's address like failed logins, so the tester is no faster a guesser than
//! IMAP itself.

use axum::Json;
use axum::extract::State;
use postwerk_core::CredentialTest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ApiState;
use crate::auth::{Authenticated, ClientInfo};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default().routes(routes!(test_credentials))
}

/// The pair an email client would log in with. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct CredentialsBody {
    /// The full address, as the client's username.
    #[schema(example = "toto@example.com")]
    address: String,
    /// The mailbox password (not an account's: ID-3).
    password: String,
}

/// What an email client would get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialResult {
    /// The client would log in.
    Valid,
    /// The address takes logins; this is not its password.
    WrongPassword,
    /// No hosted address that takes logins has this name.
    UnknownAddress,
    /// The password is right, but the address is disabled.
    Disabled,
}

/// The tester's answer.
#[derive(Serialize, ToSchema)]
pub struct CredentialTestView {
    /// What an email client would get.
    result: CredentialResult,
}

/// ID-7: tests an address/password pair as an email client would log in (IMAP, POP3, SMTP
/// AUTH). Any authenticated caller; rate limited like a login. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/api/v1/credentials/test",
    tag = "credentials",
    request_body = CredentialsBody,
    responses(
        (status = 200, description = "The outcome", body = CredentialTestView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 429, description = "`throttled`: too many failures from this address", body = ErrorBody),
    )
)]
async fn test_credentials(
    State(state): State<ApiState>,
    Authenticated(_caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<Json<CredentialTestView>, ApiError> {
    let outcome = state
        .mailbox_auth
        .test_credentials(client.ip, &body.address, &body.password)
        .await?;
    let result = match outcome {
        CredentialTest::Valid => CredentialResult::Valid,
        CredentialTest::WrongPassword => CredentialResult::WrongPassword,
        CredentialTest::UnknownAddress => CredentialResult::UnknownAddress,
        CredentialTest::Disabled => CredentialResult::Disabled,
        CredentialTest::Throttled => {
            return Err(ApiError::throttled(
                "too many failed tests from your address; wait a few minutes and try again",
            ));
        }
    };
    Ok(Json(CredentialTestView { result }))
}
