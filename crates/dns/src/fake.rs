//! [`FakeResolver`]: DNS answers from an in-memory table, for unit tests of the code that asks
//! DNS (the SMTP client, MTA-STS, DKIM checks) without a network or a server.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::{
    DnsError, MxAnswer, MxHost, MxLookup, Resolver, SrvRecord, Tlsa, TlsaAnswer, sort_srv,
};

/// A [`Resolver`] answering from a table filled by the test.
///
/// It uses interior mutability, so one instance can be shared as `Arc<dyn Resolver>` and
/// still be changed between steps of a test. Names are compared case-insensitively and a
/// trailing dot is ignored.
///
/// Semantics, following the real resolver:
/// - MX: records are returned lowest preference first; a single `(0, ".")` is a null MX
///   (RFC 7505), a `"."` among other records is ignored; a name without MX records that has
///   other records (addresses, TXT) gives [`MxAnswer::Implicit`] (RFC 5321 §5.1); a name with
///   nothing at all gives [`MxAnswer::NoDomain`].
/// - Security: every answer is insecure unless [`FakeResolver::set_secure`] marked the name or
///   one of its parents; the nearest marked name decides.
/// - SRV and CNAME: answered from the table for the name itself; a CNAME is not followed by the
///   other lookups (tests that need chains use the loopback server of `postwerk-testkit`).
/// - Failures: [`FakeResolver::set_failing`] makes every lookup of that name (and of the TLSA
///   records of that host) fail with a [`DnsError`], as a SERVFAIL would.
#[derive(Debug, Default)]
pub struct FakeResolver {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    mx: HashMap<String, Vec<MxHost>>,
    addresses: HashMap<String, Vec<IpAddr>>,
    tlsa: HashMap<(u16, String), Vec<Tlsa>>,
    txt: HashMap<String, Vec<String>>,
    srv: HashMap<String, Vec<SrvRecord>>,
    cname: HashMap<String, String>,
    secure: HashMap<String, bool>,
    failing: HashSet<String>,
}

/// Lower case without the trailing dot: the form names are stored and compared in.
fn normalize(name: &str) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

/// `name` and each of its parents, nearest first (`a.b.c`, `b.c`, `c`).
fn self_and_parents(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |current| {
        current.split_once('.').map(|(_, parent)| parent)
    })
}

impl Table {
    fn check(&self, name: &str) -> Result<(), DnsError> {
        if self.failing.contains(name) {
            return Err(DnsError {
                name: name.to_string(),
                reason: "SERVFAIL (FakeResolver::set_failing)".to_string(),
            });
        }
        Ok(())
    }

    /// Whether answers for `name` are secure: the nearest of `name` and its parents that was
    /// given to `set_secure` decides; insecure when none was.
    fn is_secure(&self, name: &str) -> bool {
        self_and_parents(name)
            .find_map(|candidate| self.secure.get(candidate).copied())
            .unwrap_or(false)
    }

    /// Whether the name has any record (an MX lookup then gives implicit MX, not NXDOMAIN).
    fn exists(&self, name: &str) -> bool {
        self.mx.contains_key(name)
            || self.addresses.get(name).is_some_and(|ips| !ips.is_empty())
            || self.txt.get(name).is_some_and(|texts| !texts.is_empty())
            || self.tlsa.keys().any(|(_, host)| host == name)
            || self
                .srv
                .get(name)
                .is_some_and(|records| !records.is_empty())
            || self.cname.contains_key(name)
    }
}

impl FakeResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> FakeResolver {
        FakeResolver::default()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A test that panicked while holding the lock leaves a usable table behind.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the MX records of `domain` as `(preference, exchange)` pairs, replacing earlier
    /// ones. `&[(0, ".")]` is a null MX (RFC 7505); an empty slice removes the MX records.
    pub fn set_mx(&self, domain: &str, hosts: &[(u16, &str)]) {
        let domain = normalize(domain);
        let mut table = self.table();
        if hosts.is_empty() {
            table.mx.remove(&domain);
            return;
        }
        let hosts = hosts
            .iter()
            .map(|&(preference, exchange)| MxHost {
                preference,
                // "." normalizes to "", the root, as hickory reports it.
                exchange: normalize(exchange),
            })
            .collect();
        table.mx.insert(domain, hosts);
    }

    /// Sets the A and AAAA addresses of `host`, replacing earlier ones.
    pub fn set_addresses(&self, host: &str, ips: &[IpAddr]) {
        self.table().addresses.insert(normalize(host), ips.to_vec());
    }

