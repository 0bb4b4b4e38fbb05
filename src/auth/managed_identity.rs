//! Managed identity sign-in (system-assigned, or user-assigned by client
//! id): the App Service / Azure Automation / Functions endpoint when
//! `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, else the VM's Instance
//! Metadata Service. The same requests, choice of endpoint and IMDS retries
//! as azure_identity's `ManagedIdentityCredential`, which cannot be used:
//! it reads those variables from the process only, and a host may give the
//! session a snapshot of its own ([`EnvironmentVariables`]).
//!
//! The request goes through the session's HTTP client, so its proxy and
//! extra CA apply. `IDENTITY_HEADER` is a secret: it is never logged.

use super::azure::capitalised;
use super::{Secret, Token, TokenSource};
use crate::environment::EnvironmentVariables;
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::transport::{map_reqwest_error, read_body_capped};
use async_trait::async_trait;
use serde::Deserialize;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use url::Url;

/// The VM's Instance Metadata Service.
const IMDS_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// The API version of both endpoints.
const API_VERSION: &str = "2019-08-01";
/// IMDS retries (Microsoft's guidance, as azure_identity applies it): these
/// statuses and dropped connections, up to six times, waits doubling from
/// 1.34 s, never past the request's deadline.
const IMDS_RETRY_STATUSES: [u16; 14] = [
    404, 410, 429, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
];
const IMDS_MAX_RETRIES: u32 = 6;
const IMDS_FIRST_DELAY: Duration = Duration::from_millis(1340);

/// Where the tokens come from.
enum Endpoint {
    AppService { url: Url, secret: Secret },
    Imds,
}

/// The endpoint the variables name, chosen as azure_identity chooses it;
/// the kinds it does not support are refused the same way.
fn endpoint(env: &EnvironmentVariables) -> Result<Endpoint> {
    let unsupported = |what: &str| {
        Err(Error::new(
            ErrorKind::Authentication,
            format!("{what} managed identity isn't supported"),
        ))
    };
    if let Some(endpoint) = env.var("IDENTITY_ENDPOINT") {
        if let Some(secret) = env.var("IDENTITY_HEADER") {
            if env.is_set("IDENTITY_SERVER_THUMBPRINT") {
                return unsupported("Service Fabric");
            }
            let url = Url::parse(&endpoint).map_err(|e| {
                Error::new(
                    ErrorKind::Authentication,
                    format!(
                        "the IDENTITY_ENDPOINT environment variable must be a valid URL, but is '{}': {e}",
                        crate::text::echo(&endpoint)
                    ),
                )
            })?;
            return Ok(Endpoint::AppService {
                url,
                secret: Secret::new(secret),
            });
        }
        if env.is_set("IMDS_ENDPOINT") {
            return unsupported("Azure Arc");
        }
    } else if env.is_set("MSI_ENDPOINT") {
        return unsupported(if env.is_set("MSI_SECRET") {
            "Azure ML"
        } else {
            "CloudShell"
        });
    }
    Ok(Endpoint::Imds)
}

/// Where the managed identity's tokens come from, for log lines (never the
/// secret, nor the endpoint's query).
pub fn endpoint_description(env: &EnvironmentVariables) -> String {
    match endpoint(env) {
        Ok(Endpoint::AppService { mut url, .. }) => {
            url.set_query(None);
            format!("the App Service/Automation endpoint {url}")
        }
        Ok(Endpoint::Imds) => "the Instance Metadata Service (IMDS)".into(),
        Err(_) => "an unsupported managed identity endpoint".into(),
    }
}

/// A token source for the managed identity; `client_id` picks a
/// user-assigned one. The variables are read at each sign-in.
pub struct ManagedIdentitySource {
    http: reqwest::Client,
    env: EnvironmentVariables,
    client_id: Option<String>,
    scope: String,
    timeout: Duration,
}

