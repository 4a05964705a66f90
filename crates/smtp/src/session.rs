//! One SMTP session over any byte stream: the connection buffers, the state, the command loop.
//!
//! ```text
//!            EHLO/HELO              MAIL                 RCPT*            DATA / BDAT…LAST
//!  Connected ─────────► Greeted ───────────► Mail(tx) ─────────► Mail(tx) ───────────► Greeted
//!      ▲                  ▲  │ RSET/EHLO        │ RSET/EHLO                              │
//!      │ STARTTLS         │  └──────────────────┴────────────────────────────────────────┘
//!      └── (TLS; everything forgotten, RFC 3207 §4.2)
//! ```
//!
//! Replies are batched for PIPELINING (RFC 2920 §3.1): they go into an output buffer that is
//! flushed whenever the session is about to wait for input, so a client that sent a group of
//! commands gets their replies together, and a client that waits for each reply gets it at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postwerk_core::{DsnRet, EnvelopeRecipient, Login};
use smtp_proto::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::framing::{Chunks, Line, LineReader};
use crate::ops;
use crate::reply::{self, Reply};
use crate::server::Server;

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Why the session stopped reading.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The client closed the connection.
    Eof,
    /// Nothing arrived for `idle_timeout`, or the session ran out of time.
    Timeout,
    /// The server is shutting down (only between commands).
    Shutdown,
    /// The connection failed.
    Io(std::io::Error),
}

/// The byte stream with its input and output buffers and deadlines.
pub(crate) struct Conn<S> {
    io: S,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
    idle: Duration,
    deadline: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(crate) fn new(io: S, idle: Duration, deadline: Instant) -> Conn<S> {
        Conn {
            io,
            input: Vec::new(),
            start: 0,
            output: Vec::new(),
            idle,
            deadline,
        }
    }

    /// The input received and not consumed yet.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks `n` buffered bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.input.len());
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
    }

    /// Queues a reply (sent at the next flush).
    pub(crate) fn push(&mut self, reply: &Reply) {
        reply.write_to(&mut self.output);
    }

    /// Sends the queued replies. A client that stops reading gets the idle time to drain them
    /// and then loses the session, so it cannot pin a task and its buffers forever.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        let write = async {
            if !self.output.is_empty() {
                self.io.write_all(&self.output).await?;
                self.output.clear();
            }
            self.io.flush().await
        };
        let until = (Instant::now() + self.idle).min(self.deadline);
        match tokio::time::timeout_at(until, write).await {
            Ok(result) => result,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Flushes the replies, then waits for more input (RFC 2920: replies go out before the
    /// server blocks). With `shutdown`, a server shutdown interrupts the wait.
    pub(crate) async fn fill(
        &mut self,
        shutdown: Option<&postwerk_net::Shutdown>,
    ) -> Result<(), Stop> {
        self.flush().await.map_err(Stop::Io)?;
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let len = self.input.len();
        self.input.resize(len + READ_CHUNK, 0);
        let until = (Instant::now() + self.idle).min(self.deadline);
        let read = self.io.read(&mut self.input[len..]);
        let outcome = match shutdown {
            Some(shutdown) => tokio::select! {
                _ = shutdown.triggered() => None,
                read = tokio::time::timeout_at(until, read) => Some(read),
            },
            None => Some(tokio::time::timeout_at(until, read).await),
        };
        let result = match outcome {
            None => Err(Stop::Shutdown),
            Some(Err(_)) => Err(Stop::Timeout),
            Some(Ok(Err(error))) => Err(Stop::Io(error)),
            Some(Ok(Ok(0))) => Err(Stop::Eof),
            Some(Ok(Ok(n))) => {
                self.input.truncate(len + n);
                return Ok(());
            }
        };
        self.input.truncate(len);
        result
    }

    /// Reads exactly `n` bytes (a BDAT chunk), handing them to `sink` as they come.
    pub(crate) async fn read_exact_into(
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

    /// Gives the stream back (STARTTLS), dropping whatever input was buffered: RFC 3207 §4.2
    /// says nothing received before the handshake may be acted upon after it.
    pub(crate) fn into_inner(self) -> S {
        self.io
    }

    /// Closes the write side after flushing.
    pub(crate) async fn close(mut self) {
        let _ = self.flush().await;
        let _ = self.io.shutdown().await;
    }
}

/// The client's EHLO or HELO.
#[derive(Debug, Clone)]
pub(crate) struct Helo {
    /// The name it gave.
    pub name: String,
    /// EHLO (extensions on) or HELO.
    pub extended: bool,
}

/// One mail transaction, from MAIL to the end of the message.
#[derive(Debug)]
pub(crate) struct Transaction {
    /// Identifies the message in logs and in `Received:`; also the queue id given to the
    /// client.
    pub id: String,
    /// The reverse-path, without brackets; empty for the null sender.
    pub return_path: String,
    /// RFC 6531 SMTPUTF8 given with MAIL.
    pub smtputf8: bool,
    /// RFC 3461 ENVID.
    pub envid: Option<String>,
    /// RFC 3461 RET.
    pub ret: Option<DsnRet>,
    /// Accepted recipients.
    pub recipients: Vec<EnvelopeRecipient>,
    /// BDAT chunks received so far (RFC 3030), once the first arrived.
    pub chunks: Option<Chunks>,
}

/// Where the session stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// No EHLO/HELO yet (or since STARTTLS).
    Connected,
    /// Greeted, no transaction.
    Greeted,
    /// Inside a transaction.
    Mail(Box<Transaction>),
}

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
    StartTls,
}

