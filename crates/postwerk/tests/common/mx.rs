//! The MX side of the filter tests (`filters.rs`, `spam.rs`): a real server hosting
//! example.com with the mailbox toto, its resolver on a loopback DNS server, and one SMTP
//! transaction at a time through Python's smtplib (tests/smtp/client.py).

use std::path::Path;
use std::process::Command;

use postwerk_testkit::TestServer;
use postwerk_testkit::dns::DnsServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/client.py");

/// The one mailbox.
pub const TOTO: &str = "toto@example.com";

/// A server hosting example.com with the mailbox toto, its resolver on `dns`.
pub fn server(dns: &DnsServer, extra: &str) -> TestServer {
    let config = format!(
        "[dns]\nservers = [\"{}\"]\ndnssec = \"off\"\n{extra}\n",
        dns.addr()
    );
    let server = TestServer::start_with(Path::new(BIN), &["smtp"], &config).unwrap();
    for args in [
        &["org", "create", "Acme"][..],
        &["service", "create", "example.com", "--org", "Acme"],
        &["address", "create", TOTO, "--password", "toto-secret-1"],
    ] {
        server.admin_ok(args);
    }
    server
}

/// One transaction over the MX listener from `from` to toto; the replies as JSON.
pub fn send(server: &TestServer, from: &str, message: &str) -> Value {
    let addr = server.addr("smtp");
    let args = json!({
        "host": addr.ip().to_string(), "port": addr.port(),
        "from": from, "to": [TOTO], "message": message,
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
    reply["transactions"][0].clone()
}

/// The basic code of one reply (`[code, text]`), -1 when there is none.
pub fn code(reply: &Value) -> i64 {
    reply[0].as_i64().unwrap_or(-1)
}
