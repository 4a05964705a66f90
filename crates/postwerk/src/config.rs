//! The configuration file (TOML). Every key, its meaning and its default are documented in
//! `docs/CONFIG.md`; keep the two in step.
//!
//! Parsing walks the TOML table by hand instead of `#[serde(deny_unknown_fields)]` so that every
//! mistake in a file is reported at once, each with its key path (an administrator fixing a
//! file one error per restart is a bad afternoon).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

/// Default data folder when neither the file nor `--data-dir` says otherwise (OPS-1).
pub const DEFAULT_DATA_DIR: &str = "./postwerk-data";
/// Default hostname announced in greetings and used for the self-signed certificate.
pub const DEFAULT_HOSTNAME: &str = "mail.example.test";

/// The listeners, by configuration key, with their loopback defaults (SPEC OPS-1).
pub const LISTENERS: [(&str, &str); 8] = [
    ("smtp", "127.0.0.1:2525"),
    ("submission", "127.0.0.1:2587"),
    ("submissions", "127.0.0.1:2465"),
    ("imap", "127.0.0.1:2143"),
    ("imaps", "127.0.0.1:2993"),
    ("pop3", "127.0.0.1:2110"),
    ("pop3s", "127.0.0.1:2995"),
    ("http", "127.0.0.1:8080"),
];

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, the default on a terminal.
    Human,
    /// One JSON object per event, for log collectors.
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name announced by every protocol and put in the self-signed certificate (PROTO-5).
    pub hostname: String,
    /// Where the database, blobs, certificate and run files live.
    pub data_dir: PathBuf,
    /// Listener key → address. A key absent from a file's `[listen]` table is disabled; without a
    /// `[listen]` table at all every listener takes its default.
    pub listen: BTreeMap<String, SocketAddr>,
    /// Certificate and key files; `None` means a generated self-signed certificate.
    pub tls: Option<TlsFiles>,
    /// Log format and default filter (overridden by `RUST_LOG`).
    pub log: LogConfig,
    /// SMTP session limits (`[smtp]`).
    pub smtp: SmtpConfig,
    /// POP3 session limits (`[pop3]`).
    pub pop3: Pop3Config,
    /// IMAP session limits (`[imap]`).
    pub imap: ImapConfig,
    /// Login failure limits shared by SMTP, IMAP and POP3 (`[auth]`).
    pub auth: AuthConfig,
    /// The resolver outbound delivery asks (`[dns]`).
    pub dns: DnsConfig,
    /// Outbound delivery (`[queue]`).
    pub queue: QueueConfig,
    /// The checks on incoming mail (`[greylist]`, `[dnsbl]`, `[attachments]`, `[auth]`).
    pub filters: postwerk_filter::FilterConfig,
    /// The store's memory (`[store]`).
    pub store: StoreConfig,
    /// The Manager's web side (`[http]`).
    pub http: HttpConfig,
    /// How text messages leave (`[sms]`, ID-12).
    pub sms: SmsConfig,
    /// How long the audit log keeps entries (`[audit]`, ID-11).
    pub audit: AuditConfig,
}

/// The `[sms]` table: the SMS side of the notifier (ID-12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SmsConfig {
    /// Written to the outbox, read with `postwerk admin notifications list` (the default).
    #[default]
    Outbox,
    /// POSTed to an SMS provider.
    Webhook(postwerk_core::WebhookConfig),
}

/// The `[audit]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// Entries older than this many days are deleted (once a day); 0 keeps them forever.
    pub retention_days: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: 365,
        }
    }
}

/// The `[dns]` table: which resolver outbound delivery asks, and how it learns DNSSEC status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Servers to ask; empty: the system resolver (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// `validate` (in process), `trust-ad` (a local validating resolver's AD bit) or `off`.
    pub dnssec: postwerk_dns::DnssecMode,
    /// Seconds per query.
    pub timeout: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            dnssec: postwerk_dns::DnssecMode::default(),
            timeout: 5,
        }
    }
}

/// The `[queue]` table: outbound delivery (SND-3, SND-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// The port dialled on MX hosts (25; tests aim it at a loopback peer).
    pub remote_port: u64,
    /// Deliveries in progress at once.
    pub workers: u64,
    /// Connections at once to one destination domain.
    pub per_domain: u64,
    /// Seconds between attempts, in order; the last step repeats.
    pub retry: Vec<u64>,
    /// Seconds undelivered before the sender is warned (SND-4: 4 hours).
    pub delay_notice: u64,
    /// Seconds undelivered before the queue gives up and returns the message (SND-4: 3 days).
    pub give_up: u64,
    /// SND-6: outside recipients per mailbox per hour; 0: no limit.
    pub mailbox_hourly_limit: u64,
    /// The port MTA-STS policies are fetched from (443; tests aim it at a loopback server).
    pub mta_sts_port: u64,
    /// Extra CA certificates (PEM) trusted for MTA-STS, besides the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// SND-6: outside recipients per organization per hour; 0: no limit.
    pub organization_hourly_limit: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            remote_port: 25,
            workers: 16,
            per_domain: 4,
            retry: vec![60, 300, 900, 1800, 3600, 7200, 14400],
            delay_notice: 4 * 3600,
            give_up: 3 * 86400,
            mailbox_hourly_limit: 300,
            mta_sts_port: 443,
            tls_ca_file: None,
            organization_hourly_limit: 3000,
        }
    }
}

/// The `[http]` table: how the Manager's API and pages are reached from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The address people open, e.g. `https://mail.example.com` (invitation links point
    /// there); `None`: `https://` and the configured `hostname`.
    pub public_url: Option<String>,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Keep it on unless the API is
    /// only reached over plain HTTP on a trusted network.
    pub secure_cookies: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            public_url: None,
            secure_cookies: true,
        }
    }
}

impl Config {
    /// Where invitation links and other links sent to people point (no trailing slash).
    pub fn public_url(&self) -> String {
        match &self.http.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{}", self.hostname),
        }
    }
}

