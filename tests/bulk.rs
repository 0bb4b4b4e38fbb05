//! Bulk updates (issue 10 item 1, docs/bulk-and-baselines.md §1-2) against
//! the emulator: one listing, only what differs written, bounded
//! concurrency, one result per product, replaced ids named, the strict
//! request fields, the start/poll/cancel steps, and the same through the
//! C ABI.
#![cfg(feature = "emulator")]

mod bulk_support;

use bulk_support::*;
use mscommerce::emulator::Catalogue;
use mscommerce::log::CallLog;
use mscommerce::ErrorKind;
use serde_json::{json, Value};
use std::sync::Mutex;

fn generated(i: usize) -> String {
    format!("GENPROD{i:05}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_products_but_some_then_a_rerun_writes_nothing() {
    let emu = start(Catalogue::Generated(12)).await;
    let s = with_token(&emu).await;
    // Two are Disabled already: not written.
    for id in [generated(4), generated(9)] {
        set_product(&emu, json!({"productId": id, "policyValue": "Disabled"})).await;
    }
    let (results, log) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "exceptProductIds": ["genprod00003"],
               "value": "Disabled", "concurrency": 4}),
    )
    .await;
    assert_eq!(results.len(), 11, "{results:?}");
    let st = statuses(&results);
    assert!(!st.contains_key(&generated(3)));
    assert_eq!(st[&generated(4)], "Unchanged");
    assert_eq!(st[&generated(9)], "Unchanged");
    assert_eq!(st.values().filter(|s| *s == "Updated").count(), 9, "{st:?}");
    // The properties of a product policy first, in their published order.
    let first = results[0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "PolicyValue",
            "ProductId",
            "PolicyId",
            "ProductName",
            "PreviousValue",
            "Status"
        ]
    );
    assert_eq!(
        results[0],
        json!({"PolicyValue": "Disabled", "ProductId": "GENPROD00001", "PolicyId": P,
               "ProductName": "Generated product 00001", "PreviousValue": "Enabled", "Status": "Updated"})
    );
    assert!(
        log.last()
            .unwrap()
            .starts_with("bulk: 11 products, 9 updated, 2 unchanged, 0 failed, 9 writes"),
        "{log:?}"
    );
    let state = products(&emu).await;
    for (id, value) in &state {
        let want = if *id == generated(3) {
            "Enabled"
        } else {
            "Disabled"
        };
        assert_eq!(value, want, "{id}");
    }
    assert_eq!(writes(&emu).await.len(), 9);
    // One listing, nine writes, one listing.
    assert_eq!(stats(&emu).await["requests"], 11);

    let (again, _) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "exceptProductIds": ["GENPROD00003"], "enabled": false}),
    )
    .await;
    assert!(
        again.iter().all(|r| r["Status"] == "Unchanged"),
        "{again:?}"
    );
    assert_eq!(writes(&emu).await.len(), 9, "the rerun wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_products_unknown_and_replaced_ids() {
    let emu = start(Catalogue::Docs2025).await;
    let s = with_token(&emu).await;
    let (results, _) = bulk(
        &s,
        json!({"policyId": P, "productIds": ["cfq7ttc0lh2h", "CFQ7TTC0KP0N", "NOSUCHPRODUCT", "CFQ7TTC0LH2H"],
               "value": "Disabled"}),
    )
    .await;
    // Listing order first, then the ids the tenant does not have; a
    // duplicate counts once; the listing's spelling.
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["ProductId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["CFQ7TTC0LH2H", "CFQ7TTC0KP0N", "NOSUCHPRODUCT"]);
    assert_eq!(results[0]["Status"], "Updated");
    assert_eq!(results[0]["ProductName"], "Power Apps per user");
    let replaced = &results[1];
    assert_eq!(replaced["Status"], "Failed");
    assert_eq!(replaced["PolicyValue"], Value::Null);
    assert_eq!(replaced["PreviousValue"], Value::Null);
    assert_eq!(replaced["Error"]["code"], "NotFound");
    assert_eq!(
        replaced["Error"]["message"],
        "Failed to update product policy with PolicyId 'AllowSelfServicePurchase' ProductId 'CFQ7TTC0KP0N': not in the tenant's product list; CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user)"
    );
    assert_eq!(results[2]["Error"]["code"], "NotFound");
    assert!(!results[2]["Error"]["message"]
        .as_str()
        .unwrap()
        .contains("replaced"));
    // The successor is never written in its place.
    assert_eq!(
        writes(&emu).await,
        [(
            "CFQ7TTC0LH2H".to_string(),
            "Enabled".to_string(),
            "Disabled".to_string()
        )]
    );
    assert_eq!(emu.product_value("CFQ7TTC0LH3L").unwrap(), "Enabled");
}

/// A replaced id kept out keeps its successor out too (the user meant
/// that product); an id the tenant does not have is said to keep nothing
/// out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_id_kept_out_keeps_its_successor_out() {
    let emu = start(Catalogue::Docs2025).await;
    let s = with_token(&emu).await;
    let (results, log) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "exceptProductIds": ["CFQ7TTC0KP0N", "CFQ7TTC0TYPO"],
               "value": "Disabled"}),
    )
    .await;
    assert_eq!(results.len(), 25);
    assert!(!statuses(&results).contains_key("CFQ7TTC0LH3L"));
    assert_eq!(emu.product_value("CFQ7TTC0LH3L").unwrap(), "Enabled");
    assert_eq!(writes(&emu).await.len(), 25);
    assert!(
        log.iter().any(|l| l.contains(
            "CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user); CFQ7TTC0LH3L is kept out too"
        )),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("'cfq7ttc0typo' is not in the tenant's product list")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_404_for_a_replaced_id_names_its_successor() {
    let emu = start(Catalogue::Docs2025).await;
    let s = with_token(&emu).await;
    let e = update(
        &s,
        json!({"policyId": P, "productId": "CFQ7TTC0KP0N", "value": "Disabled"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.http_status, Some(404));
    assert!(
        e.message.ends_with(
            ": not found; CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user)"
        ),
        "{}",
        e.message
    );
    let e = get(
        &s,
        json!({"resource": "productPolicy", "policyId": P, "productId": "cfq7ttc0kxn8"}),
    )
    .await
    .unwrap_err();
    assert!(
        e.message
            .ends_with("CFQ7TTC0KXN8 was replaced by CFQ7TTC0HD32 (Visio Plan 2)"),
        "{}",
        e.message
    );
    // An unknown id that was never replaced says only "not found".
    let e = get(
        &s,
        json!({"resource": "productPolicy", "policyId": P, "productId": "NOSUCHID"}),
    )
    .await
    .unwrap_err();
    assert!(e.message.ends_with(": not found"), "{}", e.message);
    assert!(emu.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_if_plans_and_writes_nothing() {
    let emu = start(Catalogue::Generated(5)).await;
    let s = with_token(&emu).await;
    set_product(
        &emu,
        json!({"productId": generated(2), "policyValue": "Disabled"}),
    )
    .await;
    let (results, log) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "value": "Disabled", "whatIf": true}),
    )
    .await;
    let st = statuses(&results);
    assert_eq!(st[&generated(2)], "Unchanged");
    assert_eq!(st.values().filter(|s| *s == "WouldUpdate").count(), 4);
    assert_eq!(results[0]["PolicyValue"], "Disabled");
    assert_eq!(results[0]["PreviousValue"], "Enabled");
    assert!(log.last().unwrap().contains("what-if"), "{log:?}");
    assert!(writes(&emu).await.is_empty());
    assert_eq!(
        stats(&emu).await["requests"],
        1,
        "one listing, nothing else"
    );
}

/// Never more writes in flight, nor TCP connections, than the concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bounds_requests_and_connections() {
    let emu = start(Catalogue::Generated(24)).await;
    set_faults(&emu, json!({"latencyMs": 30})).await;
    let s = with_token(&emu).await;
    // (Counted in-process: the control endpoints' client has connections
    // of its own.)
    let before = emu.stats();
    let (results, log) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "value": "Disabled", "concurrency": 3}),
    )
    .await;
    assert!(
        results.iter().all(|r| r["Status"] == "Updated"),
        "{results:?}"
    );
    let after = emu.stats();
    assert_eq!(after.peak_in_flight, 3, "{after:?}");
    let connections = after.connections - before.connections;
    assert!(
        connections <= 3,
        "{connections} connections for concurrency 3"
    );
    assert!(
        log.last().unwrap().contains("peak concurrency 3"),
        "{log:?}"
    );
}

