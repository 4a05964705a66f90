//! `/account/login`: the account's login (ID-1), and ID-10's forced choice: an account that
//! signed in with its recovery username, because its hosted login address was deleted, is
//! sent here by every page until it chooses a new login (then no password is asked: core
//! allows exactly that one change).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::SECTION;
use crate::ApiState;
use crate::auth::ClientInfo;
use crate::ui::page::{self, Layout, PageError, PageUser};
use crate::ui::signin::problem::{Problem, form_problem};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/account/login", get(show).post(change))
}

#[derive(askama::Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    layout: Layout,
    tab: &'static str,
    current: String,
    /// ID-10: the login disappeared; the page explains and asks for no password.
    must_choose: bool,
    recovery_username: String,
    login: String,
    problem: Option<Problem>,
}

impl LoginPage {
    fn of(me: &PageUser) -> LoginPage {
        let must_choose = me.user.must_choose_login;
        LoginPage {
            layout: me.layout(
                if must_choose {
                    "Choose a new login"
                } else {
                    "Change your login"
                },
                SECTION,
            ),
            tab: "profile",
            current: me.user.login.to_string(),
            must_choose,
            recovery_username: me
                .user
                .recovery_username
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            login: String::new(),
            problem: None,
        }
    }
}

async fn show(me: PageUser) -> Response {
    page::render(&LoginPage::of(&me))
}

/// The new login, and the password unless ID-10 waives it. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct LoginForm {
    login: String,
    #[serde(default)]
    password: String,
}

/// `POST /account/login`.
async fn change(
    State(state): State<ApiState>,
    me: PageUser,
    client: ClientInfo,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, PageError> {
    let password = Some(form.password.as_str()).filter(|password| !password.is_empty());
    match state
        .identity
        .change_login(me.user.id, &form.login, password, Some(client.ip))
        .await
    {
        Ok(account) => Ok(page::see_other(
            "/account",
            &format!(
                "Your login is now {}: sign in with it from now on.",
                account.login
            ),
        )),
        Err(error) => {
            let problem = form_problem(error)?;
            let status = problem.status;
            let mut page = LoginPage::of(&me);
            page.login = form.login.clone();
            page.problem = Some(problem);
            Ok(page::render_with(status, &page))
        }
    }
}
