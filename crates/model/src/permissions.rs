//! What a user account may do with a mailbox it has access to (ADDR-9).
//!
//! A small bit set rather than a list of booleans: it is stored in one integer column, compared
//! and combined cheaply, and unknown bits from a newer version are dropped rather than trusted.

use std::fmt;
use std::ops::BitOr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DirectoryError;

/// A set of ADDR-9 permissions over one mailbox.
///
/// Invariant: only the bits of [`Permissions::ALL`] are ever set.
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u32", into = "u32")]
pub struct Permissions(u32);

/// Names used by the CLI and the API, in bit order.
const NAMES: [(Permissions, &str); 6] = [
    (Permissions::READ_SEND, "read_send"),
    (Permissions::CHANGE_PASSWORD, "change_password"),
    (Permissions::MANAGE_ALIASES, "manage_aliases"),
    (Permissions::MANAGE_REDIRECTIONS, "manage_redirections"),
    (Permissions::MANAGE_FILTERS, "manage_filters"),
    (Permissions::MANAGE_SIGNATURES, "manage_signatures"),
];

impl Permissions {
    /// Read the mailbox and send from it (webmail access).
    pub const READ_SEND: Permissions = Permissions(1);
    /// Change the mailbox password (one of the ID-5 unification conditions).
    pub const CHANGE_PASSWORD: Permissions = Permissions(1 << 1);
    /// Add and remove aliases (ADDR-6).
    pub const MANAGE_ALIASES: Permissions = Permissions(1 << 2);
    /// Set up redirections (ADDR-5).
    pub const MANAGE_REDIRECTIONS: Permissions = Permissions(1 << 3);
    /// Manage filters and the sender allow/block lists (RCV-4).
    pub const MANAGE_FILTERS: Permissions = Permissions(1 << 4);
    /// Manage signatures.
    pub const MANAGE_SIGNATURES: Permissions = Permissions(1 << 5);
    /// Every permission.
    pub const ALL: Permissions = Permissions((1 << 6) - 1);
    /// No permission at all.
    pub const NONE: Permissions = Permissions(0);

    /// True when every permission of `other` is in `self` (so `contains(NONE)` is always true).
    pub const fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    /// Adds the permissions of `other`.
    pub fn insert(&mut self, other: Permissions) {
        self.0 |= other.0;
    }

    /// Removes the permissions of `other`.
    pub fn remove(&mut self, other: Permissions) {
        self.0 &= !other.0;
    }

    /// The permissions in either set.
    pub const fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }

    /// True when no permission is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits, for storage.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Rebuilds a set from stored bits, dropping bits this version does not know.
    pub const fn from_bits(bits: u32) -> Permissions {
        Permissions(bits & Permissions::ALL.0)
    }

    /// The names of the permissions set, in a fixed order (see [`Permissions::parse_list`]).
    pub fn names(self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(permission, _)| self.contains(*permission))
            .map(|(_, name)| *name)
            .collect()
    }

    /// Parses a comma-separated list of names such as `"read_send,change_password"`.
    ///
    /// Names are case-insensitive and may be surrounded by spaces; `all` and `none` are
    /// accepted as shorthands, and an empty list means no permission.
    pub fn parse_list(list: &str) -> Result<Permissions, DirectoryError> {
        let mut permissions = Permissions::NONE;
        for item in list
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let lowercase = item.to_ascii_lowercase();
            let found = match lowercase.as_str() {
                "all" => Some(Permissions::ALL),
                "none" => Some(Permissions::NONE),
                name => NAMES
                    .iter()
                    .find(|(_, known)| *known == name)
                    .map(|(p, _)| *p),
            };
            let Some(found) = found else {
                return Err(DirectoryError::UnknownPermission {
                    name: item.to_owned(),
                });
            };
            permissions.insert(found);
        }
        Ok(permissions)
    }
}

/// ADDR-9: a user given access gets read-and-send unless the service defaults say more.
impl Default for Permissions {
    fn default() -> Self {
        Permissions::READ_SEND
    }
}

impl BitOr for Permissions {
    type Output = Permissions;

    fn bitor(self, other: Permissions) -> Permissions {
        self.union(other)
    }
}

/// Formats as the comma-separated names that [`Permissions::parse_list`] reads back.
impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl FromStr for Permissions {
    type Err = DirectoryError;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Permissions::parse_list(list)
    }
}

impl From<u32> for Permissions {
    fn from(bits: u32) -> Self {
        Permissions::from_bits(bits)
    }
}

