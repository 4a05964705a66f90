//! What the account does with each mailbox linked to it outside webmail: the device setup
//! assistant (`setup`, CLI-3 and ID-7, at `/devices`) and the mailbox's settings its
//! permissions allow (`settings`, CLI-1 and ADDR-9, at `/settings`). Both are drawn for the
//! mailboxes of `linked`.
//!
//! ```text
//!  /devices/{mailbox}  ─► setup.rs     settings table, client help, password test (MailboxAuth)
//!  /settings/{mailbox} ─► settings.rs  password + ID-5 offer, aliases, redirection, sender
//!                                      lists, signature (core::Admin, core::Identity)
//! ```

mod linked;

pub(crate) use linked::path_segment;
mod settings;
mod setup;

use axum::Router;

use crate::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .merge(setup::routes())
        .merge(settings::routes())
}
