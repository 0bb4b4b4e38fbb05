//! Shared set-up of the sign-in tests: emulators over real loopback HTTP or
//! HTTPS, sessions pointed at them, the test acting as the user (approving
//! device codes, playing the browser), and a record of everything the
//! library and the CLI showed, for the secrets test.
#![allow(dead_code)]

use mscommerce::emulator::{directory, Emulator, EmulatorConfig};
use mscommerce::log::CallLog;
use mscommerce::{Error, ErrorKind, Session};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ADMIN: &str = "admin@contoso.onmicrosoft.com";
pub const ADMIN_PASSWORD: &str = "Emulator-Admin-1";
pub const APP_ID: &str = "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01";
pub const APP_SECRET: &str = "emulator-app-secret";
pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CERT_APP: &str = directory::CERTIFICATE_APP_CLIENT_ID;
pub const FIXTURE_PFX_PASSWORD: &str = "Pfx-Pass-1!";
pub const PRODUCT: &str = "CFQ7TTC0KP0N";

/// Everything shown to a caller: log lines, answers, error messages, CLI
/// output. The secrets test greps it.
static SHOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub fn record(text: impl Into<String>) {
    SHOWN.lock().unwrap().push(text.into());
}

pub fn shown() -> Vec<String> {
    SHOWN.lock().unwrap().clone()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/signin_fixtures")
        .join(name)
}

/// An emulator on its own runtime; `lifetime` is its tokens' lifetime.
pub fn emulator(tls: bool, lifetime: u64) -> Emulator {
    Emulator::start_background(EmulatorConfig {
        tls,
        token_lifetime_seconds: lifetime,
        ..Default::default()
    })
    .expect("emulator starts")
}

/// A directory that lives as long as the test.
pub fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The emulator's CA written to `dir` (TLS mode), for caCertificatePath.
pub fn ca_file(emu: &Emulator, dir: &Path) -> Option<String> {
    emu.ca_pem().map(|pem| {
        let p = dir.join("emulator-ca.pem");
        std::fs::write(&p, pem).unwrap();
        p.display().to_string()
    })
}

