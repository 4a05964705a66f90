//! The mail store: folders, delivery, append, flags, expunge, copy/move, status, search,
//! events.

use postwerk_model::{AddressKind, DirectoryError, SpecialUse};
use postwerk_store::{
    Fingerprint, FlagOp, Folder, FolderEventKind, Keyword, MailStore, StoreError, SystemFlags,
    TargetFolder, UidSet,
};

use super::*;

async fn folder(mail: &dyn MailStore, mailbox: &HostedAddress, name: &str) -> Folder {
    mail.folder_by_name(mailbox.id, name)
        .await
        .expect("lookup")
        .expect("folder exists")
}

fn uids(messages: &[postwerk_store::MessageMeta]) -> Vec<u32> {
    messages.iter().map(|m| m.uid).collect()
}

fn keyword(text: &str) -> Keyword {
    Keyword::parse(text).expect("keyword")
}

pub async fn folders_create_parents_rename_children_delete_subscribe<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;

    let leaf = mail
        .create_folder(toto.id, "Work/Clients/Acme")
        .await
        .expect("create");
    assert_eq!(
        (leaf.name.as_str(), leaf.mailbox, leaf.special_use),
        ("Work/Clients/Acme", toto.id, None)
    );
    assert!(
        mail.folder_by_name(toto.id, "Work")
            .await
            .expect("lookup")
            .is_some(),
        "parents created"
    );
    assert!(
        mail.folder_by_name(toto.id, "Work/Clients")
            .await
            .expect("lookup")
            .is_some()
    );
    assert_eq!(
        mail.folder(leaf.id).await.expect("by id"),
        Some(leaf.clone())
    );
    assert_eq!(
        folder(mail, &toto, "inbox").await.name,
        "INBOX",
        "INBOX is case-insensitive"
    );
    let inbox_child = mail
        .create_folder(toto.id, "inbox/Later")
        .await
        .expect("create");
    assert_eq!(inbox_child.name, "INBOX/Later");
    assert_eq!(
        assert_conflict(mail.create_folder(toto.id, "Work").await),
        "the folder Work already exists"
    );
    assert!(matches!(
        mail.create_folder(toto.id, "Bad//Name").await,
        Err(StoreError::Rule(DirectoryError::InvalidFolderName { .. }))
    ));
    let fwd = stores
        .directory
        .create_address(new_address(&abc, "fwd", AddressKind::RedirectOnly))
        .await
        .expect("fwd");
    assert_refused(mail.create_folder(fwd.id, "Anything").await);
    assert_not_found(
        mail.create_folder(postwerk_model::AddressId(999), "Anything")
            .await,
    );

    // Rename keeps identity and UIDs, and carries the subfolders along (RFC 9051 §6.3.6).
    let work = folder(mail, &toto, "Work").await;
    let renamed = mail
        .rename_folder(work.id, "Archive/Work")
        .await
        .expect("rename");
    assert_eq!(
        (renamed.id, renamed.uid_validity, renamed.name.as_str()),
        (work.id, work.uid_validity, "Archive/Work")
    );
    let names: Vec<String> = mail
        .list_folders(toto.id)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        names,
        vec![
            "Archive",
            "Archive/Work",
            "Archive/Work/Clients",
            "Archive/Work/Clients/Acme",
            "Drafts",
            "INBOX",
            "INBOX/Later",
            "Junk",
            "Sent",
            "Trash"
        ]
    );
    assert_eq!(
        assert_conflict(mail.rename_folder(leaf.id, "Sent").await),
        "the folder Sent already exists"
    );
    assert_refused(mail.rename_folder(renamed.id, "Archive/Work/Inside").await);

    // Delete: never INBOX, never a folder with subfolders.
    let inbox = folder(mail, &toto, "INBOX").await;
    assert_eq!(
        assert_refused(mail.delete_folder(inbox.id).await),
        "INBOX cannot be deleted"
    );
    let sentence = assert_refused(mail.delete_folder(renamed.id).await);
    assert_eq!(
        sentence,
        "the folder Archive/Work has subfolders; delete them first"
    );
    mail.delete_folder(leaf.id).await.expect("delete leaf");
    assert_eq!(mail.folder(leaf.id).await.expect("lookup"), None);
    assert_not_found(mail.delete_folder(leaf.id).await);

    let trash = folder(mail, &toto, "Trash").await;
    mail.set_subscribed(trash.id, false)
        .await
        .expect("unsubscribe");
    assert!(!folder(mail, &toto, "Trash").await.subscribed);
    mail.set_subscribed(trash.id, true)
        .await
        .expect("subscribe");
    assert!(folder(mail, &toto, "Trash").await.subscribed);
    assert_not_found(mail.set_subscribed(leaf.id, true).await);
}

