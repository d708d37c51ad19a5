//! One machine's story (`flowhound host`): what a single address did in a
//! window — its volumes in and out over time, the ports it used and offered,
//! its peers — as the analyst drilling into a flagged host needs it.
//!
//! Built on the engine's public questions only: a few aggregations over
//! `src ip X` and over `dst ip X` (the engine prunes row groups by the
//! address), and one SQL statement for the peers, since "the other side of
//! the flow" is not a key.

use std::net::IpAddr;

use flowhound_filter::{AddrSet, Direction, Expr, Filter};
use flowhound_model::{addr_to_ip, Addr};
use flowhound_store::TimeWindow;
use serde::Serialize;

use crate::profile::{foreign_profile, ForeignProfile};
use crate::{AggRow, Aggregate, Cell, Key, Order, QueryEngine, QueryError, Value};

/// One hour, in ms: the bin of the distinct peer counts.
pub const HOUR_MS: i64 = 3_600_000;

/// Bin sizes the default is chosen from, smallest first.
const BIN_CHOICES_MS: [i64; 17] = [
    1_000,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    24 * HOUR_MS,
    7 * 24 * HOUR_MS,
    30 * 24 * HOUR_MS,
];

/// The default bin gives at most this many bins over the window.
const MAX_DEFAULT_BINS: i64 = 60;

/// At most this many bins, whatever `--bin` asks for.
pub const MAX_BINS: i64 = 10_000;

/// What to put in a [`HostReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostOptions {
    /// Time bin of the flows over time, ms; `None` chooses one that gives
    /// 24 to 60 bins over the window (or the data's span).
    pub bin_ms: Option<i64>,
    /// Rows of the ports and peers tables; 0 for all.
    pub top: usize,
    /// The site's internal networks (inclusive ranges), the measure of
    /// what peer countries are usual; empty: all flows are.
    pub internal: Vec<(Addr, Addr)>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            bin_ms: None,
            top: 10,
            internal: Vec::new(),
        }
    }
}

/// Flows of one direction: the host as source (`out`) or destination (`in`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostTotals {
    /// Flows.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest flow start, Unix ms (0 without flows).
    pub first_ms: i64,
    /// Latest flow end, Unix ms (0 without flows).
    pub last_ms: i64,
}

/// One time bin (by flow start), out and in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostBin {
    /// Start of the bin, Unix ms.
    pub start_ms: i64,
    /// Flows from the host.
    pub flows_out: u64,
    /// Packets from the host.
    pub packets_out: u64,
    /// Bytes from the host.
    pub bytes_out: u64,
    /// Flows to the host.
    pub flows_in: u64,
    /// Packets to the host.
    pub packets_in: u64,
    /// Bytes to the host.
    pub bytes_in: u64,
}

/// A destination port of the host's outgoing flows: what it talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PortUsed {
    /// IP protocol number.
    pub proto: u8,
    /// Destination port (ICMP: type << 8 | code).
    pub port: u16,
    /// Flows.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Distinct destination addresses.
    pub peers: u64,
}

/// The host's own port on its incoming flows: what it answers on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PortOffered {
    /// IP protocol number.
    pub proto: u8,
    /// The host's port (ICMP: type << 8 | code).
    pub port: u16,
    /// Flows.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Distinct source addresses.
    pub clients: u64,
}

/// An address the host exchanged flows with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// The peer's address.
    pub address: String,
    /// Flows in both directions.
    pub flows: u64,
    /// Packets in both directions.
    pub packets: u64,
    /// Bytes in both directions.
    pub bytes: u64,
    /// Flows from the host to the peer.
    pub flows_out: u64,
    /// Flows from the peer to the host.
    pub flows_in: u64,
}

/// Distinct peers in one hour (by flow start).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HourPeers {
    /// Start of the hour, Unix ms.
    pub start_ms: i64,
    /// Distinct destinations of the host's flows.
    pub peers_out: u64,
    /// Distinct sources of flows to the host.
    pub peers_in: u64,
}

/// The time window a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReportWindow {
    /// First millisecond, Unix ms.
    pub start_ms: i64,
    /// First millisecond after it (`None`: open-ended).
    pub end_ms: Option<i64>,
}

