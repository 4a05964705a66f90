//! Mailbox folders: the special-use folders every mailbox starts with (ADDR-11) and the rules
//! for folder names.
//!
//! Names are stored in UTF-8 with `/` as the hierarchy delimiter; the IMAP layer converts to and
//! from modified UTF-7 (RFC 3501 §5.1.3) where a client has not enabled UTF8=ACCEPT.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DirectoryError;

/// The hierarchy delimiter announced in IMAP LIST responses (RFC 9051 §6.3.9).
pub const FOLDER_DELIMITER: char = '/';

/// The longest folder name, in UTF-8 octets, including its parents.
pub const MAX_FOLDER_NAME_LEN: usize = 255;

/// The name of the folder new mail lands in; case-insensitive (RFC 9051 §5.1).
pub const INBOX: &str = "INBOX";

/// RFC 6154 §2: what a special-use folder is for, so clients find Sent or Trash whatever its
/// name is in the user's language.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpecialUse {
    /// Copies of sent messages.
    Sent,
    /// Messages being written.
    Drafts,
    /// Deleted messages, until emptied.
    Trash,
    /// Spam (RCV-4 delivers there above the first threshold).
    Junk,
    /// Messages kept out of the inbox.
    Archive,
}

impl SpecialUse {
    /// Every special use, in the order of [`DEFAULT_FOLDERS`].
    pub const ALL: [SpecialUse; 5] = [
        SpecialUse::Sent,
        SpecialUse::Drafts,
        SpecialUse::Trash,
        SpecialUse::Junk,
        SpecialUse::Archive,
    ];

    /// The RFC 6154 §2 attribute shown in IMAP LIST responses, e.g. `\Sent`.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Archive => "\\Archive",
        }
    }

    /// Reads an attribute back, case-insensitively (RFC 9051 §7.3.1: attributes are
    /// case-insensitive); `None` for attributes that are not special uses.
    pub fn from_attribute(attribute: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|special| special.attribute().eq_ignore_ascii_case(attribute))
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

/// ADDR-11: the folders every new mailbox gets, with their special use (RFC 6154).
pub const DEFAULT_FOLDERS: [(&str, Option<SpecialUse>); 6] = [
    (INBOX, None),
    ("Sent", Some(SpecialUse::Sent)),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Trash", Some(SpecialUse::Trash)),
    ("Junk", Some(SpecialUse::Junk)),
    ("Archive", Some(SpecialUse::Archive)),
];

/// What is wrong with a folder name; part of [`DirectoryError::InvalidFolderName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderNameProblem {
    /// The empty string.
    #[error("it is empty")]
    Empty,
    /// More than [`MAX_FOLDER_NAME_LEN`] octets.
    #[error("it is longer than {MAX_FOLDER_NAME_LEN} bytes")]
    TooLong,
    /// A line break, tab or other control character.
    #[error("it contains a control character")]
    ControlCharacter,
    /// A leading or trailing `/`, or two in a row.
    #[error("it has an empty level (a '/' at the start, at the end or doubled)")]
    EmptySegment,
    /// A level named `.` or `..`, which file-backed tools would read as paths.
    #[error("it has a level named \".\" or \"..\"")]
    DotSegment,
    /// An IMAP LIST wildcard, which would make the folder impossible to list alone.
    #[error("it contains '{0}', which IMAP reserves as a wildcard")]
    Wildcard(char),
}

/// Checks a folder name (full path, `/`-separated) before it is created or renamed to.
pub fn validate_folder_name(name: &str) -> Result<(), DirectoryError> {
    let invalid = |reason| DirectoryError::InvalidFolderName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid(FolderNameProblem::Empty));
    }
    if name.len() > MAX_FOLDER_NAME_LEN {
        return Err(invalid(FolderNameProblem::TooLong));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(FolderNameProblem::ControlCharacter));
    }
    // RFC 9051 §6.3.9: "*" and "%" are LIST wildcards; a folder named with them could not be
    // listed on its own, so they are refused like most servers do.
    if let Some(wildcard) = name.chars().find(|c| matches!(c, '*' | '%')) {
        return Err(invalid(FolderNameProblem::Wildcard(wildcard)));
    }
    for segment in name.split(FOLDER_DELIMITER) {
        if segment.is_empty() {
            return Err(invalid(FolderNameProblem::EmptySegment));
        }
        if segment == "." || segment == ".." {
            return Err(invalid(FolderNameProblem::DotSegment));
        }
    }
    Ok(())
}

