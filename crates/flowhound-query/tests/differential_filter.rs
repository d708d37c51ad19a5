//! The compiled filter against the reference evaluator: for each filter, the
//! flows the engine selects from the stored files are exactly the generated
//! flows for which `Filter::matches` is true.

use std::net::IpAddr;

use flowhound_filter::parse;
use flowhound_generate::{Scenario, Traffic};
use flowhound_model::{addr_from_v4, addr_from_v6, addr_to_ip, Addr, FlowRecord};
use flowhound_query::QueryEngine;
use flowhound_store::{FlowBatch, LocalStore, ParquetWriter, WriteOptions};

const START: i64 = 1_795_701_600_000; // 2026-11-26 14:00 UTC

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `2001:db8:0:NET::LAST`, in the documentation prefix.
fn doc_v6(net: u8, last: u8) -> Addr {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    b[5] = net;
    b[15] = last;
    addr_from_v6(b)
}

/// Generated traffic, with the fields the generator leaves alone varied so
/// that every kind of condition selects some flows and not others.
fn flows() -> Vec<FlowRecord> {
    let mut t = Traffic::new(7, START, Scenario::SpamBot);
    (0..20_000u64)
        .map(|i| {
            let mut f = t.next_flow(START + (i as i64) * 200);
            let h = mix(i);
            if h.is_multiple_of(13) {
                f.src_ip = doc_v6(0, (h >> 8) as u8 & 7);
                f.dst_ip = doc_v6(1, (h >> 16) as u8 & 7);
            } else if h.is_multiple_of(17) {
                f.dst_ip = addr_from_v6([0x26, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            }
            f.src_mask = (h >> 20) as u8 % 33;
            f.dst_mask = (h >> 26) as u8 % 33;
            f.src_vlan = (h >> 32) as u16 % 4;
            f.dst_vlan = (h >> 34) as u16 % 4;
            f.tos = [0u8, 0, 0, 8, 46, 184][(h >> 36) as usize % 6];
            f.direction = (h >> 40) as u8 & 1;
            f.in_if = (h >> 41) as u32 % 5;
            f.out_if = (h >> 44) as u32 % 5;
            f.src_as = [0u32, 0, 3320, 15169, 64512][(h >> 47) as usize % 5];
            f.dst_as = [0u32, 3320, 13335, 15169][(h >> 50) as usize % 4];
            f.next_hop = addr_from_v4(0x0a00_0001 + ((h >> 52) as u32 % 3));
            f.exporter = addr_from_v4(0x7f00_0001 + ((h >> 54) as u32 % 3));
            if h.is_multiple_of(29) {
                f.time_end = f.time_start; // zero duration: rates are 0
            }
            f
        })
        .collect()
}

fn key(f: &FlowRecord) -> (i64, i64, Addr, Addr, u16, u16, u8, u64, u64, Addr, u8) {
    (
        f.time_start,
        f.time_end,
        f.src_ip,
        f.dst_ip,
        f.src_port,
        f.dst_port,
        f.proto,
        f.packets,
        f.bytes,
        f.exporter,
        f.tcp_flags,
    )
}

fn ip(a: Addr) -> String {
    addr_to_ip(a).to_string()
}

fn filters(flows: &[FlowRecord]) -> Vec<String> {
    let a = |i: usize| ip(flows[i].src_ip);
    let b = |i: usize| ip(flows[i].dst_ip);
    let v4 = |i: usize| match addr_to_ip(flows[i].dst_ip) {
        IpAddr::V4(v) => v,
        IpAddr::V6(_) => std::net::Ipv4Addr::new(192, 0, 2, 1),
    };
    // Many single addresses (an IN list) and many prefixes (the search).
    let hosts: Vec<String> = (0..40).map(|i| ip(flows[i * 37].dst_ip)).collect();
    let nets: Vec<String> = (0..300)
        .map(|i| {
            let v = v4(i * 31);
            let o = v.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        })
        .collect();
    let many_hosts: Vec<String> = (0..2000).map(|i| ip(flows[i * 7].src_ip)).collect();
    let mut v: Vec<String> = [
        "",
        "any",
        "not any",
        "ipv4",
        "ipv6",
        "inet6",
        "proto tcp",
        "proto udp",
        "proto icmp",
        "proto 17",
        "not proto tcp",
        "proto tcp and dst port 25",
        "port 53",
        "src port 53",
        "dst port 443",
        "src and dst port > 1023",
        "src or dst port < 1024",
        "dst port >= 1024",
        "dst port le 80",
        "port gt 60000",
        "port in [25 53 80 443 445]",
        "dst port in [ 25 587 465 ]",
        "src port in [ 53 ]",
        "flags S",
        "flags SA",
        "flags F",
        "flags R",
        "flags X",
        "flags P",
        "flags U",
        "not flags A",
        "flags > 16",
        "flags = 2",
        "icmp-type 8",
        "icmp-type 0",
        "icmp-code 0",
        "icmp-type > 3",
        "packets > 10",
        "packets < 3",
        "packets = 1",
        "bytes > 1k",
        "bytes > 1m",
        "bytes <= 100",
        "duration > 1000",
        "duration < 10",
        "duration = 0",
        "pps > 10",
        "pps < 1",
        "bps > 1k",
        "bps > 1m",
        "bpp > 500",
        "bpp < 100",
        "flows = 1",
        "flows > 1",
        "as 3320",
        "src as 64512",
        "dst as 13335",
        "src and dst as 15169",
        "as in [ 3320 13335 ]",
        "dst as > 10000",
        "as 0",
        "in if 1",
        "out if 2",
        "if 3",
        "not if 0",
        "tos 46",
        "tos > 0",
        "src tos 8",
        "src mask 24",
        "dst mask 32",
        "mask 0",
        "src vlan 1",
        "dst vlan 2",
        "vlan 3",
        "flowdir ingress",
        "flowdir 1",
        "next ip 10.0.0.2",
        "router ip 127.0.0.3",
        "router ip in [ 127.0.0.1 127.0.0.2 ]",
        "src geo DE",
        "not dst geo US",
        "net 10.0.0.0/8",
        "src net 10.0.0.0/8",
        "dst net 192.168.0.0/16",
        "not src net 10.0.0.0/8",
        "net 2001:db8::/32",
        "src net 2001:db8::/127",
        "dst net 2001:db8:0:1::/64",
        "net ::/0",
        "net 0.0.0.0/0",
        "ip 2600::1",
        "net 172.16/12",
        "dst net 10.0.0.0 255.0.0.0",
        "proto tcp and (dst port 25 or dst port 587) and not flags R",
        "(proto udp or proto icmp) and bytes > 200",
        "ipv4 and not (port 80 or port 443)",
        "proto tcp and dst port 25 # mail\n and packets > 2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend([
        format!("ip {}", a(1)),
        format!("src ip {}", a(100)),
        format!("dst host {}", b(200)),
        format!("src and dst ip in [ {} {} ]", a(3), b(3)),
        format!("dst ip in [ {} ]", hosts.join(" ")),
        format!("ip in [ {} ]", hosts.join(", ")),
        format!("dst ip in [ {} ]", nets.join(" ")),
        format!("not src ip in [ {} ]", nets.join(" ")),
        format!("src ip in [ {} ]", many_hosts.join(" ")),
        format!("dst net {}/24 or src net {}/16", v4(5), v4(6)),
        format!("host {} or host {}", a(1), b(200)),
        format!("not (host {} or host {})", a(1), b(200)),
        format!("host {} or host {}", ip(doc_v6(0, 3)), a(2)),
        format!(
            "(host {} or host {}) and (host {} or net {}/24)",
            a(1),
            b(1),
            b(200),
            v4(5)
        ),
        format!(
            "{} or host {}",
            (0..20)
                .map(|i| format!("host {}", a(i * 3)))
                .collect::<Vec<_>>()
                .join(" or "),
            b(9)
        ),
        format!("proto tcp and (ip {} or net {}/24)", a(7), v4(5)),
        format!(
            "proto tcp and dst port 25 and src ip in [ {} ]",
            many_hosts.join(" ")
        ),
    ]);
    v
}

#[test]
fn engine_selects_what_the_evaluator_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = flows();
    let batch: FlowBatch = flows.iter().copied().collect();
    ParquetWriter::new(dir.path(), WriteOptions::default())
        .write(&[batch.to_record_batch()])
        .expect("write parquet");
    let engine = QueryEngine::open(&LocalStore::new(dir.path()), None, None).expect("engine");
    let list = filters(&flows);
    assert!(list.len() >= 100, "{} filters", list.len());
    let mut nonempty = 0;
    for text in &list {
        let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut want: Vec<_> = flows
            .iter()
            .filter(|f| filter.matches(f))
            .map(key)
            .collect();
        let mut got: Vec<_> = engine
            .records(&filter, None, None)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .iter()
            .map(key)
            .collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(
            got.len(),
            want.len(),
            "flow count differs for filter {text:?}"
        );
        assert!(got == want, "flows differ for filter {text:?}");
        if !want.is_empty() && want.len() < flows.len() {
            nonempty += 1;
        }
    }
    // The filters discriminate: most select some flows but not all.
    assert!(
        nonempty * 10 >= list.len() * 7,
        "only {nonempty} of {} filters discriminate",
        list.len()
    );
}

#[test]
fn window_limits_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = flows();
    let batch: FlowBatch = flows.iter().copied().collect();
    ParquetWriter::new(dir.path(), WriteOptions::default())
        .write(&[batch.to_record_batch()])
        .expect("write parquet");
    let w = flowhound_store::TimeWindow::new(START + 60_000, START + 120_000);
    let engine = QueryEngine::open(&LocalStore::new(dir.path()), Some(w), None).expect("engine");
    let t = engine.totals(&parse("").expect("empty")).expect("totals");
    let want = flows
        .iter()
        .filter(|f| w.holds(f.time_start, f.time_end))
        .count() as u64;
    assert_eq!(t.flows, want);
    let rows = engine.sql("SELECT count(*) AS n FROM flows").expect("sql");
    assert_eq!(
        rows.rows,
        vec![vec![flowhound_query::Cell::Int(want as i64)]]
    );
}
