//! Command-line grammar (clap). The forms listed in the README are relied on by scripts and
//! tests: change them only together with both. The `admin` grammar, the largest, lives in
//! [`admin`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod admin;

pub use admin::AdminArgs;

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
    /// Manage organizations, users, mail services, addresses, access, sender lists, API tokens
    /// and the outbound queue: everything the REST API does (CLI-4).
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
