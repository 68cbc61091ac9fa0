//! The gateway over TLS and mutual TLS: gRPC and HTTP both encrypted, a
//! client that does not trust the server's CA or has no certificate is
//! refused, and bad certificate files are refused at start-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig, TlsConfig};
use angzarr_coordinators::runtime::{self, Roles, Running};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// A CA and what it signed, as PEM files in a folder.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, file: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
            std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        leaf(vec!["localhost".into(), "127.0.0.1".into()], "server");
        leaf(vec!["client".into()], "client");
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        // A second, unrelated CA.
        let other_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        std::fs::write(dir.join("other-ca.pem"), other.self_signed(&other_key).unwrap().pem()).unwrap();
        Pki { dir: dir.to_path_buf() }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap()
    }
}

async fn start(dir: &Path, tls: TlsConfig) -> Result<Running, angzarr_coordinators::CoordinatorError> {
    let aggregates = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = Config::new(
        LogConfig::Embedded { path: dir.join("events.db"), partitions: 1, durability: Durability::Normal },
        GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: Some("127.0.0.1:0".parse().unwrap()),
            tls: Some(tls),
            ..Default::default()
        },
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(format!("http://{}", aggregates.addr), 100))]),
    );
    std::mem::forget(aggregates);
    let cfg = EmbeddedConfig { path: dir.join("events.db"), partitions: 1, durability: Durability::Normal };
    let log = EmbeddedLog::open(&cfg, config.log_domains()).unwrap();
    runtime::start(&config, Arc::new(log), Roles::ALL, Shutdown::new()).await
}

/// The health check over a channel with `tls`: Ok(status) or the error text.
async fn health(addr: std::net::SocketAddr, tls: ClientTlsConfig) -> Result<i32, String> {
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .map(|r| r.into_inner().status)
        .map_err(|e| format!("{e:?}"))
}

/// `GET path` over TLS trusting `ca`, presenting `client` (cert, key) if given.
async fn https_get(
    addr: std::net::SocketAddr,
    path: &str,
    ca: &[u8],
    client: Option<(&[u8], &[u8])>,
) -> Result<String, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert).map(Result::unwrap).collect(),
                PrivateKeyDer::from_pem_slice(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.map_err(|e| e.to_string())?;
    Ok(answer)
}

#[tokio::test]
async fn tls_serves_grpc_and_http_to_clients_that_trust_the_ca_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let tls = TlsConfig { cert: pki.file("server.pem"), key: pki.file("server.key"), client_ca: None };
    let running = start(dir.path(), tls).await.unwrap();
    let (grpc, http) = (running.grpc_addr.unwrap(), running.http_addr.unwrap());

    let trusted =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.read("ca.pem"))).domain_name("localhost");
    assert_eq!(health(grpc, trusted).await, Ok(1), "SERVING over TLS");
    let untrusted =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.read("other-ca.pem"))).domain_name("localhost");
    assert!(health(grpc, untrusted).await.is_err(), "a client that does not trust the CA is refused");
    // Plain text to a TLS listener is refused too.
    let plain = Channel::from_shared(format!("http://{grpc}")).unwrap().connect().await;
    if let Ok(channel) = plain {
        assert!(HealthClient::new(channel).check(HealthCheckRequest::default()).await.is_err());
    }

    let answer = https_get(http, "/healthz", &pki.read("ca.pem"), None).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(https_get(http, "/healthz", &pki.read("other-ca.pem"), None).await.is_err());
    running.stop().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_signed_by_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let tls =
        TlsConfig { cert: pki.file("server.pem"), key: pki.file("server.key"), client_ca: Some(pki.file("ca.pem")) };
    let running = start(dir.path(), tls).await.unwrap();
    let (grpc, http) = (running.grpc_addr.unwrap(), running.http_addr.unwrap());
    let base =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.read("ca.pem"))).domain_name("localhost");
    let with_cert = base.clone().identity(Identity::from_pem(pki.read("client.pem"), pki.read("client.key")));
    assert_eq!(health(grpc, with_cert).await, Ok(1), "a client with a certificate of the CA is served");
    assert!(health(grpc, base).await.is_err(), "a client without a certificate is refused");

    let (cert, key) = (pki.read("client.pem"), pki.read("client.key"));
    let answer = https_get(http, "/healthz", &pki.read("ca.pem"), Some((&cert, &key))).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let refused = https_get(http, "/healthz", &pki.read("ca.pem"), None).await;
    assert!(refused.is_err() || refused.as_ref().is_ok_and(|a| a.is_empty()), "{refused:?}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn bad_certificate_files_are_refused_at_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let cases = [
        (TlsConfig { cert: pki.file("missing.pem"), key: pki.file("server.key"), client_ca: None }, "missing.pem"),
        (TlsConfig { cert: pki.file("server.pem"), key: pki.file("client.key"), client_ca: None }, "gateway.tls.key"),
        (TlsConfig { cert: pki.file("server.key"), key: pki.file("server.key"), client_ca: None }, "no certificate"),
    ];
    for (i, (tls, says)) in cases.into_iter().enumerate() {
        let data = dir.path().join(i.to_string());
        std::fs::create_dir_all(&data).unwrap();
        let err = start(&data, tls).await.err().expect("refused").to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
    // Positive control: the right files start.
    let ok = TlsConfig { cert: pki.file("server.pem"), key: pki.file("server.key"), client_ca: None };
    start(dir.path(), ok).await.unwrap().stop().await.unwrap();
}
