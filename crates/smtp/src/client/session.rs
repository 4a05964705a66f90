//! One connection to one MX host: reading replies under time limits, and setting the session up
//! (greeting, EHLO, STARTTLS, EHLO again) under a TLS policy.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use postwerk_queue::Failure;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::Timeouts;
use super::outcome::{self, status};
use super::reply::{self, Capabilities, Reply, ReplyError};
use super::tls::{Security, TlsConfigs, TlsPolicy};

/// The stream under a session: TCP, or TLS over it after STARTTLS.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, chunk: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(chunk).await,
            Stream::Tls(stream) => stream.read(chunk).await,
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => {
                stream.write_all(data).await?;
                stream.flush().await
            }
            Stream::Tls(stream) => {
                stream.write_all(data).await?;
                stream.flush().await
            }
        }
    }
}

/// Why the link to the server failed mid-dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkError {
    /// No reply (or no progress writing) within the RFC 5321 §4.5.3.2 limit.
    Timeout(&'static str),
    /// The server closed the connection.
    Closed(&'static str),
    /// The socket failed.
    Io(String),
    /// The server's reply was not acceptable SMTP.
    Reply(ReplyError),
}

impl LinkError {
    /// The RFC 3463 status for a recipient left unsettled by this error.
    pub(crate) fn status(&self) -> &'static str {
        match self {
            LinkError::Reply(_) => status::PROTOCOL,
            _ => status::BAD_CONNECTION,
        }
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Timeout(what) => write!(f, "timed out waiting for {what}"),
            LinkError::Closed(what) => write!(f, "connection closed while waiting for {what}"),
            LinkError::Io(err) => write!(f, "connection error: {err}"),
            LinkError::Reply(err) => write!(f, "{err}"),
        }
    }
}

/// A session set up and ready for MAIL FROM.
#[derive(Debug)]
pub(crate) struct Session {
    stream: Option<Stream>,
    /// Octets read and not yet consumed (a pipelined server may send several replies at once).
    buf: Vec<u8>,
    /// The MX host name this session was opened to.
    pub mx: String,
    /// The address dialled.
    pub addr: SocketAddr,
    /// What the last EHLO advertised.
    pub caps: Capabilities,
    /// The security the session has.
    pub security: Security,
    /// TLS version and cipher suite, for logs.
    pub tls: Option<String>,
}

impl Session {
    fn new(stream: TcpStream, mx: &str, addr: SocketAddr) -> Session {
        Session {
            stream: Some(Stream::Plain(stream)),
            buf: Vec::new(),
            mx: mx.to_string(),
            addr,
            caps: Capabilities::default(),
            security: Security::Plaintext,
            tls: None,
        }
    }

