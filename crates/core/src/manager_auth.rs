//! Who is calling the Manager (REST API, console, webmail): API tokens and signed-in sessions
//! of user accounts (ID-1).
//!
//! Only user accounts sign in here: a mailbox's password never opens the Manager (ID-2); the
//! login is looked up among accounts only. Failed sign-ins are counted per client address by
//! the same [`FailureLimiter`] as the mail protocols, so guessing cannot move between them.
//!
//! Tokens look like `pwk_<prefix>_<secret>`: the prefix (12 base32 characters) finds the row,
//! the whole token's SHA-256 is compared in constant time. Session cookies are 32 random
//! bytes, base64url; only their SHA-256 is stored.
//!
//! Every sign-in attempt is recorded in the audit log with its result, and so is every token
//! created or revoked (ID-11).
//!
//! ```text
//!  sign_in(login, password, totp, protocol, ip)
//!    ├─ limiter: locked out? ────────────────────────────► Throttled
//!    ├─ account by login, or by recovery username (ID-10) (accounts only, ID-2)
//!    ├─ Argon2id verify (a dummy hash when unknown) ─ no ─► failure counted ─► Invalid
//!    ├─ TOTP on? no code ─────────────────────────────────► TotpRequired
//!    ├─ six digits: wrong, or its time step used already ─┐
//!    ├─ otherwise: not an unused recovery code ───────────┴► failure counted ─► TotpInvalid
//!    └─ session stored (cookie digest, credential epoch) ─► SignedIn
//! ```

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postwerk_model::{Address, ApiTokenId, RecoveryUsername, SessionId, UserAccount};
use postwerk_store::{
    ApiToken, Directory, IdentityStore, ManagerStore, NewApiToken, NewWebSession, StoreError,
    TokenOwner, TokenScope, WebSession,
};
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::CoreError;
use crate::admin::Actor;
use crate::audit::{Audit, Change, LoginAttempt, LoginResult, Owners, Protocol};
use crate::auth::{Admission, FailureLimiter};
use crate::identity::actor::{actor_label, protocol_of};
use crate::identity::totp;
use crate::password;

/// How long a session lasts without activity.
pub const SESSION_IDLE_SECS: i64 = 12 * 3600;

/// What every API token starts with, so a leaked one is recognisable (secret scanners).
const TOKEN_MARKER: &str = "pwk_";

/// Length of a token's public prefix: 60 random bits, enough to make collisions negligible.
const PREFIX_LEN: usize = 12;

/// RFC 4648 §6 base32 letters, lower case: the prefix alphabet (no `_`, so the token splits
/// unambiguously; the base64url secret may contain `_`).
const PREFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Random bytes in a token's secret part and in a session cookie (256 bits).
const SECRET_BYTES: usize = 32;

/// Attempts at drawing a token prefix not in use (a collision of 60 random bits is not
/// expected; the retries only keep a freak draw from surfacing as an error).
const PREFIX_ATTEMPTS: usize = 3;

/// `last_used_at` of a token and `last_seen_at` of a session are written at most this often,
/// so a busy API client does not turn every request into a database write.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Longest token name.
const TOKEN_NAME_MAX: usize = 100;

/// A browser's `User-Agent` is kept to this many characters in the session list.
const USER_AGENT_MAX: usize = 200;

/// A token just created: the secret is shown once.
#[derive(Debug)]
pub struct IssuedToken {
    /// The stored token.
    pub token: ApiToken,
    /// The whole token, to put in `Authorization: Bearer …`.
    pub secret: Zeroizing<String>,
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The account.
    pub user: UserAccount,
    /// The stored session.
    pub session: WebSession,
    /// The cookie's value, given to the browser once.
    pub secret: Zeroizing<String>,
}

/// Why a sign-in failed. The wording never says whether the login exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Unknown login or wrong password.
    Invalid,
    /// The password is right and the account has two-factor authentication: ask for a code.
    TotpRequired,
    /// The two-factor code is wrong or was used already (RFC 6238 §5.2: no replay).
    TotpInvalid,
    /// Too many failures from this client address.
    Throttled,
}

/// An authenticated caller of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who, for `core::Admin`.
    pub actor: Actor,
    /// What the credential allows.
    pub scope: TokenScope,
    /// The session, when the caller signed in with a cookie (the CSRF check applies then).
    pub session: Option<SessionId>,
    /// The account, when the caller is one (`None` for operator tokens).
    pub user: Option<UserAccount>,
}

