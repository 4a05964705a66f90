//! `MailStore::fetch_view`: what IMAP FETCH of the common items reads. A backend may cache the
//! views (SQLite does, per folder, shared by all sessions); whatever it does, a view must be
//! exactly what `list_messages` and `message_indexes` say at the time of the call — after
//! every kind of change, by this store or by another store on the same data folder (another
//! process).

use postwerk_message::{write_bodystructure, write_envelope};
use postwerk_model::FolderId;
use postwerk_store::{
    FetchParts, FetchView, FlagOp, Folder, Keyword, MailStore, SelectView, SystemFlags, UidSet,
};

use super::*;

const BOTH: FetchParts = FetchParts {
    envelope: true,
    body_structure: true,
};

const ENVELOPE: FetchParts = FetchParts {
    envelope: true,
    body_structure: false,
};

/// A message with two parts, so its BODYSTRUCTURE is a multipart.
fn multipart(subject: &str) -> (Vec<u8>, postwerk_message::MessageIndex) {
    let raw = format!(
        "From: Bob <bob@outside.example>\r\nTo: a@test.example, \"Some One\" <b@test.example>\r\n\
         Subject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n\
         --sep\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\
         --sep\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--sep--\r\n"
    )
    .into_bytes();
    let index = postwerk_message::MessageIndex::parse(&raw);
    (raw, index)
}

async fn folder(mail: &dyn MailStore, mailbox: &HostedAddress, name: &str) -> Folder {
    mail.folder_by_name(mailbox.id, name)
        .await
        .expect("lookup")
        .expect("folder exists")
}

fn keyword(text: &str) -> Keyword {
    Keyword::parse(text).expect("keyword")
}

/// Asks `mail` for the view of the whole folder with `parts` and checks it against what
/// `truth` (the same store, or another one on the same data folder) lists now: the same
/// messages, flags, MODSEQs, sizes and dates, the ENVELOPE and BODYSTRUCTURE as rendered from
/// the stored index, and the folder's HIGHESTMODSEQ and UIDNEXT.
async fn assert_exact(
    mail: &dyn MailStore,
    truth: &dyn MailStore,
    folder: FolderId,
    parts: FetchParts,
) -> FetchView {
    let view = mail
        .fetch_view(folder, &UidSet::all(), parts)
        .await
        .expect("view");
    let listed = truth
        .list_messages(folder, &UidSet::all())
        .await
        .expect("list");
    let indexes = truth
        .message_indexes(folder, &UidSet::all())
        .await
        .expect("indexes");
    let held: Vec<u32> = view.iter().map(|r| r.uid).collect();
    let expected: Vec<u32> = listed.iter().map(|m| m.uid).collect();
    assert_eq!(held, expected, "the messages");
    assert_eq!(view.len(), listed.len());
    for (meta, (uid, index)) in listed.iter().zip(&indexes) {
        assert_eq!(meta.uid, *uid);
        let record = view.get(meta.uid).expect("held");
        assert_eq!(
            (
                record.modseq,
                record.flags(),
                record.internal_date,
                record.saved_at,
                record.size
            ),
            (
                meta.modseq,
                meta.flags.clone(),
                meta.internal_date,
                meta.saved_at,
                meta.size
            ),
            "UID {uid}"
        );
        let mut envelope = Vec::new();
        write_envelope(&index.envelope, &mut envelope);
        let mut body_structure = Vec::new();
        write_bodystructure(&index.body, true, &mut body_structure);
        if parts.envelope {
            assert_eq!(record.envelope, Some(&envelope[..]), "UID {uid}");
        }
        if parts.body_structure {
            assert_eq!(
                record.body_structure,
                Some(&body_structure[..]),
                "UID {uid}"
            );
        }
    }
    let now = truth.folder(folder).await.expect("folder").expect("exists");
    assert_eq!(
        (view.highest_modseq(), view.uid_next()),
        (now.highest_modseq, now.uid_next),
        "the snapshot point"
    );
    assert!(view.covers(1, u32::MAX, parts));
    view
}

