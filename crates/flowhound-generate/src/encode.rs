//! Export datagrams: NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011),
//! packed byte for byte by the book.
//!
//! One [`Encoder`] is one exporter's export process: it keeps the sequence
//! numbers, the boot time its uptime counts from, its source id / observation
//! domain and when to send templates again.
//!
//! # Templates (v9 and IPFIX)
//!
//! Template 256 (IPv4) and 257 (IPv6), both sent in the first datagram and
//! every [`Encoder::with_template_refresh`] datagrams (default 20):
//!
//! | field | v9 id | IPFIX id | bytes |
//! | --- | --- | --- | --- |
//! | source address | 8 (v6: 27) | 8 (27) | 4 (16) |
//! | destination address | 12 (v6: 28) | 12 (28) | 4 (16) |
//! | source port | 7 | 7 | 2 |
//! | destination port | 11 | 11 | 2 |
//! | protocol | 4 | 4 | 1 |
//! | TCP flags | 6 | 6 | 1 |
//! | ToS | 5 | 5 | 1 |
//! | input interface | 10 | 10 | 4 |
//! | output interface | 14 | 14 | 4 |
//! | packets | 2 | 2 | 4 |
//! | bytes | 1 | 1 | 8 |
//! | source AS | 16 | 16 | 4 |
//! | destination AS | 17 | 17 | 4 |
//! | source mask | 9 (v6: 29) | 9 (29) | 1 |
//! | destination mask | 13 (v6: 30) | 13 (30) | 1 |
//! | next hop | 15 (v6: 62) | 15 (62) | 4 (16) |
//! | first packet | 22, sysUptime ms | 152, Unix ms | 4 / 8 |
//! | last packet | 21, sysUptime ms | 153, Unix ms | 4 / 8 |
//! | direction | 61 | 61 | 1 |
//! | end reason | — | 136 | 1 |
//!
//! v9 FlowSets are padded to 4 bytes; IPFIX Sets are not padded.
//!
//! # Times
//!
//! v5 and v9 carry flow times relative to the exporter's uptime. The header's
//! uptime is computed from the very export time the header carries (v5: Unix
//! seconds and nanoseconds, exact to the millisecond; v9: whole Unix seconds,
//! so the export time is truncated to the second), so that a decoder that
//! computes `unix_ms - sys_uptime + first` gets back exactly `time_start`.
//! Flow times before the boot time saturate at uptime 0; an exporter whose
//! uptime would exceed 2^31 ms "reboots" (its boot time moves to one hour
//! before the export time and it sends its templates again).
//!
//! # What each version cannot carry
//!
//! See [`Encoder::wire_view`]: v5 carries IPv4 only (IPv6 flows are skipped
//! and counted), 16-bit interfaces (saturated), 32-bit counters (saturated),
//! 16-bit AS numbers (larger ones become AS_TRANS 23456), no direction; v9
//! has no end reason; the v9 and IPFIX templates carry 32-bit packet counts
//! (saturated).

use flowhound_model::{addr_from_v4, FlowRecord};
use std::fmt;
use std::str::FromStr;

/// Export protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// NetFlow version 5.
    V5,
    /// NetFlow version 9 (RFC 3954).
    V9,
    /// IPFIX (RFC 7011), version 10.
    Ipfix,
}

impl Proto {
    /// The name used on command lines: `v5`, `v9`, `ipfix`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::V5 => "v5",
            Proto::V9 => "v9",
            Proto::Ipfix => "ipfix",
        }
    }

    /// The version number in the header: 5, 9 or 10.
    pub fn version(self) -> u8 {
        match self {
            Proto::V5 => 5,
            Proto::V9 => 9,
            Proto::Ipfix => 10,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown protocol name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownProto(pub String);

impl fmt::Display for UnknownProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown export protocol {:?} (expected v5, v9 or ipfix)",
            self.0
        )
    }
}

impl std::error::Error for UnknownProto {}

impl FromStr for Proto {
    type Err = UnknownProto;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v5" | "5" | "netflow5" | "nfv5" => Ok(Proto::V5),
            "v9" | "9" | "netflow9" | "nfv9" => Ok(Proto::V9),
            "ipfix" | "v10" | "10" => Ok(Proto::Ipfix),
            _ => Err(UnknownProto(s.to_string())),
        }
    }
}

