//! What the Manager keeps besides the directory itself (SPEC §2, issue 8): API tokens, signed-in
//! sessions of user accounts, invitations (ADDR-1 b'), the sender allow/block lists of
//! mailboxes (RCV-4) and the files behind webmail's download links (SND-7).
//!
//! Secrets never reach the store: tokens, session cookies and invitation links are random
//! values of which only a SHA-256 digest is kept (they carry 256 bits of entropy, so a slow
//! hash would add nothing), and a leaked database opens nothing.

use async_trait::async_trait;
use postwerk_model::{
    AddressId, ApiTokenId, Invitation, InvitationId, LoginMode, Permissions, SenderPattern,
    SenderRule, SessionId, UserAccount, UserId,
};

use crate::{BlobId, NewUser, StoreError};

/// Whose an API token is.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenOwner {
    /// The platform operator: created with the CLI on the server's data folder, unrestricted.
    Operator,
    /// A user account: the token acts with the account's rights, never more.
    User(UserId),
}

/// What an API token may do.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Only reads (`GET`).
    Read,
    /// Everything its owner may do.
    Write,
}

impl TokenScope {
    /// The name used by the CLI, the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }

    /// Parses [`TokenScope::as_str`] names, in any case.
    pub fn parse(input: &str) -> Option<TokenScope> {
        match input.trim().to_ascii_lowercase().as_str() {
            "read" => Some(TokenScope::Read),
            "write" => Some(TokenScope::Write),
            _ => None,
        }
    }
}

/// A token to store. The secret itself is shown once to its creator and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Whose it is.
    pub owner: TokenOwner,
    /// A name the owner chose ("billing sync"), shown in lists.
    pub name: String,
    /// The public first part of the token, unique, used to find the row.
    pub prefix: String,
    /// Hex SHA-256 of the whole token.
    pub secret_hash: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// After this instant it no longer works; `None`: until revoked.
    pub expires_at: Option<i64>,
}

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Store identifier.
    pub id: ApiTokenId,
    /// Whose it is.
    pub owner: TokenOwner,
    /// Its name.
    pub name: String,
    /// The public first part of the token.
    pub prefix: String,
    /// Hex SHA-256 of the whole token.
    pub secret_hash: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if it expires.
    pub expires_at: Option<i64>,
    /// When it last authenticated a request, Unix seconds (updated at most once a minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked; a revoked token never works again.
    pub revoked_at: Option<i64>,
}

/// A session to store: a user account signed in to the Manager or webmail (ID-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSession {
    /// The account.
    pub user: UserId,
    /// Hex SHA-256 of the session cookie's value.
    pub secret_hash: String,
    /// The account's credential epoch at sign-in: a password change ends the session.
    pub credential_epoch: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the session no longer works.
    pub expires_at: i64,
    /// The client's address, for the session list.
    pub ip: Option<String>,
    /// The browser's `User-Agent`, for the session list (trimmed to 200 characters).
    pub user_agent: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Store identifier.
    pub id: SessionId,
    /// The account.
    pub user: UserId,
    /// Hex SHA-256 of the cookie's value.
    pub secret_hash: String,
    /// The account's credential epoch at sign-in.
    pub credential_epoch: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last request (updated at most once a minute).
    pub last_seen_at: i64,
    /// Unix seconds after which it no longer works.
    pub expires_at: i64,
    /// The client's address at sign-in.
    pub ip: Option<String>,
    /// The browser's `User-Agent` at sign-in.
    pub user_agent: Option<String>,
}

/// An invitation to store (ADDR-1 b').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitation {
    /// The address the invited person will use; it must hold mail.
    pub address: AddressId,
    /// Where the invitation is sent.
    pub sent_to: postwerk_model::Address,
    /// How the future account logs in.
    pub login_mode: LoginMode,
    /// Permissions granted on acceptance.
    pub permissions: Permissions,
    /// The signature template picked, if any.
    pub signature: Option<String>,
    /// Hex SHA-256 of the secret in the acceptance link.
    pub secret_hash: String,
    /// Who invited (for the audit trail); `None` for the operator.
    pub invited_by: Option<UserId>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
}

/// Who accepts an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// A new account is created with this login, name and password hash.
    NewAccount(NewUser),
    /// An existing account (signed in when accepting) takes the access.
    Existing(UserId),
}

/// A file shared behind a download link (SND-7), to store. Its content is already in the blob
/// store under `blob`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSharedFile {
    /// Hex SHA-256 of the link's token; the token itself is never stored.
    pub token_hash: String,
    /// The mailbox that shared it.
    pub mailbox: AddressId,
    /// The file name shown to whoever downloads it.
    pub file_name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Octets.
    pub size: u64,
    /// Its content in the blob store.
    pub blob: BlobId,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
}

