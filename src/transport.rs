//! The one HTTP client of a session: rustls with TLS 1.2 or newer, the
//! operating system's trust store plus optional extra roots, proxy,
//! timeouts, keep-alive, and a cap on response bodies.
//!
//! The environment variables that shape it (proxies, and on Linux the trust
//! store's `SSL_CERT_FILE`/`SSL_CERT_DIR`) come from the session's
//! [`EnvironmentVariables`]: reqwest and the platform verifier read only the
//! process environment, so for a host's snapshot that differs from it this
//! module does their reading itself, the same way.

use crate::environment::{EnvironmentVariables, PROXY_VARIABLES};
use crate::error::{Error, ErrorKind, Result};
use crate::options::SessionOptions;
use std::sync::Arc;
use std::time::Duration;

/// Responses larger than this are refused (a broken or hostile server must
/// not exhaust memory). The full product catalogue is a few kilobytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn user_agent() -> String {
    format!(
        "mscommerce-rs/{} ({}; {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The crypto provider used for every TLS connection (ring: portable, and it
/// cross-builds for Windows with mingw without cmake or nasm).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS client configuration: TLS 1.3 and 1.2 only, the certificates of
/// servers checked by [`server_verifier`].
pub fn tls_config(options: &SessionOptions) -> Result<rustls::ClientConfig> {
    let provider = crypto_provider();
    let verifier = server_verifier(options)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::internal(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The verifier of servers' certificates (chain to a trusted root, validity
/// dates, the serverAuth purpose, the host name or IP address):
///
/// - by default the platform verifier: the Windows certificate store, the
///   macOS keychain, the system bundle on Linux, so corporate TLS
///   inspection roots are honoured;
/// - on Linux and the other Unix systems but macOS, when the session's
///   snapshot of `SSL_CERT_FILE`/`SSL_CERT_DIR` differs from the process's:
///   webpki over the roots those name, plus `caCertificatePath`'s;
/// - with `caCertificatePath`: webpki over its certificates (they are the
///   user's explicit trust, the same on every system), and for a
///   certificate that does not chain to them, the platform verifier as
///   without it ([`ExtraRootsVerifier`]). Not the platform verifier's own
///   extra roots: on Windows they need a certificate chain engine with an
///   exclusive root store, which Wine 8 refuses (E_INVALIDARG), so no
///   session could be made there at all.
pub fn server_verifier(
    options: &SessionOptions,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>> {
    let provider = crypto_provider();
    let extra = match &options.ca_certificate_path {
        None => Vec::new(),
        Some(path) => load_pem_certificates(path)?,
    };
    let cannot_load = |e: rustls::Error| {
        Error::new(
            ErrorKind::Network,
            format!("cannot load the system's trusted certificates: {e}"),
        )
    };
    let webpki = |store: rustls::RootCertStore| {
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(store),
            provider.clone(),
        )
        .build()
        .map_err(|e| Error::internal(format!("TLS verifier: {e}")))
    };
    let mut extra_store = rustls::RootCertStore::empty();
    for cert in extra {
        extra_store.add(cert).map_err(|e| {
            Error::invalid(format!(
                "caCertificatePath '{}' holds a certificate that cannot be a trusted root: {e}",
                options
                    .ca_certificate_path
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            ))
        })?;
    }
    if let Some(roots) = unix_roots_from_snapshot(&options.environment_variables) {
        let mut store = extra_store;
        store.add_parsable_certificates(roots);
        if store.is_empty() {
            return Err(cannot_load(rustls::Error::General(
                "No CA certificates were loaded from the system".into(),
            )));
        }
        return Ok(webpki(store)?);
    }
    let platform = rustls_platform_verifier::Verifier::new(provider.clone());
    if extra_store.is_empty() {
        return Ok(Arc::new(platform.map_err(cannot_load)?));
    }
    Ok(Arc::new(ExtraRootsVerifier {
        extra: webpki(extra_store)?,
        // A system without roots of its own (a Linux container without a
        // bundle) still reaches the servers of the explicit ones.
        platform: platform
            .ok()
            .map(|p| Arc::new(p) as Arc<dyn rustls::client::danger::ServerCertVerifier>),
    }))
}

/// The verifier with `caCertificatePath`: a certificate that webpki accepts
/// as chaining to those roots (and valid for the name, now, for serverAuth)
/// is accepted; any other is the platform verifier's to judge, exactly as
/// without `caCertificatePath`. So it accepts nothing that one of the two
/// would refuse on its own: an explicit root adds trust in what it signed,
/// and takes none away from the system's. The handshake signatures are
/// checked with the crypto provider's algorithms, as both verifiers do.
#[derive(Debug)]
pub struct ExtraRootsVerifier {
    extra: Arc<rustls::client::WebPkiServerVerifier>,
    platform: Option<Arc<dyn rustls::client::danger::ServerCertVerifier>>,
}

impl rustls::client::danger::ServerCertVerifier for ExtraRootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let by_extra = self.extra.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let extra_error = match by_extra {
            Ok(verified) => return Ok(verified),
            Err(e) => e,
        };
        let Some(platform) = &self.platform else {
            return Err(extra_error);
        };
        platform
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|platform_error| {
                // Not issued under the explicit roots: the system's reason.
                // Otherwise (another host's name, expired, ...) webpki's,
                // which names what is wrong with the certificate.
                if matches!(
                    extra_error,
                    rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
                ) {
                    platform_error
                } else {
                    extra_error
                }
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.extra.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.extra.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.extra.supported_verify_schemes()
    }
}

/// Where the system's roots are on Linux and the other Unix systems but
/// macOS (and Android), when a snapshot's `SSL_CERT_FILE`/`SSL_CERT_DIR`
/// differ from the process's: the platform verifier would read the
/// process's, so the roots are read here as rustls-native-certs reads them
/// (those variables when either is set, else the first bundle file and the
/// directories of openssl-probe's lists). `None`: the platform verifier
/// decides (the process environment, or another system's own store).
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
fn unix_roots_from_snapshot(
    env: &EnvironmentVariables,
) -> Option<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use std::path::{Path, PathBuf};
    if env.agrees_with_process(&crate::environment::TLS_VARIABLES) {
        return None;
    }
    let mut file = env.var("SSL_CERT_FILE").map(PathBuf::from);
    let mut dirs: Vec<PathBuf> = env
        .var("SSL_CERT_DIR")
        .map(|d| {
            std::env::split_paths(&d)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if file.is_none() && dirs.is_empty() {
        // openssl-probe's lists for Linux; its default elsewhere.
        const FILES: &[&str] = if cfg!(target_os = "linux") {
            &[
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/ca-bundle.pem",
                "/etc/pki/tls/cacert.pem",
                "/etc/ssl/cert.pem",
                "/opt/etc/ssl/certs/ca-certificates.crt",
                "/etc/ssl/certs/cacert.pem",
            ]
        } else {
            &["/etc/ssl/certs/ca-certificates.crt"]
        };
        const DIRS: &[&str] = if cfg!(target_os = "linux") {
            &[
                "/etc/ssl/certs",
                "/etc/pki/tls/certs",
                "/etc/security/certificates",
            ]
        } else {
            &["/etc/ssl/certs"]
        };
        file = FILES.iter().map(PathBuf::from).find(|p| p.exists());
        dirs = DIRS
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
    }
    // Unreadable files and blocks that are not certificates are skipped, as
    // the platform verifier skips them; each file is read once (directories
    // hold links to the same certificates under several names).
    let mut seen = std::collections::HashSet::new();
    let mut certs = Vec::new();
    let mut read = |path: &Path| {
        let Ok(real) = std::fs::canonicalize(path) else {
            return;
        };
        if !seen.insert(real.clone()) || !real.is_file() {
            return;
        }
        if let Ok(bytes) = std::fs::read(&real) {
            certs.extend(pem_certificates(&bytes).into_iter().flatten());
        }
    };
    if let Some(f) = &file {
        read(f);
    }
    for dir in &dirs {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                read(&entry.path());
            }
        }
    }
    Some(certs)
}

/// Elsewhere the trust store reads no environment variable.
#[cfg(not(all(unix, not(target_vendor = "apple"), not(target_os = "android"))))]
fn unix_roots_from_snapshot(
    _env: &EnvironmentVariables,
) -> Option<Vec<rustls_pki_types::CertificateDer<'static>>> {
    None
}

