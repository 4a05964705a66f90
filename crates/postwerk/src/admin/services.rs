//! `admin service …`: mail services (SVC-1..4): quota, alias domains, feature switches,
//! default permissions, signature templates, DNS records and DKIM keys.

use std::time::Duration;

use anyhow::{Context as _, bail};
use postwerk_core::DkimRotation;
use postwerk_core::ServiceUpdate;
use postwerk_core::records::{DnsRecord, RecordCheck};
use postwerk_model::{Domain, MailService, SignatureTemplate};
use serde_json::{Value, json};

use super::format::{fields, list_or, permissions, table};
use super::{Context, OP, Report};
use crate::cli::admin::{ServiceCommand, Setting, Switch};

pub async fn execute(ctx: &Context, command: ServiceCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        ServiceCommand::Create { domain, org, quota } => {
            let service = admin.create_service(OP, &domain, &org, quota).await?;
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
        ServiceCommand::List => {
            let services = admin.list_services(OP).await?;
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
        ServiceCommand::Show { domain } => {
            let (service, used) = admin.service(OP, &domain).await?;
            show(ctx, &service, used).await?
        }
        ServiceCommand::Set {
            domain,
            quota,
            aliases,
            default_permissions,
        } => set(ctx, &domain, quota, aliases, default_permissions.as_deref()).await?,
        ServiceCommand::Filters {
            domain,
            greylist,
            attachments,
            spam,
            junk_threshold,
            reject_threshold,
        } => {
            let change = FiltersChange {
                greylist,
                attachments,
                spam,
                junk_threshold,
                reject_threshold,
            };
            filters(ctx, &domain, change).await?
        }
        ServiceCommand::Quota { domain, quota } => {
            admin.set_quota(OP, &domain, quota).await?;
            Report {
                text: format!("quota of {domain} set to {quota} addresses"),
                json: json!({"domain": domain, "quota": quota}),
            }
        }
        ServiceCommand::AliasDomain {
            domain,
            alias_domain,
        } => {
            admin.add_alias_domain(OP, &domain, &alias_domain).await?;
            Report {
                text: format!("{alias_domain} is now an alias domain of {domain}"),
                json: json!({"domain": domain, "alias_domain": alias_domain}),
            }
        }
        ServiceCommand::AliasDomainRemove {
            domain,
            alias_domain,
        } => {
            admin
                .remove_alias_domain(OP, &domain, &alias_domain)
                .await?;
            Report {
                text: format!(
                    "{alias_domain} is no longer an alias domain of {domain}: mail to its \
                     addresses is refused from now on"
                ),
                json: json!({"domain": domain, "removed_alias_domain": alias_domain}),
            }
        }
        ServiceCommand::SignatureSet { domain, name, body } => {
            let (service, _) = admin.service(OP, &domain).await?;
            let mut templates = service.signature_templates;
            let replaced = match templates.iter_mut().find(|t| t.name == name) {
                Some(template) => {
                    template.body = body;
                    true
                }
                None => {
                    templates.push(SignatureTemplate {
                        name: name.clone(),
                        body,
                    });
                    false
                }
            };
            let service = update_signatures(ctx, &domain, templates).await?;
            let verb = if replaced { "replaced" } else { "added" };
            Report {
                text: format!("signature template \"{name}\" of {} {verb}", service.domain),
                json: signatures_json(&service),
            }
        }
        ServiceCommand::SignatureRemove { domain, name } => {
            let (service, _) = admin.service(OP, &domain).await?;
            let mut templates = service.signature_templates;
            let before = templates.len();
            templates.retain(|t| t.name != name);
            if templates.len() == before {
                bail!(
                    "{} has no signature template named \"{name}\"; `postwerk admin service show \
                     {}` lists them",
                    service.domain,
                    service.domain
                );
            }
            let service = update_signatures(ctx, &domain, templates).await?;
            Report {
                text: format!(
                    "signature template \"{name}\" of {} removed",
                    service.domain
                ),
                json: signatures_json(&service),
            }
        }
        ServiceCommand::Dns { domain, check } => {
            let asked = Domain::parse(&domain)?;
            let services = admin.list_services(OP).await?;
            let service = services.iter().map(|(s, _)| s).find(|s| s.serves(&asked));
            if check {
                let resolver = resolver(ctx)?;
                let checks = admin
                    .check_service_dns(OP, &domain, &ctx.config.hostname, &resolver)
                    .await?;
                check_report(&asked, service, &checks)
            } else {
                let records = admin
                    .service_dns_records(OP, &domain, &ctx.config.hostname)
                    .await?;
                dns_report(&asked, service, &records)
            }
        }
        ServiceCommand::DkimRotate { domain } => {
            let rotation = admin.rotate_dkim(OP, &domain).await?;
            rotation_report(&rotation)
        }
    })
}

