//! The device setup assistant (CLI-3, ID-7): for each mailbox linked to the account, the
//! settings a mail program needs (IMAP 993, SMTP 465, POP3 995, all with implicit TLS as
//! RFC 8314 §3.3 recommends; the full address as the username), how each kind of client finds
//! them (autoconfig, Autodiscover, the Apple profile), and a form that tests a mailbox password
//! exactly as a mail program's login would, through the same `MailboxAuth` call as
//! `POST /api/v1/credentials/test`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use postwerk_core::CredentialTest;
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::linked::{Linked, MailboxRequest, mailbox_links, path_segment};
use crate::ApiState;
use crate::auth::ClientInfo;
use crate::ui::page::{self, Layout, PageError, PageUser, percent_encode};

/// IMAP with implicit TLS (RFC 8314 §3.3), as the autoconfig documents recommend.
const IMAP_PORT: u16 = 993;
/// Message submission with implicit TLS (RFC 8314 §3.3).
const SMTP_PORT: u16 = 465;
/// POP3 with implicit TLS, for programs that only download.
const POP3_PORT: u16 = 995;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/devices", get(index))
        .route("/devices/{mailbox}", get(mailbox))
        .route("/devices/{mailbox}/test", post(test_password))
}

#[derive(Template)]
#[template(path = "devices/index.html")]
struct IndexPage {
    layout: Layout,
    /// Each mailbox's address and its page's path segment.
    mailboxes: Vec<(String, String)>,
}

/// `GET /devices`: the mailboxes to set up.
async fn index(State(state): State<ApiState>, user: PageUser) -> Result<Response, PageError> {
    Ok(page::render(&IndexPage {
        layout: user.layout("Set up a device", "devices"),
        mailboxes: mailbox_links(&state, &user).await?,
    }))
}

/// What the password test came to, as the page says it.
struct TestOutcome {
    /// `ok` or `error-text`, the style sheet's colour.
    class: &'static str,
    sentence: String,
}

#[derive(Template)]
#[template(path = "devices/mailbox.html")]
struct MailboxPage {
    layout: Layout,
    address: String,
    /// The address as a path segment, for the form's action.
    segment: String,
    hostname: String,
    imap_port: u16,
    smtp_port: u16,
    pop3_port: u16,
    /// `/mobileconfig?address=…`, the Apple profile (see `autoconfig/apple.rs`).
    profile_url: String,
    /// The settings page of the mailbox, when the account may change its password there.
    password_page: Option<String>,
    outcome: Option<TestOutcome>,
}

impl MailboxPage {
    fn new(state: &ApiState, user: &PageUser, mailbox: &Linked) -> MailboxPage {
        let address = mailbox.address();
        MailboxPage {
            layout: user.layout(format!("Set up {address}"), "devices"),
            hostname: state.hostname.clone(),
            imap_port: IMAP_PORT,
            smtp_port: SMTP_PORT,
            pop3_port: POP3_PORT,
            profile_url: format!("/mobileconfig?address={}", percent_encode(&address)),
            password_page: mailbox
                .may(postwerk_model::Permissions::CHANGE_PASSWORD)
                .then(|| format!("/settings/{}", path_segment(&address))),
            outcome: None,
            segment: path_segment(&address),
            address,
        }
    }
}

/// `GET /devices/{mailbox}`.
async fn mailbox(
    State(state): State<ApiState>,
    MailboxRequest { user, mailbox }: MailboxRequest,
) -> Result<Response, PageError> {
    Ok(page::render(&MailboxPage::new(&state, &user, &mailbox)))
}

/// The password typed into the test form. Wiped from memory when dropped, never shown again.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct TestForm {
    #[serde(default)]
    password: String,
}

/// `POST /devices/{mailbox}/test` (ID-7): answers on the page itself, since the outcome is
/// about this one attempt and changes nothing. Failures count against the client's address
/// like failed logins, so the form is no faster a guesser than IMAP.
async fn test_password(
    State(state): State<ApiState>,
    client: ClientInfo,
    MailboxRequest { user, mailbox }: MailboxRequest,
    axum::Form(form): axum::Form<TestForm>,
) -> Result<Response, PageError> {
    let mut page = MailboxPage::new(&state, &user, &mailbox);
    if form.password.is_empty() {
        page.outcome = Some(TestOutcome {
            class: "error-text",
            sentence: "Type the mailbox password to test it.".to_owned(),
        });
        return Ok(page::render_with(StatusCode::BAD_REQUEST, &page));
    }
    let tested = state
        .mailbox_auth
        .test_credentials(client.ip, &page.address, &form.password)
        .await?;
    let (status, outcome) = describe(tested, &page.address);
    page.outcome = Some(outcome);
    Ok(page::render_with(status, &page))
}

/// The sentence for each outcome of the tester, in words a person setting up a phone
/// understands.
fn describe(tested: CredentialTest, address: &str) -> (StatusCode, TestOutcome) {
    let error = |sentence: String| TestOutcome {
        class: "error-text",
        sentence,
    };
    match tested {
        CredentialTest::Valid => (
            StatusCode::OK,
            TestOutcome {
                class: "ok",
                sentence: format!(
                    "This password is right: a mail program signing in as {address} would be \
                     accepted."
                ),
            },
        ),
        CredentialTest::WrongPassword => (
            StatusCode::OK,
            error(format!(
                "This is not the password of {address}: a mail program would be refused. \
                 Remember it is the mailbox password, not the one you sign in here with."
            )),
        ),
        CredentialTest::UnknownAddress => (
            StatusCode::OK,
            error(format!(
                "{address} does not take mail program logins; ask its administrator."
            )),
        ),
        CredentialTest::Disabled => (
            StatusCode::OK,
            error(format!(
                "The password is right, but {address} is disabled, so mail programs are \
                 refused; ask its administrator to enable it."
            )),
        ),
        CredentialTest::Throttled => (
            StatusCode::TOO_MANY_REQUESTS,
            error(
                "Too many wrong passwords were tried from your connection; wait a few minutes \
                 and try again."
                    .to_owned(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tester_outcome_has_its_own_sentence() {
        let outcomes = [
            CredentialTest::Valid,
            CredentialTest::WrongPassword,
            CredentialTest::UnknownAddress,
            CredentialTest::Disabled,
            CredentialTest::Throttled,
        ];
        let sentences: std::collections::HashSet<String> = outcomes
            .into_iter()
            .map(|outcome| describe(outcome, "a@b.test").1.sentence)
            .collect();
        assert_eq!(sentences.len(), outcomes.len());
        assert_eq!(describe(CredentialTest::Valid, "a@b.test").1.class, "ok");
        assert_eq!(
            describe(CredentialTest::Throttled, "a@b.test").0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
