//! `admin access …`: users' access to mailboxes and its permissions (ADDR-9).

use serde_json::json;

use super::addresses::access_json;
use super::format::{parse_permissions, permissions, table};
use super::{Context, OP, Report};
use crate::cli::admin::AccessCommand;

pub async fn execute(ctx: &Context, command: AccessCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        AccessCommand::Grant {
            address,
            user,
            permissions: list,
            signature,
        } => {
            let chosen = parse_permissions(list.as_deref())?;
            let access = admin
                .grant_access(OP, &address, &user, chosen, signature.as_deref())
                .await?;
            let login = postwerk_model::Address::parse(&user)?;
            Report {
                text: format!(
                    "{login} can use {address}: {}",
                    permissions(access.permissions)
                ),
                json: access_json(&login, &access),
            }
        }
        AccessCommand::Revoke { address, user } => {
            admin.revoke_access(OP, &address, &user).await?;
            Report {
                text: format!("{user} no longer has access to {address}"),
                json: json!({"revoked": user, "address": address}),
            }
        }
        AccessCommand::List { address } => {
            let list = admin.list_access(OP, &address).await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|(login, a)| vec![login.to_string(), permissions(a.permissions)])
                .collect();
            Report {
                text: table(&rows),
                json: list
                    .iter()
                    .map(|(login, a)| access_json(login, a))
                    .collect(),
            }
        }
    })
}
