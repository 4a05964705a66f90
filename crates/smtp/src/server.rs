//! What every session of one listener shares, and the life of one connection: greeting,
//! implicit TLS or STARTTLS, the command loop, the per-connection log span.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use postwerk_core::{Client, Delivery, MailboxAuth};
use postwerk_net::{Shutdown, TlsAcceptor, accept_tls};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::{Limits, ListenerKind};
use crate::reply;
use crate::session::{Conn, End, Session, TlsInfo};

/// Numbers connections for logs.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// One SMTP listener's shared state: configuration and the services it calls.
pub struct Server {
    /// The name in the greeting, EHLO and `Received:`.
    pub hostname: String,
    /// MX, submission or submissions.
    pub kind: ListenerKind,
    /// Session limits.
    pub limits: Limits,
    /// Recipient checks and delivery.
    pub delivery: Delivery,
    /// Mailbox login (submission only).
    pub auth: Arc<MailboxAuth>,
    /// TLS for STARTTLS and implicit TLS; `None` leaves STARTTLS unadvertised (and makes a
    /// submissions listener refuse every connection).
    pub tls: Option<TlsAcceptor>,
    /// Server shutdown: sessions end between commands with `421`.
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
    /// Serves one connection to its end: implicit TLS first on the submissions listener,
    /// then the greeting, the commands, and at most one STARTTLS.
    pub async fn handle<S>(self: Arc<Self>, stream: S, peer: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let cid = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "conn",
            proto = "smtp",
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
        let deadline = Instant::now() + self.limits.session_timeout;
        let mut session = Session::new(self.clone(), peer);
        tracing::info!("connected");
        // RCV-9: strangers only; a block list says nothing about a user who logs in.
        if self.kind == ListenerKind::Mx {
            let client = Client {
                ip: peer.ip(),
                helo: String::new(),
            };
            session.blocked = self.delivery.check_connection(&client).await;
            if let Some(reply) = &session.blocked {
                tracing::info!(reason = %reply.text, "client on a block list");
            }
        }
        self.converse(&mut session, stream, deadline).await;
        tracing::info!(
            commands = session.commands,
            errors = session.errors,
            tls = session.tls.is_some(),
            user = session.login.as_ref().map(|l| l.address.to_string()),
            "session ended"
        );
    }

    /// Implicit TLS or the clear-text greeting, the command loop, and at most one STARTTLS.
    async fn converse<S>(&self, session: &mut Session, stream: S, deadline: Instant)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.kind.implicit_tls() {
            // RFC 8314 §3.3: TLS starts at once; the greeting comes inside it.
            let Some((tls, info)) = self.handshake(stream, deadline).await else {
                return;
            };
            session.tls = Some(info);
            self.greet_and_run(session, tls, deadline).await;
            return;
        }
        let Some(plain) = self.greet_and_run(session, stream, deadline).await else {
            return;
        };
        let Some((tls, info)) = self.handshake(plain, deadline).await else {
            return;
        };
        session.reset_after_tls(info);
        let conn = Conn::new(tls, self.limits.idle_timeout, Some(deadline));
        // RFC 3207 §4.2: no new greeting; the client sends EHLO again. STARTTLS inside TLS is
        // refused by its op, so the loop can only end here.
        let _ = session.run(conn).await;
    }

    /// Greets and runs the loop; returns the stream when STARTTLS was accepted.
    async fn greet_and_run<S>(
        &self,
        session: &mut Session,
        stream: S,
        deadline: Instant,
    ) -> Option<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut conn = Conn::new(stream, self.limits.idle_timeout, Some(deadline));
        if self.shutdown.is_triggered() {
            conn.push(&reply::shutting_down(&self.hostname));
            conn.close().await;
            return None;
        }
        conn.push(&reply::greeting(&self.hostname));
        match session.run(conn).await {
            End::Closed => None,
            End::StartTls(stream) => Some(stream),
        }
    }

    async fn handshake<S>(
        &self,
        stream: S,
        deadline: Instant,
    ) -> Option<(tokio_rustls::server::TlsStream<S>, TlsInfo)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let until = (Instant::now() + self.limits.idle_timeout).min(deadline);
        accept_tls(self.tls.as_ref(), stream, until).await
    }
}
