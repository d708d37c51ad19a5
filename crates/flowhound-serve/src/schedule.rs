//! `[[schedule]]`: the daily jobs serve runs, at a time of the site's day.
//!
//! ```toml
//! [[schedule]]
//! report = "smtp"          # the SMTP report of the day before
//! at = "06:00"             # the site's time ([site] timezone; UTC by default)
//! out = "reports"          # default DATA/reports; one directory per day
//! mail = true              # mail it to [notify] desk (default: when [notify] has smtp and desk)
//! [[schedule]]
//! cases = "update"         # the day before's detections into cases, notices due
//! at = "06:30"
//! ```
//!
//! A job runs once per day, for the day before (the site's day). What ran is
//! kept in `DATA/schedule.json`, so a restart does not repeat a day, and a
//! daemon started after `at` catches up on yesterday at once. Days missed
//! while serve was down for longer are not replayed (the log says so; run
//! `flowhound report smtp --day …` for them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use flowhound_enrich::TimeZone;
use serde::{Deserialize, Serialize};

use crate::ServeError;

const DAY_MS: i64 = 86_400_000;

/// What a schedule runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// The daily SMTP report, written under `out`, mailed to the desk when
    /// `mail`.
    SmtpReport {
        /// Where each day's directory goes.
        out: PathBuf,
        /// Whether to mail it to the desk.
        mail: bool,
    },
    /// Cases from the day's detections, and the notices due.
    CasesUpdate,
}

impl Job {
    /// The name in logs and in the state file.
    pub fn name(&self) -> &'static str {
        match self {
            Job::SmtpReport { .. } => "report smtp",
            Job::CasesUpdate => "cases update",
        }
    }
}

/// One `[[schedule]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// What runs.
    pub job: Job,
    /// Minutes after the site's midnight.
    pub at_minute: u16,
}

