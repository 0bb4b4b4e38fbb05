//! `mscommerce demo`: the seed article's example script, run against an
//! in-process emulator: sign in, list the products, take every product whose
//! name matches 'Power Automate', disable each (as the module does with
//! `-ProductId $product.ProductID`), show the result.

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
                    // -match: a case-insensitive match anywhere in the name.
                    p["ProductName"]
                        .as_str()
                        .is_some_and(|n| n.to_lowercase().contains("power automate"))
                })
                .collect()
        })
        .unwrap_or_default();
    if matches.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            "no product matches 'Power Automate'",
        ));
    }
    let product_ids: Vec<String> = matches
        .iter()
        .filter_map(|p| p["ProductId"].as_str())
        .map(str::to_string)
        .collect();
    eprintln!(
        "{} products match 'Power Automate': {}.",
        matches.len(),
        matches
            .iter()
            .map(|p| format!(
                "{} ({})",
                p["ProductName"].as_str().unwrap_or("?"),
                p["ProductId"].as_str().unwrap_or("?")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // -ProductId $product.ProductID binds every match (-ProductId is string[]):
    // the module updates each product in turn, as here.
    eprintln!("\n> Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $product.ProductID -Enabled $false");
    let mut updated = Vec::new();
    for product_id in &product_ids {
        let request = json!({"policyId": "AllowSelfServicePurchase", "productId": product_id, "enabled": "False"});
        updated.push(session.update(&request.to_string(), &log).await?);
    }
    output::print(&Value::Array(updated), format);

    eprintln!("\n> Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase   # after");
    let after = session.get(&list_req, &log).await?;
    output::print(&after, format);

    for product_id in &product_ids {
        let value = emu.product_value(product_id).unwrap_or_default();
        if value != "Disabled" {
            return Err(Error::internal(format!(
                "the emulator holds '{value}' for {product_id}; expected Disabled"
            )));
        }
    }
    let value_of = |list: &Value, id: &str| -> Option<String> {
        list.as_array()?
            .iter()
            .find(|p| p["ProductId"] == id)
            .and_then(|p| p["PolicyValue"].as_str())
            .map(str::to_string)
    };
    for product in before.as_array().into_iter().flatten() {
        let id = product["ProductId"].as_str().unwrap_or_default();
        if !product_ids.iter().any(|p| p == id) && value_of(&after, id) != value_of(&before, id) {
            return Err(Error::internal(format!(
                "{id} changed although it does not match 'Power Automate'"
            )));
        }
    }
    eprintln!(
        "\nDone: {} are Disabled; every other product is unchanged.",
        product_ids.join(" and ")
    );
    Ok(())
}
