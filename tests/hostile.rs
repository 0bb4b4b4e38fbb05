//! The hostile-server suite (issue 8): the library against a server that
//! misbehaves on purpose (tests/hostile_support/mod.rs). One test (or a few) per
//! defect found, each asserting the return code or error kind, the time
//! bound (with slack for a loaded 2-core machine), the memory bound where
//! it applies (body bytes the server managed to write), and what the server
//! saw (no request, no PUT, when none was asked for).
//!
//! Most go through the C ABI in-process (the contract of every host); the
//! sign-in deadline is also tested through `Session`, which is what the CLI
//! calls. Every session gets an empty `environmentVariables` snapshot, so
//! the proxies of the machine running the tests play no part.
#![cfg(feature = "emulator")]

mod hostile_support;

use hostile_support::{closed_port, is_clean, AbiSession, Certificate, Hostile, Reply};
use mscommerce::ffi::{msc_connect, msc_get, msc_update};
use mscommerce::log::CallLog;
use mscommerce::{ErrorKind, Session};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const P: &str = "AllowSelfServicePurchase";
const PRODUCT: &str = "CFQ7TTC0KXG6";
const TENANT: &str = "contoso.onmicrosoft.com";
const APP: &str = "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a03";
/// Any bearer token will do: the hostile server checks none.
const TOKEN: &str = "hostile.test.token";
/// What a loaded 2-core machine may add to a time bound.
const SLACK: Duration = Duration::from_secs(5);
/// The sign-in flows that send a request at connect.
const FLOWS: [&str; 5] = [
    "password",
    "clientSecret",
    "certificate",
    "managedIdentity",
    "deviceCode",
];

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/signin_fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Session options for a service and an authority (the CA file when TLS).
fn options(service: &str, authority: &str, ca: Option<&Path>, extra: Value) -> Value {
    let mut o = json!({
        "serviceUrl": service,
        "authorityHost": authority,
        "timeoutSeconds": 20,
        "retryBaseDelayMs": 10,
        "environmentVariables": {},
    });
    if let Some(ca) = ca {
        o["caCertificatePath"] = json!(ca.display().to_string());
    }
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

/// The connect request of `flow`, its sign-in endpoints at `base`.
fn sign_in(flow: &str, base: &str) -> Value {
    match flow {
        "password" => {
            json!({"flow": "password", "username": "admin@contoso.onmicrosoft.com", "password": "pw", "tenantId": TENANT})
        }
        "clientSecret" => {
            json!({"flow": "clientSecret", "tenantId": TENANT, "clientId": APP, "clientSecret": "s"})
        }
        "certificate" => {
            json!({"flow": "certificate", "tenantId": TENANT, "clientId": APP, "certificatePath": fixture("certificate-app-pkcs1.pem")})
        }
        "managedIdentity" => json!({"flow": "managedIdentity", "environmentVariables": {
            "IDENTITY_ENDPOINT": format!("{base}/msi/token"), "IDENTITY_HEADER": "h"}}),
        "deviceCode" => json!({"flow": "deviceCode", "step": "start", "tenantId": TENANT}),
        other => panic!("no flow {other}"),
    }
}

fn assert_within(what: &str, took: Duration, limit: Duration) {
    assert!(
        took < limit + SLACK,
        "{what}: took {took:?}, more than {limit:?} + {SLACK:?}"
    );
}

fn connected(server: &Hostile) -> AbiSession {
    let s = AbiSession::new(&options(&server.url(), &server.url(), None, json!({}))).unwrap();
    let a = s.connect(&json!({"flow": "accessToken", "accessToken": TOKEN}));
    assert_eq!(a.code, 0, "{}", a.text);
    s
}

fn product(value: &str) -> Value {
    json!({"policyId": P, "productName": "Power Automate per user", "productId": PRODUCT, "policyValue": value})
}

// ---- 1. every sign-in ends within its timeout ----

/// Through `Session`, as the CLI signs in: every flow, against an identity
/// endpoint that accepts the connection and never answers, and one that
/// answers the headers and stalls, ends with Timeout within the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d1_every_sign_in_ends_within_its_timeout() {
    let timeout = Duration::from_secs(3);
    for stall in [false, true] {
        let server = Arc::new(Hostile::start_tls(Certificate::Trusted, move |_, _| {
            if stall {
                Reply::HeadersThenStall { status: 200 }
            } else {
                Reply::Silence
            }
        }));
        let dir = tempfile::tempdir().unwrap();
        let ca = server.ca_file(dir.path());
        let mut runs = Vec::new();
        for flow in FLOWS {
            let url = server.url();
            let o = options(&url, &url, Some(&ca), json!({"timeoutSeconds": 3}));
            runs.push(tokio::spawn(async move {
                let session = Session::new(&o.to_string()).unwrap();
                let started = Instant::now();
                let guard = tokio::time::timeout(
                    Duration::from_secs(40),
                    session.connect(&sign_in(flow, &url).to_string(), &CallLog::new()),
                )
                .await;
                (flow, guard, started.elapsed())
            }));
        }
        for run in runs {
            let (flow, guard, took) = run.await.unwrap();
            let what = format!("{flow} (stall after headers: {stall})");
            let e = guard
                .unwrap_or_else(|_| panic!("{what}: still waiting after 40 s"))
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Timeout, "{what}: {e}");
            assert_within(&what, took, timeout);
        }
        assert!(server.connections() >= FLOWS.len() as u64);
    }
}

