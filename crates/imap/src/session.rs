//! One IMAP session: its state (RFC 9051 §3), the command loop, and the points where changes
//! made by others are reported.
//!
//! ```text
//!                     LOGIN / AUTHENTICATE                 SELECT / EXAMINE
//!  Not authenticated ──────────────────────► Authenticated ─────────────────► Selected
//!    │  ▲ STARTTLS (imap only)                   ▲   CLOSE / UNSELECT /          │
//!    │  └─┘                                      └── failed SELECT ──────────────┘
//!    │ LOGOUT, timeout, shutdown, password change (ID-6)
//!    ▼
//!  Logout (BYE, connection closed)
//! ```
//!
//! Responses are buffered in the connection and flushed whenever the session waits for input,
//! so pipelined commands (RFC 9051 §5.5) get their answers together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use postwerk_core::Login;
use postwerk_core::auth::CredentialWatch;
use postwerk_net::{Conn, Stop};
use postwerk_store::FolderEvent;
use tokio::sync::broadcast;

use crate::ops;
use crate::proto::framing::{self, CommandReader, Framed, Line};
use crate::proto::parse::{self, ParseError};
use crate::response::Status;
use crate::selected::Selected;
use crate::server::{BoxStream, Server};

/// Output held before it is written without waiting for the next read (large FETCH).
const FLUSH_AT: usize = 256 * 1024;

/// Literal size before login: enough for LOGIN and AUTHENTICATE, nothing a client that has
/// proven nothing could use to make the server hold megabytes (Dovecot's login process has a
/// similar cap).
const LOGIN_LITERAL_MAX: u64 = 8 * 1024;

/// The framing limits of a session: the configured ones once logged in, small ones before.
fn reader_limits(server: &Server, logged_in: bool) -> framing::Limits {
    let max_line = server.limits.max_line_length;
    let max_literal = if logged_in {
        server.limits.max_literal
    } else {
        LOGIN_LITERAL_MAX.min(server.limits.max_literal)
    };
    framing::Limits {
        max_line,
        max_literal,
        max_command: max_literal.saturating_add(max_line as u64 * 4),
    }
}

/// The connection type every op works with.
pub(crate) type Connection = Conn<BoxStream>;

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection (after LOGOUT, BYE).
    Close,
    /// Hand the stream over for the TLS handshake.
    StartTls,
    /// Hand the stream over to be wrapped in DEFLATE.
    Compress,
}

/// How [`Session::run`] ended.
pub(crate) enum End {
    /// The session is over.
    Closed,
    /// STARTTLS was accepted: here is the stream for the handshake.
    StartTls(BoxStream),
    /// COMPRESS was accepted: the stream and the octets already received after the command.
    Compress(BoxStream, Vec<u8>),
}

/// What ENABLE turned on (RFC 5161) — or what using an extension implied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enabled {
    /// `IMAP4rev2` (RFC 9051): rev2 responses (no RECENT, ESEARCH for SEARCH RETURN, …).
    pub rev2: bool,
    /// `UTF8=ACCEPT` (RFC 6855), also implied by rev2: mailbox names are UTF-8.
    pub utf8: bool,
    /// `CONDSTORE` (RFC 7162 §3.1): MODSEQ in FETCH responses; also turned on by the first
    /// command that uses it.
    pub condstore: bool,
    /// `QRESYNC` (RFC 7162 §3.2): VANISHED instead of EXPUNGE; implies CONDSTORE.
    pub qresync: bool,
}

/// The state of one connection, independent of the stream (it survives STARTTLS and COMPRESS).
pub(crate) struct Session {
    /// The listener's shared state.
    pub server: Arc<Server>,
    /// The client.
    pub peer: SocketAddr,
    /// Whether the connection is inside TLS.
    pub tls: bool,
    /// Whether COMPRESS is active.
    pub compressed: bool,
    /// The mailbox logged into.
    pub login: Option<Login>,
    /// The selected folder.
    pub selected: Option<Selected>,
    /// What ENABLE turned on.
    pub enabled: Enabled,
    /// UIDs saved by `SEARCH RETURN (SAVE)` (RFC 5182), for `$`.
    pub saved_search: Vec<u32>,
    /// Change events of the logged-in mailbox's folders, from login on.
    pub events: Option<broadcast::Receiver<FolderEvent>>,
    /// The store's credential announcements of the login's mailbox (ID-6), from login on:
    /// they end an IDLE at once.
    pub credentials: Option<CredentialWatch>,
    /// Cuts the input into commands.
    pub reader: CommandReader,
    /// Set when the session must end after the current command (its folder was deleted).
    pub closing: bool,
    /// Bad commands so far.
    pub errors: u32,
    /// Commands so far.
    pub commands: u32,
}

