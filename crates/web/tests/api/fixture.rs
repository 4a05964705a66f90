//! An API over a real SQLite store in a temporary folder, driven in process with
//! `tower::ServiceExt::oneshot`, and a small request builder.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use postwerk_core::FailurePolicy;
use postwerk_store::Stores;
use postwerk_web::{ApiState, router};
use serde_json::Value;
use tower::ServiceExt;

/// The state shared with the pages' suite.
#[path = "../common/state.rs"]
mod state;

pub use state::{HOSTNAME, RecordingMailer, quick_policy, session_cookie};

/// A password the policy accepts.
pub const PASSWORD: &str = "correct-horse-battery";

pub struct Api {
    _dir: tempfile::TempDir,
    /// Kept open for the test's duration.
    _stores: Stores,
    pub state: ApiState,
    pub mailer: Arc<RecordingMailer>,
    router: Router,
    /// A write-scope token of the platform operator.
    pub operator: String,
}

impl Api {
    pub async fn new() -> Api {
        Api::with_policy(quick_policy(1000)).await
    }

    pub async fn with_policy(policy: FailurePolicy) -> Api {
        let site = state::Site::open(policy, "https://manager.test").await;
        let operator = site.operator_token().await;
        Api {
            router: router(site.state.clone()),
            _dir: site.dir,
            _stores: site.stores,
            state: site.state,
            mailer: site.mailer,
            operator,
        }
    }

    pub fn get(&self, uri: &str) -> Call<'_> {
        self.call(Method::GET, uri)
    }

    pub fn post(&self, uri: &str) -> Call<'_> {
        self.call(Method::POST, uri)
    }

    pub fn put(&self, uri: &str) -> Call<'_> {
        self.call(Method::PUT, uri)
    }

    pub fn patch(&self, uri: &str) -> Call<'_> {
        self.call(Method::PATCH, uri)
    }

    pub fn delete(&self, uri: &str) -> Call<'_> {
        self.call(Method::DELETE, uri)
    }

    pub fn call(&self, method: Method, uri: &str) -> Call<'_> {
        Call {
            api: self,
            request: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }

    /// Org `Acme`, service `example.test` (quota 10), both by the operator.
    pub async fn with_acme(self) -> Api {
        self.post("/api/v1/orgs")
            .bearer(&self.operator)
            .json(serde_json::json!({"name": "Acme"}))
            .send()
            .await
            .expect(StatusCode::CREATED);
        self.post("/api/v1/services")
            .bearer(&self.operator)
            .json(serde_json::json!({"domain": "example.test", "org": "Acme", "address_quota": 10}))
            .send()
            .await
            .expect(StatusCode::CREATED);
        self
    }

    /// Creates the account `login` (password [`PASSWORD`]) in `Acme` with `role`.
    pub async fn user(&self, login: &str, role: &str) {
        self.post("/api/v1/users")
            .bearer(&self.operator)
            .json(serde_json::json!({
                "login": login, "password": PASSWORD, "display_name": "Some One",
                "org": "Acme", "role": role,
            }))
            .send()
            .await
            .expect(StatusCode::CREATED);
    }

    /// Signs `login` in and answers the session cookie's value.
    pub async fn sign_in(&self, login: &str) -> String {
        let answer = self
            .post("/api/v1/session")
            .json(serde_json::json!({"login": login, "password": PASSWORD}))
            .send()
            .await
            .expect(StatusCode::OK);
        session_cookie(&answer.headers).expect("a session cookie")
    }
}

impl Api {
    /// A sign-in with explicit credentials, answered whole.
    pub async fn try_sign_in(&self, login: &str, password: &str, totp: Option<&str>) -> Answer {
        self.post("/api/v1/session")
            .json(serde_json::json!({"login": login, "password": password, "totp": totp}))
            .send()
            .await
    }

    /// The texts of the SMS outbox (ID-12), newest first, read as the operator.
    pub async fn sms_outbox(&self) -> Vec<String> {
        let answer = self
            .get("/api/v1/notifications/sms")
            .bearer(&self.operator)
            .send()
            .await
            .expect(StatusCode::OK);
        answer
            .body
            .as_array()
            .expect("a list of messages")
            .iter()
            .map(|sms| sms["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The text of the newest email sent to `to`.
    pub fn last_mail_to(&self, to: &str) -> Option<String> {
        self.mailer
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .rev()
            .find(|mail| mail.to.to_string() == to)
            .map(|mail| mail.text.clone())
    }

    /// How many emails were sent so far.
    pub fn mails_sent(&self) -> usize {
        self.mailer
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

/// The first run of exactly `len` ASCII digits in `text` (a code in a message).
pub fn digits(text: &str, len: usize) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == len)
        .map(str::to_owned)
}

pub struct Call<'a> {
    api: &'a Api,
    request: axum::http::request::Builder,
    body: Body,
}

impl Call<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The session cookie, from the Manager's own pages (a browser says `same-origin`).
    pub fn cookie(self, session: &str) -> Self {
        self.header("cookie", &format!("postwerk_session={session}"))
            .header("sec-fetch-site", "same-origin")
    }

    pub fn json(mut self, value: Value) -> Self {
        self.request = self.request.header("content-type", "application/json");
        self.body = Body::from(value.to_string());
        self
    }

    pub fn csv(mut self, text: &str) -> Self {
        self.request = self.request.header("content-type", "text/csv");
        self.body = Body::from(text.to_owned());
        self
    }

    pub async fn send(self) -> Answer {
        let request = self.request.body(self.body).unwrap();
        let response = self.api.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts the status and answers the body.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Answer {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// Asserts an error answer: status, code, and a sentence.
    #[track_caller]
    pub fn expect_error(self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        let message = self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.len() > 10, "a sentence: {}", self.body);
        message
    }
}
