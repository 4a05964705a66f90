//! [`HickoryResolver`]: the [`Resolver`] over the network, with `hickory-resolver`.
//!
//! Three parts, so that DNSSEC never stands in the way of ordinary delivery:
//! - a plain, non-validating, caching hickory resolver answers addresses, TXT, SRV and CNAME,
//!   and the MX question whenever the DNSSEC machinery cannot;
//! - in [`DnssecMode::TrustAd`], a small stub client (`AdClient`) asks the DANE questions
//!   (MX and TLSA) itself, with the AD and DO bits set, and reads the AD bit of the response
//!   header (RFC 6840 §5.7, RFC 4035 §3.2.3). The hickory resolver cannot do this: it sets DO
//!   only when it validates itself, and its negative answers (NXDOMAIN/NODATA) come back as
//!   errors without the response header, so the AD bit of an authenticated denial is lost;
//! - in [`DnssecMode::Validate`], a second hickory resolver with in-process validation from the
//!   root trust anchor answers only the DANE questions, from the per-record `Proof`s.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use hickory_proto::dnssec::Proof;
use hickory_proto::op::{DnsRequest, DnsRequestOptions, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::tcp::TcpClientStream;
use hickory_resolver::net::udp::UdpClientStream;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer};
use hickory_resolver::net::{DnsError as NetDnsError, NetError, NoRecords};
use rand::seq::SliceRandom;

use crate::{
    DnsConfig, DnsError, DnssecMode, MxAnswer, MxHost, MxLookup, Resolver, SrvRecord, Tlsa,
    TlsaAnswer, sort_srv,
};

/// CNAME chains longer than this are treated as a failure (hickory's own limit is 8).
const MAX_CNAME_CHAIN: usize = 8;

/// The EDNS(0) UDP payload size the stub client announces (RFC 6891 §6.2.5; 1232 is the
/// DNS Flag Day 2020 value, which avoids IP fragmentation). Larger answers come over TCP.
const EDNS_PAYLOAD: u16 = 1232;

/// A [`Resolver`] asking DNS servers over the network.
///
/// Built from the `[dns]` configuration with [`HickoryResolver::new`]. Lookups need a tokio
/// runtime. Names are always asked as fully qualified names, so the search list of
/// `/etc/resolv.conf` never applies, and `/etc/hosts` is not consulted: mail routing follows DNS.
pub struct HickoryResolver {
    /// Non-validating: everything that is not a DANE question, and the fallback for MX.
    plain: TokioResolver,
    /// How the DANE questions are asked.
    dnssec: Dnssec,
}

