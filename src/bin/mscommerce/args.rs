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

  # Every product but one off, then keep it so (see `baseline --help`)
  mscommerce products set --all --except CFQ7TTC0KP0N --value Disabled
  mscommerce baseline export --file tenant.json --other-products Disabled

  # An MSP's nightly guard over its customers (customers.txt: one tenant a
  # line), with the partner's multi-tenant app consented in each of them
  mscommerce --tenant-id fabrikampartners.onmicrosoft.com --client-id <app id> \\
      --certificate /etc/mscommerce/app.pem \\
      baseline apply --file lockdown.json --tenants customers.txt --tenant-concurrency 8

A flag given on the command line wins over its environment variable.

Exit status: 0 success; 1 `baseline test` found drift; 2 usage error; 3 with
--tenants, a tenant failed (the others were done; the summary says why); 130
Ctrl+C during a bulk change (after its report); otherwise 10 + the native
return code (11 invalid argument, 12 not connected, 13 authentication,
14 forbidden, 15 not found, 16 throttled, 17 service, 18 network, 19 timeout,
21 internal error or the output cannot be written); a bulk change in which
products failed exits with the first failed product's.";

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
    /// Baselines: export the tenant's values to a file, test the tenant against one, apply one
    #[command(subcommand)]
    Baseline(BaselineCommand),
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
    #[command(after_help = "\
Examples:
  # The products of one tenant
  mscommerce products list

  # Of every customer of the list, as CSV with TenantId first
  mscommerce --tenant-id fabrikampartners.onmicrosoft.com --client-id <app id> \\
      --output csv products list --tenants customers.txt

Exit status: 0 listed; with --tenants, 3 when a tenant failed (the others are listed;
the summary on stderr says why); otherwise 10 + the native return code.")]
    List {
        #[command(flatten)]
        policy: PolicyArg,
        /// Scope of the listing (default product)
        #[arg(long, value_name = "SCOPE")]
        scope: Option<String>,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Show one product's value
    Get {
        #[command(flatten)]
        policy: PolicyArg,
        /// Product id, as `products list` shows it (e.g. CFQ7TTC0KP0N)
        #[arg(long, value_name = "ID")]
        product_id: String,
    },
    /// Set the value of one product, of several, or of all of them
    #[command(
        long_about = "Set the value of one product, of several (repeat --product-id or \
separate ids with commas), or of every product of the policy (--all, with --except for \
those to leave alone).\n\n\
Before anything is changed, the ids are checked for their form and, when there are \
several, looked up in one listing of the policy's products: if any is unknown, no \
product is changed. Several products (or --all) are changed in one bulk run: products \
already at the value are not written, up to --concurrency writes are in flight (the \
service's throttling slows them down for everyone), and one listing afterwards verifies \
the result. Progress goes to stderr: a bar on a terminal, otherwise a line every 10 % \
or every 5 seconds. The output lists every product's outcome: ProductId, ProductName, \
PreviousValue, PolicyValue, Status (Updated, Unchanged, Failed, or WouldUpdate with \
--what-if) and the Error of a failed product.\n\n\
If a product fails (throttling, network), the others still go ahead and the exit status \
is the first failure's (10 + its native code, e.g. 16 throttled). Ctrl+C during a bulk \
run stops starting writes, lets those in flight finish, verifies, prints the report \
(products not written are Failed with \"cancelled\") and exits with 130; a second \
Ctrl+C exits at once, saying the state is not known.",
        after_help = SET_EXAMPLES,
        group(ArgGroup::new("what").required(true).args(["value", "enabled"])),
        group(ArgGroup::new("which").required(true).args(["product_id", "all"]))
    )]
    Set {
        #[command(flatten)]
        policy: PolicyArg,
        /// Product id, as `products list` shows it (e.g. CFQ7TTC0KP0N); repeat it or separate ids with commas for several
        #[arg(long, value_name = "ID", value_delimiter = ',')]
        product_id: Vec<String>,
        /// Every product of the policy (but those of --except)
        #[arg(long)]
        all: bool,
        /// With --all: products to leave alone (ids separated by commas, or repeated)
        #[arg(long, value_name = "IDS", value_delimiter = ',', requires = "all")]
        except: Vec<String>,
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
        #[command(flatten)]
        bulk: BulkArgs,
        #[command(flatten)]
        fleet: FleetArgs,
    },
}

const SET_EXAMPLES: &str = "\
Examples:
  # Turn self-service purchase off for every product but two
  mscommerce products set --all --except CFQ7TTC0KP0N,CFQ7TTC0LH2H --value Disabled

  # See what would change first (nothing is written)
  mscommerce products set --all --value Disabled --what-if

  # Three products, at most two writes in flight, results as CSV
  mscommerce --output csv products set --product-id CFQ7TTC0KP0N,CFQ7TTC0KP0P \\
      --product-id CFQ7TTC0LH2H --enabled false --concurrency 2

  # The same in every customer tenant, signed in once as the partner's admin
  mscommerce --device-code products set --all --value Disabled --tenants customers.txt

