//! What TLS a connection to an MX host must have, and the rustls configurations that give it.

use std::fmt;
use std::sync::Arc;

use postwerk_dns::Tlsa;
use rustls::crypto::CryptoProvider;

use super::dane::{AcceptAnyCertificate, DaneVerifier};

/// The TLS a host requires, decided from DNS before connecting (RFC 7672 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsPolicy {
    /// No STARTTLS: the one retry after an opportunistic handshake failed (RFC 7435 §3: when
    /// encryption cannot be had, deliver in cleartext rather than not at all).
    Plaintext,
    /// STARTTLS when offered, any certificate accepted (RFC 3207, RFC 7435).
    Opportunistic,
    /// TLS required but not authenticated: the host securely publishes TLSA records, none of
    /// them usable (RFC 7672 §2.2: a downgrade to cleartext is still refused).
    Mandatory,
    /// TLS required and the certificate must match these usable TLSA records (RFC 7672 §2.2).
    Dane(Vec<Tlsa>),
}

impl TlsPolicy {
    /// Whether a session without TLS is refused.
    pub(crate) fn requires_tls(&self) -> bool {
        matches!(self, TlsPolicy::Mandatory | TlsPolicy::Dane(_))
    }

    /// The weakest security an existing (pooled) session may have to be used under this policy.
    pub(crate) fn minimum(&self) -> Security {
        match self {
            TlsPolicy::Plaintext | TlsPolicy::Opportunistic => Security::Plaintext,
            TlsPolicy::Mandatory => Security::TlsUnauthenticated,
            TlsPolicy::Dane(_) => Security::Dane,
        }
    }
}

/// The security a session ended up with, weakest first; logged with every delivery and part of
/// the key under which idle sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Security {
    /// No TLS.
    Plaintext,
    /// TLS, certificate not authenticated (opportunistic or mandatory without usable TLSA).
    TlsUnauthenticated,
    /// TLS, certificate matched the host's TLSA records.
    Dane,
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Plaintext => "plaintext",
            Security::TlsUnauthenticated => "tls-unauthenticated",
            Security::Dane => "dane",
        })
    }
}

/// Builds rustls client configurations; the unauthenticated one is built once and shared.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    provider: Arc<CryptoProvider>,
    unauthenticated: Arc<rustls::ClientConfig>,
}

impl TlsConfigs {
    /// The configurations, on the aws-lc-rs provider (the one crypto provider of the project).
    pub(crate) fn new() -> TlsConfigs {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        });
        let unauthenticated = Arc::new(TlsConfigs::build(&provider, verifier));
        TlsConfigs {
            provider,
            unauthenticated,
        }
    }

    fn build(
        provider: &Arc<CryptoProvider>,
        verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
    ) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            // TLS 1.2 and 1.3: many MX hosts still speak TLS 1.2 only.
            .with_safe_default_protocol_versions()
            .expect("the aws-lc-rs provider supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth()
    }

    /// The configuration for `policy` when talking to `mx_host` for `domain`; `None` when the
    /// policy is plaintext.
    pub(crate) fn for_policy(
        &self,
        policy: &TlsPolicy,
        mx_host: &str,
        domain: &str,
    ) -> Option<Arc<rustls::ClientConfig>> {
        match policy {
            TlsPolicy::Plaintext => None,
            TlsPolicy::Opportunistic | TlsPolicy::Mandatory => Some(self.unauthenticated.clone()),
            TlsPolicy::Dane(records) => {
                let verifier = Arc::new(DaneVerifier::new(
                    records.clone(),
                    mx_host,
                    domain,
                    self.provider.signature_verification_algorithms,
                ));
                Some(Arc::new(TlsConfigs::build(&self.provider, verifier)))
            }
        }
    }
}
