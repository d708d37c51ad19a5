//! Hand-made datagrams, annotated byte by byte, with the exact flows they
//! must decode to, and malformed ones that must be refused or counted.

use flowhound_decode::{decode, DecodeError, Limits, TemplateCache};
use flowhound_model::{addr_from_v4, addr_from_v6, FlowRecord};

const EXPORTER: u32 = 0xc000_0201; // 192.0.2.1

fn exporter() -> u128 {
    addr_from_v4(EXPORTER)
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> u128 {
    addr_from_v4(u32::from_be_bytes([a, b, c, d]))
}

fn run(cache: &mut TemplateCache, d: &[u8]) -> (Vec<FlowRecord>, flowhound_decode::Decoded) {
    let mut flows = Vec::new();
    let r = decode(d, exporter(), cache, &mut flows).expect("valid datagram");
    (flows, r)
}

#[rustfmt::skip]
const V5: [u8; 24 + 2 * 48] = [
    0x00, 0x05,             // version 5
    0x00, 0x02,             // count 2
    0x00, 0x01, 0x86, 0xa0, // sysUptime 100000 ms
    0x65, 0x53, 0xf1, 0x00, // unix_secs 1700000000
    0x00, 0x98, 0x96, 0x80, // unix_nsecs 10000000 (10 ms)
    0x00, 0x00, 0x00, 0x07, // flow_sequence 7
    0x00,                   // engine type
    0x00,                   // engine id
    0x40, 0x64,             // sampling: mode 1, interval 100
    // record 1
    0x0a, 0x00, 0x00, 0x01, // src 10.0.0.1
    0xc0, 0x00, 0x02, 0x07, // dst 192.0.2.7
    0x0a, 0x00, 0x00, 0xfe, // next hop 10.0.0.254
    0x00, 0x03,             // input 3
    0x00, 0x04,             // output 4
    0x00, 0x00, 0x00, 0x0a, // packets 10
    0x00, 0x00, 0x05, 0xdc, // bytes 1500
    0x00, 0x01, 0x5f, 0x90, // first 90000
    0x00, 0x01, 0x82, 0xb8, // last 99000
    0x30, 0x39,             // src port 12345
    0x00, 0x19,             // dst port 25
    0x00,                   // pad
    0x1b,                   // tcp flags FIN SYN PSH ACK
    0x06,                   // proto tcp
    0x10,                   // tos
    0xfb, 0xf4,             // src as 64500
    0x3b, 0x41,             // dst as 15169
    0x18,                   // src mask 24
    0x10,                   // dst mask 16
    0x00, 0x00,             // pad
    // record 2: ICMP echo request, stamped after the header's uptime
    0x0a, 0x00, 0x00, 0x02, // src 10.0.0.2
    0x0a, 0x00, 0x00, 0x03, // dst 10.0.0.3
    0x00, 0x00, 0x00, 0x00, // next hop
    0x00, 0x01,             // input 1
    0x00, 0x02,             // output 2
    0x00, 0x00, 0x00, 0x01, // packets 1
    0x00, 0x00, 0x00, 0x54, // bytes 84
    0x00, 0x01, 0x86, 0xa5, // first 100005 (5 ms after the header)
    0x00, 0x01, 0x86, 0xa5, // last 100005
    0x00, 0x00,             // src port
    0x08, 0x00,             // dst port: type 8 code 0
    0x00, 0x00, 0x01, 0x00, // pad, flags, proto icmp, tos
    0x00, 0x00, 0x00, 0x00, // as
    0x00, 0x00, 0x00, 0x00, // masks, pad
];

#[test]
fn v5_header_records_sampling_and_times() {
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &V5);
    assert_eq!(
        (d.version, d.sequence, d.flows, d.seq_records),
        (5, 7, 2, Some(2))
    );
    assert_eq!((d.export_time, d.consumed), (1_700_000_000, V5.len()));
    let export_ms = 1_700_000_000_010;
    assert_eq!(
        flows[0],
        FlowRecord {
            time_start: export_ms - 10_000,
            time_end: export_ms - 1_000,
            exporter: exporter(),
            domain_id: 0,
            src_ip: v4(10, 0, 0, 1),
            dst_ip: v4(192, 0, 2, 7),
            next_hop: v4(10, 0, 0, 254),
            src_port: 12345,
            dst_port: 25,
            proto: 6,
            tcp_flags: 0x1b,
            tos: 0x10,
            src_mask: 24,
            dst_mask: 16,
            version: 5,
            in_if: 3,
            out_if: 4,
            src_as: 64500,
            dst_as: 15169,
            packets: 1000,
            bytes: 150_000,
            sampling_rate: 100,
            ..FlowRecord::default()
        }
    );
    assert_eq!(flows[1].dst_port, 0x0800);
    assert_eq!(flows[1].time_start, export_ms + 5);
}