pub async fn uidvalidity_changes_when_a_folder_is_recreated<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let first = h
        .stores()
        .mail
        .create_folder(toto.id, "Lists")
        .await
        .expect("create");
    h.stores()
        .mail
        .delete_folder(first.id)
        .await
        .expect("delete");
    let second = h
        .stores()
        .mail
        .create_folder(toto.id, "Lists")
        .await
        .expect("create again");
    assert_ne!(first.uid_validity, second.uid_validity, "RFC 9051 §2.3.1.1");
    h.stores()
        .mail
        .delete_folder(second.id)
        .await
        .expect("delete");
    h.reopen().await;
    let third = h
        .stores()
        .mail
        .create_folder(toto.id, "Lists")
        .await
        .expect("create after reopen");
    assert!(![first.uid_validity, second.uid_validity].contains(&third.uid_validity));
}

pub async fn rename_inbox_moves_messages_and_leaves_inbox_empty<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    deliver(stores, "one", &[&toto]).await;
    deliver(stores, "two", &[&toto]).await;
    let inbox = folder(mail, &toto, "INBOX").await;
    mail.set_flags(
        inbox.id,
        &UidSet::single(2),
        FlagOp::Add,
        &Flags::system(SystemFlags::SEEN),
        None,
    )
    .await
    .expect("flag");
    let old = mail
        .rename_folder(inbox.id, "Old/Inbox")
        .await
        .expect("rename INBOX");
    assert_ne!(old.id, inbox.id);
    assert_ne!(old.uid_validity, inbox.uid_validity, "a new folder");
    let moved = mail
        .list_messages(old.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(uids(&moved), vec![1, 2]);
    assert_eq!(moved[1].flags, Flags::system(SystemFlags::SEEN));
    assert_eq!(moved[0].subject.as_deref(), Some("one"));
    let inbox_now = folder(mail, &toto, "INBOX").await;
    assert_eq!(
        (inbox_now.id, inbox_now.uid_validity),
        (inbox.id, inbox.uid_validity)
    );
    assert!(
        mail.list_messages(inbox.id, &UidSet::all())
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(inbox_now.uid_next, 3, "UIDNEXT never goes back");
    assert_eq!(
        mail.vanished_since(inbox.id, inbox.highest_modseq)
            .await
            .expect("vanished"),
        vec![1, 2]
    );
    assert!(
        mail.folder_by_name(toto.id, "Old")
            .await
            .expect("lookup")
            .is_some()
    );
    // The next delivery still lands in INBOX, with the next UID.
    assert_eq!(deliver(stores, "three", &[&toto]).await[0].uid, 3);
}

pub async fn rcv_12_deliver_to_many_mailboxes_shares_one_durable_blob<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    // Above the inline threshold, so the content is a blob file (inline contents: see the
    // SQLite tests).
    let (raw, index) = message("hello", &format!("Shared body.\r\n{}", large_body()));
    let targets = vec![
        DeliveryTarget::inbox(toto.id),
        DeliveryTarget::inbox(titi.id),
        // ADDR-6: the address and its alias both named: two deliveries, two messages.
        DeliveryTarget::inbox(toto.id),
        DeliveryTarget {
            mailbox: titi.id,
            folder: TargetFolder::SpecialUse(SpecialUse::Junk),
        },
    ];
    let stored = mail
        .deliver(&raw, &index, &targets, &Flags::none(), DATE)
        .await
        .expect("deliver");
    let toto_inbox = folder(mail, &toto, "INBOX").await;
    let titi_inbox = folder(mail, &titi, "INBOX").await;
    let titi_junk = folder(mail, &titi, "Junk").await;
    let got: Vec<_> = stored
        .iter()
        .map(|s| (s.folder, s.uid, s.uid_validity))
        .collect();
    assert_eq!(
        got,
        vec![
            (toto_inbox.id, 1, toto_inbox.uid_validity),
            (titi_inbox.id, 1, titi_inbox.uid_validity),
            (toto_inbox.id, 2, toto_inbox.uid_validity),
            (titi_junk.id, 1, titi_junk.uid_validity),
        ]
    );
    assert_eq!(toto_inbox.uid_next, 3);
    // RCV-12: when deliver returns, the content is on disk, once for all four messages.
    let files = h.blob_files();
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read(&files[0]).expect("blob file"), raw);
    let listed = mail
        .list_messages(toto_inbox.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(listed[0].blob, listed[1].blob);
    assert!(files[0].ends_with(&listed[0].blob.as_str()[2..]));
    assert_eq!(mail.read_message(titi_junk.id, 1).await.expect("read"), raw);
    // Delivering the same bytes again adds messages, not blobs.
    mail.deliver(&raw, &index, &targets[..1], &Flags::none(), DATE)
        .await
        .expect("again");
    assert_eq!(h.blob_files().len(), 1);
}

