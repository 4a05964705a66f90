//! `admin fsck [--repair] [--deep]`: the store's invariants checked, and repaired when asked
//! (issue 10; what is checked and what a repair does is in `postwerk_store::fsck` and
//! docs/RELIABILITY.md).
//!
//! Unlike the other commands it does not open the store: the store's writer would hold the
//! database, and a repair needs it alone (it refuses while a server has it open). A check
//! opens it read-only, so it may run beside a server.

use std::path::Path;

use postwerk_store::{Depth, FsckReport, Repair};
use serde_json::json;

use super::Report;
use crate::cli::admin::FsckArgs;

/// Check (and with `--repair` repair) the data folder; prints the report, then fails while
/// problems remain unrepaired, so a script can test the exit status.
pub async fn run(data_dir: &Path, args: &FsckArgs, json: bool) -> anyhow::Result<()> {
    let repair = if args.repair { Repair::Yes } else { Repair::No };
    let depth = if args.deep { Depth::Deep } else { Depth::Quick };
    let report = postwerk_store::fsck::check(data_dir, repair, depth)
        .await
        .map_err(|e| anyhow::anyhow!("cannot check {}: {e}", data_dir.display()))?;
    super::print(&render(&report), json)?;
    match report.unrepaired() {
        0 => Ok(()),
        left if args.repair => anyhow::bail!(
            "{left} problem{} could not be repaired: restore the files named above from a \
             backup, or remove what they name",
            plural(left)
        ),
        left => anyhow::bail!(
            "{left} problem{} found: run `postwerk admin fsck --repair` with the server \
             stopped to repair those that can be",
            plural(left)
        ),
    }
}

/// The error of the generic dispatch, which fsck never goes through: [`run`] is called
/// before the store opens.
pub fn needs_its_own_connection() -> anyhow::Error {
    anyhow::anyhow!("fsck must run before the data folder is opened for other commands")
}

/// One line per finding and a summary line; the JSON has the findings and the counts.
fn render(report: &FsckReport) -> Report {
    let mut text = String::new();
    for finding in &report.findings {
        let mark = if finding.repaired {
            "repaired"
        } else {
            "PROBLEM "
        };
        text.push_str(&format!(
            "{mark} {:<10} {}: {}\n",
            finding.check.as_str(),
            finding.subject,
            finding.problem
        ));
    }
    text.push_str(&format!(
        "{} problem{}, {} repaired\n",
        report.problems(),
        plural(report.problems()),
        report.repaired()
    ));
    Report {
        text,
        json: json!({
            "findings": report.findings,
            "problems": report.problems(),
            "repaired": report.repaired(),
            "unrepaired": report.unrepaired(),
        }),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