/// The flags of `uid` in a view.
fn flags_in(view: &FetchView, uid: u32) -> Option<Flags> {
    view.get(uid).map(|r| r.flags())
}

pub async fn fetch_view_matches_listed_metas_and_rendered_indexes<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let drafts = folder(mail, &toto, "Drafts").await;
    let empty = mail
        .fetch_view(drafts.id, &UidSet::all(), BOTH)
        .await
        .expect("empty folder");
    assert!(empty.is_empty() && empty.covers(1, u32::MAX, BOTH));
    assert_eq!(empty.highest_modseq(), drafts.highest_modseq);

    deliver(stores, "plain", &[&toto]).await;
    let (raw, index) = multipart("parts");
    let flags = Flags::system(SystemFlags::SEEN.union(SystemFlags::ANSWERED))
        .with_keyword(keyword("$Work"))
        .with_keyword(keyword("$Forwarded"));
    let inbox = folder(mail, &toto, "INBOX").await;
    mail.append(inbox.id, &raw, &index, &flags, 1_600_000_000)
        .await
        .expect("append");
    let (large, large_index) = message("large", &large_body());
    mail.append(inbox.id, &large, &large_index, &Flags::none(), DATE)
        .await
        .expect("append a blob-file content");

    // Parts are rendered when asked, in any combination, and kept for later calls.
    let metas = assert_exact(mail, mail, inbox.id, FetchParts::NONE).await;
    assert!(metas.get(1).expect("held").envelope.is_none());
    assert_exact(mail, mail, inbox.id, ENVELOPE).await;
    let view = assert_exact(mail, mail, inbox.id, BOTH).await;
    assert_eq!(flags_in(&view, 2), Some(flags));
    assert!(view.get(2).and_then(|r| r.body_structure).is_some_and(|b| {
        String::from_utf8_lossy(b)
            .to_ascii_lowercase()
            .contains("\"mixed\"")
    }));
    // A view asked for some UIDs holds at least those, from the same snapshot.
    let some = mail
        .fetch_view(inbox.id, &UidSet::from_uids([2, 9]), BOTH)
        .await
        .expect("some");
    assert!(some.get(2).is_some_and(|r| r.envelope.is_some()));
    assert!(some.get(9).is_none() && some.covers(2, 2, BOTH) && some.covers(9, 9, BOTH));
    let nothing = mail
        .fetch_view(inbox.id, &UidSet::from_uids([]), BOTH)
        .await
        .expect("nothing asked");
    assert_eq!(nothing.highest_modseq(), view.highest_modseq());
    assert_not_found(
        mail.fetch_view(FolderId(999), &UidSet::all(), FetchParts::NONE)
            .await,
    );
}

