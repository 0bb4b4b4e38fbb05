//! `/_emulator/*`: the switches tests and curious users pull (tokens, faults,
//! counters, reset, products). Loopback only, like the whole emulator.

use super::directory;
use super::identity::Subject;
use super::state::{Faults, Product};
use super::EmulatorState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/_emulator/token", post(mint))
        .route("/_emulator/faults", post(set_faults).get(get_faults))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/products", post(upsert_product))
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

async fn set_faults(State(s): State<Arc<EmulatorState>>, Json(f): Json<Faults>) -> Response {
    if let Ok(mut cur) = s.faults.lock() {
        *cur = f.clone();
    }
    Json(f).into_response()
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductRequest {
    policy_id: Option<String>,
    product_id: String,
    product_name: String,
    policy_value: Option<String>,
}

/// Add a product or rename one (e.g. to a non-ASCII name).
async fn upsert_product(
    State(s): State<Arc<EmulatorState>>,
    Json(r): Json<ProductRequest>,
) -> Response {
    let policy = r
        .policy_id
        .unwrap_or_else(|| crate::model::DEFAULT_POLICY_ID.into());
    let mut data = s.data.lock().expect("state lock");
    let Some(list) = data.products.get_mut(&policy) else {
        return (StatusCode::NOT_FOUND, format!("no policy '{policy}'")).into_response();
    };
    let value = r.policy_value.unwrap_or_else(|| "Enabled".into());
    match list
        .iter_mut()
        .find(|p| p.product_id.eq_ignore_ascii_case(&r.product_id))
    {
        Some(p) => {
            p.product_name = r.product_name;
            p.policy_value = value;
        }
        None => list.push(Product {
            product_name: r.product_name,
            product_id: r.product_id,
            policy_value: value,
            trial_without_payment: true,
        }),
    }
    Json(json!({ "ok": true })).into_response()
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
