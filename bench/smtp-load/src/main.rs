//! `smtp-load`: the SMTP ingest load generator of Postwerk's benchmarks (`bench/README.md`).
//!
//! Opens `C` connections to a loopback SMTP server. Each connection says EHLO once, then sends
//! messages in a loop, one transaction each:
//!
//! ```text
//! MAIL FROM / RCPT TO / DATA   one write when the server offers PIPELINING (RFC 2920)
//! <message> CRLF . CRLF        clock starts after the final dot …
//! 250                          … and stops at the reply; only 250 counts as acknowledged
//! ```
//!
//! The run ends after `N` messages (`--messages`) or `D` seconds (`--duration`). Every message
//! is `S` octets (realistic headers, body lines of 76 characters) with its own `Message-ID`
//! and first body line, so no store can deduplicate them.
//!
//! A server that queues before delivering (Postfix) acknowledges faster than it delivers, so
//! `--maildir DIR` also waits until the acknowledged messages are files in that Maildir and
//! reports the end-to-end rate.
//!
//! The last line of output is `RESULT key=value …` for scripts.
//!
//! Only loopback addresses are accepted: this tool exists to load a local server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const USAGE: &str = "\
usage: smtp-load --to ADDRESS [options]

  --host IP              loopback address of the server        [127.0.0.1]
  --port PORT            SMTP port                             [25]
  -c, --connections C    parallel connections                  [1]
  -s, --size S           message size in octets (k/K suffix = 1024) [2k]
  -n, --messages N       total messages to send                [1000]
  -d, --duration SECS    send for SECS seconds instead of N messages
  --to ADDRESS           envelope and header recipient (a local mailbox)
  --from ADDRESS         envelope sender                       [load-sender@load.example]
  --helo NAME            EHLO name                             [load.example]
  --no-pipelining        one command per round trip even if PIPELINING is offered
  --per-connection K     QUIT and reconnect after K messages, 0 = never [1000]
  --maildir DIR          also wait until the messages are files in DIR/new + DIR/cur
  --wait-timeout SECS    how long to wait for the Maildir      [600]
  --label TEXT           copied into the RESULT line
";

/// How long a reply may take before the connection is given up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// Consecutive failed connection attempts after which a worker stops.
const MAX_CONNECT_FAILURES: u32 = 20;
/// Body line length without CRLF; RFC 5322 §2.1.1 recommends at most 78.
const BODY_LINE: usize = 76;

/// The command line, validated.
#[derive(Debug, Clone)]
struct Config {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    stop: Stop,
    to: String,
    from: String,
    helo: String,
    pipelining: bool,
    /// 0 means one connection for the whole run.
    per_connection: u64,
    maildir: Option<PathBuf>,
    wait_timeout: Duration,
    label: String,
}

/// When the run ends.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// After this many transactions were started, over all connections.
    Messages(u64),
    /// No new transaction after this long.
    Duration(Duration),
}

fn parse_size(text: &str) -> Option<usize> {
    let (digits, factor) = match text.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1024),
        None => (text, 1),
    };
    digits.parse::<usize>().ok().map(|n| n * factor)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut host: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut port: u16 = 25;
    let mut config = Config {
        addr: SocketAddr::new(host, port),
        connections: 1,
        size: 2048,
        stop: Stop::Messages(1000),
        to: String::new(),
        from: "load-sender@load.example".into(),
        helo: "load.example".into(),
        pipelining: true,
        per_connection: 1000,
        maildir: None,
        wait_timeout: Duration::from_secs(600),
        label: String::new(),
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        if flag == "--no-pipelining" {
            config.pipelining = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: invalid value {value:?}");
        match flag.as_str() {
            "--host" => host = value.parse().map_err(|_| bad())?,
            "--port" => port = value.parse().map_err(|_| bad())?,
            "-c" | "--connections" => {
                config.connections = value.parse().ok().filter(|&c| c > 0).ok_or_else(bad)?
            }
            "-s" | "--size" => config.size = parse_size(&value).ok_or_else(bad)?,
            "-n" | "--messages" => {
                config.stop = Stop::Messages(value.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?)
            }
            "-d" | "--duration" => {
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|&s: &f64| s > 0.0)
                    .ok_or_else(bad)?;
                config.stop = Stop::Duration(Duration::from_secs_f64(secs))
            }
            "--to" => config.to = value,
            "--from" => config.from = value,
            "--helo" => config.helo = value,
            "--per-connection" => config.per_connection = value.parse().map_err(|_| bad())?,
            "--maildir" => config.maildir = Some(PathBuf::from(value)),
            "--wait-timeout" => {
                config.wait_timeout = Duration::from_secs(value.parse().map_err(|_| bad())?)
            }
            "--label" => config.label = value,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if config.to.is_empty() {
        return Err("--to is required".into());
    }
    if !host.is_loopback() {
        return Err(format!(
            "{host} is not a loopback address; smtp-load only loads local servers"
        ));
    }
    config.addr = SocketAddr::new(host, port);
    Ok(config)
}

/// State shared by the connections: the ticket counter that decides who sends the next message.
struct Shared {
    issued: AtomicU64,
    deadline: Option<Instant>,
    limit: u64,
}

impl Shared {
    /// Takes the next message number, or `None` when the run is over.
    fn claim(&self) -> Option<u64> {
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                return None;
            }
            return Some(self.issued.fetch_add(1, Ordering::Relaxed));
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        (n < self.limit).then_some(n)
    }

    fn finished(&self) -> bool {
        match self.deadline {
            Some(deadline) => Instant::now() >= deadline,
            None => self.issued.load(Ordering::Relaxed) >= self.limit,
        }
    }
}

