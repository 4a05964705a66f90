//! `/signin` and `/signout` (ID-1, ID-2, issue 11 items 1 and 6).
//!
//! Two-factor sign-in is one form shown twice: core answers `TotpRequired` only once the
//! password is right, and offers no pending half-signed-in state, so the form comes back with
//! the login kept, a code field, and an empty password field to type again. The password is
//! never written into a page, a cookie or server memory beyond the request.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use postwerk_core::{CredentialTest, Protocol, SignInRefusal};
use postwerk_model::Address;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::problem::Problem;
use crate::ApiState;
use crate::auth::{ClientInfo, cleared_session_cookie, new_session_cookie, session_cookie};
use crate::ui::page::PublicNotice;
use crate::ui::page::{self, Layout, PageError};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/signin", get(show).post(sign_in))
        .route("/signout", post(sign_out))
}

/// Where a successful sign-in goes when the form names no page.
const HOME: &str = "/mail";

/// ID-2: the answer to a mailbox address signed in with its mailbox password.
pub const MAILBOX_CREDENTIAL: &str = "You typed a mailbox address with its mailbox password, \
     which only mail programs use: to sign in here, use the login of your account (usually \
     your personal email address) and your account's own password.";

/// A wrong login or password (said the same way whether the login exists or not).
pub const WRONG_CREDENTIALS: &str = "The login or the password is wrong.";

#[derive(askama::Template)]
#[template(path = "signin/signin.html")]
struct SignInPage {
    layout: Layout,
    login: String,
    next: String,
    /// Show the two-factor code field (the account has 2FA and the password was right).
    ask_code: bool,
    problem: Option<Problem>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `GET /signin`: the form; a browser already signed in goes straight on.
async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    notice: PublicNotice,
    Query(query): Query<NextQuery>,
) -> Result<Response, PageError> {
    let next = query.next.unwrap_or_default();
    if let Some(cookie) = session_cookie(&headers)
        && state.auth.authenticate_session(&cookie).await?.is_some()
    {
        return Ok(page::redirect(destination(&next)));
    }
    Ok(page::render(&SignInPage {
        layout: notice.on(Layout::public("Sign in")),
        login: String::new(),
        next,
        ask_code: false,
        problem: None,
    }))
}

/// What the sign-in form posts. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct SignInForm {
    login: String,
    password: String,
    /// The authenticator's code, or one of the account's 2FA recovery codes.
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`.
async fn sign_in(
    State(state): State<ApiState>,
    client: ClientInfo,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, PageError> {
    let outcome = state
        .auth
        .sign_in(
            &form.login,
            &form.password,
            Some(form.code.as_str()),
            protocol_for(&form.next),
            client.ip,
            client.user_agent.as_deref(),
        )
        .await?;
    let refusal = match outcome {
        Ok(signed_in) => {
            let cookie = new_session_cookie(&signed_in.secret, state.secure_cookies);
            let jar = CookieJar::new().add(cookie);
            return Ok((jar, page::redirect(destination(&form.next))).into_response());
        }
        Err(refusal) => refusal,
    };
    let (status, message, ask_code) = match refusal {
        SignInRefusal::Invalid => {
            let message = if mailbox_credential(&state, &client, &form).await {
                MAILBOX_CREDENTIAL
            } else {
                WRONG_CREDENTIALS
            };
            (StatusCode::UNAUTHORIZED, message, false)
        }
        SignInRefusal::TotpRequired => (
            StatusCode::UNAUTHORIZED,
            "This account uses two-factor authentication: type your password again with the \
             code your authenticator app shows now.",
            true,
        ),
        SignInRefusal::TotpInvalid => (
            StatusCode::UNAUTHORIZED,
            "The two-factor code is wrong or was already used: type your password again with \
             the next code of your authenticator app, or one of your recovery codes.",
            true,
        ),
        SignInRefusal::Throttled => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts from your address: wait a few minutes, then try again.",
            !form.code.is_empty(),
        ),
    };
    Ok(page::render_with(
        status,
        &SignInPage {
            layout: Layout::public("Sign in"),
            login: form.login.clone(),
            next: form.next.clone(),
            ask_code,
            problem: Some(Problem::new(status, message)),
        },
    ))
}

/// ID-2: whether a refused sign-in was a hosted address with its mailbox password. Core's
/// account sign-in never looks at mailbox passwords, so the page asks the credential tester
/// (ID-7), which checks and counts the attempt exactly like a mail program's login and
/// records it in the audit log as a `tester` attempt. Asked only for hosted addresses that
/// take a password, so a mistyped account password is counted once by the failure limiter,
/// not twice, unless the account's login is itself a hosted mailbox.
async fn mailbox_credential(state: &ApiState, client: &ClientInfo, form: &SignInForm) -> bool {
    let Ok(address) = Address::parse(form.login.trim()) else {
        return false;
    };
    let takes_logins = match state.directory.address_by_address(&address).await {
        Ok(Some(hosted)) => hosted.password_hash.is_some(),
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(%error, "could not look up an address after a refused sign-in");
            false
        }
    };
    if !takes_logins {
        return false;
    }
    match state
        .mailbox_auth
        .test_credentials(client.ip, &form.login, &form.password)
        .await
    {
        Ok(outcome) => matches!(outcome, CredentialTest::Valid | CredentialTest::Disabled),
        Err(error) => {
            tracing::warn!(%error, "could not test mailbox credentials after a refused sign-in");
            false
        }
    }
}

/// ID-11: a sign-in heading for the Manager is recorded as one, any other as webmail's.
fn protocol_for(next: &str) -> Protocol {
    if next.starts_with("/manager") {
        Protocol::Manager
    } else {
        Protocol::Webmail
    }
}

/// `next` when it is a page of this site (never another site: open redirect), else webmail.
fn destination(next: &str) -> &str {
    if next.is_empty() {
        HOME
    } else {
        page::local_path(next)
    }
}

/// `POST /signout`: ends this browser's session, forgets its cookie, and says so on the
/// sign-in page. Works without a valid session, so an expired one still clears its cookie.
async fn sign_out(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some(cookie) = session_cookie(&headers) {
        state.auth.sign_out(&cookie).await?;
    }
    let jar = CookieJar::new().add(cleared_session_cookie(state.secure_cookies));
    Ok((jar, page::see_other("/signin", "You are signed out.")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site_and_defaults_to_webmail() {
        assert_eq!(destination(""), "/mail");
        assert_eq!(destination("/manager/orgs/Acme"), "/manager/orgs/Acme");
        assert_eq!(destination("//evil.example"), "/");
        assert_eq!(destination("https://evil.example"), "/");
    }

    #[test]
    fn id_11_the_sign_in_is_recorded_for_where_it_goes() {
        assert_eq!(protocol_for("/manager"), Protocol::Manager);
        assert_eq!(protocol_for("/mail/inbox"), Protocol::Webmail);
        assert_eq!(protocol_for(""), Protocol::Webmail);
    }
}
