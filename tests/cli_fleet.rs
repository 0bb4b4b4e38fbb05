//! The `mscommerce` binary across many tenants (issue 11, `--tenants`)
//! against the embedded emulator over loopback, hosting customer tenants of
//! the partner: consented ones, one where the partner's app is not
//! consented, one where it has no role (403), one where the partner user
//! has no delegated access (403), one throttled past the client's retries
//! (429). Final states are read back from the emulator's
//! `GET /_emulator/tenants/{tenant}/products`.

mod common;

use common::background;
use common::cli::{bin, expect_exit, json_array, mscommerce, stderr, stdout, Running};
use mscommerce::emulator::directory::{PARTNER_APP, PARTNER_TENANT_DOMAIN, PARTNER_USER};
use mscommerce::emulator::fleet::{AppConsent, FleetConfig, TenantSpec};
use mscommerce::emulator::{Catalogue, Emulator, EmulatorConfig, Faults};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PARTNER_SECRET: &str = "emulator-partner-secret";
const PARTNER_PASSWORD: &str = "Emulator-Partner-1";
/// The product the baseline keeps Enabled (in the seed catalogue).
const KEEP: &str = "CFQ7TTC0KP0N";

/// App-only sign-in with the partner's multi-tenant app at its own tenant.
const APP_SIGN_IN: [&str; 6] = [
    "--tenant-id",
    PARTNER_TENANT_DOMAIN,
    "--client-id",
    PARTNER_APP.client_id,
    "--client-secret",
    PARTNER_SECRET,
];

/// A tenant of the test fleet: id, domain, the partner app there, whether
/// the partner user has delegated access, the value of every product.
const FLEET: [(&str, &str, AppConsent, bool, &str); 5] = [
    (
        "00000000-0000-4000-8000-0000000000a1",
        "alpha.onmicrosoft.com",
        AppConsent::Consented,
        true,
        "Enabled",
    ),
    (
        "00000000-0000-4000-8000-0000000000b2",
        "bravo.onmicrosoft.com",
        AppConsent::Consented,
        true,
        "Disabled",
    ),
    (
        "00000000-0000-4000-8000-0000000000c3",
        "charlie.onmicrosoft.com",
        AppConsent::NotConsented,
        true,
        "Enabled",
    ),
    (
        "00000000-0000-4000-8000-0000000000d4",
        "delta.onmicrosoft.com",
        AppConsent::Consented,
        false,
        "Enabled",
    ),
    (
        "00000000-0000-4000-8000-0000000000e5",
        "echo.onmicrosoft.com",
        AppConsent::NoRole,
        true,
        "Enabled",
    ),
];

/// A TLS emulator (a client secret wants an https:// authority) hosting
/// the fleet, and a directory holding its CA and the test's files.
struct Setup {
    emu: Emulator,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

fn setup() -> Setup {
    let emu = background(EmulatorConfig {
        tls: true,
        catalogue: Catalogue::Seed,
        ..Default::default()
    });
    let tenants = FLEET
        .iter()
        .map(|(id, domain, app, access, value)| TenantSpec {
            tenant_id: id.to_string(),
            domain: Some(domain.to_string()),
            catalogue: Some("seed".into()),
            app: *app,
            partner_access: Some(*access),
            policy_value: Some(value.to_string()),
        })
        .collect();
    emu.set_tenants(FleetConfig {
        tenants,
        ..Default::default()
    })
    .expect("fleet set");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, emu.ca_pem().expect("TLS")).unwrap();
    Setup { emu, dir, ca }
}

impl Setup {
    fn base(&self) -> Command {
        let mut c = mscommerce(&self.emu.url());
        c.arg("--ca-file").arg(&self.ca);
        c
    }

    /// The CLI signed in with `sign_in`, run to its end.
    fn signed_in(&self, sign_in: &[&str], format: &str, args: &[&str]) -> Output {
        self.base()
            .args(sign_in)
            .args(["--output", format])
            .args(args)
            .output()
            .expect("runs")
    }

