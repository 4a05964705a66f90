//! SND-1 send-as grants over a real embedded store: an administrator lets anna@ send as the
//! shared sales@; the auth guards then accept sales@ (and its alias) as anna's envelope sender
//! and `From:`, webmail offers it as an identity, and a revoked grant is refused again. Grants
//! across organizations, to a mailbox itself and to an address nobody logs into are refused.

use postwerk_core::webmail::{Draft, SendOutcome};
use postwerk_core::{Actor, AuthGuards, CoreError, Login, SenderCheck};
use postwerk_message::MessageIndex;
use postwerk_model::{Address, AddressKind, Permissions, Role};
use postwerk_testkit::directory::{Directory, address_request};

const ANNA: &str = "anna@example.test";
const SALES: &str = "sales@example.test";
const NOW: i64 = 1_800_000_000;

/// Acme (example.test: anna, bob, sales with the alias team, the no-reply robot) and Other
/// (other.test: stranger), and Acme's administrator.
async fn fixture() -> Directory {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.org("Other").await;
    directory.service("Acme", "example.test", 100).await;
    directory.service("Other", "other.test", 100).await;
    for mailbox in [ANNA, "bob@example.test", "stranger@other.test"] {
        directory.mailbox(mailbox, "mailbox-secret-1").await;
    }
    directory
        .address(postwerk_core::CreateAddress {
            aliases: vec!["team".into()],
            ..address_request(SALES, AddressKind::Mailbox, Some("mailbox-secret-1"))
        })
        .await;
    directory
        .address(address_request(
            "robot@example.test",
            AddressKind::NoReply,
            Some("mailbox-secret-1"),
        ))
        .await;
    directory
        .account("admin@acme.example", "Acme", Role::Admin)
        .await;
    directory
}

async fn login(directory: &Directory, address: &str) -> Login {
    Login {
        mailbox: directory.id(address).await,
        address: address.parse().unwrap(),
        epoch: 0,
    }
}

async fn envelope(directory: &Directory, login: &Login, sender: &str) -> SenderCheck {
    AuthGuards::new(directory.stores.directory.clone())
        .check_envelope(login, sender)
        .await
        .unwrap()
}

async fn from_header(directory: &Directory, login: &Login, from: &str) -> SenderCheck {
    let raw = format!("From: {from}\r\nSubject: x\r\n\r\nx\r\n");
    AuthGuards::new(directory.stores.directory.clone())
        .check_from(login, &MessageIndex::parse(raw.as_bytes()))
        .await
        .unwrap()
}

async fn user(directory: &Directory, login: &str) -> Actor {
    let login: Address = login.parse().unwrap();
    let account = directory
        .stores
        .directory
        .user_by_login(&login)
        .await
        .unwrap()
        .unwrap();
    Actor::User(account.id)
}

