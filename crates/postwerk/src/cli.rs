//! Command-line grammar (clap). The forms listed in the README are relied on by scripts and
//! tests: change them only together with both.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Postwerk: an all-in-one mail hosting platform in one binary.
#[derive(Debug, Parser)]
#[command(name = "postwerk", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every server (SMTP, IMAP, POP3, HTTP) until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Manage organizations, users, mail services, addresses and aliases.
    ///
    /// The command works directly on the data folder, also while the server runs: the server
    /// reads the directory from the database on every lookup, so a change takes effect at once.
    Admin(AdminArgs),
    /// Create a working setup in one step: organization, mail service, owner account and a first
    /// mailbox, with generated passwords shown once, then the DNS records and client settings.
    Quickstart(QuickstartArgs),
}

/// Where the data lives: a configuration file, or a data folder directly.
#[derive(Debug, Args, Clone, Default)]
pub struct Target {
    /// Configuration file (TOML, see docs/CONFIG.md).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "data_dir")]
    pub config: Option<PathBuf>,
    /// Data folder (overrides the configuration's `data_dir`; default ./postwerk-data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    #[command(flatten)]
    pub target: Target,
    /// The domain to host, e.g. example.com.
    pub domain: String,
    /// Organization name (default: the domain).
    #[arg(long)]
    pub org: Option<String>,
    /// Owner account login (default: postmaster@DOMAIN).
    #[arg(long)]
    pub owner: Option<String>,
    /// Local part of the first mailbox (default: postmaster).
    #[arg(long, default_value = "postmaster")]
    pub mailbox: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

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
    /// Organizations (ORG-1).
    #[command(subcommand)]
    Org(OrgCommand),
    /// User accounts: log into the Manager and webmail, never into IMAP/POP3/SMTP (ID-1).
    #[command(subcommand)]
    User(UserCommand),
    /// Mail services: one domain each, with an address quota (SVC-1, SVC-2).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Hosted addresses: mailboxes, no-reply, catch-all and redirect-only (ADDR-1..8).
    #[command(subcommand)]
    Address(AddressCommand),
    /// Aliases: other local parts delivering to an address, at most 50 each (ADDR-6).
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Users' access to mailboxes and its permissions (ADDR-9).
    #[command(subcommand)]
    Access(AccessCommand),
    /// The outbound queue: list, show, retry now, delete (issue 6).
    #[command(subcommand)]
    Queue(crate::queue_admin::QueueCommand),
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create { name: String },
    /// List organizations.
    List,
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
    /// Change a service's address quota (never below the addresses in use).
    Quota { domain: String, quota: u32 },
    /// Add an alias domain: x@ALIAS delivers to x@DOMAIN (SVC-3).
    AliasDomain {
        domain: String,
        alias_domain: String,
    },
    /// Print the DNS records DOMAIN needs, as zone-file lines (SVC-1).
    ///
    /// MX, SPF, DMARC, the service's DKIM key and the autoconfiguration records; the host they
    /// name is the configuration's `hostname`. An alias domain gets no DKIM record: its mail is
    /// signed for the service's primary domain.
    Dns { domain: String },
    /// Give a service a new DKIM key and print the record to publish (SVC-1, SND-2).
    ///
    /// The new key signs the service's mail at once, so publish its record right away; the old
    /// key stays stored, and its record can be removed from the zone a few days later.
    DkimRotate { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// Create an address. Mailboxes get --password or a generated one shown once.
    Create {
        address: String,
        /// The mailbox password (ID-2); omitted: one is generated and shown once.
        #[arg(long)]
        password: Option<String>,
        /// Link the address to this user account (ADDR-1 a/b), with the service's default
        /// permissions.
        #[arg(long)]
        user: Option<String>,
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
    /// Delete addresses and everything they hold (ADDR-8).
    Delete {
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Set a mailbox password (ends sessions that used the old one, ID-6).
    Passwd {
        address: String,
        #[arg(long)]
        password: Option<String>,
    },
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
    /// Give a user access to an address (ADDR-9); permissions default to the service's.
    Grant {
        address: String,
        user: String,
        /// Comma-separated: read_send, change_password, manage_aliases, manage_redirections,
        /// manage_filters, manage_signatures.
        #[arg(long)]
        permissions: Option<String>,
    },
    /// Remove a user's access to an address.
    Revoke { address: String, user: String },
    /// List who has access to an address.
    List { address: String },
}
