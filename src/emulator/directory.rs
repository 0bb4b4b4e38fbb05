//! The emulator's built-in directory: one tenant, its users, apps and roles.
//! Printed by `mscommerce emulator`; tests sign in with these.

/// Directory role template ids carried in `wids`.
pub const ROLE_GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const ROLE_BILLING_ADMIN: &str = "b0f54661-2d74-4c50-afa3-1ec803f12efe";
pub const ROLE_GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

pub const TENANT_ID: &str = "5c0e7b52-3e1a-4c8b-9a61-0d9f6f2b7e10";
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";

pub struct User {
    /// Short name for tests and the control endpoint ("admin").
    pub key: &'static str,
    pub upn: &'static str,
    pub password: &'static str,
    pub object_id: &'static str,
    pub roles: &'static [&'static str],
}

pub const USERS: &[User] = &[
    User {
        key: "admin",
        upn: "admin@contoso.onmicrosoft.com",
        password: "Emulator-Admin-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000001",
        roles: &[ROLE_GLOBAL_ADMIN],
    },
    User {
        key: "billing",
        upn: "billing@contoso.onmicrosoft.com",
        password: "Emulator-Billing-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000002",
        roles: &[ROLE_BILLING_ADMIN],
    },
    User {
        key: "reader",
        upn: "reader@contoso.onmicrosoft.com",
        password: "Emulator-Reader-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000003",
        roles: &[ROLE_GLOBAL_READER],
    },
    User {
        key: "user",
        upn: "user@contoso.onmicrosoft.com",
        password: "Emulator-User-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000004",
        roles: &[],
    },
];

/// A confidential app; app-only tokens carry the directory roles assigned
/// to its service principal in `wids`.
pub struct App {
    pub key: &'static str,
    pub client_id: &'static str,
    /// Its client secret; `None`: it has none, so no secret signs it in.
    pub secret: Option<&'static str>,
    pub roles: &'static [&'static str],
}

pub const APPS: &[App] = &[
    App {
        key: "automation",
        client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01",
        secret: Some("emulator-app-secret"),
        roles: &[ROLE_BILLING_ADMIN],
    },
    App {
        key: "auditor",
        client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a02",
        secret: Some("emulator-auditor-secret"),
        roles: &[ROLE_GLOBAL_READER],
    },
];

/// Public clients allowed to sign users in: the published module's client
/// and a tenant's own app registration.
pub const PUBLIC_CLIENTS: &[&str] = &[
    crate::auth::MODULE_CLIENT_ID,
    "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a10",
];

pub fn user_by_key(key: &str) -> Option<&'static User> {
    USERS
        .iter()
        .chain(std::iter::once(&PARTNER_USER))
        .find(|u| u.key.eq_ignore_ascii_case(key))
}

pub fn user_by_upn(upn: &str) -> Option<&'static User> {
    USERS
        .iter()
        .chain(std::iter::once(&PARTNER_USER))
        .find(|u| u.upn.eq_ignore_ascii_case(upn))
}

// ---- the partner of the fleet (issue 11) ---------------------------------

/// The partner's (MSP's) own tenant: its multi-tenant app and its admin
/// live here; the customer tenants are the emulator's fleet
/// (`/_emulator/tenants`).
pub const PARTNER_TENANT_ID: &str = "0f0e0d0c-0000-4000-8000-00000000a000";
pub const PARTNER_TENANT_DOMAIN: &str = "fabrikampartners.onmicrosoft.com";

/// The partner's admin: Global Administrator at home; in a customer tenant
/// the roles its delegated (GDAP) access gives there, or none.
pub static PARTNER_USER: User = User {
    key: "partner",
    upn: "admin@fabrikampartners.onmicrosoft.com",
    password: "Emulator-Partner-1",
    object_id: "0a1b2c3d-0000-4000-8000-00000000a001",
    roles: &[ROLE_GLOBAL_ADMIN],
};

