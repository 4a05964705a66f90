//! `admin alias …`: other local parts delivering to an address, at most 50 each (ADDR-6).

use postwerk_model::Alias;
use serde_json::{Value, json};

use super::{Context, OP, Report};
use crate::cli::admin::AliasCommand;

pub async fn execute(ctx: &Context, command: AliasCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        AliasCommand::Add {
            address,
            alias_address,
        } => {
            let alias = admin.add_alias(OP, &address, &alias_address).await?;
            Report {
                text: format!("{alias_address} now delivers to {address}"),
                json: alias_json(&alias, &alias_address),
            }
        }
        AliasCommand::Remove { alias_address } => {
            admin.remove_alias(OP, &alias_address).await?;
            Report {
                text: format!("removed the alias {alias_address}"),
                json: json!({"removed": alias_address}),
            }
        }
        AliasCommand::List { address } => {
            let aliases = admin.list_aliases(OP, &address).await?;
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
    })
}

fn alias_json(alias: &Alias, full: &str) -> Value {
    json!({"id": alias.id, "alias": full, "address_id": alias.address})
}