/// `service show`: every setting of one service.
async fn show(ctx: &Context, service: &MailService, used: u32) -> anyhow::Result<Report> {
    let orgs = ctx.admin.list_orgs(OP).await?;
    let org = orgs
        .iter()
        .find(|o| o.id == service.org)
        .map_or_else(|| service.org.to_string(), |o| format!("\"{}\"", o.name));
    let alias_domains: Vec<String> = service
        .alias_domains
        .iter()
        .map(ToString::to_string)
        .collect();
    let signatures: Vec<String> = service
        .signature_templates
        .iter()
        .map(|t| format!("\"{}\"", t.name))
        .collect();
    let dkim = match &service.dkim {
        Some(key) => format!("selector {} ({})", key.selector, key.algorithm),
        None => "no key yet".to_string(),
    };
    let aliases = if service.features.aliases_allowed {
        "allowed (at most 50 per address)"
    } else {
        "not allowed"
    };
    let text = fields(&[
        ("service", service.domain.to_string()),
        ("organization", org),
        (
            "addresses",
            format!("{used} of {} allowed", service.address_quota),
        ),
        ("alias domains", list_or(&alias_domains, "none")),
        ("aliases", aliases.to_string()),
        ("default access", permissions(service.default_permissions)),
        ("signatures", list_or(&signatures, "none")),
        ("DKIM", dkim),
    ]);
    Ok(Report {
        text,
        json: service_json(service, used),
    })
}

/// `service set`: the quota, the aliases switch and the default permissions, all or nothing.
async fn set(
    ctx: &Context,
    domain: &str,
    quota: Option<u32>,
    aliases: Option<Switch>,
    default_permissions: Option<&str>,
) -> anyhow::Result<Report> {
    if quota.is_none() && aliases.is_none() && default_permissions.is_none() {
        bail!("nothing to change: give --quota, --aliases or --default-permissions");
    }
    let features = match aliases {
        Some(switch) => {
            // Only the named switch changes; the service's other switches stay as they are.
            let (current, _) = ctx.admin.service(OP, domain).await?;
            let mut features = current.features;
            features.aliases_allowed = switch == Switch::On;
            Some(features)
        }
        None => None,
    };
    let update = ServiceUpdate {
        address_quota: quota,
        features,
        filters: None,
        default_permissions: super::format::parse_permissions(default_permissions)?,
        signature_templates: None,
    };
    let service = ctx.admin.update_service(OP, domain, update).await?;
    let mut changes = Vec::new();
    if let Some(quota) = quota {
        changes.push(format!("quota {quota} addresses"));
    }
    if aliases.is_some() {
        let allowed = if service.features.aliases_allowed {
            "allowed"
        } else {
            "not allowed"
        };
        changes.push(format!("aliases {allowed}"));
    }
    if default_permissions.is_some() {
        changes.push(format!(
            "default access {}",
            permissions(service.default_permissions)
        ));
    }
    let (service, used) = ctx.admin.service(OP, domain).await?;
    Ok(Report {
        text: format!("{}: {}", service.domain, changes.join("; ")),
        json: service_json(&service, used),
    })
}

async fn update_signatures(
    ctx: &Context,
    domain: &str,
    templates: Vec<SignatureTemplate>,
) -> anyhow::Result<MailService> {
    let update = ServiceUpdate {
        signature_templates: Some(templates),
        ..ServiceUpdate::default()
    };
    Ok(ctx.admin.update_service(OP, domain, update).await?)
}

/// The resolver `serve` uses, from the configuration's `[dns]` table, so `--check` sees what
/// the server would see.
fn resolver(ctx: &Context) -> anyhow::Result<postwerk_dns::HickoryResolver> {
    let dns = &ctx.config.dns;
    let config = postwerk_dns::DnsConfig {
        servers: dns.servers.clone(),
        dnssec: dns.dnssec,
        timeout: Duration::from_secs(dns.timeout),
    };
    postwerk_dns::HickoryResolver::new(&config).context("cannot set up the DNS resolver")
}

/// Why the DKIM record is absent from a domain's list, when it is.
fn dkim_note(domain: &Domain, service: Option<&MailService>) -> Option<String> {
    match service {
        Some(s) if s.domain != *domain => Some(format!(
            "DKIM: mail from {domain} is signed for {} (d={}); its key record is in the zone of {}",
            s.domain, s.domain, s.domain
        )),
        Some(s) if s.dkim.is_none() => Some(format!(
            "DKIM: the service has no key yet; `postwerk admin service dkim-rotate {}` makes one",
            s.domain
        )),
        _ => None,
    }
}

fn dkim_json(service: Option<&MailService>) -> Value {
    json!(
        service
            .and_then(|s| s.dkim.as_ref())
            .map(|k| json!({"selector": k.selector, "algorithm": k.algorithm}))
    )
}

/// `service dns`: one zone-file line per record with its purpose as a comment, so the output
/// pastes into a zone as it is; a comment says why a DKIM record is missing, when it is.
fn dns_report(domain: &Domain, service: Option<&MailService>, records: &[DnsRecord]) -> Report {
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| format!("{}  ; {}", r.zone_line(), r.purpose))
        .collect();
    if let Some(note) = dkim_note(domain, service) {
        lines.push(format!("; {note}"));
    }
    Report {
        text: lines.join("\n"),
        json: json!({
            "domain": domain,
            "dkim": dkim_json(service),
            "records": records,
        }),
    }
}

