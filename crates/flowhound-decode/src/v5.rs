//! NetFlow v5: a fixed 24-byte header and 48-byte records.

use flowhound_model::{addr_from_v4, Addr, FlowRecord, FlowSink};

use crate::error::DecodeError;
use crate::{Decoded, SetErrors};

const HEADER: usize = 24;
const RECORD: usize = 48;

use crate::bytes::{u16_at, u32_at};

pub(crate) fn decode<S: FlowSink + ?Sized>(
    d: &[u8],
    exporter: Addr,
    sink: &mut S,
) -> Result<Decoded, DecodeError> {
    if d.len() < HEADER {
        return Err(DecodeError::truncated(d.len(), HEADER, d.len()));
    }
    let count = u16_at(d, 2);
    let needed = HEADER + RECORD * count as usize;
    if needed > d.len() {
        return Err(DecodeError::bad_count(2, count, needed, d.len()));
    }
    let uptime = u32_at(d, 4);
    let secs = u32_at(d, 8);
    let nsecs = u32_at(d, 12);
    let sequence = u32_at(d, 16);
    // Low 14 bits: the interval; top 2 bits: the mode, which nfdump ignores.
    let interval = (u16_at(d, 22) & 0x3fff) as u64;
    let rate = if interval > 1 { interval } else { 1 };
    let export_ms = secs as i64 * 1000 + (nsecs / 1_000_000) as i64;

    let base = FlowRecord {
        exporter,
        version: 5,
        sampling_rate: rate as u32,
        ..FlowRecord::default()
    };
    for r in d[HEADER..needed].chunks_exact(RECORD) {
        let first = u32_at(r, 24);
        let last = u32_at(r, 28);
        let f = FlowRecord {
            src_ip: addr_from_v4(u32_at(r, 0)),
            dst_ip: addr_from_v4(u32_at(r, 4)),
            next_hop: addr_from_v4(u32_at(r, 8)),
            in_if: u16_at(r, 12) as u32,
            out_if: u16_at(r, 14) as u32,
            packets: (u32_at(r, 16) as u64) * rate,
            bytes: (u32_at(r, 20) as u64) * rate,
            // Signed distance: survives a 32-bit uptime wrap between first and now.
            time_start: export_ms - uptime.wrapping_sub(first) as i32 as i64,
            time_end: export_ms - uptime.wrapping_sub(last) as i32 as i64,
            src_port: u16_at(r, 32),
            dst_port: u16_at(r, 34),
            tcp_flags: r[37],
            proto: r[38],
            tos: r[39],
            src_as: u16_at(r, 40) as u32,
            dst_as: u16_at(r, 42) as u32,
            src_mask: r[44],
            dst_mask: r[45],
            ..base
        };
        sink.push(&f);
    }
    Ok(Decoded {
        version: 5,
        domain_id: 0,
        sequence,
        export_time: secs,
        flows: count as u32,
        templates: 0,
        options: 0,
        held: 0,
        seq_records: Some(count as u32),
        set_errors: SetErrors::default(),
        consumed: needed,
    })
}
