//! The panic boundary. Every export runs inside [`catch`]; a panic becomes
//! `MSC_INTERNAL` with the panic's message. The default panic hook would
//! print that message to stderr, and the ABI never prints: a hook installed
//! once stays silent on threads that are inside an export and on the
//! runtime's own threads, and hands every other panic of the process to the
//! hook that was there before.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// > 0 while this thread is inside an export (or is a runtime thread).
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

fn quiet() -> bool {
    QUIET.try_with(|q| q.get() > 0).unwrap_or(true)
}

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !quiet() {
                previous(info);
            }
        }));
    });
}

/// Called on every thread of the library's runtime when it starts: panics
/// there are the library's, and stay silent too.
pub(crate) fn quiet_thread() {
    install_hook();
    let _ = QUIET.try_with(|q| q.set(q.get() + 1));
}

struct QuietScope;

impl QuietScope {
    fn enter() -> Self {
        let _ = QUIET.try_with(|q| q.set(q.get() + 1));
        QuietScope
    }
}

impl Drop for QuietScope {
    fn drop(&mut self) {
        let _ = QUIET.try_with(|q| q.set(q.get().saturating_sub(1)));
    }
}

/// Run `f`; a panic comes back as `Err(message)`, unprinted.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let _quiet = QuietScope::enter();
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = message(payload.as_ref());
        // A payload whose drop panics must not unwind out of the export.
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        message
    })
}

pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_caught_with_their_message() {
        assert_eq!(catch(|| 7), Ok(7));
        assert_eq!(
            catch(|| -> i32 { panic!("boom {}", 1) }),
            Err("boom 1".into())
        );
        assert_eq!(catch(|| -> i32 { panic!("static") }), Err("static".into()));
        assert_eq!(
            catch(|| -> i32 { std::panic::panic_any(42u8) }),
            Err("a panic without a message".into())
        );
        // Nested scopes unwind their counters.
        assert!(!quiet());
    }
}
