//! DKIM keys and signing of outgoing mail (SVC-1, SND-2; RFC 6376).
//!
//! Every mail service gets a key pair when it is created ([`generate_key`], RSA-2048 by
//! default); the private half stays in the store, the public half is published by the
//! administrator as a TXT record at `<selector>._domainkey.<domain>` (RFC 6376 §3.6.2.1), whose
//! text [`DkimPublicKey::record_text`] gives. Rotation stores a new key under a new selector
//! ([`choose_selector`]); the old record may be removed once mail signed with it has been
//! verified (a few days).
//!
//! ```text
//!  submission ─► Delivery::deliver ─► DkimSigner::sign(From: domain, message)
//!                  service_by_domain ─► services.dkim names the active selector
//!                  cache hit on (service, selector)? ─ no ─► active_dkim_key, parse once
//!                  mail-auth: relaxed/relaxed, rsa-sha256, SIGNED_HEADERS, t=, no x=
//!                ◄─ "DKIM-Signature: …\r\n", prepended to the queue copy
//! ```
//!
//! Alias domains (SVC-3): the key record lives under the service's primary domain only, so a
//! message whose `From:` is in an alias domain is signed with `d=` the primary domain. That
//! signature verifies, but DMARC's relaxed alignment (RFC 7489 §3.1.1) fails for it, since the
//! organizational domains differ; publishing the key under each alias domain would fix that and
//! is left for later.
//!
//! Key material is never logged and never printed: the stored key's `Debug` hides it, the
//! parsed keys live inside aws-lc (which wipes them when freed), and the bytes read from the
//! store are wiped after parsing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_auth::common::crypto::{DkimKey as SigningKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner as MailAuthSigner, Done};
use postwerk_model::{Domain, ServiceId};
use postwerk_store::{Directory, DkimKey, NewDkimKey, StoreError};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

/// The header fields every signature covers, when present (RFC 6376 §5.4.1 recommends From,
/// the addressing, the subject and date, the identifiers and the MIME fields). mail-auth also
/// lists the absent ones in `h=`, which stops anyone from adding them later (§5.4).
pub const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
];

/// Prefix of the selectors Postwerk chooses: `pw` + year and month, e.g. `pw202611`.
const SELECTOR_PREFIX: &str = "pw";

/// The signing algorithms a key can have (RFC 6376 §3.3, RFC 8463).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DkimAlgorithm {
    /// RSA with SHA-256, the one every receiver verifies (RFC 6376 §3.3.1). The default.
    #[default]
    RsaSha256,
    /// Ed25519 with SHA-256 (RFC 8463): short keys, but many receivers do not verify it yet.
    Ed25519Sha256,
}

impl DkimAlgorithm {
    /// The `a=` tag value of a signature (RFC 6376 §3.5), as stored in `DkimKeyRef::algorithm`.
    pub fn tag(self) -> &'static str {
        match self {
            DkimAlgorithm::RsaSha256 => "rsa-sha256",
            DkimAlgorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The `k=` tag value of the key record (RFC 6376 §3.6.1, RFC 8463 §4.2).
    pub fn key_type(self) -> &'static str {
        match self {
            DkimAlgorithm::RsaSha256 => "rsa",
            DkimAlgorithm::Ed25519Sha256 => "ed25519",
        }
    }

    /// The algorithm named by an `a=` tag value; `None` for one Postwerk does not sign with
    /// (rsa-sha1 is obsolete, RFC 8301 §3.1).
    pub fn from_tag(tag: &str) -> Option<DkimAlgorithm> {
        match tag {
            "rsa-sha256" => Some(DkimAlgorithm::RsaSha256),
            "ed25519-sha256" => Some(DkimAlgorithm::Ed25519Sha256),
            _ => None,
        }
    }
}

/// Why a key could not be made or a message not signed.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// No mail service serves the `From:` domain, so there is no key to sign with.
    #[error("no mail service hosts the domain {0}")]
    NotHosted(Domain),
    /// The service has no DKIM key (created before keys existed): `dkim-rotate` makes one.
    #[error("the mail service {0} has no DKIM key; run `postwerk admin service dkim-rotate {0}`")]
    NoKey(Domain),
    /// The stored key cannot be used (an unknown algorithm or a damaged key). Never carries
    /// key material.
    #[error("the DKIM key {selector} of {domain} cannot be used: {reason}")]
    BadKey {
        /// The service's primary domain.
        domain: Domain,
        /// The key's selector.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The crypto library could not generate a key.
    #[error("generating a DKIM key failed: {0}")]
    Generate(String),
    /// The message could not be signed (e.g. it has none of the header fields to sign).
    #[error("DKIM signing failed: {0}")]
    Sign(String),
    /// The directory could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The public half of a service's key, as published (RFC 6376 §3.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimPublicKey {
    /// The selector: the record is at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The key's algorithm, which gives the record's `k=` tag.
    pub algorithm: DkimAlgorithm,
    /// The `p=` tag: base64 of the SubjectPublicKeyInfo (RSA) or of the raw key (Ed25519).
    pub public_key: String,
}

