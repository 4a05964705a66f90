//! The Manager's REST API in process, over a real SQLite store: what a client of
//! `/api/v1` sees, status codes and JSON bodies included.

mod account;
mod audit;
mod auth;
mod bulk;
mod directory;
mod fixture;
mod openapi;
mod recovery;
mod totp;
mod unification;
