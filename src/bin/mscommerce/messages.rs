//! The CLI's words for the library's errors. The library speaks for every
//! host: its messages name the JSON fields of the C ABI (`tenantId is
//! required`) and keep the published module's wording for PowerShell
//! ("call Connect-MSCommerce again"). Here they are said in the command
//! line's terms, the flags, and given a hint when the cause is a common
//! mistake: the emulator without `--authority-host`, a `--service-url`
//! ending in `/v1.0`, `https://` to a plain HTTP server, a certificate
//! authority that is not trusted.

use super::args::Global;
use super::output::clean;
use mscommerce::auth::Flow;
use mscommerce::{Error, ErrorKind};

/// The licensing API's host, the default `--service-url`.
const MICROSOFT_SERVICE_HOST: &str = "licensing.m365.microsoft.com";

/// Where an error happened, for the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the options, before any request.
    Options,
    /// Signing in this way.
    SignIn(Flow),
    /// A call to the licensing API.
    Call,
}

/// An error of the command, with the stage it happened at.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub stage: Stage,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            stage: Stage::Options,
        }
    }
}

impl Failure {
    pub fn at(stage: Stage) -> impl FnOnce(Error) -> Failure {
        move |error| Failure { error, stage }
    }

    /// The exit status: 10 + the native return code.
    pub fn exit_code(&self) -> u8 {
        (10 + self.error.kind.code()) as u8
    }

    /// The one line shown for this failure (without the `mscommerce: `
    /// prefix): message in the CLI's words, HTTP status, service message,
    /// correlation id, then a hint when one applies; control characters
    /// escaped.
    pub fn line(&self, g: &Global) -> String {
        line(&self.error, g, self.stage)
    }
}

/// The line for `e` (see [`Failure::line`]).
pub fn line(e: &Error, g: &Global, stage: Stage) -> String {
    let mut shown = e.clone();
    shown.message = cli_words(e, g);
    let mut text = shown.to_string();
    if let Some(h) = hint(e, g, stage) {
        text.push_str("; hint: ");
        text.push_str(&h);
    }
    clean(&text).into_owned()
}

/// JSON fields of the library's requests and options, and the flag each
/// comes from. Their camelCase never occurs in ordinary words.
const FIELDS: [(&str, &str); 11] = [
    ("caCertificatePath", "--ca-file"),
    ("certificateThumbprint", "--certificate"),
    ("certificatePassword", "--certificate-password"),
    ("certificatePath", "--certificate"),
    ("serviceUrl", "--service-url"),
    ("authorityHost", "--authority-host"),
    ("timeoutSeconds", "--timeout"),
    ("tenantId", "--tenant-id"),
    ("clientId", "--client-id"),
    ("clientSecret", "--client-secret"),
    ("accessToken", "--access-token"),
];

/// Fields that are ordinary words too: named as flags only where they
/// begin a message (or a part of it after ": ") and are followed by a space.
const WORDS: [(&str, &str); 5] = [
    ("username", "--username"),
    ("password", "--password"),
    ("proxy", "--proxy"),
    ("environment", "--environment"),
    ("authority", "--authority-host"),
];

/// The message of `e` in the command line's terms.
pub fn cli_words(e: &Error, g: &Global) -> String {
    let mut m = e.message.clone();
    if let Some(at) = m.find(mscommerce::auth::EXPIRED_MESSAGE) {
        let rest = &m[at + mscommerce::auth::EXPIRED_MESSAGE.len()..];
        let detail = rest
            .trim_start()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(rest.trim());
        let token = if g.is_from_env("access_token") {
            "MSCOMMERCE_ACCESS_TOKEN"
        } else {
            "--access-token"
        };
        let said = if detail.contains("refused the access token") {
            format!("the service refused the access token given with {token}; a token given as it is cannot be renewed, so get a new one")
        } else if detail.contains("has expired") {
            format!("the access token given with {token} has expired; a token given as it is cannot be renewed, so get a new one")
        } else if detail.is_empty() {
            "the sign-in has expired, and signing in again failed".to_string()
        } else {
            format!("the sign-in has expired, and signing in again failed: {detail}")
        };
        m = format!("{}{said}", &m[..at]);
    }
    if e.kind == ErrorKind::InvalidArgument {
        for (field, flag) in FIELDS {
            m = replace_word(&m, field, flag, false);
        }
        for (word, flag) in WORDS {
            m = replace_word(&m, word, flag, true);
        }
    }
    // Anything else of the module's wording that a library message carries.
    m.replace("given to Connect-MSCommerce", "given")
        .replace("Connect-MSCommerce", "mscommerce login")
}

/// `m` with `word` replaced by `flag` where it stands as a word of its own;
/// with `leading`, only at the start of the message or after ": ", and
/// when a space follows.
fn replace_word(m: &str, word: &str, flag: &str, leading: bool) -> String {
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(m.len());
    let mut rest = m;
    let mut before: Option<char> = None;
    let mut at_start = true;
    while let Some(i) = rest.find(word) {
        let head = &rest[..i];
        let prev = head.chars().last().or(before);
        let next = rest[i + word.len()..].chars().next();
        let starts_part = (at_start && i == 0) || (out.clone() + head).ends_with(": ");
        let fits = !prev.is_some_and(is_word_char)
            && !next.is_some_and(is_word_char)
            && (!leading || (starts_part && next == Some(' ')));
        out.push_str(head);
        out.push_str(if fits { flag } else { word });
        before = word.chars().last();
        rest = &rest[i + word.len()..];
        at_start = false;
    }
    out.push_str(rest);
    out
}

