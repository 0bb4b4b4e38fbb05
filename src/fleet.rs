//! Many tenants in one call (docs/fleet.md §3): a get or update request
//! with `tenants` runs as the single-tenant request once per tenant, with
//! that tenant's token (`tenantId`), at most `tenantConcurrency` tenants at
//! a time. One tenant's failure is its own result, never the others'.

use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::session::Session;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Tenants worked on at the same time unless the request says.
pub const DEFAULT_TENANT_CONCURRENCY: usize = 4;
pub const MAX_TENANT_CONCURRENCY: usize = 64;
/// Most tenants of one request.
pub const MAX_TENANTS: usize = 10_000;

/// Which operation runs per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Update,
}

/// A request with `tenants`: the tenants, the concurrency, and the
/// single-tenant request (without those two fields).
#[derive(Debug, Clone)]
pub struct FleetRequest {
    pub tenants: Vec<String>,
    pub concurrency: usize,
    pub rest: Map<String, Value>,
}

/// How a tenant's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TenantStatus {
    Succeeded,
    Failed,
    Drifted,
}

/// One tenant's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TenantResult {
    pub tenant_id: String,
    pub status: TenantStatus,
    pub reason: Option<&'static str>,
    pub error: Option<Value>,
    pub value: Option<Value>,
}

/// How far a fleet run is (the steps' answer). Each tenant done counts in
/// exactly one of `succeeded`, `drifted` (a `baselineDrift` get that found
/// drift) and `failed`, as its result's `Status` says.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FleetProgress {
    pub finished: bool,
    pub tenants: usize,
    pub tenants_done: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub drifted: usize,
    pub results: Option<Vec<TenantResult>>,
}

impl FleetProgress {
    /// The last progress of a run: finished, counted from its results.
    pub fn finished_with(results: Vec<TenantResult>) -> FleetProgress {
        let count = |s: TenantStatus| results.iter().filter(|r| r.status == s).count();
        FleetProgress {
            finished: true,
            tenants: results.len(),
            tenants_done: results.len(),
            succeeded: count(TenantStatus::Succeeded),
            failed: count(TenantStatus::Failed),
            drifted: count(TenantStatus::Drifted),
            results: Some(results),
        }
    }
}

pub type FleetProgressFn<'a> = &'a (dyn Fn(&FleetProgress) + Sync);

impl FleetRequest {
    /// The fleet part of a request, or `None` when it has no `tenants`
    /// (a single-tenant request, untouched).
    pub fn parse(request: &str) -> Result<Option<FleetRequest>> {
        if !request.contains("\"tenants\"") {
            return Ok(None);
        }
        let mut rest: Map<String, Value> = crate::options::parse_json_object("request", request)?;
        let tenants = match rest.remove("tenants") {
            None | Some(Value::Null) => {
                if rest.contains_key("tenantConcurrency") {
                    return Err(Error::invalid("tenantConcurrency goes with tenants"));
                }
                return Ok(None);
            }
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(Error::invalid(
                    "tenants must be an array of tenant ids (GUIDs) or domain names",
                ))
            }
        };
        if tenants.is_empty() || tenants.len() > MAX_TENANTS {
            return Err(Error::invalid(format!(
                "tenants must name 1 to {MAX_TENANTS} tenants; got {}",
                tenants.len()
            )));
        }
        let mut list: Vec<String> = Vec::with_capacity(tenants.len());
        for t in tenants {
            let Value::String(t) = t else {
                return Err(Error::invalid(
                    "tenants must be an array of tenant ids (GUIDs) or domain names",
                ));
            };
            let t = t.trim().to_string();
            crate::auth::validate_tenant(&t)?;
            if !list.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                list.push(t);
            }
        }
        let concurrency = match rest.remove("tenantConcurrency") {
            None | Some(Value::Null) => DEFAULT_TENANT_CONCURRENCY,
            Some(c) => match c.as_u64() {
                Some(n) if (1..=MAX_TENANT_CONCURRENCY as u64).contains(&n) => n as usize,
                _ => {
                    return Err(Error::invalid(format!(
                        "tenantConcurrency must be from 1 to {MAX_TENANT_CONCURRENCY}; got {}",
                        crate::text::echo(&c.to_string())
                    )))
                }
            },
        };
        for field in ["tenantId", "accessToken"] {
            if rest.get(field).is_some_and(|v| !v.is_null()) {
                return Err(Error::invalid(format!(
                    "{field} does not go with tenants (each tenant's token is the session's)"
                )));
            }
        }
        Ok(Some(FleetRequest {
            tenants: list,
            concurrency,
            rest,
        }))
    }

    /// The single-tenant request of one tenant.
    pub fn tenant_request(&self, tenant: &str) -> String {
        let mut r = self.rest.clone();
        r.remove("step");
        r.insert("tenantId".into(), Value::String(tenant.to_string()));
        Value::Object(r).to_string()
    }

    /// The request's step (`start`, `poll`, `cancel`), lower case.
    pub fn step(&self) -> Option<String> {
        self.rest
            .get("step")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
    }

    /// How long the whole run may take, given one tenant's limit.
    pub fn limit(&self, per_tenant: std::time::Duration) -> std::time::Duration {
        let rounds = self.tenants.len().div_ceil(self.concurrency) as u32;
        per_tenant * rounds + per_tenant
    }

    fn resource(&self) -> Option<&str> {
        self.rest.get("resource").and_then(Value::as_str)
    }
}

