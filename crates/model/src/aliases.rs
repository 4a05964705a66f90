//! ADDR-6: aliases of an address.

use crate::{DirectoryError, ServiceFeatures};

/// ADDR-6: an address has at most this many aliases.
pub const MAX_ALIASES_PER_ADDRESS: usize = 50;

/// ADDR-6: whether an address that already has `existing` aliases may get one more; the 51st
/// is refused.
pub fn check_alias_limit(existing: usize) -> Result<(), DirectoryError> {
    if existing >= MAX_ALIASES_PER_ADDRESS {
        return Err(DirectoryError::AliasLimitReached);
    }
    Ok(())
}

/// ADDR-6: the whole check before adding an alias: the service's plan must allow aliases, then
/// the per-address limit applies.
pub fn check_new_alias(features: &ServiceFeatures, existing: usize) -> Result<(), DirectoryError> {
    if !features.aliases_allowed {
        return Err(DirectoryError::AliasesNotAllowed);
    }
    check_alias_limit(existing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_6_fifty_aliases_are_allowed_and_the_51st_refused() {
        for existing in 0..MAX_ALIASES_PER_ADDRESS {
            assert_eq!(check_alias_limit(existing), Ok(()), "existing {existing}");
        }
        for existing in [50, 51, 1000, usize::MAX] {
            assert_eq!(
                check_alias_limit(existing),
                Err(DirectoryError::AliasLimitReached)
            );
        }
        assert_eq!(MAX_ALIASES_PER_ADDRESS, 50);
    }

    #[test]
    fn addr_6_the_refusal_says_what_the_limit_is() {
        assert_eq!(
            check_alias_limit(50).map_err(|e| e.to_string()),
            Err("an address can have at most 50 aliases".to_owned())
        );
    }

    #[test]
    fn addr_6_aliases_need_the_service_feature() {
        let allowed = ServiceFeatures::default();
        let disabled = ServiceFeatures {
            aliases_allowed: false,
            filters: Default::default(),
        };
        assert!(allowed.aliases_allowed);
        assert_eq!(check_new_alias(&allowed, 0), Ok(()));
        assert_eq!(check_new_alias(&allowed, 49), Ok(()));
        assert_eq!(
            check_new_alias(&allowed, 50),
            Err(DirectoryError::AliasLimitReached)
        );
        assert_eq!(
            check_new_alias(&disabled, 0),
            Err(DirectoryError::AliasesNotAllowed)
        );
        assert_eq!(
            check_new_alias(&disabled, 50),
            Err(DirectoryError::AliasesNotAllowed)
        );
    }
}
