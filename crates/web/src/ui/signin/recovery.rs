//! Getting back in without signing in (ID-8, ID-9): a reset code for a forgotten password, a
//! reminder of a forgotten login, and a request for an administrator when neither works.
//!
//! The same core calls as `routes/recovery.rs`, and the same rule: whether an account exists
//! is never said. Every login, phone number and channel gets the same sentence; only a client
//! address locked out by too many failures gets another one (429).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use postwerk_core::{ResetRefusal, VerificationInput};
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::problem::{Problem, api_problem, form_problem};
use crate::ApiState;
use crate::auth::ClientInfo;
use crate::dto::ChannelName;
use crate::error::ApiError;
use crate::ui::page::PublicNotice;
use crate::ui::page::{self, Layout, PageError, percent_encode};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/signin/forgot-password",
            get(show_forgot_password).post(forgot_password),
        )
        .route(
            "/signin/reset-password",
            get(show_reset_password).post(reset_password),
        )
        .route(
            "/signin/forgot-login",
            get(show_forgot_login).post(forgot_login),
        )
        .route(
            "/signin/verification",
            get(show_verification).post(verification),
        )
}

/// The channel a form names (`email` or `sms`).
fn channel(name: &str) -> Result<ChannelName, Problem> {
    match name {
        "email" => Ok(ChannelName::Email),
        "sms" => Ok(ChannelName::Sms),
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Choose where to receive it: your recovery email address or your mobile phone.",
        )),
    }
}

/// A refusal of the recovery service (wrong code, locked out) as a problem for the form.
fn refused(refusal: ResetRefusal) -> Result<Problem, PageError> {
    api_problem(ApiError::from(refusal))
}

// ─── ID-8 step 1: ask for a code ───────────────────────────────────────────────────────────

#[derive(askama::Template)]
#[template(path = "signin/forgot_password.html")]
struct ForgotPasswordPage {
    layout: Layout,
    login: String,
    channel: String,
    problem: Option<Problem>,
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    login: String,
}

async fn show_forgot_password(Query(query): Query<LoginQuery>) -> Response {
    page::render(&ForgotPasswordPage {
        layout: Layout::public("Forgot your password?"),
        login: query.login,
        channel: String::from("email"),
        problem: None,
    })
}

#[derive(Deserialize)]
struct ForgotPasswordForm {
    login: String,
    #[serde(default)]
    channel: String,
}

/// `POST /signin/forgot-password`: sends a code if the account has that channel, then the
/// page where the code is typed, with the one sentence every login gets.
async fn forgot_password(
    State(state): State<ApiState>,
    client: ClientInfo,
    axum::Form(form): axum::Form<ForgotPasswordForm>,
) -> Result<Response, PageError> {
    let again = |problem: Problem| {
        page::render_with(
            problem.status,
            &ForgotPasswordPage {
                layout: Layout::public("Forgot your password?"),
                login: form.login.clone(),
                channel: form.channel.clone(),
                problem: Some(problem),
            },
        )
    };
    let chosen = match channel(&form.channel) {
        Ok(chosen) => chosen,
        Err(problem) => return Ok(again(problem)),
    };
    match state
        .recovery
        .start_password_reset(&form.login, chosen.into(), client.ip)
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => return Ok(again(refused(refusal)?)),
        Err(error) => return Ok(again(form_problem(error)?)),
    }
    Ok(page::see_other(
        &format!(
            "/signin/reset-password?login={}",
            percent_encode(form.login.trim())
        ),
        &format!(
            "If an account with this login has a recovery {}, a code was sent to it. It works \
             once, for a short time.",
            chosen.in_words()
        ),
    ))
}

// ─── ID-8 step 2: the code and the new password ────────────────────────────────────────────

#[derive(askama::Template)]
#[template(path = "signin/reset_password.html")]
struct ResetPasswordPage {
    layout: Layout,
    login: String,
    problem: Option<Problem>,
}

async fn show_reset_password(notice: PublicNotice, Query(query): Query<LoginQuery>) -> Response {
    page::render(&ResetPasswordPage {
        layout: notice.on(Layout::public("Choose a new password")),
        login: query.login,
        problem: None,
    })
}

/// The code and the new password. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct ResetPasswordForm {
    login: String,
    code: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

#[derive(askama::Template)]
#[template(path = "signin/password_generated.html")]
struct GeneratedPasswordPage<'a> {
    layout: Layout,
    password: &'a str,
}

