//! APPEND (RFC 9051 §6.3.12), several messages at once with MULTIAPPEND (RFC 3502), answered
//! with APPENDUID (UIDPLUS, RFC 4315 §3).
//!
//! ```text
//!  every message: flags, date, content checked ─► folder looked up (else NO [TRYCREATE])
//!    ─► each message: MessageIndex::parse ─► MailStore::append
//!    ─► OK [APPENDUID uidvalidity uid-set]
//! ```
//!
//! RFC 3502 §3 wants all or nothing. The store appends one message per call, so the messages
//! are stored in order and, when one fails, the ones stored before it are removed again
//! (flagged `\Deleted` and expunged by UID) before the NO. Another session may glimpse them
//! in between; a session that has the folder selected sees an append and an expunge of
//! messages it was never told about, which `Selected` drops without a word.
//!
//! Not done: the ADDR-10 storage limit. It lives on the mailbox's directory entry, which this
//! listener cannot read (its `Server` has the mail store and the login service only), and the
//! store does not check it either; the literal limit (`APPENDLIMIT`, RFC 7889) is the only
//! bound on an APPEND today.

use postwerk_message::MessageIndex;
use postwerk_model::FolderId;
use postwerk_store::{FlagOp, Flags, Keyword, StoreError, Stored, SystemFlags, UidSet};

use crate::ops::{folder_name, store_error};
use crate::proto::{AppendMessage, MailboxName, write};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// Messages above this size are parsed on a blocking thread, so one large APPEND does not
/// hold up the other sessions on the runtime's worker; smaller ones are not worth the hop.
const PARSE_INLINE_MAX: usize = 1024 * 1024;

/// APPEND mailbox [flags] [date] literal, once or more (MULTIAPPEND).
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mailbox: &MailboxName,
    messages: Vec<AppendMessage>,
) -> Flow {
    let Some(owner) = session.login.as_ref().map(|login| login.mailbox) else {
        return session.answer(conn, Status::bad(tag, "Log in first"));
    };
    if messages.is_empty() {
        return session.answer(conn, Status::bad(tag, "APPEND without a message"));
    }
    // Everything that can be refused without the store is checked for every message first,
    // so a refusal leaves nothing stored.
    let now = chrono::Utc::now().timestamp();
    let mut prepared = Vec::with_capacity(messages.len());
    for message in messages {
        match prepare(message, now) {
            Ok(message) => prepared.push(message),
            Err(refusal) => return session.answer(conn, refusal.status(tag)),
        }
    }
    let name = match folder_name(session, mailbox) {
        Ok(name) => name,
        Err(why) => return session.answer(conn, Status::no(tag, why).code("CANNOT")),
    };
    let folder = match session.server.mail.folder_by_name(owner, &name).await {
        Ok(Some(folder)) => folder,
        // RFC 9051 §6.3.12: never create the folder; TRYCREATE tells the client it may.
        Ok(None) => return session.answer(conn, no_folder(tag)),
        Err(error) => return session.answer(conn, store_error(tag, error)),
    };
    let mut stored: Vec<Stored> = Vec::with_capacity(prepared.len());
    for message in prepared {
        let result = store_one(session, folder.id, message).await;
        match result {
            Ok(one) => stored.push(one),
            Err(error) => {
                undo(session, folder.id, &stored).await;
                let status = match error {
                    // Deleted while the literals were arriving.
                    StoreFailure::Store(StoreError::NotFound(_)) => no_folder(tag),
                    StoreFailure::Store(error) => store_error(tag, error),
                    StoreFailure::Parse => {
                        Status::no(tag, "Internal error; try again").code("SERVERBUG")
                    }
                };
                return session.answer(conn, status);
            }
        }
    }
    // New messages in the selected folder reach the client as EXISTS through the store's
    // events; reported before the OK so the client knows them when APPEND completes.
    session.report_changes(conn, true).await;
    let status = Status::ok(tag, "APPEND completed").code(append_uid(&stored));
    session.answer(conn, status)
}