impl Session {
    pub(crate) fn new(server: Arc<Server>, peer: SocketAddr) -> Session {
        let reader = CommandReader::new(reader_limits(&server, false));
        Session {
            server,
            peer,
            tls: false,
            compressed: false,
            login: None,
            selected: None,
            enabled: Enabled::default(),
            saved_search: Vec::new(),
            events: None,
            credentials: None,
            reader,
            closing: false,
            errors: 0,
            commands: 0,
        }
    }

    /// Raises the command size limits once the client has logged in.
    pub(crate) fn logged_in(&mut self) {
        self.reader.set_limits(reader_limits(&self.server, true));
    }

    /// How long to wait for the next command in the current state.
    pub(crate) fn timeout(&self) -> Duration {
        if self.login.is_some() {
            self.server.limits.idle_timeout
        } else {
            self.server.limits.login_timeout
        }
    }

    /// Whether mailbox names are UTF-8 on the wire (RFC 6855, RFC 9051 §5.1).
    pub(crate) fn utf8_names(&self) -> bool {
        self.enabled.utf8 || self.enabled.rev2
    }

    /// The greeting (RFC 9051 §7.1.1), with the capabilities so clients save a round trip.
    pub(crate) fn greet(&self, conn: &mut Connection) {
        let code = format!("CAPABILITY {}", ops::capability::list(self));
        conn.push(
            &Status::ok("*", format!("{} Postwerk IMAP ready", self.server.hostname))
                .untagged()
                .code(code),
        );
    }

