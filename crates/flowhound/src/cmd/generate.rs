use anyhow::Context;
use flowhound_generate::{
    send, send_flows, Day, DayPlan, Proto, Scenario, Seed, Seeded, SendConfig, SendReport,
};
use flowhound_store::parse_window;

use crate::args::GenerateArgs;
use crate::units::user;

/// The scenario that is a whole seeded day (see [`flowhound_generate::Day`]).
pub const DAY: &str = "day";

pub fn config(a: &GenerateArgs) -> anyhow::Result<SendConfig> {
    let proto: Proto = a.proto.parse().map_err(|e| user(format!("--proto: {e}")))?;
    let scenario: Scenario = if a.scenario.eq_ignore_ascii_case(DAY) {
        Scenario::Normal
    } else {
        a.scenario.parse().map_err(|e| {
            user(format!(
                "--scenario: {e}, or {DAY} (a whole day with every incident and look-alike)"
            ))
        })?
    };
    let mut c = SendConfig::new(a.to[0], proto);
    c.mirror = a.to[1..].to_vec();
    c.rate_flows_per_s = a.rate;
    c.scenario = scenario;
    c.seed = a.seed;
    c.total_flows = a.flows;
    c.duration = a.duration;
    c.exporters = a.exporters;
    c.time_scale = a.time_scale;
    c.max_datagram = a.max_datagram;
    if let Some(start) = &a.start {
        let w = parse_window(start).map_err(|e| user(format!("--start: {e}")))?;
        c.start_ms = Some(w.start_ms);
    }
    flowhound_generate::send::validate(&c).map_err(|e| user(e.to_string()))?;
    Ok(c)
}

pub fn run(a: GenerateArgs) -> anyhow::Result<()> {
    let c = config(&a)?;
    let stop = super::stop_on_signals()?;
    if a.scenario.eq_ignore_ascii_case(DAY) {
        let mut plan = DayPlan::new(day_start(c.start_ms));
        plan.seed = a.seed;
        let day = Day::new(&plan);
        let seeded = seeded_json(day.seeded());
        let flows = day.take(a.flows.map_or(usize::MAX, |n| n as usize));
        let report = send_flows(&c, flows, &stop).context("sending failed")?;
        let mut json = report_json(&report);
        json["seeded"] = seeded;
        println!("{}", serde_json::to_string(&json)?);
        return Ok(());
    }
    let report = send(&c, &stop).context("sending failed")?;
    println!("{}", serde_json::to_string(&report_json(&report))?);
    Ok(())
}

/// 00:00 UTC of the day of `start_ms`, or of yesterday.
pub fn day_start(start_ms: Option<i64>) -> i64 {
    let t = start_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis() - DAY_MS);
    t - t.rem_euclid(DAY_MS)
}

const DAY_MS: i64 = 86_400_000;

/// What a day carries, for tests and people to check detections against.
pub fn seeded_json(seeded: &[Seeded]) -> serde_json::Value {
    seeded
        .iter()
        .map(|s| {
            let (kind, what) = match s.what {
                Seed::Incident(k) => ("incident", k.name()),
                Seed::Lookalike(k) => ("lookalike", k.name()),
            };
            serde_json::json!({
                "kind": kind, "name": what, "host": s.host.to_string(),
                "start": flowhound_detect::iso_time(s.start_ms), "end": flowhound_detect::iso_time(s.end_ms),
                "categories": s.categories, "description": s.description,
            })
        })
        .collect()
}

pub fn report_json(r: &SendReport) -> serde_json::Value {
    serde_json::json!({
        "flows": r.flows,
        "packets": r.flow_packets,
        "bytes": r.flow_bytes,
        "datagrams": r.datagrams,
        "datagram_bytes": r.bytes,
        "skipped": r.skipped,
        "send_errors": r.send_errors,
        "elapsed_s": r.elapsed.as_secs_f64(),
        "flows_per_s": r.flows_per_s().round(),
        "exporters": r.exporters.iter().map(|e| serde_json::json!({
            "exporter": e.local.ip().to_string(),
            "domain_id": e.domain_id,
            "flows": e.flows,
            "packets": e.packets,
            "bytes": e.bytes,
        })).collect::<Vec<_>>(),
    })
}
