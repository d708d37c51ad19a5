//! The foreign-destination profile: the countries of one host's peers,
//! held against what is usual for the site in the same window. A school's
//! mail server that talks at night to hundreds of addresses in countries
//! the rest of the site never reaches stands out here.

use flowhound_filter::{AddrSet, Direction, Expr, Filter};
use flowhound_model::Addr;
use serde::Serialize;

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::host::other_side;
use crate::stat::Key;
use crate::table::Cell;

/// A country is rare for the site when it gets less than this share of the
/// site's flows (parts per thousand), the host's own flows left out.
pub const RARE_PER_MILLE: u64 = 10;

/// What the site's usual countries are measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Flows between the site's internal networks and the outside: the
    /// outside end's country.
    InternalPeers,
    /// No internal networks configured: every flow's destination country.
    AllDestinations,
}

/// One country of the host's peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerCountry {
    /// ISO 3166 code; `??` where the registry does not know the address.
    pub country: String,
    /// The host's flows with peers there (both directions).
    pub flows: u64,
    /// Distinct peers there.
    pub peers: u64,
    /// The site's flows with that country in the same window, the host's
    /// own left out.
    pub site_flows: u64,
    /// Rare for the site: under [`RARE_PER_MILLE`] of its flows.
    pub rare_for_site: bool,
}

/// The host's peer countries against the site's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignProfile {
    /// Per country, most flows first (ties by code).
    pub countries: Vec<PeerCountry>,
    /// What the site's figures are measured on.
    pub baseline: Baseline,
    /// The site's flows of the baseline, the host's own left out.
    pub site_flows_total: u64,
    /// Distinct peers of the host in countries rare for the site.
    pub rare_peers: u64,
    /// The host's flows with them.
    pub rare_flows: u64,
    /// Distinct peers of the host with a known country.
    pub known_peers: u64,
}

impl ForeignProfile {
    /// The codes of the rare countries, most flows first.
    pub fn rare_countries(&self) -> impl Iterator<Item = &str> {
        self.countries
            .iter()
            .filter(|c| c.rare_for_site)
            .map(|c| c.country.as_str())
    }
}

/// The profile of `addr`, against the site whose internal networks are
/// `internal` (inclusive ranges; empty: see [`Baseline::AllDestinations`]).
/// The host's side is asked of `host` (best a [`QueryEngine::subset`]
/// holding the host's flows: its scope is an `OR` the files cannot be
/// pruned by), the site's of `site`. Both are measured the same way: with
/// internal networks, the flows between inside and outside, counted by the
/// outside end's country; without, the destinations' countries.
pub fn foreign_profile(
    host: &QueryEngine,
    site: &QueryEngine,
    addr: Addr,
    internal: &[(Addr, Addr)],
) -> Result<ForeignProfile, QueryError> {
    // The host measured as the site is: its flows with the outside (both
    // ways) against the internal networks, or its destinations when no
    // internal networks are known.
    let one = AddrSet::from_ranges(vec![(addr, addr)]);
    let at = |dir| Expr::Addr {
        dir,
        set: one.clone(),
    };
    let scope = if internal.is_empty() {
        at(Direction::Src)
    } else {
        let inside = AddrSet::from_ranges(internal.to_vec());
        let outside = |dir| {
            Expr::Not(Box::new(Expr::Addr {
                dir,
                set: inside.clone(),
            }))
        };
        Expr::Or(vec![
            Expr::And(vec![at(Direction::Src), outside(Direction::Dst)]),
            Expr::And(vec![at(Direction::Dst), outside(Direction::Src)]),
        ])
    };
    let host = host.subset(&Filter { expr: scope })?;
    let other = |src: &str, dst: &str| other_side(addr, src, dst);
    let sql = format!(
        "SELECT c, count(*) AS flows, count(DISTINCT peer) AS peers \
         FROM (SELECT CASE WHEN {country} IS NULL THEN '??' ELSE {country} END AS c, \
               {peer} AS peer FROM flows) \
         GROUP BY c ORDER BY flows DESC, c ASC",
        country = other("src_country", "dst_country"),
        peer = other("src_ip", "dst_ip"),
    );
    let t = host.sql(&sql).map_err(|e| match e {
        QueryError::User(m) => QueryError::Engine(format!("peer countries: {m}")),
        e => e,
    })?;
    let mut countries: Vec<PeerCountry> = t
        .rows
        .iter()
        .map(|r| PeerCountry {
            country: match r.first() {
                Some(Cell::Text(s)) if s.len() == 2 => s.clone(),
                _ => "??".into(),
            },
            flows: uint(r, 1),
            peers: uint(r, 2),
            site_flows: 0,
            rare_for_site: false,
        })
        .collect();

    let baseline = if internal.is_empty() {
        Baseline::AllDestinations
    } else {
        Baseline::InternalPeers
    };
    if countries.iter().all(|c| c.country == "??") {
        // Nothing to compare: spare the scan of the whole window.
        return Ok(ForeignProfile {
            countries,
            baseline,
            site_flows_total: 0,
            rare_peers: 0,
            rare_flows: 0,
            known_peers: 0,
        });
    }
    let (baseline, site) = site_countries(site, internal, addr)?;
    let site_total: u64 = site.iter().map(|(_, n)| n).sum();
    let (mut rare_peers, mut rare_flows, mut known_peers) = (0, 0, 0);
    for c in &mut countries {
        c.site_flows = site
            .iter()
            .find(|(code, _)| *code == c.country)
            .map_or(0, |(_, n)| *n);
        if c.country != "??" {
            known_peers += c.peers;
            c.rare_for_site = c.site_flows * 1000 < site_total * RARE_PER_MILLE;
            if c.rare_for_site {
                rare_peers += c.peers;
                rare_flows += c.flows;
            }
        }
    }
    Ok(ForeignProfile {
        countries,
        baseline,
        site_flows_total: site_total,
        rare_peers,
        rare_flows,
        known_peers,
    })
}

