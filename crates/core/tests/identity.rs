//! The account side of SPEC §1 over a real embedded store in a temporary folder: two-factor
//! enrolment with codes computed independently (ID-1), the account's own password (ID-6),
//! every branch of password unification (ID-5), the recovery-username sign-in (ID-10) and the
//! audit entries these leave (ID-11).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postwerk_core::admin::CreateUser;
use postwerk_core::{
    Actor, Admin, Audit, AuditQuery, CoreError, CreateAddress, FailureLimiter, FailurePolicy,
    Grant, Holder, Identity, LoginOutcome, MailboxAuth, ManagerAuth, Protocol, SignInRefusal,
    SignedIn, Unification,
};
use postwerk_model::{
    Address, AddressKind, Permissions, Role, UnificationBlocker, UserAccount, UserId,
};
use postwerk_store::{AuditCategory, Stores};
use zeroize::Zeroizing;

const TOTO: &str = "toto@example.test";
const TOTO_ACCOUNT_PASSWORD: &str = "toto account secret";
const TOTO_MAILBOX_PASSWORD: &str = "toto mailbox secret";
const ALICE_PASSWORD: &str = "alice account secret";
const BOSS_PASSWORD: &str = "boss account secret";
const SHARED: &str = "shared@example.test";
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    audit: Audit,
    admin: Admin,
    identity: Identity,
    auth: ManagerAuth,
    mailbox: MailboxAuth,
    /// Login toto@example.test, a member given access to the mailbox of the same address
    /// (the service's default permissions, which include changing its password).
    toto: UserAccount,
    /// alice@outside.test, a member with access to shared@example.test only.
    alice: UserAccount,
    /// boss@example.test, an administrator of the organization with no access row; the
    /// mailbox boss@example.test exists.
    boss: UserAccount,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn mailbox_request(address: &str, password: &str, holder: Holder) -> CreateAddress {
    CreateAddress {
        address: address.into(),
        kind: AddressKind::Mailbox,
        password: Some(password.into()),
        holder,
        display_name: String::new(),
        aliases: Vec::new(),
        redirect_to: Vec::new(),
        keep_copy: false,
    }
}

fn grant(login: &str) -> Holder {
    Holder::Users(vec![Grant {
        login: login.into(),
        permissions: None,
        signature: None,
    }])
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let audit = Audit::start(stores.identity.clone());
    let admin = Admin::from_stores(&stores).with_audit(audit.clone());
    let op = Actor::Operator;
    admin.create_org(op, "Acme").await.unwrap();
    // The default permissions of a new service include CHANGE_PASSWORD.
    admin
        .create_service(op, "example.test", "Acme", 20)
        .await
        .unwrap();
    let account = |login: &str, password: &str, role| CreateUser {
        login: login.into(),
        password: Some(password.into()),
        display_name: Some(String::from("Toto Dupont")),
        org: Some((String::from("Acme"), role)),
    };
    let toto = admin
        .create_user(op, account(TOTO, TOTO_ACCOUNT_PASSWORD, Role::Member))
        .await
        .unwrap()
        .value;
    let alice = admin
        .create_user(
            op,
            account("alice@outside.test", ALICE_PASSWORD, Role::Member),
        )
        .await
        .unwrap()
        .value;
    let boss = admin
        .create_user(op, account("boss@example.test", BOSS_PASSWORD, Role::Admin))
        .await
        .unwrap()
        .value;
    admin
        .create_address(
            op,
            mailbox_request(TOTO, TOTO_MAILBOX_PASSWORD, grant(TOTO)),
        )
        .await
        .unwrap();
    admin
        .create_address(
            op,
            mailbox_request(SHARED, "shared mailbox secret", grant("alice@outside.test")),
        )
        .await
        .unwrap();
    admin
        .create_address(
            op,
            mailbox_request("boss@example.test", "boss mailbox secret", Holder::Nobody),
        )
        .await
        .unwrap();
    // The limiter has its own tests: here wrong passwords are part of every scenario.
    let limiter = Arc::new(FailureLimiter::new(FailurePolicy {
        free_failures: 1000,
        delay_step: Duration::ZERO,
        max_delay: Duration::ZERO,
        lockout_after: 1000,
        lockout: Duration::ZERO,
    }));
    let identity = Identity::new(&stores, audit.clone());
    let auth = ManagerAuth::new(
        stores.directory.clone(),
        stores.manager.clone(),
        stores.identity.clone(),
        limiter.clone(),
    )
    .with_audit(audit.clone());
    let mailbox = MailboxAuth::new(stores.directory.clone(), limiter);
    Fixture {
        _dir: dir,
        stores,
        audit,
        admin,
        identity,
        auth,
        mailbox,
        toto,
        alice,
        boss,
    }
}

