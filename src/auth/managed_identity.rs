//! Managed identity sign-in (system-assigned, or user-assigned by client
//! id) through azure_identity's ManagedIdentityCredential: the App Service /
//! Azure Automation / Functions endpoint when `IDENTITY_ENDPOINT` and
//! `IDENTITY_HEADER` are set, else the VM's Instance Metadata Service.
//!
//! The request goes through the session's HTTP client, so its proxy and
//! extra CA apply. `IDENTITY_HEADER` is a secret: it is never logged.

use super::azure::{azure_client_options, AzureSource};
use crate::error::Result;
use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use std::sync::Arc;

/// Where the managed identity's tokens come from, for log lines.
pub fn endpoint_description() -> String {
    match (
        std::env::var("IDENTITY_ENDPOINT"),
        std::env::var_os("IDENTITY_HEADER"),
    ) {
        (Ok(endpoint), Some(_)) => {
            let shown = url::Url::parse(&endpoint)
                .map(|mut u| {
                    u.set_query(None);
                    u.to_string()
                })
                .unwrap_or_else(|_| "IDENTITY_ENDPOINT".into());
            format!("the App Service/Automation endpoint {shown}")
        }
        _ => "the Instance Metadata Service (IMDS)".into(),
    }
}

/// A token source for the managed identity; `client_id` picks a
/// user-assigned one.
pub fn managed_identity_source(
    http: &reqwest::Client,
    authority: &url::Url,
    client_id: Option<&str>,
    scope: String,
) -> Result<AzureSource> {
    let (http, authority) = (http.clone(), authority.clone());
    let user_assigned = client_id.map(|c| UserAssignedId::ClientId(c.to_string()));
    let what = match client_id {
        Some(_) => "user-assigned managed identity sign-in",
        None => "system-assigned managed identity sign-in",
    };
    let make = move || -> azure_core::Result<Arc<dyn TokenCredential>> {
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: user_assigned.clone(),
            client_options: azure_client_options(&http, &authority),
        };
        let credential = ManagedIdentityCredential::new(Some(options))?;
        Ok(credential)
    };
    Ok(AzureSource::new(
        what,
        endpoint_description(),
        scope,
        Box::new(make),
    ))
}
