//! Group commit, durability across reopen, and a second process on the same data.

use std::collections::{BTreeMap, BTreeSet};

use postwerk_model::{AddressKind, DirectoryError, Permissions};
use postwerk_store::{FlagOp, MailStore, NewUser, StoreError, SystemFlags, UidSet};

use super::*;

/// Deliver `count` distinct messages concurrently, message `n` to `targets(n)`; every task
/// must be answered with success.
async fn deliver_concurrently(
    mail: &std::sync::Arc<dyn MailStore>,
    prefix: &str,
    count: usize,
    targets: impl Fn(usize) -> Vec<DeliveryTarget>,
) -> Vec<Vec<Stored>> {
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let mail = mail.clone();
            let (raw, index) = message(&format!("{prefix}{n}"), &format!("Body number {n}."));
            let targets = targets(n);
            tokio::spawn(async move {
                mail.deliver(&raw, &index, &targets, &Flags::none(), DATE)
                    .await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(count);
    for task in tasks {
        answers.push(
            task.await
                .expect("task")
                .expect("every delivery is answered with success"),
        );
    }
    answers
}

/// UIDs stored per folder, checking each is given once.
fn uids_per_folder(answers: &[Vec<Stored>]) -> BTreeMap<postwerk_model::FolderId, Vec<u32>> {
    let mut per_folder: BTreeMap<_, Vec<u32>> = BTreeMap::new();
    for stored in answers.iter().flatten() {
        per_folder
            .entry(stored.folder)
            .or_default()
            .push(stored.uid);
    }
    for uids in per_folder.values_mut() {
        uids.sort_unstable();
        let expected: Vec<u32> = (1..=uids.len() as u32).collect();
        assert_eq!(*uids, expected, "UIDs are unique and without gaps");
    }
    per_folder
}

pub async fn group_commit_concurrent_deliveries_all_answered_and_present_after_reopen<
    B: Backend,
>(
    backend: &B,
) {
    let mut h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let mut boxes = Vec::new();
    for name in ["a", "b", "c", "d"] {
        boxes.push(mailbox(h.stores(), &abc, name).await);
    }
    let ids: Vec<_> = boxes.iter().map(|b| b.id).collect();
    // 240 deliveries at once; every third one to two mailboxes.
    let answers = deliver_concurrently(&h.stores().mail, "gc", 240, |n| {
        let mut targets = vec![DeliveryTarget::inbox(ids[n % 4])];
        if n % 3 == 0 {
            targets.push(DeliveryTarget::inbox(ids[(n + 1) % 4]));
        }
        targets
    })
    .await;
    let per_folder = uids_per_folder(&answers);
    let total: usize = per_folder.values().map(Vec::len).sum();
    assert_eq!(total, 240 + 80);
    assert_eq!(h.stored_contents().await, 240);

    h.reopen().await;
    let mail = &h.stores().mail;
    for (folder, uids) in &per_folder {
        let listed = mail
            .list_messages(*folder, &UidSet::all())
            .await
            .expect("list");
        assert_eq!(
            listed.iter().map(|m| m.uid).collect::<Vec<_>>(),
            *uids,
            "durable"
        );
        let status = mail.status(*folder).await.expect("status");
        assert_eq!(status.folder.uid_next as usize, uids.len() + 1);
    }
    // Each answer points at its own message.
    for (n, stored) in answers.iter().enumerate().step_by(37) {
        let raw = mail
            .read_message(stored[0].folder, stored[0].uid)
            .await
            .expect("read");
        assert_eq!(
            raw,
            message(&format!("gc{n}"), &format!("Body number {n}.")).0
        );
    }
}

pub async fn group_commit_a_failing_write_does_not_fail_its_batch<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let (_, abc) = service(stores, "abc.xyz", 21).await;
    let owner = mailbox(stores, &abc, "owner").await;
    // 50 address creations (10 of them duplicates) race for 20 free places, mixed with 50
    // deliveries: refusals roll back alone, everything else commits.
    let creations: Vec<_> = (0..50)
        .map(|n| {
            let directory = stores.directory.clone();
            let new = new_address(&abc, &format!("u{}", n % 40), AddressKind::Mailbox);
            tokio::spawn(async move { directory.create_address(new).await })
        })
        .collect();
    let deliveries = deliver_concurrently(&stores.mail, "mixed", 50, |_| {
        vec![DeliveryTarget::inbox(owner.id)]
    });
    let answers = deliveries.await;
    assert_eq!(
        uids_per_folder(&answers)
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        50
    );
    let mut created = BTreeSet::new();
    for task in creations {
        match task.await.expect("task") {
            Ok(hosted) => assert!(created.insert(hosted.address.to_string()), "no duplicate"),
            Err(StoreError::Rule(DirectoryError::AddressQuotaReached { .. })) => {}
            Err(StoreError::Conflict(sentence)) => assert!(sentence.ends_with("already exists")),
            Err(other) => panic!("unexpected failure {other:?}"),
        }
    }
    assert_eq!(created.len(), 20, "exactly the quota");
    assert_eq!(
        stores.directory.address_count(abc.id).await.expect("count"),
        21
    );
    for hosted in stores.directory.list_addresses(abc.id).await.expect("list") {
        assert_eq!(
            stores
                .mail
                .list_folders(hosted.id)
                .await
                .expect("folders")
                .len(),
            6
        );
    }
}

pub async fn reopen_after_close_keeps_everything_and_counters_continue<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let stores = h.stores().clone();
    let (org, abc) = service(&stores, "abc.xyz", 10).await;
    stores
        .directory
        .add_alias_domain(abc.id, &domain("alias.xyz"))
        .await
        .expect("alias domain");
    let toto = mailbox(&stores, &abc, "toto").await;
    let alias = stores
        .directory
        .add_alias(toto.id, &local("contact"))
        .await
        .expect("alias");
    let user = stores
        .directory
        .create_user(NewUser {
            login: address("jane@personal.example"),
            display_name: "Jane".to_owned(),
            password_hash: "$argon2id$x".to_owned(),
            phone: None,
            recovery_email: None,
        })
        .await
        .expect("user");
    stores
        .directory
        .grant_access(user.id, toto.id, Permissions::ALL, None)
        .await
        .expect("grant");
    stores
        .directory
        .set_address_password(toto.id, "$argon2id$new")
        .await
        .expect("password");
    for n in 1..=3 {
        deliver(&stores, &format!("m{n}"), &[&toto]).await;
    }
    let inbox = stores
        .mail
        .folder_by_name(toto.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX");
    let seen = Flags::system(SystemFlags::SEEN.union(SystemFlags::DELETED));
    stores
        .mail
        .set_flags(inbox.id, &UidSet::single(3), FlagOp::Add, &seen, None)
        .await
        .expect("store");
    stores.mail.expunge(inbox.id, None).await.expect("expunge");
    let folders = stores.mail.list_folders(toto.id).await.expect("folders");
    let messages = stores
        .mail
        .list_messages(inbox.id, &UidSet::all())
        .await
        .expect("list");
    let service_before = stores.directory.service(abc.id).await.expect("lookup");
    let toto_before = stores.directory.address(toto.id).await.expect("lookup");
    drop(stores);

    h.reopen().await;
    let stores = h.stores();
    let dir = &stores.directory;
    assert_eq!(dir.org(org.id).await.expect("lookup"), Some(org));
    assert_eq!(dir.service(abc.id).await.expect("lookup"), service_before);
    assert_eq!(dir.address(toto.id).await.expect("lookup"), toto_before);
    assert_eq!(
        dir.list_aliases(toto.id).await.expect("aliases"),
        vec![alias]
    );
    assert_eq!(dir.user(user.id).await.expect("lookup"), Some(user.clone()));
    assert_eq!(dir.user_access(user.id).await.expect("access").len(), 1);
    assert_eq!(
        stores.mail.list_folders(toto.id).await.expect("folders"),
        folders
    );
    assert_eq!(
        stores
            .mail
            .list_messages(inbox.id, &UidSet::all())
            .await
            .expect("list"),
        messages
    );
    assert_eq!(
        stores.mail.read_message(inbox.id, 2).await.expect("read"),
        message("m2", "Hello.").0
    );

    // Counters carry on where they were: UIDs, MODSEQ, UIDVALIDITY, epochs.
    let before = stores
        .mail
        .folder(inbox.id)
        .await
        .expect("lookup")
        .expect("INBOX");
    let stored = deliver(stores, "m4", &[&toto]).await;
    assert_eq!(stored[0].uid, 4);
    let after = stores
        .mail
        .folder(inbox.id)
        .await
        .expect("lookup")
        .expect("INBOX");
    assert_eq!(after.highest_modseq, before.highest_modseq + 1);
    let lists = stores
        .mail
        .create_folder(toto.id, "Lists")
        .await
        .expect("create");
    assert!(folders.iter().all(|f| f.uid_validity != lists.uid_validity));
    assert_eq!(
        dir.set_address_password(toto.id, "$argon2id$3")
            .await
            .expect("password"),
        2
    );
    assert_eq!(
        dir.set_user_password(user.id, "$argon2id$3")
            .await
            .expect("password"),
        1
    );
}

pub async fn second_store_on_same_folder_waits_instead_of_failing<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 100).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    // What the admin CLI does while the server runs: its own store on the same data folder.
    let other = h.open_another().await;
    let target = move |_| vec![DeliveryTarget::inbox(toto.id)];
    let (ours, theirs) = tokio::join!(
        deliver_concurrently(&h.stores().mail, "server", 40, target),
        deliver_concurrently(&other.mail, "cli", 40, target),
    );
    let creations: Vec<_> = (0..10)
        .map(|n| {
            let directory = other.directory.clone();
            let new = new_address(&abc, &format!("cli{n}"), AddressKind::Mailbox);
            tokio::spawn(async move { directory.create_address(new).await })
        })
        .collect();
    for task in creations {
        task.await
            .expect("task")
            .expect("created from the second store");
    }
    let all: Vec<_> = ours.into_iter().chain(theirs).collect();
    let per_folder = uids_per_folder(&all);
    assert_eq!(per_folder.values().map(Vec::len).sum::<usize>(), 80);
    // Each store sees the other's writes at once (the server never serves stale data).
    assert_eq!(
        h.stores()
            .directory
            .address_count(abc.id)
            .await
            .expect("count"),
        11
    );
    let inbox = other
        .mail
        .folder_by_name(toto.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX");
    assert_eq!(
        h.stores()
            .mail
            .status(inbox.id)
            .await
            .expect("status")
            .messages,
        80
    );
    other.close().await;
}

pub async fn writes_after_close_fail_cleanly<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let closed = h.close().await;
    assert!(matches!(
        closed.directory.create_org("Late").await,
        Err(StoreError::Backend { .. })
    ));
    let (raw, index) = message("late", "Too late.");
    let targets = [DeliveryTarget::inbox(toto.id)];
    let late = closed
        .mail
        .deliver(&raw, &index, &targets, &Flags::none(), DATE)
        .await;
    assert!(matches!(late, Err(StoreError::Backend { .. })), "{late:?}");
    // Nothing was half-done: reopened, the store has neither.
    let stores = backend.open(h.dir()).await;
    assert_eq!(
        stores.directory.org_by_name("Late").await.expect("lookup"),
        None
    );
    let inbox = stores
        .mail
        .folder_by_name(toto.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX");
    assert_eq!(
        stores.mail.status(inbox.id).await.expect("status").messages,
        0
    );
    stores.close().await;
}