/// The partner's multi-tenant app: a client secret and the emulator's
/// certificate ([`CERTIFICATE_APP_CERT_PEM`]) both sign it in; it is known
/// in the partner tenant and in the customer tenants that consented to it
/// only (elsewhere the platform answers AADSTS700016).
pub static PARTNER_APP: App = App {
    key: "partner-app",
    client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a30",
    secret: Some("emulator-partner-secret"),
    roles: &[ROLE_BILLING_ADMIN],
};

/// The tenant a user's own tokens are for.
pub fn home_tenant(user: &User) -> &'static str {
    if std::ptr::eq(user, &PARTNER_USER) {
        PARTNER_TENANT_ID
    } else {
        TENANT_ID
    }
}

/// Whether a tenant path segment names the partner's tenant.
pub fn is_partner_tenant(tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(PARTNER_TENANT_ID)
        || tenant.eq_ignore_ascii_case(PARTNER_TENANT_DOMAIN)
}

pub fn app_by_client_id(id: &str) -> Option<&'static App> {
    APPS.iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(id))
        .or_else(|| Some(&CERTIFICATE_APP).filter(|a| a.client_id.eq_ignore_ascii_case(id)))
}

/// Whether a tenant path segment names the emulator's tenant; user flows
/// also accept `organizations` and `common`.
pub fn tenant_matches(tenant: &str, user_flow: bool) -> bool {
    tenant.eq_ignore_ascii_case(TENANT_ID)
        || tenant.eq_ignore_ascii_case(TENANT_DOMAIN)
        || (user_flow
            && (tenant.eq_ignore_ascii_case("organizations")
                || tenant.eq_ignore_ascii_case("common")))
}

/// Roles that may read policies, and those that may change them.
pub fn can_read(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r == ROLE_GLOBAL_ADMIN || r == ROLE_BILLING_ADMIN || r == ROLE_GLOBAL_READER)
}

pub fn can_write(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r == ROLE_GLOBAL_ADMIN || r == ROLE_BILLING_ADMIN)
}

// ---- certificate sign-in ------------------------------------------------

/// The app that signs in with a certificate (client assertion) only.
pub const CERTIFICATE_APP_CLIENT_ID: &str = "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a03";

/// Its registered certificate: RSA 2048, self-signed, valid until 2126.
/// Public test material, like the passwords above: never trust it anywhere.
pub const CERTIFICATE_APP_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIDPzCCAiegAwIBAgIUQ1ZZEhN91ALnF9hd3tFocbm3UQgwDQYJKoZIhvcNAQEL
BQAwLjEsMCoGA1UEAwwjTVNDb21tZXJjZSBlbXVsYXRvciBjZXJ0aWZpY2F0ZSBh
cHAwIBcNMjYxMTIxMDU1MDQ1WhgPMjEyNjEwMjgwNTUwNDVaMC4xLDAqBgNVBAMM
I01TQ29tbWVyY2UgZW11bGF0b3IgY2VydGlmaWNhdGUgYXBwMIIBIjANBgkqhkiG
9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+GJzokrAp70FpDTlV2PWmbjFSuQ2P8GXdtZA
a79tzq5jA7vlSqm0jSWtySu58ZdsiXsR61ZfKQv1lr7wl8h4FDWiYnxTdmqCz6MV
WDSqaca71pj9Zb3EOitDTvalOu5Ea/nwa5gEZxoinoavVhSNpDXGwNLmgdhTYT5f
9JK+AmaoqoPvRlYacyjWitXPcHEBhNlnvd+lj99MiFqagAlxkyjeVeZhavu4aQ3s
+uppxq2wqfG04sgkw/TUyMHFJueMxJj2YqUX/FW4azXQufyjHz35IHQCYF7ZigrL
Mawwiy0uf+Jd3LxFF6vjnv2XcPg+TgFEwEr7GSm2Z0SmaNID1QIDAQABo1MwUTAd
BgNVHQ4EFgQUZ/s8oBpHmO4IepwPEwHChnhD++QwHwYDVR0jBBgwFoAUZ/s8oBpH
mO4IepwPEwHChnhD++QwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOC
AQEAcvW6ednCEUYRd6Fy0SZuou4dfuPHOxSnizSpxvjxNhK+IKUA14dwB5vp/kk7
3sy8E1EGiUhghV6mdl+naZLJ7PXX9JPpGnwJCPwo6qthlU8Zg9V7sJgRKjRY7B/3
OzfL/euJmdsPbz/szRWWZ/jTdEfuHIZkAaSNfiHO96wP5a3irjZ0opWhGkvh7MhP
kzE8wb1vEl4NMY5pmGb+KLDzXdsPDpsE8AZ5bOADxJWPlorHrMMZ+DXZt7GsC1Ez
wSVYq5YMQ+Go+S4lneQr7U5tqoG12pubWgfF07G8d+42c89eHqEV7yrDy4gD0TTZ
Kt1EDSocrLn0/yiwa9ma4okywA==
-----END CERTIFICATE-----
";

