//! Certificates of the Windows certificate store ("My" of CurrentUser, then
//! of LocalMachine), found by SHA-1 thumbprint. The private key never leaves
//! the store: assertions are signed by the key's provider (PKCS#1 v1.5
//! padding, SHA-256), through CNG (NCryptSignHash) or, for a key only a
//! legacy CSP holds, CryptoAPI (CryptSignHashW), so non-exportable keys work.
//!
//! Handles are opened for each use and closed before returning, so nothing
//! here needs to be shared between threads.

use crate::error::{Error, ErrorKind, Result};
use std::ffi::c_void;
use windows_sys::Win32::Foundation::{GetLastError, NTE_BAD_ALGID};
use windows_sys::Win32::Security::Cryptography::{
    CertCloseStore, CertFindCertificateInStore, CertFreeCertificateContext,
    CertGetCertificateContextProperty, CertOpenStore, CryptAcquireCertificatePrivateKey,
    CryptAcquireContextW, CryptCreateHash, CryptDestroyHash, CryptDestroyKey, CryptGetUserKey,
    CryptReleaseContext, CryptSetHashParam, CryptSignHashW, NCryptFreeObject, NCryptSignHash,
    AT_KEYEXCHANGE, AT_SIGNATURE, BCRYPT_PAD_PKCS1, BCRYPT_PKCS1_PADDING_INFO,
    BCRYPT_SHA256_ALGORITHM, CALG_SHA_256, CERT_CONTEXT, CERT_FIND_HASH,
    CERT_KEY_PROV_INFO_PROP_ID, CERT_NCRYPT_KEY_SPEC, CERT_STORE_OPEN_EXISTING_FLAG,
    CERT_STORE_PROV_SYSTEM_W, CERT_STORE_READONLY_FLAG, CERT_SYSTEM_STORE_CURRENT_USER,
    CERT_SYSTEM_STORE_LOCAL_MACHINE, CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG,
    CRYPT_ACQUIRE_SILENT_FLAG, CRYPT_INTEGER_BLOB, CRYPT_KEY_PROV_INFO, CRYPT_MACHINE_KEYSET,
    CRYPT_SILENT, HP_HASHVAL, MS_ENH_RSA_AES_PROV_W, PKCS_7_ASN_ENCODING, PROV_RSA_AES,
    PROV_RSA_FULL, X509_ASN_ENCODING,
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
    ///
    /// CNG is asked first (CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG: it also
    /// opens keys of Microsoft's software CSPs); a key only a legacy CSP can
    /// use (a smart card's, a third party's; under Wine every key) comes as
    /// a CryptoAPI provider handle instead. `dwKeySpec` says which one it is
    /// (CERT_NCRYPT_KEY_SPEC, or AT_SIGNATURE / AT_KEYEXCHANGE), and each is
    /// used and freed with its own API.
    pub fn sign_sha256(&self, digest: &[u8]) -> Result<Vec<u8>> {
        let thumbprint = super::certificate::hex_upper(&self.thumbprint);
        with_certificate(&self.thumbprint, |cert| {
            let mut key: usize = 0;
            let mut spec: u32 = 0;
            let mut must_free: windows_sys::core::BOOL = 0;
            // SAFETY: valid pointers to locals; the handle is freed below,
            // with the API of its kind, when the call says the caller owns it.
            let ok = unsafe {
                CryptAcquireCertificatePrivateKey(
                    cert,
                    CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG | CRYPT_ACQUIRE_SILENT_FLAG,
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
                        "the certificate {thumbprint} has no private key this account may use (CryptAcquireCertificatePrivateKey: {})",
                        last_error()
                    ),
                ));
            }
            let signed = if spec == CERT_NCRYPT_KEY_SPEC {
                let signed = ncrypt_sign_sha256(key, digest);
                if must_free != 0 {
                    // SAFETY: an NCrypt key handle we own (must_free).
                    unsafe {
                        NCryptFreeObject(key);
                    }
                }
                signed
            } else {
                let mut signed = cryptoapi_sign_sha256(key, spec, digest);
                if signed.as_ref().is_err_and(|e| e.no_sha256) {
                    // A key of Microsoft's RSA "Full" CSPs (Base, Strong,
                    // Enhanced), which know no SHA-256: its container, opened
                    // with the Enhanced RSA and AES CSP, signs SHA-256.
                    signed =
                        with_aes_provider(cert, |aes| cryptoapi_sign_sha256(aes, spec, digest))
                            .and_then(|s| s);
                }
                let signed = signed.map_err(|e| e.text);
                if must_free != 0 {
                    // SAFETY: a CryptoAPI provider handle we own (must_free).
                    unsafe {
                        CryptReleaseContext(key, 0);
                    }
                }
                signed
            };
            signed.map_err(|what| {
                Error::new(
                    ErrorKind::Authentication,
                    format!("signing with the key of certificate {thumbprint} failed ({what})"),
                )
            })
        })
    }
}

