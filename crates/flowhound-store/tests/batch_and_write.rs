//! FlowBatch round trips and the Parquet writer's partitioning and atomicity.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use flowhound_model::{FlowRecord, FlowSink};
use flowhound_store::{
    records_from_batch, FlowBatch, ParquetWriter, SortKey, StoreError, WriteOptions,
};

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn batch_round_trip_keeps_every_field_v4_and_v6() {
    let flows: Vec<FlowRecord> = (0..1000).map(|i| flow(i, T0 + i as i64)).collect();
    let mut b = FlowBatch::with_capacity(16);
    for f in &flows {
        b.push(f);
    }
    assert_eq!(b.len(), 1000);
    assert_eq!(b.get(1), Some(flows[1]));
    let copy = b.to_record_batch();
    assert_eq!(b.len(), 1000, "to_record_batch keeps the flows");
    let taken = b.take();
    assert!(b.is_empty(), "take empties the batch");
    assert_eq!(records_from_batch(&copy).expect("copy"), flows);
    assert_eq!(records_from_batch(&taken).expect("taken"), flows);
    assert!(flows.iter().any(|f| f.is_ipv4()) && flows.iter().any(|f| !f.is_ipv4()));
}

#[test]
fn batch_clear_and_reuse() {
    let mut b = FlowBatch::with_capacity(4);
    b.push(&flow(1, T0));
    b.clear();
    assert!(b.is_empty());
    b.push(&flow(2, T0));
    assert_eq!(
        records_from_batch(&b.take()).expect("batch"),
        vec![flow(2, T0)]
    );
}

#[test]
fn records_from_batch_refuses_a_foreign_batch() {
    let batch = arrow_array::RecordBatch::try_from_iter([(
        "time_start",
        std::sync::Arc::new(arrow_array::Int32Array::from(vec![1, 2])) as arrow_array::ArrayRef,
    )])
    .expect("batch");
    let err = records_from_batch(&batch).expect_err("foreign");
    assert!(matches!(err, StoreError::Schema { .. }), "{err}");
}

fn write_and_read(options: WriteOptions) {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..5000)
        .map(|i| flow(i, T0 + (i as i64 * 7919) % HOUR))
        .collect();
    let batch: FlowBatch = flows.iter().copied().collect();
    let writer = ParquetWriter::new(dir.path(), options);
    let files = writer.write(&[batch.to_record_batch()]).expect("write");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].rows, 5000);
    assert_eq!(
        files[0].bytes,
        std::fs::metadata(&files[0].path).expect("stat").len()
    );
    assert!(
        files[0]
            .path
            .starts_with(dir.path().join("flows/2026/11/26/14")),
        "{:?}",
        files[0].path
    );
    let back = read_parquet(&files[0].path);
    assert_eq!(sorted(back), sorted(flows));
}

#[test]
fn parquet_round_trip_every_sort_key() {
    for sort in [
        SortKey::None,
        SortKey::Time,
        SortKey::ProtoPortSrcTime,
        SortKey::ProtoPortDstTime,
    ] {
        write_and_read(WriteOptions {
            sort,
            ..WriteOptions::default()
        });
    }
    write_and_read(WriteOptions {
        tuned_encodings: false,
        bloom_filters: true,
        ..WriteOptions::default()
    });
}

#[test]
fn arrival_order_is_kept_without_sort_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..100).map(|i| flow(i, T0 + 100 - i as i64)).collect();
    let batch: FlowBatch = flows.iter().copied().collect();
    let w = ParquetWriter::new(
        dir.path(),
        WriteOptions {
            sort: SortKey::None,
            ..Default::default()
        },
    );
    let files = w.write(&[batch.take_clone()]).expect("write");
    assert_eq!(read_parquet(&files[0].path), flows);
}

trait TakeClone {
    fn take_clone(&self) -> arrow_array::RecordBatch;
}
impl TakeClone for FlowBatch {
    fn take_clone(&self) -> arrow_array::RecordBatch {
        self.to_record_batch()
    }
}

