//! RCV-6 against a real clamd (Debian's `clamav-daemon`, installed by `.ci/run`): a message with
//! a known-bad attachment, base64-encoded in a MIME part, is found and refused `554 5.7.0`; a
//! clean one passes; with clamd gone the message is deferred `451 4.7.0`, never accepted.
//!
//! The test runs its own clamd in the foreground on a Unix socket and a loopback TCP port, with a
//! database holding one body signature written here (no freshclam, no network). Where
//! `/usr/sbin/clamd` is not installed it prints why and passes (install `clamav-daemon`).

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use postwerk_dns::{DnsConfig, FakeResolver};
use postwerk_filter::auth::Verifier;
use postwerk_filter::malware::{self, ClamdAddress, ClamdConfig, ScanOutcome};
use postwerk_filter::{Client, FilterConfig, Filters, MessageVerdict, Reply};
use postwerk_store::{GreylistEntry, GreylistStore, StoreError};

const CLAMD: &str = "/usr/sbin/clamd";

/// A string no real file carries, and the signature that finds it.
const BAD: &[u8] = b"POSTWERK-RCV6-TEST-MALWARE-3f9c2a71-do-not-deliver";
const SIGNATURE: &str = "Postwerk.Test.RCV6";

/// clamd as a child process, killed when the test ends however it ends.
struct Clamd {
    child: Child,
    socket: PathBuf,
    tcp: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Clamd {
    /// Starts clamd with a database of the one test signature, or `None` when not installed.
    fn start() -> Option<Clamd> {
        if !Path::new(CLAMD).exists() {
            println!("skipped: {CLAMD} is not installed (apt-get install clamav-daemon)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("database directory");
        // The .ndb body-signature format (Name:TargetType:Offset:HexSignature): target 0 is any
        // file, offset `*` anywhere.
        let hex: String = BAD.iter().map(|byte| format!("{byte:02x}")).collect();
        std::fs::write(db.join("test.ndb"), format!("{SIGNATURE}:0:*:{hex}\n")).expect("db");

        let socket = dir.path().join("clamd.sock");
        let tcp = free_port();
        let log = dir.path().join("clamd.log");
        let config = dir.path().join("clamd.conf");
        let mut file = std::fs::File::create(&config).expect("config");
        write!(
            file,
            "Foreground yes\n\
             LocalSocket {socket}\n\
             TCPSocket {port}\n\
             TCPAddr 127.0.0.1\n\
             DatabaseDirectory {db}\n\
             StreamMaxLength 30M\n\
             PidFile {pid}\n\
             TemporaryDirectory {tmp}\n\
             LogFile {log}\n",
            socket = socket.display(),
            port = tcp.port(),
            db = db.display(),
            pid = dir.path().join("clamd.pid").display(),
            tmp = dir.path().display(),
            log = log.display(),
        )
        .expect("config");
        drop(file);

        let child = Command::new(CLAMD)
            .arg(format!("--config-file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clamd");
        let mut clamd = Clamd {
            child,
            socket,
            tcp,
            log,
            _dir: dir,
        };
        clamd.wait_ready();
        Some(clamd)
    }

    /// Waits for both sockets to accept; the bound only guards against a clamd that never
    /// comes up (loading even one signature takes clamd a few seconds).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let unix = std::os::unix::net::UnixStream::connect(&self.socket).is_ok();
            let tcp = std::net::TcpStream::connect(self.tcp).is_ok();
            if unix && tcp {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("clamd exited ({status}): {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "clamd did not open its sockets within 60 s: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn unix_config(&self) -> ClamdConfig {
        ClamdConfig::new(ClamdAddress::Unix(self.socket.clone()))
    }

    fn tcp_config(&self) -> ClamdConfig {
        ClamdConfig::new(ClamdAddress::Tcp(self.tcp))
    }
}

/// A loopback port free at the time of asking.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// A multipart message with `attachment` base64-encoded in its second part, as mail carries it:
/// the bad string never appears in the raw bytes, so only a MIME-decoding scan finds it.
fn message_with(attachment: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(attachment);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    let raw = format!(
        "From: Alice <alice@example.org>\r\n\
         To: bob@postwerk.test\r\n\
         Subject: The report\r\n\
         Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\
         Message-ID: <rcv6@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"part\"\r\n\
         \r\n\
         --part\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         The report is attached.\r\n\
         --part\r\n\
         Content-Type: application/octet-stream; name=\"report.dat\"\r\n\
         Content-Disposition: attachment; filename=\"report.dat\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --part--\r\n",
        lines.join("\r\n")
    );
    raw.into_bytes()
}

fn infected_message() -> Vec<u8> {
    let mut content = b"quarterly figures\n".to_vec();
    content.extend_from_slice(BAD);
    content.extend_from_slice(b"\nend of file\n");
    let raw = message_with(&content);
    assert!(
        !raw.windows(BAD.len()).any(|window| window == BAD),
        "the bad string must only be there base64-encoded"
    );
    raw
}

fn clean_message() -> Vec<u8> {
    message_with(b"quarterly figures\nall fine\n")
}

/// The greylist is not consulted at the end of DATA.
struct NoGreylist;

#[async_trait]
impl GreylistStore for NoGreylist {
    async fn greylist_sighting(&self, _: &str, _: i64) -> Result<GreylistEntry, StoreError> {
        unreachable!("check_message does not greylist")
    }
    async fn greylist_passed(&self, _: &str, _: i64) -> Result<(), StoreError> {
        unreachable!("check_message does not greylist")
    }
    async fn greylist_expire(&self, _: i64, _: i64) -> Result<u64, StoreError> {
        unreachable!("check_message does not greylist")
    }
}

/// Filters with only the malware check on (authentication checks off: no DNS here).
fn filters(clamd: ClamdConfig) -> Filters {
    let config = FilterConfig {
        greylist: false,
        auth: false,
        clamd: Some(clamd),
        ..FilterConfig::default()
    };
    let verifier = Verifier::new(&DnsConfig {
        servers: vec!["127.0.0.1:9".parse().expect("address")],
        timeout: Duration::from_secs(1),
        ..DnsConfig::default()
    })
    .expect("verifier");
    Filters::new(
        config,
        Arc::new(FakeResolver::new()),
        Arc::new(NoGreylist),
        verifier,
        "mx.postwerk.test".into(),
    )
}

fn client() -> Client {
    Client {
        ip: "192.0.2.10".parse::<IpAddr>().expect("address"),
        helo: "mail.example.org".into(),
    }
}

fn refused(verdict: MessageVerdict) -> Reply {
    match verdict {
        MessageVerdict::Refuse(reply) => reply,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn rcv_6_real_clamd() {
    let Some(clamd) = Clamd::start() else {
        return;
    };

    // The base64 attachment is decoded and found, over both socket kinds. clamd marks
    // signatures from databases it does not ship as `.UNOFFICIAL`.
    for config in [clamd.unix_config(), clamd.tcp_config()] {
        let ScanOutcome::Infected(name) = malware::scan(&config, &infected_message()).await else {
            panic!("clamd must find the attachment: {}", clamd.log_text());
        };
        assert!(name.starts_with(SIGNATURE), "{name}");
        assert_eq!(
            malware::scan(&config, &clean_message()).await,
            ScanOutcome::Clean
        );
    }

    // Through the filters: an MX delivery and an authenticated submission (SND-6) alike.
    let filters = filters(clamd.unix_config());
    for from in [Some(client()), None] {
        let reply = refused(
            filters
                .check_message(from.as_ref(), "alice@example.org", &infected_message(), &[])
                .await,
        );
        assert_eq!((reply.code, reply.status), (554, "5.7.0"));
        assert!(
            reply.text.starts_with("Malware message rejected") && reply.text.contains(SIGNATURE),
            "{}",
            reply.text
        );
        // Accepted; later checks (spam scoring) may add their headers.
        let verdict = filters
            .check_message(from.as_ref(), "alice@example.org", &clean_message(), &[])
            .await;
        assert!(
            matches!(verdict, MessageVerdict::Accept { junk: None, .. }),
            "{verdict:?}"
        );
    }

    // clamd gone: no verdict, and the message is deferred, not accepted.
    let unix = clamd.unix_config();
    drop(clamd);
    assert!(matches!(
        malware::scan(&unix, &clean_message()).await,
        ScanOutcome::Failed(_)
    ));
    let reply = refused(
        filters
            .check_message(Some(&client()), "alice@example.org", &clean_message(), &[])
            .await,
    );
    assert_eq!((reply.code, reply.status), (451, "4.7.0"));
    assert!(reply.text.contains("try again later"), "{}", reply.text);
}
