//! The hour partitions of `DIR/flows/` and the files in them, as the reader
//! and retention see them.

use std::collections::BTreeSet;
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
    /// When it was last written, ms since the epoch.
    pub modified_ms: i64,
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

/// The extension of a compaction record (see [`crate::compact`]).
pub(crate) const COVERS_EXT: &str = ".covers";

/// A compaction record `<stem>.covers` beside `<stem>.parquet`: the file
/// names whose flows `<stem>.parquet` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Covers {
    /// `<stem>.parquet`.
    pub output: String,
    /// The file names it replaces, in the partition directory.
    pub inputs: Vec<String>,
}

/// A replaced file's name once retired: hidden, and not `*.parquet`, so
/// that other readers of the files (DuckDB's `**/*.parquet`) never see a
/// flow twice; flowhound's own readers that listed it before still find it
/// (see [`retired_path`]).
pub(crate) fn retired_name(name: &str) -> String {
    format!(".{name}{RETIRED_EXT}")
}

const RETIRED_EXT: &str = ".replaced";

/// Where a listed file is once its merge has retired it.
pub fn retired_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    Some(path.with_file_name(retired_name(name)))
}

/// Merged files' names start with this.
pub(crate) const MERGED_PREFIX: &str = "c-";

/// The last line of every complete compaction record.
const END: &str = "# end";

/// A compaction record's text: a comment line, one file name a line, and
/// [`END`], so that a record cut short (a crash without `fsync`) is an
/// error, not a record that hides too little.
pub(crate) fn covers_text(output: &str, inputs: &[String]) -> String {
    let mut text = format!(
        "# flowhound compaction: {output} holds the flows of these files; readers skip them\n"
    );
    for name in inputs {
        text.push_str(name);
        text.push('\n');
    }
    text.push_str(END);
    text.push('\n');
    text
}

fn parse_covers(path: &Path, output: String, text: &str) -> Result<Covers, StoreError> {
    if text.lines().rev().map(str::trim).find(|l| !l.is_empty()) != Some(END) {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "cut short, no {END:?} line: remove it and its .parquet file \
                 (their flows are still in the files it names)"
            ),
        });
    }
    let mut inputs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('/') || !line.ends_with(".parquet") {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("line {}: {line:?} is not a flow file name", n + 1),
            });
        }
        // It would hide itself, and with it every flow it was to replace.
        if line == output {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("line {}: names its own merged file {output:?}", n + 1),
            });
        }
        inputs.push(line.to_string());
    }
    Ok(Covers { output, inputs })
}

/// What a partition directory holds.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The files readers read: every finished `*.parquet` that no
    /// compaction record in force names, oldest name first.
    pub live: Vec<StoredFile>,
    /// The compaction records in force (their output exists).
    pub covers: Vec<Covers>,
    /// Files that readers skip and that may go: inputs of records in force
    /// that are still there.
    pub covered: Vec<PathBuf>,
    /// Records whose output does not exist (an interrupted compaction, or
    /// a record of an output that was itself compacted away).
    pub orphans: Vec<PathBuf>,
    /// Replaced files already retired (hidden), with their original names.
    pub retired: Vec<(PathBuf, String)>,
    /// Temp files of merges that never finished (`.c-….tmp`; the
    /// collector's own temp files are not among them).
    pub merge_temps: Vec<PathBuf>,
}

/// A file's modification time, ms since the epoch (0 when unknown).
pub(crate) fn modified_ms(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

/// Everything in a partition directory, sorted into [`Listing`].
///
/// A directory listing is no snapshot: a merge that lands while it runs
/// may show its output without its record (written just before). So the
/// record of every merged output (`c-…`) is also looked up by name.
pub(crate) fn listing(p: &Partition) -> Result<Listing, StoreError> {
    let entries = read_dir_sorted(&p.dir)?;
    let parquet: BTreeSet<String> = entries
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !n.starts_with('.') && n.ends_with(".parquet"))
        .cloned()
        .collect();
    let mut records: BTreeSet<String> = entries
        .iter()
        .filter(|(n, _)| !n.starts_with('.'))
        .filter_map(|(n, _)| n.strip_suffix(COVERS_EXT).map(str::to_string))
        .collect();
    records.extend(
        parquet
            .iter()
            .filter(|n| n.starts_with(MERGED_PREFIX))
            .filter_map(|n| n.strip_suffix(".parquet").map(str::to_string)),
    );
    let mut out = Listing::default();
    let mut hidden = BTreeSet::new();
    for stem in records {
        let path = p.dir.join(format!("{stem}{COVERS_EXT}"));
        let output = format!("{stem}.parquet");
        if !parquet.contains(&output) {
            out.orphans.push(path);
            continue;
        }
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            // A merged file without a record (removed by hand) is a plain
            // file; or the record went since the listing, with its output
            // (expiry).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("read compaction record", &path, e)),
        };
        out.covers.push(parse_covers(&path, output, &text)?);
    }
    // A merged file merged again is named by the newer record, which also
    // names everything the older one did: the newest records decide. A
    // merged file named only by records it names itself (a cycle no merge
    // writes) would hide both: refused.
    let named: BTreeSet<&String> = out.covers.iter().flat_map(|c| &c.inputs).collect();
    for c in out.covers.iter().filter(|c| !named.contains(&c.output)) {
        hidden.extend(c.inputs.iter().cloned());
    }
    if let Some(c) = out
        .covers
        .iter()
        .find(|c| !hidden.contains(&c.output) && named.contains(&c.output))
    {
        return Err(StoreError::Corrupt {
            path: p.dir.join(c.output.replace(".parquet", COVERS_EXT)),
            detail: format!(
                "{} is named only by compaction records it names itself: remove the records of this cycle",
                c.output
            ),
        });
    }
    for (name, path) in entries {
        if let Some(original) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(RETIRED_EXT))
            .filter(|n| n.ends_with(".parquet"))
        {
            out.retired.push((path, original.to_string()));
            continue;
        }
        if name.starts_with(&format!(".{MERGED_PREFIX}")) && name.ends_with(".tmp") {
            out.merge_temps.push(path);
            continue;
        }
        if !parquet.contains(&name) {
            continue;
        }
        if hidden.contains(&name) {
            out.covered.push(path);
            continue;
        }
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Merged just now (its merged file came after this listing
                // read the directory): it waits under a hidden name, where
                // readers find it. Otherwise it expired.
                match retired_path(&path).and_then(|r| fs::metadata(r).ok()) {
                    Some(m) => m,
                    None => continue,
                }
            }
            Err(e) => return Err(StoreError::io("stat", &path, e)),
        };
        if meta.is_file() {
            out.live.push(StoredFile {
                hour: p.hour,
                path,
                bytes: meta.len(),
                modified_ms: modified_ms(&meta),
            });
        }
    }
    Ok(out)
}

/// Whether a compaction record in force in the file's directory names it:
/// its flows are in a merged file now.
pub(crate) fn was_merged(path: &Path) -> bool {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let name = name.to_string_lossy();
    let p = Partition {
        hour: 0,
        dir: dir.to_path_buf(),
    };
    listing(&p).is_ok_and(|l| l.covers.iter().any(|c| c.inputs.iter().any(|i| *i == name)))
}

/// The files of a partition that readers read: `*.parquet`, not hidden
/// (temp files are `.<name>.parquet.tmp`), not replaced by a compacted
/// file; oldest name first.
pub(crate) fn files(p: &Partition) -> Result<Vec<StoredFile>, StoreError> {
    Ok(listing(p)?.live)
}