/// The DNSSEC half of [`HickoryResolver`], one per [`DnssecMode`].
enum Dnssec {
    Off,
    TrustAd(AdClient),
    /// Boxed: a resolver is large next to the other variants.
    Validate(Box<TokioResolver>),
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.dnssec {
            Dnssec::Off => "off".to_string(),
            Dnssec::TrustAd(client) => format!("trust AD of {:?}", client.servers),
            Dnssec::Validate(_) => "validate".to_string(),
        };
        f.debug_struct("HickoryResolver")
            .field("dnssec", &mode)
            .finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// Builds the resolver: `config.servers`, or the system's resolvers (`/etc/resolv.conf`)
    /// when it is empty, over UDP with TCP fallback, `config.timeout` per query.
    ///
    /// Fails when the system configuration cannot be read, or when [`DnssecMode::TrustAd`] is
    /// asked for but no server is reachable over plain DNS (UDP or TCP).
    pub fn new(config: &DnsConfig) -> Result<HickoryResolver, DnsError> {
        let (resolver_config, mut options) = if config.servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|error| config_error(error.to_string()))?
        } else {
            let servers = config.servers.iter().map(|addr| {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                server
            });
            (
                ResolverConfig::from_name_servers(servers.collect()),
                ResolverOpts::default(),
            )
        };
        options.timeout = config.timeout;
        options.use_hosts_file = ResolveHosts::Never;
        // The default cache (8192 entries, bounded by the records' TTLs) is kept.
        options.validate = false;
        options.trust_anchor = None;

        let dnssec = match config.dnssec {
            DnssecMode::Off => Dnssec::Off,
            DnssecMode::TrustAd => {
                let servers = plain_dns_servers(&resolver_config);
                if servers.is_empty() {
                    return Err(config_error(
                        "DNSSEC mode \"trust AD\" needs a resolver reachable over UDP or TCP"
                            .to_string(),
                    ));
                }
                Dnssec::TrustAd(AdClient {
                    servers,
                    timeout: config.timeout,
                    provider: TokioRuntimeProvider::default(),
                })
            }
            DnssecMode::Validate => {
                let mut validating = options.clone();
                // Root trust anchor: hickory's built-in default (the root KSKs).
                validating.validate = true;
                Dnssec::Validate(Box::new(build(resolver_config.clone(), validating)?))
            }
        };
        let plain = build(resolver_config, options)?;
        Ok(HickoryResolver { plain, dnssec })
    }

    /// MX from the plain resolver: never depends on DNSSEC; `secure` is false.
    async fn plain_mx(&self, domain: &str, name: Name) -> Result<MxLookup, DnsError> {
        let answer = match self.plain.mx_lookup(name).await {
            Ok(lookup) => mx_answer(mx_records(rdata(&lookup))),
            Err(error) => negative_mx(domain, &error)?,
        };
        Ok(MxLookup {
            answer,
            secure: false,
        })
    }

    /// MX in [`DnssecMode::Validate`]: asked of the validating resolver; if that fails for any
    /// reason (bogus, indeterminate, a validator fault), the plain resolver answers and the
    /// answer is insecure, so DANE does not apply but mail still flows (see the crate docs).
    async fn validated_mx(
        &self,
        validating: &TokioResolver,
        domain: &str,
        name: Name,
    ) -> Result<MxLookup, DnsError> {
        match validating.mx_lookup(name.clone()).await {
            Ok(lookup) => {
                let secure = security(lookup.answers().iter()) == Security::Secure;
                let answer = mx_answer(mx_records(rdata(&lookup)));
                Ok(MxLookup { answer, secure })
            }
            Err(NetError::Dns(NetDnsError::NoRecordsFound(no_records)))
                if matches!(
                    no_records.response_code,
                    ResponseCode::NXDomain | ResponseCode::NoError
                ) =>
            {
                let answer = if no_records.response_code == ResponseCode::NXDomain {
                    MxAnswer::NoDomain
                } else {
                    MxAnswer::Implicit
                };
                Ok(MxLookup {
                    answer,
                    secure: denial_is_secure(&no_records),
                })
            }
            Err(error) => {
                tracing::warn!(
                    domain,
                    %error,
                    "DNSSEC-validated MX lookup failed; using the unvalidated answer (no DANE)"
                );
                self.plain_mx(domain, name).await
            }
        }
    }

    /// One address family of [`Resolver::addresses`]: empty when the name has none.
    async fn family(&self, name: Name, record_type: RecordType) -> Result<Vec<IpAddr>, NetError> {
        let lookup = match record_type {
            RecordType::AAAA => self.plain.ipv6_lookup(name).await,
            _ => self.plain.ipv4_lookup(name).await,
        };
        match lookup {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })
                .collect()),
            Err(error) if is_negative(&error) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl Resolver for HickoryResolver {
    async fn mx(&self, domain: &str) -> Result<MxLookup, DnsError> {
        let domain = normalize(domain);
        let Some(name) = fqdn(&domain) else {
            // Not a valid domain name: it cannot exist in the DNS.
            return Ok(MxLookup {
                answer: MxAnswer::NoDomain,
                secure: false,
            });
        };
        match &self.dnssec {
            Dnssec::Off => self.plain_mx(&domain, name).await,
            Dnssec::TrustAd(client) => {
                let message = client.query(&domain, &name, RecordType::MX).await?;
                let answer = if message.response_code == ResponseCode::NXDomain {
                    MxAnswer::NoDomain
                } else {
                    let records = chase(&message, &name, RecordType::MX).ok_or_else(|| {
                        dns_error(&domain, "CNAME chain too long or looping".to_string())
                    })?;
                    mx_answer(mx_records(records.into_iter()))
                };
                Ok(MxLookup {
                    answer,
                    secure: message.authentic_data,
                })
            }
            Dnssec::Validate(validating) => self.validated_mx(validating, &domain, name).await,
        }
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let host = normalize(host);
        let Some(name) = fqdn(&host) else {
            return Ok(Vec::new());
        };
        let (v6, v4) = tokio::join!(
            self.family(name.clone(), RecordType::AAAA),
            self.family(name, RecordType::A)
        );
        match (v6, v4) {
            (Ok(mut v6), Ok(v4)) => {
                v6.extend(v4);
                Ok(v6)
            }
            // One family failed: the addresses of the other are still usable, but "none" cannot
            // be concluded from a failure.
            (Ok(found), Err(error)) | (Err(error), Ok(found)) if !found.is_empty() => {
                tracing::debug!(host, %error, "one address family failed");
                Ok(found)
            }
            (Err(error), _) | (_, Err(error)) => Err(net_error(&host, &error)),
        }
    }

    async fn tlsa(&self, port: u16, host: &str) -> Result<TlsaAnswer, DnsError> {
        let host = normalize(host);
        // RFC 7672 §2.2.3 / RFC 6698 §3: the TLSA owner name is _port._tcp.host.
        let owner = format!("_{port}._tcp.{host}");
        let Some(name) = fqdn(&owner) else {
            return Err(dns_error(&owner, "not a valid domain name".to_string()));
        };
        match &self.dnssec {
            // No DNSSEC: DANE cannot apply, so there is no point in asking.
            Dnssec::Off => Ok(TlsaAnswer::Insecure),
            Dnssec::TrustAd(client) => {
                let message = client.query(&owner, &name, RecordType::TLSA).await?;
                let records = if message.response_code == ResponseCode::NXDomain {
                    Vec::new()
                } else {
                    let records = chase(&message, &name, RecordType::TLSA).ok_or_else(|| {
                        dns_error(&owner, "CNAME chain too long or looping".to_string())
                    })?;
                    tlsa_records(records.into_iter())
                };
                // The AD bit covers the records and an authenticated denial alike.
                if message.authentic_data {
                    Ok(TlsaAnswer::Secure(records))
                } else {
                    Ok(TlsaAnswer::Insecure)
                }
            }
            Dnssec::Validate(validating) => validated_tlsa(validating, &owner, name).await,
        }
    }

    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let name = normalize(name);
        let Some(fq) = fqdn(&name) else {
            return Ok(Vec::new());
        };
        match self.plain.txt_lookup(fq).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    // RFC 7208 §3.3, RFC 6376 §3.6.2.2: a record's strings are concatenated.
                    // Joined as bytes first, so a character split across two strings
                    // survives the (lossy) UTF-8 decoding.
                    RData::TXT(txt) => {
                        let bytes: Vec<u8> = txt.txt_data.iter().flatten().copied().collect();
                        Some(String::from_utf8_lossy(&bytes).into_owned())
                    }
                    _ => None,
                })
                .collect()),
            Err(error) if is_negative(&error) => Ok(Vec::new()),
            Err(error) => Err(net_error(&name, &error)),
        }
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsError> {
        let name = normalize(name);
        let Some(fq) = fqdn(&name) else {
            return Ok(Vec::new());
        };
        match self.plain.srv_lookup(fq).await {
            Ok(lookup) => {
                let mut records = srv_records(rdata(&lookup));
                sort_srv(&mut records);
                Ok(records)
            }
            Err(error) if is_negative(&error) => Ok(Vec::new()),
            Err(error) => Err(net_error(&name, &error)),
        }
    }

    async fn cname(&self, name: &str) -> Result<Option<String>, DnsError> {
        let name = normalize(name);
        let Some(fq) = fqdn(&name) else {
            return Ok(None);
        };
        match self.plain.lookup(fq.clone(), RecordType::CNAME).await {
            // Only the CNAME owned by the name asked: a resolver may add the rest of a chain.
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .find_map(|record| match &record.data {
                    RData::CNAME(CNAME(target)) if record.name == fq => {
                        Some(normalize(&target.to_ascii()))
                    }
                    _ => None,
                })),
            Err(error) if is_negative(&error) => Ok(None),
            Err(error) => Err(net_error(&name, &error)),
        }
    }
}

