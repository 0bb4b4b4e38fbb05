//! A session: options, one HTTP client, and the connection made by sign-in.
//! The JSON requests of the C ABI (native-abi.md) are answered here, so the
//! ABI, the CLI and the tests share one implementation.

use crate::auth::certificate::{certificate_source, CertificateKey};
use crate::auth::client_secret::client_secret_source;
use crate::auth::device_code::DeviceCodeFlow;
use crate::auth::interactive::InteractiveFlow;
use crate::auth::managed_identity::ManagedIdentitySource;
use crate::auth::password::PasswordSource;
use crate::auth::refresh::RefreshTokenSource;
use crate::auth::static_token::StaticToken;
use crate::auth::{
    authority_endpoint, normalise_scope, validate_client_id, validate_tenant, ConnectionInfo,
    Credential, Flow, Secret, Token, TokenSource, MODULE_CLIENT_ID,
};
use crate::client::ServiceClient;
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::model::requested_value;
use crate::options::{OptionsJson, SessionOptions};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};

/// The published message when a cmdlet runs before Connect-MSCommerce.
pub const NOT_CONNECTED_MESSAGE: &str =
    "You must call the Connect-MSCommerce cmdlet before calling any other cmdlets";

/// The HTTP side of a session or connection.
#[derive(Clone)]
struct Endpoint {
    options: SessionOptions,
    http: reqwest::Client,
    service: ServiceClient,
}

impl Endpoint {
    fn new(options: SessionOptions) -> Result<Self> {
        let http = crate::transport::build_client(&options)?;
        let service = ServiceClient::new(http.clone(), &options);
        Ok(Endpoint {
            options,
            http,
            service,
        })
    }

    /// The same endpoint with some options changed; the HTTP client (and its
    /// open connections) is kept when the transport settings did not change.
    /// A connect's `environmentVariables` whose proxy or trust store
    /// variables differ from the session's make a new client.
    fn with(&self, over: &OptionsJson) -> Result<Self> {
        let options = self.options.merged(over)?;
        if options == self.options {
            return Ok(self.clone());
        }
        let same_transport = options.proxy == self.options.proxy
            && options.ca_certificate_path == self.options.ca_certificate_path
            && options.timeout == self.options.timeout
            && options
                .environment_variables
                .same_transport(&self.options.environment_variables);
        let http = if same_transport {
            self.http.clone()
        } else {
            crate::transport::build_client(&options)?
        };
        let service = ServiceClient::new(http.clone(), &options);
        Ok(Endpoint {
            options,
            http,
            service,
        })
    }

    /// The transport of azure_identity's sign-ins (client secret,
    /// certificate) over this endpoint's HTTP client and timeout.
    fn sign_in_transport(&self) -> crate::auth::azure::SignInTransport {
        crate::auth::azure::SignInTransport::new(self.http.clone(), self.options.timeout)
    }
}

/// A signed-in connection.
pub struct Connection {
    endpoint: Endpoint,
    credential: Credential,
    info: ConnectionInfo,
}

impl Connection {
    pub async fn info(&self) -> ConnectionInfo {
        let mut info = self.info.clone();
        info.expires_on = self.credential.expires_on().await;
        info
    }
}

/// One session (the C ABI's `MscSession`). Safe to share between threads.
pub struct Session {
    base: Endpoint,
    connection: RwLock<Option<Arc<Connection>>>,
    /// A device code or interactive sign-in between `start` and its last
    /// `poll`.
    pending: tokio::sync::Mutex<Option<PendingSignIn>>,
}

/// A two-step sign-in waiting for the user.
struct PendingSignIn {
    flow: Flow,
    endpoint: Endpoint,
    token_url: url::Url,
    client_id: String,
    tenant: String,
    scope: String,
    kind: PendingKind,
}

enum PendingKind {
    DeviceCode(DeviceCodeFlow),
    Interactive(InteractiveFlow),
}

