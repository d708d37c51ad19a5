//! The flow store: where decoded flows go and where queries find them.
//!
//! It owns the on-disk layout of a data directory:
//!
//! - `DIR/flows/YYYY/MM/DD/HH/*.parquet`: flows in Apache Parquet (zstd),
//!   partitioned by the UTC hour of `time_start`, rows sorted within each
//!   file ([`ParquetWriter`]). The files are the interchange format: DuckDB,
//!   pandas, Spark and ClickHouse read them as they are.
//! - `DIR/wal/*.arrows`: the write-ahead log of decoded batches not yet in
//!   Parquet ([`Wal`]), replayed after a crash.
//!
//! Reading goes through the [`FlowStore`] seam ([`LocalStore`] over the
//! files); retention through [`expire`]. [`FlowBatch`] is the columnar
//! builder decoders push flows into.
//!
//! This crate knows nothing about sockets, wire formats, filters or queries.
#![deny(missing_docs)]

mod batch;
mod error;
mod expire;
mod fsutil;
mod layout;
mod read;
mod wal;
mod window;
mod write;

pub use batch::{records_from_batch, FlowBatch};
pub use error::StoreError;
pub use expire::{expire, ExpireReport};
pub use read::{BatchIter, FlowStore, LocalStore};
pub use wal::{wal_checkpoint, SegmentId, Wal, WalOptions};
pub use window::{parse_window, TimeWindow, WindowError};
pub use write::{ParquetWriter, SortKey, WriteOptions, WrittenFile};