pub async fn deliver_falls_back_to_inbox_and_refuses_non_mailboxes<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let noreply = stores
        .directory
        .create_address(new_address(&abc, "noreply", AddressKind::NoReply))
        .await
        .expect("noreply");
    let junk = folder(mail, &toto, "Junk").await;
    mail.delete_folder(junk.id)
        .await
        .expect("the user deleted Junk");
    let lists = mail.create_folder(toto.id, "Lists").await.expect("create");
    let (raw, index) = message("fallback", "Body.");
    let targets = [
        DeliveryTarget {
            mailbox: toto.id,
            folder: TargetFolder::SpecialUse(SpecialUse::Junk),
        },
        DeliveryTarget {
            mailbox: toto.id,
            folder: TargetFolder::Named("No such folder".to_owned()),
        },
        DeliveryTarget {
            mailbox: toto.id,
            folder: TargetFolder::Named("Lists".to_owned()),
        },
    ];
    let stored = mail
        .deliver(&raw, &index, &targets, &Flags::none(), DATE)
        .await
        .expect("deliver");
    let inbox = folder(mail, &toto, "INBOX").await;
    assert_eq!(
        stored.iter().map(|s| (s.folder, s.uid)).collect::<Vec<_>>(),
        vec![(inbox.id, 1), (inbox.id, 2), (lists.id, 1)]
    );

    // A target that holds no mail fails the whole delivery: nothing stored, no blob left.
    let (raw, index) = message("refused", "Other body.");
    let targets = [
        DeliveryTarget::inbox(toto.id),
        DeliveryTarget::inbox(noreply.id),
    ];
    assert_not_found(
        mail.deliver(&raw, &index, &targets, &Flags::none(), DATE)
            .await,
    );
    assert_eq!(mail.status(inbox.id).await.expect("status").messages, 2);
    assert_eq!(
        h.stored_contents().await,
        1,
        "the refused message's content was removed"
    );
    assert_not_found(
        mail.append(
            postwerk_model::FolderId(999),
            &raw,
            &index,
            &Flags::none(),
            DATE,
        )
        .await,
    );
    assert_eq!(h.stored_contents().await, 1);
    assert_eq!(
        mail.deliver(&raw, &index, &[], &Flags::none(), DATE)
            .await
            .expect("no target"),
        vec![]
    );
}

