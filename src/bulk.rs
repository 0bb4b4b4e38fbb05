//! Bulk changes (docs/bulk-and-baselines.md): one listing, the writes that
//! are needed with bounded and adaptive concurrency on the session's
//! connection pool and token, one listing to verify, and one result per
//! product. Bulk updates and baseline applies both run here.

use crate::auth::Credential;
use crate::client::ServiceClient;
use crate::error::{Error, ErrorKind, Result};
use crate::log::CallLog;
use crate::model::{canonical_value, PolicyItem};
use crate::pacer::Pacer;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Writes in flight by default, from benches/bulk.rs (40 products, 50 ms
/// per request; docs/bulk-and-baselines.md §4): the client stays within
/// 5 % of the physical limit at 1 to 16, so the choice is the service's
/// load: 8 writes 4x faster than 2, and 16 would save 100 ms of 366 for
/// twice the requests a throttling service sees at once.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Most writes in flight a request may ask for.
pub const MAX_CONCURRENCY: usize = 64;
/// Most ids in `productIds` / `exceptProductIds`, products in a baseline.
pub const MAX_PRODUCT_IDS: usize = 10_000;
/// Cap of a whole bulk call by default (`bulkTimeoutSeconds`).
pub const DEFAULT_BULK_TIMEOUT: Duration = Duration::from_secs(900);
/// Largest `bulkTimeoutSeconds`.
pub const MAX_BULK_TIMEOUT_SECONDS: f64 = 86_400.0;

/// What became of one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    Updated,
    Unchanged,
    Failed,
    /// What-if only: it would be written.
    WouldUpdate,
}

/// One product's result, with the `MSCommerce.ProductPolicy` properties
/// first, in their published order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProductResult {
    pub policy_value: Option<String>,
    pub product_id: String,
    pub policy_id: String,
    pub product_name: Option<String>,
    pub previous_value: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_json")]
    pub error: Option<Error>,
}

fn error_json<S: serde::Serializer>(
    e: &Option<Error>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    e.as_ref().map(Error::to_json).serialize(s)
}

/// How far a run is (the answer of the `start` and `poll` steps).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BulkProgress {
    pub finished: bool,
    pub total: usize,
    pub done: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Writes allowed in flight now (lowered after a 429).
    pub concurrency: usize,
    /// The results, once finished.
    pub results: Option<Vec<ProductResult>>,
}

/// Where the selection comes from (for the messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Bulk,
    Baseline,
}

/// A product named with the value it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub product_id: String,
    pub product_name: Option<String>,
    /// Canonical when it is a known value; else as given (never written).
    pub value: String,
}

/// Which products must have which value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub policy_id: String,
    pub origin: Origin,
    pub named: Vec<Named>,
    /// The value of every product not named (all products; a baseline's
    /// OtherProducts); `None`: they are left alone.
    pub others: Option<&'static str>,
    /// Never touched (exceptProductIds, and the successors of replaced ids
    /// among them), lower case.
    pub except: HashSet<String>,
    /// Not written by the `others` rule (successors of replaced ids that a
    /// baseline names, themselves not named), lower case: the named old id.
    pub protected: HashMap<String, String>,
}

impl Selection {
    /// Products named with one value (`productIds`), duplicates in any case
    /// counted once.
    pub fn products(policy_id: &str, ids: &[String], value: &'static str) -> Self {
        let mut seen = HashSet::new();
        let named = ids
            .iter()
            .filter(|id| seen.insert(id.to_ascii_lowercase()))
            .map(|id| Named {
                product_id: id.clone(),
                product_name: None,
                value: value.to_string(),
            })
            .collect();
        Selection {
            policy_id: policy_id.to_string(),
            origin: Origin::Bulk,
            named,
            others: None,
            except: HashSet::new(),
            protected: HashMap::new(),
        }
    }

