//! `environmentVariables` through the C ABI, against emulators over real
//! loopback: a host's snapshot of the environment (PowerShell's `$env:` on
//! Linux and macOS, which native code never sees) is what the library
//! reads, and the process environment is not. A second emulator plays the
//! proxy (hyper serves absolute-form request targets by path, so a request
//! sent through it is answered there, and it refuses the service's tokens).
//!
//! The process side (variables set in the process, a snapshot without them)
//! runs in a child process of this test binary with its own environment
//! (`child_process_environment`), so no test changes this process's.
//!
//! Also: the key order of product policy answers (the objects' property
//! order in PowerShell).
#![cfg(feature = "emulator")]

use mscommerce::emulator::directory::{MANAGED_IDENTITIES, MANAGED_IDENTITY_HEADER};
use mscommerce::emulator::{Emulator, EmulatorConfig};
use mscommerce::environment::PROXY_VARIABLES;
use mscommerce::ffi::*;
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::process::Command;
use std::ptr;

const POLICY: &str = "AllowSelfServicePurchase";
const PRODUCT: &str = "CFQ7TTC0KP0N";

type CallFn = unsafe extern "C" fn(*mut MscSession, *const c_char, *mut *mut c_char) -> i32;

/// The answer text the library wrote (freed here) and its JSON.
fn take(p: *mut c_char) -> (String, Value) {
    assert!(!p.is_null(), "no answer");
    let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    unsafe { msc_string_free(p) };
    let v = serde_json::from_str(&text).expect("the answer is JSON");
    (text, v)
}

/// A session of the C ABI, freed when dropped.
struct Session(*mut MscSession);

impl Session {
    fn try_new(options: &Value) -> Result<Session, (i32, Value)> {
        let options = CString::new(options.to_string()).unwrap();
        let (mut s, mut out) = (ptr::null_mut(), ptr::null_mut());
        let code = unsafe { msc_session_new(options.as_ptr(), &mut s, &mut out) };
        let (_, v) = take(out);
        if code == 0 {
            Ok(Session(s))
        } else {
            Err((code, v))
        }
    }

    fn new(options: &Value) -> Session {
        Session::try_new(options).unwrap_or_else(|(code, v)| panic!("session: {code} {v}"))
    }

    /// (return code, answer text, answer).
    fn call(&self, f: CallFn, request: &Value) -> (i32, String, Value) {
        let request = CString::new(request.to_string()).unwrap();
        let mut out = ptr::null_mut();
        let code = unsafe { f(self.0, request.as_ptr(), &mut out) };
        let (text, v) = take(out);
        (code, text, v)
    }

    fn connect(&self, request: Value) -> (i32, Value) {
        let (code, _, v) = self.call(msc_connect, &request);
        (code, v)
    }

    /// The policies, read with `token` (this call's own).
    fn policies(&self, token: &str) -> (i32, Value) {
        let (code, _, v) = self.call(
            msc_get,
            &json!({"resource": "policies", "accessToken": token}),
        );
        (code, v)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        unsafe { msc_session_free(self.0) };
    }
}

fn emulator(tls: bool) -> Emulator {
    Emulator::start_background(EmulatorConfig {
        tls,
        ..Default::default()
    })
    .expect("emulator starts")
}

