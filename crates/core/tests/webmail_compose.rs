//! Webmail's write side (CLI-1, SND-1, SND-2, SND-6, SND-7) over a real embedded store:
//! identities, sending to local and outside recipients, Bcc, replies, forwards, drafts, and
//! large attachments as expiring links.

use postwerk_core::webmail::{
    Draft, KeptAttachment, ReadOptions, ReplyKind, ReplyTarget, SHARED_FILE_LIFETIME_SECS,
    SendOutcome, Upload,
};
use postwerk_core::{Actor, CoreError, CreateAddress, Webmail};
use postwerk_message::MessageIndex;
use postwerk_model::{AddressId, AddressKind, FolderId, Permissions, Role, UserId};
use postwerk_store::{Flags, MessageMeta, Stores, SystemFlags, UidSet};
use postwerk_testkit::directory::{Directory, address_request};

const TOTO: &str = "toto@example.test";
const TITI: &str = "titi@example.test";
const NOW: i64 = 1_800_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    webmail: Webmail,
    user: UserId,
    toto: AddressId,
    titi: AddressId,
}

/// example.test (alias domain example.org) with the mailboxes toto (alias "contact", display
/// name "Toto Martin") and titi, and the account ann@people.test holding READ_SEND on toto.
/// Attachments above 1,000 octets become links.
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
    let toto = directory
        .address(CreateAddress {
            display_name: "Toto Martin".into(),
            ..address_request(TOTO, AddressKind::Mailbox, Some("mailbox-secret-1"))
        })
        .await;
    let titi = directory.mailbox(TITI, "mailbox-secret-1").await;
    admin
        .add_alias(op, TOTO, "contact@example.test")
        .await
        .unwrap();
    let user = directory
        .account("ann@people.test", "Acme", Role::Member)
        .await;
    directory
        .grant(TOTO, "ann@people.test", Permissions::READ_SEND)
        .await;
    let webmail = directory.webmail().with_large_attachment(1_000);
    let Directory { dir, stores, .. } = directory;
    Fixture {
        _dir: dir,
        stores,
        webmail,
        user,
        toto,
        titi,
    }
}

impl Fixture {
    async fn folder(&self, mailbox: AddressId, name: &str) -> FolderId {
        self.stores
            .mail
            .folder_by_name(mailbox, name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} is a default folder"))
            .id
    }

    async fn messages(&self, mailbox: AddressId, folder: &str) -> Vec<MessageMeta> {
        let folder = self.folder(mailbox, folder).await;
        self.stores
            .mail
            .list_messages(folder, &UidSet::all())
            .await
            .unwrap()
    }

    /// The raw messages of a folder, oldest first.
    async fn raws(&self, mailbox: AddressId, folder: &str) -> Vec<String> {
        let id = self.folder(mailbox, folder).await;
        let mut raws = Vec::new();
        for meta in self.messages(mailbox, folder).await {
            let raw = self.stores.mail.read_message(id, meta.uid).await.unwrap();
            raws.push(String::from_utf8_lossy(&raw).into_owned());
        }
        raws
    }

    /// Puts a message into toto's INBOX as if it had been delivered; its UID.
    async fn receive(&self, raw: &str) -> u32 {
        let index = MessageIndex::parse(raw.as_bytes());
        let inbox = self.folder(self.toto, "INBOX").await;
        self.stores
            .mail
            .append(inbox, raw.as_bytes(), &index, &Flags::none(), NOW)
            .await
            .unwrap()
            .uid
    }

    /// The queued copy of an outbound message.
    async fn queued_raw(&self, queued: &postwerk_store::QueuedMessage) -> String {
        let raw = self.stores.queue.read_queued(queued.id).await.unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    }

    async fn send(&self, draft: &Draft) -> Result<SendOutcome, CoreError> {
        self.webmail.send(self.user, self.toto, draft, NOW).await
    }
}

fn draft(to: &str, subject: &str) -> Draft {
    Draft {
        from: TOTO.into(),
        to: to.into(),
        subject: subject.into(),
        body: "Hello,\nsee you tomorrow.\n-- \nToto\n".into(),
        ..Draft::default()
    }
}