/// Template id of the IPv4 template.
pub const TEMPLATE_V4: u16 = 256;
/// Template id of the IPv6 template.
pub const TEMPLATE_V6: u16 = 257;

/// v5 header length.
pub const V5_HEADER: usize = 24;
/// v5 record length.
pub const V5_RECORD: usize = 48;
/// v5's limit of records per datagram.
pub const V5_MAX_RECORDS: usize = 30;
/// v9 header length.
pub const V9_HEADER: usize = 20;
/// IPFIX message header length.
pub const IPFIX_HEADER: usize = 16;
/// Default size limit of v9 and IPFIX datagrams (UDP payload).
pub const DEFAULT_MAX_DATAGRAM: usize = 1400;
/// Default limit of records per v9 or IPFIX datagram.
pub const DEFAULT_MAX_RECORDS: usize = 28;
/// Default template refresh interval, in datagrams.
pub const DEFAULT_TEMPLATE_REFRESH: u32 = 20;

type Field = (u16, u16);

const V9_FIELDS_V4: [Field; 19] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (10, 4),
    (14, 4),
    (2, 4),
    (1, 8),
    (16, 4),
    (17, 4),
    (9, 1),
    (13, 1),
    (15, 4),
    (22, 4),
    (21, 4),
    (61, 1),
];
const V9_FIELDS_V6: [Field; 19] = [
    (27, 16),
    (28, 16),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (10, 4),
    (14, 4),
    (2, 4),
    (1, 8),
    (16, 4),
    (17, 4),
    (29, 1),
    (30, 1),
    (62, 16),
    (22, 4),
    (21, 4),
    (61, 1),
];
const IPFIX_FIELDS_V4: [Field; 20] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (10, 4),
    (14, 4),
    (2, 4),
    (1, 8),
    (16, 4),
    (17, 4),
    (9, 1),
    (13, 1),
    (15, 4),
    (152, 8),
    (153, 8),
    (61, 1),
    (136, 1),
];
const IPFIX_FIELDS_V6: [Field; 20] = [
    (27, 16),
    (28, 16),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (5, 1),
    (10, 4),
    (14, 4),
    (2, 4),
    (1, 8),
    (16, 4),
    (17, 4),
    (29, 1),
    (30, 1),
    (62, 16),
    (152, 8),
    (153, 8),
    (61, 1),
    (136, 1),
];

const fn rec_len(fields: &[Field]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < fields.len() {
        n += fields[i].1 as usize;
        i += 1;
    }
    n
}

/// Length of one data record of template `v6` for `proto` (v5: 48).
pub const fn record_len(proto: Proto, v6: bool) -> usize {
    match (proto, v6) {
        (Proto::V5, _) => V5_RECORD,
        (Proto::V9, false) => rec_len(&V9_FIELDS_V4),
        (Proto::V9, true) => rec_len(&V9_FIELDS_V6),
        (Proto::Ipfix, false) => rec_len(&IPFIX_FIELDS_V4),
        (Proto::Ipfix, true) => rec_len(&IPFIX_FIELDS_V6),
    }
}

const fn template_set_len(proto: Proto) -> usize {
    match proto {
        Proto::V5 => 0,
        Proto::V9 => 4 + 4 + 4 * V9_FIELDS_V4.len() + 4 + 4 * V9_FIELDS_V6.len(),
        Proto::Ipfix => 4 + 4 + 4 * IPFIX_FIELDS_V4.len() + 4 + 4 * IPFIX_FIELDS_V6.len(),
    }
}

const fn header_len(proto: Proto) -> usize {
    match proto {
        Proto::V5 => V5_HEADER,
        Proto::V9 => V9_HEADER,
        Proto::Ipfix => IPFIX_HEADER,
    }
}

/// Uptime beyond which the exporter "reboots" (moves its boot time).
const MAX_UPTIME_MS: i64 = 0x7fff_ffff - 86_400_000;
const AS_TRANS: u32 = 23456;

