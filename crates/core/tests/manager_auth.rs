//! `ManagerAuth` over a real embedded store in a temporary folder: API tokens, sign-in of user
//! accounts (ID-1, ID-2) with two-factor codes (RFC 6238), sessions ending on a password
//! change (ID-6), and the failure limiter shared with the mail protocols.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postwerk_core::manager_auth::SESSION_IDLE_SECS;
use postwerk_core::{
    Actor, CoreError, FailureLimiter, FailurePolicy, LoginOutcome, MailboxAuth, ManagerAuth,
    Protocol, SignInRefusal, SignedIn, password,
};
use postwerk_model::{
    AddressKind, Domain, LocalPart, Permissions, ServiceFeatures, UserAccount, UserId,
};
use postwerk_store::{NewAddress, NewService, NewUser, NewWebSession, Stores, TokenScope};
use sha2::{Digest, Sha256};

const ALICE_PASSWORD: &str = "alice account secret";
const BOB_PASSWORD: &str = "bob account secret!";
const MAILBOX_PASSWORD: &str = "toto mailbox secret";
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";

struct Fixture {
    dir: tempfile::TempDir,
    stores: Stores,
    limiter: Arc<FailureLimiter>,
    auth: ManagerAuth,
    alice: UserAccount,
    bob: UserAccount,
}

/// A few failures are free, then each costs `delay_step`; the fifth locks the address out.
fn policy() -> FailurePolicy {
    FailurePolicy {
        free_failures: 2,
        delay_step: Duration::from_secs(1),
        max_delay: Duration::from_secs(1),
        lockout_after: 5,
        lockout: Duration::from_secs(600),
    }
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

fn unix_now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

async fn create_user(stores: &Stores, login: &str, password: &str) -> UserAccount {
    stores
        .directory
        .create_user(NewUser {
            login: login.parse().unwrap(),
            display_name: login.split('@').next().unwrap().to_owned(),
            password_hash: password::hash(password).unwrap(),
            phone: None,
            recovery_email: None,
        })
        .await
        .unwrap()
}

/// Accounts alice@outside.test and bob@outside.test, and the hosted mailbox
/// toto@example.test with its own password (no account has that login).
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let org = stores.directory.create_org("Acme").await.unwrap();
    let service = stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: Domain::parse("example.test").unwrap(),
            address_quota: 10,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .unwrap();
    stores
        .directory
        .create_address(NewAddress {
            service: service.id,
            local: LocalPart::parse("toto").unwrap(),
            kind: AddressKind::Mailbox,
            display_name: String::new(),
            password_hash: Some(password::hash(MAILBOX_PASSWORD).unwrap()),
            redirect: None,
            storage_limit: None,
        })
        .await
        .unwrap();
    let alice = create_user(&stores, "alice@outside.test", ALICE_PASSWORD).await;
    let bob = create_user(&stores, "bob@outside.test", BOB_PASSWORD).await;
    let limiter = Arc::new(FailureLimiter::new(policy()));
    let auth = ManagerAuth::new(
        stores.directory.clone(),
        stores.manager.clone(),
        stores.identity.clone(),
        limiter.clone(),
    );
    Fixture {
        dir,
        stores,
        limiter,
        auth,
        alice,
        bob,
    }
}

impl Fixture {
    async fn sign_in(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
        from: IpAddr,
    ) -> Result<SignedIn, SignInRefusal> {
        self.auth
            .sign_in(
                login,
                password,
                totp,
                Protocol::Manager,
                from,
                Some(USER_AGENT),
            )
            .await
            .unwrap()
    }

    async fn alice_signs_in(&self) -> SignedIn {
        self.sign_in("alice@outside.test", ALICE_PASSWORD, None, ip(1))
            .await
            .expect("alice signs in")
    }

    /// Turns on two-factor authentication for `user`. The directory has no operation for it
    /// yet (enrolment belongs to the identity issue), so the column is written with Python's
    /// sqlite3, as another process would.
    fn enable_totp(&self, user: UserId, secret: &str) {
        let database = self
            .dir
            .path()
            .join("data")
            .join(postwerk_store::DATABASE_FILE);
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys\n\
                 db = sqlite3.connect(sys.argv[1], timeout=10)\n\
                 db.execute('UPDATE users SET totp_secret = ? WHERE id = ?', \
                 (sys.argv[2], int(sys.argv[3])))\n\
                 db.commit()\n",
            ])
            .arg(&database)
            .arg(secret)
            .arg(user.0.to_string())
            .status()
            .expect("python3 runs");
        assert!(status.success(), "setting the TOTP secret failed");
    }
}

