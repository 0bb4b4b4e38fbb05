//! The return codes of every `msc_*` function (native-abi.md). The numbers
//! are [`ErrorKind::code`]'s; a test below keeps the two in step.
//!
//! [`ErrorKind::code`]: crate::ErrorKind::code

use crate::ErrorKind;

/// The return code of every `msc_*` function that returns `int32_t`: the
/// same numbers in every function. An error answer's `error.code` is the
/// constant's name without `MSC_`, in PascalCase (`MSC_NOT_FOUND`:
/// `"NotFound"`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum MscStatus {
    /// Success; `out_json` holds `{"value": ..., "log": [...]}`.
    MSC_OK = 0,
    /// NULL where a pointer is required, a string that is not UTF-8, JSON
    /// that does not parse or is not an object, a missing, unknown or
    /// invalid field (a proxy that is not `http://` or `https://`, a
    /// timeout that is not more than 0 and at most 3600 seconds), an id
    /// that fails validation, a handle that is not a live session.
    MSC_INVALID_ARGUMENT = 1,
    /// No sign-in on the session and no `accessToken` in the request.
    MSC_NOT_CONNECTED = 2,
    /// Sign-in failed; or 401 that a token refresh could not cure.
    MSC_AUTHENTICATION = 3,
    /// The service answered 403.
    MSC_FORBIDDEN = 4,
    /// The service answered 404.
    MSC_NOT_FOUND = 5,
    /// 429 still after the retries, or a `Retry-After` longer than what is
    /// left of the request timeout (then at once): `retryAfterSeconds` and
    /// the message say when to call again.
    MSC_THROTTLED = 6,
    /// Any other 4xx or 5xx still after the retries, a body larger than the
    /// cap, a 2xx body that is not the expected JSON (`{}` for a listing or
    /// a product), or an update answered with another value than the one
    /// asked for (the message says what the service answered).
    MSC_SERVICE = 7,
    /// DNS, connect, TLS, reset (at sign-in too). A certificate refused
    /// (unknown issuer, expired, another host's) is not retried.
    MSC_NETWORK = 8,
    /// The request timeout ran out.
    MSC_TIMEOUT = 9,
    /// A poll step whose sign-in is not finished yet (not an error).
    MSC_PENDING = 10,
    /// A bug, including a panic caught at the boundary.
    MSC_INTERNAL = 11,
}

impl MscStatus {
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The status of an error kind.
    pub fn of(kind: ErrorKind) -> MscStatus {
        match kind {
            ErrorKind::InvalidArgument => MscStatus::MSC_INVALID_ARGUMENT,
            ErrorKind::NotConnected => MscStatus::MSC_NOT_CONNECTED,
            ErrorKind::Authentication => MscStatus::MSC_AUTHENTICATION,
            ErrorKind::Forbidden => MscStatus::MSC_FORBIDDEN,
            ErrorKind::NotFound => MscStatus::MSC_NOT_FOUND,
            ErrorKind::Throttled => MscStatus::MSC_THROTTLED,
            ErrorKind::Service => MscStatus::MSC_SERVICE,
            ErrorKind::Network => MscStatus::MSC_NETWORK,
            ErrorKind::Timeout => MscStatus::MSC_TIMEOUT,
            ErrorKind::Pending => MscStatus::MSC_PENDING,
            ErrorKind::Internal => MscStatus::MSC_INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_error_kinds_and_names() {
        let all = [
            ErrorKind::InvalidArgument,
            ErrorKind::NotConnected,
            ErrorKind::Authentication,
            ErrorKind::Forbidden,
            ErrorKind::NotFound,
            ErrorKind::Throttled,
            ErrorKind::Service,
            ErrorKind::Network,
            ErrorKind::Timeout,
            ErrorKind::Pending,
            ErrorKind::Internal,
        ];
        assert_eq!(MscStatus::MSC_OK.code(), 0);
        for (i, kind) in all.into_iter().enumerate() {
            let status = MscStatus::of(kind);
            assert_eq!(status.code(), kind.code());
            assert_eq!(status.code(), i as i32 + 1);
            // MSC_NOT_FOUND <-> "NotFound"
            let pascal: String = format!("{status:?}")
                .trim_start_matches("MSC_")
                .split('_')
                .map(|w| w[..1].to_string() + &w[1..].to_ascii_lowercase())
                .collect();
            assert_eq!(pascal, kind.name());
        }
    }
}
