//! The emulator's customer tenants (issue 11, docs/fleet.md §4): each with
//! its own products, the partner's multi-tenant app consented in some and
//! not in others (answered as the identity platform answers), and the
//! partner's admin with delegated access to some only (403 from the
//! service elsewhere). The built-in tenant (contoso) is not part of it.

use super::directory::{self, PARTNER_APP, PARTNER_USER};
use super::identity::{aad_error, check_scope, token_body, Subject, TokenForm};
use super::licensing::product_json;
use super::state::{Catalogue, Data, NewProduct};
use super::EmulatorState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Most tenants a fleet may have.
pub const MAX_TENANTS: usize = 10_000;
/// Most bytes of a fleet file (`MSCOMMERCE_EMULATOR_TENANTS`).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The environment variable naming a fleet file read when the emulator starts.
pub const TENANTS_FILE_VARIABLE: &str = "MSCOMMERCE_EMULATOR_TENANTS";

/// The partner app in a customer tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AppConsent {
    /// Consented, with the Billing Administrator role: tokens, and writes.
    #[default]
    Consented,
    /// Not there: AADSTS700016 (unauthorized_client).
    NotConsented,
    /// Consented once, service principal gone: AADSTS7000229 (invalid_client).
    NoServicePrincipal,
    /// Consented, no directory role: tokens, then 403 from the service.
    NoRole,
}

/// One tenant of a fleet (`POST /_emulator/tenants`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TenantSpec {
    pub tenant_id: String,
    /// Default: `{first 8 of the id}.onmicrosoft.com`.
    pub domain: Option<String>,
    /// seed, docs2023, docs2025 (default) or generated:N.
    pub catalogue: Option<String>,
    pub app: AppConsent,
    /// Whether the partner's admin has delegated admin access (default true).
    pub partner_access: Option<bool>,
    /// The value every product starts with (default Enabled).
    pub policy_value: Option<String>,
}

/// Many tenants at once: `count` tenants, the first `drifted` with every
/// product Enabled, the others all Disabled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Generate {
    pub count: usize,
    pub catalogue: Option<String>,
    pub drifted: usize,
}

/// The whole fleet, as posted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FleetConfig {
    pub tenants: Vec<TenantSpec>,
    pub generate: Option<Generate>,
    /// Lifetime of the tokens issued in the customer tenants (default: the
    /// emulator's).
    pub token_lifetime_seconds: Option<u64>,
}

/// The id of the `i`th generated tenant (from 1).
pub fn generated_tenant_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// The domain of the `i`th generated tenant.
pub fn generated_tenant_domain(i: usize) -> String {
    format!("tenant{i:04}.onmicrosoft.com")
}

pub struct FleetTenant {
    pub tenant_id: String,
    pub domain: String,
    pub app: AppConsent,
    pub partner_access: bool,
    pub data: Arc<Mutex<Data>>,
    pub token_requests: AtomicU64,
}

#[derive(Default)]
pub struct Fleet {
    pub config: FleetConfig,
    pub tenants: Vec<Arc<FleetTenant>>,
    /// Lower-case id and domain → index.
    index: HashMap<String, usize>,
}

fn valid_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 256
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

impl Fleet {
    /// Build a fleet from its configuration (every value fresh).
    pub fn build(config: FleetConfig) -> Result<Fleet, String> {
        let mut specs = config.tenants.clone();
        if let Some(g) = &config.generate {
            for i in 1..=g.count {
                specs.push(TenantSpec {
                    tenant_id: generated_tenant_id(i),
                    domain: Some(generated_tenant_domain(i)),
                    catalogue: g.catalogue.clone(),
                    app: AppConsent::Consented,
                    partner_access: Some(true),
                    policy_value: Some(
                        if i <= g.drifted {
                            "Enabled"
                        } else {
                            "Disabled"
                        }
                        .into(),
                    ),
                });
            }
        }
        if specs.len() > MAX_TENANTS {
            return Err(format!("at most {MAX_TENANTS} tenants"));
        }
        let mut fleet = Fleet {
            config,
            ..Default::default()
        };
        for spec in specs {
            let id = spec.tenant_id.trim().to_string();
            if uuid::Uuid::parse_str(&id).is_err() {
                return Err(format!("tenantId '{id}' is not a GUID"));
            }
            let domain = spec
                .domain
                .clone()
                .unwrap_or_else(|| format!("{}.onmicrosoft.com", &id[..8]));
            if !valid_name(&domain) || !domain.contains('.') {
                return Err(format!("domain '{domain}' is not a domain name"));
            }
            let catalogue: Catalogue = spec.catalogue.as_deref().unwrap_or("docs2025").parse()?;
            let mut data = super::state::load(catalogue);
            if let Some(v) = &spec.policy_value {
                for list in data.products.values_mut() {
                    for p in list.iter_mut() {
                        p.policy_value = v.clone();
                    }
                }
            }
            let at = fleet.tenants.len();
            for key in [id.to_ascii_lowercase(), domain.to_ascii_lowercase()] {
                if fleet.index.insert(key.clone(), at).is_some() {
                    return Err(format!("tenant '{key}' is in the fleet twice"));
                }
            }
            fleet.tenants.push(Arc::new(FleetTenant {
                tenant_id: id,
                domain,
                app: spec.app,
                partner_access: spec.partner_access.unwrap_or(true),
                data: Arc::new(Mutex::new(data)),
                token_requests: AtomicU64::new(0),
            }));
        }
        Ok(fleet)
    }

