//! The `postwerk admin` grammar: every operation of SPEC §2 that the REST API offers, one
//! subcommand per resource (CLI-4). The forms in the README and `tests/cli.rs` are relied on by
//! scripts; new options are added beside them, never instead of them.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::Target;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations and their members (ORG-1).
    #[command(subcommand)]
    Org(OrgCommand),
    /// User accounts: log into the Manager and webmail, never into IMAP/POP3/SMTP (ID-1).
    #[command(subcommand)]
    User(UserCommand),
    /// Mail services: one domain each, with an address quota (SVC-1..4).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Hosted addresses: mailboxes, no-reply, catch-all and redirect-only (ADDR-1..10).
    #[command(subcommand)]
    Address(AddressCommand),
    /// Aliases: other local parts delivering to an address, at most 50 each (ADDR-6).
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Users' access to mailboxes and its permissions (ADDR-9).
    #[command(subcommand)]
    Access(AccessCommand),
    /// A mailbox's sender allow list (whitelist) and block list (blacklist) (RCV-4).
    #[command(subcommand)]
    SenderRule(SenderRuleCommand),
    /// The operator's API tokens, for scripts that call the REST API (`Authorization: Bearer`).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The outbound queue: list, show, retry now, delete (issue 6).
    #[command(subcommand)]
    Queue(crate::queue_admin::QueueCommand),
    /// The audit log: every login on every protocol and every security change (ID-11).
    Audit(AuditArgs),
    /// What the notifier sent by SMS through the outbox gateway (ID-12).
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// Identity-verification requests of people who cannot recover alone (ID-8, ID-9).
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// Check the store's invariants (UIDs, MODSEQs, contents and their files, the queue) and,
    /// with --repair, repair what is safe (issue 10).
    Fsck(FsckArgs),
    /// Delivery failure and delay reports (bounces) explained in plain language (CLI-2).
    #[command(subcommand)]
    Bounce(BounceCommand),
}

#[derive(Debug, Subcommand)]
pub enum BounceCommand {
    /// Explain a saved message that reports a failed or delayed delivery: the class, the
    /// remote server's words and what to do. Reads standard input when no file is given.
    Explain {
        /// The message file (.eml, as received).
        file: Option<PathBuf>,
    },
}

/// `admin fsck`: fails (exit status 1) while problems remain unrepaired.
#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Repair what is safe: raise UIDNEXT and HIGHESTMODSEQ, remove files and rows nothing
    /// references (files only when older than an hour), remove queued messages without
    /// recipients. Refused while the server (or another admin command) has the data folder
    /// open: stop the server first.
    #[arg(long)]
    pub repair: bool,
    /// Also read every content and compare its SHA-256 (slow: reads the whole store).
    #[arg(long)]
    pub deep: bool,
}

/// `admin audit`: newest first.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries of this account (its login).
    #[arg(long, value_name = "LOGIN")]
    pub user: Option<String>,
    /// Only entries of this mailbox.
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,
    /// Only entries of this organization.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Only logins or only changes.
    #[arg(long, value_enum)]
    pub category: Option<AuditCategoryArg>,
    /// Only entries older than this entry id (to page back).
    #[arg(long, value_name = "ID")]
    pub before: Option<i64>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// Login attempts or security changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditCategoryArg {
    Login,
    Change,
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// The newest SMS written to the outbox (`[sms] gateway = "outbox"`, the default).
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Open verification requests (with --all, closed ones too).
    Requests {
        #[arg(long)]
        all: bool,
    },
    /// Close a request with a note saying what was done.
    Close {
        id: i64,
        #[arg(long, value_name = "TEXT")]
        note: String,
    },
}

/// `on` or `off`, for feature switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// A per-service setting: on, off, or the platform's (`default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Setting {
    On,
    Off,
    Default,
}

impl Setting {
    /// The override it stands for: `None` keeps the platform's value.
    pub fn overrides(self) -> Option<bool> {
        match self {
            Setting::On => Some(true),
            Setting::Off => Some(false),
            Setting::Default => None,
        }
    }
}

/// ADDR-1 (b'): how an invited person's future account logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginModeArg {
    /// With exactly the created address as login.
    Exact,
    /// With a login address of their choice.
    Own,
}

