//! The shared ingest step of the collector and the pcap importer: datagrams
//! in, decoded flows into a columnar batch, with per-exporter loss accounting.

use std::collections::HashMap;
use std::sync::Arc;

use flowhound_decode::{decode, DecodeError, Decoded, Limits, TemplateCache};
use flowhound_model::{Addr, Enricher};
use flowhound_store::FlowBatch;

use crate::exporters::{ExporterKey, ExporterStats};
use crate::metrics::Metrics;

/// What a datagram carried besides flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carried {
    /// Template or options template records.
    pub templates: bool,
    /// Options data records (samplers, boot time).
    pub options: bool,
}

/// Exporters (address, domain, version) with their own books and sequence
/// accounting; more are counted together under address 0. Keeps memory
/// bounded when sources are spoofed.
pub const MAX_EXPORTERS: usize = 4096;

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
    enricher: Option<Arc<dyn Enricher>>,
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
            enricher: None,
        }
    }

    /// Ask `enricher` about every decoded flow (countries, missing AS
    /// numbers) before it joins the batch.
    pub fn with_enricher(mut self, enricher: Option<Arc<dyn Enricher>>) -> Self {
        self.enricher = enricher;
        self
    }

    /// Decode one datagram from `exporter`. Malformed datagrams are counted
    /// by kind and dropped; they never disturb the flows around them.
    /// Returns the exporter's key, and what state the datagram carried that
    /// later datagrams need.
    pub fn datagram(
        &mut self,
        payload: &[u8],
        exporter: Addr,
        now_ms: i64,
        metrics: &Metrics,
    ) -> Option<(ExporterKey, Carried)> {
        metrics.datagram(payload.len());
        let before = self.batch.len();
        // A capture may hold several export messages back to back in one
        // payload; a UDP datagram normally holds one.
        let mut result = None;
        let mut rest = payload;
        while !rest.is_empty() {
            match decode(rest, exporter, &mut self.cache, &mut self.batch) {
                Ok(decoded) => {
                    let key = self.account(exporter, &decoded, now_ms, metrics);
                    let before = result.map_or(Carried::default(), |r: (ExporterKey, Carried)| r.1);
                    let carried = Carried {
                        templates: before.templates || decoded.templates > 0,
                        options: before.options || decoded.options > 0,
                    };
                    result = Some((key, carried));
                    rest = rest.get(decoded.consumed.max(1)..).unwrap_or_default();
                }
                Err(err) => {
                    self.reject(exporter, &err, now_ms, metrics);
                    break;
                }
            }
        }
        if let Some(e) = &self.enricher {
            self.batch.enrich(before, e.as_ref());
        }
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
        let stats = stats_for(&mut self.exporters, key);
        stats.seen(now_ms);
        stats.datagrams += 1;
        stats.flows += u64::from(d.flows);
        stats.templates += u64::from(d.templates);
        for (kind, n) in d.set_errors.iter() {
            metrics.decode_error_n(kind, u64::from(n));
            stats.decode_errors += u64::from(n);
        }
        if self.sequences.len() >= MAX_EXPORTERS && !self.sequences.contains_key(&key) {
            // Beyond the bound (spoofed sources?), no loss accounting.
            return key;
        }
        let seq = self.sequences.entry(key).or_default();
        let next = d.seq_records.map(|n| d.sequence.wrapping_add(n));
        match seq.expected {
            Some(expected) if d.sequence != expected => {
                let gap = d.sequence.wrapping_sub(expected);
                stats.sequence_failures += 1;
                if gap < 1 << 31 {
                    // Forward: lost, unless the jump is so big that it is an
                    // exporter restart rather than billions of lost flows.
                    if gap < 1 << 24 {
                        stats.lost += u64::from(gap);
                        metrics.sequence_gap(u64::from(gap));
                    }
                    seq.expected = next;
                }
                // Backward: a late datagram; keep expecting what we did.
            }
            _ => seq.expected = next,
        }
        key
    }

    fn reject(&mut self, exporter: Addr, err: &DecodeError, now_ms: i64, metrics: &Metrics) {
        metrics.decode_error_n(err.kind(), 1);
        // Counted under the exporter's address only if it is known: a blob
        // from a spoofed source must not grow the books.
        let known = self.exporters.keys().any(|k| k.addr == exporter);
        let key = ExporterKey {
            addr: if known { exporter } else { 0 },
            domain_id: 0,
            version: 0,
        };
        let stats = stats_for(&mut self.exporters, key);
        stats.seen(now_ms);
        stats.datagrams += 1;
        stats.decode_errors += 1;
    }

    /// Per-exporter books since the last call, then cleared.
    pub fn take_exporters(&mut self) -> HashMap<ExporterKey, ExporterStats> {
        std::mem::take(&mut self.exporters)
    }
}

/// The books of `key`, or of the catch-all exporter (address 0) once
/// [`MAX_EXPORTERS`] are known.
fn stats_for(
    exporters: &mut HashMap<ExporterKey, ExporterStats>,
    key: ExporterKey,
) -> &mut ExporterStats {
    let key = if exporters.len() >= MAX_EXPORTERS && !exporters.contains_key(&key) {
        ExporterKey {
            addr: 0,
            domain_id: 0,
            version: 0,
        }
    } else {
        key
    };
    exporters.entry(key).or_default()
}
