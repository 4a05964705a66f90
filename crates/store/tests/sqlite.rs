//! The store conformance suite against the embedded SQLite backend.

#[macro_use]
mod suite;

use std::path::Path;

use postwerk_store::Stores;
use suite::Backend;

/// Opens the embedded store in the test's data folder.
pub struct Sqlite;

impl suite::Backend for Sqlite {
    async fn open(&self, dir: &Path) -> Stores {
        postwerk_store::open_sqlite(dir)
            .await
            .expect("open the SQLite store")
    }

    async fn inline_contents(&self, dir: &Path) -> usize {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM content_bodies")
            .fetch_one(&mut database(dir).await)
            .await
            .expect("count inline contents");
        usize::try_from(count).expect("a count")
    }
}

/// A connection of its own to the database of the data folder `dir` (WAL lets it run beside
/// an open store).
async fn database(dir: &Path) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join(postwerk_store::DATABASE_FILE))
        .connect()
        .await
        .expect("open the database")
}

conformance!(crate::Sqlite);

/// The embedded store with a folder cache of this many octets: 0 (none), or so small that
/// folders fall out of it, or never fit, as the tests add messages.
pub struct SqliteCache(usize);

impl suite::Backend for SqliteCache {
    async fn open(&self, dir: &Path) -> Stores {
        let options = postwerk_store::SqliteOptions {
            cache_bytes: self.0,
        };
        postwerk_store::open_sqlite_with(dir, &options)
            .await
            .expect("open the SQLite store")
    }

    async fn inline_contents(&self, dir: &Path) -> usize {
        Sqlite.inline_contents(dir).await
    }
}

/// The fetch views are the same whatever the cache holds: nothing, or a few messages' worth.
mod views_with_small_caches {
    use super::*;

    macro_rules! with_budgets {
        ($($test:ident),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    for budget in [0, 1500, 4000] {
                        suite::views::$test(&SqliteCache(budget)).await;
                    }
                }
            )*
        };
    }

    with_budgets!(
        fetch_view_matches_listed_metas_and_rendered_indexes,
        fetch_view_follows_every_change_exactly,
        fetch_view_sees_what_another_store_on_the_same_folder_wrote,
        select_view_agrees_before_and_after_the_folder_is_cached,
    );
}

/// The SQLite files the documentation promises are where it says.
#[tokio::test]
async fn sqlite_layout_in_data_folder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let data = dir.path().join("not/yet/there");
    let stores = postwerk_store::open_sqlite(&data)
        .await
        .expect("open creates the folder");
    assert!(data.join(postwerk_store::DATABASE_FILE).is_file());
    assert!(data.join(postwerk_store::BLOB_FOLDER).is_dir());
    assert!(data.join(postwerk_store::SEARCH_DATABASE_FILE).is_file());
    stores.close().await;
}

/// The search file is derived data: removed while the store is closed, it is rebuilt from the
/// messages, and searches are exact while that happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_file_removed_is_rebuilt() {
    let mut h = suite::Harness::new(&Sqlite).await;
    let (_, abc) = suite::service(h.stores(), "abc.xyz", 10).await;
    let toto = suite::mailbox(h.stores(), &abc, "toto").await;
    for n in 0..30 {
        let (raw, index) = suite::message(&format!("m{n}"), &format!("Kiwi crate {n:02}."));
        h.stores()
            .mail
            .deliver(
                &raw,
                &index,
                &[postwerk_store::DeliveryTarget::inbox(toto.id)],
                &postwerk_store::Flags::none(),
                suite::DATE,
            )
            .await
            .expect("deliver");
    }
    suite::search::indexed(h.stores()).await;
    let file = h.dir().join(postwerk_store::SEARCH_DATABASE_FILE);
    let mut reopened = h.close().await;
    drop(reopened);
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.clone().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(&name);
    }
    assert!(!file.exists());
    reopened = Sqlite.open(h.dir()).await;
    assert!(file.is_file(), "created again at open");
    let inbox = reopened
        .mail
        .folder_by_name(toto.id, "INBOX")
        .await
        .expect("lookup")
        .expect("INBOX")
        .id;
    let all: Vec<u32> = (1..=30).collect();
    assert_eq!(
        reopened
            .mail
            .search_text(inbox, "kiwi")
            .await
            .expect("search"),
        all
    );
    suite::search::indexed(&reopened).await;
    assert_eq!(
        reopened
            .mail
            .search_text(inbox, "kiwi")
            .await
            .expect("search"),
        all
    );
    assert_eq!(
        reopened
            .mail
            .search_text(inbox, "crate 17")
            .await
            .expect("search"),
        vec![18]
    );
    reopened.close().await;
}

