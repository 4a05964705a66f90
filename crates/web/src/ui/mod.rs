//! The pages people use (issue 11, SPEC §6): sign-in and the account's own settings, the
//! Manager console (CLI-4), webmail (CLI-1) with the bounce explainer (CLI-2), and the device
//! setup assistant (CLI-3). Rendered on the server with askama templates (`templates/`, HTML
//! auto-escaped), with a little JavaScript (`assets/app.js`) that only enhances: every page
//! works without it.
//!
//! ```text
//!  request ─► security.rs (CSP, no framing, no caching of pages; CSRF check on writes)
//!          ─► page.rs PageUser (session cookie → core Caller, or a redirect to /signin)
//!          ─► signin.rs | account.rs | console/ | mail/ | devices.rs handler
//!                 one core call (Admin, Identity, Recovery, Webmail, …) ─► askama template
//!                 CoreError ─► page.rs PageError (an error page with the core's sentence)
//! ```
//!
//! Handlers follow POST-redirect-GET: a form posts, the handler calls `core`, then redirects
//! to a page with a one-time notice (`page::Notice`) — except when the answer must be shown
//! once and never again (a generated password), which the POST renders itself.

mod account;
pub(crate) mod assets;
mod console;
pub(crate) mod devices;
pub(crate) mod format;
mod mail;
pub(crate) mod page;
mod security;
mod signin;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

use crate::ApiState;

/// Every page, the assets, and `/` (webmail for a signed-in account, else the sign-in page).
pub fn router(state: ApiState) -> Router {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/mail") }))
        .merge(signin::routes())
        .merge(account::routes())
        .merge(console::routes())
        .merge(mail::routes())
        .merge(devices::routes())
        .with_state(state);
    security::protect(pages).merge(assets::routes())
}
