//! The abuse desk's daily jobs: the day's detections into cases with the
//! notices due, and the SMTP report of the day, mailed to the desk.
//!
//! `flowhound serve` runs them on its `[[schedule]]`; `flowhound report
//! smtp` and `flowhound cases update` run the same code by hand, so a
//! scheduled report is byte for byte the one a user would write.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use flowhound_cases::{CaseRow, Delivery, Desk, Mailer, NotifyConfig, Outgoing, Update};
use flowhound_detect::{detect, iso_time, Context, Detection, Rule};
use flowhound_report::{OpenCase, ReportDay, SmtpOptions, SmtpReport};
use flowhound_store::{LocalStore, TimeWindow};

use crate::schedule::{Job, Schedule};
use crate::ServeError;

/// What the daily jobs read: the store, the site, its rules, the desk.
#[derive(Clone)]
pub struct Jobs {
    /// The data directory (flows; the case database by default).
    pub data: PathBuf,
    /// The rules, as the config tunes them.
    pub rules: Vec<Rule>,
    /// The site inventory and registries.
    pub ctx: Context,
    /// `[notify]` and `[cases]`.
    pub notify: NotifyConfig,
    /// The config file, printed in the report's commands.
    pub config_label: Option<String>,
}

impl Jobs {
    /// The case database: `[cases] database`, or `DATA/cases.sqlite`.
    pub fn case_database(&self) -> PathBuf {
        self.notify
            .database
            .clone()
            .unwrap_or_else(|| self.data.join(flowhound_cases::DATABASE))
    }

    /// The rules over the flows of `window`.
    pub fn detect(&self, window: TimeWindow) -> Result<Detection, ServeError> {
        detect(&LocalStore::new(&self.data), window, &self.rules, &self.ctx)
            .map_err(ServeError::Rules)
    }

    /// The desk's active cases, for a report; `None` when there is no case
    /// database yet (the report says so).
    pub fn open_cases(&self) -> Result<Option<Vec<OpenCase>>, ServeError> {
        let path = self.case_database();
        if !path.exists() {
            return Ok(None);
        }
        let desk = Desk::open(&path, self.notify.clone())?;
        Ok(Some(desk.open_cases()?.iter().map(open_case).collect()))
    }

    /// The SMTP report of `day` with `detection` (the day's alerts) and
    /// the open cases; the top `top` senders.
    pub fn smtp_report(
        &self,
        day: &ReportDay,
        detection: &Detection,
        top: usize,
    ) -> Result<SmtpReport, ServeError> {
        let options = SmtpOptions {
            top: top.max(1),
            data_label: self.data.display().to_string(),
            config_label: self.config_label.clone(),
            ..SmtpOptions::default()
        };
        Ok(SmtpReport::build_with(
            &self.data,
            day,
            &self.ctx.site,
            self.ctx.enricher.clone(),
            detection,
            self.open_cases()?,
            &options,
        )?)
    }

    /// `detection`'s alerts into cases, at flow time `now_flow_ms`; then the
    /// messages due, through `mailer` (`now_ms`, wall time, is recorded as
    /// their delivery time).
    pub fn update_cases(
        &self,
        detection: &Detection,
        now_flow_ms: i64,
        mailer: &Mailer,
        now_ms: i64,
    ) -> Result<(Update, Delivery, PathBuf), ServeError> {
        let path = self.case_database();
        let mut desk = Desk::open(&path, self.notify.clone())?;
        let update = desk.apply(&detection.alerts, &self.ctx.site, now_flow_ms)?;
        let delivery = desk.deliver(mailer, now_ms)?;
        Ok((update, delivery, path))
    }

    /// Mail `report` (written to `dir`) to `[notify] desk`: the summary as
    /// plain text, the page as HTML beside it.
    pub fn mail_report(
        &self,
        mailer: &Mailer,
        report: &SmtpReport,
        day: &ReportDay,
        dir: &Path,
    ) -> Result<String, ServeError> {
        let desk = self.notify.desk.clone().ok_or_else(|| {
            ServeError::Job("the report is to be mailed, but [notify] desk is not set".into())
        })?;
        let domain = self
            .notify
            .from
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d.trim_end_matches('>'));
        let message = Outgoing {
            case: format!("report-smtp-{}", day.date),
            label: "report".into(),
            from: self.notify.from.clone(),
            to: desk,
            subject: format!("flowhound: the SMTP report of {}", day.date),
            body: format!(
                "{}\n\nThe report with its tables and CSV files: {}\n",
                report.summary(),
                dir.display()
            ),
            html: Some(report.html()),
            message_id: format!("<report-smtp-{}@{domain}>", day.date),
            in_reply_to: None,
        };
        Ok(mailer.send(&message)?)
    }

    /// The site's day `day` (its time zone) and the rules over its flows.
    pub fn detect_day(&self, day: NaiveDate) -> Result<(ReportDay, Detection), ServeError> {
        let rday = ReportDay::of_date(day, &self.ctx.site);
        let detection = self.detect(TimeWindow::new(rday.start_ms, rday.end_ms))?;
        Ok((rday, detection))
    }

    /// Run `schedule`'s job for the day `rday`, whose alerts are
    /// `detection` (see [`Jobs::detect_day`]), with `mailer`. Returns one
    /// line for the log.
    pub fn run(
        &self,
        schedule: &Schedule,
        rday: &ReportDay,
        detection: &Detection,
        mailer: &Mailer,
        now_ms: i64,
    ) -> Result<String, ServeError> {
        match &schedule.job {
            Job::SmtpReport { out, mail } => {
                let dir = out.join(&rday.date);
                let report = self.smtp_report(rday, detection, SmtpOptions::default().top)?;
                let written = report.write(&dir)?;
                let mut what = format!(
                    "the SMTP report of {} is in {} ({} files, {} alerts)",
                    rday.date,
                    dir.display(),
                    written.len(),
                    detection.alerts.len()
                );
                if *mail {
                    let via = self.mail_report(mailer, &report, rday, &dir)?;
                    what.push_str(&format!("; mailed to the desk via {via}"));
                }
                Ok(what)
            }
            Job::CasesUpdate => {
                let (up, sent, _) = self.update_cases(detection, rday.end_ms, mailer, now_ms)?;
                let mut what = format!(
                    "cases for {}: {} alerts ({} new), {} opened, {} notices, {} escalated, {} resolved; {} messages sent",
                    rday.date,
                    up.new_alerts + up.known_alerts,
                    up.new_alerts,
                    up.opened.len(),
                    up.notices.len(),
                    up.escalated.len(),
                    up.resolved.len(),
                    sent.sent.len()
                );
                if sent.waiting > 0 {
                    what.push_str(&format!(", {} waiting (no [notify] smtp)", sent.waiting));
                }
                if !sent.failed.is_empty() {
                    return Err(ServeError::Job(format!(
                        "{what}; {} failed (tried again on the next update): {}",
                        sent.failed.len(),
                        sent.failed[0].outcome
                    )));
                }
                Ok(what)
            }
        }
    }
}

/// A case as a report lists it.
pub fn open_case(c: &CaseRow) -> OpenCase {
    OpenCase {
        id: c.id.clone(),
        host: c.host.clone(),
        category: c.category.clone(),
        state: c.state.name().to_string(),
        notices: c.notices,
        owner: c.owner.clone().unwrap_or_default(),
        first_seen: iso_time(c.first_seen_ms),
        last_seen: iso_time(c.last_seen_ms),
    }
}
