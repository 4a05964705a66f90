//! Issue 10 item 3: a full disk turns writes into temporary refusals — SMTP `452 4.3.1`,
//! IMAP `NO [LIMIT]` — with nothing corrupted, and service resumes when space returns. The
//! data folder is a small tmpfs mounted for the test (root only: where `mount` is not
//! allowed, the test says so and passes), driven by Python's smtplib and imaplib.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use postwerk_testkit::TestServer;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const TOTO: &str = "toto@example.com";
const PASSWORD: &str = "toto-secret-1";

/// A tmpfs mounted over a folder, unmounted when dropped (lazily, so a failing test that
/// still holds files open does not leave it behind).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with one file until a write fails for lack of space.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler file");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    // Single bytes for the last partial chunk, so that not even a page is left.
    while file.write_all(&[0]).is_ok() && file.flush().is_ok() {}
    path
}

/// A message of about `size` octets with a marker in its subject.
fn message(marker: &str, size: usize) -> String {
    let line = "All work and no play makes a full disk a dull disk.\r\n";
    let body = line.repeat(size / line.len() + 1);
    format!(
        "From: <sender@remote.example>\r\nTo: <{TOTO}>\r\nSubject: {marker}\r\n\
         Date: Mon, 1 Jun 2026 10:00:00 +0000\r\nMessage-ID: <{marker}@remote.example>\r\n\r\n{body}"
    )
}

/// One transaction over the MX listener with smtplib (the message on stdin: it is larger
/// than an argument may be); the replies as JSON.
fn send(server: &TestServer, message: &str) -> Value {
    let addr = server.addr("smtp");
    let script = r#"
import json, smtplib, sys
client = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=60)
client.ehlo("client.example")
out = {"mail": list(client.mail("sender@remote.example"))}
out["rcpt"] = list(client.rcpt(sys.argv[3]))
out["data"] = list(client.data(sys.stdin.buffer.read()))
client.quit()
print(json.dumps(out, default=lambda b: b.decode("utf-8", "replace")))
"#;
    let out = python(
        script,
        &[&addr.ip().to_string(), &addr.port().to_string(), TOTO],
        message,
    );
    serde_json::from_str(&out).expect("JSON")
}

/// Runs `script` with `args`, `input` on stdin; its standard output.
fn python(script: &str, args: &[&str], input: &str) -> String {
    postwerk_testkit::python::run(script, args, input.as_bytes())
}

/// IMAP APPEND of `message` to INBOX with imaplib; the tagged answer as text.
fn append(server: &TestServer, message: &str) -> String {
    let addr = server.addr("imap");
    let script = r#"
import imaplib, ssl, sys
client = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
client.starttls(context)
client.login(sys.argv[3], sys.argv[4])
try:
    typ, data = client.append("INBOX", None, None, sys.stdin.buffer.read())
    print(typ, data[0].decode())
except client.error as error:
    print("NO", error)
client.logout()
"#;
    let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
    python(script, &[&ip, &port, TOTO, PASSWORD], message)
}

fn subjects(server: &TestServer) -> Vec<String> {
    server
        .inbox(TOTO)
        .expect("inbox")
        .iter()
        .map(|raw| {
            let text = String::from_utf8_lossy(raw);
            let subject = text
                .lines()
                .find_map(|line| line.strip_prefix("Subject: "))
                .unwrap_or_default();
            subject.to_string()
        })
        .collect()
}

#[test]
fn issue_10_a_full_disk_is_a_temporary_refusal_and_service_resumes() {
    let listeners = ["smtp", "imap"];
    let mut server = TestServer::start_with(Path::new(BIN), &listeners, "").expect("server");
    server.kill().expect("stopped");
    // The data folder becomes a 32 MiB tmpfs; the server starts afresh on it.
    let Some(tmpfs) = Tmpfs::mount(&server.data_dir(), "32m") else {
        eprintln!("skipped: mounting a tmpfs needs root (CAP_SYS_ADMIN) on this machine");
        return;
    };
    server
        .restart_with(&listeners, "")
        .expect("server on tmpfs");
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", PASSWORD],
    ] {
        server.admin_ok(args);
    }
    let before = send(&server, &message("before", 100_000));
    assert_eq!(before["data"][0], 250, "{before}");

    let filler = fill(&server.data_dir());
    let refused = send(&server, &message("while-full", 200_000));
    assert_eq!(refused["data"][0], 452, "{refused}");
    let text = refused["data"][1].as_str().unwrap_or_default();
    assert!(text.starts_with("4.3.1 "), "{text}");
    let appended = append(&server, &message("append-while-full", 200_000));
    assert!(
        appended.starts_with("NO") && appended.contains("[LIMIT]"),
        "{appended}"
    );
    assert_eq!(subjects(&server), ["before"], "nothing half-stored");

    std::fs::remove_file(&filler).expect("space returns");
    let after = send(&server, &message("after", 200_000));
    assert_eq!(
        after["data"][0],
        250,
        "service resumes: {after}\n{}",
        server.stderr()
    );
    let appended = append(&server, &message("append-after", 200_000));
    assert!(appended.starts_with("OK"), "{appended}");
    assert_eq!(subjects(&server), ["before", "after", "append-after"]);
    let stored = server.inbox(TOTO).expect("inbox");
    assert!(
        String::from_utf8_lossy(&stored[0]).contains("Message-ID: <before@remote.example>"),
        "the message stored before the disk filled is intact"
    );
    server.terminate().expect("stopped");
    drop(tmpfs);
}
