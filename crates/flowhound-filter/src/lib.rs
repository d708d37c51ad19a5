//! nfdump's filter language for flowhound: text → [`Filter`] (the AST) →
//! an engine expression (compiled elsewhere, from the AST).
//!
//! This crate owns the syntax, its nfdump semantics and the error messages.
//! It knows the flow record ([`FlowRecord`]) and nothing about storage or the
//! query engine: [`Filter::matches`] is the reference evaluator over one
//! record, the oracle that any compiled form must agree with.
//!
//! ```
//! use flowhound_filter::parse;
//! use flowhound_model::{addr_from_v4, FlowRecord};
//!
//! let filter = parse("proto tcp and dst port 25 and not src net 10.0.0.0/8").expect("valid");
//! let flow = FlowRecord {
//!     proto: 6,
//!     dst_port: 25,
//!     src_ip: addr_from_v4(0xc000_0201), // 192.0.2.1
//!     dst_ip: addr_from_v4(0xc633_6401),
//!     ..FlowRecord::default()
//! };
//! assert!(filter.matches(&flow));
//!
//! let err = parse("proto tcp and prot 25").expect_err("misspelt");
//! assert_eq!(
//!     err.to_string(),
//!     "filter error: unknown keyword 'prot' (did you mean 'proto'?)\n  proto tcp and prot 25\n                ^^^^"
//! );
//! ```
//!
//! # Semantics (as nfdump 1.7)
//!
//! - `not` binds tighter than `and`, which binds tighter than `or`; keywords
//!   are case-insensitive; `#` starts a comment to the end of the line; an
//!   empty filter matches every flow.
//! - Without `src`/`dst`, a condition on a two-sided field holds when either
//!   side matches; `src and dst ...` needs both, `src or dst ...` either.
//! - `flags SA` means SYN and ACK are both set (others may be too) and the
//!   flow is TCP; `X` stands for all six classic flags. `flags N` compares the
//!   flag byte as a number.
//! - `icmp-type`/`icmp-code` imply ICMP or ICMPv6 and read `dst_port`
//!   (`type << 8 | code`).
//! - Numbers take `k`, `m`, `g`, `t` suffixes, powers of 1000.
//! - `duration` is `time_end - time_start` in ms; `pps = packets*1000/duration`,
//!   `bps = bytes*8000/duration` (0 when the duration is 0), `bpp = bytes/packets`
//!   (0 without packets), all in integer arithmetic.
//! - IPv4 networks may be abbreviated (`net 172.16/12`). Host names are not
//!   resolved. IPv6 prefixes never match IPv4 flows.
//! - `geo` parses, but [`Filter::matches`] treats it as false: countries are
//!   enrichment columns a bare [`FlowRecord`] does not carry.
#![deny(missing_docs)]

mod ast;
mod error;
mod eval;
mod lexer;
mod parser;

pub use ast::{
    AddrSet, Cmp, CounterField, Direction, Expr, Family, Filter, FlagsTest, IcmpPart, IfDirection,
};
pub use error::FilterError;
pub use eval::counter_value;

/// The inclusive address ranges the network `ip/len` covers, as filters
/// read it: an IPv4 network covers IPv4-mapped addresses; an IPv6 prefix
/// shorter than /96 leaves the IPv4-mapped block out (`::/0` is every IPv6
/// address, not every address). `None` when `len` is longer than the
/// address.
pub fn network_ranges(
    ip: std::net::IpAddr,
    len: u8,
) -> Option<Vec<(flowhound_model::Addr, flowhound_model::Addr)>> {
    match ip {
        std::net::IpAddr::V4(v4) => (len <= 32).then(|| vec![ast::v4_prefix_range(v4.into(), len)]),
        std::net::IpAddr::V6(v6) => {
            (len <= 128).then(|| ast::v6_prefix_ranges(u128::from_be_bytes(v6.octets()), len))
        }
    }
}
use flowhound_model::FlowRecord;

/// Parse a filter in nfdump's syntax.
///
/// An empty filter, or one with only comments and blanks, matches every flow.
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    Ok(Filter {
        expr: parser::parse_expr(text)?,
    })
}

impl Filter {
    /// Whether the flow passes the filter (the reference semantics).
    pub fn matches(&self, flow: &FlowRecord) -> bool {
        eval::eval(&self.expr, flow)
    }

    /// Whether the filter asks for a country (`geo`) anywhere: it needs
    /// flows stored with countries, or a registry to look them up.
    pub fn asks_country(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match e {
                Expr::Geo { .. } => true,
                Expr::And(v) | Expr::Or(v) => v.iter().any(walk),
                Expr::Not(e) => walk(e),
                _ => false,
            }
        }
        walk(&self.expr)
    }
}
