//! The `mscommerce` binary against an emulator: JSON output, exit codes,
//! messages on stderr, and the demo.

mod common;

use common::cli::{admin, as_admin, bin, mscommerce, EmulatorCommand};
use common::*;
use mscommerce::emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::process::Output;

fn run(emu: &Emulator, args: &[&str]) -> Output {
    mscommerce(&emu.url())
        .args(["--output", "json"])
        .args(args)
        .output()
        .expect("runs")
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn emulator() -> Emulator {
    background(EmulatorConfig::default())
}

#[test]
fn lists_and_sets_with_json_output() {
    let emu = emulator();
    let o = as_admin(&emu, &["products", "list"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = stdout_json(&o);
    assert_eq!(v.as_array().unwrap().len(), 12);
    assert_eq!(v[0]["PolicyId"], "AllowSelfServicePurchase");
    assert!(
        v[0]["ProductName"].is_string()
            && v[0]["ProductId"].is_string()
            && v[0]["PolicyValue"].is_string()
    );

    // Options may stand after the command too.
    let o = bin()
        .args([
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KP0N",
            "--enabled",
            "false",
            "--output",
            "json",
        ])
        .args(["--service-url", &emu.url(), "--authority-host", &emu.url()])
        .args(admin())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stdout_json(&o)["PolicyValue"], "Disabled");
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Disabled");

    let o = as_admin(&emu, &["products", "get", "--product-id", "CFQ7TTC0KP0N"]);
    assert_eq!(stdout_json(&o)["PolicyValue"], "Disabled");
    let o = as_admin(&emu, &["policies", "get"]);
    assert_eq!(stdout_json(&o)["DefaultValue"], "Enabled");
    let o = as_admin(&emu, &["policies", "list"]);
    assert_eq!(stdout_json(&o)[0]["PolicyId"], "AllowSelfServicePurchase");
    let o = as_admin(&emu, &["login"]);
    let info = stdout_json(&o);
    assert_eq!(info["Account"], ADMIN);
    assert_eq!(info["Flow"], "Password");
}

#[test]
fn access_token_from_the_environment_and_csv_table_output() {
    let emu = emulator();
    let token = emu.mint_token("reader", 600);
    let url = emu.url();
    let o = mscommerce(&url)
        .env("MSCOMMERCE_ACCESS_TOKEN", &token)
        .args(["--output", "csv", "products", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "PolicyValue,ProductId,PolicyId,ProductName"
    );
    assert_eq!(text.lines().count(), 13);
    assert!(!text.contains(&token) && !String::from_utf8_lossy(&o.stderr).contains(&token));

    let o = mscommerce(&url)
        .env("MSCOMMERCE_ACCESS_TOKEN", &token)
        .args(["--output", "table", "products", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    // Column order of the published module's table; scripts split it with -split '\s+', 4.
    let first_row: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(first_row[0], "Enabled");
    assert_eq!(first_row[1], "CFQ7TTC0KP0P");
}

fn expect_exit(o: &Output, code: i32, stderr_has: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(stderr_has), "stderr: {err}");
    assert!(o.stdout.is_empty(), "nothing on stdout for an error");
}

#[test]
fn exit_codes() {
    let emu = emulator();
    // usage
    expect_exit(&run(&emu, &["products", "frobnicate"]), 2, "frobnicate");
    expect_exit(
        &as_admin(&emu, &["products", "set", "--product-id", "X"]),
        2,
        "--value",
    );
    // invalid argument: 11
    expect_exit(
        &as_admin(&emu, &["products", "get", "--product-id", "../x"]),
        11,
        "--product-id '../x'",
    );
    // a value clap refuses is a usage error: 2
    expect_exit(
        &as_admin(
            &emu,
            &[
                "products",
                "set",
                "--product-id",
                "CFQ7TTC0KP0N",
                "--enabled",
                "maybe",
            ],
        ),
        2,
        "invalid value 'maybe' for '--enabled <true|false>'",
    );
    // not connected: 12
    expect_exit(&run(&emu, &["products", "list"]), 12, "no sign-in given");
    // authentication: 13
    expect_exit(
        &run(
            &emu,
            &[
                "--username",
                ADMIN,
                "--password",
                "nope",
                "products",
                "list",
            ],
        ),
        13,
        "AADSTS50126",
    );
    // forbidden: 14, with status and correlation id
    let o = run(
        &emu,
        &[
            "--username",
            "reader@contoso.onmicrosoft.com",
            "--password",
            "Emulator-Reader-1",
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KP0N",
            "--value",
            "Disabled",
        ],
    );
    expect_exit(&o, 14, "HTTP 403");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("correlation id"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    // not found: 15
    expect_exit(
        &as_admin(&emu, &["products", "get", "--product-id", "CFQ7TTC0ZZZZ"]),
        15,
        "HTTP 404",
    );
    // throttled: 16
    emu.set_faults(mscommerce::emulator::Faults {
        throttle: 100,
        retry_after_seconds: 0,
        ..Default::default()
    });
    expect_exit(&as_admin(&emu, &["products", "list"]), 16, "HTTP 429");
    emu.set_faults(Default::default());
    // network: 18
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let o = mscommerce(&dead)
        .args([
            "--access-token",
            "a.b.c",
            "--timeout",
            "5",
            "products",
            "list",
        ])
        .output()
        .unwrap();
    expect_exit(&o, 18, "cannot connect");
    // a non-loopback http URL is refused: 11
    let o = bin()
        .args([
            "--service-url",
            "http://example.com",
            "--access-token",
            "t",
            "products",
            "list",
        ])
        .output()
        .unwrap();
    expect_exit(&o, 11, "loopback");
}

#[test]
fn demo_runs_the_documented_example() {
    let o = bin().args(["demo", "--output", "json"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2 products match 'Power Automate'"), "{err}");
    assert!(
        err.contains("CFQ7TTC0KP0N and CFQ7TTC0KXG6 are Disabled"),
        "{err}"
    );
    // stdout: three JSON documents (before, the updates, after).
    let docs: Vec<Value> = serde_json::Deserializer::from_slice(&o.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs.len(), 3);
    // As the seed's script with this module: every product that matches
    // 'Power Automate' is disabled, each in its own update.
    let updated = docs[1].as_array().unwrap();
    let ids: Vec<&str> = updated
        .iter()
        .map(|p| p["ProductId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["CFQ7TTC0KP0N", "CFQ7TTC0KXG6"]);
    assert!(updated.iter().all(|p| p["PolicyValue"] == "Disabled"));
    let disabled = |doc: &Value| -> Vec<String> {
        doc.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["PolicyValue"] == "Disabled")
            .map(|p| p["ProductName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(disabled(&docs[0]), Vec::<String>::new());
    assert_eq!(
        disabled(&docs[2]),
        ["Power Automate per user", "Power Automate RPA"]
    );
}

#[test]
fn emulator_command_prints_its_url_first() {
    let child = EmulatorCommand::start(&["--port", "0"]);
    let o = mscommerce(&child.url)
        .args(["--output", "json"])
        .args(admin())
        .args(["products", "list"])
        .output()
        .unwrap();
    drop(child);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn several_products_are_checked_first_then_set_with_progress() {
    let emu = emulator();
    // One bad id: nothing is sent, nothing changes.
    let before = emu.stats().requests;
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KP0N,../x",
            "--value",
            "Disabled",
        ],
    );
    expect_exit(&o, 11, "--product-id '../x'");
    assert_eq!(emu.stats().requests, before);
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Enabled");

    // Two good ids (comma list and a repeated flag): both change, progress on stderr.
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KP0N,CFQ7TTC0KXG6",
            "--product-id",
            "CFQ7TTC0KP0P",
            "--enabled",
            "false",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Several ids are one bulk change: one result per product, with its
    // previous value and status, and progress lines on stderr (not a terminal).
    let v = stdout_json(&o);
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), 3);
    for r in results {
        assert_eq!(r["Status"], "Updated", "{r}");
        assert_eq!(r["PreviousValue"], "Enabled", "{r}");
        assert_eq!(r["PolicyValue"], "Disabled", "{r}");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("products set: 3/3 done (3 updated"), "{err}");
    assert!(
        err.contains("products set: 3 products, 3 updated, 0 unchanged, 0 failed"),
        "{err}"
    );
    for id in ["CFQ7TTC0KP0N", "CFQ7TTC0KXG6", "CFQ7TTC0KP0P"] {
        assert_eq!(emu.product_value(id).unwrap(), "Disabled");
    }

    // One unknown product among good ones: all are looked up first (one
    // listing), nothing changes, and the exit code is NotFound's (15).
    let updates = emu.stats().updates;
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0ZZZZ,CFQ7TTC0KP0N",
            "--value",
            "Enabled",
        ],
    );
    expect_exit(
        &o,
        15,
        "CFQ7TTC0ZZZZ is not among the products of policy 'AllowSelfServicePurchase'; no product was changed",
    );
    assert_eq!(emu.stats().updates, updates);
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Disabled");

    // An update the service refuses after the check: the others still
    // change, the output lists them, and the exit code is the failure's.
    {
        let mut data = emu.state().data.lock().unwrap();
        let list = data.products.get_mut("AllowSelfServicePurchase").unwrap();
        let p = list
            .iter_mut()
            .find(|p| p.product_id == "CFQ7TTC0KXG6")
            .unwrap();
        p.trial_without_payment = false;
    }
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KXG6,CFQ7TTC0KP0N",
            "--value",
            "OnlyTrialsWithoutPaymentMethod",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 of 2 products failed; the first:") && err.contains("HTTP 400"),
        "{err}"
    );
    assert_ne!(o.status.code(), Some(0));
    // Both products are reported: the failed one with its error.
    let v = stdout_json(&o);
    let results = v.as_array().unwrap();
    assert_eq!(results.len(), 2);
    let failed = results
        .iter()
        .find(|r| r["ProductId"] == "CFQ7TTC0KXG6")
        .unwrap();
    assert_eq!(failed["Status"], "Failed", "{failed}");
    assert_eq!(failed["Error"]["httpStatus"], 400, "{failed}");
    assert_eq!(
        emu.product_value("CFQ7TTC0KP0N").unwrap(),
        "OnlyTrialsWithoutPaymentMethod"
    );
    assert_eq!(emu.product_value("CFQ7TTC0KXG6").unwrap(), "Disabled");
}

#[test]
fn what_if_reads_but_changes_nothing() {
    let emu = emulator();
    let before = emu.stats().updates;
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KP0N,CFQ7TTC0KP0P",
            "--enabled",
            "false",
            "--what-if",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Several ids: the plan on stdout (WouldUpdate), a summary on stderr.
    let v = stdout_json(&o);
    let plan = v.as_array().unwrap();
    assert_eq!(plan.len(), 2);
    for r in plan {
        assert_eq!(r["Status"], "WouldUpdate", "{r}");
        assert_eq!(r["PreviousValue"], "Enabled", "{r}");
        assert_eq!(r["PolicyValue"], "Disabled", "{r}");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "What if: 2 of 2 products would change, 0 unchanged, 0 failed; nothing was changed"
        ),
        "{err}"
    );
    assert_eq!(emu.stats().updates, before, "no PUT");
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Enabled");
    // One id: the single update's what-if line, nothing on stdout.
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0KP0N",
            "--enabled",
            "false",
            "--what-if",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("What if: setting policy 'AllowSelfServicePurchase' of CFQ7TTC0KP0N (Power Automate per user) from Enabled to Disabled"),
        "{err}"
    );
    assert_eq!(emu.stats().updates, before, "no PUT");
    // An unknown product is reported as it would be by a real run.
    let o = as_admin(
        &emu,
        &[
            "products",
            "set",
            "--product-id",
            "CFQ7TTC0ZZZZ",
            "--value",
            "Disabled",
            "--what-if",
        ],
    );
    expect_exit(&o, 15, "HTTP 404");
}
