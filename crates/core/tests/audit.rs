//! The audit log (ID-11) over a real embedded store in a temporary folder: entries are written
//! by the background task and readable after `flush`, each reader sees exactly what SPEC ID-11
//! grants (the account itself, its organizations' administrators, the operator), every mailbox
//! login is recorded with its result, and the credential tester (ID-7) answers the four cases
//! through the same path as a login, limiter included.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postwerk_core::{
    Actor, Audit, AuditQuery, Change, CoreError, CredentialTest, FailureLimiter, FailurePolicy,
    LoginAttempt, LoginOutcome, LoginResult, MailboxAuth, Owners, Protocol, password,
};
use postwerk_model::{
    AddressId, AddressKind, Domain, LocalPart, OrgId, Permissions, Redirection, Role,
    ServiceFeatures, UserAccount,
};
use postwerk_store::{AuditCategory, AuditEntry, NewAddress, NewService, NewUser, Stores};

const TOTO_PASSWORD: &str = "toto mailbox secret";

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    audit: Audit,
    acme: OrgId,
    other: OrgId,
    /// Owner of Acme.
    alice: UserAccount,
    /// Plain member of Acme.
    bob: UserAccount,
    /// Administrator of Other only.
    carol: UserAccount,
    /// In no organization.
    dave: UserAccount,
    /// toto@example.test (Acme), a mailbox with a password.
    toto: AddressId,
    /// box@other.test (Other).
    other_box: AddressId,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

fn unix_now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

async fn user(stores: &Stores, login: &str) -> UserAccount {
    stores
        .directory
        .create_user(NewUser {
            login: login.parse().unwrap(),
            display_name: login.split('@').next().unwrap().to_owned(),
            password_hash: password::hash("some account secret").unwrap(),
            phone: None,
            recovery_email: None,
        })
        .await
        .unwrap()
}

