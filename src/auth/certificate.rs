//! App-only sign-in with a certificate: a client assertion (an RS256 JWT
//! with the certificate's `x5t` thumbprint, `aud` = the token endpoint,
//! `iss` = `sub` = the client id) signed with the certificate's key and
//! sent through azure_identity's ClientAssertionCredential.
//!
//! The certificate comes from a PFX/PKCS#12 file (with its password), a PEM
//! file (certificate and unencrypted key), or on Windows the CurrentUser or
//! LocalMachine "My" store by thumbprint (the key stays in the store).

use super::azure::{azure_client_options, require_https, AzureSource, SignInTransport};
use super::Secret;
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use azure_core::credentials::TokenCredential;
use azure_core::http::ClientMethodOptions;
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
};
use base64::Engine;
use ring::signature::RsaKeyPair;
use serde_json::json;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// How long an assertion is good for (MSAL uses ten minutes).
const ASSERTION_LIFETIME_SECONDS: i64 = 600;

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-1 thumbprint of a DER certificate (what `x5t` carries and what
/// the Azure portal and the Windows store show, in hex).
pub fn thumbprint_sha1(der: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// What signs the assertions.
enum Signer {
    Key(Box<RsaKeyPair>),
    #[cfg(windows)]
    Store(super::cert_store_windows::StoreKey),
}

/// A certificate and the means to sign with its key.
pub struct CertificateKey {
    cert_der: Vec<u8>,
    thumbprint: [u8; 20],
    subject: String,
    signer: Signer,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("subject", &self.subject)
            .field("thumbprint", &hex_upper(&self.thumbprint))
            .finish_non_exhaustive()
    }
}

fn invalid_file(path: &Path, what: impl fmt::Display) -> Error {
    Error::invalid(format!("certificatePath '{}': {what}", path.display()))
}

/// The subject of a certificate, for messages.
fn subject_of(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The RSAPublicKey DER inside a certificate's SubjectPublicKeyInfo.
fn public_key_of(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// Of several certificates, the one whose public key is the key pair's;
/// else the first (the platform then refuses the signature, in its words).
fn pick_certificate(certs: &[Vec<u8>], key: &RsaKeyPair) -> Option<Vec<u8>> {
    use ring::signature::KeyPair;
    let public = key.public_key().as_ref();
    certs
        .iter()
        .find(|c| public_key_of(c).is_some_and(|p| p == public))
        .or_else(|| certs.first())
        .cloned()
}

fn rsa_key(path: &Path, der: rustls_pki_types::PrivateKeyDer<'_>) -> Result<RsaKeyPair> {
    use rustls_pki_types::PrivateKeyDer as K;
    let parsed = match &der {
        K::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        K::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        K::Sec1(_) => {
            return Err(invalid_file(
                path,
                "the key is an EC key; Microsoft Entra ID needs an RSA certificate for a client assertion",
            ))
        }
        _ => return Err(invalid_file(path, "the private key is of a kind that is not known")),
    };
    parsed.map_err(|e| {
        invalid_file(
            path,
            format!("the private key is not a usable RSA key of 2048 bits or more ({e})"),
        )
    })
}

impl CertificateKey {
    /// Load a PFX (PKCS#12) or PEM file. A PFX needs its password (an empty
    /// one is tried when none is given); a PEM file holds the certificate
    /// and an unencrypted private key (PKCS#8 or PKCS#1).
    pub fn from_file(path: &str, password: Option<&Secret>) -> Result<CertificateKey> {
        let path = Path::new(path);
        let bytes =
            std::fs::read(path).map_err(|e| invalid_file(path, format!("cannot read it: {e}")))?;
        let bytes = zeroize::Zeroizing::new(bytes);
        // PEM is text with "-----BEGIN …" lines; anything else is taken for
        // a PFX (DER), whose parser says if it is not one.
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            Self::from_pem(path, &bytes)
        } else {
            Self::from_pfx(path, &bytes, password)
        }
    }

    fn from_pem(path: &Path, bytes: &[u8]) -> Result<CertificateKey> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(bytes)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| invalid_file(path, format!("not a PEM file: {e}")))?
            .into_iter()
            .map(|c| c.to_vec())
            .collect();
        if certs.is_empty() {
            return Err(invalid_file(path, "holds no CERTIFICATE block"));
        }
        let key = match PrivateKeyDer::from_pem_slice(bytes) {
            Ok(k) => k,
            Err(_) if bytes.windows(21).any(|w| w == b"ENCRYPTED PRIVATE KEY") => {
                return Err(invalid_file(
                    path,
                    "the private key is encrypted; give an unencrypted key, or a PFX file with certificatePassword",
                ))
            }
            Err(_) => {
                return Err(invalid_file(
                    path,
                    "holds no private key (PRIVATE KEY or RSA PRIVATE KEY block) next to the certificate",
                ))
            }
        };
        let key = rsa_key(path, key)?;
        let cert = pick_certificate(&certs, &key).expect("not empty");
        Ok(Self::with_key(cert, key))
    }

    fn from_pfx(path: &Path, bytes: &[u8], password: Option<&Secret>) -> Result<CertificateKey> {
        let password = password.map(|p| p.expose()).unwrap_or("");
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password).map_err(|e| {
            use p12_keystore::error::Error as P;
            match e {
                P::MacError(_) => Error::new(
                    ErrorKind::Authentication,
                    format!(
                        "certificatePath '{}': the certificate password is wrong (the PFX file's integrity check failed)",
                        path.display()
                    ),
                ),
                other => invalid_file(path, format!("not a PFX/PKCS#12 or PEM file ({other})")),
            }
        })?;
        let Some(bag) = archive.keys.first() else {
            return Err(invalid_file(path, "the PFX file holds no private key"));
        };
        let key = RsaKeyPair::from_pkcs8(bag.key.as_der()).map_err(|e| {
            invalid_file(
                path,
                format!("the private key is not a usable RSA key of 2048 bits or more ({e})"),
            )
        })?;
        // The certificate of the key: by local key id, else by public key.
        let by_id = bag.local_key_id.as_ref().and_then(|id| {
            archive
                .certs
                .iter()
                .find(|c| c.local_key_id.as_deref() == Some(id.0.as_slice()))
        });
        let all: Vec<Vec<u8>> = archive
            .certs
            .iter()
            .map(|c| c.cert.as_der().to_vec())
            .collect();
        let cert = match by_id {
            Some(c) => c.cert.as_der().to_vec(),
            None => pick_certificate(&all, &key)
                .ok_or_else(|| invalid_file(path, "the PFX file holds no certificate"))?,
        };
        Ok(Self::with_key(cert, key))
    }

    fn with_key(cert_der: Vec<u8>, key: RsaKeyPair) -> CertificateKey {
        CertificateKey {
            thumbprint: thumbprint_sha1(&cert_der),
            subject: subject_of(&cert_der),
            cert_der,
            signer: Signer::Key(Box::new(key)),
        }
    }

    /// A certificate of the CurrentUser or LocalMachine "My" store, by its
    /// SHA-1 thumbprint (hex; spaces and colons are ignored).
    #[cfg(windows)]
    pub fn from_store(thumbprint: &str) -> Result<CertificateKey> {
        let wanted = parse_thumbprint(thumbprint)?;
        let (key, cert_der) = super::cert_store_windows::StoreKey::find(wanted)?;
        Ok(CertificateKey {
            thumbprint: thumbprint_sha1(&cert_der),
            subject: subject_of(&cert_der),
            cert_der,
            signer: Signer::Store(key),
        })
    }

    #[cfg(not(windows))]
    pub fn from_store(thumbprint: &str) -> Result<CertificateKey> {
        parse_thumbprint(thumbprint)?;
        Err(Error::invalid(
            "certificateThumbprint (a certificate of the Windows certificate store) is only available on Windows; give certificatePath (a PFX or PEM file) instead",
        ))
    }

    pub fn thumbprint_hex(&self) -> String {
        hex_upper(&self.thumbprint)
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// When the certificate stops being valid, if it can be read.
    pub fn not_after(&self) -> Option<time::OffsetDateTime> {
        let (_, c) = x509_parser::parse_x509_certificate(&self.cert_der).ok()?;
        Some(c.validity().not_after.to_datetime())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.signer {
            Signer::Key(key) => {
                let mut sig = vec![0u8; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| Error::internal("RS256 signing failed"))?;
                Ok(sig)
            }
            #[cfg(windows)]
            Signer::Store(key) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, message);
                key.sign_sha256(digest.as_ref())
            }
        }
    }

    /// A client assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": b64url(&self.thumbprint),
        });
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64url(&signature)))
    }
}