#[tokio::test]
async fn bulk_request_fields_are_checked() {
    let emu = start(Catalogue::Generated(3)).await;
    let s = with_token(&emu).await;
    for (req, says) in [
        (
            json!({"policyId": P, "productIds": ["A"], "productId": "B", "value": "Disabled"}),
            "give one of productId, productIds, allProducts, offerType or baseline",
        ),
        (
            json!({"policyId": P, "allProducts": true, "productIds": ["A"], "value": "Disabled"}),
            "give one of",
        ),
        (
            json!({"policyId": P, "productIds": ["A"], "exceptProductIds": ["B"], "value": "Disabled"}),
            "exceptProductIds goes with allProducts: true",
        ),
        (
            json!({"policyId": P, "productIds": [], "value": "Disabled"}),
            "productIds is empty",
        ),
        (
            json!({"policyId": P, "productIds": ["../x"], "value": "Disabled"}),
            "ProductId '../x'",
        ),
        (
            json!({"policyId": P, "productIds": ["A"]}),
            "value (or enabled) is required",
        ),
        (
            json!({"policyId": P, "productIds": ["A"], "value": "Off"}),
            "value 'Off' is not valid",
        ),
        (
            json!({"policyId": P, "productIds": ["A"], "value": "Disabled", "concurrency": 0}),
            "concurrency must be from 1 to 64; got 0",
        ),
        (
            json!({"policyId": P, "productIds": ["A"], "value": "Disabled", "concurrency": 65}),
            "concurrency must be from 1 to 64",
        ),
        (
            json!({"policyId": P, "productIds": ["A"], "value": "Disabled", "concurrency": -1}),
            "concurrency",
        ),
        (
            json!({"policyId": P, "productIds": ["A"], "value": "Disabled", "bulkTimeoutSeconds": 0}),
            "bulkTimeoutSeconds must be",
        ),
        (
            json!({"policyId": P, "productIds": "A", "value": "Disabled"}),
            "productIds must be an array of product ids (strings)",
        ),
        (
            json!({"policyId": P, "productIds": [1], "value": "Disabled"}),
            "productIds must be an array",
        ),
        (
            json!({"policyId": P, "allProducts": true, "exceptProductIds": {}, "value": "Disabled"}),
            "exceptProductIds must be an array",
        ),
        (
            json!({"policyId": P, "allProducts": true, "value": "Disabled", "whatif": true}),
            "unknown field `whatif`",
        ),
        (
            json!({"policyId": P, "productId": "A", "value": "Disabled", "whatIf": true}),
            "whatIf goes with a bulk change",
        ),
        (
            json!({"policyId": P, "productId": "A", "value": "Disabled", "concurrency": 2}),
            "concurrency goes with a bulk change",
        ),
        (
            json!({"policyId": P, "allProducts": false, "exceptProductIds": ["A"], "productId": "A", "value": "Disabled"}),
            "exceptProductIds goes with a bulk change",
        ),
        (
            json!({"allProducts": true, "value": "Disabled"}),
            "policyId is required",
        ),
        (
            json!({"step": "poll"}),
            "no bulk change is running on this session",
        ),
        (
            json!({"step": "poll", "policyId": P}),
            "step poll takes no other field",
        ),
        (
            json!({"step": "start", "policyId": P, "productId": "A", "value": "Disabled"}),
            "step start goes with a bulk change",
        ),
        (json!({"step": "later"}), "step 'later' is not known"),
    ] {
        let e = update(&s, req.clone()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{req}: {e}");
        assert!(e.message.contains(says), "{req}: {}", e.message);
    }
    assert_eq!(
        stats(&emu).await["requests"],
        0,
        "bad requests reach no service"
    );
}

/// `step` start / poll / cancel: the writes run in the background, each
/// step returns within a second here, and the last poll has the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_start_poll_and_cancel() {
    let emu = start(Catalogue::Generated(20)).await;
    set_faults(&emu, json!({"latencyMs": 100})).await;
    let s = with_token(&emu).await;
    let first = update(
        &s,
        json!({"step": "start", "policyId": P, "allProducts": true, "value": "Disabled", "concurrency": 2}),
    )
    .await
    .unwrap();
    assert_eq!(first["Finished"], false, "{first}");
    assert_eq!(first["Total"], 20);
    assert_eq!(first["Results"], Value::Null);
    // One at a time.
    let e = update(
        &s,
        json!({"step": "start", "policyId": P, "allProducts": true, "value": "Disabled"}),
    )
    .await
    .unwrap_err();
    assert!(
        e.message.contains("a bulk change or fleet run is running"),
        "{e}"
    );
    let mut polls = 0;
    let mut seen_done = Vec::new();
    let last = loop {
        let t = std::time::Instant::now();
        let p = update(&s, json!({"step": "poll"})).await.unwrap();
        assert!(t.elapsed() < std::time::Duration::from_secs(3));
        polls += 1;
        seen_done.push(p["Done"].as_u64().unwrap());
        if p["Finished"] == true {
            break p;
        }
        assert!(polls < 30, "{p}");
    };
    assert!(polls >= 2, "the run takes about a second: {seen_done:?}");
    assert!(seen_done.windows(2).all(|w| w[0] <= w[1]), "{seen_done:?}");
    assert_eq!(last["Updated"], 20);
    let results = last["Results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r["Status"] == "Updated"));
    // The job is gone with its last poll.
    assert!(update(&s, json!({"step": "poll"})).await.is_err());

    // Cancel: writes stop, the rest is reported.
    emu.reset();
    set_faults(&emu, json!({"latencyMs": 100})).await;
    update(
        &s,
        json!({"step": "start", "policyId": P, "allProducts": true, "value": "Disabled", "concurrency": 1}),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let done = update(&s, json!({"step": "cancel"})).await.unwrap();
    assert_eq!(done["Finished"], true, "{done}");
    let results = done["Results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    let updated = results.iter().filter(|r| r["Status"] == "Updated").count();
    let cancelled: Vec<&Value> = results.iter().filter(|r| r["Status"] == "Failed").collect();
    assert!((1..20).contains(&updated), "{updated}");
    assert_eq!(updated + cancelled.len(), 20);
    assert!(cancelled.iter().all(|r| r["Error"]["message"]
        .as_str()
        .unwrap()
        .ends_with(": cancelled")));
    assert_eq!(writes(&emu).await.len(), updated);
}

/// `update_with_progress` (the CLI's way): progress after the listing and
/// each write, then the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported() {
    let emu = start(Catalogue::Generated(6)).await;
    let s = with_token(&emu).await;
    let seen = Mutex::new(Vec::new());
    let v = s
        .update_with_progress(
            &json!({"policyId": P, "allProducts": true, "value": "Disabled", "concurrency": 2})
                .to_string(),
            &CallLog::new(),
            &|p| seen.lock().unwrap().push((p.done, p.total, p.updated)),
        )
        .await
        .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 6);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&(0, 6, 0)));
    assert_eq!(seen.last(), Some(&(6, 6, 6)));
    assert_eq!(seen.len(), 7, "{seen:?}");
}

