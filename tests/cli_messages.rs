//! What the `mscommerce` binary says to people: errors name the flags, not
//! the library's JSON fields; no PowerShell wording; hints for the common
//! mistakes (the emulator without --authority-host, a --service-url ending
//! in /v1.0, https:// to a plain HTTP server, an untrusted certificate
//! authority); the help grouped, and trimmed where options do not apply;
//! the last --output wins; a flag wins over an environment variable;
//! control characters from a service escaped in table, CSV and errors;
//! a failed write fails the command.

mod common;

use common::cli::{admin_command, as_admin, bin, stderr, stdout, EmulatorCommand};
use common::*;
use mscommerce::emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};

fn emulator() -> Emulator {
    background(EmulatorConfig::default())
}

fn tls_emulator() -> Emulator {
    background(EmulatorConfig {
        tls: true,
        ..Default::default()
    })
}

/// The binary with `args`, nothing from the environment's sign-in.
fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("runs")
}

/// `products set --product-id IDS HOW VALUE` as the admin.
fn set(emu: &Emulator, ids: &str, how: &str, value: &str) -> Output {
    as_admin(emu, &["products", "set", "--product-id", ids, how, value])
}

/// Exit code `code`, and stderr holding each of `has`.
#[track_caller]
fn expect(o: &Output, code: i32, has: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    for h in has {
        assert!(err.contains(h), "stderr lacks {h:?}: {err}");
    }
}

/// The library's names that must not reach a CLI user.
const FIELD_NAMES: [&str; 13] = [
    "tenantId",
    "clientId",
    "clientSecret",
    "accessToken",
    "certificatePath",
    "certificatePassword",
    "serviceUrl",
    "authorityHost",
    "caCertificatePath",
    "timeoutSeconds",
    "Connect-MSCommerce",
    "$True",
    "cmdlet",
];

#[track_caller]
fn no_library_words(o: &Output) {
    let err = stderr(o);
    for f in FIELD_NAMES {
        assert!(!err.contains(f), "stderr names {f}: {err}");
    }
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn missing_sign_in_pieces_are_named_by_flag() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 8] = [
        (
            &["--client-secret", "s"],
            &[],
            "mscommerce: --tenant-id is required for --client-secret\n",
        ),
        (
            &["--tenant-id", TENANT, "--client-secret", "s"],
            &[],
            "mscommerce: --client-id is required for --client-secret\n",
        ),
        (
            &["--tenant-id", TENANT],
            &[("MSCOMMERCE_CLIENT_SECRET", "s")],
            "mscommerce: --client-id is required for --client-secret (set by MSCOMMERCE_CLIENT_SECRET)\n",
        ),
        (
            &["--certificate", "/nonexistent.pfx"],
            &[],
            "mscommerce: --tenant-id is required for --certificate\n",
        ),
        (
            &["--tenant-id", TENANT, "--certificate", "/nonexistent.pfx"],
            &[],
            "mscommerce: --client-id is required for --certificate\n",
        ),
        (
            &["--username", ADMIN],
            &[],
            "mscommerce: --password is required for --username (or set MSCOMMERCE_PASSWORD)\n",
        ),
        (
            &["--password", "p"],
            &[],
            "mscommerce: --username is required for --password\n",
        ),
        (
            &[],
            &[("MSCOMMERCE_PASSWORD", "p")],
            "mscommerce: --username is required for --password (set by MSCOMMERCE_PASSWORD)\n",
        ),
    ];
    for (args, env, message) in cases {
        let o = run_env(&[args, &["products", "list"][..]].concat(), env);
        assert_eq!(o.status.code(), Some(11), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), message, "{args:?}");
        assert!(o.stdout.is_empty());
    }
    // A certificate password without a certificate.
    let o = run(&[
        "--access-token",
        "a.b.c",
        "--certificate-password",
        "p",
        "login",
    ]);
    expect(
        &o,
        11,
        &["--certificate-password", "give --certificate too"],
    );
}

