//! The account's own details: its login (ID-1, ID-10) and the contact details recovery uses
//! (ID-8, ID-9).

use std::net::IpAddr;

use postwerk_model::{Address, UserAccount, UserId};
use postwerk_store::StoreError;

use super::Identity;
use crate::CoreError;
use crate::audit::{Change, Owners, Protocol};

/// E.164 allows at most 15 digits; fewer than 6 is no reachable number anywhere.
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;

impl Identity {
    /// Changes the account's login. The current password is needed, except right after a
    /// sign-in with a recovery username (`must_choose_login`, ID-10), where choosing a new
    /// login is the one thing the account may do. `Invalid` for a login that is taken (said
    /// without revealing whose), or for a hosted address that does not exist.
    pub async fn change_login(
        &self,
        user: UserId,
        new_login: &str,
        password: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<UserAccount, CoreError> {
        let account = self.account(user).await?;
        if !account.must_choose_login {
            let Some(password) = password else {
                return Err(CoreError::Invalid(String::from(
                    "give the password of your account to change its login",
                )));
            };
            self.require_password(&account, password).await?;
        }
        let login = Address::parse(new_login.trim())?;
        if login == account.login && !account.must_choose_login {
            return Ok(account);
        }
        // A login in one of our domains must be a real address there, or mail about the
        // account (and ID-10 if it is deleted later) would go nowhere.
        let hosted_domain = self
            .directory
            .service_by_domain(login.domain())
            .await?
            .is_some();
        if hosted_domain && self.directory.address_by_address(&login).await?.is_none() {
            return Err(CoreError::Invalid(format!(
                "{login} is in a domain served here but is no existing address: choose an \
                 existing address, or one hosted elsewhere"
            )));
        }
        let was_unified = self.unified_mailbox_row(user).await?;
        match self.identity.set_user_login(user, &login).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(CoreError::Invalid(String::from(
                    "this login is taken: choose another one",
                )));
            }
            Err(error) => return Err(error.into()),
        }
        self.record(
            &account,
            "login_changed",
            format!("from {} to {login}", account.login),
            Protocol::Manager,
            ip,
        );
        if let Some(mailbox) = was_unified {
            // The store ended it with the change: ID-5 (a) no longer holds.
            let org = self
                .directory
                .service(mailbox.service)
                .await?
                .map(|s| s.org);
            self.audit.change(Change {
                protocol: Protocol::Manager,
                ip,
                actor: login.to_string(),
                subject: mailbox.address.to_string(),
                event: "unification_ended",
                detail: format!(
                    "the login is no longer {}, so the two passwords are separate again",
                    mailbox.address
                ),
                owners: Owners {
                    user: Some(user),
                    address: Some(mailbox.id),
                    org,
                },
            });
        }
        self.account(user).await
    }

    /// Sets the mobile phone number and the recovery email address (ID-8, ID-9); `None`
    /// removes one. A phone number must have 6 to 15 digits (E.164), `+` and spaces allowed.
    pub async fn set_contact(
        &self,
        user: UserId,
        phone: Option<&str>,
        recovery_email: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<UserAccount, CoreError> {
        let account = self.account(user).await?;
        let phone = phone
            .map(str::trim)
            .filter(|phone| !phone.is_empty())
            .map(check_phone)
            .transpose()?;
        let recovery_email = recovery_email
            .map(str::trim)
            .filter(|email| !email.is_empty())
            .map(Address::parse)
            .transpose()?;
        self.identity
            .set_user_contact(user, phone, recovery_email.as_ref())
            .await?;
        let said = |set: bool| if set { "set" } else { "removed" };
        self.record(
            &account,
            "contact_changed",
            format!(
                "phone number {}, recovery email {}",
                said(phone.is_some()),
                said(recovery_email.is_some())
            ),
            Protocol::Manager,
            ip,
        );
        self.account(user).await
    }
}

/// A phone number as a person types it: an optional leading `+`, then digits with spaces,
/// dashes or dots between them; 6 to 15 digits (E.164).
fn check_phone(phone: &str) -> Result<&str, CoreError> {
    let rest = phone.strip_prefix('+').unwrap_or(phone);
    let allowed = rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.'));
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    if allowed && PHONE_DIGITS.contains(&digits) {
        Ok(phone)
    } else {
        Err(CoreError::Invalid(format!(
            "{phone} is not a phone number: write it with its country code, 6 to 15 digits, \
             such as +41 79 123 45 67"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::check_phone;

    #[test]
    fn phone_numbers_as_people_type_them() {
        for good in [
            "+41 79 123 45 67",
            "+41791234567",
            "079-123.45.67",
            "123456",
        ] {
            assert_eq!(check_phone(good).unwrap(), good);
        }
        for bad in [
            "12345",
            "+1234567890123456",
            "call me",
            "+41 (79) 123",
            "++41791234567",
        ] {
            assert!(check_phone(bad).is_err(), "{bad}");
        }
    }
}
