//! The `mscommerce` binary's bulk changes and baselines (issue 10 items 2
//! and 4) against the embedded emulator over loopback: `products set --all
//! [--except]` and the multi-id form, `--what-if`, failures, Ctrl+C, the
//! output formats and progress lines, and `baseline export | test | apply`.
//! Each test reads the final state back from the emulator.

mod common;

use common::background;
#[cfg(unix)]
use common::cli::Running;
use common::cli::{admin_command, bin, expect_exit, json_array, stderr, stdout};
use mscommerce::emulator::{Catalogue, Emulator, EmulatorConfig, FaultEvent, Faults, NewProduct};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const P: &str = "AllowSelfServicePurchase";

fn emulator(n: usize) -> Emulator {
    background(EmulatorConfig {
        catalogue: Catalogue::Generated(n),
        ..Default::default()
    })
}

fn gen(i: usize) -> String {
    format!("GENPROD{i:05}")
}

/// The CLI signed in as the admin at `emu`, with `--output FORMAT`.
fn cli(emu: &Emulator, format: &str) -> Command {
    let mut c = admin_command(emu);
    c.args(["--output", format]);
    c
}

fn run(emu: &Emulator, format: &str, args: &[&str]) -> Output {
    cli(emu, format).args(args).output().expect("runs")
}

/// `products set ARGS` (split at spaces) with `--output FORMAT`.
fn set(emu: &Emulator, format: &str, args: &str) -> Output {
    let args: Vec<&str> = ["products", "set"]
        .into_iter()
        .chain(args.split_whitespace())
        .collect();
    run(emu, format, &args)
}

fn with_status<'a>(rs: &'a [Value], status: &str) -> Vec<&'a Value> {
    rs.iter().filter(|r| r["Status"] == status).collect()
}

fn value(emu: &Emulator, id: &str) -> String {
    emu.product_value(id)
        .unwrap_or_else(|| format!("{id} is gone"))
}

/// Change a product behind the tool's back (as `POST /_emulator/products`).
fn set_behind(emu: &Emulator, id: &str, policy_value: &str) {
    emu.state()
        .data
        .lock()
        .unwrap()
        .add_product(&NewProduct {
            product_id: id.into(),
            policy_value: Some(policy_value.into()),
            ..Default::default()
        })
        .unwrap();
}

#[test]
fn all_but_some_then_a_rerun_writes_nothing() {
    let emu = emulator(20);
    let except = format!("{},{}", gen(1), gen(2));
    let o = set(
        &emu,
        "json",
        &format!("--all --except {except} --value Disabled --concurrency 4"),
    );
    expect_exit(&o, 0);
    let rs = json_array(&o);
    assert_eq!(rs.len(), 18, "{rs:?}");
    assert_eq!(with_status(&rs, "Updated").len(), 18);
    for r in &rs {
        assert_eq!(r["PolicyId"], P);
        assert_eq!(r["PreviousValue"], "Enabled", "{r}");
        assert_eq!(r["PolicyValue"], "Disabled", "{r}");
        assert!(r["ProductName"]
            .as_str()
            .unwrap()
            .starts_with("Generated product"));
        assert!(r.get("Error").is_none(), "{r}");
    }
    // The final state, read back.
    assert_eq!(value(&emu, &gen(1)), "Enabled");
    assert_eq!(value(&emu, &gen(2)), "Enabled");
    for i in 3..=20 {
        assert_eq!(value(&emu, &gen(i)), "Disabled", "{}", gen(i));
    }
    assert_eq!(emu.writes().len(), 18);
    let err = stderr(&o);
    assert!(
        err.contains("products set: 18 products, 18 updated, 0 unchanged, 0 failed"),
        "{err}"
    );

    // The same again: nothing left to write.
    let o = set(
        &emu,
        "json",
        &format!(
            "--all --except {} --except {} --enabled false",
            gen(1),
            gen(2)
        ),
    );
    expect_exit(&o, 0);
    let rs = json_array(&o);
    assert_eq!(with_status(&rs, "Unchanged").len(), 18, "{rs:?}");
    assert_eq!(emu.writes().len(), 18, "the rerun wrote");
}

