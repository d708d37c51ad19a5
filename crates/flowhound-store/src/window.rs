//! Time windows in flow time, as users type them (`-t`).
//!
//! Two forms are accepted, both UTC:
//!
//! - nfdump's: `YYYY/MM/DD.hh:mm:ss[-YYYY/MM/DD.hh:mm:ss]`, also with the
//!   time shortened to `hh:mm` or `hh`, or left out (`YYYY/MM/DD`). Missing
//!   fields are zero. As in nfdump 1.7, the end time itself is in:
//!   `…-2026/11/26.15:00:00` takes flows that end by 15:00:00.000 (checked
//!   against nfdump on a day of 40 M flows). A single time means from then
//!   on.
//! - ISO 8601 intervals: `2026-11-26T00:00:00Z/2026-11-27T00:00:00Z`,
//!   half-open, with `Z`, an offset, or none (UTC); fractional seconds and a
//!   bare date (`2026-11-26`) are accepted. A single time means from then on.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// A half-open interval of flow time, Unix milliseconds. A flow is in it
/// when all of it is, as nfdump's `-t` has it: `start_ms <= time_start` and
/// `time_end < end_ms` ([`TimeWindow::holds`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// First millisecond in the window.
    pub start_ms: i64,
    /// First millisecond after the window (`i64::MAX`: open-ended).
    pub end_ms: i64,
}

impl TimeWindow {
    /// The window `[start_ms, end_ms)`.
    pub fn new(start_ms: i64, end_ms: i64) -> Self {
        TimeWindow { start_ms, end_ms }
    }

    /// Whether a flow starting at `t` is in the window.
    #[inline]
    pub fn contains(&self, t: i64) -> bool {
        self.start_ms <= t && t < self.end_ms
    }

    /// Whether a flow from `first` to `last` lies in the window, as nfdump
    /// selects flows for `-t`: it starts in it and ends in it.
    #[inline]
    pub fn holds(&self, first: i64, last: i64) -> bool {
        self.start_ms <= first && first < self.end_ms && last < self.end_ms
    }

    /// Whether any of the inclusive range `[min, max]` is in the window.
    #[inline]
    pub fn overlaps(&self, min: i64, max: i64) -> bool {
        min < self.end_ms && max >= self.start_ms
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |t: i64| {
            DateTime::from_timestamp_millis(t)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_else(|| t.to_string())
        };
        if self.end_ms == i64::MAX {
            write!(f, "{}/…", show(self.start_ms))
        } else {
            write!(f, "{}/{}", show(self.start_ms), show(self.end_ms))
        }
    }
}

/// A time window that could not be parsed: the input as typed, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad time window {input:?}: {reason}")]
pub struct WindowError {
    /// What the user typed.
    pub input: String,
    /// What is wrong with it, quoting the offending part.
    pub reason: String,
}

#[cold]
fn bad(input: &str, reason: impl Into<String>) -> WindowError {
    WindowError {
        input: input.to_string(),
        reason: reason.into(),
    }
}

const NFDUMP_FORMS: &str = "expected YYYY/MM/DD[.hh[:mm[:ss]]][-YYYY/MM/DD[.hh[:mm[:ss]]]] \
                            or an ISO 8601 interval like 2026-11-26T00:00:00Z/2026-11-27T00:00:00Z";

/// Parses a time window in nfdump's or ISO 8601 form; see the module docs.
pub fn parse_window(s: &str) -> Result<TimeWindow, WindowError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(bad(s, format!("empty; {NFDUMP_FORMS}")));
    }
    let iso =
        t.len() >= 5 && t.as_bytes()[..4].iter().all(u8::is_ascii_digit) && t.as_bytes()[4] == b'-';
    let window = if iso {
        let (a, b) = match t.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let start = parse_iso(s, a)?;
        let end = match b {
            Some(b) => parse_iso(s, b)?,
            None => i64::MAX,
        };
        TimeWindow::new(start, end)
    } else {
        let (a, b) = match t.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let start = parse_nfdump(s, a)?;
        let end = match b {
            // The end time itself is in, to the millisecond, as in nfdump
            // 1.7 (a flow ending at hh:mm:ss.000 is in, at .001 out).
            Some(b) => parse_nfdump(s, b)?.saturating_add(1),
            None => i64::MAX,
        };
        TimeWindow::new(start, end)
    };
    if window.end_ms <= window.start_ms {
        return Err(bad(s, "the end is not after the start"));
    }
    Ok(window)
}