    /// The partner's multi-tenant app, app-only with its secret.
    fn app(&self, format: &str, args: &[&str]) -> Output {
        self.signed_in(&APP_SIGN_IN, format, args)
    }

    /// [`Setup::app`] with the arguments of `line`, split at spaces.
    fn app_line(&self, format: &str, line: &str) -> Output {
        self.app(format, &line.split_whitespace().collect::<Vec<_>>())
    }

    /// The partner's admin, delegated (password sign-in).
    fn partner(&self, format: &str, args: &[&str]) -> Output {
        let sign_in = [
            "--username",
            PARTNER_USER.upn,
            "--password",
            PARTNER_PASSWORD,
        ];
        self.signed_in(&sign_in, format, args)
    }

    /// A file of the test's directory with `text`; its path.
    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// A template baseline: KEEP Enabled, every other product Disabled.
    fn lockdown(&self) -> String {
        let b = json!({
            "PolicyId": "AllowSelfServicePurchase",
            "TenantId": null,
            "Products": [{"ProductId": KEEP, "PolicyValue": "Enabled"}],
            "OtherProducts": "Disabled",
        });
        self.file("lockdown.json", &b.to_string())
    }

    /// `GET /_emulator/tenants/{tenant}/products`: id -> value, and the
    /// tenant's writes.
    fn read_back(&self, tenant: &str) -> (Vec<(String, String)>, u64) {
        let path = format!("/_emulator/tenants/{tenant}/products");
        let v = control(&self.emu, &self.ca, &path, None);
        let items = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| {
                (
                    p["productId"].as_str().expect("productId").to_string(),
                    p["policyValue"].as_str().expect("policyValue").to_string(),
                )
            })
            .collect();
        (items, v["writes"].as_u64().expect("writes"))
    }

    /// Every product of `tenant` is at the lockdown's value, or, when
    /// `untouched`, still at `value` with no write.
    fn assert_tenant(&self, tenant: &str, locked: bool, value: &str) {
        let (items, writes) = self.read_back(tenant);
        assert_eq!(items.len(), 12, "{tenant}: {items:?}");
        for (id, v) in &items {
            let want = match (locked, id == KEEP) {
                (true, true) => "Enabled",
                (true, false) => "Disabled",
                (false, _) => value,
            };
            assert_eq!(v, want, "{tenant} {id}");
        }
        if !locked {
            assert_eq!(writes, 0, "{tenant} was written");
        }
    }
}

/// A control endpoint of the emulator, over its TLS, trusting its CA:
/// GET, or POST of `body`.
fn control(emu: &Emulator, ca: &Path, path: &str, body: Option<Value>) -> Value {
    let options = json!({"caCertificatePath": ca}).to_string();
    let tls = mscommerce::options::SessionOptions::parse(&options).unwrap();
    let url = format!("{}{path}", emu.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(mscommerce::transport::tls_config(&tls).unwrap())
            .no_proxy()
            .build()
            .unwrap();
        let r = match body {
            Some(b) => client.post(&url).json(&b),
            None => client.get(&url),
        };
        let r = r.send().await.expect("control endpoint answers");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.json().await.expect("JSON")
    })
}

/// Wait for the end of `run`: exit code, the per-tenant objects, all of
/// stderr.
fn end_tenants(run: Running) -> (Option<i32>, Vec<Value>, String) {
    let (code, out, seen) = run.end();
    let rs: Vec<Value> = serde_json::from_str(&out).expect(&seen);
    (code, rs, seen)
}

/// Each of `lines` is somewhere in `text` (stderr).
fn assert_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

fn of<'a>(rs: &'a [Value], tenant: &str) -> &'a Value {
    rs.iter()
        .find(|r| r["TenantId"] == tenant)
        .unwrap_or_else(|| panic!("no result for {tenant}: {rs:?}"))
}

/// How many items a tenant's `Value` has.
fn rows_of(rs: &[Value], tenant: &str) -> usize {
    of(rs, tenant)["Value"].as_array().map_or(0, Vec::len)
}

fn count(r: &Value, status: &str) -> usize {
    r["Value"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|p| p["Status"] == status).count())
}

