//! Rules over flows as they arrive: the collector's decoded batches, before
//! any file is written.
//!
//! The semantics are those of [`crate::detect`] over history: the same
//! window phases (tumbling, or two phases half a window apart when
//! sliding), windows by flow start, the same thresholds, the same inventory
//! conditions. Each rule's filter selects rows of a batch at once
//! ([`BatchFilter`]); the few rows selected are counted per host and
//! window, with exact distinct sets of peers and ports. An alert is raised
//! as soon as a window crosses every threshold and condition, not when it
//! closes; windows close by flow time ([`LiveDetector::tick`]), and a
//! window that raised an alert gives a last one with its final counts then.
//!
//! Rules with the same filter, key and windows share their counts (the
//! pack's spam rules, its scan rules). Memory is bounded: a distinct set
//! stops growing at the largest threshold that needs it (and at
//! [`REPORT_CAP`]), and a rule whose filter selects more hosts than
//! [`HOST_BUDGET`] in its open windows (every TCP source, under a flood of
//! spoofed sources) tracks a new host only once a small sketch has seen
//! [`ADMIT_FLOWS`] of its flows in the window: its first flows are then
//! missing from its counts.
//!
//! Differences from history: corroborating flows (`also`) and the foreign
//! share are judged per window, not over the whole merged incident; merging
//! windows into incidents is the alert store's job.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, FixedSizeBinaryArray, RecordBatch};
use flowhound_model::{addr_to_ip, Addr, COUNTRY_NONE, COUNTRY_UNKNOWN};
use flowhound_query::{BatchFilter, HostSide, SYN_ONLY_MASK, TINY_BYTES, TINY_PACKETS};
use flowhound_store::FlowStore;

use crate::alert::{nfdump_window, Alert, CountryFlows, PortFlows};
use crate::history::{above_baseline, cannot_run, host_ok, Context, Incident, TOP};
use crate::rule::Rule;

/// How long after its end (in flow time) a window still takes flows:
/// exporters send a long flow when its active timeout (often 300 s) ends,
/// and windows are by flow start.
pub const LATENESS_MS: i64 = 6 * 60_000;
/// A distinct set keeps at most this many members (or the threshold that
/// needs more): what an alert reports beyond it is a lower bound.
pub const REPORT_CAP: usize = 4096;
/// Host windows one rule group tracks in full before new hosts must pass
/// the sketch.
pub const HOST_BUDGET: usize = 250_000;
/// Beyond this many host windows a group tracks no new host at all.
pub const HOST_LIMIT: usize = 4 * HOST_BUDGET;
/// Flows of a host in a window the sketch must count before the host is
/// tracked, once its group is over [`HOST_BUDGET`].
pub const ADMIT_FLOWS: u8 = 3;

const SKETCH_BITS: u32 = 18;

/// Counters of a live detector, for `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Flows pushed.
    pub flows: u64,
    /// Flows that came for a window already closed (counted once per rule
    /// group and phase), and were left out.
    pub late_flows: u64,
    /// Flows of hosts not tracked (a group over its host budget).
    pub untracked_flows: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Batches or baseline queries that failed.
    pub errors: u64,
    /// Host windows tracked now, over every group and phase.
    pub tracked_windows: u64,
}

/// A keyed multiplicative hash: fast for addresses, and its key (random
/// per detector) keeps crafted addresses from colliding on purpose.
#[derive(Clone, Copy)]
struct KeyedState(u64);

impl KeyedState {
    fn new() -> Self {
        KeyedState(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1)
    }
}

struct KeyedHasher {
    key: u64,
    h: u64,
}

impl Hasher for KeyedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.h = (self.h.rotate_left(23) ^ v).wrapping_mul(self.key);
    }
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        let h = self.h ^ (self.h >> 29);
        h.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (h >> 32)
    }
}

impl BuildHasher for KeyedState {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher {
            key: self.0,
            h: self.0.rotate_left(17),
        }
    }
}

type Map<K, V> = HashMap<K, V, KeyedState>;
type Set<K> = HashSet<K, KeyedState>;

/// One host in one window: what its thresholds and its alert need.
struct Acc {
    flows: u64,
    packets: u64,
    bytes: u64,
    syn_only: u64,
    tiny: u64,
    peers: Set<Addr>,
    /// Flows per destination port: the distinct ports and the top ones.
    ports: Map<u16, u64>,
    /// Flows per peer country (stored countries only).
    countries: Vec<([u8; 2], u64)>,
    /// The group's rules that raised an alert on this window.
    raised: u64,
}