impl DkimPublicKey {
    /// The public half of a stored key. Fails on an algorithm Postwerk does not know.
    pub fn from_stored(key: &DkimKey, domain: &Domain) -> Result<DkimPublicKey, DkimError> {
        let algorithm = algorithm_of(key, domain)?;
        Ok(DkimPublicKey {
            selector: key.selector.clone(),
            algorithm,
            public_key: key.public_key.clone(),
        })
    }

    /// The owner name of the key record, without the trailing dot (RFC 6376 §3.6.2.1).
    pub fn record_name(&self, domain: &Domain) -> String {
        format!("{}._domainkey.{}", self.selector, domain)
    }

    /// The text of the key record (RFC 6376 §3.6.1): `v=DKIM1; k=…; p=…`. Longer than one
    /// DNS character-string for RSA; `records::txt_value` splits it for a zone file.
    pub fn record_text(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            self.public_key
        )
    }
}

/// Generates a key pair for `selector`: RSA-2048 (RFC 8301 §3.2 requires at least 1024 bits
/// and recommends 2048) or Ed25519. CPU-bound (tens of milliseconds for RSA): call it from a
/// blocking task in a server.
pub fn generate_key(algorithm: DkimAlgorithm, selector: &str) -> Result<NewDkimKey, DkimError> {
    let failed = |e: aws_lc_rs::error::Unspecified| DkimError::Generate(e.to_string());
    let private_key = match algorithm {
        DkimAlgorithm::RsaSha256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(failed)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(failed)?;
            Zeroizing::new(der.as_ref().to_vec())
        }
        DkimAlgorithm::Ed25519Sha256 => {
            let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(failed)?;
            Zeroizing::new(document.as_ref().to_vec())
        }
    };
    let public_key = public_key_of(algorithm, &private_key)?;
    Ok(NewDkimKey {
        selector: selector.to_owned(),
        algorithm: algorithm.tag().to_owned(),
        private_key: private_key.to_vec(),
        public_key,
    })
}

/// The `p=` value for a PKCS#8 private key: base64 of the DER SubjectPublicKeyInfo for RSA
/// (what RFC 6376 §3.6.1's examples and every verifier expect), of the raw 32-octet public key
/// for Ed25519 (RFC 8463 §4.2).
pub fn public_key_of(algorithm: DkimAlgorithm, pkcs8: &[u8]) -> Result<String, DkimError> {
    let rejected = |e: aws_lc_rs::error::KeyRejected| DkimError::Generate(e.to_string());
    match algorithm {
        DkimAlgorithm::RsaSha256 => {
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
            let spki: aws_lc_rs::encoding::PublicKeyX509Der<'static> =
                pair.public_key()
                    .as_der()
                    .map_err(|e| DkimError::Generate(e.to_string()))?;
            Ok(BASE64.encode(spki.as_ref()))
        }
        DkimAlgorithm::Ed25519Sha256 => {
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
            Ok(BASE64.encode(pair.public_key().as_ref()))
        }
    }
}

