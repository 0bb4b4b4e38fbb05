//! The one process-wide tokio runtime (multi-thread, 2 workers, all
//! drivers), made on first use. Exports block on it from the caller's own
//! thread (a PowerShell or C thread, never a runtime thread), and every call
//! is cut at its deadline, so no call blocks longer than the request
//! timeout.

use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use once_cell::sync::Lazy;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

static RUNTIME: Lazy<std::result::Result<Runtime, String>> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("mscommerce-rt")
        .on_thread_start(super::boundary::quiet_thread)
        .build()
        .map_err(|e| e.to_string())
});

pub(crate) fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .as_ref()
        .map_err(|e| Error::internal(format!("cannot start the async runtime: {e}")))
}

/// Run `f` inside the runtime's context (for code that may spawn).
pub(crate) fn enter<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _guard = runtime()?.enter();
    f()
}

/// Block the calling thread on `fut`, for at most `limit`. Running out of
/// time is `Timeout`, with a log line; the future is dropped, which cancels
/// what it was doing.
pub(crate) fn block_on<T>(
    limit: Duration,
    log: &CallLog,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let rt = runtime()?;
    let started = Instant::now();
    rt.block_on(async move {
        match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => {
                let ms = started.elapsed().as_millis();
                log.push(format!("gave up after {ms} ms (request timeout)"));
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the call did not finish within the request timeout of {} s",
                        limit.as_secs_f64()
                    ),
                ))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_cuts_a_slow_call() {
        let log = CallLog::new();
        let t = Instant::now();
        let r: Result<()> = block_on(Duration::from_millis(100), &log, async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        });
        assert_eq!(r.unwrap_err().kind, ErrorKind::Timeout);
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(log.lines().len(), 1);
        let ok = block_on(Duration::from_secs(5), &log, async { Ok(5) }).unwrap();
        assert_eq!(ok, 5);
    }
}
