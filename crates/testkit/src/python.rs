//! Python as an independent client or checker: a script given inline, its input on stdin
//! (documents and messages are often larger than an argument may be), its answer on stdout.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `python3 -c script args…` with `input` on stdin and returns its standard output.
/// A script that fails fails the test, with its error output and `input` shown.
pub fn run(script: &str, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is installed (.ci/run installs it)");
    // A script that failed early closed its stdin; its error output below says why.
    let _ = child.stdin.take().expect("stdin").write_all(input);
    let output = child.wait_with_output().expect("python3 ends");
    assert!(
        output.status.success(),
        "python3 failed: {}\ninput: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&input[..input.len().min(2000)])
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// [`run`], whose output is one JSON document.
pub fn json(script: &str, args: &[&str], input: &[u8]) -> serde_json::Value {
    let out = run(script, args, input);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("python3 printed no JSON ({e}): {out}"))
}