async fn service(stores: &Stores, org: OrgId, domain: &str) -> postwerk_model::ServiceId {
    stores
        .directory
        .create_service(NewService {
            org,
            domain: Domain::parse(domain).unwrap(),
            address_quota: 10,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .unwrap()
        .id
}

async fn mailbox(
    stores: &Stores,
    service: postwerk_model::ServiceId,
    local: &str,
    password_hash: Option<String>,
    redirect: Option<Redirection>,
) -> AddressId {
    let kind = if redirect.is_some() {
        AddressKind::RedirectOnly
    } else {
        AddressKind::Mailbox
    };
    stores
        .directory
        .create_address(NewAddress {
            service,
            local: LocalPart::parse(local).unwrap(),
            kind,
            display_name: String::new(),
            password_hash,
            redirect,
            storage_limit: None,
        })
        .await
        .unwrap()
        .id
}

/// Acme (alice owner, bob member) serving example.test with toto, fwd (redirect-only) and off
/// (disabled); Other (carol administrator) serving other.test with box; dave in neither.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let directory = &stores.directory;
    let acme = directory.create_org("Acme").await.unwrap().id;
    let other = directory.create_org("Other").await.unwrap().id;
    let example = service(&stores, acme, "example.test").await;
    let other_test = service(&stores, other, "other.test").await;
    let hash = password::hash(TOTO_PASSWORD).unwrap();
    let toto = mailbox(&stores, example, "toto", Some(hash.clone()), None).await;
    let redirect = Redirection {
        targets: vec!["toto@example.test".parse().unwrap()],
        keep_copy: false,
    };
    mailbox(&stores, example, "fwd", None, Some(redirect)).await;
    let off = mailbox(&stores, example, "off", Some(hash.clone()), None).await;
    directory.set_address_enabled(off, false).await.unwrap();
    let other_box = mailbox(&stores, other_test, "box", Some(hash), None).await;
    let alice = user(&stores, "alice@outside.test").await;
    let bob = user(&stores, "bob@outside.test").await;
    let carol = user(&stores, "carol@outside.test").await;
    let dave = user(&stores, "dave@outside.test").await;
    directory
        .add_membership(acme, alice.id, Role::Owner)
        .await
        .unwrap();
    directory
        .add_membership(acme, bob.id, Role::Member)
        .await
        .unwrap();
    directory
        .add_membership(other, carol.id, Role::Admin)
        .await
        .unwrap();
    let audit = Audit::start(stores.identity.clone());
    Fixture {
        _dir: dir,
        stores,
        audit,
        acme,
        other,
        alice,
        bob,
        carol,
        dave,
        toto,
        other_box,
    }
}

impl Fixture {
    fn mailbox_auth(&self, policy: FailurePolicy) -> MailboxAuth {
        MailboxAuth::new(
            self.stores.directory.clone(),
            Arc::new(FailureLimiter::new(policy)),
        )
        .with_audit(self.audit.clone())
    }

    /// A Manager sign-in of `account`, as `ManagerAuth` records it.
    fn manager_login(&self, account: &UserAccount) {
        self.audit.login(LoginAttempt {
            protocol: Protocol::Manager,
            ip: Some(ip(1)),
            subject: account.login.to_string(),
            result: LoginResult::Success,
            owners: Owners {
                user: Some(account.id),
                ..Owners::default()
            },
        });
    }

    async fn read(&self, actor: Actor, query: AuditQuery) -> Result<Vec<AuditEntry>, CoreError> {
        self.audit.flush().await;
        self.audit
            .entries(self.stores.directory.as_ref(), actor, query)
            .await
    }

    async fn subjects(&self, actor: Actor, query: AuditQuery) -> Vec<String> {
        let mut subjects: Vec<String> = self
            .read(actor, query)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.entry.subject)
            .collect();
        subjects.sort();
        subjects
    }

    /// Manager logins of alice, bob and dave, a mail login on toto (Acme) and one on box
    /// (Other).
    async fn record_a_bit_of_everything(&self) {
        for account in [&self.alice, &self.bob, &self.dave] {
            self.manager_login(account);
        }
        let auth = self.mailbox_auth(FailurePolicy::default());
        auth.login(Protocol::Imap, ip(2), "toto@example.test", TOTO_PASSWORD)
            .await
            .unwrap();
        auth.login(Protocol::Pop3, ip(3), "box@other.test", "wrong")
            .await
            .unwrap();
    }
}

fn by_user(login: &str) -> AuditQuery {
    AuditQuery {
        user: Some(login.to_owned()),
        ..AuditQuery::default()
    }
}

fn by_address(address: &str) -> AuditQuery {
    AuditQuery {
        address: Some(address.to_owned()),
        ..AuditQuery::default()
    }
}

