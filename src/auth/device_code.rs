//! Device code sign-in in two steps: `start` asks the platform for a code
//! and answers the message to show the user; each `poll` waits at most a
//! short budget (and no less than the interval the platform asked for
//! between requests), then asks the token endpoint once.

use super::oauth_http::{map_token_error, platform_error, token_from_response, OAuthHttp};
use super::refresh::user_scopes;
use super::{Secret, Token};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::transport::{map_reqwest_error, read_body_capped};
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    ClientId, DeviceAuthorizationResponse, DeviceAuthorizationUrl, ExtraDeviceAuthorizationFields,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The platform's device code answer carries a ready-made `message`.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct PlatformFields {
    #[serde(default)]
    message: Option<String>,
}
impl ExtraDeviceAuthorizationFields for PlatformFields {}

/// What `start` answers: for the host to show.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceCodeStart {
    pub message: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_on: OffsetDateTime,
}

/// A device code sign-in in progress.
pub struct DeviceCodeFlow {
    http: reqwest::Client,
    token_url: url::Url,
    client_id: String,
    device_code: Secret,
    pub user_code: String,
    expires_on: OffsetDateTime,
    interval: Duration,
    next_poll: Instant,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl DeviceCodeFlow {
    /// Ask `devicecode_url` for a code.
    pub async fn start(
        http: &reqwest::Client,
        devicecode_url: url::Url,
        token_url: url::Url,
        client_id: &str,
        scope: &str,
        log: &CallLog,
    ) -> Result<(DeviceCodeFlow, DeviceCodeStart)> {
        let client = BasicClient::new(ClientId::new(client_id.to_string()))
            .set_device_authorization_url(DeviceAuthorizationUrl::from_url(devicecode_url));
        let oauth_http = OAuthHttp { http, log };
        let details: DeviceAuthorizationResponse<PlatformFields> = client
            .exchange_device_code()
            .add_scopes(user_scopes(scope))
            .request_async(&oauth_http)
            .await
            .map_err(|e| map_token_error("Sign-in with a device code", e))?;
        let now = OffsetDateTime::now_utc();
        let expires_on = now + time::Duration::seconds(details.expires_in().as_secs() as i64);
        let user_code = details.user_code().secret().clone();
        let verification_uri = details.verification_uri().to_string();
        let message = details.extra_fields().message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
            )
        });
        let interval = details.interval().max(Duration::from_secs(1));
        log.push(format!(
            "device code issued; the user has until {} to enter it",
            expires_on
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ));
        let flow = DeviceCodeFlow {
            http: http.clone(),
            token_url,
            client_id: client_id.to_string(),
            device_code: Secret::new(details.device_code().secret().clone()),
            user_code: user_code.clone(),
            expires_on,
            interval,
            next_poll: Instant::now() + interval,
        };
        let start = DeviceCodeStart {
            message,
            user_code,
            verification_uri,
            expires_on,
        };
        Ok((flow, start))
    }

    /// Whether the code has expired (with a little slack for clocks).
    pub fn is_over(&self) -> bool {
        OffsetDateTime::now_utc() > self.expires_on + time::Duration::seconds(30)
    }

    /// One poll: `Ok(None)` while the user has not finished, the token (and
    /// refresh token) once approved, an Authentication error once declined
    /// or expired. Waits at most `budget` before its one request, which
    /// gets what is left of `timeout`.
    pub async fn poll(
        &mut self,
        budget: Duration,
        timeout: Duration,
        log: &CallLog,
    ) -> Result<Option<(Token, Option<Secret>)>> {
        let called = Instant::now();
        if self.is_over() {
            return Err(Error::new(
                ErrorKind::Authentication,
                "Sign-in with a device code failed: the code expired before it was used; start again",
            ));
        }
        let now = Instant::now();
        if self.next_poll > now {
            let wait = self.next_poll - now;
            if wait > budget {
                tokio::time::sleep(budget).await;
                return Ok(None);
            }
            tokio::time::sleep(wait).await;
        }
        let started = Instant::now();
        let response = self
            .http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(
                timeout
                    .saturating_sub(called.elapsed())
                    .max(Duration::from_millis(100)),
            )
            .form(&[
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", self.client_id.as_str()),
                ("device_code", self.device_code.expose()),
            ])
            .send()
            .await
            .map_err(|e| {
                let err = map_reqwest_error(&e);
                log.push(format!(
                    "POST {} -> failed: {}",
                    self.token_url, err.message
                ));
                err
            })?;
        let status = response.status();
        let body = read_body_capped(response).await?;
        log.push(format!(
            "POST {} -> {} in {} ms",
            self.token_url,
            status.as_u16(),
            started.elapsed().as_millis()
        ));
        self.next_poll = Instant::now() + self.interval;
        if status.is_success() {
            let r: BasicTokenResponse = serde_json::from_slice(&body).map_err(|e| {
                Error::new(
                    ErrorKind::Service,
                    format!("the sign-in answer is not a token response: {e}"),
                )
            })?;
            let (token, refresh) = token_from_response(&r);
            log.push("device code approved; signed in");
            return Ok(Some((token, refresh)));
        }
        let Ok(e) = serde_json::from_slice::<ErrorBody>(&body) else {
            return Err(Error::new(
                ErrorKind::Service,
                format!(
                    "Sign-in with a device code failed: the token endpoint answered {} without an error document",
                    status.as_u16()
                ),
            )
            .with_status(status.as_u16()));
        };
        match e.error.as_str() {
            "authorization_pending" => Ok(None),
            "slow_down" => {
                self.interval += Duration::from_secs(5);
                self.next_poll = Instant::now() + self.interval;
                log.push("the platform asked to poll more slowly");
                Ok(None)
            }
            code => Err(platform_error(code, e.error_description.as_deref())
                .with_status(status.as_u16())
                .context("Sign-in with a device code failed")),
        }
    }
}
