//! The pages (issue 11) in process, over a real SQLite store: what a browser gets back,
//! status codes, redirects, headers and HTML. A real browser drives them against the binary in
//! `crates/postwerk/tests/browser.rs` (playwright-core with Debian's chromium).

mod account;
mod console;
mod devices;
mod fixture;
mod mail;
mod security;
mod send_as;
mod signin;
