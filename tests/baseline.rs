//! Baselines (issue 10 item 4, docs/bulk-and-baselines.md §3) against the
//! emulator: export, drift, apply (and its what-if) through the session,
//! the round trip the issue asks for, products gone from the tenant,
//! replaced ids, `Keep`, the strict checks, and the same through the C ABI.
#![cfg(feature = "emulator")]

mod bulk_support;

use bulk_support::*;
use mscommerce::emulator::Catalogue;
use mscommerce::ErrorKind;
use serde_json::{json, Value};

async fn export(s: &mscommerce::Session, other: &str) -> Value {
    get(
        s,
        json!({"resource": "baseline", "policyId": P, "otherProducts": other}),
    )
    .await
    .unwrap()
}

async fn drift(s: &mscommerce::Session, baseline: &Value) -> Vec<Value> {
    get(
        s,
        json!({"resource": "baselineDrift", "baseline": baseline}),
    )
    .await
    .unwrap()
    .as_array()
    .unwrap()
    .clone()
}

fn brief(drift: &[Value]) -> Vec<(String, String, String, String)> {
    drift
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or("null").to_string();
            (s("ProductId"), s("Expected"), s("Actual"), s("Reason"))
        })
        .collect()
}

/// The round trip: export; three products changed behind the
/// tool's back and a new product added; the test shows exactly those
/// four; apply restores them with exactly four writes (the new one
/// Disabled under OtherProducts Disabled); the test shows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip() {
    let emu = start(Catalogue::Docs2025).await;
    let s = with_token(&emu).await;
    // A locked-down tenant with two products allowed.
    let (_, _) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "exceptProductIds": ["CFQ7TTC0LH2H", "CFQ7TTC0N8SS"], "value": "Disabled"}),
    )
    .await;
    let baseline = export(&s, "Disabled").await;
    assert_eq!(baseline["PolicyId"], P);
    assert_eq!(baseline["TenantId"], "5c0e7b52-3e1a-4c8b-9a61-0d9f6f2b7e10");
    assert_eq!(baseline["OtherProducts"], "Disabled");
    assert!(baseline["Tool"]
        .as_str()
        .unwrap()
        .starts_with("mscommerce "));
    assert!(baseline["ExportedAt"].as_str().unwrap().ends_with('Z'));
    let keys: Vec<&String> = baseline.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "PolicyId",
            "TenantId",
            "ExportedAt",
            "Tool",
            "Products",
            "OtherProducts"
        ]
    );
    let listed = baseline["Products"].as_array().unwrap();
    assert_eq!(listed.len(), 26);
    assert_eq!(
        listed
            .iter()
            .find(|p| p["ProductId"] == "CFQ7TTC0LH2H")
            .unwrap(),
        &json!({"ProductId": "CFQ7TTC0LH2H", "ProductName": "Power Apps per user", "PolicyValue": "Enabled"})
    );
    assert!(drift(&s, &baseline).await.is_empty());

    // Behind the tool's back (as a file would travel: its text).
    let file = serde_json::to_string_pretty(&baseline).unwrap();
    set_product(
        &emu,
        json!({"productId": "CFQ7TTC0LH2H", "policyValue": "Disabled"}),
    )
    .await;
    set_product(
        &emu,
        json!({"productId": "CFQ7TTC0LH3L", "policyValue": "Enabled"}),
    )
    .await;
    set_product(
        &emu,
        json!({"productId": "CFQ7TTC0H9MP", "policyValue": "OnlyTrialsWithoutPaymentMethod"}),
    )
    .await;
    set_product(
        &emu,
        json!({"productId": "CFQ7TTC0NEW1", "productName": "Brand new"}),
    )
    .await;
    let found = drift(&s, &json!(file)).await;
    assert_eq!(
        brief(&found),
        [
            (
                "CFQ7TTC0LH2H".into(),
                "Enabled".into(),
                "Disabled".into(),
                "Differs".into()
            ),
            (
                "CFQ7TTC0LH3L".into(),
                "Disabled".into(),
                "Enabled".into(),
                "Differs".into()
            ),
            (
                "CFQ7TTC0H9MP".into(),
                "Disabled".into(),
                "OnlyTrialsWithoutPaymentMethod".into(),
                "Differs".into()
            ),
            (
                "CFQ7TTC0NEW1".into(),
                "Disabled".into(),
                "Enabled".into(),
                "NotInBaseline".into()
            ),
        ]
        .map(|(a, b, c, d): (String, String, String, String)| (a, b, c, d))
    );
    assert_eq!(
        found[0],
        json!({"ProductId": "CFQ7TTC0LH2H", "ProductName": "Power Apps per user",
               "Expected": "Enabled", "Actual": "Disabled", "Reason": "Differs"})
    );

    // What-if: the plan, nothing written.
    let writes_before = writes(&emu).await.len();
    let (plan, _) = bulk(&s, json!({"baseline": file, "whatIf": true})).await;
    assert_eq!(plan.len(), 27);
    let would: Vec<&str> = plan
        .iter()
        .filter(|r| r["Status"] == "WouldUpdate")
        .map(|r| r["ProductId"].as_str().unwrap())
        .collect();
    assert_eq!(
        would,
        [
            "CFQ7TTC0LH2H",
            "CFQ7TTC0LH3L",
            "CFQ7TTC0H9MP",
            "CFQ7TTC0NEW1"
        ]
    );
    assert_eq!(writes(&emu).await.len(), writes_before);

    // Apply: exactly four writes.
    let (results, log) = bulk(&s, json!({"baseline": file})).await;
    let done = writes(&emu).await;
    let applied: Vec<(String, String, String)> = done[writes_before..].to_vec();
    assert_eq!(applied.len(), 4, "{applied:?}");
    let mut applied_sorted = applied.clone();
    applied_sorted.sort();
    assert_eq!(
        applied_sorted,
        [
            (
                "CFQ7TTC0H9MP".to_string(),
                "OnlyTrialsWithoutPaymentMethod".to_string(),
                "Disabled".to_string()
            ),
            (
                "CFQ7TTC0LH2H".to_string(),
                "Disabled".to_string(),
                "Enabled".to_string()
            ),
            (
                "CFQ7TTC0LH3L".to_string(),
                "Enabled".to_string(),
                "Disabled".to_string()
            ),
            (
                "CFQ7TTC0NEW1".to_string(),
                "Enabled".to_string(),
                "Disabled".to_string()
            ),
        ]
    );
    assert_eq!(
        results.iter().filter(|r| r["Status"] == "Updated").count(),
        4
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r["Status"] == "Unchanged")
            .count(),
        23
    );
    assert!(log.last().unwrap().contains("4 writes"), "{log:?}");
    let new = results
        .iter()
        .find(|r| r["ProductId"] == "CFQ7TTC0NEW1")
        .unwrap();
    assert_eq!(new["PreviousValue"], "Enabled");
    assert_eq!(new["PolicyValue"], "Disabled");
    assert_eq!(emu.product_value("CFQ7TTC0NEW1").unwrap(), "Disabled");
    assert!(drift(&s, &json!(file)).await.is_empty());

    // And again: nothing to write.
    let (again, _) = bulk(&s, json!({"baseline": file})).await;
    assert!(again.iter().all(|r| r["Status"] == "Unchanged"));
    assert_eq!(writes(&emu).await.len(), writes_before + 4);
}

