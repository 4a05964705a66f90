//! A real DNS server on loopback for integration tests: [`DnsServer`] answers from a [`Zone`]
//! built in code, over UDP and TCP on the same `127.0.0.1` port.
//!
//! It plays the part of the validating recursive resolver an administrator would run next to
//! the server (`[dns] servers = ["127.0.0.1:…"]`, `dnssec = "trust-ad"`): names marked
//! [`Zone::secure`] are answered with the AD bit, as a validating resolver answers for signed
//! zones. It signs nothing, so it cannot stand in for a signed zone in front of an in-process
//! validator.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use postwerk_testkit::dns::{DnsServer, Zone};
//!
//! let mut zone = Zone::new();
//! zone.mx("example.org", 10, "mx.example.org");
//! zone.a("mx.example.org", "127.0.0.1".parse()?);
//! zone.secure("example.org");
//! let server = DnsServer::start(zone)?;
//! let addr = server.addr(); // give this to the resolver
//! server.zone().servfail("example.org"); // change the zone between steps
//! # Ok(())
//! # }
//! ```
//!
//! Every record has TTL 0, so resolvers do not cache answers and tests may change the zone
//! between steps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, bail};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, SRV, TLSA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record};

/// How often the server threads look at the stop flag while idle.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Idle TCP connections are closed after this long.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The largest UDP answer the server sends when the query announces a larger EDNS buffer.
const MAX_UDP_PAYLOAD: u16 = 4096;

/// How many CNAMEs the server follows inside its own zone.
const MAX_CNAME_CHAIN: usize = 8;

/// The records a [`DnsServer`] answers with. Names are case-insensitive; a trailing dot is
/// ignored. Methods panic on strings that are not valid domain names (a bug in the test).
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: BTreeMap<String, Vec<RData>>,
    secure: BTreeSet<String>,
    servfail: BTreeSet<String>,
}

impl Zone {
    /// An empty zone: every name is NXDOMAIN.
    pub fn new() -> Zone {
        Zone::default()
    }

    /// Adds any record (escape hatch for types without a helper).
    pub fn record(&mut self, name: &str, data: RData) -> &mut Zone {
        self.records.entry(key(name)).or_default().push(data);
        self
    }

    /// Adds `MX preference exchange` to `domain`.
    pub fn mx(&mut self, domain: &str, preference: u16, exchange: &str) -> &mut Zone {
        self.record(domain, RData::MX(MX::new(preference, fqdn(exchange))))
    }

    /// Adds the RFC 7505 null MX (`MX 0 .`) to `domain`.
    pub fn null_mx(&mut self, domain: &str) -> &mut Zone {
        self.record(domain, RData::MX(MX::new(0, Name::root())))
    }

    /// Adds an A record.
    pub fn a(&mut self, name: &str, ip: Ipv4Addr) -> &mut Zone {
        self.record(name, RData::A(A(ip)))
    }

    /// Adds an AAAA record.
    pub fn aaaa(&mut self, name: &str, ip: Ipv6Addr) -> &mut Zone {
        self.record(name, RData::AAAA(AAAA(ip)))
    }

    /// Adds a CNAME from `name` to `target` (answered with the chain, as a recursive resolver
    /// does, when the target is in this zone).
    pub fn cname(&mut self, name: &str, target: &str) -> &mut Zone {
        self.record(name, RData::CNAME(CNAME(fqdn(target))))
    }

    /// Adds an SRV record at `name` (RFC 2782: priority, weight, port, target; a target of
    /// `"."` says the service is not offered there, RFC 6186 §3.4).
    pub fn srv(
        &mut self,
        name: &str,
        priority: u16,
        weight: u16,
        port: u16,
        target: &str,
    ) -> &mut Zone {
        self.record(
            name,
            RData::SRV(SRV::new(priority, weight, port, fqdn(target))),
        )
    }

    /// Adds a TLSA record at `_port._tcp.host` (RFC 6698 §2: usage, selector, matching type,
    /// association data).
    pub fn tlsa(
        &mut self,
        port: u16,
        host: &str,
        usage: u8,
        selector: u8,
        matching: u8,
        data: &[u8],
    ) -> &mut Zone {
        let tlsa = TLSA::new(
            usage.into(),
            selector.into(),
            matching.into(),
            data.to_vec(),
        );
        self.record(&format!("_{port}._tcp.{host}"), RData::TLSA(tlsa))
    }

