//! A minimal, checked parser of the datagrams the encoders write: enough to
//! prove they say what they should. Not the product decoder.
#![allow(dead_code)]

use flowhound_model::{addr_from_v4, addr_from_v6, FlowRecord};
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub version: u16,
    /// v5: flows before; v9: packets before; IPFIX: records before.
    pub sequence: u32,
    pub domain_id: u32,
    /// v5/v9 header count field.
    pub count: u16,
    pub export_ms: i64,
    pub sys_uptime: u32,
    pub templates: usize,
    pub flows: Vec<FlowRecord>,
}

/// Templates learned per (version, domain, template id).
#[derive(Debug, Default)]
pub struct Templates(HashMap<(u16, u32, u16), Vec<(u16, u16)>>);

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x))
}

fn take<'a>(d: &'a [u8], off: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let s = d
        .get(*off..*off + n)
        .ok_or_else(|| format!("short at {off}+{n}"))?;
    *off += n;
    Ok(s)
}

pub fn parse(d: &[u8], t: &mut Templates) -> Result<Parsed, String> {
    let mut off = 0;
    let version = be(take(d, &mut off, 2)?) as u16;
    match version {
        5 => parse_v5(d),
        9 | 10 => parse_sets(d, version, t),
        v => Err(format!("version {v}")),
    }
}

fn parse_v5(d: &[u8]) -> Result<Parsed, String> {
    let mut o = 2;
    let count = be(take(d, &mut o, 2)?) as u16;
    let up = be(take(d, &mut o, 4)?) as u32;
    let secs = be(take(d, &mut o, 4)?) as i64;
    let nsecs = be(take(d, &mut o, 4)?) as i64;
    let seq = be(take(d, &mut o, 4)?) as u32;
    let _etype = take(d, &mut o, 1)?;
    let _eid = take(d, &mut o, 1)?;
    let _samp = take(d, &mut o, 2)?;
    if d.len() != 24 + 48 * count as usize {
        return Err(format!("v5 length {} for count {}", d.len(), count));
    }
    let export_ms = secs * 1000 + nsecs / 1_000_000;
    let boot = export_ms - i64::from(up);
    let mut flows = Vec::new();
    for _ in 0..count {
        let r = take(d, &mut o, 48)?;
        let f = FlowRecord {
            src_ip: addr_from_v4(be(&r[0..4]) as u32),
            dst_ip: addr_from_v4(be(&r[4..8]) as u32),
            next_hop: addr_from_v4(be(&r[8..12]) as u32),
            in_if: be(&r[12..14]) as u32,
            out_if: be(&r[14..16]) as u32,
            packets: be(&r[16..20]),
            bytes: be(&r[20..24]),
            time_start: boot + be(&r[24..28]) as i64,
            time_end: boot + be(&r[28..32]) as i64,
            src_port: be(&r[32..34]) as u16,
            dst_port: be(&r[34..36]) as u16,
            tcp_flags: r[37],
            proto: r[38],
            tos: r[39],
            src_as: be(&r[40..42]) as u32,
            dst_as: be(&r[42..44]) as u32,
            src_mask: r[44],
            dst_mask: r[45],
            version: 5,
            sampling_rate: 1,
            ..FlowRecord::default()
        };
        flows.push(f);
    }
    Ok(Parsed {
        version: 5,
        sequence: seq,
        domain_id: 0,
        count,
        export_ms,
        sys_uptime: up,
        templates: 0,
        flows,
    })
}

