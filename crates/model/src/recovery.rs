//! ID-10: the recovery username of an account whose hosted login address disappeared.
//!
//! The account keeps its password; the user logs in once with this username (sent by SMS and
//! to the recovery email), then must choose a new login. The digits come from the caller's
//! random source, so this module stays deterministic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Address, DirectoryError};

/// How many digits follow the initials.
pub const RECOVERY_DIGITS: usize = 6;

/// At most this many initials.
pub const MAX_RECOVERY_INITIALS: usize = 3;

/// ID-10: a recovery username such as `jd042917`.
///
/// Invariant: 1..=3 lowercase ASCII letters followed by exactly 6 ASCII digits. It contains no
/// `@`, so it can never be mistaken for a login address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecoveryUsername(String);

impl RecoveryUsername {
    /// Parses a recovery username as a user types it: surrounding spaces are ignored and
    /// letters may be in either case.
    pub fn parse(input: &str) -> Result<RecoveryUsername, DirectoryError> {
        let invalid = || DirectoryError::InvalidRecoveryUsername {
            input: input.to_owned(),
        };
        let candidate = input.trim().to_ascii_lowercase();
        let letters = candidate.bytes().take_while(u8::is_ascii_lowercase).count();
        let digits = &candidate[letters..];
        let shape_ok = (1..=MAX_RECOVERY_INITIALS).contains(&letters)
            && digits.len() == RECOVERY_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !shape_ok {
            return Err(invalid());
        }
        Ok(RecoveryUsername(candidate))
    }

    /// The canonical lowercase form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecoveryUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RecoveryUsername {
    type Err = DirectoryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        RecoveryUsername::parse(input)
    }
}

impl TryFrom<String> for RecoveryUsername {
    type Error = DirectoryError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        RecoveryUsername::parse(&input)
    }
}

impl From<RecoveryUsername> for String {
    fn from(username: RecoveryUsername) -> String {
        username.0
    }
}

/// ID-10: builds the recovery username of an account from its display name, its (vanishing)
/// login and `digits` drawn at random by the caller (reduced modulo 1 000 000, zero-padded).
///
/// Initials are the first letter of each word of the display name (words split at spaces and
/// hyphens, so "Jean-Pierre Dupont" gives `jpd`), accented Latin letters reduced to their base
/// letter; a word whose first letter has no ASCII equivalent (Cyrillic, CJK…) is skipped. With
/// more than three words, the first two and the last are kept. With no usable word, the first
/// ASCII letter of the login's local part is used, and failing that `u`.
///
/// Uniqueness is the store's business: on a collision it draws other digits.
pub fn recovery_username(display_name: &str, login: &Address, digits: u32) -> RecoveryUsername {
    let mut initials: Vec<char> = display_name
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter_map(|word| word.chars().find(|c| c.is_alphabetic()))
        .filter_map(ascii_letter)
        .collect();
    if initials.len() > MAX_RECOVERY_INITIALS {
        let last = initials[initials.len() - 1];
        initials.truncate(MAX_RECOVERY_INITIALS - 1);
        initials.push(last);
    }
    if initials.is_empty() {
        let from_login = login
            .local()
            .as_str()
            .chars()
            .find(char::is_ascii_alphabetic);
        initials.push(from_login.unwrap_or('u'));
    }
    let initials: String = initials.into_iter().collect();
    let number = digits % 1_000_000;
    RecoveryUsername(format!("{initials}{number:06}"))
}

