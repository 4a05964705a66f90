//! Issue 4 end to end: the real server on ephemeral ports, driven by independent clients —
//! Python's imaplib/ssl (tests/imap/client.py) over both IMAP ports, and mbsync (isync)
//! syncing a mailbox into a local Maildir — with the results checked against the raw bytes the
//! store holds. Messages arrive through the real SMTP listener (tests/smtp/client.py) or by
//! APPEND. One server per test, so failures stay independent.
//!
//! No test measures time: where the issue asks for "within one second" (IDLE), the client
//! waits with a generous bound and the test only checks that the report came.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use postwerk_testkit::TestServer;

mod common;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/imap/client.py");
const MBSYNC_TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/imap/mbsyncrc");
const SMTP_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const POP3_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pop3/client.py");
const LISTENERS: [&str; 5] = ["smtp", "submissions", "imap", "imaps", "pop3s"];

const TOTO: &str = "toto@example.com";
const TOTO_PASSWORD: &str = "mailbox-secret-1";
/// The password of the *user account* whose login is also toto@example.com (ID-2, ID-3).
const TOTO_USER_PASSWORD: &str = "account-secret-1";
const OTHER: &str = "other@example.com";
const OTHER_PASSWORD: &str = "other-secret-1";

/// The folders every mailbox starts with (ADDR-11).
const DEFAULT_FOLDERS: [&str; 6] = ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"];

// ---- the server

/// A server hosting example.com: the mailbox toto with a user account of the same login, and
/// the mailbox other.
fn server_with(extra: &str) -> TestServer {
    let server = TestServer::start_with(Path::new(BIN), &LISTENERS, extra).unwrap();
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", TOTO_PASSWORD],
        &["address", "create", OTHER, "--password", OTHER_PASSWORD],
        &[
            "user",
            "create",
            TOTO,
            "--password",
            TOTO_USER_PASSWORD,
            "--org",
            "Acme",
        ],
    ] {
        server.admin_ok(args);
    }
    server
}

fn server() -> TestServer {
    server_with("")
}

// ---- messages

/// 1: plain text from Alice.
fn lunch() -> String {
    format!(
        "From: Alice <alice@remote.example>\r\nTo: {TOTO}\r\nSubject: Lunch on Friday\r\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <lunch@remote.example>\r\n\r\n\
         Shall we meet at noon?\r\n"
    )
}

/// The octets of the attachment of [`photos`]: every byte value, NUL included, so that
/// `BINARY` must answer with a literal8 (RFC 3516 §4.2).
fn attachment() -> Vec<u8> {
    (0..=255u8).collect()
}

/// The attachment as base64 lines of 76 characters, CRLF between them.
fn attachment_base64() -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(attachment());
    encoded
        .as_bytes()
        .chunks(76)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// 2: multipart/mixed from Bob: a text part and a base64 binary attachment.
fn photos() -> String {
    format!(
        "From: Bob <bob@remote.example>\r\nTo: {TOTO}\r\nSubject: Photos\r\n\
         Date: Tue, 3 Mar 2026 11:00:00 +0000\r\nMessage-ID: <photos@remote.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n\
         This is a multi-part message.\r\n\
         --XYZ\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHere are the photos.\r\n\
         --XYZ\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--XYZ--\r\n",
        attachment_base64()
    )
}

/// `BODY[2.MIME]` of [`photos`].
const PHOTOS_PART_2_MIME: &str = "Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
                                  Content-Transfer-Encoding: base64\r\n\r\n";

/// 3: Bob's answer to 1, in the same thread.
fn reply() -> String {
    format!(
        "From: Bob <bob@remote.example>\r\nTo: {TOTO}\r\nSubject: Re: Lunch on Friday\r\n\
         Date: Tue, 3 Mar 2026 12:00:00 +0000\r\nMessage-ID: <reply@remote.example>\r\n\
         In-Reply-To: <lunch@remote.example>\r\nReferences: <lunch@remote.example>\r\n\r\n\
         Noon is fine.\r\n"
    )
}

/// 4: a large 8-bit text from Carol.
fn report() -> String {
    format!(
        "From: Carol <carol@remote.example>\r\nTo: {TOTO}\r\nSubject: Quarterly report\r\n\
         Date: Wed, 4 Mar 2026 09:00:00 +0000\r\nMessage-ID: <report@remote.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nFigures for the zebra project. Grüße.\r\n{}",
        "A line of the report, long enough to make the message large.\r\n".repeat(60)
    )
}

fn all_four() -> Vec<String> {
    vec![lunch(), photos(), reply(), report()]
}

/// A message for APPEND (never seen by SMTP).
fn draft(subject: &str) -> String {
    format!(
        "From: {TOTO}\r\nTo: friend@remote.example\r\nSubject: {subject}\r\n\
         Date: Wed, 1 Jan 2020 10:00:00 +0000\r\nMessage-ID: <{}@example.com>\r\n\r\n\
         Draft text.\r\n",
        subject.replace(' ', "-")
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// The SMTP client's arguments to deliver `message` to toto through the MX listener.
fn smtp_args(server: &TestServer, message: &str) -> Value {
    let addr = server.addr("smtp");
    json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": "none",
           "from": "sender@remote.example", "to": [TOTO], "message": message})
}

/// Delivers `messages` to toto through the MX listener; returns the raw bytes toto's INBOX
/// holds afterwards, in UID order (the store read directly, independently of IMAP).
fn deliver(server: &TestServer, messages: &[String]) -> Vec<Vec<u8>> {
    let before = server.inbox(TOTO).unwrap().len();
    for message in messages {
        let out = Command::new("python3")
            .arg(SMTP_CLIENT)
            .arg("send")
            .arg(smtp_args(server, message).to_string())
            .output()
            .expect("python3 is installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out["transactions"][0]["data"][0], json!(250), "{out}");
    }
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(inbox.len(), before + messages.len());
    inbox
}

// ---- the IMAP client

/// client.py's arguments for a session on `listener` (imaps: implicit TLS; imap: clear text
/// until a "starttls" step).
fn imap_args(server: &TestServer, listener: &str, steps: Value) -> Value {
    let addr = server.addr(listener);
    let tls = if listener == "imaps" {
        "implicit"
    } else {
        "none"
    };
    json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": tls, "steps": steps})
}

/// A "run" step that runs a second, independent client.py session (its report lands in the
/// step's `data.json`).
fn nested(server: &TestServer, steps: Value) -> Value {
    let args = imap_args(server, "imaps", steps);
    json!(["run", ["python3", CLIENT, args.to_string()]])
}

/// Runs client.py with `steps` against `listener`; returns its report.
fn imap(server: &TestServer, listener: &str, steps: Value) -> Run {
    let args = imap_args(server, listener, steps);
    let mut child = Command::new("python3")
        .arg(CLIENT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is installed (.ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(args.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "client.py failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
    Run(serde_json::from_slice(&out.stdout).unwrap())
}

/// A session on imaps that logs toto in first: step 0 is the login, the caller's steps follow.
fn toto(server: &TestServer, steps: Value) -> Run {
    let mut all = vec![json!(["login", TOTO, TOTO_PASSWORD])];
    all.extend(steps.as_array().unwrap().iter().cloned());
    let run = imap(server, "imaps", Value::Array(all));
    run.ok(0);
    run
}

/// What client.py reported for one session.
struct Run(Value);

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", serde_json::to_string_pretty(&self.0).unwrap())
    }
}

impl Run {
    fn step(&self, i: usize) -> &Value {
        let step = &self.0["steps"][i];
        assert!(
            !step.is_null(),
            "no step {i} (the session ended early):\n{self}"
        );
        step
    }

    fn status(&self, i: usize) -> &str {
        self.step(i)["status"].as_str().unwrap_or_default()
    }

    /// The tagged response after its status: response code and text.
    fn text(&self, i: usize) -> &str {
        self.step(i)["text"].as_str().unwrap_or_default()
    }

    /// Asserts the step's command succeeded; returns the tagged text.
    fn ok(&self, i: usize) -> &str {
        assert_eq!(self.status(i), "OK", "step {i} should succeed:\n{self}");
        self.text(i)
    }

    /// Asserts the step's command failed with NO and `code` in the tagged text.
    fn no(&self, i: usize, code: &str) -> &str {
        assert_eq!(self.status(i), "NO", "step {i} should fail NO:\n{self}");
        assert!(
            self.text(i).contains(code),
            "step {i} should carry {code}:\n{self}"
        );
        self.text(i)
    }

    /// Asserts the step's command failed, NO or BAD, and the session went on.
    fn refused(&self, i: usize) {
        assert!(
            matches!(self.status(i), "NO" | "BAD"),
            "step {i} should be refused:\n{self}"
        );
    }

    fn untagged(&self, i: usize) -> Vec<&str> {
        self.step(i)["untagged"]
            .as_array()
            .map(|lines| lines.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The untagged responses starting with `prefix`.
    fn lines(&self, i: usize, prefix: &str) -> Vec<&str> {
        self.untagged(i)
            .into_iter()
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    /// The first untagged response starting with `prefix`.
    fn line(&self, i: usize, prefix: &str) -> &str {
        self.lines(i, prefix)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("step {i} has no `{prefix}` response:\n{self}"))
    }

    fn fetches(&self, i: usize) -> Vec<Fetch> {
        assert!(
            self.step(i).get("parse_errors").is_none(),
            "client.py could not parse a FETCH response of step {i}:\n{self}"
        );
        self.step(i)["fetches"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|f| !f.is_null())
                    .map(Fetch::new)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The FETCH response for message `seq` in step `i` that carries `key`.
    fn fetch(&self, i: usize, seq: u32, key: &str) -> Fetch {
        self.fetches(i)
            .into_iter()
            .find(|f| f.seq == seq && f.items.contains_key(key))
            .unwrap_or_else(|| panic!("step {i}: no FETCH of {seq} with {key}:\n{self}"))
    }

    fn data(&self, i: usize) -> &Value {
        &self.step(i)["data"]
    }

    /// The capabilities client.py parsed for step `i`.
    fn caps(&self, i: usize) -> Vec<String> {
        self.data(i)
            .as_array()
            .unwrap_or_else(|| panic!("step {i} saw no capabilities:\n{self}"))
            .iter()
            .map(|c| c.as_str().unwrap().to_ascii_uppercase())
            .collect()
    }

    /// The numbers of a `* SEARCH` or `* SORT` response (without a trailing `(MODSEQ n)`).
    fn numbers(&self, i: usize, kind: &str) -> Vec<u32> {
        let line = self.line(i, &format!("* {kind}"));
        line[kind.len() + 2..]
            .split(" (")
            .next()
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    }

    /// The folders of the step's LIST (or LSUB) responses, each with its attributes.
    fn listed(&self, i: usize, kind: &str) -> BTreeMap<String, BTreeSet<String>> {
        self.lines(i, &format!("* {kind} "))
            .into_iter()
            .map(|line| parse_list(&line[kind.len() + 3..]))
            .collect()
    }
}

/// One `* n FETCH` response as client.py parsed it: every item rendered as IMAP text (strings
/// always quoted), string values also as octets.
struct Fetch {
    seq: u32,
    items: BTreeMap<String, String>,
    bytes: BTreeMap<String, Vec<u8>>,
    flags: Option<Vec<String>>,
}

impl Fetch {
    fn new(value: &Value) -> Fetch {
        let items = value["items"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let bytes = value["bytes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), unb64(v.as_str().unwrap())))
            .collect();
        let flags = value["flags"].as_array().map(|flags| {
            flags
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect()
        });
        Fetch {
            seq: value["seq"].as_u64().unwrap() as u32,
            items,
            bytes,
            flags,
        }
    }

    fn item(&self, key: &str) -> &str {
        self.items
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.items))
    }

    fn bytes(&self, key: &str) -> &[u8] {
        self.bytes
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not a string in {:?}", self.items))
    }

    fn uid(&self) -> u32 {
        self.item("UID").parse().unwrap()
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.flags
            .as_ref()
            .is_some_and(|flags| flags.iter().any(|f| f.eq_ignore_ascii_case(flag)))
    }
}

/// `(attributes) delimiter name [extended data]` of a LIST response.
fn parse_list(rest: &str) -> (String, BTreeSet<String>) {
    let rest = rest.strip_prefix('(').expect("LIST attributes");
    let close = rest.find(')').unwrap();
    let attributes = rest[..close]
        .split_whitespace()
        .map(|a| a.to_ascii_lowercase())
        .collect();
    let rest = rest[close + 1..].trim_start();
    let rest = if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"').unwrap();
        quoted[end + 1..].trim_start()
    } else {
        rest.strip_prefix("NIL").unwrap().trim_start()
    };
    (mailbox_name(rest), attributes)
}

/// A mailbox name at the start of `text`: atom, quoted string or (inlined) literal.
fn mailbox_name(text: &str) -> String {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => name.extend(chars.next()),
                '"' => break,
                c => name.push(c),
            }
        }
        name
    } else if text.starts_with('{') {
        // client.py inlines a literal after its `{n}`.
        let close = text.find('}').unwrap();
        let size: usize = text[1..close].trim_end_matches('+').parse().unwrap();
        text[close + 1..close + 1 + size].to_string()
    } else {
        text.split(' ').next().unwrap().to_string()
    }
}

/// The number after `key ` in `text`.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(&format!("{key} "))? + key.len() + 1;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The numbers of a sequence set such as `1:3,5`.
fn seq_set(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for range in text.split(',') {
        match range.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                out.extend(a.min(b)..=a.max(b));
            }
            None => out.push(range.parse().unwrap()),
        }
    }
    out
}