    pub fn find(&self, tenant: &str) -> Option<Arc<FleetTenant>> {
        self.index
            .get(&tenant.to_ascii_lowercase())
            .map(|i| self.tenants[*i].clone())
    }
}

/// Read a fleet file (JSON of [`FleetConfig`]).
pub fn read_file(path: &std::path::Path) -> Result<FleetConfig, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{}: more than 16 MiB", path.display()));
    }
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether a tenant path segment names a fleet tenant or the partner's.
pub fn knows(state: &EmulatorState, tenant: &str) -> bool {
    directory::is_partner_tenant(tenant)
        || state.fleet.lock().is_ok_and(|f| f.find(tenant).is_some())
}

fn lifetime(state: &EmulatorState) -> i64 {
    let fleet = state
        .fleet
        .lock()
        .ok()
        .and_then(|f| f.config.token_lifetime_seconds);
    fleet.unwrap_or(state.issuer.lifetime_seconds) as i64
}

fn not_in_directory(client_id: &str, domain: &str) -> Response {
    aad_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// The partner app, authenticated by its secret or its certificate.
fn authenticate_partner_app(state: &EmulatorState, form: &TokenForm) -> Result<(), Response> {
    if form.client_assertion.is_some() {
        return super::identity_flows::check_client_assertion(state, &PARTNER_APP, form);
    }
    match form.client_secret.as_deref() {
        Some(s) if PARTNER_APP.secret == Some(s) => Ok(()),
        Some(_) => Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", PARTNER_APP.client_id),
        )),
        None => Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}

/// A token request at the partner's tenant or a fleet tenant; `None`: not
/// one of those (the built-in tenant's endpoint answers).
pub fn token(state: &EmulatorState, tenant: &str, form: &TokenForm) -> Option<Response> {
    let partner = directory::is_partner_tenant(tenant);
    let customer = if partner {
        None
    } else {
        Some(state.fleet.lock().ok()?.find(tenant)?)
    };
    if let Some(t) = &customer {
        t.token_requests.fetch_add(1, Ordering::SeqCst);
    }
    let (tid, domain) = match &customer {
        Some(t) => (t.tenant_id.clone(), t.domain.clone()),
        None => (
            directory::PARTNER_TENANT_ID.to_string(),
            directory::PARTNER_TENANT_DOMAIN.to_string(),
        ),
    };
    let scope = match check_scope(form.scope.as_deref()) {
        Ok(s) => s,
        Err(r) => return Some(r),
    };
    let lifetime = lifetime(state);
    Some(match form.grant_type.as_str() {
        "client_credentials" => {
            if !form.client_id.eq_ignore_ascii_case(PARTNER_APP.client_id) {
                return Some(not_in_directory(&form.client_id, &domain));
            }
            let roles: &[&str] = match customer.as_ref().map(|t| t.app) {
                None | Some(AppConsent::NoRole) => &[],
                Some(AppConsent::Consented) => PARTNER_APP.roles,
                Some(AppConsent::NotConsented) => {
                    return Some(not_in_directory(&form.client_id, &domain))
                }
                Some(AppConsent::NoServicePrincipal) => {
                    return Some(aad_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_client",
                        7000229,
                        &format!("The client application {} is missing service principal in the tenant {tid}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119", PARTNER_APP.client_id),
                    ))
                }
            };
            if let Err(r) = authenticate_partner_app(state, form) {
                return Some(r);
            }
            if !scope.split_whitespace().all(|s| s.ends_with("/.default")) {
                return Some(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
                ));
            }
            let token = state.issuer.issue_in(
                &Subject::App(&PARTNER_APP),
                PARTNER_APP.client_id,
                lifetime,
                &tid,
                roles,
            );
            token_body(token, lifetime, &scope, None)
        }
        "refresh_token" => {
            let rt = form.refresh_token.as_deref().unwrap_or("");
            let Some((user_key, client_id)) = state.issuer.peek_refresh_token(rt) else {
                return Some(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    700082,
                    "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
                ));
            };
            if !client_id.eq_ignore_ascii_case(&form.client_id) {
                return Some(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed: the refresh token was issued to another client.",
                ));
            }
            let is_partner = user_key.eq_ignore_ascii_case(PARTNER_USER.key);
            if !is_partner {
                let home = directory::user_by_key(&user_key)
                    .map(directory::home_tenant)
                    .unwrap_or(directory::TENANT_ID);
                return Some(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50020,
                    &format!("User account '{{EUII Hidden}}' from identity provider 'https://sts.windows.net/{home}/' does not exist in tenant '{domain}' and cannot access the application '{client_id}' in that tenant. The account needs to be added as an external user in the tenant first."),
                ));
            }
            state.issuer.redeem_refresh_token(rt);
            let roles: &[&str] = match &customer {
                None => PARTNER_USER.roles,
                Some(t) if t.partner_access => &[directory::ROLE_BILLING_ADMIN],
                Some(_) => &[],
            };
            let next = state.issuer.new_refresh_token(PARTNER_USER.key, &client_id);
            let token = state.issuer.issue_in(
                &Subject::User(&PARTNER_USER),
                &client_id,
                lifetime,
                &tid,
                roles,
            );
            token_body(token, lifetime, &scope, Some(next))
        }
        "" => super::identity::missing("grant_type"),
        other => aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90023,
            &format!("The grant type '{other}' is not supported at the tenant '{domain}' by this emulator: sign in at organizations, then redeem the refresh token here."),
        ),
    })
}