#[tokio::test]
async fn snd_1_a_granted_address_and_its_alias_pass_the_guards_until_revoked() {
    let d = fixture().await;
    let anna = login(&d, ANNA).await;
    let admin = user(&d, "admin@acme.example").await;
    assert_eq!(envelope(&d, &anna, SALES).await, SenderCheck::Denied);
    assert_eq!(
        from_header(&d, &anna, "Sales <sales@example.test>").await,
        SenderCheck::Denied
    );

    let granted = d.admin.grant_send_as(admin, ANNA, SALES).await.unwrap();
    assert_eq!(granted.address.to_string(), SALES);
    // Granting again is harmless.
    d.admin.grant_send_as(admin, ANNA, SALES).await.unwrap();
    for owned in [SALES, "team@example.test", ANNA] {
        assert_eq!(
            envelope(&d, &anna, owned).await,
            SenderCheck::Allowed,
            "{owned}"
        );
    }
    assert_eq!(
        from_header(&d, &anna, "Sales <sales@example.test>").await,
        SenderCheck::Allowed
    );
    // The grant is anna's, not bob's, and does not go the other way.
    let bob = login(&d, "bob@example.test").await;
    assert_eq!(envelope(&d, &bob, SALES).await, SenderCheck::Denied);
    let sales = login(&d, SALES).await;
    assert_eq!(envelope(&d, &sales, ANNA).await, SenderCheck::Denied);
    let listed = d.admin.list_send_as(admin, ANNA).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|a| a.address.to_string())
            .collect::<Vec<_>>(),
        [SALES]
    );
    let holders = d.admin.send_as_holders(admin, SALES).await.unwrap();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].address.to_string(), ANNA);

    d.admin.revoke_send_as(admin, ANNA, SALES).await.unwrap();
    assert_eq!(envelope(&d, &anna, SALES).await, SenderCheck::Denied);
    assert_eq!(
        envelope(&d, &anna, "team@example.test").await,
        SenderCheck::Denied
    );
    assert!(matches!(
        d.admin.revoke_send_as(admin, ANNA, SALES).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(d.admin.list_send_as(admin, ANNA).await.unwrap().is_empty());
}

#[tokio::test]
async fn snd_1_grants_across_organizations_to_itself_or_to_a_no_reply_sender_are_refused() {
    let d = fixture().await;
    let admin = user(&d, "admin@acme.example").await;
    let refused = |result: Result<_, CoreError>| match result {
        Err(CoreError::Invalid(sentence)) => sentence,
        other => panic!("not refused: {other:?}"),
    };
    let across = refused(
        d.admin
            .grant_send_as(Actor::Operator, ANNA, "stranger@other.test")
            .await,
    );
    assert!(across.contains("another organization"), "{across}");
    let itself = refused(d.admin.grant_send_as(admin, ANNA, ANNA).await);
    assert!(itself.contains("always send as itself"), "{itself}");
    let robot = refused(
        d.admin
            .grant_send_as(admin, "robot@example.test", SALES)
            .await,
    );
    assert!(robot.contains("nobody logs into"), "{robot}");
    // Acme's administrator cannot touch Other's mailboxes at all.
    assert!(matches!(
        d.admin
            .grant_send_as(admin, "stranger@other.test", ANNA)
            .await,
        Err(CoreError::Forbidden(_))
    ));
    // A user with access to anna, not an administrator, may read the list but not grant.
    d.account("user@acme.example", "Acme", Role::Member).await;
    d.grant(ANNA, "user@acme.example", Permissions::READ_SEND)
        .await;
    let member = user(&d, "user@acme.example").await;
    assert!(d.admin.list_send_as(member, ANNA).await.unwrap().is_empty());
    assert!(matches!(
        d.admin.grant_send_as(member, ANNA, SALES).await,
        Err(CoreError::Forbidden(_))
    ));
    // A no-reply address may be granted to a mailbox, and passes the guards.
    d.admin
        .grant_send_as(admin, ANNA, "robot@example.test")
        .await
        .unwrap();
    let anna = login(&d, ANNA).await;
    assert_eq!(
        envelope(&d, &anna, "robot@example.test").await,
        SenderCheck::Allowed
    );
    let stranger = login(&d, "stranger@other.test").await;
    assert_eq!(envelope(&d, &stranger, SALES).await, SenderCheck::Denied);
}

#[tokio::test]
async fn snd_1_webmail_offers_a_granted_address_and_sends_from_it() {
    let d = fixture().await;
    d.account("user@acme.example", "Acme", Role::Member).await;
    d.grant(ANNA, "user@acme.example", Permissions::READ_SEND)
        .await;
    let Actor::User(person) = user(&d, "user@acme.example").await else {
        unreachable!("user() answers a user");
    };
    let anna = d.id(ANNA).await;
    let webmail = d.webmail();
    let before = webmail.identities(person, anna).await.unwrap();
    assert!(!before.addresses.contains(&SALES.to_owned()));
    let draft = Draft {
        from: SALES.into(),
        to: "bob@example.test".into(),
        subject: "Offer".into(),
        body: "Our offer.\n".into(),
        ..Draft::default()
    };
    assert!(matches!(
        webmail.send(person, anna, &draft, NOW).await.unwrap(),
        SendOutcome::Refused(_)
    ));

    d.admin
        .grant_send_as(Actor::Operator, ANNA, SALES)
        .await
        .unwrap();
    let after = webmail.identities(person, anna).await.unwrap();
    assert_eq!(after.addresses.first().map(String::as_str), Some(ANNA));
    assert!(after.addresses.contains(&SALES.to_owned()), "{after:?}");
    assert!(matches!(
        webmail.send(person, anna, &draft, NOW).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
}
