//! A full run over every sign-in flow, through the library and the CLI,
//! successes and failures, with tokens short-lived enough to be renewed:
//! every log line, answer, error and CLI output is kept, then searched for
//! every secret used (client secret, passwords, PFX passwords, the managed
//! identity header, the private key, access and refresh tokens,
//! authorization codes, device codes). None may appear.
#![cfg(feature = "emulator")]

mod signin_support;

use mscommerce::emulator::directory;
use serde_json::json;
use signin_support::*;
use std::path::Path;
use std::time::Duration;

const WRONG_PASSWORD: &str = "wrong-password-7f3a";
const WRONG_SECRET: &str = "wrong-secret-9c1d";
const WRONG_PFX_PASSWORD: &str = "wrong-pfx-pass-4e2b";

fn code_of(location: &str) -> String {
    query(location)["code"].clone()
}

/// Every flow through the library; answers the secrets it came to know
/// (authorization codes it carried as the browser, a minted token).
async fn library_tour(
    plain: &mscommerce::emulator::Emulator,
    tls: &mscommerce::emulator::Emulator,
    dir: &Path,
) -> Vec<String> {
    let mut known = Vec::new();
    let mut sessions = Vec::new();

    let s = session(plain, dir);
    connect(&s, password_request()).await.unwrap();
    let mut bad = password_request();
    bad["password"] = json!(WRONG_PASSWORD);
    connect(&s, bad).await.unwrap_err();
    connect(&s, password_request()).await.unwrap();
    sessions.push(s);

    sessions.push(device_code_session(plain, dir).await);
    let s = session(plain, dir);
    connect(&s, device_request()).await.unwrap();
    control(plain, dir, "/_emulator/device/decline", json!({})).await;
    poll_until_done(&s, json!({"flow": "deviceCode"}), POLL_MAX, PATIENCE)
        .await
        .unwrap_err();

    let s = session(plain, dir);
    let start = connect(&s, interactive_start(Some(ADMIN))).await.unwrap();
    let url = start["AuthorizeUrl"].as_str().unwrap().to_string();
    let redirect = start["RedirectUri"].as_str().unwrap().to_string();
    deliver(&format!(
        "{redirect}?code=0.AXforged-code-by-someone-else&state=forged"
    ))
    .await;
    let (location, _, _) = play_browser(plain, dir, &url).await;
    known.push(code_of(&location));
    poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE)
        .await
        .unwrap();
    sessions.push(s);
    // A code obtained with another PKCE challenge: refused, and not shown.
    let s = session(plain, dir);
    let start = connect(&s, interactive_start(Some(ADMIN))).await.unwrap();
    let url = start["AuthorizeUrl"].as_str().unwrap();
    let challenge = query(url)["code_challenge"].clone();
    let forged = url.replace(&challenge, "Zm9yZ2VkLWNoYWxsZW5nZS1mb3JnZWQtY2hhbGxlbmc");
    let (location, _, _) = play_browser(plain, dir, &forged).await;
    known.push(code_of(&location));
    poll_until_done(&s, json!({"flow": "interactive"}), POLL_MAX, PATIENCE)
        .await
        .unwrap_err();

    let s = session(tls, dir);
    connect(&s, secret_request()).await.unwrap();
    let mut bad = secret_request();
    bad["clientSecret"] = json!(WRONG_SECRET);
    connect(&s, bad).await.unwrap_err();
    connect(&s, secret_request()).await.unwrap();
    sessions.push(s);

    let s = session(tls, dir);
    let pfx = certificate_pfx(dir);
    connect(&s, certificate_request(&pfx, Some(WRONG_PFX_PASSWORD)))
        .await
        .unwrap_err();
    connect(
        &s,
        certificate_request(&fixture("wrong-key.pem").display().to_string(), None),
    )
    .await
    .unwrap_err();
    connect(
        &s,
        certificate_request(&pfx, Some(directory::CERTIFICATE_APP_PFX_PASSWORD)),
    )
    .await
    .unwrap();
    sessions.push(s);

    std::env::set_var("IDENTITY_ENDPOINT", format!("{}/msi/token", plain.url()));
    std::env::set_var("IDENTITY_HEADER", directory::MANAGED_IDENTITY_HEADER);
    let s = session(plain, dir);
    connect(&s, json!({"flow": "managedIdentity"}))
        .await
        .unwrap();
    sessions.push(s);
    std::env::set_var("IDENTITY_HEADER", WRONG_SECRET);
    connect(&session(plain, dir), json!({"flow": "managedIdentity"}))
        .await
        .unwrap_err();
    std::env::remove_var("IDENTITY_ENDPOINT");
    std::env::remove_var("IDENTITY_HEADER");

    let token = plain.mint_token("admin", 2);
    let s = session(plain, dir);
    connect(&s, json!({"flow": "accessToken", "accessToken": token}))
        .await
        .unwrap();
    known.push(token);
    sessions.push(s);

    // Every session's calls, then again once the tokens expired (renewed,
    // or for the given token refused in the published words), then after
    // the service refused every token (401: sign in again).
    let listing = json!({"resource": "productPolicies", "policyId": "AllowSelfServicePurchase"});
    for _ in 0..2 {
        for s in &sessions {
            let _ = get(s, listing.clone()).await;
            let _ = get(s, json!({"resource": "connection"})).await;
        }
        tokio::time::sleep(Duration::from_millis(2100)).await;
    }
    for s in &sessions {
        let _ = get(s, listing.clone()).await;
    }
    control(plain, dir, "/_emulator/expire-tokens", json!({})).await;
    control(tls, dir, "/_emulator/expire-tokens", json!({})).await;
    for s in &sessions {
        let _ = get(s, listing.clone()).await;
        let _ = update(
            s,
            json!({"policyId": "AllowSelfServicePurchase", "productId": PRODUCT, "enabled": false}),
        )
        .await;
    }
    known
}

