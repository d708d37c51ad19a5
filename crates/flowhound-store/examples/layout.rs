//! Measures the Parquet layout of flows: bytes per flow on disk and write
//! time per flow (split by hour, sort, encode, compress; no fsync) for sort
//! keys and Parquet settings, on synthetic site traffic from
//! `flowhound-generate`. Also shows how many rows a `dst_port = 25` query
//! and a 5-minute window must read after row-group pruning.
//!
//!     cargo run --release -p flowhound-store --example layout -- [FLOWS] [only-name-substring]

use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

use arrow_array::RecordBatch;
use flowhound_generate::{Scenario, Traffic};
use flowhound_model::FlowSink;
use flowhound_store::{FlowBatch, ParquetWriter, SortKey, WriteOptions, WrittenFile};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

/// 2026-11-26T14:00:00Z
const START: i64 = 1_795_701_600_000;

struct Config {
    name: String,
    options: WriteOptions,
    properties: Option<WriterProperties>,
}

fn cfg(name: &str, options: WriteOptions) -> Config {
    Config { name: name.into(), options, properties: None }
}

fn custom(
    name: &str,
    options: WriteOptions,
    f: impl FnOnce(WriterPropertiesBuilder) -> WriterPropertiesBuilder,
) -> Config {
    let b = options.properties_builder().expect("valid options");
    Config { name: name.into(), properties: Some(f(b).build()), options }
}

fn col(name: &str) -> ColumnPath {
    ColumnPath::from(name)
}

const ADDRS: [&str; 4] = ["exporter", "src_ip", "dst_ip", "next_hop"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let only = args.get(2).cloned();

    // One busy hour of a site: flows arrive over the hour, with jitter.
    let traffic = Traffic::new(7, START, Scenario::All).with_peak_rate(n as f64 / 3600.0 * 1.15);
    let mut fb = FlowBatch::with_capacity(n);
    for f in traffic.take(n) {
        fb.push(&f);
    }
    let all = fb.take();
    let batches: Vec<RecordBatch> = (0..n)
        .step_by(65_536)
        .map(|o| all.slice(o, 65_536.min(n - o)))
        .collect();

    let base = WriteOptions { fsync: false, ..WriteOptions::default() };
    let sorted = |sort| WriteOptions { sort, ..base.clone() };
    let mut configs = vec![
        custom("parquet defaults (dict everywhere), zstd 3, arrival order", sorted(SortKey::None), |_| {
            WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("level")))
        }),
        cfg("tuned, arrival order", sorted(SortKey::None)),
        cfg("tuned, sort time_start", sorted(SortKey::Time)),
        cfg("tuned, sort proto,dst_port,src_ip,time", sorted(SortKey::ProtoPortSrcTime)),
        cfg("tuned, sort proto,dst_port,dst_ip,time", sorted(SortKey::ProtoPortDstTime)),
    ];
    let best = SortKey::ProtoPortSrcTime;
    for level in [1, 6, 9] {
        configs.push(cfg(
            &format!("tuned, port sort, zstd {level}"),
            WriteOptions { zstd_level: level, ..sorted(best) },
        ));
    }
    for rows in [128 * 1024, 1024 * 1024] {
        configs.push(cfg(
            &format!("tuned, port sort, row groups {}k", rows / 1024),
            WriteOptions { row_group_rows: rows, ..sorted(best) },
        ));
    }
    configs.push(cfg("tuned, port sort, bloom src/dst_ip", WriteOptions { bloom_filters: true, ..sorted(best) }));
    configs.push(custom("tuned, port sort, addrs BSS no dict", sorted(best), |mut b| {
        for a in ADDRS {
            b = b
                .set_column_dictionary_enabled(col(a), false)
                .set_column_encoding(col(a), Encoding::BYTE_STREAM_SPLIT);
        }
        b
    }));
    configs.push(custom("tuned, port sort, src/dst BSS, dict others", sorted(best), |mut b| {
        for a in ["src_ip", "dst_ip"] {
            b = b
                .set_column_dictionary_enabled(col(a), false)
                .set_column_encoding(col(a), Encoding::BYTE_STREAM_SPLIT);
        }
        b
    }));
    configs.push(custom("tuned, port sort, counters BSS", sorted(best), |mut b| {
        for a in ["packets", "bytes"] {
            b = b
                .set_column_dictionary_enabled(col(a), false)
                .set_column_encoding(col(a), Encoding::BYTE_STREAM_SPLIT);
        }
        b
    }));
    configs.push(custom("tuned, port sort, counters DELTA", sorted(best), |mut b| {
        for a in ["packets", "bytes"] {
            b = b
                .set_column_dictionary_enabled(col(a), false)
                .set_column_encoding(col(a), Encoding::DELTA_BINARY_PACKED);
        }
        b
    }));
    configs.push(custom("tuned, port sort, no dictionary at all", sorted(best), |b| {
        b.set_dictionary_enabled(false)
    }));
    configs.push(custom("tuned, port sort, chunk stats only", sorted(best), |b| {
        b.set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
    }));
    configs.push(custom("tuned, port sort, pages 256 KiB", sorted(best), |b| b.set_data_page_size_limit(256 * 1024)));

    println!("{n} flows, {} batches\n", batches.len());
    println!("| layout | B/flow | write ns/flow | rows read: dst_port=25 | rows read: 5 min |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for c in &configs {
        if only.as_deref().is_some_and(|o| !c.name.contains(o)) {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let writer = match &c.properties {
            Some(p) => ParquetWriter::with_properties(dir.path(), c.options.clone(), p.clone()),
            None => ParquetWriter::new(dir.path(), c.options.clone()),
        };
        let mut best_ns = f64::MAX;
        let mut files = Vec::new();
        for _ in 0..2 {
            let _ = std::fs::remove_dir_all(dir.path().join("flows"));
            let t = Instant::now();
            files = writer.write(&batches).expect("write");
            best_ns = best_ns.min(t.elapsed().as_nanos() as f64 / n as f64);
        }
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let (smtp, window) = pruning(&files);
        println!(
            "| {} | {:.2} | {:.0} | {:.1}% | {:.1}% |",
            c.name,
            bytes as f64 / n as f64,
            best_ns,
            100.0 * smtp as f64 / n as f64,
            100.0 * window as f64 / n as f64
        );
        if c.name == "tuned, sort proto,dst_port,src_ip,time" {
            breakdown(&files, n);
        }
    }
}

