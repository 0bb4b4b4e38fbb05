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
use crate::auth::tenants::{TenantKey, TenantSignIn};
use crate::auth::{
    authority_endpoint, normalise_scope, validate_client_id, validate_tenant, ConnectionInfo,
    Credential, Flow, Secret, Token, TokenSource, MODULE_CLIENT_ID,
};
use crate::baseline::Baseline;
use crate::bulk::{BulkProgress, ProgressFn, RunOptions, Selection};
use crate::client::ServiceClient;
use crate::error::{Error, ErrorKind, Result};
use crate::fleet::{FleetProgress, FleetProgressFn, FleetRequest};
use crate::log::CallLog;
use crate::model::requested_value;
use crate::options::{OptionsJson, SessionOptions};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

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
    /// Sign-in at other tenants (docs/fleet.md §1), when the flow allows it.
    tenants: Option<TenantSignIn>,
    /// The tenant of the connect request as given (a domain, or a GUID).
    connected_tenant: String,
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
    /// A bulk change between its `start` and its last `poll`.
    job: Mutex<Option<Job>>,
    /// A fleet run (docs/fleet.md §3) between its `start` and its last `poll`.
    fleet_job: Mutex<Option<FleetJob>>,
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
    /// `baselineDrift`: the baseline (object, or a string holding one).
    baseline: Option<Value>,
    /// `baseline` (export): Keep (default) or a value.
    other_products: Option<String>,
    /// Another tenant than the connection's (docs/fleet.md §2).
    tenant_id: Option<String>,
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
    // Bulk changes and baselines (docs/bulk-and-baselines.md).
    product_ids: Option<Value>,
    all_products: Option<bool>,
    except_product_ids: Option<Value>,
    baseline: Option<Value>,
    concurrency: Option<Value>,
    what_if: Option<bool>,
    bulk_timeout_seconds: Option<f64>,
    step: Option<String>,
    /// Another tenant than the connection's (docs/fleet.md §2).
    tenant_id: Option<String>,
}

impl UpdateRequest {
    /// A bulk update or a baseline apply (not a step of one).
    fn is_bulk(&self) -> bool {
        self.product_ids.is_some() || self.all_products == Some(true) || self.baseline.is_some()
    }

