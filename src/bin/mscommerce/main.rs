//! `mscommerce`: the command line of cli.md over the same core as the
//! native library, plus the embedded emulator and the demo.

mod args;
mod baseline;
mod bulk;
mod demo;
mod emulator_cmd;
mod fleet;
mod interrupt;
mod messages;
mod output;
mod progress;
mod signin;

use args::{BaselineCommand, Cli, Command, OutputFormat, PoliciesCommand, ProductsCommand};
use messages::{Failure, Stage};
use mscommerce::log::CallLog;
use mscommerce::{Error, ErrorKind, Session};
use output::say;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::process::ExitCode;

type Outcome<T> = std::result::Result<T, Failure>;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match args::parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = run(&cli).await;
    let unwritten = output::write_error();
    match result {
        Ok(code) => match unwritten {
            None => ExitCode::from(code),
            Some(e) => {
                let changed = match &cli.command {
                    Command::Products(ProductsCommand::Set { bulk, .. }) => !bulk.what_if,
                    Command::Baseline(b) => baseline::changes(b),
                    _ => false,
                };
                let done = if changed {
                    "the change was made, but "
                } else {
                    ""
                };
                say(&format!(
                    "mscommerce: {done}the output cannot be written: {e}"
                ));
                ExitCode::from(exit_code(ErrorKind::Internal))
            }
        },
        Err(f) => {
            say(&format!("mscommerce: {}", f.line(&cli.global)));
            if let Some(e) = unwritten {
                say(&format!("mscommerce: the output cannot be written: {e}"));
            }
            ExitCode::from(f.exit_code())
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

/// Run the command; the exit status when it is not a failure's.
async fn run(cli: &Cli) -> Outcome<u8> {
    let g = &cli.global;
    let format = output_format(g);
    match &cli.command {
        Command::Emulator(a) => return Ok(emulator_cmd::run(a).await.map(|()| 0)?),
        Command::Demo => return Ok(demo::run(format).await.map(|()| 0)?),
        _ => {}
    }
    // Ids are checked before anything is sent, and named by their flag.
    match &cli.command {
        Command::Policies(PoliciesCommand::Get(p)) => check_id("--policy-id", &p.policy_id)?,
        Command::Products(ProductsCommand::List { policy, .. }) => {
            check_id("--policy-id", &policy.policy_id)?
        }
        Command::Products(ProductsCommand::Get { policy, product_id }) => {
            check_id("--policy-id", &policy.policy_id)?;
            check_id("--product-id", product_id)?;
        }
        Command::Products(ProductsCommand::Set {
            policy,
            product_id,
            except,
            ..
        }) => {
            check_id("--policy-id", &policy.policy_id)?;
            for id in product_id {
                check_id("--product-id", id)?;
            }
            for id in except {
                check_id("--except", id)?;
            }
        }
        Command::Baseline(BaselineCommand::Export { policy, .. }) => {
            check_id("--policy-id", &policy.policy_id)?
        }
        _ => {}
    }
    // The tenants of --tenants are read and checked before anything is sent.
    let tenants = match fleet_args(&cli.command) {
        Some(a) => fleet::Tenants::from_args(a)?,
        None => None,
    };
    // A baseline file is read (and an export's file checked) before signing in.
    let prepared = match &cli.command {
        Command::Baseline(b) => Some(baseline::prepare(b, tenants.as_ref())?),
        _ => None,
    };
    if tenants.is_some() {
        if let Ok(way) = signin::chosen_way(g) {
            fleet::check_sign_in(way)?;
        }
    }
    let session = Session::new(&session_options(g).to_string())?;
    let log = CallLog::new();
    let connected = signin::connect(&session, g, &log).await;
    log.take();
    let info = connected?;
    let call = Failure::at(Stage::Call);
    let value = match &cli.command {
        Command::Login => info,
        Command::Policies(PoliciesCommand::List) => session
            .get(&json!({"resource": "policies"}).to_string(), &log)
            .await
            .map_err(call)?,
        Command::Policies(PoliciesCommand::Get(p)) => session
            .get(
                &json!({"resource": "policy", "policyId": p.policy_id}).to_string(),
                &log,
            )
            .await
            .map_err(call)?,
        Command::Products(ProductsCommand::List { policy, scope, .. }) => {
            let mut r = json!({"resource": "productPolicies", "policyId": policy.policy_id});
            if let Some(s) = scope {
                r["scope"] = json!(s);
            }
            if let Some(tenants) = &tenants {
                let run = fleet::Fleet {
                    label: "products list",
                    kind: fleet::Kind::List,
                    tenants,
                };
                return run.get(&session, r, format).await;
            }
            session.get(&r.to_string(), &log).await.map_err(call)?
        }
        Command::Products(ProductsCommand::Get { policy, product_id }) => session
            .get(
                &json!({"resource": "productPolicy", "policyId": policy.policy_id, "productId": product_id})
                    .to_string(),
                &log,
            )
            .await
            .map_err(call)?,
        Command::Products(ProductsCommand::Set {
            policy,
            product_id,
            all,
            except,
            value,
            enabled,
            bulk,
            ..
        }) => {
            let plan = SetPlan::new(&policy.policy_id, product_id, value, enabled)?;
            if let Some(tenants) = &tenants {
                return plan.fleet(&session, *all, except, bulk, tenants, format).await;
            }
            if *all || product_id.len() > 1 {
                return plan.bulk(&session, *all, except, bulk, g, format).await;
            }
            if bulk.what_if {
                return plan.what_if(&session, &log).await.map(|()| 0);
            }
            plan.run(&session, &log).await?
        }
        Command::Baseline(b) => {
            let prepared = prepared.ok_or_else(|| {
                Error::internal("internal error (a bug): the baseline command was not prepared")
            })?;
            return baseline::run(b, prepared, &session, g, format, tenants.as_ref()).await;
        }
        Command::Emulator(_) | Command::Demo => {
            return Err(Error::internal("internal error (a bug): handled above").into())
        }
    };
    output::print(&value, format);
    Ok(0)
}

/// The `--tenants` options of a command that has them.
fn fleet_args(command: &Command) -> Option<&args::FleetArgs> {
    match command {
        Command::Products(ProductsCommand::List { fleet, .. })
        | Command::Products(ProductsCommand::Set { fleet, .. })
        | Command::Baseline(BaselineCommand::Test { fleet, .. })
        | Command::Baseline(BaselineCommand::Apply { fleet, .. }) => Some(fleet),
        _ => None,
    }
}

/// An id that becomes a URL path segment, checked as the library does and
/// named by its flag.
fn check_id(flag: &str, id: &str) -> mscommerce::Result<()> {
    mscommerce::ids::validate_id(flag, id)
}

/// `products set`: every id and the value are checked before anything is
/// sent; with several ids, one listing of the policy's products shows that
/// each exists, and if one does not, nothing is changed. Then one update per
/// product, with progress on stderr when there are several. A failed update
/// does not stop the others; the command then exits with the first
/// failure's code, after printing what did change.
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
        enabled: &Option<bool>,
    ) -> mscommerce::Result<Self> {
        let enabled = enabled.map(Value::Bool);
        let value = mscommerce::model::requested_value(value.as_deref(), enabled.as_ref())?;
        Ok(SetPlan {
            policy_id,
            product_ids,
            value,
        })
    }

    /// With several ids: one listing of the policy's products, and a
    /// NotFound naming every id it does not hold.
    async fn check_exist(&self, session: &Session, log: &CallLog) -> Outcome<()> {
        if self.product_ids.len() < 2 {
            return Ok(());
        }
        let request = json!({"resource": "productPolicies", "policyId": self.policy_id});
        let listing =
            session.get(&request.to_string(), log).await.map_err(|e| {
                Failure::at(Stage::Call)(e.context(
                    "Cannot check the products before changing them (no product was changed)",
                ))
            })?;
        log.take();
        let known: Vec<&str> = listing
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["ProductId"].as_str())
            .collect();
        let unknown: Vec<&str> = self
            .product_ids
            .iter()
            .map(String::as_str)
            .filter(|id| !known.iter().any(|k| k.eq_ignore_ascii_case(id)))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Failure::at(Stage::Options)(Error::new(
            ErrorKind::NotFound,
            format!(
                "{} {} not among the products of policy '{}'; no product was changed",
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                self.policy_id
            ),
        )))
    }

    /// `--what-if`: read each product and say what would change, on stderr;
    /// nothing is changed and nothing goes to stdout (as -WhatIf).
    async fn what_if(&self, session: &Session, log: &CallLog) -> Outcome<()> {
        for id in self.product_ids {
            let request =
                json!({"resource": "productPolicy", "policyId": self.policy_id, "productId": id});
            let current = session
                .get(&request.to_string(), log)
                .await
                .map_err(Failure::at(Stage::Call))?;
            log.take();
            let now = current["PolicyValue"].as_str().unwrap_or("?");
            let name = current["ProductName"].as_str().unwrap_or("?");
            if now == self.value {
                say(&format!(
                    "What if: {id} ({name}) is already {now}; nothing to change"
                ));
            } else {
                say(&format!(
                    "What if: setting policy '{}' of {id} ({name}) from {now} to {}",
                    self.policy_id, self.value
                ));
            }
        }
        Ok(())
    }

    /// One product: today's single update and its output.
    async fn run(&self, session: &Session, log: &CallLog) -> Outcome<Value> {
        let id = self.product_ids.first().map(String::as_str).unwrap_or("");
        let request = json!({"policyId": self.policy_id, "productId": id, "value": self.value});
        let result = session.update(&request.to_string(), log).await;
        log.take();
        result.map_err(Failure::at(Stage::Call))
    }

    /// The request of a bulk change: the ids, or all products but some.
    fn bulk_request(&self, all: bool, except: &[String]) -> Value {
        let mut request = json!({"policyId": self.policy_id, "value": self.value});
        if all {
            request["allProducts"] = json!(true);
            if !except.is_empty() {
                request["exceptProductIds"] = json!(except);
            }
        } else {
            request["productIds"] = json!(self.product_ids);
        }
        request
    }

    /// `--tenants`: the bulk change in every tenant (one id too). Ids a
    /// tenant does not have are Failed (NotFound) in that tenant's results.
    async fn fleet(
        &self,
        session: &Session,
        all: bool,
        except: &[String],
        how: &args::BulkArgs,
        tenants: &fleet::Tenants,
        format: OutputFormat,
    ) -> Outcome<u8> {
        let request = self.bulk_request(all, except);
        let run = fleet::Fleet {
            label: "products set",
            kind: fleet::Kind::Change {
                what_if: how.what_if,
            },
            tenants,
        };
        run.update(session, request, how, format).await
    }

    /// Several products, or all of them: one bulk run (see [`bulk`]).
    async fn bulk(
        &self,
        session: &Session,
        all: bool,
        except: &[String],
        how: &args::BulkArgs,
        g: &args::Global,
        format: OutputFormat,
    ) -> Outcome<u8> {
        if !all {
            self.check_exist(session, &CallLog::new()).await?;
        }
        let request = self.bulk_request(all, except);
        let run = bulk::Run {
            label: "products set",
            args: how,
        };
        run.go(session, request, g, format).await
    }
}

/// Exit code of an error kind.
pub fn exit_code(kind: ErrorKind) -> u8 {
    (10 + kind.code()) as u8
}
