//! `mscommerce demo`: the seed article's example script, run against an
//! in-process emulator: sign in, list the products, find Power Automate per
//! user, disable it, show the result.

use super::args::OutputFormat;
use super::output;
use mscommerce::emulator::{Emulator, EmulatorConfig};
use mscommerce::log::CallLog;
use mscommerce::{Error, ErrorKind, Result, Session};
use serde_json::{json, Value};

pub async fn run(format: OutputFormat) -> Result<()> {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("cannot start the emulator: {e}"),
            )
        })?;
    let url = emu.url();
    eprintln!("Started the embedded emulator at {url} (no tenant involved).");
    let session = Session::new(&json!({"serviceUrl": url, "authorityHost": url}).to_string())?;
    let log = CallLog::new();

    eprintln!("\n> Connect-MSCommerce   # as admin@contoso.onmicrosoft.com (password sign-in at the emulator)");
    let info = session
        .connect(
            &json!({"flow": "password", "username": "admin@contoso.onmicrosoft.com", "password": "Emulator-Admin-1"})
                .to_string(),
            &log,
        )
        .await?;
    eprintln!(
        "Connection established successfully ({} in tenant {})",
        info["Account"].as_str().unwrap_or("?"),
        info["TenantId"].as_str().unwrap_or("?")
    );

    eprintln!("\n> Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase");
    let list_req =
        json!({"resource": "productPolicies", "policyId": "AllowSelfServicePurchase"}).to_string();
    let before = session.get(&list_req, &log).await?;
    output::print(&before, format);

    eprintln!("\n> $product = ... | where {{$_.ProductName -match 'Power Automate'}}");
    let matches: Vec<&Value> = before
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| {
                    p["ProductName"]
                        .as_str()
                        .is_some_and(|n| n.contains("Power Automate"))
                })
                .collect()
        })
        .unwrap_or_default();
    eprintln!(
        "{} products match 'Power Automate': {}. The demo disables 'Power Automate per user'.",
        matches.len(),
        matches
            .iter()
            .filter_map(|p| p["ProductName"].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let product = matches
        .iter()
        .find(|p| p["ProductName"] == "Power Automate per user")
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                "Power Automate per user is not in the list",
            )
        })?;
    let product_id = product["ProductId"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    eprintln!("\n> Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId {product_id} -Enabled $false");
    let updated = session
        .update(
            &json!({"policyId": "AllowSelfServicePurchase", "productId": product_id, "enabled": "False"}).to_string(),
            &log,
        )
        .await?;
    output::print(&updated, format);

    eprintln!("\n> Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase   # after");
    let after = session.get(&list_req, &log).await?;
    output::print(&after, format);

    let value = emu.product_value(&product_id).unwrap_or_default();
    if value != "Disabled" {
        return Err(Error::internal(format!(
            "the emulator holds '{value}' for {product_id}; expected Disabled"
        )));
    }
    eprintln!("\nDone: {product_id} is Disabled; every other product is unchanged.");
    Ok(())
}
