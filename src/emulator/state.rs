//! The emulator's in-memory state: where it listens, the product catalogue,
//! faults to inject, counters tests read, the token issuer and the
//! sign-ins in progress.

use super::directory;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The catalogue, copied from the shared products.json.
const CATALOGUE_JSON: &str = include_str!("../../data/products.json");

/// Most products a generated catalogue may have.
pub const MAX_GENERATED_PRODUCTS: usize = 10_000;

/// Which product list to start with (`--seed-products`, `POST
/// /_emulator/catalogue`): `seed`, `docs2023`, `docs2025` or `generated:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Catalogue {
    /// The twelve products of the seed article (2021).
    #[default]
    Seed,
    /// The later list of the cmdlet reference's get-started page.
    Docs2023,
    /// The 26 products of the same page as revised in 2025, with the
    /// current ids (the nine replaced ids answer 404) and the third-party
    /// offer types.
    Docs2025,
    /// N made-up products `GENPROD00001`, `GENPROD00002`, … named
    /// "Generated product 00001", …, every value allowed, with the offer
    /// types of docs2025 (for bulk benchmarks).
    Generated(usize),
}

impl std::str::FromStr for Catalogue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("generated:") {
            return match n.trim().parse::<usize>() {
                Ok(n) if n <= MAX_GENERATED_PRODUCTS => Ok(Catalogue::Generated(n)),
                _ => Err(format!(
                    "'{s}': generated:N takes a number of products from 0 to {MAX_GENERATED_PRODUCTS}"
                )),
            };
        }
        match lower.as_str() {
            "seed" => Ok(Catalogue::Seed),
            "docs2023" => Ok(Catalogue::Docs2023),
            "docs2025" => Ok(Catalogue::Docs2025),
            _ => Err(format!(
                "unknown product list '{s}'; use seed, docs2023, docs2025 or generated:N"
            )),
        }
    }
}

impl std::fmt::Display for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Catalogue::Seed => f.write_str("seed"),
            Catalogue::Docs2023 => f.write_str("docs2023"),
            Catalogue::Docs2025 => f.write_str("docs2025"),
            Catalogue::Generated(n) => write!(f, "generated:{n}"),
        }
    }
}

/// The id of the `i`th product (from 1) of a generated catalogue.
pub fn generated_product_id(i: usize) -> String {
    format!("GENPROD{i:05}")
}

#[derive(Debug, Clone)]
pub struct PolicyDef {
    pub id: String,
    pub description: String,
    pub default_value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_name: String,
    pub product_id: String,
    pub policy_value: String,
    /// Whether OnlyTrialsWithoutPaymentMethod may be set (docs2023 and
    /// docs2025 lists).
    #[serde(skip)]
    pub trial_without_payment: bool,
}

