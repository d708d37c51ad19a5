//! Rules over stored history. The rules that count the same flows in the
//! same windows form a group. A first grouping of the group's flows by host
//! and window, without distinct counts, finds the hosts worth counting; their
//! flows are read once (held in memory unless too many) and grouped again
//! with distinct peers and ports, cut by the loosest thresholds of the
//! group. Each rule keeps the windows that reach its own; they are checked
//! against the site inventory, merged into incidents, and each incident is
//! measured once more, exactly, for its evidence.

use std::collections::BTreeMap;
use std::sync::Arc;

use flowhound_enrich::Site;
use flowhound_filter::{AddrSet, Direction, Expr, Filter};
use flowhound_model::{addr_to_ip, Addr, Enricher, COUNTRY_NONE};
use flowhound_query::{Aggregate, HostSide, Key, Order, QueryEngine, Value, WindowRow, WindowSpec};
use flowhound_store::{FlowStore, TimeWindow};

use crate::alert::{nfdump_window, Alert, CountryFlows, PeerFlows, PortFlows};
use crate::error::DetectError;
use crate::rule::{Rule, Thresholds};

const DAY_MS: i64 = 86_400_000;
/// The most flows of a group's suspect hosts held in memory, for its exact
/// counts and each incident's evidence (a few hundred MB). Beyond, the
/// suspects are narrowed first; still beyond, each of those questions reads
/// the files again.
const MAX_HELD_FLOWS: usize = 2_000_000;
/// Rows of the top ports and countries of an alert.
pub const TOP: usize = 5;

/// What detection reads besides the flows.
#[derive(Clone, Default)]
pub struct Context {
    /// The site inventory (internal networks, roles, quiet hours, countries).
    pub site: Site,
    /// The registries, for flows stored without countries.
    pub enricher: Option<Arc<dyn Enricher>>,
}

/// The alerts of a run, and what could not be checked.
#[derive(Clone, Debug, Default)]
pub struct Detection {
    /// Alerts, by window start, then host.
    pub alerts: Vec<Alert>,
    /// Rules that did not run, and why (the config lacks what they need).
    pub skipped: Vec<(String, String)>,
    /// Rules that ran.
    pub rules_run: usize,
}

/// The rule's filter as the alert shows it. A long list of networks (a
/// blocklist: Spamhaus DROP has over a thousand) shrinks to the networks
/// the host's flows reached, so that the alert carries a filter that shows
/// exactly its evidence without the whole list.
fn evidence_filter(
    engine: &QueryEngine,
    rule: &Rule,
    host_flows: &Filter,
) -> Result<String, DetectError> {
    let Expr::Addr { dir, set } = &rule.filter.expr else {
        return Ok(rule.filter_text.clone());
    };
    let (key, side) = match dir {
        Direction::Dst => (Key::DstIp, "dst"),
        Direction::Src => (Key::SrcIp, "src"),
        _ => return Ok(rule.filter_text.clone()),
    };
    if set.ranges().len() <= 8 {
        return Ok(rule.filter_text.clone());
    }
    let peers = engine.aggregate(
        host_flows,
        &Aggregate {
            keys: vec![key],
            distinct: vec![],
            order: None,
            limit: None,
        },
    )?;
    let ranges = set.ranges();
    let mut hit: Vec<(Addr, Addr)> = peers
        .iter()
        .filter_map(|r| match r.keys.first() {
            Some(Value::Addr(a)) => {
                let i = ranges.partition_point(|&(lo, _)| lo <= *a);
                ranges
                    .get(i.checked_sub(1)?)
                    .filter(|&&(_, hi)| *a <= hi)
                    .copied()
            }
            _ => None,
        })
        .collect();
    hit.sort_unstable();
    hit.dedup();
    if hit.is_empty() {
        return Ok(rule.filter_text.clone());
    }
    let nets: Vec<String> = hit
        .into_iter()
        .flat_map(|(lo, hi)| crate::blocklist::cidrs_of(lo, hi))
        .collect();
    Ok(format!("{side} ip in [ {} ]", nets.join(" ")))
}