impl ManagedIdentitySource {
    pub fn new(
        http: reqwest::Client,
        env: EnvironmentVariables,
        client_id: Option<&str>,
        scope: String,
        timeout: Duration,
    ) -> Self {
        ManagedIdentitySource {
            http,
            env,
            client_id: client_id.map(str::to_string),
            scope,
            timeout,
        }
    }

    fn what(&self) -> &'static str {
        match self.client_id {
            Some(_) => "user-assigned managed identity sign-in",
            None => "system-assigned managed identity sign-in",
        }
    }

    /// One token request (with IMDS's retries).
    async fn request(&self, endpoint: &Endpoint, log: &CallLog) -> Result<Token> {
        let resource = self.scope.strip_suffix("/.default").unwrap_or(&self.scope);
        let mut url = match endpoint {
            Endpoint::AppService { url, .. } => url.clone(),
            Endpoint::Imds => Url::parse(IMDS_URL).expect("a valid constant"),
        };
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION)
            .append_pair("resource", resource);
        if let Some(c) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", c);
        }
        let is_imds = matches!(endpoint, Endpoint::Imds);
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .get(url.clone())
                .timeout(deadline.saturating_duration_since(Instant::now()))
                .header("metadata", "true");
            if let Endpoint::AppService { secret, .. } = endpoint {
                let mut value =
                    reqwest::header::HeaderValue::from_str(secret.expose()).map_err(|_| {
                        Error::new(
                            ErrorKind::Authentication,
                            "the IDENTITY_HEADER environment variable is not a valid header value",
                        )
                    })?;
                value.set_sensitive(true);
                req = req.header("x-identity-header", value);
            }
            let started = Instant::now();
            let outcome = match req.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    read_body_capped(response).await.map(|b| (status, b))
                }
                Err(e) => Err(map_reqwest_error(&e)),
            };
            let ms = started.elapsed().as_millis();
            let shown = {
                let mut u = url.clone();
                u.set_query(None);
                u
            };
            let retry = match &outcome {
                Ok((status, _)) => IMDS_RETRY_STATUSES.contains(status),
                Err(e) => e.kind == ErrorKind::Network,
            };
            let delay = IMDS_FIRST_DELAY.saturating_mul(1 << attempt.min(16));
            if is_imds && retry && attempt < IMDS_MAX_RETRIES && Instant::now() + delay < deadline {
                attempt += 1;
                let got = match &outcome {
                    Ok((status, _)) => status.to_string(),
                    Err(e) => e.message.clone(),
                };
                log.push(format!(
                    "GET {shown} -> {got} in {ms} ms; retry {attempt} of {IMDS_MAX_RETRIES} in {} ms",
                    delay.as_millis()
                ));
                tokio::time::sleep(delay).await;
                continue;
            }
            return match outcome {
                Ok((status, body)) => {
                    log.push(format!("GET {shown} -> {status} in {ms} ms"));
                    token_from_answer(status, &body)
                }
                Err(e) => {
                    log.push(format!("GET {shown} -> failed: {}", e.message));
                    Err(e)
                }
            };
        }
    }
}

/// The token of a managed identity endpoint's answer, or its error.
fn token_from_answer(status: u16, body: &[u8]) -> Result<Token> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: Secret,
        #[serde(default)]
        expires_on: Option<serde_json::Value>,
    }
    if !(200..300).contains(&status) {
        let reason = match status {
            400 => "The requested identity has not been assigned to this resource".to_string(),
            502 | 504 => "The request failed due to a gateway error".to_string(),
            _ => "The request failed".to_string(),
        };
        let said = crate::client::service_message(body);
        let message = match &said {
            Some(m) => format!("ManagedIdentityCredential authentication failed. {reason}: {m}"),
            None => format!("ManagedIdentityCredential authentication failed. {reason}"),
        };
        return Err(Error::new(ErrorKind::Authentication, message)
            .with_status(status)
            .with_service_message(said));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::Service,
            format!("the managed identity endpoint's answer is not a token: {e}"),
        )
        .with_status(status)
    })?;
    // `expires_on`: seconds since 1970, as a string (both endpoints) or a
    // number; else the token's own expiry.
    let expires_on = answer
        .expires_on
        .and_then(|v| match v {
            serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        })
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    let mut token = Token::from_bearer(answer.access_token);
    if expires_on.is_some() {
        token.expires_on = expires_on;
    }
    Ok(token)
}