// ---- Inline contents (migration 5): contents up to `INLINE_CONTENT_MAX` octets live in the
// database, larger ones in blob files; every read returns the same bytes either way.

/// Deliver `raw` to the INBOX of `to`; the folder and UID of the new message.
async fn deliver_raw(
    stores: &Stores,
    raw: &[u8],
    to: &postwerk_model::HostedAddress,
) -> (postwerk_model::FolderId, u32) {
    let index = postwerk_message::MessageIndex::parse(raw);
    let stored = stores
        .mail
        .deliver(
            raw,
            &index,
            &[postwerk_store::DeliveryTarget::inbox(to.id)],
            &postwerk_store::Flags::none(),
            suite::DATE,
        )
        .await
        .expect("deliver");
    (stored[0].folder, stored[0].uid)
}

/// The folder `name` of `mailbox`.
async fn folder(
    stores: &Stores,
    mailbox: &postwerk_model::HostedAddress,
    name: &str,
) -> postwerk_store::Folder {
    stores
        .mail
        .folder_by_name(mailbox.id, name)
        .await
        .expect("lookup")
        .expect("folder")
}

/// Read a message back through every read path that returns or derives from its bytes.
async fn assert_reads_back(
    stores: &Stores,
    folder: postwerk_model::FolderId,
    uid: u32,
    raw: &[u8],
) {
    let set = postwerk_store::UidSet::single(uid);
    assert_eq!(
        stores.mail.read_message(folder, uid).await.expect("read"),
        raw,
        "byte-identical"
    );
    let listed = stores.mail.list_messages(folder, &set).await.expect("list");
    assert_eq!(listed[0].size, u64::try_from(raw.len()).expect("size"));
    assert_eq!(listed[0].blob, postwerk_store::BlobId::of(raw));
    let indexes = stores
        .mail
        .message_indexes(folder, &set)
        .await
        .expect("indexes");
    assert_eq!(
        indexes[0].1.summary,
        postwerk_message::MessageIndex::parse(raw).summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_message_is_stored_inline_without_a_blob_file() {
    let h = suite::Harness::new(&Sqlite).await;
    let (_, abc) = suite::service(h.stores(), "abc.xyz", 10).await;
    let toto = suite::mailbox(h.stores(), &abc, "toto").await;
    // Exactly at the threshold, with octets a text round trip would damage.
    let (mut raw, _) = suite::message("small", "Bytes: \u{e9}\r\n");
    raw.extend([0x00, 0xff, 0x80, b'\r', b'\n']);
    raw.resize(postwerk_store::INLINE_CONTENT_MAX, b'z');
    let (folder, uid) = deliver_raw(h.stores(), &raw, &toto).await;
    assert!(h.blob_files().is_empty(), "no blob file");
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 1);
    assert_reads_back(h.stores(), folder, uid, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_message_still_gets_a_blob_file() {
    let h = suite::Harness::new(&Sqlite).await;
    let (_, abc) = suite::service(h.stores(), "abc.xyz", 10).await;
    let toto = suite::mailbox(h.stores(), &abc, "toto").await;
    let (mut raw, _) = suite::message("large", "Body.");
    raw.resize(postwerk_store::INLINE_CONTENT_MAX + 1, b'z');
    let (folder, uid) = deliver_raw(h.stores(), &raw, &toto).await;
    let files = h.blob_files();
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read(&files[0]).expect("blob file"), raw);
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 0);
    assert_reads_back(h.stores(), folder, uid, &raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_and_file_contents_are_deduplicated_shared_and_collected() {
    let mut h = suite::Harness::new(&Sqlite).await;
    let (_, abc) = suite::service(h.stores(), "abc.xyz", 10).await;
    let toto = suite::mailbox(h.stores(), &abc, "toto").await;
    let titi = suite::mailbox(h.stores(), &abc, "titi").await;
    let (small, _) = suite::message("small", "Small body.");
    let (large, _) = suite::message("large", &suite::large_body());
    // The same bytes twice, to two mailboxes: one content of each kind.
    for to in [&toto, &titi] {
        deliver_raw(h.stores(), &small, to).await;
        deliver_raw(h.stores(), &large, to).await;
    }
    assert_eq!(h.blob_files().len(), 1);
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 1);
    let toto_inbox = folder(h.stores(), &toto, "INBOX").await;
    let titi_inbox = folder(h.stores(), &titi, "INBOX").await;
    // A copy shares the content row, whichever its kind.
    let archive = folder(h.stores(), &toto, "Archive").await;
    h.stores()
        .mail
        .copy_messages(toto_inbox.id, &postwerk_store::UidSet::all(), archive.id)
        .await
        .expect("copy");
    assert_eq!(h.stored_contents().await, 2);
    assert_reads_back(h.stores(), archive.id, 1, &small).await;
    assert_reads_back(h.stores(), archive.id, 2, &large).await;
    // Expunging toto's INBOX collects nothing: the copies and titi still use both contents.
    let deleted = postwerk_store::Flags::system(postwerk_store::SystemFlags::DELETED);
    for folder in [toto_inbox.id, archive.id, titi_inbox.id] {
        h.stores()
            .mail
            .set_flags(
                folder,
                &postwerk_store::UidSet::all(),
                postwerk_store::FlagOp::Add,
                &deleted,
                None,
            )
            .await
            .expect("flag");
    }
    h.stores()
        .mail
        .expunge(toto_inbox.id, None)
        .await
        .expect("expunge");
    h.stores()
        .mail
        .expunge(archive.id, None)
        .await
        .expect("expunge");
    assert_eq!(h.stored_contents().await, 2);
    assert_reads_back(h.stores(), titi_inbox.id, 1, &small).await;
    assert_reads_back(h.stores(), titi_inbox.id, 2, &large).await;
    // ADDR-8: deleting the last mailbox that uses them removes both kinds.
    h.stores()
        .directory
        .delete_addresses(&[titi.id])
        .await
        .expect("delete");
    assert!(h.blob_files().is_empty(), "the file is removed");
    assert_eq!(
        Sqlite.inline_contents(h.dir()).await,
        0,
        "the body is removed"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contents")
        .fetch_one(&mut database(h.dir()).await)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    // The same bytes again are stored again, each the same way as before.
    deliver_raw(h.stores(), &small, &toto).await;
    deliver_raw(h.stores(), &large, &toto).await;
    assert_eq!(h.blob_files().len(), 1);
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 1);
    h.reopen().await;
    assert_reads_back(h.stores(), toto_inbox.id, 3, &small).await;
    assert_reads_back(h.stores(), toto_inbox.id, 4, &large).await;
}

/// A small content stored before migration 5 is a blob file with no inline body. Made here by
/// moving an inline body out to its file while the store is closed, which leaves exactly the
/// rows and the file an older data folder has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_stored_as_a_file_before_inline_contents_still_reads() {
    let mut h = suite::Harness::new(&Sqlite).await;
    let (_, abc) = suite::service(h.stores(), "abc.xyz", 10).await;
    let toto = suite::mailbox(h.stores(), &abc, "toto").await;
    let (old, _) = suite::message("old", "Stored as a file.");
    let (adopted, _) = suite::message("adopted", "Its file went away.");
    let (folder, first) = deliver_raw(h.stores(), &old, &toto).await;
    let (_, second) = deliver_raw(h.stores(), &adopted, &toto).await;
    let stores = h.close().await;
    drop(stores);
    let blobs = postwerk_store::FsBlobStore::open(&h.dir().join(postwerk_store::BLOB_FOLDER))
        .expect("blobs");
    {
        use postwerk_store::BlobStore;
        let mut db = database(h.dir()).await;
        for raw in [&old, &adopted] {
            blobs.put(raw).await.expect("put");
        }
        sqlx::query("DELETE FROM content_bodies")
            .execute(&mut db)
            .await
            .expect("delete bodies");
        // `adopted`: a file removed by a collection that crashed before removing the rows.
        blobs
            .remove(&postwerk_store::BlobId::of(&adopted))
            .await
            .expect("remove");
    }
    h.reopen().await;
    assert_eq!(h.blob_files().len(), 1);
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 0);
    assert_reads_back(h.stores(), folder, first, &old).await;
    // The same bytes delivered again share the file content: no inline copy of the same hash.
    let (_, again) = deliver_raw(h.stores(), &old, &toto).await;
    assert_eq!(h.blob_files().len(), 1);
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 0);
    assert_reads_back(h.stores(), folder, again, &old).await;
    // A known content whose file is gone takes the delivered bytes inline.
    let (_, back) = deliver_raw(h.stores(), &adopted, &toto).await;
    assert_eq!(Sqlite.inline_contents(h.dir()).await, 1);
    assert_reads_back(h.stores(), folder, second, &adopted).await;
    assert_reads_back(h.stores(), folder, back, &adopted).await;
    // Expunging everything removes the file and the inline body.
    let deleted = postwerk_store::Flags::system(postwerk_store::SystemFlags::DELETED);
    h.stores()
        .mail
        .set_flags(
            folder,
            &postwerk_store::UidSet::all(),
            postwerk_store::FlagOp::Add,
            &deleted,
            None,
        )
        .await
        .expect("flag");
    h.stores()
        .mail
        .expunge(folder, None)
        .await
        .expect("expunge");
    assert_eq!(h.stored_contents().await, 0);
}