/// The CERTIFICATE blocks of a PEM file (each parsed or failed).
fn pem_certificates(
    bytes: &[u8],
) -> Vec<std::result::Result<rustls_pki_types::CertificateDer<'static>, rustls_pki_types::pem::Error>>
{
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(bytes).collect()
}

fn load_pem_certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid(format!(
            "caCertificatePath '{}' cannot be read: {e}",
            path.display()
        ))
    })?;
    let certs: Vec<_> = pem_certificates(&bytes)
        .into_iter()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            Error::invalid(format!(
                "caCertificatePath '{}' is not PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "caCertificatePath '{}' holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

/// Build the session's HTTP client. Redirects are not followed (the API does
/// not redirect, and a redirect must never carry the bearer token elsewhere).
pub fn build_client(options: &SessionOptions) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(options)?)
        .user_agent(user_agent())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.timeout.min(Duration::from_secs(30)))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(60));
    if let Some(proxy) = &options.proxy {
        // A proxy given explicitly carries every request, loopback included.
        let p = reqwest::Proxy::all(proxy.as_str()).map_err(|e| {
            Error::invalid(format!(
                "proxy '{}': {e}",
                crate::options::without_password(proxy.as_str())
            ))
        })?;
        builder = builder.proxy(p);
    } else if !options
        .environment_variables
        .agrees_with_process(&PROXY_VARIABLES)
    {
        // A snapshot that differs from the process: reqwest's system proxy
        // would read the process, so its variables are read here instead.
        builder = builder.no_proxy();
        for p in proxies_from_variables(&options.environment_variables) {
            builder = builder.proxy(p);
        }
    }
    // Otherwise reqwest's system proxy: the process's variables (the same
    // as the snapshot's, if one was given), and on Windows and macOS the
    // system's proxy settings where no variable names a proxy.
    builder
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
}