/// Sign a SHA-256 digest with a CNG key (NCryptSignHash, PKCS#1 v1.5).
fn ncrypt_sign_sha256(key: usize, digest: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let padding = BCRYPT_PKCS1_PADDING_INFO {
        pszAlgId: BCRYPT_SHA256_ALGORITHM,
    };
    let pad = &padding as *const BCRYPT_PKCS1_PADDING_INFO as *const c_void;
    let failed = |hr: i32| format!("NCryptSignHash: HRESULT 0x{hr:08X}");
    let mut size: u32 = 0;
    // SAFETY: `key` is a valid NCrypt key handle; the first call asks for
    // the size, the second fills a buffer of that size.
    unsafe {
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
            return Err(failed(hr));
        }
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
        if hr != 0 {
            return Err(failed(hr));
        }
        sig.truncate(size as usize);
        Ok(sig)
    }
}

/// The calling thread's last error, as Windows writes HRESULTs.
fn last_error() -> String {
    // SAFETY: no arguments.
    format!("error 0x{:08X}", unsafe { GetLastError() })
}

/// Why a CryptoAPI signature failed; `no_sha256`: the provider knows no
/// SHA-256 (NTE_BAD_ALGID from CryptCreateHash).
struct CryptoApiError {
    text: String,
    no_sha256: bool,
}

impl CryptoApiError {
    fn last(call: &str) -> CryptoApiError {
        CryptoApiError {
            text: format!("{call}: {}", last_error()),
            no_sha256: false,
        }
    }
}

/// Sign a SHA-256 digest with the key `spec` (AT_SIGNATURE or
/// AT_KEYEXCHANGE) of a CryptoAPI provider: a CALG_SHA_256 hash object given
/// the digest (HP_HASHVAL), CryptSignHashW (PKCS#1 v1.5). CryptoAPI writes
/// the signature little-endian; RS256 wants it big-endian.
fn cryptoapi_sign_sha256(
    prov: usize,
    spec: u32,
    digest: &[u8],
) -> std::result::Result<Vec<u8>, CryptoApiError> {
    if digest.len() != 32 {
        return Err(CryptoApiError {
            text: format!("a SHA-256 digest has 32 bytes, not {}", digest.len()),
            no_sha256: false,
        });
    }
    let spec = key_spec(prov, spec);
    let mut hash: usize = 0;
    // SAFETY: `prov` is a valid provider handle; the hash object made here
    // is destroyed before returning.
    unsafe {
        if CryptCreateHash(prov, CALG_SHA_256, 0, 0, &mut hash) == 0 {
            let no_sha256 = GetLastError() == NTE_BAD_ALGID as u32;
            let mut e = CryptoApiError::last("CryptCreateHash(CALG_SHA_256)");
            e.no_sha256 = no_sha256;
            return Err(e);
        }
        let signed = (|| {
            if CryptSetHashParam(hash, HP_HASHVAL, digest.as_ptr(), 0) == 0 {
                return Err(CryptoApiError::last("CryptSetHashParam(HP_HASHVAL)"));
            }
            let mut size: u32 = 0;
            let null = std::ptr::null();
            if CryptSignHashW(hash, spec, null, 0, std::ptr::null_mut(), &mut size) == 0 {
                return Err(CryptoApiError::last("CryptSignHashW"));
            }
            let mut sig = vec![0u8; size as usize];
            if CryptSignHashW(hash, spec, null, 0, sig.as_mut_ptr(), &mut size) == 0 {
                return Err(CryptoApiError::last("CryptSignHashW"));
            }
            sig.truncate(size as usize);
            Ok(big_endian(sig))
        })();
        CryptDestroyHash(hash);
        signed
    }
}

