//! Shared set-up of the integration tests: an emulator over real loopback
//! and sessions pointed at it.
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod cli;

use mscommerce::emulator::{Emulator, EmulatorConfig};
use mscommerce::log::CallLog;
use mscommerce::{Error, Session};
use serde_json::{json, Value};

pub const ADMIN: &str = "admin@contoso.onmicrosoft.com";
pub const ADMIN_PASSWORD: &str = "Emulator-Admin-1";
pub const APP_ID: &str = "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01";
pub const APP_SECRET: &str = "emulator-app-secret";
pub const TENANT: &str = "contoso.onmicrosoft.com";

pub async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts")
}

/// An emulator on a runtime of its own, so that blocking clients and the
/// CLI can call it from anywhere.
pub fn background(config: EmulatorConfig) -> Emulator {
    Emulator::start_background(config).expect("emulator starts")
}

/// Session options pointing at the emulator, with fast retries for tests.
pub fn options(emu: &Emulator, extra: Value) -> String {
    let mut o = json!({
        "serviceUrl": emu.url(),
        "authorityHost": emu.url(),
        "retryBaseDelayMs": 10,
        "timeoutSeconds": 20,
    });
    if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    o.to_string()
}

/// A session connected with a token minted for `user`.
pub async fn connected(emu: &Emulator, user: &str) -> Session {
    let s = Session::new(&options(emu, json!({}))).expect("session");
    let token = emu.mint_token(user, 3600);
    s.connect(
        &json!({"flow": "accessToken", "accessToken": token}).to_string(),
        &CallLog::new(),
    )
    .await
    .expect("connect");
    s
}

pub async fn get(s: &Session, req: Value) -> Result<Value, Error> {
    s.get(&req.to_string(), &CallLog::new()).await
}

pub async fn update(s: &Session, req: Value) -> Result<Value, Error> {
    s.update(&req.to_string(), &CallLog::new()).await
}
