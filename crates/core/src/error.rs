//! The error of the application services: one sentence a person can act on, sorted into the
//! classes of STYLE.md so that each adapter (CLI, HTTP, protocols) picks its answer in one place.

use postwerk_model::{AddressError, DirectoryError};
use postwerk_store::StoreError;

use crate::dkim::DkimError;
use crate::password::PasswordError;

/// Why a use case did not happen. Whatever the variant, nothing was half-done.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Something the caller named does not exist ("the organization Acme does not exist").
    #[error("{0}")]
    NotFound(String),
    /// The input is malformed or contradictory (an invalid address, a password on a
    /// redirect-only address).
    #[error("{0}")]
    Invalid(String),
    /// The caller lacks the permission for this operation.
    #[error("{0}")]
    Forbidden(String),
    /// A password was refused by the policy.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The store refused (duplicate, quota, alias limit…) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A DKIM key could not be made or used (SVC-1, SND-2).
    #[error(transparent)]
    Dkim(DkimError),
}

impl CoreError {
    /// True when the caller's request was at fault (a refusal), false when we failed.
    pub fn is_refusal(&self) -> bool {
        match self {
            CoreError::Store(error) => error.is_refusal(),
            CoreError::Password(PasswordError::Hashing(_)) => false,
            CoreError::Dkim(_) => false,
            _ => true,
        }
    }

    /// Whether the data folder's disk is full: a temporary refusal that says so.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, CoreError::Store(error) if error.is_storage_full())
    }
}

impl From<AddressError> for CoreError {
    fn from(error: AddressError) -> Self {
        CoreError::Invalid(error.to_string())
    }
}

impl From<DkimError> for CoreError {
    fn from(error: DkimError) -> Self {
        match error {
            // One place for store errors, whichever path they came by.
            DkimError::Store(error) => CoreError::Store(error),
            other => CoreError::Dkim(other),
        }
    }
}

impl From<DirectoryError> for CoreError {
    fn from(error: DirectoryError) -> Self {
        CoreError::Store(StoreError::Rule(error))
    }
}
