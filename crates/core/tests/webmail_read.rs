//! CLI-1 webmail, the reading side, over a real embedded store: who may see which mailbox,
//! folders, the message list, reading (sanitised HTML, attachments, bounces), flags, moves,
//! Trash, and spam / not spam feeding the sender lists (RCV-4).

use postwerk_core::webmail::{ListQuery, MailFlag, ReadOptions, SortKey, Webmail};
use postwerk_core::{Actor, BounceClass, CoreError, CreateAddress, ServiceUpdate};
use postwerk_message::MessageIndex;
use postwerk_model::{
    AddressId, AddressKind, FolderId, ListKind, Permissions, Role, SenderPattern,
    SignatureTemplate, UserId,
};
use postwerk_store::{DeliveryTarget, Flags, Stores, SystemFlags};
use postwerk_testkit::directory::{Directory, address_request};

const OP: Actor = Actor::Operator;
const TOTO: &str = "toto@example.test";
const TITI: &str = "titi@example.test";
const JANE: &str = "jane@home.example";
const JOE: &str = "joe@home.example";
const MALLORY: &str = "mallory@home.example";
const NOW: i64 = 1_800_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    webmail: Webmail,
    /// toto's mailbox, used by jane.
    toto: AddressId,
    /// titi's mailbox, used by joe only.
    titi: AddressId,
    jane: UserId,
    joe: UserId,
    /// Has access to toto, but not the permission to read and send.
    mallory: UserId,
}

/// Acme's example.test with the mailboxes toto (jane reads it, with the "Formal" signature;
/// mallory may only change its password) and titi (joe's).
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.service("Acme", "example.test", 100).await;
    let templates = vec![SignatureTemplate {
        name: "Formal".into(),
        body: "Best regards,\nToto".into(),
    }];
    directory
        .admin
        .update_service(
            OP,
            "example.test",
            ServiceUpdate {
                signature_templates: Some(templates),
                ..ServiceUpdate::default()
            },
        )
        .await
        .unwrap();
    let mailbox = |address| CreateAddress {
        display_name: "Toto Example".into(),
        ..address_request(address, AddressKind::Mailbox, Some("mailbox-secret-1"))
    };
    let toto = directory.address(mailbox(TOTO)).await;
    let titi = directory.address(mailbox(TITI)).await;
    let jane = directory.account(JANE, "Acme", Role::Member).await;
    let joe = directory.account(JOE, "Acme", Role::Member).await;
    let mallory = directory.account(MALLORY, "Acme", Role::Member).await;
    directory
        .admin
        .grant_access(OP, TOTO, JANE, Some(Permissions::READ_SEND), Some("Formal"))
        .await
        .unwrap();
    directory.grant(TITI, JOE, Permissions::READ_SEND).await;
    directory
        .grant(TOTO, MALLORY, Permissions::CHANGE_PASSWORD)
        .await;
    let webmail = directory.webmail();
    let Directory { dir, stores, .. } = directory;
    Fixture {
        _dir: dir,
        stores,
        webmail,
        toto,
        titi,
        jane,
        joe,
        mallory,
    }
}

/// A plain message.
fn plain(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Sender <{from}>\r\nTo: {TOTO}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}.{from}@test>\r\n\r\n{body}\r\n"
    )
}

impl Fixture {
    async fn folder(&self, mailbox: AddressId, name: &str) -> FolderId {
        self.stores
            .mail
            .folder_by_name(mailbox, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} exists"))
            .id
    }

    async fn inbox(&self) -> FolderId {
        self.folder(self.toto, "INBOX").await
    }

    /// Delivers `raw` to toto's INBOX, arrived at `date`; its UID.
    async fn deliver(&self, raw: &str, date: i64) -> u32 {
        let index = MessageIndex::parse(raw.as_bytes());
        let stored = self
            .stores
            .mail
            .deliver(
                raw.as_bytes(),
                &index,
                &[DeliveryTarget::inbox(self.toto)],
                &Flags::none(),
                date,
            )
            .await
            .unwrap();
        stored[0].uid
    }

    /// Puts `raw` into toto's folder `name` with `flags`; its UID.
    async fn append(&self, name: &str, raw: &str, flags: SystemFlags) -> u32 {
        let index = MessageIndex::parse(raw.as_bytes());
        let folder = self.folder(self.toto, name).await;
        self.stores
            .mail
            .append(folder, raw.as_bytes(), &index, &Flags::system(flags), NOW)
            .await
            .unwrap()
            .uid
    }

