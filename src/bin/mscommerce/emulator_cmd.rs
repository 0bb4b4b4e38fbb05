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
        ca_flag = format!(" --ca-file {path}");
    }
    let mut out = String::new();
    out.push_str(&format!("Emulator listening on {url}\n"));
    out.push_str(&format!("  licensing API:     {url}/v1.0/policies\n"));
    out.push_str(&format!(
        "  sign-in authority: {url}  (tenant {} = {})\n",
        directory::TENANT_DOMAIN,
        directory::TENANT_ID
    ));
    out.push_str(&ca_line);
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
    out.push_str("Try:\n");
    out.push_str(&format!(
        "  mscommerce --service-url {url} --authority-host {url}{ca_flag} --username admin@contoso.onmicrosoft.com --password Emulator-Admin-1 products list\n"
    ));
    out.push_str(&format!(
        "  Connect-MSCommerce -ServiceUrl {url} -AuthorityHost {url} -Credential (Get-Credential admin@contoso.onmicrosoft.com)\n"
    ));
    out.push_str(&format!(
        "Faults: curl -X POST {url}/_emulator/faults -H 'content-type: application/json' -d '{{\"throttle\":2,\"retryAfterSeconds\":1}}'\n"
    ));
    out.push_str("Press Ctrl+C to stop.\n");
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    let _ = tokio::signal::ctrl_c().await;
    drop(emu);
    Ok(())
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