type MakeProxy = fn(&str) -> reqwest::Result<reqwest::Proxy>;

/// The proxies the variables name, read as reqwest (hyper-util) reads them
/// from the process: `HTTP_PROXY` for http:// URLs and `HTTPS_PROXY` for
/// https:// ones, `ALL_PROXY` for either when those are not set, each name
/// in upper case first, then lower case; `NO_PROXY` exempts hosts from all
/// of them; a value that is not a proxy URL is ignored; none in a CGI
/// process (`REQUEST_METHOD` set). Reading a snapshot in the process's place
/// loses one thing only: on Windows and macOS, the system's proxy settings.
pub fn proxies_from_variables(env: &EnvironmentVariables) -> Vec<reqwest::Proxy> {
    if env.is_set("REQUEST_METHOD") {
        return Vec::new();
    }
    let no_proxy = env
        .first(&["NO_PROXY", "no_proxy"])
        .and_then(|n| reqwest::NoProxy::from_string(&n));
    let mut proxies = Vec::new();
    let mut add = |names: [&str; 2], make: MakeProxy| {
        if let Some(url) = env.first(&names).filter(|u| !u.is_empty()) {
            if let Ok(p) = make(&url) {
                proxies.push(p.no_proxy(no_proxy.clone()));
            }
        }
    };
    add(["HTTP_PROXY", "http_proxy"], |u| reqwest::Proxy::http(u));
    add(["HTTPS_PROXY", "https_proxy"], |u| reqwest::Proxy::https(u));
    add(["ALL_PROXY", "all_proxy"], |u| reqwest::Proxy::all(u));
    proxies
}

/// Whether a transport error is the server's certificate being refused
/// (unknown issuer, expired, another host's name, ...): trying again cannot
/// change that, so it is never retried. rustls's error sits in the chain,
/// directly or inside `io::Error`s (whose `source` skips the error they
/// wrap, so each is opened with `get_ref`).
pub fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return matches!(
            tls,
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
        );
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        if is_certificate_error(inner) {
            return true;
        }
    }
    e.source().is_some_and(is_certificate_error)
}

/// Whether a request that failed this way may be sent again: a dropped or
/// reset connection, a refused connect; not a certificate refused, not a
/// timeout (the budget is spent), not a request that cannot be built.
pub fn is_retryable(e: &reqwest::Error) -> bool {
    !(e.is_timeout() || e.is_builder() || is_certificate_error(e))
}

/// Map a transport error onto Network or Timeout, without the URL's query.
pub fn map_reqwest_error(e: &reqwest::Error) -> Error {
    if e.is_builder() {
        return Error::invalid("the request cannot be built from the input given");
    }
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Network
    };
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the connection failed"
    };
    // The error chain names causes such as DNS, TLS or a reset.
    let mut detail = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    let host = e
        .url()
        .map(|u| format!(" to {}", u.host_str().unwrap_or("?")))
        .unwrap_or_default();
    if detail.is_empty() {
        Error::new(kind, format!("{what}{host}"))
    } else {
        Error::new(kind, format!("{what}{host}: {detail}"))
    }
}

/// Read a response body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body_capped(mut response: reqwest::Response) -> Result<Vec<u8>> {
    if let Some(len) = response.content_length() {
        if len as usize > MAX_BODY_BYTES {
            return Err(too_large());
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| map_reqwest_error(&e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    drop(response);
    give_back_the_connection().await;
    Ok(body)
}

/// Let hyper put the connection of a response just read to its end back
/// into the pool before the caller's next request looks for an idle one.
///
/// hyper hands the connection back from a task of its own, woken once the
/// connection is ready for another request; a request that starts before
/// that task has run finds no idle connection and opens another one
/// (measured: 100 sequential calls of one session opened 2 connections in
/// 2 runs of 10, up to 7 with plain reqwest on 2 cores). Letting the
/// runtime's other tasks run (a tokio yield) and the other threads have
/// the CPU (an OS yield), twice, closes that window: 1 connection in 100
/// runs of 100 calls, for a few microseconds a call. Yields of the tokio
/// task alone made it worse (the spinning thread kept the core).
async fn give_back_the_connection() {
    for _ in 0..2 {
        tokio::task::yield_now().await;
        std::thread::yield_now();
    }
}

fn too_large() -> Error {
    Error::new(
        ErrorKind::Service,
        format!("the response is larger than {MAX_BODY_BYTES} bytes; refused"),
    )
}
