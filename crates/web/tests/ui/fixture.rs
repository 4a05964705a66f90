//! Pages over a real SQLite store in a temporary folder, driven in process with
//! `tower::ServiceExt::oneshot` the way a browser would: cookies, form posts with
//! `Sec-Fetch-Site: same-origin`, redirects not followed (tests look at them).

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use postwerk_core::{Delivery, Notification, Webmail, WebmailParts};
use postwerk_model::{Address, AddressId};
use postwerk_store::Stores;
use postwerk_web::{ApiState, router};
use serde_json::Value;
use tower::ServiceExt;

/// The state shared with the API's suite.
#[path = "../common/state.rs"]
mod state;

pub use state::{HOSTNAME, RecordingMailer, session_cookie};

/// The public URL of the web listener in these tests.
pub const PUBLIC_URL: &str = "https://mail.platform.test";
/// A password the policy accepts.
pub const PASSWORD: &str = "correct-horse-battery";

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
        let site = state::Site::open(state::quick_policy(1000), PUBLIC_URL).await;
        let operator = site.operator_token().await;
        let stores = site.stores;
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
        let state = site.state.with_webmail(webmail);
        Ui {
            router: router(state.clone()),
            _dir: site.dir,
            stores,
            state,
            mailer: site.mailer,
            operator,
        }
    }

    /// A new site with `Acme` (see [`Ui::acme`]) and the member `login` in it.
    pub async fn acme_with_member(login: &str) -> Ui {
        let ui = Ui::new().await;
        ui.acme().await;
        ui.user(login, "member").await;
        ui
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

    /// The mailbox `local@acme.test` with the mailbox password `password`, held by nobody,
    /// created through the API.
    pub async fn mailbox(&self, local: &str, password: &str) {
        self.api(
            Method::POST,
            "/api/v1/services/acme.test/addresses",
            serde_json::json!({"local_part": local, "password": password}),
        )
        .await;
    }

    /// Gives the account `login` access to `address` with `permissions` (ADDR-9), through
    /// the API.
    pub async fn grant(&self, address: &str, login: &str, permissions: &[&str]) {
        self.api(
            Method::PUT,
            &format!("/api/v1/addresses/{address}/access/{login}"),
            serde_json::json!({ "permissions": permissions }),
        )
        .await;
    }

    /// A read of `/api/v1` as the operator, to check what a page changed; panics unless 2xx.
    pub async fn api_get(&self, uri: &str) -> Value {
        self.api(Method::GET, uri, Value::Null).await
    }

    /// The address `address` as the API describes it to the operator.
    pub async fn address_details(&self, address: &str) -> Value {
        self.api_get(&format!("/api/v1/addresses/{address}")).await
    }

    /// The store's id of the hosted address `address` (the pages' URLs carry it).
    pub async fn address_id(&self, address: &str) -> AddressId {
        let parsed: Address = address.parse().unwrap();
        self.stores
            .directory
            .address_by_address(&parsed)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{address} is not hosted"))
            .id
    }

    /// Signs `login` in through the sign-in page; answers the session cookie's value.
    pub async fn sign_in(&self, login: &str) -> String {
        let page = self.try_sign_in(login, PASSWORD).await;
        assert!(
            page.status.is_redirection(),
            "{}: {}",
            page.status,
            page.html
        );
        session_cookie(&page.headers).expect("a session cookie")
    }

    /// Posts the sign-in form with `login` and `password` (no 2FA code), without a session.
    pub async fn try_sign_in(&self, login: &str, password: &str) -> Page {
        self.post("/signin", &[("login", login), ("password", password)], None)
            .await
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

    /// Any request, its answer not read: for streams (Server-Sent Events) that a test reads
    /// frame by frame.
    pub async fn open(&self, request: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(request).await.unwrap()
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
