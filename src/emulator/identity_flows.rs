//! The identity platform's other sign-in endpoints, as strict as the real
//! one: the authorize endpoint (authorization code with PKCE S256 and a
//! loopback redirect), the device code endpoint and grant, client
//! assertions (RS256, verified against the app's registered certificate)
//! and the managed identity endpoints (App Service style and IMDS).
//!
//! Codes handed out are kept in the issuing emulator's state
//! ([`FlowState`]), so several emulators in one test process never accept
//! each other's codes. Errors take the platform's JSON shape ([`aad_error`])
//! with its AADSTS codes; the authorize endpoint answers its errors as the
//! platform does: on an HTML page when the client or redirect URI is wrong,
//! else by a redirect carrying `error` and `error_description`.

use super::directory::{self, App, User};
use super::identity::{
    aad_error, check_public_client, check_scope, missing, unknown_resource, user_tokens, Subject,
    TokenForm,
};
use super::EmulatorState;
use crate::auth::LICENSE_MANAGER_APP_ID;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

/// How long an authorization code may wait to be redeemed.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// How long a device code is good for, and the polling interval asked for
/// (the platform says 900 s and 5 s; 1 s keeps tests quick).
pub const DEVICE_CODE_LIFETIME_SECONDS: u64 = 900;
pub const DEVICE_CODE_INTERVAL_SECONDS: u64 = 1;
/// How far a client assertion's times may be off the emulator's clock.
const CLOCK_SKEW_SECONDS: i64 = 60;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

// ---- the sign-ins in progress -------------------------------------------

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    user: &'static User,
    expires: Instant,
}

#[derive(Clone, Copy)]
enum DeviceStatus {
    Pending,
    Approved(&'static User),
    Declined,
    Expired,
}

struct DeviceGrant {
    device_code: String,
    user_code: String,
    client_id: String,
    scope: String,
    issued: Instant,
    expires: Instant,
    status: DeviceStatus,
}

/// The sign-ins in progress at one emulator ([`EmulatorState::flows`]).
#[derive(Default)]
pub struct FlowState {
    codes: HashMap<String, CodeGrant>,
    /// Codes already redeemed, until they would have expired.
    redeemed: HashMap<String, Instant>,
    devices: Vec<DeviceGrant>,
    /// The user the emulator's "browser" is signed in as.
    browser: Option<&'static User>,
}

/// The emulator's sign-ins in progress, rid of those past their time.
fn flows(state: &EmulatorState) -> MutexGuard<'_, FlowState> {
    let mut f = state.flows.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    f.codes.retain(|_, c| c.expires > now);
    f.redeemed.retain(|_, e| *e > now);
    f.devices
        .retain(|d| d.expires + Duration::from_secs(600) > now);
    f
}

fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 9];
    rand::rng().fill_bytes(&mut b);
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

fn find_user(name: &str) -> Option<&'static User> {
    directory::user_by_upn(name).or_else(|| directory::user_by_key(name))
}

// ---- token grants -------------------------------------------------------

/// Answer a token request of another grant type, or `None` if unknown.
pub fn token_grant(state: &EmulatorState, grant: &str, form: &TokenForm) -> Option<Response> {
    match grant {
        "authorization_code" => Some(authorization_code(state, form)),
        DEVICE_CODE_GRANT => Some(device_code_grant(state, form)),
        _ => None,
    }
}

/// A grant of a public client: the client must be one, and the grant's
/// parameter `name` must be there.
#[allow(clippy::result_large_err)]
fn public_grant<'a>(
    form: &TokenForm,
    value: &'a Option<String>,
    name: &str,
) -> Result<&'a str, Response> {
    check_public_client(&form.client_id)?;
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing(name))
}

/// The message of an unknown tenant.
fn tenant_not_found(tenant: &str) -> String {
    format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
}

