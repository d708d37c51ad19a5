//! Retention, nfexpire's job: whole files go, oldest hour first.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::compact::{remove_file, MaintenanceLock};
use crate::fsutil::sync_dir;
use crate::layout::{self, StoredFile, COVERS_EXT};
use crate::write::HOUR_MS;
use crate::StoreError;

/// What [`expire`] removed and what is left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// The files removed, oldest first.
    pub removed: Vec<PathBuf>,
    /// Their total size.
    pub removed_bytes: u64,
    /// Files left.
    pub kept_files: u64,
    /// Size of the files left.
    pub kept_bytes: u64,
}

/// Deletes flow files of `data_dir`, oldest partition hour first, until no
/// file is older than `max_age` and the files total at most `max_bytes`.
///
/// A file's age is that of the end of its hour: it goes once every flow it
/// can hold started more than `max_age` before `now_ms`. Partition
/// directories left empty are removed. Files being written (hidden temp
/// files) are left alone. Files that a compaction replaced go with the
/// first file of their hour, so that none of them is read again.
pub fn expire(
    data_dir: &Path,
    max_age: Option<Duration>,
    max_bytes: Option<u64>,
    now_ms: i64,
) -> Result<ExpireReport, StoreError> {
    let flows_dir = data_dir.join("flows");
    let Some(_lock) = MaintenanceLock::take(&flows_dir, &|| false)? else {
        return Ok(ExpireReport::default());
    };
    let mut all: Vec<StoredFile> = Vec::new();
    let mut replaced: std::collections::HashMap<i64, Vec<PathBuf>> = Default::default();
    for p in layout::partitions(&flows_dir, None)? {
        let listing = layout::listing(&p)?;
        all.extend(listing.live);
        let mut leftovers = listing.covered;
        leftovers.extend(listing.orphans);
        leftovers.extend(listing.retired.into_iter().map(|(path, _)| path));
        replaced.insert(p.hour, leftovers);
    }
    all.sort();
    let mut total: u64 = all.iter().map(|f| f.bytes).sum();
    let cutoff = max_age.map(|a| now_ms.saturating_sub(a.as_millis().min(i64::MAX as u128) as i64));
    let mut report = ExpireReport::default();
    let mut emptied: Vec<PathBuf> = Vec::new();
    let mut kept = all.len();
    for f in &all {
        let too_old = cutoff.is_some_and(|c| (f.hour + 1).saturating_mul(HOUR_MS) <= c);
        let too_big = max_bytes.is_some_and(|m| total > m);
        if !too_old && !too_big {
            break;
        }
        // Replaced files first (they would be read again once the file
        // replacing them is gone), then the file, then its compaction record.
        let leftovers = replaced.remove(&f.hour).unwrap_or_default();
        for old in &leftovers {
            remove_file(old)?;
        }
        remove_file(&f.path)?;
        if let Some(dir) = f.path.parent() {
            sync_dir(dir)?;
        }
        for old in leftovers.iter().chain([&f.path]) {
            remove_file(&old.with_extension(&COVERS_EXT[1..]))?;
        }
        total -= f.bytes;
        kept -= 1;
        report.removed.push(f.path.clone());
        report.removed_bytes += f.bytes;
        if let Some(dir) = f.path.parent() {
            if emptied.last().map(PathBuf::as_path) != Some(dir) {
                emptied.push(dir.to_path_buf());
            }
        }
    }
    for dir in emptied {
        remove_empty_up_to(&dir, &flows_dir);
    }
    report.kept_files = kept as u64;
    report.kept_bytes = total;
    Ok(report)
}

/// Removes `dir` and its parents below `root` while they are empty.
fn remove_empty_up_to(dir: &Path, root: &Path) {
    let mut d = Some(dir);
    while let Some(cur) = d {
        if cur == root || !cur.starts_with(root) || fs::remove_dir(cur).is_err() {
            break;
        }
        d = cur.parent();
    }
}
