//! The licensing API client: every operation of service-api.md, with the
//! correlation id, retries, error mapping, paging and id validation.

use crate::auth::{Credential, Secret, EXPIRED_MESSAGE};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::segment;
use crate::log::CallLog;
use crate::model::*;
use crate::options::SessionOptions;
use crate::transport::{map_reqwest_error, read_body_capped};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::{Duration, Instant};
use url::Url;

/// Longest wait honoured from a `Retry-After` header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Longest backoff between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Most pages followed in one listing.
pub const MAX_PAGES: usize = 100;

/// A client of one licensing API endpoint; cheap to clone.
#[derive(Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    max_retries: u32,
    retry_base_delay: Duration,
}

impl ServiceClient {
    pub fn new(http: reqwest::Client, options: &SessionOptions) -> Self {
        ServiceClient {
            http,
            base: options.service_url.clone(),
            timeout: options.timeout,
            max_retries: options.max_retries,
            retry_base_delay: options.retry_base_delay,
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = Url::parse(&format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            path
        ))
        .map_err(|e| Error::invalid(format!("service URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    // ---- operations -------------------------------------------------------

    pub async fn list_policies(&self, cred: &Credential, log: &CallLog) -> Result<Vec<Policy>> {
        let url = self.url("/v1.0/policies", &[])?;
        let items: Vec<WirePolicy> = self.list(url, cred, log).await?;
        Ok(items.into_iter().map(Policy::from).collect())
    }

    pub async fn get_policy(
        &self,
        policy_id: &str,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<Policy> {
        let url = self.url(
            &format!("/v1.0/policies/{}", segment("PolicyId", policy_id)?),
            &[],
        )?;
        let w: WirePolicy = decode(self.call(Method::GET, url, None, cred, log).await?)?;
        Ok(w.into())
    }

    /// Products of a policy; `scope` defaults to `product`, as the 2.x module sends.
    pub async fn list_product_policies(
        &self,
        policy_id: &str,
        scope: Option<&str>,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<Vec<PolicyItem>> {
        let scope = scope
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("product");
        crate::ids::validate_id("Scope", scope)?;
        let url = self.url(
            &format!(
                "/v1.0/policies/{}/products",
                segment("PolicyId", policy_id)?
            ),
            &[("scope", scope)],
        )?;
        let items: Vec<WirePolicyItem> = self.list(url, cred, log).await?;
        Ok(items.into_iter().map(PolicyItem::from).collect())
    }

    pub async fn get_product_policy(
        &self,
        policy_id: &str,
        product_id: &str,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<ProductPolicy> {
        let url = self.product_url(policy_id, product_id)?;
        let w: WirePolicyItem = decode(self.call(Method::GET, url, None, cred, log).await?)?;
        Ok(w.into())
    }

    /// Set a product's value (canonical spelling expected; see `canonical_value`).
    pub async fn set_product_policy(
        &self,
        policy_id: &str,
        product_id: &str,
        value: &str,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<ProductPolicy> {
        let url = self.product_url(policy_id, product_id)?;
        let body = serde_json::json!({ "policyValue": value });
        let w: WirePolicyItem = decode(self.call(Method::PUT, url, Some(body), cred, log).await?)?;
        Ok(w.into())
    }

    pub async fn get_offer_type_policy(
        &self,
        policy_id: &str,
        offer_type: &str,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<ScopePolicy> {
        let url = self.offer_type_url(policy_id, offer_type)?;
        let w: WirePolicyItem = decode(self.call(Method::GET, url, None, cred, log).await?)?;
        Ok(w.into())
    }

    pub async fn set_offer_type_policy(
        &self,
        policy_id: &str,
        offer_type: &str,
        value: &str,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<ScopePolicy> {
        let url = self.offer_type_url(policy_id, offer_type)?;
        let body = serde_json::json!({ "policyValue": value });
        let w: WirePolicyItem = decode(self.call(Method::PUT, url, Some(body), cred, log).await?)?;
        Ok(w.into())
    }

    fn product_url(&self, policy_id: &str, product_id: &str) -> Result<Url> {
        self.url(
            &format!(
                "/v1.0/policies/{}/products/{}",
                segment("PolicyId", policy_id)?,
                segment("ProductId", product_id)?
            ),
            &[],
        )
    }

    fn offer_type_url(&self, policy_id: &str, offer_type: &str) -> Result<Url> {
        self.url(
            &format!(
                "/v1.0/policies/{}/offerTypes/{}",
                segment("PolicyId", policy_id)?,
                segment("OfferType", offer_type)?
            ),
            &[],
        )
    }

    // ---- mechanics --------------------------------------------------------

    /// GET a listing (`items`, or OData `value`), following next links on
    /// the same origin.
    async fn list<T: DeserializeOwned>(
        &self,
        first: Url,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::new(
                    ErrorKind::Service,
                    format!("the listing has more than {MAX_PAGES} pages; stopped"),
                ));
            }
            let page = self.call(Method::GET, url.clone(), None, cred, log).await?;
            let items = match &page {
                Value::Array(_) => page.clone(),
                Value::Object(o) => o
                    .get("items")
                    .or_else(|| o.get("value"))
                    .cloned()
                    .unwrap_or(Value::Array(vec![])),
                _ => return Err(unexpected_shape("a listing")),
            };
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| {
                Error::new(
                    ErrorKind::Service,
                    format!("the listing is not the expected JSON: {e}"),
                )
            })?;
            out.extend(items);
            let link = page
                .get("@odata.nextLink")
                .or_else(|| page.get("nextLink"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if let Some(link) = link {
                let u = url.join(link).map_err(|e| {
                    Error::new(
                        ErrorKind::Service,
                        format!("next link '{link}' is not a URL: {e}"),
                    )
                })?;
                if u.origin() != self.base.origin() {
                    return Err(Error::new(
                        ErrorKind::Service,
                        format!(
                            "refusing a next link to another host: {}",
                            u.origin().ascii_serialization()
                        ),
                    ));
                }
                next = Some(u);
            }
        }
        Ok(out)
    }

    /// One operation: token, correlation id, retries of throttling, 5xx and
    /// dropped connections within the request timeout, one sign-in again
    /// after a 401.
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<Value> {
        let deadline = Instant::now() + self.timeout;
        let mut rejected: Option<Secret> = None;
        let mut signed_in_again = false;
        let mut attempt: u32 = 0;
        loop {
            let token = cred.token(rejected.as_ref(), log).await?;
            let correlation_id = uuid::Uuid::new_v4().to_string();
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::new(ErrorKind::Timeout, "the request timed out")
                    .with_correlation_id(correlation_id));
            }
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .timeout(remaining)
                .bearer_auth(token.secret.expose())
                .header("x-ms-correlation-id", &correlation_id)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = &body {
                req = req.json(b);
            }
            let started = Instant::now();
            let result = req.send().await;
            let ms = started.elapsed().as_millis();
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    let err = map_reqwest_error(&e).with_correlation_id(correlation_id.clone());
                    if err.kind == ErrorKind::Network {
                        if let Some(delay) = self.retry_delay(attempt, None, deadline) {
                            attempt += 1;
                            log.push(format!(
                                "{method} {url} -> {} after {ms} ms (correlation id {correlation_id}); retry {attempt} of {} in {} ms",
                                err.message, self.max_retries, delay.as_millis()
                            ));
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                    log.push(format!(
                        "{method} {url} -> {} after {ms} ms (correlation id {correlation_id})",
                        err.message
                    ));
                    return Err(err);
                }
            };
            let status = response.status();
            let server_cid = response
                .headers()
                .get("x-ms-correlation-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or(correlation_id);
            let retry_after = parse_retry_after(response.headers());
            let body_bytes = read_body_capped(response).await;

            if status.is_success() {
                log.push(format!(
                    "{method} {url} -> {} in {ms} ms (correlation id {server_cid})",
                    status.as_u16()
                ));
                let bytes = body_bytes.map_err(|e| e.with_correlation_id(server_cid.clone()))?;
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_slice(&bytes).map_err(|e| {
                    Error::new(
                        ErrorKind::Service,
                        format!(
                            "the service answered {} with a body that is not JSON: {e}",
                            status.as_u16()
                        ),
                    )
                    .with_status(status.as_u16())
                    .with_correlation_id(server_cid.clone())
                });
            }

            let service_message = body_bytes.ok().and_then(|b| service_message(&b));
            if status == StatusCode::UNAUTHORIZED && !signed_in_again {
                log.push(format!(
                    "{method} {url} -> 401 in {ms} ms (correlation id {server_cid}); signing in again"
                ));
                signed_in_again = true;
                rejected = Some(token.secret.clone());
                continue;
            }
            let retryable = matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504);
            if retryable {
                if let Some(delay) = self.retry_delay(attempt, retry_after, deadline) {
                    attempt += 1;
                    log.push(format!(
                        "{method} {url} -> {} in {ms} ms (correlation id {server_cid}); retry {attempt} of {} in {} ms",
                        status.as_u16(),
                        self.max_retries,
                        delay.as_millis()
                    ));
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            log.push(format!(
                "{method} {url} -> {} in {ms} ms (correlation id {server_cid})",
                status.as_u16()
            ));
            let mut err = status_error(status, attempt)
                .with_status(status.as_u16())
                .with_correlation_id(server_cid)
                .with_service_message(service_message);
            if status == StatusCode::TOO_MANY_REQUESTS {
                err.retry_after_seconds = retry_after.map(|d| d.as_secs().max(1));
            }
            return Err(err);
        }
    }

    /// The wait before the next attempt, or `None` when no attempt is left
    /// or the wait would run past the deadline.
    fn retry_delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        deadline: Instant,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let delay = match retry_after {
            Some(d) => d.min(MAX_RETRY_AFTER),
            None => {
                // Exponential backoff with full jitter.
                let ceiling = self
                    .retry_base_delay
                    .saturating_mul(1u32 << attempt.min(16))
                    .min(MAX_BACKOFF);
                let ms = ceiling.as_millis() as u64;
                Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
            }
        };
        (Instant::now() + delay < deadline).then_some(delay)
    }
}

fn status_error(status: StatusCode, retries: u32) -> Error {
    let after = if retries > 0 {
        format!(" after {retries} retries")
    } else {
        String::new()
    };
    match status.as_u16() {
        401 => Error::new(ErrorKind::Authentication, EXPIRED_MESSAGE),
        403 => Error::new(
            ErrorKind::Forbidden,
            "the signed-in account may not do this (reading needs Global administrator, Billing administrator or Global reader; changing needs Global or Billing administrator)",
        ),
        404 => Error::new(ErrorKind::NotFound, "not found"),
        429 => Error::new(ErrorKind::Throttled, format!("the service is throttling requests{after}")),
        s if s >= 500 => Error::new(ErrorKind::Service, format!("the service failed{after}")),
        _ => Error::new(ErrorKind::Service, "the service refused the request"),
    }
}

/// `Retry-After` as seconds (HTTP dates are rare here; treated as absent).
fn parse_retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// The service's own words from an error body, whatever its shape (also a
/// managed identity endpoint's).
pub(crate) fn service_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let candidates = [
            v.pointer("/error/message"),
            v.pointer("/error/Message"),
            v.get("message"),
            v.get("Message"),
            v.get("error_description"),
            v.get("errorMessage"),
            v.get("error").filter(|e| e.is_string()),
        ];
        if let Some(m) = candidates.into_iter().flatten().find_map(Value::as_str) {
            return Some(truncate(m));
        }
    }
    Some(truncate(text))
}

fn truncate(s: &str) -> String {
    const MAX: usize = 500;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T> {
    if !v.is_object() {
        return Err(unexpected_shape("an object"));
    }
    serde_json::from_value(v).map_err(|e| {
        Error::new(
            ErrorKind::Service,
            format!("the answer is not the expected JSON: {e}"),
        )
    })
}

fn unexpected_shape(what: &str) -> Error {
    Error::new(
        ErrorKind::Service,
        format!("the service's answer is not {what} as expected"),
    )
}