    /// Writes `data` (commands, or a block of message data) within `limit`.
    pub(crate) async fn send(
        &mut self,
        data: &[u8],
        limit: Duration,
        what: &'static str,
    ) -> Result<(), LinkError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(LinkError::Closed(what));
        };
        match tokio::time::timeout(limit, stream.write_all(data)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                self.stream = None;
                Err(LinkError::Io(err.to_string()))
            }
            Err(_) => {
                self.stream = None;
                Err(LinkError::Timeout(what))
            }
        }
    }

    /// Reads one complete reply, raw, within `limit` (RFC 5321 §4.5.3.2 per command).
    async fn read_raw(
        &mut self,
        limit: Duration,
        what: &'static str,
    ) -> Result<Vec<u8>, LinkError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match reply::frame(&self.buf) {
                Ok(Some(len)) => return Ok(self.buf.drain(..len).collect()),
                Ok(None) => {}
                Err(err) => {
                    self.stream = None;
                    return Err(LinkError::Reply(err));
                }
            }
            let Some(stream) = self.stream.as_mut() else {
                return Err(LinkError::Closed(what));
            };
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(0)) => {
                    self.stream = None;
                    return Err(LinkError::Closed(what));
                }
                Ok(Ok(read)) => self.buf.extend_from_slice(&chunk[..read]),
                Ok(Err(err)) => {
                    self.stream = None;
                    return Err(LinkError::Io(err.to_string()));
                }
                Err(_) => {
                    self.stream = None;
                    return Err(LinkError::Timeout(what));
                }
            }
        }
    }

    /// Reads one reply within `limit`.
    pub(crate) async fn read_reply(
        &mut self,
        limit: Duration,
        what: &'static str,
    ) -> Result<Reply, LinkError> {
        let raw = self.read_raw(limit, what).await?;
        reply::parse(&raw).map_err(|err| {
            self.stream = None;
            LinkError::Reply(err)
        })
    }

    /// Sends one command line (without CRLF) and reads its reply.
    pub(crate) async fn command(
        &mut self,
        line: &str,
        limit: Duration,
        what: &'static str,
    ) -> Result<Reply, LinkError> {
        self.send(format!("{line}\r\n").as_bytes(), limit, what)
            .await?;
        self.read_reply(limit, what).await
    }

    /// Whether the connection is still usable (no I/O error, timeout or bad reply so far).
    pub(crate) fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Ends the session politely (RFC 5321 §4.1.1.10), not waiting long for the 221.
    pub(crate) async fn quit(mut self) {
        let limit = Duration::from_secs(10);
        if self.is_open()
            && self
                .command("QUIT", limit, "the reply to QUIT")
                .await
                .is_err()
        {
            return;
        }
        if let Some(mut stream) = self.stream.take() {
            let _ = tokio::time::timeout(limit, async {
                match &mut stream {
                    Stream::Plain(stream) => stream.shutdown().await,
                    Stream::Tls(stream) => stream.shutdown().await,
                }
            })
            .await;
        }
    }

    /// EHLO, falling back to HELO when EHLO is refused with a 5xx (RFC 5321 §3.2).
    async fn hello(&mut self, hostname: &str, limit: Duration) -> Result<(), SetupError> {
        let ehlo = format!("EHLO {hostname}\r\n");
        self.send(ehlo.as_bytes(), limit, "the reply to EHLO")
            .await
            .map_err(|err| SetupError::link(self, &err))?;
        let raw = self
            .read_raw(limit, "the reply to EHLO")
            .await
            .map_err(|err| SetupError::link(self, &err))?;
        let reply =
            reply::parse(&raw).map_err(|err| SetupError::link(self, &LinkError::Reply(err)))?;
        if reply.code == 250 {
            self.caps = reply::parse_ehlo(&raw);
            return Ok(());
        }
        if reply.class() != 5 {
            return Err(SetupError::reply(self, "EHLO", &reply));
        }
        let helo = self
            .command(&format!("HELO {hostname}"), limit, "the reply to HELO")
            .await
            .map_err(|err| SetupError::link(self, &err))?;
        if helo.code != 250 {
            return Err(SetupError::reply(self, "HELO", &helo));
        }
        self.caps = Capabilities::default();
        Ok(())
    }

    /// `mx [address]:port`, for reasons.
    pub(crate) fn peer(&self) -> String {
        format!("{} [{}]:{}", self.mx, self.addr.ip(), self.addr.port())
    }
}

/// Why a session could not be set up with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetupError {
    /// What to report if no other host does better.
    pub failure: Failure,
    /// An opportunistic TLS handshake failed: RFC 7435 §3 says deliver in cleartext rather
    /// than not at all, so the same address is tried once more without STARTTLS.
    pub retry_plaintext: bool,
}

impl SetupError {
    fn new(status: &str, mx: &str, reason: String) -> SetupError {
        SetupError {
            failure: outcome::failure(status, Some(mx), reason),
            retry_plaintext: false,
        }
    }

    fn link(session: &Session, err: &LinkError) -> SetupError {
        SetupError::new(
            err.status(),
            &session.mx,
            format!("{}: {err}", session.peer()),
        )
    }

    fn reply(session: &Session, what: &str, reply: &Reply) -> SetupError {
        let mut error = SetupError::new(
            status::NO_ANSWER,
            &session.mx,
            format!("{}: refused {what}: {}", session.peer(), reply.full()),
        );
        error.failure.reply = Some(reply.full());
        error
    }
}

