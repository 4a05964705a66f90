//! `admin sender-rule …`: a mailbox's sender allow list (whitelist) and block list
//! (blacklist), which override the spam score (RCV-4).

use postwerk_model::{Address, ListKind, SenderRule};
use serde_json::{Value, json};

use super::format::table;
use super::{Context, OP, Report};
use crate::cli::admin::{ListKindArg, SenderRuleCommand};

pub async fn execute(ctx: &Context, command: SenderRuleCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        SenderRuleCommand::Add {
            address,
            kind,
            pattern,
        } => {
            let kind = match kind {
                ListKindArg::Allow => ListKind::Allow,
                ListKindArg::Block => ListKind::Block,
            };
            let rule = admin.add_sender_rule(OP, &address, kind, &pattern).await?;
            let address = Address::parse(&address)?;
            let effect = match rule.kind {
                ListKind::Allow => "is never treated as spam (allow list)",
                ListKind::Block => "is always kept out (block list)",
            };
            Report {
                text: format!("mail from {} to {address} {effect}", rule.pattern),
                json: rule_json(&address, &rule),
            }
        }
        SenderRuleCommand::Remove { address, pattern } => {
            admin.remove_sender_rule(OP, &address, &pattern).await?;
            let address = Address::parse(&address)?;
            Report {
                text: format!("removed {pattern} from the sender lists of {address}"),
                json: json!({"address": address, "removed": pattern}),
            }
        }
        SenderRuleCommand::List { address } => {
            let rules = admin.sender_rules(OP, &address).await?;
            let address = Address::parse(&address)?;
            let text = if rules.is_empty() {
                format!("{address} has no sender rules: the spam score alone decides")
            } else {
                let rows: Vec<Vec<String>> = rules
                    .iter()
                    .map(|r| vec![kind_name(r.kind).to_string(), r.pattern.to_string()])
                    .collect();
                table(&rows)
            };
            Report {
                text,
                json: rules.iter().map(|r| rule_json(&address, r)).collect(),
            }
        }
    })
}

fn kind_name(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Allow => "allow",
        ListKind::Block => "block",
    }
}

fn rule_json(address: &Address, rule: &SenderRule) -> Value {
    json!({
        "address": address,
        "kind": kind_name(rule.kind),
        "pattern": rule.pattern.to_string(),
    })
}
