//! `postwerk admin …`: the directory from the command line. Each command opens the data folder,
//! calls one `core::Admin` use case as the platform operator, and prints a human summary or,
//! with `--json`, one JSON document on stdout. Password hashes are never printed; a generated
//! password is printed once.

use anyhow::Context;
use postwerk_core::records::DnsRecord;
use postwerk_core::{Actor, Admin, CreateAddress, CreateUser, DkimRotation};
use postwerk_model::{
    Access, AddressKind, Alias, Domain, HostedAddress, MailService, Permissions, Role, UserAccount,
};
use serde_json::{Value, json};

use crate::cli::{
    AccessCommand, AddressCommand, AdminArgs, AdminCommand, AliasCommand, OrgCommand,
    ServiceCommand, UserCommand,
};
use crate::serve::load_config;

/// Output of one command: what a person reads, and what a script parses.
pub struct Report {
    pub text: String,
    pub json: Value,
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let (config, _) = load_config(&args.target)?;
    let stores = postwerk_store::open_sqlite(&config.data_dir)
        .await
        .with_context(|| format!("cannot open the data folder {}", config.data_dir.display()))?;
    let admin = Admin::new(stores.directory.clone());
    let outcome = match args.command {
        AdminCommand::Queue(command) => crate::queue_admin::execute(&stores.queue, command).await,
        command => execute(&admin, &config.hostname, command).await,
    };
    stores.close().await;
    let report = outcome?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json)?);
    } else if !report.text.is_empty() {
        println!("{}", report.text.trim_end());
    }
    Ok(())
}

