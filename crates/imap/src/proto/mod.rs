//! The IMAP grammar, sans I/O: commands in ([`framing`] splits the byte stream into complete
//! commands with their literals, [`parse`] turns one into a [`Command`]), responses out
//! ([`write`]), and modified UTF-7 mailbox names ([`mutf7`]).
//!
//! Written for this server rather than wrapping `imap-codec`: IMAP4rev2 needs ESEARCH,
//! SEARCHRES and LIST-STATUS, which that crate lacks, and FETCH writes the ENVELOPE and
//! BODYSTRUCTURE renderings of `postwerk-message` straight into the output without converting
//! each message into a second tree of types.

pub mod command;
pub mod framing;
pub mod mutf7;
pub mod parse;
pub mod write;

pub use command::*;