/// The `[store]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Octets of memory for the folder cache that IMAP FETCH reads (flags, sizes, dates,
    /// rendered ENVELOPE and BODYSTRUCTURE per message), shared by all sessions; 0 disables it.
    pub cache_size: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_size: postwerk_store::DEFAULT_CACHE_BYTES as u64,
        }
    }
}

/// The `[smtp]` table: limits of every SMTP session (RCV-7, RCV-11), all three listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Largest message in octets, advertised with SIZE (RFC 1870).
    pub max_message_size: u64,
    /// Recipients per message (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: u64,
    /// Longest command line in octets, CRLF included (RFC 5321 §4.5.3.1.4: at least 512).
    pub max_line_length: u64,
    /// Refused commands before the session is closed with 421.
    pub max_errors: u64,
    /// Commands per session before it is closed with 421.
    pub max_commands: u64,
    /// Seconds without input before the session is closed (RFC 5321 §4.5.3.2.7: ≥ 300).
    pub idle_timeout: u64,
    /// Longest session in seconds.
    pub session_timeout: u64,
    /// Connections served at once per SMTP listener.
    pub max_connections: u64,
    /// Connections per client address (IPv6: per /64) on the three SMTP listeners together;
    /// 0: no limit (issue 10: slow clients cannot starve others).
    pub max_connections_per_address: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_line_length: 4096,
            max_errors: 20,
            max_commands: 100_000,
            idle_timeout: 300,
            session_timeout: 3600,
            max_connections: 1000,
            max_connections_per_address: 50,
        }
    }
}

/// The `[pop3]` table: limits of every POP3 session, both listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Config {
    /// Longest command line in octets, CRLF included (RFC 2449 §4: commands up to 255).
    pub max_line_length: u64,
    /// Bad commands (unknown, malformed, out of state) before the session is closed.
    pub max_errors: u64,
    /// Seconds without a command before the session is closed without deleting anything
    /// (RFC 1939 §3: an autologout timer of at least 10 minutes).
    pub idle_timeout: u64,
    /// Connections served at once per POP3 listener.
    pub max_connections: u64,
    /// Connections per client address on both POP3 listeners together; 0: no limit.
    pub max_connections_per_address: u64,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            max_line_length: 2048,
            max_errors: 20,
            idle_timeout: 600,
            max_connections: 1000,
            max_connections_per_address: 50,
        }
    }
}

/// The `[imap]` table: limits of every IMAP session, both listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    /// Longest command line in octets, literals not included.
    pub max_line_length: u64,
    /// Largest literal in octets, hence largest APPEND (advertised as APPENDLIMIT, RFC 7889).
    pub max_literal: u64,
    /// Bad commands before the session is closed with BYE.
    pub max_errors: u64,
    /// Seconds without a command before login.
    pub login_timeout: u64,
    /// Seconds without a command once logged in (RFC 9051 §5.4: at least 30 minutes).
    pub idle_timeout: u64,
    /// Connections served at once per IMAP listener.
    pub max_connections: u64,
    /// Connections per client address on both IMAP listeners together (a mail program keeps
    /// several per account, and one office address may hold many accounts); 0: no limit.
    pub max_connections_per_address: u64,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            max_line_length: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_errors: 50,
            login_timeout: 60,
            idle_timeout: 30 * 60,
            max_connections: 10_000,
            max_connections_per_address: 200,
        }
    }
}

/// The `[auth]` table: how failed logins from one client address are slowed down, then
/// refused (SMTP AUTH now; IMAP and POP3 share the same counters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Failures from one address answered without delay.
    pub free_failures: u64,
    /// Seconds of delay added per further failure.
    pub delay_step: u64,
    /// Longest delay in seconds.
    pub max_delay: u64,
    /// Failures after which the address is refused.
    pub lockout_after: u64,
    /// Seconds an address stays refused; failures older than this are forgotten.
    pub lockout: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            free_failures: 3,
            delay_step: 1,
            max_delay: 5,
            lockout_after: 10,
            lockout: 900,
        }
    }
}

