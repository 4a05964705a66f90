//! MTA-STS (RFC 8461): a recipient domain publishes, over DNS and HTTPS, that its MX hosts speak
//! TLS with certificates a public CA vouches for, and which host names they have.
//!
//! ```text
//!  Sts::discover(domain)
//!     ├─► TXT _mta-sts.<domain>       "v=STSv1; id=…"                     §3.1
//!     ├─► cache: same id, unexpired → the cached policy                  §5.1
//!     ├─► fetch https://mta-sts.<domain>/.well-known/mta-sts.txt          §3.3
//!     │     WebPKI, 200 only, no redirects, text/plain, 64 KiB, 60 s
//!     └─► parse: version, mode, mx patterns, max_age                     §3.2
//!  apply(policy, hosts)
//!     enforce: hosts not matching a pattern are skipped (§4.1), the others need TLS with a
//!              certificate valid for their name (§4.2) — TlsPolicy::Sts; DANE hosts keep DANE
//!     testing: delivery as without a policy; what enforce would refuse is logged (§5)
//!     none:    no policy
//! ```
//!
//! Failures to find or fetch a policy never stop delivery: without a usable policy (and none
//! cached) mail goes out as if the domain had none (§3.3, §5.1). With an unexpired cached policy,
//! a failed TXT lookup or fetch keeps the cached policy in force (§5.1), so an attacker who
//! blocks the lookups cannot downgrade a domain we already know.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use postwerk_dns::Resolver;
use postwerk_queue::Outcome;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::HostPolicies;
use super::outcome::{self, status};
use super::tls::{TlsConfigs, TlsPolicy};

/// RFC 8461 §3.2: `max_age` "MUST be no greater than 31557600" (one year).
pub(crate) const MAX_AGE_LIMIT: u64 = 31_557_600;

/// RFC 8461 §3.3: policy bodies larger than this are not read (the RFC suggests 64 KiB).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// How many domains' policies are kept; beyond that, the least recently stored is dropped.
pub(crate) const CACHE_LIMIT: usize = 10_000;

/// RFC 8461 §3.3: after a failed fetch, the same policy id is not fetched again for this long
/// ("five minutes or longer per version ID"), so a broken policy server does not cost every
/// message to the domain a 60-second wait.
pub(crate) const FETCH_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// RFC 8461 §3.3: the policy's well-known path.
const WELL_KNOWN_PATH: &str = "/.well-known/mta-sts.txt";

/// What a policy asks of senders (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Deliver only to matching MX hosts over TLS with a WebPKI-valid certificate.
    Enforce,
    /// Deliver as without a policy; report (here: log) what would have failed.
    Testing,
    /// The domain withdrew its policy (§8.3): behave as without one.
    None,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed MTA-STS policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    /// What the policy asks.
    pub mode: Mode,
    /// The allowed MX host patterns, lower case, without a trailing dot; `*.example.net` matches
    /// exactly one left-most label (§4.1). Empty only in mode `none`.
    pub mx: Vec<String>,
    /// How long the policy may be cached from the time it was fetched.
    pub max_age: Duration,
}

impl Policy {
    /// Whether `host` matches one of the policy's `mx` patterns (RFC 8461 §4.1).
    pub(crate) fn matches(&self, host: &str) -> bool {
        self.mx.iter().any(|pattern| mx_matches(pattern, host))
    }

    fn patterns(&self) -> String {
        self.mx.join(", ")
    }
}

/// Whether `host` matches `pattern` (RFC 8461 §4.1): equal ignoring case and a trailing dot, or,
/// for `*.suffix`, exactly one non-empty label followed by `.suffix` ("*.example.com" matches
/// "mail.example.com" but not "example.com" nor "foo.bar.example.com").
pub(crate) fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let pattern = pattern
        .strip_suffix('.')
        .unwrap_or(pattern)
        .to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => !host.is_empty() && host == pattern,
    }
}

