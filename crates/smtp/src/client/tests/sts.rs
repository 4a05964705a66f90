//! MTA-STS (RFC 8461) end to end: policies served by a loopback HTTPS server, MX hosts played by
//! the scripted SMTP peer, certificates from a test CA the client is told to trust
//! (`ClientConfig::extra_roots`), DNS from `FakeResolver`.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use postwerk_dns::FakeResolver;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{
    DOMAIN, LOCALHOST, MESSAGE, MX, Peer, Script, attempt, deliver, delivered, dns_for, secure_dns,
    self_signed, server_config, temporary, tlsa,
};
use crate::client::tls::Security;
use crate::client::{ClientConfig, SmtpTransport};

const POLICY_HOST: &str = "mta-sts.example.org";
const TXT_NAME: &str = "_mta-sts.example.org";

/// A certificate authority the client trusts through `extra_roots`.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test MTA-STS CA");
        let key = rcgen::KeyPair::generate().unwrap();
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn root(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server configuration presenting a certificate for `name` signed by this CA.
    fn server(&self, name: &str) -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params.signed_by(&key, &self.issuer).unwrap();
        server_config(vec![leaf.der().clone(), self.root()], &key)
    }
}

/// What the policy server answers.
#[derive(Clone)]
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Send `Content-Length` (otherwise the body ends when the connection closes).
    content_length: bool,
}

impl Reply {
    fn policy(text: &str) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_string())],
            body: text.as_bytes().to_vec(),
            content_length: true,
        }
    }

    fn status(status: &'static str, body: &str) -> Reply {
        Reply {
            status,
            ..Reply::policy(body)
        }
    }
}

fn policy(mode: &str, mx: &[&str]) -> String {
    let mut text = format!("version: STSv1\r\nmode: {mode}\r\n");
    for pattern in mx {
        text.push_str(&format!("mx: {pattern}\r\n"));
    }
    text.push_str("max_age: 86400\r\n");
    text
}

/// An HTTPS server on 127.0.0.1 answering every request with the current [`Reply`].
struct PolicyServer {
    port: u16,
    /// TCP connections accepted (a TLS handshake the client refused included).
    accepts: Arc<AtomicUsize>,
    /// The head of each HTTP request received.
    requests: Arc<Mutex<Vec<String>>>,
    reply: Arc<Mutex<Reply>>,
}

impl PolicyServer {
    async fn start(tls: Arc<rustls::ServerConfig>, reply: Reply) -> PolicyServer {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(reply));
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let (counter, seen, current) = (accepts.clone(), requests.clone(), reply.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (acceptor, seen, current) = (acceptor.clone(), seen.clone(), current.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        let mut byte = [0u8; 1];
                        match tls.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let reply = current.lock().unwrap().clone();
                    let mut out = format!("HTTP/1.1 {}\r\nConnection: close\r\n", reply.status);
                    for (name, value) in &reply.headers {
                        out.push_str(&format!("{name}: {value}\r\n"));
                    }
                    if reply.content_length {
                        out.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
                    }
                    out.push_str("\r\n");
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&reply.body);
                    let _ = tls.write_all(&bytes).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        PolicyServer {
            port,
            accepts,
            requests,
            reply,
        }
    }

    fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

/// DNS for example.org with its MX at 127.0.0.1, the policy host too, and `txt` at
/// `_mta-sts.example.org` when given.
fn sts_dns(txt: Option<&str>) -> Arc<FakeResolver> {
    let dns = dns_for(LOCALHOST);
    dns.set_addresses(POLICY_HOST, &[LOCALHOST]);
    if let Some(txt) = txt {
        dns.set_txt(TXT_NAME, &[txt]);
    }
    dns
}

fn sts_transport(
    dns: Arc<FakeResolver>,
    smtp_port: u16,
    sts_port: u16,
    roots: Vec<CertificateDer<'static>>,
    idle_reuse: Duration,
) -> SmtpTransport {
    let mut config = ClientConfig::new("client.test", dns);
    config.remote_port = smtp_port;
    config.sts_port = sts_port;
    config.extra_roots = roots;
    config.idle_reuse = idle_reuse;
    SmtpTransport::new(config)
}

fn tls_script(tls: Arc<rustls::ServerConfig>) -> Script {
    Script {
        tls: Some(tls),
        ..Script::default().caps(&["STARTTLS", "PIPELINING"])
    }
}

#[tokio::test]
async fn enforce_with_a_valid_certificate_delivers_as_mta_sts() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &[MX])),
    )
    .await;
    let peer = Peer::start(tls_script(ca.server(MX))).await;
    let client = sts_transport(
        sts_dns(Some("v=STSv1; id=20260101T000000")),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::from_secs(600),
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(delivered(&outcomes[0]).0, MX);
    assert_eq!(client.pool.securities(DOMAIN), vec![Security::Sts]);
    assert_eq!(Security::Sts.to_string(), "mta-sts");
    let transcript = peer.live(0);
    assert!(transcript.lines.contains(&"-- TLS --".to_string()));
    assert_eq!(transcript.data.len(), 1);

    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let head = requests[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /.well-known/mta-sts.txt http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nhost: mta-sts.example.org\r\n"), "{head}");
}

#[tokio::test]
async fn enforce_refuses_a_certificate_webpki_does_not_accept() {
    let ca = TestCa::new();
    let other_ca = TestCa::new();
    for tls in [
        // Self-signed.
        self_signed(&[MX]).0,
        // From a CA the client does not trust.
        other_ca.server(MX),
        // From the trusted CA, for another name.
        ca.server("other.example.org"),
    ] {
        let server = PolicyServer::start(
            ca.server(POLICY_HOST),
            Reply::policy(&policy("enforce", &[MX])),
        )
        .await;
        let mut peer = Peer::start(tls_script(tls)).await;
        let client = sts_transport(
            sts_dns(Some("v=STSv1; id=1")),
            peer.port,
            server.port,
            vec![ca.root()],
            Duration::ZERO,
        );
        let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
        let failure = temporary(&outcomes[0]);
        assert_eq!(failure.status, "4.7.5");
        assert!(failure.reason.starts_with("MTA-STS:"), "{}", failure.reason);
        let transcript = peer.transcript().await;
        assert!(transcript.has_command("STARTTLS"));
        assert!(!transcript.has_command("MAIL"));
        // Never a retry in cleartext.
        assert_eq!(peer.accepts(), 1);
    }
}

#[tokio::test]
async fn enforce_without_starttls_is_temporary() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &[MX])),
    )
    .await;
    let mut peer = Peer::start(Script::default().caps(&["PIPELINING"])).await;
    let client = sts_transport(
        sts_dns(Some("v=STSv1; id=1")),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::ZERO,
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    // As for DANE: X.7.4 "security features not supported".
    assert_eq!(failure.status, "4.7.4");
    assert!(failure.reason.starts_with("MTA-STS:"), "{}", failure.reason);
    assert!(failure.reason.contains("STARTTLS"), "{}", failure.reason);
    assert!(!peer.transcript().await.has_command("MAIL"));
}

#[tokio::test]
async fn enforce_with_no_matching_mx_host_is_temporary_and_connects_nowhere() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &["*.mail.example.org"])),
    )
    .await;
    let peer = Peer::start(tls_script(ca.server(MX))).await;
    let client = sts_transport(
        sts_dns(Some("v=STSv1; id=1")),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::ZERO,
    );
    let outcomes = deliver(
        &client,
        &attempt(&["a@example.org", "b@example.org"]),
        MESSAGE,
    )
    .await;
    for outcome in &outcomes {
        let failure = temporary(outcome);
        assert_eq!(failure.status, "4.7.5");
        assert!(
            failure
                .reason
                .starts_with("MTA-STS: no MX host matches the policy"),
            "{}",
            failure.reason
        );
    }
    assert_eq!(peer.accepts(), 0);
}

#[tokio::test]
async fn enforce_tries_only_the_matching_mx_hosts() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &["*.mail.example.org"])),
    )
    .await;
    let mut peer = Peer::start(tls_script(ca.server("mx2.mail.example.org"))).await;
    let dns = sts_dns(Some("v=STSv1; id=1"));
    dns.set_mx(
        DOMAIN,
        &[(10, "mx1.example.org"), (20, "mx2.mail.example.org")],
    );
    dns.set_addresses("mx1.example.org", &[LOCALHOST]);
    dns.set_addresses("mx2.mail.example.org", &[LOCALHOST]);
    let client = sts_transport(dns, peer.port, server.port, vec![ca.root()], Duration::ZERO);
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    assert_eq!(delivered(&outcomes[0]).0, "mx2.mail.example.org");
    assert_eq!(peer.transcript().await.data.len(), 1);
    // mx1 was skipped without a connection.
    assert_eq!(peer.accepts(), 1);
}

