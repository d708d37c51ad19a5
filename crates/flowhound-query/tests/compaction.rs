//! A query engine opened before an hour's files are merged still answers
//! from them during the grace period, and says "run it again" after.

use std::time::Duration;

use flowhound_filter::parse;
use flowhound_model::FlowRecord;
use flowhound_query::QueryEngine;
use flowhound_store::{
    compact, CompactOptions, FlowBatch, LocalStore, ParquetWriter, WriteOptions,
};

fn store_in_epochs(dir: &std::path::Path, parts: usize, prefix: &str) -> u64 {
    let w = ParquetWriter::new(dir, WriteOptions::default());
    let mut n = 0;
    for e in 0..parts {
        let batch: FlowBatch = (0..500)
            .map(|i| FlowRecord {
                time_start: 1_795_701_600_000 + (e * 500 + i) as i64 * 1000,
                packets: 1,
                bytes: 100,
                ..FlowRecord::default()
            })
            .collect();
        n += batch.len() as u64;
        w.write_named(&[batch.to_record_batch()], &format!("{prefix}{e}"))
            .expect("write");
    }
    n
}

fn merge(dir: &std::path::Path, grace: Duration) {
    let options = CompactOptions {
        settle: Duration::ZERO,
        grace,
        ..CompactOptions::default()
    };
    let now = chrono::Utc::now().timestamp_millis();
    let r = compact(dir, &options, &WriteOptions::default(), now, &|| false).expect("compact");
    assert!(r.files_in >= 2, "{r:?}");
}

#[test]
fn an_engine_opened_before_a_merge_still_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = store_in_epochs(dir.path(), 4, "e");
    let all = parse("any").expect("filter");

    let engine = QueryEngine::open(&LocalStore::new(dir.path()), None, None).expect("engine");
    merge(dir.path(), Duration::from_secs(600));
    assert_eq!(engine.totals(&all).expect("totals").flows, n);

    let engine = QueryEngine::open(&LocalStore::new(dir.path()), None, None).expect("engine");
    store_in_epochs(dir.path(), 4, "later-"); // more files, merged again
    merge(dir.path(), Duration::ZERO);
    let err = engine.totals(&all).expect_err("its files are gone");
    assert!(err.to_string().contains("run it again"), "{err}");
}
