//! What every session of one listener shares, and the life of one connection: implicit TLS or
//! the clear-text greeting, the command loop, at most one STARTTLS, at most one COMPRESS, the
//! per-connection log span.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use postwerk_core::{JunkLearning, MailboxAuth};
use postwerk_net::{Conn, Shutdown, TlsAcceptor, accept_tls};
use postwerk_store::{Directory, MailStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::Instrument;

use crate::compress::Compressed;
use crate::config::{Limits, ListenerKind};
use crate::response::Status;
use crate::session::{End, Session};

/// Numbers connections for logs.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// Any byte stream a session runs over: TCP, TLS over TCP, DEFLATE over either.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The stream of a session, boxed so STARTTLS and COMPRESS can wrap it in place.
pub(crate) type BoxStream = Box<dyn Stream>;

/// One IMAP listener's shared state: configuration and the services it calls.
pub struct Server {
    /// The name in the greeting.
    pub hostname: String,
    /// imap (STARTTLS) or imaps (implicit TLS).
    pub kind: ListenerKind,
    /// Session limits.
    pub limits: Limits,
    /// Mailbox login (ID-2) with the failure limiter shared with SMTP and POP3.
    pub auth: Arc<MailboxAuth>,
    /// The folders and messages.
    pub mail: Arc<dyn MailStore>,
    /// The mailboxes' directory entries (the ADDR-10 storage limit for QUOTA).
    pub directory: Arc<dyn Directory>,
    /// TLS for STARTTLS and implicit TLS; `None` leaves STARTTLS unadvertised (and makes an
    /// imaps listener refuse every connection).
    pub tls: Option<TlsAcceptor>,
    /// Server shutdown: sessions end between commands with `BYE`.
    pub shutdown: Shutdown,
    /// RCV-4: moves into and out of Junk update the mailbox's sender lists (`[spam]
    /// learn_from_moves`); `None` learns nothing.
    pub junk_learning: Option<Arc<JunkLearning>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("hostname", &self.hostname)
            .field("kind", &self.kind)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Serves one connection to its end.
    pub async fn handle<S>(self: Arc<Self>, stream: S, peer: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let cid = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "conn",
            proto = "imap",
            listener = self.kind.key(),
            cid,
            %peer,
            tls = tracing::field::Empty,
            user = tracing::field::Empty,
        );
        self.session(Box::new(stream), peer).instrument(span).await;
    }

    async fn session(self: Arc<Self>, stream: BoxStream, peer: SocketAddr) {
        let mut session = Session::new(self.clone(), peer);
        tracing::info!("connected");
        self.converse(&mut session, stream).await;
        tracing::info!(
            commands = session.commands,
            errors = session.errors,
            tls = session.tls,
            "session ended"
        );
    }

    async fn converse(&self, session: &mut Session, mut stream: BoxStream) {
        if self.kind.implicit_tls() {
            // RFC 8314 §3.3: TLS first; the greeting comes inside it.
            let until = Instant::now() + self.limits.login_timeout;
            let Some((tls, _)) = accept_tls(self.tls.as_ref(), stream, until).await else {
                return;
            };
            session.tls = true;
            stream = Box::new(tls);
        }
        let mut conn = Conn::new(stream, self.limits.login_timeout, None);
        if self.shutdown.is_triggered() {
            conn.push(&Status::bye("Server shutting down").code("UNAVAILABLE"));
            conn.close().await;
            return;
        }
        session.greet(&mut conn);
        loop {
            let idle = session.timeout();
            conn = match session.run(conn).await {
                End::Closed => return,
                End::StartTls(stream) => {
                    let until = Instant::now() + self.limits.login_timeout;
                    let Some((tls, _)) = accept_tls(self.tls.as_ref(), stream, until).await else {
                        return;
                    };
                    session.tls = true;
                    // RFC 9051 §6.2.1: no new greeting; the client asks for CAPABILITY again.
                    Conn::new(Box::new(tls), idle, None)
                }
                End::Compress(stream, pending) => {
                    // RFC 4978 §3: both directions are compressed from the first octet after
                    // the OK; octets the client already sent are the start of its stream.
                    Conn::new(Box::new(Compressed::new(stream, pending)), idle, None)
                }
            };
        }
    }
}
