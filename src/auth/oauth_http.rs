//! The OAuth 2.0 side of the user flows (the `oauth2` crate driven through
//! the session's HTTP client) and the mapping of the identity platform's
//! errors onto this crate's.

use super::{Secret, Token};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::transport::{map_reqwest_error, read_body_capped};
use oauth2::basic::{BasicErrorResponse, BasicTokenResponse};
use oauth2::{RequestTokenError, TokenResponse};
use std::time::Instant;
use time::OffsetDateTime;

/// The session's HTTP client as the `oauth2` crate's client (a struct, not a
/// closure, so the futures stay `Send` for any borrow).
pub struct OAuthHttp<'a> {
    pub http: &'a reqwest::Client,
    pub log: &'a CallLog,
}

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.http, self.log, request))
    }
}

/// Send one request of the `oauth2` crate with the session's client, and log
/// its method, URL, status and time (request bodies, which carry secrets,
/// are never logged).
pub async fn send(
    http: &reqwest::Client,
    log: &CallLog,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut req = http.request(method.clone(), &url).body(body);
    for (name, value) in parts.headers.iter() {
        req = req.header(name.as_str(), value.as_bytes());
    }
    let response = req.send().await.map_err(|e| {
        let err = map_reqwest_error(&e);
        log.push(format!("{method} {url} -> failed: {}", err.message));
        err
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body_capped(response).await?;
    log.push(format!(
        "{method} {url} -> {} in {} ms",
        status.as_u16(),
        started.elapsed().as_millis()
    ));
    let mut out = oauth2::HttpResponse::new(body);
    *out.status_mut() = oauth2::http::StatusCode::from_u16(status.as_u16())
        .map_err(|e| Error::internal(e.to_string()))?;
    for (name, value) in headers.iter() {
        if let (Ok(n), Ok(v)) = (
            oauth2::http::HeaderName::from_bytes(name.as_str().as_bytes()),
            oauth2::http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().append(n, v);
        }
    }
    Ok(out)
}

/// The identity platform's error document (`error`, `error_description`)
/// as this crate's error, the same for every flow: Authentication,
/// `invalid_grant: AADSTS50126: …` (the description's first line starts
/// with the AADSTS code; later lines hold a trace id and a time), the
/// description's first line as the service's message.
pub fn platform_error(code: &str, description: Option<&str>) -> Error {
    let description = description.map(first_line).unwrap_or_default();
    Error::new(ErrorKind::Authentication, format!("{code}: {description}"))
        .with_service_message(Some(description))
}

/// A token endpoint's answer other than 2xx: the platform's error
/// document ([`platform_error`]), or Service when the body is not one.
pub fn token_endpoint_error(status: u16, body: &[u8]) -> Error {
    #[derive(serde::Deserialize)]
    struct ErrorDocument {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<ErrorDocument>(body) {
        Ok(d) => platform_error(&d.error, d.error_description.as_deref()),
        Err(_) => Error::new(
            ErrorKind::Service,
            format!("the sign-in endpoint answered {status} without an error document"),
        )
        .with_service_message(crate::client::service_message(body)),
    }
    .with_status(status)
}

/// The platform's error (`invalid_grant: AADSTS50126: …`) as an
/// Authentication error; transport failures keep their kind.
pub fn map_token_error(what: &str, e: RequestTokenError<Error, BasicErrorResponse>) -> Error {
    match e {
        RequestTokenError::ServerResponse(r) => platform_error(
            r.error().as_ref(),
            r.error_description().map(String::as_str),
        )
        .context(&format!("{what} failed")),
        RequestTokenError::Request(inner) => inner.context(&format!("{what} failed")),
        RequestTokenError::Parse(err, _) => Error::new(
            ErrorKind::Service,
            format!("{what} failed: the sign-in answer is not a token response: {err}"),
        ),
        RequestTokenError::Other(s) => {
            Error::new(ErrorKind::Authentication, format!("{what} failed: {s}"))
        }
    }
}

/// The platform's descriptions carry a trace id and timestamp on later lines.
pub fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// A token from a token response, and its refresh token if any.
pub fn token_from_response(r: &BasicTokenResponse) -> (Token, Option<Secret>) {
    let secret = Secret::new(r.access_token().secret().clone());
    let mut token = Token::from_bearer(secret);
    if let Some(d) = r.expires_in() {
        token.expires_on =
            Some(OffsetDateTime::now_utc() + time::Duration::seconds(d.as_secs() as i64));
    }
    let refresh = r.refresh_token().map(|t| Secret::new(t.secret().clone()));
    (token, refresh)
}
