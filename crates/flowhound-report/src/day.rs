//! The day a report covers: a calendar date, in UTC or in the site's time
//! zone, as a window of flow time.

use chrono::{Datelike, NaiveDate};
use flowhound_enrich::{QuietHours, Site, TimeZone};
use serde::Serialize;

use crate::error::ReportError;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// One calendar day of flow time: `[start_ms, end_ms)` in UTC, the site's
/// local day when it has a time zone other than UTC.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The zone the date is in (`UTC`, or the site's).
    pub timezone: String,
    /// Whether it is the site's local day rather than a UTC day.
    pub local: bool,
    /// Its first millisecond, Unix ms.
    pub start_ms: i64,
    /// The first millisecond after it.
    pub end_ms: i64,
    #[serde(skip)]
    zone: Option<TimeZone>,
}

fn is_utc(tz: &TimeZone) -> bool {
    matches!(tz.name(), "UTC" | "Etc/UTC" | "GMT" | "Z")
}

/// The UTC instant of a local wall-clock time (`naive_ms` as if it were
/// UTC); a time skipped or repeated by a clock change takes the offset in
/// force just before.
fn local_to_utc(tz: &TimeZone, naive_ms: i64) -> i64 {
    let first = naive_ms - i64::from(tz.offset_secs(naive_ms)) * 1000;
    naive_ms - i64::from(tz.offset_secs(first)) * 1000
}

impl ReportDay {
    /// `YYYY-MM-DD`, in the site's time zone (UTC unless configured). A bad
    /// date says what is wrong with it.
    pub fn parse(text: &str, site: &Site) -> Result<ReportDay, ReportError> {
        let t = text.trim();
        let parts: Vec<&str> = t.split('-').collect();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if parts.len() != 3 || !digits(parts[0], 4) || !digits(parts[1], 2) || !digits(parts[2], 2)
        {
            return Err(ReportError::day(
                text,
                "expected YYYY-MM-DD, e.g. 2026-11-26",
            ));
        }
        let num = |s: &str| s.parse::<u32>().unwrap_or(0);
        let (y, m, d) = (num(parts[0]) as i32, num(parts[1]), num(parts[2]));
        if !(1..=12).contains(&m) {
            return Err(ReportError::day(
                text,
                format!("{m} is not a month (01-12)"),
            ));
        }
        let date = NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| ReportError::day(text, format!("{y:04}-{m:02} has no day {d}")))?;
        Ok(ReportDay::of_date(date, site))
    }

    /// A date in the site's time zone.
    pub fn of_date(date: NaiveDate, site: &Site) -> ReportDay {
        let tz = site.timezone();
        let midnight = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp_millis())
        };
        let next = date.succ_opt().unwrap_or(date);
        let (start_naive, end_naive) = (midnight(date), midnight(next));
        let local = !is_utc(tz);
        let (start_ms, end_ms) = if local {
            (local_to_utc(tz, start_naive), local_to_utc(tz, end_naive))
        } else {
            (start_naive, end_naive)
        };
        ReportDay {
            date: format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
            timezone: if local {
                tz.name().to_string()
            } else {
                "UTC".into()
            },
            local,
            start_ms,
            end_ms: end_ms.max(start_ms + 1),
            zone: local.then(|| tz.clone()),
        }
    }

    /// The day before the one holding `unix_ms` in the site's time zone:
    /// what a report scheduled in the morning covers.
    pub fn before(unix_ms: i64, site: &Site) -> ReportDay {
        let tz = site.timezone();
        let local_ms = unix_ms + i64::from(tz.offset_secs(unix_ms)) * 1000;
        let today = chrono::DateTime::from_timestamp_millis(local_ms)
            .map(|t| t.date_naive())
            .unwrap_or_default();
        ReportDay::of_date(today.pred_opt().unwrap_or(today), site)
    }

    /// The window in `flowhound query -t` form (ISO 8601, UTC).
    pub fn window_text(&self) -> String {
        window_text(self.start_ms, self.end_ms)
    }

    /// One sentence on what the day is, for the report's readers.
    pub fn describe(&self) -> String {
        if self.local {
            format!(
                "{} in the site's time zone {} ({} – {} UTC), by flow time",
                self.date,
                self.timezone,
                iso(self.start_ms),
                iso(self.end_ms)
            )
        } else {
            format!(
                "{} as a UTC day (00:00 – 24:00 UTC), by flow time",
                self.date
            )
        }
    }

    /// `HH:MM` of an instant in the day's zone.
    pub fn clock(&self, unix_ms: i64) -> String {
        let offset = self
            .zone
            .as_ref()
            .map_or(0, |z| i64::from(z.offset_secs(unix_ms)) * 1000);
        let m = (unix_ms + offset).div_euclid(MINUTE_MS).rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    }

    /// The parts of the day inside the quiet hours (local time of the
    /// site), as `[start, end)` windows in UTC, in time order.
    pub fn quiet_windows(&self, quiet: QuietHours) -> Vec<(i64, i64)> {
        let to_utc = |naive: i64| match &self.zone {
            Some(z) => local_to_utc(z, naive),
            None => naive,
        };
        // The local date's midnight, as naive ms.
        let Ok(date) = NaiveDate::parse_from_str(&self.date, "%Y-%m-%d") else {
            return Vec::new();
        };
        let midnight = date
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis());
        let (qs, qe) = (
            i64::from(quiet.start_min) * MINUTE_MS,
            i64::from(quiet.end_min) * MINUTE_MS,
        );
        let mut out: Vec<(i64, i64)> = Vec::new();
        for k in -1..=1 {
            let base = midnight + k * DAY_MS;
            let (a, b) = if qs < qe {
                (base + qs, base + qe)
            } else {
                (base + qs, base + DAY_MS + qe)
            };
            let (a, b) = (to_utc(a).max(self.start_ms), to_utc(b).min(self.end_ms));
            if a < b {
                match out.last_mut() {
                    Some(last) if last.1 >= a => last.1 = last.1.max(b),
                    _ => out.push((a, b)),
                }
            }
        }
        out
    }
}