/// Not a terminal: plain progress lines, from the start to the end, and
/// not one per product.
#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let emu = emulator(40);
    emu.set_faults(Faults {
        latency_ms: 30,
        ..Default::default()
    });
    let o = set(&emu, "json", "--all --value Disabled --concurrency 1");
    expect_exit(&o, 0);
    let err = stderr(&o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("products set: ") && l.contains(" done ("))
        .collect();
    assert_eq!(
        lines.first(),
        Some(&"products set: 0/40 done (0 updated, 0 unchanged, 0 failed)"),
        "{err}"
    );
    assert_eq!(
        lines.last(),
        Some(&"products set: 40/40 done (40 updated, 0 unchanged, 0 failed)"),
        "{err}"
    );
    // About 1.3 s of writes, polled once a second: a few lines, at most
    // one per tenth of the run.
    assert!(lines.len() >= 2 && lines.len() <= 11, "{err}");
    // No escape sequences of a progress bar.
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
}

#[test]
fn several_ids_go_through_the_bulk_path() {
    let emu = emulator(10);
    set_behind(&emu, &gen(5), "Disabled");
    let ids = format!("--product-id {},{} --product-id {}", gen(3), gen(4), gen(5));
    let o = set(&emu, "json", &format!("{ids} --enabled false"));
    expect_exit(&o, 0);
    let rs = json_array(&o);
    let ids: Vec<&str> = rs
        .iter()
        .map(|r| r["ProductId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [gen(3), gen(4), gen(5)]);
    assert_eq!(rs[0]["Status"], "Updated");
    assert_eq!(rs[1]["Status"], "Updated");
    assert_eq!(rs[2]["Status"], "Unchanged");
    assert_eq!(emu.writes().len(), 2, "only what differs");
    for i in 1..=10 {
        let want = if (3..=5).contains(&i) {
            "Disabled"
        } else {
            "Enabled"
        };
        assert_eq!(value(&emu, &gen(i)), want, "{}", gen(i));
    }

    // An unknown id among them: nothing is changed (exit 15, NotFound).
    let ids = format!("--product-id {},CFQ7TTC0ZZZZ", gen(6));
    let o = set(&emu, "json", &format!("{ids} --value Disabled"));
    expect_exit(&o, 15);
    assert!(
        stderr(&o).contains("CFQ7TTC0ZZZZ is not among the products"),
        "{}",
        stderr(&o)
    );
    assert_eq!(value(&emu, &gen(6)), "Enabled");
    assert_eq!(emu.writes().len(), 2);
}

#[test]
fn what_if_writes_nothing() {
    let emu = emulator(12);
    set_behind(&emu, &gen(2), "Disabled");
    let o = set(&emu, "json", "--all --value Disabled --what-if");
    expect_exit(&o, 0);
    let rs = json_array(&o);
    assert_eq!(rs.len(), 12);
    assert_eq!(with_status(&rs, "WouldUpdate").len(), 11, "{rs:?}");
    let two = rs
        .iter()
        .find(|r| r["ProductId"] == gen(2).as_str())
        .unwrap();
    assert_eq!(two["Status"], "Unchanged");
    assert!(
        stderr(&o).contains(
            "What if: 11 of 12 products would change, 1 unchanged, 0 failed; nothing was changed"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(emu.writes().len(), 0);
    assert_eq!(emu.stats().updates, 0);
    assert_eq!(value(&emu, &gen(1)), "Enabled");
    // A plan, not a run: no progress lines.
    assert!(!stderr(&o).contains(" done ("), "{}", stderr(&o));
}

/// A product removed after the third write: Failed (NotFound) in the
/// report, every other one written; exit 15; the rerun converges.
#[test]
fn a_failing_product_fails_the_command_not_the_others() {
    let emu = emulator(20);
    emu.set_faults(Faults {
        events: vec![FaultEvent {
            after_writes: 3,
            remove_product: Some(gen(20)),
            ..Default::default()
        }],
        ..Default::default()
    });
    let o = set(&emu, "json", "--all --value Disabled --concurrency 2");
    expect_exit(&o, 15);
    let rs = json_array(&o);
    assert_eq!(rs.len(), 20);
    let failed = with_status(&rs, "Failed");
    assert_eq!(failed.len(), 1, "{rs:?}");
    assert_eq!(failed[0]["ProductId"], gen(20).as_str());
    assert_eq!(failed[0]["Error"]["code"], "NotFound");
    assert_eq!(with_status(&rs, "Updated").len(), 19);
    for i in 1..20 {
        assert_eq!(value(&emu, &gen(i)), "Disabled", "{}", gen(i));
    }
    assert_eq!(emu.writes().len(), 19);
    let err = stderr(&o);
    assert!(
        err.contains("mscommerce: 1 of 20 products failed; the first: "),
        "{err}"
    );

    emu.set_faults(Faults::default());
    let o = set(&emu, "json", "--all --value Disabled");
    expect_exit(&o, 0);
    assert_eq!(with_status(&json_array(&o), "Unchanged").len(), 19);
    assert_eq!(emu.writes().len(), 19);
}

/// CSV and table: the columns of the issue, the error's message of a
/// failed product (here one that refuses OnlyTrialsWithoutPaymentMethod).
#[test]
fn csv_and_table_show_every_outcome() {
    let emu = emulator(4);
    {
        let mut data = emu.state().data.lock().unwrap();
        let list = data.products.get_mut(P).unwrap();
        list.iter_mut()
            .find(|p| p.product_id == gen(2))
            .unwrap()
            .trial_without_payment = false;
    }
    let ids = format!("{},{},{}", gen(1), gen(2), gen(3));
    let args = format!("--product-id {ids} --value OnlyTrialsWithoutPaymentMethod");
    let o = set(&emu, "csv", &args);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "ProductId,ProductName,PreviousValue,PolicyValue,Status,Error"
    );
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].starts_with(&format!(
            "{},Generated product 00001,Enabled,OnlyTrialsWithoutPaymentMethod,Updated,",
            gen(1)
        )),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{},Generated product 00002,Enabled,Enabled,Failed,",
            gen(2)
        )),
        "{out}"
    );
    assert!(lines[2].contains(&gen(2)) && lines[2].len() > 60, "{out}");
    assert_eq!(value(&emu, &gen(2)), "Enabled");
    assert_eq!(value(&emu, &gen(3)), "OnlyTrialsWithoutPaymentMethod");

    // Table: the same columns; a rerun, nothing failed any more but gen(2).
    let o = set(&emu, "table", &args);
    let out = stdout(&o);
    let head: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "ProductId",
            "ProductName",
            "PreviousValue",
            "PolicyValue",
            "Status",
            "Error"
        ]
    );
    assert!(out.contains("Unchanged") && out.contains("Failed"), "{out}");
    assert_eq!(emu.writes().len(), 2);
}

