//! Crash safety, the short version that runs in CI (issue 10, items 1 and 4; the long one is
//! `bench/crash/run.sh`). The real binary is loaded by `bench/crash/load.py` (Python's smtplib
//! and imaplib, so the client is independent of our code), killed with SIGKILL — or stopped with
//! SIGTERM — when the load driver's journal reaches given counts of acknowledged messages (no
//! timings), restarted on the same data folder, and `bench/crash/check.py` then compares the
//! journal with the mailboxes read over IMAP.
//!
//! What "exactly once" means: RCV-12 fsyncs a message before its `250`, so a message the
//! client got `250` for must be there exactly once. A message whose final dot was sent but
//! whose reply was lost in the kill is retried by the client, as a real MTA would; when the
//! server had committed it before dying, the retry carries the same bytes from the same sender,
//! and the delivery fingerprints (`MailStore::deliver_once`, migration 0013) keep the mailbox
//! at one copy. So no duplicate is allowed at all, nor any lost or corrupted acknowledged
//! message. Before the fingerprints, `bench/crash/run.sh 20` measured 5 and 7 duplicates per 20
//! kills, all of them such retries (RFC 1047's window, docs/RELIABILITY.md "Crash safety").
//! After the kills, `postwerk admin fsck --deep` must find nothing.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use postwerk_testkit::TestServer;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const LOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/crash/load.py");
const CHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/crash/check.py");

/// Generous guard against a hang (a server that never answers again); never a timing check.
const HANG_GUARD: Duration = Duration::from_secs(300);

const LISTENERS: &[&str] = &["smtp", "imap"];
/// The per-client rate limit (RCV-8) would refuse a load from one address, and a spam verdict
/// (RCV-4) on the filler text would file a message in Junk, where the checker does not look;
/// this test is about the store. Greylisting is off in every test server unless asked for.
const CONFIG: &str = "[rate]\nenabled = false\n[spam]\nenabled = false\n";

const MAILBOXES: [(&str, &str); 2] = [
    ("crash1@example.com", "crash-password-1"),
    ("crash2@example.com", "crash-password-2"),
];

/// Connections of the load driver.
const CONNECTIONS: &str = "4";
/// Acknowledged messages (SMTP) or changes (IMAP) between two kills.
const STEP: usize = 40;
const KILLS: usize = 3;

const JOURNAL: &str = "journal.jsonl";
const PORT_FILE: &str = "port";
const STOP_FILE: &str = "stop";

/// A server hosting example.com with the two mailboxes.
fn server() -> TestServer {
    let server = TestServer::start_with(Path::new(BIN), LISTENERS, CONFIG).unwrap();
    server.admin_ok(&["org", "create", "Crash"]);
    server.admin_ok(&["service", "create", "example.com", "--org", "Crash"]);
    for (address, password) in MAILBOXES {
        server.admin_ok(&["address", "create", address, "--password", password]);
    }
    server
}

/// The load driver, its journal and the files through which the test steers it.
struct Load {
    child: Child,
    dir: tempfile::TempDir,
}

impl Load {
    /// Starts `load.py MODE` against the listener of the same name.
    fn start(server: &TestServer, mode: &str) -> Load {
        let dir = tempfile::tempdir().unwrap();
        write_port(dir.path(), &server.addr(mode).port().to_string());
        let output = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let mut command = Command::new("python3");
        command
            .arg(LOAD)
            .arg(mode)
            .arg("--journal")
            .arg(dir.path().join(JOURNAL))
            .arg("--port-file")
            .arg(dir.path().join(PORT_FILE))
            .arg("--stop-file")
            .arg(dir.path().join(STOP_FILE))
            .arg("--conns")
            .arg(CONNECTIONS);
        if mode == "smtp" {
            command
                .arg("--to")
                .arg(format!("{},{}", MAILBOXES[0].0, MAILBOXES[1].0));
        } else {
            let (user, password) = MAILBOXES[0];
            command
                .arg("--user")
                .arg(user)
                .arg("--password")
                .arg(password);
        }
        let child = command
            .stdout(output("load.out"))
            .stderr(output("load.err"))
            .spawn()
            .expect("python3 runs");
        Load { child, dir }
    }

