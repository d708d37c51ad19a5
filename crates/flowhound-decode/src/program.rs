//! Templates compiled into field programs: a short list of (offset, length,
//! action) that the per-record loop runs without hashing or allocation.

use flowhound_model::{addr_from_v4, addr_from_v6, FlowRecord};

/// Length announcing an IPFIX variable-length field.
pub(crate) const VARLEN: u16 = 0xffff;

/// Seconds between the NTP era (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

/// What to do with one field's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Action {
    Skip,
    SrcV4,
    DstV4,
    SrcV6,
    DstV6,
    NextHopV4,
    NextHopV6,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Tos,
    Direction,
    SrcMask,
    DstMask,
    EndReason,
    InIf,
    OutIf,
    SrcAs,
    DstAs,
    Packets,
    Bytes,
    SrcVlan,
    DstVlan,
    SrcMac,
    DstMac,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    StartUptime,
    EndUptime,
    StartSecs,
    EndSecs,
    StartMillis,
    EndMillis,
    StartNtp,
    EndNtp,
    StartDeltaMicros,
    EndDeltaMicros,
    DurationMillis,
    DurationMicros,
    SysInitMillis,
    SamplerId,
    SamplingInterval,
    // Only meaningful in options records.
    SamplingAlgorithm,
    PacketInterval,
    PacketSpace,
    SamplingSize,
    SamplingPopulation,
}

/// Output slots several information elements may fill; the template keeps
/// only its most preferred source for each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    None,
    SrcIp,
    DstIp,
    NextHop,
    SrcPort,
    DstPort,
    SrcMask,
    DstMask,
    InIf,
    OutIf,
    Packets,
    Bytes,
    SrcVlan,
    DstVlan,
    SrcMac,
    DstMac,
    Start,
    End,
    Duration,
    SamplerId,
    Icmp,
}

fn slot(a: Action) -> Slot {
    use Action::*;
    match a {
        SrcV4 | SrcV6 => Slot::SrcIp,
        DstV4 | DstV6 => Slot::DstIp,
        NextHopV4 | NextHopV6 => Slot::NextHop,
        Action::SrcPort => Slot::SrcPort,
        Action::DstPort => Slot::DstPort,
        Action::SrcMask => Slot::SrcMask,
        Action::DstMask => Slot::DstMask,
        Action::InIf => Slot::InIf,
        Action::OutIf => Slot::OutIf,
        Action::Packets => Slot::Packets,
        Action::Bytes => Slot::Bytes,
        Action::SrcVlan => Slot::SrcVlan,
        Action::DstVlan => Slot::DstVlan,
        Action::SrcMac => Slot::SrcMac,
        Action::DstMac => Slot::DstMac,
        StartUptime | StartSecs | StartMillis | StartNtp | StartDeltaMicros => Slot::Start,
        EndUptime | EndSecs | EndMillis | EndNtp | EndDeltaMicros => Slot::End,
        DurationMillis | DurationMicros => Slot::Duration,
        Action::SamplerId => Slot::SamplerId,
        IcmpTypeCode => Slot::Icmp,
        _ => Slot::None,
    }
}

