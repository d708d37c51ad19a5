mod common;

use common::{parse, Templates};
use flowhound_generate::{send, Proto, Scenario, SendConfig};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Default, Debug, PartialEq, Eq)]
struct Totals {
    datagrams: u64,
    flows: u64,
    packets: u64,
    bytes: u64,
    wire: u64,
}

/// Send with `cfg` (its `to` replaced by a local receiver) and sum what
/// arrived per source address.
fn run(mut cfg: SendConfig) -> (flowhound_generate::SendReport, HashMap<SocketAddr, Totals>) {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    cfg.to = rx.local_addr().expect("addr");
    let proto = cfg.proto;
    let receiver = std::thread::spawn(move || {
        let mut per: HashMap<SocketAddr, Totals> = HashMap::new();
        let mut templates = Templates::default();
        let mut seq: HashMap<SocketAddr, u32> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        let mut idle = 0;
        while idle < 3 {
            match rx.recv_from(&mut buf) {
                Ok((n, from)) => {
                    idle = 0;
                    let p = parse(&buf[..n], &mut templates).expect("parse");
                    // sequence numbers continue per exporter
                    if let Some(&s) = seq.get(&from) {
                        assert_eq!(p.sequence, s, "sequence from {from}");
                    } else {
                        assert_eq!(p.sequence, 0);
                    }
                    let next = match proto {
                        Proto::V9 => p.sequence + 1,
                        _ => p.sequence + p.flows.len() as u32,
                    };
                    seq.insert(from, next);
                    let t = per.entry(from).or_default();
                    t.datagrams += 1;
                    t.wire += n as u64;
                    for f in &p.flows {
                        t.flows += 1;
                        t.packets += f.packets;
                        t.bytes += f.bytes;
                    }
                }
                Err(_) => idle += 1,
            }
        }
        per
    });
    std::thread::sleep(Duration::from_millis(50));
    let report = send(&cfg, &AtomicBool::new(false)).expect("send");
    let per = receiver.join().expect("receiver");
    (report, per)
}

fn check(proto: Proto) {
    let mut cfg = SendConfig::new("127.0.0.1:9".parse().expect("addr"), proto);
    cfg.rate_flows_per_s = 40_000;
    cfg.total_flows = Some(12_345);
    cfg.exporters = 3;
    cfg.scenario = Scenario::All;
    cfg.start_ms = Some(1_764_165_600_000);
    cfg.time_scale = 60.0;
    let (report, per) = run(cfg);
    assert_eq!(report.flows, 12_345);
    assert_eq!(report.send_errors, 0);
    assert_eq!(report.exporters.len(), 3);
    assert_eq!(per.len(), 3, "three source addresses");
    let mut sum = Totals::default();
    for (i, e) in report.exporters.iter().enumerate() {
        assert_eq!(e.local.ip().to_string(), format!("127.0.0.{}", i + 1));
        assert_eq!(e.domain_id, i as u32 + 1);
        let got = per.get(&e.local).expect("exporter seen");
        assert_eq!(
            *got,
            Totals {
                datagrams: e.datagrams,
                flows: e.flows,
                packets: e.packets,
                bytes: e.bytes,
                wire: e.wire_bytes,
            },
            "{proto} exporter {i}"
        );
        sum.flows += got.flows;
        sum.packets += got.packets;
        sum.bytes += got.bytes;
        sum.datagrams += got.datagrams;
    }
    assert_eq!(sum.flows, report.flows);
    assert_eq!(sum.packets, report.flow_packets);
    assert_eq!(sum.bytes, report.flow_bytes);
    assert_eq!(sum.datagrams, report.datagrams);
    // a minute of simulated time per real second
    assert!(report.sim_end_ms > report.sim_start_ms);
}

#[test]
fn v5_totals_match_what_arrives() {
    check(Proto::V5);
}

#[test]
fn v9_totals_match_what_arrives() {
    check(Proto::V9);
}

#[test]
fn ipfix_totals_match_what_arrives() {
    check(Proto::Ipfix);
}

#[test]
fn low_rates_flush_partial_datagrams() {
    let mut cfg = SendConfig::new("127.0.0.1:9".parse().expect("addr"), Proto::V9);
    cfg.rate_flows_per_s = 50;
    cfg.duration = Some(Duration::from_millis(450));
    let (report, per) = run(cfg);
    assert!((15..=25).contains(&report.flows), "{}", report.flows);
    assert!(report.datagrams >= 3, "{}", report.datagrams);
    let got: u64 = per.values().map(|t| t.flows).sum();
    assert_eq!(got, report.flows);
}

#[test]
fn diurnal_rate_follows_the_simulated_hour() {
    let mut day = SendConfig::new("127.0.0.1:9".parse().expect("addr"), Proto::V9);
    day.rate_flows_per_s = 20_000;
    day.diurnal = true;
    day.duration = Some(Duration::from_millis(300));
    day.start_ms = Some(1_764_165_600_000); // 14:00 UTC
    let mut night = day.clone();
    night.start_ms = Some(1_764_126_000_000); // 03:00 UTC
    let stop = AtomicBool::new(false);
    let d = send(&day, &stop).expect("day");
    let n = send(&night, &stop).expect("night");
    assert!(d.flows > 4 * n.flows, "day {} night {}", d.flows, n.flows);
    assert!(d.flows > 4_000, "{}", d.flows);
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let base = SendConfig::new("127.0.0.1:9".parse().expect("addr"), Proto::V9);
    let stop = AtomicBool::new(false);
    let mut bad = Vec::new();
    let mut c = base.clone();
    c.rate_flows_per_s = 0;
    bad.push(c);
    let mut c = base.clone();
    c.exporters = 0;
    bad.push(c);
    let mut c = base.clone();
    c.exporters = 1000;
    bad.push(c);
    let mut c = base.clone();
    c.time_scale = f64::NAN;
    bad.push(c);
    let mut c = base.clone();
    c.time_scale = -1.0;
    bad.push(c);
    let mut c = base.clone();
    c.incident_share = 2.0;
    bad.push(c);
    let mut c = base.clone();
    c.start_ms = Some(i64::MAX);
    bad.push(c);
    let mut c = base.clone();
    c.to = "127.0.0.1:0".parse().expect("addr");
    bad.push(c);
    for c in bad {
        let e = send(&c, &stop).expect_err("invalid");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{c:?}");
    }
    // nothing to do is not an error
    let mut c = base.clone();
    c.total_flows = Some(0);
    assert_eq!(send(&c, &stop).expect("ok").flows, 0);
    let mut c = base.clone();
    c.duration = Some(Duration::ZERO);
    assert_eq!(send(&c, &stop).expect("ok").flows, 0);
    // a stop request ends an endless run
    let c = base;
    assert_eq!(send(&c, &AtomicBool::new(true)).expect("ok").flows, 0);
}

#[test]
fn extreme_but_valid_configs_run() {
    let mut c = SendConfig::new("127.0.0.1:9".parse().expect("addr"), Proto::V5);
    c.rate_flows_per_s = u64::MAX;
    c.total_flows = Some(1000);
    c.time_scale = 1e12;
    c.max_datagram = Some(0);
    c.template_refresh = 0;
    c.start_ms = Some(u32::MAX as i64 * 1000);
    let r = send(&c, &AtomicBool::new(false)).expect("runs");
    assert_eq!(r.flows, 1000);
    c.proto = Proto::Ipfix;
    c.max_datagram = Some(usize::MAX);
    let r = send(&c, &AtomicBool::new(false)).expect("runs");
    assert_eq!(r.flows, 1000);
}
