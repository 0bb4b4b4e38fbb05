//! Renewal of a user's sign-in with its refresh token (device code and
//! interactive flows). The platform rotates refresh tokens: each renewal
//! keeps the new one. When there is none, or it is refused, the session
//! cannot go on and says so.

use super::oauth_http::{map_token_error, token_from_response, OAuthHttp};
use super::{Secret, Token, TokenSource};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, RefreshToken, Scope, TokenUrl};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Where a user sign-in's refresh token lives: shared by the connection's
/// own credential and every tenant's (docs/fleet.md §1), so a rotation by
/// one is the token the next one redeems.
pub type RefreshStore = Arc<Mutex<Option<Secret>>>;

/// The scopes a user sign-in asks for: the resource's, and
/// `offline_access` so the platform issues a refresh token.
pub fn user_scopes(scope: &str) -> Vec<Scope> {
    vec![
        Scope::new(scope.to_string()),
        Scope::new("offline_access".to_string()),
    ]
}

pub struct RefreshTokenSource {
    http: reqwest::Client,
    token_url: url::Url,
    client_id: String,
    scope: String,
    refresh: RefreshStore,
    /// A tenant's source: a refusal at that tenant (no access there) says
    /// nothing of the refresh token, which stays for the others.
    keep_on_refusal: bool,
}

impl RefreshTokenSource {
    pub fn new(
        http: reqwest::Client,
        token_url: url::Url,
        client_id: String,
        scope: String,
        refresh: Option<Secret>,
    ) -> Self {
        let mut source = Self::shared(
            http,
            token_url,
            client_id,
            scope,
            Arc::new(Mutex::new(refresh)),
        );
        source.keep_on_refusal = false;
        source
    }

    /// A source redeeming the refresh token of `store` at another tenant's
    /// `token_url` (delegated access of a partner).
    pub fn shared(
        http: reqwest::Client,
        token_url: url::Url,
        client_id: String,
        scope: String,
        store: RefreshStore,
    ) -> Self {
        RefreshTokenSource {
            http,
            token_url,
            client_id,
            scope,
            refresh: store,
            keep_on_refusal: true,
        }
    }

    /// Its refresh token's store, for the tenants' sources.
    pub fn store(&self) -> RefreshStore {
        self.refresh.clone()
    }
}

#[async_trait]
impl TokenSource for RefreshTokenSource {
    async fn acquire(&self, log: &CallLog) -> Result<Token> {
        let mut refresh = self.refresh.lock().await;
        let Some(rt) = refresh.take() else {
            return Err(Error::new(
                ErrorKind::Authentication,
                "the sign-in gave no refresh token, so it cannot be renewed",
            ));
        };
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()));
        let http = OAuthHttp {
            http: &self.http,
            log,
        };
        let r = client
            .exchange_refresh_token(&RefreshToken::new(rt.expose().to_string()))
            .add_scopes(user_scopes(&self.scope))
            .request_async(&http)
            .await;
        match r {
            Ok(r) => {
                let (token, next) = token_from_response(&r);
                // Rotated: the new one, or the old one if none came back.
                *refresh = next.or(Some(rt));
                Ok(token)
            }
            Err(e) => {
                let err = map_token_error("Renewing the sign-in with the refresh token", e);
                if err.kind != ErrorKind::Authentication || self.keep_on_refusal {
                    // A network failure: the refresh token is still good.
                    *refresh = Some(rt);
                }
                Err(err)
            }
        }
    }
}
