//! STATUS (RFC 9051 §6.3.11): the counts of a folder without selecting it, with the items of
//! STATUS=SIZE (RFC 8438), CONDSTORE's HIGHESTMODSEQ (RFC 7162 §3.1.2.1) and APPENDLIMIT
//! (RFC 7889 §3.2). The rendering is shared with LIST-STATUS (RFC 5819), which writes the same
//! `* STATUS` line after each LIST line.
//!
//! RFC 9051 §6.3.11 says a client SHOULD NOT ask STATUS of the selected folder; it still works
//! here and reports what the store holds now, which may be ahead of what the session has been
//! told (the untagged EXISTS/EXPUNGE follow at the next reporting point).

use std::io::Write as _;

use postwerk_store::FolderStatus;

use crate::ops::{find_folder, store_error};
use crate::proto::{MailboxName, StatusItem, write};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// STATUS mailbox (items).
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mailbox: &MailboxName,
    items: &[StatusItem],
) -> Flow {
    let folder = match find_folder(session, tag, mailbox).await {
        Ok(folder) => folder,
        Err(status) => return session.answer(conn, status),
    };
    enable_condstore_if_asked(session, items);
    let status = match session.server.mail.status(folder.id).await {
        Ok(status) => status,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    write_status(session, conn.output(), &folder.name, &status, items);
    session.answer(conn, Status::ok(tag, "STATUS completed"))
}

/// RFC 7162 §3.1: asking for HIGHESTMODSEQ (in STATUS, or in LIST-STATUS) is a
/// CONDSTORE-enabling command, so MODSEQ appears in the FETCH responses that follow.
pub(crate) fn enable_condstore_if_asked(session: &mut Session, items: &[StatusItem]) {
    if items.contains(&StatusItem::HighestModSeq) {
        session.enabled.condstore = true;
    }
}

/// Writes `* STATUS name (ITEM n ...)\r\n` with the items in the order the client asked
/// (RFC 9051 §7.3.2), the name in the session's encoding.
pub(crate) fn write_status(
    session: &Session,
    out: &mut Vec<u8>,
    name: &str,
    status: &FolderStatus,
    items: &[StatusItem],
) {
    let append_limit = Some(session.server.limits.max_literal);
    render(out, session.utf8_names(), append_limit, name, status, items);
}

/// The STATUS line without a session, so it can be tested on its own. `append_limit` is the
/// largest message APPEND takes; `None` would say there is no limit (`NIL`, RFC 7889 §3.2).
fn render(
    out: &mut Vec<u8>,
    utf8: bool,
    append_limit: Option<u64>,
    name: &str,
    status: &FolderStatus,
    items: &[StatusItem],
) {
    out.extend_from_slice(b"* STATUS ");
    write::mailbox_name(out, name, utf8);
    out.extend_from_slice(b" (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_item(out, *item, append_limit, status);
    }
    out.extend_from_slice(b")\r\n");
}

/// One `ITEM value` pair of `status-att-list` (RFC 9051 §9).
fn write_item(out: &mut Vec<u8>, item: StatusItem, append_limit: Option<u64>, s: &FolderStatus) {
    // Writing into a Vec cannot fail.
    let _ = match item {
        StatusItem::Messages => write!(out, "MESSAGES {}", s.messages),
        // RFC 3501 §6.3.10 (IMAP4rev1 only): this store keeps no \Recent, so nothing is recent.
        StatusItem::Recent => write!(out, "RECENT 0"),
        StatusItem::UidNext => write!(out, "UIDNEXT {}", s.folder.uid_next),
        StatusItem::UidValidity => write!(out, "UIDVALIDITY {}", s.folder.uid_validity),
        StatusItem::Unseen => write!(out, "UNSEEN {}", s.unseen),
        StatusItem::Deleted => write!(out, "DELETED {}", s.deleted),
        // RFC 9051 §6.3.11 / RFC 8438 §3: the total of the messages' RFC822.SIZE.
        StatusItem::Size => write!(out, "SIZE {}", s.size),
        StatusItem::HighestModSeq => write!(out, "HIGHESTMODSEQ {}", s.folder.highest_modseq),
        // RFC 7889 §3.2: the same limit for every folder, the literal limit of the listener.
        StatusItem::AppendLimit => match append_limit {
            Some(limit) => write!(out, "APPENDLIMIT {limit}"),
            None => write!(out, "APPENDLIMIT NIL"),
        },
    };
}

#[cfg(test)]
mod tests {
    use postwerk_model::{AddressId, FolderId};
    use postwerk_store::Folder;

    use super::*;

    fn status(name: &str) -> FolderStatus {
        FolderStatus {
            folder: Folder {
                id: FolderId(4),
                mailbox: AddressId(1),
                name: name.to_owned(),
                special_use: None,
                uid_validity: 1700000000,
                uid_next: 45,
                highest_modseq: 912,
                subscribed: true,
            },
            messages: 42,
            unseen: 3,
            deleted: 1,
            size: 123456,
        }
    }

    fn line(utf8: bool, name: &str, items: &[StatusItem]) -> String {
        let mut out = Vec::new();
        render(&mut out, utf8, Some(65536), name, &status(name), items);
        String::from_utf8(out).expect("ASCII or UTF-8")
    }

    #[test]
    fn status_items_come_in_the_order_asked() {
        use StatusItem::*;
        assert_eq!(
            line(false, "INBOX", &[UidNext, Messages, Unseen]),
            "* STATUS INBOX (UIDNEXT 45 MESSAGES 42 UNSEEN 3)\r\n"
        );
        assert_eq!(
            line(
                false,
                "Archive",
                &[
                    Messages,
                    Recent,
                    UidNext,
                    UidValidity,
                    Unseen,
                    Deleted,
                    Size,
                    HighestModSeq,
                    AppendLimit
                ]
            ),
            "* STATUS Archive (MESSAGES 42 RECENT 0 UIDNEXT 45 UIDVALIDITY 1700000000 UNSEEN 3 \
             DELETED 1 SIZE 123456 HIGHESTMODSEQ 912 APPENDLIMIT 65536)\r\n"
        );
    }

    #[test]
    fn status_names_follow_the_session_encoding() {
        let items = [StatusItem::Messages];
        assert_eq!(
            line(false, "Entwürfe", &items),
            "* STATUS Entw&APw-rfe (MESSAGES 42)\r\n"
        );
        assert_eq!(
            line(true, "Entwürfe", &items),
            "* STATUS \"Entwürfe\" (MESSAGES 42)\r\n"
        );
        assert_eq!(
            line(false, "Old mail", &items),
            "* STATUS \"Old mail\" (MESSAGES 42)\r\n"
        );
    }

    #[test]
    fn no_append_limit_is_nil_and_no_items_is_an_empty_list() {
        let mut out = Vec::new();
        let s = status("INBOX");
        render(
            &mut out,
            false,
            None,
            "INBOX",
            &s,
            &[StatusItem::AppendLimit],
        );
        render(&mut out, false, None, "INBOX", &s, &[]);
        assert_eq!(
            String::from_utf8(out).expect("ASCII"),
            "* STATUS INBOX (APPENDLIMIT NIL)\r\n* STATUS INBOX ()\r\n"
        );
    }
}
