//! A user's rule with `tiny_share` and `internal = false` over stored
//! flows: the threshold on the share of tiny flows (at most 3 packets and
//! 200 bytes) and the key's side of the site both decide.
//!
//! Real parts: Parquet files in a temporary store, read back through the
//! query engine as `flowhound detect` reads them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use flowhound_detect::{detect, parse_rules, Context};
use flowhound_model::{addr_from_v4, FlowRecord, FlowSink};
use flowhound_store::{FlowBatch, LocalStore, ParquetWriter, TimeWindow, WriteOptions};

/// 2026-11-26 12:00 UTC.
const NOON_MS: i64 = 1_795_694_400_000;

/// Internal, tiny UDP flows (a flood).
const INSIDE_TINY: Ipv4Addr = Ipv4Addr::new(10, 0, 5, 5);
/// Internal, ordinary UDP flows (a media client).
const INSIDE_BIG: Ipv4Addr = Ipv4Addr::new(10, 0, 5, 6);
/// Outside, tiny UDP flows towards the site.
const OUTSIDE_TINY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn flows(src: Ipv4Addr, n: u32, packets: u64, bytes: u64, out: &mut FlowBatch) {
    for i in 0..n {
        let t = NOON_MS + i64::from(i) * 1_000;
        let dst = if src.octets()[0] == 10 {
            Ipv4Addr::new(203, 0, 113, (i % 200) as u8 + 1)
        } else {
            Ipv4Addr::new(10, 0, 9, (i % 200) as u8 + 1)
        };
        out.push(&FlowRecord {
            time_start: t,
            time_end: t + 10,
            src_ip: addr_from_v4(u32::from(src)),
            dst_ip: addr_from_v4(u32::from(dst)),
            src_port: 40_000 + (i % 1_000) as u16,
            dst_port: 5060,
            proto: 17,
            packets,
            bytes,
            ..FlowRecord::default()
        });
    }
}

const RULES: &str = r#"
[[rule]]
name = "tiny-from-outside"
category = "scan"
severity = "low"
description = "Tiny UDP from outside"
filter = "proto udp"
key = "src"
window = "10m"
threshold = { flows = 300, tiny_share = 0.9 }
when = { internal = false }

[[rule]]
name = "tiny-from-inside"
category = "scan"
severity = "low"
description = "Tiny UDP from the site's hosts"
filter = "proto udp"
key = "src"
window = "10m"
threshold = { flows = 300, tiny_share = 0.9 }
when = { internal = true }
"#;

#[test]
fn tiny_share_and_the_side_of_the_site_decide() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = FlowBatch::with_capacity(4_096);
    flows(INSIDE_TINY, 400, 1, 80, &mut b);
    flows(INSIDE_BIG, 400, 20, 12_000, &mut b);
    flows(OUTSIDE_TINY, 400, 2, 150, &mut b);
    ParquetWriter::new(dir.path(), WriteOptions::default())
        .write(&[b.take()])
        .expect("write");

    let site = flowhound_enrich::Config::parse(
        "[site]\ninternal = [\"10.0.0.0/16\"]\n",
        Path::new("site.toml"),
    )
    .expect("site")
    .site;
    let ctx = Context {
        site,
        enricher: None,
    };
    let rules = parse_rules(RULES, Path::new("tiny.toml")).expect("rules parse");
    let found = detect(
        &LocalStore::new(dir.path()),
        TimeWindow::new(NOON_MS - 3_600_000, NOON_MS + 3_600_000),
        &rules,
        &ctx,
    )
    .expect("detect");
    let hosts = |rule: &str| -> BTreeSet<IpAddr> {
        found
            .alerts
            .iter()
            .filter(|a| a.rule == rule)
            .map(|a| a.host)
            .collect()
    };
    assert_eq!(
        hosts("tiny-from-outside"),
        BTreeSet::from([IpAddr::V4(OUTSIDE_TINY)]),
        "{:?}",
        found.alerts
    );
    assert_eq!(
        hosts("tiny-from-inside"),
        BTreeSet::from([IpAddr::V4(INSIDE_TINY)]),
        "the big flows are not tiny: {:?}",
        found.alerts
    );
}
