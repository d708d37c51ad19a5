//! The filter's syntax tree. Every node states its full meaning on its own
//! (including what nfdump implies, such as `flags` meaning TCP), so that the
//! evaluator here and the engine compiler elsewhere need nothing but the node.

use flowhound_model::{addr_to_ip, Addr};
use std::fmt;
use std::sync::Arc;

/// A parsed filter: the root of the expression tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The root expression. An empty filter (or one with only comments) is [`Expr::Any`].
    pub expr: Expr,
}

/// One condition, or a combination of conditions, over a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `any`: every flow.
    Any,
    /// `ipv4`/`inet` or `ipv6`/`inet6`: the flow's address family.
    Family(Family),
    /// `proto N` or `proto NAME`: `proto` equals the number.
    Proto(u8),
    /// `[dir] ip|host ADDR`, `[dir] net PREFIX`, `[dir] ip in [LIST]`: the
    /// address in `src_ip`/`dst_ip` (per `dir`) lies in `set`.
    Addr {
        /// Which address(es).
        dir: Direction,
        /// The addresses and prefixes.
        set: AddrSet,
    },
    /// `next ip ADDR` / `next ip in [LIST]`: `next_hop` lies in the set.
    NextHop(AddrSet),
    /// `router ip ADDR` / `router ip in [LIST]`: `exporter` lies in the set.
    Exporter(AddrSet),
    /// `[dir] port [cmp] N`: `src_port`/`dst_port` compared with `value`.
    /// For ICMP flows the port column holds `type << 8 | code`, as in nfdump.
    Port {
        /// Which port(s).
        dir: Direction,
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: u16,
    },
    /// `[dir] port in [LIST]`: the port is one of `ports` (sorted, distinct).
    PortIn {
        /// Which port(s).
        dir: Direction,
        /// Sorted, without duplicates.
        ports: Arc<[u16]>,
    },
    /// `icmp-type [cmp] N` / `icmp-code [cmp] N`: `proto` is ICMP (1) or
    /// ICMPv6 (58) and the type (`dst_port >> 8`) or code (`dst_port & 0xff`)
    /// compares with `value`.
    Icmp {
        /// Type or code.
        part: IcmpPart,
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: u8,
    },
    /// `flags ...`: `proto` is TCP (6) and the flags match; see [`FlagsTest`].
    TcpFlags(FlagsTest),
    /// `packets`/`bytes`/`flows`/`duration`/`pps`/`bps`/`bpp [cmp] N`.
    Counter {
        /// The stored or computed quantity.
        field: CounterField,
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: u64,
    },
    /// `[dir] as [cmp] N`: `src_as`/`dst_as` compared with `value`.
    As {
        /// Which AS number(s).
        dir: Direction,
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: u32,
    },
    /// `[dir] as in [LIST]`: the AS number is one of `numbers` (sorted, distinct).
    AsIn {
        /// Which AS number(s).
        dir: Direction,
        /// Sorted, without duplicates.
        numbers: Arc<[u32]>,
    },
    /// `[in|out] if N`: `in_if`/`out_if` equals `value`.
    Interface {
        /// Which interface(s).
        dir: IfDirection,
        /// The SNMP interface index.
        value: u32,
    },
    /// `[src] tos [cmp] N`: `tos` compared with `value`.
    Tos {
        /// The comparison.
        cmp: Cmp,
        /// The right-hand side.
        value: u8,
    },
    /// `[dir] mask N`: `src_mask`/`dst_mask` equals `value`.
    Mask {
        /// Which prefix length(s).
        dir: Direction,
        /// The prefix length.
        value: u8,
    },
    /// `[dir] vlan N`: `src_vlan`/`dst_vlan` equals `value`.
    Vlan {
        /// Which VLAN id(s).
        dir: Direction,
        /// The VLAN id.
        value: u16,
    },
    /// `flowdir ingress|egress|0|1`: `direction` equals the value (0 ingress, 1 egress).
    FlowDir(u8),
    /// `[dir] geo CC`: the country of the address, two upper-case ASCII
    /// letters, as the registry gave it when the flow was stored (a flow
    /// stored without a registry matches no country).
    Geo {
        /// Which address(es).
        dir: Direction,
        /// ISO 3166 alpha-2 code, upper case.
        country: [u8; 2],
    },
    /// All of the conditions (two or more).
    And(Vec<Expr>),
    /// Any of the conditions (two or more).
    Or(Vec<Expr>),
    /// The condition does not hold.
    Not(Box<Expr>),
}

