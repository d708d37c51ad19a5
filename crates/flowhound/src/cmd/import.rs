use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;

use anyhow::Context;
use flowhound_collect::exporters::merge_book;
use flowhound_collect::metrics::Metrics;
use flowhound_collect::pcap::for_each_datagram;
use flowhound_collect::Ingest;
use flowhound_model::Enricher;
use flowhound_store::{ParquetWriter, WriteOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::ImportPcapArgs;
use crate::units::user;

/// Flush decoded flows to Parquet every this many rows, to bound memory.
const FLUSH_ROWS: usize = 2_000_000;

pub fn run(a: ImportPcapArgs, enricher: Option<Arc<dyn Enricher>>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.data)
        .with_context(|| format!("cannot create data directory {}", a.data.display()))?;
    let writer = ParquetWriter::new(&a.data, WriteOptions::default());
    let metrics = Metrics::default();
    // One template cache for all files: captures split into a template file
    // and a data file (replay the template file first) decode together.
    let mut ingest = Ingest::new().with_enricher(enricher);
    let mut pending = Vec::new();
    let mut pending_rows = 0;
    let mut written = 0u64;
    let mut hours = std::collections::BTreeSet::new();
    let mut books = HashMap::new();
    for path in &a.files {
        let file =
            File::open(path).map_err(|e| user(format!("cannot open {}: {e}", path.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = ProgressBar::new(size).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(path.display().to_string());
        let mut failure = None;
        let stats = for_each_datagram(bar.wrap_read(file), |d| {
            ingest.datagram(d.payload, d.exporter, d.time_ms, &metrics);
            if ingest.batch.len() >= 64 * 1024 {
                pending_rows += ingest.batch.len();
                pending.push(ingest.batch.to_record_batch());
                ingest.batch.clear();
            }
            if pending_rows >= FLUSH_ROWS && failure.is_none() {
                match writer.write(&pending) {
                    Ok(files) => {
                        written += files.iter().map(|f| f.rows).sum::<u64>();
                        hours.extend(files.iter().map(|f| f.hour_start_ms));
                    }
                    Err(e) => failure = Some(e),
                }
                pending.clear();
                pending_rows = 0;
            }
        })
        .map_err(|e| user(format!("{}: {e}", path.display())))?;
        bar.finish_and_clear();
        if let Some(e) = failure {
            return Err(e).context("cannot write Parquet files");
        }
        eprintln!(
            "{}: {} packets, {} export datagrams, {} skipped, {} fragments{}",
            path.display(),
            stats.packets,
            stats.datagrams,
            stats.skipped,
            stats.fragments,
            if stats.truncated {
                " (the capture ends in a cut-off packet; everything before it was read)"
            } else {
                ""
            }
        );
    }
    if !ingest.batch.is_empty() {
        pending.push(ingest.batch.to_record_batch());
        ingest.batch.clear();
    }
    if !pending.is_empty() {
        let files = writer
            .write(&pending)
            .context("cannot write Parquet files")?;
        written += files.iter().map(|f| f.rows).sum::<u64>();
        hours.extend(files.iter().map(|f| f.hour_start_ms));
    }
    for (k, s) in ingest.take_exporters() {
        books.insert(k, s);
    }
    merge_book(&a.data, &books).context("cannot update exporters.json")?;
    // Big captures were written in parts: one file per hour reads faster.
    // The flows are stored either way, so a failure here is only a warning.
    if let Err(e) = super::compact::hours(&a.data, hours.into_iter().collect()) {
        eprintln!("warning: the imported hours were not merged into one file each ({e:#}); `flowhound compact` does it later");
    }
    let errors = metrics.decode_errors();
    eprintln!(
        "imported {written} flows from {} datagrams into {}{}",
        metrics.datagrams(),
        a.data.display(),
        if errors.is_empty() {
            String::new()
        } else {
            format!("; decode errors: {errors:?}")
        }
    );
    Ok(())
}
