//! `postwerk serve`: wiring and lifetime. Reads the configuration, opens the store, sets up TLS,
//! binds every configured listener, and on SIGINT/SIGTERM stops accepting, lets in-flight work
//! finish and closes the store so that nothing acknowledged is lost (OPS-2).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusBuilder;
use postwerk_core::{Delivery, FailureLimiter, FailurePolicy, MailboxAuth};
use postwerk_imap::{Limits as ImapLimits, ListenerKind as ImapKind, Server as ImapServer};
use postwerk_net::{AddressLimits, ServeOptions, Shutdown, TlsSource};
use postwerk_pop3::{
    Limits as Pop3Limits, ListenerKind as Pop3Kind, MaildropLocks, Server as Pop3Server,
};
use postwerk_smtp::{Limits, ListenerKind, Server as SmtpServer};
use tokio::net::TcpListener;

use crate::cli::{ServeArgs, Target};
use crate::config::Config;
use crate::http;

/// The SRS key's file in the data folder.
const SRS_KEY_FILE: &str = "srs.key";

/// Protocols whose servers exist in this build; the other configured listeners are reported
/// and left unbound rather than accepting connections nobody answers.
const SERVED: &[&str] = &[
    "http",
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
];

/// Loads the configuration a command was pointed at: `--config FILE`, else defaults, with
/// `--data-dir` overriding either.
pub fn load_config(target: &Target) -> anyhow::Result<(Config, bool)> {
    let (mut config, from_file) = match &target.config {
        Some(path) => (Config::load(path)?, true),
        None => (Config::default(), false),
    };
    if let Some(dir) = &target.data_dir {
        config.data_dir = dir.clone();
    }
    Ok((config, from_file))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (config, from_file) = load_config(&args.target)?;
    crate::logging::init(&config.log);
    let first_start = !config.data_dir.join(postwerk_store::DATABASE_FILE).exists();

    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let store_options = postwerk_store::SqliteOptions {
        cache_bytes: usize::try_from(config.store.cache_size).unwrap_or(usize::MAX),
    };
    let stores = postwerk_store::open_sqlite_with(&config.data_dir, &store_options)
        .await
        .with_context(|| format!("cannot open the data folder {}", config.data_dir.display()))?;
    let tls_source = match &config.tls {
        Some(files) => TlsSource::Files {
            cert: files.cert.clone(),
            key: files.key.clone(),
        },
        None => TlsSource::SelfSigned {
            hostname: config.hostname.clone(),
            dir: config.data_dir.join("tls"),
        },
    };
    let tls = postwerk_net::load_tls(&tls_source).context("cannot set up TLS")?;

    let shutdown = Shutdown::new();
    // One failure limiter for every protocol that logs mailboxes in, so a guesser gains nothing
    // by switching protocols.
    // ID-11: one audit log for every protocol's logins and every change.
    let audit = postwerk_core::Audit::start(stores.identity.clone());
    let auth = Arc::new(
        MailboxAuth::new(
            stores.directory.clone(),
            Arc::new(FailureLimiter::new(failure_policy(&config))),
        )
        .with_audit(audit.clone())
        // ID-6: sessions in IDLE end as soon as their mailbox's password changes.
        .with_credential_events(stores.events.clone()),
    );
    spawn_audit_pruning(&config, &stores, &shutdown);
    let srs_key = srs_secret(&config.data_dir)?;
    let dns = postwerk_dns::DnsConfig {
        servers: config.dns.servers.clone(),
        dnssec: config.dns.dnssec,
        timeout: Duration::from_secs(config.dns.timeout),
    };
    let resolver: Arc<dyn postwerk_dns::Resolver> = Arc::new(
        postwerk_dns::HickoryResolver::new(&dns).context("cannot set up the DNS resolver")?,
    );
    // SPEC §4: the checks on incoming mail, with the same resolver (block lists) and DNS
    // servers (SPF, DKIM, DMARC through mail-auth's own resolver).
    let filters = Arc::new(postwerk_filter::Filters::new(
        config.filters.clone(),
        resolver.clone(),
        stores.greylist.clone(),
        postwerk_filter::auth::Verifier::new(&dns)
            .map_err(|e| anyhow::anyhow!("cannot set up SPF/DKIM/DMARC checks: {e}"))?,
        config.hostname.clone(),
    ));
    // SND-2: submitted mail leaves signed with its service's DKIM key.
    let delivery = Delivery::new(
        stores.directory.clone(),
        stores.mail.clone(),
        stores.queue.clone(),
    )
    .with_signer(postwerk_core::DkimSigner::new(stores.directory.clone()))
    .with_srs(postwerk_core::Srs::new(srs_key.clone()))
    // RCV-4: each mailbox's allowed and blocked senders.
    .with_sender_rules(stores.manager.clone())
    .with_send_limits(Arc::new(postwerk_core::SendLimiter::new(
        stores.directory.clone(),
        send_policy(&config),
    )))
    .with_filters(filters);
    // RCV-4: moves into and out of Junk over IMAP feed the mailboxes' sender lists.
    let junk_learning = config.filters.spam.learn_from_moves.then(|| {
        Arc::new(postwerk_core::JunkLearning::new(
            stores.mail.clone(),
            stores.manager.clone(),
        ))
    });
    // Issue 10: connections per client address, one count per protocol for all its listeners.
    let per_address = PerAddress::new(&config);
    // One POP3 maildrop lock table for both POP3 listeners (RFC 1939 §8, [IN-USE]).
    let pop3_locks = MaildropLocks::new();
    let mut bound: BTreeMap<String, SocketAddr> = BTreeMap::new();
    for (key, addr) in &config.listen {
        if !SERVED.contains(&key.as_str()) {
            tracing::info!(listener = %key, %addr, "not served yet by this build; skipped");
            continue;
        }
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (listen.{key})"))?;
        let local = listener.local_addr()?;
        bound.insert(key.clone(), local);
        match key.as_str() {
            "http" => {
                let health_stores = stores.clone();
                let state = http::HttpState {
                    metrics: metrics.clone(),
                    health: Arc::new(move || {
                        let stores = health_stores.clone();
                        Box::pin(async move {
                            // A cheap indexed read proves the database answers.
                            let probe = stores.directory.org(postwerk_model::OrgId(0)).await;
                            probe.map(|_| ()).map_err(|e| e.to_string())
                        })
                    }),
                };
                let api = manager_api(
                    &config,
                    &stores,
                    &delivery,
                    &auth,
                    &resolver,
                    &audit,
                    sms_gateway(&config, &stores)?,
                );
                let app = http::router(state).merge(postwerk_web::router(api));
                // The client's address is needed for the sign-in failure limits (ID-1).
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                let stop = shutdown.clone();
                shutdown.tracker().spawn(async move {
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(async move { stop.triggered().await })
                        .await;
                    if let Err(error) = served {
                        tracing::error!(%error, "http server failed");
                    }
                });
            }
            "smtp" | "submission" | "submissions" => {
                let kind = match key.as_str() {
                    "smtp" => ListenerKind::Mx,
                    "submission" => ListenerKind::Submission,
                    _ => ListenerKind::Submissions,
                };
                let server = Arc::new(SmtpServer {
                    hostname: config.hostname.clone(),
                    kind,
                    limits: smtp_limits(&config),
                    delivery: delivery.clone(),
                    auth: auth.clone(),
                    tls: Some(tls.clone()),
                    shutdown: shutdown.clone(),
                });
                let limits = ListenerLimits {
                    max_connections: config.smtp.max_connections,
                    per_address: per_address.smtp.clone(),
                    // RFC 5321 §3.8: 421 and close; implicit TLS expects a handshake instead.
                    busy: (kind != ListenerKind::Submissions).then_some(
                        b"421 4.7.0 Too many connections from your address, try again later\r\n"
                            .as_slice(),
                    ),
                };
                spawn_listener(
                    &shutdown,
                    listener,
                    kind.key(),
                    limits,
                    move |stream, peer| server.clone().handle(stream, peer),
                );
            }
            "imap" | "imaps" => {
                let kind = if key == "imap" {
                    ImapKind::Imap
                } else {
                    ImapKind::Imaps
                };
                let server = Arc::new(ImapServer {
                    hostname: config.hostname.clone(),
                    kind,
                    limits: imap_limits(&config),
                    auth: auth.clone(),
                    mail: stores.mail.clone(),
                    directory: stores.directory.clone(),
                    tls: Some(tls.clone()),
                    shutdown: shutdown.clone(),
                    junk_learning: junk_learning.clone(),
                });
                let limits = ListenerLimits {
                    max_connections: config.imap.max_connections,
                    per_address: per_address.imap.clone(),
                    // RFC 9051 §7.1.5: a greeting may be BYE; RFC 5530 UNAVAILABLE.
                    busy: (kind == ImapKind::Imap).then_some(
                        b"* BYE [UNAVAILABLE] Too many connections from your address\r\n"
                            .as_slice(),
                    ),
                };
                spawn_listener(
                    &shutdown,
                    listener,
                    kind.key(),
                    limits,
                    move |stream, peer| server.clone().handle(stream, peer),
                );
            }
            "pop3" | "pop3s" => {
                let kind = if key == "pop3" {
                    Pop3Kind::Pop3
                } else {
                    Pop3Kind::Pop3s
                };
                let server = Arc::new(Pop3Server {
                    hostname: config.hostname.clone(),
                    kind,
                    limits: pop3_limits(&config),
                    auth: auth.clone(),
                    mail: stores.mail.clone(),
                    locks: pop3_locks.clone(),
                    tls: Some(tls.clone()),
                    shutdown: shutdown.clone(),
                });
                let limits = ListenerLimits {
                    max_connections: config.pop3.max_connections,
                    per_address: per_address.pop3.clone(),
                    // RFC 2449 §8.1.2: SYS/TEMP, a temporary problem.
                    busy: (kind == Pop3Kind::Pop3).then_some(
                        b"-ERR [SYS/TEMP] Too many connections from your address\r\n".as_slice(),
                    ),
                };
                spawn_listener(
                    &shutdown,
                    listener,
                    kind.key(),
                    limits,
                    move |stream, peer| server.clone().handle(stream, peer),
                );
            }
            other => unreachable!("listener {other} is in SERVED but not wired"),
        }
    }
    start_queue(
        &config,
        &stores,
        delivery.clone(),
        resolver,
        srs_key,
        &shutdown,
    )?;
    write_listeners_file(&config.data_dir, &bound)?;
    announce(&config, &bound, first_start && !from_file);

    wait_for_signal().await;
    tracing::info!("shutting down: no new connections, finishing in-flight work");
    shutdown.trigger();
    shutdown.drained().await;
    // ID-11: the last logins of the drained sessions are written before the database closes.
    audit.flush().await;
    stores.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Starts the outbound queue's workers (issue 6) in a tracked task: they deliver through the
/// SMTP client, asking the `[dns]` resolver, until shutdown lets in-flight attempts finish.
fn start_queue(
    config: &Config,
    stores: &postwerk_store::Stores,
    delivery: Delivery,
    resolver: Arc<dyn postwerk_dns::Resolver>,
    srs_key: Vec<u8>,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let q = &config.queue;
    let client = postwerk_smtp::client::ClientConfig {
        remote_port: u16::try_from(q.remote_port).context("queue.remote_port")?,
        sts_port: u16::try_from(q.mta_sts_port).context("queue.mta_sts_port")?,
        extra_roots: match &q.tls_ca_file {
            Some(file) => extra_roots(file)?,
            None => Vec::new(),
        },
        ..postwerk_smtp::client::ClientConfig::new(config.hostname.clone(), resolver)
    };
    let transport = Arc::new(postwerk_smtp::client::SmtpTransport::new(client));
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let queue_config = postwerk_queue::QueueConfig {
        workers: count(q.workers),
        per_domain: count(q.per_domain),
        retry: q.retry.iter().map(|s| Duration::from_secs(*s)).collect(),
        delay_notice: Duration::from_secs(q.delay_notice),
        give_up: Duration::from_secs(q.give_up),
        hostname: config.hostname.clone(),
        srs_secret: srs_key,
        srs_domain: config.hostname.clone(),
        ..postwerk_queue::QueueConfig::default()
    };
    let queue = postwerk_queue::Queue::new(
        stores.queue.clone(),
        delivery,
        transport,
        Arc::new(postwerk_queue::SystemClock),
        queue_config,
    );
    shutdown.tracker().spawn(queue.run(shutdown.clone()));
    Ok(())
}

/// The CA certificates of `[queue] tls_ca_file`, trusted for MTA-STS besides the system's.
fn extra_roots(file: &Path) -> anyhow::Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let roots = rustls_pki_types::CertificateDer::pem_file_iter(file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("queue.tls_ca_file: cannot read {}", file.display()))?;
    if roots.is_empty() {
        anyhow::bail!(
            "queue.tls_ca_file: {} holds no PEM certificate",
            file.display()
        );
    }
    Ok(roots)
}

