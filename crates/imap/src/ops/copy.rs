//! COPY, UID COPY, MOVE and UID MOVE (RFC 9051 §6.4.7-8, §6.4.9; MOVE of RFC 6851), with the
//! COPYUID response code of UIDPLUS (RFC 4315 §3, part of RFC 9051 §7.1).
//!
//! ```text
//!  set ──► resolve ──► destination (missing: NO [TRYCREATE]) ──► one store call
//!      COPY: ──► changes by others ──► OK [COPYUID v src dst]
//!      MOVE: ──► * OK [COPYUID v src dst] ──► EXPUNGE / VANISHED ──► changes ──► OK
//! ```
//!
//! With learning on (`[spam] learn_from_moves`, RCV-4), a copy or move into or out of Junk
//! updates the mailbox's sender lists after the store call and before the tagged OK.
//!
//! The store copies (or moves) in one transaction whatever of the set still exists, and
//! answers the `(source UID, new UID)` pairs; messages expunged by another session meanwhile
//! are simply not copied (RFC 2180 §4.4.x leaves the choice to the server).

use postwerk_core::JunkLearning;
use postwerk_model::{FolderId, SpecialUse};
use postwerk_store::{Copied, Folder, UidSet};

use crate::ops::expunge::write_expunged;
use crate::ops::fetch::resolve;
use crate::ops::{find_folder, store_error};
use crate::proto::{MailboxName, SequenceSet, write};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// COPY / UID COPY, or MOVE / UID MOVE when `move_` is set.
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    uid: bool,
    set: SequenceSet,
    mailbox: &MailboxName,
    move_: bool,
) -> Flow {
    let Some(selected) = &session.selected else {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    };
    let targets = match resolve(selected, &session.saved_search, &set, uid) {
        Ok(targets) => targets,
        Err(why) => return session.answer(conn, Status::bad(tag, why)),
    };
    if move_ && selected.read_only {
        // RFC 6851 §3.3: MOVE removes the messages from the source, which EXAMINE forbids.
        let status = Status::no(tag, "Folder is read-only").code("READ-ONLY");
        return session.answer(conn, status);
    }
    let source = selected.folder;
    let destination = match find_folder(session, tag, mailbox).await {
        Ok(folder) => folder,
        Err(status) => return session.answer(conn, try_create(tag, status)),
    };
    let verb = match (uid, move_) {
        (false, false) => "COPY",
        (true, false) => "UID COPY",
        (false, true) => "MOVE",
        (true, true) => "UID MOVE",
    };
    if targets.is_empty() {
        // RFC 9051 §6.3.12's example A005: nothing matched, nothing copied, no COPYUID.
        session.report_changes(conn, true).await;
        let status = Status::ok(tag, format!("{verb} completed; no messages matched"));
        return session.answer(conn, status);
    }
    let uids = UidSet::from_uids(targets.iter().map(|&(_, uid)| uid));
    let mail = session.server.mail.clone();
    let result = if move_ {
        mail.move_messages(source, &uids, destination.id).await
    } else {
        mail.copy_messages(source, &uids, destination.id).await
    };
    let copied = match result {
        Ok(copied) => copied,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    if let Some(learning) = session.server.junk_learning.clone() {
        // RCV-4: inline, so a client that got the OK finds the lists already updated.
        learn_from(session, &learning, source, &destination, &copied).await;
    }
    let code = copy_uid(&copied);
    let mut status = Status::ok(tag, format!("{verb} completed"));
    if move_ {
        if let Some(code) = code {
            // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges, since the
            // tagged OK comes after them and the source UIDs would then be gone.
            conn.push(&Status::ok(tag, "Moved").untagged().code(code));
        }
        report_moved(session, conn, &copied);
    } else if let Some(code) = code {
        status = status.code(code);
    }
    // COPY and MOVE may report expunges (RFC 9051 §7.5.1 forbids them only during FETCH,
    // STORE and SEARCH).
    session.report_changes(conn, true).await;
    session.answer(conn, status)
}

/// RCV-4: a copy or move into or out of Junk updates the mailbox's sender lists. Learning is
/// a side effect of the user's command, never its outcome: a failure is logged and the
/// command still succeeds.
async fn learn_from(
    session: &Session,
    learning: &JunkLearning,
    source: FolderId,
    destination: &Folder,
    copied: &Copied,
) {
    let Some(login) = &session.login else {
        return;
    };
    // Nothing copied, a copy within one folder, and anything put into Trash teach nothing:
    // no need to read the source folder to know it.
    if copied.uids.is_empty()
        || source == destination.id
        || destination.special_use == Some(SpecialUse::Trash)
    {
        return;
    }
    let source = match session.server.mail.folder(source).await {
        Ok(Some(folder)) => folder,
        // Deleted by another session meanwhile: nothing to compare with.
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "could not read the source folder to learn from a move");
            return;
        }
    };
    let junk = Some(SpecialUse::Junk);
    if source.special_use != junk && destination.special_use != junk {
        return;
    }
    let uids: Vec<u32> = copied.uids.iter().map(|&(_, to)| to).collect();
    if let Err(error) = learning
        .learn_as(login.mailbox, &login.address, &source, destination, &uids)
        .await
    {
        tracing::warn!(%error, "could not update the sender lists from a move to or from Junk");
    }
}