/// One machine's story in a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostReport {
    /// The host, as users write it.
    pub address: String,
    /// The window asked for (`None`: all stored flows).
    pub window: Option<ReportWindow>,
    /// The bin of [`HostReport::bins`], ms.
    pub bin_ms: i64,
    /// The host as source.
    pub out: HostTotals,
    /// The host as destination.
    #[serde(rename = "in")]
    pub inbound: HostTotals,
    /// Distinct peers over the whole window.
    pub peers_total: u64,
    /// Flows over time: every bin from the window's start (or the first
    /// flow) to its end (or the last flow), empty ones included.
    pub bins: Vec<HostBin>,
    /// The service ports of the connections it made (its requests'
    /// destination ports), most flows first.
    pub ports_used: Vec<PortUsed>,
    /// Its service ports that others connected to (requests to it), most
    /// flows first. Replies to its own connections are not counted: they
    /// come back to ephemeral ports.
    pub ports_offered: Vec<PortOffered>,
    /// Peers, most flows first (ties by address).
    pub peers: Vec<Peer>,
    /// Distinct peers per hour with flows.
    pub peers_per_hour: Vec<HourPeers>,
    /// Peer countries against the site's usual ones; `None` where no
    /// flow of the host has a country (no registry, then or now).
    pub countries: Option<ForeignProfile>,
    /// What the report could not tell, and why.
    pub notes: Vec<String>,
}

impl HostReport {
    /// Whether the host has no flow in the window.
    pub fn is_empty(&self) -> bool {
        self.out.flows == 0 && self.inbound.flows == 0
    }
}

/// The stored form of an address (IPv4 mapped into IPv6).
pub fn addr_of(ip: IpAddr) -> Addr {
    flowhound_model::addr_from_ip(ip)
}

/// The flows with `addr` on the side `dir`: a plain comparison the engine
/// prunes row groups with.
fn side(dir: Direction, addr: Addr) -> Filter {
    Filter {
        expr: Expr::Addr {
            dir,
            set: AddrSet::from_ranges(vec![(addr, addr)]),
        },
    }
}

/// The report on `ip` over the engine's flows. `window` is the one the
/// engine was opened with: it sets the span of the bins.
pub fn host_report(
    engine: &QueryEngine,
    ip: IpAddr,
    window: Option<TimeWindow>,
    opts: &HostOptions,
) -> Result<HostReport, QueryError> {
    let addr = addr_of(ip);
    let out_filter = side(Direction::Src, addr);
    let in_filter = side(Direction::Dst, addr);
    let limit = (opts.top > 0).then_some(opts.top);
    // The host's flows once from the files; the questions below run on them
    // in memory. The site's usual countries still need the whole window.
    let site = engine;
    let engine = &engine.subset(&side(Direction::Either, addr))?;

    // Per hour with distinct peers: the totals, the data's span and the
    // peers per hour, in one pass per direction.
    let hourly = |f: &Filter, peer: Key| {
        engine.aggregate(
            f,
            &Aggregate {
                keys: vec![Key::TimeBin(HOUR_MS)],
                distinct: vec![peer],
                order: None,
                limit: None,
            },
        )
    };
    let hours_out = hourly(&out_filter, Key::DstIp)?;
    let hours_in = hourly(&in_filter, Key::SrcIp)?;
    let out = totals_of(&hours_out);
    let inbound = totals_of(&hours_in);

    let bin_ms = match opts.bin_ms {
        Some(b) if b <= 0 => return Err(QueryError::User("the bin must be positive".into())),
        Some(b) => b,
        None => default_bin(window, &out, &inbound),
    };
    let (bins_out, bins_in) = if bin_ms == HOUR_MS {
        (hours_out.clone(), hours_in.clone())
    } else {
        let binned = |f: &Filter| {
            engine.aggregate(
                f,
                &Aggregate {
                    keys: vec![Key::TimeBin(bin_ms)],
                    distinct: vec![],
                    order: None,
                    limit: None,
                },
            )
        };
        (binned(&out_filter)?, binned(&in_filter)?)
    };
    let bins = fill_bins(window, bin_ms, &bins_out, &bins_in)?;

    // Requests only, both ways: the service ports it connected to, and
    // those it was connected to on; replies go back to ephemeral ports.
    let by_port = |f: &Filter, peer: Key| {
        engine.aggregate_requests(
            f,
            &Aggregate {
                keys: vec![Key::Proto, Key::DstPort],
                distinct: vec![peer],
                order: Some(Order::Flows),
                limit,
            },
        )
    };
    let ports_used = by_port(&out_filter, Key::DstIp)?
        .iter()
        .map(|r| {
            let (proto, port) = proto_port(r);
            PortUsed {
                proto,
                port,
                flows: r.flows,
                packets: r.packets,
                bytes: r.bytes,
                peers: r.distinct.first().copied().unwrap_or(0),
            }
        })
        .collect();
    let ports_offered = by_port(&in_filter, Key::SrcIp)?
        .iter()
        .map(|r| {
            let (proto, port) = proto_port(r);
            PortOffered {
                proto,
                port,
                flows: r.flows,
                packets: r.packets,
                bytes: r.bytes,
                clients: r.distinct.first().copied().unwrap_or(0),
            }
        })
        .collect();

    let (peers, peers_total) = peers(engine, addr, limit)?;
    let mut notes = Vec::new();
    let countries = peer_countries(engine, site, addr, &opts.internal, &mut notes)?;

    Ok(HostReport {
        address: addr_to_ip(addr).to_string(),
        window: window.map(|w| ReportWindow {
            start_ms: w.start_ms,
            end_ms: (w.end_ms != i64::MAX).then_some(w.end_ms),
        }),
        bin_ms,
        out,
        inbound,
        peers_total,
        bins,
        ports_used,
        ports_offered,
        peers,
        peers_per_hour: merge_hours(&hours_out, &hours_in),
        countries,
        notes,
    })
}

