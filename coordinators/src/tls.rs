//! TLS for the gateway's listeners, from PEM files.
//!
//! One set of files configures both listeners: tonic's own TLS for gRPC,
//! and a rustls server configuration for the HTTP listener. Files are read
//! and checked at start-up, so a missing or mismatched key is an error
//! naming the file before anything listens.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::CoordinatorError;
use crate::config::TlsConfig;

/// The gateway's TLS, ready for both listeners.
#[derive(Clone)]
pub struct ServerTls {
    /// For the gRPC listener.
    pub grpc: tonic::transport::ServerTlsConfig,
    /// For the HTTP listener.
    pub http: Arc<rustls::ServerConfig>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, CoordinatorError> {
    std::fs::read(path).map_err(|e| CoordinatorError::InvalidArgument(format!("{what} {}: {e}", path.display())))
}

fn bad(path: &Path, what: &str, e: impl std::fmt::Display) -> CoordinatorError {
    CoordinatorError::InvalidArgument(format!("{what} {}: {e}", path.display()))
}

/// Reads and checks the files of `config`.
pub fn load(config: &TlsConfig) -> Result<ServerTls, CoordinatorError> {
    let cert_pem = read(&config.cert, "gateway.tls.cert")?;
    let key_pem = read(&config.key, "gateway.tls.key")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&config.cert, "gateway.tls.cert", e))?;
    if certs.is_empty() {
        return Err(bad(&config.cert, "gateway.tls.cert", "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad(&config.key, "gateway.tls.key", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| CoordinatorError::InvalidArgument(format!("TLS: {e}")))?;
    let mut grpc =
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(&cert_pem, &key_pem));
    let builder = match &config.client_ca {
        Some(ca_path) => {
            let ca_pem = read(ca_path, "gateway.tls.client_ca")?;
            let mut roots = rustls::RootCertStore::empty();
            for ca in CertificateDer::pem_slice_iter(&ca_pem) {
                roots
                    .add(ca.map_err(|e| bad(ca_path, "gateway.tls.client_ca", e))?)
                    .map_err(|e| bad(ca_path, "gateway.tls.client_ca", e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(ca_path, "gateway.tls.client_ca", e))?;
            grpc = grpc.client_ca_root(tonic::transport::Certificate::from_pem(&ca_pem));
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut http = builder
        .with_single_cert(certs, key)
        .map_err(|e| bad(&config.key, "gateway.tls.key (does it match the certificate?)", e))?;
    http.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerTls { grpc, http: Arc::new(http) })
}