#[test]
fn invalid_options_are_named_by_flag() {
    let emu = emulator();
    let url = emu.url();
    let t = ["--access-token", "a.b.c"];
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["--service-url", "notaurl"],
            "--service-url 'notaurl': relative URL without a base",
        ),
        (
            vec!["--authority-host", "notaurl"],
            "--authority-host 'notaurl': relative URL without a base",
        ),
        (
            vec!["--service-url", &url, "--ca-file", "/nonexistent.pem"],
            "--ca-file '/nonexistent.pem' cannot be read",
        ),
        (
            vec!["--service-url", "http://example.com"],
            "--service-url 'http://example.com/' uses http://",
        ),
        (
            vec!["--environment", "Mars"],
            "--environment 'Mars' is not known",
        ),
        (vec!["--proxy", "notaurl"], "--proxy 'notaurl'"),
    ];
    for (args, message) in cases {
        let o = run(&[&args[..], &t[..], &["products", "list"][..]].concat());
        expect(&o, 11, &[message]);
        no_library_words(&o);
    }
    // Sign-in input the library checks, named by flag too.
    let app = [
        "--service-url",
        &url,
        "--authority-host",
        &url,
        "--client-id",
        APP_ID,
    ];
    let sign_in: [([&str; 4], &str); 2] = [
        (
            ["--tenant-id", "not a tenant", "--client-secret", "s"],
            "--tenant-id 'not a tenant' is not a tenant id",
        ),
        (
            ["--tenant-id", TENANT, "--certificate", "/nonexistent.pfx"],
            "--certificate '/nonexistent.pfx'",
        ),
    ];
    for (args, message) in sign_in {
        let o = run(&[&app[..], &args[..], &["login"][..]].concat());
        expect(&o, 11, &[message]);
        no_library_words(&o);
    }
    // Ids, by flag, before anything is sent.
    let before = emu.stats().requests;
    let o = as_admin(&emu, &["products", "get", "--product-id", "../x"]);
    expect(&o, 11, &["--product-id '../x' contains '/'"]);
    let o = as_admin(&emu, &["products", "list", "--policy-id", ".."]);
    expect(&o, 11, &["--policy-id '..' is not a valid id"]);
    assert_eq!(emu.stats().requests, before, "nothing sent");
}

#[test]
fn timeout_must_be_a_number_of_seconds() {
    for bad in ["NaN", "inf", "-1", "0", "3601", "soon"] {
        let o = run(&[
            "--timeout",
            bad,
            "--access-token",
            "a.b.c",
            "products",
            "list",
        ]);
        expect(&o, 2, &["--timeout"]);
    }
    let emu = emulator();
    let o = as_admin(&emu, &["--timeout", "7.5", "products", "list"]);
    expect(&o, 0, &[]);
}

#[test]
fn no_powershell_wording() {
    let emu = emulator();
    let url = emu.url();
    // A token the service refuses: no "expired", no Connect-MSCommerce.
    let o = run(&[
        "--service-url",
        &url,
        "--access-token",
        "a.b.c",
        "products",
        "list",
    ]);
    expect(
        &o,
        13,
        &["the service refused the access token given with --access-token"],
    );
    assert!(!stderr(&o).contains("expired"), "{}", stderr(&o));
    no_library_words(&o);
    let o = run_env(
        &["--service-url", &url, "products", "list"],
        &[("MSCOMMERCE_ACCESS_TOKEN", "a.b.c")],
    );
    expect(
        &o,
        13,
        &["the service refused the access token given with MSCOMMERCE_ACCESS_TOKEN"],
    );
    no_library_words(&o);

    // --enabled takes true or false, said the command line's way.
    let o = set(&emu, "CFQ7TTC0KP0N", "--enabled", "no");
    expect(
        &o,
        2,
        &[
            "invalid value 'no' for '--enabled <true|false>'",
            "[possible values: true, false]",
        ],
    );
    no_library_words(&o);
    // Any case of true and false, and of the values.
    let o = set(&emu, "CFQ7TTC0KP0N", "--enabled", "False");
    expect(&o, 0, &[]);
    let o = set(&emu, "CFQ7TTC0KP0N", "--value", "enabled");
    expect(&o, 0, &[]);
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Enabled");
    let o = set(&emu, "CFQ7TTC0KP0N", "--value", "Off");
    expect(&o, 2, &["invalid value 'Off' for '--value <VALUE>'"]);
}