/// TLSA in [`DnssecMode::Validate`]. RFC 7672 §2.1.1: a bogus or indeterminate answer is a
/// lookup error, which the SMTP client treats as a temporary failure, never as "no TLSA".
async fn validated_tlsa(
    validating: &TokioResolver,
    owner: &str,
    name: Name,
) -> Result<TlsaAnswer, DnsError> {
    match validating.tlsa_lookup(name).await {
        Ok(lookup) => match security(lookup.answers().iter()) {
            Security::Secure => Ok(TlsaAnswer::Secure(tlsa_records(rdata(&lookup)))),
            Security::Insecure => Ok(TlsaAnswer::Insecure),
            Security::Unusable(proof) => Err(dns_error(owner, format!("DNSSEC status {proof}"))),
        },
        // NXDOMAIN or NODATA: securely denied, or in an unsigned zone.
        Err(NetError::Dns(NetDnsError::NoRecordsFound(no_records)))
            if matches!(
                no_records.response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            if denial_is_secure(&no_records) {
                Ok(TlsaAnswer::Secure(Vec::new()))
            } else {
                Ok(TlsaAnswer::Insecure)
            }
        }
        // A denial whose NSEC/NSEC3 proof is insecure (opt-out, too many iterations).
        Err(NetError::Dns(NetDnsError::Nsec {
            proof: Proof::Insecure,
            ..
        })) => Ok(TlsaAnswer::Insecure),
        Err(error) => Err(net_error(owner, &error)),
    }
}