/// The data of a `[COPYUID validity source destination]` or `[APPENDUID validity uid]` code.
fn uid_code(text: &str, code: &str) -> Vec<String> {
    let start = text
        .find(&format!("[{code} "))
        .unwrap_or_else(|| panic!("no {code} in {text}"));
    let rest = &text[start + code.len() + 2..];
    rest[..rest.find(']').unwrap()]
        .split(' ')
        .map(str::to_string)
        .collect()
}

fn assert_caps(caps: &[String], present: &[&str], absent: &[&str]) {
    for cap in present {
        assert!(caps.iter().any(|c| c == cap), "{cap} missing in {caps:?}");
    }
    for cap in absent {
        assert!(
            !caps.iter().any(|c| c == cap),
            "{cap} must not be in {caps:?}"
        );
    }
}

/// The header of a raw message, blank line included, and its body.
fn split_message(raw: &[u8]) -> (&[u8], &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header")
        + 4;
    raw.split_at(end)
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_string).collect()
}

// ---- 1: listeners, TLS, login (PROTO-1, PROTO-3, ID-2, ID-6)

/// The extensions the issue lists (point 3), advertised once logged in.
const EXTENSIONS: [&str; 24] = [
    "IMAP4REV1",
    "IMAP4REV2",
    "IDLE",
    "NAMESPACE",
    "UIDPLUS",
    "MOVE",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "CHILDREN",
    "ENABLE",
    "ID",
    "UNSELECT",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "SEARCHRES",
    "SORT",
    "THREAD=REFERENCES",
    "STATUS=SIZE",
    "QUOTA",
    "COMPRESS=DEFLATE",
    "LITERAL+",
    "BINARY",
];

#[test]
fn proto_3_port_143_offers_login_only_after_starttls() {
    let server = server();
    let run = imap(
        &server,
        "imap",
        json!([
            ["capability"],
            ["login", TOTO, TOTO_PASSWORD],
            ["authenticate_plain", TOTO, TOTO_PASSWORD, true],
            ["starttls"],
            ["capability"],
            ["login", TOTO, TOTO_PASSWORD],
            ["capability"],
            ["cmd", "ENABLE IMAP4rev2"],
            ["cmd", "ID (\"name\" \"imaplib\")"],
            ["noop"],
            ["logout"],
        ]),
    );
    // RFC 9051 §7.1.1: the greeting; PROTO-3: LOGINDISABLED in clear text.
    let welcome = run.0["welcome"].as_str().unwrap();
    assert!(welcome.starts_with("* OK"), "{run}");
    assert!(!welcome.contains("AUTH=PLAIN"), "{run}");
    // RFC 9051 §6.2.1, §6.2.3: STARTTLS and LOGINDISABLED before TLS, no AUTH= mechanism.
    assert_caps(
        &run.caps(0),
        &["IMAP4REV1", "IMAP4REV2", "STARTTLS", "LOGINDISABLED"],
        &["AUTH=PLAIN"],
    );
    // RFC 5530 PRIVACYREQUIRED: LOGIN and AUTHENTICATE refused before TLS.
    run.no(1, "[PRIVACYREQUIRED]");
    run.no(2, "");
    // RFC 9051 §6.2.1: after TLS the client asks again; no STARTTLS, now AUTH=PLAIN and SASL-IR.
    run.ok(3);
    let after_tls = run.caps(4);
    assert_caps(
        &after_tls,
        &["IMAP4REV1", "IMAP4REV2", "AUTH=PLAIN", "SASL-IR"],
        &["STARTTLS", "LOGINDISABLED"],
    );
    // RFC 9051 §6.2.3: the OK of LOGIN may carry the new capabilities; ID-2 mailbox login.
    assert!(run.ok(5).contains("[CAPABILITY"), "{run}");
    let logged_in = run.caps(6);
    assert_caps(&logged_in, &EXTENSIONS, &["STARTTLS", "LOGINDISABLED"]);
    assert!(
        logged_in.iter().any(|c| c.starts_with("APPENDLIMIT=")),
        "RFC 7889: {logged_in:?}"
    );
    // RFC 5161: ENABLE answers what it turned on.
    run.ok(7);
    assert!(
        run.line(7, "* ENABLED")
            .eq_ignore_ascii_case("* ENABLED IMAP4rev2"),
        "{run}"
    );
    // RFC 2971: ID answers with the server's identification (or NIL).
    run.ok(8);
    assert!(run.line(8, "* ID ").len() > 5, "{run}");
    run.ok(9);
    // RFC 9051 §6.1.3: BYE, then OK.
    run.ok(10);
    assert!(run.line(10, "* BYE").len() > 5, "{run}");
}

#[test]
fn proto_3_a_command_injected_behind_starttls_is_discarded() {
    let server = server();
    let injected = format!("x9 LOGIN {TOTO} {TOTO_PASSWORD}");
    let run = imap(
        &server,
        "imap",
        json!([
            ["starttls_with", injected],
            ["capability"],
            ["noop"],
            ["logout"]
        ]),
    );
    // RFC 9051 §6.2.1 (and RFC 2595 §3.1): octets sent after STARTTLS, before the TLS
    // handshake, are dropped: the injected LOGIN never runs, the session is not logged in.
    run.ok(0);
    assert_caps(&run.caps(1), &["AUTH=PLAIN"], &["IDLE", "STARTTLS"]);
    run.ok(2);
    run.ok(3);
    for step in 0..4 {
        assert!(
            run.step(step)["tagged"]
                .as_array()
                .unwrap()
                .iter()
                .all(|line| !line.as_str().unwrap().starts_with("x9 ")),
            "the injected command was answered: {run}"
        );
    }
}

#[test]
fn proto_1_port_993_is_tls_from_the_first_byte_with_sasl_ir() {
    let server = server();
    let run = imap(
        &server,
        "imaps",
        json!([
            ["cmd", "STARTTLS"],
            ["authenticate_plain", TOTO, TOTO_PASSWORD, true],
            ["select", "INBOX"],
            ["logout"],
        ]),
    );
    let before_login: Vec<String> = run.0["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_ascii_uppercase())
        .collect();
    assert_caps(
        &before_login,
        &["IMAP4REV1", "IMAP4REV2", "AUTH=PLAIN", "SASL-IR"],
        &["STARTTLS", "LOGINDISABLED"],
    );
    // RFC 9051 §6.2.1: STARTTLS inside TLS is a client error.
    assert_eq!(run.status(0), "BAD", "{run}");
    // RFC 4959: AUTHENTICATE PLAIN with the initial response on the command line.
    assert!(run.ok(1).contains("[CAPABILITY"), "{run}");
    run.ok(2);
    run.ok(3);
}

#[test]
fn id_2_only_the_mailbox_password_logs_in() {
    let server = server_with("[auth]\nfree_failures = 50\n");
    let run = imap(
        &server,
        "imaps",
        json!([
            ["login", TOTO, TOTO_USER_PASSWORD],
            ["authenticate_plain", TOTO, TOTO_USER_PASSWORD, true],
            ["authenticate_plain", TOTO, TOTO_USER_PASSWORD],
            ["login", "nobody@example.com", TOTO_PASSWORD],
            ["login", OTHER, TOTO_PASSWORD],
            ["authenticate_plain", TOTO, TOTO_PASSWORD],
            ["logout"],
        ]),
    );
    // ID-2: the user account's password is not the mailbox's; RFC 5530 AUTHENTICATIONFAILED.
    for step in 0..5 {
        run.no(step, "[AUTHENTICATIONFAILED]");
    }
    // RFC 9051 §6.2.2: the classic exchange, the response after an empty continuation.
    run.ok(5);
    assert!(!run.step(5)["continuations"].as_array().unwrap().is_empty());

    // RFC 9051 §4.3: LOGIN with synchronising literals, each sent after its continuation.
    let raw = imap(
        &server,
        "imap",
        json!([
            ["starttls"],
            [
                "raw",
                format!("a1 LOGIN {{16}}\r\n{TOTO} {{16}}\r\n{TOTO_PASSWORD}")
            ],
        ]),
    );
    assert_eq!(TOTO.len(), 16);
    assert_eq!(TOTO_PASSWORD.len(), 16);
    raw.ok(1);
    assert_eq!(raw.step(1)["continuations"].as_array().unwrap().len(), 2);
}

#[test]
fn id_6_a_password_change_ends_the_imap_session_at_its_next_command() {
    let server = server();
    deliver(&server, &[lunch()]);
    let data_dir = server.data_dir();
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            [
                "run",
                [
                    BIN,
                    "admin",
                    "--data-dir",
                    data_dir.to_str().unwrap(),
                    "address",
                    "passwd",
                    TOTO,
                    "--password",
                    "new-secret-22"
                ]
            ],
            ["noop"],
            ["fetch", "1", "(FLAGS)"],
        ]),
    );
    run.ok(1);
    assert_eq!(run.data(2)["returncode"], json!(0), "passwd ran: {run}");
    // ID-6: the next command is answered BYE and the connection closed (RFC 9051 §7.1.5).
    assert_eq!(run.status(3), "closed", "{run}");
    assert!(run.line(3, "* BYE").len() > 5, "{run}");
    assert!(run.0["steps"].get(4).is_none(), "nothing after BYE: {run}");

    let again = imap(
        &server,
        "imaps",
        json!([
            ["login", TOTO, TOTO_PASSWORD],
            ["login", TOTO, "new-secret-22"],
            ["logout"],
        ]),
    );
    again.no(0, "[AUTHENTICATIONFAILED]");
    again.ok(1);
}

#[test]
fn id_6_a_password_change_ends_an_idling_session_too() {
    let server = server();
    let data_dir = server.data_dir();
    let passwd = json!([
        BIN,
        "admin",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "address",
        "passwd",
        TOTO,
        "--password",
        "new-secret-22"
    ]);
    let smtp = json!([
        "python3",
        SMTP_CLIENT,
        "send",
        smtp_args(&server, &lunch()).to_string()
    ]);
    // The password changes while the session idles, then mail arrives: a device whose
    // password was revoked must not go on being told about the mailbox (ID-6).
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["idle", {"runs": [passwd, smtp], "until": "^\\* BYE|EXISTS", "timeout": 10}],
        ]),
    );
    let idle = run.data(2);
    assert_eq!(idle["runs"][0]["returncode"], json!(0), "{run}");
    assert_eq!(
        idle["runs"][1]["json"]["transactions"][0]["data"][0],
        json!(250),
        "{run}"
    );
    assert!(
        run.lines(2, "* ").iter().all(|l| !l.ends_with(" EXISTS")),
        "no news after the password change: {run}"
    );
    assert!(run.line(2, "* BYE").len() > 5, "{run}");
}

#[test]
fn imap_6_auth_failures_are_counted_with_smtp() {
    let server = server_with("[auth]\nfree_failures = 5\nlockout_after = 2\ndelay_step = 0\n");
    let addr = server.addr("submissions");
    let smtp = Command::new("python3")
        .arg(SMTP_CLIENT)
        .arg("send")
        .arg(
            json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": "implicit",
                   "user": TOTO, "password": "wrong-over-smtp"})
            .to_string(),
        )
        .output()
        .unwrap();
    let smtp: Value = serde_json::from_slice(&smtp.stdout).unwrap();
    assert_eq!(smtp["auth"][0], json!(535), "{smtp}");
    let run = imap(
        &server,
        "imaps",
        json!([
            ["login", TOTO, "wrong-over-imap"],
            ["login", TOTO, TOTO_PASSWORD],
            ["logout"],
        ]),
    );
    run.no(0, "[AUTHENTICATIONFAILED]");
    // Locked out by the failures of both protocols: even the right password is refused.
    run.no(1, "");
}

// ---- 2: folders (RFC 9051 §6.3)

