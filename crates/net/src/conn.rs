//! One client connection as every line-based protocol here sees it: the byte stream with its
//! input and output buffers, the idle and whole-session deadlines, and the TLS handshake that
//! STARTTLS/STLS and implicit-TLS listeners share.
//!
//! Output is buffered and sent when the session is about to wait for input ([`Conn::fill`]),
//! which is what pipelining needs (RFC 2920 §3.1, RFC 2449 §6.6, RFC 9051 §5.5): a client that
//! sent a group of commands gets their answers together, one that waits gets each at once.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Shutdown;

/// The most read at once, once a client is sending a lot (a large APPEND, a BDAT chunk).
const READ_CHUNK: usize = 8 * 1024;

/// The first read after the buffers were released. An idle connection waits inside this read,
/// with this much allocated for it, for as long as it stays idle (IMAP IDLE: hours); commands
/// fit, and a read that fills it makes the next one bigger.
const FIRST_CHUNK: usize = 512;

/// Something that can be written to the wire: a protocol's reply type.
pub trait Wire {
    /// Appends the reply's octets to `out`.
    fn write_to(&self, out: &mut Vec<u8>);
}

/// Why a session stopped reading.
#[derive(Debug)]
pub enum Stop {
    /// The client closed the connection.
    Eof,
    /// Nothing arrived for the idle time, or the session ran out of time.
    Timeout,
    /// The server is shutting down (only between commands).
    Shutdown,
    /// The connection failed.
    Io(std::io::Error),
}

/// The byte stream with its input and output buffers and deadlines.
pub struct Conn<S> {
    io: S,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
    /// How much the next read may take: grows while reads come back full.
    chunk: usize,
    idle: Duration,
    deadline: Option<Instant>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// A connection that waits at most `idle` for each read or write, and ends at `deadline`
    /// if one is given (a bound on the whole session, as SMTP has).
    pub fn new(io: S, idle: Duration, deadline: Option<Instant>) -> Conn<S> {
        Conn {
            io,
            input: Vec::new(),
            start: 0,
            output: Vec::new(),
            chunk: FIRST_CHUNK,
            idle,
            deadline,
        }
    }

    /// Changes the idle time (IMAP allows longer once logged in, RFC 9051 §5.4).
    pub fn set_idle(&mut self, idle: Duration) {
        self.idle = idle;
    }

    /// The stream itself (to learn TLS details, for instance).
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The input received and not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks `n` buffered octets as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.input.len());
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
    }

    /// Queues a reply (sent at the next flush).
    pub fn push(&mut self, reply: &impl Wire) {
        reply.write_to(&mut self.output);
    }

    /// The output buffer, for protocols that write their responses straight into it.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// Octets queued and not sent yet.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// Gives back the memory of empty buffers, so that thousands of idle sessions (IMAP IDLE)
    /// hold no read or write buffer while they wait.
    pub fn release_buffers(&mut self) {
        if self.start == self.input.len() {
            self.input = Vec::new();
            self.start = 0;
        }
        if self.output.is_empty() {
            self.output = Vec::new();
        }
        self.chunk = FIRST_CHUNK;
    }

    fn until(&self) -> Instant {
        let idle = Instant::now() + self.idle;
        self.deadline.map_or(idle, |deadline| idle.min(deadline))
    }

    /// Sends the queued replies. A client that stops reading gets the idle time to take them
    /// and then loses the session, so it cannot pin a task and its buffers forever.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        let until = self.until();
        let write = async {
            if !self.output.is_empty() {
                self.io.write_all(&self.output).await?;
                self.output.clear();
            }
            self.io.flush().await
        };
        match tokio::time::timeout_at(until, write).await {
            Ok(result) => result,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Flushes the replies, then waits for more input. With `shutdown`, a server shutdown
    /// interrupts the wait.
    pub async fn fill(&mut self, shutdown: Option<&Shutdown>) -> Result<(), Stop> {
        match self.fill_or(shutdown, std::future::pending::<()>()).await {
            Ok(_) => Ok(()),
            Err(stop) => Err(stop),
        }
    }

    /// Like [`Conn::fill`], but also returns when `wake` completes first: `Ok(Some(value))`
    /// with nothing read (IMAP IDLE waits for input and for mailbox changes at once).
    /// `Ok(None)` when input arrived.
    pub async fn fill_or<T>(
        &mut self,
        shutdown: Option<&Shutdown>,
        wake: impl Future<Output = T>,
    ) -> Result<Option<T>, Stop> {
        self.flush().await.map_err(Stop::Io)?;
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let len = self.input.len();
        self.input.resize(len + self.chunk, 0);
        let until = self.until();
        let read = tokio::time::timeout_at(until, self.io.read(&mut self.input[len..]));
        let never = std::future::pending::<()>();
        let outcome = tokio::select! {
            biased;
            read = read => Ok(read),
            () = async {
                match shutdown {
                    Some(shutdown) => shutdown.triggered().await,
                    None => never.await,
                }
            } => Err(None),
            value = wake => Err(Some(value)),
        };
        let result = match outcome {
            Err(None) => Err(Stop::Shutdown),
            Err(Some(value)) => Ok(Some(value)),
            Ok(Err(_)) => Err(Stop::Timeout),
            Ok(Ok(Err(error))) => Err(Stop::Io(error)),
            Ok(Ok(Ok(0))) => Err(Stop::Eof),
            Ok(Ok(Ok(n))) => {
                if n == self.chunk {
                    self.chunk = (self.chunk * 4).min(READ_CHUNK);
                }
                self.input.truncate(len + n);
                return Ok(None);
            }
        };
        self.input.truncate(len);
        result
    }

    /// Reads exactly `n` octets (an SMTP BDAT chunk, an IMAP literal), handing them to `sink`
    /// as they come.
    pub async fn read_exact_into(
        &mut self,
        mut n: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), Stop> {
        loop {
            let take = n.min(self.buffered().len());
            sink(&self.buffered()[..take]);
            self.consume(take);
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.fill(None).await?;
        }
    }

    /// Gives the stream back for a TLS handshake, dropping whatever input was buffered:
    /// nothing a client pipelined in clear text after STARTTLS may be acted upon inside TLS
    /// (RFC 3207 §4.2, RFC 2595 §4, RFC 9051 §6.2.1; CVE-2011-0411).
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Gives the stream back with the input received and not consumed yet, for a layer that
    /// starts right after the last command and must see those octets first (IMAP COMPRESS,
    /// RFC 4978 §3).
    pub fn into_parts(mut self) -> (S, Vec<u8>) {
        let pending = self.input.split_off(self.start);
        (self.io, pending)
    }

    /// Closes the write side after flushing.
    pub async fn close(mut self) {
        let _ = self.flush().await;
        let _ = self.io.shutdown().await;
    }
}

