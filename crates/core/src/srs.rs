//! SRS, the Sender Rewriting Scheme (RCV-13): a forward leaves with a reverse-path at the
//! forwarding domain, so that SPF (RFC 7208) checks us rather than the original sender's
//! domain, and a bounce to that path finds its way back.
//!
//! The address forms are those of the common scheme of Shevek (libsrs2, postsrsd):
//!
//! ```text
//!  SRS0=HHHH=TT=orig-domain=orig-local@forwarding-domain
//!  SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@forwarding-domain
//! ```
//!
//! `TT` is the day of the rewrite (days since the epoch, modulo 1024) in two base32
//! characters; `HHHH` is an HMAC-SHA256 keyed with the secret, truncated to four base32
//! characters. SRS1 is used when the path is already an SRS0 address of another forwarder:
//! the bounce goes back to that forwarder, which checks its own hash.
//!
//! Base32 rather than base64 because the address survives case changes: our own address
//! parsing lowercases local parts, and so do some servers. For the same reason the hash is
//! computed over the lowercased parts and compared without regard to case, and the original
//! local part comes back lowercased (RFC 5321 §2.4 allows case to matter; in practice it
//! does not). The hashes are ours alone (HMAC-SHA256 instead of libsrs2's HMAC-SHA1): only
//! this server needs to check them.

use sha2::{Digest, Sha256};

/// How old a rewritten address may be when a bounce comes back to it: bounces come within
/// days; three weeks leaves room for slow ones while limiting replay.
pub const MAX_AGE_DAYS: u32 = 21;

/// RFC 4648 §6 base32 alphabet (Shevek's scheme uses it for the timestamp).
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The timestamp wraps every 1024 days (two base32 characters).
const TIME_SLOTS: i64 = 1024;

/// Rewrites and checks SRS addresses with one secret.
#[derive(Clone)]
pub struct Srs {
    secret: Vec<u8>,
    max_age_days: u32,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Srs")
            .field("secret", &"<hidden>")
            .field("max_age_days", &self.max_age_days)
            .finish()
    }
}

impl Srs {
    /// Rewriting keyed with `secret` (keep it across restarts and share it between nodes),
    /// accepting addresses up to [`MAX_AGE_DAYS`] old.
    pub fn new(secret: impl Into<Vec<u8>>) -> Srs {
        Srs {
            secret: secret.into(),
            max_age_days: MAX_AGE_DAYS,
        }
    }

    /// The same, accepting addresses up to `days` old.
    pub fn with_max_age(self, days: u32) -> Srs {
        Srs {
            max_age_days: days,
            ..self
        }
    }

    /// The reverse-path to announce when forwarding a message from `return_path` through
    /// `forwarding_domain` at `now` (Unix seconds).
    ///
    /// The null sender is never rewritten (a bounce has nowhere to go back to), nor a path
    /// already at the forwarding domain, nor something without an `@`. An SRS0 path of
    /// another forwarder becomes SRS1, and an SRS1 path keeps its first forwarder, so the
    /// address does not grow with each hop.
    pub fn encode(&self, return_path: &str, forwarding_domain: &str, now: i64) -> String {
        let Some((local, domain)) = return_path.rsplit_once('@') else {
            return return_path.to_owned();
        };
        if local.is_empty()
            || domain.is_empty()
            || forwarding_domain.is_empty()
            || domain.eq_ignore_ascii_case(forwarding_domain)
        {
            return return_path.to_owned();
        }
        if let Some((_, rest)) = srs_tail(local, "SRS1")
            && let Some((_their_hash, rest)) = rest.split_once('=')
            && let Some((first, sep, opaque)) = split_srs1(rest)
        {
            // SRS1=HHHH=first==… of another forwarder: keep its first forwarder and opaque
            // part and hash them anew, so that SRS1 addresses do not nest.
            let hash = self.hash(&[b"1", first.as_bytes(), &[sep], opaque.as_bytes()]);
            return format!(
                "SRS1={hash}={first}={}{opaque}@{forwarding_domain}",
                sep as char
            );
        }
        if let Some((sep, rest)) = srs_tail(local, "SRS0") {
            let hash = self.hash(&[b"1", domain.as_bytes(), &[sep], rest.as_bytes()]);
            return format!(
                "SRS1={hash}={domain}={}{rest}@{forwarding_domain}",
                sep as char
            );
        }
        let stamp = timestamp(now);
        let hash = self.hash(&[b"0", stamp.as_bytes(), domain.as_bytes(), local.as_bytes()]);
        format!("SRS0={hash}={stamp}={domain}={local}@{forwarding_domain}")
    }