/// The action for an information element of the given length, and its
/// preference among elements filling the same slot (0 = most preferred).
pub(crate) fn action_for(ie: u16, len: u16) -> (Action, u8) {
    use Action::*;
    let numeric = (1..=8).contains(&len);
    let (a, prio) = match ie {
        1 => (Bytes, 0),
        85 => (Bytes, 1),
        231 => (Bytes, 2),
        2 => (Packets, 0),
        86 => (Packets, 1),
        298 => (Packets, 2),
        4 => (Proto, 0),
        5 => (Tos, 0),
        6 => (TcpFlags, 0),
        7 => (SrcPort, 0),
        180 | 182 => (SrcPort, 1),
        11 => (DstPort, 0),
        181 | 183 => (DstPort, 1),
        8 if (1..=4).contains(&len) => (SrcV4, 0),
        12 if (1..=4).contains(&len) => (DstV4, 0),
        27 if len == 16 => (SrcV6, 0),
        28 if len == 16 => (DstV6, 0),
        9 => (SrcMask, 0),
        29 => (SrcMask, 1),
        13 => (DstMask, 0),
        30 => (DstMask, 1),
        10 => (InIf, 0),
        252 => (InIf, 1),
        14 => (OutIf, 0),
        253 => (OutIf, 1),
        15 if (1..=4).contains(&len) => (NextHopV4, 0),
        62 if len == 16 => (NextHopV6, 0),
        18 if (1..=4).contains(&len) => (NextHopV4, 1),
        63 if len == 16 => (NextHopV6, 1),
        16 => (SrcAs, 0),
        17 => (DstAs, 0),
        21 => (EndUptime, 4),
        22 => (StartUptime, 4),
        32 | 139 => (IcmpTypeCode, 0),
        176 | 178 => (IcmpType, 0),
        177 | 179 => (IcmpCode, 0),
        34 => (SamplingInterval, 0),
        35 | 49 | 304 => (SamplingAlgorithm, 0),
        48 | 302 => (SamplerId, 0),
        50 | 306 => (PacketSpace, 0),
        305 => (PacketInterval, 0),
        309 => (SamplingSize, 0),
        310 => (SamplingPopulation, 0),
        56 => (SrcMac, 0),
        81 => (SrcMac, 1),
        80 => (DstMac, 0),
        57 => (DstMac, 1),
        58 => (SrcVlan, 0),
        243 => (SrcVlan, 1),
        59 => (DstVlan, 0),
        254 => (DstVlan, 1),
        61 => (Direction, 0),
        136 => (EndReason, 0),
        150 => (StartSecs, 2),
        151 => (EndSecs, 2),
        152 => (StartMillis, 0),
        153 => (EndMillis, 0),
        154 | 156 if len == 8 => (StartNtp, 1),
        155 | 157 if len == 8 => (EndNtp, 1),
        158 => (StartDeltaMicros, 3),
        159 => (EndDeltaMicros, 3),
        160 => (SysInitMillis, 0),
        161 => (DurationMillis, 0),
        162 => (DurationMicros, 1),
        _ => (Skip, 0),
    };
    match a {
        SrcV4 | DstV4 | NextHopV4 | SrcV6 | DstV6 | NextHopV6 | StartNtp | EndNtp => (a, prio),
        _ if numeric => (a, prio),
        _ => (Skip, 0),
    }
}

/// One field of a template as it appears on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldSpec {
    pub ie: u16,
    pub enterprise: u32,
    pub len: u16,
    /// v9 options scope fields carry scope types, not information elements.
    pub scope_v9: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub off: u16,
    pub len: u16,
    pub act: Action,
}

/// Which derived values a record of this template needs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Plan {
    pub start: bool,
    pub end: bool,
    pub duration: bool,
    pub start_uptime: bool,
    pub end_uptime: bool,
    pub icmp: bool,
    pub sampler_id: bool,
    pub interval: bool,
    /// Records describe flows (some address, port, protocol or counter).
    pub emits: bool,
}

/// A compiled template.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    /// Fixed layout: only useful ops, with absolute offsets. Variable layout:
    /// every field in order, `len == VARLEN` for variable-length ones.
    pub ops: Box<[Op]>,
    /// Fixed layout: the record length; variable: the minimum record length.
    pub record_len: usize,
    pub variable: bool,
    pub plan: Plan,
}

/// Why a template was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TemplateProblem {
    /// No bytes per record: data could never advance.
    EmptyRecord,
    /// More bytes per record than any set can hold.
    TooLong,
}

/// Largest record a set can carry (set length is 16 bits, minus its header).
const MAX_RECORD: usize = 65_535 - 4;

