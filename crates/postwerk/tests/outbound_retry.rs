//! Issue 10 end to end: a submission whose `250` the client never saw (a crash between the
//! commit and the reply, or a local half that failed) is sent again, byte for byte, and the
//! remote recipient receives it once (`QueueStore::enqueue_once`, migration 0015). The
//! sending side is a real server; the remote MX is the scripted peer of the outbound tests
//! (tests/outbound/peer.py), which keeps every message it accepts; the client is Python's
//! smtplib (tests/smtp/client.py); the MX record comes from testkit's loopback DNS server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postwerk_testkit::TestServer;
use postwerk_testkit::dns::{DnsServer, Zone};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outbound/peer.py");

const ALICE: &str = "alice@local.test";
const ALICE_PASSWORD: &str = "alice-secret-1";
const BOB: &str = "bob@remote.test";
const CAROL: &str = "carol@remote.test";

/// How long the test waits for the queue to drain. A readiness deadline, not a timing
/// assertion: a slow machine only waits longer.
const DEADLINE: Duration = Duration::from_secs(90);

/// The scripted remote MX (peer.py "accept"), killed on drop.
struct Peer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Peer {
    fn start() -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(PEER)
            .arg("accept")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        Peer {
            port: line.trim().parse().expect("the peer prints its port"),
            child,
            dir,
        }
    }

    /// The `Message-ID`s of the messages it accepted, one per copy, sorted.
    fn message_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| {
                let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
                text.lines()
                    .find_map(|l| l.strip_prefix("Message-ID: "))
                    .unwrap_or("(none)")
                    .to_string()
            })
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sending side: hosts local.test with the mailbox alice; remote.test's MX is the peer.
fn local_server(dns: &DnsServer, peer: &Peer) -> TestServer {
    let config = format!(
        "[dns]\nservers = [\"{}\"]\ndnssec = \"off\"\n[queue]\nremote_port = {}\n",
        dns.addr(),
        peer.port
    );
    let server = TestServer::start_with(Path::new(BIN), &["submission"], &config).unwrap();
    for args in [
        &["org", "create", "Local"][..],
        &["service", "create", "local.test", "--org", "Local"],
        &["address", "create", ALICE, "--password", ALICE_PASSWORD],
    ] {
        server.admin_ok(args);
    }
    server
}

/// A message as alice's client writes it: its own Date and Message-ID, so sending these exact
/// bytes again is a retry, not a new message.
fn message(id: &str) -> String {
    format!(
        "From: Alice <{ALICE}>\r\nTo: {BOB}, {CAROL}\r\nSubject: {id}\r\n\
         Date: Fri, 27 Nov 2026 05:00:00 +0000\r\nMessage-ID: <{id}@local.test>\r\n\r\n\
         Hello from alice.\r\n"
    )
}

/// Alice submits `message` to `to` (STARTTLS + AUTH PLAIN), which must be answered `250`.
fn submit(server: &TestServer, to: &[&str], message: &str) {
    let addr = server.addr("submission");
    let args = json!({
        "host": addr.ip().to_string(),
        "port": addr.port(),
        "tls": "starttls",
        "user": ALICE,
        "password": ALICE_PASSWORD,
        "from": ALICE,
        "to": to,
        "message": message,
    });
    let out = Command::new("python3")
        .arg(CLIENT)
        .arg("send")
        .arg(args.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["auth"][0], 235, "{reply}");
    assert_eq!(reply["transactions"][0]["data"][0], 250, "{reply}");
}

/// Waits until nothing is left in the queue: every copy queued has been delivered.
fn wait_until_drained(server: &TestServer) {
    let started = Instant::now();
    loop {
        let out = server.admin_ok(&["--json", "queue", "list"]);
        let queue: Value = serde_json::from_slice(&out.stdout).unwrap();
        if queue.as_array().is_some_and(Vec::is_empty) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the queue did not drain: {queue}\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_submission_sent_again_reaches_the_remote_recipients_once() {
    let mut zone = Zone::new();
    zone.mx("remote.test", 10, "mx.remote.test");
    zone.a("mx.remote.test", "127.0.0.1".parse().unwrap());
    let dns = DnsServer::start(zone).unwrap();
    let peer = Peer::start();
    let server = local_server(&dns, &peer);

    // The client lost the first 250 and sends the same bytes again at once: both are
    // answered 250. The recipients in another order are the same recipients.
    let retried = message("retried");
    submit(&server, &[BOB, CAROL], &retried);
    submit(&server, &[CAROL, BOB], &retried);
    wait_until_drained(&server);

    // A retry that comes after the first copy was delivered and dequeued is recognised too.
    submit(&server, &[BOB, CAROL], &retried);
    // Another message, and the same bytes to other recipients, are not retries.
    submit(&server, &[BOB, CAROL], &message("another"));
    submit(&server, &[BOB], &retried);
    wait_until_drained(&server);

    // The peer takes one copy per transaction (both recipients in one), so an empty queue
    // means every queued copy is here.
    assert_eq!(
        peer.message_ids(),
        [
            "<another@local.test>",
            "<retried@local.test>",
            "<retried@local.test>",
        ],
        "\"retried\" once to bob and carol, once to bob alone; \"another\" once"
    );
}