/// The DNSSEC status of a set of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Every record was validated (and there was at least one).
    Secure,
    /// Some record is provably insecure (unsigned zone), none unusable.
    Insecure,
    /// Bogus or indeterminate: RFC 7672 §2.1.1 lookup error.
    Unusable(Proof),
}

/// The status of the records of an answer (RRSIGs carry no proof of their own and are skipped).
fn security<'a>(records: impl Iterator<Item = &'a Record>) -> Security {
    let mut status = None;
    for record in records.filter(|record| record.record_type() != RecordType::RRSIG) {
        match record.proof {
            Proof::Secure => {
                status.get_or_insert(Security::Secure);
            }
            Proof::Insecure => status = Some(Security::Insecure),
            proof @ (Proof::Bogus | Proof::Indeterminate) => return Security::Unusable(proof),
        }
    }
    status.unwrap_or(Security::Insecure)
}

/// Whether a validated NXDOMAIN/NODATA was proven by signed NSEC/NSEC3 records.
fn denial_is_secure(no_records: &NoRecords) -> bool {
    no_records
        .authorities
        .as_deref()
        .is_some_and(|authorities| security(authorities.iter()) == Security::Secure)
}

/// The stub client of [`DnssecMode::TrustAd`]: asks the configured resolvers directly, so that
/// the query carries the AD and DO bits and the whole response (header included) is seen.
struct AdClient {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    /// Owns the background tasks of the UDP and TCP exchanges (dropping it aborts them).
    provider: TokioRuntimeProvider,
}

impl AdClient {
    /// Asks each server in turn until one gives an answer (NOERROR or NXDOMAIN). Timeouts,
    /// SERVFAIL (which a validating resolver also returns for bogus data), REFUSED and the
    /// like move on to the next server, and become a [`DnsError`] when none is left.
    async fn query(
        &self,
        display: &str,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, DnsError> {
        let mut failure = "no DNS server".to_string();
        for &server in &self.servers {
            match self.query_server(server, name, record_type).await {
                Ok(message) => match message.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(message),
                    code => failure = format!("{code} from {server}"),
                },
                Err(error) => failure = format!("{error} ({server})"),
            }
        }
        Err(dns_error(display, failure))
    }