fn parse_sets(d: &[u8], version: u16, t: &mut Templates) -> Result<Parsed, String> {
    let mut o = 2;
    let mut p = Parsed {
        version,
        ..Parsed::default()
    };
    let boot;
    if version == 9 {
        p.count = be(take(d, &mut o, 2)?) as u16;
        p.sys_uptime = be(take(d, &mut o, 4)?) as u32;
        p.export_ms = be(take(d, &mut o, 4)?) as i64 * 1000;
        p.sequence = be(take(d, &mut o, 4)?) as u32;
        p.domain_id = be(take(d, &mut o, 4)?) as u32;
        boot = p.export_ms - i64::from(p.sys_uptime);
    } else {
        let len = be(take(d, &mut o, 2)?) as usize;
        if len != d.len() {
            return Err(format!("IPFIX length {len} != {}", d.len()));
        }
        p.export_ms = be(take(d, &mut o, 4)?) as i64 * 1000;
        p.sequence = be(take(d, &mut o, 4)?) as u32;
        p.domain_id = be(take(d, &mut o, 4)?) as u32;
        boot = 0;
    }
    let tmpl_set = if version == 9 { 0 } else { 2 };
    let mut records = 0usize;
    while o < d.len() {
        let set_start = o;
        let id = be(take(d, &mut o, 2)?) as u16;
        let len = be(take(d, &mut o, 2)?) as usize;
        if len < 4 || set_start + len > d.len() {
            return Err(format!("set length {len} at {set_start}"));
        }
        if version == 9 && !len.is_multiple_of(4) {
            return Err(format!("v9 flowset not padded: {len}"));
        }
        let end = set_start + len;
        if id == tmpl_set {
            while o + 4 <= end {
                let tid = be(take(d, &mut o, 2)?) as u16;
                let n = be(take(d, &mut o, 2)?) as usize;
                let mut fields = Vec::new();
                for _ in 0..n {
                    let ty = be(take(d, &mut o, 2)?) as u16;
                    let l = be(take(d, &mut o, 2)?) as u16;
                    if ty & 0x8000 != 0 {
                        return Err("enterprise fields not expected".into());
                    }
                    fields.push((ty, l));
                }
                t.0.insert((version, p.domain_id, tid), fields);
                p.templates += 1;
                records += 1;
            }
        } else if id >= 256 {
            let fields =
                t.0.get(&(version, p.domain_id, id))
                    .ok_or_else(|| format!("no template {id}"))?
                    .clone();
            let rlen: usize = fields.iter().map(|f| f.1 as usize).sum();
            while end - o >= rlen {
                let mut f = FlowRecord {
                    version: version as u8,
                    domain_id: p.domain_id,
                    sampling_rate: 1,
                    ..FlowRecord::default()
                };
                for &(ty, l) in &fields {
                    let v = take(d, &mut o, l as usize)?;
                    let n = be(v);
                    match ty {
                        8 => f.src_ip = addr_from_v4(n as u32),
                        12 => f.dst_ip = addr_from_v4(n as u32),
                        15 => f.next_hop = addr_from_v4(n as u32),
                        27 => f.src_ip = addr_from_v6(v.try_into().map_err(|_| "v6")?),
                        28 => f.dst_ip = addr_from_v6(v.try_into().map_err(|_| "v6")?),
                        62 => f.next_hop = addr_from_v6(v.try_into().map_err(|_| "v6")?),
                        7 => f.src_port = n as u16,
                        11 => f.dst_port = n as u16,
                        4 => f.proto = n as u8,
                        6 => f.tcp_flags = n as u8,
                        5 => f.tos = n as u8,
                        10 => f.in_if = n as u32,
                        14 => f.out_if = n as u32,
                        2 => f.packets = n,
                        1 => f.bytes = n,
                        16 => f.src_as = n as u32,
                        17 => f.dst_as = n as u32,
                        9 | 29 => f.src_mask = n as u8,
                        13 | 30 => f.dst_mask = n as u8,
                        22 => f.time_start = boot + n as i64,
                        21 => f.time_end = boot + n as i64,
                        152 => f.time_start = n as i64,
                        153 => f.time_end = n as i64,
                        61 => f.direction = n as u8,
                        136 => f.end_reason = n as u8,
                        other => return Err(format!("unexpected field {other}")),
                    }
                }
                if version == 9 && matches!(f.proto, 1 | 58) {
                    // No IE 32 in the template: nfdump (and flowhound) take
                    // no ICMP type/code from a v9 destination port.
                    f.dst_port = 0;
                }
                p.flows.push(f);
                records += 1;
            }
            if version == 10 && o != end {
                return Err("IPFIX set has trailing bytes".into());
            }
            if end - o >= 4 {
                return Err("padding too long".into());
            }
            if d[o..end].iter().any(|&b| b != 0) {
                return Err("non-zero padding".into());
            }
        } else {
            return Err(format!("unexpected set id {id}"));
        }
        o = end;
    }
    if version == 9 && p.count as usize != records {
        return Err(format!("v9 count {} != records {}", p.count, records));
    }
    Ok(p)
}