#[test]
fn emulator_without_authority_host_gets_a_hint() {
    let emu = emulator();
    let url = emu.url();
    // Sign-in goes to login.microsoftonline.com; a dead proxy keeps the
    // test off the internet and fails it at once.
    let proxy = format!("http://127.0.0.1:{}", dead_port());
    let o = run(&[
        "--service-url",
        &url,
        "--proxy",
        &proxy,
        "--timeout",
        "20",
        "--username",
        ADMIN,
        "--password",
        ADMIN_PASSWORD,
        "products",
        "list",
    ]);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("hint: sign-in went to Microsoft's authority (login.microsoftonline.com) because --authority-host is not given; to sign in at the server of --service-url (the emulator), add --authority-host {url}")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // With --authority-host the same command works.
    let o = as_admin(&emu, &["products", "list"]);
    expect(&o, 0, &[]);
}

#[test]
fn service_url_with_the_version_path_gets_a_hint() {
    let emu = emulator();
    let url = emu.url();
    let token = emu.mint_token("admin", 600);
    for path in ["/v1.0", "/v1.0/", "/v1.0/policies", "/v1"] {
        let service = format!("{url}{path}");
        let o = run(&[
            "--service-url",
            &service,
            "--access-token",
            &token,
            "products",
            "list",
        ]);
        let cut = path.trim_end_matches('/');
        expect(
            &o,
            15,
            &[
                "HTTP 404",
                &format!("hint: --service-url is the API's base URL, without {cut}: use --service-url {url}"),
            ],
        );
    }
    // An unknown product at the right URL: no such hint.
    let o = run(&[
        "--service-url",
        &url,
        "--access-token",
        &token,
        "products",
        "get",
        "--product-id",
        "CFQ7TTC0ZZZZ",
    ]);
    expect(&o, 15, &["HTTP 404"]);
    assert!(!stderr(&o).contains("hint"), "{}", stderr(&o));
}

#[test]
fn tls_errors_get_a_hint() {
    // https:// to a plain HTTP server.
    let emu = emulator();
    let token = emu.mint_token("admin", 600);
    let https = emu.url().replace("http://", "https://");
    let o = run(&[
        "--service-url",
        &https,
        "--access-token",
        &token,
        "--timeout",
        "20",
        "products",
        "list",
    ]);
    expect(
        &o,
        18,
        &["hint: the server answered in plain HTTP, not HTTPS: use http:// in --service-url"],
    );
    // A certificate authority this machine does not trust.
    let tls = tls_emulator();
    let token = tls.mint_token("admin", 600);
    let o = run(&[
        "--service-url",
        &tls.url(),
        "--access-token",
        &token,
        "--timeout",
        "20",
        "products",
        "list",
    ]);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(
        err.contains("hint: the server's certificate is signed by an authority this machine does not trust: pass that authority's certificate (PEM) with --ca-file PATH"),
        "{err}"
    );
    // The same at sign-in, and with --ca-file the command works.
    let o = run(&[
        "--service-url",
        &tls.url(),
        "--authority-host",
        &tls.url(),
        "--username",
        ADMIN,
        "--password",
        ADMIN_PASSWORD,
        "--timeout",
        "20",
        "login",
    ]);
    expect(&o, 18, &["UnknownIssuer", "with --ca-file PATH"]);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, tls.ca_pem().unwrap()).unwrap();
    let o = run(&[
        "--service-url",
        &tls.url(),
        "--authority-host",
        &tls.url(),
        "--ca-file",
        ca.to_str().unwrap(),
        "--username",
        ADMIN,
        "--password",
        ADMIN_PASSWORD,
        "login",
    ]);
    expect(&o, 0, &[]);
}

