//! Bulk changes (`products set` with several products or `--all`,
//! `baseline apply`): run through the library's steps (start, poll,
//! cancel; docs/bulk-and-baselines.md §1) so that progress can be shown
//! and Ctrl+C can stop the run cleanly, then print every product's outcome.

use super::args::{BulkArgs, Global, OutputFormat};
use super::interrupt::Interrupts;
use super::messages::{self, Failure, Stage};
use super::output::{self, say};
use super::progress::Progress;
use super::Outcome;
use mscommerce::log::CallLog;
use mscommerce::{Error, ErrorKind, Session};
use serde_json::{json, Value};
use std::time::Instant;

/// Exit status after Ctrl+C (128 + SIGINT, as shells report it).
pub const EXIT_CANCELLED: u8 = 130;

/// The columns of the per-product results in a table or CSV.
pub const RESULT_COLUMNS: [&str; 6] = [
    "ProductId",
    "ProductName",
    "PreviousValue",
    "PolicyValue",
    "Status",
    "Error",
];

/// What a run is, for the messages (`products set`, `baseline apply`).
pub struct Run<'a> {
    pub label: &'a str,
    pub args: &'a BulkArgs,
}

/// A bulk run's progress object (`Done`, `Total`, `Updated`, …) shown.
fn show_bulk(progress: &mut Progress, label: &str, p: &Value) {
    let n = |k: &str| p[k].as_u64().unwrap_or(0) as usize;
    let (done, total) = (n("Done"), n("Total"));
    progress.show(done, total, || {
        format!(
            "{label}: {done}/{total} done ({} updated, {} unchanged, {} failed)",
            n("Updated"),
            n("Unchanged"),
            n("Failed")
        )
    });
}

/// The error object of a failed product's result, as the library's error.
pub fn error_from_json(e: &Value) -> Error {
    let text = |k: &str| e[k].as_str().map(str::to_string);
    let kind = match e["code"].as_str().unwrap_or_default() {
        "InvalidArgument" => ErrorKind::InvalidArgument,
        "NotConnected" => ErrorKind::NotConnected,
        "Authentication" => ErrorKind::Authentication,
        "Forbidden" => ErrorKind::Forbidden,
        "NotFound" => ErrorKind::NotFound,
        "Throttled" => ErrorKind::Throttled,
        "Service" => ErrorKind::Service,
        "Network" => ErrorKind::Network,
        "Timeout" => ErrorKind::Timeout,
        "Pending" => ErrorKind::Pending,
        _ => ErrorKind::Internal,
    };
    let mut err = Error::new(kind, text("message").unwrap_or_default())
        .with_service_message(text("serviceMessage"));
    if let Some(s) = e["httpStatus"].as_u64().and_then(|s| u16::try_from(s).ok()) {
        err = err.with_status(s);
    }
    if let Some(c) = text("correlationId") {
        err = err.with_correlation_id(c);
    }
    err.retry_after_seconds = e["retryAfterSeconds"].as_u64();
    err
}

/// `--concurrency` and `--what-if` into a bulk request.
pub fn add_bulk_args(request: &mut Value, how: &BulkArgs) {
    if let Some(c) = how.concurrency {
        request["concurrency"] = json!(c);
    }
    if how.what_if {
        request["whatIf"] = json!(true);
    }
}

/// How the steps ended.
pub enum Ended {
    /// The run's last answer (with the results).
    Ran(Value, Stop),
    /// Ctrl+C before the start step answered: nothing was written.
    BeforeStart,
    /// Ctrl+C twice: not waited for; the state is not known.
    Abandoned,
}

/// How the run ended, from the user's side.
pub enum Stop {
    /// Ran to its end (or to the library's time cap).
    Ended,
    /// Ctrl+C: cancelled, then verified.
    Cancelled,
}

/// The words of a run driven by [`steps`] (a bulk change, a fleet run).
pub struct StepWords {
    /// Said at the first Ctrl+C.
    pub interrupted: &'static str,
    /// Said when the run has not finished within its bound.
    pub late: &'static str,
    /// The error when it has not finished even cancelled.
    pub stuck: &'static str,
    /// What to say before a poll or cancel that failed (`{step}` is
    /// replaced by the step).
    pub lost: &'static str,
}

const BULK_WORDS: StepWords = StepWords {
    interrupted: "mscommerce: Ctrl+C: no further write starts; waiting for those in flight and verifying (Ctrl+C again to stop without waiting)",
    late: "mscommerce: the bulk run has not finished in time; cancelling it",
    stuck: "the bulk run did not finish, even cancelled; which products were written is not known (run `products list` to see the values)",
    lost: "The bulk run's state is not known ({step} failed; run `products list` to see the values)",
};