#[test]
fn app_only_baseline_apply_across_tenants_then_a_rerun_writes_nothing() {
    let s = setup();
    let base = s.lockdown();
    let list = s.file(
        "customers.txt",
        "# customers of Fabrikam Partners\n\
         alpha.onmicrosoft.com\n\
         \n\
         00000000-0000-4000-8000-0000000000b2   # bravo, by id\n\
         charlie.onmicrosoft.com\n\
         echo.onmicrosoft.com\n",
    );
    let o = s.app_line(
        "json",
        &format!("baseline apply --file {base} --tenants {list} --tenant-concurrency 2"),
    );
    // Two tenants failed: the others were still done, and the exit says so.
    expect_exit(&o, 3);
    let rs = json_array(&o);
    let order: Vec<&str> = rs.iter().map(|r| r["TenantId"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            "alpha.onmicrosoft.com",
            "00000000-0000-4000-8000-0000000000b2",
            "charlie.onmicrosoft.com",
            "echo.onmicrosoft.com"
        ]
    );
    let alpha = of(&rs, "alpha.onmicrosoft.com");
    assert_eq!(alpha["Status"], "Succeeded", "{alpha}");
    assert_eq!(
        (count(alpha, "Updated"), count(alpha, "Unchanged")),
        (11, 1)
    );
    let bravo = of(&rs, "00000000-0000-4000-8000-0000000000b2");
    assert_eq!(bravo["Status"], "Succeeded", "{bravo}");
    assert_eq!(
        (count(bravo, "Updated"), count(bravo, "Unchanged")),
        (1, 11)
    );
    let charlie = of(&rs, "charlie.onmicrosoft.com");
    assert_eq!(charlie["Status"], "Failed");
    assert_eq!(charlie["Reason"], "NotConsented");
    assert!(charlie["Value"].is_null());
    let m = charlie["Error"]["message"].as_str().unwrap();
    assert!(m.starts_with("tenant 'charlie.onmicrosoft.com': "), "{m}");
    assert!(m.contains("AADSTS700016"), "{m}");
    let echo = of(&rs, "echo.onmicrosoft.com");
    assert_eq!(echo["Reason"], "Forbidden", "{echo}");
    assert_eq!(echo["Error"]["httpStatus"], 403, "{echo}");

    // Each tenant's final state, from the emulator.
    s.assert_tenant("alpha.onmicrosoft.com", true, "");
    s.assert_tenant("bravo.onmicrosoft.com", true, "");
    s.assert_tenant("charlie.onmicrosoft.com", false, "Enabled");
    s.assert_tenant("echo.onmicrosoft.com", false, "Enabled");
    assert_eq!(s.read_back("alpha.onmicrosoft.com").1, 11);
    assert_eq!(s.read_back("bravo.onmicrosoft.com").1, 1);

    // The summary per tenant, and the total, on stderr.
    let err = stderr(&o);
    assert_lines(
        &err,
        &[
            "baseline apply: tenant alpha.onmicrosoft.com: Succeeded; 12 products, 11 updated, 1 unchanged, 0 failed",
            "baseline apply: tenant 00000000-0000-4000-8000-0000000000b2: Succeeded; 12 products, 1 updated, 11 unchanged, 0 failed",
            "baseline apply: tenant charlie.onmicrosoft.com: Failed (NotConsented); tenant 'charlie.onmicrosoft.com': ",
            "baseline apply: tenant echo.onmicrosoft.com: Failed (Forbidden); ",
            "baseline apply: 4 tenants, 2 succeeded, 2 failed (1 NotConsented, 1 Forbidden)",
            "baseline apply: 0/4 tenants done (0 succeeded, 0 failed)",
            "baseline apply: 4/4 tenants done (2 succeeded, 2 failed)",
        ],
    );
    assert!(
        stdout(&o).trim_start().starts_with('['),
        "JSON on stdout only"
    );

    // The same again for the tenants that can be reached: nothing to write.
    let both = "alpha.onmicrosoft.com,bravo.onmicrosoft.com";
    let o = s.app_line(
        "json",
        &format!("baseline apply --file {base} --tenants {both}"),
    );
    expect_exit(&o, 0);
    let rs = json_array(&o);
    assert_eq!(rs.len(), 2);
    for r in &rs {
        assert_eq!(r["Status"], "Succeeded", "{r}");
        assert_eq!(count(r, "Unchanged"), 12, "{r}");
    }
    assert_eq!(
        s.read_back("alpha.onmicrosoft.com").1,
        11,
        "the rerun wrote"
    );
    assert_eq!(s.read_back("bravo.onmicrosoft.com").1, 1, "the rerun wrote");
}