// ---- API tokens

#[tokio::test]
async fn token_is_shown_once_stored_hashed_and_authenticates_its_owner() {
    let f = fixture().await;
    let issued = f
        .auth
        .create_token(
            Actor::User(f.alice.id),
            "  billing sync ",
            TokenScope::Write,
            None,
        )
        .await
        .unwrap();
    let secret = issued.secret.as_str();
    assert!(
        secret.starts_with(&format!("pwk_{}_", issued.token.prefix)),
        "{secret}"
    );
    assert_eq!(issued.token.prefix.len(), 12);
    assert_eq!(issued.token.name, "billing sync");
    assert_eq!(
        issued.token.secret_hash,
        hex::encode(Sha256::digest(secret.as_bytes())),
        "only the SHA-256 of the whole token is stored"
    );

    let caller = f.auth.authenticate_token(secret).await.unwrap().unwrap();
    assert_eq!(caller.actor, Actor::User(f.alice.id));
    assert_eq!(caller.scope, TokenScope::Write);
    assert_eq!(caller.session, None);
    assert_eq!(caller.user.map(|user| user.id), Some(f.alice.id));

    let listed = f.auth.list_tokens(Actor::User(f.alice.id)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "use is recorded");

    // One character changed in the secret part, the prefix kept: refused.
    let mut tampered = secret.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(f.auth.authenticate_token(&tampered).await.unwrap(), None);
    for garbage in ["", "pwk_", "pwk_short_x", "Bearer x", &secret[4..]] {
        assert_eq!(
            f.auth.authenticate_token(garbage).await.unwrap(),
            None,
            "{garbage}"
        );
    }
}

#[tokio::test]
async fn read_scope_is_carried_to_the_caller() {
    let f = fixture().await;
    let issued = f
        .auth
        .create_token(Actor::User(f.bob.id), "dashboard", TokenScope::Read, None)
        .await
        .unwrap();
    let caller = f
        .auth
        .authenticate_token(&issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.scope, TokenScope::Read);
    assert_eq!(caller.actor, Actor::User(f.bob.id));
}

#[tokio::test]
async fn a_revoked_token_never_works_again() {
    let f = fixture().await;
    let actor = Actor::User(f.alice.id);
    let issued = f
        .auth
        .create_token(actor, "laptop", TokenScope::Write, None)
        .await
        .unwrap();
    f.auth.revoke_token(actor, issued.token.id).await.unwrap();
    assert_eq!(
        f.auth.authenticate_token(&issued.secret).await.unwrap(),
        None
    );
    // Still listed, marked revoked; revoking again changes nothing.
    let listed = f.auth.list_tokens(actor).await.unwrap();
    let revoked_at = listed[0].revoked_at.expect("marked revoked");
    f.auth.revoke_token(actor, issued.token.id).await.unwrap();
    let listed = f.auth.list_tokens(actor).await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(revoked_at));
}

