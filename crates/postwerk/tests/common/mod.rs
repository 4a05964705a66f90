//! Helpers shared by the integration tests of several protocols (`mod common;` in each).

use std::process::Command;

use postwerk_testkit::TestServer;

/// Runs fetchmail against `listener`, delivering each message to its own file in a fresh
/// folder through an MDA; returns the files' contents, sorted, and fetchmail's output.
pub fn fetchmail(
    server: &TestServer,
    listener: &str,
    user: &str,
    password: &str,
) -> (Vec<Vec<u8>>, String) {
    let addr = server.addr(listener);
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("delivered");
    std::fs::create_dir(&out_dir).unwrap();
    let tls = if listener == "pop3s" {
        "ssl"
    } else {
        // STLS: with an explicit protocol, fetchmail insists on TLS and uses STLS.
        "sslproto 'TLS1.2+'"
    };
    // `invisible`: no Received: header of its own; `norewrite`: headers untouched;
    // `no stripcr`/`forcecr`: the MDA gets CRLF line ends, as POP3 sent them.
    let rc = format!(
        "set no syslog\n\
         set invisible\n\
         poll {host} with proto POP3 port {port} timeout 60\n\
           user \"{user}\" there with password \"{password}\"\n\
           options {tls} no sslcertck fetchall no rewrite no stripcr forcecr\n\
           mda \"cat > $(mktemp {dir}/msg.XXXXXX)\"\n",
        host = addr.ip(),
        port = addr.port(),
        dir = out_dir.display(),
    );
    let rc_path = work.path().join("fetchmailrc");
    std::fs::write(&rc_path, rc).unwrap();
    let status = Command::new("chmod")
        .arg("0600")
        .arg(&rc_path)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("fetchmail")
        .arg("--fetchmailrc")
        .arg(&rc_path)
        .arg("--nodetach")
        .arg("--verbose")
        .arg("--pidfile")
        .arg(work.path().join("fetchmail.pid"))
        .env("FETCHMAILHOME", work.path())
        .env("HOME", work.path())
        .output()
        .expect("fetchmail is installed (.ci/run installs it)");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fetchmail failed ({}):\n{log}\nserver log:\n{}",
        out.status,
        server.stderr()
    );
    // fetchmail compares what RETR brought with the size LIST announced.
    assert!(
        !log.contains("expected length"),
        "sizes in octets as sent:\n{log}"
    );
    let mut delivered: Vec<Vec<u8>> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    delivered.sort();
    (delivered, log)
}
