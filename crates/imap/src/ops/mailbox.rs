//! The commands that change the folder list: CREATE (RFC 9051 §6.3.4, with the `USE`
//! parameter of CREATE-SPECIAL-USE, RFC 6154 §3), DELETE (§6.3.5), RENAME (§6.3.6) and
//! SUBSCRIBE/UNSUBSCRIBE (§6.3.7-8). Response codes are those of RFC 5530.
//!
//! The store does the work and enforces the rules (valid names, parents created, INBOX never
//! deleted, RENAME of INBOX moving its messages); these handlers check what can be answered
//! more precisely before calling it, and map its refusals with [`store_error`].

use postwerk_model::SpecialUse;
use postwerk_store::{Folder, StoreError};

use crate::ops::{find_folder, folder_name, selected_folder, store_error};
use crate::proto::MailboxName;
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// CREATE name [(USE (attributes))].
pub(crate) async fn create(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mailbox: &MailboxName,
    special_use: &[String],
) -> Flow {
    let Some(owner) = session.login.as_ref().map(|login| login.mailbox) else {
        return session.answer(conn, Status::bad(tag, "Log in first"));
    };
    // `folder_name` drops a trailing delimiter: RFC 9051 §6.3.4 says `CREATE foo/` creates
    // `foo`, the client only telling it means to create folders below it.
    let name = match folder_name(session, mailbox) {
        Ok(name) => name,
        Err(why) => return session.answer(conn, Status::no(tag, why).code("CANNOT")),
    };
    // RFC 9051 §6.3.4: "It is an error to attempt to create INBOX".
    if name == "INBOX" {
        return session.answer(
            conn,
            Status::no(tag, "INBOX always exists").code("ALREADYEXISTS"),
        );
    }
    let special_use = match requested_use(special_use) {
        Ok(special_use) => special_use,
        Err(why) => return session.answer(conn, Status::no(tag, why).code("USEATTR")),
    };
    let mail = &session.server.mail;
    let created = match special_use {
        // The store answers `Conflict` for an existing name, mapped to NO [ALREADYEXISTS].
        None => mail.create_folder(owner, &name).await,
        Some(special_use) => match mail.create_folder_with_use(owner, &name, special_use).await {
            // RFC 6154 §3: when the use cannot be given, nothing is created and the NO
            // carries USEATTR. The store refuses a use another folder holds (one folder per
            // special use and mailbox), naming that folder.
            Err(StoreError::Refused(why)) => {
                return session.answer(conn, Status::no(tag, why).code("USEATTR"));
            }
            other => other,
        },
    };
    match created {
        Ok(_) => session.answer(conn, Status::ok(tag, "CREATE completed")),
        Err(error) => session.answer(conn, store_error(tag, error)),
    }
}

/// The special use a `CREATE ... (USE (...))` asks for (RFC 6154 §3), or the sentence of the
/// `NO [USEATTR]` refusing it. `USE ()` asks for nothing. The store keeps one use per folder
/// and knows the five uses of ADDR-11; `\All` and `\Flagged` name virtual folders this
/// server does not have.
fn requested_use(attributes: &[String]) -> Result<Option<SpecialUse>, String> {
    let mut wanted: Option<SpecialUse> = None;
    for attribute in attributes {
        let Some(special_use) = SpecialUse::from_attribute(attribute) else {
            return Err(format!(
                "{attribute} is not a special use this server can give a folder"
            ));
        };
        match wanted {
            Some(earlier) if earlier != special_use => {
                return Err("A folder can have only one special use here".to_owned());
            }
            _ => wanted = Some(special_use),
        }
    }
    Ok(wanted)
}

