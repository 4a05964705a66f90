//! The documents that let mail clients configure an account by themselves (CLI-3, issue 11
//! item 5): Thunderbird's autoconfig file, Outlook's POX Autodiscover and an Apple
//! configuration profile. They are not part of the REST API (no `/api/v1`, no OpenAPI entry,
//! no authentication: clients ask before they have any credential), so they are plain axum
//! routes merged beside it.
//!
//! Every document recommends the same settings, SPEC CLI-3: IMAP on 993 and submission on
//! 465, both with implicit TLS (RFC 8314 §3.3), the full address as the username. Each
//! answers only for domains hosted here (a service's primary or alias domain): a stranger's
//! domain gets 404, so the platform never advertises itself as the server of mail it does not
//! hold.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use postwerk_model::{Address, Domain, MailService};

use crate::ApiState;

mod apple;
mod outlook;
mod thunderbird;

/// IMAP with implicit TLS (RFC 8314 §3.3), the port `records.rs` publishes in `_imaps._tcp`.
const IMAPS_PORT: u16 = 993;

/// POP3 with implicit TLS (RFC 8314 §3.3), as `_pop3s._tcp` publishes.
const POP3S_PORT: u16 = 995;

/// Message submission with implicit TLS (RFC 8314 §3.3), as `_submissions._tcp` publishes.
const SUBMISSIONS_PORT: u16 = 465;

/// The largest Autodiscover request read: a real one is a few hundred octets.
pub const AUTODISCOVER_BODY_LIMIT: usize = 64 * 1024;

/// The autoconfiguration routes, to be merged beside the API's.
pub fn router(state: ApiState) -> Router {
    Router::new()
        // Thunderbird asks `https://<domain>/.well-known/autoconfig/…` and
        // `https://autoconfig.<domain>/mail/…` (Mozilla's autoconfig lookup order).
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(thunderbird::config),
        )
        .route("/mail/config-v1.1.xml", get(thunderbird::config))
        // Outlook builds the path from the domain in either case.
        .route(
            "/autodiscover/autodiscover.xml",
            post(outlook::autodiscover),
        )
        .route(
            "/Autodiscover/Autodiscover.xml",
            post(outlook::autodiscover),
        )
        .route("/mobileconfig", get(apple::profile))
        .layer(DefaultBodyLimit::max(AUTODISCOVER_BODY_LIMIT))
        .with_state(state)
}

/// A domain served here, and the service serving it.
struct Hosted {
    service: MailService,
}

impl Hosted {
    /// The service serving `domain` as its primary or an alias domain, `None` for a domain
    /// that is not ours.
    async fn find(state: &ApiState, domain: &Domain) -> Result<Option<Hosted>, Unavailable> {
        match state.directory.service_by_domain(domain).await {
            Ok(service) => Ok(service.map(|service| Hosted { service })),
            Err(error) => {
                tracing::warn!(%error, "autoconfiguration: directory lookup failed");
                Err(Unavailable)
            }
        }
    }

    /// Whether `domain` is the service's primary domain (not an alias domain).
    fn is_primary(&self, domain: &Domain) -> bool {
        self.service.domain == *domain
    }

    /// The login of `address` on the mail protocols. ID-2 mailbox logins are full addresses
    /// at the primary domain; an alias domain (SVC-3) maps the same local parts onto it, so
    /// `bob@alias.test` logs in as `bob@primary.test`.
    fn login(&self, address: &Address) -> String {
        format!("{}@{}", address.local(), self.service.domain)
    }
}

/// The directory did not answer; the client should try again later.
struct Unavailable;

/// A plain-text answer for the documents that have no error format of their own.
fn plain(status: StatusCode, sentence: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{sentence}\n"),
    )
        .into_response()
}

/// The answer when the directory cannot be read.
fn unavailable() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "The mail directory cannot be read right now; try again in a minute.".into(),
    )
}

/// The answer for a domain that is not hosted here.
fn not_hosted(domain: &Domain) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        format!("{domain} is not a mail domain of this platform, so there are no settings for it."),
    )
}

/// `text` with the five XML special characters escaped: every value taken from a request
/// goes through here before it is written into a document.
fn xml_escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}
