//! Trust: the webpki (Mozilla) roots, plus the PEM certificates of `--extra-ca-file`.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::ActionError;

/// Parses the extra CA file: one or more PEM `CERTIFICATE` blocks, each a valid trust anchor.
pub(crate) fn parse_extra_ca(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ActionError> {
    let bad =
        || ActionError::Config("the extra CA file is not valid PEM; give a file of PEM CERTIFICATE blocks".into());
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad())?;
    if certs.is_empty() {
        return Err(ActionError::Config(
            "the extra CA file holds no PEM certificate; give a file of PEM CERTIFICATE blocks".into(),
        ));
    }
    // Each must be usable as a trust anchor, so a wrong file fails at start, not at the first call.
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|_| {
            ActionError::Config(format!(
                "certificate {} in the extra CA file is not a valid X.509 certificate; check the file",
                i + 1
            ))
        })?;
    }
    Ok(certs)
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for HTTPS: TLS 1.2 and 1.3, webpki roots plus the extra CAs, no client certificate.
pub(crate) fn client_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, ActionError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots.add(cert.clone()).map_err(|_| {
            ActionError::Config("a certificate in the extra CA file is not valid; check the file".into())
        })?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ActionError::Config(format!("the TLS configuration could not be built: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
