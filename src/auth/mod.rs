//! Sign-in: the ways a session gets access tokens for the licensing API, and
//! the cache that keeps a session connected by renewing them.
//!
//! Each flow is a [`TokenSource`]; [`Credential`] wraps one with a cache that
//! renews the token before it expires and once more after a 401.

pub mod azure;
#[cfg(windows)]
mod cert_store_windows;
pub mod certificate;
pub mod client_secret;
pub mod device_code;
pub mod interactive;
pub mod jwt;
pub mod managed_identity;
pub mod oauth_http;
pub mod password;
pub mod refresh;
pub mod secret;
pub mod static_token;
pub mod tenants;

use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use async_trait::async_trait;
pub use secret::Secret;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// The app id of the "LicenseManager" API that issues the policies.
pub const LICENSE_MANAGER_APP_ID: &str = "aeb86249-8ea3-49e2-900b-54cc8e308f85";
/// The published module's public client id.
pub const MODULE_CLIENT_ID: &str = "3d5cffa9-04da-4657-8cab-c7f074657cad";
/// The published module's registered redirect URI.
pub const MODULE_REDIRECT_URI: &str = "http://localhost/m365/commerce";
/// The message of the published module when a session cannot go on.
pub const EXPIRED_MESSAGE: &str = "Your credentials have expired. Please, call Connect-MSCommerce again to regain access to MSCommerce Module.";

/// Renew a token this long before it expires, or a quarter of its lifetime
/// before when that is shorter (see [`Token::renew_at`]).
pub const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

/// How a session signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Flow {
    AccessToken,
    ClientSecret,
    Certificate,
    ManagedIdentity,
    Password,
    DeviceCode,
    Interactive,
}

impl Flow {
    /// The `flow` names of a connect request.
    pub fn parse(name: &str) -> Result<Flow> {
        const ALL: [(&str, Flow); 7] = [
            ("accessToken", Flow::AccessToken),
            ("clientSecret", Flow::ClientSecret),
            ("certificate", Flow::Certificate),
            ("managedIdentity", Flow::ManagedIdentity),
            ("password", Flow::Password),
            ("deviceCode", Flow::DeviceCode),
            ("interactive", Flow::Interactive),
        ];
        ALL.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "flow '{}' is not known; use one of {}",
                    crate::text::echo(name),
                    ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ))
            })
    }
}

/// An access token and when it expires.
#[derive(Debug, Clone)]
pub struct Token {
    pub secret: Secret,
    pub expires_on: Option<OffsetDateTime>,
}

impl Token {
    /// A token whose expiry is read from its claims when it is a JWT.
    pub fn from_bearer(secret: Secret) -> Token {
        let expires_on = jwt::claims(secret.expose()).and_then(|c| c.expires_on());
        Token { secret, expires_on }
    }

    /// When a token obtained at `obtained` should be renewed: five minutes
    /// before it expires ([`REFRESH_MARGIN`], as MSAL and azure_identity
    /// do), or a quarter of its lifetime before when that is shorter. A
    /// one-hour token is renewed after 55 minutes; a token that lives only a
    /// few seconds (a test emulator's, or a tenant's short lifetime policy)
    /// is still used for three quarters of its life instead of being renewed
    /// on every call.
    pub fn renew_at(&self, obtained: OffsetDateTime) -> Option<OffsetDateTime> {
        let expires = self.expires_on?;
        let lifetime = (expires - obtained).max(time::Duration::ZERO);
        Some(expires - REFRESH_MARGIN.min(lifetime / 4))
    }

    fn expired(&self, now: OffsetDateTime) -> bool {
        self.expires_on.is_some_and(|e| e <= now)
    }
}

/// One way of obtaining tokens.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// Obtain a new token (the caller caches it).
    async fn acquire(&self, log: &CallLog) -> Result<Token>;

    /// Whether `acquire` can produce a new token later (false for a token
    /// given by the caller).
    fn renewable(&self) -> bool {
        true
    }
}

