//! Malformed datagrams, sent over real UDP between valid ones, are counted
//! by kind and dropped; every valid flow around them is stored unchanged.

mod common;
use common::key;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use flowhound_collect::{start, CollectConfig};
use flowhound_generate::{Encoder, Proto, Scenario, Traffic};
use flowhound_model::{addr_from_v4, FlowRecord};
use flowhound_store::{records_from_batch, FlowStore, LocalStore};

/// A v9 datagram with one template flowset whose field has length 0.
fn v9_zero_length_template() -> Vec<u8> {
    vec![
        0x00, 0x09, 0x00, 0x01, // version 9, count 1
        0x00, 0x00, 0x10, 0x00, // sysUptime
        0x60, 0x00, 0x00, 0x00, // unix secs
        0x00, 0x00, 0x00, 0x01, // sequence
        0x00, 0x00, 0x00, 0x63, // source id 99
        0x00, 0x00, 0x00, 0x0c, // flowset 0 (templates), length 12
        0x01, 0x90, 0x00, 0x01, // template 400, 1 field
        0x00, 0x08, 0x00, 0x00, // IPV4_SRC_ADDR, length 0
    ]
}

/// An IPFIX message whose template claims 10000 fields in 8 bytes.
fn ipfix_absurd_template() -> Vec<u8> {
    vec![
        0x00, 0x0a, 0x00, 0x1c, // version 10, length 28
        0x60, 0x00, 0x00, 0x00, // export time
        0x00, 0x00, 0x00, 0x00, // sequence
        0x00, 0x00, 0x00, 0x63, // domain 99
        0x00, 0x02, 0x00, 0x0c, // template set, length 12
        0x01, 0x91, 0x27, 0x10, // template 401, 10000 fields
        0x00, 0x08, 0xff, 0xff, // sourceIPv4Address, length 65535
    ]
}

/// An IPFIX message with data for template 999, never defined.
fn ipfix_unknown_template() -> Vec<u8> {
    vec![
        0x00, 0x0a, 0x00, 0x18, // version 10, length 24
        0x60, 0x00, 0x00, 0x00, // export time
        0x00, 0x00, 0x00, 0x00, // sequence
        0x00, 0x00, 0x00, 0x64, // domain 100
        0x03, 0xe7, 0x00, 0x08, // set 999, length 8
        0xde, 0xad, 0xbe, 0xef, // a record nobody can read
    ]
}

