//! Strings across the boundary: inputs are borrowed NUL-terminated UTF-8;
//! outputs are fresh `CString`s handed to the caller with `into_raw` and
//! taken back, once, by `msc_string_free` with `from_raw`.

use crate::error::{Error, Result};
use std::ffi::{c_char, CStr, CString};

/// Borrow a required input string for the duration of a call.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn borrow<'a>(what: &str, p: *const c_char) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    CStr::from_ptr(p).to_str().map_err(|e| {
        Error::invalid(format!(
            "{what} is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A newly allocated C string for the caller. JSON text never holds a NUL
/// (serde_json escapes it as `\u0000`); should one appear anyway the caller
/// gets an Internal error answer instead of a truncated document.
pub(crate) fn give(text: String) -> *mut c_char {
    match CString::new(text) {
        Ok(c) => c.into_raw(),
        Err(_) => CString::new(
            r#"{"error":{"code":"Internal","message":"the answer held a NUL byte"},"log":[]}"#,
        )
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut()),
    }
}

/// Take back a string made by [`give`].
///
/// # Safety
/// `p` is NULL or a pointer returned by [`give`] that was not freed yet.
pub(crate) unsafe fn reclaim(p: *mut c_char) {
    if !p.is_null() {
        drop(CString::from_raw(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrow_checks_null_and_utf8() {
        unsafe {
            assert!(borrow("x", std::ptr::null()).is_err());
            let bad = b"{\"a\":\"\xff\"}\0";
            let e = borrow("request_json", bad.as_ptr().cast()).unwrap_err();
            assert!(e.message.contains("offset 6"), "{}", e.message);
            let good = "{\"é\":1}\0";
            assert_eq!(borrow("x", good.as_ptr().cast()).unwrap(), "{\"é\":1}");
        }
    }

    #[test]
    fn give_and_reclaim_round_trip() {
        let p = give("{\"value\":\"ü\"}".into());
        unsafe {
            assert_eq!(CStr::from_ptr(p).to_str().unwrap(), "{\"value\":\"ü\"}");
            reclaim(p);
            reclaim(std::ptr::null_mut());
        }
        let p = give("a\0b".into());
        unsafe {
            assert!(CStr::from_ptr(p).to_str().unwrap().contains("Internal"));
            reclaim(p);
        }
    }
}