#[derive(Deserialize)]
struct RawTop {
    #[serde(default)]
    schedule: Vec<toml::Spanned<RawSchedule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    report: Option<String>,
    cases: Option<String>,
    at: Option<String>,
    out: Option<String>,
    mail: Option<bool>,
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// `HH:MM` as minutes after midnight.
fn parse_at(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    // (Computed only for a valid time: an hour of 1093 or more would
    // overflow.)
    (h < 24 && m < 60 && !s.contains('-')).then(|| h * 60 + m)
}

/// The `[[schedule]]` tables of the config `text` (read from `path`).
/// `data` is where relative `out` directories default to; `can_mail` says
/// whether `[notify]` names an SMTP server and the desk (mail's default).
pub fn parse_schedules(
    text: &str,
    path: &Path,
    base: &Path,
    data: &Path,
    can_mail: bool,
) -> Result<Vec<Schedule>, ServeError> {
    let file = path.display().to_string();
    let raw: RawTop = toml::from_str(text).map_err(|e| ServeError::Config {
        file: file.clone(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        reason: e.message().to_string(),
    })?;
    let mut out = Vec::new();
    for (i, s) in raw.schedule.iter().enumerate() {
        let line = line_of(text, s.span().start);
        let err = |reason: String| ServeError::Config {
            file: file.clone(),
            line,
            reason: format!("schedule[{i}]: {reason}"),
        };
        let r = s.get_ref();
        let job = match (&r.report, &r.cases) {
            (Some(report), None) if report == "smtp" => Job::SmtpReport {
                out: r
                    .out
                    .as_deref()
                    .map_or_else(|| data.join("reports"), |o| base.join(o)),
                mail: r.mail.unwrap_or(can_mail),
            },
            (Some(report), None) => {
                return Err(err(format!(
                    "report = {report:?}: the report there is is \"smtp\""
                )))
            }
            (None, Some(cases)) if cases == "update" => Job::CasesUpdate,
            (None, Some(cases)) => {
                return Err(err(format!(
                    "cases = {cases:?}: the scheduled cases job is \"update\""
                )))
            }
            _ => {
                return Err(err(
                    "say what runs: report = \"smtp\" or cases = \"update\" (one per table)".into(),
                ))
            }
        };
        if matches!(job, Job::CasesUpdate) && (r.out.is_some() || r.mail.is_some()) {
            return Err(err(
                "out and mail are for reports; cases update mails its notices through [notify]"
                    .into(),
            ));
        }
        if matches!(job, Job::SmtpReport { mail: true, .. }) && !can_mail {
            return Err(err(
                "mail = true needs [notify] smtp and desk: the server to send it with, and who gets it"
                    .into(),
            ));
        }
        let at = r.at.as_deref().ok_or_else(|| {
            err("at is missing: the site's time to run, e.g. at = \"06:00\"".into())
        })?;
        let at_minute = parse_at(at)
            .ok_or_else(|| err(format!("at = {at:?}: expected HH:MM, e.g. \"06:00\"")))?;
        let schedule = Schedule { job, at_minute };
        if out.iter().any(|o: &Schedule| o.key() == schedule.key()) {
            return Err(err(format!(
                "{} is scheduled twice: one table a job and time",
                schedule.key()
            )));
        }
        out.push(schedule);
    }
    Ok(out)
}

/// The site's day that `unix_ms` falls in, and that day's start and end
/// (Unix ms).
pub fn site_day(tz: &TimeZone, unix_ms: i64) -> (NaiveDate, i64, i64) {
    let offset = i64::from(tz.offset_secs(unix_ms)) * 1000;
    let local = unix_ms + offset;
    let day = local.div_euclid(DAY_MS);
    let start = day * DAY_MS - offset;
    let date =
        NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap_or(NaiveDate::MIN);
    (date, start, start + DAY_MS)
}

/// Minutes since the site's midnight at `unix_ms`.
fn site_minute(tz: &TimeZone, unix_ms: i64) -> u16 {
    let local = unix_ms + i64::from(tz.offset_secs(unix_ms)) * 1000;
    (local.rem_euclid(DAY_MS) / 60_000) as u16
}

impl Schedule {
    /// The day to run for at `now_ms`, if this schedule is due: the day
    /// before today (the site's), once `at` has passed and unless it ran
    /// for that day already.
    pub fn due(&self, tz: &TimeZone, now_ms: i64, last: Option<NaiveDate>) -> Option<NaiveDate> {
        if site_minute(tz, now_ms) < self.at_minute {
            return None;
        }
        let (today, _, _) = site_day(tz, now_ms);
        let yesterday = today.pred_opt()?;
        match last {
            Some(done) if done >= yesterday => None,
            _ => Some(yesterday),
        }
    }

    /// The key of this schedule in the state file.
    pub fn key(&self) -> String {
        format!(
            "{} at {:02}:{:02}",
            self.job.name(),
            self.at_minute / 60,
            self.at_minute % 60
        )
    }
}

/// What ran, per schedule: `DATA/schedule.json`.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScheduleState {
    /// Schedule key → the last day it ran for (`YYYY-MM-DD`).
    pub done: BTreeMap<String, String>,
}

impl ScheduleState {
    /// The last day `schedule` ran for.
    pub fn last(&self, schedule: &Schedule) -> Option<NaiveDate> {
        self.done.get(&schedule.key())?.parse().ok()
    }

    /// Record that `schedule` ran for `day`.
    pub fn ran(&mut self, schedule: &Schedule, day: NaiveDate) {
        self.done.insert(schedule.key(), day.to_string());
    }

    /// The state in `path`; empty when there is none yet.
    pub fn load(path: &Path) -> Result<ScheduleState, ServeError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| ServeError::Config {
                file: path.display().to_string(),
                line: e.line(),
                reason: format!("the schedule state is damaged ({e}); remove it to start afresh"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ScheduleState::default()),
            Err(e) => Err(ServeError::Io(path.display().to_string(), e.to_string())),
        }
    }

