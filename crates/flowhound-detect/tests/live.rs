//! Live detection against history: the same flows, pushed batch by batch,
//! give the same alerts (host, rule, incident span and peak) as `detect`
//! over the files they were stored in.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use arrow_array::RecordBatch;
use flowhound_detect::{detect, Alert, Context, LiveDetector, RuleSet};
use flowhound_generate::{Scenario, Traffic};
use flowhound_model::FlowSink;
use flowhound_store::{FlowBatch, LocalStore, ParquetWriter, TimeWindow, WriteOptions};

/// 12:00 UTC on 2026-11-26: busy hours, no quiet hours configured.
const START_MS: i64 = 1_795_694_400_000;

fn site() -> Context {
    let c = flowhound_enrich::Config::parse(
        "[site]\ninternal = [\"10.0.0.0/16\"]\n[roles]\nmail_servers = [\"10.0.0.25\"]\n",
        Path::new("site.toml"),
    )
    .expect("site config");
    Context {
        site: c.site,
        enricher: None,
    }
}

/// Ninety simulated minutes of the site with every incident at once.
fn batches() -> (Vec<RecordBatch>, Vec<(Scenario, IpAddr)>) {
    let traffic = Traffic::new(7, START_MS, Scenario::All)
        .with_incident_share(0.2)
        .with_peak_rate(40.0);
    let incidents = traffic
        .incidents()
        .iter()
        .map(|i| (i.kind, IpAddr::V4(i.host)))
        .collect();
    let end = START_MS + 90 * 60_000;
    let mut out = Vec::new();
    let mut b = FlowBatch::with_capacity(4096);
    for f in traffic.take_while(|f| f.time_end < end) {
        b.push(&f);
        if b.len() == 4096 {
            out.push(b.take());
        }
    }
    if !b.is_empty() {
        out.push(b.take());
    }
    (out, incidents)
}

/// (rule, host) → [(start, end, peak flows)], overlapping windows merged
/// as history merges them.
type Incidents = BTreeMap<(String, IpAddr), Vec<(i64, i64, u64)>>;

fn incidents(alerts: &[Alert]) -> Incidents {
    let mut by = Incidents::new();
    for a in alerts {
        by.entry((a.rule.clone(), a.host)).or_default().push((
            a.window_start_ms,
            a.window_end_ms,
            a.peak_window_flows,
        ));
    }
    for spans in by.values_mut() {
        spans.sort_unstable();
        let mut merged: Vec<(i64, i64, u64)> = Vec::new();
        for (s, e, p) in spans.drain(..) {
            match merged.last_mut() {
                Some(m) if s <= m.1 => {
                    m.1 = m.1.max(e);
                    m.2 = m.2.max(p);
                }
                _ => merged.push((s, e, p)),
            }
        }
        *spans = merged;
    }
    by
}

#[test]
fn live_alerts_are_the_alerts_of_history() {
    let (batches, planted) = batches();
    let dir = tempfile::tempdir().expect("tempdir");
    ParquetWriter::new(dir.path(), WriteOptions::default())
        .write(&batches)
        .expect("write");
    let rules = RuleSet::builtin().expect("pack").rules;
    let ctx = site();

    let history = detect(
        &LocalStore::new(dir.path()),
        TimeWindow::new(0, i64::MAX),
        &rules,
        &ctx,
    )
    .expect("history");

    let mut live = LiveDetector::new(rules, ctx);
    let mut raised = Vec::new();
    let mut finals = Vec::new();
    for b in &batches {
        raised.extend(live.push(b));
        finals.extend(live.tick(live.watermark()));
    }
    finals.extend(live.tick(i64::MAX));
    assert_eq!(live.stats().late_flows, 0);
    assert_eq!(live.stats().tracked_windows, 0, "every window closed");

    let want = incidents(&history.alerts);
    let mut all = raised.clone();
    all.extend(finals.iter().cloned());
    let got = incidents(&all);
    assert_eq!(got, want);

    // The incidents planted are among them, each under its rule.
    let rule_of = |kind: Scenario| match kind {
        Scenario::SpamBot => "spam-bot",
        Scenario::Worm => "sasser",
        _ => "horizontal-scan",
    };
    for (kind, host) in planted {
        if kind == Scenario::MailRelay {
            continue; // its rules need countries or a week of history
        }
        assert!(
            got.contains_key(&(rule_of(kind).to_string(), host)),
            "{kind:?} on {host} not found live: {:?}",
            got.keys().collect::<Vec<_>>()
        );
    }
    // Raised as soon as a threshold was crossed: before the window closed,
    // with fewer flows than the window held in the end.
    let spam = raised
        .iter()
        .find(|a| a.rule == "spam-bot")
        .expect("a spam-bot alert");
    assert!(spam.flows >= 300 && spam.distinct_peers >= 50, "{spam:?}");
    let last = finals
        .iter()
        .find(|a| a.rule == "spam-bot" && a.window_start_ms == spam.window_start_ms)
        .expect("its final counts");
    assert!(last.flows > spam.flows);
    assert_eq!(spam.top_ports[0].port, 25);
    assert_eq!(
        spam.filter,
        format!("(proto tcp and dst port 25) and src ip {}", spam.host)
    );
}