/// The lowercase ASCII letter a Latin letter is written with when accents are dropped
/// ("É" → 'e', "ß" → 's', "Ø" → 'o'), or `None` for letters of other scripts.
fn ascii_letter(letter: char) -> Option<char> {
    if letter.is_ascii_alphabetic() {
        return Some(letter.to_ascii_lowercase());
    }
    // Latin-1 Supplement, Latin Extended-A and the Romanian comma-below letters.
    const TABLE: [(char, &str); 19] = [
        ('a', "àáâãäåāăąǎæ"),
        ('c', "çćĉċč"),
        ('d', "ďđð"),
        ('e', "èéêëēĕėęě"),
        ('g', "ĝğġģ"),
        ('h', "ĥħ"),
        ('i', "ìíîïĩīĭįıǐ"),
        ('j', "ĵ"),
        ('k', "ķ"),
        ('l', "ĺļľŀł"),
        ('n', "ñńņňŋ"),
        ('o', "òóôõöøōŏőœ"),
        ('r', "ŕŗř"),
        ('s', "śŝşšșß"),
        ('t', "ţťŧțþ"),
        ('u', "ùúûüũūŭůűų"),
        ('w', "ŵ"),
        ('y', "ýÿŷ"),
        ('z', "źżž"),
    ];
    let lower = letter.to_lowercase().next()?;
    TABLE
        .iter()
        .find(|(_, accented)| accented.contains(lower))
        .map(|(base, _)| *base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(text: &str) -> Address {
        match Address::parse(text) {
            Ok(address) => address,
            Err(error) => panic!("test address {text:?}: {error}"),
        }
    }

    #[test]
    fn id_10_initials_come_from_the_display_name() {
        let cases = [
            ("John Doe", 42_917, "jd042917"),
            ("john doe", 42_917, "jd042917"),
            ("Madonna", 1, "m000001"),
            ("Jean-Pierre Dupont", 123_456, "jpd123456"),
            ("  Anne   Marie  ", 7, "am000007"),
            ("Émile Zola", 999_999, "ez999999"),
            ("Øystein Ærø", 0, "oa000000"),
            ("Łukasz Żak", 10, "lz000010"),
            ("Ștefan Çelik", 10, "sc000010"),
            ("John Ronald Reuel Tolkien", 1, "jrt000001"),
            ("a b c d e", 1, "abe000001"),
            ("(Jean) Dupont", 1, "jd000001"),
            ("Ivan Иванов", 1, "i000001"),
            ("李 Wang", 1, "w000001"),
            ("ß", 1, "s000001"),
        ];
        for (display_name, digits, expected) in cases {
            let username = recovery_username(display_name, &login("x@example.com"), digits);
            assert_eq!(username.as_str(), expected, "display name {display_name:?}");
        }
    }

    #[test]
    fn id_10_falls_back_to_the_login_then_to_u() {
        let cases = [
            ("", "toto@abc.xyz", "t000005"),
            ("   ", "Toto@abc.xyz", "t000005"),
            ("李小龙", "42toto@abc.xyz", "t000005"),
            ("Иван Иванов", "1234@abc.xyz", "u000005"),
            ("123 456", "_@abc.xyz", "u000005"),
        ];
        for (display_name, address, expected) in cases {
            let username = recovery_username(display_name, &login(address), 5);
            assert_eq!(username.as_str(), expected, "{display_name:?} {address}");
        }
    }

    #[test]
    fn id_10_digits_are_reduced_and_zero_padded() {
        let cases = [
            (0, "jd000000"),
            (7, "jd000007"),
            (999_999, "jd999999"),
            (1_000_000, "jd000000"),
            (1_234_567, "jd234567"),
            (u32::MAX, "jd967295"),
        ];
        for (digits, expected) in cases {
            let username = recovery_username("John Doe", &login("x@example.com"), digits);
            assert_eq!(username.as_str(), expected, "digits {digits}");
        }
    }

    #[test]
    fn id_10_every_generated_username_parses_back() {
        let names = ["John Doe", "", "Émile Zola", "a b c d", "李"];
        for name in names {
            for digits in [0, 1, 999_999, u32::MAX] {
                let username = recovery_username(name, &login("x@example.com"), digits);
                assert_eq!(
                    RecoveryUsername::parse(username.as_str()),
                    Ok(username.clone())
                );
            }
        }
    }

    #[test]
    fn id_10_parse_accepts_only_initials_and_six_digits() {
        let valid = [
            ("jd042917", "jd042917"),
            ("j000000", "j000000"),
            ("abc123456", "abc123456"),
            ("JD042917", "jd042917"),
            (" jd042917 ", "jd042917"),
        ];
        for (input, expected) in valid {
            let parsed = RecoveryUsername::parse(input).map(String::from);
            assert_eq!(parsed, Ok(expected.to_owned()), "input {input:?}");
        }
        let invalid = [
            "",
            "042917",
            "jd",
            "abcd123456",
            "jd04291",
            "jd0429170",
            "jd04291x",
            "j-d042917",
            "jd 042917",
            "jd@042917",
            "é042917",
            "jd042917@example.com",
            "jd０４２９１７",
        ];
        for input in invalid {
            assert_eq!(
                RecoveryUsername::parse(input),
                Err(DirectoryError::InvalidRecoveryUsername {
                    input: input.to_owned()
                }),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn id_10_serde_validates_recovery_usernames() {
        let username = serde_json::from_str::<RecoveryUsername>("\"JD042917\"");
        assert_eq!(username.map(String::from).ok().as_deref(), Some("jd042917"));
        assert!(serde_json::from_str::<RecoveryUsername>("\"jd42\"").is_err());
    }
}