// ---- control ----------------------------------------------------------

pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/_emulator/tenants", post(set_tenants).get(list_tenants))
        .route(
            "/_emulator/tenants/{tenant}/products",
            get(tenant_products).post(upsert_tenant_product),
        )
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// What `GET /_emulator/tenants` says of a tenant.
pub fn tenant_summary(t: &FleetTenant) -> Value {
    let policy = crate::model::DEFAULT_POLICY_ID;
    let data = t.data.lock().expect("tenant lock");
    let list = data.products.get(policy).map(Vec::as_slice).unwrap_or(&[]);
    let count = |v: &str| list.iter().filter(|p| p.policy_value == v).count();
    json!({
        "tenantId": t.tenant_id,
        "domain": t.domain,
        "app": t.app,
        "partnerAccess": t.partner_access,
        "products": list.len(),
        "enabled": count("Enabled"),
        "disabled": count("Disabled"),
        "writes": data.writes,
        "tokenRequests": t.token_requests.load(Ordering::SeqCst),
    })
}

async fn set_tenants(State(s): State<Arc<EmulatorState>>, body: Json<Value>) -> Response {
    let config: FleetConfig = match serde_json::from_value(body.0) {
        Ok(c) => c,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match s.set_fleet(config) {
        Ok(()) => list_tenants(State(s)).await,
        Err(e) => control_error(StatusCode::BAD_REQUEST, e),
    }
}

async fn list_tenants(State(s): State<Arc<EmulatorState>>) -> Response {
    let tenants: Vec<Arc<FleetTenant>> = s
        .fleet
        .lock()
        .map(|f| f.tenants.clone())
        .unwrap_or_default();
    let items: Vec<Value> = tenants.iter().map(|t| tenant_summary(t)).collect();
    Json(json!({
        "partner": {
            "tenantId": directory::PARTNER_TENANT_ID,
            "domain": directory::PARTNER_TENANT_DOMAIN,
            "appClientId": PARTNER_APP.client_id,
            "user": PARTNER_USER.upn,
        },
        "tenants": items,
    }))
    .into_response()
}

fn find(s: &EmulatorState, tenant: &str) -> Result<Arc<FleetTenant>, Response> {
    s.fleet
        .lock()
        .ok()
        .and_then(|f| f.find(tenant))
        .ok_or_else(|| control_error(StatusCode::NOT_FOUND, format!("no tenant '{tenant}'")))
}

async fn tenant_products(
    State(s): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
) -> Response {
    let t = match find(&s, &tenant) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let policy = crate::model::DEFAULT_POLICY_ID;
    let data = t.data.lock().expect("tenant lock");
    let items: Vec<Value> = data
        .products
        .get(policy)
        .map(|l| l.iter().map(|p| product_json(policy, p)).collect())
        .unwrap_or_default();
    Json(json!({ "tenantId": t.tenant_id, "items": items, "writes": data.writes })).into_response()
}

async fn upsert_tenant_product(
    State(s): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    Json(r): Json<NewProduct>,
) -> Response {
    let t = match find(&s, &tenant) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut data = t.data.lock().expect("tenant lock");
    match data.add_product(&r) {
        Ok((policy, p, added)) => {
            Json(json!({ "ok": true, "added": added, "product": product_json(&policy, &p) }))
                .into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleets_build_and_refuse_what_is_wrong() {
        let f = Fleet::build(FleetConfig {
            generate: Some(Generate {
                count: 3,
                drifted: 1,
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(f.tenants.len(), 3);
        let t = f.find("TENANT0002.onmicrosoft.com").unwrap();
        assert_eq!(t.tenant_id, generated_tenant_id(2));
        let d = t.data.lock().unwrap();
        assert!(d.products[crate::model::DEFAULT_POLICY_ID]
            .iter()
            .all(|p| p.policy_value == "Disabled"));
        let twice = FleetConfig {
            tenants: vec![
                TenantSpec {
                    tenant_id: generated_tenant_id(1),
                    ..Default::default()
                };
                2
            ],
            ..Default::default()
        };
        assert!(Fleet::build(twice).err().unwrap().contains("twice"));
        let bad = FleetConfig {
            tenants: vec![TenantSpec {
                tenant_id: "x/y".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(Fleet::build(bad).is_err());
    }
}
