//! Recovery over a real embedded store in a temporary folder: password reset by a code sent by
//! email or SMS (ID-8), the forgotten login (ID-9), identity-verification requests, recovery
//! usernames (ID-10), and the notifier's gateways (ID-12): the outbox, and the webhook against
//! a small HTTP server on loopback.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use postwerk_core::recovery::{CODE_ATTEMPTS, CODES_PER_HOUR};
use postwerk_core::{
    Actor, Audit, CoreError, FailureLimiter, FailurePolicy, Identity, Mailer, Notification,
    Notifier, OutboxGateway, Recovery, ResetRefusal, SmsGateway, VerificationInput, WebhookConfig,
    WebhookGateway, password,
};
use postwerk_model::{Address, RecoveryUsername, Role, UserAccount};
use postwerk_store::{Channel, NewRecoveryCode, NewUser, RecoveryPurpose, Stores};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ALICE_PASSWORD: &str = "alice account secret";
const ALICE_PHONE: &str = "+41 79 123 45 67";
const ALICE_RECOVERY: &str = "alice.private@elsewhere.test";
const CAROL_RECOVERY: &str = "carol.private@elsewhere.test";
const NEW_PASSWORD: &str = "a brand new secret";

/// Collects what would have been emailed.
#[derive(Default)]
struct RecordingMailer {
    sent: Mutex<Vec<Notification>>,
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, notification: Notification) -> Result<(), CoreError> {
        self.sent.lock().unwrap().push(notification);
        Ok(())
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    mailer: Arc<RecordingMailer>,
    recovery: Recovery,
    /// Member of Acme; phone and recovery email.
    alice: UserAccount,
    /// No phone, no recovery email.
    bob: UserAccount,
    /// Owner of Acme; same phone as alice, another recovery email.
    carol: UserAccount,
    /// Administrator of Other only.
    dave: UserAccount,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn address(text: &str) -> Address {
    text.parse().unwrap()
}

async fn create_user(stores: &Stores, login: &str) -> UserAccount {
    stores
        .directory
        .create_user(NewUser {
            login: address(login),
            display_name: login.split('@').next().unwrap().to_owned(),
            password_hash: password::hash(ALICE_PASSWORD).unwrap(),
            phone: None,
            recovery_email: None,
        })
        .await
        .unwrap()
}

async fn set_contact(stores: &Stores, user: &UserAccount, phone: &str, email: &str) -> UserAccount {
    stores
        .identity
        .set_user_contact(user.id, Some(phone), Some(&address(email)))
        .await
        .unwrap();
    stores.directory.user(user.id).await.unwrap().unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let acme = stores.directory.create_org("Acme").await.unwrap();
    let other = stores.directory.create_org("Other").await.unwrap();
    let alice = create_user(&stores, "alice@outside.test").await;
    let bob = create_user(&stores, "bob@outside.test").await;
    let carol = create_user(&stores, "carol@outside.test").await;
    let dave = create_user(&stores, "dave@outside.test").await;
    let alice = set_contact(&stores, &alice, ALICE_PHONE, ALICE_RECOVERY).await;
    let carol = set_contact(&stores, &carol, "+41791234567", CAROL_RECOVERY).await;
    let directory = &stores.directory;
    directory
        .add_membership(acme.id, alice.id, Role::Member)
        .await
        .unwrap();
    directory
        .add_membership(acme.id, carol.id, Role::Owner)
        .await
        .unwrap();
    directory
        .add_membership(other.id, dave.id, Role::Admin)
        .await
        .unwrap();
    directory
        .add_membership(other.id, bob.id, Role::Owner)
        .await
        .unwrap();

    let mailer = Arc::new(RecordingMailer::default());
    let notifier = Notifier::new(
        Some(mailer.clone()),
        Arc::new(OutboxGateway::new(stores.identity.clone())),
    );
    // Generous, so that the attempts per code, not the limiter, are what a test meets.
    let limiter = Arc::new(FailureLimiter::new(FailurePolicy {
        free_failures: 100,
        lockout_after: 100,
        ..FailurePolicy::default()
    }));
    let audit = Audit::discard();
    let identity = Identity::new(&stores, audit.clone());
    let recovery = Recovery::new(&stores, identity, notifier, audit, limiter);
    Fixture {
        _dir: dir,
        stores,
        mailer,
        recovery,
        alice,
        bob,
        carol,
        dave,
    }
}

impl Fixture {
    fn emails(&self) -> Vec<Notification> {
        self.mailer.sent.lock().unwrap().clone()
    }

    /// The texts of the SMS outbox, oldest first.
    async fn sms(&self) -> Vec<(String, String)> {
        let mut outbox = self.stores.identity.outbox_sms(100).await.unwrap();
        outbox.reverse();
        outbox
            .into_iter()
            .map(|sms| (sms.phone, sms.body))
            .collect()
    }

    async fn password_hash(&self, user: &UserAccount) -> String {
        let user = self.stores.directory.user(user.id).await.unwrap().unwrap();
        user.password_hash
    }

    async fn start(&self, login: &str, channel: Channel) {
        let answer = self
            .recovery
            .start_password_reset(login, channel, ip(1))
            .await
            .unwrap();
        assert_eq!(answer, Ok(()), "{login}");
    }

    async fn finish(
        &self,
        login: &str,
        code: &str,
        new: Option<&str>,
    ) -> Result<Option<String>, ResetRefusal> {
        self.recovery
            .finish_password_reset(login, code, new, ip(1))
            .await
            .unwrap()
            .map(|generated| generated.map(|password| password.to_string()))
    }
}

/// The 8-digit number in `text`: the code as a person would read it.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 8)
        .unwrap_or_else(|| panic!("no 8-digit code in {text:?}"))
        .to_string()
}