/// Session options for `service`, with `extra` laid over.
fn options(service: &str, extra: Value) -> Value {
    let mut o = json!({
        "serviceUrl": service,
        "authorityHost": service,
        "timeoutSeconds": 20,
        "maxRetries": 0,
        "retryBaseDelayMs": 10,
    });
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

/// Whether a call went through `proxy` (answered there: the proxy does
/// not know the service's token) or straight to `service`.
fn went_through(proxy: &Emulator, service: &Emulator, call: impl FnOnce() -> (i32, Value)) -> bool {
    let (p0, s0) = (proxy.stats().requests, service.stats().requests);
    let (code, v) = call();
    let (p, s) = (proxy.stats().requests - p0, service.stats().requests - s0);
    match code {
        0 => {
            assert_eq!((p, s), (0, 1), "{v}");
            false
        }
        3 => {
            assert!(p >= 1 && s == 0, "proxy {p}, service {s}: {v}");
            true
        }
        other => panic!("unexpected answer {other}: {v}"),
    }
}

#[test]
fn snapshot_proxy_variables_carry_the_requests() {
    let service = emulator(false);
    let proxy = emulator(false);
    let token = service.mint_token("admin", 3600);
    let p = proxy.url();
    let through = |env: Value, extra: Value| {
        let mut o = options(&service.url(), extra);
        o["environmentVariables"] = env;
        let s = Session::new(&o);
        went_through(&proxy, &service, || s.policies(&token))
    };
    // The service is http:// (loopback), so HTTP_PROXY is the one that
    // applies; ALL_PROXY when it is not set; either case of the name.
    assert!(through(json!({"HTTP_PROXY": p}), json!({})));
    assert!(through(json!({"http_proxy": p}), json!({})));
    assert!(through(json!({"ALL_PROXY": p}), json!({})));
    assert!(through(
        json!({"HTTP_PROXY": p, "HTTPS_PROXY": p}),
        json!({})
    ));
    // Not for http:// URLs; exempted by NO_PROXY; not in a CGI process;
    // not when the value is no proxy URL; null is unset.
    assert!(!through(json!({"HTTPS_PROXY": p}), json!({})));
    assert!(!through(
        json!({"HTTP_PROXY": p, "NO_PROXY": "127.0.0.1"}),
        json!({})
    ));
    assert!(!through(
        json!({"HTTP_PROXY": p, "REQUEST_METHOD": "GET"}),
        json!({})
    ));
    assert!(!through(json!({"HTTP_PROXY": "http://"}), json!({})));
    assert!(!through(json!({"HTTP_PROXY": null}), json!({})));
    assert!(!through(json!({}), json!({})));
    // The explicit proxy option wins over the variables.
    assert!(through(json!({}), json!({"proxy": p})));
    assert!(through(
        json!({"HTTP_PROXY": service.url(), "NO_PROXY": "*"}),
        json!({"proxy": p})
    ));
}

#[test]
fn a_connect_with_other_variables_rebuilds_the_transport() {
    let service = emulator(false);
    let proxy = emulator(false);
    let admin = service.mint_token("admin", 3600);
    let s = Session::new(&options(
        &service.url(),
        json!({"environmentVariables": {}}),
    ));
    let connect = |env: Option<Value>| {
        let mut r = json!({"flow": "accessToken", "accessToken": admin});
        if let Some(e) = env {
            r["environmentVariables"] = e;
        }
        let (code, v) = s.connect(r);
        assert_eq!(code, 0, "{v}");
    };
    let list = || {
        let (code, _, v) = s.call(
            msc_get,
            &json!({"resource": "productPolicies", "policyId": POLICY}),
        );
        (code, v)
    };
    connect(None);
    assert!(!went_through(&proxy, &service, list));
    // $env:HTTP_PROXY set after the session was made: the next connect
    // brings it, and the connection's requests use it.
    connect(Some(json!({"HTTP_PROXY": proxy.url()})));
    assert!(went_through(&proxy, &service, list));
    // Unset again.
    connect(Some(json!({"HTTP_PROXY": null, "TERM": "xterm"})));
    assert!(!went_through(&proxy, &service, list));
    connect(Some(json!({"HTTP_PROXY": proxy.url()})));
    assert!(went_through(&proxy, &service, list));
    // A connect without the field uses the session's snapshot again; the
    // other options (service URL, timeout) are kept throughout.
    connect(None);
    assert!(!went_through(&proxy, &service, list));
    let (code, _, v) = s.call(msc_get, &json!({"resource": "connection"}));
    assert_eq!(code, 0, "{v}");
}

#[test]
fn managed_identity_reads_the_snapshot() {
    let emu = emulator(false);
    let s = Session::new(&options(&emu.url(), json!({})));
    let endpoint = format!("{}/msi/token", emu.url());
    let vars = json!({"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": MANAGED_IDENTITY_HEADER});

    // App Service style, from the connect request's variables.
    let (code, v) = s.connect(json!({"flow": "managedIdentity", "environmentVariables": vars}));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["value"]["Account"], MANAGED_IDENTITIES[0].client_id);
    let log = v["log"].to_string();
    assert!(log.contains(&endpoint), "{log}");
    assert!(
        !log.contains(MANAGED_IDENTITY_HEADER),
        "the secret is not shown"
    );
    let (code, _, v) = s.call(
        msc_get,
        &json!({"resource": "productPolicy", "policyId": POLICY, "productId": PRODUCT}),
    );
    assert_eq!(code, 0, "{v}");

    // User-assigned.
    let user_assigned = MANAGED_IDENTITIES[1].client_id;
    let (code, v) = s.connect(
        json!({"flow": "managedIdentity", "clientId": user_assigned, "environmentVariables": vars}),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["value"]["Account"], user_assigned);

    // A wrong IDENTITY_HEADER: the endpoint refuses it.
    let (code, v) = s.connect(json!({"flow": "managedIdentity", "environmentVariables": {"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": "not-the-header"}}));
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["error"]["httpStatus"], 401, "{v}");
    assert!(!v.to_string().contains("not-the-header"));

    // Session options carry them too.
    let from_session = Session::new(&options(&emu.url(), json!({"environmentVariables": vars})));
    let (code, v) = from_session.connect(json!({"flow": "managedIdentity"}));
    assert_eq!(code, 0, "{v}");

    // No IDENTITY_ENDPOINT: the VM's IMDS, reached through the snapshot's
    // HTTP_PROXY (the emulator serves the IMDS path).
    let (code, v) = s.connect(
        json!({"flow": "managedIdentity", "environmentVariables": {"HTTP_PROXY": emu.url()}}),
    );
    assert_eq!(code, 0, "{v}");
    assert!(v["log"].to_string().contains("IMDS"), "{v}");

    // Kinds azure_identity does not support are refused alike.
    let (code, v) = s.connect(
        json!({"flow": "managedIdentity", "environmentVariables": {"MSI_ENDPOINT": endpoint}}),
    );
    assert_eq!(code, 3, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CloudShell"),
        "{v}"
    );
}

