//! Signing in and out of the Manager with a user account (ID-1), who the caller is, and the
//! account's sessions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::cookie::CookieJar;
use postwerk_core::{Actor, Caller, Protocol, SignInRefusal};
use postwerk_model::SessionId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ApiState;
use crate::auth::{
    Authenticated, ClientInfo, cleared_session_cookie, new_session_cookie, session_cookie,
};
use crate::dto::{RoleName, ScopeName, UserView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{Page, PageQuery};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(me))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
}

/// What a person types to sign in. Wiped from memory when dropped.
#[derive(Deserialize, ToSchema, Zeroize, ZeroizeOnDrop)]
pub struct SignInBody {
    /// The account's login (an email address, or a recovery username, ID-10).
    login: String,
    /// The account's password (not a mailbox's: ID-3).
    password: String,
    /// The current code of the authenticator app, for accounts with two-factor
    /// authentication.
    totp: Option<String>,
}

/// A successful sign-in; the session cookie is in `Set-Cookie`.
#[derive(Serialize, ToSchema)]
pub struct SignedInView {
    /// The account.
    user: UserView,
    /// Unix seconds after which the session ends unless used (each request extends it).
    expires_at: i64,
}

/// Signs a user account in and sets the session cookie `postwerk_session` (HttpOnly,
/// SameSite=Lax).
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    request_body = SignInBody,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SignedInView,
            headers(("set-cookie" = String, description = "postwerk_session=…; HttpOnly; SameSite=Lax; Path=/"))),
        (status = 401, description = "`invalid_credentials`, `totp_required` or `totp_invalid`", body = ErrorBody),
        (status = 429, description = "`throttled`: too many failures from this address", body = ErrorBody),
    )
)]
async fn sign_in(
    State(state): State<ApiState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<(CookieJar, Json<SignedInView>), ApiError> {
    let signed_in = state
        .auth
        .sign_in(
            &body.login,
            &body.password,
            body.totp.as_deref(),
            Protocol::Manager,
            client.ip,
            client.user_agent.as_deref(),
        )
        .await?
        .map_err(refusal)?;
    let cookie = new_session_cookie(&signed_in.secret, state.secure_cookies);
    Ok((
        CookieJar::new().add(cookie),
        Json(SignedInView {
            user: UserView::from(&signed_in.user),
            expires_at: signed_in.session.expires_at,
        }),
    ))
}

/// The sentence of a refused sign-in; it never says whether the login exists.
fn refusal(refusal: SignInRefusal) -> ApiError {
    let unauthorized = StatusCode::UNAUTHORIZED;
    match refusal {
        SignInRefusal::Invalid => ApiError::new(
            unauthorized,
            "invalid_credentials",
            "the login or the password is wrong",
        ),
        SignInRefusal::TotpRequired => ApiError::new(
            unauthorized,
            "totp_required",
            "this account uses two-factor authentication: send the current code of your \
             authenticator app as \"totp\"",
        ),
        SignInRefusal::TotpInvalid => ApiError::new(
            unauthorized,
            "totp_invalid",
            "the two-factor code is wrong or was already used; wait for the next code and try \
             again",
        ),
        SignInRefusal::Throttled => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "too many failed sign-ins from your address; wait a few minutes and try again",
        ),
    }
}

