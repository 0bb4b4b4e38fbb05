//! Printing values as table, JSON or CSV. JSON is the value exactly as the
//! native ABI returns it (its strings escape control characters); table and
//! CSV show the same fields, with control characters escaped, so text from
//! a service cannot run terminal escape sequences.

use super::args::OutputFormat;
use serde_json::Value;
use std::borrow::Cow;
use std::io::Write;
use std::sync::Mutex;

/// Whether `c` must not reach a terminal raw: control characters (C0, DEL,
/// C1), the line and paragraph separators, and the bidirectional overrides
/// and isolates that reorder what is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character escaped as Rust writes it (`\n`,
/// `\u{1b}`): one line, no escape sequences, nothing hidden.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

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
        Some(Value::String(s)) => clean(s).into_owned(),
        Some(other) => clean(&other.to_string()).into_owned(),
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
    let cols = columns(&rows);
    table_of(&rows, &cols)
}

fn table_of(rows: &[&serde_json::Map<String, Value>], cols: &[String]) -> String {
    if rows.is_empty() {
        return String::new();
    }
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
                .chain([clean(c).chars().count()])
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
    let heads: Vec<String> = cols.iter().map(|c| clean(c).into_owned()).collect();
    let mut out = line(&heads);
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
    let cols = columns(&rows);
    csv_of(&rows, &cols)
}

fn csv_of(rows: &[&serde_json::Map<String, Value>], cols: &[String]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = cols
        .iter()
        .map(|c| csv_field(&clean(c)))
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

/// `value` with these columns, in this order, in a table or CSV (JSON: the
/// value as it is).
pub fn render_columns(value: &Value, format: OutputFormat, cols: &[&str]) -> String {
    let rows = rows(value);
    let cols: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
    match format {
        OutputFormat::Json => render(value, format),
        OutputFormat::Table => table_of(&rows, &cols),
        OutputFormat::Csv => csv_of(&rows, &cols),
    }
}

/// [`print`] with [`render_columns`].
pub fn print_columns(value: &Value, format: OutputFormat, cols: &[&str]) {
    write_out(&render_columns(value, format, cols));
}

/// The first error writing to stdout, kept for the exit status.
static WRITE_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Print `value` to stdout. A write error (a full disk, a closed pipe) is
/// kept and makes the command fail at its end (see [`write_error`]).
pub fn print(value: &Value, format: OutputFormat) {
    write_out(&render(value, format));
}

fn write_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(e) = written {
        let mut kept = WRITE_ERROR.lock().unwrap_or_else(|p| p.into_inner());
        kept.get_or_insert_with(|| e.to_string());
    }
}

/// The first error writing the output, if any.
pub fn write_error() -> Option<String> {
    WRITE_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// A line for people on stderr, with unsafe characters escaped. An error
/// writing to stderr is ignored: there is nowhere left to report it.
pub fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", clean_lines(line));
    let _ = err.flush();
}

/// `s` cleaned line by line: its own newlines stay, everything else unsafe
/// is escaped.
fn clean_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| clean(l))
        .collect::<Vec<_>>()
        .join("\n")
}
