//! What every page handler shares: who is signed in ([`PageUser`]), the frame every page is
//! drawn in ([`Layout`]), one-time notices after a redirect ([`see_other`]), rendering
//! ([`render`]) and the error page ([`PageError`]).

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use postwerk_core::{Caller, CoreError};
use postwerk_model::{Role, UserAccount};
use zeroize::Zeroizing;

use crate::ApiState;
use crate::auth::SESSION_COOKIE;
use crate::error::ApiError;

/// The cookie that carries a one-time notice to the page a form redirects to.
pub const NOTICE_COOKIE: &str = "postwerk_notice";

/// The signed-in account of a page request. Without a valid session the request is answered
/// with a redirect to `/signin?next=<the page>`; an account that must choose a new login
/// (ID-10) is sent to `/account/login` from every page but that one and sign-out.
pub struct PageUser {
    /// The caller, for `core` calls (`caller.actor`).
    pub caller: Caller,
    /// The account.
    pub user: UserAccount,
    /// Whether the account owns or administers an organization (the Manager link).
    pub manages: bool,
    /// The notice left by the form that redirected here, if any.
    pub notice: Option<String>,
}

/// Pages an account that must choose a new login may still open.
const WHILE_CHOOSING_LOGIN: [&str; 2] = ["/account/login", "/signout"];

impl FromRequestParts<ApiState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let to_sign_in = || sign_in_redirect(parts.uri.path_and_query().map(|p| p.as_str()));
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let session_cookie = Zeroizing::new(cookie.value().to_owned());
        let caller = match state.auth.authenticate_session(&session_cookie).await {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(to_sign_in()),
            Err(error) => return Err(PageError::from(error).into_response()),
        };
        let Some(user) = caller.user.clone() else {
            return Err(to_sign_in());
        };
        if user.must_choose_login && !WHILE_CHOOSING_LOGIN.contains(&parts.uri.path()) {
            return Err(redirect("/account/login"));
        }
        let manages = match state.directory.user_memberships(user.id).await {
            Ok(memberships) => memberships
                .iter()
                .any(|m| matches!(m.role, Role::Owner | Role::Admin)),
            Err(error) => return Err(PageError::from(CoreError::from(error)).into_response()),
        };
        Ok(PageUser {
            caller,
            user,
            manages,
            notice: notice(&jar),
        })
    }
}

impl PageUser {
    /// The frame of a page titled `title` in the top-level `section` (`mail`, `manager`,
    /// `account`, `devices`), which the navigation highlights.
    pub fn layout(&self, title: impl Into<String>, section: &'static str) -> Layout {
        Layout {
            title: title.into(),
            section,
            signed_in: Some(SignedInAs {
                name: if self.user.display_name.is_empty() {
                    self.user.login.to_string()
                } else {
                    self.user.display_name.clone()
                },
                login: self.user.login.to_string(),
                manages: self.manages,
            }),
            notice: self.notice.clone(),
        }
    }
}

/// What `templates/base.html` draws around every page: give your template a field
/// `layout: Layout`.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The page's title (also the `<title>`, after "Postwerk · ").
    pub title: String,
    /// The highlighted navigation entry.
    pub section: &'static str,
    /// The account, on pages behind the sign-in.
    pub signed_in: Option<SignedInAs>,
    /// A one-time notice shown at the top ("Address created").
    pub notice: Option<String>,
}

impl Layout {
    /// The frame of a page seen before signing in (sign-in, recovery, invitations).
    pub fn public(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            section: "",
            signed_in: None,
            notice: None,
        }
    }

    /// This frame with `notice` shown at the top.
    pub fn with_notice(mut self, notice: impl Into<String>) -> Layout {
        self.notice = Some(notice.into());
        self
    }
}

/// The account in the page header.
#[derive(Clone, Debug)]
pub struct SignedInAs {
    pub name: String,
    pub login: String,
    pub manages: bool,
}

