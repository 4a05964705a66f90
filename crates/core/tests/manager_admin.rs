//! `core::Admin` as the Manager uses it (issue 8): the permission model of ORG-1 and ADDR-9,
//! the creation modes of ADDR-1, invitations end to end through a recording mailer, members,
//! services, sender lists, and the `DeliveryMailer` that sends the platform's own mail; over a
//! real SQLite store in a temporary folder.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use postwerk_core::{
    AcceptInvitation, Actor, Admin, CoreError, CreateAddress, CreateUser, Delivery, DeliveryMailer,
    FailureLimiter, FailurePolicy, Grant, Holder, InvitationRequest, LoginOutcome, MailboxAuth,
    Mailer, Notification, ServiceUpdate,
};
use postwerk_model::{
    Address, AddressKind, ListKind, LoginMode, Permissions, Role, ServiceFeatures,
    SignatureTemplate,
};
use postwerk_store::{NewInvitation, Stores};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const PASSWORD: &str = "mailbox-secret-1";
const PUBLIC_URL: &str = "https://mail.example.test";
const OP: Actor = Actor::Operator;

/// A [`Mailer`] that keeps what it is asked to send.
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

impl RecordingMailer {
    fn last(&self) -> Notification {
        self.sent
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a message was sent")
    }

    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

/// Acme serves example.test (alias domain example.org, quota 10) with toto@ and other@;
/// boss@ is its owner, helper@ an administrator, member@ a member holding only
/// MANAGE_ALIASES on toto@; stranger@ belongs to another organization.
struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    admin: Admin,
    mailer: Arc<RecordingMailer>,
    boss: Actor,
    helper: Actor,
    member: Actor,
    stranger: Actor,
}

fn address(text: &str) -> Address {
    text.parse().unwrap()
}

fn mailbox(address: &str, password: Option<&str>, holder: Holder) -> CreateAddress {
    CreateAddress {
        address: address.into(),
        kind: AddressKind::Mailbox,
        password: password.map(Into::into),
        holder,
        display_name: String::new(),
        aliases: Vec::new(),
        redirect_to: Vec::new(),
        keep_copy: false,
    }
}

