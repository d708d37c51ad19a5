//! Compaction: each hour's files merged into one, and at no moment a flow
//! read twice or missed.
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::RecordBatch;
use common::*;
use flowhound_model::{Column, FlowRecord};
use flowhound_store::{
    compact, expire, records_from_batch, CompactOptions, CompactReport, FlowBatch, FlowStore,
    LocalStore, ParquetWriter, StoreError, WriteOptions, WrittenFile,
};

/// 3 000 flows over three hours (14:00-17:00), with flows on and next to
/// every hour boundary.
fn three_hours() -> Vec<FlowRecord> {
    let mut times: Vec<i64> = (0..3000).map(|i| T0 + i * 3_600 + (i % 7)).collect();
    for h in 0..3 {
        times.extend([T0 + h * HOUR, T0 + (h + 1) * HOUR - 1]);
    }
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| flow(i as u64, t))
        .collect()
}

/// The flows written as `parts` epochs, named `e0`, `e1`, … as a collector
/// names them, flow `j` in epoch `j % parts`: every hour gets `parts` files.
fn store_in_epochs(dir: &Path, flows: &[FlowRecord], parts: usize) {
    epochs(dir, flows, parts, ParquetWriter::write_named);
}

/// [`store_in_epochs`] again, as a collector replaying its write-ahead log
/// after a crash writes them.
fn replay_epochs(dir: &Path, flows: &[FlowRecord], parts: usize) {
    epochs(dir, flows, parts, ParquetWriter::write_replayed);
}

type Write = fn(&ParquetWriter, &[RecordBatch], &str) -> Result<Vec<WrittenFile>, StoreError>;

fn epochs(dir: &Path, flows: &[FlowRecord], parts: usize, write: Write) {
    let w = ParquetWriter::new(dir, WriteOptions::default());
    for i in 0..parts {
        let batch: FlowBatch = flows.iter().skip(i).step_by(parts).copied().collect();
        write(&w, &[batch.to_record_batch()], &format!("e{i}")).expect("write");
    }
}

fn scan_all(dir: &Path) -> Vec<FlowRecord> {
    let mut out = Vec::new();
    for b in LocalStore::new(dir).scan(None, &Column::ALL).expect("scan") {
        out.extend(records_from_batch(&b.expect("batch")).expect("flows"));
    }
    sorted(out)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    LocalStore::new(dir).files(None).expect("files")
}

/// Every file name under `dir/flows`, sorted, hidden ones too.
fn on_disk(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("flows"), &dir.join("flows"), &mut out);
    out.sort();
    out
}

/// Now: the test flows' hours are long over; the files' mtimes are now.
fn now_after_the_day() -> i64 {
    wall_ms()
}

fn run(dir: &Path, grace: Duration, now: i64) -> CompactReport {
    let options = CompactOptions {
        settle: Duration::ZERO,
        grace,
        ..CompactOptions::default()
    };
    compact(dir, &options, &WriteOptions::default(), now, &|| false).expect("compact")
}

#[test]
fn each_hour_becomes_one_file_with_every_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 5);
    assert_eq!(files(dir.path()).len(), 15);

    let r = run(dir.path(), Duration::ZERO, now_after_the_day());
    assert_eq!((r.hours, r.files_in, r.files_out), (3, 15, 3), "{r:?}");
    assert_eq!(r.flows, flows.len() as u64);
    assert_eq!(r.removed, 15);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(files(dir.path()).len(), 3);
    assert_eq!(scan_all(dir.path()), sorted(flows.clone()));
    // Left on disk: per hour the merged file and its record, and the lock.
    let left = on_disk(dir.path());
    assert_eq!(left.len(), 3 * 2 + 1, "{left:?}");
    assert!(left
        .iter()
        .all(|n| n.contains("/c-") || n == ".maintenance.lock"));

    // Nothing left to do.
    let again = run(dir.path(), Duration::ZERO, now_after_the_day());
    assert_eq!(again, CompactReport::default());
    assert_eq!(scan_all(dir.path()), sorted(flows));
}

