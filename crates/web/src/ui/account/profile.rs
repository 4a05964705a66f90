//! `/account`: who the account is (name, login, 2FA, password unification) and its recovery
//! contact details (ID-1, ID-8, ID-9), with the form that changes them.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::SECTION;
use crate::ApiState;
use crate::auth::ClientInfo;
use crate::ui::page::{self, Layout, PageError, PageUser};
use crate::ui::signin::problem::{Problem, form_problem};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/contact", post(set_contact))
}

#[derive(askama::Template)]
#[template(path = "account/profile.html")]
struct ProfilePage {
    layout: Layout,
    tab: &'static str,
    name: String,
    login: String,
    two_factor: bool,
    /// ID-5: the mailbox whose password is one with the account's.
    unified_with: Option<String>,
    phone: String,
    recovery_email: String,
    problem: Option<Problem>,
}

impl ProfilePage {
    async fn of(state: &ApiState, me: &PageUser) -> Result<ProfilePage, PageError> {
        let user = &me.user;
        Ok(ProfilePage {
            layout: me.layout("Your account", SECTION),
            tab: "profile",
            name: user.display_name.clone(),
            login: user.login.to_string(),
            two_factor: user.totp_secret.is_some(),
            unified_with: state
                .identity
                .unified_mailbox(user.id)
                .await?
                .map(|address| address.to_string()),
            phone: user.phone.clone().unwrap_or_default(),
            recovery_email: user
                .recovery_email
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            problem: None,
        })
    }
}

async fn show(State(state): State<ApiState>, me: PageUser) -> Result<Response, PageError> {
    Ok(page::render(&ProfilePage::of(&state, &me).await?))
}

#[derive(Deserialize)]
struct ContactForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    recovery_email: String,
}

/// `POST /account/contact`: both details at once; an empty field removes that detail.
async fn set_contact(
    State(state): State<ApiState>,
    me: PageUser,
    client: ClientInfo,
    axum::Form(form): axum::Form<ContactForm>,
) -> Result<Response, PageError> {
    let given = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    let (phone, email) = (given(&form.phone), given(&form.recovery_email));
    match state
        .identity
        .set_contact(
            me.user.id,
            phone.as_deref(),
            email.as_deref(),
            Some(client.ip),
        )
        .await
    {
        Ok(_) => Ok(page::see_other(
            "/account",
            "Your contact details were saved: recovery codes and login reminders go there.",
        )),
        Err(error) => {
            let problem = form_problem(error)?;
            let mut page = ProfilePage::of(&state, &me).await?;
            page.phone = form.phone;
            page.recovery_email = form.recovery_email;
            let status = problem.status;
            page.problem = Some(problem);
            Ok(page::render_with(status, &page))
        }
    }
}