/// The longest a `poll` waits for the user before answering MSC_PENDING:
/// two seconds, or half the request timeout when that is shorter, so a
/// host's Ctrl+C is seen between polls and the one request a poll may send
/// still fits in the timeout.
pub const POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn poll_budget(options: &SessionOptions) -> std::time::Duration {
    POLL_WAIT.min(options.timeout / 2)
}

/// A connect request (native-abi.md); session options may ride along.
/// Every field is optional here (null means absent); a field of neither
/// kind is refused (see `unknown`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ConnectRequest {
    flow: Option<String>,
    step: Option<String>,
    access_token: Option<Secret>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    certificate_path: Option<String>,
    certificate_password: Option<Secret>,
    certificate_thumbprint: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    redirect_uri: Option<String>,
    login_hint: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    #[serde(flatten)]
    options: OptionsJson,
    /// What neither the request nor the options took: refused by name
    /// (serde's `deny_unknown_fields` does not work with `flatten`).
    #[serde(flatten)]
    unknown: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct GetRequest {
    resource: Option<String>,
    policy_id: Option<String>,
    product_id: Option<String>,
    offer_type: Option<String>,
    scope: Option<String>,
    access_token: Option<Secret>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct UpdateRequest {
    policy_id: Option<String>,
    product_id: Option<String>,
    offer_type: Option<String>,
    value: Option<String>,
    enabled: Option<Value>,
    access_token: Option<Secret>,
}

/// A request: a JSON object whose fields are all known (an unknown one,
/// such as a mis-cased `AccessToken`, is InvalidArgument naming it, never
/// silently ignored).
fn parse<T: serde::de::DeserializeOwned>(what: &str, request: &str) -> Result<T> {
    crate::options::parse_json_object(&format!("{what} request"), request)
}

/// Run one operation within `limit`, the request timeout: running out of
/// time is Timeout (with a log line) whatever the operation was waiting
/// for, and drops what it was doing. Every path (the C ABI, the CLI, Rust
/// callers) goes through here, sign-in included.
async fn within<T>(
    limit: std::time::Duration,
    log: &CallLog,
    operation: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let started = std::time::Instant::now();
    match tokio::time::timeout(limit, operation).await {
        Ok(result) => result,
        Err(_) => {
            log.push(format!(
                "gave up after {} ms (request timeout)",
                started.elapsed().as_millis()
            ));
            Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the call did not finish within the request timeout of {} s",
                    limit.as_secs_f64()
                ),
            ))
        }
    }
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(format!("{field} is required")))
}

/// `tenantId` and `clientId` of an app-only sign-in, validated.
fn app_ids(req: &ConnectRequest) -> Result<(&str, &str)> {
    let tenant = required("tenantId", &req.tenant_id)?;
    validate_tenant(tenant)?;
    let client_id = required("clientId", &req.client_id)?;
    validate_client_id(client_id)?;
    Ok((tenant, client_id))
}

fn required_secret<'a>(field: &str, v: &'a Option<Secret>) -> Result<&'a Secret> {
    v.as_ref()
        .filter(|s| !s.expose().trim().is_empty())
        .ok_or_else(|| Error::invalid(format!("{field} is required")))
}

impl Session {
    /// A session from the options JSON of `msc_session_new` (empty: defaults).
    pub fn new(options_json: &str) -> Result<Self> {
        Self::with_options(SessionOptions::parse(options_json)?)
    }

    pub fn with_options(options: SessionOptions) -> Result<Self> {
        Ok(Session {
            base: Endpoint::new(options)?,
            connection: RwLock::new(None),
            pending: tokio::sync::Mutex::new(None),
        })
    }

    pub fn options(&self) -> &SessionOptions {
        &self.base.options
    }

