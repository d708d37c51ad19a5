//! The site inventory: which addresses are internal, which have a role
//! (mail servers, DNS servers, …), who owns them, and when the site is quiet.

use std::fmt;

use flowhound_model::Addr;

use crate::ranges::{paint, AddrSet, RangeMap};

/// The owner of a network, from the inventory's `owners` CSV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    /// The network as written in the CSV (`10.1.0.0/16`).
    pub network: String,
    /// Who owns it (a person, a department, a customer).
    pub owner: String,
    /// How to reach them (an e-mail address, usually).
    pub contact: Option<String>,
    /// Their account, for suspension.
    pub account: Option<String>,
}

/// A time zone: a fixed offset from UTC, or a named zone from the system's
/// time zone database (`/usr/share/zoneinfo`).
#[derive(Clone)]
pub(crate) enum Zone {
    Fixed(i32),
    Named(Box<tz::TimeZone>),
}

/// The site's time zone, as configured.
#[derive(Clone)]
pub struct TimeZone {
    name: String,
    zone: Zone,
}

impl TimeZone {
    /// UTC.
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".into(),
            zone: Zone::Fixed(0),
        }
    }

    /// `UTC`, a fixed offset (`+01:00`, `-05:30`) or an IANA name
    /// (`Europe/Zurich`) found in the system's time zone database.
    pub fn parse(s: &str) -> Result<TimeZone, String> {
        let name = s.trim();
        if matches!(name, "UTC" | "Etc/UTC" | "GMT" | "Z") {
            return Ok(TimeZone {
                name: name.into(),
                zone: Zone::Fixed(0),
            });
        }
        if let Some(secs) = parse_offset(name) {
            return Ok(TimeZone {
                name: name.into(),
                zone: Zone::Fixed(secs),
            });
        }
        let plausible = !name.is_empty()
            && !name.contains("..")
            && !name.starts_with('/')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
        let found = plausible && name.contains('/');
        if found {
            if let Ok(tz) = tz::TimeZone::from_posix_tz(name) {
                return Ok(TimeZone {
                    name: name.into(),
                    zone: Zone::Named(Box::new(tz)),
                });
            }
        }
        Err(format!(
            "unknown time zone \"{name}\": use UTC, an offset like \"+01:00\" or a name like \"Europe/Zurich\" from /usr/share/zoneinfo"
        ))
    }

    /// The name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's offset from UTC at an instant, in seconds.
    pub fn offset_secs(&self, unix_ms: i64) -> i32 {
        match &self.zone {
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => tz
                .find_local_time_type(unix_ms.div_euclid(1000))
                .map_or(0, |t| t.ut_offset()),
        }
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.name)
    }
}

impl PartialEq for TimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// `+01:00`, `-05:30`, `UTC+02:00`.
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.strip_prefix("UTC").unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// A daily interval of local time, `22:00-06:00`; it may wrap past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, minutes after local midnight (inclusive).
    pub start_min: u16,
    /// End, minutes after local midnight (exclusive); may be below start.
    pub end_min: u16,
}

impl QuietHours {
    /// `HH:MM-HH:MM`; the end may be `24:00`.
    pub fn parse(s: &str) -> Result<QuietHours, String> {
        let bad = |why: &str| format!("bad quiet_hours \"{s}\": {why}");
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| bad("expected HH:MM-HH:MM"))?;
        let time = |t: &str, end: bool| -> Result<u16, String> {
            let (h, m) = t
                .trim()
                .split_once(':')
                .ok_or_else(|| bad("expected HH:MM-HH:MM"))?;
            let h: u16 = h.parse().map_err(|_| bad("expected HH:MM-HH:MM"))?;
            let m: u16 = m.parse().map_err(|_| bad("expected HH:MM-HH:MM"))?;
            if m >= 60 || h > 24 || (h == 24 && (m != 0 || !end)) {
                return Err(bad(&format!("{} is not a time of day", t.trim())));
            }
            Ok(h * 60 + m)
        };
        let q = QuietHours {
            start_min: time(a, false)?,
            end_min: time(b, true)?,
        };
        if q.start_min == q.end_min {
            return Err(bad("start and end are the same"));
        }
        Ok(q)
    }

    /// Whether a minute of the local day falls inside.
    pub fn contains_minute(&self, minute: u16) -> bool {
        if self.start_min < self.end_min {
            (self.start_min..self.end_min).contains(&minute)
        } else {
            minute >= self.start_min || minute < self.end_min
        }
    }
}

/// The site inventory, built by [`crate::Config`]: internal networks, roles,
/// owners, time zone and quiet hours. Lookups are binary searches over
/// flattened range tables, fit for every flow.
#[derive(Debug, Clone)]
pub struct Site {
    pub(crate) internal: AddrSet,
    /// Role names in order, each with its set of addresses.
    pub(crate) roles: Vec<(String, AddrSet)>,
    pub(crate) owners: RangeMap<u128, u32>,
    pub(crate) owner_list: Vec<Owner>,
    pub(crate) timezone: TimeZone,
    pub(crate) quiet_hours: Option<QuietHours>,
    pub(crate) countries: Vec<[u8; 2]>,
}

impl Default for Site {
    fn default() -> Self {
        Site {
            internal: AddrSet::default(),
            roles: Vec::new(),
            owners: RangeMap::default(),
            owner_list: Vec::new(),
            timezone: TimeZone::utc(),
            quiet_hours: None,
            countries: Vec::new(),
        }
    }
}

impl Site {
    /// Whether the address is in one of the site's internal networks.
    #[inline]
    pub fn is_internal(&self, a: Addr) -> bool {
        self.internal.contains(a)
    }

