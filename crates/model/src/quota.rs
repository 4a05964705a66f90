//! SVC-2: the quota of addresses of a mail service.

use crate::DirectoryError;

/// SVC-2: whether one more address may be created when `in_use` exist and the quota is
/// `quota`. Refused once the quota is reached (`in_use >= quota`), so a quota of 0 allows none.
///
/// Use [`MailService::check_address_quota`](crate::MailService::check_address_quota) when the
/// service is at hand: its error names the domain.
pub fn check_address_quota(in_use: u32, quota: u32) -> Result<(), DirectoryError> {
    if in_use >= quota {
        return Err(DirectoryError::AddressQuotaReached {
            domain: None,
            quota,
        });
    }
    Ok(())
}

/// SVC-2: whether `n` more addresses fit, for bulk creation (ADDR-3), which checks the whole
/// file before creating anything.
pub fn check_address_quota_for(in_use: u32, quota: u32, n: u32) -> Result<(), DirectoryError> {
    if u64::from(in_use) + u64::from(n) > u64::from(quota) {
        return Err(DirectoryError::AddressQuotaReached {
            domain: None,
            quota,
        });
    }
    Ok(())
}

/// SVC-2: an administrator may raise or lower the quota, never below what is in use.
pub fn check_quota_change(new_quota: u32, in_use: u32) -> Result<(), DirectoryError> {
    if new_quota < in_use {
        return Err(DirectoryError::QuotaBelowUsage { new_quota, in_use });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svc_2_creation_is_refused_once_the_quota_is_reached() {
        let cases = [
            (0, 0, false),
            (0, 1, true),
            (4, 5, true),
            (5, 5, false),
            (6, 5, false),
            (0, u32::MAX, true),
            (u32::MAX - 1, u32::MAX, true),
            (u32::MAX, u32::MAX, false),
        ];
        for (in_use, quota, allowed) in cases {
            let result = check_address_quota(in_use, quota);
            assert_eq!(result.is_ok(), allowed, "in_use {in_use} quota {quota}");
            if !allowed {
                assert_eq!(
                    result,
                    Err(DirectoryError::AddressQuotaReached {
                        domain: None,
                        quota
                    })
                );
            }
        }
    }

    #[test]
    fn svc_2_the_refusal_names_the_service_and_its_quota() {
        let message = check_address_quota(5, 5).map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err(
                "the mail service has reached its quota of 5 addresses; an administrator can \
                 raise it"
                    .to_owned()
            )
        );
    }

    #[test]
    fn svc_2_bulk_creation_checks_the_whole_batch() {
        let cases = [
            (0, 10, 10, true),
            (0, 10, 11, false),
            (3, 10, 7, true),
            (3, 10, 8, false),
            (10, 10, 0, true),
            (u32::MAX, u32::MAX, 1, false),
            (1, u32::MAX, u32::MAX, false),
        ];
        for (in_use, quota, n, allowed) in cases {
            let result = check_address_quota_for(in_use, quota, n);
            assert_eq!(
                result.is_ok(),
                allowed,
                "in_use {in_use} quota {quota} n {n}"
            );
        }
    }

    #[test]
    fn svc_2_quota_never_goes_below_what_is_in_use() {
        let cases = [
            (5, 5, true),
            (6, 5, true),
            (4, 5, false),
            (0, 0, true),
            (0, 1, false),
        ];
        for (new_quota, in_use, allowed) in cases {
            let result = check_quota_change(new_quota, in_use);
            assert_eq!(result.is_ok(), allowed, "new {new_quota} in use {in_use}");
            if !allowed {
                assert_eq!(
                    result,
                    Err(DirectoryError::QuotaBelowUsage { new_quota, in_use })
                );
            }
        }
        assert_eq!(
            check_quota_change(3, 5).map_err(|e| e.to_string()),
            Err(
                "the quota cannot be lowered to 3 addresses because 5 addresses are in use; \
                 delete some first"
                    .to_owned()
            )
        );
    }
}
