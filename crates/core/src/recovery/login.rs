//! ID-9: a forgotten login, found from the phone number (and the recovery email when several
//! accounts share the number), sent by the channel the person picks.

use std::net::IpAddr;
use std::time::Instant;

use postwerk_model::{Address, UserAccount, phone_key};
use postwerk_store::Channel;

use super::{Recovery, ResetRefusal, messages};
use crate::CoreError;
use crate::auth::Admission;

/// Fewest digits of a phone number worth looking up (E.164 numbers have 6 to 15).
const MIN_PHONE_DIGITS: usize = 6;

impl Recovery {
    /// ID-9: when exactly one account has this phone number (and, when several do, this
    /// recovery email), sends its login by `channel` (SMS to that phone, or to the recovery
    /// email). Answers the same in every case.
    pub async fn remind_login(
        &self,
        phone: &str,
        recovery_email: Option<&str>,
        channel: Channel,
        ip: IpAddr,
    ) -> Result<Result<(), ResetRefusal>, CoreError> {
        if self.limiter.admit(ip, Instant::now()) == Admission::Refuse {
            return Ok(Err(ResetRefusal::Throttled));
        }
        let Some(user) = self.account_by_phone(phone, recovery_email).await? else {
            return Ok(Ok(()));
        };
        // Beyond the cap nothing is sent, and the answer stays the same.
        if !self.reminders.allow(&user.id.to_string(), Instant::now()) {
            return Ok(Ok(()));
        }
        let delivered = match channel {
            Channel::Sms => match &user.phone {
                Some(phone) => {
                    self.notifier
                        .sms(phone, &messages::login_reminder_sms(&user.login))
                        .await
                }
                None => return Ok(Ok(())),
            },
            Channel::Email => match &user.recovery_email {
                Some(to) => {
                    self.notifier
                        .email(messages::login_reminder_email(to.clone(), &user.login))
                        .await
                }
                None => return Ok(Ok(())),
            },
        };
        match delivered {
            Ok(()) => self.record(
                &user,
                "login_reminder_sent",
                format!("login sent by {}", channel.as_str()),
                Some(ip),
            ),
            // An error answer would tell the caller the number is an account's.
            Err(error) => tracing::warn!(
                user = %user.id,
                channel = channel.as_str(),
                %error,
                "a login reminder could not be sent"
            ),
        }
        Ok(Ok(()))
    }

    /// The one account these details identify: the only one with the phone number, or, among
    /// several, the only one whose recovery email is `recovery_email`.
    pub(super) async fn account_by_phone(
        &self,
        phone: &str,
        recovery_email: Option<&str>,
    ) -> Result<Option<UserAccount>, CoreError> {
        // Too few digits to be anybody's number (E.164 numbers have 6 to 15).
        let Some(phone) = phone_key(phone)
            .filter(|key| key.bytes().filter(u8::is_ascii_digit).count() >= MIN_PHONE_DIGITS)
        else {
            return Ok(None);
        };
        let mut candidates = self.identity_store.users_by_phone(&phone).await?;
        if candidates.len() > 1 {
            let email = recovery_email.and_then(|email| email.trim().parse::<Address>().ok());
            candidates.retain(|user| email.is_some() && user.recovery_email == email);
        }
        Ok(match candidates.len() {
            1 => candidates.pop(),
            _ => None,
        })
    }
}