#[test]
fn v5_count_beyond_datagram_is_bad_count() {
    let mut d = V5;
    d[2..4].copy_from_slice(&55582u16.to_be_bytes());
    let e = decode(
        &d,
        exporter(),
        &mut TemplateCache::default(),
        &mut Vec::new(),
    )
    .expect_err("count lies");
    assert_eq!(e.kind(), "bad_count");
    assert_eq!(e.offset(), 2);
    // Trailing bytes after the counted records are not part of the datagram.
    let mut longer = V5.to_vec();
    longer.extend_from_slice(&[0xde, 0xad]);
    let (_, r) = run(&mut TemplateCache::default(), &longer);
    assert_eq!(r.consumed, V5.len());
}

/// A v9 datagram: template 256 (18 typical fields, 45-byte records), then one
/// data record, padded.
#[rustfmt::skip]
const V9_TEMPLATE_AND_DATA: [u8; 20 + 80 + 52] = [
    0x00, 0x09,             // version 9
    0x00, 0x02,             // count: 1 template + 1 record
    0x00, 0x01, 0x86, 0xa0, // sysUptime 100000 ms
    0x65, 0x53, 0xf1, 0x00, // unix_secs 1700000000
    0x00, 0x00, 0x00, 0x2a, // sequence 42
    0x00, 0x00, 0x00, 0x07, // source id 7
    // template flowset
    0x00, 0x00, 0x00, 0x50, // flowset 0, length 80
    0x01, 0x00, 0x00, 0x12, // template 256, 18 fields
    0x00, 0x08, 0x00, 0x04, // IPV4_SRC_ADDR 4
    0x00, 0x0c, 0x00, 0x04, // IPV4_DST_ADDR 4
    0x00, 0x07, 0x00, 0x02, // L4_SRC_PORT 2
    0x00, 0x0b, 0x00, 0x02, // L4_DST_PORT 2
    0x00, 0x04, 0x00, 0x01, // PROTOCOL 1
    0x00, 0x06, 0x00, 0x01, // TCP_FLAGS 1
    0x00, 0x05, 0x00, 0x01, // SRC_TOS 1
    0x00, 0x0a, 0x00, 0x02, // INPUT_SNMP 2
    0x00, 0x0e, 0x00, 0x02, // OUTPUT_SNMP 2
    0x00, 0x02, 0x00, 0x04, // IN_PKTS 4
    0x00, 0x01, 0x00, 0x04, // IN_BYTES 4
    0x00, 0x10, 0x00, 0x02, // SRC_AS 2
    0x00, 0x11, 0x00, 0x02, // DST_AS 2
    0x00, 0x09, 0x00, 0x01, // SRC_MASK 1
    0x00, 0x0d, 0x00, 0x01, // DST_MASK 1
    0x00, 0x0f, 0x00, 0x04, // IPV4_NEXT_HOP 4
    0x00, 0x16, 0x00, 0x04, // FIRST_SWITCHED 4
    0x00, 0x15, 0x00, 0x04, // LAST_SWITCHED 4
    // data flowset
    0x01, 0x00, 0x00, 0x34, // flowset 256, length 52
    0x0a, 0x00, 0x00, 0x01, // src 10.0.0.1
    0xc0, 0x00, 0x02, 0x07, // dst 192.0.2.7
    0x30, 0x39,             // src port 12345
    0x00, 0x19,             // dst port 25
    0x06,                   // tcp
    0x1b,                   // flags
    0x00,                   // tos
    0x00, 0x03,             // in 3
    0x00, 0x04,             // out 4
    0x00, 0x00, 0x00, 0x0a, // packets 10
    0x00, 0x00, 0x05, 0xdc, // bytes 1500
    0xfb, 0xf4,             // src as 64500
    0x3b, 0x41,             // dst as 15169
    0x18,                   // src mask 24
    0x10,                   // dst mask 16
    0x0a, 0x00, 0x00, 0xfe, // next hop 10.0.0.254
    0x00, 0x01, 0x5f, 0x90, // first 90000
    0x00, 0x01, 0x82, 0xb8, // last 99000
    0x00, 0x00, 0x00,       // padding
];