#[test]
fn replaced_files_stay_for_their_grace_period_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 4);
    let before = on_disk(dir.path()).len();
    let now = now_after_the_day();
    let r = run(dir.path(), Duration::from_secs(600), now);
    assert_eq!((r.files_in, r.removed), (12, 0), "{r:?}");
    // The old files are still there for queries that listed them, and a
    // new listing reads each flow once.
    assert_eq!(on_disk(dir.path()).len(), before + 3 * 2 + 1);
    assert_eq!(files(dir.path()).len(), 3);
    assert_eq!(scan_all(dir.path()), sorted(flows.clone()));
    // The merged files were written just now (wall clock), so "now" must
    // pass their mtime by the grace period.
    let later = wall_ms() + 601_000;
    let r = run(dir.path(), Duration::from_secs(600), later);
    assert_eq!((r.files_in, r.removed), (0, 12), "{r:?}");
    assert_eq!(on_disk(dir.path()).len(), 3 * 2 + 1);
    assert_eq!(scan_all(dir.path()), sorted(flows));
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[test]
fn a_replaced_file_written_again_stays_skipped() {
    // A collector that crashed after writing an epoch's file but before its
    // WAL let go writes the file again on restart, under the same name.
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 3);
    run(dir.path(), Duration::ZERO, now_after_the_day());
    replay_epochs(dir.path(), &flows, 3);
    assert_eq!(files(dir.path()).len(), 3);
    assert_eq!(scan_all(dir.path()), sorted(flows.clone()));
    // Not written again at all: a glob of *.parquet (DuckDB) sees the
    // merged files only.
    let visible: Vec<String> = on_disk(dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".parquet") && !n.rsplit('/').next().unwrap_or("").starts_with('.'))
        .collect();
    assert!(visible.iter().all(|n| n.contains("/c-")), "{visible:?}");

    // Late flows for an hour are merged with its merged file; the new
    // record still names the epochs the old one replaced.
    let late: Vec<FlowRecord> = (0..50)
        .map(|i| flow(10_000 + i, T0 + 5 + i as i64))
        .collect();
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    let batch: FlowBatch = late.iter().copied().collect();
    w.write_named(&[batch.to_record_batch()], "e99")
        .expect("write");
    assert_eq!(files(dir.path()).len(), 4);
    let r = run(dir.path(), Duration::ZERO, now_after_the_day());
    assert_eq!((r.hours, r.files_in, r.files_out), (1, 2, 1), "{r:?}");
    assert_eq!(files(dir.path()).len(), 3);
    replay_epochs(dir.path(), &flows, 3);
    let mut all = flows;
    all.extend(late);
    assert_eq!(scan_all(dir.path()), sorted(all));
}

#[test]
fn an_interrupted_compaction_hides_nothing_and_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 2);
    let hour = dir.path().join("flows/2026/11/26/14");
    // The record was written, the merged file never appeared.
    std::fs::write(hour.join("c-1-1-1.covers"), "# x\ne0.parquet\ne1.parquet\n").expect("record");
    std::fs::write(hour.join(".c-1-1-1.parquet.tmp"), "half a file").expect("tmp");
    // Someone else's hidden file is left alone.
    std::fs::write(hour.join(".notes.replaced"), "mine").expect("notes");
    assert_eq!(files(dir.path()).len(), 6);
    assert_eq!(scan_all(dir.path()), sorted(flows.clone()));
    run(dir.path(), Duration::ZERO, now_after_the_day());
    assert!(!hour.join("c-1-1-1.covers").exists());
    assert!(!hour.join(".c-1-1-1.parquet.tmp").exists());
    assert!(hour.join(".notes.replaced").exists());
    assert_eq!(scan_all(dir.path()), sorted(flows));
}