/// `POST /signin/reset-password`: with a live code, the new password (or a generated one,
/// shown in this answer only). Every session of the account ends (core).
async fn reset_password(
    State(state): State<ApiState>,
    client: ClientInfo,
    axum::Form(form): axum::Form<ResetPasswordForm>,
) -> Result<Response, PageError> {
    let again = |problem: Problem| {
        page::render_with(
            problem.status,
            &ResetPasswordPage {
                layout: Layout::public("Choose a new password"),
                login: form.login.clone(),
                problem: Some(problem),
            },
        )
    };
    if form.new_password != form.new_password_again {
        return Ok(again(Problem::new(
            StatusCode::BAD_REQUEST,
            "The two new passwords differ: type the same password twice.",
        )));
    }
    let new_password = Some(form.new_password.as_str()).filter(|p| !p.is_empty());
    let generated = match state
        .recovery
        .finish_password_reset(&form.login, &form.code, new_password, client.ip)
        .await
    {
        Ok(Ok(generated)) => generated,
        Ok(Err(refusal)) => return Ok(again(refused(refusal)?)),
        Err(error) => return Ok(again(form_problem(error)?)),
    };
    Ok(match generated {
        Some(password) => show_generated(&password),
        None => page::see_other(
            "/signin",
            "Your password was changed and every session of your account was ended. Sign in \
             with the new password.",
        ),
    })
}

/// The generated password, in the answer to the form that made it and nowhere else.
fn show_generated(password: &Zeroizing<String>) -> Response {
    page::render(&GeneratedPasswordPage {
        layout: Layout::public("Your new password"),
        password: password.as_str(),
    })
}

// ─── ID-9: a forgotten login ───────────────────────────────────────────────────────────────

#[derive(askama::Template)]
#[template(path = "signin/forgot_login.html")]
struct ForgotLoginPage {
    layout: Layout,
    phone: String,
    recovery_email: String,
    channel: String,
    problem: Option<Problem>,
}

async fn show_forgot_login() -> Response {
    page::render(&ForgotLoginPage {
        layout: Layout::public("Forgot your login?"),
        phone: String::new(),
        recovery_email: String::new(),
        channel: String::from("sms"),
        problem: None,
    })
}

#[derive(Deserialize)]
struct ForgotLoginForm {
    phone: String,
    #[serde(default)]
    recovery_email: String,
    #[serde(default)]
    channel: String,
}

/// `POST /signin/forgot-login`: sends the login of the one account these details point at,
/// by the channel chosen; the same sentence in every case.
async fn forgot_login(
    State(state): State<ApiState>,
    client: ClientInfo,
    axum::Form(form): axum::Form<ForgotLoginForm>,
) -> Result<Response, PageError> {
    let again = |problem: Problem| {
        page::render_with(
            problem.status,
            &ForgotLoginPage {
                layout: Layout::public("Forgot your login?"),
                phone: form.phone.clone(),
                recovery_email: form.recovery_email.clone(),
                channel: form.channel.clone(),
                problem: Some(problem),
            },
        )
    };
    let chosen = match channel(&form.channel) {
        Ok(chosen) => chosen,
        Err(problem) => return Ok(again(problem)),
    };
    let recovery_email = Some(form.recovery_email.trim()).filter(|email| !email.is_empty());
    match state
        .recovery
        .remind_login(&form.phone, recovery_email, chosen.into(), client.ip)
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => return Ok(again(refused(refusal)?)),
        Err(error) => return Ok(again(form_problem(error)?)),
    }
    Ok(page::see_other(
        "/signin",
        &format!(
            "If one account matches these details and has a recovery {}, its login was sent \
             to it. If nothing arrives, ask an administrator to identify you.",
            chosen.in_words()
        ),
    ))
}

// ─── ID-8, ID-9: an administrator identifies the person ────────────────────────────────────

#[derive(askama::Template)]
#[template(path = "signin/verification.html")]
struct VerificationPage {
    layout: Layout,
    form: VerificationForm,
    problem: Option<Problem>,
}

#[derive(Deserialize, Default, Clone)]
struct VerificationForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    message: String,
}

async fn show_verification() -> Response {
    page::render(&VerificationPage {
        layout: Layout::public("Ask an administrator"),
        form: VerificationForm::default(),
        problem: None,
    })
}

/// `POST /signin/verification`: queues the request for the administrators.
async fn verification(
    State(state): State<ApiState>,
    client: ClientInfo,
    axum::Form(form): axum::Form<VerificationForm>,
) -> Result<Response, PageError> {
    let given = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    let input = VerificationInput {
        login: given(&form.login),
        phone: given(&form.phone),
        email: given(&form.email),
        name: form.name.clone(),
        message: form.message.clone(),
    };
    let problem = match state.recovery.request_verification(input, client.ip).await {
        Ok(Ok(number)) => {
            return Ok(page::see_other(
                "/signin",
                &format!(
                    "Your request number {number} was sent to the administrators. They will \
                     contact you with the details you gave; quote this number."
                ),
            ));
        }
        Ok(Err(ResetRefusal::Throttled)) => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests from your address this hour: wait an hour, then send it again.",
        ),
        Ok(Err(refusal)) => refused(refusal)?,
        Err(error) => form_problem(error)?,
    };
    Ok(page::render_with(
        problem.status,
        &VerificationPage {
            layout: Layout::public("Ask an administrator"),
            form,
            problem: Some(problem),
        },
    ))
}