/// The certificate's private key (PKCS#8), for tests and emulator users.
pub const CERTIFICATE_APP_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQD4YnOiSsCnvQWk
NOVXY9aZuMVK5DY/wZd21kBrv23OrmMDu+VKqbSNJa3JK7nxl2yJexHrVl8pC/WW
vvCXyHgUNaJifFN2aoLPoxVYNKppxrvWmP1lvcQ6K0NO9qU67kRr+fBrmARnGiKe
hq9WFI2kNcbA0uaB2FNhPl/0kr4CZqiqg+9GVhpzKNaK1c9wcQGE2We936WP30yI
WpqACXGTKN5V5mFq+7hpDez66mnGrbCp8bTiyCTD9NTIwcUm54zEmPZipRf8Vbhr
NdC5/KMfPfkgdAJgXtmKCssxrDCLLS5/4l3cvEUXq+Oe/Zdw+D5OAUTASvsZKbZn
RKZo0gPVAgMBAAECggEAAvP6B6LCN0b7iLAU+UeCFydyYl65OGPUVFYyw4qDQzL2
kWZL+78YcER+PvHf+ZErz1dLvL5fo5d1Ttqr9e9Xt3cgcZxPH7gfda7Xg59zVo5F
exqBihKfVnO04/zxtPQn6G1lytmuqmJ4qTrVCH3Lu06Ps4jZCGUqhJxJvBjR3SnA
9jYIXPMED+1LbpSakxw7FQphXZFjgI9tm4BV6ieXgBTXelVIDgBoj+coNNnoPwWi
WNHcKeJziYdAH4vdSvsw+T7yXEbnzH+i5Tw4ohCds4+jmBeEpfHd0rhikxNwgi2q
S241qN7K/6CCx8/5YhNWUD7Ov/V0Kr0NszMc9kNj9wKBgQD+tTozVWbMJ0Hny1wI
brcKV2hx4L24bmi+YN34Qbheidi7giPovsUWe1gwe2hhSsp0eYgIoITgrRPPnWF1
bKCbj6m7OhIm4rZ5nT9O+DiBt5UBbUyHH9D0WvP+uRd9X4gyVM7HeM+7LSwa1cJs
6iUM8/+nTVzwEEBCYuzn2IQQTwKBgQD5pQM8B3sMRocmbKr0fwZmsBwBN0rc/lSa
qZ0iOCBzrzsky7v96zLjUYTa4wXqm8wBZIfLxk34QR0KmkSZ7CsHn73NnvxiJ6lp
HvfrSy9fD37AezVBtlY5+kmSxHkExyiiqPeFY4BgmVe7GXq7dVbQ5KwHGgsUOdlf
yEdDc1ScmwKBgDVee8dtyZBVWXXcIniR2kCMeBIEaTxPxhq96USvYJZOg98mMaf+
8QT4602dTg20wh8Np/dGyxDYsyH5dAZKsIxn2cSlMlB7iIiK7kz5rb1gXhRidnqJ
rBrHRADHf6iBb+Q76Ofa5IvvtyIYUBjKJuFD7vl7OFIE1bITUFh0AZf5AoGAMjWT
AfbLM7vXoM3IUGZf5jVTXJc/UlVAtN6aQPCi7kF3Fr53L+mnEXsqyk9QuE/fZwRO
H5jhw6Vs7t36IC8UtHLXXMy2HBO4CfF1kXhMrcTTDGl7W50NmJmTRJaJdIGN1bFA
Hy7U+hi9QV8thRhjfp4PT1pYkhfUdWQ1mQZQJTMCgYEAmHmnhhi+bhDSTifcOXKA
o5lL+ANiOx6jTNXc743b81T72Su/EsiWXLuJmdM1iDMvQz4jWMjTEedLvug53dq8
R8ifAWK0HENqrB4RBi3XG5bv3cgfSyJrBFTusVMglz5/tdB+CAPCchCGGd283cL2
CqVM4WH8jYMdGvl2y0LQ7D8=
-----END PRIVATE KEY-----
";

