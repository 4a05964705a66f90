//! SND-2, checked by an independent implementation: Python's `dkim` module (dkimpy, Debian
//! package `python3-dkim`) verifies a message Postwerk signed, against the record Postwerk says
//! to publish, and refuses it once altered.
//!
//! The module is required: without it the test fails, unless `POSTWERK_ALLOW_MISSING_TOOLS` is
//! set, when it is skipped with a message on stderr.

use std::path::Path;
use std::process::Command;

use postwerk_core::{Actor, Admin, DkimSigner};
use postwerk_model::Domain;

/// dkimpy's `verify` with a `dnsfunc` that answers the one record given, as a resolver would
/// (character-strings joined, RFC 6376 §3.6.2.2), and nothing else. Exit 0 when it verifies.
const VERIFY: &str = r#"
import sys, dkim
message = open(sys.argv[1], 'rb').read()
name = sys.argv[2].encode()
record = open(sys.argv[3], 'rb').read()
def dnsfunc(query, timeout=5):
    return record if query.rstrip(b'.') == name else None
ok = dkim.verify(message, dnsfunc=dnsfunc)
print('pass' if ok else 'fail')
sys.exit(0 if ok else 1)
"#;

/// A Python that has the `dkim` module: Debian's (`python3-dkim` installs there) first, then
/// whatever `python3` the PATH gives.
fn python_with_dkim() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import dkim"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

fn dkimpy_verifies(python: &str, dir: &Path, message: &[u8], name: &str, text: &str) -> bool {
    let message_file = dir.join("message.eml");
    let record_file = dir.join("record.txt");
    std::fs::write(&message_file, message).unwrap();
    std::fs::write(&record_file, text).unwrap();
    let out = Command::new(python)
        .arg("-c")
        .arg(VERIFY)
        .arg(&message_file)
        .arg(name)
        .arg(&record_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.trim() == "pass" || stdout.trim() == "fail",
        "dkimpy did not run: {stdout}{stderr}"
    );
    out.status.success()
}

#[tokio::test]
async fn snd_2_dkimpy_verifies_what_postwerk_signs() {
    let Some(python) = python_with_dkim() else {
        let hint = "Python's dkim module is missing: apt-get install python3-dkim";
        if std::env::var_os("POSTWERK_ALLOW_MISSING_TOOLS").is_some() {
            eprintln!("skipped: {hint}");
            return;
        }
        panic!("{hint} (or set POSTWERK_ALLOW_MISSING_TOOLS=1 to skip this test)");
    };
    let dir = tempfile::tempdir().unwrap();
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .unwrap();
    let admin = Admin::from_stores(&stores);
    admin.create_org(Actor::Operator, "Acme").await.unwrap();
    admin
        .create_service(Actor::Operator, "example.test", "Acme", 10)
        .await
        .unwrap();
    let records = admin
        .service_dns_records(Actor::Operator, "example.test", "mail.platform.test")
        .await
        .unwrap();
    let record = records
        .iter()
        .find(|r| r.name.contains("._domainkey."))
        .expect("a DKIM record");
    // What a resolver returns for the zone line: the character-strings, joined.
    let text: String = record
        .value
        .split("\" \"")
        .map(|s| s.trim_matches('"'))
        .collect();

    // Header fields in mixed case, folded, with runs of spaces; a body with trailing
    // whitespace and empty lines at the end: what relaxed canonicalisation must get right.
    let message = "From: \"Toto T.\" <toto@example.test>\r\n\
         to: Someone <someone@remote.example>\r\n\
         Cc: other@remote.example\r\n\
         Subject: A  long subject line that goes on and on\r\n\tand is folded once\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <python-check@example.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         X-Unsigned: not covered\r\n\
         \r\n\
         Grüße,   \r\n\
         \tthe body.\r\n\
         \r\n\
         \r\n";
    let signer = DkimSigner::new(stores.directory.clone());
    let header = signer
        .sign(&Domain::parse("example.test").unwrap(), message.as_bytes())
        .await
        .unwrap();
    let signed = [header.as_bytes(), message.as_bytes()].concat();
    assert!(
        dkimpy_verifies(python, dir.path(), &signed, &record.name, &text),
        "dkimpy refuses the signature of:\n{}",
        String::from_utf8_lossy(&signed)
    );

    // A field outside h= may change; a signed one may not, nor the body.
    let relayed = String::from_utf8(signed.clone())
        .unwrap()
        .replace("X-Unsigned: not covered", "X-Unsigned: changed by a relay");
    assert!(dkimpy_verifies(
        python,
        dir.path(),
        relayed.as_bytes(),
        &record.name,
        &text
    ));
    let altered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("the body.", "the b0dy.");
    assert!(!dkimpy_verifies(
        python,
        dir.path(),
        altered.as_bytes(),
        &record.name,
        &text
    ));
    let altered = String::from_utf8(signed)
        .unwrap()
        .replace("Cc: other@", "Cc: another@");
    assert!(!dkimpy_verifies(
        python,
        dir.path(),
        altered.as_bytes(),
        &record.name,
        &text
    ));
    stores.close().await;
}
