//! STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9), with the CONDSTORE `UNCHANGEDSINCE`
//! modifier (RFC 7162 §3.1.3).
//!
//! The flags are checked before anything is changed (an unknown system flag or a keyword that
//! is not an atom is a `BAD`), then one `set_flags` call changes every message of the set; the
//! store gives all of them one new MODSEQ and leaves alone those that failed UNCHANGEDSINCE,
//! which the tagged OK lists as `[MODIFIED set]`.
//!
//! Which untagged FETCH responses are sent, for each message whose flags changed:
//!
//! | STORE            | CONDSTORE off          | CONDSTORE on (RFC 7162 §3.1, §3.2.4)  |
//! |------------------|------------------------|---------------------------------------|
//! | `FLAGS`          | `FLAGS` (+`UID`)       | `UID FLAGS MODSEQ`                    |
//! | `FLAGS.SILENT`   | nothing                | `UID MODSEQ`                          |
//!
//! Messages whose flags were already as asked changed nothing (no new MODSEQ) and get no
//! response; RFC 9051 §6.4.6 describes the response as the message's new flags, and theirs are
//! what the client already has.

use std::io::Write as _;

use postwerk_store::{FlagChange, FlagOp, FlagUpdate, Flags, Keyword, SystemFlags, UidSet};

use crate::ops::fetch::{enable_condstore, resolve};
use crate::ops::store_error;
use crate::proto::{SequenceSet, StoreOp, write};
use crate::response::Status;
use crate::session::{Connection, Flow, Session};

/// A STORE or UID STORE as parsed.
pub(crate) struct Request {
    /// UID STORE: the set holds UIDs, responses carry UID and MODIFIED lists UIDs.
    pub uid: bool,
    /// Which messages.
    pub set: SequenceSet,
    /// Replace, add or remove.
    pub op: StoreOp,
    /// `.SILENT`: no FETCH responses for the change (but see the module table).
    pub silent: bool,
    /// The flags, as their atoms.
    pub flags: Vec<String>,
    /// `UNCHANGEDSINCE n` (RFC 7162 §3.1.3).
    pub unchanged_since: Option<u64>,
}

/// STORE / UID STORE.
pub(crate) async fn run(
    session: &mut Session,
    conn: &mut Connection,
    tag: &str,
    request: Request,
) -> Flow {
    let Some(selected) = &session.selected else {
        return session.answer(conn, Status::bad(tag, "No folder selected"));
    };
    let flags = match store_flags(&request.flags) {
        Ok(flags) => flags,
        Err(why) => return session.answer(conn, Status::bad(tag, why)),
    };
    let targets = match resolve(selected, &session.saved_search, &request.set, request.uid) {
        Ok(targets) => targets,
        Err(why) => return session.answer(conn, Status::bad(tag, why)),
    };
    if selected.read_only {
        // EXAMINE (RFC 9051 §6.3.3): nothing may change.
        let status = Status::no(tag, "Folder is read-only").code("READ-ONLY");
        return session.answer(conn, status);
    }
    let folder = selected.folder;
    // RFC 7162 §3.1: STORE with UNCHANGEDSINCE is a CONDSTORE enabling command.
    if request.unchanged_since.is_some() {
        enable_condstore(session, conn);
    }
    let update = if targets.is_empty() {
        FlagUpdate::default()
    } else {
        let uids = UidSet::from_uids(targets.iter().map(|&(_, uid)| uid));
        let op = match request.op {
            StoreOp::Replace => FlagOp::Replace,
            StoreOp::Add => FlagOp::Add,
            StoreOp::Remove => FlagOp::Remove,
        };
        match session
            .server
            .mail
            .set_flags(folder, &uids, op, &flags, request.unchanged_since)
            .await
        {
            Ok(update) => update,
            Err(error) => return session.answer(conn, store_error(tag, error)),
        }
    };
    let echo = Echo {
        flags: !request.silent,
        uid: request.uid || session.enabled.condstore,
        modseq: session.enabled.condstore,
    };
    let Some(selected) = &mut session.selected else {
        return session.answer(conn, Status::ok(tag, "STORE completed"));
    };
    let mut out = Vec::new();
    for change in &update.changed {
        // Reported here, so the store's event for this MODSEQ is not reported again.
        selected.own_change(change.modseq);
        if let Some(seq) = selected.seq(change.uid) {
            write_change(&mut out, seq, change, echo);
        }
    }
    // RFC 7162 §3.1.3: message numbers (STORE) or UIDs (UID STORE) that failed UNCHANGEDSINCE.
    let mut modified: Vec<u32> = if request.uid {
        update.modified
    } else {
        update
            .modified
            .iter()
            .filter_map(|&uid| selected.seq(uid))
            .collect()
    };
    modified.sort_unstable();
    conn.output().extend_from_slice(&out);
    // RFC 9051 §7.5.1: no EXPUNGE while answering STORE.
    session.report_changes(conn, false).await;
    let done = if request.uid {
        "UID STORE completed"
    } else {
        "STORE completed"
    };
    let mut status = Status::ok(tag, done);
    if !modified.is_empty() {
        let mut set = Vec::new();
        write::uid_set(&mut set, &modified);
        status = Status::ok(tag, "Conditional STORE failed for some messages")
            .code(format!("MODIFIED {}", String::from_utf8_lossy(&set)));
    }
    session.answer(conn, status)
}

