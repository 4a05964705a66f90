//! RCV-4: the per-mailbox sender allow/block lists as `Delivery` applies them — at RCPT (a
//! block refuses, an allow skips greylisting) and at the end of the message (an allow
//! overrides the spam score for that mailbox, a block keeps its copy out) — over a real
//! embedded store, with the real filters (greylisting on, the built-in spam score).

use std::net::IpAddr;
use std::sync::Arc;

use postwerk_core::{
    Actor, Admin, Client, Delivered, Delivery, Envelope, EnvelopeRecipient, FilterReply, Filters,
    Recipient,
};
use postwerk_dns::FakeResolver;
use postwerk_filter::FilterConfig;
use postwerk_filter::auth::Verifier;
use postwerk_filter::spam::SpamConfig;
use postwerk_model::{Address, ListKind};
use postwerk_store::{Stores, UidSet};
use postwerk_testkit::directory::Directory;

const TOTO: &str = "toto@example.test";
const OTHER: &str = "other@example.test";
const NOW: i64 = 1_800_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    admin: Admin,
}

/// example.test with the mailboxes toto and other, and no rules yet.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    for mailbox in [TOTO, OTHER] {
        directory.mailbox(mailbox, "mailbox-secret-1").await;
    }
    let Directory { dir, stores, admin } = directory;
    Fixture {
        _dir: dir,
        stores,
        admin,
    }
}

impl Fixture {
    async fn rule(&self, mailbox: &str, kind: ListKind, pattern: &str) {
        self.admin
            .add_sender_rule(Actor::Operator, mailbox, kind, pattern)
            .await
            .unwrap();
    }

    /// Delivery with greylisting and the spam score per `spam`, and the mailboxes' lists.
    fn delivery(&self, spam: SpamConfig) -> Delivery {
        let config = FilterConfig {
            // No DNS here: SPF/DKIM/DMARC have their own tests; the score runs without them.
            auth: false,
            spam,
            ..FilterConfig::default()
        };
        let filters = Filters::new(
            config,
            Arc::new(FakeResolver::new()),
            self.stores.greylist.clone(),
            Verifier::default(),
            "mx.example.test".into(),
        );
        Delivery::new(
            self.stores.directory.clone(),
            self.stores.mail.clone(),
            self.stores.queue.clone(),
        )
        .with_filters(Arc::new(filters))
        .with_sender_rules(self.stores.manager.clone())
    }

    /// The raw messages in `folder` of `mailbox`.
    async fn folder(&self, mailbox: &str, folder: &str) -> Vec<String> {
        let address: Address = mailbox.parse().unwrap();
        let hosted = self
            .stores
            .directory
            .address_by_address(&address)
            .await
            .unwrap()
            .unwrap();
        let folder = self
            .stores
            .mail
            .folder_by_name(hosted.id, folder)
            .await
            .unwrap()
            .unwrap();
        let metas = self
            .stores
            .mail
            .list_messages(folder.id, &UidSet::all())
            .await
            .unwrap();
        let mut out = Vec::new();
        for meta in metas {
            let raw = self
                .stores
                .mail
                .read_message(folder.id, meta.uid)
                .await
                .unwrap();
            out.push(String::from_utf8(raw).unwrap());
        }
        out
    }
}

fn client() -> Client {
    Client {
        ip: IpAddr::from([198, 51, 100, 7]),
        helo: "mail.prizes.example".into(),
    }
}

/// What RCPT TO would answer for a stranger's mail from `sender` to `mailbox`.
async fn rcpt(delivery: &Delivery, sender: &str, mailbox: &str) -> Option<FilterReply> {
    let address: Address = mailbox.parse().unwrap();
    let verdict = delivery.check_recipient(&address, false).await.unwrap();
    assert!(matches!(verdict, Recipient::Local(_)), "{verdict:?}");
    delivery
        .screen_recipient(&client(), sender, &address, &verdict, NOW)
        .await
        .unwrap()
}

