//! The environment variables the library reads, and where they come from.
//!
//! By default they are the process's. A host may give a snapshot instead
//! (`environmentVariables` in the session options or in a connect request):
//! then every lookup takes its value from the snapshot, a name missing from
//! it counts as unset, and the process environment does not decide anything.
//! PowerShell needs this on Linux and macOS, where `$env:NAME = ...` changes
//! only .NET's copy of the environment and native code never sees it.
//!
//! What the library reads, all of it through [`EnvironmentVariables::var`]:
//! - proxies (reqwest's system proxy; see `transport`): `HTTP_PROXY`,
//!   `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, each in upper case first, then
//!   in lower case, and `REQUEST_METHOD` (a CGI process ignores them);
//! - the trust store on Linux and the other Unix systems but macOS
//!   (rustls-native-certs under rustls-platform-verifier): `SSL_CERT_FILE`,
//!   `SSL_CERT_DIR`;
//! - managed identity (see `auth::managed_identity`): `IDENTITY_ENDPOINT`,
//!   `IDENTITY_HEADER`, `IDENTITY_SERVER_THUMBPRINT`, `IMDS_ENDPOINT`,
//!   `MSI_ENDPOINT`, `MSI_SECRET`.

use crate::auth::Secret;
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// The name of the field in the session options and connect requests.
pub const FIELD: &str = "environmentVariables";

/// The variables reqwest's system proxy reads (and `transport` in its place
/// for a snapshot).
pub const PROXY_VARIABLES: [&str; 9] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// The variables of the Unix trust store (OpenSSL's names).
pub const TLS_VARIABLES: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];

/// Where the library's environment variables come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EnvironmentVariables {
    /// The process environment, read when a value is needed.
    #[default]
    Process,
    /// A host's complete snapshot; values are wiped when dropped and never
    /// shown by `Debug` (`IDENTITY_HEADER` and proxy passwords are secrets).
    Snapshot(BTreeMap<String, Secret>),
}

