//! Who is calling: an API token (`Authorization: Bearer <token>`) or the session cookie of a
//! signed-in user account (`postwerk_session`), turned into the `core` [`Caller`] whose
//! [`Actor`](postwerk_core::Actor) every handler hands to `core::Admin`, which checks the
//! permissions.
//!
//! A request that carries an `Authorization` header is judged by it alone, never by a cookie
//! it may also carry: that is what lets [`crate::csrf`] skip such requests, since a browser
//! never adds the header to a forged cross-site request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use postwerk_core::{Actor, Caller};
use postwerk_model::UserId;
use postwerk_store::TokenScope;
use zeroize::Zeroizing;

use crate::ApiState;
use crate::error::ApiError;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "postwerk_session";

/// The authenticated caller of a request; refuses with 401 when there is none, with 403 when
/// a read-only token asks for a change, and with 403 `must_choose_login` when the account must
/// choose a new login first (ID-10) and the request is not one of [`WHILE_CHOOSING_LOGIN`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

/// The credential a request presents.
enum Credential {
    /// The whole token of `Authorization: Bearer <token>`.
    Token(Zeroizing<String>),
    /// The session cookie's value.
    Session(Zeroizing<String>),
    /// Nothing.
    None,
}

impl FromRequestParts<ApiState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller =
            match credential(&parts.headers)? {
                Credential::Token(token) => state
                    .auth
                    .authenticate_token(&token)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthenticated(
                            "the API token is unknown, revoked or expired; create a new one",
                        )
                    })?,
                Credential::Session(cookie) => state
                    .auth
                    .authenticate_session(&cookie)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthenticated("your session has ended; sign in again")
                    })?,
                Credential::None => {
                    return Err(ApiError::unauthenticated(
                        "sign in first, or send an API token in the header \
                     Authorization: Bearer <token>",
                    ));
                }
            };
        if caller.scope == TokenScope::Read && !only_reads(&parts.method) {
            return Err(ApiError::forbidden(
                "this API token may only read (GET requests); create a token with the write \
                 scope to make changes",
            ));
        }
        let must_choose_login = caller
            .user
            .as_ref()
            .is_some_and(|user| user.must_choose_login);
        if must_choose_login && !allowed_while_choosing_login(parts) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "must_choose_login",
                "your login address no longer exists: choose a new login with \
                 PUT /api/v1/me/login before doing anything else",
            ));
        }
        Ok(Authenticated(caller))
    }
}

/// ID-10: what an account signed in with a recovery username may do before it has chosen a
/// new login: see who it is, choose the login, see and end its sessions (signing out,
/// `DELETE /api/v1/session`, needs no authentication at all). Matched on the route's
/// template, so one gate covers every endpoint, present and future.
pub const WHILE_CHOOSING_LOGIN: [(Method, &str); 3] = [
    (Method::GET, "/api/v1/me"),
    (Method::PUT, "/api/v1/me/login"),
    (Method::GET, "/api/v1/sessions"),
];

fn allowed_while_choosing_login(parts: &Parts) -> bool {
    let Some(path) = parts.extensions.get::<MatchedPath>() else {
        return false;
    };
    // HEAD is answered by the GET handler.
    let method = if parts.method == Method::HEAD {
        &Method::GET
    } else {
        &parts.method
    };
    WHILE_CHOOSING_LOGIN
        .iter()
        .any(|(allowed, template)| allowed == method && *template == path.as_str())
}

/// The account of an account caller; the operator's tokens are refused the endpoints about
/// one's own account.
pub fn own_account(caller: &Caller) -> Result<UserId, ApiError> {
    match caller.actor {
        Actor::User(id) => Ok(id),
        Actor::Operator => Err(ApiError::forbidden(
            "the operator has no account; sign in with a user account to manage one",
        )),
    }
}

/// True for the methods a read-scope token may use.
fn only_reads(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// True when the request carries an `Authorization` header, whatever it holds.
pub fn carries_authorization(headers: &HeaderMap) -> bool {
    headers.contains_key(AUTHORIZATION)
}

fn credential(headers: &HeaderMap) -> Result<Credential, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let malformed = || {
            ApiError::unauthenticated(
                "the Authorization header must be \"Bearer <token>\" with an API token",
            )
        };
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(malformed());
        }
        return Ok(Credential::Token(Zeroizing::new(token.to_owned())));
    }
    Ok(match session_cookie(headers) {
        Some(value) => Credential::Session(value),
        None => Credential::None,
    })
}

/// The value of the session cookie, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<Zeroizing<String>> {
    CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|cookie| Zeroizing::new(cookie.value().to_owned()))
        .filter(|value| !value.is_empty())
}

/// The cookie that carries a new session: `HttpOnly` (scripts cannot read it), `SameSite=Lax`
/// (not sent with cross-site subrequests and POSTs), `Path=/` (the console and webmail share
/// it), `Secure` when the API is served over HTTPS. No `Max-Age`: the browser forgets it when
/// it closes, and the server ends it after [`postwerk_core::manager_auth::SESSION_IDLE_SECS`]
/// without activity.
pub fn new_session_cookie(secret: &str, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, secret.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .build()
}

/// The cookie that makes the browser forget the session cookie.
pub fn cleared_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = new_session_cookie("", secure);
    cookie.make_removal();
    cookie
}

/// Where a request comes from, for sign-ins and the session list.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// See [`client_ip`].
    pub ip: IpAddr,
    /// The `User-Agent` header, when it is text.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientInfo {
            ip: client_ip(parts),
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// The client's address, for the failure limiter and the session list. Known when the server
/// serves the router with `into_make_service_with_connect_info::<SocketAddr>()`; otherwise the
/// unspecified address stands for every client, so they share one failure budget (safe, but
/// one guesser then slows everybody's sign-in).
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_bearer_token_wins_over_a_cookie() {
        let both = headers(&[
            ("authorization", "bearer pwk_abc_def"),
            ("cookie", "postwerk_session=xyz"),
        ]);
        match credential(&both) {
            Ok(Credential::Token(token)) => assert_eq!(token.as_str(), "pwk_abc_def"),
            _ => panic!("expected the bearer token"),
        }
    }

    #[test]
    fn a_malformed_authorization_header_is_refused_not_ignored() {
        for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "pwk_abc_def"] {
            let mut map = headers(&[("cookie", "postwerk_session=xyz")]);
            map.insert(AUTHORIZATION, HeaderValue::from_static(value));
            let refused = credential(&map).err().map(|e| e.code());
            assert_eq!(refused, Some("unauthenticated"), "{value}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let map = headers(&[("cookie", "theme=dark; postwerk_session=s3cret; lang=fr")]);
        match credential(&map) {
            Ok(Credential::Session(value)) => assert_eq!(value.as_str(), "s3cret"),
            _ => panic!("expected the session cookie"),
        }
        assert!(matches!(
            credential(&headers(&[("cookie", "theme=dark")])),
            Ok(Credential::None)
        ));
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_when_asked() {
        let text = new_session_cookie("v", true).to_string();
        for part in [
            "postwerk_session=v",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert!(
            !new_session_cookie("v", false)
                .to_string()
                .contains("Secure")
        );
        let cleared = cleared_session_cookie(false).to_string();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
    }
}
