//! A property test of the C ABI's JSON entry points: arbitrary bytes, and
//! mutations of valid requests, fed to `msc_session_new`, `msc_connect`,
//! `msc_get` and `msc_update` against the emulator. For every call: no
//! crash, no `MSC_INTERNAL` (a caught panic or a bug), a return code of the
//! contract, an answer that is UTF-8 JSON of the right shape for the code,
//! a session handle exactly when the code is `MSC_OK`, and an end within
//! the request timeout.
//!
//! `MSC_FUZZ_SECONDS` sets the time budget (default 3, so plain `cargo
//! test` stays quick); `MSC_FUZZ_SEED` the seed (default fixed; printed,
//! so a failure can be replayed).
#![cfg(feature = "emulator")]

use mscommerce::emulator::{Emulator, EmulatorConfig};
use mscommerce::ffi::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::ptr;
use std::time::{Duration, Instant};

type CallFn = unsafe extern "C" fn(*mut MscSession, *const c_char, *mut *mut c_char) -> i32;

const TIMEOUT_SECONDS: u64 = 3;

/// Check an answer against its code and free it; `Err` says what is wrong.
fn check_answer(code: i32, p: *mut c_char) -> Result<(), String> {
    if p.is_null() {
        return Err(format!("out_json not set (code {code})"));
    }
    let text = unsafe { CStr::from_ptr(p) }.to_str().map(str::to_owned);
    unsafe { msc_string_free(p) };
    let text = text.map_err(|_| "answer is not UTF-8".to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("answer is not JSON: {e}"))?;
    if !(0..=10).contains(&code) {
        return Err(format!("code {code}: {text}"));
    }
    let shape_ok = v["log"].is_array()
        && if code == 0 {
            v.get("value").is_some() && v.get("error").is_none()
        } else {
            v["error"]["code"].is_string() && v["error"]["message"].is_string()
        };
    if shape_ok {
        Ok(())
    } else {
        Err(format!("answer does not fit code {code}: {text}"))
    }
}

struct Corpus {
    connect: Vec<String>,
    get: Vec<String>,
    update: Vec<String>,
    options: Vec<String>,
}

