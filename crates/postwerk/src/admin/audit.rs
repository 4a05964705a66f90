//! `admin audit`: the audit log (ID-11), newest first. The operator reads every entry; the
//! options narrow it to one account, mailbox or organization.

use postwerk_core::AuditQuery;
use postwerk_store::{AuditCategory, AuditEntry};
use serde_json::{Value, json};

use super::format::{date, table};
use super::{Context, OP, Report};
use crate::cli::admin::{AuditArgs, AuditCategoryArg};

pub async fn execute(ctx: &Context, args: AuditArgs) -> anyhow::Result<Report> {
    let query = AuditQuery {
        user: args.user,
        address: args.address,
        org: args.org,
        category: args.category.map(|category| match category {
            AuditCategoryArg::Login => AuditCategory::Login,
            AuditCategoryArg::Change => AuditCategory::Change,
        }),
        before: args.before,
        limit: Some(args.limit),
    };
    let entries = ctx
        .audit
        .entries(ctx.stores.directory.as_ref(), OP, query)
        .await?;
    let mut rows = vec![
        ["id", "time", "protocol", "event", "subject", "from", "by"]
            .map(String::from)
            .to_vec(),
    ];
    rows.extend(entries.iter().map(|stored| {
        let entry = &stored.entry;
        vec![
            stored.id.to_string(),
            date(entry.at),
            entry.protocol.clone(),
            entry.event.clone(),
            entry.subject.clone(),
            entry.remote_ip.clone().unwrap_or_else(|| "-".into()),
            entry.actor.clone().unwrap_or_else(|| "-".into()),
        ]
    }));
    let text = if entries.is_empty() {
        "no audit entries".to_owned()
    } else {
        table(&rows)
    };
    Ok(Report {
        text,
        json: Value::Array(entries.iter().map(entry_json).collect()),
    })
}

fn entry_json(stored: &AuditEntry) -> Value {
    let entry = &stored.entry;
    json!({
        "id": stored.id,
        "at": entry.at,
        "category": entry.category.as_str(),
        "protocol": entry.protocol,
        "event": entry.event,
        "remote_ip": entry.remote_ip,
        "subject": entry.subject,
        "actor": entry.actor,
        "detail": entry.detail,
    })
}
