//! Many tenants in one run (issue 11, docs/fleet.md) against the emulator's
//! fleet over loopback: app-only (client secret, certificate) and delegated
//! (device code, the partner's refresh token at each tenant) runs across
//! consented, non-consented, unknown and forbidden tenants; each tenant's
//! final state read back from the emulator; a rerun writes nothing; one
//! tenant's failure never stops the others; no secret or token in answers
//! or logs; each tenant's token renewed on its own; one tenant throttled
//! past the client's retries (a fault aimed at that tenant) while the
//! others are read and written.
#![cfg(feature = "emulator")]

use mscommerce::emulator::directory::{
    certificate_app_pem, PARTNER_APP, PARTNER_TENANT_DOMAIN, PARTNER_USER,
};
use mscommerce::emulator::fleet::{
    generated_tenant_domain, generated_tenant_id, AppConsent, FleetConfig, Generate, TenantSpec,
};
use mscommerce::emulator::identity_flows::{act_on_device_code, DeviceAction};
use mscommerce::emulator::{Emulator, EmulatorConfig, Faults};
use mscommerce::log::CallLog;
use mscommerce::{ErrorKind, Session};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const P: &str = "AllowSelfServicePurchase";
const SECRET: &str = "emulator-partner-secret";

/// Drifted (every product Enabled), consented, partner access.
const T1: &str = "11111111-0000-4000-8000-000000000001";
/// Locked down already (every product Disabled).
const T2: &str = "11111111-0000-4000-8000-000000000002";
/// The app not consented; the partner with access.
const T3: &str = "11111111-0000-4000-8000-000000000003";
/// Consented without a role; the partner without access: 403.
const T4: &str = "11111111-0000-4000-8000-000000000004";
/// The app's service principal gone.
const T5: &str = "11111111-0000-4000-8000-000000000005";
const UNKNOWN: &str = "nosuchtenant.onmicrosoft.com";

fn spec(id: &str, domain: &str, app: AppConsent, access: bool, value: &str) -> TenantSpec {
    TenantSpec {
        tenant_id: id.into(),
        domain: Some(domain.into()),
        app,
        partner_access: Some(access),
        policy_value: Some(value.into()),
        ..Default::default()
    }
}

fn start(lifetime: Option<u64>) -> Emulator {
    let emu = Emulator::start_background(EmulatorConfig {
        tls: true,
        ..Default::default()
    })
    .expect("emulator starts");
    emu.set_tenants(FleetConfig {
        tenants: vec![
            spec(
                T1,
                "drifted.example.com",
                AppConsent::Consented,
                true,
                "Enabled",
            ),
            spec(
                T2,
                "locked.example.com",
                AppConsent::Consented,
                true,
                "Disabled",
            ),
            spec(
                T3,
                "noconsent.example.com",
                AppConsent::NotConsented,
                true,
                "Enabled",
            ),
            spec(
                T4,
                "forbidden.example.com",
                AppConsent::NoRole,
                false,
                "Enabled",
            ),
            spec(
                T5,
                "nosp.example.com",
                AppConsent::NoServicePrincipal,
                true,
                "Enabled",
            ),
        ],
        token_lifetime_seconds: lifetime,
        ..Default::default()
    })
    .expect("fleet");
    emu
}

fn session(emu: &Emulator) -> Session {
    let ca = std::env::temp_dir().join(format!(
        "mscommerce-fleet-ca-{}-{}.pem",
        std::process::id(),
        emu.port()
    ));
    std::fs::write(&ca, emu.ca_pem().unwrap()).unwrap();
    Session::new(
        &json!({"serviceUrl": emu.url(), "authorityHost": emu.url(),
                "caCertificatePath": ca, "retryBaseDelayMs": 10, "timeoutSeconds": 20})
        .to_string(),
    )
    .expect("session")
}

async fn connect(s: &Session, req: Value) {
    s.connect(&req.to_string(), &CallLog::new())
        .await
        .expect("connect");
}