/// What setting up a session needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialer<'a> {
    /// Our EHLO name.
    pub hostname: &'a str,
    /// The recipients' domain (a DANE-TA reference name, RFC 7672 §3.2.2).
    pub domain: &'a str,
    /// Time limits.
    pub timeouts: &'a Timeouts,
    /// rustls configurations.
    pub tls: &'a TlsConfigs,
}

impl Dialer<'_> {
    /// Connects to `addr` (a host of `mx`), reads the greeting, says EHLO and sets TLS up as
    /// `policy` demands.
    pub(crate) async fn establish(
        &self,
        mx: &str,
        addr: SocketAddr,
        policy: &TlsPolicy,
    ) -> Result<Session, SetupError> {
        let peer = format!("{mx} [{}]:{}", addr.ip(), addr.port());
        let stream =
            match tokio::time::timeout(self.timeouts.connect, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    return Err(SetupError::new(
                        status::NO_ANSWER,
                        mx,
                        format!("{peer}: connection failed: {err}"),
                    ));
                }
                Err(_) => {
                    return Err(SetupError::new(
                        status::NO_ANSWER,
                        mx,
                        format!("{peer}: connection timed out"),
                    ));
                }
            };
        // Commands are written in whole groups, so Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        let mut session = Session::new(stream, mx, addr);

        // RFC 5321 §3.1: 220 opens the session; anything else (554) means "not here".
        let greeting = session
            .read_reply(self.timeouts.greeting, "the greeting")
            .await
            .map_err(|err| {
                let mut error = SetupError::link(&session, &err);
                error.failure.status = status::NO_ANSWER.to_string();
                error
            })?;
        if greeting.code != 220 {
            let error = SetupError::reply(&session, "the session (greeting)", &greeting);
            session.quit().await;
            return Err(error);
        }
        session.hello(self.hostname, self.timeouts.command).await?;

        if *policy == TlsPolicy::Plaintext {
            return Ok(session);
        }
        let what = match policy {
            TlsPolicy::Dane(_) => {
                "DANE: TLS is required (the host has DNSSEC-signed TLSA records, RFC 7672 §2.2)"
            }
            TlsPolicy::Sts => {
                "MTA-STS: TLS is required (the domain's policy is in enforce mode, RFC 8461 §5)"
            }
            _ => {
                "TLS is required (the host has DNSSEC-signed TLSA records, none usable, RFC 7672 §2.2)"
            }
        };
        if !session.caps.has(smtp_proto::EXT_START_TLS) {
            if *policy == TlsPolicy::StsTesting {
                self.sts_testing_warning(mx, &peer, "the host does not offer STARTTLS");
            }
            if policy.requires_tls() {
                let error = SetupError::new(
                    status::TLS_NOT_OFFERED,
                    mx,
                    format!("{what} but {peer} does not offer STARTTLS"),
                );
                session.quit().await;
                return Err(error);
            }
            return Ok(session);
        }

        // RFC 3207 §4.
        let reply = session
            .command("STARTTLS", self.timeouts.command, "the reply to STARTTLS")
            .await
            .map_err(|err| SetupError::link(&session, &err))?;
        if reply.code != 220 {
            if policy.requires_tls() {
                let mut error = SetupError::new(
                    status::TLS_NOT_OFFERED,
                    mx,
                    format!("{what} but {peer} refused STARTTLS: {}", reply.full()),
                );
                error.failure.reply = Some(reply.full());
                session.quit().await;
                return Err(error);
            }
            if *policy == TlsPolicy::StsTesting {
                self.sts_testing_warning(
                    mx,
                    &peer,
                    &format!("the host refused STARTTLS: {}", reply.full()),
                );
            }
            // RFC 3207 §4: the session goes on, in cleartext.
            return Ok(session);
        }
        if !session.buf.is_empty() {
            // Anything after the 220 was sent before TLS and could be injected by an attacker
            // (the STARTTLS command injection of CVE-2011-0411): refuse the session.
            return Err(SetupError::new(
                status::PROTOCOL,
                mx,
                format!("{peer}: data after the reply to STARTTLS, before TLS"),
            ));
        }
        self.handshake(session, policy).await
    }

    /// MTA-STS `testing` (RFC 8461 §5): what an `enforce` policy would have refused, logged and
    /// otherwise ignored. (RFC 8460 TLS reports are not sent.)
    fn sts_testing_warning(&self, mx: &str, peer: &str, problem: &str) {
        tracing::warn!(
            domain = %self.domain,
            mx = %mx,
            peer = %peer,
            problem = %problem,
            "MTA-STS (testing): an enforce policy would refuse this host; delivering anyway"
        );
    }

    async fn handshake(
        &self,
        mut session: Session,
        policy: &TlsPolicy,
    ) -> Result<Session, SetupError> {
        let mx = session.mx.clone();
        let peer = session.peer();
        let Some(Stream::Plain(tcp)) = session.stream.take() else {
            return Err(SetupError::new(
                status::PROTOCOL,
                &mx,
                format!("{peer}: STARTTLS twice"),
            ));
        };
        let config = match self.tls.for_policy(policy, &mx, self.domain) {
            Ok(Some(config)) => config,
            Ok(None) => {
                return Err(SetupError::new(
                    status::PROTOCOL,
                    &mx,
                    format!("{peer}: no TLS configuration"),
                ));
            }
            Err(reason) => {
                return Err(SetupError::new(
                    status::CRYPTO_FAILURE,
                    &mx,
                    format!("MTA-STS: {peer}: {reason}"),
                ));
            }
        };
        // RFC 7672 §8.1: send SNI with the MX host name.
        let server_name = ServerName::try_from(mx.clone())
            .unwrap_or_else(|_| ServerName::IpAddress(session.addr.ip().into()));
        let connector = TlsConnector::from(config);
        let tls =
            match tokio::time::timeout(self.timeouts.command, connector.connect(server_name, tcp))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    let mut reason = format!("{peer}: TLS handshake failed: {err}");
                    match policy {
                        TlsPolicy::Dane(_) if !reason.contains("DANE") => {
                            reason = format!("DANE: {reason}");
                        }
                        // RFC 8461 §4.2: the certificate must chain to a trusted root and carry
                        // the MX host name.
                        TlsPolicy::Sts => {
                            reason = format!(
                                "MTA-STS: {reason} (a certificate valid for {mx} under WebPKI \
                                 is required, RFC 8461 §4.2)"
                            );
                        }
                        TlsPolicy::StsTesting => {
                            self.sts_testing_warning(&mx, &peer, &reason);
                        }
                        _ => {}
                    }
                    return Err(SetupError {
                        failure: outcome::failure(status::CRYPTO_FAILURE, Some(&mx), reason),
                        retry_plaintext: policy.retries_plaintext(),
                    });
                }
                Err(_) => {
                    let mut reason = format!("{peer}: TLS handshake timed out");
                    if *policy == TlsPolicy::Sts {
                        reason = format!("MTA-STS: {reason}");
                    }
                    return Err(SetupError {
                        failure: outcome::failure(status::CRYPTO_FAILURE, Some(&mx), reason),
                        retry_plaintext: policy.retries_plaintext(),
                    });
                }
            };
        let (_, connection) = tls.get_ref();
        if *policy == TlsPolicy::StsTesting {
            // Accepted as opportunistic TLS; check what enforce would have checked.
            let chain = connection.peer_certificates().unwrap_or_default();
            if let Err(err) = self.tls.check_webpki(&mx, chain) {
                self.sts_testing_warning(
                    &mx,
                    &peer,
                    &format!("certificate not valid for {mx} under WebPKI: {err}"),
                );
            }
        }
        session.tls = Some(format!(
            "{} {}",
            connection
                .protocol_version()
                .map(|version| format!("{version:?}"))
                .unwrap_or_default(),
            connection
                .negotiated_cipher_suite()
                .map(|suite| format!("{:?}", suite.suite()))
                .unwrap_or_default()
        ));
        session.security = match policy {
            TlsPolicy::Dane(_) => Security::Dane,
            TlsPolicy::Sts => Security::Sts,
            _ => Security::TlsUnauthenticated,
        };
        session.stream = Some(Stream::Tls(Box::new(tls)));
        // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
        session.caps = Capabilities::default();
        session.hello(self.hostname, self.timeouts.command).await?;
        Ok(session)
    }
}