/// Why a rule cannot run with this site and these flows, if it cannot.
pub(crate) fn cannot_run(rule: &Rule, ctx: &Context, countries: bool) -> Option<String> {
    let w = &rule.when;
    if w.quiet_hours && ctx.site.quiet_hours().is_none() {
        return Some("it needs the site's quiet hours: set [site] quiet_hours".into());
    }
    if w.internal.is_some() && !ctx.site.has_internal() {
        return Some("it needs the site's networks: set [site] internal".into());
    }
    for role in &w.roles {
        if !ctx.site.role_names().any(|r| r == role) {
            return Some(format!("it needs [roles] {role}"));
        }
    }
    if w.foreign_share.is_some() {
        if ctx.site.countries().is_empty() {
            return Some(
                "it needs the site's own countries to tell foreign ones: set [site] countries"
                    .into(),
            );
        }
        if !countries {
            return Some(
                "it needs countries: the flows were stored without a registry and none is \
                 configured ([registry] country)"
                    .into(),
            );
        }
    }
    None
}

/// Run `rules` over the flows of `window` in `store`.
///
/// Rules that count the same flows in the same windows (the four SMTP
/// rules of the pack; the two scans) share their passes over the day: the
/// grouping is made once, with the loosest of their thresholds, and each
/// rule then keeps the windows that reach its own.
pub fn detect(
    store: &dyn FlowStore,
    window: TimeWindow,
    rules: &[Rule],
    ctx: &Context,
) -> Result<Detection, DetectError> {
    detect_holding(store, window, rules, ctx, MAX_HELD_FLOWS)
}

/// [`detect`], holding at most `max_held` flows of a group's suspects in
/// memory.
fn detect_holding(
    store: &dyn FlowStore,
    window: TimeWindow,
    rules: &[Rule],
    ctx: &Context,
    max_held: usize,
) -> Result<Detection, DetectError> {
    let engine = QueryEngine::open(store, Some(window), ctx.enricher.clone())?;
    let countries = engine.can_tell_countries()?;
    let mut out = Detection::default();
    let mut runnable = Vec::new();
    for rule in rules {
        match cannot_run(rule, ctx, countries) {
            Some(why) => out.skipped.push((rule.name.clone(), why)),
            None => runnable.push(rule),
        }
    }
    for group in same_windows(&runnable) {
        let began = std::time::Instant::now();
        let (held, rows) = windows(&engine, &group, max_held)?;
        let mut found = 0;
        for rule in &group {
            out.rules_run += 1;
            let mine = rows
                .iter()
                .filter(|r| reaches(&rule.threshold, r))
                .cloned()
                .collect();
            let mut alerts = alerts_of(store, window, rule, ctx, mine, held.as_ref())?;
            found += alerts.len();
            out.alerts.append(&mut alerts);
        }
        tracing::debug!(rules = %group_name(&group), alerts = found,
            ms = began.elapsed().as_millis() as u64, "rules ran");
    }
    out.alerts.sort_by(|a, b| {
        (a.window_start_ms, a.host, &a.rule).cmp(&(b.window_start_ms, b.host, &b.rule))
    });
    Ok(out)
}

/// The rules in groups that count the same flows (filter and key) in the
/// same windows, in the order they first appear.
fn same_windows<'r>(rules: &[&'r Rule]) -> Vec<Vec<&'r Rule>> {
    let mut groups: Vec<Vec<&Rule>> = Vec::new();
    for &rule in rules {
        let same = |g: &&mut Vec<&Rule>| {
            let first = g[0];
            first.filter.expr == rule.filter.expr
                && first.key == rule.key
                && first.window_ms == rule.window_ms
                && first.sliding == rule.sliding
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(rule),
            None => groups.push(vec![rule]),
        }
    }
    groups
}

/// The rules of a group, for the log.
fn group_name(rules: &[&Rule]) -> String {
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    names.join(",")
}

