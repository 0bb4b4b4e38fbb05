//! Reading the claims of an access token for display (account, tenant,
//! expiry). Nothing here verifies a signature: the service does that; the
//! client only needs to know whom it signed in as and when to refresh.

use base64::Engine;
use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Claims {
    pub upn: Option<String>,
    pub preferred_username: Option<String>,
    pub unique_name: Option<String>,
    pub appid: Option<String>,
    pub azp: Option<String>,
    pub tid: Option<String>,
    pub exp: Option<i64>,
}

impl Claims {
    /// The signed-in account: a user's name, or an app's id for app-only tokens.
    pub fn account(&self) -> Option<String> {
        self.upn
            .clone()
            .or_else(|| self.preferred_username.clone())
            .or_else(|| self.unique_name.clone())
            .or_else(|| self.appid.clone())
            .or_else(|| self.azp.clone())
    }

    pub fn client_id(&self) -> Option<String> {
        self.appid.clone().or_else(|| self.azp.clone())
    }

    pub fn expires_on(&self) -> Option<OffsetDateTime> {
        self.exp
            .and_then(|e| OffsetDateTime::from_unix_timestamp(e).ok())
    }
}

/// The claims of a JWT, or `None` when the token is opaque.
pub fn claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
