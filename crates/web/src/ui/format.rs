//! How every page writes dates and sizes. Pages carry no time zone of the reader, so times are
//! written in UTC, which is unambiguous; the calendar arithmetic is done here once so the pages
//! need no date crate.

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Unix seconds as a sortable date and time: `2026-11-27 09:05 UTC` (mail lists, the console's
/// tables, the audit log).
pub fn date_time(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let (hour, minute) = hour_minute(unix);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// Unix seconds as a date: `2026-11-27`.
pub fn date(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Unix seconds as a date and time written the way people write them: `27 Nov 2026, 01:53 UTC`
/// (the account's sessions, an invitation's expiry).
pub fn day_month_time(unix: i64) -> String {
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let month = MONTHS[usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11)];
    let (hour, minute) = hour_minute(unix);
    format!("{day} {month} {year}, {hour:02}:{minute:02} UTC")
}

/// The hour and minute (UTC) of Unix seconds.
fn hour_minute(unix: i64) -> (i64, i64) {
    let seconds = unix.rem_euclid(86_400);
    (seconds / 3600, seconds % 3600 / 60)
}

/// Year, month (1–12), day (1–31) of a count of days since 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The size of a message or a file, in binary units as mail programs show them: `812 bytes`,
/// `12 KB` (rounded up, so a small file never reads as 0 KB), `3.4 MB`.
pub fn file_size(octets: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * KB;
    if octets < KB {
        format!("{octets} bytes")
    } else if octets < MB {
        format!("{} KB", octets.div_ceil(KB))
    } else {
        format!("{}.{} MB", octets / MB, (octets % MB) * 10 / MB)
    }
}

/// A storage limit in decimal units, the ones [`parse_storage_size`] reads back: `1.5 GB`.
pub fn storage_size(octets: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = octets as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{octets} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Reads a storage size typed as `500 MB`, `2GB`, `1.5 GB` or a plain number of megabytes;
/// `None` when it is not a size of at least one byte.
pub fn parse_storage_size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim() {
        "" | "mb" | "m" => 1e6,
        "kb" | "k" => 1e3,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "b" | "bytes" => 1.0,
        _ => return None,
    };
    let octets = number * factor;
    if !octets.is_finite() || !(1.0..=1e18).contains(&octets) {
        return None;
    }
    Some(octets.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_utc() {
        assert_eq!(date_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(date_time(1_795_744_407), "2026-11-27 01:53 UTC");
        assert_eq!(date_time(1_795_744_800), "2026-11-27 02:00 UTC");
        assert_eq!(date(951_782_400), "2000-02-29");
    }

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(day_month_time(0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(day_month_time(1_795_312_408), "22 Nov 2026, 01:53 UTC");
        assert_eq!(day_month_time(951_782_400), "29 Feb 2000, 00:00 UTC");
    }

    #[test]
    fn file_sizes_are_binary_and_never_zero() {
        assert_eq!(file_size(812), "812 bytes");
        assert_eq!(file_size(1025), "2 KB");
        assert_eq!(file_size(3 * 1024 * 1024 + 400 * 1024), "3.3 MB");
    }

    #[test]
    fn storage_sizes_are_read_and_written_in_words() {
        assert_eq!(parse_storage_size("500 MB"), Some(500_000_000));
        assert_eq!(parse_storage_size("1.5gb"), Some(1_500_000_000));
        assert_eq!(parse_storage_size("20"), Some(20_000_000));
        assert_eq!(parse_storage_size("lots"), None);
        assert_eq!(parse_storage_size("0"), None);
        assert_eq!(storage_size(1_500_000_000), "1.5 GB");
        assert_eq!(storage_size(12), "12 bytes");
    }
}
