//! Error kinds shared by the service client, the sign-in code, the C ABI and
//! the CLI. The numeric codes are the C ABI's return codes (native-abi.md).

use crate::text::{clipped, echo, MAX_MESSAGE_CHARS};
use serde::Serialize;
use std::fmt;

/// The outcome classes of the C ABI; `code()` is the ABI's return code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorKind {
    InvalidArgument,
    NotConnected,
    Authentication,
    Forbidden,
    NotFound,
    Throttled,
    Service,
    Network,
    Timeout,
    Pending,
    Internal,
}

impl ErrorKind {
    /// The C ABI return code for this kind (MSC_OK is 0 and has no kind).
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument => 1,
            ErrorKind::NotConnected => 2,
            ErrorKind::Authentication => 3,
            ErrorKind::Forbidden => 4,
            ErrorKind::NotFound => 5,
            ErrorKind::Throttled => 6,
            ErrorKind::Service => 7,
            ErrorKind::Network => 8,
            ErrorKind::Timeout => 9,
            ErrorKind::Pending => 10,
            ErrorKind::Internal => 11,
        }
    }

    /// PascalCase name, as in the `code` field of an error answer.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::NotConnected => "NotConnected",
            ErrorKind::Authentication => "Authentication",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::Service => "Service",
            ErrorKind::Network => "Network",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Pending => "Pending",
            ErrorKind::Internal => "Internal",
        }
    }
}

/// An error with everything a support case needs. Never carries a secret:
/// messages are built by this crate, and service messages come from
/// response bodies, which never echo credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub http_status: Option<u16>,
    pub correlation_id: Option<String>,
    pub service_message: Option<String>,
    pub retry_after_seconds: Option<u64>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            http_status: None,
            correlation_id: None,
            service_message: None,
            retry_after_seconds: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    pub fn with_service_message(mut self, message: Option<String>) -> Self {
        self.service_message = message.filter(|m| !m.is_empty());
        self
    }

    /// Prefix the message with context, e.g. the published
    /// "Failed to retrieve product policy with PolicyId 'X' ProductId 'Y'".
    pub fn context(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The message as shown: one line, controls escaped, bounded
    /// ([`crate::text`]).
    pub fn shown_message(&self) -> String {
        clipped(&self.message, MAX_MESSAGE_CHARS)
    }

    /// The service's message as shown (see [`Error::shown_message`]).
    pub fn shown_service_message(&self) -> Option<String> {
        self.service_message
            .as_deref()
            .map(|m| clipped(m, MAX_MESSAGE_CHARS))
    }

    /// The `error` object of a JSON answer (fields that do not apply are
    /// left out). Text from the service or the caller is shown as
    /// [`crate::text`] makes it: one line, no control character.
    pub fn to_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        o.insert("code".into(), self.kind.name().into());
        o.insert("message".into(), self.shown_message().into());
        if let Some(s) = self.http_status {
            o.insert("httpStatus".into(), s.into());
        }
        if let Some(c) = &self.correlation_id {
            o.insert("correlationId".into(), echo(c).into());
        }
        if let Some(m) = self.shown_service_message() {
            o.insert("serviceMessage".into(), m.into());
        }
        if let Some(r) = self.retry_after_seconds {
            o.insert("retryAfterSeconds".into(), r.into());
        }
        serde_json::Value::Object(o)
    }
}

impl fmt::Display for Error {
    /// One line: message, HTTP status, service message, correlation id
    /// (controls escaped, as in [`Error::to_json`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.shown_message();
        f.write_str(&message)?;
        if let Some(s) = self.http_status {
            write!(f, " (HTTP {s})")?;
        }
        if let Some(m) = self.shown_service_message() {
            if !message.contains(m.as_str()) {
                write!(f, ": {m}")?;
            }
        }
        if let Some(c) = &self.correlation_id {
            write!(f, " [correlation id {}]", echo(c))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
