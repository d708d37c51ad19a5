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
    let started = Instant::now();
    let r = now(&a.data, a.grace)?;
    eprintln!("{}", describe(&r, started.elapsed(), a.grace));
    if !r.problems.is_empty() {
        anyhow::bail!("{} file(s) could not be merged", r.problems.len());
    }
    Ok(())
}

/// Every hour merged now (written files too), replaced files removed after
/// `grace`.
pub fn now(data: &Path, grace: Duration) -> anyhow::Result<CompactReport> {
    let options = CompactOptions {
        settle: Duration::ZERO,
        grace,
        ..CompactOptions::default()
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let r = compact(data, &options, &WriteOptions::default(), now_ms, &|| false)
        .with_context(|| format!("cannot compact {}", data.display()))?;
    for p in &r.problems {
        eprintln!("not merged: {p}");
    }
    Ok(r)
}

fn describe(r: &CompactReport, took: Duration, grace: Duration) -> String {
    if r.files_in == 0 {
        let removed = if r.removed > 0 {
            format!("; removed {} replaced files", r.removed)
        } else {
            String::new()
        };
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
    if grace.is_zero() || r.removed > 0 {
        text.push_str(&format!("; removed {} replaced files", r.removed));
    }
    if !grace.is_zero() {
        text.push_str(&format!(
            "; the files they replace are removed after {}s by the next run or the collector",
            grace.as_secs()
        ));
    }
    text
}