pub(crate) fn compile(fields: &[FieldSpec]) -> Result<Program, TemplateProblem> {
    let mut chosen: Vec<(Action, u8)> = Vec::with_capacity(fields.len());
    let mut variable = false;
    let mut min_len = 0usize;
    for f in fields {
        if f.len == VARLEN {
            // IPFIX variable length; some v9 exporters (H3C) use it as well.
            variable = true;
            min_len += 1;
        } else {
            min_len += f.len as usize;
        }
        let pick = if f.enterprise != 0 || f.scope_v9 || f.len == VARLEN {
            (Action::Skip, 0)
        } else {
            action_for(f.ie, f.len)
        };
        chosen.push(pick);
    }
    if min_len == 0 {
        return Err(TemplateProblem::EmptyRecord);
    }
    if min_len > MAX_RECORD {
        return Err(TemplateProblem::TooLong);
    }
    // Keep one source per slot: the most preferred, the first among equals.
    for i in 0..chosen.len() {
        let s = slot(chosen[i].0);
        if s == Slot::None {
            continue;
        }
        let best = chosen
            .iter()
            .enumerate()
            .filter(|(_, c)| slot(c.0) == s)
            .min_by_key(|(j, c)| (c.1, *j))
            .map(|(j, _)| j);
        if best != Some(i) {
            chosen[i].0 = Action::Skip;
        }
    }

    let mut plan = Plan::default();
    for (a, _) in &chosen {
        use Action::*;
        match a {
            StartUptime => {
                plan.start = true;
                plan.start_uptime = true;
            }
            EndUptime => {
                plan.end = true;
                plan.end_uptime = true;
            }
            StartSecs | StartMillis | StartNtp | StartDeltaMicros => plan.start = true,
            EndSecs | EndMillis | EndNtp | EndDeltaMicros => plan.end = true,
            DurationMillis | DurationMicros => plan.duration = true,
            IcmpTypeCode | IcmpType | IcmpCode => plan.icmp = true,
            SamplerId => plan.sampler_id = true,
            SamplingInterval => plan.interval = true,
            SrcV4 | DstV4 | SrcV6 | DstV6 | SrcPort | DstPort | Proto | Packets | Bytes => {
                plan.emits = true
            }
            _ => {}
        }
    }

    let mut ops = Vec::with_capacity(fields.len());
    if variable {
        for (f, (a, _)) in fields.iter().zip(&chosen) {
            if f.len == 0 {
                continue;
            }
            match ops.last_mut() {
                // Merge runs of skipped fixed-length fields into one.
                Some(Op {
                    act: Action::Skip,
                    len,
                    ..
                }) if *a == Action::Skip
                    && f.len != VARLEN
                    && *len != VARLEN
                    && (*len as usize + f.len as usize) < VARLEN as usize =>
                {
                    *len += f.len
                }
                _ => ops.push(Op {
                    off: 0,
                    len: f.len,
                    act: *a,
                }),
            }
        }
    } else {
        let mut off = 0usize;
        for (f, (a, _)) in fields.iter().zip(&chosen) {
            if *a != Action::Skip && f.len > 0 {
                ops.push(Op {
                    off: off as u16,
                    len: f.len,
                    act: *a,
                });
            }
            off += f.len as usize;
        }
    }
    Ok(Program {
        ops: ops.into_boxed_slice(),
        record_len: min_len,
        variable,
        plan,
    })
}

/// Big-endian unsigned value of up to 8 bytes (longer: the low 8 bytes).
#[inline(always)]
pub(crate) fn be(b: &[u8]) -> u64 {
    match *b {
        [x] => x as u64,
        [a, c] => u16::from_be_bytes([a, c]) as u64,
        [a, c, d, e] => u32::from_be_bytes([a, c, d, e]) as u64,
        [a, c, d, e, f, g, h, i] => u64::from_be_bytes([a, c, d, e, f, g, h, i]),
        _ => b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64),
    }
}

#[inline(always)]
fn v6(b: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    if b.len() == 16 {
        a.copy_from_slice(b);
    }
    addr_from_v6(a)
}