#[tokio::test]
async fn id_8_reset_by_email_sets_the_password_and_the_code_works_once() {
    let f = fixture().await;
    f.start("alice@outside.test", Channel::Email).await;

    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let email = &emails[0];
    assert_eq!(email.to, address(ALICE_RECOVERY));
    assert_eq!(email.subject, "Your Postwerk password reset code");
    assert!(email.text.contains("15 minutes"), "{}", email.text);
    assert!(
        email.text.contains("your password is unchanged"),
        "{}",
        email.text
    );
    let code = code_in(&email.text);
    assert!(f.sms().await.is_empty(), "nothing goes by SMS");

    let old_hash = f.password_hash(&f.alice).await;
    assert_eq!(
        f.finish(" alice@outside.test ", &code, Some(NEW_PASSWORD))
            .await,
        Ok(None)
    );
    let hash = f.password_hash(&f.alice).await;
    assert_ne!(hash, old_hash);
    assert!(password::verify(NEW_PASSWORD, &hash));
    assert!(!password::verify(ALICE_PASSWORD, &hash));

    // The recovery address is told that the password was reset.
    let emails = f.emails();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[1].to, address(ALICE_RECOVERY));
    assert!(
        emails[1].subject.contains("was reset"),
        "{}",
        emails[1].subject
    );
    assert!(!emails[1].text.contains(&code));

    // Single use.
    assert_eq!(
        f.finish("alice@outside.test", &code, Some("yet another secret"))
            .await,
        Err(ResetRefusal::InvalidCode)
    );
    assert!(password::verify(
        NEW_PASSWORD,
        &f.password_hash(&f.alice).await
    ));
}

#[tokio::test]
async fn id_8_reset_by_sms_with_a_generated_password() {
    let f = fixture().await;
    f.start("alice@outside.test", Channel::Sms).await;
    let sms = f.sms().await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].0, ALICE_PHONE);
    assert!(sms[0].1.chars().count() <= 160, "{}", sms[0].1);
    let code = code_in(&sms[0].1);
    assert!(f.emails().is_empty(), "nothing goes by email");

    // Typed with a space, as read out from the phone.
    let typed = format!("{} {}", &code[..4], &code[4..]);
    let generated = f
        .finish("alice@outside.test", &typed, None)
        .await
        .unwrap()
        .expect("a generated password is answered");
    assert!(password::check_policy(&generated).is_ok());
    assert!(password::verify(
        &generated,
        &f.password_hash(&f.alice).await
    ));
}