fn random_blob(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn malformed_datagrams_are_counted_and_valid_flows_survive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = CollectConfig::new(
        vec!["127.0.0.1:0".parse().expect("addr")],
        dir.path().to_path_buf(),
    );
    config.metrics = Some("127.0.0.1:0".parse().expect("addr"));
    let running = start(config).expect("start collector");
    let to = running.listen[0];
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");

    let start_ms = 1_764_000_000_000;
    let mut traffic = Traffic::new(5, start_ms, Scenario::Normal);
    let mut expected = Vec::new();
    for (i, proto) in [Proto::V5, Proto::V9, Proto::Ipfix].into_iter().enumerate() {
        let mut enc = Encoder::new(proto, 1, start_ms - 3_600_000);
        let flows: Vec<FlowRecord> = (0..600)
            .map(|k| traffic.next_flow(start_ms + k * 50))
            .collect();
        let export_ms = start_ms + 60_000;
        for f in &flows {
            if let Some(mut w) = enc.wire_view(f) {
                w.exporter = addr_from_v4(0x7f00_0001);
                expected.push(w);
            }
        }
        let datagrams: Vec<Vec<u8>> = enc.datagrams(&flows, export_ms).collect();
        for (n, d) in datagrams.iter().enumerate() {
            sock.send_to(d, to).expect("send valid");
            let bad = match (n + i) % 7 {
                0 => d[..d.len() / 2].to_vec(), // truncated
                1 => d[..10].to_vec(),          // shorter than any header
                2 => {
                    // A lying length: v5 count, IPFIX message length, or
                    // (v9 has no total length) the first flowset's length.
                    let mut b = d.clone();
                    let at = if proto == Proto::V9 { 22 } else { 2 };
                    b[at] = 0x7f;
                    b
                }
                3 => random_blob(n as u64 + 1, 300), // garbage
                4 => v9_zero_length_template(),
                5 => ipfix_absurd_template(),
                _ => ipfix_unknown_template(),
            };
            sock.send_to(&bad, to).expect("send malformed");
            if n % 8 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));

    // The counters, over real HTTP.
    let metrics_addr = running.metrics_addr.expect("metrics address");
    let mut http = TcpStream::connect(metrics_addr).expect("connect metrics");
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut page = String::new();
    http.read_to_string(&mut page).expect("response");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for kind in ["truncated", "bad_version", "bad_template"] {
        assert!(
            page.contains(&format!("flowhound_decode_errors_total{{kind=\"{kind}\"}}")),
            "no {kind} counter in:\n{page}"
        );
    }
    assert!(page.contains("flowhound_datagrams_total"), "{page}");
    assert!(
        page.contains("flowhound_exporter_flows_total{exporter=\"127.0.0.1/"),
        "{page}"
    );

    let metrics = running.metrics.clone();
    running.stop().expect("clean stop");
    let errors = metrics.decode_errors();
    let total_errors: u64 = errors.values().sum();
    assert!(total_errors >= 50, "too few errors counted: {errors:?}");

    let store = LocalStore::new(dir.path());
    let mut stored = Vec::new();
    for b in store
        .scan(None, &flowhound_model::Column::ALL)
        .expect("scan")
    {
        stored.extend(records_from_batch(&b.expect("batch")).expect("records"));
    }
    let mut want: Vec<_> = expected.iter().map(key).collect();
    let mut got: Vec<_> = stored.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(
        got.len(),
        want.len(),
        "stored {} flows, sent {} valid ones; errors {errors:?}",
        got.len(),
        want.len()
    );
    let differ: Vec<_> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g != w)
        .take(3)
        .collect();
    assert!(
        differ.is_empty(),
        "a malformed datagram disturbed the valid flows (stored, sent): {differ:?}"
    );
}

/// When the writer falls behind, flushes wait in the WAL only and are read
/// back from there: nothing is lost, nothing is doubled.
#[test]
fn flushes_spilled_to_the_wal_are_all_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = CollectConfig::new(
        vec!["127.0.0.1:0".parse().expect("addr")],
        dir.path().to_path_buf(),
    );
    config.memory_jobs = 0;
    config.file_rows = 500;
    let running = start(config).expect("start collector");
    let to = running.listen[0];
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let start_ms = 1_764_000_000_000;
    let mut traffic = Traffic::new(9, start_ms, Scenario::Normal);
    let mut enc = Encoder::new(Proto::Ipfix, 1, start_ms - 3_600_000);
    let flows: Vec<FlowRecord> = (0..5000)
        .map(|k| traffic.next_flow(start_ms + k * 10))
        .collect();
    for (n, d) in enc.datagrams(&flows, start_ms + 60_000).enumerate() {
        sock.send_to(&d, to).expect("send");
        if n % 20 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let metrics = running.metrics.clone();
    running.stop().expect("clean stop");
    assert!(
        metrics.render().contains("flowhound_spilled_jobs_total "),
        "no spill counter"
    );
    assert!(
        !metrics
            .render()
            .contains("flowhound_spilled_jobs_total 0\n"),
        "nothing was spilled: the test proves nothing"
    );
    let store = LocalStore::new(dir.path());
    let mut stored = 0;
    for b in store
        .scan(None, &[flowhound_model::Column::Bytes])
        .expect("scan")
    {
        stored += b.expect("batch").num_rows();
    }
    assert_eq!(stored, flows.len());
    let wal_left: u64 = std::fs::read_dir(dir.path().join("wal"))
        .expect("wal dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(
        wal_left < 4096,
        "WAL not checkpointed: {wal_left} bytes left"
    );
}