/// What one connection saw.
#[derive(Default)]
struct Stats {
    /// Transactions started (MAIL FROM sent).
    attempted: u64,
    /// Messages whose final dot was answered with 250.
    acknowledged: u64,
    /// End-of-data → 250, in microseconds, one per acknowledged message.
    latencies_us: Vec<u32>,
    /// "stage code" or "stage io: …" → count.
    errors: BTreeMap<String, u64>,
    connections: u64,
    /// When the last 250 arrived.
    last_ack: Option<Instant>,
}

impl Stats {
    fn error(&mut self, what: String) {
        *self.errors.entry(what).or_default() += 1;
    }

    fn merge(&mut self, other: Stats) {
        self.attempted += other.attempted;
        self.acknowledged += other.acknowledged;
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.connections += other.connections;
        self.last_ack = self.last_ack.max(other.last_ack);
    }
}

/// One SMTP reply: its code and its lines.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn describe(&self) -> String {
        let last = self.lines.last().map(String::as_str).unwrap_or("");
        // Keep the error table readable: code and enhanced code only.
        let short: String = last
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if short.is_empty() {
            self.code.to_string()
        } else {
            short
        }
    }
}

/// A failure that ends the connection.
enum ConnError {
    Io(String),
    /// The server said 421 (closing) or something that makes the session unusable.
    Closed(String),
}

struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(Conn {
            reader: BufReader::with_capacity(16 * 1024, r),
            writer: w,
            line: Vec::with_capacity(512),
        })
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|e| ConnError::Io(format!("write: {e}")))
    }

    /// Reads one reply, multi-line ones included (RFC 5321 §4.2.1).
    async fn reply(&mut self) -> Result<Reply, ConnError> {
        let mut lines = Vec::new();
        loop {
            self.line.clear();
            let read =
                tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_until(b'\n', &mut self.line))
                    .await
                    .map_err(|_| ConnError::Io("reply timeout".into()))?
                    .map_err(|e| ConnError::Io(format!("read: {e}")))?;
            if read == 0 {
                return Err(ConnError::Io("connection closed by server".into()));
            }
            let text = String::from_utf8_lossy(&self.line).trim_end().to_string();
            let code = text
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| ConnError::Closed(format!("malformed reply {text:?}")))?;
            let more = text.as_bytes().get(3) == Some(&b'-');
            lines.push(text);
            if !more {
                if code == 421 {
                    return Err(ConnError::Closed("421".into()));
                }
                return Ok(Reply { code, lines });
            }
        }
    }
}