/// Why a tenant failed, from its error (docs/fleet.md §3), and the message
/// that names the tenant.
pub fn classify(e: &Error, tenant: &str) -> (&'static str, String) {
    let m = &e.message;
    let code = [
        "AADSTS700016",
        "AADSTS7000229",
        "AADSTS650051",
        "AADSTS65001",
    ]
    .into_iter()
    .find(|c| {
        m.match_indices(c).any(|(at, _)| {
            !m[at + c.len()..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_digit())
        })
    });
    if let Some(code) = code {
        return ("NotConsented", format!(
            "tenant '{tenant}': the application is not consented in this tenant ({code}): a Global Administrator of {tenant} must grant admin consent to it; {m}"
        ));
    }
    if m.contains("AADSTS90002") {
        return (
            "TenantNotFound",
            format!(
                "tenant '{tenant}' was not found (AADSTS90002): check the tenant id or domain; {m}"
            ),
        );
    }
    let reason = match e.kind {
        ErrorKind::Forbidden => {
            return ("Forbidden", format!(
                "tenant '{tenant}': the service refused (HTTP 403): the app or the partner user has no role allowing this in {tenant} (Billing or Global Administrator, or a GDAP role); {m}"
            ))
        }
        ErrorKind::Authentication => "SignIn",
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::NotConnected => "NotConnected",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Throttled => "Throttled",
        ErrorKind::Service => "Service",
        ErrorKind::Network => "Network",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::Pending | ErrorKind::Internal => "Internal",
    };
    (reason, format!("tenant '{tenant}': {m}"))
}

/// A tenant's result from its call's outcome.
fn result_of(tenant: &str, op: Op, resource: Option<&str>, outcome: Result<Value>) -> TenantResult {
    match outcome {
        Ok(value) => {
            let items = value.as_array();
            let failed = op == Op::Update
                && items.is_some_and(|a| a.iter().any(|r| r["Status"] == "Failed"));
            let drifted = op == Op::Get
                && resource == Some("baselineDrift")
                && items.is_some_and(|a| !a.is_empty());
            let (status, reason) = if failed {
                (TenantStatus::Failed, Some("ProductsFailed"))
            } else if drifted {
                (TenantStatus::Drifted, None)
            } else {
                (TenantStatus::Succeeded, None)
            };
            TenantResult {
                tenant_id: tenant.to_string(),
                status,
                reason,
                error: None,
                value: Some(value),
            }
        }
        Err(e) => {
            let (reason, message) = classify(&e, tenant);
            let mut e = e;
            e.message = message;
            TenantResult {
                tenant_id: tenant.to_string(),
                status: TenantStatus::Failed,
                reason: Some(reason),
                error: Some(e.to_json()),
                value: None,
            }
        }
    }
}