impl Acc {
    fn new(state: KeyedState) -> Self {
        Acc {
            flows: 0,
            packets: 0,
            bytes: 0,
            syn_only: 0,
            tiny: 0,
            peers: Set::with_hasher(state),
            ports: Map::with_hasher(state),
            countries: Vec::new(),
            raised: 0,
        }
    }
}

/// A count-min sketch of flows per host, for one window.
struct Sketch {
    rows: [Vec<u8>; 2],
    keys: [KeyedState; 2],
}

impl Sketch {
    fn new() -> Self {
        Sketch {
            rows: [vec![0; 1 << SKETCH_BITS], vec![0; 1 << SKETCH_BITS]],
            keys: [KeyedState::new(), KeyedState::new()],
        }
    }

    /// Count one flow of `host`; the smallest of its counters after.
    fn add(&mut self, host: Addr) -> u8 {
        let mut least = u8::MAX;
        for (row, key) in self.rows.iter_mut().zip(self.keys) {
            let i = (key.hash_one(host) >> (64 - SKETCH_BITS)) as usize;
            if let Some(c) = row.get_mut(i) {
                *c = c.saturating_add(1);
                least = least.min(*c);
            }
        }
        least
    }
}

/// The windows of one start in one phase.
struct WindowSet {
    hosts: Map<Addr, Acc>,
    sketch: Option<Sketch>,
}

struct Phase {
    offset_ms: i64,
    /// Windows that end at or before this take no more flows.
    closed_until: i64,
    windows: BTreeMap<i64, WindowSet>,
}

/// Rules that count the same flows the same way.
struct Group {
    filter: BatchFilter,
    key: HostSide,
    window_ms: i64,
    phases: Vec<Phase>,
    /// Indices into the detector's rules; bit `i` of `Acc::raised` is `rules[i]`.
    rules: Vec<usize>,
    peer_cap: usize,
    port_cap: usize,
    /// Fewer flows than this cannot pass any rule of the group.
    least_flows: u64,
    tracked: usize,
}

/// Corroborating flows of one rule, per host (either end) and window.
struct AlsoTally {
    filter: BatchFilter,
    /// Per phase (the rule's): window start → host → flows.
    counts: Vec<BTreeMap<i64, Map<Addr, u64>>>,
}

struct LiveRule {
    rule: Rule,
    group: usize,
    also: Option<AlsoTally>,
    /// Windows past every threshold that wait for a condition (corroboration):
    /// host → (phase, window start).
    pending: Map<Addr, Vec<(usize, i64)>>,
    /// Baseline answers: (host, phase, window start) → (flows when asked, answer).
    baseline: Map<(Addr, usize, i64), (u64, bool)>,
}

/// The columns of a batch that detection reads.
struct Cols<'a> {
    time_start: &'a arrow_array::PrimitiveArray<TimestampMillisecondType>,
    src: &'a FixedSizeBinaryArray,
    dst: &'a FixedSizeBinaryArray,
    dst_port: &'a arrow_array::UInt16Array,
    proto: &'a arrow_array::UInt8Array,
    flags: &'a arrow_array::UInt8Array,
    packets: &'a arrow_array::UInt64Array,
    bytes: &'a arrow_array::UInt64Array,
    src_country: Option<&'a arrow_array::StringArray>,
    dst_country: Option<&'a arrow_array::StringArray>,
}

fn cols(b: &RecordBatch) -> Option<Cols<'_>> {
    Some(Cols {
        time_start: b
            .column_by_name("time_start")?
            .as_primitive_opt::<TimestampMillisecondType>()?,
        src: b.column_by_name("src_ip")?.as_fixed_size_binary_opt()?,
        dst: b.column_by_name("dst_ip")?.as_fixed_size_binary_opt()?,
        dst_port: b.column_by_name("dst_port")?.as_primitive_opt()?,
        proto: b.column_by_name("proto")?.as_primitive_opt()?,
        flags: b.column_by_name("tcp_flags")?.as_primitive_opt()?,
        packets: b.column_by_name("packets")?.as_primitive_opt()?,
        bytes: b.column_by_name("bytes")?.as_primitive_opt()?,
        src_country: b
            .column_by_name("src_country")
            .and_then(|c| c.as_string_opt()),
        dst_country: b
            .column_by_name("dst_country")
            .and_then(|c| c.as_string_opt()),
    })
}

