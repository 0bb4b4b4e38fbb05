//! From the sign-in options to a connect request (native-abi.md's JSON).

use super::args::Global;
use mscommerce::{Error, ErrorKind, Result};
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
            match g.certificate.as_deref().and_then(store_thumbprint) {
                Some(t) => put("certificateThumbprint", &Some(t)),
                None => put("certificatePath", &g.certificate),
            }
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

/// A certificate of the Windows store named instead of a file: PowerShell's
/// `Cert:\CurrentUser\My\<thumbprint>`, or a bare thumbprint that is not
/// a file's name.
fn store_thumbprint(certificate: &str) -> Option<String> {
    let c = certificate.trim();
    if c.len() > 5 && c[..5].eq_ignore_ascii_case("cert:") {
        return c.rsplit(['\\', '/']).next().map(str::to_string);
    }
    let hex: String = c
        .chars()
        .filter(|x| !x.is_whitespace() && *x != ':')
        .collect();
    let looks = hex.len() == 40 && hex.chars().all(|x| x.is_ascii_hexdigit());
    (looks && !std::path::Path::new(c).exists()).then_some(hex)
}

/// Sign the session in as the options say. Device code and interactive
/// sign-ins are driven here: the prompt (or the URL, with the browser
/// opened) goes to stderr, then the library is polled until it answers;
/// each poll waits for the user a little while by itself.
pub async fn connect(
    session: &mscommerce::Session,
    g: &Global,
    log: &mscommerce::log::CallLog,
) -> Result<Value> {
    let mut request = connect_request(g)?;
    let flow = request["flow"].as_str().unwrap_or_default().to_string();
    if flow != "deviceCode" && flow != "interactive" {
        return session.connect(&request.to_string(), log).await;
    }
    request["step"] = json!("start");
    let start = session.connect(&request.to_string(), log).await?;
    let text = |k: &str| start[k].as_str().unwrap_or_default().to_string();
    if flow == "deviceCode" {
        eprintln!("{}", text("Message"));
    } else {
        let url = text("AuthorizeUrl");
        eprintln!("Sign in in your browser. If it does not open, go to:\n  {url}");
        if let Err(e) = open_browser(&url) {
            eprintln!("mscommerce: cannot open a browser ({e}); open the address above yourself");
        }
    }
    request["step"] = json!("poll");
    loop {
        log.take();
        match session.connect(&request.to_string(), log).await {
            Err(e) if e.kind == ErrorKind::Pending => continue,
            other => return other,
        }
    }
}

/// Open `url` in the system browser: `$BROWSER` first (a list separated by
/// `:`, `;` on Windows, each a command where `%s` stands for the URL, else the URL is added
/// as the last argument), then the platform's opener. The browser's own
/// output never reaches stdout, which carries only the result.
fn open_browser(url: &str) -> std::result::Result<(), String> {
    let mut tried = Vec::new();
    if let Ok(browsers) = std::env::var("BROWSER") {
        // A list as on Unix ("a:b"); on Windows a path has a colon of its own.
        let separator = if cfg!(windows) { ';' } else { ':' };
        for command in browsers
            .split(separator)
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let mut words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
            if words.iter().any(|w| w.contains("%s")) {
                for w in &mut words {
                    *w = w.replace("%s", url);
                }
            } else {
                words.push(url.to_string());
            }
            match spawn(&words) {
                Ok(()) => return Ok(()),
                Err(e) => tried.push(e),
            }
        }
    }
    let opener: Vec<String> = if cfg!(windows) {
        vec![
            "rundll32".into(),
            "url.dll,FileProtocolHandler".into(),
            url.into(),
        ]
    } else if cfg!(target_os = "macos") {
        vec!["open".into(), url.into()]
    } else {
        vec!["xdg-open".into(), url.into()]
    };
    spawn(&opener).map_err(|e| {
        tried.push(e);
        tried.join("; ")
    })
}

/// Start a program without waiting for it (a thread reaps it).
fn spawn(words: &[String]) -> std::result::Result<(), String> {
    let (program, args) = words.split_first().ok_or("empty command")?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}