/// Whether a window reaches every threshold.
fn reaches(th: &Thresholds, r: &WindowRow) -> bool {
    r.peers >= th.distinct_peers && r.ports >= th.distinct_ports && could_reach(th, r)
}

/// The fewest flows a window must have to reach `th`: distinct peers and
/// ports never exceed flows.
fn least_flows(th: &Thresholds) -> u64 {
    th.flows.max(th.distinct_peers).max(th.distinct_ports)
}

/// Whether a window counted without its distinct peers and ports could
/// reach every threshold.
fn could_reach(th: &Thresholds, r: &WindowRow) -> bool {
    let flows = r.flows.max(1) as f64;
    r.flows >= least_flows(th)
        && r.packets >= th.packets
        && r.bytes >= th.bytes
        && th
            .syn_only_share
            .is_none_or(|s| r.syn_only as f64 / flows >= s)
        && th.tiny_share.is_none_or(|s| r.tiny as f64 / flows >= s)
}

/// One host's incident: windows that overlap, merged.
#[derive(Debug)]
pub(crate) struct Incident {
    pub(crate) host: Addr,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    pub(crate) peak_flows: u64,
    /// Where the busiest window starts.
    pub(crate) peak_start_ms: i64,
}

pub(crate) fn host_filter(rule_filter: &Expr, side: HostSide, hosts: AddrSet) -> Filter {
    let dir = match side {
        HostSide::Src => Direction::Src,
        HostSide::Dst => Direction::Dst,
    };
    let host = Expr::Addr { dir, set: hosts };
    Filter {
        expr: match rule_filter {
            Expr::Any => host,
            Expr::And(parts) => {
                let mut p = parts.clone();
                p.push(host);
                Expr::And(p)
            }
            e => Expr::And(vec![e.clone(), host]),
        },
    }
}

pub(crate) fn single(a: Addr) -> AddrSet {
    AddrSet::from_ranges(vec![(a, a)])
}

fn syn_only_expr() -> Expr {
    // `flags S and not flags A and not flags F and not flags R`, as the
    // engine counts SYN-only flows.
    flowhound_filter::parse("proto tcp and flags S and not flags A and not flags F and not flags R")
        .map(|f| f.expr)
        .unwrap_or(Expr::Any)
}