#[tokio::test]
async fn testing_mode_delivers_despite_a_bad_certificate() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("testing", &[MX])),
    )
    .await;
    let peer = Peer::start(tls_script(self_signed(&[MX]).0)).await;
    let client = sts_transport(
        sts_dns(Some("v=STSv1; id=1")),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::from_secs(600),
    );
    let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
    delivered(&outcomes[0]);
    assert_eq!(server.requests(), 1);
    assert_eq!(
        client.pool.securities(DOMAIN),
        vec![Security::TlsUnauthenticated]
    );
    assert_eq!(peer.live(0).data.len(), 1);
}

#[tokio::test]
async fn mode_none_is_no_policy() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy("version: STSv1\nmode: none\nmax_age: 86400\n"),
    )
    .await;
    let mut peer = Peer::start(tls_script(self_signed(&[MX]).0)).await;
    let client = sts_transport(
        sts_dns(Some("v=STSv1; id=1")),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::ZERO,
    );
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    assert_eq!(server.requests(), 1);
    assert_eq!(peer.transcript().await.data.len(), 1);
}

#[tokio::test]
async fn without_a_txt_record_no_policy_is_fetched() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &[MX])),
    )
    .await;
    // The MX certificate would fail an enforce policy: delivery shows none applied.
    let mut peer = Peer::start(tls_script(self_signed(&[MX]).0)).await;
    let dns = sts_dns(None);
    // Not an MTA-STS record.
    dns.set_txt(TXT_NAME, &["v=spf1 -all"]);
    let client = sts_transport(dns, peer.port, server.port, vec![ca.root()], Duration::ZERO);
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    peer.transcript().await;
    assert_eq!(server.accepts(), 0);
}

#[tokio::test]
async fn cached_policy_is_reused_and_refetched_when_the_id_changes() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &[MX])),
    )
    .await;
    let mut peer = Peer::start(tls_script(ca.server(MX))).await;
    let dns = sts_dns(Some("v=STSv1; id=1"));
    let client = sts_transport(
        dns.clone(),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::ZERO,
    );
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    delivered(&deliver(&client, &attempt(&["b@example.org"]), MESSAGE).await[0]);
    assert_eq!(server.requests(), 1, "one fetch for two deliveries");

    // A new id: the policy is fetched again, and the new one (testing) applies.
    dns.set_txt(TXT_NAME, &["v=STSv1; id=2"]);
    server.set(Reply::policy(&policy("testing", &["*.elsewhere.test"])));
    delivered(&deliver(&client, &attempt(&["c@example.org"]), MESSAGE).await[0]);
    assert_eq!(server.requests(), 2);
    for _ in 0..3 {
        assert_eq!(peer.transcript().await.data.len(), 1);
    }
}

#[tokio::test]
async fn fetch_or_txt_failure_keeps_the_cached_policy_in_force() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &[MX])),
    )
    .await;
    let mut peer = Peer::start(tls_script(ca.server(MX))).await;
    let dns = sts_dns(Some("v=STSv1; id=1"));
    let client = sts_transport(
        dns.clone(),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::ZERO,
    );
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    peer.transcript().await;

    // The domain now points at an MX host outside the policy, announces a new policy id, and
    // its policy server fails: the cached enforce policy still applies.
    dns.set_mx(DOMAIN, &[(10, "mx.elsewhere.test")]);
    dns.set_addresses("mx.elsewhere.test", &[LOCALHOST]);
    dns.set_txt(TXT_NAME, &["v=STSv1; id=2"]);
    server.set(Reply::status("500 Internal Server Error", "oops"));
    let outcomes = deliver(&client, &attempt(&["b@example.org"]), MESSAGE).await;
    let failure = temporary(&outcomes[0]);
    assert!(
        failure
            .reason
            .starts_with("MTA-STS: no MX host matches the policy"),
        "{}",
        failure.reason
    );
    assert_eq!(server.requests(), 2);

    // The TXT lookup failing changes nothing either.
    dns.set_failing(TXT_NAME);
    let outcomes = deliver(&client, &attempt(&["c@example.org"]), MESSAGE).await;
    assert!(
        temporary(&outcomes[0])
            .reason
            .starts_with("MTA-STS: no MX host matches the policy")
    );
    assert_eq!(server.requests(), 2);
    assert_eq!(peer.accepts(), 1);
}

