//! Registry lookups on the real files in `../shared/registry/`: uniform
//! random IPv4, clustered IPv4 (most flows go to a few thousand busy hosts)
//! and IPv6 from the registry's own ranges. Skipped when the files are
//! missing.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowhound_enrich::{Registry, RegistryConfig};
use flowhound_model::{addr_from_v4, Enricher, FlowRecord};

const BATCH: usize = 1 << 16;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn load() -> Option<Registry> {
    let dir = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/registry");
    let mmdb = dir.join("geo-whois-asn-country.mmdb");
    if !mmdb.exists() {
        eprintln!(
            "skipping the lookup bench: no registry files in {}",
            dir.display()
        );
        return None;
    }
    let config = RegistryConfig {
        country: vec![mmdb],
        asn: vec![dir.join("asn-ipv4.csv"), dir.join("asn-ipv6.csv")],
        ..Default::default()
    };
    Some(Registry::load(&config).expect("registry loads"))
}

fn lookups(c: &mut Criterion) {
    let Some(reg) = load() else { return };
    let mut rng = Rng(1);
    let random_v4: Vec<u128> = (0..BATCH)
        .map(|_| addr_from_v4(rng.next() as u32))
        .collect();
    // 80% of lookups hit 2000 busy hosts, the rest spread over the space.
    let busy: Vec<u128> = (0..2000).map(|_| addr_from_v4(rng.next() as u32)).collect();
    let clustered_v4: Vec<u128> = (0..BATCH)
        .map(|_| {
            let r = rng.next();
            if r % 10 < 8 {
                busy[(r >> 32) as usize % busy.len()]
            } else {
                addr_from_v4((r >> 16) as u32)
            }
        })
        .collect();
    // IPv6 in 2000::/3 with a /32 drawn from 2001:0000-2c0f:ffff, where the
    // allocations are.
    let random_v6: Vec<u128> = (0..BATCH)
        .map(|_| {
            let hi = 0x2001_0000u128 + u128::from(rng.next() % 0x0c0f_0000);
            (hi << 96) | (u128::from(rng.next()) << 32)
        })
        .collect();

    let mut g = c.benchmark_group("registry");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, addrs) in [
        ("random_v4", &random_v4),
        ("clustered_v4", &clustered_v4),
        ("random_v6", &random_v6),
    ] {
        g.bench_function(format!("country/{name}"), |b| {
            b.iter(|| {
                let mut n = 0u32;
                for &a in addrs.iter() {
                    n += u32::from(black_box(reg.country(a)).is_some());
                }
                n
            })
        });
        g.bench_function(format!("asn/{name}"), |b| {
            b.iter(|| {
                let mut n = 0u32;
                for &a in addrs.iter() {
                    n += black_box(reg.asn(a)).map_or(0, |(asn, _)| asn & 1);
                }
                n
            })
        });
    }
    g.finish();

    // What the collector does per flow: two countries and, where the
    // exporter sent none, two AS numbers. Internal sources (10/8), external
    // destinations drawn as above.
    let flows: Vec<FlowRecord> = clustered_v4
        .iter()
        .zip(&random_v4)
        .map(|(&dst, &src)| FlowRecord {
            src_ip: addr_from_v4(0x0a00_0000 | (src as u32 & 0xffff)),
            dst_ip: dst,
            ..FlowRecord::default()
        })
        .collect();
    let mut g = c.benchmark_group("enrich");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("flow/4_lookups", |b| {
        let mut work = flows.clone();
        b.iter(|| {
            for f in work.iter_mut() {
                f.src_as = 0;
                f.dst_as = 0;
                Enricher::enrich(&reg, f);
            }
            black_box(work.len())
        })
    });
    g.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
