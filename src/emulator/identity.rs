//! The emulator's imitation of the Microsoft identity platform: a token
//! endpoint (`/{tenant}/oauth2/v2.0/token`) issuing JWT access tokens with
//! `aud`, `tid`, `wids` and `exp`, and errors in the platform's JSON shape
//! with AADSTS codes.

use super::directory::{self, App, User};
use super::EmulatorState;
use crate::auth::LICENSE_MANAGER_APP_ID;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Claims of the access tokens the emulator issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub appid: String,
    pub idtyp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default)]
    pub wids: Vec<String>,
    /// Serial number of the token, so tests can expire every token issued so far.
    pub jti: String,
    pub ver: String,
}

/// Who a token is for.
pub enum Subject<'a> {
    User(&'a User),
    App(&'a App),
}

/// Signs and checks tokens; keeps refresh tokens.
pub struct Issuer {
    key: [u8; 32],
    serial: AtomicU64,
    /// Tokens with a serial below this are treated as expired.
    pub min_valid_serial: AtomicU64,
    pub lifetime_seconds: u64,
    /// refresh token → (user key, client id)
    refresh_tokens: Mutex<HashMap<String, (String, String)>>,
}

impl Issuer {
    pub fn new(lifetime_seconds: u64) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Issuer {
            key,
            serial: AtomicU64::new(1),
            min_valid_serial: AtomicU64::new(0),
            lifetime_seconds,
            refresh_tokens: Mutex::new(HashMap::new()),
        }
    }

    /// A signed access token for the licensing API.
    pub fn issue(&self, subject: &Subject<'_>, client_id: &str, lifetime_seconds: i64) -> String {
        let (tenant, roles) = match subject {
            Subject::User(u) => (directory::home_tenant(u), u.roles),
            Subject::App(a) => (directory::TENANT_ID, a.roles),
        };
        self.issue_in(subject, client_id, lifetime_seconds, tenant, roles)
    }

    /// A token for `subject` in `tenant` (its `tid`) with these directory
    /// roles (`wids`): the fleet's customer tenants.
    pub fn issue_in(
        &self,
        subject: &Subject<'_>,
        client_id: &str,
        lifetime_seconds: i64,
        tenant: &str,
        roles: &[&str],
    ) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        let (idtyp, upn, oid) = match subject {
            Subject::User(u) => (
                "user",
                Some(u.upn.to_string()),
                Some(u.object_id.to_string()),
            ),
            Subject::App(_) => ("app", None, None),
        };
        let claims = AccessClaims {
            aud: LICENSE_MANAGER_APP_ID.into(),
            iss: format!("https://sts.windows.net/{tenant}/"),
            iat: now,
            nbf: now,
            exp: now + lifetime_seconds,
            tid: tenant.into(),
            appid: client_id.into(),
            idtyp: idtyp.into(),
            upn,
            oid,
            wids: roles.iter().map(|r| r.to_string()).collect(),
            jti: serial.to_string(),
            ver: "1.0".into(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )
        .expect("HS256 signing cannot fail")
    }

    /// Check a bearer token: signature, audience, expiry, serial.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, &'static str> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_audience(&[
            LICENSE_MANAGER_APP_ID,
            &format!("api://{LICENSE_MANAGER_APP_ID}"),
        ]);
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &DecodingKey::from_secret(&self.key), &v)
                .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "The token is expired.",
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    "The token's audience is not the license manager API."
                }
                _ => "The token is not valid.",
            })?;
        let serial: u64 = data.claims.jti.parse().unwrap_or(0);
        if serial < self.min_valid_serial.load(Ordering::SeqCst) {
            return Err("The token is expired.");
        }
        Ok(data.claims)
    }

    /// Treat every token issued so far as expired.
    pub fn expire_all(&self) {
        self.min_valid_serial
            .store(self.serial.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    pub fn new_refresh_token(&self, user_key: &str, client_id: &str) -> String {
        let mut b = [0u8; 24];
        rand::rng().fill_bytes(&mut b);
        let rt = format!("rt.{}", hex(&b));
        if let Ok(mut m) = self.refresh_tokens.lock() {
            m.insert(rt.clone(), (user_key.into(), client_id.into()));
        }
        rt
    }

    /// Whose a refresh token is (user key, client id), without redeeming it.
    pub fn peek_refresh_token(&self, rt: &str) -> Option<(String, String)> {
        self.refresh_tokens.lock().ok()?.get(rt).cloned()
    }

    /// Redeem a refresh token; it is rotated (good once).
    pub fn redeem_refresh_token(&self, rt: &str) -> Option<(String, String)> {
        self.refresh_tokens.lock().ok()?.remove(rt)
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An error in the identity platform's shape.
pub fn aad_error(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let trace = uuid::Uuid::new_v4();
    let correlation = uuid::Uuid::new_v4();
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace.to_string(),
        "correlation_id": correlation.to_string(),
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

/// The form fields of a token request (the grants' union).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub client_assertion_type: Option<String>,
    pub scope: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub code: Option<String>,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    pub device_code: Option<String>,
}

fn token_response(
    state: &EmulatorState,
    subject: Subject<'_>,
    client_id: &str,
    scope: &str,
    refresh: Option<String>,
) -> Response {
    let lifetime = state.issuer.lifetime_seconds as i64;
    let token = state.issuer.issue(&subject, client_id, lifetime);
    token_body(token, lifetime, scope, refresh)
}

/// The token endpoint's answer for an issued token.
pub(crate) fn token_body(
    token: String,
    lifetime: i64,
    scope: &str,
    refresh: Option<String>,
) -> Response {
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    if let Some(rt) = refresh {
        body["refresh_token"] = rt.into();
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// The scope must be there and name the license manager API (`…/.default`
/// or a scope of it).
pub(crate) fn check_scope(scope: Option<&str>) -> Result<String, Response> {
    let Some(scope) = scope.filter(|s| !s.trim().is_empty()) else {
        return Err(missing("scope"));
    };
    if let Some(message) = unknown_resource(scope) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &message,
        ));
    }
    Ok(scope.to_string())
}

/// The platform's invalid_resource message (AADSTS500011) when no scope of
/// `scope` names the license manager API; `None` when one does. The part of
/// [`check_scope`] for answers that are not the token endpoint's JSON (the
/// authorize endpoint's redirect, the managed identity endpoints).
pub(crate) fn unknown_resource(scope: &str) -> Option<String> {
    let resource_ok = scope.split_whitespace().any(|s| {
        let s = s.trim_start_matches("api://");
        s.starts_with(LICENSE_MANAGER_APP_ID)
    });
    (!resource_ok).then(|| {
        format!(
            "The resource principal named {scope} was not found in the tenant named {}.",
            directory::TENANT_DOMAIN
        )
    })
}

/// The platform's answer to a request without a parameter it needs.
pub(crate) fn missing(name: &str) -> Response {
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(state): State<std::sync::Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let user_flow = !matches!(form.grant_type.as_str(), "client_credentials");
    if let Some(answer) = super::fleet::token(&state, &tenant, &form) {
        return answer;
    }
    if !directory::tenant_matches(&tenant, user_flow) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        );
    }
    match form.grant_type.as_str() {
        "client_credentials" => client_credentials(&state, &form),
        "password" => password(&state, &form),
        "refresh_token" => refresh(&state, &form),
        "" => missing("grant_type"),
        other => match super::identity_flows::token_grant(&state, other, &form) {
            Some(r) => r,
            None => aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            ),
        },
    }
}