/// Formats a Unix time as an RFC 5322 §3.3 date in UTC.
fn rfc5322_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian, eras of 400 years).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((days + 4).rem_euclid(7)) as usize];
    format!(
        "{weekday}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Body text: lines of exactly [`BODY_LINE`] characters of words, CRLF-terminated, none
/// starting with a dot (so no dot-stuffing is needed), different per connection.
fn body_lines(octets: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "the",
        "quarterly",
        "report",
        "attached",
        "meeting",
        "agenda",
        "please",
        "review",
        "before",
        "thursday",
        "thanks",
        "regards",
        "schedule",
        "invoice",
        "delivery",
        "project",
        "update",
        "numbers",
        "draft",
        "budget",
        "customer",
        "mailbox",
        "server",
        "tomorrow",
    ];
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64: cheap, deterministic variety, not cryptographic.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let lines = octets / (BODY_LINE + 2) + 1;
    let mut out = Vec::with_capacity(lines * (BODY_LINE + 2));
    for _ in 0..lines {
        let start = out.len();
        while out.len() - start < BODY_LINE {
            let word = WORDS[(next() % WORDS.len() as u64) as usize];
            if out.len() > start {
                out.push(b' ');
            }
            out.extend_from_slice(word.as_bytes());
        }
        out.truncate(start + BODY_LINE);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Writes message number `seq` of connection `conn`, `size` octets, then the terminating
/// `.` line, into `out`.
fn build_message(
    out: &mut Vec<u8>,
    config: &Config,
    run: &str,
    conn: usize,
    seq: u64,
    body: &[u8],
) {
    out.clear();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut head = String::with_capacity(600);
    // Writing into a String cannot fail.
    let _ = write!(
        head,
        "Received: from load.example (localhost [127.0.0.1])\r\n\tby load.example (smtp-load) with ESMTP id {run}{conn:x}{seq:x}\r\n\tfor <{to}>; {date}\r\n\
         From: Load Sender <{from}>\r\n\
         To: Bench Mailbox <{to}>\r\n\
         Subject: smtp-load message {seq} of connection {conn}\r\n\
         Date: {date}\r\n\
         Message-ID: <{run}.{conn}.{seq}@load.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         Message {run}.{conn}.{seq}, generated by smtp-load for an ingest benchmark.\r\n",
        to = config.to,
        from = config.from,
        date = rfc5322_date(now),
    );
    out.extend_from_slice(head.as_bytes());
    let need = config.size.saturating_sub(out.len());
    let full = (need / (BODY_LINE + 2)) * (BODY_LINE + 2);
    out.extend_from_slice(&body[..full.min(body.len())]);
    let rest = need - full;
    if rest >= 3 {
        // A shorter last line so the message is exactly `size` octets.
        out.extend_from_slice(&body[..rest - 2]);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// One connection's loop: connect, EHLO, send until the run ends, reconnect after
/// `per_connection` messages or when the server closes.
async fn worker(id: usize, config: Arc<Config>, shared: Arc<Shared>, run: Arc<str>) -> Stats {
    let mut stats = Stats::default();
    let body = body_lines(config.size, 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1));
    let mut message = Vec::with_capacity(config.size + 1024);
    let envelope = format!(
        "MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
        config.from, config.to
    );
    let mut connect_failures = 0;
    let mut seq = 0u64;
    while !shared.finished() {
        let mut conn = match Conn::open(config.addr).await {
            Ok(c) => c,
            Err(e) => {
                stats.error(format!("connect {}", e.kind()));
                connect_failures += 1;
                if connect_failures >= MAX_CONNECT_FAILURES {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        connect_failures = 0;
        stats.connections += 1;
        match session(
            &mut conn,
            id,
            &config,
            &shared,
            &run,
            &body,
            &envelope,
            &mut message,
            &mut seq,
            &mut stats,
        )
        .await
        {
            Ok(()) => {
                let _ = conn.send(b"QUIT\r\n").await;
                let _ = conn.reply().await;
            }
            Err(ConnError::Io(e)) => stats.error(format!("io: {e}")),
            Err(ConnError::Closed(e)) => stats.error(format!("closed: {e}")),
        }
    }
    stats
}

/// Greeting, EHLO, then transactions until the run ends or `per_connection` is reached.
#[allow(clippy::too_many_arguments)]
async fn session(
    conn: &mut Conn,
    id: usize,
    config: &Config,
    shared: &Shared,
    run: &str,
    body: &[u8],
    envelope: &str,
    message: &mut Vec<u8>,
    seq: &mut u64,
    stats: &mut Stats,
) -> Result<(), ConnError> {
    let greeting = conn.reply().await?;
    if greeting.code != 220 {
        return Err(ConnError::Closed(format!(
            "greeting {}",
            greeting.describe()
        )));
    }
    conn.send(format!("EHLO {}\r\n", config.helo).as_bytes())
        .await?;
    let ehlo = conn.reply().await?;
    if ehlo.code != 250 {
        return Err(ConnError::Closed(format!("EHLO {}", ehlo.describe())));
    }
    // RFC 2920 §3.1: pipeline only when the server offers it.
    let pipelining = config.pipelining
        && ehlo.lines.iter().any(|l| {
            l.get(4..)
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        });
    let mut on_this_connection = 0u64;
    while config.per_connection == 0 || on_this_connection < config.per_connection {
        if shared.claim().is_none() {
            return Ok(());
        }
        on_this_connection += 1;
        *seq += 1;
        stats.attempted += 1;
        build_message(message, config, run, id, *seq, body);

        // Envelope: MAIL, RCPT, DATA; RFC 2920 §3.1 allows DATA as the last command of a group.
        let (mail, rcpt, data) = if pipelining {
            conn.send(envelope.as_bytes()).await?;
            (
                conn.reply().await?,
                conn.reply().await?,
                conn.reply().await?,
            )
        } else {
            let mut lines = envelope.split_inclusive("\r\n");
            let mut step = async |conn: &mut Conn| -> Result<Reply, ConnError> {
                conn.send(lines.next().unwrap_or("NOOP\r\n").as_bytes())
                    .await?;
                conn.reply().await
            };
            let mail = step(conn).await?;
            if mail.code != 250 {
                stats.error(format!("MAIL {}", mail.describe()));
                reset(conn).await?;
                continue;
            }
            let rcpt = step(conn).await?;
            if rcpt.code != 250 && rcpt.code != 251 {
                stats.error(format!("RCPT {}", rcpt.describe()));
                reset(conn).await?;
                continue;
            }
            let data = step(conn).await?;
            (mail, rcpt, data)
        };
        let envelope_ok = mail.code == 250 && (rcpt.code == 250 || rcpt.code == 251);
        if mail.code != 250 {
            stats.error(format!("MAIL {}", mail.describe()));
        } else if rcpt.code != 250 && rcpt.code != 251 {
            stats.error(format!("RCPT {}", rcpt.describe()));
        }
        if data.code != 354 {
            if envelope_ok {
                stats.error(format!("DATA {}", data.describe()));
            }
            reset(conn).await?;
            continue;
        }
        if !envelope_ok {
            // The server opened DATA without a valid envelope; end it empty.
            conn.send(b".\r\n").await?;
            conn.reply().await?;
            continue;
        }
        conn.send(message).await?;
        let sent = Instant::now();
        let end = conn.reply().await?;
        if end.code == 250 {
            let now = Instant::now();
            stats.acknowledged += 1;
            stats
                .latencies_us
                .push(now.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
            stats.last_ack = Some(now);
        } else {
            stats.error(format!("end of data {}", end.describe()));
        }
    }
    Ok(())
}

async fn reset(conn: &mut Conn) -> Result<(), ConnError> {
    conn.send(b"RSET\r\n").await?;
    conn.reply().await.map(|_| ())
}

/// Files in `dir/new` and `dir/cur`, dot files excepted.
fn maildir_count(dir: &Path) -> u64 {
    ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
        .count() as u64
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            if !e.is_empty() {
                eprintln!("smtp-load: {e}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // One thread: on a small machine the server under test needs the other cores more than
    // the generator needs parallelism, and 16 connections are easily driven from one.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("smtp-load: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let baseline = config.maildir.as_deref().map(maildir_count);
    let run: Arc<str> = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            % (1u128 << 48)
    )
    .into();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        issued: AtomicU64::new(0),
        deadline: match config.stop {
            Stop::Duration(d) => Some(start + d),
            Stop::Messages(_) => None,
        },
        limit: match config.stop {
            Stop::Messages(n) => n,
            Stop::Duration(_) => u64::MAX,
        },
    });
    let stats = runtime.block_on(async {
        let tasks: Vec<_> = (0..config.connections)
            .map(|id| tokio::spawn(worker(id, config.clone(), shared.clone(), run.clone())))
            .collect();
        let mut total = Stats::default();
        for task in tasks {
            match task.await {
                Ok(s) => total.merge(s),
                Err(e) => total.error(format!("worker panicked: {e}")),
            }
        }
        total
    });
    let finished = Instant::now();
    let mut stats = stats;
    stats.latencies_us.sort_unstable();
    let ack_secs = stats
        .last_ack
        .unwrap_or(finished)
        .duration_since(start)
        .as_secs_f64();
    let ack_rate = if ack_secs > 0.0 {
        stats.acknowledged as f64 / ack_secs
    } else {
        0.0
    };
    let errors: u64 = stats.errors.values().sum();
    let (p50, p90, p99) = (
        percentile_ms(&stats.latencies_us, 0.50),
        percentile_ms(&stats.latencies_us, 0.90),
        percentile_ms(&stats.latencies_us, 0.99),
    );
    let max = percentile_ms(&stats.latencies_us, 1.0);

    println!(
        "smtp-load {}  connections={} size={} pipelining={} per-connection={}",
        config.addr,
        config.connections,
        config.size,
        if config.pipelining {
            "when offered"
        } else {
            "off"
        },
        config.per_connection
    );
    println!(
        "attempted {}, acknowledged with 250: {} in {:.3} s = {:.1} msg/s ({} connections opened)",
        stats.attempted, stats.acknowledged, ack_secs, ack_rate, stats.connections
    );
    println!(
        "latency end of data → 250: p50 {p50:.2} ms  p90 {p90:.2} ms  p99 {p99:.2} ms  max {max:.2} ms"
    );
    println!("errors: {errors}");
    for (what, n) in &stats.errors {
        println!("  {n:>8}  {what}");
    }

    let mut result = format!(
        "RESULT label={} connections={} size={} attempted={} acked={} errors={} ack_seconds={:.3} ack_rate={:.1} p50_ms={:.2} p99_ms={:.2}",
        if config.label.is_empty() {
            "-"
        } else {
            &config.label
        },
        config.connections,
        config.size,
        stats.attempted,
        stats.acknowledged,
        errors,
        ack_secs,
        ack_rate,
        p50,
        p99
    );
    if let (Some(dir), Some(baseline)) = (&config.maildir, baseline) {
        let target = baseline + stats.acknowledged;
        let mut count = maildir_count(dir);
        while count < target && start.elapsed() < config.wait_timeout + (finished - start) {
            std::thread::sleep(Duration::from_millis(20));
            count = maildir_count(dir);
        }
        let delivered_at = Instant::now();
        let delivered = count.saturating_sub(baseline);
        let secs = delivered_at.duration_since(start).as_secs_f64();
        let rate = delivered as f64 / secs;
        println!(
            "delivered into {}: {delivered} of {} in {secs:.3} s = {rate:.1} msg/s end to end{}",
            dir.display(),
            stats.acknowledged,
            if delivered < stats.acknowledged {
                " (TIMED OUT)"
            } else {
                ""
            }
        );
        let _ = write!(
            result,
            " delivered={delivered} delivered_seconds={secs:.3} delivered_rate={rate:.1}"
        );
    }
    println!("{result}");
    if stats.acknowledged == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_683_012),
            "Thu, 26 Nov 2026 08:50:12 +0000"
        );
    }

    #[test]
    fn messages_have_the_requested_size_and_valid_lines() {
        let mut config =
            parse_args(["--to", "bench@example.test"].map(String::from).into_iter()).unwrap();
        for size in [2048, 2050, 2051, 100 * 1024] {
            config.size = size;
            let body = body_lines(size, 7);
            let mut out = Vec::new();
            build_message(&mut out, &config, "abc", 3, 12345, &body);
            let message = &out[..out.len() - 3];
            assert!(out.ends_with(b"\r\n.\r\n"));
            assert!(
                message.len().abs_diff(size) <= 2,
                "{size}: {}",
                message.len()
            );
            for line in message.split(|&b| b == b'\n') {
                assert!(line.len() <= 78, "line too long");
                assert!(!line.starts_with(b"."), "needs dot-stuffing");
            }
            assert!(
                !message.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
                "bare LF"
            );
        }
    }

    #[test]
    fn only_loopback_is_accepted() {
        let args = ["--to", "a@b", "--host", "192.0.2.1"].map(String::from);
        assert!(parse_args(args.into_iter()).is_err());
        assert_eq!(parse_size("100k"), Some(102_400));
    }
}
