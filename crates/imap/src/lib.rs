//! `postwerk-imap`: the IMAP server (IMAP4rev1, RFC 3501, and IMAP4rev2, RFC 9051) for the
//! listeners `imap` (port 143, STARTTLS) and `imaps` (port 993, implicit TLS) of PROTO-2.
//!
//! The crate owns the protocol only. Pure parts: [`proto`] (framing, grammar, modified
//! UTF-7, response encoding), [`fetch`] (FETCH responses from the parse-once index),
//! [`search`], [`sort`] and [`thread`]. I/O parts: the session state machine, the selected
//! folder's view and its change reporting (`selected`), one file per command family under
//! `ops/`, DEFLATE (`compress`). Logins are `postwerk-core`'s (ID-2, ID-6, the failure limiter
//! shared with SMTP and POP3); folders and messages come from the `MailStore` trait; this
//! crate never touches SQL or blob files, and never logs a password or message content.
//!
//! ```text
//!  net::serve ─► Server::handle(stream) ─► [TLS] ─► Session::run(Conn)
//!                                                      │ CommandReader ─► parse::command
//!                                                      ▼
//!                                  ops::dispatch ─► ops/<command>.rs ─► core, MailStore
//!                                                      │      ▲ store events (Selected)
//!                                                      ▼
//!                                  responses into the Conn output (flushed before reads)
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub(crate) mod compress;
mod config;
pub mod fetch;
mod ops;
pub mod proto;
mod response;
pub mod search;
mod selected;
mod server;
mod session;
pub mod sort;
pub mod thread;
mod uids;

pub use config::{Limits, ListenerKind};
pub use server::Server;