#[test]
fn bad_environment_variables_are_invalid_arguments() {
    let emu = emulator(false);
    let s = Session::new(&options(&emu.url(), json!({})));
    let admin = emu.mint_token("admin", 3600);
    for bad in [
        json!("HTTPS_PROXY=http://proxy:3128"),
        json!(["HTTPS_PROXY"]),
        json!(42),
        json!(true),
        json!({"HTTPS_PROXY": 3128}),
        json!({"HTTPS_PROXY": ["http://proxy:3128"]}),
        json!({"HTTPS_PROXY": {"value": "http://proxy:3128"}}),
        json!({"": "x"}),
    ] {
        let e = Session::try_new(&options(&emu.url(), json!({"environmentVariables": bad})))
            .err()
            .unwrap_or_else(|| panic!("accepted {bad}"));
        assert_eq!(e.0, 1, "{bad}: {}", e.1);
        let message = e.1["error"]["message"].as_str().unwrap();
        assert!(message.contains("environmentVariables"), "{message}");

        let (code, v) = s.connect(
            json!({"flow": "accessToken", "accessToken": admin, "environmentVariables": bad}),
        );
        assert_eq!(code, 1, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "InvalidArgument");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("environmentVariables"), "{message}");
    }
    // Null, an empty object and null values are fine.
    for ok in [json!(null), json!({}), json!({"HTTPS_PROXY": null})] {
        Session::new(&options(&emu.url(), json!({"environmentVariables": ok})));
    }
}

