//! `flowhound query -s` against Debian's nfdump on the same export stream:
//! for each filter and statistic, the same rows with the same flows, packets
//! and bytes, in the same order.
//!
//! Ties: flowhound orders rows with equal order values by the element
//! ascending; nfdump leaves them in its hash table's order. So the test
//! demands the same sequence of order values and, within each run of equal
//! values, the same set of rows (with `-n 0`, every row of the statistic).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

fn flowhound_stat(dir: &Path, stat: &str, filter: &str) -> Vec<Row> {
    let out = run_ok(
        Command::new(bin())
            .args(["query", "--data"])
            .arg(dir)
            .args(["-s", stat, "-n", "0", "-o", "json", filter]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("query JSON");
    let s = &v["statistics"][0];
    let element = s["element"].as_str().expect("element").to_string();
    s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let value = match &r[&element] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
            (value, n("flows"), n("packets"), n("bytes"))
        })
        .collect()
}

fn order_value(r: &Row, order: &str) -> u64 {
    match order {
        "flows" => r.1,
        "packets" => r.2,
        "bytes" => r.3,
        other => panic!("order {other} not compared here"),
    }
}

/// Same order values in sequence; the same rows within each run of ties.
fn same_statistic(ours: &[Row], theirs: &[Row], order: &str, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: row count differs");
    let vals = |v: &[Row]| v.iter().map(|r| order_value(r, order)).collect::<Vec<_>>();
    assert_eq!(vals(ours), vals(theirs), "{what}: order values differ");
    let mut i = 0;
    while i < ours.len() {
        let v = order_value(&ours[i], order);
        let j = (i..ours.len())
            .find(|&j| order_value(&ours[j], order) != v)
            .unwrap_or(ours.len());
        let a: BTreeSet<&Row> = ours[i..j].iter().collect();
        let b: BTreeSet<&Row> = theirs[i..j].iter().collect();
        assert_eq!(a, b, "{what}: rows {i}..{j} (value {v}) differ");
        i = j;
    }
}

#[test]
fn statistics_equal_nfdumps() {
    if Command::new("nfcapd").arg("-V").output().is_err() {
        panic!("nfcapd is not installed: run scripts/test.sh (it installs Debian's nfdump)");
    }
    let nf_dir = tempfile::tempdir().expect("tempdir");
    let fh_dir = tempfile::tempdir().expect("tempdir");
    let nf_port = free_udp_port();
    let fh_port = free_udp_port();
    let nfcapd = nfcapd(nf_port, nf_dir.path());
    let collector = collect(fh_port, fh_dir.path(), &[]);
    let sent = generate_to(
        &[nf_port, fh_port],
        &[
            "--proto",
            "v9",
            "--flows",
            "40000",
            "--rate",
            "40000",
            "--exporters",
            "2",
            "--scenario",
            "spambot",
            "--seed",
            "21",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    stop_nfcapd(nfcapd);
    terminate(collector);
    assert_eq!(sent["flows"].as_u64(), Some(40000));

    let cases = [
        ("srcip/flows", "proto tcp and dst port 25"),
        ("srcip/bytes", "proto tcp and dst port 25"),
        ("dstip/flows", ""),
        ("dstip/packets", "proto udp"),
        ("ip/flows", "proto tcp"),
        ("srcport/flows", "dst port 53"),
        ("dstport/bytes", ""),
        ("dstport/flows", "not proto tcp"),
        ("port/packets", "src net 10.0.0.0/8"),
        ("proto/flows", ""),
        ("proto/bytes", "bytes > 1000"),
        ("srcip/flows", "dst port in [ 25 587 465 ] and flags S"),
        ("dstip/bytes", "packets > 10 and duration > 1000"),
        ("srcip/flows", "bpp > 500 or pps > 100"),
        ("srcas/flows", ""),
        ("dstas/bytes", ""),
        ("inif/flows", ""),
        ("outif/packets", "proto tcp"),
        ("tos/flows", ""),
        ("router/flows", ""),
    ];
    for (stat, filter) in cases {
        let order = stat.split('/').nth(1).expect("order");
        let theirs = nfdump_stat(nf_dir.path(), stat, filter);
        let ours = flowhound_stat(fh_dir.path(), stat, filter);
        assert!(
            !theirs.is_empty(),
            "nfdump found nothing for -s {stat} '{filter}'"
        );
        same_statistic(&ours, &theirs, order, &format!("-s {stat} '{filter}'"));
    }
}

#[test]
fn a_bad_filter_exits_2_with_a_caret() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
    let out = Command::new(bin())
        .args(["query", "--data"])
        .arg(dir.path())
        .arg("proto tcp and prot 25")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown keyword 'prot'") && err.contains("^^^^"),
        "{err}"
    );
}

#[test]
fn a_bad_statement_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
    let out = Command::new(bin())
        .args(["sql", "--data"])
        .arg(dir.path())
        .arg("SELECT nope FROM flows")
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