/// Every sign-in option through the CLI.
fn cli_tour(
    plain: &mscommerce::emulator::Emulator,
    tls: &mscommerce::emulator::Emulator,
    dir: &Path,
) -> Vec<String> {
    let login = ["login"];
    let user = ["--username", ADMIN];
    cli(
        plain,
        dir,
        &[
            &user[..],
            &["--password", ADMIN_PASSWORD, "products", "list"],
        ]
        .concat(),
        &[],
    )
    .json();
    cli(
        plain,
        dir,
        &[&user[..], &["--password", WRONG_PASSWORD, "login"]].concat(),
        &[],
    )
    .auth_failure("AADSTS50126");
    cli(
        plain,
        dir,
        &[&user[..], &login[..]].concat(),
        &[("MSCOMMERCE_PASSWORD", WRONG_PASSWORD)],
    )
    .auth_failure("AADSTS50126");
    cli_secret(tls, dir, Some(APP_SECRET), &login, &[]).json();
    cli_secret(
        tls,
        dir,
        None,
        &login,
        &[("MSCOMMERCE_CLIENT_SECRET", WRONG_SECRET)],
    )
    .auth_failure("AADSTS7000215");
    let pfx = fixture("certificate-app-aes.pfx").display().to_string();
    cli_certificate(tls, dir, &pfx, Some(FIXTURE_PFX_PASSWORD), &login).json();
    cli_certificate(tls, dir, &pfx, Some(WRONG_PFX_PASSWORD), &login).auth_failure("password");
    let endpoint = format!("{}/msi/token", plain.url());
    let env = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", directory::MANAGED_IDENTITY_HEADER),
    ];
    cli(plain, dir, &["--managed-identity", "login"], &env).json();
    cli_device_code(plain, dir, &["products", "list"], "approve").json();
    control_blocking(plain, dir, "/_emulator/browser", json!({"user": "admin"}));
    cli(
        plain,
        dir,
        &["--interactive", "login"],
        &[("BROWSER", &curl_browser())],
    )
    .json();
    control_blocking(plain, dir, "/_emulator/browser", json!({}));
    let token = plain.mint_token("admin", 600);
    cli(plain, dir, &["--access-token", &token, "login"], &[]).json();
    cli(
        plain,
        dir,
        &["products", "list"],
        &[("MSCOMMERCE_ACCESS_TOKEN", &token)],
    )
    .json();
    vec![token]
}