#[tokio::test]
async fn an_expired_token_stops_working_and_a_past_expiry_is_refused() {
    let f = fixture().await;
    let actor = Actor::User(f.alice.id);
    let past = f
        .auth
        .create_token(actor, "old", TokenScope::Read, Some(unix_now() - 10))
        .await
        .unwrap_err();
    assert!(matches!(past, CoreError::Invalid(_)), "{past}");
    assert!(past.to_string().contains("expiry"), "{past}");

    let issued = f
        .auth
        .create_token(actor, "short", TokenScope::Read, Some(unix_now() + 1))
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate_token(&issued.secret)
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        f.auth.authenticate_token(&issued.secret).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_token_needs_a_name() {
    let f = fixture().await;
    for name in ["", "   ", "tab\tinside", &"n".repeat(101)] {
        let error = f
            .auth
            .create_token(Actor::Operator, name, TokenScope::Read, None)
            .await
            .unwrap_err();
        assert!(matches!(error, CoreError::Invalid(_)), "{name:?}: {error}");
    }
}

#[tokio::test]
async fn users_see_and_revoke_only_their_own_tokens() {
    let f = fixture().await;
    let (alice, bob) = (Actor::User(f.alice.id), Actor::User(f.bob.id));
    let alices = f
        .auth
        .create_token(alice, "alice's", TokenScope::Write, None)
        .await
        .unwrap();
    f.auth
        .create_token(bob, "bob's", TokenScope::Write, None)
        .await
        .unwrap();
    let operators = f
        .auth
        .create_token(Actor::Operator, "ops", TokenScope::Write, None)
        .await
        .unwrap();

    let names = |tokens: Vec<postwerk_store::ApiToken>| {
        tokens.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    assert_eq!(names(f.auth.list_tokens(alice).await.unwrap()), ["alice's"]);
    assert_eq!(names(f.auth.list_tokens(bob).await.unwrap()), ["bob's"]);
    assert_eq!(
        names(f.auth.list_tokens(Actor::Operator).await.unwrap()),
        ["ops"]
    );

    // Bob cannot revoke Alice's token, and is told exactly what a missing id would tell him.
    let foreign = f.auth.revoke_token(bob, alices.token.id).await.unwrap_err();
    let missing = f
        .auth
        .revoke_token(bob, postwerk_model::ApiTokenId(999_999))
        .await
        .unwrap_err();
    assert!(matches!(foreign, CoreError::NotFound(_)), "{foreign}");
    assert_eq!(
        foreign
            .to_string()
            .replace(&alices.token.id.to_string(), "ID"),
        missing.to_string().replace("999999", "ID")
    );
    assert!(
        f.auth
            .authenticate_token(&alices.secret)
            .await
            .unwrap()
            .is_some()
    );
    // Nor the operator's.
    let error = f
        .auth
        .revoke_token(alice, operators.token.id)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NotFound(_)), "{error}");

    // The operator may revoke anyone's.
    f.auth
        .revoke_token(Actor::Operator, alices.token.id)
        .await
        .unwrap();
    assert_eq!(
        f.auth.authenticate_token(&alices.secret).await.unwrap(),
        None
    );
    let error = f
        .auth
        .revoke_token(Actor::Operator, postwerk_model::ApiTokenId(999_999))
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NotFound(_)), "{error}");
}

#[tokio::test]
async fn an_operator_token_acts_as_the_operator() {
    let f = fixture().await;
    let issued = f
        .auth
        .create_token(Actor::Operator, "provisioning", TokenScope::Write, None)
        .await
        .unwrap();
    let caller = f
        .auth
        .authenticate_token(&issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.actor, Actor::Operator);
    assert_eq!(caller.user, None);
    assert_eq!(caller.scope, TokenScope::Write);
}

// ---- Sign-in (ID-1, ID-2)