/// The windows of a group of rules that reach the loosest of their
/// thresholds (every rule must still test its own, see [`reaches`]), and,
/// unless they are too many, the flows of the hosts those windows are of,
/// held in memory.
fn windows(
    engine: &QueryEngine,
    rules: &[&Rule],
    max_held: usize,
) -> Result<(Option<QueryEngine>, Vec<WindowRow>), DetectError> {
    let Some(first) = rules.first() else {
        return Ok((None, Vec::new()));
    };
    let (key, width, sliding) = (first.key, first.window_ms, first.sliding);
    let loosest = |f: fn(&Thresholds) -> u64| rules.iter().map(|r| f(&r.threshold)).min();
    let th = Thresholds {
        flows: loosest(|t| t.flows).unwrap_or(0),
        packets: loosest(|t| t.packets).unwrap_or(0),
        bytes: loosest(|t| t.bytes).unwrap_or(0),
        distinct_peers: loosest(|t| t.distinct_peers).unwrap_or(0),
        distinct_ports: loosest(|t| t.distinct_ports).unwrap_or(0),
        syn_only_share: None,
        tiny_share: None,
    };
    let phases: &[i64] = if sliding { &[0, width / 2] } else { &[0] };
    // A window reaches a rule only with its least flows, and at least its
    // share of them SYN-only when it asks for one: when every rule does,
    // the SYN-only flows alone find the hosts.
    let syn_shares: Option<Vec<u64>> = rules
        .iter()
        .map(|r| {
            let t = &r.threshold;
            t.syn_only_share
                .filter(|s| *s > 0.0)
                .map(|s| ((least_flows(t) as f64) * s).floor() as u64)
        })
        .collect();
    // (Packets and bytes bound all of a window's flows, not its SYN-only
    // ones.)
    let (candidate_filter, need) = match syn_shares {
        Some(needs) => (
            Filter {
                expr: Expr::And(vec![first.filter.expr.clone(), syn_only_expr()]),
            },
            Need {
                flows: needs.into_iter().min().unwrap_or(0),
                packets: 0,
                bytes: 0,
            },
        ),
        None => (
            first.filter.clone(),
            Need {
                flows: rules
                    .iter()
                    .map(|r| least_flows(&r.threshold))
                    .min()
                    .unwrap_or(0),
                packets: th.packets,
                bytes: th.bytes,
            },
        ),
    };
    let began = std::time::Instant::now();
    let hosts = candidates(engine, &candidate_filter, key, width, sliding, need)?;
    tracing::debug!(rules = %group_name(rules), hosts = hosts.len(),
        ms = began.elapsed().as_millis() as u64, "hosts worth counting");
    if hosts.is_empty() {
        return Ok((None, Vec::new()));
    }
    let began = std::time::Instant::now();
    // The exact pass: those hosts alone, with their distinct counts, over
    // their flows read once (each phase, then each incident's evidence,
    // asks them again).
    let suspects = hosts.len();
    let mut filter = host_filter(&first.filter.expr, key, AddrSet::from_ranges(hosts));
    let mut held = engine.subset_within(&filter, None, max_held)?;
    if held.is_none() {
        // Too many to hold (a busy server among the suspects of a scan).
        let volume = Need {
            flows: th.flows,
            packets: th.packets,
            bytes: th.bytes,
        };
        let kept = narrow(engine, &filter, rules, phases, volume)?;
        tracing::debug!(rules = %group_name(rules), hosts = suspects, kept = kept.len(),
            "too many flows to hold: hosts narrowed by their windows' shares");
        if kept.is_empty() {
            return Ok((None, Vec::new()));
        }
        filter = host_filter(&first.filter.expr, key, AddrSet::from_ranges(kept));
        held = engine.subset_within(&filter, None, max_held)?;
    }
    let (counted, filter) = match &held {
        Some(h) => (h, Filter { expr: Expr::Any }),
        None => (engine, filter),
    };
    let mut rows = Vec::new();
    for &offset in phases {
        let spec = WindowSpec {
            side: key,
            width_ms: width,
            offset_ms: offset,
            min_flows: th.flows,
            min_packets: th.packets,
            min_bytes: th.bytes,
            min_peers: th.distinct_peers,
            min_ports: th.distinct_ports,
            distinct: true,
        };
        rows.extend(counted.windows(&filter, &spec)?);
    }
    tracing::debug!(rules = %group_name(rules), windows = rows.len(), held = held.is_some(),
        ms = began.elapsed().as_millis() as u64, "counted exactly");
    Ok((held, rows))
}

/// What a window must hold to be worth counting exactly.
#[derive(Clone, Copy)]
struct Need {
    flows: u64,
    packets: u64,
    bytes: u64,
}

/// The hosts that may have a window with what `need` says: a grouping that
/// counts flows only, without the distinct counts that make a grouping
/// costly.
///
/// A sliding window is two halves of the grid its windows start on, so one
/// grouping by half window finds its hosts: a window of `need` flows has a
/// half with at least half of them. (With a bound on packets or bytes the
/// halves cannot tell, nor can they split a window of an odd number of
/// milliseconds: then each phase is grouped on its own.)
fn candidates(
    engine: &QueryEngine,
    filter: &Filter,
    key: HostSide,
    width: i64,
    sliding: bool,
    need: Need,
) -> Result<Vec<(Addr, Addr)>, DetectError> {
    let halves = sliding && width % 2 == 0 && need.packets == 0 && need.bytes == 0;
    let passes: Vec<(i64, i64, u64)> = if halves {
        vec![(width / 2, 0, need.flows.div_ceil(2))]
    } else if sliding {
        vec![(width, 0, need.flows), (width, width / 2, need.flows)]
    } else {
        vec![(width, 0, need.flows)]
    };
    let mut hosts = Vec::new();
    for (width_ms, offset_ms, flows) in passes {
        let need = Need { flows, ..need };
        let rows = volume_windows(engine, filter, key, width_ms, offset_ms, need)?;
        hosts.extend(rows.into_iter().map(|r| (r.host, r.host)));
    }
    hosts.sort_unstable();
    hosts.dedup();
    Ok(hosts)
}