/// Through the C ABI: the same, MSC_TIMEOUT.
#[test]
fn d1_the_abi_ends_sign_in_within_its_timeout() {
    let server = Hostile::start_tls(Certificate::Trusted, |_, _| Reply::Silence);
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca_file(dir.path());
    let url = server.url();
    for flow in ["clientSecret", "password"] {
        let s = AbiSession::new(&options(
            &url,
            &url,
            Some(&ca),
            json!({"timeoutSeconds": 2}),
        ))
        .unwrap();
        let a = s.connect(&sign_in(flow, &url));
        assert_eq!(a.code, 9, "{flow}: {}", a.text);
        assert_within(flow, a.took, Duration::from_secs(2));
    }
}

// ---- 2. every body read is capped, sign-in answers included ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_sign_in_answers_are_read_up_to_the_cap_only() {
    const HUNDRED_MB: u64 = 100 * 1024 * 1024;
    for flow in ["clientSecret", "certificate", "managedIdentity", "password"] {
        let server = Hostile::start_tls(Certificate::Trusted, |_, _| Reply::Flood {
            status: 200,
            len: HUNDRED_MB,
        });
        let dir = tempfile::tempdir().unwrap();
        let ca = server.ca_file(dir.path());
        let url = server.url();
        let session = Session::new(&options(&url, &url, Some(&ca), json!({})).to_string()).unwrap();
        let started = Instant::now();
        let e = session
            .connect(&sign_in(flow, &url).to_string(), &CallLog::new())
            .await
            .unwrap_err();
        assert_within(flow, started.elapsed(), Duration::from_secs(20));
        // The client stopped reading at the cap (4 MiB) and dropped the
        // connection: the server could not write much more than that
        // (socket buffers), never the 100 MB.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let written = server.body_bytes_written();
        assert!(
            written < 32 * 1024 * 1024,
            "{flow}: the server wrote {written} bytes of the 100 MB body"
        );
        assert_eq!(e.kind, ErrorKind::Service, "{flow}: {e}");
        assert!(e.message.contains("larger than"), "{flow}: {e}");
    }
}

// ---- 3. a proxy that cannot be used is refused, never bypassed ----

