//! `admin user …`: user accounts (ID-1). They log into the Manager and webmail, never into
//! IMAP, POP3 or SMTP.

use postwerk_core::CreateUser;
use postwerk_model::{Role, UserAccount};
use serde_json::{Value, json};

use super::{Context, OP, Report};
use crate::cli::admin::UserCommand;

pub async fn execute(ctx: &Context, command: UserCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        UserCommand::Create {
            login,
            password,
            org,
            role,
            name,
        } => {
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
            let created = admin.create_user(OP, request).await?;
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
        UserCommand::List => {
            let users = admin.list_users(OP).await?;
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
        UserCommand::Passwd { login, password } => {
            let generated = admin
                .set_user_password(OP, &login, password.as_deref())
                .await?;
            password_report(
                &format!("password of the user account {login} changed"),
                generated.as_deref().map(String::as_str),
            )
        }
    })
}

/// A password change, with the generated password shown once.
pub fn password_report(message: &str, generated: Option<&str>) -> Report {
    let mut text = message.to_string();
    if let Some(password) = generated {
        text.push_str(&format!("\nnew password (shown once): {password}"));
    }
    Report {
        text,
        json: json!({"changed": true, "generated_password": generated}),
    }
}

fn user_json(user: &UserAccount) -> Value {
    json!({
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "two_factor": user.totp_secret.is_some(),
        "created_at": user.created_at,
    })
}
