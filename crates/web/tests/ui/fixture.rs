//! Pages over a real SQLite store in a temporary folder, driven in process with
//! `tower::ServiceExt::oneshot` the way a browser would: cookies, form posts with
//! `Sec-Fetch-Site: same-origin`, redirects not followed (tests look at them).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use postwerk_core::{
    Actor, Admin, Audit, CoreError, Delivery, FailureLimiter, FailurePolicy, Identity, MailboxAuth,
    Mailer, ManagerAuth, Notification, Notifier, OutboxGateway, Recovery, Webmail, WebmailParts,
};
use postwerk_dns::FakeResolver;
use postwerk_store::{Stores, TokenScope};
use postwerk_web::{ApiState, IdentityServices, router};
use serde_json::Value;
use tower::ServiceExt;

/// The platform's host name in these tests.
pub const HOSTNAME: &str = "mail.platform.test";
/// The public URL of the web listener in these tests.
pub const PUBLIC_URL: &str = "https://mail.platform.test";
/// A password the policy accepts.
pub const PASSWORD: &str = "correct-horse-battery";

/// Keeps the notifications (invitations, recovery codes) instead of sending them.
#[derive(Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<Notification>>,
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, notification: Notification) -> Result<(), CoreError> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(notification);
        Ok(())
    }
}

/// The site, its stores, and an operator token for setting things up through the API.
pub struct Ui {
    _dir: tempfile::TempDir,
    pub stores: Stores,
    pub state: ApiState,
    pub mailer: Arc<RecordingMailer>,
    router: Router,
    /// A write-scope token of the platform operator (for set-up calls to `/api/v1`).
    pub operator: String,
}

impl Ui {
    pub async fn new() -> Ui {
        let dir = tempfile::tempdir().unwrap();
        let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
            .await
            .unwrap();
        let mailer = Arc::new(RecordingMailer::default());
        let audit = Audit::start(stores.identity.clone());
        let admin = Admin::from_stores(&stores)
            .with_mailer(mailer.clone())
            .with_public_url(PUBLIC_URL)
            .with_audit(audit.clone());
        let limiter = Arc::new(FailureLimiter::new(FailurePolicy {
            free_failures: 1000,
            delay_step: Duration::ZERO,
            max_delay: Duration::ZERO,
            lockout_after: 1000,
            lockout: Duration::from_secs(600),
        }));
        let auth = ManagerAuth::new(
            stores.directory.clone(),
            stores.manager.clone(),
            stores.identity.clone(),
            limiter.clone(),
        )
        .with_audit(audit.clone());
        let identity = Identity::new(&stores, audit.clone());
        let notifier = Notifier::new(
            Some(mailer.clone()),
            Arc::new(OutboxGateway::new(stores.identity.clone())),
        );
        let services = IdentityServices {
            recovery: Recovery::new(
                &stores,
                identity.clone(),
                notifier,
                audit.clone(),
                limiter.clone(),
            ),
            identity,
            mailbox_auth: Arc::new(
                MailboxAuth::new(stores.directory.clone(), limiter).with_audit(audit.clone()),
            ),
            audit,
            directory: stores.directory.clone(),
        };
        let delivery = Delivery::new(
            stores.directory.clone(),
            stores.mail.clone(),
            stores.queue.clone(),
        );
        let webmail = Webmail::new(WebmailParts {
            directory: stores.directory.clone(),
            mail: stores.mail.clone(),
            manager: stores.manager.clone(),
            blobs: stores.blobs.clone(),
            delivery,
            hostname: HOSTNAME.to_owned(),
            public_url: PUBLIC_URL.to_owned(),
        });
        let state = ApiState::new(
            admin,
            auth,
            services,
            HOSTNAME,
            Arc::new(FakeResolver::new()),
            true,
        )
        .with_webmail(webmail);
        let operator = state
            .auth
            .create_token(Actor::Operator, "tests", TokenScope::Write, None)
            .await
            .unwrap()
            .secret
            .as_str()
            .to_owned();
        Ui {
            router: router(state.clone()),
            _dir: dir,
            stores,
            state,
            mailer,
            operator,
        }
    }

