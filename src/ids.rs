//! Validation of the ids that become URL path segments (policy, product,
//! offer type), so no input can reach another URL.

use crate::error::{Error, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 128;

/// Everything but unreserved characters is encoded (defence in depth: the
/// validator already limits ids to letters, digits, `-`, `_`, `.`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Check an id: ASCII letters, digits, `-`, `_`, `.`; not `.` or `..`; 1 to
/// 128 characters. `what` names the field in the error ("PolicyId").
pub fn validate_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid(format!(
            "{what} is {} characters long; at most {MAX_ID_LEN} are allowed",
            id.chars().count()
        )));
    }
    if id == "." || id == ".." {
        return Err(Error::invalid(format!("{what} '{id}' is not a valid id")));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::invalid(format!(
            "{what} '{}' contains '{}'; ids may only contain letters, digits, '-', '_' and '.'",
            crate::text::echo(id),
            bad.escape_debug()
        )));
    }
    Ok(())
}

/// Validate and percent-encode an id as one path segment.
pub fn segment(what: &str, id: &str) -> Result<String> {
    validate_id(what, id)?;
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_catalogue_ids() {
        for id in ["AllowSelfServicePurchase", "CFQ7TTC0KP0N", "a-b_c.d", "x"] {
            assert_eq!(segment("ProductId", id).unwrap(), id);
        }
    }

    #[test]
    fn rejects_path_tricks() {
        for id in [
            "", ".", "..", "../x", "a/b", "a?b", "a#b", "%2F", "a b", "é", "a\0b", "a\\b",
        ] {
            let e = validate_id("ProductId", id).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidArgument, "{id:?}");
            assert!(e.message.starts_with("ProductId"), "{}", e.message);
        }
        assert!(validate_id("ProductId", &"A".repeat(128)).is_ok());
        assert!(validate_id("ProductId", &"A".repeat(129)).is_err());
    }
}