    /// The request timeout in force: the connection's when connected, else
    /// the session's. The C ABI cuts every get and update at it.
    pub fn timeout(&self) -> std::time::Duration {
        self.current()
            .map(|c| c.endpoint.options.timeout)
            .unwrap_or(self.base.options.timeout)
    }

    fn current(&self) -> Option<Arc<Connection>> {
        self.connection.read().ok().and_then(|c| c.clone())
    }

    /// Forget the connection (tokens are dropped and wiped) and any sign-in
    /// waiting for the user (unless a poll of it is running right now).
    pub fn disconnect(&self) {
        if let Ok(mut c) = self.connection.write() {
            *c = None;
        }
        if let Ok(mut p) = self.pending.try_lock() {
            *p = None;
        }
    }

    /// `msc_connect`: sign in and keep the connection; answers its info.
    /// Device code and interactive sign-ins take two steps (`start`, then
    /// `poll` until it answers other than MSC_PENDING).
    ///
    /// The whole of it, sign-in included, ends within the request timeout
    /// (the request's own `timeoutSeconds`, else the session's).
    pub async fn connect(&self, request: &str, log: &CallLog) -> Result<Value> {
        let req: ConnectRequest = parse("connect", request)?;
        if let Some(field) = req.unknown.keys().next() {
            return Err(Error::invalid(format!(
                "connect request: unknown field `{}` (the names of native-abi.md's connect requests and session options, in camelCase: field names are case-sensitive)",
                crate::text::echo(field)
            )));
        }
        let endpoint = self.base.with(&req.options)?;
        within(
            endpoint.options.timeout,
            log,
            self.connect_within(req, endpoint, log),
        )
        .await
    }