#[test]
fn d3_a_proxy_with_an_unknown_scheme_is_refused() {
    let server = Hostile::start(|_, _| Reply::json(200, json!({"items": []})));
    let url = server.url();
    let closed = closed_port();
    for proxy in [
        format!("htp://127.0.0.1:{closed}"),
        format!("ftp://127.0.0.1:{closed}"),
        format!("socks9://127.0.0.1:{closed}"),
        format!("htp://user:s3cret-pw@127.0.0.1:{closed}"),
        "http://user:s3cret-pw@127.0.0.1:99999".to_string(),
    ] {
        match AbiSession::new(&options(&url, &url, None, json!({"proxy": proxy}))) {
            Ok(s) => {
                let a = s.get(&json!({"resource": "policies", "accessToken": TOKEN}));
                panic!(
                    "proxy {proxy} was accepted; the get answered {} and the service saw {} requests",
                    a.code,
                    server.seen().len()
                );
            }
            Err(a) => {
                assert_eq!(a.code, 1, "{proxy}: {}", a.text);
                assert!(a.message().contains("proxy"), "{}", a.text);
                assert!(!a.text.contains("s3cret-pw"), "{}", a.text);
            }
        }
    }
    // The same in a connect request's options.
    let s = AbiSession::new(&options(&url, &url, None, json!({}))).unwrap();
    let a = s.connect(&json!({"flow": "accessToken", "accessToken": TOKEN, "proxy": format!("htp://127.0.0.1:{closed}")}));
    assert_eq!(a.code, 1, "{}", a.text);
    let a = s.get(&json!({"resource": "policies"}));
    assert_eq!(a.code, 2, "{}", a.text);
    assert!(server.seen().is_empty(), "a request went direct");
}

// ---- 4. the service's text reaches the answers escaped ----

#[test]
fn d4_control_characters_in_errors_are_escaped() {
    let nasty =
        "Denied\r\nInjected line \u{1b}[31mred\u{1b}[0m\u{7} \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}";
    let server = Hostile::start(move |seen, _| {
        if seen.path.contains("/oauth2/") {
            Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": format!("AADSTS50126: \u{1b}[31mwrong\u{7}\u{1b}]0;pwned\u{7}\r\nTrace ID: t")}),
            )
        } else {
            Reply::json_with(
                403,
                &[("x-ms-correlation-id", "cid-403")],
                json!({"error": {"code": "Forbidden", "message": nasty}}),
            )
        }
    });
    let url = server.url();
    let s = connected(&server);
    let a = s.get(&json!({"resource": "policies"}));
    assert_eq!(a.code, 4, "{}", a.text);
    let service = a.error()["serviceMessage"].as_str().unwrap();
    assert!(is_clean(a.message()) && is_clean(service), "{}", a.text);
    assert!(
        service.contains("\\r\\nInjected line \\x1b[31mred"),
        "{service}"
    );
    for line in a.json["log"].as_array().unwrap() {
        assert!(is_clean(line.as_str().unwrap()), "{line}");
    }

    // The platform's description, at sign-in.
    let a = s.connect(&sign_in("password", &url));
    assert_eq!(a.code, 3, "{}", a.text);
    assert!(a.message().contains("AADSTS50126"), "{}", a.text);
    assert!(is_clean(a.message()), "{}", a.text);
    assert!(
        is_clean(a.error()["serviceMessage"].as_str().unwrap_or_default()),
        "{}",
        a.text
    );

    // The one-line error the CLI prints (`Display`).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let session = Session::new(&options(&url, &url, None, json!({})).to_string()).unwrap();
    let e = rt
        .block_on(session.get(
            &json!({"resource": "policies", "accessToken": TOKEN}).to_string(),
            &CallLog::new(),
        ))
        .unwrap_err();
    let line = e.to_string();
    assert!(is_clean(&line), "{line:?}");
    assert!(line.contains("cid-403"), "{line}");
}

// ---- 5. a 2xx answer that is not the expected JSON is MSC_SERVICE ----

