//! Reading back through the FlowStore seam, window boundaries, retention.
mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use flowhound_model::{Column, FlowRecord};
use flowhound_store::{
    expire, parse_window, records_from_batch, FlowBatch, FlowStore, LocalStore, ParquetWriter,
    SortKey, StoreError, TimeWindow, WriteOptions,
};

/// Flows over three hours, with flows on and next to every boundary.
fn three_hours() -> Vec<FlowRecord> {
    let mut times: Vec<i64> = (0..3000).map(|i| T0 + i * 3_600 + (i % 7)).collect();
    for h in 0..=3 {
        times.extend([T0 + h * HOUR - 1, T0 + h * HOUR, T0 + h * HOUR + 1]);
    }
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| flow(i as u64, t))
        .collect()
}

fn store_with(dir: &Path, flows: &[FlowRecord], options: WriteOptions) {
    let w = ParquetWriter::new(dir, options);
    // Two writes, so that hours have more than one file.
    let (a, b) = flows.split_at(flows.len() / 2);
    for part in [a, b] {
        let batch: FlowBatch = part.iter().copied().collect();
        w.write(&[batch.to_record_batch()]).expect("write");
    }
}

fn scan_all(store: &LocalStore, window: Option<TimeWindow>) -> Vec<FlowRecord> {
    let mut out = Vec::new();
    for b in store.scan(window, &Column::ALL).expect("scan") {
        out.extend(records_from_batch(&b.expect("batch")).expect("flows"));
    }
    sorted(out)
}

#[test]
fn scan_returns_exactly_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    // Small row groups so that row-group pruning is exercised too.
    store_with(
        dir.path(),
        &flows,
        WriteOptions {
            sort: SortKey::Time,
            row_group_rows: 100,
            ..Default::default()
        },
    );
    let store = LocalStore::new(dir.path()).with_batch_size(333);
    assert_eq!(scan_all(&store, None), sorted(flows.clone()));
    for (s, e) in [
        (T0, T0 + HOUR),
        (T0 + HOUR - 1, T0 + HOUR + 1),
        (T0 + HOUR, T0 + 2 * HOUR),
        (T0 + 1234, T0 + 2 * HOUR + 5678),
        (T0 - HOUR, T0),
        (T0 + 3 * HOUR, T0 + 4 * HOUR),
        (T0 + 10, T0 + 10),
    ] {
        let w = TimeWindow::new(s, e);
        let want: Vec<_> = flows
            .iter()
            .copied()
            .filter(|f| w.holds(f.time_start, f.time_end))
            .collect();
        assert_eq!(scan_all(&store, Some(w)), sorted(want), "window {w}");
    }
}

#[test]
fn scan_sorted_by_port_filters_exactly_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_with(
        dir.path(),
        &flows,
        WriteOptions {
            row_group_rows: 64,
            ..Default::default()
        },
    );
    let store = LocalStore::new(dir.path());
    let w = parse_window("2026/11/26.14:30:00-2026/11/26.15:29:59").expect("window");
    let want: Vec<_> = flows
        .iter()
        .copied()
        .filter(|f| w.holds(f.time_start, f.time_end))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(scan_all(&store, Some(w)), sorted(want));
}

#[test]
fn files_are_pruned_by_partition_hour() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_with(dir.path(), &three_hours(), WriteOptions::default());
    let store = LocalStore::new(dir.path());
    // First write: hours 14, 15. Second: 15, 16 and the boundary flows in
    // 13 (T0-1), 14, 15, 16 and 17 (T0+3h).
    assert_eq!(store.files(None).expect("files").len(), 7);
    let one = store
        .files(Some(TimeWindow::new(T0 + HOUR + 5, T0 + HOUR + 6)))
        .expect("files");
    assert_eq!(one.len(), 2);
    assert!(
        one.iter()
            .all(|p| p.to_string_lossy().contains("2026/11/26/15/")),
        "{one:?}"
    );
    assert!(store
        .files(Some(TimeWindow::new(0, 1000)))
        .expect("files")
        .is_empty());
}

#[test]
fn scan_projects_columns_in_the_order_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = three_hours();
    store_with(dir.path(), &flows, WriteOptions::default());
    let store = LocalStore::new(dir.path());
    let cols = [Column::DstPort, Column::SrcIp];
    let w = TimeWindow::new(T0, T0 + HOUR);
    let mut rows = 0;
    for b in store.scan(Some(w), &cols).expect("scan") {
        let b = b.expect("batch");
        let names: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["dst_port", "src_ip"]);
        rows += b.num_rows();
    }
    assert_eq!(
        rows,
        flows
            .iter()
            .filter(|f| w.holds(f.time_start, f.time_end))
            .count()
    );
    // No columns at all still counts rows.
    let n: usize = store
        .scan(Some(w), &[])
        .expect("scan")
        .map(|b| b.expect("batch").num_rows())
        .sum();
    assert_eq!(n, rows);
}

