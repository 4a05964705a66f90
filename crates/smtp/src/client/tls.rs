//! What TLS a connection to an MX host must have, and the rustls configurations that give it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use postwerk_dns::Tlsa;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::dane::{AcceptAnyCertificate, DaneVerifier};

/// The TLS a host requires, decided from DNS (RFC 7672 §2.2) and the domain's MTA-STS policy
/// (RFC 8461 §5) before connecting.
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
    /// MTA-STS `enforce` (RFC 8461 §4.2, §5): TLS required, and the certificate must be valid
    /// for the MX host name under WebPKI (a chain to a trusted root, the name in its SANs).
    Sts,
    /// MTA-STS `testing` (RFC 8461 §5): as [`TlsPolicy::Opportunistic`], and what `enforce`
    /// would have refused (no STARTTLS, a certificate WebPKI does not accept) is logged.
    StsTesting,
}

impl TlsPolicy {
    /// Whether a session without TLS is refused.
    pub(crate) fn requires_tls(&self) -> bool {
        matches!(
            self,
            TlsPolicy::Mandatory | TlsPolicy::Dane(_) | TlsPolicy::Sts
        )
    }

    /// Whether a failed TLS handshake is followed by one more try in cleartext (RFC 7435 §3).
    pub(crate) fn retries_plaintext(&self) -> bool {
        matches!(self, TlsPolicy::Opportunistic | TlsPolicy::StsTesting)
    }

    /// The weakest security an existing (pooled) session may have to be used under this policy.
    pub(crate) fn minimum(&self) -> Security {
        match self {
            TlsPolicy::Plaintext | TlsPolicy::Opportunistic | TlsPolicy::StsTesting => {
                Security::Plaintext
            }
            TlsPolicy::Mandatory => Security::TlsUnauthenticated,
            TlsPolicy::Sts => Security::Sts,
            TlsPolicy::Dane(_) => Security::Dane,
        }
    }
}

/// The security a session ended up with, weakest first (plaintext < tls-unauthenticated <
/// mta-sts ≈ dane); logged with every delivery and part of the key under which idle sessions
/// are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Security {
    /// No TLS.
    Plaintext,
    /// TLS, certificate not authenticated (opportunistic or mandatory without usable TLSA).
    TlsUnauthenticated,
    /// TLS, certificate valid for the MX host name under WebPKI (MTA-STS, RFC 8461 §4.2).
    Sts,
    /// TLS, certificate matched the host's TLSA records.
    Dane,
}

impl Security {
    /// Whether a session with this security may carry mail for a host that demands `required`
    /// (a [`TlsPolicy::minimum`]). MTA-STS and DANE are the same level but not interchangeable:
    /// DANE-EE accepts certificates WebPKI refuses (self-signed), WebPKI accepts certificates the
    /// TLSA records may not match, and RFC 8461 §2 forbids MTA-STS to stand in for DANE.
    pub(crate) fn satisfies(self, required: Security) -> bool {
        match required {
            Security::Plaintext => true,
            Security::TlsUnauthenticated => self != Security::Plaintext,
            Security::Sts | Security::Dane => self == required,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Plaintext => "plaintext",
            Security::TlsUnauthenticated => "tls-unauthenticated",
            Security::Sts => "mta-sts",
            Security::Dane => "dane",
        })
    }
}

/// WebPKI validation (MTA-STS, RFC 8461 §3.3 and §4.2): the platform's roots plus the
/// configured extra ones, and the two client configurations built on them.
#[derive(Debug)]
struct WebPki {
    verifier: Arc<rustls_platform_verifier::Verifier>,
    /// For STARTTLS to MX hosts under an `enforce` policy.
    smtp: Arc<rustls::ClientConfig>,
    /// For fetching policies over HTTPS (ALPN `http/1.1`).
    https: Arc<rustls::ClientConfig>,
}

