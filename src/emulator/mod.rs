//! The embedded emulator: an imitation of the licensing API and of the
//! Microsoft identity platform's endpoints on 127.0.0.1, so the whole flow
//! runs with no tenant and every test has a real peer over real HTTP(S).
//!
//! Not part of the shipped native library (cargo feature `emulator`).

// Handlers answer errors as ready HTTP responses; boxing them buys nothing here.
#![allow(clippy::result_large_err)]

pub mod control;
pub mod directory;
pub mod fleet;
pub mod identity;
pub mod identity_flows;
pub mod licensing;
pub mod state;
pub mod tls;

pub use state::{Catalogue, FaultEvent, Faults, NewProduct, Stats, WriteRecord};
pub type EmulatorState = state::State;

use axum::Router;
use hyper_util::rt::TokioIo;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub tls: bool,
    /// Added to every licensing request.
    pub latency_ms: u64,
    pub catalogue: Catalogue,
    /// Lifetime of issued access tokens.
    pub token_lifetime_seconds: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            tls: false,
            latency_ms: 0,
            catalogue: Catalogue::Seed,
            token_lifetime_seconds: 3600,
        }
    }
}

/// A running emulator. Dropping it stops it.
pub struct Emulator {
    ca_pem: Option<String>,
    state: Arc<EmulatorState>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Start on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let state = Arc::new(EmulatorState::new(
            listener.local_addr()?,
            config.tls,
            config.catalogue,
            config.latency_ms,
            config.token_lifetime_seconds,
        ));
        let tls = if config.tls {
            Some(tls::generate().map_err(std::io::Error::other)?)
        } else {
            None
        };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server_config));
        let (stop, stopped) = watch::channel(false);
        // A fleet of customer tenants from a file (docs/fleet.md §4), so
        // `mscommerce emulator` can serve one without a flag of its own.
        if let Some(path) = std::env::var_os(fleet::TENANTS_FILE_VARIABLE) {
            fleet::read_file(std::path::Path::new(&path))
                .and_then(|c| state.set_fleet(c))
                .map_err(|e| {
                    std::io::Error::other(format!("{}: {e}", fleet::TENANTS_FILE_VARIABLE))
                })?;
        }
        let app = router(state.clone());
        tokio::spawn(serve(listener, app, state.clone(), acceptor, stopped));
        Ok(Emulator {
            ca_pem,
            state,
            stop,
            thread: None,
        })
    }

    /// Start on a runtime of its own, in a background thread (for tests and
    /// hosts that are not async).
    pub fn start_background(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("mscommerce-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match Emulator::start(config).await {
                        Ok(emu) => {
                            let mut stopped = emu.stop.subscribe();
                            let _ = tx.send(Ok(emu));
                            while !*stopped.borrow() {
                                if stopped.changed().await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let mut emu = rx
            .recv()
            .map_err(|_| std::io::Error::other("emulator thread died"))??;
        emu.thread = Some(thread);
        Ok(emu)
    }

    /// Base URL of both the licensing API and the identity endpoints.
    pub fn url(&self) -> String {
        self.state.base_url()
    }

    pub fn port(&self) -> u16 {
        self.state.addr.port()
    }

    /// The CA certificate (PEM) to trust in TLS mode.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub fn state(&self) -> &Arc<EmulatorState> {
        &self.state
    }

    /// An access token for a built-in user ("admin", "billing", "reader", "user").
    pub fn mint_token(&self, user: &str, lifetime_seconds: i64) -> String {
        let u = directory::user_by_key(user).unwrap_or(&directory::USERS[0]);
        self.state.issuer.issue(
            &identity::Subject::User(u),
            crate::auth::MODULE_CLIENT_ID,
            lifetime_seconds,
        )
    }

    /// Replace the faults (as `POST /_emulator/faults`).
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Serve another catalogue from now on, every value Enabled (as `POST
    /// /_emulator/catalogue`); a reset goes back to it.
    pub fn set_catalogue(&self, catalogue: Catalogue) {
        self.state.set_catalogue(catalogue);
    }

    /// The products of the default policy as the emulator holds them now,
    /// in catalogue order.
    pub fn products(&self) -> Vec<state::Product> {
        self.state
            .data
            .lock()
            .ok()
            .and_then(|d| d.products.get(crate::model::DEFAULT_POLICY_ID).cloned())
            .unwrap_or_default()
    }

    /// Add a product, Enabled as Microsoft's new products appear (or update
    /// the one with that id); true when it was added.
    pub fn add_product(&self, product_id: &str, product_name: &str) -> bool {
        let Ok(mut d) = self.state.data.lock() else {
            return false;
        };
        d.add_product(&NewProduct {
            product_id: product_id.into(),
            product_name: Some(product_name.into()),
            ..Default::default()
        })
        .is_ok_and(|(_, _, added)| added)
    }

    /// Remove a product of the default policy; true when there was one.
    pub fn remove_product(&self, product_id: &str) -> bool {
        self.state
            .data
            .lock()
            .is_ok_and(|mut d| d.remove_product(None, product_id).is_some())
    }

    /// Replace the customer tenants (as `POST /_emulator/tenants`).
    pub fn set_tenants(&self, config: fleet::FleetConfig) -> Result<(), String> {
        self.state.set_fleet(config)
    }

    /// A fleet tenant's products of the default policy, in catalogue order.
    pub fn tenant_products(&self, tenant: &str) -> Option<Vec<state::Product>> {
        let t = self.state.fleet.lock().ok()?.find(tenant)?;
        let d = t.data.lock().ok()?;
        d.products.get(crate::model::DEFAULT_POLICY_ID).cloned()
    }

    /// A fleet tenant's writes since its data was loaded.
    pub fn tenant_writes(&self, tenant: &str) -> Option<u64> {
        let t = self.state.fleet.lock().ok()?.find(tenant)?;
        let d = t.data.lock().ok()?;
        Some(d.writes)
    }

    /// A fleet tenant's token requests.
    pub fn tenant_token_requests(&self, tenant: &str) -> Option<u64> {
        let t = self.state.fleet.lock().ok()?.find(tenant)?;
        Some(t.token_requests.load(Ordering::SeqCst))
    }

    /// Every successful write since the last reset, in order.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.state.writes()
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn reset(&self) {
        self.state.reset();
    }

    /// The policy value of a product as the emulator holds it.
    pub fn product_value(&self, product_id: &str) -> Option<String> {
        let data = self.state.data.lock().ok()?;
        data.products
            .get(crate::model::DEFAULT_POLICY_ID)?
            .iter()
            .find(|p| p.product_id.eq_ignore_ascii_case(product_id))
            .map(|p| p.policy_value.clone())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(state: Arc<EmulatorState>) -> Router {
    Router::new()
        .merge(licensing::routes())
        .merge(control::routes())
        .merge(fleet::routes())
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(identity::token),
        )
        .merge(identity_flows::routes())
        .with_state(state)
}

/// Accept connections until stopped; count them; drop those a fault says to.
async fn serve(
    listener: TcpListener,
    app: Router,
    state: Arc<EmulatorState>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = stopped.changed() => return,
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let app = app.clone();
        let state = state.clone();
        let acceptor = acceptor.clone();
        let mut stop = stopped.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    let state = state.clone();
                    async move {
                        if req.uri().path().starts_with("/v1") && take_drop(&state) {
                            return Err(std::io::Error::other("fault: connection dropped"));
                        }
                        let put = req.method() == hyper::Method::PUT
                            && req.uri().path().starts_with("/v1");
                        use tower::ServiceExt;
                        let response = match app.oneshot(req.map(axum::body::Body::new)).await {
                            Ok(r) => r,
                            Err(e) => match e {},
                        };
                        if put && response.status().is_success() && take_drop_after_write(&state) {
                            return Err(std::io::Error::other(
                                "fault: connection dropped after the write",
                            ));
                        }
                        Ok(response)
                    }
                });
            let builder = hyper::server::conn::http1::Builder::new();
            match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! { _ = conn => {}, _ = stop.changed() => {} }
                }
                Some(acc) => {
                    if let Ok(tls) = acc.accept(stream).await {
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        tokio::select! { _ = conn => {}, _ = stop.changed() => {} }
                    }
                }
            }
        });
    }
}

fn take_drop(state: &EmulatorState) -> bool {
    let Ok(mut f) = state.faults.lock() else {
        return false;
    };
    if f.drop > 0 {
        f.drop -= 1;
        state.requests.fetch_add(1, Ordering::SeqCst);
        true
    } else {
        false
    }
}

/// Whether to drop the connection of a write that was applied (fault
/// `dropAfterWrite`).
fn take_drop_after_write(state: &EmulatorState) -> bool {
    let Ok(mut f) = state.faults.lock() else {
        return false;
    };
    if f.drop_after_write > 0 {
        f.drop_after_write -= 1;
        true
    } else {
        false
    }
}