/// Address family of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Both addresses are IPv4 (stored IPv4-mapped).
    Ipv4,
    /// The addresses are IPv6.
    Ipv6,
}

/// Which of a flow's two endpoints a condition looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `src ...`: the source only.
    Src,
    /// `dst ...`: the destination only.
    Dst,
    /// No qualifier, or `src or dst ...`: source or destination.
    Either,
    /// `src and dst ...`: source and destination both.
    Both,
}

/// Which interface an `if` condition looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfDirection {
    /// `in if N`: the input interface.
    In,
    /// `out if N`: the output interface.
    Out,
    /// `if N`: input or output.
    Either,
}

/// A comparison between a field and a constant (`field CMP constant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `=`, `==`, `eq`, or no comparator.
    Eq,
    /// `<`, `lt`.
    Lt,
    /// `>`, `gt`.
    Gt,
    /// `<=`, `le`.
    Le,
    /// `>=`, `ge`.
    Ge,
}

impl Cmp {
    /// Apply the comparison: `lhs CMP rhs`.
    #[inline]
    pub fn test<T: PartialOrd>(self, lhs: T, rhs: T) -> bool {
        match self {
            Cmp::Eq => lhs == rhs,
            Cmp::Lt => lhs < rhs,
            Cmp::Gt => lhs > rhs,
            Cmp::Le => lhs <= rhs,
            Cmp::Ge => lhs >= rhs,
        }
    }

    /// The comparator as written before the value; nothing for equality,
    /// which is the default.
    fn prefix(self) -> &'static str {
        match self {
            Cmp::Eq => "",
            Cmp::Lt => "< ",
            Cmp::Gt => "> ",
            Cmp::Le => "<= ",
            Cmp::Ge => ">= ",
        }
    }
}

/// ICMP type or code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpPart {
    /// `icmp-type`: the high byte of `dst_port`.
    Type,
    /// `icmp-code`: the low byte of `dst_port`.
    Code,
}

/// How `flags` tests the cumulative TCP flags (FIN=1 SYN=2 RST=4 PSH=8 ACK=16
/// URG=32 ECE=64 CWR=128). Either form also requires `proto` to be TCP, as in
/// nfdump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagsTest {
    /// `flags SA`: every flag in the mask is set (`tcp_flags & mask == mask`);
    /// others may be set too. `X` stands for all six classic flags (63).
    AllSet(u8),
    /// `flags [cmp] N`: the flags byte as a number compared with `N`.
    Value(Cmp, u8),
}

/// A per-flow quantity compared by `packets`, `bytes`, `flows`, `duration`, `pps`, `bps`, `bpp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterField {
    /// The `packets` column.
    Packets,
    /// The `bytes` column.
    Bytes,
    /// `flows`: how many flows the record stands for. A stored record is one
    /// flow, so this is always 1 (nfdump compares its aggregation count).
    Flows,
    /// `time_end - time_start` in milliseconds (0 if negative).
    Duration,
    /// Packets per second: `packets * 1000 / duration`, integer division; 0 when the duration is 0.
    Pps,
    /// Bits per second: `bytes * 8000 / duration`, integer division; 0 when the duration is 0.
    Bps,
    /// Bytes per packet: `bytes / packets`, integer division; 0 when there are no packets.
    Bpp,
}

impl CounterField {
    /// The keyword users type.
    pub fn keyword(self) -> &'static str {
        match self {
            CounterField::Packets => "packets",
            CounterField::Bytes => "bytes",
            CounterField::Flows => "flows",
            CounterField::Duration => "duration",
            CounterField::Pps => "pps",
            CounterField::Bps => "bps",
            CounterField::Bpp => "bpp",
        }
    }
}

const V4_MAPPED_LO: u128 = 0xffff_u128 << 32;
const V4_MAPPED_HI: u128 = V4_MAPPED_LO | 0xffff_ffff;

fn is_mapped(a: u128) -> bool {
    (V4_MAPPED_LO..=V4_MAPPED_HI).contains(&a)
}

/// A set of addresses: hosts and prefixes, kept as sorted, disjoint,
/// inclusive ranges of [`Addr`] so that membership is a binary search,
/// whatever the number of entries.
///
/// IPv4 entries cover IPv4-mapped addresses (`::ffff:a.b.c.d`). An IPv6
/// prefix shorter than /96 leaves the IPv4-mapped block out, so `::/0`
/// matches IPv6 flows only, as in nfdump, where the families are separate; an
/// IPv4-mapped IPv6 literal (`::ffff:10.1.2.3`) names the IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AddrSet {
    ranges: Arc<[(Addr, Addr)]>,
}

