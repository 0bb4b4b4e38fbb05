//! The command line of cli.md: every option global, so it may stand before
//! or after the command. Options are grouped in the help by what they are
//! for, and the help of `emulator` and `demo` hides those they do not use.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  # The whole documented example against the built-in emulator, no tenant needed
  mscommerce demo

  # Run the emulator and point the CLI at it (it prints the command line to use)
  mscommerce emulator --port 8400
  mscommerce --service-url http://127.0.0.1:8400 --authority-host http://127.0.0.1:8400 \\
      --username admin@contoso.onmicrosoft.com --password Emulator-Admin-1 products list

  # A real tenant, unattended, with an app registration's secret
  MSCOMMERCE_CLIENT_SECRET=... mscommerce --tenant-id contoso.onmicrosoft.com \\
      --client-id <app id> products set --product-id CFQ7TTC0KP0N --enabled false

A flag given on the command line wins over its environment variable.

Exit status: 0 success; 2 usage error; otherwise 10 + the native return code
(11 invalid argument, 12 not connected, 13 authentication, 14 forbidden,
15 not found, 16 throttled, 17 service, 18 network, 19 timeout, 21 internal
error or the output cannot be written).";

const CONNECTION: &str = "Connection options";
const SIGN_IN: &str = "Sign-in options (choose one way)";
const OUTPUT: &str = "Output options";

#[derive(Parser, Debug)]
#[command(
    name = "mscommerce",
    version,
    about = "Turn self-service purchases and trials on or off per product in a Microsoft 365 tenant",
    after_help = EXAMPLES,
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// `--timeout`: a number of seconds, more than 0 and at most an hour.
fn seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Ok(t),
        _ => Err("give a number of seconds, more than 0 and at most 3600".to_string()),
    }
}

#[derive(Args, Debug, Default)]
pub struct Global {
    /// Licensing API base URL, without /v1.0 [default: https://licensing.m365.microsoft.com]
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTION)]
    pub service_url: Option<String>,
    /// Sign-in authority (default from --environment); give it with --service-url for the emulator
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTION)]
    pub authority_host: Option<String>,
    /// AzureCloud (default), AzureUSGovernment or AzureUSGovernmentDoD
    #[arg(long, global = true, value_name = "NAME", help_heading = CONNECTION)]
    pub environment: Option<String>,
    /// Extra trusted root certificate (PEM) for every HTTPS connection
    #[arg(long, global = true, value_name = "PATH", help_heading = CONNECTION)]
    pub ca_file: Option<String>,
    /// HTTP(S) proxy for every connection
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTION)]
    pub proxy: Option<String>,
    /// Time allowed for each operation, retries and sign-in included (at most 3600) [default: 100]
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        value_parser = seconds,
        allow_negative_numbers = true,
        help_heading = CONNECTION
    )]
    pub timeout: Option<f64>,
    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, global = true, value_enum, help_heading = OUTPUT)]
    pub output: Option<OutputFormat>,

    // ---- sign-in ----
    /// Use this access token as it is
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = SIGN_IN
    )]
    pub access_token: Option<String>,
    /// Tenant id or domain
    #[arg(long, global = true, value_name = "T", help_heading = SIGN_IN)]
    pub tenant_id: Option<String>,
    /// Application (client) id
    #[arg(long, global = true, value_name = "C", help_heading = SIGN_IN)]
    pub client_id: Option<String>,
    /// App sign-in with a client secret (needs --tenant-id and --client-id)
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "S",
        help_heading = SIGN_IN
    )]
    pub client_secret: Option<String>,
    /// App sign-in with a certificate, PFX or PEM (needs --tenant-id and --client-id)
    #[arg(long, global = true, value_name = "PATH", help_heading = SIGN_IN)]
    pub certificate: Option<String>,
    /// Password of the PFX given with --certificate
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_CERTIFICATE_PASSWORD",
        hide_env_values = true,
        value_name = "P",
        help_heading = SIGN_IN
    )]
    pub certificate_password: Option<String>,
    /// Sign in as the Azure managed identity (user-assigned with --client-id)
    #[arg(long, global = true, help_heading = SIGN_IN)]
    pub managed_identity: bool,
    /// User name for password sign-in
    #[arg(long, global = true, value_name = "U", help_heading = SIGN_IN)]
    pub username: Option<String>,
    /// Password for password sign-in (with --username)
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_PASSWORD",
        hide_env_values = true,
        value_name = "P",
        help_heading = SIGN_IN
    )]
    pub password: Option<String>,
    /// Sign in with a device code (the prompt goes to stderr)
    #[arg(long, global = true, help_heading = SIGN_IN)]
    pub device_code: bool,
    /// Sign in in the system browser (honours $BROWSER)
    #[arg(long, global = true, help_heading = SIGN_IN)]
    pub interactive: bool,

    /// The ids of the options whose value came from an environment variable
    /// rather than the command line (filled in by [`parse`]).
    #[arg(skip)]
    pub from_env: Vec<&'static str>,
}

/// The options that may come from an environment variable, with its name.
pub const FROM_ENV: [(&str, &str); 4] = [
    ("access_token", "MSCOMMERCE_ACCESS_TOKEN"),
    ("client_secret", "MSCOMMERCE_CLIENT_SECRET"),
    ("certificate_password", "MSCOMMERCE_CERTIFICATE_PASSWORD"),
    ("password", "MSCOMMERCE_PASSWORD"),
];

impl Global {
    /// Whether option `id`'s value was taken from its environment variable.
    pub fn is_from_env(&self, id: &str) -> bool {
        self.from_env.contains(&id)
    }
}