#[test]
fn help_is_grouped_and_trimmed() {
    let help = stdout(&run(&["products", "set", "-h"]));
    // The command's own options first, each described.
    let own = help.find("\n      --product-id <ID>").expect(&help) + 1;
    let connection = help.find("Connection options:").expect(&help);
    let sign_in = help.find("Sign-in options (choose one way):").expect(&help);
    let output = help.find("Output options:").expect(&help);
    assert!(
        own < connection && connection < output && output < sign_in,
        "{help}"
    );
    for own in [
        "--product-id",
        "--value",
        "--enabled",
        "--what-if",
        "--policy-id",
    ] {
        assert!(help[..connection].contains(own), "{own}: {help}");
    }
    let product_id = help[own..].lines().next().unwrap();
    assert!(
        product_id.contains("Product id, as `products list` shows it"),
        "{help}"
    );
    // What is checked before anything changes, said as it is.
    let help = stdout(&run(&["products", "set", "--help"]));
    let flowing = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flowing.contains("looked up in one listing of the policy's products: if any is unknown, no product is changed"),
        "{help}"
    );
    assert!(
        flowing.contains("[env: MSCOMMERCE_CERTIFICATE_PASSWORD]"),
        "{help}"
    );
    let help = stdout(&run(&["products", "get", "-h"]));
    assert!(
        help.contains("Product id, as `products list` shows it"),
        "{help}"
    );

    // emulator --help: only its own options.
    let help = stdout(&run(&["emulator", "--help"]));
    for own in ["--port", "--tls", "--ca-out", "--seed-products"] {
        assert!(help.contains(own), "{own}: {help}");
    }
    for foreign in [
        "--service-url",
        "--proxy",
        "--username",
        "--access-token",
        "--output",
        "--timeout",
        "Sign-in options",
    ] {
        assert!(!help.contains(foreign), "{foreign}: {help}");
    }
    // demo --help: its output format, nothing of sign-in or connection.
    let help = stdout(&run(&["demo", "--help"]));
    assert!(help.contains("--output"), "{help}");
    for foreign in ["--service-url", "--proxy", "--username", "--access-token"] {
        assert!(!help.contains(foreign), "{foreign}: {help}");
    }
    // What does not apply is refused, not ignored.
    let o = run(&["emulator", "--proxy", "http://127.0.0.1:1", "--port", "0"]);
    expect(&o, 2, &["--proxy does not apply to 'emulator'"]);
    let o = run(&["demo", "--service-url", "http://127.0.0.1:1"]);
    expect(&o, 2, &["--service-url does not apply to 'demo'"]);
    // An environment variable is not a flag given.
    let o = bin()
        .args(["emulator", "--help"])
        .env("MSCOMMERCE_PASSWORD", "p")
        .output()
        .unwrap();
    expect(&o, 0, &[]);
}

#[test]
fn the_last_output_wins() {
    let emu = emulator();
    let o = as_admin(&emu, &["--output", "csv", "products", "list"]);
    expect(&o, 0, &[]);
    assert!(
        stdout(&o).starts_with("PolicyValue,ProductId,PolicyId,ProductName\r\n"),
        "{}",
        stdout(&o)
    );
    let o = as_admin(
        &emu,
        &["products", "list", "--output", "table", "--output", "json"],
    );
    expect(&o, 0, &[]);
    assert!(serde_json::from_slice::<Value>(&o.stdout).is_ok());
    // Any option given twice: the last one.
    let o = as_admin(
        &emu,
        &["--timeout", "1", "--timeout", "30", "products", "list"],
    );
    expect(&o, 0, &[]);
}

#[test]
fn a_flag_wins_over_the_environment() {
    let emu = emulator();
    let url = emu.url();
    let token = emu.mint_token("admin", 600);
    let base = [
        "--service-url",
        &url,
        "--authority-host",
        &url,
        "--output",
        "json",
    ];
    // A set MSCOMMERCE_PASSWORD does not stand in the way of --access-token.
    let o = run_env(
        &[&base[..], &["--access-token", &token, "login"][..]].concat(),
        &[("MSCOMMERCE_PASSWORD", "stale")],
    );
    expect(&o, 0, &[]);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["Flow"], "AccessToken");
    // Nor MSCOMMERCE_ACCESS_TOKEN of password sign-in.
    let o = run_env(
        &[
            &base[..],
            &["--username", ADMIN, "--password", ADMIN_PASSWORD, "login"][..],
        ]
        .concat(),
        &[("MSCOMMERCE_ACCESS_TOKEN", "stale.token.value")],
    );
    expect(&o, 0, &[]);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["Flow"], "Password");
    // The flag's value wins over its own variable.
    let o = run_env(
        &[&base[..], &["--access-token", &token, "login"][..]].concat(),
        &[("MSCOMMERCE_ACCESS_TOKEN", "stale.token.value")],
    );
    expect(&o, 0, &[]);
    // Two variables and no flag: which one is meant is not guessed.
    let o = run_env(
        &[&base[..], &["login"][..]].concat(),
        &[
            ("MSCOMMERCE_ACCESS_TOKEN", &token),
            ("MSCOMMERCE_PASSWORD", "p"),
        ],
    );
    expect(
        &o,
        11,
        &["MSCOMMERCE_ACCESS_TOKEN and MSCOMMERCE_PASSWORD are set in the environment, each for another way of signing in; choose one with its flag, or unset the others"],
    );
    // Two flags: refused as before.
    let o = run(&[
        &base[..],
        &["--access-token", &token, "--username", ADMIN, "login"][..],
    ]
    .concat());
    expect(
        &o,
        11,
        &["choose one way of signing in; got --access-token, --username/--password"],
    );
}

