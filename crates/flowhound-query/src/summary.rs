//! `flowhound summary`: totals like `nfdump -I`, in all and per exporter.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::RecordBatch;
use flowhound_model::{addr_to_ip, Addr, Column};
use flowhound_store::{FlowStore, StoreError, TimeWindow};
use serde::Serialize;

/// Totals of one exporter (address, domain and version).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExporterSummary {
    /// The exporter's address.
    pub exporter: String,
    /// v9 source id or IPFIX observation domain.
    pub domain_id: u32,
    /// 5, 9 or 10.
    pub version: u8,
    /// Flows stored.
    pub flows: u64,
    /// Packets stored.
    pub packets: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Earliest flow start, Unix ms.
    pub first_ms: i64,
    /// Latest flow end, Unix ms.
    pub last_ms: i64,
    /// Sequence jumps the collector saw from this exporter (all time).
    pub sequence_failures: u64,
    /// Flows (v5, IPFIX) or datagrams (v9) lost by sequence numbers (all time).
    pub lost: u64,
}

/// Totals of the stored flows in a window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Flows.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// TCP flows.
    pub flows_tcp: u64,
    /// UDP flows.
    pub flows_udp: u64,
    /// ICMP and ICMPv6 flows.
    pub flows_icmp: u64,
    /// Flows of other protocols.
    pub flows_other: u64,
    /// Earliest flow start, Unix ms (0 when empty).
    pub first_ms: i64,
    /// Latest flow end, Unix ms (0 when empty).
    pub last_ms: i64,
    /// Per exporter, ordered by address, domain, version.
    pub exporters: Vec<ExporterSummary>,
}

const COLUMNS: [Column; 8] = [
    Column::TimeStart,
    Column::TimeEnd,
    Column::Exporter,
    Column::DomainId,
    Column::Version,
    Column::Proto,
    Column::Packets,
    Column::Bytes,
];