/// The selector for a new key made at `now` (Unix seconds): `pw` + YYYYMM, then `-2`, `-3`…
/// when the service has had that one already (a second rotation in a month). A selector is
/// never reused within a service: receivers cache key records (RFC 6376 §3.6.2.1 leaves the
/// TTL to the zone), so a reused name could verify against the wrong key.
pub fn choose_selector<'a>(now: i64, taken: impl IntoIterator<Item = &'a str>) -> String {
    let month = chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .format("%Y%m");
    let base = format!("{SELECTOR_PREFIX}{month}");
    let taken: Vec<&str> = taken.into_iter().collect();
    if !taken.contains(&base.as_str()) {
        return base;
    }
    // RFC 6376 §3.1: a selector is a dot-atom of sub-domains, so letters, digits and inner
    // hyphens only.
    (2u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(base)
}

fn algorithm_of(key: &DkimKey, domain: &Domain) -> Result<DkimAlgorithm, DkimError> {
    DkimAlgorithm::from_tag(&key.algorithm).ok_or_else(|| DkimError::BadKey {
        domain: domain.clone(),
        selector: key.selector.clone(),
        reason: format!("unknown algorithm {:?}", key.algorithm),
    })
}

/// A service's active key, parsed once and ready to sign for its primary domain.
struct LoadedKey {
    selector: String,
    signer: MailAuthSigner<SigningKey, Done>,
}

impl LoadedKey {
    /// Parses a stored key; the copy of its bytes read from the store is wiped afterwards.
    fn parse(key: DkimKey, domain: &Domain) -> Result<LoadedKey, DkimError> {
        let algorithm = algorithm_of(&key, domain)?;
        let selector = key.selector;
        let secret = Zeroizing::new(key.private_key);
        let bad = |e: mail_auth::Error| DkimError::BadKey {
            domain: domain.clone(),
            selector: selector.clone(),
            reason: e.to_string(),
        };
        let signing: SigningKey = match algorithm {
            DkimAlgorithm::RsaSha256 => RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(
                PrivatePkcs8KeyDer::from(secret.as_slice()),
            ))
            .map_err(bad)?
            .into(),
            DkimAlgorithm::Ed25519Sha256 => {
                Ed25519Key::from_pkcs8_der(&secret).map_err(bad)?.into()
            }
        };
        // RFC 6376 §3.4.2 relaxed/relaxed: survives the whitespace and folding changes relays
        // make. No x= (§3.5): an expiry only makes mail delayed in a queue fail verification.
        // t= is set by mail-auth at signing time.
        let signer = MailAuthSigner::from_key(signing)
            .domain(domain.as_str())
            .selector(selector.clone())
            .headers(SIGNED_HEADERS)
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        Ok(LoadedKey { selector, signer })
    }
}

/// Signs outgoing mail with the key of the service that hosts its `From:` domain (SND-2).
///
/// Cheap to clone: clones share the parsed keys. Keys are parsed once per service and
/// selector; a rotation (by this process or by the admin CLI on the same data folder) changes
/// the service's selector, which the next signature notices and loads the new key.
#[derive(Clone)]
pub struct DkimSigner {
    directory: Arc<dyn Directory>,
    keys: Arc<Mutex<HashMap<ServiceId, Arc<LoadedKey>>>>,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner").finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// A signer reading the services' keys from `directory`.
    pub fn new(directory: Arc<dyn Directory>) -> DkimSigner {
        DkimSigner {
            directory,
            keys: Arc::default(),
        }
    }

    /// Signs `message` (header and body, exactly as it will be sent) for the service hosting
    /// `from_domain`, the domain of its `From:` address, and returns the `DKIM-Signature:`
    /// header field to put before it, folded and CRLF-terminated (RFC 6376 §3.5).
    ///
    /// `d=` is the service's primary domain, also when `from_domain` is one of its alias
    /// domains (see the module documentation for what that means for DMARC).
    pub async fn sign(&self, from_domain: &Domain, message: &[u8]) -> Result<String, DkimError> {
        let service = self
            .directory
            .service_by_domain(from_domain)
            .await?
            .ok_or_else(|| DkimError::NotHosted(from_domain.clone()))?;
        let current = service
            .dkim
            .as_ref()
            .ok_or_else(|| DkimError::NoKey(service.domain.clone()))?;
        let cached = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&service.id)
            .filter(|loaded| loaded.selector == current.selector)
            .cloned();
        let loaded = match cached {
            Some(loaded) => loaded,
            None => {
                let stored = self
                    .directory
                    .active_dkim_key(service.id)
                    .await?
                    .ok_or_else(|| DkimError::NoKey(service.domain.clone()))?;
                let loaded = Arc::new(LoadedKey::parse(stored, &service.domain)?);
                tracing::debug!(
                    domain = %service.domain,
                    selector = loaded.selector,
                    "DKIM key loaded"
                );
                self.keys
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(service.id, loaded.clone());
                loaded
            }
        };
        let signature = loaded
            .signer
            .sign(message)
            .map_err(|e| DkimError::Sign(e.to_string()))?;
        Ok(signature.to_header())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-26 12:00 UTC.
    const NOV_2026: i64 = 1_795_694_400;

