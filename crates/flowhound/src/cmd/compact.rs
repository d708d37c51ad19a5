use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use flowhound_store::{compact, CompactOptions, CompactReport, WriteOptions};

use crate::args::CompactArgs;
use crate::units::human;

pub fn run(a: CompactArgs) -> anyhow::Result<()> {
    if !a.data.join("flows").is_dir() {
        return Err(crate::units::user(format!(
            "no flows in {} (expected {}/flows/YYYY/MM/DD/HH/)",
            a.data.display(),
            a.data.display()
        )));
    }
    let grace = a.grace.unwrap_or_else(|| default_grace(&a.data));
    let started = Instant::now();
    let r = now(&a.data, grace)?;
    eprintln!("{}", describe(&r, started.elapsed(), grace));
    if !r.problems.is_empty() {
        anyhow::bail!("{} group(s) of files could not be merged", r.problems.len());
    }
    Ok(())
}

/// Every hour merged now (the current one too), replaced files removed
/// after `grace`.
pub fn now(data: &Path, grace: Duration) -> anyhow::Result<CompactReport> {
    merge(
        data,
        CompactOptions {
            settle: Duration::ZERO,
            grace,
            ..CompactOptions::default()
        },
    )
}

/// The hours starting at `hours` (Unix ms) merged now, e.g. those an import
/// wrote.
pub fn hours(data: &Path, hours: Vec<i64>) -> anyhow::Result<CompactReport> {
    if hours.is_empty() {
        return Ok(CompactReport::default());
    }
    merge(
        data,
        CompactOptions {
            settle: Duration::ZERO,
            grace: default_grace(data),
            only_hours: Some(hours),
            ..CompactOptions::default()
        },
    )
}

fn merge(data: &Path, options: CompactOptions) -> anyhow::Result<CompactReport> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let r = compact(data, &options, &WriteOptions::default(), now_ms, &|| false)
        .with_context(|| format!("cannot compact {}", data.display()))?;
    for p in &r.problems {
        eprintln!("not merged: {p}");
    }
    Ok(r)
}

/// Replaced files go at once, unless a collector is running on the
/// directory: analysts' queries may be reading them, and the collector's
/// next round removes them ten minutes on.
fn default_grace(data: &Path) -> Duration {
    let running = std::fs::File::open(data.join(".collector.lock"))
        .is_ok_and(|f| f.try_lock_shared().is_err());
    if running {
        CompactOptions::default().grace
    } else {
        Duration::ZERO
    }
}

fn describe(r: &CompactReport, took: Duration, grace: Duration) -> String {
    let removed = format!("; removed {} replaced files", r.removed);
    if r.files_in == 0 {
        let removed = if r.removed > 0 { removed.as_str() } else { "" };
        return format!("nothing to merge: every hour is one file{removed}");
    }
    let mut text = format!(
        "merged {} files into {} in {} hours: {} flows, {}B -> {}B, in {:.1} s",
        r.files_in,
        r.files_out,
        r.hours,
        human(r.flows),
        human(r.bytes_in),
        human(r.bytes_out),
        took.as_secs_f64()
    );
    if grace.is_zero() {
        text.push_str(&removed);
    } else {
        text.push_str(&format!(
            "; the files they replace stay {} s for queries reading them, then the collector \
             (or the next run) removes them",
            grace.as_secs()
        ));
    }
    text
}
