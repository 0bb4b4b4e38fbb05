//! `mscommerce`: the command line of cli.md over the same core as the
//! native library, plus the embedded emulator and the demo.

mod args;
mod demo;
mod emulator_cmd;
mod output;
mod signin;

use args::{Cli, Command, OutputFormat, PoliciesCommand, ProductsCommand};
use clap::Parser;
use mscommerce::log::CallLog;
use mscommerce::{Error, ErrorKind, Result, Session};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mscommerce: {e}");
            ExitCode::from((10 + e.kind.code()) as u8)
        }
    }
}

/// Session options from the global flags.
pub fn session_options(g: &args::Global) -> Value {
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    put("serviceUrl", &g.service_url);
    put("authorityHost", &g.authority_host);
    put("environment", &g.environment);
    put("proxy", &g.proxy);
    put("caCertificatePath", &g.ca_file);
    if let Some(t) = g.timeout {
        o.insert("timeoutSeconds".into(), json!(t));
    }
    Value::Object(o)
}

fn output_format(g: &args::Global) -> OutputFormat {
    g.output.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Json
    })
}

async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let format = output_format(g);
    match &cli.command {
        Command::Emulator(a) => return emulator_cmd::run(a).await,
        Command::Demo => return demo::run(format).await,
        _ => {}
    }
    let session = Session::new(&session_options(g).to_string())?;
    let log = CallLog::new();
    let connected = signin::connect(&session, g, &log).await;
    log.take();
    let info = connected?;
    let value = match &cli.command {
        Command::Login => info,
        Command::Policies(PoliciesCommand::List) => {
            session.get(&json!({"resource": "policies"}).to_string(), &log).await?
        }
        Command::Policies(PoliciesCommand::Get(p)) => {
            session
                .get(&json!({"resource": "policy", "policyId": p.policy_id}).to_string(), &log)
                .await?
        }
        Command::Products(ProductsCommand::List { policy, scope }) => {
            let mut r = json!({"resource": "productPolicies", "policyId": policy.policy_id});
            if let Some(s) = scope {
                r["scope"] = json!(s);
            }
            session.get(&r.to_string(), &log).await?
        }
        Command::Products(ProductsCommand::Get { policy, product_id }) => {
            session
                .get(
                    &json!({"resource": "productPolicy", "policyId": policy.policy_id, "productId": product_id})
                        .to_string(),
                    &log,
                )
                .await?
        }
        Command::Products(ProductsCommand::Set {
            policy,
            product_id,
            value,
            enabled,
            what_if,
        }) => {
            let plan = SetPlan::new(&policy.policy_id, product_id, value, enabled)?;
            if *what_if {
                plan.what_if(&session, &log).await?;
                return Ok(());
            }
            plan.run(&session, format, &log).await?
        }
        Command::Emulator(_) | Command::Demo => unreachable!("handled above"),
    };
    output::print(&value, format);
    Ok(())
}

/// `products set`: every id and the value are checked before anything is
/// sent; then one update per product, with progress on stderr when there are
/// several. A failed product does not stop the others; the command then
/// exits with the first failure's code, after printing what did change.
struct SetPlan<'a> {
    policy_id: &'a str,
    product_ids: &'a [String],
    value: &'static str,
}

impl<'a> SetPlan<'a> {
    fn new(
        policy_id: &'a str,
        product_ids: &'a [String],
        value: &Option<String>,
        enabled: &Option<String>,
    ) -> Result<Self> {
        mscommerce::ids::validate_id("PolicyId", policy_id)?;
        for id in product_ids {
            mscommerce::ids::validate_id("ProductId", id)?;
        }
        let enabled = enabled.clone().map(Value::String);
        let value = mscommerce::model::requested_value(value.as_deref(), enabled.as_ref())?;
        Ok(SetPlan {
            policy_id,
            product_ids,
            value,
        })
    }

    /// `--what-if`: read each product and say what would change, on stderr;
    /// nothing is changed and nothing goes to stdout (as -WhatIf).
    async fn what_if(&self, session: &Session, log: &CallLog) -> Result<()> {
        for id in self.product_ids {
            let request =
                json!({"resource": "productPolicy", "policyId": self.policy_id, "productId": id});
            let current = session.get(&request.to_string(), log).await?;
            log.take();
            let now = current["PolicyValue"].as_str().unwrap_or("?");
            let name = current["ProductName"].as_str().unwrap_or("?");
            if now == self.value {
                eprintln!("What if: {id} ({name}) is already {now}; nothing to change");
            } else {
                eprintln!(
                    "What if: setting policy '{}' of {id} ({name}) from {now} to {}",
                    self.policy_id, self.value
                );
            }
        }
        Ok(())
    }

    async fn run(&self, session: &Session, format: OutputFormat, log: &CallLog) -> Result<Value> {
        let total = self.product_ids.len();
        let mut changed = Vec::new();
        let mut failures: Vec<Error> = Vec::new();
        for (i, id) in self.product_ids.iter().enumerate() {
            let request = json!({"policyId": self.policy_id, "productId": id, "value": self.value});
            let result = session.update(&request.to_string(), log).await;
            log.take();
            match result {
                Ok(v) => {
                    if total > 1 {
                        eprintln!("[{}/{total}] {id}: {}", i + 1, self.value);
                    }
                    changed.push(v);
                }
                Err(e) if total == 1 => return Err(e),
                Err(e) => {
                    eprintln!("[{}/{total}] {id}: failed: {e}", i + 1);
                    failures.push(e);
                }
            }
        }
        if total == 1 {
            return Ok(changed.pop().unwrap_or(Value::Null));
        }
        if let Some(first) = failures.first() {
            output::print(&Value::Array(changed), format);
            let mut e = first.clone();
            e.message = format!(
                "{} of {total} products failed; the first: {}",
                failures.len(),
                e.message
            );
            return Err(e);
        }
        Ok(Value::Array(changed))
    }
}

/// Exit code of an error kind, for the demo and tests.
#[allow(dead_code)]
pub fn exit_code(kind: ErrorKind) -> u8 {
    (10 + kind.code()) as u8
}