/// Rows in row groups that statistics cannot rule out, for `dst_port = 25`
/// and for the window of 5 minutes starting at 14:30.
fn pruning(files: &[WrittenFile]) -> (u64, u64) {
    let (ws, we) = (START + 30 * 60_000, START + 35 * 60_000);
    let (mut smtp, mut window) = (0, 0);
    for f in files {
        let r = SerializedFileReader::new(File::open(&f.path).expect("open")).expect("parquet");
        let md = r.metadata();
        let schema = md.file_metadata().schema_descr();
        let idx = |name: &str| (0..schema.num_columns()).find(|&i| schema.column(i).name() == name).expect("column");
        let (port, ts) = (idx("dst_port"), idx("time_start"));
        for rg in md.row_groups() {
            let rows = rg.num_rows() as u64;
            if let Some(Statistics::Int32(s)) = rg.column(port).statistics() {
                if *s.min_opt().expect("min") <= 25 && *s.max_opt().expect("max") >= 25 {
                    smtp += rows;
                }
            }
            if let Some(Statistics::Int64(s)) = rg.column(ts).statistics() {
                if *s.min_opt().expect("min") < we && *s.max_opt().expect("max") >= ws {
                    window += rows;
                }
            }
        }
    }
    (smtp, window)
}

/// Compressed bytes per flow of each column.
fn breakdown(files: &[WrittenFile], n: usize) {
    let mut per: Vec<(String, u64)> = Vec::new();
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    for p in paths {
        let r = SerializedFileReader::new(File::open(&p).expect("open")).expect("parquet");
        for rg in r.metadata().row_groups() {
            for (i, c) in rg.columns().iter().enumerate() {
                if per.len() <= i {
                    per.push((c.column_path().string(), 0));
                }
                per[i].1 += c.compressed_size() as u64;
            }
        }
    }
    per.sort_by(|a, b| b.1.cmp(&a.1));
    let cols: Vec<String> = per
        .iter()
        .map(|(name, b)| format!("{name} {:.2}", *b as f64 / n as f64))
        .collect();
    println!("|   per column (B/flow): {} | | | | |", cols.join(", "));
}