fn addr_at(a: &FixedSizeBinaryArray, i: usize) -> Addr {
    let v = a.value(i);
    let mut b = [0u8; 16];
    if v.len() == 16 {
        b.copy_from_slice(v);
    }
    u128::from_be_bytes(b)
}

fn country_at(a: Option<&arrow_array::StringArray>, i: usize) -> [u8; 2] {
    match a {
        Some(a) if a.is_valid(i) => {
            let s = a.value(i).as_bytes();
            if s.len() == 2 {
                [s[0], s[1]]
            } else {
                COUNTRY_NONE
            }
        }
        _ => COUNTRY_NONE,
    }
}

fn window_start(t: i64, width: i64, offset: i64) -> i64 {
    (t - offset).div_euclid(width) * width + offset
}

/// Detection rules evaluated continuously over flow batches.
pub struct LiveDetector {
    rules: Vec<LiveRule>,
    groups: Vec<Group>,
    ctx: Context,
    store: Option<Box<dyn FlowStore + Send>>,
    skipped: Vec<(String, String)>,
    watermark: i64,
    state: KeyedState,
    stats: LiveStats,
}

impl LiveDetector {
    /// A detector for `rules` on the site of `ctx`. Rules that cannot run
    /// (see [`LiveDetector::skipped`]) are left out; so are baseline rules
    /// until [`LiveDetector::with_store`] gives them the history they need.
    pub fn new(rules: Vec<Rule>, ctx: Context) -> Self {
        LiveDetector::build(rules, ctx, None)
    }

    /// [`LiveDetector::new`] with the store the flows are written to, for
    /// rules that compare a host with its own past (`when.baseline`).
    pub fn with_store(rules: Vec<Rule>, ctx: Context, store: Box<dyn FlowStore + Send>) -> Self {
        LiveDetector::build(rules, ctx, Some(store))
    }

    fn build(rules: Vec<Rule>, ctx: Context, store: Option<Box<dyn FlowStore + Send>>) -> Self {
        let state = KeyedState::new();
        let countries = ctx.enricher.as_ref().is_some_and(|e| e.has_countries());
        let mut d = LiveDetector {
            rules: Vec::new(),
            groups: Vec::new(),
            ctx,
            store,
            skipped: Vec::new(),
            watermark: i64::MIN,
            state,
            stats: LiveStats::default(),
        };
        for rule in rules {
            if let Some(why) = cannot_run(&rule, &d.ctx, countries) {
                d.skipped.push((rule.name.clone(), why));
                continue;
            }
            if rule.when.baseline.is_some() && d.store.is_none() {
                d.skipped.push((
                    rule.name.clone(),
                    "it compares a host with its past, and no store was given".into(),
                ));
                continue;
            }
            if let Err(why) = d.add(rule.clone()) {
                d.skipped.push((rule.name, why));
            }
        }
        d
    }

    fn add(&mut self, rule: Rule) -> Result<(), String> {
        let also = match &rule.also {
            Some(a) => Some(AlsoTally {
                filter: BatchFilter::new(&a.filter).map_err(|e| format!("also.filter: {e}"))?,
                counts: (0..phase_offsets(&rule).len())
                    .map(|_| BTreeMap::new())
                    .collect(),
            }),
            None => None,
        };
        let index = self.rules.len();
        let found = self.groups.iter().position(|g| {
            let first = &self.rules[g.rules[0]].rule;
            first.filter == rule.filter
                && first.key == rule.key
                && first.window_ms == rule.window_ms
                && first.sliding == rule.sliding
                && g.rules.len() < 64
        });
        let th = &rule.threshold;
        let least = th
            .flows
            .max(th.distinct_peers)
            .max(th.distinct_ports)
            .max(1);
        let peers = usize::try_from(th.distinct_peers)
            .unwrap_or(usize::MAX)
            .max(REPORT_CAP);
        let ports = usize::try_from(th.distinct_ports)
            .unwrap_or(usize::MAX)
            .max(REPORT_CAP);
        let group = match found {
            Some(g) => {
                let grp = &mut self.groups[g];
                grp.rules.push(index);
                grp.least_flows = grp.least_flows.min(least);
                grp.peer_cap = grp.peer_cap.max(peers);
                grp.port_cap = grp.port_cap.max(ports);
                g
            }
            None => {
                let filter = BatchFilter::new(&rule.filter).map_err(|e| format!("filter: {e}"))?;
                self.groups.push(Group {
                    filter,
                    key: rule.key,
                    window_ms: rule.window_ms,
                    phases: phase_offsets(&rule)
                        .into_iter()
                        .map(|offset_ms| Phase {
                            offset_ms,
                            closed_until: i64::MIN,
                            windows: BTreeMap::new(),
                        })
                        .collect(),
                    rules: vec![index],
                    peer_cap: peers,
                    port_cap: ports,
                    least_flows: least,
                    tracked: 0,
                });
                self.groups.len() - 1
            }
        };
        self.rules.push(LiveRule {
            rule,
            group,
            also,
            pending: Map::with_hasher(self.state),
            baseline: Map::with_hasher(self.state),
        });
        Ok(())
    }

