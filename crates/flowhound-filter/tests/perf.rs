//! `ip in [list]` stays O(log n): a 10k-entry list, a million lookups.
//! Timing belongs in benchmarks, so this is ignored in CI; run it with
//! `cargo test --release -p flowhound-filter --test perf -- --ignored`.

use flowhound_filter::parse;
use flowhound_model::{addr_from_v4, FlowRecord};
use std::time::{Duration, Instant};

#[test]
#[ignore = "timing; run in release by hand"]
fn ten_thousand_entry_list_matches_a_million_flows_quickly() {
    let entries: Vec<String> = (0..10_000u32)
        .map(|i| {
            let a = 0x0a00_0000 + i * 97;
            let s = format!(
                "{}.{}.{}.{}",
                a >> 24,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            );
            if i % 10 == 0 {
                format!("{s}/30")
            } else {
                s
            }
        })
        .collect();
    let built = Instant::now();
    let filter = parse(&format!("src ip in [ {} ]", entries.join(" "))).expect("valid list");
    let parse_time = built.elapsed();

    let mut hits = 0u32;
    let start = Instant::now();
    for i in 0..1_000_000u32 {
        let flow = FlowRecord {
            src_ip: addr_from_v4(0x0a00_0000 + i),
            ..FlowRecord::default()
        };
        hits += u32::from(filter.matches(&flow));
    }
    let elapsed = start.elapsed();
    eprintln!("parse {parse_time:?}, 1M matches {elapsed:?}, {hits} hits");
    assert!(hits > 10_000);
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}
