//! Session options (the `options_json` of `msc_session_new`, the CLI's global
//! flags) and the clouds they name.

use crate::environment::EnvironmentVariables;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

pub const DEFAULT_SERVICE_URL: &str = "https://licensing.m365.microsoft.com";
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 100;
pub const DEFAULT_MAX_RETRIES: u32 = 4;
pub const DEFAULT_RETRY_BASE_DELAY_MS: u64 = 500;

/// The named clouds and their sign-in authorities. The licensing API host is
/// the same in all of them; only the authority differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    #[default]
    AzureCloud,
    AzureUSGovernment,
    AzureUSGovernmentDoD,
    Custom,
}

impl Environment {
    pub fn parse(name: &str) -> Result<Self> {
        let n = name.trim();
        [
            Environment::AzureCloud,
            Environment::AzureUSGovernment,
            Environment::AzureUSGovernmentDoD,
            Environment::Custom,
        ]
        .into_iter()
        .find(|e| e.name().eq_ignore_ascii_case(n))
        .ok_or_else(|| {
            Error::invalid(format!(
                "environment '{}' is not known; use AzureCloud, AzureUSGovernment, AzureUSGovernmentDoD or Custom",
                crate::text::echo(n)
            ))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Environment::AzureCloud => "AzureCloud",
            Environment::AzureUSGovernment => "AzureUSGovernment",
            Environment::AzureUSGovernmentDoD => "AzureUSGovernmentDoD",
            Environment::Custom => "Custom",
        }
    }

    /// The sign-in authority host; `None` for Custom, which must name one.
    pub fn authority_host(self) -> Option<&'static str> {
        match self {
            Environment::AzureCloud => Some("https://login.microsoftonline.com"),
            Environment::AzureUSGovernment | Environment::AzureUSGovernmentDoD => {
                Some("https://login.microsoftonline.us")
            }
            Environment::Custom => None,
        }
    }
}

/// The JSON form of the options; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptionsJson {
    pub environment: Option<String>,
    pub service_url: Option<String>,
    pub authority_host: Option<String>,
    pub timeout_seconds: Option<f64>,
    pub max_retries: Option<u32>,
    pub retry_base_delay_ms: Option<u64>,
    pub proxy: Option<String>,
    pub ca_certificate_path: Option<String>,
    /// A complete snapshot of the environment variables the library reads
    /// (see [`crate::environment`]); absent or null: the process's.
    pub environment_variables: Option<serde_json::Value>,
}

/// Validated session options.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOptions {
    pub environment: Environment,
    pub service_url: Url,
    pub authority_host: Url,
    pub timeout: Duration,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub proxy: Option<Url>,
    pub ca_certificate_path: Option<PathBuf>,
    pub environment_variables: EnvironmentVariables,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions::from_json(&OptionsJson::default()).expect("defaults are valid")
    }
}

impl SessionOptions {
    pub fn parse(json: &str) -> Result<Self> {
        let raw: OptionsJson = if json.trim().is_empty() {
            OptionsJson::default()
        } else {
            parse_json_object("session options", json)?
        };
        Self::from_json(&raw)
    }

