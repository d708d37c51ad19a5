//! The shared ingest step of the collector and the pcap importer: datagrams
//! in, decoded flows into a columnar batch, with per-exporter loss accounting.

use std::collections::HashMap;

use flowhound_decode::{decode, DecodeError, Decoded, Limits, TemplateCache};
use flowhound_model::Addr;
use flowhound_store::FlowBatch;

use crate::exporters::{ExporterKey, ExporterStats};
use crate::metrics::Metrics;

/// Sequence state of one exporter and domain.
#[derive(Default)]
struct Sequence {
    expected: Option<u32>,
}

/// Decodes datagrams into a [`FlowBatch`] and keeps the books: flows,
/// decode errors by kind, sequence gaps per exporter.
pub struct Ingest {
    cache: TemplateCache,
    sequences: HashMap<ExporterKey, Sequence>,
    exporters: HashMap<ExporterKey, ExporterStats>,
    /// The flows decoded since the last [`Ingest::take_batch`].
    pub batch: FlowBatch,
}

impl Default for Ingest {
    fn default() -> Self {
        Self::new()
    }
}

impl Ingest {
    /// A fresh ingest with default decoder limits.
    pub fn new() -> Self {
        Ingest {
            cache: TemplateCache::new(Limits::default()),
            sequences: HashMap::new(),
            exporters: HashMap::new(),
            batch: FlowBatch::with_capacity(64 * 1024),
        }
    }

    /// Decode one datagram from `exporter`. Malformed datagrams are counted
    /// by kind and dropped; they never disturb the flows around them.
    /// Returns the exporter's key, and whether the datagram carried state
    /// (templates, options) that later datagrams need.
    pub fn datagram(
        &mut self,
        payload: &[u8],
        exporter: Addr,
        now_ms: i64,
        metrics: &Metrics,
    ) -> Option<(ExporterKey, bool)> {
        metrics.datagram(payload.len());
        let before = self.batch.len();
        let result = match decode(payload, exporter, &mut self.cache, &mut self.batch) {
            Ok(decoded) => {
                let key = self.account(exporter, &decoded, now_ms, metrics);
                Some((key, decoded.templates > 0 || decoded.options > 0))
            }
            Err(err) => {
                self.reject(exporter, &err, now_ms, metrics);
                None
            }
        };
        let flows = (self.batch.len() - before) as u64;
        metrics.flows(flows);
        let dropped = self.cache.take_dropped();
        metrics.decode_error_n("held_evicted", dropped.held_evicted);
        metrics.decode_error_n("held_expired", dropped.held_expired);
        metrics.decode_error_n("domains_refused", dropped.domains_refused);
        metrics.decode_error_n("samplers_refused", dropped.samplers_refused);
        metrics.set_templates(self.cache.template_count() as u64);
        result
    }

    fn account(
        &mut self,
        exporter: Addr,
        d: &Decoded,
        now_ms: i64,
        metrics: &Metrics,
    ) -> ExporterKey {
        let key = ExporterKey {
            addr: exporter,
            domain_id: d.domain_id,
            version: d.version,
        };
        let stats = self.exporters.entry(key).or_default();
        stats.seen(now_ms);
        stats.datagrams += 1;
        stats.flows += u64::from(d.flows);
        stats.templates += u64::from(d.templates);
        for (kind, n) in d.set_errors.iter() {
            metrics.decode_error_n(kind, u64::from(n));
            stats.decode_errors += u64::from(n);
        }
        let seq = self.sequences.entry(key).or_default();
        if let Some(expected) = seq.expected {
            if d.sequence != expected {
                let gap = d.sequence.wrapping_sub(expected);
                stats.sequence_failures += 1;
                // A huge forward gap is a reordering or an exporter restart,
                // not billions of lost flows.
                if gap < 1 << 24 {
                    stats.lost += u64::from(gap);
                    metrics.sequence_gap(u64::from(gap));
                }
            }
        }
        seq.expected = d.seq_records.map(|n| d.sequence.wrapping_add(n));
        key
    }

    fn reject(&mut self, exporter: Addr, err: &DecodeError, now_ms: i64, metrics: &Metrics) {
        metrics.decode_error_n(err.kind(), 1);
        let key = ExporterKey {
            addr: exporter,
            domain_id: 0,
            version: 0,
        };
        let stats = self.exporters.entry(key).or_default();
        stats.seen(now_ms);
        stats.datagrams += 1;
        stats.decode_errors += 1;
    }

    /// Per-exporter books since the last call, then cleared.
    pub fn take_exporters(&mut self) -> HashMap<ExporterKey, ExporterStats> {
        std::mem::take(&mut self.exporters)
    }
}
