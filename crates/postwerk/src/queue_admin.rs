//! `postwerk admin queue …`: what waits in the outbound queue, and the administrator's
//! levers on it: retry now and delete (issue 6 item 9), and release for the submissions held
//! as spam (SND-6). Works on the data folder like every
//! admin command; a running server's workers see the change at their next look at the queue.

use std::sync::Arc;

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use postwerk_core::{Delivered, Delivery};
use postwerk_store::{QueueId, QueueStore, QueuedMessage, RecipientStatus, StoreError};
use serde_json::{Value, json};

use crate::admin::Report;

/// The `queue` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Every queued message: id, age, sender, recipients still pending.
    List,
    /// One message: its envelope and where each recipient stands.
    Show {
        /// The queue id, as `list` shows it.
        id: i64,
    },
    /// Attempt delivery of pending recipients now instead of at their scheduled time.
    Retry {
        /// Queue ids; none with --all.
        ids: Vec<i64>,
        /// Every queued message.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Send messages held as spam (SND-6) as their mailbox submitted them: local recipients
    /// get them at once, the others through the queue.
    Release {
        /// Queue ids of held messages, as `list` shows them.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Remove messages from the queue without delivering them and without telling their
    /// senders. Irreversible. This is also how a held message is refused.
    Delete {
        /// Queue ids; none with --all.
        ids: Vec<i64>,
        /// Every queued message (needs --yes).
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Confirms --all.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs one queue command against `queue`.
pub async fn execute(
    queue: &Arc<dyn QueueStore>,
    delivery: &Delivery,
    command: QueueCommand,
) -> anyhow::Result<Report> {
    let now = Utc::now().timestamp();
    match command {
        QueueCommand::List => {
            let messages = queue.queued().await?;
            let text = if messages.is_empty() {
                "the queue is empty".to_string()
            } else {
                messages
                    .iter()
                    .map(|m| summary_line(m, now))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Report {
                text,
                json: messages.iter().map(message_json).collect(),
            })
        }
        QueueCommand::Show { id } => {
            let message = queue.queued_message(QueueId(id)).await?;
            Ok(Report {
                text: detail(&message, now),
                json: message_json(&message),
            })
        }
        QueueCommand::Retry { ids, all } => {
            let ids = chosen(queue, ids, all).await?;
            let total = ids.len();
            for (done, id) in ids.iter().enumerate() {
                queue.retry_now(*id, now).await?;
                progress("retrying", done + 1, total);
            }
            Ok(Report {
                text: format!("{total} message(s) will be attempted now"),
                json: json!({"retried": ids.iter().map(|id| id.0).collect::<Vec<_>>()}),
            })
        }
        QueueCommand::Release { ids } => {
            let mut released = Vec::with_capacity(ids.len());
            for id in ids {
                match delivery.release_held(QueueId(id), now).await? {
                    Delivered::Accepted { stored, queued } => released.push(json!({
                        "id": id,
                        "stored": stored,
                        "queued": queued.map(|q| q.0),
                    })),
                    Delivered::SenderDenied => bail!(
                        "queued message {id} names a From: address its mailbox no longer owns \
                         (SND-1); it stays held"
                    ),
                    Delivered::Refused(reply) => bail!(
                        "queued message {id} was refused: {}; it stays held",
                        reply.text
                    ),
                    Delivered::Held { .. } => {
                        bail!("queued message {id} was held again; it stays held")
                    }
                }
            }
            Ok(Report {
                text: format!("{} held message(s) released", released.len()),
                json: json!({ "released": released }),
            })
        }
        QueueCommand::Delete { ids, all, yes } => {
            if all && !yes {
                bail!("deleting the whole queue cannot be undone; add --yes to confirm");
            }
            let ids = chosen(queue, ids, all).await?;
            let total = ids.len();
            let mut deleted = Vec::with_capacity(total);
            for (done, id) in ids.iter().enumerate() {
                match queue.dequeue(*id).await {
                    Ok(()) => deleted.push(id.0),
                    // Delivered (or given up on) and removed by a worker since it was listed.
                    Err(StoreError::NotFound(_)) => {}
                    Err(error) => return Err(error.into()),
                }
                progress("deleting", done + 1, total);
            }
            Ok(Report {
                text: format!("{} message(s) deleted from the queue", deleted.len()),
                json: json!({ "deleted": deleted }),
            })
        }
    }
}

/// The ids a retry or delete applies to: the given ones (each must exist), or all.
async fn chosen(
    queue: &Arc<dyn QueueStore>,
    ids: Vec<i64>,
    all: bool,
) -> anyhow::Result<Vec<QueueId>> {
    if all {
        return Ok(queue.queued().await?.iter().map(|m| m.id).collect());
    }
    if ids.is_empty() {
        bail!("name at least one queue id (see `postwerk admin queue list`), or use --all");
    }
    for id in &ids {
        queue.queued_message(QueueId(*id)).await?;
    }
    Ok(ids.into_iter().map(QueueId).collect())
}

/// Progress on stderr for long runs, so `--json` output on stdout stays one document.
fn progress(verb: &str, done: usize, total: usize) {
    if total > 1 {
        eprint!("\r{verb} {done}/{total}");
        if done == total {
            eprintln!();
        }
    }
}

fn summary_line(message: &QueuedMessage, now: i64) -> String {
    let pending = message
        .states
        .iter()
        .filter(|s| s.status == RecipientStatus::Pending)
        .count();
    let next = message
        .states
        .iter()
        .filter(|s| s.status == RecipientStatus::Pending)
        .map(|s| s.next_attempt_at)
        .min();
    let next = match next {
        _ if message.message.held.is_some() => "HELD (postwerk admin queue show/release)".into(),
        Some(at) if at > now => format!("next attempt in {}", age(at - now)),
        Some(_) => "due now".to_string(),
        None => "finishing".to_string(),
    };
    format!(
        "{:>6}  {:>6}  {:>8}  {}  {} of {} pending, {}",
        message.id,
        age(now - message.message.received_at),
        message.size,
        sender(&message.message.return_path),
        pending,
        message.states.len(),
        next
    )
}

fn detail(message: &QueuedMessage, now: i64) -> String {
    let m = &message.message;
    let mut text = format!(
        "queue id {}\nfrom     {}\nreceived {} ({} ago)\nsize     {} octets\n",
        message.id,
        sender(&m.return_path),
        date(m.received_at),
        age(now - m.received_at),
        message.size
    );
    if let Some(envid) = &m.envid {
        text.push_str(&format!("envid    {envid}\n"));
    }
    if let Some(reason) = &m.held {
        text.push_str(&format!(
            "HELD     {reason}\n         release: postwerk admin queue release {id}\n         \
             refuse:  postwerk admin queue delete {id}\n",
            id = message.id
        ));
    }
    for (rcpt, state) in m.recipients.iter().zip(&message.states) {
        text.push_str(&format!(
            "\n{}  {}, {} attempt(s)",
            rcpt.address,
            status_name(state.status),
            state.attempts
        ));
        if let Some(by) = &rcpt.forwarded_by {
            text.push_str(&format!(", forwarded by {by}"));
        }
        if state.status == RecipientStatus::Pending {
            text.push_str(&format!(", next {}", date(state.next_attempt_at.max(now))));
        }
        if let Some(diagnostic) = &state.diagnostic {
            let from = state.remote_mta.as_deref().unwrap_or("this server");
            text.push_str(&format!("\n    last answer ({from}): {diagnostic}"));
        }
    }
    text
}

fn message_json(message: &QueuedMessage) -> Value {
    let m = &message.message;
    json!({
        "id": message.id.0,
        "return_path": m.return_path,
        "received_at": m.received_at,
        "size": message.size,
        "envid": m.envid,
        "held": m.held,
        "recipients": m.recipients.iter().zip(&message.states).map(|(r, s)| json!({
            "address": r.address.to_string(),
            "forwarded_by": r.forwarded_by.as_ref().map(ToString::to_string),
            "status": status_name(s.status),
            "attempts": s.attempts,
            "next_attempt_at": s.next_attempt_at,
            "last_attempt_at": s.last_attempt_at,
            "last_status": s.last_status,
            "diagnostic": s.diagnostic,
            "remote_mta": s.remote_mta,
            "delay_notified": s.delay_notified,
        })).collect::<Vec<_>>(),
    })
}

fn status_name(status: RecipientStatus) -> &'static str {
    match status {
        RecipientStatus::Pending => "pending",
        RecipientStatus::Delivered => "delivered",
        RecipientStatus::Failed => "failed",
    }
}

fn sender(return_path: &str) -> &str {
    if return_path.is_empty() {
        "<>"
    } else {
        return_path
    }
}

fn date(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0).map_or_else(
        || at.to_string(),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A duration the way a person reads it: `45s`, `12m`, `5h`, `2d`.
fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(4 * 3600), "4h");
        assert_eq!(age(3 * 86400 + 5), "3d");
    }
}
