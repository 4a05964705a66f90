//! `postwerk serve` as an operator runs it: health and metrics answered over real HTTP (curl),
//! configuration errors all reported at once, the CLI usable while the server runs, and a
//! graceful stop on SIGTERM (OPS-1, OPS-2).

use std::path::Path;
use std::process::Command;

use postwerk_testkit::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

fn curl(url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--write-out",
            "\n%{http_code}",
            url,
        ])
        .output()
        .expect("curl is installed (.ci/run installs it)");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.trim_end().to_string(), code.to_string())
}

#[test]
fn ops_2_healthz_and_metrics_answer_over_http() {
    let server = TestServer::start(Path::new(BIN), &["http"]).unwrap();
    let base = format!("http://{}", server.addr("http"));
    let (body, code) = curl(&format!("{base}/healthz"));
    assert_eq!((body.as_str(), code.as_str()), ("ok", "200"));
    let (metrics, code) = curl(&format!("{base}/metrics"));
    assert_eq!(code, "200");
    assert!(
        metrics.contains("postwerk_http_requests_total{route=\"healthz\"} 1"),
        "{metrics}"
    );
    let (_, missing) = curl(&format!("{base}/no-such-page"));
    assert_eq!(missing, "404");
}

#[test]
fn ops_2_sigterm_stops_gracefully_with_success() {
    let mut server = TestServer::start(Path::new(BIN), &["http"]).unwrap();
    let status = server.terminate().unwrap();
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("stopped cleanly"),
        "{}",
        server.stderr()
    );
}

#[test]
fn the_cli_works_while_the_server_runs() {
    let server = TestServer::start(Path::new(BIN), &["http"]).unwrap();
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &[
            "address",
            "create",
            "toto@example.com",
            "--password",
            "mailbox-secret-1",
        ],
    ] {
        server.admin_ok(args);
    }
    let list = server.admin(&["address", "list", "example.com"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("toto@example.com"));
    let (body, _) = curl(&format!("http://{}/healthz", server.addr("http")));
    assert_eq!(body, "ok");
}

#[test]
fn every_configuration_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "hostname = \"bad host\"\n[listen]\nsmtp = \"nowhere\"\nimapz = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    for key in ["hostname:", "listen.smtp:", "listen.imapz:"] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }
    assert!(stderr.contains("3 problems"), "{stderr}");
}

#[test]
fn ops_1_first_start_says_where_it_listens_and_what_to_do_next() {
    let server = TestServer::start(Path::new(BIN), &["http"]).unwrap();
    let stdout = server.stdout();
    assert!(
        stdout.contains(&server.addr("http").to_string()),
        "{stdout}"
    );
    assert!(
        server
            .data_dir()
            .join("tls")
            .join("self-signed.crt")
            .exists()
    );
}

/// Issue 10 item 3 (slowloris): an address holding its share of idle connections gets a
/// clear refusal for one more, on every protocol, while another address is still served.
/// Driven by Python's socket module (the client address 127.0.0.2 is chosen per connection).
#[test]
fn issue_10_an_address_over_its_connection_share_is_refused_and_others_served() {
    let server = TestServer::start_with(
        Path::new(BIN),
        &["smtp", "imap", "pop3"],
        "[smtp]\nmax_connections_per_address = 2\n[imap]\nmax_connections_per_address = 2\n\
         [pop3]\nmax_connections_per_address = 2\n",
    )
    .unwrap();
    let script = r#"
import json, socket, sys
port = int(sys.argv[1])
def first_line(source):
    conn = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        line += chunk
    return conn, line.decode()
held = [first_line("127.0.0.1") for _ in range(2)]
over = first_line("127.0.0.1")
other = first_line("127.0.0.2")
print(json.dumps({"held": [l for _, l in held], "over": over[1], "other": other[1]}))
"#;
    for (listener, greeting, refusal) in [
        ("smtp", "220 ", "421 4.7.0 Too many connections"),
        ("imap", "* OK", "* BYE [UNAVAILABLE] Too many connections"),
        ("pop3", "+OK", "-ERR [SYS/TEMP] Too many connections"),
    ] {
        let port = server.addr(listener).port().to_string();
        let out = Command::new("python3")
            .args(["-c", script, &port])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for line in seen["held"].as_array().unwrap() {
            assert!(line.as_str().unwrap().starts_with(greeting), "{seen}");
        }
        assert!(
            seen["over"].as_str().unwrap().starts_with(refusal),
            "{listener}: {seen}"
        );
        assert!(
            seen["other"].as_str().unwrap().starts_with(greeting),
            "{listener}: another address is served: {seen}"
        );
    }
}