#[test]
fn d5_malformed_2xx_answers_are_service_errors() {
    let server = Hostile::start(|seen, _| {
        if seen.method == "PUT" {
            // Asked for Disabled, says Enabled.
            Reply::json(200, product("Enabled"))
        } else {
            Reply::json(200, json!({}))
        }
    });
    let s = connected(&server);
    for request in [
        json!({"resource": "policies"}),
        json!({"resource": "policy", "policyId": P}),
        json!({"resource": "productPolicies", "policyId": P}),
        json!({"resource": "productPolicy", "policyId": P, "productId": PRODUCT}),
        json!({"resource": "offerTypePolicy", "policyId": P, "offerType": "Trial"}),
    ] {
        let a = s.get(&request);
        assert_eq!(a.code, 7, "{request}: {}", a.text);
        assert!(a.message().contains("not"), "{}", a.text);
        assert_eq!(a.error()["httpStatus"], 200, "{}", a.text);
    }
    let gets = server.seen().len();
    let a = s.update(&json!({"policyId": P, "productId": PRODUCT, "value": "Disabled"}));
    assert_eq!(a.code, 7, "{}", a.text);
    assert!(
        a.message().contains("'Disabled'") && a.message().contains("'Enabled'"),
        "the error says what was asked and what the service answered: {}",
        a.text
    );
    assert_eq!(server.seen_method("PUT"), 1, "one PUT, not retried");
    assert_eq!(server.seen().len(), gets + 1);
}

// ---- 7. Retry-After and certificate failures ----

#[test]
fn d7_a_retry_after_past_the_budget_stops_at_once() {
    let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
    let date = httpdate::fmt_http_date(in_an_hour);
    let day = time::OffsetDateTime::from(in_an_hour).date().to_string();
    for value in [date, "3600".to_string()] {
        let v = value.clone();
        let server = Hostile::start(move |_, _| {
            Reply::json_with(
                429,
                &[("Retry-After", &v)],
                json!({"error": {"message": "slow down"}}),
            )
        });
        let url = server.url();
        let s = AbiSession::new(&options(
            &url,
            &url,
            None,
            json!({"timeoutSeconds": 100, "maxRetries": 4, "retryBaseDelayMs": 500}),
        ))
        .unwrap();
        let a = s.get(&json!({"resource": "policies", "accessToken": TOKEN}));
        assert_eq!(a.code, 6, "{value}: {}", a.text);
        let after = a.error()["retryAfterSeconds"].as_u64().unwrap_or(0);
        assert!((3590..=3601).contains(&after), "{value}: {}", a.text);
        assert!(
            a.message().contains(&day) && a.message().contains("s, at "),
            "the message says when: {}",
            a.text
        );
        assert_eq!(server.seen().len(), 1, "{value}: no retry");
        assert!(a.took < SLACK, "{value}: took {:?}", a.took);
    }
}

#[test]
fn d7_a_retry_after_within_the_budget_is_honoured() {
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
    for value in ["1".to_string(), past] {
        let v = value.clone();
        let server = Hostile::start(move |_, i| {
            if i == 0 {
                Reply::json_with(503, &[("Retry-After", &v)], json!({}))
            } else {
                Reply::json(200, json!({"items": []}))
            }
        });
        let url = server.url();
        let s = AbiSession::new(&options(&url, &url, None, json!({}))).unwrap();
        let a = s.get(&json!({"resource": "policies", "accessToken": TOKEN}));
        assert_eq!(a.code, 0, "{value}: {}", a.text);
        assert_eq!(server.seen().len(), 2, "{value}");
    }
}

#[test]
fn d7_certificate_failures_are_not_retried() {
    for certificate in [
        Certificate::SelfSigned,
        Certificate::Expired,
        Certificate::WrongHost,
    ] {
        let server = Hostile::start_tls(certificate, |_, _| Reply::token());
        let dir = tempfile::tempdir().unwrap();
        let ca = server.ca_file(dir.path());
        let url = server.url();
        let o = options(
            &url,
            &url,
            Some(&ca),
            json!({"maxRetries": 4, "retryBaseDelayMs": 500}),
        );
        let s = AbiSession::new(&o).unwrap();
        let a = s.get(&json!({"resource": "policies", "accessToken": TOKEN}));
        assert_eq!(a.code, 8, "{certificate:?}: {}", a.text);
        assert_eq!(server.connections(), 1, "{certificate:?}: one handshake");
        assert!(
            a.took < Duration::from_secs(3),
            "{certificate:?}: {:?}",
            a.took
        );
        // Sign-in through azure_identity: the same.
        let a = s.connect(&sign_in("clientSecret", &url));
        assert_eq!(a.code, 8, "{certificate:?}: {}", a.text);
        assert_eq!(server.connections(), 2, "{certificate:?}");
        assert!(server.seen().is_empty());
    }
}

