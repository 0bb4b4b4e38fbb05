//! `/_emulator/*`: the switches tests and curious users pull (tokens, faults,
//! counters, reset, catalogue, products, writes). Loopback only, like the
//! whole emulator. `GET /_emulator` lists them ([`describe`]).

use super::directory;
use super::identity::Subject;
use super::licensing::{offer_json, product_json};
use super::state::{Catalogue, Faults, NewProduct};
use super::EmulatorState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/_emulator", get(index))
        .route("/_emulator/token", post(mint))
        .route("/_emulator/faults", post(set_faults).get(get_faults))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/reset", post(reset))
        .route(
            "/_emulator/catalogue",
            post(set_catalogue).get(get_catalogue),
        )
        .route(
            "/_emulator/products",
            post(upsert_product).get(list_products),
        )
        .route("/_emulator/products/{product}", delete(remove_product))
        .route("/_emulator/writes", get(writes))
        .route("/_emulator/expire-tokens", post(expire))
        .route("/_emulator/device/{action}", post(device))
        .route("/_emulator/browser", post(browser))
        .route("/_emulator/certificate", get(certificate))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MintRequest {
    user: Option<String>,
    app: Option<String>,
    lifetime_seconds: Option<i64>,
}

async fn mint(State(s): State<Arc<EmulatorState>>, Json(r): Json<MintRequest>) -> Response {
    let lifetime = r
        .lifetime_seconds
        .unwrap_or(s.issuer.lifetime_seconds as i64);
    let token = if let Some(app) = r.app.as_deref() {
        match directory::APPS
            .iter()
            .find(|a| a.key.eq_ignore_ascii_case(app) || a.client_id == app)
        {
            Some(a) => s.issuer.issue(&Subject::App(a), a.client_id, lifetime),
            None => return (StatusCode::BAD_REQUEST, format!("no app '{app}'")).into_response(),
        }
    } else {
        let key = r.user.as_deref().unwrap_or("admin");
        match directory::user_by_key(key).or_else(|| directory::user_by_upn(key)) {
            Some(u) => s
                .issuer
                .issue(&Subject::User(u), crate::auth::MODULE_CLIENT_ID, lifetime),
            None => return (StatusCode::BAD_REQUEST, format!("no user '{key}'")).into_response(),
        }
    };
    Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": lifetime }))
        .into_response()
}

/// The control endpoints, their bodies and answers (`GET /_emulator`).
pub fn describe(url: &str) -> String {
    format!(
        "Control endpoints of the emulator at {url} (JSON in and out; no sign-in):\n\
         \x20 GET    /_emulator/stats       {{connections, requests, tokenRequests, updates (writes), throttled (429s), peakInFlight, lastUserAgent}}\n\
         \x20 POST   /_emulator/reset       catalogue back to its first values, no faults, counters and write log zeroed\n\
         \x20 GET    /_emulator/catalogue   {{catalogue, policyId, products, offerTypes}} (counts)\n\
         \x20 POST   /_emulator/catalogue   {{\"catalogue\":\"seed|docs2023|docs2025|generated:N\"}} or {{\"generated\":N}}: serve it, every value Enabled; a reset keeps it\n\
         \x20 GET    /_emulator/products    {{catalogue, items: [products as the API lists them], offerTypes: [...]}} (?policyId=)\n\
         \x20 POST   /_emulator/products    {{productId, productName?, policyValue? (Enabled), policyId?, trialWithoutPaymentMethod? (true)}}: add (or update) a product -> {{added, product}}\n\
         \x20 DELETE /_emulator/products/ID remove a product (later calls for it answer 404) -> {{removed}} (?policyId=)\n\
         \x20 GET    /_emulator/writes      {{items: [{{policyId, scope, id, previousValue, policyValue}}]}}: every successful PUT since the reset\n\
         \x20 GET|POST /_emulator/tenants  customer tenants of the partner (docs/fleet.md): {{tenants: [{{tenantId, domain?, catalogue?, app: consented|notConsented|noServicePrincipal|noRole,\n\
         \x20   partnerAccess?, policyValue?}}], generate?: {{count, catalogue?, drifted}}, tokenLifetimeSeconds?}}; GET|POST /_emulator/tenants/T/products\n\
         \x20 POST   /_emulator/token       {{user|app, lifetimeSeconds}} -> {{access_token}};  POST /_emulator/expire-tokens: every token issued so far expires\n\
         \x20 GET|POST /_emulator/faults   replace the faults (licensing API only; counts are \"the next N requests\"):\n\
         \x20   latencyMs, throttle + retryAfterSeconds (429 with Retry-After), serverErrors + serverErrorStatus (503),\n\
         \x20   drop (close the connection, request not served), dropAfterWrite (apply the write, then close unanswered),\n\
         \x20   expireTokens (401 as expired), maxInFlight (429 to a request arriving while that many are served),\n\
         \x20   pageSize (next links), oversizeBody, events: [{{afterWrites: N, addProduct: {{productId, productName}},\n\
         \x20   removeProduct: \"ID\", expireAllTokens: true, throttle, retryAfterSeconds, serverErrors, drop, expireTokens}}]\n\
         \x20   (an event happens once, when the Nth write since the faults were set is applied; its counts add to the faults)\n\
         \x20   tenant: \"ID or domain\" (optional): latencyMs, throttle, serverErrors, expireTokens, oversizeBody and maxInFlight\n\
         \x20   hit only the requests whose token is for that tenant (built-in or fleet; the others are served as usual);\n\
         \x20   drop, dropAfterWrite, pageSize and events stay for every request; a tenant the emulator does not know is 400\n\
         Catalogues (--seed-products): seed (2021, 12), docs2023, docs2025 (26, current ids; replaced ids answer 404;\n\
         \x20 offer types SaaS, POWERBIVISUALS, DYNAMICSCE, DYNAMICSBC under scope=offerType), generated:N (GENPROD00001, ...)\n"
    )
}

