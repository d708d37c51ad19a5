mod common;

use common::{parse, Templates};
use flowhound_generate::encode::{record_len, TEMPLATE_V4, TEMPLATE_V6};
use flowhound_generate::{Encoder, FlowRecord, Proto, Scenario, Traffic};
use flowhound_model::addr_from_v6;

const START: i64 = 1_764_165_600_123; // 2025-11-26T14:00:00.123Z

fn flows(n: usize, seed: u64) -> Vec<FlowRecord> {
    let mut t = Traffic::new(seed, START, Scenario::All);
    (0..n).map(|i| t.next_flow(START + i as i64 * 3)).collect()
}

fn v6_flow(i: u64) -> FlowRecord {
    let mut b = [0u8; 16];
    b[0] = 0x20;
    b[1] = 0x01;
    b[2] = 0x0d;
    b[3] = 0xb8;
    b[15] = i as u8;
    let mut d = b;
    d[14] = 7;
    FlowRecord {
        time_start: START - 5000,
        time_end: START - 10,
        src_ip: addr_from_v6(b),
        dst_ip: addr_from_v6(d),
        next_hop: addr_from_v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        src_port: 40000 + i as u16,
        dst_port: 443,
        proto: 6,
        tcp_flags: 0x1b,
        src_mask: 48,
        dst_mask: 64,
        in_if: 70_000,
        out_if: 1,
        src_as: 4_200_000_000,
        dst_as: 3320,
        packets: 10 + i,
        bytes: 5_000_000_000 + i,
        end_reason: 3,
        sampling_rate: 1,
        ..FlowRecord::default()
    }
}

/// Encode `input` in datagrams, parse them back, check headers and
/// sequences, and compare every flow with the encoder's wire view.
fn round_trip(proto: Proto, input: &[FlowRecord], export_ms: i64) -> (Vec<Vec<u8>>, usize) {
    let mut enc = Encoder::new(proto, 7, START - 7_200_000);
    let expected: Vec<FlowRecord> = input.iter().filter_map(|f| enc.wire_view(f)).collect();
    let datagrams: Vec<Vec<u8>> = enc.datagrams(input, export_ms).collect();
    let mut t = Templates::default();
    let mut got = Vec::new();
    let mut seq_expect: u32 = 0;
    for (i, d) in datagrams.iter().enumerate() {
        assert!(
            d.len() <= enc.max_datagram(),
            "{proto}: datagram {} bytes",
            d.len()
        );
        let p = parse(d, &mut t).unwrap_or_else(|e| panic!("{proto} datagram {i}: {e}"));
        assert_eq!(p.version, u16::from(proto.version()));
        assert_eq!(p.sequence, seq_expect, "{proto} sequence of datagram {i}");
        match proto {
            Proto::V5 => {
                seq_expect += p.flows.len() as u32;
                assert!(p.flows.len() <= 30);
                assert_eq!(p.export_ms, export_ms);
            }
            Proto::V9 => {
                seq_expect += 1;
                assert_eq!(p.domain_id, 7);
                assert_eq!(p.export_ms, export_ms / 1000 * 1000);
                // templates in the first datagram and every 20th
                assert_eq!(p.templates > 0, i % 20 == 0, "template in datagram {i}");
            }
            Proto::Ipfix => {
                seq_expect += p.flows.len() as u32;
                assert_eq!(p.domain_id, 7);
                assert_eq!(p.templates > 0, i % 20 == 0, "template in datagram {i}");
            }
        }
        assert!(!p.flows.is_empty());
        got.extend(p.flows);
    }
    assert_eq!(enc.sequence(), seq_expect);
    assert_eq!(got.len(), expected.len(), "{proto}: flow count");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "{proto}: flow {i}");
    }
    (datagrams, got.len())
}

#[test]
fn v5_round_trip_exact() {
    let input = flows(1000, 1);
    let (d, n) = round_trip(Proto::V5, &input, START + 3000);
    assert_eq!(n, 1000);
    assert_eq!(d.len(), 34); // 33 × 30 + 10
    assert_eq!(d[0].len(), 24 + 30 * 48);
    // times survive exactly: the wire view keeps them
    let enc = Encoder::new(Proto::V5, 0, START - 7_200_000);
    for f in &input {
        let w = enc.wire_view(f).expect("v4");
        assert_eq!((w.time_start, w.time_end), (f.time_start, f.time_end));
    }
}

#[test]
fn v9_round_trip_exact_and_sized() {
    let input = flows(2000, 2);
    let (d, n) = round_trip(Proto::V9, &input, START + 2500);
    assert_eq!(n, 2000);
    let rec = record_len(Proto::V9, false);
    assert_eq!(rec, 58);
    // full datagrams without templates carry 23 records in 1400 bytes
    assert_eq!(d[1].len(), 20 + 4 + 23 * 58 + 2);
    let enc = Encoder::new(Proto::V9, 0, START - 7_200_000);
    for f in &input {
        let w = enc.wire_view(f).expect("v4");
        assert_eq!((w.time_start, w.time_end), (f.time_start, f.time_end));
        assert_eq!(w.end_reason, 0);
    }
}