Exit status: 0 every product at its value; 10 + the first failed product's native
code when any failed (e.g. 15 not found, 16 throttled); 130 after Ctrl+C (the report
lists the products not written as Failed \"cancelled\"); 2 usage error. With --tenants:
3 when a tenant failed (not consented, forbidden, throttled, a product failed...).";

/// How a bulk change runs (`products set` with several products, `baseline apply`).
#[derive(Args, Debug)]
pub struct BulkArgs {
    /// Most writes in flight with several products, --all or a baseline, 1 to 64 [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub concurrency: Option<u8>,
    /// Show what would change (reads the current values) and change nothing
    #[arg(long)]
    pub what_if: bool,
}

const MANY: &str = "Many tenants";

/// `--tenants`: the same command for each of several customer tenants.
#[derive(Args, Debug, Default)]
pub struct FleetArgs {
    /// Run for each tenant of FILE (one tenant id or domain a line, # starts a comment) or of a list separated by commas; sign in with a multi-tenant app (--tenant-id the partner's tenant) or as a partner admin
    #[arg(long, value_name = "FILE|T,T...", help_heading = MANY)]
    pub tenants: Option<String>,
    /// With --tenants: tenants worked on at the same time, 1 to 64 [default: 4]
    #[arg(
        long,
        value_name = "N",
        requires = "tenants",
        value_parser = clap::value_parser!(u8).range(1..=64),
        help_heading = MANY
    )]
    pub tenant_concurrency: Option<u8>,
}

#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Write the tenant's current values to a baseline file
    #[command(
        long_about = "Write the tenant's current values of a policy to a baseline file: a JSON \
document people can read and edit (PolicyId, TenantId, ExportedAt, Tool, Products with \
each ProductId, ProductName and PolicyValue, and OtherProducts, the rule for every \
product the file does not name, including products that appear later).\n\n\
The file is written whole or not at all (a temporary file renamed into place); an \
existing file is kept unless --force is given.",
        after_help = "\
Examples:
  # Today's values; products added later must be Disabled
  mscommerce baseline export --file contoso.json --other-products Disabled

  # Overwrite the file of last week
  mscommerce baseline export --file contoso.json --force

Exit status: 0 written; 11 the file exists (without --force) or cannot be written;
otherwise 10 + the native return code, as for every command."
    )]
    Export {
        /// The file to write
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        /// The rule for products the file does not name: Keep (leave them alone) or the value they must have
        #[arg(
            long,
            value_name = "RULE",
            default_value = "Keep",
            value_parser = PossibleValuesParser::new(["Keep", "Disabled", "Enabled", "OnlyTrialsWithoutPaymentMethod"]),
            ignore_case = true
        )]
        other_products: String,
        #[command(flatten)]
        policy: PolicyArg,
        /// Replace the file if it exists
        #[arg(long)]
        force: bool,
    },
    /// Compare the tenant with a baseline file; exit 1 when they differ
    #[command(
        long_about = "Compare the tenant with a baseline file and print the drift: one object \
per product whose value is not the file's, with ProductId, ProductName, Expected, Actual \
and Reason (Differs: named in the file with another value; NotInBaseline: not named, \
and not at the file's OtherProducts value; NotInTenant: named in the file, not in the \
tenant). Nothing is written.",
        after_help = "\
Examples:
  # Alert from a scheduler when the tenant has drifted
  mscommerce baseline test --file contoso.json || echo \"drift or error: $?\"

  # The drift as CSV
  mscommerce --output csv baseline test --file contoso.json

  # Every customer of the list against a template (its TenantId null)
  mscommerce --tenant-id fabrikampartners.onmicrosoft.com --client-id <app id> \\
      baseline test --file lockdown.json --tenants customers.txt

Exit status: 0 no drift; 1 drift (the drift objects are printed); 2 usage error;
11 the file cannot be read or is not a valid baseline; otherwise 10 + the native
return code (13 authentication, 16 throttled, 18 network, ...). With --tenants:
3 when a tenant failed (even if others drifted), else 1 when one drifted."
    )]
    Test {
        /// The baseline file
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Change the tenant to a baseline file's values
    #[command(
        long_about = "Change the tenant to a baseline file's values: each product the file names \
to its value, every other product to OtherProducts (unless Keep). Only the differences \
are written, in one bulk run (as products set --all), verified by a listing afterwards. \
A product of the file that the tenant no longer has is reported Failed (NotFound), and \
the rest goes on. The output lists every product's outcome as products set does; \
--what-if shows the plan and writes nothing. Ctrl+C stops starting writes, lets those \
in flight finish, verifies and prints the report (exit 130).\n\n\
With --tenants, the file is applied to every tenant of the list, as a template (its \
TenantId null or absent), up to --tenant-concurrency tenants at a time. One tenant's \
failure (not consented, forbidden, throttled, not found) does not stop the others. The \
output has TenantId first (JSON: one object per tenant with TenantId, Status, Reason, \
Error and Value, the products' results); a summary line per tenant goes to stderr; \
Ctrl+C starts no further tenant, lets those running finish and prints the report.",
        after_help = "\
Examples:
  # What would change
  mscommerce baseline apply --file contoso.json --what-if

  # The guard: run it on a schedule with a certificate
  mscommerce --tenant-id contoso.onmicrosoft.com --client-id <app id> \\
      --certificate /etc/mscommerce/app.pem baseline apply --file /etc/mscommerce/contoso.json

  # An MSP's nightly run over its customers (customers.txt: one tenant id or
  # domain a line, # comments), with the partner's multi-tenant app
  mscommerce --tenant-id fabrikampartners.onmicrosoft.com --client-id <app id> \\
      --certificate /etc/mscommerce/app.pem \\
      baseline apply --file lockdown.json --tenants customers.txt --tenant-concurrency 8

Exit status: 0 every product at its value; 10 + the first failed product's native
code when any failed (e.g. 15 a product of the file is not in the tenant); 11 the
file cannot be read or is not a valid baseline; 130 after Ctrl+C; 2 usage error.
With --tenants: 3 when a tenant failed (the others were done; see the summary)."
    )]
    Apply {
        /// The baseline file
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        #[command(flatten)]
        bulk: BulkArgs,
        #[command(flatten)]
        fleet: FleetArgs,
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
