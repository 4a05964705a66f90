//! One POP3 session over any byte stream: the connection buffers, the state, the command loop.
//!
//! ```text
//!                 USER+PASS / AUTH PLAIN (inside TLS), maildrop locked
//!  AUTHORIZATION ─────────────────────────────────────────────────► TRANSACTION
//!    │  ▲  STLS (pop3 only; RFC 2595)                                  │ QUIT
//!    │  └──┘ (TLS; pending USER forgotten)                             ▼
//!    │ QUIT                                      UPDATE: marked messages removed
//!    ▼                                           atomically, then the session ends
//!  closed ◄─────────────── timeout, shutdown, password change (ID-6): no UPDATE
//! ```
//!
//! RFC 1939 §3 states, as an enum whose variants carry only what is valid there: the pending
//! USER name before login; the login, the maildrop snapshot and its lock after. UPDATE is
//! the QUIT op itself, never a resting state.
//!
//! Responses are buffered and flushed whenever the session is about to wait for input, which
//! is what RFC 2449 §6.6 PIPELINING needs.

use std::net::SocketAddr;
use std::sync::Arc;

use postwerk_core::Login;
use postwerk_model::FolderId;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::command::{Command, ParseError};
use crate::framing::{Line, LineReader};
use crate::locks::MaildropLock;
use crate::maildrop::Maildrop;
use crate::ops;
use crate::reply::{self, Reply};
use crate::server::Server;

/// Output held before it is written without waiting for the next read (large RETR).
const FLUSH_AT: usize = 256 * 1024;

pub(crate) use postwerk_net::{Conn, Stop};

/// What the TRANSACTION state holds: the login, the INBOX snapshot and its lock.
#[derive(Debug)]
pub(crate) struct Transaction {
    /// Who logged in, with the credential epoch checked before every command (ID-6).
    pub login: Login,
    /// The INBOX; `None` for a mailbox that holds no mail (its maildrop is empty).
    pub folder: Option<FolderId>,
    /// The numbered messages and their deletion marks.
    pub maildrop: Maildrop,
    /// Exclusive access to the maildrop, released when the session ends.
    pub _lock: MaildropLock,
}

/// RFC 1939 §3 states.
#[derive(Debug)]
pub(crate) enum State {
    /// Before login; `user` is the name given with USER, waiting for PASS.
    Authorization { user: Option<String> },
    /// Logged in, maildrop locked.
    Transaction(Box<Transaction>),
}

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Close,
    StartTls,
}

/// How `run` ended.
pub(crate) enum End<S> {
    /// The session is over.
    Closed,
    /// STLS was accepted: here is the stream for the handshake.
    StartTls(S),
}

/// The state of one connection, independent of the stream (it survives STLS).
pub(crate) struct Session {
    pub server: Arc<Server>,
    pub peer: SocketAddr,
    /// Whether the connection is inside TLS (implicit or after STLS).
    pub tls: bool,
    pub state: State,
    /// Bad commands so far.
    pub errors: u32,
    /// Commands so far.
    pub commands: u32,
    lines: LineReader,
}

impl Session {
    pub(crate) fn new(server: Arc<Server>, peer: SocketAddr) -> Session {
        let lines = LineReader::new(server.limits.max_line_length);
        Session {
            server,
            peer,
            tls: false,
            state: State::Authorization { user: None },
            errors: 0,
            commands: 0,
            lines,
        }
    }

    /// After the STLS handshake: inside TLS, and nothing learnt in clear text is kept.
    pub(crate) fn reset_after_tls(&mut self) {
        self.tls = true;
        self.state = State::Authorization { user: None };
        self.lines = LineReader::new(self.server.limits.max_line_length);
    }

    /// The login of the session, once in the TRANSACTION state.
    pub(crate) fn login(&self) -> Option<&Login> {
        match &self.state {
            State::Transaction(transaction) => Some(&transaction.login),
            State::Authorization { .. } => None,
        }
    }

