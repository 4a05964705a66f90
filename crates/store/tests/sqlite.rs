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
}

conformance!(crate::Sqlite);

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