#[test]
fn bulk_usage_errors() {
    let emu = emulator(2);
    for args in [
        "--except GENPROD00001 --value Disabled",
        "--all --product-id GENPROD00001 --value Disabled",
        "--all --value Disabled --concurrency 0",
        "--all --value Disabled --concurrency 65",
        "--all",
    ] {
        let o = set(&emu, "json", args);
        expect_exit(&o, 2);
    }
    let o = set(&emu, "json", "--all --except ../x --value Disabled");
    expect_exit(&o, 11);
    assert!(stderr(&o).contains("--except '../x'"), "{}", stderr(&o));
    // An excepted id the tenant does not have: said, not silently ignored.
    let o = set(&emu, "json", "--all --except GENPROD09999 --value Disabled");
    expect_exit(&o, 0);
    assert!(
        stderr(&o).contains("warning: --except 'genprod09999' is not in the tenant's product list"),
        "{}",
        stderr(&o)
    );
    assert_eq!(emu.writes().len(), 2);
}

/// `products set --all --value Disabled --concurrency 1` running with
/// `latency_ms` per licensing request, read as it goes (unix: Ctrl+C is
/// sent with kill -INT).
#[cfg(unix)]
fn start_set_all(emu: &Emulator, latency_ms: u64) -> Running {
    emu.set_faults(Faults {
        latency_ms,
        ..Default::default()
    });
    Running::start(
        cli(emu, "json").args("products set --all --value Disabled --concurrency 1".split(' ')),
    )
}

