#![allow(dead_code)]
use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use flowhound_model::{addr_from_v4, addr_from_v6, FlowRecord};
use flowhound_store::records_from_batch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// 2026-11-26T14:00:00Z
pub const T0: i64 = 1_795_701_600_000;
pub const HOUR: i64 = 3_600_000;

/// A flow whose every field depends on `i`; odd `i` are IPv6.
pub fn flow(i: u64, time_start: i64) -> FlowRecord {
    let (src, dst) = if i % 2 == 1 {
        let mut s = [0u8; 16];
        s[0] = 0x20;
        s[1] = 0x01;
        s[2] = 0x0d;
        s[3] = 0xb8;
        s[8..].copy_from_slice(&i.to_be_bytes());
        let mut d = s;
        d[15] ^= 0xff;
        (addr_from_v6(s), addr_from_v6(d))
    } else {
        (
            addr_from_v4(0x0a00_0000 | (i as u32 & 0xffff)),
            addr_from_v4(0xc000_0200 | (i as u32 & 0xff)),
        )
    };
    FlowRecord {
        time_start,
        time_end: time_start.saturating_add(i as i64 % 5000),
        exporter: addr_from_v4(0xc633_6401),
        domain_id: i as u32 % 3,
        src_ip: src,
        dst_ip: dst,
        next_hop: if i.is_multiple_of(3) {
            0
        } else {
            addr_from_v4(0x0a00_00fe)
        },
        src_port: (1024 + i % 60000) as u16,
        dst_port: [443u16, 80, 53, 25, 445][i as usize % 5],
        proto: if i % 5 == 2 { 17 } else { 6 },
        tcp_flags: (i % 64) as u8,
        tos: (i % 4) as u8,
        direction: (i % 2) as u8,
        src_mask: 24,
        dst_mask: (i % 33) as u8,
        end_reason: (i % 5) as u8,
        version: [5u8, 9, 10][i as usize % 3],
        in_if: i as u32 % 7,
        out_if: i as u32 % 11,
        src_as: i as u32 % 65536,
        dst_as: 4_200_000_000 + i as u32,
        packets: 1 + i * 3,
        bytes: 40 + i * 1500,
        src_vlan: (i % 4096) as u16,
        dst_vlan: ((i + 7) % 4096) as u16,
        src_mac: 0x0000_0200_0000_0000 | i,
        dst_mac: 0x0000_ffff_ffff_ffff - i,
        sampling_rate: 1 + (i % 2) as u32 * 99,
        // Not asked, not known, and two countries: nulls must round-trip.
        src_country: [[0, 0], *b"??", *b"DE", *b"US"][i as usize % 4],
        dst_country: [*b"NL", [0, 0], *b"BR"][i as usize % 3],
    }
}

pub fn read_parquet(path: &Path) -> Vec<FlowRecord> {
    let file = File::open(path).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet metadata")
        .build()
        .expect("reader");
    let mut out = Vec::new();
    for b in reader {
        out.extend(records_from_batch(&b.expect("batch")).expect("flow batch"));
    }
    out
}

pub fn records(batches: &[RecordBatch]) -> Vec<FlowRecord> {
    batches
        .iter()
        .flat_map(|b| records_from_batch(b).expect("flow batch"))
        .collect()
}

/// Sort key that makes two sets of flows comparable regardless of file order.
pub fn sorted(mut v: Vec<FlowRecord>) -> Vec<FlowRecord> {
    v.sort_by_key(|f| (f.time_start, f.src_ip, f.dst_ip, f.src_port, f.bytes));
    v
}