/// RFC 8461 §3.1: the policy id of a domain from its `_mta-sts` TXT records. Records that do not
/// begin with `v=STSv1` are not MTA-STS records and are discarded; `Ok(None)` when none is left.
/// More than one, or one that is not syntactically valid, is an `Err` (the reason, for logs):
/// either way the domain has no available policy.
pub(crate) fn parse_record(texts: &[String]) -> Result<Option<String>, String> {
    let records: Vec<&String> = texts
        .iter()
        .filter(|text| {
            text.strip_prefix("v=STSv1")
                .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(';'))
        })
        .collect();
    let record = match records.as_slice() {
        [] => return Ok(None),
        [record] => record.as_str(),
        _ => return Err(format!("{} MTA-STS TXT records, not one", records.len())),
    };
    // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
    let rest = record.strip_prefix("v=STSv1").unwrap_or_default();
    let fields: Vec<&str> = rest
        .split(';')
        .skip(1)
        .map(|field| field.trim_matches([' ', '\t']))
        .collect();
    let mut id: Option<String> = None;
    for (index, &field) in fields.iter().enumerate() {
        if field.is_empty() {
            // Only the optional trailing delimiter, after at least one field, leaves one empty.
            if index > 0 && index == fields.len() - 1 {
                continue;
            }
            return Err(format!("empty field in {record:?}"));
        }
        let Some((name, value)) = field.split_once('=') else {
            return Err(format!("field without '=' in {record:?}"));
        };
        if name == "id" {
            // sts-id = %s"id=" 1*32(ALPHA / DIGIT)
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|byte| byte.is_ascii_alphanumeric())
            {
                return Err(format!("invalid id in {record:?}"));
            }
            // §3.2: a duplicated field after the first is ignored.
            id.get_or_insert_with(|| value.to_string());
        } else if !ext_name_ok(name) || value.is_empty() || !value.bytes().all(ext_value_byte) {
            return Err(format!("invalid field {field:?}"));
        }
    }
    match id {
        Some(id) => Ok(Some(id)),
        None => Err(format!("no id in {record:?}")),
    }
}

/// sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") (§3.1, §3.2).
fn ext_name_ok(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
}

/// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible characters but "=" and ";" (§3.1).
fn ext_value_byte(byte: u8) -> bool {
    matches!(byte, 0x21..=0x3a | 0x3c | 0x3e..=0x7e)
}

/// Whether `name` is an RFC 5321 `Domain` (LDH labels of 1 to 63 characters, not starting or
/// ending with a hyphen, at most 253 characters).
fn domain_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

