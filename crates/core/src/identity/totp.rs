//! RFC 6238 two-factor codes (ID-1), shared by the enrolment ([`super::Identity`]) and the
//! sign-in ([`crate::ManagerAuth`]): the generator of a stored secret, new secrets and their
//! `otpauth://` URI, the table of time steps already used, and the single-use recovery codes
//! that replace a code when the authenticator is lost.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use postwerk_model::UserId;
use rand::RngExt;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::CoreError;
use crate::password;

/// RFC 6238 §5.2 recommends a 30 s time step and at most one step of clock skew.
pub(crate) const STEP_SECS: u64 = 30;
const SKEW_STEPS: u16 = 1;
const DIGITS: u8 = 6;

/// The issuer authenticator apps show above the code.
const ISSUER: &str = "Postwerk";

/// Crockford's base32 alphabet in lower case: no `i`, `l`, `o` or `u`, so a code copied from
/// paper is not misread. Each character carries 5 bits; a code of [`RECOVERY_GROUPS`] groups of
/// [`RECOVERY_GROUP_LEN`] carries 50 random bits, hashed with Argon2id at rest.
const RECOVERY_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RECOVERY_GROUP_LEN: usize = 5;
const RECOVERY_GROUPS: usize = 2;

/// The RFC 6238 generator of a base32 secret (spaces, padding and case as authenticator apps
/// show them are tolerated); `None` when it does not decode to any bytes.
pub(crate) fn generator(secret: &str) -> Option<Totp> {
    let key = Secret::try_from_base32(normalized_secret(secret)).ok()?;
    if key.as_bytes().is_empty() {
        return None;
    }
    // Not `build()`: it refuses secrets under 128 bits, and enrolled authenticators with the
    // 80-bit secrets many services issued must keep working. The fixed parameters are the
    // ones `build()` would check.
    Some(builder().with_secret(key).build_noncompliant())
}

/// A new random 160-bit secret (RFC 4226 §4 recommends 160), base32 without padding.
pub(crate) fn new_secret() -> Zeroizing<String> {
    Zeroizing::new(Secret::generate().to_base32())
}

/// The `otpauth://totp/Postwerk:<login>?secret=…&issuer=Postwerk` URI that the enrolment's QR
/// code encodes.
pub(crate) fn otpauth_uri(secret: &str, login: &str) -> Result<Zeroizing<String>, CoreError> {
    let key = Secret::try_from_base32(normalized_secret(secret))
        .map_err(|_| not_configurable("the new secret is not valid base32"))?;
    let totp = builder()
        .with_secret(key)
        .with_issuer(Some(ISSUER))
        .with_account_name(login)
        .build()
        .map_err(|error| not_configurable(&error.to_string()))?;
    totp.to_url()
        .map(Zeroizing::new)
        .map_err(|error| not_configurable(&error.to_string()))
}

/// RFC 6238 check of `code` against `secret`, accepting each time step once per account and
/// secret (§5.2: "the verifier MUST NOT accept the second attempt of the same OTP").
pub(crate) fn accept(user: UserId, secret: &str, code: &str, now: u64) -> bool {
    let Some(totp) = generator(secret) else {
        tracing::warn!(
            user = user.0,
            "a stored TOTP secret is not valid base32; two-factor code refused"
        );
        return false;
    };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(step) = totp.check(&code, now) else {
        return false;
    };
    USED_STEPS.claim(user, secret, step, now)
}

/// True when `code` has the shape of an authenticator code (six digits, spaces ignored);
/// anything else typed in its place is taken for a recovery code.
pub(crate) fn looks_like_code(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == usize::from(DIGITS) && digits.iter().all(char::is_ascii_digit)
}

/// `count` new recovery codes such as `k3x9q-7mzpa`, from the thread's CSPRNG.
pub(crate) fn new_recovery_codes(count: usize) -> Vec<Zeroizing<String>> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let groups: Vec<String> = (0..RECOVERY_GROUPS)
                .map(|_| {
                    (0..RECOVERY_GROUP_LEN)
                        .map(|_| {
                            char::from(
                                RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())],
                            )
                        })
                        .collect()
                })
                .collect();
            Zeroizing::new(groups.join("-"))
        })
        .collect()
}

/// The Argon2id hashes of `codes` (ID-4: a code is as good as a password while it lasts), on a
/// blocking thread.
pub(crate) async fn hash_recovery_codes(
    codes: &[Zeroizing<String>],
) -> Result<Vec<String>, CoreError> {
    let codes: Vec<Zeroizing<String>> = codes.to_vec();
    password::off_thread(move || {
        codes
            .iter()
            .map(|code| password::hash(code))
            .collect::<Result<Vec<String>, _>>()
    })
    .await
    .map_err(|error| CoreError::Password(password::PasswordError::Hashing(error.to_string())))?
    .map_err(CoreError::from)
}

