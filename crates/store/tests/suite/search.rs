//! Full-text search while the index is built after the commits: exact at once, after the
//! indexer caught up, across deletions and restarts. No check depends on timing: the searches
//! are right whether or not the indexer has run, and `Stores::wait_indexed` says when it has.

use std::time::Duration;

use postwerk_model::FolderId;
use postwerk_store::{FlagOp, MailStore, SystemFlags, UidSet};

use super::*;

/// Generous: the indexer of a few messages takes milliseconds, but the test machine is shared.
const DEADLINE: Duration = Duration::from_secs(60);

/// Wait until the index holds everything committed, failing the test past the deadline.
pub async fn indexed(stores: &Stores) {
    tokio::time::timeout(DEADLINE, stores.wait_indexed())
        .await
        .expect("the indexer caught up before the deadline")
        .expect("the indexer runs");
}

async fn inbox(mail: &dyn MailStore, mailbox: &HostedAddress) -> FolderId {
    mail.folder_by_name(mailbox.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX")
        .id
}

async fn search(mail: &dyn MailStore, folder: FolderId, needle: &str) -> Vec<u32> {
    mail.search_text(folder, needle).await.expect("search")
}

async fn deliver_text(stores: &Stores, to: &HostedAddress, subject: &str, body: &str) {
    let (raw, index) = message(subject, body);
    stores
        .mail
        .deliver(
            &raw,
            &index,
            &[DeliveryTarget::inbox(to.id)],
            &Flags::none(),
            DATE,
        )
        .await
        .expect("deliver");
}

pub async fn search_finds_a_delivery_at_once_and_after_indexing<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let inbox = inbox(mail, &toto).await;
    for n in 0..20 {
        deliver_text(
            stores,
            &toto,
            &format!("batch {n}"),
            &format!("Parcel number {n:03}."),
        )
        .await;
        // Straight after the answer, indexed or not.
        assert_eq!(
            search(mail, inbox, &format!("NUMBER {n:03}")).await,
            vec![n + 1]
        );
    }
    assert_eq!(
        search(mail, inbox, "parcel").await,
        (1..=20).collect::<Vec<_>>()
    );
    indexed(stores).await;
    assert_eq!(
        search(mail, inbox, "parcel").await,
        (1..=20).collect::<Vec<_>>()
    );
    assert_eq!(search(mail, inbox, "number 007").await, vec![8]);
    assert_eq!(
        search(mail, inbox, "07").await,
        vec![8],
        "shorter than a trigram"
    );
    assert!(search(mail, inbox, "number 020").await.is_empty());
    // The index comes back from the store without its search text, which only search reads.
    let indexes = mail
        .message_indexes(inbox, &UidSet::single(3))
        .await
        .expect("indexes");
    let mut expected = message("batch 2", "Parcel number 002.").1;
    expected.search_text.clear();
    assert_eq!(indexes[0].1, expected);
}

pub async fn search_forgets_expunged_and_deleted_messages<B: Backend>(backend: &B) {
    let h = Harness::new(backend).await;
    let stores = h.stores();
    let mail = &*stores.mail;
    let (_, abc) = service(stores, "abc.xyz", 10).await;
    let toto = mailbox(stores, &abc, "toto").await;
    let titi = mailbox(stores, &abc, "titi").await;
    let toto_inbox = inbox(mail, &toto).await;
    let titi_inbox = inbox(mail, &titi).await;
    // One content for both mailboxes, one content of toto's only.
    let (raw, index) = message("shared", "A shared avocado.");
    mail.deliver(
        &raw,
        &index,
        &[
            DeliveryTarget::inbox(toto.id),
            DeliveryTarget::inbox(titi.id),
        ],
        &Flags::none(),
        DATE,
    )
    .await
    .expect("deliver");
    deliver_text(stores, &toto, "own", "Only toto's avocado.").await;
    indexed(stores).await;
    assert_eq!(search(mail, toto_inbox, "avocado").await, vec![1, 2]);
    assert_eq!(search(mail, titi_inbox, "avocado").await, vec![1]);

    let deleted = Flags::system(SystemFlags::DELETED);
    for folder in [toto_inbox, titi_inbox] {
        mail.set_flags(folder, &UidSet::single(1), FlagOp::Add, &deleted, None)
            .await
            .expect("flag");
        mail.expunge(folder, None).await.expect("expunge");
    }
    // At once, and once the indexer has purged the collected content.
    assert_eq!(search(mail, toto_inbox, "avocado").await, vec![2]);
    assert!(search(mail, titi_inbox, "avocado").await.is_empty());
    indexed(stores).await;
    assert_eq!(search(mail, toto_inbox, "avocado").await, vec![2]);

    // A deleted folder: its messages are gone from the mailbox's searches, and the same bytes
    // delivered again are found as a new message.
    let archive = mail
        .create_folder(toto.id, "Projects")
        .await
        .expect("folder");
    let moved = mail
        .move_messages(toto_inbox, &UidSet::single(2), archive.id)
        .await
        .expect("move");
    assert_eq!(moved.uids.len(), 1);
    assert_eq!(search(mail, archive.id, "only toto").await, vec![1]);
    assert!(search(mail, toto_inbox, "avocado").await.is_empty());
    mail.delete_folder(archive.id).await.expect("delete folder");
    assert!(search(mail, toto_inbox, "avocado").await.is_empty());
    deliver_text(stores, &toto, "own", "Only toto's avocado.").await;
    assert_eq!(search(mail, toto_inbox, "only toto").await, vec![3]);
    indexed(stores).await;
    assert_eq!(search(mail, toto_inbox, "only toto").await, vec![3]);

    // A deleted mailbox takes its messages along; the others keep theirs.
    stores
        .directory
        .delete_addresses(&[titi.id])
        .await
        .expect("delete titi");
    indexed(stores).await;
    assert_eq!(search(mail, toto_inbox, "avocado").await, vec![3]);
}

pub async fn search_index_resumes_after_reopen<B: Backend>(backend: &B) {
    let mut h = Harness::new(backend).await;
    let (_, abc) = service(h.stores(), "abc.xyz", 10).await;
    let toto = mailbox(h.stores(), &abc, "toto").await;
    let folder = inbox(&*h.stores().mail, &toto).await;
    for n in 0..10 {
        deliver_text(
            h.stores(),
            &toto,
            &format!("before {n}"),
            "Written before the restart.",
        )
        .await;
    }
    // Closed at once: the indexer may be anywhere; nothing committed is lost.
    h.reopen().await;
    let expected: Vec<u32> = (1..=10).collect();
    assert_eq!(
        search(&*h.stores().mail, folder, "before the restart").await,
        expected
    );
    for n in 0..5 {
        deliver_text(
            h.stores(),
            &toto,
            &format!("after {n}"),
            "Written after the restart.",
        )
        .await;
    }
    assert_eq!(
        search(&*h.stores().mail, folder, "after the restart").await,
        vec![11, 12, 13, 14, 15]
    );
    indexed(h.stores()).await;
    h.reopen().await;
    // Everything was indexed before the second restart; searches are the same.
    let mail = &*h.stores().mail;
    assert_eq!(search(mail, folder, "before the restart").await, expected);
    assert_eq!(
        search(mail, folder, "written").await,
        (1..=15).collect::<Vec<_>>()
    );
    indexed(h.stores()).await;
    assert_eq!(
        search(mail, folder, "written").await,
        (1..=15).collect::<Vec<_>>()
    );
}
