//! ID-11: the audit log: every login attempt on every protocol and every security-relevant
//! change. An account reads its own entries and those of the organizations it administers;
//! the operator reads everything.
//!
//! Unlike the other lists, this one pages by entry id, not by page number: the log grows while
//! it is read, and a page number would then shift under the reader. Ask for the next (older)
//! page with `before` set to the answer's `next_before`.

use axum::Json;
use axum::extract::State;
use postwerk_core::AuditQuery;
use postwerk_store::{AuditCategory, AuditEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default().routes(routes!(list_entries))
}

/// Entries per answer when the request does not say.
const DEFAULT_LIMIT: u32 = 100;

/// The most entries one answer may hold.
const MAX_LIMIT: u32 = 1000;

/// Logins or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CategoryName {
    /// A login attempt, successful or not.
    Login,
    /// A security-relevant change.
    Change,
}

impl From<CategoryName> for AuditCategory {
    fn from(category: CategoryName) -> AuditCategory {
        match category {
            CategoryName::Login => AuditCategory::Login,
            CategoryName::Change => AuditCategory::Change,
        }
    }
}

impl From<AuditCategory> for CategoryName {
    fn from(category: AuditCategory) -> CategoryName {
        match category {
            AuditCategory::Login => CategoryName::Login,
            AuditCategory::Change => CategoryName::Change,
        }
    }
}

/// Which entries to read; every filter is optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only the entries of this account (its login).
    user: Option<String>,
    /// Only the entries of this mailbox.
    address: Option<String>,
    /// Only the entries of this organization (its name).
    org: Option<String>,
    /// Only logins or only changes.
    category: Option<CategoryName>,
    /// Only entries older than this id: the `next_before` of the previous answer.
    before: Option<i64>,
    /// At most this many entries, 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// One audit entry. Never holds a password, a code or message content.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Its id, increasing with time.
    id: i64,
    /// Unix seconds.
    at: i64,
    /// Login or change.
    category: CategoryName,
    /// `manager`, `webmail`, `api`, `imap`, `pop3`, `smtp`, `tester`, `cli` or `recovery`.
    #[schema(example = "imap")]
    protocol: String,
    /// The result of a login (`success`, `wrong_password`, `unknown`, `disabled`, `throttled`,
    /// `totp_required`, `totp_invalid`), or the name of a change (`account_password_changed`…).
    #[schema(example = "success")]
    event: String,
    /// The client's address, when there was a client.
    remote_ip: Option<String>,
    /// The login or address presented or concerned.
    subject: String,
    /// Who made a change (`operator` or an account's login); `null` for logins.
    actor: Option<String>,
    /// More words.
    detail: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(stored: AuditEntry) -> AuditEntryView {
        let entry = stored.entry;
        AuditEntryView {
            id: stored.id,
            at: entry.at,
            category: entry.category.into(),
            protocol: entry.protocol,
            event: entry.event,
            remote_ip: entry.remote_ip,
            subject: entry.subject,
            actor: entry.actor,
            detail: entry.detail,
        }
    }
}

/// A slice of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPageView {
    /// The entries, newest first.
    items: Vec<AuditEntryView>,
    /// Give this as `before` for the next, older entries; `null` when there are none.
    next_before: Option<i64>,
}

/// ID-11: the audit log the caller may read, newest first, paged by id (`before`).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "The entries", body = AuditPageView),
        (status = 400, description = "A limit out of range, or an invalid filter", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Entries of an account, mailbox or organization the caller may not read", body = ErrorBody),
        (status = 404, description = "The account, mailbox or organization named does not exist", body = ErrorBody),
    )
)]
async fn list_entries(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPageView>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let query = AuditQuery {
        user: params.user,
        address: params.address,
        org: params.org,
        category: params.category.map(AuditCategory::from),
        before: params.before,
        limit: Some(limit),
    };
    let entries = state
        .audit
        .entries(state.directory.as_ref(), caller.actor, query)
        .await?;
    // A full slice may have older entries behind it; a short one is the end of the log.
    let next_before = if entries.len() == limit as usize {
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    Ok(Json(AuditPageView {
        items: entries.into_iter().map(AuditEntryView::from).collect(),
        next_before,
    }))
}