// ---- 8. sign-in errors: one mapping for every flow ----

#[test]
fn d8_a_refused_connection_is_network_in_every_flow() {
    let port = closed_port();
    let https = format!("https://127.0.0.1:{port}");
    for flow in FLOWS {
        let s = AbiSession::new(&options(&https, &https, None, json!({}))).unwrap();
        let a = s.connect(&sign_in(flow, &format!("http://127.0.0.1:{port}")));
        assert_eq!(a.code, 8, "{flow}: {}", a.text);
        assert!(!a.message().contains("reqwest"), "{flow}: {}", a.text);
    }
}

#[test]
fn d8_the_platforms_error_is_authentication_with_its_aadsts_code() {
    let description = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2024-01-01 00:00:00Z";
    let server = Hostile::start_tls(Certificate::Trusted, move |_, _| {
        Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": description, "error_codes": [7000215]}),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca_file(dir.path());
    let url = server.url();
    let s = AbiSession::new(&options(&url, &url, Some(&ca), json!({}))).unwrap();
    for flow in ["clientSecret", "certificate", "password", "deviceCode"] {
        let a = s.connect(&sign_in(flow, &url));
        assert_eq!(a.code, 3, "{flow}: {}", a.text);
        assert!(
            a.message()
                .contains("invalid_client: AADSTS7000215: Invalid client secret provided."),
            "{flow}: {}",
            a.text
        );
        assert!(!a.message().contains("invalid type"), "{flow}: {}", a.text);
        assert!(!a.message().contains("Trace ID"), "{flow}: {}", a.text);
    }
}

#[test]
fn d8_a_401_on_a_given_token_carries_its_status_and_correlation_id() {
    let server = Hostile::start(|_, _| {
        Reply::json_with(
            401,
            &[("x-ms-correlation-id", "cid-401")],
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}}),
        )
    });
    let s = connected(&server);
    for request in [
        json!({"resource": "policies"}),
        json!({"resource": "policies", "accessToken": TOKEN}),
    ] {
        let a = s.get(&request);
        assert_eq!(a.code, 3, "{}", a.text);
        let e = a.error();
        assert_eq!(e["httpStatus"], 401, "{}", a.text);
        assert_eq!(e["correlationId"], "cid-401", "{}", a.text);
        assert_eq!(
            e["serviceMessage"], "Access token validation failure.",
            "{}",
            a.text
        );
    }
}

// ---- 9. requests are JSON objects of known fields ----

