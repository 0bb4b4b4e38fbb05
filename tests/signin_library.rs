//! Every sign-in flow through the library (`Session::connect` and `get`)
//! against the emulator over real loopback HTTP and HTTPS: the flows end to
//! end, their failures in the platform's words (MSC_AUTHENTICATION), the
//! two-step flows' pending answers, sessions outliving their first token,
//! and the clouds' authorities.
#![cfg(feature = "emulator")]

mod signin_support;

use mscommerce::auth::{EXPIRED_MESSAGE, MODULE_CLIENT_ID};
use mscommerce::emulator::directory;
use mscommerce::{ErrorKind, Session};
use serde_json::{json, Value};
use signin_support::*;
use std::time::Duration;

#[tokio::test]
async fn password_sign_in_and_wrong_password() {
    let (_emu, _dir, s) = setup(false, 3600);
    let info = connect(&s, password_request()).await.unwrap();
    assert_eq!(info["Flow"], "Password");
    assert_eq!(info["Account"], ADMIN);
    assert_eq!(info["TenantId"], directory::TENANT_ID);
    works(&s).await;

    let mut bad = password_request();
    bad["password"] = json!("not-the-password");
    assert_auth(connect(&s, bad).await, "AADSTS50126");
}

#[tokio::test]
async fn client_secret_sign_in_and_wrong_secret() {
    let (_emu, dir, s) = setup(true, 3600);
    let info = connect(&s, secret_request()).await.unwrap();
    assert_eq!(info["Flow"], "ClientSecret");
    assert_eq!(info["ClientId"], APP_ID);
    assert_eq!(info["Account"], APP_ID);
    works(&s).await;

    let mut bad = secret_request();
    bad["clientSecret"] = json!("not-the-secret");
    let e = assert_auth(connect(&s, bad).await, "AADSTS7000215");
    assert!(e.message.contains("Invalid client secret"), "{e}");

    // azure_identity needs https: a plain authority is refused up front.
    let plain = emulator(false, 3600);
    let s = session(&plain, dir.path());
    let e = connect(&s, secret_request()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    assert!(e.message.contains("https://"), "{e}");
}

#[tokio::test]
async fn certificate_sign_in_from_pem_and_pfx_files() {
    let (_emu, dir, s) = setup(true, 3600);

    // PEM: certificate and PKCS#8 key.
    let pem = certificate_pem(dir.path());
    let (r, log) = connect_logged(&s, certificate_request(&pem, None)).await;
    let info = r.unwrap();
    assert_eq!(info["Flow"], "Certificate");
    assert_eq!(info["ClientId"], CERT_APP);
    assert!(
        log.iter()
            .any(|l| l.contains(directory::CERTIFICATE_APP_THUMBPRINT)),
        "{log:?}"
    );
    works(&s).await;

    // PEM with a PKCS#1 key; PFX made by the emulator (AES, HMAC-SHA256);
    // PFX made by OpenSSL (AES) and by OpenSSL -legacy (RC2/3DES, SHA-1).
    let pkcs1 = fixture("certificate-app-pkcs1.pem").display().to_string();
    connect(&s, certificate_request(&pkcs1, None))
        .await
        .unwrap();
    let pfx = certificate_pfx(dir.path());
    connect(
        &s,
        certificate_request(&pfx, Some(directory::CERTIFICATE_APP_PFX_PASSWORD)),
    )
    .await
    .unwrap();
    for f in ["certificate-app-aes.pfx", "certificate-app-legacy-3des.pfx"] {
        let p = fixture(f).display().to_string();
        let info = connect(&s, certificate_request(&p, Some(FIXTURE_PFX_PASSWORD)))
            .await
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(info["Flow"], "Certificate");
    }
    works(&s).await;
}

#[tokio::test]
async fn certificate_failures() {
    let (_emu, dir, s) = setup(true, 3600);

    // The registered certificate's thumbprint, signed with another key.
    let wrong_key = fixture("wrong-key.pem").display().to_string();
    let e = assert_auth(
        connect(&s, certificate_request(&wrong_key, None)).await,
        "AADSTS700027",
    );
    assert!(e.message.contains("signature validation"), "{e}");

    // A certificate the app does not have.
    let unregistered = fixture("unregistered.pem").display().to_string();
    let e = assert_auth(
        connect(&s, certificate_request(&unregistered, None)).await,
        "AADSTS700027",
    );
    assert!(e.message.contains("not registered"), "{e}");

    // A wrong PFX password never reaches the platform.
    let pfx = fixture("certificate-app-aes.pfx").display().to_string();
    let e = assert_auth(
        connect(&s, certificate_request(&pfx, Some("not-the-password"))).await,
        "password is wrong",
    );
    assert!(e.http_status.is_none());

    // The certificate app has no secret that works.
    let mut r = secret_request();
    r["clientId"] = json!(CERT_APP);
    assert_auth(connect(&s, r).await, "AADSTS7000215");

    // Files that are missing or not certificates; the Windows store.
    for (path, text) in [
        ("/no/such/file.pfx", "cannot read it"),
        (env!("CARGO_MANIFEST_DIR"), "cannot read it"),
    ] {
        let e = connect(&s, certificate_request(path, None))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
        assert!(e.message.contains(text), "{e}");
    }
    let junk = dir.path().join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = connect(&s, certificate_request(&junk.display().to_string(), None))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    let mut r = certificate_request("", None);
    r.as_object_mut().unwrap().remove("certificatePath");
    r["certificateThumbprint"] = json!(directory::CERTIFICATE_APP_THUMBPRINT);
    let e = connect(&s, r).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    if !cfg!(windows) {
        assert!(e.message.contains("only available on Windows"), "{e}");
    }
}

#[tokio::test]
async fn device_code_sign_in() {
    let (emu, dir, s) = setup(false, 3600);
    let start = connect(&s, device_request()).await.unwrap();
    let code = start["UserCode"].as_str().unwrap().to_string();
    let uri = start["VerificationUri"].as_str().unwrap();
    assert_eq!(uri, format!("{}/device", emu.url()));
    let message = start["Message"].as_str().unwrap();
    assert!(
        message.contains(&code) && message.contains(uri),
        "{message}"
    );
    let expires = time::OffsetDateTime::parse(
        start["ExpiresOn"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires > time::OffsetDateTime::now_utc() + time::Duration::minutes(10));

    // Not approved yet: MSC_PENDING, and a poll is short.
    let t = std::time::Instant::now();
    let e = connect(&s, json!({"flow": "deviceCode", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Pending);
    assert_eq!(e.kind.code(), 10);
    assert!(t.elapsed() < POLL_MAX);
    assert!(e.message.contains(&code), "{e}");

    control(
        &emu,
        dir.path(),
        "/_emulator/device/approve",
        json!({"userCode": code, "user": "admin"}),
    )
    .await;
    let info = poll_until_done(&s, json!({"flow": "deviceCode"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    assert_eq!(info["Flow"], "DeviceCode");
    assert_eq!(info["Account"], ADMIN);
    assert_eq!(info["ClientId"], MODULE_CLIENT_ID);
    works(&s).await;
    let (c, _) = get(&s, json!({"resource": "connection"})).await;
    assert_eq!(c.unwrap()["Flow"], "DeviceCode");

    // The sign-in is over: another poll has nothing to wait for.
    let e = connect(&s, json!({"flow": "deviceCode", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");

    // A person on the emulator's page, as another user.
    let start = connect(&s, device_request()).await.unwrap();
    let code = start["UserCode"].as_str().unwrap();
    let page = browser(&emu, dir.path())
        .post(format!("{}/device", emu.url()))
        .form(&[
            ("user_code", code),
            ("user", "billing@contoso.onmicrosoft.com"),
            ("action", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success());
    let info = poll_until_done(&s, json!({"flow": "deviceCode"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    assert_eq!(info["Account"], "billing@contoso.onmicrosoft.com");
}

/// Over TLS the page the user is sent to is an https:// one.
#[tokio::test]
async fn device_code_page_over_tls() {
    let (emu, _dir, s) = setup(true, 3600);
    let start = connect(&s, device_request()).await.unwrap();
    let uri = start["VerificationUri"].as_str().unwrap();
    assert!(uri.starts_with("https://127.0.0.1:"), "{uri}");
    assert_eq!(uri, format!("{}/device", emu.url()));
}

#[tokio::test]
async fn device_code_declined_and_expired() {
    let (emu, dir, s) = setup(false, 3600);

    let start = connect(&s, device_request()).await.unwrap();
    control(
        &emu,
        dir.path(),
        "/_emulator/device/decline",
        json!({"userCode": start["UserCode"]}),
    )
    .await;
    let r = poll_until_done(&s, json!({"flow": "deviceCode"}), POLL_MAX, PATIENCE).await;
    let e = assert_auth(r, "authorization_declined");
    assert!(e.message.contains("AADSTS70000"), "{e}");
    assert_eq!(
        s.get(r#"{"resource":"connection"}"#, &Default::default())
            .await
            .unwrap_err()
            .kind,
        ErrorKind::NotConnected
    );

    connect(&s, device_request()).await.unwrap();
    control(&emu, dir.path(), "/_emulator/device/expire", json!({})).await;
    let r = poll_until_done(&s, json!({"flow": "deviceCode"}), POLL_MAX, PATIENCE).await;
    let e = assert_auth(r, "expired_token");
    assert!(e.message.contains("AADSTS70019"), "{e}");
}

#[tokio::test]
async fn two_step_requests_are_checked() {
    let (_emu, _dir, s) = setup(false, 3600);
    for (r, text) in [
        (
            json!({"flow": "deviceCode", "step": "poll"}),
            "send step 'start' first",
        ),
        (json!({"flow": "deviceCode"}), "step is required"),
        (json!({"flow": "interactive", "step": "wait"}), "not known"),
        (
            json!({"flow": "interactive", "step": "start", "redirectUri": "http://example.com/m365/commerce"}),
            "loopback",
        ),
        (
            json!({"flow": "deviceCode", "step": "start", "tenantId": "a/b"}),
            "tenantId",
        ),
    ] {
        let e = connect(&s, r.clone()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{r}: {e}");
        assert!(e.message.contains(text), "{r}: {e}");
    }
    connect(&s, json!({"flow": "interactive", "step": "start"}))
        .await
        .unwrap();
    let e = connect(&s, json!({"flow": "deviceCode", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("Interactive"), "{e}");
    // An unknown client: the platform's words at start.
    let r = connect(&s, json!({"flow": "deviceCode", "step": "start", "clientId": "00000000-0000-0000-0000-000000000001"})).await;
    assert_auth(r, "AADSTS700016");
}

#[tokio::test]
async fn interactive_sign_in_with_the_test_as_browser() {
    let (emu, dir, s) = setup(false, 3600);
    let start = connect(&s, interactive_start(Some(ADMIN))).await.unwrap();
    let url = start["AuthorizeUrl"].as_str().unwrap().to_string();
    let redirect = start["RedirectUri"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/{TENANT}/oauth2/v2.0/authorize?", emu.url())),
        "{url}"
    );
    let redirect_url = url::Url::parse(&redirect).unwrap();
    assert_eq!(redirect_url.host_str(), Some("localhost"));
    assert_eq!(redirect_url.path(), "/m365/commerce");
    assert!(redirect_url.port().is_some_and(|p| p > 0));
    let q = query(&url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], MODULE_CLIENT_ID);
    assert_eq!(q["redirect_uri"], redirect);
    assert_eq!(q["login_hint"], ADMIN);
    assert!(q["scope"].contains("offline_access") && q["scope"].contains("/.default"));
    assert!(q["state"].len() >= 16);

    let e = connect(&s, json!({"flow": "interactive", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Pending);

    // A redirect with another state is turned away; the sign-in goes on.
    let (status, page) = deliver(&format!("{redirect}?code=0.AXforged&state=forged")).await;
    assert_eq!(status, 400);
    assert!(page.contains("state does not match"), "{page}");
    let e = connect(&s, json!({"flow": "interactive", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Pending);

    let (location, status, page) = play_browser(&emu, dir.path(), &url).await;
    assert!(location.starts_with(&redirect), "{location}");
    assert_eq!(query(&location)["state"], q["state"]);
    assert_eq!(status, 200);
    assert!(page.contains("You may close this tab"), "{page}");
    let info = poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    assert_eq!(info["Flow"], "Interactive");
    assert_eq!(info["Account"], ADMIN);
    works(&s).await;

    // The listener is gone once the sign-in is over.
    let gone = mscommerce::transport::build_client(&Default::default())
        .unwrap()
        .get(&redirect)
        .send()
        .await;
    assert!(gone.is_err(), "the loopback listener still answers");
}

#[tokio::test]
async fn interactive_browser_session_picker_and_cancel() {
    let (emu, dir, s) = setup(false, 3600);

    // No hint and no browser session: the emulator's page to pick a user.
    let start = connect(&s, interactive_start(None)).await.unwrap();
    let url = start["AuthorizeUrl"].as_str().unwrap().to_string();
    let b = browser(&emu, dir.path());
    let page = b.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Pick an account") && page.contains(ADMIN),
        "{page}"
    );
    // The user cancels: the platform redirects with access_denied.
    let r = b
        .get(format!("{url}&emulator_cancel=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (status, page) = deliver(&location).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign-in failed"), "{page}");
    let r = poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE).await;
    let e = assert_auth(r, "access_denied");
    assert!(e.message.contains("AADSTS65004"), "{e}");

    // The browser is signed in as the billing admin: no page, straight back.
    control(
        &emu,
        dir.path(),
        "/_emulator/browser",
        json!({"user": "billing"}),
    )
    .await;
    let start = connect(&s, interactive_start(None)).await.unwrap();
    play_browser(&emu, dir.path(), start["AuthorizeUrl"].as_str().unwrap()).await;
    let info = poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    assert_eq!(info["Account"], "billing@contoso.onmicrosoft.com");
}

/// base64url(SHA-256(verifier)), as PKCE S256 wants.
fn challenge_of(verifier: &str) -> String {
    use base64::Engine;
    let d = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

#[tokio::test]
async fn interactive_pkce_mismatch_is_refused() {
    let (emu, dir, s) = setup(false, 3600);
    let start = connect(&s, interactive_start(Some(ADMIN))).await.unwrap();
    let url = start["AuthorizeUrl"].as_str().unwrap();
    // An attacker's code, obtained with the attacker's own PKCE challenge
    // for the same redirect, injected into the library's listener.
    let mut forged = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code_challenge" {
                challenge_of("the-attackers-own-verifier-0123456789-abcdefghij")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let (_, status, _) = play_browser(&emu, dir.path(), forged.as_str()).await;
    assert_eq!(status, 200);
    let r = poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE).await;
    let e = assert_auth(r, "AADSTS501481");
    assert!(e.message.contains("Code_Verifier does not match"), "{e}");
}

#[tokio::test]
async fn authorize_and_token_endpoints_are_strict() {
    let emu = emulator(false, 3600);
    let dir = temp();
    let b = browser(&emu, dir.path());
    let base = format!("{}/{TENANT}/oauth2/v2.0", emu.url());
    let redirect = "http://localhost:1/m365/commerce";
    let verifier = "a-verifier-of-the-test-0123456789-0123456789-abc";
    let authorize = |extra: &[(&str, &str)]| {
        let mut u = url::Url::parse(&format!("{base}/authorize")).unwrap();
        let challenge = challenge_of(verifier);
        let mut pairs = vec![
            ("client_id", MODULE_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            (
                "scope",
                "aeb86249-8ea3-49e2-900b-54cc8e308f85/.default offline_access",
            ),
            ("state", "s1"),
            ("code_challenge_method", "S256"),
            ("login_hint", "admin"),
        ];
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        u.query_pairs_mut()
            .extend_pairs(pairs)
            .append_pair("code_challenge", &challenge);
        for (k, v) in extra {
            if !v.is_empty() {
                u.query_pairs_mut().append_pair(k, v);
            }
        }
        u.to_string()
    };
    // Errors the platform redirects with.
    for (extra, error, code) in [
        (
            vec![("code_challenge_method", "plain")],
            "invalid_request",
            "AADSTS70011",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
            "AADSTS700054",
        ),
        (
            vec![("scope", "https://graph.microsoft.com/.default")],
            "invalid_resource",
            "AADSTS500011",
        ),
    ] {
        let r = b.get(authorize(&extra)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 302, "{extra:?}");
        let q = query(r.headers()["location"].to_str().unwrap());
        assert_eq!(q["error"], error, "{extra:?}");
        assert!(q["error_description"].starts_with(code), "{q:?}");
        assert_eq!(q["state"], "s1");
    }
    let no_challenge = authorize(&[]).replace("code_challenge=", "x=");
    let r = b.get(no_challenge).send().await.unwrap();
    assert!(
        query(r.headers()["location"].to_str().unwrap())["error_description"]
            .starts_with("AADSTS9002325")
    );
    // Errors it shows on a page (it will not redirect to an unknown place).
    for (extra, code) in [
        (
            vec![("redirect_uri", "http://localhost:1/elsewhere")],
            "AADSTS50011",
        ),
        (
            vec![("redirect_uri", "https://evil.example/m365/commerce")],
            "AADSTS50011",
        ),
        (
            vec![("client_id", "00000000-0000-0000-0000-000000000009")],
            "AADSTS700016",
        ),
    ] {
        let r = b.get(authorize(&extra)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{extra:?}");
        assert!(r.text().await.unwrap().contains(code), "{extra:?}");
    }

    // A good code: redirect_uri and verifier checked, good once.
    let code_for = || async {
        let r = b.get(authorize(&[])).send().await.unwrap();
        query(r.headers()["location"].to_str().unwrap())["code"].clone()
    };
    let redeem = |code: String, redirect: &'static str, verifier: &'static str| {
        let b = b.clone();
        let base = base.clone();
        async move {
            let r = b
                .post(format!("{base}/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", MODULE_CLIENT_ID),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = redeem(
        code_for().await,
        "http://localhost:2/m365/commerce",
        verifier,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS500112"),
        "{body}"
    );
    let (_, body) = redeem(code_for().await, redirect, "").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS900144"),
        "{body}"
    );
    let code = code_for().await;
    let (status, body) = redeem(
        code.clone(),
        "http://localhost:1/m365/commerce",
        "a-verifier-of-the-test-0123456789-0123456789-abc",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
    let (status, body) = redeem(
        code,
        redirect,
        "a-verifier-of-the-test-0123456789-0123456789-abc",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS54005"),
        "{body}"
    );
}

/// A client assertion signed with the certificate app's key, with the
/// claims given (the library makes only good ones).
fn assertion(header: Value, claims: Value) -> String {
    use base64::Engine;
    use rustls_pki_types::pem::PemObject;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(
        directory::CERTIFICATE_APP_KEY_PEM.as_bytes(),
    )
    .unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).unwrap();
    let input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64.encode(sig))
}

#[tokio::test]
async fn client_assertions_are_checked() {
    use base64::Engine;
    let emu = emulator(false, 3600);
    let dir = temp();
    let b = browser(&emu, dir.path());
    let token_url = format!("{}/{}/oauth2/v2.0/token", emu.url(), directory::TENANT_ID);
    let thumb = {
        let t =
            mscommerce::auth::certificate::parse_thumbprint(directory::CERTIFICATE_APP_THUMBPRINT)
                .unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t)
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let good = json!({"aud": token_url, "iss": CERT_APP, "sub": CERT_APP, "jti": "j1", "nbf": now, "exp": now + 600});
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": thumb});
    let send = |a: String| {
        let b = b.clone();
        let url = token_url.clone();
        async move {
            let r = b
                .post(&url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", CERT_APP),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &a),
                    ("scope", "aeb86249-8ea3-49e2-900b-54cc8e308f85/.default"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(assertion(header.clone(), good.clone())).await;
    assert_eq!(status, 200, "{body}");
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    for (claims, code) in [
        (
            with(
                "aud",
                json!("https://127.0.0.1/organizations/oauth2/v2.0/authorize"),
            ),
            "AADSTS700023",
        ),
        (with("iss", json!(APP_ID)), "AADSTS700021"),
        (with("sub", json!(APP_ID)), "AADSTS700021"),
        (with("exp", json!(now - 3600)), "AADSTS700024"),
        (with("nbf", json!(now + 3600)), "AADSTS700024"),
    ] {
        let (status, body) = send(assertion(header.clone(), claims.clone())).await;
        assert!(status == 400 || status == 401, "{claims}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(code),
            "{claims}: {body}"
        );
    }
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let (_, body) = send(assertion(hs, good.clone())).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS5002738"),
        "{body}"
    );
    // A tampered assertion: the signature no longer matches.
    let a = assertion(header.clone(), good.clone());
    let mut parts: Vec<String> = a.split('.').map(str::to_string).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(with("sub", json!(CERT_APP)).to_string().replace("j1", "j2"));
    let (_, body) = send(parts.join(".")).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027"),
        "{body}"
    );
}

#[tokio::test]
async fn sessions_outlive_their_first_token() {
    // Tokens live four seconds: used for three (a quarter of their
    // lifetime before expiry they are renewed), and renewed after a 401.
    let plain = emulator(false, 4);
    let tls = emulator(true, 4);
    let dir = temp();
    let cert = certificate_pem(dir.path());
    let listing = json!({"resource": "productPolicies", "policyId": "AllowSelfServicePurchase"});
    let mut sessions: Vec<(&str, Session)> = Vec::new();

    let s = session(&plain, dir.path());
    connect(&s, password_request()).await.unwrap();
    sessions.push(("password", s));
    sessions.push(("device code", device_code_session(&plain, dir.path()).await));
    sessions.push((
        "interactive",
        interactive_session(&plain, dir.path(), "admin").await.0,
    ));
    let s = session(&tls, dir.path());
    connect(&s, secret_request()).await.unwrap();
    sessions.push(("client secret", s));
    let s = session(&tls, dir.path());
    connect(&s, certificate_request(&cert, None)).await.unwrap();
    sessions.push(("certificate", s));

    // Each session's first token serves its calls while it is fresh.
    for (name, s) in &sessions {
        let (r, log) = get(s, listing.clone()).await;
        r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !log.iter().any(|l| l.contains("renewing")),
            "{name}: {log:?}"
        );
    }
    // Past their lifetime, twice: renewed each time (user flows with the
    // rotated refresh token, app flows with the credential again).
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(4100)).await;
        for (name, s) in &sessions {
            let (r, log) = get(s, listing.clone()).await;
            r.unwrap_or_else(|e| panic!("{name}, round {round}: {e}"));
            assert!(
                log.iter()
                    .any(|l| l.contains("token about to expire; renewing it")),
                "{name}: {log:?}"
            );
        }
    }
    // The service refuses every token it issued: one sign-in again, one retry.
    for emu in [&plain, &tls] {
        control(emu, dir.path(), "/_emulator/expire-tokens", json!({})).await;
    }
    for (name, s) in &sessions {
        let (r, log) = get(s, listing.clone()).await;
        r.unwrap_or_else(|e| panic!("{name} after 401: {e}"));
        assert!(
            log.iter()
                .any(|l| l.contains("token refused by the service; signing in again")),
            "{name}: {log:?}"
        );
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_says_so() {
    let (emu, _dir, s) = setup(false, 3600);
    let token = emu.mint_token("admin", 2);
    connect(&s, json!({"flow": "accessToken", "accessToken": token}))
        .await
        .unwrap();
    works(&s).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (r, _) = get(&s, json!({"resource": "policies"})).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(e.message.contains(EXPIRED_MESSAGE), "{e}");
}

#[tokio::test]
async fn connection_and_disconnect() {
    let (_emu, _dir, s) = setup(false, 3600);
    let info = connect(&s, password_request()).await.unwrap();
    let (c, _) = get(&s, json!({"resource": "connection"})).await;
    let c = c.unwrap();
    assert_eq!(c["Flow"], info["Flow"]);
    assert_eq!(c["Account"], ADMIN);
    assert!(c["ExpiresOn"].is_string());
    for k in [
        "Account",
        "TenantId",
        "ClientId",
        "Flow",
        "Environment",
        "ExpiresOn",
    ] {
        assert!(c.get(k).is_some(), "{k} missing in {c}");
    }
    s.disconnect();
    let (c, _) = get(&s, json!({"resource": "connection"})).await;
    assert_eq!(c.unwrap_err().kind, ErrorKind::NotConnected);

    // A start waiting for the user is dropped by disconnect too.
    connect(&s, device_request()).await.unwrap();
    s.disconnect();
    let e = connect(&s, json!({"flow": "deviceCode", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn clouds_pick_their_authority() {
    // The interactive start makes no request: its URL shows the authority.
    for (options, prefix, environment) in [
        (
            json!({}),
            "https://login.microsoftonline.com/organizations/",
            "AzureCloud",
        ),
        (
            json!({"environment": "AzureUSGovernment"}),
            "https://login.microsoftonline.us/organizations/",
            "AzureUSGovernment",
        ),
        (
            json!({"environment": "AzureUSGovernmentDoD"}),
            "https://login.microsoftonline.us/organizations/",
            "AzureUSGovernmentDoD",
        ),
        (
            json!({"environment": "Custom", "authorityHost": "https://login.contoso.example"}),
            "https://login.contoso.example/organizations/",
            "Custom",
        ),
        (
            json!({"authorityHost": "https://login.sovcloud-identity.fr"}),
            "https://login.sovcloud-identity.fr/organizations/",
            "Custom",
        ),
    ] {
        let s = Session::new(&options.to_string()).unwrap();
        assert_eq!(s.options().environment.name(), environment);
        let start = connect(&s, json!({"flow": "interactive", "step": "start"}))
            .await
            .unwrap();
        let url = start["AuthorizeUrl"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{prefix}oauth2/v2.0/authorize?")),
            "{url}"
        );
        // A tenant by domain or id replaces organizations.
        let start = connect(
            &s,
            json!({"flow": "interactive", "step": "start", "tenantId": directory::TENANT_ID}),
        )
        .await
        .unwrap();
        let url = start["AuthorizeUrl"].as_str().unwrap();
        assert!(
            url.contains(&format!("/{}/oauth2/v2.0/authorize?", directory::TENANT_ID)),
            "{url}"
        );
        s.disconnect();
    }
    // The environment rides along on a connect request, and is reported.
    let (emu, _dir, s) = setup(false, 3600);
    let mut r = password_request();
    r["environment"] = json!("Custom");
    r["authorityHost"] = json!(emu.url());
    let info = connect(&s, r).await.unwrap();
    assert_eq!(info["Environment"], "Custom");
    let info = connect(&s, password_request()).await.unwrap();
    assert_eq!(
        info["Environment"], "Custom",
        "an authorityHost without environment is Custom"
    );
}

#[tokio::test]
async fn cancel_drops_a_waiting_sign_in_but_keeps_the_connection() {
    let (emu, _dir, s) = setup(false, 3600);
    // Connected first, as an admin would be when re-running Connect-MSCommerce.
    let token = emu.mint_token("admin", 3600);
    connect(&s, json!({"flow": "accessToken", "accessToken": token}))
        .await
        .unwrap();
    let start = connect(&s, interactive_start(Some(ADMIN))).await.unwrap();
    let redirect = start["RedirectUri"].as_str().unwrap().to_string();

    let v = connect(&s, json!({"flow": "interactive", "step": "cancel"}))
        .await
        .unwrap();
    assert_eq!(v["Cancelled"], true);
    // The listener is closed, nothing is waiting, and the old connection works.
    let gone = mscommerce::transport::build_client(&Default::default())
        .unwrap()
        .get(&redirect)
        .send()
        .await;
    assert!(gone.is_err(), "the loopback listener still answers");
    let e = connect(&s, json!({"flow": "interactive", "step": "poll"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    works(&s).await;
    // Cancelling when nothing waits is harmless.
    let v = connect(&s, json!({"flow": "deviceCode", "step": "cancel"}))
        .await
        .unwrap();
    assert_eq!(v["Cancelled"], false);
}