#[test]
fn rfc_9051_6_3_2_select_and_examine_report_the_folder_state() {
    let server = server();
    deliver(&server, &[lunch(), photos()]);
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["store", "1", "+FLAGS", "(\\Seen)"],
            ["examine", "INBOX"],
            ["store", "1", "+FLAGS", "(\\Flagged)"],
            ["cmd", "ENABLE IMAP4rev2"],
            ["select", "INBOX"],
            ["select", "Nope"],
            ["fetch", "1", "(FLAGS)"],
            ["logout"],
        ]),
    );
    // RFC 9051 §6.3.2 (and RFC 3501 §6.3.1): FLAGS, EXISTS, PERMANENTFLAGS, UIDVALIDITY,
    // UIDNEXT; RFC 7162 §3.1.2.1: HIGHESTMODSEQ; the tagged OK says READ-WRITE.
    assert!(run.ok(1).contains("[READ-WRITE]"), "{run}");
    let flags = run.line(1, "* FLAGS (");
    for flag in ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] {
        assert!(flags.contains(flag), "{flag} in {flags}");
    }
    assert!(run.lines(1, "* 2 EXISTS").len() == 1, "{run}");
    assert!(
        run.lines(1, "* ").iter().any(|l| l.ends_with(" RECENT")),
        "rev1: {run}"
    );
    assert!(
        run.line(1, "* OK [PERMANENTFLAGS (").contains("\\*"),
        "{run}"
    );
    assert!(number_after(run.line(1, "* OK [UIDVALIDITY"), "UIDVALIDITY").unwrap() > 0);
    assert_eq!(
        number_after(run.line(1, "* OK [UIDNEXT"), "UIDNEXT"),
        Some(3)
    );
    assert!(number_after(run.line(1, "* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ").unwrap() > 0);
    run.ok(2);
    // EXAMINE: the same state, read-only; a STORE there is refused.
    assert!(run.ok(3).contains("[READ-ONLY]"), "{run}");
    assert!(run.lines(3, "* 2 EXISTS").len() == 1, "{run}");
    assert_eq!(run.status(4), "NO", "STORE in a read-only folder: {run}");
    // RFC 9051 §6.3.2: in IMAP4rev2 SELECT sends a LIST response for the folder, no RECENT.
    run.ok(5);
    assert!(run.ok(6).contains("[READ-WRITE]"), "{run}");
    assert!(run.line(6, "* LIST ").ends_with("INBOX"), "{run}");
    assert!(
        !run.lines(6, "* ").iter().any(|l| l.ends_with(" RECENT")),
        "{run}"
    );
    // A failed SELECT leaves no folder selected (RFC 9051 §6.3.2).
    run.no(7, "[NONEXISTENT]");
    assert_eq!(
        run.status(8),
        "BAD",
        "FETCH without a selected folder: {run}"
    );
    run.ok(9);
}

#[test]
fn rfc_9051_imap4rev2_behaviour_after_enable() {
    let server = server();
    deliver(&server, &[lunch(), photos()]);
    let run = toto(
        &server,
        json!([
            ["create", "&AMk-t&AOk-"],
            ["cmd", "ENABLE IMAP4rev2"],
            ["select", "INBOX"],
            ["search", "ALL"],
            ["cmd", "UID SEARCH FROM bob"],
            ["list", "\"\"", "*"],
            ["cmd", "STATUS INBOX (MESSAGES DELETED SIZE)"],
            ["logout"],
        ]),
    );
    run.ok(2);
    // RFC 9051 §6.3.2: no RECENT, a LIST response for the folder.
    run.ok(3);
    assert!(
        !run.lines(3, "* ").iter().any(|l| l.ends_with(" RECENT")),
        "{run}"
    );
    assert!(run.line(3, "* LIST ").ends_with("INBOX"), "{run}");
    // RFC 9051 §7.3.4: in IMAP4rev2, SEARCH is answered with ESEARCH (RFC 4731 syntax).
    assert!(run.lines(4, "* SEARCH").is_empty(), "{run}");
    let all = run.line(4, "* ESEARCH (TAG \"");
    assert!(
        all.ends_with(" ALL 1:2") || all.ends_with(" ALL 1,2"),
        "{all}"
    );
    let uid = run.line(5, "* ESEARCH (TAG \"");
    assert!(uid.contains(") UID ALL 2"), "{uid}");
    // RFC 9051 §5.1: mailbox names are UTF-8 now.
    let names: BTreeSet<String> = run.listed(6, "LIST").into_keys().collect();
    assert!(names.contains("Été"), "{run}");
    let status = run.line(7, "* STATUS");
    assert_eq!(number_after(status, "MESSAGES"), Some(2), "{status}");
    assert_eq!(number_after(status, "DELETED"), Some(0), "{status}");
}

#[test]
fn rfc_9051_6_3_4_create_rename_delete_and_subscriptions() {
    let server = server();
    let run = toto(
        &server,
        json!([
            ["create", "Projects/2026"],
            ["cmd", "LIST \"\" \"Projects*\" RETURN (CHILDREN)"],
            ["create", "Projects"],
            ["create", "INBOX"],
            ["rename", "Projects/2026", "Projects/2027"],
            ["rename", "Projects", "Work"],
            ["list", "\"\"", "*"],
            ["rename", "Work", "Sent"],
            ["subscribe", "Work/2027"],
            ["lsub", "\"\"", "*"],
            ["cmd", "LIST (SUBSCRIBED) \"\" \"*\""],
            ["unsubscribe", "Work/2027"],
            ["lsub", "\"\"", "*"],
            ["delete", "Work"],
            ["list", "\"\"", "Work*"],
            ["delete", "Work/2027"],
            ["delete", "Work"],
            ["delete", "INBOX"],
            ["delete", "Nope"],
            ["list", "\"\"", "*"],
            ["logout"],
        ]),
    );
    // RFC 9051 §6.3.4: CREATE makes the superior levels too.
    run.ok(1);
    let listed = run.listed(2, "LIST");
    assert_eq!(
        listed.keys().cloned().collect::<BTreeSet<_>>(),
        set(["Projects", "Projects/2026"]),
        "{run}"
    );
    // RFC 3348 / RFC 5258 §3.4: children attributes.
    assert!(listed["Projects"].contains("\\haschildren"), "{run}");
    assert!(listed["Projects/2026"].contains("\\hasnochildren"), "{run}");
    // RFC 5530: ALREADYEXISTS; INBOX always exists.
    run.no(3, "[ALREADYEXISTS]");
    run.no(4, "");
    // RFC 9051 §6.3.6: RENAME, and a renamed folder takes its children along.
    run.ok(5);
    run.ok(6);
    let names: BTreeSet<String> = run.listed(7, "LIST").into_keys().collect();
    assert!(
        names.contains("Work") && names.contains("Work/2027"),
        "{run}"
    );
    assert!(!names.iter().any(|n| n.starts_with("Projects")), "{run}");
    run.no(8, "[ALREADYEXISTS]");
    // RFC 9051 §6.3.7-8, RFC 3501 §6.3.9 LSUB, RFC 5258 §3.1 (SUBSCRIBED).
    run.ok(9);
    assert!(run.listed(10, "LSUB").contains_key("Work/2027"), "{run}");
    let subscribed = run.listed(11, "LIST");
    assert!(subscribed["Work/2027"].contains("\\subscribed"), "{run}");
    run.ok(12);
    assert!(!run.listed(13, "LSUB").contains_key("Work/2027"), "{run}");
    // RFC 9051 §6.3.5: a folder with subfolders is either deleted as a name only (it becomes
    // \Noselect, the subfolder stays) or the DELETE is refused NO [HASCHILDREN].
    if run.status(14) == "OK" {
        let left = run.listed(15, "LIST");
        assert!(left["Work"].contains("\\noselect"), "{run}");
        assert!(left.contains_key("Work/2027"), "{run}");
    } else {
        run.no(14, "[HASCHILDREN]");
    }
    // DELETE; INBOX cannot be deleted; RFC 5530 NONEXISTENT.
    run.ok(16);
    run.ok(17);
    run.no(18, "");
    run.no(19, "[NONEXISTENT]");
    let names: BTreeSet<String> = run.listed(20, "LIST").into_keys().collect();
    assert_eq!(names, set(DEFAULT_FOLDERS), "{run}");
}

#[test]
fn rfc_9051_6_3_6_renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let server = server();
    let stored = deliver(&server, &[lunch(), photos()]);
    let run = toto(
        &server,
        json!([
            ["rename", "INBOX", "Saved"],
            ["status", "INBOX", "(MESSAGES UIDNEXT)"],
            ["status", "Saved", "(MESSAGES)"],
            ["select", "Saved"],
            ["fetch", "1:2", "(BODY.PEEK[])"],
            ["list", "\"\"", "*"],
            ["logout"],
        ]),
    );
    run.ok(1);
    assert_eq!(
        number_after(run.line(2, "* STATUS"), "MESSAGES"),
        Some(0),
        "{run}"
    );
    assert_eq!(
        number_after(run.line(3, "* STATUS"), "MESSAGES"),
        Some(2),
        "{run}"
    );
    run.ok(4);
    for (seq, raw) in (1..).zip(&stored) {
        assert_eq!(
            run.fetch(5, seq, "BODY[]").bytes("BODY[]"),
            &raw[..],
            "{run}"
        );
    }
    let names: BTreeSet<String> = run.listed(6, "LIST").into_keys().collect();
    assert!(names.contains("INBOX") && names.contains("Saved"), "{run}");
    // Delivery goes on into the (new, empty) INBOX.
    let inbox = deliver(&server, &[reply()]);
    assert_eq!(inbox.len(), 1);
}

#[test]
fn rfc_5258_list_extended_returns_special_use_children_and_status() {
    let server = server();
    deliver(&server, &[lunch(), photos()]);
    let run = toto(
        &server,
        json!([
            ["create", "Archive/2025"],
            [
                "cmd",
                "LIST \"\" \"*\" RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES UNSEEN))"
            ],
            ["cmd", "LIST (SPECIAL-USE) \"\" \"*\""],
            ["namespace"],
            ["list", "\"\"", "\"\""],
            ["list", "\"\"", "%"],
            ["logout"],
        ]),
    );
    run.ok(1);
    let listed = run.listed(2, "LIST");
    let mut names: Vec<&str> = DEFAULT_FOLDERS.to_vec();
    names.push("Archive/2025");
    assert_eq!(
        listed.keys().cloned().collect::<BTreeSet<_>>(),
        set(names),
        "{run}"
    );
    // RFC 6154 §2 / ADDR-11: the special-use folders.
    for (folder, use_) in [
        ("Sent", "\\sent"),
        ("Drafts", "\\drafts"),
        ("Trash", "\\trash"),
        ("Junk", "\\junk"),
        ("Archive", "\\archive"),
    ] {
        assert!(listed[folder].contains(use_), "{folder} {use_}: {run}");
    }
    // RFC 5258 §4 CHILDREN.
    assert!(listed["Archive"].contains("\\haschildren"), "{run}");
    assert!(listed["Archive/2025"].contains("\\hasnochildren"), "{run}");
    assert!(listed["INBOX"].contains("\\hasnochildren"), "{run}");
    // RFC 5819: a STATUS response for every listed folder.
    let statuses = run.lines(2, "* STATUS ");
    assert_eq!(statuses.len(), listed.len(), "{run}");
    let inbox = statuses
        .iter()
        .find(|l| l.starts_with("* STATUS INBOX ") || l.starts_with("* STATUS \"INBOX\" "))
        .unwrap();
    assert_eq!(number_after(inbox, "MESSAGES"), Some(2), "{inbox}");
    assert_eq!(number_after(inbox, "UNSEEN"), Some(2), "{inbox}");
    // RFC 6154 §3: the SPECIAL-USE selection option lists only special-use folders.
    let special: BTreeSet<String> = run.listed(3, "LIST").into_keys().collect();
    assert_eq!(
        special,
        set(["Archive", "Drafts", "Junk", "Sent", "Trash"]),
        "{run}"
    );
    // RFC 2342: one personal namespace, "/" as delimiter.
    assert_eq!(
        run.line(4, "* NAMESPACE"),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL",
        "{run}"
    );
    // RFC 9051 §6.3.9: LIST "" "" gives the delimiter.
    assert_eq!(
        run.line(5, "* LIST"),
        "* LIST (\\Noselect) \"/\" \"\"",
        "{run}"
    );
    // "%" stops at the first level.
    let top: BTreeSet<String> = run.listed(6, "LIST").into_keys().collect();
    assert_eq!(top, set(DEFAULT_FOLDERS), "{run}");
}

