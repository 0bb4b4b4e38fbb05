//! Product ids that Microsoft replaced (data/products.json
//! `replacedProductIds`, a community source: likely, not official). A 404
//! for one of them names its successor; nothing is ever written to the
//! successor in its place.

use once_cell::sync::Lazy;
use serde::Deserialize;

const PRODUCTS_JSON: &str = include_str!("../data/products.json");

/// One replaced id and its successor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replacement {
    pub old: String,
    pub new: String,
    pub product_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    replaced_product_ids: Pairs,
}

#[derive(Deserialize)]
struct Pairs {
    pairs: Vec<Replacement>,
}

static REPLACEMENTS: Lazy<Vec<Replacement>> = Lazy::new(|| {
    serde_json::from_str::<File>(PRODUCTS_JSON)
        .map(|f| f.replaced_product_ids.pairs)
        .unwrap_or_default()
});

/// Every known replacement.
pub fn all() -> &'static [Replacement] {
    &REPLACEMENTS
}

/// The replacement of an id that Microsoft replaced (any case).
pub fn of(old_id: &str) -> Option<&'static Replacement> {
    REPLACEMENTS
        .iter()
        .find(|r| r.old.eq_ignore_ascii_case(old_id.trim()))
}

/// The replaced id whose successor this is (any case).
pub fn replacing(new_id: &str) -> Option<&'static Replacement> {
    REPLACEMENTS
        .iter()
        .find(|r| r.new.eq_ignore_ascii_case(new_id.trim()))
}

/// "CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user)",
/// for a replaced id.
pub fn message(old_id: &str) -> Option<String> {
    of(old_id).map(|r| format!("{} was replaced by {} ({})", r.old, r.new, r.product_name))
}

/// A NotFound error about `product_id` with the successor named, when it is
/// a replaced id; other errors unchanged.
pub fn explain(mut e: crate::Error, product_id: &str) -> crate::Error {
    if e.kind == crate::ErrorKind::NotFound {
        if let Some(m) = message(product_id) {
            e.message = format!("{}; {m}", e.message);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nine_pairs_are_embedded() {
        assert_eq!(all().len(), 9);
        assert_eq!(
            message("cfq7ttc0kp0n").as_deref(),
            Some("CFQ7TTC0KP0N was replaced by CFQ7TTC0LH3L (Power Automate per user)")
        );
        assert_eq!(replacing("CFQ7TTC0LH3L").unwrap().old, "CFQ7TTC0KP0N");
        assert!(of("CFQ7TTC0LH3L").is_none());
        let e = explain(
            crate::Error::new(crate::ErrorKind::NotFound, "not found"),
            "CFQ7TTC0KP0P",
        );
        assert_eq!(
            e.message,
            "not found; CFQ7TTC0KP0P was replaced by CFQ7TTC0LH2H (Power Apps per user)"
        );
        let e = explain(
            crate::Error::new(crate::ErrorKind::Throttled, "slow down"),
            "CFQ7TTC0KP0P",
        );
        assert_eq!(e.message, "slow down");
    }
}