    /// Rules that do not run, and why.
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// How many rules run.
    pub fn rules_running(&self) -> usize {
        self.rules.len()
    }

    /// The latest flow end seen, Unix ms (flow time): what "now" is for
    /// the flows pushed so far.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// The counters so far.
    pub fn stats(&self) -> LiveStats {
        let mut s = self.stats.clone();
        s.tracked_windows = self.groups.iter().map(|g| g.tracked as u64).sum();
        s
    }

    /// Count a batch of flows (in the flow schema); the alerts it raises.
    pub fn push(&mut self, batch: &RecordBatch) -> Vec<Alert> {
        let mut out = Vec::new();
        if batch.num_rows() == 0 {
            return out;
        }
        self.stats.flows += batch.num_rows() as u64;
        if let Some(t) = batch
            .column_by_name("time_end")
            .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
            .and_then(arrow_arith_max)
        {
            self.watermark = self.watermark.max(t);
        }
        // Corroborating flows first: a flow that completes the evidence
        // counts before the window it completes is judged.
        let mut touched: Vec<(usize, Addr)> = Vec::new();
        for ri in 0..self.rules.len() {
            if self.rules[ri].also.is_some() {
                self.count_also(ri, batch, &mut touched);
            }
        }
        for gi in 0..self.groups.len() {
            self.count_group(gi, batch, &mut out);
        }
        touched.sort_unstable();
        touched.dedup();
        for (ri, host) in touched {
            self.recheck_pending(ri, host, &mut out);
        }
        self.stats.alerts += out.len() as u64;
        out
    }

    fn count_also(&mut self, ri: usize, batch: &RecordBatch, touched: &mut Vec<(usize, Addr)>) {
        let lr = &mut self.rules[ri];
        let Some(also) = lr.also.as_mut() else {
            return;
        };
        let selected = match also.filter.select(batch) {
            Ok(s) => s,
            Err(_) => {
                self.stats.errors += 1;
                return;
            }
        };
        let Some(c) = cols(&selected) else {
            self.stats.errors += 1;
            return;
        };
        let offsets = phase_offsets(&lr.rule);
        let group = &self.groups[lr.group];
        for i in 0..selected.num_rows() {
            let t = c.time_start.value(i);
            for host in [addr_at(c.src, i), addr_at(c.dst, i)] {
                if !host_ok(&lr.rule, &self.ctx.site, host) {
                    continue;
                }
                for (p, &off) in offsets.iter().enumerate() {
                    let start = window_start(t, lr.rule.window_ms, off);
                    if start + lr.rule.window_ms <= group.phases[p].closed_until {
                        continue;
                    }
                    let Some(per) = also.counts.get_mut(p) else {
                        continue;
                    };
                    let m = per
                        .entry(start)
                        .or_insert_with(|| Map::with_hasher(self.state));
                    if m.len() >= HOST_LIMIT && !m.contains_key(&host) {
                        continue;
                    }
                    *m.entry(host).or_default() += 1;
                    if lr.pending.contains_key(&host) {
                        touched.push((ri, host));
                    }
                }
            }
        }
    }

