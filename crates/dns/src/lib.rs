//! DNS for outbound delivery (SND-3): MX with implicit and null MX, addresses, TLSA for DANE,
//! TXT for MTA-STS and DKIM checks; SRV and CNAME for the DNS report of a mail service (SVC-1).
//!
//! [`Resolver`] is what the rest of the platform asks; [`HickoryResolver`] answers it from the
//! network with `hickory-resolver`, and [`FakeResolver`] from a table, for unit tests.
//! Integration tests point the real resolver at a DNS server on loopback (`[dns] servers`).
//!
//! DNSSEC (RFC 7672 §2.1, DANE needs to know whether an answer is authentic) comes in two modes,
//! chosen by [`DnssecMode`]: validate in process, or trust the AD bit of a validating resolver
//! the administrator runs on the same host (the Postfix model). Plain lookups (MX hosts,
//! addresses) never depend on validation succeeding, so a validation fault cannot stop ordinary
//! delivery; it only affects whether DANE applies.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;

mod fake;
mod hickory;

pub use fake::FakeResolver;
pub use hickory::HickoryResolver;

/// A lookup that could not be answered now: the caller retries later (a 4xx for mail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DNS lookup of {name} failed: {reason}")]
pub struct DnsError {
    /// The name that was looked up.
    pub name: String,
    /// What went wrong (timeout, SERVFAIL, refused, bogus signature…).
    pub reason: String,
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// RFC 5321 §5.1: lower is tried first.
    pub preference: u16,
    /// The exchange host, lower case, without the trailing dot.
    pub exchange: String,
}

/// What a domain's MX lookup says about where its mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// MX records, lowest preference first (equal preferences in random order, RFC 5321 §5.1).
    Hosts(Vec<MxHost>),
    /// RFC 7505: a single `MX 0 .`: the domain accepts no mail.
    NullMx,
    /// No MX records but the name exists: RFC 5321 §5.1 implicit MX, the domain itself.
    Implicit,
    /// The domain does not exist (NXDOMAIN).
    NoDomain,
}

/// The answer to an MX lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxLookup {
    /// Where mail goes.
    pub answer: MxAnswer,
    /// Whether the answer (records or their absence) is DNSSEC-authenticated. RFC 7672 §2.2.1:
    /// DANE applies to MX hosts only when the MX RRset itself is secure.
    pub secure: bool,
}

/// One TLSA record (RFC 6698 §2.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// Certificate usage: 2 DANE-TA, 3 DANE-EE (0 and 1 are unusable for SMTP, RFC 7672 §3.1.3).
    pub usage: u8,
    /// Selector: 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The association data.
    pub data: Vec<u8>,
}

impl fmt::Debug for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLSA {} {} {} ",
            self.usage, self.selector, self.matching
        )?;
        for byte in &self.data {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of the same priority.
    pub weight: u16,
    /// The service's port.
    pub port: u16,
    /// The host, lower case, without the trailing dot; empty for the root (`.`), which says
    /// the service is not offered at this name (RFC 2782, RFC 6186 §3.4).
    pub target: String,
}

/// The answer to a TLSA lookup for `_port._tcp.host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsaAnswer {
    /// DNSSEC-authenticated records (RFC 7672 §2.2). Empty when the name securely has none.
    Secure(Vec<Tlsa>),
    /// The zone is not signed, or validation is off: DANE does not apply.
    Insecure,
}

/// How DNSSEC status is learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DnssecMode {
    /// Validate in process from the root trust anchor (hickory's validator).
    #[default]
    Validate,
    /// Trust the AD bit of the configured servers, which must be a validating resolver the
    /// administrator controls, reached over loopback (RFC 6698 §A.4, RFC 4035 §4.9.3).
    TrustAd,
    /// No DNSSEC: every answer is insecure, so DANE never applies.
    Off,
}

/// The `[dns]` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Servers to ask; empty means the system's resolver (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// How DNSSEC status is learnt.
    pub dnssec: DnssecMode,
    /// Time allowed per query before it is retried or given up.
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig {
            servers: Vec::new(),
            dnssec: DnssecMode::default(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The questions the platform asks of DNS. Names are given without the trailing dot, in
/// A-label (ASCII) form.
#[async_trait]
pub trait Resolver: Send + Sync + fmt::Debug {
    /// Where mail for `domain` goes (RFC 5321 §5.1, RFC 7505).
    async fn mx(&self, domain: &str) -> Result<MxLookup, DnsError>;

    /// The A and AAAA addresses of `host` (IPv6 first when both exist); empty when it has none
    /// or does not exist.
    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError>;

    /// The TLSA records at `_port._tcp.host` (RFC 7672 §2.2.3).
    async fn tlsa(&self, port: u16, host: &str) -> Result<TlsaAnswer, DnsError>;

    /// The TXT records at `name`, each record's strings joined; empty when none.
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError>;

    /// The SRV records at `name` (RFC 2782), lowest priority first, then highest weight;
    /// empty when none or when the name does not exist.
    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsError>;

    /// The target of the CNAME record at `name` itself (the chain is not followed), lower
    /// case without the trailing dot; `None` when `name` has no CNAME or does not exist.
    async fn cname(&self, name: &str) -> Result<Option<String>, DnsError>;
}

/// RFC 2782 order for a report: lowest priority first, then highest weight, then port and
/// target so the order is stable.
pub(crate) fn sort_srv(records: &mut [SrvRecord]) {
    records.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.weight.cmp(&a.weight))
            .then(a.port.cmp(&b.port))
            .then_with(|| a.target.cmp(&b.target))
    });
}
