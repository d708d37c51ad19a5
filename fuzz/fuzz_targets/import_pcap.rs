//! Fuzz the capture importer: the pcap/pcapng reader, the link-layer, IP and
//! UDP parsing, and every datagram it finds through one `Ingest` (templates
//! learned from earlier packets meet data in later ones), as `import` runs it.
#![no_main]

use flowhound_collect::metrics::Metrics;
use flowhound_collect::{pcap, Ingest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ingest = Ingest::new();
    let metrics = Metrics::default();
    let mut seen = 0u64;
    let stats = pcap::for_each_datagram(std::io::Cursor::new(data), |d| {
        seen += 1;
        assert!(d.payload.len() <= data.len());
        ingest.datagram(d.payload, d.exporter, d.time_ms, &metrics);
    });
    if let Ok(stats) = stats {
        assert_eq!(stats.datagrams, seen);
        assert!(stats.datagrams + stats.skipped + stats.fragments == stats.packets);
    }
    assert_eq!(metrics.datagrams(), seen);
});