async fn user(admin: &Admin, login: &str, org: &str, role: Role) -> Actor {
    let created = admin
        .create_user(
            OP,
            CreateUser {
                login: login.into(),
                password: Some("account-secret-1".into()),
                display_name: Some("Some One".into()),
                org: Some((org.into(), role)),
            },
        )
        .await
        .unwrap();
    Actor::User(created.value.id)
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let mailer = Arc::new(RecordingMailer::default());
    let admin = Admin::from_stores(&stores)
        .with_mailer(mailer.clone())
        .with_public_url(format!("{PUBLIC_URL}/"));
    admin.create_org(OP, "Acme").await.unwrap();
    admin.create_org(OP, "Other").await.unwrap();
    admin
        .create_service(OP, "example.test", "Acme", 10)
        .await
        .unwrap();
    admin
        .add_alias_domain(OP, "example.test", "example.org")
        .await
        .unwrap();
    for local in ["toto", "other"] {
        let request = mailbox(
            &format!("{local}@example.test"),
            Some(PASSWORD),
            Holder::Nobody,
        );
        admin.create_address(OP, request).await.unwrap();
    }
    let boss = user(&admin, "boss@outside.example", "Acme", Role::Owner).await;
    let helper = user(&admin, "helper@outside.example", "Acme", Role::Admin).await;
    let member = user(&admin, "member@outside.example", "Acme", Role::Member).await;
    let stranger = user(&admin, "stranger@else.example", "Other", Role::Owner).await;
    admin
        .grant_access(
            OP,
            "toto@example.test",
            "member@outside.example",
            Some(Permissions::READ_SEND | Permissions::MANAGE_ALIASES),
            None,
        )
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        stores,
        admin,
        mailer,
        boss,
        helper,
        member,
        stranger,
    }
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, CoreError>) -> String {
    match result {
        Err(CoreError::Forbidden(sentence)) => sentence,
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

fn refused<T: std::fmt::Debug>(result: Result<T, CoreError>) -> String {
    match result {
        Err(error) if error.is_refusal() => error.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn exists(f: &Fixture, text: &str) -> bool {
    f.stores
        .directory
        .address_by_address(&address(text))
        .await
        .unwrap()
        .is_some()
}

async fn mailbox_hash(f: &Fixture, text: &str) -> String {
    f.stores
        .directory
        .address_by_address(&address(text))
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap()
}

/// The link secret of the last invitation mail, read from its text as the person would.
fn link_secret(mailer: &RecordingMailer) -> String {
    let text = mailer.last().text;
    let start = text.find("/invite/").expect("a link") + "/invite/".len();
    let secret: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(
        text.contains(&format!("{PUBLIC_URL}/invite/{secret}")),
        "{text}"
    );
    secret
}

fn acceptance(login: Option<&str>, password: &str) -> AcceptInvitation {
    AcceptInvitation {
        login: login.map(Into::into),
        password: Zeroizing::new(password.into()),
        display_name: "New Person".into(),
    }
}

fn invitation(send_to: Option<&str>, login_mode: LoginMode) -> Holder {
    Holder::Invitation(InvitationRequest {
        send_to: send_to.map(Into::into),
        login_mode,
        permissions: None,
        signature: None,
    })
}

#[tokio::test]
async fn org_1_a_member_is_refused_every_administrators_operation() {
    let f = fixture().await;
    let a = &f.admin;
    let m = f.member;
    let expected = "only an owner or administrator of the organization Acme, which holds toto@example.test, \
         can do this";
    assert_eq!(
        forbidden(a.delete_addresses(m, &["toto@example.test".into()]).await),
        expected
    );
    assert_eq!(
        forbidden(
            a.revoke_access(m, "toto@example.test", "member@outside.example")
                .await
        ),
        expected
    );
    assert_eq!(
        forbidden(
            a.grant_access(m, "toto@example.test", "boss@outside.example", None, None)
                .await
        ),
        expected
    );
    assert_eq!(
        forbidden(a.list_access(m, "toto@example.test").await),
        expected
    );
    let org = "only an owner or administrator of the organization Acme can do this";
    let create = mailbox("new@example.test", Some(PASSWORD), Holder::Nobody);
    assert_eq!(forbidden(a.create_address(m, create).await), org);
    assert_eq!(forbidden(a.list_addresses(m, "example.test").await), org);
    assert_eq!(forbidden(a.set_quota(m, "example.test", 100).await), org);
    assert_eq!(forbidden(a.service(m, "example.test").await), org);
    let update = ServiceUpdate {
        address_quota: Some(100),
        ..ServiceUpdate::default()
    };
    assert_eq!(
        forbidden(a.update_service(m, "example.test", update).await),
        org
    );
    assert_eq!(
        forbidden(a.add_alias_domain(m, "example.test", "example.net").await),
        org
    );
    assert_eq!(
        forbidden(
            a.remove_alias_domain(m, "example.test", "example.org")
                .await
        ),
        org
    );
    assert_eq!(forbidden(a.rotate_dkim(m, "example.test").await), org);
    assert_eq!(
        forbidden(a.plan_bulk(m, "example.test", b"address\nx\n").await),
        org
    );
    assert_eq!(
        forbidden(
            a.set_member(m, "Acme", "member@outside.example", Role::Admin)
                .await
        ),
        org
    );
    assert_eq!(
        forbidden(a.remove_member(m, "Acme", "helper@outside.example").await),
        org
    );
    let request = InvitationRequest {
        send_to: None,
        login_mode: LoginMode::OwnChoice,
        permissions: None,
        signature: None,
    };
    assert_eq!(
        forbidden(a.invite(m, "toto@example.test", request).await),
        expected
    );
    let user = CreateUser {
        login: "new@outside.example".into(),
        password: None,
        display_name: None,
        org: Some(("Acme".into(), Role::Member)),
    };
    assert_eq!(forbidden(a.create_user(m, user).await), org);
    // Enabling and storage limits are the administrators' even for a holder of the mailbox.
    let disable = postwerk_core::AddressUpdate {
        enabled: Some(false),
        ..Default::default()
    };
    assert_eq!(
        forbidden(a.update_address(m, "toto@example.test", disable).await),
        expected
    );
    // A stranger from another organization gets the same answers, and sees none of Acme.
    assert_eq!(
        forbidden(a.list_addresses(f.stranger, "example.test").await),
        org
    );
    assert!(a.list_services(f.stranger).await.unwrap().is_empty());
    // Nothing of it happened.
    assert!(exists(&f, "toto@example.test").await);
    assert!(!exists(&f, "new@example.test").await);
    assert_eq!(
        a.service(OP, "example.test").await.unwrap().0.address_quota,
        10
    );
}

#[tokio::test]
async fn addr_9_manage_aliases_opens_that_mailboxs_aliases_and_nothing_else() {
    let f = fixture().await;
    let a = &f.admin;
    let m = f.member;
    let alias = a
        .add_alias(m, "toto@example.test", "t1@example.test")
        .await
        .unwrap();
    assert_eq!(alias.local.as_str(), "t1");
    // Through the alias domain too: the address is the same mailbox.
    a.add_alias(m, "toto@example.org", "t2@example.test")
        .await
        .unwrap();
    let listed: Vec<String> = a
        .list_aliases(m, "toto@example.test")
        .await
        .unwrap()
        .iter()
        .map(|alias| alias.local.to_string())
        .collect();
    assert_eq!(listed, ["t1", "t2"]);
    a.remove_alias(m, "t2@example.test").await.unwrap();
    assert_eq!(
        a.list_aliases(m, "toto@example.test").await.unwrap().len(),
        1
    );

    assert_eq!(
        forbidden(
            a.add_alias(m, "other@example.test", "o1@example.test")
                .await
        ),
        "you need the permission to manage aliases of other@example.test, or to administer its \
         organization"
    );
    a.add_alias(OP, "other@example.test", "o1@example.test")
        .await
        .unwrap();
    assert_eq!(
        forbidden(a.remove_alias(m, "o1@example.test").await),
        "you need the permission to manage aliases of other@example.test, or to administer its \
         organization"
    );
    assert_eq!(
        forbidden(
            a.set_address_password(m, "toto@example.test", Some("new-password-1"), false)
                .await
        ),
        "you need the permission to change the password of toto@example.test, or to administer \
         its organization"
    );
    assert_eq!(
        forbidden(
            a.add_sender_rule(m, "toto@example.test", ListKind::Block, "spam.example")
                .await
        ),
        "you need the permission to manage filters and sender lists of toto@example.test, or to \
         administer its organization"
    );
    let redirect = postwerk_core::AddressUpdate {
        redirect: Some(Some((vec!["me@home.example".into()], true))),
        ..Default::default()
    };
    assert_eq!(
        forbidden(a.update_address(m, "toto@example.test", redirect).await),
        "you need the permission to manage redirections of toto@example.test, or to administer \
         its organization"
    );
    assert_eq!(
        forbidden(a.address_details(m, "other@example.test").await),
        "you need access to other@example.test, or to administer its organization"
    );
    // Any access shows the address's page.
    let details = a.address_details(m, "toto@example.test").await.unwrap();
    assert_eq!(details.address.address, address("toto@example.test"));
    assert_eq!(details.aliases.len(), 1);
    assert_eq!(details.access[0].0, address("member@outside.example"));
    // The password did not change.
    assert!(postwerk_core::password::verify(
        PASSWORD,
        &mailbox_hash(&f, "toto@example.test").await
    ));

    // ADDR-6: the service's switch applies to holders and administrators alike.
    let off = ServiceUpdate {
        features: Some(ServiceFeatures {
            aliases_allowed: false,
            filters: Default::default(),
        }),
        ..ServiceUpdate::default()
    };
    a.update_service(f.boss, "example.test", off).await.unwrap();
    for actor in [m, f.boss] {
        assert_eq!(
            refused(
                a.add_alias(actor, "toto@example.test", "t3@example.test")
                    .await
            ),
            "aliases are not enabled for this mail service"
        );
    }
}

#[tokio::test]
async fn addr_9_each_permission_opens_its_own_operation() {
    let f = fixture().await;
    let a = &f.admin;
    let m = f.member;
    a.grant_access(
        OP,
        "other@example.test",
        "member@outside.example",
        Some(
            Permissions::CHANGE_PASSWORD
                | Permissions::MANAGE_REDIRECTIONS
                | Permissions::MANAGE_FILTERS,
        ),
        None,
    )
    .await
    .unwrap();
    let generated = a
        .set_address_password(m, "other@example.test", Some("changed-by-member"), false)
        .await
        .unwrap();
    assert!(generated.generated.is_none());
    assert!(postwerk_core::password::verify(
        "changed-by-member",
        &mailbox_hash(&f, "other@example.test").await
    ));
    let redirect = postwerk_core::AddressUpdate {
        redirect: Some(Some((vec!["me@home.example".into()], true))),
        ..Default::default()
    };
    let updated = a
        .update_address(m, "other@example.test", redirect)
        .await
        .unwrap();
    let kept = updated.redirect.unwrap();
    assert_eq!(kept.targets, [address("me@home.example")]);
    assert!(kept.keep_copy);
    let rule = a
        .add_sender_rule(m, "other@example.test", ListKind::Block, "@Spam.example")
        .await
        .unwrap();
    assert_eq!(rule.pattern.to_string(), "@spam.example");
    // The same pattern changes list.
    a.add_sender_rule(m, "other@example.test", ListKind::Allow, "spam.example")
        .await
        .unwrap();
    let rules = a.sender_rules(m, "other@example.test").await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].kind, ListKind::Allow);
    assert_eq!(
        refused(
            a.add_sender_rule(m, "other@example.test", ListKind::Allow, "not a domain")
                .await
        ),
        "\"not a domain\" is neither a sender address nor a domain: \"not a domain\" is not a \
         valid domain name: it contains a space or a control character"
    );
    a.remove_sender_rule(m, "other@example.test", "spam.example")
        .await
        .unwrap();
    assert!(
        a.sender_rules(m, "other@example.test")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        a.remove_sender_rule(m, "other@example.test", "spam.example")
            .await,
        Err(CoreError::Store(postwerk_store::StoreError::NotFound(_)))
    ));
    // Removing the redirection is the same permission.
    let remove = postwerk_core::AddressUpdate {
        redirect: Some(None),
        ..Default::default()
    };
    let updated = a
        .update_address(m, "other@example.test", remove)
        .await
        .unwrap();
    assert_eq!(updated.redirect, None);
    // Still no administrator's rights: mixing an administrator's field refuses it all.
    let mixed = postwerk_core::AddressUpdate {
        enabled: Some(false),
        redirect: Some(Some((vec!["me@home.example".into()], false))),
        ..Default::default()
    };
    forbidden(a.update_address(m, "other@example.test", mixed).await);
    let unchanged = f
        .stores
        .directory
        .address_by_address(&address("other@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert!(unchanged.enabled);
    assert_eq!(unchanged.redirect, None);
}

#[tokio::test]
async fn addr_8_to_10_an_administrator_updates_addresses_and_deletes_them() {
    let f = fixture().await;
    let a = &f.admin;
    let update = postwerk_core::AddressUpdate {
        enabled: Some(false),
        storage_limit: Some(Some(1_000_000)),
        redirect: Some(Some((
            vec!["a@home.example".into(), "b@home.example".into()],
            false,
        ))),
        display_name: None,
    };
    let updated = a
        .update_address(f.helper, "toto@example.test", update)
        .await
        .unwrap();
    assert!(!updated.enabled);
    assert_eq!(updated.storage_limit, Some(1_000_000));
    assert_eq!(updated.redirect.unwrap().targets.len(), 2);
    let lift = postwerk_core::AddressUpdate {
        storage_limit: Some(None),
        enabled: Some(true),
        ..Default::default()
    };
    let updated = a
        .update_address(f.helper, "toto@example.test", lift)
        .await
        .unwrap();
    assert!(updated.enabled);
    assert_eq!(updated.storage_limit, None);

    // The kind's rules hold before anything is written.
    let request = CreateAddress {
        kind: AddressKind::NoReply,
        ..mailbox("info@example.test", None, Holder::Nobody)
    };
    let created = a.create_address(OP, request).await.unwrap();
    assert!(
        created.generated_password.is_some(),
        "a no-reply address sends, so it logs in"
    );
    let forward = postwerk_core::AddressUpdate {
        redirect: Some(Some((vec!["a@home.example".into()], false))),
        enabled: Some(false),
        ..Default::default()
    };
    assert_eq!(
        refused(a.update_address(OP, "info@example.test", forward).await),
        "the no-reply address info@example.test accepts no mail, so it cannot have a redirection"
    );
    assert!(
        f.stores
            .directory
            .address_by_address(&address("info@example.test"))
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    let limit = postwerk_core::AddressUpdate {
        storage_limit: Some(Some(5)),
        ..Default::default()
    };
    assert_eq!(
        refused(a.update_address(OP, "info@example.test", limit).await),
        "info@example.test holds no mail, so it cannot have a storage limit"
    );

    let deleted = a
        .delete_addresses(
            f.boss,
            &["toto@example.org".into(), "toto@example.test".into()],
        )
        .await
        .unwrap();
    assert_eq!(deleted.addresses, [address("toto@example.test")]);
    assert!(!exists(&f, "toto@example.test").await);
}

#[tokio::test]
async fn svc_2_quota_reached_refuses_and_cannot_be_lowered_below_use() {
    let f = fixture().await;
    let a = &f.admin;
    a.set_quota(f.boss, "example.test", 3).await.unwrap();
    a.create_address(
        f.boss,
        mailbox("third@example.test", Some(PASSWORD), Holder::Nobody),
    )
    .await
    .unwrap();
    assert_eq!(
        refused(
            a.create_address(
                f.boss,
                mailbox("fourth@example.test", Some(PASSWORD), Holder::Nobody)
            )
            .await
        ),
        "the mail service example.test has reached its quota of 3 addresses; an administrator \
         can raise it"
    );
    assert!(!exists(&f, "fourth@example.test").await);
    // Lowering below use refuses the whole update: the other fields stay as they were.
    let update = ServiceUpdate {
        address_quota: Some(2),
        default_permissions: Some(Permissions::READ_SEND),
        ..ServiceUpdate::default()
    };
    assert_eq!(
        refused(a.update_service(f.boss, "example.test", update).await),
        "the quota cannot be lowered to 2 addresses because 3 addresses are in use; delete some \
         first"
    );
    let (service, used) = a.service(f.boss, "example.test").await.unwrap();
    assert_eq!((service.address_quota, used), (3, 3));
    assert_ne!(service.default_permissions, Permissions::READ_SEND);
    let update = ServiceUpdate {
        address_quota: Some(4),
        ..ServiceUpdate::default()
    };
    assert_eq!(
        a.update_service(f.boss, "example.test", update)
            .await
            .unwrap()
            .address_quota,
        4
    );
    a.create_address(
        f.boss,
        mailbox("fourth@example.test", Some(PASSWORD), Holder::Nobody),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn addr_6_fifty_aliases_then_the_51st_and_collisions_are_refused() {
    let f = fixture().await;
    let a = &f.admin;
    for n in 0..50 {
        a.add_alias(f.helper, "toto@example.test", &format!("a{n}@example.test"))
            .await
            .unwrap();
    }
    assert_eq!(
        refused(
            a.add_alias(f.helper, "toto@example.test", "a50@example.test")
                .await
        ),
        "an address can have at most 50 aliases"
    );
    let collision = refused(
        a.add_alias(f.helper, "other@example.test", "toto@example.test")
            .await,
    );
    assert!(
        collision.contains("toto@example.test already exists"),
        "{collision}"
    );
    let collision = refused(
        a.add_alias(f.helper, "other@example.test", "a7@example.test")
            .await,
    );
    assert!(
        collision.contains("a7@example.test already exists as an alias of toto@example.test"),
        "{collision}"
    );
    assert_eq!(
        refused(
            a.add_alias(f.helper, "other@example.test", "x@elsewhere.example")
                .await
        ),
        "an alias must be in the domain of its address: x@elsewhere.example is not in example.test"
    );

    // With a new address: all in one transaction, so a colliding alias creates nothing.
    let request = CreateAddress {
        aliases: vec!["fresh1".into(), "other@example.test".into()],
        ..mailbox("fresh@example.test", Some(PASSWORD), Holder::Nobody)
    };
    let collision = refused(a.create_address(f.helper, request).await);
    assert!(
        collision.contains("other@example.test already exists"),
        "{collision}"
    );
    assert!(!exists(&f, "fresh@example.test").await);
    assert!(
        a.create_address(
            f.helper,
            mailbox("fresh1@example.test", Some(PASSWORD), Holder::Nobody)
        )
        .await
        .is_ok()
    );
    let request = CreateAddress {
        aliases: (0..51).map(|n| format!("f{n}")).collect(),
        ..mailbox("fresh@example.test", Some(PASSWORD), Holder::Nobody)
    };
    assert_eq!(
        refused(a.create_address(f.helper, request).await),
        "an address can have at most 50 aliases"
    );
    let request = CreateAddress {
        aliases: vec!["f1@example.test".into(), "F1".into()],
        ..mailbox("fresh@example.test", Some(PASSWORD), Holder::Nobody)
    };
    assert_eq!(
        refused(a.create_address(f.helper, request).await),
        "the alias f1@example.test is listed twice"
    );
    let request = CreateAddress {
        aliases: vec!["f1".into(), "f2@example.test".into()],
        ..mailbox("fresh@example.test", Some(PASSWORD), Holder::Nobody)
    };
    let created = a.create_address(f.helper, request).await.unwrap();
    let aliases = a.list_aliases(OP, "fresh@example.test").await.unwrap();
    assert_eq!(aliases.len(), 2);
    assert_eq!(created.address.address, address("fresh@example.test"));
}

#[tokio::test]
async fn svc_1_unknown_domains_and_alias_domains_are_named() {
    let f = fixture().await;
    let a = &f.admin;
    assert!(matches!(
        a.create_address(OP, mailbox("x@nowhere.example", Some(PASSWORD), Holder::Nobody)).await,
        Err(CoreError::NotFound(sentence))
            if sentence == "no mail service exists for the domain nowhere.example"
    ));
    assert_eq!(
        refused(
            a.create_address(OP, mailbox("x@example.org", Some(PASSWORD), Holder::Nobody))
                .await
        ),
        "example.org is an alias domain of example.test; create the address as x@example.test"
    );
    assert!(matches!(
        a.address_details(OP, "ghost@example.test").await,
        Err(CoreError::NotFound(sentence)) if sentence == "the address ghost@example.test does not exist"
    ));
    assert_eq!(
        refused(
            a.remove_alias_domain(OP, "example.test", "example.net")
                .await
        ),
        "example.net is not an alias domain of the mail service example.test"
    );
    assert_eq!(
        refused(
            a.remove_alias_domain(OP, "example.test", "example.test")
                .await
        ),
        "example.test is the primary domain of its mail service, not an alias domain"
    );
    a.remove_alias_domain(f.boss, "example.test", "example.org")
        .await
        .unwrap();
    assert!(
        a.service(OP, "example.test")
            .await
            .unwrap()
            .0
            .alias_domains
            .is_empty()
    );
    assert!(matches!(
        a.address_details(OP, "toto@example.org").await,
        Err(CoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn addr_1_each_holder_mode_links_the_right_accounts() {
    let f = fixture().await;
    let a = &f.admin;
    let templates = ServiceUpdate {
        signature_templates: Some(vec![SignatureTemplate {
            name: " Formal ".into(),
            body: "Regards,\nAcme".into(),
        }]),
        ..ServiceUpdate::default()
    };
    let service = a
        .update_service(f.boss, "example.test", templates)
        .await
        .unwrap();
    assert_eq!(service.signature_templates[0].name, "Formal");

    // (a) themself: their password, linked at once with the service's defaults.
    let mine = a
        .create_address(
            f.boss,
            mailbox("boss@example.test", Some(PASSWORD), Holder::Myself),
        )
        .await
        .unwrap();
    assert!(mine.generated_password.is_none());
    let access = a.list_access(f.boss, "boss@example.test").await.unwrap();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].0, address("boss@outside.example"));
    assert_eq!(access[0].1.permissions, service.default_permissions);
    assert_eq!(
        refused(
            a.create_address(f.boss, mailbox("boss2@example.test", None, Holder::Myself))
                .await
        ),
        "choose the password of boss2@example.test: an address created for yourself gets the \
         password you type, not a generated one"
    );
    assert_eq!(
        refused(
            a.create_address(
                OP,
                mailbox("op@example.test", Some(PASSWORD), Holder::Myself)
            )
            .await
        ),
        "the platform operator has no account to link an address to; create it for other users, \
         with an invitation, or for nobody"
    );

    // (b) other users: permissions as given or the defaults, a template, a generated password.
    let users = Holder::Users(vec![
        Grant {
            login: "member@outside.example".into(),
            permissions: Some(Permissions::READ_SEND),
            signature: Some("Formal".into()),
        },
        Grant {
            login: "helper@outside.example".into(),
            permissions: None,
            signature: None,
        },
    ]);
    let shared = a
        .create_address(f.helper, mailbox("team@example.test", None, users))
        .await
        .unwrap();
    let password = shared.generated_password.expect("generated, shown once");
    assert!(postwerk_core::password::verify(
        &password,
        &mailbox_hash(&f, "team@example.test").await
    ));
    let mut access = a.list_access(OP, "team@example.test").await.unwrap();
    access.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(access[0].0, address("helper@outside.example"));
    assert_eq!(access[0].1.permissions, service.default_permissions);
    assert_eq!(access[1].0, address("member@outside.example"));
    assert_eq!(access[1].1.permissions, Permissions::READ_SEND);
    assert_eq!(access[1].1.signature.as_deref(), Some("Formal"));
    let outsider = Holder::Users(vec![Grant {
        login: "stranger@else.example".into(),
        permissions: None,
        signature: None,
    }]);
    assert_eq!(
        refused(
            a.create_address(f.helper, mailbox("t2@example.test", None, outsider))
                .await
        ),
        "the account stranger@else.example is not a member of the organization Acme; add it first"
    );
    let bad_signature = Holder::Users(vec![Grant {
        login: "member@outside.example".into(),
        permissions: None,
        signature: Some("Casual".into()),
    }]);
    assert_eq!(
        refused(
            a.create_address(f.helper, mailbox("t2@example.test", None, bad_signature))
                .await
        ),
        "the mail service example.test has no signature template named \"Casual\""
    );
    assert_eq!(
        refused(
            a.create_address(
                f.helper,
                mailbox("t2@example.test", None, Holder::Users(Vec::new()))
            )
            .await
        ),
        "name at least one user who will use t2@example.test, or create it for nobody"
    );
    assert!(!exists(&f, "t2@example.test").await);

    // (c) nobody: no account linked; a chosen display name is kept, a line break is refused.
    let request = CreateAddress {
        display_name: "  Sales Team ".into(),
        ..mailbox("sales@example.test", None, Holder::Nobody)
    };
    let sales = a.create_address(f.helper, request).await.unwrap();
    assert_eq!(sales.address.display_name, "Sales Team");
    assert!(sales.generated_password.is_some());
    assert!(
        a.list_access(OP, "sales@example.test")
            .await
            .unwrap()
            .is_empty()
    );
    let request = CreateAddress {
        display_name: "Sales\r\nBcc: everyone@example.test".into(),
        ..mailbox("sales2@example.test", None, Holder::Nobody)
    };
    assert_eq!(
        refused(a.create_address(f.helper, request).await),
        "a display name cannot contain line breaks or other control characters"
    );

    // ADDR-4: a redirect-only address holds no mail: no password, nobody linked.
    let redirect = |holder| CreateAddress {
        kind: AddressKind::RedirectOnly,
        redirect_to: vec!["out@home.example".into()],
        ..mailbox("fwd@example.test", None, holder)
    };
    assert_eq!(
        refused(a.create_address(f.boss, redirect(Holder::Myself)).await),
        "the redirection-only address fwd@example.test holds no mail, so nobody can be linked to \
         it or invited to it; create it for nobody"
    );
    let created = a
        .create_address(f.boss, redirect(Holder::Nobody))
        .await
        .unwrap();
    assert!(created.generated_password.is_none());
    assert!(created.address.password_hash.is_none());
}

#[tokio::test]
async fn addr_1_invitation_with_the_exact_address_end_to_end() {
    let f = fixture().await;
    let a = &f.admin;
    let created = a
        .create_address(
            f.boss,
            mailbox(
                "new@example.test",
                None,
                invitation(None, LoginMode::ExactAddress),
            ),
        )
        .await
        .unwrap();
    assert!(
        created.generated_password.is_none(),
        "the invited person chooses it"
    );
    assert!(created.address.password_hash.is_none());
    let sent = created.invitation.clone().expect("an invitation");
    assert_eq!(sent.sent_to, address("new@example.test"));
    assert_eq!(sent.login_mode, LoginMode::ExactAddress);
    let mail = f.mailer.last();
    assert_eq!(mail.to, address("new@example.test"));
    assert_eq!(
        mail.subject,
        "Acme invites you to use the address new@example.test"
    );
    let secret = link_secret(&f.mailer);
    assert!(secret.len() >= 43, "{secret}");
    assert!(
        !format!("{created:?}").contains(&secret),
        "the secret never goes back"
    );

    let details = a.invitation(&secret).await.unwrap();
    assert_eq!(details.address, address("new@example.test"));
    assert_eq!(details.organization, "Acme");
    assert_eq!(details.login_mode, LoginMode::ExactAddress);
    assert_eq!(details.expires_at, sent.expires_at);

    assert_eq!(
        refused(
            a.accept_invitation(
                &secret,
                acceptance(Some("me@home.example"), "chosen-pass-1")
            )
            .await
        ),
        "this invitation makes new@example.test the login of your account; leave the login empty"
    );
    assert_eq!(
        refused(
            a.accept_invitation(&secret, acceptance(None, "short"))
                .await
        ),
        "the password is too short: use at least 10 characters"
    );
    let account = a
        .accept_invitation(&secret, acceptance(None, "chosen-pass-1"))
        .await
        .unwrap();
    assert_eq!(account.login, address("new@example.test"));
    assert_eq!(account.display_name, "New Person");
    // The mailbox answers to the same password in any email client (ID-2).
    let auth = MailboxAuth::new(
        f.stores.directory.clone(),
        Arc::new(FailureLimiter::new(FailurePolicy::default())),
    );
    let ip = "192.0.2.1".parse().unwrap();
    assert!(matches!(
        auth.login(
            postwerk_core::Protocol::Imap,
            ip,
            "new@example.test",
            "chosen-pass-1"
        )
        .await
        .unwrap(),
        LoginOutcome::Accepted(_)
    ));
    let access = a.list_access(OP, "new@example.test").await.unwrap();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].0, address("new@example.test"));
    let members = a.org_members(f.boss, "Acme").await.unwrap();
    assert!(
        members
            .iter()
            .any(|m| m.login == address("new@example.test") && m.role == Role::Member)
    );

    // Used once: the link is dead, with one sentence that does not say why.
    let dead = "this invitation link is unknown, already used or expired; ask your administrator \
                for a new one";
    assert!(matches!(a.invitation(&secret).await, Err(CoreError::NotFound(s)) if s == dead));
    assert!(matches!(
        a.accept_invitation(&secret, acceptance(None, "chosen-pass-2")).await,
        Err(CoreError::NotFound(s)) if s == dead
    ));
    assert!(matches!(
        a.invitation("not-a-secret").await,
        Err(CoreError::NotFound(s)) if s == dead
    ));
    let details = a.address_details(f.boss, "new@example.test").await.unwrap();
    assert_eq!(details.invitations.len(), 1);
    assert!(details.invitations[0].accepted_at.is_some());
}

#[tokio::test]
async fn addr_1_invitation_with_a_login_of_the_persons_choice_end_to_end() {
    let f = fixture().await;
    let a = &f.admin;
    let holder = Holder::Invitation(InvitationRequest {
        send_to: Some("person@home.example".into()),
        login_mode: LoginMode::OwnChoice,
        permissions: Some(Permissions::READ_SEND | Permissions::CHANGE_PASSWORD),
        signature: None,
    });
    let created = a
        .create_address(f.helper, mailbox("desk@example.test", None, holder))
        .await
        .unwrap();
    let password = created.generated_password.expect("shown once, as in (b)");
    assert!(postwerk_core::password::verify(
        &password,
        &mailbox_hash(&f, "desk@example.test").await
    ));
    assert_eq!(f.mailer.last().to, address("person@home.example"));
    let secret = link_secret(&f.mailer);
    assert_eq!(
        refused(
            a.accept_invitation(&secret, acceptance(None, "person-pass-1"))
                .await
        ),
        "choose the login of your account: an email address of yours, such as your personal \
         address"
    );
    assert_eq!(
        refused(
            a.accept_invitation(
                &secret,
                acceptance(Some("boss@outside.example"), "person-pass-1")
            )
            .await
        ),
        "an account already logs in with boss@outside.example; choose another login"
    );
    let account = a
        .accept_invitation(
            &secret,
            acceptance(Some("Person@Home.example"), "person-pass-1"),
        )
        .await
        .unwrap();
    assert_eq!(account.login, address("person@home.example"));
    assert!(postwerk_core::password::verify(
        "person-pass-1",
        &account.password_hash
    ));
    // The account and the mailbox keep their own passwords (ID-3).
    assert!(postwerk_core::password::verify(
        &password,
        &mailbox_hash(&f, "desk@example.test").await
    ));
    let access = a.list_access(OP, "desk@example.test").await.unwrap();
    assert_eq!(access[0].0, address("person@home.example"));
    assert_eq!(
        access[0].1.permissions,
        Permissions::READ_SEND | Permissions::CHANGE_PASSWORD
    );
    assert!(a.invitation(&secret).await.is_err());

    // A new invitation for an existing mailbox: administrators only.
    let again = InvitationRequest {
        send_to: Some("second@home.example".into()),
        login_mode: LoginMode::OwnChoice,
        permissions: None,
        signature: None,
    };
    forbidden(a.invite(f.member, "desk@example.test", again.clone()).await);
    let before = f.mailer.count();
    let sent = a
        .invite(f.helper, "desk@example.test", again)
        .await
        .unwrap();
    assert_eq!(f.mailer.count(), before + 1);
    assert_eq!(sent.sent_to, address("second@home.example"));
    let details = a.invitation(&link_secret(&f.mailer)).await.unwrap();
    assert_eq!(details.address, address("desk@example.test"));
}

#[tokio::test]
async fn addr_1_expired_and_impossible_invitations_are_refused() {
    let f = fixture().await;
    let a = &f.admin;
    let toto = f
        .stores
        .directory
        .address_by_address(&address("toto@example.test"))
        .await
        .unwrap()
        .unwrap();
    let secret = "an-expired-link-secret";
    let digest = hex::encode(Sha256::digest(secret.as_bytes()));
    let now = chrono::Utc::now().timestamp();
    f.stores
        .manager
        .create_invitation(NewInvitation {
            address: toto.id,
            sent_to: address("late@home.example"),
            login_mode: LoginMode::OwnChoice,
            permissions: Permissions::READ_SEND,
            signature: None,
            secret_hash: digest,
            invited_by: None,
            created_at: now - 8 * 86_400,
            expires_at: now - 86_400,
        })
        .await
        .unwrap();
    assert!(matches!(
        a.invitation(secret).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        a.accept_invitation(
            secret,
            acceptance(Some("late@home.example"), "late-pass-12")
        )
        .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(
        f.stores
            .directory
            .user_by_login(&address("late@home.example"))
            .await
            .unwrap()
            .is_none()
    );

    // An exact-address invitation for an address an account already logs in with.
    a.create_address(
        OP,
        mailbox("taken@example.test", Some(PASSWORD), Holder::Nobody),
    )
    .await
    .unwrap();
    user(a, "taken@example.test", "Acme", Role::Member).await;
    let request = InvitationRequest {
        send_to: None,
        login_mode: LoginMode::ExactAddress,
        permissions: None,
        signature: None,
    };
    assert_eq!(
        refused(a.invite(OP, "taken@example.test", request).await),
        "an account already logs in with taken@example.test; give that account access instead, \
         or invite with a login of the person's choice"
    );
    // A password for an exact-address invitation is the invited person's to choose.
    assert_eq!(
        refused(
            a.create_address(
                OP,
                mailbox(
                    "p@example.test",
                    Some(PASSWORD),
                    invitation(None, LoginMode::ExactAddress)
                )
            )
            .await
        ),
        "the invited person chooses the password of p@example.test when accepting, since they \
         will log in with exactly this address; leave the password empty"
    );
    // Without a mailer, nothing is created.
    let silent = Admin::from_stores(&f.stores);
    assert_eq!(
        refused(
            silent
                .create_address(
                    OP,
                    mailbox(
                        "q@example.test",
                        None,
                        invitation(None, LoginMode::OwnChoice)
                    )
                )
                .await
        ),
        "invitations need outgoing mail, which this process cannot send"
    );
    assert!(!exists(&f, "q@example.test").await);
    assert!(!exists(&f, "p@example.test").await);
}

#[tokio::test]
async fn org_1_members_and_roles() {
    let f = fixture().await;
    let a = &f.admin;
    let members = a.org_members(f.member, "Acme").await.unwrap();
    let logins: Vec<String> = members.iter().map(|m| m.login.to_string()).collect();
    assert_eq!(
        logins,
        [
            "boss@outside.example",
            "helper@outside.example",
            "member@outside.example"
        ]
    );
    assert_eq!(
        forbidden(a.org_members(f.stranger, "Acme").await),
        "only members of the organization Acme can see its members"
    );
    // An administrator adds members and changes roles, but makes no owner.
    let joined = a
        .set_member(f.helper, "Acme", "stranger@else.example", Role::Member)
        .await
        .unwrap();
    assert_eq!(joined.role, Role::Member);
    assert_eq!(
        forbidden(
            a.set_member(f.helper, "Acme", "member@outside.example", Role::Owner)
                .await
        ),
        "only an owner of the organization Acme can make or unmake owners"
    );
    assert_eq!(
        forbidden(
            a.set_member(f.helper, "Acme", "boss@outside.example", Role::Member)
                .await
        ),
        "only an owner of the organization Acme can make or unmake owners"
    );
    assert_eq!(
        forbidden(
            a.remove_member(f.helper, "Acme", "boss@outside.example")
                .await
        ),
        "only an owner of the organization Acme can remove an owner"
    );
    // The last owner keeps the role.
    refused(
        a.set_member(f.boss, "Acme", "boss@outside.example", Role::Admin)
            .await,
    );
    let promoted = a
        .set_member(f.boss, "Acme", "helper@outside.example", Role::Owner)
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Owner);
    a.set_member(f.boss, "Acme", "boss@outside.example", Role::Admin)
        .await
        .unwrap();

    // A member leaves by themself, and their access to Acme's mailboxes goes with them.
    a.remove_member(f.member, "Acme", "member@outside.example")
        .await
        .unwrap();
    assert!(
        a.list_access(OP, "toto@example.test")
            .await
            .unwrap()
            .is_empty()
    );
    forbidden(
        a.add_alias(f.member, "toto@example.test", "gone@example.test")
            .await,
    );
    assert!(matches!(
        a.remove_member(f.helper, "Acme", "member@outside.example")
            .await,
        Err(CoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn svc_4_service_settings_are_validated_as_a_whole() {
    let f = fixture().await;
    let a = &f.admin;
    let template = |name: &str| SignatureTemplate {
        name: name.into(),
        body: "--\nAcme".into(),
    };
    let twice = ServiceUpdate {
        default_permissions: Some(Permissions::READ_SEND),
        signature_templates: Some(vec![template("Formal"), template("formal ")]),
        ..ServiceUpdate::default()
    };
    assert_eq!(
        refused(a.update_service(f.boss, "example.test", twice).await),
        "two signature templates are named \"formal\"; names must differ"
    );
    let unnamed = ServiceUpdate {
        signature_templates: Some(vec![template("  ")]),
        ..ServiceUpdate::default()
    };
    assert_eq!(
        refused(a.update_service(f.boss, "example.test", unnamed).await),
        "a signature template needs a name"
    );
    let (service, _) = a.service(f.boss, "example.test").await.unwrap();
    assert_ne!(service.default_permissions, Permissions::READ_SEND);
    let fine = ServiceUpdate {
        default_permissions: Some(Permissions::READ_SEND),
        signature_templates: Some(vec![template("Formal"), template("Casual")]),
        ..ServiceUpdate::default()
    };
    let service = a
        .update_service(f.boss, "example.test", fine)
        .await
        .unwrap();
    assert_eq!(service.default_permissions, Permissions::READ_SEND);
    assert_eq!(service.signature_templates.len(), 2);
    // The new defaults apply to the next grant.
    let access = a
        .grant_access(
            f.boss,
            "other@example.test",
            "helper@outside.example",
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(access.permissions, Permissions::READ_SEND);
}

fn delivery(f: &Fixture) -> Delivery {
    Delivery::new(
        f.stores.directory.clone(),
        f.stores.mail.clone(),
        f.stores.queue.clone(),
    )
}

#[tokio::test]
async fn id_12_notifications_reach_hosted_inboxes_and_queue_for_outside_addresses() {
    let f = fixture().await;
    let mailer = DeliveryMailer::new(delivery(&f), "mail.example.test");
    // Through the alias domain: resolved as SMTP would.
    mailer
        .send(Notification {
            to: address("toto@example.org"),
            subject: "Bienvenue à bord".into(),
            text: "Hello Toto,\nwelcome.\n".into(),
        })
        .await
        .unwrap();
    let inbox = postwerk_testkit::inbox_messages(&f.stores, &address("toto@example.test"))
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    let raw = &inbox[0];
    let text = String::from_utf8_lossy(raw);
    assert!(text.starts_with("Return-Path: <>\r\n"), "{text}");
    for expected in [
        "From: \"Postwerk\" <postmaster@mail.example.test>\r\n",
        "To: <toto@example.org>\r\n",
        "Subject: =?utf-8?",
        "@mail.example.test>\r\n",
        "Date: ",
        "\r\n\r\nHello Toto,\r\nwelcome.\r\n",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    let index = postwerk_message::MessageIndex::parse(raw);
    assert_eq!(index.summary.subject.as_deref(), Some("Bienvenue à bord"));
    assert!(f.stores.queue.queued().await.unwrap().is_empty());

    mailer
        .send(Notification {
            to: address("person@home.example"),
            subject: "Invitation".into(),
            text: "Open the link.".into(),
        })
        .await
        .unwrap();
    let queued = f.stores.queue.queued().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].message.return_path, "",
        "the null sender (RFC 5321 §4.5.5)"
    );
    assert_eq!(
        queued[0].message.recipients[0].address,
        address("person@home.example").into()
    );
    let content = f.stores.queue.read_queued(queued[0].id).await.unwrap();
    assert!(String::from_utf8_lossy(&content).contains("Subject: Invitation\r\n"));

    let ghost = mailer
        .send(Notification {
            to: address("ghost@example.test"),
            subject: "x".into(),
            text: "x".into(),
        })
        .await;
    assert_eq!(
        refused(ghost),
        "a message cannot be sent to ghost@example.test: no mailbox by that name exists here"
    );

    // The invitation path uses it: an Admin over a DeliveryMailer puts the link in the INBOX.
    let admin = Admin::from_stores(&f.stores).with_mailer(Arc::new(mailer));
    admin
        .create_address(
            OP,
            mailbox(
                "invited@example.test",
                None,
                invitation(Some("other@example.test"), LoginMode::OwnChoice),
            ),
        )
        .await
        .unwrap();
    let inbox = postwerk_testkit::inbox_messages(&f.stores, &address("other@example.test"))
        .await
        .unwrap();
    let raw = &inbox[0];
    assert!(String::from_utf8_lossy(raw).contains("https://localhost/invite/"));
}
#[tokio::test]
async fn addr_9_manage_signatures_changes_the_display_name() {
    let f = fixture().await;
    let a = &f.admin;
    let name = |text: &str| postwerk_core::AddressUpdate {
        display_name: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(
        forbidden(
            a.update_address(f.member, "toto@example.test", name("Toto"))
                .await
        ),
        "you need the permission to manage signatures and the display name of \
         toto@example.test, or to administer its organization"
    );
    a.grant_access(
        OP,
        "toto@example.test",
        "member@outside.example",
        Some(Permissions::MANAGE_SIGNATURES),
        None,
    )
    .await
    .unwrap();
    let updated = a
        .update_address(f.member, "toto@example.test", name("  Toto Example "))
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Toto Example");
    assert_eq!(
        refused(
            a.update_address(f.member, "toto@example.test", name("a\nb"))
                .await
        ),
        "a display name cannot contain line breaks or other control characters"
    );
}
