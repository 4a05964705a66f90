//! ID-9: phone numbers as the directory compares them.

/// The phone number reduced to what identifies it: its ASCII digits, with a leading `+` kept
/// when the number starts with one, so "+41 79 123 45 67" and "+41791234567" are the same
/// number. `None` when no digit is left.
pub fn phone_key(phone: &str) -> Option<String> {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(if trimmed.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

#[cfg(test)]
mod tests {
    use super::phone_key;

    #[test]
    fn id_9_phone_keys_ignore_formatting_and_keep_the_leading_plus() {
        let cases = [
            ("+41 79 123 45 67", Some("+41791234567")),
            ("  +41791234567 ", Some("+41791234567")),
            ("+41 (0)79-123.45.67", Some("+410791234567")),
            ("079 123 45 67", Some("0791234567")),
            ("41 + 79", Some("4179")),
            ("", None),
            ("  + ", None),
            ("phone", None),
            // Digits of other scripts are not ASCII digits: they never match a typed number.
            ("٠١٢", None),
        ];
        for (phone, key) in cases {
            assert_eq!(phone_key(phone).as_deref(), key, "phone {phone:?}");
        }
    }
}
