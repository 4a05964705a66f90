//! The client against a scripted SMTP peer on loopback, with DNS from `FakeResolver`.
//!
//! The peer records every command line it receives (`C: …`) and every reply it sends (`S: …`)
//! in order. When it advertises PIPELINING it holds its replies to MAIL and RCPT until a
//! command that ends a group (RFC 2920 §3.1), so a client that waited for each reply would hang
//! (and the test's guard timeout would fail it), and the transcript shows the grouping.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postwerk_dns::{FakeResolver, Tlsa};
use postwerk_queue::{Attempt, AttemptRecipient, Failure, Outcome, Transport};
use postwerk_store::{DsnRet, Notify};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{ClientConfig, SmtpTransport};

mod sts;

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(20);

const DOMAIN: &str = "example.org";
const MX: &str = "mx.example.org";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How the peer behaves.
#[derive(Clone)]
struct Script {
    greeting: String,
    /// EHLO keywords after the first line.
    caps: Vec<String>,
    /// Replaces the positive EHLO reply (to test the HELO fallback).
    ehlo_reply: Option<String>,
    /// Offered with STARTTLS when set.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Answer 220 to STARTTLS, then close instead of a handshake.
    break_tls: bool,
    mail_reply: String,
    /// Per recipient address; 250 for the others.
    rcpt_replies: HashMap<String, String>,
    /// The reply to the final dot; `None` closes the connection instead.
    final_reply: Option<String>,
    /// Close the connection right after answering RSET.
    close_after_rset: bool,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            greeting: format!("220 {MX} ESMTP test"),
            caps: Vec::new(),
            ehlo_reply: None,
            tls: None,
            break_tls: false,
            mail_reply: "250 2.1.0 sender ok".to_string(),
            rcpt_replies: HashMap::new(),
            final_reply: Some("250 2.0.0 queued as ABC123".to_string()),
            close_after_rset: false,
        }
    }
}

impl Script {
    fn caps(mut self, caps: &[&str]) -> Script {
        self.caps = caps.iter().map(|cap| cap.to_string()).collect();
        self
    }
}

/// What the peer saw on one connection.
#[derive(Debug, Default, Clone)]
struct Transcript {
    lines: Vec<String>,
    /// The raw message data received after each 354, the final ".\r\n" included.
    data: Vec<Vec<u8>>,
}

impl Transcript {
    /// The client's command lines only.
    fn commands(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|line| line.strip_prefix("C: ").map(str::to_string))
            .collect()
    }

    fn has_command(&self, verb: &str) -> bool {
        self.commands().iter().any(|line| line.starts_with(verb))
    }
}

/// A scripted SMTP server on 127.0.0.1.
struct Peer {
    port: u16,
    accepts: Arc<AtomicUsize>,
    finished: mpsc::UnboundedReceiver<Transcript>,
    /// The transcript of connections still open, updated as they go.
    live: Arc<Mutex<Vec<Arc<Mutex<Transcript>>>>>,
}

impl Peer {
    async fn start(script: Script) -> Peer {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepts = Arc::new(AtomicUsize::new(0));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (sender, finished) = mpsc::unbounded_channel();
        let (counter, connections) = (accepts.clone(), live.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let transcript = Arc::new(Mutex::new(Transcript::default()));
                connections.lock().unwrap().push(transcript.clone());
                let (script, sender) = (script.clone(), sender.clone());
                tokio::spawn(async move {
                    serve(stream, script, transcript.clone()).await;
                    let done = transcript.lock().unwrap().clone();
                    let _ = sender.send(done);
                });
            }
        });
        Peer {
            port,
            accepts,
            finished,
            live,
        }
    }

    /// The transcript of the next connection to end.
    async fn transcript(&mut self) -> Transcript {
        tokio::time::timeout(GUARD, self.finished.recv())
            .await
            .expect("the peer's connection ended")
            .expect("the peer is running")
    }

    /// The transcript so far of connection `index` (open or not).
    fn live(&self, index: usize) -> Transcript {
        self.live.lock().unwrap()[index].lock().unwrap().clone()
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

async fn read_line(io: &mut Box<dyn Io>, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(2).position(|pair| pair == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 2);
            return Some(line);
        }
        let mut chunk = [0u8; 4096];
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buf.extend_from_slice(&chunk[..read]),
        }
    }
}

async fn read_data(io: &mut Box<dyn Io>, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        let end = if buf.starts_with(b".\r\n") {
            Some(3)
        } else {
            buf.windows(5)
                .position(|window| window == b"\r\n.\r\n")
                .map(|position| position + 5)
        };
        if let Some(end) = end {
            return Some(buf.drain(..end).collect());
        }
        let mut chunk = [0u8; 65536];
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buf.extend_from_slice(&chunk[..read]),
        }
    }
}

