//! The caller's own account (ID-1, ID-5, ID-10): two-factor authentication, its password, its
//! login and its recovery contact details. Only user accounts have one: the operator's tokens
//! are refused with 403.
//!
//! Secrets (the TOTP secret, recovery codes, a generated password) appear once, in the answer
//! to the request that made them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::ApiState;
use crate::auth::{Authenticated, ClientInfo, own_account};
use crate::dto::{OwnAccountView, UnificationView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(begin_totp, disable_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(renew_recovery_codes))
        .routes(routes!(change_password))
        .routes(routes!(change_login))
        .routes(routes!(set_contact))
}

/// An enrolment just started: what the authenticator app needs, shown this once.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentView {
    /// The RFC 4648 base32 secret, to type in by hand.
    secret: String,
    /// The `otpauth://totp/…` URI to show as a QR code.
    otpauth_uri: String,
}

/// A first code from the authenticator app.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct ConfirmTotpBody {
    /// The app's current 6-digit code.
    #[schema(example = "123456")]
    code: String,
}

/// The account password, to confirm a sensitive change. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct PasswordConfirmationBody {
    /// The account's password (not a mailbox's: ID-3).
    password: String,
}

/// Single-use codes that stand in for the app's code when the phone is lost; shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesView {
    /// Each works once, in place of a TOTP code at sign-in.
    recovery_codes: Vec<String>,
}

/// The account's own password change. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct ChangePasswordBody {
    /// The current account password.
    current_password: String,
    /// The new password; absent: one is generated and answered once.
    new_password: Option<String>,
}

/// The outcome of the account's password change.
#[derive(Serialize, ToSchema)]
pub struct AccountPasswordView {
    /// The generated password, when none was given: shown this once only.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
    /// ID-5: `unified` when the unified mailbox's password changed with it.
    unification: UnificationView,
}

/// A new login for the account. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct ChangeLoginBody {
    /// The new login, an email address.
    #[schema(example = "jane@example.net")]
    login: String,
    /// The account password; not needed right after a sign-in with a recovery username
    /// (ID-10), where choosing a new login is the one thing left to do.
    password: Option<String>,
}

/// The account's recovery contact details (ID-8, ID-9). Both fields must be sent; `null`
/// removes one.
#[derive(Deserialize, ToSchema)]
pub struct ContactBody {
    /// A mobile phone number, 6 to 15 digits (E.164; `+` and spaces allowed), or `null`.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true, example = "+33 6 12 34 56 78")]
    phone: Option<String>,
    /// An email address for recovery codes (usually not a hosted one), or `null`.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true, example = "jane@example.net")]
    recovery_email: Option<String>,
}

/// Texts of secrets shown once, as JSON strings.
fn shown_once(secrets: Vec<Zeroizing<String>>) -> Vec<String> {
    secrets
        .iter()
        .map(|secret| secret.as_str().to_owned())
        .collect()
}

/// ID-1: starts two-factor enrolment. Scan `otpauth_uri` (as a QR code) or type `secret` in
/// an authenticator app, then confirm with `POST /api/v1/me/totp/confirm`.
#[utoipa::path(
    post,
    path = "/api/v1/me/totp",
    tag = "account",
    responses(
        (status = 200, description = "Enrolment started; the secret is shown this once", body = TotpEnrolmentView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
        (status = 409, description = "Two-factor authentication is already on: turn it off first", body = ErrorBody),
    )
)]
async fn begin_totp(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<TotpEnrolmentView>, ApiError> {
    let user = own_account(&caller)?;
    let enrolment = state.identity.begin_totp(user).await?;
    Ok(Json(TotpEnrolmentView {
        secret: enrolment.secret.as_str().to_owned(),
        otpauth_uri: enrolment.otpauth_uri.as_str().to_owned(),
    }))
}

/// ID-1: confirms the enrolment with the app's current code; two-factor authentication is on
/// from now, and the recovery codes are answered this once.
#[utoipa::path(
    post,
    path = "/api/v1/me/totp/confirm",
    tag = "account",
    request_body = ConfirmTotpBody,
    responses(
        (status = 200, description = "Two-factor authentication is on; keep the recovery codes", body = RecoveryCodesView),
        (status = 400, description = "A wrong code, or no enrolment was started", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
    )
)]
async fn confirm_totp(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<ConfirmTotpBody>,
) -> Result<Json<RecoveryCodesView>, ApiError> {
    let user = own_account(&caller)?;
    let codes = state
        .identity
        .confirm_totp(user, &body.code, Some(client.ip))
        .await?;
    Ok(Json(RecoveryCodesView {
        recovery_codes: shown_once(codes),
    }))
}