/// The key of SRS addresses (issue 6 item 7): random, made at first start, kept in the data
/// folder, because a bounce may come back days after the forward that it answers.
fn srs_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(SRS_KEY_FILE);
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 16 => return Ok(key),
        Ok(_) => anyhow::bail!(
            "{} is too short; remove it to make a new one",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    let mut key = vec![0u8; 32];
    rand::fill(&mut key[..]);
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(&key)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

/// The connection limits of one listener.
struct ListenerLimits {
    /// Sessions served at once.
    max_connections: u64,
    /// The per-address count of the listener's protocol.
    per_address: Arc<AddressLimits>,
    /// The line a client over its share reads before the connection closes.
    busy: Option<&'static [u8]>,
}

/// Issue 10: the per-address connection counts, one per protocol, shared by its listeners.
struct PerAddress {
    smtp: Arc<AddressLimits>,
    imap: Arc<AddressLimits>,
    pop3: Arc<AddressLimits>,
}

impl PerAddress {
    fn new(config: &Config) -> PerAddress {
        let limits = |max: u64| AddressLimits::new(usize::try_from(max).unwrap_or(usize::MAX));
        PerAddress {
            smtp: limits(config.smtp.max_connections_per_address),
            imap: limits(config.imap.max_connections_per_address),
            pop3: limits(config.pop3.max_connections_per_address),
        }
    }
}

/// Serves `listener` in a tracked task, at most `max_connections` sessions at once, each run
/// by `session`.
fn spawn_listener<F, Fut>(
    shutdown: &Shutdown,
    listener: TcpListener,
    protocol: &'static str,
    limits: ListenerLimits,
    session: F,
) where
    F: Fn(tokio::net::TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let options = ServeOptions {
        protocol,
        max_connections: usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
        per_address: Some(limits.per_address),
        busy: limits.busy,
    };
    shutdown.tracker().spawn(postwerk_net::serve(
        listener,
        options,
        shutdown.clone(),
        session,
    ));
}

/// The `[smtp]` table as the SMTP server's limits.
fn smtp_limits(config: &Config) -> Limits {
    let c = &config.smtp;
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Limits {
        max_message_size: size(c.max_message_size),
        max_recipients: size(c.max_recipients),
        max_line_length: size(c.max_line_length),
        max_errors: u32::try_from(c.max_errors).unwrap_or(u32::MAX),
        max_commands: u32::try_from(c.max_commands).unwrap_or(u32::MAX),
        idle_timeout: Duration::from_secs(c.idle_timeout),
        session_timeout: Duration::from_secs(c.session_timeout),
    }
}

/// The `[imap]` table as the IMAP server's limits.
fn imap_limits(config: &Config) -> ImapLimits {
    let c = &config.imap;
    ImapLimits {
        max_line_length: usize::try_from(c.max_line_length).unwrap_or(usize::MAX),
        max_literal: c.max_literal,
        max_errors: u32::try_from(c.max_errors).unwrap_or(u32::MAX),
        login_timeout: Duration::from_secs(c.login_timeout),
        idle_timeout: Duration::from_secs(c.idle_timeout),
    }
}

/// The `[pop3]` table as the POP3 server's limits.
fn pop3_limits(config: &Config) -> Pop3Limits {
    let c = &config.pop3;
    Pop3Limits {
        max_line_length: usize::try_from(c.max_line_length).unwrap_or(usize::MAX),
        max_errors: u32::try_from(c.max_errors).unwrap_or(u32::MAX),
        idle_timeout: Duration::from_secs(c.idle_timeout),
    }
}

/// The `[queue]` limits of SND-6.
fn send_policy(config: &Config) -> postwerk_core::SendPolicy {
    let limit = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    postwerk_core::SendPolicy {
        per_mailbox: limit(config.queue.mailbox_hourly_limit),
        per_organization: limit(config.queue.organization_hourly_limit),
    }
}

/// The `[auth]` table as the login failure policy.
fn failure_policy(config: &Config) -> FailurePolicy {
    let c = &config.auth;
    FailurePolicy {
        free_failures: u32::try_from(c.free_failures).unwrap_or(u32::MAX),
        delay_step: Duration::from_secs(c.delay_step),
        max_delay: Duration::from_secs(c.max_delay),
        lockout_after: u32::try_from(c.lockout_after).unwrap_or(u32::MAX),
        lockout: Duration::from_secs(c.lockout),
    }
}

/// Records the addresses actually bound (ports may be 0 in tests) in `run/listeners.json`.
fn write_listeners_file(
    data_dir: &Path,
    bound: &BTreeMap<String, SocketAddr>,
) -> anyhow::Result<()> {
    let dir = data_dir.join("run");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("listeners.json");
    let tmp = dir.join("listeners.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(bound)?)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn announce(config: &Config, bound: &BTreeMap<String, SocketAddr>, first_start: bool) {
    println!(
        "postwerk {} serving {}",
        env!("CARGO_PKG_VERSION"),
        config.hostname
    );
    println!("  data folder: {}", config.data_dir.display());
    for (key, addr) in bound {
        println!("  {key:<12} {addr}");
    }
    if first_start {
        println!();
        println!(
            "First start without a configuration file: a self-signed certificate was made for"
        );
        println!(
            "{} and listeners are on loopback only. Next steps:",
            config.hostname
        );
        println!(
            "  postwerk quickstart example.com      # organization, domain, owner, first mailbox"
        );
        println!(
            "  curl http://{}/healthz",
            bound
                .get("http")
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        println!("  see docs/CONFIG.md to use the standard ports and a real certificate");
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// ID-11: once a day (and at start), entries older than `[audit] retention_days` are deleted;
/// 0 keeps them forever.
fn spawn_audit_pruning(config: &Config, stores: &postwerk_store::Stores, shutdown: &Shutdown) {
    const DAY: Duration = Duration::from_secs(86_400);
    let days = config.audit.retention_days;
    if days == 0 {
        return;
    }
    let identity = stores.identity.clone();
    let stop = shutdown.clone();
    shutdown.tracker().spawn(async move {
        loop {
            let keep = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
            let before = chrono::Utc::now().timestamp().saturating_sub(keep);
            match identity.prune_audit(before).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, days, "old audit log entries deleted"),
                Err(error) => tracing::warn!(%error, "the audit log could not be pruned"),
            }
            tokio::select! {
                () = stop.triggered() => return,
                () = tokio::time::sleep(DAY) => {}
            }
        }
    });
}

/// ID-12: the SMS gateway `[sms]` chose.
pub(crate) fn sms_gateway(
    config: &Config,
    stores: &postwerk_store::Stores,
) -> anyhow::Result<Arc<dyn postwerk_core::SmsGateway>> {
    Ok(match &config.sms {
        crate::config::SmsConfig::Outbox => {
            Arc::new(postwerk_core::OutboxGateway::new(stores.identity.clone()))
        }
        crate::config::SmsConfig::Webhook(webhook) => Arc::new(
            postwerk_core::WebhookGateway::new(webhook.clone())
                .context("cannot set up the SMS webhook")?,
        ),
    })
}

/// The Manager's REST API (issue 8) and the pages (issue 11): directory use cases that send
/// invitations through the delivery path, sign-ins counted by the mail protocols' failure
/// limiter, and webmail sending through the same delivery path as SMTP submission.
fn manager_api(
    config: &Config,
    stores: &postwerk_store::Stores,
    delivery: &Delivery,
    auth: &Arc<MailboxAuth>,
    resolver: &Arc<dyn postwerk_dns::Resolver>,
    audit: &postwerk_core::Audit,
    sms: Arc<dyn postwerk_core::SmsGateway>,
) -> postwerk_web::ApiState {
    let mailer: Arc<dyn postwerk_core::Mailer> = Arc::new(postwerk_core::DeliveryMailer::new(
        delivery.clone(),
        config.hostname.clone(),
    ));
    let admin = postwerk_core::Admin::from_stores(stores)
        .with_mailer(mailer.clone())
        .with_public_url(config.public_url())
        .with_audit(audit.clone());
    let identity = postwerk_core::Identity::new(stores, audit.clone());
    let notifier = postwerk_core::Notifier::new(Some(mailer), sms);
    let recovery = postwerk_core::Recovery::new(
        stores,
        identity.clone(),
        notifier,
        audit.clone(),
        auth.limiter().clone(),
    );
    let services = postwerk_web::IdentityServices {
        identity,
        recovery,
        audit: audit.clone(),
        mailbox_auth: auth.clone(),
        directory: stores.directory.clone(),
    };
    postwerk_web::ApiState::new(
        admin,
        postwerk_core::ManagerAuth::new(
            stores.directory.clone(),
            stores.manager.clone(),
            stores.identity.clone(),
            auth.limiter().clone(),
        )
        .with_audit(audit.clone()),
        services,
        config.hostname.clone(),
        resolver.clone(),
        config.http.secure_cookies,
    )
    .with_webmail(postwerk_core::Webmail::new(postwerk_core::WebmailParts {
        directory: stores.directory.clone(),
        mail: stores.mail.clone(),
        manager: stores.manager.clone(),
        blobs: stores.blobs.clone(),
        delivery: delivery.clone(),
        hostname: config.hostname.clone(),
        public_url: config.public_url(),
    }))
}
