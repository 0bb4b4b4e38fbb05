//! The emulator's imitation of the licensing API (service-api.md), under
//! both `/v1.0` and `/v1`: same JSON shapes, `items` wrapper, 404 for
//! unknown ids, 400 for unknown values, 401 for a missing, expired or
//! invalid token, 403 for a caller whose roles do not allow the call.

use super::directory;
use super::identity::AccessClaims;
use super::state::WriteRecord;
use super::EmulatorState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

type St = State<Arc<EmulatorState>>;

pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/{ver}/policies", get(list_policies))
        .route("/{ver}/policies/{policy}", get(get_policy))
        .route("/{ver}/policies/{policy}/products", get(list_products))
        .route(
            "/{ver}/policies/{policy}/products/{product}",
            get(get_product).put(put_product),
        )
        .route(
            "/{ver}/policies/{policy}/offerTypes/{offer}",
            get(get_offer_type).put(put_offer_type),
        )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn correlation(headers: &HeaderMap) -> HeaderValue {
    headers
        .get("x-ms-correlation-id")
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("uuid is ASCII")
        })
}

/// Every licensing request: count it, apply latency and faults, check the
/// version, the token and the caller's roles. `in_flight`: the requests
/// being served, this one included.
async fn admit(
    state: &EmulatorState,
    ver: &str,
    headers: &HeaderMap,
    write: bool,
    in_flight: u64,
) -> Result<AccessClaims, Response> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if let (Ok(mut ua), Some(v)) = (
        state.last_user_agent.lock(),
        headers.get("user-agent").and_then(|v| v.to_str().ok()),
    ) {
        *ua = v.to_string();
    }
    let targeted = faults_apply(state, headers);
    let (latency, fault) = {
        let mut f = state
            .faults
            .lock()
            .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "Internal", "lock"))?;
        if !targeted {
            (state.base_latency_ms, None)
        } else {
            let latency = state.base_latency_ms + f.latency_ms;
            let fault = if f.max_in_flight > 0 && in_flight > u64::from(f.max_in_flight) {
                Some(Fault::Throttle(f.retry_after_seconds))
            } else if f.throttle > 0 {
                f.throttle -= 1;
                Some(Fault::Throttle(f.retry_after_seconds))
            } else if f.server_errors > 0 {
                f.server_errors -= 1;
                Some(Fault::Server(if f.server_error_status == 0 {
                    503
                } else {
                    f.server_error_status
                }))
            } else if f.expire_tokens > 0 {
                f.expire_tokens -= 1;
                Some(Fault::Expired)
            } else if f.oversize_body > 0 {
                f.oversize_body -= 1;
                Some(Fault::Oversize)
            } else {
                None
            };
            (latency, fault)
        }
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    match fault {
        Some(Fault::Throttle(after)) => {
            state.throttled.fetch_add(1, Ordering::SeqCst);
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests. Retry after the time given in Retry-After.",
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(after));
            return Err(r);
        }
        Some(Fault::Server(status)) => {
            let s = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Err(error(
                s,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            ));
        }
        Some(Fault::Oversize) => {
            let filler = "x".repeat(5 * 1024 * 1024);
            return Err(Json(json!({ "items": [], "filler": filler })).into_response());
        }
        Some(Fault::Expired) => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The token is expired.",
            ));
        }
        None => {}
    }
    if ver != "v1.0" && ver != "v1" {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("API version '{ver}' is not known."),
        ));
    }
    let Some(token) = bearer(headers) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is missing.",
        ));
    };
    let claims = state
        .issuer
        .verify(token)
        .map_err(|m| error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m))?;
    let allowed = if write {
        directory::can_write(&claims.wids)
    } else {
        directory::can_read(&claims.wids)
    };
    if !allowed {
        let what = if write { "change" } else { "read" };
        return Err(error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "The caller does not have permission to {what} self-service purchase policies."
            ),
        ));
    }
    Ok(claims)
}

/// Whether the faults apply to this request: always, unless they name a
/// tenant (`tenant`), then only to a request whose token is for it (a
/// request without a valid token is not that tenant's).
fn faults_apply(state: &EmulatorState, headers: &HeaderMap) -> bool {
    let Some(tenant) = state.faults.lock().ok().and_then(|f| f.tenant.clone()) else {
        return true;
    };
    let tid = bearer(headers).and_then(|t| state.issuer.verify(t).ok().map(|c| c.tid));
    tid.is_some_and(|tid| tid.eq_ignore_ascii_case(&state.tenant_id_of(&tenant)))
}

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

enum Fault {
    Throttle(u64),
    Server(u16),
    Expired,
    Oversize,
}