    async fn list(&self, folder: FolderId, query: ListQuery) -> Vec<String> {
        self.webmail
            .list(self.jane, self.toto, folder, &query)
            .await
            .unwrap()
            .messages
            .into_iter()
            .map(|line| line.subject)
            .collect()
    }

    async fn verdict(&self, sender: &str) -> Option<ListKind> {
        let rules = self.stores.manager.sender_rules(self.toto).await.unwrap();
        let pattern = SenderPattern::Address(sender.parse().unwrap());
        rules
            .into_iter()
            .find(|rule| rule.pattern == pattern)
            .map(|rule| rule.kind)
    }
}

fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, CoreError>) {
    match result {
        Err(CoreError::Forbidden(sentence)) => assert!(sentence.ends_with('.'), "{sentence}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, CoreError>) {
    match result {
        Err(CoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn cli_1_adr_9_only_the_accounts_own_mailboxes_are_reachable() {
    let f = fixture().await;
    let uid = f
        .deliver(&plain("a@remote.example", "Secret", "hush"), NOW)
        .await;
    let inbox = f.inbox().await;
    let w = &f.webmail;

    // joe has no access to toto; mallory has access but not to read and send.
    for user in [f.joe, f.mallory] {
        assert_forbidden(w.mailbox(user, f.toto).await);
        assert_forbidden(w.folders(user, f.toto).await);
        assert_forbidden(w.list(user, f.toto, inbox, &ListQuery::default()).await);
        assert_forbidden(
            w.open(user, f.toto, inbox, uid, ReadOptions::default())
                .await,
        );
        assert_forbidden(w.raw(user, f.toto, inbox, uid).await);
        assert_forbidden(w.delete(user, f.toto, inbox, &[uid]).await);
        assert_forbidden(w.mark_spam(user, f.toto, inbox, &[uid], true).await);
    }

    // jane, through her own mailbox, naming a folder of titi's.
    let titi_inbox = f.folder(f.titi, "INBOX").await;
    assert_not_found(
        w.list(f.jane, f.toto, titi_inbox, &ListQuery::default())
            .await,
    );
    assert_not_found(w.raw(f.jane, f.toto, titi_inbox, uid).await);
    let toto_trash = f.folder(f.toto, "Trash").await;
    assert_not_found(w.move_to(f.jane, f.toto, inbox, &[uid], titi_inbox).await);
    assert_not_found(
        w.move_to(f.jane, f.toto, titi_inbox, &[uid], toto_trash)
            .await,
    );
    // The message did not move.
    assert_eq!(f.list(inbox, ListQuery::default()).await, ["Secret"]);

    // A UID that is not there.
    assert_not_found(
        w.open(f.jane, f.toto, inbox, uid + 100, ReadOptions::default())
            .await,
    );

    // What jane sees: toto only, with her signature and the unread count.
    let mailboxes = w.mailboxes(f.jane).await.unwrap();
    assert_eq!(mailboxes.len(), 1);
    assert_eq!(mailboxes[0].id, f.toto);
    assert_eq!(mailboxes[0].address, TOTO);
    assert_eq!(mailboxes[0].display_name.as_deref(), Some("Toto Example"));
    assert_eq!(
        mailboxes[0].signature.as_deref(),
        Some("Best regards,\nToto")
    );
    assert_eq!(mailboxes[0].unread, 1);
    assert_eq!(w.mailbox(f.jane, f.toto).await.unwrap(), mailboxes[0]);
    assert!(w.mailboxes(f.mallory).await.unwrap().is_empty());
    let joes = w.mailboxes(f.joe).await.unwrap();
    assert_eq!(joes.len(), 1);
    assert_eq!(joes[0].signature, None);
}

#[tokio::test]
async fn adr_11_folders_in_order_and_a_missing_special_folder_is_created() {
    let f = fixture().await;
    f.deliver(&plain("a@remote.example", "One", "x"), NOW).await;
    f.append(
        "Junk",
        &plain("b@remote.example", "Two", "x"),
        SystemFlags::SEEN,
    )
    .await;
    f.stores
        .mail
        .create_folder(f.toto, "Projects/2026")
        .await
        .unwrap();
    let folders = f.webmail.folders(f.jane, f.toto).await.unwrap();
    let shown: Vec<(&str, Option<&str>, u32, u32)> = folders
        .iter()
        .map(|folder| {
            (
                folder.name.as_str(),
                folder.role.as_deref(),
                folder.messages,
                folder.unread,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("INBOX", None, 1, 1),
            ("Drafts", Some("drafts"), 0, 0),
            ("Sent", Some("sent"), 0, 0),
            ("Archive", Some("archive"), 0, 0),
            ("Junk", Some("junk"), 1, 0),
            ("Trash", Some("trash"), 0, 0),
            ("Projects", None, 0, 0),
            ("Projects/2026", None, 0, 0),
        ]
    );

    // The user deleted Drafts over IMAP: webmail makes it again when it needs it.
    let drafts = f.folder(f.toto, "Drafts").await;
    f.stores.mail.delete_folder(drafts).await.unwrap();
    let again = f
        .webmail
        .special_folder(f.jane, f.toto, "drafts")
        .await
        .unwrap();
    assert_eq!(again.name, "Drafts");
    assert_eq!(again.role.as_deref(), Some("drafts"));
    assert_ne!(again.id, drafts);
    // Asking again finds it rather than creating another.
    let same = f
        .webmail
        .special_folder(f.jane, f.toto, "drafts")
        .await
        .unwrap();
    assert_eq!(same.id, again.id);
    let roles: Vec<Option<String>> = f
        .webmail
        .folders(f.jane, f.toto)
        .await
        .unwrap()
        .into_iter()
        .filter(|folder| folder.name == "Drafts")
        .map(|folder| folder.role)
        .collect();
    assert_eq!(roles, [Some("drafts".to_owned())]);

    assert!(matches!(
        f.webmail.special_folder(f.jane, f.toto, "spam-ish").await,
        Err(CoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn cli_1_message_list_sorts_pages_searches_and_filters() {
    let f = fixture().await;
    let inbox = f.inbox().await;
    let messages = [
        (
            "zed@remote.example",
            "Re: Budget",
            "numbers inside",
            NOW + 30,
        ),
        ("amy@remote.example", "Apples", "fruit basket", NOW + 10),
        (
            "bob@remote.example",
            "[team] Cherries",
            "the word pineapple is here",
            NOW + 20,
        ),
    ];
    let mut uids = Vec::new();
    for (from, subject, body, date) in messages {
        uids.push(f.deliver(&plain(from, subject, body), date).await);
    }
    let by = |sort, ascending| ListQuery {
        sort,
        ascending,
        ..ListQuery::default()
    };

    // Newest arrival in the folder first by default: UID order, whatever the dates say.
    assert_eq!(
        f.list(inbox, ListQuery::default()).await,
        ["[team] Cherries", "Apples", "Re: Budget"]
    );
    assert_eq!(
        f.list(inbox, by(SortKey::Arrival, true)).await,
        ["Re: Budget", "Apples", "[team] Cherries"]
    );
    // The subject sorts without `Re:` and list tags.
    assert_eq!(
        f.list(inbox, by(SortKey::Subject, true)).await,
        ["Apples", "Re: Budget", "[team] Cherries"]
    );
    assert_eq!(
        f.list(inbox, by(SortKey::From, false)).await,
        ["Re: Budget", "[team] Cherries", "Apples"]
    );

    // Pages of two, the last page clamped.
    let page = |page| ListQuery {
        sort: SortKey::Arrival,
        ascending: true,
        page,
        per_page: 2,
        ..ListQuery::default()
    };
    assert_eq!(f.list(inbox, page(1)).await, ["Re: Budget", "Apples"]);
    assert_eq!(f.list(inbox, page(2)).await, ["[team] Cherries"]);
    let clamped = f
        .webmail
        .list(f.jane, f.toto, inbox, &page(7))
        .await
        .unwrap();
    assert_eq!((clamped.page, clamped.per_page, clamped.total), (2, 2, 3));
    assert_eq!(clamped.folder.messages, 3);

    // Search: subject, sender, and the text of the body, case-insensitively.
    let search = |text: &str| ListQuery {
        search: Some(text.into()),
        ..ListQuery::default()
    };
    assert_eq!(f.list(inbox, search("budget")).await, ["Re: Budget"]);
    assert_eq!(f.list(inbox, search("AMY@")).await, ["Apples"]);
    assert_eq!(
        f.list(inbox, search("PineApple")).await,
        ["[team] Cherries"]
    );
    let none = f
        .webmail
        .list(f.jane, f.toto, inbox, &search("nothing like it"))
        .await
        .unwrap();
    assert_eq!((none.total, none.messages.len()), (0, 0));

    // Unread only, after one was read.
    f.webmail
        .set_flag(f.jane, f.toto, inbox, &[uids[0]], MailFlag::Seen, true)
        .await
        .unwrap();
    let unread = ListQuery {
        unread_only: true,
        ..ListQuery::default()
    };
    assert_eq!(f.list(inbox, unread).await, ["[team] Cherries", "Apples"]);
}

const HTML_WITH_ATTACHMENT: &str = "From: Shop <news@shop.example>\r\n\
To: toto@example.test\r\n\
Cc: Other <other@example.test>\r\n\
Reply-To: replies@shop.example\r\n\
Subject: Your invoice\r\n\
Date: Tue, 14 Nov 2023 23:15:01 +0100\r\n\
Message-ID: <invoice-17@shop.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=inner\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Your invoice is attached.\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p onclick=\"steal()\">Your <b>invoice</b> is attached.</p>\
<script>steal()</script>\
<img src=\"https://track.shop.example/open.gif\">\
<a href=\"javascript:steal()\">pay</a>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"invoice.pdf\"\r\n\
Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n\
--outer--\r\n";

#[tokio::test]
async fn cli_1_opening_marks_seen_sanitises_and_lists_attachments() {
    let f = fixture().await;
    let inbox = f.inbox().await;
    let uid = f.deliver(HTML_WITH_ATTACHMENT, NOW).await;
    let w = &f.webmail;

    // The HTML frame's request does not mark the message read.
    let peek = w
        .open(
            f.jane,
            f.toto,
            inbox,
            uid,
            ReadOptions {
                remote_images: true,
                keep_unseen: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(peek.folder.unread, 1);
    let html = peek.html.as_deref().expect("the message has HTML");
    assert!(
        html.contains("src=\"https://track.shop.example/open.gif\""),
        "{html}"
    );
    assert!(!peek.has_remote_images);

    let opened = w
        .open(f.jane, f.toto, inbox, uid, ReadOptions::default())
        .await
        .unwrap();
    assert_eq!(opened.subject, "Your invoice");
    assert_eq!(opened.from, "Shop <news@shop.example>");
    assert_eq!(opened.from_address.as_deref(), Some("news@shop.example"));
    assert_eq!(opened.to, [TOTO]);
    assert_eq!(opened.cc, ["Other <other@example.test>"]);
    assert_eq!(opened.reply_to, ["replies@shop.example"]);
    assert_eq!(opened.date, 1_700_000_101);
    assert_eq!(
        opened.message_id.as_deref(),
        Some("invoice-17@shop.example")
    );
    assert_eq!(opened.text.trim(), "Your invoice is attached.");
    assert!(opened.bounce.is_none());
    let html = opened.html.as_deref().expect("the message has HTML");
    assert!(html.contains("<b>invoice</b>"), "{html}");
    for gone in [
        "steal",
        "script",
        "onclick",
        "track.shop.example",
        "javascript",
    ] {
        assert!(!html.contains(gone), "{gone} left in {html}");
    }
    assert!(opened.has_remote_images);
    assert_eq!(opened.attachments.len(), 1);
    let info = &opened.attachments[0];
    assert_eq!(
        (
            info.index,
            info.file_name.as_str(),
            info.content_type.as_str(),
            info.size
        ),
        (0, "invoice.pdf", "application/pdf", 19)
    );

    // Now read: in the list and in the folder's count.
    let page = w
        .list(f.jane, f.toto, inbox, &ListQuery::default())
        .await
        .unwrap();
    assert!(page.messages[0].seen);
    assert!(page.messages[0].has_attachments);
    assert_eq!(page.folder.unread, 0);
    assert_eq!(opened.folder.unread, 0);

    // The attachment, decoded from base64.
    let pdf = w.attachment(f.jane, f.toto, inbox, uid, 0).await.unwrap();
    assert_eq!(pdf.file_name, "invoice.pdf");
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(pdf.bytes, "%PDF-1.4\n%äüöß\n".as_bytes());
    assert_not_found(w.attachment(f.jane, f.toto, inbox, uid, 1).await);

    // The raw message, as stored.
    let raw = w.raw(f.jane, f.toto, inbox, uid).await.unwrap();
    assert_eq!(raw, HTML_WITH_ATTACHMENT.as_bytes());
}

#[tokio::test]
async fn cli_2_an_opened_bounce_is_explained() {
    let f = fixture().await;
    let raw = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bounces/postfix-failed.eml"),
    )
    .unwrap();
    let uid = f.deliver(&raw, NOW).await;
    let opened = f
        .webmail
        .open(f.jane, f.toto, f.inbox().await, uid, ReadOptions::default())
        .await
        .unwrap();
    let bounce = opened.bounce.expect("a failure report is explained");
    assert_eq!(bounce.recipients.len(), 1);
    assert_eq!(
        bounce.recipients[0].address.as_deref(),
        Some("carol@example.org")
    );
    assert_eq!(bounce.recipients[0].class, BounceClass::UnknownUser);
}

#[tokio::test]
async fn cli_1_flags_are_set_and_cleared() {
    let f = fixture().await;
    let inbox = f.inbox().await;
    let first = f.deliver(&plain("a@remote.example", "One", "x"), NOW).await;
    let second = f
        .deliver(&plain("a@remote.example", "Two", "x"), NOW + 1)
        .await;
    let w = &f.webmail;
    let flags = |page: postwerk_core::webmail::MessagePage| -> Vec<(u32, bool, bool)> {
        page.messages
            .iter()
            .map(|line| (line.uid, line.seen, line.flagged))
            .collect()
    };
    let ascending = ListQuery {
        ascending: true,
        ..ListQuery::default()
    };

    w.set_flag(
        f.jane,
        f.toto,
        inbox,
        &[first, second],
        MailFlag::Flagged,
        true,
    )
    .await
    .unwrap();
    w.set_flag(f.jane, f.toto, inbox, &[second], MailFlag::Seen, true)
        .await
        .unwrap();
    let page = w.list(f.jane, f.toto, inbox, &ascending).await.unwrap();
    assert_eq!(flags(page), [(first, false, true), (second, true, true)]);

    w.set_flag(f.jane, f.toto, inbox, &[first], MailFlag::Flagged, false)
        .await
        .unwrap();
    w.set_flag(f.jane, f.toto, inbox, &[second], MailFlag::Seen, false)
        .await
        .unwrap();
    let page = w.list(f.jane, f.toto, inbox, &ascending).await.unwrap();
    assert_eq!(flags(page), [(first, false, false), (second, false, true)]);
    let opened = w
        .open(f.jane, f.toto, inbox, second, ReadOptions::default())
        .await
        .unwrap();
    assert!(opened.flagged);
}

#[tokio::test]
async fn cli_1_move_then_delete_to_trash_then_for_good() {
    let f = fixture().await;
    let inbox = f.inbox().await;
    let archive = f.folder(f.toto, "Archive").await;
    let trash = f.folder(f.toto, "Trash").await;
    let keep = f
        .deliver(&plain("a@remote.example", "Keep", "x"), NOW)
        .await;
    let drop = f
        .deliver(&plain("a@remote.example", "Drop", "x"), NOW + 1)
        .await;
    let w = &f.webmail;

    assert_eq!(
        w.move_to(f.jane, f.toto, inbox, &[keep], archive)
            .await
            .unwrap(),
        1
    );
    assert_eq!(f.list(archive, ListQuery::default()).await, ["Keep"]);
    assert_eq!(f.list(inbox, ListQuery::default()).await, ["Drop"]);

    assert_eq!(w.delete(f.jane, f.toto, inbox, &[drop]).await.unwrap(), 1);
    assert!(f.list(inbox, ListQuery::default()).await.is_empty());
    let in_trash = w
        .list(f.jane, f.toto, trash, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(in_trash.messages.len(), 1);
    assert_eq!(in_trash.messages[0].subject, "Drop");

    // Deleting in Trash removes it for good.
    let trash_uid = in_trash.messages[0].uid;
    assert_eq!(
        w.delete(f.jane, f.toto, trash, &[trash_uid]).await.unwrap(),
        1
    );
    assert!(f.list(trash, ListQuery::default()).await.is_empty());
    assert_eq!(f.list(archive, ListQuery::default()).await, ["Keep"]);

    // Without a Trash folder, deleting makes one.
    f.stores.mail.delete_folder(trash).await.unwrap();
    let archived = w
        .list(f.jane, f.toto, archive, &ListQuery::default())
        .await
        .unwrap()
        .messages[0]
        .uid;
    assert_eq!(
        w.delete(f.jane, f.toto, archive, &[archived])
            .await
            .unwrap(),
        1
    );
    let new_trash = f.folder(f.toto, "Trash").await;
    assert_ne!(new_trash, trash);
    assert_eq!(f.list(new_trash, ListQuery::default()).await, ["Keep"]);
}

#[tokio::test]
async fn rcv_4_spam_and_not_spam_teach_the_sender_lists() {
    let f = fixture().await;
    let inbox = f.inbox().await;
    let junk = f.folder(f.toto, "Junk").await;
    let offer = f
        .deliver(&plain("offers@shop.example", "Deal", "buy"), NOW)
        .await;
    // Spam forging the mailbox's own address teaches nothing.
    let forged = f.deliver(&plain(TOTO, "Hi me", "buy"), NOW + 1).await;
    let w = &f.webmail;

    let outcome = w
        .mark_spam(f.jane, f.toto, inbox, &[offer, forged], true)
        .await
        .unwrap();
    assert_eq!(outcome.moved, 2);
    assert_eq!(outcome.learnt, ["offers@shop.example"]);
    assert_eq!(
        f.verdict("offers@shop.example").await,
        Some(ListKind::Block)
    );
    assert_eq!(f.verdict(TOTO).await, None);
    let junk_page = w
        .list(f.jane, f.toto, junk, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(junk_page.total, 2);

    // Not spam: back to INBOX, and the sender is allowed now.
    let in_junk: Vec<u32> = junk_page
        .messages
        .iter()
        .filter(|line| line.from == "offers@shop.example")
        .map(|line| line.uid)
        .collect();
    let outcome = w
        .mark_spam(f.jane, f.toto, junk, &in_junk, false)
        .await
        .unwrap();
    assert_eq!(outcome.moved, 1);
    assert_eq!(outcome.learnt, ["offers@shop.example"]);
    assert_eq!(
        f.verdict("offers@shop.example").await,
        Some(ListKind::Allow)
    );
    assert_eq!(f.list(inbox, ListQuery::default()).await, ["Deal"]);

    // Marking as spam what is already in Junk moves nothing.
    let forged_now = f.list(junk, ListQuery::default()).await;
    assert_eq!(forged_now, ["Hi me"]);
    let junk_uids: Vec<u32> = w
        .list(f.jane, f.toto, junk, &ListQuery::default())
        .await
        .unwrap()
        .messages
        .iter()
        .map(|line| line.uid)
        .collect();
    let outcome = w
        .mark_spam(f.jane, f.toto, junk, &junk_uids, true)
        .await
        .unwrap();
    assert_eq!(outcome.moved, 0);

    // A plain move into Junk learns like IMAP MOVE.
    let other = f
        .deliver(&plain("promo@ads.example", "Promo", "buy"), NOW + 2)
        .await;
    assert_eq!(
        w.move_to(f.jane, f.toto, inbox, &[other], junk)
            .await
            .unwrap(),
        1
    );
    assert_eq!(f.verdict("promo@ads.example").await, Some(ListKind::Block));
}

#[tokio::test]
async fn cli_1_live_updates_announce_new_mail_of_the_mailbox_only() {
    let f = fixture().await;
    let w = &f.webmail;
    let inbox = f.inbox().await;
    let mut events = w.subscribe(f.jane, f.toto).await.unwrap();

    // Mail for titi first: jane's subscription to toto must not see it.
    let raw = plain("a@remote.example", "For titi", "hello");
    let index = MessageIndex::parse(raw.as_bytes());
    f.stores
        .mail
        .deliver(
            raw.as_bytes(),
            &index,
            &[DeliveryTarget::inbox(f.titi)],
            &Flags::none(),
            NOW,
        )
        .await
        .unwrap();
    f.deliver(&plain("a@remote.example", "For toto", "hello"), NOW)
        .await;

    // Guard against a hang only: the delivery above is already committed.
    let change = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("a change within 10 s")
        .expect("the store still publishes");
    assert_eq!(change.folder, Some(inbox));
    assert!(change.added);

    // Another account, and an account that may not read the mailbox, cannot listen.
    assert_forbidden(w.subscribe(f.joe, f.toto).await);
    assert_forbidden(w.subscribe(f.mallory, f.toto).await);
}