/// Run `request` (an update without `step`) through the library's steps:
/// start, then poll to the end, each answer given to `show`; Ctrl+C sends
/// cancel (a second one gives up waiting, saying so).
pub async fn steps(
    session: &Session,
    mut request: Value,
    log: &CallLog,
    progress: &mut Progress,
    words: &StepWords,
    show: &dyn Fn(&mut Progress, &Value),
) -> Outcome<Ended> {
    // The library ends a run within its own bound (the request's, without
    // steps); this one, a request timeout more, only guards against a run
    // that never says it has finished.
    let limit = session.update_limit(&request.to_string()) + session.timeout();
    request["step"] = json!("start");
    // Ctrl+C is caught from here on. Stopped during the start step,
    // nothing was written: the writes begin once it has answered.
    let mut interrupts = Interrupts::new();
    let start = request.to_string();
    let mut now = tokio::select! {
        answer = session.update(&start, log) => answer.map_err(Failure::at(Stage::Call))?,
        _ = interrupts.next() => return Ok(Ended::BeforeStart),
    };
    for line in log.take() {
        if let Some(rest) = line.strip_prefix("exceptProductIds:") {
            progress.note(&format!("mscommerce: warning: --except{rest}"));
        }
    }
    show(progress, &now);
    let started = Instant::now();
    let mut stop = Stop::Ended;
    let mut cancel_sent = false;
    while now["Finished"] != true {
        if matches!(stop, Stop::Ended) && started.elapsed() > limit {
            progress.note(words.late);
            stop = Stop::Cancelled;
        }
        if started.elapsed() > limit + session.timeout() * 2 {
            return Err(Failure::at(Stage::Call)(Error::new(
                ErrorKind::Timeout,
                words.stuck,
            )));
        }
        let step = if matches!(stop, Stop::Cancelled) && !cancel_sent {
            cancel_sent = true;
            "cancel"
        } else {
            "poll"
        };
        let step_request = json!({ "step": step }).to_string();
        tokio::select! {
            answer = session.update(&step_request, log) => {
                log.take();
                now = answer.map_err(|e| {
                    Failure::at(Stage::Call)(e.context(&words.lost.replace("{step}", step)))
                })?;
                show(progress, &now);
            }
            _ = interrupts.next() => {
                if matches!(stop, Stop::Cancelled) {
                    return Ok(Ended::Abandoned);
                }
                progress.note(words.interrupted);
                stop = Stop::Cancelled;
            }
        }
    }
    Ok(Ended::Ran(now, stop))
}

impl Run<'_> {
    /// Run `request` (a bulk update or baseline apply, without `step`) and
    /// print the per-product results; the exit status.
    pub async fn go(
        &self,
        session: &Session,
        mut request: Value,
        g: &Global,
        format: OutputFormat,
    ) -> Outcome<u8> {
        add_bulk_args(&mut request, self.args);
        let log = CallLog::new();
        // A what-if writes nothing: its plan comes at once, without progress.
        let mut progress = Progress::new(self.label, !self.args.what_if);
        let label = self.label;
        let show = |p: &mut Progress, v: &Value| show_bulk(p, label, v);
        let ran = steps(session, request, &log, &mut progress, &BULK_WORDS, &show).await;
        progress.finish();
        let (last, stop) = match ran? {
            Ended::Ran(last, stop) => (last, stop),
            Ended::BeforeStart => {
                say("mscommerce: cancelled (Ctrl+C) before any product was written");
                return Ok(EXIT_CANCELLED);
            }
            Ended::Abandoned => {
                say("mscommerce: interrupted again: stopped without waiting for the writes in flight, so which products were written is not known; run `products list` (or `baseline test`) to see the values");
                return Ok(EXIT_CANCELLED);
            }
        };
        let results: Vec<Value> = last["Results"].as_array().cloned().unwrap_or_default();
        print_results(&results, format);
        Ok(self.verdict(&results, stop, g))
    }

    /// The summary on stderr, and the exit status.
    fn verdict(&self, results: &[Value], stop: Stop, g: &Global) -> u8 {
        let count = |s: &str| results.iter().filter(|r| r["Status"] == s).count();
        let failed: Vec<&Value> = results.iter().filter(|r| r["Status"] == "Failed").collect();
        let total = results.len();
        if self.args.what_if {
            say(&format!(
                "What if: {} of {total} products would change, {} unchanged, {} failed; nothing was changed",
                count("WouldUpdate"),
                count("Unchanged"),
                failed.len()
            ));
        } else {
            say(&format!(
                "{}: {total} products, {} updated, {} unchanged, {} failed",
                self.label,
                count("Updated"),
                count("Unchanged"),
                failed.len()
            ));
        }
        if let Stop::Cancelled = stop {
            let cancelled = failed
                .iter()
                .filter(|r| {
                    r["Error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.ends_with("cancelled"))
                })
                .count();
            say(&format!(
                "mscommerce: cancelled: {cancelled} products were not written (Failed \"cancelled\"); the report lists what became of each product, as the verification listing shows it"
            ));
            return EXIT_CANCELLED;
        }
        let Some(first) = failed.first() else {
            return 0;
        };
        let mut e = error_from_json(&first["Error"]);
        e.message = format!(
            "{} of {total} products failed; the first: {}",
            failed.len(),
            e.message
        );
        let f = Failure {
            error: e,
            stage: Stage::Call,
        };
        say(&format!(
            "mscommerce: {}",
            messages::line(&f.error, g, f.stage)
        ));
        f.exit_code()
    }
}

/// The per-product results: JSON as the library answers them; a table or
/// CSV with the error's message in the Error column.
pub fn print_results(results: &[Value], format: OutputFormat) {
    if format == OutputFormat::Json {
        output::print(&Value::Array(results.to_vec()), format);
        return;
    }
    let rows: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut row = r.clone();
            row["Error"] = r["Error"]["message"].clone();
            row
        })
        .collect();
    output::print_columns(&Value::Array(rows), format, &RESULT_COLUMNS);
}
