//! The `log` lines of an answer: short lines for the PowerShell verbose
//! stream (method, URL, status, milliseconds, correlation id, retries).
//! Callers never put a token, secret, password or authorization code here;
//! URLs logged are the service's and authority's paths, which carry none.

use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct CallLog(Mutex<Vec<String>>);

impl CallLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a line; text from outside in it is shown as [`crate::text`]
    /// makes it (one line, no control character, bounded).
    pub fn push(&self, line: impl Into<String>) {
        let line = crate::text::clipped(&line.into(), crate::text::MAX_MESSAGE_CHARS);
        if let Ok(mut v) = self.0.lock() {
            v.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}