/// SHA-1 thumbprint of [`CERTIFICATE_APP_CERT_PEM`], as the portal shows it.
pub const CERTIFICATE_APP_THUMBPRINT: &str = "A599A5A4BD565D142FE0B4C72E22394F8BA08901";

/// Password of the PFX made by [`certificate_app_pfx`].
pub const CERTIFICATE_APP_PFX_PASSWORD: &str = "Emulator-Pfx-1";

/// The certificate app. It has no client secret: it signs in with its
/// certificate only.
pub static CERTIFICATE_APP: App = App {
    key: "certificate",
    client_id: CERTIFICATE_APP_CLIENT_ID,
    secret: None,
    roles: &[ROLE_BILLING_ADMIN],
};

/// The certificate and key in one PEM file (what `--certificate` accepts).
pub fn certificate_app_pem() -> String {
    format!("{CERTIFICATE_APP_CERT_PEM}{CERTIFICATE_APP_KEY_PEM}")
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .expect("the built-in certificate is valid PEM")
}

/// The certificate and key as a PFX (PKCS#12: AES-256, HMAC-SHA256)
/// protected by [`CERTIFICATE_APP_PFX_PASSWORD`].
pub fn certificate_app_pfx() -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let key =
        rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(CERTIFICATE_APP_KEY_PEM.as_bytes())
            .expect("the built-in key is valid PEM");
    let key = p12_keystore::PrivateKey::from_der(key.secret_pkcs8_der()).expect("PKCS#8");
    let cert = p12_keystore::Certificate::from_der(&pem_der(CERTIFICATE_APP_CERT_PEM))
        .expect("the built-in certificate parses");
    let chain = p12_keystore::PrivateKeyChain::new(b"certificate-app".to_vec(), key, [cert]);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "certificate-app",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    store
        .writer(CERTIFICATE_APP_PFX_PASSWORD)
        .write()
        .expect("writing the built-in PFX")
}

/// The certificates (DER) registered on an app, for verifying assertions.
pub fn app_certificates(client_id: &str) -> Vec<Vec<u8>> {
    if client_id.eq_ignore_ascii_case(CERTIFICATE_APP_CLIENT_ID)
        || client_id.eq_ignore_ascii_case(PARTNER_APP.client_id)
    {
        vec![pem_der(CERTIFICATE_APP_CERT_PEM)]
    } else {
        Vec::new()
    }
}

// ---- managed identities -------------------------------------------------

/// The `IDENTITY_HEADER` secret of the emulator's App Service style managed
/// identity endpoint (`/msi/token`).
pub const MANAGED_IDENTITY_HEADER: &str = "emulator-identity-header";

