//! The account's own pages (section "account"; ID-1, ID-5, ID-6, ID-10): its details and
//! recovery contact, its login, its password, two-factor authentication and its sessions.
//! Each calls the `core::Identity` / `core::ManagerAuth` method its REST twin in
//! `routes/account.rs` or `routes/session.rs` calls; core checks and words every refusal.
//!
//! ```text
//!  /account            profile.rs    name, login, contact (phone, recovery email)
//!  /account/login      login.rs      change the login; ID-10 choose one after a recovery username
//!  /account/password   password.rs   current + new; every other session ends (ID-6)
//!  /account/2fa        two_factor.rs enrol (QR code, qr.rs), confirm, recovery codes, turn off
//!  /account/sessions   sessions.rs   where the account is signed in; end one, end the others
//! ```

mod login;
mod password;
mod profile;
mod qr;
mod sessions;
mod two_factor;

use axum::Router;

use crate::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .merge(profile::routes())
        .merge(login::routes())
        .merge(password::routes())
        .merge(two_factor::routes())
        .merge(sessions::routes())
}

/// The navigation section of these pages.
const SECTION: &str = "account";