/// Sum up the flows of `window` (all when `None`). `sequences` maps
/// `ADDR/DOMAIN/vVERSION` to (sequence failures, lost), as the collector
/// keeps them.
pub fn summary(
    store: &dyn FlowStore,
    window: Option<TimeWindow>,
    sequences: &BTreeMap<String, (u64, u64)>,
) -> Result<Summary, StoreError> {
    // A file merged away (compaction) between the listing and the read
    // makes the scan say so: read the store again, a few times at most.
    let mut attempts = 0;
    let (mut total, per) = loop {
        let mut total = Summary::default();
        let mut per: BTreeMap<(Addr, u32, u8), ExporterSummary> = BTreeMap::new();
        let mut changed = None;
        for batch in store.scan(window, &COLUMNS)? {
            match batch {
                Ok(b) => add_batch(&b, &mut total, &mut per),
                Err(e @ StoreError::Changed { .. }) => {
                    changed = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        match changed {
            None => break (total, per),
            Some(e) if attempts >= 3 => return Err(e),
            Some(_) => attempts += 1,
        }
    };
    for ((addr, domain_id, version), mut e) in per {
        e.exporter = addr_to_ip(addr).to_string();
        e.domain_id = domain_id;
        e.version = version;
        if let Some(&(failures, lost)) =
            sequences.get(&flowhound_model::exporter_label(addr, domain_id, version))
        {
            e.sequence_failures = failures;
            e.lost = lost;
        }
        total.exporters.push(e);
    }
    Ok(total)
}

fn add_batch(
    batch: &RecordBatch,
    total: &mut Summary,
    per: &mut BTreeMap<(Addr, u32, u8), ExporterSummary>,
) {
    let col = |c: Column| batch.column_by_name(c.name());
    let (Some(ts), Some(te), Some(ex), Some(dom), Some(ver), Some(proto), Some(pk), Some(by)) = (
        col(Column::TimeStart),
        col(Column::TimeEnd),
        col(Column::Exporter),
        col(Column::DomainId),
        col(Column::Version),
        col(Column::Proto),
        col(Column::Packets),
        col(Column::Bytes),
    ) else {
        return;
    };
    let ts = ts.as_primitive::<TimestampMillisecondType>();
    let te = te.as_primitive::<TimestampMillisecondType>();
    let ex = ex.as_fixed_size_binary();
    let dom = dom.as_primitive::<UInt32Type>();
    let ver = ver.as_primitive::<UInt8Type>();
    let proto = proto.as_primitive::<UInt8Type>();
    let pk = pk.as_primitive::<UInt64Type>();
    let by = by.as_primitive::<UInt64Type>();
    // Exporters change rarely within a batch: keep the current one at hand.
    let mut current: Option<((Addr, u32, u8), ExporterSummary)> = None;
    for i in 0..batch.num_rows() {
        let key = (
            u128::from_be_bytes(ex.value(i).try_into().unwrap_or([0; 16])),
            dom.value(i),
            ver.value(i),
        );
        let (first, last, p, b) = (ts.value(i), te.value(i), pk.value(i), by.value(i));
        total.flows += 1;
        total.packets += p;
        total.bytes += b;
        match proto.value(i) {
            6 => total.flows_tcp += 1,
            17 => total.flows_udp += 1,
            1 | 58 => total.flows_icmp += 1,
            _ => total.flows_other += 1,
        }
        if total.first_ms == 0 || first < total.first_ms {
            total.first_ms = first;
        }
        total.last_ms = total.last_ms.max(last);
        if current.as_ref().map(|c| c.0) != Some(key) {
            if let Some((k, e)) = current.take() {
                merge(per.entry(k).or_default(), &e);
            }
            current = Some((key, ExporterSummary::default()));
        }
        if let Some((_, e)) = current.as_mut() {
            e.flows += 1;
            e.packets += p;
            e.bytes += b;
            if e.first_ms == 0 || first < e.first_ms {
                e.first_ms = first;
            }
            e.last_ms = e.last_ms.max(last);
        }
    }
    if let Some((k, e)) = current {
        merge(per.entry(k).or_default(), &e);
    }
}

fn merge(into: &mut ExporterSummary, e: &ExporterSummary) {
    into.flows += e.flows;
    into.packets += e.packets;
    into.bytes += e.bytes;
    if into.first_ms == 0 || (e.first_ms != 0 && e.first_ms < into.first_ms) {
        into.first_ms = e.first_ms;
    }
    into.last_ms = into.last_ms.max(e.last_ms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowhound_model::FlowRecord;
    use flowhound_store::{BatchIter, FlowBatch, LocalStore, ParquetWriter, WriteOptions};
    use std::cell::Cell;
    use std::path::PathBuf;

    /// A store whose first `fails` scans meet a file merged away.
    struct Merging {
        inner: LocalStore,
        fails: Cell<u32>,
    }

    impl FlowStore for Merging {
        fn files(&self, window: Option<TimeWindow>) -> Result<Vec<PathBuf>, StoreError> {
            self.inner.files(window)
        }

        fn scan(
            &self,
            window: Option<TimeWindow>,
            columns: &[Column],
        ) -> Result<BatchIter, StoreError> {
            let scan = self.inner.scan(window, columns)?;
            if self.fails.get() == 0 {
                return Ok(scan);
            }
            self.fails.set(self.fails.get() - 1);
            let gone = StoreError::Changed {
                path: PathBuf::from("e1.parquet"),
            };
            Ok(Box::new(scan.take(1).chain(std::iter::once(Err(gone)))))
        }
    }

    #[test]
    fn a_summary_reads_again_when_a_file_was_merged_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let batch: FlowBatch = (0..100)
            .map(|i| FlowRecord {
                time_start: 1_795_701_600_000 + i,
                packets: 1,
                ..FlowRecord::default()
            })
            .collect();
        ParquetWriter::new(dir.path(), WriteOptions::default())
            .write(&[batch.to_record_batch()])
            .expect("write");
        let store = |fails| Merging {
            inner: LocalStore::new(dir.path()),
            fails: Cell::new(fails),
        };
        let s = summary(&store(2), None, &BTreeMap::new()).expect("read again");
        assert_eq!(s.flows, 100, "counted once, not once per attempt");
        let err = summary(&store(10), None, &BTreeMap::new()).expect_err("gives up");
        assert!(err.to_string().contains("run it again"), "{err}");
    }
}
