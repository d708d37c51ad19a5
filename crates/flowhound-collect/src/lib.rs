//! Receiving flow exports: UDP listeners, batching, loss accounting from
//! sequence numbers, Prometheus metrics, and a clean shutdown; and the same
//! ingest path for export datagrams found in packet captures.
//!
//! This crate moves bytes and keeps books. It does not parse wire formats
//! (that is `flowhound-decode`) nor lay out files (that is `flowhound-store`).
#![deny(missing_docs)]

mod collector;
pub mod exporters;
mod ingest;
mod listener;
pub mod metrics;
pub mod pcap;
mod priority;
pub mod wal;

pub use collector::{start, CollectConfig, Running};
pub use ingest::{Carried, Ingest, MAX_EXPORTERS};
pub use listener::kernel_drops;

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the collector cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A listening or metrics address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory cannot be created or used.
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another collector holds the data directory.
    #[error("data directory {0} is in use by another flowhound collect (one collector per data directory)")]
    Busy(PathBuf),
    /// The write-ahead log cannot be written or read.
    #[error("write-ahead log: {0}")]
    Wal(std::io::Error),
    /// The store failed (Parquet).
    #[error(transparent)]
    Store(#[from] flowhound_store::StoreError),
    /// A bug: a thread died.
    #[error("internal error: {0}")]
    Internal(String),
}
