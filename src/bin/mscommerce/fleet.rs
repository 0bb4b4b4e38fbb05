//! Many tenants in one run (`--tenants`, issue 11; docs/fleet.md §3): the
//! tenants are read and checked before any request, the library runs the
//! command once per tenant with that tenant's token, and the results are
//! printed per tenant (JSON) or flattened with a `TenantId` column first
//! (table, CSV), then a summary per tenant on stderr. One tenant's failure
//! never stops the others.

use super::args::{BulkArgs, FleetArgs, OutputFormat};
use super::bulk::{self, Ended, StepWords, Stop, EXIT_CANCELLED};
use super::interrupt::Interrupts;
use super::output::{self, say};
use super::progress::Progress;
use super::Outcome;
use mscommerce::auth::Flow;
use mscommerce::fleet::{FleetProgress, FleetRequest, Op};
use mscommerce::log::CallLog;
use mscommerce::{Error, Session};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Exit status when the run ended and at least one tenant failed (the
/// others were done; the output and the summary say which and why).
pub const EXIT_TENANTS_FAILED: u8 = 3;

/// The largest tenants file read (10000 GUIDs take about 370 kB).
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Names that end like a file, not like a domain: `--tenants customers.txt`
/// that does not exist is a missing file, not a tenant.
const FILE_ENDINGS: [&str; 10] = [
    ".txt", ".csv", ".tsv", ".lst", ".list", ".text", ".conf", ".cfg", ".ini", ".json",
];

/// `--tenants` and `--tenant-concurrency`, read and checked.
pub struct Tenants {
    pub list: Vec<String>,
    pub concurrency: Option<u8>,
}

impl Tenants {
    /// The tenants of `args`, or `None` without `--tenants`.
    pub fn from_args(args: &FleetArgs) -> mscommerce::Result<Option<Tenants>> {
        let Some(given) = &args.tenants else {
            return Ok(None);
        };
        Ok(Some(Tenants {
            list: parse(given)?,
            concurrency: args.tenant_concurrency,
        }))
    }

    /// `request` for every tenant: `tenants` and `tenantConcurrency` added.
    fn request(&self, mut request: Value) -> Value {
        request["tenants"] = json!(self.list);
        if let Some(c) = self.concurrency {
            request["tenantConcurrency"] = json!(c);
        }
        request
    }
}

fn is_tenant(t: &str) -> bool {
    mscommerce::auth::validate_tenant(t).is_ok()
}

/// The value of `--tenants`: a list with a comma; an existing file; a
/// single tenant id or domain; otherwise a file that cannot be read.
pub fn parse(given: &str) -> mscommerce::Result<Vec<String>> {
    let value = given.trim();
    if value.contains(',') {
        return from_list(value);
    }
    let path = Path::new(given);
    let file_like = FILE_ENDINGS
        .iter()
        .any(|e| value.to_ascii_lowercase().ends_with(e));
    if path.exists() || !is_tenant(value) || file_like {
        return from_file(path);
    }
    from_list(value)
}

/// The tenants of a list separated by commas (empty items are skipped).
fn from_list(value: &str) -> mscommerce::Result<Vec<String>> {
    let mut tenants: Vec<String> = Vec::new();
    for (i, item) in value.split(',').enumerate() {
        let t = item.trim();
        if t.is_empty() {
            continue;
        }
        if !is_tenant(t) {
            return Err(Error::invalid(format!(
                "--tenants: '{}' (item {}) is not a tenant id (a GUID) or a domain name",
                mscommerce::text::echo(t),
                i + 1
            )));
        }
        if !tenants.iter().any(|o| o.eq_ignore_ascii_case(t)) {
            tenants.push(t.to_string());
        }
    }
    if tenants.is_empty() {
        return Err(Error::invalid("--tenants names no tenant"));
    }
    check_count(tenants, "--tenants")
}

fn check_count(tenants: Vec<String>, what: &str) -> mscommerce::Result<Vec<String>> {
    let max = mscommerce::fleet::MAX_TENANTS;
    if tenants.len() > max {
        return Err(Error::invalid(format!(
            "{what} names {} tenants; at most {max} can be run at once",
            tenants.len()
        )));
    }
    Ok(tenants)
}

/// The tenants of a file: one tenant id or domain a line; `#` starts a
/// comment (a whole line or the end of one); blank lines are skipped; the
/// same tenant again is run once (with a warning).
fn from_file(path: &Path) -> mscommerce::Result<Vec<String>> {
    let name = super::baseline::shown(path);
    let text = super::baseline::read_text("--tenants", path, MAX_FILE_BYTES)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut tenants: Vec<(String, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        if !is_tenant(t) {
            let why = if t.contains([',', ';', ' ', '\t']) {
                "one tenant a line"
            } else {
                "a GUID or a domain name: letters, digits, '-' and '.'"
            };
            return Err(Error::invalid(format!(
                "--tenants {name} line {n}: '{}' is not a tenant id or domain ({why}; # starts a comment)",
                mscommerce::text::echo(t)
            )));
        }
        if let Some((_, first)) = tenants.iter().find(|(o, _)| o.eq_ignore_ascii_case(t)) {
            say(&format!(
                "mscommerce: warning: --tenants {name} line {n}: {t} is already on line {first}; it is run once"
            ));
            continue;
        }
        tenants.push((t.to_string(), n));
    }
    if tenants.is_empty() {
        return Err(Error::invalid(format!(
            "--tenants {name} names no tenant (one tenant id or domain a line; # starts a comment)"
        )));
    }
    check_count(
        tenants.into_iter().map(|(t, _)| t).collect(),
        &format!("--tenants {name}"),
    )
}

/// `--tenants` needs a sign-in that reaches other tenants.
pub fn check_sign_in(way: Flow) -> mscommerce::Result<()> {
    let flag = match way {
        Flow::AccessToken => "--access-token",
        Flow::ManagedIdentity => "--managed-identity",
        _ => return Ok(()),
    };
    Err(Error::invalid(format!(
        "--tenants needs a sign-in that reaches the customers' tenants: a multi-tenant app (--client-id with --client-secret or --certificate, --tenant-id the partner's tenant) or a partner admin (--username/--password, --device-code or --interactive); {flag} is for its own tenant only"
    )))
}

/// What runs for each tenant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `products list`: the listing.
    List,
    /// `products set`, `baseline apply`: a bulk change (a plan with what-if).
    Change { what_if: bool },
    /// `baseline test`: the drift.
    Drift,
}