#[test]
fn certificate_password_from_the_environment() {
    let emu = tls_emulator();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, emu.ca_pem().unwrap()).unwrap();
    let pfx = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/signin_fixtures/certificate-app-legacy-3des.pfx");
    let url = emu.url();
    let args = [
        "--service-url",
        &url,
        "--authority-host",
        &url,
        "--ca-file",
        ca.to_str().unwrap(),
        "--tenant-id",
        mscommerce::emulator::directory::TENANT_ID,
        "--client-id",
        mscommerce::emulator::directory::CERTIFICATE_APP_CLIENT_ID,
        "--certificate",
        pfx.to_str().unwrap(),
        "--output",
        "json",
        "login",
    ];
    let o = run_env(&args, &[("MSCOMMERCE_CERTIFICATE_PASSWORD", "Pfx-Pass-1!")]);
    expect(&o, 0, &[]);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["Flow"], "Certificate");
    // --certificate-password wins over the variable.
    let o = run_env(
        &[&args[..], &["--certificate-password", "Pfx-Pass-1!"][..]].concat(),
        &[("MSCOMMERCE_CERTIFICATE_PASSWORD", "wrong")],
    );
    expect(&o, 0, &[]);
    // The variable set for another sign-in is no error.
    let o = run_env(
        &[
            "--service-url",
            &url,
            "--authority-host",
            &url,
            "--ca-file",
            ca.to_str().unwrap(),
            "--username",
            ADMIN,
            "--password",
            ADMIN_PASSWORD,
            "login",
        ],
        &[("MSCOMMERCE_CERTIFICATE_PASSWORD", "p")],
    );
    expect(&o, 0, &[]);
}

#[test]
fn several_products_are_looked_up_before_any_changes() {
    let emu = emulator();
    let before = emu.stats().updates;
    let o = set(
        &emu,
        "CFQ7TTC0KP0N,CFQ7TTC0ZZZZ,CFQ7TTC0KXG6,CFQ7TTC0YYYY",
        "--enabled",
        "false",
    );
    expect(
        &o,
        15,
        &["CFQ7TTC0ZZZZ, CFQ7TTC0YYYY are not among the products of policy 'AllowSelfServicePurchase'; no product was changed"],
    );
    assert!(o.stdout.is_empty());
    assert_eq!(emu.stats().updates, before, "no PUT");
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Enabled");
    assert_eq!(emu.product_value("CFQ7TTC0KXG6").unwrap(), "Enabled");
    // Ids in another case are the same products.
    let o = set(&emu, "cfq7ttc0kp0n,CFQ7TTC0KXG6", "--enabled", "false");
    expect(&o, 0, &[]);
    assert_eq!(emu.product_value("CFQ7TTC0KXG6").unwrap(), "Disabled");
}

/// Text a hostile service could send: an OSC that retitles the terminal,
/// a clear screen, a colour, a bell, a line break, a bidi override.
const HOSTILE: &str = "Evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mred\r\nnext\u{202e}";
const HOSTILE_SHOWN: &str = "Evil\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{1b}[31mred\\r\\nnext\\u{202e}";

#[track_caller]
fn no_control_characters(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    // JSON escapes control characters but not the bidi override.
    let bidi = what != "json";
    let bad: Vec<char> = text
        .chars()
        .filter(|c| (c.is_control() && *c != '\n' && *c != '\r') || (bidi && *c == '\u{202e}'))
        .collect();
    assert!(bad.is_empty(), "{what} holds {bad:?}: {text:?}");
}