/// The key pair of `prov` to sign with. Windows documents dwKeySpec as
/// AT_SIGNATURE or AT_KEYEXCHANGE for a CryptoAPI key; Wine 8 writes 3 (both
/// bits) into the provider info of a key imported from a PFX, whose pair is
/// AT_KEYEXCHANGE: for such a value, the first of the two it names that the
/// container has a key for.
fn key_spec(prov: usize, spec: u32) -> u32 {
    if spec == AT_SIGNATURE || spec == AT_KEYEXCHANGE {
        return spec;
    }
    for candidate in [AT_KEYEXCHANGE, AT_SIGNATURE] {
        let mut key: usize = 0;
        // SAFETY: a valid provider handle; a key handle obtained is
        // destroyed at once.
        if spec & candidate != 0 && unsafe { CryptGetUserKey(prov, candidate, &mut key) } != 0 {
            unsafe {
                CryptDestroyKey(key);
            }
            return candidate;
        }
    }
    spec
}

/// Run `f` with the certificate's key container opened by the Microsoft
/// Enhanced RSA and AES CSP (PROV_RSA_AES), for a key of a PROV_RSA_FULL
/// CSP; the provider handle is released before returning.
fn with_aes_provider<T>(
    cert: *const CERT_CONTEXT,
    f: impl FnOnce(usize) -> T,
) -> std::result::Result<T, CryptoApiError> {
    let not_full = |what: String| CryptoApiError {
        text: format!("the key's CSP knows no SHA-256 ({what})"),
        no_sha256: false,
    };
    // SAFETY: `cert` is a valid context; the property is read into a
    // buffer of the size the first call names, aligned for
    // CRYPT_KEY_PROV_INFO, whose strings point into that buffer.
    unsafe {
        let mut size: u32 = 0;
        if CertGetCertificateContextProperty(
            cert,
            CERT_KEY_PROV_INFO_PROP_ID,
            std::ptr::null_mut(),
            &mut size,
        ) == 0
        {
            return Err(not_full(format!(
                "CertGetCertificateContextProperty(CERT_KEY_PROV_INFO_PROP_ID): {}",
                last_error()
            )));
        }
        let mut buffer = vec![0u64; (size as usize).div_ceil(8)];
        if CertGetCertificateContextProperty(
            cert,
            CERT_KEY_PROV_INFO_PROP_ID,
            buffer.as_mut_ptr() as *mut c_void,
            &mut size,
        ) == 0
            || (size as usize) < std::mem::size_of::<CRYPT_KEY_PROV_INFO>()
        {
            return Err(not_full(format!(
                "CertGetCertificateContextProperty(CERT_KEY_PROV_INFO_PROP_ID): {}",
                last_error()
            )));
        }
        let info = &*(buffer.as_ptr() as *const CRYPT_KEY_PROV_INFO);
        if info.dwProvType != PROV_RSA_FULL {
            return Err(not_full(format!(
                "provider type {}, not PROV_RSA_FULL",
                info.dwProvType
            )));
        }
        let mut prov: usize = 0;
        if CryptAcquireContextW(
            &mut prov,
            info.pwszContainerName,
            MS_ENH_RSA_AES_PROV_W,
            PROV_RSA_AES,
            CRYPT_SILENT | (info.dwFlags & CRYPT_MACHINE_KEYSET),
        ) == 0
        {
            return Err(not_full(format!(
                "CryptAcquireContextW of its container with the Enhanced RSA and AES CSP: {}",
                last_error()
            )));
        }
        let result = f(prov);
        CryptReleaseContext(prov, 0);
        Ok(result)
    }
}

/// A CryptoAPI signature (least significant byte first) in the order of
/// PKCS#1 and JWS (most significant byte first).
fn big_endian(mut little_endian: Vec<u8>) -> Vec<u8> {
    little_endian.reverse();
    little_endian
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cryptoapi_signature_is_reversed_into_big_endian() {
        assert_eq!(super::big_endian(vec![1, 2, 3, 0x80]), vec![0x80, 3, 2, 1]);
    }
}