    /// Options with `over`'s fields (those that are set) laid over these.
    pub fn merged(&self, over: &OptionsJson) -> Result<Self> {
        let mut raw = self.to_json();
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { raw.$f = over.$f.clone(); } )* };
        }
        take!(
            environment,
            service_url,
            authority_host,
            timeout_seconds,
            max_retries,
            retry_base_delay_ms,
            proxy,
            ca_certificate_path,
            environment_variables
        );
        // A new environment without a new authority means that cloud's authority.
        if over.environment.is_some() && over.authority_host.is_none() {
            raw.authority_host = None;
        }
        Self::from_json(&raw)
    }

    fn to_json(&self) -> OptionsJson {
        OptionsJson {
            environment: Some(self.environment.name().into()),
            service_url: Some(self.service_url.to_string()),
            authority_host: Some(self.authority_host.to_string()),
            timeout_seconds: Some(self.timeout.as_secs_f64()),
            max_retries: Some(self.max_retries),
            retry_base_delay_ms: Some(self.retry_base_delay.as_millis() as u64),
            proxy: self.proxy.as_ref().map(|u| u.to_string()),
            ca_certificate_path: self
                .ca_certificate_path
                .as_ref()
                .map(|p| p.display().to_string()),
            environment_variables: self.environment_variables.to_json(),
        }
    }

    pub fn from_json(raw: &OptionsJson) -> Result<Self> {
        let mut environment = match &raw.environment {
            Some(e) => Environment::parse(e)?,
            None => Environment::AzureCloud,
        };
        let authority = match (&raw.authority_host, environment.authority_host()) {
            (Some(a), _) => {
                if raw.environment.is_none() {
                    environment = Environment::Custom;
                }
                a.clone()
            }
            (None, Some(a)) => a.to_string(),
            (None, None) => {
                return Err(Error::invalid(
                    "environment Custom needs authorityHost (the sign-in authority's base URL)",
                ))
            }
        };
        let service_url = parse_endpoint(
            "serviceUrl",
            raw.service_url.as_deref().unwrap_or(DEFAULT_SERVICE_URL),
        )?;
        let authority_host = parse_endpoint("authorityHost", &authority)?;
        let timeout = match raw.timeout_seconds {
            None => Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
            Some(t) => timeout_from_seconds(t)?,
        };
        let max_retries = raw.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
        if max_retries > 10 {
            return Err(Error::invalid(format!(
                "maxRetries must be at most 10; got {max_retries}"
            )));
        }
        let retry_base_delay = Duration::from_millis(
            raw.retry_base_delay_ms
                .unwrap_or(DEFAULT_RETRY_BASE_DELAY_MS)
                .min(10_000),
        );
        let proxy = match &raw.proxy {
            None => None,
            Some(p) if p.trim().is_empty() => None,
            Some(p) => Some(parse_proxy(p)?),
        };
        let ca_certificate_path = raw
            .ca_certificate_path
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from);
        let environment_variables = match &raw.environment_variables {
            None => EnvironmentVariables::Process,
            Some(v) => EnvironmentVariables::from_json(v)?,
        };
        Ok(SessionOptions {
            environment,
            service_url,
            authority_host,
            timeout,
            max_retries,
            retry_base_delay,
            proxy,
            ca_certificate_path,
            environment_variables,
        })
    }
}

/// The longest request timeout accepted, in seconds.
pub const MAX_TIMEOUT_SECONDS: f64 = 3600.0;

/// A request timeout given in seconds: a finite number more than 0 and at
/// most [`MAX_TIMEOUT_SECONDS`]. NaN, infinities, 0 and negative numbers are
/// InvalidArgument, never a silent default (JSON cannot carry NaN or
/// infinity: a host that takes the number as text, as the CLI's
/// `--timeout`, checks it here before building the options).
pub fn timeout_from_seconds(t: f64) -> Result<Duration> {
    if t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT_SECONDS {
        Ok(Duration::from_secs_f64(t))
    } else {
        Err(Error::invalid(format!(
            "timeoutSeconds must be a number of seconds more than 0 and at most {MAX_TIMEOUT_SECONDS}; got {t}"
        )))
    }
}

/// A JSON request or options document: it must be an object (a JSON array
/// would otherwise fill the fields by position); `what` names it in errors.
pub(crate) fn parse_json_object<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T> {
    if !text.trim_start().starts_with('{') {
        return Err(Error::invalid(format!(
            "the {what} must be a JSON object ({{\"name\": value, ...}})"
        )));
    }
    serde_json::from_str(text).map_err(|e| Error::invalid(format!("{what}: {e}")))
}

/// The schemes a proxy may have: reqwest (without its `socks` feature)
/// sends through these only, and would go direct for any other.
const PROXY_SCHEMES: [&str; 2] = ["http", "https"];

/// An explicit proxy (`proxy` option, `--proxy`): a URL with scheme
/// `http://` or `https://` and a host. Anything else is InvalidArgument,
/// never a silent bypass. Errors show the URL without its password.
pub fn parse_proxy(p: &str) -> Result<Url> {
    let shown = || crate::text::echo(&without_password(p.trim()));
    let url = Url::parse(p.trim())
        .map_err(|e| Error::invalid(format!("proxy '{}' is not a URL: {e}", shown())))?;
    if !PROXY_SCHEMES.contains(&url.scheme()) {
        return Err(Error::invalid(format!(
            "proxy '{}' has the scheme '{}', which cannot carry requests; use http:// or https://",
            shown(),
            crate::text::echo(url.scheme())
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(format!("proxy '{}' names no host", shown())));
    }
    Ok(url)
}

/// A proxy URL as it may be shown: the password of its user information
/// (everything between the first `:` after the scheme's `//` and the last
/// `@`) replaced by `***`, whether the URL parses or not.
pub fn without_password(p: &str) -> String {
    let (scheme, rest) = match p.find("://") {
        Some(i) => p.split_at(i + 3),
        None => ("", p),
    };
    match rest.rfind('@') {
        None => p.to_string(),
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}{user}:***{}", &rest[at..])
        }
    }
}

/// Parse a base URL: `https://`, or `http://` on a loopback host only.
pub fn parse_endpoint(what: &str, s: &str) -> Result<Url> {
    let url = Url::parse(s.trim())
        .map_err(|e| Error::invalid(format!("{what} '{}': {e}", crate::text::echo(s))))?;
    check_scheme(what, &url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(format!(
            "{what} '{}' must not carry a query or fragment",
            crate::text::echo(s)
        )));
    }
    Ok(url)
}

