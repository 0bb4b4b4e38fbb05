//! The C ABI of `native-abi.md`: the `msc_*` functions, their return codes
//! and the ownership rules, as a thin and safe boundary over [`Session`].
//! Every JSON meaning lives in [`crate::session`]; this module only moves
//! bytes across the boundary.
//!
//! - [`status`]: the return codes (`MSC_OK` ... `MSC_INTERNAL`);
//! - [`exports`]: the exported functions, whose doc comments become
//!   `include/mscommerce.h` (cbindgen);
//! - `boundary`: the panic boundary around every export (and the quiet
//!   panic hook, so nothing is printed);
//! - `handles`: the opaque `MscSession` handle and the registry of live ones;
//! - `runtime`: the one process-wide tokio runtime and the call deadline;
//! - `strings`: borrowing input strings, allocating and freeing output ones.
//!
//! [`Session`]: crate::Session

mod boundary;
pub mod exports;
mod handles;
mod runtime;
pub mod status;
mod strings;

pub use exports::*;
pub use handles::MscSession;
pub use status::MscStatus;

/// The ABI version `msc_abi_version` answers: 1 for the contract of
/// `native-abi.md`. Bumped only when a function changes meaning.
pub const ABI_VERSION: i32 = 1;