/// What to do about `e`, when its cause is a common mistake.
pub fn hint(e: &Error, g: &Global, stage: Stage) -> Option<String> {
    let m = &e.message;
    let service = g
        .service_url
        .as_deref()
        .and_then(|u| url::Url::parse(u.trim()).ok());
    // The emulator as --service-url, sign-in still at Microsoft.
    if let (Stage::SignIn(flow), Some(s)) = (stage, &service) {
        let at_authority = !matches!(flow, Flow::AccessToken | Flow::ManagedIdentity);
        let other_service = s
            .host_str()
            .is_some_and(|h| !h.eq_ignore_ascii_case(MICROSOFT_SERVICE_HOST));
        if at_authority
            && other_service
            && g.authority_host.is_none()
            && g.environment.is_none()
            && e.kind != ErrorKind::InvalidArgument
        {
            return Some(format!(
                "sign-in went to Microsoft's authority (login.microsoftonline.com) because --authority-host is not given; to sign in at the server of --service-url (the emulator), add --authority-host {}",
                origin(s)
            ));
        }
    }
    // A --service-url with the API's version path.
    if e.kind == ErrorKind::NotFound && stage == Stage::Call {
        if let Some(s) = &service {
            let path = s.path().trim_end_matches('/');
            let cut = path
                .find("/v1.0/")
                .or_else(|| path.find("/v1/"))
                .or_else(|| {
                    ["/v1.0", "/v1"]
                        .iter()
                        .find_map(|v| path.strip_suffix(v).map(|p| p.len()))
                });
            if let Some(cut) = cut {
                return Some(format!(
                    "--service-url is the API's base URL, without {}: use --service-url {}{}",
                    &path[cut..],
                    origin(s),
                    &path[..cut]
                ));
            }
        }
    }
    let which = match stage {
        Stage::SignIn(_) => "the sign-in URL (--authority-host)",
        Stage::Call => "--service-url",
        Stage::Options => "the URL",
    };
    // https:// to a server that speaks plain HTTP.
    if m.contains("received corrupt message") || m.contains("InvalidContentType") {
        return Some(format!(
            "the server answered in plain HTTP, not HTTPS: use http:// in {which} (allowed for loopback hosts only)"
        ));
    }
    // A certificate from an authority this machine does not trust.
    if m.contains("UnknownIssuer") {
        return Some(match &g.ca_file {
            Some(ca) => format!(
                "the server's certificate is not signed by the certificate authority of --ca-file {ca}, nor by one this machine trusts"
            ),
            None => "the server's certificate is signed by an authority this machine does not trust: pass that authority's certificate (PEM) with --ca-file PATH (for `mscommerce emulator --tls`, the file its banner names, or the one written with its --ca-out)".to_string(),
        });
    }
    if m.contains("NotValidForName") {
        return Some(format!(
            "the server's certificate is for another host name: check the host in {which}"
        ));
    }
    None
}

/// `scheme://host[:port]` of `u`.
fn origin(u: &url::Url) -> String {
    u.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(m: &str) -> String {
        cli_words(&Error::invalid(m), &Global::default())
    }

    #[test]
    fn fields_become_flags() {
        assert_eq!(words("tenantId is required"), "--tenant-id is required");
        assert_eq!(
            words("serviceUrl 'notaurl': relative URL without a base"),
            "--service-url 'notaurl': relative URL without a base"
        );
        assert_eq!(
            words("caCertificatePath '/x.pem' cannot be read: gone"),
            "--ca-file '/x.pem' cannot be read: gone"
        );
        assert_eq!(words("password is required"), "--password is required");
        assert_eq!(
            words("proxy 'ftp://p': unsupported"),
            "--proxy 'ftp://p': unsupported"
        );
        // Ordinary words stay words.
        assert_eq!(
            words("the password of the proxy is wrong"),
            "the password of the proxy is wrong"
        );
        assert_eq!(
            words("environment Custom needs authorityHost (the base URL)"),
            "--environment Custom needs --authority-host (the base URL)"
        );
        assert_eq!(words("xtenantId is required"), "xtenantId is required");
    }

    #[test]
    fn hints() {
        let g = Global {
            service_url: Some("http://127.0.0.1:9/v1.0/policies".into()),
            ..Default::default()
        };
        let nf = Error::new(ErrorKind::NotFound, "not found").with_status(404);
        assert_eq!(
            hint(&nf, &g, Stage::Call).unwrap(),
            "--service-url is the API's base URL, without /v1.0/policies: use --service-url http://127.0.0.1:9"
        );
        let g = Global {
            service_url: Some("http://127.0.0.1:9/base/v1/".into()),
            ..Default::default()
        };
        assert!(hint(&nf, &g, Stage::Call)
            .unwrap()
            .ends_with("use --service-url http://127.0.0.1:9/base"));
        let g = Global {
            service_url: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        assert_eq!(hint(&nf, &g, Stage::Call), None);
    }
}