/// HTTPS everywhere; plain HTTP only to 127.0.0.0/8, ::1 and localhost.
pub fn check_scheme(what: &str, url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::invalid(format!(
            "{what} '{url}' uses http://, which is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); use https://"
        ))),
        other => Err(Error::invalid(format!(
            "{what} '{url}' has scheme '{other}'; use https://"
        ))),
    }
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_clouds() {
        let o = SessionOptions::parse("").unwrap();
        assert_eq!(
            o.service_url.as_str(),
            "https://licensing.m365.microsoft.com/"
        );
        assert_eq!(
            o.authority_host.as_str(),
            "https://login.microsoftonline.com/"
        );
        let g = SessionOptions::parse(r#"{"environment":"azureusgovernmentdod"}"#).unwrap();
        assert_eq!(
            g.authority_host.as_str(),
            "https://login.microsoftonline.us/"
        );
        assert!(SessionOptions::parse(r#"{"environment":"Custom"}"#).is_err());
        assert!(SessionOptions::parse(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn environment_variables_ride_along() {
        use crate::environment::EnvironmentVariables;
        let o = SessionOptions::parse(
            r#"{"environmentVariables":{"HTTPS_PROXY":"http://p:1"},"maxRetries":2}"#,
        )
        .unwrap();
        assert_eq!(
            o.environment_variables.var("HTTPS_PROXY").as_deref(),
            Some("http://p:1")
        );
        // A connect without the field (or with null) keeps the session's; one
        // with it replaces the whole snapshot; other options stay.
        let over = |json: &str| serde_json::from_str::<OptionsJson>(json).unwrap();
        assert_eq!(o.merged(&over("{}")).unwrap(), o);
        assert_eq!(
            o.merged(&over(r#"{"environmentVariables":null}"#)).unwrap(),
            o
        );
        let m = o
            .merged(&over(r#"{"environmentVariables":{"NO_PROXY":"*"}}"#))
            .unwrap();
        assert_eq!(m.environment_variables.var("HTTPS_PROXY"), None);
        assert_eq!(
            m.environment_variables.var("NO_PROXY").as_deref(),
            Some("*")
        );
        assert_eq!(m.max_retries, 2);
        assert_eq!(
            SessionOptions::parse("{}").unwrap().environment_variables,
            EnvironmentVariables::Process
        );
        let e = SessionOptions::parse(r#"{"environmentVariables":"HTTPS_PROXY=x"}"#).unwrap_err();
        assert!(e.message.contains("environmentVariables"), "{}", e.message);
    }

    #[test]
    fn a_proxy_that_cannot_be_used_is_refused_without_its_password() {
        for ok in [
            "http://127.0.0.1:3128",
            "https://proxy.corp:8443",
            "http://u:p@h:1",
        ] {
            parse_proxy(ok).unwrap();
        }
        for bad in [
            "htp://127.0.0.1:1",
            "ftp://127.0.0.1:21",
            "socks9://127.0.0.1:1",
            "socks5://127.0.0.1:1080",
            "http://",
            "127.0.0.1:3128",
            "http://user:s3cret@127.0.0.1:99999",
            "user:s3cret@proxy:1",
            "htp://user:s3cret@proxy:1",
            "http://user:s3/cret@proxy:1",
        ] {
            let e = SessionOptions::parse(&serde_json::json!({ "proxy": bad }).to_string())
                .unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message.contains("proxy"), "{}", e.message);
            assert!(!e.message.contains("s3"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn timeouts_must_be_finite_and_positive() {
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            3600.5,
        ] {
            let raw = OptionsJson {
                timeout_seconds: Some(bad),
                ..Default::default()
            };
            let e = SessionOptions::from_json(&raw).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(timeout_from_seconds(bad).is_err());
        }
        assert_eq!(
            timeout_from_seconds(2.5).unwrap(),
            Duration::from_millis(2500)
        );
        assert!(SessionOptions::parse(r#"{"timeoutSeconds":-1}"#).is_err());
        assert!(SessionOptions::parse(r#"{"timeoutSeconds":1e999}"#).is_err());
    }

    #[test]
    fn options_are_an_object() {
        for bad in [r#"["AzureCloud"]"#, "1", r#""x""#, "null"] {
            let e = SessionOptions::parse(bad).unwrap_err();
            assert!(e.message.contains("JSON object"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:1",
            "http://127.9.9.9",
        ] {
            parse_endpoint("serviceUrl", ok).unwrap();
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(parse_endpoint("serviceUrl", bad).is_err(), "{bad}");
        }
    }
}
