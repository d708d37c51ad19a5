//! `flowhound host IP`: one machine's story, checked figure by figure
//! against `flowhound query` and Debian's nfdump on the same export stream
//! (a spam bot's two hours, sent to both collectors over loopback).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use flowhound_generate::{Scenario, Traffic};
use serde_json::Value as Json;

const SEED: u64 = 21;

fn flowhound_json(dir: &Path, args: &[&str]) -> Json {
    let out = run_ok(Command::new(bin()).args(args).arg("--data").arg(dir));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn num(v: &Json, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// `flowhound query -s STAT -n 0` rows, with the element's value and the
/// whole row (for first/last and distinct counts).
fn query_stat(dir: &Path, stat: &str, filter: &str, extra: &[&str]) -> Vec<(Row, Json)> {
    let mut args = vec!["query", "-s", stat, "-n", "0", "-o", "json"];
    args.extend(extra);
    args.push(filter);
    let v = flowhound_json(dir, &args);
    let s = &v["statistics"][0];
    let element = s["element"].as_str().expect("element").to_string();
    s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let row = (
                text(&r[&element]),
                num(r, "flows"),
                num(r, "packets"),
                num(r, "bytes"),
            );
            (row, r.clone())
        })
        .collect()
}

/// Flows, packets, bytes over rows.
fn sum(rows: &[Row]) -> (u64, u64, u64) {
    rows.iter()
        .fold((0, 0, 0), |a, r| (a.0 + r.1, a.1 + r.2, a.2 + r.3))
}

/// A direction's totals in the report against `-s proto` over the same
/// flows, from flowhound's query and from nfdump.
fn check_totals(fh: &Path, nf: &Path, t: &Json, filter: &str) {
    let theirs = query_stat(fh, "proto/flows", filter, &[]);
    let rows: Vec<Row> = theirs.iter().map(|(r, _)| r.clone()).collect();
    let ours = (num(t, "flows"), num(t, "packets"), num(t, "bytes"));
    assert!(ours.0 > 0, "{filter}: no flows");
    assert_eq!(ours, sum(&rows), "{filter}: totals differ from query's");
    assert_eq!(
        ours,
        sum(&nfdump_stat(nf, "proto/flows", filter)),
        "{filter}: totals differ from nfdump's"
    );
    let first = theirs.iter().map(|(_, j)| text(&j["first"])).min();
    let last = theirs.iter().map(|(_, j)| text(&j["last"])).max();
    let ms = |k: &str| t[k].as_i64().unwrap_or_else(|| panic!("{k} in {t}"));
    assert_eq!(first, Some(fmt_ms(ms("first_ms"))), "{filter}: first");
    assert_eq!(last, Some(fmt_ms(ms("last_ms"))), "{filter}: last");
}

/// Flows per service port of the requests among the flows `filter`
/// selects (client to service: the destination port is the lower one, or
/// there is no source port), counted from each tool's flow listing.
fn request_ports(fh: &Path, nf: &Path, filter: &str) -> (BTreeMap<u64, u64>, BTreeMap<u64, u64>) {
    fn count(pairs: impl Iterator<Item = (u64, u64)>) -> BTreeMap<u64, u64> {
        let mut m = BTreeMap::new();
        for (sp, dp) in pairs {
            if sp == 0 || dp <= sp {
                *m.entry(dp).or_default() += 1;
            }
        }
        m
    }
    let n = |s: &str| {
        s.trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("port {s:?}"))
    };
    let ours = run_ok(
        Command::new(bin())
            .args(["query", "-n", "0", "-o", "csv", "--data"])
            .arg(fh)
            .arg(filter),
    );
    let ours = count(
        String::from_utf8_lossy(&ours.stdout)
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (n(f[7]), n(f[8]))
            })
            .collect::<Vec<_>>()
            .into_iter(),
    );
    let theirs = run_ok(
        Command::new("nfdump")
            .env("TZ", "UTC")
            .arg("-R")
            .arg(nf)
            .args(["-q", "-N", "-o", "fmt:%sp %dp", filter]),
    );
    let theirs = count(
        String::from_utf8_lossy(&theirs.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((n(w.next()?), n(w.next()?)))
            })
            .collect::<Vec<_>>()
            .into_iter(),
    );
    (ours, theirs)
}