#[test]
fn d9_requests_must_be_objects_of_known_fields() {
    let server = Hostile::start(|seen, _| {
        if seen.method == "PUT" {
            Reply::json(200, product("Disabled"))
        } else {
            Reply::json(200, json!({"items": [product("Enabled")]}))
        }
    });
    let url = server.url();
    let s = connected(&server);
    // Arrays are not requests (they would fill the fields by position).
    let a = s.call_raw(
        msc_update,
        r#"["AllowSelfServicePurchase","CFQ7TTC0KXG6",null,"Disabled"]"#,
    );
    assert_eq!(a.code, 1, "{}", a.text);
    assert!(a.message().contains("JSON object"), "{}", a.text);
    assert_eq!(s.call_raw(msc_get, r#"["policies"]"#).code, 1);
    assert_eq!(s.call_raw(msc_connect, r#"["accessToken","x"]"#).code, 1);
    // Unknown fields are named, never ignored.
    for (f, request, field) in [
        (
            msc_get as hostile_support::CallFn,
            json!({"resource": "policies", "AccessToken": "someone else's"}),
            "AccessToken",
        ),
        (
            msc_update,
            json!({"policyId": P, "productId": PRODUCT, "value": "Disabled", "whatIf": true}),
            "whatIf",
        ),
        (
            msc_connect,
            json!({"flow": "accessToken", "accessToken": TOKEN, "tenantID": TENANT}),
            "tenantID",
        ),
    ] {
        let a = s.call_raw(f, &request.to_string());
        assert_eq!(a.code, 1, "{request}: {}", a.text);
        assert!(a.message().contains(field), "{}", a.text);
    }
    assert!(server.seen().is_empty(), "nothing reached the service");

    // A 10 MB field is not echoed back whole.
    let big = "A".repeat(10 * 1024 * 1024);
    let mut big_key = serde_json::Map::new();
    big_key.insert(big.clone(), json!(1));
    big_key.insert("resource".into(), json!("policies"));
    for (f, request) in [
        (msc_get as hostile_support::CallFn, json!({"resource": big})),
        (msc_get, Value::Object(big_key)),
        (
            msc_update,
            json!({"policyId": P, "productId": PRODUCT, "value": big}),
        ),
        (msc_connect, json!({"flow": big})),
        (
            msc_connect,
            json!({"flow": "accessToken", "accessToken": TOKEN, "environment": big}),
        ),
    ] {
        let a = s.call_raw(f, &request.to_string());
        assert_eq!(a.code, 1, "{}", &a.text[..a.text.len().min(300)]);
        assert!(
            a.text.len() < 8 * 1024,
            "an answer of {} bytes",
            a.text.len()
        );
    }
    let a = AbiSession::new(&json!({"environment": big})).err().unwrap();
    assert!(
        a.text.len() < 8 * 1024,
        "an answer of {} bytes",
        a.text.len()
    );
    assert!(server.seen().is_empty(), "nothing reached the service");

    // Every field the PowerShell module sends is known (null: absent).
    let a = s.connect(&json!({
        "flow": "accessToken", "step": null, "environmentVariables": {}, "clientId": null,
        "tenantId": null, "loginHint": null, "scope": null, "certificateThumbprint": null,
        "environment": null, "serviceUrl": url, "authorityHost": url, "redirectUri": null,
        "username": null, "password": null, "clientSecret": null, "certificatePath": null,
        "certificatePassword": null, "accessToken": TOKEN,
    }));
    assert_eq!(a.code, 0, "{}", a.text);
    let a = s.get(
        &json!({"resource": "productPolicies", "policyId": P, "productId": null,
        "offerType": null, "scope": null, "accessToken": null}),
    );
    assert_eq!(a.code, 0, "{}", a.text);
    let a = s.update(
        &json!({"policyId": P, "productId": PRODUCT, "offerType": null,
        "value": "Disabled", "enabled": null, "accessToken": null}),
    );
    assert_eq!(a.code, 0, "{}", a.text);
}

// ---- a reset in the middle of a body is retried (GET and PUT) ----

#[test]
fn a_reset_in_the_middle_of_a_body_is_retried() {
    let puts = Arc::new(AtomicUsize::new(0));
    let gets = Arc::new(AtomicUsize::new(0));
    let (p, g) = (puts.clone(), gets.clone());
    let server = Hostile::start(move |seen, _| {
        let (count, body) = if seen.method == "PUT" {
            (&p, product("Disabled"))
        } else {
            (&g, json!({"items": [product("Enabled")]}))
        };
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::ResetMidBody {
                status: 200,
                body: body.to_string().into_bytes(),
                sent: 10,
            }
        } else {
            Reply::json(200, body)
        }
    });
    let s = connected(&server);
    let a = s.get(&json!({"resource": "productPolicies", "policyId": P}));
    assert_eq!(a.code, 0, "{}", a.text);
    assert_eq!(gets.load(Ordering::SeqCst), 2);
    let a = s.update(&json!({"policyId": P, "productId": PRODUCT, "value": "Disabled"}));
    assert_eq!(a.code, 0, "{}", a.text);
    assert_eq!(puts.load(Ordering::SeqCst), 2);
}