/// The hosts among those `filter` selects with a window (each phase of
/// `phases`) that could reach one of `rules`: the flows, and the shares of
/// SYN-only or tiny flows, a rule asks for. A grouping without distinct
/// counts.
fn narrow(
    engine: &QueryEngine,
    filter: &Filter,
    rules: &[&Rule],
    phases: &[i64],
    volume: Need,
) -> Result<Vec<(Addr, Addr)>, DetectError> {
    let Some(first) = rules.first() else {
        return Ok(Vec::new());
    };
    let mut kept = Vec::new();
    for &offset in phases {
        let rows = volume_windows(engine, filter, first.key, first.window_ms, offset, volume)?;
        kept.extend(
            rows.into_iter()
                .filter(|r| rules.iter().any(|rule| could_reach(&rule.threshold, r)))
                .map(|r| (r.host, r.host)),
        );
    }
    kept.sort_unstable();
    kept.dedup();
    Ok(kept)
}

/// The windows of `width_ms` from `offset_ms` with what `need` says,
/// counted without distinct peers and ports.
fn volume_windows(
    engine: &QueryEngine,
    filter: &Filter,
    key: HostSide,
    width_ms: i64,
    offset_ms: i64,
    need: Need,
) -> Result<Vec<WindowRow>, DetectError> {
    let mut spec = WindowSpec::new(key, width_ms);
    spec.offset_ms = offset_ms;
    spec.min_flows = need.flows.max(1);
    spec.min_packets = need.packets;
    spec.min_bytes = need.bytes;
    spec.distinct = false;
    Ok(engine.windows(filter, &spec)?)
}

/// Whether the host and the window meet the rule's inventory conditions.
pub(crate) fn host_ok(rule: &Rule, site: &Site, host: Addr) -> bool {
    let w = &rule.when;
    if let Some(internal) = w.internal {
        if site.is_internal(host) != internal {
            return false;
        }
    }
    if !w.roles.is_empty() && !w.roles.iter().any(|r| site.has_role(host, r)) {
        return false;
    }
    !w.not_roles.iter().any(|r| site.has_role(host, r))
}

fn incidents(
    rule: &Rule,
    site: &Site,
    window: TimeWindow,
    mut rows: Vec<WindowRow>,
) -> Vec<Incident> {
    rows.retain(|r| {
        host_ok(rule, site, r.host) && (!rule.when.quiet_hours || site.is_quiet(r.start_ms))
    });
    rows.sort_by_key(|r| (r.host, r.start_ms));
    let mut out: Vec<Incident> = Vec::new();
    for r in rows {
        let end = r.start_ms + rule.window_ms;
        match out.last_mut() {
            Some(i) if i.host == r.host && r.start_ms <= i.end_ms => {
                i.end_ms = i.end_ms.max(end);
                if r.flows > i.peak_flows {
                    i.peak_flows = r.flows;
                    i.peak_start_ms = r.start_ms;
                }
            }
            _ => out.push(Incident {
                host: r.host,
                start_ms: r.start_ms,
                end_ms: end,
                peak_flows: r.flows,
                peak_start_ms: r.start_ms,
            }),
        }
    }
    for i in &mut out {
        i.start_ms = i.start_ms.max(window.start_ms);
        i.end_ms = i.end_ms.min(window.end_ms);
    }
    out
}

