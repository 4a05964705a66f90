//! `postwerk-web`: the Manager's REST API under `/api/v1` (SPEC §2, CLI-4, issue 8), with its
//! OpenAPI 3 document generated from the handlers and served at `/api/v1/openapi.json`; and
//! the pages people use (`ui`: sign-in, Manager console, webmail, device setup; issue 11).
//!
//! Handlers only translate: HTTP in, one `core` call, JSON out. Permissions are checked in
//! `core::Admin`, never only here.
//!
//! ```text
//!  request ─► csrf (no Authorization header: tower-http CSRF check)
//!          ─► body limit (1 MiB JSON, 32 MiB CSV)
//!          ─► routes/<resource>.rs handler
//!                 auth::Authenticated ─► core::ManagerAuth (token or session cookie → Caller)
//!                 extract::ApiJson/ApiPath/ApiQuery (malformed input → error.rs shape)
//!                 core::Admin(actor, …) ─► dto.rs views ─► JSON
//!                 CoreError ─► error::ApiError (status + code, in one place)
//! ```
#![forbid(unsafe_code)]

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use postwerk_core::{Admin, Audit, Identity, MailboxAuth, ManagerAuth, Recovery, Webmail};
use postwerk_store::Directory;

mod auth;
mod autoconfig;
mod csrf;
mod dto;
mod error;
mod extract;
mod jobs;
mod pagination;
mod routes;
mod ui;

pub use auth::SESSION_COOKIE;
pub use error::{ApiError, ErrorBody, ErrorDetail};

/// The largest JSON request body accepted.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// The largest CSV file accepted for bulk creation (ADDR-3).
pub const CSV_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The directory use cases.
    pub admin: Admin,
    /// Tokens and sessions.
    pub auth: ManagerAuth,
    /// The platform's host name (DNS reports, autoconfiguration).
    pub hostname: String,
    /// Asked for the DNS report of a service (SVC-1).
    pub resolver: Arc<dyn postwerk_dns::Resolver>,
    /// Whether the session cookie is marked `Secure` (the API is served over HTTPS, directly or
    /// behind a proxy).
    pub secure_cookies: bool,
    /// The account's own settings: 2FA, password, login, contact, unification (SPEC §1).
    pub identity: Identity,
    /// Getting back in: resets, login reminders, verification requests (ID-8 – ID-10).
    pub recovery: Recovery,
    /// The audit log (ID-11).
    pub audit: Audit,
    /// Mailbox logins, for the credential tester (ID-7).
    pub mailbox_auth: Arc<MailboxAuth>,
    /// Read for the audit log's permission checks.
    pub directory: Arc<dyn Directory>,
    /// The bulk-creation jobs started through the API (ADDR-3).
    jobs: jobs::Jobs,
    /// Webmail (CLI-1); `None` serves the pages without it (the API's tests).
    pub webmail: Option<Webmail>,
}

/// The identity services of SPEC §1 the API serves besides the directory's.
#[derive(Clone)]
pub struct IdentityServices {
    /// See [`ApiState::identity`].
    pub identity: Identity,
    /// See [`ApiState::recovery`].
    pub recovery: Recovery,
    /// See [`ApiState::audit`].
    pub audit: Audit,
    /// See [`ApiState::mailbox_auth`].
    pub mailbox_auth: Arc<MailboxAuth>,
    /// See [`ApiState::directory`].
    pub directory: Arc<dyn Directory>,
}

impl ApiState {
    /// The state of an API over `admin` and `auth`, with no bulk job yet.
    pub fn new(
        admin: Admin,
        auth: ManagerAuth,
        services: IdentityServices,
        hostname: impl Into<String>,
        resolver: Arc<dyn postwerk_dns::Resolver>,
        secure_cookies: bool,
    ) -> ApiState {
        ApiState {
            admin,
            auth,
            hostname: hostname.into(),
            resolver,
            secure_cookies,
            identity: services.identity,
            recovery: services.recovery,
            audit: services.audit,
            mailbox_auth: services.mailbox_auth,
            directory: services.directory,
            jobs: jobs::Jobs::new(),
            webmail: None,
        }
    }

    /// This state with webmail (CLI-1).
    pub fn with_webmail(mut self, webmail: Webmail) -> ApiState {
        self.webmail = Some(webmail);
        self
    }
}

/// The API's routes, to be nested by the server's HTTP router at the root (they all start
/// with `/api/v1`), and beside them the client autoconfiguration documents of CLI-3
/// (`autoconfig`: Thunderbird, Outlook, Apple; outside the API and its CSRF check). Serve it
/// with `into_make_service_with_connect_info::<SocketAddr>()` so failed sign-ins are counted
/// per client address.
pub fn router(state: ApiState) -> axum::Router {
    let autoconfig = autoconfig::router(state.clone());
    let pages = ui::router(state.clone());
    let (api, _) = routes::api().split_for_parts();
    // The unknown paths and methods of the API answer in its error shape. A route rather than
    // a router fallback, so the server's router (which owns every other path) can merge this one.
    let api = api
        .route(routes::ALL_API_PATHS, any(routes::no_such_endpoint))
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state);
    csrf::protect_cookie_requests(api)
        .merge(autoconfig)
        .merge(pages)
}

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::api().into_openapi()
}
