//! `postwerk admin fsck` end to end (issue 10): a real server stores mail, is stopped, its
//! data folder is damaged the way a crash or a careless operator could, and the binary
//! reports, repairs what is safe, and keeps failing on what it cannot repair.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use postwerk_testkit::TestServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const TOTO: &str = "toto@example.com";

/// A server hosting the mailbox toto@example.com.
fn server() -> TestServer {
    let server = TestServer::start(Path::new(BIN), &["smtp"]).unwrap();
    server.admin_ok(&["org", "create", "Acme"]);
    server.admin_ok(&["service", "create", "example.com", "--org", "Acme"]);
    server.admin_ok(&["address", "create", TOTO, "--password", "mailbox-secret-1"]);
    server
}

/// Delivers a message with `body` to toto over the MX listener (Python's smtplib) and checks
/// it was accepted.
fn deliver(server: &TestServer, subject: &str, body: &str) {
    let addr = server.addr("smtp");
    let message = format!(
        "From: sender@remote.example\r\nTo: {TOTO}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    );
    let args = json!({"tls": "starttls", "from": "sender@remote.example", "to": [TOTO],
                      "message": message, "host": addr.ip().to_string(), "port": addr.port()});
    let out = Command::new("python3")
        .arg(CLIENT)
        .arg("send")
        .arg(args.to_string())
        .output()
        .expect("python3 is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["transactions"][0]["data"][0], 250, "{reply}");
}

/// Runs SQL on the stopped server's database with Python's sqlite3 module, as an operator
/// could.
fn sql(data_dir: &Path, statement: &str) {
    let status = Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()")
        .arg(data_dir.join("postwerk.sqlite3"))
        .arg(statement)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "{statement}");
}

/// The blob files under the data folder (temporary files left out).
fn blob_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in fs::read_dir(data_dir.join("blobs")).unwrap().flatten() {
        if dir.file_name() != "tmp" && dir.path().is_dir() {
            files.extend(
                fs::read_dir(dir.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path()),
            );
        }
    }
    files
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn fsck_reports_repairs_what_is_safe_and_keeps_failing_on_lost_content() {
    let mut server = server();
    deliver(&server, "small", "Hello Toto.");
    // Above the inline threshold: its bytes are a blob file.
    deliver(
        &server,
        "large",
        &"A long line of a long body.\r\n".repeat(3000),
    );

    // Beside the running server a check runs, a repair is refused.
    let running = server.admin(&["fsck", "--repair"]);
    assert!(!running.status.success());
    assert!(stderr(&running).contains("stop it"), "{}", stderr(&running));
    let check = server.admin(&["fsck"]);
    assert!(check.status.success(), "{}", stderr(&check));
    // Killed, as a crash would: fsck must read the database with its write-ahead log as
    // the crash left it.
    server.kill().unwrap();

    let data = server.data_dir();
    let clean = server.admin(&["fsck", "--deep"]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert_eq!(stdout(&clean).trim(), "0 problems, 0 repaired");

    // The damage: UIDNEXT behind the UIDs in use, the large content's file gone, and an old
    // file nothing references.
    sql(
        &data,
        "UPDATE folders SET uid_next = 1 WHERE name = 'INBOX'",
    );
    let files = blob_files(&data);
    assert_eq!(files.len(), 1, "{files:?}");
    fs::remove_file(&files[0]).unwrap();
    let orphan = data.join("blobs").join("00").join("0".repeat(62));
    fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    fs::write(&orphan, b"left behind").unwrap();
    File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();

    let found = server.admin(&["fsck"]);
    assert!(!found.status.success(), "problems make fsck fail");
    let text = stdout(&found);
    assert!(text.contains("uids"), "{text}");
    assert!(text.contains("UIDNEXT is 1 but UID 2 is in use"), "{text}");
    assert!(text.contains("toto@example.com/INBOX UID 2"), "{text}");
    assert!(text.contains("blobs/00/"), "{text}");
    assert!(
        text.trim_end().ends_with("3 problems, 0 repaired"),
        "{text}"
    );
    assert!(stderr(&found).contains("--repair"), "{}", stderr(&found));
    assert!(orphan.exists(), "a check removes nothing");

    let repaired = server.admin(&["--json", "fsck", "--repair"]);
    assert!(!repaired.status.success(), "the lost content remains");
    let report: Value = serde_json::from_slice(&repaired.stdout).unwrap();
    assert_eq!(report["problems"], 3, "{report}");
    assert_eq!(report["repaired"], 2, "{report}");
    assert_eq!(report["unrepaired"], 1, "{report}");
    assert!(!orphan.exists());

    let after = server.admin(&["fsck"]);
    assert!(!after.status.success());
    let text = stdout(&after);
    assert!(text.contains("toto@example.com/INBOX UID 2"), "{text}");
    assert!(text.trim_end().ends_with("1 problem, 0 repaired"), "{text}");

    // The repaired counter is what the next delivery uses: UID 3, never a reused one.
    server.restart_with(&["smtp"], "").unwrap();
    deliver(&server, "after", "After the repair.");
    let uids = server
        .with_store(|stores| async move {
            let toto = stores
                .directory
                .address_by_address(&TOTO.parse()?)
                .await?
                .expect("toto");
            let inbox = stores
                .mail
                .folder_by_name(toto.id, "INBOX")
                .await?
                .expect("INBOX");
            let listed = stores
                .mail
                .list_messages(inbox.id, &postwerk_store::UidSet::all())
                .await?;
            Ok(listed.iter().map(|m| m.uid).collect::<Vec<_>>())
        })
        .unwrap();
    assert_eq!(uids, vec![1, 2, 3]);
}
