//! `Delivery`, `MailboxAuth` and `AuthGuards` over a real embedded store in a temporary folder.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use postwerk_core::{
    Actor, Admin, Delivered, Delivery, Envelope, EnvelopeRecipient, FailureLimiter, FailurePolicy,
    LoginOutcome, MailboxAuth, Protocol, Recipient, SenderCheck,
};
use postwerk_message::MessageIndex;
use postwerk_model::{Address, AddressKind, Refusal, Role};
use postwerk_store::Stores;
use postwerk_testkit::directory::{Directory, address_request};

const PASSWORD: &str = "mailbox-secret-1";

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    admin: Admin,
}

fn address(text: &str) -> Address {
    text.parse().unwrap()
}

/// example.test (alias domain example.org): toto (alias tata), other, a no-reply address, a
/// redirection outside, a catch-all; and a user account whose login is toto's address.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    let admin = &directory.admin;
    let op = Actor::Operator;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    admin
        .add_alias_domain(op, "example.test", "example.org")
        .await
        .unwrap();
    for mailbox in ["toto@example.test", "other@example.test"] {
        directory.mailbox(mailbox, PASSWORD).await;
    }
    for (address, kind) in [
        ("info@example.test", AddressKind::NoReply),
        ("any@example.test", AddressKind::CatchAll),
    ] {
        directory
            .address(address_request(address, kind, Some(PASSWORD)))
            .await;
    }
    directory
        .redirection("fwd@example.test", &["out@elsewhere.example"])
        .await;
    admin
        .add_alias(op, "toto@example.test", "tata@example.test")
        .await
        .unwrap();
    directory
        .account("toto@example.test", "Acme", Role::Member)
        .await;
    let Directory { dir, stores, admin } = directory;
    Fixture {
        _dir: dir,
        stores,
        admin,
    }
}

fn auth(f: &Fixture, policy: FailurePolicy) -> MailboxAuth {
    MailboxAuth::new(
        f.stores.directory.clone(),
        Arc::new(FailureLimiter::new(policy)),
    )
}

fn delivery(f: &Fixture) -> Delivery {
    Delivery::new(
        f.stores.directory.clone(),
        f.stores.mail.clone(),
        f.stores.queue.clone(),
    )
}

fn ip() -> IpAddr {
    IpAddr::from([198, 51, 100, 1])
}

async fn accepted(auth: &MailboxAuth, user: &str, password: &str) -> postwerk_core::Login {
    match auth
        .login(Protocol::Imap, ip(), user, password)
        .await
        .unwrap()
    {
        LoginOutcome::Accepted(login) => login,
        other => panic!("{user}: {other:?}"),
    }
}