#[derive(Debug, Clone)]
pub struct OfferType {
    pub id: String,
    pub policy_value: String,
    /// Whether OnlyTrialsWithoutPaymentMethod may be set: true for the
    /// seed's "Trial", false for the third-party offer types of
    /// products.json ("only Enabled and Disabled apply to them").
    pub trial_without_payment: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogueFile {
    policies: Vec<CataloguePolicy>,
    products: Vec<CatalogueProduct>,
    products_docs2023: Vec<CatalogueProduct>,
    products_docs2025: Vec<CatalogueProduct>,
    offer_types: CatalogueOfferTypes,
}

#[derive(Deserialize)]
struct CatalogueOfferTypes {
    items: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CataloguePolicy {
    id: String,
    description: String,
    default_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogueProduct {
    product_name: String,
    product_id: String,
    trial_without_payment_method: Option<bool>,
}

/// Faults applied to licensing API requests; counts are "the next N".
/// `POST /_emulator/faults` replaces them all (absent fields: none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Only the licensing requests of this tenant (its id or domain, as
    /// the token's `tid` says) get `latencyMs`, `throttle`, `serverErrors`,
    /// `expireTokens`, `oversizeBody` and `maxInFlight`; the others are
    /// served as if there were none (absent: every request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub latency_ms: u64,
    /// Answer the next N requests with 429 and `Retry-After: retryAfterSeconds`.
    pub throttle: u32,
    pub retry_after_seconds: u64,
    /// Answer the next N requests with `serverErrorStatus` (default 503).
    pub server_errors: u32,
    pub server_error_status: u16,
    /// Close the connection of the next N requests without an answer (the
    /// request is not served: a PUT is not applied).
    pub drop: u32,
    /// Answer the next N requests with 401 as for an expired token.
    pub expire_tokens: u32,
    /// Page size of listings (0: one page), to exercise next links.
    pub page_size: usize,
    /// Answer the next N requests with a body of 5 MiB (over the client's cap).
    pub oversize_body: u32,
    /// Apply the next N successful writes (PUTs), then close their
    /// connection without an answer: the caller cannot know it succeeded.
    pub drop_after_write: u32,
    /// Answer 429 (with `Retry-After: retryAfterSeconds`) to a licensing
    /// request that arrives while this many are already being served, as a
    /// service that limits concurrency would (0: no limit).
    pub max_in_flight: u32,
    /// Things that happen once, after a number of writes (mid-run changes).
    pub events: Vec<FaultEvent>,
}

/// One thing that happens when the `afterWrites`th successful write since
/// the faults were set has been applied (before it is answered; 0: when
/// the faults are set). Every field is optional; each given one happens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultEvent {
    pub after_writes: u64,
    /// A new product appears (Enabled unless its policyValue says otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_product: Option<NewProduct>,
    /// A product disappears (later reads and writes of it answer 404).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_product: Option<String>,
    /// Every access token issued so far expires (401 until the caller signs in again).
    pub expire_all_tokens: bool,
    /// Counted faults added to the current ones (a 429 storm, 503s,
    /// drops, 401s from here on).
    pub throttle: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    pub server_errors: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_error_status: Option<u16>,
    pub drop: u32,
    pub expire_tokens: u32,
}

/// A product to add (`POST /_emulator/products`, `addProduct` events).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NewProduct {
    pub product_id: String,
    /// Default: the id (adding); the name it has (updating).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Default Enabled, as Microsoft's new products appear. Not checked:
    /// any string, to exercise unknown values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_value: Option<String>,
    /// Default AllowSelfServicePurchase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Whether OnlyTrialsWithoutPaymentMethod may be set (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_without_payment_method: Option<bool>,
}

/// What the emulator has seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Licensing API requests (including faulted ones).
    pub requests: u64,
    /// Token endpoint requests.
    pub token_requests: u64,
    /// Successful PUTs (writes), of products and offer types.
    pub updates: u64,
    /// 429 answers (throttle and maxInFlight faults).
    #[serde(default)]
    pub throttled: u64,
    /// Most licensing requests served at the same time.
    #[serde(default)]
    pub peak_in_flight: u64,
    /// The User-Agent of the last licensing request.
    pub last_user_agent: String,
}

/// One successful write, as `GET /_emulator/writes` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WriteRecord {
    pub policy_id: String,
    /// `product` or `offerType`.
    pub scope: String,
    /// The product id or offer type, as the catalogue spells it.
    pub id: String,
    pub previous_value: String,
    pub policy_value: String,
}

pub struct Data {
    pub policies: Vec<PolicyDef>,
    /// (policy id, products in catalogue order)
    pub products: HashMap<String, Vec<Product>>,
    pub offer_types: HashMap<String, Vec<OfferType>>,
    /// Successful writes to this tenant's data since it was loaded.
    pub writes: u64,
}

