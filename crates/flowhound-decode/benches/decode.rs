//! Decode throughput per flow: a NetFlow v9 datagram and an IPFIX message of
//! 28 typical IPv4 records each (18 fields), templates already known.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowhound_decode::{decode, TemplateCache};
use flowhound_model::{addr_from_v4, FlowRecord, FlowSink};

const RECORDS: usize = 28;

/// (information element, length) of the typical router template.
const FIELDS_V9: [(u16, u16); 18] = [
    (8, 4),  // src addr
    (12, 4), // dst addr
    (7, 2),  // src port
    (11, 2), // dst port
    (4, 1),  // proto
    (6, 1),  // tcp flags
    (5, 1),  // tos
    (10, 2), // in if
    (14, 2), // out if
    (2, 4),  // packets
    (1, 4),  // bytes
    (16, 2), // src as
    (17, 2), // dst as
    (9, 1),  // src mask
    (13, 1), // dst mask
    (15, 4), // next hop
    (22, 4), // first switched
    (21, 4), // last switched
];

const FIELDS_IPFIX: [(u16, u16); 18] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (10, 4),
    (14, 4),
    (2, 4),
    (1, 8),
    (16, 4),
    (17, 4),
    (9, 1),
    (13, 1),
    (15, 4),
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
];

fn field_value(ie: u16, i: usize) -> u64 {
    let i = i as u64;
    match ie {
        8 => 0x0a00_0000 + i,
        12 => 0xc000_0200 + i * 7,
        7 => 40_000 + i,
        11 => [25, 80, 443, 53][i as usize % 4],
        4 => 6,
        6 => 0x1b,
        2 => 10 + i,
        1 => 1500 * (10 + i),
        16 => 64_500,
        17 => 15_169,
        9 => 24,
        13 => 16,
        15 => 0x0a00_00fe,
        22 => 90_000 + i,
        21 => 99_000 + i,
        152 => 1_700_000_000_000 - 10_000 + i,
        153 => 1_700_000_000_000 - 1_000 + i,
        _ => 3,
    }
}

fn records(fields: &[(u16, u16)]) -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..RECORDS {
        for &(ie, len) in fields {
            let v = field_value(ie, i).to_be_bytes();
            b.extend_from_slice(&v[8 - len as usize..]);
        }
    }
    b
}

fn template_set(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
    let mut b = vec![];
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&((8 + 4 * fields.len()) as u16).to_be_bytes());
    b.extend_from_slice(&256u16.to_be_bytes());
    b.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for &(ie, len) in fields {
        b.extend_from_slice(&ie.to_be_bytes());
        b.extend_from_slice(&len.to_be_bytes());
    }
    b
}

fn data_set(fields: &[(u16, u16)]) -> Vec<u8> {
    let recs = records(fields);
    let mut b = vec![0x01, 0x00];
    let pad = (4 - (4 + recs.len()) % 4) % 4;
    b.extend_from_slice(&((4 + recs.len() + pad) as u16).to_be_bytes());
    b.extend_from_slice(&recs);
    b.resize(b.len() + pad, 0);
    b
}

fn v9(sets: &[u8]) -> Vec<u8> {
    let mut d = vec![0x00, 0x09, 0x00, RECORDS as u8];
    d.extend_from_slice(&100_000u32.to_be_bytes()); // sysUptime
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&1u32.to_be_bytes()); // sequence
    d.extend_from_slice(&0u32.to_be_bytes()); // source id
    d.extend_from_slice(sets);
    d
}

fn ipfix(sets: &[u8]) -> Vec<u8> {
    let mut d = vec![0x00, 0x0a];
    d.extend_from_slice(&((16 + sets.len()) as u16).to_be_bytes());
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&1u32.to_be_bytes());
    d.extend_from_slice(&0u32.to_be_bytes());
    d.extend_from_slice(sets);
    d
}

/// Takes each flow as an opaque value, so no field store can be optimised
/// away, without the cost of a particular batch layout.
struct Counter(u64);

impl FlowSink for Counter {
    #[inline]
    fn push(&mut self, flow: &FlowRecord) {
        black_box(flow);
        self.0 = self.0.wrapping_add(1);
    }
}

fn bench(c: &mut Criterion) {
    let exporter = addr_from_v4(0xc000_0201);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(RECORDS as u64));
    for (name, template, data) in [
        (
            "v9_28_records",
            v9(&template_set(0, &FIELDS_V9)),
            v9(&data_set(&FIELDS_V9)),
        ),
        (
            "ipfix_28_records",
            ipfix(&template_set(2, &FIELDS_IPFIX)),
            ipfix(&data_set(&FIELDS_IPFIX)),
        ),
    ] {
        let mut cache = TemplateCache::default();
        let mut sink = Counter(0);
        decode(&template, exporter, &mut cache, &mut sink).expect("template");
        let d = decode(&data, exporter, &mut cache, &mut sink).expect("data");
        assert_eq!(d.flows as usize, RECORDS, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| decode(black_box(&data), exporter, &mut cache, &mut sink))
        });
        let mut v: Vec<FlowRecord> = Vec::with_capacity(RECORDS);
        g.bench_function(format!("{name}_into_vec"), |b| {
            b.iter(|| {
                v.clear();
                decode(black_box(&data), exporter, &mut cache, &mut v)
            })
        });
        black_box(sink.0);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
