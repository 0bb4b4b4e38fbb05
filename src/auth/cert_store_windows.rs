//! Certificates of the Windows certificate store ("My" of CurrentUser, then
//! of LocalMachine), found by SHA-1 thumbprint. The private key never leaves
//! the store: assertions are signed through CNG (NCryptSignHash, PKCS#1
//! v1.5 padding, SHA-256), so non-exportable keys work.
//!
//! Handles are opened for each use and closed before returning, so nothing
//! here needs to be shared between threads.

use crate::error::{Error, ErrorKind, Result};
use std::ffi::c_void;
use windows_sys::Win32::Security::Cryptography::{
    CertCloseStore, CertFindCertificateInStore, CertFreeCertificateContext, CertOpenStore,
    CryptAcquireCertificatePrivateKey, NCryptFreeObject, NCryptSignHash, BCRYPT_PAD_PKCS1,
    BCRYPT_PKCS1_PADDING_INFO, BCRYPT_SHA256_ALGORITHM, CERT_CONTEXT, CERT_FIND_HASH,
    CERT_STORE_OPEN_EXISTING_FLAG, CERT_STORE_PROV_SYSTEM_W, CERT_STORE_READONLY_FLAG,
    CERT_SYSTEM_STORE_CURRENT_USER, CERT_SYSTEM_STORE_LOCAL_MACHINE,
    CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG, CRYPT_ACQUIRE_SILENT_FLAG, CRYPT_INTEGER_BLOB,
    PKCS_7_ASN_ENCODING, X509_ASN_ENCODING,
};

/// "My", NUL-terminated UTF-16.
const MY: [u16; 3] = [b'M' as u16, b'y' as u16, 0];

/// A key of a store certificate, named by the certificate's thumbprint.
pub struct StoreKey {
    thumbprint: [u8; 20],
}

/// Run `f` on the certificate with this thumbprint, in the first store that
/// has it.
fn with_certificate<T>(
    thumbprint: &[u8; 20],
    f: impl FnOnce(*const CERT_CONTEXT) -> Result<T>,
) -> Result<T> {
    for location in [
        CERT_SYSTEM_STORE_CURRENT_USER,
        CERT_SYSTEM_STORE_LOCAL_MACHINE,
    ] {
        // SAFETY: plain Win32 calls with valid arguments; every handle
        // obtained is released below before returning.
        unsafe {
            let store = CertOpenStore(
                CERT_STORE_PROV_SYSTEM_W,
                0,
                0,
                location | CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG,
                MY.as_ptr() as *const c_void,
            );
            if store.is_null() {
                continue;
            }
            let blob = CRYPT_INTEGER_BLOB {
                cbData: 20,
                pbData: thumbprint.as_ptr() as *mut u8,
            };
            let cert = CertFindCertificateInStore(
                store,
                X509_ASN_ENCODING | PKCS_7_ASN_ENCODING,
                0,
                CERT_FIND_HASH,
                &blob as *const CRYPT_INTEGER_BLOB as *const c_void,
                std::ptr::null(),
            );
            if cert.is_null() {
                CertCloseStore(store, 0);
                continue;
            }
            let result = f(cert);
            CertFreeCertificateContext(cert);
            CertCloseStore(store, 0);
            return result;
        }
    }
    Err(Error::invalid(format!(
        "no certificate with thumbprint {} in the CurrentUser or LocalMachine \"My\" store",
        super::certificate::hex_upper(thumbprint)
    )))
}

impl StoreKey {
    /// The certificate (DER) with this thumbprint and its key.
    pub fn find(thumbprint: [u8; 20]) -> Result<(StoreKey, Vec<u8>)> {
        let der = with_certificate(&thumbprint, |cert| {
            // SAFETY: `cert` is a valid context until freed by the caller.
            let der = unsafe {
                std::slice::from_raw_parts((*cert).pbCertEncoded, (*cert).cbCertEncoded as usize)
                    .to_vec()
            };
            Ok(der)
        })?;
        Ok((StoreKey { thumbprint }, der))
    }

    /// Sign a SHA-256 digest (RSASSA-PKCS1-v1_5) with the certificate's key.
    pub fn sign_sha256(&self, digest: &[u8]) -> Result<Vec<u8>> {
        with_certificate(&self.thumbprint, |cert| {
            let mut key: usize = 0;
            let mut spec: u32 = 0;
            let mut must_free: windows_sys::core::BOOL = 0;
            // SAFETY: valid pointers to locals; the key handle is freed
            // below when the call says the caller owns it.
            let ok = unsafe {
                CryptAcquireCertificatePrivateKey(
                    cert,
                    CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG | CRYPT_ACQUIRE_SILENT_FLAG,
                    std::ptr::null(),
                    &mut key,
                    &mut spec,
                    &mut must_free,
                )
            };
            if ok == 0 {
                return Err(Error::new(
                    ErrorKind::Authentication,
                    format!(
                        "the certificate {} has no private key this account may use through CNG (error {})",
                        super::certificate::hex_upper(&self.thumbprint),
                        std::io::Error::last_os_error()
                    ),
                ));
            }
            let padding = BCRYPT_PKCS1_PADDING_INFO {
                pszAlgId: BCRYPT_SHA256_ALGORITHM,
            };
            let pad = &padding as *const BCRYPT_PKCS1_PADDING_INFO as *const c_void;
            let mut size: u32 = 0;
            // SAFETY: first call asks for the size, second fills the buffer.
            let signed = unsafe {
                let hr = NCryptSignHash(
                    key,
                    pad,
                    digest.as_ptr(),
                    digest.len() as u32,
                    std::ptr::null_mut(),
                    0,
                    &mut size,
                    BCRYPT_PAD_PKCS1,
                );
                if hr != 0 {
                    Err(hr)
                } else {
                    let mut sig = vec![0u8; size as usize];
                    let hr = NCryptSignHash(
                        key,
                        pad,
                        digest.as_ptr(),
                        digest.len() as u32,
                        sig.as_mut_ptr(),
                        size,
                        &mut size,
                        BCRYPT_PAD_PKCS1,
                    );
                    sig.truncate(size as usize);
                    if hr != 0 {
                        Err(hr)
                    } else {
                        Ok(sig)
                    }
                }
            };
            if must_free != 0 {
                // SAFETY: we own the handle (must_free).
                unsafe {
                    NCryptFreeObject(key);
                }
            }
            signed.map_err(|hr| {
                Error::new(
                    ErrorKind::Authentication,
                    format!(
                        "signing with the key of certificate {} failed (HRESULT 0x{hr:08X})",
                        super::certificate::hex_upper(&self.thumbprint)
                    ),
                )
            })
        })
    }
}
