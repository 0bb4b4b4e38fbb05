//! The licensing API client: every operation of service-api.md, with the
//! correlation id, retries, error mapping, paging and id validation.

use crate::auth::{Credential, Secret, EXPIRED_MESSAGE};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::segment;
use crate::log::CallLog;
use crate::model::*;
use crate::options::SessionOptions;
use crate::pacer::Pacer;
use crate::transport::{is_retryable, map_reqwest_error, read_body_capped};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Longest wait read from a `Retry-After` header (a day); whether it is
/// honoured is the request's deadline's to say.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
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
    /// The shared pace of a bulk change's requests, when it is one.
    pacer: Option<Arc<Pacer>>,
}

impl ServiceClient {
    pub fn new(http: reqwest::Client, options: &SessionOptions) -> Self {
        ServiceClient {
            http,
            base: options.service_url.clone(),
            timeout: options.timeout,
            max_retries: options.max_retries,
            retry_base_delay: options.retry_base_delay,
            pacer: None,
        }
    }

    /// The same client, its requests paced by `pacer` (a bulk change):
    /// a slot is taken for each attempt, a 429 pauses every request of the
    /// pacer until its Retry-After.
    pub fn paced(&self, pacer: Arc<Pacer>) -> Self {
        ServiceClient {
            pacer: Some(pacer),
            ..self.clone()
        }
    }

