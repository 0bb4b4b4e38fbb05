//! Baselines (docs/bulk-and-baselines.md §3): a file of the value each
//! product must have and a rule for the others, the drift of a tenant from
//! one, and the selection that applies one through [`crate::bulk`].

use crate::bulk::{Listed, Named, Origin, Selection, MAX_PRODUCT_IDS};
use crate::error::{Error, Result};
use crate::model::{canonical_value, KNOWN_VALUES};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// `OtherProducts` that leaves the products the file does not name alone.
pub const KEEP: &str = "Keep";

/// A baseline, with the file's property names and order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Baseline {
    #[serde(alias = "policyId")]
    pub policy_id: String,
    #[serde(alias = "tenantId", default)]
    pub tenant_id: Option<String>,
    #[serde(alias = "exportedAt", default)]
    pub exported_at: Option<String>,
    #[serde(alias = "tool", default)]
    pub tool: Option<String>,
    #[serde(alias = "products")]
    pub products: Vec<BaselineProduct>,
    /// `Keep`, or the value every product not named must have.
    #[serde(alias = "otherProducts", default = "keep")]
    pub other_products: String,
}

fn keep() -> String {
    KEEP.to_string()
}

/// One product of a baseline (the name is for people; the id rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BaselineProduct {
    #[serde(alias = "productId")]
    pub product_id: String,
    #[serde(alias = "productName", default)]
    pub product_name: Option<String>,
    #[serde(alias = "policyValue")]
    pub policy_value: String,
}

/// Why a product drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// Named in the baseline with another value.
    Differs,
    /// Not named; OtherProducts is a value it does not have.
    NotInBaseline,
    /// Named in the baseline, not in the tenant.
    NotInTenant,
}

/// One difference between a tenant and a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Drift {
    pub product_id: String,
    pub product_name: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub reason: Reason,
}

/// `Keep` (any case) as `None`, a known value as its canonical spelling.
pub fn other_products_rule(rule: &str) -> Result<Option<&'static str>> {
    if rule.trim().eq_ignore_ascii_case(KEEP) {
        return Ok(None);
    }
    canonical_value(rule).map(Some).ok_or_else(|| {
        Error::invalid(format!(
            "OtherProducts '{}' is not valid; use Keep, {}",
            crate::text::echo(rule),
            KNOWN_VALUES.join(", ")
        ))
    })
}

impl Baseline {
    /// A baseline from a request's `baseline`: the object, or a string
    /// holding it (a file's text). Checked (see [`Baseline::check`]).
    pub fn from_json(v: &serde_json::Value) -> Result<Self> {
        let parsed: Baseline = match v {
            serde_json::Value::String(text) => {
                crate::options::parse_json_object("baseline", text.trim_start_matches('\u{feff}'))?
            }
            serde_json::Value::Object(_) => serde_json::from_value(v.clone())
                .map_err(|e| Error::invalid(format!("baseline: {e}")))?,
            _ => {
                return Err(Error::invalid(
                    "baseline must be a baseline object or a string holding one",
                ))
            }
        };
        parsed.check()
    }

    /// Ids valid, no id twice, values known ones in their canonical
    /// spelling (others kept as given: compared, never written),
    /// OtherProducts `Keep` or a value.
    pub fn check(mut self) -> Result<Self> {
        crate::ids::validate_id("baseline PolicyId", &self.policy_id)?;
        if self.products.len() > MAX_PRODUCT_IDS {
            return Err(Error::invalid(format!(
                "the baseline names {} products; at most {MAX_PRODUCT_IDS}",
                self.products.len()
            )));
        }
        let mut seen = HashSet::new();
        for p in &mut self.products {
            crate::ids::validate_id("baseline ProductId", &p.product_id)?;
            if !seen.insert(p.product_id.to_ascii_lowercase()) {
                return Err(Error::invalid(format!(
                    "the baseline names ProductId '{}' twice",
                    p.product_id
                )));
            }
            match canonical_value(&p.policy_value) {
                Some(v) => p.policy_value = v.to_string(),
                None => crate::ids::validate_id(
                    &format!("baseline PolicyValue of {}", p.product_id),
                    &p.policy_value,
                )?,
            }
        }
        self.other_products = match other_products_rule(&self.other_products)? {
            Some(v) => v.to_string(),
            None => KEEP.to_string(),
        };
        Ok(self)
    }

