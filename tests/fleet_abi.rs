//! The fleet through the C ABI (docs/fleet.md §3): a one-shot fleet get,
//! a fleet update in steps with a cancel, tenantId on a single request, the
//! refusals, and msc_disconnect dropping the tenants' tokens.
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
    let emu = Emulator::start_background(EmulatorConfig {
        tls: true,
        latency_ms,
        ..Default::default()
    })
    .expect("emulator");
    emu.set_tenants(FleetConfig {
        generate: Some(Generate {
            count: 6,
            drifted: 6,
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