    /// Every product but `except` (`allProducts`); a replaced id among them
    /// keeps its successor out too (logged).
    pub fn all_products(
        policy_id: &str,
        except: &[String],
        value: &'static str,
        log: &CallLog,
    ) -> Self {
        let mut out: HashSet<String> = except.iter().map(|e| e.to_ascii_lowercase()).collect();
        for id in except {
            if let Some(r) = crate::replaced::of(id) {
                log.push(format!(
                    "exceptProductIds: {}; {} is kept out too",
                    crate::replaced::message(id).unwrap_or_default(),
                    r.new
                ));
                out.insert(r.new.to_ascii_lowercase());
            }
        }
        Selection {
            policy_id: policy_id.to_string(),
            origin: Origin::Bulk,
            named: Vec::new(),
            others: Some(value),
            except: out,
            protected: HashMap::new(),
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub concurrency: usize,
    pub what_if: bool,
    /// Cap of the whole run but the verification listing.
    pub cap: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: DEFAULT_CONCURRENCY,
            what_if: false,
            cap: DEFAULT_BULK_TIMEOUT,
        }
    }
}

/// A product as a listing shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub product_id: String,
    pub product_name: Option<String>,
    pub policy_value: String,
}

/// The products of a listing (items of other scopes, and items without an
/// id or value, left out).
pub fn listed(items: Vec<PolicyItem>) -> Vec<Listed> {
    items
        .into_iter()
        .filter_map(|i| match i {
            PolicyItem::Product(p) => Some(Listed {
                product_id: p.product_id?,
                product_name: p.product_name,
                policy_value: p.policy_value?,
            }),
            PolicyItem::Scope(_) => None,
        })
        .collect()
}

