//! The emulator's in-memory state: where it listens, the product catalogue,
//! faults to inject, counters tests read, the token issuer and the
//! sign-ins in progress.

use super::directory;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The catalogue, copied from the shared products.json.
const CATALOGUE_JSON: &str = include_str!("../../data/products.json");

/// Which product list to start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Catalogue {
    /// The twelve products of the seed article (2021).
    #[default]
    Seed,
    /// The later list of the cmdlet reference's get-started page.
    Docs2023,
}

impl std::str::FromStr for Catalogue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "seed" => Ok(Catalogue::Seed),
            "docs2023" => Ok(Catalogue::Docs2023),
            _ => Err(format!("unknown product list '{s}'; use seed or docs2023")),
        }
    }
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
    /// Whether OnlyTrialsWithoutPaymentMethod may be set (docs2023 list).
    #[serde(skip)]
    pub trial_without_payment: bool,
}

#[derive(Debug, Clone)]
pub struct OfferType {
    pub id: String,
    pub policy_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogueFile {
    policies: Vec<CataloguePolicy>,
    products: Vec<CatalogueProduct>,
    products_docs2023: Vec<CatalogueProduct>,
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    pub latency_ms: u64,
    pub throttle: u32,
    pub retry_after_seconds: u64,
    pub server_errors: u32,
    pub server_error_status: u16,
    pub drop: u32,
    /// Answer the next N requests with 401 as for an expired token.
    pub expire_tokens: u32,
    /// Page size of listings (0: one page), to exercise next links.
    pub page_size: usize,
    /// Answer the next N requests with a body of 5 MiB (over the client's cap).
    pub oversize_body: u32,
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
    /// Successful PUTs.
    pub updates: u64,
    /// The User-Agent of the last licensing request.
    pub last_user_agent: String,
}

pub struct Data {
    pub policies: Vec<PolicyDef>,
    /// (policy id, products in catalogue order)
    pub products: HashMap<String, Vec<Product>>,
    pub offer_types: HashMap<String, Vec<OfferType>>,
}

pub struct State {
    /// The address the emulator listens on, and whether it serves TLS there.
    pub addr: SocketAddr,
    pub tls: bool,
    pub catalogue: Catalogue,
    pub data: Mutex<Data>,
    pub faults: Mutex<Faults>,
    pub base_latency_ms: u64,
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub updates: AtomicU64,
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
            catalogue,
            data: Mutex::new(load(catalogue)),
            faults: Mutex::new(Faults::default()),
            base_latency_ms,
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            updates: AtomicU64::new(0),
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
            last_user_agent: self
                .last_user_agent
                .lock()
                .map(|u| u.clone())
                .unwrap_or_default(),
        }
    }

    /// Back to the first catalogue, no faults, zero counters: the licensing
    /// side only. The identity side is left as it is, like the issuer's
    /// tokens and refresh tokens: sign-ins in progress (codes, device codes)
    /// and the browser's session outlive a reset.
    pub fn reset(&self) {
        if let Ok(mut d) = self.data.lock() {
            *d = load(self.catalogue);
        }
        if let Ok(mut f) = self.faults.lock() {
            *f = Faults::default();
        }
        for c in [
            &self.connections,
            &self.requests,
            &self.token_requests,
            &self.updates,
        ] {
            c.store(0, Ordering::SeqCst);
        }
        if let Ok(mut ua) = self.last_user_agent.lock() {
            ua.clear();
        }
    }
}

fn load(catalogue: Catalogue) -> Data {
    let file: CatalogueFile =
        serde_json::from_str(CATALOGUE_JSON).expect("data/products.json is valid (tested)");
    let list = match catalogue {
        Catalogue::Seed => &file.products,
        Catalogue::Docs2023 => &file.products_docs2023,
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
        products.insert(
            p.id.clone(),
            list.iter()
                .map(|c| Product {
                    product_name: c.product_name.clone(),
                    product_id: c.product_id.clone(),
                    policy_value: "Enabled".into(),
                    trial_without_payment: match catalogue {
                        Catalogue::Seed => true,
                        Catalogue::Docs2023 => c.trial_without_payment_method.unwrap_or(false),
                    },
                })
                .collect::<Vec<_>>(),
        );
        offer_types.insert(
            p.id.clone(),
            vec![OfferType {
                id: "Trial".into(),
                policy_value: "Enabled".into(),
            }],
        );
    }
    let _ = directory::TENANT_ID;
    Data {
        policies,
        products,
        offer_types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_load() {
        let seed = load(Catalogue::Seed);
        assert_eq!(seed.products["AllowSelfServicePurchase"].len(), 12);
        let later = load(Catalogue::Docs2023);
        assert!(later.products["AllowSelfServicePurchase"].len() > 12);
    }
}