impl Fixture {
    async fn sign_in(
        &self,
        login: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<SignedIn, SignInRefusal> {
        self.auth
            .sign_in(
                login,
                password,
                totp,
                Protocol::Manager,
                ip(1),
                Some(USER_AGENT),
            )
            .await
            .unwrap()
    }

    /// True when an IMAP client would log into `address` with `password`.
    async fn mailbox_accepts(&self, address: &str, password: &str) -> bool {
        let outcome = self
            .mailbox
            .login(Protocol::Imap, ip(2), address, password)
            .await
            .unwrap();
        matches!(outcome, LoginOutcome::Accepted(_))
    }

    async fn account_accepts(&self, login: &str, password: &str) -> bool {
        self.sign_in(login, password, None).await.is_ok()
    }

    /// Toto changes the mailbox password himself, asking for unification or not.
    async fn toto_sets_mailbox_password(
        &self,
        password: &str,
        unify: bool,
    ) -> Result<Unification, CoreError> {
        self.admin
            .set_address_password(Actor::User(self.toto.id), TOTO, Some(password), unify)
            .await
            .map(|changed| changed.unification)
    }

    async fn unification(&self, user: UserId, address: &str) -> Unification {
        let address = Address::parse(address).unwrap();
        self.identity.unification(user, &address).await.unwrap()
    }

    /// The events of the account's change entries, oldest first.
    async fn change_events(&self, login: &str) -> Vec<String> {
        self.audit.flush().await;
        let query = AuditQuery {
            user: Some(login.into()),
            category: Some(AuditCategory::Change),
            ..AuditQuery::default()
        };
        let entries = self
            .audit
            .entries(self.stores.directory.as_ref(), Actor::Operator, query)
            .await
            .unwrap();
        entries.into_iter().rev().map(|e| e.entry.event).collect()
    }
}

fn unified() -> Unification {
    Unification::Unified {
        address: Address::parse(TOTO).unwrap(),
        login: Address::parse(TOTO).unwrap(),
    }
}

fn invalid(result: Result<impl std::fmt::Debug, CoreError>) -> String {
    match result {
        Err(CoreError::Invalid(sentence)) => sentence,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ---- Two-factor authentication (ID-1, RFC 6238)

/// The code an authenticator app shows for `secret` at `time`, computed with totp-rs on its
/// own from nothing but the secret the enrolment answered.
fn authenticator_code(secret: &str, time: u64) -> String {
    let key = totp_rs::Secret::try_from_base32(secret).unwrap();
    totp_rs::Builder::new()
        .with_secret(key)
        .build()
        .unwrap()
        .generate(time)
        .to_string()
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

/// Enrols `user` and answers the secret and the recovery codes.
async fn enrol(f: &Fixture, user: UserId) -> (Zeroizing<String>, Vec<Zeroizing<String>>) {
    let enrolment = f.identity.begin_totp(user).await.unwrap();
    let code = authenticator_code(&enrolment.secret, now_secs());
    let codes = f
        .identity
        .confirm_totp(user, &code, Some(ip(1)))
        .await
        .unwrap();
    (enrolment.secret, codes)
}

#[tokio::test]
async fn id_1_enrolment_is_confirmed_with_an_authenticator_code_used_once() {
    let f = fixture().await;
    let user = f.alice.id;
    let enrolment = f.identity.begin_totp(user).await.unwrap();
    assert_eq!(
        enrolment.secret.len(),
        32,
        "160 bits, base32 without padding"
    );
    let uri = Zeroizing::new(enrolment.otpauth_uri.to_string());
    assert!(
        uri.starts_with("otpauth://totp/Postwerk:alice%40outside.test?"),
        "{}",
        *uri
    );
    assert!(uri.contains(&format!("secret={}", *enrolment.secret)));
    assert!(uri.contains("issuer=Postwerk"));
    // Not on until confirmed: the password alone still signs in.
    assert!(
        f.account_accepts("alice@outside.test", ALICE_PASSWORD)
            .await
    );

    let now = now_secs();
    let wrong = invalid(
        f.identity
            .confirm_totp(user, &wrong_code(&enrolment.secret, now), None)
            .await,
    );
    assert!(wrong.contains("code"), "{wrong}");

    let code = authenticator_code(&enrolment.secret, now);
    let codes = f.identity.confirm_totp(user, &code, None).await.unwrap();
    assert_eq!(codes.len(), 10);
    // Confirmed once: the same code cannot confirm again, nor sign in (RFC 6238 §5.2).
    invalid(f.identity.confirm_totp(user, &code, None).await);
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, None)
            .await
            .unwrap_err(),
        SignInRefusal::TotpRequired
    );
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&code))
            .await
            .unwrap_err(),
        SignInRefusal::TotpInvalid,
        "a replayed code is refused"
    );
    // The next step's code (one step of skew) is a new code and works.
    let next = authenticator_code(&enrolment.secret, now + 30);
    f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&next))
        .await
        .expect("the next code signs in");

    // A second enrolment needs 2FA turned off first.
    let again = f.identity.begin_totp(user).await.unwrap_err();
    assert!(
        matches!(
            &again,
            CoreError::Store(postwerk_store::StoreError::Conflict(_))
        ),
        "{again}"
    );
    assert_eq!(
        f.change_events("alice@outside.test").await,
        ["totp_enabled"]
    );
}

