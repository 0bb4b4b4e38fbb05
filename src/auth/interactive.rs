//! Interactive sign-in in the system browser: the authorization code flow
//! with PKCE (S256) and a loopback redirect, in two steps.
//!
//! `start` listens on a free port of the loopback interface (path
//! `/m365/commerce`, the module's registered redirect
//! `http://localhost/m365/commerce`: the platform lets a public client's
//! `localhost` redirect use any port) and answers the authorize URL for the
//! host to open. Each `poll` waits a short budget for the browser to come
//! back; the redirect's `state` must be the one sent, else the request is
//! turned away and the wait goes on. The code is then redeemed with the
//! PKCE verifier. The browser tab gets a small page saying it may be closed.

use super::oauth_http::{first_line, map_token_error, token_from_response, OAuthHttp};
use super::refresh::user_scopes;
use super::{Secret, Token, MODULE_REDIRECT_URI};
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, TokenUrl,
};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// How long the user has to finish in the browser.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long one browser connection may take to send its request.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head read from the browser.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// What `start` answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InteractiveStart {
    pub authorize_url: String,
    pub redirect_uri: String,
}

/// What came back to the redirect URI.
enum Redirect {
    Code(Secret),
    Error { error: String, description: String },
}

/// Aborts the listener's tasks when the sign-in is dropped (finished,
/// replaced by a new start, cancelled).
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// An interactive sign-in in progress.
pub struct InteractiveFlow {
    http: reqwest::Client,
    token_url: url::Url,
    client_id: String,
    scope: String,
    redirect_uri: RedirectUrl,
    verifier: Secret,
    result: oneshot::Receiver<Redirect>,
    /// The code once it arrived, kept until redeemed (a poll cut short by
    /// the caller's deadline must not lose it).
    code: Option<Secret>,
    deadline: Instant,
    _listener: AbortOnDrop,
}