    /// Tells the driver where `listener` is now.
    fn point_at(&self, server: &TestServer, listener: &str) {
        write_port(self.dir.path(), &server.addr(listener).port().to_string());
    }

    /// Tells the driver the server is down: while the port file is empty it waits instead of
    /// connecting to an old port that a parallel test's server may have bound meanwhile.
    fn server_down(&self) {
        write_port(self.dir.path(), "");
    }

    /// Acknowledgements so far: `250` after the final dot (SMTP) or tagged OKs (IMAP).
    fn acknowledged(&self) -> usize {
        let journal = std::fs::read_to_string(self.dir.path().join(JOURNAL)).unwrap_or_default();
        journal
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| matches!(record["ev"].as_str(), Some("ack" | "imap")))
            .count()
    }

    /// Waits until at least `count` acknowledgements are in the journal.
    fn wait_for(&mut self, count: usize) {
        let started = Instant::now();
        while self.acknowledged() < count {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the load driver exited early ({status}): {}", self.stderr());
            }
            assert!(
                started.elapsed() < HANG_GUARD,
                "no progress to {count} acknowledgements (at {})",
                self.acknowledged()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops new work, lets the driver retry what is pending, and waits for it to exit.
    fn finish(&mut self) {
        std::fs::File::create(self.dir.path().join(STOP_FILE)).unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "load driver failed: {}", self.stderr());
                return;
            }
            assert!(
                started.elapsed() < HANG_GUARD,
                "the load driver did not finish"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the driver printed on stderr (its tracebacks, if any).
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("load.err")).unwrap_or_default()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces the port file atomically, so the driver never reads half of it.
fn write_port(dir: &Path, text: &str) {
    let tmp = dir.join("port.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, dir.join(PORT_FILE)).unwrap();
}

/// Runs check.py against the journal in `dir`; its figures as JSON.
fn check(server: &TestServer, mode: &str, dir: &Path, extra: &[&str]) -> Value {
    let mut command = Command::new("python3");
    command
        .arg(CHECK)
        .arg(mode)
        .arg("--journal")
        .arg(dir.join(JOURNAL))
        .arg("--port")
        .arg(server.addr("imap").port().to_string())
        .args(extra);
    let logins: &[(&str, &str)] = if mode == "smtp" {
        &MAILBOXES
    } else {
        &MAILBOXES[..1]
    };
    for (user, password) in logins {
        command.arg("--login").arg(format!("{user}:{password}"));
    }
    let out = command.output().expect("python3 runs");
    let figures: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "check.py printed no figures: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = writeln!(std::io::stderr(), "{mode} figures: {figures}");
    figures
}

fn figure(figures: &Value, name: &str) -> u64 {
    figures[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no figure {name} in {figures}"))
}

/// Stops the server and runs `postwerk admin fsck --deep` (the store's invariants, every
/// content's SHA-256) on the data folder the kills left behind; it exits 1 on any problem.
fn store_is_consistent(server: &mut TestServer) {
    server.terminate().unwrap();
    let out = server.admin(&["fsck", "--deep"]);
    assert!(
        out.status.success(),
        "fsck after the kills: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills the server with SIGKILL each time the journal gains another STEP acknowledgements,
/// restarts it, and lets the load run a last STEP on the restarted server.
fn kill_and_restart_under(server: &mut TestServer, load: &mut Load, listener: &str) {
    for kill in 1..=KILLS {
        load.wait_for(kill * STEP);
        load.server_down();
        server.kill().unwrap();
        server.restart_with(LISTENERS, CONFIG).unwrap();
        load.point_at(server, listener);
    }
    load.wait_for((KILLS + 1) * STEP);
}

#[test]
fn smtp_mail_acknowledged_before_a_sigkill_is_kept_exactly_once_and_intact() {
    let mut server = server();
    let mut load = Load::start(&server, "smtp");
    kill_and_restart_under(&mut server, &mut load, "smtp");
    load.finish();

    let figures = check(&server, "smtp", load.dir.path(), &[]);
    assert!(figure(&figures, "acknowledged") >= ((KILLS + 1) * STEP) as u64);
    for broken in [
        "lost",
        "corrupted",
        "duplicated_unexplained",
        "stored_never_sent",
        "rejected",
        "abandoned",
        "foreign",
    ] {
        assert_eq!(figure(&figures, broken), 0, "{broken}: {figures}");
    }
    // A retried message whose first copy was committed just before the kill (its 250 lost)
    // is recognised by its fingerprint: not even those are duplicated.
    assert_eq!(
        figure(&figures, "duplicated_retried"),
        0,
        "a retry was stored twice: {figures}"
    );
    store_is_consistent(&mut server);
}

#[test]
fn imap_changes_acknowledged_before_a_sigkill_persist() {
    let mut server = server();
    let mut load = Load::start(&server, "imap");
    kill_and_restart_under(&mut server, &mut load, "imap");
    load.finish();

    let figures = check(&server, "imap", load.dir.path(), &[]);
    assert!(figure(&figures, "acknowledged_append") > 0);
    assert!(figure(&figures, "acknowledged_move") > 0);
    for broken in [
        "not_persisted_append",
        "not_persisted_flag",
        "not_persisted_move",
        "not_persisted_expunge",
        "corrupted",
        "duplicated",
        "stored_unacknowledged",
        "abandoned",
        "foreign",
    ] {
        assert_eq!(figure(&figures, broken), 0, "{broken}: {figures}");
    }
    store_is_consistent(&mut server);
}

/// Stops the server with SIGTERM once the journal holds STEP acknowledgements, checks that it
/// exited 0, restarts it, and lets the load run another STEP on the restarted server.
fn terminate_and_restart_under(server: &mut TestServer, load: &mut Load, listener: &str) {
    load.wait_for(STEP);
    load.server_down();
    let status = server.terminate().unwrap();
    assert!(
        status.success(),
        "SIGTERM exit: {status}\n{}",
        server.stderr()
    );
    server.restart_with(LISTENERS, CONFIG).unwrap();
    load.point_at(server, listener);
    load.wait_for(2 * STEP);
    load.finish();
}

#[test]
fn sigterm_during_smtp_load_answers_every_transaction_and_loses_nothing() {
    let mut server = server();
    let mut load = Load::start(&server, "smtp");
    terminate_and_restart_under(&mut server, &mut load, "smtp");

    let figures = check(&server, "smtp", load.dir.path(), &["--sigterm"]);
    // OPS-2: a transaction under way when SIGTERM came got its 250 (or a 4xx it retried);
    // none was cut after its final dot without a reply, and nothing acknowledged is missing.
    for broken in [
        "silent_drops",
        "lost",
        "corrupted",
        "duplicated",
        "rejected",
        "abandoned",
    ] {
        assert_eq!(figure(&figures, broken), 0, "{broken}: {figures}");
    }
}

#[test]
fn sigterm_during_imap_load_answers_every_command_and_keeps_every_change() {
    let mut server = server();
    let mut load = Load::start(&server, "imap");
    terminate_and_restart_under(&mut server, &mut load, "imap");

    let figures = check(&server, "imap", load.dir.path(), &["--sigterm"]);
    // OPS-2: a command under way when SIGTERM came got its tagged reply; a session waiting
    // for its next command got `* BYE` (RFC 9051 §7.1.5) and its client redid the change
    // after the restart. No command was cut without either, and every acknowledged change
    // persisted.
    assert!(figure(&figures, "acknowledged_append") > 0);
    for broken in [
        "silent_drops",
        "not_persisted_append",
        "not_persisted_flag",
        "not_persisted_move",
        "not_persisted_expunge",
        "corrupted",
        "duplicated",
        "stored_unacknowledged",
        "abandoned",
        "foreign",
    ] {
        assert_eq!(figure(&figures, broken), 0, "{broken}: {figures}");
    }
}
