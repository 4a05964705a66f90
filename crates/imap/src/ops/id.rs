//! ID (RFC 2971): the client says who it is (logged, bounded, printable only), the server
//! answers with its name. No version is given out: it helps attackers more than clients.

use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// Fields of the client's ID worth a log line.
const LOGGED: &[&str] = &["name", "version", "os", "vendor"];

/// ID.
pub(crate) fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    fields: Option<Vec<(String, Option<String>)>>,
) -> Flow {
    let client: Vec<String> = fields
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| LOGGED.contains(&name.to_ascii_lowercase().as_str()))
        .filter_map(|(name, value)| Some(format!("{name}={}", printable(&value?))))
        .collect();
    if !client.is_empty() {
        tracing::info!(client = %client.join(" "), "client identified itself");
    }
    conn.output()
        .extend_from_slice(b"* ID (\"name\" \"Postwerk\" \"vendor\" \"Postwerk\")\r\n");
    session.answer(conn, Status::ok(tag, "ID completed"))
}

/// A value for the log: printable ASCII only and bounded, so a client cannot forge log lines.
pub(crate) fn printable(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}
