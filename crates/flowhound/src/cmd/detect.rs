//! `flowhound detect`: the rule pack (tuned by the config), the site's own
//! rules and blocklists, over stored flows.

use std::io::Write;
use std::path::Path;

use flowhound_detect::{detect, Context, DetectError, Detection, RuleSet};
use flowhound_store::{LocalStore, TimeWindow};

use crate::args::{DetectArgs, Format};
use crate::units::{human, user};

/// The rules of `--config` and `--rules`; a bad rule is the user's fault.
pub fn rules(config: Option<&Path>, extra: &[std::path::PathBuf]) -> anyhow::Result<RuleSet> {
    RuleSet::load(config, extra).map_err(detect_err)
}

/// User errors exit with status 2.
pub fn detect_err(e: DetectError) -> anyhow::Error {
    if e.is_user() {
        user(e.to_string())
    } else {
        e.into()
    }
}

/// Run the rules over the flows of `window` in `data`.
pub fn run_detection(
    data: &Path,
    window: Option<TimeWindow>,
    set: &RuleSet,
    config: Option<&Path>,
) -> anyhow::Result<Detection> {
    if !data.is_dir() {
        return Err(user(format!(
            "data directory {} does not exist",
            data.display()
        )));
    }
    let (config, enricher) = super::whois::config_and_enricher(config)?;
    let ctx = Context {
        site: config.map(|c| c.site).unwrap_or_default(),
        enricher,
    };
    detect_with(data, window, set, &ctx)
}

/// [`run_detection`] with the site and registries already loaded.
pub fn detect_with(
    data: &Path,
    window: Option<TimeWindow>,
    set: &RuleSet,
    ctx: &Context,
) -> anyhow::Result<Detection> {
    let window = window.unwrap_or(TimeWindow::new(0, i64::MAX));
    detect(&LocalStore::new(data), window, &set.rules, ctx).map_err(detect_err)
}

pub fn run(a: DetectArgs, config: Option<&Path>) -> anyhow::Result<()> {
    let set = rules(config, &a.rules)?;
    let mut out = std::io::stdout().lock();
    if a.list_rules {
        return list(&set, a.output, &mut out);
    }
    let data = a
        .data
        .as_deref()
        .ok_or_else(|| user("--data DIR is needed"))?;
    let window = super::query::window_arg(a.window.as_deref())?;
    let found = run_detection(data, window, &set, config)?;
    for (rule, why) in &found.skipped {
        eprintln!("flowhound: rule {rule} did not run: {why}");
    }
    match a.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &found.alerts)?;
            writeln!(out)?;
        }
        Format::Table => table(&found, &data.display().to_string(), &mut out)?,
    }
    Ok(())
}

fn list(set: &RuleSet, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    if format == Format::Json {
        let rows: Vec<serde_json::Value> = set
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name, "category": r.category, "severity": r.severity,
                    "description": r.description, "filter": r.filter_text,
                    "key": r.key.name(), "window_ms": r.window_ms, "sliding": r.sliding,
                    "origin": r.origin, "references": r.references,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<18} {:<13} {:<9} {:>6}  {:<40} origin",
        "rule", "category", "severity", "window", "filter"
    )?;
    for r in &set.rules {
        let window = format!("{}m", r.window_ms / 60_000);
        let mut filter = r.filter_text.clone();
        if filter.len() > 40 {
            filter.truncate(37);
            filter.push_str("...");
        }
        writeln!(
            out,
            "{:<18} {:<13} {:<9} {:>6}  {:<40} {}",
            r.name, r.category, r.severity, window, filter, r.origin
        )?;
    }
    if !set.disabled.is_empty() {
        writeln!(out, "\ndisabled in the config: {}", set.disabled.join(", "))?;
    }
    Ok(())
}

pub fn table(found: &Detection, data: &str, out: &mut impl Write) -> anyhow::Result<()> {
    if found.alerts.is_empty() {
        writeln!(
            out,
            "No alerts: {} rules ran and found nothing.",
            found.rules_run
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<20} {:<39} {:<12} {:<16} {:<8} {:>8} {:>7} {:>6}  {:<16} countries",
        "window start",
        "window end",
        "host",
        "category",
        "rule",
        "severity",
        "flows",
        "peers",
        "ports",
        "top ports"
    )?;
    for a in &found.alerts {
        let ports: Vec<String> = a
            .top_ports
            .iter()
            .take(3)
            .map(|p| p.port.to_string())
            .collect();
        let countries: Vec<String> = a
            .top_countries
            .iter()
            .take(5)
            .map(|c| c.country.clone())
            .collect();
        writeln!(
            out,
            "{:<20} {:<20} {:<39} {:<12} {:<16} {:<8} {:>8} {:>7} {:>6}  {:<16} {}",
            flowhound_detect::iso_time(a.window_start_ms),
            flowhound_detect::iso_time(a.window_end_ms),
            a.host.to_string(),
            a.category,
            a.rule,
            a.severity.name(),
            human(a.flows),
            human(a.distinct_peers),
            human(a.distinct_ports),
            ports.join(","),
            countries.join(" ")
        )?;
    }
    writeln!(
        out,
        "\n{} alerts from {} rules. The evidence of one: {}",
        found.alerts.len(),
        found.rules_run,
        found.alerts[0].query_command(data)
    )?;
    Ok(())
}
