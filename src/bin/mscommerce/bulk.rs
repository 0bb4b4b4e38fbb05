//! Bulk changes (`products set` with several products or `--all`,
//! `baseline apply`): run through the library's steps (start, poll,
//! cancel; docs/bulk-and-baselines.md §1) so that progress can be shown
//! and Ctrl+C can stop the run cleanly, then print every product's outcome.

use super::args::{BulkArgs, Global, OutputFormat};
use super::messages::{self, Failure, Stage};
use super::output::{self, say};
use super::Outcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mscommerce::log::CallLog;
use mscommerce::{Error, ErrorKind, Session};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Exit status after Ctrl+C (128 + SIGINT, as shells report it).
pub const EXIT_CANCELLED: u8 = 130;

/// The columns of the per-product results in a table or CSV.
const RESULT_COLUMNS: [&str; 6] = [
    "ProductId",
    "ProductName",
    "PreviousValue",
    "PolicyValue",
    "Status",
    "Error",
];

/// Plain progress lines: at most one per this much of the run (in tenths)…
const LINE_TENTHS: usize = 1;
/// …or after this long without one.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// What a run is, for the messages (`products set`, `baseline apply`).
pub struct Run<'a> {
    pub label: &'a str,
    pub args: &'a BulkArgs,
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
struct Progress {
    label: String,
    /// Whether progress is shown at all.
    shown: bool,
    terminal: bool,
    /// The bar, from the first progress on (a terminal only).
    bar: Option<ProgressBar>,
    /// Plain lines: the tenths of the run last reported, and when.
    tenths: usize,
    said_at: Instant,
    said_done: Option<usize>,
}

impl Progress {
    fn new(label: &str, shown: bool) -> Self {
        Progress {
            label: label.to_string(),
            shown,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            tenths: 0,
            said_at: Instant::now(),
            said_done: None,
        }
    }

    /// Show a progress object (`Done`, `Total`, `Updated`, …).
    fn show(&mut self, p: &Value) {
        let n = |k: &str| p[k].as_u64().unwrap_or(0) as usize;
        let (done, total) = (n("Done"), n("Total"));
        if !self.shown {
            return;
        }
        if self.terminal {
            let bar = self.bar.get_or_insert_with(|| {
                let bar =
                    ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
                if let Ok(style) =
                    ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(self.label.clone());
                bar
            });
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            return;
        }
        let tenths = (done * 10).checked_div(total).unwrap_or(10);
        let first = self.said_done.is_none();
        let moved = self.said_done != Some(done);
        let due = tenths >= self.tenths + LINE_TENTHS || self.said_at.elapsed() >= LINE_EVERY;
        if first || (moved && due) {
            say(&format!(
                "{}: {done}/{total} done ({} updated, {} unchanged, {} failed)",
                self.label,
                n("Updated"),
                n("Unchanged"),
                n("Failed")
            ));
            self.tenths = tenths;
            self.said_at = Instant::now();
            self.said_done = Some(done);
        }
    }

    /// A line for people, above the bar when there is one.
    fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| say(line)),
            None => say(line),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
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

/// How the steps ended.
enum Ended {
    /// The run's last answer (with the results).
    Ran(Value, Stop),
    /// Ctrl+C before the start step answered: nothing was written.
    BeforeStart,
    /// Ctrl+C twice: not waited for; the state is not known.
    Abandoned,
}

/// How the run ended, from the user's side.
enum Stop {
    /// Ran to its end (or to the library's time cap).
    Ended,
    /// Ctrl+C: cancelled, then verified.
    Cancelled,
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
        if let Some(c) = self.args.concurrency {
            request["concurrency"] = json!(c);
        }
        if self.args.what_if {
            request["whatIf"] = json!(true);
        }
        let log = CallLog::new();
        // A what-if writes nothing: its plan comes at once, without progress.
        let mut progress = Progress::new(self.label, !self.args.what_if);
        let ran = self.steps(session, request, &log, &mut progress).await;
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

    /// start, then poll to the end; Ctrl+C sends cancel (a second one
    /// gives up waiting, saying so).
    async fn steps(
        &self,
        session: &Session,
        mut request: Value,
        log: &CallLog,
        progress: &mut Progress,
    ) -> Outcome<Ended> {
        request["step"] = json!("start");
        // Ctrl+C is caught from here on (the handler is installed when this
        // is first polled, with the start step). Stopped during the start
        // step, nothing was written: the writes begin once it has answered.
        let mut interrupt = Box::pin(tokio::signal::ctrl_c());
        let start = request.to_string();
        let mut now = tokio::select! {
            answer = session.update(&start, log) => answer.map_err(Failure::at(Stage::Call))?,
            _ = &mut interrupt => return Ok(Ended::BeforeStart),
        };
        for line in log.take() {
            if let Some(rest) = line.strip_prefix("exceptProductIds:") {
                progress.note(&format!("mscommerce: warning: --except{rest}"));
            }
        }
        progress.show(&now);
        // The library ends a run within its cap and a few request
        // timeouts; this bound only guards against a run that never says
        // it has finished.
        let limit = mscommerce::bulk::DEFAULT_BULK_TIMEOUT + session.timeout() * 4;
        let started = Instant::now();
        let mut stop = Stop::Ended;
        let mut cancel_sent = false;
        while now["Finished"] != true {
            if matches!(stop, Stop::Ended) && started.elapsed() > limit {
                progress.note("mscommerce: the bulk run has not finished in time; cancelling it");
                stop = Stop::Cancelled;
            }
            if started.elapsed() > limit + session.timeout() * 2 {
                return Err(Failure::at(Stage::Call)(Error::new(
                    ErrorKind::Timeout,
                    "the bulk run did not finish, even cancelled; which products were written is not known (run `products list` to see the values)",
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
                        Failure::at(Stage::Call)(e.context(&format!(
                            "The bulk run's state is not known ({step} failed; run `products list` to see the values)"
                        )))
                    })?;
                    progress.show(&now);
                }
                _ = &mut interrupt => {
                    if matches!(stop, Stop::Cancelled) {
                        return Ok(Ended::Abandoned);
                    }
                    progress.note("mscommerce: Ctrl+C: no further write starts; waiting for those in flight and verifying (Ctrl+C again to stop without waiting)");
                    stop = Stop::Cancelled;
                    interrupt = Box::pin(tokio::signal::ctrl_c());
                }
            }
        }
        Ok(Ended::Ran(now, stop))
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
