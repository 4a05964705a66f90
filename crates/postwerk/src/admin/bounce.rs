//! `admin bounce explain [FILE]`: the bounce explainer of the webmail (CLI-2) on a saved
//! message — a file, or standard input — printed as text or, with `--json`, as one document.
//!
//! It reads no data folder: the explanation depends on the message alone
//! (`postwerk_core::bounce::explain`), so it runs anywhere, beside a server or not.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use postwerk_core::bounce::{self, Explanation};
use serde_json::Value;

use super::Report;
use crate::cli::admin::BounceCommand;

/// Runs the command and prints its report.
pub fn run(command: &BounceCommand, json: bool) -> anyhow::Result<()> {
    match command {
        BounceCommand::Explain { file } => {
            let raw = read_message(file.as_deref())?;
            let Some(explanation) = bounce::explain(&raw) else {
                anyhow::bail!(
                    "this message is not a delivery failure or delay report: it has no \
                     delivery-status part and does not come from a mail system"
                );
            };
            super::print(&render(&explanation)?, json)
        }
    }
}

/// The error of the generic dispatch, which this command never goes through: [`run`] is
/// called before the data folder is opened.
pub fn needs_no_data_folder() -> anyhow::Error {
    anyhow::anyhow!("bounce explain reads a message, not the data folder")
}

/// The message from `file`, or from standard input without one.
fn read_message(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
        None => {
            let mut raw = Vec::new();
            std::io::stdin()
                .read_to_end(&mut raw)
                .context("cannot read the message from standard input")?;
            Ok(raw)
        }
    }
}

/// The summary, then per recipient its class, what happened, what to do and the server's
/// words; the JSON is the explanation with each class's sentences added.
fn render(explanation: &Explanation) -> anyhow::Result<Report> {
    let mut text = format!(
        "Delivery {}: {}\n",
        explanation.action.as_str(),
        explanation.summary
    );
    for recipient in &explanation.recipients {
        let class = recipient.class;
        text.push('\n');
        text.push_str(&format!(
            "{} — {}",
            recipient
                .address
                .as_deref()
                .unwrap_or("(recipient not named)"),
            class.label()
        ));
        match &recipient.status {
            Some(status) => text.push_str(&format!(
                " ({}, status {status})\n",
                recipient.action.as_str()
            )),
            None => text.push_str(&format!(" ({})\n", recipient.action.as_str())),
        }
        text.push_str(&format!("  What happened: {}\n", class.what_happened()));
        text.push_str(&format!("  What to do: {}\n", class.what_to_do()));
        if let Some(words) = &recipient.diagnostic {
            match &recipient.remote_mta {
                Some(mta) => text.push_str(&format!("  The server {mta} said: {words}\n")),
                None => text.push_str(&format!("  The server said: {words}\n")),
            }
        }
    }
    let mut json = serde_json::to_value(explanation)?;
    if let Some(Value::Array(recipients)) = json.get_mut("recipients") {
        for (value, recipient) in recipients.iter_mut().zip(&explanation.recipients) {
            if let Value::Object(fields) = value {
                let class = recipient.class;
                fields.insert("label".into(), class.label().into());
                fields.insert("what_happened".into(), class.what_happened().into());
                fields.insert("what_to_do".into(), class.what_to_do().into());
            }
        }
    }
    Ok(Report { text, json })
}
