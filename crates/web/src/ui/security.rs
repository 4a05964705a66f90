//! What every page answer carries, and the CSRF check of every form post (issue 11 item 6).
//!
//! - `Content-Security-Policy`: scripts, styles, images, fonts and fetches from this origin
//!   only; no inline script or style (so templates use classes, never `style=`); no plugin;
//!   forms post only here; the pages may not be framed. The message-body frame of webmail
//!   sets its own, stricter policy (`mail::body`).
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (a link in a message
//!   never tells the remote site which message it was in).
//! - `Cache-Control: no-store` on pages: a shared computer's back button shows no mail after
//!   sign-out.
//! - CSRF: tower-http's check (`Sec-Fetch-Site`, else `Origin` against `Host`) on every
//!   non-safe request, the same scheme as the API's (`crate::csrf`); the session cookie is
//!   also `SameSite=Lax`.

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::csrf::{CsrfLayer, ProtectionError};

use super::page::{CLEARED_NOTICE, PageError, carries_notice};

/// The policy of every page.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `pages` with the headers above and the CSRF check.
pub fn protect(pages: Router) -> Router {
    let csrf = CsrfLayer::new().with_rejection_response(refusal as fn(ProtectionError) -> Response);
    pages.layer(csrf).layer(middleware::from_fn(headers))
}

async fn headers(request: Request, next: Next) -> Response {
    let shows_notice = carries_notice(request.headers());
    let mut response = next.run(request).await;
    // The notice was shown by this page (a redirect passes it on instead).
    if shows_notice && !response.status().is_redirection() {
        response
            .headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static(CLEARED_NOTICE));
    }
    let headers = response.headers_mut();
    // A handler that set its own policy (the message-body frame) keeps it.
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn refusal(_: ProtectionError) -> Response {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This form came from another site and was refused to protect your account. Open the \
         page again from Postwerk itself and send it from there.",
    )
    .into_response()
}
