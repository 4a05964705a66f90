//! CAPABILITY (RFC 9051 §6.1.1). The list follows the session: STARTTLS and LOGINDISABLED in
//! clear text on port 143 (PROTO-3, RFC 9051 §6.2.3), AUTH=PLAIN only inside TLS, the
//! extensions only once they can be used, COMPRESS until it is active.

use crate::config::ListenerKind;
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// Extensions offered after login, in the order they are listed.
const AFTER_LOGIN: &[&str] = &[
    "LITERAL+",
    "ID",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "CHILDREN",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "SEARCHRES",
    "SORT",
    "SORT=DISPLAY",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "WITHIN",
    "STATUS=SIZE",
    "SAVEDATE",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "MULTIAPPEND",
    "BINARY",
    "UTF8=ACCEPT",
];

/// The capability list of the session, space-separated.
pub(crate) fn list(session: &Session) -> String {
    let mut caps = vec!["IMAP4rev1".to_owned(), "IMAP4rev2".to_owned()];
    if session.login.is_none() {
        caps.push("LITERAL+".into());
        caps.push("SASL-IR".into());
        caps.push("ID".into());
        caps.push("ENABLE".into());
        if session.tls {
            caps.push("AUTH=PLAIN".into());
        } else {
            if session.server.kind == ListenerKind::Imap && session.server.tls.is_some() {
                caps.push("STARTTLS".into());
            }
            caps.push("LOGINDISABLED".into());
        }
    } else {
        caps.extend(AFTER_LOGIN.iter().map(|c| (*c).to_owned()));
        caps.push(format!("APPENDLIMIT={}", session.server.limits.max_literal));
    }
    if !session.compressed {
        caps.push("COMPRESS=DEFLATE".into());
    }
    caps.join(" ")
}

/// CAPABILITY.
pub(crate) fn run(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    let line = format!("* CAPABILITY {}\r\n", list(session));
    conn.output().extend_from_slice(line.as_bytes());
    session.answer(conn, Status::ok(tag, "CAPABILITY completed"))
}