    /// The internal networks, as inclusive address ranges.
    pub fn internal_ranges(&self) -> Vec<(Addr, Addr)> {
        self.internal.ranges()
    }

    /// Whether the site lists any internal network at all.
    pub fn has_internal(&self) -> bool {
        !self.internal.is_empty()
    }

    /// The roles of an address (`mail_servers`, …), in name order.
    pub fn roles(&self, a: Addr) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|(_, set)| set.contains(a))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether the address has one role; `false` for a role not configured.
    #[inline]
    pub fn has_role(&self, a: Addr, role: &str) -> bool {
        self.roles
            .iter()
            .any(|(name, set)| name == role && set.contains(a))
    }

    /// The addresses of one role, as inclusive ranges in address order;
    /// empty for a role not configured.
    pub fn role_ranges(&self, role: &str) -> Vec<(Addr, Addr)> {
        self.roles
            .iter()
            .filter(|(name, _)| name == role)
            .flat_map(|(_, set)| set.ranges())
            .collect()
    }

    /// The configured role names, in order.
    pub fn role_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.roles.iter().map(|(name, _)| name.as_str())
    }

    /// The owner of the narrowest listed network that holds the address.
    #[inline]
    pub fn owner(&self, a: Addr) -> Option<&Owner> {
        self.owners
            .get(a)
            .and_then(|i| self.owner_list.get(i as usize))
    }

    /// The site's time zone (UTC unless configured).
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    /// The quiet hours, if configured.
    pub fn quiet_hours(&self) -> Option<QuietHours> {
        self.quiet_hours
    }

    /// The site's own countries (`[site] countries`, ISO 3166 alpha-2, upper
    /// case): peers elsewhere are foreign. Empty when not configured.
    pub fn countries(&self) -> &[[u8; 2]] {
        &self.countries
    }

    /// Whether an instant (Unix milliseconds, UTC) falls in the quiet hours
    /// in the site's time zone; always `false` without quiet hours.
    pub fn is_quiet(&self, unix_ms: i64) -> bool {
        let Some(q) = self.quiet_hours else {
            return false;
        };
        let local_s = unix_ms.div_euclid(1000) + i64::from(self.timezone.offset_secs(unix_ms));
        let minute = local_s.div_euclid(60).rem_euclid(24 * 60) as u16;
        q.contains_minute(minute)
    }

    /// Build the owner table: `networks[i]` (first, last, prefix length in
    /// the 128-bit space) belongs to `owners[i]`; the longest prefix wins,
    /// and of equal ones the first listed.
    pub(crate) fn set_owners(&mut self, networks: Vec<(u128, u128, u8)>, owners: Vec<Owner>) {
        let mut order: Vec<usize> = (0..networks.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(networks[i].2));
        let painted = paint(order.into_iter().map(|i| {
            let (first, last, _) = networks[i];
            (first, last, i as u32)
        }));
        self.owners = RangeMap::from_sorted(painted);
        self.owner_list = owners;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours::parse("22:00-06:00").expect("valid");
        assert!(q.contains_minute(22 * 60));
        assert!(q.contains_minute(3 * 60));
        assert!(!q.contains_minute(6 * 60));
        assert!(!q.contains_minute(12 * 60));
        let day = QuietHours::parse("09:00-17:30").expect("valid");
        assert!(day.contains_minute(17 * 60 + 29) && !day.contains_minute(17 * 60 + 30));
        assert!(QuietHours::parse("18:00-24:00").is_ok());
    }

    #[test]
    fn bad_quiet_hours_say_why() {
        assert_eq!(
            QuietHours::parse("25:00-06:00").expect_err("bad hour"),
            "bad quiet_hours \"25:00-06:00\": 25:00 is not a time of day"
        );
        assert!(QuietHours::parse("22:00").is_err());
        assert!(QuietHours::parse("22:60-06:00").is_err());
        assert!(QuietHours::parse("06:00-06:00").is_err());
    }

    #[test]
    fn time_zones() {
        assert_eq!(TimeZone::parse("UTC").expect("utc").offset_secs(0), 0);
        assert_eq!(
            TimeZone::parse("+01:00").expect("fixed").offset_secs(0),
            3600
        );
        assert_eq!(
            TimeZone::parse("-05:30").expect("fixed").offset_secs(0),
            -19800
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert!(TimeZone::parse("../../etc/passwd").is_err());
        if std::path::Path::new("/usr/share/zoneinfo/Europe/Zurich").exists() {
            let z = TimeZone::parse("Europe/Zurich").expect("system tz database");
            // 2026-01-15 12:00 UTC (winter, +01:00) and 2026-07-15 (summer, +02:00).
            assert_eq!(z.offset_secs(1_768_478_400_000), 3600);
            assert_eq!(z.offset_secs(1_784_116_800_000), 7200);
        } else {
            eprintln!("skipping Europe/Zurich: no /usr/share/zoneinfo");
        }
    }

    #[test]
    fn quiet_in_the_site_zone() {
        let site = Site {
            timezone: TimeZone::parse("+02:00").expect("fixed"),
            quiet_hours: Some(QuietHours::parse("22:00-06:00").expect("valid")),
            ..Site::default()
        };
        let h = 3_600_000i64;
        // 2026-07-15 00:00 UTC = 02:00 local: quiet; 10:00 UTC = 12:00: not.
        let midnight = 1_784_073_600_000i64;
        assert!(site.is_quiet(midnight));
        assert!(!site.is_quiet(midnight + 10 * h));
        // 20:00 UTC = 22:00 local: quiet starts; 19:59 UTC: not yet.
        assert!(site.is_quiet(midnight + 20 * h));
        assert!(!site.is_quiet(midnight + 20 * h - 60_000));
        assert!(!Site::default().is_quiet(midnight));
    }
}