impl Data {
    /// A policy's own spelling of its id (ids match in any case).
    pub fn policy_id(&self, policy: &str) -> Option<String> {
        self.policies
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(policy))
            .map(|p| p.id.clone())
    }

    /// Add a product at the end of the catalogue, or update the one with
    /// that id (name and value): (policy id, the product, whether it was added).
    pub fn add_product(&mut self, p: &NewProduct) -> Result<(String, Product, bool), String> {
        if p.product_id.is_empty() {
            return Err("productId is required".into());
        }
        let asked = p
            .policy_id
            .as_deref()
            .unwrap_or(crate::model::DEFAULT_POLICY_ID);
        let policy = self
            .policy_id(asked)
            .ok_or_else(|| format!("no policy '{asked}'"))?;
        let list = self.products.entry(policy.clone()).or_default();
        let value = p.policy_value.clone().unwrap_or_else(|| "Enabled".into());
        match list
            .iter_mut()
            .find(|x| x.product_id.eq_ignore_ascii_case(&p.product_id))
        {
            Some(x) => {
                if let Some(name) = &p.product_name {
                    x.product_name = name.clone();
                }
                x.policy_value = value;
                if let Some(t) = p.trial_without_payment_method {
                    x.trial_without_payment = t;
                }
                Ok((policy, x.clone(), false))
            }
            None => {
                let x = Product {
                    product_name: p
                        .product_name
                        .clone()
                        .unwrap_or_else(|| p.product_id.clone()),
                    product_id: p.product_id.clone(),
                    policy_value: value,
                    trial_without_payment: p.trial_without_payment_method.unwrap_or(true),
                };
                list.push(x.clone());
                Ok((policy, x, true))
            }
        }
    }

    /// Remove a product (any case of its id): (policy id, the product).
    pub fn remove_product(&mut self, policy: Option<&str>, id: &str) -> Option<(String, Product)> {
        let policy = self.policy_id(policy.unwrap_or(crate::model::DEFAULT_POLICY_ID))?;
        let list = self.products.get_mut(&policy)?;
        let at = list
            .iter()
            .position(|x| x.product_id.eq_ignore_ascii_case(id))?;
        Some((policy, list.remove(at)))
    }
}

pub struct State {
    /// The address the emulator listens on, and whether it serves TLS there.
    pub addr: SocketAddr,
    pub tls: bool,
    /// The catalogue a reset goes back to (the start one, or the last one
    /// `POST /_emulator/catalogue` chose).
    pub catalogue: Mutex<Catalogue>,
    /// The built-in tenant's data.
    pub data: Arc<Mutex<Data>>,
    /// The customer tenants of a partner (docs/fleet.md §4).
    pub fleet: Mutex<super::fleet::Fleet>,
    pub faults: Mutex<Faults>,
    pub base_latency_ms: u64,
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub updates: AtomicU64,
    pub throttled: AtomicU64,
    /// Licensing requests being served now, and the most at once.
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
    /// Successful writes since the faults were last set (for their events).
    pub writes_since_faults: AtomicU64,
    pub write_log: Mutex<Vec<WriteRecord>>,
    pub last_user_agent: Mutex<String>,
    pub issuer: super::identity::Issuer,
    /// Codes handed out, device codes and the browser's session.
    pub flows: Mutex<super::identity_flows::FlowState>,
}

impl State {
    pub fn new(
        addr: SocketAddr,
        tls: bool,
        catalogue: Catalogue,
        base_latency_ms: u64,
        token_lifetime: u64,
    ) -> Self {
        State {
            addr,
            tls,
            catalogue: Mutex::new(catalogue),
            data: Arc::new(Mutex::new(load(catalogue))),
            fleet: Mutex::new(Default::default()),
            faults: Mutex::new(Faults::default()),
            base_latency_ms,
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            writes_since_faults: AtomicU64::new(0),
            write_log: Mutex::new(Vec::new()),
            last_user_agent: Mutex::new(String::new()),
            issuer: super::identity::Issuer::new(token_lifetime),
            flows: Mutex::new(Default::default()),
        }
    }

