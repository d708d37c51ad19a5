//! Per-exporter books: datagrams, flows, sequence failures and losses, kept
//! beside the flows in `DIR/exporters.json` so `summary` can show them.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flowhound_model::Addr;
use serde::{Deserialize, Serialize};

/// One exporter: its address, its v9 source id or IPFIX domain, its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExporterKey {
    /// The exporter's address.
    pub addr: Addr,
    /// v9 source id / IPFIX observation domain (0 for v5).
    pub domain_id: u32,
    /// Export version (0 when the datagram could not be decoded at all).
    pub version: u8,
}

impl ExporterKey {
    /// The key as it is written in `exporters.json`: `ADDR/DOMAIN/vVERSION`.
    pub fn label(&self) -> String {
        flowhound_model::exporter_label(self.addr, self.domain_id, self.version)
    }
}

/// The books of one exporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExporterStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Flows decoded.
    pub flows: u64,
    /// Template records received.
    pub templates: u64,
    /// Malformed datagrams and sets.
    pub decode_errors: u64,
    /// How many times the sequence number jumped.
    pub sequence_failures: u64,
    /// Flows (v5, IPFIX) or datagrams (v9) the sequence numbers say were lost.
    pub lost: u64,
    /// First datagram, Unix ms (arrival time).
    pub first_seen_ms: i64,
    /// Last datagram, Unix ms (arrival time).
    pub last_seen_ms: i64,
}

impl ExporterStats {
    pub(crate) fn seen(&mut self, now_ms: i64) {
        if self.first_seen_ms == 0 || now_ms < self.first_seen_ms {
            self.first_seen_ms = now_ms;
        }
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
    }

    pub(crate) fn add(&mut self, o: &ExporterStats) {
        self.datagrams += o.datagrams;
        self.flows += o.flows;
        self.templates += o.templates;
        self.decode_errors += o.decode_errors;
        self.sequence_failures += o.sequence_failures;
        self.lost += o.lost;
        if o.first_seen_ms != 0 {
            self.seen(o.first_seen_ms);
        }
        self.last_seen_ms = self.last_seen_ms.max(o.last_seen_ms);
    }
}

/// The books of every exporter ever seen by collectors of one data dir.
pub type ExporterBook = BTreeMap<String, ExporterStats>;

fn book_path(data_dir: &Path) -> PathBuf {
    data_dir.join("exporters.json")
}

/// Read the books; a missing file is an empty book.
pub fn read_book(data_dir: &Path) -> std::io::Result<ExporterBook> {
    match fs::read(book_path(data_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ExporterBook::new()),
        Err(e) => Err(e),
    }
}

/// Add `delta` to the books on disk, atomically (temp file, rename).
pub fn merge_book(
    data_dir: &Path,
    delta: &HashMap<ExporterKey, ExporterStats>,
) -> std::io::Result<()> {
    if delta.is_empty() {
        return Ok(());
    }
    let mut book = read_book(data_dir).unwrap_or_default();
    for (key, stats) in delta {
        book.entry(key.label()).or_default().add(stats);
    }
    let tmp = data_dir.join("exporters.json.tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(&book).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    fs::rename(&tmp, book_path(data_dir))
}
