//! Writes the flows of one store again into another with a chosen layout,
//! to measure queries on the same flows laid out differently.
//!
//!     cargo run -p flowhound-store --example relayout -- SRC DST [connection|dst|src] [bloom|nobloom] [PAGE_ROWS]

use std::fs::File;
use std::path::PathBuf;

use flowhound_store::{FlowStore, LocalStore, ParquetWriter, SortKey, WriteOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (src, dst) = match (args.first(), args.get(1)) {
        (Some(s), Some(d)) => (PathBuf::from(s), PathBuf::from(d)),
        _ => {
            return Err(
                "usage: relayout SRC DST [connection|dst|src] [bloom|nobloom] [PAGE_ROWS]".into(),
            )
        }
    };
    let mut options = WriteOptions {
        fsync: false,
        ..WriteOptions::default()
    };
    options.sort = match args.get(2).map(String::as_str) {
        None | Some("connection") => SortKey::Connection,
        Some("dst") => SortKey::ProtoPortDstTime,
        Some("src") => SortKey::ProtoPortSrcTime,
        Some(other) => return Err(format!("unknown sort {other}").into()),
    };
    options.bloom_filters = args.get(3).map(String::as_str) != Some("nobloom");
    if let Some(rows) = args.get(4) {
        options.data_page_rows = rows.parse()?;
    }
    let writer = ParquetWriter::new(&dst, options);
    for path in LocalStore::new(&src).files(None)? {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?.build()?;
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        writer.write(&batches)?;
    }
    Ok(())
}
