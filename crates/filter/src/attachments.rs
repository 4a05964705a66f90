//! RCV-5 forbidden attachments: a message carrying a file with an executable extension, as a MIME
//! part or inside a zip archive (nested archives included), is refused
//! `554 5.7.0 AV: Message is rejected by headers rule filter`.
//!
//! Archive inspection is bounded by [`ArchiveLimits`] over the whole message, so that a zip bomb
//! costs at most the budget: the central directory gives every entry name without decompressing
//! anything, and only archives nested in archives are ever decompressed, through a capped reader.
//! An archive that cannot be inspected within the bounds is refused as a possible bomb (see
//! [`check`]).
//!
//! The check is synchronous and CPU-bound; callers on an async runtime run it off the reactor.

use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use zip::ZipArchive;

use crate::Reply;

/// Bounds of archive inspection, so that a zip bomb costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Deepest nesting of archives inspected: 1 opens the zip attachments themselves, 2 also the
    /// zips inside them, and so on. An archive nested deeper is refused.
    pub max_depth: u32,
    /// Most entries read over all archives of a message.
    pub max_entries: u32,
    /// Most decompressed octets read over all archives of a message.
    pub max_total: u64,
}

impl Default for ArchiveLimits {
    /// Depth 3, 10,000 entries, 64 MiB decompressed: far above what honest mail carries (a zip of
    /// documents, perhaps one zip inside), far below what a bomb needs to hurt.
    fn default() -> ArchiveLimits {
        ArchiveLimits {
            max_depth: 3,
            max_entries: 10_000,
            max_total: 64 * 1024 * 1024,
        }
    }
}

/// File extensions refused (SPEC RCV-5), lower case, without the dot.
const FORBIDDEN: &[&str] = &[
    "exe", "com", "cmd", "cpl", "hta", "scf", "sct", "lnk", "bat", "js", "jse", "wsh", "ws", "wsf",
    "wsc", "vbe", "vb", "vbs", "shs", "pif", "scr",
];

/// How deep `message/rfc822` attachments are followed. mail-parser itself parses three levels;
/// deeper ones come back unparsed and are parsed here again, up to this bound, so that wrapping
/// an executable in a few forwarded messages does not hide it.
const MAX_MESSAGE_DEPTH: u32 = 8;

/// The local file header signature every zip archive starts with.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// The refusal for a message carrying a forbidden file, if it does.
///
/// Every MIME part's file name is checked: the Content-Disposition `filename` and the
/// Content-Type `name` parameters (RFC 2231 and RFC 2047 encodings decoded by mail-parser).
/// Zip attachments (by name or by content) are listed and their entry names checked, nested
/// zips opened up to `limits.max_depth`.
///
/// An archive that cannot be inspected within `limits` (too deep, too many entries, too much
/// decompressed data) is refused too: it is what a zip bomb looks like, and refusing what we
/// cannot see into is the safe choice for a provider — delivering it would let an executable
/// hide behind the bound. An archive that is not readable as a zip at all (corrupt) is treated as
/// an opaque file and delivered: the recipient's tools cannot open it either.
pub fn check(raw: &[u8], limits: &ArchiveLimits) -> Option<Reply> {
    let found = inspect(raw, limits)?;
    match &found {
        Refusal::Forbidden(name) => {
            // The file name is logged to explain the refusal; it is not message content. Debug
            // formatting escapes control characters an attacker may put in it.
            tracing::info!(file = ?name, "attachments: forbidden file name, message refused");
        }
        Refusal::Uninspectable(why) => {
            tracing::info!(
                reason = why,
                "attachments: archive not inspectable, message refused"
            );
        }
    }
    Some(refusal())
}

/// RCV-5's refusal, in the SPEC's words.
pub fn refusal() -> Reply {
    Reply {
        code: 554,
        status: "5.7.0",
        text: "AV: Message is rejected by headers rule filter".into(),
    }
}