#[test]
fn rfc_9051_6_3_11_status_reports_counts_size_and_highestmodseq() {
    let server = server();
    let stored = deliver(&server, &[lunch(), photos()]);
    let total: usize = stored.iter().map(Vec::len).sum();
    let run = toto(
        &server,
        json!([
            [
                "status",
                "INBOX",
                "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)"
            ],
            ["select", "INBOX"],
            ["store", "1", "+FLAGS.SILENT", "(\\Seen \\Deleted)"],
            ["unselect"],
            ["status", "INBOX", "(MESSAGES UNSEEN DELETED HIGHESTMODSEQ)"],
            ["getquotaroot", "INBOX"],
            ["status", "Nope", "(MESSAGES)"],
            ["logout"],
        ]),
    );
    let before = run.line(1, "* STATUS");
    assert_eq!(number_after(before, "MESSAGES"), Some(2), "{before}");
    assert_eq!(number_after(before, "UIDNEXT"), Some(3), "{before}");
    assert!(number_after(before, "UIDVALIDITY").unwrap() > 0, "{before}");
    assert_eq!(number_after(before, "UNSEEN"), Some(2), "{before}");
    // RFC 8438 STATUS=SIZE: the sum of RFC822.SIZE.
    assert_eq!(number_after(before, "SIZE"), Some(total as u64), "{before}");
    let modseq = number_after(before, "HIGHESTMODSEQ").unwrap();
    run.ok(3);
    run.ok(4);
    let after = run.line(5, "* STATUS");
    assert_eq!(number_after(after, "MESSAGES"), Some(2), "{after}");
    assert_eq!(number_after(after, "UNSEEN"), Some(1), "{after}");
    // RFC 9051 §6.3.11: DELETED counts \Deleted messages.
    assert_eq!(number_after(after, "DELETED"), Some(1), "{after}");
    // RFC 7162 §3.1.2: a flag change raises HIGHESTMODSEQ.
    assert!(
        number_after(after, "HIGHESTMODSEQ").unwrap() > modseq,
        "{after}"
    );
    // RFC 9208 §4.3.2, ADDR-10: the quota root is reported; usage in units of 1024 octets.
    run.ok(6);
    assert!(run.line(6, "* QUOTAROOT").contains("INBOX"), "{run}");
    for quota in run.lines(6, "* QUOTA ") {
        // RFC 9208 §7: quota-list = "(" quota-resource *(SP quota-resource) ")", never empty.
        assert!(!quota.ends_with(" ()"), "{quota}");
        if let Some(used) = number_after(quota, "STORAGE") {
            let octets = total as u64;
            assert!(
                used == octets / 1024 || used == octets.div_ceil(1024),
                "{quota}"
            );
        }
    }
    run.no(7, "[NONEXISTENT]");
}

// ---- 2: messages (APPEND, FETCH)

#[test]
fn rfc_4315_append_with_flags_and_date_answers_appenduid() {
    let server = server();
    let first = draft("first draft");
    let second = draft("second draft");
    let run = toto(
        &server,
        json!([
            [
                "append",
                "INBOX",
                b64(first.as_bytes()),
                "(\\Seen $Work)",
                "01-Jan-2020 10:00:00 +0000"
            ],
            ["append", "Nope", b64(first.as_bytes())],
            // RFC 7888 LITERAL+: a non-synchronising literal, sent at once.
            [
                "raw",
                format!("a1 APPEND INBOX {{{}+}}\r\n{second}", second.len())
            ],
            ["select", "INBOX"],
            [
                "uid",
                "FETCH",
                "1:2",
                "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"
            ],
            ["logout"],
        ]),
    );
    // RFC 4315 §3: APPENDUID <uidvalidity> <uid>.
    let appended = uid_code(run.ok(1), "APPENDUID");
    assert_eq!(appended[1], "1", "{run}");
    // RFC 9051 §6.3.12: TRYCREATE when the target does not exist.
    run.no(2, "[TRYCREATE]");
    assert_eq!(uid_code(run.ok(3), "APPENDUID")[1], "2", "{run}");
    assert!(run.step(3)["continuations"].as_array().unwrap().is_empty());
    run.ok(4);
    let validity = number_after(run.line(4, "* OK [UIDVALIDITY"), "UIDVALIDITY").unwrap();
    assert_eq!(appended[0], validity.to_string(), "{run}");
    let one = run.fetch(5, 1, "BODY[]");
    assert_eq!(one.uid(), 1);
    assert!(one.has_flag("\\Seen") && one.has_flag("$Work"), "{run}");
    assert_eq!(
        one.item("INTERNALDATE"),
        // RFC 9051 §9 date-day-fixed: the day is padded with a space.
        "\" 1-Jan-2020 10:00:00 +0000\"",
        "{run}"
    );
    assert_eq!(one.item("RFC822.SIZE"), first.len().to_string());
    assert_eq!(one.bytes("BODY[]"), first.as_bytes());
    let two = run.fetch(5, 2, "BODY[]");
    assert_eq!(two.uid(), 2);
    assert!(!two.has_flag("\\Seen"), "{run}");
    assert_eq!(two.bytes("BODY[]"), second.as_bytes());
    assert_eq!(
        server.inbox(TOTO).unwrap(),
        [first.into_bytes(), second.into_bytes()],
        "stored exactly as appended"
    );
}

#[test]
fn rfc_9051_6_4_5_fetch_attributes_come_from_the_stored_parse() {
    let server = server();
    let stored = deliver(&server, &all_four());
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            [
                "fetch",
                "1:4",
                "(FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"
            ],
            ["logout"],
        ]),
    );
    let fetches = run.fetches(2);
    assert_eq!(fetches.len(), 4, "{run}");
    for (i, fetch) in fetches.iter().enumerate() {
        assert_eq!(fetch.seq as usize, i + 1);
        assert_eq!(fetch.uid() as usize, i + 1);
        assert!(!fetch.has_flag("\\Seen"), "{run}");
        assert_eq!(fetch.item("RFC822.SIZE"), stored[i].len().to_string());
        // RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", the day padded with a space.
        let date = fetch.item("INTERNALDATE");
        assert_eq!(date.len(), 28, "{date}");
        assert_eq!(&date[3..4], "-", "{date}");
        assert_eq!(&date[21..22], " ", "{date}");
    }
    // RFC 9051 §7.5.2 ENVELOPE: sender and reply-to default to from.
    let alice = "((\"Alice\" NIL \"alice\" \"remote.example\"))";
    assert_eq!(
        fetches[0].item("ENVELOPE"),
        format!(
            "(\"Mon, 2 Mar 2026 10:00:00 +0000\" \"Lunch on Friday\" {alice} {alice} {alice} \
             ((NIL NIL \"toto\" \"example.com\")) NIL NIL NIL \"<lunch@remote.example>\")"
        )
    );
    let bob = "((\"Bob\" NIL \"bob\" \"remote.example\"))";
    assert_eq!(
        fetches[2].item("ENVELOPE"),
        format!(
            "(\"Tue, 3 Mar 2026 12:00:00 +0000\" \"Re: Lunch on Friday\" {bob} {bob} {bob} \
             ((NIL NIL \"toto\" \"example.com\")) NIL NIL \"<lunch@remote.example>\" \
             \"<reply@remote.example>\")"
        )
    );
    // RFC 9051 §7.5.2 BODYSTRUCTURE: type, subtype, parameters, id, description, encoding,
    // size in octets and lines; the default charset is US-ASCII (RFC 2045 §5.2).
    let upper = |i: usize| fetches[i].item("BODYSTRUCTURE").to_ascii_uppercase();
    assert!(
        upper(0)
            .starts_with("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 24 1"),
        "{}",
        upper(0)
    );
    let part_2_size = attachment_base64().len();
    let multipart = upper(1);
    assert!(
        multipart
            .starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 20 1"),
        "{multipart}"
    );
    assert!(
        multipart.contains(&format!(
            "(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"DATA.BIN\") NIL NIL \"BASE64\" \
             {part_2_size}"
        )),
        "{multipart}"
    );
    assert!(
        multipart.contains("\"MIXED\" (\"BOUNDARY\" \"XYZ\")"),
        "{multipart}"
    );
    let (_, body) = split_message(&stored[3]);
    let lines = body.windows(2).filter(|w| w == b"\r\n").count();
    assert!(
        upper(3).starts_with(&format!(
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"8BIT\" {} {lines}",
            body.len()
        )),
        "{}",
        upper(3)
    );
}

#[test]
fn rfc_9051_6_4_5_body_sections_return_the_exact_bytes() {
    let server = server();
    let stored = deliver(&server, &all_four());
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["fetch", "1:4", "(BODY.PEEK[])"],
            ["fetch", "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"],
            ["fetch", "1", "(BODY.PEEK[]<0.10>)"],
            [
                "fetch",
                "2",
                "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME])"
            ],
            ["fetch", "2", "(BINARY.PEEK[2] BINARY.SIZE[2])"],
            ["fetch", "1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])"],
            ["fetch", "4", "(BODY.PEEK[TEXT]<5.20>)"],
            ["fetch", "1", "(BODY.PEEK[]<100000.10>)"],
            ["fetch", "1", "(BINARY.PEEK[])"],
            ["logout"],
        ]),
    );
    // BODY[]: the message exactly as stored.
    for (seq, raw) in (1..).zip(&stored) {
        assert_eq!(
            run.fetch(2, seq, "BODY[]").bytes("BODY[]"),
            &raw[..],
            "message {seq}"
        );
    }
    // RFC 9051 §6.4.5 HEADER.FIELDS: the matching lines and the blank line.
    assert_eq!(
        run.fetch(3, 1, "BODY[HEADER.FIELDS (SUBJECT)]")
            .bytes("BODY[HEADER.FIELDS (SUBJECT)]"),
        b"Subject: Lunch on Friday\r\n\r\n"
    );
    // Partial: answered as BODY[]<0> with the octets asked for.
    assert_eq!(
        run.fetch(4, 1, "BODY[]<0>").bytes("BODY[]<0>"),
        &stored[0][..10]
    );
    // RFC 9051 §6.4.5 part numbers: the part's body, without the CRLF before the boundary
    // (RFC 2046 §5.1.1), and its MIME header.
    let parts = run.fetch(5, 2, "BODY[1]");
    assert_eq!(parts.bytes("BODY[1]"), b"Here are the photos.");
    assert_eq!(parts.bytes("BODY[2]"), attachment_base64().as_bytes());
    assert_eq!(parts.bytes("BODY[2.MIME]"), PHOTOS_PART_2_MIME.as_bytes());
    // RFC 3516: BINARY decodes the transfer encoding; NULs travel in a literal8.
    let binary = run.fetch(6, 2, "BINARY[2]");
    assert_eq!(binary.bytes("BINARY[2]"), &attachment()[..]);
    assert_eq!(binary.item("BINARY.SIZE[2]"), "256");
    let (header, body) = split_message(&stored[0]);
    let whole = run.fetch(7, 1, "BODY[HEADER]");
    assert_eq!(whole.bytes("BODY[HEADER]"), header);
    assert_eq!(whole.bytes("BODY[TEXT]"), body);
    let (_, text) = split_message(&stored[3]);
    assert_eq!(
        run.fetch(8, 4, "BODY[TEXT]<5>").bytes("BODY[TEXT]<5>"),
        &text[5..25]
    );
    // A partial starting past the end is the empty string.
    assert_eq!(
        run.fetch(9, 1, "BODY[]<100000>").bytes("BODY[]<100000>"),
        b""
    );
    // RFC 9051 §9 section-binary = "[" [section-part] "]": BINARY[] is the whole message
    // (nothing to decode in a message without Content-Transfer-Encoding).
    assert_eq!(
        run.fetch(10, 1, "BINARY[]").bytes("BINARY[]"),
        &stored[0][..],
        "{run}"
    );
}

/// A forwarded message: text, then a message/rfc822 part holding a multipart/alternative.
fn forward() -> (String, String) {
    let inner = "From: Inner <inner@remote.example>\r\nSubject: Inner subject\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n\
                 --ALT\r\nContent-Type: text/plain\r\n\r\nplain version\r\n\
                 --ALT\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n--ALT--\r\n"
        .to_string();
    let outer = format!(
        "From: Outer <outer@remote.example>\r\nTo: {TOTO}\r\nSubject: Forward\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"MIX\"\r\n\r\n\
         --MIX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
         --MIX\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--MIX--\r\n"
    );
    (outer, inner)
}

