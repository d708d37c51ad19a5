//! Fuzz the WAL segment reader on arbitrary (torn, corrupt, foreign) files:
//! no panic, every datagram handed out lies inside the file, and the
//! datagrams go through one `Ingest` as replay does.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use flowhound_collect::metrics::Metrics;
use flowhound_collect::{wal, Ingest};
use libfuzzer_sys::fuzz_target;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("flowhound-fuzz-wal-{}.dgrams", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).expect("write the temp segment");
    let mut ingest = Ingest::new();
    let metrics = Metrics::default();
    let mut seen = 0u64;
    wal::read_segment(path, |d| {
        // Entries may overlap or repeat, but each lies inside the file.
        assert!(d.payload.len() <= data.len());
        seen += 1;
        ingest.datagram(d.payload, d.exporter, d.time_ms, &metrics);
    })
    .expect("read the temp segment");
    assert_eq!(metrics.datagrams(), seen);
});
