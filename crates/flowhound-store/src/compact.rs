//! Compaction: an hour's many small files become one large one.
//!
//! A collector writes a file per epoch (a minute, or a million flows), so a
//! live hour has sixty files or more. Every file costs a query its footer,
//! its page index and a Bloom filter per row group, whether or not it holds
//! a matching flow; one host over a day read 1,440 footers. Once an hour has
//! settled, its files are merged into one, sorted as the writer sorts.
//!
//! Readers never see a flow twice or miss one, at any instant:
//!
//! 1. the merged file is written under a hidden temp name;
//! 2. its record `<name>.covers`, listing the files it replaces, is
//!    written (temp, `fsync`, rename);
//! 3. the merged file is renamed into place. From this moment readers skip
//!    the files the record lists; before it, the record is ignored because
//!    its file does not exist.
//! 4. After a grace period (queries that listed the old files may still be
//!    reading them), the replaced files are removed, and records whose file
//!    is gone with them.
//!
//! A file the record names that appears again later (a collector replaying
//! its write-ahead log after a crash rewrites the epoch's file under the
//! same name) stays skipped: its flows are in the merged file. A merged file
//! merged again passes its record's names on to the new record.
//!
//! One process compacts or expires a data directory at a time
//! (`flows/.maintenance.lock`).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::fsutil::sync_dir;
use crate::layout::{self, covers_text, Partition, COVERS_EXT, MERGED_PREFIX};
use crate::read::read_whole;
use crate::write::{ParquetWriter, WriteOptions, HOUR_MS};
use crate::StoreError;

/// When and how much [`compact`] merges.
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// An hour is merged once it ended this long ago and its newest file
    /// is this old: flows keep arriving for an hour until the exporters'
    /// active timeout has passed. Zero merges every hour now, the current
    /// one too (files written later are merged by the next run).
    pub settle: Duration,
    /// Replaced files are removed once their merged file is this old, so
    /// that queries which listed them before still find them.
    pub grace: Duration,
    /// Files are merged up to this many bytes per merged file (about 3 M
    /// flows: the merge holds them in memory); files this size already
    /// are left as they are.
    pub target_bytes: u64,
    /// Only these hours (their start, Unix ms); `None`: every hour.
    pub only_hours: Option<Vec<i64>>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            settle: Duration::from_secs(10 * 60),
            grace: Duration::from_secs(10 * 60),
            target_bytes: 48 << 20,
            only_hours: None,
        }
    }
}

/// What [`compact`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Hours in which files were merged.
    pub hours: usize,
    /// Files merged.
    pub files_in: usize,
    /// Files written.
    pub files_out: usize,
    /// Flows in the files written.
    pub flows: u64,
    /// Size of the files merged, and of those written.
    pub bytes_in: u64,
    /// Size of the files written.
    pub bytes_out: u64,
    /// Replaced files removed (after their grace period).
    pub removed: usize,
    /// Files that could not be merged, and why; the rest of the store was
    /// compacted. Their flows stay readable where they are.
    pub problems: Vec<String>,
}