#[test]
fn rfc_9051_6_4_5_sections_inside_an_attached_message() {
    let server = server();
    let (outer, inner) = forward();
    let run = toto(
        &server,
        json!([
            ["append", "INBOX", b64(outer.as_bytes())],
            ["select", "INBOX"],
            ["fetch", "1", "(BODYSTRUCTURE)"],
            [
                "fetch",
                "1",
                "(BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] \
                 BODY.PEEK[2.2] BODY.PEEK[2.MIME] BODY.PEEK[2.1.MIME] \
                 BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])"
            ],
            ["logout"],
        ]),
    );
    // RFC 9051 §7.5.2: a MESSAGE/RFC822 part carries the envelope, the body structure and the
    // line count of the message inside.
    let structure = run
        .fetch(3, 1, "BODYSTRUCTURE")
        .item("BODYSTRUCTURE")
        .to_ascii_uppercase();
    let lines = inner.matches("\r\n").count();
    assert!(
        structure.contains(&format!(
            "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {} (NIL \"INNER SUBJECT\"",
            inner.len()
        )),
        "{structure}"
    );
    assert!(
        structure.contains(&format!(
            "\"ALTERNATIVE\" (\"BOUNDARY\" \"ALT\") NIL NIL NIL) {lines}"
        )),
        "{structure}"
    );
    assert!(
        structure.ends_with("\"MIXED\" (\"BOUNDARY\" \"MIX\") NIL NIL NIL)"),
        "{structure}"
    );
    // RFC 9051 §6.4.5: HEADER and TEXT of an encapsulated message, its parts by number.
    let parts = run.fetch(4, 1, "BODY[2]");
    let (header, text) = split_message(inner.as_bytes());
    assert_eq!(parts.bytes("BODY[2]"), inner.as_bytes());
    assert_eq!(parts.bytes("BODY[2.HEADER]"), header);
    assert_eq!(parts.bytes("BODY[2.TEXT]"), text);
    assert_eq!(parts.bytes("BODY[2.1]"), b"plain version");
    assert_eq!(parts.bytes("BODY[2.2]"), b"<p>html version</p>");
    assert_eq!(
        parts.bytes("BODY[2.MIME]"),
        b"Content-Type: message/rfc822\r\n\r\n"
    );
    assert_eq!(
        parts.bytes("BODY[2.1.MIME]"),
        b"Content-Type: text/plain\r\n\r\n"
    );
    assert_eq!(
        parts.bytes("BODY[2.HEADER.FIELDS (SUBJECT)]"),
        b"Subject: Inner subject\r\n\r\n"
    );
}

#[test]
fn rfc_9051_6_4_5_body_sets_seen_but_body_peek_does_not() {
    let server = server();
    let stored = deliver(&server, &[lunch()]);
    let run = toto(
        &server,
        json!([
            ["examine", "INBOX"],
            ["fetch", "1", "(BODY[])"],
            ["select", "INBOX"],
            ["fetch", "1", "(BODY.PEEK[])"],
            ["fetch", "1", "(FLAGS)"],
            ["fetch", "1", "(BODY[])"],
            ["fetch", "1", "(FLAGS)"],
            ["logout"],
        ]),
    );
    // Read-only: BODY[] reads without setting \Seen.
    assert_eq!(run.fetch(2, 1, "BODY[]").bytes("BODY[]"), &stored[0][..]);
    run.ok(3);
    assert_eq!(run.fetch(4, 1, "BODY[]").bytes("BODY[]"), &stored[0][..]);
    assert!(!run.fetch(5, 1, "FLAGS").has_flag("\\Seen"), "PEEK: {run}");
    // RFC 9051 §6.4.5: BODY[] sets \Seen, and the changed FLAGS come with the answer.
    run.ok(6);
    assert!(
        run.fetches(6).iter().any(|f| f.has_flag("\\Seen")),
        "FLAGS (\\Seen) sent with BODY[]: {run}"
    );
    assert!(run.fetch(7, 1, "FLAGS").has_flag("\\Seen"), "{run}");
}

// ---- 2: STORE, COPY, MOVE, EXPUNGE

#[test]
fn rfc_9051_6_4_6_store_adds_removes_and_replaces_flags_and_keywords() {
    let server = server();
    deliver(&server, &[lunch(), photos()]);
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["store", "1", "+FLAGS", "(\\Flagged $Important)"],
            ["store", "1", "-FLAGS", "(\\Flagged)"],
            ["store", "2", "FLAGS.SILENT", "(\\Answered $Forwarded)"],
            ["fetch", "1:2", "(FLAGS)"],
            ["uid", "STORE", "2", "-FLAGS", "(\\Answered)"],
            ["store", "1", "FLAGS", "(\\Seen)"],
            ["search", "KEYWORD $Forwarded"],
            ["logout"],
        ]),
    );
    let flags = |f: &Fetch| f.flags.clone().unwrap_or_default();
    let one = run.fetch(2, 1, "FLAGS");
    assert!(
        one.has_flag("\\Flagged") && one.has_flag("$Important"),
        "{run}"
    );
    let one = run.fetch(3, 1, "FLAGS");
    assert!(
        !one.has_flag("\\Flagged") && one.has_flag("$Important"),
        "{run}"
    );
    // RFC 9051 §6.4.6: .SILENT, no untagged FETCH for the message stored.
    run.ok(4);
    assert!(run.fetches(4).iter().all(|f| f.seq != 2), "{run}");
    let two = run.fetch(5, 2, "FLAGS");
    assert_eq!(
        flags(&two).into_iter().collect::<BTreeSet<_>>(),
        set(["\\Answered", "$Forwarded"]),
        "{run}"
    );
    // RFC 9051 §6.4.9: the answers to UID STORE carry the UID.
    let two = run.fetch(6, 2, "FLAGS");
    assert_eq!(two.uid(), 2, "{run}");
    assert_eq!(flags(&two), ["$Forwarded"], "{run}");
    // FLAGS replaces them all.
    assert_eq!(flags(&run.fetch(7, 1, "FLAGS")), ["\\Seen"], "{run}");
    assert_eq!(run.numbers(8, "SEARCH"), [2], "{run}");
}

#[test]
fn rfc_4315_copy_answers_copyuid_and_rfc_6851_move_expunges_the_source() {
    let server = server();
    let stored = deliver(&server, &[lunch(), photos(), reply()]);
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["store", "1", "+FLAGS.SILENT", "(\\Flagged)"],
            ["copy", "1:2", "Archive"],
            ["status", "Archive", "(MESSAGES UIDVALIDITY)"],
            ["move", "3", "Trash"],
            ["uid", "MOVE", "1", "Junk"],
            ["copy", "1", "Nope"],
            ["fetch", "1:*", "(UID)"],
            ["status", "Trash", "(MESSAGES)"],
            ["status", "Junk", "(MESSAGES)"],
            ["select", "Archive"],
            ["fetch", "1:2", "(UID FLAGS BODY.PEEK[])"],
            ["logout"],
        ]),
    );
    // RFC 4315 §3: COPYUID <destination uidvalidity> <source uids> <destination uids>.
    let copied = uid_code(run.ok(3), "COPYUID");
    let archive = run.line(4, "* STATUS");
    assert_eq!(number_after(archive, "MESSAGES"), Some(2), "{archive}");
    assert_eq!(
        Some(copied[0].parse::<u64>().unwrap()),
        number_after(archive, "UIDVALIDITY")
    );
    assert_eq!(seq_set(&copied[1]), [1, 2]);
    assert_eq!(seq_set(&copied[2]), [1, 2]);
    // RFC 6851 §4.3: COPYUID in an untagged OK (or the tagged one), then the EXPUNGE.
    run.ok(5);
    let moved = run
        .lines(5, "* OK [COPYUID")
        .first()
        .map(|l| l.to_string())
        .unwrap_or_else(|| run.text(5).to_string());
    assert_eq!(seq_set(&uid_code(&moved, "COPYUID")[1]), [3], "{run}");
    assert_eq!(run.lines(5, "* 3 EXPUNGE").len(), 1, "{run}");
    run.ok(6);
    assert_eq!(run.lines(6, "* 1 EXPUNGE").len(), 1, "{run}");
    run.no(7, "[TRYCREATE]");
    let left: Vec<u32> = run.fetches(8).iter().map(Fetch::uid).collect();
    assert_eq!(left, [2], "{run}");
    assert_eq!(number_after(run.line(9, "* STATUS"), "MESSAGES"), Some(1));
    assert_eq!(number_after(run.line(10, "* STATUS"), "MESSAGES"), Some(1));
    run.ok(11);
    for (seq, raw) in (1..).zip(&stored[..2]) {
        assert_eq!(
            run.fetch(12, seq, "BODY[]").bytes("BODY[]"),
            &raw[..],
            "{run}"
        );
    }
    // Flags travel with the copy.
    assert!(run.fetch(12, 1, "FLAGS").has_flag("\\Flagged"), "{run}");
    assert_eq!(server.inbox(TOTO).unwrap(), [stored[1].clone()]);
}

#[test]
fn rfc_4315_expunge_and_uid_expunge_remove_only_what_they_name() {
    let server = server();
    deliver(&server, &all_four());
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["store", "1:4", "+FLAGS.SILENT", "(\\Deleted)"],
            ["uid", "EXPUNGE", "2"],
            ["store", "3", "-FLAGS.SILENT", "(\\Deleted)"],
            ["expunge"],
            ["fetch", "1:*", "(UID)"],
            ["store", "1", "+FLAGS.SILENT", "(\\Deleted)"],
            ["unselect"],
            ["select", "INBOX"],
            ["close"],
            ["status", "INBOX", "(MESSAGES)"],
            ["logout"],
        ]),
    );
    // RFC 4315 §2.1: UID EXPUNGE removes only the UIDs named, though all are \Deleted.
    run.ok(3);
    let expunged: Vec<&str> = run
        .lines(3, "* ")
        .into_iter()
        .filter(|l| l.ends_with(" EXPUNGE"))
        .collect();
    assert_eq!(expunged, ["* 2 EXPUNGE"], "{run}");
    // RFC 9051 §6.4.3: EXPUNGE removes the other two still \Deleted, one response each.
    run.ok(5);
    let expunged = run
        .lines(5, "* ")
        .into_iter()
        .filter(|l| l.ends_with(" EXPUNGE"))
        .count();
    assert_eq!(expunged, 2, "{run}");
    let left: Vec<u32> = run.fetches(6).iter().map(Fetch::uid).collect();
    assert_eq!(left, [4], "{run}");
    // RFC 3691 UNSELECT expunges nothing; RFC 9051 §6.4.1 CLOSE expunges silently.
    run.ok(8);
    assert_eq!(run.lines(9, "* 1 EXISTS").len(), 1, "{run}");
    run.ok(10);
    assert!(
        !run.untagged(10).iter().any(|l| l.ends_with("EXPUNGE")),
        "{run}"
    );
    assert_eq!(number_after(run.line(11, "* STATUS"), "MESSAGES"), Some(0));
    assert!(server.inbox(TOTO).unwrap().is_empty());
}

// ---- 2: SEARCH, ESEARCH, SEARCHRES, SORT, THREAD

#[test]
fn rfc_9051_6_4_4_search_keys_find_the_right_messages() {
    let server = server();
    deliver(&server, &all_four());
    // (criteria, expected message numbers); 1 is \Seen and 4 has the keyword $Work.
    let cases: &[(&str, &[u32])] = &[
        ("ALL", &[1, 2, 3, 4]),
        ("FROM alice", &[1]),
        ("FROM bob", &[2, 3]),
        ("SUBJECT lunch", &[1, 3]),
        ("TEXT zebra", &[4]),
        ("TEXT Alice", &[1]),
        ("BODY noon", &[1, 3]),
        ("BODY zebra", &[4]),
        ("UNSEEN", &[2, 3, 4]),
        ("SEEN", &[1]),
        ("LARGER 3000", &[4]),
        ("SMALLER 3000", &[1, 2, 3]),
        ("SINCE 1-Jan-2020", &[1, 2, 3, 4]),
        ("BEFORE 1-Jan-2020", &[]),
        ("SENTBEFORE 3-Mar-2026", &[1]),
        ("SENTSINCE 4-Mar-2026", &[4]),
        ("UID 2:3", &[2, 3]),
        ("UID 3:*", &[3, 4]),
        ("1:3 UNSEEN", &[2, 3]),
        ("OR FROM alice FROM carol", &[1, 4]),
        ("NOT FROM bob", &[1, 4]),
        ("OR (FROM bob SUBJECT photos) SEEN", &[1, 2]),
        ("HEADER Message-ID photos", &[2]),
        ("KEYWORD $Work", &[4]),
        ("UNKEYWORD $Work SEEN", &[1]),
        ("NOT BODY nowhere-to-be-found", &[1, 2, 3, 4]),
    ];
    let mut steps = vec![
        json!(["select", "INBOX"]),
        json!(["store", "1", "+FLAGS.SILENT", "(\\Seen)"]),
        json!(["store", "4", "+FLAGS.SILENT", "($Work)"]),
    ];
    steps.extend(
        cases
            .iter()
            .map(|(criteria, _)| json!(["search", criteria])),
    );
    steps.push(json!(["uid", "SEARCH", "FROM bob"]));
    steps.push(json!(["search", "NOSUCHKEY"]));
    steps.push(json!(["logout"]));
    let run = toto(&server, Value::Array(steps));
    for (i, (criteria, expected)) in cases.iter().enumerate() {
        run.ok(4 + i);
        assert_eq!(
            &run.numbers(4 + i, "SEARCH"),
            expected,
            "SEARCH {criteria}:\n{run}"
        );
    }
    let next = 4 + cases.len();
    assert_eq!(run.numbers(next, "SEARCH"), [2, 3], "UID SEARCH: {run}");
    assert_eq!(run.status(next + 1), "BAD", "{run}");
}

