//! The fleet through the C ABI (docs/fleet.md §3): a one-shot fleet get,
//! a fleet update in steps with a cancel, a fleet get in steps (to its end,
//! and cancelled), tenantId on a single request, the refusals, and
//! msc_disconnect dropping the tenants' tokens.
#![cfg(feature = "emulator")]

use mscommerce::emulator::directory::{PARTNER_APP, PARTNER_TENANT_DOMAIN};
use mscommerce::emulator::fleet::{generated_tenant_id, FleetConfig, Generate};
use mscommerce::emulator::{Emulator, EmulatorConfig};
use mscommerce::ffi::*;
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::ptr;

type CallFn = unsafe extern "C" fn(*mut MscSession, *const c_char, *mut *mut c_char) -> i32;

fn call(f: CallFn, s: *mut MscSession, request: &Value) -> (i32, Value) {
    let request = CString::new(request.to_string()).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    let code = unsafe { f(s, request.as_ptr(), &mut out) };
    assert!(!out.is_null());
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { msc_string_free(out) };
    assert!(!text.contains("emulator-partner-secret") && !text.contains("eyJ"));
    (code, serde_json::from_str(&text).unwrap())
}

fn tenants(n: usize) -> Vec<String> {
    (1..=n).map(generated_tenant_id).collect()
}

fn setup(latency_ms: u64) -> (Emulator, *mut MscSession) {
    setup_with(latency_ms, 6)
}

