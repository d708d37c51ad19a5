//! A running collector merges each hour's files into one while it keeps
//! receiving, and a reader sees every flow exactly once throughout.

mod common;
use common::key;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use flowhound_collect::{start, CollectConfig};
use flowhound_generate::{Encoder, Proto, Scenario, Traffic};
use flowhound_model::{Column, FlowRecord};
use flowhound_store::{records_from_batch, CompactOptions, FlowStore, LocalStore, StoreError};

/// Every stored flow. With no grace period, a file listed by the scan can
/// be merged away before the scan reaches it: the scan then says so (it
/// never skips it silently), and the reader reads again.
fn stored(store: &LocalStore) -> Vec<FlowRecord> {
    'again: for _ in 0..20 {
        let mut out = Vec::new();
        for b in store.scan(None, &Column::ALL).expect("scan") {
            match b {
                Ok(b) => out.extend(records_from_batch(&b).expect("records")),
                Err(StoreError::Changed { .. }) => continue 'again,
                Err(e) => panic!("scan: {e}"),
            }
        }
        return out;
    }
    panic!("the store changed under 20 scans in a row");
}

#[test]
fn hours_are_merged_while_collecting_and_no_flow_is_read_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = CollectConfig::new(
        vec!["127.0.0.1:0".parse().expect("addr")],
        dir.path().to_path_buf(),
    );
    config.file_interval = Duration::from_millis(100);
    config.maintenance_interval = Duration::from_millis(150);
    config.compact = Some(CompactOptions {
        settle: Duration::ZERO,
        grace: Duration::ZERO,
        ..CompactOptions::default()
    });
    let running = start(config).expect("start collector");
    let to = running.listen[0];
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let store = LocalStore::new(dir.path());

    // Three hours of flow time (and the flows of the first that started
    // before it), sent in eight bursts: each hour gets a
    // file per burst, and merges run between (and during) the bursts.
    let start_ms = 1_764_000_000_000 - 3 * 3_600_000;
    let mut traffic = Traffic::new(3, start_ms, Scenario::Normal);
    let mut enc = Encoder::new(Proto::V9, 1, start_ms - 3_600_000);
    let mut sent = Vec::new();
    let mut most_seen = 0;
    for burst in 0..8i64 {
        let flows: Vec<FlowRecord> = (0..3 * 400i64)
            .map(|k| traffic.next_flow(start_ms + (k % 3) * 3_600_000 + burst * 1_000 + k))
            .collect();
        for f in &flows {
            if let Some(w) = enc.wire_view(f) {
                sent.push(w);
            }
        }
        for d in enc.datagrams(&flows, start_ms + 4 * 3_600_000) {
            sock.send_to(&d, to).expect("send");
        }
        // Readers in the middle of it all: no flow twice (some may not be
        // written yet).
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(60));
            let seen = stored(&store);
            assert_no_flow_twice(&seen, &sent);
            most_seen = most_seen.max(seen.len());
        }
    }
    // Until everything is written and merged: one file per hour.
    let hours: BTreeSet<i64> = sent
        .iter()
        .map(|f| f.time_start.div_euclid(3_600_000))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files = store.files(None).expect("files");
        let seen = stored(&store);
        assert_no_flow_twice(&seen, &sent);
        let seen = seen.len();
        if files.len() == hours.len() && seen == sent.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not merged: {} files, {seen} of {} flows: {files:?}",
            files.len(),
            sent.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Operators see it in the metrics.
    let page = running.metrics.render();
    let merged: u64 = page
        .lines()
        .find_map(|l| l.strip_prefix("flowhound_compacted_files_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no compaction counter in:\n{page}"));
    assert!(merged >= hours.len() as u64, "{merged} files merged");
    assert!(
        page.contains("flowhound_maintenance_errors_total 0"),
        "{page}"
    );
    running.stop().expect("clean stop");
    assert!(most_seen > 0);

    let mut want: Vec<_> = sent.iter().map(key).collect();
    let mut got: Vec<_> = stored(&store).iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // The epochs' files are gone, each hour is one merged file.
    let names: BTreeSet<String> = store
        .files(None)
        .expect("files")
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("c-")), "{names:?}");
    let leftovers = walk(&dir.path().join("flows"))
        .into_iter()
        .filter(|n| n.starts_with('e'))
        .count();
    assert_eq!(leftovers, 0, "replaced files left on disk");
}

/// Every flow read was sent, and none is read more often than it was sent.
fn assert_no_flow_twice(seen: &[FlowRecord], sent: &[FlowRecord]) {
    let mut left: std::collections::HashMap<_, i64> = std::collections::HashMap::new();
    for f in sent {
        *left.entry(key(f)).or_default() += 1;
    }
    for f in seen {
        let n = left.entry(key(f)).or_default();
        *n -= 1;
        assert!(*n >= 0, "read a flow more often than it was sent: {f:?}");
    }
}

fn walk(d: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}
