//! The outbound queue (SND-2 … SND-5): when and whether to deliver what waits in the store's
//! queue, and what to tell the sender.
//!
//! ```text
//!  QueueStore::lease_due ─► worker ─► group recipients by domain ─► Transport::deliver
//!        ▲                     │                                         │ per recipient
//!        │                     ▼                                         ▼
//!   retry_now / enqueue   schedule::decide ◄──────────────────────── Outcome
//!   (wake the workers)         │
//!                              ├─► record_attempt (new states, lease released)
//!                              ├─► dsn::build ─► core::Delivery (sender's INBOX or the queue)
//!                              └─► dequeue once every recipient is final
//! ```
//!
//! The queue decides; it does not speak SMTP. Delivery goes through the [`Transport`] trait,
//! which the SMTP client implements (MX, TLS, DANE); tests use a fake transport and a fake
//! [`Clock`], so the 4 hour and 3 day points are reached without waiting.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod dsn;
pub mod schedule;
/// SRS lives in core, which also checks the addresses when bounces come back (RCV-13).
pub use postwerk_core::srs;
pub mod transport;
pub mod worker;

pub use config::QueueConfig;
pub use srs::Srs;
pub use transport::{Attempt, AttemptRecipient, Failure, Outcome, Transport};
pub use worker::Queue;

/// Where time comes from: the real clock in the server, a settable one in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in Unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}