fn by_org(name: &str) -> AuditQuery {
    AuditQuery {
        org: Some(name.to_owned()),
        ..AuditQuery::default()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn id_11_entries_recorded_before_a_flush_are_readable_after_it() {
    let f = fixture().await;
    let before = unix_now();
    f.audit.change(Change {
        protocol: Protocol::Cli,
        ip: None,
        actor: "operator".to_owned(),
        subject: "toto@example.test".to_owned(),
        event: "mailbox_password_changed",
        detail: "set by the operator".to_owned(),
        owners: Owners {
            address: Some(f.toto),
            org: Some(f.acme),
            user: None,
        },
    });
    f.manager_login(&f.bob);
    let entries = f
        .read(Actor::Operator, AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    // Newest first.
    let login = &entries[0].entry;
    assert_eq!(login.category, AuditCategory::Login);
    assert_eq!(login.protocol, "manager");
    assert_eq!(login.event, "success");
    assert_eq!(login.remote_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(login.subject, "bob@outside.test");
    assert_eq!(login.user, Some(f.bob.id));
    let change = &entries[1].entry;
    assert_eq!(change.category, AuditCategory::Change);
    assert_eq!(change.protocol, "cli");
    assert_eq!(change.event, "mailbox_password_changed");
    assert_eq!(change.actor.as_deref(), Some("operator"));
    assert_eq!(change.detail, "set by the operator");
    assert_eq!(change.remote_ip, None);
    assert_eq!(change.address, Some(f.toto));
    assert!(change.at >= before && change.at <= unix_now() + 1);
    assert!(entries[0].id > entries[1].id);
}

#[tokio::test]
async fn id_11_the_operator_reads_everything_and_can_narrow_it() {
    let f = fixture().await;
    f.record_a_bit_of_everything().await;
    let all = f.subjects(Actor::Operator, AuditQuery::default()).await;
    assert_eq!(
        all,
        strings(&[
            "alice@outside.test",
            "bob@outside.test",
            "box@other.test",
            "dave@outside.test",
            "toto@example.test",
        ])
    );
    assert_eq!(
        f.subjects(Actor::Operator, by_user("dave@outside.test"))
            .await,
        strings(&["dave@outside.test"])
    );
    assert_eq!(
        f.subjects(Actor::Operator, by_address("box@other.test"))
            .await,
        strings(&["box@other.test"])
    );
    // An organization's entries: its mailboxes' logins and its members' entries.
    assert_eq!(
        f.subjects(Actor::Operator, by_org("Acme")).await,
        strings(&[
            "alice@outside.test",
            "bob@outside.test",
            "toto@example.test"
        ])
    );
    let logins_only = AuditQuery {
        category: Some(AuditCategory::Change),
        ..AuditQuery::default()
    };
    assert!(f.subjects(Actor::Operator, logins_only).await.is_empty());
}

#[tokio::test]
async fn id_11_an_account_reads_its_own_entries_only() {
    let f = fixture().await;
    f.record_a_bit_of_everything().await;
    let bob = Actor::User(f.bob.id);
    assert_eq!(
        f.subjects(bob, AuditQuery::default()).await,
        strings(&["bob@outside.test"])
    );
    assert_eq!(
        f.subjects(bob, by_user("bob@outside.test")).await,
        strings(&["bob@outside.test"])
    );
    let dave = Actor::User(f.dave.id);
    assert_eq!(
        f.subjects(dave, AuditQuery::default()).await,
        strings(&["dave@outside.test"])
    );
}

#[tokio::test]
async fn id_11_organization_administrators_read_their_members_and_mailboxes() {
    let f = fixture().await;
    f.record_a_bit_of_everything().await;
    let alice = Actor::User(f.alice.id);
    assert_eq!(
        f.subjects(alice, AuditQuery::default()).await,
        strings(&[
            "alice@outside.test",
            "bob@outside.test",
            "toto@example.test"
        ])
    );
    assert_eq!(
        f.subjects(alice, by_user("bob@outside.test")).await,
        strings(&["bob@outside.test"])
    );
    assert_eq!(
        f.subjects(alice, by_address("toto@example.test")).await,
        strings(&["toto@example.test"])
    );
    assert_eq!(
        f.subjects(alice, by_org("Acme")).await,
        strings(&[
            "alice@outside.test",
            "bob@outside.test",
            "toto@example.test"
        ])
    );
    // An administrator (not owner) of another organization sees that one's mailboxes only.
    let carol = Actor::User(f.carol.id);
    assert_eq!(
        f.subjects(carol, AuditQuery::default()).await,
        strings(&["box@other.test"])
    );
    assert_eq!(
        f.subjects(carol, by_address("box@other.test")).await,
        strings(&["box@other.test"])
    );
}

#[tokio::test]
async fn id_11_asking_for_entries_one_may_not_read_is_forbidden() {
    let f = fixture().await;
    f.record_a_bit_of_everything().await;
    let bob = Actor::User(f.bob.id);
    let alice = Actor::User(f.alice.id);
    let carol = Actor::User(f.carol.id);
    let refused = [
        (bob, by_user("alice@outside.test")),
        (bob, by_address("toto@example.test")),
        (bob, by_org("Acme")),
        (alice, by_user("dave@outside.test")),
        (alice, by_user("carol@outside.test")),
        (alice, by_address("box@other.test")),
        (alice, by_org("Other")),
        (carol, by_org("Acme")),
        (carol, by_user("bob@outside.test")),
    ];
    for (actor, query) in refused {
        let answer = f.read(actor, query.clone()).await;
        assert!(
            matches!(answer, Err(CoreError::Forbidden(ref sentence)) if !sentence.is_empty()),
            "{actor:?} {query:?}: {answer:?}"
        );
    }
}

#[tokio::test]
async fn id_11_a_user_of_a_mailbox_reads_its_logins() {
    let f = fixture().await;
    f.record_a_bit_of_everything().await;
    f.stores
        .directory
        .grant_access(f.bob.id, f.toto, Permissions::READ_SEND, None)
        .await
        .unwrap();
    assert_eq!(
        f.subjects(Actor::User(f.bob.id), by_address("toto@example.test"))
            .await,
        strings(&["toto@example.test"])
    );
}

#[tokio::test]
async fn id_11_unknown_names_in_a_query_are_not_found() {
    let f = fixture().await;
    for query in [
        by_user("nobody@outside.test"),
        by_address("nobody@example.test"),
        by_org("Nobody"),
    ] {
        let answer = f.read(Actor::Operator, query.clone()).await;
        assert!(
            matches!(answer, Err(CoreError::NotFound(_))),
            "{query:?}: {answer:?}"
        );
    }
    let both = AuditQuery {
        user: Some("bob@outside.test".to_owned()),
        org: Some("Acme".to_owned()),
        ..AuditQuery::default()
    };
    assert!(matches!(
        f.read(Actor::Operator, both).await,
        Err(CoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn id_11_entries_are_read_newest_first_in_pages_of_bounded_size() {
    let f = fixture().await;
    for n in 0..1005 {
        f.audit.login(LoginAttempt {
            protocol: Protocol::Smtp,
            ip: Some(ip(9)),
            subject: format!("guess{n}@example.test"),
            result: LoginResult::Unknown,
            owners: Owners::default(),
        });
    }
    let page = |limit, before| AuditQuery {
        limit,
        before,
        ..AuditQuery::default()
    };
    let default = f.read(Actor::Operator, page(None, None)).await.unwrap();
    assert_eq!(default.len(), 100, "the default page");
    assert_eq!(default[0].entry.subject, "guess1004@example.test");
    let most = f
        .read(Actor::Operator, page(Some(5000), None))
        .await
        .unwrap();
    assert_eq!(most.len(), 1000, "at most 1,000 per page");
    let first = f.read(Actor::Operator, page(Some(2), None)).await.unwrap();
    let second = f
        .read(Actor::Operator, page(Some(2), Some(first[1].id)))
        .await
        .unwrap();
    let subjects: Vec<&str> = first
        .iter()
        .chain(&second)
        .map(|e| e.entry.subject.as_str())
        .collect();
    assert_eq!(
        subjects,
        [
            "guess1004@example.test",
            "guess1003@example.test",
            "guess1002@example.test",
            "guess1001@example.test",
        ]
    );
}

#[tokio::test]
async fn id_11_a_discarding_log_accepts_everything_and_keeps_nothing() {
    let f = fixture().await;
    let audit = Audit::discard();
    let auth = MailboxAuth::new(
        f.stores.directory.clone(),
        Arc::new(FailureLimiter::new(FailurePolicy::default())),
    )
    .with_audit(audit.clone());
    let outcome = auth
        .login(Protocol::Imap, ip(4), "toto@example.test", TOTO_PASSWORD)
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::Accepted(_)));
    audit.change(Change {
        protocol: Protocol::Manager,
        ip: None,
        actor: "alice@outside.test".to_owned(),
        subject: "alice@outside.test".to_owned(),
        event: "totp_enabled",
        detail: String::new(),
        owners: Owners::default(),
    });
    audit.flush().await;
    let entries = audit
        .entries(
            f.stores.directory.as_ref(),
            Actor::Operator,
            AuditQuery::default(),
        )
        .await
        .unwrap();
    assert!(entries.is_empty());
    // Nor did anything reach the real log.
    assert!(
        f.read(Actor::Operator, AuditQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Only `lockout_after` matters here: the core never waits, the protocols do.
fn lockout_after(failures: u32) -> FailurePolicy {
    FailurePolicy {
        free_failures: failures,
        delay_step: Duration::ZERO,
        max_delay: Duration::ZERO,
        lockout_after: failures,
        lockout: Duration::from_secs(600),
    }
}

#[tokio::test]
async fn id_11_every_mailbox_login_is_recorded_with_its_result() {
    let f = fixture().await;
    let auth = f.mailbox_auth(lockout_after(4));
    let cases = [
        ("toto@example.test", TOTO_PASSWORD, "success"),
        ("off@example.test", TOTO_PASSWORD, "disabled"),
        ("toto@example.test", "wrong", "wrong_password"),
        ("nobody@example.test", TOTO_PASSWORD, "unknown"),
        ("fwd@example.test", "", "unknown"),
        ("not an address", "x", "unknown"),
    ];
    for (user, password, _) in cases {
        auth.login(Protocol::Smtp, ip(5), user, password)
            .await
            .unwrap();
    }
    // Four failures since the last right password (disabled or not): the next attempt is
    // refused unchecked.
    let outcome = auth
        .login(Protocol::Smtp, ip(5), "toto@example.test", TOTO_PASSWORD)
        .await
        .unwrap();
    assert_eq!(outcome, LoginOutcome::Throttled);
    let mut entries = f
        .read(Actor::Operator, AuditQuery::default())
        .await
        .unwrap();
    entries.reverse();
    let recorded: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.entry.subject.as_str(), e.entry.event.as_str()))
        .collect();
    let mut expected: Vec<(&str, &str)> = cases.iter().map(|(u, _, r)| (*u, *r)).collect();
    expected.push(("toto@example.test", "throttled"));
    assert_eq!(recorded, expected);
    for entry in &entries {
        assert_eq!(entry.entry.protocol, "smtp");
        assert_eq!(entry.entry.category, AuditCategory::Login);
        assert_eq!(entry.entry.remote_ip.as_deref(), Some("192.0.2.5"));
        assert_eq!(entry.entry.user, None, "a mailbox login is no account's");
    }
    // A known address's attempts belong to the mailbox and its organization; unknown ones and
    // unchecked ones to nobody but the operator.
    assert_eq!(entries[0].entry.address, Some(f.toto));
    assert_eq!(entries[0].entry.org, Some(f.acme));
    assert!(entries[1].entry.address.is_some(), "off is a known address");
    assert_eq!(entries[2].entry.address, Some(f.toto));
    assert_eq!(entries[2].entry.org, Some(f.acme));
    assert!(entries[4].entry.address.is_some(), "fwd is a known address");
    for unknown in [3, 5, 6] {
        assert_eq!(entries[unknown].entry.address, None);
        assert_eq!(entries[unknown].entry.org, None);
    }
    // Nothing the client typed as a password is kept.
    for entry in &entries {
        assert!(!format!("{:?}", entry.entry).contains(TOTO_PASSWORD));
    }
}

#[tokio::test]
async fn id_11_each_protocol_is_recorded_under_its_name() {
    let f = fixture().await;
    let auth = f.mailbox_auth(FailurePolicy::default());
    for protocol in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp] {
        auth.login(protocol, ip(6), "box@other.test", TOTO_PASSWORD)
            .await
            .unwrap();
    }
    let entries = f
        .read(Actor::Operator, AuditQuery::default())
        .await
        .unwrap();
    let protocols: Vec<&str> = entries.iter().map(|e| e.entry.protocol.as_str()).collect();
    assert_eq!(protocols, ["smtp", "pop3", "imap"]);
    assert!(entries.iter().all(|e| e.entry.address == Some(f.other_box)
        && e.entry.org == Some(f.other)
        && e.entry.event == "success"));
}

#[tokio::test]
async fn id_7_the_tester_tells_the_four_answers_apart_and_records_them() {
    let f = fixture().await;
    let auth = f.mailbox_auth(FailurePolicy::default());
    let cases = [
        ("toto@example.test", TOTO_PASSWORD, CredentialTest::Valid),
        (
            "toto@example.test",
            "not the password",
            CredentialTest::WrongPassword,
        ),
        (
            "nobody@example.test",
            TOTO_PASSWORD,
            CredentialTest::UnknownAddress,
        ),
        ("fwd@example.test", "", CredentialTest::UnknownAddress),
        ("off@example.test", TOTO_PASSWORD, CredentialTest::Disabled),
    ];
    for (address, password, expected) in cases {
        assert_eq!(
            auth.test_credentials(ip(7), address, password)
                .await
                .unwrap(),
            expected,
            "{address}"
        );
    }
    let mut entries = f
        .read(Actor::Operator, AuditQuery::default())
        .await
        .unwrap();
    entries.reverse();
    let recorded: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.entry.protocol.as_str(), e.entry.event.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [
            ("tester", "success"),
            ("tester", "wrong_password"),
            ("tester", "unknown"),
            ("tester", "unknown"),
            ("tester", "disabled"),
        ]
    );
}

#[tokio::test]
async fn id_7_the_tester_is_throttled_like_a_login_and_shares_its_failures() {
    let f = fixture().await;
    let auth = f.mailbox_auth(lockout_after(3));
    let tester = ip(8);
    assert_eq!(
        auth.test_credentials(tester, "toto@example.test", "guess 1")
            .await
            .unwrap(),
        CredentialTest::WrongPassword
    );
    assert_eq!(
        auth.test_credentials(tester, "nobody@example.test", "guess 2")
            .await
            .unwrap(),
        CredentialTest::UnknownAddress
    );
    // A failed mail login from the same client counts toward the same limit.
    let outcome = auth
        .login(Protocol::Imap, tester, "toto@example.test", "guess 3")
        .await
        .unwrap();
    assert!(
        matches!(outcome, LoginOutcome::Invalid { .. }),
        "{outcome:?}"
    );
    // Locked out: even the right password is not checked, by the tester or by a login.
    assert_eq!(
        auth.test_credentials(tester, "toto@example.test", TOTO_PASSWORD)
            .await
            .unwrap(),
        CredentialTest::Throttled
    );
    assert_eq!(
        auth.login(Protocol::Imap, tester, "toto@example.test", TOTO_PASSWORD)
            .await
            .unwrap(),
        LoginOutcome::Throttled
    );
    // Another client is unaffected.
    assert_eq!(
        auth.test_credentials(ip(10), "toto@example.test", TOTO_PASSWORD)
            .await
            .unwrap(),
        CredentialTest::Valid
    );
    let throttled = f
        .read(Actor::Operator, AuditQuery::default())
        .await
        .unwrap()
        .iter()
        .filter(|e| e.entry.event == "throttled")
        .count();
    assert_eq!(throttled, 2);
}

#[tokio::test]
async fn id_11_the_tester_and_mail_logins_are_visible_to_the_mailbox_organization() {
    let f = fixture().await;
    let auth = f.mailbox_auth(FailurePolicy::default());
    auth.test_credentials(ip(11), "toto@example.test", "wrong")
        .await
        .unwrap();
    let alice: Vec<String> = f
        .read(Actor::User(f.alice.id), AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.entry.protocol, e.entry.event))
        .collect();
    assert_eq!(alice, ["tester wrong_password"]);
    assert!(
        f.read(Actor::User(f.bob.id), AuditQuery::default())
            .await
            .unwrap()
            .is_empty(),
        "a plain member does not read the mailbox's log"
    );
}