/// NTP timestamp (seconds since 1900, 32-bit fraction) to Unix milliseconds.
#[inline(always)]
fn ntp_ms(v: u64) -> i64 {
    let secs = (v >> 32) as i64 - NTP_UNIX_OFFSET;
    let frac_ms = ((v & 0xffff_ffff) * 1000) >> 32;
    secs * 1000 + frac_ms as i64
}

/// How sysUptime-relative times (IEs 21/22) become absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Uptime {
    /// NetFlow v9/v5: the header's sysUptime (ms) at the export time.
    Header(u32),
    /// IPFIX: the exporter's systemInitTimeMilliseconds, when known.
    Init(i64),
    None,
}

/// Per-datagram values every record shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    pub export_ms: i64,
    pub uptime: Uptime,
}

/// Values a record needs after all its fields are read.
#[derive(Clone, Copy, Default)]
pub(crate) struct Scratch {
    pub start_up: u32,
    pub end_up: u32,
    pub duration_ms: u64,
    pub icmp_tc: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub sys_init: i64,
    pub sampler_id: u64,
    pub interval: u64,
    // Options records.
    pub packet_interval: u64,
    pub packet_space: u64,
    pub sampling_size: u64,
    pub sampling_population: u64,
    pub has_sampler_id: bool,
    pub has_sys_init: bool,
}

#[inline(always)]
pub(crate) fn apply(a: Action, b: &[u8], f: &mut FlowRecord, s: &mut Scratch, ctx: &Ctx) {
    use Action::*;
    match a {
        Skip => {}
        SrcV4 => f.src_ip = addr_from_v4(be(b) as u32),
        DstV4 => f.dst_ip = addr_from_v4(be(b) as u32),
        NextHopV4 => f.next_hop = addr_from_v4(be(b) as u32),
        SrcV6 => f.src_ip = v6(b),
        DstV6 => f.dst_ip = v6(b),
        NextHopV6 => f.next_hop = v6(b),
        SrcPort => f.src_port = be(b) as u16,
        DstPort => f.dst_port = be(b) as u16,
        Proto => f.proto = be(b) as u8,
        TcpFlags => f.tcp_flags = be(b) as u8,
        Tos => f.tos = be(b) as u8,
        Direction => f.direction = be(b) as u8,
        SrcMask => f.src_mask = be(b) as u8,
        DstMask => f.dst_mask = be(b) as u8,
        EndReason => f.end_reason = be(b) as u8,
        InIf => f.in_if = be(b) as u32,
        OutIf => f.out_if = be(b) as u32,
        SrcAs => f.src_as = be(b) as u32,
        DstAs => f.dst_as = be(b) as u32,
        Packets => f.packets = be(b),
        Bytes => f.bytes = be(b),
        SrcVlan => f.src_vlan = be(b) as u16,
        DstVlan => f.dst_vlan = be(b) as u16,
        SrcMac => f.src_mac = be(b) & 0xffff_ffff_ffff,
        DstMac => f.dst_mac = be(b) & 0xffff_ffff_ffff,
        IcmpTypeCode => s.icmp_tc = be(b) as u16,
        IcmpType => s.icmp_type = be(b) as u8,
        IcmpCode => s.icmp_code = be(b) as u8,
        StartUptime => s.start_up = be(b) as u32,
        EndUptime => s.end_up = be(b) as u32,
        StartSecs => f.time_start = (be(b) as i64).wrapping_mul(1000),
        EndSecs => f.time_end = (be(b) as i64).wrapping_mul(1000),
        StartMillis => f.time_start = be(b) as i64,
        EndMillis => f.time_end = be(b) as i64,
        StartNtp => f.time_start = ntp_ms(be(b)),
        EndNtp => f.time_end = ntp_ms(be(b)),
        StartDeltaMicros => f.time_start = ctx.export_ms.saturating_sub((be(b) / 1000) as i64),
        EndDeltaMicros => f.time_end = ctx.export_ms.saturating_sub((be(b) / 1000) as i64),
        DurationMillis => s.duration_ms = be(b),
        DurationMicros => s.duration_ms = be(b) / 1000,
        SysInitMillis => {
            s.sys_init = be(b) as i64;
            s.has_sys_init = true;
        }
        SamplerId => {
            s.sampler_id = be(b);
            s.has_sampler_id = true;
        }
        SamplingInterval => s.interval = be(b),
        SamplingAlgorithm => {}
        PacketInterval => s.packet_interval = be(b),
        PacketSpace => s.packet_space = be(b),
        SamplingSize => s.sampling_size = be(b),
        SamplingPopulation => s.sampling_population = be(b),
    }
}

