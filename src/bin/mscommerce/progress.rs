//! Progress of a long run on stderr (a bulk change's products, a fleet's
//! tenants): a bar when stderr is a terminal, otherwise a plain line at the
//! start, at each further tenth of the run or after 5 s, and at the end.

use super::output::say;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Plain progress lines: at most one per this much of the run (in tenths)…
const LINE_TENTHS: usize = 1;
/// …or after this long without one.
const LINE_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    /// The bar's message (`products set`, `baseline apply: tenants`).
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
    pub fn new(label: &str, shown: bool) -> Self {
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

    /// `done` of `total`; `line` is the plain line to say when one is due.
    pub fn show(&mut self, done: usize, total: usize, line: impl FnOnce() -> String) {
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
            say(&line());
            self.tenths = tenths;
            self.said_at = Instant::now();
            self.said_done = Some(done);
        }
    }

    /// A line for people, above the bar when there is one.
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| say(line)),
            None => say(line),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
