//! The service's wire shapes (camelCase, tolerant of extra and missing
//! fields) and the values handed to hosts, which carry the PowerShell
//! property names (`PolicyId`, `ProductName`, `ProductId`, `PolicyValue`, …).

use serde::{Deserialize, Serialize};

/// The policy values the service is known to accept on PUT. Listings may
/// carry others (`OnlyTrialsWithPaymentMethod` has been seen); those are
/// passed through as data.
pub const KNOWN_VALUES: [&str; 3] = ["Enabled", "Disabled", "OnlyTrialsWithoutPaymentMethod"];

/// The one policy known to exist.
pub const DEFAULT_POLICY_ID: &str = "AllowSelfServicePurchase";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WirePolicy {
    pub id: Option<String>,
    pub description: Option<String>,
    pub default_value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WirePolicyItem {
    pub policy_id: Option<String>,
    pub product_name: Option<String>,
    pub product_id: Option<String>,
    pub policy_value: Option<String>,
    pub scope: Option<String>,
    pub scope_id: Option<String>,
    pub scope_value: Option<String>,
}

/// `Get-MSCommercePolicy` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub policy_id: Option<String>,
    pub description: Option<String>,
    pub default_value: Option<String>,
}

/// `Get-MSCommerceProductPolicy` output. The fields are in the order the
/// published module's objects list their properties on Windows PowerShell
/// 5.1 (`PolicyValue ProductId PolicyId ProductName`): serde writes them in
/// this order, and the PowerShell objects made from the JSON keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProductPolicy {
    pub policy_value: Option<String>,
    pub product_id: Option<String>,
    pub policy_id: Option<String>,
    pub product_name: Option<String>,
}

/// An offer type, or an item of a non-product scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScopePolicy {
    pub policy_id: Option<String>,
    pub policy_value: Option<String>,
    pub scope: Option<String>,
    pub scope_id: Option<String>,
    pub scope_value: Option<String>,
}

/// One item of a products listing: a product, or an item of another scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PolicyItem {
    Product(ProductPolicy),
    Scope(ScopePolicy),
}

impl From<WirePolicy> for Policy {
    fn from(w: WirePolicy) -> Self {
        Policy {
            policy_id: w.id,
            description: w.description,
            default_value: w.default_value,
        }
    }
}

impl From<WirePolicyItem> for ProductPolicy {
    fn from(w: WirePolicyItem) -> Self {
        ProductPolicy {
            policy_value: w.policy_value,
            product_id: w.product_id,
            policy_id: w.policy_id,
            product_name: w.product_name,
        }
    }
}

impl From<WirePolicyItem> for ScopePolicy {
    fn from(w: WirePolicyItem) -> Self {
        ScopePolicy {
            policy_id: w.policy_id,
            policy_value: w.policy_value,
            scope: w.scope,
            scope_id: w.scope_id,
            scope_value: w.scope_value,
        }
    }
}

impl From<WirePolicyItem> for PolicyItem {
    /// An item is a product when its scope is absent or `product` and it
    /// names a product; anything else keeps its scope fields.
    fn from(w: WirePolicyItem) -> Self {
        let product_scope = w
            .scope
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("product"));
        if product_scope && w.product_id.is_some() {
            PolicyItem::Product(w.into())
        } else {
            PolicyItem::Scope(w.into())
        }
    }
}

/// What to set: `Enabled`, `Disabled` or `OnlyTrialsWithoutPaymentMethod`.
/// Accepts any case and returns the canonical spelling.
pub fn canonical_value(value: &str) -> Option<&'static str> {
    KNOWN_VALUES
        .iter()
        .copied()
        .find(|v| v.eq_ignore_ascii_case(value.trim()))
}

/// The published `-Enabled` switch as a string: `True`/`False` in any case
/// (also `$true`/`$false` as typed in a string) map to Enabled/Disabled.
pub fn value_from_enabled(enabled: &str) -> Option<&'static str> {
    let t = enabled.trim().trim_start_matches('$');
    if t.eq_ignore_ascii_case("true") {
        Some("Enabled")
    } else if t.eq_ignore_ascii_case("false") {
        Some("Disabled")
    } else {
        None
    }
}

/// The value to set: `value` (Enabled, Disabled,
/// OnlyTrialsWithoutPaymentMethod, any case) or `enabled` (true/false,
/// "True"/"False", any case), exactly one of them. Shared by the C ABI's
/// update request and the CLI, so both refuse the same input alike.
pub fn requested_value(
    value: Option<&str>,
    enabled: Option<&serde_json::Value>,
) -> crate::error::Result<&'static str> {
    use crate::error::Error;
    use serde_json::Value;
    match (value, enabled) {
        (Some(_), Some(_)) => Err(Error::invalid("give value or enabled, not both")),
        (Some(v), None) => canonical_value(v).ok_or_else(|| {
            Error::invalid(format!(
                "value '{}' is not valid; use {}",
                crate::text::echo(v),
                KNOWN_VALUES.join(", ")
            ))
        }),
        (None, Some(Value::Bool(b))) => Ok(if *b { "Enabled" } else { "Disabled" }),
        (None, Some(Value::String(s))) => value_from_enabled(s).ok_or_else(|| {
            Error::invalid(format!(
                "Enabled must be True or False ($True, $False, 'True', 'False'); got '{}'",
                crate::text::echo(s)
            ))
        }),
        (None, Some(other)) => Err(Error::invalid(format!(
            "Enabled must be True or False; got {}",
            crate::text::echo(&other.to_string())
        ))),
        (None, None) => Err(Error::invalid("value (or enabled) is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_by_scope() {
        let p: PolicyItem = serde_json::from_str::<WirePolicyItem>(
            r#"{"policyId":"P","productName":"N","productId":"X","policyValue":"Enabled","scope":"product","extra":1}"#,
        )
        .unwrap()
        .into();
        assert!(matches!(p, PolicyItem::Product(_)));
        let s: PolicyItem = serde_json::from_str::<WirePolicyItem>(
            r#"{"policyId":"P","policyValue":"Disabled","scope":"offerType","scopeId":"Trial","scopeValue":"Trial"}"#,
        )
        .unwrap()
        .into();
        assert!(matches!(s, PolicyItem::Scope(_)));
    }

    #[test]
    fn values_and_enabled() {
        assert_eq!(canonical_value("disabled"), Some("Disabled"));
        assert_eq!(
            canonical_value("ONLYTRIALSWITHOUTPAYMENTMETHOD"),
            Some("OnlyTrialsWithoutPaymentMethod")
        );
        assert_eq!(canonical_value("OnlyTrialsWithPaymentMethod"), None);
        assert_eq!(value_from_enabled("TRUE"), Some("Enabled"));
        assert_eq!(value_from_enabled("$False"), Some("Disabled"));
        assert_eq!(value_from_enabled("yes"), None);
    }
}