#[test]
fn delegated_partner_run_with_a_forbidden_tenant() {
    let s = setup();
    let o = s.partner(
        "csv",
        &[
            "products",
            "set",
            "--all",
            "--value",
            "Disabled",
            "--tenants",
            "alpha.onmicrosoft.com, delta.onmicrosoft.com ,00000000-0000-4000-8000-0000000000b2",
        ],
    );
    expect_exit(&o, 3);
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("TenantId,ProductId,ProductName,PreviousValue,PolicyValue,Status,Error")
    );
    let rows: Vec<&str> = lines.collect();
    // 12 products of alpha, 12 of bravo, one row for delta.
    assert_eq!(rows.len(), 25, "{out}");
    let alpha: Vec<&&str> = rows
        .iter()
        .filter(|r| r.starts_with("alpha.onmicrosoft.com,"))
        .collect();
    assert_eq!(alpha.len(), 12);
    assert!(
        alpha
            .iter()
            .all(|r| r.contains(",Enabled,Disabled,Updated,")),
        "{out}"
    );
    let delta: Vec<&&str> = rows
        .iter()
        .filter(|r| r.starts_with("delta.onmicrosoft.com,"))
        .collect();
    assert_eq!(delta.len(), 1, "{out}");
    assert!(
        delta[0].starts_with("delta.onmicrosoft.com,,,,,Failed,"),
        "{out}"
    );
    assert!(delta[0].contains("HTTP 403"), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains("products set: tenant delta.onmicrosoft.com: Failed (Forbidden); "),
        "{err}"
    );
    assert!(
        err.contains("products set: 3 tenants, 2 succeeded, 1 failed (1 Forbidden)"),
        "{err}"
    );
    // Read back: alpha locked down, bravo already was (no write), delta untouched.
    let (alpha, writes) = s.read_back("alpha.onmicrosoft.com");
    assert!(alpha.iter().all(|(_, v)| v == "Disabled"), "{alpha:?}");
    assert_eq!(writes, 12);
    let (bravo, writes) = s.read_back("bravo.onmicrosoft.com");
    assert!(bravo.iter().all(|(_, v)| v == "Disabled"), "{bravo:?}");
    assert_eq!(writes, 0);
    s.assert_tenant("delta.onmicrosoft.com", false, "Enabled");
    // The partner's one sign-in reached each tenant through its refresh token.
    for t in ["alpha.onmicrosoft.com", "delta.onmicrosoft.com"] {
        assert!(s.emu.tenant_token_requests(t).unwrap() >= 1, "{t}");
    }
}

