//! The authenticator app of the tests: totp-rs computes RFC 6238 codes (HMAC-SHA-1, 30 s
//! steps, 6 digits) from the base32 secret the API hands out. The server's own check is tested
//! against it here, and against oathtool in the binary's tests.

use std::time::{SystemTime, UNIX_EPOCH};

/// The code an authenticator app shows now for the base32 `secret`.
pub fn code_now(secret: &str) -> String {
    code_steps_ago(secret, 0)
}

/// The code for the time step `previous_steps` before the current one: a code the server
/// still accepts (one step of skew) but that is not the current one.
pub fn code_steps_ago(secret: &str, previous_steps: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let key = totp_rs::Secret::try_from_base32(secret).expect("the API hands out base32");
    totp_rs::Builder::new()
        .with_secret(key)
        .build()
        .expect("a 160-bit secret with the RFC 6238 defaults")
        .generate(now - 30 * previous_steps)
        .to_string()
}