/// The products of a policy, in listing order.
pub async fn list_products(
    service: &ServiceClient,
    policy_id: &str,
    cred: &Credential,
    log: &CallLog,
) -> Result<Vec<Listed>> {
    service
        .list_product_policies(policy_id, Some("product"), cred, log)
        .await
        .map(listed)
        .map_err(|e| {
            e.context(&format!(
                "Failed to retrieve product policies with PolicyId '{policy_id}'"
            ))
        })
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn update_failure(policy_id: &str, product_id: &str, e: Error) -> Error {
    if e.kind == ErrorKind::NotConnected {
        return e;
    }
    crate::replaced::explain(e, product_id).context(&format!(
        "Failed to update product policy with PolicyId '{policy_id}' ProductId '{product_id}'"
    ))
}

/// Where one product stands during a run.
#[derive(Debug, Clone)]
enum Outcome {
    Unchanged,
    /// To be written, not started.
    Pending,
    /// Being written (a cut run may or may not have applied it).
    InFlight,
    /// Written; the value the service answered.
    Written(String),
    WriteFailed(Error),
    /// Decided without a write.
    Failed(Error),
    /// What-if: would be written.
    Planned,
}

#[derive(Debug, Clone)]
struct Entry {
    product_id: String,
    product_name: Option<String>,
    previous: Option<String>,
    target: String,
    outcome: Outcome,
    /// Found by the verification listing (added during the run): its
    /// write's answer is all there is to go by.
    late: bool,
}

/// The plan made from the first listing, ready to run.
pub struct Plan {
    selection: Selection,
    options: RunOptions,
    started: Instant,
    /// Products of the first listing (lower-case ids).
    first: HashSet<String>,
    book: Mutex<Book>,
}

struct Book {
    entries: Vec<Entry>,
    /// Named ids the tenant does not have (after the listing's entries).
    missing: Vec<Entry>,
    progress: BulkProgress,
}

impl Book {
    fn settle(&mut self, i: usize, outcome: Outcome) {
        match &outcome {
            Outcome::Written(_) => {
                self.progress.updated += 1;
                self.progress.done += 1;
            }
            Outcome::WriteFailed(_) => {
                self.progress.failed += 1;
                self.progress.done += 1;
            }
            _ => {}
        }
        self.entries[i].outcome = outcome;
    }
}

/// Make the plan: one listing, and what each product needs.
pub async fn plan(
    service: &ServiceClient,
    cred: &Credential,
    selection: Selection,
    options: RunOptions,
    log: &CallLog,
) -> Result<Plan> {
    let started = Instant::now();
    let listing = list_products(service, &selection.policy_id, cred, log).await?;
    let named: HashMap<String, &Named> = selection
        .named
        .iter()
        .map(|n| (n.product_id.to_ascii_lowercase(), n))
        .collect();
    let mut entries = Vec::new();
    let mut first = HashSet::new();
    for p in &listing {
        let key = p.product_id.to_ascii_lowercase();
        first.insert(key.clone());
        if let Some(e) = entry_for(&selection, &named, p, options.what_if) {
            entries.push(e);
        }
    }
    // An id kept out that the tenant does not have (a typo?) keeps
    // nothing out: said so.
    let mut absent: Vec<&String> = selection
        .except
        .iter()
        .filter(|id| !first.contains(*id))
        .collect();
    absent.sort();
    for id in absent {
        log.push(format!(
            "exceptProductIds: '{id}' is not in the tenant's product list; it keeps nothing out"
        ));
    }
    let policy = &selection.policy_id;
    let missing: Vec<Entry> = selection
        .named
        .iter()
        .filter(|n| !first.contains(&n.product_id.to_ascii_lowercase()))
        .map(|n| {
            let why = match selection.origin {
                Origin::Bulk => "not in the tenant's product list",
                Origin::Baseline => "in the baseline but not in the tenant",
            };
            Entry {
                product_id: n.product_id.clone(),
                product_name: n.product_name.clone(),
                previous: None,
                target: n.value.clone(),
                outcome: Outcome::Failed(update_failure(
                    policy,
                    &n.product_id,
                    Error::new(ErrorKind::NotFound, why),
                )),
                late: false,
            }
        })
        .collect();
    let mut progress = BulkProgress {
        total: entries.len() + missing.len(),
        failed: missing.len(),
        done: missing.len(),
        concurrency: options.concurrency,
        ..Default::default()
    };
    for e in &entries {
        match e.outcome {
            Outcome::Unchanged => {
                progress.unchanged += 1;
                progress.done += 1;
            }
            Outcome::Failed(_) => {
                progress.failed += 1;
                progress.done += 1;
            }
            _ => {}
        }
    }
    Ok(Plan {
        selection,
        options,
        started,
        first,
        book: Mutex::new(Book {
            entries,
            missing,
            progress,
        }),
    })
}

/// The entry of a listed product the selection covers (`None`: not covered).
fn entry_for(
    selection: &Selection,
    named: &HashMap<String, &Named>,
    p: &Listed,
    what_if: bool,
) -> Option<Entry> {
    let key = p.product_id.to_ascii_lowercase();
    if selection.except.contains(&key) {
        return None;
    }
    let mut entry = Entry {
        product_id: p.product_id.clone(),
        product_name: p.product_name.clone(),
        previous: Some(p.policy_value.clone()),
        target: String::new(),
        outcome: Outcome::Unchanged,
        late: false,
    };
    let policy = &selection.policy_id;
    if let Some(n) = named.get(&key) {
        entry.target = n.value.clone();
    } else if let Some(v) = selection.others {
        entry.target = v.to_string();
        if let Some(old) = selection.protected.get(&key) {
            if !same(&p.policy_value, v) {
                entry.outcome = Outcome::Failed(update_failure(
                    policy,
                    &p.product_id,
                    Error::invalid(format!(
                        "not written under OtherProducts: it replaces {old}, which the baseline names; name {} in the baseline to decide its value",
                        p.product_id
                    )),
                ));
            }
            return Some(entry);
        }
    } else {
        return None;
    }
    entry.outcome = if same(&p.policy_value, &entry.target) {
        Outcome::Unchanged
    } else if canonical_value(&entry.target).is_none() {
        Outcome::Failed(update_failure(
            policy,
            &p.product_id,
            Error::invalid(format!(
                "PolicyValue '{}' cannot be set; use {}",
                crate::text::echo(&entry.target),
                crate::model::KNOWN_VALUES.join(", ")
            )),
        ))
    } else if what_if {
        Outcome::Planned
    } else {
        Outcome::Pending
    };
    Some(entry)
}

/// Someone to tell how far the run is.
pub type ProgressFn<'a> = &'a (dyn Fn(&BulkProgress) + Send + Sync);

/// What the writers of a run share.
#[derive(Clone, Copy)]
struct Writers<'a> {
    /// Paced by `pacer`.
    service: &'a ServiceClient,
    cred: &'a Credential,
    log: &'a CallLog,
    /// No write starts after this.
    cap: Instant,
    cancel: &'a AtomicBool,
    /// Writes sent.
    writes: &'a AtomicUsize,
    pacer: &'a Pacer,
    on_progress: ProgressFn<'a>,
}

