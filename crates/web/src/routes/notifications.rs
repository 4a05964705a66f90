//! ID-12: what the notifier sent. The default SMS gateway writes each message to an outbox
//! instead of a phone; the operator reads it here (and with `postwerk admin notifications
//! list`).

use axum::Json;
use axum::extract::State;
use postwerk_store::OutboxSms;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default().routes(routes!(sms_outbox))
}

/// Messages per answer when the request does not say.
const DEFAULT_LIMIT: u32 = 50;

/// The most messages one answer may hold.
const MAX_LIMIT: u32 = 500;

/// How many messages to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// At most this many, newest first, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// An SMS the outbox gateway kept.
#[derive(Serialize, ToSchema)]
pub struct SmsView {
    /// Its id.
    id: i64,
    /// The phone number, as the account has it.
    phone: String,
    /// The text.
    body: String,
    /// Unix seconds.
    created_at: i64,
}

impl From<OutboxSms> for SmsView {
    fn from(sms: OutboxSms) -> SmsView {
        SmsView {
            id: sms.id,
            phone: sms.phone,
            body: sms.body,
            created_at: sms.created_at,
        }
    }
}

/// ID-12: the newest SMS of the outbox gateway. The operator only.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/sms",
    tag = "notifications",
    params(OutboxParams),
    responses(
        (status = 200, description = "The messages, newest first", body = Vec<SmsView>),
        (status = 400, description = "A limit out of range", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not the operator", body = ErrorBody),
    )
)]
async fn sms_outbox(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(params): ApiQuery<OutboxParams>,
) -> Result<Json<Vec<SmsView>>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let messages = state.recovery.sms_outbox(caller.actor, limit).await?;
    Ok(Json(messages.into_iter().map(SmsView::from).collect()))
}