/// What a host may see of a connection: never the token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionInfo {
    pub account: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub flow: Flow,
    pub environment: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_on: Option<OffsetDateTime>,
}

/// A cached token and when it was obtained.
struct Cached {
    token: Token,
    obtained: OffsetDateTime,
}

impl Cached {
    fn new(token: Token) -> Self {
        Cached {
            token,
            obtained: OffsetDateTime::now_utc(),
        }
    }

    fn fresh(&self, now: OffsetDateTime) -> bool {
        !matches!(self.token.renew_at(self.obtained), Some(r) if r <= now)
    }
}

/// A token source with its cache.
pub struct Credential {
    source: Box<dyn TokenSource>,
    cached: Mutex<Option<Cached>>,
}

impl Credential {
    pub fn new(source: Box<dyn TokenSource>, first: Option<Token>) -> Self {
        Credential {
            source,
            cached: Mutex::new(first.map(Cached::new)),
        }
    }

    pub fn renewable(&self) -> bool {
        self.source.renewable()
    }

    /// A token good for a call: the cached one while it is fresh, else a new
    /// one. `rejected` is a token the service just answered 401 to: it is
    /// renewed unless another call already did so.
    pub async fn token(&self, rejected: Option<&Secret>, log: &CallLog) -> Result<Token> {
        let mut cached = self.cached.lock().await;
        let now = OffsetDateTime::now_utc();
        let renewing = cached.is_some();
        if let Some(c) = cached.as_ref() {
            let t = &c.token;
            let was_rejected = rejected.is_some_and(|r| r == &t.secret);
            if !was_rejected && (c.fresh(now) || (!self.source.renewable() && !t.expired(now))) {
                return Ok(t.clone());
            }
            if !self.source.renewable() {
                let detail = if was_rejected {
                    "the service refused the access token given to Connect-MSCommerce, and a token given by the caller cannot be renewed"
                } else {
                    "the access token given to Connect-MSCommerce has expired, and a token given by the caller cannot be renewed"
                };
                return Err(Error::new(
                    ErrorKind::Authentication,
                    format!("{EXPIRED_MESSAGE} ({detail})"),
                ));
            }
            log.push(if was_rejected {
                "token refused by the service; signing in again"
            } else {
                "token about to expire; renewing it"
            });
        }
        let token = match self.source.acquire(log).await {
            Ok(t) => t,
            // A session that was connected and cannot renew says so in the
            // published words, with the platform's reason after them.
            Err(e) if renewing && e.kind == ErrorKind::Authentication => {
                let mut e = e;
                e.message = format!("{EXPIRED_MESSAGE} ({})", e.message);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        *cached = Some(Cached::new(token.clone()));
        Ok(token)
    }

    /// The tenant (`tid`) of the cached token, when it is a JWT.
    pub async fn token_tenant(&self) -> Option<String> {
        let cached = self.cached.lock().await;
        let token = &cached.as_ref()?.token;
        jwt::claims(token.secret.expose()).and_then(|c| c.tid)
    }

    pub async fn expires_on(&self) -> Option<OffsetDateTime> {
        self.cached
            .lock()
            .await
            .as_ref()
            .and_then(|c| c.token.expires_on)
    }
}

/// A bearer token must be printable ASCII without spaces to travel in the
/// Authorization header; anything else is the caller's mistake, not the network's.
pub fn check_bearer(token: &Secret) -> Result<()> {
    if token.expose().bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        Err(Error::invalid(
            "accessToken contains characters that cannot be sent in an HTTP header (spaces, control or non-ASCII characters)",
        ))
    }
}

/// `aeb8…` → `aeb8…/.default`; a full scope stays as it is.
pub fn normalise_scope(scope: Option<&str>) -> Result<String> {
    let s = scope.map(str::trim).filter(|s| !s.is_empty());
    let s = s.unwrap_or(LICENSE_MANAGER_APP_ID);
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(format!(
            "scope '{}' must be one resource or scope",
            crate::text::echo(s)
        )));
    }
    let has_path = match s.split_once("://") {
        Some((_, rest)) => rest.trim_end_matches('/').contains('/'),
        None => s.contains('/'),
    };
    if has_path {
        // Already a scope: `…/.default`, `api://app/user_impersonation`, …
        return Ok(s.to_string());
    }
    Ok(format!("{}/.default", s.trim_end_matches('/')))
}

