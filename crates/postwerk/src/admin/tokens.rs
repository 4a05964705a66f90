//! `admin token …`: the operator's API tokens, for scripts that call the REST API. The secret
//! is printed once, at creation; only its digest is stored.

use anyhow::bail;
use postwerk_model::ApiTokenId;
use postwerk_store::{ApiToken, TokenScope};
use serde_json::{Value, json};

use super::format::{date, table};
use super::{Context, OP, Report};
use crate::cli::admin::{ScopeArg, TokenCommand};

const DAY_SECS: i64 = 86_400;

pub async fn execute(ctx: &Context, command: TokenCommand) -> anyhow::Result<Report> {
    let auth = &ctx.auth;
    let now = chrono::Utc::now().timestamp();
    Ok(match command {
        TokenCommand::Create {
            name,
            scope,
            expires_days,
        } => {
            let expires_at = match expires_days {
                Some(0) => bail!("--expires-days must be at least 1"),
                Some(days) => Some(now + i64::from(days) * DAY_SECS),
                None => None,
            };
            let scope = match scope {
                ScopeArg::Read => TokenScope::Read,
                ScopeArg::Write => TokenScope::Write,
            };
            let issued = auth.create_token(OP, &name, scope, expires_at).await?;
            let token = &issued.token;
            let text = format!(
                "created token {} \"{}\" ({}, {})\n\
                 secret (shown once; send it as `Authorization: Bearer <secret>`):\n{}",
                token.id,
                token.name,
                token.scope.as_str(),
                expiry(token),
                issued.secret.as_str()
            );
            let mut json = token_json(token, now);
            json["secret"] = json!(issued.secret.as_str());
            Report { text, json }
        }
        TokenCommand::List => {
            let tokens = auth.list_tokens(OP).await?;
            let text = if tokens.is_empty() {
                "no tokens yet; `postwerk admin token create NAME` makes one".to_string()
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            t.scope.as_str().to_string(),
                            state(t, now),
                            t.last_used_at.map_or_else(
                                || "never used".to_string(),
                                |at| format!("last used {}", date(at)),
                            ),
                        ]
                    })
                    .collect();
                table(&rows)
            };
            Report {
                text,
                json: tokens.iter().map(|t| token_json(t, now)).collect(),
            }
        }
        TokenCommand::Revoke { id } => {
            auth.revoke_token(OP, ApiTokenId(id)).await?;
            Report {
                text: format!("token {id} revoked: it no longer works"),
                json: json!({"revoked": id}),
            }
        }
    })
}

fn expiry(token: &ApiToken) -> String {
    match token.expires_at {
        Some(at) => format!("expires {}", date(at)),
        None => "works until revoked".to_string(),
    }
}

/// Whether the token works now, and if not since when.
fn state(token: &ApiToken, now: i64) -> String {
    match (token.revoked_at, token.expires_at) {
        (Some(at), _) => format!("revoked {}", date(at)),
        (None, Some(at)) if at <= now => format!("expired {}", date(at)),
        _ => expiry(token),
    }
}

fn token_json(token: &ApiToken, now: i64) -> Value {
    let active = token.revoked_at.is_none() && token.expires_at.is_none_or(|at| at > now);
    json!({
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "scope": token.scope,
        "active": active,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    })
}