/// Why `raw` is to be refused, if it is.
fn inspect(raw: &[u8], limits: &ArchiveLimits) -> Option<Refusal> {
    // The zip crate has a history of panics on hostile input (DEPENDENCIES.md); a panic here must
    // not take the SMTP session down, and an archive that crashes the parser is hostile.
    catch_unwind(AssertUnwindSafe(|| {
        let message = MessageParser::default().parse(raw)?;
        let mut budget = Budget {
            limits,
            entries: 0,
            bytes: 0,
        };
        scan_message(&message, 0, &mut budget).err()
    }))
    .unwrap_or(Some(Refusal::Uninspectable("parser failure")))
}

/// Why a message is refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// A file with this name has a forbidden extension.
    Forbidden(String),
    /// An archive could not be inspected within the limits, for this reason.
    Uninspectable(&'static str),
}

/// What archive inspection has spent so far over the whole message.
struct Budget<'a> {
    limits: &'a ArchiveLimits,
    entries: u64,
    bytes: u64,
}

/// Checks every part of `message` (`depth` levels of `message/rfc822` deep).
fn scan_message(message: &Message<'_>, depth: u32, budget: &mut Budget<'_>) -> Result<(), Refusal> {
    for part in &message.parts {
        let names = [part.content_disposition(), part.content_type()]
            .into_iter()
            .flatten()
            // Both parameters on both headers: senders mix them up, and a mail client shows
            // whichever it finds.
            .flat_map(|header| [header.attribute("filename"), header.attribute("name")])
            .flatten();
        let mut named_zip = false;
        for name in names {
            check_name(name)?;
            named_zip |= extension(name).is_some_and(|ext| ext.eq_ignore_ascii_case("zip"));
        }
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Message(inner) => scan_message(inner, depth + 1, budget)?,
            PartType::Binary(body) | PartType::InlineBinary(body)
                if part
                    .content_type()
                    .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("message")) =>
            {
                // A message mail-parser left unparsed (beyond its own nesting limit).
                if depth + 1 >= MAX_MESSAGE_DEPTH {
                    return Err(Refusal::Uninspectable("messages nested too deep"));
                }
                if let Some(inner) = MessageParser::default().parse(body.as_ref()) {
                    scan_message(&inner, depth + 1, budget)?;
                }
            }
            _ => {
                let body = part.contents();
                if named_zip || body.starts_with(ZIP_MAGIC) {
                    scan_zip(body, 1, budget)?;
                }
            }
        }
    }
    Ok(())
}

/// Checks the entry names of the zip archive `bytes`, found `depth` archives deep, and the
/// archives inside it.
fn scan_zip(bytes: &[u8], depth: u32, budget: &mut Budget<'_>) -> Result<(), Refusal> {
    if depth > budget.limits.max_depth {
        return Err(Refusal::Uninspectable("archives nested too deep"));
    }
    let mut archive = match ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(error) => {
            tracing::debug!(%error, depth, "attachments: not a readable zip, treated as a file");
            return Ok(());
        }
    };
    // Counted before anything is read: the central directory is already parsed, and its size is
    // bounded by the message size.
    budget.entries += archive.len() as u64;
    if budget.entries > u64::from(budget.limits.max_entries) {
        return Err(Refusal::Uninspectable("too many archive entries"));
    }
    // Names first, from the central directory only: this needs no decompression and works for
    // encrypted entries too, whose names are not encrypted.
    for index in 0..archive.len() {
        match archive.name_for_index(index) {
            Some(Ok(name)) => check_name(&name)?,
            Some(Err(error)) => tracing::debug!(%error, "attachments: undecodable entry name"),
            None => {}
        }
    }
    for index in 0..archive.len() {
        let named_zip = archive
            .name_for_index(index)
            .and_then(Result::ok)
            .and_then(|name| extension(&name).map(|ext| ext.eq_ignore_ascii_case("zip")))
            .unwrap_or(false);
        let Some(inner) = read_nested(&mut archive, index, named_zip, budget)? else {
            continue;
        };
        scan_zip(&inner, depth + 1, budget)?;
    }
    Ok(())
}