impl From<Permissions> for u32 {
    fn from(permissions: Permissions) -> u32 {
        permissions.bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_9_each_permission_is_its_own_bit() {
        let each = NAMES.map(|(permission, _)| permission);
        for (index, permission) in each.iter().enumerate() {
            assert_eq!(permission.bits().count_ones(), 1, "{permission:?}");
            for other in &each[index + 1..] {
                assert_eq!(
                    permission.bits() & other.bits(),
                    0,
                    "{permission:?} {other:?}"
                );
            }
        }
        let all = each.iter().fold(Permissions::NONE, |set, p| set | *p);
        assert_eq!(all, Permissions::ALL);
    }

    #[test]
    fn addr_9_default_is_read_and_send_only() {
        assert_eq!(Permissions::default(), Permissions::READ_SEND);
        assert!(!Permissions::default().contains(Permissions::CHANGE_PASSWORD));
    }

    #[test]
    fn contains_insert_remove_union() {
        let mut set = Permissions::NONE;
        assert!(set.is_empty());
        assert!(set.contains(Permissions::NONE));
        assert!(!set.contains(Permissions::READ_SEND));
        set.insert(Permissions::READ_SEND);
        set.insert(Permissions::MANAGE_FILTERS);
        assert!(set.contains(Permissions::READ_SEND));
        assert!(set.contains(Permissions::READ_SEND | Permissions::MANAGE_FILTERS));
        assert!(!set.contains(Permissions::READ_SEND | Permissions::CHANGE_PASSWORD));
        set.remove(Permissions::READ_SEND);
        assert_eq!(set, Permissions::MANAGE_FILTERS);
        set.remove(Permissions::MANAGE_ALIASES);
        assert_eq!(set, Permissions::MANAGE_FILTERS);
        assert_eq!(
            Permissions::READ_SEND
                .union(Permissions::MANAGE_SIGNATURES)
                .bits(),
            Permissions::READ_SEND.bits() | Permissions::MANAGE_SIGNATURES.bits()
        );
        assert!(Permissions::ALL.contains(Permissions::MANAGE_REDIRECTIONS));
    }

    #[test]
    fn from_bits_drops_unknown_bits() {
        assert_eq!(Permissions::from_bits(0), Permissions::NONE);
        assert_eq!(Permissions::from_bits(u32::MAX), Permissions::ALL);
        assert_eq!(Permissions::from_bits(1 << 6 | 1), Permissions::READ_SEND);
        assert_eq!(Permissions::from_bits(0b10).bits(), 0b10);
    }

    #[test]
    fn parse_list_reads_names_case_insensitively() {
        let cases = [
            ("", Permissions::NONE),
            ("none", Permissions::NONE),
            ("all", Permissions::ALL),
            ("read_send", Permissions::READ_SEND),
            (
                "read_send,change_password",
                Permissions::READ_SEND | Permissions::CHANGE_PASSWORD,
            ),
            (
                " Read_Send , MANAGE_ALIASES ",
                Permissions::READ_SEND | Permissions::MANAGE_ALIASES,
            ),
            ("manage_redirections,", Permissions::MANAGE_REDIRECTIONS),
            ("manage_filters,manage_filters", Permissions::MANAGE_FILTERS),
            ("manage_signatures,all", Permissions::ALL),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Permissions::parse_list(input),
                Ok(expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn parse_list_refuses_unknown_names() {
        let cases = [
            ("read", "read"),
            ("read_send,admin", "admin"),
            ("read send", "read send"),
        ];
        for (input, unknown) in cases {
            assert_eq!(
                Permissions::parse_list(input),
                Err(DirectoryError::UnknownPermission {
                    name: unknown.to_owned()
                }),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn names_and_display_round_trip_through_parse_list() {
        assert_eq!(Permissions::NONE.names(), Vec::<&str>::new());
        assert_eq!(
            (Permissions::READ_SEND | Permissions::MANAGE_SIGNATURES).names(),
            ["read_send", "manage_signatures"]
        );
        assert_eq!(Permissions::ALL.names().len(), 6);
        for bits in 0..=Permissions::ALL.bits() {
            let set = Permissions::from_bits(bits);
            assert_eq!(
                set.to_string().parse::<Permissions>(),
                Ok(set),
                "bits {bits}"
            );
        }
    }

    #[test]
    fn serde_stores_the_bits_and_drops_unknown_ones() {
        let set = Permissions::READ_SEND | Permissions::CHANGE_PASSWORD;
        assert_eq!(serde_json::to_string(&set).ok().as_deref(), Some("3"));
        assert_eq!(serde_json::from_str::<Permissions>("3").ok(), Some(set));
        assert_eq!(
            serde_json::from_str::<Permissions>("4294967295").ok(),
            Some(Permissions::ALL)
        );
    }
}