fn v9_expected() -> FlowRecord {
    FlowRecord {
        time_start: 1_700_000_000_000 - 10_000,
        time_end: 1_700_000_000_000 - 1_000,
        exporter: exporter(),
        domain_id: 7,
        src_ip: v4(10, 0, 0, 1),
        dst_ip: v4(192, 0, 2, 7),
        next_hop: v4(10, 0, 0, 254),
        src_port: 12345,
        dst_port: 25,
        proto: 6,
        tcp_flags: 0x1b,
        src_mask: 24,
        dst_mask: 16,
        version: 9,
        in_if: 3,
        out_if: 4,
        src_as: 64500,
        dst_as: 15169,
        packets: 10,
        bytes: 1500,
        sampling_rate: 1,
        ..FlowRecord::default()
    }
}

#[test]
fn v9_template_and_data() {
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &V9_TEMPLATE_AND_DATA);
    assert_eq!((d.version, d.domain_id, d.sequence), (9, 7, 42));
    assert_eq!(
        (d.templates, d.flows, d.held, d.seq_records),
        (1, 1, 0, Some(1))
    );
    assert_eq!(d.set_errors.total(), 0);
    assert_eq!(flows, vec![v9_expected()]);
    assert_eq!(cache.template_count(), 1);
}

#[test]
fn v9_data_before_template_is_held_then_decoded() {
    // The data flowset first, then the template, in one datagram.
    let t = &V9_TEMPLATE_AND_DATA;
    let mut swapped = t[..20].to_vec();
    swapped.extend_from_slice(&t[100..]);
    swapped.extend_from_slice(&t[20..100]);
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &swapped);
    assert_eq!((d.flows, d.held, d.templates), (1, 0, 1));
    assert_eq!(flows, vec![v9_expected()]);

    // Across datagrams: data now, template later.
    let mut cache = TemplateCache::default();
    let mut data_only = t[..20].to_vec();
    data_only.extend_from_slice(&t[100..]);
    let (flows, d) = run(&mut cache, &data_only);
    assert_eq!((flows.len(), d.held, d.seq_records), (0, 1, Some(1)));
    assert_eq!(cache.held_sets(), 1);
    let mut tpl_only = t[..100].to_vec();
    tpl_only[4..8].copy_from_slice(&101_000u32.to_be_bytes()); // 1 s later
    tpl_only[8..12].copy_from_slice(&1_700_000_001u32.to_be_bytes());
    let (flows, d) = run(&mut cache, &tpl_only);
    assert_eq!((d.flows, d.held), (1, 0));
    // Decoded with its own datagram's header times.
    assert_eq!(flows, vec![v9_expected()]);
    assert_eq!(cache.held_sets(), 0);
    assert_eq!(cache.held_bytes(), 0);
}

#[test]
fn held_data_expires_and_is_evicted() {
    let t = &V9_TEMPLATE_AND_DATA;
    let mut data_only = t[..20].to_vec();
    data_only.extend_from_slice(&t[100..]);
    let limits = Limits {
        max_held_sets: 2,
        ..Limits::default()
    };
    let mut cache = TemplateCache::new(limits);
    for _ in 0..3 {
        run(&mut cache, &data_only);
    }
    assert_eq!(cache.held_sets(), 2);
    assert_eq!(cache.take_dropped().held_evicted, 1);

    // 61 s of export time later, the held sets are too old.
    let mut tpl_late = t[..100].to_vec();
    tpl_late[8..12].copy_from_slice(&1_700_000_061u32.to_be_bytes());
    let (flows, _) = run(&mut cache, &tpl_late);
    assert!(flows.is_empty());
    let dropped = cache.take_dropped();
    assert_eq!((dropped.held_expired, dropped.held_evicted), (2, 0));
    assert_eq!(cache.held_bytes(), 0);
    assert_eq!(cache.take_dropped(), Default::default());
}

#[test]
fn unknown_template_counts_when_holding_is_off() {
    let t = &V9_TEMPLATE_AND_DATA;
    let mut data_only = t[..20].to_vec();
    data_only.extend_from_slice(&t[100..]);
    let mut cache = TemplateCache::new(Limits {
        max_held_sets: 0,
        ..Limits::default()
    });
    let (_, d) = run(&mut cache, &data_only);
    assert_eq!((d.held, d.set_errors.unknown_template), (0, 1));
}

