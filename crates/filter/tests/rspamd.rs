//! RCV-4 against a real rspamd (Debian's `rspamd` 3.4, installed by `.ci/run`): the GTUBE test
//! message scores at least 15 with rspamd's `GTUBE` symbol, a plain message scores below it, and
//! an rspamd that cannot be reached or asked is an `RspamdError` (the caller then falls back to
//! the built-in rules).
//!
//! The test runs its own rspamd in the foreground on a free loopback port, with the packaged
//! configuration from `/etc/rspamd` and everything it writes in a temporary folder:
//!
//! ```text
//! rspamd -f [-u root -g root] -c /etc/rspamd/rspamd.conf \
//!     --var=LOCAL_CONFDIR=<tmp>/local --var=DBDIR=<tmp>/db \
//!     --var=RUNDIR=<tmp>/run --var=LOGDIR=<tmp>/log
//! <tmp>/local/override.d/worker-normal.inc      bind_socket = "127.0.0.1:<port>"; count = 1;
//! <tmp>/local/override.d/worker-controller.inc  count = -1 (off), moved to another free port
//! <tmp>/local/override.d/worker-proxy.inc       count = -1 (off), moved to another free port
//! ```
//!
//! No redis is needed (the modules that want one switch themselves off) and `/etc` is only read.
//! Where rspamd is not installed or does not start, the test prints why and passes.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use postwerk_dns::FakeResolver;
use postwerk_filter::auth::Verifier;
use postwerk_filter::rspamd::{self, Envelope, RspamdConfig};
use postwerk_filter::spam::Score;
use postwerk_filter::{Client, FilterConfig, Filters, MessageVerdict};

/// The packaged top-level configuration; only read.
const CONFIG: &str = "/etc/rspamd/rspamd.conf";

/// rspamd's test string (its `gtube` module), the spam world's EICAR.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Guard against an rspamd that never comes up: it compiles its regular expressions and the
/// public suffix list on start, which takes a busy machine a while.
const START_GUARD: Duration = Duration::from_secs(120);

/// rspamd as a child process in its own process group (the main process forks workers), all
/// of which are ended when the test ends, however it ends.
struct Rspamd {
    child: Child,
    normal: SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        // SIGTERM to the whole group lets the main process and its workers exit cleanly; what
        // is still there after the guard is killed.
        signal_group(self.child.id(), "-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        signal_group(self.child.id(), "-KILL");
        let _ = self.child.wait();
    }
}

/// Sends `signal` to the process group `group` (rspamd's pid: it leads its own group).
fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Rspamd {
    /// Starts rspamd and waits until its normal worker answers `/ping`; `None`, with the reason
    /// printed, where it is not installed or does not start.
    fn start() -> Option<Rspamd> {
        if !Path::new(CONFIG).exists() {
            println!(
                "skipped: {CONFIG} is missing: rspamd is not installed (apt-get install rspamd)"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let local = dir.path().join("local");
        let overrides = local.join("override.d");
        for folder in [&overrides, &local.join("local.d")] {
            std::fs::create_dir_all(folder).expect("local configuration folder");
        }
        for folder in ["db", "run", "log"] {
            std::fs::create_dir(dir.path().join(folder)).expect("rspamd folder");
        }
        let normal = free_port();
        // override.d replaces the packaged section: the normal worker on our port; the
        // controller and the proxy off, and off the default ports in case another rspamd runs.
        write_config(
            &overrides.join("worker-normal.inc"),
            &format!("bind_socket = \"{normal}\";\ncount = 1;\n"),
        );
        for worker in ["controller", "proxy"] {
            write_config(
                &overrides.join(format!("worker-{worker}.inc")),
                &format!("bind_socket = \"{}\";\ncount = -1;\n", free_port()),
            );
        }

        let output = std::fs::File::create(dir.path().join("output.txt")).expect("output file");
        let mut command = Command::new("rspamd");
        command.arg("-f");
        // As root, rspamd insists on being told which user its workers run as.
        if running_as_root() {
            command.args(["-u", "root", "-g", "root"]);
        }
        command
            .args(["-c", CONFIG])
            .arg(var("LOCAL_CONFDIR", &local))
            .arg(var("DBDIR", &dir.path().join("db")))
            .arg(var("RUNDIR", &dir.path().join("run")))
            .arg(var("LOGDIR", &dir.path().join("log")))
            .current_dir(dir.path())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("output file"))
            .stderr(output);
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                println!("skipped: cannot run rspamd ({error}); apt-get install rspamd");
                return None;
            }
        };
        let mut rspamd = Rspamd { child, normal, dir };
        match rspamd.wait_ready() {
            Ok(()) => Some(rspamd),
            Err(reason) => {
                println!(
                    "skipped: rspamd did not start: {reason}\n{}",
                    rspamd.log_text()
                );
                None
            }
        }
    }

    /// Polls `/ping` until the normal worker answers `pong`.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_GUARD;
        loop {
            if ping(self.normal) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited ({status})"));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "its normal worker did not answer /ping within {} s",
                    START_GUARD.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.normal)
    }

    /// What rspamd printed before its log was set up, and the end of its log.
    fn log_text(&self) -> String {
        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        let output = read(self.dir.path().join("output.txt"));
        let log = read(self.dir.path().join("log").join("rspamd.log"));
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("{output}\n...\n{}", tail.join("\n"))
    }
}

fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).expect("rspamd configuration");
}

fn var(name: &str, path: &Path) -> String {
    format!("--var={name}={}", path.display())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        == Some("0")
}

/// Whether rspamd's worker at `addr` answers `GET /ping` with `pong`.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") && answer.contains("pong")
}

/// A loopback port free at the time of asking.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

fn message(message_id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\n\
         To: Bob <bob@example.net>\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\
         Message-ID: <{message_id}@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

fn clean_message() -> Vec<u8> {
    message(
        "lunch",
        "Lunch on Friday",
        "Hi Bob,\r\n\r\nshall we meet for lunch on Friday at noon, at the usual place?\r\n\r\n\
         Alice\r\n",
    )
}

fn gtube_message() -> Vec<u8> {
    message(
        "gtube",
        "Test spam mail (GTUBE)",
        &format!(
            "This is the GTUBE, the Generic Test for Unsolicited Bulk Email.\r\n\r\n{GTUBE}\r\n"
        ),
    )
}

fn envelope<'a>(sender: &'a str) -> Envelope<'a> {
    Envelope {
        ip: Some("192.0.2.10".parse().expect("address")),
        helo: Some("mail.example.org"),
        sender,
        recipients: vec!["bob@example.net"],
        user: None,
    }
}

fn names(score: &Score) -> Vec<&str> {
    score.symbols.iter().map(|symbol| &*symbol.name).collect()
}

#[tokio::test]
async fn rcv_4_real_rspamd_scores_gtube_as_spam_and_a_plain_message_below_it() {
    let Some(rspamd) = Rspamd::start() else {
        return;
    };
    let config = RspamdConfig::new(rspamd.url());

    let gtube = rspamd::check(&config, &envelope("alice@example.org"), &gtube_message())
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", rspamd.log_text()));
    assert!(gtube.total >= 15.0, "GTUBE scored {gtube:?}");
    assert!(names(&gtube).contains(&"GTUBE"), "{gtube:?}");

    let clean = rspamd::check(&config, &envelope("alice@example.org"), &clean_message())
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", rspamd.log_text()));
    assert!(clean.total < 15.0, "the plain message scored {clean:?}");
    let symbols = names(&clean);
    assert!(!symbols.contains(&"GTUBE"), "{clean:?}");
    // The envelope reached rspamd as its headers: it compared them with the message's.
    assert!(symbols.contains(&"FROM_EQ_ENVFROM"), "{clean:?}");
    assert!(symbols.contains(&"TO_MATCH_ENVRCPT_ALL"), "{clean:?}");
    // Every symbol, informational ones included, sorted by name; the total to one decimal.
    assert!(
        clean.symbols.iter().any(|symbol| symbol.weight == 0.0),
        "{clean:?}"
    );
    let mut sorted = symbols.clone();
    sorted.sort_unstable();
    assert_eq!(symbols, sorted);
    assert_eq!(clean.total, (clean.total * 10.0).round() / 10.0);

    // The null sender is accepted (sent as `<>`).
    let bounce = rspamd::check(&config, &envelope(""), &clean_message())
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", rspamd.log_text()));
    assert!(!names(&bounce).contains(&"FROM_EQ_ENVFROM"), "{bounce:?}");

    // A URL whose path is not rspamd's: an error with rspamd's explanation, not a score.
    let wrong_path = RspamdConfig::new(format!("{}/nothing-here", rspamd.url()));
    let error = rspamd::check(
        &wrong_path,
        &envelope("alice@example.org"),
        &clean_message(),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("answered HTTP 500"), "{text}");
    assert!(text.contains("invalid command"), "{text}");

    filters_score_with_rspamd(&config).await;
}

