//! From the sign-in options to a connect request (native-abi.md's JSON).

use super::args::Global;
use super::messages::{Failure, Stage};
use super::output::say;
use mscommerce::auth::Flow;
use mscommerce::{Error, ErrorKind, Result};
use serde_json::{json, Map, Value};

/// The flag that chooses a way of signing in.
fn flag_of(way: Flow) -> &'static str {
    match way {
        Flow::AccessToken => "--access-token",
        Flow::ClientSecret => "--client-secret",
        Flow::Certificate => "--certificate",
        Flow::ManagedIdentity => "--managed-identity",
        Flow::Password => "--username/--password",
        Flow::DeviceCode => "--device-code",
        Flow::Interactive => "--interactive",
    }
}

/// The `flow` of the connect request: the flow's name, as the connection
/// info shows it (the library reads it in any case).
fn flow_name(way: Flow) -> Value {
    serde_json::to_value(way).unwrap_or_default()
}

/// A value that is given and not blank.
fn given(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// The way of signing in the options choose. A flag on the command line
/// wins over an environment variable: `MSCOMMERCE_PASSWORD` set in the
/// environment does not stand in the way of `--access-token`. Only when no
/// flag chooses a way does an environment variable choose it.
pub fn chosen_way(g: &Global) -> Result<Flow> {
    let flag = |v: &Option<String>, id: &str| v.is_some() && !g.is_from_env(id);
    let mut flags: Vec<Flow> = Vec::new();
    if flag(&g.access_token, "access_token") {
        flags.push(Flow::AccessToken);
    }
    if flag(&g.client_secret, "client_secret") {
        flags.push(Flow::ClientSecret);
    }
    if g.certificate.is_some() {
        flags.push(Flow::Certificate);
    }
    if g.managed_identity {
        flags.push(Flow::ManagedIdentity);
    }
    if g.username.is_some() || flag(&g.password, "password") {
        flags.push(Flow::Password);
    }
    if g.device_code {
        flags.push(Flow::DeviceCode);
    }
    if g.interactive {
        flags.push(Flow::Interactive);
    }
    if flags.len() > 1 {
        return Err(Error::invalid(format!(
            "choose one way of signing in; got {}",
            flags
                .iter()
                .map(|w| flag_of(*w))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(way) = flags.first() {
        return Ok(*way);
    }
    let mut from_env: Vec<(Flow, &str)> = Vec::new();
    if g.access_token.is_some() {
        from_env.push((Flow::AccessToken, "MSCOMMERCE_ACCESS_TOKEN"));
    }
    if g.client_secret.is_some() {
        from_env.push((Flow::ClientSecret, "MSCOMMERCE_CLIENT_SECRET"));
    }
    if g.password.is_some() {
        from_env.push((Flow::Password, "MSCOMMERCE_PASSWORD"));
    }
    match from_env.as_slice() {
        [] => Err(Error::new(
            ErrorKind::NotConnected,
            "no sign-in given: use --access-token, --client-secret, --certificate, --managed-identity, --username/--password, --device-code or --interactive (see --help)",
        )),
        [(way, _)] => Ok(*way),
        several => {
            let names: Vec<&str> = several.iter().map(|(_, v)| *v).collect();
            let (last, first) = names.split_last().unwrap_or((&"", &[]));
            Err(Error::invalid(format!(
                "{} and {last} are set in the environment, each for another way of signing in; choose one with its flag, or unset the others",
                first.join(", ")
            )))
        }
    }
}

/// The connect request the options ask for, or an error naming the flag
/// that is missing. Exactly one way of signing in may be chosen.
pub fn connect_request(g: &Global) -> Result<Value> {
    let way = chosen_way(g)?;
    // What the flag of a way is called in a message: the flag, or the
    // environment variable it came from.
    let named = |flag: &str, id: &str, var: &str| -> String {
        if g.is_from_env(id) {
            format!("{flag} (set by {var})")
        } else {
            flag.to_string()
        }
    };
    let needs = |what: &str, for_: String| Error::invalid(format!("{what} is required for {for_}"));
    match way {
        Flow::ClientSecret | Flow::Certificate => {
            let by = match way {
                Flow::ClientSecret => named(
                    "--client-secret",
                    "client_secret",
                    "MSCOMMERCE_CLIENT_SECRET",
                ),
                _ => "--certificate".to_string(),
            };
            if !given(&g.tenant_id) {
                return Err(needs("--tenant-id", by));
            }
            if !given(&g.client_id) {
                return Err(needs("--client-id", by));
            }
        }
        Flow::Password => {
            if !given(&g.username) {
                return Err(needs(
                    "--username",
                    named("--password", "password", "MSCOMMERCE_PASSWORD"),
                ));
            }
            if !given(&g.password) {
                return Err(Error::invalid(
                    "--password is required for --username (or set MSCOMMERCE_PASSWORD)",
                ));
            }
        }
        _ => {}
    }
    if way != Flow::Certificate
        && g.certificate_password.is_some()
        && !g.is_from_env("certificate_password")
    {
        return Err(Error::invalid(
            "--certificate-password is the password of --certificate's PFX file; give --certificate too",
        ));
    }
    let mut r = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            r.insert(k.to_string(), Value::String(v.clone()));
        }
    };
    put("tenantId", &g.tenant_id);
    put("clientId", &g.client_id);
    match way {
        Flow::AccessToken => put("accessToken", &g.access_token),
        Flow::ClientSecret => put("clientSecret", &g.client_secret),
        Flow::Certificate => {
            match g.certificate.as_deref().and_then(store_thumbprint) {
                Some(t) => put("certificateThumbprint", &Some(t)),
                None => put("certificatePath", &g.certificate),
            }
            put("certificatePassword", &g.certificate_password);
        }
        Flow::Password => {
            put("username", &g.username);
            put("password", &g.password);
        }
        Flow::ManagedIdentity | Flow::DeviceCode | Flow::Interactive => {}
    }
    r.insert("flow".into(), flow_name(way));
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
) -> std::result::Result<Value, Failure> {
    let mut request = connect_request(g)?;
    let flow = chosen_way(g)?;
    let at = || Failure::at(Stage::SignIn(flow));
    if !matches!(flow, Flow::DeviceCode | Flow::Interactive) {
        return session
            .connect(&request.to_string(), log)
            .await
            .map_err(at());
    }
    request["step"] = json!("start");
    let start = session
        .connect(&request.to_string(), log)
        .await
        .map_err(at())?;
    let text = |k: &str| start[k].as_str().unwrap_or_default().to_string();
    if flow == Flow::DeviceCode {
        say(&text("Message"));
    } else {
        let url = text("AuthorizeUrl");
        say(&format!(
            "Sign in in your browser. If it does not open, go to:\n  {url}"
        ));
        if let Err(e) = open_browser(&url) {
            say(&format!(
                "mscommerce: cannot open a browser ({e}); open the address above yourself"
            ));
        }
    }
    request["step"] = json!("poll");
    loop {
        log.take();
        match session.connect(&request.to_string(), log).await {
            Err(e) if e.kind == ErrorKind::Pending => continue,
            other => return other.map_err(at()),
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
