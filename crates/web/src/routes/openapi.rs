//! The OpenAPI 3 document: its frame (title, tags, how to authenticate) here, every operation
//! from the handlers' `#[utoipa::path]` attributes. Never written by hand.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiState;
use crate::auth::SESSION_COOKIE;

/// The name of the bearer-token security scheme (also written in `ApiDoc`'s `security`).
const BEARER: &str = "bearer";

/// The name of the session-cookie security scheme (also written in `ApiDoc`'s `security`).
const SESSION: &str = "session";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Postwerk Manager API",
        description = "Organizations, mail services and addresses (SPEC §2). Authenticate with \
            an API token (`Authorization: Bearer <token>`) or, from a browser, with the session \
            cookie set by `POST /api/v1/session`. Errors answer \
            `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`; lists are paginated with \
            `?page=&per_page=`, except the audit log, which pages by entry id (`?before=`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "session", description = "Signing in and out, who am I, my sessions"),
        (name = "account", description = "My account: two-factor authentication, password, login, recovery contact (ID-1, ID-5, ID-10)"),
        (name = "recovery", description = "Getting back in: password reset, login reminder, identity verification (ID-8, ID-9)"),
        (name = "tokens", description = "API tokens"),
        (name = "organizations", description = "Organizations and their members (ORG-1)"),
        (name = "users", description = "User accounts (ID-1)"),
        (name = "services", description = "Mail services (SVC-1 to SVC-4)"),
        (name = "addresses", description = "Addresses (ADDR-1 to ADDR-10)"),
        (name = "aliases", description = "Aliases of an address (ADDR-6)"),
        (name = "access", description = "Users' access to mailboxes (ADDR-9)"),
        (name = "sender rules", description = "Sender allow and block lists of a mailbox (RCV-4)"),
        (name = "invitations", description = "Invitations to use an address (ADDR-1 b')"),
        (name = "bulk", description = "Creating many addresses from a CSV file (ADDR-3)"),
        (name = "credentials", description = "Testing an address and mailbox password as an email client would (ID-7)"),
        (name = "audit", description = "The audit log of logins and security changes (ID-11)"),
        (name = "notifications", description = "The SMS outbox of the notifier (ID-12)"),
        (name = "meta", description = "This document")
    )
)]
struct ApiDoc;

/// The two ways to authenticate, referred to by the operations' security requirements.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token created with POST /api/v1/tokens or `postwerk admin token \
                         create`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie set by POST /api/v1/session; state-changing requests \
                 must come from the Manager's own origin (CSRF protection)",
            ))),
        );
    }
}

/// The document's frame, without operations.
pub fn base_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default().routes(routes!(document))
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value,
            content_type = "application/json")
    )
)]
async fn document() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| {
        // A document of plain strings and maps always serialises; if it ever did not, the
        // answer is still valid JSON and the log says why.
        crate::openapi().to_json().unwrap_or_else(|error| {
            tracing::error!(%error, "the OpenAPI document could not be serialised");
            String::from("{}")
        })
    });
    ([(CONTENT_TYPE, "application/json")], json.as_str())
}