/// The name under which a folder is stored and compared: INBOX in any case becomes `INBOX`,
/// also as the first level of a path (`inbox/Receipts` → `INBOX/Receipts`), so a client cannot
/// create a second inbox by changing case. Other names keep their case.
pub fn canonical_folder_name(name: &str) -> String {
    // RFC 9051 §5.1: "The case-insensitive mailbox name INBOX is a special name reserved to
    // mean 'the primary mailbox for this user on this server'."
    let (first, rest) = match name.split_once(FOLDER_DELIMITER) {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if !first.eq_ignore_ascii_case(INBOX) {
        return name.to_owned();
    }
    match rest {
        Some(rest) => format!("{INBOX}{FOLDER_DELIMITER}{rest}"),
        None => INBOX.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(name: &str) -> Option<FolderNameProblem> {
        match validate_folder_name(name) {
            Err(DirectoryError::InvalidFolderName { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn addr_11_every_mailbox_starts_with_the_six_special_folders() {
        let names: Vec<&str> = DEFAULT_FOLDERS.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"]
        );
        assert_eq!(DEFAULT_FOLDERS[0].1, None);
        let uses: Vec<SpecialUse> = DEFAULT_FOLDERS.iter().filter_map(|(_, u)| *u).collect();
        assert_eq!(uses, SpecialUse::ALL);
        for (name, _) in DEFAULT_FOLDERS {
            assert_eq!(validate_folder_name(name), Ok(()), "{name}");
            assert_eq!(canonical_folder_name(name), name);
        }
    }

    #[test]
    fn addr_11_special_use_attributes_follow_rfc_6154() {
        let cases = [
            (SpecialUse::Sent, "\\Sent"),
            (SpecialUse::Drafts, "\\Drafts"),
            (SpecialUse::Trash, "\\Trash"),
            (SpecialUse::Junk, "\\Junk"),
            (SpecialUse::Archive, "\\Archive"),
        ];
        for (special, attribute) in cases {
            assert_eq!(special.attribute(), attribute);
            assert_eq!(special.to_string(), attribute);
            assert_eq!(SpecialUse::from_attribute(attribute), Some(special));
            let upper = attribute.to_ascii_uppercase();
            assert_eq!(SpecialUse::from_attribute(&upper), Some(special));
        }
        assert_eq!(SpecialUse::from_attribute("\\All"), None);
        assert_eq!(SpecialUse::from_attribute("Sent"), None);
    }

    #[test]
    fn valid_folder_names_are_accepted() {
        let max = "f".repeat(MAX_FOLDER_NAME_LEN);
        let valid = [
            "Receipts",
            "INBOX/Receipts",
            "Work/2024/Q1",
            "Reçus",
            "工作",
            "a.b",
            "...hidden",
            "Name with spaces",
            "[Gmail]",
            &max,
        ];
        for name in valid {
            assert_eq!(validate_folder_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn invalid_folder_names_are_refused_with_the_reason() {
        let too_long = "f".repeat(MAX_FOLDER_NAME_LEN + 1);
        // 128 two-byte characters: 128 characters but 256 bytes.
        let too_many_bytes = "é".repeat(128);
        let cases: Vec<(&str, FolderNameProblem)> = vec![
            ("", FolderNameProblem::Empty),
            (&too_long, FolderNameProblem::TooLong),
            (&too_many_bytes, FolderNameProblem::TooLong),
            ("a\nb", FolderNameProblem::ControlCharacter),
            ("a\tb", FolderNameProblem::ControlCharacter),
            ("a\u{0}", FolderNameProblem::ControlCharacter),
            ("/Work", FolderNameProblem::EmptySegment),
            ("Work/", FolderNameProblem::EmptySegment),
            ("Work//2024", FolderNameProblem::EmptySegment),
            ("/", FolderNameProblem::EmptySegment),
            (".", FolderNameProblem::DotSegment),
            ("..", FolderNameProblem::DotSegment),
            ("Work/../INBOX", FolderNameProblem::DotSegment),
            ("Work/.", FolderNameProblem::DotSegment),
            ("Work*", FolderNameProblem::Wildcard('*')),
            ("100%", FolderNameProblem::Wildcard('%')),
        ];
        for (name, expected) in cases {
            assert_eq!(problem(name), Some(expected), "{name:?}");
        }
        assert_eq!(
            validate_folder_name("a//b").map_err(|e| e.to_string()),
            Err(
                "\"a//b\" is not a valid folder name: it has an empty level (a '/' at the start, \
                 at the end or doubled)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn inbox_is_case_insensitive_and_canonicalised() {
        let cases = [
            ("INBOX", "INBOX"),
            ("inbox", "INBOX"),
            ("Inbox", "INBOX"),
            ("iNbOx", "INBOX"),
            ("inbox/Receipts", "INBOX/Receipts"),
            ("Inbox/inbox", "INBOX/inbox"),
            ("Work/inbox", "Work/inbox"),
            ("Inboxes", "Inboxes"),
            ("Sent", "Sent"),
            ("sent", "sent"),
            ("", ""),
        ];
        for (name, expected) in cases {
            assert_eq!(canonical_folder_name(name), expected, "{name:?}");
        }
    }
}
