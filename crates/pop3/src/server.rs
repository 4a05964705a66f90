//! What every session of one listener shares, and the life of one connection: implicit TLS or
//! the clear-text greeting, the command loop, at most one STLS, the per-connection log span.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use postwerk_core::MailboxAuth;
use postwerk_net::{Shutdown, TlsAcceptor, accept_tls};
use postwerk_store::MailStore;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::{Limits, ListenerKind};
use crate::locks::MaildropLocks;
use crate::reply;
use crate::session::{Conn, End, Session};

/// Numbers connections for logs.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// One POP3 listener's shared state: configuration and the services it calls.
pub struct Server {
    /// The name in the greeting.
    pub hostname: String,
    /// pop3 (STLS) or pop3s (implicit TLS).
    pub kind: ListenerKind,
    /// Session limits.
    pub limits: Limits,
    /// Mailbox login (ID-2) with the failure limiter shared with SMTP and IMAP.
    pub auth: Arc<MailboxAuth>,
    /// The INBOXes served as maildrops.
    pub mail: Arc<dyn MailStore>,
    /// Maildrops held by POP3 sessions; share one table between both listeners so a session
    /// on 110 and one on 995 exclude each other.
    pub locks: Arc<MaildropLocks>,
    /// TLS for STLS and implicit TLS; `None` leaves STLS unadvertised (and makes a pop3s
    /// listener refuse every connection).
    pub tls: Option<TlsAcceptor>,
    /// Server shutdown: sessions end between commands, without UPDATE.
    pub shutdown: Shutdown,
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
            proto = "pop3",
            listener = self.kind.key(),
            cid,
            %peer,
            tls = tracing::field::Empty,
            user = tracing::field::Empty,
        );
        self.session(stream, peer).instrument(span).await;
    }

    async fn session<S>(self: Arc<Self>, stream: S, peer: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
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

    async fn converse<S>(&self, session: &mut Session, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.kind.implicit_tls() {
            // RFC 8314 §3.3: TLS first; the greeting comes inside it.
            let Some(tls) = self.handshake(stream).await else {
                return;
            };
            session.tls = true;
            self.greet_and_run(session, tls).await;
            return;
        }
        let Some(plain) = self.greet_and_run(session, stream).await else {
            return;
        };
        let Some(tls) = self.handshake(plain).await else {
            return;
        };
        session.reset_after_tls();
        // RFC 2595 §4: no new greeting after the handshake. STLS inside TLS is refused by its
        // op, so the loop can only end here.
        let _ = session
            .run(Conn::new(tls, self.limits.idle_timeout, None))
            .await;
    }

    /// Greets and runs the loop; returns the stream when STLS was accepted.
    async fn greet_and_run<S>(&self, session: &mut Session, stream: S) -> Option<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut conn = Conn::new(stream, self.limits.idle_timeout, None);
        if self.shutdown.is_triggered() {
            conn.push(&reply::shutting_down());
            conn.close().await;
            return None;
        }
        conn.push(&reply::greeting(&self.hostname));
        match session.run(conn).await {
            End::Closed => None,
            End::StartTls(stream) => Some(stream),
        }
    }

    async fn handshake<S>(&self, stream: S) -> Option<tokio_rustls::server::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let until = Instant::now() + self.limits.idle_timeout;
        let (tls, _) = accept_tls(self.tls.as_ref(), stream, until).await?;
        Some(tls)
    }
}
