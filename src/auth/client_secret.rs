//! App-only sign-in with a client secret, through azure_identity's
//! ClientSecretCredential driven by the session's HTTP client.

use super::{Secret, Token, TokenSource};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use async_trait::async_trait;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use std::sync::Arc;
use std::time::Instant;

pub struct ClientSecretSource {
    credential: Arc<azure_identity::ClientSecretCredential>,
    scope: String,
    authority: String,
}

/// azure_identity client options that send through `http` to `authority`.
/// Retries are ours (the cache signs in again on the next call), so the
/// pipeline's own are off.
pub fn azure_client_options(http: &reqwest::Client, authority: &url::Url) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority.as_str().trim_end_matches('/').to_string();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        retry: RetryOptions::none(),
        ..Default::default()
    }
}

impl ClientSecretSource {
    pub fn new(
        http: &reqwest::Client,
        authority: &url::Url,
        tenant_id: &str,
        client_id: &str,
        secret: &Secret,
        scope: String,
    ) -> Result<Self> {
        let options = azure_identity::ClientSecretCredentialOptions {
            client_options: azure_client_options(http, authority),
        };
        let credential = azure_identity::ClientSecretCredential::new(
            tenant_id,
            client_id.to_string(),
            azure_core::credentials::Secret::new(secret.expose().to_string()),
            Some(options),
        )
        .map_err(|e| Error::invalid(format!("client secret sign-in: {e}")))?;
        Ok(ClientSecretSource {
            credential,
            scope,
            authority: format!("{}/{tenant_id}", authority.as_str().trim_end_matches('/')),
        })
    }
}

/// Turn an azure_core error into ours, keeping the platform's AADSTS text.
pub fn map_azure_error(what: &str, e: &azure_core::Error) -> Error {
    use azure_core::error::ErrorKind as K;
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        source = s.source();
    }
    let text = super::oauth_http::first_line(&text);
    let kind = match e.kind() {
        K::Io => ErrorKind::Network,
        _ => ErrorKind::Authentication,
    };
    let status = match e.kind() {
        K::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    };
    let mut err = Error::new(kind, format!("{what} failed: {text}"));
    err.http_status = status;
    err
}

#[async_trait]
impl TokenSource for ClientSecretSource {
    async fn acquire(&self, log: &CallLog) -> Result<Token> {
        let started = Instant::now();
        let result = self.credential.get_token(&[&self.scope], None).await;
        let ms = started.elapsed().as_millis();
        match result {
            Ok(t) => {
                log.push(format!(
                    "client secret sign-in at {} -> token in {ms} ms",
                    self.authority
                ));
                Ok(Token {
                    secret: Secret::new(t.token.secret().to_string()),
                    expires_on: Some(t.expires_on),
                })
            }
            Err(e) => {
                let err = map_azure_error("Sign-in with a client secret", &e);
                log.push(format!(
                    "client secret sign-in at {} -> failed in {ms} ms",
                    self.authority
                ));
                Err(err)
            }
        }
    }
}
