//! `postwerk-model`: the domain model of Postwerk, and the rules of SPEC §1–2 as plain
//! functions.
//!
//! It owns:
//! - validated, normalised names: [`Domain`], [`LocalPart`], [`Address`] ([`address`]), and
//!   [`EnvelopeAddress`], the wider SMTPUTF8 form of the SMTP envelope ([`envelope_address`]);
//! - typed identifiers ([`ids`]) and the ADDR-9 [`Permissions`] bit set;
//! - the directory entities: organizations, user accounts, mail services, hosted addresses,
//!   aliases, access grants, invitations, sender allow/block lists ([`directory`]);
//! - mailbox folder names and the ADDR-11 default folders ([`folders`]);
//! - the rules: recipient resolution RCV-13 ([`resolve`]), the address quota SVC-2
//!   ([`quota`]), the alias limit ADDR-6 ([`aliases`]), password unification ID-5
//!   ([`unification`]) and recovery usernames ID-10 ([`recovery`]).
//!
//! It has no I/O, no async, no clock and no randomness: times are `i64` Unix seconds and
//! random digits are passed in, and recipient resolution asks its caller for directory facts
//! instead of reading a store. It depends on nothing of Postwerk; every other crate depends on
//! it. Values are built by parsing, so a `Domain` or an `Address` held anywhere is valid and
//! canonical.
//!
//! The main flow: text from the outside (SMTP, the CLI, the API, storage) is parsed into these
//! types at the edge; the store fills the entities; the services ask the rule functions for a
//! verdict. Recipient resolution is the one state machine here; its diagram is in [`resolve`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod aliases;
pub mod directory;
pub mod envelope_address;
pub mod folders;
pub mod ids;
pub mod permissions;
pub mod phone;
pub mod quota;
pub mod recovery;
pub mod resolve;
pub mod unification;

pub use address::{Address, AddressError, Domain, DomainProblem, LocalPart, LocalPartProblem};
pub use aliases::{MAX_ALIASES_PER_ADDRESS, check_alias_limit, check_new_alias};
pub use directory::{
    Access, AddressKind, Alias, DirectoryError, DkimKeyRef, FilterOverrides, HostedAddress,
    Invitation, ListKind, LoginMode, MAX_REDIRECT_TARGETS, MailService, Membership, Organization,
    Redirection, Role, SenderPattern, SenderRule, ServiceFeatures, SignatureTemplate, UserAccount,
    sender_verdict, validate_org_name,
};
pub use envelope_address::{EnvelopeAddress, EnvelopeAddressError};
pub use folders::{
    DEFAULT_FOLDERS, FolderNameProblem, SpecialUse, canonical_folder_name, validate_folder_name,
};
pub use ids::{
    AddressId, AliasId, ApiTokenId, FolderId, InvitationId, OrgId, ServiceId, SessionId, UserId,
};
pub use permissions::Permissions;
pub use phone::phone_key;
pub use quota::{check_address_quota, check_address_quota_for, check_quota_change};
pub use recovery::{RecoveryUsername, recovery_username};
pub use resolve::{
    DEFAULT_MAX_DELIVERIES, DEFAULT_MAX_DEPTH, Delivery, Expansion, ExpansionNote, Facts, Outcome,
    Refusal, ServiceFacts, resolve_with,
};
pub use unification::{UnificationBlocker, unification_allowed, unification_blockers};
