//! RCV-4: a mailbox's sender allow list (whitelist) and block list (blacklist).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postwerk_model::{ListKind, SenderRule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(list_rules, add_rule))
        .routes(routes!(remove_rule))
}

/// Which list a rule is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListName {
    /// Whitelist: never treated as spam.
    Allow,
    /// Blacklist: always kept out.
    Block,
}

impl From<ListKind> for ListName {
    fn from(kind: ListKind) -> ListName {
        match kind {
            ListKind::Allow => ListName::Allow,
            ListKind::Block => ListName::Block,
        }
    }
}

impl From<ListName> for ListKind {
    fn from(kind: ListName) -> ListKind {
        match kind {
            ListName::Allow => ListKind::Allow,
            ListName::Block => ListKind::Block,
        }
    }
}

/// One sender rule.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SenderRuleView {
    /// Allow or block.
    kind: ListName,
    /// `user@example.com` for one sender, `@example.com` (or `example.com`) for a domain and
    /// its subdomains.
    #[schema(example = "@example.com")]
    pattern: String,
}

impl From<SenderRule> for SenderRuleView {
    fn from(rule: SenderRule) -> SenderRuleView {
        SenderRuleView {
            kind: rule.kind.into(),
            pattern: rule.pattern.to_string(),
        }
    }
}

/// The mailbox's rules, allow rules first.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{address}/sender-rules",
    tag = "sender rules",
    params(("address" = String, Path, description = "The mailbox's full address"), PageQuery),
    responses(
        (status = 200, description = "The rules", body = Page<SenderRuleView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Neither an administrator nor a user allowed to manage filters", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn list_rules(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<SenderRuleView>>, ApiError> {
    let rules = state.admin.sender_rules(caller.actor, &address).await?;
    Ok(Json(page.paginate(rules, SenderRuleView::from)?))
}

/// Adds a pattern to the allow or block list; a pattern already listed changes list.
#[utoipa::path(
    post,
    path = "/api/v1/addresses/{address}/sender-rules",
    tag = "sender rules",
    params(("address" = String, Path, description = "The mailbox's full address")),
    request_body = SenderRuleView,
    responses(
        (status = 201, description = "Listed", body = SenderRuleView),
        (status = 400, description = "A pattern that is neither an address nor a domain", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Neither an administrator nor a user allowed to manage filters", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
async fn add_rule(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(address): ApiPath<String>,
    ApiJson(body): ApiJson<SenderRuleView>,
) -> Result<(StatusCode, Json<SenderRuleView>), ApiError> {
    let rule = state
        .admin
        .add_sender_rule(caller.actor, &address, body.kind.into(), &body.pattern)
        .await?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// Removes a pattern from the mailbox's lists.
#[utoipa::path(
    delete,
    path = "/api/v1/addresses/{address}/sender-rules/{pattern}",
    tag = "sender rules",
    params(
        ("address" = String, Path, description = "The mailbox's full address"),
        ("pattern" = String, Path, description = "The pattern, as listed (URL-encoded)"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Neither an administrator nor a user allowed to manage filters", body = ErrorBody),
        (status = 404, description = "No such address or rule", body = ErrorBody),
    )
)]
async fn remove_rule(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((address, pattern)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .admin
        .remove_sender_rule(caller.actor, &address, &pattern)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