    /// Sets the TLSA records at `_port._tcp.host`, replacing earlier ones. They are returned as
    /// [`TlsaAnswer::Secure`] only if `host` is marked secure with [`FakeResolver::set_secure`]
    /// (directly or through a parent); otherwise the answer is [`TlsaAnswer::Insecure`].
    pub fn set_tlsa(&self, port: u16, host: &str, records: Vec<Tlsa>) {
        self.table().tlsa.insert((port, normalize(host)), records);
    }

    /// Sets the TXT records of `name` (one string per record), replacing earlier ones.
    pub fn set_txt(&self, name: &str, texts: &[&str]) {
        let texts = texts.iter().map(|text| text.to_string()).collect();
        self.table().txt.insert(normalize(name), texts);
    }

    /// Sets the SRV records at `name` as `(priority, weight, port, target)`, replacing earlier
    /// ones; a target of `"."` is the root (service not offered, RFC 2782). An empty slice
    /// removes them.
    pub fn set_srv(&self, name: &str, records: &[(u16, u16, u16, &str)]) {
        let name = normalize(name);
        let records = records
            .iter()
            .map(|&(priority, weight, port, target)| SrvRecord {
                priority,
                weight,
                port,
                target: normalize(target),
            })
            .collect();
        self.table().srv.insert(name, records);
    }

    /// Sets the CNAME of `name` to `target`, replacing an earlier one.
    pub fn set_cname(&self, name: &str, target: &str) {
        self.table()
            .cname
            .insert(normalize(name), normalize(target));
    }

    /// Marks answers for `name` and the names under it as DNSSEC-secure (or, with `false`,
    /// insecure again): the `secure` flag of its MX answer and the TLSA answers of hosts under
    /// it. The nearest marked name wins, so a child can be made insecure under a secure parent.
    /// Default: insecure.
    pub fn set_secure(&self, name: &str, secure: bool) {
        self.table().secure.insert(normalize(name), secure);
    }

    /// Makes every lookup of `name` fail with a [`DnsError`] (a temporary failure such as
    /// SERVFAIL), including TLSA lookups for `name` as a host.
    pub fn set_failing(&self, name: &str) {
        self.table().failing.insert(normalize(name));
    }
}

#[async_trait]
impl Resolver for FakeResolver {
    async fn mx(&self, domain: &str) -> Result<MxLookup, DnsError> {
        let domain = normalize(domain);
        let table = self.table();
        table.check(&domain)?;
        let secure = table.is_secure(&domain);
        let answer = match table.mx.get(&domain) {
            // RFC 7505 §3: exactly one MX with preference 0 and exchange "." (root).
            Some(hosts)
                if hosts.len() == 1 && hosts[0].preference == 0 && hosts[0].exchange.is_empty() =>
            {
                MxAnswer::NullMx
            }
            Some(hosts) => {
                // RFC 7505 §4.3: a "." among other MX records is ignored.
                let mut hosts: Vec<MxHost> = hosts
                    .iter()
                    .filter(|host| !host.exchange.is_empty())
                    .cloned()
                    .collect();
                // RFC 5321 §5.1: lowest preference first (stable: the fake is deterministic).
                hosts.sort_by_key(|host| host.preference);
                if hosts.is_empty() {
                    MxAnswer::NullMx
                } else {
                    MxAnswer::Hosts(hosts)
                }
            }
            None if table.exists(&domain) => MxAnswer::Implicit,
            None => MxAnswer::NoDomain,
        };
        Ok(MxLookup { answer, secure })
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let host = normalize(host);
        let table = self.table();
        table.check(&host)?;
        let mut ips = table.addresses.get(&host).cloned().unwrap_or_default();
        // IPv6 first, each family in the order given (a stable sort keeps it).
        ips.sort_by_key(|ip| ip.is_ipv4());
        Ok(ips)
    }

    async fn tlsa(&self, port: u16, host: &str) -> Result<TlsaAnswer, DnsError> {
        let host = normalize(host);
        let name = format!("_{port}._tcp.{host}");
        let table = self.table();
        table.check(&name)?;
        table.check(&host)?;
        if !table.is_secure(&host) {
            return Ok(TlsaAnswer::Insecure);
        }
        let records = table.tlsa.get(&(port, host)).cloned().unwrap_or_default();
        Ok(TlsaAnswer::Secure(records))
    }

    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let name = normalize(name);
        let table = self.table();
        table.check(&name)?;
        Ok(table.txt.get(&name).cloned().unwrap_or_default())
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsError> {
        let name = normalize(name);
        let table = self.table();
        table.check(&name)?;
        let mut records = table.srv.get(&name).cloned().unwrap_or_default();
        sort_srv(&mut records);
        Ok(records)
    }