/// `service dns --check`: each record with whether DNS has it, and what DNS has instead.
fn check_report(domain: &Domain, service: Option<&MailService>, checks: &[RecordCheck]) -> Report {
    let mut rows = Vec::new();
    for check in checks {
        let status = if check.in_place {
            "in place"
        } else if check.lookup_error.is_some() {
            "unknown"
        } else {
            "missing"
        };
        rows.push(vec![status.to_string(), check.expected.zone_line()]);
        if let Some(error) = &check.lookup_error {
            rows.push(vec![String::new(), format!("lookup failed: {error}")]);
        } else if !check.in_place && !check.found.is_empty() {
            rows.push(vec![
                String::new(),
                format!("found instead: {}", check.found.join(" | ")),
            ]);
        }
    }
    let in_place = checks.iter().filter(|c| c.in_place).count();
    let mut text = table(&rows);
    text.push_str(&format!(
        "\n{in_place} of {} records in place for {domain}",
        checks.len()
    ));
    if let Some(note) = dkim_note(domain, service) {
        text.push_str(&format!("\n{note}"));
    }
    let records: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!({
                "name": c.expected.name,
                "kind": c.expected.kind,
                "value": c.expected.value,
                "purpose": c.expected.purpose,
                "in_place": c.in_place,
                "found": c.found,
                "lookup_error": c.lookup_error,
            })
        })
        .collect();
    Report {
        text,
        json: json!({
            "domain": domain,
            "dkim": dkim_json(service),
            "records": records,
            "in_place": in_place,
            "total": checks.len(),
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

fn signatures_json(service: &MailService) -> Value {
    json!({
        "domain": service.domain,
        "signature_templates": service.signature_templates,
    })
}

/// The options of `service filters`; `None` leaves a setting as it is.
struct FiltersChange {
    greylist: Option<Setting>,
    attachments: Option<Setting>,
    spam: Option<Setting>,
    junk_threshold: Option<String>,
    reject_threshold: Option<String>,
}

/// `service filters`: changes the named settings (the others stay), then shows them all.
async fn filters(ctx: &Context, domain: &str, change: FiltersChange) -> anyhow::Result<Report> {
    let (service, _) = ctx.admin.service(OP, domain).await?;
    let mut filters = service.features.filters.clone();
    let switches = [
        (change.greylist, &mut filters.greylist),
        (change.attachments, &mut filters.attachments),
        (change.spam, &mut filters.spam),
    ];
    let mut changed = false;
    for (setting, field) in switches {
        if let Some(setting) = setting {
            *field = setting.overrides();
            changed = true;
        }
    }
    for (text, field, name) in [
        (
            change.junk_threshold,
            &mut filters.junk_threshold,
            "--junk-threshold",
        ),
        (
            change.reject_threshold,
            &mut filters.reject_threshold,
            "--reject-threshold",
        ),
    ] {
        if let Some(text) = text {
            *field = threshold(&text, name)?;
            changed = true;
        }
    }
    let service = if changed {
        let update = ServiceUpdate {
            filters: Some(filters),
            ..ServiceUpdate::default()
        };
        ctx.admin.update_service(OP, domain, update).await?
    } else {
        service
    };
    let filters = &service.features.filters;
    let switch = |value: Option<bool>| match value {
        Some(true) => "on".to_string(),
        Some(false) => "off".to_string(),
        None => "platform's".to_string(),
    };
    let score = |value: Option<f64>| value.map_or_else(|| "platform's".into(), |v| v.to_string());
    let text = fields(&[
        ("greylist", switch(filters.greylist)),
        ("attachments", switch(filters.attachments)),
        ("spam", switch(filters.spam)),
        ("junk threshold", score(filters.junk_threshold)),
        ("reject threshold", score(filters.reject_threshold)),
    ]);
    Ok(Report {
        text: format!("filters of {}:\n{text}", service.domain),
        json: json!({"domain": service.domain, "filters": filters}),
    })
}

/// A threshold option: a score, or `default` for the platform's.
fn threshold(text: &str, option: &str) -> anyhow::Result<Option<f64>> {
    if text.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(score) => Ok(Some(score)),
        Err(_) => bail!("{option} takes a score such as 4.5, or `default`; {text:?} is neither"),
    }
}

fn service_json(service: &MailService, used: u32) -> Value {
    json!({
        "id": service.id,
        "domain": service.domain,
        "organization": service.org,
        "address_quota": service.address_quota,
        "addresses_in_use": used,
        "alias_domains": service.alias_domains,
        "aliases_allowed": service.features.aliases_allowed,
        "filters": service.features.filters,
        "default_permissions": service.default_permissions.names(),
        "signature_templates": service.signature_templates,
        "dkim": service.dkim.as_ref().map(|k| json!({"selector": k.selector, "algorithm": k.algorithm})),
    })
}
