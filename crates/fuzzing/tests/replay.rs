//! Issue 10 item 2: every committed fuzz input, the seed corpus (`fuzz/corpus/<target>/`) and
//! every crash once found (`fuzz/regressions/<target>/`), goes through its target's function on
//! the stable toolchain, without libFuzzer. A crash fixed once stays fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use postwerk_fuzzing::{TARGETS, Target};

/// The cargo-fuzz project, at the workspace root.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `folder` (none when the folder does not exist), sorted for stable reports.
fn inputs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `kind` (`corpus` or `regressions`) through its target; returns how many
/// ran and the paths of those that panicked.
fn replay(target: &Target, kind: &str) -> (usize, Vec<String>) {
    let files = inputs(&fuzz_dir().join(kind).join(target.name));
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        if catch_unwind(AssertUnwindSafe(|| (target.run)(&data))).is_err() {
            failures.push(path.display().to_string());
        }
    }
    (files.len(), failures)
}

#[test]
fn every_seed_input_runs_through_its_target_without_a_panic() {
    let mut failures = Vec::new();
    for target in &TARGETS {
        let (count, failed) = replay(target, "corpus");
        // A target without seeds would be fuzzed from nothing and replay nothing.
        assert!(count > 0, "fuzz/corpus/{} has no seed input", target.name);
        failures.extend(failed);
    }
    assert!(failures.is_empty(), "these inputs panic: {failures:#?}");
}

#[test]
fn every_crash_found_by_fuzzing_stays_fixed() {
    let mut failures = Vec::new();
    for target in &TARGETS {
        failures.extend(replay(target, "regressions").1);
    }
    assert!(
        failures.is_empty(),
        "these inputs panic again: {failures:#?}"
    );
}

#[test]
fn every_target_has_its_fuzz_target_file_and_folders() {
    for target in &TARGETS {
        let source = fuzz_dir().join(format!("fuzz_targets/{}.rs", target.name));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", source.display()));
        assert!(
            text.contains(&format!("postwerk_fuzzing::{}(", target.name)),
            "{} calls postwerk_fuzzing::{}",
            source.display(),
            target.name
        );
    }
}