/// A rule's alerts from its windows: checked against the site, merged into
/// incidents, compared with the baseline, measured for their evidence (in
/// `held`, the flows of the rule's suspects, when they were read).
fn alerts_of(
    store: &dyn FlowStore,
    window: TimeWindow,
    rule: &Rule,
    ctx: &Context,
    rows: Vec<WindowRow>,
    held: Option<&QueryEngine>,
) -> Result<Vec<Alert>, DetectError> {
    let mut alerts = Vec::new();
    for inc in incidents(rule, &ctx.site, window, rows) {
        if let Some(b) = &rule.when.baseline {
            if !above_baseline(store, rule, ctx, &inc, b.factor, b.days)? {
                continue;
            }
        }
        let began = std::time::Instant::now();
        if let Some(a) = evidence(store, rule, ctx, &inc, held)? {
            alerts.push(a);
        }
        tracing::debug!(rule = %rule.name, host = %addr_to_ip(inc.host),
            ms = began.elapsed().as_millis() as u64, "evidence");
    }
    Ok(alerts)
}

/// Whether the incident's busiest window is `factor` times the host's
/// median for the same window of the day over the `days` days before.
/// `false` while the store holds less history than that. (A rule's window
/// divides a day, so those windows are windows of the same grid.)
pub(crate) fn above_baseline(
    store: &dyn FlowStore,
    rule: &Rule,
    ctx: &Context,
    inc: &Incident,
    factor: f64,
    days: u32,
) -> Result<bool, DetectError> {
    let peak = inc.peak_start_ms;
    let from = peak - i64::from(days) * DAY_MS;
    if store
        .files(Some(TimeWindow::new(from, from + rule.window_ms)))
        .map_err(flowhound_query::QueryError::from)?
        .is_empty()
    {
        return Ok(false);
    }
    let engine = QueryEngine::open(
        store,
        Some(TimeWindow::new(from, peak)),
        ctx.enricher.clone(),
    )?;
    let filter = host_filter(&rule.filter.expr, rule.key, single(inc.host));
    let mut spec = WindowSpec::new(rule.key, rule.window_ms);
    // The grid through `peak`, from before the first flow (the engine's
    // window start truncates toward zero).
    spec.offset_ms = peak.rem_euclid(rule.window_ms);
    let per_window: BTreeMap<i64, u64> = engine
        .windows(&filter, &spec)?
        .into_iter()
        .map(|r| (r.start_ms, r.flows))
        .collect();
    let mut same_window: Vec<u64> = (1..=i64::from(days))
        .map(|d| per_window.get(&(peak - d * DAY_MS)).copied().unwrap_or(0))
        .collect();
    same_window.sort_unstable();
    let median = same_window[same_window.len() / 2] as f64;
    Ok(inc.peak_flows as f64 >= factor * median.max(1.0))
}

fn country_text(c: [u8; 2]) -> String {
    String::from_utf8_lossy(&c).into_owned()
}