#[test]
fn a_throttled_tenant_fails_alone() {
    let s = setup();
    let base = s.lockdown();
    // Every licensing request of alpha (and only alpha's) answers 429,
    // Retry-After 0, past the client's retries.
    let faults = control(
        &s.emu,
        &s.ca,
        "/_emulator/faults",
        Some(json!({"tenant": "alpha.onmicrosoft.com", "throttle": 1000, "retryAfterSeconds": 0})),
    );
    assert_eq!(faults["tenant"], "alpha.onmicrosoft.com", "{faults}");
    let o = s.app_line(
        "json",
        &format!(
            "baseline apply --file {base} --tenants alpha.onmicrosoft.com,bravo.onmicrosoft.com"
        ),
    );
    expect_exit(&o, 3);
    let rs = json_array(&o);
    let alpha = of(&rs, "alpha.onmicrosoft.com");
    assert_eq!(alpha["Status"], "Failed", "{alpha}");
    assert_eq!(alpha["Reason"], "Throttled", "{alpha}");
    assert_eq!(of(&rs, "bravo.onmicrosoft.com")["Status"], "Succeeded");
    s.assert_tenant("alpha.onmicrosoft.com", false, "Enabled");
    s.assert_tenant("bravo.onmicrosoft.com", true, "");
    assert_eq!(s.read_back("bravo.onmicrosoft.com").1, 1);
    let err = stderr(&o);
    assert_lines(
        &err,
        &[
            "baseline apply: tenant alpha.onmicrosoft.com: Failed (Throttled); tenant 'alpha.onmicrosoft.com': ",
            "baseline apply: tenant bravo.onmicrosoft.com: Succeeded; 12 products, 1 updated, 11 unchanged, 0 failed",
            "baseline apply: 2 tenants, 1 succeeded, 1 failed (1 Throttled)",
        ],
    );
    assert_eq!(s.emu.stats().throttled, 5);
}

#[test]
fn baseline_test_exit_codes() {
    let s = setup();
    let base = s.lockdown();
    let test = |tenants: &str| {
        s.app(
            "table",
            &["baseline", "test", "--file", &base, "--tenants", tenants],
        )
    };
    // bravo: every product Disabled, KEEP must be Enabled: drift (1);
    // applied, no drift (0).
    let o = test("bravo.onmicrosoft.com");
    expect_exit(&o, 1);
    let out = stdout(&o);
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("TenantId")
            && header.contains("ProductId")
            && header.contains("Expected"),
        "{out}"
    );
    assert!(
        out.contains("bravo.onmicrosoft.com") && out.contains(KEEP),
        "{out}"
    );
    // The progress counts the drifted tenant as the summary does.
    assert_lines(
        &stderr(&o),
        &[
            "baseline test: 1 tenants, 0 succeeded, 0 failed, 1 drifted",
            "baseline test: 1/1 tenants done (0 succeeded, 0 failed, 1 drifted)",
        ],
    );
    let o = s.app_line(
        "json",
        &format!("baseline apply --file {base} --tenants bravo.onmicrosoft.com"),
    );
    expect_exit(&o, 0);
    let o = test("bravo.onmicrosoft.com");
    expect_exit(&o, 0);
    assert!(
        stderr(&o).contains("baseline test: tenant bravo.onmicrosoft.com: Succeeded; no drift"),
        "{}",
        stderr(&o)
    );
    // alpha drifted, bravo not: 1.
    let both = "alpha.onmicrosoft.com,bravo.onmicrosoft.com";
    let o = s.app_line(
        "json",
        &format!("baseline test --file {base} --tenants {both}"),
    );
    expect_exit(&o, 1);
    let rs = json_array(&o);
    assert_eq!(of(&rs, "alpha.onmicrosoft.com")["Status"], "Drifted");
    assert_eq!(rows_of(&rs, "alpha.onmicrosoft.com"), 11);
    assert_eq!(of(&rs, "bravo.onmicrosoft.com")["Status"], "Succeeded");
    // A failed tenant wins over drift: 3.
    let o = test("alpha.onmicrosoft.com,charlie.onmicrosoft.com");
    expect_exit(&o, 3);
    let out = stdout(&o);
    assert!(out.contains("NotConsented (see the summary)"), "{out}");
    // Nothing was written by a test.
    assert_eq!(s.read_back("alpha.onmicrosoft.com").1, 0);
}