/// Certificate chain and private key in PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The `[log]` table.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// Every problem found in a configuration file, each with its key path.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        writeln!(
            f,
            "{count} problem{} in the configuration:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: DEFAULT_HOSTNAME.into(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: LISTENERS
                .iter()
                .map(|(key, addr)| {
                    // The defaults are literals above; a typo there is caught by a unit test.
                    (
                        key.to_string(),
                        addr.parse().expect("default listener address"),
                    )
                })
                .collect(),
            tls: None,
            log: LogConfig {
                format: LogFormat::Human,
                level: "info".into(),
            },
            smtp: SmtpConfig::default(),
            pop3: Pop3Config::default(),
            imap: ImapConfig::default(),
            auth: AuthConfig::default(),
            dns: DnsConfig::default(),
            queue: QueueConfig::default(),
            filters: postwerk_filter::FilterConfig::default(),
            store: StoreConfig::default(),
            http: HttpConfig::default(),
            sms: SmsConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors(vec![format!("{}: {e}", path.display())]))?;
        let mut config = Config::parse(&text)?;
        // Relative paths in a file are relative to the file, not to the working directory.
        let base = path.parent().unwrap_or(Path::new("."));
        if config.data_dir.is_relative() {
            config.data_dir = base.join(&config.data_dir);
        }
        if let Some(file) = &mut config.queue.tls_ca_file
            && file.is_relative()
        {
            *file = base.join(&*file);
        }
        if let Some(tls) = &mut config.tls {
            for file in [&mut tls.cert, &mut tls.key] {
                if file.is_relative() {
                    *file = base.join(&*file);
                }
            }
        }
        Ok(config)
    }

    /// Parses and validates configuration text, reporting every problem at once.
    pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigErrors(vec![format!("not valid TOML: {}", e.to_string().trim())])
        })?;
        let mut reader = Reader::default();
        let mut config = Config::default();
        reader.known(
            &table,
            "",
            &[
                "hostname",
                "data_dir",
                "listen",
                "tls",
                "log",
                "smtp",
                "pop3",
                "imap",
                "auth",
                "store",
                "http",
                "dns",
                "queue",
                "greylist",
                "dnsbl",
                "attachments",
                "rate",
                "malware",
                "spam",
                "sms",
                "audit",
            ],
        );
        if let Some(hostname) = reader.string(&table, "", "hostname") {
            match validate_hostname(&hostname) {
                Ok(()) => config.hostname = hostname.to_ascii_lowercase(),
                Err(reason) => reader.problem("hostname", reason),
            }
        }
        if let Some(dir) = reader.string(&table, "", "data_dir") {
            config.data_dir = PathBuf::from(dir);
        }
        if let Some(listen) = reader.table(&table, "", "listen") {
            config.listen.clear();
            let keys: Vec<&str> = LISTENERS.iter().map(|(key, _)| *key).collect();
            reader.known(listen, "listen", &keys);
            for key in keys {
                let Some(text) = reader.string(listen, "listen", key) else {
                    continue;
                };
                match text.parse::<SocketAddr>() {
                    Ok(addr) => {
                        config.listen.insert(key.to_string(), addr);
                    }
                    Err(_) => reader.problem(
                        &format!("listen.{key}"),
                        format!("\"{text}\" is not an address:port such as 127.0.0.1:2525"),
                    ),
                }
            }
            reader.no_shared_ports(&config.listen);
        }
        if let Some(tls) = reader.table(&table, "", "tls") {
            reader.known(tls, "tls", &["cert", "key"]);
            let cert = reader.string(tls, "tls", "cert");
            let key = reader.string(tls, "tls", "key");
            match (cert, key) {
                (Some(cert), Some(key)) => {
                    config.tls = Some(TlsFiles {
                        cert: cert.into(),
                        key: key.into(),
                    })
                }
                (None, None) => {}
                _ => reader.problem("tls", "set both tls.cert and tls.key, or neither".into()),
            }
        }
        if let Some(log) = reader.table(&table, "", "log") {
            reader.known(log, "log", &["format", "level"]);
            match reader.string(log, "log", "format").as_deref() {
                None | Some("human") => {}
                Some("json") => config.log.format = LogFormat::Json,
                Some(other) => reader.problem(
                    "log.format",
                    format!("\"{other}\" is not a log format; use \"human\" or \"json\""),
                ),
            }
            if let Some(level) = reader.string(log, "log", "level") {
                config.log.level = level;
            }
        }
        if let Some(smtp) = reader.table(&table, "", "smtp") {
            let c = &mut config.smtp;
            let keys: [(&str, &mut u64, u64); 9] = [
                ("max_message_size", &mut c.max_message_size, 1),
                ("max_recipients", &mut c.max_recipients, 1),
                ("max_line_length", &mut c.max_line_length, 512),
                ("max_errors", &mut c.max_errors, 1),
                ("max_commands", &mut c.max_commands, 1),
                ("idle_timeout", &mut c.idle_timeout, 1),
                ("session_timeout", &mut c.session_timeout, 1),
                ("max_connections", &mut c.max_connections, 1),
                (
                    "max_connections_per_address",
                    &mut c.max_connections_per_address,
                    0,
                ),
            ];
            reader.numbers(smtp, "smtp", keys);
        }
        if let Some(pop3) = reader.table(&table, "", "pop3") {
            let c = &mut config.pop3;
            let keys: [(&str, &mut u64, u64); 5] = [
                ("max_line_length", &mut c.max_line_length, 255),
                ("max_errors", &mut c.max_errors, 1),
                ("idle_timeout", &mut c.idle_timeout, 1),
                ("max_connections", &mut c.max_connections, 1),
                (
                    "max_connections_per_address",
                    &mut c.max_connections_per_address,
                    0,
                ),
            ];
            reader.numbers(pop3, "pop3", keys);
        }
        if let Some(imap) = reader.table(&table, "", "imap") {
            let c = &mut config.imap;
            let keys: [(&str, &mut u64, u64); 7] = [
                // RFC 7162 §4: lines of at least 8192 octets.
                ("max_line_length", &mut c.max_line_length, 8192),
                ("max_literal", &mut c.max_literal, 1024),
                ("max_errors", &mut c.max_errors, 1),
                ("login_timeout", &mut c.login_timeout, 1),
                // RFC 9051 §5.4: the autologout timer is at least 30 minutes.
                ("idle_timeout", &mut c.idle_timeout, 1800),
                ("max_connections", &mut c.max_connections, 1),
                (
                    "max_connections_per_address",
                    &mut c.max_connections_per_address,
                    0,
                ),
            ];
            reader.numbers(imap, "imap", keys);
        }
        if let Some(auth) = reader.table(&table, "", "auth") {
            // The message checks' keys are read by `filters`; the rest are numbers.
            let mut auth = auth.clone();
            auth.remove("enabled");
            auth.remove("spf_fail");
            let auth = &auth;
            let c = &mut config.auth;
            let keys: [(&str, &mut u64, u64); 5] = [
                ("free_failures", &mut c.free_failures, 0),
                ("delay_step", &mut c.delay_step, 0),
                ("max_delay", &mut c.max_delay, 0),
                ("lockout_after", &mut c.lockout_after, 1),
                ("lockout", &mut c.lockout, 0),
            ];
            reader.numbers(auth, "auth", keys);
        }
        if let Some(dns) = reader.table(&table, "", "dns") {
            reader.dns(dns, &mut config.dns);
        }
        if let Some(queue) = reader.table(&table, "", "queue") {
            reader.queue(queue, &mut config.queue);
        }
        reader.filters(&table, &mut config.filters);
        if let Some(store) = reader.table(&table, "", "store") {
            let keys: [(&str, &mut u64, u64); 1] =
                [("cache_size", &mut config.store.cache_size, 0)];
            reader.numbers(store, "store", keys);
        }
        if let Some(http) = reader.table(&table, "", "http") {
            reader.known(http, "http", &["public_url", "secure_cookies"]);
            if let Some(url) = reader.string(http, "http", "public_url") {
                if url.starts_with("https://") || url.starts_with("http://") {
                    config.http.public_url = Some(url);
                } else {
                    reader.problem(
                        "http.public_url",
                        "must start with https:// (or http:// on a trusted network)".into(),
                    );
                }
            }
            if let Some(secure) = reader.boolean(http, "http", "secure_cookies") {
                config.http.secure_cookies = secure;
            }
        }
        if let Some(sms) = reader.table(&table, "", "sms") {
            reader.sms(sms, &mut config.sms);
        }
        if let Some(audit) = reader.table(&table, "", "audit") {
            let keys: [(&str, &mut u64, u64); 1] =
                [("retention_days", &mut config.audit.retention_days, 0)];
            reader.numbers(audit, "audit", keys);
        }
        if reader.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(reader.problems))
        }
    }
}