/// The redirect to listen on: the caller's (loopback `http://` only; port 0
/// or none picks a free one), else the module's registered one.
fn redirect_target(requested: Option<&str>) -> Result<url::Url> {
    let raw = requested
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(MODULE_REDIRECT_URI);
    let url =
        url::Url::parse(raw).map_err(|e| Error::invalid(format!("redirectUri '{raw}': {e}")))?;
    let loopback = crate::options::is_loopback(&url);
    if url.scheme() != "http" || !loopback {
        return Err(Error::invalid(format!(
            "redirectUri '{raw}' must be a loopback http:// address (http://localhost/..., http://127.0.0.1/...) for the library to listen on"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(format!(
            "redirectUri '{raw}' must not carry a query or fragment"
        )));
    }
    Ok(url)
}

/// Listen on the redirect's host and port (0: a free one). `localhost` is
/// 127.0.0.1, and [::1] on the same port too when it can be had, since
/// browsers may try either.
async fn listen(target: &url::Url) -> Result<(Vec<TcpListener>, u16)> {
    let port = target.port().unwrap_or(0);
    let cannot = |e: std::io::Error| {
        Error::new(
            ErrorKind::Network,
            format!("cannot listen for the browser's redirect on the loopback interface: {e}"),
        )
    };
    let mut listeners = Vec::new();
    match target.host() {
        Some(url::Host::Ipv6(ip)) => {
            listeners.push(TcpListener::bind((ip, port)).await.map_err(cannot)?)
        }
        Some(url::Host::Ipv4(ip)) => {
            listeners.push(TcpListener::bind((ip, port)).await.map_err(cannot)?)
        }
        _ => {
            let v4 = TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(cannot)?;
            let bound = v4.local_addr().map_err(cannot)?.port();
            listeners.push(v4);
            if let Ok(v6) = TcpListener::bind(("::1", bound)).await {
                listeners.push(v6);
            }
        }
    }
    let bound = listeners[0].local_addr().map_err(cannot)?.port();
    Ok((listeners, bound))
}

impl InteractiveFlow {
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        http: &reqwest::Client,
        authorize_url: url::Url,
        token_url: url::Url,
        client_id: &str,
        scope: &str,
        redirect_uri: Option<&str>,
        login_hint: Option<&str>,
        log: &CallLog,
    ) -> Result<(InteractiveFlow, InteractiveStart)> {
        let mut target = redirect_target(redirect_uri)?;
        let (listeners, port) = listen(&target).await?;
        target
            .set_port(Some(port))
            .map_err(|_| Error::internal("cannot set the redirect port"))?;
        let redirect = RedirectUrl::new(target.to_string())
            .map_err(|e| Error::invalid(format!("redirectUri: {e}")))?;
        let client = BasicClient::new(ClientId::new(client_id.to_string()))
            .set_auth_uri(AuthUrl::from_url(authorize_url))
            .set_token_uri(TokenUrl::from_url(token_url.clone()))
            .set_redirect_uri(redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(user_scopes(scope))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty()) {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state) = request.url();

        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let state = Secret::new(state.secret().clone());
        let path = target.path().to_string();
        let tasks = listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, path.clone(), state.clone(), tx.clone())))
            .collect();
        log.push(format!(
            "listening for the browser's redirect on {}",
            redirect.as_str()
        ));
        let flow = InteractiveFlow {
            http: http.clone(),
            token_url,
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            redirect_uri: redirect.clone(),
            verifier: Secret::new(verifier.secret().clone()),
            result: rx,
            code: None,
            deadline: Instant::now() + SIGN_IN_WINDOW,
            _listener: AbortOnDrop(tasks),
        };
        let start = InteractiveStart {
            authorize_url: url.to_string(),
            redirect_uri: redirect.as_str().to_string(),
        };
        Ok((flow, start))
    }

    /// Whether the sign-in window is over (and no code is waiting).
    pub fn is_over(&self) -> bool {
        self.code.is_none() && Instant::now() >= self.deadline
    }

    /// One poll: `Ok(None)` while the browser has not come back within
    /// `budget`; the token once the code is redeemed; an Authentication
    /// error when the platform sent an error or refused the code; Timeout
    /// when the sign-in window is over.
    pub async fn poll(
        &mut self,
        budget: Duration,
        timeout: Duration,
        log: &CallLog,
    ) -> Result<Option<(Token, Option<Secret>)>> {
        let called = Instant::now();
        if self.code.is_none() {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the sign-in in the browser did not finish within {} minutes; start again",
                        SIGN_IN_WINDOW.as_secs() / 60
                    ),
                ));
            }
            let wait = budget.min(self.deadline - now);
            match tokio::time::timeout(wait, &mut self.result).await {
                Err(_) => return Ok(None),
                Ok(Err(_)) => {
                    return Err(Error::internal(
                        "the loopback listener stopped before the browser came back",
                    ))
                }
                Ok(Ok(Redirect::Error { error, description })) => {
                    return Err(Error::new(
                        ErrorKind::Authentication,
                        format!("Sign-in in the browser failed: {error}: {description}"),
                    )
                    .with_service_message(Some(description)))
                }
                Ok(Ok(Redirect::Code(code))) => {
                    log.push("the browser came back with an authorization code; redeeming it");
                    self.code = Some(code);
                }
            }
        }
        let code = self.code.clone().expect("set above");
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
            .set_redirect_uri(self.redirect_uri.clone());
        let http = OAuthHttp {
            http: &self.http,
            log,
        };
        let scopes = user_scopes(&self.scope)
            .iter()
            .map(|s| s.as_str().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let exchange = client
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(self.verifier.expose().to_string()))
            .add_extra_param("scope", scopes)
            .request_async(&http);
        // What is left of this call's timeout; past it the code is kept
        // for the next poll.
        let left = timeout.saturating_sub(called.elapsed());
        let Ok(result) = tokio::time::timeout(left, exchange).await else {
            return Err(Error::new(
                ErrorKind::Timeout,
                "redeeming the authorization code did not finish within the request timeout; poll again",
            ));
        };
        match result {
            Ok(r) => {
                self.code = None;
                Ok(Some(token_from_response(&r)))
            }
            Err(e) => {
                let err = map_token_error("Sign-in in the browser", e);
                if err.kind == ErrorKind::Authentication {
                    // Codes are good once: this one is spent.
                    self.code = None;
                }
                Err(err)
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    path: String,
    state: Secret,
    tx: Arc<Mutex<Option<oneshot::Sender<Redirect>>>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (path, state, tx) = (path.clone(), state.clone(), tx.clone());
        // Browsers open spare connections that send nothing: each one is
        // served on its own, with a time limit.
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(REQUEST_READ_TIMEOUT, serve_one(stream, &path, &state, &tx))
                    .await;
        });
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>body{{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:4em auto;max-width:36em;color:#222}}</style></head>\
<body><h1>{t}</h1><p>{x}</p></body></html>\n",
        t = html_escape(title),
        x = html_escape(text)
    )
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn serve_one(
    mut stream: TcpStream,
    path: &str,
    state: &Secret,
    tx: &Mutex<Option<oneshot::Sender<Redirect>>>,
) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let Ok(url) = url::Url::parse(&format!("http://localhost{target}")) else {
        respond(&mut stream, "400 Bad Request", &page("Bad request", "")).await;
        return;
    };
    if method != "GET" || url.path() != path {
        respond(&mut stream, "404 Not Found", &page("Not found", "")).await;
        return;
    }
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = String::new();
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(Secret::new(v.into_owned())),
            "state" => got_state = Some(Secret::new(v.into_owned())),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = first_line(&v),
            _ => {}
        }
    }
    // Only a redirect that carries the state this sign-in sent is believed.
    if got_state.as_ref() != Some(state) {
        respond(
            &mut stream,
            "400 Bad Request",
            &page(
                "Sign-in not accepted",
                "This response does not belong to the sign-in in progress (its state does not match). Start the sign-in again from MSCommerce.",
            ),
        )
        .await;
        return;
    }
    let outcome = match (code, error) {
        (_, Some(error)) => Redirect::Error { error, description },
        (Some(code), None) => Redirect::Code(code),
        (None, None) => {
            respond(
                &mut stream,
                "400 Bad Request",
                &page("Bad request", "No code came back."),
            )
            .await;
            return;
        }
    };
    let (status, body) = match &outcome {
        Redirect::Code(_) => (
            "200 OK",
            page(
                "Signed in to MSCommerce",
                "Authentication complete. You may close this tab and return to MSCommerce.",
            ),
        ),
        Redirect::Error { error, description } => (
            "200 OK",
            page(
                "Sign-in failed",
                &format!("{error}: {description}. You may close this tab."),
            ),
        ),
    };
    let sender = tx.lock().ok().and_then(|mut t| t.take());
    if let Some(sender) = sender {
        let _ = sender.send(outcome);
        respond(&mut stream, status, &body).await;
    } else {
        respond(
            &mut stream,
            "409 Conflict",
            &page(
                "Already answered",
                "This sign-in has already received its answer. You may close this tab.",
            ),
        )
        .await;
    }
}