#[tokio::test]
async fn id_1_the_right_password_opens_a_session() {
    let f = fixture().await;
    let long_agent = "A".repeat(300);
    let signed = f
        .auth
        .sign_in(
            " Alice@Outside.test ",
            ALICE_PASSWORD,
            None,
            Protocol::Manager,
            ip(7),
            Some(&long_agent),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(signed.user.id, f.alice.id);
    assert_eq!(signed.session.user, f.alice.id);
    assert_eq!(signed.session.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(
        signed.session.user_agent.as_deref().map(str::len),
        Some(200)
    );
    let lifetime = signed.session.expires_at - signed.session.created_at;
    assert_eq!(lifetime, SESSION_IDLE_SECS);
    assert_eq!(
        signed.session.secret_hash,
        hex::encode(Sha256::digest(signed.secret.as_bytes())),
        "only the cookie's SHA-256 is stored"
    );
    assert_eq!(signed.secret.len(), 43, "32 random bytes in base64url");

    let caller = f
        .auth
        .authenticate_session(&signed.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.actor, Actor::User(f.alice.id));
    assert_eq!(caller.scope, TokenScope::Write);
    assert_eq!(caller.session, Some(signed.session.id));
    assert_eq!(caller.user.map(|user| user.id), Some(f.alice.id));
    assert_eq!(
        f.auth.authenticate_session("not a cookie").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_refusal() {
    let f = fixture().await;
    let wrong = f
        .sign_in("alice@outside.test", "not her password", None, ip(1))
        .await
        .unwrap_err();
    let unknown = f
        .sign_in("nobody@outside.test", ALICE_PASSWORD, None, ip(2))
        .await
        .unwrap_err();
    let malformed = f
        .sign_in("not an address", ALICE_PASSWORD, None, ip(3))
        .await
        .unwrap_err();
    assert_eq!(wrong, SignInRefusal::Invalid);
    assert_eq!(unknown, SignInRefusal::Invalid);
    assert_eq!(malformed, SignInRefusal::Invalid);
    // Nothing was opened.
    let sessions = f.auth.list_sessions(Actor::User(f.alice.id)).await.unwrap();
    assert!(sessions.is_empty());
}

#[tokio::test]
async fn an_unknown_login_takes_as_long_to_refuse_as_a_wrong_password() {
    let f = fixture().await;
    // The fastest of a few tries of each (a different client address each time, so the
    // limiter adds no delay): spikes on a busy machine only ever slow a try down.
    let mut fastest_known = Duration::MAX;
    let mut fastest_unknown = Duration::MAX;
    for attempt in 0..4u8 {
        let started = Instant::now();
        f.sign_in(
            "alice@outside.test",
            "wrong password",
            None,
            ip(100 + attempt),
        )
        .await
        .unwrap_err();
        fastest_known = fastest_known.min(started.elapsed());
        let started = Instant::now();
        f.sign_in(
            "nobody@outside.test",
            "wrong password",
            None,
            ip(200 + attempt),
        )
        .await
        .unwrap_err();
        fastest_unknown = fastest_unknown.min(started.elapsed());
    }
    // Without a dummy Argon2id verification the unknown login would answer at once.
    assert!(
        fastest_unknown * 3 >= fastest_known,
        "unknown login refused in {fastest_unknown:?}, wrong password in {fastest_known:?}"
    );
}

#[tokio::test]
async fn id_2_a_mailbox_password_never_signs_in() {
    let f = fixture().await;
    // toto@example.test is a mailbox, not an account.
    assert_eq!(
        f.sign_in("toto@example.test", MAILBOX_PASSWORD, None, ip(1))
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    // An account with that login but its own password: the mailbox password still fails.
    create_user(&f.stores, "toto@example.test", "toto account secret").await;
    assert_eq!(
        f.sign_in("toto@example.test", MAILBOX_PASSWORD, None, ip(2))
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    let signed = f
        .sign_in("toto@example.test", "toto account secret", None, ip(3))
        .await
        .unwrap();
    assert_eq!(signed.user.login.to_string(), "toto@example.test");
}

#[tokio::test]
async fn id_2_an_account_whose_login_and_password_equal_the_mailbox_signs_in() {
    let f = fixture().await;
    let account = create_user(&f.stores, "toto@example.test", MAILBOX_PASSWORD).await;
    let signed = f
        .sign_in("toto@example.test", MAILBOX_PASSWORD, None, ip(1))
        .await
        .unwrap();
    assert_eq!(signed.user.id, account.id);
}

// ---- Two-factor authentication (RFC 6238)

/// The code an authenticator app shows for `secret` (base32) at `time`, computed with
/// totp-rs on its own, not through `ManagerAuth`.
fn authenticator_code(secret: &str, time: u64) -> String {
    let key = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new()
        .with_secret(key)
        .build_noncompliant();
    totp.generate(time).to_string()
}

/// A six-digit code that no step of the accepted window gives.
fn wrong_code(secret: &str, time: u64) -> String {
    let valid: Vec<String> = [time - 30, time, time + 30]
        .iter()
        .map(|&t| authenticator_code(secret, t))
        .collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|code| !valid.contains(code))
        .unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn totp_is_required_checked_and_used_once() {
    let f = fixture().await;
    let secret = totp_rs::Secret::from((1..=20).collect::<Vec<u8>>()).to_base32();
    f.enable_totp(f.alice.id, &secret);
    let login = "alice@outside.test";

    // The right password alone asks for the code; the wrong one says nothing about it.
    assert_eq!(
        f.sign_in(login, ALICE_PASSWORD, None, ip(1))
            .await
            .unwrap_err(),
        SignInRefusal::TotpRequired
    );
    assert_eq!(
        f.sign_in(login, "not her password", Some("123456"), ip(1))
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    let now = now_secs();
    assert_eq!(
        f.sign_in(
            login,
            ALICE_PASSWORD,
            Some(&wrong_code(&secret, now)),
            ip(1)
        )
        .await
        .unwrap_err(),
        SignInRefusal::TotpInvalid
    );

    let code = authenticator_code(&secret, now_secs());
    let signed = f
        .sign_in(login, ALICE_PASSWORD, Some(&code), ip(1))
        .await
        .expect("the authenticator's current code signs in");
    assert_eq!(signed.user.id, f.alice.id);

    // RFC 6238 §5.2: the same code does not open a second session.
    assert_eq!(
        f.sign_in(login, ALICE_PASSWORD, Some(&code), ip(1))
            .await
            .unwrap_err(),
        SignInRefusal::TotpInvalid
    );
    // Bob has no second factor: a code given anyway is ignored.
    f.sign_in("bob@outside.test", BOB_PASSWORD, Some("000000"), ip(1))
        .await
        .expect("bob signs in");
}

#[tokio::test]
async fn totp_accepts_one_step_of_clock_skew_and_the_short_secrets_of_old_apps() {
    let f = fixture().await;
    // 80 bits, as many services issued and authenticator apps still hold.
    let secret = "JBSWY3DPEHPK3PXP";
    f.enable_totp(f.bob.id, secret);
    let login = "bob@outside.test";
    // The phone's clock is 30 s behind: the previous step's code.
    let behind = authenticator_code(secret, now_secs() - 30);
    f.sign_in(login, BOB_PASSWORD, Some(&behind), ip(1))
        .await
        .expect("one step of skew is accepted");
    // Two steps behind is too old (and older than the step just used anyway).
    let stale = authenticator_code(secret, now_secs() - 90);
    assert_eq!(
        f.sign_in(login, BOB_PASSWORD, Some(&stale), ip(1))
            .await
            .unwrap_err(),
        SignInRefusal::TotpInvalid
    );
}

// ---- Sessions (ID-6)

#[tokio::test]
async fn id_6_a_password_change_ends_the_account_sessions() {
    let f = fixture().await;
    let signed = f.alice_signs_in().await;
    assert!(
        f.auth
            .authenticate_session(&signed.secret)
            .await
            .unwrap()
            .is_some()
    );

    let new_hash = password::hash("alice's new secret").unwrap();
    f.stores
        .directory
        .set_user_password(f.alice.id, &new_hash)
        .await
        .unwrap();
    assert_eq!(
        f.auth.authenticate_session(&signed.secret).await.unwrap(),
        None
    );
    assert!(
        f.auth
            .list_sessions(Actor::User(f.alice.id))
            .await
            .unwrap()
            .is_empty(),
        "the old session is gone"
    );
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, None, ip(1))
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    let again = f
        .sign_in("alice@outside.test", "alice's new secret", None, ip(1))
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate_session(&again.secret)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let f = fixture().await;
    let signed = f.alice_signs_in().await;
    let other = f.alice_signs_in().await;
    f.auth.sign_out(&signed.secret).await.unwrap();
    assert_eq!(
        f.auth.authenticate_session(&signed.secret).await.unwrap(),
        None
    );
    assert!(
        f.auth
            .authenticate_session(&other.secret)
            .await
            .unwrap()
            .is_some(),
        "only that session"
    );
    f.auth.sign_out(&signed.secret).await.unwrap();
    f.auth.sign_out("never issued").await.unwrap();
}

#[tokio::test]
async fn an_expired_session_is_refused_and_an_active_one_slides() {
    let f = fixture().await;
    let now = unix_now();
    let cookie = |name: &str| hex::encode(Sha256::digest(name.as_bytes()));
    let session = |hash: String, created_at: i64, expires_at: i64| NewWebSession {
        user: f.alice.id,
        secret_hash: hash,
        credential_epoch: f.alice.credential_epoch,
        created_at,
        expires_at,
        ip: None,
        user_agent: None,
    };
    f.stores
        .manager
        .create_web_session(session(cookie("expired"), now - 100, now - 1))
        .await
        .unwrap();
    assert_eq!(f.auth.authenticate_session("expired").await.unwrap(), None);

    // Seen two minutes ago, ten seconds left: a request pushes the expiry a full period on.
    let active = f
        .stores
        .manager
        .create_web_session(session(cookie("active"), now - 120, now + 10))
        .await
        .unwrap();
    assert!(
        f.auth
            .authenticate_session("active")
            .await
            .unwrap()
            .is_some()
    );
    let sessions = f.auth.list_sessions(Actor::User(f.alice.id)).await.unwrap();
    let slid = sessions.iter().find(|s| s.id == active.id).unwrap();
    assert!(slid.expires_at >= now + SESSION_IDLE_SECS, "{slid:?}");
    assert!(slid.last_seen_at >= now, "{slid:?}");
    assert_eq!(sessions.len(), 1, "the expired session was removed");
}

#[tokio::test]
async fn users_list_and_revoke_only_their_own_sessions() {
    let f = fixture().await;
    let first = f.alice_signs_in().await;
    let second = f.alice_signs_in().await;
    let bobs = f
        .sign_in("bob@outside.test", BOB_PASSWORD, None, ip(2))
        .await
        .unwrap();
    let (alice, bob) = (Actor::User(f.alice.id), Actor::User(f.bob.id));

    let listed = f.auth.list_sessions(alice).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s.user == f.alice.id));
    assert!(
        f.auth
            .list_sessions(Actor::Operator)
            .await
            .unwrap()
            .is_empty()
    );

    let error = f
        .auth
        .revoke_session(bob, first.session.id)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NotFound(_)), "{error}");
    let error = f
        .auth
        .revoke_session(Actor::Operator, bobs.session.id)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::NotFound(_)), "{error}");
    assert!(
        f.auth
            .authenticate_session(&first.secret)
            .await
            .unwrap()
            .is_some()
    );

    f.auth
        .revoke_session(alice, first.session.id)
        .await
        .unwrap();
    assert_eq!(
        f.auth.authenticate_session(&first.secret).await.unwrap(),
        None
    );
    assert!(
        f.auth
            .authenticate_session(&second.secret)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        f.auth
            .authenticate_session(&bobs.secret)
            .await
            .unwrap()
            .is_some()
    );
}

