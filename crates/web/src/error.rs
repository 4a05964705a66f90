//! The API's one error answer: `{"error": {"code": "...", "message": "..."}}` with the HTTP status
//! that goes with it. Every refusal of `core` (and of the store and model rules behind it) is
//! sorted into a status and a code here, and nowhere else.
//!
//! Refusals carry the sentence `core` wrote for a person. Failures that are ours (the database,
//! a DKIM key that cannot be generated) are logged with their detail and answered with a generic
//! sentence: the detail may name files or internals the caller has no business seeing.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use postwerk_core::password::PasswordError;
use postwerk_core::{CoreError, ResetRefusal};
use postwerk_model::{AddressError, DirectoryError};
use postwerk_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `not_found`, `invalid`, `forbidden`, `conflict`,
    /// `quota_reached`, `alias_limit`, `aliases_disabled`, `unauthenticated`,
    /// `invalid_credentials`, `totp_required`, `totp_invalid`, `throttled`, `invalid_code`,
    /// `must_choose_login`, `csrf`, `too_large`, `unsupported_media_type`, `invalid_lines`,
    /// `method_not_allowed`, `internal`.
    #[schema(example = "not_found")]
    pub code: String,
    /// One sentence a person can act on.
    #[schema(example = "no mail service exists for the domain example.com")]
    pub message: String,
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The sentence answered for failures that are ours; the detail is in the server's log.
const INTERNAL_MESSAGE: &str = "the server failed to complete the request; try again later, and tell the operator if it persists";

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request itself is malformed or contradictory.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// 404: what the request names does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 401: no valid credential came with the request.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 429: too many failures from the client's address; `message` says what was refused.
    pub fn throttled(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
    }

    /// 500: our failure. `detail` goes to the log only, never to the caller.
    pub fn internal(detail: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "the Manager API failed to complete a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            INTERNAL_MESSAGE,
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The sentence for a person.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> ApiError {
        match error {
            CoreError::NotFound(message) => ApiError::not_found(message),
            CoreError::Invalid(message) => ApiError::invalid(message),
            CoreError::Forbidden(message) => ApiError::forbidden(message),
            CoreError::Password(PasswordError::Hashing(detail)) => ApiError::internal(&detail),
            CoreError::Password(refused) => ApiError::invalid(refused.to_string()),
            CoreError::Store(error) => ApiError::from(error),
            CoreError::Dkim(error) => ApiError::internal(&error),
        }
    }
}

impl From<ResetRefusal> for ApiError {
    /// ID-8: one answer for a wrong, expired, used-up or never-sent code and an unknown login,
    /// so the answer never reveals whether an account exists.
    fn from(refusal: ResetRefusal) -> ApiError {
        match refusal {
            ResetRefusal::InvalidCode => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "the code is wrong, expired or already used; ask for a new code",
            ),
            ResetRefusal::Throttled => ApiError::throttled(
                "too many failed attempts from your address; wait a few minutes and try again",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound(message) => ApiError::not_found(message),
            StoreError::Conflict(message) | StoreError::Refused(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            StoreError::Rule(rule) => ApiError::from(rule),
            full @ StoreError::StorageFull { .. } => {
                tracing::error!(error = %full, "the Manager API cannot write");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_full",
                    "The server's storage is full; try again later.",
                )
            }
            failure @ (StoreError::Backend { .. } | StoreError::Io { .. }) => {
                ApiError::internal(&failure)
            }
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(rule: DirectoryError) -> ApiError {
        let message = rule.to_string();
        match rule {
            // SVC-2: the request is fine, the service is full; raising the quota fixes it.
            DirectoryError::AddressQuotaReached { .. } => {
                ApiError::new(StatusCode::CONFLICT, "quota_reached", message)
            }
            // ADDR-6: the 51st alias.
            DirectoryError::AliasLimitReached => {
                ApiError::new(StatusCode::CONFLICT, "alias_limit", message)
            }
            // ADDR-6: the service's plan has aliases switched off.
            DirectoryError::AliasesNotAllowed => {
                ApiError::new(StatusCode::CONFLICT, "aliases_disabled", message)
            }
            // SVC-2: the state of the service forbids it, not the request's form.
            DirectoryError::QuotaBelowUsage { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            _ => ApiError::invalid(message),
        }
    }
}

impl From<AddressError> for ApiError {
    fn from(error: AddressError) -> ApiError {
        ApiError::invalid(error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

/// axum's own refusals of a request's form (bad JSON, a body over the limit, a wrong
/// `Content-Type`), in the API's error shape. Their texts say what is wrong with the input.
fn from_rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "too_large",
            "the request body is larger than this endpoint accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "send the request body as JSON with the header Content-Type: application/json",
        ),
        status if status.is_server_error() => ApiError::internal(&text),
        _ => ApiError::invalid(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postwerk_model::Domain;

    #[test]
    fn svc_2_quota_reached_is_a_conflict_with_its_own_code() {
        let domain = Domain::parse("example.com").ok();
        let error = ApiError::from(CoreError::from(DirectoryError::AddressQuotaReached {
            domain,
            quota: 3,
        }));
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.code(), "quota_reached");
        assert!(
            error.message().contains("quota of 3"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn addr_6_the_51st_alias_is_a_conflict_with_its_own_code() {
        let error = ApiError::from(CoreError::from(DirectoryError::AliasLimitReached));
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.code(), "alias_limit");
    }

    #[test]
    fn refusals_keep_the_sentence_of_core() {
        let cases = [
            (
                CoreError::NotFound("the organization \"x\" does not exist".into()),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                CoreError::Invalid("bad".into()),
                StatusCode::BAD_REQUEST,
                "invalid",
            ),
            (
                CoreError::Forbidden("only an owner".into()),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            (
                CoreError::Store(StoreError::Conflict(
                    "the address a@b.c already exists".into(),
                )),
                StatusCode::CONFLICT,
                "conflict",
            ),
            (
                CoreError::Password(PasswordError::TooShort),
                StatusCode::BAD_REQUEST,
                "invalid",
            ),
        ];
        for (error, status, code) in cases {
            let sentence = error.to_string();
            let answer = ApiError::from(error);
            assert_eq!(
                (answer.status(), answer.code()),
                (status, code),
                "{sentence}"
            );
            assert_eq!(answer.message(), sentence);
        }
    }

    #[test]
    fn id_8_reset_refusals_have_their_own_codes() {
        let wrong = ApiError::from(ResetRefusal::InvalidCode);
        assert_eq!(
            (wrong.status(), wrong.code()),
            (StatusCode::BAD_REQUEST, "invalid_code")
        );
        let throttled = ApiError::from(ResetRefusal::Throttled);
        assert_eq!(
            (throttled.status(), throttled.code()),
            (StatusCode::TOO_MANY_REQUESTS, "throttled")
        );
    }

    #[test]
    fn our_failures_hide_their_detail() {
        let error = ApiError::from(CoreError::Store(StoreError::Backend {
            context: "reading the directory",
            detail: "database disk image is malformed at /srv/data/postwerk.db".into(),
        }));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.code(), "internal");
        assert!(!error.message().contains("/srv"), "{}", error.message());
    }
}
