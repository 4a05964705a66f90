//! `admin org …`: organizations and their members (ORG-1).

use postwerk_core::Member;
use postwerk_model::Role;
use serde_json::{Value, json};

use super::format::table;
use super::{Context, OP, Report};
use crate::cli::admin::OrgCommand;

pub async fn execute(ctx: &Context, command: OrgCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        OrgCommand::Create { name } => {
            let org = admin.create_org(OP, &name).await?;
            Report {
                text: format!("created organization \"{}\"", org.name),
                json: json!({"id": org.id, "name": org.name}),
            }
        }
        OrgCommand::List => {
            let orgs = admin.list_orgs(OP).await?;
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
        OrgCommand::Members { org } => {
            let members = admin.org_members(OP, &org).await?;
            let text = if members.is_empty() {
                format!("\"{org}\" has no members")
            } else {
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|m| {
                        vec![
                            m.login.to_string(),
                            m.role.as_str().to_string(),
                            m.display_name.clone(),
                        ]
                    })
                    .collect();
                table(&rows)
            };
            Report {
                text,
                json: members.iter().map(member_json).collect(),
            }
        }
        OrgCommand::MemberSet { org, login, role } => {
            let role: Role = role.parse()?;
            let member = admin.set_member(OP, &org, &login, role).await?;
            Report {
                text: format!(
                    "{} is a member of \"{org}\" with the role {}",
                    member.login,
                    member.role.as_str()
                ),
                json: member_json(&member),
            }
        }
        OrgCommand::MemberRemove { org, login } => {
            admin.remove_member(OP, &org, &login).await?;
            Report {
                text: format!(
                    "{login} is no longer a member of \"{org}\" and has lost its access to the \
                     organization's mailboxes"
                ),
                json: json!({"organization": org, "removed": login}),
            }
        }
    })
}

fn member_json(member: &Member) -> Value {
    json!({
        "user_id": member.user,
        "login": member.login,
        "display_name": member.display_name,
        "role": member.role.as_str(),
    })
}