    /// Adds a TXT record; texts longer than 255 bytes are split into several strings of the
    /// same record (RFC 1035 §3.3.14), which readers join again.
    pub fn txt(&mut self, name: &str, text: &str) -> &mut Zone {
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(255).collect();
        let chunks = if chunks.is_empty() {
            vec![&b""[..]]
        } else {
            chunks
        };
        self.record(name, RData::TXT(TXT::from_bytes(chunks)))
    }

    /// Removes every record at `name` (not below it).
    pub fn remove(&mut self, name: &str) -> &mut Zone {
        self.records.remove(&key(name));
        self
    }

    /// Marks `name` and every name under it as DNSSEC-secure: their answers (records and
    /// denials alike) carry the AD bit when the query asks for it.
    pub fn secure(&mut self, name: &str) -> &mut Zone {
        self.secure.insert(key(name));
        self
    }

    /// Undoes [`Zone::secure`] for `name`.
    pub fn insecure(&mut self, name: &str) -> &mut Zone {
        self.secure.remove(&key(name));
        self
    }

    /// Makes every query for `name` or a name under it fail with SERVFAIL (what a validating
    /// resolver answers for bogus data, or for an unreachable zone).
    pub fn servfail(&mut self, name: &str) -> &mut Zone {
        self.servfail.insert(key(name));
        self
    }

    /// Undoes [`Zone::servfail`] for `name`.
    pub fn heal(&mut self, name: &str) -> &mut Zone {
        self.servfail.remove(&key(name));
        self
    }

    /// Whether `name` or one of its parents is in `set`.
    fn covered(set: &BTreeSet<String>, name: &str) -> bool {
        std::iter::successors(Some(name), |current| {
            current.split_once('.').map(|(_, parent)| parent)
        })
        // The root (`"."`, kept as `""`) covers every name.
        .chain(std::iter::once(""))
        .any(|candidate| set.contains(candidate))
    }

    /// Whether the name exists: it has records, or a name under it has (an empty
    /// non-terminal, RFC 8020).
    fn exists(&self, name: &str) -> bool {
        let suffix = format!(".{name}");
        self.records
            .keys()
            .any(|owner| owner == name || owner.ends_with(&suffix))
    }

    /// Builds the answer to `request` (already checked to be one IN query).
    fn answer(&self, request: &Message, response: &mut Message) {
        let Some(query) = request.queries.first() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return;
        };
        let qname = key(&query.name.to_ascii());
        let qtype = query.query_type;
        if Zone::covered(&self.servfail, &qname) {
            response.metadata.response_code = ResponseCode::ServFail;
            return;
        }

        let mut secure = Zone::covered(&self.secure, &qname);
        let mut current = qname.clone();
        let mut current_name = query.name.clone();
        let mut chain = 0;
        loop {
            let records = self.records.get(&current).map(Vec::as_slice).unwrap_or(&[]);
            let matching: Vec<&RData> = records
                .iter()
                .filter(|data| data.record_type() == qtype)
                .collect();
            if !matching.is_empty() {
                for data in matching {
                    response.add_answer(Record::from_rdata(
                        current_name.clone(),
                        0,
                        (*data).clone(),
                    ));
                }
                break;
            }
            // RFC 1034 §3.6.2: a CNAME stands for every type; a recursive resolver follows it.
            let cname = records.iter().find_map(|data| match data {
                RData::CNAME(CNAME(target)) => Some(target.clone()),
                _ => None,
            });
            if let Some(target) = cname
                && chain < MAX_CNAME_CHAIN
            {
                chain += 1;
                response.add_answer(Record::from_rdata(
                    current_name.clone(),
                    0,
                    RData::CNAME(CNAME(target.clone())),
                ));
                current = key(&target.to_ascii());
                current_name = target;
                if Zone::covered(&self.servfail, &current) {
                    response.metadata.response_code = ResponseCode::ServFail;
                    response.answers.clear();
                    return;
                }
                secure &= Zone::covered(&self.secure, &current);
                continue;
            }
            // No records of the type: NODATA if the name exists, NXDOMAIN otherwise, with the
            // SOA for negative caching (RFC 2308 §3; minimum 0, so nothing is cached).
            if !self.exists(&current) {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            response.add_authority(soa_for(&current));
            break;
        }
        // RFC 6840 §5.7 / RFC 4035 §3.2.3: a validating resolver sets AD only when the query
        // set AD or DO; a plain query gets no AD even for secure data.
        let wants_ad = request.metadata.authentic_data
            || request
                .edns
                .as_ref()
                .is_some_and(|edns| edns.flags().dnssec_ok);
        response.metadata.authentic_data = secure && wants_ad;
    }
}