    /// Queues a response; counts bad commands and closes when their budget is spent.
    pub(crate) fn answer<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        reply: Reply,
    ) -> Flow {
        conn.push(&reply);
        if reply.closes {
            return Flow::Close;
        }
        if reply.is_bad_command() {
            self.errors += 1;
            if self.errors >= self.server.limits.max_errors {
                tracing::info!(errors = self.errors, "closing: too many bad commands");
                conn.push(&reply::too_many_errors());
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    /// Reads one line, consuming it from the buffer: `Ok(Some(line))`, or `Ok(None)` for a
    /// line over the limit.
    pub(crate) async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        interruptible: bool,
    ) -> Result<Option<Vec<u8>>, Stop> {
        loop {
            match self.lines.take(conn.buffered()) {
                Ok(Line::Complete { len, consumed }) => {
                    let line = conn.buffered()[..len].to_vec();
                    conn.consume(consumed);
                    return Ok(Some(line));
                }
                Ok(Line::TooLong { consumed }) => {
                    conn.consume(consumed);
                    return Ok(None);
                }
                Err(discarded) => conn.consume(discarded),
            }
            let shutdown = interruptible.then_some(&self.server.shutdown);
            conn.fill(shutdown).await?;
        }
    }

    /// Runs commands until the session ends or STLS hands the stream back.
    pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        mut conn: Conn<S>,
    ) -> End<S> {
        loop {
            let line = match self.read_line(&mut conn, true).await {
                Ok(line) => line,
                Err(stop) => {
                    self.stopped(&mut conn, stop);
                    self.release();
                    conn.close().await;
                    return End::Closed;
                }
            };
            self.commands += 1;
            let flow = match line {
                Some(line) => self.dispatch(&mut conn, &line).await,
                None => self.answer(&mut conn, reply::line_too_long()),
            };
            match flow {
                Flow::Continue => {
                    if conn.pending_output() >= FLUSH_AT
                        && let Err(error) = conn.flush().await
                    {
                        tracing::debug!(%error, "connection failed");
                        return End::Closed;
                    }
                }
                Flow::Close => {
                    self.release();
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

    /// Leaves the TRANSACTION state without UPDATE, releasing the maildrop before the
    /// connection closes, so a client that reconnects at once finds it free.
    fn release(&mut self) {
        self.state = State::Authorization { user: None };
    }

    /// Says why the session ends where the protocol allows it, and logs it. None of these
    /// enters the UPDATE state (RFC 1939 §3, §6): marked messages stay.
    pub(crate) fn stopped<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        stop: Stop,
    ) {
        match stop {
            Stop::Eof => tracing::debug!("client closed the connection"),
            Stop::Io(error) => tracing::debug!(%error, "connection failed"),
            Stop::Timeout => {
                tracing::info!("closing: inactivity timeout");
                conn.push(&reply::timeout());
            }
            Stop::Shutdown => {
                tracing::info!("closing: server shutdown");
                conn.push(&reply::shutting_down());
            }
        }
    }

    async fn dispatch<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &mut self,
        conn: &mut Conn<S>,
        line: &[u8],
    ) -> Flow {
        let command = match Command::parse(line) {
            Ok(command) => command,
            Err(ParseError::Unknown) => return self.answer(conn, reply::unknown_command()),
            Err(ParseError::Syntax(usage)) => return self.answer(conn, reply::syntax(usage)),
        };
        // ID-6: a password change (or a disabled mailbox) ends the session before its next
        // command, QUIT included, so nothing is deleted on the strength of an old password.
        if let Some(login) = self.login() {
            match self.server.auth.still_valid(login).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!("closing: the mailbox password changed (ID-6)");
                    return self.answer(conn, reply::credentials_changed());
                }
                Err(error) => {
                    tracing::error!(%error, "checking the credential epoch failed");
                    return self.answer(conn, reply::internal());
                }
            }
        }
        match command {
            Command::Capa => ops::capa::run(self, conn),
            Command::Stls => ops::stls::run(self, conn),
            Command::User(name) => ops::user::run(self, conn, name),
            Command::Pass(password) => ops::pass::run(self, conn, password).await,
            Command::Auth { mechanism, initial } => {
                ops::auth::run(self, conn, mechanism, initial).await
            }
            Command::Apop => ops::apop::run(self, conn),
            Command::Stat => ops::stat::run(self, conn),
            Command::List(msg) => ops::list::run(self, conn, msg),
            Command::Uidl(msg) => ops::uidl::run(self, conn, msg),
            Command::Retr(msg) => ops::retr::run(self, conn, msg).await,
            Command::Top { msg, lines } => ops::top::run(self, conn, msg, lines).await,
            Command::Dele(msg) => ops::dele::run(self, conn, msg),
            Command::Noop => ops::noop::run(self, conn),
            Command::Rset => ops::rset::run(self, conn),
            Command::Quit => ops::quit::run(self, conn).await,
        }
    }
}
