//! DANE for SMTP (RFC 7672): a rustls [`ServerCertVerifier`] that accepts the server's
//! certificate when, and only when, it matches one of the host's DNSSEC-validated TLSA records.
//!
//! - DANE-EE, usage 3 (RFC 7672 §3.1.1): the leaf certificate (selector 0) or its public key
//!   (selector 1) matches; the name and the validity dates are deliberately not checked — the
//!   DNS record is the authority, and a domain may use a self-signed certificate.
//! - DANE-TA, usage 2 (RFC 7672 §3.1.2): some certificate of the chain the server sent (other
//!   than the leaf) matches; that certificate becomes the only trust anchor, the leaf must chain
//!   to it under the usual PKIX rules (rustls-webpki), and its name must be the MX host name or
//!   the next-hop domain (RFC 7672 §3.2.2).
//!
//! Usages 0 and 1 (PKIX-TA, PKIX-EE) are not usable for SMTP (RFC 7672 §3.1.3) and are dropped
//! before a verifier is built, as are selectors and matching types we do not know.

use std::sync::Arc;

use postwerk_dns::Tlsa;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256, Sha512};

/// RFC 7218 acronyms, for reasons people read.
const DANE_TA: u8 = 2;
const DANE_EE: u8 = 3;

/// The records of `records` this client can use (RFC 7672 §3.1: usages 2 and 3; RFC 6698 §2.1:
/// selectors 0 and 1, matching types 0, 1 and 2, with a digest of the right length).
pub(crate) fn usable(records: &[Tlsa]) -> Vec<Tlsa> {
    records
        .iter()
        .filter(|record| matches!(record.usage, DANE_TA | DANE_EE))
        .filter(|record| matches!(record.selector, 0 | 1))
        .filter(|record| match record.matching {
            0 => !record.data.is_empty(),
            1 => record.data.len() == 32,
            2 => record.data.len() == 64,
            _ => false,
        })
        .cloned()
        .collect()
}

/// Whether `record` matches `cert` by its selector and matching type (RFC 6698 §2.1.3–2.1.4).
fn matches(record: &Tlsa, cert: &CertificateDer<'_>) -> bool {
    let spki;
    let selected: &[u8] = match record.selector {
        0 => cert.as_ref(),
        1 => match ParsedCertificate::try_from(cert) {
            Ok(parsed) => {
                spki = parsed.subject_public_key_info();
                spki.as_ref()
            }
            Err(_) => return false,
        },
        _ => return false,
    };
    match record.matching {
        0 => selected == record.data.as_slice(),
        1 => Sha256::digest(selected)[..] == record.data[..],
        2 => Sha512::digest(selected)[..] == record.data[..],
        _ => false,
    }
}

/// The DANE mismatch, carried inside the rustls error so the handshake failure says why.
#[derive(Debug)]
struct DaneMismatch(String);

impl std::fmt::Display for DaneMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DaneMismatch {}

/// Verifies a server certificate against a host's usable TLSA records.
#[derive(Debug)]
pub(crate) struct DaneVerifier {
    /// Usable records only (see [`usable`]).
    records: Vec<Tlsa>,
    /// Names a DANE-TA leaf may carry: the MX host, then the next-hop domain.
    names: Vec<ServerName<'static>>,
    /// The crypto provider's algorithms, for chains and handshake signatures.
    algorithms: WebPkiSupportedAlgorithms,
}

impl DaneVerifier {
    /// A verifier for `records` (already filtered by [`usable`]), for a server reached as
    /// `mx_host` on behalf of `domain`.
    pub(crate) fn new(
        records: Vec<Tlsa>,
        mx_host: &str,
        domain: &str,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> DaneVerifier {
        let mut names = Vec::new();
        for name in [mx_host, domain] {
            if let Ok(name) = ServerName::try_from(name.to_string())
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        DaneVerifier {
            records,
            names,
            algorithms,
        }
    }

    /// DANE-TA: whether the leaf chains to a certificate of the presented chain that matches a
    /// usage 2 record, and carries one of the reference names.
    fn trust_anchor_ok(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<bool, String> {
        let Ok(leaf) = ParsedCertificate::try_from(end_entity) else {
            return Err("the server's certificate cannot be parsed".to_string());
        };
        let mut last_error = None;
        for record in self.records.iter().filter(|r| r.usage == DANE_TA) {
            for candidate in intermediates.iter().filter(|cert| matches(record, cert)) {
                // RFC 7672 §3.1.2: the matched certificate is the trust anchor, the only one.
                let mut roots = RootCertStore::empty();
                if roots.add(candidate.clone()).is_err() {
                    continue;
                }
                if let Err(err) = verify_server_cert_signed_by_trust_anchor(
                    &leaf,
                    &roots,
                    intermediates,
                    now,
                    self.algorithms.all,
                ) {
                    last_error = Some(format!(
                        "the chain does not verify to the DANE-TA anchor: {err}"
                    ));
                    continue;
                }
                if self
                    .names
                    .iter()
                    .any(|name| verify_server_name(&leaf, name).is_ok())
                {
                    return Ok(true);
                }
                last_error = Some(format!(
                    "the certificate chains to the DANE-TA anchor but names none of {}",
                    self.names
                        .iter()
                        .map(|name| name.to_str().into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        match last_error {
            Some(err) => Err(err),
            None => Ok(false),
        }
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // RFC 7672 §3.1.1: DANE-EE matches the leaf alone, no name or date check.
        if self
            .records
            .iter()
            .filter(|record| record.usage == DANE_EE)
            .any(|record| matches(record, end_entity))
        {
            return Ok(ServerCertVerified::assertion());
        }
        let detail = match self.trust_anchor_ok(end_entity, intermediates, now) {
            Ok(true) => return Ok(ServerCertVerified::assertion()),
            Ok(false) => "no TLSA record matches the certificate chain".to_string(),
            Err(err) => err,
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(DaneMismatch(format!("DANE: {detail}")))),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The verifier of opportunistic TLS (RFC 7435 §3, RFC 7672 §2.2: when DANE does not apply,
/// encryption without authentication beats cleartext): any certificate is accepted, but the
/// handshake signatures are still checked, so the peer holds the key it presents.
#[derive(Debug)]
pub(crate) struct AcceptAnyCertificate {
    /// The crypto provider's algorithms, for handshake signatures.
    pub algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data,
        }
    }

    #[test]
    fn only_usable_records_are_kept() {
        let records = vec![
            record(3, 1, 1, vec![0; 32]),
            record(2, 0, 2, vec![0; 64]),
            record(1, 1, 1, vec![0; 32]), // PKIX-EE: unusable for SMTP
            record(3, 2, 1, vec![0; 32]), // unknown selector
            record(3, 1, 1, vec![0; 31]), // wrong digest length
            record(3, 1, 9, vec![0; 32]), // unknown matching type
        ];
        assert_eq!(usable(&records), records[..2].to_vec());
    }

    #[test]
    fn matching_by_selector_and_type() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mx.example.org".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().clone();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        assert!(matches(&record(3, 1, 0, spki.clone()), &der));
        assert!(matches(
            &record(3, 1, 1, Sha256::digest(&spki).to_vec()),
            &der
        ));
        assert!(matches(
            &record(3, 1, 2, Sha512::digest(&spki).to_vec()),
            &der
        ));
        assert!(matches(
            &record(3, 0, 1, Sha256::digest(der.as_ref()).to_vec()),
            &der
        ));
        assert!(!matches(
            &record(3, 0, 1, Sha256::digest(&spki).to_vec()),
            &der
        ));
        assert!(!matches(&record(3, 1, 1, vec![0; 32]), &der));
    }
}
