//! A draft stored in the Drafts folder, read back into the fields of the compose form.

use mail_parser::{Address as ParsedAddress, MessageParser};
use postwerk_model::FolderId;

use super::compose_build::REPLY_TARGET_HEADER;
use super::compose_recipients::{NamedAddress, display_list, parse_entry};
use super::{Draft, ReplyTarget};

/// The fields of a stored draft, as far as its own bytes say them. Attachments, the draft's
/// UID and whether the answered message still belongs to the mailbox are the caller's.
#[derive(Debug, Default)]
pub(super) struct ParsedDraft {
    pub draft: Draft,
    /// From the private header: the message it answers, not yet checked.
    pub reply_target: Option<ReplyTarget>,
}

/// Reads `raw` (a message saved by `save_draft`, or by an IMAP client).
pub(super) fn parse_draft(raw: &[u8]) -> ParsedDraft {
    let Some(message) = MessageParser::default().parse(raw) else {
        return ParsedDraft::default();
    };
    let field = |list: Option<&ParsedAddress<'_>>| display_list(&addresses(list));
    let draft = Draft {
        from: field(message.from()),
        to: field(message.to()),
        cc: field(message.cc()),
        bcc: field(message.bcc()),
        subject: message.subject().unwrap_or_default().to_owned(),
        body: message
            .body_text(0)
            .map(|text| text.replace("\r\n", "\n"))
            .unwrap_or_default(),
        ..Draft::default()
    };
    let reply_target = message
        .header_raw(REPLY_TARGET_HEADER)
        .and_then(parse_reply_target);
    ParsedDraft {
        draft,
        reply_target,
    }
}

/// The addresses of a header that parse as addresses; others (groups without members,
/// garbage an IMAP client saved) are left out rather than failing the whole draft.
fn addresses(list: Option<&ParsedAddress<'_>>) -> Vec<NamedAddress> {
    let Some(list) = list else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|addr| {
            let mut named = parse_entry(addr.address()?).ok()?;
            named.name = addr.name().map(str::to_owned).filter(|n| !n.is_empty());
            Some(named)
        })
        .collect()
}

/// `<folder id>:<uid>`, as `compose_build` writes it.
fn parse_reply_target(value: &str) -> Option<ReplyTarget> {
    let (folder, uid) = value.trim().split_once(':')?;
    Some(ReplyTarget {
        folder: FolderId(folder.trim().parse().ok()?),
        uid: uid.trim().parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_draft_reads_back_field_by_field() {
        let raw = b"From: Toto <toto@example.test>\r\nTo: \"Doe, Jane\" <jane@example.net>, \
                    bob@example.org\r\nBcc: secret@example.org\r\nSubject: Plans\r\n\
                    X-Postwerk-Reply-Target: 7:42\r\n\r\nFirst line\r\nSecond line\r\n";
        let parsed = parse_draft(raw);
        assert_eq!(parsed.draft.from, "Toto <toto@example.test>");
        assert_eq!(
            parsed.draft.to,
            "\"Doe, Jane\" <jane@example.net>, bob@example.org"
        );
        assert_eq!(parsed.draft.bcc, "secret@example.org");
        assert_eq!(parsed.draft.subject, "Plans");
        assert_eq!(parsed.draft.body, "First line\nSecond line\n");
        assert_eq!(
            parsed.reply_target,
            Some(ReplyTarget {
                folder: FolderId(7),
                uid: 42
            })
        );
    }

    #[test]
    fn a_bad_reply_target_is_ignored() {
        for value in ["7", "x:1", "7:-1", ""] {
            assert_eq!(parse_reply_target(value), None, "{value}");
        }
    }
}
