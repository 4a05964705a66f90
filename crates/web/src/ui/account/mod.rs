//! The account's own pages (section "account"; ID-1, ID-5, ID-6, ID-10): its details and
//! recovery contact, its login, its password, two-factor authentication and its sessions.
//! Each calls the `core::Identity` / `core::ManagerAuth` method its REST twin in
//! `routes/account.rs` or `routes/session.rs` calls; core checks and words every refusal.
//!
//! ```text
//!  /account            profile.rs    name, login, contact (phone, recovery email)
//!  /account/login      login.rs      change the login; ID-10 choose one after a recovery username
//!  /account/password   password.rs   current + new; every other session ends (ID-6)
//!  /account/2fa        two_factor.rs enrol (QR code, qr.rs), confirm, recovery codes, turn off
//!  /account/sessions   sessions.rs   where the account is signed in; end one, end the others
//! ```

mod login;
mod password;
mod profile;
mod qr;
mod sessions;
mod two_factor;

use axum::Router;

use crate::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .merge(profile::routes())
        .merge(login::routes())
        .merge(password::routes())
        .merge(two_factor::routes())
        .merge(sessions::routes())
}

/// The navigation section of these pages.
const SECTION: &str = "account";

/// Unix seconds as a date and time a person reads: "27 Nov 2026, 01:53 UTC".
pub(in crate::ui) fn when(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    format!(
        "{day} {month} {year}, {:02}:{:02} UTC",
        seconds / 3600,
        seconds % 3600 / 60
    )
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(when(0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(when(1_795_312_408), "22 Nov 2026, 01:53 UTC");
        assert_eq!(when(951_782_400), "29 Feb 2000, 00:00 UTC");
    }
}