fn authorization_code(state: &EmulatorState, form: &TokenForm) -> Response {
    let code = match public_grant(form, &form.code, "code") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let grant = {
        let mut f = flows(state);
        if f.redeemed.contains_key(code) {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            );
        }
        match f.codes.remove(code) {
            Some(g) => {
                f.redeemed.insert(code.to_string(), g.expires);
                g
            }
            None => return invalid_code(),
        }
    };
    if !grant.client_id.eq_ignore_ascii_case(&form.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the authorization code was issued to another client.",
        );
    }
    let redirect = form.redirect_uri.as_deref().unwrap_or("");
    if redirect != grant.redirect_uri {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            500112,
            &format!(
                "The reply address '{redirect}' does not match the reply address '{}' provided when requesting Authorization code.",
                grant.redirect_uri
            ),
        );
    }
    let Some(verifier) = form.code_verifier.as_deref().filter(|v| !v.is_empty()) else {
        return missing("code_verifier");
    };
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    if computed != grant.challenge {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        );
    }
    let scope = form
        .scope
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(grant.scope);
    user_tokens(state, grant.user, &grant.client_id, &scope)
}

fn invalid_code() -> Response {
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        70000,
        "Provided grant is invalid or malformed: the authorization code is not known or has expired.",
    )
}

fn device_code_grant(state: &EmulatorState, form: &TokenForm) -> Response {
    let code = match public_grant(form, &form.device_code, "device_code") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut f = flows(state);
    let Some(i) = f.devices.iter().position(|d| d.device_code == code) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the device code is not known.",
        );
    };
    let d = &mut f.devices[i];
    if !d.client_id.eq_ignore_ascii_case(&form.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the device code was issued to another client.",
        );
    }
    if matches!(d.status, DeviceStatus::Pending) && Instant::now() >= d.expires {
        d.status = DeviceStatus::Expired;
    }
    match d.status {
        DeviceStatus::Pending => aad_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
        DeviceStatus::Declined => aad_error(
            StatusCode::BAD_REQUEST,
            "authorization_declined",
            70000,
            "The user declined the authorization request.",
        ),
        DeviceStatus::Expired => aad_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            70019,
            "Verification code expired.",
        ),
        DeviceStatus::Approved(user) => {
            // Good once: the grant is spent.
            let d = f.devices.remove(i);
            drop(f);
            user_tokens(state, user, &d.client_id, &d.scope)
        }
    }
}

// ---- client assertions --------------------------------------------------

#[derive(Deserialize)]
struct AssertionHeader {
    alg: String,
    #[serde(default)]
    x5t: Option<String>,
    #[serde(default, rename = "x5t#S256")]
    x5t_s256: Option<String>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
}

fn malformed(what: &str) -> Response {
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50027,
        &format!("JWT token is invalid or malformed: {what}."),
    )
}