/// TLS facts for logs and `Received:`.
#[derive(Debug, Clone)]
pub(crate) struct TlsInfo {
    pub version: String,
    pub cipher: String,
}

/// The state of one connection, independent of the stream (it survives STARTTLS).
pub(crate) struct Session {
    pub server: Arc<Server>,
    pub peer: SocketAddr,
    pub tls: Option<TlsInfo>,
    pub helo: Option<Helo>,
    pub login: Option<Login>,
    pub phase: Phase,
    pub errors: u32,
    pub commands: u32,
    pub lines: LineReader,
}

/// How `run` ended.
pub(crate) enum End<S> {
    /// The session is over.
    Closed,
    /// STARTTLS was accepted: here is the stream for the handshake.
    StartTls(S),
}

impl Session {
    pub(crate) fn new(server: Arc<Server>, peer: SocketAddr) -> Session {
        let lines = LineReader::new(server.limits.max_line_length);
        Session {
            server,
            peer,
            tls: None,
            helo: None,
            login: None,
            phase: Phase::Connected,
            errors: 0,
            commands: 0,
            lines,
        }
    }

    /// RFC 3207 §4.2: after the handshake the server forgets everything it learnt from the
    /// client, EHLO and authentication included.
    pub(crate) fn reset_after_tls(&mut self, info: TlsInfo) {
        self.tls = Some(info);
        self.helo = None;
        self.login = None;
        self.phase = Phase::Connected;
        self.lines = LineReader::new(self.server.limits.max_line_length);
    }