/// Parses a policy body (RFC 8461 §3.2): `key: value` lines ended by LF or CRLF. `version:
/// STSv1`, `mode` and `max_age` are required, and at least one `mx` unless the mode is `none`;
/// a repeated field other than `mx` counts once (the first); unknown fields are ignored. Blank
/// lines are tolerated. Anything else that is not the grammar makes the whole policy invalid,
/// which the caller treats as "no policy" (§3.3).
pub(crate) fn parse_policy(text: &str) -> Result<Policy, String> {
    let mut version: Option<&str> = None;
    let mut mode: Option<&str> = None;
    let mut max_age: Option<&str> = None;
    let mut mx: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_matches([' ', '\t']).is_empty() {
            continue;
        }
        // sts-policy-field-delim = ":" *WSP; the field may be followed by *WSP.
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("line without ':': {line:?}"));
        };
        let value = value.trim_matches([' ', '\t']);
        if !ext_name_ok(key) {
            return Err(format!("invalid field name {key:?}"));
        }
        if value.is_empty() || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("invalid value for {key}"));
        }
        match key {
            "version" => {
                version.get_or_insert(value);
            }
            "mode" => {
                mode.get_or_insert(value);
            }
            "max_age" => {
                max_age.get_or_insert(value);
            }
            "mx" => {
                // sts-policy-mx-value = ["*."] Domain
                let name = value.to_ascii_lowercase();
                let name = name.strip_suffix('.').unwrap_or(&name).to_string();
                let domain = name.strip_prefix("*.").unwrap_or(&name);
                if !domain_ok(domain) {
                    return Err(format!("invalid mx pattern {value:?}"));
                }
                if !mx.contains(&name) {
                    mx.push(name);
                }
            }
            // §3.2: unknown fields are ignored.
            _ => {}
        }
    }
    match version {
        Some("STSv1") => {}
        Some(other) => return Err(format!("unsupported version {other:?}")),
        None => return Err("no version field".to_string()),
    }
    let mode = match mode {
        Some("enforce") => Mode::Enforce,
        Some("testing") => Mode::Testing,
        Some("none") => Mode::None,
        Some(other) => return Err(format!("unknown mode {other:?}")),
        None => return Err("no mode field".to_string()),
    };
    // sts-policy-max-age-value = 1*10(DIGIT)
    let max_age = match max_age {
        Some(value)
            if (1..=10).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let seconds: u64 = value
                .parse()
                .map_err(|_| format!("invalid max_age {value:?}"))?;
            if seconds > MAX_AGE_LIMIT {
                return Err(format!("max_age {seconds} exceeds {MAX_AGE_LIMIT}"));
            }
            Duration::from_secs(seconds)
        }
        Some(value) => return Err(format!("invalid max_age {value:?}")),
        None => return Err("no max_age field".to_string()),
    };
    // A policy that enforces or tests needs hosts to match; "none" (the way to withdraw a policy,
    // §8.3) is accepted without them so that it can replace a cached "enforce".
    if mx.is_empty() && mode != Mode::None {
        return Err("no mx field".to_string());
    }
    Ok(Policy { mode, mx, max_age })
}

/// A policy as cached: with the id it was published under and when it expires.
#[derive(Debug, Clone)]
struct Cached {
    id: String,
    policy: Arc<Policy>,
    expires: Instant,
}

/// What is known about one domain.
#[derive(Debug)]
struct Entry {
    /// The last policy fetched, while it has not expired.
    current: Option<Cached>,
    /// A policy id whose fetch failed, and until when it is not fetched again.
    failed: Option<(String, Instant)>,
    /// When the entry was last written, for eviction.
    touched: Instant,
}

/// Policy discovery with its per-domain cache, shared by every delivery of a transport.
#[derive(Debug)]
pub(crate) struct Sts {
    entries: Mutex<HashMap<String, Entry>>,
    limit: usize,
}

impl Default for Sts {
    fn default() -> Sts {
        Sts::with_limit(CACHE_LIMIT)
    }
}

/// What discovery needs besides the domain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fetcher<'a> {
    /// Where TXT and address records come from.
    pub resolver: &'a dyn Resolver,
    /// Where the WebPKI HTTPS client configuration comes from (built on the first fetch).
    pub tls: &'a TlsConfigs,
    /// The port of the policy host: 443 except in tests.
    pub port: u16,
    /// The limit for the whole fetch (§3.3 suggests 60 seconds).
    pub timeout: Duration,
}