    async fn connect_within(
        &self,
        req: ConnectRequest,
        endpoint: Endpoint,
        log: &CallLog,
    ) -> Result<Value> {
        let flow = Flow::parse(required("flow", &req.flow)?)?;
        let scope = normalise_scope(req.scope.as_deref().or(req.resource.as_deref()))?;
        if matches!(flow, Flow::DeviceCode | Flow::Interactive) {
            return self
                .connect_in_steps(flow, &req, endpoint, scope, log)
                .await;
        }
        let authority = endpoint.options.authority_host.clone();
        let user_tenant = req.tenant_id.as_deref().unwrap_or("organizations").trim();
        let (source, first, tenant, client): (
            Box<dyn TokenSource>,
            Option<Token>,
            Option<String>,
            Option<String>,
        ) = match flow {
            Flow::AccessToken => {
                let given = required_secret("accessToken", &req.access_token)?;
                crate::auth::check_bearer(given)?;
                let token = Token::from_bearer(given.clone());
                if token
                    .expires_on
                    .is_some_and(|e| e <= time::OffsetDateTime::now_utc())
                {
                    return Err(Error::new(
                        ErrorKind::Authentication,
                        "the access token has already expired",
                    ));
                }
                let claims = crate::auth::jwt::claims(token.secret.expose()).unwrap_or_default();
                (
                    Box::new(StaticToken),
                    Some(token),
                    claims.tid.clone(),
                    claims.client_id(),
                )
            }
            Flow::ClientSecret => {
                let (tenant, client_id) = app_ids(&req)?;
                let secret = required_secret("clientSecret", &req.client_secret)?;
                let source = client_secret_source(
                    &endpoint.sign_in_transport(),
                    &authority,
                    tenant,
                    client_id,
                    secret,
                    scope,
                )?;
                (
                    Box::new(source),
                    None,
                    Some(tenant.to_string()),
                    Some(client_id.to_string()),
                )
            }
            Flow::Certificate => {
                let (tenant, client_id) = app_ids(&req)?;
                let path = req
                    .certificate_path
                    .as_deref()
                    .map(str::trim)
                    .filter(|p| !p.is_empty());
                let thumbprint = req
                    .certificate_thumbprint
                    .as_deref()
                    .map(str::trim)
                    .filter(|p| !p.is_empty());
                let key = match (path, thumbprint) {
                    (Some(p), None) => {
                        CertificateKey::from_file(p, req.certificate_password.as_ref())?
                    }
                    (None, Some(t)) => CertificateKey::from_store(t)?,
                    (Some(_), Some(_)) => {
                        return Err(Error::invalid(
                            "give certificatePath or certificateThumbprint, not both",
                        ))
                    }
                    (None, None) => {
                        return Err(Error::invalid(if cfg!(windows) {
                            "certificatePath (a PFX or PEM file) or certificateThumbprint (a certificate of the CurrentUser or LocalMachine \"My\" store) is required"
                        } else {
                            "certificatePath (a PFX or PEM file) is required"
                        }))
                    }
                };
                let source = certificate_source(
                    &endpoint.sign_in_transport(),
                    &authority,
                    tenant,
                    client_id,
                    Arc::new(key),
                    scope,
                    log,
                )?;
                (
                    Box::new(source),
                    None,
                    Some(tenant.to_string()),
                    Some(client_id.to_string()),
                )
            }
            Flow::ManagedIdentity => {
                let client_id = req
                    .client_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|c| !c.is_empty());
                if let Some(c) = client_id {
                    validate_client_id(c)?;
                }
                let source = ManagedIdentitySource::new(
                    endpoint.http.clone(),
                    endpoint.options.environment_variables.clone(),
                    client_id,
                    scope,
                    endpoint.options.timeout,
                );
                (Box::new(source), None, None, client_id.map(str::to_string))
            }
            Flow::Password => {
                let username = required("username", &req.username)?;
                let password = required_secret("password", &req.password)?;
                let client_id = req.client_id.as_deref().unwrap_or(MODULE_CLIENT_ID).trim();
                validate_client_id(client_id)?;
                let token_url = authority_endpoint(&authority, user_tenant, "token")?;
                let source = PasswordSource::new(
                    endpoint.http.clone(),
                    token_url,
                    client_id.to_string(),
                    username.to_string(),
                    password.clone(),
                    scope,
                );
                (Box::new(source), None, None, Some(client_id.to_string()))
            }
            Flow::DeviceCode | Flow::Interactive => unreachable!("handled above"),
        };
        let credential = Credential::new(source, first);
        // Sign in now, so a wrong secret fails Connect, not the first Get.
        let token = credential.token(None, log).await?;
        let tenant = tenant.unwrap_or_else(|| user_tenant.to_string());
        self.keep(flow, endpoint, credential, &token, tenant, client, log)
            .await
    }

    /// Keep a new connection on the session (replacing any other) and answer
    /// its info.
    #[allow(clippy::too_many_arguments)]
    async fn keep(
        &self,
        flow: Flow,
        endpoint: Endpoint,
        credential: Credential,
        token: &Token,
        tenant: String,
        client: Option<String>,
        log: &CallLog,
    ) -> Result<Value> {
        let claims = crate::auth::jwt::claims(token.secret.expose()).unwrap_or_default();
        let info = ConnectionInfo {
            account: claims.account(),
            tenant_id: claims.tid.clone().or(Some(tenant)),
            client_id: client.or_else(|| claims.client_id()),
            flow,
            environment: endpoint.options.environment.name().to_string(),
            expires_on: token.expires_on,
        };
        let connection = Arc::new(Connection {
            endpoint,
            credential,
            info,
        });
        let answer = serde_json::to_value(connection.info().await)
            .map_err(|e| Error::internal(e.to_string()))?;
        if let Ok(mut c) = self.connection.write() {
            *c = Some(connection);
        }
        log.push(format!("connected ({flow:?})"));
        Ok(answer)
    }

    /// Device code and interactive sign-in: `start` or `poll`.
    async fn connect_in_steps(
        &self,
        flow: Flow,
        req: &ConnectRequest,
        endpoint: Endpoint,
        scope: String,
        log: &CallLog,
    ) -> Result<Value> {
        let step = required("step", &req.step)?;
        if step.eq_ignore_ascii_case("start") {
            let authority = endpoint.options.authority_host.clone();
            let tenant = req
                .tenant_id
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .unwrap_or("organizations")
                .to_string();
            validate_tenant(&tenant)?;
            let client_id = req
                .client_id
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .unwrap_or(MODULE_CLIENT_ID)
                .to_string();
            validate_client_id(&client_id)?;
            let token_url = authority_endpoint(&authority, &tenant, "token")?;
            // A new start replaces (and so cancels) any sign-in waiting.
            let mut pending = self.pending.lock().await;
            *pending = None;
            let (kind, answer) = match flow {
                Flow::DeviceCode => {
                    let (f, a) = DeviceCodeFlow::start(
                        &endpoint.http,
                        authority_endpoint(&authority, &tenant, "devicecode")?,
                        token_url.clone(),
                        &client_id,
                        &scope,
                        log,
                    )
                    .await?;
                    (PendingKind::DeviceCode(f), to_json(&a)?)
                }
                _ => {
                    let (f, a) = InteractiveFlow::start(
                        &endpoint.http,
                        authority_endpoint(&authority, &tenant, "authorize")?,
                        token_url.clone(),
                        &client_id,
                        &scope,
                        req.redirect_uri.as_deref(),
                        req.login_hint.as_deref(),
                        log,
                    )
                    .await?;
                    (PendingKind::Interactive(f), to_json(&a)?)
                }
            };
            *pending = Some(PendingSignIn {
                flow,
                endpoint,
                token_url,
                client_id,
                tenant,
                scope,
                kind,
            });
            return Ok(answer);
        }
        if step.eq_ignore_ascii_case("cancel") {
            // The host gave up (Ctrl+C): drop the waiting sign-in and its
            // loopback listener; an existing connection stays as it is.
            let mut pending = self.pending.lock().await;
            let cancelled = pending.as_ref().is_some_and(|p| p.flow == flow);
            if cancelled {
                *pending = None;
                log.push(format!("{flow:?} sign-in cancelled"));
            }
            return Ok(serde_json::json!({ "Cancelled": cancelled }));
        }
        if !step.eq_ignore_ascii_case("poll") {
            return Err(Error::invalid(format!(
                "step '{}' is not known; use start, then poll (or cancel)",
                crate::text::echo(step)
            )));
        }
        let mut pending = self.pending.lock().await;
        let Some(p) = pending.as_mut() else {
            return Err(Error::invalid(format!(
                "no {flow:?} sign-in is waiting on this session: send step 'start' first"
            )));
        };
        if p.flow != flow {
            return Err(Error::invalid(format!(
                "the sign-in waiting on this session is {:?}, not {flow:?}",
                p.flow
            )));
        }
        // This call's own timeout (a poll may carry session options too).
        let timeout = endpoint.options.timeout;
        let budget = poll_budget(&endpoint.options);
        let outcome = match &mut p.kind {
            PendingKind::DeviceCode(f) => f.poll(budget, timeout, log).await,
            PendingKind::Interactive(f) => f.poll(budget, timeout, log).await,
        };
        match outcome {
            Ok(None) => Err(Error::new(
                ErrorKind::Pending,
                match &p.kind {
                    PendingKind::DeviceCode(f) => format!(
                        "waiting for the user to enter the code {} and sign in",
                        f.user_code
                    ),
                    PendingKind::Interactive(_) => {
                        "waiting for the user to sign in in the browser".to_string()
                    }
                },
            )),
            Ok(Some((token, refresh))) => {
                let p = pending.take().expect("checked above");
                drop(pending);
                let source = RefreshTokenSource::new(
                    p.endpoint.http.clone(),
                    p.token_url,
                    p.client_id.clone(),
                    p.scope,
                    refresh,
                );
                let credential = Credential::new(Box::new(source), Some(token.clone()));
                self.keep(
                    flow,
                    p.endpoint,
                    credential,
                    &token,
                    p.tenant,
                    Some(p.client_id),
                    log,
                )
                .await
            }
            Err(e) => {
                // Refused, declined, expired or timed out: the sign-in is
                // over. A network failure leaves it waiting for another poll.
                let over = match &p.kind {
                    PendingKind::DeviceCode(f) => f.is_over(),
                    PendingKind::Interactive(f) => f.is_over(),
                };
                if over || !matches!(e.kind, ErrorKind::Network | ErrorKind::Timeout) {
                    *pending = None;
                }
                Err(e)
            }
        }
    }

    /// The credential and service for one call: the request's own token
    /// (`-Token`) when given, else the connection's.
    fn call_context(
        &self,
        access_token: &Option<Secret>,
    ) -> Result<(ServiceClient, CallCredential)> {
        let connection = self.current();
        let service = connection
            .as_ref()
            .map(|c| c.endpoint.service.clone())
            .unwrap_or_else(|| self.base.service.clone());
        match (access_token, connection) {
            (Some(t), _) if !t.expose().trim().is_empty() => {
                crate::auth::check_bearer(t)?;
                Ok((
                    service,
                    CallCredential::Own(Credential::new(
                        Box::new(StaticToken),
                        Some(Token::from_bearer(t.clone())),
                    )),
                ))
            }
            (_, Some(c)) => Ok((service, CallCredential::Connection(c))),
            _ => Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE)),
        }
    }

    /// `msc_get`; ends within the request timeout.
    pub async fn get(&self, request: &str, log: &CallLog) -> Result<Value> {
        within(self.timeout(), log, self.get_within(request, log)).await
    }

    async fn get_within(&self, request: &str, log: &CallLog) -> Result<Value> {
        let req: GetRequest = parse("get", request)?;
        let resource = required("resource", &req.resource)?;
        if resource.eq_ignore_ascii_case("connection") {
            return match self.current() {
                Some(c) => to_json(&c.info().await),
                None => Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE)),
            };
        }
        // Bad input is reported before "not connected".
        const RESOURCES: [&str; 5] = [
            "policies",
            "policy",
            "productPolicies",
            "productPolicy",
            "offerTypePolicy",
        ];
        if !RESOURCES.contains(&resource) {
            return Err(Error::invalid(format!(
                "resource '{}' is not known; use policies, policy, productPolicies, productPolicy, offerTypePolicy or connection",
                crate::text::echo(resource)
            )));
        }
        for (what, id) in [
            ("PolicyId", &req.policy_id),
            ("ProductId", &req.product_id),
            ("OfferType", &req.offer_type),
        ] {
            if let Some(id) = id {
                crate::ids::validate_id(what, id)?;
            }
        }
        let (service, cred) = self.call_context(&req.access_token)?;
        let cred = cred.get();
        match resource {
            "policies" => service
                .list_policies(cred, log)
                .await
                .map_err(|e| fail(e, "Failed to retrieve policies".into()))
                .and_then(|v| to_json(&v)),
            "policy" => {
                let policy = required("policyId", &req.policy_id)?;
                service
                    .get_policy(policy, cred, log)
                    .await
                    .map_err(|e| fail(e, format!("Failed to retrieve policy with PolicyId '{policy}'")))
                    .and_then(|v| to_json(&v))
            }
            "productPolicies" => {
                let policy = required("policyId", &req.policy_id)?;
                service
                    .list_product_policies(policy, req.scope.as_deref(), cred, log)
                    .await
                    .map_err(|e| fail(e, format!("Failed to retrieve product policies with PolicyId '{policy}'")))
                    .and_then(|v| to_json(&v))
            }
            "productPolicy" => {
                let policy = required("policyId", &req.policy_id)?;
                let product = required("productId", &req.product_id)?;
                service
                    .get_product_policy(policy, product, cred, log)
                    .await
                    .map_err(|e| {
                        fail(e, format!("Failed to retrieve product policy with PolicyId '{policy}' ProductId '{product}'"))
                    })
                    .and_then(|v| to_json(&v))
            }
            "offerTypePolicy" => {
                let policy = required("policyId", &req.policy_id)?;
                let offer = required("offerType", &req.offer_type)?;
                service
                    .get_offer_type_policy(policy, offer, cred, log)
                    .await
                    .map_err(|e| {
                        fail(e, format!("Failed to retrieve offer type policy with PolicyId '{policy}' OfferType '{offer}'"))
                    })
                    .and_then(|v| to_json(&v))
            }
            other => Err(Error::invalid(format!(
                "resource '{other}' is not known; use policies, policy, productPolicies, productPolicy, offerTypePolicy or connection"
            ))),
        }
    }

    /// `msc_update`; ends within the request timeout.
    pub async fn update(&self, request: &str, log: &CallLog) -> Result<Value> {
        within(self.timeout(), log, self.update_within(request, log)).await
    }

    async fn update_within(&self, request: &str, log: &CallLog) -> Result<Value> {
        let req: UpdateRequest = parse("update", request)?;
        let policy = required("policyId", &req.policy_id)?;
        let value = requested_value(req.value.as_deref(), req.enabled.as_ref())?;
        crate::ids::validate_id("PolicyId", policy)?;
        for (what, id) in [
            ("ProductId", &req.product_id),
            ("OfferType", &req.offer_type),
        ] {
            if let Some(id) = id {
                crate::ids::validate_id(what, id)?;
            }
        }
        let (service, cred) = self.call_context(&req.access_token)?;
        let cred = cred.get();
        match (req.product_id.as_deref(), req.offer_type.as_deref()) {
            (Some(product), None) => service
                .set_product_policy(policy, product, value, cred, log)
                .await
                .map_err(|e| fail(e, format!("Failed to update product policy with PolicyId '{policy}' ProductId '{product}'")))
                .and_then(|v| to_json(&v)),
            (None, Some(offer)) => service
                .set_offer_type_policy(policy, offer, value, cred, log)
                .await
                .map_err(|e| fail(e, format!("Failed to update offer type policy with PolicyId '{policy}' OfferType '{offer}'")))
                .and_then(|v| to_json(&v)),
            (Some(_), Some(_)) => Err(Error::invalid("give productId or offerType, not both")),
            (None, None) => Err(Error::invalid("productId (or offerType) is required")),
        }
    }
}

/// A call's credential: the connection's, or one made for this call only.
enum CallCredential {
    Connection(Arc<Connection>),
    Own(Credential),
}

impl CallCredential {
    fn get(&self) -> &Credential {
        match self {
            CallCredential::Connection(c) => &c.credential,
            CallCredential::Own(c) => c,
        }
    }
}

/// Prefix an error with the published message's start; NotConnected keeps
/// the published message alone.
fn fail(e: Error, prefix: String) -> Error {
    if e.kind == ErrorKind::NotConnected {
        e
    } else {
        e.context(&prefix)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(e.to_string()))
}

/// The answer document of every ABI call: `{"value":…,"log":[…]}` or
/// `{"error":{…},"log":[…]}`, with its return code.
pub fn answer(result: Result<Value>, log: &CallLog) -> (i32, String) {
    let lines = log.take();
    let (code, doc) = match result {
        Ok(v) => (0, json!({ "value": v, "log": lines })),
        Err(e) => (e.kind.code(), json!({ "error": e.to_json(), "log": lines })),
    };
    let text = serde_json::to_string(&doc).unwrap_or_else(|_| {
        r#"{"error":{"code":"Internal","message":"cannot serialize the answer"},"log":[]}"#.into()
    });
    (code, text)
}
