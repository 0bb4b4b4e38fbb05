//! Set-up shared by the benchmarks: an emulator on a runtime of its own,
//! the runtime the calls run on (as the C ABI runs them), a session pointed
//! at the emulator, and the benchmark's own arguments.
#![allow(dead_code)]

use mscommerce::emulator::{Emulator, EmulatorConfig};
use mscommerce::Session;
use serde_json::json;

pub fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start_background(config).expect("emulator")
}

/// As the C ABI runs its calls: a runtime of 2 workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh session pointed at `url` for the service and the identity
/// platform.
pub fn session(url: &str) -> Session {
    Session::new(&json!({"serviceUrl": url, "authorityHost": url}).to_string()).unwrap()
}

/// The value after `name` among the benchmark's arguments
/// (`cargo bench --bench NAME -- NAME VALUE`).
pub fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}
