//! Ctrl+C while a long run goes on. The listener is registered once, when
//! made, and keeps every Ctrl+C from then on, even one that arrives while
//! nobody waits for it (a future of `tokio::signal::ctrl_c()` made again
//! after the first would only listen from its first poll, and lose a
//! second Ctrl+C pressed in between).

pub struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    signal: Option<tokio::signal::windows::CtrlC>,
}

impl Interrupts {
    /// Listen from now on (if the listener cannot be made, Ctrl+C keeps
    /// its default: the process ends).
    pub fn new() -> Self {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_c().ok();
        Interrupts { signal }
    }

    /// The next Ctrl+C (at once for one pressed since the last).
    pub async fn next(&mut self) {
        match &mut self.signal {
            Some(s) => {
                if s.recv().await.is_none() {
                    std::future::pending::<()>().await
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}