impl AddrSet {
    /// Build a set from `(first, last)` inclusive ranges, in any order, overlapping or not.
    pub fn from_ranges(mut v: Vec<(Addr, Addr)>) -> AddrSet {
        v.retain(|(lo, hi)| lo <= hi);
        v.sort_unstable();
        let mut out: Vec<(Addr, Addr)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                // Merge overlapping or adjacent ranges of the same family only,
                // so that printing as prefixes keeps each family's notation.
                let adjacent = last.1 == u128::MAX || lo <= last.1 + 1;
                if adjacent && is_mapped(lo) == is_mapped(last.0) {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            out.push((lo, hi));
        }
        AddrSet { ranges: out.into() }
    }

    /// The set's disjoint, sorted, inclusive ranges. One range per prefix
    /// when the prefixes do not touch; an engine can compile a single range
    /// to `col >= lo AND col <= hi` on the 16-byte big-endian column.
    pub fn ranges(&self) -> &[(Addr, Addr)] {
        &self.ranges
    }

    /// Whether the set holds the address. O(log n).
    #[inline]
    pub fn contains(&self, a: Addr) -> bool {
        let i = self.ranges.partition_point(|r| r.0 <= a);
        i > 0 && self.ranges[i - 1].1 >= a
    }

    /// Whether the set is a single address.
    pub fn as_single(&self) -> Option<Addr> {
        match &*self.ranges {
            [(lo, hi)] if lo == hi => Some(*lo),
            _ => None,
        }
    }

    /// The set as the fewest CIDR prefixes `(first address, prefix length in
    /// the 128-bit space)`, in order.
    pub fn prefixes(&self) -> Vec<(Addr, u8)> {
        let mut out = Vec::new();
        for &(lo, hi) in self.ranges.iter() {
            let mut cur = lo;
            loop {
                // Largest aligned block starting at `cur` that stays within `hi`.
                let mut size_bits = if cur == 0 { 128 } else { cur.trailing_zeros() };
                while size_bits > 0 {
                    let last = if size_bits == 128 {
                        u128::MAX
                    } else {
                        cur | ((1u128 << size_bits) - 1)
                    };
                    if last <= hi {
                        break;
                    }
                    size_bits -= 1;
                }
                out.push((cur, (128 - size_bits) as u8));
                let last = if size_bits == 128 {
                    u128::MAX
                } else {
                    cur | ((1u128 << size_bits) - 1)
                };
                if last >= hi {
                    break;
                }
                cur = last + 1;
            }
        }
        out
    }
}

/// The inclusive range of addresses an IPv4 prefix covers, mapped into IPv6.
pub(crate) fn v4_prefix_range(v4: u32, len: u8) -> (Addr, Addr) {
    let mask: u32 = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let lo = v4 & mask;
    let hi = lo | !mask;
    (V4_MAPPED_LO | lo as u128, V4_MAPPED_LO | hi as u128)
}

/// The inclusive ranges an IPv6 prefix covers; a prefix shorter than the
/// IPv4-mapped block (`::/0`) leaves that block out.
pub(crate) fn v6_prefix_ranges(v6: u128, len: u8) -> Vec<(Addr, Addr)> {
    let mask: u128 = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    let lo = v6 & mask;
    let hi = lo | !mask;
    // A prefix of 96 bits or more lies wholly inside or outside the mapped
    // block; inside, it names IPv4 addresses (`::ffff:10.0.0.0/104`).
    if len >= 96 || hi < V4_MAPPED_LO || lo > V4_MAPPED_HI {
        return vec![(lo, hi)];
    }
    let mut v = Vec::with_capacity(2);
    if lo < V4_MAPPED_LO {
        v.push((lo, V4_MAPPED_LO - 1));
    }
    if hi > V4_MAPPED_HI {
        v.push((V4_MAPPED_HI + 1, hi));
    }
    v
}

fn write_prefix(f: &mut fmt::Formatter<'_>, addr: Addr, len: u8) -> fmt::Result {
    if is_mapped(addr) && len >= 96 {
        write!(f, "{}", addr_to_ip(addr))?;
        if len < 128 {
            write!(f, "/{}", len - 96)?;
        }
    } else {
        write!(f, "{}", std::net::Ipv6Addr::from(addr))?;
        if len < 128 {
            write!(f, "/{len}")?;
        }
    }
    Ok(())
}

