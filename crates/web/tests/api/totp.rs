//! An authenticator app of our own for the tests: RFC 6238 TOTP (HMAC-SHA-1, 30 s steps,
//! 6 digits) from the base32 secret the API hands out, written here from the RFCs rather than
//! taken from the server's code, so a test that signs in with it checks the server against the
//! standard and not against itself. The RFC's own test vectors check it below.

use std::time::{SystemTime, UNIX_EPOCH};

/// The code an authenticator app shows now for the base32 `secret`.
pub fn code_now(secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    code_at(&base32_decode(secret), now, 6)
}

/// The code for the time step `previous_steps` before the current one: a code the server
/// still accepts (one step of skew) but that is not the current one.
pub fn code_steps_ago(secret: &str, previous_steps: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    code_at(&base32_decode(secret), now - 30 * previous_steps, 6)
}

/// RFC 6238 §4: HOTP (RFC 4226 §5.3) of the 30 s step containing `unix_secs`.
fn code_at(key: &[u8], unix_secs: u64, digits: u32) -> String {
    let counter = (unix_secs / 30).to_be_bytes();
    let mac = hmac_sha1(key, &counter);
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

/// RFC 4648 §6 base32, without padding, in any case.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET
            .iter()
            .position(|c| *c == byte.to_ascii_uppercase())
            .expect("a base32 character") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// RFC 2104 HMAC over SHA-1.
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&sha1(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = block
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).chain(sha1(&inner)).collect();
    sha1(&outer)
}

/// FIPS 180-4 SHA-1.
fn sha1(message: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&((message.len() as u64) * 8).to_be_bytes());
    for chunk in padded.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut digest = [0u8; 20];
    for (i, word) in h.iter().enumerate() {
        digest[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    digest
}

#[test]
fn rfc_6238_appendix_b_vectors_for_sha1() {
    // The RFC's key is the ASCII string "12345678901234567890".
    let key = b"12345678901234567890";
    for (time, expected) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_234_567_890, "89005924"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(code_at(key, time, 8), expected, "T = {time}");
    }
    assert_eq!(
        base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        key.to_vec()
    );
}
