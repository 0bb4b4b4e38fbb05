//! The exported functions. Their doc comments are the header's
//! (`include/mscommerce.h`, made by cbindgen): each states who owns what.
//!
//! Rules shared by every function (native-abi.md):
//! - input strings are NUL-terminated UTF-8, borrowed for the call only;
//! - every `out_json` that is not NULL receives a newly allocated
//!   NUL-terminated UTF-8 JSON answer, on success and on error alike, which
//!   the caller frees with `msc_string_free`, once;
//! - the return code is an `MscStatus` (`MSC_OK` ... `MSC_INTERNAL`);
//! - no panic crosses the boundary, nothing is printed, no call blocks
//!   longer than the request timeout.

use super::status::MscStatus;
use super::{boundary, handles, runtime, strings, MscSession, ABI_VERSION};
use crate::error::{Error, Result};
use crate::log::CallLog;
use crate::session::{self, Session};
use serde_json::{json, Value};
use std::ffi::{c_char, CStr};
use std::time::Duration;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the crate version holds a NUL byte"),
    };

/// The answer written when a panic was caught at the boundary.
fn internal_answer(message: String) -> (i32, String) {
    let error = Error::internal(format!("internal error (a bug): {message}"));
    session::answer(Err(error), &CallLog::new())
}

/// The common body of the functions that answer JSON: clear `*out_json`,
/// run `f` inside the panic boundary, hand its answer to the caller.
///
/// # Safety
/// `out_json` is NULL or valid for one pointer write.
unsafe fn answer_into(out_json: *mut *mut c_char, f: impl FnOnce() -> (i32, String)) -> i32 {
    if !out_json.is_null() {
        out_json.write(std::ptr::null_mut());
    }
    let (code, text) = boundary::catch(f).unwrap_or_else(internal_answer);
    if !out_json.is_null() {
        out_json.write(strings::give(text));
    }
    code
}

/// The request's own `timeoutSeconds` (a connect request may carry session
/// options), when it is a valid one.
fn request_timeout(request: &str) -> Option<Duration> {
    let v: Value = serde_json::from_str(request).ok()?;
    crate::options::timeout_from_seconds(v.get("timeoutSeconds")?.as_f64()?).ok()
}

/// How long `msc_session_new` may take (it reads files, no network).
const SESSION_NEW_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
enum Op {
    Connect,
    Get,
    Update,
}

/// `msc_connect`, `msc_get` and `msc_update`.
///
/// # Safety
/// As for those functions.
unsafe fn call(
    op: Op,
    session: *mut MscSession,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    answer_into(out_json, || {
        let prepared = handles::get(session).and_then(|s| {
            let request = strings::borrow("request_json", request_json)?.to_owned();
            Ok((s, request))
        });
        let (s, request) = match prepared {
            Ok(p) => p,
            Err(e) => return session::answer(Err(e), &CallLog::new()),
        };
        // The work runs on the runtime's threads (see `runtime`); this
        // thread only waits for its answer.
        let first_limit = match op {
            Op::Connect => s.options().timeout,
            Op::Get | Op::Update => s.timeout(),
        };
        let done = runtime::run(first_limit, move |limit| async move {
            if let (Op::Connect, Some(t)) = (op, request_timeout(&request)) {
                limit.set(t);
            }
            if let Op::Update = op {
                // A bulk change: its cap (bulkTimeoutSeconds) and two
                // request timeouts; a fleet run: its tenants' rounds.
                limit.set(s.update_limit(&request));
            }
            if let Op::Get = op {
                // A fleet request (docs/fleet.md): its tenants' rounds.
                limit.set(s.get_limit(&request));
            }
            let log = CallLog::new();
            let result = match op {
                Op::Connect => s.connect(&request, &log).await,
                Op::Get => s.get(&request, &log).await,
                Op::Update => s.update(&request, &log).await,
            };
            session::answer(result, &log)
        });
        done.unwrap_or_else(|e| session::answer(Err(e), &CallLog::new()))
    })
}

/// The library's version, `"MAJOR.MINOR.PATCH"`.
///
/// Returns a static NUL-terminated string owned by the library: never free
/// it; it stays valid while the library is loaded.
#[no_mangle]
pub extern "C" fn msc_version() -> *const c_char {
    boundary::catch(|| VERSION.as_ptr()).unwrap_or(c"0.0.0".as_ptr())
}

/// The version of this ABI: 1 for the contract this header describes. A
/// host checks it before any other call.
#[no_mangle]
pub extern "C" fn msc_abi_version() -> i32 {
    boundary::catch(|| ABI_VERSION).unwrap_or(ABI_VERSION)
}

