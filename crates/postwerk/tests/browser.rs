//! The web pages in a real browser (issue 11): Debian's chromium, headless, driven by
//! Playwright (`playwright-core` from npm, no browser download) through the script
//! `browser/e2e.mjs`, against the real binary with its HTTP, SMTP and IMAP listeners.
//!
//! This test prepares what a browser cannot (an organization, its service, two accounts,
//! a bounce arriving over SMTP), then runs the script, which signs in with 2FA, creates an
//! address in each mode, uploads a CSV with a bad line, sends a message between two
//! mailboxes and reads it, replies with an attachment, marks spam, changes a mailbox
//! password and accepts unification, and opens the bounce. Set `POSTWERK_SCREENSHOTS` to a
//! folder to keep a screenshot of each main page (`docs/screenshots/` was made that way).
//!
//! `.ci/run` installs chromium, oathtool and the npm package; on a machine without them the
//! test says so and passes without running, as the tmpfs test of `disk_full.rs` does.

use std::path::{Path, PathBuf};
use std::process::Command;

use postwerk_testkit::TestServer;
use postwerk_testkit::api::Api;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

/// The embedded defaults: the session cookie is `Secure`, which browsers accept from a
/// loopback address over plain HTTP (so `serve` with no configuration works in a browser).
const CONFIG: &str = "";

/// The accounts' password (the console's administrator and a member).
const PASSWORD: &str = "Account-password-42";
/// The mailboxes' password.
const MAILBOX_PASSWORD: &str = "Mailbox-password-42";

fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What the browser test needs, or why it cannot run here.
fn prerequisites() -> Result<PathBuf, String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!("no chromium at {chromium}"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no node".into());
    }
    if Command::new("oathtool").arg("--version").output().is_err() {
        return Err("no oathtool".into());
    }
    if !script_dir().join("node_modules/playwright-core").exists() {
        return Err(format!(
            "playwright-core is not installed: npm ci --prefix {}",
            script_dir().display()
        ));
    }
    Ok(PathBuf::from(chromium))
}

fn call(api: &Api, method: &str, path: &str, body: Value) -> Value {
    let answer = api
        .json(method, path, &body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert!(
        (200..300).contains(&answer.status),
        "{method} {path}: {} {}",
        answer.status,
        answer.body
    );
    answer.body
}

/// Acme with the service acme.test; Anna owns it, Bob and Carl are members. Each has a
/// mailbox (anna@, bob@, carl@acme.test) linked to their account with every permission.
fn prepare(server: &TestServer) {
    let operator = server.api().with_token(&server.operator_token());
    call(&operator, "POST", "/api/v1/orgs", json!({"name": "Acme"}));
    call(
        &operator,
        "POST",
        "/api/v1/services",
        json!({"domain": "acme.test", "org": "Acme", "address_quota": 100}),
    );
    for (login, name, role) in [
        ("anna@personal.test", "Anna Admin", "owner"),
        ("bob@personal.test", "Bob Member", "member"),
        // Carl's login is his mailbox's address: the one case where ID-5 offers one password.
        ("carl@acme.test", "Carl Same", "member"),
    ] {
        let local = login.split('@').next().unwrap_or_default();
        call(
            &operator,
            "POST",
            "/api/v1/services/acme.test/addresses",
            json!({"local_part": local, "kind": "mailbox", "password": MAILBOX_PASSWORD,
                   "holder": {"mode": "nobody"}}),
        );
        call(
            &operator,
            "POST",
            "/api/v1/users",
            json!({"login": login, "password": PASSWORD, "display_name": name,
                   "org": "Acme", "role": role}),
        );
        call(
            &operator,
            "PUT",
            &format!("/api/v1/addresses/{local}@acme.test/access/{login}"),
            json!({"permissions": ["all"]}),
        );
    }
}

/// A delivery failure report from another provider arrives for Anna over SMTP.
fn bounce_arrives(server: &TestServer) {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/bounces/postfix-failed.eml");
    let raw = std::fs::read(&sample).expect("the sample bounce");
    let smtp = server.addr("smtp");
    postwerk_testkit::python::run(
        "import smtplib, sys\n\
         host, port = sys.argv[1], int(sys.argv[2])\n\
         with smtplib.SMTP(host, port) as s:\n\
         \x20   s.sendmail('', ['anna@acme.test'], sys.stdin.buffer.read())\n\
         print('sent')",
        &[&smtp.ip().to_string(), &smtp.port().to_string()],
        &raw,
    );
}

#[test]
fn the_pages_work_in_a_real_browser() {
    let chromium = match prerequisites() {
        Ok(chromium) => chromium,
        Err(why) => {
            eprintln!("browser test skipped: {why} (.ci/run installs what it needs)");
            return;
        }
    };
    let server = TestServer::start_with(Path::new(BIN), &["http", "smtp", "submission"], CONFIG)
        .expect("server starts");
    prepare(&server);
    bounce_arrives(&server);
    let base = format!("http://{}", server.addr("http"));
    let mut node = Command::new("node");
    node.arg(script_dir().join("e2e.mjs"))
        .env("BASE_URL", &base)
        .env("CHROMIUM", &chromium)
        .env("PASSWORD", PASSWORD)
        .env("MAILBOX_PASSWORD", MAILBOX_PASSWORD);
    let output = node.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser script failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.stderr()
    );
    println!("{stdout}");
}