fn sent_uid(outcome: &SendOutcome) -> u32 {
    match outcome {
        SendOutcome::Sent {
            sent_uid: Some(uid),
            ..
        } => *uid,
        other => panic!("not sent: {other:?}"),
    }
}

/// The decoded text of a raw message.
fn body_text(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|message| message.body_text(0).map(|text| text.into_owned()))
        .unwrap_or_default()
}

/// The value of a header in a raw message (first occurrence, unfolded), if present.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        if field.eq_ignore_ascii_case(name) {
            let mut value = value.trim().to_owned();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
                lines.next();
            }
            return Some(value);
        }
    }
    None
}

#[tokio::test]
async fn snd_1_identities_are_the_mailbox_its_aliases_and_their_alias_domain_forms() {
    let f = fixture().await;
    let identities = f.webmail.identities(f.user, f.toto).await.unwrap();
    assert_eq!(
        identities.addresses,
        [
            "toto@example.test",
            "contact@example.test",
            "toto@example.org",
            "contact@example.org"
        ]
    );
    // Every identity offered passes the guards.
    for from in &identities.addresses {
        let mut message = draft(TITI, "From every identity");
        message.from = from.clone();
        assert!(
            matches!(f.send(&message).await, Ok(SendOutcome::Sent { .. })),
            "{from}"
        );
    }
    // Another mailbox's identities are not the account's to see.
    let refused = f.webmail.identities(f.user, f.titi).await;
    assert!(
        matches!(refused, Err(CoreError::Forbidden(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn cli_1_sending_to_a_local_mailbox_delivers_it_and_keeps_a_copy_in_sent() {
    let f = fixture().await;
    let outcome = f
        .send(&draft("Titi <titi@example.test>", "Lunch"))
        .await
        .unwrap();
    let uid = sent_uid(&outcome);

    let received = f.raws(f.titi, "INBOX").await;
    assert_eq!(received.len(), 1);
    let raw = &received[0];
    assert_eq!(
        header(raw, "From").as_deref(),
        Some("\"Toto Martin\" <toto@example.test>")
    );
    assert_eq!(header(raw, "Subject").as_deref(), Some("Lunch"));
    assert!(header(raw, "Date").is_some());
    let message_id = header(raw, "Message-ID").unwrap();
    assert!(message_id.ends_with("@mail.example.test>"), "{message_id}");
    assert!(raw.contains("see you tomorrow."));

    let sent = f.messages(f.toto, "Sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].uid, uid);
    assert!(sent[0].flags.system.contains(SystemFlags::SEEN));
    let copy = &f.raws(f.toto, "Sent").await[0];
    assert_eq!(header(copy, "Message-ID"), Some(message_id));
    assert!(
        f.stores.queue.queued().await.unwrap().is_empty(),
        "nothing leaves"
    );
}

#[tokio::test]
async fn snd_2_outside_recipients_are_queued_for_delivery() {
    let f = fixture().await;
    let outcome = f.send(&draft("friend@elsewhere.example", "Hi")).await;
    sent_uid(&outcome.unwrap());
    let queued = f.stores.queue.queued().await.unwrap();
    assert_eq!(queued.len(), 1);
    let message = &queued[0].message;
    assert_eq!(message.return_path, TOTO);
    assert_eq!(message.submitted_by, Some(f.toto));
    let recipients: Vec<String> = message
        .recipients
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(recipients, ["friend@elsewhere.example"]);
}

#[tokio::test]
async fn snd_1_a_from_the_mailbox_does_not_own_is_refused_and_nothing_is_delivered() {
    let f = fixture().await;
    for stranger in [TITI, "boss@elsewhere.example"] {
        let mut message = draft(TITI, "Pretending");
        message.from = stranger.into();
        match f.send(&message).await.unwrap() {
            SendOutcome::Refused(sentence) => assert!(sentence.contains(stranger), "{sentence}"),
            other => panic!("{stranger}: {other:?}"),
        }
    }
    assert!(f.messages(f.titi, "INBOX").await.is_empty());
    assert!(f.messages(f.toto, "Sent").await.is_empty());
    assert!(f.stores.queue.queued().await.unwrap().is_empty());
}

#[tokio::test]
async fn bcc_recipients_receive_the_message_without_appearing_in_it() {
    let f = fixture().await;
    let mut message = draft("friend@elsewhere.example", "Party");
    message.bcc = TITI.into();
    sent_uid(&f.send(&message).await.unwrap());

    let received = f.raws(f.titi, "INBOX").await;
    assert_eq!(received.len(), 1, "the Bcc recipient gets it");
    assert_eq!(header(&received[0], "Bcc"), None);
    assert_eq!(
        header(&received[0], "To").as_deref(),
        Some("<friend@elsewhere.example>")
    );
    let queued = f.stores.queue.queued().await.unwrap();
    let queued_raw = f.queued_raw(&queued[0]).await;
    assert_eq!(header(&queued_raw, "Bcc"), None, "the outside copy neither");
    // The sender's copy remembers whom they told.
    let copy = &f.raws(f.toto, "Sent").await[0];
    assert_eq!(header(copy, "Bcc").as_deref(), Some("<titi@example.test>"));
}

#[tokio::test]
async fn malformed_or_missing_recipients_are_refused_with_the_bad_one_named() {
    let f = fixture().await;
    let refused = f.send(&draft("titi@example.test, bob@", "Oops")).await;
    match refused {
        Err(CoreError::Invalid(sentence)) => assert!(sentence.contains("bob@"), "{sentence}"),
        other => panic!("{other:?}"),
    }
    let refused = f.send(&draft(" , ", "Nobody")).await;
    assert!(matches!(refused, Err(CoreError::Invalid(_))), "{refused:?}");
    let unknown = f.send(&draft("nobody@example.test", "Lost")).await.unwrap();
    match unknown {
        SendOutcome::Refused(sentence) => {
            assert!(sentence.contains("nobody@example.test"), "{sentence}")
        }
        other => panic!("{other:?}"),
    }
    assert!(f.messages(f.titi, "INBOX").await.is_empty());
    assert!(f.messages(f.toto, "Sent").await.is_empty());
}

#[tokio::test]
async fn a_reply_threads_and_marks_the_original_answered() {
    let f = fixture().await;
    let original = f
        .receive(
            "From: Bob <bob@elsewhere.example>\r\nTo: Toto <contact@example.test>\r\n\
             Cc: titi@example.test, Carol <carol@elsewhere.example>\r\nSubject: Re: Plans\r\n\
             Date: Tue, 1 Jan 2030 10:00:00 +0000\r\nMessage-ID: <plans-2@elsewhere.example>\r\n\
             References: <plans-1@elsewhere.example>\r\n\r\nShall we meet?\r\nAt noon.\r\n",
        )
        .await;
    let inbox = f.folder(f.toto, "INBOX").await;
    let reply = f
        .webmail
        .prefill(f.user, f.toto, inbox, original, ReplyKind::Reply)
        .await
        .unwrap();
    assert_eq!(reply.to, "Bob <bob@elsewhere.example>");
    assert_eq!(reply.cc, "");
    assert_eq!(
        reply.from, "contact@example.test",
        "answers as the address written to"
    );
    assert_eq!(reply.subject, "Re: Plans", "no Re: Re:");
    assert!(
        reply
            .body
            .contains("wrote:\n> Shall we meet?\n> At noon.\n"),
        "{}",
        reply.body
    );
    assert_eq!(
        reply.in_reply_to,
        Some(ReplyTarget {
            folder: inbox,
            uid: original
        })
    );
    assert!(reply.kept_attachments.is_empty());
    let opened = f.messages(f.toto, "INBOX").await;
    assert!(
        !opened[0].flags.system.contains(SystemFlags::SEEN),
        "prefilling does not mark it read"
    );

    sent_uid(&f.send(&reply).await.unwrap());
    let queued = f.stores.queue.queued().await.unwrap();
    let raw = f.queued_raw(&queued[0]).await;
    assert_eq!(
        header(&raw, "In-Reply-To").as_deref(),
        Some("<plans-2@elsewhere.example>")
    );
    assert_eq!(
        header(&raw, "References").as_deref(),
        Some("<plans-1@elsewhere.example> <plans-2@elsewhere.example>")
    );
    let flags = &f.messages(f.toto, "INBOX").await[0].flags;
    assert!(flags.system.contains(SystemFlags::ANSWERED));
}

#[tokio::test]
async fn reply_all_adds_the_other_recipients_but_not_the_mailbox_itself() {
    let f = fixture().await;
    let original = f
        .receive(
            "From: Bob <bob@elsewhere.example>\r\nReply-To: list@elsewhere.example\r\n\
             To: toto@example.test, Titi <titi@example.test>\r\n\
             Cc: contact@example.org, Carol <carol@elsewhere.example>\r\nSubject: Plans\r\n\
             Message-ID: <plans@elsewhere.example>\r\n\r\nHi all\r\n",
        )
        .await;
    let inbox = f.folder(f.toto, "INBOX").await;
    let reply = f
        .webmail
        .prefill(f.user, f.toto, inbox, original, ReplyKind::ReplyAll)
        .await
        .unwrap();
    assert_eq!(
        reply.to, "list@elsewhere.example",
        "Reply-To wins over From"
    );
    assert_eq!(
        reply.cc,
        "Titi <titi@example.test>, Carol <carol@elsewhere.example>"
    );
}

#[tokio::test]
async fn a_forward_keeps_the_attachments_of_the_original() {
    let f = fixture().await;
    let original = f
        .receive(
            "From: Bob <bob@elsewhere.example>\r\nTo: toto@example.test\r\nSubject: Photos\r\n\
             Message-ID: <photos@elsewhere.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nHere they are.\r\n--b\r\n\
             Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"beach.png\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
        )
        .await;
    let inbox = f.folder(f.toto, "INBOX").await;
    let forward = f
        .webmail
        .prefill(f.user, f.toto, inbox, original, ReplyKind::Forward)
        .await
        .unwrap();
    assert_eq!(forward.subject, "Fwd: Photos");
    assert_eq!(forward.to, "");
    assert_eq!(forward.in_reply_to, None);
    assert!(
        forward.body.contains("Forwarded message"),
        "{}",
        forward.body
    );
    assert!(forward.body.contains("Here they are."));
    assert_eq!(
        forward.kept_attachments,
        [KeptAttachment {
            folder: inbox,
            uid: original,
            index: 0
        }]
    );

    let mut forward = forward;
    forward.to = TITI.into();
    sent_uid(&f.send(&forward).await.unwrap());
    let received = f.raws(f.titi, "INBOX").await;
    assert!(received[0].contains("beach.png"), "{}", received[0]);
    assert!(received[0].contains("iVBORw0KGgo="));
}

#[tokio::test]
async fn drafts_are_saved_loaded_and_replaced() {
    let f = fixture().await;
    let inbox = f.folder(f.toto, "INBOX").await;
    let original = f
        .receive(
            "From: bob@elsewhere.example\r\nTo: toto@example.test\r\nSubject: Question\r\n\
             Message-ID: <q@elsewhere.example>\r\n\r\nWell?\r\n",
        )
        .await;
    let mut first = draft("Titi <titi@example.test>", "Answer");
    first.cc = "\"Doe, Jane\" <jane@elsewhere.example>".into();
    first.bcc = "boss@elsewhere.example".into();
    first.in_reply_to = Some(ReplyTarget {
        folder: inbox,
        uid: original,
    });
    first.attachments = vec![Upload {
        file_name: "notes.txt".into(),
        content_type: "text/plain".into(),
        bytes: b"small notes".to_vec(),
    }];
    let uid = f.webmail.save_draft(f.user, f.toto, &first).await.unwrap();
    let drafts = f.messages(f.toto, "Drafts").await;
    assert_eq!(drafts.len(), 1);
    assert!(drafts[0].flags.system.contains(SystemFlags::DRAFT));
    assert!(drafts[0].flags.system.contains(SystemFlags::SEEN));

    let loaded = f.webmail.load_draft(f.user, f.toto, uid).await.unwrap();
    assert_eq!(loaded.from, "Toto Martin <toto@example.test>");
    assert_eq!(loaded.to, first.to);
    assert_eq!(loaded.cc, first.cc);
    assert_eq!(loaded.bcc, first.bcc);
    assert_eq!(loaded.subject, first.subject);
    assert_eq!(loaded.body, first.body);
    assert_eq!(loaded.in_reply_to, first.in_reply_to);
    assert_eq!(loaded.replaces_draft, Some(uid));
    assert!(loaded.attachments.is_empty());
    let drafts_folder = f.folder(f.toto, "Drafts").await;
    assert_eq!(
        loaded.kept_attachments,
        [KeptAttachment {
            folder: drafts_folder,
            uid,
            index: 0
        }]
    );

    // Edited and saved again: the new draft replaces the old one and keeps its attachment,
    // read from the old draft before that one went.
    let mut edited = loaded;
    edited.subject = "Answer, edited".into();
    let new_uid = f.webmail.save_draft(f.user, f.toto, &edited).await.unwrap();
    let drafts = f.messages(f.toto, "Drafts").await;
    assert_eq!(drafts.iter().map(|m| m.uid).collect::<Vec<_>>(), [new_uid]);
    let again = f.webmail.load_draft(f.user, f.toto, new_uid).await.unwrap();
    assert_eq!(again.subject, "Answer, edited");
    let attachment = f
        .webmail
        .attachment(f.user, f.toto, drafts_folder, new_uid, 0)
        .await
        .unwrap();
    assert_eq!(attachment.file_name, "notes.txt");
    assert_eq!(attachment.bytes, b"small notes");

    // Sending it removes the draft and answers the original.
    sent_uid(&f.send(&again).await.unwrap());
    assert!(f.messages(f.toto, "Drafts").await.is_empty());
    let received = f.raws(f.titi, "INBOX").await;
    assert!(received[0].contains("notes.txt"));
    assert!(
        f.messages(f.toto, "INBOX").await[0]
            .flags
            .system
            .contains(SystemFlags::ANSWERED)
    );
    let drafted = f
        .webmail
        .open(
            f.user,
            f.toto,
            drafts_folder,
            new_uid,
            ReadOptions::default(),
        )
        .await;
    assert!(
        matches!(drafted, Err(CoreError::NotFound(_))),
        "{drafted:?}"
    );
}

#[tokio::test]
async fn snd_7_a_large_attachment_travels_as_a_link_that_expires() {
    let f = fixture().await;
    let big = vec![b'x'; 5_000];
    let mut message = draft(TITI, "The report");
    message.attachments = vec![
        Upload {
            file_name: "report.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: big.clone(),
        },
        Upload {
            file_name: "summary.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"short".to_vec(),
        },
    ];
    let outcome = f.send(&message).await.unwrap();
    let SendOutcome::Sent { links, .. } = outcome else {
        panic!("not sent: {outcome:?}");
    };
    assert_eq!(links.len(), 1);
    let link = &links[0];
    let token = link
        .strip_prefix("https://mail.example.test/files/")
        .unwrap_or_else(|| panic!("{link}"));

    let received = &f.raws(f.titi, "INBOX").await[0];
    let text = body_text(received);
    let line = format!("report.pdf (4.9 KB): {link} — available until ");
    assert!(text.contains(&line), "the message gives the link: {text}");
    assert!(
        received.contains("summary.txt"),
        "small files stay attached"
    );
    assert!(
        !received.contains(&"x".repeat(200)),
        "the large file is not in the message"
    );

    let file = f
        .webmail
        .shared_file(token, NOW + 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.file_name, "report.pdf");
    assert_eq!(file.content_type, "application/pdf");
    assert_eq!(file.size, 5_000);
    assert_eq!(file.bytes, big);
    assert_eq!(file.expires_at, NOW + SHARED_FILE_LIFETIME_SECS);

    let expired = NOW + SHARED_FILE_LIFETIME_SECS;
    assert_eq!(f.webmail.shared_file(token, expired).await.unwrap(), None);
    assert_eq!(
        f.webmail.shared_file("not-a-token", NOW).await.unwrap(),
        None
    );
    assert_eq!(f.webmail.purge_shared_files(expired).await.unwrap(), 1);
    assert_eq!(
        f.webmail.shared_file(token, NOW + 60).await.unwrap(),
        None,
        "gone for good"
    );
}