/// Makes a session from options JSON (`{"environment", "serviceUrl",
/// "authorityHost", "timeoutSeconds", "maxRetries", "proxy",
/// "caCertificatePath", "environmentVariables"}`, every field optional;
/// `"{}"` or `""` for the defaults).
///
/// `environmentVariables`, an object of names to strings (or null), is a
/// complete snapshot of the environment for the library to read in place
/// of the process's: proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`,
/// `ALL_PROXY`, `NO_PROXY`, upper or lower case), `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` (Linux trust store), `IDENTITY_ENDPOINT`,
/// `IDENTITY_HEADER`, `MSI_ENDPOINT` and the other managed identity
/// variables. A name missing from it counts as unset. Without the field
/// (or with null) the process environment is read. An explicit `proxy`
/// wins over the proxy variables.
///
/// `options_json` is borrowed for the call only and must not be NULL.
/// On `MSC_OK`, `*out_session` receives a new session: the caller owns it
/// and must free it with `msc_session_free`, once. On error
/// `*out_session` is set to NULL. `out_session` must not be NULL.
/// Caller owns the string written to `*out_json` (the answer: the
/// effective options as `{"value": {...}, "log": []}`, or `{"error": {...}}`)
/// and must free it with `msc_string_free`, on success and on error alike.
/// `out_json` may be NULL when the answer is not wanted.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `out_session` and
/// `out_json` are NULL or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn msc_session_new(
    options_json: *const c_char,
    out_session: *mut *mut MscSession,
    out_json: *mut *mut c_char,
) -> i32 {
    if !out_session.is_null() {
        out_session.write(std::ptr::null_mut());
    }
    answer_into(out_json, || {
        let made = (|| -> Result<(Session, (i32, String))> {
            if out_session.is_null() {
                return Err(Error::invalid("out_session is NULL"));
            }
            let options = strings::borrow("options_json", options_json)?.to_owned();
            // Parsing and the TLS set-up run on the runtime's threads.
            runtime::run(
                SESSION_NEW_LIMIT,
                move |_| async move { new_session(&options) },
            )?
        })();
        match made {
            Ok((s, answer)) => {
                out_session.write(handles::new(s));
                answer
            }
            Err(e) => session::answer(Err(e), &CallLog::new()),
        }
    })
}

/// A session from options JSON, and the answer of `msc_session_new`.
fn new_session(options: &str) -> Result<(Session, (i32, String))> {
    let s = Session::new(options)?;
    let o = s.options();
    let value = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "abiVersion": ABI_VERSION,
        "environment": o.environment.name(),
        "serviceUrl": o.service_url.as_str(),
        "authorityHost": o.authority_host.as_str(),
        "timeoutSeconds": o.timeout.as_secs_f64(),
        "maxRetries": o.max_retries,
    });
    let answer = session::answer(Ok(value), &CallLog::new());
    Ok((s, answer))
}

/// Frees a session made by `msc_session_new`, with its sign-in and tokens.
///
/// Takes ownership of `session`, which must not be used afterwards.
/// Calling with NULL is fine (nothing happens); so is calling again with a
/// handle already freed. Must not race with calls on the same session.
///
/// # Safety
/// `session` is NULL or a handle from `msc_session_new`.
#[no_mangle]
pub unsafe extern "C" fn msc_session_free(session: *mut MscSession) {
    let _ = boundary::catch(|| handles::free(session));
}

/// Signs in (`{"flow": "accessToken" | "clientSecret" | "certificate" |
/// "managedIdentity" | "password" | "deviceCode" | "interactive", ...}`) and
/// keeps the connection on the session; answers the connection
/// (`{"Account", "TenantId", "ClientId", "Flow", "Environment",
/// "ExpiresOn"}`), or for a `start` step what the host shows, or
/// `MSC_PENDING` for a `poll` step whose sign-in is not finished. A
/// `cancel` step drops a waiting sign-in (and its loopback listener) and
/// answers `{"Cancelled": true|false}`; an existing connection stays.
/// The request may carry session options for this connection, among them
/// `environmentVariables` (see `msc_session_new`): when its proxy or trust
/// store variables differ from the session's, the connection gets an HTTP
/// client of its own built from them.
///
/// `session` is borrowed and must be a live session; `request_json` is
/// borrowed for the call only and must not be NULL.
/// Caller owns the string written to `*out_json` and must free it with
/// `msc_string_free`, on success and on error alike. `out_json` may be
/// NULL when the answer is not wanted. Safe to call from several threads
/// at once on one session.
///
/// # Safety
/// `session` is NULL or a handle from `msc_session_new`; `request_json` is
/// NULL or a NUL-terminated string; `out_json` is NULL or valid for one
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn msc_connect(
    session: *mut MscSession,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    call(Op::Connect, session, request_json, out_json)
}