impl Kind {
    /// The columns of a table or CSV: `TenantId`, then those of one
    /// tenant's output (and an Error column for a tenant that failed).
    fn columns(self) -> Vec<&'static str> {
        let one: &[&str] = match self {
            Kind::List => &[
                "PolicyValue",
                "ProductId",
                "PolicyId",
                "ProductName",
                "Error",
            ],
            Kind::Change { .. } => &bulk::RESULT_COLUMNS,
            Kind::Drift => &super::baseline::DRIFT_COLUMNS,
        };
        let mut cols = vec!["TenantId"];
        cols.extend(one);
        if !cols.contains(&"Error") {
            cols.push("Error");
        }
        cols
    }
}

/// One command run for many tenants.
pub struct Fleet<'a> {
    /// `products list`, `baseline apply`, …
    pub label: &'a str,
    pub kind: Kind,
    pub tenants: &'a Tenants,
}

const FLEET_WORDS: StepWords = StepWords {
    interrupted: "mscommerce: Ctrl+C: no further tenant starts; the tenants being changed finish their bulk run (Ctrl+C again to stop without waiting)",
    late: "mscommerce: the run has not finished in time; cancelling it (no further tenant starts)",
    stuck: "the run over the tenants did not finish, even cancelled; which tenants were changed is not known (run `baseline test --tenants` or `products list --tenants` to see the values)",
    lost: "The run over the tenants is in an unknown state ({step} failed; run `products list --tenants` to see the values)",
};

/// Progress shown from the counts of a fleet run (for a drift test, the
/// drifted tenants too: the same counts as the summary at the end).
fn show_tenants(progress: &mut Progress, label: &str, kind: Kind, p: &Value) {
    let n = |k: &str| p[k].as_u64().unwrap_or(0) as usize;
    let (done, total) = (n("TenantsDone"), n("Tenants"));
    progress.show(done, total, || {
        let drifted = match kind {
            Kind::Drift => format!(", {} drifted", n("Drifted")),
            _ => String::new(),
        };
        format!(
            "{label}: {done}/{total} tenants done ({} succeeded, {} failed{drifted})",
            n("Succeeded"),
            n("Failed")
        )
    });
}

