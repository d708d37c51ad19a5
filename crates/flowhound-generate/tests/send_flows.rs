//! A generated day over a real UDP socket: what arrives is what was sent,
//! with valid times in every protocol.

mod common;

use common::{parse, Parsed, Templates};
use flowhound_generate::{send_flows, Day, DayPlan, FlowRecord, IncidentKind, Proto, SendConfig};
use std::net::UdpSocket;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// 2025-11-26T00:00:00Z
const DAY: i64 = 1_764_115_200_000;

/// Two incidents and a thin background: about 16 000 flows over the day.
fn small_day() -> Vec<FlowRecord> {
    let mut plan = DayPlan::new(DAY);
    plan.incidents = vec![IncidentKind::SshBruteForce, IncidentKind::RdpBruteForce];
    plan.lookalikes = false;
    plan.peak_rate = 0.02;
    Day::new(&plan).collect()
}

/// Send `flows` with `cfg` (its `to` replaced by a local receiver) and
/// return the report and every datagram parsed.
fn run(
    mut cfg: SendConfig,
    flows: Vec<FlowRecord>,
) -> (flowhound_generate::SendReport, Vec<Parsed>) {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    cfg.to = rx.local_addr().expect("addr");
    let receiver = std::thread::spawn(move || {
        let mut templates = Templates::default();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        let mut idle = 0;
        while idle < 3 {
            match rx.recv_from(&mut buf) {
                Ok((n, _)) => {
                    idle = 0;
                    got.push(parse(&buf[..n], &mut templates).expect("parse"));
                }
                Err(_) => idle += 1,
            }
        }
        got
    });
    std::thread::sleep(Duration::from_millis(50));
    let report = send_flows(&cfg, flows, &AtomicBool::new(false)).expect("send");
    (report, receiver.join().expect("receiver"))
}

type Key = (u128, u128, u16, u16, u8, u64, u64, i64, i64);

/// What must survive the trip; v9 carries no ICMP type/code (see
/// `Encoder::wire_view`).
fn key(f: &FlowRecord) -> Key {
    (
        f.src_ip,
        f.dst_ip,
        f.src_port,
        if f.proto == 1 && f.version == 9 {
            0
        } else {
            f.dst_port
        },
        f.proto,
        f.packets,
        f.bytes,
        f.time_start,
        f.time_end,
    )
}

fn check(proto: Proto) {
    let flows = small_day();
    assert!((10_000..30_000).contains(&flows.len()), "{}", flows.len());
    let mut cfg = SendConfig::new("127.0.0.1:9".parse().expect("addr"), proto);
    cfg.rate_flows_per_s = 50_000;
    cfg.exporters = 2;
    let (report, got) = run(cfg, flows.clone());
    assert_eq!(report.flows, flows.len() as u64, "{proto}");
    assert_eq!(report.send_errors, 0);
    assert_eq!(report.datagrams, got.len() as u64, "{proto}: all arrived");
    let first_end = flows.iter().map(|f| f.time_end).min().expect("flows");
    let last_end = flows.iter().map(|f| f.time_end).max().expect("flows");
    assert!(report.sim_start_ms <= first_end);
    assert!(report.sim_end_ms > last_end && report.sim_end_ms <= last_end + 1000);
    // no flow ends after the datagram that carries it
    for d in &got {
        for f in &d.flows {
            assert!(
                f.time_end <= d.export_ms,
                "{proto}: {f:?} after {}",
                d.export_ms
            );
        }
    }
    // and every flow arrives as it was sent, times to the millisecond
    let as_sent = |f: &FlowRecord| FlowRecord {
        version: proto.version(),
        ..*f
    };
    let mut sent: Vec<Key> = flows.iter().map(|f| key(&as_sent(f))).collect();
    let mut recv: Vec<Key> = got.iter().flat_map(|d| d.flows.iter().map(key)).collect();
    sent.sort_unstable();
    recv.sort_unstable();
    assert_eq!(sent.len(), recv.len(), "{proto}");
    assert!(sent == recv, "{proto}: flows differ");
}

#[test]
fn v5_carries_a_generated_day() {
    check(Proto::V5);
}

#[test]
fn v9_carries_a_generated_day() {
    check(Proto::V9);
}

#[test]
fn ipfix_carries_a_generated_day() {
    check(Proto::Ipfix);
}

#[test]
fn send_flows_stops_at_the_limit_or_when_the_flows_run_out() {
    let flows = small_day();
    let mut cfg = SendConfig::new("127.0.0.1:9".parse().expect("addr"), Proto::V9);
    cfg.rate_flows_per_s = 100_000;
    cfg.total_flows = Some(1234);
    let (report, got) = run(cfg.clone(), flows);
    assert_eq!(report.flows, 1234);
    assert_eq!(got.iter().map(|d| d.flows.len()).sum::<usize>(), 1234);
    cfg.total_flows = None;
    let (report, got) = run(cfg.clone(), Vec::new());
    assert_eq!((report.flows, got.len()), (0, 0));
    // a stop request is honoured before anything is sent
    let r = send_flows(&cfg, small_day(), &AtomicBool::new(true)).expect("ok");
    assert_eq!(r.flows, 0);
    cfg.rate_flows_per_s = 0;
    let e = send_flows(&cfg, small_day(), &AtomicBool::new(false)).expect_err("invalid");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn send_flows_paces_at_the_given_rate() {
    let flows: Vec<FlowRecord> = small_day().into_iter().take(1000).collect();
    let mut cfg = SendConfig::new("127.0.0.1:9".parse().expect("addr"), Proto::Ipfix);
    cfg.rate_flows_per_s = 4_000;
    let (report, _) = run(cfg, flows);
    assert_eq!(report.flows, 1000);
    let s = report.elapsed.as_secs_f64();
    assert!((0.2..2.0).contains(&s), "{s} s for 1000 flows at 4000/s");
}