#[async_trait]
impl TokenSource for ManagedIdentitySource {
    async fn acquire(&self, log: &CallLog) -> Result<Token> {
        let what = self.what();
        let failed = format!("{} failed", capitalised(what));
        let endpoint = endpoint(&self.env).map_err(|e| e.context(&failed))?;
        let at = endpoint_description(&self.env);
        let started = Instant::now();
        let result = self.request(&endpoint, log).await;
        let ms = started.elapsed().as_millis();
        match result {
            Ok(token) => {
                log.push(format!("{what} at {at} -> token in {ms} ms"));
                Ok(token)
            }
            Err(e) => {
                log.push(format!("{what} at {at} -> failed in {ms} ms"));
                Err(e.context(&failed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(v: serde_json::Value) -> EnvironmentVariables {
        EnvironmentVariables::from_json(&v).unwrap()
    }

    #[test]
    fn the_endpoint_follows_the_variables() {
        let app = env(
            json!({"IDENTITY_ENDPOINT": "http://127.0.0.1:41234/msi/token?x=1", "IDENTITY_HEADER": "s3cret"}),
        );
        assert!(matches!(endpoint(&app), Ok(Endpoint::AppService { .. })));
        let d = endpoint_description(&app);
        assert_eq!(
            d,
            "the App Service/Automation endpoint http://127.0.0.1:41234/msi/token"
        );
        assert!(!d.contains("s3cret"));
        for imds in [
            json!({}),
            json!({"IDENTITY_ENDPOINT": "http://x"}),
            json!({"IDENTITY_HEADER": "s"}),
        ] {
            assert!(matches!(endpoint(&env(imds)), Ok(Endpoint::Imds)));
        }
        for (vars, what) in [
            (
                json!({"IDENTITY_ENDPOINT": "http://x", "IDENTITY_HEADER": "s", "IDENTITY_SERVER_THUMBPRINT": "t"}),
                "Service Fabric",
            ),
            (
                json!({"IDENTITY_ENDPOINT": "http://x", "IMDS_ENDPOINT": "http://y"}),
                "Azure Arc",
            ),
            (
                json!({"MSI_ENDPOINT": "http://x", "MSI_SECRET": "s"}),
                "Azure ML",
            ),
            (json!({"MSI_ENDPOINT": "http://x"}), "CloudShell"),
        ] {
            let e = endpoint(&env(vars)).err().expect(what);
            assert_eq!(e.kind, ErrorKind::Authentication);
            assert!(e.message.starts_with(what), "{}", e.message);
        }
        let bad = env(json!({"IDENTITY_ENDPOINT": "not a url", "IDENTITY_HEADER": "s"}));
        assert!(endpoint(&bad).is_err());
    }

    #[test]
    fn answers() {
        let t = token_from_answer(
            200,
            br#"{"access_token":"abc","expires_on":"1900000000","token_type":"Bearer","resource":"r"}"#,
        )
        .unwrap();
        assert_eq!(t.secret.expose(), "abc");
        assert_eq!(t.expires_on.unwrap().unix_timestamp(), 1_900_000_000);
        let t =
            token_from_answer(200, br#"{"access_token":"abc","expires_on":1900000001}"#).unwrap();
        assert_eq!(t.expires_on.unwrap().unix_timestamp(), 1_900_000_001);
        let e = token_from_answer(
            400,
            br#"{"error":"invalid_request","error_description":"Identity not found"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert_eq!(e.http_status, Some(400));
        assert!(e.message.contains("not been assigned"), "{}", e.message);
        assert!(e.message.contains("Identity not found"), "{}", e.message);
        let e = token_from_answer(200, b"<html>").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Service);
    }
}