fn totals_of(rows: &[AggRow]) -> HostTotals {
    let mut t = HostTotals::default();
    for r in rows {
        if t.flows == 0 {
            t.first_ms = r.first_ms;
            t.last_ms = r.last_ms;
        }
        t.flows += r.flows;
        t.packets += r.packets;
        t.bytes += r.bytes;
        t.first_ms = t.first_ms.min(r.first_ms);
        t.last_ms = t.last_ms.max(r.last_ms);
    }
    t
}

/// The smallest bin from [`BIN_CHOICES_MS`] that gives at most
/// [`MAX_DEFAULT_BINS`] bins over the window, or the data's span where the
/// window leaves it open.
fn default_bin(window: Option<TimeWindow>, out: &HostTotals, inbound: &HostTotals) -> i64 {
    let data: Vec<&HostTotals> = [out, inbound].into_iter().filter(|t| t.flows > 0).collect();
    let first = data.iter().map(|t| t.first_ms).min();
    let last = data.iter().map(|t| t.last_ms).max();
    let start = window.map(|w| w.start_ms).or(first).unwrap_or(0);
    let end = match window {
        Some(w) if w.end_ms != i64::MAX => w.end_ms,
        _ => last.map(|l| l + 1).unwrap_or(start),
    };
    let span = end.saturating_sub(start).max(1);
    BIN_CHOICES_MS
        .iter()
        .copied()
        .find(|b| (span + b - 1) / b <= MAX_DEFAULT_BINS)
        .unwrap_or(BIN_CHOICES_MS[BIN_CHOICES_MS.len() - 1])
}

fn bin_start(r: &AggRow) -> i64 {
    match r.keys.first() {
        Some(Value::Time(t)) => *t,
        _ => 0,
    }
}

/// Every bin from the window's start (or the first flow's) to its end (or
/// the last flow's), with the counts of both directions.
fn fill_bins(
    window: Option<TimeWindow>,
    bin_ms: i64,
    out: &[AggRow],
    inbound: &[AggRow],
) -> Result<Vec<HostBin>, QueryError> {
    let starts = out.iter().chain(inbound).map(bin_start);
    let (data_lo, data_hi) = (starts.clone().min(), starts.max());
    let floor = |t: i64| t.div_euclid(bin_ms) * bin_ms;
    let lo = match (window, data_lo) {
        (Some(w), _) => floor(w.start_ms),
        (None, Some(lo)) => lo,
        (None, None) => return Ok(Vec::new()),
    };
    let hi = match (window, data_hi) {
        (Some(w), _) if w.end_ms != i64::MAX => floor(w.end_ms - 1),
        (_, Some(hi)) => hi,
        (_, None) => return Ok(Vec::new()),
    };
    let count = (hi - lo) / bin_ms + 1;
    if count > MAX_BINS {
        return Err(QueryError::User(format!(
            "a bin of {} s gives {count} bins; at most {MAX_BINS}: \
             choose a larger bin or a shorter window",
            bin_ms as f64 / 1000.0
        )));
    }
    let mut bins: Vec<HostBin> = (0..count.max(0))
        .map(|i| HostBin {
            start_ms: lo + i * bin_ms,
            ..HostBin::default()
        })
        .collect();
    let slot = |t: i64| usize::try_from((t - lo) / bin_ms).ok();
    for r in out {
        if let Some(b) = slot(bin_start(r)).and_then(|i| bins.get_mut(i)) {
            b.flows_out = r.flows;
            b.packets_out = r.packets;
            b.bytes_out = r.bytes;
        }
    }
    for r in inbound {
        if let Some(b) = slot(bin_start(r)).and_then(|i| bins.get_mut(i)) {
            b.flows_in = r.flows;
            b.packets_in = r.packets;
            b.bytes_in = r.bytes;
        }
    }
    Ok(bins)
}