/// The rendered page, or the error page when the template fails.
pub fn render(page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => PageError::internal(&error).into_response(),
    }
}

/// `render` with another status (a form shown again with its errors: 400 or 409).
pub fn render_with(status: StatusCode, page: &impl askama::Template) -> Response {
    let mut response = render(page);
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// 303 See Other to `to` (a path of this site), leaving `notice` for the page there.
pub fn see_other(to: &str, notice: &str) -> Response {
    let mut response = redirect(to);
    let cookie = format!(
        "{NOTICE_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=120",
        hex_encode(notice)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// 303 See Other to `to`, a path of this site.
pub fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(local_path(to)).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// `to` when it is a path of this site, else `/`: a `next=` parameter must never send the
/// browser to another site after signing in (open redirect).
pub fn local_path(to: &str) -> &str {
    let local = to.starts_with('/') && !to.starts_with("//") && !to.starts_with("/\\");
    if local && !to.chars().any(char::is_control) {
        to
    } else {
        "/"
    }
}

fn sign_in_redirect(next: Option<&str>) -> Response {
    match next.filter(|next| *next != "/") {
        Some(next) => redirect(&format!("/signin?next={}", percent_encode(next))),
        None => redirect("/signin"),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3), for a query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The notice a redirect left for a public page (sign-in, recovery, invitations), which has
/// no [`PageUser`] to carry it.
pub struct PublicNotice(pub Option<String>);

impl PublicNotice {
    /// `layout` with the notice shown at its top, when there is one.
    pub fn on(self, layout: Layout) -> Layout {
        match self.0 {
            Some(notice) => layout.with_notice(notice),
            None => layout,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PublicNotice {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PublicNotice(notice(&CookieJar::from_headers(
            &parts.headers,
        ))))
    }
}

/// The notice cookie of a request, decoded.
fn notice(jar: &CookieJar) -> Option<String> {
    let value = jar.get(NOTICE_COOKIE)?.value();
    hex_decode(value).filter(|text| !text.is_empty())
}

/// Whether a request carries a notice (the security middleware then clears it).
pub fn carries_notice(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|cookies| cookies.contains(NOTICE_COOKIE))
}

/// The `Set-Cookie` value that removes the notice once shown.
pub const CLEARED_NOTICE: &str = "postwerk_notice=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";

// Cookie values may not hold spaces, commas or semicolons; a notice is a short sentence, so
// hex costs nothing that matters.
fn hex_encode(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) || hex.len() > 2000 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// An error page: the status and one sentence a person can act on.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
}

impl PageError {
    /// An error with this status and sentence.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    /// 404 with this sentence.
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }

    /// 400 with this sentence.
    pub fn invalid(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }

    /// Our fault: logged with its detail, shown without it.
    pub fn internal(detail: &dyn std::fmt::Display) -> PageError {
        tracing::error!(%detail, "a page failed");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Nothing was changed; please try again.",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The sentence.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<CoreError> for PageError {
    fn from(error: CoreError) -> PageError {
        PageError::from(ApiError::from(error))
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        PageError::new(error.status(), error.message())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::TOO_MANY_REQUESTS => "Please wait",
            status if status.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let page = ErrorPage {
            layout: Layout::public(title),
            status: self.status.as_u16(),
            message: &self.message,
        };
        let html = page
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>Error</title>".to_owned());
        (self.status, Html(html)).into_response()
    }
}

use askama::Template as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_parameters_stay_on_this_site() {
        assert_eq!(local_path("/mail/3"), "/mail/3");
        assert_eq!(local_path("//evil.example/x"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/x\r\nSet-Cookie: a=b"), "/");
    }

    #[test]
    fn notices_survive_the_cookie() {
        let text = "Address anna@example.com created; its password: x;y, z";
        assert_eq!(hex_decode(&hex_encode(text)).as_deref(), Some(text));
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode("abc"), None);
    }
}
