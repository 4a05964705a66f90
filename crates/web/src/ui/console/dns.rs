//! SVC-1 in the console: the DNS report of a service. Each record the domain needs, what DNS
//! answers for it now, whether it is in place and, when not, what to change at the DNS host.
//! The comparison is core's (`Admin::check_service_dns`, as `GET /services/{domain}/dns`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use postwerk_core::records::RecordCheck;

use super::forms::segment;
use crate::ApiState;
use crate::ui::page::{self, Layout, PageError, PageUser};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/manager/services/{domain}/dns", get(dns_page))
}

/// One line of the report.
struct RecordLine {
    name: String,
    kind: &'static str,
    value: String,
    purpose: &'static str,
    zone_line: String,
    found: Vec<String>,
    /// `ok`, `bad` or `unknown` (the lookup failed), for the style and the tests.
    status: &'static str,
    status_words: &'static str,
    fix: String,
}

impl From<RecordCheck> for RecordLine {
    fn from(check: RecordCheck) -> RecordLine {
        let expected = &check.expected;
        let (status, status_words, fix) = if check.in_place {
            ("ok", "In place", "Nothing to do.".to_owned())
        } else if let Some(error) = &check.lookup_error {
            (
                "unknown",
                "Could not check",
                format!(
                    "The DNS lookup failed ({error}), so this record may be fine. Check again in \
                     a few minutes."
                ),
            )
        } else if check.found.is_empty() {
            (
                "bad",
                "Missing",
                format!(
                    "Add a {} record named {} with the value shown, at the company that hosts \
                     your domain's DNS.",
                    expected.kind, expected.name
                ),
            )
        } else {
            (
                "bad",
                "Different",
                format!(
                    "Change the {} record named {} to the value shown: what DNS answers now \
                     does not match.",
                    expected.kind, expected.name
                ),
            )
        };
        RecordLine {
            name: expected.name.clone(),
            kind: expected.kind,
            value: expected.value.clone(),
            purpose: expected.purpose,
            zone_line: expected.zone_line(),
            found: check.found,
            status,
            status_words,
            fix,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "console/dns.html")]
struct DnsPage {
    layout: Layout,
    domain: String,
    base: String,
    records: Vec<RecordLine>,
    missing: usize,
}

/// `/manager/services/{domain}/dns`.
async fn dns_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
) -> Result<Response, PageError> {
    let checks = state
        .admin
        .check_service_dns(
            me.caller.actor,
            &domain,
            &state.hostname,
            state.resolver.as_ref(),
        )
        .await?;
    let records: Vec<RecordLine> = checks.into_iter().map(RecordLine::from).collect();
    let missing = records.iter().filter(|r| r.status != "ok").count();
    Ok(page::render(&DnsPage {
        layout: me.layout(format!("DNS report of {domain}"), "manager"),
        base: format!("/manager/services/{}", segment(&domain)),
        domain,
        records,
        missing,
    }))
}