/// What one call of [`Encoder::encode`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// Flows taken from the front of the input (encoded or skipped).
    pub consumed: usize,
    /// Flow records written into the datagram.
    pub records: usize,
    /// Flows skipped because the protocol cannot carry them (IPv6 in v5).
    pub skipped: usize,
}

/// One exporter's export process for one protocol.
#[derive(Clone, Debug)]
pub struct Encoder {
    proto: Proto,
    domain_id: u32,
    boot_ms: i64,
    sequence: u32,
    datagrams: u64,
    template_refresh: u32,
    since_template: u32,
    force_template: bool,
    max_datagram: usize,
    max_records: usize,
}

impl Encoder {
    /// An exporter speaking `proto` with source id / observation domain
    /// `domain_id` (v5: engine id, its low 8 bits), booted at `boot_ms`
    /// (Unix ms). Choose the boot time before the first flow starts.
    pub fn new(proto: Proto, domain_id: u32, boot_ms: i64) -> Self {
        Encoder {
            proto,
            domain_id,
            boot_ms,
            sequence: 0,
            datagrams: 0,
            template_refresh: DEFAULT_TEMPLATE_REFRESH,
            since_template: 0,
            force_template: true,
            max_datagram: match proto {
                Proto::V5 => V5_HEADER + V5_MAX_RECORDS * V5_RECORD,
                _ => DEFAULT_MAX_DATAGRAM,
            },
            max_records: match proto {
                Proto::V5 => V5_MAX_RECORDS,
                _ => DEFAULT_MAX_RECORDS,
            },
        }
    }

    /// Send the templates every `every` datagrams (and in the first one);
    /// 0 sends them only in the first datagram.
    pub fn with_template_refresh(mut self, every: u32) -> Self {
        self.template_refresh = every;
        self
    }

    /// Limit datagrams to `bytes` of UDP payload. Raised as needed so that
    /// the templates and one record always fit; v5 never exceeds its 30
    /// records (1464 bytes).
    pub fn with_max_datagram(mut self, bytes: usize) -> Self {
        let min = header_len(self.proto)
            + template_set_len(self.proto)
            + 4
            + 3
            + record_len(self.proto, true);
        self.max_datagram = bytes.clamp(min, 65_507);
        self
    }

    /// Limit records per datagram (at least 1; v5 at most 30).
    pub fn with_max_records(mut self, records: usize) -> Self {
        self.max_records = match self.proto {
            Proto::V5 => records.clamp(1, V5_MAX_RECORDS),
            _ => records.clamp(1, 65_535),
        };
        self
    }

    /// The protocol.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// Source id (v9) / observation domain (IPFIX) / engine id (v5).
    pub fn domain_id(&self) -> u32 {
        self.domain_id
    }

    /// The boot time uptimes count from, Unix ms.
    pub fn boot_ms(&self) -> i64 {
        self.boot_ms
    }

    /// The sequence number the next datagram will carry.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Datagrams encoded so far.
    pub fn datagrams_sent(&self) -> u64 {
        self.datagrams
    }

    /// The datagram size limit.
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// Records of one family that fit in a datagram without templates.
    pub fn records_per_datagram(&self, v6: bool) -> usize {
        let room = self.max_datagram - header_len(self.proto);
        let fit = match self.proto {
            Proto::V5 => room / V5_RECORD,
            Proto::V9 => (room - 4 - 3) / record_len(self.proto, v6),
            Proto::Ipfix => (room - 4) / record_len(self.proto, v6),
        };
        fit.min(self.max_records).max(1)
    }