/// What a TLS handshake negotiated, for logs and `Received:` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol version (`TLSv1_3`).
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
}

/// Runs the server side of a TLS handshake, giving up at `until`. Failures are logged and give
/// `None`; the version is recorded in the current span's `tls` field.
pub async fn accept_tls<S>(
    acceptor: Option<&TlsAcceptor>,
    stream: S,
    until: Instant,
) -> Option<(TlsStream<S>, TlsInfo)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(acceptor) = acceptor else {
        tracing::warn!("TLS requested but no certificate is configured");
        return None;
    };
    let tls = match tokio::time::timeout_at(until, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::info!(%error, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            tracing::info!("TLS handshake timed out");
            return None;
        }
    };
    let (_, connection) = tls.get_ref();
    let info = TlsInfo {
        version: connection
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        cipher: connection
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default(),
    };
    tracing::Span::current().record("tls", info.version.as_str());
    tracing::debug!(cipher = %info.cipher, "TLS established");
    Some((tls, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Text(&'static str);

    impl Wire for Text {
        fn write_to(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(self.0.as_bytes());
        }
    }

    #[tokio::test]
    async fn replies_wait_for_the_next_read_and_input_is_consumed_in_pieces() {
        let (client, server) = tokio::io::duplex(64);
        let mut conn = Conn::new(server, Duration::from_secs(5), None);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write.write_all(b"ONE\r\nTWO\r\n").await.unwrap();
        conn.push(&Text("hello\r\n"));
        assert_eq!(conn.pending_output(), 7);
        conn.fill(None).await.unwrap();
        let mut greeting = [0u8; 7];
        client_read.read_exact(&mut greeting).await.unwrap();
        assert_eq!(&greeting, b"hello\r\n", "flushed before waiting");
        assert_eq!(conn.buffered(), b"ONE\r\nTWO\r\n");
        conn.consume(5);
        assert_eq!(conn.buffered(), b"TWO\r\n");
        let mut taken = Vec::new();
        conn.read_exact_into(5, |bytes| taken.extend_from_slice(bytes))
            .await
            .unwrap();
        assert_eq!(taken, b"TWO\r\n");
        conn.release_buffers();
        assert_eq!(conn.input.capacity(), 0);
        drop((client_read, client_write));
        assert!(matches!(conn.fill(None).await, Err(Stop::Eof)));
    }

    #[tokio::test]
    async fn a_wake_future_interrupts_the_wait_without_losing_input() {
        let (client, server) = tokio::io::duplex(64);
        let mut conn = Conn::new(server, Duration::from_secs(5), None);
        let woke = conn.fill_or(None, async { 7 }).await.unwrap();
        assert_eq!(woke, Some(7));
        let (_read, mut write) = tokio::io::split(client);
        write.write_all(b"DONE\r\n").await.unwrap();
        let read = conn
            .fill_or(None, std::future::pending::<()>())
            .await
            .unwrap();
        assert_eq!(read, None);
        assert_eq!(conn.buffered(), b"DONE\r\n");
    }

    /// A client that never reads must not hold the session: the flush gives up after the
    /// idle time (paused clock, so the test neither sleeps nor measures time).
    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_loses_the_session() {
        let (server_side, _client_side_never_read) = tokio::io::duplex(64);
        let deadline = Instant::now() + Duration::from_secs(3600);
        let mut conn = Conn::new(server_side, Duration::from_secs(300), Some(deadline));
        for _ in 0..100 {
            conn.push(&Text("421 4.4.2 idle too long\r\n"));
        }
        let error = conn.flush().await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn shutdown_and_idle_time_end_the_wait() {
        let (_client, server) = tokio::io::duplex(64);
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let mut conn = Conn::new(server, Duration::from_secs(5), None);
        assert!(matches!(
            conn.fill(Some(&shutdown)).await,
            Err(Stop::Shutdown)
        ));
        conn.set_idle(Duration::from_millis(20));
        assert!(matches!(conn.fill(None).await, Err(Stop::Timeout)));
    }
}