/// Run a handler body after admission, echoing the correlation id.
async fn respond<F>(
    state: &EmulatorState,
    ver: &str,
    headers: &HeaderMap,
    write: bool,
    body: F,
) -> Response
where
    F: FnOnce(&EmulatorState, &std::sync::Mutex<super::state::Data>) -> Response,
{
    let in_flight = InFlight::enter(state);
    let mut r = match admit(state, ver, headers, write, in_flight.now).await {
        // The tenant's own products: the built-in tenant's or a fleet
        // tenant's, by the token's tid.
        Ok(claims) => match state.data_for(&claims.tid) {
            Some(data) => body(state, &data),
            None => error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The tenant has no subscription that self-service purchase policies apply to.",
            ),
        },
        Err(r) => r,
    };
    r.headers_mut()
        .insert("x-ms-correlation-id", correlation(headers));
    r
}

/// One licensing request being served (counted until dropped, also when
/// the client goes away mid-request).
struct InFlight<'a> {
    state: &'a EmulatorState,
    now: u64,
}

impl<'a> InFlight<'a> {
    fn enter(state: &'a EmulatorState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight { state, now }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn find_policy<'a>(
    data: &'a super::state::Data,
    policy: &str,
) -> Result<&'a super::state::PolicyDef, Response> {
    data.policies
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(policy))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "PolicyNotFound",
                &format!("Policy '{policy}' was not found."),
            )
        })
}

pub fn product_json(policy: &str, p: &super::state::Product) -> Value {
    json!({
        "policyId": policy,
        "productName": p.product_name,
        "productId": p.product_id,
        "policyValue": p.policy_value,
        "scope": "product",
    })
}

pub fn offer_json(policy: &str, o: &super::state::OfferType) -> Value {
    json!({
        "policyId": policy,
        "policyValue": o.policy_value,
        "scope": "offerType",
        "scopeId": o.id,
        "scopeValue": o.id,
    })
}

async fn list_policies(State(s): St, Path(ver): Path<String>, h: HeaderMap) -> Response {
    respond(&s, &ver, &h, false, |_, d| {
        let data = d.lock().expect("state lock");
        let items: Vec<Value> = data
            .policies
            .iter()
            .map(|p| json!({"id": p.id, "description": p.description, "defaultValue": p.default_value}))
            .collect();
        Json(json!({ "items": items })).into_response()
    })
    .await
}

async fn get_policy(
    State(s): St,
    Path((ver, policy)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    respond(&s, &ver, &h, false, |_, d| {
        let data = d.lock().expect("state lock");
        match find_policy(&data, &policy) {
            Ok(p) => Json(
                json!({"id": p.id, "description": p.description, "defaultValue": p.default_value}),
            )
            .into_response(),
            Err(r) => r,
        }
    })
    .await
}

#[derive(Deserialize)]
struct ListQuery {
    scope: Option<String>,
    #[serde(rename = "skipToken")]
    skip_token: Option<usize>,
}

async fn list_products(
    State(s): St,
    Path((ver, policy)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    h: HeaderMap,
) -> Response {
    respond(&s, &ver, &h, false, |s, d| {
        let data = d.lock().expect("state lock");
        let p = match find_policy(&data, &policy) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let scope = q.scope.as_deref().unwrap_or("product").to_ascii_lowercase();
        let mut items: Vec<Value> = Vec::new();
        if scope == "product" || scope == "all" {
            items.extend(data.products[&p.id].iter().map(|x| product_json(&p.id, x)));
        }
        if scope == "offertype" || scope == "all" {
            items.extend(data.offer_types[&p.id].iter().map(|x| offer_json(&p.id, x)));
        }
        if !matches!(scope.as_str(), "product" | "offertype" | "all") {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidScope",
                &format!("Scope '{scope}' is not valid. Use product, offerType or all."),
            );
        }
        let page_size = s.faults.lock().map(|f| f.page_size).unwrap_or(0);
        let skip = q.skip_token.unwrap_or(0);
        if page_size == 0 {
            return Json(json!({ "items": items })).into_response();
        }
        let page: Vec<Value> = items.iter().skip(skip).take(page_size).cloned().collect();
        let mut body = json!({ "items": page });
        if skip + page_size < items.len() {
            body["@odata.nextLink"] = format!(
                "/{ver}/policies/{}/products?scope={scope}&skipToken={}",
                p.id,
                skip + page_size
            )
            .into();
        }
        Json(body).into_response()
    })
    .await
}

async fn get_product(
    State(s): St,
    Path((ver, policy, product)): Path<(String, String, String)>,
    h: HeaderMap,
) -> Response {
    respond(&s, &ver, &h, false, |_, d| {
        let mut data = d.lock().expect("state lock");
        match product_mut(&mut data, &policy, &product) {
            Ok((pid, x)) => Json(product_json(&pid, x)).into_response(),
            Err(r) => r,
        }
    })
    .await
}

/// A product of a policy, with the policy's own spelling of its id, or the
/// 404 to answer (ids match in any case).
fn product_mut<'d>(
    data: &'d mut super::state::Data,
    policy: &str,
    product: &str,
) -> Result<(String, &'d mut super::state::Product), Response> {
    let pid = find_policy(data, policy)?.id.clone();
    let found = data.products.get_mut(&pid).and_then(|l| {
        l.iter_mut()
            .find(|x| x.product_id.eq_ignore_ascii_case(product))
    });
    match found {
        Some(x) => Ok((pid, x)),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "ProductNotFound",
            &format!("Product '{product}' was not found for this policy."),
        )),
    }
}