/// A tenant id (GUID), a verified domain, or organizations/common/consumers.
pub fn validate_tenant(tenant: &str) -> Result<()> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 256
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !tenant.starts_with('.')
        && !tenant.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "tenantId '{}' is not a tenant id (a GUID) or a domain name",
            crate::text::echo(tenant)
        )))
    }
}

/// A client id: an application's GUID (or another simple id).
pub fn validate_client_id(id: &str) -> Result<()> {
    crate::ids::validate_id("clientId", id)
}

/// `{authority}/{tenant}/oauth2/v2.0/{endpoint}`.
pub fn authority_endpoint(authority: &url::Url, tenant: &str, endpoint: &str) -> Result<url::Url> {
    validate_tenant(tenant)?;
    let base = authority.as_str().trim_end_matches('/');
    url::Url::parse(&format!("{base}/{tenant}/oauth2/v2.0/{endpoint}"))
        .map_err(|e| Error::invalid(format!("authority '{authority}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let d = format!("{LICENSE_MANAGER_APP_ID}/.default");
        assert_eq!(normalise_scope(None).unwrap(), d);
        assert_eq!(normalise_scope(Some(LICENSE_MANAGER_APP_ID)).unwrap(), d);
        assert_eq!(normalise_scope(Some(&d)).unwrap(), d);
        assert_eq!(
            normalise_scope(Some("https://graph.microsoft.com/")).unwrap(),
            "https://graph.microsoft.com/.default"
        );
        assert!(normalise_scope(Some("a b")).is_err());
    }

    #[test]
    fn renewal_time() {
        let now = OffsetDateTime::now_utc();
        let token = |secs: i64| Token {
            secret: Secret::new("t"),
            expires_on: Some(now + time::Duration::seconds(secs)),
        };
        // An hour-long token: five minutes before it expires.
        assert_eq!(
            token(3600).renew_at(now),
            Some(now + time::Duration::seconds(3300))
        );
        // Four seconds: a quarter of its life before, so still reused.
        assert_eq!(
            token(4).renew_at(now),
            Some(now + time::Duration::seconds(3))
        );
        assert_eq!(
            Token::from_bearer(Secret::new("opaque")).renew_at(now),
            None
        );
    }

    struct Failing;

    #[async_trait]
    impl TokenSource for Failing {
        async fn acquire(&self, _log: &CallLog) -> Result<Token> {
            Err(Error::new(
                ErrorKind::Authentication,
                "invalid_grant: AADSTS700082: The refresh token has expired",
            ))
        }
    }

    #[tokio::test]
    async fn a_session_that_cannot_renew_says_so() {
        let expired = Token {
            secret: Secret::new("old"),
            expires_on: Some(OffsetDateTime::now_utc() - time::Duration::seconds(1)),
        };
        let log = CallLog::new();
        let c = Credential::new(Box::new(Failing), Some(expired));
        let e = c.token(None, &log).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert!(e.message.starts_with(EXPIRED_MESSAGE), "{e}");
        assert!(e.message.contains("AADSTS700082"), "{e}");
        // Signing in the first time keeps the platform's words alone.
        let c = Credential::new(Box::new(Failing), None);
        let e = c.token(None, &log).await.unwrap_err();
        assert!(!e.message.contains(EXPIRED_MESSAGE), "{e}");
    }

    #[test]
    fn tenants() {
        for t in [
            "organizations",
            "contoso.onmicrosoft.com",
            "11111111-2222-3333-4444-555555555555",
        ] {
            validate_tenant(t).unwrap();
        }
        for t in ["", "a/b", "..", "a?b", "x y"] {
            assert!(validate_tenant(t).is_err());
        }
    }
}
