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
    Config {
        name: name.into(),
        options,
        properties: None,
    }
}

fn custom(
    name: &str,
    options: WriteOptions,
    f: impl FnOnce(WriterPropertiesBuilder) -> WriterPropertiesBuilder,
) -> Config {
    let b = options.properties_builder().expect("valid options");
    Config {
        name: name.into(),
        properties: Some(f(b).build()),
        options,
    }
}

fn col(name: &str) -> ColumnPath {
    ColumnPath::from(name)
}

const ADDRS: [&str; 4] = ["exporter", "src_ip", "dst_ip", "next_hop"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let only = args.get(2).cloned();

    // One busy hour of a site: flows arrive over the hour, with jitter.
    let traffic = Traffic::new(7, START, Scenario::All).with_peak_rate(n as f64 / 3600.0 * 1.15);
    let flows: Vec<_> = traffic.take(n).collect();
    let mut fb = FlowBatch::with_capacity(n);
    let cpu = thread_cpu_ns();
    for f in &flows {
        fb.push(f);
    }
    let all = fb.take();
    let push_ns = (thread_cpu_ns() - cpu) as f64 / n as f64;
    drop(flows);
    let batches: Vec<RecordBatch> = (0..n)
        .step_by(65_536)
        .map(|o| all.slice(o, 65_536.min(n - o)))
        .collect();

    let base = WriteOptions {
        fsync: false,
        ..WriteOptions::default()
    };
    let sorted = |sort| WriteOptions {
        sort,
        ..base.clone()
    };
    let zstd3 = || Compression::ZSTD(ZstdLevel::try_new(3).expect("level"));
    let mut configs = vec![
        custom(
            "parquet defaults, zstd 3, arrival order",
            sorted(SortKey::None),
            |_| WriterProperties::builder().set_compression(zstd3()),
        ),
        custom(
            "parquet defaults, zstd 3, sort proto,dst_port,dst_ip,time",
            base.clone(),
            |_| WriterProperties::builder().set_compression(zstd3()),
        ),
        cfg("defaults (WriteOptions::default())", base.clone()),
        cfg(
            "defaults + bloom src/dst_ip",
            WriteOptions {
                bloom_filters: true,
                ..base.clone()
            },
        ),
        cfg(
            "defaults, sort proto,dst_port,src_ip,time",
            sorted(SortKey::ProtoPortSrcTime),
        ),
        cfg("defaults, sort time_start", sorted(SortKey::Time)),
        cfg("defaults, arrival order", sorted(SortKey::None)),
    ];
    for level in [3, 6, 9] {
        configs.push(cfg(
            &format!("defaults, zstd {level}"),
            WriteOptions {
                zstd_level: level,
                ..base.clone()
            },
        ));
    }
    for rows in [256 * 1024, 1024 * 1024] {
        configs.push(cfg(
            &format!("defaults, row groups {}k", rows / 1024),
            WriteOptions {
                row_group_rows: rows,
                ..base.clone()
            },
        ));
    }
    configs.push(cfg(
        "defaults, untuned encodings (dictionary everywhere)",
        WriteOptions {
            tuned_encodings: false,
            ..base.clone()
        },
    ));
    configs.push(custom(
        "defaults, no dictionary at all",
        base.clone(),
        |b| b.set_dictionary_enabled(false),
    ));
    configs.push(custom(
        "defaults, addresses BYTE_STREAM_SPLIT",
        base.clone(),
        |mut b| {
            for a in ADDRS {
                b = b
                    .set_column_dictionary_enabled(col(a), false)
                    .set_column_encoding(col(a), Encoding::BYTE_STREAM_SPLIT);
            }
            b
        },
    ));
    configs.push(custom(
        "defaults, counters DELTA_BINARY_PACKED",
        base.clone(),
        |mut b| {
            for a in ["packets", "bytes"] {
                b = b.set_column_encoding(col(a), Encoding::DELTA_BINARY_PACKED);
            }
            b
        },
    ));
    configs.push(custom(
        "defaults, chunk statistics only",
        base.clone(),
        |b| b.set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk),
    ));
    for n in [8192, 65536] {
        configs.push(custom(
            &format!("defaults, write batch {n}"),
            base.clone(),
            move |b| b.set_write_batch_size(n),
        ));
    }
    configs.push(custom("defaults, pages 256 KiB", base.clone(), |b| {
        b.set_data_page_size_limit(256 * 1024)
    }));

    println!("FlowBatch::push {push_ns:.1} ns/flow");
    let span = flowhound_store::records_from_batch(&all.slice(0, 1)).expect("flows")[0].time_start;
    let last =
        flowhound_store::records_from_batch(&all.slice(n - 1, 1)).expect("flows")[0].time_start;
    println!(
        "{n} flows, {} batches, time_start from {} to {} (+{:.2} h)\n",
        batches.len(),
        span,
        last,
        (last - span) as f64 / 3.6e6
    );
    println!("| layout | B/flow | write CPU ns/flow | rows read: dst_port=25 | rows read: 5 min |");
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
        let mut best_cpu = f64::MAX;
        let mut files = Vec::new();
        for _ in 0..2 {
            let _ = std::fs::remove_dir_all(dir.path().join("flows"));
            let (t, cpu) = (Instant::now(), thread_cpu_ns());
            files = writer.write(&batches).expect("write");
            best_ns = best_ns.min(t.elapsed().as_nanos() as f64 / n as f64);
            best_cpu = best_cpu.min((thread_cpu_ns() - cpu) as f64 / n as f64);
        }
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let (smtp, window) = pruning(&files);
        println!(
            "| {} | {:.2} | {:.0} ({:.0} wall) | {:.1}% | {:.1}% |",
            c.name,
            bytes as f64 / n as f64,
            best_cpu,
            best_ns,
            100.0 * smtp as f64 / n as f64,
            100.0 * window as f64 / n as f64
        );
        if c.name.starts_with("defaults (") || c.name.starts_with("parquet defaults") {
            breakdown(&files, n);
        }
    }
}

/// Rows in row groups that statistics cannot rule out, for `dst_port = 25`
/// and for the window of 5 minutes starting at 14:10.
fn pruning(files: &[WrittenFile]) -> (u64, u64) {
    let (ws, we) = (START + 10 * 60_000, START + 15 * 60_000);
    let (mut smtp, mut window) = (0, 0);
    for f in files {
        let r = SerializedFileReader::new(File::open(&f.path).expect("open")).expect("parquet");
        let md = r.metadata();
        let schema = md.file_metadata().schema_descr();
        let idx = |name: &str| {
            (0..schema.num_columns())
                .find(|&i| schema.column(i).name() == name)
                .expect("column")
        };
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
    per.sort_by_key(|p| std::cmp::Reverse(p.1));
    let cols: Vec<String> = per
        .iter()
        .map(|(name, b)| format!("{name} {:.2}", *b as f64 / n as f64))
        .collect();
    println!("|   per column (B/flow): {} | | | | |", cols.join(", "));
}

/// CPU time of this thread, from the scheduler's own accounting.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
