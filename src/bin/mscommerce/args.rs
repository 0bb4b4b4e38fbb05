//! The command line of cli.md: every option global, so it may stand before
//! or after the command.

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  # The whole documented example against the built-in emulator, no tenant needed
  mscommerce demo

  # Run the emulator and point the CLI at it (it prints the sign-in details)
  mscommerce emulator --port 8400
  mscommerce --service-url http://127.0.0.1:8400 --authority-host http://127.0.0.1:8400 \\
      --username admin@contoso.onmicrosoft.com --password Emulator-Admin-1 products list

  # A real tenant, unattended, with an app registration's secret
  MSCOMMERCE_CLIENT_SECRET=... mscommerce --tenant-id contoso.onmicrosoft.com \\
      --client-id <app id> products set --product-id CFQ7TTC0KP0N --enabled false

Exit status: 0 success; 2 usage error; otherwise 10 + the native return code
(11 invalid argument, 12 not connected, 13 authentication, 14 forbidden,
15 not found, 16 throttled, 17 service, 18 network, 19 timeout).";

#[derive(Parser, Debug)]
#[command(
    name = "mscommerce",
    version,
    about = "Turn self-service purchases and trials on or off per product in a Microsoft 365 tenant",
    after_help = EXAMPLES
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

#[derive(Args, Debug, Default)]
pub struct Global {
    /// Licensing API base URL
    #[arg(long, global = true, value_name = "URL")]
    pub service_url: Option<String>,
    /// Sign-in authority (default from --environment)
    #[arg(long, global = true, value_name = "URL")]
    pub authority_host: Option<String>,
    /// AzureCloud (default), AzureUSGovernment or AzureUSGovernmentDoD
    #[arg(long, global = true, value_name = "NAME")]
    pub environment: Option<String>,
    /// Extra trusted root certificate (PEM) for every HTTPS connection
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_file: Option<String>,
    /// HTTP(S) proxy for every connection
    #[arg(long, global = true, value_name = "URL")]
    pub proxy: Option<String>,
    /// Request timeout in seconds (retries included)
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Output format (default: table on a terminal, json otherwise)
    #[arg(long, global = true, value_enum)]
    pub output: Option<OutputFormat>,

    // ---- sign-in ----
    /// Use this access token as it is
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Sign-in"
    )]
    pub access_token: Option<String>,
    /// Tenant id or domain
    #[arg(long, global = true, value_name = "T", help_heading = "Sign-in")]
    pub tenant_id: Option<String>,
    /// Application (client) id
    #[arg(long, global = true, value_name = "C", help_heading = "Sign-in")]
    pub client_id: Option<String>,
    /// App sign-in with a client secret
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "S",
        help_heading = "Sign-in"
    )]
    pub client_secret: Option<String>,
    /// App sign-in with a certificate (PFX or PEM)
    #[arg(long, global = true, value_name = "PATH", help_heading = "Sign-in")]
    pub certificate: Option<String>,
    /// Password of the PFX given with --certificate
    #[arg(long, global = true, value_name = "P", help_heading = "Sign-in")]
    pub certificate_password: Option<String>,
    /// Sign in as the Azure managed identity (user-assigned with --client-id)
    #[arg(long, global = true, help_heading = "Sign-in")]
    pub managed_identity: bool,
    /// User name for password sign-in
    #[arg(long, global = true, value_name = "U", help_heading = "Sign-in")]
    pub username: Option<String>,
    /// Password for password sign-in
    #[arg(
        long,
        global = true,
        env = "MSCOMMERCE_PASSWORD",
        hide_env_values = true,
        value_name = "P",
        help_heading = "Sign-in"
    )]
    pub password: Option<String>,
    /// Sign in with a device code (the prompt goes to stderr)
    #[arg(long, global = true, help_heading = "Sign-in")]
    pub device_code: bool,
    /// Sign in in the system browser (honours $BROWSER)
    #[arg(long, global = true, help_heading = "Sign-in")]
    pub interactive: bool,
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
        #[arg(long, value_name = "ID")]
        product_id: String,
    },
    /// Set the value of one product, or of several (repeat --product-id or
    /// separate ids with commas; all are checked before any is changed)
    #[command(group(ArgGroup::new("what").required(true).args(["value", "enabled"])))]
    Set {
        #[command(flatten)]
        policy: PolicyArg,
        #[arg(long, value_name = "ID", required = true, value_delimiter = ',')]
        product_id: Vec<String>,
        /// Enabled, Disabled or OnlyTrialsWithoutPaymentMethod
        #[arg(long, value_name = "VALUE")]
        value: Option<String>,
        /// true or false (the published -Enabled)
        #[arg(long, value_name = "true|false")]
        enabled: Option<String>,
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
    /// Where to write the CA certificate (PEM) in --tls mode
    #[arg(long, value_name = "PATH")]
    pub ca_out: Option<String>,
    /// Latency added to every licensing request
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub latency_ms: u64,
    /// Product list to start with: seed (2021 article) or docs2023
    #[arg(long, default_value = "seed", value_name = "LIST")]
    pub seed_products: String,
    /// Lifetime of the access tokens it issues
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub token_lifetime: u64,
}
