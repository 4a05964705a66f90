//! ID-8: a forgotten account password, reset with a code sent to the recovery email or by SMS.

use std::net::IpAddr;
use std::time::Instant;

use postwerk_model::UserAccount;
use postwerk_store::{Channel, NewRecoveryCode, RecoveryCode, RecoveryPurpose};
use zeroize::Zeroizing;

use super::{
    CODE_ATTEMPTS, CODE_LIFETIME_SECS, CODES_PER_HOUR, Recovery, ResetRefusal, codes, messages,
    unix_now,
};
use crate::CoreError;
use crate::audit::Protocol;
use crate::auth::Admission;
use crate::password;

const PURPOSE: RecoveryPurpose = RecoveryPurpose::PasswordReset;

impl Recovery {
    /// ID-8, step 1: sends a reset code to the account's recovery email or phone, when the
    /// login (or recovery username) is an account's and it has that channel. Answers the same
    /// in every case; `Throttled` only when the client address is locked out.
    pub async fn start_password_reset(
        &self,
        login: &str,
        channel: Channel,
        ip: IpAddr,
    ) -> Result<Result<(), ResetRefusal>, CoreError> {
        if self.limiter.admit(ip, Instant::now()) == Admission::Refuse {
            return Ok(Err(ResetRefusal::Throttled));
        }
        // Hashed before anything is looked up, so an unknown login costs the same Argon2 time.
        let code = codes::generate();
        let code_hash = codes::hash_secret(code.clone()).await?;
        let Some(user) = self.account_by_login(login).await? else {
            return Ok(Ok(()));
        };
        let now = unix_now();
        let sent = self
            .identity_store
            .recovery_codes_sent_since(user.id, PURPOSE, now - 3600)
            .await?;
        if sent >= CODES_PER_HOUR {
            // Nobody gets flooded with codes; the answer says nothing of it.
            tracing::info!(user = %user.id, "recovery code not sent: hourly limit reached");
            return Ok(Ok(()));
        }
        let destination = match (channel, &user.recovery_email, &user.phone) {
            (Channel::Email, Some(email), _) => Destination::Email(email.clone()),
            (Channel::Sms, _, Some(phone)) => Destination::Phone(phone.clone()),
            _ => return Ok(Ok(())),
        };
        self.identity_store
            .create_recovery_code(NewRecoveryCode {
                user: user.id,
                purpose: PURPOSE,
                channel,
                code_hash,
                created_at: now,
                expires_at: now + CODE_LIFETIME_SECS,
            })
            .await?;
        let delivered = match destination {
            Destination::Email(to) => {
                self.notifier
                    .email(messages::reset_code_email(to, &user.login, &code))
                    .await
            }
            Destination::Phone(phone) => {
                self.notifier
                    .sms(&phone, &messages::reset_code_sms(&code))
                    .await
            }
        };
        match delivered {
            Ok(()) => self.record(
                &user,
                "recovery_code_sent",
                format!("password reset code sent by {}", channel.as_str()),
                Some(ip),
            ),
            // An error answer would tell the caller the account exists: logged, not answered.
            Err(error) => tracing::warn!(
                user = %user.id,
                channel = channel.as_str(),
                %error,
                "a password reset code could not be sent"
            ),
        }
        Ok(Ok(()))
    }

    /// ID-8, step 2: with a live code, sets the new password (`None` generates one, answered
    /// once). Every session of the account ends; a unified mailbox follows (ID-5).
    pub async fn finish_password_reset(
        &self,
        login: &str,
        code: &str,
        new_password: Option<&str>,
        ip: IpAddr,
    ) -> Result<Result<Option<Zeroizing<String>>, ResetRefusal>, CoreError> {
        if self.limiter.admit(ip, Instant::now()) == Admission::Refuse {
            return Ok(Err(ResetRefusal::Throttled));
        }
        // A password the policy refuses is said before the code is spent, so it can be retried.
        let (secret, generated) = match new_password {
            Some(chosen) => {
                password::check_policy(chosen)?;
                (Zeroizing::new(chosen.to_string()), None)
            }
            None => {
                let generated = password::generate();
                (generated.clone(), Some(generated))
            }
        };
        let typed = codes::normalise(code);
        let Some((user, stored)) = self.live_code(login).await? else {
            codes::verify_nothing(typed).await?;
            return Ok(Err(self.refuse(ip)));
        };
        let matches = stored.attempts < CODE_ATTEMPTS
            && codes::verify(typed, stored.code_hash.clone()).await?;
        if !matches {
            self.identity_store
                .count_recovery_attempt(stored.id)
                .await?;
            return Ok(Err(self.refuse(ip)));
        }
        let now = unix_now();
        if !self
            .identity_store
            .use_recovery_code(stored.id, now)
            .await?
        {
            // Another request spent it first.
            return Ok(Err(self.refuse(ip)));
        }
        self.limiter.succeed(ip);
        let hash = codes::hash_secret(secret).await?;
        self.identity
            .store_account_password(user.id, &hash, None, Protocol::Recovery, Some(ip))
            .await?;
        self.record(
            &user,
            "password_reset",
            format!(
                "password reset with a code sent by {}",
                stored.channel.as_str()
            ),
            Some(ip),
        );
        self.send_reset_notice(&user).await;
        Ok(Ok(generated))
    }

    /// The account named by `login` and its live reset code, if both exist.
    async fn live_code(
        &self,
        login: &str,
    ) -> Result<Option<(UserAccount, RecoveryCode)>, CoreError> {
        let Some(user) = self.account_by_login(login).await? else {
            return Ok(None);
        };
        let code = self
            .identity_store
            .live_recovery_code(user.id, PURPOSE, unix_now())
            .await?;
        Ok(code.map(|code| (user, code)))
    }

    /// A wrong, missing or spent code: counted as a failed login of the client address.
    fn refuse(&self, ip: IpAddr) -> ResetRefusal {
        self.limiter.fail(ip, Instant::now());
        ResetRefusal::InvalidCode
    }

    /// Tells the account's recovery address that its password was reset, so a reset by
    /// someone else does not go unnoticed.
    async fn send_reset_notice(&self, user: &UserAccount) {
        let Some(to) = user.recovery_email.clone() else {
            return;
        };
        let notice = messages::password_reset_notice(to, &user.login);
        if let Err(error) = self.notifier.email(notice).await {
            tracing::warn!(user = %user.id, %error, "the password reset notice could not be sent");
        }
    }
}

/// Where a code goes.
enum Destination {
    Email(postwerk_model::Address),
    Phone(String),
}