#[test]
fn ipfix_round_trip_exact() {
    let input = flows(2000, 3);
    let (d, n) = round_trip(Proto::Ipfix, &input, START + 999);
    assert_eq!(n, 2000);
    assert!(d.iter().all(|x| x.len() <= 1400));
    let enc = Encoder::new(Proto::Ipfix, 0, 0);
    for f in &input {
        let mut w = enc.wire_view(f).expect("v4");
        w.version = 0;
        w.domain_id = 0;
        assert_eq!(&w, f, "IPFIX carries every generated field");
    }
}

#[test]
fn v6_flows_mixed_in() {
    let mut input = flows(200, 4);
    for i in 0..60 {
        input.insert((i * 3) as usize, v6_flow(i));
    }
    let (_, n9) = round_trip(Proto::V9, &input, START);
    let (_, nx) = round_trip(Proto::Ipfix, &input, START);
    assert_eq!(n9, 260);
    assert_eq!(nx, 260);
    // v5 skips them and says so
    let (_, n5) = round_trip(Proto::V5, &input, START);
    assert_eq!(n5, 200);
    let mut enc = Encoder::new(Proto::V5, 0, START - 3_600_000);
    let mut buf = Vec::new();
    let r = enc.encode(&[v6_flow(1), v6_flow(2)], START, &mut buf);
    assert_eq!((r.consumed, r.records, r.skipped), (2, 0, 2));
    assert!(buf.is_empty());
    assert_eq!(enc.sequence(), 0);
}

#[test]
fn v5_limits_are_mapped() {
    let mut f = flows(1, 5)[0];
    f.src_as = 4_200_000_000;
    f.in_if = 70_000;
    f.bytes = 5_000_000_000;
    let enc = Encoder::new(Proto::V5, 0, START - 3_600_000);
    let w = enc.wire_view(&f).expect("v4");
    assert_eq!(w.src_as, 23456);
    assert_eq!(w.in_if, 65535);
    assert_eq!(w.bytes, u64::from(u32::MAX));
    let (_, n) = round_trip(Proto::V5, &[f], START);
    assert_eq!(n, 1);
}

#[test]
fn template_layout() {
    let mut enc = Encoder::new(Proto::Ipfix, 1, 0);
    let mut buf = Vec::new();
    enc.encode(&flows(1, 6), START, &mut buf);
    // header, then set 2 with template 256 of 20 fields
    assert_eq!(&buf[16..18], &2u16.to_be_bytes());
    assert_eq!(&buf[20..22], &TEMPLATE_V4.to_be_bytes());
    assert_eq!(&buf[22..24], &20u16.to_be_bytes());
    let v6_at = 24 + 20 * 4;
    assert_eq!(&buf[v6_at..v6_at + 2], &TEMPLATE_V6.to_be_bytes());
    // second datagram: no template
    enc.encode(&flows(1, 6), START, &mut buf);
    assert_eq!(&buf[16..18], &TEMPLATE_V4.to_be_bytes());
    assert_eq!(buf.len(), 16 + 4 + record_len(Proto::Ipfix, false));
}

#[test]
fn template_refresh_zero_and_limits() {
    let input = flows(500, 7);
    let mut enc = Encoder::new(Proto::V9, 3, START - 3_600_000)
        .with_template_refresh(0)
        .with_max_datagram(10)
        .with_max_records(5);
    let mut t = Templates::default();
    let mut n = 0;
    for (i, d) in enc.datagrams(&input, START).enumerate() {
        let p = parse(&d, &mut t).expect("parse");
        assert_eq!(p.templates > 0, i == 0);
        assert!(p.flows.len() <= 5);
        n += p.flows.len();
    }
    assert_eq!(n, 500);
    let big = Encoder::new(Proto::V9, 3, 0).with_max_datagram(1700);
    assert_eq!(big.records_per_datagram(false), 28);
}

#[test]
fn empty_input_writes_nothing() {
    for proto in [Proto::V5, Proto::V9, Proto::Ipfix] {
        let mut enc = Encoder::new(proto, 0, 0);
        let mut buf = vec![1, 2, 3];
        let r = enc.encode(&[], START, &mut buf);
        assert_eq!(r.consumed, 0);
        assert!(buf.is_empty());
        assert_eq!(enc.datagrams(&[], START).count(), 0);
    }
}

#[test]
fn exporter_reboots_before_uptime_overflows() {
    let mut enc = Encoder::new(Proto::V9, 1, START - 30 * 86_400_000);
    let input = flows(10, 8);
    // 30 days of uptime would saturate first/last; the exporter reboots
    let mut buf = Vec::new();
    enc.encode(&input, START + 1000, &mut buf);
    assert!(enc.boot_ms() > START - 30 * 86_400_000);
    let mut t = Templates::default();
    let p = parse(&buf, &mut t).expect("parse");
    assert!(p.templates > 0, "templates resent after reboot");
    for (g, f) in p.flows.iter().zip(&input) {
        assert_eq!((g.time_start, g.time_end), (f.time_start, f.time_end));
    }
}

#[test]
fn proto_names() {
    for p in [Proto::V5, Proto::V9, Proto::Ipfix] {
        assert_eq!(p.name().parse::<Proto>(), Ok(p));
    }
    assert_eq!("IPFIX".parse::<Proto>(), Ok(Proto::Ipfix));
    assert!("v7".parse::<Proto>().is_err());
}
