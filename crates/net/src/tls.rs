//! TLS material: configured PEM files, or a self-signed certificate for the hostname generated
//! once and kept in the data folder so that clients can pin it across restarts (PROTO-5).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files managed by the administrator (or an ACME client).
    Files { cert: PathBuf, key: PathBuf },
    /// A certificate generated for `hostname` on first start and stored under `dir`.
    SelfSigned { hostname: String, dir: PathBuf },
}

/// Why TLS could not be set up. Each message names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A file was read but holds no usable PEM certificate or key.
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    /// Generating the self-signed certificate failed.
    #[error("generating a self-signed certificate failed: {0}")]
    Generate(String),
    /// rustls refused the certificate/key pair.
    #[error("the certificate and key do not form a usable TLS configuration: {0}")]
    Config(String),
}

/// Loads (or first generates) the certificate and returns an acceptor shared by every listener.
pub fn load_tls(source: &TlsSource) -> Result<TlsAcceptor, TlsError> {
    let (cert_path, key_path) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { hostname, dir } => ensure_self_signed(hostname, dir)?,
    };
    let certs = read_certs(&cert_path)?;
    let key = read_key(&key_path)?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    // One certificate serves every protocol; ALPN is left empty: mail protocols do not use it.
    config.ignore_client_order = true;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn ensure_self_signed(hostname: &str, dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("self-signed.crt");
    let key_path = dir.join("self-signed.key");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())?;
    fs::write(&cert_path, certified.cert.pem()).map_err(|source| TlsError::Io {
        path: cert_path.clone(),
        source,
    })?;
    tracing::info!(path = %cert_path.display(), hostname, "generated a self-signed certificate");
    Ok((cert_path, key_path))
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let io_err = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(bytes).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = fs::read(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    let certs = certs.map_err(|e| TlsError::Pem {
        path: path.into(),
        reason: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.into(),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = fs::read(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        path: path.into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let source = TlsSource::SelfSigned {
            hostname: "mail.example.test".into(),
            dir: dir.path().into(),
        };
        load_tls(&source).unwrap();
        let first = fs::read(dir.path().join("self-signed.crt")).unwrap();
        load_tls(&source).unwrap();
        let second = fs::read(dir.path().join("self-signed.crt")).unwrap();
        assert_eq!(first, second, "a restart must keep the same certificate");
    }

    #[test]
    fn missing_files_name_the_path() {
        let source = TlsSource::Files {
            cert: "/nonexistent/c.pem".into(),
            key: "/x".into(),
        };
        let message = load_tls(&source).err().unwrap().to_string();
        assert!(message.contains("/nonexistent/c.pem"), "{message}");
    }

    #[test]
    fn a_file_without_pem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        fs::write(&cert, "not a certificate").unwrap();
        let source = TlsSource::Files {
            cert: cert.clone(),
            key: cert,
        };
        assert!(matches!(load_tls(&source), Err(TlsError::Pem { .. })));
    }
}