impl Plan {
    /// The progress now.
    pub fn progress(&self) -> BulkProgress {
        self.book
            .lock()
            .map(|b| b.progress.clone())
            .unwrap_or_default()
    }

    /// Write what is needed, verify, and answer one result per product.
    /// `cancel`: stop starting writes (those in flight finish).
    pub async fn run(
        self,
        service: &ServiceClient,
        cred: &Credential,
        log: &CallLog,
        cancel: &AtomicBool,
        on_progress: ProgressFn<'_>,
    ) -> Vec<ProductResult> {
        if self.options.what_if {
            let results = self.finish(None, None, log);
            log.push(summary(&results, 0, None, true));
            return results;
        }
        let pacer = Arc::new(Pacer::new(self.options.concurrency));
        let paced = service.paced(pacer.clone());
        let cap = self.started + self.options.cap;
        let writes = AtomicUsize::new(0);
        let todo: Vec<usize> = self.pending();
        on_progress(&self.progress());
        let ctx = Writers {
            service: &paced,
            cred,
            log,
            cap,
            cancel,
            writes: &writes,
            pacer: &pacer,
            on_progress,
        };
        let cut = self.write_all(&ctx, &todo).await;
        if cut {
            log.push(format!(
                "bulk: stopped at the time cap of {} s (bulkTimeoutSeconds)",
                self.options.cap.as_secs_f64()
            ));
        }
        let stopped = if cancel.load(Ordering::SeqCst) {
            Some("cancelled")
        } else if cut {
            Some("not written: the bulk call reached its time cap (bulkTimeoutSeconds); run it again")
        } else {
            None
        };

        // One listing to verify.
        let verified = match list_products(service, &self.selection.policy_id, cred, log).await {
            Ok(l) => Some(l),
            Err(e) => {
                log.push(format!(
                    "bulk: the verification listing failed, results as the writes answered: {e}"
                ));
                None
            }
        };

        // Products that appeared during the run and that the selection
        // covers are written too (while the cap allows).
        if let (Some(list), None) = (&verified, stopped) {
            let fresh = self.add_newcomers(list);
            if !fresh.is_empty() {
                log.push(format!(
                    "bulk: {} product(s) appeared during the run; writing those not at their value",
                    fresh.len()
                ));
                self.write_all(&ctx, &fresh).await;
            }
        }
        let results = self.finish(verified.as_deref(), stopped, log);
        log.push(summary(
            &results,
            writes.load(Ordering::SeqCst),
            Some(pacer.stats()),
            false,
        ));
        results
    }