/// A product in the file but gone from the tenant is reported (Failed,
/// NotFound; a replaced id names its successor), never an error that stops
/// the rest; the successor of a replaced id the file names is not written
/// by the OtherProducts rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_gone_from_the_tenant_and_replaced_ids() {
    let emu = start(Catalogue::Docs2025).await;
    let s = with_token(&emu).await;
    let baseline = json!({
        "PolicyId": P,
        "Products": [
            {"ProductId": "CFQ7TTC0KP0N", "ProductName": "Power Automate per user (old id)", "PolicyValue": "Enabled"},
            {"ProductId": "CFQ7TTC0GONE", "ProductName": "Retired", "PolicyValue": "Disabled"},
            {"ProductId": "CFQ7TTC0LH2H", "PolicyValue": "Disabled"}
        ],
        "OtherProducts": "Disabled"
    });
    let found = drift(&s, &baseline).await;
    let reasons: Vec<(String, String)> = found
        .iter()
        .map(|d| {
            (
                d["ProductId"].as_str().unwrap().into(),
                d["Reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(reasons[0], ("CFQ7TTC0KP0N".into(), "NotInTenant".into()));
    assert_eq!(reasons[1], ("CFQ7TTC0GONE".into(), "NotInTenant".into()));
    assert_eq!(reasons[2], ("CFQ7TTC0LH2H".into(), "Differs".into()));
    assert_eq!(found[1]["Actual"], Value::Null);
    assert_eq!(found[1]["ProductName"], "Retired");
    // The 25 others (the successor among them) are Enabled.
    assert_eq!(found.len(), 3 + 25);

    let (results, _) = bulk(&s, json!({"baseline": baseline})).await;
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r["ProductId"] == id)
            .unwrap()
            .clone()
    };
    let old = by_id("CFQ7TTC0KP0N");
    assert_eq!(old["Status"], "Failed");
    assert_eq!(old["Error"]["code"], "NotFound");
    assert!(old["Error"]["message"].as_str().unwrap().ends_with(
        "in the baseline but not in the tenant; CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user)"
    ), "{old}");
    assert_eq!(by_id("CFQ7TTC0GONE")["Error"]["code"], "NotFound");
    let successor = by_id("CFQ7TTC0LH3L");
    assert_eq!(successor["Status"], "Failed", "{successor}");
    assert_eq!(successor["Error"]["code"], "InvalidArgument");
    assert!(
        successor["Error"]["message"].as_str().unwrap().contains(
            "it replaces CFQ7TTC0KP0N, which the baseline names; name CFQ7TTC0LH3L in the baseline"
        ),
        "{successor}"
    );
    assert_eq!(emu.product_value("CFQ7TTC0LH3L").unwrap(), "Enabled");
    // The rest went on: the named one and the 24 others but the successor.
    assert_eq!(
        results.iter().filter(|r| r["Status"] == "Updated").count(),
        25
    );
    let state = products(&emu).await;
    for (id, value) in &state {
        let want = if id == "CFQ7TTC0LH3L" {
            "Enabled"
        } else {
            "Disabled"
        };
        assert_eq!(value, want, "{id}");
    }
    assert_eq!(writes(&emu).await.len(), 25);
    only_written_to(&emu, &["Disabled"]).await;
}

/// OtherProducts Keep: products the file does not name are left alone and
/// are not drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_leaves_the_others_alone() {
    let emu = start(Catalogue::Generated(5)).await;
    let s = with_token(&emu).await;
    let baseline = export(&s, "Keep").await;
    assert_eq!(baseline["OtherProducts"], "Keep");
    set_product(&emu, json!({"productId": "CFQ7TTC0NEW1"})).await;
    set_product(
        &emu,
        json!({"productId": "GENPROD00002", "policyValue": "Disabled"}),
    )
    .await;
    assert_eq!(
        brief(&drift(&s, &baseline).await),
        [(
            "GENPROD00002".into(),
            "Enabled".into(),
            "Disabled".into(),
            "Differs".into()
        )]
    );
    let (results, _) = bulk(&s, json!({"baseline": baseline, "concurrency": 2})).await;
    assert_eq!(results.len(), 5, "the new product is not in the plan");
    assert_eq!(
        writes(&emu).await,
        [("GENPROD00002".into(), "Disabled".into(), "Enabled".into())]
    );
    assert_eq!(emu.product_value("CFQ7TTC0NEW1").unwrap(), "Enabled");
}

