//! EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1, RFC 9051 §6.4.9), with the
//! QRESYNC forms of their answers (RFC 7162 §3.2.7, §3.2.9): `VANISHED` instead of `EXPUNGE`
//! and the new HIGHESTMODSEQ in the tagged OK.
//!
//! Also [`write_expunged`], the one writer of expunge announcements, which the reporting of
//! other sessions' changes (`ops::updates`) and MOVE share.

use std::io::Write as _;

use postwerk_store::UidSet;

use crate::ops::fetch::resolve;
use crate::ops::store_error;
use crate::proto::SequenceSet;
use crate::proto::write;
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// EXPUNGE (`uids` is `None`) or UID EXPUNGE `uids`.
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    uids: Option<SequenceSet>,
) -> Flow {
    let Some(selected) = &session.selected else {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    };
    // Which messages may go. UID EXPUNGE: those of the set the session knows. EXPUNGE: every
    // message the session knows (`1:<last UID it knows>`), so a message another session added
    // with \Deleted and this client has not been told about yet is not removed unseen.
    let scope = match &uids {
        Some(set) => match resolve(selected, &session.saved_search, set, true) {
            Ok(found) => UidSet::from_uids(found.into_iter().map(|(_, uid)| uid)),
            Err(why) => return session.answer(conn, Status::bad(tag, why)),
        },
        None => UidSet::from_ranges([(1, selected.last_uid())]),
    };
    if selected.read_only {
        // RFC 9051 §6.4.3: "NO - expunge failure: can't expunge (e.g., permission denied)".
        let status = Status::no(tag, "Folder is read-only").code("READ-ONLY");
        return session.answer(conn, status);
    }
    let folder = selected.folder;
    let done = if uids.is_some() {
        "UID EXPUNGE completed"
    } else {
        "EXPUNGE completed"
    };
    if scope.is_empty() {
        session.report_changes(conn, true).await;
        return session.answer(conn, Status::ok(tag, done));
    }
    let expunged = match session.server.mail.expunge(folder, Some(&scope)).await {
        Ok(expunged) => expunged,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    let Some(selected) = &mut session.selected else {
        return session.answer(conn, Status::ok(tag, done));
    };
    // Reported here, before the tagged OK (RFC 9051 §6.4.3); `remove_own` keeps the store's
    // events for them from being reported a second time.
    let reported = selected.remove_own(&expunged.uids);
    if !expunged.uids.is_empty() {
        selected.modseq = selected.modseq.max(expunged.modseq);
    }
    write_expunged(session, conn.output(), &reported);
    session.report_changes(conn, true).await;
    let mut status = Status::ok(tag, done);
    // RFC 7162 §3.2.7, §3.2.9: when something was expunged, the new HIGHESTMODSEQ goes in the
    // tagged OK (a MUST with QRESYNC, allowed with CONDSTORE alone).
    if session.enabled.condstore && !expunged.uids.is_empty() {
        status = status.code(format!("HIGHESTMODSEQ {}", expunged.modseq));
    }
    session.answer(conn, status)
}

/// Announces expunged messages, given as `(sequence number, UID)` in the order they were
/// removed from the session's view (each number valid after the previous ones were removed):
/// `* n EXPUNGE` each (RFC 9051 §7.5.1), or, once QRESYNC is enabled, one `* VANISHED uids`
/// (RFC 7162 §3.2.10.2: "MUST use the VANISHED response without the EARLIER tag instead of the
/// EXPUNGE response").
pub(crate) fn write_expunged(session: &Session, out: &mut Vec<u8>, expunged: &[(u32, u32)]) {
    write_expunge_lines(out, session.enabled.qresync, expunged);
}

fn write_expunge_lines(out: &mut Vec<u8>, vanished: bool, expunged: &[(u32, u32)]) {
    if expunged.is_empty() {
        return;
    }
    if vanished {
        let mut uids: Vec<u32> = expunged.iter().map(|&(_, uid)| uid).collect();
        // Ascending gives the shortest set; VANISHED carries no order.
        uids.sort_unstable();
        out.extend_from_slice(b"* VANISHED ");
        write::uid_set(out, &uids);
        out.extend_from_slice(b"\r\n");
    } else {
        for &(seq, _) in expunged {
            let _ = write!(out, "* {seq} EXPUNGE\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(vanished: bool, expunged: &[(u32, u32)]) -> String {
        let mut out = Vec::new();
        write_expunge_lines(&mut out, vanished, expunged);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn expunges_are_expunge_lines_or_one_vanished() {
        // RFC 9051 §6.4.3's example: messages 3, 4, 7 and 11 removed in that order.
        let removed = [(3, 405), (3, 407), (5, 410), (8, 425)];
        assert_eq!(
            lines(false, &removed),
            "* 3 EXPUNGE\r\n* 3 EXPUNGE\r\n* 5 EXPUNGE\r\n* 8 EXPUNGE\r\n"
        );
        // RFC 7162 §3.2.7's example under QRESYNC.
        assert_eq!(lines(true, &removed), "* VANISHED 405,407,410,425\r\n");
        assert_eq!(lines(true, &[(2, 9), (1, 7), (1, 8)]), "* VANISHED 7:9\r\n");
        assert_eq!(lines(true, &[]), "");
        assert_eq!(lines(false, &[]), "");
    }
}