    /// The flow a conforming decoder gets back from this exporter's
    /// datagrams, or `None` when the protocol cannot carry it (IPv6 in v5).
    /// `exporter` and the fields no template carries (MACs, VLANs) are
    /// left as in `flow`; `sampling_rate` becomes 1.
    pub fn wire_view(&self, flow: &FlowRecord) -> Option<FlowRecord> {
        let mut f = *flow;
        let v4 = flow.is_ipv4();
        f.version = self.proto.version();
        f.sampling_rate = 1;
        f.packets = f.packets.min(u64::from(u32::MAX));
        if v4 {
            f.next_hop = addr_from_v4(flow.next_hop as u32);
            f.src_mask = f.src_mask.min(32);
            f.dst_mask = f.dst_mask.min(32);
        }
        match self.proto {
            Proto::V5 => {
                if !v4 {
                    return None;
                }
                f.domain_id = 0;
                f.bytes = f.bytes.min(u64::from(u32::MAX));
                f.in_if = f.in_if.min(0xffff);
                f.out_if = f.out_if.min(0xffff);
                f.src_as = as16(f.src_as);
                f.dst_as = as16(f.dst_as);
                f.direction = 0;
                f.end_reason = 0;
                let (s, e) = self.v5_v9_times(flow);
                f.time_start = s;
                f.time_end = e;
            }
            Proto::V9 => {
                f.domain_id = self.domain_id;
                f.end_reason = 0;
                // The template has no IE 32: like nfdump, a decoder takes no
                // ICMP type/code from the destination port of a v9 record.
                if f.proto == 1 || f.proto == 58 {
                    f.dst_port = 0;
                }
                let (s, e) = self.v5_v9_times(flow);
                f.time_start = s;
                f.time_end = e;
            }
            Proto::Ipfix => {
                f.domain_id = self.domain_id;
            }
        }
        Some(f)
    }

    fn v5_v9_times(&self, flow: &FlowRecord) -> (i64, i64) {
        let t = |ms: i64| self.boot_ms.saturating_add(i64::from(self.rel(ms)));
        (t(flow.time_start), t(flow.time_end))
    }

