//! The service client against the emulator over real loopback HTTP(S):
//! every operation, every error kind, retries seen from the server's side,
//! id validation, non-ASCII round trips, paging and TLS.

mod common;

use common::*;
use mscommerce::emulator::{Catalogue, Emulator, EmulatorConfig, Faults};
use mscommerce::log::CallLog;
use mscommerce::{ErrorKind, Session};
use serde_json::json;

const P: &str = "AllowSelfServicePurchase";

#[tokio::test]
async fn every_read_operation() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;

    let policies = get(&s, json!({"resource": "policies"})).await.unwrap();
    assert_eq!(policies[0]["PolicyId"], P);
    assert_eq!(policies[0]["DefaultValue"], "Enabled");
    assert!(policies[0]["Description"]
        .as_str()
        .unwrap()
        .contains("self-service"));

    let policy = get(&s, json!({"resource": "policy", "policyId": P}))
        .await
        .unwrap();
    assert_eq!(policy, policies[0]);

    let products = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    let products = products.as_array().unwrap();
    assert_eq!(products.len(), 12);
    // Exact property names and order of the PowerShell objects (Windows
    // PowerShell 5.1's order of the published module's objects).
    let keys: Vec<&str> = products[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["PolicyValue", "ProductId", "PolicyId", "ProductName"]
    );
    assert!(
        products
            .iter()
            .any(|p| p["ProductId"] == "CFQ7TTC0KP0N"
                && p["ProductName"] == "Power Automate per user")
    );

    let one = get(
        &s,
        json!({"resource": "productPolicy", "policyId": P, "productId": "CFQ7TTC0KP0N"}),
    )
    .await
    .unwrap();
    assert_eq!(one["PolicyValue"], "Enabled");

    let offers = get(
        &s,
        json!({"resource": "productPolicies", "policyId": P, "scope": "offerType"}),
    )
    .await
    .unwrap();
    assert_eq!(offers[0]["Scope"], "offerType");
    assert_eq!(offers[0]["ScopeId"], "Trial");
    let keys: Vec<&str> = offers[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["PolicyId", "PolicyValue", "Scope", "ScopeId", "ScopeValue"]
    );

    let all = get(
        &s,
        json!({"resource": "productPolicies", "policyId": P, "scope": "all"}),
    )
    .await
    .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 13);

    let offer = get(
        &s,
        json!({"resource": "offerTypePolicy", "policyId": P, "offerType": "Trial"}),
    )
    .await
    .unwrap();
    assert_eq!(offer["ScopeValue"], "Trial");
}

#[tokio::test]
async fn updates_change_the_service() {
    let emu = emulator().await;
    let s = connected(&emu, "billing").await;
    let r = update(
        &s,
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "enabled": "false"}),
    )
    .await
    .unwrap();
    assert_eq!(r["PolicyValue"], "Disabled");
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Disabled");
    update(
        &s,
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "enabled": true}),
    )
    .await
    .unwrap();
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Enabled");
    update(&s, json!({"policyId": P, "productId": "CFQ7TTC0KXND", "value": "onlytrialswithoutpaymentmethod"})).await.unwrap();
    assert_eq!(
        emu.product_value("CFQ7TTC0KXND").unwrap(),
        "OnlyTrialsWithoutPaymentMethod"
    );
    let o = update(
        &s,
        json!({"policyId": P, "offerType": "Trial", "value": "Disabled"}),
    )
    .await
    .unwrap();
    assert_eq!(o["PolicyValue"], "Disabled");
    // Other products untouched.
    assert_eq!(emu.product_value("CFQ7TTC0KP0P").unwrap(), "Enabled");
}

#[tokio::test]
async fn bad_values_are_refused_before_sending() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    let before = emu.stats().requests;
    for req in [
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "enabled": "yes"}),
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Maybe"}),
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Enabled", "enabled": "True"}),
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N"}),
        json!({"productId": "CFQ7TTC0KP0N", "value": "Enabled"}),
    ] {
        let e = update(&s, req.clone()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{req}");
    }
    assert_eq!(emu.stats().requests, before, "nothing reached the service");
}