pub async fn fetch_view_follows_every_change_exactly<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    for n in 1..=4 {
        deliver(stores, &format!("m{n}"), &[&toto]).await;
    }
    let inbox = folder(mail, &toto, "INBOX").await;
    let archive = folder(mail, &toto, "Archive").await;
    let first = assert_exact(mail, mail, inbox.id, ENVELOPE).await;

    // Flags and keywords, with one MODSEQ for the STORE (CONDSTORE).
    let work = Flags::system(SystemFlags::FLAGGED).with_keyword(keyword("$Work"));
    mail.set_flags(
        inbox.id,
        &UidSet::from_uids([1, 3]),
        FlagOp::Add,
        &work,
        None,
    )
    .await
    .expect("store");
    let view = assert_exact(mail, mail, inbox.id, ENVELOPE).await;
    assert_eq!(flags_in(&view, 3), Some(work.clone()));
    assert_eq!(view.get(3).map(|r| r.modseq), Some(view.highest_modseq()));
    // The view read before is a snapshot: it does not change under its reader.
    assert_eq!(flags_in(&first, 3), Some(Flags::none()));
    assert_eq!(first.highest_modseq(), inbox.highest_modseq);

    // UNCHANGEDSINCE leaves 1 alone and changes 2.
    let seen = Flags::system(SystemFlags::SEEN);
    let since = view.get(2).expect("held").modseq;
    mail.set_flags(
        inbox.id,
        &UidSet::from_uids([1, 2]),
        FlagOp::Add,
        &seen,
        Some(since),
    )
    .await
    .expect("store");
    assert_exact(mail, mail, inbox.id, ENVELOPE).await;
    mail.set_flags(
        inbox.id,
        &UidSet::single(1),
        FlagOp::Replace,
        &Flags::none(),
        None,
    )
    .await
    .expect("store");
    assert_exact(mail, mail, inbox.id, ENVELOPE).await;

    // New messages, by delivery and by APPEND; their envelopes are rendered on demand.
    deliver(stores, "m5", &[&toto]).await;
    let (raw, index) = multipart("m6");
    mail.append(inbox.id, &raw, &index, &work, DATE)
        .await
        .expect("append");
    let view = assert_exact(mail, mail, inbox.id, BOTH).await;
    assert_eq!(view.len(), 6);

    // Expunges, one after the other and several at once.
    let deleted = Flags::system(SystemFlags::DELETED);
    mail.set_flags(
        inbox.id,
        &UidSet::from_uids([2, 5]),
        FlagOp::Add,
        &deleted,
        None,
    )
    .await
    .expect("store");
    mail.expunge(inbox.id, Some(&UidSet::single(5)))
        .await
        .expect("uid expunge");
    assert_exact(mail, mail, inbox.id, BOTH).await;
    mail.expunge(inbox.id, None).await.expect("expunge");
    let view = assert_exact(mail, mail, inbox.id, BOTH).await;
    assert_eq!(view.iter().map(|r| r.uid).collect::<Vec<_>>(), [1, 3, 4, 6]);

    // Several changes between two calls: the rows above the old MODSEQ catch up with all.
    mail.set_flags(inbox.id, &UidSet::single(4), FlagOp::Add, &deleted, None)
        .await
        .expect("store");
    deliver(stores, "m7", &[&toto]).await;
    mail.expunge(inbox.id, None).await.expect("expunge");
    mail.set_flags(inbox.id, &UidSet::single(7), FlagOp::Add, &seen, None)
        .await
        .expect("store");
    assert_exact(mail, mail, inbox.id, ENVELOPE).await;

    // COPY and MOVE, both directions, with the other folder cached too.
    assert_exact(mail, mail, archive.id, ENVELOPE).await;
    mail.copy_messages(inbox.id, &UidSet::from_uids([1, 3]), archive.id)
        .await
        .expect("copy");
    assert_exact(mail, mail, archive.id, ENVELOPE).await;
    assert_exact(mail, mail, inbox.id, ENVELOPE).await;
    mail.move_messages(inbox.id, &UidSet::single(6), archive.id)
        .await
        .expect("move out");
    assert_exact(mail, mail, inbox.id, BOTH).await;
    assert_exact(mail, mail, archive.id, BOTH).await;
    mail.move_messages(archive.id, &UidSet::single(1), inbox.id)
        .await
        .expect("move in");
    let view = assert_exact(mail, mail, inbox.id, BOTH).await;
    assert_exact(mail, mail, archive.id, BOTH).await;
    assert_eq!(view.iter().map(|r| r.uid).collect::<Vec<_>>(), [1, 3, 7, 8]);

    // A rename changes no message; a deletion removes the folder.
    let renamed = mail.rename_folder(archive.id, "Old").await.expect("rename");
    assert_exact(mail, mail, renamed.id, BOTH).await;
    mail.delete_folder(renamed.id).await.expect("delete");
    assert_not_found(
        mail.fetch_view(renamed.id, &UidSet::all(), FetchParts::NONE)
            .await,
    );
    // A folder deleted and created again under the same name is another folder.
    let again = mail.create_folder(toto.id, "Old").await.expect("create");
    assert_ne!(again.id, renamed.id);
    assert!(assert_exact(mail, mail, again.id, BOTH).await.is_empty());
}

