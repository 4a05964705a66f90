//! Issue 6 end to end: two real servers on loopback — "local" (hosting local.test, where
//! alice submits) and "remote" (a second Postwerk hosting remote.test, or a scripted peer for
//! temporary failures) — and a real DNS server on loopback (testkit's) that both the queue's
//! resolver and the tests control. Results are checked with independent tools: Python's
//! `email` package parses the DSNs and Python's `dkim` module verifies the signatures
//! (tests/outbound/check.py).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postwerk_testkit::TestServer;
use postwerk_testkit::dns::{DnsServer, Zone};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");
const CHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outbound/check.py");
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outbound/peer.py");

const ALICE: &str = "alice@local.test";
const ALICE_PASSWORD: &str = "alice-secret-1";
const BOB: &str = "bob@remote.test";

/// How long a test waits for the queue to do something. A readiness deadline, not a timing
/// assertion: a slow machine only waits longer.
const DEADLINE: Duration = Duration::from_secs(90);

/// The zone both servers live in: remote.test's MX is mx.remote.test on loopback.
fn zone() -> Zone {
    let mut zone = Zone::new();
    zone.mx("remote.test", 10, "mx.remote.test");
    zone.a("mx.remote.test", "127.0.0.1".parse().unwrap());
    zone.mx("origin.test", 10, "mx.remote.test");
    zone.null_mx("nomail.test");
    zone.a("nomail.test", "127.0.0.1".parse().unwrap());
    zone
}

/// The receiving side: a second Postwerk hosting remote.test with the mailbox bob.
fn remote_server() -> TestServer {
    let server = TestServer::start(Path::new(BIN), &["smtp"]).unwrap();
    for args in [
        &["org", "create", "Remote"][..],
        &["service", "create", "remote.test", "--org", "Remote"],
        &["address", "create", BOB, "--password", "bob-secret-1"],
    ] {
        server.admin_ok(args);
    }
    server
}

/// The configuration tail of the sending side: the loopback DNS server (trusting its AD bit,
/// as with a local validating resolver) and MX hosts dialled on `remote_port`.
fn local_config(dns: &DnsServer, remote_port: u16, queue: &str) -> String {
    format!(
        "[dns]\nservers = [\"{}\"]\ndnssec = \"trust-ad\"\n[queue]\nremote_port = {remote_port}\n{queue}\n",
        dns.addr()
    )
}

/// The sending side: hosts local.test with the mailbox alice, submission only.
fn local_server(config: &str) -> TestServer {
    let server = TestServer::start_with(Path::new(BIN), &["submission", "smtp"], config).unwrap();
    for args in [
        &["org", "create", "Local"][..],
        &["service", "create", "local.test", "--org", "Local"],
        &["address", "create", ALICE, "--password", ALICE_PASSWORD],
    ] {
        server.admin_ok(args);
    }
    server
}

/// Alice submits one message (STARTTLS + AUTH PLAIN on submission), with RCPT parameters.
fn submit(server: &TestServer, to: &[&str], subject: &str, rcpt_options: &[&str]) -> Value {
    submit_with(
        server,
        to,
        subject,
        &["RET=HDRS", "ENVID=env-42"],
        rcpt_options,
    )
}