/// Every global option, by id.
const GLOBAL_IDS: [&str; 18] = [
    "service_url",
    "authority_host",
    "environment",
    "ca_file",
    "proxy",
    "timeout",
    "output",
    "access_token",
    "tenant_id",
    "client_id",
    "client_secret",
    "certificate",
    "certificate_password",
    "managed_identity",
    "username",
    "password",
    "device_code",
    "interactive",
];

/// The global options a command does not use: all of them for `emulator`,
/// all but `--output` for `demo` (it signs in at its own emulator).
fn not_used_by(command: &str) -> Vec<&'static str> {
    let all = GLOBAL_IDS.iter().copied();
    match command {
        "emulator" => all.collect(),
        "demo" => all.filter(|id| *id != "output").collect(),
        _ => Vec::new(),
    }
}

/// The command with its help trimmed: `emulator --help` and `demo --help`
/// do not list the global options they ignore.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    // Propagate the global options to the subcommands now, so they can be
    // hidden where they do not apply.
    cmd.build();
    for name in ["emulator", "demo"] {
        let hidden = not_used_by(name);
        cmd = cmd.mut_subcommand(name, |sc| {
            sc.mut_args(|a| {
                if hidden.contains(&a.get_id().as_str()) {
                    a.hide(true)
                } else {
                    a
                }
            })
        });
    }
    cmd
}

/// Parse the command line; a usage error is clap's (exit 2, or 0 for
/// --help and --version).
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .map_err(|e| e.format(&mut cmd))?;
    cli.global.from_env = FROM_ENV
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| matches.value_source(id) == Some(ValueSource::EnvVariable))
        .collect();
    if let Some((name, _)) = matches.subcommand() {
        let ignored: Vec<String> = not_used_by(name)
            .into_iter()
            .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        if !ignored.is_empty() {
            let why = if name == "demo" {
                " (it signs in at its own in-process emulator)"
            } else {
                ""
            };
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{} {} not apply to '{name}'{why}",
                    ignored.join(", "),
                    if ignored.len() == 1 { "does" } else { "do" }
                ),
            ));
        }
    }
    Ok(cli)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Policies (AllowSelfServicePurchase)
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Products and their policy values
    #[command(subcommand)]
    Products(ProductsCommand),
    /// Sign in with the options given and print the connection
    Login,
    /// Run the embedded emulator in the foreground
    Emulator(EmulatorArgs),
    /// Run the documented example against an in-process emulator
    Demo,
}

#[derive(Args, Debug)]
pub struct PolicyArg {
    /// Policy id
    #[arg(long, default_value = "AllowSelfServicePurchase", value_name = "ID")]
    pub policy_id: String,
}

#[derive(Subcommand, Debug)]
pub enum PoliciesCommand {
    /// List the policies
    List,
    /// Show one policy: its description and default value
    Get(PolicyArg),
}

#[derive(Subcommand, Debug)]
pub enum ProductsCommand {
    /// List the products of a policy and their values
    List {
        #[command(flatten)]
        policy: PolicyArg,
        /// Scope of the listing (default product)
        #[arg(long, value_name = "SCOPE")]
        scope: Option<String>,
    },
    /// Show one product's value
    Get {
        #[command(flatten)]
        policy: PolicyArg,
        /// Product id, as `products list` shows it (e.g. CFQ7TTC0KP0N)
        #[arg(long, value_name = "ID")]
        product_id: String,
    },
    /// Set the value of one product, or of several
    #[command(
        long_about = "Set the value of one product, or of several (repeat --product-id or \
separate ids with commas).\n\n\
Before anything is changed, the ids are checked for their form and, when there are \
several, looked up in one listing of the policy's products: if any is unknown, no \
product is changed. Then each product is updated in turn, with progress on stderr; \
if an update fails (throttling, network), the others still go ahead, the output lists \
those that changed, and the exit status is the first failure's.",
        group(ArgGroup::new("what").required(true).args(["value", "enabled"]))
    )]
    Set {
        #[command(flatten)]
        policy: PolicyArg,
        /// Product id, as `products list` shows it (e.g. CFQ7TTC0KP0N); repeat it or separate ids with commas for several
        #[arg(long, value_name = "ID", required = true, value_delimiter = ',')]
        product_id: Vec<String>,
        /// The value to set
        #[arg(
            long,
            value_name = "VALUE",
            value_parser = PossibleValuesParser::new(["Enabled", "Disabled", "OnlyTrialsWithoutPaymentMethod"]),
            ignore_case = true
        )]
        value: Option<String>,
        /// true (Enabled) or false (Disabled)
        #[arg(
            long,
            value_name = "true|false",
            value_parser = PossibleValuesParser::new(["true", "false"])
                .map(|v| v.eq_ignore_ascii_case("true")),
            ignore_case = true
        )]
        enabled: Option<bool>,
        /// Show what would change (reads the current values) and change nothing
        #[arg(long)]
        what_if: bool,
    },
}

#[derive(Args, Debug)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Serve HTTPS with a generated certificate authority
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate (PEM) in --tls mode, for the CLI's --ca-file
    #[arg(long, value_name = "PATH")]
    pub ca_out: Option<String>,
    /// Latency added to every licensing request
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub latency_ms: u64,
    /// Product list to start with: seed (2021 article), docs2023, docs2025 (current ids) or generated:N (N made-up products)
    #[arg(long, default_value = "seed", value_name = "LIST")]
    pub seed_products: String,
    /// Lifetime of the access tokens it issues
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub token_lifetime: u64,
}
