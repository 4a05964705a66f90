//! The store conformance suite against the embedded SQLite backend.

#[macro_use]
mod suite;

use std::path::Path;

use postwerk_store::Stores;

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
    stores.close().await;
}