pub async fn append_list_read_and_index_round_trip<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let drafts = folder(mail, &toto, "Drafts").await;
    let flags =
        Flags::system(SystemFlags::DRAFT.union(SystemFlags::SEEN)).with_keyword(keyword("$Work"));
    let (raw, index) = message("draft subject", "Draft body.");
    let stored = mail
        .append(drafts.id, &raw, &index, &flags, 1_600_000_000)
        .await
        .expect("append");
    assert_eq!(
        (stored.folder, stored.uid, stored.uid_validity),
        (drafts.id, 1, drafts.uid_validity)
    );
    let (raw2, index2) = message("second", "Another.");
    mail.append(drafts.id, &raw2, &index2, &Flags::none(), DATE)
        .await
        .expect("append");

    let listed = mail
        .list_messages(drafts.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(uids(&listed), vec![1, 2]);
    let first = &listed[0];
    assert_eq!(first.flags, flags);
    assert_eq!(
        (first.internal_date, first.size),
        (1_600_000_000, raw.len() as u64)
    );
    assert_eq!(first.subject.as_deref(), Some("draft subject"));
    assert_eq!(first.from.as_deref(), Some("alice@outside.example"));
    assert_eq!(first.sent_date, Some(1_700_000_000));
    assert!(!first.has_attachments);
    assert!(first.saved_at >= DATE, "SAVEDATE is now");
    assert!(first.modseq > drafts.highest_modseq);
    assert_eq!(
        uids(
            &mail
                .list_messages(drafts.id, &UidSet::single(2))
                .await
                .expect("list")
        ),
        vec![2]
    );
    assert!(
        mail.list_messages(drafts.id, &UidSet::from_ranges([(3, 10)]))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(mail.read_message(drafts.id, 1).await.expect("read"), raw);
    assert_not_found(mail.read_message(drafts.id, 3).await);
    let indexes = mail
        .message_indexes(drafts.id, &UidSet::all())
        .await
        .expect("indexes");
    // Without their search text, which only full-text search reads.
    let without_text = |mut index: postwerk_message::MessageIndex| {
        index.search_text.clear();
        index
    };
    assert_eq!(
        indexes,
        vec![(1, without_text(index)), (2, without_text(index2))]
    );
    assert_not_found(
        mail.list_messages(postwerk_model::FolderId(999), &UidSet::all())
            .await,
    );
    let after = folder(mail, &toto, "Drafts").await;
    assert_eq!(
        (after.uid_next, after.highest_modseq),
        (3, drafts.highest_modseq + 2)
    );
}

pub async fn flags_store_bumps_modseq_once_and_honours_unchangedsince<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    for n in 0..3 {
        deliver(stores, &format!("m{n}"), &[&toto]).await;
    }
    let inbox = folder(mail, &toto, "INBOX").await;
    let seen = Flags::system(SystemFlags::SEEN).with_keyword(keyword("$Label1"));
    let update = mail
        .set_flags(
            inbox.id,
            &UidSet::from_ranges([(1, 2)]),
            FlagOp::Add,
            &seen,
            None,
        )
        .await
        .expect("store");
    let modseq = inbox.highest_modseq + 1;
    assert_eq!(
        update
            .changed
            .iter()
            .map(|c| (c.uid, c.modseq))
            .collect::<Vec<_>>(),
        vec![(1, modseq), (2, modseq)]
    );
    assert!(update.changed.iter().all(|c| c.flags == seen) && update.modified.is_empty());
    assert_eq!(
        folder(mail, &toto, "INBOX").await.highest_modseq,
        modseq,
        "one MODSEQ for the STORE"
    );

    // A STORE that changes nothing bumps nothing.
    let again = mail
        .set_flags(inbox.id, &UidSet::single(1), FlagOp::Add, &seen, None)
        .await
        .expect("store");
    assert!(again.changed.is_empty());
    assert_eq!(folder(mail, &toto, "INBOX").await.highest_modseq, modseq);

    // UNCHANGEDSINCE: message 3 has not changed since its delivery, 1 and 2 have.
    let flagged = Flags::system(SystemFlags::FLAGGED);
    let since = modseq - 1;
    let update = mail
        .set_flags(inbox.id, &UidSet::all(), FlagOp::Add, &flagged, Some(since))
        .await
        .expect("store");
    assert_eq!(update.modified, vec![1, 2]);
    assert_eq!(
        update.changed.iter().map(|c| c.uid).collect::<Vec<_>>(),
        vec![3]
    );

    let replaced = mail
        .set_flags(
            inbox.id,
            &UidSet::single(1),
            FlagOp::Replace,
            &flagged,
            None,
        )
        .await
        .expect("store");
    assert_eq!(replaced.changed[0].flags, flagged);
    let removed = mail
        .set_flags(inbox.id, &UidSet::single(2), FlagOp::Remove, &seen, None)
        .await
        .expect("store");
    assert_eq!(removed.changed[0].flags, Flags::none());
    let listed = mail
        .list_messages(inbox.id, &UidSet::all())
        .await
        .expect("list");
    let flags: Vec<_> = listed.iter().map(|m| m.flags.clone()).collect();
    assert_eq!(flags, vec![flagged.clone(), Flags::none(), flagged]);
    let highest = folder(mail, &toto, "INBOX").await.highest_modseq;
    assert_eq!(
        listed.iter().map(|m| m.modseq).max(),
        Some(highest),
        "HIGHESTMODSEQ is the largest"
    );
    assert_not_found(
        mail.set_flags(
            postwerk_model::FolderId(999),
            &UidSet::all(),
            FlagOp::Add,
            &seen,
            None,
        )
        .await,
    );
}

