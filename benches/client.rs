//! Benchmark (not a test): the client's per-call cost over the raw HTTP round
//! trip, and how many TCP connections one session opens for 100 calls.
//! Run: `cargo bench --bench client`.

mod support;

use mscommerce::emulator::EmulatorConfig;
use mscommerce::log::CallLog;
use serde_json::json;
use std::time::{Duration, Instant};

const CALLS: u32 = 500;

fn main() {
    let emu = support::emulator(EmulatorConfig::default());
    let url = emu.url();
    let token = emu.mint_token("admin", 3600);
    let rt = support::runtime();
    let path = format!("{url}/v1.0/policies/AllowSelfServicePurchase/products?scope=product");
    let request = json!({"resource": "productPolicies", "policyId": "AllowSelfServicePurchase", "accessToken": token}).to_string();

    // Connections for 100 sequential calls of one fresh session.
    let fresh = support::session(&url);
    let before = emu.stats().connections;
    rt.block_on(async {
        let log = CallLog::new();
        for _ in 0..100 {
            fresh.get(&request, &log).await.unwrap();
            log.take();
        }
    });
    let connections = emu.stats().connections - before;

    // Raw: reqwest alone, same endpoint, same headers, same body decoding.
    let raw = rt.block_on(async {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(
                mscommerce::transport::tls_config(&Default::default()).unwrap(),
            )
            .build()
            .unwrap();
        let call = || async {
            let r = http
                .get(&path)
                .bearer_auth(&token)
                .header("x-ms-correlation-id", uuid::Uuid::new_v4().to_string())
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert_eq!(v["items"].as_array().unwrap().len(), 12);
        };
        for _ in 0..50 {
            call().await;
        }
        let t = Instant::now();
        for _ in 0..CALLS {
            call().await;
        }
        t.elapsed() / CALLS
    });

    let session = support::session(&url);
    let ours = rt.block_on(async {
        let log = CallLog::new();
        for _ in 0..50 {
            session.get(&request, &log).await.unwrap();
            log.take();
        }
        let t = Instant::now();
        for _ in 0..CALLS {
            let v = session.get(&request, &log).await.unwrap();
            assert_eq!(v.as_array().unwrap().len(), 12);
            log.take();
        }
        t.elapsed() / CALLS
    });

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("list products, {CALLS} sequential calls on loopback (emulator, plain HTTP)");
    println!("  raw reqwest round trip : {:.3} ms/call", ms(raw));
    println!("  mscommerce client      : {:.3} ms/call", ms(ours));
    println!(
        "  client / raw           : {:.2}x",
        ours.as_secs_f64() / raw.as_secs_f64()
    );
    println!("TCP connections for 100 sequential calls of one session: {connections} (goal 1; ratio {connections}/1)");
}
