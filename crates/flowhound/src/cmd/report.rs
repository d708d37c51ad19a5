//! `flowhound report`: reports over a day of stored flows. The work is in
//! `flowhound-report`, and the day's detections and open cases come the
//! way `flowhound serve`'s schedule gets them (`flowhound_serve::jobs`);
//! this loads the config and prints what was written.

use std::path::Path;

use flowhound_detect::Context;
use flowhound_report::{ReportDay, ReportError};
use flowhound_serve::jobs::Jobs;
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

/// The daily jobs over `data` with the rules, site, registries and
/// `[notify]` of `config`.
pub fn jobs(
    data: &Path,
    config: Option<&Path>,
    rules: &[std::path::PathBuf],
) -> anyhow::Result<Jobs> {
    let set = super::detect::rules(config, rules)?;
    let (cfg, enricher) = super::whois::config_and_enricher(config)?;
    Ok(Jobs {
        data: data.to_path_buf(),
        rules: set.rules,
        ctx: Context {
            site: cfg.map(|c| c.site).unwrap_or_default(),
            enricher,
        },
        notify: super::cases::notify_config(config)?,
        config_label: config.map(|c| c.display().to_string()),
    })
}

fn smtp(a: ReportSmtpArgs, config: Option<&Path>) -> anyhow::Result<()> {
    let jobs = jobs(&a.data, config, &[])?;
    let day = ReportDay::parse(&a.day, &jobs.ctx.site).map_err(report_err)?;
    if !a.data.is_dir() {
        return Err(report_err(ReportError::NoData(a.data)));
    }
    let detection = jobs
        .detect(TimeWindow::new(day.start_ms, day.end_ms))
        .map_err(super::serve::serve_err)?;
    for (rule, why) in &detection.skipped {
        eprintln!("flowhound: rule {rule} did not run: {why}");
    }
    let report = jobs
        .smtp_report(&day, &detection, a.top)
        .map_err(super::serve::serve_err)?;
    for path in report.write(&a.out).map_err(report_err)? {
        println!("{}", path.display());
    }
    Ok(())
}