pub async fn fetch_view_sees_what_another_store_on_the_same_folder_wrote<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    for n in 1..=3 {
        deliver(stores, &format!("m{n}"), &[&toto]).await;
    }
    let inbox = folder(mail, &toto, "INBOX").await;
    assert_exact(mail, mail, inbox.id, ENVELOPE).await;

    // Another process: none of its writes publish an event here.
    let other = h.open_another().await;
    let theirs = &*other.mail;
    let flagged = Flags::system(SystemFlags::FLAGGED).with_keyword(keyword("$Later"));
    theirs
        .set_flags(inbox.id, &UidSet::single(2), FlagOp::Add, &flagged, None)
        .await
        .expect("store elsewhere");
    let view = assert_exact(mail, theirs, inbox.id, ENVELOPE).await;
    assert_eq!(flags_in(&view, 2), Some(flagged));
    let (raw, index) = multipart("theirs");
    theirs
        .append(inbox.id, &raw, &index, &Flags::none(), DATE)
        .await
        .expect("append elsewhere");
    theirs
        .set_flags(
            inbox.id,
            &UidSet::single(1),
            FlagOp::Add,
            &Flags::system(SystemFlags::DELETED),
            None,
        )
        .await
        .expect("store elsewhere");
    theirs
        .expunge(inbox.id, None)
        .await
        .expect("expunge elsewhere");
    let view = assert_exact(mail, theirs, inbox.id, BOTH).await;
    assert_eq!(view.iter().map(|r| r.uid).collect::<Vec<_>>(), [2, 3, 4]);
    let old = folder(mail, &toto, "Archive").await;
    assert_exact(mail, mail, old.id, ENVELOPE).await;
    theirs
        .delete_folder(old.id)
        .await
        .expect("delete elsewhere");
    assert_not_found(mail.fetch_view(old.id, &UidSet::all(), ENVELOPE).await);
    other.close().await;
}

pub async fn select_view_agrees_before_and_after_the_folder_is_cached<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    for n in 1..=5 {
        deliver(stores, &format!("m{n}"), &[&toto]).await;
    }
    let inbox = folder(mail, &toto, "INBOX").await;
    let seen = Flags::system(SystemFlags::SEEN).with_keyword(keyword("$Work"));
    mail.set_flags(
        inbox.id,
        &UidSet::from_uids([1, 2]),
        FlagOp::Add,
        &seen,
        None,
    )
    .await
    .expect("store");
    let before = mail.select_view(inbox.id).await.expect("select");
    assert_eq!(before.first_unseen, Some(3));
    mail.fetch_view(inbox.id, &UidSet::all(), ENVELOPE)
        .await
        .expect("view");
    assert_eq!(mail.select_view(inbox.id).await.expect("select"), before);

    // Changed since: the answer follows, and agrees with a store that has nothing cached.
    mail.set_flags(
        inbox.id,
        &UidSet::single(3),
        FlagOp::Add,
        &Flags::system(SystemFlags::SEEN).with_keyword(keyword("$Junk")),
        None,
    )
    .await
    .expect("store");
    mail.set_flags(
        inbox.id,
        &UidSet::single(1),
        FlagOp::Add,
        &Flags::system(SystemFlags::DELETED),
        None,
    )
    .await
    .expect("store");
    mail.expunge(inbox.id, None).await.expect("expunge");
    deliver(stores, "m6", &[&toto]).await;
    let other = h.open_another().await;
    let fresh: SelectView = other.mail.select_view(inbox.id).await.expect("select");
    assert_eq!(fresh.uids, [2, 3, 4, 5, 6]);
    assert_eq!(fresh.first_unseen, Some(4));
    assert_eq!(fresh.keywords.len(), 2);
    assert_eq!(mail.select_view(inbox.id).await.expect("select"), fresh);
    other.close().await;
}