#[tokio::test]
async fn id_2_mailbox_password_logs_in_and_the_account_password_does_not() {
    let f = fixture().await;
    let auth = auth(&f, FailurePolicy::default());
    let login = accepted(&auth, "toto@example.test", PASSWORD).await;
    assert_eq!(login.address, address("toto@example.test"));
    // Twice: the second answer comes from the verified-credential cache.
    accepted(&auth, "TOTO@example.test", PASSWORD).await;
    for (user, password) in [
        ("toto@example.test", "account-secret-1"),
        ("toto@example.test", "wrong-password"),
        ("nobody@example.test", PASSWORD),
        ("fwd@example.test", ""),
        ("not an address", PASSWORD),
    ] {
        let outcome = auth
            .login(Protocol::Imap, ip(), user, password)
            .await
            .unwrap();
        assert!(
            matches!(outcome, LoginOutcome::Invalid { .. }),
            "{user}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn id_6_a_password_change_or_disabling_invalidates_the_login() {
    let f = fixture().await;
    let auth = auth(&f, FailurePolicy::default());
    let login = accepted(&auth, "toto@example.test", PASSWORD).await;
    assert!(auth.still_valid(&login).await.unwrap());
    f.admin
        .set_address_password(
            Actor::Operator,
            "toto@example.test",
            Some("new-secret-22"),
            false,
        )
        .await
        .unwrap();
    assert!(!auth.still_valid(&login).await.unwrap());
    let outcome = auth
        .login(Protocol::Imap, ip(), "toto@example.test", PASSWORD)
        .await
        .unwrap();
    assert!(
        matches!(outcome, LoginOutcome::Invalid { .. }),
        "the old password (cached) fails"
    );
    let login = accepted(&auth, "toto@example.test", "new-secret-22").await;
    f.stores
        .directory
        .set_address_enabled(login.mailbox, false)
        .await
        .unwrap();
    assert!(!auth.still_valid(&login).await.unwrap());
    let outcome = auth
        .login(Protocol::Imap, ip(), "toto@example.test", "new-secret-22")
        .await
        .unwrap();
    assert_eq!(outcome, LoginOutcome::Disabled);
}

#[tokio::test]
async fn failed_logins_are_slowed_then_refused_per_client_address() {
    let f = fixture().await;
    let policy = FailurePolicy {
        free_failures: 1,
        delay_step: Duration::from_secs(2),
        max_delay: Duration::from_secs(3),
        lockout_after: 3,
        lockout: Duration::from_secs(600),
    };
    let auth = auth(&f, policy);
    let mut delays = Vec::new();
    for _ in 0..3 {
        match auth
            .login(Protocol::Imap, ip(), "toto@example.test", "wrong")
            .await
            .unwrap()
        {
            LoginOutcome::Invalid { delay } => delays.push(delay.as_secs()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delays, [0, 2, 3]);
    let outcome = auth
        .login(Protocol::Imap, ip(), "toto@example.test", PASSWORD)
        .await
        .unwrap();
    assert_eq!(outcome, LoginOutcome::Throttled);
    let elsewhere = auth
        .login(
            Protocol::Imap,
            IpAddr::from([203, 0, 113, 5]),
            "toto@example.test",
            PASSWORD,
        )
        .await
        .unwrap();
    assert!(matches!(elsewhere, LoginOutcome::Accepted(_)));
}

#[tokio::test]
async fn snd_1_a_mailbox_owns_itself_its_aliases_and_their_alias_domain_forms() {
    let f = fixture().await;
    let auth = auth(&f, FailurePolicy::default());
    let login = accepted(&auth, "toto@example.test", PASSWORD).await;
    let guards = delivery(&f).guards().clone();
    for owned in [
        "toto@example.test",
        "tata@example.test",
        "toto@example.org",
        "tata@example.org",
    ] {
        assert_eq!(
            guards.check_envelope(&login, owned).await.unwrap(),
            SenderCheck::Allowed,
            "{owned}"
        );
    }
    for foreign in [
        "other@example.test",
        "info@example.test",
        "unknown@example.test", // caught by the catch-all, not owned
        "toto@elsewhere.example",
        "",
    ] {
        assert_eq!(
            guards.check_envelope(&login, foreign).await.unwrap(),
            SenderCheck::Denied,
            "{foreign:?}"
        );
    }
    let index = MessageIndex::parse(b"From: A <tata@example.test>, other@example.test\r\n\r\nx");
    assert_eq!(
        guards.check_from(&login, &index).await.unwrap(),
        SenderCheck::Denied
    );
    let index = MessageIndex::parse(b"From: A <tata@example.test>\r\n\r\nx");
    assert_eq!(
        guards.check_from(&login, &index).await.unwrap(),
        SenderCheck::Allowed
    );
    let index = MessageIndex::parse(b"Subject: no from\r\n\r\nx");
    assert_eq!(
        guards.check_from(&login, &index).await.unwrap(),
        SenderCheck::Denied
    );
}

#[tokio::test]
async fn rcv_13_recipients_resolve_at_rcpt() {
    let f = fixture().await;
    let delivery = delivery(&f);
    let check = |rcpt: &'static str, relay: bool| {
        let delivery = delivery.clone();
        async move {
            delivery
                .check_recipient(&address(rcpt), relay)
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        check("tata@example.org", false).await,
        Recipient::Local(_)
    ));
    assert!(matches!(
        check("fwd@example.test", false).await,
        Recipient::Local(_)
    ));
    assert!(matches!(
        check("whatever@example.test", false).await,
        Recipient::Local(_)
    ));
    assert_eq!(
        check("info@example.test", false).await,
        Recipient::Refused(Refusal::NoReply)
    );
    assert_eq!(
        check("x@elsewhere.example", false).await,
        Recipient::RelayDenied
    );
    assert_eq!(check("x@elsewhere.example", true).await, Recipient::Remote);
}

#[tokio::test]
async fn rcv_12_delivery_stores_locally_and_queues_forwards_and_remote_recipients() {
    let f = fixture().await;
    let delivery = delivery(&f);
    let mut recipients = Vec::new();
    for rcpt in [
        "toto@example.test",
        "tata@example.test",
        "fwd@example.test",
        "r@remote.example",
    ] {
        let address = address(rcpt);
        recipients.push(EnvelopeRecipient {
            recipient: delivery.check_recipient(&address, true).await.unwrap(),
            address: address.into(),
            notify: None,
            orcpt: None,
        });
    }
    let envelope = Envelope {
        return_path: "sender@remote.example".into(),
        recipients,
        envid: Some("E1".into()),
        ret: None,
        submitted_by: None,
        client: None,
    };
    let body = b"From: sender@remote.example\r\nSubject: s\r\n\r\nbody\r\n";
    let trace = b"Received: from x by y; date\r\n";
    let outcome = delivery
        .deliver(&envelope, trace, body, 1_700_000_000)
        .await
        .unwrap();
    let Delivered::Accepted { stored, queued } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        stored, 2,
        "ADDR-6: the address and its alias each get a copy"
    );
    let inbox = postwerk_testkit::inbox_messages(&f.stores, &address("toto@example.test"))
        .await
        .unwrap();
    assert_eq!(inbox.len(), 2);
    let raw = &inbox[0];
    let expected = [
        &b"Return-Path: <sender@remote.example>\r\n"[..],
        trace,
        body,
    ]
    .concat();
    assert_eq!(*raw, expected);

    let queue = f.stores.queue.queued().await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(Some(queue[0].id), queued);
    let rcpts: Vec<String> = queue[0]
        .message
        .recipients
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(rcpts, ["out@elsewhere.example", "r@remote.example"]);
    assert_eq!(queue[0].message.envid.as_deref(), Some("E1"));
    let content = f.stores.queue.read_queued(queue[0].id).await.unwrap();
    assert_eq!(
        content,
        [&trace[..], body].concat(),
        "no Return-Path on the queued copy"
    );
}

#[tokio::test]
async fn snd_1_submitted_mail_with_a_foreign_from_is_not_stored() {
    let f = fixture().await;
    let auth = auth(&f, FailurePolicy::default());
    let login = accepted(&auth, "toto@example.test", PASSWORD).await;
    let delivery = delivery(&f);
    let rcpt = address("other@example.test");
    let envelope = Envelope {
        return_path: "toto@example.test".into(),
        recipients: vec![EnvelopeRecipient {
            recipient: delivery.check_recipient(&rcpt, true).await.unwrap(),
            address: rcpt.into(),
            notify: None,
            orcpt: None,
        }],
        envid: None,
        ret: None,
        submitted_by: Some(login),
        client: None,
    };
    let outcome = delivery
        .deliver(&envelope, b"", b"From: other@example.test\r\n\r\nx\r\n", 0)
        .await
        .unwrap();
    assert_eq!(outcome, Delivered::SenderDenied);
    let inbox = postwerk_testkit::inbox_messages(&f.stores, &address("other@example.test"))
        .await
        .unwrap();
    assert!(inbox.is_empty());
}
