//! Questions over stored flows, answered through the `FlowStore` seam so the
//! same code runs on local Parquet files now and on ClickHouse later.
//!
//! It knows nothing about sockets or wire formats.
#![deny(missing_docs)]

mod summary;

pub use summary::{summary, ExporterSummary, Summary};