/// DELETE name.
pub(crate) async fn delete(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mailbox: &MailboxName,
) -> Flow {
    let Some(owner) = session.login.as_ref().map(|login| login.mailbox) else {
        return session.answer(conn, Status::bad(tag, "Log in first"));
    };
    let name = match folder_name(session, mailbox) {
        Ok(name) => name,
        Err(why) => return session.answer(conn, Status::no(tag, why).code("NONEXISTENT")),
    };
    // RFC 9051 §6.3.5: "It is an error to attempt to delete INBOX".
    if name == "INBOX" {
        return session.answer(
            conn,
            Status::no(tag, "INBOX cannot be deleted").code("CANNOT"),
        );
    }
    // One read answers both questions: does it exist, and has it folders below it.
    let folders = match session.server.mail.list_folders(owner).await {
        Ok(folders) => folders,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    let Some(folder) = folders.iter().find(|f| f.name == name) else {
        return session.answer(conn, Status::no(tag, "No such folder").code("NONEXISTENT"));
    };
    if has_children(&folders, &name) {
        // RFC 9051 §6.3.5 lets a server keep such a folder as a `\Noselect` level; the store
        // refuses instead, with the HASCHILDREN code §6.3.5 and §7.1 name for this case.
        let status = Status::no(tag, "The folder has subfolders; delete them first");
        return session.answer(conn, status.code("HASCHILDREN"));
    }
    let was_selected = selected_folder(session) == Some(folder.id);
    if let Err(error) = session.server.mail.delete_folder(folder.id).await {
        return session.answer(conn, store_error(tag, error));
    }
    if was_selected {
        // Deleting the selected folder is allowed (RFC 9051 §6.3.5 does not forbid it); the
        // store's `Deleted` event marks the session's view gone, and the event handling
        // decides what the client is told.
        session.report_changes(conn, true).await;
    }
    session.answer(conn, Status::ok(tag, "DELETE completed"))
}

/// RENAME from to.
pub(crate) async fn rename(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    from: &MailboxName,
    to: &MailboxName,
) -> Flow {
    let folder = match find_folder(session, tag, from).await {
        Ok(folder) => folder,
        Err(status) => return session.answer(conn, status),
    };
    let new_name = match folder_name(session, to) {
        Ok(name) => name,
        Err(why) => return session.answer(conn, Status::no(tag, why).code("CANNOT")),
    };
    if let Some(status) = refuse_rename(tag, &folder, &new_name) {
        return session.answer(conn, status);
    }
    // The store refuses an existing target (Conflict → ALREADYEXISTS) and moves subfolders
    // along; renaming INBOX moves its messages to the new folder and leaves INBOX empty
    // (RFC 9051 §6.3.6), which the expunge events report to a session that has it selected.
    let renamed = match session
        .server
        .mail
        .rename_folder(folder.id, &new_name)
        .await
    {
        Ok(renamed) => renamed,
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    if let Some(selected) = &mut session.selected {
        if selected.folder == renamed.id {
            // The id is kept by a rename; only the name used in logs changes.
            selected.name = renamed.name.clone();
        }
        session.report_changes(conn, true).await;
    }
    session.answer(conn, Status::ok(tag, "RENAME completed"))
}

/// SUBSCRIBE name (`subscribed`) or UNSUBSCRIBE name.
///
/// RFC 9051 §6.3.7 lets a server refuse to subscribe a name that is no folder, which this
/// store must do: the subscription is a property of the folder. For the same reason
/// UNSUBSCRIBE of a name that is no folder (any more) fails, where §6.3.7 wants a
/// subscription to outlive its folder; here a deleted folder's subscription went with it.
pub(crate) async fn subscribe(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mailbox: &MailboxName,
    subscribed: bool,
) -> Flow {
    let text = if subscribed {
        "SUBSCRIBE completed"
    } else {
        "UNSUBSCRIBE completed"
    };
    let folder = match find_folder(session, tag, mailbox).await {
        Ok(folder) => folder,
        // RFC 9051 §6.3.8: UNSUBSCRIBE of a name that is not subscribed answers OK; a name
        // without a folder never is (subscriptions live on folders here).
        Err(status) if !subscribed && status.code.as_deref() == Some("NONEXISTENT") => {
            return session.answer(conn, Status::ok(tag, text));
        }
        Err(status) => return session.answer(conn, status),
    };
    // RFC 9051 §6.3.8: UNSUBSCRIBE of a folder that is not subscribed is not an error.
    if let Err(error) = session
        .server
        .mail
        .set_subscribed(folder.id, subscribed)
        .await
    {
        return session.answer(conn, store_error(tag, error));
    }
    session.answer(conn, Status::ok(tag, text))
}

/// Whether any folder is below `name`.
fn has_children(folders: &[Folder], name: &str) -> bool {
    folders.iter().any(|f| {
        f.name
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(crate::ops::DELIMITER))
    })
}

/// The refusals of RENAME that need no store call.
fn refuse_rename(tag: &str, folder: &Folder, new_name: &str) -> Option<Status> {
    if new_name == "INBOX" {
        // INBOX always exists (RFC 9051 §5.1), so nothing can take its name.
        return Some(Status::no(tag, "INBOX already exists").code("ALREADYEXISTS"));
    }
    let inside = new_name
        .strip_prefix(folder.name.as_str())
        .is_some_and(|rest| rest.starts_with(crate::ops::DELIMITER));
    if inside && folder.name != "INBOX" {
        // A folder cannot become its own descendant. INBOX can: its rename makes a new
        // folder and leaves INBOX (and INBOX/…) in place.
        return Some(Status::no(tag, "A folder cannot be moved inside itself").code("CANNOT"));
    }
    None
}

#[cfg(test)]
mod tests {
    use postwerk_model::{AddressId, FolderId};

    use super::*;

    fn folder(name: &str) -> Folder {
        Folder {
            id: FolderId(1),
            mailbox: AddressId(1),
            name: name.to_owned(),
            special_use: None,
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 1,
            subscribed: true,
        }
    }

    #[test]
    fn create_special_use_accepts_one_known_use_and_names_what_it_refuses() {
        let attrs = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        assert_eq!(requested_use(&[]), Ok(None));
        assert_eq!(
            requested_use(&attrs(&["\\sent"])),
            Ok(Some(SpecialUse::Sent))
        );
        assert_eq!(
            requested_use(&attrs(&["\\Junk", "\\JUNK"])),
            Ok(Some(SpecialUse::Junk))
        );
        let refused = requested_use(&attrs(&["\\All"])).expect_err("virtual folder");
        assert!(refused.contains("\\All"), "{refused}");
        assert!(requested_use(&attrs(&["\\Sent", "\\Trash"])).is_err());
        assert!(requested_use(&attrs(&["\\Important"])).is_err());
    }

    #[test]
    fn children_are_folders_below_not_folders_with_a_longer_name() {
        let folders = [folder("Archive"), folder("Archive2"), folder("Fruit/Apple")];
        assert!(!has_children(&folders, "Archive"));
        assert!(has_children(&folders, "Fruit"));
        assert!(!has_children(&folders, "Fruit/Apple"));
    }

    #[test]
    fn rename_refuses_inbox_as_target_and_moving_inside_itself() {
        let code = |status: Option<Status>| status.and_then(|s| s.code).map(|c| c.into_owned());
        assert_eq!(
            code(refuse_rename("a", &folder("Work"), "INBOX")).as_deref(),
            Some("ALREADYEXISTS")
        );
        assert_eq!(
            code(refuse_rename("a", &folder("Work"), "Work/Old")).as_deref(),
            Some("CANNOT")
        );
        assert!(refuse_rename("a", &folder("Work"), "Workshop").is_none());
        assert!(refuse_rename("a", &folder("INBOX"), "INBOX/Old").is_none());
        assert!(refuse_rename("a", &folder("Work"), "Archive/Work").is_none());
    }
}