fn corpus(admin: &str, reader: &str) -> Corpus {
    let p = r#""policyId":"AllowSelfServicePurchase""#;
    let connect = vec![
        format!(r#"{{"flow":"accessToken","accessToken":"{admin}"}}"#),
        format!(r#"{{"flow":"accessToken","accessToken":"{reader}","scope":"https://licensing.m365.microsoft.com/.default"}}"#),
        r#"{"flow":"password","username":"admin@contoso.onmicrosoft.com","password":"Emulator-Admin-1","tenantId":"contoso.onmicrosoft.com"}"#.into(),
        r#"{"flow":"clientSecret","tenantId":"contoso.onmicrosoft.com","clientId":"11111111-2222-3333-4444-555555555555","clientSecret":"s"}"#.into(),
        r#"{"flow":"deviceCode","step":"poll","tenantId":"organizations"}"#.into(),
        r#"{"flow":"interactive","step":"start","redirectUri":"http://localhost:0"}"#.into(),
    ];
    let get = vec![
        r#"{"resource":"policies"}"#.into(),
        format!(r#"{{"resource":"policy",{p}}}"#),
        format!(r#"{{"resource":"productPolicies",{p},"scope":"all"}}"#),
        format!(r#"{{"resource":"productPolicy",{p},"productId":"CFQ7TTC0KP0P"}}"#),
        format!(r#"{{"resource":"offerTypePolicy",{p},"offerType":"Trial"}}"#),
        r#"{"resource":"connection"}"#.into(),
        format!(r#"{{"resource":"policies","accessToken":"{admin}"}}"#),
        format!(
            r#"{{"resource":"productPolicy",{p},"productId":"CFQ7TTC0KP0N","accessToken":"{reader}"}}"#
        ),
    ];
    let update = vec![
        format!(r#"{{{p},"productId":"CFQ7TTC0KP0P","value":"Disabled"}}"#),
        format!(r#"{{{p},"productId":"CFQ7TTC0KP0P","enabled":"True"}}"#),
        format!(r#"{{{p},"productId":"CFQ7TTC0KP0N","enabled":false,"accessToken":"{admin}"}}"#),
        format!(r#"{{{p},"offerType":"Trial","value":"OnlyTrialsWithoutPaymentMethod"}}"#),
    ];
    let options = vec![
        "{}".into(),
        "".into(),
        r#"{"environment":"AzureUSGovernment","timeoutSeconds":5,"maxRetries":2}"#.into(),
        r#"{"environment":"Custom","authorityHost":"https://login.example","serviceUrl":"http://[::1]:9"}"#.into(),
        r#"{"proxy":"http://127.0.0.1:3128","caCertificatePath":"/nonexistent.pem","retryBaseDelayMs":1}"#.into(),
    ];
    Corpus {
        connect,
        get,
        update,
        options,
    }
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"\\u0000",
    b"\\ud800",
    b"\\",
    b"\xff",
    b"\xc3\xa9",
    b"\xf0\x9f\x9a\x80",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\x00",
    b" ",
    b"\t",
    b"..",
    b"/",
    b"%2e%2e",
    b"?",
    b"#",
    b"\"resource\"",
    b"\"policyId\"",
    b"\"productId\"",
    b"\"offerType\"",
    b"\"value\"",
    b"\"enabled\"",
    b"\"flow\"",
    b"\"step\"",
    b"\"accessToken\"",
    b"\"scope\"",
];

fn mutate(rng: &mut StdRng, seeds: &[String], other: &[String]) -> Vec<u8> {
    if rng.random_range(0..10) == 0 {
        // Pure noise.
        let n = rng.random_range(0..256);
        return (0..n).map(|_| rng.random::<u8>()).collect();
    }
    let mut b = seeds[rng.random_range(0..seeds.len())].as_bytes().to_vec();
    for _ in 0..rng.random_range(1..6) {
        let len = b.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..=len)
        };
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                b[i] = rng.random();
            }
            2 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                b.splice(at..at, t.iter().copied());
            }
            3 if len > 0 => {
                let end = (at + rng.random_range(1..16)).min(len);
                b.drain(at.min(len)..end);
            }
            4 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = (start + rng.random_range(1..32)).min(len);
                let piece = b[start..end].to_vec();
                b.splice(at..at, piece);
            }
            5 => {
                let o = other[rng.random_range(0..other.len())].as_bytes();
                let cut = rng.random_range(0..=o.len());
                b.truncate(at);
                b.extend_from_slice(&o[cut..]);
            }
            6 => {
                let long = vec![b'a' + rng.random_range(0..26u8); rng.random_range(100..5000)];
                b.splice(at..at, long);
            }
            _ => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                let t = t.repeat(rng.random_range(1..200));
                b.splice(at..at, t);
            }
        }
    }
    b
}

#[test]
fn fuzz_json_entry_points() {
    let seconds: u64 = std::env::var("MSC_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("MSC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0003);
    println!("fuzz: seed {seed} (MSC_FUZZ_SEED), {seconds} s (MSC_FUZZ_SECONDS)");
    let mut rng = StdRng::seed_from_u64(seed);

    let emu = Emulator::start_background(EmulatorConfig::default()).expect("emulator");
    let admin = emu.mint_token("admin", 3600);
    let reader = emu.mint_token("reader", 3600);
    let c = corpus(&admin, &reader);
    let options = format!(
        r#"{{"serviceUrl":"{0}","authorityHost":"{0}","timeoutSeconds":{TIMEOUT_SECONDS},"maxRetries":0}}"#,
        emu.url()
    );
    let mut options_c = options.clone().into_bytes();
    options_c.push(0);
    let mut session = ptr::null_mut();
    let mut out = ptr::null_mut();
    let code = unsafe { msc_session_new(options_c.as_ptr().cast(), &mut session, &mut out) };
    check_answer(code, out).unwrap();
    assert_eq!(code, 0);

    // Splices come from the requests only: the options name hosts that are
    // not loopback, and a connect request may carry options, so a spliced
    // one could send traffic off this machine.
    let all: Vec<String> = [&c.connect, &c.get, &c.update]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let mut counts: BTreeMap<(&str, i32), u64> = BTreeMap::new();
    let mut calls = 0u64;
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    let budget = Duration::from_secs(seconds);
    while started.elapsed() < budget {
        let pick = rng.random_range(0..20);
        let (name, seeds) = match pick {
            0..=1 => ("session_new", &c.options),
            2..=6 => ("connect", &c.connect),
            7..=14 => ("get", &c.get),
            _ => ("update", &c.update),
        };
        let other = if name == "session_new" {
            &c.options
        } else {
            &all
        };
        let mut input = mutate(&mut rng, seeds, other);
        let shown = String::from_utf8_lossy(&input[..input.len().min(300)]).into_owned();
        input.push(0);
        let mut out: *mut c_char = ptr::null_mut();
        let t = Instant::now();
        let code = if name == "session_new" {
            let mut s = ptr::null_mut();
            let code = unsafe { msc_session_new(input.as_ptr().cast(), &mut s, &mut out) };
            assert_eq!(
                code == 0,
                !s.is_null(),
                "session_new {shown:?}: handle vs code {code}"
            );
            unsafe { msc_session_free(s) };
            code
        } else {
            let f: CallFn = match name {
                "connect" => msc_connect,
                "get" => msc_get,
                _ => msc_update,
            };
            unsafe { f(session, input.as_ptr().cast(), &mut out) }
        };
        let took = t.elapsed();
        slowest = slowest.max(took);
        if let Err(e) = check_answer(code, out) {
            panic!("{name} {shown:?} (seed {seed}, call {calls}): {e}");
        }
        assert!(
            took < Duration::from_secs(TIMEOUT_SECONDS + 2),
            "{name} {shown:?} took {took:?}"
        );
        *counts.entry((name, code)).or_default() += 1;
        calls += 1;
        if rng.random_range(0..50) == 0 {
            assert_eq!(unsafe { msc_disconnect(session) }, 0);
        }
    }
    unsafe { msc_session_free(session) };
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {calls} calls in {elapsed:.1} s ({:.0}/s), slowest {slowest:?}, no crash, no Internal",
        calls as f64 / elapsed
    );
    for ((name, code), n) in &counts {
        println!("fuzz:   {name:<11} code {code:>2}: {n}");
    }
    assert!(calls > 0);
}
