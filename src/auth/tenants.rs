//! One token cache per customer tenant (docs/fleet.md §1): the connection's
//! app (client secret or certificate) signs in at each tenant's authority,
//! or the partner's refresh token is redeemed there (delegated access).
//! Each tenant's [`Credential`] renews its token silently, as the
//! connection's own does.

use super::azure::SignInTransport;
use super::certificate::{certificate_source, CertificateKey};
use super::client_secret::client_secret_source;
use super::refresh::{RefreshStore, RefreshTokenSource};
use super::{authority_endpoint, validate_tenant, Credential, Secret, TokenSource};
use crate::error::{Error, Result};
use crate::log::CallLog;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most tenants one session keeps a token cache for.
pub const MAX_TENANTS: usize = 10_000;

/// What signs in at a tenant.
pub enum TenantKey {
    ClientSecret(Secret),
    Certificate(Arc<CertificateKey>),
    /// A user sign-in's refresh token (device code, interactive, password).
    Refresh(RefreshStore),
}

/// The means to sign in at any tenant, and the caches made so far.
pub struct TenantSignIn {
    key: TenantKey,
    transport: SignInTransport,
    http: reqwest::Client,
    authority: url::Url,
    client_id: String,
    scope: String,
    caches: Mutex<HashMap<String, Arc<Credential>>>,
}

impl TenantSignIn {
    pub fn new(
        key: TenantKey,
        transport: SignInTransport,
        http: reqwest::Client,
        authority: url::Url,
        client_id: String,
        scope: String,
    ) -> Self {
        TenantSignIn {
            key,
            transport,
            http,
            authority,
            client_id,
            scope,
            caches: Mutex::new(HashMap::new()),
        }
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whether the sign-in is the partner admin's (delegated) rather than
    /// the app's.
    pub fn delegated(&self) -> bool {
        matches!(self.key, TenantKey::Refresh(_))
    }

    /// The credential of `tenant` (a GUID or a domain, validated here,
    /// before any URL is made of it): its cache, made on first use.
    pub fn credential(&self, tenant: &str) -> Result<Arc<Credential>> {
        validate_tenant(tenant)?;
        let name = tenant.to_ascii_lowercase();
        let mut caches = self
            .caches
            .lock()
            .map_err(|_| Error::internal("the tenants' token caches lock is poisoned"))?;
        if let Some(c) = caches.get(&name) {
            return Ok(c.clone());
        }
        if caches.len() >= MAX_TENANTS {
            return Err(Error::invalid(format!(
                "this session already keeps tokens for {MAX_TENANTS} tenants; connect again"
            )));
        }
        // The certificate's line in the log is said once, at connect.
        let quiet = CallLog::new();
        let source: Box<dyn TokenSource> = match &self.key {
            TenantKey::ClientSecret(secret) => Box::new(client_secret_source(
                &self.transport,
                &self.authority,
                &name,
                &self.client_id,
                secret,
                self.scope.clone(),
            )?),
            TenantKey::Certificate(key) => Box::new(certificate_source(
                &self.transport,
                &self.authority,
                &name,
                &self.client_id,
                key.clone(),
                self.scope.clone(),
                &quiet,
            )?),
            TenantKey::Refresh(store) => Box::new(RefreshTokenSource::shared(
                self.http.clone(),
                authority_endpoint(&self.authority, &name, "token")?,
                self.client_id.clone(),
                self.scope.clone(),
                store.clone(),
            )),
        };
        let credential = Arc::new(Credential::new(source, None));
        caches.insert(name, credential.clone());
        Ok(credential)
    }

    /// How many tenants have a cache.
    pub fn len(&self) -> usize {
        self.caches.lock().map(|c| c.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
