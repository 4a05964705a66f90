//! ID-11 in the console: the audit log the account may read (its own entries and those of
//! the organizations it administers; `Audit::entries` decides), newest first, with filters,
//! paged by entry id as the REST endpoint does (a page number would shift while the log grows).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use postwerk_core::AuditQuery;
use postwerk_store::AuditCategory;
use serde::Deserialize;

use crate::ApiState;
use crate::ui::format::date_time;
use crate::ui::page::{self, Layout, PageError, PageUser, percent_encode};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/manager/audit", get(audit_page))
}

/// Entries per page.
const PAGE_SIZE: u32 = 50;

/// The filters: `?user=&address=&org=&category=&before=`.
#[derive(Debug, Default, Deserialize)]
struct AuditFilters {
    #[serde(default)]
    user: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    org: String,
    /// `login`, `change` or empty.
    #[serde(default)]
    category: String,
    before: Option<i64>,
}

/// One line of the log.
struct EntryRow {
    at: String,
    category: &'static str,
    protocol: String,
    event: String,
    subject: String,
    actor: String,
    remote_ip: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    layout: Layout,
    user: String,
    address: String,
    org: String,
    category: String,
    entries: Vec<EntryRow>,
    older: Option<String>,
    paged: bool,
}

fn some(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `/manager/audit`.
async fn audit_page(
    State(state): State<ApiState>,
    me: PageUser,
    Query(filters): Query<AuditFilters>,
) -> Result<Response, PageError> {
    let category = match filters.category.as_str() {
        "login" => Some(AuditCategory::Login),
        "change" => Some(AuditCategory::Change),
        _ => None,
    };
    let query = AuditQuery {
        user: some(&filters.user),
        address: some(&filters.address),
        org: some(&filters.org),
        category,
        before: filters.before,
        limit: Some(PAGE_SIZE),
    };
    let entries = state
        .audit
        .entries(state.directory.as_ref(), me.caller.actor, query)
        .await?;
    // A full page may have older entries behind it; a short one is the end of the log.
    let older = (entries.len() == PAGE_SIZE as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|before| {
            let mut link = format!("/manager/audit?before={before}");
            for (name, value) in [
                ("user", &filters.user),
                ("address", &filters.address),
                ("org", &filters.org),
                ("category", &filters.category),
            ] {
                if !value.trim().is_empty() {
                    link.push_str(&format!("&{name}={}", percent_encode(value.trim())));
                }
            }
            link
        });
    let entries = entries
        .into_iter()
        .map(|stored| {
            let entry = stored.entry;
            EntryRow {
                at: date_time(entry.at),
                category: match entry.category {
                    AuditCategory::Login => "Login",
                    AuditCategory::Change => "Change",
                },
                protocol: entry.protocol,
                event: entry.event.replace('_', " "),
                subject: entry.subject,
                actor: entry.actor.unwrap_or_default(),
                remote_ip: entry.remote_ip.unwrap_or_default(),
                detail: entry.detail,
            }
        })
        .collect();
    Ok(page::render(&AuditPage {
        layout: me.layout("Audit log", "manager"),
        user: filters.user,
        address: filters.address,
        org: filters.org,
        category: filters.category,
        paged: filters.before.is_some(),
        entries,
        older,
    }))
}
