//! `admin notifications list`: the SMS the notifier wrote to the outbox gateway (ID-12), which
//! the operator reads (and passes on) when no SMS provider is configured.

use serde_json::{Value, json};

use super::format::{date, table};
use super::{Context, OP, Report};
use crate::cli::admin::NotificationsCommand;

pub async fn execute(ctx: &Context, command: NotificationsCommand) -> anyhow::Result<Report> {
    match command {
        NotificationsCommand::List { limit } => {
            let messages = ctx.recovery.sms_outbox(OP, limit).await?;
            let mut rows = vec![vec![
                "id".into(),
                "time".into(),
                "phone".into(),
                "text".into(),
            ]];
            rows.extend(messages.iter().map(|sms| {
                vec![
                    sms.id.to_string(),
                    date(sms.created_at),
                    sms.phone.clone(),
                    sms.body.clone(),
                ]
            }));
            let text = if messages.is_empty() {
                "the SMS outbox is empty".to_owned()
            } else {
                table(&rows)
            };
            let json = messages
                .iter()
                .map(|sms| {
                    json!({
                        "id": sms.id,
                        "phone": sms.phone,
                        "body": sms.body,
                        "created_at": sms.created_at,
                    })
                })
                .collect();
            Ok(Report {
                text,
                json: Value::Array(json),
            })
        }
    }
}
