//! ID-10: telling accounts whose hosted login address was deleted the recovery username they
//! now sign in with.

use postwerk_model::UserAccount;

use super::{Recovery, messages};
use crate::CoreError;

impl Recovery {
    /// ID-10: tells each account (whose recovery username the store set when it deleted the
    /// login address) its recovery username, by SMS and to the recovery email, whichever it
    /// has. A failure to send one is logged and the others still go.
    pub async fn issue_recovery_usernames(&self, users: &[UserAccount]) -> Result<(), CoreError> {
        for user in users {
            let Some(username) = &user.recovery_username else {
                continue;
            };
            let mut channels = Vec::new();
            if let Some(phone) = &user.phone {
                let text = messages::recovery_username_sms(&user.login, username);
                match self.notifier.sms(phone, &text).await {
                    Ok(()) => channels.push("SMS"),
                    Err(error) => tracing::warn!(
                        user = %user.id,
                        %error,
                        "the recovery username could not be sent by SMS"
                    ),
                }
            }
            if let Some(to) = &user.recovery_email {
                let email = messages::recovery_username_email(to.clone(), &user.login, username);
                match self.notifier.email(email).await {
                    Ok(()) => channels.push("email"),
                    Err(error) => tracing::warn!(
                        user = %user.id,
                        %error,
                        "the recovery username could not be sent by email"
                    ),
                }
            }
            if user.phone.is_none() && user.recovery_email.is_none() {
                tracing::warn!(
                    user = %user.id,
                    "the account has no phone and no recovery email: its recovery username \
                     cannot be sent; an administrator must tell it"
                );
            }
            if !channels.is_empty() {
                self.record(
                    user,
                    "recovery_username_issued",
                    format!("recovery username sent by {}", channels.join(" and ")),
                    None,
                );
            }
        }
        Ok(())
    }
}
