//! Reporting what others changed in the selected folder (RFC 9051 §7, §5.2): expunges
//! (`EXPUNGE`, or `VANISHED` with QRESYNC, RFC 7162 §3.2.10), new messages (`EXISTS`) and flag
//! changes (`FETCH (UID FLAGS)`, with MODSEQ under CONDSTORE, RFC 7162 §3.1.4.1).

use std::io::Write as _;

use postwerk_store::{MessageMeta, UidSet};

use crate::ops::expunge;
use crate::response::Status;
use crate::session::{Connection, Session};

/// Writes the changes the client may be told about now (see [`crate::selected`]).
pub(crate) async fn report(session: &mut Session, conn: &mut Connection, with_expunges: bool) {
    let Some(selected) = &mut session.selected else {
        return;
    };
    if selected.is_gone() {
        // Another session deleted the folder (RFC 2180 §3.3). Leaving the selected state
        // silently would make the client's next FETCH a BAD it cannot explain, so the session
        // ends, as Dovecot's does; the client reconnects and sees the folder list as it is.
        tracing::info!("closing: the selected folder was deleted");
        conn.push(&Status::bye("The selected folder was deleted"));
        session.selected = None;
        session.closing = true;
        return;
    }
    if !selected.has_pending() {
        return;
    }
    let folder = selected.folder;
    let updates = selected.take_updates(with_expunges);
    let mut out = Vec::new();
    expunge::write_expunged(session, &mut out, &updates.expunged);
    if let Some(exists) = updates.exists {
        let _ = write!(out, "* {exists} EXISTS\r\n");
    }
    if !updates.flags.is_empty() {
        let uids = UidSet::from_uids(updates.flags.iter().map(|&(_, uid)| uid));
        match session.server.mail.list_messages(folder, &uids).await {
            Ok(messages) => {
                let modseq = session.enabled.condstore;
                for message in &messages {
                    if let Some(&(seq, _)) = updates.flags.iter().find(|&&(_, u)| u == message.uid)
                    {
                        write_flags_fetch(&mut out, seq, message, modseq);
                    }
                }
            }
            // Flags are reported again at the next change; the command itself goes on.
            Err(error) => tracing::warn!(%error, "reading changed flags failed"),
        }
    }
    conn.output().extend_from_slice(&out);
}

/// Re-reads the selected folder after lost events and queues what differs.
pub(crate) async fn resync(session: &mut Session) {
    let Some(selected) = &mut session.selected else {
        return;
    };
    match session
        .server
        .mail
        .list_messages(selected.folder, &UidSet::all())
        .await
    {
        Ok(messages) => {
            let current: Vec<(u32, u64)> = messages.iter().map(|m| (m.uid, m.modseq)).collect();
            selected.reconcile(&current);
        }
        Err(error) => tracing::warn!(%error, "re-reading the selected folder failed"),
    }
}

/// `* seq FETCH (UID n FLAGS (...) [MODSEQ (m)])`: an unsolicited flag update (RFC 9051
/// §7.5.2 allows it at any time; the UID is included so clients need not map the number).
pub(crate) fn write_flags_fetch(out: &mut Vec<u8>, seq: u32, message: &MessageMeta, modseq: bool) {
    let _ = write!(out, "* {seq} FETCH (UID {} FLAGS ", message.uid);
    crate::proto::write::flags(out, &message.flags);
    if modseq {
        let _ = write!(out, " MODSEQ ({})", message.modseq);
    }
    out.extend_from_slice(b")\r\n");
}
