//! Running the `mscommerce` binary in tests: the command pointed at an
//! emulator, what it printed, its exit status, and a run read as it goes.

use super::{ADMIN, ADMIN_PASSWORD};
use mscommerce::emulator::Emulator;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// The environment variables the binary signs in with.
const SIGN_IN_VARS: [&str; 4] = [
    "MSCOMMERCE_ACCESS_TOKEN",
    "MSCOMMERCE_CLIENT_SECRET",
    "MSCOMMERCE_CERTIFICATE_PASSWORD",
    "MSCOMMERCE_PASSWORD",
];

/// The binary with no credential from the environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mscommerce"));
    for v in SIGN_IN_VARS {
        c.env_remove(v);
    }
    c
}

/// The binary with no credential from the environment, pointed at `url`
/// for the service and the identity platform.
pub fn mscommerce(url: &str) -> Command {
    let mut c = bin();
    c.args(["--service-url", url, "--authority-host", url]);
    c
}

/// The emulator admin's password sign-in flags.
pub fn admin() -> [&'static str; 4] {
    ["--username", ADMIN, "--password", ADMIN_PASSWORD]
}

/// The binary pointed at the emulator, signed in as its admin (password).
pub fn admin_command(emu: &Emulator) -> Command {
    let mut c = mscommerce(&emu.url());
    c.args(admin());
    c
}

/// Against the emulator as its admin, JSON output.
pub fn as_admin(emu: &Emulator, args: &[&str]) -> Output {
    admin_command(emu)
        .args(["--output", "json"])
        .args(args)
        .output()
        .expect("runs")
}

/// `mscommerce emulator ARGS` running, its banner read (killed when
/// dropped).
pub struct EmulatorCommand {
    pub child: Child,
    /// The banner's lines, up to "Press Ctrl+C".
    pub banner: Vec<String>,
    /// The URL of its first line, "Emulator listening on URL".
    pub url: String,
}

impl EmulatorCommand {
    pub fn start(args: &[&str]) -> EmulatorCommand {
        let mut child = bin()
            .arg("emulator")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut banner = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line.starts_with("Press Ctrl+C") {
                break;
            }
            banner.push(line);
        }
        let first = banner.first().cloned().unwrap_or_default();
        let url = first
            .trim()
            .strip_prefix("Emulator listening on ")
            .unwrap_or_else(|| panic!("{first}"))
            .to_string();
        EmulatorCommand { child, banner, url }
    }
}

impl Drop for EmulatorCommand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
