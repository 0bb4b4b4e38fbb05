//! App-only sign-in with a client secret, through azure_identity's
//! ClientSecretCredential driven by the session's HTTP client.

use super::azure::{azure_client_options, require_https, AzureSource, SignInTransport};
use super::Secret;
use crate::error::Result;
use azure_core::credentials::TokenCredential;
use std::sync::Arc;

pub use super::azure::map_azure_error;

/// A token source signing in as `client_id` with its secret.
pub fn client_secret_source(
    transport: &SignInTransport,
    authority: &url::Url,
    tenant_id: &str,
    client_id: &str,
    secret: &Secret,
    scope: String,
) -> Result<AzureSource> {
    require_https("client secret sign-in", authority)?;
    let (transport, authority) = (transport.clone(), authority.clone());
    let (tenant, client, secret) = (tenant_id.to_string(), client_id.to_string(), secret.clone());
    let at = format!("{}/{tenant_id}", authority.as_str().trim_end_matches('/'));
    let make = move || -> azure_core::Result<Arc<dyn TokenCredential>> {
        let options = azure_identity::ClientSecretCredentialOptions {
            client_options: azure_client_options(&transport, &authority),
        };
        let credential = azure_identity::ClientSecretCredential::new(
            &tenant,
            client.clone(),
            azure_core::credentials::Secret::new(secret.expose().to_string()),
            Some(options),
        )?;
        Ok(credential)
    };
    Ok(AzureSource::new(
        "client secret sign-in",
        at,
        scope,
        Box::new(make),
    ))
}
