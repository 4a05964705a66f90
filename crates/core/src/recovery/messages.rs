//! The words of every recovery message (ID-8, ID-9, ID-10), by email and by SMS. SMS texts
//! stay short (one 160-character segment where possible); emails say what to do when the
//! person did not ask.

use postwerk_model::{Address, RecoveryUsername};

use super::CODE_LIFETIME_SECS;
use crate::notify::Notification;

const IGNORE: &str =
    "If you did not ask for this, ignore this message; your password is unchanged.";

fn lifetime_minutes() -> i64 {
    CODE_LIFETIME_SECS / 60
}

/// ID-8: the reset code by email.
pub(super) fn reset_code_email(to: Address, login: &Address, code: &str) -> Notification {
    Notification {
        to,
        subject: "Your Postwerk password reset code".to_string(),
        text: format!(
            "Someone asked to reset the password of the Postwerk account {login}.\n\n\
             Your reset code is: {code}\n\n\
             It works once, for {minutes} minutes.\n\n\
             {IGNORE}\n",
            minutes = lifetime_minutes()
        ),
    }
}

/// ID-8: the reset code by SMS.
pub(super) fn reset_code_sms(code: &str) -> String {
    format!(
        "Postwerk password reset code: {code} (valid {} min). Not you? Ignore this.",
        lifetime_minutes()
    )
}

/// ID-8: the security notice after a reset.
pub(super) fn password_reset_notice(to: Address, login: &Address) -> Notification {
    Notification {
        to,
        subject: "Your Postwerk password was reset".to_string(),
        text: format!(
            "The password of the Postwerk account {login} was just reset with a recovery code, \
             and every session of the account was signed out.\n\n\
             If this was not you, someone can read your recovery codes: contact your \
             administrator at once.\n"
        ),
    }
}

/// ID-9: the forgotten login by email.
pub(super) fn login_reminder_email(to: Address, login: &Address) -> Notification {
    Notification {
        to,
        subject: "Your Postwerk login".to_string(),
        text: format!(
            "Someone asked which login belongs to this phone number and recovery address.\n\n\
             Your Postwerk login is: {login}\n\n\
             If you did not ask for this, ignore this message; nothing has changed.\n"
        ),
    }
}

/// ID-9: the forgotten login by SMS.
pub(super) fn login_reminder_sms(login: &Address) -> String {
    format!("Your Postwerk login is {login}. Not you? Ignore this.")
}

/// ID-10: the recovery username by email.
pub(super) fn recovery_username_email(
    to: Address,
    login: &Address,
    username: &RecoveryUsername,
) -> Notification {
    Notification {
        to,
        subject: "Your Postwerk login address was deleted".to_string(),
        text: format!(
            "The address {login}, which was the login of your Postwerk account, was deleted.\n\n\
             Your account still exists. Sign in with the recovery username {username} and your \
             unchanged password, then choose a new login address.\n"
        ),
    }
}

/// ID-10: the recovery username by SMS.
pub(super) fn recovery_username_sms(login: &Address, username: &RecoveryUsername) -> String {
    format!(
        "Postwerk: your login {login} was deleted. Sign in with username {username} and your \
         unchanged password, then choose a new login."
    )
}
