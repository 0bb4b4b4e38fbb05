//! MSCommerce-rs: a client of the Microsoft 365 licensing API that turns
//! self-service purchase on or off per product, for the `MSCommerce`
//! PowerShell module (through the C ABI), the `mscommerce` CLI and tests.
//!
//! - [`client`]: the licensing API operations, retries, errors;
//! - [`bulk`]: bulk changes (one listing, paced concurrent writes through
//!   [`pacer`], a verifying listing, one result per product);
//! - [`baseline`]: baseline files, drift, and their apply through [`bulk`];
//! - [`replaced`]: product ids Microsoft replaced, named in 404 errors;
//! - [`fleet`]: many tenants in one call (a request per tenant, bounded
//!   concurrency, one result per tenant);
//! - [`auth`]: sign-in flows and the token caches (one per tenant);
//! - [`session`]: a session and the JSON requests of the C ABI;
//! - [`transport`]: the HTTP client (TLS 1.2+, trust store, proxy);
//! - [`text`]: outside text made safe to show (one line, no control
//!   characters, bounded);
//! - [`environment`]: the environment variables read, from the process or a
//!   host's snapshot;
//! - `emulator` (feature `emulator`): the imitation service and sign-in
//!   endpoints every test talks to.

pub mod auth;
pub mod baseline;
pub mod bulk;
pub mod client;
pub mod environment;
pub mod error;
pub mod ffi;
pub mod fleet;
pub mod ids;
pub mod log;
pub mod model;
pub mod options;
pub mod pacer;
pub mod replaced;
pub mod session;
pub mod text;
pub mod transport;

pub use error::{Error, ErrorKind, Result};
pub use session::Session;

// Not part of the C ABI: cbindgen (which matches types by name) must skip it.
/// cbindgen:ignore
#[cfg(feature = "emulator")]
pub mod emulator;
