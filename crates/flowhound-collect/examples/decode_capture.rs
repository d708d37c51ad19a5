//! Print what the decoder makes of each export datagram in captures, in
//! order, sharing one template cache: `cargo run --example decode_capture -- A.pcap B.pcap`.
use flowhound_decode::{decode, TemplateCache};

fn main() {
    let mut cache = TemplateCache::default();
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).expect("open");
        flowhound_collect::pcap::for_each_datagram(file, |d| {
            let mut flows = Vec::new();
            let r = decode(d.payload, d.exporter, &mut cache, &mut flows);
            println!("{path}: {} bytes -> {r:?}", d.payload.len());
            for f in flows.iter().take(3) {
                println!("  {f:?}");
            }
        })
        .expect("capture");
    }
}