    /// The request timeout of each request.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
        let w: WirePolicy = self
            .call(Method::GET, url, None, cred, log)
            .await?
            .decode("a policy")?;
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
        let answer = self.call(Method::GET, url, None, cred, log).await?;
        let w: WirePolicyItem = answer.decode("a product policy")?;
        answer.require("a product policy", "productId", &w.product_id)?;
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
        let answer = self.call(Method::PUT, url, Some(body), cred, log).await?;
        let w: WirePolicyItem = answer.decode("a product policy")?;
        answer.require("a product policy", "productId", &w.product_id)?;
        answer.confirms(value, &w)?;
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
        let w: WirePolicyItem = self
            .call(Method::GET, url, None, cred, log)
            .await?
            .decode("an offer type policy")?;
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
        let answer = self.call(Method::PUT, url, Some(body), cred, log).await?;
        let w: WirePolicyItem = answer.decode("an offer type policy")?;
        answer.confirms(value, &w)?;
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
    async fn list<T: DeserializeOwned + Required>(
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
            let answer = self.call(Method::GET, url.clone(), None, cred, log).await?;
            let page = &answer.body;
            // An array, or an object with its items under `items` (or
            // OData's `value`): `{}` is not an empty listing.
            let items = match page {
                Value::Array(_) => page.clone(),
                Value::Object(o) => match o.get("items").or_else(|| o.get("value")) {
                    Some(items @ Value::Array(_)) => items.clone(),
                    _ => return Err(answer.unexpected("a listing", "it has no items array")),
                },
                _ => return Err(answer.unexpected("a listing", "it is not an object")),
            };
            let items: Vec<T> = serde_json::from_value(items)
                .map_err(|e| answer.unexpected("a listing", &e.to_string()))?;
            if let Some(field) = items.iter().find_map(Required::missing) {
                return Err(answer.unexpected("a listing", &format!("an item has no {field}")));
            }
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

    /// One operation: token, correlation id, retries of throttling, 5xx,
    /// dropped connections and bodies cut by a reset, within the request
    /// timeout; one sign-in again after a 401. A `Retry-After` longer than
    /// what is left of the timeout stops at once (the error says when to
    /// retry); a certificate refused is never retried.
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        cred: &Credential,
        log: &CallLog,
    ) -> Result<Answer> {
        // Paced requests count their time from their first slot.
        let mut deadline: Option<Instant> = None;
        let mut rejected: Option<Secret> = None;
        // The 401 that made the credential sign in again, for the error
        // when it cannot (a token given by the caller).
        let mut unauthorized: Option<Error> = None;
        let mut attempt: u32 = 0;
        loop {
            let token = match cred.token(rejected.as_ref(), log).await {
                Ok(t) => t,
                Err(e) => return Err(after_401(e, unauthorized)),
            };
            let permit = match &self.pacer {
                Some(p) => Some(p.acquire().await),
                None => None,
            };
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + self.timeout);
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
                    if is_retryable(&e) {
                        if let Some(delay) = self.backoff(attempt, deadline) {
                            attempt += 1;
                            log.push(format!(
                                "{method} {url} -> {} after {ms} ms (correlation id {correlation_id}); retry {attempt} of {} in {} ms",
                                err.message, self.max_retries, delay.as_millis()
                            ));
                            drop(permit);
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
            let retry_after = parse_retry_after(response.headers(), std::time::SystemTime::now());
            let body_bytes = read_body_capped(response).await;
            if let (Some(p), false) = (&self.pacer, status == StatusCode::TOO_MANY_REQUESTS) {
                p.answered();
            }

            if status.is_success() {
                let bytes = match body_bytes {
                    Ok(b) => b,
                    Err(e) => {
                        let e = e
                            .with_status(status.as_u16())
                            .with_correlation_id(server_cid.clone());
                        // A connection reset in the middle of the body: sent
                        // again as a dropped connection is (GET and PUT are
                        // both idempotent).
                        if e.kind == ErrorKind::Network {
                            if let Some(delay) = self.backoff(attempt, deadline) {
                                attempt += 1;
                                log.push(format!(
                                    "{method} {url} -> {} cut short after {ms} ms: {} (correlation id {server_cid}); retry {attempt} of {} in {} ms",
                                    status.as_u16(), e.message, self.max_retries, delay.as_millis()
                                ));
                                drop(permit);
                                tokio::time::sleep(delay).await;
                                continue;
                            }
                        }
                        log.push(format!(
                            "{method} {url} -> {} in {ms} ms, body refused: {} (correlation id {server_cid})",
                            status.as_u16(),
                            e.message
                        ));
                        return Err(e);
                    }
                };
                log.push(format!(
                    "{method} {url} -> {} in {ms} ms (correlation id {server_cid})",
                    status.as_u16()
                ));
                let answer = Answer {
                    body: Value::Null,
                    status: status.as_u16(),
                    correlation_id: server_cid,
                };
                if bytes.is_empty() {
                    return Ok(answer);
                }
                return match serde_json::from_slice(&bytes) {
                    Ok(body) => Ok(Answer { body, ..answer }),
                    Err(e) => Err(answer.unexpected("JSON", &e.to_string())),
                };
            }

            let service_message = body_bytes.ok().and_then(|b| service_message(&b));
            if status == StatusCode::UNAUTHORIZED && unauthorized.is_none() {
                log.push(format!(
                    "{method} {url} -> 401 in {ms} ms (correlation id {server_cid}); signing in again"
                ));
                unauthorized = Some(
                    Error::new(ErrorKind::Authentication, EXPIRED_MESSAGE)
                        .with_status(401)
                        .with_correlation_id(server_cid)
                        .with_service_message(service_message),
                );
                rejected = Some(token.secret.clone());
                continue;
            }
            let retryable = matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504);
            // A 429 to a paced request pauses all of them: until its
            // Retry-After, else the backoff.
            let paced_throttle = match (&self.pacer, &permit) {
                (Some(p), Some(permit)) if status == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after.unwrap_or_else(|| self.backoff_ceiling(attempt));
                    p.throttled(permit, wait);
                    true
                }
                _ => false,
            };
            drop(permit);
            let mut stopped_early = false;
            if retryable && attempt < self.max_retries {
                let delay = match retry_after {
                    Some(wait) => {
                        stopped_early = Instant::now() + wait >= deadline;
                        (!stopped_early).then_some(wait)
                    }
                    None => self.backoff(attempt, deadline),
                };
                if let Some(delay) = delay {
                    attempt += 1;
                    log.push(format!(
                        "{method} {url} -> {} in {ms} ms (correlation id {server_cid}); retry {attempt} of {} in {} ms",
                        status.as_u16(),
                        self.max_retries,
                        delay.as_millis()
                    ));
                    if !paced_throttle {
                        // (a paced request waits for its next slot instead)
                        tokio::time::sleep(delay).await;
                    }
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
            if let (true, Some(wait)) = (retryable, retry_after) {
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                err.retry_after_seconds = Some(seconds);
                if stopped_early || wait >= Duration::from_secs(1) {
                    err.message = format!(
                        "{}; the service asks to be called again in {seconds} s, at {}{}",
                        err.message,
                        retry_time(wait),
                        if stopped_early {
                            " (later than the request timeout allows, so no retry was made)"
                        } else {
                            ""
                        }
                    );
                }
            }
            return Err(err);
        }
    }

    /// The longest backoff after `attempt` attempts (exponential).
    fn backoff_ceiling(&self, attempt: u32) -> Duration {
        self.retry_base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(MAX_BACKOFF)
    }

    /// The backoff before the next attempt (exponential, with full jitter),
    /// or `None` when no attempt is left or the wait would run past the
    /// deadline.
    fn backoff(&self, attempt: u32, deadline: Instant) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let ms = self.backoff_ceiling(attempt).as_millis() as u64;
        let delay = Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)));
        (Instant::now() + delay < deadline).then_some(delay)
    }
}

