//! A bulk change under the emulator's fault injection (issue 10 item 6):
//! 429 storms with Retry-After, 503s, dropped connections (also after the
//! write was applied), a token expiring mid-run, a product removed and one
//! added mid-run, a service that limits concurrency. Each test reads back
//! the final state (`/_emulator/products`) and the writes the emulator saw
//! (`/_emulator/writes`), checks that no product was written to a value
//! nobody asked for, and runs the change again: it converges, writing only
//! what is still different.
#![cfg(feature = "emulator")]

mod bulk_support;

use bulk_support::*;
use mscommerce::emulator::Catalogue;
use mscommerce::Session;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const N: usize = 20;

fn all_disabled(concurrency: usize) -> Value {
    json!({"policyId": P, "allProducts": true, "value": "Disabled", "concurrency": concurrency})
}

/// Every product the emulator holds is Disabled.
async fn every_product_disabled(emu: &mscommerce::emulator::Emulator, count: usize) {
    let state = products(emu).await;
    assert_eq!(state.len(), count, "{state:?}");
    for (id, value) in &state {
        assert_eq!(value, "Disabled", "{id}");
    }
}

/// The same change again: nothing left to write.
async fn rerun_writes_nothing(emu: &mscommerce::emulator::Emulator, s: &Session, req: Value) {
    let before = writes(emu).await.len();
    let (results, _) = bulk(s, req).await;
    assert!(
        results.iter().all(|r| r["Status"] == "Unchanged"),
        "{results:?}"
    );
    assert_eq!(writes(emu).await.len(), before, "the rerun wrote");
}

fn count(results: &[Value], status: &str) -> usize {
    results.iter().filter(|r| r["Status"] == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_with_retry_after_pauses_everyone_and_lowers_the_concurrency() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"events": [{"afterWrites": 3, "throttle": 6, "retryAfterSeconds": 1}]}),
    )
    .await;
    let t = Instant::now();
    let (results, log) = bulk(&s, all_disabled(8)).await;
    let took = t.elapsed();
    assert_eq!(count(&results, "Updated"), N, "{results:?}");
    // Retry-After honoured: at least a second of pause for everyone.
    assert!(took >= Duration::from_secs(1), "{took:?}");
    let summary = log.last().unwrap();
    assert!(
        summary.contains("6 throttled") && summary.contains("concurrency lowered to"),
        "{summary}"
    );
    every_product_disabled(&emu, N).await;
    assert_eq!(writes(&emu).await.len(), N);
    let st = stats(&emu).await;
    assert_eq!(st["throttled"], 6);
    // Two listings, N writes, six 429s.
    assert_eq!(st["requests"], 2 + N as u64 + 6);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(8)).await;
}

/// A storm longer than the retries: the products it hits are Failed with
/// Throttled (and the Retry-After), the others done; once it passes, the
/// same change writes exactly the ones that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_longer_than_the_retries_fails_products_and_a_rerun_finishes_them() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"events": [{"afterWrites": 5, "throttle": 1000, "retryAfterSeconds": 0}]}),
    )
    .await;
    let (results, log) = bulk(&s, all_disabled(4)).await;
    let failed: Vec<&Value> = results.iter().filter(|r| r["Status"] == "Failed").collect();
    let updated = count(&results, "Updated");
    assert_eq!(updated + failed.len(), N);
    assert!(updated >= 5 && !failed.is_empty(), "{updated} updated");
    for f in &failed {
        assert_eq!(f["Error"]["code"], "Throttled", "{f}");
        assert_eq!(f["PolicyValue"], "Enabled", "{f}");
    }
    // The verification listing was throttled too: said so, results as the
    // writes answered.
    assert!(
        log.iter()
            .any(|l| l.contains("verification listing failed")),
        "{log:?}"
    );
    let state: BTreeMap<String, String> = products(&emu).await.into_iter().collect();
    for r in &results {
        let want = if r["Status"] == "Updated" {
            "Disabled"
        } else {
            "Enabled"
        };
        assert_eq!(state[r["ProductId"].as_str().unwrap()], want, "{r}");
    }
    assert_eq!(writes(&emu).await.len(), updated);

    set_faults(&emu, json!({})).await;
    let (again, _) = bulk(&s, all_disabled(4)).await;
    assert_eq!(count(&again, "Updated"), failed.len());
    assert_eq!(count(&again, "Unchanged"), updated);
    assert_eq!(writes(&emu).await.len(), N, "only what was still different");
    every_product_disabled(&emu, N).await;
    only_written_to(&emu, &["Disabled"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_errors_are_retried() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"serverErrors": 1, "events": [{"afterWrites": 2, "serverErrors": 5, "serverErrorStatus": 503}]}),
    )
    .await;
    let (results, _) = bulk(&s, all_disabled(8)).await;
    assert_eq!(count(&results, "Updated"), N, "{results:?}");
    every_product_disabled(&emu, N).await;
    assert_eq!(writes(&emu).await.len(), N);
    assert_eq!(stats(&emu).await["requests"], 2 + N as u64 + 6);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(8)).await;
}