impl fmt::Display for AddrSet {
    /// The set as filter text: `ip ADDR`, `net PREFIX` or `ip in [ ... ]`,
    /// without the direction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.prefixes();
        match p.as_slice() {
            [(a, 128)] => {
                f.write_str("ip ")?;
                write_prefix(f, *a, 128)
            }
            [(a, len)] => {
                f.write_str("net ")?;
                write_prefix(f, *a, *len)
            }
            _ => {
                f.write_str("ip in [")?;
                for (a, len) in p {
                    f.write_str(" ")?;
                    write_prefix(f, a, len)?;
                }
                f.write_str(" ]")
            }
        }
    }
}

fn dir_prefix(dir: Direction) -> &'static str {
    match dir {
        Direction::Src => "src ",
        Direction::Dst => "dst ",
        Direction::Either => "",
        Direction::Both => "src and dst ",
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl fmt::Display for Expr {
    /// Canonical filter text; parsing it again gives an equal expression.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Any => f.write_str("any"),
            Expr::Family(Family::Ipv4) => f.write_str("ipv4"),
            Expr::Family(Family::Ipv6) => f.write_str("ipv6"),
            Expr::Proto(p) => write!(f, "proto {p}"),
            Expr::Addr { dir, set } => write!(f, "{}{set}", dir_prefix(*dir)),
            Expr::NextHop(set) => write!(f, "next {}", ip_form(set)),
            Expr::Exporter(set) => write!(f, "router {}", ip_form(set)),
            Expr::Port { dir, cmp, value } => {
                write!(f, "{}port {}{value}", dir_prefix(*dir), cmp.prefix())
            }
            Expr::PortIn { dir, ports } => {
                write!(f, "{}port in [", dir_prefix(*dir))?;
                for p in ports.iter() {
                    write!(f, " {p}")?;
                }
                f.write_str(" ]")
            }
            Expr::Icmp { part, cmp, value } => {
                let kw = match part {
                    IcmpPart::Type => "icmp-type",
                    IcmpPart::Code => "icmp-code",
                };
                write!(f, "{kw} {}{value}", cmp.prefix())
            }
            Expr::TcpFlags(FlagsTest::AllSet(mask)) => {
                f.write_str("flags ")?;
                if *mask == 0 {
                    // No letters; `flags 0`-style masks only arise from `flags >= 0`.
                    return f.write_str(">= 0");
                }
                for (bit, c) in FLAG_LETTERS {
                    if mask & bit != 0 {
                        write!(f, "{c}")?;
                    }
                }
                Ok(())
            }
            Expr::TcpFlags(FlagsTest::Value(cmp, v)) => {
                // `flags 2` would read as a number either way; `=` keeps it explicit.
                let op = if *cmp == Cmp::Eq { "= " } else { cmp.prefix() };
                write!(f, "flags {op}{v}")
            }
            Expr::Counter { field, cmp, value } => {
                write!(f, "{} {}{value}", field.keyword(), cmp.prefix())
            }
            Expr::As { dir, cmp, value } => {
                write!(f, "{}as {}{value}", dir_prefix(*dir), cmp.prefix())
            }
            Expr::AsIn { dir, numbers } => {
                write!(f, "{}as in [", dir_prefix(*dir))?;
                for n in numbers.iter() {
                    write!(f, " {n}")?;
                }
                f.write_str(" ]")
            }
            Expr::Interface { dir, value } => {
                let q = match dir {
                    IfDirection::In => "in ",
                    IfDirection::Out => "out ",
                    IfDirection::Either => "",
                };
                write!(f, "{q}if {value}")
            }
            Expr::Tos { cmp, value } => write!(f, "tos {}{value}", cmp.prefix()),
            Expr::Mask { dir, value } => write!(f, "{}mask {value}", dir_prefix(*dir)),
            Expr::Vlan { dir, value } => write!(f, "{}vlan {value}", dir_prefix(*dir)),
            Expr::FlowDir(d) => write!(f, "flowdir {d}"),
            Expr::Geo { dir, country } => write!(
                f,
                "{}geo {}{}",
                dir_prefix(*dir),
                country[0] as char,
                country[1] as char
            ),
            Expr::And(v) => join(f, v, " and "),
            Expr::Or(v) => join(f, v, " or "),
            Expr::Not(e) => {
                f.write_str("not ")?;
                atom(f, e)
            }
        }
    }
}