/// Delivers a stranger's message from `sender` to `mailboxes`.
async fn deliver(delivery: &Delivery, sender: &str, mailboxes: &[&str], raw: &str) -> Delivered {
    let mut recipients = Vec::new();
    for mailbox in mailboxes {
        let address: Address = mailbox.parse().unwrap();
        let recipient = delivery.check_recipient(&address, false).await.unwrap();
        recipients.push(EnvelopeRecipient {
            address: address.into(),
            recipient,
            notify: None,
            orcpt: None,
        });
    }
    let envelope = Envelope {
        return_path: sender.into(),
        recipients,
        envid: None,
        ret: None,
        submitted_by: None,
        client: Some(client()),
    };
    delivery
        .deliver(&envelope, b"Received: from test\r\n", raw.as_bytes(), NOW)
        .await
        .unwrap()
}

/// Bulk spam: over the default junk threshold, under the default reject threshold.
fn spam_from(from: &str) -> String {
    format!(
        "From: Lucky Draw <{from}>\r\nTo: {TOTO}\r\nSubject: YOU ARE A WINNER TODAY\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n\
         <p>Claim your prize: act now, it is 100% free! \
         <a href=\"http://203.0.113.9/claim\">Claim</a></p>\r\n"
    )
}

fn clean_from(from: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: {TOTO}\r\nSubject: Lunch\r\nDate: Mon, 1 Jun 2026 10:00:00 +0000\r\n\
         Message-ID: <lunch@pals.example>\r\n\r\nNoon at the usual place?\r\n"
    )
}

#[tokio::test]
async fn rcv_4_a_blocked_sender_is_refused_at_rcpt_and_the_rest_still_greylisted() {
    let f = fixture().await;
    f.rule(TOTO, ListKind::Block, "spam.example").await;
    let delivery = f.delivery(SpamConfig::default());

    let blocked = rcpt(&delivery, "x@news.spam.example", TOTO).await.unwrap();
    assert_eq!((blocked.code, blocked.status), (550, "5.7.1"));
    assert_eq!(
        blocked.text,
        "The recipient does not accept mail from this sender"
    );
    let grey = rcpt(&delivery, "x@news.spam.example", OTHER).await.unwrap();
    assert_eq!(
        (grey.code, grey.status),
        (451, "4.7.1"),
        "another mailbox's list is not toto's"
    );
    let grey = rcpt(&delivery, "someone@else.example", TOTO).await.unwrap();
    assert_eq!(
        (grey.code, grey.status),
        (451, "4.7.1"),
        "unlisted senders wait"
    );
}

#[tokio::test]
async fn rcv_4_an_allowed_sender_skips_greylisting() {
    let f = fixture().await;
    f.rule(TOTO, ListKind::Allow, "friend@pals.example").await;
    let delivery = f.delivery(SpamConfig::default());
    assert_eq!(rcpt(&delivery, "friend@pals.example", TOTO).await, None);
    let grey = rcpt(&delivery, "friend@pals.example", OTHER).await.unwrap();
    assert_eq!(grey.code, 451, "other has no rule: {grey:?}");
    let grey = rcpt(&delivery, "stranger@pals.example", TOTO)
        .await
        .unwrap();
    assert_eq!(grey.code, 451, "the rule names one address: {grey:?}");
}

#[tokio::test]
async fn rcv_4_spam_goes_to_junk_except_for_the_mailbox_that_allows_the_sender() {
    let f = fixture().await;
    f.rule(TOTO, ListKind::Allow, "prizes.example").await;
    let delivery = f.delivery(SpamConfig::default());
    let outcome = deliver(
        &delivery,
        "draw@prizes.example",
        &[TOTO, OTHER],
        &spam_from("draw@prizes.example"),
    )
    .await;
    assert!(
        matches!(outcome, Delivered::Accepted { stored: 2, .. }),
        "{outcome:?}"
    );
    let toto = f.folder(TOTO, "INBOX").await;
    assert_eq!(toto.len(), 1, "the allowed sender reaches toto's INBOX");
    assert!(f.folder(TOTO, "Junk").await.is_empty());
    assert!(f.folder(OTHER, "INBOX").await.is_empty());
    let other = f.folder(OTHER, "Junk").await;
    assert_eq!(other.len(), 1, "other has no rule: Junk");
    // The headers say what the score said, right under Return-Path.
    let mut lines = other[0].lines();
    assert_eq!(lines.next(), Some("Return-Path: <draw@prizes.example>"));
    assert_eq!(lines.next(), Some("X-Spam-Flag: YES"));
    assert!(
        other[0].contains("X-Spam-Status: Yes, score="),
        "{}",
        other[0]
    );

    let outcome = deliver(
        &delivery,
        "friend@pals.example",
        &[OTHER],
        &clean_from("friend@pals.example"),
    )
    .await;
    assert!(matches!(outcome, Delivered::Accepted { stored: 1, .. }));
    let inbox = f.folder(OTHER, "INBOX").await;
    assert_eq!(inbox.len(), 1, "clean mail goes to INBOX");
    assert!(
        inbox[0].contains("X-Spam-Status: No, score="),
        "{}",
        inbox[0]
    );
}