/// Connections dropped before the request is served are sent again;
/// dropped after the service applied the write, the write is sent again
/// too (a PUT of the same value: the emulator logs it twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_before_and_after_the_write() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"drop": 1, "dropAfterWrite": 2, "events": [{"afterWrites": 6, "drop": 3}]}),
    )
    .await;
    let (results, _) = bulk(&s, all_disabled(8)).await;
    assert_eq!(count(&results, "Updated"), N, "{results:?}");
    every_product_disabled(&emu, N).await;
    let w = writes(&emu).await;
    assert_eq!(w.len(), N + 2, "{w:?}");
    // The two writes sent again found their product already Disabled.
    assert_eq!(
        w.iter().filter(|(_, prev, _)| prev == "Disabled").count(),
        2,
        "{w:?}"
    );
    let distinct: std::collections::BTreeSet<&String> = w.iter().map(|(id, _, _)| id).collect();
    assert_eq!(distinct.len(), N);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(8)).await;
}

/// Every token expires mid-run: a renewable sign-in signs in again once
/// for all the writers, and the run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_run_is_renewed_once() {
    let emu = start_tls(Catalogue::Generated(N)).await;
    let s = with_secret(&emu).await;
    let tokens_before = stats(&emu).await["tokenRequests"].as_u64().unwrap();
    set_faults(
        &emu,
        json!({"events": [{"afterWrites": 5, "expireAllTokens": true}]}),
    )
    .await;
    let (results, log) = bulk(&s, all_disabled(8)).await;
    assert_eq!(count(&results, "Updated"), N, "{results:?}");
    assert!(
        log.iter().any(|l| l.contains("signing in again")),
        "{log:?}"
    );
    let st = stats(&emu).await;
    assert_eq!(
        st["tokenRequests"].as_u64().unwrap() - tokens_before,
        1,
        "{st}"
    );
    every_product_disabled(&emu, N).await;
    assert_eq!(writes(&emu).await.len(), N);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(8)).await;
}

/// A token given by the caller cannot be renewed: what is left after it
/// expires is Failed with Authentication; with a fresh token the same
/// change finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_token_expiring_mid_run_fails_the_rest_and_a_rerun_finishes() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"events": [{"afterWrites": 5, "expireAllTokens": true}]}),
    )
    .await;
    let (results, _) = bulk(&s, all_disabled(2)).await;
    let updated = count(&results, "Updated");
    let failed: Vec<&Value> = results.iter().filter(|r| r["Status"] == "Failed").collect();
    assert!((5..N).contains(&updated), "{updated}");
    assert_eq!(updated + failed.len(), N);
    assert!(
        failed
            .iter()
            .all(|f| f["Error"]["code"] == "Authentication"),
        "{failed:?}"
    );
    assert_eq!(writes(&emu).await.len(), updated);

    let token = emu.mint_token("admin", 3600);
    let mut req = all_disabled(2);
    req["accessToken"] = json!(token);
    let (again, _) = bulk(&s, req.clone()).await;
    assert_eq!(count(&again, "Updated"), failed.len());
    every_product_disabled(&emu, N).await;
    assert_eq!(writes(&emu).await.len(), N);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, req).await;
}

