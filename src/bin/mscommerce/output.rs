//! Printing values as table, JSON or CSV. JSON is the value exactly as the
//! native ABI returns it; table and CSV show the same fields.

use super::args::OutputFormat;
use serde_json::Value;
use std::io::Write;

/// Column order: the published module's default table for product policies
/// (PolicyValue ProductId PolicyId ProductName), otherwise the value's own.
fn columns(rows: &[&serde_json::Map<String, Value>]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    let preferred = ["PolicyValue", "ProductId", "PolicyId", "ProductName"];
    if cols.iter().any(|c| c == "ProductId") {
        let mut ordered: Vec<String> = preferred
            .iter()
            .filter(|p| cols.iter().any(|c| c == *p))
            .map(|p| p.to_string())
            .collect();
        ordered.extend(
            cols.into_iter()
                .filter(|c| !preferred.contains(&c.as_str())),
        );
        return ordered;
    }
    cols
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn rows(value: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match value {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => vec![o],
        _ => vec![],
    }
}

pub fn render(value: &Value, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
            s.push('\n');
            s
        }
        OutputFormat::Table => table(value),
        OutputFormat::Csv => csv(value),
    }
}

pub fn table(value: &Value) -> String {
    let rows = rows(value);
    if rows.is_empty() {
        return String::new();
    }
    let cols = columns(&rows);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| cell(r.get(c))).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: &[String]| -> String {
        let mut s = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}", w = *w))
            .collect::<Vec<_>>()
            .join(" ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&cols);
    out.push_str(&line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for r in &cells {
        out.push_str(&line(r));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv(value: &Value) -> String {
    let rows = rows(value);
    if rows.is_empty() {
        return String::new();
    }
    let cols = columns(&rows);
    let mut out = cols
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for r in rows {
        out.push_str(
            &cols
                .iter()
                .map(|c| csv_field(&cell(r.get(c))))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

pub fn print(value: &Value, format: OutputFormat) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(render(value, format).as_bytes());
    let _ = out.flush();
}
