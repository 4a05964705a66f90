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

use postwerk_core::{DsnRet, EnvelopeRecipient, FilterReply, Login};
use smtp_proto::Request;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::framing::{Chunks, Line, LineReader};
use crate::ops;
use crate::reply::{self, Reply};
use crate::server::Server;

pub(crate) use postwerk_net::{Conn, Stop, TlsInfo};

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
    /// RFC 1870 SIZE given with MAIL, 0 when none: checked against mailbox limits (ADDR-10).
    pub declared_size: u64,
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
    /// RCV-9: the refusal for every transaction when a DNS block list names the client (MX
    /// only; looked up once at connection).
    pub blocked: Option<FilterReply>,
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
            blocked: None,
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
        // `blocked` stays: it is about the client's address, which TLS does not change.
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
        // RFC 6533: a `utf-8` ORCPT, which the parser does not know, is decoded apart.
        let (line, utf8_orcpt) = match ops::orcpt::take_utf8_orcpt(line) {
            Some((_, None)) => {
                return self.answer(conn, ops::parse_error(&orcpt_refused()));
            }
            Some((rest, Some(orcpt))) => (std::borrow::Cow::Owned(rest), Some(orcpt)),
            None => (std::borrow::Cow::Borrowed(line), None),
        };
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
            Request::Rcpt { to } => ops::rcpt::run(self, conn, to, utf8_orcpt).await,
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

/// The refusal of an ORCPT parameter whose value breaks its grammar, in smtp-proto's words.
fn orcpt_refused() -> smtp_proto::Error {
    smtp_proto::Error::InvalidParameter { param: "ORCPT" }
}