#[test]
fn products_list_has_a_tenant_id_column() {
    let s = setup();
    let tenants_arg = "alpha.onmicrosoft.com,bravo.onmicrosoft.com,nobody.onmicrosoft.com";
    let o = s.app("csv", &["products", "list", "--tenants", tenants_arg]);
    expect_exit(&o, 3);
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("TenantId,PolicyValue,ProductId,PolicyId,ProductName,Error")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 12 + 12 + 1, "{out}");
    assert!(rows
        .iter()
        .any(|r| r.starts_with(&format!("alpha.onmicrosoft.com,Enabled,{KEEP},"))));
    assert!(rows
        .iter()
        .any(|r| r.starts_with(&format!("bravo.onmicrosoft.com,Disabled,{KEEP},"))));
    let nobody = rows.iter().find(|r| r.starts_with("nobody.")).unwrap();
    assert!(nobody.contains("AADSTS90002"), "{nobody}");
    assert!(
        stderr(&o)
            .contains("products list: tenant nobody.onmicrosoft.com: Failed (TenantNotFound)"),
        "{}",
        stderr(&o)
    );

    let o = s.app(
        "json",
        &["products", "list", "--tenants", "alpha.onmicrosoft.com"],
    );
    expect_exit(&o, 0);
    let rs = json_array(&o);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["TenantId"], "alpha.onmicrosoft.com");
    assert_eq!(rs[0]["Status"], "Succeeded");
    assert_eq!(rs[0]["Value"].as_array().unwrap().len(), 12);
    assert_eq!(rs[0]["Value"][0]["PolicyId"], "AllowSelfServicePurchase");

    let o = s.app(
        "table",
        &["products", "list", "--tenants", "bravo.onmicrosoft.com"],
    );
    expect_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.starts_with("TenantId "), "{out}");
    assert_eq!(out.lines().count(), 2 + 12, "{out}");
}

/// The partner's admin signs in once with a device code (one prompt),
/// and reaches each customer tenant with it: 403 where the partner has no
/// delegated access.
#[test]
fn delegated_device_code_reaches_each_tenant_with_one_prompt() {
    let s = setup();
    let mut run = Running::start(
        s.base()
            .args(["--device-code", "--output", "json", "products", "list"])
            .args(["--tenants", "alpha.onmicrosoft.com,delta.onmicrosoft.com"]),
    );
    let line = run.wait_for("enter the code ");
    let rest = line.split("enter the code ").nth(1).unwrap();
    let code = rest.split_whitespace().next().unwrap();
    let approve = json!({"userCode": code, "user": PARTNER_USER.key});
    control(&s.emu, &s.ca, "/_emulator/device/approve", Some(approve));
    let (status, rs, seen) = end_tenants(run);
    assert_eq!(status, Some(3), "{seen}");
    assert_eq!(seen.matches("enter the code").count(), 1, "{seen}");
    assert_eq!(of(&rs, "alpha.onmicrosoft.com")["Status"], "Succeeded");
    assert_eq!(rows_of(&rs, "alpha.onmicrosoft.com"), 12);
    assert_eq!(of(&rs, "delta.onmicrosoft.com")["Reason"], "Forbidden");
}

/// App-only with the partner app's certificate instead of its secret.
#[test]
fn app_only_with_a_certificate() {
    let s = setup();
    let pem = s.file(
        "app.pem",
        &mscommerce::emulator::directory::certificate_app_pem(),
    );
    let sign_in = [
        "--tenant-id",
        PARTNER_TENANT_DOMAIN,
        "--client-id",
        PARTNER_APP.client_id,
        "--certificate",
        &pem,
    ];
    let tenants = "alpha.onmicrosoft.com,charlie.onmicrosoft.com,bravo.onmicrosoft.com";
    let o = s.signed_in(
        &sign_in,
        "json",
        &[
            "products",
            "list",
            "--tenants",
            tenants,
            "--tenant-concurrency",
            "3",
        ],
    );
    expect_exit(&o, 3);
    let rs = json_array(&o);
    assert_eq!(of(&rs, "alpha.onmicrosoft.com")["Status"], "Succeeded");
    assert_eq!(
        of(&rs, "bravo.onmicrosoft.com")["Value"][0]["PolicyValue"],
        "Disabled"
    );
    assert_eq!(of(&rs, "charlie.onmicrosoft.com")["Reason"], "NotConsented");
}