/// v9 options: sampler 5 at 1:100 (48/49/50), the generic sampler at 1:10
/// (34/35), and flows naming sampler 5, an unknown sampler, and none.
#[rustfmt::skip]
const V9_SAMPLING: [u8; 20 + 46 + 16 + 16 + 32 + 48] = [
    0x00, 0x09,             // version 9
    0x00, 0x08,             // count
    0x00, 0x00, 0x03, 0xe8, // sysUptime 1000
    0x65, 0x53, 0xf1, 0x00, // unix_secs 1700000000
    0x00, 0x00, 0x00, 0x01, // sequence 1
    0x00, 0x00, 0x00, 0x00, // source id 0
    // options template flowset
    0x00, 0x01, 0x00, 0x2e, // flowset 1, length 46
    0x01, 0x01,             // template 257
    0x00, 0x04,             // scope length 4 (one field)
    0x00, 0x0c,             // options length 12 (three fields)
    0x00, 0x01, 0x00, 0x04, // scope: system, 4
    0x00, 0x30, 0x00, 0x01, // FLOW_SAMPLER_ID 1
    0x00, 0x31, 0x00, 0x01, // FLOW_SAMPLER_MODE 1
    0x00, 0x32, 0x00, 0x04, // FLOW_SAMPLER_RANDOM_INTERVAL 4
    0x01, 0x02,             // template 258
    0x00, 0x04,             // scope length 4
    0x00, 0x08,             // options length 8 (two fields)
    0x00, 0x01, 0x00, 0x04, // scope: system, 4
    0x00, 0x22, 0x00, 0x04, // SAMPLING_INTERVAL 4
    0x00, 0x23, 0x00, 0x01, // SAMPLING_ALGORITHM 1
    0x00, 0x00,             // padding
    // sampler 5 options data
    0x01, 0x01, 0x00, 0x10, // flowset 257, length 16
    0x00, 0x00, 0x00, 0x00, // system 0
    0x05,                   // sampler id 5
    0x02,                   // mode random
    0x00, 0x00, 0x00, 0x64, // interval 100
    0x00, 0x00,             // padding
    // generic sampler options data
    0x01, 0x02, 0x00, 0x10, // flowset 258, length 16
    0x00, 0x00, 0x00, 0x00, // system 0
    0x00, 0x00, 0x00, 0x0a, // interval 10
    0x02,                   // algorithm random
    0x00, 0x00, 0x00,       // padding
    // data template
    0x00, 0x00, 0x00, 0x20, // flowset 0, length 32
    0x01, 0x03, 0x00, 0x06, // template 259, 6 fields
    0x00, 0x30, 0x00, 0x01, // FLOW_SAMPLER_ID 1
    0x00, 0x08, 0x00, 0x04, // IPV4_SRC_ADDR
    0x00, 0x0c, 0x00, 0x04, // IPV4_DST_ADDR
    0x00, 0x04, 0x00, 0x01, // PROTOCOL
    0x00, 0x02, 0x00, 0x04, // IN_PKTS
    0x00, 0x01, 0x00, 0x08, // IN_BYTES 8
    // two flows, 22 bytes each
    0x01, 0x03, 0x00, 0x30, // flowset 259, length 48
    0x05, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x11, // sampler 5, 10.0.0.1 > 10.0.0.2 udp
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, // 2 packets, 100 bytes
    0x09, 0x0a, 0x00, 0x00, 0x03, 0x0a, 0x00, 0x00, 0x04, 0x11, // sampler 9 (unknown)
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2c, // 3 packets, 300 bytes
];

#[test]
fn v9_options_sampling_scales_by_sampler() {
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &V9_SAMPLING);
    assert_eq!(d.set_errors.total(), 0, "{d:?}");
    assert_eq!((d.templates, d.flows), (3, 2));
    assert_eq!(
        (flows[0].packets, flows[0].bytes, flows[0].sampling_rate),
        (200, 10_000, 100)
    );
    // Unknown sampler 9: the generic sampler (interval 10), as nfdump does.
    assert_eq!(
        (flows[1].packets, flows[1].bytes, flows[1].sampling_rate),
        (30, 3_000, 10)
    );
    assert_eq!(cache.default_sampling_rate(exporter(), 9, 0), 10);

    // Flows of a template without sampler id get the generic sampler too.
    let mut plain = V9_TEMPLATE_AND_DATA;
    plain[16..20].copy_from_slice(&0u32.to_be_bytes()); // source id 0
    let (flows, _) = run(&mut cache, &plain);
    assert_eq!(
        (flows[0].packets, flows[0].bytes, flows[0].sampling_rate),
        (100, 15_000, 10)
    );
}