    /// Write it atomically.
    pub fn save(&self, path: &Path) -> Result<(), ServeError> {
        let tmp = path.with_extension("json.tmp");
        let io = |e: std::io::Error| ServeError::Io(path.display().to_string(), e.to_string());
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| ServeError::Io(path.display().to_string(), e.to_string()))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// Run every schedule due at `now_ms` (wall-clock time) with `run`, for
/// the day before the site's today, and record it in `state`. A job that
/// fails is logged and recorded as run all the same: it is not retried
/// every half minute (the log says how to run it by hand). Returns how
/// many jobs ran.
pub fn run_due(
    schedules: &[Schedule],
    state: &mut ScheduleState,
    tz: &TimeZone,
    now_ms: i64,
    mut run: impl FnMut(&Schedule, NaiveDate) -> Result<String, ServeError>,
) -> usize {
    let mut ran = 0;
    for s in schedules {
        let Some(day) = s.due(tz, now_ms, state.last(s)) else {
            continue;
        };
        if let Some(last) = state.last(s) {
            if let Some(gap) = day.signed_duration_since(last).num_days().checked_sub(1) {
                if gap > 0 {
                    tracing::warn!(job = %s.key(), missed = gap,
                        "serve was down: {gap} earlier day(s) are not replayed (run them by hand)");
                }
            }
        }
        match run(s, day) {
            Ok(what) => tracing::info!(job = %s.key(), day = %day, "{what}"),
            Err(e) => tracing::error!(job = %s.key(), day = %day, error = %e,
                "scheduled job failed; it will run again tomorrow (or run it by hand)"),
        }
        state.ran(s, day);
        ran += 1;
    }
    ran
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Schedule>, String> {
        parse_schedules(
            text,
            Path::new("f.toml"),
            Path::new("/etc"),
            Path::new("/d"),
            true,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn twice_the_same_job_and_time_or_mail_without_a_server_are_refused() {
        let e = parse("[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\n[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\nout = \"x\"\n")
            .expect_err("twice");
        assert!(
            e.contains("f.toml:4:") && e.contains("scheduled twice"),
            "{e}"
        );
        let without = |text: &str| {
            parse_schedules(
                text,
                Path::new("f.toml"),
                Path::new("/etc"),
                Path::new("/d"),
                false,
            )
            .map_err(|e| e.to_string())
        };
        let e = without("[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\nmail = true\n")
            .expect_err("no server");
        assert!(e.contains("needs [notify] smtp and desk"), "{e}");
        let s = without("[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\n").expect("parses");
        assert_eq!(
            s[0].job,
            Job::SmtpReport {
                out: PathBuf::from("/d/reports"),
                mail: false
            },
            "not mailed when it cannot be"
        );
    }

    #[test]
    fn schedules_parse_and_bad_ones_are_named() {
        let s = parse("[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\n[[schedule]]\ncases = \"update\"\nat = \"6:30\"\n")
            .expect("parses");
        assert_eq!(
            s,
            vec![
                Schedule {
                    job: Job::SmtpReport {
                        out: PathBuf::from("/d/reports"),
                        mail: true
                    },
                    at_minute: 360
                },
                Schedule {
                    job: Job::CasesUpdate,
                    at_minute: 390
                },
            ]
        );
        let e = parse("\n[[schedule]]\nreport = \"smtp\"\nat = \"25:00\"\n").expect_err("bad at");
        assert_eq!(
            e,
            "f.toml:2: schedule[0]: at = \"25:00\": expected HH:MM, e.g. \"06:00\""
        );
        // Found by fuzzing (fuzz/regressions/desk_config): an hour too
        // large for minutes panicked on overflow instead of being refused.
        let e = parse("[[schedule]]\ncases = \"update\"\nat = \"0005677:30\"\n")
            .expect_err("hour 5677");
        assert!(e.contains("expected HH:MM"), "{e}");
        let e = parse("[[schedule]]\nreport = \"dns\"\nat = \"06:00\"\n").expect_err("bad report");
        assert!(e.contains("report = \"dns\""), "{e}");
        let e = parse("[[schedule]]\nreport = \"smtp\"\n").expect_err("no at");
        assert!(e.contains("at is missing"), "{e}");
        let e = parse("[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\nwhen = 1\n")
            .expect_err("unknown");
        assert!(e.contains("when"), "{e}");
        let e = parse_schedules(
            "[[schedule]]\nreport = \"smtp\"\nat = \"06:00\"\nmail = true\n",
            Path::new("f.toml"),
            Path::new("/etc"),
            Path::new("/d"),
            false,
        )
        .map_err(|e| e.to_string())
        .expect_err("mail without notify");
        assert!(e.contains("[notify]"), "{e}");
    }

    #[test]
    fn a_job_runs_once_a_day_for_the_day_before() {
        let s = Schedule {
            job: Job::CasesUpdate,
            at_minute: 6 * 60,
        };
        let utc = TimeZone::utc();
        // 2026-11-26 05:59 and 06:00 UTC.
        let day = 1_795_651_200_000;
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        assert_eq!(s.due(&utc, day + 359 * 60_000, None), None);
        assert_eq!(s.due(&utc, day + 360 * 60_000, None), Some(d(2026, 11, 25)));
        assert_eq!(s.due(&utc, day + 360 * 60_000, Some(d(2026, 11, 25))), None);
        // Down for three days: yesterday only.
        assert_eq!(
            s.due(&utc, day + 23 * 3_600_000, Some(d(2026, 11, 21))),
            Some(d(2026, 11, 25))
        );
        // In the site's zone: 06:00 at +02:00 is 04:00 UTC.
        let zurich = TimeZone::parse("+02:00").expect("fixed");
        assert_eq!(
            s.due(&zurich, day + 4 * 3_600_000, None),
            Some(d(2026, 11, 25))
        );
        let (date, start, end) = site_day(&zurich, day + 23 * 3_600_000);
        assert_eq!(date, d(2026, 11, 27));
        assert_eq!((start, end), (day + 22 * 3_600_000, day + 46 * 3_600_000));
    }

    #[test]
    fn the_state_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("schedule.json");
        assert_eq!(
            ScheduleState::load(&p).expect("none"),
            ScheduleState::default()
        );
        let mut s = ScheduleState::default();
        let job = Schedule {
            job: Job::CasesUpdate,
            at_minute: 360,
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        s.ran(&job, day);
        s.save(&p).expect("save");
        assert_eq!(ScheduleState::load(&p).expect("load").last(&job), Some(day));
        std::fs::write(&p, "{").expect("damage");
        assert!(ScheduleState::load(&p)
            .expect_err("damaged")
            .to_string()
            .contains("remove it"));
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;

    #[test]
    fn due_jobs_run_once_and_failures_are_not_retried_all_day() {
        let schedules = vec![
            Schedule {
                job: Job::CasesUpdate,
                at_minute: 6 * 60,
            },
            Schedule {
                job: Job::SmtpReport {
                    out: PathBuf::from("/r"),
                    mail: false,
                },
                at_minute: 7 * 60,
            },
        ];
        let utc = TimeZone::utc();
        let day = 1_795_651_200_000; // 2026-11-26 00:00 UTC
        let mut state = ScheduleState::default();
        let mut calls = Vec::new();
        let mut run = |s: &Schedule, d: NaiveDate| {
            calls.push((s.job.name(), d.to_string()));
            match s.job {
                Job::CasesUpdate => Ok("done".to_string()),
                Job::SmtpReport { .. } => Err(ServeError::Job("disk full".into())),
            }
        };
        assert_eq!(
            run_due(&schedules, &mut state, &utc, day + 3_600_000, &mut run),
            0
        );
        assert_eq!(
            run_due(&schedules, &mut state, &utc, day + 6 * 3_600_000, &mut run),
            1
        );
        assert_eq!(
            run_due(&schedules, &mut state, &utc, day + 6 * 3_600_000, &mut run),
            0
        );
        assert_eq!(
            run_due(&schedules, &mut state, &utc, day + 8 * 3_600_000, &mut run),
            1
        );
        assert_eq!(
            run_due(&schedules, &mut state, &utc, day + 9 * 3_600_000, &mut run),
            0
        );
        assert_eq!(
            calls,
            vec![
                ("cases update", "2026-11-25".to_string()),
                ("report smtp", "2026-11-25".to_string())
            ]
        );
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("schedule.json");
        state.save(&path).expect("save");
        assert_eq!(ScheduleState::load(&path).expect("load"), state);
    }
}