    /// Base URL of both the licensing API and the identity endpoints
    /// (`http://127.0.0.1:PORT`, or `https://…` with TLS).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.connections.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            token_requests: self.token_requests.load(Ordering::SeqCst),
            updates: self.updates.load(Ordering::SeqCst),
            throttled: self.throttled.load(Ordering::SeqCst),
            peak_in_flight: self.peak_in_flight.load(Ordering::SeqCst),
            last_user_agent: self
                .last_user_agent
                .lock()
                .map(|u| u.clone())
                .unwrap_or_default(),
        }
    }

    pub fn catalogue(&self) -> Catalogue {
        self.catalogue.lock().map(|c| *c).unwrap_or_default()
    }

    /// Serve another catalogue from now on (every value back to Enabled);
    /// a reset goes back to it. Faults, counters and the write log stay.
    pub fn set_catalogue(&self, catalogue: Catalogue) {
        if let Ok(mut c) = self.catalogue.lock() {
            *c = catalogue;
        }
        if let Ok(mut d) = self.data.lock() {
            *d = load(catalogue);
        }
    }

    /// Replace the faults; their events count writes from now, and those
    /// due at 0 writes happen at once.
    pub fn set_faults(&self, faults: Faults) {
        let due = {
            let Ok(mut f) = self.faults.lock() else {
                return;
            };
            *f = faults;
            self.writes_since_faults.store(0, Ordering::SeqCst);
            take_due(&mut f.events, 0)
        };
        if !due.is_empty() {
            if let Ok(mut d) = self.data.lock() {
                self.fire(&mut d, due);
            }
        }
    }

    /// A write was applied (the caller holds the data lock): count and log
    /// it, and fire the fault events now due.
    pub fn record_write(&self, data: &mut Data, record: WriteRecord) {
        self.updates.fetch_add(1, Ordering::SeqCst);
        data.writes += 1;
        if let Ok(mut log) = self.write_log.lock() {
            log.push(record);
        }
        let n = self.writes_since_faults.fetch_add(1, Ordering::SeqCst) + 1;
        let due = match self.faults.lock() {
            Ok(mut f) => take_due(&mut f.events, n),
            Err(_) => Vec::new(),
        };
        self.fire(data, due);
    }

    /// Make events happen (the caller holds the data lock; this takes the
    /// faults lock: always data first, then faults).
    fn fire(&self, data: &mut Data, events: Vec<FaultEvent>) {
        for e in events {
            if let Some(p) = &e.add_product {
                let _ = data.add_product(p);
            }
            if let Some(id) = &e.remove_product {
                let _ = data.remove_product(None, id);
            }
            if e.expire_all_tokens {
                self.issuer.expire_all();
            }
            if let Ok(mut f) = self.faults.lock() {
                f.throttle += e.throttle;
                if let Some(s) = e.retry_after_seconds {
                    f.retry_after_seconds = s;
                }
                f.server_errors += e.server_errors;
                if let Some(s) = e.server_error_status {
                    f.server_error_status = s;
                }
                f.drop += e.drop;
                f.expire_tokens += e.expire_tokens;
            }
        }
    }

    /// Replace the customer tenants (every value fresh); a reset rebuilds
    /// them as configured.
    pub fn set_fleet(&self, config: super::fleet::FleetConfig) -> Result<(), String> {
        let fleet = super::fleet::Fleet::build(config)?;
        if let Ok(mut f) = self.fleet.lock() {
            *f = fleet;
        }
        Ok(())
    }

    /// The tenant id (GUID) a tenant id or domain names: the built-in
    /// tenant's, a fleet tenant's, or the name itself when neither knows it.
    pub fn tenant_id_of(&self, tenant: &str) -> String {
        if directory::tenant_matches(tenant, false) {
            return directory::TENANT_ID.to_string();
        }
        self.fleet
            .lock()
            .ok()
            .and_then(|f| f.find(tenant))
            .map_or_else(|| tenant.to_string(), |t| t.tenant_id.clone())
    }

    /// The data of the tenant a token is for (`tid`): the built-in
    /// tenant's, or a fleet tenant's; `None` for any other tenant.
    pub fn data_for(&self, tid: &str) -> Option<Arc<Mutex<Data>>> {
        if tid.eq_ignore_ascii_case(directory::TENANT_ID) {
            return Some(self.data.clone());
        }
        let fleet = self.fleet.lock().ok()?;
        fleet.find(tid).map(|t| t.data.clone())
    }

    /// The write log since the last reset.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.write_log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Back to the catalogue (fresh values), no faults, zero counters, an
    /// empty write log: the licensing side only. The identity side is left
    /// as it is, like the issuer's tokens and refresh tokens: sign-ins in
    /// progress (codes, device codes) and the browser's session outlive a
    /// reset.
    pub fn reset(&self) {
        let catalogue = self.catalogue();
        if let Ok(mut d) = self.data.lock() {
            *d = load(catalogue);
        }
        let fleet = self.fleet.lock().map(|f| f.config.clone());
        if let Ok(config) = fleet {
            if config != Default::default() {
                let _ = self.set_fleet(config);
            }
        }
        if let Ok(mut f) = self.faults.lock() {
            *f = Faults::default();
        }
        for c in [
            &self.connections,
            &self.requests,
            &self.token_requests,
            &self.updates,
            &self.throttled,
            &self.peak_in_flight,
            &self.writes_since_faults,
        ] {
            c.store(0, Ordering::SeqCst);
        }
        if let Ok(mut log) = self.write_log.lock() {
            log.clear();
        }
        if let Ok(mut ua) = self.last_user_agent.lock() {
            ua.clear();
        }
    }
}