// ---- Throttling

#[tokio::test]
async fn repeated_failures_are_slowed_then_refused_even_with_the_right_password() {
    let f = fixture().await;
    let attacker = ip(66);
    let mut slowest_free = Duration::ZERO;
    for _ in 0..2 {
        let started = Instant::now();
        f.sign_in("alice@outside.test", "guess", None, attacker)
            .await
            .unwrap_err();
        slowest_free = slowest_free.max(started.elapsed());
    }
    let started = Instant::now();
    assert_eq!(
        f.sign_in("alice@outside.test", "guess", None, attacker)
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    // The third failure waits the policy's step on top of the password check (compared
    // with the free ones, so a slow machine's Argon2 does not decide the outcome).
    let delayed = started.elapsed();
    assert!(
        delayed >= policy().delay_step && delayed >= slowest_free + policy().delay_step / 2,
        "third failure took {delayed:?}, free ones up to {slowest_free:?}"
    );
    for _ in 0..2 {
        f.sign_in("nobody@outside.test", "guess", None, attacker)
            .await
            .unwrap_err();
    }
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, None, attacker)
            .await
            .unwrap_err(),
        SignInRefusal::Throttled
    );
    // Another client address is not affected.
    f.sign_in("alice@outside.test", ALICE_PASSWORD, None, ip(67))
        .await
        .expect("another address signs in");
}

