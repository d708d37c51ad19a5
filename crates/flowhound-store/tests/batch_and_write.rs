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
    type Key = (bool, u8, u16, u128, i64);
    type KeyFn = fn(&FlowRecord) -> Key;
    let cases: [(SortKey, KeyFn); 4] = [
        (SortKey::Connection, connection_key),
        (SortKey::ProtoPortDstTime, |f| {
            (false, f.proto, f.dst_port, f.dst_ip, f.time_start)
        }),
        (SortKey::ProtoPortSrcTime, |f| {
            (false, f.proto, f.dst_port, f.src_ip, f.time_start)
        }),
        (SortKey::Time, |f| (false, 0, 0, 0, f.time_start)),
    ];
    assert_eq!(WriteOptions::default().sort, SortKey::Connection);
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

/// Requests, then replies; by protocol, service (the lower port), client
/// (the address on the higher port), time. One bucket at this size.
fn connection_key(f: &FlowRecord) -> (bool, u8, u16, u128, i64) {
    let reply = f.src_port < f.dst_port && f.src_port != 0;
    if reply {
        (true, f.proto, f.src_port, f.dst_ip, f.time_start)
    } else {
        (false, f.proto, f.dst_port, f.src_ip, f.time_start)
    }
}

/// An hour of 300 k flows from 3000 clients: the connection layout cuts the
/// clients, in address order, into buckets; each bucket's requests and
/// replies are row groups of their own, so the `src_ip` range of request
/// row groups (and `dst_ip` of reply row groups) of different buckets do
/// not overlap, and a host's queries skip all but its own.
#[test]
fn connection_layout_gives_client_ranges_and_sides_their_own_row_groups() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::statistics::Statistics;
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..300_000u64)
        .map(|i| {
            let mut f = flow(i, T0 + (i as i64 * 7919) % HOUR);
            let client = flowhound_model::addr_from_v4(0x0a00_0000 | (i % 3000) as u32);
            let server = flowhound_model::addr_from_v4(0x5000_0000 | (i * 7 % 500) as u32);
            let (ephemeral, service) = (
                40_000 + (i % 20_000) as u16,
                [443u16, 25, 53][i as usize % 3],
            );
            if i % 2 == 0 {
                (f.src_ip, f.dst_ip, f.src_port, f.dst_port) = (client, server, ephemeral, service);
            } else {
                (f.src_ip, f.dst_ip, f.src_port, f.dst_port) = (server, client, service, ephemeral);
            }
            f
        })
        .collect();
    let batch: FlowBatch = flows.iter().copied().collect();
    let w = ParquetWriter::new(dir.path(), WriteOptions::default());
    let files = w.write(&[batch.to_record_batch()]).expect("write");
    assert_eq!(files.len(), 1);
    let back = read_parquet(&files[0].path);
    assert_eq!(back.len(), flows.len());

    let reader = SerializedFileReader::new(std::fs::File::open(&files[0].path).expect("open"))
        .expect("read");
    let meta = reader.metadata();
    let column = |name: &str| {
        meta.file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == name)
            .expect("column")
    };
    let (src, dst, sport, dport) = (
        column("src_ip"),
        column("dst_ip"),
        column("src_port"),
        column("dst_port"),
    );
    let range = |rg: usize, c: usize| match meta.row_group(rg).column(c).statistics() {
        Some(Statistics::FixedLenByteArray(s)) => (
            s.min_opt().expect("min").data().to_vec(),
            s.max_opt().expect("max").data().to_vec(),
        ),
        other => panic!("no address statistics: {other:?}"),
    };
    let ports = |rg: usize, c: usize| match meta.row_group(rg).column(c).statistics() {
        Some(Statistics::Int32(s)) => (*s.min_opt().expect("min"), *s.max_opt().expect("max")),
        other => panic!("no port statistics: {other:?}"),
    };
    let (mut requests, mut replies) = (Vec::new(), Vec::new());
    let mut start = 0usize;
    for rg in 0..meta.num_row_groups() {
        let n = meta.row_group(rg).num_rows() as usize;
        // One side only: requests go to the service port, replies come from it.
        let rows = &back[start..start + n];
        let reply = connection_key(&rows[0]).0;
        assert!(
            rows.iter().all(|f| connection_key(f).0 == reply),
            "row group {rg} mixes sides"
        );
        if reply {
            assert!(ports(rg, sport).1 < 1024, "replies come from services");
            replies.push(range(rg, dst));
        } else {
            assert!(ports(rg, dport).1 < 1024, "requests go to services");
            requests.push(range(rg, src));
        }
        start += n;
    }
    assert!(
        requests.len() >= 4 && replies.len() >= 4,
        "{} + {} row groups",
        requests.len(),
        replies.len()
    );
    for side in [&mut requests, &mut replies] {
        side.sort();
        for pair in side.windows(2) {
            assert!(pair[0].1 < pair[1].0, "client ranges overlap: {pair:?}");
        }
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

/// Bloom filters on the address columns, sized for the file: a quiet
/// minute's 100 flows carry filters of a few hundred bytes, a full row
/// group's 32 kB.
#[test]
fn bloom_filters_are_sized_for_the_file() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bloom_bytes = |n: u64| {
        let dir = tempfile::tempdir().expect("tempdir");
        let flows: Vec<FlowRecord> = (0..n).map(|i| flow(i, T0 + (i % 1000) as i64)).collect();
        let batch: FlowBatch = flows.into_iter().collect();
        let files = ParquetWriter::new(dir.path(), WriteOptions::default())
            .write(&[batch.to_record_batch()])
            .expect("write");
        let reader = SerializedFileReader::new(std::fs::File::open(&files[0].path).expect("open"))
            .expect("read");
        let meta = reader.metadata();
        let src = meta
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == "src_ip")
            .expect("src_ip");
        (0..meta.num_row_groups())
            .map(|rg| {
                meta.row_group(rg)
                    .column(src)
                    .bloom_filter_length()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    };
    let small = bloom_bytes(100);
    let full = bloom_bytes(200_000);
    assert!(
        small > 0 && small <= 1024,
        "100 flows: {small} bytes of Bloom filter"
    );
    assert!(full >= 16 * 1024, "a full row group: {full} bytes");
}

/// zstd only where it pays: addresses and counters compressed, delta-coded
/// times and dictionary-coded constants stored as encoded.
#[test]
fn only_columns_that_shrink_are_compressed() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: Vec<FlowRecord> = (0..5000).map(|i| flow(i, T0 + i as i64)).collect();
    let batch: FlowBatch = flows.into_iter().collect();
    let files = ParquetWriter::new(dir.path(), WriteOptions::default())
        .write(&[batch.to_record_batch()])
        .expect("write");
    let reader = SerializedFileReader::new(std::fs::File::open(&files[0].path).expect("open"))
        .expect("read");
    let rg = reader.metadata().row_group(0);
    let codec = |name: &str| {
        rg.columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .map(|c| c.compression())
            .expect("column")
    };
    for name in [
        "src_ip", "dst_ip", "src_port", "dst_port", "bytes", "packets",
    ] {
        assert!(
            matches!(codec(name), Compression::ZSTD(_)),
            "{name}: {:?}",
            codec(name)
        );
    }
    for name in ["time_start", "time_end", "proto", "src_as", "src_country"] {
        assert_eq!(codec(name), Compression::UNCOMPRESSED, "{name}");
    }
    assert_eq!(read_parquet(&files[0].path).len(), 5000);
}