/// Ports of the report, summed over protocols, against the requests in
/// flowhound's and nfdump's listings of the same flows.
fn check_ports(fh: &Path, nf: &Path, ports: &Json, filter: &str) -> usize {
    let mut ours: BTreeMap<u64, u64> = BTreeMap::new();
    for p in ports.as_array().expect("ports") {
        *ours.entry(num(p, "port")).or_default() += num(p, "flows");
    }
    let (listed, nfdump) = request_ports(fh, nf, filter);
    assert_eq!(
        ours, listed,
        "{filter}: ports differ from the listing's requests"
    );
    assert_eq!(ours, nfdump, "{filter}: ports differ from nfdump's listing");
    ours.len()
}

#[test]
fn a_spam_bots_story_matches_query_and_nfdump() {
    if Command::new("nfcapd").arg("-V").output().is_err() {
        panic!("nfcapd is not installed: run scripts/test.sh (it installs Debian's nfdump)");
    }
    let nf_dir = tempfile::tempdir().expect("tempdir");
    let fh_dir = tempfile::tempdir().expect("tempdir");
    let (nf, fh) = (nf_dir.path(), fh_dir.path());
    let nf_port = free_udp_port();
    let fh_port = free_udp_port();
    let nfcapd = nfcapd(nf_port, nf);
    let collector = collect(fh_port, fh, &[]);
    // 20 000 flows in 2 s of real time, 3600 times faster: two hours of flow time.
    let sent = generate_to(
        &[nf_port, fh_port],
        &[
            "--proto",
            "v9",
            "--flows",
            "20000",
            "--rate",
            "10000",
            "--time-scale",
            "3600",
            "--start",
            "2026-11-26T14:00:00Z",
            "--scenario",
            "spambot",
            "--seed",
            &SEED.to_string(),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    stop_nfcapd(nfcapd);
    terminate(collector);
    assert_eq!(sent["flows"].as_u64(), Some(20000));

    let bot = Traffic::new(SEED, 0, Scenario::SpamBot).incidents()[0]
        .host
        .to_string();
    let svg_path = fh_dir.path().join("bot.svg");
    let svg_arg = svg_path.to_string_lossy().to_string();
    let r = flowhound_json(
        fh,
        &[
            "host", &bot, "-o", "json", "-n", "0", "--bin", "10m", "--svg", &svg_arg,
        ],
    );
    assert_eq!(r["address"], Json::String(bot.clone()));
    assert_eq!(num(&r, "bin_ms"), 600_000);

    // Totals, each direction.
    let src = format!("src ip {bot}");
    let dst = format!("dst ip {bot}");
    check_totals(fh, nf, &r["out"], &src);
    check_totals(fh, nf, &r["in"], &dst);
    assert!(
        num(&r["out"], "flows") > 300,
        "a spam bot sends a lot: {}",
        r["out"]
    );

    // Ports used and offered.
    assert!(
        check_ports(fh, nf, &r["ports_used"], &src) > 0,
        "no ports used"
    );
    // A spam bot offers no service: the replies to its connections come
    // back to ephemeral ports, which are not ports it offers.
    check_ports(fh, nf, &r["ports_offered"], &dst);
    let replies_in = query_stat(fh, "dstport/flows", &dst, &[]).len();
    assert!(
        replies_in > r["ports_offered"].as_array().expect("offered").len() + 100,
        "{replies_in} ports on flows in: the test proves nothing"
    );
    let smtp = &r["ports_used"][0];
    assert_eq!((num(smtp, "proto"), num(smtp, "port")), (6, 25), "{smtp}");
    let smtp_filter = format!("src ip {bot} and proto tcp and dst port 25");
    let smtp_peers = nfdump_stat(nf, "dstip/flows", &smtp_filter).len() as u64;
    assert_eq!(num(smtp, "peers"), smtp_peers, "distinct SMTP servers");
    assert_eq!(
        smtp_peers,
        query_stat(fh, "dstip/flows", &smtp_filter, &[]).len() as u64
    );

    // Peers: `-s ip` over the host's flows, without the host itself.
    let host_filter = format!("src ip {bot} or dst ip {bot}");
    let query_peers: Vec<Row> = query_stat(fh, "ip/flows", &host_filter, &[])
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r.0 != bot)
        .collect();
    let ours: Vec<Row> = r["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| {
            assert_eq!(
                num(p, "flows_out") + num(p, "flows_in"),
                num(p, "flows"),
                "{p}"
            );
            (
                text(&p["address"]),
                num(p, "flows"),
                num(p, "packets"),
                num(p, "bytes"),
            )
        })
        .collect();
    assert_eq!(num(&r, "peers_total"), ours.len() as u64);
    assert_eq!(ours, query_peers, "peers differ from query's -s ip");
    let mut nfdump_peers: Vec<Row> = nfdump_stat(nf, "ip/flows", &host_filter)
        .into_iter()
        .filter(|r| r.0 != bot)
        .collect();
    let mut sorted = ours.clone();
    nfdump_peers.sort();
    sorted.sort();
    assert_eq!(sorted, nfdump_peers, "peers differ from nfdump's -s ip");

    // Flows over time: contiguous 10-minute bins that sum up and equal query's --bin.
    let bins = r["bins"].as_array().expect("bins");
    assert!((12..=14).contains(&bins.len()), "{} bins", bins.len());
    let starts: Vec<i64> = bins
        .iter()
        .map(|b| b["start_ms"].as_i64().expect("start"))
        .collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 600_000));
    for (dir, filter) in [("out", &src), ("in", &dst)] {
        let key = format!("flows_{dir}");
        let total: u64 = bins.iter().map(|b| num(b, &key)).sum();
        assert_eq!(total, num(&r[dir], "flows"), "bins {dir}");
        let theirs = flowhound_json(fh, &["query", "--bin", "10m", "-o", "json", filter]);
        let theirs: BTreeMap<String, u64> = theirs
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| (text(&row["bin"]), num(row, "flows")))
            .collect();
        let ours: BTreeMap<String, u64> = bins
            .iter()
            .filter(|b| num(b, &key) > 0)
            .map(|b| (fmt_ms(b["start_ms"].as_i64().expect("start")), num(b, &key)))
            .collect();
        assert_eq!(ours, theirs, "bins {dir} differ from query --bin 10m");
    }

    // Distinct peers per hour, against query's --distinct.
    for (dir, filter, peer) in [("out", &src, "dstip"), ("in", &dst, "srcip")] {
        let theirs = flowhound_json(
            fh,
            &[
                "query",
                "--bin",
                "1h",
                "--distinct",
                peer,
                "-o",
                "json",
                filter,
            ],
        );
        let theirs: BTreeMap<String, u64> = theirs
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| (text(&row["bin"]), num(row, &format!("distinct_{peer}"))))
            .collect();
        let ours: BTreeMap<String, u64> = r["peers_per_hour"]
            .as_array()
            .expect("hours")
            .iter()
            .filter(|h| num(h, &format!("peers_{dir}")) > 0)
            .map(|h| {
                (
                    fmt_ms(h["start_ms"].as_i64().expect("start")),
                    num(h, &format!("peers_{dir}")),
                )
            })
            .collect();
        assert!(ours.len() >= 2, "two hours of traffic: {ours:?}");
        assert_eq!(ours, theirs, "distinct peers per hour {dir}");
    }
    assert!(r["countries"].is_null());

    // The chart: an SVG with one group per bin.
    let svg = std::fs::read_to_string(&svg_path).expect("svg written");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches(r#"<g class="bin">"#).count(), bins.len());
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    assert!(svg.contains(&format!("Flows of {bot} per 10m")));

    // The table: header, chart and sections.
    let out = run_ok(Command::new(bin()).args(["host", &bot, "--data"]).arg(fh));
    let table = String::from_utf8_lossy(&out.stdout);
    let first = table.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("Host {bot}")), "{table}");
    for section in [
        "Flows per 5m",
        "Ports used",
        "Ports offered",
        "Top peers, 10 of",
        "Distinct peers per hour",
    ] {
        assert!(table.contains(section), "no {section:?} in:\n{table}");
    }
    assert!(table.lines().any(|l| l.contains('█')), "no chart:\n{table}");
    let wide: Vec<&str> = table.lines().filter(|l| l.chars().count() > 100).collect();
    assert!(wide.is_empty(), "wider than 100 columns: {wide:#?}");
}

#[test]
fn a_bad_address_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in ["10.0.0.300", "mail.example.com", "10.0.0.0/8"] {
        let out = Command::new(bin())
            .args(["host", bad, "--data"])
            .arg(dir.path())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(bad) && err.contains("not an IPv4 or IPv6 address"),
            "{err}"
        );
    }
}

#[test]
fn an_address_without_flows_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_ok(
        Command::new(bin())
            .args(["host", "192.0.2.1", "--data"])
            .arg(dir.path()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "No flows of 192.0.2.1 in the stored flows.");
    let r = flowhound_json(dir.path(), &["host", "2001:db8::1", "-o", "json"]);
    assert_eq!(num(&r["out"], "flows") + num(&r["in"], "flows"), 0);
    assert_eq!(r["bins"], Json::Array(vec![]));
}