    fn count_group(&mut self, gi: usize, batch: &RecordBatch, out: &mut Vec<Alert>) {
        let Self {
            rules,
            groups,
            ctx,
            store,
            state,
            stats,
            ..
        } = self;
        let g = &mut groups[gi];
        let selected = match g.filter.select(batch) {
            Ok(s) => s,
            Err(_) => {
                stats.errors += 1;
                return;
            }
        };
        if selected.num_rows() == 0 {
            return;
        }
        let Some(c) = cols(&selected) else {
            stats.errors += 1;
            return;
        };
        let site = &ctx.site;
        for i in 0..selected.num_rows() {
            let (host, peer, peer_country) = match g.key {
                HostSide::Src => (addr_at(c.src, i), addr_at(c.dst, i), c.dst_country),
                HostSide::Dst => (addr_at(c.dst, i), addr_at(c.src, i), c.src_country),
            };
            if !g
                .rules
                .iter()
                .any(|&ri| host_ok(&rules[ri].rule, site, host))
            {
                continue;
            }
            let t = c.time_start.value(i);
            let proto = c.proto.value(i);
            let packets = c.packets.value(i);
            let bytes = c.bytes.value(i);
            let syn_only = proto == 6 && c.flags.value(i) & SYN_ONLY_MASK == 0x02;
            let tiny = packets <= TINY_PACKETS && bytes <= TINY_BYTES;
            let port = c.dst_port.value(i);
            let mut country = country_at(peer_country, i);
            if country == COUNTRY_NONE {
                if let Some(e) = ctx.enricher.as_ref().filter(|e| e.has_countries()) {
                    country = e.country(peer).unwrap_or(COUNTRY_UNKNOWN);
                }
            }
            for p in 0..g.phases.len() {
                let width = g.window_ms;
                let phase = &mut g.phases[p];
                let start = window_start(t, width, phase.offset_ms);
                if start + width <= phase.closed_until {
                    stats.late_flows += 1;
                    continue;
                }
                let set = phase.windows.entry(start).or_insert_with(|| WindowSet {
                    hosts: Map::with_hasher(*state),
                    sketch: None,
                });
                if !set.hosts.contains_key(&host) {
                    if g.tracked >= HOST_LIMIT {
                        stats.untracked_flows += 1;
                        continue;
                    }
                    if g.tracked >= HOST_BUDGET {
                        let sketch = set.sketch.get_or_insert_with(Sketch::new);
                        if sketch.add(host) < ADMIT_FLOWS {
                            stats.untracked_flows += 1;
                            continue;
                        }
                    }
                    g.tracked += 1;
                }
                let acc = set.hosts.entry(host).or_insert_with(|| Acc::new(*state));
                acc.flows += 1;
                acc.packets += packets;
                acc.bytes += bytes;
                acc.syn_only += u64::from(syn_only);
                acc.tiny += u64::from(tiny);
                if acc.peers.len() < g.peer_cap {
                    acc.peers.insert(peer);
                }
                if acc.ports.len() < g.port_cap || acc.ports.contains_key(&port) {
                    *acc.ports.entry(port).or_default() += 1;
                }
                if country != COUNTRY_NONE {
                    match acc.countries.iter_mut().find(|(cc, _)| *cc == country) {
                        Some((_, n)) => *n += 1,
                        None => acc.countries.push((country, 1)),
                    }
                }
                if acc.flows < g.least_flows {
                    continue;
                }
                for (bit, &ri) in g.rules.iter().enumerate() {
                    if acc.raised & (1 << bit) != 0 {
                        continue;
                    }
                    let lr = &mut rules[ri];
                    match judge(lr, p, start, host, acc, ctx, store.as_deref(), stats) {
                        Verdict::Raise => {
                            acc.raised |= 1 << bit;
                            if let Some(v) = lr.pending.get_mut(&host) {
                                v.retain(|w| *w != (p, start));
                            }
                            out.push(alert_of(&lr.rule, ctx, host, start, acc));
                        }
                        Verdict::Wait => {
                            let v = lr.pending.entry(host).or_default();
                            if !v.contains(&(p, start)) {
                                v.push((p, start));
                            }
                        }
                        Verdict::No => {}
                    }
                }
            }
        }
    }