/// The zone key of a name: lower case without the trailing dot.
fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// A fully qualified name from test input.
fn fqdn(name: &str) -> Name {
    let name = key(name);
    if name.is_empty() {
        return Name::root();
    }
    Name::from_ascii(format!("{name}."))
        .unwrap_or_else(|error| panic!("{name:?} is not a domain name: {error}"))
}

/// A made-up SOA for negative answers, at the last two labels of `name`.
fn soa_for(name: &str) -> Record {
    let labels: Vec<&str> = name.split('.').collect();
    let apex = labels[labels.len().saturating_sub(2)..].join(".");
    let apex_name = fqdn(&apex);
    let soa = SOA::new(
        fqdn(&format!("ns.{apex}")),
        fqdn(&format!("hostmaster.{apex}")),
        1,
        3600,
        600,
        86400,
        0,
    );
    Record::from_rdata(apex_name, 0, RData::SOA(soa))
}

/// One query the server received, for tests that check what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedQuery {
    /// The name asked, lower case without the trailing dot.
    pub name: String,
    /// The type asked, such as `"MX"` or `"TLSA"`.
    pub record_type: String,
    /// Whether the query had the AD bit (RFC 6840 §5.7).
    pub authentic_data: bool,
    /// Whether the query had the EDNS DO bit (RFC 3225).
    pub dnssec_ok: bool,
    /// Whether it came over TCP.
    pub tcp: bool,
}

struct Shared {
    zone: Mutex<Zone>,
    queries: Mutex<Vec<ReceivedQuery>>,
    stop: AtomicBool,
}

impl Shared {
    fn zone(&self) -> MutexGuard<'_, Zone> {
        // A test that panicked while holding the zone leaves it usable for the others.
        self.zone
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queries(&self) -> MutexGuard<'_, Vec<ReceivedQuery>> {
        self.queries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The wire answer to the wire query `bytes`, at most `limit` bytes long when given (UDP):
    /// a longer answer is replaced by a truncated one (TC), which makes the client retry over
    /// TCP. `None` when the query is too broken to answer.
    fn respond(&self, bytes: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let request = match Message::from_vec(bytes) {
            Ok(request) => request,
            Err(_) => {
                // FORMERR if at least the ID can be read (RFC 1035 §4.1.1).
                let id = u16::from_be_bytes(*bytes.first_chunk::<2>()?);
                let response = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
                return response.to_vec().ok();
            }
        };
        if request.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.metadata.authoritative = true;
        response.metadata.checking_disabled = request.metadata.checking_disabled;
        // Echo the question exactly as asked (case included, for 0x20 case randomization).
        response.add_queries(request.queries.iter().cloned());
        if let Some(edns) = &request.edns {
            let mut reply = Edns::new();
            reply.set_max_payload(MAX_UDP_PAYLOAD);
            // RFC 3225 §3: the DO bit is copied into the response.
            reply.set_dnssec_ok(edns.flags().dnssec_ok);
            response.set_edns(reply);
        }

        if request.metadata.op_code != OpCode::Query {
            response.metadata.response_code = ResponseCode::NotImp;
        } else if request.queries.len() != 1 {
            response.metadata.response_code = ResponseCode::FormErr;
        } else if request.queries[0].query_class != DNSClass::IN {
            response.metadata.response_code = ResponseCode::Refused;
        } else {
            let query = &request.queries[0];
            self.queries().push(ReceivedQuery {
                name: key(&query.name.to_ascii()),
                record_type: query.query_type.to_string(),
                authentic_data: request.metadata.authentic_data,
                dnssec_ok: request
                    .edns
                    .as_ref()
                    .is_some_and(|edns| edns.flags().dnssec_ok),
                tcp,
            });
            self.zone().answer(&request, &mut response);
        }

        let bytes = response.to_vec().ok()?;
        if tcp {
            return Some(bytes);
        }
        // RFC 6891 §6.2.3: the client's EDNS buffer size (at least 512) bounds a UDP answer.
        let limit = match &request.edns {
            Some(edns) => edns.max_payload().clamp(512, MAX_UDP_PAYLOAD),
            None => 512,
        };
        if bytes.len() <= usize::from(limit) {
            Some(bytes)
        } else {
            response.truncate().to_vec().ok()
        }
    }
}

