//! Rules over stored history: each rule is a grouping of its flows by host
//! and window (one per window phase), cut by its thresholds in the engine;
//! the few windows left are checked against the site inventory, merged
//! into incidents, and each incident is measured once more, exactly, for
//! its evidence.

use std::collections::BTreeMap;
use std::sync::Arc;

use flowhound_enrich::Site;
use flowhound_filter::{AddrSet, Direction, Expr, Filter};
use flowhound_model::{addr_to_ip, Addr, Enricher, COUNTRY_NONE};
use flowhound_query::{Aggregate, HostSide, Key, Order, QueryEngine, Value, WindowRow, WindowSpec};
use flowhound_store::{FlowStore, TimeWindow};

use crate::alert::{nfdump_window, Alert, CountryFlows, PeerFlows, PortFlows};
use crate::error::DetectError;
use crate::rule::Rule;

const DAY_MS: i64 = 86_400_000;
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
pub fn detect(
    store: &dyn FlowStore,
    window: TimeWindow,
    rules: &[Rule],
    ctx: &Context,
) -> Result<Detection, DetectError> {
    let engine = QueryEngine::open(store, Some(window), ctx.enricher.clone())?;
    let countries = engine.can_tell_countries()?;
    let mut out = Detection::default();
    for rule in rules {
        if let Some(why) = cannot_run(rule, ctx, countries) {
            out.skipped.push((rule.name.clone(), why));
            continue;
        }
        out.rules_run += 1;
        let began = std::time::Instant::now();
        let mut alerts = run_rule(&engine, store, window, rule, ctx)?;
        tracing::debug!(rule = %rule.name, alerts = alerts.len(),
            ms = began.elapsed().as_millis() as u64, "rule ran");
        out.alerts.append(&mut alerts);
    }
    out.alerts.sort_by(|a, b| {
        (a.window_start_ms, a.host, &a.rule).cmp(&(b.window_start_ms, b.host, &b.rule))
    });
    Ok(out)
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

/// The windows of a rule that pass its thresholds.
fn windows(engine: &QueryEngine, rule: &Rule) -> Result<Vec<WindowRow>, DetectError> {
    let th = &rule.threshold;
    let phases: &[i64] = if rule.sliding {
        &[0, rule.window_ms / 2]
    } else {
        &[0]
    };
    // Distinct peers and ports never exceed flows: a window can pass only
    // if it has at least this many flows.
    let least = th.flows.max(th.distinct_peers).max(th.distinct_ports);
    // First passes count flows only (no distinct counts, the costly part
    // of a grouping) to find the few hosts that can pass; the exact pass
    // then counts those hosts alone.
    let candidates = |f: &Filter, min_flows: u64| -> Result<Vec<(Addr, Addr)>, DetectError> {
        let mut hosts = Vec::new();
        for &offset in phases {
            let mut spec = WindowSpec::new(rule.key, rule.window_ms);
            spec.offset_ms = offset;
            spec.min_flows = min_flows.max(1);
            spec.min_packets = th.packets;
            spec.min_bytes = th.bytes;
            spec.distinct = false;
            for r in engine.windows(f, &spec)? {
                hosts.push((r.host, r.host));
            }
        }
        Ok(hosts)
    };
    let hosts = if let Some(share) = th.syn_only_share.filter(|s| *s > 0.0) {
        // A window that passes has at least `share` × its flows SYN-only:
        // the SYN-only flows alone find the hosts that can.
        let need = ((least as f64) * share).floor() as u64;
        let syn = Filter {
            expr: Expr::And(vec![rule.filter.expr.clone(), syn_only_expr()]),
        };
        candidates(&syn, need)?
    } else {
        candidates(&rule.filter, least)?
    };
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let filter = host_filter(&rule.filter.expr, rule.key, AddrSet::from_ranges(hosts));
    let mut rows = Vec::new();
    for &offset in phases {
        let spec = WindowSpec {
            side: rule.key,
            width_ms: rule.window_ms,
            offset_ms: offset,
            min_flows: th.flows,
            min_packets: th.packets,
            min_bytes: th.bytes,
            min_peers: th.distinct_peers,
            min_ports: th.distinct_ports,
            distinct: true,
        };
        rows.extend(engine.windows(&filter, &spec)?.into_iter().filter(|r| {
            let flows = r.flows.max(1) as f64;
            th.syn_only_share
                .is_none_or(|s| r.syn_only as f64 / flows >= s)
                && th.tiny_share.is_none_or(|s| r.tiny as f64 / flows >= s)
        }));
    }
    Ok(rows)
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

fn run_rule(
    engine: &QueryEngine,
    store: &dyn FlowStore,
    window: TimeWindow,
    rule: &Rule,
    ctx: &Context,
) -> Result<Vec<Alert>, DetectError> {
    let rows = windows(engine, rule)?;
    let mut alerts = Vec::new();
    for inc in incidents(rule, &ctx.site, window, rows) {
        if let Some(b) = &rule.when.baseline {
            if !above_baseline(store, rule, ctx, &inc, b.factor, b.days)? {
                continue;
            }
        }
        if let Some(a) = evidence(store, rule, ctx, &inc)? {
            alerts.push(a);
        }
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
fn evidence(
    store: &dyn FlowStore,
    rule: &Rule,
    ctx: &Context,
    inc: &Incident,
) -> Result<Option<Alert>, DetectError> {
    let engine = QueryEngine::open(
        store,
        Some(TimeWindow::new(inc.start_ms, inc.end_ms)),
        ctx.enricher.clone(),
    )?;
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
        if engine.totals(&f)?.flows < also.flows {
            return Ok(None);
        }
    }
    let filter = host_filter(&rule.filter.expr, rule.key, single(inc.host));
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