/// IPFIX: a template with an enterprise field and a variable-length field,
/// millisecond times, two records (one with the 3-byte length form).
#[rustfmt::skip]
const IPFIX_VARLEN: [u8; 16 + 48 + 4 + 47 + 47] = [
    0x00, 0x0a,             // version 10
    0x00, 0xa2,             // length 162
    0x65, 0x53, 0xf1, 0x00, // export time 1700000000
    0x00, 0x00, 0x00, 0x05, // sequence 5
    0x00, 0x00, 0x00, 0x63, // observation domain 99
    // template set
    0x00, 0x02, 0x00, 0x30, // set 2, length 48
    0x01, 0x2c, 0x00, 0x09, // template 300, 9 fields
    0x00, 0x08, 0x00, 0x04, // sourceIPv4Address 4
    0x00, 0x0c, 0x00, 0x04, // destinationIPv4Address 4
    0x00, 0x04, 0x00, 0x01, // protocolIdentifier 1
    0x00, 0x02, 0x00, 0x08, // packetDeltaCount 8
    0x00, 0x01, 0x00, 0x04, // octetDeltaCount 4 (reduced size)
    0x80, 0x64, 0x00, 0x04, // enterprise bit, element 100, length 4
    0x00, 0x00, 0x00, 0x09, //   PEN 9
    0x00, 0x52, 0xff, 0xff, // interfaceName, variable length
    0x00, 0x98, 0x00, 0x08, // flowStartMilliseconds 8
    0x00, 0x99, 0x00, 0x08, // flowEndMilliseconds 8
    // data set
    0x01, 0x2c, 0x00, 0x62, // set 300, length 98
    // record 1 (47 bytes)
    0x0a, 0x00, 0x00, 0x01, // src 10.0.0.1
    0x0a, 0x00, 0x00, 0x02, // dst 10.0.0.2
    0x11,                   // udp
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, // 3 packets
    0x00, 0x00, 0x01, 0x2c, // 300 bytes
    0xde, 0xad, 0xbe, 0xef, // enterprise value, skipped
    0x05, b'e', b't', b'h', b'0', b'x', // interfaceName, 1-byte length 5
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // start 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, // end 1700000001000
    // record 2 (47 bytes)
    0x0a, 0x00, 0x00, 0x03, // src 10.0.0.3
    0x0a, 0x00, 0x00, 0x04, // dst 10.0.0.4
    0x06,                   // tcp
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // 1 packet
    0x00, 0x00, 0x00, 0x28, // 40 bytes
    0x00, 0x00, 0x00, 0x00, // enterprise value
    0xff, 0x00, 0x03, b'a', b'b', b'c', // interfaceName, 3-byte length form: 3
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // start 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x0a, // end 1700000000010
];

#[test]
fn ipfix_variable_length_and_enterprise_fields() {
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &IPFIX_VARLEN);
    assert_eq!(d.set_errors.total(), 0, "{d:?}");
    assert_eq!((d.version, d.domain_id, d.sequence), (10, 99, 5));
    assert_eq!((d.templates, d.flows, d.seq_records), (1, 2, Some(2)));
    let f = flows[0];
    assert_eq!(
        (f.src_ip, f.dst_ip, f.proto),
        (v4(10, 0, 0, 1), v4(10, 0, 0, 2), 17)
    );
    assert_eq!(
        (f.packets, f.bytes, f.version, f.domain_id),
        (3, 300, 10, 99)
    );
    assert_eq!(
        (f.time_start, f.time_end),
        (1_700_000_000_000, 1_700_000_001_000)
    );
    let f = flows[1];
    assert_eq!((f.src_ip, f.packets, f.bytes), (v4(10, 0, 0, 3), 1, 40));
    assert_eq!(
        (f.time_start, f.time_end),
        (1_700_000_000_000, 1_700_000_000_010)
    );
}

fn ipfix_with_sets(sets: &[&[u8]]) -> Vec<u8> {
    let mut d = vec![
        0x00, 0x0a, 0x00, 0x00, // version 10, length (below)
        0x65, 0x53, 0xf1, 0x00, // export time 1700000000
        0x00, 0x00, 0x00, 0x06, // sequence 6
        0x00, 0x00, 0x00, 0x63, // domain 99
    ];
    for s in sets {
        d.extend_from_slice(s);
    }
    let len = d.len() as u16;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    d
}

