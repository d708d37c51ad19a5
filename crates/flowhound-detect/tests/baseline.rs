//! `mail-baseline` against a week of stored history: a registered mail
//! server is flagged when an hour is five times its own median for that
//! hour, and not when it is always that busy, only somewhat busier, or when
//! the store holds less than a week.
//!
//! Real parts: Parquet files in a temporary store, read back through the
//! query engine as `flowhound detect` reads them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use flowhound_detect::{detect, Context, RuleSet};
use flowhound_model::{addr_from_v4, FlowRecord, FlowSink};
use flowhound_store::{FlowBatch, LocalStore, ParquetWriter, TimeWindow, WriteOptions};

/// 2026-11-18 00:00 UTC: the first of eight days.
const DAY0_MS: i64 = 1_795_046_400_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The flood's factor over the usual hour.
const QUIET: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 25);
/// Always this busy at 14:00.
const BUSY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 26);
/// Four times its usual: above the flow threshold, under the baseline.
const BUSIER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 27);

fn site() -> Context {
    let c = flowhound_enrich::Config::parse(
        "[site]\ninternal = [\"10.0.0.0/16\"]\ncountries = [\"US\"]\nquiet_hours = \"22:00-06:00\"\n\
         [roles]\nmail_servers = [\"10.0.0.25\", \"10.0.0.26\", \"10.0.0.27\"]\n",
        Path::new("site.toml"),
    )
    .expect("site config");
    Context {
        site: c.site,
        enricher: None,
    }
}

/// `n` SMTP deliveries from `server` during 14:05-14:55 of day `day`, each
/// to its own mail server, three in four abroad.
fn smtp(server: Ipv4Addr, day: i64, n: u32, out: &mut FlowBatch) {
    let from = DAY0_MS + day * DAY_MS + 14 * HOUR_MS + 5 * 60_000;
    let span = 50 * 60_000;
    for i in 0..n {
        let t = from + span * i64::from(i) / i64::from(n);
        let peer = Ipv4Addr::new(
            198,
            18 + (i / 60_000) as u8,
            (i / 250 % 240) as u8,
            (i % 250) as u8 + 1,
        );
        out.push(&FlowRecord {
            time_start: t,
            time_end: t + 1_500,
            src_ip: addr_from_v4(u32::from(server)),
            dst_ip: addr_from_v4(u32::from(peer)),
            src_port: 30_000 + (i % 30_000) as u16,
            dst_port: 25,
            proto: 6,
            tcp_flags: 0x1b,
            packets: 14,
            bytes: 9_000,
            dst_country: if i % 4 == 0 { *b"US" } else { *b"DE" },
            ..FlowRecord::default()
        });
    }
}

fn store(dir: &Path) {
    let mut b = FlowBatch::with_capacity(1 << 16);
    for day in 0..8 {
        let last = day == 7;
        smtp(QUIET, day, if last { 1_200 } else { 150 }, &mut b);
        smtp(BUSY, day, 2_000, &mut b);
        smtp(BUSIER, day, if last { 600 } else { 150 }, &mut b);
    }
    ParquetWriter::new(dir, WriteOptions::default())
        .write(&[b.take()])
        .expect("write");
}

fn baseline_hosts(dir: &Path, day: i64) -> BTreeSet<IpAddr> {
    let rules = RuleSet::builtin().expect("pack").rules;
    let from = DAY0_MS + day * DAY_MS;
    let found = detect(
        &LocalStore::new(dir),
        TimeWindow::new(from, from + DAY_MS),
        &rules,
        &site(),
    )
    .expect("detect");
    assert!(found.skipped.is_empty(), "{:?}", found.skipped);
    found
        .alerts
        .iter()
        .filter(|a| a.rule == "mail-baseline")
        .map(|a| a.host)
        .collect()
}

#[test]
fn mail_baseline_flags_the_flood_not_the_always_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    store(dir.path());

    // The eighth day: 1200 flows against a median of 150 (8×) is flagged;
    // 2000 every day is that server's normal; 600 against 150 (4×) is
    // under the factor of 5.
    let flagged = baseline_hosts(dir.path(), 7);
    assert_eq!(flagged, BTreeSet::from([IpAddr::V4(QUIET)]));

    // With less than a week behind it, the rule says nothing, even of the
    // server busy over the flow threshold.
    for day in 0..7 {
        assert!(baseline_hosts(dir.path(), day).is_empty(), "day {day}");
    }
}
