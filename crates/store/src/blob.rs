//! Message contents as content-addressed blobs.
//!
//! A blob is named by the SHA-256 of its bytes, so identical content (one message delivered to
//! fifty mailboxes, a COPY) is stored once. The metadata store decides when a blob is no longer
//! referenced; the blob store only puts, reads and removes.
//!
//! RCV-12: `put` returns only once the bytes are on stable storage, and callers put the blob
//! *before* committing the metadata that references it, so a committed message always has its
//! content.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// The name of a blob: the lowercase hex SHA-256 of its content (64 characters).
///
/// Constructors refuse anything else, so a `BlobId` can always be turned into a file path
/// without escaping the blob folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    /// The id of `content`.
    pub fn of(content: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(content)))
    }

    /// Parse a stored id; `None` unless it is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<BlobId> {
        let valid =
            text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| BlobId(text.to_owned()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where message contents live. Files on disk today; an S3-compatible bucket can implement the
/// same trait later.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Store `content` durably and return its id. Storing content that is already there is
    /// cheap and returns the same id.
    async fn put(&self, content: &[u8]) -> Result<BlobId, StoreError>;

    /// The whole content of a blob; `NotFound` if there is none.
    async fn read(&self, id: &BlobId) -> Result<Vec<u8>, StoreError>;

    /// Whether the blob is present.
    async fn exists(&self, id: &BlobId) -> Result<bool, StoreError>;

    /// Remove a blob durably. Removing a blob that is not there succeeds.
    async fn remove(&self, id: &BlobId) -> Result<(), StoreError>;

    /// Remove many blobs durably (a deleted mailbox). Implementations batch the syncs.
    async fn remove_many(&self, ids: &[BlobId]) -> Result<(), StoreError> {
        for id in ids {
            self.remove(id).await?;
        }
        Ok(())
    }
}

/// Blobs as files under a folder: `<root>/ab/cdef…` (the first two hex digits as a
/// sub-folder, so no folder holds more than a few thousand files per million messages).
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

/// Temporary files older than this at start-up are leftovers of a crash. Younger ones may be
/// in flight in another process sharing the data folder (the admin CLI), so they are left.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);

/// Makes temporary file names unique within the process (the pid makes them unique between
/// processes).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FsBlobStore {
    /// Open (creating it if needed) the blob folder `root`, and remove temporary files left by
    /// a crash.
    pub fn open(root: &Path) -> Result<FsBlobStore, StoreError> {
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let store = FsBlobStore {
            root: root.to_owned(),
            tmp,
        };
        store.remove_stale_tmp()?;
        Ok(store)
    }

    /// The file that holds blob `id` (whether or not it exists). Lets the IMAP server stream a
    /// large body instead of reading it whole.
    pub fn path(&self, id: &BlobId) -> PathBuf {
        let (dir, file) = id.as_str().split_at(2);
        self.root.join(dir).join(file)
    }

    fn remove_stale_tmp(&self) -> Result<(), StoreError> {
        let entries = fs::read_dir(&self.tmp).map_err(|e| StoreError::io(&self.tmp, e))?;
        let now = SystemTime::now();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&self.tmp, e))?;
            let modified = entry.metadata().and_then(|m| m.modified());
            let stale = match modified {
                Ok(modified) => now.duration_since(modified).unwrap_or_default() > STALE_TMP_AGE,
                Err(_) => false,
            };
            if stale {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "removed stale blob temp file")
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(path, e)),
                }
            }
        }
        Ok(())
    }

    /// The blocking part of `put`: hash, then write to a temporary file, fsync it, rename it
    /// into place and fsync the folder, so that after a crash the file is either absent or
    /// complete, never partial.
    fn put_blocking(&self, content: &[u8]) -> Result<BlobId, StoreError> {
        let id = BlobId::of(content);
        let path = self.path(&id);
        if path.exists() {
            // Same name, same content: the file at the final path was complete when renamed.
            return Ok(id);
        }
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            // The new sub-folder's own entry must be durable too.
            sync_dir(&self.root)?;
        }
        let tmp = self.tmp.join(format!(
            "{}.{}.tmp",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = write_synced(&tmp, content)
            .and_then(|()| fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e)))
            .and_then(|()| sync_dir(&dir));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| id)
    }

    fn remove_blocking(&self, ids: &[BlobId]) -> Result<(), StoreError> {
        let mut dirs = BTreeSet::new();
        for id in ids {
            let path = self.path(id);
            match fs::remove_file(&path) {
                Ok(()) => {
                    dirs.insert(path.parent().unwrap_or(&self.root).to_owned());
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
        // Without this a crash could bring the files back as orphans nobody removes. One sync
        // per folder, not per file: a deleted mailbox may free thousands of blobs.
        dirs.iter().try_for_each(|dir| sync_dir(dir))
    }
}

fn write_synced(path: &Path, content: &[u8]) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    file.write_all(content)
        .map_err(|e| StoreError::io(path, e))?;
    file.sync_all().map_err(|e| StoreError::io(path, e))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, content: &[u8]) -> Result<BlobId, StoreError> {
        let store = self.clone();
        // The copies let the blocking thread own what it needs; they cost far less than the
        // fsync.
        let content = content.to_vec();
        tokio::task::spawn_blocking(move || store.put_blocking(&content))
            .await
            .map_err(|e| StoreError::backend("writing a blob", e))?
    }

    async fn read(&self, id: &BlobId) -> Result<Vec<u8>, StoreError> {
        let path = self.path(id);
        match tokio::fs::read(&path).await {
            Ok(content) => Ok(content),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(StoreError::NotFound(format!(
                "the message content {id} is missing"
            ))),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    async fn exists(&self, id: &BlobId) -> Result<bool, StoreError> {
        // A plain stat, without a thread hop: it is called inside the writer's transaction
        // (see `sqlite::mail`), where a few microseconds matter more than not blocking.
        let path = self.path(id);
        match fs::metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    async fn remove(&self, id: &BlobId) -> Result<(), StoreError> {
        self.remove_many(std::slice::from_ref(id)).await
    }

    async fn remove_many(&self, ids: &[BlobId]) -> Result<(), StoreError> {
        let store = self.clone();
        let ids = ids.to_vec();
        tokio::task::spawn_blocking(move || store.remove_blocking(&ids))
            .await
            .map_err(|e| StoreError::backend("removing blobs", e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_id_is_sha256_hex_and_parse_refuses_paths() {
        let id = BlobId::of(b"abc");
        assert_eq!(
            id.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(BlobId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "../etc/passwd",
            &"A".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
        ] {
            assert_eq!(BlobId::parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn put_is_idempotent_and_remove_is_durable_and_idempotent() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let id = store.put(b"hello").await.expect("put");
        assert_eq!(store.put(b"hello").await.expect("put again"), id);
        let path = store.path(&id);
        assert!(path.starts_with(dir.path()));
        assert_eq!(fs::read(&path).expect("file"), b"hello");
        assert_eq!(store.read(&id).await.expect("read"), b"hello");
        assert!(store.exists(&id).await.expect("exists"));
        store.remove(&id).await.expect("remove");
        assert!(!path.exists());
        store.remove(&id).await.expect("remove twice");
        assert!(matches!(
            store.read(&id).await,
            Err(StoreError::NotFound(_))
        ));
        // No temporary file is left behind.
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
            0
        );
    }
}
