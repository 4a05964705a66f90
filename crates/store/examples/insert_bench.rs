//! Micro-benchmark of message insertion into the SQLite mail store (issue 2, "Done means").
//!
//! ```text
//! cargo run --release -p postwerk-store --example insert_bench [MESSAGES] [DATA_DIR] [SIZE]
//! ```
//!
//! Measures durable local deliveries of SIZE-octet messages (default 2048; 102400 for the
//! 100 KB variant), one target each, each message distinct so every delivery writes and fsyncs
//! its own blob: first one writer at a time (every delivery pays its own commit), then 16, 64
//! and 256 concurrent writers (group commit shares the commits). A raw "write SIZE octets +
//! fsync" loop on the same disk gives the ceiling a one-fsync-per-message design would have.
//! Messages are parsed before the clock starts: this measures the store, not the parser. The
//! data folder defaults to a temporary folder beside the system's temporary files; pass one on
//! the disk you care about.
//!
//! After each level it waits for the full-text indexer, which works after the commits, and
//! prints how far behind the deliveries it was.
//!
//! Not a test and not run in CI.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postwerk_message::MessageIndex;
use postwerk_model::{AddressKind, Domain, LocalPart, Permissions, ServiceFeatures};
use postwerk_store::{DeliveryTarget, Flags, MailStore, NewAddress, NewService, open_sqlite};

/// Message size the issue asks for, unless the third argument says otherwise.
const MESSAGE_SIZE: usize = 2048;
/// Mailboxes the deliveries are spread over.
const MAILBOXES: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let per_level: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let parent = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let size: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(MESSAGE_SIZE);
    let dir = tempfile::tempdir_in(&parent)?;
    println!(
        "data folder: {} (messages of {size} octets)",
        dir.path().display()
    );

    let fsyncs = raw_fsync_rate(dir.path(), 300, size)?;
    println!(
        "raw write+fsync of a {size}-octet file: {fsyncs:>8.0} /s  (the one-fsync-per-message \
         ceiling)"
    );

    let stores = open_sqlite(&dir.path().join("data")).await?;
    let org = stores.directory.create_org("Bench").await?;
    let service = stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: Domain::parse("bench.example")?,
            address_quota: 1000,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await?;
    let mut mailboxes = Vec::new();
    for n in 0..MAILBOXES {
        let hosted = stores
            .directory
            .create_address(NewAddress {
                service: service.id,
                local: LocalPart::parse(&format!("user{n}"))?,
                kind: AddressKind::Mailbox,
                display_name: String::new(),
                password_hash: Some("$argon2id$bench".to_owned()),
                redirect: None,
                storage_limit: None,
            })
            .await?;
        mailboxes.push(hosted.id);
    }
    let mail = stores.mail.clone();

    let sequential = per_level.min(500);
    let (rate, latencies) = run(&mail, &mailboxes, "seq", sequential, 1, size).await?;
    report("1 writer, sequential", sequential, rate, &latencies);
    index_lag(&stores).await?;
    for writers in [16, 64, 256] {
        let (rate, latencies) = run(
            &mail,
            &mailboxes,
            &format!("w{writers}-"),
            per_level,
            writers,
            size,
        )
        .await?;
        report(
            &format!("{writers} concurrent writers"),
            per_level,
            rate,
            &latencies,
        );
        index_lag(&stores).await?;
    }
    stores.close().await;
    Ok(())
}

/// Deliver `count` distinct messages with `writers` tasks; returns messages per second and
/// every delivery's latency.
async fn run(
    mail: &Arc<dyn MailStore>,
    mailboxes: &[postwerk_model::AddressId],
    tag: &str,
    count: usize,
    writers: usize,
    size: usize,
) -> Result<(f64, Vec<Duration>), Box<dyn std::error::Error>> {
    let messages: Vec<(Vec<u8>, MessageIndex)> = (0..count)
        .map(|n| {
            let raw = message(&format!("{tag}{n}"), size);
            let index = MessageIndex::parse(&raw);
            (raw, index)
        })
        .collect();
    let messages = Arc::new(messages);
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (mail, messages) = (mail.clone(), messages.clone());
            let mailboxes = mailboxes.to_vec();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in (w..messages.len()).step_by(writers) {
                    let (raw, index) = &messages[n];
                    let target = [DeliveryTarget::inbox(mailboxes[n % mailboxes.len()])];
                    let t = Instant::now();
                    mail.deliver(raw, index, &target, &Flags::none(), 1_700_000_000)
                        .await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, postwerk_store::StoreError>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok((rate, latencies))
}

/// How long after the last answered delivery the full-text index (built after the commits,
/// off the delivery path) holds every message; waiting also keeps one level's indexing out of
/// the next level's figures.
async fn index_lag(stores: &postwerk_store::Stores) -> Result<(), postwerk_store::StoreError> {
    let started = Instant::now();
    stores.wait_indexed().await?;
    println!(
        "{:<24} search index caught up {:>8.0} ms after the last answer",
        "",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

fn report(label: &str, count: usize, rate: f64, latencies: &[Duration]) {
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "{label:<24} {count:>6} msgs  {rate:>8.0} msgs/s   latency p50 {:>6.2} ms  p99 {:>6.2} ms",
        at(0.5),
        at(0.99)
    );
}

/// A message of `size` octets whose content is unique to `tag`.
fn message(tag: &str, size: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Bench <bench@outside.example>\r\nTo: user@bench.example\r\nSubject: {tag}\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <{tag}@outside.example>\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n";
    while raw.len() + line.len() <= size {
        raw.extend_from_slice(line);
    }
    raw.resize(size, b'.');
    raw
}

/// How many "create a `size`-octet file and fsync it" the disk does per second, sequentially.
fn raw_fsync_rate(dir: &Path, count: usize, size: usize) -> std::io::Result<f64> {
    let payload = vec![b'x'; size];
    let folder = dir.join("fsync");
    std::fs::create_dir_all(&folder)?;
    let started = Instant::now();
    for n in 0..count {
        let mut file = std::fs::File::create(folder.join(n.to_string()))?;
        file.write_all(&payload)?;
        file.sync_all()?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
