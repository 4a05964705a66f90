//! `postwerk quickstart DOMAIN`: from nothing to a working domain in one command. Creates the
//! organization, the mail service, an owner account and a first mailbox linked to it, shows the
//! generated passwords once, then the DNS records to publish (the service's DKIM key included)
//! and the client settings.

use anyhow::{Context, bail};
use postwerk_core::records::DnsRecord;
use postwerk_core::{Actor, Admin, CreateAddress, CreateUser, Grant, Holder};
use postwerk_model::{Address, AddressKind, Domain, Role};
use serde_json::json;

use crate::cli::QuickstartArgs;
use crate::config::Config;
use crate::serve::load_config;

/// Address quota of the service quickstart creates; `admin service quota` changes it.
const QUICKSTART_QUOTA: u32 = 100;

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let (config, _) = load_config(&args.target)?;
    let domain = Domain::parse(&args.domain)?;
    let org_name = args.org.clone().unwrap_or_else(|| domain.to_string());
    let owner = match &args.owner {
        Some(login) => Address::parse(login)?,
        None => Address::parse(&format!("postmaster@{domain}"))?,
    };
    let mailbox = Address::parse(&format!("{}@{domain}", args.mailbox))?;

    let stores = postwerk_store::open_sqlite(&config.data_dir)
        .await
        .with_context(|| format!("cannot open the data folder {}", config.data_dir.display()))?;
    let result = setup(
        &Admin::from_stores(&stores),
        &stores,
        &domain,
        &org_name,
        &owner,
        &mailbox,
        &config.hostname,
    )
    .await;
    stores.close().await;
    let (owner_password, mailbox_password, records) = result?;

    if args.json {
        let out = json!({
            "organization": org_name,
            "domain": domain,
            "owner": {"login": owner, "password": owner_password},
            "mailbox": {"address": mailbox, "password": mailbox_password},
            "dns_records": records,
            "client_settings": client_settings_json(&config, &mailbox),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("Ready: {domain} is hosted on {}.\n", config.hostname);
    println!("Organization   {org_name}");
    println!("Owner account  {owner}");
    println!("  password     {owner_password}   (shown once: for the Manager and webmail)");
    println!("Mailbox        {mailbox}");
    println!("  password     {mailbox_password}   (shown once: for IMAP, POP3 and SMTP)");
    println!("The two are separate credentials even when the names are equal (SPEC ID-3).\n");
    println!("DNS records to publish in the zone of {domain}:");
    for record in &records {
        println!("  {:<60}  ; {}", record.zone_line(), record.purpose);
    }
    println!("\nMail client settings (username = the full address):");
    println!(
        "  IMAP      {}  port 993, TLS   (recommended)",
        config.hostname
    );
    println!(
        "  SMTP      {}  port 465, TLS   (recommended)",
        config.hostname
    );
    println!("  POP3      {}  port 995, TLS", config.hostname);
    println!("  STARTTLS alternatives: IMAP 143, SMTP submission 587, POP3 110");
    let local = |key: &str| config.listen.get(key).map(ToString::to_string);
    if let (Some(imaps), Some(submissions)) = (local("imaps"), local("submissions")) {
        println!("  on this test setup: IMAPS {imaps}, submission TLS {submissions}");
    }
    Ok(())
}

async fn setup(
    admin: &Admin,
    stores: &postwerk_store::Stores,
    domain: &Domain,
    org_name: &str,
    owner: &Address,
    mailbox: &Address,
    hostname: &str,
) -> anyhow::Result<(String, String, Vec<DnsRecord>)> {
    let op = Actor::Operator;
    // Check first, so that a second run refuses cleanly instead of half-creating.
    if stores.directory.service_by_domain(domain).await?.is_some() {
        bail!("{domain} is already hosted here; use `postwerk admin` to change it");
    }
    if stores.directory.org_by_name(org_name).await?.is_some() {
        bail!("the organization \"{org_name}\" already exists; pass --org with another name");
    }
    if stores.directory.user_by_login(owner).await?.is_some() {
        bail!("the user account {owner} already exists; pass --owner with another login");
    }
    admin.create_org(op, org_name).await?;
    admin
        .create_service(op, domain.as_str(), org_name, QUICKSTART_QUOTA)
        .await?;
    let user = admin
        .create_user(
            op,
            CreateUser {
                login: owner.to_string(),
                password: None,
                display_name: None,
                org: Some((org_name.to_string(), Role::Owner)),
            },
        )
        .await?;
    let address = admin
        .create_address(
            op,
            CreateAddress {
                address: mailbox.to_string(),
                kind: AddressKind::Mailbox,
                password: None,
                holder: Holder::Users(vec![Grant {
                    login: owner.to_string(),
                    permissions: None,
                    signature: None,
                }]),
                display_name: String::new(),
                aliases: Vec::new(),
                redirect_to: Vec::new(),
                keep_copy: false,
            },
        )
        .await?;
    // SVC-1: the records with the DKIM key the service was created with.
    let records = admin
        .service_dns_records(op, domain.as_str(), hostname)
        .await?;
    let shown =
        |p: Option<zeroize::Zeroizing<String>>| p.map(|p| p.to_string()).unwrap_or_default();
    Ok((
        shown(user.generated_password),
        shown(address.generated_password),
        records,
    ))
}

fn client_settings_json(config: &Config, mailbox: &Address) -> serde_json::Value {
    json!({
        "username": mailbox,
        "imap": {"host": config.hostname, "port": 993, "security": "tls"},
        "smtp": {"host": config.hostname, "port": 465, "security": "tls"},
        "pop3": {"host": config.hostname, "port": 995, "security": "tls"},
    })
}
