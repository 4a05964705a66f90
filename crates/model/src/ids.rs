//! Database identifiers as distinct types, so a [`UserId`] can never be passed where an
//! [`AddressId`] is expected.
//!
//! The number inside is assigned by the store; the model never invents one.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Copy, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                input.parse().map($name)
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                $name(raw)
            }
        }
    };
}

id_type!(
    /// Identifies an [`Organization`](crate::Organization).
    OrgId
);
id_type!(
    /// Identifies a [`UserAccount`](crate::UserAccount).
    UserId
);
id_type!(
    /// Identifies a [`MailService`](crate::MailService).
    ServiceId
);
id_type!(
    /// Identifies a [`HostedAddress`](crate::HostedAddress), and so the mailbox behind it.
    AddressId
);
id_type!(
    /// Identifies an [`Alias`](crate::Alias).
    AliasId
);
id_type!(
    /// Identifies a folder of a mailbox.
    FolderId
);
id_type!(
    /// Identifies an [`Invitation`](crate::Invitation).
    InvitationId
);
id_type!(
    /// Identifies an API token of the Manager's REST API.
    ApiTokenId
);
id_type!(
    /// Identifies a signed-in session of a user account (Manager or webmail).
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_as_the_bare_number() {
        assert_eq!(OrgId(7).to_string(), "7");
        assert_eq!(AddressId(-3).to_string(), "-3");
        assert_eq!(InvitationId(i64::MAX).to_string(), i64::MAX.to_string());
    }

    #[test]
    fn ids_parse_back_from_their_display() {
        for raw in [0, 1, -1, 42, i64::MIN, i64::MAX] {
            let id = UserId(raw);
            assert_eq!(id.to_string().parse::<UserId>(), Ok(id));
        }
        assert!("x".parse::<ServiceId>().is_err());
        assert!("".parse::<FolderId>().is_err());
    }

    #[test]
    fn ids_serialise_as_plain_numbers() {
        assert_eq!(
            serde_json::to_string(&AliasId(12)).ok().as_deref(),
            Some("12")
        );
        assert_eq!(
            serde_json::from_str::<AliasId>("12").ok(),
            Some(AliasId(12))
        );
    }
}