/// `Filters` with `[spam] rspamd_url` set: a stranger's GTUBE message is spam at the reject
/// threshold with rspamd's symbols in `X-Spam-Status`, and a submitted one is held (SND-6).
async fn filters_score_with_rspamd(rspamd: &RspamdConfig) {
    let (filters, stores, _dir) = filters_with(rspamd.clone()).await;
    let client = stranger();
    let verdict = filters
        .check_message(Some(&client), "alice@example.org", &gtube_message(), &[])
        .await;
    let MessageVerdict::Spam {
        headers, refusal, ..
    } = verdict
    else {
        panic!("GTUBE is spam: {verdict:?}");
    };
    let headers = String::from_utf8(headers).expect("text");
    assert!(headers.contains("GTUBE"), "{headers}");
    assert!(refusal.is_some(), "at the reject threshold");
    let held = filters
        .check_outgoing(
            "alice@example.org",
            "alice@example.org",
            &["bob@example.net".to_string()],
            &gtube_message(),
        )
        .await;
    assert!(
        held.as_ref().is_some_and(|score| score.total >= 15.0),
        "{held:?}"
    );
    stores.close().await;
}

/// `Filters` scoring with `rspamd` (SPF/DKIM/DMARC off: no DNS here), over a store in a
/// temporary folder (kept alive by the returned guard).
async fn filters_with(
    rspamd: RspamdConfig,
) -> (Filters, postwerk_store::Stores, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
        .await
        .expect("store");
    let mut config = FilterConfig {
        auth: false,
        ..FilterConfig::default()
    };
    config.spam.rspamd = Some(rspamd);
    let filters = Filters::new(
        config,
        Arc::new(FakeResolver::new()),
        stores.greylist.clone(),
        Verifier::default(),
        "mx.example.test".into(),
    );
    (filters, stores, dir)
}

/// A stranger's client on the MX listener.
fn stranger() -> Client {
    Client {
        ip: "198.51.100.7".parse().expect("address"),
        helo: "mail.example.org".into(),
    }
}

/// An rspamd that cannot be reached does not stop the mail: the built-in rules score it.
#[tokio::test]
async fn rcv_4_filters_fall_back_to_the_built_in_rules_without_rspamd() {
    let unreachable = RspamdConfig::new(format!("http://{}", free_port()));
    let (filters, stores, _dir) = filters_with(unreachable).await;
    let client = stranger();
    let shouting = b"From: <alice@example.org>\r\nTo: <bob@example.net>\r\n\
        Subject: YOU ARE A WINNER TODAY\r\n\r\nhello\r\n";
    let verdict = filters
        .check_message(Some(&client), "alice@example.org", shouting, &[])
        .await;
    let MessageVerdict::Accept { headers, .. } = verdict else {
        panic!("a few marks only: {verdict:?}");
    };
    let headers = String::from_utf8(headers).expect("text");
    assert!(headers.contains("SUBJECT_ALL_CAPS"), "{headers}");
    stores.close().await;
}

#[tokio::test]
async fn rcv_4_unreachable_rspamd_is_an_error_not_a_score() {
    let config = RspamdConfig::new(format!("http://{}", free_port()));
    let error = rspamd::check(&config, &envelope("alice@example.org"), &clean_message())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("could not be asked"), "{text}");
    assert!(text.contains(&config.url["http://".len()..]), "{text}");
}

#[tokio::test]
async fn rcv_4_rspamd_that_never_answers_is_an_error_after_the_timeout() {
    // Accepts connections (the kernel does, from the backlog) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let config = RspamdConfig {
        timeout: Duration::from_secs(1),
        ..RspamdConfig::new(format!("http://{}", silent.local_addr().expect("address")))
    };
    let error = rspamd::check(&config, &envelope("alice@example.org"), &clean_message())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("did not answer within 1 s"),
        "{error}"
    );
}