/// `ip ADDR` or `ip in [ ... ]`; `next` and `router` take no `net` form.
fn ip_form(set: &AddrSet) -> String {
    let p = set.prefixes();
    if let [(a, 128)] = p.as_slice() {
        return format!("ip {}", addr_to_ip(*a));
    }
    let mut s = String::from("ip in [");
    for (a, len) in p {
        s.push(' ');
        s.push_str(&PrefixText(a, len).to_string());
    }
    s.push_str(" ]");
    s
}

struct PrefixText(Addr, u8);

impl fmt::Display for PrefixText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_prefix(f, self.0, self.1)
    }
}

fn join(f: &mut fmt::Formatter<'_>, v: &[Expr], sep: &str) -> fmt::Result {
    for (i, e) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        atom(f, e)?;
    }
    Ok(())
}

/// Parenthesise compound operands so the text re-parses to the same tree.
fn atom(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    match e {
        Expr::And(_) | Expr::Or(_) => write!(f, "({e})"),
        _ => write!(f, "{e}"),
    }
}

/// TCP flag letters in nfdump's order, with their bits.
pub(crate) const FLAG_LETTERS: [(u8, char); 8] = [
    (32, 'U'),
    (16, 'A'),
    (8, 'P'),
    (4, 'R'),
    (2, 'S'),
    (1, 'F'),
    (64, 'E'),
    (128, 'C'),
];

#[cfg(test)]
mod tests {
    use super::*;
    use flowhound_model::addr_from_v4;

    fn v4(s: &str) -> Addr {
        addr_from_v4(s.parse::<std::net::Ipv4Addr>().expect("literal").into())
    }

    #[test]
    fn overlapping_and_adjacent_prefixes_merge() {
        let set = AddrSet::from_ranges(vec![
            v4_prefix_range(0x0a00_0000, 9),  // 10.0.0.0/9
            v4_prefix_range(0x0a80_0000, 9),  // 10.128.0.0/9, adjacent
            v4_prefix_range(0x0a01_0203, 32), // inside
        ]);
        assert_eq!(set.ranges(), &[v4_prefix_range(0x0a00_0000, 8)]);
        assert_eq!(set.prefixes(), vec![(v4("10.0.0.0"), 104)]);
        assert_eq!(set.to_string(), "net 10.0.0.0/8");
    }

    #[test]
    fn membership_is_a_binary_search_over_ranges() {
        let set = AddrSet::from_ranges(
            (0..1000u32)
                .map(|i| {
                    let a = addr_from_v4(i * 4);
                    (a, a + 1)
                })
                .collect(),
        );
        assert_eq!(set.ranges().len(), 1000);
        assert!(set.contains(addr_from_v4(8)));
        assert!(set.contains(addr_from_v4(9)));
        assert!(!set.contains(addr_from_v4(10)));
        assert!(!set.contains(addr_from_v4(4000)));
        assert!(!set.contains(0));
    }

    #[test]
    fn short_ipv6_prefixes_leave_ipv4_out() {
        let all_v6 = AddrSet::from_ranges(v6_prefix_ranges(0, 0));
        assert!(all_v6.contains(1));
        assert!(all_v6.contains(u128::MAX));
        assert!(!all_v6.contains(v4("192.0.2.1")));
        let mapped = AddrSet::from_ranges(v6_prefix_ranges(v4("10.0.0.0"), 104));
        assert!(mapped.contains(v4("10.9.9.9")));
        assert_eq!(mapped.to_string(), "net 10.0.0.0/8");
    }

    #[test]
    fn families_do_not_merge_across_the_mapped_boundary() {
        let below = V4_MAPPED_LO - 1;
        let set = AddrSet::from_ranges(vec![(below, below), (V4_MAPPED_LO, V4_MAPPED_LO)]);
        assert_eq!(set.ranges().len(), 2);
        assert_eq!(set.to_string(), "ip in [ ::fffe:ffff:ffff 0.0.0.0 ]");
    }

    #[test]
    fn ranges_print_as_the_fewest_prefixes() {
        // 10.0.0.1 .. 10.0.0.6 = .1/32 .2/31 .4/31 .6/32
        let set = AddrSet::from_ranges(vec![(v4("10.0.0.1"), v4("10.0.0.6"))]);
        assert_eq!(
            set.to_string(),
            "ip in [ 10.0.0.1 10.0.0.2/31 10.0.0.4/31 10.0.0.6 ]"
        );
    }
}