pub async fn expunge_removes_deleted_records_vanished_and_collects_blobs<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    deliver(stores, "shared", &[&toto, &titi]).await;
    for n in 2..=4 {
        deliver(stores, &format!("m{n}"), &[&toto]).await;
    }
    assert_eq!(h.stored_contents().await, 4);
    let inbox = folder(mail, &toto, "INBOX").await;
    let deleted = Flags::system(SystemFlags::DELETED);
    mail.set_flags(
        inbox.id,
        &UidSet::from_uids([1, 2, 3]),
        FlagOp::Add,
        &deleted,
        None,
    )
    .await
    .expect("store");
    let before = folder(mail, &toto, "INBOX").await.highest_modseq;

    // UID EXPUNGE: only the deleted messages of the set.
    let first = mail
        .expunge(inbox.id, Some(&UidSet::from_uids([2, 4])))
        .await
        .expect("uid expunge");
    assert_eq!((first.uids.clone(), first.modseq), (vec![2], before + 1));
    let rest = mail.expunge(inbox.id, None).await.expect("expunge");
    assert_eq!((rest.uids.clone(), rest.modseq), (vec![1, 3], before + 2));
    assert_eq!(
        uids(
            &mail
                .list_messages(inbox.id, &UidSet::all())
                .await
                .expect("list")
        ),
        vec![4]
    );
    let nothing = mail.expunge(inbox.id, None).await.expect("nothing to do");
    assert_eq!((nothing.uids.len(), nothing.modseq), (0, before + 2));

    // QRESYNC: what vanished after a given MODSEQ.
    assert_eq!(
        mail.vanished_since(inbox.id, before)
            .await
            .expect("vanished"),
        vec![1, 2, 3]
    );
    assert_eq!(
        mail.vanished_since(inbox.id, before + 1)
            .await
            .expect("vanished"),
        vec![1, 3]
    );
    assert!(
        mail.vanished_since(inbox.id, before + 2)
            .await
            .expect("vanished")
            .is_empty()
    );

    // m2 and m3 are gone from the disk; "shared" stays for titi.
    assert_eq!(h.stored_contents().await, 2);
    let titi_inbox = folder(mail, &titi, "INBOX").await;
    mail.set_flags(titi_inbox.id, &UidSet::all(), FlagOp::Add, &deleted, None)
        .await
        .expect("store");
    mail.expunge(titi_inbox.id, None).await.expect("expunge");
    assert_eq!(h.stored_contents().await, 1, "only m4 is left");
    let uid = deliver(stores, "m5", &[&toto]).await[0].uid;
    assert_eq!(uid, 5, "UIDs are never reused");
}

