//! ID-1: turning two-factor authentication (RFC 6238) on and off, and its recovery codes.
//!
//! ```text
//!  begin_totp ─► secret kept pending ─► confirm_totp(first code) ─► on, recovery codes shown
//!  disable_totp(password) ─► off, recovery codes deleted
//!  renew_totp_recovery_codes(password) ─► new codes, the old ones deleted
//! ```

use std::net::IpAddr;

use postwerk_model::UserId;
use postwerk_store::StoreError;
use zeroize::Zeroizing;

use super::{Identity, TOTP_RECOVERY_CODES, TotpEnrolment, totp};
use crate::CoreError;
use crate::audit::Protocol;

impl Identity {
    /// Starts an enrolment: a new random 160-bit secret, kept pending until confirmed. An
    /// account that already has 2FA must turn it off first (`Conflict`).
    pub async fn begin_totp(&self, user: UserId) -> Result<TotpEnrolment, CoreError> {
        let account = self.account(user).await?;
        if account.totp_secret.is_some() {
            return Err(CoreError::Store(StoreError::Conflict(String::from(
                "two-factor authentication is already on; turn it off first to enrol another \
                 authenticator",
            ))));
        }
        let secret = totp::new_secret();
        let otpauth_uri = totp::otpauth_uri(&secret, &account.login.to_string())?;
        self.identity.set_totp_pending(user, &secret).await?;
        Ok(TotpEnrolment {
            secret,
            otpauth_uri,
        })
    }

    /// Confirms the pending enrolment with a current code from the app; 2FA is on from now and
    /// the [`TOTP_RECOVERY_CODES`] recovery codes are answered, once (`Invalid` for a wrong
    /// code or no pending enrolment).
    pub async fn confirm_totp(
        &self,
        user: UserId,
        code: &str,
        ip: Option<IpAddr>,
    ) -> Result<Vec<Zeroizing<String>>, CoreError> {
        let account = self.account(user).await?;
        let Some(secret) = self.identity.totp_pending(user).await?.map(Zeroizing::new) else {
            return Err(CoreError::Invalid(String::from(
                "no two-factor enrolment is in progress: start one, then type the first code \
                 your authenticator app shows",
            )));
        };
        if !totp::accept(user, &secret, code, unix_now()) {
            return Err(CoreError::Invalid(String::from(
                "the code is wrong or was used already: type the code your authenticator app \
                 shows now (its clock must be right to within a minute)",
            )));
        }
        let codes = totp::new_recovery_codes(TOTP_RECOVERY_CODES);
        let hashes = totp::hash_recovery_codes(&codes).await?;
        self.identity.set_totp(user, Some(&secret), &hashes).await?;
        self.record(
            &account,
            "totp_enabled",
            format!("{TOTP_RECOVERY_CODES} recovery codes issued"),
            Protocol::Manager,
            ip,
        );
        Ok(codes)
    }

    /// Turns 2FA off; needs the account password (`Invalid` when wrong).
    pub async fn disable_totp(
        &self,
        user: UserId,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), CoreError> {
        let account = self.account(user).await?;
        self.require_password(&account, password).await?;
        // Also clears an enrolment left half-done.
        self.identity.set_totp(user, None, &[]).await?;
        if account.totp_secret.is_some() {
            self.record(
                &account,
                "totp_disabled",
                String::from("its recovery codes were deleted"),
                Protocol::Manager,
                ip,
            );
        }
        Ok(())
    }

    /// New recovery codes replacing the old ones; needs the account password.
    pub async fn renew_totp_recovery_codes(
        &self,
        user: UserId,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<Vec<Zeroizing<String>>, CoreError> {
        let account = self.account(user).await?;
        self.require_password(&account, password).await?;
        let Some(secret) = account.totp_secret.as_deref() else {
            return Err(CoreError::Invalid(String::from(
                "two-factor authentication is off, so there are no recovery codes to renew",
            )));
        };
        let codes = totp::new_recovery_codes(TOTP_RECOVERY_CODES);
        let hashes = totp::hash_recovery_codes(&codes).await?;
        self.identity.set_totp(user, Some(secret), &hashes).await?;
        self.record(
            &account,
            "totp_recovery_codes_renewed",
            format!("{TOTP_RECOVERY_CODES} new recovery codes; the old ones no longer work"),
            Protocol::Manager,
            ip,
        );
        Ok(codes)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
