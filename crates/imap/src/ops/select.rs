//! SELECT and EXAMINE (RFC 9051 §6.3.2-3), with CONDSTORE (RFC 7162 §3.1.8) and QRESYNC
//! (§3.2.5) parameters. Selecting first leaves the folder selected before (`* OK [CLOSED]`,
//! RFC 7162 §3.2.11, required by IMAP4rev2), even when the new one cannot be selected.

use std::io::Write as _;

use postwerk_store::{Folder, SelectView, UidSet};

use crate::ops::{self, find_folder, store_error, updates};
use crate::proto::{MailboxName, QResync, SelectParams};
use crate::response::Status;
use crate::selected::Selected;
use crate::session::{Connection, Flow, Session};
use crate::uids::UidList;

/// SELECT or EXAMINE.
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    name: &MailboxName,
    read_only: bool,
    params: SelectParams,
) -> Flow {
    if params.qresync.is_some() && !session.enabled.qresync {
        // RFC 7162 §3.2.5: QRESYNC parameters need ENABLE QRESYNC first.
        return session.answer(conn, Status::bad(tag, "ENABLE QRESYNC first"));
    }
    if session.selected.take().is_some() {
        conn.output()
            .extend_from_slice(b"* OK [CLOSED] Previous folder closed\r\n");
    }
    if params.condstore {
        session.enabled.condstore = true;
    }
    let folder = match find_folder(session, tag, name).await {
        Ok(folder) => folder,
        Err(status) => return session.answer(conn, status),
    };
    // Events published from here on are replayed against what is read now; the ones already
    // reflected in it are recognised by their MODSEQ (`Selected::observe`).
    session.drain_events().await;
    let view = match session.server.mail.select_view(folder.id).await {
        Ok(view) => view,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    let mut out = Vec::with_capacity(512);
    let uids = UidList::from_sorted(view.uids.iter().copied());
    write_folder_state(session, &mut out, &folder, &view, &uids, read_only);
    let display = String::from_utf8_lossy(&name.0).into_owned();
    let selected = Selected::new(folder.id, display, read_only, uids, folder.highest_modseq);
    session.selected = Some(selected);
    conn.output().extend_from_slice(&out);
    if let Some(qresync) = params.qresync
        && qresync.uid_validity == folder.uid_validity
        && let Err(status) = resynchronise(session, conn, tag, &qresync).await
    {
        return session.answer(conn, status);
    }
    let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
    let text = if read_only {
        "EXAMINE completed"
    } else {
        "SELECT completed"
    };
    session.answer(conn, Status::ok(tag, text).code(code))
}

/// The untagged responses of a successful SELECT (RFC 9051 §6.3.2).
fn write_folder_state(
    session: &Session,
    out: &mut Vec<u8>,
    folder: &Folder,
    view: &SelectView,
    uids: &UidList,
    read_only: bool,
) {
    let mut flags = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for keyword in &view.keywords {
        flags.push(' ');
        flags.push_str(keyword.as_str());
    }
    let _ = write!(out, "* {} EXISTS\r\n", uids.len());
    if !session.enabled.rev2 {
        // IMAP4rev1 (RFC 3501 §6.3.1): RECENT is required; this server keeps no \Recent.
        out.extend_from_slice(b"* 0 RECENT\r\n");
    }
    let _ = write!(out, "* FLAGS ({flags})\r\n");
    if read_only {
        out.extend_from_slice(b"* OK [PERMANENTFLAGS ()] Read-only folder\r\n");
    } else {
        // `\*`: clients may create keywords (RFC 9051 §7.1).
        let _ = write!(
            out,
            "* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted\r\n"
        );
    }
    let _ = write!(
        out,
        "* OK [UIDVALIDITY {}] UIDs valid\r\n",
        folder.uid_validity
    );
    let _ = write!(
        out,
        "* OK [UIDNEXT {}] Predicted next UID\r\n",
        folder.uid_next
    );
    if !session.enabled.rev2
        && let Some(at) = view.first_unseen.and_then(|uid| uids.position(uid))
    {
        // IMAP4rev1 only: the first unseen message (dropped by RFC 9051).
        let _ = write!(out, "* OK [UNSEEN {}] First unseen\r\n", at + 1);
    }
    // RFC 7162 §3.1.2.1: a server that keeps mod-sequences sends HIGHESTMODSEQ with every
    // successful SELECT and EXAMINE, whether or not the client enabled CONDSTORE.
    let _ = write!(
        out,
        "* OK [HIGHESTMODSEQ {}] Highest\r\n",
        folder.highest_modseq
    );
    if session.enabled.rev2 {
        // RFC 9051 §6.3.2: the folder's LIST response, with its canonical name.
        out.extend_from_slice(b"* LIST () \"/\" ");
        ops::write_folder_name(session, out, &folder.name);
        out.extend_from_slice(b"\r\n");
    }
}

/// QRESYNC (RFC 7162 §3.2.5.2): what changed since the client's MODSEQ, as VANISHED (EARLIER)
/// and FETCH responses.
async fn resynchronise(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    qresync: &QResync,
) -> Result<(), Status> {
    let Some(selected) = &session.selected else {
        return Ok(());
    };
    let folder = selected.folder;
    let known = |uid: u32| {
        qresync
            .known_uids
            .as_ref()
            .is_none_or(|set| set.contains(uid, u32::MAX))
    };
    let vanished: Vec<u32> = session
        .server
        .mail
        .vanished_since(folder, qresync.modseq)
        .await
        .map_err(|error| store_error(tag, error))?
        .into_iter()
        .filter(|&uid| known(uid))
        .collect();
    // The messages changed since the client's MODSEQ: read only now, when a client asked.
    let messages = session
        .server
        .mail
        .list_messages(folder, &UidSet::all())
        .await
        .map_err(|error| store_error(tag, error))?;
    let mut out = Vec::new();
    if !vanished.is_empty() {
        out.extend_from_slice(b"* VANISHED (EARLIER) ");
        crate::proto::write::uid_set(&mut out, &vanished);
        out.extend_from_slice(b"\r\n");
    }
    // Numbered as the session numbers them: a message added since SELECT read the folder is
    // announced by EXISTS later, not here.
    for message in &messages {
        if let Some(seq) = selected.seq(message.uid)
            && message.modseq > qresync.modseq
            && known(message.uid)
        {
            updates::write_flags_fetch(&mut out, seq, message, true);
        }
    }
    conn.output().extend_from_slice(&out);
    Ok(())
}
