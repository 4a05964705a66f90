//! ENABLE (RFC 5161): IMAP4rev2 (RFC 9051 §6.3.1), UTF8=ACCEPT (RFC 6855 §3), CONDSTORE and
//! QRESYNC (RFC 7162 §3.2.3; QRESYNC implies CONDSTORE). Unknown names are ignored, as the RFC
//! says; the untagged ENABLED lists only what this command newly turned on.

use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// ENABLE.
pub(crate) fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    names: &[String],
) -> Flow {
    let mut enabled = Vec::new();
    for name in names {
        let flag = match name.to_ascii_uppercase().as_str() {
            "IMAP4REV2" => &mut session.enabled.rev2,
            "UTF8=ACCEPT" => &mut session.enabled.utf8,
            "CONDSTORE" => &mut session.enabled.condstore,
            "QRESYNC" => {
                session.enabled.condstore = true;
                &mut session.enabled.qresync
            }
            _ => continue,
        };
        if !*flag {
            *flag = true;
            enabled.push(name.to_ascii_uppercase());
        }
    }
    let mut line = b"* ENABLED".to_vec();
    for name in &enabled {
        line.push(b' ');
        line.extend_from_slice(name.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    conn.output().extend_from_slice(&line);
    session.answer(conn, Status::ok(tag, "ENABLE completed"))
}