impl Sts {
    /// A cache holding at most `limit` domains.
    pub(crate) fn with_limit(limit: usize) -> Sts {
        Sts {
            entries: Mutex::new(HashMap::new()),
            limit: limit.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every change is a single insert/remove, so a poisoned map is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The unexpired cached policy of `domain`; an expired one is forgotten.
    fn cached(&self, domain: &str, now: Instant) -> Option<Cached> {
        let mut entries = self.lock();
        let entry = entries.get_mut(domain)?;
        if entry
            .current
            .as_ref()
            .is_some_and(|cached| cached.expires <= now)
        {
            entry.current = None;
        }
        entry.current.clone()
    }

    /// Whether fetching `id` for `domain` failed less than [`FETCH_BACKOFF`] ago.
    fn backing_off(&self, domain: &str, id: &str, now: Instant) -> bool {
        self.lock()
            .get(domain)
            .and_then(|entry| entry.failed.as_ref())
            .is_some_and(|(failed, until)| failed == id && now < *until)
    }

    fn entry(&self, domain: &str, now: Instant, change: impl FnOnce(&mut Entry)) {
        let mut entries = self.lock();
        if !entries.contains_key(domain) && entries.len() >= self.limit {
            // Bounded: drop the domain written longest ago.
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.touched)
                .map(|(domain, _)| domain.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        let entry = entries.entry(domain.to_string()).or_insert(Entry {
            current: None,
            failed: None,
            touched: now,
        });
        entry.touched = now;
        change(entry);
    }

    /// Remembers `policy`, published as `id`, fetched at `now`.
    fn store(&self, domain: &str, id: &str, policy: Arc<Policy>, now: Instant) {
        let expires = now.checked_add(policy.max_age).unwrap_or(now);
        self.entry(domain, now, |entry| {
            entry.current = Some(Cached {
                id: id.to_string(),
                policy,
                expires,
            });
            entry.failed = None;
        });
    }

    /// Remembers that fetching `id` failed at `now`.
    fn fetch_failed(&self, domain: &str, id: &str, now: Instant) {
        self.entry(domain, now, |entry| {
            entry.failed = Some((id.to_string(), now + FETCH_BACKOFF));
        });
    }

    /// The MTA-STS policy in force for `domain` (RFC 8461 §5.1 step 1), or `None`. Never fails:
    /// problems are logged and leave the cached policy, if any, in force.
    pub(crate) async fn discover(&self, fetcher: Fetcher<'_>, domain: &str) -> Option<Arc<Policy>> {
        let domain = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        let cached = self.cached(&domain, Instant::now());
        let keep = |cached: Option<Cached>| cached.map(|cached| cached.policy);

        // §3.1: the TXT record says whether there is a policy and which version is current.
        let name = format!("_mta-sts.{domain}");
        let texts = match fetcher.resolver.txt(&name).await {
            Ok(texts) => texts,
            Err(err) => {
                // §5.1: a failed lookup does not discard a policy we have.
                tracing::debug!(domain = %domain, error = %err, "MTA-STS: TXT lookup failed");
                return keep(cached);
            }
        };
        let id = match parse_record(&texts) {
            Ok(Some(id)) => id,
            Ok(None) => return keep(cached),
            Err(reason) => {
                tracing::debug!(domain = %domain, reason = %reason, "MTA-STS: TXT record unusable");
                return keep(cached);
            }
        };
        if let Some(cached) = &cached
            && cached.id == id
        {
            return Some(cached.policy.clone());
        }
        if self.backing_off(&domain, &id, Instant::now()) {
            return keep(cached);
        }

        // §3.3: a new id, or no unexpired policy: fetch it.
        match fetch(fetcher, &domain).await {
            Ok(policy) => {
                tracing::info!(
                    domain = %domain,
                    id = %id,
                    mode = policy.mode.as_str(),
                    mx = %policy.patterns(),
                    max_age = policy.max_age.as_secs(),
                    "MTA-STS: policy fetched"
                );
                let policy = Arc::new(policy);
                self.store(&domain, &id, policy.clone(), Instant::now());
                Some(policy)
            }
            Err(reason) => {
                tracing::warn!(
                    domain = %domain,
                    id = %id,
                    reason = %reason,
                    cached = cached.is_some(),
                    "MTA-STS: policy fetch failed"
                );
                self.fetch_failed(&domain, &id, Instant::now());
                keep(cached)
            }
        }
    }
}

/// Aborts the task driving an HTTP connection when the fetch is over, however it ended.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Fetches and parses the policy of `domain` (RFC 8461 §3.3), within the fetcher's time limit.
pub(crate) async fn fetch(fetcher: Fetcher<'_>, domain: &str) -> Result<Policy, String> {
    let body = tokio::time::timeout(fetcher.timeout, fetch_body(fetcher, domain))
        .await
        .map_err(|_| format!("timed out after {} s", fetcher.timeout.as_secs()))??;
    parse_policy(&body).map_err(|reason| format!("invalid policy: {reason}"))
}

async fn fetch_body(fetcher: Fetcher<'_>, domain: &str) -> Result<String, String> {
    let host = format!("mta-sts.{domain}");
    let config = fetcher.tls.https().map_err(str::to_string)?.clone();
    let server_name =
        ServerName::try_from(host.clone()).map_err(|_| format!("{host} is not a host name"))?;
    // Resolved through our resolver (so that tests and the DNS configuration apply).
    let addresses = fetcher
        .resolver
        .addresses(&host)
        .await
        .map_err(|err| err.to_string())?;
    if addresses.is_empty() {
        return Err(format!("{host} has no address"));
    }
    let mut tcp = None;
    let mut errors = Vec::new();
    for ip in addresses {
        let address = SocketAddr::new(ip, fetcher.port);
        match TcpStream::connect(address).await {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(err) => errors.push(format!("{address}: {err}")),
        }
    }
    let Some(tcp) = tcp else {
        return Err(format!("cannot connect to {host}: {}", errors.join("; ")));
    };
    // §3.3: HTTPS, the certificate valid for the policy host under WebPKI.
    let tls = TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|err| format!("{host}: TLS: {err}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|err| format!("{host}: HTTP: {err}"))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let request = Request::get(WELL_KNOWN_PATH)
        .header(header::HOST, host.as_str())
        .header(header::USER_AGENT, "postwerk")
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|err| format!("{host}: {err}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| format!("{host}: HTTP: {err}"))?;
    // §3.3: only 200 is a policy; redirects (3xx) MUST NOT be followed.
    if response.status() != StatusCode::OK {
        return Err(format!("{host}: HTTP status {}", response.status()));
    }
    // §3.3: the media type must be text/plain (parameters such as charset allowed).
    let media_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    if !media_type.is_some_and(|media_type| media_type.eq_ignore_ascii_case("text/plain")) {
        return Err(format!(
            "{host}: Content-Type {:?}, not text/plain",
            media_type.unwrap_or_default()
        ));
    }
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
        return Err(format!("{host}: policy larger than {BODY_LIMIT} bytes"));
    }
    let body = Limited::new(response.into_body(), BODY_LIMIT)
        .collect()
        .await
        .map_err(|err| {
            if err.is::<http_body_util::LengthLimitError>() {
                format!("{host}: policy larger than {BODY_LIMIT} bytes")
            } else {
                format!("{host}: HTTP: {err}")
            }
        })?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|_| format!("{host}: policy is not UTF-8"))
}

/// Applies `policy` to the per-host TLS policies of an attempt to `domain` (RFC 8461 §4, §5).
///
/// - DANE wins where it applies (RFC 8461 §2: MTA-STS must never override DANE): a host with
///   usable TLSA records keeps [`TlsPolicy::Dane`] and is not checked against the patterns.
/// - `enforce`: a host that matches no `mx` pattern becomes unusable (§4.1); the others need
///   TLS with a WebPKI-valid certificate ([`TlsPolicy::Sts`], §4.2). When no host is left at all
///   the attempt fails at once, temporarily (§5.1: never a permanent failure for policy reasons).
/// - `testing`: nothing changes but matching hosts get [`TlsPolicy::StsTesting`], and what
///   `enforce` would have refused is logged.
/// - `none`: nothing changes.
pub(crate) fn apply(
    policy: &Policy,
    domain: &str,
    hosts: &mut HostPolicies,
) -> Result<(), Outcome> {
    match policy.mode {
        Mode::None => Ok(()),
        Mode::Enforce => {
            let mut usable = false;
            for (host, host_policy) in hosts.iter_mut() {
                if matches!(host_policy, Ok(TlsPolicy::Dane(_))) {
                    usable = true;
                    continue;
                }
                if !policy.matches(host) {
                    *host_policy = Err(outcome::failure(
                        status::CRYPTO_FAILURE,
                        Some(host),
                        format!(
                            "MTA-STS: {host} matches none of the policy's mx patterns ({}), \
                             host skipped",
                            policy.patterns()
                        ),
                    ));
                    continue;
                }
                usable = true;
                // Opportunistic, or Mandatory (TLSA records, none usable): WebPKI adds the
                // authentication DANE could not give. A failed TLSA lookup stays a failure.
                if let Ok(tls) = host_policy {
                    *tls = TlsPolicy::Sts;
                }
            }
            if usable {
                return Ok(());
            }
            let names: Vec<&str> = hosts.iter().map(|(host, _)| host.as_str()).collect();
            Err(outcome::temporary(
                status::CRYPTO_FAILURE,
                None,
                format!(
                    "MTA-STS: no MX host matches the policy (MX hosts: {}; policy mx: {})",
                    names.join(", "),
                    policy.patterns()
                ),
            ))
        }
        Mode::Testing => {
            let mut any = false;
            for (host, host_policy) in hosts.iter_mut() {
                match host_policy {
                    Ok(TlsPolicy::Dane(_)) => any = true,
                    Ok(tls) if policy.matches(host) => {
                        any = true;
                        if *tls == TlsPolicy::Opportunistic {
                            *tls = TlsPolicy::StsTesting;
                        }
                    }
                    Ok(_) => tracing::warn!(
                        domain = %domain,
                        mx = %host,
                        patterns = %policy.patterns(),
                        "MTA-STS (testing): the MX host matches none of the policy's mx \
                         patterns; an enforce policy would skip it"
                    ),
                    Err(_) => any = any || policy.matches(host),
                }
            }
            if !any {
                tracing::warn!(
                    domain = %domain,
                    patterns = %policy.patterns(),
                    "MTA-STS (testing): no MX host matches the policy; an enforce policy would \
                     defer the message"
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn wildcard_patterns_match_exactly_one_label() {
        assert!(mx_matches("mx.example.net", "mx.example.net"));
        assert!(mx_matches("mx.example.net", "MX.Example.NET."));
        assert!(!mx_matches("mx.example.net", "mx2.example.net"));
        assert!(mx_matches("*.example.net", "mail.example.net"));
        assert!(mx_matches("*.example.net", "Mail.Example.net."));
        assert!(!mx_matches("*.example.net", "example.net"));
        assert!(!mx_matches("*.example.net", "foo.bar.example.net"));
        assert!(!mx_matches("*.example.net", ".example.net"));
        assert!(!mx_matches("*.example.net", "mail.example.net.evil.test"));
        assert!(!mx_matches("*.example.net", "mailexample.net"));
        // A "*" elsewhere is not a wildcard (the parser refuses such patterns anyway).
        assert!(!mx_matches("mail.*.net", "mail.example.net"));
    }

    #[test]
    fn policy_matches_any_pattern() {
        let policy = parse_policy(
            "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 86400\n",
        )
        .unwrap();
        assert!(policy.matches("mail.example.com"));
        assert!(policy.matches("backup.example.net"));
        assert!(!policy.matches("example.net"));
        assert!(!policy.matches("other.example.com"));
    }

    #[test]
    fn txt_record_gives_the_id() {
        for (texts, id) in [
            (vec!["v=STSv1; id=20160831085700Z;"], "20160831085700Z"),
            (vec!["v=STSv1;id=abc"], "abc"),
            (vec!["v=STSv1 ;\tid=abc ; ext=value;"], "abc"),
            // Records that are not MTA-STS are discarded before counting.
            (vec!["v=spf1 -all", "v=STSv1; id=1"], "1"),
            // A repeated field counts once, the first.
            (vec!["v=STSv1; id=first; id=second"], "first"),
        ] {
            assert_eq!(
                parse_record(&strings(&texts)),
                Ok(Some(id.to_string())),
                "{texts:?}"
            );
        }
    }

    #[test]
    fn txt_records_without_a_usable_id() {
        assert_eq!(parse_record(&[]), Ok(None));
        assert_eq!(parse_record(&strings(&["v=spf1 -all"])), Ok(None));
        // "v=STSv10" is not "v=STSv1".
        assert_eq!(parse_record(&strings(&["v=STSv10; id=1"])), Ok(None));
        for texts in [
            // §3.1: more than one record means no policy.
            vec!["v=STSv1; id=1", "v=STSv1; id=2"],
            vec!["v=STSv1;"],
            vec!["v=STSv1; id="],
            vec!["v=STSv1; id=has-dash"],
            vec!["v=STSv1; id=123456789012345678901234567890123"],
            vec!["v=STSv1; ; id=1"],
            vec!["v=STSv1; id=1; junk"],
            vec!["v=STSv1; id=1; ext=a b"],
            vec!["v=STSv1; id=1;;"],
        ] {
            assert!(parse_record(&strings(&texts)).is_err(), "{texts:?}");
        }
    }

    #[test]
    fn policy_parses_with_crlf_lf_and_unknown_fields() {
        let policy = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: MAIL.example.com.\r\nmx: *.example.net\r\nmax_age: 604800\r\nfuture_field: whatever it is\r\n",
        )
        .unwrap();
        assert_eq!(
            policy,
            Policy {
                mode: Mode::Enforce,
                mx: strings(&["mail.example.com", "*.example.net"]),
                max_age: Duration::from_secs(604_800),
            }
        );
        let testing =
            parse_policy("version:STSv1\nmode:testing\nmx:mx.example.org\nmax_age:0").unwrap();
        assert_eq!(testing.mode, Mode::Testing);
        assert_eq!(testing.max_age, Duration::ZERO);
        // A repeated non-mx field counts once: the first.
        let repeated = parse_policy(
            "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.org\nmax_age: 10\n\n",
        )
        .unwrap();
        assert_eq!(repeated.mode, Mode::Testing);
        // "none" withdraws a policy and needs no mx.
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
        assert_eq!(none.mode, Mode::None);
        assert!(none.mx.is_empty());
    }

    #[test]
    fn invalid_policies_are_refused() {
        for text in [
            "",
            "mode: enforce\nmx: mx.example.org\nmax_age: 86400\n",
            "version: STSv2\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n",
            "version: STSv1\nmx: mx.example.org\nmax_age: 86400\n",
            "version: STSv1\nmode: Enforce\nmx: mx.example.org\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmx: mx.example.org\n",
            "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 31557601\n",
            "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: -1\n",
            "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 12345678901\n",
            "version: STSv1\nmode: enforce\nmx: mail.*.org\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmx: *\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmx: bad_host.example.org\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmx: -mx.example.org\nmax_age: 86400\n",
            "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\nno colon here\n",
            "version: STSv1\nmode: enforce\nmx:\nmax_age: 86400\n",
            "<html><body>Not found</body></html>",
        ] {
            assert!(parse_policy(text).is_err(), "{text:?}");
        }
        assert_eq!(
            parse_policy("version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 31557600")
                .unwrap()
                .max_age,
            Duration::from_secs(MAX_AGE_LIMIT)
        );
    }

    fn policy(mode: Mode, max_age: u64) -> Arc<Policy> {
        Arc::new(Policy {
            mode,
            mx: strings(&["mx.example.org"]),
            max_age: Duration::from_secs(max_age),
        })
    }

    #[test]
    fn cached_policy_expires_after_max_age() {
        let sts = Sts::default();
        let now = Instant::now();
        sts.store("example.org", "1", policy(Mode::Enforce, 60), now);
        let cached = sts
            .cached("example.org", now + Duration::from_secs(59))
            .unwrap();
        assert_eq!(cached.id, "1");
        assert!(
            sts.cached("example.org", now + Duration::from_secs(60))
                .is_none()
        );
        // Forgotten once expired.
        assert!(sts.cached("example.org", now).is_none());
    }

    #[test]
    fn failed_fetches_back_off_per_id() {
        let sts = Sts::default();
        let now = Instant::now();
        sts.fetch_failed("example.org", "1", now);
        assert!(sts.backing_off("example.org", "1", now + Duration::from_secs(1)));
        assert!(!sts.backing_off("example.org", "2", now));
        assert!(!sts.backing_off("example.org", "1", now + FETCH_BACKOFF));
        // A successful fetch clears the failure.
        sts.store("example.org", "1", policy(Mode::Testing, 60), now);
        assert!(!sts.backing_off("example.org", "1", now));
    }

    #[test]
    fn cache_is_bounded_and_drops_the_oldest() {
        let sts = Sts::with_limit(2);
        let now = Instant::now();
        sts.store("a.test", "1", policy(Mode::Enforce, 600), now);
        sts.store(
            "b.test",
            "1",
            policy(Mode::Enforce, 600),
            now + Duration::from_secs(1),
        );
        sts.store(
            "c.test",
            "1",
            policy(Mode::Enforce, 600),
            now + Duration::from_secs(2),
        );
        assert!(sts.cached("a.test", now).is_none());
        assert!(sts.cached("b.test", now).is_some());
        assert!(sts.cached("c.test", now).is_some());
        // Rewriting an existing domain evicts nothing.
        sts.store(
            "b.test",
            "2",
            policy(Mode::Enforce, 600),
            now + Duration::from_secs(3),
        );
        assert!(sts.cached("c.test", now).is_some());
        assert_eq!(sts.lock().len(), 2);
    }

    fn hosts(names: &[&str]) -> HostPolicies {
        names
            .iter()
            .map(|name| (name.to_string(), Ok(TlsPolicy::Opportunistic)))
            .collect()
    }

    #[test]
    fn enforce_skips_hosts_outside_the_patterns() {
        let policy =
            parse_policy("version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 86400\n")
                .unwrap();
        let mut route = hosts(&["mx1.example.org", "mx.elsewhere.test"]);
        route.push(("dane.example.org".to_string(), Ok(TlsPolicy::Mandatory)));
        apply(&policy, "example.org", &mut route).unwrap();
        assert_eq!(route[0].1, Ok(TlsPolicy::Sts));
        let skipped = route[1].1.as_ref().unwrap_err();
        assert_eq!(skipped.status, "4.7.5");
        assert!(skipped.reason.starts_with("MTA-STS:"), "{}", skipped.reason);
        // TLSA records without a usable one: WebPKI authentication on top of mandatory TLS.
        assert_eq!(route[2].1, Ok(TlsPolicy::Sts));
    }

    #[test]
    fn enforce_with_no_matching_host_fails_the_attempt() {
        let policy =
            parse_policy("version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n")
                .unwrap();
        let mut route = hosts(&["mx.elsewhere.test"]);
        let Err(Outcome::Temporary(failure)) = apply(&policy, "example.org", &mut route) else {
            panic!("a temporary failure");
        };
        assert_eq!(failure.status, "4.7.5");
        assert!(
            failure
                .reason
                .starts_with("MTA-STS: no MX host matches the policy"),
            "{}",
            failure.reason
        );
    }

    #[test]
    fn testing_and_none_keep_every_host() {
        let testing =
            parse_policy("version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n")
                .unwrap();
        let mut route = hosts(&["mx.example.org", "mx.elsewhere.test"]);
        apply(&testing, "example.org", &mut route).unwrap();
        assert_eq!(route[0].1, Ok(TlsPolicy::StsTesting));
        assert_eq!(route[1].1, Ok(TlsPolicy::Opportunistic));

        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
        let mut route = hosts(&["mx.example.org"]);
        apply(&none, "example.org", &mut route).unwrap();
        assert_eq!(route[0].1, Ok(TlsPolicy::Opportunistic));
    }
}