/// The events due after `writes` writes, taken out of the list (in order).
fn take_due(events: &mut Vec<FaultEvent>, writes: u64) -> Vec<FaultEvent> {
    let (due, rest): (Vec<_>, Vec<_>) = events.drain(..).partition(|e| e.after_writes <= writes);
    *events = rest;
    due
}

pub(crate) fn load(catalogue: Catalogue) -> Data {
    let file: CatalogueFile =
        serde_json::from_str(CATALOGUE_JSON).expect("data/products.json is valid (tested)");
    let products_of = |list: &[CatalogueProduct], trials_by_default: bool| -> Vec<Product> {
        list.iter()
            .map(|c| Product {
                product_name: c.product_name.clone(),
                product_id: c.product_id.clone(),
                policy_value: "Enabled".into(),
                trial_without_payment: if trials_by_default {
                    true
                } else {
                    c.trial_without_payment_method.unwrap_or(false)
                },
            })
            .collect()
    };
    let list: Vec<Product> = match catalogue {
        Catalogue::Seed => products_of(&file.products, true),
        Catalogue::Docs2023 => products_of(&file.products_docs2023, false),
        Catalogue::Docs2025 => products_of(&file.products_docs2025, false),
        Catalogue::Generated(n) => (1..=n)
            .map(|i| Product {
                product_name: format!("Generated product {i:05}"),
                product_id: generated_product_id(i),
                policy_value: "Enabled".into(),
                trial_without_payment: true,
            })
            .collect(),
    };
    // The seed and docs2023 lists keep the one offer type the tests have
    // always used; the 2025 page names the third-party ones.
    let offers: Vec<OfferType> = match catalogue {
        Catalogue::Seed | Catalogue::Docs2023 => vec![OfferType {
            id: "Trial".into(),
            policy_value: "Enabled".into(),
            trial_without_payment: true,
        }],
        Catalogue::Docs2025 | Catalogue::Generated(_) => file
            .offer_types
            .items
            .iter()
            .map(|id| OfferType {
                id: id.clone(),
                policy_value: "Enabled".into(),
                trial_without_payment: false,
            })
            .collect(),
    };
    let policies: Vec<PolicyDef> = file
        .policies
        .iter()
        .map(|p| PolicyDef {
            id: p.id.clone(),
            description: p.description.clone(),
            default_value: p.default_value.clone(),
        })
        .collect();
    let mut products = HashMap::new();
    let mut offer_types = HashMap::new();
    for p in &policies {
        products.insert(p.id.clone(), list.clone());
        offer_types.insert(p.id.clone(), offers.clone());
    }
    Data {
        policies,
        products,
        offer_types,
        writes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "AllowSelfServicePurchase";

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Replaced {
        replaced_product_ids: ReplacedPairs,
    }
    #[derive(Deserialize)]
    struct ReplacedPairs {
        pairs: Vec<ReplacedPair>,
    }
    #[derive(Deserialize)]
    struct ReplacedPair {
        old: String,
        new: String,
    }

    #[test]
    fn catalogues_load() {
        let seed = load(Catalogue::Seed);
        assert_eq!(seed.products[P].len(), 12);
        assert_eq!(seed.offer_types[P][0].id, "Trial");
        let later = load(Catalogue::Docs2023);
        assert!(later.products[P].len() > 12);
        let now = load(Catalogue::Docs2025);
        assert_eq!(now.products[P].len(), 26);
        let offers: Vec<&str> = now.offer_types[P].iter().map(|o| o.id.as_str()).collect();
        assert_eq!(
            offers,
            ["SaaS", "POWERBIVISUALS", "DYNAMICSCE", "DYNAMICSBC"]
        );
        let generated = load(Catalogue::Generated(40));
        let list = &generated.products[P];
        assert_eq!(list.len(), 40);
        assert_eq!(list[0].product_id, "GENPROD00001");
        assert_eq!(list[39].product_id, generated_product_id(40));
        assert!(list.iter().all(|p| p.policy_value == "Enabled"));
        assert!(load(Catalogue::Generated(0)).products[P].is_empty());
    }

    /// docs2025 has every successor and no replaced id (those answer 404).
    #[test]
    fn docs2025_has_the_successors_not_the_old_ids() {
        let r: Replaced = serde_json::from_str(CATALOGUE_JSON).unwrap();
        assert_eq!(r.replaced_product_ids.pairs.len(), 9);
        let now = load(Catalogue::Docs2025);
        let has = |id: &str| now.products[P].iter().any(|p| p.product_id == id);
        for pair in &r.replaced_product_ids.pairs {
            assert!(!has(&pair.old), "{}", pair.old);
            assert!(has(&pair.new), "{}", pair.new);
        }
        // The seed list is made of the old ids.
        let seed = load(Catalogue::Seed);
        assert!(seed.products[P]
            .iter()
            .any(|p| p.product_id == "CFQ7TTC0KP0N"));
    }

    #[test]
    fn catalogue_names_round_trip() {
        for c in [
            Catalogue::Seed,
            Catalogue::Docs2023,
            Catalogue::Docs2025,
            Catalogue::Generated(40),
        ] {
            assert_eq!(c.to_string().parse::<Catalogue>().unwrap(), c);
        }
        assert_eq!(
            "DOCS2025".parse::<Catalogue>().unwrap(),
            Catalogue::Docs2025
        );
        assert!("generated:x".parse::<Catalogue>().is_err());
        assert!("generated:10001".parse::<Catalogue>().is_err());
        assert!("docs2024"
            .parse::<Catalogue>()
            .unwrap_err()
            .contains("docs2025"));
    }

    #[test]
    fn products_are_added_updated_and_removed() {
        let mut d = load(Catalogue::Docs2025);
        let new = NewProduct {
            product_id: "CFQ7TTC0NEW1".into(),
            product_name: Some("Brand new".into()),
            ..Default::default()
        };
        let (policy, p, added) = d.add_product(&new).unwrap();
        assert_eq!((policy.as_str(), added), (P, true));
        assert_eq!(p.policy_value, "Enabled");
        assert_eq!(d.products[P].last().unwrap().product_id, "CFQ7TTC0NEW1");
        let (_, p, added) = d
            .add_product(&NewProduct {
                product_id: "cfq7ttc0new1".into(),
                policy_value: Some("Disabled".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(!added);
        assert_eq!(
            (p.product_name.as_str(), p.policy_value.as_str()),
            ("Brand new", "Disabled")
        );
        assert_eq!(d.products[P].len(), 27);
        assert!(d
            .add_product(&NewProduct {
                product_id: "X".into(),
                policy_id: Some("NoSuchPolicy".into()),
                ..Default::default()
            })
            .is_err());
        let (_, gone) = d.remove_product(None, "CFQ7TTC0NEW1").unwrap();
        assert_eq!(gone.product_name, "Brand new");
        assert!(d.remove_product(None, "CFQ7TTC0NEW1").is_none());
        assert_eq!(d.products[P].len(), 26);
    }

    fn docs2025_state() -> State {
        State::new(
            "127.0.0.1:1".parse().unwrap(),
            false,
            Catalogue::Docs2025,
            0,
            3600,
        )
    }

    #[test]
    fn a_fault_names_a_tenant_by_id_or_domain() {
        let s = docs2025_state();
        s.set_fleet(super::super::fleet::FleetConfig {
            generate: Some(super::super::fleet::Generate {
                count: 2,
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let id = super::super::fleet::generated_tenant_id(2);
        assert_eq!(s.tenant_id_of("TENANT0002.onmicrosoft.com"), id);
        assert_eq!(s.tenant_id_of(&id), id);
        assert_eq!(
            s.tenant_id_of(directory::TENANT_DOMAIN),
            directory::TENANT_ID
        );
        assert_eq!(s.tenant_id_of("other.example.com"), "other.example.com");
        let f: Faults =
            serde_json::from_str(r#"{"tenant": "t.example.com", "throttle": 2}"#).unwrap();
        assert_eq!(f.tenant.as_deref(), Some("t.example.com"));
        // Without a tenant, the faults read back as before (no field).
        let none = serde_json::to_value(Faults::default()).unwrap();
        assert!(none.get("tenant").is_none());
    }

    #[test]
    fn events_fire_once_after_their_write() {
        let s = docs2025_state();
        s.set_faults(Faults {
            events: vec![
                FaultEvent {
                    after_writes: 0,
                    throttle: 1,
                    ..Default::default()
                },
                FaultEvent {
                    after_writes: 2,
                    remove_product: Some("CFQ7TTC0LH2H".into()),
                    throttle: 3,
                    retry_after_seconds: Some(2),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        assert_eq!(s.faults.lock().unwrap().throttle, 1);
        let write = |n: u64| {
            let mut d = s.data.lock().unwrap();
            s.record_write(
                &mut d,
                WriteRecord {
                    policy_id: P.into(),
                    scope: "product".into(),
                    id: format!("W{n}"),
                    previous_value: "Enabled".into(),
                    policy_value: "Disabled".into(),
                },
            );
        };
        write(1);
        assert_eq!(s.data.lock().unwrap().products[P].len(), 26);
        write(2);
        assert_eq!(s.data.lock().unwrap().products[P].len(), 25);
        let f = s.faults.lock().unwrap().clone();
        assert_eq!((f.throttle, f.retry_after_seconds), (4, 2));
        assert!(f.events.is_empty());
        write(3);
        assert_eq!(s.stats().updates, 3);
        assert_eq!(s.writes().len(), 3);
        s.reset();
        assert_eq!(s.data.lock().unwrap().products[P].len(), 26);
        assert!(s.writes().is_empty());
    }
}