#[tokio::test]
async fn mail_protocol_failures_count_against_manager_sign_in() {
    let f = fixture().await;
    let mailbox = MailboxAuth::new(f.stores.directory.clone(), f.limiter.clone());
    let attacker = ip(99);
    for _ in 0..5 {
        let outcome = mailbox
            .login(
                postwerk_core::Protocol::Imap,
                attacker,
                "toto@example.test",
                "guess",
            )
            .await
            .unwrap();
        assert!(
            matches!(outcome, LoginOutcome::Invalid { .. }),
            "{outcome:?}"
        );
    }
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, None, attacker)
            .await
            .unwrap_err(),
        SignInRefusal::Throttled
    );
}

#[tokio::test]
async fn wrong_two_factor_codes_count_as_failures() {
    let f = fixture().await;
    let secret = totp_rs::Secret::from((21..=40).collect::<Vec<u8>>()).to_base32();
    f.enable_totp(f.alice.id, &secret);
    let attacker = ip(77);
    let wrong = wrong_code(&secret, now_secs());
    for _ in 0..5 {
        // The password alone never resets the count between guesses.
        f.sign_in("alice@outside.test", ALICE_PASSWORD, None, attacker)
            .await
            .unwrap_err();
        f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&wrong), attacker)
            .await
            .unwrap_err();
    }
    let code = authenticator_code(&secret, now_secs());
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&code), attacker)
            .await
            .unwrap_err(),
        SignInRefusal::Throttled
    );
}
