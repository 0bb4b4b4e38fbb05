//! `mscommerce emulator`: run the embedded emulator in the foreground.

use super::args::EmulatorArgs;
use mscommerce::emulator::{directory, Emulator, EmulatorConfig};
use mscommerce::{Error, Result};
use std::io::Write;

pub async fn run(a: &EmulatorArgs) -> Result<()> {
    let catalogue = a.seed_products.parse().map_err(Error::invalid)?;
    let emu = Emulator::start(EmulatorConfig {
        port: a.port,
        tls: a.tls,
        latency_ms: a.latency_ms,
        catalogue,
        token_lifetime_seconds: a.token_lifetime,
    })
    .await
    .map_err(|e| {
        Error::new(
            mscommerce::ErrorKind::Network,
            format!("cannot start the emulator: {e}"),
        )
    })?;
    let url = emu.url();
    let mut ca_line = String::new();
    let mut ca_flag = String::new();
    if let Some(pem) = emu.ca_pem() {
        let path = a.ca_out.clone().unwrap_or_else(|| {
            std::env::temp_dir()
                .join(format!("mscommerce-emulator-ca-{}.pem", emu.port()))
                .display()
                .to_string()
        });
        std::fs::write(&path, pem).map_err(|e| {
            Error::invalid(format!("cannot write the CA certificate to {path}: {e}"))
        })?;
        ca_line = format!("  CA certificate:    {path}\n");
        ca_flag = format!(" --ca-file {}", quote(&path));
    }
    let mut out = String::new();
    out.push_str(&format!("Emulator listening on {url}\n"));
    out.push_str(&format!(
        "  service URL:       {url}  (--service-url, as it is: without /v1.0)\n"
    ));
    out.push_str(&format!(
        "  sign-in authority: {url}  (--authority-host; tenant {} = {})\n",
        directory::TENANT_DOMAIN,
        directory::TENANT_ID
    ));
    out.push_str(&ca_line);
    out.push_str("Point the CLI at it (every flag it needs; copy and paste):\n");
    out.push_str(&format!("  {}\n", cli_line(&url, &ca_flag)));
    out.push_str("Users (password sign-in):\n");
    for u in directory::USERS {
        out.push_str(&format!(
            "  {:<34} {:<20} {}\n",
            u.upn,
            u.password,
            role_names(u.roles)
        ));
    }
    out.push_str("Apps (client secret sign-in, tenant contoso.onmicrosoft.com):\n");
    for (app, secret) in directory::APPS
        .iter()
        .filter_map(|a| a.secret.map(|s| (a, s)))
    {
        out.push_str(&format!(
            "  {}  {:<24} {}\n",
            app.client_id,
            secret,
            role_names(app.roles)
        ));
    }
    out.push_str(&directory::describe(&url));
    out.push_str("Or in PowerShell:\n");
    out.push_str(&format!(
        "  Connect-MSCommerce -ServiceUrl {url} -AuthorityHost {url} -Credential (Get-Credential admin@contoso.onmicrosoft.com)\n"
    ));
    out.push_str(&format!(
        "Faults: curl -X POST {url}/_emulator/faults -H 'content-type: application/json' -d '{{\"throttle\":2,\"retryAfterSeconds\":1}}'\n"
    ));
    out.push_str("Press Ctrl+C to stop.\n");
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::internal(format!("the output cannot be written: {e}")))?;
    drop(stdout);
    let _ = tokio::signal::ctrl_c().await;
    drop(emu);
    Ok(())
}

/// `s` as one word for the shell (quoted when it holds anything but
/// letters, digits and `/._:-\`).
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._:-\\".contains(c));
    if plain {
        s.to_string()
    } else if cfg!(windows) {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command line that lists the products at the emulator as its
/// Global administrator: every flag it needs.
fn cli_line(url: &str, ca_flag: &str) -> String {
    let admin = directory::user_by_key("admin").unwrap_or(&directory::USERS[0]);
    format!(
        "mscommerce --service-url {url} --authority-host {url}{ca_flag} --username {} --password {} products list",
        admin.upn, admin.password
    )
}

fn role_names(roles: &[&str]) -> String {
    let names: Vec<&str> = roles
        .iter()
        .map(|r| match *r {
            directory::ROLE_GLOBAL_ADMIN => "Global administrator",
            directory::ROLE_BILLING_ADMIN => "Billing administrator",
            directory::ROLE_GLOBAL_READER => "Global reader",
            _ => "other role",
        })
        .collect();
    if names.is_empty() {
        "no admin role (403)".into()
    } else {
        names.join(", ")
    }
}