/// Whether `aud` names this emulator's token endpoint for this tenant, as
/// the platform wants it named: `…/{tenant}/oauth2/v2.0/token` or the v1
/// `…/{tenant}/oauth2/token`, the tenant by id or domain, at the emulator's
/// own scheme, host and port. The host may be its address (127.0.0.1) or
/// `localhost`, the two names it answers to (and its certificate carries).
fn audience_ok(state: &EmulatorState, aud: &str) -> bool {
    let Ok(url) = url::Url::parse(aud) else {
        return false;
    };
    let scheme = if state.tls { "https" } else { "http" };
    let ip = state.addr.ip().to_string();
    let host_ok = url
        .host_str()
        .is_some_and(|h| h == ip || h.eq_ignore_ascii_case("localhost"));
    let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
    let path_ok = match segments.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] | [tenant, "oauth2", "token"] => {
            directory::tenant_matches(tenant, false) || super::fleet::knows(state, tenant)
        }
        _ => false,
    };
    url.scheme() == scheme
        && host_ok
        && url.port_or_known_default() == Some(state.addr.port())
        && path_ok
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// Verify a client assertion (RS256 JWT signed with the app's certificate).
/// (The error is the answer itself, as in identity.rs.)
#[allow(clippy::result_large_err)]
pub fn check_client_assertion(
    state: &EmulatorState,
    app: &App,
    form: &TokenForm,
) -> Result<(), Response> {
    if form.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            7000216,
            &format!(
                "'client_assertion_type' must be '{ASSERTION_TYPE}' with a 'client_assertion'."
            ),
        ));
    }
    let assertion = form.client_assertion.as_deref().unwrap_or("");
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed("it does not have three parts"));
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: AssertionHeader = b64
        .decode(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("its header is not base64url JSON"))?;
    let claims: AssertionClaims = b64
        .decode(parts[1])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("its claims are not base64url JSON"))?;
    let signature = b64
        .decode(parts[2])
        .map_err(|_| malformed("its signature is not base64url"))?;
    let algorithm: &dyn ring::signature::VerificationAlgorithm = match header.alg.as_str() {
        "RS256" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &ring::signature::RSA_PSS_2048_8192_SHA256,
        other => {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                5002738,
                &format!("Invalid JWT token. '{other}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'."),
            ))
        }
    };
    // The registered certificate the header names.
    let given = match (&header.x5t, &header.x5t_s256) {
        (Some(t), _) => b64.decode(t).ok().map(|t| (t, false)),
        (None, Some(t)) => b64.decode(t).ok().map(|t| (t, true)),
        (None, None) => None,
    };
    let Some((given, sha256)) = given else {
        return Err(malformed("its header names no certificate (x5t)"));
    };
    let registered = directory::app_certificates(app.client_id);
    let cert = registered.iter().find(|der| {
        if sha256 {
            sha2::Sha256::digest(der)[..] == given[..]
        } else {
            crate::auth::certificate::thumbprint_sha1(der).as_slice() == given.as_slice()
        }
    });
    let Some(cert) = cert else {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            &format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                crate::auth::certificate::hex_upper(&given),
                app.client_id
            ),
        ));
    };
    let public_key = x509_parser::parse_x509_certificate(cert)
        .map(|(_, c)| c.public_key().subject_public_key.data.to_vec())
        .unwrap_or_default();
    let signing_input = &assertion[..parts[0].len() + 1 + parts[1].len()];
    if ring::signature::UnparsedPublicKey::new(algorithm, &public_key)
        .verify(signing_input.as_bytes(), &signature)
        .is_err()
    {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        ));
    }
    let iss = claims.iss.as_deref().unwrap_or("");
    let sub = claims.sub.as_deref().unwrap_or("");
    if !iss.eq_ignore_ascii_case(app.client_id) || !sub.eq_ignore_ascii_case(app.client_id) {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    let audiences: Vec<&str> = match &claims.aud {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !audiences.iter().any(|a| audience_ok(state, a)) {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700023,
            &format!(
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . (aud: '{}')",
                audiences.join(", ")
            ),
        ));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (nbf, exp) = (claims.nbf.unwrap_or(0), claims.exp.unwrap_or(0));
    if exp + CLOCK_SKEW_SECONDS <= now || nbf - CLOCK_SKEW_SECONDS > now {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700024,
            &format!("Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."),
        ));
    }
    if claims.jti.as_deref().unwrap_or("").is_empty() {
        return Err(malformed("the 'jti' claim is missing"));
    }
    Ok(())
}

// ---- authorize endpoint -------------------------------------------------

/// The page the platform shows when it cannot redirect (unknown client,
/// redirect URI not registered).
fn error_page(code: u32, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
<body><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {}</p></body></html>",
        html_escape(message)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether `redirect` is registered for the public client `client_id`: the
/// module's `http://localhost/m365/commerce`, on any port (the platform
/// lets a `localhost` redirect of a public client use any port).
fn redirect_registered(redirect: &str) -> bool {
    let Ok(url) = url::Url::parse(redirect) else {
        return false;
    };
    url.scheme() == "http"
        && url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost"))
        && url.path() == "/m365/commerce"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = url::Url::parse(redirect_uri).expect("checked before");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    // 302 Found, as the platform answers.
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, url.as_str().to_string())],
    )
        .into_response()
}

fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    code: u32,
    message: &str,
) -> Response {
    let description = format!(
        "AADSTS{code}: {message}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    let mut pairs = vec![
        ("error", error),
        ("error_description", description.as_str()),
    ];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    redirect_with(redirect_uri, &pairs)
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
async fn authorize(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if !directory::tenant_matches(&tenant, true) {
        return error_page(90002, &tenant_not_found(&tenant));
    }
    let client_id = get("client_id").unwrap_or("");
    if check_public_client(client_id).is_err() {
        return error_page(
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                directory::TENANT_DOMAIN
            ),
        );
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| redirect_registered(r)) else {
        return error_page(
            50011,
            &format!(
                "The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
                get("redirect_uri").unwrap_or("")
            ),
        );
    };
    let st = get("state");
    if get("response_type") != Some("code") {
        return redirect_error(
            redirect_uri,
            st,
            "unsupported_response_type",
            700054,
            &format!(
                "response_type '{}' is not enabled for the application; use 'code'.",
                get("response_type").unwrap_or("")
            ),
        );
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return redirect_error(redirect_uri, st, "invalid_request", 70011, "The provided value for the input parameter 'response_mode' is not valid. Only 'query' is supported here.");
    }
    let scope = get("scope").unwrap_or("");
    if let Some(m) = unknown_resource(scope) {
        return redirect_error(redirect_uri, st, "invalid_resource", 500011, &m);
    }
    let Some(challenge) = get("code_challenge") else {
        return redirect_error(redirect_uri, st, "invalid_request", 9002325, "Proof Key for Code Exchange is required for this public client's authorization code redemption: send 'code_challenge' and 'code_challenge_method=S256'.");
    };
    if get("code_challenge_method") != Some("S256") {
        return redirect_error(
            redirect_uri,
            st,
            "invalid_request",
            70011,
            &format!(
                "The provided value for the input parameter 'code_challenge_method' is not valid. Expected 'S256', got '{}'.",
                get("code_challenge_method").unwrap_or("")
            ),
        );
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return redirect_error(redirect_uri, st, "invalid_request", 70011, "The provided value for the input parameter 'code_challenge' is not valid: it must be the base64url SHA-256 of the verifier (43 characters).");
    }
    if get("emulator_cancel").is_some() {
        return redirect_error(
            redirect_uri,
            st,
            "access_denied",
            65004,
            "User declined to consent to access the app.",
        );
    }
    // Who signs in: the login hint's user, else the user the browser is
    // signed in as, else the user picks on a page.
    let hinted = get("login_hint");
    let user = match hinted {
        Some(h) => find_user(h),
        None => flows(&state).browser,
    };
    let Some(user) = user else {
        return picker_page(raw.as_deref().unwrap_or(""), hinted);
    };
    // Shaped like the platform's codes ("0.A…"), so a leak is easy to spot.
    let code = format!("0.AX{}", random_token(48));
    flows(&state).codes.insert(
        code.clone(),
        CodeGrant {
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            challenge: challenge.to_string(),
            scope: scope.to_string(),
            user,
            expires: Instant::now() + CODE_LIFETIME,
        },
    );
    let session_state = uuid::Uuid::new_v4().to_string();
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = st {
        pairs.push(("state", s));
    }
    pairs.push(("session_state", session_state.as_str()));
    redirect_with(redirect_uri, &pairs)
}

