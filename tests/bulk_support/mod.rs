//! Shared set-up of the bulk and baseline tests: an emulator, sessions on
//! it, and its control endpoints read over HTTP (`/_emulator/products`,
//! `/_emulator/writes`, `/_emulator/faults`, `/_emulator/stats`).
#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

#[allow(unused_imports)]
pub use common::{get, update, APP_ID, APP_SECRET, TENANT};
use mscommerce::emulator::{Catalogue, Emulator, EmulatorConfig};
use mscommerce::log::CallLog;
use mscommerce::Session;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const P: &str = "AllowSelfServicePurchase";

/// An emulator on a runtime of its own, as a service is on a machine of
/// its own (its scheduling does not mix with the client's).
pub async fn start(catalogue: Catalogue) -> Emulator {
    common::background(EmulatorConfig {
        catalogue,
        ..Default::default()
    })
}

/// The same over TLS (sign-in with a client secret wants an https://
/// authority), its CA trusted through `caCertificatePath`.
pub async fn start_tls(catalogue: Catalogue) -> Emulator {
    common::background(EmulatorConfig {
        catalogue,
        tls: true,
        ..Default::default()
    })
}

/// The emulator's CA as a file, when it serves TLS.
fn ca_file(emu: &Emulator) -> Option<std::path::PathBuf> {
    let pem = emu.ca_pem()?;
    let path = std::env::temp_dir().join(format!(
        "mscommerce-bulk-ca-{}-{}.pem",
        std::process::id(),
        emu.port()
    ));
    std::fs::write(&path, pem).expect("CA file written");
    Some(path)
}

/// Session options pointing at the emulator, with fast retries.
pub fn options(emu: &Emulator) -> String {
    let mut o = json!({
        "serviceUrl": emu.url(),
        "authorityHost": emu.url(),
        "retryBaseDelayMs": 10,
        "timeoutSeconds": 20,
    });
    if let Some(ca) = ca_file(emu) {
        o["caCertificatePath"] = json!(ca);
    }
    o.to_string()
}

/// A session connected with a token minted for the admin (not renewable).
pub async fn with_token(emu: &Emulator) -> Session {
    let s = Session::new(&options(emu)).expect("session");
    let token = emu.mint_token("admin", 3600);
    s.connect(
        &json!({"flow": "accessToken", "accessToken": token}).to_string(),
        &CallLog::new(),
    )
    .await
    .expect("connect");
    s
}

/// A session signed in as the app with its secret (renewable: it signs in
/// again when its token expires).
pub async fn with_secret(emu: &Emulator) -> Session {
    let s = Session::new(&options(emu)).expect("session");
    s.connect(
        &json!({"flow": "clientSecret", "tenantId": TENANT, "clientId": APP_ID, "clientSecret": APP_SECRET})
            .to_string(),
        &CallLog::new(),
    )
    .await
    .expect("connect");
    s
}

/// A bulk update's results, with its log.
pub async fn bulk(s: &Session, req: Value) -> (Vec<Value>, Vec<String>) {
    let log = CallLog::new();
    let v = s
        .update(&req.to_string(), &log)
        .await
        .unwrap_or_else(|e| panic!("{req}: {e}"));
    (v.as_array().expect("an array").clone(), log.take())
}

/// Product id -> Status of bulk results.
pub fn statuses(results: &[Value]) -> BTreeMap<String, String> {
    results
        .iter()
        .map(|r| {
            (
                r["ProductId"].as_str().unwrap().to_string(),
                r["Status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn control(
    emu: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let tls = mscommerce::options::SessionOptions::parse(&options(emu)).unwrap();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(mscommerce::transport::tls_config(&tls).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let mut r = client.request(method, format!("{}{path}", emu.url()));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("control endpoint answers");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("JSON")
}

/// The products as the emulator holds them (`GET /_emulator/products`):
/// id -> value, in catalogue order.
pub async fn products(emu: &Emulator) -> Vec<(String, String)> {
    let v = control(emu, reqwest::Method::GET, "/_emulator/products", None).await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["productId"].as_str().unwrap().to_string(),
                p["policyValue"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every write the emulator applied (`GET /_emulator/writes`): (id,
/// previous value, new value).
pub async fn writes(emu: &Emulator) -> Vec<(String, String, String)> {
    let v = control(emu, reqwest::Method::GET, "/_emulator/writes", None).await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap().to_string(),
                w["previousValue"].as_str().unwrap().to_string(),
                w["policyValue"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub async fn set_faults(emu: &Emulator, faults: Value) {
    control(
        emu,
        reqwest::Method::POST,
        "/_emulator/faults",
        Some(faults),
    )
    .await;
}

pub async fn set_product(emu: &Emulator, product: Value) {
    control(
        emu,
        reqwest::Method::POST,
        "/_emulator/products",
        Some(product),
    )
    .await;
}

pub async fn remove_product(emu: &Emulator, id: &str) {
    control(
        emu,
        reqwest::Method::DELETE,
        &format!("/_emulator/products/{id}"),
        None,
    )
    .await;
}

pub async fn stats(emu: &Emulator) -> Value {
    control(emu, reqwest::Method::GET, "/_emulator/stats", None).await
}

/// No write ever set a product to a value other than `allowed`.
pub async fn only_written_to(emu: &Emulator, allowed: &[&str]) {
    for (id, _, value) in writes(emu).await {
        assert!(
            allowed.contains(&value.as_str()),
            "{id} was written to {value}, which nobody asked for"
        );
    }
}