    /// Queues a reply and counts refusals; returns false when the error budget is spent (the
    /// `421` is then queued too).
    pub(crate) fn reply<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        reply: Reply,
    ) -> bool {
        conn.push(&reply);
        if reply.is_refusal() {
            self.errors += 1;
            if self.errors >= self.server.limits.max_errors {
                conn.push(&reply::too_many_errors(&self.server.hostname));
                tracing::info!(errors = self.errors, "closing: too many errors");
                return false;
            }
        }
        true
    }

    /// Replies and continues, or closes when the error budget is spent.
    pub(crate) fn answer<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        reply: Reply,
    ) -> Flow {
        let closes = reply.closes();
        if !self.reply(conn, reply) || closes {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    /// Reads one command line, consuming it from the buffer.
    pub(crate) async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        interruptible: bool,
    ) -> Result<Result<Vec<u8>, Line>, Stop> {
        loop {
            let (line, consumed) = self.lines.take(conn.buffered());
            let complete = match line {
                Some(Line::Complete(len)) => Some(Ok(conn.buffered()[..len].to_vec())),
                Some(other) => Some(Err(other)),
                None => None,
            };
            conn.consume(consumed);
            if let Some(line) = complete {
                return Ok(line);
            }
            let shutdown = interruptible.then_some(&self.server.shutdown);
            conn.fill(shutdown).await?;
        }
    }

    /// Runs commands until the session ends or STARTTLS hands the stream back.
    pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        mut conn: Conn<S>,
    ) -> End<S> {
        loop {
            let line = match self.read_line(&mut conn, true).await {
                Ok(line) => line,
                Err(stop) => {
                    self.stopped(&mut conn, stop);
                    conn.close().await;
                    return End::Closed;
                }
            };
            self.commands += 1;
            let flow = if self.commands > self.server.limits.max_commands {
                conn.push(&reply::too_many_commands(&self.server.hostname));
                Flow::Close
            } else {
                match line {
                    Ok(line) => self.dispatch(&mut conn, &line).await,
                    Err(Line::TooLong) => self.answer(&mut conn, reply::line_too_long()),
                    Err(_) => self.answer(&mut conn, reply::bare_line_ending_in_command()),
                }
            };
            match flow {
                Flow::Continue => {}
                Flow::Close => {
                    conn.close().await;
                    return End::Closed;
                }
                Flow::StartTls => {
                    if let Err(error) = conn.flush().await {
                        tracing::debug!(%error, "connection lost before the TLS handshake");
                        return End::Closed;
                    }
                    return End::StartTls(conn.into_inner());
                }
            }
        }
    }

    /// Says goodbye where the protocol allows it, and logs why the session stopped.
    pub(crate) fn stopped<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        stop: Stop,
    ) {
        match stop {
            Stop::Eof => tracing::debug!("client closed the connection"),
            Stop::Io(error) => tracing::debug!(%error, "connection failed"),
            Stop::Timeout => {
                tracing::info!("closing: timeout");
                conn.push(&reply::timeout(&self.server.hostname));
            }
            Stop::Shutdown => {
                tracing::info!("closing: server shutdown");
                conn.push(&reply::shutting_down(&self.server.hostname));
            }
        }
    }

    async fn dispatch<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        conn: &mut Conn<S>,
        line: &[u8],
    ) -> Flow {
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request.into_owned(),
            Err(error) => return self.answer(conn, ops::parse_error(&error)),
        };
        match request {
            Request::Ehlo { host } => ops::ehlo::run(self, conn, host, true),
            Request::Helo { host } => ops::ehlo::run(self, conn, host, false),
            Request::StartTls => ops::starttls::run(self, conn),
            Request::Auth {
                mechanism,
                initial_response,
            } => ops::auth::run(self, conn, mechanism, initial_response).await,
            Request::Mail { from } => ops::mail::run(self, conn, from).await,
            Request::Rcpt { to } => ops::rcpt::run(self, conn, to).await,
            Request::Data => ops::data::run(self, conn).await,
            Request::Bdat {
                chunk_size,
                is_last,
            } => ops::bdat::run(self, conn, chunk_size, is_last).await,
            Request::Rset => ops::rset::run(self, conn),
            Request::Noop { .. } => ops::noop::run(self, conn),
            Request::Quit => ops::quit::run(self, conn),
            Request::Vrfy { .. } | Request::Expn { .. } => ops::vrfy::run(self, conn),
            Request::Help { .. } => self.answer(conn, reply::help()),
            Request::Lhlo { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.answer(conn, reply::not_implemented()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that never reads must not hold the session: the flush gives up after the
    /// idle time (paused clock, so the test neither sleeps nor measures time).
    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_loses_the_session() {
        let (server_side, _client_side_never_read) = tokio::io::duplex(64);
        let idle = Duration::from_secs(300);
        let mut conn = Conn::new(
            server_side,
            idle,
            Instant::now() + Duration::from_secs(3600),
        );
        for _ in 0..100 {
            conn.push(&reply::timeout("mail.example.test"));
        }
        let error = conn.flush().await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }
}