/// Reads from the service: `{"resource": "policies" | "policy" |
/// "productPolicies" | "productPolicy" | "offerTypePolicy" | "connection",
/// "policyId", "productId", "offerType", "scope", "accessToken"}`;
/// answers `{"value": ..., "log": [...]}`.
///
/// Baselines (docs/bulk-and-baselines.md): `{"resource": "baseline",
/// "policyId", "otherProducts": "Keep" | "Disabled" | ...}` answers the
/// tenant's baseline `{"PolicyId", "TenantId", "ExportedAt", "Tool",
/// "Products": [{"ProductId", "ProductName", "PolicyValue"}],
/// "OtherProducts"}`; `{"resource": "baselineDrift", "baseline": {...}}`
/// answers the drift, `[{"ProductId", "ProductName", "Expected", "Actual",
/// "Reason": "Differs" | "NotInBaseline" | "NotInTenant"}]` (empty: none).
/// A 404 for a product id that Microsoft replaced names its successor.
///
/// Many tenants (docs/fleet.md §3): `"tenants": [...]` with
/// `"tenantConcurrency"` answers one result per tenant, `[{"TenantId",
/// "Status", "Reason", "Error", "Value"}]`. With `"step": "start"` such a
/// get runs in the background instead (one job per session, shared with
/// `msc_update`'s steps), and `{"step": "poll"}` / `{"step": "cancel"}`,
/// through this function or `msc_update`, answer the progress,
/// `{"Finished", "Tenants", "TenantsDone", "Succeeded", "Failed",
/// "Drifted", "Results"}`, each within the request timeout.
///
/// `session` is borrowed and must be a live session; `request_json` is
/// borrowed for the call only and must not be NULL.
/// Caller owns the string written to `*out_json` and must free it with
/// `msc_string_free`, on success and on error alike. `out_json` may be
/// NULL when the answer is not wanted. Safe to call from several threads
/// at once on one session.
///
/// # Safety
/// `session` is NULL or a handle from `msc_session_new`; `request_json` is
/// NULL or a NUL-terminated string; `out_json` is NULL or valid for one
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn msc_get(
    session: *mut MscSession,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    call(Op::Get, session, request_json, out_json)
}

/// Changes a policy: `{"policyId", "productId" or "offerType", "value":
/// "Enabled" | "Disabled" | "OnlyTrialsWithoutPaymentMethod"}` or
/// `"enabled": true | false` in place of `value`; answers the updated
/// policy. A 404 for a product id that Microsoft replaced names its
/// successor, which is never written in its place.
///
/// Bulk changes (docs/bulk-and-baselines.md): `"productIds": [...]` or
/// `"allProducts": true` with `"exceptProductIds": [...]`, or `"baseline":
/// {...}` (apply; no value), with `"concurrency"` (1-64, default 8),
/// `"whatIf"`, `"bulkTimeoutSeconds"` (default 900): one listing, only the
/// products not at their value written, at most `concurrency` at once (a
/// 429 pauses all of them and lowers it), one listing to verify; answers
/// one result per product, `[{"PolicyValue", "ProductId", "PolicyId",
/// "ProductName", "PreviousValue", "Status": "Updated" | "Unchanged" |
/// "Failed" | "WouldUpdate", "Error"}]`, MSC_OK however many failed.
/// Each request is bounded by the request timeout; such a call as a whole
/// by `bulkTimeoutSeconds` plus one request timeout. With `"step":
/// "start"` the writes run in the background instead, and `{"step":
/// "poll"}` / `{"step": "cancel"}` answer the progress, `{"Finished",
/// "Total", "Done", "Updated", "Unchanged", "Failed", "Concurrency",
/// "Results"}`, each within the request timeout. With `"tenants"` (a
/// fleet update, docs/fleet.md §3) the steps answer the fleet's progress,
/// as for `msc_get`.
///
/// `session` is borrowed and must be a live session; `request_json` is
/// borrowed for the call only and must not be NULL.
/// Caller owns the string written to `*out_json` and must free it with
/// `msc_string_free`, on success and on error alike. `out_json` may be
/// NULL when the answer is not wanted. Safe to call from several threads
/// at once on one session.
///
/// # Safety
/// `session` is NULL or a handle from `msc_session_new`; `request_json` is
/// NULL or a NUL-terminated string; `out_json` is NULL or valid for one
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn msc_update(
    session: *mut MscSession,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    call(Op::Update, session, request_json, out_json)
}

/// Forgets the session's sign-in (its tokens are dropped and wiped); the
/// session stays usable and is still the caller's to free.
///
/// `session` is borrowed and must be a live session (NULL or a freed
/// handle: `MSC_INVALID_ARGUMENT`). Nothing is allocated.
///
/// # Safety
/// `session` is NULL or a handle from `msc_session_new`.
#[no_mangle]
pub unsafe extern "C" fn msc_disconnect(session: *mut MscSession) -> i32 {
    boundary::catch(|| match handles::get(session) {
        Ok(s) => {
            s.disconnect();
            MscStatus::MSC_OK.code()
        }
        Err(e) => MscStatus::of(e.kind).code(),
    })
    .unwrap_or(MscStatus::MSC_INTERNAL.code())
}

/// Frees a string that this library returned through an `out_json`.
///
/// Takes ownership of `s`, which must not be used afterwards; free each
/// string once. Calling with NULL is fine (nothing happens). Never pass
/// `msc_version()`'s string, nor memory from another allocator.
///
/// # Safety
/// `s` is NULL or a string from an `out_json` of this library, not yet
/// freed.
#[no_mangle]
pub unsafe extern "C" fn msc_string_free(s: *mut c_char) {
    let _ = boundary::catch(|| strings::reclaim(s));
}