/// The cap of the whole call (bulkTimeoutSeconds): what is not written by
/// then is Failed with Timeout, the rest is reported; the call returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_cap_ends_a_bulk_call_with_a_report() {
    let emu = start(Catalogue::Generated(10)).await;
    set_faults(&emu, json!({"latencyMs": 200})).await;
    let s = with_token(&emu).await;
    let t = std::time::Instant::now();
    let (results, log) = bulk(
        &s,
        json!({"policyId": P, "allProducts": true, "value": "Disabled", "concurrency": 1,
               "bulkTimeoutSeconds": 1}),
    )
    .await;
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(results.len(), 10);
    let failed: Vec<&Value> = results.iter().filter(|r| r["Status"] == "Failed").collect();
    assert!(!failed.is_empty() && failed.len() < 10, "{results:?}");
    for f in &failed {
        assert_eq!(f["Error"]["code"], "Timeout");
        assert!(
            f["Error"]["message"]
                .as_str()
                .unwrap()
                .contains("bulkTimeoutSeconds"),
            "{f}"
        );
    }
    assert!(log.iter().any(|l| l.contains("time cap")), "{log:?}");
    // Whatever the report says Updated is so in the emulator, and the rest not.
    let state: std::collections::HashMap<String, String> =
        products(&emu).await.into_iter().collect();
    for r in &results {
        let id = r["ProductId"].as_str().unwrap();
        let want = if r["Status"] == "Updated" {
            "Disabled"
        } else {
            "Enabled"
        };
        assert_eq!(state[id], want, "{r}");
    }
}