    /// The address a bounce to the SRS `address` must go to at `now` (Unix seconds): the
    /// original sender for SRS0, the first forwarder's SRS0 address for SRS1. `None` when
    /// `address` is not an SRS address, or its hash does not match (forged or damaged), or
    /// (SRS0) it is older than the age limit. The domain of `address` is not checked: the
    /// caller routes only its own domains here.
    pub fn decode(&self, address: &str, now: i64) -> Option<String> {
        let (local, _domain) = address.rsplit_once('@')?;
        if let Some((_, rest)) = srs_tail(local, "SRS0") {
            let mut parts = rest.splitn(4, '=');
            let (hash, stamp, domain, orig_local) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            if domain.is_empty() || orig_local.is_empty() {
                return None;
            }
            let expected = self.hash(&[
                b"0",
                stamp.as_bytes(),
                domain.as_bytes(),
                orig_local.as_bytes(),
            ]);
            if !same_hash(hash, &expected) {
                return None;
            }
            let then = stamp_value(stamp)?;
            let age = (day(now) - then).rem_euclid(TIME_SLOTS);
            if age > i64::from(self.max_age_days) {
                return None;
            }
            return Some(format!("{orig_local}@{domain}"));
        }
        if let Some((_, rest)) = srs_tail(local, "SRS1") {
            let (hash, rest) = rest.split_once('=')?;
            let (first, sep, inner) = split_srs1(rest)?;
            let expected = self.hash(&[b"1", first.as_bytes(), &[sep], inner.as_bytes()]);
            if !same_hash(hash, &expected) || first.is_empty() || inner.is_empty() {
                return None;
            }
            return Some(format!("SRS0{}{inner}@{first}", sep as char));
        }
        None
    }

    /// Four base32 characters of HMAC-SHA256 over the lowercased parts, each followed by a
    /// zero octet so that parts cannot run into each other.
    fn hash(&self, parts: &[&[u8]]) -> String {
        let mut message = Vec::new();
        for part in parts {
            message.extend(part.iter().map(u8::to_ascii_lowercase));
            message.push(0);
        }
        let mac = hmac_sha256(&self.secret, &message);
        // The first 20 bits, in four characters.
        let bits = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]) >> 12;
        (0..4)
            .rev()
            .map(|i| BASE32[((bits >> (5 * i)) & 31) as usize] as char)
            .collect()
    }
}

/// Whether `address` (or a bare local part) has the form of an SRS address: what the MX
/// checks before resolving a recipient, so that a bounce to one is routed through
/// [`Srs::decode`] rather than to a catch-all (and refused when it does not decode).
pub fn is_srs(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(local, _)| local);
    srs_tail(local, "SRS0").is_some() || srs_tail(local, "SRS1").is_some()
}

/// After `tag` (`SRS0`/`SRS1`, any case) and its separator (`=`, `+` or `-`, as Shevek's
/// scheme allows): the separator and the rest.
fn srs_tail<'a>(local: &'a str, tag: &str) -> Option<(u8, &'a str)> {
    let head = local.get(..tag.len())?;
    if !head.eq_ignore_ascii_case(tag) {
        return None;
    }
    let sep = *local.as_bytes().get(tag.len())?;
    if !matches!(sep, b'=' | b'+' | b'-') {
        return None;
    }
    Some((sep, &local[tag.len() + 1..]))
}

/// `first-forwarder=<sep>opaque` (the part of an SRS1 address after its hash): domains hold
/// no `=`, so the first one ends the forwarder.
fn split_srs1(rest: &str) -> Option<(&str, u8, &str)> {
    let (first, after) = rest.split_once('=')?;
    let sep = *after.as_bytes().first()?;
    if !matches!(sep, b'=' | b'+' | b'-') || first.is_empty() {
        return None;
    }
    Some((first, sep, &after[1..]))
}

