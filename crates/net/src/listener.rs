//! The accept loop: one task per connection, bounded in number, drained on shutdown.
//!
//! Shutdown follows mini-redis: a cancellation token tells every session to finish, and the
//! server waits on a task tracker until every connection task has ended.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
}

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
        let session = Arc::clone(&session);
        shutdown.tracker().spawn(async move {
            session(stream, peer).await;
            drop(permit);
        });
    }
    tracing::debug!(protocol = options.protocol, "listener stopped accepting");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_connections_and_drains_on_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            protocol: "echo",
            max_connections: 4,
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
}
