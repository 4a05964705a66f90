//! SND-7: large attachments stored on the platform and sent as expiring download links.
//!
//! A link carries a random 256-bit token; the store keeps only its SHA-256 (the token has all
//! the entropy a slow hash would add), so a leaked database opens no link. The file itself is a
//! blob of the blob store; expired links are removed, with the blobs no other link or message
//! needs, by [`Webmail::purge_shared_files`] (also called after each send).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postwerk_model::AddressId;
use postwerk_store::{NewSharedFile, StoreError};
use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Upload;
use super::Webmail;
use crate::CoreError;

/// How long a download link works: 30 days.
pub const SHARED_FILE_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// The length of a link's token: 32 random octets in unpadded URL-safe base64.
const TOKEN_LEN: usize = 43;

/// A file behind a download link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedFile {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// A file just shared: its link and the line the message says it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SharedLink {
    pub url: String,
    /// `<file name> (<size>): <url> — available until <date>`.
    pub line: String,
}

impl Webmail {
    /// The file behind the token of a download link, if the link exists and has not expired.
    pub async fn shared_file(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<SharedFile>, CoreError> {
        // Anything but a token of ours is unknown without asking the store.
        if token.len() != TOKEN_LEN || URL_SAFE_NO_PAD.decode(token).is_err() {
            return Ok(None);
        }
        let Some(record) = self
            .manager
            .shared_file_by_hash(&token_hash(token), now)
            .await?
        else {
            return Ok(None);
        };
        let bytes = match self.blobs.read(&record.blob).await {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound(_)) => {
                tracing::warn!(blob = %record.blob, "a shared file's content is missing");
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        Ok(Some(SharedFile {
            file_name: record.file_name,
            content_type: record.content_type,
            size: record.size,
            expires_at: record.expires_at,
            bytes,
        }))
    }

    /// Removes the links expired at `now` and the stored files no remaining link (or message)
    /// needs. Answers how many stored files were removed. Called after each send; a server
    /// may also call it on a timer.
    pub async fn purge_shared_files(&self, now: i64) -> Result<usize, CoreError> {
        let removed = self.manager.delete_expired_shared_files(now).await?;
        if !removed.is_empty() {
            tracing::info!(files = removed.len(), "expired shared files removed");
        }
        Ok(removed.len())
    }

    /// Stores `file` for `mailbox` behind a new link that works until
    /// [`SHARED_FILE_LIFETIME_SECS`] after `now`.
    pub(super) async fn share(
        &self,
        mailbox: AddressId,
        file: &Upload,
        now: i64,
    ) -> Result<SharedLink, CoreError> {
        let token = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
        let expires_at = now.saturating_add(SHARED_FILE_LIFETIME_SECS);
        let size = u64::try_from(file.bytes.len()).unwrap_or(u64::MAX);
        let mut new = NewSharedFile {
            token_hash: token_hash(&token),
            mailbox,
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
            size,
            blob: self.blobs.put(&file.bytes).await?,
            created_at: now,
            expires_at,
        };
        // A purge running at the same moment may have removed identical content that an
        // expired link held; the store saw it missing, so it is put once more.
        match self.manager.put_shared_file(new.clone()).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => {
                new.blob = self.blobs.put(&file.bytes).await?;
                self.manager.put_shared_file(new).await?;
            }
            Err(error) => return Err(error.into()),
        }
        let url = format!("{}/files/{}", self.public_url, token);
        let line = format!(
            "{} ({}): {} — available until {}",
            file.file_name,
            human_size(size),
            url,
            chrono::DateTime::from_timestamp(expires_at, 0)
                .map(|date| date.format("%-d %B %Y").to_string())
                .unwrap_or_default()
        );
        Ok(SharedLink { url, line })
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A size as people read it: `900 bytes`, `12.5 MB`.
fn human_size(octets: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if octets < 1024 {
        return format!("{octets} bytes");
    }
    // Display only: the precision lost above 2^53 octets is invisible at one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = octets as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager_shows_them() {
        assert_eq!(human_size(900), "900 bytes");
        assert_eq!(human_size(12 * 1024 * 1024 + 512 * 1024), "12.5 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn only_the_digest_of_a_token_is_kept() {
        let hash = token_hash("abc");
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains("abc"));
    }
}
