//! `postwerk-core`: the application services, the use cases of SPEC.md, over the store traits.
//!
//! It knows no protocol: the CLI, the HTTP API and the mail servers call these services and
//! turn their typed outcomes into their own answers. Every operation that changes the directory
//! goes through [`Admin`], which checks the caller's permission first ([`Actor`]).
//!
//! ```text
//!  CLI / HTTP / SMTP / IMAP / POP3
//!            │  Actor + request
//!            ▼
//!      core::Admin ── model rules (validation, quota, aliases…)
//!            │
//!            ▼
//!   store::Directory (transactions enforce the counting rules)
//! ```
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod auth;
pub mod bounce;
pub mod delivery;
pub mod dkim;
pub mod error;
pub mod identity;
pub mod junk_learning;
pub mod manager_auth;
pub mod notify;
pub mod password;
pub mod records;
pub mod recovery;
pub mod sasl;
pub mod send_limit;
pub mod srs;
pub mod submission;
pub mod webmail;

pub use admin::{
    AcceptInvitation, Actor, AddressCreated, AddressDetails, AddressUpdate, Admin, BulkCreated,
    BulkLine, BulkOptions, BulkOutcome, BulkPlan, CreateAddress, CreateUser, Created, Deleted,
    DkimRotation, Grant, Holder, InvitationDetails, InvitationRequest, InvitationSent, LineProblem,
    Member, ServiceUpdate,
};
pub use audit::{Audit, AuditQuery, Change, LoginAttempt, LoginResult, Owners, Protocol};
pub use auth::{CredentialTest, FailureLimiter, FailurePolicy, Login, LoginOutcome, MailboxAuth};
pub use bounce::{BounceClass, Explanation, RecipientReport};
pub use delivery::{Delivered, Delivery, Envelope, EnvelopeRecipient, Recipient};
pub use dkim::{DkimAlgorithm, DkimError, DkimPublicKey, DkimSigner};
pub use error::CoreError;
pub use identity::{
    AccountPasswordChanged, Identity, MailboxPasswordChanged, TotpEnrolment, Unification,
};
pub use junk_learning::{JunkLearning, Learnt};
pub use manager_auth::{Caller, IssuedToken, ManagerAuth, SignInRefusal, SignedIn};
pub use notify::{
    DeliveryMailer, Mailer, Notification, Notifier, OutboxGateway, SmsGateway, WebhookConfig,
    WebhookGateway,
};
pub use postwerk_filter::{Client, Filters, Reply as FilterReply};
/// The DSN parameters (RFC 3461) a protocol hands to [`Delivery`], as the queue stores them.
pub use postwerk_store::{DsnRet, Notify, QueueId};
pub use recovery::{Recovery, ResetRefusal, VerificationInput};
pub use send_limit::{SendLimiter, SendPolicy, SendVerdict};
pub use srs::Srs;
pub use submission::{AuthGuards, SenderCheck};
pub use webmail::{Webmail, WebmailParts};