#[tokio::test]
async fn id_1_a_recovery_code_replaces_the_code_once() {
    let f = fixture().await;
    let (_secret, codes) = enrol(&f, f.alice.id).await;
    let first = codes[0].as_str();
    assert_eq!(first.len(), 11, "{first}");
    assert_eq!(first.as_bytes()[5], b'-', "{first}");

    f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(first))
        .await
        .expect("a recovery code signs in");
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(first))
            .await
            .unwrap_err(),
        SignInRefusal::TotpInvalid,
        "a recovery code works once"
    );
    // Typed in capitals and without the dash, the next one works too.
    let typed = codes[1].replace('-', " ").to_uppercase();
    f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&typed))
        .await
        .expect("the second recovery code signs in");
    // The wrong password with a good code says nothing about the code.
    assert_eq!(
        f.sign_in("alice@outside.test", "not her password", Some(&codes[2]))
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    let events = f.change_events("alice@outside.test").await;
    assert_eq!(
        events,
        [
            "totp_enabled",
            "totp_recovery_code_used",
            "totp_recovery_code_used"
        ]
    );
}

#[tokio::test]
async fn id_1_turning_2fa_off_and_renewing_codes_need_the_password() {
    let f = fixture().await;
    let user = f.alice.id;
    let (_secret, old_codes) = enrol(&f, user).await;

    invalid(
        f.identity
            .disable_totp(user, "not her password", None)
            .await,
    );
    invalid(
        f.identity
            .renew_totp_recovery_codes(user, "not her password", None)
            .await,
    );
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, None)
            .await
            .unwrap_err(),
        SignInRefusal::TotpRequired,
        "still on after the refusals"
    );

    let new_codes = f
        .identity
        .renew_totp_recovery_codes(user, ALICE_PASSWORD, None)
        .await
        .unwrap();
    assert_eq!(new_codes.len(), 10);
    assert_eq!(
        f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&old_codes[0]))
            .await
            .unwrap_err(),
        SignInRefusal::TotpInvalid,
        "renewed codes replace the old ones"
    );
    f.sign_in("alice@outside.test", ALICE_PASSWORD, Some(&new_codes[0]))
        .await
        .expect("a renewed code signs in");

    f.identity
        .disable_totp(user, ALICE_PASSWORD, None)
        .await
        .unwrap();
    f.sign_in("alice@outside.test", ALICE_PASSWORD, None)
        .await
        .expect("no code needed once 2FA is off");
    invalid(
        f.identity
            .renew_totp_recovery_codes(user, ALICE_PASSWORD, None)
            .await,
    );
}

