//! One file per command (or per family of commands that share their work): each checks that
//! the command is allowed in the session's state, calls `core` or the store, and writes its
//! responses. What several commands share is here: the dispatch, the state checks, folder name
//! decoding, and the mapping of store errors to responses.

pub(crate) mod append;
pub(crate) mod auth;
pub(crate) mod capability;
pub(crate) mod close;
pub(crate) mod compress;
pub(crate) mod copy;
pub(crate) mod enable;
pub(crate) mod expunge;
pub(crate) mod fetch;
pub(crate) mod id;
pub(crate) mod idle;
pub(crate) mod list;
pub(crate) mod mailbox;
pub(crate) mod quota;
pub(crate) mod search;
pub(crate) mod select;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod updates;

use postwerk_model::FolderId;
use postwerk_store::{Folder, StoreError};

use crate::proto::parse::ParseError;
use crate::proto::{Command, CommandBody, MailboxName, mutf7};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// Runs one parsed command.
pub(crate) async fn dispatch(
    session: &mut Session,
    conn: &mut Connection,
    command: Command,
) -> Flow {
    let Command { tag, body } = command;
    let tag = tag.as_str();
    // Commands of the wrong state are refused here, once (RFC 9051 §3).
    if let Some(status) = wrong_state(session, tag, &body) {
        return session.answer(conn, status);
    }
    match body {
        CommandBody::Capability => capability::run(session, conn, tag),
        CommandBody::Noop | CommandBody::Check => {
            session.report_changes(conn, true).await;
            session.answer(conn, Status::ok(tag, "NOOP completed"))
        }
        CommandBody::Logout => {
            conn.push(&Status::bye("Logging out"));
            conn.push(&Status::ok(tag, "LOGOUT completed"));
            Flow::Close
        }
        CommandBody::Id(fields) => id::run(session, conn, tag, fields),
        CommandBody::StartTls => auth::starttls(session, conn, tag),
        CommandBody::Login { user, password } => {
            auth::login(session, conn, tag, user, password).await
        }
        CommandBody::Authenticate { mechanism, initial } => {
            auth::authenticate(session, conn, tag, &mechanism, initial).await
        }
        CommandBody::Enable(names) => enable::run(session, conn, tag, &names),
        CommandBody::Select {
            mailbox,
            read_only,
            params,
        } => select::run(session, conn, tag, &mailbox, read_only, params).await,
        CommandBody::Create {
            mailbox,
            special_use,
        } => mailbox::create(session, conn, tag, &mailbox, &special_use).await,
        CommandBody::Delete(mailbox) => mailbox::delete(session, conn, tag, &mailbox).await,
        CommandBody::Rename { from, to } => mailbox::rename(session, conn, tag, &from, &to).await,
        CommandBody::Subscribe(mailbox) => {
            mailbox::subscribe(session, conn, tag, &mailbox, true).await
        }
        CommandBody::Unsubscribe(mailbox) => {
            mailbox::subscribe(session, conn, tag, &mailbox, false).await
        }
        CommandBody::List(list) => list::list(session, conn, tag, list).await,
        CommandBody::Lsub { reference, pattern } => {
            list::lsub(session, conn, tag, &reference, &pattern).await
        }
        CommandBody::Namespace => list::namespace(session, conn, tag),
        CommandBody::Status { mailbox, items } => {
            status::run(session, conn, tag, &mailbox, &items).await
        }
        CommandBody::Append { mailbox, messages } => {
            append::run(session, conn, tag, &mailbox, messages).await
        }
        CommandBody::Idle => idle::run(session, conn, tag).await,
        CommandBody::GetQuota(root) => quota::get_quota(session, conn, tag, &root).await,
        CommandBody::GetQuotaRoot(mailbox) => {
            quota::get_quota_root(session, conn, tag, &mailbox).await
        }
        CommandBody::SetQuota { .. } => quota::set_quota(session, conn, tag),
        CommandBody::Compress(mechanism) => compress::run(session, conn, tag, &mechanism),
        CommandBody::Close => close::close(session, conn, tag).await,
        CommandBody::Unselect => close::unselect(session, conn, tag).await,
        CommandBody::Expunge { uids } => expunge::run(session, conn, tag, uids).await,
        CommandBody::Search {
            uid,
            charset: _,
            criteria,
            returns,
        } => search::search(session, conn, tag, uid, criteria, returns).await,
        CommandBody::Fetch {
            uid,
            set,
            items,
            changed_since,
            vanished,
        } => {
            let request = fetch::Request {
                uid,
                set,
                items,
                changed_since,
                vanished,
            };
            fetch::run(session, conn, tag, request).await
        }
        CommandBody::Store {
            uid,
            set,
            op,
            silent,
            flags,
            unchanged_since,
        } => {
            let request = store::Request {
                uid,
                set,
                op,
                silent,
                flags,
                unchanged_since,
            };
            store::run(session, conn, tag, request).await
        }
        CommandBody::Copy { uid, set, mailbox } => {
            copy::run(session, conn, tag, uid, set, &mailbox, false).await
        }
        CommandBody::Move { uid, set, mailbox } => {
            copy::run(session, conn, tag, uid, set, &mailbox, true).await
        }
        CommandBody::Sort {
            uid,
            criteria,
            charset: _,
            search,
            returns,
        } => search::sort(session, conn, tag, uid, criteria, search, returns).await,
        CommandBody::Thread {
            uid,
            algorithm,
            charset: _,
            search,
        } => search::thread(session, conn, tag, uid, algorithm, search).await,
    }
}

