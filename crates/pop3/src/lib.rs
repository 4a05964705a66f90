//! `postwerk-pop3`: the POP3 server (RFC 1939) for the two listeners of PROTO-2: `pop3` on
//! port 110 (STLS, RFC 2595) and `pop3s` on port 995 (implicit TLS, RFC 8314), with CAPA
//! (RFC 2449), AUTH PLAIN (RFC 5034) and the response codes of RFC 2449 §8 and RFC 3206.
//!
//! The maildrop is the mailbox's INBOX. The crate owns the protocol only: the pure parts —
//! [`command`] (grammar), [`framing`] (lines in, byte-stuffed multi-line responses out),
//! [`maildrop`] (the numbered snapshot of a session and its deletion marks), [`reply`] (every
//! response and the mapping of `core` outcomes) — and the I/O parts: the session state machine
//! generic over the stream, one file per command under `ops/`, the maildrop lock table
//! ([`MaildropLocks`]). Logins are `postwerk-core`'s (ID-2, ID-6, the failure limiter shared
//! with SMTP and IMAP); messages come from the `MailStore` trait; this crate never touches
//! SQL or the blob files, and it never logs a password or message content.
//!
//! ```text
//!  net::serve ─► Server::handle(stream) ─► [TLS] ─► Session::run(Conn<S>)
//!                                                      │ line ─► command::Command
//!                                                      ▼
//!                                  ops/<command>.rs ─► core::MailboxAuth, store::MailStore
//!                                                      │
//!                                                      ▼
//!                                  reply.rs ─► Conn output (flushed before every read)
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
mod config;
pub mod framing;
mod locks;
pub mod maildrop;
mod ops;
pub mod reply;
mod server;
mod session;

pub use config::{Limits, ListenerKind};
pub use locks::{MaildropLock, MaildropLocks};
pub use server::Server;
