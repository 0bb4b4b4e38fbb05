//! The opaque `MscSession` handle: a `Box` behind a pointer, as the contract
//! says, holding an `Arc<Session>`. A registry of the live handles lets every
//! call check its handle before touching it: a NULL, freed or made-up
//! pointer is `MSC_INVALID_ARGUMENT` instead of undefined behaviour, a double
//! `msc_session_free` is a no-op, and a call that is running when its
//! session is freed (which the contract forbids) still finishes safely,
//! because it holds its own reference to the session.

use crate::error::{Error, Result};
use crate::Session;
use once_cell::sync::Lazy;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// A session of the C ABI. Opaque to C: only ever seen behind a pointer.
pub struct MscSession {
    session: Arc<Session>,
}

/// Addresses of the handles given out and not freed yet.
static LIVE: Lazy<Mutex<HashSet<usize>>> = Lazy::new(|| Mutex::new(HashSet::new()));

fn live() -> std::sync::MutexGuard<'static, HashSet<usize>> {
    // Nothing panics while the lock is held; recover the set if it did.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new handle; the caller owns it until [`free`].
pub(crate) fn new(session: Session) -> *mut MscSession {
    let p = Box::into_raw(Box::new(MscSession {
        session: Arc::new(session),
    }));
    live().insert(p as usize);
    p
}

/// The session behind a live handle.
pub(crate) fn get(p: *const MscSession) -> Result<Arc<Session>> {
    if p.is_null() {
        return Err(Error::invalid("session is NULL"));
    }
    let live = live();
    if !live.contains(&(p as usize)) {
        return Err(Error::invalid(
            "session is not a live session handle (already freed, or never made by msc_session_new)",
        ));
    }
    // SAFETY: the address is in the registry, so it is a Box made by `new`
    // and not yet freed; `free` removes it under the same lock before
    // dropping the Box.
    Ok(unsafe { Arc::clone(&(*p).session) })
}

/// Free a handle; NULL, unknown and already freed handles are ignored.
pub(crate) fn free(p: *mut MscSession) {
    if p.is_null() || !live().remove(&(p as usize)) {
        return;
    }
    // SAFETY: it was live, and is no longer in the registry, so no other
    // call can reach this Box any more.
    drop(unsafe { Box::from_raw(p) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_guards_handles() {
        let p = new(Session::new("").unwrap());
        let s = get(p).unwrap();
        free(p);
        // The call that still holds the session keeps it alive.
        assert!(s.options().max_retries <= 10);
        assert!(get(p).is_err());
        free(p); // double free: ignored
        free(std::ptr::null_mut());
        assert!(get(std::ptr::null()).is_err());
        assert!(get(std::ptr::dangling::<MscSession>()).is_err());
    }
}
