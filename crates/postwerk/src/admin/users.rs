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
        UserCommand::Contact {
            login,
            phone,
            recovery_email,
        } => {
            let parsed = postwerk_model::Address::parse(&login)?;
            let Some(user) = ctx.stores.directory.user_by_login(&parsed).await? else {
                anyhow::bail!("there is no user account {login}");
            };
            // An absent option keeps the current value; an empty one removes it.
            let phone = match phone {
                Some(phone) => Some(phone).filter(|p| !p.trim().is_empty()),
                None => user.phone.clone(),
            };
            let recovery_email = match recovery_email {
                Some(email) => Some(email).filter(|e| !e.trim().is_empty()),
                None => user.recovery_email.as_ref().map(ToString::to_string),
            };
            let updated = ctx
                .identity
                .set_contact(user.id, phone.as_deref(), recovery_email.as_deref(), None)
                .await?;
            let text = format!(
                "recovery details of {}: phone {}, recovery email {}",
                updated.login,
                updated.phone.as_deref().unwrap_or("none"),
                updated
                    .recovery_email
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), ToString::to_string)
            );
            Report {
                text,
                json: user_json(&updated),
            }
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
        "phone": user.phone,
        "recovery_email": user.recovery_email,
        "must_choose_login": user.must_choose_login,
        "created_at": user.created_at,
    })
}
