//! `postwerk admin …`: the directory from the command line, with the same operations as the
//! REST API (CLI-4). Each command opens the data folder, calls `core` as the platform operator,
//! and prints a human summary or, with `--json`, one JSON document on stdout. Password hashes
//! are never printed; a generated password or token secret is printed once.
//!
//! One module per resource; each turns its subcommands into [`Report`]s.

use std::fmt;
use std::sync::Arc;

use anyhow::Context as _;
use postwerk_core::{
    Actor, Admin, Audit, DeliveryMailer, DkimSigner, FailureLimiter, FailurePolicy, Identity,
    MailboxAuth, Mailer, ManagerAuth, Notifier, Recovery,
};
use postwerk_store::Stores;
use serde_json::Value;

use crate::cli::admin::{AdminArgs, AdminCommand};
use crate::config::Config;
use crate::serve::load_config;

mod access;
mod addresses;
mod aliases;
mod audit;
mod bounce;
mod format;
mod fsck;
mod import;
mod notifications;
mod orgs;
mod recovery;
mod sender_rules;
mod services;
mod tokens;
mod users;

/// The CLI acts as the platform operator: it runs on the server's own data folder, so whoever
/// runs it can read everything anyway.
const OP: Actor = Actor::Operator;

/// Output of one command: what a person reads, and what a script parses.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub json: Value,
}

/// A command that failed but still has something to show first: the bad lines of a CSV file
/// (as JSON for scripts), or the result of the addresses created before some failed, whose
/// generated passwords must not be lost. [`run`] prints the report, then fails with `message`.
#[derive(Debug)]
pub struct Unfinished {
    pub report: Report,
    pub message: String,
}

impl fmt::Display for Unfinished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unfinished {}

/// What the commands share: the use cases over the opened data folder, and the configuration.
pub(crate) struct Context {
    admin: Admin,
    auth: ManagerAuth,
    /// The operator's changes are audited like anybody's (ID-11); flushed before exit.
    audit: Audit,
    identity: Identity,
    recovery: Recovery,
    /// The credential tester (ID-7) checks exactly as a mail login does.
    mailbox_auth: MailboxAuth,
    stores: Stores,
    /// Releases held submissions (SND-6): signed like any mail the platform sends, and not
    /// scored again.
    delivery: postwerk_core::Delivery,
    config: Config,
    /// `--json`: no progress bar, and the report's JSON is what is printed.
    json: bool,
}

impl Context {
    fn new(config: Config, stores: Stores, json: bool) -> Context {
        // ADDR-1 b': invitations are written to the queue (or an INBOX) here and delivered by
        // the running server's queue workers, signed with the service's DKIM key like any mail
        // the platform sends.
        let delivery = postwerk_core::Delivery::new(
            stores.directory.clone(),
            stores.mail.clone(),
            stores.queue.clone(),
        )
        .with_signer(DkimSigner::new(stores.directory.clone()));
        let mailer: Arc<dyn Mailer> = Arc::new(DeliveryMailer::new(
            delivery.clone(),
            config.hostname.clone(),
        ));
        let audit = Audit::start(stores.identity.clone());
        let admin = Admin::from_stores(&stores)
            .with_mailer(mailer.clone())
            .with_public_url(config.public_url())
            .with_audit(audit.clone());
        // No sign-in happens here; the limiter counts only this process's credential tests.
        let limiter = Arc::new(FailureLimiter::new(FailurePolicy::default()));
        let identity = Identity::new(&stores, audit.clone());
        // Recovery usernames of accounts whose login address is deleted (ID-10) go out by
        // email through the queue, and by SMS through the configured gateway.
        let sms = crate::serve::sms_gateway(&config, &stores).unwrap_or_else(|_| {
            Arc::new(postwerk_core::OutboxGateway::new(stores.identity.clone()))
        });
        let recovery = Recovery::new(
            &stores,
            identity.clone(),
            Notifier::new(Some(mailer), sms),
            audit.clone(),
            limiter.clone(),
        );
        let mailbox_auth =
            MailboxAuth::new(stores.directory.clone(), limiter.clone()).with_audit(audit.clone());
        let auth = ManagerAuth::new(
            stores.directory.clone(),
            stores.manager.clone(),
            stores.identity.clone(),
            limiter,
        );
        Context {
            admin,
            auth,
            audit,
            identity,
            recovery,
            mailbox_auth,
            stores,
            delivery,
            config,
            json,
        }
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    if let AdminCommand::Bounce(command) = &args.command {
        // CLI-2: the explanation depends on the message alone; no configuration or data folder.
        return bounce::run(command, args.json);
    }
    let (config, _) = load_config(&args.target)?;
    if let AdminCommand::Fsck(fsck_args) = &args.command {
        // Before the store opens: fsck has a connection of its own (see `fsck`).
        return fsck::run(&config.data_dir, fsck_args, args.json).await;
    }
    let stores = postwerk_store::open_sqlite(&config.data_dir)
        .await
        .with_context(|| format!("cannot open the data folder {}", config.data_dir.display()))?;
    let ctx = Context::new(config, stores.clone(), args.json);
    let outcome = execute(&ctx, args.command).await;
    // ID-11: what this command recorded is written before the database closes.
    ctx.audit.flush().await;
    stores.close().await;
    match outcome {
        Ok(report) => print(&report, args.json),
        Err(error) => {
            if let Some(unfinished) = error.downcast_ref::<Unfinished>() {
                print(&unfinished.report, args.json)?;
            }
            Err(error)
        }
    }
}

fn print(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report.json)?);
    } else if !report.text.is_empty() {
        println!("{}", report.text.trim_end());
    }
    Ok(())
}

async fn execute(ctx: &Context, command: AdminCommand) -> anyhow::Result<Report> {
    match command {
        AdminCommand::Org(command) => orgs::execute(ctx, command).await,
        AdminCommand::User(command) => users::execute(ctx, command).await,
        AdminCommand::Service(command) => services::execute(ctx, command).await,
        AdminCommand::Address(command) => addresses::execute(ctx, command).await,
        AdminCommand::Alias(command) => aliases::execute(ctx, command).await,
        AdminCommand::Access(command) => access::execute(ctx, command).await,
        AdminCommand::SenderRule(command) => sender_rules::execute(ctx, command).await,
        AdminCommand::Token(command) => tokens::execute(ctx, command).await,
        AdminCommand::Audit(args) => audit::execute(ctx, args).await,
        AdminCommand::Notifications(command) => notifications::execute(ctx, command).await,
        AdminCommand::Recovery(command) => recovery::execute(ctx, command).await,
        AdminCommand::Queue(command) => {
            crate::queue_admin::execute(&ctx.stores.queue, &ctx.delivery, command).await
        }
        AdminCommand::Fsck(_) => Err(fsck::needs_its_own_connection()),
        AdminCommand::Bounce(_) => Err(bounce::needs_no_data_folder()),
    }
}