/// The response for a destination that could not be found: `NO [TRYCREATE]` when it does not
/// exist (RFC 9051 §6.4.7: the client may CREATE it and retry), the lookup's own answer
/// otherwise (a name that cannot be a folder, a store failure).
fn try_create(tag: &str, status: Status) -> Status {
    if status.code.as_deref() == Some("NONEXISTENT") {
        Status::no(tag, "No such folder; create it first").code("TRYCREATE")
    } else {
        status
    }
}

/// `COPYUID <uidvalidity> <source UIDs> <new UIDs>` (RFC 4315 §3), the two sets in the same
/// order so that the n-th UID of one is the copy of the n-th of the other; `None` when
/// nothing was copied (the code has no empty form).
fn copy_uid(copied: &Copied) -> Option<String> {
    if copied.uids.is_empty() {
        return None;
    }
    let sources: Vec<u32> = copied.uids.iter().map(|&(from, _)| from).collect();
    let copies: Vec<u32> = copied.uids.iter().map(|&(_, to)| to).collect();
    let mut code = format!("COPYUID {} ", copied.uid_validity).into_bytes();
    write::uid_set(&mut code, &sources);
    code.push(b' ');
    write::uid_set(&mut code, &copies);
    Some(String::from_utf8_lossy(&code).into_owned())
}

/// MOVE: the moved messages leave the session's view at once, announced as `* n EXPUNGE` or
/// `* VANISHED uids` (RFC 6851 §3.3, RFC 7162 §3.2.10).
fn report_moved(session: &mut Session, conn: &mut Connection, copied: &Copied) {
    let Some(selected) = &mut session.selected else {
        return;
    };
    let moved: Vec<u32> = copied.uids.iter().map(|&(from, _)| from).collect();
    let reported = selected.remove_own(&moved);
    write_expunged(session, conn.output(), &reported);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copyuid_lists_sources_and_copies_in_matching_order() {
        let copied = Copied {
            uid_validity: 38505,
            uids: vec![(304, 3956), (319, 3957), (320, 3958)],
        };
        // RFC 9051 §6.3.12's example A004.
        assert_eq!(
            copy_uid(&copied).as_deref(),
            Some("COPYUID 38505 304,319:320 3956:3958")
        );
        assert_eq!(copy_uid(&Copied::default()), None);
    }

    #[test]
    fn a_missing_destination_asks_the_client_to_create_it() {
        let missing = Status::no("a1", "No such folder").code("NONEXISTENT");
        assert_eq!(try_create("a1", missing).code.as_deref(), Some("TRYCREATE"));
        let invalid = Status::no("a1", "Empty folder name");
        assert_eq!(try_create("a1", invalid.clone()), invalid);
    }
}