    /// Judge again the windows of `host` under rule `ri` that waited for
    /// corroborating flows.
    fn recheck_pending(&mut self, ri: usize, host: Addr, out: &mut Vec<Alert>) {
        let Self {
            rules,
            groups,
            ctx,
            store,
            stats,
            ..
        } = self;
        let lr = &mut rules[ri];
        let g = &mut groups[lr.group];
        let Some(bit) = g.rules.iter().position(|&r| r == ri) else {
            return;
        };
        let waiting = lr.pending.remove(&host).unwrap_or_default();
        let mut still = Vec::new();
        for (p, start) in waiting {
            let Some(acc) = g.phases[p]
                .windows
                .get_mut(&start)
                .and_then(|s| s.hosts.get_mut(&host))
            else {
                continue;
            };
            if acc.raised & (1 << bit) != 0 {
                continue;
            }
            match judge(lr, p, start, host, acc, ctx, store.as_deref(), stats) {
                Verdict::Raise => {
                    acc.raised |= 1 << bit;
                    out.push(alert_of(&lr.rule, ctx, host, start, acc));
                }
                Verdict::Wait => still.push((p, start)),
                Verdict::No => {}
            }
        }
        if !still.is_empty() {
            lr.pending.insert(host, still);
        }
    }

    /// Close the windows that ended [`LATENESS_MS`] before `now_ms` (flow
    /// time); the final counts of those that raised alerts, as alerts for
    /// the same windows (the alert store updates its rows with them).
    pub fn tick(&mut self, now_ms: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        let until = now_ms.saturating_sub(LATENESS_MS);
        if until <= i64::MIN / 2 {
            return out;
        }
        let Self {
            rules, groups, ctx, ..
        } = self;
        for g in groups.iter_mut() {
            let width = g.window_ms;
            for (p, phase) in g.phases.iter_mut().enumerate() {
                // Window starts lie on the phase's grid: close the newest
                // start that ended by `until`, and all before it.
                let closed = window_start(until - width, width, phase.offset_ms) + width;
                if closed <= phase.closed_until {
                    continue;
                }
                phase.closed_until = closed;
                let keep = phase.windows.split_off(&(closed - width + 1));
                let gone = std::mem::replace(&mut phase.windows, keep);
                for (start, set) in gone {
                    g.tracked = g.tracked.saturating_sub(set.hosts.len());
                    for (host, acc) in set.hosts {
                        for (bit, &ri) in g.rules.iter().enumerate() {
                            if acc.raised & (1 << bit) != 0 {
                                out.push(alert_of(&rules[ri].rule, ctx, host, start, &acc));
                            }
                        }
                    }
                }
                for &ri in &g.rules {
                    let lr = &mut rules[ri];
                    if let Some(also) = lr.also.as_mut() {
                        if let Some(per) = also.counts.get_mut(p) {
                            let keep = per.split_off(&(closed - width + 1));
                            *per = keep;
                        }
                    }
                    lr.pending.retain(|_, v| {
                        v.retain(|(pp, s)| *pp != p || *s + width > closed);
                        !v.is_empty()
                    });
                    lr.baseline
                        .retain(|(_, pp, s), _| *pp != p || *s + width > closed);
                }
            }
        }
        out
    }
}

fn arrow_arith_max(a: &arrow_array::PrimitiveArray<TimestampMillisecondType>) -> Option<i64> {
    let mut m: Option<i64> = None;
    for i in 0..a.len() {
        if a.is_valid(i) {
            let v = a.value(i);
            m = Some(m.map_or(v, |x| x.max(v)));
        }
    }
    m
}

fn phase_offsets(rule: &Rule) -> Vec<i64> {
    if rule.sliding {
        vec![0, rule.window_ms / 2]
    } else {
        vec![0]
    }
}

enum Verdict {
    Raise,
    /// Past the thresholds; waiting for corroborating flows.
    Wait,
    No,
}