/// The lock that makes compaction and retention take turns.
pub(crate) struct MaintenanceLock(#[allow(dead_code)] File);

impl MaintenanceLock {
    /// Waits for the lock of `flows_dir`. `None` when there is no such
    /// directory (nothing to maintain), or when `stop` says so while
    /// waiting.
    pub(crate) fn take(
        flows_dir: &Path,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<MaintenanceLock>, StoreError> {
        if !flows_dir.is_dir() {
            return Ok(None);
        }
        let path = flows_dir.join(".maintenance.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io("open", &path, e))?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(MaintenanceLock(file))),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StoreError::io("lock", &path, e))
                }
            }
            if stop() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Merges each settled hour's files of `data_dir` into one file per
/// [`CompactOptions::target_bytes`], written with `write` (its sort order
/// and Parquet settings), and removes files replaced more than the grace
/// period ago. `stop` is asked between merges; when it says so, the run
/// ends early, leaving a consistent store.
pub fn compact(
    data_dir: &Path,
    options: &CompactOptions,
    write: &WriteOptions,
    now_ms: i64,
    stop: &dyn Fn() -> bool,
) -> Result<CompactReport, StoreError> {
    let flows_dir = data_dir.join("flows");
    let Some(_lock) = MaintenanceLock::take(&flows_dir, stop)? else {
        return Ok(CompactReport::default());
    };
    let writer = ParquetWriter::new(data_dir, write.clone());
    let settle = duration_ms(options.settle);
    let mut report = CompactReport::default();
    for p in layout::partitions(&flows_dir, None)? {
        if stop() {
            break;
        }
        if let Some(only) = &options.only_hours {
            if !only.contains(&(p.hour * HOUR_MS)) {
                continue;
            }
        }
        // One listing serves both: tidying renames and removes only files
        // that are not live, so the live ones and the records stand.
        let listing = layout::listing(&p)?;
        remove_replaced(
            &p,
            &listing,
            duration_ms(options.grace),
            now_ms,
            &mut report,
        )?;
        let newest = listing.live.iter().map(|f| f.modified_ms).max();
        let settled = (p.hour + 1).saturating_mul(HOUR_MS).saturating_add(settle) <= now_ms
            && newest.is_some_and(|t| t.saturating_add(settle) <= now_ms);
        if !settled && settle > 0 {
            continue;
        }
        let mut merged_here = false;
        for group in groups(&listing.live, options.target_bytes) {
            if stop() {
                break;
            }
            let names: Vec<String> = group.iter().map(|f| file_name(&f.path)).collect();
            match merge(&writer, &p, &group, &names, &listing.covers, now_ms) {
                Ok(Some(written)) => {
                    merged_here = true;
                    report.files_in += group.len();
                    report.bytes_in += group.iter().map(|f| f.bytes).sum::<u64>();
                    report.files_out += 1;
                    report.flows += written.rows;
                    report.bytes_out += written.bytes;
                }
                // A file vanished (retention): nothing merged, nothing lost.
                Ok(None) => {}
                Err(e) => {
                    report
                        .problems
                        .push(format!("{} ({}): {e}", p.dir.display(), names.join(" ")))
                }
            }
        }
        if merged_here {
            report.hours += 1;
            // The merges retired their inputs; with no grace period they go
            // now, not at the next run.
            if options.grace.is_zero() {
                remove_replaced(&p, &layout::listing(&p)?, 0, now_ms, &mut report)?;
            }
        }
    }
    Ok(report)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The live files to merge, in name order, cut into groups of at most
/// `target` bytes; files of half that size or more stay as they are, and a
/// group of one is no merge.
fn groups(live: &[layout::StoredFile], target: u64) -> Vec<Vec<layout::StoredFile>> {
    let mut out = Vec::new();
    let mut group: Vec<layout::StoredFile> = Vec::new();
    let mut bytes = 0;
    for f in live.iter().filter(|f| f.bytes < target / 2) {
        if !group.is_empty() && bytes + f.bytes > target {
            out.push(std::mem::take(&mut group));
            bytes = 0;
        }
        bytes += f.bytes;
        group.push(f.clone());
    }
    out.push(group);
    out.retain(|g| g.len() >= 2);
    out
}

/// Merges `group` into one file with its record. `None`: a file of the
/// group vanished while it was read (retention), and nothing was written.
fn merge(
    writer: &ParquetWriter,
    p: &Partition,
    group: &[layout::StoredFile],
    names: &[String],
    covers: &[layout::Covers],
    now_ms: i64,
) -> Result<Option<crate::WrittenFile>, StoreError> {
    let mut batches = Vec::new();
    for f in group {
        match read_whole(&f.path)? {
            Some(b) => batches.extend(b),
            None => return Ok(None),
        }
    }
    // The record names the merged files, and what the merged ones among
    // them replaced: those may still be there within their grace period.
    let mut inputs: Vec<String> = names.to_vec();
    for c in covers.iter().filter(|c| names.contains(&c.output)) {
        inputs.extend(c.inputs.iter().cloned());
    }
    inputs.sort();
    inputs.dedup();
    let name = format!(
        "{MERGED_PREFIX}{now_ms}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let output = format!("{name}.parquet");
    let fsync = writer.options().fsync;
    let written = writer.write_hour(p.hour, &batches, &name, |dir| {
        write_record(dir, &name, &covers_text(&output, &inputs), fsync)
    })?;
    // Out of `*.parquet` at once, so that other readers of the files count
    // each flow once (a crash before this is mended by the next run).
    retire(p, &inputs)?;
    Ok(Some(written))
}

/// `<name>.covers` in `dir`, atomically.
fn write_record(dir: &Path, name: &str, text: &str, fsync: bool) -> Result<(), StoreError> {
    let tmp = dir.join(format!(".{name}{COVERS_EXT}.tmp"));
    let path = dir.join(format!("{name}{COVERS_EXT}"));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| StoreError::io("write", &tmp, e))?;
        if fsync {
            f.sync_all().map_err(|e| StoreError::io("fsync", &tmp, e))?;
        }
        fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename", &tmp, e))?;
        if fsync {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Retires the files merged files replaced (renamed to hidden names, at
/// once: other readers of the files must not see their flows twice) and
/// removes them once the file that replaced them is older than `grace_ms`;
/// also records left without their file, and temp files of interrupted
/// merges. Runs under the maintenance lock: no merge is under way.
fn remove_replaced(
    p: &Partition,
    listing: &layout::Listing,
    grace_ms: i64,
    now_ms: i64,
    report: &mut CompactReport,
) -> Result<(), StoreError> {
    let covered: Vec<String> = listing.covered.iter().map(|f| file_name(f)).collect();
    retire(p, &covered)?;
    let retired = listing.retired.iter().cloned().chain(
        covered
            .into_iter()
            .map(|name| (p.dir.join(layout::retired_name(&name)), name)),
    );
    // A merged file is live; no grace: even one merged after `now_ms`.
    let old_enough = |output: &str| {
        grace_ms == 0
            || listing
                .live
                .iter()
                .find(|f| f.path.ends_with(output))
                .is_some_and(|f| f.modified_ms.saturating_add(grace_ms) <= now_ms)
    };
    let mut named = std::collections::HashSet::new();
    let mut expired = std::collections::HashSet::new();
    for c in &listing.covers {
        let old = old_enough(&c.output);
        for i in &c.inputs {
            named.insert(i.as_str());
            if old {
                expired.insert(i.as_str());
            }
        }
    }
    // Retired files go when their merged file is old enough, or when no
    // record names them any more.
    let mut remove: Vec<PathBuf> = retired
        .filter(|(_, name)| expired.contains(name.as_str()) || !named.contains(name.as_str()))
        .map(|(path, _)| path)
        .collect();
    report.removed += remove.len();
    remove.extend(listing.merge_temps.iter().cloned());
    for path in &remove {
        remove_file(path)?;
    }
    // Records without their file (their output merged again and retired,
    // or an interrupted merge): what they named is named by a newer record
    // or was never hidden.
    for path in &listing.orphans {
        remove_file(path)?;
    }
    Ok(())
}

/// Renames the files `names` of the partition that are still there to
/// their hidden names, durably.
fn retire(p: &Partition, names: &[String]) -> Result<(), StoreError> {
    let mut moved = false;
    for name in names {
        let from = p.dir.join(name);
        match fs::rename(&from, p.dir.join(layout::retired_name(name))) {
            Ok(()) => moved = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("rename", &from, e)),
        }
    }
    if moved {
        sync_dir(&p.dir)?;
    }
    Ok(())
}

/// Removes a file; one already gone is fine.
pub(crate) fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}