/// A thumbprint as 20 bytes: hex, with spaces, colons and the invisible
/// marks the Windows certificate dialog copies along ignored.
pub fn parse_thumbprint(s: &str) -> Result<[u8; 20]> {
    let hex: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '\u{200e}' && *c != '\u{200f}')
        .collect();
    let bad = || {
        Error::invalid(format!(
            "certificateThumbprint '{}' is not a SHA-1 thumbprint (40 hexadecimal digits)",
            crate::text::echo(s)
        ))
    };
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The assertion callback azure_identity asks for each token request.
struct Assertion {
    key: Arc<CertificateKey>,
    client_id: String,
    audience: String,
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assertion")
            .field("key", &self.key)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ClientAssertion for Assertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.key
            .assertion(&self.client_id, &self.audience)
            .map_err(|e| {
                azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.message)
            })
    }
}

/// A token source signing in as `client_id` with a certificate.
pub fn certificate_source(
    transport: &SignInTransport,
    authority: &url::Url,
    tenant_id: &str,
    client_id: &str,
    key: Arc<CertificateKey>,
    scope: String,
    log: &CallLog,
) -> Result<AzureSource> {
    require_https("certificate sign-in", authority)?;
    // The token endpoint azure_identity posts to, which `aud` must name.
    let audience = super::authority_endpoint(authority, tenant_id, "token")?.to_string();
    log.push(format!(
        "certificate {} (thumbprint {})",
        key.subject(),
        key.thumbprint_hex()
    ));
    if let Some(end) = key.not_after() {
        if end <= time::OffsetDateTime::now_utc() {
            log.push(format!(
                "warning: the certificate expired on {}; the sign-in will likely be refused",
                end.date()
            ));
        }
    }
    let (transport, authority) = (transport.clone(), authority.clone());
    let (tenant, client) = (tenant_id.to_string(), client_id.to_string());
    let at = format!("{}/{tenant_id}", authority.as_str().trim_end_matches('/'));
    let make = move || -> azure_core::Result<Arc<dyn TokenCredential>> {
        let assertion = Assertion {
            key: key.clone(),
            client_id: client.clone(),
            audience: audience.clone(),
        };
        let options = ClientAssertionCredentialOptions {
            client_options: azure_client_options(&transport, &authority),
        };
        let credential = ClientAssertionCredential::new(
            tenant.clone(),
            client.clone(),
            assertion,
            Some(options),
        )?;
        Ok(credential)
    };
    Ok(AzureSource::new(
        "certificate sign-in",
        at,
        scope,
        Box::new(make),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints() {
        let t = parse_thumbprint("a5 99:A5\u{200e}A4BD565D142FE0B4C72E22394F8BA08901").unwrap();
        assert_eq!(hex_upper(&t), "A599A5A4BD565D142FE0B4C72E22394F8BA08901");
        assert!(parse_thumbprint("abc").is_err());
        assert!(parse_thumbprint(&"g".repeat(40)).is_err());
    }
}
