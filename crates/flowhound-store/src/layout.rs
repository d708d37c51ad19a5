//! The hour partitions of `DIR/flows/` and the files in them, as the reader
//! and retention see them.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::window::TimeWindow;
use crate::write::{HOUR_MS, MAX_HOUR, MIN_HOUR};
use crate::StoreError;

/// One `YYYY/MM/DD/HH` directory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Partition {
    /// Hours since the epoch.
    pub hour: i64,
    pub dir: PathBuf,
}

/// One finished flow file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StoredFile {
    pub hour: i64,
    pub path: PathBuf,
    pub bytes: u64,
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("read directory", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("read directory", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn number(name: &str, digits: usize) -> Option<u32> {
    (name.len() == digits && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

fn day_ms(y: i32, m: u32, d: u32) -> Option<i64> {
    Some(
        NaiveDate::from_ymd_opt(y, m, d)?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_millis(),
    )
}

/// Whether a directory covering `[start, end)` may hold flows of the window.
/// The edge hours hold flows with absurd times, so they are always read.
fn wanted(window: Option<TimeWindow>, start: i64, end: i64) -> bool {
    let Some(w) = window else { return true };
    let edge = start <= MIN_HOUR * HOUR_MS || end > MAX_HOUR * HOUR_MS;
    edge || (start < w.end_ms && end > w.start_ms)
}

/// The partitions under `flows_dir` that may hold flows of `window`, oldest
/// first. Directories that are not `YYYY/MM/DD/HH` are ignored.
pub(crate) fn partitions(
    flows_dir: &Path,
    window: Option<TimeWindow>,
) -> Result<Vec<Partition>, StoreError> {
    let mut out = Vec::new();
    for (yn, ypath) in read_dir_sorted(flows_dir)? {
        let Some(y) = number(&yn, 4) else { continue };
        let y = y as i32;
        let (Some(ys), Some(ye)) = (day_ms(y, 1, 1), day_ms(y + 1, 1, 1)) else {
            continue;
        };
        if !wanted(window, ys, ye) {
            continue;
        }
        for (mn, mpath) in read_dir_sorted(&ypath)? {
            let Some(m) = number(&mn, 2) else { continue };
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let (Some(ms), Some(me)) = (day_ms(y, m, 1), day_ms(next.0, next.1, 1)) else {
                continue;
            };
            if !wanted(window, ms, me) {
                continue;
            }
            for (dn, dpath) in read_dir_sorted(&mpath)? {
                let Some(d) = number(&dn, 2) else { continue };
                let Some(ds) = day_ms(y, m, d) else { continue };
                if !wanted(window, ds, ds + 24 * HOUR_MS) {
                    continue;
                }
                for (hn, hpath) in read_dir_sorted(&dpath)? {
                    let Some(h) = number(&hn, 2).filter(|&h| h < 24) else {
                        continue;
                    };
                    let hs = ds + h as i64 * HOUR_MS;
                    if wanted(window, hs, hs + HOUR_MS) && hpath.is_dir() {
                        out.push(Partition {
                            hour: hs / HOUR_MS,
                            dir: hpath,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The finished files of a partition: `*.parquet`, not hidden (temp files
/// are `.<name>.parquet.tmp`), oldest name first.
pub(crate) fn files(p: &Partition) -> Result<Vec<StoredFile>, StoreError> {
    let mut out = Vec::new();
    for (name, path) in read_dir_sorted(&p.dir)? {
        if name.starts_with('.') || !name.ends_with(".parquet") {
            continue;
        }
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            // Expired between the listing and now.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("stat", &path, e)),
        };
        if meta.is_file() {
            out.push(StoredFile {
                hour: p.hour,
                path,
                bytes: meta.len(),
            });
        }
    }
    Ok(out)
}
