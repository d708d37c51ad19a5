//! `ip in [list]` stays O(log n): parsing a 10k-entry list (addresses and
//! /30 prefixes) and matching flows against it.
//!
//!     cargo bench -p flowhound-filter --bench list

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowhound_filter::parse;
use flowhound_model::{addr_from_v4, FlowRecord};

/// `src ip in [ … ]` with `n` entries, every tenth a /30.
fn list_filter(n: u32) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            let a = 0x0a00_0000 + i * 97;
            let s = format!(
                "{}.{}.{}.{}",
                a >> 24,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            );
            if i % 10 == 0 {
                format!("{s}/30")
            } else {
                s
            }
        })
        .collect();
    format!("src ip in [ {} ]", entries.join(" "))
}

fn bench(c: &mut Criterion) {
    let text = list_filter(10_000);
    let mut g = c.benchmark_group("ip_in_list");
    g.bench_function("parse 10k entries", |b| {
        b.iter(|| parse(black_box(&text)).expect("valid list"))
    });
    let filter = parse(&text).expect("valid list");
    let flows: Vec<FlowRecord> = (0..65_536u32)
        .map(|i| FlowRecord {
            src_ip: addr_from_v4(0x0a00_0000 + i * 7),
            ..FlowRecord::default()
        })
        .collect();
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("match 64k flows, 10k entries", |b| {
        b.iter(|| flows.iter().filter(|f| filter.matches(f)).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
