//! Shared by the targets: split the input into a sequence of datagrams that
//! go through one template cache, with the version forced, so templates from
//! one datagram meet data in later ones.

use flowhound_decode::{decode, Limits, TemplateCache};
use flowhound_model::{addr_from_v4, FlowRecord};

/// Datagrams are separated by a 2-byte big-endian length prefix; the exporter
/// switches between two addresses on a bit of the prefix.
pub fn run(data: &[u8], version: u8) {
    let mut cache = TemplateCache::new(Limits {
        max_domains: 4,
        max_templates: 16,
        max_held_sets: 4,
        max_held_bytes: 4096,
        max_held_bytes_total: 8192,
        ..Limits::default()
    });
    let mut flows: Vec<FlowRecord> = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let prefix = u16::from_be_bytes([rest[0], rest[1]]);
        let len = (prefix & 0x7fff) as usize;
        let exporter = addr_from_v4(0xc000_0200 | (prefix >> 15) as u32);
        rest = &rest[2..];
        let take = len.min(rest.len());
        let mut d = rest[..take].to_vec();
        rest = &rest[take..];
        if d.len() >= 2 {
            d[0] = 0;
            d[1] = version;
        }
        flows.clear();
        if let Ok(r) = decode(&d, exporter, &mut cache, &mut flows) {
            assert!(r.consumed <= d.len());
            assert_eq!(r.flows as usize, flows.len());
            for f in &flows {
                assert_eq!(f.version, version);
                assert!(f.sampling_rate >= 1);
            }
        }
        assert!(cache.held_bytes() <= 8192);
        assert!(cache.domain_count() <= 4);
    }
}