/// The rule's thresholds and conditions on one host window.
#[allow(clippy::too_many_arguments)]
fn judge(
    lr: &mut LiveRule,
    phase: usize,
    start: i64,
    host: Addr,
    acc: &Acc,
    ctx: &Context,
    store: Option<&(dyn FlowStore + Send)>,
    stats: &mut LiveStats,
) -> Verdict {
    let rule = &lr.rule;
    let th = &rule.threshold;
    let flows = acc.flows.max(1) as f64;
    let passes = acc.flows >= th.flows
        && acc.packets >= th.packets
        && acc.bytes >= th.bytes
        && acc.peers.len() as u64 >= th.distinct_peers
        && acc.ports.len() as u64 >= th.distinct_ports
        && th
            .syn_only_share
            .is_none_or(|s| acc.syn_only as f64 / flows >= s)
        && th.tiny_share.is_none_or(|s| acc.tiny as f64 / flows >= s);
    if !passes
        || !host_ok(rule, &ctx.site, host)
        || (rule.when.quiet_hours && !ctx.site.is_quiet(start))
    {
        return Verdict::No;
    }
    if let Some(need) = rule.when.foreign_share {
        let (known, foreign) = foreign_of(acc, ctx);
        if known == 0 || (foreign as f64) < need * known as f64 {
            return Verdict::No;
        }
    }
    if let Some(b) = &rule.when.baseline {
        let Some(store) = store else {
            return Verdict::No;
        };
        let key = (host, phase, start);
        match lr.baseline.get(&key) {
            Some((_, true)) => {}
            // Asked already: ask again only once the window has doubled.
            Some((at, false)) if acc.flows < at.saturating_mul(2) => return Verdict::No,
            _ => {
                let inc = Incident {
                    host,
                    start_ms: start,
                    end_ms: start + rule.window_ms,
                    peak_flows: acc.flows,
                    peak_start_ms: start,
                };
                let above = match above_baseline(store, rule, ctx, &inc, b.factor, b.days) {
                    Ok(v) => v,
                    Err(_) => {
                        stats.errors += 1;
                        false
                    }
                };
                lr.baseline.insert(key, (acc.flows, above));
                if !above {
                    return Verdict::No;
                }
            }
        }
    }
    if let (Some(also), Some(tally)) = (&rule.also, &lr.also) {
        let n = tally
            .counts
            .get(phase)
            .and_then(|per| per.get(&start))
            .and_then(|m| m.get(&host))
            .copied()
            .unwrap_or(0);
        if n < also.flows {
            return Verdict::Wait;
        }
    }
    Verdict::Raise
}

fn text(c: [u8; 2]) -> String {
    String::from_utf8_lossy(&c).into_owned()
}

/// Flows with a known peer country, and those abroad; as history counts
/// them (`??` is known and foreign).
fn foreign_of(acc: &Acc, ctx: &Context) -> (u64, u64) {
    let home = ctx.site.countries();
    let known: u64 = acc.countries.iter().map(|(_, n)| n).sum();
    let foreign: u64 = acc
        .countries
        .iter()
        .filter(|(c, _)| !home.contains(c))
        .map(|(_, n)| n)
        .sum();
    (known, foreign)
}

fn alert_of(rule: &Rule, ctx: &Context, host: Addr, start: i64, acc: &Acc) -> Alert {
    let mut ports: Vec<(u16, u64)> = acc.ports.iter().map(|(p, n)| (*p, *n)).collect();
    ports.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut countries = acc.countries.clone();
    countries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (known, foreign) = foreign_of(acc, ctx);
    let home = ctx.site.countries();
    let ip = addr_to_ip(host);
    let end = start + rule.window_ms;
    Alert {
        host: ip,
        rule: rule.name.clone(),
        category: rule.category.clone(),
        severity: rule.severity,
        description: rule.description.clone(),
        window_start_ms: start,
        window_end_ms: end,
        flows: acc.flows,
        packets: acc.packets,
        bytes: acc.bytes,
        distinct_peers: acc.peers.len() as u64,
        distinct_ports: acc.ports.len() as u64,
        syn_only_percent: acc.syn_only * 100 / acc.flows.max(1),
        peak_window_flows: acc.flows,
        top_ports: ports
            .into_iter()
            .take(TOP)
            .map(|(port, flows)| PortFlows { port, flows })
            .collect(),
        top_countries: countries
            .into_iter()
            .take(TOP)
            .map(|(c, flows)| CountryFlows {
                country: text(c),
                flows,
            })
            .collect(),
        // Live windows count distinct peers, not flows per peer.
        top_peers: Vec::new(),
        foreign_percent: (known > 0 && !home.is_empty()).then(|| foreign * 100 / known),
        filter: format!("({}) and {} ip {ip}", rule.filter_text, rule.key.name()),
        window: nfdump_window(start, end),
        references: rule.references.clone(),
    }
}
