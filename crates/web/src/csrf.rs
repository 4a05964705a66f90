//! Cross-site request forgery protection for requests that may ride on the browser's session
//! cookie.
//!
//! tower-http's [`CsrfLayer`] does the check (the scheme of Go 1.25's `CrossOriginProtection`:
//! `Sec-Fetch-Site` first, else `Origin` against `Host`; safe methods and requests with neither
//! header, which no browser sends cross-site, pass). It cannot look at the `Authorization`
//! header, and requests with a bearer token must not be subject to it (a token is never sent
//! by the browser on its own, so it cannot be forged, and scripts on other origins may use the
//! API with one). So a middleware runs the layer's check only for requests without an
//! `Authorization` header; [`crate::auth`] never reads the cookie of a request that has one.

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::{Layer, ServiceExt};
use tower_http::csrf::{CsrfLayer, ProtectionError};

use crate::auth::carries_authorization;
use crate::error::ApiError;

/// The answer to a refused request, in the API's error shape.
type Refusal = fn(ProtectionError) -> Response;

/// `api`, with the CSRF check applied to every request that carries no `Authorization` header.
pub fn protect_cookie_requests(api: Router) -> Router {
    let check = CsrfLayer::new().with_rejection_response(refusal as Refusal);
    api.layer(middleware::from_fn(move |request: Request, next: Next| {
        let check = check.clone();
        async move {
            if carries_authorization(request.headers()) {
                return next.run(request).await;
            }
            match check.layer(next).oneshot(request).await {
                Ok(response) => response,
                Err(infallible) => match infallible {},
            }
        }
    }))
}

fn refusal(_: ProtectionError) -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "this request came from another site and was refused to protect your session; use the \
         Manager's own pages, or an API token for scripts",
    )
    .into_response()
}