/// The tenants are read and checked before any request: the service and
/// authority here are a closed port, so any request would fail with 18.
#[test]
fn tenants_file_and_list_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let run = |args: &[&str]| {
        mscommerce("http://127.0.0.1:9")
            .args([
                "--username",
                "admin@fabrikampartners.onmicrosoft.com",
                "--password",
                "x",
            ])
            .args(["--output", "json"])
            .args(args)
            .output()
            .expect("runs")
    };
    let list = |tenants: &str| run(&["products", "list", "--tenants", tenants]);
    let refused = |o: &Output, code: i32, wanted: &str| {
        expect_exit(o, code);
        assert!(
            stderr(o).contains(wanted),
            "missing {wanted:?} in {}",
            stderr(o)
        );
        assert!(o.stdout.is_empty(), "{}", stdout(o));
    };

    let bad = file(
        "bad.txt",
        "# ok\nalpha.onmicrosoft.com\n\nbravo.onmicrosoft.com, charlie.onmicrosoft.com\n",
    );
    refused(
        &list(&bad),
        11,
        &format!("--tenants {bad} line 4: 'bravo.onmicrosoft.com, charlie.onmicrosoft.com' is not a tenant id or domain (one tenant a line"),
    );
    let slash = file("slash.txt", "alpha.onmicrosoft.com\ncontoso/evil\n");
    refused(
        &list(&slash),
        11,
        &format!("--tenants {slash} line 2: 'contoso/evil'"),
    );
    let empty = file("empty.txt", "# nobody yet\n\n   # still nobody\n");
    refused(
        &list(&empty),
        11,
        &format!("--tenants {empty} names no tenant"),
    );
    let missing = dir.path().join("customers.txt").display().to_string();
    refused(
        &list(&missing),
        11,
        &format!("--tenants {missing} cannot be read"),
    );
    refused(
        &list("alpha.onmicrosoft.com,bad tenant"),
        11,
        "--tenants: 'bad tenant' (item 2) is not a tenant id (a GUID) or a domain name",
    );
    refused(&list(" , ,"), 11, "--tenants names no tenant");
    // Range and pairing of --tenant-concurrency: usage errors.
    let ok = file("ok.txt", "alpha.onmicrosoft.com\n");
    refused(
        &run(&[
            "products",
            "list",
            "--tenants",
            &ok,
            "--tenant-concurrency",
            "0",
        ]),
        2,
        "--tenant-concurrency",
    );
    refused(
        &run(&[
            "products",
            "list",
            "--tenants",
            &ok,
            "--tenant-concurrency",
            "65",
        ]),
        2,
        "--tenant-concurrency",
    );
    refused(
        &run(&["products", "list", "--tenant-concurrency", "4"]),
        2,
        "--tenants",
    );
    // A sign-in that cannot reach other tenants.
    let o = bin()
        .args([
            "--service-url",
            "http://127.0.0.1:9",
            "--access-token",
            "x.y.z",
        ])
        .args(["products", "list", "--tenants", &ok])
        .output()
        .unwrap();
    refused(
        &o,
        11,
        "--tenants needs a sign-in that reaches the customers' tenants",
    );
    // A baseline of one tenant is not applied to others.
    let named = file(
        "named.json",
        r#"{"PolicyId":"AllowSelfServicePurchase","TenantId":"00000000-0000-4000-8000-0000000000a1","Products":[],"OtherProducts":"Disabled"}"#,
    );
    refused(
        &run(&[
            "baseline",
            "apply",
            "--file",
            &named,
            "--tenants",
            "bravo.onmicrosoft.com",
        ]),
        11,
        "is the baseline of tenant 00000000-0000-4000-8000-0000000000a1 (its TenantId)",
    );
    // A file that is not a baseline: said once, before any request.
    let broken = file(
        "broken.json",
        r#"{"PolicyId":"AllowSelfServicePurchase","Products":[{"ProductId":"X"}]"#,
    );
    refused(
        &run(&[
            "baseline",
            "test",
            "--file",
            &broken,
            "--tenants",
            "a.onmicrosoft.com,b.onmicrosoft.com",
        ]),
        11,
        &format!("--file {broken} is not a usable baseline"),
    );
    // A duplicate is run once, with a warning; then sign-in is tried (18:
    // the closed port), which shows the file was accepted.
    let twice = file(
        "twice.txt",
        "alpha.onmicrosoft.com\nALPHA.onmicrosoft.com\n",
    );
    let o = list(&twice);
    expect_exit(&o, 18);
    assert!(
        stderr(&o).contains(&format!(
            "warning: --tenants {twice} line 2: ALPHA.onmicrosoft.com is already on line 1; it is run once"
        )),
        "{}",
        stderr(&o)
    );
}