/// `YYYY/MM/DD[.hh[:mm[:ss]]]`, UTC, to Unix milliseconds.
fn parse_nfdump(input: &str, part: &str) -> Result<i64, WindowError> {
    let part = part.trim();
    let (date, time) = match part.split_once('.') {
        Some((d, t)) => (d, Some(t)),
        None => (part, None),
    };
    let d: Vec<&str> = date.split('/').collect();
    if d.len() != 3 {
        return Err(bad(
            input,
            format!("{part:?} is not a date; {NFDUMP_FORMS}"),
        ));
    }
    let num = |field: &str, what: &str| -> Result<u32, WindowError> {
        if field.is_empty() || field.len() > 4 || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                input,
                format!("{what} {field:?} in {part:?} is not a number"),
            ));
        }
        field.parse().map_err(|_| {
            bad(
                input,
                format!("{what} {field:?} in {part:?} is not a number"),
            )
        })
    };
    let (y, mo, da) = (num(d[0], "year")?, num(d[1], "month")?, num(d[2], "day")?);
    let date = NaiveDate::from_ymd_opt(y as i32, mo, da)
        .ok_or_else(|| bad(input, format!("{date:?} is not a calendar date")))?;
    let (mut h, mut mi, mut se) = (0, 0, 0);
    if let Some(time) = time {
        let t: Vec<&str> = time.split(':').collect();
        if t.len() > 3 {
            return Err(bad(input, format!("{time:?} is not hh[:mm[:ss]]")));
        }
        h = num(t[0], "hour")?;
        if let Some(m) = t.get(1) {
            mi = num(m, "minute")?;
        }
        if let Some(x) = t.get(2) {
            se = num(x, "second")?;
        }
    }
    let dt = date
        .and_hms_opt(h, mi, se)
        .ok_or_else(|| bad(input, format!("{part:?} is not a time of day")))?;
    Ok(dt.and_utc().timestamp_millis())
}

/// One ISO 8601 / RFC 3339 instant; no offset means UTC.
fn parse_iso(input: &str, part: &str) -> Result<i64, WindowError> {
    let part = part.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(part) {
        return Ok(t.timestamp_millis());
    }
    let naive = part.strip_suffix('Z').unwrap_or(part);
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, f) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(bad(
        input,
        format!("{part:?} is not an ISO 8601 time (like 2026-11-26T00:00:00Z)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-26T00:00:00Z
    const DAY: i64 = 1_795_651_200_000;
    const H: i64 = 3_600_000;

    fn ok(s: &str) -> TimeWindow {
        match parse_window(s) {
            Ok(w) => w,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn nfdump_range_includes_the_end_time() {
        // nfdump 1.7: a flow ending at 15:00:00.000 is in, at .001 out.
        let w = ok("2026/11/26.14:00:00-2026/11/26.15:00:00");
        assert_eq!(w, TimeWindow::new(DAY + 14 * H, DAY + 15 * H + 1));
        assert!(w.holds(DAY + 14 * H, DAY + 15 * H));
        assert!(!w.holds(DAY + 14 * H, DAY + 15 * H + 1));
    }

    #[test]
    fn nfdump_short_forms() {
        assert_eq!(ok("2026/11/26.14:30").start_ms, DAY + 14 * H + 30 * 60_000);
        assert_eq!(ok("2026/11/26.14").start_ms, DAY + 14 * H);
        assert_eq!(ok("2026/11/26"), TimeWindow::new(DAY, i64::MAX));
        assert_eq!(
            ok("2026/11/26-2026/11/27"),
            TimeWindow::new(DAY, DAY + 24 * H + 1)
        );
        assert_eq!(
            ok(" 2026/1/2.3:4:5 ").start_ms,
            1_767_312_000_000 + 3 * H + 4 * 60_000 + 5000
        );
    }

    #[test]
    fn iso_interval_is_half_open() {
        assert_eq!(
            ok("2026-11-26T00:00:00Z/2026-11-27T00:00:00Z"),
            TimeWindow::new(DAY, DAY + 24 * H)
        );
        assert_eq!(
            ok("2026-11-26/2026-11-27"),
            TimeWindow::new(DAY, DAY + 24 * H)
        );
        assert_eq!(ok("2026-11-26T14:00:00.250Z").start_ms, DAY + 14 * H + 250);
        assert_eq!(ok("2026-11-26T15:00:00+01:00").start_ms, DAY + 14 * H);
        assert_eq!(ok("2026-11-26T14:00").start_ms, DAY + 14 * H);
        assert_eq!(ok("2026-11-26T14:00:00Z").end_ms, i64::MAX);
    }

    #[test]
    fn errors_quote_the_input() {
        for (s, needle) in [
            ("", "empty"),
            ("yesterday", "\"yesterday\""),
            ("2026/13/01", "\"2026/13/01\" is not a calendar date"),
            ("2026/11/26.25:00", "not a time of day"),
            ("2026/11/26.1x", "hour \"1x\""),
            ("2026/11/26.14:00:00:00", "hh[:mm[:ss]]"),
            ("2026/11/27-2026/11/26", "not after"),
            (
                "2026-11-26T00:00:00Z/tomorrow",
                "\"tomorrow\" is not an ISO 8601 time",
            ),
            ("2026-11-27/2026-11-26", "not after"),
            ("2026/11", "not a date"),
        ] {
            let e = parse_window(s).expect_err(s);
            assert_eq!(e.input, s);
            let msg = e.to_string();
            assert!(msg.contains(needle), "{s}: {msg}");
            assert!(msg.contains(&format!("{s:?}")), "{s}: {msg}");
        }
    }

    #[test]
    fn contains_and_overlaps_are_half_open() {
        let w = TimeWindow::new(10, 20);
        assert!(w.contains(10) && w.contains(19) && !w.contains(20) && !w.contains(9));
        assert!(w.holds(10, 19) && w.holds(12, 12));
        assert!(!w.holds(9, 12) && !w.holds(15, 20) && !w.holds(20, 21));
        assert!(
            w.overlaps(0, 10) && w.overlaps(19, 30) && !w.overlaps(20, 30) && !w.overlaps(0, 9)
        );
    }
}