fn ipfix_data_set() -> &'static [u8] {
    &IPFIX_VARLEN[64..]
}

#[test]
fn ipfix_template_withdrawal() {
    let mut cache = TemplateCache::default();
    run(&mut cache, &IPFIX_VARLEN);
    #[rustfmt::skip]
    let withdraw: &[u8] = &[
        0x00, 0x02, 0x00, 0x08, // set 2, length 8
        0x01, 0x2c, 0x00, 0x00, // template 300, 0 fields: withdrawn
    ];
    let (flows, d) = run(&mut cache, &ipfix_with_sets(&[withdraw, ipfix_data_set()]));
    assert_eq!((flows.len(), d.held, d.seq_records), (0, 1, None));
    assert_eq!(cache.template_count(), 0);

    // Withdraw all data templates: template id 2 in set 2.
    let mut cache = TemplateCache::default();
    run(&mut cache, &IPFIX_VARLEN);
    #[rustfmt::skip]
    let withdraw_all: &[u8] = &[
        0x00, 0x02, 0x00, 0x08, // set 2, length 8
        0x00, 0x02, 0x00, 0x00, // template 2, 0 fields: all data templates
    ];
    run(&mut cache, &ipfix_with_sets(&[withdraw_all]));
    assert_eq!(cache.template_count(), 0);
}

#[test]
fn ipfix_ipv6_icmp_and_uptime_times() {
    #[rustfmt::skip]
    let sets: &[&[u8]] = &[
        &[
            0x00, 0x03, 0x00, 0x12, // options template set, length 18
            0x01, 0x90, 0x00, 0x02, // template 400, 2 fields
            0x00, 0x01,             // 1 scope field
            0x00, 0x95, 0x00, 0x04, // observationDomainId 4 (scope)
            0x00, 0xa0, 0x00, 0x08, // systemInitTimeMilliseconds 8
        ],
        &[
            0x01, 0x90, 0x00, 0x10, // set 400, length 16
            0x00, 0x00, 0x00, 0x63, // domain 99
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // init 1700000000000
        ],
        &[
            0x00, 0x02, 0x00, 0x28, // template set, length 40
            0x01, 0x91, 0x00, 0x08, // template 401, 8 fields
            0x00, 0x1b, 0x00, 0x10, // sourceIPv6Address
            0x00, 0x1c, 0x00, 0x10, // destinationIPv6Address
            0x00, 0x04, 0x00, 0x01, // protocolIdentifier
            0x00, 0x8b, 0x00, 0x02, // icmpTypeCodeIPv6
            0x00, 0x02, 0x00, 0x02, // packetDeltaCount 2 (reduced)
            0x00, 0x01, 0x00, 0x02, // octetDeltaCount 2 (reduced)
            0x00, 0x16, 0x00, 0x04, // flowStartSysUpTime
            0x00, 0x15, 0x00, 0x04, // flowEndSysUpTime
        ],
        &[
            0x01, 0x91, 0x00, 0x33, // set 401, length 51
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
            0x3a,                   // ipv6-icmp
            0x80, 0x00,             // echo request, code 0
            0x00, 0x04,             // 4 packets
            0x01, 0x40,             // 320 bytes
            0x00, 0x00, 0x03, 0xe8, // start: 1000 ms after init
            0x00, 0x00, 0x07, 0xd0, // end: 2000 ms after init
        ],
    ];
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &ipfix_with_sets(sets));
    assert_eq!(d.set_errors.total(), 0, "{d:?}");
    assert_eq!((d.templates, d.flows, d.seq_records), (2, 1, Some(2)));
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[15] = 1;
    let f = flows[0];
    assert_eq!(f.src_ip, addr_from_v6(a));
    assert!(!f.is_ipv4());
    assert_eq!((f.proto, f.src_port, f.dst_port), (58, 0, 0x8000));
    assert_eq!((f.packets, f.bytes), (4, 320));
    assert_eq!(
        (f.time_start, f.time_end),
        (1_700_000_001_000, 1_700_000_002_000)
    );
}

// ---- malformed input ----

fn err(d: &[u8]) -> DecodeError {
    decode(
        d,
        exporter(),
        &mut TemplateCache::default(),
        &mut Vec::new(),
    )
    .expect_err("malformed")
}