/// `"30s"`, `"5m"`, `"2h"`, `"36d"`: a number and a unit.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    number.checked_mul(unit).map(Duration::from_secs)
}

/// RFC 1123 §2.1 host name: dot-separated LDH labels.
fn validate_hostname(name: &str) -> Result<(), String> {
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(valid_label) {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid host name (letters, digits, '-' and dots)"
        ))
    }
}

/// Collects problems while extracting typed values.
#[derive(Default)]
struct Reader {
    problems: Vec<String>,
}

impl Reader {
    fn problem(&mut self, path: &str, reason: String) {
        self.problems.push(format!("{path}: {reason}"));
    }

    /// `[sms] gateway = "outbox" | "webhook"`, and the webhook's `webhook_url`,
    /// `webhook_body` (with `{phone}` and `{text}`), `webhook_content_type`,
    /// `webhook_authorization`.
    fn sms(&mut self, table: &Table, sms: &mut SmsConfig) {
        self.known(
            table,
            "sms",
            &[
                "gateway",
                "webhook_url",
                "webhook_body",
                "webhook_content_type",
                "webhook_authorization",
            ],
        );
        let gateway = self.string(table, "sms", "gateway");
        match gateway.as_deref() {
            None | Some("outbox") => *sms = SmsConfig::Outbox,
            Some("webhook") => {
                let Some(url) = self.string(table, "sms", "webhook_url") else {
                    self.problem(
                        "sms.webhook_url",
                        "is required when sms.gateway is \"webhook\"".into(),
                    );
                    return;
                };
                let config = postwerk_core::WebhookConfig {
                    url,
                    body_template: self
                        .string(table, "sms", "webhook_body")
                        .unwrap_or_else(|| r#"{"to": "{phone}", "text": "{text}"}"#.to_owned()),
                    content_type: self
                        .string(table, "sms", "webhook_content_type")
                        .unwrap_or_else(|| "application/json".to_owned()),
                    authorization: self.string(table, "sms", "webhook_authorization"),
                };
                match postwerk_core::WebhookGateway::new(config.clone()) {
                    Ok(_) => *sms = SmsConfig::Webhook(config),
                    Err(error) => self.problem("sms.webhook_url", error.to_string()),
                }
            }
            Some(_) => self.problem("sms.gateway", "must be \"outbox\" or \"webhook\"".into()),
        }
    }

    fn known(&mut self, table: &Table, prefix: &str, keys: &[&str]) {
        for key in table.keys() {
            if !keys.contains(&key.as_str()) {
                let path = join(prefix, key);
                self.problem(
                    &path,
                    format!("unknown key (known here: {})", keys.join(", ")),
                );
            }
        }
    }

    fn string(&mut self, table: &Table, prefix: &str, key: &str) -> Option<String> {
        match table.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                let kind = other.type_str();
                self.problem(
                    &join(prefix, key),
                    format!("expected a string, found {kind}"),
                );
                None
            }
        }
    }

    /// Reads the integer keys of a table, each at least its minimum; lists the keys as the
    /// known ones so a misspelt key is reported.
    fn numbers<const N: usize>(
        &mut self,
        table: &Table,
        prefix: &str,
        keys: [(&str, &mut u64, u64); N],
    ) {
        let names: Vec<&str> = keys.iter().map(|(key, _, _)| *key).collect();
        self.known(table, prefix, &names);
        for (key, slot, min) in keys {
            let Some(value) = table.get(key) else {
                continue;
            };
            match value {
                Value::Integer(n) if *n >= 0 && (*n as u64) >= min => *slot = *n as u64,
                Value::Integer(n) => self.problem(
                    &join(prefix, key),
                    format!("{n} is too small; the least accepted is {min}"),
                ),
                other => {
                    let kind = other.type_str();
                    self.problem(
                        &join(prefix, key),
                        format!("expected an integer, found {kind}"),
                    );
                }
            }
        }
    }

    /// The `[dns]` table.
    fn dns(&mut self, table: &Table, config: &mut DnsConfig) {
        self.known(table, "dns", &["servers", "dnssec", "timeout"]);
        if let Some(servers) = self.strings(table, "dns", "servers") {
            config.servers.clear();
            for text in servers {
                match text.parse::<SocketAddr>() {
                    Ok(addr) => config.servers.push(addr),
                    Err(_) => self.problem(
                        "dns.servers",
                        format!("\"{text}\" is not an address:port such as 127.0.0.1:53"),
                    ),
                }
            }
        }
        match self.string(table, "dns", "dnssec").as_deref() {
            None => {}
            Some("validate") => config.dnssec = postwerk_dns::DnssecMode::Validate,
            Some("trust-ad") => config.dnssec = postwerk_dns::DnssecMode::TrustAd,
            Some("off") => config.dnssec = postwerk_dns::DnssecMode::Off,
            Some(other) => self.problem(
                "dns.dnssec",
                format!("\"{other}\" is not a mode; use \"validate\", \"trust-ad\" or \"off\""),
            ),
        }
        if let Some(Value::Integer(n)) = table.get("timeout") {
            if *n >= 1 {
                config.timeout = *n as u64;
            } else {
                self.problem(
                    "dns.timeout",
                    format!("{n} is too small; the least accepted is 1"),
                );
            }
        } else if table.contains_key("timeout") {
            self.problem("dns.timeout", "expected an integer (seconds)".into());
        }
    }

    /// The `[queue]` table.
    fn queue(&mut self, table: &Table, config: &mut QueueConfig) {
        let mut scalars = table.clone();
        if let Some(file) = scalars.remove("tls_ca_file") {
            match file {
                Value::String(path) => config.tls_ca_file = Some(PathBuf::from(path)),
                other => self.problem(
                    "queue.tls_ca_file",
                    format!("expected a path, found {}", other.type_str()),
                ),
            }
        }
        if let Some(retry) = scalars.remove("retry") {
            let steps: Option<Vec<u64>> = match &retry {
                Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|item| match item {
                        Value::Integer(n) if *n >= 1 => Some(*n as u64),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            match steps {
                Some(steps) => config.retry = steps,
                None => self.problem(
                    "queue.retry",
                    "expected a non-empty list of seconds, each at least 1 (e.g. [60, 300, 900])"
                        .into(),
                ),
            }
        }
        let keys: [(&str, &mut u64, u64); 8] = [
            ("remote_port", &mut config.remote_port, 1),
            ("mta_sts_port", &mut config.mta_sts_port, 1),
            ("workers", &mut config.workers, 1),
            ("per_domain", &mut config.per_domain, 1),
            ("delay_notice", &mut config.delay_notice, 1),
            ("give_up", &mut config.give_up, 1),
            ("mailbox_hourly_limit", &mut config.mailbox_hourly_limit, 0),
            (
                "organization_hourly_limit",
                &mut config.organization_hourly_limit,
                0,
            ),
        ];
        self.numbers(&scalars, "queue", keys);
        for (key, port) in [
            ("remote_port", config.remote_port),
            ("mta_sts_port", config.mta_sts_port),
        ] {
            if port > u64::from(u16::MAX) {
                self.problem(&format!("queue.{key}"), format!("{port} is not a port"));
            }
        }
        for (key, value) in [
            ("mailbox_hourly_limit", config.mailbox_hourly_limit),
            (
                "organization_hourly_limit",
                config.organization_hourly_limit,
            ),
        ] {
            if value > u64::from(u32::MAX) {
                self.problem(&format!("queue.{key}"), format!("{value} is too large"));
            }
        }
        if config.delay_notice >= config.give_up {
            self.problem(
                "queue.delay_notice",
                "must be shorter than queue.give_up, or the warning would never be sent".into(),
            );
        }
    }

    /// `[greylist]`, `[dnsbl]`, `[attachments]` and `[auth]`: the checks of SPEC §4.
    fn filters(&mut self, root: &Table, config: &mut postwerk_filter::FilterConfig) {
        if let Some(table) = self.table(root, "", "greylist") {
            self.known(
                table,
                "greylist",
                &["enabled", "delay", "expiry", "pending_expiry"],
            );
            if let Some(on) = self.boolean(table, "greylist", "enabled") {
                config.greylist = on;
            }
            if let Some(delay) = self.duration(table, "greylist", "delay") {
                config.greylist_delay = delay;
            }
            if let Some(expiry) = self.duration(table, "greylist", "expiry") {
                config.greylist_expiry = expiry;
            }
            if let Some(expiry) = self.duration(table, "greylist", "pending_expiry") {
                config.greylist_pending_expiry = expiry;
            }
        }
        if let Some(table) = self.table(root, "", "dnsbl") {
            self.known(table, "dnsbl", &["zones"]);
            if let Some(zones) = self.strings(table, "dnsbl", "zones") {
                config.dnsbl_zones = zones
                    .into_iter()
                    .map(|zone| zone.trim_end_matches('.').to_ascii_lowercase())
                    .collect();
            }
        }
        if let Some(table) = self.table(root, "", "attachments") {
            self.known(table, "attachments", &["enabled"]);
            if let Some(on) = self.boolean(table, "attachments", "enabled") {
                config.attachments = on;
            }
        }
        if let Some(table) = self.table(root, "", "auth") {
            // `[auth]` also holds the login failure limits (read by `numbers` above).
            if let Some(on) = self.boolean(table, "auth", "enabled") {
                config.auth = on;
            }
            match self.string(table, "auth", "spf_fail").as_deref() {
                None => {}
                Some("refuse") => config.spf_policy = postwerk_filter::SpfPolicy::Refuse,
                Some("mark") => config.spf_policy = postwerk_filter::SpfPolicy::Mark,
                Some(other) => self.problem(
                    "auth.spf_fail",
                    format!("\"{other}\" is not a policy; use \"refuse\" or \"mark\""),
                ),
            }
        }
        if let Some(table) = self.table(root, "", "rate") {
            self.rate(table, &mut config.rate);
        }
        if let Some(table) = self.table(root, "", "malware") {
            config.clamd = self.malware(table);
        }
        if let Some(table) = self.table(root, "", "spam") {
            self.spam(table, &mut config.spam);
        }
    }

    /// `[spam]` (RCV-4): the score from which mail goes to Junk, and from which it is refused.
    fn spam(&mut self, table: &Table, spam: &mut postwerk_filter::spam::SpamConfig) {
        self.known(
            table,
            "spam",
            &[
                "enabled",
                "junk_threshold",
                "reject_threshold",
                "rspamd_url",
                "rspamd_timeout",
                "rspamd_password",
                "learn_from_moves",
                "hold_outgoing",
                "outgoing_threshold",
            ],
        );
        if let Some(on) = self.boolean(table, "spam", "enabled") {
            spam.enabled = on;
        }
        if let Some(on) = self.boolean(table, "spam", "learn_from_moves") {
            spam.learn_from_moves = on;
        }
        if let Some(on) = self.boolean(table, "spam", "hold_outgoing") {
            spam.hold_outgoing = on;
        }
        if let Some(score) = self.score(table, "spam", "outgoing_threshold") {
            spam.outgoing_threshold = score;
        }
        if let Some(url) = self.string(table, "spam", "rspamd_url") {
            let mut rspamd = postwerk_filter::rspamd::RspamdConfig::new(url);
            if let Some(timeout) = self.duration(table, "spam", "rspamd_timeout") {
                rspamd.timeout = timeout;
            }
            rspamd.password = self.string(table, "spam", "rspamd_password");
            match rspamd.validate() {
                Ok(()) => spam.rspamd = Some(rspamd),
                Err(why) => self.problem("spam.rspamd_url", why),
            }
        }
        if let Some(junk) = self.score(table, "spam", "junk_threshold") {
            spam.junk_threshold = junk;
        }
        if let Some(reject) = self.score(table, "spam", "reject_threshold") {
            spam.reject_threshold = reject;
        }
        if spam.reject_threshold <= spam.junk_threshold {
            self.problem(
                "spam.reject_threshold",
                format!(
                    "must be above spam.junk_threshold ({}), or mail would be refused before \
                     it could go to Junk",
                    spam.junk_threshold
                ),
            );
        }
    }

    /// A spam score: a number (integer or decimal) of at least 0.
    fn score(&mut self, table: &Table, prefix: &str, key: &str) -> Option<f64> {
        let value = match table.get(key)? {
            Value::Float(f) => Some(*f),
            Value::Integer(n) => Some(*n as f64),
            _ => None,
        };
        match value {
            Some(score) if score.is_finite() && score >= 0.0 => Some(score),
            _ => {
                self.problem(
                    &join(prefix, key),
                    "expected a score such as 5 or 7.5".into(),
                );
                None
            }
        }
    }

    /// `[rate]` (RCV-8): transactions per client address and minute, per sender and hour.
    fn rate(&mut self, table: &Table, rate: &mut postwerk_filter::rate::RateConfig) {
        self.known(
            table,
            "rate",
            &[
                "enabled",
                "messages_per_minute_per_client",
                "messages_per_hour_per_sender",
            ],
        );
        if let Some(on) = self.boolean(table, "rate", "enabled") {
            rate.enabled = on;
        }
        if let Some(n) = self.count(table, "rate", "messages_per_minute_per_client") {
            rate.per_client_per_minute = n;
        }
        if let Some(n) = self.count(table, "rate", "messages_per_hour_per_sender") {
            rate.per_sender_per_hour = n;
        }
    }

    /// `[malware]` (RCV-6): the clamd to scan with; `None` when absent or disabled.
    fn malware(&mut self, table: &Table) -> Option<postwerk_filter::malware::ClamdConfig> {
        use postwerk_filter::malware::{ClamdAddress, ClamdConfig};
        self.known(
            table,
            "malware",
            &["enabled", "clamd", "timeout", "max_stream"],
        );
        let enabled = self.boolean(table, "malware", "enabled").unwrap_or(true);
        let timeout = self.duration(table, "malware", "timeout");
        let max_stream = self.count(table, "malware", "max_stream");
        let address = self.string(table, "malware", "clamd")?;
        let address = if let Some(path) = address.strip_prefix("unix:") {
            ClamdAddress::Unix(PathBuf::from(path))
        } else if let Ok(socket) = address.parse::<SocketAddr>() {
            ClamdAddress::Tcp(socket)
        } else {
            self.problem(
                "malware.clamd",
                format!(
                    "\"{address}\" is not a clamd address; write \"unix:/run/clamav/clamd.ctl\" \
                     or \"127.0.0.1:3310\""
                ),
            );
            return None;
        };
        let mut clamd = ClamdConfig::new(address);
        if let Some(timeout) = timeout {
            clamd.timeout = timeout;
        }
        if let Some(max) = max_stream {
            clamd.max_stream = u64::from(max);
        }
        enabled.then_some(clamd)
    }

    /// A non-negative integer that fits 32 bits.
    fn count(&mut self, table: &Table, prefix: &str, key: &str) -> Option<u32> {
        match table.get(key)? {
            Value::Integer(n) => match u32::try_from(*n) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(
                        &join(prefix, key),
                        format!("{n} is out of range; use 0 to {}", u32::MAX),
                    );
                    None
                }
            },
            other => {
                let kind = other.type_str();
                self.problem(
                    &join(prefix, key),
                    format!("expected an integer, found {kind}"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: &Table, prefix: &str, key: &str) -> Option<bool> {
        match table.get(key)? {
            Value::Boolean(b) => Some(*b),
            other => {
                let kind = other.type_str();
                self.problem(
                    &join(prefix, key),
                    format!("expected true or false, found {kind}"),
                );
                None
            }
        }
    }

    /// A duration written `"90s"`, `"5m"`, `"2h"` or `"36d"` (or plain seconds).
    fn duration(&mut self, table: &Table, prefix: &str, key: &str) -> Option<Duration> {
        let parsed = match table.get(key)? {
            Value::Integer(n) if *n >= 0 => Some(Duration::from_secs(*n as u64)),
            Value::String(text) => parse_duration(text),
            _ => None,
        };
        if parsed.is_none() {
            self.problem(
                &join(prefix, key),
                "expected a duration such as \"30s\", \"5m\", \"2h\" or \"36d\"".into(),
            );
        }
        parsed
    }

    /// A list of strings.
    fn strings(&mut self, table: &Table, prefix: &str, key: &str) -> Option<Vec<String>> {
        match table.get(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            let kind = other.type_str();
                            self.problem(
                                &join(prefix, key),
                                format!("expected a list of strings, found {kind} in it"),
                            );
                            return None;
                        }
                    }
                }
                Some(out)
            }
            other => {
                let kind = other.type_str();
                self.problem(
                    &join(prefix, key),
                    format!("expected a list of strings, found {kind}"),
                );
                None
            }
        }
    }

    fn table<'t>(&mut self, table: &'t Table, prefix: &str, key: &str) -> Option<&'t Table> {
        match table.get(key)? {
            Value::Table(t) => Some(t),
            other => {
                let kind = other.type_str();
                self.problem(
                    &join(prefix, key),
                    format!("expected a table, found {kind}"),
                );
                None
            }
        }
    }

    fn no_shared_ports(&mut self, listen: &BTreeMap<String, SocketAddr>) {
        let mut seen: BTreeMap<SocketAddr, &str> = BTreeMap::new();
        for (key, addr) in listen {
            if addr.port() == 0 {
                continue; // ephemeral ports, used by tests, never clash
            }
            if let Some(first) = seen.insert(*addr, key) {
                self.problem(
                    &format!("listen.{key}"),
                    format!("{addr} is already used by listen.{first}"),
                );
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_1_defaults_are_the_loopback_ports_of_the_spec() {
        let config = Config::default();
        assert_eq!(config.listen.len(), 8);
        assert_eq!(config.listen["smtp"].to_string(), "127.0.0.1:2525");
        assert_eq!(config.listen["http"].to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./postwerk-data"));
    }

    #[test]
    fn the_documented_example_parses() {
        let text = r#"
            hostname = "mail.example.test"
            data_dir = "/var/lib/postwerk"
            [listen]
            smtp = "127.0.0.1:2525"
            submission = "127.0.0.1:2587"
            submissions = "127.0.0.1:2465"
            imap = "127.0.0.1:2143"
            imaps = "127.0.0.1:2993"
            pop3 = "127.0.0.1:2110"
            pop3s = "127.0.0.1:2995"
            http = "127.0.0.1:8080"
            [log]
            format = "json"
        "#;
        let config = Config::parse(text).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/postwerk"));
        assert_eq!(config.listen.len(), 8);
        assert_eq!(config.log.format, LogFormat::Json);
    }

    #[test]
    fn an_omitted_listener_is_disabled() {
        let config = Config::parse("[listen]\nhttp = \"127.0.0.1:0\"\n").unwrap();
        assert_eq!(config.listen.keys().collect::<Vec<_>>(), ["http"]);
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key_path() {
        let text = r#"
            hostname = "not a host"
            colour = "blue"
            [listen]
            smtp = "nowhere"
            imap = 143
            [tls]
            cert = "c.pem"
            [log]
            format = "xml"
        "#;
        let errors = Config::parse(text).unwrap_err().0;
        let joined = errors.join("\n");
        for path in [
            "hostname:",
            "colour:",
            "listen.smtp:",
            "listen.imap:",
            "tls:",
            "log.format:",
        ] {
            assert!(joined.contains(path), "missing {path} in:\n{joined}");
        }
        assert_eq!(errors.len(), 6, "{joined}");
    }

    #[test]
    fn two_listeners_on_one_port_are_refused() {
        let text = "[listen]\nsmtp = \"127.0.0.1:2525\"\nimap = \"127.0.0.1:2525\"\n";
        let errors = Config::parse(text).unwrap_err().0;
        assert!(errors[0].contains("already used by"), "{errors:?}");
    }

    #[test]
    fn smtp_and_auth_limits_parse_and_are_checked() {
        let text =
            "[smtp]\nmax_message_size = 1000\nidle_timeout = 30\n[auth]\nlockout_after = 2\n";
        let config = Config::parse(text).unwrap();
        assert_eq!(config.smtp.max_message_size, 1000);
        assert_eq!(config.smtp.idle_timeout, 30);
        assert_eq!(
            config.smtp.max_recipients, 100,
            "unset keys keep their default"
        );
        assert_eq!(config.auth.lockout_after, 2);
        let bad = "[smtp]\nmax_line_length = 80\nmax_errors = \"x\"\nsize = 1\n";
        let errors = Config::parse(bad).unwrap_err().0.join("\n");
        for path in ["smtp.max_line_length:", "smtp.max_errors:", "smtp.size:"] {
            assert!(errors.contains(path), "missing {path} in:\n{errors}");
        }
    }

    #[test]
    fn imap_limits_parse_and_are_checked() {
        let config = Config::parse("[imap]\nmax_literal = 2048\nidle_timeout = 3600\n").unwrap();
        assert_eq!(config.imap.max_literal, 2048);
        assert_eq!(config.imap.idle_timeout, 3600);
        assert_eq!(Config::default().imap.idle_timeout, 1800, "RFC 9051 §5.4");
        let error = Config::parse("[imap]\nidle_timeout = 60\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("imap.idle_timeout:"), "{error}");
    }

    #[test]
    fn pop3_limits_parse_and_are_checked() {
        let config = Config::parse("[pop3]\nidle_timeout = 30\nmax_errors = 5\n").unwrap();
        assert_eq!(config.pop3.idle_timeout, 30);
        assert_eq!(config.pop3.max_errors, 5);
        assert_eq!(
            config.pop3.max_line_length, 2048,
            "unset keys keep their default"
        );
        assert_eq!(Config::default().pop3.idle_timeout, 600, "RFC 1939 §3");
        let bad = "[pop3]\nmax_line_length = 80\ntimeout = 1\n";
        let errors = Config::parse(bad).unwrap_err().0.join("\n");
        for path in ["pop3.max_line_length:", "pop3.timeout:"] {
            assert!(errors.contains(path), "missing {path} in:\n{errors}");
        }
    }

    #[test]
    fn the_store_cache_size_parses_and_zero_disables_it() {
        assert_eq!(Config::default().store.cache_size, 64 * 1024 * 1024);
        let config = Config::parse("[store]\ncache_size = 0\n").unwrap();
        assert_eq!(config.store.cache_size, 0);
        let config = Config::parse("[store]\ncache_size = 268435456\n").unwrap();
        assert_eq!(config.store.cache_size, 256 * 1024 * 1024);
        let errors = Config::parse("[store]\ncache_size = -1\ncache = 1\n")
            .unwrap_err()
            .0
            .join("\n");
        for path in ["store.cache_size:", "store.cache:"] {
            assert!(errors.contains(path), "missing {path} in:\n{errors}");
        }
    }

    #[test]
    fn invalid_toml_is_one_clear_problem() {
        let errors = Config::parse("hostname = ").unwrap_err().0;
        assert!(errors[0].starts_with("not valid TOML"), "{errors:?}");
    }

    #[test]
    fn dns_and_queue_tables_parse_with_the_fixed_keys() {
        let config = Config::parse(
            "[dns]\nservers = [\"127.0.0.1:5353\"]\ndnssec = \"trust-ad\"\n\
             [queue]\nremote_port = 2525\nretry = [1, 2]\nworkers = 3\nmta_sts_port = 8443\n\
             tls_ca_file = \"ca.pem\"\nmailbox_hourly_limit = 0\n",
        )
        .unwrap();
        assert_eq!(config.dns.servers, vec!["127.0.0.1:5353".parse().unwrap()]);
        assert_eq!(config.dns.dnssec, postwerk_dns::DnssecMode::TrustAd);
        assert_eq!(config.queue.remote_port, 2525);
        assert_eq!(config.queue.retry, vec![1, 2]);
        assert_eq!(config.queue.workers, 3);
        assert_eq!(config.queue.mta_sts_port, 8443);
        assert_eq!(config.queue.tls_ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(
            config.queue.mailbox_hourly_limit, 0,
            "0 turns the limit off"
        );
        assert_eq!(config.queue.organization_hourly_limit, 3000);
        assert_eq!(config.queue.give_up, 3 * 86400, "defaults stay");
        assert!(
            Config::default().dns.servers.is_empty(),
            "system resolver by default"
        );
    }

    #[test]
    fn dns_and_queue_mistakes_are_reported() {
        let errors = Config::parse(
            "[dns]\nservers = [\"nowhere\"]\ndnssec = \"maybe\"\n\
             [queue]\nremote_port = 70000\nretry = []\ndelay_notice = 10\ngive_up = 5\nspeed = 1\n",
        )
        .unwrap_err()
        .0;
        for key in [
            "dns.servers",
            "dns.dnssec",
            "queue.remote_port",
            "queue.retry",
            "queue.delay_notice",
            "queue.speed",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(key)),
                "{key}: {errors:?}"
            );
        }
    }

    #[test]
    fn rate_malware_sms_and_audit_tables_parse() {
        let config = Config::parse(
            "[rate]\nenabled = true\nmessages_per_minute_per_client = 5\n\
             messages_per_hour_per_sender = 0\n\
             [malware]\nclamd = \"unix:/run/clamav/clamd.ctl\"\ntimeout = \"10s\"\n\
             [sms]\ngateway = \"webhook\"\nwebhook_url = \"https://sms.example/send\"\n\
             [audit]\nretention_days = 30\n",
        )
        .unwrap();
        let rate = &config.filters.rate;
        assert!(rate.enabled);
        assert_eq!(
            (rate.per_client_per_minute, rate.per_sender_per_hour),
            (5, 0)
        );
        let clamd = config.filters.clamd.as_ref().expect("scanning configured");
        assert_eq!(
            clamd.address,
            postwerk_filter::malware::ClamdAddress::Unix(PathBuf::from("/run/clamav/clamd.ctl"))
        );
        assert_eq!(clamd.timeout, Duration::from_secs(10));
        let SmsConfig::Webhook(webhook) = &config.sms else {
            panic!("the webhook gateway: {:?}", config.sms);
        };
        assert_eq!(webhook.url, "https://sms.example/send");
        assert!(webhook.body_template.contains("{text}"), "a default body");
        assert_eq!(config.audit.retention_days, 30);

        let defaults = Config::default();
        assert!(
            defaults.filters.clamd.is_none(),
            "no scanner unless configured"
        );
        assert_eq!(defaults.sms, SmsConfig::Outbox);
        assert_eq!(defaults.audit.retention_days, 365);
        let off =
            Config::parse("[malware]\nclamd = \"127.0.0.1:3310\"\nenabled = false\n").unwrap();
        assert!(off.filters.clamd.is_none());

        let errors = Config::parse(
            "[malware]\nclamd = \"somewhere\"\n[sms]\ngateway = \"pigeon\"\n\
             [rate]\nmessages_per_minute_per_client = -1\n",
        )
        .unwrap_err()
        .0;
        for key in [
            "malware.clamd",
            "sms.gateway",
            "rate.messages_per_minute_per_client",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(key)),
                "{key}: {errors:?}"
            );
        }
        let spam = Config::parse("[spam]\njunk_threshold = 4\nreject_threshold = 12.5\n").unwrap();
        assert_eq!(spam.filters.spam.junk_threshold, 4.0);
        assert_eq!(spam.filters.spam.reject_threshold, 12.5);
        let errors = Config::parse("[spam]\njunk_threshold = 8\nreject_threshold = 6\n")
            .unwrap_err()
            .0;
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("spam.reject_threshold")),
            "{errors:?}"
        );
        let errors = Config::parse("[sms]\ngateway = \"webhook\"\n")
            .unwrap_err()
            .0;
        assert!(
            errors.iter().any(|e| e.starts_with("sms.webhook_url")),
            "{errors:?}"
        );
    }

    #[test]
    fn filter_tables_parse_with_the_fixed_keys() {
        let config = Config::parse(
            "[greylist]\nenabled = false\ndelay = \"2m\"\n[dnsbl]\nzones = [\"zen.spamhaus.org.\"]\n\
             [attachments]\nenabled = false\n[auth]\nspf_fail = \"mark\"\nlockout = 60\n",
        )
        .unwrap();
        let f = &config.filters;
        assert!(!f.greylist && !f.attachments && f.auth);
        assert_eq!(f.greylist_delay, Duration::from_secs(120));
        assert_eq!(f.dnsbl_zones, vec!["zen.spamhaus.org".to_string()]);
        assert_eq!(f.spf_policy, postwerk_filter::SpfPolicy::Mark);
        assert_eq!(config.auth.lockout, 60, "the login limits share the table");
        let defaults = Config::default().filters;
        assert!(defaults.greylist, "on by default, as at a real provider");
        assert_eq!(defaults.greylist_delay, Duration::from_secs(300));
        assert!(defaults.dnsbl_zones.is_empty());
        let errors = Config::parse("[greylist]\ndelay = \"soon\"\n[auth]\nspf_fail = \"maybe\"\n")
            .unwrap_err()
            .0;
        assert!(
            errors.iter().any(|e| e.starts_with("greylist.delay")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("auth.spf_fail")),
            "{errors:?}"
        );
        assert_eq!(parse_duration("36d"), Some(Duration::from_secs(36 * 86400)));
        assert_eq!(parse_duration("5x"), None);
    }
}