#[tokio::test]
async fn unusable_policy_responses_mean_no_policy() {
    let enforce = policy("enforce", &[MX]);
    let oversized = format!("{enforce}x-padding: {}\r\n", "a".repeat(70_000));
    let mut not_plain = Reply::policy(&enforce);
    not_plain.headers = vec![("Content-Type", "text/html".to_string())];
    let mut untyped = Reply::policy(&enforce);
    untyped.headers.clear();
    let mut redirect = Reply::status("301 Moved Permanently", &enforce);
    redirect.headers.push((
        "Location",
        "https://mta-sts.example.org/.well-known/mta-sts.txt".to_string(),
    ));
    let mut streamed = Reply::policy(&oversized);
    streamed.content_length = false;
    let cases = [
        ("404", Reply::status("404 Not Found", &enforce)),
        ("redirect", redirect),
        ("oversized", Reply::policy(&oversized)),
        ("oversized without Content-Length", streamed),
        ("text/html", not_plain),
        ("no Content-Type", untyped),
        ("not a policy", Reply::policy("<html>hello</html>")),
    ];
    let ca = TestCa::new();
    for (case, reply) in cases {
        let server = PolicyServer::start(ca.server(POLICY_HOST), reply).await;
        // A certificate enforce would refuse: delivery shows whether a policy applied.
        let mut peer = Peer::start(tls_script(self_signed(&[MX]).0)).await;
        let client = sts_transport(
            sts_dns(Some("v=STSv1; id=1")),
            peer.port,
            server.port,
            vec![ca.root()],
            Duration::ZERO,
        );
        let outcomes = deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await;
        assert!(
            matches!(outcomes[0], postwerk_queue::Outcome::Delivered { .. }),
            "{case}: {outcomes:?}"
        );
        assert_eq!(peer.transcript().await.data.len(), 1, "{case}");
        // Redirects are not followed.
        assert_eq!(server.requests(), 1, "{case}");
    }
}

#[tokio::test]
async fn policy_host_with_an_untrusted_certificate_means_no_policy() {
    let ca = TestCa::new();
    let (untrusted, _) = self_signed(&[POLICY_HOST]);
    let server = PolicyServer::start(untrusted, Reply::policy(&policy("enforce", &[MX]))).await;
    let mut peer = Peer::start(tls_script(self_signed(&[MX]).0)).await;
    let client = sts_transport(
        sts_dns(Some("v=STSv1; id=1")),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::ZERO,
    );
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    peer.transcript().await;
    assert_eq!(server.accepts(), 1);
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn pooled_session_is_not_reused_when_mta_sts_now_demands_more() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &[MX])),
    )
    .await;
    let peer = Peer::start(tls_script(ca.server(MX))).await;
    let dns = sts_dns(None);
    let client = sts_transport(
        dns.clone(),
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::from_secs(600),
    );
    // No policy yet: opportunistic TLS, kept in the pool.
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    assert_eq!(
        client.pool.securities(DOMAIN),
        vec![Security::TlsUnauthenticated]
    );
    // The domain publishes an enforce policy: the unauthenticated session is not enough.
    dns.set_txt(TXT_NAME, &["v=STSv1; id=1"]);
    delivered(&deliver(&client, &attempt(&["b@example.org"]), MESSAGE).await[0]);
    assert_eq!(peer.accepts(), 2);
    assert_eq!(
        client.pool.securities(DOMAIN),
        vec![Security::TlsUnauthenticated, Security::Sts]
    );
    // The MTA-STS session is.
    delivered(&deliver(&client, &attempt(&["c@example.org"]), MESSAGE).await[0]);
    assert_eq!(peer.accepts(), 2);
}

#[tokio::test]
async fn dane_wins_over_mta_sts() {
    // DANE-EE with a self-signed certificate, and an enforce policy that matches no host: DANE
    // decides for the host (RFC 8461 §2), and the policy is not even fetched.
    let ca = TestCa::new();
    let server = PolicyServer::start(
        ca.server(POLICY_HOST),
        Reply::policy(&policy("enforce", &["*.elsewhere.test"])),
    )
    .await;
    let (tls, spki) = self_signed(&[MX]);
    let peer = Peer::start(tls_script(tls)).await;
    let dns = secure_dns(peer.port, vec![tlsa(3, 1, &spki)]);
    dns.set_addresses(POLICY_HOST, &[LOCALHOST]);
    dns.set_txt(TXT_NAME, &["v=STSv1; id=1"]);
    let client = sts_transport(
        dns,
        peer.port,
        server.port,
        vec![ca.root()],
        Duration::from_secs(600),
    );
    delivered(&deliver(&client, &attempt(&["a@example.org"]), MESSAGE).await[0]);
    assert_eq!(client.pool.securities(DOMAIN), vec![Security::Dane]);
    assert_eq!(server.accepts(), 0);
}