/// [`submit`] with the MAIL parameters given.
fn submit_with(
    server: &TestServer,
    to: &[&str],
    subject: &str,
    mail_options: &[&str],
    rcpt_options: &[&str],
) -> Value {
    let addr = server.addr("submission");
    let message = format!(
        "From: Alice <{ALICE}>\r\nTo: {}\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@local.test>\r\n\r\nHello from alice.\r\n.leading dot line\r\n",
        to.join(", ")
    );
    let args = json!({
        "host": addr.ip().to_string(),
        "port": addr.port(),
        "tls": "starttls",
        "user": ALICE,
        "password": ALICE_PASSWORD,
        "from": ALICE,
        "mail_options": mail_options,
        "to": to,
        "rcpt_options": rcpt_options,
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
    reply
}

/// Waits until `probe` answers something, or fails the test with `what` and the logs.
fn wait_for<T>(server: &TestServer, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "gave up waiting for {what}; server log:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The queue as `postwerk admin queue list --json` shows it.
fn queue_json(server: &TestServer) -> Vec<Value> {
    let out = server.admin_ok(&["--json", "queue", "list"]);
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Debian's Python, which sees Debian's python3-dkim even where `python3` on PATH is another
/// installation (a pyenv shim).
fn debian_python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Runs check.py and returns its JSON.
fn check(args: &[&str]) -> Value {
    let out = Command::new(debian_python())
        .arg(CHECK)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "check.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Parses a DSN found in alice's INBOX with Python's `email` package.
fn parse_dsn(raw: &[u8]) -> Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), raw).unwrap();
    check(&["dsn", file.path().to_str().unwrap()])
}

/// The DSNs in alice's INBOX, parsed, once there are `count` of them.
fn dsns(server: &TestServer, count: usize) -> Vec<Value> {
    let raws = wait_for(server, &format!("{count} DSN(s) in alice's INBOX"), || {
        let inbox = server.inbox(ALICE).ok()?;
        (inbox.len() >= count).then_some(inbox)
    });
    assert_eq!(raws.len(), count, "no more DSNs than expected");
    raws.iter().map(|raw| parse_dsn(raw)).collect()
}

/// The delivery-status part of a parsed DSN (RFC 3464, or RFC 6533's global one).
fn status_part(dsn: &Value) -> &Value {
    dsn["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["type"] == "message/delivery-status" || p["type"] == "message/global-delivery-status"
        })
        .expect("a delivery-status part")
}

/// The SHA-256 of the remote server's certificate (TLSA 3 0 1, RFC 6698 §2.1).
fn certificate_sha256(server: &TestServer) -> Vec<u8> {
    let pem =
        std::fs::read_to_string(server.data_dir().join("tls").join("self-signed.crt")).unwrap();
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    Sha256::digest(der).to_vec()
}

/// A scripted peer (tests/outbound/peer.py) on loopback, killed on drop.
struct Peer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Peer {
    fn start(mode: &str) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(PEER)
            .arg(mode)
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

    /// How many messages it accepted.
    fn messages(&self) -> usize {
        std::fs::read_dir(self.dir.path()).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
    }

    /// The envelope of the `n`th accepted message (from 1).
    fn envelope(&self, n: usize) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SND-2, SND-3: submitted mail for another domain is signed, queued, found through MX and
/// delivered over STARTTLS; the remote mailbox holds it byte for byte after the trace lines,
/// and Python's dkim module verifies the signature against the record the admin CLI shows.
#[test]
fn snd_3_submitted_mail_is_signed_and_delivered_to_the_mx_over_tls() {
    let dns = DnsServer::start(zone()).unwrap();
    let remote = remote_server();
    let local = local_server(&local_config(&dns, remote.addr("smtp").port(), ""));
    submit(&local, &[BOB], "first", &[]);

    let inbox = wait_for(&remote, "the message at bob's", || {
        let inbox = remote.inbox(BOB).ok()?;
        (!inbox.is_empty()).then_some(inbox)
    });
    let text = String::from_utf8_lossy(&inbox[0]).into_owned();
    assert!(text.contains("Subject: first"), "{text}");
    assert!(
        !text.contains("\r\n..leading dot line\r\n"),
        "dot-stuffing undone: {text}"
    );
    assert!(text.contains("\r\n.leading dot line\r\n"), "{text}");
    assert!(text.contains("DKIM-Signature:"), "signed (SND-2): {text}");
    assert!(text.contains("d=local.test"), "{text}");
    assert!(text.contains("with ESMTPS"), "delivered over TLS: {text}");
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });

    // The public key as an administrator would publish it.
    let out = local.admin_ok(&["--json", "service", "dns", "local.test"]);
    let records: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut txt = serde_json::Map::new();
    for record in records["records"].as_array().unwrap() {
        if record["kind"] == "TXT" && record["name"].as_str().unwrap().contains("._domainkey.") {
            // Zone presentation: quoted strings of at most 255 octets (RFC 1035 §3.3.14),
            // joined by the verifier (RFC 6376 §3.6.2.2).
            let value: String = record["value"]
                .as_str()
                .unwrap()
                .split('"')
                .skip(1)
                .step_by(2)
                .collect();
            txt.insert(record["name"].as_str().unwrap().to_string(), json!(value));
        }
    }
    assert_eq!(txt.len(), 1, "one DKIM record: {records}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &inbox[0]).unwrap();
    let verdict = check(&[
        "dkim",
        file.path().to_str().unwrap(),
        &Value::Object(txt).to_string(),
    ]);
    assert_eq!(verdict["valid"], true, "{verdict}");
}

/// SND-5: a 5xx at RCPT fails the recipient at once; alice gets a standard DSN, which
/// Python's email package parses field by field, with ENVID, ORCPT and the remote's answer.
#[test]
fn snd_5_a_refused_recipient_comes_back_as_a_dsn_at_once() {
    let dns = DnsServer::start(zone()).unwrap();
    let remote = remote_server();
    let local = local_server(&local_config(&dns, remote.addr("smtp").port(), ""));
    submit(
        &local,
        &["nobody@remote.test"],
        "refused",
        &["NOTIFY=FAILURE", "ORCPT=rfc822;nobody@remote.test"],
    );
    let dsn = &dsns(&local, 1)[0];
    assert_eq!(dsn["content_type"], "multipart/report", "{dsn}");
    assert_eq!(dsn["report_type"], "delivery-status", "{dsn}");
    assert_eq!(dsn["auto_submitted"], "auto-replied", "{dsn}");
    assert!(
        dsn["from"].as_str().unwrap().contains("MAILER-DAEMON@"),
        "{dsn}"
    );
    let status = status_part(dsn);
    let message = &status["message"];
    assert_eq!(message["reporting-mta"], "dns; mail.example.test", "{dsn}");
    assert_eq!(message["original-envelope-id"], "env-42", "{dsn}");
    assert!(message["arrival-date"].is_string(), "{dsn}");
    let rcpt = &status["recipients"][0];
    assert_eq!(
        rcpt["final-recipient"], "rfc822; nobody@remote.test",
        "{dsn}"
    );
    assert_eq!(
        rcpt["original-recipient"], "rfc822;nobody@remote.test",
        "{dsn}"
    );
    assert_eq!(rcpt["action"], "failed", "{dsn}");
    assert_eq!(rcpt["status"], "5.1.1", "{dsn}");
    assert_eq!(rcpt["remote-mta"], "dns; mx.remote.test", "{dsn}");
    assert!(
        rcpt["diagnostic-code"]
            .as_str()
            .unwrap()
            .starts_with("smtp; 550"),
        "{dsn}"
    );
    assert!(rcpt["last-attempt-date"].is_string(), "{dsn}");
    let parts: Vec<&str> = dsn["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        parts,
        [
            "text/plain",
            "message/delivery-status",
            "text/rfc822-headers"
        ],
        "RET=HDRS"
    );
    let human = dsn["parts"][0]["text"].as_str().unwrap();
    assert!(human.contains("nobody@remote.test"), "{human}");
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });
}

