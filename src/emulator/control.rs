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
