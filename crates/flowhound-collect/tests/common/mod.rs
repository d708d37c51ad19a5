#![allow(dead_code)]
//! Helpers shared by the collector's tests.

use flowhound_model::FlowRecord;

/// What must be identical between a sent and a stored flow.
pub fn key(f: &FlowRecord) -> (i64, i64, u128, u128, u16, u16, u8, u64, u64, u8, u32) {
    (
        f.time_start,
        f.time_end,
        f.src_ip,
        f.dst_ip,
        f.src_port,
        f.dst_port,
        f.proto,
        f.packets,
        f.bytes,
        f.version,
        f.domain_id,
    )
}