/// SND-3 (RFC 7505): a domain with a null MX accepts no mail; the DSN comes at once.
#[test]
fn snd_3_null_mx_fails_at_once_with_a_dsn() {
    let dns = DnsServer::start(zone()).unwrap();
    let local = local_server(&local_config(&dns, 9, ""));
    submit(&local, &["someone@nomail.test"], "nullmx", &[]);
    let dsn = &dsns(&local, 1)[0];
    let rcpt = &status_part(dsn)["recipients"][0];
    assert_eq!(rcpt["action"], "failed", "{dsn}");
    assert_eq!(rcpt["status"], "5.1.10", "{dsn}");
}

/// SND-3 (RFC 7672): with DNSSEC-secure TLSA records, the certificate must match them. A
/// mismatch is a temporary failure (the message waits in the queue, nothing reaches bob);
/// once the record is right, `admin queue retry` delivers it.
#[test]
fn snd_3_dane_mismatch_defers_and_a_match_delivers() {
    let mut zone = zone();
    zone.secure("remote.test");
    let dns = DnsServer::start(zone).unwrap();
    let remote = remote_server();
    let port = remote.addr("smtp").port();
    dns.zone().tlsa(port, "mx.remote.test", 3, 0, 1, &[0u8; 32]);
    let local = local_server(&local_config(&dns, port, ""));
    submit(&local, &[BOB], "dane", &[]);

    let entry = wait_for(&local, "a failed DANE attempt", || {
        let queue = queue_json(&local);
        let rcpt = queue.first()?["recipients"][0].clone();
        (rcpt["attempts"].as_u64()? >= 1).then_some(rcpt)
    });
    assert_eq!(entry["status"], "pending", "{entry}");
    assert!(
        entry["last_status"].as_str().unwrap().starts_with('4'),
        "{entry}"
    );
    assert!(
        entry["diagnostic"].as_str().unwrap().contains("DANE"),
        "the reason names DANE: {entry}"
    );
    assert!(
        remote.inbox(BOB).unwrap().is_empty(),
        "nothing delivered on a mismatch"
    );

    dns.zone().tlsa(
        port,
        "mx.remote.test",
        3,
        0,
        1,
        &certificate_sha256(&remote),
    );
    let id = queue_json(&local)[0]["id"].as_i64().unwrap().to_string();
    local.admin_ok(&["queue", "retry", &id]);
    wait_for(&remote, "the message at bob's", || {
        (remote.inbox(BOB).ok()?.len() == 1).then_some(())
    });
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });
}