#[tokio::test]
async fn baseline_requests_are_checked() {
    let emu = start(Catalogue::Generated(2)).await;
    let s = with_token(&emu).await;
    let b = json!({"PolicyId": P, "Products": [], "OtherProducts": "Disabled"});
    let other_tenant =
        json!({"PolicyId": P, "TenantId": "9f3c8b1e-0000-4000-8000-000000000001", "Products": []});
    for (get_it, req, says) in [
        (
            true,
            json!({"resource": "baselineDrift"}),
            "baseline is required",
        ),
        (
            true,
            json!({"resource": "baselineDrift", "baseline": 7}),
            "baseline must be a baseline object",
        ),
        (
            true,
            json!({"resource": "baselineDrift", "baseline": "{\"PolicyId\":\"P\"}"}),
            "Products",
        ),
        (
            true,
            json!({"resource": "baselineDrift", "baseline": {"PolicyId": P, "Products": [], "Comment": 1}}),
            "unknown field `Comment`",
        ),
        (
            true,
            json!({"resource": "baselineDrift", "baseline": b, "policyId": "Other"}),
            "is not the baseline's PolicyId",
        ),
        (
            true,
            json!({"resource": "baselineDrift", "baseline": other_tenant}),
            "remove its TenantId",
        ),
        (
            true,
            json!({"resource": "productPolicies", "policyId": P, "baseline": b}),
            "baseline is a field of resource baselineDrift only",
        ),
        (
            true,
            json!({"resource": "baseline", "otherProducts": "Off"}),
            "OtherProducts 'Off' is not valid",
        ),
        (
            true,
            json!({"resource": "baseline", "productId": "A"}),
            "productId is not a field of resource baseline",
        ),
        (
            true,
            json!({"resource": "policies", "otherProducts": "Keep"}),
            "otherProducts is a field of resource baseline only",
        ),
        (
            false,
            json!({"baseline": b, "value": "Disabled"}),
            "give no value or enabled",
        ),
        (
            false,
            json!({"baseline": b, "productIds": ["A"]}),
            "give one of",
        ),
        (
            false,
            json!({"baseline": b, "policyId": "Other"}),
            "is not the baseline's PolicyId",
        ),
        (
            false,
            json!({"baseline": other_tenant}),
            "remove its TenantId",
        ),
        (
            false,
            json!({"baseline": b, "exceptProductIds": ["A"]}),
            "exceptProductIds goes with allProducts",
        ),
    ] {
        let r = if get_it {
            get(&s, req.clone()).await
        } else {
            update(&s, req.clone()).await
        };
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{req}: {e}");
        assert!(e.message.contains(says), "{req}: {}", e.message);
    }
    assert!(emu.writes().is_empty());
    // The export's policyId defaults to AllowSelfServicePurchase; a
    // baseline with no TenantId is a template for any tenant.
    let exported = get(&s, json!({"resource": "baseline"})).await.unwrap();
    assert_eq!(exported["PolicyId"], P);
    assert_eq!(exported["OtherProducts"], "Keep");
    let template =
        json!({"PolicyId": P, "TenantId": null, "Products": [], "OtherProducts": "Disabled"});
    assert_eq!(drift(&s, &template).await.len(), 2);
}

