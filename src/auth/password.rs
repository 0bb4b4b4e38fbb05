//! User name and password sign-in (the resource owner password credentials
//! grant), renewed with the refresh token it returns, or the password again.

use super::oauth_http::{map_token_error, token_from_response, OAuthHttp};
use super::{Secret, Token, TokenSource};
use crate::error::Result;
use crate::log::CallLog;
use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, RefreshToken, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenUrl,
};
use tokio::sync::Mutex;

pub struct PasswordSource {
    pub http: reqwest::Client,
    pub token_url: url::Url,
    pub client_id: String,
    pub username: String,
    pub password: Secret,
    pub scope: String,
    refresh: super::refresh::RefreshStore,
}

impl PasswordSource {
    pub fn new(
        http: reqwest::Client,
        token_url: url::Url,
        client_id: String,
        username: String,
        password: Secret,
        scope: String,
    ) -> Self {
        PasswordSource {
            http,
            token_url,
            client_id,
            username,
            password,
            scope,
            refresh: std::sync::Arc::new(Mutex::new(None)),
        }
    }

    /// Its refresh token's store, for the tenants' sources (docs/fleet.md).
    pub fn store(&self) -> super::refresh::RefreshStore {
        self.refresh.clone()
    }
}

#[async_trait]
impl TokenSource for PasswordSource {
    async fn acquire(&self, log: &CallLog) -> Result<Token> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()));
        let http = OAuthHttp {
            http: &self.http,
            log,
        };
        let mut refresh = self.refresh.lock().await;
        if let Some(rt) = refresh.take() {
            let rt = RefreshToken::new(rt.expose().to_string());
            match client
                .exchange_refresh_token(&rt)
                .add_scope(Scope::new(self.scope.clone()))
                .request_async(&http)
                .await
            {
                Ok(r) => {
                    let (token, next) = token_from_response(&r);
                    *refresh = next;
                    return Ok(token);
                }
                Err(e) => log.push(format!(
                    "refresh token refused ({}); signing in with the password again",
                    map_token_error("refresh", e).message
                )),
            }
        }
        let r = client
            .exchange_password(
                &ResourceOwnerUsername::new(self.username.clone()),
                &ResourceOwnerPassword::new(self.password.expose().to_string()),
            )
            .add_scope(Scope::new(self.scope.clone()))
            .request_async(&http)
            .await
            .map_err(|e| map_token_error("Sign-in with user name and password", e))?;
        let (token, next) = token_from_response(&r);
        *refresh = next;
        Ok(token)
    }
}
