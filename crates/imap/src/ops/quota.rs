//! QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA.
//!
//! Every mailbox has one quota root, named `""`, that all its folders share: the ADDR-10
//! storage limit is per mailbox, not per folder. The one resource is STORAGE (§5.1), in units
//! of 1024 octets: usage is the size of every message of the mailbox rounded up, the limit
//! rounded down. There is no limit on the number of messages or folders, so MESSAGE (§5.2)
//! and MAILBOX (§5.3) are never listed (§4.2.1 lists only resources that have a limit).
//!
//! ADDR-10: a mailbox has no storage limit unless the administrator set one. A QUOTA response
//! must give a limit with every resource (§7: `quota-resource = resource-name SP
//! resource-usage SP resource-limit`, at least one per list), so a mailbox without a limit
//! has no quota root at all: `* QUOTAROOT INBOX` (§4.2.2 allows zero roots), and GETQUOTA of
//! `""` is answered `NO [NONEXISTENT]`. Its usage is in STATUS SIZE (RFC 8438).

use std::io::Write as _;

use crate::ops::{find_folder, store_error, write_folder_name};
use crate::proto::{MailboxName, write};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// The name of the one quota root of a mailbox.
const ROOT: &str = "";

/// GETQUOTA root (RFC 9208 §4.1.1).
pub(crate) async fn get_quota(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    root: &str,
) -> Flow {
    if root != ROOT {
        let status = Status::no(tag, "No such quota root").code("NONEXISTENT");
        return session.answer(conn, status);
    }
    let storage = match storage(session, tag).await {
        Ok(Some(storage)) => storage,
        Ok(None) => {
            let status = Status::no(tag, "This mailbox has no quota").code("NONEXISTENT");
            return session.answer(conn, status);
        }
        Err(status) => return session.answer(conn, status),
    };
    write_quota(conn.output(), storage);
    session.answer(conn, Status::ok(tag, "GETQUOTA completed"))
}

/// GETQUOTAROOT mailbox (RFC 9208 §4.1.2): the root of the folder, then its quota.
pub(crate) async fn get_quota_root(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    mailbox: &MailboxName,
) -> Flow {
    let folder = match find_folder(session, tag, mailbox).await {
        Ok(folder) => folder,
        Err(status) => return session.answer(conn, status),
    };
    let storage = match storage(session, tag).await {
        Ok(storage) => storage,
        Err(status) => return session.answer(conn, status),
    };
    let mut out = Vec::new();
    // RFC 9208 §4.2.2: `QUOTAROOT mailbox *(SP root)`.
    out.extend_from_slice(b"* QUOTAROOT ");
    write_folder_name(session, &mut out, &folder.name);
    if let Some(storage) = storage {
        out.push(b' ');
        write::astring(&mut out, ROOT);
        out.extend_from_slice(b"\r\n");
        write_quota(&mut out, storage);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    conn.output().extend_from_slice(&out);
    session.answer(conn, Status::ok(tag, "GETQUOTAROOT completed"))
}

/// SETQUOTA (RFC 9208 §4.1.3): limits are set by the operator (ADDR-10), never by the user of
/// the mailbox.
pub(crate) fn set_quota(session: &mut Session, conn: &mut Connection, tag: &str) -> Flow {
    let status = Status::no(tag, "Quotas are set by the administrator").code("NOPERM");
    session.answer(conn, status)
}

/// STORAGE usage and limit in KiB, or `None` when the mailbox has no storage limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Storage {
    usage: u64,
    limit: u64,
}

impl Storage {
    /// From octets: usage rounded up (a 1-octet mailbox uses 1 KiB), the limit rounded down,
    /// so a full mailbox never shows room left.
    fn from_octets(usage: u64, limit: u64) -> Storage {
        Storage {
            usage: usage.div_ceil(1024),
            limit: limit / 1024,
        }
    }
}

/// The STORAGE resource of the logged-in mailbox.
async fn storage(session: &Session, tag: &str) -> Result<Option<Storage>, Status> {
    let Some(login) = &session.login else {
        return Err(Status::bad(tag, "Log in first"));
    };
    let limit = match session.server.directory.address(login.mailbox).await {
        Ok(address) => address.and_then(|a| a.storage_limit),
        Err(error) => return Err(store_error(tag, error)),
    };
    let Some(limit) = limit else {
        return Ok(None);
    };
    let usage = session
        .server
        .mail
        .mailbox_usage(login.mailbox)
        .await
        .map_err(|error| store_error(tag, error))?;
    Ok(Some(Storage::from_octets(usage, limit)))
}

/// Writes `* QUOTA "" (STORAGE usage limit)\r\n` (RFC 9208 §4.2.1).
fn write_quota(out: &mut Vec<u8>, Storage { usage, limit }: Storage) {
    out.extend_from_slice(b"* QUOTA ");
    write::astring(out, ROOT);
    // Writing into a Vec cannot fail.
    let _ = write!(out, " (STORAGE {usage} {limit})\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(storage: Storage) -> String {
        let mut out = Vec::new();
        write_quota(&mut out, storage);
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn storage_is_in_kib_usage_up_and_limit_down() {
        assert_eq!(
            Storage::from_octets(0, 1024 * 1024),
            Storage {
                usage: 0,
                limit: 1024
            }
        );
        assert_eq!(Storage::from_octets(1, 1023).usage, 1);
        assert_eq!(Storage::from_octets(1, 1023).limit, 0);
        assert_eq!(Storage::from_octets(2048, 0).usage, 2);
        assert_eq!(Storage::from_octets(2049, 0).usage, 3);
    }

    #[test]
    fn quota_lines_give_usage_and_limit() {
        let storage = Storage {
            usage: 10,
            limit: 512,
        };
        assert_eq!(quota(storage), "* QUOTA \"\" (STORAGE 10 512)\r\n");
    }
}