/// The confidential app of a token request, authenticated by its secret
/// (or by an assertion, handled by the flows module). An app without a
/// secret (the certificate app) is refused every secret.
pub fn authenticate_app(state: &EmulatorState, form: &TokenForm) -> Result<&'static App, Response> {
    let Some(app) = directory::app_by_client_id(&form.client_id) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                form.client_id,
                directory::TENANT_DOMAIN
            ),
        ));
    };
    if form.client_assertion.is_some() {
        return super::identity_flows::check_client_assertion(state, app, form).map(|_| app);
    }
    match form.client_secret.as_deref() {
        Some(s) if app.secret == Some(s) => Ok(app),
        Some(_) => Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", app.client_id),
        )),
        None => Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}

fn client_credentials(state: &EmulatorState, form: &TokenForm) -> Response {
    let app = match authenticate_app(state, form) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let scope = match check_scope(form.scope.as_deref()) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !scope.split_whitespace().all(|s| s.ends_with("/.default")) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        );
    }
    token_response(state, Subject::App(app), app.client_id, &scope, None)
}

/// A public client that may sign users in.
pub fn check_public_client(client_id: &str) -> Result<(), Response> {
    if directory::PUBLIC_CLIENTS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(client_id))
    {
        Ok(())
    } else {
        Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                directory::TENANT_DOMAIN
            ),
        ))
    }
}

/// Tokens for a signed-in user, with a refresh token.
pub fn user_tokens(
    state: &EmulatorState,
    user: &'static User,
    client_id: &str,
    scope: &str,
) -> Response {
    let rt = state.issuer.new_refresh_token(user.key, client_id);
    token_response(state, Subject::User(user), client_id, scope, Some(rt))
}

fn password(state: &EmulatorState, form: &TokenForm) -> Response {
    if let Err(r) = check_public_client(&form.client_id) {
        return r;
    }
    let scope = match check_scope(form.scope.as_deref()) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let username = form.username.as_deref().unwrap_or("");
    let Some(user) = directory::user_by_upn(username) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            &format!("The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.", directory::TENANT_ID),
        );
    };
    if form.password.as_deref() != Some(user.password) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        );
    }
    user_tokens(state, user, &form.client_id, &scope)
}

fn refresh(state: &EmulatorState, form: &TokenForm) -> Response {
    let rt = form.refresh_token.as_deref().unwrap_or("");
    let Some((user_key, client_id)) = state.issuer.redeem_refresh_token(rt) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            700082,
            "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
        );
    };
    if !client_id.eq_ignore_ascii_case(&form.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the refresh token was issued to another client.",
        );
    }
    let scope = match check_scope(form.scope.as_deref()) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match directory::user_by_key(&user_key) {
        Some(user) => user_tokens(state, user, &client_id, &scope),
        None => aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(client_id: &str, secret: &str) -> TokenForm {
        TokenForm {
            grant_type: "client_credentials".into(),
            client_id: client_id.into(),
            client_secret: Some(secret.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn secrets_sign_in_only_apps_that_have_one() {
        let state = EmulatorState::new(
            "127.0.0.1:1".parse().unwrap(),
            false,
            super::super::Catalogue::Seed,
            0,
            60,
        );
        for app in directory::APPS {
            let secret = app.secret.unwrap();
            let signed_in = authenticate_app(&state, &form(app.client_id, secret));
            assert_eq!(signed_in.ok().map(|a| a.client_id), Some(app.client_id));
        }
        // The certificate app has no secret: neither an empty one nor
        // another app's signs it in.
        let cert = directory::CERTIFICATE_APP_CLIENT_ID;
        for secret in ["", directory::APPS[0].secret.unwrap()] {
            let Err(r) = authenticate_app(&state, &form(cert, secret)) else {
                panic!("the certificate app signed in with the secret '{secret}'");
            };
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"], "invalid_client", "{body}");
            assert_eq!(body["error_codes"][0], 7000215, "{body}");
        }
    }
}
