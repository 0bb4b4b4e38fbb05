//! App-only sign-in through azure_identity's credentials (client secret,
//! client assertion), driven by the session's HTTP client through
//! [`SignInTransport`].

use super::{Token, TokenSource};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::transport::{map_reqwest_error, read_body_capped};
use async_trait::async_trait;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::{AsyncRawResponse, Body, ClientOptions, Request, RetryOptions, Transport};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Makes a new azure_identity credential.
pub type MakeCredential =
    Box<dyn Fn() -> azure_core::Result<Arc<dyn TokenCredential>> + Send + Sync>;

/// The transport azure_identity's credentials send through: the session's
/// HTTP client (its proxy, trust store and TLS settings), with what
/// azure_identity's own reqwest transport lacks:
/// - every request is bounded by the request timeout;
/// - every answer is read with the cap of all bodies
///   ([`crate::transport::MAX_BODY_BYTES`]), never whole;
/// - failures are this crate's errors, mapped as in every other flow
///   ([`map_reqwest_error`]: a refused connection is Network, a timeout
///   Timeout; [`super::oauth_http::token_endpoint_error`]: the platform's
///   error document is Authentication with its AADSTS code and description,
///   whatever characters the description holds), carried through
///   azure_identity inside its error and found again by
///   [`map_azure_error`];
/// - a 2xx answer that is not a token response is Service.
#[derive(Debug, Clone)]
pub struct SignInTransport {
    http: reqwest::Client,
    timeout: Duration,
}

impl SignInTransport {
    pub fn new(http: reqwest::Client, timeout: Duration) -> Self {
        SignInTransport { http, timeout }
    }

    async fn send(&self, request: &Request) -> Result<AsyncRawResponse> {
        let method = reqwest::Method::from_bytes(request.method().as_ref().as_bytes())
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut req = self
            .http
            .request(method, request.url().clone())
            .timeout(self.timeout);
        for (name, value) in request.headers().iter() {
            req = req.header(name.as_str(), value.as_str());
        }
        req = match request.body() {
            Body::Bytes(bytes) => req.body(bytes.to_vec()),
            #[allow(unreachable_patterns)]
            _ => return Err(Error::internal("a streamed sign-in request body")),
        };
        let response = req.send().await.map_err(|e| map_reqwest_error(&e))?;
        let status = response.status().as_u16();
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            if let Ok(v) = value.to_str() {
                headers.insert(
                    HeaderName::from(name.as_str().to_owned()),
                    HeaderValue::from(v.to_owned()),
                );
            }
        }
        let body = read_body_capped(response).await?;
        if !(200..300).contains(&status) {
            return Err(super::oauth_http::token_endpoint_error(status, &body));
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            #[allow(dead_code)]
            access_token: String,
        }
        if let Err(e) = serde_json::from_slice::<TokenAnswer>(&body) {
            return Err(Error::new(
                ErrorKind::Service,
                format!("the sign-in answer is not a token response: {e}"),
            )
            .with_status(status));
        }
        Ok(AsyncRawResponse::from_bytes(status.into(), headers, body))
    }
}

#[async_trait]
impl azure_core::http::HttpClient for SignInTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        self.send(request)
            .await
            .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Other, e))
    }
}

/// azure_identity client options that send through `transport` to
/// `authority`. Retries are ours (the cache signs in again on the next
/// call), so the pipeline's own are off.
pub fn azure_client_options(transport: &SignInTransport, authority: &url::Url) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority.as_str().trim_end_matches('/').to_string();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(transport.clone()))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        retry: RetryOptions::none(),
        ..Default::default()
    }
}

/// azure_identity refuses an authority that is not `https://`; say so in
/// our words before it does.
pub fn require_https(what: &str, authority: &url::Url) -> Result<()> {
    if authority.scheme() == "https" {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} needs an https:// sign-in authority; '{authority}' is not one (azure_identity refuses plain HTTP)"
        )))
    }
}

/// Turn an azure_core error into ours, keeping the platform's AADSTS text.
/// An error of [`SignInTransport`] travels inside azure_identity's and comes
/// back as it was, with "`what` failed" before it.
pub fn map_azure_error(what: &str, e: &azure_core::Error) -> Error {
    use azure_core::error::ErrorKind as K;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(ours) = err.downcast_ref::<Error>() {
            return ours.clone().context(&format!("{what} failed"));
        }
        current = err.source();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        source = s.source();
    }
    let text = super::oauth_http::first_line(&text);
    let kind = match e.kind() {
        K::Io | K::Connection => ErrorKind::Network,
        _ => ErrorKind::Authentication,
    };
    // The HTTP status, on this error or one it wraps (azure_identity wraps
    // the pipeline's error in a credential error).
    let mut status = None;
    let mut current: Option<&azure_core::Error> = Some(e);
    while let Some(err) = current {
        if let K::HttpResponse { status: s, .. } = err.kind() {
            status = Some(u16::from(*s));
            break;
        }
        current = std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<azure_core::Error>())
            .or_else(|| err.downcast_ref::<azure_core::Error>());
    }
    let mut err = Error::new(kind, format!("{what} failed: {text}"));
    err.http_status = status;
    err
}

/// A token source over an azure_identity credential.
///
/// A new credential is made for every token: azure_identity's credentials
/// keep their own cache, which would hand back a token the service has just
/// refused. Renewal timing is [`super::Credential`]'s alone; making a
/// credential does no I/O.
pub struct AzureSource {
    /// "client secret sign-in", for log lines and errors.
    what: &'static str,
    /// Where it signs in (an authority and tenant, or the managed identity
    /// endpoint), for log lines; never a secret.
    at: String,
    scope: String,
    make: MakeCredential,
}

impl AzureSource {
    pub fn new(what: &'static str, at: String, scope: String, make: MakeCredential) -> Self {
        AzureSource {
            what,
            at,
            scope,
            make,
        }
    }
}

/// The first letter in upper case ("Client secret sign-in").
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[async_trait]
impl TokenSource for AzureSource {
    async fn acquire(&self, log: &CallLog) -> Result<Token> {
        let what = capitalised(self.what);
        let credential = (self.make)().map_err(|e| map_azure_error(&what, &e))?;
        let started = Instant::now();
        let result = credential.get_token(&[&self.scope], None).await;
        let ms = started.elapsed().as_millis();
        match result {
            Ok(t) => {
                log.push(format!("{} at {} -> token in {ms} ms", self.what, self.at));
                Ok(Token {
                    secret: super::Secret::new(t.token.secret().to_string()),
                    expires_on: Some(t.expires_on),
                })
            }
            Err(e) => {
                log.push(format!("{} at {} -> failed in {ms} ms", self.what, self.at));
                Err(map_azure_error(&what, &e))
            }
        }
    }
}