/// Run a fleet request: each tenant's request through `session`, at most
/// `concurrency` at a time; `cancel` stops starting tenants (those not
/// started are Failed, Cancelled). Results in request order.
pub async fn run(
    session: &Session,
    op: Op,
    req: &FleetRequest,
    log: &CallLog,
    cancel: &AtomicBool,
    on_progress: FleetProgressFn<'_>,
) -> Vec<TenantResult> {
    let n = req.tenants.len();
    let next = AtomicUsize::new(0);
    let book = Mutex::new((
        vec![None::<TenantResult>; n],
        FleetProgress {
            tenants: n,
            ..Default::default()
        },
    ));
    let lines = Mutex::new(Vec::<(usize, String)>::new());
    let resource = req.resource();
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= n {
                return;
            }
            let tenant = &req.tenants[i];
            let result = if cancel.load(Ordering::SeqCst) {
                TenantResult {
                    tenant_id: tenant.clone(),
                    status: TenantStatus::Failed,
                    reason: Some("Cancelled"),
                    error: Some(
                        Error::new(
                            ErrorKind::Timeout,
                            format!("tenant '{tenant}': cancelled before it started"),
                        )
                        .to_json(),
                    ),
                    value: None,
                }
            } else {
                let request = req.tenant_request(tenant);
                let tenant_log = CallLog::new();
                let outcome = match op {
                    Op::Get => session.get(&request, &tenant_log).await,
                    Op::Update => session.update(&request, &tenant_log).await,
                };
                if let (Ok(mut l), Some(last)) = (lines.lock(), tenant_log.take().pop()) {
                    l.push((i, format!("tenant {tenant}: {last}")));
                }
                result_of(tenant, op, resource, outcome)
            };
            let progress = match book.lock() {
                Ok(mut b) => {
                    match result.status {
                        TenantStatus::Failed => b.1.failed += 1,
                        TenantStatus::Drifted => b.1.drifted += 1,
                        TenantStatus::Succeeded => b.1.succeeded += 1,
                    }
                    b.1.tenants_done += 1;
                    b.0[i] = Some(result);
                    b.1.clone()
                }
                Err(_) => return,
            };
            on_progress(&progress);
        }
    };
    let workers = req.concurrency.min(n);
    crate::bulk::join_all((0..workers).map(|_| worker()).collect()).await;
    let mut lines = lines.into_inner().unwrap_or_default();
    lines.sort_by_key(|(i, _)| *i);
    for (_, line) in lines {
        log.push(line);
    }
    let (results, _) = book.into_inner().unwrap_or_default();
    let results: Vec<TenantResult> = results
        .into_iter()
        .zip(&req.tenants)
        .map(|(r, t)| {
            r.unwrap_or_else(|| {
                result_of(
                    t,
                    op,
                    resource,
                    Err(Error::internal("the tenant's run ended without a result")),
                )
            })
        })
        .collect();
    let count = |s: TenantStatus| results.iter().filter(|r| r.status == s).count();
    log.push(format!(
        "fleet: {n} tenants, {} succeeded, {} failed, {} drifted, tenantConcurrency {}",
        count(TenantStatus::Succeeded),
        count(TenantStatus::Failed),
        count(TenantStatus::Drifted),
        req.concurrency
    ));
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert!(FleetRequest::parse(r#"{"resource":"policies"}"#)
            .unwrap()
            .is_none());
        let r = FleetRequest::parse(
            r#"{"resource":"baseline","tenants":["A.onmicrosoft.com","a.onmicrosoft.com","00000000-0000-4000-8000-000000000001"],"tenantConcurrency":2}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.tenants.len(), 2);
        assert_eq!(r.concurrency, 2);
        let one: Value = serde_json::from_str(&r.tenant_request("x.com")).unwrap();
        assert_eq!(one["tenantId"], "x.com");
        assert!(one.get("tenants").is_none());
        for bad in [
            r#"{"tenants":[]}"#,
            r#"{"tenants":"a.com"}"#,
            r#"{"tenants":["a/b"]}"#,
            r#"{"tenants":["a.com"],"tenantConcurrency":0}"#,
            r#"{"tenants":["a.com"],"tenantConcurrency":65}"#,
            r#"{"tenants":["a.com"],"tenantId":"b.com"}"#,
            r#"{"tenants":["a.com"],"accessToken":"x"}"#,
        ] {
            assert_eq!(
                FleetRequest::parse(bad).unwrap_err().kind,
                ErrorKind::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn reasons() {
        let e = |k, m: &str| Error::new(k, m);
        let t = "t.example";
        let (r, m) = classify(
            &e(
                ErrorKind::Authentication,
                "unauthorized_client: AADSTS700016: Application …",
            ),
            t,
        );
        assert_eq!(r, "NotConsented");
        assert!(m.starts_with("tenant 't.example': the application is not consented"));
        assert_eq!(
            classify(&e(ErrorKind::Authentication, "AADSTS7000229: x"), t).0,
            "NotConsented"
        );
        assert_eq!(
            classify(&e(ErrorKind::Authentication, "AADSTS7000215: x"), t).0,
            "SignIn"
        );
        assert_eq!(
            classify(&e(ErrorKind::Authentication, "AADSTS90002: x"), t).0,
            "TenantNotFound"
        );
        assert_eq!(classify(&e(ErrorKind::Forbidden, "no"), t).0, "Forbidden");
    }
}