/// The flags a STORE names, as the store keeps them.
///
/// System flags are matched case-insensitively (RFC 9051 §2.3.2). `\Recent` is skipped: a
/// client may never change it (RFC 3501 §2.3.2) and IMAP4rev2 dropped it, but an IMAP4rev1
/// client replacing the flags it was shown may still name it. Any other `\` flag is unknown
/// here and refused (`BAD`); keywords must be atoms (RFC 9051 §9 `flag-keyword`).
pub(crate) fn store_flags(atoms: &[String]) -> Result<Flags, &'static str> {
    let mut flags = Flags::none();
    for atom in atoms {
        if atom.starts_with('\\') {
            if atom.eq_ignore_ascii_case("\\Recent") {
                continue;
            }
            let flag = SystemFlags::from_name(atom).ok_or("Unknown system flag")?;
            flags.system = flags.system.union(flag);
        } else {
            let keyword = Keyword::parse(atom).ok_or("Invalid keyword")?;
            flags.keywords.insert(keyword);
        }
    }
    Ok(flags)
}

/// Which items the FETCH response of a changed message carries (see the module table).
#[derive(Debug, Clone, Copy)]
struct Echo {
    /// FLAGS: not with `.SILENT`.
    flags: bool,
    /// UID: UID STORE (RFC 9051 §6.4.9) or CONDSTORE (RFC 7162 §3.2.4).
    uid: bool,
    /// MODSEQ: CONDSTORE (RFC 7162 §3.1, §3.1.3).
    modseq: bool,
}

/// `* seq FETCH (UID n FLAGS (...) MODSEQ (m))` with the items `echo` asks for; nothing when
/// it asks for none (`.SILENT` without CONDSTORE).
fn write_change(out: &mut Vec<u8>, seq: u32, change: &FlagChange, echo: Echo) {
    if !echo.flags && !echo.modseq {
        return;
    }
    let _ = write!(out, "* {seq} FETCH (");
    let mut first = true;
    let mut separate = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b' ');
        }
    };
    if echo.uid {
        separate(out);
        let _ = write!(out, "UID {}", change.uid);
    }
    if echo.flags {
        separate(out);
        out.extend_from_slice(b"FLAGS ");
        write::flags(out, &change.flags);
    }
    if echo.modseq {
        separate(out);
        let _ = write!(out, "MODSEQ ({})", change.modseq);
    }
    out.extend_from_slice(b")\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atoms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flag_atoms_become_store_flags() {
        let flags =
            store_flags(&atoms(&["\\seen", "\\DELETED", "$Junk", "NonJunk"])).expect("valid");
        assert_eq!(flags.system, SystemFlags::SEEN.union(SystemFlags::DELETED));
        let keywords: Vec<&str> = flags.keywords.iter().map(|k| k.as_str()).collect();
        assert_eq!(keywords, ["$Junk", "NonJunk"]);
        assert_eq!(store_flags(&[]), Ok(Flags::none()));
        // \Recent can never be stored; it is skipped rather than refused.
        assert_eq!(
            store_flags(&atoms(&["\\Recent", "\\Flagged"])),
            Ok(Flags::system(SystemFlags::FLAGGED))
        );
    }

    #[test]
    fn unknown_system_flags_and_non_atoms_are_refused() {
        for bad in [
            &["\\Important"][..],
            &["\\*"],
            &["\\"],
            &["a]b"],
            &["\\Seen", "x*"],
        ] {
            assert!(store_flags(&atoms(bad)).is_err(), "{bad:?}");
        }
    }

    fn change() -> FlagChange {
        FlagChange {
            uid: 42,
            flags: Flags::system(SystemFlags::SEEN.union(SystemFlags::FLAGGED)),
            modseq: 917,
        }
    }

    fn line(echo: Echo) -> String {
        let mut out = Vec::new();
        write_change(&mut out, 3, &change(), echo);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn store_responses_follow_silent_and_condstore() {
        let echo = |flags, uid, modseq| Echo { flags, uid, modseq };
        assert_eq!(
            line(echo(true, false, false)),
            "* 3 FETCH (FLAGS (\\Seen \\Flagged))\r\n"
        );
        assert_eq!(
            line(echo(true, true, false)),
            "* 3 FETCH (UID 42 FLAGS (\\Seen \\Flagged))\r\n"
        );
        assert_eq!(
            line(echo(true, true, true)),
            "* 3 FETCH (UID 42 FLAGS (\\Seen \\Flagged) MODSEQ (917))\r\n"
        );
        // RFC 7162 §3.1.3: .SILENT under CONDSTORE still reports the new MODSEQ.
        assert_eq!(
            line(echo(false, true, true)),
            "* 3 FETCH (UID 42 MODSEQ (917))\r\n"
        );
        assert_eq!(line(echo(false, false, false)), "");
    }
}
