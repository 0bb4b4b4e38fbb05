//! Every sign-in option of cli.md through the `mscommerce` binary against
//! the emulator: the flows end to end (the device code prompt read from
//! stderr and approved as the user; `--interactive` with `$BROWSER` set to
//! a command that plays the browser), and failures exiting 13 with the
//! platform's message.
#![cfg(feature = "emulator")]

mod signin_support;

use mscommerce::emulator::directory;
use serde_json::json;
use signin_support::*;

#[test]
fn password_and_access_token() {
    let emu = emulator(false, 3600);
    let dir = temp();
    let info = cli(
        &emu,
        dir.path(),
        &["--username", ADMIN, "--password", ADMIN_PASSWORD, "login"],
        &[],
    )
    .json();
    assert_eq!(info["Flow"], "Password");
    assert_eq!(info["Account"], ADMIN);
    // The password from the environment, and a tenant by domain.
    let list = cli(
        &emu,
        dir.path(),
        &[
            "--username",
            ADMIN,
            "--tenant-id",
            TENANT,
            "products",
            "list",
        ],
        &[("MSCOMMERCE_PASSWORD", ADMIN_PASSWORD)],
    )
    .json();
    assert!(list.as_array().is_some_and(|a| !a.is_empty()));
    cli(
        &emu,
        dir.path(),
        &[
            "--username",
            ADMIN,
            "--password",
            "not-the-password",
            "login",
        ],
        &[],
    )
    .auth_failure("AADSTS50126");

    let token = emu.mint_token("admin", 600);
    let info = cli(&emu, dir.path(), &["--access-token", &token, "login"], &[]).json();
    assert_eq!(info["Flow"], "AccessToken");
}

#[test]
fn client_secret_and_certificate() {
    let emu = emulator(true, 3600);
    let dir = temp();
    let d = dir.path();
    let info = cli_secret(&emu, d, Some(APP_SECRET), &["login"], &[]).json();
    assert_eq!(info["Flow"], "ClientSecret");
    let set = [
        "products",
        "set",
        "--product-id",
        PRODUCT,
        "--enabled",
        "false",
    ];
    let env = [("MSCOMMERCE_CLIENT_SECRET", APP_SECRET)];
    assert_eq!(
        cli_secret(&emu, d, None, &set, &env).json()["PolicyValue"],
        "Disabled"
    );
    cli_secret(&emu, d, Some("not-the-secret"), &["login"], &[]).auth_failure("AADSTS7000215");

    let pem = certificate_pem(d);
    let get = ["products", "get", "--product-id", PRODUCT];
    let info = cli_certificate(&emu, d, &pem, None, &get).json();
    assert_eq!(info["ProductId"], PRODUCT);
    let pfx = fixture("certificate-app-legacy-3des.pfx")
        .display()
        .to_string();
    let info = cli_certificate(&emu, d, &pfx, Some(FIXTURE_PFX_PASSWORD), &["login"]).json();
    assert_eq!(info["Flow"], "Certificate");
    let wrong = fixture("wrong-key.pem").display().to_string();
    cli_certificate(&emu, d, &wrong, None, &["login"]).auth_failure("AADSTS700027");
    cli_certificate(&emu, d, &pfx, Some("nope"), &["login"]).auth_failure("password is wrong");
}

#[test]
fn managed_identity_app_service_and_imds() {
    let emu = emulator(false, 3600);
    let dir = temp();
    let endpoint = format!("{}/msi/token", emu.url());
    let env = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", directory::MANAGED_IDENTITY_HEADER),
    ];
    let info = cli(&emu, dir.path(), &["--managed-identity", "login"], &env).json();
    assert_eq!(info["Flow"], "ManagedIdentity");
    assert_eq!(info["Account"], directory::MANAGED_IDENTITIES[0].client_id);
    let user_assigned = directory::MANAGED_IDENTITIES[1].client_id;
    let info = cli(
        &emu,
        dir.path(),
        &["--managed-identity", "--client-id", user_assigned, "login"],
        &env,
    )
    .json();
    assert_eq!(info["Account"], user_assigned);
    let wrong = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "not-the-header"),
    ];
    let run = cli(&emu, dir.path(), &["--managed-identity", "login"], &wrong);
    assert_eq!(run.code, 13, "{}", run.stderr);
    // IMDS (no IDENTITY_ENDPOINT), reached through the emulator as proxy.
    let info = cli(
        &emu,
        dir.path(),
        &[
            "--proxy",
            &emu.url(),
            "--managed-identity",
            "products",
            "list",
        ],
        &[],
    )
    .json();
    assert!(info.as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn device_code_prompt_on_stderr() {
    let emu = emulator(false, 3600);
    let dir = temp();
    let run = cli_device_code(
        &emu,
        dir.path(),
        &["--tenant-id", TENANT, "login"],
        "approve",
    );
    let info = run.json();
    assert_eq!(info["Flow"], "DeviceCode");
    assert_eq!(info["Account"], ADMIN);
    assert!(
        run.stderr.contains(&format!("{}/device", emu.url())),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("enter the code"),
        "the prompt is for stderr only"
    );

    cli_device_code(&emu, dir.path(), &["login"], "decline").auth_failure("authorization_declined");
    cli_device_code(&emu, dir.path(), &["login"], "expire").auth_failure("AADSTS70019");
}

#[test]
fn interactive_opens_the_browser() {
    let emu = emulator(false, 3600);
    let dir = temp();
    // The browser has a session as the admin: the platform redirects back at once.
    control_blocking(
        &emu,
        dir.path(),
        "/_emulator/browser",
        json!({"user": "admin"}),
    );
    let browser = curl_browser();
    let run = cli(
        &emu,
        dir.path(),
        &["--interactive", "products", "list"],
        &[("BROWSER", &browser)],
    );
    let list = run.json();
    assert!(list.as_array().is_some_and(|a| !a.is_empty()));
    assert!(
        run.stderr.contains("/oauth2/v2.0/authorize?"),
        "{}",
        run.stderr
    );
    let run = cli(
        &emu,
        dir.path(),
        &["--interactive", "--tenant-id", TENANT, "login"],
        &[("BROWSER", &format!("{browser} %s"))],
    );
    assert_eq!(run.json()["Flow"], "Interactive");

    // The user cancels in the browser: the platform's access_denied.
    let cancel = "curl -sS -L --max-time 20 -o /dev/null %s&emulator_cancel=1";
    control_blocking(&emu, dir.path(), "/_emulator/browser", json!({}));
    cli(
        &emu,
        dir.path(),
        &["--interactive", "login"],
        &[("BROWSER", cancel)],
    )
    .auth_failure("AADSTS65004");
}

#[test]
fn one_way_of_signing_in() {
    let emu = emulator(false, 3600);
    let dir = temp();
    let run = cli(
        &emu,
        dir.path(),
        &["--device-code", "--interactive", "login"],
        &[],
    );
    assert_eq!(run.code, 11, "{}", run.stderr);
    assert!(
        run.stderr.contains("choose one way of signing in"),
        "{}",
        run.stderr
    );
}