/// One message, checked and ready to store.
#[derive(Debug, PartialEq, Eq)]
struct Prepared {
    data: Vec<u8>,
    flags: Flags,
    /// INTERNALDATE, Unix seconds.
    internal_date: i64,
}

/// Why a message is refused before anything is stored.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The command is wrong (a flag that cannot exist): `BAD`.
    Bad(String),
    /// The command is valid but the message is not taken: `NO`.
    No(&'static str),
}

impl Refusal {
    fn status(self, tag: &str) -> Status {
        match self {
            Refusal::Bad(why) => Status::bad(tag, why),
            Refusal::No(why) => Status::no(tag, why),
        }
    }
}

/// Why storing one message failed.
enum StoreFailure {
    /// The store refused or failed.
    Store(StoreError),
    /// The parse task died (it cannot fail otherwise: `MessageIndex::parse` never fails).
    Parse,
}

/// Checks one message: its flags, its date, its content.
fn prepare(message: AppendMessage, now: i64) -> Result<Prepared, Refusal> {
    let flags = flags_from_atoms(&message.flags).map_err(Refusal::Bad)?;
    if message.data.is_empty() {
        return Err(Refusal::No("Empty message"));
    }
    if !message.binary && message.data.contains(&0) {
        // RFC 9051 §4.3: a literal never carries NUL; only `~{n}` (RFC 3516 §4.3) may.
        return Err(Refusal::No("NUL in a message not sent as a binary literal"));
    }
    // RFC 9051 §6.3.12: the date given becomes INTERNALDATE; without one, now.
    let internal_date = message.date.map_or(now, |date| date.timestamp());
    Ok(Prepared {
        data: message.data,
        flags,
        internal_date,
    })
}

/// The flags of APPEND as the store keeps them. `\Recent` is dropped (RFC 9051 §2.3.2: only
/// the server sets it, and this one keeps none); another `\` flag that is no system flag is a
/// `BAD`, as is a keyword that is not an atom.
fn flags_from_atoms(atoms: &[String]) -> Result<Flags, String> {
    let mut flags = Flags::none();
    for atom in atoms {
        if atom.starts_with('\\') {
            if atom.eq_ignore_ascii_case("\\Recent") {
                continue;
            }
            let flag = SystemFlags::from_name(atom)
                .ok_or_else(|| format!("Unknown system flag {atom}"))?;
            flags.system = flags.system.union(flag);
        } else {
            let keyword = Keyword::parse(atom).ok_or_else(|| format!("Invalid keyword {atom}"))?;
            flags.keywords.insert(keyword);
        }
    }
    Ok(flags)
}

/// Parses one message once (the index is stored beside it) and appends it.
async fn store_one(
    session: &Session,
    folder: FolderId,
    message: Prepared,
) -> Result<Stored, StoreFailure> {
    let Prepared {
        data,
        flags,
        internal_date,
    } = message;
    let (data, index) = if data.len() <= PARSE_INLINE_MAX {
        let index = MessageIndex::parse(&data);
        (data, index)
    } else {
        tokio::task::spawn_blocking(move || {
            let index = MessageIndex::parse(&data);
            (data, index)
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "parsing an appended message failed");
            StoreFailure::Parse
        })?
    };
    session
        .server
        .mail
        .append(folder, &data, &index, &flags, internal_date)
        .await
        .map_err(StoreFailure::Store)
}

/// Removes the messages a failed MULTIAPPEND stored before the failure (RFC 3502 §3: none of
/// them may stay). Best effort: if this fails too, they stay and the failure is logged.
async fn undo(session: &Session, folder: FolderId, stored: &[Stored]) {
    if stored.is_empty() {
        return;
    }
    let uids = UidSet::from_uids(stored.iter().map(|s| s.uid));
    if let Err(error) = remove(session, folder, &uids).await {
        tracing::error!(%error, "removing the messages of a failed MULTIAPPEND failed");
    }
}