    #[inline]
    fn rel(&self, ms: i64) -> u32 {
        ms.saturating_sub(self.boot_ms)
            .clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Encode one datagram into `out` (cleared first) from the front of
    /// `flows`: as many as fit. `out` stays empty when nothing was encoded
    /// (no flows, or only flows the protocol cannot carry); `consumed` tells
    /// how far to advance either way.
    pub fn encode(
        &mut self,
        flows: &[FlowRecord],
        export_time_ms: i64,
        out: &mut Vec<u8>,
    ) -> Encoded {
        out.clear();
        let mut res = Encoded::default();
        if self.proto == Proto::V5 {
            // Skip what v5 cannot carry before deciding on a datagram.
            while res.consumed < flows.len() && !flows[res.consumed].is_ipv4() {
                res.consumed += 1;
                res.skipped += 1;
            }
        }
        if res.consumed >= flows.len() {
            return res;
        }
        // Header time: v9 and IPFIX carry whole seconds only.
        let export_ms = match self.proto {
            Proto::V5 => export_time_ms,
            _ => export_time_ms.div_euclid(1000) * 1000,
        };
        if self.proto != Proto::Ipfix && export_ms.saturating_sub(self.boot_ms) > MAX_UPTIME_MS {
            self.boot_ms = export_ms.saturating_sub(3_600_000);
            self.force_template = true;
        }
        let template = self.proto != Proto::V5
            && (self.force_template
                || (self.template_refresh > 0 && self.since_template >= self.template_refresh));
        out.reserve(self.max_datagram);
        match self.proto {
            Proto::V5 => self.encode_v5(&flows[res.consumed..], export_ms, out, &mut res),
            _ => self.encode_sets(flows, template, export_ms, out, &mut res),
        }
        if template {
            self.force_template = false;
            self.since_template = 1;
        } else {
            self.since_template = self.since_template.saturating_add(1);
        }
        self.datagrams += 1;
        res
    }

    /// Split `flows` into datagrams (each a new `Vec`); for hot loops prefer
    /// [`Encoder::encode`] with one reused buffer.
    pub fn datagrams<'a>(
        &'a mut self,
        flows: &'a [FlowRecord],
        export_time_ms: i64,
    ) -> Datagrams<'a> {
        Datagrams {
            enc: self,
            flows,
            export_time_ms,
        }
    }

    fn encode_v5(
        &mut self,
        flows: &[FlowRecord],
        export_ms: i64,
        out: &mut Vec<u8>,
        res: &mut Encoded,
    ) {
        let room = (self.max_datagram - V5_HEADER) / V5_RECORD;
        let max = room.min(self.max_records).max(1);
        let uptime = self.rel(export_ms);
        out.extend_from_slice(&5u16.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes()); // count, patched below
        out.extend_from_slice(&uptime.to_be_bytes());
        out.extend_from_slice(&(export_ms.div_euclid(1000) as u32).to_be_bytes());
        out.extend_from_slice(&((export_ms.rem_euclid(1000) * 1_000_000) as u32).to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.push(0); // engine type
        out.push(self.domain_id as u8); // engine id
        out.extend_from_slice(&0u16.to_be_bytes()); // sampling: none
        let mut n = 0usize;
        for f in flows {
            if n == max {
                break;
            }
            res.consumed += 1;
            if !f.is_ipv4() {
                res.skipped += 1;
                continue;
            }
            put_u32(out, f.src_ip as u32);
            put_u32(out, f.dst_ip as u32);
            put_u32(out, f.next_hop as u32);
            put_u16(out, f.in_if.min(0xffff) as u16);
            put_u16(out, f.out_if.min(0xffff) as u16);
            put_u32(out, f.packets.min(u64::from(u32::MAX)) as u32);
            put_u32(out, f.bytes.min(u64::from(u32::MAX)) as u32);
            put_u32(out, self.rel(f.time_start));
            put_u32(out, self.rel(f.time_end));
            put_u16(out, f.src_port);
            put_u16(out, f.dst_port);
            out.push(0);
            out.push(f.tcp_flags);
            out.push(f.proto);
            out.push(f.tos);
            put_u16(out, as16(f.src_as) as u16);
            put_u16(out, as16(f.dst_as) as u16);
            out.push(f.src_mask);
            out.push(f.dst_mask);
            put_u16(out, 0);
            n += 1;
        }
        out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        res.records = n;
        self.sequence = self.sequence.wrapping_add(n as u32);
    }

    fn encode_sets(
        &mut self,
        flows: &[FlowRecord],
        template: bool,
        export_ms: i64,
        out: &mut Vec<u8>,
        res: &mut Encoded,
    ) {
        let v9 = self.proto == Proto::V9;
        let mut count: u16 = 0; // v9 header: records of all kinds
        if v9 {
            put_u16(out, 9);
            put_u16(out, 0); // count, patched
            put_u32(out, self.rel(export_ms));
            put_u32(out, export_ms.div_euclid(1000) as u32);
            put_u32(out, self.sequence);
            put_u32(out, self.domain_id);
        } else {
            put_u16(out, 10);
            put_u16(out, 0); // length, patched
            put_u32(out, export_ms.div_euclid(1000) as u32);
            put_u32(out, self.sequence);
            put_u32(out, self.domain_id);
        }
        if template {
            let (set_id, f4, f6): (u16, &[Field], &[Field]) = if v9 {
                (0, &V9_FIELDS_V4, &V9_FIELDS_V6)
            } else {
                (2, &IPFIX_FIELDS_V4, &IPFIX_FIELDS_V6)
            };
            let start = out.len();
            put_u16(out, set_id);
            put_u16(out, 0);
            for (id, fields) in [(TEMPLATE_V4, f4), (TEMPLATE_V6, f6)] {
                put_u16(out, id);
                put_u16(out, fields.len() as u16);
                for &(t, l) in fields {
                    put_u16(out, t);
                    put_u16(out, l);
                }
                count += 1;
            }
            let len = (out.len() - start) as u16;
            out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        }
        let pad_reserve = if v9 { 3 } else { 0 };
        let mut set_start: Option<(usize, bool)> = None;
        let mut records = 0usize;
        for f in flows {
            if records == self.max_records {
                break;
            }
            let v6 = !f.is_ipv4();
            let rlen = record_len(self.proto, v6);
            let new_set = set_start.is_none_or(|(_, fam)| fam != v6);
            // The datagram after this record, with the padding that closes
            // the previous set and the worst-case padding of this one.
            let prev_pad = match set_start {
                Some((s, _)) if new_set && v9 => (4 - (out.len() - s) % 4) % 4,
                _ => 0,
            };
            let projected = out.len() + prev_pad + if new_set { 4 } else { 0 } + rlen + pad_reserve;
            if projected > self.max_datagram && records > 0 {
                break;
            }
            if new_set {
                if let Some((s, _)) = set_start {
                    close_set(out, s, v9);
                }
                set_start = Some((out.len(), v6));
                put_u16(out, if v6 { TEMPLATE_V6 } else { TEMPLATE_V4 });
                put_u16(out, 0);
            }
            if v9 {
                self.put_v9(out, f, v6);
            } else {
                put_ipfix(out, f, v6);
            }
            records += 1;
            res.consumed += 1;
        }
        if let Some((s, _)) = set_start {
            close_set(out, s, v9);
        }
        res.records = records;
        if v9 {
            count = count.wrapping_add(records as u16);
            out[2..4].copy_from_slice(&count.to_be_bytes());
            self.sequence = self.sequence.wrapping_add(1);
        } else {
            let len = out.len() as u16;
            out[2..4].copy_from_slice(&len.to_be_bytes());
            self.sequence = self.sequence.wrapping_add(records as u32);
        }
    }

    #[inline]
    fn put_v9(&self, out: &mut Vec<u8>, f: &FlowRecord, v6: bool) {
        put_addr(out, f.src_ip, v6);
        put_addr(out, f.dst_ip, v6);
        put_common(out, f);
        put_addr(out, f.next_hop, v6);
        put_u32(out, self.rel(f.time_start));
        put_u32(out, self.rel(f.time_end));
        out.push(f.direction);
    }
}