#[tokio::test]
async fn rcv_4_spam_over_the_reject_threshold_is_refused_unless_a_recipient_allows_it() {
    let f = fixture().await;
    f.rule(TOTO, ListKind::Allow, "draw@prizes.example").await;
    let delivery = f.delivery(SpamConfig {
        reject_threshold: 6.0,
        ..SpamConfig::default()
    });
    let raw = spam_from("draw@prizes.example");
    let Delivered::Refused(reply) = deliver(&delivery, "draw@prizes.example", &[OTHER], &raw).await
    else {
        panic!("spam over the reject threshold must be refused");
    };
    assert_eq!((reply.code, reply.status), (554, "5.7.1"));
    assert!(reply.text.contains("allowed senders"), "{}", reply.text);
    assert!(f.folder(OTHER, "Junk").await.is_empty());

    let outcome = deliver(&delivery, "draw@prizes.example", &[OTHER, TOTO], &raw).await;
    assert!(
        matches!(outcome, Delivered::Accepted { stored: 2, .. }),
        "one recipient allows it: {outcome:?}"
    );
    assert_eq!(f.folder(TOTO, "INBOX").await.len(), 1);
    assert_eq!(f.folder(OTHER, "Junk").await.len(), 1);
}

#[tokio::test]
async fn rcv_4_a_blocked_from_address_keeps_that_mailboxs_copy_out() {
    let f = fixture().await;
    // People list the address they see; the envelope sender is a bounce address.
    f.rule(TOTO, ListKind::Block, "news@shop.example").await;
    let delivery = f.delivery(SpamConfig::default());
    let raw = clean_from("news@shop.example");
    let outcome = deliver(
        &delivery,
        "bounce-7@mailer.shop.example",
        &[TOTO, OTHER],
        &raw,
    )
    .await;
    assert!(
        matches!(outcome, Delivered::Accepted { stored: 1, .. }),
        "{outcome:?}"
    );
    assert!(f.folder(TOTO, "INBOX").await.is_empty());
    assert!(f.folder(TOTO, "Junk").await.is_empty());
    assert_eq!(f.folder(OTHER, "INBOX").await.len(), 1);

    let Delivered::Refused(reply) =
        deliver(&delivery, "bounce-8@mailer.shop.example", &[TOTO], &raw).await
    else {
        panic!("a message only for a mailbox that blocks it is refused");
    };
    assert_eq!((reply.code, reply.status), (550, "5.7.1"));
}

#[tokio::test]
async fn rcv_4_a_block_beats_an_allow_of_the_other_sender_identity() {
    let f = fixture().await;
    f.rule(TOTO, ListKind::Allow, "mailer.example").await;
    f.rule(TOTO, ListKind::Block, "ceo@victim.example").await;
    let delivery = f.delivery(SpamConfig::default());
    // Allowed envelope, blocked From: the block wins, so an allow cannot be borrowed.
    let Delivered::Refused(reply) = deliver(
        &delivery,
        "x@mailer.example",
        &[TOTO],
        &clean_from("ceo@victim.example"),
    )
    .await
    else {
        panic!("blocked From: must keep the message out");
    };
    assert_eq!(reply.code, 550);
}