pub async fn copy_and_move_keep_flags_share_content_and_report_copyuid<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    for n in 1..=3 {
        deliver(stores, &format!("m{n}"), &[&toto]).await;
    }
    let inbox = folder(mail, &toto, "INBOX").await;
    let archive = folder(mail, &toto, "Archive").await;
    let flags = Flags::system(SystemFlags::FLAGGED).with_keyword(keyword("$Important"));
    mail.set_flags(inbox.id, &UidSet::single(2), FlagOp::Replace, &flags, None)
        .await
        .expect("store");

    let copied = mail
        .copy_messages(inbox.id, &UidSet::from_uids([2, 3, 9]), archive.id)
        .await
        .expect("copy");
    assert_eq!(
        (copied.uid_validity, copied.uids.clone()),
        (archive.uid_validity, vec![(2, 1), (3, 2)])
    );
    let in_archive = mail
        .list_messages(archive.id, &UidSet::all())
        .await
        .expect("list");
    let in_inbox = mail
        .list_messages(inbox.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(uids(&in_inbox), vec![1, 2, 3], "COPY leaves the source");
    assert_eq!(in_archive[0].flags, flags);
    assert_eq!(
        (in_archive[0].blob.clone(), in_archive[0].internal_date),
        (in_inbox[1].blob.clone(), DATE)
    );
    assert_eq!(h.stored_contents().await, 3, "copies share the content");

    // MOVE to another mailbox (a shared mailbox in webmail).
    let titi_inbox = folder(mail, &titi, "INBOX").await;
    let moved = mail
        .move_messages(inbox.id, &UidSet::from_ranges([(1, 2)]), titi_inbox.id)
        .await
        .expect("move");
    assert_eq!(moved.uids, vec![(1, 1), (2, 2)]);
    assert_eq!(
        uids(
            &mail
                .list_messages(inbox.id, &UidSet::all())
                .await
                .expect("list")
        ),
        vec![3]
    );
    let at_titi = mail
        .list_messages(titi_inbox.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(
        (at_titi[1].flags.clone(), at_titi[0].subject.as_deref()),
        (flags, Some("m1"))
    );
    assert_eq!(
        mail.read_message(titi_inbox.id, 1).await.expect("read"),
        message("m1", "Hello.").0
    );
    let vanished = mail
        .vanished_since(inbox.id, inbox.highest_modseq)
        .await
        .expect("vanished");
    assert_eq!(vanished, vec![1, 2]);
    assert_eq!(h.stored_contents().await, 3, "a move collects nothing");
    let empty = mail
        .copy_messages(inbox.id, &UidSet::single(1), archive.id)
        .await
        .expect("copy nothing");
    assert!(empty.uids.is_empty());
    assert_not_found(
        mail.copy_messages(inbox.id, &UidSet::all(), postwerk_model::FolderId(999))
            .await,
    );
    assert_not_found(
        mail.move_messages(postwerk_model::FolderId(999), &UidSet::all(), archive.id)
            .await,
    );
}

pub async fn status_counts_messages_unseen_deleted_size<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let mut total = 0;
    for n in 1..=4 {
        let (raw, index) = message(&format!("m{n}"), &"x".repeat(100 * n));
        total += raw.len() as u64;
        let targets = [DeliveryTarget::inbox(toto.id)];
        mail.deliver(&raw, &index, &targets, &Flags::none(), DATE)
            .await
            .expect("deliver");
    }
    let inbox = folder(mail, &toto, "INBOX").await;
    mail.set_flags(
        inbox.id,
        &UidSet::from_uids([1, 2]),
        FlagOp::Add,
        &Flags::system(SystemFlags::SEEN),
        None,
    )
    .await
    .expect("store");
    mail.set_flags(
        inbox.id,
        &UidSet::single(4),
        FlagOp::Add,
        &Flags::system(SystemFlags::DELETED),
        None,
    )
    .await
    .expect("store");
    let status = mail.status(inbox.id).await.expect("status");
    assert_eq!(
        (status.messages, status.unseen, status.deleted, status.size),
        (4, 2, 1, total)
    );
    assert_eq!(status.folder, folder(mail, &toto, "INBOX").await);
    assert_eq!(mail.mailbox_usage(toto.id).await.expect("usage"), total);
    // What SELECT needs, without listing: UIDs, the first unseen, the keywords in use.
    let forwarded = Keyword::parse("$Forwarded").expect("keyword");
    let flagged = Flags::none().with_keyword(forwarded.clone());
    mail.set_flags(inbox.id, &UidSet::single(2), FlagOp::Add, &flagged, None)
        .await
        .expect("store");
    let view = mail.select_view(inbox.id).await.expect("select view");
    assert_eq!(view.uids, vec![1, 2, 3, 4]);
    assert_eq!(view.first_unseen, Some(3));
    assert_eq!(
        view.keywords.into_iter().collect::<Vec<_>>(),
        vec![forwarded]
    );
    let drafts = folder(mail, &toto, "Drafts").await;
    assert_eq!(
        mail.select_view(drafts.id).await.expect("empty"),
        postwerk_store::SelectView::default()
    );
    assert_not_found(mail.select_view(postwerk_model::FolderId(999)).await);
    let empty = mail
        .status(folder(mail, &toto, "Sent").await.id)
        .await
        .expect("status");
    assert_eq!((empty.messages, empty.unseen, empty.size), (0, 0, 0));
    assert_not_found(mail.status(postwerk_model::FolderId(999)).await);
}

