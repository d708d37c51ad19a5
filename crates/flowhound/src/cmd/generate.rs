use anyhow::Context;
use flowhound_generate::{send, Proto, Scenario, SendConfig, SendReport};
use flowhound_store::parse_window;

use crate::args::GenerateArgs;
use crate::units::user;

pub fn config(a: &GenerateArgs) -> anyhow::Result<SendConfig> {
    let proto: Proto = a.proto.parse().map_err(|e| user(format!("--proto: {e}")))?;
    let scenario: Scenario = a
        .scenario
        .parse()
        .map_err(|e| user(format!("--scenario: {e}")))?;
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
    let report = send(&c, &stop).context("sending failed")?;
    println!("{}", serde_json::to_string(&report_json(&report))?);
    Ok(())
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
