//! The emulator's catalogues (docs2025, generated), its control endpoints
//! for products, catalogues and writes, and the faults a bulk change meets
//! mid-run (issue 10, items 5 to 7), over real loopback HTTP: the library for
//! what a caller sees, a bare HTTP/1.1 client for the service's own answers.
#![cfg(feature = "emulator")]

mod common;

use common::cli::{bin, EmulatorCommand};
use common::*;
use mscommerce::emulator::{Catalogue, Emulator, EmulatorConfig};
use mscommerce::ErrorKind;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const P: &str = "AllowSelfServicePurchase";

/// An emulator on a runtime of its own, so the blocking client below can
/// call it from a test's runtime.
fn start(catalogue: Catalogue) -> Emulator {
    background(EmulatorConfig {
        catalogue,
        ..Default::default()
    })
}

/// An answer of the bare client.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a connection of its own (`Connection: close`); an error
/// when the server closes it without an answer.
fn http(
    emu: &Emulator,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", emu.port()))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        emu.port(),
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(std::io::Error::other(format!("no answer: {text:?}")));
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")),
        "the bare client reads no chunked bodies"
    );
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

fn ok(emu: &Emulator, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
    let r = http(emu, method, path, token, body).expect("an answer");
    assert!((200..300).contains(&r.status), "{method} {path}: {r:?}");
    r.json()
}

fn control_get(emu: &Emulator, path: &str) -> Value {
    ok(emu, "GET", path, None, None)
}

fn control_post(emu: &Emulator, path: &str, body: Value) -> Value {
    ok(emu, "POST", path, None, Some(body))
}