/// RCV-4: which list a sender rule goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKindArg {
    /// Whitelist: mail from the sender is never treated as spam.
    Allow,
    /// Blacklist: mail from the sender is always kept out.
    Block,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Only reads (GET requests).
    Read,
    /// Everything the operator may do.
    Write,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create { name: String },
    /// List organizations.
    List,
    /// List the members of an organization with their roles.
    Members { org: String },
    /// Add a user account to an organization, or change its role there.
    MemberSet {
        org: String,
        /// The account's login.
        login: String,
        /// owner, admin or member.
        #[arg(long)]
        role: String,
    },
    /// Remove a user account from an organization, with its access to the organization's
    /// mailboxes. The last owner cannot be removed.
    MemberRemove { org: String, login: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user account; with --org it joins that organization with --role.
    Create {
        /// Login: an email address, usually the person's own outside address.
        login: String,
        /// The account's password (at least 10 characters); omitted: one is generated and shown.
        #[arg(long)]
        password: Option<String>,
        /// Organization to join.
        #[arg(long)]
        org: Option<String>,
        /// Role in the organization.
        #[arg(long, default_value = "member", requires = "org")]
        role: String,
        /// Display name (used for initials in a recovery username, ID-10).
        #[arg(long)]
        name: Option<String>,
    },
    /// List user accounts.
    List,
    /// Set a user account's password (its mailboxes' passwords are unchanged, ID-3).
    Passwd {
        login: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Set the mobile phone number and recovery email the account recovers with (ID-8,
    /// ID-9); an empty value removes one, an absent option keeps it.
    Contact {
        login: String,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, value_name = "ADDRESS")]
        recovery_email: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create a mail service for a domain in an organization.
    Create {
        domain: String,
        #[arg(long)]
        org: String,
        /// Maximum number of addresses (SVC-2).
        #[arg(long, default_value_t = 100)]
        quota: u32,
    },
    /// List mail services.
    List,
    /// Show one service: quota, alias domains, switches, default permissions, signatures.
    Show { domain: String },
    /// Change a service's settings; options not given stay as they are.
    Set {
        domain: String,
        /// Maximum number of addresses, never below the addresses in use (SVC-2).
        #[arg(long)]
        quota: Option<u32>,
        /// Whether addresses may have aliases at all (ADDR-6).
        #[arg(long, value_name = "on|off")]
        aliases: Option<Switch>,
        /// Permissions prefilled when giving a user access (SVC-4), comma-separated:
        /// read_send, change_password, manage_aliases, manage_redirections, manage_filters,
        /// manage_signatures, or all / none.
        #[arg(long, value_name = "LIST")]
        default_permissions: Option<String>,
    },
    /// The service's own settings of the inbound checks (issue 7); without options, shows
    /// them. `default` returns a setting to the platform's (`docs/CONFIG.md`).
    Filters {
        domain: String,
        /// Greylisting of unknown senders (RCV-3).
        #[arg(long, value_name = "on|off|default")]
        greylist: Option<Setting>,
        /// The forbidden-attachment check (RCV-5).
        #[arg(long, value_name = "on|off|default")]
        attachments: Option<Setting>,
        /// Spam scoring (RCV-4).
        #[arg(long, value_name = "on|off|default")]
        spam: Option<Setting>,
        /// The spam score from which mail goes to Junk.
        #[arg(long, value_name = "SCORE|default")]
        junk_threshold: Option<String>,
        /// The spam score from which mail is refused.
        #[arg(long, value_name = "SCORE|default")]
        reject_threshold: Option<String>,
    },
    /// Change a service's address quota (never below the addresses in use).
    Quota { domain: String, quota: u32 },
    /// Add an alias domain: x@ALIAS delivers to x@DOMAIN (SVC-3).
    AliasDomain {
        domain: String,
        alias_domain: String,
    },
    /// Remove an alias domain: its addresses stop receiving mail (SVC-3).
    AliasDomainRemove {
        domain: String,
        alias_domain: String,
    },
    /// Add a signature template, or replace the one with the same name (SVC-4).
    SignatureSet {
        domain: String,
        /// The name shown when picking a signature.
        name: String,
        /// The signature text.
        #[arg(long)]
        body: String,
    },
    /// Remove a signature template (SVC-4).
    SignatureRemove { domain: String, name: String },
    /// Print the DNS records DOMAIN needs, as zone-file lines (SVC-1).
    ///
    /// MX, SPF, DMARC, the service's DKIM key and the autoconfiguration records; the host they
    /// name is the configuration's `hostname`. An alias domain gets no DKIM record: its mail is
    /// signed for the service's primary domain.
    Dns {
        domain: String,
        /// Ask DNS (the configuration's `[dns]` servers) and say, for each record, whether it
        /// is in place, missing, or what was found instead.
        #[arg(long)]
        check: bool,
    },
    /// Give a service a new DKIM key and print the record to publish (SVC-1, SND-2).
    ///
    /// The new key signs the service's mail at once, so publish its record right away; the old
    /// key stays stored, and its record can be removed from the zone a few days later.
    DkimRotate { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// Create an address (ADDR-1): for --user accounts (b), for an --invite (b'), or for
    /// nobody yet (c) when neither is given.
    ///
    /// Mode (a), "myself", needs a signed-in account and so exists only in the REST API and
    /// the Manager: the operator running this command has no account.
    Create {
        address: String,
        /// The mailbox password (ID-2); omitted: one is generated and shown once (unless an
        /// invitation with --login-mode exact lets the invited person choose it).
        #[arg(long)]
        password: Option<String>,
        /// Link the address to this user account of the organization (ADDR-1 b); repeatable.
        #[arg(long = "user", value_name = "LOGIN", conflicts_with = "invite")]
        users: Vec<String>,
        /// Send an invitation (ADDR-1 b') to EMAIL, or to the created address with `self`. The
        /// email is queued here and delivered by the running server.
        #[arg(long, value_name = "EMAIL|self", requires = "login_mode")]
        invite: Option<String>,
        /// With --invite: the invited person's account logs in with exactly the created
        /// address, or with a login of their own choice.
        #[arg(long, value_name = "exact|own", requires = "invite")]
        login_mode: Option<LoginModeArg>,
        /// With --user or --invite: the permissions given (ADDR-9), comma-separated; omitted:
        /// the service's defaults.
        #[arg(long, value_name = "LIST")]
        permissions: Option<String>,
        /// With --user or --invite: the name of one of the service's signature templates.
        #[arg(long, value_name = "NAME")]
        signature: Option<String>,
        /// An alias created with the address (ADDR-6): a local part or a full address in the
        /// same domain; repeatable.
        #[arg(long = "alias", value_name = "LOCAL")]
        aliases: Vec<String>,
        /// The name shown with the address in mail sent from it.
        #[arg(long, value_name = "DISPLAY_NAME")]
        name: Option<String>,
        /// mailbox, noreply, catchall or redirect.
        #[arg(long, default_value = "mailbox")]
        kind: String,
        /// Redirection target (repeatable): required for --kind redirect (ADDR-4), or a
        /// redirection on a mailbox (ADDR-5).
        #[arg(long = "to", value_name = "TARGET")]
        to: Vec<String>,
        /// With --to on a mailbox: keep a copy in the mailbox too.
        #[arg(long)]
        keep_copy: bool,
    },
    /// List the addresses of a domain.
    List { domain: String },
    /// Show one address: kind, state, storage, redirection, aliases, access and invitations.
    Show { address: String },
    /// Change an address; options not given stay as they are.
    Set {
        address: String,
        /// Accept mail and logins again.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Refuse mail and logins; the content is kept.
        #[arg(long)]
        disable: bool,
        /// A storage limit in octets, or `none` for no limit (ADDR-10).
        #[arg(long, value_name = "OCTETS|none")]
        storage_limit: Option<String>,
        /// Forward incoming mail to TARGET (repeatable), replacing the current redirection
        /// (ADDR-4/5).
        #[arg(
            long = "redirect",
            value_name = "TARGET",
            conflicts_with = "no_redirect"
        )]
        redirect: Vec<String>,
        /// With --redirect on a mailbox: keep a copy in the mailbox too.
        #[arg(long, requires = "redirect")]
        keep_copy: bool,
        /// Remove the redirection.
        #[arg(long)]
        no_redirect: bool,
        /// The name shown with the address in mail sent from it.
        #[arg(long)]
        name: Option<String>,
    },
    /// Send a new invitation to use an existing address (ADDR-1 b'), e.g. after one expired.
    Invite {
        address: String,
        /// Where to send it: an email address, or `self` for the address itself.
        #[arg(long, value_name = "EMAIL|self")]
        to: String,
        /// The invited person's account logs in with exactly ADDRESS, or with a login of
        /// their own choice.
        #[arg(long, value_name = "exact|own")]
        login_mode: LoginModeArg,
        /// The permissions given on acceptance, comma-separated; omitted: the service's
        /// defaults.
        #[arg(long, value_name = "LIST")]
        permissions: Option<String>,
        /// The name of one of the service's signature templates.
        #[arg(long, value_name = "NAME")]
        signature: Option<String>,
    },
    /// Delete addresses and everything they hold (ADDR-8). Irreversible: needs --yes.
    Delete {
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Confirms that the addresses, their messages, folders, aliases and redirections are
        /// destroyed.
        #[arg(long)]
        yes: bool,
    },
    /// Set a mailbox password (ends sessions that used the old one, ID-6).
    Passwd {
        address: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Test an address and password as an email client would log in (ID-7): answers valid,
    /// wrong password, unknown address or disabled. The password is read from standard input
    /// unless --password is given.
    Test {
        address: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Create many addresses of DOMAIN from a CSV file (ADDR-3).
    ///
    /// The file has a header line naming its columns: address (required), password (empty:
    /// generated), display_name, users and aliases (`;`-separated). It is checked as a whole
    /// first; when a line is bad nothing is created, unless --skip-invalid. The generated
    /// passwords are written once, as CSV, to --result FILE (readable by you only) or to
    /// standard output.
    Import {
        domain: String,
        /// The CSV file.
        file: PathBuf,
        /// Create the good lines even when some are bad.
        #[arg(long)]
        skip_invalid: bool,
        /// Only check the file and say what would be created.
        #[arg(long, conflicts_with = "result")]
        dry_run: bool,
        /// Write the result CSV (with the generated passwords) to this new file instead of
        /// standard output.
        #[arg(long, value_name = "FILE")]
        result: Option<PathBuf>,
    },
    /// Addresses of the organization a mailbox may send as besides itself and its aliases
    /// (SND-1), e.g. `send-as grant anna@example.com sales@example.com`.
    #[command(subcommand)]
    SendAs(SendAsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SendAsCommand {
    /// Let MAILBOX send as ADDRESS (same organization) over SMTP and in webmail.
    Grant { mailbox: String, address: String },
    /// Take the grant back: MAILBOX may no longer send as ADDRESS.
    Revoke { mailbox: String, address: String },
    /// List the addresses MAILBOX may send as.
    List { mailbox: String },
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Add ALIAS_ADDRESS as an alias of ADDRESS (same domain).
    Add {
        address: String,
        alias_address: String,
    },
    /// Remove an alias.
    Remove { alias_address: String },
    /// List the aliases of an address.
    List { address: String },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Give a member of the organization access to an address, or change that access
    /// (ADDR-9); permissions default to the service's.
    Grant {
        address: String,
        user: String,
        /// Comma-separated: read_send, change_password, manage_aliases, manage_redirections,
        /// manage_filters, manage_signatures.
        #[arg(long)]
        permissions: Option<String>,
        /// The name of one of the service's signature templates (SVC-4).
        #[arg(long, value_name = "NAME")]
        signature: Option<String>,
    },
    /// Remove a user's access to an address.
    Revoke { address: String, user: String },
    /// List who has access to an address.
    List { address: String },
}

#[derive(Debug, Subcommand)]
pub enum SenderRuleCommand {
    /// Put PATTERN on the mailbox's allow or block list (a pattern already listed moves).
    Add {
        address: String,
        /// allow (whitelist) or block (blacklist).
        kind: ListKindArg,
        /// A sender address (`user@example.com`) or a domain with its subdomains
        /// (`example.com` or `@example.com`).
        pattern: String,
    },
    /// Remove PATTERN from the mailbox's lists.
    Remove { address: String, pattern: String },
    /// List the mailbox's rules, allow rules first.
    List { address: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an operator token and print its secret, once.
    Create {
        /// A name to recognise it by in `token list`.
        name: String,
        /// read: GET requests only; write: everything.
        #[arg(long, value_enum, default_value_t = ScopeArg::Read)]
        scope: ScopeArg,
        /// The token stops working after this many days; omitted: until revoked.
        #[arg(long, value_name = "N")]
        expires_days: Option<u32>,
    },
    /// List the operator's tokens, revoked ones included (never their secrets).
    List,
    /// Revoke a token: it never works again.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: i64,
    },
}