/// The row id of the stored recovery code that `typed` is, if any (Argon2id verification of
/// each unused code, on a blocking thread).
pub(crate) async fn matching_recovery_code(typed: &str, stored: Vec<(i64, String)>) -> Option<i64> {
    let typed = canonical_recovery_code(typed)?;
    password::off_thread(move || {
        stored
            .into_iter()
            .find(|(_, hash)| password::verify(&typed, hash))
            .map(|(id, _)| id)
    })
    .await
    .ok()
    .flatten()
}

/// A recovery code as typed, in its stored form: case, spaces and the dash are forgiven, and
/// the letters Crockford's base32 leaves out are read as the digits they resemble. `None`
/// when it cannot be a recovery code.
fn canonical_recovery_code(typed: &str) -> Option<Zeroizing<String>> {
    let chars: Vec<char> = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    let valid = chars.len() == RECOVERY_GROUPS * RECOVERY_GROUP_LEN
        && chars
            .iter()
            .all(|c| u8::try_from(*c).is_ok_and(|b| RECOVERY_ALPHABET.contains(&b)));
    if !valid {
        return None;
    }
    let groups: Vec<String> = chars
        .chunks(RECOVERY_GROUP_LEN)
        .map(|group| group.iter().collect())
        .collect();
    Some(Zeroizing::new(groups.join("-")))
}

fn builder() -> Builder {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECS)
}

fn normalized_secret(secret: &str) -> String {
    secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn not_configurable(detail: &str) -> CoreError {
    CoreError::Invalid(format!(
        "the authenticator enrolment could not be prepared ({detail}); try again"
    ))
}

/// The last time step accepted per account and secret. One table for the whole process, so
/// the code that confirmed an enrolment cannot then sign in, whichever service checked it.
/// Kept in memory: a restart forgets it, which reopens at most the one or two steps (a minute)
/// whose codes were just used. Keyed by the secret's digest too, so a new enrolment starts
/// afresh and accounts of separate stores in one process (tests) never meet.
static USED_STEPS: LazyLock<UsedSteps> = LazyLock::new(UsedSteps::default);

#[derive(Default)]
struct UsedSteps {
    last: Mutex<HashMap<(UserId, [u8; 32]), u64>>,
}

impl UsedSteps {
    /// Records `step` as used; false when it, or a later step, was accepted already.
    fn claim(&self, user: UserId, secret: &str, step: u64, now: u64) -> bool {
        let key = (
            user,
            Sha256::digest(normalized_secret(secret).as_bytes()).into(),
        );
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.get(&key).is_some_and(|&used| step <= used) {
            return false;
        }
        last.insert(key, step);
        // Steps older than the skew window can never be presented again: forget them, so the
        // table holds only accounts that used a code during the last minute or so.
        let oldest_usable = (now / STEP_SECS).saturating_sub(u64::from(SKEW_STEPS));
        last.retain(|_, used| *used >= oldest_usable);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_once_and_a_later_step_still_works() {
        let secret = new_secret();
        let totp = generator(&secret).unwrap();
        let now = 1_700_000_000;
        let user = UserId(7);
        let code = totp.generate(now).to_string();
        assert!(accept(user, &secret, &code, now));
        assert!(!accept(user, &secret, &code, now), "replayed");
        let next = totp.generate(now + STEP_SECS).to_string();
        assert!(accept(user, &secret, &next, now + STEP_SECS));
        // The earlier step is refused even though it is inside the skew window.
        assert!(!accept(user, &secret, &code, now + STEP_SECS));
    }

    #[test]
    fn secrets_are_160_bits_and_the_uri_names_issuer_and_login() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32, "160 bits in base32 without padding");
        let uri = otpauth_uri(&secret, "toto@example.test").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Postwerk:toto%40example.test?"),
            "{}",
            *uri
        );
        assert!(uri.contains(&format!("secret={}", *secret)), "{}", *uri);
        assert!(uri.contains("issuer=Postwerk"), "{}", *uri);
    }

    #[test]
    fn recovery_codes_look_alike_and_differ() {
        let codes = new_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            let (a, b) = code.split_once('-').unwrap();
            assert_eq!((a.len(), b.len()), (5, 5), "{}", **code);
            assert!(
                code.bytes()
                    .all(|c| c == b'-' || RECOVERY_ALPHABET.contains(&c)),
                "{}",
                **code
            );
        }
        let mut distinct: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
    }

    #[test]
    fn a_recovery_code_is_read_as_people_type_it() {
        let canonical = |typed| canonical_recovery_code(typed).map(|c| c.to_string());
        assert_eq!(canonical(" K3X9Q 7MZPA "), Some("k3x9q-7mzpa".into()));
        assert_eq!(canonical("k3x9q7mzpa"), Some("k3x9q-7mzpa".into()));
        assert_eq!(canonical("ab0de-fgh1k"), canonical("abOde-fghlk"));
        assert_eq!(canonical("123456"), None);
        assert_eq!(canonical("k3x9q-7mzpau"), None);
        assert!(looks_like_code(" 123 456 "));
        assert!(!looks_like_code("k3x9q-7mzpa"));
        assert!(!looks_like_code("12345"));
    }
}
