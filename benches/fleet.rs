//! Benchmark (not a test) of issue 11 item 5: a fleet run locking down 200
//! emulated tenants of 26 products (docs2025), half of them drifted (every
//! product Enabled) and half already locked down, 50 ms added by the
//! emulator to every licensing request, app-only sign-in (client secret,
//! one token per tenant) over TLS on loopback, as the C ABI runs it (a
//! runtime of 2 workers). For each tenant concurrency: the wall time, the
//! physical limit (the tenants' own minimum times — two listings, and
//! ceil(26/8) rounds of writes when drifted — packed into that many lanes in
//! request order), their ratio, the requests, token requests and TCP
//! connections the emulator saw, the most requests in flight, and the
//! process's peak resident memory (VmHWM, emulator included).
//! Run: `cargo bench --bench fleet` (`-- --runs N`, default 1; the median is
//! shown; `-- --levels 4,16,32`).

use mscommerce::bulk::DEFAULT_CONCURRENCY;
use mscommerce::emulator::directory::{PARTNER_APP, PARTNER_TENANT_DOMAIN};
use mscommerce::emulator::fleet::{generated_tenant_id, FleetConfig, Generate};
use mscommerce::emulator::EmulatorConfig;
use mscommerce::fleet::DEFAULT_TENANT_CONCURRENCY;
use mscommerce::log::CallLog;
use mscommerce::Session;
use serde_json::json;
use std::time::{Duration, Instant};

mod support;

const TENANTS: usize = 200;
const DRIFTED: usize = 100;
const PRODUCTS: usize = 26;
const LATENCY_MS: u64 = 50;

struct Run {
    wall: Duration,
    requests: u64,
    tokens: u64,
    connections: u64,
    peak: u64,
    updated: usize,
}

/// Peak resident memory of this process (kB), from /proc/self/status.
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The shortest a run can take: each tenant's requests back to back (no
/// request can start before the one it depends on answered), tenants
/// started in request order on the first free lane.
fn physical_limit_ms(lanes: usize) -> f64 {
    let rounds = PRODUCTS.div_ceil(DEFAULT_CONCURRENCY) as u64;
    let mut free = vec![0u64; lanes];
    for i in 0..TENANTS {
        let cost = if i < DRIFTED { 2 + rounds } else { 2 } * LATENCY_MS;
        let lane = free.iter_mut().min().expect("lanes");
        *lane += cost;
    }
    *free.iter().max().unwrap_or(&0) as f64
}

fn main() {
    let runs: usize = support::arg("--runs")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let levels: Vec<usize> = support::arg("--levels")
        .map(|l| l.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![DEFAULT_TENANT_CONCURRENCY, 16, 32]);
    let emu = support::emulator(EmulatorConfig {
        tls: true,
        latency_ms: LATENCY_MS,
        ..Default::default()
    });
    let fleet = FleetConfig {
        generate: Some(Generate {
            count: TENANTS,
            catalogue: Some("docs2025".into()),
            drifted: DRIFTED,
        }),
        ..Default::default()
    };
    let ca = std::env::temp_dir().join(format!("mscommerce-fleet-bench-ca-{}.pem", emu.port()));
    std::fs::write(&ca, emu.ca_pem().expect("TLS")).unwrap();
    let url = emu.url();
    let tenants: Vec<String> = (1..=TENANTS).map(generated_tenant_id).collect();
    let rt = support::runtime();
    let hwm_start = vm_hwm_kb();

    emu.set_tenants(fleet).expect("fleet");
    let one = |lanes: usize| -> Run {
        // Back to the fleet as configured: half drifted, counters at zero.
        emu.reset();
        let session = Session::new(
            &json!({"serviceUrl": url, "authorityHost": url, "caCertificatePath": ca,
                    "timeoutSeconds": 60})
            .to_string(),
        )
        .unwrap();
        rt.block_on(
            session.connect(
                &json!({"flow": "clientSecret", "tenantId": PARTNER_TENANT_DOMAIN,
                    "clientId": PARTNER_APP.client_id, "clientSecret": "emulator-partner-secret"})
                .to_string(),
                &CallLog::new(),
            ),
        )
        .expect("connect");
        let request = json!({"policyId": "AllowSelfServicePurchase", "allProducts": true,
            "value": "Disabled", "tenants": tenants, "tenantConcurrency": lanes})
        .to_string();
        let before = emu.stats();
        let started = Instant::now();
        let answer = rt
            .block_on(session.update(&request, &CallLog::new()))
            .expect("the fleet run");
        let wall = started.elapsed();
        let after = emu.stats();
        let results = answer.as_array().expect("per-tenant results");
        assert!(
            results.iter().all(|r| r["Status"] == "Succeeded"),
            "every tenant succeeded"
        );
        let updated = results
            .iter()
            .flat_map(|r| r["Value"].as_array().into_iter().flatten())
            .filter(|p| p["Status"] == "Updated")
            .count();
        Run {
            wall,
            requests: after.requests - before.requests,
            tokens: after.token_requests - before.token_requests,
            connections: after.connections - before.connections,
            peak: after.peak_in_flight,
            updated,
        }
    };
    // Warm up (TLS, code paths).
    one(8);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "fleet run: {TENANTS} tenants x {PRODUCTS} products, {DRIFTED} drifted, {LATENCY_MS} ms per request, concurrency {DEFAULT_CONCURRENCY} per tenant, app-only over TLS on loopback, median of {runs} runs"
    );
    println!(
        "| tenantConcurrency | wall | limit | ratio | requests | token requests | connections | peak in flight | VmHWM |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for lanes in levels {
        let mut all: Vec<Run> = (0..runs).map(|_| one(lanes)).collect();
        all.sort_by_key(|r| r.wall);
        let r = &all[all.len() / 2];
        assert_eq!(
            r.updated,
            DRIFTED * PRODUCTS,
            "every drifted product updated"
        );
        let limit = physical_limit_ms(lanes);
        let label = if lanes == DEFAULT_TENANT_CONCURRENCY {
            format!("{lanes} (default)")
        } else {
            lanes.to_string()
        };
        println!(
            "| {label} | {:.0} ms | {limit:.0} ms | {:.2} | {} | {} | {} | {} | {} MB |",
            ms(r.wall),
            ms(r.wall) / limit,
            r.requests,
            r.tokens,
            r.connections,
            r.peak,
            vm_hwm_kb().unwrap_or(0) / 1024
        );
    }
    println!(
        "limit: each tenant's requests back to back ({} ms drifted: 2 listings and {} rounds of writes; {} ms clean: 2 listings), tenants packed in request order into tenantConcurrency lanes.\n\
         VmHWM: peak resident memory of the whole process (client and emulator), {} MB before the first run.",
        (2 + PRODUCTS.div_ceil(DEFAULT_CONCURRENCY)) as u64 * LATENCY_MS,
        PRODUCTS.div_ceil(DEFAULT_CONCURRENCY),
        2 * LATENCY_MS,
        hwm_start.unwrap_or(0) / 1024
    );
}