/// SND-4: a 4xx is retried on the schedule and then delivered; nothing is duplicated.
#[test]
fn snd_4_a_temporary_refusal_is_retried_then_delivered() {
    let dns = DnsServer::start(zone()).unwrap();
    let peer = Peer::start("defer-once");
    let local = local_server(&local_config(&dns, peer.port, "retry = [1]"));
    submit(&local, &[BOB], "greylisted", &[]);
    wait_for(&local, "delivery after the retry", || {
        (peer.messages() == 1).then_some(())
    });
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });
    assert_eq!(peer.messages(), 1);
    assert!(
        local.inbox(ALICE).unwrap().is_empty(),
        "no DSN for a delivered message"
    );
}

/// RFC 6531 §3.4 (SMTPUTF8): a submission to an address with a non-ASCII local part leaves with
/// `SMTPUTF8` for an MX that offers it, the address exactly as given. An MX that does not offer
/// it receives nothing, and the sender gets a report with 5.6.7 in RFC 6533's global
/// delivery-status part naming the address as type `utf-8`.
#[test]
fn smtputf8_recipients_leave_only_for_an_mx_that_offers_it() {
    const JORG: &str = "jörg.müller@remote.test";
    let dns = DnsServer::start(zone()).unwrap();
    let utf8_peer = Peer::start("accept-utf8");
    let local = local_server(&local_config(&dns, utf8_peer.port, ""));
    // RFC 3461 ORCPT in xtext: smtp-proto reads only the rfc822 type; the UTF-8 is kept.
    let rcpt_options = [
        "NOTIFY=FAILURE",
        "ORCPT=rfc822;j+C3+B6rg.m+C3+BCller@remote.test",
    ];
    submit_with(&local, &[JORG], "utf8", &["SMTPUTF8"], &rcpt_options);
    wait_for(&local, "delivery to the SMTPUTF8 peer", || {
        (utf8_peer.messages() == 1).then_some(())
    });
    let envelope = utf8_peer.envelope(1);
    assert_eq!(envelope["rcpt_to"], json!([JORG]), "{envelope}");
    assert_eq!(envelope["mail_from"], ALICE, "{envelope}");
    let mail_params = envelope["mail_params"].as_array().unwrap();
    assert!(mail_params.contains(&json!("SMTPUTF8")), "{envelope}");
    // RFC 6533 §3: the original recipient goes on as type utf-8, as unitext inside SMTPUTF8.
    assert_eq!(
        envelope["rcpt_params"],
        json!([["NOTIFY=FAILURE", format!("ORCPT=utf-8;{JORG}")]]),
        "{envelope}"
    );

    let ascii_peer = Peer::start("accept");
    let local = local_server(&local_config(&dns, ascii_peer.port, ""));
    submit_with(&local, &[JORG], "utf8", &["SMTPUTF8"], &rcpt_options);
    let dsn = &dsns(&local, 1)[0];
    let rcpt = &status_part(dsn)["recipients"][0];
    assert_eq!(rcpt["final-recipient"], format!("utf-8; {JORG}"), "{dsn}");
    assert_eq!(rcpt["original-recipient"], format!("utf-8;{JORG}"), "{dsn}");
    assert_eq!(rcpt["action"], "failed", "{dsn}");
    assert_eq!(rcpt["status"], "5.6.7", "{dsn}");
    assert_eq!(status_part(dsn)["type"], "message/global-delivery-status");
    assert_eq!(ascii_peer.messages(), 0, "nothing reached the peer");
}