#[tokio::test]
async fn id_8_a_password_refused_by_the_policy_does_not_spend_the_code() {
    let f = fixture().await;
    f.start("alice@outside.test", Channel::Email).await;
    let code = code_in(&f.emails()[0].text);
    let refused = f
        .recovery
        .finish_password_reset("alice@outside.test", &code, Some("short"), ip(1))
        .await;
    assert!(
        matches!(refused, Err(CoreError::Password(_))),
        "{refused:?}"
    );
    assert_eq!(
        f.finish("alice@outside.test", &code, Some(NEW_PASSWORD))
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn id_8_wrong_codes_use_the_code_up() {
    let f = fixture().await;
    f.start("alice@outside.test", Channel::Email).await;
    let code = code_in(&f.emails()[0].text);
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for _ in 0..CODE_ATTEMPTS {
        assert_eq!(
            f.finish("alice@outside.test", wrong, Some(NEW_PASSWORD))
                .await,
            Err(ResetRefusal::InvalidCode)
        );
    }
    // The right code no longer works after that many wrong ones.
    assert_eq!(
        f.finish("alice@outside.test", &code, Some(NEW_PASSWORD))
            .await,
        Err(ResetRefusal::InvalidCode)
    );
    assert!(password::verify(
        ALICE_PASSWORD,
        &f.password_hash(&f.alice).await
    ));

    // A new code works again.
    f.start("alice@outside.test", Channel::Email).await;
    let code = code_in(&f.emails()[1].text);
    assert_eq!(
        f.finish("alice@outside.test", &code, Some(NEW_PASSWORD))
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn id_8_an_expired_code_is_refused() {
    let f = fixture().await;
    let now = unix_now();
    let stored = |expires_at| NewRecoveryCode {
        user: f.alice.id,
        purpose: RecoveryPurpose::PasswordReset,
        channel: Channel::Email,
        code_hash: password::hash("24681357").unwrap(),
        created_at: now - 3_600,
        expires_at,
    };
    f.stores
        .identity
        .create_recovery_code(stored(now - 1))
        .await
        .unwrap();
    assert_eq!(
        f.finish("alice@outside.test", "24681357", Some(NEW_PASSWORD))
            .await,
        Err(ResetRefusal::InvalidCode)
    );
    // The same code, still live, works: the refusal was its age.
    f.stores
        .identity
        .create_recovery_code(stored(now + 60))
        .await
        .unwrap();
    assert_eq!(
        f.finish("alice@outside.test", "24681357", Some(NEW_PASSWORD))
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn id_8_unknown_logins_and_missing_channels_answer_the_same_and_send_nothing() {
    let f = fixture().await;
    // Bob has neither a phone nor a recovery email.
    f.start("bob@outside.test", Channel::Email).await;
    f.start("bob@outside.test", Channel::Sms).await;
    f.start("nobody@outside.test", Channel::Email).await;
    f.start("nobody@outside.test", Channel::Sms).await;
    f.start("not a login at all", Channel::Email).await;
    assert!(f.emails().is_empty());
    assert!(f.sms().await.is_empty());
    let code = f
        .stores
        .identity
        .live_recovery_code(f.bob.id, RecoveryPurpose::PasswordReset, unix_now())
        .await
        .unwrap();
    assert_eq!(code, None);
    // Finishing for them answers what a wrong code answers.
    for login in ["bob@outside.test", "nobody@outside.test", "not a login"] {
        assert_eq!(
            f.finish(login, "12345678", Some(NEW_PASSWORD)).await,
            Err(ResetRefusal::InvalidCode)
        );
    }
}

#[tokio::test]
async fn id_8_codes_are_capped_per_account_and_hour() {
    let f = fixture().await;
    for _ in 0..CODES_PER_HOUR + 2 {
        f.start("alice@outside.test", Channel::Email).await;
    }
    assert_eq!(f.emails().len(), CODES_PER_HOUR as usize);
    // The last code sent is the one that works.
    let code = code_in(&f.emails().last().unwrap().text);
    assert_eq!(
        f.finish("alice@outside.test", &code, Some(NEW_PASSWORD))
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn id_8_a_locked_out_client_address_is_throttled() {
    let f = fixture().await;
    let limiter = Arc::new(FailureLimiter::new(FailurePolicy {
        free_failures: 10,
        lockout_after: 3,
        ..FailurePolicy::default()
    }));
    let notifier = Notifier::new(
        Some(f.mailer.clone()),
        Arc::new(OutboxGateway::new(f.stores.identity.clone())),
    );
    let recovery = Recovery::new(
        &f.stores,
        Identity::new(&f.stores, Audit::discard()),
        notifier,
        Audit::discard(),
        limiter,
    );
    for _ in 0..3 {
        let answer = recovery
            .finish_password_reset("alice@outside.test", "12345678", Some(NEW_PASSWORD), ip(9))
            .await
            .unwrap();
        assert_eq!(answer, Err(ResetRefusal::InvalidCode));
    }
    let answer = recovery
        .start_password_reset("alice@outside.test", Channel::Email, ip(9))
        .await
        .unwrap();
    assert_eq!(answer, Err(ResetRefusal::Throttled));
    assert!(f.emails().is_empty());
    // Another client address is not affected.
    let answer = recovery
        .start_password_reset("alice@outside.test", Channel::Email, ip(10))
        .await
        .unwrap();
    assert_eq!(answer, Ok(()));
    assert_eq!(f.emails().len(), 1);
}

#[tokio::test]
async fn id_9_one_account_with_the_phone_gets_its_login_by_the_chosen_channel() {
    let f = fixture().await;
    // The fixture gives carol the same number as alice: here she gets another one.
    f.stores
        .identity
        .set_user_contact(
            f.carol.id,
            Some("+33 6 12 34 56 78"),
            Some(&address(CAROL_RECOVERY)),
        )
        .await
        .unwrap();
    let answer = f
        .recovery
        .remind_login("+41791234567", None, Channel::Sms, ip(1))
        .await
        .unwrap();
    assert_eq!(answer, Ok(()));
    let sms = f.sms().await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].0, ALICE_PHONE);
    assert!(sms[0].1.contains("alice@outside.test"), "{}", sms[0].1);

    f.recovery
        .remind_login("+41 (79) 123-45-67", None, Channel::Email, ip(1))
        .await
        .unwrap()
        .unwrap();
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, address(ALICE_RECOVERY));
    assert!(
        emails[0].text.contains("alice@outside.test"),
        "{}",
        emails[0].text
    );
}

#[tokio::test]
async fn id_9_login_reminders_are_capped_per_account_and_hour() {
    let f = fixture().await;
    f.stores
        .identity
        .set_user_contact(f.carol.id, Some("+33 6 12 34 56 78"), None)
        .await
        .unwrap();
    for _ in 0..postwerk_core::recovery::REMINDERS_PER_HOUR + 2 {
        let answer = f
            .recovery
            .remind_login(ALICE_PHONE, None, Channel::Sms, ip(1))
            .await
            .unwrap();
        assert_eq!(answer, Ok(()), "the answer never changes");
    }
    assert_eq!(
        f.sms().await.len(),
        postwerk_core::recovery::REMINDERS_PER_HOUR,
        "no more reminders than the cap reach the phone"
    );
}

#[tokio::test]
async fn id_9_several_accounts_on_one_phone_need_the_recovery_email() {
    let f = fixture().await;
    // Alice and carol share the number: the phone alone identifies nobody.
    f.recovery
        .remind_login(ALICE_PHONE, None, Channel::Email, ip(1))
        .await
        .unwrap()
        .unwrap();
    f.recovery
        .remind_login(
            ALICE_PHONE,
            Some("someone@else.test"),
            Channel::Email,
            ip(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(f.emails().is_empty());

    f.recovery
        .remind_login(ALICE_PHONE, Some(CAROL_RECOVERY), Channel::Email, ip(1))
        .await
        .unwrap()
        .unwrap();
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, address(CAROL_RECOVERY));
    assert!(
        emails[0].text.contains("carol@outside.test"),
        "{}",
        emails[0].text
    );
    assert!(!emails[0].text.contains("alice@outside.test"));

    // No account has this number: nothing, and the same answer.
    let answer = f
        .recovery
        .remind_login("+1 555 000 0000", Some(ALICE_RECOVERY), Channel::Sms, ip(1))
        .await
        .unwrap();
    assert_eq!(answer, Ok(()));
    assert!(f.sms().await.is_empty());
    assert_eq!(f.emails().len(), 1);
}

fn request(login: Option<&str>, phone: Option<&str>) -> VerificationInput {
    VerificationInput {
        login: login.map(str::to_string),
        phone: phone.map(str::to_string),
        email: Some("reach.me@elsewhere.test".to_string()),
        name: "Alice Liddell".to_string(),
        message: "I lost my phone and my recovery mailbox.".to_string(),
    }
}

#[tokio::test]
async fn id_8_verification_requests_reach_the_administrators_of_the_account_only() {
    let f = fixture().await;
    let for_alice = f
        .recovery
        .request_verification(request(Some("alice@outside.test"), None), ip(1))
        .await
        .unwrap()
        .unwrap();
    let for_nobody = f
        .recovery
        .request_verification(
            request(Some("who@knows.test"), Some("+1 555 000 0000")),
            ip(1),
        )
        .await
        .unwrap()
        .unwrap();
    // Bob's phone is unique once he has one: matched by phone.
    f.stores
        .identity
        .set_user_contact(f.bob.id, Some("+44 20 7946 0000"), None)
        .await
        .unwrap();
    let for_bob = f
        .recovery
        .request_verification(request(None, Some("+442079460000")), ip(1))
        .await
        .unwrap()
        .unwrap();

    let ids = |requests: Vec<postwerk_store::VerificationRequest>| {
        let mut ids: Vec<i64> = requests.iter().map(|request| request.id).collect();
        ids.sort();
        ids
    };
    let operator = f
        .recovery
        .verification_requests(Actor::Operator, true)
        .await
        .unwrap();
    assert_eq!(ids(operator), vec![for_alice, for_nobody, for_bob]);
    // Carol owns Acme, where alice is a member.
    let carol = f
        .recovery
        .verification_requests(Actor::User(f.carol.id), true)
        .await
        .unwrap();
    assert_eq!(ids(carol.clone()), vec![for_alice]);
    assert_eq!(carol[0].user, Some(f.alice.id));
    assert_eq!(carol[0].email.as_deref(), Some("reach.me@elsewhere.test"));
    // Dave administers Other, where bob is.
    let dave = f
        .recovery
        .verification_requests(Actor::User(f.dave.id), true)
        .await
        .unwrap();
    assert_eq!(ids(dave), vec![for_bob]);
    // Alice is a plain member: she handles nothing.
    let alice = f
        .recovery
        .verification_requests(Actor::User(f.alice.id), true)
        .await
        .unwrap();
    assert!(alice.is_empty());

    let refused = f
        .recovery
        .close_verification_request(Actor::User(f.dave.id), for_alice, "called her")
        .await;
    assert!(
        matches!(refused, Err(CoreError::Forbidden(_))),
        "{refused:?}"
    );
    let refused = f
        .recovery
        .close_verification_request(Actor::User(f.carol.id), for_nobody, "unknown")
        .await;
    assert!(
        matches!(refused, Err(CoreError::Forbidden(_))),
        "{refused:?}"
    );

    f.recovery
        .close_verification_request(Actor::User(f.carol.id), for_alice, "verified by phone")
        .await
        .unwrap();
    let again = f
        .recovery
        .close_verification_request(Actor::User(f.carol.id), for_alice, "again")
        .await;
    assert!(again.is_err(), "closing twice must fail");
    let open = f
        .recovery
        .verification_requests(Actor::User(f.carol.id), true)
        .await
        .unwrap();
    assert!(open.is_empty());
    let all = f
        .recovery
        .verification_requests(Actor::User(f.carol.id), false)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].resolution.as_deref(), Some("verified by phone"));
    assert_eq!(all[0].closed_by, Some(f.carol.id));

    let missing = f
        .recovery
        .close_verification_request(Actor::Operator, 999_999, "nothing")
        .await;
    assert!(
        matches!(missing, Err(CoreError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn id_8_verification_requests_are_capped_per_client_address() {
    let f = fixture().await;
    for _ in 0..postwerk_core::recovery::REQUESTS_PER_HOUR {
        let queued = f
            .recovery
            .request_verification(request(None, None), ip(1))
            .await
            .unwrap();
        assert!(queued.is_ok(), "{queued:?}");
    }
    let refused = f
        .recovery
        .request_verification(request(None, None), ip(1))
        .await
        .unwrap();
    assert_eq!(refused, Err(ResetRefusal::Throttled));
    // Another client address is not affected.
    f.recovery
        .request_verification(request(None, None), ip(2))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn id_8_verification_requests_need_a_name_and_a_bounded_message() {
    let f = fixture().await;
    let mut nameless = request(None, None);
    nameless.name = "   ".to_string();
    let mut silent = request(None, None);
    silent.message = String::new();
    let mut long = request(None, None);
    long.message = "x".repeat(2_001);
    for input in [nameless, silent, long] {
        let refused = f.recovery.request_verification(input, ip(1)).await;
        assert!(matches!(refused, Err(CoreError::Invalid(_))), "{refused:?}");
    }
    let mut longest = request(None, None);
    longest.message = "x".repeat(2_000);
    f.recovery
        .request_verification(longest, ip(1))
        .await
        .unwrap()
        .unwrap();
    let stored = f
        .recovery
        .verification_requests(Actor::Operator, true)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].user, None);
}

#[tokio::test]
async fn id_10_recovery_usernames_go_by_sms_and_to_the_recovery_email() {
    let f = fixture().await;
    let username = RecoveryUsername::parse("al123456").unwrap();
    let mut alice = f.alice.clone();
    alice.recovery_username = Some(username.clone());
    // Bob has a recovery username but no way to be told; carol has none at all.
    let mut bob = f.bob.clone();
    bob.recovery_username = Some(RecoveryUsername::parse("bo654321").unwrap());
    f.recovery
        .issue_recovery_usernames(&[bob, alice, f.carol.clone()])
        .await
        .unwrap();

    let sms = f.sms().await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].0, ALICE_PHONE);
    assert!(sms[0].1.contains("al123456"), "{}", sms[0].1);
    assert!(sms[0].1.contains("alice@outside.test"), "{}", sms[0].1);
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].to, address(ALICE_RECOVERY));
    assert!(emails[0].text.contains("al123456"), "{}", emails[0].text);
    assert!(
        emails[0].text.contains("unchanged password"),
        "{}",
        emails[0].text
    );
}

#[tokio::test]
async fn id_12_the_outbox_is_for_the_operator_only() {
    let f = fixture().await;
    f.start("alice@outside.test", Channel::Sms).await;
    let outbox = f.recovery.sms_outbox(Actor::Operator, 10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].phone, ALICE_PHONE);
    let refused = f.recovery.sms_outbox(Actor::User(f.carol.id), 10).await;
    assert!(
        matches!(refused, Err(CoreError::Forbidden(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn id_12_email_without_mail_delivery_is_refused_with_a_reason() {
    let f = fixture().await;
    let notifier = Notifier::new(
        None,
        Arc::new(OutboxGateway::new(f.stores.identity.clone())),
    );
    let refused = notifier
        .email(Notification {
            to: address(ALICE_RECOVERY),
            subject: "x".to_string(),
            text: "y".to_string(),
        })
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("no mail delivery"),
        "{refused}"
    );
    notifier.sms(ALICE_PHONE, "hello").await.unwrap();
    assert_eq!(
        f.sms().await,
        vec![(ALICE_PHONE.to_string(), "hello".to_string())]
    );
}

// ---- the webhook gateway against a one-request HTTP server on loopback

/// One request as the server saw it.
struct Received {
    head: String,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

/// Serves one request with `status`, and hands back what it received.
async fn one_request_server(status: &'static str) -> (String, tokio::task::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/sms/send?account=7",
        listener.local_addr().unwrap()
    );
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buffer = [0u8; 4096];
        let (head, body) = loop {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the client closed before a whole request");
            data.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().unwrap())
                    })
                    .expect("a Content-Length");
                if body.len() >= length {
                    break (head.to_string(), body.to_string());
                }
            }
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\
             Connection: close\r\n\r\nsecret provider detail"
        );
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        Received { head, body }
    });
    (url, server)
}