fn merge_hours(out: &[AggRow], inbound: &[AggRow]) -> Vec<HourPeers> {
    let mut hours = std::collections::BTreeMap::<i64, HourPeers>::new();
    for (rows, is_out) in [(out, true), (inbound, false)] {
        for r in rows {
            let start_ms = bin_start(r);
            let h = hours.entry(start_ms).or_insert(HourPeers {
                start_ms,
                ..HourPeers::default()
            });
            let n = r.distinct.first().copied().unwrap_or(0);
            if is_out {
                h.peers_out = n;
            } else {
                h.peers_in = n;
            }
        }
    }
    hours.into_values().collect()
}

fn proto_port(r: &AggRow) -> (u8, u16) {
    let n = |i: usize| match r.keys.get(i) {
        Some(Value::Uint(n)) => *n,
        _ => 0,
    };
    (n(0) as u8, n(1) as u16)
}

/// `ip('X')` in SQL: constant-folded to the stored form, so the comparisons
/// stay plain and prune.
fn ip_sql(addr: Addr) -> String {
    format!("ip('{}')", addr_to_ip(addr))
}

/// The flows of the host, with `{src}`/`{dst}`-side columns turned into the
/// other side's: the peer's value of a two-sided field.
pub(crate) fn other_side(addr: Addr, src_column: &str, dst_column: &str) -> String {
    format!(
        "CASE WHEN src_ip = {ip} THEN {dst_column} ELSE {src_column} END",
        ip = ip_sql(addr)
    )
}

/// Our own statements failing is a bug, not the user's fault.
fn internal(what: &str, e: QueryError) -> QueryError {
    match e {
        QueryError::User(m) => QueryError::Engine(format!("{what}: {m}")),
        e => e,
    }
}

/// The top peers and the number of distinct peers, in one statement over
/// `engine`, the [`QueryEngine::subset`] that holds the host's flows only.
fn peers(
    engine: &QueryEngine,
    addr: Addr,
    limit: Option<usize>,
) -> Result<(Vec<Peer>, u64), QueryError> {
    let ip = ip_sql(addr);
    let sql = format!(
        "SELECT peer, flows, packets, bytes, flows_out, flows_in, count(*) OVER () AS peers_total \
         FROM (SELECT {peer} AS peer, count(*) AS flows, sum(packets) AS packets, \
               sum(bytes) AS bytes, \
               sum(CASE WHEN src_ip = {ip} THEN 1 ELSE 0 END) AS flows_out, \
               sum(CASE WHEN dst_ip = {ip} THEN 1 ELSE 0 END) AS flows_in \
               FROM flows GROUP BY 1) \
         ORDER BY flows DESC, peer ASC{limit}",
        peer = other_side(addr, "src_ip", "dst_ip"),
        limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default(),
    );
    let t = engine.sql(&sql).map_err(|e| internal("host peers", e))?;
    let total = t.rows.first().map(|r| uint_cell(r, 6)).unwrap_or(0);
    let peers = t
        .rows
        .iter()
        .map(|r| Peer {
            address: text_cell(r, 0),
            flows: uint_cell(r, 1),
            packets: uint_cell(r, 2),
            bytes: uint_cell(r, 3),
            flows_out: uint_cell(r, 4),
            flows_in: uint_cell(r, 5),
        })
        .collect();
    Ok((peers, total))
}

