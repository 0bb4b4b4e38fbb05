//! Benchmark (not a test) of issue 10 item 7: a bulk change of 40 products
//! (emulator catalogue `generated:40`, 50 ms added to every licensing
//! request) at concurrency 1, 4, 8, 16 and the default. For each: the wall
//! time of the whole bulk call (first listing, writes, verifying listing)
//! and of its writes alone, the physical limit of the writes ceil(40/c) x
//! 50 ms and of the whole call (two listings more), the ratios, and the
//! requests and TCP connections the emulator saw.
//! Run: `cargo bench --bench bulk` (`-- --runs N`, default 5; the median run
//! is shown).

use mscommerce::bulk::DEFAULT_CONCURRENCY;
use mscommerce::emulator::{Catalogue, EmulatorConfig};
use mscommerce::log::CallLog;
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod support;

const PRODUCTS: usize = 40;
const LATENCY_MS: u64 = 50;

struct Run {
    wall: Duration,
    writes: Duration,
    requests: u64,
    connections: u64,
    peak: u64,
    updated: usize,
}

fn main() {
    let runs: usize = support::arg("--runs")
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let emu = support::emulator(EmulatorConfig {
        catalogue: Catalogue::Generated(PRODUCTS),
        latency_ms: LATENCY_MS,
        ..Default::default()
    });
    let url = emu.url();
    let token = emu.mint_token("admin", 3600);
    let rt = support::runtime();

    let one = |c: usize| -> Run {
        emu.reset();
        let session = support::session(&url);
        let request = json!({"policyId": "AllowSelfServicePurchase", "allProducts": true,
            "value": "Disabled", "concurrency": c, "accessToken": token})
        .to_string();
        let before = emu.stats();
        let marks: Mutex<(Option<Instant>, Option<Instant>)> = Mutex::new((None, None));
        let started = Instant::now();
        let answer = rt.block_on(
            session.update_with_progress(&request, &CallLog::new(), &|p| {
                let mut m = marks.lock().unwrap();
                if m.0.is_none() {
                    m.0 = Some(Instant::now());
                }
                if p.done == p.total && !p.finished {
                    m.1 = Some(Instant::now());
                }
            }),
        );
        let wall = started.elapsed();
        let results = answer.expect("the bulk change");
        let after = emu.stats();
        let (first, last) = marks.into_inner().unwrap();
        Run {
            wall,
            writes: last.unwrap_or(started) - first.unwrap_or(started),
            requests: after.requests - before.requests,
            connections: after.connections - before.connections,
            peak: after.peak_in_flight,
            updated: results
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["Status"] == "Updated")
                .count(),
        }
    };
    // Warm up (TLS set-up, code paths).
    one(4);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "bulk change of {PRODUCTS} products, {LATENCY_MS} ms per request (emulator on loopback), median of {runs} runs"
    );
    println!(
        "{:>11} | {:>8} {:>8} {:>6} | {:>8} {:>9} {:>6} | {:>8} {:>11} {:>9}",
        "concurrency",
        "writes",
        "limit",
        "ratio",
        "call",
        "limit+2L",
        "ratio",
        "requests",
        "connections",
        "peak"
    );
    let levels = [
        (1, false),
        (4, false),
        (8, false),
        (16, false),
        (DEFAULT_CONCURRENCY, true),
    ];
    for (c, is_default_row) in levels {
        let mut all: Vec<Run> = (0..runs).map(|_| one(c)).collect();
        all.sort_by_key(|r| r.wall);
        let r = &all[all.len() / 2];
        assert_eq!(r.updated, PRODUCTS, "every product updated");
        let rounds = PRODUCTS.div_ceil(c) as f64;
        let limit = rounds * LATENCY_MS as f64;
        let limit_call = (rounds + 2.0) * LATENCY_MS as f64;
        let label = if is_default_row {
            format!("{c} (default)")
        } else {
            c.to_string()
        };
        println!(
            "{:>11} | {:>6.0}ms {:>6.0}ms {:>6.2} | {:>6.0}ms {:>7.0}ms {:>6.2} | {:>8} {:>11} {:>9}",
            label,
            ms(r.writes),
            limit,
            ms(r.writes) / limit,
            ms(r.wall),
            limit_call,
            ms(r.wall) / limit_call,
            r.requests,
            format!(
                "{}{}",
                r.connections,
                if r.connections as usize <= c { "" } else { " (!)" }
            ),
            r.peak
        );
    }
    println!(
        "writes: from the first listing's answer to the last write's; limit = ceil({PRODUCTS}/c) x {LATENCY_MS} ms.\n\
         call: the whole bulk call; limit+2L = the writes' limit and the two listings a verified change needs.\n\
         requests: 2 listings + {PRODUCTS} writes; connections: TCP connections the emulator accepted (goal <= c)."
    );
}