/// Session options pointing at the emulator (its CA trusted in TLS mode).
pub fn options(emu: &Emulator, dir: &Path, extra: Value) -> Value {
    let mut o = json!({
        "serviceUrl": emu.url(),
        "authorityHost": emu.url(),
        "retryBaseDelayMs": 10,
        "timeoutSeconds": 20,
    });
    if let Some(ca) = ca_file(emu, dir) {
        o["caCertificatePath"] = json!(ca);
    }
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

pub fn session(emu: &Emulator, dir: &Path) -> Session {
    Session::new(&options(emu, dir, json!({})).to_string()).expect("session")
}

fn recorded<T: std::fmt::Debug>(result: &Result<T, Error>, log: &CallLog) {
    for l in log.lines() {
        record(l);
    }
    match result {
        Ok(v) => record(format!("{v:?}")),
        Err(e) => {
            record(e.to_string());
            record(e.to_json().to_string());
        }
    }
}

pub async fn connect(s: &Session, request: Value) -> Result<Value, Error> {
    let log = CallLog::new();
    let r = s.connect(&request.to_string(), &log).await;
    recorded(&r, &log);
    r
}

/// The log lines of one connect, and its result.
pub async fn connect_logged(s: &Session, request: Value) -> (Result<Value, Error>, Vec<String>) {
    let log = CallLog::new();
    let r = s.connect(&request.to_string(), &log).await;
    let lines = log.lines();
    recorded(&r, &log);
    (r, lines)
}

pub async fn get(s: &Session, request: Value) -> (Result<Value, Error>, Vec<String>) {
    let log = CallLog::new();
    let r = s.get(&request.to_string(), &log).await;
    let lines = log.lines();
    recorded(&r, &log);
    (r, lines)
}

pub async fn update(s: &Session, request: Value) -> Result<Value, Error> {
    let log = CallLog::new();
    let r = s.update(&request.to_string(), &log).await;
    recorded(&r, &log);
    r
}

/// The products list must come back (the session works).
pub async fn works(s: &Session) {
    let (r, _) = get(
        s,
        json!({"resource": "productPolicies", "policyId": "AllowSelfServicePurchase"}),
    )
    .await;
    let items = r.expect("listing works");
    assert!(items.as_array().is_some_and(|a| !a.is_empty()), "{items}");
}

/// An error of kind Authentication whose message carries `text`.
pub fn assert_auth(r: Result<Value, Error>, text: &str) -> Error {
    let e = r.expect_err("sign-in must fail");
    assert_eq!(e.kind, ErrorKind::Authentication, "{e}");
    assert_eq!(e.kind.code(), 3);
    assert!(e.message.contains(text), "'{text}' not in: {e}");
    e
}

/// An HTTP client of the test (playing the user or the browser): trusts the
/// emulator's CA, follows no redirects.
pub fn browser(emu: &Emulator, dir: &Path) -> reqwest::Client {
    let o = mscommerce::options::SessionOptions::parse(&options(emu, dir, json!({})).to_string())
        .unwrap();
    mscommerce::transport::build_client(&o).unwrap()
}

/// POST a control request to the emulator.
pub async fn control(emu: &Emulator, dir: &Path, path: &str, body: Value) -> Value {
    let r = browser(emu, dir)
        .post(format!("{}{path}", emu.url()))
        .json(&body)
        .send()
        .await
        .expect("control request");
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// Poll a two-step connect until it answers other than Pending; asserts
/// each poll came back within `max_poll`.
pub async fn poll_until_done(
    s: &Session,
    mut request: Value,
    max_poll: Duration,
    deadline: Duration,
) -> Result<Value, Error> {
    request["step"] = json!("poll");
    let end = Instant::now() + deadline;
    loop {
        let t = Instant::now();
        let r = connect(s, request.clone()).await;
        assert!(t.elapsed() <= max_poll, "a poll took {:?}", t.elapsed());
        match r {
            Err(e) if e.kind == ErrorKind::Pending => {
                assert_eq!(e.kind.code(), 10);
                assert!(Instant::now() < end, "still pending after {deadline:?}");
            }
            other => return other,
        }
    }
}

/// The query pairs of a URL.
pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Play the browser: GET the authorize URL, expect the platform's redirect
/// to the loopback listener, follow it. Answers (the redirect's Location,
/// the status and page the listener gave).
pub async fn play_browser(
    emu: &Emulator,
    dir: &Path,
    authorize_url: &str,
) -> (String, u16, String) {
    let b = browser(emu, dir);
    let r = b.get(authorize_url).send().await.expect("authorize");
    assert_eq!(
        r.status().as_u16(),
        302,
        "authorize answered {}",
        r.status()
    );
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (status, page) = deliver(&location).await;
    (location, status, page)
}

/// GET a redirect URL on the loopback listener (as the browser would).
pub async fn deliver(url: &str) -> (u16, String) {
    let client =
        mscommerce::transport::build_client(&mscommerce::options::SessionOptions::default())
            .unwrap();
    let r = client
        .get(url)
        .send()
        .await
        .expect("the loopback listener answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// Write the certificate app's PEM (certificate and PKCS#8 key) into `dir`.
pub fn certificate_pem(dir: &Path) -> String {
    let p = dir.join("certificate-app.pem");
    std::fs::write(&p, directory::certificate_app_pem()).unwrap();
    p.display().to_string()
}

/// Write the emulator's PFX of the certificate app into `dir`.
pub fn certificate_pfx(dir: &Path) -> String {
    let p = dir.join("certificate-app.pfx");
    std::fs::write(&p, directory::certificate_app_pfx()).unwrap();
    p.display().to_string()
}

/// An emulator, a temporary directory and a session pointed at it.
pub fn setup(tls: bool, lifetime: u64) -> (Emulator, tempfile::TempDir, Session) {
    let emu = emulator(tls, lifetime);
    let dir = temp();
    let s = session(&emu, dir.path());
    (emu, dir, s)
}

// ---- connect requests of each flow ----

pub fn password_request() -> Value {
    json!({"flow": "password", "username": ADMIN, "password": ADMIN_PASSWORD, "tenantId": TENANT})
}

pub fn secret_request() -> Value {
    json!({"flow": "clientSecret", "tenantId": TENANT, "clientId": APP_ID, "clientSecret": APP_SECRET})
}

pub fn certificate_request(path: &str, password: Option<&str>) -> Value {
    let mut r = json!({"flow": "certificate", "tenantId": directory::TENANT_ID, "clientId": CERT_APP, "certificatePath": path});
    if let Some(p) = password {
        r["certificatePassword"] = json!(p);
    }
    r
}

pub fn device_request() -> Value {
    json!({"flow": "deviceCode", "step": "start", "tenantId": TENANT})
}

pub fn interactive_start(hint: Option<&str>) -> Value {
    let mut r = json!({"flow": "interactive", "step": "start", "tenantId": TENANT});
    if let Some(h) = hint {
        r["loginHint"] = json!(h);
    }
    r
}