async fn remove(session: &Session, folder: FolderId, uids: &UidSet) -> Result<(), StoreError> {
    let mail = &session.server.mail;
    let deleted = Flags::system(SystemFlags::DELETED);
    mail.set_flags(folder, uids, FlagOp::Add, &deleted, None)
        .await?;
    // Only these UIDs (UID EXPUNGE semantics): other `\Deleted` messages stay.
    mail.expunge(folder, Some(uids)).await?;
    Ok(())
}

/// `NO [TRYCREATE]` for a folder that does not exist.
fn no_folder(tag: &str) -> Status {
    Status::no(tag, "No such folder").code("TRYCREATE")
}

/// The APPENDUID response code (RFC 4315 §3): `APPENDUID uidvalidity uid`, or a uid-set for
/// MULTIAPPEND, in the order the messages were given (their UIDs ascend in that order).
fn append_uid(stored: &[Stored]) -> String {
    let uid_validity = stored.first().map_or(0, |s| s.uid_validity);
    let uids: Vec<u32> = stored.iter().map(|s| s.uid).collect();
    let mut code = format!("APPENDUID {uid_validity} ").into_bytes();
    write::uid_set(&mut code, &uids);
    // Digits, spaces, `:` and `,` only.
    String::from_utf8_lossy(&code).into_owned()
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn atoms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_convert_to_system_flags_and_keywords() {
        let flags = flags_from_atoms(&atoms(&["\\Seen", "\\flagged", "$Forwarded", "\\Recent"]))
            .expect("valid flags");
        assert_eq!(flags.system, SystemFlags::SEEN.union(SystemFlags::FLAGGED));
        assert_eq!(
            flags
                .keywords
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>(),
            ["$Forwarded"]
        );
        assert_eq!(flags_from_atoms(&[]).expect("no flags"), Flags::none());
        assert!(flags_from_atoms(&atoms(&["\\Important"])).is_err());
        assert!(flags_from_atoms(&atoms(&["\\*"])).is_err());
        assert!(flags_from_atoms(&atoms(&["bad%keyword"])).is_err());
    }

    fn message(data: &[u8], binary: bool) -> AppendMessage {
        AppendMessage {
            flags: atoms(&["\\Draft"]),
            date: None,
            data: data.to_vec(),
            binary,
        }
    }

    #[test]
    fn messages_are_checked_before_anything_is_stored() {
        let ok = prepare(message(b"Subject: x\r\n\r\nhi\r\n", false), 1000).expect("valid");
        assert_eq!(ok.internal_date, 1000);
        assert_eq!(ok.flags, Flags::system(SystemFlags::DRAFT));
        assert_eq!(
            prepare(message(b"", false), 0),
            Err(Refusal::No("Empty message"))
        );
        assert!(matches!(
            prepare(message(b"a\0b", false), 0),
            Err(Refusal::No(_))
        ));
        assert!(prepare(message(b"a\0b", true), 0).is_ok());
        let mut bad_flag = message(b"x", false);
        bad_flag.flags = atoms(&["\\Bogus"]);
        assert!(matches!(prepare(bad_flag, 0), Err(Refusal::Bad(_))));
    }

    #[test]
    fn the_date_given_becomes_internaldate() {
        let mut dated = message(b"x", false);
        dated.date = Some(DateTime::parse_from_rfc3339("1996-07-17T02:44:25-07:00").expect("date"));
        assert_eq!(prepare(dated, 0).expect("valid").internal_date, 837596665);
    }

    #[test]
    fn appenduid_names_one_uid_or_a_set() {
        let stored = |uid| Stored {
            folder: FolderId(3),
            uid_validity: 38505,
            uid,
        };
        assert_eq!(append_uid(&[stored(3955)]), "APPENDUID 38505 3955");
        assert_eq!(
            append_uid(&[stored(7), stored(8), stored(9), stored(12)]),
            "APPENDUID 38505 7:9,12"
        );
    }
}