    /// The bulk-only fields given, for the error when they come without a
    /// bulk request.
    fn bulk_options_given(&self) -> Option<&'static str> {
        [
            (self.concurrency.is_some(), "concurrency"),
            (self.what_if.is_some(), "whatIf"),
            (self.bulk_timeout_seconds.is_some(), "bulkTimeoutSeconds"),
            (self.except_product_ids.is_some(), "exceptProductIds"),
            (self.step.is_some(), "step"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }

    /// The cap of the whole bulk call (`bulkTimeoutSeconds`).
    fn cap(&self) -> Result<std::time::Duration> {
        match self.bulk_timeout_seconds {
            None => Ok(crate::bulk::DEFAULT_BULK_TIMEOUT),
            Some(t) if t.is_finite() && t > 0.0 && t <= crate::bulk::MAX_BULK_TIMEOUT_SECONDS => {
                Ok(std::time::Duration::from_secs_f64(t))
            }
            Some(t) => Err(Error::invalid(format!(
                "bulkTimeoutSeconds must be a number of seconds more than 0 and at most {}; got {t}",
                crate::bulk::MAX_BULK_TIMEOUT_SECONDS
            ))),
        }
    }
}

/// A bulk change running in the background between its `start` and its
/// last `poll` (dropping it stops it).
struct BackgroundJob<P> {
    progress: tokio::sync::watch::Receiver<P>,
    cancel: Arc<AtomicBool>,
    log: Arc<CallLog>,
    abort: tokio::task::AbortHandle,
}

impl<P> Drop for BackgroundJob<P> {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

type Job = BackgroundJob<BulkProgress>;
/// A fleet run in the background (docs/fleet.md §3).
type FleetJob = BackgroundJob<FleetProgress>;

/// A job about to run in the background (see `Session::start_job`).
enum NewJob {
    Bulk(Job),
    Fleet(FleetJob),
}

/// A background job's progress says when it has ended.
trait Finished {
    fn finished(&self) -> bool;
}

impl Finished for BulkProgress {
    fn finished(&self) -> bool {
        self.finished
    }
}

impl Finished for FleetProgress {
    fn finished(&self) -> bool {
        self.finished
    }
}

/// A second `start` while a job is in the background.
const JOB_RUNNING: &str =
    "a bulk change or fleet run is running on this session: poll it to its end, or cancel it";

/// How long a `poll` step of a bulk change waits for progress.
pub const BULK_POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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
            job: Mutex::new(None),
            fleet_job: Mutex::new(None),
        })
    }

    /// A session sharing this one's HTTP client and connection (and so its
    /// tenants' token caches), for a fleet run in the background.
    fn snapshot(&self) -> Session {
        Session {
            base: self.base.clone(),
            connection: RwLock::new(self.current()),
            pending: tokio::sync::Mutex::new(None),
            job: Mutex::new(None),
            fleet_job: Mutex::new(None),
        }
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
        // A bulk change or fleet run in the background stops.
        if let Ok(mut j) = self.job.lock() {
            *j = None;
        }
        if let Ok(mut j) = self.fleet_job.lock() {
            *j = None;
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
        let mut other_tenants: Option<TenantKey> = None;
        let fleet_scope = scope.clone();
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
                other_tenants = Some(TenantKey::ClientSecret(secret.clone()));
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
                let key = Arc::new(key);
                other_tenants = Some(TenantKey::Certificate(key.clone()));
                let source = certificate_source(
                    &endpoint.sign_in_transport(),
                    &authority,
                    tenant,
                    client_id,
                    key,
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
                other_tenants = Some(TenantKey::Refresh(source.store()));
                (Box::new(source), None, None, Some(client_id.to_string()))
            }
            Flow::DeviceCode | Flow::Interactive => unreachable!("handled above"),
        };
        let credential = Credential::new(source, first);
        // Sign in now, so a wrong secret fails Connect, not the first Get.
        let token = credential.token(None, log).await?;
        let tenant = tenant.unwrap_or_else(|| user_tenant.to_string());
        let tenants = match (other_tenants, &client) {
            (Some(key), Some(client_id)) => Some(TenantSignIn::new(
                key,
                endpoint.sign_in_transport(),
                endpoint.http.clone(),
                authority.clone(),
                client_id.clone(),
                fleet_scope,
            )),
            _ => None,
        };
        self.keep(
            flow, endpoint, credential, &token, tenant, client, tenants, log,
        )
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
        tenants: Option<TenantSignIn>,
        log: &CallLog,
    ) -> Result<Value> {
        let claims = crate::auth::jwt::claims(token.secret.expose()).unwrap_or_default();
        let connected_tenant = tenant.clone();
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
            tenants,
            connected_tenant,
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
                    p.scope.clone(),
                    refresh,
                );
                let tenants = TenantSignIn::new(
                    TenantKey::Refresh(source.store()),
                    p.endpoint.sign_in_transport(),
                    p.endpoint.http.clone(),
                    p.endpoint.options.authority_host.clone(),
                    p.client_id.clone(),
                    p.scope,
                );
                let credential = Credential::new(Box::new(source), Some(token.clone()));
                self.keep(
                    flow,
                    p.endpoint,
                    credential,
                    &token,
                    p.tenant,
                    Some(p.client_id),
                    Some(tenants),
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
        tenant_id: &Option<String>,
    ) -> Result<(ServiceClient, CallCredential)> {
        let connection = self.current();
        let tenant = tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let Some(t) = tenant {
            crate::auth::validate_tenant(t)?;
            if access_token.is_some() {
                return Err(Error::invalid(
                    "give tenantId or accessToken, not both (a token given for a call is for its own tenant)",
                ));
            }
            let Some(c) = connection else {
                return Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE));
            };
            let own = t.eq_ignore_ascii_case(&c.connected_tenant)
                || c.info
                    .tenant_id
                    .as_deref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(t));
            if own {
                return Ok((c.endpoint.service.clone(), CallCredential::Connection(c)));
            }
            let Some(tenants) = &c.tenants else {
                return Err(Error::invalid(format!(
                    "tenantId '{t}': a connection by {:?} reaches its own tenant only; connect with clientSecret, certificate (a multi-tenant app) or deviceCode, interactive, password (a partner admin) to reach other tenants",
                    c.info.flow
                )));
            };
            let credential = tenants.credential(t)?;
            return Ok((
                c.endpoint.service.clone(),
                CallCredential::Tenant(credential, t.to_string()),
            ));
        }
        let service = connection
            .as_ref()
            .map(|c| c.endpoint.service.clone())
            .unwrap_or_else(|| self.base.service.clone());
        match (access_token, connection) {
            (Some(t), _) if !t.expose().trim().is_empty() => {
                crate::auth::check_bearer(t)?;
                Ok((
                    service,
                    CallCredential::Own(Arc::new(Credential::new(
                        Box::new(StaticToken),
                        Some(Token::from_bearer(t.clone())),
                    ))),
                ))
            }
            (_, Some(c)) => Ok((service, CallCredential::Connection(c))),
            _ => Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE)),
        }
    }

    /// `msc_get`; ends within the request timeout.
    pub async fn get(&self, request: &str, log: &CallLog) -> Result<Value> {
        if let Some(answer) = self.fleet_step(request, true, log).await {
            return answer;
        }
        if FleetRequest::parse(request)?.is_some() {
            return self
                .fleet_with_progress(crate::fleet::Op::Get, request, log, &|_| {})
                .await;
        }
        within(self.timeout(), log, self.get_within(request, log)).await
    }

    /// How long `msc_get` with this request may take: the request timeout,
    /// or for a fleet request the rounds of its tenants.
    pub fn get_limit(&self, request: &str) -> std::time::Duration {
        match FleetRequest::parse(request) {
            Ok(Some(f)) if f.step().is_none() => f.limit(self.timeout()),
            _ => self.timeout(),
        }
    }

    /// A `poll` or `cancel` step (`{"step": "poll"}`, no other field) of
    /// the fleet run in the background, whichever of `msc_get` and
    /// `msc_update` started it; `None` when the request is not such a step
    /// or (through `msc_update`) no fleet run is there, so that a bulk
    /// change's step answers. Through `msc_get` (`get`), any step without
    /// `tenants` is answered here.
    async fn fleet_step(&self, request: &str, get: bool, log: &CallLog) -> Option<Result<Value>> {
        if !request.contains("\"step\"") || request.contains("\"tenants\"") {
            return None;
        }
        let fields = parse::<serde_json::Map<String, Value>>("request", request).ok()?;
        let step = match fields.get("step") {
            Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
            _ => return None,
        };
        if step != "poll" && step != "cancel" {
            return get.then(|| {
                Err(Error::invalid(if step == "start" {
                    "step start on msc_get goes with tenants (a fleet get, docs/fleet.md §3); a single-tenant get has no steps".to_string()
                } else {
                    format!(
                        "step '{}' is not known; use start, then poll (or cancel)",
                        crate::text::echo(&step)
                    )
                }))
            });
        }
        let running = self.fleet_job.lock().map(|j| j.is_some()).unwrap_or(false);
        if !running && !get {
            return None;
        }
        if fields.len() != 1 {
            return Some(Err(Error::invalid(format!(
                "step {step} takes no other field"
            ))));
        }
        match self
            .poll_job(&self.fleet_job, "fleet", step == "cancel", log)
            .await
        {
            Some(answer) => Some(answer),
            None => Some(Err(Error::invalid(format!(
                "no fleet run is running on this session: send a request with tenants and step start first (step {step}; a single-tenant bulk change's steps go through msc_update)"
            )))),
        }
    }

    /// A request with `tenants` (docs/fleet.md §3), one-shot or a step,
    /// telling `on_progress` after each tenant.
    pub async fn fleet_with_progress(
        &self,
        op: crate::fleet::Op,
        request: &str,
        log: &CallLog,
        on_progress: FleetProgressFn<'_>,
    ) -> Result<Value> {
        let Some(fleet) = FleetRequest::parse(request)? else {
            return Err(Error::invalid("tenants is required"));
        };
        // What is wrong with the request is said once, not once per tenant.
        let probe = fleet.tenant_request(&fleet.tenants[0]);
        match op {
            crate::fleet::Op::Get => {
                parse::<GetRequest>("get", &probe)?;
            }
            crate::fleet::Op::Update => {
                let r: UpdateRequest = parse("update", &probe)?;
                if r.baseline.is_none() {
                    requested_value(r.value.as_deref(), r.enabled.as_ref())?;
                }
            }
        }
        if self.current().is_none() {
            return Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE));
        }
        match (fleet.step().as_deref(), op) {
            (None, _) => {
                let results =
                    crate::fleet::run(self, op, &fleet, log, &AtomicBool::new(false), on_progress)
                        .await;
                to_json(&results)
            }
            (Some("start"), _) => self.fleet_start(op, fleet),
            (Some(step), _) => Err(Error::invalid(format!(
                "step '{}' with tenants: use step start, then poll or cancel with no other field",
                crate::text::echo(step)
            ))),
        }
    }

    /// Start a fleet run in the background; answers its first progress.
    fn fleet_start(&self, op: crate::fleet::Op, fleet: FleetRequest) -> Result<Value> {
        if self.job_running() {
            return Err(Error::invalid(JOB_RUNNING));
        }
        let first = FleetProgress {
            tenants: fleet.tenants.len(),
            ..Default::default()
        };
        let (tx, rx) = tokio::sync::watch::channel(first.clone());
        let cancel = Arc::new(AtomicBool::new(false));
        let job_log = Arc::new(CallLog::new());
        let (c2, l2) = (cancel.clone(), job_log.clone());
        let snapshot = self.snapshot();
        self.start_job(|| {
            let task = tokio::spawn(async move {
                let send = |p: &FleetProgress| {
                    tx.send_replace(p.clone());
                };
                let results = crate::fleet::run(&snapshot, op, &fleet, &l2, &c2, &send).await;
                tx.send_replace(FleetProgress::finished_with(results));
            });
            NewJob::Fleet(FleetJob {
                progress: rx,
                cancel,
                log: job_log,
                abort: task.abort_handle(),
            })
        })?;
        to_json(&first)
    }

    /// Start the job `make` spawns, unless a job of either kind is there:
    /// checked and set under both locks (always the fleet's first), so that
    /// two starts at once on one session give one job and one refusal.
    fn start_job(&self, make: impl FnOnce() -> NewJob) -> Result<()> {
        let (Ok(mut fleet), Ok(mut bulk)) = (self.fleet_job.lock(), self.job.lock()) else {
            return Err(Error::internal("the session's job lock is poisoned"));
        };
        if fleet.is_some() || bulk.is_some() {
            return Err(Error::invalid(JOB_RUNNING));
        }
        match make() {
            NewJob::Bulk(j) => *bulk = Some(j),
            NewJob::Fleet(j) => *fleet = Some(j),
        }
        Ok(())
    }

    /// Whether a bulk change or a fleet run is in the background (one job
    /// per session).
    fn job_running(&self) -> bool {
        self.job.lock().map(|j| j.is_some()).unwrap_or(true)
            || self.fleet_job.lock().map(|j| j.is_some()).unwrap_or(true)
    }

    /// `poll` or `cancel` of a job in the background (`what`: "bulk
    /// change" or "fleet run"); `None` when there is none.
    async fn poll_job<P: Finished + Clone + serde::Serialize>(
        &self,
        slot: &Mutex<Option<BackgroundJob<P>>>,
        what: &str,
        cancel_it: bool,
        log: &CallLog,
    ) -> Option<Result<Value>> {
        let (mut rx, cancel, job_log) = match slot.lock() {
            Ok(j) => {
                let j = j.as_ref()?;
                (j.progress.clone(), j.cancel.clone(), j.log.clone())
            }
            Err(_) => return Some(Err(Error::internal("the session's job lock is poisoned"))),
        };
        let wait = if cancel_it {
            cancel.store(true, Ordering::SeqCst);
            log.push(format!("{what}: cancelled; what is in flight finishes"));
            self.timeout()
        } else {
            BULK_POLL_WAIT.min(self.timeout() / 2)
        };
        let gone = wait_for_end(&mut rx, |p| p.finished(), wait).await;
        for line in job_log.take() {
            log.push(line);
        }
        let progress = rx.borrow().clone();
        if progress.finished() || gone {
            if let Ok(mut j) = slot.lock() {
                *j = None;
            }
        }
        if gone && !progress.finished() {
            return Some(Err(Error::internal(format!(
                "internal error (a bug): the {what} ended without its results"
            ))));
        }
        Some(to_json(&progress))
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
        const RESOURCES: [&str; 7] = [
            "policies",
            "policy",
            "productPolicies",
            "productPolicy",
            "offerTypePolicy",
            "baseline",
            "baselineDrift",
        ];
        if !RESOURCES.contains(&resource) {
            return Err(Error::invalid(format!(
                "resource '{}' is not known; use policies, policy, productPolicies, productPolicy, offerTypePolicy, baseline, baselineDrift or connection",
                crate::text::echo(resource)
            )));
        }
        if req.baseline.is_some() && resource != "baselineDrift" {
            return Err(Error::invalid(
                "baseline is a field of resource baselineDrift only (apply one with msc_update)",
            ));
        }
        if req.other_products.is_some() && resource != "baseline" {
            return Err(Error::invalid(
                "otherProducts is a field of resource baseline only",
            ));
        }
        if resource.starts_with("baseline") {
            let resource = resource.to_string();
            return self.get_baseline(&resource, req, log).await;
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
        let (service, cred) = self.call_context(&req.access_token, &req.tenant_id)?;
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
                    .map_err(|e| crate::replaced::explain(e, product))
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

    /// `resource` baseline (export) and baselineDrift (test).
    async fn get_baseline(&self, resource: &str, req: GetRequest, log: &CallLog) -> Result<Value> {
        for (field, given) in [
            ("productId", req.product_id.is_some()),
            ("offerType", req.offer_type.is_some()),
            ("scope", req.scope.is_some()),
        ] {
            if given {
                return Err(Error::invalid(format!(
                    "{field} is not a field of resource {resource}"
                )));
            }
        }
        if resource == "baseline" {
            let policy = req
                .policy_id
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or(crate::model::DEFAULT_POLICY_ID);
            crate::ids::validate_id("PolicyId", policy)?;
            let rule = match crate::baseline::other_products_rule(
                req.other_products
                    .as_deref()
                    .unwrap_or(crate::baseline::KEEP),
            )? {
                Some(v) => v,
                None => crate::baseline::KEEP,
            };
            let (service, cred) = self.call_context(&req.access_token, &req.tenant_id)?;
            let products = crate::bulk::list_products(&service, policy, cred.get(), log).await?;
            let tenant = cred.tenant(&req.access_token).await;
            return to_json(&Baseline::export(policy, tenant, &products, rule)?);
        }
        let baseline = Baseline::from_json(
            req.baseline
                .as_ref()
                .ok_or_else(|| Error::invalid("baseline is required"))?,
        )?;
        same_policy(&req.policy_id, &baseline)?;
        let (service, cred) = self.call_context(&req.access_token, &req.tenant_id)?;
        baseline.check_tenant(cred.tenant(&req.access_token).await.as_deref())?;
        let products =
            crate::bulk::list_products(&service, &baseline.policy_id, cred.get(), log).await?;
        let drift = baseline.drift(&products);
        log.push(format!(
            "baseline: {} products in the tenant, {} in the baseline, {} drifted",
            products.len(),
            baseline.products.len(),
            drift.len()
        ));
        to_json(&drift)
    }

    /// `msc_update`: a single update ends within the request timeout; a bulk
    /// one within its `bulkTimeoutSeconds` and one request timeout (see
    /// [`Session::update_limit`]).
    pub async fn update(&self, request: &str, log: &CallLog) -> Result<Value> {
        self.update_with_progress(request, log, &|_| {}).await
    }

    /// [`Session::update`], telling `on_progress` how far a bulk change is
    /// (after the first listing, after each write, and at the end with the
    /// results).
    pub async fn update_with_progress(
        &self,
        request: &str,
        log: &CallLog,
        on_progress: ProgressFn<'_>,
    ) -> Result<Value> {
        if FleetRequest::parse(request)?.is_some() {
            return self
                .fleet_with_progress(crate::fleet::Op::Update, request, log, &|_| {})
                .await;
        }
        let req: UpdateRequest = parse("update", request)?;
        if let Some(answer) = self.fleet_step(request, false, log).await {
            return answer;
        }
        if req.step.is_some() {
            return within(self.timeout(), log, self.update_step(req, log)).await;
        }
        if !req.is_bulk() {
            return within(self.timeout(), log, self.update_within(req, log)).await;
        }
        let limit = req.cap()? + self.timeout() * 3;
        within(limit, log, async {
            let (selection, options, service, cred) = self.bulk_prepared(&req, log).await?;
            let plan = crate::bulk::plan(&service, cred.get(), selection, options, log).await?;
            let results = plan
                .run(
                    &service,
                    cred.get(),
                    log,
                    &AtomicBool::new(false),
                    on_progress,
                )
                .await;
            to_json(&results)
        })
        .await
    }

    /// How long `msc_update` with this request may take: a bulk change
    /// ends within its cap and two request timeouts (writes in flight at
    /// the cap finish, then the verification listing); one more is the
    /// margin of this outer bound. Else the request timeout.
    pub fn update_limit(&self, request: &str) -> std::time::Duration {
        match FleetRequest::parse(request) {
            Ok(Some(f)) if f.step().is_none() => {
                let one = f.tenant_request(&f.tenants[0]);
                return f.limit(self.update_limit(&one));
            }
            Ok(Some(_)) => return self.timeout(),
            _ => {}
        }
        match parse::<UpdateRequest>("update", request) {
            Ok(r) if r.is_bulk() && r.step.is_none() => {
                r.cap().unwrap_or(crate::bulk::DEFAULT_BULK_TIMEOUT) + self.timeout() * 3
            }
            _ => self.timeout(),
        }
    }

    /// A bulk request checked, and the service and credential to run it.
    async fn bulk_prepared(
        &self,
        req: &UpdateRequest,
        log: &CallLog,
    ) -> Result<(Selection, RunOptions, ServiceClient, CallCredential)> {
        let given = [
            req.product_id.is_some(),
            req.product_ids.is_some(),
            req.all_products == Some(true),
            req.offer_type.is_some(),
            req.baseline.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(Error::invalid(
                "give one of productId, productIds, allProducts, offerType or baseline",
            ));
        }
        if req.except_product_ids.is_some() && req.all_products != Some(true) {
            return Err(Error::invalid(
                "exceptProductIds goes with allProducts: true",
            ));
        }
        let concurrency = match &req.concurrency {
            None => crate::bulk::DEFAULT_CONCURRENCY,
            Some(c) => match c.as_u64() {
                Some(n) if (1..=crate::bulk::MAX_CONCURRENCY as u64).contains(&n) => n as usize,
                _ => {
                    return Err(Error::invalid(format!(
                        "concurrency must be from 1 to {}; got {}",
                        crate::bulk::MAX_CONCURRENCY,
                        crate::text::echo(&c.to_string())
                    )))
                }
            },
        };
        let options = RunOptions {
            concurrency,
            what_if: req.what_if.unwrap_or(false),
            cap: req.cap()?,
        };
        let ids = |field: &str, list: &Option<Value>| -> Result<Vec<String>> {
            let list: Vec<String> = match list {
                None => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        Error::invalid(format!("{field} must be an array of product ids (strings)"))
                    })?,
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "{field} must be an array of product ids (strings)"
                    )))
                }
            };
            if list.len() > crate::bulk::MAX_PRODUCT_IDS {
                return Err(Error::invalid(format!(
                    "{field} has {} ids; at most {}",
                    list.len(),
                    crate::bulk::MAX_PRODUCT_IDS
                )));
            }
            let list: Vec<String> = list.iter().map(|i| i.trim().to_string()).collect();
            for id in &list {
                crate::ids::validate_id("ProductId", id)?;
            }
            Ok(list)
        };
        let (selection, baseline) = if let Some(b) = &req.baseline {
            if req.value.is_some() || req.enabled.is_some() {
                return Err(Error::invalid(
                    "a baseline says the values itself: give no value or enabled with it",
                ));
            }
            let baseline = Baseline::from_json(b)?;
            same_policy(&req.policy_id, &baseline)?;
            (baseline.selection(), Some(baseline))
        } else {
            let policy = required("policyId", &req.policy_id)?;
            crate::ids::validate_id("PolicyId", policy)?;
            let value = requested_value(req.value.as_deref(), req.enabled.as_ref())?;
            let selection = if req.all_products == Some(true) {
                Selection::all_products(
                    policy,
                    &ids("exceptProductIds", &req.except_product_ids)?,
                    value,
                    log,
                )
            } else {
                let list = ids("productIds", &req.product_ids)?;
                if list.is_empty() {
                    return Err(Error::invalid("productIds is empty"));
                }
                Selection::products(policy, &list, value)
            };
            (selection, None)
        };
        let (service, cred) = self.call_context(&req.access_token, &req.tenant_id)?;
        if let Some(b) = &baseline {
            b.check_tenant(cred.tenant(&req.access_token).await.as_deref())?;
        }
        Ok((selection, options, service, cred))
    }

    /// The steps of a bulk change run in the background: `start` (a bulk
    /// request), `poll` and `cancel` (no other field).
    async fn update_step(&self, req: UpdateRequest, log: &CallLog) -> Result<Value> {
        let step = req
            .step
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match step.as_str() {
            "start" => {
                if !req.is_bulk() {
                    return Err(Error::invalid(
                        "step start goes with a bulk change (productIds, allProducts or baseline)",
                    ));
                }
                if self.job_running() {
                    return Err(Error::invalid(JOB_RUNNING));
                }
                let (selection, options, service, cred) = self.bulk_prepared(&req, log).await?;
                let plan = crate::bulk::plan(&service, cred.get(), selection, options, log).await?;
                let first = plan.progress();
                let (tx, rx) = tokio::sync::watch::channel(first.clone());
                let cancel = Arc::new(AtomicBool::new(false));
                let job_log = Arc::new(CallLog::new());
                let (c2, l2) = (cancel.clone(), job_log.clone());
                self.start_job(|| {
                    let task = tokio::spawn(async move {
                        let send = |p: &BulkProgress| {
                            tx.send_replace(p.clone());
                        };
                        let results = plan.run(&service, cred.get(), &l2, &c2, &send).await;
                        let mut last = tx.borrow().clone();
                        let count = |s: crate::bulk::Status| {
                            results.iter().filter(|r| r.status == s).count()
                        };
                        last.total = results.len();
                        last.done = results.len();
                        last.updated = count(crate::bulk::Status::Updated);
                        last.unchanged = count(crate::bulk::Status::Unchanged);
                        last.failed = count(crate::bulk::Status::Failed);
                        last.finished = true;
                        last.results = Some(results);
                        tx.send_replace(last);
                    });
                    NewJob::Bulk(Job {
                        progress: rx,
                        cancel,
                        log: job_log,
                        abort: task.abort_handle(),
                    })
                })?;
                to_json(&first)
            }
            "poll" | "cancel" => {
                let others = req.is_bulk()
                    || req.policy_id.is_some()
                    || req.product_id.is_some()
                    || req.offer_type.is_some()
                    || req.value.is_some()
                    || req.enabled.is_some()
                    || req.access_token.is_some()
                    || req.concurrency.is_some()
                    || req.what_if.is_some()
                    || req.bulk_timeout_seconds.is_some()
                    || req.except_product_ids.is_some()
                    || req.tenant_id.is_some();
                if others {
                    return Err(Error::invalid(format!("step {step} takes no other field")));
                }
                match self.poll_job(&self.job, "bulk", step == "cancel", log).await {
                    Some(answer) => answer,
                    None => Err(Error::invalid(format!(
                        "no bulk change is running on this session: send step start first (step {step})"
                    ))),
                }
            }
            other => Err(Error::invalid(format!(
                "step '{}' is not known; use start, then poll (or cancel)",
                crate::text::echo(other)
            ))),
        }
    }

    async fn update_within(&self, req: UpdateRequest, log: &CallLog) -> Result<Value> {
        if let Some(field) = req.bulk_options_given() {
            return Err(Error::invalid(format!(
                "{field} goes with a bulk change (productIds, allProducts or baseline)"
            )));
        }
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
        let (service, cred) = self.call_context(&req.access_token, &req.tenant_id)?;
        let cred = cred.get();
        match (req.product_id.as_deref(), req.offer_type.as_deref()) {
            (Some(product), None) => service
                .set_product_policy(policy, product, value, cred, log)
                .await
                .map_err(|e| crate::replaced::explain(e, product))
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

/// Wait up to `wait` for a background job's progress to be `finished`;
/// true when the job went away without saying so.
async fn wait_for_end<T>(
    rx: &mut tokio::sync::watch::Receiver<T>,
    finished: impl Fn(&T) -> bool,
    wait: std::time::Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while !finished(&rx.borrow()) {
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// A call's credential: the connection's, or one made for this call only.
#[derive(Clone)]
enum CallCredential {
    Connection(Arc<Connection>),
    Own(Arc<Credential>),
    /// Another tenant's (`tenantId`): its own token cache.
    Tenant(Arc<Credential>, String),
}

impl CallCredential {
    fn get(&self) -> &Credential {
        match self {
            CallCredential::Connection(c) => &c.credential,
            CallCredential::Own(c) => c,
            CallCredential::Tenant(c, _) => c,
        }
    }

    /// The tenant the credential signs in to, when known: the connection's,
    /// or the `tid` of a token given for the call.
    async fn tenant(&self, access_token: &Option<Secret>) -> Option<String> {
        match (self, access_token) {
            (CallCredential::Own(_), Some(t)) => {
                crate::auth::jwt::claims(t.expose()).and_then(|c| c.tid)
            }
            (CallCredential::Connection(c), _) => c.info().await.tenant_id,
            (CallCredential::Tenant(c, t), _) => c.token_tenant().await.or(Some(t.clone())),
            _ => None,
        }
    }
}

/// A request's `policyId` next to a baseline must be the baseline's.
fn same_policy(policy: &Option<String>, baseline: &Baseline) -> Result<()> {
    match policy.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) if !p.eq_ignore_ascii_case(&baseline.policy_id) => Err(Error::invalid(format!(
            "policyId '{}' is not the baseline's PolicyId '{}'",
            crate::text::echo(p),
            baseline.policy_id
        ))),
        _ => Ok(()),
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
