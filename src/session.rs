//! A session: options, one HTTP client, and the connection made by sign-in.
//! The JSON requests of the C ABI (native-abi.md) are answered here, so the
//! ABI, the CLI and the tests share one implementation.

use crate::auth::client_secret::ClientSecretSource;
use crate::auth::password::PasswordSource;
use crate::auth::static_token::StaticToken;
use crate::auth::{
    authority_endpoint, normalise_scope, validate_client_id, validate_tenant, ConnectionInfo,
    Credential, Flow, Secret, Token, TokenSource, MODULE_CLIENT_ID,
};
use crate::client::ServiceClient;
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::model::{canonical_value, value_from_enabled, KNOWN_VALUES};
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
    fn with(&self, over: &OptionsJson) -> Result<Self> {
        let options = self.options.merged(over)?;
        if options == self.options {
            return Ok(self.clone());
        }
        let same_transport = options.proxy == self.options.proxy
            && options.ca_certificate_path == self.options.ca_certificate_path
            && options.timeout == self.options.timeout;
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
}

/// A connect request (native-abi.md); session options may ride along.
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
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct GetRequest {
    resource: Option<String>,
    policy_id: Option<String>,
    product_id: Option<String>,
    offer_type: Option<String>,
    scope: Option<String>,
    access_token: Option<Secret>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct UpdateRequest {
    policy_id: Option<String>,
    product_id: Option<String>,
    offer_type: Option<String>,
    value: Option<String>,
    enabled: Option<Value>,
    access_token: Option<Secret>,
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, request: &str) -> Result<T> {
    serde_json::from_str(request).map_err(|e| Error::invalid(format!("{what} request: {e}")))
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(format!("{field} is required")))
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

    /// Forget the connection (tokens are dropped and wiped).
    pub fn disconnect(&self) {
        if let Ok(mut c) = self.connection.write() {
            *c = None;
        }
    }

    /// `msc_connect`: sign in and keep the connection; answers its info.
    pub async fn connect(&self, request: &str, log: &CallLog) -> Result<Value> {
        let req: ConnectRequest = parse("connect", request)?;
        let flow = Flow::parse(required("flow", &req.flow)?)?;
        let endpoint = self.base.with(&req.options)?;
        let scope = normalise_scope(req.scope.as_deref().or(req.resource.as_deref()))?;
        let authority = endpoint.options.authority_host.clone();
        let user_tenant = req.tenant_id.as_deref().unwrap_or("organizations").trim();
        let (source, first, tenant, client): (
            Box<dyn TokenSource>,
            Option<Token>,
            Option<String>,
            Option<String>,
        ) = match flow {
            Flow::AccessToken => {
                let token =
                    Token::from_bearer(required_secret("accessToken", &req.access_token)?.clone());
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
                let tenant = required("tenantId", &req.tenant_id)?;
                validate_tenant(tenant)?;
                let client_id = required("clientId", &req.client_id)?;
                validate_client_id(client_id)?;
                let secret = required_secret("clientSecret", &req.client_secret)?;
                let source = ClientSecretSource::new(
                    &endpoint.http,
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
            Flow::Certificate | Flow::ManagedIdentity | Flow::DeviceCode | Flow::Interactive => {
                let _ = (
                    &req.step,
                    &req.certificate_path,
                    &req.certificate_password,
                    &req.certificate_thumbprint,
                    &req.redirect_uri,
                    &req.login_hint,
                );
                return Err(Error::invalid(format!(
                    "the {flow:?} sign-in is not available in this build yet"
                )));
            }
        };
        let credential = Credential::new(source, first);
        // Sign in now, so a wrong secret fails Connect, not the first Get.
        let token = credential.token(None, log).await?;
        let claims = crate::auth::jwt::claims(token.secret.expose()).unwrap_or_default();
        let info = ConnectionInfo {
            account: claims.account(),
            tenant_id: claims
                .tid
                .clone()
                .or(tenant)
                .or_else(|| Some(user_tenant.to_string())),
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
            (Some(t), _) if !t.expose().trim().is_empty() => Ok((
                service,
                CallCredential::Own(Credential::new(
                    Box::new(StaticToken),
                    Some(Token::from_bearer(t.clone())),
                )),
            )),
            (_, Some(c)) => Ok((service, CallCredential::Connection(c))),
            _ => Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE)),
        }
    }

    /// `msc_get`.
    pub async fn get(&self, request: &str, log: &CallLog) -> Result<Value> {
        let req: GetRequest = parse("get", request)?;
        let resource = required("resource", &req.resource)?;
        if resource.eq_ignore_ascii_case("connection") {
            return match self.current() {
                Some(c) => to_json(&c.info().await),
                None => Err(Error::new(ErrorKind::NotConnected, NOT_CONNECTED_MESSAGE)),
            };
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

    /// `msc_update`.
    pub async fn update(&self, request: &str, log: &CallLog) -> Result<Value> {
        let req: UpdateRequest = parse("update", request)?;
        let policy = required("policyId", &req.policy_id)?;
        let value = requested_value(&req)?;
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

/// `value` (Enabled, Disabled, OnlyTrialsWithoutPaymentMethod, any case) or
/// `enabled` (true/false, "True"/"False", any case), exactly one of them.
fn requested_value(req: &UpdateRequest) -> Result<&'static str> {
    match (&req.value, &req.enabled) {
        (Some(_), Some(_)) => Err(Error::invalid("give value or enabled, not both")),
        (Some(v), None) => canonical_value(v).ok_or_else(|| {
            Error::invalid(format!(
                "value '{}' is not valid; use {}",
                v.escape_debug(),
                KNOWN_VALUES.join(", ")
            ))
        }),
        (None, Some(Value::Bool(b))) => Ok(if *b { "Enabled" } else { "Disabled" }),
        (None, Some(Value::String(s))) => value_from_enabled(s).ok_or_else(|| {
            Error::invalid(format!(
                "Enabled must be True or False ($True, $False, 'True', 'False'); got '{}'",
                s.escape_debug()
            ))
        }),
        (None, Some(other)) => Err(Error::invalid(format!(
            "Enabled must be True or False; got {other}"
        ))),
        (None, None) => Err(Error::invalid("value (or enabled) is required")),
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