    /// `OtherProducts` as a value, `None` for Keep.
    pub fn others(&self) -> Option<&'static str> {
        other_products_rule(&self.other_products).ok().flatten()
    }

    /// Refuse a baseline of another tenant (when both ids are GUIDs: a
    /// tenant's domain name and its GUID cannot be compared here).
    pub fn check_tenant(&self, tenant: Option<&str>) -> Result<()> {
        let file = self
            .tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let (Some(file), Some(ours)) = (file, tenant) {
            let guid = |t: &str| uuid::Uuid::parse_str(t).ok();
            if let (Some(a), Some(b)) = (guid(file), guid(ours)) {
                if a != b {
                    return Err(Error::invalid(format!(
                        "the baseline is of tenant {a}, and this connection is to tenant {b}; remove its TenantId (or set it to null) to use it for other tenants"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The baseline of a tenant's products now.
    pub fn export(
        policy_id: &str,
        tenant_id: Option<String>,
        products: &[Listed],
        other_products: &str,
    ) -> Result<Self> {
        let now = time::OffsetDateTime::now_utc();
        let at = now.replace_nanosecond(0).unwrap_or(now);
        Baseline {
            policy_id: policy_id.to_string(),
            tenant_id,
            exported_at: at
                .format(&time::format_description::well_known::Rfc3339)
                .ok(),
            tool: Some(format!("mscommerce {}", env!("CARGO_PKG_VERSION"))),
            products: products
                .iter()
                .map(|p| BaselineProduct {
                    product_id: p.product_id.clone(),
                    product_name: p.product_name.clone(),
                    policy_value: p.policy_value.clone(),
                })
                .collect(),
            other_products: other_products.to_string(),
        }
        .check()
    }

    /// The drift of a tenant's products from this baseline: the named ones
    /// in file order, then the others in listing order.
    pub fn drift(&self, products: &[Listed]) -> Vec<Drift> {
        let tenant: HashMap<String, &Listed> = products
            .iter()
            .map(|p| (p.product_id.to_ascii_lowercase(), p))
            .collect();
        let named: HashSet<String> = self
            .products
            .iter()
            .map(|p| p.product_id.to_ascii_lowercase())
            .collect();
        let mut out = Vec::new();
        for b in &self.products {
            match tenant.get(&b.product_id.to_ascii_lowercase()) {
                Some(t) if t.policy_value.eq_ignore_ascii_case(&b.policy_value) => {}
                Some(t) => out.push(Drift {
                    product_id: t.product_id.clone(),
                    product_name: t.product_name.clone(),
                    expected: Some(b.policy_value.clone()),
                    actual: Some(t.policy_value.clone()),
                    reason: Reason::Differs,
                }),
                None => out.push(Drift {
                    product_id: b.product_id.clone(),
                    product_name: b.product_name.clone(),
                    expected: Some(b.policy_value.clone()),
                    actual: None,
                    reason: Reason::NotInTenant,
                }),
            }
        }
        if let Some(v) = self.others() {
            for t in products {
                if !named.contains(&t.product_id.to_ascii_lowercase())
                    && !t.policy_value.eq_ignore_ascii_case(v)
                {
                    out.push(Drift {
                        product_id: t.product_id.clone(),
                        product_name: t.product_name.clone(),
                        expected: Some(v.to_string()),
                        actual: Some(t.policy_value.clone()),
                        reason: Reason::NotInBaseline,
                    });
                }
            }
        }
        out
    }

    /// What applying it means: each named product to its value, the others
    /// to OtherProducts unless Keep; the successor of a replaced id that
    /// the file names, itself not named, is not written by the
    /// OtherProducts rule.
    pub fn selection(&self) -> Selection {
        let named_ids: HashSet<String> = self
            .products
            .iter()
            .map(|p| p.product_id.to_ascii_lowercase())
            .collect();
        let protected = self
            .products
            .iter()
            .filter_map(|p| crate::replaced::of(&p.product_id))
            .filter(|r| !named_ids.contains(&r.new.to_ascii_lowercase()))
            .map(|r| (r.new.to_ascii_lowercase(), r.old.clone()))
            .collect();
        Selection {
            policy_id: self.policy_id.clone(),
            origin: Origin::Baseline,
            named: self
                .products
                .iter()
                .map(|p| Named {
                    product_id: p.product_id.clone(),
                    product_name: p.product_name.clone(),
                    value: p.policy_value.clone(),
                })
                .collect(),
            others: self.others(),
            except: HashSet::new(),
            protected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed(id: &str, value: &str) -> Listed {
        Listed {
            product_id: id.into(),
            product_name: Some(format!("{id} name")),
            policy_value: value.into(),
        }
    }

    #[test]
    fn the_file_format_round_trips_in_its_order() {
        let b = Baseline::export(
            "AllowSelfServicePurchase",
            Some("9f3c8b1e-0000-4000-8000-000000000001".into()),
            &[listed("A", "Enabled"), listed("B", "Disabled")],
            "Disabled",
        )
        .unwrap();
        let text = serde_json::to_string(&b).unwrap();
        assert!(text.starts_with(r#"{"PolicyId":"AllowSelfServicePurchase","TenantId":"9f3c8b1e-0000-4000-8000-000000000001","ExportedAt":""#), "{text}");
        assert!(text.contains(r#""Tool":"mscommerce "#), "{text}");
        assert!(text.ends_with(r#""Products":[{"ProductId":"A","ProductName":"A name","PolicyValue":"Enabled"},{"ProductId":"B","ProductName":"B name","PolicyValue":"Disabled"}],"OtherProducts":"Disabled"}"#), "{text}");
        let back = Baseline::from_json(&serde_json::Value::String(text)).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn files_are_read_strictly() {
        let ok = Baseline::from_json(&json!({"policyId": "P", "products": [
            {"productId": "A", "policyValue": "disabled"}], "otherProducts": "keep"}))
        .unwrap();
        assert_eq!(ok.products[0].policy_value, "Disabled");
        assert_eq!(ok.other_products, "Keep");
        assert_eq!(ok.others(), None);
        let absent = Baseline::from_json(&json!({"PolicyId": "P", "Products": []})).unwrap();
        assert_eq!(absent.other_products, "Keep");
        for (bad, says) in [
            (
                json!({"PolicyId": "P", "Products": [], "OtherProduct": "Disabled"}),
                "OtherProduct",
            ),
            (
                json!({"PolicyId": "P", "Products": [], "OtherProducts": "Off"}),
                "OtherProducts 'Off'",
            ),
            (json!({"PolicyId": "P"}), "Products"),
            (
                json!({"PolicyId": "P", "Products": [{"ProductId": "A"}]}),
                "PolicyValue",
            ),
            (
                json!({"PolicyId": "P", "Products": [{"ProductId": "A/..", "PolicyValue": "Enabled"}]}),
                "ProductId",
            ),
            (
                json!({"PolicyId": "P", "Products": [
                {"ProductId": "A", "PolicyValue": "Enabled"}, {"ProductId": "a", "PolicyValue": "Enabled"}]}),
                "twice",
            ),
            (json!([1]), "baseline"),
            (json!("not json"), "baseline"),
        ] {
            let e = Baseline::from_json(&bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
            assert!(e.message.contains(says), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn drift_names_each_reason() {
        let b = Baseline::from_json(&json!({"PolicyId": "P", "Products": [
            {"ProductId": "A", "PolicyValue": "Disabled"},
            {"ProductId": "B", "PolicyValue": "Enabled"},
            {"ProductId": "GONE", "ProductName": "Gone", "PolicyValue": "Disabled"}],
            "OtherProducts": "Disabled"}))
        .unwrap();
        let tenant = [
            listed("a", "Disabled"),
            listed("B", "Disabled"),
            listed("NEW", "Enabled"),
            listed("OLD", "Disabled"),
        ];
        let d = b.drift(&tenant);
        let reasons: Vec<(&str, Reason)> = d
            .iter()
            .map(|d| (d.product_id.as_str(), d.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("B", Reason::Differs),
                ("GONE", Reason::NotInTenant),
                ("NEW", Reason::NotInBaseline)
            ]
        );
        assert_eq!(d[2].expected.as_deref(), Some("Disabled"));
        assert_eq!(d[1].actual, None);
        let keep = Baseline {
            other_products: "Keep".into(),
            ..b
        };
        assert_eq!(keep.drift(&tenant).len(), 2);
    }

    #[test]
    fn tenants_are_compared_when_both_are_guids() {
        let b = Baseline::from_json(&json!({"PolicyId": "P", "Products": [],
            "TenantId": "9f3c8b1e-0000-4000-8000-000000000001"}))
        .unwrap();
        assert!(b
            .check_tenant(Some("9F3C8B1E-0000-4000-8000-000000000001"))
            .is_ok());
        assert!(b.check_tenant(Some("contoso.onmicrosoft.com")).is_ok());
        assert!(b.check_tenant(None).is_ok());
        let e = b
            .check_tenant(Some("9f3c8b1e-0000-4000-8000-000000000002"))
            .unwrap_err();
        assert!(e.message.contains("remove its TenantId"), "{}", e.message);
    }

    #[test]
    fn a_named_replaced_id_protects_its_successor() {
        let b = Baseline::from_json(&json!({"PolicyId": "P", "Products": [
            {"ProductId": "CFQ7TTC0KP0N", "PolicyValue": "Enabled"}], "OtherProducts": "Disabled"}))
        .unwrap();
        let s = b.selection();
        assert_eq!(
            s.protected.get("cfq7ttc0lh3l").map(String::as_str),
            Some("CFQ7TTC0KP0N")
        );
        assert_eq!(s.others, Some("Disabled"));
    }
}