/// Flows per country of the site's outside peers, the flows of `host` left out.
fn site_countries(
    engine: &QueryEngine,
    internal: &[(Addr, Addr)],
    host: Addr,
) -> Result<(Baseline, Vec<(String, u64)>), QueryError> {
    let not_host = Expr::Not(Box::new(Expr::Addr {
        dir: Direction::Either,
        set: AddrSet::from_ranges(vec![(host, host)]),
    }));
    let by = |filter: Filter, key: Key| -> Result<Vec<(String, u64)>, QueryError> {
        let filter = Filter {
            expr: Expr::And(vec![filter.expr, not_host.clone()]),
        };
        // Never looked up and unknown are one `??`.
        let mut by_code: Vec<(String, u64)> = Vec::new();
        for (v, n) in engine.count_by(&filter, key)? {
            let code = v.to_string();
            match by_code.iter_mut().find(|(c, _)| *c == code) {
                Some((_, m)) => *m += n,
                None => by_code.push((code, n)),
            }
        }
        Ok(by_code)
    };
    if internal.is_empty() {
        let all = Filter { expr: Expr::Any };
        return Ok((Baseline::AllDestinations, by(all, Key::DstGeo)?));
    }
    let set = AddrSet::from_ranges(internal.to_vec());
    let inside = |dir| Expr::Addr {
        dir,
        set: set.clone(),
    };
    let out = Filter {
        expr: Expr::And(vec![
            inside(Direction::Src),
            Expr::Not(Box::new(inside(Direction::Dst))),
        ]),
    };
    let inbound = Filter {
        expr: Expr::And(vec![
            inside(Direction::Dst),
            Expr::Not(Box::new(inside(Direction::Src))),
        ]),
    };
    let mut all = by(out, Key::DstGeo)?;
    for (c, n) in by(inbound, Key::SrcGeo)? {
        match all.iter_mut().find(|(code, _)| *code == c) {
            Some((_, m)) => *m += n,
            None => all.push((c, n)),
        }
    }
    Ok((Baseline::InternalPeers, all))
}

fn uint(row: &[Cell], i: usize) -> u64 {
    match row.get(i) {
        Some(Cell::UInt(n)) => *n,
        Some(Cell::Int(n)) => (*n).max(0) as u64,
        _ => 0,
    }
}
