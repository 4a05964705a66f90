//! One file per command: each checks that the command is allowed in the session's state, calls
//! `core` where there is something to decide, and queues the reply `reply.rs` gives for the
//! outcome.

pub(crate) mod auth;
pub(crate) mod bdat;
pub(crate) mod data;
pub(crate) mod ehlo;
pub(crate) mod mail;
pub(crate) mod noop;
pub(crate) mod orcpt;
pub(crate) mod quit;
pub(crate) mod rcpt;
pub(crate) mod rset;
pub(crate) mod starttls;
pub(crate) mod vrfy;

pub(crate) use crate::reply::parse_error;
