//! The settings of each mailbox linked to the account (CLI-1 settings, ADDR-9): its password
//! with the ID-5 unification offer, aliases (ADDR-6), the redirection (ADDR-5), the sender
//! allow and block lists (RCV-4), and the signature of the account (SVC-4: picked by an
//! administrator, or chosen by the account with `manage_signatures`) with the
//! name shown in mail sent from it. `page` draws the page, `forms` handles its forms.

mod forms;
mod page;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

use super::linked::{MailboxRequest, mailbox_links};
use crate::ApiState;
use crate::ui::page::{Layout, PageError, PageUser, render};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/settings", get(index))
        .route("/settings/{mailbox}", get(mailbox))
        .route("/settings/{mailbox}/password", post(forms::change_password))
        .route("/settings/{mailbox}/aliases", post(forms::add_alias))
        .route(
            "/settings/{mailbox}/aliases/remove",
            post(forms::remove_alias),
        )
        .route("/settings/{mailbox}/redirect", post(forms::set_redirect))
        .route(
            "/settings/{mailbox}/redirect/remove",
            post(forms::remove_redirect),
        )
        .route("/settings/{mailbox}/senders", post(forms::add_sender))
        .route(
            "/settings/{mailbox}/senders/remove",
            post(forms::remove_sender),
        )
        .route("/settings/{mailbox}/name", post(forms::set_name))
        .route(
            "/settings/{mailbox}/signature",
            post(forms::choose_signature),
        )
}

#[derive(Template)]
#[template(path = "settings/index.html")]
struct IndexPage {
    layout: Layout,
    /// Each mailbox's address and its page's path segment.
    mailboxes: Vec<(String, String)>,
}

/// `GET /settings`: the mailboxes whose settings the account may see.
async fn index(State(state): State<ApiState>, user: PageUser) -> Result<Response, PageError> {
    Ok(render(&IndexPage {
        layout: user.layout("Mailbox settings", "mail"),
        mailboxes: mailbox_links(&state, &user).await?,
    }))
}

/// `GET /settings/{mailbox}`.
async fn mailbox(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
) -> Result<Response, PageError> {
    Ok(render(
        &page::SettingsPage::load(&state, &user, &mailbox).await?,
    ))
}
