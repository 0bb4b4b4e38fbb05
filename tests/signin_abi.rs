//! The two-step sign-ins through the C ABI (`msc_connect` with `step`
//! start, then poll until other than MSC_PENDING): the pending sign-in
//! lives on the session between calls (the interactive listener keeps
//! running on the library's runtime between them), each poll returns
//! within the request timeout, and the finished connect answers the
//! connection.
#![cfg(feature = "emulator")]

mod signin_support;

use mscommerce::ffi::*;
use serde_json::{json, Value};
use signin_support::*;
use std::ffi::{c_char, CStr, CString};
use std::time::{Duration, Instant};

struct Abi(*mut MscSession);

impl Abi {
    fn new(options: &Value) -> Abi {
        let o = CString::new(options.to_string()).unwrap();
        let mut s = std::ptr::null_mut();
        let mut out: *mut c_char = std::ptr::null_mut();
        let rc = unsafe { msc_session_new(o.as_ptr(), &mut s, &mut out) };
        unsafe { msc_string_free(out) };
        assert_eq!(rc, 0);
        Abi(s)
    }

    /// `msc_connect`: the return code and the answer.
    fn connect(&self, request: Value) -> (i32, Value) {
        let r = CString::new(request.to_string()).unwrap();
        let mut out: *mut c_char = std::ptr::null_mut();
        let rc = unsafe { msc_connect(self.0, r.as_ptr(), &mut out) };
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
        unsafe { msc_string_free(out) };
        record(text.clone());
        (rc, serde_json::from_str(&text).unwrap())
    }

    /// Poll until done; every poll within `limit`.
    fn poll(&self, flow: &str, limit: Duration) -> (i32, Value) {
        let end = Instant::now() + PATIENCE;
        loop {
            let t = Instant::now();
            let (rc, v) = self.connect(json!({"flow": flow, "step": "poll"}));
            assert!(t.elapsed() <= limit, "a poll took {:?}", t.elapsed());
            if rc != 10 {
                return (rc, v);
            }
            assert_eq!(v["error"]["code"], "Pending", "{v}");
            assert!(Instant::now() < end, "still pending");
        }
    }
}

impl Drop for Abi {
    fn drop(&mut self) {
        unsafe { msc_session_free(self.0) };
    }
}

#[test]
fn device_code_and_interactive_through_the_abi() {
    let emu = emulator(false, 3600);
    let dir = temp();
    // A short request timeout: each poll must come back within it.
    let options = options(&emu, dir.path(), json!({"timeoutSeconds": 3}));
    let abi = Abi::new(&options);

    let (rc, start) =
        abi.connect(json!({"flow": "deviceCode", "step": "start", "tenantId": TENANT}));
    assert_eq!(rc, 0, "{start}");
    let code = start["value"]["UserCode"].as_str().unwrap().to_string();
    let (rc, pending) = abi.connect(json!({"flow": "deviceCode", "step": "poll"}));
    assert_eq!(rc, 10, "{pending}");
    control_blocking(
        &emu,
        dir.path(),
        "/_emulator/device/approve",
        json!({"userCode": code}),
    );
    let (rc, done) = abi.poll("deviceCode", Duration::from_secs(3));
    assert_eq!(rc, 0, "{done}");
    assert_eq!(done["value"]["Flow"], "DeviceCode");
    assert_eq!(done["value"]["Account"], ADMIN);

    let (rc, start) =
        abi.connect(json!({"flow": "interactive", "step": "start", "loginHint": "billing"}));
    assert_eq!(rc, 0, "{start}");
    let url = start["value"]["AuthorizeUrl"].as_str().unwrap().to_string();
    let (rc, _) = abi.connect(json!({"flow": "interactive", "step": "poll"}));
    assert_eq!(rc, 10);
    // The browser comes back between two calls: the listener was still there.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(play_browser(&emu, dir.path(), &url));
    let (rc, done) = abi.poll("interactive", Duration::from_secs(3));
    assert_eq!(rc, 0, "{done}");
    assert_eq!(done["value"]["Account"], "billing@contoso.onmicrosoft.com");

    // A declined device code: MSC_AUTHENTICATION with the platform's words.
    abi.connect(json!({"flow": "deviceCode", "step": "start"}));
    control_blocking(&emu, dir.path(), "/_emulator/device/decline", json!({}));
    let (rc, failed) = abi.poll("deviceCode", Duration::from_secs(3));
    assert_eq!(rc, 3, "{failed}");
    assert!(failed["error"]["message"]
        .as_str()
        .unwrap()
        .contains("authorization_declined"));
    // The connection made before is still there, until disconnect.
    let get = |abi: &Abi| {
        let r = CString::new(r#"{"resource":"connection"}"#).unwrap();
        let mut out: *mut c_char = std::ptr::null_mut();
        let rc = unsafe { msc_get(abi.0, r.as_ptr(), &mut out) };
        unsafe { msc_string_free(out) };
        rc
    };
    assert_eq!(get(&abi), 0);
    assert_eq!(unsafe { msc_disconnect(abi.0) }, 0);
    assert_eq!(get(&abi), 2);
}
