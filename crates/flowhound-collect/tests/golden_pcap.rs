//! Every capture in ../shared/captures through the real import path
//! (pcap → datagrams → decoder → columnar batch), compared with the decoded
//! output checked in under tests/golden/. Regenerate with `OVERWRITE=true`.
//!
//! Captures split into halves (`X-options-template`, `X-options-data`,
//! `X-template(s)`, `X-data`) share one template cache, replayed in that
//! order, as their projects' own tests replay them.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use flowhound_collect::metrics::Metrics;
use flowhound_collect::pcap::for_each_datagram;
use flowhound_collect::Ingest;
use flowhound_store::records_from_batch;

/// Full records written per group; the rest is covered by the digest.
const RECORDS_SHOWN: usize = 100;

fn captures() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("../../../shared/captures")
}

const PARTS: [&str; 5] = [
    "options-template",
    "options-data",
    "templates",
    "template",
    "data",
];

/// (group name, rank within the group).
fn group_of(stem: &str) -> (String, usize) {
    for (rank, part) in PARTS.iter().enumerate() {
        if stem == *part {
            return (String::new(), rank);
        }
        if let Some(prefix) = stem.strip_suffix(&format!("-{part}")) {
            return (prefix.to_string(), rank);
        }
    }
    (stem.to_string(), 0)
}

fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

fn decode_group(files: &[PathBuf]) -> (String, usize) {
    let mut ingest = Ingest::new();
    let metrics = Metrics::default();
    let mut stats = Vec::new();
    for f in files {
        let file = File::open(f).expect("open capture");
        let s = for_each_datagram(file, |d| {
            ingest.datagram(d.payload, d.exporter, d.time_ms, &metrics);
        })
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        stats.push(serde_json::json!({
            "file": f.file_name().map(|n| n.to_string_lossy().to_string()),
            "packets": s.packets, "datagrams": s.datagrams, "skipped": s.skipped, "fragments": s.fragments,
        }));
    }
    let records = records_from_batch(&ingest.batch.to_record_batch()).expect("records");
    let mut out = String::new();
    let (mut packets, mut bytes, mut digest) = (0u64, 0u64, 0xcbf2_9ce4_8422_2325u64);
    for (i, r) in records.iter().enumerate() {
        let line = serde_json::to_string(r).expect("json");
        fnv(&mut digest, line.as_bytes());
        packets += r.packets;
        bytes += r.bytes;
        if i < RECORDS_SHOWN {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let errors: BTreeMap<&str, u64> = metrics.decode_errors();
    let totals = serde_json::json!({
        "totals": {
            "datagrams": metrics.datagrams(),
            "flows": records.len(),
            "packets": packets,
            "bytes": bytes,
            "decode_errors": errors,
            "digest": format!("{digest:016x}"),
            "captures": stats,
        }
    });
    out.push_str(&serde_json::to_string(&totals).expect("json"));
    out.push('\n');
    (out, records.len())
}

#[test]
fn golden_captures() {
    let root = captures();
    if !root.is_dir() {
        assert!(
            std::env::var_os("FLOWHOUND_REQUIRE_SHARED").is_none(),
            "../shared is missing and FLOWHOUND_REQUIRE_SHARED is set"
        );
        eprintln!("skipping: {} is missing", root.display());
        return;
    }
    let overwrite = std::env::var("OVERWRITE").is_ok_and(|v| v == "true" || v == "1");
    let golden = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("tests/golden");
    let mut groups: BTreeMap<(PathBuf, String), Vec<(usize, PathBuf)>> = BTreeMap::new();
    for dir in ["pcap", "payloads-as-pcap"] {
        for path in walk(&root.join(dir)) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let Some(stem) = name
                .strip_suffix(".pcap")
                .or_else(|| name.strip_suffix(".pcapng"))
            else {
                continue;
            };
            let rel_dir = path
                .parent()
                .and_then(|p| p.strip_prefix(&root).ok())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let (group, rank) = group_of(stem);
            groups
                .entry((rel_dir, group))
                .or_default()
                .push((rank, path));
        }
    }
    assert!(
        groups.len() > 50,
        "expected the whole corpus, found {} groups",
        groups.len()
    );
    let mut failures = Vec::new();
    let mut total_flows = 0usize;
    for ((dir, group), mut files) in groups {
        files.sort();
        let files: Vec<PathBuf> = files.into_iter().map(|f| f.1).collect();
        let name = if group.is_empty() {
            "all".to_string()
        } else {
            group
        };
        let expected_path = golden.join(&dir).join(format!("{name}.jsonl"));
        let (actual, flows) = decode_group(&files);
        total_flows += flows;
        if overwrite {
            std::fs::create_dir_all(expected_path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&expected_path, &actual).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => {
                let line = expected
                    .lines()
                    .zip(actual.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(expected.lines().count().min(actual.lines().count()));
                failures.push(format!(
                    "{}: differs at line {}\n  expected: {}\n  actual:   {}",
                    expected_path.display(),
                    line + 1,
                    expected.lines().nth(line).unwrap_or("<none>"),
                    actual.lines().nth(line).unwrap_or("<none>")
                ));
            }
            Err(_) => failures.push(format!(
                "{}: missing (run with OVERWRITE=true)",
                expected_path.display()
            )),
        }
    }
    assert!(
        total_flows > 1000,
        "the corpus should decode to many flows, got {total_flows}"
    );
    assert!(
        failures.is_empty(),
        "{} golden files differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