#[test]
fn control_characters_from_the_service_are_escaped() {
    let emu = emulator();
    {
        let mut data = emu.state().data.lock().unwrap();
        let list = data.products.get_mut("AllowSelfServicePurchase").unwrap();
        list[0].product_name = HOSTILE.to_string();
        list[1].product_id = format!("ID{HOSTILE}");
    }
    for format in ["table", "csv"] {
        let o = as_admin(&emu, &["--output", format, "products", "list"]);
        expect(&o, 0, &[]);
        no_control_characters(&o.stdout, format);
        let out = stdout(&o);
        assert!(out.contains(HOSTILE_SHOWN), "{format}: {out}");
        assert!(
            out.contains(&format!("ID{HOSTILE_SHOWN}")),
            "{format}: {out}"
        );
        // One line per product and the header (and the rule of the table).
        let rows = if format == "table" { 14 } else { 13 };
        assert_eq!(out.lines().count(), rows, "{format}: {out}");
    }
    // Table columns stay aligned: the escaped name is measured as shown.
    let o = as_admin(&emu, &["--output", "table", "products", "list"]);
    let out = stdout(&o);
    let header = out.lines().next().unwrap();
    let name_col = header.find("ProductName").unwrap();
    for line in out.lines().skip(2) {
        assert!(line.len() > name_col, "{out}");
    }
    // JSON keeps the value exactly, escaped by JSON itself.
    let o = as_admin(&emu, &["--output", "json", "products", "list"]);
    no_control_characters(&o.stdout, "json");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["ProductName"], HOSTILE);
}

/// A server that answers every request with `status` and `body`.
fn answering(status: &str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let status = status.to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut rest = vec![0; length];
            let _ = reader.read_exact(&mut rest);
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-ms-correlation-id: 0f0e\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn control_characters_in_an_error_are_escaped() {
    let message = serde_json::to_string(HOSTILE).unwrap();
    let body = format!(r#"{{"error":{{"code":"BadThing","message":{message}}}}}"#);
    let url = answering("400 Bad Request", body);
    let o = run(&[
        "--service-url",
        &url,
        "--access-token",
        "a.b.c",
        "products",
        "list",
    ]);
    assert_ne!(o.status.code(), Some(0));
    no_control_characters(&o.stderr, "stderr");
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains("HTTP 400"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_fails_the_command() {
    let emu = emulator();
    let to_full_disk = |args: &[&str]| {
        admin_command(&emu)
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    for format in ["csv", "table", "json"] {
        let o = to_full_disk(&["--output", format, "products", "list"]);
        expect(
            &o,
            21,
            &["mscommerce: the output cannot be written: No space left on device"],
        );
    }
    // A change that was made: the message says so.
    let o = to_full_disk(&[
        "products",
        "set",
        "--product-id",
        "CFQ7TTC0KP0N",
        "--enabled",
        "false",
    ]);
    expect(
        &o,
        21,
        &["mscommerce: the change was made, but the output cannot be written: No space left on device"],
    );
    assert_eq!(emu.product_value("CFQ7TTC0KP0N").unwrap(), "Disabled");
}

/// The emulator's banner: the base URL to pass, and one command line with
/// every flag the CLI needs, which works as printed (also with --tls).
#[test]
fn emulator_banner_prints_a_command_line_that_works() {
    for tls in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("emulator ca.pem");
        let mut args = vec!["--port", "0"];
        if tls {
            args.extend(["--tls", "--ca-out", ca.to_str().unwrap()]);
        }
        let child = EmulatorCommand::start(&args);
        let (banner, url) = (&child.banner, &child.url);
        let text = banner.concat();
        assert!(
            text.contains(&format!(
                "  service URL:       {url}  (--service-url, as it is: without /v1.0)"
            )),
            "{text}"
        );
        assert!(!text.contains("/v1.0/policies"), "{text}");
        let at = banner
            .iter()
            .position(|l| l.starts_with("Point the CLI at it"))
            .expect(&text);
        let line = banner[at + 1].trim();
        let words = shell_words(line);
        assert_eq!(words[0], "mscommerce", "{line}");
        for flag in [
            "--service-url",
            "--authority-host",
            "--username",
            "--password",
        ] {
            assert!(words.iter().any(|w| w == flag), "{flag}: {line}");
        }
        assert_eq!(words.iter().any(|w| w == "--ca-file"), tls, "{line}");
        let o = bin()
            .args(&words[1..])
            .args(["--output", "json"])
            .output()
            .unwrap();
        drop(child);
        expect(&o, 0, &[]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 12);
    }
}

/// Words of a POSIX shell line with single quotes (as the banner quotes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            _ => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}
