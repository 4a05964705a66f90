//! Folder roles (RFC 6154) as webmail names them, and the order of the folder list.
//!
//! A folder's role is its store special use. A mailbox whose user deleted, say, Trash over
//! IMAP and created a folder named `Trash` again has no folder marked `\Trash` (the store
//! marks only the ADDR-11 folders it creates): the folder with the usual name then plays the
//! role, so webmail never creates a second `Trash` beside it.

use postwerk_model::folders::INBOX;
use postwerk_model::{DEFAULT_FOLDERS, SpecialUse};
use postwerk_store::Folder;

/// The special uses in the order the folder list shows them, after INBOX.
const LIST_ORDER: [SpecialUse; 5] = [
    SpecialUse::Drafts,
    SpecialUse::Sent,
    SpecialUse::Archive,
    SpecialUse::Junk,
    SpecialUse::Trash,
];

/// The role string of the API (`sent`, `drafts`, `trash`, `junk`, `archive`).
pub(super) fn role_name(role: SpecialUse) -> &'static str {
    match role {
        SpecialUse::Sent => "sent",
        SpecialUse::Drafts => "drafts",
        SpecialUse::Trash => "trash",
        SpecialUse::Junk => "junk",
        SpecialUse::Archive => "archive",
    }
}

/// The special use named by a role string, case-insensitively.
pub(super) fn parse_role(role: &str) -> Option<SpecialUse> {
    SpecialUse::ALL
        .into_iter()
        .find(|special| role_name(*special).eq_ignore_ascii_case(role.trim()))
}

/// The name ADDR-11 gives the folder of `role` (`Sent`, `Drafts`, …).
pub(super) fn default_name(role: SpecialUse) -> &'static str {
    DEFAULT_FOLDERS
        .iter()
        .find(|(_, special)| *special == Some(role))
        .map(|(name, _)| *name)
        .unwrap_or(match role {
            SpecialUse::Sent => "Sent",
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Trash => "Trash",
            SpecialUse::Junk => "Junk",
            SpecialUse::Archive => "Archive",
        })
}

/// The folder of `folders` playing `role`: the one marked with it, else the one with its
/// usual name (module documentation).
pub(super) fn folder_with_role(folders: &[Folder], role: SpecialUse) -> Option<&Folder> {
    folders
        .iter()
        .find(|folder| folder.special_use == Some(role))
        .or_else(|| {
            folders
                .iter()
                .find(|folder| folder.special_use.is_none() && folder.name == default_name(role))
        })
}

/// The role `folder` plays among the mailbox's `folders`.
pub(super) fn role_of(folder: &Folder, folders: &[Folder]) -> Option<SpecialUse> {
    SpecialUse::ALL
        .into_iter()
        .find(|role| folder_with_role(folders, *role).is_some_and(|holder| holder.id == folder.id))
}

/// `folder` with the role it plays among `folders` written into its special use, so that
/// what reads the special use (RCV-4 learning: into or out of Junk) sees it too.
pub(super) fn with_role(mut folder: Folder, folders: &[Folder]) -> Folder {
    if folder.special_use.is_none() {
        folder.special_use = role_of(&folder, folders);
    }
    folder
}

/// Where a folder goes in the folder list: INBOX, then the special folders in
/// [`LIST_ORDER`], then the others by name (the store lists them by name already).
pub(super) fn list_rank(folder: &Folder, role: Option<SpecialUse>) -> usize {
    if folder.name == INBOX {
        return 0;
    }
    match role.and_then(|role| LIST_ORDER.iter().position(|r| *r == role)) {
        Some(position) => 1 + position,
        None => 1 + LIST_ORDER.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postwerk_model::{AddressId, FolderId};

    fn folder(id: i64, name: &str, special_use: Option<SpecialUse>) -> Folder {
        Folder {
            id: FolderId(id),
            mailbox: AddressId(1),
            name: name.into(),
            special_use,
            uid_validity: 1,
            uid_next: 1,
            highest_modseq: 1,
            subscribed: true,
        }
    }

    #[test]
    fn role_strings_round_trip() {
        for role in SpecialUse::ALL {
            assert_eq!(parse_role(role_name(role)), Some(role));
        }
        assert_eq!(parse_role("Trash"), Some(SpecialUse::Trash));
        assert_eq!(parse_role("inbox"), None);
        assert_eq!(default_name(SpecialUse::Junk), "Junk");
    }

    #[test]
    fn a_recreated_folder_plays_its_role_by_name() {
        let folders = [
            folder(1, "INBOX", None),
            folder(2, "Trash", None),
            folder(3, "Sent", Some(SpecialUse::Sent)),
            folder(4, "Sent copies", None),
        ];
        assert_eq!(role_of(&folders[1], &folders), Some(SpecialUse::Trash));
        assert_eq!(role_of(&folders[2], &folders), Some(SpecialUse::Sent));
        assert_eq!(role_of(&folders[3], &folders), None);
        assert_eq!(role_of(&folders[0], &folders), None);
        assert!(folder_with_role(&folders, SpecialUse::Junk).is_none());
    }
}
