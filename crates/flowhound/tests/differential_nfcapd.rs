//! The same generated stream, as v5, v9 and IPFIX, to Debian's nfcapd and to
//! `flowhound collect` on loopback: totals, per-exporter counts and every
//! single flow must match, to the unit.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use flowhound_model::{addr_to_ip, FlowRecord};
use flowhound_store::{records_from_batch, FlowStore, LocalStore};

/// One flow as both tools print it.
type Key = (
    String,
    String,
    String,
    String,
    u16,
    u16,
    u8,
    u64,
    u64,
    String,
);

fn nfcapd_available() -> bool {
    Command::new("nfcapd").arg("-V").output().is_ok()
}

fn nfdump_flows(dir: &Path) -> Vec<Key> {
    let out = run_ok(
        Command::new("nfdump")
            .env("TZ", "UTC")
            .arg("-R")
            .arg(dir)
            .args([
                "-q",
                "-N",
                "-o",
                "fmt:%ts|%te|%sa|%da|%sp|%dp|%pr|%pkt|%byt|%ra",
            ]),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            assert_eq!(f.len(), 10, "unexpected nfdump line {l:?}");
            let num = |s: &str| {
                s.parse::<u64>()
                    .unwrap_or_else(|_| panic!("number {s:?} in {l:?}"))
            };
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                num(f[4]) as u16,
                // ICMP: nfdump prints the destination port as type.code.
                match f[5].split_once('.') {
                    Some((t, c)) => (num(t) << 8 | num(c)) as u16,
                    None => num(f[5]) as u16,
                },
                num(f[6]) as u8,
                num(f[7]),
                num(f[8]),
                f[9].to_string(),
            )
        })
        .collect()
}

fn flowhound_flows(dir: &Path) -> Vec<Key> {
    let store = LocalStore::new(dir);
    let mut out = Vec::new();
    for batch in store
        .scan(None, &flowhound_model::Column::ALL)
        .expect("scan")
    {
        for r in records_from_batch(&batch.expect("batch")).expect("records") {
            out.push(key(&r));
        }
    }
    out
}

fn key(r: &FlowRecord) -> Key {
    (
        fmt_ms(r.time_start),
        fmt_ms(r.time_end),
        addr_to_ip(r.src_ip).to_string(),
        addr_to_ip(r.dst_ip).to_string(),
        r.src_port,
        r.dst_port,
        r.proto,
        r.packets,
        r.bytes,
        addr_to_ip(r.exporter).to_string(),
    )
}

fn compare(proto: &str, seed: &str) {
    let nf_dir = tempfile::tempdir().expect("tempdir");
    let fh_dir = tempfile::tempdir().expect("tempdir");
    let nf_port = free_udp_port();
    let fh_port = free_udp_port();
    let nfcapd = nfcapd(nf_port, nf_dir.path());
    let collector = collect(fh_port, fh_dir.path(), &[]);

    let args = [
        "--proto",
        proto,
        "--flows",
        "30000",
        "--rate",
        "20000",
        "--exporters",
        "3",
        "--seed",
        seed,
    ];
    // One stream, every datagram to both.
    let sent_nf = generate_to(&[nf_port, fh_port], &args);
    std::thread::sleep(Duration::from_millis(500));

    stop_nfcapd(nfcapd);
    terminate(collector);

    let mut theirs = nfdump_flows(nf_dir.path());
    let mut ours = flowhound_flows(fh_dir.path());
    assert_eq!(
        theirs.len() as u64,
        sent_nf["flows"].as_u64().expect("flows"),
        "nfcapd lost flows"
    );
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{proto}: flow count differs from nfcapd"
    );

    // Per exporter: flows, packets, bytes.
    let per = |v: &[Key]| {
        let mut m: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for k in v {
            let e = m.entry(k.9.clone()).or_default();
            e.0 += 1;
            e.1 += k.7;
            e.2 += k.8;
        }
        m
    };
    assert_eq!(
        per(&ours),
        per(&theirs),
        "{proto}: per-exporter totals differ"
    );
    assert_eq!(per(&ours).len(), 3, "three exporters expected");

    // Every flow, field by field.
    theirs.sort();
    ours.sort();
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "{proto}: first differing flow (flowhound, nfdump)");
    }

    // And summary agrees with both.
    let s = summary(fh_dir.path());
    let total: (u64, u64) = theirs.iter().fold((0, 0), |t, k| (t.0 + k.7, t.1 + k.8));
    assert_eq!(s["flows"].as_u64(), Some(theirs.len() as u64));
    assert_eq!(s["packets"].as_u64(), Some(total.0));
    assert_eq!(s["bytes"].as_u64(), Some(total.1));
}

#[test]
fn same_flows_as_nfcapd_v5() {
    if !nfcapd_available() {
        panic!("nfcapd is not installed: run scripts/test.sh (it installs Debian's nfdump)");
    }
    compare("v5", "11");
}

#[test]
fn same_flows_as_nfcapd_v9() {
    if !nfcapd_available() {
        panic!("nfcapd is not installed: run scripts/test.sh (it installs Debian's nfdump)");
    }
    compare("v9", "12");
}

#[test]
fn same_flows_as_nfcapd_ipfix() {
    if !nfcapd_available() {
        panic!("nfcapd is not installed: run scripts/test.sh (it installs Debian's nfdump)");
    }
    compare("ipfix", "13");
}