    #[test]
    fn algorithms_name_their_tags() {
        for algorithm in [DkimAlgorithm::RsaSha256, DkimAlgorithm::Ed25519Sha256] {
            assert_eq!(DkimAlgorithm::from_tag(algorithm.tag()), Some(algorithm));
        }
        assert_eq!(DkimAlgorithm::default(), DkimAlgorithm::RsaSha256);
        assert_eq!(DkimAlgorithm::RsaSha256.key_type(), "rsa");
        assert_eq!(DkimAlgorithm::Ed25519Sha256.key_type(), "ed25519");
        assert_eq!(DkimAlgorithm::from_tag("rsa-sha1"), None, "RFC 8301");
    }

    #[test]
    fn selectors_name_the_month_and_are_never_reused() {
        assert_eq!(choose_selector(NOV_2026, []), "pw202611");
        assert_eq!(choose_selector(NOV_2026, ["pw202610"]), "pw202611");
        assert_eq!(choose_selector(NOV_2026, ["pw202611"]), "pw202611-2");
        assert_eq!(
            choose_selector(NOV_2026, ["pw202611", "pw202611-2"]),
            "pw202611-3"
        );
        assert_eq!(choose_selector(0, []), "pw197001");
        // An out-of-range clock still gives a valid selector.
        assert_eq!(choose_selector(i64::MAX, []), "pw197001");
    }

    #[test]
    fn rsa_keys_are_2048_bit_pkcs8_with_an_spki_public_key() {
        let key = generate_key(DkimAlgorithm::RsaSha256, "pw202611").unwrap();
        assert_eq!(key.selector, "pw202611");
        assert_eq!(key.algorithm, "rsa-sha256");
        let spki = BASE64.decode(&key.public_key).unwrap();
        // SubjectPublicKeyInfo of RSA-2048: a SEQUENCE of 294 octets whose AlgorithmIdentifier
        // is rsaEncryption (1.2.840.113549.1.1.1).
        assert_eq!(spki.len(), 294);
        assert_eq!(&spki[..4], [0x30, 0x82, 0x01, 0x22]);
        let rsa_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        assert!(spki.windows(rsa_oid.len()).any(|w| w == rsa_oid));
        assert_eq!(
            public_key_of(DkimAlgorithm::RsaSha256, &key.private_key).unwrap(),
            key.public_key,
            "the public key derives from the stored private key"
        );
        let other = generate_key(DkimAlgorithm::RsaSha256, "pw202611").unwrap();
        assert_ne!(other.public_key, key.public_key, "every key is new");
    }

    #[test]
    fn ed25519_keys_publish_the_raw_public_key() {
        let key = generate_key(DkimAlgorithm::Ed25519Sha256, "pw202611").unwrap();
        assert_eq!(key.algorithm, "ed25519-sha256");
        assert_eq!(BASE64.decode(&key.public_key).unwrap().len(), 32);
        assert_eq!(
            public_key_of(DkimAlgorithm::Ed25519Sha256, &key.private_key).unwrap(),
            key.public_key
        );
    }

    #[test]
    fn record_text_names_the_key_type() {
        let domain = Domain::parse("example.com").unwrap();
        let rsa = DkimPublicKey {
            selector: "pw202611".into(),
            algorithm: DkimAlgorithm::RsaSha256,
            public_key: "MIIB".into(),
        };
        assert_eq!(rsa.record_name(&domain), "pw202611._domainkey.example.com");
        assert_eq!(rsa.record_text(), "v=DKIM1; k=rsa; p=MIIB");
        let ed = DkimPublicKey {
            algorithm: DkimAlgorithm::Ed25519Sha256,
            ..rsa
        };
        assert_eq!(ed.record_text(), "v=DKIM1; k=ed25519; p=MIIB");
    }

    #[test]
    fn a_damaged_or_unknown_key_is_refused_without_showing_it() {
        let domain = Domain::parse("example.com").unwrap();
        let stored = |algorithm: &str, private_key: Vec<u8>| DkimKey {
            service: ServiceId(1),
            selector: "pw1".into(),
            algorithm: algorithm.into(),
            private_key,
            public_key: String::new(),
            created_at: 0,
            active: true,
        };
        let error = LoadedKey::parse(stored("rsa-sha256", vec![0x42; 40]), &domain)
            .err()
            .unwrap();
        assert!(matches!(error, DkimError::BadKey { .. }), "{error}");
        assert!(!error.to_string().contains("42"), "{error}");
        let error = LoadedKey::parse(stored("rsa-sha1", Vec::new()), &domain)
            .err()
            .unwrap();
        assert!(error.to_string().contains("unknown algorithm"), "{error}");
    }
}
