//! The pace of a bulk change: how many requests may be in flight, shared by
//! every writer of one run. A 429 pauses everyone until its `Retry-After`
//! (or the backoff) has passed and halves the limit, once per round of
//! requests sent under that limit; each `limit` answers in a row without a
//! 429 raise it by one again, up to the most asked for (additive increase,
//! multiplicative decrease).

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub struct Pacer {
    max: usize,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    limit: usize,
    active: usize,
    paused_until: Option<Instant>,
    /// Answers in a row without a 429 since the limit last changed.
    streak: usize,
    /// Bumped each time the limit is lowered: a 429 to a request sent
    /// before that lowers nothing more.
    epoch: u64,
    throttled: u64,
    peak: usize,
    lowest: usize,
}

/// What the pacer saw during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerStats {
    /// The limit now.
    pub limit: usize,
    /// Most requests in flight at once.
    pub peak: usize,
    /// The lowest the limit went.
    pub lowest: usize,
    /// 429 answers.
    pub throttled: u64,
}

/// A slot for one request; the slot is given back when dropped.
pub struct Permit<'a> {
    pacer: &'a Pacer,
    epoch: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.pacer.state.lock() {
            s.active = s.active.saturating_sub(1);
        }
        self.pacer.changed.notify_waiters();
    }
}

impl Pacer {
    /// At most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Pacer {
            max,
            state: Mutex::new(State {
                limit: max,
                active: 0,
                paused_until: None,
                streak: 0,
                epoch: 0,
                throttled: 0,
                peak: 0,
                lowest: max,
            }),
            changed: Notify::new(),
        }
    }

    /// Wait for a slot: no pause in force and fewer than the limit in flight.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match s.paused_until {
                    Some(until) if until > now => Some(until),
                    _ if s.active < s.limit => {
                        s.active += 1;
                        s.peak = s.peak.max(s.active);
                        return Permit {
                            pacer: self,
                            epoch: s.epoch,
                        };
                    }
                    _ => None,
                }
            };
            match wait {
                Some(until) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until.into()) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The service answered 429 to the request of `permit`: everyone waits
    /// `wait`, and the limit halves (once per round sent under it).
    pub fn throttled(&self, permit: &Permit<'_>, wait: Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.throttled += 1;
            let until = Instant::now() + wait;
            s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
            s.streak = 0;
            if permit.epoch == s.epoch {
                s.limit = (s.limit / 2).max(1);
                s.lowest = s.lowest.min(s.limit);
                s.epoch += 1;
            }
        }
        self.changed.notify_waiters();
    }

    /// The service answered something other than 429: after `limit` of
    /// those in a row, one more request may be in flight.
    pub fn answered(&self) {
        let raised = match self.state.lock() {
            Ok(mut s) => {
                s.streak += 1;
                if s.streak >= s.limit && s.limit < self.max {
                    s.limit += 1;
                    s.streak = 0;
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if raised {
            self.changed.notify_waiters();
        }
    }

    pub fn stats(&self) -> PacerStats {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        PacerStats {
            limit: s.limit,
            peak: s.peak,
            lowest: s.lowest,
            throttled: s.throttled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_pauses_lowers_and_raises() {
        let p = Pacer::new(4);
        let a = p.acquire().await;
        let b = p.acquire().await;
        let c = p.acquire().await;
        let d = p.acquire().await;
        // A fifth waits for a slot.
        assert!(tokio::time::timeout(Duration::from_millis(50), p.acquire())
            .await
            .is_err());
        // Two 429s of one round lower the limit once.
        p.throttled(&a, Duration::from_millis(100));
        p.throttled(&b, Duration::from_millis(100));
        assert_eq!(p.stats().limit, 2);
        drop((a, b, c, d));
        let t = Instant::now();
        let e = p.acquire().await;
        assert!(
            t.elapsed() >= Duration::from_millis(90),
            "{:?}",
            t.elapsed()
        );
        let f = p.acquire().await;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), p.acquire())
                .await
                .is_err(),
            "limit 2"
        );
        // A 429 under the new limit lowers it again.
        p.throttled(&e, Duration::ZERO);
        assert_eq!(p.stats().limit, 1);
        drop((e, f));
        // One answer at limit 1 raises it to 2, two more to 3, ...
        p.answered();
        assert_eq!(p.stats().limit, 2);
        for _ in 0..2 + 3 + 4 {
            p.answered();
        }
        let s = p.stats();
        assert_eq!((s.limit, s.lowest, s.throttled, s.peak), (4, 1, 3, 4));
    }
}