/// Signs out: ends the session of the cookie sent, if any, and clears the cookie. Needs no
/// other credential, so an expired session can still clear its cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
    )
)]
async fn sign_out(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<(StatusCode, CookieJar), ApiError> {
    if let Some(cookie) = session_cookie(&headers) {
        state.auth.sign_out(&cookie).await?;
    }
    let cleared = CookieJar::new().add(cleared_session_cookie(state.secure_cookies));
    Ok((StatusCode::NO_CONTENT, cleared))
}

/// Who the caller is.
#[derive(Serialize, ToSchema)]
pub struct MeView {
    /// True for the platform operator's tokens, which act on everything.
    operator: bool,
    /// What the credential allows.
    scope: ScopeName,
    /// The account's login (absent for the operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<String>,
    /// The account's name (absent for the operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    /// ID-10: the account must choose a new login address before doing anything else.
    #[serde(skip_serializing_if = "Option::is_none")]
    must_choose_login: Option<bool>,
    /// ID-1: whether sign-in asks for a TOTP code (absent for the operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    two_factor: Option<bool>,
    /// ID-5: the mailbox whose password is one with the account's, or `null` (absent for the
    /// operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    unified_with: Option<Option<String>>,
    /// ID-8, ID-9: the mobile phone number for recovery (absent for the operator and when
    /// not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    /// ID-8, ID-9: the recovery email address (absent for the operator and when not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_email: Option<String>,
    /// The organizations the account belongs to, with its role in each.
    memberships: Vec<MembershipView>,
}

/// An account's place in an organization.
#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    /// The organization's name.
    org: String,
    /// The account's role there.
    role: RoleName,
}

/// Who the caller is: the account with its organizations and roles, or the operator.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "session",
    responses(
        (status = 200, description = "The caller", body = MeView),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
async fn me(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<MeView>, ApiError> {
    let Caller {
        actor, scope, user, ..
    } = caller;
    let id = match actor {
        Actor::Operator => {
            return Ok(Json(MeView {
                operator: true,
                scope: scope.into(),
                login: None,
                display_name: None,
                must_choose_login: None,
                two_factor: None,
                unified_with: None,
                phone: None,
                recovery_email: None,
                memberships: Vec::new(),
            }));
        }
        Actor::User(id) => id,
    };
    let user = user.ok_or_else(|| {
        ApiError::internal(&"an authenticated user caller came without its account")
    })?;
    let unified_with = state.identity.unified_mailbox(id).await?;
    let mut memberships = Vec::new();
    for org in state.admin.list_orgs(actor).await? {
        let members = state.admin.org_members(actor, &org.name).await?;
        if let Some(me) = members.iter().find(|member| member.user == id) {
            memberships.push(MembershipView {
                org: org.name,
                role: me.role.into(),
            });
        }
    }
    Ok(Json(MeView {
        operator: false,
        scope: scope.into(),
        login: Some(user.login.to_string()),
        display_name: Some(user.display_name.clone()),
        must_choose_login: Some(user.must_choose_login),
        two_factor: Some(user.totp_secret.is_some()),
        unified_with: Some(unified_with.map(|address| address.to_string())),
        phone: user.phone.clone(),
        recovery_email: user.recovery_email.as_ref().map(ToString::to_string),
        memberships,
    }))
}

/// A signed-in session of the caller's account.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Its identifier, for `DELETE /api/v1/sessions/{id}`.
    id: i64,
    /// Unix seconds.
    created_at: i64,
    /// Unix seconds of the last request.
    last_seen_at: i64,
    /// Unix seconds after which it ends unless used.
    expires_at: i64,
    /// The client's address at sign-in.
    ip: Option<String>,
    /// The browser at sign-in.
    user_agent: Option<String>,
    /// True for the session making this request.
    current: bool,
}

/// The caller's account's sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "session",
    params(PageQuery),
    responses(
        (status = 200, description = "The sessions", body = Page<SessionView>),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
async fn list_sessions(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<SessionView>>, ApiError> {
    let sessions = state.auth.list_sessions(caller.actor).await?;
    Ok(Json(page.paginate(sessions, |session| SessionView {
        id: session.id.0,
        created_at: session.created_at,
        last_seen_at: session.last_seen_at,
        expires_at: session.expires_at,
        ip: session.ip,
        user_agent: session.user_agent,
        current: caller.session == Some(session.id),
    })?))
}

/// Ends one of the caller's account's sessions (a browser left signed in elsewhere).
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}",
    tag = "session",
    params(("id" = i64, Path, description = "The session's identifier")),
    responses(
        (status = 204, description = "The session ended"),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 404, description = "No such session of the caller's", body = ErrorBody),
    )
)]
async fn end_session(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .revoke_session(caller.actor, SessionId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
