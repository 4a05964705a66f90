//! RCV-2 against a loopback DNS server serving test records: SPF, DKIM (signatures made by an
//! independent signer, Python's dkimpy), DMARC, and the `Authentication-Results` header.
//!
//! The DKIM test needs `openssl` and Debian's `python3-dkim` (`/usr/bin/python3`). Where they
//! are missing it fails, unless `POSTWERK_ALLOW_MISSING_TOOLS` is set (then it prints why and
//! passes).

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use postwerk_dns::DnsConfig;
use postwerk_filter::auth::Verifier;
use postwerk_filter::{Client, MessageVerdict, Reply, SpfPolicy};
use postwerk_testkit::dns::{DnsServer, Zone};

const HOSTNAME: &str = "mx.postwerk.test";
const PYTHON: &str = "/usr/bin/python3";

fn verifier(server: &DnsServer) -> Verifier {
    Verifier::new(&DnsConfig {
        servers: vec![server.addr()],
        timeout: Duration::from_secs(2),
        ..DnsConfig::default()
    })
    .expect("verifier")
}

fn client() -> Client {
    Client {
        ip: "127.0.0.1".parse::<IpAddr>().unwrap(),
        helo: "mail.example.org".to_string(),
    }
}

fn message(body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\n\
         To: bob@postwerk.test\r\n\
         Subject: Hello\r\n\
         Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\
         Message-ID: <1@example.org>\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

/// The accepted header, checked for shape (one CRLF-terminated header, folded, our authserv-id).
fn accepted(verdict: MessageVerdict) -> (String, Option<String>) {
    let MessageVerdict::Accept { headers, junk } = verdict else {
        panic!("expected Accept, got {verdict:?}");
    };
    let header = String::from_utf8(headers).expect("ASCII header");
    assert!(
        header.starts_with(&format!("Authentication-Results: {HOSTNAME};")),
        "{header}"
    );
    assert!(header.ends_with("\r\n"), "{header:?}");
    for line in header.trim_end_matches("\r\n").split("\r\n").skip(1) {
        assert!(line.starts_with('\t'), "unfolded continuation {line:?}");
    }
    for method in ["spf=", "dkim=", "dmarc=", "arc="] {
        assert!(header.contains(method), "{method} missing: {header}");
    }
    (header, junk)
}

fn refused(verdict: MessageVerdict) -> Reply {
    match verdict {
        MessageVerdict::Refuse(reply) => reply,
        other => panic!("expected Refuse, got {other:?}"),
    }
}

async fn check(server: &DnsServer, sender: &str, raw: &[u8], policy: SpfPolicy) -> MessageVerdict {
    verifier(server)
        .check(&client(), sender, raw, HOSTNAME, policy)
        .await
}

#[tokio::test]
async fn spf_pass_is_recorded() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 ip4:127.0.0.1 -all");
    let server = DnsServer::start(zone).unwrap();
    let verdict = check(
        &server,
        "alice@example.org",
        &message("hi\r\n"),
        SpfPolicy::Refuse,
    )
    .await;
    let (header, junk) = accepted(verdict);
    assert!(header.contains("spf=pass"), "{header}");
    assert!(
        header.contains("smtp.mailfrom=alice@example.org"),
        "{header}"
    );
    assert_eq!(junk, None);
}

#[tokio::test]
async fn spf_fail_is_refused_or_marked_per_policy() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 -all");
    let server = DnsServer::start(zone).unwrap();
    let raw = message("hi\r\n");

    let reply = refused(check(&server, "alice@example.org", &raw, SpfPolicy::Refuse).await);
    assert_eq!(reply.code, 550);
    assert_eq!(reply.status, "5.7.23");
    assert_eq!(
        reply.text,
        "SPF validation failed: the sending domain does not authorise [127.0.0.1] to send its \
         mail; ask its administrator to fix the domain's SPF record"
    );

    let (header, junk) = accepted(check(&server, "alice@example.org", &raw, SpfPolicy::Mark).await);
    assert!(header.contains("spf=fail"), "{header}");
    assert_eq!(junk, None);
}