/// ID-1: turns two-factor authentication off; needs the account password (a JSON body with
/// `DELETE`).
#[utoipa::path(
    delete,
    path = "/api/v1/me/totp",
    tag = "account",
    request_body = PasswordConfirmationBody,
    responses(
        (status = 204, description = "Two-factor authentication is off"),
        (status = 400, description = "The password is wrong", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
    )
)]
async fn disable_totp(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<PasswordConfirmationBody>,
) -> Result<StatusCode, ApiError> {
    let user = own_account(&caller)?;
    state
        .identity
        .disable_totp(user, &body.password, Some(client.ip))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ID-1: new recovery codes replacing the old ones (which stop working); needs the account
/// password.
#[utoipa::path(
    post,
    path = "/api/v1/me/totp/recovery-codes",
    tag = "account",
    request_body = PasswordConfirmationBody,
    responses(
        (status = 200, description = "The new recovery codes, shown this once", body = RecoveryCodesView),
        (status = 400, description = "The password is wrong, or two-factor authentication is off", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
    )
)]
async fn renew_recovery_codes(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<PasswordConfirmationBody>,
) -> Result<Json<RecoveryCodesView>, ApiError> {
    let user = own_account(&caller)?;
    let codes = state
        .identity
        .renew_totp_recovery_codes(user, &body.password, Some(client.ip))
        .await?;
    Ok(Json(RecoveryCodesView {
        recovery_codes: shown_once(codes),
    }))
}

/// ID-1, ID-5, ID-6: changes the account's password. Every other session of the account ends;
/// the one making the request goes on. A mailbox unified with the account gets the same
/// password while the three conditions of ID-5 hold, and `unification` says so.
#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "account",
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Changed; a generated password is shown this once", body = AccountPasswordView),
        (status = 400, description = "The current password is wrong, or the new one is too weak", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
    )
)]
async fn change_password(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<Json<AccountPasswordView>, ApiError> {
    let user = own_account(&caller)?;
    let changed = state
        .identity
        .change_password(
            user,
            &body.current_password,
            body.new_password.as_deref(),
            caller.session,
            Some(client.ip),
        )
        .await?;
    Ok(Json(AccountPasswordView {
        generated_password: changed
            .generated
            .map(|password| password.as_str().to_owned()),
        unification: UnificationView::new(&changed.unification, None),
    }))
}

/// ID-1, ID-10: changes the account's login. Ends a unification (ID-5: the login no longer
/// equals the mailbox). Right after a sign-in with a recovery username, this is the one change
/// allowed, and needs no password.
#[utoipa::path(
    put,
    path = "/api/v1/me/login",
    tag = "account",
    request_body = ChangeLoginBody,
    responses(
        (status = 200, description = "The account with its new login", body = OwnAccountView),
        (status = 400, description = "A wrong password, an invalid or taken login, or a hosted address that does not exist", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
    )
)]
async fn change_login(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<ChangeLoginBody>,
) -> Result<Json<OwnAccountView>, ApiError> {
    let user = own_account(&caller)?;
    let account = state
        .identity
        .change_login(user, &body.login, body.password.as_deref(), Some(client.ip))
        .await?;
    Ok(Json(OwnAccountView::from(&account)))
}

/// ID-8, ID-9: sets the mobile phone number and the recovery email address, where recovery
/// codes and login reminders are sent. Both fields must be given; `null` removes one.
#[utoipa::path(
    put,
    path = "/api/v1/me/contact",
    tag = "account",
    request_body = ContactBody,
    responses(
        (status = 200, description = "The account with its contact details", body = OwnAccountView),
        (status = 400, description = "An invalid phone number or email address, or a field missing", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The operator has no account", body = ErrorBody),
    )
)]
async fn set_contact(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    ApiJson(body): ApiJson<ContactBody>,
) -> Result<Json<OwnAccountView>, ApiError> {
    let user = own_account(&caller)?;
    let account = state
        .identity
        .set_contact(
            user,
            body.phone.as_deref(),
            body.recovery_email.as_deref(),
            Some(client.ip),
        )
        .await?;
    Ok(Json(OwnAccountView::from(&account)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_fields_are_required_but_nullable() {
        let removed: ContactBody =
            serde_json::from_str(r#"{"phone": null, "recovery_email": null}"#).unwrap();
        assert!(removed.phone.is_none() && removed.recovery_email.is_none());
        let set: ContactBody =
            serde_json::from_str(r#"{"phone": "+33 6 12", "recovery_email": null}"#).unwrap();
        assert_eq!(set.phone.as_deref(), Some("+33 6 12"));
        // A forgotten field is refused rather than read as "remove it".
        assert!(serde_json::from_str::<ContactBody>(r#"{"phone": "+33 6 12"}"#).is_err());
    }
}