#[test]
fn datagram_level_errors() {
    assert_eq!(err(&[]).kind(), "truncated");
    assert_eq!(err(&[0x00]).kind(), "truncated");
    assert_eq!(err(&V5[..23]).kind(), "truncated");
    assert_eq!(err(&V9_TEMPLATE_AND_DATA[..19]).kind(), "truncated");
    assert_eq!(err(&IPFIX_VARLEN[..15]).kind(), "truncated");
    assert_eq!(err(&[0x00, 0x07, 0, 0]).kind(), "bad_version");
    assert_eq!(err(&[0xff, 0xff]).kind(), "bad_version");
    // IPFIX length beyond the datagram, and below its header.
    let mut d = IPFIX_VARLEN;
    d[2..4].copy_from_slice(&500u16.to_be_bytes());
    let e = err(&d);
    assert_eq!((e.kind(), e.offset()), ("bad_length", 2));
    d[2..4].copy_from_slice(&15u16.to_be_bytes());
    assert_eq!(err(&d).kind(), "bad_length");
    for e in [err(&[]), err(&d)] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn bad_set_lengths_skip_the_rest_but_keep_earlier_sets() {
    let t = &V9_TEMPLATE_AND_DATA;
    // Data flowset length 0, then beyond the datagram.
    for bad_len in [0u16, 2, 500] {
        let mut d = t.to_vec();
        d[102..104].copy_from_slice(&bad_len.to_be_bytes());
        let mut cache = TemplateCache::default();
        let (flows, r) = run(&mut cache, &d);
        assert_eq!(r.set_errors.bad_set_length, 1, "length {bad_len}");
        assert_eq!((r.templates, flows.len()), (1, 0));
    }
    // IPFIX: a set running past the message.
    let mut d = IPFIX_VARLEN;
    d[66..68].copy_from_slice(&0x0100u16.to_be_bytes());
    let (flows, r) = run(&mut TemplateCache::default(), &d);
    assert_eq!(
        (r.set_errors.bad_set_length, flows.len(), r.seq_records),
        (1, 0, None)
    );
    // Zero padding after the last set is not an error (Cisco ACI, Palo Alto).
    let mut d = t.to_vec();
    d.extend_from_slice(&[0; 64]);
    let (flows, r) = run(&mut TemplateCache::default(), &d);
    assert_eq!((r.set_errors.total(), flows.len()), (0, 1));
}

fn v9_with_template(fields: &[(u16, u16)], count_override: Option<u16>) -> Vec<u8> {
    let mut d = V9_TEMPLATE_AND_DATA[..20].to_vec();
    let len = 8 + 4 * fields.len();
    d.extend_from_slice(&[0x00, 0x00]);
    d.extend_from_slice(&(len as u16).to_be_bytes());
    d.extend_from_slice(&[0x01, 0x00]);
    d.extend_from_slice(&count_override.unwrap_or(fields.len() as u16).to_be_bytes());
    for (ie, l) in fields {
        d.extend_from_slice(&ie.to_be_bytes());
        d.extend_from_slice(&l.to_be_bytes());
    }
    d
}

#[test]
fn absurd_templates_are_refused() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "all zero-length fields",
            v9_with_template(&[(8, 0), (12, 0)], None),
        ),
        (
            "record longer than any set",
            v9_with_template(&[(1, 60_000), (2, 10_000)], None),
        ),
        (
            "field count 10000",
            v9_with_template(&[(8, 4)], Some(10_000)),
        ),
        (
            "too many fields",
            v9_with_template(&vec![(8, 4); 1025], None),
        ),
    ];
    for (what, d) in cases {
        let mut cache = TemplateCache::default();
        let (_, r) = run(&mut cache, &d);
        assert_eq!(r.set_errors.bad_template, 1, "{what}");
        assert_eq!((r.templates, cache.template_count()), (0, 0), "{what}");
    }
    // A template id below 256.
    let mut d = v9_with_template(&[(8, 4)], None);
    d[24..26].copy_from_slice(&[0x00, 0x05]);
    let (_, r) = run(&mut TemplateCache::default(), &d);
    assert_eq!(r.set_errors.bad_template, 1);
}