/// The refusal of a command sent in a state where it is not valid, if it is.
fn wrong_state(session: &Session, tag: &str, body: &CommandBody) -> Option<Status> {
    use CommandBody as C;
    let logged_in = session.login.is_some();
    let selected = session.selected.is_some();
    match body {
        C::Capability | C::Noop | C::Logout | C::Id(_) => None,
        C::StartTls | C::Login { .. } | C::Authenticate { .. } => {
            logged_in.then(|| Status::bad(tag, "Already logged in"))
        }
        C::Check
        | C::Close
        | C::Unselect
        | C::Expunge { .. }
        | C::Search { .. }
        | C::Fetch { .. }
        | C::Store { .. }
        | C::Copy { .. }
        | C::Move { .. }
        | C::Sort { .. }
        | C::Thread { .. } => {
            if !logged_in {
                Some(Status::bad(tag, "Log in first"))
            } else if !selected {
                Some(Status::bad(tag, "No folder selected"))
            } else {
                None
            }
        }
        _ => (!logged_in).then(|| Status::bad(tag, "Log in first")),
    }
}

/// The response to a command the parser refused.
pub(crate) fn parse_error(error: &ParseError) -> Status {
    match error {
        ParseError::Bad { tag, reason } => match tag {
            Some(tag) => Status::bad(tag, reason.clone()),
            None => Status::bad("*", reason.clone()).untagged(),
        },
        ParseError::BadCharset { tag, .. } => {
            Status::no(tag, error.to_string()).code(crate::proto::parse::BADCHARSET_CODE)
        }
    }
}

/// A folder name from the wire as the store's name: modified UTF-7 decoded unless the client
/// enabled UTF-8 names (RFC 9051 §5.1, RFC 6855 §3), `INBOX` in any case made `INBOX`
/// (RFC 9051 §5.1), and rejected when it cannot name a folder: empty, with an empty or dot-only
/// level, with control characters, or longer than the store takes.
pub(crate) fn folder_name(session: &Session, name: &MailboxName) -> Result<String, &'static str> {
    let text = if session.utf8_names() {
        match std::str::from_utf8(&name.0) {
            Ok(text) => text.to_owned(),
            Err(_) => return Err("Folder name is not UTF-8"),
        }
    } else {
        mutf7::decode(&name.0).map_err(|_| "Folder name is not valid modified UTF-7")?
    };
    canonical_name(&text)
}

