//! The reference evaluator: one record, one answer. Slow-but-obvious on
//! purpose; it is the oracle the engine's compiled expression is tested against.

use crate::ast::{CounterField, Direction, Expr, Family, FlagsTest, IcmpPart, IfDirection};
use flowhound_model::FlowRecord;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_ICMP6: u8 = 58;

#[inline]
fn directed<T: Copy>(dir: Direction, src: T, dst: T, test: impl Fn(T) -> bool) -> bool {
    match dir {
        Direction::Src => test(src),
        Direction::Dst => test(dst),
        Direction::Either => test(src) || test(dst),
        Direction::Both => test(src) && test(dst),
    }
}

/// Flow duration in milliseconds, as nfdump computes it (`last - first`);
/// a record whose end precedes its start counts as 0.
pub(crate) fn duration_ms(f: &FlowRecord) -> u64 {
    u64::try_from(f.time_end.saturating_sub(f.time_start)).unwrap_or(0)
}

/// The value a counter condition compares, computed as nfdump does.
pub fn counter_value(field: CounterField, f: &FlowRecord) -> u64 {
    match field {
        CounterField::Packets => f.packets,
        CounterField::Bytes => f.bytes,
        CounterField::Flows => 1,
        CounterField::Duration => duration_ms(f),
        CounterField::Pps => rate(f.packets, 1000, duration_ms(f)),
        CounterField::Bps => rate(f.bytes, 8000, duration_ms(f)),
        CounterField::Bpp => f.bytes.checked_div(f.packets).unwrap_or(0),
    }
}

fn rate(count: u64, scale: u128, duration: u64) -> u64 {
    if duration == 0 {
        return 0;
    }
    u64::try_from(count as u128 * scale / duration as u128).unwrap_or(u64::MAX)
}

pub(crate) fn eval(e: &Expr, f: &FlowRecord) -> bool {
    match e {
        Expr::Any => true,
        Expr::Family(Family::Ipv4) => f.is_ipv4(),
        Expr::Family(Family::Ipv6) => !f.is_ipv4(),
        Expr::Proto(p) => f.proto == *p,
        Expr::Addr { dir, set } => directed(*dir, f.src_ip, f.dst_ip, |a| set.contains(a)),
        Expr::NextHop(set) => set.contains(f.next_hop),
        Expr::Exporter(set) => set.contains(f.exporter),
        Expr::Port { dir, cmp, value } => {
            directed(*dir, f.src_port, f.dst_port, |p| cmp.test(p, *value))
        }
        Expr::PortIn { dir, ports } => directed(*dir, f.src_port, f.dst_port, |p| {
            ports.binary_search(&p).is_ok()
        }),
        Expr::Icmp { part, cmp, value } => {
            (f.proto == PROTO_ICMP || f.proto == PROTO_ICMP6)
                && cmp.test(
                    match part {
                        IcmpPart::Type => (f.dst_port >> 8) as u8,
                        IcmpPart::Code => (f.dst_port & 0xff) as u8,
                    },
                    *value,
                )
        }
        Expr::TcpFlags(t) => {
            f.proto == PROTO_TCP
                && match t {
                    FlagsTest::AllSet(mask) => f.tcp_flags & mask == *mask,
                    FlagsTest::Value(cmp, v) => cmp.test(f.tcp_flags, *v),
                }
        }
        Expr::Counter { field, cmp, value } => cmp.test(counter_value(*field, f), *value),
        Expr::As { dir, cmp, value } => directed(*dir, f.src_as, f.dst_as, |a| cmp.test(a, *value)),
        Expr::AsIn { dir, numbers } => directed(*dir, f.src_as, f.dst_as, |a| {
            numbers.binary_search(&a).is_ok()
        }),
        Expr::Interface { dir, value } => match dir {
            IfDirection::In => f.in_if == *value,
            IfDirection::Out => f.out_if == *value,
            IfDirection::Either => f.in_if == *value || f.out_if == *value,
        },
        Expr::Tos { cmp, value } => cmp.test(f.tos, *value),
        Expr::Mask { dir, value } => directed(*dir, f.src_mask, f.dst_mask, |m| m == *value),
        Expr::Vlan { dir, value } => directed(*dir, f.src_vlan, f.dst_vlan, |v| v == *value),
        Expr::FlowDir(d) => f.direction == *d,
        // Countries the registry gave at ingest; none before it was asked.
        Expr::Geo { dir, country } => {
            directed(*dir, f.src_country, f.dst_country, |c| c == *country)
        }
        Expr::And(v) => v.iter().all(|e| eval(e, f)),
        Expr::Or(v) => v.iter().any(|e| eval(e, f)),
        Expr::Not(e) => !eval(e, f),
    }
}
