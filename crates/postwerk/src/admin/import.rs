//! `admin address import`: many addresses from one CSV file (ADDR-3). The file is checked as
//! a whole first (`Admin::plan_bulk`); with a bad line nothing is created unless
//! `--skip-invalid`. Creation shows a progress bar on a terminal, and the generated passwords
//! leave once, in the result CSV: to a new file readable by its owner only, or to stdout.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use postwerk_core::{BulkOptions, BulkOutcome, BulkPlan, LineProblem};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{Context, OP, Report, Unfinished};

/// The options of `address import`.
pub struct ImportOptions {
    pub skip_invalid: bool,
    pub dry_run: bool,
    pub result: Option<PathBuf>,
}

pub async fn run(
    ctx: &Context,
    domain: &str,
    file: &Path,
    options: ImportOptions,
) -> anyhow::Result<Report> {
    let csv = tokio::fs::read(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let plan = ctx.admin.plan_bulk(OP, domain, &csv).await?;
    if !plan.problems.is_empty() && !options.skip_invalid {
        return Err(bad_lines(file, &plan).into());
    }
    if options.dry_run {
        return Ok(dry_run_report(file, &plan));
    }
    // Opened before anything is created: if it cannot be, no password is generated and lost.
    let mut sink = match &options.result {
        Some(path) => Some(create_private(path)?),
        None => None,
    };
    let bar = progress_bar(ctx.json, plan.lines.len());
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let bulk = BulkOptions {
        skip_invalid: options.skip_invalid,
    };
    let outcome = ctx.admin.run_bulk(OP, plan, bulk, &progress).await;
    bar.finish_and_clear();
    let outcome = outcome?;
    let result_csv = Zeroizing::new(outcome.result_csv());
    if let (Some(file), Some(path)) = (sink.as_mut(), &options.result) {
        file.write_all(result_csv.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write the result to {}", path.display()))?;
    }
    let report = outcome_report(ctx, &outcome, options.result.as_deref(), &result_csv);
    if outcome.failed.is_empty() {
        Ok(report)
    } else {
        let message = format!(
            "{} could not be created; the others were, and are in the result:\n{}",
            lines(outcome.failed.len()),
            problem_list(&outcome.failed)
        );
        Err(Unfinished { report, message }.into())
    }
}

/// The refusal of a file with bad lines: each line with its reason, nothing created.
fn bad_lines(file: &Path, plan: &BulkPlan) -> Unfinished {
    let good = plan.lines.len();
    let message = format!(
        "{}: {} cannot be created, so nothing was; fix {}, or add --skip-invalid to create the \
         {good} good one{}:\n{}",
        file.display(),
        lines(plan.problems.len()),
        if plan.problems.len() == 1 {
            "it"
        } else {
            "them"
        },
        if good == 1 { "" } else { "s" },
        problem_list(&plan.problems)
    );
    Unfinished {
        report: Report {
            // The lines are in the message on stderr; scripts read them from the JSON.
            text: String::new(),
            json: json!({
                "domain": plan.domain,
                "created": [],
                "problems": plan.problems.iter().map(problem_json).collect::<Vec<_>>(),
            }),
        },
        message,
    }
}

fn dry_run_report(file: &Path, plan: &BulkPlan) -> Report {
    let mut text = format!(
        "{}: {} would be created in {}",
        file.display(),
        count_addresses(plan.lines.len()),
        plan.domain
    );
    if !plan.problems.is_empty() {
        text.push_str(&format!(
            "; {} would be skipped:\n{}",
            lines(plan.problems.len()),
            problem_list(&plan.problems)
        ));
    }
    Report {
        text,
        json: json!({
            "domain": plan.domain,
            "dry_run": true,
            "would_create": plan
                .lines
                .iter()
                .map(|l| json!({"line": l.line, "address": l.address}))
                .collect::<Vec<_>>(),
            "skipped": plan.problems.iter().map(problem_json).collect::<Vec<_>>(),
        }),
    }
}

/// What a run did. Without `--result`, the result CSV is the text on stdout (so it can be
/// redirected to a file) and the summary goes to stderr.
fn outcome_report(
    ctx: &Context,
    outcome: &BulkOutcome,
    result: Option<&Path>,
    result_csv: &str,
) -> Report {
    let mut summary = format!("created {}", count_addresses(outcome.created.len()));
    if let Some(path) = result {
        summary.push_str(&format!(
            "; the result with the generated passwords is in {} (readable by you only; they \
             are shown nowhere else)",
            path.display()
        ));
    }
    if !outcome.skipped.is_empty() {
        summary.push_str(&format!(
            "\nskipped {}:\n{}",
            lines(outcome.skipped.len()),
            problem_list(&outcome.skipped)
        ));
    }
    let json = json!({
        "created": outcome
            .created
            .iter()
            .map(|c| json!({
                "line": c.line,
                "address": c.address,
                "password_generated": c.generated_password.is_some(),
            }))
            .collect::<Vec<_>>(),
        "skipped": outcome.skipped.iter().map(problem_json).collect::<Vec<_>>(),
        "failed": outcome.failed.iter().map(problem_json).collect::<Vec<_>>(),
        "result_file": result.map(|p| p.display().to_string()),
        "result_csv": if result.is_none() { Some(result_csv) } else { None },
    });
    let text = if result.is_some() {
        summary
    } else {
        if !ctx.json {
            eprintln!("{summary}");
        }
        result_csv.to_string()
    };
    Report { text, json }
}

/// The result file: new (never overwriting an earlier result, whose passwords would be lost)
/// and readable by its owner only, since it holds passwords.
fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; a result holds passwords, so it is never overwritten: \
                 choose another --result file",
                path.display()
            )
        } else {
            anyhow::Error::new(error).context(format!("cannot create {}", path.display()))
        }
    })
}

/// A bar on stderr for people; hidden for scripts (`--json`, or stderr not a terminal).
fn progress_bar(json: bool, total: usize) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) =
        ProgressStyle::with_template("creating addresses {bar:40} {pos}/{len} ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

fn problem_list(problems: &[LineProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            if p.line == 0 {
                format!("  the file: {}", p.reason)
            } else if p.address.is_empty() {
                format!("  line {}: {}", p.line, p.reason)
            } else {
                format!("  line {} ({}): {}", p.line, p.address, p.reason)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn problem_json(problem: &LineProblem) -> Value {
    json!({"line": problem.line, "address": problem.address, "reason": problem.reason})
}

fn lines(n: usize) -> String {
    if n == 1 {
        "1 line".to_string()
    } else {
        format!("{n} lines")
    }
}

fn count_addresses(n: usize) -> String {
    if n == 1 {
        "1 address".to_string()
    } else {
        format!("{n} addresses")
    }
}
