//! `/account/password`: the account changes its own password (ID-1), giving the current one.
//! Every other session of the account ends and this one goes on (ID-6, done by core); a
//! mailbox unified with the account gets the same password, and the page says so (ID-5).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use postwerk_core::Unification;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::SECTION;
use crate::ApiState;
use crate::auth::ClientInfo;
use crate::ui::page::{self, Layout, PageError, PageUser};
use crate::ui::signin::problem::{Problem, form_problem};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/account/password", get(show).post(change))
}

#[derive(askama::Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    tab: &'static str,
    /// ID-5: the mailbox whose password changes with this one.
    unified_with: Option<String>,
    problem: Option<Problem>,
}

impl PasswordPage {
    async fn of(state: &ApiState, me: &PageUser) -> Result<PasswordPage, PageError> {
        Ok(PasswordPage {
            layout: me.layout("Your password", SECTION),
            tab: "password",
            unified_with: state
                .identity
                .unified_mailbox(me.user.id)
                .await?
                .map(|address| address.to_string()),
            problem: None,
        })
    }
}

async fn show(State(state): State<ApiState>, me: PageUser) -> Result<Response, PageError> {
    Ok(page::render(&PasswordPage::of(&state, &me).await?))
}

/// The current and the new password. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct PasswordForm {
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

#[derive(askama::Template)]
#[template(path = "account/password_generated.html")]
struct GeneratedPage<'a> {
    layout: Layout,
    tab: &'static str,
    password: &'a str,
    outcome: &'a str,
}

/// `POST /account/password`: an empty new password asks for a generated one, shown in this
/// answer only.
async fn change(
    State(state): State<ApiState>,
    me: PageUser,
    client: ClientInfo,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, PageError> {
    let problem = if form.new_password != form.new_password_again {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "The two new passwords differ: type the same password twice.",
        )
    } else {
        let new = Some(form.new_password.as_str()).filter(|password| !password.is_empty());
        match state
            .identity
            .change_password(
                me.user.id,
                &form.current_password,
                new,
                me.caller.session,
                Some(client.ip),
            )
            .await
        {
            Ok(changed) => {
                let outcome = outcome(&changed.unification);
                return Ok(match changed.generated {
                    Some(password) => page::render(&GeneratedPage {
                        layout: me.layout("Your new password", SECTION),
                        tab: "password",
                        password: password.as_str(),
                        outcome: &outcome,
                    }),
                    None => page::see_other("/account/password", &outcome),
                });
            }
            Err(error) => form_problem(error)?,
        }
    };
    let status = problem.status;
    let mut page = PasswordPage::of(&state, &me).await?;
    page.problem = Some(problem);
    Ok(page::render_with(status, &page))
}

/// What happened, in words: ID-6 (the other sessions ended) and ID-5 (the mailbox followed).
fn outcome(unification: &Unification) -> String {
    let mut text = String::from(
        "Your password was changed, and every other browser signed in to your account was \
         signed out.",
    );
    if let Unification::Unified { address, .. } = unification {
        text.push_str(&format!(
            " The password of the mailbox {address} changed with it (the two are unified): \
             mail programs using it must be given the new password."
        ));
    }
    text
}
