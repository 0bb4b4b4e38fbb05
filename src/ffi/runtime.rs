//! The one process-wide tokio runtime (multi-thread, 2 workers, all
//! drivers), made on first use, and how an export runs its work there.
//!
//! The work of every export that does more than look at its arguments runs
//! on the runtime's own threads, whose stacks the library sizes, never on
//! the caller's: a host thread may have a small stack (musl's default is
//! 128 KiB, a C host may ask for 64 KiB), and parsing JSON, TLS handshakes
//! and sign-in need more than that. The calling thread only waits on a
//! channel, for at most the request timeout (plus a little grace: the work
//! cuts itself at the timeout, see `Session`).

use crate::error::{Error, ErrorKind, Result};
use once_cell::sync::Lazy;
use std::future::Future;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::time::Duration;
use tokio::runtime::Runtime;

/// The stack of the runtime's threads (workers and blocking threads).
const STACK_SIZE: usize = 4 * 1024 * 1024;

/// How much longer than its limit the caller waits for a call's answer:
/// the work ends itself at the limit; this only covers handing the answer
/// over on a busy machine.
const GRACE: Duration = Duration::from_secs(2);

static RUNTIME: Lazy<std::result::Result<Runtime, String>> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(STACK_SIZE)
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

/// What the work sends the waiting caller.
enum Message<T> {
    /// How long the work may take from now (known once it has read its
    /// request).
    Limit(Duration),
    Done(std::result::Result<T, tokio::task::JoinError>),
}

/// The work's way to tell the waiting caller how long it may take.
pub(crate) struct Limit<T>(SyncSender<Message<T>>);

impl<T> Limit<T> {
    pub(crate) fn set(&self, limit: Duration) {
        let _ = self.0.try_send(Message::Limit(limit));
    }
}

/// Run `work` on the runtime and wait for its result on the calling thread:
/// at most `limit` (or what the work sets through [`Limit`]) plus a little
/// grace. A panic in the work is `Internal` with its message; running out
/// of time is `Timeout`, and the work is cancelled.
pub(crate) fn run<T, W, F>(limit: Duration, work: W) -> Result<T>
where
    T: Send + 'static,
    W: FnOnce(Limit<T>) -> F + Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = sync_channel(2);
    let limits = Limit(tx.clone());
    let task = rt.spawn(async move { work(limits).await });
    let abort = task.abort_handle();
    rt.spawn(async move {
        let _ = tx.send(Message::Done(task.await));
    });
    let mut wait = limit;
    loop {
        match rx.recv_timeout(wait + GRACE) {
            Ok(Message::Limit(l)) => wait = l,
            Ok(Message::Done(Ok(value))) => return Ok(value),
            Ok(Message::Done(Err(e))) => {
                let what = if e.is_panic() {
                    super::boundary::message(e.into_panic().as_ref())
                } else {
                    "the work was cancelled".to_string()
                };
                return Err(Error::internal(format!("internal error (a bug): {what}")));
            }
            Err(RecvTimeoutError::Timeout) => {
                abort.abort();
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the call did not finish within the request timeout of {} s",
                        wait.as_secs_f64()
                    ),
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::internal(
                    "internal error (a bug): the work ended without an answer",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn work_runs_on_the_runtime_and_is_cut_at_its_limit() {
        let name = run(Duration::from_secs(5), |_| async {
            std::thread::current().name().map(str::to_string)
        })
        .unwrap();
        assert_eq!(name.as_deref(), Some("mscommerce-rt"));

        // The work's own limit replaces the first one.
        let t = Instant::now();
        let r = run(Duration::from_secs(60), |limit| async move {
            limit.set(Duration::from_millis(100));
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        assert_eq!(r.unwrap_err().kind, ErrorKind::Timeout);
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

        let e = run(Duration::from_secs(5), |_| async {
            if true {
                panic!("boom");
            }
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.message.contains("boom"), "{}", e.message);
    }
}