/// Builds rustls client configurations; the unauthenticated one is built once and shared, the
/// WebPKI ones on first use (loading the platform's roots reads the system's CA store).
#[derive(Debug)]
pub(crate) struct TlsConfigs {
    provider: Arc<CryptoProvider>,
    unauthenticated: Arc<rustls::ClientConfig>,
    extra_roots: Vec<CertificateDer<'static>>,
    webpki: OnceLock<Result<WebPki, String>>,
}

impl TlsConfigs {
    /// The configurations, on the aws-lc-rs provider (the one crypto provider of the project);
    /// WebPKI trusts the platform's roots and `extra_roots`.
    pub(crate) fn new(extra_roots: Vec<CertificateDer<'static>>) -> TlsConfigs {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        });
        let unauthenticated = Arc::new(TlsConfigs::build(&provider, verifier));
        TlsConfigs {
            provider,
            unauthenticated,
            extra_roots,
            webpki: OnceLock::new(),
        }
    }

    /// The WebPKI configurations, built once; `Err` says why there are none (no root at all,
    /// or an extra root rustls cannot use), and is logged once.
    fn webpki(&self) -> Result<&WebPki, &str> {
        self.webpki
            .get_or_init(|| {
                let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    self.provider.clone(),
                )
                .map(Arc::new)
                .map_err(|err| format!("no WebPKI trust store: {err}"));
                let webpki = verifier.map(|verifier| {
                    let smtp = TlsConfigs::build(&self.provider, verifier.clone());
                    let mut https = smtp.clone();
                    https.alpn_protocols = vec![b"http/1.1".to_vec()];
                    WebPki {
                        verifier,
                        smtp: Arc::new(smtp),
                        https: Arc::new(https),
                    }
                });
                if let Err(reason) = &webpki {
                    tracing::error!(reason = %reason, "MTA-STS cannot validate certificates");
                }
                webpki
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The client configuration for fetching MTA-STS policies (WebPKI, HTTP/1.1).
    pub(crate) fn https(&self) -> Result<&Arc<rustls::ClientConfig>, &str> {
        self.webpki().map(|webpki| &webpki.https)
    }

    /// Whether `chain` (leaf first) is valid for `host` under WebPKI now: what an MTA-STS
    /// `enforce` policy would have checked of a session made under `testing` (RFC 8461 §4.2).
    pub(crate) fn check_webpki(
        &self,
        host: &str,
        chain: &[CertificateDer<'static>],
    ) -> Result<(), String> {
        let webpki = self.webpki().map_err(str::to_string)?;
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err("no certificate".to_string());
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host} is not a host name"))?;
        webpki
            .verifier
            .verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|err| err.to_string())
    }

    fn build(
        provider: &Arc<CryptoProvider>,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            // TLS 1.2 and 1.3: many MX hosts still speak TLS 1.2 only.
            .with_safe_default_protocol_versions()
            .expect("the aws-lc-rs provider supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth()
    }

    /// The configuration for `policy` when talking to `mx_host` for `domain`; `Ok(None)` when
    /// the policy is plaintext, `Err` when the policy needs WebPKI and there is no trust store.
    pub(crate) fn for_policy(
        &self,
        policy: &TlsPolicy,
        mx_host: &str,
        domain: &str,
    ) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        Ok(match policy {
            TlsPolicy::Plaintext => None,
            TlsPolicy::Opportunistic | TlsPolicy::Mandatory | TlsPolicy::StsTesting => {
                Some(self.unauthenticated.clone())
            }
            TlsPolicy::Sts => Some(self.webpki().map_err(str::to_string)?.smtp.clone()),
            TlsPolicy::Dane(records) => {
                let verifier = Arc::new(DaneVerifier::new(
                    records.clone(),
                    mx_host,
                    domain,
                    self.provider.signature_verification_algorithms,
                ));
                Some(Arc::new(TlsConfigs::build(&self.provider, verifier)))
            }
        })
    }
}
