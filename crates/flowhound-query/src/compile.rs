//! The filter's AST compiled to a DataFusion expression over the `flows`
//! table: the third step of text → AST → engine expression.
//!
//! Every node keeps the meaning [`flowhound_filter::Filter::matches`] gives
//! it; the differential test in this module holds the two together. Plain
//! comparisons stay plain so that DataFusion can prune row groups and pages
//! with them; only what has no cheap column form goes through a function
//! (large address sets, nfdump's per-flow rates).

use datafusion::common::ScalarValue;
use datafusion::logical_expr::binary_expr;
use datafusion::logical_expr::{col, in_list, lit, Expr as DfExpr, Operator};
use flowhound_filter::{
    AddrSet, Cmp, CounterField, Direction, Expr, Family, FlagsTest, IcmpPart, IfDirection,
};
use flowhound_model::Addr;
use std::ops::Not;

use crate::udf::{AddrInSet, FlowCounter};

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_ICMP6: u8 = 58;
const V4_LO: Addr = 0xffff_u128 << 32;
const V4_HI: Addr = V4_LO | 0xffff_ffff;

/// Sets with more ranges than this are tested by binary search in a function
/// rather than by a chain of `OR`ed range comparisons.
const MAX_INLINE_RANGES: usize = 8;
/// Sets of single addresses up to this size become an `IN (...)` list.
const MAX_IN_LIST: usize = 64;

/// The expression selecting the flows the filter matches.
pub fn compile(e: &Expr) -> DfExpr {
    match e {
        Expr::Any => lit(true),
        Expr::Family(Family::Ipv4) => is_v4("src_ip").and(is_v4("dst_ip")),
        Expr::Family(Family::Ipv6) => is_v4("src_ip").and(is_v4("dst_ip")).not(),
        Expr::Proto(p) => col("proto").eq(lit(*p)),
        Expr::Addr { dir, set } => directed(*dir, "src_ip", "dst_ip", |c| addr_in(c, set)),
        Expr::NextHop(set) => addr_in("next_hop", set),
        Expr::Exporter(set) => addr_in("exporter", set),
        Expr::Port { dir, cmp, value } => directed(*dir, "src_port", "dst_port", |c| {
            cmp_expr(col(c), *cmp, lit(*value))
        }),
        Expr::PortIn { dir, ports } => directed(*dir, "src_port", "dst_port", |c| {
            in_list(col(c), ports.iter().map(|p| lit(*p)).collect(), false)
        }),
        Expr::Icmp { part, cmp, value } => {
            let v = match part {
                IcmpPart::Type => {
                    binary_expr(col("dst_port"), Operator::BitwiseShiftRight, lit(8u16))
                }
                IcmpPart::Code => binary_expr(col("dst_port"), Operator::BitwiseAnd, lit(0xffu16)),
            };
            in_list(col("proto"), vec![lit(PROTO_ICMP), lit(PROTO_ICMP6)], false).and(cmp_expr(
                v,
                *cmp,
                lit(*value as u16),
            ))
        }
        Expr::TcpFlags(t) => {
            let test = match t {
                FlagsTest::AllSet(mask) => {
                    binary_expr(col("tcp_flags"), Operator::BitwiseAnd, lit(*mask)).eq(lit(*mask))
                }
                FlagsTest::Value(cmp, v) => cmp_expr(col("tcp_flags"), *cmp, lit(*v)),
            };
            col("proto").eq(lit(PROTO_TCP)).and(test)
        }
        Expr::Counter { field, cmp, value } => counter(*field, *cmp, *value),
        Expr::As { dir, cmp, value } => directed(*dir, "src_as", "dst_as", |c| {
            cmp_expr(col(c), *cmp, lit(*value))
        }),
        Expr::AsIn { dir, numbers } => directed(*dir, "src_as", "dst_as", |c| {
            in_list(col(c), numbers.iter().map(|n| lit(*n)).collect(), false)
        }),
        Expr::Interface { dir, value } => match dir {
            IfDirection::In => col("in_if").eq(lit(*value)),
            IfDirection::Out => col("out_if").eq(lit(*value)),
            IfDirection::Either => col("in_if")
                .eq(lit(*value))
                .or(col("out_if").eq(lit(*value))),
        },
        Expr::Tos { cmp, value } => cmp_expr(col("tos"), *cmp, lit(*value)),
        Expr::Mask { dir, value } => {
            directed(*dir, "src_mask", "dst_mask", |c| col(c).eq(lit(*value)))
        }
        Expr::Vlan { dir, value } => {
            directed(*dir, "src_vlan", "dst_vlan", |c| col(c).eq(lit(*value)))
        }
        Expr::FlowDir(d) => col("direction").eq(lit(*d)),
        Expr::Geo { dir, country } => {
            let code = String::from_utf8_lossy(country).into_owned();
            // Null (never looked up) is no country: false, not unknown, so
            // that `not geo US` keeps those flows, as the evaluator does.
            directed(*dir, "src_country", "dst_country", |c| {
                col(c).is_not_null().and(col(c).eq(lit(code.clone())))
            })
        }
        Expr::And(v) => v
            .iter()
            .map(compile)
            .reduce(DfExpr::and)
            .unwrap_or_else(|| lit(true)),
        Expr::Or(v) => v
            .iter()
            .map(compile)
            .reduce(DfExpr::or)
            .unwrap_or_else(|| lit(false)),
        Expr::Not(e) => compile(e).not(),
    }
}