    /// A call to `/api/v1` as the operator, for setting things up; panics unless 2xx.
    pub async fn api(&self, method: Method, uri: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.operator))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(
            status.is_success(),
            "{uri}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// The organization `Acme` with the service `acme.test` (quota 50).
    pub async fn acme(&self) {
        self.api(
            Method::POST,
            "/api/v1/orgs",
            serde_json::json!({"name": "Acme"}),
        )
        .await;
        self.api(
            Method::POST,
            "/api/v1/services",
            serde_json::json!({"org": "Acme", "domain": "acme.test", "address_quota": 50}),
        )
        .await;
    }

    /// The account `login` (password [`PASSWORD`]) in `Acme` with `role` (`owner`, `admin`,
    /// `member`).
    pub async fn user(&self, login: &str, role: &str) {
        self.api(
            Method::POST,
            "/api/v1/users",
            serde_json::json!({
                "login": login, "password": PASSWORD, "display_name": "Some One",
                "org": "Acme", "role": role,
            }),
        )
        .await;
    }

    /// Signs `login` in through the sign-in page; answers the session cookie's value.
    pub async fn sign_in(&self, login: &str) -> String {
        let page = self
            .post("/signin", &[("login", login), ("password", PASSWORD)], None)
            .await;
        assert!(
            page.status.is_redirection(),
            "{}: {}",
            page.status,
            page.html
        );
        session_cookie(&page.headers).expect("a session cookie")
    }

    /// GET `uri` with the session cookie (if any).
    pub async fn get(&self, uri: &str, session: Option<&str>) -> Page {
        let mut request = Request::builder().method(Method::GET).uri(uri);
        if let Some(session) = session {
            request = request.header("cookie", format!("postwerk_session={session}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// POST a form (`application/x-www-form-urlencoded`) as a page of this site would.
    pub async fn post(&self, uri: &str, fields: &[(&str, &str)], session: Option<&str>) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin");
        if let Some(session) = session {
            request = request.header("cookie", format!("postwerk_session={session}"));
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// POST a `multipart/form-data` form: text fields, then files as
    /// `(field, file name, content type, bytes)`.
    pub async fn post_multipart(
        &self,
        uri: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
        session: Option<&str>,
    ) -> Page {
        let boundary = "postwerk-test-boundary-7d1c";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content_type, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                     filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("sec-fetch-site", "same-origin");
        if let Some(session) = session {
            request = request.header("cookie", format!("postwerk_session={session}"));
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Any request, answered whole.
    pub async fn send(&self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Page {
            status,
            headers,
            html: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    /// The notifications sent so far (invitations, codes), oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        self.mailer
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text (lossy for binary downloads; see `bytes`).
    pub html: String,
    pub bytes: Vec<u8>,
}

impl Page {
    /// Asserts a 200 page and answers it.
    #[track_caller]
    pub fn ok(self) -> Page {
        assert_eq!(self.status, StatusCode::OK, "{}", self.html);
        self
    }

    /// The `Location` of a redirect (asserts one).
    #[track_caller]
    pub fn location(&self) -> String {
        assert!(
            self.status.is_redirection(),
            "{}: {}",
            self.status,
            self.html
        );
        self.headers["location"].to_str().unwrap().to_owned()
    }

    /// The one-time notice a redirect leaves for the next page, decoded.
    pub fn notice(&self) -> Option<String> {
        let value = self
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("postwerk_notice="))?
            .split(';')
            .next()?
            .to_owned();
        let bytes = (0..value.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&value[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        String::from_utf8(bytes).ok()
    }
}

/// The value of `postwerk_session` in a `Set-Cookie`.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("postwerk_session="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .filter(|value| !value.is_empty())
}

/// Form encoding of one value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