/// Ctrl+C: writes stop, those in flight finish, the report says what
/// became of every product (not written: Failed "cancelled"), exit 130.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_bulk_run_with_a_report() {
    let emu = emulator(20);
    let mut run = start_set_all(&emu, 150);
    // The first progress line: the run has started.
    run.wait_for("0/20 done");
    std::thread::sleep(std::time::Duration::from_millis(500));
    run.interrupt();
    let (code, out, seen) = run.end();
    assert_eq!(code, Some(130), "{seen}");
    assert!(seen.contains("mscommerce: cancelled: "), "{seen}");
    let rs: Vec<Value> = serde_json::from_str(&out).expect(&seen);
    assert_eq!(rs.len(), 20);
    let updated = with_status(&rs, "Updated");
    let failed = with_status(&rs, "Failed");
    assert!((1..20).contains(&updated.len()), "{rs:?}");
    assert_eq!(updated.len() + failed.len(), 20);
    for f in &failed {
        assert!(
            f["Error"]["message"]
                .as_str()
                .unwrap()
                .ends_with("cancelled"),
            "{f}"
        );
        assert_eq!(value(&emu, f["ProductId"].as_str().unwrap()), "Enabled");
    }
    for u in &updated {
        assert_eq!(value(&emu, u["ProductId"].as_str().unwrap()), "Disabled");
    }
    assert_eq!(emu.writes().len(), updated.len());
}

// ---- baselines ----

