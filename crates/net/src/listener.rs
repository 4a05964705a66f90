//! The accept loop: one task per connection, bounded in number, drained on shutdown.
//!
//! Shutdown follows mini-redis: a cancellation token tells every session to finish, and the
//! server waits on a task tracker until every connection task has ended.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::per_address::AddressLimits;

/// Shared shutdown signal plus the set of running connection tasks.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    /// A fresh, not yet triggered shutdown handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every listener to stop accepting and every session to finish its current work.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Resolves once shutdown has been triggered; sessions select on it between commands.
    pub async fn triggered(&self) {
        self.token.cancelled().await
    }

    /// Whether shutdown has been triggered.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The tracker in which long-lived tasks register so that shutdown can wait for them.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Waits until every tracked task has finished (call after [`Shutdown::trigger`]).
    pub async fn drained(&self) {
        self.tasks.close();
        self.tasks.wait().await
    }
}

/// Limits applied by the accept loop.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Protocol name, for logs and metrics (`smtp`, `imaps`, ...).
    pub protocol: &'static str,
    /// At most this many connections are served at once; further ones wait in the kernel backlog.
    pub max_connections: usize,
    /// Connections per client address, shared with the protocol's other listeners; `None`:
    /// no limit.
    pub per_address: Option<Arc<AddressLimits>>,
    /// What a client over its address's share is told before the connection closes (the
    /// protocol's "try later" greeting); `None` closes at once (implicit-TLS listeners, whose
    /// clients expect a handshake, not text).
    pub busy: Option<&'static [u8]>,
}

/// How long a refused client gets to read the busy line before the connection is closed.
const BUSY_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections until shutdown, running `session` for each in a tracked task.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    options: ServeOptions,
    shutdown: Shutdown,
    session: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let session = Arc::new(session);
    loop {
        let permit = tokio::select! {
            _ = shutdown.triggered() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.triggered() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // EMFILE and friends: log and keep serving; the permit is dropped here.
                tracing::warn!(protocol = options.protocol, %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let slot = match &options.per_address {
            Some(limits) => match limits.admit(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    drop(permit);
                    tracing::info!(
                        protocol = options.protocol,
                        %peer,
                        "refused: too many connections from this address"
                    );
                    shutdown.tracker().spawn(refuse(stream, options.busy));
                    continue;
                }
            },
            None => None,
        };
        let session = Arc::clone(&session);
        shutdown.tracker().spawn(async move {
            session(stream, peer).await;
            drop(slot);
            drop(permit);
        });
    }
    tracing::debug!(protocol = options.protocol, "listener stopped accepting");
}

/// Tells a client over its share to come back later (when the protocol has a line for it),
/// then closes; a client that does not read is not waited for long.
async fn refuse(mut stream: TcpStream, busy: Option<&'static [u8]>) {
    if let Some(line) = busy {
        let _ = tokio::time::timeout(BUSY_WRITE_TIMEOUT, stream.write_all(line)).await;
    }
    let _ = tokio::time::timeout(BUSY_WRITE_TIMEOUT, stream.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn serves_connections_and_drains_on_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            protocol: "echo",
            max_connections: 4,
            per_address: None,
            busy: None,
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            shutdown.clone(),
            |mut s, _| async move {
                let mut buf = [0u8; 5];
                if s.read_exact(&mut buf).await.is_ok() {
                    let _ = s.write_all(&buf).await;
                }
            },
        ));
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        shutdown.trigger();
        server.await.unwrap();
        shutdown.drained().await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "listener must be closed"
        );
    }

    /// Issue 10: an address holding its share of idle connections (slowloris) gets the busy
    /// line for one more, while another address is still served.
    #[tokio::test]
    async fn an_address_over_its_share_is_refused_and_others_are_served() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            protocol: "echo",
            max_connections: 16,
            per_address: Some(AddressLimits::new(2)),
            busy: Some(b"421 busy\r\n"),
        };
        let server = tokio::spawn(serve(
            listener,
            options,
            shutdown.clone(),
            |mut s, _| async move {
                let _ = s.write_all(b"hello\r\n").await;
                // A slow client: the session waits for a line that never comes.
                let mut buf = [0u8; 1];
                let _ = s.read(&mut buf).await;
            },
        ));
        let connect_from = |ip: &'static str| async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
            let mut stream = socket.connect(addr).await.unwrap();
            let mut line = [0u8; 7];
            stream.read_exact(&mut line).await.unwrap();
            (stream, line)
        };
        let (_slow1, line) = connect_from("127.0.0.1").await;
        assert_eq!(&line, b"hello\r\n");
        let (_slow2, line) = connect_from("127.0.0.1").await;
        assert_eq!(&line, b"hello\r\n");
        let (mut refused, line) = connect_from("127.0.0.1").await;
        assert_eq!(&line, b"421 bus");
        let mut rest = Vec::new();
        refused.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"y\r\n", "then the connection closes");
        let (_other, line) = connect_from("127.0.0.2").await;
        assert_eq!(&line, b"hello\r\n", "another address is served");
        shutdown.trigger();
        server.await.unwrap();
    }
}