/// A stored shared file (SND-7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFileRecord {
    /// The mailbox that shared it.
    pub mailbox: AddressId,
    /// The file name shown to whoever downloads it.
    pub file_name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Octets.
    pub size: u64,
    /// Its content in the blob store.
    pub blob: BlobId,
    /// Unix seconds after which the link no longer works.
    pub expires_at: i64,
}

/// The Manager's own records.
#[async_trait]
pub trait ManagerStore: Send + Sync {
    // ---- API tokens

    /// Stores a token. A duplicate prefix is `StoreError::Conflict` (never expected with random
    /// prefixes).
    async fn create_api_token(&self, new: NewApiToken) -> Result<ApiToken, StoreError>;

    /// The token whose public prefix is `prefix`, revoked or not.
    async fn api_token_by_prefix(&self, prefix: &str) -> Result<Option<ApiToken>, StoreError>;

    /// The tokens of `owner`, revoked ones included, newest first.
    async fn list_api_tokens(&self, owner: TokenOwner) -> Result<Vec<ApiToken>, StoreError>;

    /// Marks a token revoked at `at`; `NotFound` when no token has that id.
    async fn revoke_api_token(&self, id: ApiTokenId, at: i64) -> Result<(), StoreError>;

    /// Records that the token authenticated a request at `at`.
    async fn touch_api_token(&self, id: ApiTokenId, at: i64) -> Result<(), StoreError>;

    // ---- Sessions of user accounts (ID-1)

    /// Stores a session.
    async fn create_web_session(&self, new: NewWebSession) -> Result<WebSession, StoreError>;

    /// The session whose cookie digest is `secret_hash`, expired or not.
    async fn web_session_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<WebSession>, StoreError>;

    /// The sessions of an account, newest first.
    async fn list_web_sessions(&self, user: UserId) -> Result<Vec<WebSession>, StoreError>;

    /// Records activity: `last_seen_at` and a new `expires_at` (sliding expiry).
    async fn touch_web_session(
        &self,
        id: SessionId,
        at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// Ends a session (sign-out or revocation); `NotFound` when no session has that id.
    async fn delete_web_session(&self, id: SessionId) -> Result<(), StoreError>;

    /// Moves a session to the account's new credential epoch, so the session in which the
    /// person changed their own password goes on while every other one ends (ID-6).
    async fn set_web_session_epoch(&self, id: SessionId, epoch: u32) -> Result<(), StoreError>;

    // ---- Invitations (ADDR-1 b')

    /// Stores an invitation.
    async fn create_invitation(&self, new: NewInvitation) -> Result<Invitation, StoreError>;

    /// The invitation whose link secret digest is `secret_hash`.
    async fn invitation_by_hash(&self, secret_hash: &str)
    -> Result<Option<Invitation>, StoreError>;

    /// The invitations for an address, newest first.
    async fn list_invitations(&self, address: AddressId) -> Result<Vec<Invitation>, StoreError>;

    /// In one transaction: refuses an invitation already accepted or expired at `now`
    /// (`StoreError::Refused`, with a sentence), creates the account of
    /// [`Acceptance::NewAccount`] (`StoreError::Conflict` when the login is taken), makes the account a member
    /// of the service's organization if it is not one already, grants the invitation's access
    /// (permissions and signature) and marks the invitation accepted. Answers the account.
    async fn accept_invitation(
        &self,
        id: InvitationId,
        acceptance: Acceptance,
        now: i64,
    ) -> Result<UserAccount, StoreError>;

    // ---- Sender allow/block lists (RCV-4)

    /// Adds a rule, or changes the kind of the rule with the same pattern.
    async fn put_sender_rule(&self, rule: SenderRule) -> Result<(), StoreError>;

    /// Removes the rule with this pattern; `NotFound` when there is none.
    async fn remove_sender_rule(
        &self,
        address: AddressId,
        pattern: &SenderPattern,
    ) -> Result<(), StoreError>;

    /// The rules of a mailbox, allow rules first, then by pattern.
    async fn sender_rules(&self, address: AddressId) -> Result<Vec<SenderRule>, StoreError>;

    // ---- Shared files of webmail (SND-7)

    /// Records a shared file. Its blob must be in the blob store: checked under the write
    /// lock, so a purge of expired files (which removes blobs no row needs any more) can never
    /// take it away in between; a missing blob is `StoreError::NotFound` and the caller puts
    /// the content again. A duplicate token hash is `StoreError::Conflict`.
    async fn put_shared_file(&self, new: NewSharedFile) -> Result<(), StoreError>;

    /// The shared file whose token digest is `token_hash`, if it has not expired at `now`.
    async fn shared_file_by_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SharedFileRecord>, StoreError>;

    /// Removes the shared files expired at `now` and, in the same write, the blobs that no
    /// remaining shared file and no message content needs; answers the blobs removed.
    async fn delete_expired_shared_files(&self, now: i64) -> Result<Vec<BlobId>, StoreError>;
}