async fn index(State(s): State<Arc<EmulatorState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        describe(&s.base_url()),
    )
        .into_response()
}

async fn set_faults(State(s): State<Arc<EmulatorState>>, Json(f): Json<Faults>) -> Response {
    if let Some(t) = &f.tenant {
        if !directory::tenant_matches(t, false) && !super::fleet::knows(&s, t) {
            return (
                StatusCode::BAD_REQUEST,
                format!("no tenant '{t}' (the built-in tenant or one of GET /_emulator/tenants)"),
            )
                .into_response();
        }
    }
    s.set_faults(f);
    get_faults(State(s)).await
}

async fn get_faults(State(s): State<Arc<EmulatorState>>) -> Response {
    Json(s.faults.lock().map(|f| f.clone()).unwrap_or_default()).into_response()
}

async fn stats(State(s): State<Arc<EmulatorState>>) -> Response {
    Json(s.stats()).into_response()
}

async fn reset(State(s): State<Arc<EmulatorState>>) -> Response {
    s.reset();
    Json(json!({ "reset": true })).into_response()
}

async fn expire(State(s): State<Arc<EmulatorState>>) -> Response {
    s.issuer.expire_all();
    Json(json!({ "expired": true })).into_response()
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CatalogueRequest {
    /// seed, docs2023, docs2025 or generated:N
    catalogue: Option<String>,
    /// N: the same as "generated:N"
    generated: Option<usize>,
}

fn catalogue_summary(s: &EmulatorState) -> Value {
    let policy = crate::model::DEFAULT_POLICY_ID;
    let data = s.data.lock().expect("state lock");
    json!({
        "catalogue": s.catalogue().to_string(),
        "policyId": policy,
        "products": data.products.get(policy).map_or(0, Vec::len),
        "offerTypes": data.offer_types.get(policy).map_or(0, Vec::len),
    })
}

async fn get_catalogue(State(s): State<Arc<EmulatorState>>) -> Response {
    Json(catalogue_summary(&s)).into_response()
}

/// Serve another catalogue (every value Enabled); a reset keeps it.
async fn set_catalogue(
    State(s): State<Arc<EmulatorState>>,
    Json(r): Json<CatalogueRequest>,
) -> Response {
    let parsed: Result<Catalogue, String> = match (r.catalogue, r.generated) {
        (None, Some(n)) => format!("generated:{n}").parse(),
        (Some(c), None) => c.parse(),
        _ => Err(
            "give either catalogue (seed, docs2023, docs2025, generated:N) or generated (N)".into(),
        ),
    };
    match parsed {
        Ok(c) => {
            s.set_catalogue(c);
            Json(catalogue_summary(&s)).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PolicyQuery {
    policy_id: Option<String>,
}

/// The products and offer types of a policy as the emulator holds them.
async fn list_products(
    State(s): State<Arc<EmulatorState>>,
    Query(q): Query<PolicyQuery>,
) -> Response {
    let asked = q
        .policy_id
        .unwrap_or_else(|| crate::model::DEFAULT_POLICY_ID.into());
    let catalogue = s.catalogue().to_string();
    let data = s.data.lock().expect("state lock");
    let Some(policy) = data.policy_id(&asked) else {
        return control_error(StatusCode::NOT_FOUND, format!("no policy '{asked}'"));
    };
    let items: Vec<Value> = data
        .products
        .get(&policy)
        .map(|l| l.iter().map(|p| product_json(&policy, p)).collect())
        .unwrap_or_default();
    let offers: Vec<Value> = data
        .offer_types
        .get(&policy)
        .map(|l| l.iter().map(|o| offer_json(&policy, o)).collect())
        .unwrap_or_default();
    Json(json!({ "catalogue": catalogue, "items": items, "offerTypes": offers })).into_response()
}

/// Add a product (Enabled unless policyValue says otherwise, as Microsoft's
/// new products appear), or update one: its name (e.g. to a non-ASCII one)
/// and value.
async fn upsert_product(
    State(s): State<Arc<EmulatorState>>,
    Json(r): Json<NewProduct>,
) -> Response {
    let mut data = s.data.lock().expect("state lock");
    match data.add_product(&r) {
        Ok((policy, p, added)) => Json(json!({
            "ok": true,
            "added": added,
            "product": product_json(&policy, &p),
        }))
        .into_response(),
        Err(e) if e.starts_with("no policy") => control_error(StatusCode::NOT_FOUND, e),
        Err(e) => control_error(StatusCode::BAD_REQUEST, e),
    }
}

/// Remove a product: later reads and writes of it answer 404.
async fn remove_product(
    State(s): State<Arc<EmulatorState>>,
    Path(product): Path<String>,
    Query(q): Query<PolicyQuery>,
) -> Response {
    let mut data = s.data.lock().expect("state lock");
    match data.remove_product(q.policy_id.as_deref(), &product) {
        Some((policy, p)) => Json(json!({ "removed": product_json(&policy, &p) })).into_response(),
        None => control_error(
            StatusCode::NOT_FOUND,
            format!("no product '{product}' in that policy"),
        ),
    }
}

async fn writes(State(s): State<Arc<EmulatorState>>) -> Response {
    Json(json!({ "items": s.writes() })).into_response()
}

// ---- acting as the user in sign-ins -------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DeviceRequest {
    /// The code the user was shown (dashes and case ignored); none: the
    /// latest pending one.
    user_code: Option<String>,
    /// Who approves: a built-in user's key or UPN (default admin).
    user: Option<String>,
}

/// Approve a device code as a user (`/_emulator/device/approve`
/// `{"userCode":"…","user":"admin"}`), decline it (`…/decline`) or let it
/// expire now (`…/expire`).
async fn device(
    State(s): State<Arc<EmulatorState>>,
    axum::extract::Path(action): axum::extract::Path<String>,
    body: Option<Json<DeviceRequest>>,
) -> Response {
    use super::identity_flows::{act_on_device_code, DeviceAction};
    let action = match action.as_str() {
        "approve" => DeviceAction::Approve,
        "decline" => DeviceAction::Decline,
        "expire" => DeviceAction::Expire,
        other => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("no device action '{other}'; use approve, decline or expire") })),
            )
                .into_response()
        }
    };
    let r = body.map(|Json(r)| r).unwrap_or_default();
    match act_on_device_code(&s, r.user_code.as_deref(), action, r.user.as_deref()) {
        Ok(code) => {
            Json(json!({ "userCode": code, "action": format!("{action:?}") })).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BrowserRequest {
    /// The user the browser is signed in as; none or null: signed out.
    user: Option<String>,
}

/// Sign the browser in: `{"user":"admin"}` (the authorize endpoint then
/// redirects at once, as for a user with a session), or out: `{}`.
async fn browser(State(s): State<Arc<EmulatorState>>, Json(r): Json<BrowserRequest>) -> Response {
    match super::identity_flows::set_browser_user(&s, r.user.as_deref()) {
        Ok(()) => Json(json!({ "user": r.user })).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

/// The certificate app's certificate and key: PEM (both in one), PFX.
async fn certificate() -> Response {
    use base64::Engine;
    Json(json!({
        "clientId": directory::CERTIFICATE_APP_CLIENT_ID,
        "tenantId": directory::TENANT_ID,
        "thumbprint": directory::CERTIFICATE_APP_THUMBPRINT,
        "pem": directory::certificate_app_pem(),
        "pfxBase64": base64::engine::general_purpose::STANDARD.encode(directory::certificate_app_pfx()),
        "pfxPassword": directory::CERTIFICATE_APP_PFX_PASSWORD,
    }))
    .into_response()
}