pub async fn search_text_finds_substrings_case_insensitively<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let bodies = [
        "The quarterly REPORT is attached.",
        "Lunch on Friday?",
        "Reporting lines changed.",
    ];
    for (n, body) in bodies.iter().enumerate() {
        let (raw, index) = message(&format!("note {n}"), body);
        mail.deliver(
            &raw,
            &index,
            &[DeliveryTarget::inbox(toto.id)],
            &Flags::none(),
            DATE,
        )
        .await
        .expect("deliver");
    }
    let (raw, index) = message("other mailbox", "a report for titi");
    mail.deliver(
        &raw,
        &index,
        &[DeliveryTarget::inbox(titi.id)],
        &Flags::none(),
        DATE,
    )
    .await
    .expect("deliver");
    let inbox = folder(mail, &toto, "INBOX").await;
    assert_eq!(
        mail.search_text(inbox.id, "report").await.expect("search"),
        vec![1, 3]
    );
    assert_eq!(
        mail.search_text(inbox.id, "ARTERLY rep")
            .await
            .expect("search"),
        vec![1]
    );
    assert_eq!(
        mail.search_text(inbox.id, "friday").await.expect("search"),
        vec![2]
    );
    assert_eq!(
        mail.search_text(inbox.id, "note 2").await.expect("search"),
        vec![3],
        "headers too"
    );
    assert!(
        mail.search_text(inbox.id, "absent words")
            .await
            .expect("search")
            .is_empty()
    );
    assert!(
        mail.search_text(inbox.id, "\"quoted\"")
            .await
            .expect("search")
            .is_empty()
    );
    // Shorter than a trigram.
    assert_eq!(
        mail.search_text(inbox.id, "Y?").await.expect("search"),
        vec![2]
    );
    // Expunged messages are not found any more.
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
    assert_eq!(
        mail.search_text(inbox.id, "report").await.expect("search"),
        vec![3]
    );
    assert_not_found(
        mail.search_text(postwerk_model::FolderId(999), "report")
            .await,
    );
}

