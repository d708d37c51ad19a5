use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use flowhound_collect::exporters::read_book;
use flowhound_query::{summary, Summary};
use flowhound_store::LocalStore;

use crate::args::{Format, SummaryArgs};
use crate::units::{human, time, user};

pub fn run(a: SummaryArgs) -> anyhow::Result<()> {
    if !a.data.is_dir() {
        return Err(user(format!(
            "data directory {} does not exist",
            a.data.display()
        )));
    }
    let window = super::query::window_arg(a.window.as_deref())?;
    let book = read_book(&a.data)
        .with_context(|| format!("cannot read {}/exporters.json", a.data.display()))?;
    let sequences: BTreeMap<String, (u64, u64)> = book
        .into_iter()
        .map(|(k, s)| (k, (s.sequence_failures, s.lost)))
        .collect();
    let store = LocalStore::new(&a.data);
    let s = summary(&store, window, &sequences)?;
    let mut out = std::io::stdout().lock();
    match a.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &json(&s))?;
            writeln!(out)?;
        }
        Format::Table => table(&mut out, &s)?,
    }
    Ok(())
}

fn json(s: &Summary) -> serde_json::Value {
    let t = |ms: i64| {
        if ms == 0 {
            serde_json::Value::Null
        } else {
            time(ms).into()
        }
    };
    serde_json::json!({
        "flows": s.flows,
        "packets": s.packets,
        "bytes": s.bytes,
        "flows_tcp": s.flows_tcp,
        "flows_udp": s.flows_udp,
        "flows_icmp": s.flows_icmp,
        "flows_other": s.flows_other,
        "first": t(s.first_ms),
        "last": t(s.last_ms),
        "sequence_failures": s.exporters.iter().map(|e| e.sequence_failures).sum::<u64>(),
        "lost": s.exporters.iter().map(|e| e.lost).sum::<u64>(),
        "exporters": s.exporters.iter().map(|e| serde_json::json!({
            "exporter": e.exporter,
            "domain_id": e.domain_id,
            "version": e.version,
            "flows": e.flows,
            "packets": e.packets,
            "bytes": e.bytes,
            "first": t(e.first_ms),
            "last": t(e.last_ms),
            "sequence_failures": e.sequence_failures,
            "lost": e.lost,
        })).collect::<Vec<_>>(),
    })
}

fn table(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    writeln!(out, "Flows:             {} ({})", s.flows, human(s.flows))?;
    writeln!(
        out,
        "  tcp/udp/icmp/other: {}/{}/{}/{}",
        s.flows_tcp, s.flows_udp, s.flows_icmp, s.flows_other
    )?;
    writeln!(
        out,
        "Packets:           {} ({})",
        s.packets,
        human(s.packets)
    )?;
    writeln!(out, "Bytes:             {} ({}B)", s.bytes, human(s.bytes))?;
    if s.flows > 0 {
        writeln!(out, "First:             {} UTC", time(s.first_ms))?;
        writeln!(out, "Last:              {} UTC", time(s.last_ms))?;
    }
    let failures: u64 = s.exporters.iter().map(|e| e.sequence_failures).sum();
    let lost: u64 = s.exporters.iter().map(|e| e.lost).sum();
    writeln!(out, "Sequence failures: {failures} (lost {lost})")?;
    if s.exporters.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<39} {:>10} {:>3} {:>12} {:>14} {:>16} {:<23} {:<23} {:>8} {:>10}",
        "Exporter",
        "Domain",
        "Ver",
        "Flows",
        "Packets",
        "Bytes",
        "First",
        "Last",
        "SeqFail",
        "Lost"
    )?;
    for e in &s.exporters {
        writeln!(
            out,
            "{:<39} {:>10} {:>3} {:>12} {:>14} {:>16} {:<23} {:<23} {:>8} {:>10}",
            e.exporter,
            e.domain_id,
            e.version,
            e.flows,
            e.packets,
            e.bytes,
            time(e.first_ms),
            time(e.last_ms),
            e.sequence_failures,
            e.lost
        )?;
    }
    Ok(())
}
