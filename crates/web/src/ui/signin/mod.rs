//! The pages seen before signing in (ID-1, ID-2, ID-8 – ID-10, ADDR-1 b'): sign-in with its
//! two-factor step, sign-out, the recovery flows and the invitation acceptance page.
//!
//! ```text
//!  /signin ─ login + password ─► ManagerAuth::sign_in ─► cookie, redirect to `next`
//!               └ TotpRequired: the same form again with a code field (password retyped)
//!  /signin/forgot-password ─► /signin/reset-password ─► /signin   (ID-8, Recovery)
//!  /signin/forgot-login ─► /signin                                (ID-9, Recovery)
//!  /signin/verification ─► /signin                                (ID-8, ID-9: an administrator)
//!  /invite/{secret} ─► Admin::accept_invitation ─► signed in, /mail
//! ```

mod form;
mod invitation;
pub(super) mod problem;
mod recovery;

use axum::Router;

use crate::ApiState;

/// `/signin`, `/signout`, the recovery pages under `/signin/…` and `/invite/{secret}`.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .merge(form::routes())
        .merge(recovery::routes())
        .merge(invitation::routes())
}