/// Tokens and sessions.
#[derive(Clone)]
pub struct ManagerAuth {
    directory: Arc<dyn Directory>,
    store: Arc<dyn ManagerStore>,
    /// Recovery usernames (ID-10) and 2FA recovery codes.
    identity: Arc<dyn IdentityStore>,
    limiter: Arc<FailureLimiter>,
    /// Every sign-in attempt and token change is recorded here (ID-11).
    audit: Audit,
}

impl std::fmt::Debug for ManagerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerAuth")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl ManagerAuth {
    /// Sign-ins over `directory`'s accounts (and `identity`'s recovery usernames and 2FA
    /// recovery codes), records in `store`, failures counted by `limiter` (the one the mail
    /// protocols share).
    pub fn new(
        directory: Arc<dyn Directory>,
        store: Arc<dyn ManagerStore>,
        identity: Arc<dyn IdentityStore>,
        limiter: Arc<FailureLimiter>,
    ) -> ManagerAuth {
        // Compute the dummy hash now rather than during the first sign-in of an unknown
        // login, whose answer would otherwise take twice as long as any other.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn_blocking(dummy_hash));
        }
        ManagerAuth {
            directory,
            store,
            identity,
            limiter,
            audit: Audit::discard(),
        }
    }

    /// Records sign-in attempts and token changes in `audit` (ID-11).
    pub fn with_audit(mut self, audit: Audit) -> ManagerAuth {
        self.audit = audit;
        self
    }

    /// Creates a token for the actor (the operator's tokens are the operator's).
    pub async fn create_token(
        &self,
        actor: Actor,
        name: &str,
        scope: TokenScope,
        expires_at: Option<i64>,
    ) -> Result<IssuedToken, CoreError> {
        let name = token_name(name)?;
        let now = unix_now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(CoreError::Invalid(
                "the token's expiry is in the past: choose a later date or none".into(),
            ));
        }
        // The store refuses a token for an account that does not exist.
        let owner = token_owner(actor);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let prefix = random_prefix();
            let secret = Zeroizing::new(format!(
                "{TOKEN_MARKER}{prefix}_{}",
                random_secret().as_str()
            ));
            let new = NewApiToken {
                owner,
                name: name.clone(),
                prefix,
                secret_hash: sha256_hex(&secret),
                scope,
                created_at: now,
                expires_at,
            };
            match self.store.create_api_token(new).await {
                Ok(token) => {
                    self.record_token(actor, &token, "token_created").await;
                    return Ok(IssuedToken { token, secret });
                }
                Err(StoreError::Conflict(_)) if attempts < PREFIX_ATTEMPTS => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The actor's tokens, revoked ones included.
    pub async fn list_tokens(&self, actor: Actor) -> Result<Vec<ApiToken>, CoreError> {
        Ok(self.store.list_api_tokens(token_owner(actor)).await?)
    }

    /// Revokes one of the actor's tokens (the operator may revoke any).
    pub async fn revoke_token(&self, actor: Actor, id: ApiTokenId) -> Result<(), CoreError> {
        let not_found = || CoreError::NotFound(format!("you have no API token with id {id}"));
        let now = unix_now();
        match actor {
            Actor::Operator => {
                self.store
                    .revoke_api_token(id, now)
                    .await
                    .map_err(|error| not_found_as(error, not_found))?;
                // The store answers no owner for an id; the operator reads every entry.
                self.audit.change(Change {
                    protocol: Protocol::Cli,
                    ip: None,
                    actor: String::from("operator"),
                    subject: format!("API token #{id}"),
                    event: "token_revoked",
                    detail: String::new(),
                    owners: Owners::default(),
                });
                Ok(())
            }
            // Another account's token is answered exactly like a missing one, so its
            // existence is not revealed.
            Actor::User(user) => {
                let tokens = self.store.list_api_tokens(TokenOwner::User(user)).await?;
                let token = tokens
                    .into_iter()
                    .find(|token| token.id == id)
                    .ok_or_else(not_found)?;
                if token.revoked_at.is_some() {
                    return Ok(());
                }
                self.store
                    .revoke_api_token(id, now)
                    .await
                    .map_err(|error| not_found_as(error, not_found))?;
                self.record_token(actor, &token, "token_revoked").await;
                Ok(())
            }
        }
    }

    /// The caller a bearer token stands for; `None` for an unknown, revoked or expired token
    /// or one whose account is gone.
    pub async fn authenticate_token(&self, token: &str) -> Result<Option<Caller>, CoreError> {
        let Some(prefix) = token_prefix(token) else {
            return Ok(None);
        };
        let Some(stored) = self.store.api_token_by_prefix(prefix).await? else {
            return Ok(None);
        };
        if !digest_matches(&sha256_hex(token), &stored.secret_hash) {
            return Ok(None);
        }
        let now = unix_now();
        if stored.revoked_at.is_some() || stored.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let (actor, user) = match stored.owner {
            TokenOwner::Operator => (Actor::Operator, None),
            TokenOwner::User(id) => match self.directory.user(id).await? {
                Some(account) => (Actor::User(id), Some(account)),
                None => return Ok(None),
            },
        };
        if stored
            .last_used_at
            .is_none_or(|last| now - last >= TOUCH_INTERVAL_SECS)
        {
            self.store.touch_api_token(stored.id, now).await?;
        }
        Ok(Some(Caller {
            actor,
            scope: stored.scope,
            session: None,
            user,
        }))
    }

    /// Signs a user account in with its password, and its TOTP code when it has two-factor
    /// authentication (RFC 6238, 30 s steps, one step of skew, a code used once only) or one
    /// of its single-use recovery codes in place of the code. `login` is the account's login
    /// or, after its hosted login address was deleted, its recovery username (ID-10). Every
    /// attempt is recorded in the audit log under `protocol` (ID-11).
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        protocol: Protocol,
        ip: IpAddr,
        user_agent: Option<&str>,
    ) -> Result<Result<SignedIn, SignInRefusal>, CoreError> {
        let attempt = |result: LoginResult, user: Option<&UserAccount>| LoginAttempt {
            protocol,
            ip: Some(ip),
            subject: login.trim().to_owned(),
            result,
            owners: Owners {
                user: user.map(|account| account.id),
                ..Owners::default()
            },
        };
        if self.limiter.admit(ip, Instant::now()) == Admission::Refuse {
            self.audit.login(attempt(LoginResult::Throttled, None));
            return Ok(Err(SignInRefusal::Throttled));
        }
        // Accounts only: a hosted address's mailbox password is never looked at here (ID-2).
        let account = self.account_named(login).await?;
        let known = account.clone();
        let Some(account) = self.verified(account, password).await else {
            let result = match &known {
                Some(_) => LoginResult::WrongPassword,
                None => LoginResult::Unknown,
            };
            self.audit.login(attempt(result, known.as_ref()));
            return Ok(Err(self.refuse(ip, SignInRefusal::Invalid).await));
        };
        if let Some(secret) = &account.totp_secret {
            // Not a failure: the first step of a two-step sign-in. Not a success either, so a
            // guesser who holds the password cannot reset the failure count between codes.
            let Some(code) = totp.filter(|code| !code.trim().is_empty()) else {
                self.audit
                    .login(attempt(LoginResult::TotpRequired, Some(&account)));
                return Ok(Err(SignInRefusal::TotpRequired));
            };
            let accepted = if totp::looks_like_code(code) {
                let now = u64::try_from(unix_now()).unwrap_or(0);
                totp::accept(account.id, secret, code, now)
            } else {
                self.recovery_code_accepted(&account, code, protocol, ip)
                    .await?
            };
            if !accepted {
                self.audit
                    .login(attempt(LoginResult::TotpInvalid, Some(&account)));
                return Ok(Err(self.refuse(ip, SignInRefusal::TotpInvalid).await));
            }
        }
        self.limiter.succeed(ip);

        let secret = random_secret();
        let now = unix_now();
        let session = self
            .store
            .create_web_session(NewWebSession {
                user: account.id,
                secret_hash: sha256_hex(&secret),
                credential_epoch: account.credential_epoch,
                created_at: now,
                expires_at: now + SESSION_IDLE_SECS,
                ip: Some(ip.to_string()),
                user_agent: user_agent.and_then(trimmed_user_agent),
            })
            .await?;
        self.audit
            .login(attempt(LoginResult::Success, Some(&account)));
        Ok(Ok(SignedIn {
            user: account,
            session,
            secret,
        }))
    }

    /// The caller a session cookie stands for; `None` for an unknown or expired session, or
    /// one opened before the account's password changed (ID-6). Slides the expiry.
    pub async fn authenticate_session(&self, cookie: &str) -> Result<Option<Caller>, CoreError> {
        // Looked up by the cookie's digest: timing of the lookup can only reveal something
        // about a SHA-256 output, which gives no way towards a valid cookie.
        let Some(session) = self.store.web_session_by_hash(&sha256_hex(cookie)).await? else {
            return Ok(None);
        };
        let now = unix_now();
        if session.expires_at <= now {
            self.forget_session(session.id).await?;
            return Ok(None);
        }
        let account = match self.directory.user(session.user).await? {
            Some(account) if account.credential_epoch == session.credential_epoch => account,
            // The account is gone, or its password changed since the sign-in (ID-6).
            _ => {
                self.forget_session(session.id).await?;
                return Ok(None);
            }
        };
        if now - session.last_seen_at >= TOUCH_INTERVAL_SECS {
            self.store
                .touch_web_session(session.id, now, now + SESSION_IDLE_SECS)
                .await?;
        }
        Ok(Some(Caller {
            actor: Actor::User(account.id),
            scope: TokenScope::Write,
            session: Some(session.id),
            user: Some(account),
        }))
    }

    /// Ends the session of this cookie (sign-out); unknown cookies are ignored.
    pub async fn sign_out(&self, cookie: &str) -> Result<(), CoreError> {
        if let Some(session) = self.store.web_session_by_hash(&sha256_hex(cookie)).await? {
            self.forget_session(session.id).await?;
        }
        Ok(())
    }

    /// The account's sessions.
    pub async fn list_sessions(&self, actor: Actor) -> Result<Vec<WebSession>, CoreError> {
        match actor {
            // The operator works from the command line and never signs in.
            Actor::Operator => Ok(Vec::new()),
            Actor::User(user) => Ok(self.store.list_web_sessions(user).await?),
        }
    }

    /// Ends one of the account's sessions.
    pub async fn revoke_session(&self, actor: Actor, id: SessionId) -> Result<(), CoreError> {
        let not_found = || CoreError::NotFound(format!("you have no session with id {id}"));
        let Actor::User(user) = actor else {
            return Err(not_found());
        };
        let sessions = self.store.list_web_sessions(user).await?;
        if !sessions.iter().any(|session| session.id == id) {
            return Err(not_found());
        }
        self.store
            .delete_web_session(id)
            .await
            .map_err(|error| not_found_as(error, not_found))?;
        let login = actor_label(self.directory.as_ref(), actor).await;
        self.audit.change(Change {
            protocol: Protocol::Manager,
            ip: None,
            actor: login.clone(),
            subject: login,
            event: "session_revoked",
            detail: format!("session #{id}"),
            owners: Owners {
                user: Some(user),
                ..Owners::default()
            },
        });
        Ok(())
    }

    /// The account when `password` is its password. Argon2id runs off the async workers; an
    /// unknown login is checked against a dummy hash of the same cost, so the refusal takes
    /// as long as for a known login with a wrong password.
    async fn verified(&self, account: Option<UserAccount>, password: &str) -> Option<UserAccount> {
        if password.len() > password::MAX_PASSWORD_LEN {
            // No account can have it (the policy refuses it), and hashing it would be work
            // done for an attacker.
            return None;
        }
        let stored = account
            .as_ref()
            .map(|account| account.password_hash.clone());
        let password = Zeroizing::new(password.to_owned());
        let matches = password::off_thread(move || {
            let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
            password::verify(&password, stored)
        })
        .await
        .unwrap_or(false);
        account.filter(|_| matches)
    }

    /// The account a sign-in names: by login address, or by recovery username (ID-10).
    async fn account_named(&self, login: &str) -> Result<Option<UserAccount>, CoreError> {
        let login = login.trim();
        if let Ok(address) = Address::parse(login) {
            return Ok(self.directory.user_by_login(&address).await?);
        }
        match RecoveryUsername::parse(login) {
            Ok(username) => Ok(self.identity.user_by_recovery_username(&username).await?),
            Err(_) => Ok(None),
        }
    }

    /// True when `typed` is one of the account's unused 2FA recovery codes, which is then
    /// used up (and the use recorded: the owner should know their paper was needed).
    async fn recovery_code_accepted(
        &self,
        account: &UserAccount,
        typed: &str,
        protocol: Protocol,
        ip: IpAddr,
    ) -> Result<bool, CoreError> {
        let stored = self.identity.totp_recovery_codes(account.id).await?;
        let Some(id) = totp::matching_recovery_code(typed, stored).await else {
            return Ok(false);
        };
        // False when a concurrent sign-in used the same code first.
        if !self.identity.use_totp_recovery_code(id, unix_now()).await? {
            return Ok(false);
        }
        let left = self.identity.totp_recovery_codes(account.id).await?.len();
        self.audit.change(Change {
            protocol,
            ip: Some(ip),
            actor: account.login.to_string(),
            subject: account.login.to_string(),
            event: "totp_recovery_code_used",
            detail: format!("{left} unused recovery codes left"),
            owners: Owners {
                user: Some(account.id),
                ..Owners::default()
            },
        });
        Ok(true)
    }

    /// Records the creation or revocation of `token` (ID-11).
    async fn record_token(&self, actor: Actor, token: &ApiToken, event: &'static str) {
        let owner = match token.owner {
            TokenOwner::Operator => None,
            TokenOwner::User(user) => Some(user),
        };
        let scope = match token.scope {
            TokenScope::Read => "read-only",
            TokenScope::Write => "read and write",
        };
        self.audit.change(Change {
            protocol: protocol_of(actor),
            ip: None,
            actor: actor_label(self.directory.as_ref(), actor).await,
            subject: format!("API token \"{}\" ({})", token.name, token.prefix),
            event,
            detail: format!("{scope} token #{}", token.id),
            owners: Owners {
                user: owner,
                ..Owners::default()
            },
        });
    }

    /// Counts a failure for `ip` and waits the limiter's delay before answering `refusal`.
    async fn refuse(&self, ip: IpAddr, refusal: SignInRefusal) -> SignInRefusal {
        let delay = self.limiter.fail(ip, Instant::now());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        refusal
    }

    /// Deletes a session that no longer works; one deleted meanwhile is fine.
    async fn forget_session(&self, id: SessionId) -> Result<(), CoreError> {
        match self.store.delete_web_session(id).await {
            Ok(()) | Err(StoreError::NotFound(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// A store's `NotFound` in the caller's words (`not_found`); other errors as they are.
fn not_found_as(error: StoreError, not_found: impl FnOnce() -> CoreError) -> CoreError {
    match error {
        StoreError::NotFound(_) => not_found(),
        other => other.into(),
    }
}

/// Whose a token created by `actor` is.
fn token_owner(actor: Actor) -> TokenOwner {
    match actor {
        Actor::Operator => TokenOwner::Operator,
        Actor::User(id) => TokenOwner::User(id),
    }
}

/// A token name as stored: trimmed, not empty, short, printable.
fn token_name(name: &str) -> Result<String, CoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CoreError::Invalid(
            "give the token a name, so you can recognise it in the list later".into(),
        ));
    }
    if name.chars().count() > TOKEN_NAME_MAX {
        return Err(CoreError::Invalid(format!(
            "the token's name is too long: use at most {TOKEN_NAME_MAX} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::Invalid(
            "the token's name contains a control character".into(),
        ));
    }
    Ok(name.to_owned())
}

/// The prefix of a well-formed `pwk_<prefix>_<secret>` token.
fn token_prefix(token: &str) -> Option<&str> {
    let (prefix, secret) = token.strip_prefix(TOKEN_MARKER)?.split_once('_')?;
    let well_formed = prefix.len() == PREFIX_LEN
        && prefix.bytes().all(|b| PREFIX_ALPHABET.contains(&b))
        && !secret.is_empty();
    well_formed.then_some(prefix)
}

fn random_prefix() -> String {
    let mut rng = rand::rng();
    (0..PREFIX_LEN)
        .map(|_| char::from(PREFIX_ALPHABET[rng.random_range(0..PREFIX_ALPHABET.len())]))
        .collect()
}

/// 256 random bits, base64url without padding (43 characters).
fn random_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    rand::rng().fill(&mut bytes[..]);
    Zeroizing::new(URL_SAFE_NO_PAD.encode(*bytes))
}

/// Lower-case hex SHA-256: what the store keeps of tokens and cookies.
fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two hex digests.
fn digest_matches(computed: &str, stored: &str) -> bool {
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// The `User-Agent` kept with a session: trimmed, at most [`USER_AGENT_MAX`] characters,
/// `None` when empty.
fn trimmed_user_agent(user_agent: &str) -> Option<String> {
    let trimmed: String = user_agent.trim().chars().take(USER_AGENT_MAX).collect();
    let trimmed = trimmed.trim_end();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// An Argon2id hash of a random password with the parameters real hashes use, verified in
/// place of the missing hash of an unknown login.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| password::hash(&password::generate()).unwrap_or_default())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
