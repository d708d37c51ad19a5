//! The flow store: where decoded flows go and where queries find them.
//!
//! It owns the on-disk layout of a data directory:
//!
//! - `DIR/flows/YYYY/MM/DD/HH/*.parquet`: flows in Apache Parquet (zstd),
//!   partitioned by the UTC hour of `time_start`, rows sorted within each
//!   file ([`ParquetWriter`]). The files are the interchange format: DuckDB,
//!   pandas, Spark and ClickHouse read them as they are.
//! - `DIR/wal/`: belongs to the collector (its write-ahead log of raw
//!   datagrams); this crate does not read it.
//!
//! Reading goes through the [`FlowStore`] seam ([`LocalStore`] over the
//! files); retention through [`expire`]; [`compact`] merges each settled
//! hour's files into one. [`FlowBatch`] is the columnar
//! builder decoders push flows into.
//!
//! This crate knows nothing about sockets, wire formats, filters or queries.
//!
//! Writing and reading, end to end:
//!
//! ```
//! use flowhound_model::{Column, FlowRecord, FlowSink};
//! use flowhound_store::{parse_window, FlowBatch, FlowStore, LocalStore, ParquetWriter, WriteOptions};
//! # fn main() -> Result<(), flowhound_store::StoreError> {
//! # let tmp = tempfile::tempdir().expect("tempdir");
//! # let dir = tmp.path();
//! let writer = ParquetWriter::new(dir, WriteOptions::default());
//! let mut batch = FlowBatch::with_capacity(65_536);
//! batch.push(&FlowRecord { time_start: 1_795_701_600_000, ..Default::default() });
//! writer.write(&[batch.take()])?;
//!
//! let store = LocalStore::new(dir);
//! let window = parse_window("2026/11/26.14:00-2026/11/26.14:59:59")?;
//! let mut flows = 0;
//! for b in store.scan(Some(window), &[Column::SrcIp, Column::Bytes])? {
//!     flows += b?.num_rows();
//! }
//! assert_eq!(flows, 1);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod batch;
mod compact;
mod error;
mod expire;
mod fsutil;
mod layout;
mod read;
mod window;
mod write;

pub use batch::{records_from_batch, FlowBatch};
pub use compact::{compact, CompactOptions, CompactReport};
pub use error::StoreError;
pub use expire::{expire, ExpireReport};
pub use layout::retired_path;
pub use read::{BatchIter, FlowStore, LocalStore};
pub use window::{parse_window, TimeWindow, WindowError};
pub use write::{ParquetWriter, SortKey, WriteOptions, WrittenFile};