    async fn query_server(
        &self,
        server: SocketAddr,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, NetError> {
        let request = ad_request(name, record_type);
        // The UDP stream checks the source address, message ID and question of the response.
        let udp = UdpClientStream::builder(server, self.provider.clone())
            .with_timeout(Some(self.timeout))
            .exchange();
        let mut response = udp.send(request.clone()).first_answer().await?;
        if response.truncation {
            // RFC 1035 §4.2.2, RFC 7766 §5: a truncated answer is asked again over TCP.
            let tcp =
                TcpClientStream::exchange(server, None, self.timeout, None, self.provider.clone())
                    .await?;
            response = tcp.send(request).first_answer().await?;
        }
        let message = response.into_message();
        // RFC 1035 §7.3: the question must be the one asked.
        let matches = message.queries.len() == 1
            && message.queries[0].name() == name
            && message.queries[0].query_type() == record_type;
        if !matches {
            return Err(NetError::from("response question does not match the query"));
        }
        Ok(message)
    }
}

/// A recursive query with the AD bit (RFC 6840 §5.7: "please tell me whether you validated")
/// and the EDNS DO bit (RFC 3225, RFC 4035 §3.2.1), since some validating resolvers report AD
/// only to DO queries. CD stays clear, so the resolver validates and refuses bogus data.
fn ad_request(name: &Name, record_type: RecordType) -> DnsRequest {
    let mut options = DnsRequestOptions::default();
    options.use_edns = true;
    options.edns_payload_len = EDNS_PAYLOAD;
    options.edns_set_dnssec_ok = true;
    options.recursion_desired = true;
    let mut request = DnsRequest::from_query(Query::query(name.clone(), record_type), options);
    request.metadata.authentic_data = true;
    request.metadata.checking_disabled = false;
    request
}

/// The records of `record_type` for `name` in a response's answer section, following a CNAME
/// chain the resolver included (RFC 1034 §3.6.2, RFC 7672 §2.2.3 for TLSA). `None` when the
/// chain is too long.
fn chase<'a>(message: &'a Message, name: &Name, record_type: RecordType) -> Option<Vec<&'a RData>> {
    let mut current = name.clone();
    for _ in 0..=MAX_CNAME_CHAIN {
        let found: Vec<&RData> = message
            .answers
            .iter()
            .filter(|record| record.name == current && record.record_type() == record_type)
            .map(|record| &record.data)
            .collect();
        if !found.is_empty() {
            return Some(found);
        }
        let target = message
            .answers
            .iter()
            .find_map(|record| match &record.data {
                RData::CNAME(CNAME(target)) if record.name == current => Some(target.clone()),
                _ => None,
            });
        match target {
            Some(target) => current = target,
            None => return Some(Vec::new()),
        }
    }
    None
}

/// The (preference, exchange) pairs among `records`.
fn mx_records<'a>(records: impl Iterator<Item = &'a RData>) -> Vec<(u16, Name)> {
    records
        .filter_map(|data| match data {
            RData::MX(mx) => Some((mx.preference, mx.exchange.clone())),
            _ => None,
        })
        .collect()
}

