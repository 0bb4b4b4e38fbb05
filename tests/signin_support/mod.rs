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

// ---- the CLI ----

/// What one run of the `mscommerce` binary did.
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "exit {}: {}", self.code, self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// Exit 13 (10 + MSC_AUTHENTICATION) with `text` on stderr, nothing on stdout.
    pub fn auth_failure(&self, text: &str) {
        assert_eq!(self.code, 13, "{}", self.stderr);
        assert!(
            self.stderr.contains(text),
            "'{text}' not in: {}",
            self.stderr
        );
        assert!(self.stdout.is_empty(), "{}", self.stdout);
    }
}

/// The CLI's options pointing at the emulator (its CA in TLS mode).
pub fn cli_base(emu: &Emulator, dir: &Path) -> Vec<String> {
    let mut a = vec![
        "--service-url".to_string(),
        emu.url(),
        "--authority-host".to_string(),
        emu.url(),
        "--output".to_string(),
        "json".to_string(),
        "--timeout".to_string(),
        "20".to_string(),
    ];
    if let Some(ca) = ca_file(emu, dir) {
        a.extend(["--ca-file".to_string(), ca]);
    }
    a
}

/// The CLI's environment: none of the sign-in variables of the machine.
fn cli_command(args: &[String], env: &[(&str, &str)]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mscommerce"));
    c.args(args)
        .stdin(std::process::Stdio::null())
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER")
        .env_remove("MSI_ENDPOINT")
        .env_remove("IMDS_ENDPOINT")
        .env_remove("MSCOMMERCE_ACCESS_TOKEN")
        .env_remove("MSCOMMERCE_CLIENT_SECRET")
        .env_remove("MSCOMMERCE_PASSWORD")
        .env_remove("BROWSER");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn finished(output: std::process::Output) -> CliRun {
    let run = CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    record(run.stdout.clone());
    record(run.stderr.clone());
    run
}

/// Run the CLI with the emulator's options, `args` and `env`.
pub fn cli(emu: &Emulator, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> CliRun {
    let mut all = cli_base(emu, dir);
    all.extend(args.iter().map(|s| s.to_string()));
    finished(cli_command(&all, env).output().expect("the CLI runs"))
}

/// Run an async control request from a test without a runtime.
pub fn control_blocking(emu: &Emulator, dir: &Path, path: &str, body: Value) -> Value {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(control(emu, dir, path, body))
}

/// Run `--device-code` with `args`: read the prompt on stderr, then act as
/// the user (`approve`, `decline` or `expire` the code it shows).
pub fn cli_device_code(emu: &Emulator, dir: &Path, args: &[&str], action: &str) -> CliRun {
    use std::io::{BufRead, Read};
    let mut all = cli_base(emu, dir);
    all.push("--device-code".into());
    all.extend(args.iter().map(|s| s.to_string()));
    let mut child = cli_command(&all, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the CLI runs");
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let code = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the CLI shows the device code prompt");
        if let Some(rest) = line.split("enter the code ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    control_blocking(
        emu,
        dir,
        &format!("/_emulator/device/{action}"),
        json!({"userCode": code, "user": "admin"}),
    );
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    finished(std::process::Output {
        status,
        stdout: out.join().unwrap().into_bytes(),
        stderr: err.join().unwrap().into_bytes(),
    })
}

/// Wait for a child, killing it after `limit`.
pub fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the CLI did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `$BROWSER` that plays the user's browser: GETs the URL and follows the
/// platform's redirect to the CLI's loopback listener.
pub fn curl_browser() -> String {
    let found = std::process::Command::new("curl")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "curl (Debian package curl) is needed to play the browser"
    );
    "curl -sS -L --max-time 20 -o /dev/null".to_string()
}

/// The CLI signing in as the secret app (the secret on the command line,
/// or from `env`), then running `command`.
pub fn cli_secret(
    emu: &Emulator,
    dir: &Path,
    secret: Option<&str>,
    command: &[&str],
    env: &[(&str, &str)],
) -> CliRun {
    let mut args = vec!["--tenant-id", TENANT, "--client-id", APP_ID];
    if let Some(s) = secret {
        args.extend(["--client-secret", s]);
    }
    args.extend(command);
    cli(emu, dir, &args, env)
}

/// The CLI signing in as the certificate app with `file` (and its
/// password), then running `command`.
pub fn cli_certificate(
    emu: &Emulator,
    dir: &Path,
    file: &str,
    password: Option<&str>,
    command: &[&str],
) -> CliRun {
    let mut args = vec![
        "--tenant-id",
        directory::TENANT_ID,
        "--client-id",
        CERT_APP,
        "--certificate",
        file,
    ];
    if let Some(p) = password {
        args.extend(["--certificate-password", p]);
    }
    args.extend(command);
    cli(emu, dir, &args, &[])
}

/// The longest one poll may take, and how long a test waits for a sign-in.
pub const POLL_MAX: Duration = Duration::from_secs(5);
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A session signed in with a device code the admin approved.
pub async fn device_code_session(emu: &Emulator, dir: &Path) -> Session {
    let s = session(emu, dir);
    let start = connect(&s, device_request()).await.unwrap();
    let body = json!({"userCode": start["UserCode"]});
    control(emu, dir, "/_emulator/device/approve", body).await;
    poll_until_done(&s, json!({"flow": "deviceCode"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    s
}

/// A session signed in in the browser as `hint`, and the redirect the
/// browser carried (with its authorization code).
pub async fn interactive_session(emu: &Emulator, dir: &Path, hint: &str) -> (Session, String) {
    let s = session(emu, dir);
    let start = connect(&s, interactive_start(Some(hint))).await.unwrap();
    let url = start["AuthorizeUrl"].as_str().unwrap().to_string();
    let (location, _, _) = play_browser(emu, dir, &url).await;
    poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    (s, location)
}