#[test]
fn rfc_9051_6_4_4_search_matches_decoded_text_in_utf8() {
    let server = server();
    let words = base64::engine::general_purpose::STANDARD.encode("Das Matterhorn grüßt\r\n");
    let messages: [Vec<u8>; 3] = [
        // Encoded words in the header (RFC 2047), quoted-printable UTF-8 in the body.
        "From: =?UTF-8?Q?J=C3=BCrgen?= <j@remote.example>\r\n\
         Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgV2llbg==?=\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\
         \r\nViele Gr=C3=BC=C3=9Fe vom Stephansdom\r\n"
            .into(),
        // Base64 UTF-8.
        format!(
            "From: k@remote.example\r\nSubject: plain\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {words}\r\n"
        )
        .into(),
        // 8-bit ISO-8859-1.
        [
            &b"From: l@remote.example\r\nSubject: latin\r\n\
               Content-Type: text/plain; charset=iso-8859-1\r\n\
               Content-Transfer-Encoding: 8bit\r\n\r\n"[..],
            b"K\xe4se aus Gruy\xe8re\r\n",
        ]
        .concat(),
    ];
    // RFC 9051 §6.4.4: strings in the CHARSET given, matched case-insensitively against the
    // decoded header fields and body; the search strings travel as literals.
    let cases: [(&str, &str, &[u32]); 7] = [
        ("SUBJECT", "Grüße", &[1]),
        ("FROM", "Jürgen", &[1]),
        ("BODY", "Grüße", &[1]),
        ("BODY", "grüßt", &[2]),
        ("BODY", "KÄSE", &[3]),
        ("TEXT", "Gruyère", &[3]),
        ("BODY", "Stephansdom", &[1]),
    ];
    let mut steps: Vec<Value> = messages
        .iter()
        .map(|m| json!(["append", "INBOX", b64(m)]))
        .collect();
    steps.push(json!(["select", "INBOX"]));
    for (i, (key, word, _)) in cases.iter().enumerate() {
        steps.push(json!([
            "raw",
            format!(
                "s{i} SEARCH CHARSET UTF-8 {key} {{{}}}\r\n{word}",
                word.len()
            )
        ]));
    }
    steps.push(json!(["logout"]));
    let run = toto(&server, Value::Array(steps));
    for (i, (key, word, expected)) in cases.iter().enumerate() {
        run.ok(5 + i);
        assert_eq!(
            &run.numbers(5 + i, "SEARCH"),
            expected,
            "{key} {word}:\n{run}"
        );
    }
}

#[test]
fn rfc_4731_esearch_return_options_and_rfc_5182_searchres() {
    let server = server();
    deliver(&server, &all_four());
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["cmd", "SEARCH RETURN (MIN MAX COUNT ALL) FROM bob"],
            ["cmd", "UID SEARCH RETURN (COUNT) ALL"],
            ["cmd", "SEARCH RETURN () SUBJECT nothing-like-this"],
            ["cmd", "UID SEARCH RETURN (SAVE) FROM bob"],
            ["uid", "FETCH", "$", "(UID)"],
            ["cmd", "SEARCH $ SUBJECT lunch"],
            ["logout"],
        ]),
    );
    // RFC 4731 §3.1: ESEARCH with the search correlator, then the items asked for.
    let esearch = run.line(2, "* ESEARCH (TAG \"");
    assert_eq!(number_after(esearch, "MIN"), Some(2), "{esearch}");
    assert_eq!(number_after(esearch, "MAX"), Some(3), "{esearch}");
    assert_eq!(number_after(esearch, "COUNT"), Some(2), "{esearch}");
    let all = esearch
        .split(" ALL ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(seq_set(all), [2, 3], "{esearch}");
    let counted = run.line(3, "* ESEARCH");
    assert!(counted.contains(") UID "), "UID searches say so: {counted}");
    assert_eq!(number_after(counted, "COUNT"), Some(4), "{counted}");
    // Nothing found: no ALL.
    let none = run.line(4, "* ESEARCH");
    assert!(!none.contains(" ALL"), "{none}");
    // RFC 5182 §2.1: SAVE alone answers nothing, and $ names the saved result.
    run.ok(5);
    assert!(run.lines(5, "* ESEARCH").is_empty(), "{run}");
    assert!(run.lines(5, "* SEARCH").is_empty(), "{run}");
    let uids: BTreeSet<u32> = run.fetches(6).iter().map(Fetch::uid).collect();
    assert_eq!(uids, [2, 3].into_iter().collect(), "{run}");
    assert_eq!(run.numbers(7, "SEARCH"), [3], "{run}");
}

#[test]
fn rfc_5256_sort_and_thread_order_the_messages() {
    let server = server();
    let stored = deliver(&server, &all_four());
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["sort", "(SUBJECT)", "UTF-8", "ALL"],
            ["sort", "(REVERSE SIZE)", "UTF-8", "ALL"],
            ["sort", "(FROM)", "UTF-8", "ALL"],
            ["sort", "(REVERSE DATE)", "UTF-8", "ALL"],
            ["uid", "SORT", "(DATE)", "UTF-8", "FROM bob"],
            ["thread", "REFERENCES", "UTF-8", "ALL"],
            ["thread", "ORDEREDSUBJECT", "UTF-8", "ALL"],
            ["logout"],
        ]),
    );
    // RFC 5256 §2.1: base subjects without "Re:"; ties by message number.
    assert_eq!(run.numbers(2, "SORT"), [1, 3, 2, 4], "{run}");
    let mut by_size: Vec<u32> = (1..=4).collect();
    by_size.sort_by_key(|&n| std::cmp::Reverse(stored[n as usize - 1].len()));
    assert_eq!(run.numbers(3, "SORT"), by_size, "{run}");
    assert_eq!(run.numbers(4, "SORT"), [1, 2, 3, 4], "{run}");
    // DATE is the Date: header (RFC 5256 §3).
    assert_eq!(run.numbers(5, "SORT"), [4, 3, 2, 1], "{run}");
    assert_eq!(run.numbers(6, "SORT"), [2, 3], "{run}");
    // RFC 5256 §4: 3 answers 1; threads ordered by their first message's date.
    assert_eq!(run.line(7, "* THREAD"), "* THREAD (1 3)(2)(4)", "{run}");
    assert_eq!(run.line(8, "* THREAD"), "* THREAD (1 3)(2)(4)", "{run}");
}

// ---- 3: CONDSTORE and QRESYNC (RFC 7162)

#[test]
fn rfc_7162_condstore_changedsince_and_unchangedsince() {
    let server = server();
    deliver(&server, &[lunch(), photos()]);
    let first = toto(
        &server,
        json!([
            ["cmd", "SELECT INBOX (CONDSTORE)"],
            ["fetch", "1:2", "(MODSEQ)"],
            ["logout"],
        ]),
    );
    // RFC 7162 §3.1.2.1: HIGHESTMODSEQ with SELECT; §3.1.4: MODSEQ as a FETCH item.
    let m0 = number_after(first.line(1, "* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ").unwrap();
    let modseq = |f: Fetch| -> u64 { f.item("MODSEQ").trim_matches(['(', ')']).parse().unwrap() };
    let one = modseq(first.fetch(2, 1, "MODSEQ"));
    let two = modseq(first.fetch(2, 2, "MODSEQ"));
    assert!(one <= m0 && two <= m0, "{first}");

    let run = toto(
        &server,
        json!([
            ["cmd", "SELECT INBOX (CONDSTORE)"],
            ["store", "1", "+FLAGS", "(\\Flagged)"],
            ["cmd", format!("FETCH 1:2 (UID FLAGS) (CHANGEDSINCE {m0})")],
            [
                "cmd",
                format!("STORE 2 (UNCHANGEDSINCE {two}) +FLAGS (\\Answered)")
            ],
            [
                "cmd",
                format!("STORE 1 (UNCHANGEDSINCE {one}) +FLAGS (\\Seen)")
            ],
            ["fetch", "1", "(FLAGS)"],
            ["cmd", format!("SEARCH MODSEQ {}", m0 + 1)],
            ["logout"],
        ]),
    );
    // §3.1.4: once CONDSTORE is on, the FETCH answering STORE carries the new MODSEQ.
    let stored = run.fetch(2, 1, "MODSEQ");
    let m1 = modseq(stored);
    assert!(m1 > m0, "{run}");
    // §3.1.4.1 CHANGEDSINCE: only message 1 changed.
    let changed: Vec<u32> = run.fetches(3).iter().map(|f| f.seq).collect();
    assert_eq!(changed, [1], "{run}");
    // §3.1.3 UNCHANGEDSINCE: 2 is unchanged, stored; 1 changed since, refused as MODIFIED.
    assert!(!run.ok(4).contains("MODIFIED"), "{run}");
    assert!(run.ok(5).contains("[MODIFIED 1]"), "{run}");
    assert!(!run.fetch(6, 1, "FLAGS").has_flag("\\Seen"), "{run}");
    // §3.1.5 SEARCH MODSEQ.
    assert_eq!(run.numbers(7, "SEARCH"), [1, 2], "{run}");
}

#[test]
fn rfc_7162_qresync_select_reports_vanished_earlier_and_changed_flags() {
    let server = server();
    deliver(&server, &all_four());
    let first = toto(
        &server,
        json!([["cmd", "ENABLE QRESYNC"], ["select", "INBOX"], ["logout"]]),
    );
    assert!(
        first
            .line(1, "* ENABLED")
            .eq_ignore_ascii_case("* ENABLED QRESYNC"),
        "{first}"
    );
    let validity = number_after(first.line(2, "* OK [UIDVALIDITY"), "UIDVALIDITY").unwrap();
    let m0 = number_after(first.line(2, "* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ").unwrap();

    // Meanwhile, another client flags 2 and expunges 3.
    let other = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["store", "2", "+FLAGS.SILENT", "(\\Flagged)"],
            ["store", "3", "+FLAGS.SILENT", "(\\Deleted)"],
            ["expunge"],
            ["logout"],
        ]),
    );
    other.ok(4);

    let run = toto(
        &server,
        json!([
            ["cmd", "ENABLE QRESYNC"],
            [
                "cmd",
                format!("SELECT INBOX (QRESYNC ({validity} {m0} 1:4))")
            ],
            [
                "cmd",
                format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m0} VANISHED)")
            ],
            ["store", "1", "+FLAGS.SILENT", "(\\Deleted)"],
            ["expunge"],
            ["logout"],
        ]),
    );
    // RFC 7162 §3.2.5: SELECT with QRESYNC reports what vanished and what changed since m0.
    run.ok(2);
    assert_eq!(run.line(2, "* VANISHED"), "* VANISHED (EARLIER) 3", "{run}");
    assert_eq!(run.lines(2, "* 3 EXISTS").len(), 1, "{run}");
    let changed = run.fetches(2);
    assert_eq!(changed.len(), 1, "only 2 changed: {run}");
    assert_eq!(changed[0].uid(), 2);
    assert!(changed[0].has_flag("\\Flagged"), "{run}");
    assert!(changed[0].items.contains_key("MODSEQ"), "{run}");
    assert!(
        number_after(run.line(2, "* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ").unwrap() > m0,
        "{run}"
    );
    // §3.2.6: UID FETCH with VANISHED.
    assert_eq!(run.line(3, "* VANISHED"), "* VANISHED (EARLIER) 3", "{run}");
    let changed: Vec<u32> = run.fetches(3).iter().map(Fetch::uid).collect();
    assert_eq!(changed, [2], "{run}");
    // §3.2.10: once QRESYNC is on, expunges are reported as VANISHED, not EXPUNGE.
    run.ok(5);
    assert_eq!(run.line(5, "* VANISHED"), "* VANISHED 1", "{run}");
    assert!(
        !run.untagged(5).iter().any(|l| l.ends_with(" EXPUNGE")),
        "{run}"
    );
}

// ---- 4: concurrency (RFC 9051 §7, §5.5)

#[test]
fn rfc_9051_7_a_change_in_one_session_shows_in_the_other_after_noop() {
    let server = server();
    deliver(&server, &[lunch(), photos()]);
    let appended = draft("appended elsewhere");
    let second = nested(
        &server,
        json!([
            ["login", TOTO, TOTO_PASSWORD],
            ["select", "INBOX"],
            ["store", "1", "+FLAGS", "(\\Flagged)"],
            ["append", "INBOX", b64(appended.as_bytes())],
            ["logout"],
        ]),
    );
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            second,
            ["noop"],
            ["fetch", "3", "(BODY.PEEK[])"],
            ["logout"],
        ]),
    );
    let other = &run.data(2)["json"];
    for step in 0..5 {
        assert_eq!(other["steps"][step]["status"], json!("OK"), "{run}");
    }
    // RFC 9051 §7.5.1 / §7.4.1: at NOOP, the other session's flag change and new message.
    run.ok(3);
    assert!(run.fetch(3, 1, "FLAGS").has_flag("\\Flagged"), "{run}");
    assert_eq!(run.lines(3, "* 3 EXISTS").len(), 1, "{run}");
    assert_eq!(
        run.fetch(4, 3, "BODY[]").bytes("BODY[]"),
        appended.as_bytes()
    );
}