#[tokio::test]
async fn ids_are_validated_before_any_url() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    let long = "A".repeat(200);
    let bad = [
        "../CFQ7TTC0KP0N",
        "CFQ7?x=1",
        "CFQ7#frag",
        "%2F",
        "",
        &long,
        "PRODUCTÉ",
        "a/b",
        "..",
        ".",
    ];
    let before = emu.stats().requests;
    for id in bad {
        let e = get(
            &s,
            json!({"resource": "productPolicy", "policyId": P, "productId": id}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{id:?}");
        let e = update(
            &s,
            json!({"policyId": id, "productId": "CFQ7TTC0KP0N", "value": "Enabled"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{id:?}");
    }
    assert_eq!(emu.stats().requests, before, "no request left the client");
}

#[tokio::test]
async fn non_ascii_names_round_trip_byte_exact() {
    let emu = emulator().await;
    let name = "Projektplan 1 – Überprüfung 日本語 ✓ \"quoted\" \\ 😀";
    emu.state()
        .data
        .lock()
        .unwrap()
        .products
        .get_mut(P)
        .unwrap()[0]
        .product_name = name.to_string();
    let s = connected(&emu, "admin").await;
    let products = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    assert_eq!(
        products[0]["ProductName"].as_str().unwrap().as_bytes(),
        name.as_bytes()
    );
    // Through the ABI's answer document too.
    let log = CallLog::new();
    let (code, text) = mscommerce::session::answer(
        s.get(
            &json!({"resource": "productPolicies", "policyId": P}).to_string(),
            &log,
        )
        .await,
        &log,
    );
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["value"][0]["ProductName"].as_str().unwrap(), name);
}

#[tokio::test]
async fn not_connected_has_the_published_message() {
    let emu = emulator().await;
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    let e = get(&s, json!({"resource": "policies"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotConnected);
    assert_eq!(
        e.message,
        "You must call the Connect-MSCommerce cmdlet before calling any other cmdlets"
    );
    // A per-call token (-Token) works without connecting.
    let token = emu.mint_token("reader", 600);
    let v = get(&s, json!({"resource": "policies", "accessToken": token}))
        .await
        .unwrap();
    assert_eq!(v[0]["PolicyId"], P);
}

#[tokio::test]
async fn forbidden_not_found_and_service_errors() {
    let emu = emulator().await;
    let reader = connected(&emu, "reader").await;
    get(&reader, json!({"resource": "policies"})).await.unwrap();
    let e = update(
        &reader,
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Disabled"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert_eq!(e.http_status, Some(403));
    assert!(
        e.message.starts_with("Failed to update product policy"),
        "{}",
        e.message
    );
    assert!(e.service_message.as_deref().unwrap().contains("permission"));
    assert!(e.correlation_id.as_deref().is_some_and(|c| c.len() == 36));
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Enabled");

    let nobody = connected(&emu, "user").await;
    assert_eq!(
        get(&nobody, json!({"resource": "policies"}))
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Forbidden
    );

    let admin = connected(&emu, "admin").await;
    let e = get(
        &admin,
        json!({"resource": "productPolicy", "policyId": P, "productId": "CFQ7TTC0ZZZZ"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.starts_with("Failed to retrieve product policy with PolicyId 'AllowSelfServicePurchase' ProductId 'CFQ7TTC0ZZZZ'"), "{}", e.message);
    let e = get(
        &admin,
        json!({"resource": "policy", "policyId": "NoSuchPolicy"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);

    // The docs2023 list refuses trials without payment for some products: a 400.
    let emu2 = Emulator::start(EmulatorConfig {
        catalogue: Catalogue::Docs2023,
        ..Default::default()
    })
    .await
    .unwrap();
    let s2 = connected(&emu2, "admin").await;
    let e = update(&s2, json!({"policyId": P, "productId": "CFQ7TTC0LH2H", "value": "OnlyTrialsWithoutPaymentMethod"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Service);
    assert_eq!(e.http_status, Some(400));
    assert!(e.service_message.unwrap().contains("trials"));
}

#[tokio::test]
async fn throttling_is_retried_and_counted_by_the_server() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    emu.set_faults(Faults {
        throttle: 2,
        retry_after_seconds: 0,
        ..Default::default()
    });
    let before = emu.stats().requests;
    let log = CallLog::new();
    s.get(&json!({"resource": "policies"}).to_string(), &log)
        .await
        .unwrap();
    assert_eq!(emu.stats().requests - before, 3, "two 429s then a success");
    let lines = log.lines();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("-> 429") && l.contains("retry"))
            .count(),
        2,
        "{lines:?}"
    );

    // More 429s than retries (4): Throttled after 5 requests, with Retry-After.
    emu.set_faults(Faults {
        throttle: 50,
        retry_after_seconds: 0,
        ..Default::default()
    });
    let before = emu.stats().requests;
    let e = get(&s, json!({"resource": "policies"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Throttled);
    assert_eq!(e.http_status, Some(429));
    assert_eq!(emu.stats().requests - before, 5);
    assert_eq!(e.retry_after_seconds, Some(1));
}

#[tokio::test]
async fn server_errors_are_retried_including_put() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    for status in [500u16, 502, 503, 504] {
        emu.set_faults(Faults {
            server_errors: 1,
            server_error_status: status,
            ..Default::default()
        });
        let before = emu.stats().requests;
        update(
            &s,
            json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Disabled"}),
        )
        .await
        .unwrap();
        assert_eq!(emu.stats().requests - before, 2, "status {status}");
    }
    emu.set_faults(Faults {
        server_errors: 50,
        server_error_status: 503,
        ..Default::default()
    });
    let before = emu.stats().requests;
    let e = get(&s, json!({"resource": "policies"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Service);
    assert_eq!(e.http_status, Some(503));
    assert_eq!(emu.stats().requests - before, 5);
}

#[tokio::test]
async fn dropped_connections_are_retried_then_reported() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    emu.set_faults(Faults {
        drop: 2,
        ..Default::default()
    });
    let before = emu.stats();
    get(&s, json!({"resource": "policies"})).await.unwrap();
    let after = emu.stats();
    assert_eq!(after.requests - before.requests, 3);
    assert!(
        after.connections - before.connections >= 2,
        "each drop costs a new connection"
    );

    emu.set_faults(Faults {
        drop: 50,
        ..Default::default()
    });
    let e = get(&s, json!({"resource": "policies"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
}

#[tokio::test]
async fn network_and_timeout() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let s = Session::new(
        &json!({"serviceUrl": url, "authorityHost": url, "retryBaseDelayMs": 1, "maxRetries": 1})
            .to_string(),
    )
    .unwrap();
    let e = get(&s, json!({"resource": "policies", "accessToken": "x.y.z"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e}");
    assert!(e.correlation_id.is_some());

    let emu = emulator().await;
    let s = Session::new(&options(&emu, json!({"timeoutSeconds": 0.5}))).unwrap();
    emu.set_faults(Faults {
        latency_ms: 3000,
        ..Default::default()
    });
    let token = emu.mint_token("admin", 600);
    let started = std::time::Instant::now();
    let e = get(&s, json!({"resource": "policies", "accessToken": token}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the call respects its timeout"
    );
}

#[tokio::test]
async fn expired_tokens() {
    let emu = emulator().await;
    // A caller's token cannot be renewed: the published message.
    let s = connected(&emu, "admin").await;
    emu.state().issuer.expire_all();
    let e = get(&s, json!({"resource": "policies"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(
        e.message
            .contains("Your credentials have expired. Please, call Connect-MSCommerce again"),
        "{}",
        e.message
    );

    // An already expired token is refused at connect.
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    let old = emu.mint_token("admin", -10);
    let e = s
        .connect(
            &json!({"flow": "accessToken", "accessToken": old}).to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);

    // A password session signs in again after a 401 and goes on.
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    s.connect(
        &json!({"flow": "password", "username": ADMIN, "password": ADMIN_PASSWORD}).to_string(),
        &CallLog::new(),
    )
    .await
    .unwrap();
    emu.state().issuer.expire_all();
    let tokens_before = emu.stats().token_requests;
    let log = CallLog::new();
    s.get(&json!({"resource": "policies"}).to_string(), &log)
        .await
        .unwrap();
    assert_eq!(emu.stats().token_requests - tokens_before, 1, "one refresh");
    assert!(log.lines().iter().any(|l| l.contains("401")));
}

#[tokio::test]
async fn next_links_are_followed() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    emu.set_faults(Faults {
        page_size: 5,
        ..Default::default()
    });
    let before = emu.stats().requests;
    let products = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    assert_eq!(products.as_array().unwrap().len(), 12);
    assert_eq!(emu.stats().requests - before, 3);
}

#[tokio::test]
async fn password_sign_in_and_its_failures() {
    let emu = emulator().await;
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    let info = s
        .connect(&json!({"flow": "password", "username": ADMIN, "password": ADMIN_PASSWORD, "tenantId": TENANT}).to_string(), &CallLog::new())
        .await
        .unwrap();
    assert_eq!(info["Account"], ADMIN);
    assert_eq!(info["Flow"], "Password");
    assert!(info["ExpiresOn"].is_string());
    get(&s, json!({"resource": "policies"})).await.unwrap();

    let e = s
        .connect(
            &json!({"flow": "password", "username": ADMIN, "password": "wrong"}).to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(e.message.contains("AADSTS50126"), "{}", e.message);
    assert!(!e.to_string().contains("wrong"));
}

#[tokio::test]
async fn client_secret_over_tls_with_the_emulator_ca() {
    let emu = Emulator::start(EmulatorConfig {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, emu.ca_pem().unwrap()).unwrap();
    let s = Session::new(&options(&emu, json!({"caCertificatePath": ca}))).unwrap();
    let info = s
        .connect(&json!({"flow": "clientSecret", "tenantId": TENANT, "clientId": APP_ID, "clientSecret": APP_SECRET}).to_string(), &CallLog::new())
        .await
        .unwrap();
    assert_eq!(info["Flow"], "ClientSecret");
    assert_eq!(info["ClientId"], APP_ID);
    update(
        &s,
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Disabled"}),
    )
    .await
    .unwrap();
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Disabled");

    let log = CallLog::new();
    let e = s
        .connect(&json!({"flow": "clientSecret", "tenantId": TENANT, "clientId": APP_ID, "clientSecret": "not-the-secret"}).to_string(), &log)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(e.message.contains("AADSTS7000215"), "{}", e.message);
    assert!(
        !e.to_string().contains("not-the-secret")
            && !log.lines().join("\n").contains("not-the-secret")
    );

    // Without the CA, TLS verification fails: a network error, never a silent success.
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    let token = emu.mint_token("admin", 600);
    let e = get(&s, json!({"resource": "policies", "accessToken": token}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network, "{e}");
}

#[test]
fn plain_http_only_on_loopback() {
    for url in ["http://licensing.m365.microsoft.com", "http://10.1.2.3:80"] {
        let e = Session::new(&json!({"serviceUrl": url}).to_string())
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
    let e = Session::new(&json!({"authorityHost": "http://login.microsoftonline.com"}).to_string())
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    Session::new(
        &json!({"serviceUrl": "http://127.0.0.1:9", "authorityHost": "http://localhost:9"})
            .to_string(),
    )
    .unwrap();
}

#[tokio::test]
async fn log_lines_carry_method_url_status_and_correlation_id_but_no_token() {
    let emu = emulator().await;
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    let token = emu.mint_token("admin", 600);
    let log = CallLog::new();
    s.get(
        &json!({"resource": "policies", "accessToken": token}).to_string(),
        &log,
    )
    .await
    .unwrap();
    let lines = log.lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(&format!("GET {}/v1.0/policies -> 200 in ", emu.url())),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("correlation id "));
    assert!(!lines[0].contains(&token));
    // The User-Agent names the product and its version.
    let ua = emu.stats().last_user_agent;
    assert!(
        ua.starts_with(&format!("mscommerce-rs/{} (", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    emu.set_faults(Faults {
        oversize_body: 1,
        ..Default::default()
    });
    let e = get(&s, json!({"resource": "policies"})).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Service);
    assert!(e.message.contains("larger than"), "{}", e.message);
    // The next call is served normally.
    get(&s, json!({"resource": "policies"})).await.unwrap();
}

#[tokio::test]
async fn an_explicit_proxy_carries_the_requests() {
    // A second emulator plays the forward proxy: hyper serves absolute-form
    // request targets by path, so the request lands there (and is refused,
    // since that emulator did not issue the token) instead of at the service.
    let service = emulator().await;
    let proxy = emulator().await;
    let s = Session::new(&options(
        &service,
        json!({"proxy": proxy.url(), "maxRetries": 0}),
    ))
    .unwrap();
    let token = service.mint_token("admin", 600);
    let (service_before, proxy_before) = (service.stats().requests, proxy.stats().requests);
    let e = get(&s, json!({"resource": "policies", "accessToken": token}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication, "{e}");
    assert_eq!(
        service.stats().requests,
        service_before,
        "nothing went direct"
    );
    assert!(
        proxy.stats().requests > proxy_before,
        "the proxy saw the request"
    );
}

#[tokio::test]
async fn null_fields_mean_absent_as_the_powershell_module_sends_them() {
    // The module's dispatcher serialises unset hashtable entries as null.
    let emu = emulator().await;
    let s = connected(&emu, "admin").await;
    let v = update(
        &s,
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "offerType": null, "value": null, "enabled": "False", "accessToken": null}),
    )
    .await
    .unwrap();
    assert_eq!(v["PolicyValue"], "Disabled");
    let v = get(
        &s,
        json!({"resource": "productPolicies", "policyId": P, "scope": null, "accessToken": null}),
    )
    .await
    .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn bad_input_is_reported_before_not_connected() {
    let emu = emulator().await;
    let s = Session::new(&options(&emu, json!({}))).unwrap();
    for req in [
        json!({"resource": "nope"}),
        json!({"resource": "productPolicy", "policyId": P, "productId": "../x"}),
        json!({"resource": "policies", "accessToken": "has space"}),
        json!({"resource": "policies", "accessToken": "tok\u{e9}n"}),
        json!({"resource": "policies", "accessToken": "line\nbreak"}),
    ] {
        let e = get(&s, req.clone()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{req}: {e}");
    }
    let e = update(
        &s,
        json!({"policyId": "a/b", "productId": "X", "value": "Enabled"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    let e = s
        .connect(
            &json!({"flow": "accessToken", "accessToken": "bad token"}).to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(!e.message.contains("bad token"));
}