/// Fill in what a record's fields imply: absolute times from uptimes and
/// durations, ICMP type/code in the destination port.
#[inline(always)]
pub(crate) fn finish_times(plan: &Plan, f: &mut FlowRecord, s: &Scratch, ctx: &Ctx) {
    let (mut has_start, mut has_end) = (plan.start, plan.end);
    if plan.start_uptime || plan.end_uptime {
        let uptime = if s.has_sys_init {
            Uptime::Init(s.sys_init)
        } else {
            ctx.uptime
        };
        if uptime == Uptime::None {
            // IPFIX uptimes without the exporter's boot time say nothing.
            has_start &= !plan.start_uptime;
            has_end &= !plan.end_uptime;
        }
        let conv = |t: u32| -> i64 {
            match uptime {
                // Signed distance so that a wrapped 32-bit uptime, or a flow
                // stamped slightly after the header, stays close to export time.
                Uptime::Header(up) => ctx.export_ms - up.wrapping_sub(t) as i32 as i64,
                Uptime::Init(init) => init.saturating_add(t as i64),
                Uptime::None => ctx.export_ms,
            }
        };
        if plan.start_uptime {
            f.time_start = conv(s.start_up);
        }
        if plan.end_uptime {
            f.time_end = conv(s.end_up);
        }
    }
    // Wire values are unsigned; anything past i64 saturates.
    let duration = s.duration_ms.min(i64::MAX as u64) as i64;
    match (has_start, has_end) {
        (true, true) => {}
        (true, false) => {
            f.time_end = if plan.duration {
                f.time_start.saturating_add(duration)
            } else {
                f.time_start
            }
        }
        (false, true) => {
            f.time_start = if plan.duration {
                f.time_end.saturating_sub(duration)
            } else {
                f.time_end
            }
        }
        (false, false) => {
            f.time_end = ctx.export_ms;
            f.time_start = if plan.duration {
                ctx.export_ms.saturating_sub(duration)
            } else {
                ctx.export_ms
            };
        }
    }
    if plan.icmp && (f.proto == 1 || f.proto == 58) {
        let tc = if s.icmp_tc != 0 {
            s.icmp_tc
        } else {
            (s.icmp_type as u16) << 8 | s.icmp_code as u16
        };
        if tc != 0 {
            f.dst_port = tc;
            f.src_port = 0;
        }
    } else if f.version == 9 && (f.proto == 1 || f.proto == 58) {
        // nfdump 1.7 takes a v9 ICMP flow's type/code only from IE 32/139:
        // without them the destination port reads 0 (checked against
        // nfcapd by the differential test).
        f.dst_port = 0;
    }
}

/// Walk one record of a variable-length template; returns the record length,
/// or `None` when it runs past `body`.
#[inline]
pub(crate) fn run_variable(
    ops: &[Op],
    body: &[u8],
    f: &mut FlowRecord,
    s: &mut Scratch,
    ctx: &Ctx,
) -> Option<usize> {
    let mut pos = 0usize;
    for op in ops {
        let len = if op.len == VARLEN {
            let l = *body.get(pos)? as usize;
            pos += 1;
            if l == 255 {
                let b = body.get(pos..pos + 2)?;
                pos += 2;
                u16::from_be_bytes([b[0], b[1]]) as usize
            } else {
                l
            }
        } else {
            op.len as usize
        };
        let b = body.get(pos..pos + len)?;
        pos += len;
        apply(op.act, b, f, s, ctx);
    }
    Some(pos)
}