    /// Queues `status` and decides what follows: a BAD counts towards the error limit.
    pub(crate) fn answer(&mut self, conn: &mut Connection, status: Status) -> Flow {
        conn.push(&status);
        if status.is_bad() {
            self.errors += 1;
            if self.errors >= self.server.limits.max_errors {
                tracing::info!(errors = self.errors, "closing: too many bad commands");
                conn.push(&Status::bye("Too many invalid commands"));
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    /// Runs commands until the session ends or the stream must be wrapped.
    pub(crate) async fn run(&mut self, mut conn: Connection) -> End {
        loop {
            let command = match self.read_command(&mut conn).await {
                Ok(Some(command)) => command,
                Ok(None) => continue,
                Err(stop) => {
                    self.stopped(&mut conn, stop);
                    conn.close().await;
                    return End::Closed;
                }
            };
            self.commands += 1;
            let mut flow = self.dispatch(&mut conn, &command).await;
            if self.closing {
                flow = Flow::Close;
            }
            match flow {
                Flow::Continue => {
                    conn.set_idle(self.timeout());
                    if conn.pending_output() >= FLUSH_AT
                        && let Err(error) = conn.flush().await
                    {
                        tracing::debug!(%error, "connection failed");
                        return End::Closed;
                    }
                    if self.reader.is_idle() && conn.buffered().is_empty() {
                        conn.release_buffers();
                    }
                }
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
                Flow::Compress => {
                    if let Err(error) = conn.flush().await {
                        tracing::debug!(%error, "connection lost before COMPRESS");
                        return End::Closed;
                    }
                    self.compressed = true;
                    let (stream, pending) = conn.into_parts();
                    return End::Compress(stream, pending);
                }
            }
        }
    }

    /// Reads one whole command. `Ok(None)` when a command was refused by the framing (too
    /// long, literal too big) and answered already.
    async fn read_command(&mut self, conn: &mut Connection) -> Result<Option<Vec<u8>>, Stop> {
        loop {
            let (used, framed) = self.reader.take(conn.buffered());
            conn.consume(used);
            match framed {
                Framed::Complete(command) => return Ok(Some(command)),
                Framed::NeedMore => {
                    let shutdown = self.reader.is_idle().then_some(&self.server.shutdown);
                    conn.fill(shutdown).await?;
                }
                Framed::Continue => {
                    conn.output()
                        .extend_from_slice(b"+ Ready for literal data\r\n");
                }
                Framed::LiteralTooBig {
                    tag, synchronizing, ..
                } => {
                    // RFC 7888 §4-5: a synchronising literal was never sent, so the command
                    // simply failed (NO); a non-synchronising one was a client error (BAD),
                    // and the reader skips its octets.
                    let status = if synchronizing {
                        Status::no(&tag, "Literal too big")
                    } else {
                        Status::bad(&tag, "Literal too big")
                    }
                    .code("TOOBIG");
                    if self.answer(conn, status) == Flow::Close {
                        return Err(Stop::Eof);
                    }
                    return Ok(None);
                }
                Framed::LineTooLong { tag } => {
                    let status = Status::bad(&tag, "Command line too long").code("TOOBIG");
                    if self.answer(conn, status) == Flow::Close {
                        return Err(Stop::Eof);
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Reads one plain line (an AUTHENTICATE response, IDLE's DONE). `Ok(None)` for a line
    /// over the limit.
    pub(crate) async fn read_line(
        &mut self,
        conn: &mut Connection,
    ) -> Result<Option<Vec<u8>>, Stop> {
        loop {
            let (used, line) = self.reader.take_line(conn.buffered());
            conn.consume(used);
            match line {
                Line::Complete(line) => return Ok(Some(line)),
                Line::TooLong => return Ok(None),
                Line::NeedMore => conn.fill(None).await?,
            }
        }
    }

    /// Says why the session ends where the protocol allows it (RFC 9051 §7.1.5), and logs it.
    pub(crate) fn stopped(&mut self, conn: &mut Connection, stop: Stop) {
        match stop {
            Stop::Eof => tracing::debug!("client closed the connection"),
            Stop::Io(error) => tracing::debug!(%error, "connection failed"),
            Stop::Timeout => {
                tracing::info!("closing: inactivity timeout");
                conn.push(&Status::bye("Autologout; idle for too long"));
            }
            Stop::Shutdown => {
                tracing::info!("closing: server shutdown");
                conn.push(&Status::bye("Server shutting down").code("UNAVAILABLE"));
            }
        }
    }

    async fn dispatch(&mut self, conn: &mut Connection, raw: &[u8]) -> Flow {
        let command = match parse::command(raw) {
            Ok(command) => command,
            Err(error) => return self.refuse(conn, error),
        };
        // ID-6: a password change (or a disabled mailbox) ends the session before its next
        // command runs on the strength of the old password.
        if !self.credentials_still_valid().await {
            conn.push(&Status::bye("Credentials changed; log in again").code("ALERT"));
            return Flow::Close;
        }
        ops::dispatch(self, conn, command).await
    }

    fn refuse(&mut self, conn: &mut Connection, error: ParseError) -> Flow {
        let status = ops::parse_error(&error);
        self.answer(conn, status)
    }

    /// Drains the store events that arrived, and reports the selected folder's changes the
    /// client may be told about now (RFC 9051 §7: after any command; expunges not during
    /// FETCH, STORE and SEARCH, §7.5.1).
    pub(crate) async fn report_changes(&mut self, conn: &mut Connection, with_expunges: bool) {
        self.drain_events().await;
        ops::updates::report(self, conn, with_expunges).await;
    }

    /// Takes every event waiting in the channel into the selected folder's pending changes.
    pub(crate) async fn drain_events(&mut self) {
        loop {
            let Some(events) = &mut self.events else {
                return;
            };
            match events.try_recv() {
                Ok(event) => {
                    if let Some(selected) = &mut self.selected {
                        selected.observe(&event);
                    }
                }
                Err(broadcast::error::TryRecvError::Empty)
                | Err(broadcast::error::TryRecvError::Closed) => return,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    // Only this mailbox's changes fill the channel, so this is a client that
                    // sent no command while its own mailbox changed a lot: normal, and cheap.
                    tracing::debug!(missed, "change events lost; re-reading the folder");
                    ops::updates::resync(self).await;
                }
            }
        }
    }

    /// Whether the login still holds (ID-6): the mailbox exists, is enabled, and its password
    /// has not changed since. True before login. It reads the directory every time: the admin
    /// CLI changes passwords from another process, which announces nothing here. A failing
    /// check ends the session too: it is safer than running a command for someone who may
    /// have lost the right.
    pub(crate) async fn credentials_still_valid(&self) -> bool {
        let Some(login) = &self.login else {
            return true;
        };
        match self.server.auth.still_valid(login).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::info!("closing: the mailbox password changed (ID-6)");
                false
            }
            Err(error) => {
                tracing::error!(%error, "checking the credential epoch failed");
                false
            }
        }
    }
}