#[test]
fn a_damaged_record_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_in_epochs(dir.path(), &three_hours(), 2);
    let hour = dir.path().join("flows/2026/11/26/15");
    std::fs::copy(hour.join("e0.parquet"), hour.join("c-7.parquet")).expect("copy");
    std::fs::write(
        hour.join("c-7.covers"),
        "e0.parquet\n../../e1.parquet\n# end\n",
    )
    .expect("record");
    let err = LocalStore::new(dir.path())
        .files(None)
        .expect_err("a damaged record");
    let text = err.to_string();
    assert!(
        text.contains("c-7.covers") && text.contains("line 2"),
        "{text}"
    );
    // Cut short (a crash before it reached the disk): it would hide too
    // little, so it is an error too.
    std::fs::write(
        hour.join("c-7.covers"),
        "# flowhound compaction\ne0.parquet\n",
    )
    .expect("record");
    let err = LocalStore::new(dir.path())
        .files(None)
        .expect_err("a record cut short");
    let text = err.to_string();
    assert!(
        text.contains("c-7.covers") && text.contains("cut short"),
        "{text}"
    );
}

#[test]
fn a_record_naming_its_own_merged_file_is_an_error() {
    // Found by fuzzing (fuzz/regressions/compaction_record/): the record
    // hid its own output, and with it every flow of the hour.
    let dir = tempfile::tempdir().expect("tempdir");
    store_in_epochs(dir.path(), &three_hours(), 2);
    let hour = dir.path().join("flows/2026/11/26/15");
    std::fs::copy(hour.join("e0.parquet"), hour.join("c-1.parquet")).expect("copy");
    std::fs::write(hour.join("c-1.covers"), "c-1.parquet\n# end").expect("record");
    let err = LocalStore::new(dir.path())
        .files(None)
        .expect_err("a record that hides itself");
    let text = err.to_string();
    assert!(
        text.contains("c-1.covers") && text.contains("line 1"),
        "{text}"
    );
}

#[test]
fn a_scan_that_finds_its_files_merged_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_in_epochs(dir.path(), &three_hours(), 3);
    let store = LocalStore::new(dir.path()).with_batch_size(100);
    let mut scan = store.scan(None, &[Column::SrcIp]).expect("scan");
    assert!(scan.next().expect("a batch").is_ok());
    // Merged, the old files removed at once, while the scan holds their list.
    run(dir.path(), Duration::ZERO, now_after_the_day());
    let err = scan
        .find_map(Result::err)
        .expect("an error, not flows silently missing");
    assert!(err.to_string().contains("run it again"), "{err}");
}

#[test]
fn unsettled_hours_wait_and_stop_is_obeyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 2);
    // 16:05: hour 16 has not ended; hours 14 and 15 ended, but their files
    // were written just now (wall clock), within the settle time.
    let options = CompactOptions::default();
    let r = compact(
        dir.path(),
        &options,
        &WriteOptions::default(),
        T0 + 2 * HOUR + 5 * 60_000,
        &|| false,
    )
    .expect("compact");
    assert_eq!(r, CompactReport::default());
    // Long after, with files old enough: hours 14-16 settle.
    let later = wall_ms() + 11 * 60_000;
    let r = compact(
        dir.path(),
        &options,
        &WriteOptions::default(),
        later,
        &|| true,
    )
    .expect("compact");
    assert_eq!(r, CompactReport::default(), "stopped before any merge");
    let r = compact(
        dir.path(),
        &options,
        &WriteOptions::default(),
        later,
        &|| false,
    )
    .expect("compact");
    assert_eq!(r.hours, 3);
    assert_eq!(scan_all(dir.path()), sorted(flows));
}

