//! `flowhound cases`: the abuse desk over DATA/cases.sqlite. The logic is
//! flowhound-cases'; this wires the detections, the site and the mailer.

use std::io::Write;
use std::path::Path;

use flowhound_cases::{Case, CaseError, CaseRow, Change, Desk, Mailer, NotifyConfig, State};
use flowhound_detect::iso_time;
use flowhound_store::TimeWindow;
use serde_json::json;

use crate::args::{
    CaseCloseArgs, CaseShowArgs, CasesCommand, CasesListArgs, CasesUpdateArgs, Format,
};
use crate::units::user;

pub fn run(c: CasesCommand, config: Option<&Path>) -> anyhow::Result<()> {
    match c {
        CasesCommand::Update(a) => update(a, config),
        CasesCommand::List(a) => list(a, config),
        CasesCommand::Show(a) => show(a, config),
        CasesCommand::Close(a) => close(a, config),
    }
}

/// User errors exit with status 2.
fn cases_err(e: CaseError) -> anyhow::Error {
    if e.is_user() {
        user(e.to_string())
    } else {
        e.into()
    }
}

/// `[notify]` and `[cases]` of `--config`, or the defaults.
pub fn notify_config(config: Option<&Path>) -> anyhow::Result<NotifyConfig> {
    match config {
        Some(p) => NotifyConfig::load(p).map_err(cases_err),
        None => Ok(NotifyConfig::default()),
    }
}