#[test]
fn issue_4_a_fetch_after_changes_in_another_session_shows_exactly_the_new_state() {
    let server = server();
    deliver(&server, &[lunch(), photos(), reply()]);
    let appended = draft("appended elsewhere");
    let second = nested(
        &server,
        json!([
            ["login", TOTO, TOTO_PASSWORD],
            ["cmd", "SELECT INBOX (CONDSTORE)"],
            ["cmd", "STORE 1 +FLAGS ($Work \\Flagged)"],
            ["cmd", "STORE 2 +FLAGS.SILENT (\\Deleted)"],
            ["expunge"],
            ["append", "INBOX", b64(appended.as_bytes())],
            ["cmd", "STATUS INBOX (HIGHESTMODSEQ)"],
            ["logout"],
        ]),
    );
    let items = "(UID FLAGS MODSEQ RFC822.SIZE ENVELOPE)";
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            // Read once: the folder's view is cached from here on, for every session.
            ["cmd", format!("FETCH 1:* {items}")],
            second,
            ["noop"],
            ["cmd", format!("FETCH 1:* {items}")],
            ["logout"],
        ]),
    );
    let other = &run.data(3)["json"];
    for step in 0..7 {
        assert_eq!(other["steps"][step]["status"], json!("OK"), "{run}");
    }
    let modseq = |f: &Fetch| -> u64 { f.item("MODSEQ").trim_matches(['(', ')']).parse().unwrap() };
    let before = run.fetches(2);
    assert_eq!(before.iter().map(Fetch::uid).collect::<Vec<_>>(), [1, 2, 3]);
    // The other session's STORE answered with the MODSEQ it gave message 1, and its STATUS
    // with the HIGHESTMODSEQ after its APPEND.
    let stored = other["steps"][2]["fetches"][0]["items"]["MODSEQ"]
        .as_str()
        .unwrap()
        .trim_matches(['(', ')'])
        .parse::<u64>()
        .unwrap();
    let status = other["steps"][6]["untagged"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|line| line.starts_with("* STATUS"))
        .unwrap_or_else(|| panic!("no STATUS response:\n{run}"));
    let highest = number_after(status, "HIGHESTMODSEQ").unwrap();

    run.ok(4);
    let after = run.fetches(5);
    assert_eq!(
        after.iter().map(|f| (f.seq, f.uid())).collect::<Vec<_>>(),
        [(1, 1), (2, 3), (3, 4)],
        "{run}"
    );
    assert!(
        after[0].has_flag("\\Flagged") && after[0].has_flag("$Work"),
        "{run}"
    );
    assert_eq!(modseq(&after[0]), stored, "{run}");
    assert!(modseq(&after[0]) > modseq(&before[0]), "{run}");
    // Untouched: the same as before, byte for byte.
    assert_eq!(after[1].items, before[2].items, "{run}");
    let new = &after[2];
    assert_eq!(modseq(new), highest, "{run}");
    assert!(new.flags.as_ref().is_some_and(Vec::is_empty), "{run}");
    assert_eq!(new.item("RFC822.SIZE"), appended.len().to_string(), "{run}");
    assert!(
        new.item("ENVELOPE").contains("\"appended elsewhere\""),
        "{run}"
    );
}

#[test]
fn rfc_9051_7_5_1_an_expunge_elsewhere_is_reported_at_noop_not_during_fetch() {
    let server = server();
    deliver(&server, &[lunch(), photos(), reply()]);
    let second = nested(
        &server,
        json!([
            ["login", TOTO, TOTO_PASSWORD],
            ["select", "INBOX"],
            ["store", "1", "+FLAGS.SILENT", "(\\Deleted)"],
            ["expunge"],
            ["logout"],
        ]),
    );
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            second,
            ["fetch", "2", "(UID)"],
            ["fetch", "1", "(UID BODY.PEEK[])"],
            ["noop"],
            ["fetch", "1:*", "(UID)"],
            ["logout"],
        ]),
    );
    assert_eq!(
        run.data(2)["json"]["steps"][3]["status"],
        json!("OK"),
        "{run}"
    );
    // RFC 9051 §7.5.1: no EXPUNGE during FETCH, so the numbers still mean what they meant.
    assert_eq!(run.fetch(3, 2, "UID").uid(), 2, "{run}");
    assert!(
        !run.untagged(3).iter().any(|l| l.ends_with(" EXPUNGE")),
        "{run}"
    );
    // The message expunged elsewhere, not reported yet: RFC 2180 §4.1.1-2 and RFC 5530
    // EXPUNGEISSUED: either its data still comes, or the answer says why it does not (NO, or
    // [EXPUNGEISSUED]) — never a bare OK that looks like a message without contents.
    let gone = run.fetches(4).into_iter().find(|f| f.seq == 1);
    match gone {
        Some(fetch) => assert_eq!(fetch.uid(), 1, "{run}"),
        None => assert!(
            run.status(4) == "NO" || run.text(4).contains("[EXPUNGEISSUED]"),
            "no data, so NO or [EXPUNGEISSUED]: {run}"
        ),
    }
    // At NOOP the expunge is reported and the numbers shift.
    assert_eq!(run.lines(5, "* 1 EXPUNGE").len(), 1, "{run}");
    let uids: Vec<u32> = run.fetches(6).iter().map(Fetch::uid).collect();
    assert_eq!(uids, [2, 3], "{run}");
}

#[test]
fn rfc_2180_the_selected_folder_deleted_elsewhere_ends_the_session() {
    let server = server();
    let second = nested(
        &server,
        json!([
            ["login", TOTO, TOTO_PASSWORD],
            ["delete", "Projects"],
            ["logout"]
        ]),
    );
    let run = toto(
        &server,
        json!([
            ["create", "Projects"],
            ["append", "Projects", b64(draft("plan").as_bytes())],
            ["select", "Projects"],
            second,
            ["noop"],
            ["fetch", "1", "(UID)"],
        ]),
    );
    assert_eq!(
        run.data(4)["json"]["steps"][1]["status"],
        json!("OK"),
        "{run}"
    );
    // RFC 2180 §3.3: the server may end the session (as Dovecot does) rather than leave the
    // client in a folder that no longer exists; it says so with BYE (RFC 9051 §7.1.5).
    assert_eq!(run.status(5), "closed", "{run}");
    assert!(run.line(5, "* BYE").len() > 5, "{run}");
}

#[test]
fn rfc_2177_idle_reports_a_delivery_and_a_flag_change() {
    let server = server();
    let first = deliver(&server, &[lunch()]);
    let smtp = json!([
        "python3",
        SMTP_CLIENT,
        "send",
        smtp_args(&server, &photos()).to_string()
    ]);
    let flagger = nested(
        &server,
        json!([
            ["login", TOTO, TOTO_PASSWORD],
            ["select", "INBOX"],
            ["store", "1", "+FLAGS.SILENT", "(\\Flagged)"],
            ["logout"],
        ]),
    );
    // Generous bounds, no timing assertion: the issue's "within one second" is not measured.
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["idle", {"run": smtp, "until": "^\\* 2 EXISTS", "timeout": 10}],
            ["idle", {"run": flagger[1], "until": "^\\* 1 FETCH .*Flagged", "timeout": 10}],
            ["fetch", "1:2", "(BODY.PEEK[])"],
            ["logout"],
        ]),
    );
    let idle = run.data(2);
    assert_eq!(
        idle["run"]["json"]["transactions"][0]["data"][0],
        json!(250),
        "{run}"
    );
    assert_eq!(
        idle["seen"],
        json!(true),
        "IDLE reported the delivery: {run}"
    );
    run.ok(2);
    let idle = run.data(3);
    assert_eq!(idle["run"]["returncode"], json!(0), "{run}");
    assert_eq!(
        idle["seen"],
        json!(true),
        "IDLE reported the flag change: {run}"
    );
    run.ok(3);
    let inbox = server.inbox(TOTO).unwrap();
    assert_eq!(run.fetch(4, 1, "BODY[]").bytes("BODY[]"), &first[0][..]);
    assert_eq!(run.fetch(4, 2, "BODY[]").bytes("BODY[]"), &inbox[1][..]);
}

// ---- 6: hostile input

#[test]
fn imap_6_an_overlong_command_line_gets_bad_and_the_session_goes_on() {
    let server = server_with("[imap]\nmax_line_length = 8192\n");
    // RFC 7162 §4: lines of 8192 octets must be taken (long UID sets); one of ~7 KB here.
    let uids: Vec<String> = (1..3000).step_by(2).map(|n| n.to_string()).collect();
    let long_set = uids.join(",");
    assert!(long_set.len() > 6000 && long_set.len() < 8000);
    let run = toto(
        &server,
        json!([
            ["select", "INBOX"],
            ["raw", format!("x1 SELECT \"{}\"", "a".repeat(10_000))],
            ["noop"],
            ["cmd", format!("UID SEARCH UID {long_set}")],
            // Nesting a parser could recurse into until its stack overflows.
            [
                "raw",
                format!("x2 SEARCH {}ALL{}", "(".repeat(3000), ")".repeat(3000))
            ],
            ["raw", format!("x3 SEARCH {}ALL", "NOT ".repeat(1500))],
            ["noop"],
            ["logout"],
        ]),
    );
    assert_eq!(run.status(2), "BAD", "{run}");
    run.ok(3);
    run.ok(4);
    // Too deep: refused as BAD, the server (and this session) still there.
    assert_eq!(run.status(5), "BAD", "{run}");
    assert_eq!(run.status(6), "BAD", "{run}");
    run.ok(7);
}

#[test]
fn rfc_7889_a_literal_over_appendlimit_gets_toobig_and_the_session_goes_on() {
    let server = server_with("[imap]\nmax_literal = 2048\n");
    let small = draft("small");
    let big = format!("{}{}\r\n", draft("big"), "x".repeat(4096));
    let run = toto(
        &server,
        json!([
            ["capability"],
            ["append", "INBOX", b64(small.as_bytes())],
            ["append", "INBOX", b64(big.as_bytes())],
            ["noop"],
            [
                "raw",
                format!("x2 APPEND INBOX {{{}+}}\r\n{big}", big.len())
            ],
            ["noop"],
            ["status", "INBOX", "(MESSAGES)"],
            ["logout"],
        ]),
    );
    // RFC 7889: the limit is advertised.
    assert_caps(&run.caps(1), &["APPENDLIMIT=2048"], &[]);
    run.ok(2);
    // RFC 7889 §4 / RFC 4469 TOOBIG: a synchronising literal is refused before it is sent.
    run.no(3, "[TOOBIG]");
    assert!(
        run.step(3)["continuations"].as_array().unwrap().is_empty(),
        "{run}"
    );
    run.ok(4);
    // RFC 7888 §4: a non-synchronising literal already on its way: BAD (octets skipped) or
    // BYE; either way TOOBIG.
    if run.status(5) == "closed" {
        assert!(run.line(5, "* BYE").contains("TOOBIG"), "{run}");
    } else {
        assert!(run.text(5).contains("[TOOBIG]"), "{run}");
        run.refused(5);
        run.ok(6);
        assert_eq!(number_after(run.line(7, "* STATUS"), "MESSAGES"), Some(1));
    }
    assert_eq!(server.inbox(TOTO).unwrap(), [small.into_bytes()]);
}

#[test]
fn imap_6_before_login_a_large_literal_is_refused_toobig() {
    let server = server();
    let run = imap(
        &server,
        "imaps",
        json!([
            [
                "raw",
                format!("a1 LOGIN {{100000}}\r\n{} secret", "x".repeat(100_000))
            ],
            ["capability"],
            ["login", TOTO, TOTO_PASSWORD],
            ["logout"],
        ]),
    );
    // Issue point 6: an unauthenticated client cannot make the server hold a large literal
    // (the configured APPENDLIMIT is for logged-in sessions); RFC 7889 / RFC 4469 TOOBIG,
    // refused before the literal is sent (RFC 9051 §4.3), and the session goes on.
    assert!(run.text(0).contains("[TOOBIG]"), "{run}");
    assert!(
        run.step(0)["continuations"].as_array().unwrap().is_empty(),
        "{run}"
    );
    run.ok(1);
    run.ok(2);
}

