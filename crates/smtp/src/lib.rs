//! `postwerk-smtp`: the SMTP server (RFC 5321) for the three listeners of PROTO-1/PROTO-2:
//! MX on port 25 (STARTTLS, mail for hosted addresses only), submission on 587 (STARTTLS then
//! AUTH) and submissions on 465 (implicit TLS, RFC 8314).
//!
//! It owns the protocol only: framing ([`framing`], pure, where smuggling is stopped), the
//! replies ([`reply`], every code and sentence in one place), the session state machine and
//! one file per command under `ops/`. The grammar of command lines is the `smtp-proto`
//! crate's. Every decision about addresses, credentials and storage is `postwerk-core`'s; this
//! crate never touches SQL or the blob files.
//!
//! ```text
//!  net::serve ─► Server::handle(stream) ─► [TLS] ─► Session::run(Conn<S>)
//!                                                      │ line ─► smtp_proto::Request
//!                                                      ▼
//!                                             ops/<command>.rs ─► core::{Delivery,
//!                                                      │             MailboxAuth, AuthGuards}
//!                                                      ▼
//!                                              reply.rs ─► Conn output (flushed before
//!                                                          every read: PIPELINING)
//! ```
//!
//! Sessions are generic over the stream, so STARTTLS swaps a TCP stream for a TLS one and
//! tests drive a session over an in-memory pipe.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod config;
pub mod framing;
mod ops;
pub mod reply;
mod server;
mod session;
mod trace;

pub use config::{Limits, ListenerKind};
pub use server::Server;