/// Six generated tenants, every product Enabled, 150 ms per licensing
/// request; `args` run over them one tenant at a time (app-only, JSON),
/// interrupted (kill -INT) once stderr says one tenant is done. The exit
/// status, the per-tenant objects and stderr.
#[cfg(unix)]
fn interrupted(s: &Setup, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    s.emu
        .set_tenants(FleetConfig {
            generate: Some(mscommerce::emulator::fleet::Generate {
                count: 6,
                catalogue: Some("seed".into()),
                drifted: 6,
            }),
            ..Default::default()
        })
        .unwrap();
    s.emu.set_faults(Faults {
        latency_ms: 150,
        ..Default::default()
    });
    let ids: Vec<String> = (1..=6)
        .map(mscommerce::emulator::fleet::generated_tenant_id)
        .collect();
    let mut run = Running::start(
        s.base()
            .args(APP_SIGN_IN)
            .args(["--output", "json"])
            .args(args)
            .args(["--tenants", &ids.join(","), "--tenant-concurrency", "1"]),
    );
    run.wait_for("1/6 tenants done");
    run.interrupt();
    let (code, rs, seen) = end_tenants(run);
    assert_eq!(rs.len(), 6, "{seen}");
    (code, rs, seen)
}

/// The tenants done and those cancelled (Failed, Cancelled) make up the
/// run, some of each; stderr says how many were not started.
#[cfg(unix)]
fn some_done_others_cancelled(rs: &[Value], seen: &str) {
    let done = rs.iter().filter(|r| r["Status"] == "Succeeded").count();
    let cancelled: Vec<&Value> = rs.iter().filter(|r| r["Reason"] == "Cancelled").collect();
    assert!((1..6).contains(&done), "{rs:?}");
    assert_eq!(done + cancelled.len(), 6, "{rs:?}");
    for c in &cancelled {
        assert_eq!(c["Status"], "Failed");
        assert!(c["Value"].is_null());
    }
    let said = format!(
        "mscommerce: cancelled: {} tenants were not started",
        cancelled.len()
    );
    assert!(seen.contains(&said), "{seen}");
}

/// Ctrl+C during a fleet apply: no further tenant starts, the one running
/// finishes, the report lists the others as Failed (Cancelled), exit 130;
/// the tenants not started were not written.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_starting_tenants() {
    let s = setup();
    let base = s.lockdown();
    let (code, rs, seen) = interrupted(&s, &["baseline", "apply", "--file", &base]);
    assert_eq!(code, Some(130), "{seen}");
    assert!(seen.contains("Ctrl+C: no further tenant starts"), "{seen}");
    some_done_others_cancelled(&rs, &seen);
    for r in &rs {
        let t = r["TenantId"].as_str().unwrap();
        let (items, writes) = s.read_back(t);
        if r["Reason"] == "Cancelled" {
            assert_eq!(writes, 0, "{t} was written");
            assert!(items.iter().all(|(_, v)| v == "Enabled"));
        } else {
            assert_eq!(writes, 11, "{t}");
        }
    }
}

/// Ctrl+C during a fleet read: the same report of what was read.
#[cfg(unix)]
#[test]
fn ctrl_c_during_a_fleet_read() {
    let s = setup();
    let (code, rs, seen) = interrupted(&s, &["products", "list"]);
    assert_eq!(code, Some(130), "{seen}");
    assert!(
        seen.contains("Ctrl+C: no further tenant starts; waiting for those being read"),
        "{seen}"
    );
    some_done_others_cancelled(&rs, &seen);
    let listed = rs.iter().find(|r| r["Status"] == "Succeeded").unwrap();
    assert_eq!(listed["Value"].as_array().unwrap().len(), 12);
}