/// The case database (`[cases] database`, or DATA/cases.sqlite), which
/// `cases update` made.
fn open_desk(data: &Path, notify: NotifyConfig) -> anyhow::Result<Desk> {
    let path = notify
        .database
        .clone()
        .unwrap_or_else(|| data.join(flowhound_cases::DATABASE));
    if !path.exists() {
        return Err(user(format!(
            "no case database at {} (`flowhound cases update` makes it)",
            path.display()
        )));
    }
    Desk::open(&path, notify).map_err(cases_err)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn update(a: CasesUpdateArgs, config: Option<&Path>) -> anyhow::Result<()> {
    if !a.data.is_dir() {
        return Err(user(format!(
            "data directory {} does not exist",
            a.data.display()
        )));
    }
    let jobs = super::report::jobs(&a.data, config, &a.rules)?;
    let mailer = match &a.dry_run {
        Some(dir) => Mailer::dry_run(dir),
        None => Mailer::from_config(&jobs.notify).map_err(cases_err)?,
    };
    let window = super::query::window_arg(a.window.as_deref())?;
    let found = jobs
        .detect(window.unwrap_or(TimeWindow::new(0, i64::MAX)))
        .map_err(super::serve::serve_err)?;
    for (rule, why) in &found.skipped {
        eprintln!("flowhound: rule {rule} did not run: {why}");
    }
    // Flow time: the end of the window looked at, else of the last alert.
    let now_flow = window
        .map(|w| w.end_ms)
        .filter(|&e| e != i64::MAX)
        .or_else(|| found.alerts.iter().map(|a| a.window_end_ms).max())
        .unwrap_or(i64::MIN);
    let (up, sent, database) = jobs
        .update_cases(&found, now_flow, &mailer, now_ms())
        .map_err(super::serve::serve_err)?;

    let mut out = std::io::stdout().lock();
    match a.output {
        Format::Json => {
            let changes = |l: &[Change]| -> serde_json::Value {
                l.iter()
                    .map(|c| json!({"case": c.case, "host": c.host, "category": c.category, "time": iso_time(c.time_ms), "note": c.note}))
                    .collect()
            };
            let msgs = |l: &[flowhound_cases::Sent]| -> serde_json::Value {
                l.iter()
                    .map(|s| json!({"case": s.case, "label": s.label, "to": s.to, "outcome": s.outcome}))
                    .collect()
            };
            let v = json!({
                "database": database.display().to_string(),
                "mailer": mailer.describe(),
                "new_alerts": up.new_alerts,
                "known_alerts": up.known_alerts,
                "opened": changes(&up.opened),
                "notices": changes(&up.notices),
                "escalated": changes(&up.escalated),
                "resolved": changes(&up.resolved),
                "delivered": msgs(&sent.sent),
                "failed": msgs(&sent.failed),
                "waiting": sent.waiting,
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        Format::Table => {
            writeln!(
                out,
                "{} alerts ({} new, {} seen before) → {}",
                up.new_alerts + up.known_alerts,
                up.new_alerts,
                up.known_alerts,
                database.display()
            )?;
            for (what, list) in [
                ("opened", &up.opened),
                ("notice", &up.notices),
                ("escalated", &up.escalated),
                ("resolved", &up.resolved),
            ] {
                for c in list {
                    writeln!(
                        out,
                        "{what:<10} {:<13} {:<20} {:<16} {:<10} {}",
                        c.case,
                        iso_time(c.time_ms),
                        c.host,
                        c.category,
                        c.note
                    )?;
                }
            }
            for s in &sent.sent {
                writeln!(
                    out,
                    "sent       {:<13} {:<12} to {} via {}",
                    s.case, s.label, s.to, s.outcome
                )?;
            }
            for s in &sent.failed {
                writeln!(
                    out,
                    "FAILED     {:<13} {:<12} to {}: {}",
                    s.case, s.label, s.to, s.outcome
                )?;
            }
            if sent.waiting > 0 {
                writeln!(
                    out,
                    "{} messages wait: no [notify] smtp in the config (or --dry-run DIR)",
                    sent.waiting
                )?;
            }
            if up.opened.is_empty()
                && up.notices.is_empty()
                && up.escalated.is_empty()
                && up.resolved.is_empty()
            {
                writeln!(out, "No case changed.")?;
            }
        }
    }
    if !sent.failed.is_empty() {
        anyhow::bail!(
            "{} messages were not delivered (they are tried again on the next update)",
            sent.failed.len()
        );
    }
    Ok(())
}

fn list(a: CasesListArgs, config: Option<&Path>) -> anyhow::Result<()> {
    let state: Option<State> = a
        .state
        .as_deref()
        .map(|s| s.parse().map_err(|e: String| user(format!("--state: {e}"))))
        .transpose()?;
    let desk = open_desk(&a.data, notify_config(config)?)?;
    let rows = desk.list(state).map_err(cases_err)?;
    let mut out = std::io::stdout().lock();
    match a.output {
        Format::Json => {
            let v: Vec<serde_json::Value> = rows.iter().map(CaseRow::to_json).collect();
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        Format::Table => {
            if rows.is_empty() {
                writeln!(out, "No cases.")?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<13} {:<22} {:>7} {:<20} {:<12} {:<20} {:<24} last seen",
                "case", "state", "notices", "host", "category", "owner", "contact"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<13} {:<22} {:>7} {:<20} {:<12} {:<20} {:<24} {}",
                    r.id,
                    r.state.name(),
                    r.notices,
                    r.host,
                    r.category,
                    r.owner.as_deref().unwrap_or("-"),
                    r.contact.as_deref().unwrap_or("-"),
                    iso_time(r.last_seen_ms)
                )?;
            }
        }
    }
    Ok(())
}

fn show(a: CaseShowArgs, config: Option<&Path>) -> anyhow::Result<()> {
    let desk = open_desk(&a.data, notify_config(config)?)?;
    let case = desk.case(&a.id).map_err(cases_err)?;
    print_case(&case, a.output)
}

fn close(a: CaseCloseArgs, config: Option<&Path>) -> anyhow::Result<()> {
    let mut desk = open_desk(&a.data, notify_config(config)?)?;
    let case = desk.close(&a.id, &a.reason, now_ms()).map_err(cases_err)?;
    print_case(&case, a.output)
}

fn print_case(c: &Case, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &c.to_json())?;
        writeln!(out)?;
        return Ok(());
    }
    let r = &c.row;
    let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    writeln!(out, "case       {}  ({})", r.id, r.state)?;
    writeln!(
        out,
        "host       {}  {} ({})",
        r.host, r.category, r.severity
    )?;
    writeln!(
        out,
        "owner      {}  network {}",
        or(&r.owner),
        or(&r.network)
    )?;
    writeln!(
        out,
        "contact    {}  account {}",
        or(&r.contact),
        or(&r.account)
    )?;
    writeln!(
        out,
        "seen       {} to {}",
        iso_time(r.first_seen_ms),
        iso_time(r.last_seen_ms)
    )?;
    writeln!(out, "notices    {}", r.notices)?;
    writeln!(out, "\nhistory")?;
    for t in &c.history {
        writeln!(
            out,
            "  {}  {:<24} {:<22} {}",
            iso_time(t.time_ms),
            t.event,
            t.state.name(),
            t.note
        )?;
        if let Some(filter) = t.evidence.as_ref().and_then(|e| e["filter"].as_str()) {
            let window = t
                .evidence
                .as_ref()
                .and_then(|e| e["window"].as_str())
                .unwrap_or("");
            writeln!(out, "  {:<20}  evidence: -t {window} '{filter}'", "")?;
        }
    }
    if !c.messages.is_empty() {
        writeln!(out, "\nmessages")?;
        for m in &c.messages {
            let status = match (&m.delivered_ms, m.cancelled, &m.error) {
                (Some(t), _, _) => format!(
                    "delivered {} via {}",
                    iso_time(*t),
                    m.via.as_deref().unwrap_or("")
                ),
                (None, true, _) => "cancelled (case closed)".into(),
                (None, false, Some(e)) => format!("waiting, last error: {e}"),
                (None, false, None) => "waiting".into(),
            };
            writeln!(out, "  {:<16} {:<28} {status}", m.label, m.to)?;
        }
    }
    Ok(())
}
