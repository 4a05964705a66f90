//! `/account/2fa`: two-factor authentication (ID-1, RFC 6238). Enrolment shows the secret as
//! a QR code and as text in the answer to the form that started it (core keeps it pending and
//! never hands it out again); the first code confirms it and the recovery codes are shown
//! once, in that answer. Turning it off and renewing the codes need the account password.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_core::CoreError;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{SECTION, qr};
use crate::ApiState;
use crate::auth::ClientInfo;
use crate::ui::page::{self, Layout, PageError, PageUser};
use crate::ui::signin::problem::{Problem, form_problem};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/account/2fa", get(show))
        .route("/account/2fa/begin", post(begin))
        .route("/account/2fa/confirm", post(confirm))
        .route("/account/2fa/disable", post(disable))
        .route("/account/2fa/recovery-codes", post(renew_codes))
}

#[derive(askama::Template)]
#[template(path = "account/two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    tab: &'static str,
    enabled: bool,
    problem: Option<Problem>,
}

fn status_page(me: &PageUser, problem: Option<Problem>) -> Response {
    let page = TwoFactorPage {
        layout: me.layout("Two-factor authentication", SECTION),
        tab: "2fa",
        enabled: me.user.totp_secret.is_some(),
        problem,
    };
    match &page.problem {
        Some(problem) => page::render_with(problem.status, &page),
        None => page::render(&page),
    }
}

async fn show(me: PageUser) -> Response {
    status_page(&me, None)
}

#[derive(askama::Template)]
#[template(path = "account/enrol.html")]
struct EnrolPage<'a> {
    layout: Layout,
    tab: &'static str,
    /// The QR code of the otpauth URI, as an `<svg>` element (absent after a wrong first code:
    /// core does not hand the secret out twice).
    qr_svg: Option<String>,
    /// The base32 secret, for typing it in by hand.
    secret: Option<&'a str>,
    problem: Option<Problem>,
}

impl<'a> EnrolPage<'a> {
    /// The enrolment page: with the new secret right after starting, or with the problem of
    /// a code that did not confirm it.
    fn new(
        me: &PageUser,
        qr_svg: Option<String>,
        secret: Option<&'a str>,
        problem: Option<Problem>,
    ) -> Self {
        EnrolPage {
            layout: me.layout("Set up two-factor authentication", SECTION),
            tab: "2fa",
            qr_svg,
            secret,
            problem,
        }
    }
}

/// `POST /account/2fa/begin`: a new secret, shown this once.
async fn begin(State(state): State<ApiState>, me: PageUser) -> Result<Response, PageError> {
    let enrolment = match state.identity.begin_totp(me.user.id).await {
        Ok(enrolment) => enrolment,
        Err(error) => return Ok(status_page(&me, Some(form_problem(error)?))),
    };
    let qr_svg = qr::svg(&enrolment.otpauth_uri);
    Ok(page::render(&EnrolPage::new(
        &me,
        qr_svg,
        Some(enrolment.secret.as_str()),
        None,
    )))
}

/// A code typed by the person. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct CodeForm {
    code: String,
}

#[derive(askama::Template)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    layout: Layout,
    tab: &'static str,
    intro: &'a str,
    codes: Vec<&'a str>,
}

/// The new recovery codes, shown this once with `intro`; or, when core refused, the page
/// `refused` draws around the problem.
fn show_codes(
    me: &PageUser,
    outcome: Result<Vec<Zeroizing<String>>, CoreError>,
    intro: &str,
    refused: impl FnOnce(Problem) -> Response,
) -> Result<Response, PageError> {
    match outcome {
        Ok(codes) => Ok(page::render(&RecoveryCodesPage {
            layout: me.layout("Your recovery codes", SECTION),
            tab: "2fa",
            intro,
            codes: codes.iter().map(|code| code.as_str()).collect(),
        })),
        Err(error) => Ok(refused(form_problem(error)?)),
    }
}

/// `POST /account/2fa/confirm`: the app's first code turns 2FA on.
async fn confirm(
    State(state): State<ApiState>,
    me: PageUser,
    client: ClientInfo,
    axum::Form(form): axum::Form<CodeForm>,
) -> Result<Response, PageError> {
    let outcome = state
        .identity
        .confirm_totp(me.user.id, &form.code, Some(client.ip))
        .await;
    show_codes(
        &me,
        outcome,
        "Two-factor authentication is on: from now on, signing in asks for the code of your \
         authenticator app.",
        |problem| {
            page::render_with(
                problem.status,
                &EnrolPage::new(&me, None, None, Some(problem)),
            )
        },
    )
}

/// The account password, confirming a change. Wiped from memory when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct PasswordForm {
    password: String,
}

/// `POST /account/2fa/disable`.
async fn disable(
    State(state): State<ApiState>,
    me: PageUser,
    client: ClientInfo,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, PageError> {
    match state
        .identity
        .disable_totp(me.user.id, &form.password, Some(client.ip))
        .await
    {
        Ok(()) => Ok(page::see_other(
            "/account/2fa",
            "Two-factor authentication is off: signing in asks for your password only, and \
             your recovery codes no longer work.",
        )),
        Err(error) => Ok(status_page(&me, Some(form_problem(error)?))),
    }
}

/// `POST /account/2fa/recovery-codes`: new codes; the old ones stop working.
async fn renew_codes(
    State(state): State<ApiState>,
    me: PageUser,
    client: ClientInfo,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, PageError> {
    let outcome = state
        .identity
        .renew_totp_recovery_codes(me.user.id, &form.password, Some(client.ip))
        .await;
    show_codes(
        &me,
        outcome,
        "Here are your new recovery codes; the old ones no longer work.",
        |problem| status_page(&me, Some(problem)),
    )
}
