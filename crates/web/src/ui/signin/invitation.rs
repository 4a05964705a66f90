//! ADDR-1 (b'): the page the invitation email links to (`/invite/{secret}`, as core's
//! invitation text builds it from the public URL). It shows the offer; accepting creates the
//! person's account with the login the invitation allows, then signs it in.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use postwerk_core::{AcceptInvitation, InvitationDetails, Protocol};
use postwerk_model::LoginMode;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::problem::{Problem, form_problem};
use crate::ApiState;
use crate::auth::{ClientInfo, new_session_cookie};
use crate::ui::page::{self, Layout, PageError};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/invite/{secret}", get(show).post(accept))
}

#[derive(askama::Template)]
#[template(path = "signin/invitation.html")]
struct InvitationPage {
    layout: Layout,
    /// The link's own path, where the form posts.
    action: String,
    address: String,
    organization: String,
    /// ADDR-1 (b'): the person chooses the login (else it is `address`).
    own_login: bool,
    expires: String,
    display_name: String,
    login: String,
    problem: Option<Problem>,
}

impl InvitationPage {
    fn new(secret: &str, details: InvitationDetails) -> InvitationPage {
        InvitationPage {
            layout: Layout::public("Your invitation"),
            action: format!("/invite/{}", page::percent_encode(secret)),
            address: details.address.to_string(),
            organization: details.organization,
            own_login: details.login_mode == LoginMode::OwnChoice,
            expires: crate::ui::format::day_month_time(details.expires_at),
            display_name: String::new(),
            login: String::new(),
            problem: None,
        }
    }
}

/// `GET /invite/{secret}`: what is offered. An unusable link gets core's one sentence (404).
async fn show(
    State(state): State<ApiState>,
    Path(secret): Path<String>,
) -> Result<Response, PageError> {
    let secret = Zeroizing::new(secret);
    let details = state.admin.invitation(&secret).await?;
    Ok(page::render(&InvitationPage::new(&secret, details)))
}

/// What the invited person submits. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct AcceptForm {
    #[serde(default)]
    display_name: String,
    /// Only with a login of the person's choice.
    #[serde(default)]
    login: String,
    password: String,
    password_again: String,
}

/// `POST /invite/{secret}`: creates the account (core checks the login, the password policy
/// and that the link still works), then signs it in and opens webmail.
async fn accept(
    State(state): State<ApiState>,
    Path(secret): Path<String>,
    client: ClientInfo,
    axum::Form(form): axum::Form<AcceptForm>,
) -> Result<Response, PageError> {
    let secret = Zeroizing::new(secret);
    let details = state.admin.invitation(&secret).await?;
    let again = |problem: Problem| {
        let status = problem.status;
        let mut page = InvitationPage::new(&secret, details.clone());
        page.display_name = form.display_name.clone();
        page.login = form.login.clone();
        page.problem = Some(problem);
        page::render_with(status, &page)
    };
    if form.password != form.password_again {
        return Ok(again(Problem::new(
            StatusCode::BAD_REQUEST,
            "The two passwords differ: type the same password twice.",
        )));
    }
    let acceptance = AcceptInvitation {
        login: Some(form.login.clone()).filter(|login| !login.trim().is_empty()),
        password: Zeroizing::new(form.password.clone()),
        display_name: form.display_name.clone(),
    };
    let account = match state.admin.accept_invitation(&secret, acceptance).await {
        Ok(account) => account,
        Err(error) => return Ok(again(form_problem(error)?)),
    };
    let signed_in = state
        .auth
        .sign_in(
            &account.login.to_string(),
            &form.password,
            None,
            Protocol::Webmail,
            client.ip,
            client.user_agent.as_deref(),
        )
        .await?;
    Ok(match signed_in {
        Ok(signed_in) => {
            let jar =
                CookieJar::new().add(new_session_cookie(&signed_in.secret, state.secure_cookies));
            let welcome = format!(
                "Welcome! Your account {} was created and {} is yours to use.",
                account.login, details.address
            );
            (jar, page::see_other("/mail", &welcome)).into_response()
        }
        // Only a client address locked out meanwhile gets here: the account exists anyway.
        Err(_) => page::see_other(
            "/signin",
            &format!(
                "Your account {} was created. Sign in with it and the password you chose.",
                account.login
            ),
        ),
    })
}