#[tokio::test]
async fn null_sender_is_checked_on_the_helo_identity() {
    let mut zone = Zone::new();
    zone.txt("mail.example.org", "v=spf1 -all");
    zone.txt("example.org", "v=spf1 ip4:127.0.0.1 -all");
    let server = DnsServer::start(zone).unwrap();
    let reply = refused(check(&server, "", &message("bounce\r\n"), SpfPolicy::Refuse).await);
    assert_eq!((reply.code, reply.status), (550, "5.7.23"));
}

#[tokio::test]
async fn dns_failure_never_refuses() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 -all");
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject");
    zone.servfail("example.org");
    let server = DnsServer::start(zone).unwrap();
    let verdict = check(
        &server,
        "alice@example.org",
        &message("hi\r\n"),
        SpfPolicy::Refuse,
    )
    .await;
    let (header, junk) = accepted(verdict);
    assert!(header.contains("spf=temperror"), "{header}");
    assert!(header.contains("dmarc=temperror"), "{header}");
    assert_eq!(junk, None);
}

#[tokio::test]
async fn no_records_at_all() {
    let server = DnsServer::start(Zone::new()).unwrap();
    let verdict = check(
        &server,
        "alice@example.org",
        &message("hi\r\n"),
        SpfPolicy::Refuse,
    )
    .await;
    let (header, junk) = accepted(verdict);
    assert!(header.contains("spf=none"), "{header}");
    assert!(header.contains("dkim=none"), "{header}");
    assert!(header.contains("dmarc=none"), "{header}");
    assert!(header.contains("arc=none"), "{header}");
    assert_eq!(junk, None);
}