#[test]
fn imap_6_folder_names_cannot_reach_another_mailbox() {
    let server = server();
    let setup = toto(
        &server,
        json!([
            ["create", "Secret"],
            ["append", "Secret", b64(draft("secret").as_bytes())],
            ["logout"],
        ]),
    );
    setup.ok(1);
    setup.ok(2);
    let mine = draft("mine");
    let steps = json!([
        ["login", OTHER, OTHER_PASSWORD],
        ["list", "\"\"", "*"],
        ["select", "\"../toto@example.com/INBOX\""],
        ["select", "Secret"],
        ["status", "\"toto@example.com/Secret\"", "(MESSAGES)"],
        ["create", "\"../escape\""],
        ["create", "\"a/../../b\""],
        ["create", "\"/root\""],
        ["list", "\"../\"", "*"],
        ["list", "\"\"", "\"../*\""],
        ["list", "\"\"", "*Secret*"],
        [
            "append",
            "\"../toto@example.com/INBOX\"",
            b64(mine.as_bytes())
        ],
        ["append", "INBOX", b64(mine.as_bytes())],
        ["select", "INBOX"],
        ["copy", "1", "\"../toto@example.com/Secret\""],
        ["move", "1", "\"toto@example.com/Secret\""],
        ["rename", "INBOX", "\"../toto@example.com/INBOX\""],
        ["list", "\"\"", "*"],
        ["logout"],
    ]);
    let run = imap(&server, "imaps", steps);
    run.ok(0);
    let names: BTreeSet<String> = run.listed(1, "LIST").into_keys().collect();
    assert_eq!(
        names,
        set(DEFAULT_FOLDERS),
        "only other's own folders: {run}"
    );
    for step in [2, 3, 4, 5, 6, 7, 11, 14, 15, 16] {
        run.refused(step);
    }
    for step in [8, 9, 10] {
        let leaked = run
            .untagged(step)
            .into_iter()
            .any(|l| l.contains("Secret") || l.contains("toto") || l.contains("escape"));
        assert!(!leaked, "step {step}: {run}");
    }
    run.ok(12);
    run.ok(13);
    let names: BTreeSet<String> = run.listed(17, "LIST").into_keys().collect();
    assert_eq!(names, set(DEFAULT_FOLDERS), "nothing created: {run}");

    // toto's folders are as they were.
    let check = toto(
        &server,
        json!([
            ["status", "Secret", "(MESSAGES)"],
            ["status", "INBOX", "(MESSAGES)"],
            ["list", "\"\"", "*"],
            ["logout"],
        ]),
    );
    assert_eq!(number_after(check.line(1, "* STATUS"), "MESSAGES"), Some(1));
    assert_eq!(number_after(check.line(2, "* STATUS"), "MESSAGES"), Some(0));
    let mut expected: Vec<&str> = DEFAULT_FOLDERS.to_vec();
    expected.push("Secret");
    let names: BTreeSet<String> = check.listed(3, "LIST").into_keys().collect();
    assert_eq!(names, set(expected), "{check}");
}

#[test]
fn rfc_9051_5_1_folder_names_in_modified_utf7_and_utf8() {
    let server = server();
    let run = toto(
        &server,
        json!([
            // "Été" in modified UTF-7 (RFC 3501 §5.1.3).
            ["create", "&AMk-t&AOk-"],
            ["create", "\"Tom &- Jerry\""],
            ["create", "&Jjo"],
            ["create", "bad&name"],
            ["list", "\"\"", "*"],
            ["enable", "UTF8=ACCEPT"],
            ["list", "\"\"", "*"],
            ["select", "\"Été\""],
            ["logout"],
        ]),
    );
    run.ok(1);
    run.ok(2);
    // Not valid modified UTF-7: refused.
    run.refused(3);
    run.refused(4);
    let names: BTreeSet<String> = run.listed(5, "LIST").into_keys().collect();
    assert!(names.contains("&AMk-t&AOk-"), "{run}");
    assert!(names.contains("Tom &- Jerry"), "{run}");
    assert_eq!(names.len(), DEFAULT_FOLDERS.len() + 2, "{run}");
    // RFC 6855 §3: after ENABLE UTF8=ACCEPT, names are UTF-8.
    run.ok(6);
    let names: BTreeSet<String> = run.listed(7, "LIST").into_keys().collect();
    assert!(
        names.contains("Été") && names.contains("Tom & Jerry"),
        "{run}"
    );
    run.ok(8);
}

#[test]
fn rfc_4978_compress_deflate_carries_the_rest_of_the_session() {
    let server = server();
    let stored = deliver(&server, &[lunch(), report()]);
    let run = toto(
        &server,
        json!([
            ["compress"],
            ["noop"],
            ["select", "INBOX"],
            ["fetch", "1:2", "(BODY.PEEK[])"],
            ["cmd", "COMPRESS DEFLATE"],
            ["logout"],
        ]),
    );
    run.ok(1);
    run.ok(2);
    run.ok(3);
    for (seq, raw) in (1..).zip(&stored) {
        assert_eq!(
            run.fetch(4, seq, "BODY[]").bytes("BODY[]"),
            &raw[..],
            "{run}"
        );
    }
    // RFC 4978 §3: a second COMPRESS is refused.
    run.no(5, "[COMPRESSIONACTIVE]");
    run.ok(6);
}

// ---- mbsync (isync): the "Done means" of the issue

/// Runs mbsync with the template configuration against imaps, syncing every folder of toto
/// into `maildir`; returns its output.
fn mbsync(server: &TestServer, work: &Path, maildir: &Path) -> String {
    // The server's self-signed certificate (crates/net/src/tls.rs), trusted as a host
    // certificate: isync then accepts it as it is, without checking the name against
    // 127.0.0.1 (man mbsync, CertificateFile).
    let cert = server.data_dir().join("tls").join("self-signed.crt");
    assert!(cert.exists(), "{}", cert.display());
    let config = std::fs::read_to_string(MBSYNC_TEMPLATE)
        .unwrap()
        .replace("{PORT}", &server.addr("imaps").port().to_string())
        .replace("{USER}", TOTO)
        .replace("{PASS}", TOTO_PASSWORD)
        .replace("{CERT}", cert.to_str().unwrap())
        .replace("{MAILDIR}", maildir.to_str().unwrap());
    let rc = work.join("mbsyncrc");
    std::fs::write(&rc, config).unwrap();
    let out = Command::new("mbsync")
        .arg("--config")
        .arg(&rc)
        .arg("--verbose")
        .arg("--all")
        .env("HOME", work)
        .output()
        .expect("mbsync is installed (.ci/run installs isync)");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mbsync failed ({}):\n{log}\nserver log:\n{}",
        out.status,
        server.stderr()
    );
    log
}

/// The messages of a Maildir folder: (content, flags letters from the file name), sorted by
/// content.
fn maildir_messages(folder: &Path) -> Vec<(Vec<u8>, String, PathBuf)> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(folder.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let flags = name
                .split_once(":2,")
                .map(|(_, f)| f.to_string())
                .unwrap_or_default();
            out.push((std::fs::read(&path).unwrap(), flags, path));
        }
    }
    out.sort();
    out
}

/// What a Maildir file holds for an IMAP message: mbsync stores line ends as LF (the Maildir
/// convention) and may add its own `X-TUID:` tracking header; take both back out.
fn as_imap(maildir_file: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = maildir_file
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    lines.retain(|line| !line.starts_with(b"X-TUID: "));
    lines.join(&b"\r\n"[..])
}

/// Checks the Maildir INBOX against the IMAP INBOX message by message: the same bytes as
/// `BODY[]` and the flags in the file names (S for \Seen, F for \Flagged, R for \Answered).
fn assert_synced(server: &TestServer, maildir: &Path, log: &str) {
    let run = toto(
        server,
        json!([
            ["examine", "INBOX"],
            ["fetch", "1:*", "(FLAGS BODY.PEEK[])"],
            ["logout"],
        ]),
    );
    let fetches = run.fetches(2);
    let local = maildir_messages(&maildir.join("INBOX"));
    assert_eq!(local.len(), fetches.len(), "{log}\n{run}");
    for fetch in &fetches {
        let body = fetch.bytes("BODY[]");
        let (_, flags, path) = local
            .iter()
            .find(|(content, _, _)| as_imap(content) == body)
            .unwrap_or_else(|| {
                panic!(
                    "message {} is not in the Maildir byte for byte:\n{}\n{log}",
                    fetch.seq,
                    String::from_utf8_lossy(body)
                )
            });
        for (flag, letter) in [("\\Seen", 'S'), ("\\Flagged", 'F'), ("\\Answered", 'R')] {
            assert_eq!(
                fetch.has_flag(flag),
                flags.contains(letter),
                "{flag} of message {} vs {}\n{log}",
                fetch.seq,
                path.display()
            );
        }
    }
}

#[test]
fn mbsync_syncs_to_maildir_then_follows_a_delivery_and_flag_changes() {
    let server = server();
    deliver(&server, &[lunch(), photos(), reply()]);
    toto(
        &server,
        json!([["select", "INBOX"], ["store", "1", "+FLAGS", "(\\Seen)"]]),
    )
    .ok(2);
    let work = tempfile::tempdir().unwrap();
    let maildir = work.path().join("Mail");
    std::fs::create_dir(&maildir).unwrap();

    let log = mbsync(&server, work.path(), &maildir);
    assert_synced(&server, &maildir, &log);
    // ADDR-11: every folder came over.
    for folder in DEFAULT_FOLDERS {
        assert!(maildir.join(folder).join("cur").is_dir(), "{folder}\n{log}");
    }

    // A delivery and a flag change on the server, a flag change in the Maildir.
    let stored = deliver(&server, &[report()]);
    toto(
        &server,
        json!([["select", "INBOX"], ["store", "2", "+FLAGS", "(\\Flagged)"]]),
    )
    .ok(2);
    let local = maildir_messages(&maildir.join("INBOX"));
    let (_, flags, path) = local
        .iter()
        .find(|(content, _, _)| as_imap(content) == stored[2])
        .expect("message 3 synced");
    assert!(!flags.contains('S'));
    let name = path.file_name().unwrap().to_str().unwrap();
    let base = name.split(":2,").next().unwrap();
    let seen = maildir
        .join("INBOX")
        .join("cur")
        .join(format!("{base}:2,S"));
    std::fs::rename(path, &seen).unwrap();

    let log = mbsync(&server, work.path(), &maildir);
    assert_synced(&server, &maildir, &log);
    let run = toto(
        &server,
        json!([["examine", "INBOX"], ["fetch", "1:4", "(FLAGS)"]]),
    );
    assert!(run.fetch(2, 2, "FLAGS").has_flag("\\Flagged"), "{run}");
    assert!(
        run.fetch(2, 3, "FLAGS").has_flag("\\Seen"),
        "the local change went up: {run}"
    );
    assert!(!run.fetch(2, 4, "FLAGS").has_flag("\\Seen"), "{run}");
}

// ---- issue 5: POP3 and IMAP serve the same octets

#[test]
fn issue_5_pop3_retr_and_imap_body_return_the_same_bytes() {
    let server = server();
    let stored = deliver(&server, &[lunch(), photos(), report()]);
    let run = toto(
        &server,
        json!([
            ["examine", "INBOX"],
            ["fetch", "1:3", "(BODY.PEEK[])"],
            ["logout"]
        ]),
    );
    let addr = server.addr("pop3s");
    let args = json!({"host": addr.ip().to_string(), "port": addr.port(), "tls": "implicit",
                      "steps": [["user", TOTO], ["pass", TOTO_PASSWORD],
                                ["retr", 1], ["retr", 2], ["retr", 3], ["quit"]]});
    let out = Command::new("python3")
        .arg(POP3_CLIENT)
        .arg(args.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pop: Value = serde_json::from_slice(&out.stdout).unwrap();
    for seq in 1..=3u32 {
        let imap_body = run.fetch(2, seq, "BODY[]").bytes("BODY[]").to_vec();
        let retr = &pop["steps"][seq as usize + 1]["ok"]["content"];
        let pop_body = unb64(retr.as_str().unwrap_or_else(|| panic!("RETR {seq}: {pop}")));
        assert_eq!(
            String::from_utf8_lossy(&pop_body),
            String::from_utf8_lossy(&imap_body),
            "message {seq}"
        );
        assert_eq!(pop_body, imap_body, "message {seq}");
        assert_eq!(imap_body, stored[seq as usize - 1]);
    }
}

#[test]
fn issue_5_fetchmail_delivers_what_imap_returns_byte_for_byte() {
    let server = server();
    deliver(&server, &[lunch(), photos(), report()]);
    let run = toto(
        &server,
        json!([
            ["examine", "INBOX"],
            ["fetch", "1:3", "(BODY.PEEK[])"],
            ["logout"]
        ]),
    );
    let mut from_imap: Vec<Vec<u8>> = (1..=3u32)
        .map(|seq| run.fetch(2, seq, "BODY[]").bytes("BODY[]").to_vec())
        .collect();
    from_imap.sort();
    let (from_fetchmail, log) = common::fetchmail(&server, "pop3s", TOTO, TOTO_PASSWORD);
    assert_eq!(from_fetchmail.len(), 3, "{log}");
    for (got, want) in from_fetchmail.iter().zip(&from_imap) {
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want),
            "fetchmail's file is IMAP's BODY[]\n{log}"
        );
    }
    assert_eq!(from_fetchmail, from_imap);
}
