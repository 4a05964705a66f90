//! The settings of each mailbox linked to the account (CLI-1 settings, ADDR-9): its password
//! with the ID-5 unification offer, aliases (ADDR-6), the redirection (ADDR-5), the sender
//! allow and block lists (RCV-4), and the signature picked for the account (SVC-4) with the
//! name shown in mail sent from it. `page` draws the page, `forms` handles its forms.

mod forms;
mod page;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::linked::{linked_mailbox, linked_mailboxes, path_segment};
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
    let mailboxes = linked_mailboxes(&state, &user)
        .await?
        .iter()
        .map(|mailbox| (mailbox.address(), path_segment(&mailbox.address())))
        .collect();
    Ok(render(&IndexPage {
        layout: user.layout("Mailbox settings", "mail"),
        mailboxes,
    }))
}

/// `GET /settings/{mailbox}`.
async fn mailbox(
    State(state): State<ApiState>,
    user: PageUser,
    Path(address): Path<String>,
) -> Result<Response, PageError> {
    let mailbox = linked_mailbox(&state, &user, &address).await?;
    Ok(render(
        &page::SettingsPage::load(&state, &user, &mailbox).await?,
    ))
}