/// The answer of one successful request: its JSON (`Null` for an empty
/// body), status and correlation id, which the errors about its shape carry.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Value,
    pub status: u16,
    pub correlation_id: String,
}

impl Answer {
    /// A 2xx answer that is not what the operation expects: MSC_SERVICE.
    fn unexpected(&self, what: &str, why: &str) -> Error {
        Error::new(
            ErrorKind::Service,
            format!(
                "the service answered {} with a body that is not {what} as expected: {why}",
                self.status
            ),
        )
        .with_status(self.status)
        .with_correlation_id(self.correlation_id.clone())
    }

    /// The body as one object of the operation, with its required fields.
    fn decode<T: DeserializeOwned + Required>(&self, what: &str) -> Result<T> {
        if !self.body.is_object() {
            return Err(self.unexpected(what, "it is not a JSON object"));
        }
        let item: T = serde_json::from_value(self.body.clone())
            .map_err(|e| self.unexpected(what, &e.to_string()))?;
        match item.missing() {
            Some(field) => Err(self.unexpected(what, &format!("it has no {field}"))),
            None => Ok(item),
        }
    }

    fn require(&self, what: &str, field: &str, value: &Option<String>) -> Result<()> {
        match value {
            Some(_) => Ok(()),
            None => Err(self.unexpected(what, &format!("it has no {field}"))),
        }
    }

    /// A PUT's answer must carry the value asked for: one that says
    /// otherwise is an error saying what the service answered.
    fn confirms(&self, asked: &str, w: &WirePolicyItem) -> Result<()> {
        let answered = w.policy_value.as_deref().unwrap_or_default();
        if answered.eq_ignore_ascii_case(asked) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Service,
            format!(
                "the service was asked to set PolicyValue '{asked}' and answered {} with PolicyValue '{}'; the change may not have been made",
                self.status,
                crate::text::echo(answered)
            ),
        )
        .with_status(self.status)
        .with_correlation_id(self.correlation_id.clone()))
    }
}

/// The fields without which an item of the service is not the expected
/// JSON (the wire types are otherwise tolerant of missing fields).
pub trait Required {
    fn missing(&self) -> Option<&'static str>;
}

impl Required for WirePolicy {
    fn missing(&self) -> Option<&'static str> {
        self.id.is_none().then_some("id")
    }
}

impl Required for WirePolicyItem {
    fn missing(&self) -> Option<&'static str> {
        self.policy_value.is_none().then_some("policyValue")
    }
}

/// The error of a call whose token the service refused (401) and that
/// could not sign in again: the credential's reason, with the 401's status,
/// correlation id and service message (a network failure or a timeout of
/// the sign-in again keeps its own).
fn after_401(mut e: Error, unauthorized: Option<Error>) -> Error {
    if let Some(u) = unauthorized.filter(|_| e.kind == ErrorKind::Authentication) {
        e.http_status = Some(401);
        e.correlation_id = u.correlation_id;
        if u.service_message.is_some() {
            e.service_message = u.service_message;
        }
    }
    e
}

/// When to call again after waiting `wait` from now, in UTC (RFC 3339).
fn retry_time(wait: Duration) -> String {
    let at = time::OffsetDateTime::now_utc()
        + time::Duration::try_from(wait).unwrap_or(time::Duration::ZERO);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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

/// `Retry-After` as a wait from `now`: seconds (RFC 9110's delay-seconds,
/// decimals tolerated), or an HTTP date (IMF-fixdate, RFC 850 or asctime);
/// a date in the past means no wait. At most [`MAX_RETRY_AFTER`].
fn parse_retry_after(
    h: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match v.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => {
            Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64()))
        }
        Ok(_) => return None,
        Err(_) => httpdate::parse_http_date(v)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
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
