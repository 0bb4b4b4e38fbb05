//! `baseline export | test | apply` (docs/bulk-and-baselines.md §3): the
//! file is read and written here; comparing and applying are the library's.

use super::args::{BaselineCommand, Global, OutputFormat};
use super::bulk::Run;
use super::fleet::{Fleet, Kind, Tenants};
use super::messages::{Failure, Stage};
use super::output::{self, say};
use super::Outcome;
use mscommerce::log::CallLog;
use mscommerce::{Error, Session};
use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;

/// Exit status of `baseline test` when the tenant has drifted.
pub const EXIT_DRIFT: u8 = 1;

/// The largest baseline file read (10000 products take about 1.5 MB).
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The columns of the drift objects in a table or CSV.
pub const DRIFT_COLUMNS: [&str; 5] = ["ProductId", "ProductName", "Expected", "Actual", "Reason"];

/// A path as shown in a message.
pub fn shown(path: &Path) -> String {
    mscommerce::text::clipped(&path.display().to_string(), 200)
}

/// Checks made before signing in: `export` refuses an existing file
/// (without `--force`), `test` and `apply` read theirs.
pub enum Prepared {
    Export,
    File(String),
}

pub fn prepare(cmd: &BaselineCommand, tenants: Option<&Tenants>) -> Outcome<Prepared> {
    match cmd {
        BaselineCommand::Export { file, force, .. } => {
            if !force && file.exists() {
                return Err(exists(file).into());
            }
            Ok(Prepared::Export)
        }
        BaselineCommand::Test { file, .. } | BaselineCommand::Apply { file, .. } => {
            let text = read(file)?;
            if let Some(tenants) = tenants {
                // Said once, before signing in, rather than once per tenant.
                let whole = serde_json::Value::String(text.clone());
                if let Err(e) = mscommerce::baseline::Baseline::from_json(&whole) {
                    let prefix = format!("--file {} is not a usable baseline", shown(file));
                    return Err(e.context(&prefix).into());
                }
                super::fleet::check_template(&text, &shown(file), tenants)?;
            }
            Ok(Prepared::File(text))
        }
    }
}

fn exists(file: &Path) -> Error {
    Error::invalid(format!(
        "--file {} exists; give --force to replace it",
        shown(file)
    ))
}

/// The baseline file's text, bounded.
fn read(file: &Path) -> mscommerce::Result<String> {
    read_text("--file", file, MAX_FILE_BYTES)
}

/// A text file given with `flag`, at most `max` bytes of UTF-8; an error
/// names the flag and the file.
pub fn read_text(flag: &str, file: &Path, max: u64) -> mscommerce::Result<String> {
    let cannot = |e: &dyn std::fmt::Display| {
        Error::invalid(format!("{flag} {} cannot be read: {e}", shown(file)))
    };
    let f = std::fs::File::open(file).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > max {
        return Err(cannot(&format_args!(
            "it is larger than {} MiB",
            max / 1024 / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|_| cannot(&"it is not UTF-8 text"))
}

/// A library error about the file's content, naming the file.
fn about_file(file: &Path) -> impl FnOnce(Error) -> Failure + '_ {
    move |e| {
        let stage = Stage::Call;
        if e.kind == mscommerce::ErrorKind::InvalidArgument {
            let prefix = format!("--file {} is not a usable baseline", shown(file));
            return Failure::at(stage)(e.context(&prefix));
        }
        Failure::at(stage)(e)
    }
}

/// Run the command (signed in); the exit status.
pub async fn run(
    cmd: &BaselineCommand,
    prepared: Prepared,
    session: &Session,
    g: &Global,
    format: OutputFormat,
    tenants: Option<&Tenants>,
) -> Outcome<u8> {
    let log = CallLog::new();
    match (cmd, prepared) {
        (
            BaselineCommand::Export {
                file,
                other_products,
                policy,
                force,
            },
            _,
        ) => {
            let request = json!({"resource": "baseline", "policyId": policy.policy_id, "otherProducts": other_products});
            let baseline = session
                .get(&request.to_string(), &log)
                .await
                .map_err(Failure::at(Stage::Call))?;
            let mut text = serde_json::to_string_pretty(&baseline)
                .map_err(|e| Error::internal(format!("the baseline cannot be written: {e}")))?;
            text.push('\n');
            write_atomically(file, text.as_bytes(), *force)?;
            let count = baseline["Products"].as_array().map_or(0, Vec::len);
            say(&format!(
                "baseline: wrote {count} products of policy '{}' to {} (OtherProducts {})",
                policy.policy_id,
                shown(file),
                baseline["OtherProducts"].as_str().unwrap_or("Keep")
            ));
            Ok(0)
        }
        (BaselineCommand::Test { file, .. }, Prepared::File(text)) => {
            let request = json!({"resource": "baselineDrift", "baseline": text});
            if let Some(tenants) = tenants {
                let run = Fleet {
                    label: "baseline test",
                    kind: Kind::Drift,
                    tenants,
                };
                return run.get(session, request, format).await;
            }
            let drift = session
                .get(&request.to_string(), &log)
                .await
                .map_err(about_file(file))?;
            let count = drift.as_array().map_or(0, Vec::len);
            output::print_columns(&drift, format, &DRIFT_COLUMNS);
            if count == 0 {
                say(&format!("baseline: no drift from {}", shown(file)));
                return Ok(0);
            }
            say(&format!(
                "baseline: {count} product{} drifted from {}",
                if count == 1 { "" } else { "s" },
                shown(file)
            ));
            Ok(EXIT_DRIFT)
        }
        (BaselineCommand::Apply { file, bulk, .. }, Prepared::File(text)) => {
            if let Some(tenants) = tenants {
                let run = Fleet {
                    label: "baseline apply",
                    kind: Kind::Change {
                        what_if: bulk.what_if,
                    },
                    tenants,
                };
                return run
                    .update(session, json!({ "baseline": text }), bulk, format)
                    .await;
            }
            let run = Run {
                label: "baseline apply",
                args: bulk,
            };
            run.go(session, json!({ "baseline": text }), g, format)
                .await
                .map_err(|f| match f.stage {
                    Stage::Call => about_file(file)(f.error),
                    _ => f,
                })
        }
        (_, Prepared::Export) => {
            Err(Error::internal("internal error (a bug): the baseline file was not read").into())
        }
    }
}

/// Write `bytes` to `file` whole or not at all: a temporary file next to
/// it, synced, then moved into place. Without `force`, an existing file
/// is kept (the move is a hard link, which refuses to replace one).
fn write_atomically(file: &Path, bytes: &[u8], force: bool) -> mscommerce::Result<()> {
    let cannot = |e: std::io::Error| {
        Error::invalid(format!("--file {} cannot be written: {e}", shown(file)))
    };
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = file
        .file_name()
        .ok_or_else(|| Error::invalid(format!("--file {} is not a file name", shown(file))))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(cannot(e));
    }
    let placed = if force {
        std::fs::rename(&tmp, file)
    } else {
        match std::fs::hard_link(&tmp, file) {
            Ok(()) => std::fs::remove_file(&tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(&tmp);
                return Err(exists(file));
            }
            // A file system without hard links: check, then move.
            Err(_) if !file.exists() => std::fs::rename(&tmp, file),
            Err(_) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(exists(file));
            }
        }
    };
    placed.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cannot(e)
    })
}

/// Whether a baseline command writes to the tenant (for the message when
/// the output cannot be written).
pub fn changes(cmd: &BaselineCommand) -> bool {
    matches!(cmd, BaselineCommand::Apply { bulk, .. } if !bulk.what_if)
}
