//! The blob folders against the rows: files nothing references (orphans), and temporary files
//! a crash left behind. Both are removed by a repair once older than [`ORPHAN_AGE`]: a younger
//! file may belong to a write in flight in a server sharing the folder, which puts the file
//! before it commits the row (RCV-12).
//!
//! A removal re-checks, under the write lock, that nothing references the file yet: a write
//! that reuses a content checks that its file exists under the same lock (`mail::store_tx`,
//! `queue::enqueue`), so the two can never cross.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sqlx::Connection;

use super::Fsck;
use crate::error::Context;
use crate::fsck::{Check, ORPHAN_AGE};
use crate::{BlobId, StoreError};

/// Which folder a walk is about: its check, and what references a file in it.
struct Folder {
    check: Check,
    root: PathBuf,
    /// `?1` is the blob id; answers whether a row needs the file.
    referenced: &'static str,
}

/// A file of a blob folder.
#[derive(Debug)]
struct BlobFile {
    /// `None` for a temporary file.
    id: Option<BlobId>,
    path: PathBuf,
    age: Duration,
}

/// The file of blob `id` under `root`: the layout of [`crate::FsBlobStore::path`].
pub(super) fn blob_path(root: &Path, id: &BlobId) -> PathBuf {
    let (dir, file) = id.as_str().split_at(2);
    root.join(dir).join(file)
}

/// The size of the file at `path`, `None` if there is none.
pub(super) fn file_size(path: &Path) -> Result<Option<u64>, StoreError> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(meta.len())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Mailbox content files no content row needs (none with their hash, or only an inline one,
/// whose bytes are in the database) and no download link of webmail shares (SND-7: those
/// files live in the same folder).
pub(super) async fn check_mail_orphans(fsck: &mut Fsck) -> Result<(), StoreError> {
    let folder = Folder {
        check: Check::BlobFiles,
        root: fsck.blob_root(),
        referenced: "SELECT EXISTS (SELECT 1 FROM contents c WHERE c.hash = ?1 \
                     AND NOT EXISTS (SELECT 1 FROM content_bodies b WHERE b.content_id = c.id)) \
                     OR EXISTS (SELECT 1 FROM shared_files WHERE blob = ?1)",
    };
    check_orphans(fsck, &folder).await
}

/// Queue content files no queued message needs.
pub(super) async fn check_queue_orphans(fsck: &mut Fsck) -> Result<(), StoreError> {
    let folder = Folder {
        check: Check::Queue,
        root: fsck.queue_root(),
        referenced: "SELECT EXISTS (SELECT 1 FROM queue_messages WHERE blob = ?1)",
    };
    check_orphans(fsck, &folder).await
}

async fn check_orphans(fsck: &mut Fsck, folder: &Folder) -> Result<(), StoreError> {
    // Listed before the blob store opens: opening removes stale temporary files unreported.
    let files = list(&folder.root)?;
    let blobs = if fsck.repairing() {
        Some(Fsck::blob_store(&folder.root)?)
    } else {
        None
    };
    for file in files.into_iter().filter(|f| f.age > ORPHAN_AGE) {
        if let Some(id) = &file.id
            && is_referenced(&mut fsck.conn, folder.referenced, id).await?
        {
            continue;
        }
        let subject = file
            .path
            .strip_prefix(&fsck.data_dir)
            .unwrap_or(&file.path)
            .display()
            .to_string();
        let hours = file.age.as_secs() / 3600;
        let problem = match file.id {
            Some(_) => format!("nothing references this file (last written {hours} h ago)"),
            None => format!("a temporary file left by a crash {hours} h ago"),
        };
        let Some(blobs) = &blobs else {
            fsck.found(folder.check, subject, problem);
            continue;
        };
        let removed = match &file.id {
            Some(id) => remove_orphan(fsck, folder, blobs.as_ref(), id).await?,
            None => {
                remove_tmp(&file.path)?;
                true
            }
        };
        if removed {
            fsck.repaired(folder.check, subject, format!("{problem}: removed"));
        }
    }
    Ok(())
}

async fn is_referenced(
    conn: &mut sqlx::SqliteConnection,
    query: &'static str,
    id: &BlobId,
) -> Result<bool, StoreError> {
    sqlx::query_scalar(query)
        .bind(id.as_str())
        .fetch_one(conn)
        .await
        .ctx("checking a blob file's references")
}

/// Remove blob `id` if, under the write lock, nothing references it still. Whether it was
/// removed.
async fn remove_orphan(
    fsck: &mut Fsck,
    folder: &Folder,
    blobs: &dyn crate::BlobStore,
    id: &BlobId,
) -> Result<bool, StoreError> {
    const WHAT: &str = "removing an orphan blob file";
    let mut tx = fsck.conn.begin_with("BEGIN IMMEDIATE").await.ctx(WHAT)?;
    let referenced: bool = sqlx::query_scalar(folder.referenced)
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await
        .ctx(WHAT)?;
    if !referenced {
        blobs.remove(id).await?;
    }
    tx.commit().await.ctx(WHAT)?;
    Ok(!referenced)
}

/// Remove a stale temporary file. Gone already is as good: opening the blob store for the
/// repairs removes stale temporary files itself.
fn remove_tmp(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Every blob file under `root` (`<root>/ab/cdef…`) and every temporary file (`<root>/tmp/`).
/// Files of other names are not the store's and are left out.
fn list(root: &Path) -> Result<Vec<BlobFile>, StoreError> {
    let now = SystemTime::now();
    let mut files = Vec::new();
    for dir in entries(root)? {
        let name = dir.file_name().to_string_lossy().into_owned();
        let is_tmp = name == "tmp";
        if !dir.path().is_dir() || !(is_tmp || name.len() == 2) {
            continue;
        }
        for entry in entries(&dir.path())? {
            let path = entry.path();
            let id = if is_tmp {
                None
            } else {
                match BlobId::parse(&format!("{name}{}", entry.file_name().to_string_lossy())) {
                    Some(id) => Some(id),
                    None => continue,
                }
            };
            let modified = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .map_err(|e| StoreError::io(&path, e))?;
            files.push(BlobFile {
                id,
                age: now.duration_since(modified).unwrap_or_default(),
                path,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The entries of folder `dir`; none if it does not exist.
fn entries(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    read.map(|entry| entry.map_err(|e| StoreError::io(dir, e)))
        .collect()
}