impl Fleet<'_> {
    fn progress(&self) -> Progress {
        Progress::new(&format!("{}: tenants", self.label), true)
    }

    /// A read (`productPolicies`, `baselineDrift`) for every tenant. Ctrl+C:
    /// no further tenant starts, those being read finish, and the report
    /// is printed (the tenants not started Failed, Cancelled); exit 130.
    pub async fn get(
        &self,
        session: &Session,
        request: Value,
        format: OutputFormat,
    ) -> Outcome<u8> {
        let request = self.tenants.request(request).to_string();
        let fleet = FleetRequest::parse(&request)?
            .ok_or_else(|| Error::internal("internal error (a bug): no tenants in the request"))?;
        let log = CallLog::new();
        let cancel = AtomicBool::new(false);
        let progress = Mutex::new(self.progress());
        let (label, kind) = (self.label, self.kind);
        let on_progress = |p: &FleetProgress| {
            if let (Ok(mut shown), Ok(p)) = (progress.lock(), serde_json::to_value(p)) {
                show_tenants(&mut shown, label, kind, &p);
            }
        };
        let note = |line: &str| match progress.lock() {
            Ok(p) => p.note(line),
            Err(_) => say(line),
        };
        on_progress(&FleetProgress {
            tenants: fleet.tenants.len(),
            ..Default::default()
        });
        let run = mscommerce::fleet::run(session, Op::Get, &fleet, &log, &cancel, &on_progress);
        tokio::pin!(run);
        let mut interrupts = Interrupts::new();
        let mut stop = Stop::Ended;
        let results = loop {
            tokio::select! {
                results = &mut run => break results,
                _ = interrupts.next() => {
                    if matches!(stop, Stop::Cancelled) {
                        note("mscommerce: interrupted again: stopped without waiting (nothing was written)");
                        return Ok(EXIT_CANCELLED);
                    }
                    note("mscommerce: Ctrl+C: no further tenant starts; waiting for those being read (Ctrl+C again to stop at once)");
                    cancel.store(true, Ordering::SeqCst);
                    stop = Stop::Cancelled;
                }
            }
        };
        if let Ok(p) = progress.lock() {
            p.finish();
        }
        let results = serde_json::to_value(&results)
            .map_err(|e| Error::internal(format!("the results cannot be shown: {e}")))?;
        Ok(self.report(
            results.as_array().map_or(&[][..], Vec::as_slice),
            stop,
            format,
        ))
    }

    /// A bulk change or baseline apply for every tenant, through the
    /// library's steps (progress per tenant; Ctrl+C: no further tenant
    /// starts, those running finish, the report is printed; exit 130).
    pub async fn update(
        &self,
        session: &Session,
        request: Value,
        how: &BulkArgs,
        format: OutputFormat,
    ) -> Outcome<u8> {
        let mut request = self.tenants.request(request);
        bulk::add_bulk_args(&mut request, how);
        let log = CallLog::new();
        let mut progress = self.progress();
        let (label, kind) = (self.label, self.kind);
        let show = |p: &mut Progress, v: &Value| show_tenants(p, label, kind, v);
        let ran = bulk::steps(session, request, &log, &mut progress, &FLEET_WORDS, &show).await;
        progress.finish();
        let (last, stop) = match ran? {
            Ended::Ran(last, stop) => (last, stop),
            Ended::BeforeStart => {
                say(
                    "mscommerce: cancelled (Ctrl+C) before any tenant started; nothing was written",
                );
                return Ok(EXIT_CANCELLED);
            }
            Ended::Abandoned => {
                say("mscommerce: interrupted again: stopped without waiting for the tenants being changed, so which products were written is not known; run `baseline test --tenants` or `products list --tenants` to see the values");
                return Ok(EXIT_CANCELLED);
            }
        };
        let results = last["Results"].as_array().cloned().unwrap_or_default();
        Ok(self.report(&results, stop, format))
    }

    /// Print the results, the summary per tenant on stderr; the exit status.
    fn report(&self, results: &[Value], stop: Stop, format: OutputFormat) -> u8 {
        print(results, self.kind, format);
        for r in results {
            say(&format!("{}: {}", self.label, tenant_line(r, self.kind)));
        }
        let count = |s: &str| results.iter().filter(|r| r["Status"] == s).count();
        let (failed, drifted) = (count("Failed"), count("Drifted"));
        let mut reasons: Vec<(String, usize)> = Vec::new();
        for r in results.iter().filter(|r| r["Status"] == "Failed") {
            let reason = r["Reason"].as_str().unwrap_or("Failed").to_string();
            match reasons.iter_mut().find(|(o, _)| *o == reason) {
                Some((_, n)) => *n += 1,
                None => reasons.push((reason, 1)),
            }
        }
        let mut total = format!(
            "{}: {} tenants, {} succeeded, {failed} failed",
            self.label,
            results.len(),
            count("Succeeded")
        );
        if self.kind == Kind::Drift {
            total.push_str(&format!(", {drifted} drifted"));
        }
        if !reasons.is_empty() {
            let list: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            total.push_str(&format!(" ({})", list.join(", ")));
        }
        if let Kind::Change { what_if: true } = self.kind {
            total.push_str("; what if: nothing was changed");
        }
        say(&total);
        if let Stop::Cancelled = stop {
            say(&format!(
                "mscommerce: cancelled: {} tenants were not started (Failed, Cancelled); the report says what became of the others",
                count_reason(results, "Cancelled")
            ));
            return EXIT_CANCELLED;
        }
        if failed > 0 {
            EXIT_TENANTS_FAILED
        } else if drifted > 0 {
            super::baseline::EXIT_DRIFT
        } else {
            0
        }
    }
}