/// The incident measured exactly, with its top ports and countries; `None`
/// when a condition on them fails (foreign share, corroborating flows).
/// The host's flows come from `held` (the flows of the rule's suspects,
/// this host among them) when it is given, else from the files.
fn evidence(
    store: &dyn FlowStore,
    rule: &Rule,
    ctx: &Context,
    inc: &Incident,
    held: Option<&QueryEngine>,
) -> Result<Option<Alert>, DetectError> {
    let incident = TimeWindow::new(inc.start_ms, inc.end_ms);
    let files = || QueryEngine::open(store, Some(incident), ctx.enricher.clone());
    if let Some(also) = &rule.also {
        let f = Filter {
            expr: Expr::And(vec![
                also.filter.expr.clone(),
                Expr::Addr {
                    dir: Direction::Either,
                    set: single(inc.host),
                },
            ]),
        };
        // Other flows than the rule's: from the files.
        if files()?.totals(&f)?.flows < also.flows {
            return Ok(None);
        }
    }
    let filter = host_filter(&rule.filter.expr, rule.key, single(inc.host));
    let from_held = held
        .map(|h| h.subset_within(&filter, Some(incident), usize::MAX))
        .transpose()?
        .flatten();
    let engine = match from_held {
        Some(e) => e,
        None => files()?,
    };
    let mut spec = WindowSpec::new(rule.key, (inc.end_ms - inc.start_ms).max(1));
    spec.offset_ms = inc.start_ms;
    let Some(total) = engine.windows(&filter, &spec)?.into_iter().next() else {
        return Ok(None);
    };
    let top_ports = engine
        .aggregate(
            &filter,
            &Aggregate {
                keys: vec![Key::DstPort],
                distinct: vec![],
                order: Some(Order::Flows),
                limit: Some(TOP),
            },
        )?
        .into_iter()
        .filter_map(|r| match r.keys.first() {
            Some(Value::Uint(p)) => Some(PortFlows {
                port: *p as u16,
                flows: r.flows,
            }),
            _ => None,
        })
        .collect();
    let peer_geo = match rule.key {
        HostSide::Src => Key::DstGeo,
        HostSide::Dst => Key::SrcGeo,
    };
    let by_country: Vec<(String, u64)> = engine
        .aggregate(
            &filter,
            &Aggregate {
                keys: vec![peer_geo],
                distinct: vec![],
                order: Some(Order::Flows),
                limit: None,
            },
        )?
        .into_iter()
        .filter_map(|r| match r.keys.first() {
            Some(Value::Country(c)) => Some((country_text(*c), r.flows)),
            _ => None,
        })
        .collect();
    let none = country_text(COUNTRY_NONE);
    let (peer_ip, peer_geo) = match rule.key {
        HostSide::Src => (Key::DstIp, Key::DstGeo),
        HostSide::Dst => (Key::SrcIp, Key::SrcGeo),
    };
    let top_peers: Vec<PeerFlows> = engine
        .aggregate(
            &filter,
            &Aggregate {
                keys: vec![peer_ip, peer_geo],
                distinct: vec![],
                order: Some(Order::Flows),
                limit: Some(TOP),
            },
        )?
        .into_iter()
        .filter_map(|r| match r.keys.as_slice() {
            [Value::Addr(a), geo] => Some(PeerFlows {
                ip: addr_to_ip(*a),
                country: match geo {
                    Value::Country(c) => {
                        Some(country_text(*c)).filter(|c| *c != none && !c.is_empty())
                    }
                    _ => None,
                },
                flows: r.flows,
            }),
            _ => None,
        })
        .collect();
    let known: u64 = by_country
        .iter()
        .filter(|(c, _)| *c != none && !c.is_empty())
        .map(|(_, n)| n)
        .sum();
    let home: Vec<String> = ctx
        .site
        .countries()
        .iter()
        .map(|c| country_text(*c))
        .collect();
    let foreign: u64 = by_country
        .iter()
        .filter(|(c, _)| *c != none && !c.is_empty() && !home.contains(c))
        .map(|(_, n)| n)
        .sum();
    let foreign_percent = (known > 0 && !home.is_empty()).then(|| foreign * 100 / known);
    if let Some(need) = rule.when.foreign_share {
        if known == 0 || (foreign as f64) < need * known as f64 {
            return Ok(None);
        }
    }
    let side = rule.key.name();
    let ip = addr_to_ip(inc.host);
    let evidence = evidence_filter(&engine, rule, &filter)?;
    Ok(Some(Alert {
        host: ip,
        rule: rule.name.clone(),
        category: rule.category.clone(),
        severity: rule.severity,
        description: rule.description.clone(),
        window_start_ms: inc.start_ms,
        window_end_ms: inc.end_ms,
        flows: total.flows,
        packets: total.packets,
        bytes: total.bytes,
        distinct_peers: total.peers,
        distinct_ports: total.ports,
        syn_only_percent: total.syn_only * 100 / total.flows.max(1),
        peak_window_flows: inc.peak_flows,
        top_ports,
        top_countries: by_country
            .into_iter()
            .filter(|(c, _)| *c != none && !c.is_empty())
            .take(TOP)
            .map(|(country, flows)| CountryFlows { country, flows })
            .collect(),
        top_peers,
        foreign_percent,
        filter: format!("({evidence}) and {side} ip {ip}"),
        window: nfdump_window(inc.start_ms, inc.end_ms),
        references: rule.references.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{parse_rules, BUILTIN_RULES};
    use flowhound_model::{addr_from_v4, FlowRecord, FlowSink};
    use flowhound_store::{FlowBatch, LocalStore, ParquetWriter, WriteOptions};
    use std::collections::BTreeSet;
    use std::net::Ipv4Addr;
    use std::path::Path;

    /// 2026-11-26 12:00 UTC.
    const NOON_MS: i64 = 1_795_694_400_000;

    fn flow(src: Ipv4Addr, i: u32, peers: u32, port: u16, flags: u8) -> FlowRecord {
        let t = NOON_MS + i64::from(i) * 700;
        let [_, _, hi, lo] = (i % peers).to_be_bytes();
        FlowRecord {
            time_start: t,
            time_end: t + 10,
            src_ip: addr_from_v4(u32::from(src)),
            dst_ip: addr_from_v4(u32::from(Ipv4Addr::new(198, 51, hi, lo))),
            src_port: 40_000 + (i % 1_000) as u16,
            dst_port: port,
            proto: 6,
            tcp_flags: flags,
            packets: 2,
            bytes: 120,
            ..FlowRecord::default()
        }
    }

    /// The pack finds the same alerts, with the same evidence, whether the
    /// suspects' flows are held in memory, held once a busy host is dropped
    /// by its share of SYN-only flows, or read from the files each time.
    #[test]
    fn held_or_read_again_the_alerts_are_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = FlowBatch::with_capacity(4_096);
        let sweeper = Ipv4Addr::new(10, 0, 1, 1);
        for i in 0..1_200 {
            b.push(&flow(sweeper, i, 1_200, 445, 0x02));
        }
        let mailer = Ipv4Addr::new(10, 0, 1, 2);
        for i in 0..400 {
            b.push(&flow(mailer, i, 100, 25, 0x1b));
        }
        for i in 0..6 {
            b.push(&flow(mailer, i, 3, 3127, 0x1b));
        }
        // A busy web client with a few unanswered SYNs: a suspect of the
        // scans at first, whose flows and the sweeper's are more than 2,000.
        let busy = Ipv4Addr::new(10, 0, 1, 3);
        for i in 0..980 {
            let flags = if i % 12 == 0 { 0x02 } else { 0x1b };
            b.push(&flow(busy, i, 40, 443, flags));
        }
        ParquetWriter::new(dir.path(), WriteOptions::default())
            .write(&[b.take()])
            .expect("write");
        let site = flowhound_enrich::Config::parse(
            "[site]\ninternal = [\"10.0.0.0/16\"]\n",
            Path::new("site.toml"),
        )
        .expect("site")
        .site;
        let ctx = Context {
            site,
            enricher: None,
        };
        let rules = parse_rules(BUILTIN_RULES, Path::new("built-in")).expect("pack");
        let store = LocalStore::new(dir.path());
        let day = TimeWindow::new(NOON_MS - 3_600_000, NOON_MS + 3_600_000);
        let held = detect_holding(&store, day, &rules, &ctx, MAX_HELD_FLOWS).expect("held");
        let narrowed = detect_holding(&store, day, &rules, &ctx, 2_000).expect("narrowed");
        let read = detect_holding(&store, day, &rules, &ctx, 0).expect("read again");
        let found: BTreeSet<&str> = held.alerts.iter().map(|a| a.rule.as_str()).collect();
        assert_eq!(
            found,
            BTreeSet::from(["conficker", "horizontal-scan", "mass-mailer", "spam-bot"]),
            "{:?}",
            held.alerts
        );
        assert_eq!(held.alerts, narrowed.alerts);
        assert_eq!(held.alerts, read.alerts);
    }
}