/// A 16-byte address literal, as stored.
pub(crate) fn addr_lit(a: Addr) -> DfExpr {
    lit(ScalarValue::FixedSizeBinary(
        16,
        Some(a.to_be_bytes().to_vec()),
    ))
}

fn is_v4(c: &str) -> DfExpr {
    col(c).between(addr_lit(V4_LO), addr_lit(V4_HI))
}

fn directed(dir: Direction, src: &str, dst: &str, test: impl Fn(&str) -> DfExpr) -> DfExpr {
    match dir {
        Direction::Src => test(src),
        Direction::Dst => test(dst),
        Direction::Either => test(src).or(test(dst)),
        Direction::Both => test(src).and(test(dst)),
    }
}

fn cmp_expr(l: DfExpr, cmp: Cmp, r: DfExpr) -> DfExpr {
    match cmp {
        Cmp::Eq => l.eq(r),
        Cmp::Lt => l.lt(r),
        Cmp::Gt => l.gt(r),
        Cmp::Le => l.lt_eq(r),
        Cmp::Ge => l.gt_eq(r),
    }
}

fn range(c: &str, lo: Addr, hi: Addr) -> DfExpr {
    if lo == hi {
        col(c).eq(addr_lit(lo))
    } else {
        col(c).between(addr_lit(lo), addr_lit(hi))
    }
}

fn addr_in(c: &str, set: &AddrSet) -> DfExpr {
    let r = set.ranges();
    match r.len() {
        0 => lit(false),
        n if n <= MAX_INLINE_RANGES => r
            .iter()
            .map(|&(lo, hi)| range(c, lo, hi))
            .reduce(DfExpr::or)
            .unwrap_or_else(|| lit(false)),
        n if n <= MAX_IN_LIST && r.iter().all(|(lo, hi)| lo == hi) => {
            in_list(col(c), r.iter().map(|&(a, _)| addr_lit(a)).collect(), false)
        }
        _ => {
            // The outer range lets row groups outside the whole set be
            // skipped by their statistics; the search decides per row.
            let (lo, hi) = (r[0].0, r[r.len() - 1].1);
            range(c, lo, hi).and(AddrInSet::udf(set.clone()).call(vec![col(c)]))
        }
    }
}

fn counter(field: CounterField, cmp: Cmp, value: u64) -> DfExpr {
    match field {
        CounterField::Packets => cmp_expr(col("packets"), cmp, lit(value)),
        CounterField::Bytes => cmp_expr(col("bytes"), cmp, lit(value)),
        // A stored record is one flow.
        CounterField::Flows => lit(cmp.test(1, value)),
        _ => match FlowCounter::udf(field) {
            Some(f) => cmp_expr(
                f.call(vec![
                    col("packets"),
                    col("bytes"),
                    col("time_start"),
                    col("time_end"),
                ]),
                cmp,
                lit(value),
            ),
            None => lit(false),
        },
    }
}