/// An offer type of a policy, as [`product_mut`] for products.
fn offer_type_mut<'d>(
    data: &'d mut super::state::Data,
    policy: &str,
    offer: &str,
) -> Result<(String, &'d mut super::state::OfferType), Response> {
    let pid = find_policy(data, policy)?.id.clone();
    let found = data
        .offer_types
        .get_mut(&pid)
        .and_then(|l| l.iter_mut().find(|o| o.id.eq_ignore_ascii_case(offer)));
    match found {
        Some(o) => Ok((pid, o)),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "OfferTypeNotFound",
            &format!("Offer type '{offer}' was not found."),
        )),
    }
}

/// The `policyValue` of a PUT body, checked against the known values.
fn put_value(body: &Value) -> Result<String, Response> {
    let v = body
        .get("policyValue")
        .and_then(Value::as_str)
        .unwrap_or("");
    if crate::model::KNOWN_VALUES.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyValue",
            &format!("Policy value '{v}' is not valid. Valid values: Enabled, Disabled, OnlyTrialsWithoutPaymentMethod."),
        ))
    }
}

/// Count and log a write that was applied, and fire the fault events now
/// due: [policy id, scope, id, previous value, new value].
fn log_write(s: &EmulatorState, data: &mut super::state::Data, w: [String; 5]) {
    let [policy_id, scope, id, previous_value, policy_value] = w;
    s.record_write(
        data,
        WriteRecord {
            policy_id,
            scope,
            id,
            previous_value,
            policy_value,
        },
    );
}

async fn put_product(
    State(s): St,
    Path((ver, policy, product)): Path<(String, String, String)>,
    h: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    respond(&s, &ver, &h, true, |s, d| {
        let value = match put_value(&body.map(|b| b.0).unwrap_or(Value::Null)) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let mut data = d.lock().expect("state lock");
        let (pid, x) = match product_mut(&mut data, &policy, &product) {
            Ok(found) => found,
            Err(r) => return r,
        };
        if value == "OnlyTrialsWithoutPaymentMethod" && !x.trial_without_payment {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyValue",
                &format!(
                    "Product '{}' does not offer trials without a payment method.",
                    x.product_id
                ),
            );
        }
        let previous = std::mem::replace(&mut x.policy_value, value.clone());
        let (answer, id) = (product_json(&pid, x), x.product_id.clone());
        log_write(s, &mut data, [pid, "product".into(), id, previous, value]);
        Json(answer).into_response()
    })
    .await
}

async fn get_offer_type(
    State(s): St,
    Path((ver, policy, offer)): Path<(String, String, String)>,
    h: HeaderMap,
) -> Response {
    respond(&s, &ver, &h, false, |_, d| {
        let mut data = d.lock().expect("state lock");
        match offer_type_mut(&mut data, &policy, &offer) {
            Ok((pid, o)) => Json(offer_json(&pid, o)).into_response(),
            Err(r) => r,
        }
    })
    .await
}

async fn put_offer_type(
    State(s): St,
    Path((ver, policy, offer)): Path<(String, String, String)>,
    h: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    respond(&s, &ver, &h, true, |s, d| {
        let value = match put_value(&body.map(|b| b.0).unwrap_or(Value::Null)) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let mut data = d.lock().expect("state lock");
        let (pid, o) = match offer_type_mut(&mut data, &policy, &offer) {
            Ok(found) => found,
            Err(r) => return r,
        };
        if value == "OnlyTrialsWithoutPaymentMethod" && !o.trial_without_payment {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyValue",
                &format!("Offer type '{}' can only be Enabled or Disabled.", o.id),
            );
        }
        let previous = std::mem::replace(&mut o.policy_value, value.clone());
        let (answer, id) = (offer_json(&pid, o), o.id.clone());
        log_write(s, &mut data, [pid, "offerType".into(), id, previous, value]);
        Json(answer).into_response()
    })
    .await
}