#[test]
fn rows_follow_the_sort_key() {
    type Key = (u8, u16, u128, i64);
    type KeyFn = fn(&FlowRecord) -> Key;
    let cases: [(SortKey, KeyFn); 3] = [
        (SortKey::ProtoPortDstTime, |f| {
            (f.proto, f.dst_port, f.dst_ip, f.time_start)
        }),
        (SortKey::ProtoPortSrcTime, |f| {
            (f.proto, f.dst_port, f.src_ip, f.time_start)
        }),
        (SortKey::Time, |f| (0, 0, 0, f.time_start)),
    ];
    assert_eq!(WriteOptions::default().sort, SortKey::ProtoPortDstTime);
    for (sort, key) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let flows: Vec<FlowRecord> = (0..500)
            .map(|i| flow(i, T0 + (i as i64 * 7919) % HOUR))
            .collect();
        let batch: FlowBatch = flows.into_iter().collect();
        let w = ParquetWriter::new(
            dir.path(),
            WriteOptions {
                sort,
                ..Default::default()
            },
        );
        let files = w.write(&[batch.to_record_batch()]).expect("write");
        let keys: Vec<Key> = read_parquet(&files[0].path).iter().map(key).collect();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(keys, want, "{sort:?}");
    }
}

#[test]
fn three_hours_land_in_three_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two batches, hours interleaved, including both edges of each hour.
    let times = [
        T0,
        T0 + HOUR - 1,
        T0 + HOUR,
        T0 + 2 * HOUR - 1,
        T0 + 2 * HOUR,
        T0 + 3 * HOUR - 1,
    ];
    let a: FlowBatch = times
        .iter()
        .enumerate()
        .map(|(i, &t)| flow(i as u64, t))
        .collect();
    let b: FlowBatch = times
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &t)| flow(10 + i as u64, t))
        .collect();
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    let files = w
        .write(&[a.to_record_batch(), b.to_record_batch()])
        .expect("write");
    let dirs: Vec<_> = files
        .iter()
        .map(|f| {
            f.path
                .parent()
                .expect("dir")
                .strip_prefix(dir.path())
                .expect("under")
                .to_path_buf()
        })
        .collect();
    assert_eq!(
        dirs,
        [
            "flows/2026/11/26/14",
            "flows/2026/11/26/15",
            "flows/2026/11/26/16"
        ]
        .map(PathBuf::from)
    );
    for (k, f) in files.iter().enumerate() {
        assert_eq!(f.rows, 4);
        assert_eq!(f.hour_start_ms, T0 + k as i64 * HOUR);
        for r in read_parquet(&f.path) {
            assert!(r.time_start >= f.hour_start_ms && r.time_start < f.hour_start_ms + HOUR);
        }
    }
}

#[test]
fn no_temp_files_remain_and_names_are_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    for k in 0..3 {
        let b: FlowBatch = (0..50).map(|i| flow(i, T0 + k * HOUR + i as i64)).collect();
        w.write(&[b.to_record_batch()]).expect("write");
    }
    let files = all_files(dir.path());
    assert_eq!(files.len(), 3);
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.ends_with(".parquet") && !name.starts_with('.'),
            "{name}"
        );
    }
}

#[test]
fn empty_write_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    assert!(w.write(&[]).expect("write").is_empty());
    assert!(w
        .write(&[FlowBatch::default().take()])
        .expect("write")
        .is_empty());
}

#[test]
fn write_refuses_foreign_batch_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = arrow_array::RecordBatch::try_from_iter([(
        "x",
        std::sync::Arc::new(arrow_array::Int32Array::from(vec![1])) as arrow_array::ArrayRef,
    )])
    .expect("batch");
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    assert!(matches!(w.write(&[batch]), Err(StoreError::Schema { .. })));
    assert!(all_files(dir.path()).is_empty());
}

#[test]
fn absurd_times_are_filed_not_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b: FlowBatch = [flow(0, -5), flow(1, i64::MAX), flow(2, 0)]
        .into_iter()
        .collect();
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    let files = w.write(&[b.to_record_batch()]).expect("write");
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    assert_eq!(rows, 3);
}