/// Checks a decoded folder name and makes `INBOX` (and `inbox/sub`) canonical.
pub(crate) fn canonical_name(text: &str) -> Result<String, &'static str> {
    const MAX_NAME: usize = 512;
    if text.is_empty() {
        return Err("Empty folder name");
    }
    if text.len() > MAX_NAME {
        return Err("Folder name too long");
    }
    if text.chars().any(|c| c.is_control()) {
        return Err("Folder name has control characters");
    }
    let text = text.strip_suffix(DELIMITER).unwrap_or(text);
    if text
        .split(DELIMITER)
        .any(|level| level.is_empty() || level == "." || level == "..")
    {
        return Err("Folder name has an empty or dot-only level");
    }
    let mut levels = text.splitn(2, DELIMITER);
    let first = levels.next().unwrap_or_default();
    Ok(match (first.eq_ignore_ascii_case("INBOX"), levels.next()) {
        (true, None) => "INBOX".to_owned(),
        (true, Some(rest)) => format!("INBOX{DELIMITER}{rest}"),
        (false, _) => text.to_owned(),
    })
}

/// The hierarchy delimiter (RFC 9051 §5.1.1), as the store keeps names.
pub(crate) const DELIMITER: char = '/';

/// Writes a folder name as the client expects it: UTF-8 quoted string, or modified UTF-7
/// (RFC 9051 §5.1; RFC 6855 §3).
pub(crate) fn write_folder_name(session: &Session, out: &mut Vec<u8>, name: &str) {
    crate::proto::write::mailbox_name(out, name, session.utf8_names());
}

/// Looks a folder of the logged-in mailbox up by its wire name. The error is the response.
pub(crate) async fn find_folder(
    session: &Session,
    tag: &str,
    name: &MailboxName,
) -> Result<Folder, Status> {
    let Some(login) = &session.login else {
        return Err(Status::bad(tag, "Log in first"));
    };
    let name = folder_name(session, name).map_err(|why| Status::no(tag, why))?;
    match session
        .server
        .mail
        .folder_by_name(login.mailbox, &name)
        .await
    {
        Ok(Some(folder)) => Ok(folder),
        Ok(None) => Err(Status::no(tag, "No such folder").code("NONEXISTENT")),
        Err(error) => Err(store_error(tag, error)),
    }
}

/// The response for a store failure: refusals as `NO` with the store's sentence and the
/// fitting response code of RFC 5530; our own failures logged and answered
/// `NO [SERVERBUG]` without detail.
pub(crate) fn store_error(tag: &str, error: StoreError) -> Status {
    match error {
        StoreError::NotFound(why) => Status::no(tag, why).code("NONEXISTENT"),
        StoreError::Conflict(why) => Status::no(tag, why).code("ALREADYEXISTS"),
        StoreError::Rule(rule) => Status::no(tag, rule.to_string()).code("CANNOT"),
        StoreError::Refused(why) => Status::no(tag, why).code("CANNOT"),
        // Issue 10: a full disk is a limit the client can wait out (RFC 5530 LIMIT).
        error @ StoreError::StorageFull { .. } => {
            tracing::error!(%error, "store failure");
            Status::no(tag, "The server's storage is full; try again later").code("LIMIT")
        }
        error @ (StoreError::Backend { .. } | StoreError::Io { .. }) => {
            tracing::error!(%error, "store failure");
            Status::no(tag, "Internal error; try again").code("SERVERBUG")
        }
    }
}

/// The id of the selected folder (ops call it after the state check).
pub(crate) fn selected_folder(session: &Session) -> Option<FolderId> {
    session.selected.as_ref().map(|s| s.folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_checked_and_inbox_is_canonical() {
        assert_eq!(canonical_name("inbox").unwrap(), "INBOX");
        assert_eq!(canonical_name("InBox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(canonical_name("Archive/2026/").unwrap(), "Archive/2026");
        assert_eq!(canonical_name("Inboxes").unwrap(), "Inboxes");
        for bad in ["", "a//b", "../x", "a/./b", "/root", "tab\there"] {
            assert!(canonical_name(bad).is_err(), "{bad:?}");
        }
    }
}