#[test]
fn template_limit_per_domain() {
    let mut cache = TemplateCache::new(Limits {
        max_templates: 1,
        ..Limits::default()
    });
    run(&mut cache, &V9_TEMPLATE_AND_DATA);
    let mut d = v9_with_template(&[(8, 4)], None);
    d[24..26].copy_from_slice(&[0x01, 0x01]); // template 257
    let (_, r) = run(&mut cache, &d);
    assert_eq!(
        (r.set_errors.template_limit, cache.template_count()),
        (1, 1)
    );
    // Refreshing the known template is still fine.
    let (flows, r) = run(&mut cache, &V9_TEMPLATE_AND_DATA);
    assert_eq!((r.set_errors.total(), flows.len()), (0, 1));
}

#[test]
fn domains_beyond_the_limit_decode_without_memory() {
    let mut cache = TemplateCache::new(Limits {
        max_domains: 1,
        ..Limits::default()
    });
    run(&mut cache, &V9_TEMPLATE_AND_DATA);
    let mut other = V9_TEMPLATE_AND_DATA;
    other[16..20].copy_from_slice(&8u32.to_be_bytes()); // source id 8
    let (flows, _) = run(&mut cache, &other);
    assert_eq!(flows.len(), 1);
    assert_eq!(cache.domain_count(), 1);
    assert_eq!(cache.take_dropped().domains_refused, 1);
}

#[test]
fn reserved_set_ids_are_counted() {
    let mut d = V9_TEMPLATE_AND_DATA;
    d[20..22].copy_from_slice(&[0x00, 0x05]); // flowset 5 instead of 0
    let (flows, r) = run(&mut TemplateCache::default(), &d);
    assert_eq!(r.set_errors.reserved_set_id, 1);
    assert_eq!((flows.len(), r.held), (0, 1));
}

/// A xorshift generator: deterministic noise without a dependency.
fn noise(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_blobs_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut cache = TemplateCache::new(Limits {
        max_domains: 16,
        ..Limits::default()
    });
    let mut flows = Vec::new();
    let seeds: [&[u8]; 3] = [&V5, &V9_SAMPLING, &IPFIX_VARLEN];
    for i in 0..20_000 {
        let len = (noise(&mut seed) % 400) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| noise(&mut seed) as u8).collect();
        if i % 2 == 0 {
            // Mutate a valid datagram: more often gets past the header.
            d = seeds[i % 3].to_vec();
            for _ in 0..(1 + noise(&mut seed) % 8) {
                let at = (noise(&mut seed) as usize) % d.len();
                d[at] = noise(&mut seed) as u8;
            }
        } else if d.len() >= 2 {
            d[..2].copy_from_slice(&[0, [5u8, 9, 10][i % 3]]);
        }
        let _ = decode(&d, addr_from_v4(i as u32 % 20), &mut cache, &mut flows);
        flows.clear();
    }
    assert!(cache.domain_count() <= 16);
}

#[test]
fn extreme_values_saturate_instead_of_overflowing() {
    #[rustfmt::skip]
    let sets: &[&[u8]] = &[
        &[
            0x00, 0x03, 0x00, 0x12, // options template set, length 18
            0x01, 0x90, 0x00, 0x02, // template 400, 2 fields
            0x00, 0x00,             // no scope field
            0x01, 0x31, 0x00, 0x08, // samplingPacketInterval 8
            0x01, 0x32, 0x00, 0x08, // samplingPacketSpace 8
        ],
        &[
            0x01, 0x90, 0x00, 0x14, // set 400, length 20
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // interval u64::MAX
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // space u64::MAX
        ],
        &[
            0x00, 0x02, 0x00, 0x18, // template set, length 24
            0x01, 0x91, 0x00, 0x04, // template 401, 4 fields
            0x00, 0x02, 0x00, 0x08, // packetDeltaCount 8
            0x00, 0x98, 0x00, 0x08, // flowStartMilliseconds 8
            0x00, 0xa1, 0x00, 0x08, // flowDurationMilliseconds 8
            0x00, 0x9e, 0x00, 0x08, // flowStartDeltaMicroseconds 8 (loses to 152)
        ],
        &[
            0x01, 0x91, 0x00, 0x24, // set 401, length 36
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // packets
            0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // start i64::MAX
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // duration
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // start delta
        ],
    ];
    let mut cache = TemplateCache::default();
    let (flows, d) = run(&mut cache, &ipfix_with_sets(sets));
    assert_eq!(d.set_errors.total(), 0, "{d:?}");
    let f = flows[0];
    assert_eq!((f.time_start, f.time_end), (i64::MAX, i64::MAX));
    assert_eq!(f.packets, u64::MAX);
}
