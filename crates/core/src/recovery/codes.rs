//! The reset codes themselves (ID-8): 8 random digits from the thread's CSPRNG, kept only as
//! Argon2id hashes. Hashing and checking run on blocking threads, as every Argon2 call does.

use std::sync::OnceLock;

use rand::RngExt;
use zeroize::Zeroizing;

use crate::CoreError;
use crate::password::{self, PasswordError};

/// Digits in a code: 10^8 possibilities against [`super::CODE_ATTEMPTS`] tries per code.
const CODE_DIGITS: usize = 8;

/// A fresh code, zero-padded (`00042137`).
pub(super) fn generate() -> Zeroizing<String> {
    let value = rand::rng().random_range(0..10u32.pow(CODE_DIGITS as u32));
    Zeroizing::new(format!("{value:0width$}", width = CODE_DIGITS))
}

/// The code as typed, without the spaces and dashes people add when reading it out.
pub(super) fn normalise(typed: &str) -> Zeroizing<String> {
    Zeroizing::new(
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect(),
    )
}

/// The Argon2id PHC string of a code (or of a new password that passed the policy).
pub(super) async fn hash_secret(code: Zeroizing<String>) -> Result<String, CoreError> {
    password::off_thread(move || password::hash(&code))
        .await
        .map_err(|error| CoreError::Password(PasswordError::Hashing(error.to_string())))?
        .map_err(CoreError::from)
}

/// Whether `code` matches `stored`.
pub(super) async fn verify(code: Zeroizing<String>, stored: String) -> Result<bool, CoreError> {
    password::off_thread(move || password::verify(&code, &stored))
        .await
        .map_err(|error| CoreError::Password(PasswordError::Hashing(error.to_string())))
}

/// Spends the time of one check when there is no code to check against, so that an unknown
/// login answers no faster than a known one with a wrong code.
pub(super) async fn verify_nothing(code: Zeroizing<String>) -> Result<(), CoreError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = match DUMMY.get() {
        Some(dummy) => dummy.clone(),
        None => {
            let dummy = hash_secret(Zeroizing::new("no code was sent".to_string())).await?;
            DUMMY.get_or_init(|| dummy).clone()
        }
    };
    verify(code, dummy).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_8_codes_are_eight_digits_and_differ() {
        let codes: Vec<_> = (0..20).map(|_| generate()).collect();
        for code in &codes {
            assert_eq!(code.len(), CODE_DIGITS, "{}", code.as_str());
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        let distinct: std::collections::HashSet<&str> =
            codes.iter().map(|code| code.as_str()).collect();
        assert!(distinct.len() > 15, "codes repeat too often");
    }

    #[test]
    fn id_8_a_code_read_out_with_spaces_or_dashes_still_counts() {
        assert_eq!(normalise(" 1234 5678 ").as_str(), "12345678");
        assert_eq!(normalise("1234-5678").as_str(), "12345678");
    }

    #[tokio::test]
    async fn id_8_codes_are_stored_hashed_and_verify_only_themselves() {
        let stored = hash_secret(Zeroizing::new("12345678".to_string()))
            .await
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("12345678"));
        assert!(
            verify(Zeroizing::new("12345678".into()), stored.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify(Zeroizing::new("12345679".into()), stored)
                .await
                .unwrap()
        );
    }
}
