//! TLS with rustls: the server's certificate from files, or for development a self-signed
//! one for localhost made on first run (rcgen) and reused after; ALPN offering HTTP/2 and
//! HTTP/1.1, so browsers speak HTTP/2 and a page's many streams share one connection; and
//! optionally mutual TLS, requiring client certificates signed by a given CA.

use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: no {what} in PEM format")]
    Pem { path: PathBuf, what: &'static str },
    #[error("cannot create the development certificate in {dir}: {reason}")]
    SelfSigned { dir: PathBuf, reason: String },
    #[error("the TLS settings are not usable: {0}")]
    Config(String),
}

/// How the server speaks TLS: its certificate, and the CA of client certificates when they
/// are required (mutual TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub certificate: Certificate,
    pub client_ca: Option<PathBuf>,
}

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Made for localhost in this directory on first run, reused after.
    SelfSigned {
        dir: PathBuf,
    },
}

/// A self-signed certificate's files, and whether this run made them.
#[derive(Debug, Clone)]
pub struct DevCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub created: bool,
}

/// Makes (or finds) the development certificate for `localhost`, `127.0.0.1` and `::1`.
pub fn dev_certificate(dir: &Path) -> Result<DevCertificate, TlsError> {
    let cert = dir.join("localhost.pem");
    let key = dir.join("localhost-key.pem");
    if cert.is_file() && key.is_file() {
        return Ok(DevCertificate {
            cert,
            key,
            created: false,
        });
    }
    let fail = |reason: String| TlsError::SelfSigned {
        dir: dir.to_owned(),
        reason,
    };
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|error| fail(error.to_string()))?;
    fs::create_dir_all(dir).map_err(|error| fail(error.to_string()))?;
    fs::write(&cert, made.cert.pem()).map_err(|error| fail(error.to_string()))?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes())
        .map_err(|error| fail(error.to_string()))?;
    Ok(DevCertificate {
        cert,
        key,
        created: true,
    })
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents)
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    fs::write(path, contents)
}

/// The server's TLS configuration. A self-signed certificate is made (or found) first, and
/// the log says how to trust it.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let client_ca = settings.client_ca.as_deref();
    match &settings.certificate {
        Certificate::Files { cert, key } => config_for(cert, key, client_ca),
        Certificate::SelfSigned { dir } => {
            let dev = dev_certificate(dir)?;
            tracing::info!(
                cert = %dev.cert.display(),
                created = dev.created,
                "development TLS certificate for localhost: trust it with \
                 `client --ca-file {0}`, `curl --cacert {0}`, or by importing it into the \
                 browser's certificate authorities",
                dev.cert.display()
            );
            config_for(&dev.cert, &dev.key, client_ca)
        }
    }
}

/// The configuration for `cert` and `key`, requiring client certificates signed by
/// `client_ca` when given.
fn config_for(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(cert)?;
    let key = read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates(ca)? {
                roots
                    .add(certificate)
                    .map_err(|error| TlsError::Config(format!("{}: {error}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| TlsError::Config(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Config(error.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certificates.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "certificate",
        });
    }
    Ok(certificates)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|_| TlsError::Pem {
        path: path.to_owned(),
        what: "private key",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_certificate_is_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = dev_certificate(dir.path()).expect("made");
        assert!(first.created);
        let again = dev_certificate(dir.path()).expect("found");
        assert!(!again.created);
        assert_eq!(fs::read(&first.cert).ok(), fs::read(&again.cert).ok());
        config_for(&first.cert, &first.key, None).expect("usable");
        config_for(&first.cert, &first.key, Some(&first.cert)).expect("usable as a client CA too");
    }

    #[test]
    fn unreadable_or_empty_files_say_which() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        fs::write(&empty, "").expect("write");
        let error = config_for(&empty, &empty, None).expect_err("no certificate");
        assert!(error.to_string().contains("no certificate"), "{error}");
        let error = config_for(&dir.path().join("missing.pem"), &empty, None).expect_err("missing");
        assert!(error.to_string().starts_with("cannot read"), "{error}");
    }
}