/// The decompressed bytes of entry `index` when it is a zip archive itself (by name or by its
/// first bytes), read within the budget; `None` for any other entry.
fn read_nested(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    index: usize,
    named_zip: bool,
    budget: &mut Budget<'_>,
) -> Result<Option<Vec<u8>>, Refusal> {
    let mut entry = match archive.by_index(index) {
        Ok(entry) => entry,
        // Encrypted, or compressed with a method not built in: an archive inside it would be
        // hidden from us, which is how malware hides from scanners; anything else is opaque data
        // whose name was already checked.
        Err(_) if named_zip => return Err(Refusal::Uninspectable("unreadable nested archive")),
        Err(error) => {
            tracing::debug!(%error, "attachments: archive entry not readable");
            return Ok(None);
        }
    };
    if entry.is_dir() {
        return Ok(None);
    }
    // The sizes in the zip headers are the attacker's word: every read goes through `take` with
    // what is left of the budget (plus one octet, to tell "exactly the budget" from "more").
    let mut data = Vec::new();
    let head = read_capped(&mut entry, ZIP_MAGIC.len() as u64, &mut data, budget)?;
    if head.is_err() || !(named_zip || data.starts_with(ZIP_MAGIC)) {
        return Ok(None);
    }
    let left = budget.limits.max_total.saturating_sub(budget.bytes);
    let rest = read_capped(&mut entry, left + 1, &mut data, budget)?;
    if let Err(error) = rest {
        // Damaged data (bad deflate stream, CRC): treated like a corrupt archive, as a file.
        tracing::debug!(%error, "attachments: nested archive not readable");
        return Ok(None);
    }
    Ok(Some(data))
}

/// Reads at most `cap` more octets of `reader` onto `data`, charging them to the budget;
/// refused when the budget is exceeded, the read error passed on otherwise.
fn read_capped(
    reader: &mut impl Read,
    cap: u64,
    data: &mut Vec<u8>,
    budget: &mut Budget<'_>,
) -> Result<std::io::Result<()>, Refusal> {
    let before = data.len();
    // On error, read_to_end still leaves what it read in `data`, so the charge is exact.
    let result = reader.take(cap).read_to_end(data).map(drop);
    budget.bytes += (data.len() - before) as u64;
    if budget.bytes > budget.limits.max_total {
        return Err(Refusal::Uninspectable("too much decompressed data"));
    }
    Ok(result)
}

/// Refuses `name` when its last extension is forbidden.
fn check_name(name: &str) -> Result<(), Refusal> {
    match extension(name) {
        Some(ext) if FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(ext)) => {
            Err(Refusal::Forbidden(name.to_owned()))
        }
        _ => Ok(()),
    }
}