fn baseline(emu: &Emulator, format: &str, args: &[&str]) -> Output {
    run(emu, format, &[&["baseline"][..], args].concat())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Drift as (id, expected, actual, reason).
fn drift(o: &Output) -> Vec<(String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("null").to_string();
    json_array(o)
        .iter()
        .map(|d| {
            (
                s(&d["ProductId"]),
                s(&d["Expected"]),
                s(&d["Actual"]),
                s(&d["Reason"]),
            )
        })
        .collect()
}

fn row(id: &str, expected: &str, actual: &str, reason: &str) -> (String, String, String, String) {
    (id.into(), expected.into(), actual.into(), reason.into())
}

/// Export, test (none), change three products and add one behind the
/// tool's back, test (exit 1: exactly those four, Differs and
/// NotInBaseline), apply (exactly four writes, the new product Disabled
/// under OtherProducts Disabled), test (none); a product gone from the
/// tenant: NotInTenant, and apply reports it Failed while the rest goes on.
#[test]
fn baseline_round_trip() {
    let emu = emulator(8);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contoso baseline.json");
    let f = path(&file);
    let o = baseline(
        &emu,
        "json",
        &["export", "--file", f, "--other-products", "disabled"],
    );
    expect_exit(&o, 0);
    assert!(stderr(&o).contains("wrote 8 products"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("{\n  \"PolicyId\": \"AllowSelfServicePurchase\""),
        "{text}"
    );
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(b["OtherProducts"], "Disabled");
    assert_eq!(b["Products"].as_array().unwrap().len(), 8);
    assert_eq!(
        b["Tool"],
        format!("mscommerce {}", env!("CARGO_PKG_VERSION"))
    );
    // Nothing else left in the directory (no temporary file).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let o = baseline(&emu, "json", &["test", "--file", f]);
    expect_exit(&o, 0);
    assert!(drift(&o).is_empty());
    assert!(stderr(&o).contains("no drift"), "{}", stderr(&o));

    // Three products changed behind the tool's back, one added.
    set_behind(&emu, &gen(3), "Disabled");
    set_behind(&emu, &gen(4), "OnlyTrialsWithoutPaymentMethod");
    set_behind(&emu, &gen(6), "Disabled");
    assert!(emu.add_product("NEWPROD0001", "Added later"));
    let o = baseline(&emu, "json", &["test", "--file", f]);
    expect_exit(&o, 1);
    assert_eq!(
        drift(&o),
        [
            row(&gen(3), "Enabled", "Disabled", "Differs"),
            row(
                &gen(4),
                "Enabled",
                "OnlyTrialsWithoutPaymentMethod",
                "Differs"
            ),
            row(&gen(6), "Enabled", "Disabled", "Differs"),
            row("NEWPROD0001", "Disabled", "Enabled", "NotInBaseline"),
        ]
    );
    assert!(stderr(&o).contains("4 products drifted"), "{}", stderr(&o));
    // The drift as CSV.
    let o = baseline(&emu, "csv", &["test", "--file", f]);
    expect_exit(&o, 1);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "ProductId,ProductName,Expected,Actual,Reason");
    assert_eq!(
        lines[1],
        format!(
            "{},Generated product 00003,Enabled,Disabled,Differs",
            gen(3)
        )
    );
    assert_eq!(
        lines[4],
        "NEWPROD0001,Added later,Disabled,Enabled,NotInBaseline"
    );

    // What-if: the plan, nothing written.
    let o = baseline(&emu, "json", &["apply", "--file", f, "--what-if"]);
    expect_exit(&o, 0);
    assert_eq!(with_status(&json_array(&o), "WouldUpdate").len(), 4);
    assert_eq!(emu.writes().len(), 0);

    let o = baseline(&emu, "json", &["apply", "--file", f, "--concurrency", "2"]);
    expect_exit(&o, 0);
    let rs = json_array(&o);
    assert_eq!(rs.len(), 9);
    let updated: Vec<&str> = with_status(&rs, "Updated")
        .iter()
        .map(|r| r["ProductId"].as_str().unwrap())
        .collect();
    assert_eq!(updated, [gen(3).as_str(), &gen(4), &gen(6), "NEWPROD0001"]);
    assert_eq!(emu.writes().len(), 4, "exactly the four differences");
    for i in [3, 4, 6] {
        assert_eq!(value(&emu, &gen(i)), "Enabled");
    }
    assert_eq!(value(&emu, "NEWPROD0001"), "Disabled");
    let o = baseline(&emu, "json", &["test", "--file", f]);
    expect_exit(&o, 0);

    // A product of the file gone from the tenant.
    assert!(emu.remove_product(&gen(7)));
    set_behind(&emu, &gen(1), "Disabled");
    let o = baseline(&emu, "json", &["test", "--file", f]);
    expect_exit(&o, 1);
    assert_eq!(
        drift(&o),
        [
            row(&gen(1), "Enabled", "Disabled", "Differs"),
            row(&gen(7), "Enabled", "null", "NotInTenant"),
        ]
    );
    let o = baseline(&emu, "json", &["apply", "--file", f]);
    expect_exit(&o, 15);
    let rs = json_array(&o);
    let gone = rs
        .iter()
        .find(|r| r["ProductId"] == gen(7).as_str())
        .unwrap();
    assert_eq!(gone["Status"], "Failed");
    assert_eq!(gone["Error"]["code"], "NotFound");
    assert_eq!(value(&emu, &gen(1)), "Enabled", "the rest went on");
    assert_eq!(emu.writes().len(), 5);
}

/// OtherProducts Keep: a product added later is not drift and is left
/// alone by apply.
#[test]
fn baseline_keep_leaves_new_products_alone() {
    let emu = emulator(3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.json");
    let f = path(&file);
    expect_exit(&baseline(&emu, "json", &["export", "--file", f]), 0);
    assert!(emu.add_product("NEWPROD0002", "Added later"));
    let o = baseline(&emu, "json", &["test", "--file", f]);
    expect_exit(&o, 0);
    let o = baseline(&emu, "table", &["apply", "--file", f]);
    expect_exit(&o, 0);
    assert!(!stdout(&o).contains("NEWPROD0002"), "{}", stdout(&o));
    assert_eq!(emu.writes().len(), 0);
}

#[test]
fn export_refuses_to_overwrite_without_force() {
    let emu = emulator(3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.json");
    std::fs::write(&file, "keep me").unwrap();
    let f = path(&file);
    let o = baseline(&emu, "json", &["export", "--file", f]);
    expect_exit(&o, 11);
    assert!(
        stderr(&o).contains("exists; give --force to replace it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let o = baseline(&emu, "json", &["export", "--file", f, "--force"]);
    expect_exit(&o, 0);
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(b["Products"].as_array().unwrap().len(), 3);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A directory that does not exist: a clear error, nothing written.
    let missing = dir.path().join("no such dir").join("b.json");
    let o = baseline(&emu, "json", &["export", "--file", path(&missing)]);
    expect_exit(&o, 11);
    assert!(stderr(&o).contains("cannot be written"), "{}", stderr(&o));
}

/// Files that are not baselines: a clear error naming the file and what
/// is wrong (exit 11), never a panic, nothing written.
#[test]
fn malformed_baseline_files_are_refused_clearly() {
    let emu = emulator(3);
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 5] = [
        ("truncated.json", b"{\"PolicyId\": \"AllowSelfServicePurchase\", \"Prod", "EOF"),
        ("typo.json", b"{\"PolicyId\": \"AllowSelfServicePurchase\", \"Products\": [], \"OtherProduct\": \"Disabled\"}", "OtherProduct"),
        ("novalue.json", b"{\"PolicyId\": \"AllowSelfServicePurchase\", \"Products\": [{\"ProductId\": \"GENPROD00001\"}]}", "PolicyValue"),
        ("binary.json", b"\xff\xfe\x00{", "not UTF-8"),
        ("array.json", b"[1, 2]", "baseline"),
    ];
    for (name, content, said) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        for cmd in ["test", "apply"] {
            let o = baseline(&emu, "json", &[cmd, "--file", path(&file)]);
            expect_exit(&o, 11);
            let err = stderr(&o);
            assert!(err.contains(&format!("--file {}", path(&file))), "{err}");
            assert!(err.contains(said), "{name}: {err}");
            assert!(o.stdout.is_empty(), "{name}");
        }
    }
    let o = baseline(
        &emu,
        "json",
        &["test", "--file", path(&dir.path().join("absent.json"))],
    );
    expect_exit(&o, 11);
    assert!(stderr(&o).contains("cannot be read"), "{}", stderr(&o));
    assert_eq!(emu.writes().len(), 0);
}

#[test]
fn baseline_help_has_examples_and_exit_codes() {
    for (cmd, says) in [
        ("export", "--other-products Disabled"),
        ("test", "1 drift"),
        ("apply", "--what-if"),
    ] {
        let o = bin().args(["baseline", cmd, "--help"]).output().unwrap();
        expect_exit(&o, 0);
        let help = stdout(&o);
        assert!(
            help.contains("Examples:") && help.contains("Exit status:"),
            "{help}"
        );
        assert!(help.contains(says), "{cmd}: {help}");
    }
    let o = bin().args(["products", "set", "--help"]).output().unwrap();
    let help = stdout(&o);
    assert!(
        help.contains("--all") && help.contains("--except") && help.contains("130"),
        "{help}"
    );
}

/// Text from the service and from the file reaches the terminal escaped:
/// a product name with an escape sequence and a line break, in the
/// results, the drift and an error about the file.
#[test]
fn service_and_file_text_is_escaped() {
    let emu = emulator(2);
    emu.state()
        .data
        .lock()
        .unwrap()
        .add_product(&NewProduct {
            product_id: "EVILPROD0001".into(),
            product_name: Some("Evil\u{1b}[31m red\nline".into()),
            ..Default::default()
        })
        .unwrap();
    for format in ["table", "csv"] {
        let o = set(&emu, format, "--all --value Disabled --what-if");
        expect_exit(&o, 0);
        let out = stdout(&o);
        assert!(out.contains("EVILPROD0001"), "{out}");
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains("Evil\\u{1b}[31m red\\nline"), "{out:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.json");
    std::fs::write(
        &file,
        r#"{"PolicyId": "AllowSelfServicePurchase", "OtherProducts": "Disabled",
            "Products": [{"ProductId": "GENPROD00001", "PolicyValue": "Disabled"}]}"#,
    )
    .unwrap();
    let o = baseline(&emu, "table", &["test", "--file", path(&file)]);
    expect_exit(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("EVILPROD0001") && !out.contains('\u{1b}'),
        "{out:?}"
    );
    std::fs::write(
        &file,
        r#"{"PolicyId": "AllowSelfServicePurchase", "Products": [], "Other\u001b]0;x\u0007": 1}"#,
    )
    .unwrap();
    let o = baseline(&emu, "json", &["test", "--file", path(&file)]);
    expect_exit(&o, 11);
    let err = stderr(&o);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("Other"), "{err}");
    assert_eq!(emu.writes().len(), 0);
}

/// Ctrl+C twice: the second one stops without waiting, and says that the
/// state is not known (exit 130, no report).
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_stops_without_waiting_and_says_so() {
    let emu = emulator(10);
    let mut run = start_set_all(&emu, 1500);
    run.wait_for("0/10 done");
    run.interrupt();
    run.wait_for("Ctrl+C: no further write starts");
    // A write is in flight (1.5 s): the second Ctrl+C does not wait for it.
    let t = std::time::Instant::now();
    run.interrupt();
    let (code, out, seen) = run.end();
    assert!(
        t.elapsed() < std::time::Duration::from_millis(1400),
        "{seen}"
    );
    assert_eq!(code, Some(130), "{seen}");
    assert!(
        seen.contains("interrupted again: stopped without waiting for the writes in flight, so which products were written is not known"),
        "{seen}"
    );
    assert!(out.is_empty(), "{out}");
}
