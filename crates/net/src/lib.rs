//! Network edge shared by every protocol server: TLS material (rustls, with a self-signed
//! certificate generated on first start, PROTO-5), listeners bound from configuration, and the
//! accept loop with a connection limit and graceful shutdown.
//!
//! This crate knows nothing about SMTP, IMAP or POP3: a protocol hands [`serve`] a function that
//! runs one session over a plain TCP stream, and decides itself when to start TLS (implicit TLS
//! listeners wrap the stream first; STARTTLS upgrades later with the same [`TlsAcceptor`]).
#![forbid(unsafe_code)]

mod conn;
mod listener;
mod per_address;
mod tls;

pub use conn::{Conn, Stop, TlsInfo, Wire, accept_tls};
pub use listener::{ServeOptions, Shutdown, serve};
pub use per_address::{AddressLimits, AddressSlot};
pub use tls::{TlsError, TlsSource, load_tls};
pub use tokio_rustls::TlsAcceptor;