/// Issue 10: a submission whose `250` the client never saw (a crash between the commit and the
/// reply, or a local half that failed) is sent again, byte for byte, and the remote recipients
/// receive it once (`QueueStore::enqueue_once`), even when the first copy has already left the
/// queue; another message is not taken for a retry.
#[test]
fn a_submission_sent_again_reaches_the_remote_recipients_once() {
    let dns = DnsServer::start(zone()).unwrap();
    let peer = Peer::start("accept");
    let local = local_server(&local_config(&dns, peer.port, ""));
    let drained = || {
        wait_for(&local, "an empty queue", || {
            queue_json(&local).is_empty().then_some(())
        })
    };
    submit(&local, &[BOB], "retried", &[]);
    submit(&local, &[BOB], "retried", &[]);
    drained();
    submit(&local, &[BOB], "retried", &[]);
    submit(&local, &[BOB], "another", &[]);
    drained();
    // The peer keeps one file per transaction, so an empty queue means every copy is here.
    assert_eq!(peer.messages(), 2, "\"retried\" once, \"another\" once");
}

/// SND-4 with a short schedule: a destination that keeps deferring gets the sender one delay
/// notice (with Will-Retry-Until), then one final failure report when the queue gives up.
#[test]
fn snd_4_delay_notice_then_final_failure_report() {
    let dns = DnsServer::start(zone()).unwrap();
    let peer = Peer::start("defer-always");
    let local = local_server(&local_config(
        &dns,
        peer.port,
        "retry = [1]\ndelay_notice = 2\ngive_up = 5",
    ));
    submit(&local, &[BOB], "never", &[]);
    let reports = dsns(&local, 2);
    let delay = status_part(&reports[0]);
    assert_eq!(
        delay["recipients"][0]["action"], "delayed",
        "{}",
        reports[0]
    );
    assert!(
        delay["recipients"][0]["will-retry-until"].is_string(),
        "{}",
        reports[0]
    );
    let human = reports[0]["parts"][0]["text"].as_str().unwrap();
    assert!(human.contains("still undelivered"), "{human}");
    let failed = status_part(&reports[1]);
    assert_eq!(
        failed["recipients"][0]["action"], "failed",
        "{}",
        reports[1]
    );
    assert!(
        failed["recipients"][0]["status"]
            .as_str()
            .unwrap()
            .starts_with('4')
            || failed["recipients"][0]["status"]
                .as_str()
                .unwrap()
                .starts_with('5'),
        "{}",
        reports[1]
    );
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });
    assert_eq!(peer.messages(), 0);
}

/// Submits one message whose delivery hangs (a peer that accepts and never greets), stops the
/// server with `stop` while the attempt is in flight, restarts it with the real remote, and
/// checks the message arrives exactly once, without anyone's help.
fn interrupted_delivery_is_resumed(stop: impl FnOnce(&mut TestServer)) {
    let dns = DnsServer::start(zone()).unwrap();
    let remote = remote_server();
    let stall = Peer::start("stall");
    let mut local = local_server(&local_config(&dns, stall.port, ""));
    submit(&local, &[BOB], "interrupted", &[]);
    wait_for(&local, "the attempt in flight", || {
        stall.dir.path().join("connected").exists().then_some(())
    });
    stop(&mut local);
    assert_eq!(queue_json(&local).len(), 1, "acknowledged, so still queued");
    local
        .restart_with(
            &["submission", "smtp"],
            &local_config(&dns, remote.addr("smtp").port(), ""),
        )
        .unwrap();
    wait_for(&remote, "the message at bob's", || {
        (remote.inbox(BOB).ok()?.len() == 1).then_some(())
    });
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });
    assert_eq!(remote.inbox(BOB).unwrap().len(), 1, "exactly once");
}

/// Issue 6 item 1: a crash (SIGKILL) while a delivery is in flight loses nothing; the dead
/// run's lease does not delay the retry.
#[test]
fn a_crash_during_delivery_still_delivers_exactly_once_after_restart() {
    interrupted_delivery_is_resumed(|server| server.kill().unwrap());
}