    fn pending(&self) -> Vec<usize> {
        self.book
            .lock()
            .map(|b| {
                b.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| matches!(e.outcome, Outcome::Pending))
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Write the entries `todo` with at most the pacer's limit in flight;
    /// true when the cap stopped it before all were started. Writes in
    /// flight at the cap finish (each within the cap or one request
    /// timeout, whichever is later).
    async fn write_all(&self, ctx: &Writers<'_>, todo: &[usize]) -> bool {
        let Writers {
            service,
            cred,
            log,
            cap,
            cancel,
            writes,
            pacer,
            on_progress,
        } = *ctx;
        let next = AtomicUsize::new(0);
        let cut = AtomicBool::new(false);
        let policy = self.selection.policy_id.as_str();
        let worker = || async {
            loop {
                if cancel.load(Ordering::SeqCst) {
                    return;
                }
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(&i) = todo.get(n) else { return };
                let now = Instant::now();
                if now >= cap {
                    cut.store(true, Ordering::SeqCst);
                    return;
                }
                let (id, target) = {
                    let Ok(mut b) = self.book.lock() else { return };
                    let e = &mut b.entries[i];
                    e.outcome = Outcome::InFlight;
                    (e.product_id.clone(), e.target.clone())
                };
                writes.fetch_add(1, Ordering::SeqCst);
                let limit = cap.max(now) + service.timeout();
                let write = service.set_product_policy(policy, &id, &target, cred, log);
                let outcome = match tokio::time::timeout_at(limit.into(), write).await {
                    Ok(Ok(p)) => Outcome::Written(p.policy_value.unwrap_or(target)),
                    Ok(Err(e)) => Outcome::WriteFailed(update_failure(policy, &id, e)),
                    // Left in flight: the verification listing says.
                    Err(_) => continue,
                };
                let progress = match self.book.lock() {
                    Ok(mut b) => {
                        b.settle(i, outcome);
                        b.progress.concurrency = pacer.stats().limit;
                        b.progress.clone()
                    }
                    Err(_) => return,
                };
                on_progress(&progress);
            }
        };
        let workers = self.options.concurrency.min(todo.len());
        join_all((0..workers).map(|_| worker()).collect()).await;
        cut.load(Ordering::SeqCst)
    }

    /// Entries for the products of the verification listing that were not
    /// in the first one and that the selection covers; the indices of
    /// those to write.
    fn add_newcomers(&self, list: &[Listed]) -> Vec<usize> {
        if self.selection.others.is_none() {
            return Vec::new();
        }
        let named: HashMap<String, &Named> = self
            .selection
            .named
            .iter()
            .map(|n| (n.product_id.to_ascii_lowercase(), n))
            .collect();
        let Ok(mut b) = self.book.lock() else {
            return Vec::new();
        };
        let mut todo = Vec::new();
        for p in list {
            let key = p.product_id.to_ascii_lowercase();
            if self.first.contains(&key) || named.contains_key(&key) {
                continue;
            }
            if let Some(mut e) = entry_for(&self.selection, &named, p, false) {
                e.late = true;
                b.progress.total += 1;
                match e.outcome {
                    Outcome::Pending => todo.push(b.entries.len()),
                    Outcome::Unchanged => {
                        b.progress.unchanged += 1;
                        b.progress.done += 1;
                    }
                    _ => {
                        b.progress.failed += 1;
                        b.progress.done += 1;
                    }
                }
                b.entries.push(e);
            }
        }
        todo
    }

    /// The results after the verification listing (`None`: it failed, or
    /// a what-if, which makes none), and the final counts.
    fn finish(
        &self,
        verified: Option<&[Listed]>,
        stopped: Option<&str>,
        log: &CallLog,
    ) -> Vec<ProductResult> {
        let now: Option<HashMap<String, &Listed>> = verified.map(|l| {
            l.iter()
                .map(|p| (p.product_id.to_ascii_lowercase(), p))
                .collect()
        });
        let Ok(mut b) = self.book.lock() else {
            return Vec::new();
        };
        let results: Vec<ProductResult> = b
            .entries
            .iter()
            .chain(b.missing.iter())
            .map(|e| self.result_of(e, now.as_ref(), stopped, log))
            .collect();
        let count = |s: Status| results.iter().filter(|r| r.status == s).count();
        b.progress.total = results.len();
        b.progress.done = results.len();
        b.progress.updated = count(Status::Updated);
        b.progress.unchanged = count(Status::Unchanged);
        b.progress.failed = count(Status::Failed);
        b.progress.finished = true;
        results
    }

    fn result_of(
        &self,
        e: &Entry,
        now: Option<&HashMap<String, &Listed>>,
        stopped: Option<&str>,
        log: &CallLog,
    ) -> ProductResult {
        let policy = self.selection.policy_id.as_str();
        let now = now.filter(|_| !e.late);
        let current: Option<Option<&Listed>> =
            now.map(|m| m.get(&e.product_id.to_ascii_lowercase()).copied());
        let at_target = matches!(current, Some(Some(p)) if same(&p.policy_value, &e.target));
        let shown = match current {
            Some(Some(p)) => Some(p.policy_value.clone()),
            Some(None) => None,
            None => e.previous.clone(),
        };
        let failed = |err: Error| update_failure(policy, &e.product_id, err);
        let (status, value, error) = match &e.outcome {
            Outcome::Unchanged => (Status::Unchanged, shown, None),
            Outcome::Planned => (Status::WouldUpdate, Some(e.target.clone()), None),
            Outcome::Failed(err) => (Status::Failed, shown, Some(err.clone())),
            Outcome::Written(answered) => match current {
                None => (Status::Updated, Some(answered.clone()), None),
                Some(Some(_)) if at_target => (Status::Updated, shown, None),
                Some(Some(p)) => (
                    Status::Failed,
                    shown,
                    Some(failed(Error::new(
                        ErrorKind::Service,
                        format!(
                            "the service answered the write with PolicyValue '{}', but the verification listing shows '{}'",
                            crate::text::echo(answered),
                            crate::text::echo(&p.policy_value)
                        ),
                    ))),
                ),
                Some(None) => (
                    Status::Failed,
                    None,
                    Some(failed(Error::new(
                        ErrorKind::NotFound,
                        "written, but not in the verification listing (removed during the run)",
                    ))),
                ),
            },
            Outcome::WriteFailed(err) if at_target => {
                log.push(format!(
                    "bulk: {} has PolicyValue '{}' in the verification listing although its write failed ({}): counted as updated",
                    e.product_id, e.target, err.message
                ));
                (Status::Updated, shown, None)
            }
            Outcome::WriteFailed(err) => (Status::Failed, shown, Some(err.clone())),
            Outcome::InFlight if at_target => (Status::Updated, shown, None),
            Outcome::Pending if at_target => (Status::Unchanged, shown, None),
            Outcome::InFlight | Outcome::Pending => (
                Status::Failed,
                shown,
                Some(failed(Error::new(
                    ErrorKind::Timeout,
                    stopped.unwrap_or("not written"),
                ))),
            ),
        };
        ProductResult {
            policy_value: value,
            product_id: e.product_id.clone(),
            policy_id: policy.to_string(),
            product_name: e.product_name.clone(),
            previous_value: e.previous.clone(),
            status,
            error,
        }
    }
}

/// Poll every future until all are done (no extra dependency for this).
pub(crate) async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut slots: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for slot in slots.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

/// The log's last line about a run.
fn summary(
    results: &[ProductResult],
    writes: usize,
    pacer: Option<crate::pacer::PacerStats>,
    what_if: bool,
) -> String {
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    if what_if {
        return format!(
            "bulk (what-if): {} products, {} would be updated, {} unchanged, {} failed; nothing written",
            results.len(),
            count(Status::WouldUpdate),
            count(Status::Unchanged),
            count(Status::Failed)
        );
    }
    let mut line = format!(
        "bulk: {} products, {} updated, {} unchanged, {} failed, {writes} writes",
        results.len(),
        count(Status::Updated),
        count(Status::Unchanged),
        count(Status::Failed)
    );
    if let Some(p) = pacer {
        line.push_str(&format!(
            ", peak concurrency {}, {} throttled",
            p.peak, p.throttled
        ));
        if p.throttled > 0 {
            line.push_str(&format!(", concurrency lowered to {}", p.lowest));
        }
    }
    line
}
