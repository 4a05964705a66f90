//! Conversation scripts for protocol sessions run in-process over an in-memory stream: the
//! client half of every crate's `tests/transcripts.rs`, with the TLS material they share.
//!
//! Script lines: `C: text` is sent with CRLF (`C:` alone sends an empty line); `C~ text` is
//! sent as is, after turning `\r` and `\n` into CR and LF (for bytes a well-behaved client never
//! sends); `S: pattern` must match the next line the server sends, where `*` matches any run of
//! characters (`S:` alone expects an empty line); `TLS` runs a TLS handshake as a client;
//! `END` expects the server to close the connection. Blank lines and `#` comments are skipped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use postwerk_net::{TlsAcceptor, TlsSource};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

/// The name in the test certificate, and the one clients ask for.
pub const TLS_NAME: &str = "mail.example.test";

/// A byte stream a script client talks over (plain or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A server certificate and a client that trusts it.
#[derive(Clone)]
pub struct TlsPair {
    /// For the server under test.
    pub acceptor: TlsAcceptor,
    /// For the script client.
    pub connector: TlsConnector,
}

impl TlsPair {
    /// A self-signed certificate for [`TLS_NAME`], generated into `dir`.
    pub fn self_signed(dir: &Path) -> TlsPair {
        let acceptor = postwerk_net::load_tls(&TlsSource::SelfSigned {
            hostname: TLS_NAME.into(),
            dir: dir.to_path_buf(),
        })
        .expect("self-signed certificate");
        let pem = std::fs::read(dir.join("self-signed.crt")).expect("certificate file");
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(cert.expect("PEM certificate"))
                .expect("trusted root");
        }
        let client = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsPair {
            acceptor,
            connector: TlsConnector::from(Arc::new(client)),
        }
    }
}

/// The address sessions under test see as their peer.
pub fn peer() -> SocketAddr {
    "192.0.2.1:4000".parse().expect("documentation address")
}

/// One client connection to a session running in a task.
pub struct Client {
    io: Box<dyn Io>,
    pending: Vec<u8>,
    session: JoinHandle<()>,
    connector: TlsConnector,
}

impl Client {
    /// Starts a session with `start(server_side_stream, peer)` in a task and connects to it.
    pub fn connect<F, Fut>(connector: &TlsConnector, start: F) -> Client
    where
        F: FnOnce(DuplexStream, SocketAddr) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (client, server_side) = tokio::io::duplex(1 << 20);
        let session = tokio::spawn(start(server_side, peer()));
        Client {
            io: Box::new(client),
            pending: Vec::new(),
            session,
            connector: connector.clone(),
        }
    }

    /// Runs the client side of a TLS handshake.
    pub async fn tls(&mut self) {
        let name = ServerName::try_from(TLS_NAME).expect("server name");
        let io = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        self.io = Box::new(
            self.connector
                .connect(name, io)
                .await
                .expect("TLS handshake"),
        );
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("send to the session");
    }

    /// Plays a script (see the module documentation), panicking at the first mismatch.
    pub async fn script(&mut self, script: &str) {
        for (number, line) in script.lines().map(str::trim).enumerate() {
            let at = || format!("script line {}: {line}", number + 1);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line == "C:" {
                self.send(b"\r\n").await;
            } else if let Some(text) = line.strip_prefix("C: ") {
                self.send(format!("{text}\r\n").as_bytes()).await;
            } else if let Some(text) = line.strip_prefix("C~ ") {
                let bytes = text.replace("\\r", "\r").replace("\\n", "\n");
                self.send(bytes.as_bytes()).await;
            } else if let Some(pattern) = line.strip_prefix("S: ") {
                let got = self.read_line().await;
                let got = got.unwrap_or_else(|| panic!("{}: connection closed", at()));
                assert!(glob(pattern, &got), "{}: got {got:?}", at());
            } else if line == "S:" {
                let got = self.read_line().await;
                assert_eq!(got.as_deref(), Some(""), "{}", at());
            } else if line == "TLS" {
                self.tls().await;
            } else if line == "END" {
                let got = self.read_line().await;
                assert_eq!(got, None, "{}: expected the end", at());
            } else {
                panic!("bad script line {line:?}");
            }
        }
    }

    /// The next line the server sent, without CRLF; `None` once the connection is closed.
    pub async fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.pending[..end]).into_owned();
                self.pending.drain(..end + 2);
                return Some(line);
            }
            let mut buf = [0u8; 4096];
            match self.io.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Exactly `n` octets the server sent (a literal's content).
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.pending.len() < n {
            let mut buf = [0u8; 4096];
            match self.io.read(&mut buf).await {
                Ok(0) | Err(_) => panic!("connection closed inside a literal"),
                Ok(got) => self.pending.extend_from_slice(&buf[..got]),
            }
        }
        self.pending.drain(..n).collect()
    }

    /// Hangs up and waits for the session task to end.
    pub async fn finish(self) {
        drop(self.io);
        self.session.await.expect("session task");
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let Some((first, rest)) = parts.split_first() else {
        return text.is_empty();
    };
    let Some(mut text) = text.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i + 1 == rest.len() {
            return text.ends_with(part);
        }
        match text.find(part) {
            Some(at) => text = &text[at + part.len()..],
            None => return false,
        }
    }
    text.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(glob("* OK *", "* OK [CAPABILITY IMAP4rev1] ready"));
        assert!(glob("a1 OK", "a1 OK"));
        assert!(!glob("a1 OK", "a1 OK more"));
        assert!(glob("*", ""));
        assert!(!glob("x*y", "xz"));
    }
}