/// OPS-2: SIGTERM does not wait for a hung remote's timeouts; the abandoned attempt is made
/// again after the restart.
#[test]
fn a_stop_during_delivery_ends_promptly_and_delivery_resumes_after_restart() {
    interrupted_delivery_is_resumed(|server| {
        let status = server.terminate().unwrap();
        assert!(status.success(), "a clean stop: {status:?}");
    });
}

/// `admin queue retry` brings a deferred message forward; `delete` removes one unsent.
#[test]
fn queue_admin_retry_and_delete() {
    let dns = DnsServer::start(zone()).unwrap();
    let remote = remote_server();
    // Nothing listens on port 9: every attempt fails to connect, and the next is in an hour.
    let mut local = local_server(&local_config(&dns, 9, "retry = [3600]"));
    submit(&local, &[BOB], "first", &[]);
    submit(&local, &[BOB], "second", &[]);
    let ids: Vec<String> = wait_for(&local, "two failed attempts", || {
        let queue = queue_json(&local);
        let tried = queue
            .iter()
            .filter(|m| m["recipients"][0]["attempts"].as_u64() >= Some(1))
            .count();
        (queue.len() == 2 && tried == 2)
            .then(|| queue.iter().map(|m| m["id"].to_string()).collect())
    });
    let shown = local.admin_ok(&["queue", "show", &ids[0]]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("bob@remote.test") && shown.contains("pending"),
        "{shown}"
    );
    local.admin_ok(&["queue", "delete", &ids[1]]);
    local.terminate().unwrap();
    local
        .restart_with(
            &["submission", "smtp"],
            &local_config(&dns, remote.addr("smtp").port(), "retry = [3600]"),
        )
        .unwrap();
    local.admin_ok(&["queue", "retry", "--all"]);
    wait_for(&remote, "the first message at bob's", || {
        (remote.inbox(BOB).ok()?.len() == 1).then_some(())
    });
    wait_for(&local, "an empty queue", || {
        queue_json(&local).is_empty().then_some(())
    });
    let inbox = remote.inbox(BOB).unwrap();
    assert_eq!(inbox.len(), 1, "the deleted one never left");
    assert!(String::from_utf8_lossy(&inbox[0]).contains("Subject: first"));
    let refused = local.admin(&["queue", "delete", "--all"]);
    assert!(!refused.status.success(), "--all needs --yes");
}