/// A DNS server on `127.0.0.1`, UDP and TCP on the same port, answering from a [`Zone`]
/// (authoritatively, with RA set, like a recursive resolver for the test's names). Stops when
/// dropped.
pub struct DnsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds a free port on `127.0.0.1` for UDP and TCP and starts answering from `zone`.
    pub fn start(zone: Zone) -> anyhow::Result<DnsServer> {
        let (udp, tcp) = bind_pair()?;
        let addr = udp.local_addr()?;
        udp.set_read_timeout(Some(POLL_INTERVAL))?;
        tcp.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            zone: Mutex::new(zone),
            queries: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let udp_thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("dns-udp-{}", addr.port()))
                .spawn(move || serve_udp(&udp, &shared))?
        };
        let tcp_thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("dns-tcp-{}", addr.port()))
                .spawn(move || serve_tcp(&tcp, &shared))?
        };
        Ok(DnsServer {
            addr,
            shared,
            threads: vec![udp_thread, tcp_thread],
        })
    }

    /// The address to query (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The zone, to change records while the server runs (the next query sees the change).
    /// Do not hold the guard across a lookup: the server needs it to answer.
    pub fn zone(&self) -> MutexGuard<'_, Zone> {
        self.shared.zone()
    }

    /// Every query received so far, oldest first.
    pub fn queries(&self) -> Vec<ReceivedQuery> {
        self.shared.queries().clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A UDP socket and a TCP listener on the same free loopback port.
fn bind_pair() -> anyhow::Result<(UdpSocket, TcpListener)> {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").context("binding UDP on 127.0.0.1")?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr) {
            Ok(tcp) => return Ok((udp, tcp)),
            // The port is taken for TCP by someone else: try another.
            Err(error) if error.kind() == ErrorKind::AddrInUse => continue,
            Err(error) => return Err(error).context("binding TCP on 127.0.0.1"),
        }
    }
    bail!("no loopback port free for both UDP and TCP")
}

fn serve_udp(socket: &UdpSocket, shared: &Shared) {
    let mut buffer = [0u8; 65535];
    while !shared.stop.load(Ordering::SeqCst) {
        let (len, peer) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            // ICMP port unreachable from an earlier reply and the like: keep serving.
            Err(_) => continue,
        };
        if let Some(answer) = shared.respond(&buffer[..len], false) {
            let _ = socket.send_to(&answer, peer);
        }
    }
}