/// A baseline apply in steps: start answers the plan's progress, polls
/// follow it, the last one has the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_in_steps() {
    let emu = start(Catalogue::Generated(8)).await;
    let s = with_token(&emu).await;
    let b = json!({"PolicyId": P, "Products": [{"ProductId": "GENPROD00001", "PolicyValue": "Enabled"}], "OtherProducts": "Disabled"});
    let first = update(&s, json!({"step": "start", "baseline": b}))
        .await
        .unwrap();
    assert_eq!(first["Total"], 8);
    assert_eq!(first["Unchanged"], 1);
    let last = loop {
        let p = update(&s, json!({"step": "poll"})).await.unwrap();
        if p["Finished"] == true {
            break p;
        }
    };
    assert_eq!(last["Updated"], 7);
    assert_eq!(last["Results"].as_array().unwrap().len(), 8);
    assert_eq!(writes(&emu).await.len(), 7);
}

/// Export, drift and apply through the C ABI itself.
#[test]
fn through_the_c_abi() {
    use mscommerce::ffi::*;
    use std::ffi::{c_char, CStr, CString};
    type CallFn = unsafe extern "C" fn(*mut MscSession, *const c_char, *mut *mut c_char) -> i32;
    fn call(f: CallFn, s: *mut MscSession, req: &Value) -> (i32, Value) {
        let req = CString::new(req.to_string()).unwrap();
        let mut out: *mut c_char = std::ptr::null_mut();
        let code = unsafe { f(s, req.as_ptr(), &mut out) };
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
        unsafe { msc_string_free(out) };
        (code, serde_json::from_str(&text).unwrap())
    }
    let emu =
        mscommerce::emulator::Emulator::start_background(mscommerce::emulator::EmulatorConfig {
            catalogue: Catalogue::Docs2025,
            ..Default::default()
        })
        .unwrap();
    let options = CString::new(options(&emu)).unwrap();
    let mut s = std::ptr::null_mut();
    assert_eq!(
        unsafe { msc_session_new(options.as_ptr(), &mut s, std::ptr::null_mut()) },
        0
    );
    let token = emu.mint_token("admin", 3600);
    let (code, _) = call(
        msc_connect,
        s,
        &json!({"flow": "accessToken", "accessToken": token}),
    );
    assert_eq!(code, 0);

    let (code, answer) = call(
        msc_get,
        s,
        &json!({"resource": "baseline", "otherProducts": "Disabled"}),
    );
    assert_eq!(code, 0, "{answer}");
    let baseline = answer["value"].clone();
    assert_eq!(baseline["Products"].as_array().unwrap().len(), 26);
    emu.add_product("CFQ7TTC0NEW1", "Brand new");
    let (code, answer) = call(
        msc_get,
        s,
        &json!({"resource": "baselineDrift", "baseline": baseline}),
    );
    assert_eq!(code, 0);
    assert_eq!(answer["value"][0]["Reason"], "NotInBaseline");
    let (code, answer) = call(msc_update, s, &json!({"baseline": baseline}));
    assert_eq!(code, 0, "{answer}");
    let results = answer["value"].as_array().unwrap();
    assert_eq!(results.len(), 27);
    assert_eq!(results[26]["Status"], "Updated");
    assert!(answer["log"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .starts_with("bulk: 27 products, 1 updated, 26 unchanged"));
    // A bulk update with a failure still answers MSC_OK, the failure in
    // its result.
    let (code, answer) = call(
        msc_update,
        s,
        &json!({"policyId": P, "productIds": ["CFQ7TTC0KP0N", "CFQ7TTC0LH2H"], "value": "Disabled"}),
    );
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["value"][1]["Status"], "Failed");
    assert!(answer["value"][1]["Error"]["message"]
        .as_str()
        .unwrap()
        .contains("was replaced by CFQ7TTC0LH3L"));
    // A single update of a replaced id: MSC_NOT_FOUND naming the successor.
    let (code, answer) = call(
        msc_update,
        s,
        &json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Disabled"}),
    );
    assert_eq!(code, 5);
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .ends_with("CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user)"));
    // Steps through the ABI.
    let (code, answer) = call(
        msc_update,
        s,
        &json!({"step": "start", "policyId": P, "allProducts": true, "value": "Enabled"}),
    );
    assert_eq!(code, 0, "{answer}");
    loop {
        let (code, answer) = call(msc_update, s, &json!({"step": "poll"}));
        assert_eq!(code, 0, "{answer}");
        if answer["value"]["Finished"] == true {
            // The new product and CFQ7TTC0LH2H were Disabled.
            assert_eq!(answer["value"]["Updated"], 2);
            assert_eq!(answer["value"]["Unchanged"], 25);
            break;
        }
    }
    unsafe { msc_session_free(s) };
}