async fn execute(admin: &Admin, hostname: &str, command: AdminCommand) -> anyhow::Result<Report> {
    let op = Actor::Operator;
    Ok(match command {
        AdminCommand::Org(OrgCommand::Create { name }) => {
            let org = admin.create_org(op, &name).await?;
            Report {
                text: format!("created organization \"{}\"", org.name),
                json: json!({"id": org.id, "name": org.name}),
            }
        }
        AdminCommand::Org(OrgCommand::List) => {
            let orgs = admin.list_orgs(op).await?;
            let text = orgs
                .iter()
                .map(|o| o.name.clone())
                .collect::<Vec<_>>()
                .join("\n");
            let json = orgs
                .iter()
                .map(|o| json!({"id": o.id, "name": o.name}))
                .collect();
            Report {
                text,
                json: Value::Array(json),
            }
        }
        AdminCommand::User(UserCommand::Create {
            login,
            password,
            org,
            role,
            name,
        }) => {
            let org = match org {
                Some(org) => Some((org, role.parse::<Role>()?)),
                None => None,
            };
            let request = CreateUser {
                login,
                password,
                display_name: name,
                org: org.clone(),
            };
            let created = admin.create_user(op, request).await?;
            let mut text = format!("created user account {}", created.value.login);
            if let Some((org, role)) = &org {
                text.push_str(&format!(" ({} of \"{org}\")", role.as_str()));
            }
            let password = created.generated_password.as_ref().map(|p| p.as_str());
            if let Some(password) = password {
                text.push_str(&format!("\npassword (shown once): {password}"));
            }
            let mut json = user_json(&created.value);
            json["generated_password"] = json!(password);
            Report { text, json }
        }
        AdminCommand::User(UserCommand::List) => {
            let users = admin.list_users(op).await?;
            let text = users
                .iter()
                .map(|u| u.login.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            Report {
                text,
                json: Value::Array(users.iter().map(user_json).collect()),
            }
        }
        AdminCommand::User(UserCommand::Passwd { login, password }) => {
            let generated = admin
                .set_user_password(op, &login, password.as_deref())
                .await?;
            password_report(
                &format!("password of the user account {login} changed"),
                generated.as_deref().map(String::as_str),
            )
        }
        AdminCommand::Service(ServiceCommand::Create { domain, org, quota }) => {
            let service = admin.create_service(op, &domain, &org, quota).await?;
            let mut text = format!(
                "created mail service {} (quota {} addresses)",
                service.domain, service.address_quota
            );
            if let Some(dkim) = &service.dkim {
                text.push_str(&format!(
                    "\nDKIM key generated (selector {}): publish its record, see `postwerk admin service dns {}`",
                    dkim.selector, service.domain
                ));
            }
            Report {
                text,
                json: service_json(&service, 0),
            }
        }
        AdminCommand::Service(ServiceCommand::List) => {
            let services = admin.list_services(op).await?;
            let text = services
                .iter()
                .map(|(s, used)| format!("{}  {used}/{} addresses", s.domain, s.address_quota))
                .collect::<Vec<_>>()
                .join("\n");
            Report {
                text,
                json: services
                    .iter()
                    .map(|(s, used)| service_json(s, *used))
                    .collect(),
            }
        }
        AdminCommand::Service(ServiceCommand::Quota { domain, quota }) => {
            admin.set_quota(op, &domain, quota).await?;
            Report {
                text: format!("quota of {domain} set to {quota} addresses"),
                json: json!({"domain": domain, "quota": quota}),
            }
        }
        AdminCommand::Service(ServiceCommand::AliasDomain {
            domain,
            alias_domain,
        }) => {
            admin.add_alias_domain(op, &domain, &alias_domain).await?;
            Report {
                text: format!("{alias_domain} is now an alias domain of {domain}"),
                json: json!({"domain": domain, "alias_domain": alias_domain}),
            }
        }
        AdminCommand::Service(ServiceCommand::Dns { domain }) => {
            let records = admin.service_dns_records(op, &domain, hostname).await?;
            let services = admin.list_services(op).await?;
            let asked = Domain::parse(&domain)?;
            let service = services.iter().map(|(s, _)| s).find(|s| s.serves(&asked));
            dns_report(&asked, service, &records)
        }
        AdminCommand::Service(ServiceCommand::DkimRotate { domain }) => {
            let rotation = admin.rotate_dkim(op, &domain).await?;
            rotation_report(&rotation)
        }
        AdminCommand::Address(AddressCommand::Create {
            address,
            password,
            user,
            kind,
            to,
            keep_copy,
        }) => {
            let kind: AddressKind = kind.parse()?;
            let request = CreateAddress {
                address,
                kind,
                password,
                user: user.clone(),
                redirect_to: to,
                keep_copy,
            };
            let created = admin.create_address(op, request).await?;
            let mut text = format!(
                "created {} address {}",
                kind_name(created.value.kind),
                created.value.address
            );
            if let Some(user) = &user {
                text.push_str(&format!(", linked to {user}"));
            }
            let password = created.generated_password.as_ref().map(|p| p.as_str());
            if let Some(password) = password {
                text.push_str(&format!("\npassword (shown once): {password}"));
            }
            let mut json = address_json(&created.value, &[]);
            json["generated_password"] = json!(password);
            Report { text, json }
        }
        AdminCommand::Address(AddressCommand::List { domain }) => {
            let addresses = admin.list_addresses(op, &domain).await?;
            let text = addresses
                .iter()
                .map(|(a, aliases)| {
                    let mut line = format!("{}  {}", a.address, kind_name(a.kind));
                    if let Some(redirect) = &a.redirect {
                        let targets: Vec<String> =
                            redirect.targets.iter().map(ToString::to_string).collect();
                        line.push_str(&format!("  → {}", targets.join(", ")));
                        if redirect.keep_copy {
                            line.push_str(" (keeps a copy)");
                        }
                    }
                    if !aliases.is_empty() {
                        let names: Vec<&str> = aliases.iter().map(|x| x.local.as_str()).collect();
                        line.push_str(&format!("  aliases: {}", names.join(", ")));
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n");
            Report {
                text,
                json: addresses
                    .iter()
                    .map(|(a, aliases)| address_json(a, aliases))
                    .collect(),
            }
        }
        AdminCommand::Address(AddressCommand::Delete { addresses }) => {
            let deleted = admin.delete_addresses(op, &addresses).await?;
            let mut text = deleted
                .addresses
                .iter()
                .map(|a| format!("deleted {a}"))
                .collect::<Vec<_>>()
                .join("\n");
            for login in &deleted.orphaned_logins {
                text.push_str(&format!("\nnote: {login} was the login of a user account; it must choose a new login (ID-10)"));
            }
            Report {
                text,
                json: json!({"deleted": deleted.addresses, "orphaned_logins": deleted.orphaned_logins}),
            }
        }
        AdminCommand::Address(AddressCommand::Passwd { address, password }) => {
            let generated = admin
                .set_address_password(op, &address, password.as_deref())
                .await?;
            password_report(
                &format!(
                    "password of {address} changed; sessions that used the old one must log in again"
                ),
                generated.as_deref().map(String::as_str),
            )
        }
        AdminCommand::Alias(AliasCommand::Add {
            address,
            alias_address,
        }) => {
            let alias = admin.add_alias(op, &address, &alias_address).await?;
            Report {
                text: format!("{alias_address} now delivers to {address}"),
                json: alias_json(&alias, &alias_address),
            }
        }
        AdminCommand::Alias(AliasCommand::Remove { alias_address }) => {
            admin.remove_alias(op, &alias_address).await?;
            Report {
                text: format!("removed the alias {alias_address}"),
                json: json!({"removed": alias_address}),
            }
        }
        AdminCommand::Alias(AliasCommand::List { address }) => {
            let aliases = admin.list_aliases(op, &address).await?;
            let domain = address
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default();
            let full: Vec<String> = aliases
                .iter()
                .map(|a| format!("{}@{domain}", a.local))
                .collect();
            Report {
                text: full.join("\n"),
                json: aliases
                    .iter()
                    .zip(&full)
                    .map(|(a, f)| alias_json(a, f))
                    .collect(),
            }
        }
        AdminCommand::Access(AccessCommand::Grant {
            address,
            user,
            permissions,
        }) => {
            let permissions = match permissions {
                Some(list) => Some(Permissions::parse_list(&list)?),
                None => None,
            };
            let access = admin.grant_access(op, &address, &user, permissions).await?;
            Report {
                text: format!(
                    "{user} can use {address}: {}",
                    access.permissions.names().join(", ")
                ),
                json: access_json(&user, &access),
            }
        }
        AdminCommand::Access(AccessCommand::Revoke { address, user }) => {
            admin.revoke_access(op, &address, &user).await?;
            Report {
                text: format!("{user} no longer has access to {address}"),
                json: json!({"revoked": user, "address": address}),
            }
        }
        AdminCommand::Queue(_) => unreachable!("queue commands are run by queue_admin"),
        AdminCommand::Access(AccessCommand::List { address }) => {
            let list = admin.list_access(op, &address).await?;
            let text = list
                .iter()
                .map(|(login, a)| format!("{login}  {}", a.permissions.names().join(", ")))
                .collect::<Vec<_>>()
                .join("\n");
            Report {
                text,
                json: list
                    .iter()
                    .map(|(login, a)| access_json(&login.to_string(), a))
                    .collect(),
            }
        }
    })
}

/// `service dns`: one zone-file line per record with its purpose as a comment, so the output
/// pastes into a zone as it is; a comment says why a DKIM record is missing, when it is.
fn dns_report(domain: &Domain, service: Option<&MailService>, records: &[DnsRecord]) -> Report {
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| format!("{}  ; {}", r.zone_line(), r.purpose))
        .collect();
    let dkim = service.and_then(|s| s.dkim.as_ref());
    match service {
        Some(s) if s.domain != *domain => lines.push(format!(
            "; DKIM: mail from {domain} is signed for {} (d={}); its key record is in the zone of {}",
            s.domain, s.domain, s.domain
        )),
        Some(s) if s.dkim.is_none() => lines.push(format!(
            "; DKIM: the service has no key yet; `postwerk admin service dkim-rotate {}` makes one",
            s.domain
        )),
        _ => {}
    }
    Report {
        text: lines.join("\n"),
        json: json!({
            "domain": domain,
            "dkim": dkim.map(|k| json!({"selector": k.selector, "algorithm": k.algorithm})),
            "records": records,
        }),
    }
}

/// `service dkim-rotate`: the record to publish now, and the old one that may go later.
fn rotation_report(rotation: &DkimRotation) -> Report {
    let mut text = format!(
        "new DKIM key for {}: selector {} ({})\n\
         publish this record now (mail is signed with the new key from now on):\n{}",
        rotation.domain,
        rotation.key.selector,
        rotation.key.algorithm,
        rotation.record.zone_line()
    );
    let retired_name = rotation
        .retired
        .as_ref()
        .map(|old| format!("{}._domainkey.{}", old.selector, rotation.domain));
    if let (Some(old), Some(name)) = (&rotation.retired, &retired_name) {
        text.push_str(&format!(
            "\nthe old selector {} still verifies mail already sent: remove its record {name} \
             after a few days",
            old.selector
        ));
    }
    Report {
        text,
        json: json!({
            "domain": rotation.domain,
            "selector": rotation.key.selector,
            "algorithm": rotation.key.algorithm,
            "record": rotation.record,
            "retired_selector": rotation.retired.as_ref().map(|k| &k.selector),
            "retired_record": retired_name,
        }),
    }
}

fn password_report(message: &str, generated: Option<&str>) -> Report {
    let mut text = message.to_string();
    if let Some(password) = generated {
        text.push_str(&format!("\nnew password (shown once): {password}"));
    }
    Report {
        text,
        json: json!({"changed": true, "generated_password": generated}),
    }
}

fn kind_name(kind: AddressKind) -> &'static str {
    match kind {
        AddressKind::Mailbox => "mailbox",
        AddressKind::NoReply => "no-reply",
        AddressKind::CatchAll => "catch-all",
        AddressKind::RedirectOnly => "redirect-only",
    }
}

pub fn user_json(user: &UserAccount) -> Value {
    json!({
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "two_factor": user.totp_secret.is_some(),
        "created_at": user.created_at,
    })
}

pub fn service_json(service: &MailService, used: u32) -> Value {
    json!({
        "id": service.id,
        "domain": service.domain,
        "organization": service.org,
        "address_quota": service.address_quota,
        "addresses_in_use": used,
        "alias_domains": service.alias_domains,
        "aliases_allowed": service.features.aliases_allowed,
        "dkim": service.dkim.as_ref().map(|k| json!({"selector": k.selector, "algorithm": k.algorithm})),
    })
}

pub fn address_json(address: &HostedAddress, aliases: &[Alias]) -> Value {
    json!({
        "id": address.id,
        "address": address.address,
        "kind": address.kind.as_str(),
        "enabled": address.enabled,
        "redirect": address.redirect.as_ref().map(|r| json!({"targets": r.targets, "keep_copy": r.keep_copy})),
        "aliases": aliases.iter().map(|a| a.local.as_str()).collect::<Vec<_>>(),
        "storage_limit": address.storage_limit,
        "created_at": address.created_at,
    })
}

fn alias_json(alias: &Alias, full: &str) -> Value {
    json!({"id": alias.id, "alias": full, "address_id": alias.address})
}

fn access_json(login: &str, access: &Access) -> Value {
    json!({"user": login, "address_id": access.address, "permissions": access.permissions.names()})
}
