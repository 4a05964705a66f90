//! Password hashing and generation (ID-4): Argon2id with a random salt, stored as a PHC string.
//! Nobody can read a password back; a generated password is shown once and never stored in clear.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngExt;
use zeroize::Zeroizing;

/// Shortest password accepted for a mailbox or an account.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted: Argon2 hashes anything, but a megabyte "password" is an attack.
pub const MAX_PASSWORD_LEN: usize = 256;
/// Length of generated passwords: about 119 bits from a 62-symbol alphabet, minus confusables.
const GENERATED_LEN: usize = 22;
/// Letters and digits without the look-alikes 0/O, 1/l/I, so a password read aloud survives.
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Why a password was refused or could not be hashed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Too short to resist guessing.
    #[error("the password is too short: use at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    /// Longer than we are willing to hash.
    #[error("the password is too long: use at most {MAX_PASSWORD_LEN} characters")]
    TooLong,
    /// Control characters cannot be typed reliably in every client.
    #[error("the password contains a control character")]
    ControlCharacter,
    /// The hashing library failed (our fault, not the user's).
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
}

/// Checks the policy every new password must meet.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacter);
    }
    Ok(())
}

/// Hashes a password with Argon2id (v19, OWASP parameters m=19 MiB, t=2, p=1) and a fresh salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Argon2id takes 19 MiB and tens of milliseconds of a core per call. At most this many run at
/// once in the process, whatever the number of logins arriving: a flood of them (5,000 mail
/// clients reconnecting after a restart, or an attacker) waits its turn instead of taking a
/// blocking thread and 19 MiB each (issue 10: measured at 3.5 GB for a few hundred logins at
/// once before this bound).
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new(cores.clamp(2, 16))
});

/// Runs password hashing work (`hash`, `verify`, several of them) on a blocking thread, once
/// one of the process's hashing places is free; like `spawn_blocking` otherwise.
pub async fn off_thread<T, F>(work: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The semaphore is never closed, so the permit always comes.
    let _permit = HASHING.acquire().await.ok();
    tokio::task::spawn_blocking(work).await
}

/// Checks a password against a stored PHC string. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// A random password for ADDR-1 (b): shown once to the administrator, then only its hash exists.
pub fn generate() -> Zeroizing<String> {
    let mut rng = rand::rng();
    let password: String = (0..GENERATED_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Zeroizing::new(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_4_hash_is_argon2id_and_verifies_only_the_right_password() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
    }

    #[test]
    fn id_4_same_password_gets_a_different_salt_each_time() {
        assert_ne!(
            hash("same password!").unwrap(),
            hash("same password!").unwrap()
        );
    }

    #[test]
    fn a_malformed_stored_hash_never_matches() {
        assert!(!verify("anything", "not-a-phc-string"));
        assert!(!verify("", ""));
    }

    #[test]
    fn policy_refuses_short_long_and_control_characters() {
        assert_eq!(check_policy("short"), Err(PasswordError::TooShort));
        assert_eq!(check_policy(&"x".repeat(300)), Err(PasswordError::TooLong));
        assert_eq!(
            check_policy("abcdefghij\n"),
            Err(PasswordError::ControlCharacter)
        );
        assert_eq!(check_policy("ten chars!"), Ok(()));
    }

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), GENERATED_LEN);
        assert!(check_policy(&a).is_ok());
        assert_ne!(*a, *b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