fn count_reason(results: &[Value], reason: &str) -> usize {
    results.iter().filter(|r| r["Reason"] == reason).count()
}

/// JSON: the per-tenant objects as the library answers them. Table, CSV:
/// one row per product (or drift) with its tenant first; a tenant that
/// failed as a whole is one row with its error.
fn print(results: &[Value], kind: Kind, format: OutputFormat) {
    if format == OutputFormat::Json {
        output::print(&Value::Array(results.to_vec()), format);
        return;
    }
    let mut rows: Vec<Value> = Vec::new();
    for r in results {
        let tenant = r["TenantId"].clone();
        match r["Value"].as_array() {
            Some(items) => {
                for item in items {
                    let mut row = Map::new();
                    row.insert("TenantId".into(), tenant.clone());
                    if let Some(o) = item.as_object() {
                        for (k, v) in o {
                            row.insert(k.clone(), v.clone());
                        }
                    }
                    row.insert("Error".into(), item["Error"]["message"].clone());
                    rows.push(Value::Object(row));
                }
            }
            None => {
                let mut row = Map::new();
                row.insert("TenantId".into(), tenant);
                if let Kind::Change { .. } = kind {
                    row.insert("Status".into(), r["Status"].clone());
                }
                // A table is read with the summary below it, which has the
                // whole message; CSV carries it.
                let error = match format {
                    OutputFormat::Table => json!(format!(
                        "{} (see the summary)",
                        r["Reason"].as_str().unwrap_or("Failed")
                    )),
                    _ => r["Error"]["message"].clone(),
                };
                row.insert("Error".into(), error);
                rows.push(Value::Object(row));
            }
        }
    }
    output::print_columns(&Value::Array(rows), format, &kind.columns());
}

/// The summary line of one tenant: status, reason, counts (or its error).
fn tenant_line(r: &Value, kind: Kind) -> String {
    let tenant = r["TenantId"].as_str().unwrap_or("?");
    let status = r["Status"].as_str().unwrap_or("?");
    let mut line = format!("tenant {tenant}: {status}");
    if let Some(reason) = r["Reason"].as_str() {
        line.push_str(&format!(" ({reason})"));
    }
    let Some(items) = r["Value"].as_array() else {
        let message = r["Error"]["message"].as_str().unwrap_or("no result");
        line.push_str(&format!("; {message}"));
        return line;
    };
    let count = |s: &str| items.iter().filter(|i| i["Status"] == s).count();
    let counts = match kind {
        Kind::List => format!("{} products", items.len()),
        Kind::Drift if items.is_empty() => "no drift".to_string(),
        Kind::Drift => format!("{} products drifted", items.len()),
        Kind::Change { what_if: true } => format!(
            "{} products, {} would change, {} unchanged, {} failed",
            items.len(),
            count("WouldUpdate"),
            count("Unchanged"),
            count("Failed")
        ),
        Kind::Change { what_if: false } => format!(
            "{} products, {} updated, {} unchanged, {} failed",
            items.len(),
            count("Updated"),
            count("Unchanged"),
            count("Failed")
        ),
    };
    line.push_str(&format!("; {counts}"));
    if let Some(first) = items.iter().find(|i| i["Status"] == "Failed") {
        let id = first["ProductId"].as_str().unwrap_or("?");
        let message = first["Error"]["message"].as_str().unwrap_or("failed");
        line.push_str(&format!("; the first failed: {id}: {message}"));
    }
    line
}

/// A baseline file used for many tenants must not name one: the library
/// refuses it for every other tenant. Checked before signing in.
pub fn check_template(text: &str, file: &str, tenants: &Tenants) -> mscommerce::Result<()> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Ok(()); // the library says what is wrong with it
    };
    let Some(named) = v["TenantId"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(());
    };
    if tenants.list.iter().all(|t| t.eq_ignore_ascii_case(named)) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "--file {file} is the baseline of tenant {} (its TenantId); to use it for the tenants of --tenants, set its TenantId to null (or remove it): it is then a template for every tenant",
        mscommerce::text::echo(named)
    )))
}