/// Days since the epoch.
fn day(now: i64) -> i64 {
    now.div_euclid(86_400)
}

/// Today's two-character timestamp.
fn timestamp(now: i64) -> String {
    let slot = day(now).rem_euclid(TIME_SLOTS) as usize;
    [BASE32[slot >> 5] as char, BASE32[slot & 31] as char]
        .into_iter()
        .collect()
}

/// The slot a two-character timestamp names, whatever its case.
fn stamp_value(stamp: &str) -> Option<i64> {
    let digit = |c: u8| {
        BASE32
            .iter()
            .position(|b| *b == c.to_ascii_uppercase())
            .map(|v| v as i64)
    };
    match stamp.as_bytes() {
        [high, low] => Some(digit(*high)? * 32 + digit(*low)?),
        _ => None,
    }
}

/// Compares hashes without regard to case, in time independent of where they differ.
fn same_hash(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a.to_ascii_uppercase() ^ b))
            == 0
}

/// HMAC-SHA256 (RFC 2104 over FIPS 180-4), written out over the `sha2` the workspace already
/// has rather than adding the `hmac` crate (whose locked version needs a second `sha2`).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const DAY: i64 = 86_400;

    fn srs() -> Srs {
        Srs::new(b"test-secret".to_vec())
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231_vectors() {
        // Test case 1.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn rcv_13_srs0_round_trip() {
        let rewritten = srs().encode("alice@remote.example", "example.test", NOW);
        assert!(rewritten.starts_with("SRS0="), "{rewritten}");
        assert!(
            rewritten.ends_with("=remote.example=alice@example.test"),
            "{rewritten}"
        );
        let parts: Vec<&str> = rewritten.split('=').collect();
        assert_eq!(parts[1].len(), 4, "four hash characters");
        assert_eq!(parts[2], timestamp(NOW));
        assert!(is_srs(&rewritten));
        assert_eq!(
            srs().decode(&rewritten, NOW).as_deref(),
            Some("alice@remote.example")
        );
    }

    #[test]
    fn decoding_survives_lowercasing() {
        let rewritten = srs().encode("Alice@Remote.Example", "example.test", NOW);
        assert_eq!(
            srs()
                .decode(&rewritten.to_ascii_lowercase(), NOW)
                .as_deref(),
            Some("alice@remote.example")
        );
    }

    #[test]
    fn tampering_is_detected() {
        let rewritten = srs().encode("alice@remote.example", "example.test", NOW);
        let forged_user = rewritten.replace("=alice@", "=mallory@");
        assert_eq!(srs().decode(&forged_user, NOW), None);
        let forged_domain = rewritten.replace("=remote.example=", "=evil.example=");
        assert_eq!(srs().decode(&forged_domain, NOW), None);
        let parts: Vec<&str> = rewritten.splitn(3, '=').collect();
        let other_hash = if parts[1] == "AAAA" { "BBBB" } else { "AAAA" };
        let forged_hash = format!("SRS0={other_hash}={}", parts[2]);
        assert_eq!(srs().decode(&forged_hash, NOW), None);
        // Another secret does not accept ours.
        assert_eq!(Srs::new(b"other".to_vec()).decode(&rewritten, NOW), None);
        // A changed timestamp breaks the hash too.
        let stamp = timestamp(NOW);
        let other_stamp = timestamp(NOW - DAY);
        let forged_time = rewritten.replace(&format!("={stamp}="), &format!("={other_stamp}="));
        assert_eq!(srs().decode(&forged_time, NOW), None);
    }

    #[test]
    fn old_addresses_expire() {
        let rewritten = srs().encode("alice@remote.example", "example.test", NOW);
        assert!(srs().decode(&rewritten, NOW + 21 * DAY).is_some());
        assert_eq!(srs().decode(&rewritten, NOW + 22 * DAY), None);
        assert_eq!(srs().decode(&rewritten, NOW - DAY), None, "from the future");
        let lenient = srs().with_max_age(30);
        assert!(lenient.decode(&rewritten, NOW + 30 * DAY).is_some());
    }

    #[test]
    fn null_sender_and_own_domain_are_never_rewritten() {
        assert_eq!(srs().encode("", "example.test", NOW), "");
        assert_eq!(
            srs().encode("bob@example.test", "example.test", NOW),
            "bob@example.test"
        );
        assert_eq!(
            srs().encode("bob@EXAMPLE.test", "example.test", NOW),
            "bob@EXAMPLE.test"
        );
        assert_eq!(
            srs().encode("postmaster", "example.test", NOW),
            "postmaster"
        );
    }

    #[test]
    fn srs0_of_another_forwarder_becomes_srs1_and_decodes_back_to_it() {
        let theirs = Srs::new(b"their-secret".to_vec());
        let first = theirs.encode("alice@remote.example", "first.example", NOW);
        let ours = srs().encode(&first, "example.test", NOW);
        assert!(ours.starts_with("SRS1="), "{ours}");
        assert!(ours.contains("=first.example=="), "{ours}");
        assert!(ours.ends_with("@example.test"));
        let back = srs().decode(&ours, NOW).unwrap();
        assert_eq!(back.to_ascii_lowercase(), first.to_ascii_lowercase());
        assert_eq!(
            theirs.decode(&back, NOW).as_deref(),
            Some("alice@remote.example")
        );
        // Tampering with SRS1 is detected too.
        let forged = ours.replace("=first.example==", "=evil.example==");
        assert_eq!(srs().decode(&forged, NOW), None);
    }

    #[test]
    fn srs1_keeps_the_first_forwarder() {
        let theirs = Srs::new(b"their-secret".to_vec());
        let first = theirs.encode("alice@remote.example", "first.example", NOW);
        let second = Srs::new(b"second".to_vec()).encode(&first, "second.example", NOW);
        let ours = srs().encode(&second, "example.test", NOW);
        assert!(ours.starts_with("SRS1="));
        assert!(ours.contains("=first.example=="), "{ours}");
        let back = srs().decode(&ours, NOW).unwrap();
        assert_eq!(
            theirs.decode(&back, NOW).as_deref(),
            Some("alice@remote.example")
        );
    }

    #[test]
    fn not_srs_is_not_decoded() {
        for address in [
            "alice@example.test",
            "srs0@example.test",
            "SRS0=abc@example.test",
            "SRS0=AAAA=AA=remote.example@example.test",
            "SRS2=AAAA=AA=remote.example=a@example.test",
            "no-at-sign",
            "SRS1=AAAA=first.example@example.test",
        ] {
            assert_eq!(srs().decode(address, NOW), None, "{address}");
        }
        assert!(!is_srs("alice@example.test"));
        assert!(is_srs("srs0+abcd=aa=x.example=y@example.test"));
        assert!(is_srs("SRS1=X"));
    }

    #[test]
    fn other_separators_are_accepted() {
        let rewritten = srs().encode("alice@remote.example", "example.test", NOW);
        let plus = rewritten.replacen("SRS0=", "SRS0+", 1);
        assert_eq!(
            srs().decode(&plus, NOW).as_deref(),
            Some("alice@remote.example")
        );
    }

    #[test]
    fn local_parts_with_equals_signs_survive() {
        let rewritten = srs().encode("a=b@remote.example", "example.test", NOW);
        assert_eq!(
            srs().decode(&rewritten, NOW).as_deref(),
            Some("a=b@remote.example")
        );
    }

    #[test]
    fn timestamps_round_trip_and_wrap() {
        for days in [0, 1, 31, 32, 1023, 1024, 19_700] {
            let now = days * DAY + 5;
            assert_eq!(stamp_value(&timestamp(now)), Some(days % 1024));
            assert_eq!(
                stamp_value(&timestamp(now).to_lowercase()),
                Some(days % 1024)
            );
        }
        assert_eq!(stamp_value("A"), None);
        assert_eq!(stamp_value("A1"), None);
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", srs()).contains("test-secret"));
    }
}
