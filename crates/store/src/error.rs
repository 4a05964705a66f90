//! The one error type of the crate.

use std::path::PathBuf;

use postwerk_model::DirectoryError;

/// Why a store operation did not happen.
///
/// The variants follow the error classes of STYLE.md: `NotFound`, `Conflict`, `Rule` and
/// `Refused` are *refusals* (the caller asked for something the data does not allow; show the
/// sentence to the user), `Backend` and `Io` are *our fault* (log at error level, answer with a
/// temporary failure). Whatever the variant, a failed write has changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing named by the caller does not exist (an id that was deleted meanwhile, an
    /// unknown folder). The sentence names it.
    #[error("{0}")]
    NotFound(String),
    /// The write would create a duplicate: one sentence for a human, such as "the address
    /// toto@abc.xyz already exists".
    #[error("{0}")]
    Conflict(String),
    /// A rule of the domain model refused the write (address quota reached, 51st alias, …). The
    /// model's error passes through untouched so the CLI prints its sentence.
    #[error(transparent)]
    Rule(#[from] DirectoryError),
    /// The write is valid in itself but the state of the store forbids it (deleting INBOX,
    /// deleting a folder that has subfolders). One sentence for a human.
    #[error("{0}")]
    Refused(String),
    /// The database failed or returned something we cannot read: our fault, never the
    /// caller's. `context` says what we were doing.
    #[error("storage backend failure while {context}: {detail}")]
    Backend {
        /// What the store was doing, e.g. "committing a group of writes".
        context: &'static str,
        /// The backend's own message.
        detail: String,
    },
    /// The disk (or the file system quota) of the data folder is full: a temporary failure
    /// the protocols name as such (`452 4.3.1`, IMAP `NO [LIMIT]`), and that ends by itself
    /// when space returns. Like every failed write, it changed nothing.
    #[error("the data folder's storage is full while {context}")]
    StorageFull {
        /// What the store was doing, e.g. "storing a message's content".
        context: String,
    },
    /// A file of the data folder could not be read or written.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// A backend failure with its context.
    pub(crate) fn backend(context: &'static str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            context,
            detail: detail.to_string(),
        }
    }

    /// An I/O failure on `path`; a full disk or file system quota is [`StoreError::StorageFull`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        let path = path.into();
        if is_full(&source) {
            return StoreError::StorageFull {
                context: format!("writing {}", path.display()),
            };
        }
        StoreError::Io { path, source }
    }

    /// Whether the failure is a full disk: the caller answers a temporary refusal that says
    /// so, and service resumes once space returns.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, StoreError::StorageFull { .. })
    }

    /// True for the refusal classes (the caller's request was wrong for the data), false for
    /// failures that are our fault. Protocol adapters use it to pick a permanent or a temporary
    /// reply.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::Conflict(_)
                | StoreError::Rule(_)
                | StoreError::Refused(_)
        )
    }
}

/// Attach a context to a backend error, so logs say what the store was doing.
pub(crate) trait Context<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| from_sqlx(context, e))
    }
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| {
            if rusqlite_is_full(&e) {
                StoreError::StorageFull {
                    context: context.to_string(),
                }
            } else {
                StoreError::backend(context, e)
            }
        })
    }
}

/// Whether a statement run on the writer's handle failed because the disk is full.
pub(crate) fn rusqlite_is_full(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// SQLite's primary result code for a full disk (`SQLITE_FULL`, "database or disk is full").
const SQLITE_FULL: i64 = 13;

/// Whether the database failed because the disk is full.
pub(crate) fn sqlx_is_full(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(io) => is_full(io),
        // Extended result codes keep the primary code in their low byte.
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_FULL),
        _ => false,
    }
}

/// A backend error, or [`StoreError::StorageFull`] when the database says the disk is full.
pub(crate) fn from_sqlx(context: &'static str, error: sqlx::Error) -> StoreError {
    if sqlx_is_full(&error) {
        StoreError::StorageFull {
            context: context.to_string(),
        }
    } else {
        StoreError::backend(context, error)
    }
}

/// ENOSPC, or EDQUOT (a file system quota on the data folder).
fn is_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