#[tokio::test]
async fn id_12_webhook_posts_json_with_escaped_values_and_the_authorization() {
    let (url, server) = one_request_server("200 OK").await;
    let gateway = WebhookGateway::new(WebhookConfig {
        url,
        body_template: r#"{"to":"{phone}","message":"{text}"}"#.to_string(),
        content_type: "application/json".to_string(),
        authorization: Some("Bearer k3y".to_string()),
    })
    .unwrap();
    let text = "Code \"12345678\"\nline two \\ done";
    tokio::time::timeout(Duration::from_secs(10), gateway.send(ALICE_PHONE, text))
        .await
        .unwrap()
        .unwrap();
    let received = server.await.unwrap();
    assert!(
        received
            .head
            .starts_with("POST /sms/send?account=7 HTTP/1.1"),
        "{}",
        received.head
    );
    assert_eq!(
        received.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        received.header("authorization").as_deref(),
        Some("Bearer k3y")
    );
    let body: serde_json::Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(body["to"], ALICE_PHONE);
    assert_eq!(body["message"], text);
}

#[tokio::test]
async fn id_12_webhook_form_body_and_an_error_status_that_says_only_the_status() {
    let (url, server) = one_request_server("500 Internal Server Error").await;
    let gateway = WebhookGateway::new(WebhookConfig {
        url,
        body_template: "to={phone}&body={text}".to_string(),
        content_type: "application/x-www-form-urlencoded".to_string(),
        authorization: None,
    })
    .unwrap();
    let error = gateway
        .send("+41 79 123", "code: 1234 & more=é")
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("500"), "{message}");
    assert!(!message.contains("secret provider detail"), "{message}");
    let received = server.await.unwrap();
    assert_eq!(received.header("authorization"), None);
    assert_eq!(
        received.body,
        "to=%2B41+79+123&body=code%3A+1234+%26+more%3D%C3%A9"
    );
}

#[tokio::test]
async fn id_12_an_unreachable_webhook_is_an_error() {
    // Bound then dropped: nothing listens there any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let gateway = WebhookGateway::new(WebhookConfig {
        url,
        body_template: "{text}".to_string(),
        content_type: "text/plain".to_string(),
        authorization: None,
    })
    .unwrap();
    let error = gateway.send(ALICE_PHONE, "hello").await.unwrap_err();
    assert!(
        error.to_string().contains("could not be reached"),
        "{error}"
    );
}

#[tokio::test]
async fn id_12_a_gateway_error_is_the_notifiers_error() {
    let (url, server) = one_request_server("503 Service Unavailable").await;
    let gateway: Arc<dyn SmsGateway> = Arc::new(
        WebhookGateway::new(WebhookConfig {
            url,
            body_template: "{phone}:{text}".to_string(),
            content_type: "text/plain".to_string(),
            authorization: None,
        })
        .unwrap(),
    );
    let notifier = Notifier::new(None, gateway);
    let error = notifier.sms("+4179", "hi").await.unwrap_err();
    assert!(error.to_string().contains("503"), "{error}");
    assert_eq!(server.await.unwrap().body, "+4179:hi");
}
