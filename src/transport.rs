//! The one HTTP client of a session: rustls with TLS 1.2 or newer, the
//! operating system's trust store plus an optional extra root, proxy,
//! timeouts, keep-alive, and a cap on response bodies.

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

/// TLS client configuration: TLS 1.3 and 1.2 only, the platform verifier
/// (Windows certificate store, macOS keychain, the system bundle on Linux, so
/// corporate TLS inspection roots are honoured) plus the extra roots.
pub fn tls_config(options: &SessionOptions) -> Result<rustls::ClientConfig> {
    let provider = crypto_provider();
    let extra = match &options.ca_certificate_path {
        None => Vec::new(),
        Some(path) => load_pem_certificates(path)?,
    };
    // Without extra roots, the plain verifier: on Windows the extra-roots one
    // makes a certificate chain engine up front, which Wine 8 refuses
    // (E_INVALIDARG), so no session could be made there.
    let verifier = if extra.is_empty() {
        rustls_platform_verifier::Verifier::new(provider.clone())
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
    }
    .map_err(|e| {
        Error::new(
            ErrorKind::Network,
            format!("cannot load the system's trusted certificates: {e}"),
        )
    })?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::internal(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn load_pem_certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid(format!(
            "caCertificatePath '{}' cannot be read: {e}",
            path.display()
        ))
    })?;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
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
        let p = reqwest::Proxy::all(proxy.as_str())
            .map_err(|e| Error::invalid(format!("proxy '{proxy}': {e}")))?;
        builder = builder.proxy(p);
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
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
    Ok(body)
}

fn too_large() -> Error {
    Error::new(
        ErrorKind::Service,
        format!("the response is larger than {MAX_BODY_BYTES} bytes; refused"),
    )
}