// ---- The account's own password (ID-6) and details

#[tokio::test]
async fn id_6_an_account_password_change_keeps_this_session_and_ends_the_others() {
    let f = fixture().await;
    let here = f
        .sign_in("alice@outside.test", ALICE_PASSWORD, None)
        .await
        .unwrap();
    let elsewhere = f
        .sign_in("alice@outside.test", ALICE_PASSWORD, None)
        .await
        .unwrap();
    let user = f.alice.id;

    invalid(
        f.identity
            .change_password(user, "not her password", Some("a new secret!"), None, None)
            .await,
    );
    let short = f
        .identity
        .change_password(user, ALICE_PASSWORD, Some("short"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(short, CoreError::Password(_)), "{short}");

    let changed = f
        .identity
        .change_password(
            user,
            ALICE_PASSWORD,
            Some("alice's new secret"),
            Some(here.session.id),
            Some(ip(1)),
        )
        .await
        .unwrap();
    assert!(changed.generated.is_none());
    assert_eq!(changed.unification, Unification::NotApplicable);
    assert!(
        f.auth
            .authenticate_session(&here.secret)
            .await
            .unwrap()
            .is_some(),
        "the session of the change goes on"
    );
    assert_eq!(
        f.auth
            .authenticate_session(&elsewhere.secret)
            .await
            .unwrap(),
        None,
        "every other session ends"
    );
    assert!(
        !f.account_accepts("alice@outside.test", ALICE_PASSWORD)
            .await
    );
    assert!(
        f.account_accepts("alice@outside.test", "alice's new secret")
            .await
    );
    // A generated password is answered once and works.
    let generated = f
        .identity
        .change_password(user, "alice's new secret", None, None, None)
        .await
        .unwrap()
        .generated
        .expect("generated");
    assert!(f.account_accepts("alice@outside.test", &generated).await);
    // ID-3: the mailbox alice uses kept its own password throughout.
    assert!(f.mailbox_accepts(SHARED, "shared mailbox secret").await);
}

#[tokio::test]
async fn id_9_contact_details_are_checked() {
    let f = fixture().await;
    let user = f.alice.id;
    let account = f
        .identity
        .set_contact(
            user,
            Some("+41 79 123 45 67"),
            Some("Alice@Home.test"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(account.phone.as_deref(), Some("+41 79 123 45 67"));
    assert_eq!(
        account.recovery_email.map(|a| a.to_string()).as_deref(),
        Some("alice@home.test")
    );
    for phone in ["12345", "+41 79 123 45 67 89 01 2", "call me"] {
        let refused = invalid(f.identity.set_contact(user, Some(phone), None, None).await);
        assert!(refused.contains("phone number"), "{refused}");
    }
    invalid(
        f.identity
            .set_contact(user, None, Some("not an address"), None)
            .await,
    );
    let cleared = f
        .identity
        .set_contact(user, None, None, None)
        .await
        .unwrap();
    assert_eq!((cleared.phone, cleared.recovery_email), (None, None));
}

// ---- Unification (ID-5)

#[tokio::test]
async fn id_5_offered_when_all_three_conditions_hold_and_nothing_is_linked_yet() {
    let f = fixture().await;
    assert_eq!(f.unification(f.toto.id, TOTO).await, Unification::Offered);
    let answer = f
        .toto_sets_mailbox_password("new mailbox secret", false)
        .await
        .unwrap();
    assert_eq!(answer, Unification::Offered);
    // ID-3: only the mailbox changed.
    assert!(f.mailbox_accepts(TOTO, "new mailbox secret").await);
    assert!(f.account_accepts(TOTO, TOTO_ACCOUNT_PASSWORD).await);
    assert!(!f.account_accepts(TOTO, "new mailbox secret").await);
    assert_eq!(f.identity.unified_mailbox(f.toto.id).await.unwrap(), None);
}

#[tokio::test]
async fn id_5_not_offered_when_the_login_is_not_the_address() {
    let f = fixture().await;
    let alice = Actor::User(f.alice.id);
    let answer = f
        .admin
        .set_address_password(alice, SHARED, Some("new shared secret"), false)
        .await
        .unwrap();
    assert_eq!(
        answer.unification,
        Unification::NotOffered(vec![UnificationBlocker::LoginDiffers])
    );
    // Asking anyway is refused with the reason, and changes nothing.
    let refused = invalid(
        f.admin
            .set_address_password(alice, SHARED, Some("other shared secret"), true)
            .await,
    );
    assert!(
        refused.contains(UnificationBlocker::LoginDiffers.explanation()),
        "{refused}"
    );
    assert!(f.mailbox_accepts(SHARED, "new shared secret").await);
    assert!(
        f.account_accepts("alice@outside.test", ALICE_PASSWORD)
            .await
    );
}

#[tokio::test]
async fn id_5_not_offered_when_another_account_shares_the_mailbox() {
    let f = fixture().await;
    f.admin
        .grant_access(Actor::Operator, TOTO, "alice@outside.test", None, None)
        .await
        .unwrap();
    let answer = f
        .toto_sets_mailbox_password("new mailbox secret", false)
        .await
        .unwrap();
    assert_eq!(
        answer,
        Unification::NotOffered(vec![UnificationBlocker::SharedMailbox])
    );
    invalid(
        f.toto_sets_mailbox_password("other mailbox secret", true)
            .await,
    );
    assert!(f.mailbox_accepts(TOTO, "new mailbox secret").await);
}

#[tokio::test]
async fn id_5_not_offered_without_the_permission_to_change_the_password() {
    let f = fixture().await;
    f.admin
        .grant_access(
            Actor::Operator,
            TOTO,
            TOTO,
            Some(Permissions::READ_SEND),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        f.unification(f.toto.id, TOTO).await,
        Unification::NotOffered(vec![UnificationBlocker::NoPasswordPermission])
    );
    let error = f
        .toto_sets_mailbox_password("new mailbox secret", true)
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::Forbidden(_)), "{error}");
}

#[tokio::test]
async fn id_5_an_administrator_without_access_is_not_offered_unification() {
    let f = fixture().await;
    let answer = f
        .admin
        .set_address_password(
            Actor::User(f.boss.id),
            "boss@example.test",
            Some("boss new mailbox secret"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        answer.unification,
        Unification::NotOffered(vec![
            UnificationBlocker::SharedMailbox,
            UnificationBlocker::NoPasswordPermission
        ])
    );
    // The operator has no account: nothing to unify with.
    let answer = f
        .admin
        .set_address_password(Actor::Operator, TOTO, Some("operator's choice"), false)
        .await
        .unwrap();
    assert_eq!(answer.unification, Unification::NotApplicable);
    invalid(
        f.admin
            .set_address_password(Actor::Operator, TOTO, Some("operator's choice"), true)
            .await,
    );
}

/// Toto, signed in, unifies the two passwords with `password`; answers his kept session.
async fn unify(f: &Fixture, password: &str) -> SignedIn {
    let signed = f.sign_in(TOTO, TOTO_ACCOUNT_PASSWORD, None).await.unwrap();
    let answer = f
        .admin
        .set_address_password_in_session(
            Actor::User(f.toto.id),
            TOTO,
            Some(password),
            true,
            Some(signed.session.id),
        )
        .await
        .unwrap();
    assert_eq!(answer.unification, unified());
    signed
}

#[tokio::test]
async fn id_5_unification_makes_one_password_and_changing_either_changes_both() {
    let f = fixture().await;
    let signed = unify(&f, "one password for both").await;
    assert!(f.mailbox_accepts(TOTO, "one password for both").await);
    assert!(f.account_accepts(TOTO, "one password for both").await);
    assert!(!f.mailbox_accepts(TOTO, TOTO_MAILBOX_PASSWORD).await);
    assert!(!f.account_accepts(TOTO, TOTO_ACCOUNT_PASSWORD).await);
    assert!(
        f.auth
            .authenticate_session(&signed.secret)
            .await
            .unwrap()
            .is_some(),
        "the session in which toto unified goes on"
    );
    // Both screens say so.
    assert_eq!(f.unification(f.toto.id, TOTO).await, unified());
    assert_eq!(
        f.identity.unified_mailbox(f.toto.id).await.unwrap(),
        Some(Address::parse(TOTO).unwrap())
    );

    // The account's password changes the mailbox's.
    let changed = f
        .identity
        .change_password(
            f.toto.id,
            "one password for both",
            Some("changed from the account"),
            Some(signed.session.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(changed.unification, unified());
    assert!(f.mailbox_accepts(TOTO, "changed from the account").await);
    assert!(f.account_accepts(TOTO, "changed from the account").await);

    // The mailbox's password, changed by the operator, changes the account's.
    let changed = f
        .admin
        .set_address_password(
            Actor::Operator,
            TOTO,
            Some("changed by the operator"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(changed.unification, unified());
    assert!(f.mailbox_accepts(TOTO, "changed by the operator").await);
    assert!(f.account_accepts(TOTO, "changed by the operator").await);

    let events = f.change_events(TOTO).await;
    assert!(
        events.contains(&String::from("passwords_unified")),
        "{events:?}"
    );
}

#[tokio::test]
async fn id_5_a_second_account_given_access_ends_the_unification() {
    let f = fixture().await;
    unify(&f, "one password for both").await;
    f.admin
        .grant_access(Actor::Operator, TOTO, "alice@outside.test", None, None)
        .await
        .unwrap();
    assert_eq!(
        f.unification(f.toto.id, TOTO).await,
        Unification::NotOffered(vec![UnificationBlocker::SharedMailbox])
    );
    // The next change diverges: only the mailbox changes.
    let changed = f
        .admin
        .set_address_password(Actor::Operator, TOTO, Some("mailbox only now"), false)
        .await
        .unwrap();
    assert_eq!(changed.unification, Unification::NotApplicable);
    assert!(f.mailbox_accepts(TOTO, "mailbox only now").await);
    assert!(f.account_accepts(TOTO, "one password for both").await);
    assert!(!f.account_accepts(TOTO, "mailbox only now").await);
    let events = f.change_events(TOTO).await;
    assert!(
        events.contains(&String::from("unification_ended")),
        "{events:?}"
    );
}

#[tokio::test]
async fn id_5_losing_the_password_permission_ends_the_unification() {
    let f = fixture().await;
    unify(&f, "one password for both").await;
    f.admin
        .grant_access(
            Actor::Operator,
            TOTO,
            TOTO,
            Some(Permissions::READ_SEND),
            None,
        )
        .await
        .unwrap();
    let changed = f
        .identity
        .change_password(
            f.toto.id,
            "one password for both",
            Some("account only now"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(changed.unification, Unification::NotApplicable);
    assert!(f.account_accepts(TOTO, "account only now").await);
    assert!(f.mailbox_accepts(TOTO, "one password for both").await);
    assert!(!f.mailbox_accepts(TOTO, "account only now").await);
    assert_eq!(f.identity.unified_mailbox(f.toto.id).await.unwrap(), None);
}

#[tokio::test]
async fn id_5_a_login_change_ends_the_unification() {
    let f = fixture().await;
    unify(&f, "one password for both").await;
    invalid(
        f.identity
            .change_login(f.toto.id, "toto@home.test", None, None)
            .await,
    );
    let account = f
        .identity
        .change_login(
            f.toto.id,
            "toto@home.test",
            Some("one password for both"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(account.login.to_string(), "toto@home.test");
    assert_eq!(f.identity.unified_mailbox(f.toto.id).await.unwrap(), None);
    assert_eq!(
        f.unification(f.toto.id, TOTO).await,
        Unification::NotOffered(vec![UnificationBlocker::LoginDiffers])
    );
    let changed = f
        .admin
        .set_address_password(Actor::Operator, TOTO, Some("mailbox only now"), false)
        .await
        .unwrap();
    assert_eq!(changed.unification, Unification::NotApplicable);
    assert!(
        f.account_accepts("toto@home.test", "one password for both")
            .await
    );
    assert!(f.mailbox_accepts(TOTO, "mailbox only now").await);
}

// ---- Logins (ID-1, ID-10)

#[tokio::test]
async fn id_1_a_login_must_be_free_and_a_hosted_one_must_exist() {
    let f = fixture().await;
    let taken = invalid(
        f.identity
            .change_login(f.alice.id, "boss@example.test", Some(ALICE_PASSWORD), None)
            .await,
    );
    assert_eq!(taken, "this login is taken: choose another one");
    let missing = invalid(
        f.identity
            .change_login(
                f.alice.id,
                "nobody@example.test",
                Some(ALICE_PASSWORD),
                None,
            )
            .await,
    );
    assert!(missing.contains("no existing address"), "{missing}");
    invalid(
        f.identity
            .change_login(f.alice.id, "alice@new.test", Some("not her password"), None)
            .await,
    );
    // A hosted address that exists is fine.
    let account = f
        .identity
        .change_login(f.alice.id, SHARED, Some(ALICE_PASSWORD), None)
        .await
        .unwrap();
    assert_eq!(account.login.to_string(), SHARED);
    assert!(f.account_accepts(SHARED, ALICE_PASSWORD).await);
}

#[tokio::test]
async fn id_10_a_recovery_username_signs_in_and_a_new_login_is_chosen_without_password() {
    let f = fixture().await;
    let deleted = f
        .admin
        .delete_addresses(Actor::Operator, &[String::from("boss@example.test")])
        .await
        .unwrap();
    let [orphan] = deleted.orphaned_accounts.as_slice() else {
        panic!("one orphaned account: {deleted:?}");
    };
    let username = orphan
        .recovery_username
        .clone()
        .expect("a recovery username")
        .to_string();

    assert_eq!(
        f.sign_in(&username, "not the password", None)
            .await
            .unwrap_err(),
        SignInRefusal::Invalid
    );
    let signed = f
        .sign_in(&username.to_uppercase(), BOSS_PASSWORD, None)
        .await
        .expect("the recovery username and the unchanged password sign in");
    assert_eq!(signed.user.id, f.boss.id);
    assert!(signed.user.must_choose_login);

    let account = f
        .identity
        .change_login(f.boss.id, "boss@home.test", None, None)
        .await
        .unwrap();
    assert!(!account.must_choose_login);
    assert_eq!(account.recovery_username, None);
    assert_eq!(
        f.sign_in(&username, BOSS_PASSWORD, None).await.unwrap_err(),
        SignInRefusal::Invalid,
        "the recovery username is used up"
    );
    assert!(f.account_accepts("boss@home.test", BOSS_PASSWORD).await);
    // From now on a login change needs the password again.
    invalid(
        f.identity
            .change_login(f.boss.id, "boss@elsewhere.test", None, None)
            .await,
    );
}

// ---- Audit (ID-11)

#[tokio::test]
async fn id_11_every_sign_in_attempt_is_recorded_with_its_result() {
    let f = fixture().await;
    f.sign_in("alice@outside.test", ALICE_PASSWORD, None)
        .await
        .unwrap();
    f.sign_in("alice@outside.test", "not her password", None)
        .await
        .unwrap_err();
    f.sign_in("nobody@outside.test", ALICE_PASSWORD, None)
        .await
        .unwrap_err();
    f.audit.flush().await;
    let query = AuditQuery {
        category: Some(AuditCategory::Login),
        ..AuditQuery::default()
    };
    let entries = f
        .audit
        .entries(f.stores.directory.as_ref(), Actor::Operator, query)
        .await
        .unwrap();
    let seen: Vec<(String, String, Option<UserId>)> = entries
        .into_iter()
        .rev()
        .map(|e| (e.entry.subject, e.entry.event, e.entry.user))
        .collect();
    assert_eq!(
        seen,
        [
            (
                String::from("alice@outside.test"),
                String::from("success"),
                Some(f.alice.id)
            ),
            (
                String::from("alice@outside.test"),
                String::from("wrong_password"),
                Some(f.alice.id)
            ),
            (
                String::from("nobody@outside.test"),
                String::from("unknown"),
                None
            ),
        ]
    );
}