pub async fn events_follow_every_folder_change<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    // The default folders' `Created` events are checked where an address is created
    // (directory::addr_6_create_address_with_is_all_or_nothing): a subscription names its
    // mailbox, so it starts once the mailbox exists.
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let mut events = stores.events.subscribe(toto.id);
    let mut titi_events = mail.subscribe(titi.id);

    let inbox = folder(mail, &toto, "INBOX").await;
    let mut from_trait = mail.subscribe(toto.id);
    deliver(stores, "hello", &[&toto]).await;
    let appended = drain(&mut events);
    assert_eq!(appended.len(), 1);
    let event = &appended[0];
    let now = folder(mail, &toto, "INBOX").await;
    assert_eq!(
        (event.folder, event.mailbox, event.modseq),
        (inbox.id, toto.id, now.highest_modseq)
    );
    assert_eq!(event.kind, FolderEventKind::Appended { uids: vec![1] });
    assert_eq!(
        drain(&mut from_trait),
        appended,
        "the trait and the bundle share one bus"
    );

    let deleted = Flags::system(SystemFlags::DELETED);
    let update = mail
        .set_flags(inbox.id, &UidSet::single(1), FlagOp::Add, &deleted, None)
        .await
        .expect("store");
    let changed = drain(&mut events);
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (changed[0].kind.clone(), changed[0].modseq),
        (
            FolderEventKind::FlagsChanged { uids: vec![1] },
            update.changed[0].modseq
        )
    );
    mail.set_flags(inbox.id, &UidSet::single(1), FlagOp::Add, &deleted, None)
        .await
        .expect("no-op store");
    assert!(
        drain(&mut events).is_empty(),
        "nothing changed, nothing published"
    );

    let expunged = mail.expunge(inbox.id, None).await.expect("expunge");
    let gone = drain(&mut events);
    assert_eq!(gone.len(), 1);
    assert_eq!(
        (gone[0].kind.clone(), gone[0].modseq),
        (FolderEventKind::Expunged { uids: vec![1] }, expunged.modseq)
    );

    let lists = mail.create_folder(toto.id, "Lists").await.expect("create");
    assert_eq!(
        drain(&mut events)
            .iter()
            .map(|e| (e.folder, e.kind.clone()))
            .collect::<Vec<_>>(),
        vec![(lists.id, FolderEventKind::Created)]
    );
    mail.rename_folder(lists.id, "Mailing lists")
        .await
        .expect("rename");
    assert_eq!(
        drain(&mut events)[0].kind,
        FolderEventKind::Renamed {
            name: "Mailing lists".to_owned()
        }
    );
    mail.set_subscribed(lists.id, false)
        .await
        .expect("unsubscribe");
    assert_eq!(
        drain(&mut events)[0].kind,
        FolderEventKind::Subscription { subscribed: false }
    );
    mail.delete_folder(lists.id).await.expect("delete");
    assert_eq!(drain(&mut events)[0].kind, FolderEventKind::Deleted);

    // A refused write publishes nothing.
    assert_refused(mail.delete_folder(inbox.id).await);
    assert!(drain(&mut events).is_empty());

    // Issue 10: a subscriber hears its own mailbox only. One delivery to both mailboxes gives
    // each subscriber its own INBOX's event; a delivery to titi alone wakes no one of toto's.
    assert!(
        drain(&mut titi_events).is_empty(),
        "toto's changes never reached titi's subscriber"
    );
    deliver(stores, "for both", &[&toto, &titi]).await;
    let titi_inbox = folder(mail, &titi, "INBOX").await;
    let mine = |events: Vec<postwerk_store::FolderEvent>| -> Vec<_> {
        events.iter().map(|e| (e.mailbox, e.folder)).collect()
    };
    assert_eq!(mine(drain(&mut events)), vec![(toto.id, inbox.id)]);
    assert_eq!(
        mine(drain(&mut titi_events)),
        vec![(titi.id, titi_inbox.id)]
    );
    deliver(stores, "for titi", &[&titi]).await;
    assert!(
        drain(&mut events).is_empty(),
        "titi's delivery never reached toto's subscriber"
    );
    assert_eq!(drain(&mut titi_events).len(), 1);

    // Once nobody watches titi, its channel is not kept: it goes at titi's next change, while
    // toto's stays and still carries toto's deliveries.
    assert_eq!(stores.events.watched_mailboxes(), 2);
    drop(titi_events);
    deliver(stores, "nobody listens", &[&titi]).await;
    assert_eq!(stores.events.watched_mailboxes(), 1);
    deliver(stores, "still heard", &[&toto]).await;
    assert_eq!(drain(&mut events).len(), 1);
}

/// Issue 10: a message delivered again with the same fingerprint (a client's retry after a
/// lost 250) reaches only the mailboxes that do not have it yet, and outside the window it
/// is delivered again. A retry nobody needs leaves no blob behind.
pub async fn deliver_once_skips_mailboxes_that_have_the_message<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let once = |subject: &'static str, targets: Vec<DeliveryTarget>, at: i64| async move {
        // Each attempt's own trace makes other bytes: a blob of its own.
        let (raw, index) = message(subject, &large_body());
        let fingerprint = Fingerprint {
            digest: [7u8; 32],
            since: at - 100,
        };
        mail.deliver_once(&raw, &index, &targets, &Flags::none(), at, fingerprint)
            .await
            .expect("deliver")
    };
    let stored = once("first", vec![DeliveryTarget::inbox(toto.id)], DATE).await;
    assert!(stored[0].is_some());
    let targets = vec![
        DeliveryTarget::inbox(toto.id),
        DeliveryTarget::inbox(titi.id),
    ];
    let again = once("retry", targets, DATE + 10).await;
    assert!(again[0].is_none(), "toto has it already");
    assert!(again[1].is_some(), "titi did not");
    assert_eq!(h.blob_files().len(), 2);
    let known = once("retry-2", vec![DeliveryTarget::inbox(titi.id)], DATE + 20).await;
    assert_eq!(known, vec![None]);
    assert_eq!(h.blob_files().len(), 2, "the unneeded retry's blob is gone");
    let later = once("later", vec![DeliveryTarget::inbox(toto.id)], DATE + 1_000).await;
    assert!(
        later[0].is_some(),
        "outside the window it is a new delivery"
    );
    let inbox = folder(mail, &toto, "INBOX").await;
    let listed = mail
        .list_messages(inbox.id, &UidSet::all())
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
}