fn put_value(emu: &Emulator, token: &str, product: &str, value: &str) -> std::io::Result<Reply> {
    http(
        emu,
        "PUT",
        &format!("/v1.0/policies/{P}/products/{product}"),
        Some(token),
        Some(json!({ "policyValue": value })),
    )
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p[key].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn docs2025_serves_the_current_ids_and_the_offer_types() {
    let emu = start(Catalogue::Docs2025);
    let s = connected(&emu, "admin").await;

    let products = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    assert_eq!(products.as_array().unwrap().len(), 26);
    assert!(products
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["ProductId"] == "CFQ7TTC0LH3L"
            && p["ProductName"] == "Power Automate per user"
            && p["PolicyValue"] == "Enabled"));

    // A replaced id is unknown to the service: 404 on read and on write.
    let e = get(
        &s,
        json!({"resource": "productPolicy", "policyId": P, "productId": "CFQ7TTC0KP0N"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert_eq!(e.http_status, Some(404));
    let token = emu.mint_token("admin", 600);
    let r = put_value(&emu, &token, "CFQ7TTC0KP0N", "Disabled").unwrap();
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "ProductNotFound");
    assert_eq!(emu.stats().updates, 0);

    // Offer types, as the service lists them under scope=offerType.
    let r = ok(
        &emu,
        "GET",
        &format!("/v1.0/policies/{P}/products?scope=offerType"),
        Some(&token),
        None,
    );
    let items = r["items"].as_array().unwrap();
    assert_eq!(
        ids(&r["items"], "scopeValue"),
        ["SaaS", "POWERBIVISUALS", "DYNAMICSCE", "DYNAMICSBC"]
    );
    for o in items {
        assert_eq!(o["scope"], "offerType");
        assert_eq!(o["policyId"], P);
        assert_eq!(o["policyValue"], "Enabled");
        assert_eq!(o["scopeId"], o["scopeValue"]);
        assert!(o.get("productId").is_none(), "{o}");
    }
    let all = ok(
        &emu,
        "GET",
        &format!("/v1.0/policies/{P}/products?scope=all"),
        Some(&token),
        None,
    );
    assert_eq!(all["items"].as_array().unwrap().len(), 30);

    let offers = get(
        &s,
        json!({"resource": "productPolicies", "policyId": P, "scope": "offerType"}),
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&offers, "ScopeId"),
        ["SaaS", "POWERBIVISUALS", "DYNAMICSCE", "DYNAMICSBC"]
    );
    let o = update(
        &s,
        json!({"policyId": P, "offerType": "SaaS", "value": "Disabled"}),
    )
    .await
    .unwrap();
    assert_eq!(o["PolicyValue"], "Disabled");
    // Only Enabled and Disabled apply to third-party offer types.
    let r = http(
        &emu,
        "PUT",
        &format!("/v1.0/policies/{P}/offerTypes/POWERBIVISUALS"),
        Some(&token),
        Some(json!({"policyValue": "OnlyTrialsWithoutPaymentMethod"})),
    )
    .unwrap();
    assert_eq!(r.status, 400, "{r:?}");
    let writes = control_get(&emu, "/_emulator/writes");
    assert_eq!(
        writes["items"],
        json!([{"policyId": P, "scope": "offerType", "id": "SaaS",
                "previousValue": "Enabled", "policyValue": "Disabled"}])
    );
}

#[tokio::test]
async fn catalogue_products_and_writes_over_control_endpoints() {
    let emu = start(Catalogue::Seed);
    let c = control_get(&emu, "/_emulator/catalogue");
    assert_eq!(
        c,
        json!({"catalogue": "seed", "policyId": P, "products": 12, "offerTypes": 1})
    );
    let c = control_post(
        &emu,
        "/_emulator/catalogue",
        json!({"catalogue": "docs2025"}),
    );
    assert_eq!(
        (c["catalogue"].as_str(), c["products"].as_u64()),
        (Some("docs2025"), Some(26))
    );
    let c = control_post(&emu, "/_emulator/catalogue", json!({"generated": 40}));
    assert_eq!(
        c,
        json!({"catalogue": "generated:40", "policyId": P, "products": 40, "offerTypes": 4})
    );

    let s = connected(&emu, "admin").await;
    let list = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    let expected: Vec<String> = (1..=40).map(|i| format!("GENPROD{i:05}")).collect();
    assert_eq!(ids(&list, "ProductId"), expected);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["PolicyValue"] == "Enabled"));
    assert_eq!(list[0]["ProductName"], "Generated product 00001");

    // A new product appears Enabled, at the end of the listing.
    let r = control_post(
        &emu,
        "/_emulator/products",
        json!({"productId": "CFQ7TTC0NEW1", "productName": "Brand new"}),
    );
    assert_eq!(r["added"], true);
    assert_eq!(
        r["product"],
        json!({"policyId": P, "productName": "Brand new", "productId": "CFQ7TTC0NEW1",
               "policyValue": "Enabled", "scope": "product"})
    );
    let list = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 41);
    assert_eq!(list[40]["ProductId"], "CFQ7TTC0NEW1");
    assert_eq!(list[40]["PolicyValue"], "Enabled");

    // A removed one answers 404 from then on.
    let r = ok(
        &emu,
        "DELETE",
        "/_emulator/products/genprod00002",
        None,
        None,
    );
    assert_eq!(r["removed"]["productId"], "GENPROD00002");
    let e = get(
        &s,
        json!({"resource": "productPolicy", "policyId": P, "productId": "GENPROD00002"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let r = http(
        &emu,
        "DELETE",
        "/_emulator/products/GENPROD00002",
        None,
        None,
    )
    .unwrap();
    assert_eq!(r.status, 404, "{r:?}");

    // Writes are logged; the state reads back without a token.
    update(
        &s,
        json!({"policyId": P, "productId": "GENPROD00001", "value": "Disabled"}),
    )
    .await
    .unwrap();
    let writes = control_get(&emu, "/_emulator/writes");
    assert_eq!(
        writes["items"],
        json!([{"policyId": P, "scope": "product", "id": "GENPROD00001",
                "previousValue": "Enabled", "policyValue": "Disabled"}])
    );
    let state = control_get(&emu, "/_emulator/products");
    assert_eq!(state["catalogue"], "generated:40");
    assert_eq!(state["items"].as_array().unwrap().len(), 40);
    assert_eq!(state["items"][0]["policyValue"], "Disabled");
    assert_eq!(state["offerTypes"].as_array().unwrap().len(), 4);
    assert_eq!(emu.products().len(), 40);
    assert_eq!(emu.stats().updates, 1);

    // A reset keeps the catalogue chosen, with fresh values.
    control_post(&emu, "/_emulator/reset", json!({}));
    assert_eq!(emu.products().len(), 40);
    assert_eq!(emu.product_value("GENPROD00001").unwrap(), "Enabled");
    assert_eq!(emu.product_value("GENPROD00002").unwrap(), "Enabled");
    assert!(control_get(&emu, "/_emulator/writes")["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(emu.stats().updates, 0);

    // Mistakes are answered, not guessed at.
    for bad in [
        json!({"catalogue": "docs2024"}),
        json!({"catalogue": "generated:many"}),
        json!({"catalogue": "seed", "generated": 3}),
        json!({}),
    ] {
        let r = http(
            &emu,
            "POST",
            "/_emulator/catalogue",
            None,
            Some(bad.clone()),
        )
        .unwrap();
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert!(
            r.json()["error"].as_str().unwrap().contains("generated"),
            "{r:?}"
        );
    }
    let r = http(
        &emu,
        "POST",
        "/_emulator/products",
        None,
        Some(json!({"productId": "X", "policyId": "NoSuchPolicy"})),
    )
    .unwrap();
    assert_eq!(r.status, 404, "{r:?}");

    // The index lists what the engineers building on it need.
    let index = http(&emu, "GET", "/_emulator", None, None).unwrap();
    assert_eq!(index.status, 200);
    assert!(index
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    for s in [
        "/_emulator/catalogue",
        "DELETE /_emulator/products/ID",
        "/_emulator/writes",
        "dropAfterWrite",
        "maxInFlight",
        "afterWrites",
        "removeProduct",
        "addProduct",
        "expireAllTokens",
        "generated:N",
    ] {
        assert!(index.body.contains(s), "{s}: {}", index.body);
    }
}

/// A product removed and one added mid-run, at the writes the faults name;
/// the emulator's counts and write log say what happened.
#[tokio::test]
async fn products_removed_and_added_mid_run() {
    let emu = start(Catalogue::Generated(6));
    let s = connected(&emu, "admin").await;
    let f = control_post(
        &emu,
        "/_emulator/faults",
        json!({"events": [
            {"afterWrites": 2, "removeProduct": "GENPROD00005"},
            {"afterWrites": 3, "addProduct": {"productId": "CFQ7TTC0LATE", "productName": "Arrived mid-run"}}
        ]}),
    );
    assert_eq!(f["events"].as_array().unwrap().len(), 2, "{f}");

    let mut outcomes = Vec::new();
    for i in 1..=6 {
        let r = update(
            &s,
            json!({"policyId": P, "productId": format!("GENPROD{i:05}"), "value": "Disabled"}),
        )
        .await;
        outcomes.push(r.map(|_| ()).map_err(|e| e.kind));
    }
    assert_eq!(
        outcomes,
        [
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            Err(ErrorKind::NotFound),
            Ok(())
        ]
    );
    let after = get(&s, json!({"resource": "productPolicies", "policyId": P}))
        .await
        .unwrap();
    let values: Vec<(String, String)> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["ProductId"].as_str().unwrap().to_string(),
                p["PolicyValue"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("GENPROD00001", "Disabled"),
        ("GENPROD00002", "Disabled"),
        ("GENPROD00003", "Disabled"),
        ("GENPROD00004", "Disabled"),
        ("GENPROD00006", "Disabled"),
        ("CFQ7TTC0LATE", "Enabled"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(values, expected);
    assert_eq!(emu.stats().updates, 5);
    let written: Vec<String> = emu.writes().into_iter().map(|w| w.id).collect();
    assert_eq!(
        written,
        [
            "GENPROD00001",
            "GENPROD00002",
            "GENPROD00003",
            "GENPROD00004",
            "GENPROD00006"
        ]
    );
    assert!(emu
        .writes()
        .iter()
        .all(|w| w.previous_value == "Enabled" && w.policy_value == "Disabled"));
    // Events happen once: none is left.
    assert!(control_get(&emu, "/_emulator/faults")["events"]
        .as_array()
        .unwrap()
        .is_empty());

    // The same through the library's own calls (in-process tests).
    assert!(emu.add_product("CFQ7TTC0NEW2", "Another"));
    assert!(!emu.add_product("CFQ7TTC0NEW2", "Another"));
    assert_eq!(emu.product_value("CFQ7TTC0NEW2").unwrap(), "Enabled");
    assert!(emu.remove_product("CFQ7TTC0NEW2"));
    assert!(!emu.remove_product("CFQ7TTC0NEW2"));
}

/// A 429 storm with Retry-After, 503s and token expiry, each starting at a
/// given write.
#[test]
fn storms_errors_and_expiry_start_at_a_write() {
    let emu = start(Catalogue::Generated(4));
    let token = emu.mint_token("admin", 600);
    control_post(
        &emu,
        "/_emulator/faults",
        json!({"events": [
            {"afterWrites": 1, "throttle": 3, "retryAfterSeconds": 2},
            {"afterWrites": 2, "serverErrors": 2},
            {"afterWrites": 3, "expireAllTokens": true}
        ]}),
    );
    let list = format!("/v1.0/policies/{P}/products");
    let get_list = |token: &str| http(&emu, "GET", &list, Some(token), None).unwrap();
    let put = |token: &str, id: &str| put_value(&emu, token, id, "Disabled").unwrap().status;
    assert_eq!(put(&token, "GENPROD00001"), 200);
    for _ in 0..3 {
        let r = get_list(&token);
        assert_eq!(r.status, 429, "{r:?}");
        assert_eq!(r.header("retry-after"), Some("2"));
        assert_eq!(r.json()["error"]["code"], "TooManyRequests");
    }
    assert_eq!(get_list(&token).status, 200);
    assert_eq!(put(&token, "GENPROD00002"), 200);
    for _ in 0..2 {
        assert_eq!(get_list(&token).status, 503);
    }
    assert_eq!(put(&token, "GENPROD00003"), 200);
    // The token expired with the third write; a new one works.
    assert_eq!(put(&token, "GENPROD00004"), 401);
    let fresh = emu.mint_token("admin", 600);
    assert_eq!(put(&fresh, "GENPROD00004"), 200);
    let st = emu.stats();
    assert_eq!((st.updates, st.throttled), (4, 3));
    assert_eq!(st.requests, 4 + 3 + 1 + 2 + 1);
}

/// maxInFlight: what arrives while that many are served gets 429.
#[test]
fn max_in_flight_throttles_what_exceeds_it() {
    let emu = start(Catalogue::Seed);
    let token = emu.mint_token("admin", 600);
    control_post(
        &emu,
        "/_emulator/faults",
        json!({"maxInFlight": 2, "retryAfterSeconds": 1, "latencyMs": 600}),
    );
    let before = emu.stats();
    let barrier = std::sync::Barrier::new(6);
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let r = http(&emu, "GET", "/v1.0/policies", Some(&token), None).unwrap();
                    (r.status, r.header("retry-after").map(str::to_string))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let served = statuses.iter().filter(|(s, _)| *s == 200).count();
    let throttled: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!((served, throttled.len()), (2, 4), "{statuses:?}");
    assert!(throttled.iter().all(|(_, ra)| ra.as_deref() == Some("1")));
    let after = emu.stats();
    assert_eq!(after.throttled - before.throttled, 4);
    assert_eq!(after.peak_in_flight, 6);
    assert_eq!(
        after.connections - before.connections,
        6,
        "one connection each"
    );
}

/// dropAfterWrite applies the write and answers nothing; drop does not
/// serve the request at all.
#[test]
fn dropped_connections_before_and_after_a_write() {
    let emu = start(Catalogue::Seed);
    let token = emu.mint_token("admin", 600);
    control_post(&emu, "/_emulator/faults", json!({"dropAfterWrite": 1}));
    assert!(put_value(&emu, &token, "CFQ7TTC0KP0N", "Disabled").is_err());
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Disabled");
    assert_eq!(emu.stats().updates, 1);
    assert_eq!(
        put_value(&emu, &token, "CFQ7TTC0KP0N", "Disabled")
            .unwrap()
            .status,
        200
    );

    control_post(&emu, "/_emulator/faults", json!({"drop": 1}));
    assert!(put_value(&emu, &token, "CFQ7TTC0KP0P", "Disabled").is_err());
    assert_eq!(emu.product_value("CFQ7TTC0KP0P").unwrap(), "Enabled");
    assert_eq!(emu.stats().updates, 2);
}

/// `mscommerce emulator --seed-products LIST` serves that catalogue.
#[test]
fn the_cli_starts_the_catalogue_it_is_given() {
    for (list, products) in [("docs2025", 26), ("generated:40", 40)] {
        let child = EmulatorCommand::start(&["--port", "0", "--seed-products", list]);
        let url = &child.url;
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let r = (|| -> std::io::Result<Value> {
            let mut stream = TcpStream::connect(("127.0.0.1", port))?;
            stream.write_all(
                format!("GET /_emulator/catalogue HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )?;
            let mut raw = String::new();
            stream.read_to_string(&mut raw)?;
            let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            Ok(serde_json::from_str(body).unwrap_or(Value::Null))
        })();
        drop(child);
        let r = r.unwrap();
        assert_eq!(r["catalogue"], list);
        assert_eq!(r["products"], products);
    }
    let o = bin()
        .args(["emulator", "--port", "0", "--seed-products", "docs2024"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("docs2025") && err.contains("generated:N"),
        "{err}"
    );
}
