//! The admin CLI driven as a script drives it: `postwerk admin --data-dir DIR …` on a data
//! folder of its own, with the checks every CLI test makes of an answer (success with its
//! output, `--json` that parses, a refusal that is one sentence and never a debug dump).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// A data folder of its own and the binary that manages it.
pub struct Cli {
    binary: PathBuf,
    dir: tempfile::TempDir,
}

impl Cli {
    /// A fresh, empty data folder for `binary`.
    pub fn new(binary: &Path) -> Cli {
        Cli {
            binary: binary.to_path_buf(),
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// The data folder.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A path beside the data folder, for files a test writes or reads.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `postwerk admin --data-dir DATA ARGS…`.
    pub fn run(&self, args: &[&str]) -> Output {
        crate::admin(&self.binary, &self.data(), args)
    }

    /// Runs a command that must succeed; answers its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs a command with `--json` that must succeed; answers the parsed document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let out = self.ok(&with_json);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}:\n{out}"))
    }

    /// Runs a command that must fail with one short message; answers its stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let stderr = self.failed(args);
        assert!(
            stderr.lines().count() <= 2,
            "one clear sentence expected, got:\n{stderr}"
        );
        stderr
    }

    /// Runs a command that must fail with a message (of any length); answers its stderr.
    pub fn failed(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should have failed");
        let stderr = String::from_utf8(out.stderr).expect("UTF-8 output");
        assert!(stderr.starts_with("postwerk: "), "{stderr}");
        assert!(
            !stderr.contains("Error {") && !stderr.contains("panicked"),
            "{stderr}"
        );
        stderr
    }

    /// The addresses of `domain`, as `address list --json` gives them.
    pub fn addresses(&self, domain: &str) -> Vec<String> {
        let list = self.json(&["address", "list", domain]);
        list.as_array()
            .expect("a list")
            .iter()
            .map(|a| a["address"].as_str().expect("an address").to_string())
            .collect()
    }
}