/// `SSL_CERT_FILE` is read from the snapshot where the trust store reads
/// it (Linux and other Unix systems but macOS).
#[cfg(all(unix, not(target_vendor = "apple")))]
#[test]
fn the_trust_store_reads_ssl_cert_file_from_the_snapshot() {
    let emu = emulator(true);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca, emu.ca_pem().unwrap()).unwrap();
    let token = emu.mint_token("admin", 3600);
    let with = |env: Value| {
        Session::new(&options(&emu.url(), json!({"environmentVariables": env}))).policies(&token)
    };
    let (code, v) = with(json!({"SSL_CERT_FILE": ca}));
    assert_eq!(code, 0, "{v}");
    let (code, v) = with(json!({"SSL_CERT_DIR": dir.path()}));
    assert_eq!(code, 0, "{v}");
    // The system's store alone does not know the emulator's CA.
    let (code, v) = with(json!({}));
    assert_eq!(code, 8, "{v}");
    // A file that is not there: no roots at all, so no session (as when
    // the system has none).
    let (code, v) = Session::try_new(&options(
        &emu.url(),
        json!({"environmentVariables": {"SSL_CERT_FILE": dir.path().join("missing.pem")}}),
    ))
    .err()
    .expect("no trusted roots");
    assert_eq!(code, 8, "{v}");
}

#[test]
fn the_process_environment_is_not_read_when_a_snapshot_is_given() {
    let service = emulator(false);
    let proxy = emulator(false);
    let tls = emulator(true);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca, tls.ca_pem().unwrap()).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args([
        "child_process_environment",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let others = [
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "SSL_CERT_DIR",
    ];
    for name in PROXY_VARIABLES.iter().chain(&others) {
        child.env_remove(name);
    }
    // What the child's process environment holds: a proxy for everything,
    // the TLS emulator's CA as the trust store, an App Service endpoint.
    let wrong_endpoint = format!("{}/msi/token", proxy.url());
    child
        .env("HTTP_PROXY", proxy.url())
        .env("HTTPS_PROXY", proxy.url())
        .env("ALL_PROXY", proxy.url())
        .env("SSL_CERT_FILE", &ca)
        .env("IDENTITY_ENDPOINT", &wrong_endpoint)
        .env("IDENTITY_HEADER", "not-the-header")
        .env("MSC_TEST_CHILD_SERVICE", service.url())
        .env("MSC_TEST_CHILD_TOKEN", service.mint_token("admin", 3600))
        .env("MSC_TEST_CHILD_TLS", tls.url())
        .env("MSC_TEST_CHILD_TLS_TOKEN", tls.mint_token("admin", 3600));
    let (p0, s0) = (proxy.stats().requests, service.stats().requests);
    let out = child.output().expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}\n{stderr}"
    );
    // Both sides were seen: the process's proxy without a snapshot, the
    // service directly with one.
    assert!(proxy.stats().requests > p0);
    assert!(service.stats().requests > s0);
}