/// A product removed mid-run: Failed with NotFound, the others done; the
/// rerun no longer sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_removed_mid_run_is_reported_not_in_the_way() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"events": [{"afterWrites": 3, "removeProduct": "GENPROD00020"}]}),
    )
    .await;
    let (results, _) = bulk(&s, all_disabled(4)).await;
    assert_eq!(results.len(), N);
    let gone = results
        .iter()
        .find(|r| r["ProductId"] == "GENPROD00020")
        .unwrap();
    assert_eq!(gone["Status"], "Failed", "{gone}");
    assert_eq!(gone["Error"]["code"], "NotFound");
    assert_eq!(gone["PolicyValue"], Value::Null);
    assert_eq!(gone["PreviousValue"], "Enabled");
    assert_eq!(count(&results, "Updated"), N - 1);
    every_product_disabled(&emu, N - 1).await;
    assert_eq!(writes(&emu).await.len(), N - 1);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(4)).await;
}

/// A product added mid-run (Enabled, as Microsoft's new products appear):
/// all products means it too, so the verification listing's newcomer is
/// written in the same run; a change of named products leaves it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_added_mid_run() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    let late = json!({"afterWrites": 3, "addProduct": {"productId": "CFQ7TTC0LATE", "productName": "Arrived mid-run"}});
    set_faults(&emu, json!({"events": [late]})).await;
    let (results, log) = bulk(&s, all_disabled(4)).await;
    assert_eq!(results.len(), N + 1);
    let new = results
        .iter()
        .find(|r| r["ProductId"] == "CFQ7TTC0LATE")
        .unwrap();
    assert_eq!(
        new,
        &json!({"PolicyValue": "Disabled", "ProductId": "CFQ7TTC0LATE", "PolicyId": P,
                "ProductName": "Arrived mid-run", "PreviousValue": "Enabled", "Status": "Updated"})
    );
    assert!(
        log.iter().any(|l| l.contains("appeared during the run")),
        "{log:?}"
    );
    every_product_disabled(&emu, N + 1).await;
    assert_eq!(writes(&emu).await.len(), N + 1);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(4)).await;

    // Named products: a newcomer is nobody's business.
    emu.reset();
    let late = json!({"afterWrites": 1, "addProduct": {"productId": "CFQ7TTC0LAT2"}});
    set_faults(&emu, json!({"events": [late]})).await;
    let ids: Vec<String> = (1..=4).map(|i| format!("GENPROD{i:05}")).collect();
    let req = json!({"policyId": P, "productIds": ids, "value": "Disabled"});
    let (results, _) = bulk(&s, req.clone()).await;
    assert_eq!(count(&results, "Updated"), 4);
    assert_eq!(results.len(), 4);
    assert_eq!(emu.product_value("CFQ7TTC0LAT2").unwrap(), "Enabled");
    assert_eq!(writes(&emu).await.len(), 4);
    rerun_writes_nothing(&emu, &s, req).await;
}

/// A service that answers 429 to what exceeds 3 requests in flight: the
/// concurrency comes down and the change completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_limiting_concurrency() {
    let emu = start(Catalogue::Generated(N)).await;
    let s = with_token(&emu).await;
    set_faults(
        &emu,
        json!({"maxInFlight": 3, "retryAfterSeconds": 0, "latencyMs": 20}),
    )
    .await;
    let (results, log) = bulk(&s, all_disabled(8)).await;
    assert_eq!(count(&results, "Updated"), N, "{results:?} {log:?}");
    let summary = log.last().unwrap();
    assert!(summary.contains("concurrency lowered to"), "{summary}");
    assert!(stats(&emu).await["throttled"].as_u64().unwrap() > 0);
    every_product_disabled(&emu, N).await;
    assert_eq!(writes(&emu).await.len(), N);
    only_written_to(&emu, &["Disabled"]).await;
    rerun_writes_nothing(&emu, &s, all_disabled(8)).await;
}