#[test]
fn truncated_and_foreign_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_with(dir.path(), &three_hours()[..100], WriteOptions::default());
    let store = LocalStore::new(dir.path());
    let files = store.files(None).expect("files");
    let victim = &files[0];
    let len = std::fs::metadata(victim).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(victim)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    let foreign = victim.with_file_name("zz-foreign.parquet");
    std::fs::write(&foreign, b"PAR1 this is not parquet at all PAR1").expect("write");
    // And a temp file that must never be listed.
    std::fs::write(victim.with_file_name(".x.parquet.tmp"), b"partial").expect("write");

    assert_eq!(store.files(None).expect("files").len(), files.len() + 1);
    let mut errors = Vec::new();
    let mut rows = 0;
    for b in store.scan(None, &Column::ALL).expect("scan") {
        match b {
            Ok(b) => rows += b.num_rows(),
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(errors.len(), 2, "{errors:?}");
    let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        msgs.iter().any(|m| m.contains(&*victim.to_string_lossy())),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("zz-foreign.parquet")),
        "{msgs:?}"
    );
    assert!(matches!(
        errors[0],
        StoreError::Parquet { .. } | StoreError::Read { .. }
    ));
    assert!(rows > 0, "the intact file is still read");
}

#[test]
fn stray_directories_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_with(dir.path(), &three_hours()[..10], WriteOptions::default());
    for p in [
        "flows/notes",
        "flows/2026/xx",
        "flows/2026/11/26/99",
        "flows/2026/11/26/14/sub",
    ] {
        std::fs::create_dir_all(dir.path().join(p)).expect("mkdir");
    }
    std::fs::write(dir.path().join("flows/README.parquet"), b"x").expect("write");
    let store = LocalStore::new(dir.path());
    assert_eq!(scan_all(&store, None).len(), 10);
}

fn count_files(dir: &Path) -> usize {
    LocalStore::new(dir).files(None).expect("files").len()
}

#[test]
fn expire_by_age_removes_whole_old_hours_and_empty_dirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..6).map(|h| flow(h as u64, T0 + h * HOUR + 10)).collect();
    store_with(dir.path(), &flows, WriteOptions::default());
    assert_eq!(count_files(dir.path()), 6);
    // Now is 16:30; keep 2 hours: hours ending at or before 14:30 go (hour 13 none,
    // hour 14 ends 15:00 > 14:30 stays).
    let now = T0 + 2 * HOUR + HOUR / 2;
    let r = expire(dir.path(), Some(Duration::from_secs(2 * 3600)), None, now).expect("expire");
    assert!(r.removed.is_empty(), "{r:?}");
    // Keep 1 hour: cutoff 15:30, so hour 14 (ends 15:00) goes.
    let r = expire(dir.path(), Some(Duration::from_secs(3600)), None, now).expect("expire");
    assert_eq!(r.removed.len(), 1, "{r:?}");
    assert!(r.removed[0].to_string_lossy().contains("2026/11/26/14/"));
    assert_eq!(r.kept_files, 5);
    assert!(
        !dir.path().join("flows/2026/11/26/14").exists(),
        "empty hour dir removed"
    );
    assert!(dir.path().join("flows/2026/11/26/15").exists());
    // Everything old: the day and month and year dirs go too.
    let r = expire(dir.path(), Some(Duration::ZERO), None, T0 + 30 * 24 * HOUR).expect("expire");
    assert_eq!(r.removed.len(), 5);
    assert_eq!(r.kept_files, 0);
    assert!(!dir.path().join("flows/2026").exists());
    assert!(dir.path().join("flows").exists());
}

#[test]
fn expire_by_size_removes_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..4 * 200)
        .map(|i| flow(i as u64, T0 + (i / 200) * HOUR + i))
        .collect();
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    let mut written = Vec::new();
    for chunk in flows.chunks(200) {
        let b: FlowBatch = chunk.iter().copied().collect();
        written.extend(w.write(&[b.to_record_batch()]).expect("write"));
    }
    let total: u64 = written.iter().map(|f| f.bytes).sum();
    let newest_two: u64 = written[2..].iter().map(|f| f.bytes).sum();
    let r = expire(dir.path(), None, Some(newest_two), T0).expect("expire");
    assert_eq!(
        r.removed,
        vec![written[0].path.clone(), written[1].path.clone()]
    );
    assert_eq!(r.removed_bytes + r.kept_bytes, total);
    assert_eq!(r.kept_bytes, newest_two);
    // Nothing to do when under the limits; a missing data dir is fine.
    assert!(expire(dir.path(), None, Some(total), T0)
        .expect("expire")
        .removed
        .is_empty());
    let empty = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        expire(empty.path(), Some(Duration::ZERO), Some(0), T0)
            .expect("expire")
            .kept_files,
        0
    );
}

/// A file written before the country columns existed (28 columns) is read
/// with them null, next to a current one.
#[test]
fn files_from_before_the_country_columns_read_as_not_looked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..100).map(|i| flow(i, T0 + i as i64 * 1000)).collect();
    let batch: FlowBatch = flows.iter().copied().collect();
    let full = batch.to_record_batch();
    let old = full
        .project(&(0..full.num_columns() - 2).collect::<Vec<_>>())
        .expect("project");
    assert!(old.column_by_name("src_country").is_none());
    let hour = dir.path().join("flows/2026/11/26/14");
    std::fs::create_dir_all(&hour).expect("mkdir");
    let file = std::fs::File::create(hour.join("old.parquet")).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, old.schema(), None).expect("writer");
    w.write(&old).expect("write");
    w.close().expect("close");
    let got = scan_all(&LocalStore::new(dir.path()), None);
    let mut want: Vec<FlowRecord> = flows
        .iter()
        .map(|f| FlowRecord {
            src_country: flowhound_model::COUNTRY_NONE,
            dst_country: flowhound_model::COUNTRY_NONE,
            ..*f
        })
        .collect();
    want = sorted(want);
    assert_eq!(got, want);
}