/// The TLSA records among `records`.
fn tlsa_records<'a>(records: impl Iterator<Item = &'a RData>) -> Vec<Tlsa> {
    records
        .filter_map(|data| match data {
            RData::TLSA(tlsa) => Some(Tlsa {
                usage: tlsa.cert_usage.into(),
                selector: tlsa.selector.into(),
                matching: tlsa.matching.into(),
                data: tlsa.cert_data.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The SRV records among `records`; the root target (`.`) becomes the empty string.
fn srv_records<'a>(records: impl Iterator<Item = &'a RData>) -> Vec<SrvRecord> {
    records
        .filter_map(|data| match data {
            RData::SRV(srv) => Some(SrvRecord {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                target: normalize(&srv.target.to_ascii()),
            }),
            _ => None,
        })
        .collect()
}

/// The record data of a hickory lookup's answers.
fn rdata(lookup: &Lookup) -> impl Iterator<Item = &RData> {
    lookup.answers().iter().map(|record| &record.data)
}

/// What a set of MX records means (RFC 5321 §5.1, RFC 7505).
fn mx_answer(records: Vec<(u16, Name)>) -> MxAnswer {
    if records.is_empty() {
        // RFC 5321 §5.1: no MX records but the name exists: the domain is its own exchange.
        return MxAnswer::Implicit;
    }
    // RFC 7505 §3: a single MX with preference 0 and the root as exchange: no mail.
    if let [(0, exchange)] = records.as_slice()
        && exchange.is_root()
    {
        return MxAnswer::NullMx;
    }
    // RFC 7505 §4.3: a "." among other MX records is a misconfiguration; it is ignored.
    let mut hosts: Vec<MxHost> = records
        .into_iter()
        .filter(|(_, exchange)| !exchange.is_root())
        .map(|(preference, exchange)| MxHost {
            preference,
            exchange: normalize(&exchange.to_ascii()),
        })
        .collect();
    if hosts.is_empty() {
        // Only root exchanges (several "MX n ."): the domain plainly declared no mail.
        return MxAnswer::NullMx;
    }
    // RFC 5321 §5.1: lowest preference first; equal preferences in random order (shuffle,
    // then a stable sort keeps the random order within each preference).
    hosts.shuffle(&mut rand::rng());
    hosts.sort_by_key(|host| host.preference);
    MxAnswer::Hosts(hosts)
}

/// NXDOMAIN and NODATA of the plain resolver as MX answers; other failures are errors.
fn negative_mx(domain: &str, error: &NetError) -> Result<MxAnswer, DnsError> {
    match error {
        NetError::Dns(NetDnsError::NoRecordsFound(no_records)) => match no_records.response_code {
            ResponseCode::NXDomain => Ok(MxAnswer::NoDomain),
            // NODATA: the name exists with other types (RFC 5321 §5.1 implicit MX).
            ResponseCode::NoError => Ok(MxAnswer::Implicit),
            _ => Err(net_error(domain, error)),
        },
        _ => Err(net_error(domain, error)),
    }
}

/// Whether an error of the plain resolver is NXDOMAIN or NODATA (not a failure).
fn is_negative(error: &NetError) -> bool {
    matches!(
        error,
        NetError::Dns(NetDnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain | ResponseCode::NoError,
            ..
        }))
    )
}

/// The servers of a resolver configuration that speak plain DNS, with their port.
fn plain_dns_servers(config: &ResolverConfig) -> Vec<SocketAddr> {
    let mut servers = Vec::new();
    for server in config.name_servers() {
        let port = server.connections.iter().find_map(|connection| {
            matches!(
                connection.protocol,
                ProtocolConfig::Udp | ProtocolConfig::Tcp
            )
            .then_some(connection.port)
        });
        if let Some(port) = port {
            let addr = SocketAddr::new(server.ip, port);
            if !servers.contains(&addr) {
                servers.push(addr);
            }
        }
    }
    servers
}

fn build(config: ResolverConfig, options: ResolverOpts) -> Result<TokioResolver, DnsError> {
    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options)
        .build()
        .map_err(|error| config_error(error.to_string()))
}

/// Lower case, without the trailing dot.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The fully qualified form of a normalized name, so that no search list applies; `None` for
/// names that are not valid domain names.
fn fqdn(name: &str) -> Option<Name> {
    if name.is_empty() {
        return None;
    }
    Name::from_ascii(format!("{name}.")).ok()
}

fn dns_error(name: &str, reason: String) -> DnsError {
    DnsError {
        name: name.to_string(),
        reason,
    }
}

fn net_error(name: &str, error: &NetError) -> DnsError {
    let reason = match error {
        NetError::Dns(NetDnsError::DnssecBogus) => "DNSSEC validation failed (bogus)".to_string(),
        other => other.to_string(),
    };
    dns_error(name, reason)
}

fn config_error(reason: String) -> DnsError {
    dns_error("(resolver configuration)", reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn null_mx_is_a_single_root_with_preference_zero() {
        assert_eq!(mx_answer(vec![(0, Name::root())]), MxAnswer::NullMx);
        // Preference other than 0: still no usable host.
        assert_eq!(mx_answer(vec![(10, Name::root())]), MxAnswer::NullMx);
    }

    #[test]
    fn root_among_other_mx_records_is_ignored() {
        assert_eq!(
            mx_answer(vec![(0, Name::root()), (10, name("MX.Example.org."))]),
            MxAnswer::Hosts(vec![MxHost {
                preference: 10,
                exchange: "mx.example.org".to_string(),
            }])
        );
    }

    #[test]
    fn no_mx_records_mean_implicit_mx() {
        assert_eq!(mx_answer(Vec::new()), MxAnswer::Implicit);
    }

    #[test]
    fn equal_preferences_are_shuffled_but_sorted_overall() {
        let records = vec![
            (20, name("c.example.")),
            (10, name("a.example.")),
            (10, name("b.example.")),
            (5, name("first.example.")),
        ];
        let mut seen_orders = std::collections::HashSet::new();
        for _ in 0..200 {
            let MxAnswer::Hosts(hosts) = mx_answer(records.clone()) else {
                panic!("hosts expected");
            };
            let preferences: Vec<u16> = hosts.iter().map(|host| host.preference).collect();
            assert_eq!(preferences, vec![5, 10, 10, 20]);
            assert_eq!(hosts[0].exchange, "first.example");
            assert_eq!(hosts[3].exchange, "c.example");
            seen_orders.insert(hosts[1].exchange.clone());
        }
        // 200 draws of a fair coin: both orders show up (failure chance 2^-199).
        assert_eq!(seen_orders.len(), 2);
    }

    #[test]
    fn cname_chains_are_followed_in_raw_answers() {
        let mut message = Message::response(1, hickory_proto::op::OpCode::Query);
        message.add_answer(Record::from_rdata(
            name("_25._tcp.mx.example."),
            60,
            RData::CNAME(CNAME(name("tlsa.example."))),
        ));
        message.add_answer(Record::from_rdata(
            name("tlsa.example."),
            60,
            RData::TLSA(hickory_proto::rr::rdata::TLSA::new(
                3.into(),
                1.into(),
                1.into(),
                vec![1, 2, 3],
            )),
        ));
        let found = chase(&message, &name("_25._TCP.mx.example."), RecordType::TLSA).unwrap();
        assert_eq!(
            tlsa_records(found.into_iter()),
            vec![Tlsa {
                usage: 3,
                selector: 1,
                matching: 1,
                data: vec![1, 2, 3],
            }]
        );
        // A loop is not followed forever.
        let mut looping = Message::response(1, hickory_proto::op::OpCode::Query);
        looping.add_answer(Record::from_rdata(
            name("a.example."),
            60,
            RData::CNAME(CNAME(name("a.example."))),
        ));
        assert!(chase(&looping, &name("a.example."), RecordType::MX).is_none());
    }

    #[test]
    fn ad_request_sets_ad_and_do() {
        let request = ad_request(&name("example.org."), RecordType::MX);
        assert!(request.metadata.authentic_data);
        assert!(!request.metadata.checking_disabled);
        assert!(request.metadata.recursion_desired);
        let edns = request.edns.as_ref().expect("EDNS");
        assert!(edns.flags().dnssec_ok);
    }

    #[test]
    fn security_of_records() {
        let mut secure = Record::from_rdata(
            name("a.example."),
            60,
            RData::A(hickory_proto::rr::rdata::A::new(1, 2, 3, 4)),
        );
        secure.proof = Proof::Secure;
        let mut insecure = secure.clone();
        insecure.proof = Proof::Insecure;
        let mut bogus = secure.clone();
        bogus.proof = Proof::Bogus;
        assert_eq!(security([&secure].into_iter()), Security::Secure);
        assert_eq!(
            security([&secure, &insecure].into_iter()),
            Security::Insecure
        );
        assert_eq!(
            security([&secure, &bogus].into_iter()),
            Security::Unusable(Proof::Bogus)
        );
        assert_eq!(security(std::iter::empty()), Security::Insecure);
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("MX.Example.ORG."), "mx.example.org");
        assert_eq!(fqdn("example.org"), Some(name("example.org.")));
        assert_eq!(fqdn(""), None);
        assert_eq!(fqdn("a..b"), None);
    }

    #[tokio::test]
    async fn every_mode_constructs() {
        for dnssec in [DnssecMode::Off, DnssecMode::TrustAd, DnssecMode::Validate] {
            let config = DnsConfig {
                servers: vec!["127.0.0.1:53".parse().unwrap()],
                dnssec,
                timeout: Duration::from_secs(1),
            };
            let resolver = HickoryResolver::new(&config).unwrap();
            assert!(format!("{resolver:?}").contains("HickoryResolver"));
        }
    }
}