async fn secret_session(emu: &Emulator) -> Session {
    let s = session(emu);
    connect(
        &s,
        json!({"flow": "clientSecret", "tenantId": PARTNER_TENANT_DOMAIN,
               "clientId": PARTNER_APP.client_id, "clientSecret": SECRET}),
    )
    .await;
    s
}

/// The answer and the log of a fleet call, checked free of secrets.
async fn run(s: &Session, update: bool, req: Value) -> (Vec<Value>, Vec<String>) {
    let log = CallLog::new();
    let text = req.to_string();
    let v = if update {
        s.update(&text, &log).await
    } else {
        s.get(&text, &log).await
    }
    .expect("a fleet call answers per tenant");
    let lines = log.take();
    let all = format!("{v} {lines:?}");
    for secret in [SECRET, "eyJ", "rt."] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    (v.as_array().unwrap().clone(), lines)
}

fn by_tenant(results: &[Value]) -> BTreeMap<String, Value> {
    results
        .iter()
        .map(|r| (r["TenantId"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn values(emu: &Emulator, tenant: &str) -> Vec<String> {
    emu.tenant_products(tenant)
        .unwrap()
        .into_iter()
        .map(|p| p.policy_value)
        .collect()
}

fn all(emu: &Emulator, tenant: &str, value: &str) -> bool {
    values(emu, tenant).iter().all(|v| v == value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_only_with_a_secret_locks_down_the_fleet_and_a_rerun_writes_nothing() {
    let emu = start(None);
    let s = secret_session(&emu).await;
    let tenants = json!([T1, "locked.example.com", T3, T4, T5, UNKNOWN]);
    let req = json!({"policyId": P, "allProducts": true, "value": "Disabled",
                     "tenants": tenants, "tenantConcurrency": 3});
    let (results, log) = run(&s, true, req.clone()).await;
    assert_eq!(results.len(), 6);
    // Request order, the names as given.
    assert_eq!(results[1]["TenantId"], "locked.example.com");
    let r = by_tenant(&results);
    assert_eq!(r[T1]["Status"], "Succeeded", "{}", r[T1]);
    let products = r[T1]["Value"].as_array().unwrap();
    assert_eq!(products.len(), 26);
    assert!(products.iter().all(|p| p["Status"] == "Updated"));
    let locked = &r["locked.example.com"];
    assert_eq!(locked["Status"], "Succeeded");
    assert!(locked["Value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["Status"] == "Unchanged"));
    for (t, reason, code) in [
        (T3, "NotConsented", "AADSTS700016"),
        (T5, "NotConsented", "AADSTS7000229"),
        (T4, "Forbidden", "403"),
        (UNKNOWN, "TenantNotFound", "AADSTS90002"),
    ] {
        let x = &r[t];
        assert_eq!(x["Status"], "Failed", "{x}");
        assert_eq!(x["Reason"], reason, "{x}");
        assert!(x["Value"].is_null());
        let message = x["Error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("tenant '{t}'")), "{message}");
        assert!(message.contains(code), "{message}");
    }
    assert!(log
        .last()
        .unwrap()
        .starts_with("fleet: 6 tenants, 2 succeeded, 4 failed, 0 drifted, tenantConcurrency 3"));
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("tenant {T1}: bulk: 26 products, 26 updated"))),
        "{log:?}"
    );
    // Each tenant's final state, read back from the emulator.
    assert!(all(&emu, T1, "Disabled"));
    assert!(all(&emu, T2, "Disabled"));
    for t in [T3, T4, T5] {
        assert!(all(&emu, t, "Enabled"), "{t}");
        assert_eq!(emu.tenant_writes(t), Some(0));
    }
    assert_eq!(emu.tenant_writes(T1), Some(26));
    assert_eq!(emu.tenant_writes(T2), Some(0));
    // The built-in tenant is not touched.
    assert!(emu.writes().len() == 26 && emu.products().iter().all(|p| p.policy_value == "Enabled"));

    // Again: nothing written anywhere, the same failures.
    let (again, _) = run(&s, true, req).await;
    let r = by_tenant(&again);
    assert_eq!(r[T1]["Status"], "Succeeded");
    assert!(r[T1]["Value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["Status"] == "Unchanged"));
    assert_eq!(r[T3]["Reason"], "NotConsented");
    assert_eq!(emu.tenant_writes(T1), Some(26));
    assert_eq!(emu.writes().len(), 26);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_only_with_a_certificate_applies_a_baseline_in_steps() {
    let emu = start(None);
    let pem = std::env::temp_dir().join(format!(
        "mscommerce-fleet-cert-{}-{}.pem",
        std::process::id(),
        emu.port()
    ));
    std::fs::write(&pem, certificate_app_pem()).unwrap();
    let s = session(&emu);
    connect(
        &s,
        json!({"flow": "certificate", "tenantId": PARTNER_TENANT_DOMAIN,
               "clientId": PARTNER_APP.client_id, "certificatePath": pem}),
    )
    .await;
    let baseline = json!({"PolicyId": P, "Products": [], "OtherProducts": "Disabled"});
    // The drift first: one drifted, one not, one that cannot be read.
    let (drift, _) = run(
        &s,
        false,
        json!({"resource": "baselineDrift", "baseline": baseline, "tenants": [T1, T2, T3]}),
    )
    .await;
    let r = by_tenant(&drift);
    assert_eq!(r[T1]["Status"], "Drifted");
    assert_eq!(r[T1]["Value"].as_array().unwrap().len(), 26);
    assert_eq!(r[T2]["Status"], "Succeeded");
    assert_eq!(r[T2]["Value"], json!([]));
    assert_eq!(r[T3]["Reason"], "NotConsented");

    // The apply, started and polled as a host with a progress bar does.
    let log = CallLog::new();
    let first = s
        .update(
            &json!({"baseline": baseline, "tenants": [T1, T2, T3, T4], "tenantConcurrency": 2,
                    "step": "start"})
            .to_string(),
            &log,
        )
        .await
        .unwrap();
    assert_eq!(first["Finished"], false);
    assert_eq!(first["Tenants"], 4);
    // A second start while it runs is refused.
    let busy = s
        .update(
            &json!({"baseline": baseline, "tenants": [T1], "step": "start"}).to_string(),
            &log,
        )
        .await
        .unwrap_err();
    assert_eq!(busy.kind, ErrorKind::InvalidArgument);
    let mut last = first;
    for _ in 0..60 {
        last = s
            .update(&json!({"step": "poll"}).to_string(), &log)
            .await
            .unwrap();
        if last["Finished"] == true {
            break;
        }
    }
    assert_eq!(last["Finished"], true, "{last}");
    assert_eq!(
        (last["Succeeded"].as_u64(), last["Failed"].as_u64()),
        (Some(2), Some(2))
    );
    let r = by_tenant(last["Results"].as_array().unwrap());
    assert_eq!(r[T1]["Status"], "Succeeded");
    assert_eq!(r[T4]["Reason"], "Forbidden");
    assert!(all(&emu, T1, "Disabled"));
    assert!(all(&emu, T4, "Enabled"));
    // The job is gone.
    let gone = s.update(&json!({"step": "poll"}).to_string(), &log).await;
    assert_eq!(gone.unwrap_err().kind, ErrorKind::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_partner_signs_in_once_and_reaches_the_customers_it_may() {
    let emu = start(None);
    let s = session(&emu);
    s.connect(
        &json!({"flow": "deviceCode", "step": "start"}).to_string(),
        &CallLog::new(),
    )
    .await
    .expect("device code");
    act_on_device_code(
        emu.state(),
        None,
        DeviceAction::Approve,
        Some(PARTNER_USER.key),
    )
    .expect("approved");
    let mut info = Value::Null;
    for _ in 0..20 {
        match s
            .connect(
                &json!({"flow": "deviceCode", "step": "poll"}).to_string(),
                &CallLog::new(),
            )
            .await
        {
            Ok(v) => {
                info = v;
                break;
            }
            Err(e) if e.kind == ErrorKind::Pending => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(info["Account"], PARTNER_USER.upn, "{info}");
    let tokens_before = emu.stats().token_requests;

    let req = json!({"policyId": P, "allProducts": true, "value": "Disabled",
                     "tenants": [T1, T2, T3, T4, UNKNOWN]});
    let (results, _) = run(&s, true, req.clone()).await;
    let r = by_tenant(&results);
    // The partner has access to T1-T3 (the app's consent does not matter
    // to a user), not to T4.
    assert_eq!(r[T1]["Status"], "Succeeded");
    assert_eq!(r[T2]["Status"], "Succeeded");
    assert_eq!(r[T3]["Status"], "Succeeded");
    assert_eq!(r[T4]["Reason"], "Forbidden", "{}", r[T4]);
    assert_eq!(r[UNKNOWN]["Reason"], "TenantNotFound", "{}", r[UNKNOWN]);
    for t in [T1, T2, T3] {
        assert!(all(&emu, t, "Disabled"), "{t}");
    }
    assert!(all(&emu, T4, "Enabled"));
    // One token per tenant, from the refresh token: no second prompt.
    for t in [T1, T2, T3, T4] {
        assert_eq!(emu.tenant_token_requests(t), Some(1), "{t}");
    }
    assert_eq!(emu.stats().token_requests - tokens_before, 5);
    // A rerun writes nothing and signs in nowhere again.
    let writes = emu.writes().len();
    let (again, _) = run(&s, true, req).await;
    assert_eq!(by_tenant(&again)[T1]["Status"], "Succeeded");
    assert_eq!(emu.writes().len(), writes);
    assert_eq!(emu.tenant_token_requests(T1), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_renews_its_own_token() {
    // Four-second tokens: renewed after three quarters of their life.
    let emu = start(Some(4));
    let s = secret_session(&emu).await;
    let req = json!({"resource": "productPolicies", "policyId": P, "tenants": [T1, T2]});
    let (first, _) = run(&s, false, req.clone()).await;
    assert!(
        first.iter().all(|r| r["Status"] == "Succeeded"),
        "{first:?}"
    );
    assert_eq!(first[0]["Value"].as_array().unwrap().len(), 26);
    let (_, _) = run(&s, false, req.clone()).await;
    assert_eq!(emu.tenant_token_requests(T1), Some(1));
    tokio::time::sleep(std::time::Duration::from_millis(3300)).await;
    let (later, _) = run(&s, false, req).await;
    assert!(later.iter().all(|r| r["Status"] == "Succeeded"));
    assert_eq!(emu.tenant_token_requests(T1), Some(2));
    assert_eq!(emu.tenant_token_requests(T2), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_by_tenant_id_and_what_is_refused() {
    let emu = start(None);
    let s = secret_session(&emu).await;
    let one = s
        .get(
            &json!({"resource": "productPolicy", "policyId": P, "productId": "CFQ7TTC0LH2H",
                    "tenantId": "locked.example.com"})
            .to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap();
    assert_eq!(one["PolicyValue"], "Disabled");
    let e = s
        .get(
            &json!({"resource": "productPolicies", "policyId": P, "tenantId": T3}).to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    assert!(e.message.contains("AADSTS700016"), "{e}");
    for bad in [
        json!({"resource": "policies", "tenantId": "a/b"}),
        json!({"resource": "policies", "tenants": ["x y"]}),
        json!({"resource": "policies", "tenants": [T1], "tenantId": T1}),
        json!({"resource": "policies", "tenants": [T1], "step": "poll"}),
        json!({"resource": "policies", "tenants": [T1], "policyid": P}),
    ] {
        let e = s.get(&bad.to_string(), &CallLog::new()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad}: {e}");
    }
    // A bad value is said once, before any tenant is touched.
    let e = s
        .update(
            &json!({"policyId": P, "allProducts": true, "value": "Off", "tenants": [T1, T2]})
                .to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    assert_eq!(emu.tenant_token_requests(T1), Some(0));
    // A connection by access token reaches its own tenant only.
    let t = session(&emu);
    connect(
        &t,
        json!({"flow": "accessToken", "accessToken": emu.mint_token("admin", 600)}),
    )
    .await;
    let e = t
        .get(
            &json!({"resource": "policies", "tenantId": T1}).to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("own tenant only"), "{e}");
    // Not connected: one error, not one per tenant.
    let u = session(&emu);
    let e = u
        .get(
            &json!({"resource": "policies", "tenants": [T1, T2]}).to_string(),
            &CallLog::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotConnected);
}

#[test]
fn the_answer_document_of_a_fleet_get() {
    let emu = start(None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(secret_session(&emu));
    let req = json!({"resource": "baseline", "tenants": ["locked.example.com", T3]}).to_string();
    let log = CallLog::new();
    let result = rt.block_on(s.get(&req, &log));
    let (code, text) = mscommerce::session::answer(result, &log);
    assert_eq!(code, 0, "{text}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let r = by_tenant(doc["value"].as_array().unwrap());
    let r2 = &r["locked.example.com"];
    assert_eq!(r2["Value"]["OtherProducts"], "Keep");
    // The tenant's id from its token, whatever name the request used.
    assert_eq!(r2["Value"]["TenantId"], T2);
    assert_eq!(r2["Value"]["Products"].as_array().unwrap().len(), 26);
    assert_eq!(r[T3]["Reason"], "NotConsented");
    assert!(s.get_limit(&req) >= s.timeout());
}

/// Every licensing request of `tenant` (and only of it) answers 429 with
/// `Retry-After: 0`, more times than the client retries.
fn throttle_only(emu: &Emulator, tenant: &str) {
    emu.set_faults(Faults {
        tenant: Some(tenant.into()),
        throttle: 1000,
        retry_after_seconds: 0,
        ..Default::default()
    });
}

/// The tenant's result says it was throttled, naming it.
fn assert_throttled(r: &Value, tenant: &str) {
    assert_eq!(r["Status"], "Failed", "{r}");
    assert_eq!(r["Reason"], "Throttled", "{r}");
    assert_eq!(r["Error"]["code"], "Throttled", "{r}");
    assert!(r["Value"].is_null(), "{r}");
    let message = r["Error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("tenant '{tenant}': ")),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_tenant_fails_alone_in_a_fleet_get_and_update() {
    let emu = start(None);
    // Three drifted tenants (every product Enabled).
    emu.set_tenants(FleetConfig {
        generate: Some(Generate {
            count: 3,
            drifted: 3,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let ids: Vec<String> = (1..=3).map(generated_tenant_id).collect();
    let s = secret_session(&emu).await;
    let started = std::time::Instant::now();
    // A get: the throttled tenant (named by its domain) fails, the others
    // are listed; only its requests were answered 429: one and the
    // client's 4 retries.
    throttle_only(&emu, &generated_tenant_domain(1));
    let (results, log) = run(
        &s,
        false,
        json!({"resource": "productPolicies", "policyId": P, "tenants": ids,
               "tenantConcurrency": 3}),
    )
    .await;
    assert_throttled(&results[0], &ids[0]);
    for r in &results[1..] {
        assert_eq!(r["Status"], "Succeeded", "{r}");
        assert_eq!(r["Value"].as_array().unwrap().len(), 26);
    }
    assert_eq!(emu.stats().throttled, 5);
    assert!(log
        .last()
        .unwrap()
        .starts_with("fleet: 3 tenants, 2 succeeded, 1 failed, 0 drifted"));

    // An update: the throttled tenant (by its id, the middle one) is not
    // written; the others are locked down, read back from the emulator.
    throttle_only(&emu, &ids[1]);
    let (results, _) = run(
        &s,
        true,
        json!({"policyId": P, "allProducts": true, "value": "Disabled",
               "tenants": ids, "tenantConcurrency": 3}),
    )
    .await;
    assert_throttled(&results[1], &ids[1]);
    assert!(all(&emu, &ids[1], "Enabled"));
    assert_eq!(emu.tenant_writes(&ids[1]), Some(0));
    for (t, r) in [(&ids[0], &results[0]), (&ids[2], &results[2])] {
        assert_eq!(r["Status"], "Succeeded", "{r}");
        assert!(all(&emu, t, "Disabled"), "{t}");
        assert_eq!(emu.tenant_writes(t), Some(26));
    }
    assert_eq!(emu.stats().throttled, 10);
    // Retry-After 0: the retries cost no wait.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