/// Where `text` holds something shaped like a token or code of the
/// emulator: a JWT (access tokens, client assertions), a refresh token
/// (`rt.` + hex), a device code (`DAQAB…`), an authorization code (`0.AX…`).
fn token_shaped(text: &str) -> Option<String> {
    let run = |from: usize, extra: &[char]| -> String {
        text[from..]
            .chars()
            .take_while(|c| {
                c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || extra.contains(c)
            })
            .collect()
    };
    for (i, _) in text.match_indices("eyJ") {
        let r = run(i, &['.']);
        if r.len() > 30 && r.contains('.') {
            return Some(r);
        }
    }
    for (prefix, min) in [("rt.", 32), ("DAQAB", 20), ("0.AX", 20)] {
        for (i, _) in text.match_indices(prefix) {
            let r = run(i + prefix.len(), &[]);
            if r.len() >= min {
                return Some(format!("{prefix}{r}"));
            }
        }
    }
    None
}

#[test]
fn no_secret_is_ever_shown() {
    let plain = emulator(false, 2);
    let tls = emulator(true, 2);
    let dir = temp();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut secrets: Vec<String> = [
        ADMIN_PASSWORD,
        WRONG_PASSWORD,
        APP_SECRET,
        WRONG_SECRET,
        FIXTURE_PFX_PASSWORD,
        directory::CERTIFICATE_APP_PFX_PASSWORD,
        WRONG_PFX_PASSWORD,
        directory::MANAGED_IDENTITY_HEADER,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A line of the private key's base64.
    secrets.push(
        directory::CERTIFICATE_APP_KEY_PEM
            .lines()
            .nth(5)
            .unwrap()
            .to_string(),
    );
    secrets.extend(rt.block_on(library_tour(&plain, &tls, dir.path())));
    secrets.extend(cli_tour(&plain, &tls, dir.path()));

    // The shape search finds what it looks for.
    let minted = plain.mint_token("admin", 60);
    for leak in [
        format!("Bearer {minted}"),
        format!("refresh rt.{}", "0123456789abcdef".repeat(3)),
        "device_code=DAQAB0123456789abcdefghij".to_string(),
        "code=0.AXabcdefghijklmnopqrstuvwxyz&state=1".to_string(),
    ] {
        assert!(token_shaped(&leak).is_some(), "{leak}");
    }

    let shown = shown();
    let all = shown.join("\n");
    // The search is not vacuous: the run was seen.
    assert!(shown.len() > 100, "only {} texts kept", shown.len());
    for expected in [
        "/oauth2/v2.0/token -> 200",
        "token about to expire; renewing it",
        "token refused by the service",
        "AADSTS50126",
        "AADSTS7000215",
        "AADSTS700027",
        "authorization_declined",
        "AADSTS501481",
        "enter the code",
        "Please, call Connect-MSCommerce again",
    ] {
        assert!(all.contains(expected), "the run never showed '{expected}'");
    }
    for secret in &secrets {
        assert!(!secret.is_empty());
        if let Some(t) = shown.iter().find(|t| t.contains(secret.as_str())) {
            panic!("a secret was shown: {t}");
        }
    }
    if let Some(t) = shown.iter().find(|t| token_shaped(t).is_some()) {
        panic!("a token or code was shown ({:?}): {t}", token_shaped(t));
    }
    eprintln!(
        "searched {} texts ({} bytes) for {} secrets and for token/code shapes: none found",
        shown.len(),
        all.len(),
        secrets.len()
    );
}
