//! Network plumbing shared by the probers: TLS roots, name resolution and HTTP clients.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::reason::{FailureReason, ProbeError};

/// Install the ring crypto provider once per process (reqwest is built without a provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Errors loading TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    /// The file could not be read or parsed as PEM.
    #[error("{path}: {what}")]
    Bad {
        /// File path.
        path: String,
        /// What is wrong and what to do.
        what: String,
    },
}

/// Read every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bad = |what: String| TlsFileError::Bad {
        path: path.display().to_string(),
        what,
    };
    let pem = crate::files::read_bounded(path)
        .map_err(|e| bad(format!("cannot read certificates: {e}")))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "contains no PEM certificate (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// Read the private key of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let bad = |what: String| TlsFileError::Bad {
        path: path.display().to_string(),
        what,
    };
    let pem =
        crate::files::read_bounded(path).map_err(|e| bad(format!("cannot read the key: {e}")))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| bad(format!("no usable PEM private key: {e}")))
}

/// Verifies server certificates against the roots, and also accepts a server whose own
/// certificate is one of those given in `ca_file`: a self-signed certificate that marks itself a
/// CA (what `openssl req -x509` makes by default) is refused by WebPKI as an end entity
/// (`CaUsedAsEndEntity`), yet the operator said to trust exactly it. The host name and the
/// handshake signature are still checked.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(e)
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| e.clone())?;
                cert.verify_is_valid_for_subject_name(server_name)
                    .map_err(|_| e)?;
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client TLS configuration trusting the bundled web roots plus an optional extra CA file
/// (whose certificates are also accepted as the server's own, see [`PinningVerifier`]).
pub fn client_tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TlsFileError> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = Vec::new();
    if let Some(path) = ca_file {
        for cert in load_certs(path)? {
            roots.add(cert.clone()).map_err(|e| TlsFileError::Bad {
                path: path.display().to_string(),
                what: format!("certificate rejected: {e}"),
            })?;
            pinned.push(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| TlsFileError::Bad {
        path: ca_file.map(|p| p.display().to_string()).unwrap_or_default(),
        what: format!("cannot build a certificate verifier: {e}"),
    })?;
    let verifier = PinningVerifier {
        inner,
        pinned,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFileError::Bad {
            path: String::new(),
            what: format!("TLS versions: {e}"),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // Throughput tests need one TCP flow per stream, so never negotiate HTTP/2 multiplexing.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A server TLS configuration from PEM certificate chain and key files.
pub fn server_tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsFileError> {
    install_crypto_provider();
    let certs = load_certs(cert)?;
    let key = load_key(key)?;
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsFileError::Bad {
            path: cert.display().to_string(),
            what: format!("certificate and key do not form a usable pair: {e}"),
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// How host names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolver {
    /// The operating system's resolver (getaddrinfo).
    System,
    /// A specific DNS server queried directly over UDP.
    Server(SocketAddr),
}

impl Resolver {
    /// Resolve `host` to socket addresses on `port`; returns the lookup time in seconds (0 for
    /// IP literals, which need no lookup).
    pub async fn resolve(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(Vec<SocketAddr>, f64), ProbeError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok((vec![SocketAddr::new(ip, port)], 0.0));
        }
        let start = Instant::now();
        let addrs: Vec<SocketAddr> = match self {
            Resolver::System => {
                let fut = tokio::net::lookup_host((bare, port));
                match tokio::time::timeout(timeout, fut).await {
                    Err(_) => {
                        return Err(ProbeError::new(
                            FailureReason::Dns,
                            format!("resolving {host} timed out"),
                        ))
                    }
                    Ok(Err(e)) => {
                        return Err(ProbeError::new(
                            FailureReason::Dns,
                            format!("resolving {host}: {e}"),
                        ))
                    }
                    Ok(Ok(it)) => it.collect(),
                }
            }
            Resolver::Server(server) => crate::dns::resolve(*server, bare, timeout)
                .await
                .map_err(|e| {
                    let mut pe = ProbeError::from_error(&format!("resolving {host}"), &e);
                    pe.reason = FailureReason::Dns;
                    pe
                })?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
        };
        let secs = start.elapsed().as_secs_f64();
        if addrs.is_empty() {
            return Err(ProbeError::new(
                FailureReason::Dns,
                format!("{host} has no addresses"),
            ));
        }
        Ok((addrs, secs))
    }
}

/// Build an HTTP/1.1 client pinned to a resolved address, trusting `tls`.
pub fn http_client(
    host: &str,
    addr: SocketAddr,
    tls: &rustls::ClientConfig,
    connect_timeout: Duration,
) -> Result<reqwest::Client, ProbeError> {
    let mut b = reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(64)
        .user_agent(concat!("probe/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls.clone());
    if host.parse::<IpAddr>().is_err() {
        b = b.resolve(host, addr);
    }
    b.build()
        .map_err(|e| ProbeError::from_error("building HTTP client", &e))
}

/// Read a response body, failing with `protocol` past `limit_bytes` so a server that sends
/// endless data cannot exhaust memory.
pub async fn read_bounded(
    resp: &mut reqwest::Response,
    limit_bytes: usize,
) -> Result<Vec<u8>, ProbeError> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > limit_bytes {
                    return Err(ProbeError::new(
                        FailureReason::Protocol,
                        format!("response body larger than {limit_bytes} bytes"),
                    ));
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(ProbeError::from_error("reading response", &e)),
        }
    }
}

/// Check an HTTP status, mapping failures to `http_status`.
pub fn check_status(resp: &reqwest::Response) -> Result<(), ProbeError> {
    let s = resp.status();
    if s.is_success() {
        Ok(())
    } else {
        Err(ProbeError::new(
            FailureReason::HttpStatus,
            format!("{} answered HTTP {}", resp.url(), s.as_u16()),
        ))
    }
}

/// Shared handle to a client TLS configuration.
pub type ClientTls = Arc<rustls::ClientConfig>;