/// Run only by the test above, in a child process whose environment names
/// a proxy, a trust store and a managed identity endpoint.
#[test]
#[ignore = "run by the_process_environment_is_not_read_when_a_snapshot_is_given in a process of its own"]
fn child_process_environment() {
    let Ok(service) = std::env::var("MSC_TEST_CHILD_SERVICE") else {
        return;
    };
    let token = std::env::var("MSC_TEST_CHILD_TOKEN").unwrap();
    let with = |env: Option<Value>| {
        let mut o = options(&service, json!({}));
        if let Some(e) = env {
            o["environmentVariables"] = e;
        }
        Session::new(&o)
    };
    // Without a snapshot the process's HTTP_PROXY applies: the proxy
    // answers (it does not know the token).
    let (code, v) = with(None).policies(&token);
    assert_eq!(code, 3, "through the process's proxy: {v}");
    // A snapshot without proxy variables goes straight to the service.
    let (code, v) = with(Some(json!({}))).policies(&token);
    assert_eq!(code, 0, "direct: {v}");
    let (code, v) = with(Some(json!({"PATH": "/usr/bin"}))).policies(&token);
    assert_eq!(code, 0, "direct: {v}");
    // A connect with a snapshot on a session made without one.
    let s = with(None);
    let (code, v) =
        s.connect(json!({"flow": "accessToken", "accessToken": token, "environmentVariables": {}}));
    assert_eq!(code, 0, "{v}");
    let (code, _, v) = s.call(msc_get, &json!({"resource": "policies"}));
    assert_eq!(code, 0, "direct after the connect: {v}");

    // Managed identity: the process names an App Service endpoint (with a
    // wrong header); the snapshot names none, so IMDS, through the
    // snapshot's proxy (the service emulator serves the IMDS path).
    let (code, v) =
        with(Some(json!({"HTTP_PROXY": service}))).connect(json!({"flow": "managedIdentity"}));
    assert_eq!(code, 0, "{v}");
    assert!(v["log"].to_string().contains("IMDS"), "{v}");
    let (code, v) = with(None).connect(json!({"flow": "managedIdentity"}));
    assert_eq!(code, 3, "the process's endpoint, wrong header: {v}");

    // The trust store: the process's SSL_CERT_FILE is the TLS emulator's
    // CA. A snapshot naming the same file is served by the platform
    // verifier (it agrees with the process); one that names none is the
    // system's store only, which does not know that CA. NO_PROXY keeps the
    // process's HTTPS_PROXY (which cannot tunnel) out of it.
    #[cfg(all(unix, not(target_vendor = "apple")))]
    {
        let tls = std::env::var("MSC_TEST_CHILD_TLS").unwrap();
        let tls_token = std::env::var("MSC_TEST_CHILD_TLS_TOKEN").unwrap();
        let ca = std::env::var("SSL_CERT_FILE").unwrap();
        let tls_session =
            |env: Value| Session::new(&options(&tls, json!({"environmentVariables": env})));
        let (code, v) =
            tls_session(json!({"NO_PROXY": "*", "SSL_CERT_FILE": ca})).policies(&tls_token);
        assert_eq!(code, 0, "the snapshot's SSL_CERT_FILE: {v}");
        let (code, v) = tls_session(json!({"NO_PROXY": "*"})).policies(&tls_token);
        assert_eq!(code, 8, "the system's store only: {v}");
        assert!(v.to_string().contains("certificate"), "{v}");
    }
}

#[test]
fn product_policy_keys_come_in_the_published_order() {
    let emu = emulator(false);
    let s = Session::new(&options(&emu.url(), json!({})));
    let (code, v) =
        s.connect(json!({"flow": "accessToken", "accessToken": emu.mint_token("admin", 3600)}));
    assert_eq!(code, 0, "{v}");
    let prefix = format!(
        r#"{{"PolicyValue":"Enabled","ProductId":"{PRODUCT}","PolicyId":"{POLICY}","ProductName":""#
    );

    let (code, text, _) = s.call(
        msc_get,
        &json!({"resource": "productPolicy", "policyId": POLICY, "productId": PRODUCT}),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with(&format!(r#"{{"value":{prefix}"#)),
        "{text}"
    );

    let (code, text, v) = s.call(
        msc_get,
        &json!({"resource": "productPolicies", "policyId": POLICY}),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with(r#"{"value":[{"PolicyValue":"#), "{text}");
    for item in v["value"].as_array().unwrap() {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["PolicyValue", "ProductId", "PolicyId", "ProductName"],
            "{item}"
        );
    }
    assert!(text.contains(&prefix), "{text}");

    let (code, text, _) = s.call(
        msc_update,
        &json!({"policyId": POLICY, "productId": PRODUCT, "value": "Disabled"}),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with(&format!(
            r#"{{"value":{{"PolicyValue":"Disabled","ProductId":"{PRODUCT}","PolicyId":"{POLICY}","ProductName":""#
        )),
        "{text}"
    );

    // Other values keep their order.
    let (code, text, _) = s.call(
        msc_get,
        &json!({"resource": "offerTypePolicy", "policyId": POLICY, "offerType": "Trial"}),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with(r#"{"value":{"PolicyId":"#), "{text}");
    let (code, text, _) = s.call(msc_get, &json!({"resource": "policy", "policyId": POLICY}));
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with(r#"{"value":{"PolicyId":"#), "{text}");
}