/// Six generated tenants, the first `drifted` of them drifted (every
/// product Enabled), the others locked down; a session signed in app-only.
fn setup_with(latency_ms: u64, drifted: usize) -> (Emulator, *mut MscSession) {
    let emu = Emulator::start_background(EmulatorConfig {
        tls: true,
        latency_ms,
        ..Default::default()
    })
    .expect("emulator");
    emu.set_tenants(FleetConfig {
        generate: Some(Generate {
            count: 6,
            drifted,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let ca = std::env::temp_dir().join(format!(
        "mscommerce-fleet-abi-ca-{}-{}.pem",
        std::process::id(),
        emu.port()
    ));
    std::fs::write(&ca, emu.ca_pem().unwrap()).unwrap();
    let options = CString::new(
        json!({"serviceUrl": emu.url(), "authorityHost": emu.url(), "caCertificatePath": ca,
               "timeoutSeconds": 20, "retryBaseDelayMs": 10})
        .to_string(),
    )
    .unwrap();
    let mut s = ptr::null_mut();
    let mut out = ptr::null_mut();
    let code = unsafe { msc_session_new(options.as_ptr(), &mut s, &mut out) };
    unsafe { msc_string_free(out) };
    assert_eq!(code, 0);
    let (code, v) = call(
        msc_connect,
        s,
        &json!({"flow": "clientSecret", "tenantId": PARTNER_TENANT_DOMAIN,
                "clientId": PARTNER_APP.client_id, "clientSecret": "emulator-partner-secret"}),
    );
    assert_eq!(code, 0, "{v}");
    (emu, s)
}

#[test]
fn fleet_get_update_steps_and_cancel_through_the_abi() {
    let (emu, s) = setup(100);
    let (code, v) = call(
        msc_get,
        s,
        &json!({"resource": "baselineDrift",
                "baseline": {"PolicyId": "AllowSelfServicePurchase", "Products": [], "OtherProducts": "Disabled"},
                "tenants": tenants(3), "tenantConcurrency": 3}),
    );
    assert_eq!(code, 0, "{v}");
    let results = v["value"].as_array().unwrap();
    assert!(results.iter().all(|r| r["Status"] == "Drifted"), "{v}");
    assert!(v["log"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .starts_with("fleet: 3 tenants, 0 succeeded, 0 failed, 3 drifted"));

    // Steps: one tenant at a time, cancelled after the first poll.
    let (code, first) = call(
        msc_update,
        s,
        &json!({"policyId": "AllowSelfServicePurchase", "allProducts": true, "value": "Disabled",
                "tenants": tenants(6), "tenantConcurrency": 1, "step": "start"}),
    );
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["value"]["Tenants"], 6);
    let (code, poll) = call(msc_update, s, &json!({"step": "poll"}));
    assert_eq!(code, 0, "{poll}");
    let (code, bad) = call(msc_update, s, &json!({"step": "poll", "tenantId": "x.com"}));
    assert_eq!(code, 1, "{bad}");
    let (code, done) = call(msc_update, s, &json!({"step": "cancel"}));
    assert_eq!(code, 0, "{done}");
    let done = &done["value"];
    assert_eq!(done["Finished"], true, "{done}");
    let results = done["Results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let cancelled: Vec<&Value> = results
        .iter()
        .filter(|r| r["Reason"] == "Cancelled")
        .collect();
    assert!(!cancelled.is_empty(), "{done}");
    // Every tenant is either locked down or untouched: none half-written
    // by a cancel (a running tenant finishes its bulk run).
    for (t, r) in tenants(6).iter().zip(results) {
        let values: Vec<String> = emu
            .tenant_products(t)
            .unwrap()
            .into_iter()
            .map(|p| p.policy_value)
            .collect();
        if r["Status"] == "Succeeded" {
            assert!(values.iter().all(|v| v == "Disabled"), "{t}");
        } else {
            assert_eq!(r["Reason"], "Cancelled");
            assert!(values.iter().all(|v| v == "Enabled"), "{t}");
        }
    }

    // tenantId on a single request; then a refused one.
    let (code, v) = call(
        msc_get,
        s,
        &json!({"resource": "productPolicies", "policyId": "AllowSelfServicePurchase",
                "tenantId": "tenant0006.onmicrosoft.com"}),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["value"].as_array().unwrap().len(), 26);
    let (code, v) = call(
        msc_get,
        s,
        &json!({"resource": "policies", "tenantId": "tenant0006.onmicrosoft.com/../x"}),
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "InvalidArgument");

    // After msc_disconnect, nothing is reachable (the tenants' tokens went
    // with the connection).
    assert_eq!(unsafe { msc_disconnect(s) }, 0);
    let (code, v) = call(
        msc_get,
        s,
        &json!({"resource": "policies", "tenants": tenants(2)}),
    );
    assert_eq!(code, 2, "{v}");
    unsafe { msc_session_free(s) };
}

fn drift_request(concurrency: usize) -> Value {
    json!({"resource": "baselineDrift",
           "baseline": {"PolicyId": "AllowSelfServicePurchase", "Products": [], "OtherProducts": "Disabled"},
           "tenants": tenants(6), "tenantConcurrency": concurrency})
}

/// A request refused as MSC_INVALID_ARGUMENT with `words` in its message.
fn refused(f: CallFn, s: *mut MscSession, request: &Value, words: &str) {
    let (code, v) = call(f, s, request);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["code"], "InvalidArgument", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(words), "{message}");
}

/// Poll (through `f`) until the run has finished: at most 60 polls of up
/// to 1 s each.
fn poll_to_end(f: CallFn, s: *mut MscSession) -> Value {
    for _ in 0..60 {
        let (code, v) = call(f, s, &json!({"step": "poll"}));
        assert_eq!(code, 0, "{v}");
        let p = &v["value"];
        let counted = ["Succeeded", "Drifted", "Failed"]
            .iter()
            .map(|k| p[k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(counted, p["TenantsDone"].as_u64().unwrap(), "{p}");
        if p["Finished"] == true {
            return p.clone();
        }
        assert!(p["Results"].is_null(), "{p}");
    }
    panic!("the fleet get did not finish within 60 polls");
}

#[test]
fn fleet_get_in_steps_answers_what_the_one_shot_get_answers() {
    // 6 tenants one at a time, 300 ms a listing: about 2 s in all.
    let (_emu, s) = setup_with(300, 3);
    let (code, once) = call(msc_get, s, &drift_request(3));
    assert_eq!(code, 0, "{once}");
    let once = once["value"].as_array().unwrap().clone();
    assert_eq!(once.iter().filter(|r| r["Status"] == "Drifted").count(), 3);

    let mut start = drift_request(1);
    start["step"] = json!("start");
    let (code, first) = call(msc_get, s, &start);
    assert_eq!(code, 0, "{first}");
    let first = &first["value"];
    assert_eq!(first["Finished"], false, "{first}");
    assert_eq!(first["Tenants"], 6);
    assert_eq!(first["TenantsDone"], 0);
    assert_eq!(first["Drifted"], 0);
    assert!(first["Results"].is_null());

    // One job per session: a second start, of a get or an update, is
    // refused as the update path refuses it; a step with other fields too.
    let (code, again) = call(msc_get, s, &start);
    assert_eq!(code, 1, "{again}");
    let busy = again["error"]["message"].as_str().unwrap().to_string();
    assert!(
        busy.contains("a bulk change or fleet run is running on this session"),
        "{busy}"
    );
    let (code, update) = call(
        msc_update,
        s,
        &json!({"policyId": "AllowSelfServicePurchase", "allProducts": true, "value": "Disabled",
                "tenants": tenants(6), "step": "start"}),
    );
    assert_eq!(code, 1, "{update}");
    assert_eq!(update["error"]["message"], busy.as_str());
    let (code, single) = call(
        msc_update,
        s,
        &json!({"policyId": "AllowSelfServicePurchase", "allProducts": true, "value": "Disabled",
                "step": "start"}),
    );
    assert_eq!(code, 1, "{single}");
    assert_eq!(single["error"]["message"], busy.as_str());
    refused(
        msc_get,
        s,
        &json!({"step": "poll", "resource": "policies"}),
        "takes no other field",
    );

    // A poll through msc_update answers the same progress object (the
    // end, when the run finished within its wait).
    let (code, other) = call(msc_update, s, &json!({"step": "poll"}));
    assert_eq!(code, 0, "{other}");
    assert_eq!(other["value"]["Tenants"], 6, "{other}");
    let last = if other["value"]["Finished"] == true {
        other["value"].clone()
    } else {
        poll_to_end(msc_get, s)
    };
    assert_eq!(last["TenantsDone"], 6);
    assert_eq!(last["Succeeded"], 3, "{last}");
    assert_eq!(last["Drifted"], 3, "{last}");
    assert_eq!(last["Failed"], 0, "{last}");
    assert_eq!(last["Results"].as_array().unwrap(), &once);

    // The job is gone: a poll through either function is refused, saying
    // why.
    refused(
        msc_get,
        s,
        &json!({"step": "poll"}),
        "no fleet run is running",
    );
    let (code, gone) = call(msc_update, s, &json!({"step": "poll"}));
    assert_eq!(code, 1, "{gone}");
    // A step on a single-tenant get is refused.
    refused(
        msc_get,
        s,
        &json!({"resource": "policies", "step": "start"}),
        "goes with tenants",
    );
    unsafe { msc_session_free(s) };
}

#[test]
fn a_cancelled_fleet_get_reports_the_tenants_never_started() {
    let (_emu, s) = setup_with(200, 6);
    let mut start = drift_request(1);
    start["step"] = json!("start");
    let (code, first) = call(msc_get, s, &start);
    assert_eq!(code, 0, "{first}");
    let (code, poll) = call(msc_get, s, &json!({"step": "poll"}));
    assert_eq!(code, 0, "{poll}");
    let (code, done) = call(msc_get, s, &json!({"step": "cancel"}));
    assert_eq!(code, 0, "{done}");
    let done = &done["value"];
    assert_eq!(done["Finished"], true, "{done}");
    assert_eq!(done["TenantsDone"], 6, "{done}");
    let results = done["Results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let cancelled = results
        .iter()
        .filter(|r| r["Reason"] == "Cancelled")
        .count();
    assert!(cancelled >= 1, "{done}");
    assert_eq!(done["Failed"], cancelled, "{done}");
    assert_eq!(done["Drifted"], 6 - cancelled, "{done}");
    for (t, r) in tenants(6).iter().zip(results) {
        assert_eq!(r["TenantId"], t.as_str());
        if r["Reason"] == "Cancelled" {
            assert_eq!(r["Status"], "Failed");
            assert!(r["Value"].is_null());
            assert!(r["Error"]["message"]
                .as_str()
                .unwrap()
                .contains("cancelled before it started"));
        } else {
            assert_eq!(r["Status"], "Drifted", "{r}");
            assert_eq!(r["Value"].as_array().unwrap().len(), 26);
        }
    }
    // The tenants are taken in order: the cancelled ones are the last.
    assert!(results[6 - cancelled..]
        .iter()
        .all(|r| r["Reason"] == "Cancelled"));
    let (code, gone) = call(msc_update, s, &json!({"step": "cancel"}));
    assert_eq!(code, 1, "{gone}");
    unsafe { msc_session_free(s) };
}

/// Two starts at once on one session (a fleet get and a fleet update, from
/// two threads): one job, the other start refused.
#[test]
fn two_starts_at_once_make_one_job() {
    let (emu, s) = setup_with(200, 6);
    let mut get = drift_request(1);
    get["step"] = json!("start");
    let update = json!({"policyId": "AllowSelfServicePurchase", "allProducts": true,
                        "value": "Disabled", "tenants": tenants(6), "tenantConcurrency": 1,
                        "step": "start"});
    let session = s as usize;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let starts: Vec<_> = [(msc_get as CallFn, get), (msc_update as CallFn, update)]
        .into_iter()
        .map(|(f, request)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                call(f, session as *mut MscSession, &request)
            })
        })
        .collect();
    let answers: Vec<(i32, Value)> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let codes: Vec<i32> = answers.iter().map(|(c, _)| *c).collect();
    assert!(codes.contains(&0) && codes.contains(&1), "{answers:?}");
    let refused = &answers.iter().find(|(c, _)| *c == 1).unwrap().1;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("a bulk change or fleet run is running on this session"));
    let (code, done) = call(msc_get, s, &json!({"step": "cancel"}));
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["value"]["Finished"], true, "{done}");
    assert_eq!(done["value"]["Results"].as_array().unwrap().len(), 6);
    drop(emu);
    unsafe { msc_session_free(s) };
}