async fn serve(stream: TcpStream, script: Script, transcript: Arc<Mutex<Transcript>>) {
    let record = |line: String| transcript.lock().unwrap().lines.push(line);
    let mut io: Box<dyn Io> = Box::new(stream);
    let mut buf = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let pipelining = script.caps.iter().any(|cap| cap == "PIPELINING");
    let mut in_tls = false;
    let mut mail_ok = false;
    let mut accepted = 0;

    pending.push(script.greeting.clone());
    let mut hold = false;
    loop {
        let flush = if hold {
            Vec::new()
        } else {
            std::mem::take(&mut pending)
        };
        for reply in flush {
            record(format!("S: {}", reply.replace("\r\n", " | ")));
            if io
                .write_all(format!("{reply}\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let Some(line) = read_line(&mut io, &mut buf).await else {
            return;
        };
        record(format!("C: {line}"));
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => match &script.ehlo_reply {
                Some(reply) => reply.clone(),
                None => {
                    let mut lines = vec![MX.to_string()];
                    lines.extend(
                        script
                            .caps
                            .iter()
                            .filter(|cap| !(in_tls && *cap == "STARTTLS"))
                            .cloned(),
                    );
                    let last = lines.len() - 1;
                    lines
                        .iter()
                        .enumerate()
                        .map(|(index, text)| {
                            format!("250{}{text}", if index == last { ' ' } else { '-' })
                        })
                        .collect::<Vec<_>>()
                        .join("\r\n")
                }
            },
            "HELO" => format!("250 {MX}"),
            "STARTTLS" => {
                let offered = script.caps.iter().any(|cap| cap == "STARTTLS") && !in_tls;
                match (&script.tls, offered) {
                    (Some(config), true) => {
                        let ready = "220 2.0.0 ready to start TLS";
                        record(format!("S: {ready}"));
                        if io
                            .write_all(format!("{ready}\r\n").as_bytes())
                            .await
                            .is_err()
                        {
                            return;
                        }
                        if script.break_tls {
                            record("-- closed instead of TLS --".to_string());
                            return;
                        }
                        let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                        match acceptor.accept(io).await {
                            Ok(tls) => io = Box::new(tls),
                            Err(err) => {
                                record(format!("-- TLS handshake failed: {err} --"));
                                return;
                            }
                        }
                        record("-- TLS --".to_string());
                        in_tls = true;
                        continue;
                    }
                    _ => "454 4.7.0 TLS not available".to_string(),
                }
            }
            "MAIL" => {
                mail_ok = script.mail_reply.starts_with('2');
                accepted = 0;
                script.mail_reply.clone()
            }
            "RCPT" => {
                let address = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(address, _)| address.to_string())
                    .unwrap_or_default();
                let reply = script
                    .rcpt_replies
                    .get(&address)
                    .cloned()
                    .unwrap_or_else(|| "250 2.1.5 recipient ok".to_string());
                if mail_ok && reply.starts_with('2') {
                    accepted += 1;
                }
                reply
            }
            "DATA" => {
                if !mail_ok || accepted == 0 {
                    "554 5.5.1 no valid recipients".to_string()
                } else {
                    pending.push("354 end data with <CR><LF>.<CR><LF>".to_string());
                    for reply in pending.drain(..) {
                        record(format!("S: {reply}"));
                        if io
                            .write_all(format!("{reply}\r\n").as_bytes())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    let Some(data) = read_data(&mut io, &mut buf).await else {
                        return;
                    };
                    record("C: <data>".to_string());
                    transcript.lock().unwrap().data.push(data);
                    mail_ok = false;
                    match &script.final_reply {
                        Some(reply) => reply.clone(),
                        None => {
                            record("-- closed after data --".to_string());
                            return;
                        }
                    }
                }
            }
            "RSET" => {
                mail_ok = false;
                accepted = 0;
                if script.close_after_rset {
                    record("S: 250 2.0.0 reset".to_string());
                    let _ = io.write_all(b"250 2.0.0 reset\r\n").await;
                    let _ = io.shutdown().await;
                    record("-- closed after RSET --".to_string());
                    return;
                }
                "250 2.0.0 reset".to_string()
            }
            "QUIT" => {
                record("S: 221 2.0.0 bye".to_string());
                let _ = io.write_all(b"221 2.0.0 bye\r\n").await;
                let _ = io.shutdown().await;
                return;
            }
            "NOOP" => "250 2.0.0 ok".to_string(),
            _ => "500 5.5.2 unknown command".to_string(),
        };
        pending.push(reply);
        // RFC 2920 §3.1: replies to MAIL and RCPT wait until the group ends.
        hold = pipelining && matches!(verb.as_str(), "MAIL" | "RCPT");
    }
}

/// A self-signed certificate for `names`, with its key, as a rustls server configuration;
/// also the SPKI DER for TLSA records.
fn self_signed(names: &[&str]) -> (Arc<rustls::ServerConfig>, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(
        names
            .iter()
            .map(|name| name.to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap()
    .self_signed(&key)
    .unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
    (server_config(vec![cert.der().clone()], &key), spki)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: &rcgen::KeyPair,
) -> Arc<rustls::ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    Arc::new(config)
}

/// A CA, and a leaf for `leaf_name` signed by it: (server config presenting [leaf, CA], CA DER).
fn ca_signed(leaf_name: &str) -> (Arc<rustls::ServerConfig>, CertificateDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test DANE-TA CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![leaf_name.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_der = ca.der().clone();
    (
        server_config(vec![leaf.der().clone(), ca_der.clone()], &leaf_key),
        ca_der,
    )
}

fn tlsa(usage: u8, selector: u8, data: &[u8]) -> Tlsa {
    Tlsa {
        usage,
        selector,
        matching: 1,
        data: Sha256::digest(data).to_vec(),
    }
}

fn dns_for(port_peer_ip: IpAddr) -> Arc<FakeResolver> {
    let dns = Arc::new(FakeResolver::new());
    dns.set_mx(DOMAIN, &[(10, MX)]);
    dns.set_addresses(MX, &[port_peer_ip]);
    dns
}

fn transport(dns: Arc<FakeResolver>, port: u16, idle_reuse: Duration) -> SmtpTransport {
    let mut config = ClientConfig::new("client.test", dns);
    config.remote_port = port;
    config.idle_reuse = idle_reuse;
    SmtpTransport::new(config)
}

fn attempt(recipients: &[&str]) -> Attempt {
    Attempt {
        return_path: "sender@ours.test".to_string(),
        domain: DOMAIN.to_string(),
        recipients: recipients
            .iter()
            .map(|address| AttemptRecipient {
                address: address.to_string(),
                notify: None,
                orcpt: None,
            })
            .collect(),
        envid: None,
        ret: None,
        eight_bit: false,
        smtputf8: false,
    }
}

const MESSAGE: &[u8] = b"From: sender@ours.test\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n.hidden line\r\n..two dots\r\nbye\r\n";
const STUFFED: &[u8] = b"From: sender@ours.test\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n..hidden line\r\n...two dots\r\nbye\r\n.\r\n";

async fn deliver(transport: &SmtpTransport, attempt: &Attempt, content: &[u8]) -> Vec<Outcome> {
    tokio::time::timeout(GUARD, transport.deliver(attempt, content))
        .await
        .expect("delivery finished")
}

fn delivered(outcome: &Outcome) -> (&str, &str) {
    match outcome {
        Outcome::Delivered { remote_mta, reply } => (remote_mta, reply),
        other => panic!("expected delivered, got {other:?}"),
    }
}

fn temporary(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Temporary(failure) => failure,
        other => panic!("expected a temporary failure, got {other:?}"),
    }
}

fn permanent(outcome: &Outcome) -> &Failure {
    match outcome {
        Outcome::Permanent(failure) => failure,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

#[tokio::test]
async fn plain_delivery_pipelines_and_dot_stuffs() {
    let script = Script::default().caps(&[
        "PIPELINING",
        "SIZE 1000000",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
    ]);
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let mut attempt = attempt(&["a@example.org", "b@example.org"]);
    attempt.eight_bit = true;

    let outcomes = deliver(&client, &attempt, MESSAGE).await;
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert_eq!(delivered(outcome), (MX, "250 2.0.0 queued as ABC123"));
    }

    let transcript = peer.transcript().await;
    let size = MESSAGE.len();
    assert_eq!(
        transcript.lines,
        strings(&[
            &format!("S: 220 {MX} ESMTP test"),
            "C: EHLO client.test",
            &format!(
                "S: 250-{MX} | 250-PIPELINING | 250-SIZE 1000000 | 250-8BITMIME | 250 ENHANCEDSTATUSCODES"
            ),
            // RFC 2920: the whole group before any reply.
            &format!("C: MAIL FROM:<sender@ours.test> SIZE={size} BODY=8BITMIME"),
            "C: RCPT TO:<a@example.org>",
            "C: RCPT TO:<b@example.org>",
            "C: DATA",
            "S: 250 2.1.0 sender ok",
            "S: 250 2.1.5 recipient ok",
            "S: 250 2.1.5 recipient ok",
            "S: 354 end data with <CR><LF>.<CR><LF>",
            "C: <data>",
            "S: 250 2.0.0 queued as ABC123",
            "C: QUIT",
            "S: 221 2.0.0 bye",
        ])
    );
    assert_eq!(transcript.data, vec![STUFFED.to_vec()]);
}

#[tokio::test]
async fn without_pipelining_commands_go_one_by_one() {
    let mut peer = Peer::start(Script::default()).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let mut attempt = attempt(&["a@example.org"]);
    // 8-bit content to a server without 8BITMIME is sent anyway, without BODY=.
    attempt.eight_bit = true;

    let outcomes = deliver(&client, &attempt, MESSAGE).await;
    delivered(&outcomes[0]);
    let transcript = peer.transcript().await;
    assert_eq!(
        transcript.lines[3..9].to_vec(),
        strings(&[
            "C: MAIL FROM:<sender@ours.test>",
            "S: 250 2.1.0 sender ok",
            "C: RCPT TO:<a@example.org>",
            "S: 250 2.1.5 recipient ok",
            "C: DATA",
            "S: 354 end data with <CR><LF>.<CR><LF>",
        ])
    );
    assert_eq!(transcript.data, vec![STUFFED.to_vec()]);
}

#[tokio::test]
async fn helo_when_ehlo_is_refused() {
    let script = Script {
        ehlo_reply: Some("502 5.5.1 EHLO not implemented".to_string()),
        ..Script::default()
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    let commands = peer.transcript().await.commands();
    assert_eq!(
        commands[..3].to_vec(),
        strings(&[
            "EHLO client.test",
            "HELO client.test",
            "MAIL FROM:<sender@ours.test>"
        ])
    );
}

#[tokio::test]
async fn each_recipient_gets_its_own_outcome() {
    let mut script = Script::default().caps(&["PIPELINING", "ENHANCEDSTATUSCODES"]);
    script.rcpt_replies.insert(
        "busy@example.org".to_string(),
        "450-4.2.1 mailbox busy\r\n450 4.2.1 try again later".to_string(),
    );
    script.rcpt_replies.insert(
        "gone@example.org".to_string(),
        "550 5.1.1 no such user".to_string(),
    );
    script
        .rcpt_replies
        .insert("odd@example.org".to_string(), "553 not here".to_string());
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let attempt = attempt(&[
        "ok@example.org",
        "busy@example.org",
        "gone@example.org",
        "odd@example.org",
    ]);

    let outcomes = deliver(&client, &attempt, MESSAGE).await;
    delivered(&outcomes[0]);
    let busy = temporary(&outcomes[1]);
    assert_eq!(busy.status, "4.2.1");
    assert_eq!(
        busy.reply.as_deref(),
        Some("450 4.2.1 mailbox busy try again later")
    );
    assert_eq!(busy.remote_mta.as_deref(), Some(MX));
    let gone = permanent(&outcomes[2]);
    assert_eq!(gone.status, "5.1.1");
    assert_eq!(gone.reply.as_deref(), Some("550 5.1.1 no such user"));
    // No enhanced code: derived from the basic code.
    let odd = permanent(&outcomes[3]);
    assert_eq!(odd.status, "5.0.0");
    assert_eq!(odd.reply.as_deref(), Some("553 not here"));

    let transcript = peer.transcript().await;
    assert_eq!(transcript.data.len(), 1);
}

#[tokio::test]
async fn no_accepted_recipient_means_no_data() {
    let mut script = Script::default();
    script.rcpt_replies.insert(
        "gone@example.org".to_string(),
        "550 5.1.1 no such user".to_string(),
    );
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["gone@example.org"]), MESSAGE).await;
    assert_eq!(permanent(&outcomes[0]).status, "5.1.1");
    let transcript = peer.transcript().await;
    assert!(!transcript.has_command("DATA"));
    assert!(transcript.data.is_empty());
    assert_eq!(
        transcript.commands().last().map(String::as_str),
        Some("QUIT")
    );
}

#[tokio::test]
async fn refused_mail_from_fails_every_recipient() {
    let script = Script {
        mail_reply: "550 5.7.1 sender rejected".to_string(),
        ..Script::default().caps(&["PIPELINING", "ENHANCEDSTATUSCODES"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(
        &client,
        &attempt(&["a@example.org", "b@example.org"]),
        MESSAGE,
    )
    .await;
    for outcome in &outcomes {
        let failure = permanent(outcome);
        assert_eq!(failure.status, "5.7.1");
        assert_eq!(failure.reply.as_deref(), Some("550 5.7.1 sender rejected"));
    }
    let transcript = peer.transcript().await;
    assert!(
        transcript.data.is_empty(),
        "no message data after a refused MAIL"
    );
}

#[tokio::test]
async fn transient_reply_to_the_final_dot() {
    let script = Script {
        final_reply: Some("451 4.3.0 try again later".to_string()),
        ..Script::default().caps(&["PIPELINING"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(
        &client,
        &attempt(&["a@example.org", "b@example.org"]),
        MESSAGE,
    )
    .await;
    for outcome in &outcomes {
        let failure = temporary(outcome);
        assert_eq!(failure.status, "4.3.0");
        assert_eq!(failure.reply.as_deref(), Some("451 4.3.0 try again later"));
    }
    peer.transcript().await;
}

#[tokio::test]
async fn connection_lost_after_data_is_temporary() {
    let script = Script {
        final_reply: None,
        ..Script::default().caps(&["PIPELINING"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert_eq!(failure.status, "4.4.2");
    assert!(failure.reason.contains("end of data"), "{}", failure.reason);
    peer.transcript().await;
    // Never a second try at the same message within the attempt.
    assert_eq!(peer.accepts(), 1);
}

#[tokio::test]
async fn starttls_is_taken_when_offered() {
    let (tls, _) = self_signed(&["some.other.name"]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["PIPELINING", "STARTTLS"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    let transcript = peer.transcript().await;
    let tls_at = transcript
        .lines
        .iter()
        .position(|line| line == "-- TLS --")
        .expect("TLS was started");
    assert_eq!(transcript.lines[tls_at - 2], "C: STARTTLS");
    assert_eq!(transcript.lines[tls_at + 1], "C: EHLO client.test");
    assert!(
        !transcript.lines[..tls_at]
            .iter()
            .any(|line| line.starts_with("C: MAIL"))
    );
    assert_eq!(transcript.data, vec![STUFFED.to_vec()]);
}

#[tokio::test]
async fn failed_opportunistic_tls_falls_back_to_plaintext() {
    let (tls, _) = self_signed(&[MX]);
    let script = Script {
        tls: Some(tls),
        break_tls: true,
        ..Script::default().caps(&["STARTTLS"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    let first = peer.transcript().await;
    assert!(first.has_command("STARTTLS"));
    let second = peer.transcript().await;
    assert!(!second.has_command("STARTTLS"));
    assert_eq!(second.data.len(), 1);
    assert_eq!(peer.accepts(), 2);
}

#[tokio::test]
async fn dsn_parameters_only_when_advertised() {
    let mut attempt = attempt(&["a@example.org", "b@example.org"]);
    attempt.envid = Some("id+1=x".to_string());
    attempt.ret = Some(DsnRet::Headers);
    attempt.recipients[0].notify = Some(Notify {
        success: true,
        failure: true,
        delay: false,
    });
    attempt.recipients[0].orcpt = Some("rfc822;a+tag@example.org".to_string());
    attempt.recipients[1].notify = Some(Notify::default());

    let mut peer = Peer::start(Script::default().caps(&["DSN"])).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    delivered(&deliver(&client, &attempt, MESSAGE).await[0]);
    let commands = peer.transcript().await.commands();
    assert_eq!(
        commands[1..4].to_vec(),
        strings(&[
            "MAIL FROM:<sender@ours.test> RET=HDRS ENVID=id+2B1+3Dx",
            "RCPT TO:<a@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Btag@example.org",
            "RCPT TO:<b@example.org> NOTIFY=NEVER",
        ])
    );

    let mut peer = Peer::start(Script::default()).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    delivered(&deliver(&client, &attempt, MESSAGE).await[0]);
    let commands = peer.transcript().await.commands();
    assert_eq!(
        commands[1..4].to_vec(),
        strings(&[
            "MAIL FROM:<sender@ours.test>",
            "RCPT TO:<a@example.org>",
            "RCPT TO:<b@example.org>",
        ])
    );
}

#[tokio::test]
async fn smtputf8_needed_but_not_offered_is_permanent() {
    let mut peer = Peer::start(Script::default().caps(&["8BITMIME"])).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let mut attempt = attempt(&["a@example.org"]);
    attempt.smtputf8 = true;
    let outcomes = deliver(&client, &attempt, MESSAGE).await;
    assert_eq!(permanent(&outcomes[0]).status, "5.6.7");
    assert!(!peer.transcript().await.has_command("MAIL"));
}

#[tokio::test]
async fn smtputf8_is_announced_when_offered() {
    let mut peer = Peer::start(Script::default().caps(&["SMTPUTF8", "8BITMIME"])).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let mut attempt = attempt(&["a@example.org"]);
    attempt.smtputf8 = true;
    attempt.eight_bit = true;
    delivered(&deliver(&client, &attempt, MESSAGE).await[0]);
    assert!(
        peer.transcript()
            .await
            .has_command("MAIL FROM:<sender@ours.test> BODY=8BITMIME SMTPUTF8")
    );
}

#[tokio::test]
async fn null_mx_is_permanent() {
    let dns = Arc::new(FakeResolver::new());
    dns.set_mx(DOMAIN, &[(0, ".")]);
    let client = transport(dns, 9, Duration::ZERO);
    let outcomes = deliver(
        &client,
        &attempt(&["a@example.org", "b@example.org"]),
        MESSAGE,
    )
    .await;
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        let failure = permanent(outcome);
        assert_eq!(failure.status, "5.1.10");
        assert_eq!(
            failure.reason,
            "the domain accepts no mail (null MX, RFC 7505)"
        );
    }
}

#[tokio::test]
async fn missing_domain_is_permanent() {
    let client = transport(Arc::new(FakeResolver::new()), 9, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(permanent(&outcomes[0]).status, "5.1.2");
}

#[tokio::test]
async fn dns_failure_is_temporary() {
    let dns = Arc::new(FakeResolver::new());
    dns.set_failing(DOMAIN);
    let client = transport(dns, 9, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(temporary(&outcomes[0]).status, "4.4.3");
}

#[tokio::test]
async fn implicit_mx_is_the_domain_itself() {
    let mut peer = Peer::start(Script::default()).await;
    let dns = Arc::new(FakeResolver::new());
    dns.set_addresses(DOMAIN, &[LOCALHOST]);
    let client = transport(dns, peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(delivered(&outcomes[0]).0, DOMAIN);
    peer.transcript().await;
}

#[tokio::test]
async fn falls_back_to_the_next_mx_host() {
    let mut peer = Peer::start(Script::default()).await;
    let dns = Arc::new(FakeResolver::new());
    dns.set_mx(DOMAIN, &[(10, "mx1.example.org"), (20, "mx2.example.org")]);
    // Nothing listens on 127.0.0.2 at the peer's port: connection refused.
    dns.set_addresses(
        "mx1.example.org",
        &[IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))],
    );
    dns.set_addresses("mx2.example.org", &[LOCALHOST]);
    let client = transport(dns, peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(delivered(&outcomes[0]).0, "mx2.example.org");
    peer.transcript().await;
    assert_eq!(peer.accepts(), 1);
}

#[tokio::test]
async fn every_host_failing_is_temporary_and_says_what_was_tried() {
    let peer = Peer::start(Script::default()).await;
    let dns = Arc::new(FakeResolver::new());
    dns.set_mx(
        DOMAIN,
        &[
            (10, "mx1.example.org"),
            (20, "mx2.example.org"),
            (30, "mx3.example.org"),
        ],
    );
    dns.set_addresses(
        "mx1.example.org",
        &[IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))],
    );
    dns.set_addresses(
        "mx2.example.org",
        &[IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))],
    );
    // mx3 has no address.
    let client = transport(dns, peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert_eq!(failure.status, "4.4.1");
    for host in [
        "mx1.example.org",
        "mx2.example.org",
        "mx3.example.org: no address",
    ] {
        assert!(failure.reason.contains(host), "{}", failure.reason);
    }
}

#[tokio::test]
async fn greeting_refusal_moves_to_the_next_address() {
    let script = Script {
        greeting: "554 5.7.1 no service for you".to_string(),
        ..Script::default()
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert_eq!(failure.status, "4.4.1");
    assert_eq!(
        failure.reply.as_deref(),
        Some("554 5.7.1 no service for you")
    );
    let transcript = peer.transcript().await;
    assert_eq!(transcript.commands(), strings(&["QUIT"]));
}

/// DNS for a DNSSEC-signed domain whose MX host publishes `records`.
fn secure_dns(port: u16, records: Vec<Tlsa>) -> Arc<FakeResolver> {
    let dns = dns_for(LOCALHOST);
    dns.set_secure(DOMAIN, true);
    dns.set_tlsa(port, MX, records);
    dns
}

#[tokio::test]
async fn dane_ee_match_delivers() {
    // DANE-EE checks neither the name nor the dates (RFC 7672 §3.1.1).
    let (tls, spki) = self_signed(&["not-the-mx.invalid"]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS", "PIPELINING"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(
        secure_dns(peer.port, vec![tlsa(3, 1, &spki)]),
        peer.port,
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    let transcript = peer.transcript().await;
    assert!(transcript.lines.contains(&"-- TLS --".to_string()));
    assert_eq!(transcript.data.len(), 1);
}

#[tokio::test]
async fn dane_ee_mismatch_is_temporary_and_sends_nothing() {
    let (tls, _) = self_signed(&[MX]);
    let (_, other_spki) = self_signed(&[MX]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS", "PIPELINING"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(
        secure_dns(peer.port, vec![tlsa(3, 1, &other_spki)]),
        peer.port,
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert_eq!(failure.status, "4.7.5");
    assert!(failure.reason.contains("DANE"), "{}", failure.reason);
    let transcript = peer.transcript().await;
    assert!(!transcript.has_command("MAIL"));
    // No cleartext retry when DANE applies.
    assert_eq!(peer.accepts(), 1);
}

#[tokio::test]
async fn dane_mismatch_moves_to_the_next_mx_host() {
    let (tls, spki) = self_signed(&[MX]);
    let (_, other_spki) = self_signed(&[MX]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS"])
    };
    let mut peer = Peer::start(script).await;
    let dns = Arc::new(FakeResolver::new());
    dns.set_secure(DOMAIN, true);
    dns.set_mx(DOMAIN, &[(10, "mx1.example.org"), (20, "mx2.example.org")]);
    dns.set_addresses("mx1.example.org", &[LOCALHOST]);
    dns.set_addresses("mx2.example.org", &[LOCALHOST]);
    dns.set_tlsa(peer.port, "mx1.example.org", vec![tlsa(3, 1, &other_spki)]);
    dns.set_tlsa(peer.port, "mx2.example.org", vec![tlsa(3, 1, &spki)]);
    let client = transport(dns, peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(delivered(&outcomes[0]).0, "mx2.example.org");
    let first = peer.transcript().await;
    assert!(!first.has_command("MAIL"));
    let second = peer.transcript().await;
    assert_eq!(second.data.len(), 1);
}

#[tokio::test]
async fn dane_without_starttls_is_temporary() {
    let (_, spki) = self_signed(&[MX]);
    let mut peer = Peer::start(Script::default().caps(&["PIPELINING"])).await;
    let client = transport(
        secure_dns(peer.port, vec![tlsa(3, 1, &spki)]),
        peer.port,
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert_eq!(failure.status, "4.7.4");
    assert!(failure.reason.contains("DANE"), "{}", failure.reason);
    assert!(failure.reason.contains("STARTTLS"), "{}", failure.reason);
    assert!(!peer.transcript().await.has_command("MAIL"));
}

#[tokio::test]
async fn dane_ta_chain_to_the_published_ca_delivers() {
    let (tls, ca) = ca_signed(MX);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(
        secure_dns(peer.port, vec![tlsa(2, 0, ca.as_ref())]),
        peer.port,
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    assert_eq!(peer.transcript().await.data.len(), 1);
}

#[tokio::test]
async fn dane_ta_with_the_wrong_name_is_refused() {
    let (tls, ca) = ca_signed("somewhere.else.test");
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(
        secure_dns(peer.port, vec![tlsa(2, 0, ca.as_ref())]),
        peer.port,
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert!(failure.reason.contains("DANE"), "{}", failure.reason);
    assert!(!peer.transcript().await.has_command("MAIL"));
}

#[tokio::test]
async fn tlsa_lookup_failure_makes_the_host_unusable() {
    let peer = Peer::start(Script::default()).await;
    let dns = secure_dns(peer.port, Vec::new());
    dns.set_failing(&format!("_{}._tcp.{MX}", peer.port));
    let client = transport(dns, peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert_eq!(failure.status, "4.4.3");
    assert!(failure.reason.contains("TLSA"), "{}", failure.reason);
    assert_eq!(peer.accepts(), 0);
}

#[tokio::test]
async fn insecure_mx_ignores_tlsa() {
    // The MX answer is unsigned, the MX host's zone is signed and publishes a TLSA record that
    // does not match. DANE for hosts of an insecure MX is a MAY (RFC 7672 §2.2.1) this client
    // does not take, so the record is not even looked up.
    let (tls, _) = self_signed(&["mx.hosting.test"]);
    let (_, other_spki) = self_signed(&["mx.hosting.test"]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS"])
    };
    let mut peer = Peer::start(script).await;
    let dns = Arc::new(FakeResolver::new());
    dns.set_mx(DOMAIN, &[(10, "mx.hosting.test")]);
    dns.set_addresses("mx.hosting.test", &[LOCALHOST]);
    dns.set_secure("hosting.test", true);
    dns.set_tlsa(peer.port, "mx.hosting.test", vec![tlsa(3, 1, &other_spki)]);
    let client = transport(dns, peer.port, Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    let transcript = peer.transcript().await;
    assert!(transcript.lines.contains(&"-- TLS --".to_string()));
}

#[tokio::test]
async fn secure_empty_tlsa_is_opportunistic() {
    // Secure, no TLSA records: plain opportunistic TLS; no STARTTLS → cleartext is fine.
    let mut peer = Peer::start(Script::default()).await;
    let client = transport(secure_dns(peer.port, Vec::new()), peer.port, Duration::ZERO);
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    peer.transcript().await;
}

#[tokio::test]
async fn unusable_tlsa_records_still_require_tls() {
    // RFC 7672 §2.2: TLSA records exist but none is usable (PKIX-EE): TLS is still mandatory.
    let (_, spki) = self_signed(&[MX]);
    let mut peer = Peer::start(Script::default()).await;
    let client = transport(
        secure_dns(peer.port, vec![tlsa(1, 1, &spki)]),
        peer.port,
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(temporary(&outcomes[0]).status, "4.7.4");
    assert!(!peer.transcript().await.has_command("MAIL"));
}

#[tokio::test]
async fn an_idle_session_is_reused_for_the_next_message() {
    let (tls, _) = self_signed(&[MX]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["PIPELINING", "STARTTLS"])
    };
    let peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::from_secs(600));

    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    delivered(&deliver(&client, &attempt(&["b@example.org"]), MESSAGE).await[0]);
    assert_eq!(peer.accepts(), 1, "one TCP connection for both messages");

    let transcript = peer.live(0);
    let commands = transcript.commands();
    let after_tls = commands
        .iter()
        .rposition(|line| line.starts_with("EHLO"))
        .unwrap();
    assert_eq!(
        commands[after_tls + 1..].to_vec(),
        strings(&[
            "MAIL FROM:<sender@ours.test>",
            "RCPT TO:<a@example.org>",
            "DATA",
            "<data>",
            "RSET",
            "MAIL FROM:<sender@ours.test>",
            "RCPT TO:<b@example.org>",
            "DATA",
            "<data>",
            "RSET",
        ])
    );
    assert_eq!(transcript.data.len(), 2);
}

#[tokio::test]
async fn a_dead_idle_session_is_replaced() {
    let script = Script {
        close_after_rset: true,
        ..Script::default().caps(&["PIPELINING"])
    };
    let mut peer = Peer::start(script).await;
    let client = transport(dns_for(LOCALHOST), peer.port, Duration::from_secs(600));

    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    let first = peer.transcript().await;
    assert_eq!(first.commands().last().map(String::as_str), Some("RSET"));
    // The pooled session is now dead; the next message goes through a new one.
    delivered(&deliver(&client, &attempt(&["b@example.org"]), MESSAGE).await[0]);
    assert_eq!(peer.accepts(), 2);
    let second = peer.transcript().await;
    assert!(second.has_command("RCPT TO:<b@example.org>"));
    assert_eq!(second.data.len(), 1);
}

#[tokio::test]
async fn pooled_plaintext_is_not_reused_when_dane_now_applies() {
    let (tls, spki) = self_signed(&[MX]);
    let script = Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS"])
    };
    let peer = Peer::start(script).await;
    let dns = dns_for(LOCALHOST);
    let client = transport(dns.clone(), peer.port, Duration::from_secs(600));
    // First message: insecure MX, opportunistic TLS.
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    // The domain is now signed with a TLSA record: the unauthenticated session is not enough.
    dns.set_secure(DOMAIN, true);
    dns.set_tlsa(peer.port, MX, vec![tlsa(3, 1, &spki)]);
    delivered(&deliver(&client, &attempt(&["b@example.org"]), MESSAGE).await[0]);
    assert_eq!(peer.accepts(), 2);
}

/// RFC 6533 §3: a `utf-8` ORCPT is `utf-8-addr-xtext` outside SMTPUTF8 (every non-ASCII
/// character as `\x{HEX}`) and `utf-8-addr-unitext` inside it (UTF-8 kept); `+`, `=` and `\`
/// are escaped in both, as they would be read as xtext.
#[test]
fn rfc_6533_utf8_orcpt_text() {
    use crate::client::transaction::utf8_addr_text;
    assert_eq!(
        utf8_addr_text("jörg+x=y\\z@b.example", false),
        "j\\x{F6}rg\\x{2B}x\\x{3D}y\\x{5C}z@b.example"
    );
    assert_eq!(
        utf8_addr_text("jörg+x@b.example", true),
        "jörg\\x{2B}x@b.example"
    );
    assert_eq!(utf8_addr_text("a b\u{7}@c", true), "a\\x{20}b\\x{7}@c");
}