impl EnvironmentVariables {
    /// The field's JSON: an object of names to strings (null: unset), or
    /// null for "the process environment".
    pub fn from_json(value: &Value) -> Result<Self> {
        let map = match value {
            Value::Null => return Ok(EnvironmentVariables::Process),
            Value::Object(map) => map,
            other => {
                return Err(Error::invalid(format!(
                    "{FIELD} must be an object of variable names to strings; got {}",
                    json_type(other)
                )))
            }
        };
        let mut vars = BTreeMap::new();
        for (name, v) in map {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(Error::invalid(format!(
                    "{FIELD}: '{}' is not a variable name",
                    crate::text::echo(name)
                )));
            }
            match v {
                Value::String(s) => {
                    vars.insert(name.clone(), Secret::new(s.clone()));
                }
                Value::Null => {}
                other => {
                    return Err(Error::invalid(format!(
                        "{FIELD}: the value of '{}' must be a string or null; got {}",
                        crate::text::echo(name),
                        json_type(other)
                    )))
                }
            }
        }
        Ok(EnvironmentVariables::Snapshot(vars))
    }

    /// The JSON the field is read from (`None` for the process).
    pub fn to_json(&self) -> Option<Value> {
        match self {
            EnvironmentVariables::Process => None,
            EnvironmentVariables::Snapshot(vars) => Some(Value::Object(
                vars.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.expose().to_string())))
                    .collect(),
            )),
        }
    }

    /// The value of one variable; `None` when it is unset (or, in the
    /// process, not Unicode). On Windows names match in any case, as the
    /// system's own lookups do.
    pub fn var(&self, name: &str) -> Option<String> {
        match self {
            EnvironmentVariables::Process => std::env::var(name).ok(),
            EnvironmentVariables::Snapshot(vars) => vars
                .get(name)
                .or_else(|| {
                    if cfg!(windows) {
                        vars.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v)
                    } else {
                        None
                    }
                })
                .map(|v| v.expose().to_string()),
        }
    }

    /// Whether a variable is set (to anything, even an empty string).
    pub fn is_set(&self, name: &str) -> bool {
        self.var(name).is_some()
    }

    /// The first of `names` that is set, as reqwest reads proxy variables
    /// (`HTTP_PROXY`, then `http_proxy`).
    pub fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.var(n))
    }

    pub fn is_snapshot(&self) -> bool {
        matches!(self, EnvironmentVariables::Snapshot(_))
    }

    /// Whether these `names` have the same values here as in the process
    /// environment right now (always, for the process itself). Code that can
    /// only read the process (reqwest's system proxy, the platform verifier)
    /// may then serve a snapshot too.
    pub fn agrees_with_process(&self, names: &[&str]) -> bool {
        match self {
            EnvironmentVariables::Process => true,
            EnvironmentVariables::Snapshot(_) => names.iter().all(|n| {
                let process = std::env::var_os(n);
                match self.var(n) {
                    Some(v) => process.is_some_and(|p| p == v.as_str()),
                    None => process.is_none(),
                }
            }),
        }
    }

    /// Whether an HTTP client built with `self` would be built the same way
    /// with `other`: both the process, or two snapshots that agree on the
    /// proxy and trust store variables.
    pub fn same_transport(&self, other: &Self) -> bool {
        match (self, other) {
            (EnvironmentVariables::Process, EnvironmentVariables::Process) => true,
            (EnvironmentVariables::Snapshot(_), EnvironmentVariables::Snapshot(_)) => {
                PROXY_VARIABLES
                    .iter()
                    .chain(TLS_VARIABLES.iter())
                    .all(|n| self.var(n) == other.var(n))
            }
            _ => false,
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(v: Value) -> EnvironmentVariables {
        EnvironmentVariables::from_json(&v).unwrap()
    }

    #[test]
    fn a_snapshot_is_complete() {
        let env = snapshot(json!({"HTTPS_PROXY": "http://proxy:3128", "EMPTY": "", "GONE": null}));
        assert_eq!(env.var("HTTPS_PROXY").as_deref(), Some("http://proxy:3128"));
        assert_eq!(env.var("EMPTY").as_deref(), Some(""));
        assert!(env.is_set("EMPTY"));
        assert!(!env.is_set("GONE"));
        // Never the process's, whatever it holds.
        assert_eq!(env.var("PATH"), None);
        assert_eq!(
            env.first(&["HTTP_PROXY", "HTTPS_PROXY"]).as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(
            snapshot(json!({"https_proxy": "x"}))
                .var("HTTPS_PROXY")
                .is_some(),
            cfg!(windows)
        );
        assert_eq!(
            EnvironmentVariables::from_json(&Value::Null).unwrap(),
            EnvironmentVariables::Process
        );
        assert_eq!(
            EnvironmentVariables::from_json(&env.to_json().unwrap()).unwrap(),
            env
        );
        assert!(
            !format!("{env:?}").contains("proxy:3128"),
            "values are not shown"
        );
    }

    #[test]
    fn bad_shapes_name_the_field() {
        for bad in [
            json!("HTTPS_PROXY=x"),
            json!(["HTTPS_PROXY"]),
            json!(1),
            json!({"HTTPS_PROXY": 1}),
            json!({"HTTPS_PROXY": {"a": "b"}}),
            json!({"HTTPS_PROXY": true}),
            json!({"": "x"}),
            json!({"A=B": "x"}),
        ] {
            let e = EnvironmentVariables::from_json(&bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message.contains(FIELD), "{}", e.message);
        }
    }

    #[test]
    fn agreement_with_the_process() {
        let all: BTreeMap<String, Secret> =
            std::env::vars().map(|(k, v)| (k, Secret::new(v))).collect();
        let same = EnvironmentVariables::Snapshot(all);
        assert!(same.agrees_with_process(&PROXY_VARIABLES));
        assert!(same.agrees_with_process(&TLS_VARIABLES));
        assert!(EnvironmentVariables::Process.agrees_with_process(&PROXY_VARIABLES));
        let other = snapshot(json!({"HTTPS_PROXY": "http://127.0.0.1:9/unlikely-to-be-set"}));
        assert!(!other.agrees_with_process(&["HTTPS_PROXY"]));
    }

    #[test]
    fn transport_sameness() {
        let a = snapshot(json!({"HTTPS_PROXY": "http://a:1", "IDENTITY_HEADER": "x"}));
        let b = snapshot(json!({"HTTPS_PROXY": "http://a:1", "IDENTITY_HEADER": "y"}));
        let c = snapshot(json!({"HTTPS_PROXY": "http://b:1"}));
        let d = snapshot(json!({"HTTPS_PROXY": "http://a:1", "SSL_CERT_FILE": "/ca.pem"}));
        assert!(a.same_transport(&b));
        assert!(!a.same_transport(&c));
        assert!(!a.same_transport(&d));
        assert!(!a.same_transport(&EnvironmentVariables::Process));
        assert!(EnvironmentVariables::Process.same_transport(&EnvironmentVariables::Process));
    }
}