/// `2026-11-26T14:00:00Z`.
pub(crate) fn iso(ms: i64) -> String {
    flowhound_detect::iso_time(ms)
}

/// `START/END` as `flowhound query -t` reads it.
pub(crate) fn window_text(start_ms: i64, end_ms: i64) -> String {
    format!("{}/{}", iso(start_ms), iso(end_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str) -> Site {
        flowhound_enrich::Config::parse(text, "t.toml".as_ref())
            .expect("config")
            .site
    }

    #[test]
    fn bad_days_say_why() {
        let s = Site::default();
        let e = |t: &str| ReportDay::parse(t, &s).expect_err(t).to_string();
        assert_eq!(
            e("26.11.2026"),
            "bad day \"26.11.2026\": expected YYYY-MM-DD, e.g. 2026-11-26"
        );
        assert_eq!(
            e("2026-13-01"),
            "bad day \"2026-13-01\": 13 is not a month (01-12)"
        );
        assert_eq!(
            e("2026-02-30"),
            "bad day \"2026-02-30\": 2026-02 has no day 30"
        );
        assert!(ReportDay::parse("2026-2-3", &s).is_err());
    }

    #[test]
    fn utc_and_local_days() {
        let d = ReportDay::parse("2025-12-01", &Site::default()).expect("day");
        assert_eq!(
            (d.start_ms, d.end_ms),
            (1_764_547_200_000, 1_764_633_600_000)
        );
        assert!(!d.local);
        assert_eq!(d.window_text(), "2025-12-01T00:00:00Z/2025-12-02T00:00:00Z");
        let s = site("[site]\ntimezone = \"+02:00\"\nquiet_hours = \"22:00-06:00\"\n");
        let d = ReportDay::parse("2025-12-01", &s).expect("day");
        assert!(d.local);
        assert_eq!(d.start_ms, 1_764_547_200_000 - 7_200_000);
        assert_eq!(d.clock(d.start_ms), "00:00");
        let q = d.quiet_windows(s.quiet_hours().expect("quiet"));
        let h = 3_600_000;
        assert_eq!(
            q,
            vec![
                (d.start_ms, d.start_ms + 6 * h),
                (d.start_ms + 22 * h, d.end_ms)
            ]
        );
    }

    #[test]
    fn the_day_before() {
        let s = Site::default();
        let d = ReportDay::before(1_764_633_600_000 + 6 * 3_600_000, &s);
        assert_eq!(d.date, "2025-12-01");
    }
}