/// Close the set starting at `start`: v9 pads it to 4 bytes; write its length.
fn close_set(out: &mut Vec<u8>, start: usize, pad: bool) {
    if pad {
        while !(out.len() - start).is_multiple_of(4) {
            out.push(0);
        }
    }
    let len = (out.len() - start) as u16;
    out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[inline]
fn put_ipfix(out: &mut Vec<u8>, f: &FlowRecord, v6: bool) {
    put_addr(out, f.src_ip, v6);
    put_addr(out, f.dst_ip, v6);
    put_common(out, f);
    put_addr(out, f.next_hop, v6);
    out.extend_from_slice(&(f.time_start as u64).to_be_bytes());
    out.extend_from_slice(&(f.time_end as u64).to_be_bytes());
    out.push(f.direction);
    out.push(f.end_reason);
}

/// Ports through masks, in template order.
#[inline]
fn put_common(out: &mut Vec<u8>, f: &FlowRecord) {
    put_u16(out, f.src_port);
    put_u16(out, f.dst_port);
    out.push(f.proto);
    out.push(f.tcp_flags);
    out.push(f.tos);
    put_u32(out, f.in_if);
    put_u32(out, f.out_if);
    put_u32(out, f.packets.min(u64::from(u32::MAX)) as u32);
    out.extend_from_slice(&f.bytes.to_be_bytes());
    put_u32(out, f.src_as);
    put_u32(out, f.dst_as);
    out.push(f.src_mask);
    out.push(f.dst_mask);
}

#[inline]
fn put_addr(out: &mut Vec<u8>, a: u128, v6: bool) {
    if v6 {
        out.extend_from_slice(&a.to_be_bytes());
    } else {
        put_u32(out, a as u32);
    }
}

#[inline]
fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn as16(asn: u32) -> u32 {
    if asn > 0xffff {
        AS_TRANS
    } else {
        asn
    }
}

/// Datagrams of one batch, from [`Encoder::datagrams`].
#[derive(Debug)]
pub struct Datagrams<'a> {
    enc: &'a mut Encoder,
    flows: &'a [FlowRecord],
    export_time_ms: i64,
}

impl Iterator for Datagrams<'_> {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.flows.is_empty() {
                return None;
            }
            let mut out = Vec::new();
            let r = self.enc.encode(self.flows, self.export_time_ms, &mut out);
            self.flows = &self.flows[r.consumed.min(self.flows.len())..];
            if !out.is_empty() {
                return Some(out);
            }
            if r.consumed == 0 {
                return None;
            }
        }
    }
}