/// The foreign-destination profile, when countries are known.
fn peer_countries(
    host: &QueryEngine,
    site: &QueryEngine,
    addr: Addr,
    internal: &[(Addr, Addr)],
    notes: &mut Vec<String>,
) -> Result<Option<ForeignProfile>, QueryError> {
    let p = foreign_profile(host, site, addr, internal)?;
    if p.countries.iter().all(|c| c.country == "??") && !host.has_registry() {
        notes.push(
            "peer countries: these flows were stored without a registry; \
             name one in --config ([registry]) to look them up"
                .into(),
        );
        return Ok(None);
    }
    if internal.is_empty() {
        notes.push(
            "usual countries: measured on all flows; set [site] internal in --config \
             to measure them on the site's own traffic"
                .into(),
        );
    }
    Ok(Some(p))
}

fn uint_cell(row: &[Cell], i: usize) -> u64 {
    match row.get(i) {
        Some(Cell::UInt(n)) => *n,
        Some(Cell::Int(n)) => (*n).max(0) as u64,
        _ => 0,
    }
}

fn text_cell(row: &[Cell], i: usize) -> String {
    match row.get(i) {
        Some(Cell::Text(s)) => s.clone(),
        Some(Cell::Null) | None => String::new(),
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use flowhound_generate::{Scenario, Traffic};
    use flowhound_model::FlowRecord;
    use flowhound_store::{FlowBatch, LocalStore, ParquetWriter, WriteOptions};

    use super::*;

    const START: i64 = 1_795_701_600_000; // 2026-11-26 14:00 UTC

    /// A spam bot's afternoon (3 h of flow time), and the bot.
    fn data_set(dir: &std::path::Path) -> (Vec<FlowRecord>, IpAddr) {
        let mut t = Traffic::new(7, START, Scenario::SpamBot);
        let bot = IpAddr::V4(t.incidents()[0].host);
        let flows: Vec<FlowRecord> = (0..12_000i64)
            .map(|i| t.next_flow(START + i * 900))
            .collect();
        let batch: FlowBatch = flows.iter().copied().collect();
        ParquetWriter::new(dir, WriteOptions::default())
            .write(&[batch.to_record_batch()])
            .expect("write parquet");
        (flows, bot)
    }

    fn totals(flows: &[&FlowRecord]) -> HostTotals {
        HostTotals {
            flows: flows.len() as u64,
            packets: flows.iter().map(|f| f.packets).sum(),
            bytes: flows.iter().map(|f| f.bytes).sum(),
            first_ms: flows.iter().map(|f| f.time_start).min().unwrap_or(0),
            last_ms: flows.iter().map(|f| f.time_end).max().unwrap_or(0),
        }
    }

    #[test]
    fn report_equals_a_count_over_the_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (flows, bot) = data_set(dir.path());
        let a = addr_of(bot);
        let engine = QueryEngine::open(&LocalStore::new(dir.path()), None, None).expect("engine");
        let r = host_report(
            &engine,
            bot,
            None,
            &HostOptions {
                top: 0,
                ..HostOptions::default()
            },
        )
        .expect("report");

        let out: Vec<&FlowRecord> = flows.iter().filter(|f| f.src_ip == a).collect();
        let inb: Vec<&FlowRecord> = flows.iter().filter(|f| f.dst_ip == a).collect();
        assert!(out.len() > 100 && !inb.is_empty(), "the bot is busy");
        assert_eq!(r.out, totals(&out));
        assert_eq!(r.inbound, totals(&inb));

        // 3 h of data: 5-minute bins, between 24 and 60 of them, summing up.
        assert_eq!(r.bin_ms, 300_000);
        assert!((24..=60).contains(&r.bins.len()), "{} bins", r.bins.len());
        assert_eq!(r.bins.iter().map(|b| b.flows_out).sum::<u64>(), r.out.flows);
        assert_eq!(
            r.bins.iter().map(|b| b.bytes_in).sum::<u64>(),
            r.inbound.bytes
        );
        for w in r.bins.windows(2) {
            assert_eq!(w[1].start_ms - w[0].start_ms, r.bin_ms, "contiguous bins");
        }
        let first_bin = &r.bins[0];
        let want = out
            .iter()
            .filter(|f| f.time_start / 300_000 * 300_000 == first_bin.start_ms)
            .count() as u64;
        assert_eq!(first_bin.flows_out, want);

        // Ports used: per (proto, port) of its requests, flows and
        // distinct destinations.
        let mut ports: BTreeMap<(u8, u16), (u64, BTreeSet<u128>)> = BTreeMap::new();
        for f in out
            .iter()
            .filter(|f| f.src_port == 0 || f.dst_port <= f.src_port)
        {
            let e = ports.entry((f.proto, f.dst_port)).or_default();
            e.0 += 1;
            e.1.insert(f.dst_ip);
        }
        assert_eq!(r.ports_used.len(), ports.len());
        for p in &r.ports_used {
            let (n, peers) = &ports[&(p.proto, p.port)];
            assert_eq!((p.flows, p.peers), (*n, peers.len() as u64), "{p:?}");
        }
        assert!(r.ports_used.windows(2).all(|w| w[0].flows >= w[1].flows));
        assert_eq!((r.ports_used[0].proto, r.ports_used[0].port), (6, 25));

        // Peers: the other side, both directions.
        let mut peers: BTreeMap<u128, (u64, u64, u64)> = BTreeMap::new();
        for f in out.iter().chain(&inb) {
            let other = if f.src_ip == a { f.dst_ip } else { f.src_ip };
            let e = peers.entry(other).or_default();
            e.0 += 1;
            if f.src_ip == a {
                e.1 += 1;
            }
            if f.dst_ip == a {
                e.2 += 1;
            }
        }
        assert_eq!(r.peers_total, peers.len() as u64);
        assert_eq!(r.peers.len(), peers.len());
        let mut want: Vec<(u64, u128)> = peers.iter().map(|(p, c)| (c.0, *p)).collect();
        want.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        for (got, (n, p)) in r.peers.iter().zip(&want) {
            assert_eq!(got.address, addr_to_ip(*p).to_string());
            assert_eq!(got.flows, *n);
            assert_eq!((got.flows_out, got.flows_in), (peers[p].1, peers[p].2));
        }

        // Distinct peers per hour.
        for h in &r.peers_per_hour {
            let n = out
                .iter()
                .filter(|f| f.time_start / HOUR_MS * HOUR_MS == h.start_ms)
                .map(|f| f.dst_ip)
                .collect::<BTreeSet<_>>()
                .len() as u64;
            assert_eq!(h.peers_out, n);
        }
        assert!(r.countries.is_none() && !r.notes.is_empty());
    }

    #[test]
    fn top_limits_and_window_fills_bins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, bot) = data_set(dir.path());
        let w = TimeWindow::new(START - HOUR_MS, START + 5 * HOUR_MS);
        let engine =
            QueryEngine::open(&LocalStore::new(dir.path()), Some(w), None).expect("engine");
        let r = host_report(&engine, bot, Some(w), &HostOptions::default()).expect("report");
        assert_eq!(r.peers.len(), 10);
        assert!(r.peers_total > 10);
        // 6 h: 10-minute bins, from the window's start to its end, empty ones too.
        assert_eq!(r.bin_ms, 600_000);
        assert_eq!(r.bins.len(), 36);
        assert_eq!(r.bins[0].start_ms, START - HOUR_MS);
        assert_eq!(r.bins[0].flows_out + r.bins[0].flows_in, 0);

        let r = host_report(
            &engine,
            "192.0.2.99".parse().expect("ip"),
            Some(w),
            &HostOptions::default(),
        )
        .expect("report");
        assert!(r.is_empty() && r.peers.is_empty() && r.ports_used.is_empty());

        let err = host_report(
            &engine,
            bot,
            Some(w),
            &HostOptions {
                bin_ms: Some(1),
                ..HostOptions::default()
            },
        )
        .expect_err("too many bins");
        assert!(matches!(err, QueryError::User(_)), "{err}");
    }

    #[test]
    fn default_bins() {
        let t = |first_ms, last_ms| HostTotals {
            flows: 1,
            first_ms,
            last_ms,
            ..HostTotals::default()
        };
        let none = HostTotals::default();
        let day = TimeWindow::new(0, 24 * HOUR_MS);
        assert_eq!(default_bin(Some(day), &none, &none), 1_800_000);
        let hour = TimeWindow::new(0, HOUR_MS);
        assert_eq!(default_bin(Some(hour), &none, &none), 60_000);
        assert_eq!(default_bin(None, &t(0, 2 * HOUR_MS - 1), &none), 300_000);
        assert_eq!(default_bin(None, &none, &t(5, 5)), 1_000);
        assert_eq!(default_bin(None, &none, &none), 1_000);
    }
}
