//! `admin recovery …`: identity-verification requests (ID-8, ID-9). A person who has neither a
//! recovery email nor a phone (or no longer their login) asks to be identified; the operator
//! checks who they are by other means, acts (`admin user passwd`, `admin user contact`), and
//! closes the request with a note.

use postwerk_store::VerificationRequest;
use serde_json::{Value, json};

use super::format::{date, table};
use super::{Context, OP, Report};
use crate::cli::admin::RecoveryCommand;

pub async fn execute(ctx: &Context, command: RecoveryCommand) -> anyhow::Result<Report> {
    match command {
        RecoveryCommand::Requests { all } => {
            let requests = ctx.recovery.verification_requests(OP, !all).await?;
            let mut rows = vec![
                ["id", "time", "name", "login", "phone", "email", "state"]
                    .map(String::from)
                    .to_vec(),
            ];
            rows.extend(requests.iter().map(|request| {
                vec![
                    request.id.to_string(),
                    date(request.created_at),
                    request.name.clone(),
                    request.login.clone().unwrap_or_default(),
                    request.phone.clone().unwrap_or_default(),
                    request.email.clone().unwrap_or_default(),
                    if request.closed_at.is_some() {
                        "closed".into()
                    } else {
                        "open".into()
                    },
                ]
            }));
            let text = if requests.is_empty() {
                "no verification requests".to_owned()
            } else {
                table(&rows)
            };
            Ok(Report {
                text,
                json: Value::Array(requests.iter().map(request_json).collect()),
            })
        }
        RecoveryCommand::Close { id, note } => {
            ctx.recovery
                .close_verification_request(OP, id, &note)
                .await?;
            Ok(Report {
                text: format!("closed verification request {id}"),
                json: json!({"closed": id}),
            })
        }
    }
}

fn request_json(request: &VerificationRequest) -> Value {
    json!({
        "id": request.id,
        "created_at": request.created_at,
        "name": request.name,
        "message": request.message,
        "login": request.login,
        "phone": request.phone,
        "email": request.email,
        "matched_account": request.user.is_some(),
        "closed_at": request.closed_at,
        "resolution": request.resolution,
    })
}