#[test]
fn retention_takes_replaced_files_with_their_hour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 3);
    // Merged, the old files kept for their grace period.
    run(dir.path(), Duration::from_secs(600), now_after_the_day());
    // Keep the newest hour's merged file only, by size.
    let newest = LocalStore::new(dir.path()).files(None).expect("files");
    let newest_bytes = std::fs::metadata(&newest[2]).expect("stat").len();
    let r = expire(dir.path(), None, Some(newest_bytes), now_after_the_day()).expect("expire");
    assert_eq!(r.removed.len(), 2, "{r:?}");
    assert_eq!(r.kept_files, 1);
    let kept: Vec<FlowRecord> = flows
        .iter()
        .filter(|f| f.time_start >= T0 + 2 * HOUR)
        .copied()
        .collect();
    assert_eq!(scan_all(dir.path()), sorted(kept));
    assert!(!dir.path().join("flows/2026/11/26/14").exists());
    assert!(!dir.path().join("flows/2026/11/26/15").exists());
    // By age: the rest goes, the old files of hour 16 with it.
    expire(dir.path(), Some(Duration::ZERO), None, now_after_the_day()).expect("expire");
    assert!(
        !dir.path().join("flows/2026").exists(),
        "{:?}",
        on_disk(dir.path())
    );
}

#[test]
fn big_hours_are_merged_in_parts_of_the_target_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..12_000).map(|i| flow(i, T0 + i as i64 * 100)).collect();
    store_in_epochs(dir.path(), &flows, 12);
    let sizes: Vec<u64> = files(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).expect("stat").len())
        .collect();
    let biggest = *sizes.iter().max().expect("files");
    // About four files per part.
    let options = CompactOptions {
        settle: Duration::ZERO,
        grace: Duration::ZERO,
        target_bytes: biggest * 4 + 1,
        only_hours: None,
    };
    let r = compact(
        dir.path(),
        &options,
        &WriteOptions::default(),
        now_after_the_day(),
        &|| false,
    )
    .expect("compact");
    assert_eq!(r.files_in, 12, "{r:?}");
    assert!((3..=4).contains(&r.files_out), "{r:?}");
    assert_eq!(scan_all(dir.path()), sorted(flows));
}

#[test]
fn records_that_name_each_other_are_an_error() {
    // No merge writes this (a newer record names the older output, never
    // the reverse); a store edited by hand could hide both outputs.
    let dir = tempfile::tempdir().expect("tempdir");
    store_in_epochs(dir.path(), &three_hours(), 2);
    let hour = dir.path().join("flows/2026/11/26/15");
    for (me, other) in [("c-1", "c-2"), ("c-2", "c-1")] {
        std::fs::copy(hour.join("e0.parquet"), hour.join(format!("{me}.parquet"))).expect("copy");
        std::fs::write(
            hour.join(format!("{me}.covers")),
            format!("{other}.parquet\n# end\n"),
        )
        .expect("record");
    }
    let err = LocalStore::new(dir.path())
        .files(None)
        .expect_err("a cycle");
    assert!(err.to_string().contains("names itself"), "{err}");
}

/// Other readers of the files (DuckDB over `**/*.parquet`) see each flow
/// once from the moment of the merge, while a scan that listed the old
/// files before still reads them all, under their hidden names.
#[test]
fn replaced_files_leave_the_glob_at_once_and_stay_readable_for_earlier_scans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_in_epochs(dir.path(), &flows, 4);
    let store = LocalStore::new(dir.path());
    let earlier = store.scan(None, &Column::ALL).expect("scan");
    let r = run(dir.path(), Duration::from_secs(600), now_after_the_day());
    assert_eq!((r.files_in, r.removed), (12, 0), "{r:?}");

    // What a glob of *.parquet finds: the merged files only.
    let globbed: Vec<String> = on_disk(dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".parquet") && !n.rsplit('/').next().unwrap_or("").starts_with('.'))
        .collect();
    assert_eq!(globbed.len(), 3, "{globbed:?}");
    let mut seen = Vec::new();
    for name in &globbed {
        seen.extend(read_parquet(&dir.path().join("flows").join(name)));
    }
    assert_eq!(sorted(seen), sorted(flows.clone()));

    // The scan that listed the twelve old files reads them.
    let mut read = Vec::new();
    for b in earlier {
        read.extend(
            records_from_batch(&b.expect("no error within the grace period")).expect("flows"),
        );
    }
    assert_eq!(sorted(read), sorted(flows));
}
