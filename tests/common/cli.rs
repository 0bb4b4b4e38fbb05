//! Running the `mscommerce` binary in tests: the command pointed at an
//! emulator, what it printed, its exit status, and a run read as it goes.

use serde_json::Value;
use std::process::{Command, Output};

/// The binary with no credential from the environment, pointed at `url`
/// for the service and the identity platform.
pub fn mscommerce(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mscommerce"));
    c.env_remove("MSCOMMERCE_ACCESS_TOKEN")
        .env_remove("MSCOMMERCE_CLIENT_SECRET")
        .env_remove("MSCOMMERCE_PASSWORD")
        .args(["--service-url", url, "--authority-host", url]);
    c
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The exit status, with stderr shown when it is not `code`.
pub fn expect_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {}\nstdout: {}",
        stderr(o),
        stdout(o)
    );
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

/// stdout as a JSON array (the per-product or per-tenant objects).
pub fn json_array(o: &Output) -> Vec<Value> {
    match serde_json::from_slice::<Value>(&o.stdout) {
        Ok(Value::Array(a)) => a,
        other => panic!("stdout is not a JSON array ({other:?}): {}", stderr(o)),
    }
}

/// The CLI running, its stderr read as it goes.
pub struct Running {
    pub child: std::process::Child,
    err: std::io::BufReader<std::process::ChildStderr>,
    /// stderr so far.
    pub seen: String,
}

impl Running {
    /// Start `c` with stdout and stderr piped.
    pub fn start(c: &mut Command) -> Running {
        use std::process::Stdio;
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = std::io::BufReader::new(child.stderr.take().unwrap());
        Running {
            child,
            err,
            seen: String::new(),
        }
    }

    /// Read stderr up to a line holding `wanted`; that line.
    pub fn wait_for(&mut self, wanted: &str) -> String {
        use std::io::BufRead;
        loop {
            let mut line = String::new();
            assert!(self.err.read_line(&mut line).unwrap() > 0, "{}", self.seen);
            self.seen.push_str(&line);
            if line.contains(wanted) {
                return line;
            }
        }
    }

    /// Ctrl+C (kill -INT).
    #[cfg(unix)]
    pub fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Wait for the end: exit code, stdout, all of stderr.
    pub fn end(mut self) -> (Option<i32>, String, String) {
        use std::io::Read;
        let mut out = String::new();
        let mut stdout = self.child.stdout.take().unwrap();
        stdout.read_to_string(&mut out).unwrap();
        self.err.read_to_string(&mut self.seen).unwrap();
        let status = self.child.wait().unwrap();
        (status.code(), out, self.seen)
    }
}