#[tokio::test]
async fn dmarc_reject_is_refused() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 -all");
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject");
    let server = DnsServer::start(zone).unwrap();
    // Mark: SPF fail alone does not refuse; DMARC does.
    let verdict = check(
        &server,
        "alice@example.org",
        &message("hi\r\n"),
        SpfPolicy::Mark,
    )
    .await;
    let reply = refused(verdict);
    assert_eq!(reply.code, 550);
    assert_eq!(reply.status, "5.7.1");
    assert!(
        reply.text.contains("DMARC policy of example.org rejects"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn dmarc_quarantine_goes_to_junk() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 -all");
    zone.txt("_dmarc.example.org", "v=DMARC1; p=quarantine");
    let server = DnsServer::start(zone).unwrap();
    let verdict = check(
        &server,
        "alice@example.org",
        &message("hi\r\n"),
        SpfPolicy::Mark,
    )
    .await;
    let (header, junk) = accepted(verdict);
    assert!(header.contains("dmarc=fail"), "{header}");
    assert!(header.contains("policy.dmarc=quarantine"), "{header}");
    assert_eq!(
        junk.as_deref(),
        Some("DMARC quarantine policy of example.org")
    );
}

#[tokio::test]
async fn dmarc_pass_via_spf_alignment() {
    let mut zone = Zone::new();
    zone.txt("example.org", "v=spf1 ip4:127.0.0.1 -all");
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject");
    let server = DnsServer::start(zone).unwrap();
    let verdict = check(
        &server,
        "alice@example.org",
        &message("hi\r\n"),
        SpfPolicy::Refuse,
    )
    .await;
    let (header, junk) = accepted(verdict);
    assert!(header.contains("dmarc=pass"), "{header}");
    assert_eq!(junk, None);
}

/// An RSA key and dkimpy, or why they are not available.
struct Signer {
    dir: tempfile::TempDir,
}

impl Signer {
    fn new() -> Result<Signer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let key = dir.path().join("key.pem");
        let status = Command::new("openssl")
            .args(["genrsa", "-traditional", "-out"])
            .arg(&key)
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("openssl cannot be run: {e}"))?;
        if !status.success() {
            return Err(format!("openssl genrsa failed: {status}"));
        }
        let probe = Command::new(PYTHON)
            .args(["-c", "import dkim"])
            .output()
            .map_err(|e| format!("{PYTHON} cannot be run: {e}"))?;
        if !probe.status.success() {
            return Err(format!(
                "dkimpy (Debian python3-dkim) is not importable by {PYTHON}: {}",
                String::from_utf8_lossy(&probe.stderr)
            ));
        }
        Ok(Signer { dir })
    }

    /// `v=DKIM1; k=rsa; p=…` for the key.
    fn public_record(&self) -> String {
        let output = Command::new("openssl")
            .args(["rsa", "-pubout", "-outform", "DER", "-in"])
            .arg(self.dir.path().join("key.pem"))
            .stderr(Stdio::null())
            .output()
            .expect("openssl rsa");
        assert!(output.status.success(), "openssl rsa -pubout failed");
        let p = Command::new(PYTHON)
            .args([
                "-c",
                "import base64,sys; print(base64.b64encode(sys.stdin.buffer.read()).decode())",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python");
        let mut p = p;
        p.stdin.take().unwrap().write_all(&output.stdout).unwrap();
        let out = p.wait_with_output().unwrap();
        let b64 = String::from_utf8(out.stdout).unwrap();
        format!("v=DKIM1; k=rsa; p={}", b64.trim())
    }

    /// The message with a `DKIM-Signature` made by dkimpy for `d=example.org; s=sel`.
    fn sign(&self, raw: &[u8]) -> Vec<u8> {
        let script = "import sys, dkim\n\
            key = open(sys.argv[1], 'rb').read()\n\
            msg = sys.stdin.buffer.read()\n\
            sig = dkim.sign(msg, b'sel', b'example.org', key,\n\
                canonicalize=(b'relaxed', b'relaxed'),\n\
                include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])\n\
            sys.stdout.buffer.write(sig)\n";
        let mut child = Command::new(PYTHON)
            .arg("-c")
            .arg(script)
            .arg(self.dir.path().join("key.pem"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python");
        child.stdin.take().unwrap().write_all(raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "dkimpy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.starts_with(b"DKIM-Signature:"));
        let mut signed = out.stdout;
        signed.extend_from_slice(raw);
        signed
    }
}

fn signer_or_skip() -> Option<Signer> {
    match Signer::new() {
        Ok(signer) => Some(signer),
        Err(reason) if std::env::var_os("POSTWERK_ALLOW_MISSING_TOOLS").is_some() => {
            eprintln!("skipped: the independent DKIM signer is unavailable: {reason}");
            None
        }
        Err(reason) => panic!(
            "the independent DKIM signer is unavailable: {reason} (install openssl and \
             python3-dkim, or set POSTWERK_ALLOW_MISSING_TOOLS=1 to skip)"
        ),
    }
}

#[tokio::test]
async fn dkim_signed_by_dkimpy_passes_and_tampering_fails() {
    let Some(signer) = signer_or_skip() else {
        return;
    };
    let mut zone = Zone::new();
    zone.txt("sel._domainkey.example.org", &signer.public_record());
    // SPF fails and DMARC says reject: only the aligned DKIM signature lets it through.
    zone.txt("example.org", "v=spf1 -all");
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject");
    let server = DnsServer::start(zone).unwrap();

    let signed = signer.sign(&message("Hello Bob,\r\nsee you tomorrow.\r\n"));
    let verdict = check(&server, "alice@example.org", &signed, SpfPolicy::Mark).await;
    let (header, _) = accepted(verdict);
    assert!(header.contains("dkim=pass"), "{header}");
    // dkimpy puts `i=@example.org` in the signature, which mail-auth records as header.i.
    assert!(header.contains("header.i=@example.org"), "{header}");
    assert!(header.contains("header.s=sel"), "{header}");
    assert!(header.contains("dmarc=pass"), "{header}");

    // The body changed after signing: the signature fails, and DMARC with it.
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("see you tomorrow", "send me the money")
        .into_bytes();
    let reply = refused(check(&server, "alice@example.org", &tampered, SpfPolicy::Mark).await);
    assert_eq!((reply.code, reply.status), (550, "5.7.1"));
    {
        let mut zone = server.zone();
        zone.remove("_dmarc.example.org");
        zone.txt("_dmarc.example.org", "v=DMARC1; p=none");
    }
    let verdict = check(&server, "alice@example.org", &tampered, SpfPolicy::Mark).await;
    let (header, junk) = accepted(verdict);
    assert!(header.contains("dkim=fail"), "{header}");
    assert!(header.contains("dmarc=fail"), "{header}");
    assert_eq!(junk, None);
}