/// The emulator's sign-in page: one link per built-in user, and Cancel.
fn picker_page(raw_query: &str, hinted: Option<&str>) -> Response {
    let base: String = url::form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| k != "login_hint")
        .fold(
            url::form_urlencoded::Serializer::new(String::new()),
            |mut s, (k, v)| {
                s.append_pair(&k, &v);
                s
            },
        )
        .finish();
    let mut items = String::new();
    for u in directory::USERS {
        let q = format!(
            "{base}&login_hint={}",
            url::form_urlencoded::byte_serialize(u.upn.as_bytes()).collect::<String>()
        );
        items.push_str(&format!(
            "<li><a href=\"?{}\">{}</a></li>",
            html_escape(&q),
            html_escape(u.upn)
        ));
    }
    let note = hinted
        .map(|h| {
            format!(
                "<p>There is no account {} in this directory.</p>",
                html_escape(h)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in - MSCommerce emulator</title></head>\
<body><h1>Pick an account</h1>{note}<p>The MSCommerce emulator signs you in as the account you pick (and consents for it).</p>\
<ul>{items}</ul><p><a href=\"?{}\">Cancel</a></p></body></html>",
        html_escape(&format!("{base}&emulator_cancel=1"))
    );
    Html(body).into_response()
}

// ---- device code --------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeviceCodeForm {
    client_id: String,
    scope: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
async fn devicecode(
    State(state): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DeviceCodeForm>,
) -> Response {
    if !directory::tenant_matches(&tenant, true) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &tenant_not_found(&tenant),
        );
    }
    if let Err(r) = check_public_client(&form.client_id) {
        return r;
    }
    let scope = match check_scope(form.scope.as_deref()) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // The page's address as the client reached the emulator.
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| state.addr.to_string());
    let scheme = if state.tls { "https" } else { "http" };
    let verification_uri = format!("{scheme}://{host}/device");
    let device_code = format!("DAQAB{}", random_token(48));
    let code = user_code();
    let now = Instant::now();
    flows(&state).devices.push(DeviceGrant {
        device_code: device_code.clone(),
        user_code: code.clone(),
        client_id: form.client_id.clone(),
        scope: scope.clone(),
        issued: now,
        expires: now + Duration::from_secs(DEVICE_CODE_LIFETIME_SECONDS),
        status: DeviceStatus::Pending,
    });
    Json(json!({
        "user_code": code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": DEVICE_CODE_LIFETIME_SECONDS,
        "interval": DEVICE_CODE_INTERVAL_SECONDS,
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {code} to authenticate."),
    }))
    .into_response()
}

/// What a user (or a test acting as one) does with a device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAction {
    Approve,
    Decline,
    Expire,
}

/// Approve (as `user`), decline or expire a pending device code of this
/// emulator: the one with `user_code`, else the latest one issued.
/// Answers the user code acted on.
pub fn act_on_device_code(
    state: &EmulatorState,
    user_code: Option<&str>,
    action: DeviceAction,
    user: Option<&str>,
) -> Result<String, String> {
    let signer = match action {
        DeviceAction::Approve => {
            let name = user.unwrap_or("admin");
            Some(find_user(name).ok_or_else(|| format!("no user '{name}'"))?)
        }
        _ => None,
    };
    let mut f = flows(state);
    let wanted = user_code.map(|c| c.trim().replace('-', "").to_ascii_uppercase());
    let d = f
        .devices
        .iter_mut()
        .filter(|d| matches!(d.status, DeviceStatus::Pending))
        .filter(|d| match wanted.as_deref() {
            Some(w) => d.user_code == w,
            None => true,
        })
        .max_by_key(|d| d.issued)
        .ok_or_else(|| match user_code {
            Some(c) => format!("no pending device code '{c}'"),
            None => "no pending device code".to_string(),
        })?;
    d.status = match action {
        DeviceAction::Approve => DeviceStatus::Approved(signer.expect("set for approve")),
        DeviceAction::Decline => DeviceStatus::Declined,
        DeviceAction::Expire => DeviceStatus::Expired,
    };
    Ok(d.user_code.clone())
}

/// `GET /device`: where a person enters the code.
async fn device_page() -> Response {
    let options: String = directory::USERS
        .iter()
        .map(|u| format!("<option value=\"{0}\">{0}</option>", html_escape(u.upn)))
        .collect();
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Enter code - MSCommerce emulator</title></head>\
<body><h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>\
<form method=\"post\" action=\"/device\"><p><input name=\"user_code\" autofocus placeholder=\"Code\"></p>\
<p>Sign in as <select name=\"user\">{options}</select></p>\
<p><button name=\"action\" value=\"approve\">Sign in</button> <button name=\"action\" value=\"decline\">Decline</button></p></form></body></html>"
    ))
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DevicePageForm {
    user_code: String,
    user: Option<String>,
    action: Option<String>,
}