    async fn cname(&self, name: &str) -> Result<Option<String>, DnsError> {
        let name = normalize(name);
        let table = self.table();
        table.check(&name)?;
        Ok(table.cname.get(&name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn host(preference: u16, exchange: &str) -> MxHost {
        MxHost {
            preference,
            exchange: exchange.to_string(),
        }
    }

    fn tlsa_record() -> Tlsa {
        Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0xab; 32],
        }
    }

    #[tokio::test]
    async fn mx_hosts_are_sorted_by_preference() {
        let dns = FakeResolver::new();
        dns.set_mx(
            "example.org",
            &[
                (20, "b.example.org"),
                (10, "A.example.org."),
                (30, "c.example.org"),
            ],
        );
        let lookup = dns.mx("example.org").await.unwrap();
        assert_eq!(
            lookup.answer,
            MxAnswer::Hosts(vec![
                host(10, "a.example.org"),
                host(20, "b.example.org"),
                host(30, "c.example.org"),
            ])
        );
        assert!(!lookup.secure);
    }

    #[tokio::test]
    async fn names_are_case_insensitive_and_trailing_dot_is_ignored() {
        let dns = FakeResolver::new();
        dns.set_mx("Example.ORG.", &[(10, "mx.example.org")]);
        dns.set_addresses("MX.Example.org", &["192.0.2.1".parse().unwrap()]);
        dns.set_txt("_mta-sts.EXAMPLE.org.", &["v=STSv1; id=1"]);
        assert_eq!(
            dns.mx("example.org").await.unwrap().answer,
            MxAnswer::Hosts(vec![host(10, "mx.example.org")])
        );
        assert_eq!(
            dns.addresses("mx.example.org.").await.unwrap(),
            vec!["192.0.2.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            dns.txt("_MTA-STS.example.org").await.unwrap(),
            vec!["v=STSv1; id=1".to_string()]
        );
    }

    #[tokio::test]
    async fn single_root_mx_is_null_mx() {
        let dns = FakeResolver::new();
        dns.set_mx("nomail.example", &[(0, ".")]);
        assert_eq!(
            dns.mx("nomail.example").await.unwrap().answer,
            MxAnswer::NullMx
        );
    }

    #[tokio::test]
    async fn root_among_other_mx_records_is_ignored() {
        let dns = FakeResolver::new();
        dns.set_mx("example.org", &[(0, "."), (10, "mx.example.org")]);
        assert_eq!(
            dns.mx("example.org").await.unwrap().answer,
            MxAnswer::Hosts(vec![host(10, "mx.example.org")])
        );
    }

    #[tokio::test]
    async fn addresses_without_mx_give_implicit_mx() {
        let dns = FakeResolver::new();
        dns.set_addresses("example.net", &["192.0.2.7".parse().unwrap()]);
        assert_eq!(
            dns.mx("example.net").await.unwrap().answer,
            MxAnswer::Implicit
        );
    }

    #[tokio::test]
    async fn unknown_name_is_no_domain() {
        let dns = FakeResolver::new();
        assert_eq!(
            dns.mx("nowhere.example").await.unwrap().answer,
            MxAnswer::NoDomain
        );
        assert!(dns.addresses("nowhere.example").await.unwrap().is_empty());
        assert!(dns.txt("nowhere.example").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn addresses_list_ipv6_first() {
        let dns = FakeResolver::new();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        dns.set_addresses("mx.example.org", &[v4, v6]);
        assert_eq!(dns.addresses("mx.example.org").await.unwrap(), vec![v6, v4]);
    }

    #[tokio::test]
    async fn tlsa_is_insecure_unless_the_host_is_marked_secure() {
        let dns = FakeResolver::new();
        dns.set_tlsa(25, "mx.example.org", vec![tlsa_record()]);
        assert_eq!(
            dns.tlsa(25, "mx.example.org").await.unwrap(),
            TlsaAnswer::Insecure
        );
        dns.set_secure("example.org", true);
        assert_eq!(
            dns.tlsa(25, "mx.example.org").await.unwrap(),
            TlsaAnswer::Secure(vec![tlsa_record()])
        );
        // Another port of a secure host: securely no records.
        assert_eq!(
            dns.tlsa(465, "mx.example.org").await.unwrap(),
            TlsaAnswer::Secure(Vec::new())
        );
        // The nearest marked name decides.
        dns.set_secure("mx.example.org", false);
        assert_eq!(
            dns.tlsa(25, "mx.example.org").await.unwrap(),
            TlsaAnswer::Insecure
        );
    }

    #[tokio::test]
    async fn mx_secure_flag_follows_set_secure() {
        let dns = FakeResolver::new();
        dns.set_mx("example.org", &[(10, "mx.example.org")]);
        assert!(!dns.mx("example.org").await.unwrap().secure);
        dns.set_secure("example.org", true);
        assert!(dns.mx("example.org").await.unwrap().secure);
        assert!(!dns.mx("example.com").await.unwrap().secure);
    }

    #[tokio::test]
    async fn failing_names_give_dns_errors() {
        let dns = FakeResolver::new();
        dns.set_mx("broken.example", &[(10, "mx.broken.example")]);
        dns.set_failing("Broken.Example.");
        let error = dns.mx("broken.example").await.unwrap_err();
        assert_eq!(error.name, "broken.example");
        assert!(dns.addresses("broken.example").await.is_err());
        assert!(dns.txt("broken.example").await.is_err());
        assert!(dns.tlsa(25, "broken.example").await.is_err());
        // Other names are unaffected.
        assert_eq!(
            dns.mx("mx.broken.example").await.unwrap().answer,
            MxAnswer::NoDomain
        );
    }

    #[tokio::test]
    async fn txt_records_are_returned_one_string_each() {
        let dns = FakeResolver::new();
        dns.set_txt("example.org", &["v=spf1 -all", "other"]);
        assert_eq!(
            dns.txt("example.org").await.unwrap(),
            vec!["v=spf1 -all".to_string(), "other".to_string()]
        );
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.to_string(),
        }
    }

    #[tokio::test]
    async fn srv_records_by_priority_then_weight() {
        let dns = FakeResolver::new();
        dns.set_srv(
            "_imaps._tcp.Example.org.",
            &[
                (10, 5, 993, "b.example.org"),
                (0, 1, 993, "Mail.Example.org."),
                (10, 50, 993, "a.example.org"),
            ],
        );
        assert_eq!(
            dns.srv("_imaps._tcp.example.org").await.unwrap(),
            vec![
                srv(0, 1, 993, "mail.example.org"),
                srv(10, 50, 993, "a.example.org"),
                srv(10, 5, 993, "b.example.org"),
            ]
        );
        assert!(dns.srv("_pop3s._tcp.example.org").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn srv_root_target_means_not_offered() {
        let dns = FakeResolver::new();
        dns.set_srv("_imap._tcp.example.org", &[(0, 0, 0, ".")]);
        assert_eq!(
            dns.srv("_imap._tcp.example.org").await.unwrap(),
            vec![srv(0, 0, 0, "")]
        );
    }

    #[tokio::test]
    async fn cname_answers_the_target_of_the_name_itself() {
        let dns = FakeResolver::new();
        dns.set_cname("AutoConfig.example.org", "Mail.Host.test.");
        assert_eq!(
            dns.cname("autoconfig.example.org.").await.unwrap(),
            Some("mail.host.test".to_string())
        );
        assert_eq!(dns.cname("autodiscover.example.org").await.unwrap(), None);
        // A name with only a CNAME exists: its MX lookup is not NXDOMAIN.
        assert_eq!(
            dns.mx("autoconfig.example.org").await.unwrap().answer,
            MxAnswer::Implicit
        );
    }

    #[tokio::test]
    async fn srv_and_cname_of_failing_names_give_dns_errors() {
        let dns = FakeResolver::new();
        dns.set_srv(
            "_imaps._tcp.broken.example",
            &[(0, 1, 993, "mail.host.test")],
        );
        dns.set_cname("autoconfig.broken.example", "mail.host.test");
        dns.set_failing("_imaps._tcp.broken.example");
        dns.set_failing("autoconfig.broken.example");
        let error = dns.srv("_imaps._tcp.broken.example").await.unwrap_err();
        assert_eq!(error.name, "_imaps._tcp.broken.example");
        assert!(dns.cname("autoconfig.broken.example").await.is_err());
    }

    #[tokio::test]
    async fn shared_as_dyn_resolver_and_changed_later() {
        let fake = Arc::new(FakeResolver::new());
        let resolver: Arc<dyn Resolver> = fake.clone();
        assert_eq!(
            resolver.mx("example.org").await.unwrap().answer,
            MxAnswer::NoDomain
        );
        fake.set_mx("example.org", &[(10, "mx.example.org")]);
        assert_eq!(
            resolver.mx("example.org").await.unwrap().answer,
            MxAnswer::Hosts(vec![host(10, "mx.example.org")])
        );
    }
}