/// The last extension of the file `name` (a path's last component), as Windows sees it: cut at a
/// NUL (C string APIs stop there), trailing dots and spaces stripped (Windows drops them, so
/// `a.exe. ` opens as `a.exe`).
fn extension(name: &str) -> Option<&str> {
    let name = name.split('\0').next().unwrap_or(name);
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let file = file.trim_end_matches(['.', ' ']);
    file.rsplit_once('.').map(|(_, ext)| ext)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use base64::Engine;
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;

    fn refused() -> Option<Reply> {
        Some(Reply {
            code: 554,
            status: "5.7.0",
            text: "AV: Message is rejected by headers rule filter".into(),
        })
    }

    /// A multipart/mixed message with a text part and one base64 attachment per
    /// (header lines, body).
    fn message(attachments: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: files\r\n\
            MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
            --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
            .to_vec();
        for (headers, body) in attachments {
            out.extend_from_slice(b"--b1\r\n");
            out.extend_from_slice(headers.as_bytes());
            out.extend_from_slice(b"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            for line in encoded.as_bytes().chunks(76) {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"--b1--\r\n");
        out
    }

    fn attachment(name: &str, body: &[u8]) -> Vec<u8> {
        let headers = format!(
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"{name}\""
        );
        message(&[(&headers, body)])
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for (name, body) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(body).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn check_default(raw: &[u8]) -> Option<Reply> {
        check(raw, &ArchiveLimits::default())
    }

    fn forbidden(name: &str) -> Option<Refusal> {
        Some(Refusal::Forbidden(name.into()))
    }

    fn uninspectable(why: &'static str) -> Option<Refusal> {
        Some(Refusal::Uninspectable(why))
    }

    #[test]
    fn default_limits() {
        let limits = ArchiveLimits::default();
        assert_eq!(limits.max_depth, 3);
        assert_eq!(limits.max_entries, 10_000);
        assert_eq!(limits.max_total, 64 * 1024 * 1024);
    }

    #[test]
    fn exe_by_filename_is_refused() {
        assert_eq!(check_default(&attachment("setup.exe", b"MZ")), refused());
        assert_eq!(check_default(&attachment("SETUP.Scr", b"MZ")), refused());
    }

    #[test]
    fn trailing_dots_and_spaces_are_stripped() {
        assert_eq!(check_default(&attachment("setup.exe. .", b"MZ")), refused());
    }

    #[test]
    fn name_parameter_alone_is_refused() {
        let raw = message(&[(
            "Content-Type: application/octet-stream; name=\"run.bat\"",
            b"x",
        )]);
        assert_eq!(check_default(&raw), refused());
    }

    #[test]
    fn rfc2231_encoded_filename_is_refused() {
        let raw = message(&[(
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename*=UTF-8''%E2%82%ACvil.ExE",
            b"MZ",
        )]);
        assert_eq!(check_default(&raw), refused());
        let limits = ArchiveLimits::default();
        assert_eq!(inspect(&raw, &limits), forbidden("\u{20ac}vil.ExE"));
    }

    #[test]
    fn rfc2231_continuations_are_refused() {
        let raw = message(&[(
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment;\r\n filename*0=\"quarterly-report.pdf\";\r\n \
             filename*1=\".vbs\"",
            b"x",
        )]);
        assert_eq!(check_default(&raw), refused());
        let limits = ArchiveLimits::default();
        assert_eq!(
            inspect(&raw, &limits),
            forbidden("quarterly-report.pdf.vbs")
        );
    }

    #[test]
    fn rfc2047_encoded_name_is_refused() {
        // "invoice.js" as a base64 encoded word.
        let raw = message(&[(
            "Content-Type: application/octet-stream; name=\"=?UTF-8?B?aW52b2ljZS5qcw==?=\"",
            b"x",
        )]);
        assert_eq!(check_default(&raw), refused());
        let limits = ArchiveLimits::default();
        assert_eq!(inspect(&raw, &limits), forbidden("invoice.js"));
    }

    #[test]
    fn harmless_names_are_delivered() {
        assert_eq!(check_default(&attachment("report.pdf", b"%PDF")), None);
        assert_eq!(check_default(&attachment("setup.exe.pdf", b"%PDF")), None);
        assert_eq!(
            check_default(&attachment("report.pdf.exe", b"MZ")),
            refused()
        );
        assert_eq!(check_default(&attachment("noextension", b"x")), None);
    }

    #[test]
    fn forbidden_name_in_zip_is_refused() {
        let zip = zip_of(&[("readme.txt", b"hi"), ("bin/setup.js", b"alert(1)")]);
        assert_eq!(check_default(&attachment("files.zip", &zip)), refused());
        // Found by content, whatever the attachment is called.
        assert_eq!(check_default(&attachment("photo.jpg", &zip)), refused());
    }

    #[test]
    fn forbidden_name_in_nested_zip_is_refused() {
        let inner = zip_of(&[("a.vbs", b"x")]);
        let outer = zip_of(&[("notes.txt", b"hi"), ("inner.zip", &inner)]);
        assert_eq!(check_default(&attachment("outer.zip", &outer)), refused());
        let limits = ArchiveLimits::default();
        assert_eq!(
            inspect(&attachment("outer.zip", &outer), &limits),
            forbidden("a.vbs")
        );
        // Found by content inside the archive too.
        let outer = zip_of(&[("inner.dat", &inner)]);
        assert_eq!(check_default(&attachment("outer.zip", &outer)), refused());
    }

    #[test]
    fn allowed_zip_is_delivered() {
        let inner = zip_of(&[("b.docx", b"x")]);
        let zip = zip_of(&[("a.pdf", b"%PDF"), ("dir/", b""), ("inner.zip", &inner)]);
        assert_eq!(check_default(&attachment("documents.zip", &zip)), None);
    }

    #[test]
    fn encrypted_entry_name_is_checked() {
        let mut zip = zip_of(&[("payload.exe", b"MZ")]);
        // Set the "encrypted" flag in the local and central headers, as an encrypting writer would.
        let local = zip.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
        zip[local + 6] |= 1;
        let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        zip[central + 8] |= 1;
        assert_eq!(check_default(&attachment("secret.zip", &zip)), refused());
    }

    #[test]
    fn zip_bomb_is_refused() {
        // One "archive" entry of 96 MiB of zeros, about 100 KB deflated: more than the 64 MiB
        // budget, so inspection stops at the budget and the message is refused.
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        writer.start_file("bomb.zip", options).unwrap();
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..96 {
            writer.write_all(&zeros).unwrap();
        }
        let bomb = writer.finish().unwrap().into_inner();
        assert!(bomb.len() < 200 * 1024, "bomb is {} octets", bomb.len());
        let raw = attachment("bomb.zip", &bomb);
        assert_eq!(check_default(&raw), refused());
        let limits = ArchiveLimits::default();
        assert_eq!(
            inspect(&raw, &limits),
            uninspectable("too much decompressed data")
        );
    }

    #[test]
    fn deeply_nested_zip_is_refused() {
        let mut zip = zip_of(&[("a.txt", b"harmless")]);
        for level in 0..5 {
            zip = zip_of(&[(&format!("level{level}.zip"), &zip)]);
        }
        assert_eq!(check_default(&attachment("deep.zip", &zip)), refused());
        assert_eq!(
            inspect(&attachment("deep.zip", &zip), &ArchiveLimits::default()),
            uninspectable("archives nested too deep")
        );
        let limits = ArchiveLimits {
            max_depth: 6,
            ..ArchiveLimits::default()
        };
        assert_eq!(check(&attachment("deep.zip", &zip), &limits), None);
    }

    #[test]
    fn too_many_entries_are_refused() {
        let names: Vec<String> = (0..101).map(|i| format!("file{i}.txt")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let zip = zip_of(&entries);
        let limits = ArchiveLimits {
            max_entries: 100,
            ..ArchiveLimits::default()
        };
        assert_eq!(check(&attachment("many.zip", &zip), &limits), refused());
        assert_eq!(
            inspect(&attachment("many.zip", &zip), &limits),
            uninspectable("too many archive entries")
        );
        assert_eq!(check_default(&attachment("many.zip", &zip)), None);
    }

    #[test]
    fn corrupt_zip_is_delivered() {
        let mut zip = zip_of(&[("setup.exe", b"MZ")]);
        // Without its central directory it is no archive any tool can list.
        let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        zip.truncate(central);
        assert_eq!(check_default(&attachment("broken.zip", &zip)), None);
        assert_eq!(
            check_default(&attachment("fake.zip", b"PK\x03\x04garbage")),
            None
        );
    }

    #[test]
    fn forbidden_name_in_attached_message_is_refused() {
        let inner = attachment("setup.exe", b"MZ");
        let raw = message(&[("Content-Type: message/rfc822", &inner)]);
        assert_eq!(check_default(&raw), refused());
    }

    #[test]
    fn plain_text_message_is_delivered() {
        let raw = b"From: a@example.org\r\nSubject: hi\r\n\r\nsee setup.exe\r\n";
        assert_eq!(check_default(raw), None);
    }
}