/// `POST /device`.
async fn device_submit(
    State(state): State<Arc<EmulatorState>>,
    Form(form): Form<DevicePageForm>,
) -> Response {
    let action = match form.action.as_deref() {
        Some("decline") => DeviceAction::Decline,
        _ => DeviceAction::Approve,
    };
    match act_on_device_code(&state, Some(&form.user_code), action, form.user.as_deref()) {
        Ok(_) => Html(match action {
            DeviceAction::Decline => "<!DOCTYPE html><html><body><h1>Declined</h1><p>The sign-in was declined. You may close this window.</p></body></html>",
            _ => "<!DOCTYPE html><html><body><h1>You're signed in</h1><p>You have signed in to MSCommerce on your device. You may now close this window.</p></body></html>",
        })
        .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<!DOCTYPE html><html><body><h1>That code didn't work</h1><p>{}</p><p><a href=\"/device\">Try again</a></p></body></html>",
                html_escape(&e)
            )),
        )
            .into_response(),
    }
}

/// Sign the emulator's "browser" in as `user` (or out with `None`): the
/// authorize endpoint then signs that user in without a page.
pub fn set_browser_user(state: &EmulatorState, user: Option<&str>) -> Result<(), String> {
    let user = match user {
        Some(u) => Some(find_user(u).ok_or_else(|| format!("no user '{u}'"))?),
        None => None,
    };
    flows(state).browser = user;
    Ok(())
}

// ---- managed identity ---------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct ManagedIdentityQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
    resource: Option<String>,
    client_id: Option<String>,
    object_id: Option<String>,
    mi_res_id: Option<String>,
    msi_res_id: Option<String>,
}

fn mi_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The identity a managed identity request names, or an error answer.
fn managed_identity_token(state: &EmulatorState, q: &ManagedIdentityQuery) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let resource = q.resource.as_deref().unwrap_or("").trim();
    let bare = resource.trim_start_matches("api://").trim_end_matches('/');
    if resource.is_empty() {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    }
    if !bare.eq_ignore_ascii_case(LICENSE_MANAGER_APP_ID) {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            &format!(
                "AADSTS500011: {}",
                unknown_resource(resource).unwrap_or_default()
            ),
        );
    }
    if q.object_id.is_some() || q.mi_res_id.is_some() || q.msi_res_id.is_some() {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found: the emulator knows its user-assigned identity by client_id only",
        );
    }
    let identity = match q.client_id.as_deref() {
        None => &directory::MANAGED_IDENTITIES[0],
        Some(c) => match directory::MANAGED_IDENTITIES[1..]
            .iter()
            .find(|m| m.client_id.eq_ignore_ascii_case(c))
        {
            Some(m) => m,
            None => {
                return mi_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Identity not found",
                )
            }
        },
    };
    let lifetime = state.issuer.lifetime_seconds as i64;
    let token = state
        .issuer
        .issue(&Subject::App(identity), identity.client_id, lifetime);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Json(json!({
        "access_token": token,
        "client_id": identity.client_id,
        "expires_in": lifetime.to_string(),
        "expires_on": (now + lifetime).to_string(),
        "ext_expires_in": lifetime.to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// `GET /msi/token`: App Service, Functions and Automation style
/// (`IDENTITY_ENDPOINT`, with the `IDENTITY_HEADER` secret in
/// `X-IDENTITY-HEADER`).
async fn app_service_token(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(q): Query<ManagedIdentityQuery>,
) -> Response {
    let header = headers
        .get("x-identity-header")
        .and_then(|h| h.to_str().ok());
    if header != Some(directory::MANAGED_IDENTITY_HEADER) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER secret is missing or wrong." })),
        )
            .into_response();
    }
    if q.api_version.as_deref() != Some("2019-08-01") {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "api-version must be 2019-08-01",
        );
    }
    managed_identity_token(&state, &q)
}

