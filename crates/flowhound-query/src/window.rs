//! Flows counted per host and time window: what detection rules test their
//! thresholds on. One grouping per window phase, by the host and the start
//! of the window its flow started in, with the counts a rule can ask for.

use arrow_schema::DataType;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, min, sum};
use datafusion::logical_expr::{binary_expr, cast, col, lit, when, Expr as DfExpr, Operator};
use flowhound_filter::Filter;
use flowhound_model::Addr;

use crate::engine::{addr, uint, QueryEngine};
use crate::error::QueryError;

/// A flow is SYN-only when of FIN, SYN, RST and ACK only SYN is set: a
/// connection attempt nobody completed (a probe, or a refused or filtered
/// connection).
pub const SYN_ONLY_MASK: u8 = 0x17;
/// A flow is tiny when it has at most this many packets...
pub const TINY_PACKETS: u64 = 3;
/// ... and at most this many bytes: no payload was exchanged.
pub const TINY_BYTES: u64 = 200;

/// Which end of a flow is the host counted (the one a rule blames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostSide {
    /// The flow's source.
    Src,
    /// The flow's destination.
    Dst,
}

impl HostSide {
    /// `"src"` or `"dst"`, as in filters.
    pub fn name(self) -> &'static str {
        match self {
            HostSide::Src => "src",
            HostSide::Dst => "dst",
        }
    }

    fn columns(self) -> (&'static str, &'static str) {
        match self {
            HostSide::Src => ("src_ip", "dst_ip"),
            HostSide::Dst => ("dst_ip", "src_ip"),
        }
    }
}

/// How to cut time and what a group must reach to be returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// The host counted.
    pub side: HostSide,
    /// Window length, ms (above 0).
    pub width_ms: i64,
    /// Windows start at `offset_ms + k × width_ms` (a second phase of a
    /// sliding window has half the width here).
    pub offset_ms: i64,
    /// Only groups with at least this many flows.
    pub min_flows: u64,
    /// Only groups with at least this many packets.
    pub min_packets: u64,
    /// Only groups with at least this many bytes.
    pub min_bytes: u64,
    /// Only groups with at least this many distinct peers.
    pub min_peers: u64,
    /// Only groups with at least this many distinct destination ports.
    pub min_ports: u64,
    /// Whether to count distinct peers and ports (the costly part of a
    /// grouping). Without, `peers` and `ports` are 0 and `min_peers` and
    /// `min_ports` are not tested: a first pass that finds the hosts worth
    /// counting exactly.
    pub distinct: bool,
}

impl WindowSpec {
    /// Windows of `width_ms` on `side`, every group returned.
    pub fn new(side: HostSide, width_ms: i64) -> Self {
        WindowSpec {
            side,
            width_ms,
            offset_ms: 0,
            min_flows: 0,
            min_packets: 0,
            min_bytes: 0,
            min_peers: 0,
            min_ports: 0,
            distinct: true,
        }
    }
}

/// One host in one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowRow {
    /// The host.
    pub host: Addr,
    /// Window start, Unix ms (flow time).
    pub start_ms: i64,
    /// Flows that started in the window.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct addresses at the other end.
    pub peers: u64,
    /// Distinct destination ports.
    pub ports: u64,
    /// TCP flows with SYN and none of ACK, FIN, RST.
    pub syn_only: u64,
    /// Flows of at most [`TINY_PACKETS`] packets and [`TINY_BYTES`] bytes.
    pub tiny: u64,
    /// First flow start in the window, Unix ms.
    pub first_ms: i64,
    /// Last flow end, Unix ms.
    pub last_ms: i64,
}

impl QueryEngine {
    /// The flows `filter` selects, grouped by host (`spec.side`) and window
    /// of flow start; the groups that reach every minimum of `spec`, by host
    /// then window.
    pub fn windows(
        &self,
        filter: &Filter,
        spec: &WindowSpec,
    ) -> Result<Vec<WindowRow>, QueryError> {
        if spec.width_ms <= 0 {
            return Err(QueryError::User("a window must be longer than 0".into()));
        }
        let (host, peer) = spec.side.columns();
        let t = cast(col("time_start"), DataType::Int64);
        let start = ((t - lit(spec.offset_ms)) / lit(spec.width_ms)) * lit(spec.width_ms)
            + lit(spec.offset_ms);
        let flag = |e: DfExpr| when(e, lit(1u64)).otherwise(lit(0u64));
        let syn_only = flag(col("proto").eq(lit(6u8)).and(
            binary_expr(col("tcp_flags"), Operator::BitwiseAnd, lit(SYN_ONLY_MASK)).eq(lit(0x02u8)),
        ))?;
        let tiny = flag(
            col("packets")
                .lt_eq(lit(TINY_PACKETS))
                .and(col("bytes").lt_eq(lit(TINY_BYTES))),
        )?;
        let distinct = |c: DfExpr| {
            if spec.distinct {
                count_distinct(c)
            } else {
                // A constant per group, in the same column.
                max(lit(0i64))
            }
        };
        let mut df = self.flows(filter)?.aggregate(
            vec![col(host).alias("host"), start.alias("win")],
            vec![
                count(lit(1)).alias("flows"),
                sum(col("packets")).alias("packets"),
                sum(col("bytes")).alias("bytes"),
                distinct(col(peer)).alias("peers"),
                distinct(col("dst_port")).alias("ports"),
                sum(syn_only).alias("syn_only"),
                sum(tiny).alias("tiny"),
                min(col("time_start")).alias("first"),
                max(col("time_end")).alias("last"),
            ],
        )?;
        for (column, least) in [
            ("flows", spec.min_flows),
            ("packets", spec.min_packets),
            ("bytes", spec.min_bytes),
            ("peers", spec.min_peers),
            ("ports", spec.min_ports),
        ] {
            let counted = spec.distinct || !matches!(column, "peers" | "ports");
            if least > 0 && counted {
                df = df.filter(cast(col(column), DataType::UInt64).gt_eq(lit(least)))?;
            }
        }
        let df = df.sort(vec![
            col("host").sort(true, false),
            col("win").sort(true, false),
        ])?;
        let mut out = Vec::new();
        for b in self.collect(df)? {
            let time = |c: usize, r: usize| -> i64 {
                use arrow_array::cast::AsArray;
                use arrow_array::types::TimestampMillisecondType;
                use arrow_array::Array;
                b.column(c)
                    .as_primitive_opt::<TimestampMillisecondType>()
                    .filter(|a| a.is_valid(r))
                    .map_or(0, |a| a.value(r))
            };
            for r in 0..b.num_rows() {
                out.push(WindowRow {
                    host: addr(b.column(0), r),
                    start_ms: uint(b.column(1), r) as i64,
                    flows: uint(b.column(2), r),
                    packets: uint(b.column(3), r),
                    bytes: uint(b.column(4), r),
                    peers: uint(b.column(5), r),
                    ports: uint(b.column(6), r),
                    syn_only: uint(b.column(7), r),
                    tiny: uint(b.column(8), r),
                    first_ms: time(9, r),
                    last_ms: time(10, r),
                });
            }
        }
        Ok(out)
    }
}