fn serve_tcp(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = shared.clone();
                // Connections end on EOF, error, idle timeout or server stop; not joined.
                let _ = std::thread::Builder::new()
                    .name("dns-tcp-conn".to_string())
                    .spawn(move || serve_connection(stream, &shared));
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(POLL_INTERVAL);
            }
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// RFC 1035 §4.2.2, RFC 7766 §8: each message is preceded by its length in two bytes; several
/// queries may follow on one connection.
fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(TCP_IDLE)).is_err() {
        return;
    }
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let mut length = [0u8; 2];
        if stream.read_exact(&mut length).is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(length))];
        if stream.read_exact(&mut query).is_err() {
            return;
        }
        let Some(answer) = shared.respond(&query, true) else {
            continue;
        };
        let Ok(answer_length) = u16::try_from(answer.len()) else {
            return;
        };
        let mut framed = answer_length.to_be_bytes().to_vec();
        framed.extend_from_slice(&answer);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::RecordType;

    fn ask(server: &DnsServer, name: &str, record_type: RecordType, ad: bool) -> Message {
        let mut request = Message::query();
        request.metadata.recursion_desired = true;
        request.metadata.authentic_data = ad;
        request.add_query(Query::query(Name::from_ascii(name).unwrap(), record_type));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        request.set_edns(edns);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        socket
            .send_to(&request.to_vec().unwrap(), server.addr())
            .unwrap();
        let mut buffer = [0u8; 4096];
        let (len, _) = socket.recv_from(&mut buffer).unwrap();
        let response = Message::from_vec(&buffer[..len]).unwrap();
        assert_eq!(response.metadata.id, request.metadata.id);
        assert_eq!(response.queries, request.queries);
        response
    }

    fn ask_tcp(server: &DnsServer, name: &str, record_type: RecordType) -> Message {
        let mut request = Message::query();
        request.add_query(Query::query(Name::from_ascii(name).unwrap(), record_type));
        let bytes = request.to_vec().unwrap();
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .write_all(&u16::try_from(bytes.len()).unwrap().to_be_bytes())
            .unwrap();
        stream.write_all(&bytes).unwrap();
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).unwrap();
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut answer).unwrap();
        Message::from_vec(&answer).unwrap()
    }

    fn zone() -> Zone {
        let mut zone = Zone::new();
        zone.mx("example.org", 10, "mx.example.org")
            .a("mx.example.org", Ipv4Addr::LOCALHOST)
            .tlsa(25, "mx.example.org", 3, 1, 1, &[0xab; 32])
            .secure("example.org")
            .servfail("broken.example");
        zone
    }

    #[test]
    fn answers_records_with_flags() {
        let server = DnsServer::start(zone()).unwrap();
        let response = ask(&server, "Example.ORG.", RecordType::MX, true);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.metadata.authoritative);
        assert!(response.metadata.recursion_available);
        assert!(response.metadata.authentic_data);
        assert_eq!(response.answers.len(), 1);
        // The question is echoed as asked, case included.
        assert_eq!(response.queries[0].name.to_ascii(), "Example.ORG.");
    }

    #[test]
    fn ad_only_when_asked_for() {
        let server = DnsServer::start(zone()).unwrap();
        let response = ask(&server, "example.org.", RecordType::MX, false);
        assert!(!response.metadata.authentic_data);
        let log = server.queries();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].name, "example.org");
        assert_eq!(log[0].record_type, "MX");
        assert!(!log[0].authentic_data && !log[0].dnssec_ok && !log[0].tcp);
    }

    #[test]
    fn nxdomain_nodata_and_servfail() {
        let server = DnsServer::start(zone()).unwrap();
        let nx = ask(&server, "nowhere.example.", RecordType::A, true);
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        assert!(nx.answers.is_empty());
        assert_eq!(nx.authorities.len(), 1);
        let nodata = ask(&server, "mx.example.org.", RecordType::AAAA, true);
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        // Secure denial.
        assert!(nodata.metadata.authentic_data);
        // An empty non-terminal exists.
        let ent = ask(&server, "_tcp.mx.example.org.", RecordType::TXT, true);
        assert_eq!(ent.metadata.response_code, ResponseCode::NoError);
        let failed = ask(&server, "a.broken.example.", RecordType::A, true);
        assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    }

    #[test]
    fn zone_changes_while_running_and_tcp_works() {
        let server = DnsServer::start(zone()).unwrap();
        server.zone().txt("example.org", &"x".repeat(600));
        let response = ask_tcp(&server, "example.org.", RecordType::TXT);
        let RData::TXT(txt) = &response.answers[0].data else {
            panic!("TXT expected");
        };
        let joined: Vec<u8> = txt.txt_data.iter().flatten().copied().collect();
        assert_eq!(joined.len(), 600);
        assert!(server.queries()[0].tcp);
    }

    #[test]
    fn answers_srv_and_cname_queries() {
        let server = DnsServer::start(zone()).unwrap();
        server
            .zone()
            .srv("_imaps._tcp.example.org", 0, 1, 993, "mx.example.org")
            .srv("_imap._tcp.example.org", 0, 0, 0, ".")
            .cname("autoconfig.example.org", "mx.example.org");
        let response = ask(&server, "_imaps._tcp.example.org.", RecordType::SRV, false);
        let RData::SRV(srv) = &response.answers[0].data else {
            panic!("SRV expected");
        };
        assert_eq!((srv.priority, srv.weight, srv.port), (0, 1, 993));
        assert_eq!(srv.target.to_ascii(), "mx.example.org.");
        let root = ask(&server, "_imap._tcp.example.org.", RecordType::SRV, false);
        let RData::SRV(srv) = &root.answers[0].data else {
            panic!("SRV expected");
        };
        assert!(srv.target.is_root());
        // A CNAME query is answered with the CNAME itself, not followed.
        let response = ask(&server, "autoconfig.example.org.", RecordType::CNAME, false);
        assert_eq!(response.answers.len(), 1);
        let RData::CNAME(CNAME(target)) = &response.answers[0].data else {
            panic!("CNAME expected");
        };
        assert_eq!(target.to_ascii(), "mx.example.org.");
    }

    #[test]
    fn large_udp_answers_are_truncated() {
        let server = DnsServer::start(zone()).unwrap();
        for i in 0..10 {
            server
                .zone()
                .txt("big.example", &format!("{i}{}", "y".repeat(250)));
        }
        let response = ask(&server, "big.example.", RecordType::TXT, false);
        assert!(response.metadata.truncation);
        assert!(response.answers.is_empty());
    }
}
