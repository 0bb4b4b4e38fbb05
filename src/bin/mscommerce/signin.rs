//! From the sign-in options to a connect request (native-abi.md's JSON).

use super::args::Global;
use mscommerce::{Error, Result};
use serde_json::{json, Map, Value};

/// The connect request the options ask for, or an error naming what is
/// missing. Exactly one way of signing in may be chosen.
pub fn connect_request(g: &Global) -> Result<Value> {
    let mut chosen: Vec<&str> = Vec::new();
    if g.access_token.is_some() {
        chosen.push("--access-token");
    }
    if g.client_secret.is_some() {
        chosen.push("--client-secret");
    }
    if g.certificate.is_some() {
        chosen.push("--certificate");
    }
    if g.managed_identity {
        chosen.push("--managed-identity");
    }
    if g.username.is_some() || g.password.is_some() {
        chosen.push("--username/--password");
    }
    if g.device_code {
        chosen.push("--device-code");
    }
    if g.interactive {
        chosen.push("--interactive");
    }
    if chosen.len() > 1 {
        return Err(Error::invalid(format!(
            "choose one way of signing in; got {}",
            chosen.join(", ")
        )));
    }
    let mut r = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            r.insert(k.to_string(), Value::String(v.clone()));
        }
    };
    put("tenantId", &g.tenant_id);
    put("clientId", &g.client_id);
    let flow = match chosen.first().copied() {
        Some("--access-token") => {
            put("accessToken", &g.access_token);
            "accessToken"
        }
        Some("--client-secret") => {
            put("clientSecret", &g.client_secret);
            "clientSecret"
        }
        Some("--certificate") => {
            put("certificatePath", &g.certificate);
            put("certificatePassword", &g.certificate_password);
            "certificate"
        }
        Some("--managed-identity") => "managedIdentity",
        Some("--username/--password") => {
            put("username", &g.username);
            put("password", &g.password);
            "password"
        }
        Some("--device-code") => "deviceCode",
        Some("--interactive") => "interactive",
        _ => {
            return Err(Error::new(
                mscommerce::ErrorKind::NotConnected,
                "no sign-in given: use --access-token, --client-secret, --certificate, --managed-identity, --username/--password, --device-code or --interactive (see --help)",
            ))
        }
    };
    r.insert("flow".into(), json!(flow));
    Ok(Value::Object(r))
}

/// Sign the session in as the options say.
pub async fn connect(
    session: &mscommerce::Session,
    g: &Global,
    log: &mscommerce::log::CallLog,
) -> Result<Value> {
    let request = connect_request(g)?;
    session.connect(&request.to_string(), log).await
}
