//! `flowhound report`: reports over a day of stored flows. The work is in
//! `flowhound-report`; this loads the config, runs the day's detections,
//! hands over the open cases and prints what was written.

use std::path::Path;

use flowhound_detect::Context;
use flowhound_report::{OpenCase, ReportDay, ReportError, SmtpOptions, SmtpReport};
use flowhound_store::TimeWindow;

use crate::args::{ReportCommand, ReportSmtpArgs};
use crate::units::user;

pub fn run(c: ReportCommand, config: Option<&Path>) -> anyhow::Result<()> {
    match c {
        ReportCommand::Smtp(a) => smtp(a, config),
    }
}

/// User errors (a bad day, no data directory) exit with status 2.
fn report_err(e: ReportError) -> anyhow::Error {
    if e.is_user() {
        user(e.to_string())
    } else {
        e.into()
    }
}

fn smtp(a: ReportSmtpArgs, config: Option<&Path>) -> anyhow::Result<()> {
    let (cfg, enricher) = super::whois::config_and_enricher(config)?;
    let site = cfg.map(|c| c.site).unwrap_or_default();
    let day = ReportDay::parse(&a.day, &site).map_err(report_err)?;
    if !a.data.is_dir() {
        return Err(report_err(ReportError::NoData(a.data)));
    }
    let rules = super::detect::rules(config, &[])?;
    let ctx = Context {
        site: site.clone(),
        enricher: enricher.clone(),
    };
    let window = TimeWindow::new(day.start_ms, day.end_ms);
    let detection = super::detect::detect_with(&a.data, Some(window), &rules, &ctx)?;
    for (rule, why) in &detection.skipped {
        eprintln!("flowhound: rule {rule} did not run: {why}");
    }
    let options = SmtpOptions {
        top: a.top.max(1),
        data_label: a.data.display().to_string(),
        config_label: config.map(|c| c.display().to_string()),
        ..SmtpOptions::default()
    };
    let report = SmtpReport::build_with(
        &a.data,
        &day,
        &site,
        enricher,
        &detection,
        open_cases(&a.data, config)?,
        &options,
    )
    .map_err(report_err)?;
    for path in report.write(&a.out).map_err(report_err)? {
        println!("{}", path.display());
    }
    Ok(())
}

/// The abuse desk's active cases for the report; `None` when there is no
/// case database yet (the report says so).
fn open_cases(data: &Path, config: Option<&Path>) -> anyhow::Result<Option<Vec<OpenCase>>> {
    let Some(desk) = super::cases::existing_desk(data, config)? else {
        return Ok(None);
    };
    let rows = desk
        .open_cases()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .map(|c| OpenCase {
            id: c.id,
            host: c.host,
            category: c.category,
            state: c.state.name().to_string(),
            notices: c.notices,
            owner: c.owner.unwrap_or_default(),
            first_seen: flowhound_detect::iso_time(c.first_seen_ms),
            last_seen: flowhound_detect::iso_time(c.last_seen_ms),
        })
        .collect();
    Ok(Some(rows))
}
