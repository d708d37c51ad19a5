//! Questions over stored flows, answered through the `FlowStore` seam so the
//! same code runs on local Parquet files now and on ClickHouse later.
//!
//! [`QueryEngine`] runs Apache DataFusion over the Parquet files of a time
//! window, exposed as the table `flows`: nfdump filters (compiled from the
//! filter crate's AST), statistics and aggregations ([`Aggregate`]), and
//! SQL. DataFusion stays behind this API: callers see records, rows and
//! Arrow record batches.
//!
//! It knows nothing about sockets or wire formats.
#![deny(missing_docs)]

mod batch_filter;
mod compile;
mod engine;
mod error;
mod host;
mod localfs;
mod profile;
mod stat;
mod summary;
mod table;
mod udf;
mod window;

pub use batch_filter::BatchFilter;
pub use engine::QueryEngine;
pub use error::QueryError;
pub use host::{
    host_report, HostBin, HostOptions, HostReport, HostTotals, HourPeers, Peer, PortOffered,
    PortUsed, ReportWindow, HOUR_MS, MAX_BINS,
};
pub use profile::{foreign_profile, Baseline, ForeignProfile, PeerCountry, RARE_PER_MILLE};
pub use stat::{AggRow, Aggregate, Element, Key, NetLen, Order, StatSpec, Totals, Value};
pub use summary::{summary, ExporterSummary, Summary};
pub use table::{Cell, Table};
pub use window::{HostSide, WindowRow, WindowSpec, SYN_ONLY_MASK, TINY_BYTES, TINY_PACKETS};