/// Runs swaks against `listener` of `server`; returns its exit code and transcript.
fn swaks(server: &TestServer, listener: &str, args: &[&str]) -> (i32, String) {
    let addr = server.addr(listener);
    let out = Command::new("swaks")
        .args([
            "--server",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args(["--helo", "client.example", "--timeout", "60"])
        .args(args)
        .output()
        .expect("swaks is installed (.ci/run installs it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Issue 6 item 7 (RCV-13): a redirection forwards with an SRS reverse-path at the forwarding
/// domain, so SPF checks us; a bounce to that address goes back to the original sender; an
/// SRS address with a forged hash is unknown.
#[test]
fn rcv_13_forwards_leave_with_srs_and_bounces_find_the_original_sender() {
    let dns = DnsServer::start(zone()).unwrap();
    let peer = Peer::start("accept");
    let local = local_server(&local_config(&dns, peer.port, ""));
    local.admin_ok(&[
        "address",
        "create",
        "fwd@local.test",
        "--kind",
        "redirect",
        "--to",
        BOB,
    ]);
    let (status, out) = swaks(
        &local,
        "smtp",
        &[
            "--from",
            "sender@origin.test",
            "--to",
            "fwd@local.test",
            "--header",
            "Subject: fwd",
        ],
    );
    assert_eq!(status, 0, "{out}");
    wait_for(&local, "the forward at the peer", || {
        (peer.messages() == 1).then_some(())
    });
    let forward = peer.envelope(1);
    assert_eq!(forward["rcpt_to"], json!([BOB]), "{forward}");
    let srs = forward["mail_from"].as_str().unwrap().to_string();
    assert!(srs.to_ascii_lowercase().starts_with("srs0="), "{srs}");
    assert!(srs.ends_with("@local.test"), "{srs}");
    assert!(srs.contains("origin.test"), "{srs}");

    let (status, out) = swaks(
        &local,
        "smtp",
        &[
            "--from",
            "<>",
            "--to",
            &srs,
            "--header",
            "Subject: Undelivered Mail",
        ],
    );
    assert_eq!(status, 0, "the bounce is accepted: {out}");
    wait_for(&local, "the bounce at the peer", || {
        (peer.messages() == 2).then_some(())
    });
    let bounce = peer.envelope(2);
    assert_eq!(bounce["mail_from"], "", "{bounce}");
    assert_eq!(bounce["rcpt_to"], json!(["sender@origin.test"]), "{bounce}");

    // A forged hash: the first hash character changed. Hashes compare ignoring case (a relay
    // may fold the local part), so the new character must differ in more than case.
    let mut forged: Vec<char> = srs.chars().collect();
    forged[5] = if forged[5].eq_ignore_ascii_case(&'a') {
        'b'
    } else {
        'a'
    };
    let forged: String = forged.into_iter().collect();
    let (_, out) = swaks(&local, "smtp", &["--from", "<>", "--to", &forged]);
    assert!(out.contains("550 5.1.1"), "{out}");
}

/// SND-6: outside recipients count against the mailbox's and the organization's hourly
/// limits; over either, RCPT gets `450 4.7.1` naming the limit, and the organization's owner
/// is told once per mailbox.
#[test]
fn snd_6_sending_limits_per_mailbox_and_organization() {
    let dns = DnsServer::start(zone()).unwrap();
    let local = local_server(&local_config(
        &dns,
        9,
        "mailbox_hourly_limit = 2\norganization_hourly_limit = 3",
    ));
    for args in [
        &[
            "address",
            "create",
            "owner@local.test",
            "--password",
            "owner-secret-1",
        ][..],
        &[
            "user",
            "create",
            "owner@local.test",
            "--password",
            "owner-account-1",
            "--org",
            "Local",
            "--role",
            "owner",
        ],
        &[
            "address",
            "create",
            "carol@local.test",
            "--password",
            "carol-secret-1",
        ],
    ] {
        local.admin_ok(args);
    }
    let send = |user: &str, password: &str, to: &[&str]| -> Value {
        let addr = local.addr("submission");
        let args = json!({
            "host": addr.ip().to_string(), "port": addr.port(), "tls": "starttls",
            "user": user, "password": password, "from": user, "to": to,
            "message": format!("From: {user}\r\nSubject: many\r\n\r\nhello\r\n"),
        });
        let out = Command::new("python3")
            .arg(CLIENT)
            .arg("send")
            .arg(args.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["transactions"][0].clone()
    };
    let tx = send(
        ALICE,
        ALICE_PASSWORD,
        &[
            "a@remote.test",
            "b@remote.test",
            "c@remote.test",
            "owner@local.test",
        ],
    );
    let codes: Vec<i64> = tx["rcpt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    assert_eq!(
        codes,
        [250, 250, 450, 250],
        "local recipients never count: {tx}"
    );
    let text = tx["rcpt"][2][1].as_str().unwrap();
    assert!(
        text.contains("4.7.1") && text.contains("this mailbox") && text.contains("2 outside"),
        "{text}"
    );
    assert_eq!(
        tx["data"][0], 250,
        "the accepted recipients still get it: {tx}"
    );

    let tx = send(
        "carol@local.test",
        "carol-secret-1",
        &["d@remote.test", "e@remote.test"],
    );
    let codes: Vec<i64> = tx["rcpt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [250, 450], "{tx}");
    assert!(
        tx["rcpt"][1][1]
            .as_str()
            .unwrap()
            .contains("your organization"),
        "{tx}"
    );

    // The owner's mailbox: alice's message itself, and one notice per mailbox.
    let inbox = wait_for(&local, "two notices at the owner's", || {
        let inbox = local.inbox("owner@local.test").ok()?;
        (inbox.len() >= 3).then_some(inbox)
    });
    let notices: Vec<String> = inbox
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .filter(|m| m.contains("Subject: Sending limit reached"))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices.iter().any(|m| m.contains("by alice@local.test")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|m| m.contains("by carol@local.test")),
        "{notices:?}"
    );
}