/// The system-assigned identity (first) and a user-assigned one. They have
/// no secret: only the managed identity endpoints issue their tokens.
pub const MANAGED_IDENTITIES: &[App] = &[
    App {
        key: "system-assigned",
        client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a20",
        secret: None,
        roles: &[ROLE_BILLING_ADMIN],
    },
    App {
        key: "user-assigned",
        client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a21",
        secret: None,
        roles: &[ROLE_GLOBAL_READER],
    },
];

/// The sign-in section of `mscommerce emulator`'s banner beyond the users
/// and secret apps: the certificate app, managed identity, device code and
/// browser sign-in, for an emulator at `url`.
pub fn describe(url: &str) -> String {
    let mi = &MANAGED_IDENTITIES;
    format!(
        "Certificate app (certificate sign-in, tenant {TENANT_DOMAIN}):\n\
         \x20 {CERTIFICATE_APP_CLIENT_ID}  thumbprint {CERTIFICATE_APP_THUMBPRINT}\n\
         \x20 certificate and key: curl {url}/_emulator/certificate (pem, pfxBase64, pfxPassword)\n\
         Managed identity (App Service style; or IMDS through --proxy {url}):\n\
         \x20 IDENTITY_ENDPOINT={url}/msi/token IDENTITY_HEADER={MANAGED_IDENTITY_HEADER}\n\
         \x20 system-assigned {}   user-assigned (--client-id) {}\n\
         Device code: enter the code at {url}/device, or\n\
         \x20 curl -X POST {url}/_emulator/device/approve -H 'content-type: application/json' -d '{{\"user\":\"admin\"}}'\n\
         Browser sign-in (--interactive): pick a user on the page, or sign the browser in first:\n\
         \x20 curl -X POST {url}/_emulator/browser -H 'content-type: application/json' -d '{{\"user\":\"admin\"}}'\n\
         Partner of customer tenants (docs/fleet.md): tenant {PARTNER_TENANT_DOMAIN}, multi-tenant app {} (secret {}, or the certificate above),\n\
         \x20 admin {} / {}; customer tenants: POST {url}/_emulator/tenants, or {}=FILE at start\n\
         Control (catalogue, products, faults, counters, writes): curl {url}/_emulator lists every endpoint\n",
        mi[0].client_id,
        mi[1].client_id,
        PARTNER_APP.client_id,
        PARTNER_APP.secret.unwrap_or_default(),
        PARTNER_USER.upn,
        PARTNER_USER.password,
        super::fleet::TENANTS_FILE_VARIABLE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_app_material_agrees() {
        let der = pem_der(CERTIFICATE_APP_CERT_PEM);
        let thumbprint = crate::auth::certificate::thumbprint_sha1(&der);
        assert_eq!(
            crate::auth::certificate::hex_upper(&thumbprint),
            CERTIFICATE_APP_THUMBPRINT
        );
        assert_eq!(app_certificates(CERTIFICATE_APP_CLIENT_ID), vec![der]);
        assert!(app_certificates(APPS[0].client_id).is_empty());
        // The certificate app has no secret; the secret apps have one each.
        let app = app_by_client_id(CERTIFICATE_APP_CLIENT_ID).unwrap();
        assert!(app.secret.is_none());
        assert!(APPS.iter().all(|a| a.secret.is_some_and(|s| !s.is_empty())));
        assert!(!certificate_app_pfx().is_empty());
    }

    #[test]
    fn banner_names_every_way_in() {
        let d = describe("http://127.0.0.1:8400");
        println!("{d}");
        for s in [
            CERTIFICATE_APP_CLIENT_ID,
            CERTIFICATE_APP_THUMBPRINT,
            MANAGED_IDENTITY_HEADER,
            "http://127.0.0.1:8400/msi/token",
            "http://127.0.0.1:8400/device",
            "/_emulator/browser",
            "http://127.0.0.1:8400/_emulator lists",
            MANAGED_IDENTITIES[1].client_id,
            PARTNER_APP.client_id,
            "/_emulator/tenants",
        ] {
            assert!(d.contains(s), "{s}");
        }
    }
}
