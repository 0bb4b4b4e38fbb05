//! The verifier of servers' certificates with `caCertificatePath`
//! (src/transport.rs, issue 15): webpki over the explicit roots, and the
//! platform verifier for any certificate that does not chain to them.
//!
//! Found under Wine: the platform verifier's own extra roots need, on
//! Windows, a certificate chain engine with an exclusive root store that
//! Wine 8 refuses (E_INVALIDARG), so no session with `caCertificatePath`
//! could be made there. These tests pin down that the verifier that took its
//! place accepts what the explicit CA signed for the name, and nothing else:
//! not another host's name, not an expired certificate, not one for client
//! authentication only, not one of an unknown issuer or a self-signed one,
//! and not the explicit CA's certificates without `caCertificatePath`; and
//! that the system's roots still count beside the explicit ones.
#![cfg(feature = "emulator")]

use mscommerce::options::SessionOptions;
use mscommerce::transport::server_verifier;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::{CertificateError, Error as TlsError};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Leaf {
    Good,
    Expired,
    ClientAuthOnly,
}

/// A server certificate for localhost and 127.0.0.1, signed by `ca` (or
/// self-signed when `ca` is None).
fn leaf(ca: Option<&Ca>, kind: Leaf) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![if kind == Leaf::ClientAuthOnly {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    if kind == Leaf::Expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    cert.der().clone()
}

fn options(ca_file: Option<&Path>) -> SessionOptions {
    SessionOptions {
        ca_certificate_path: ca_file.map(Path::to_path_buf),
        ..SessionOptions::default()
    }
}

fn verify(
    options: &SessionOptions,
    cert: &CertificateDer<'static>,
    host: &str,
) -> Result<(), TlsError> {
    let verifier = server_verifier(options).expect("a verifier");
    let name = ServerName::try_from(host.to_string()).unwrap();
    verifier
        .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
        .map(|_| ())
}

fn write_ca(dir: &tempfile::TempDir, ca: &Ca) -> std::path::PathBuf {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &ca.pem).unwrap();
    path
}

fn is_certificate_error(e: &TlsError, what: fn(&CertificateError) -> bool) -> bool {
    matches!(e, TlsError::InvalidCertificate(c) if what(c))
}

/// Verify a certificate of the kind `kind`, signed by the explicit CA, for
/// each of `hosts`, with that CA as `caCertificatePath`.
fn with_explicit_ca(kind: Leaf, hosts: &[&str]) -> Vec<Result<(), TlsError>> {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("transport test CA");
    let options = options(Some(&write_ca(&dir, &ca)));
    let cert = leaf(Some(&ca), kind);
    hosts.iter().map(|h| verify(&options, &cert, h)).collect()
}

/// Each result is this certificate error.
fn assert_refused(results: Vec<Result<(), TlsError>>, what: fn(&CertificateError) -> bool) {
    for result in results {
        let e = result.expect_err("refused");
        assert!(is_certificate_error(&e, what), "{e:?}");
    }
}

#[test]
fn a_certificate_of_the_explicit_ca_is_accepted_for_its_names() {
    for result in with_explicit_ca(Leaf::Good, &["localhost", "127.0.0.1"]) {
        result.expect("accepted");
    }
}

#[test]
fn another_host_name_is_refused() {
    let hosts = ["example.com", "127.0.0.2", "localhost.example"];
    assert_refused(with_explicit_ca(Leaf::Good, &hosts), |c| {
        matches!(
            c,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    });
}

#[test]
fn an_expired_certificate_of_the_explicit_ca_is_refused() {
    assert_refused(with_explicit_ca(Leaf::Expired, &["localhost"]), |c| {
        matches!(
            c,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        )
    });
}

#[test]
fn a_certificate_for_client_authentication_only_is_refused() {
    assert_refused(
        with_explicit_ca(Leaf::ClientAuthOnly, &["localhost"]),
        |c| {
            matches!(
                c,
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }
            )
        },
    );
}

#[test]
fn certificates_the_explicit_ca_did_not_sign_are_the_systems_to_judge_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = ca("transport test CA");
    let other = ca("another CA");
    let options = options(Some(&write_ca(&dir, &trusted)));
    for (what, cert) in [
        ("another CA's", leaf(Some(&other), Leaf::Good)),
        ("a self-signed", leaf(None, Leaf::Good)),
    ] {
        let e = verify(&options, &cert, "localhost").expect_err(what);
        assert!(
            matches!(e, TlsError::InvalidCertificate(_)),
            "{what}: {e:?}"
        );
    }
}

#[test]
fn without_ca_certificate_path_the_ca_is_not_trusted() {
    let ca = ca("transport test CA");
    let e = verify(&options(None), &leaf(Some(&ca), Leaf::Good), "localhost").unwrap_err();
    assert!(matches!(e, TlsError::InvalidCertificate(_)), "{e:?}");
}

#[test]
fn a_ca_file_without_certificates_is_an_error_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let Err(e) = server_verifier(&options(Some(&path))) else {
        panic!("a verifier from a file without certificates");
    };
    assert!(e.to_string().contains("caCertificatePath"), "{e}");
}

/// The system's roots still count with `caCertificatePath`: on Linux the
/// platform verifier reads `SSL_CERT_FILE` of the process, so this test runs
/// itself again in a child process whose `SSL_CERT_FILE` names a "system"
/// CA, and there verifies a certificate of that CA with another CA as
/// `caCertificatePath`.
#[cfg(target_os = "linux")]
#[test]
fn a_certificate_of_a_system_root_is_still_accepted_with_ca_certificate_path() {
    const CHILD: &str = "MSCOMMERCE_TEST_TRANSPORT_CHILD";
    const NAME: &str = "a_certificate_of_a_system_root_is_still_accepted_with_ca_certificate_path";
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = Path::new(&dir);
        let options = options(Some(&dir.join("explicit.pem")));
        let cert = CertificateDer::from(std::fs::read(dir.join("leaf.der")).unwrap());
        verify(&options, &cert, "localhost").expect("a certificate of a system root");
        let e = verify(&options, &cert, "example.com").unwrap_err();
        assert!(
            is_certificate_error(&e, |c| matches!(
                c,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )),
            "{e:?}"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let system = ca("transport test system CA");
    let explicit = ca("transport test CA");
    std::fs::write(dir.path().join("system.pem"), &system.pem).unwrap();
    std::fs::write(dir.path().join("explicit.pem"), &explicit.pem).unwrap();
    std::fs::write(
        dir.path().join("leaf.der"),
        leaf(Some(&system), Leaf::Good).as_ref(),
    )
    .unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, dir.path())
        .env("SSL_CERT_FILE", dir.path().join("system.pem"))
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}