/// `GET /metadata/identity/oauth2/token`: the VM's Instance Metadata
/// Service (a client reaches it here through a proxy; it must send
/// `Metadata: true`).
async fn imds_token(
    State(state): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    Query(q): Query<ManagedIdentityQuery>,
) -> Response {
    if headers.get("metadata").and_then(|h| h.to_str().ok()) != Some("true") {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if headers.contains_key("x-forwarded-for") {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Request is not allowed to be forwarded (X-Forwarded-For)",
        );
    }
    if !matches!(q.api_version.as_deref(), Some("2018-02-01" | "2019-08-01")) {
        return mi_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing or unsupported api-version",
        );
    }
    managed_identity_token(&state, &q)
}

/// Routes of the other sign-in endpoints (authorize, device code, managed identity).
pub fn routes() -> Router<Arc<EmulatorState>> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            axum::routing::post(devicecode),
        )
        .route("/device", get(device_page).post(device_submit))
        .route("/msi/token", get(app_service_token))
        .route("/metadata/identity/oauth2/token", get(imds_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_redirects() {
        assert!(redirect_registered("http://localhost/m365/commerce"));
        assert!(redirect_registered("http://localhost:51234/m365/commerce"));
        assert!(!redirect_registered("http://127.0.0.1:51234/m365/commerce"));
        assert!(!redirect_registered("https://localhost/m365/commerce"));
        assert!(!redirect_registered("http://localhost/other"));
        assert!(!redirect_registered("http://evil.example/m365/commerce"));
    }

    fn emulator_at(addr: &str, tls: bool) -> EmulatorState {
        EmulatorState::new(
            addr.parse().unwrap(),
            tls,
            super::super::Catalogue::Seed,
            0,
            3600,
        )
    }

    #[test]
    fn audiences() {
        let t = directory::TENANT_ID;
        let tls = emulator_at("127.0.0.1:8400", true);
        for good in [
            format!("https://127.0.0.1:8400/{t}/oauth2/v2.0/token"),
            "https://localhost:8400/contoso.onmicrosoft.com/oauth2/token".to_string(),
            "HTTPS://LOCALHOST:8400/contoso.onmicrosoft.com/oauth2/v2.0/token/".to_string(),
        ] {
            assert!(audience_ok(&tls, &good), "{good}");
        }
        for bad in [
            // Another port, no port, another scheme, another host.
            format!("https://127.0.0.1:8401/{t}/oauth2/v2.0/token"),
            format!("https://127.0.0.1/{t}/oauth2/v2.0/token"),
            format!("http://127.0.0.1:8400/{t}/oauth2/v2.0/token"),
            format!("https://127.0.0.2:8400/{t}/oauth2/v2.0/token"),
            format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/token"),
            // Another endpoint, a tenant alias, a query, credentials.
            format!("https://127.0.0.1:8400/{t}/oauth2/v2.0/authorize"),
            "https://127.0.0.1:8400/organizations/oauth2/v2.0/token".to_string(),
            format!("https://127.0.0.1:8400/{t}/oauth2/v2.0/token?x=1"),
            format!("https://u@127.0.0.1:8400/{t}/oauth2/v2.0/token"),
            "not a URL".to_string(),
        ] {
            assert!(!audience_ok(&tls, &bad), "{bad}");
        }
        // Plain HTTP on port 80: the scheme's default port is the port.
        let plain = emulator_at("127.0.0.1:80", false);
        assert!(audience_ok(
            &plain,
            &format!("http://127.0.0.1/{t}/oauth2/v2.0/token")
        ));
        assert!(audience_ok(
            &plain,
            &format!("http://127.0.0.1:80/{t}/oauth2/token")
        ));
        assert!(!audience_ok(
            &plain,
            &format!("https://127.0.0.1:80/{t}/oauth2/token")
        ));
    }
}
