//! The daily SMTP report: its tables, each one question to the query
//! engine with the filter and window printed beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowhound_detect::{iso_time, Alert, Detection};
use flowhound_enrich::Site;
use flowhound_filter::{AddrSet, Filter};
use flowhound_model::{addr_to_ip, country_str, Enricher, COUNTRY_UNKNOWN};
use flowhound_query::{AggRow, Aggregate, Key, Order, QueryEngine, Value};
use flowhound_store::{LocalStore, TimeWindow};
use serde::Serialize;

use crate::day::{window_text, ReportDay};
use crate::error::ReportError;

/// What the report counts as mail: connections to the SMTP port. Port 25
/// only: that is where mail goes from server to server, and where a spam
/// bot sends directly to the victims' MX. The submission ports (587, 465)
/// carry a user's mail to the site's own server, which is normal for every
/// client; counting them would hide the bots among the laptops.
pub const SMTP_FILTER: &str = "proto tcp and dst port 25";

/// The site role of the registered mail servers (`[roles] mail_servers`).
pub const MAIL_ROLE: &str = "mail_servers";

const HOUR_MS: i64 = 3_600_000;

/// How big the tables are, and how the printed commands name things.
#[derive(Clone, Debug)]
pub struct SmtpOptions {
    /// Rows of the top-senders table.
    pub top: usize,
    /// Top senders whose destination countries are listed.
    pub countries_of: usize,
    /// Countries listed per sender.
    pub countries_per_sender: usize,
    /// The data directory as the printed `flowhound query` commands name it.
    pub data_label: String,
    /// The `--config FILE` the printed commands carry (registries, site).
    pub config_label: Option<String>,
}

impl Default for SmtpOptions {
    fn default() -> Self {
        SmtpOptions {
            top: 20,
            countries_of: 10,
            countries_per_sender: 8,
            data_label: "DATA".into(),
            config_label: None,
        }
    }
}

/// One table of the report: the question (filter, window, the command that
/// asks it), a note for its readers, and the rows.
#[derive(Clone, Debug, Serialize)]
pub struct Section<R> {
    /// The heading.
    pub title: String,
    /// The filter the engine ran (empty for tables not from flows).
    pub filter: String,
    /// The window, in `flowhound query -t` form.
    pub window: String,
    /// The `flowhound query` command that prints the same numbers.
    pub query: String,
    /// What the reader should know: why it is empty, what it leaves out.
    pub note: Option<String>,
    /// The rows.
    pub rows: Vec<R>,
}

/// A row type: its CSV file's name and columns (the serde field names).
pub(crate) trait Row: Serialize {
    const COLUMNS: &'static [&'static str];
}

/// SMTP flows of one hour of the day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourRow {
    /// The hour's start on the report day's clock, `HH:MM`.
    pub hour: String,
    /// Its start, UTC, ISO 8601.
    pub start: String,
    /// Flows starting in the hour.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Whether the hour starts in the site's quiet hours.
    pub quiet: bool,
}

impl Row for HourRow {
    const COLUMNS: &'static [&'static str] =
        &["hour", "start", "flows", "packets", "bytes", "quiet"];
}

/// One sending host (source address) of SMTP flows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SenderRow {
    /// Its place by flows, from 1.
    pub rank: usize,
    /// The source address.
    pub srcip: String,
    /// SMTP flows it sent.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct destination addresses.
    pub distinct_dstip: u64,
    /// First flow start, UTC.
    pub first: String,
    /// Last flow end, UTC.
    pub last: String,
    /// In the site's internal networks.
    pub internal: bool,
    /// A registered mail server (`[roles] mail_servers`).
    pub registered: bool,
    /// What to make of it: `registered mail server`, `unregistered
    /// internal sender`, `external`.
    pub kind: String,
    /// The owner of its network, from the site inventory.
    pub owner: String,
}

impl Row for SenderRow {
    const COLUMNS: &'static [&'static str] = &[
        "rank",
        "srcip",
        "flows",
        "packets",
        "bytes",
        "distinct_dstip",
        "first",
        "last",
        "internal",
        "registered",
        "kind",
        "owner",
    ];
}

/// A registered mail server's SMTP flows in one stretch of quiet hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuietRow {
    /// The server.
    pub srcip: String,
    /// The quiet stretch on the site's clock, `22:00-24:00`.
    pub quiet: String,
    /// The stretch, in `flowhound query -t` form.
    pub window: String,
    /// Flows in the stretch.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct destination addresses.
    pub distinct_dstip: u64,
    /// The server's SMTP flows over the whole day (the top-senders
    /// question for it), to set the stretch against its usual volume.
    pub day_flows: u64,
    /// `flows` as a percentage of `day_flows`; the quiet hours' share of
    /// the day's length is the honest baseline.
    pub percent_of_day: u64,
}

impl Row for QuietRow {
    const COLUMNS: &'static [&'static str] = &[
        "srcip",
        "quiet",
        "window",
        "flows",
        "packets",
        "bytes",
        "distinct_dstip",
        "day_flows",
        "percent_of_day",
    ];
}

/// One destination country of one top sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CountryRow {
    /// The sender.
    pub srcip: String,
    /// ISO 3166 alpha-2, `??` where the registry does not know the address.
    pub country: String,
    /// Flows from the sender to the country.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Outside the site's own countries (`[site] countries`); empty when
    /// they are not configured or the country is unknown.
    pub foreign: Option<bool>,
}

impl Row for CountryRow {
    const COLUMNS: &'static [&'static str] =
        &["srcip", "country", "flows", "packets", "bytes", "foreign"];
}

/// One alert of the rule pack over the report day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DetectionRow {
    /// The incident's first window start, UTC.
    pub window_start: String,
    /// Its last window end.
    pub window_end: String,
    /// The host blamed.
    pub host: String,
    /// The rule.
    pub rule: String,
    /// Its category (`spam`, `worm`, `scan`, …).
    pub category: String,
    /// `low` … `critical`.
    pub severity: String,
    /// Flows of the evidence.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct peers.
    pub distinct_peers: u64,
    /// Distinct destination ports.
    pub distinct_ports: u64,
    /// Top destination ports, `port:flows` separated by spaces.
    pub top_ports: String,
    /// Top peer countries, `CC:flows` separated by spaces.
    pub top_countries: String,
    /// The evidence's filter for `flowhound query`.
    pub filter: String,
    /// The evidence's window for `flowhound query -t`.
    pub window: String,
}

impl Row for DetectionRow {
    const COLUMNS: &'static [&'static str] = &[
        "window_start",
        "window_end",
        "host",
        "rule",
        "category",
        "severity",
        "flows",
        "packets",
        "bytes",
        "distinct_peers",
        "distinct_ports",
        "top_ports",
        "top_countries",
        "filter",
        "window",
    ];
}

impl DetectionRow {
    /// An alert as a flat row.
    pub fn of(a: &Alert) -> DetectionRow {
        let join = |v: Vec<String>| v.join(" ");
        DetectionRow {
            window_start: iso_time(a.window_start_ms),
            window_end: iso_time(a.window_end_ms),
            host: a.host.to_string(),
            rule: a.rule.clone(),
            category: a.category.clone(),
            severity: a.severity.name().to_string(),
            flows: a.flows,
            packets: a.packets,
            bytes: a.bytes,
            distinct_peers: a.distinct_peers,
            distinct_ports: a.distinct_ports,
            top_ports: join(
                a.top_ports
                    .iter()
                    .map(|p| format!("{}:{}", p.port, p.flows))
                    .collect(),
            ),
            top_countries: join(
                a.top_countries
                    .iter()
                    .map(|c| format!("{}:{}", c.country, c.flows))
                    .collect(),
            ),
            filter: a.filter.clone(),
            window: a.window.clone(),
        }
    }
}

/// An open case of the abuse desk, as the case database hands it over:
/// plain values, so this crate needs nothing of the case store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenCase {
    /// The case reference (`FH-2026-0001`).
    pub id: String,
    /// The host it is about.
    pub host: String,
    /// `spam`, `worm`, …
    pub category: String,
    /// Where it stands (`open`, `notified`, `escalated`, …).
    pub state: String,
    /// Notices sent so far.
    pub notices: u32,
    /// The owner of the host, as the site inventory names it.
    pub owner: String,
    /// First alert, UTC, ISO 8601.
    pub first_seen: String,
    /// Latest alert.
    pub last_seen: String,
}

impl Row for OpenCase {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "host",
        "category",
        "state",
        "notices",
        "owner",
        "first_seen",
        "last_seen",
    ];
}

/// The day's SMTP totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SmtpTotals {
    /// SMTP flows of the day.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct sending hosts.
    pub senders: u64,
    /// Of them, in the internal networks.
    pub internal_senders: u64,
    /// Of those, not registered mail servers.
    pub unregistered_internal_senders: u64,
}

/// What the report knew about the site, which decides what it can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SenderCounts {
    /// The registered mail servers (`[roles] mail_servers`), as filter text.
    pub mail_servers: String,
    /// The internal networks, as filter text.
    pub internal: String,
    /// The quiet hours, `22:00-06:00`, on the site's clock.
    pub quiet_hours: String,
    /// Whether destination countries could be told (a registry at ingest
    /// or in the config).
    pub countries: bool,
}

/// The daily SMTP report, built: every table, ready to write as HTML, JSON
/// and CSV.
#[derive(Clone, Debug, Serialize)]
pub struct SmtpReport {
    /// `smtp`.
    pub report: &'static str,
    /// The day.
    pub day: ReportDay,
    /// The filter that makes a flow SMTP.
    pub smtp_filter: &'static str,
    /// What the site told.
    pub site: SenderCounts,
    /// The day's totals.
    pub totals: SmtpTotals,
    /// SMTP flows per hour.
    pub smtp_by_hour: Section<HourRow>,
    /// Top senders by flows.
    pub top_senders: Section<SenderRow>,
    /// Internal senders that are not registered mail servers.
    pub unregistered_senders: Section<SenderRow>,
    /// Registered mail servers in the quiet hours.
    pub quiet_hours: Section<QuietRow>,
    /// Destination countries of the top senders.
    pub sender_countries: Section<CountryRow>,
    /// The rule pack's alerts over the day.
    pub detections: Section<DetectionRow>,
    /// The abuse desk's open cases.
    pub open_cases: Section<OpenCase>,
}

/// The filter text, parsed: the report runs exactly what it prints.
fn filter(text: &str) -> Result<Filter, ReportError> {
    flowhound_filter::parse(text)
        .map_err(|e| ReportError::Internal(format!("the report's filter {text:?}: {e}")))
}

fn and(a: &str, b: &str) -> String {
    format!("{a} and {b}")
}

/// `src ip 10.0.0.25`, `src ip in [ … ]`, `src net …`.
fn src_set(ranges: Vec<(u128, u128)>) -> Option<String> {
    (!ranges.is_empty()).then(|| format!("src {}", AddrSet::from_ranges(ranges)))
}

struct Asker<'a> {
    data: &'a Path,
    enricher: Option<Arc<dyn Enricher>>,
    options: &'a SmtpOptions,
}

impl Asker<'_> {
    fn engine(&self, start_ms: i64, end_ms: i64) -> Result<QueryEngine, ReportError> {
        Ok(QueryEngine::open(
            &LocalStore::new(self.data),
            Some(TimeWindow::new(start_ms, end_ms)),
            self.enricher.clone(),
        )?)
    }

    /// `flowhound query --data D [--config C] -t W ARGS 'FILTER'`.
    fn command(&self, window: &str, args: &str, filter: &str) -> String {
        let config = self
            .options
            .config_label
            .as_ref()
            .map(|c| format!(" --config {}", shell_word(c)))
            .unwrap_or_default();
        format!(
            "flowhound query --data {}{config} -t {window} {args} '{filter}'",
            shell_word(&self.options.data_label)
        )
    }
}

/// A word as a shell reads it back: quoted when it needs to be.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn addr_text(v: &Value) -> String {
    match v {
        Value::Addr(a) => addr_to_ip(*a).to_string(),
        v => v.to_string(),
    }
}

fn section<R>(title: &str, filter: &str, window: &str, query: String) -> Section<R> {
    Section {
        title: title.into(),
        filter: filter.into(),
        window: window.into(),
        query,
        note: None,
        rows: Vec::new(),
    }
}

impl SmtpReport {
    /// The report of `day` over the flows in `data`, with the default
    /// [`SmtpOptions`]. `detection` is the rule pack's run over the day;
    /// `cases` the open cases, `None` when there is no case database.
    pub fn build(
        data: &Path,
        day: &ReportDay,
        site: &Site,
        enricher: Option<Arc<dyn Enricher>>,
        detection: &Detection,
        cases: Option<Vec<OpenCase>>,
    ) -> Result<SmtpReport, ReportError> {
        Self::build_with(
            data,
            day,
            site,
            enricher,
            detection,
            cases,
            &SmtpOptions::default(),
        )
    }

    /// [`SmtpReport::build`] with options.
    pub fn build_with(
        data: &Path,
        day: &ReportDay,
        site: &Site,
        enricher: Option<Arc<dyn Enricher>>,
        detection: &Detection,
        cases: Option<Vec<OpenCase>>,
        options: &SmtpOptions,
    ) -> Result<SmtpReport, ReportError> {
        if !data.is_dir() {
            return Err(ReportError::NoData(data.to_path_buf()));
        }
        let ask = Asker {
            data,
            enricher,
            options,
        };
        let window = day.window_text();
        let engine = ask.engine(day.start_ms, day.end_ms)?;
        let smtp = filter(SMTP_FILTER)?;
        let mail = src_set(site.role_ranges(MAIL_ROLE));
        let internal = src_set(site.internal_ranges());
        let countries = engine.can_tell_countries()?;
        let info = SenderCounts {
            mail_servers: mail.clone().unwrap_or_default(),
            internal: internal.clone().unwrap_or_default(),
            quiet_hours: site.quiet_hours().map(quiet_text).unwrap_or_default(),
            countries,
        };
        let kind_of = |a: u128| -> (bool, bool, String) {
            let internal = site.is_internal(a);
            let registered = site.has_role(a, MAIL_ROLE);
            let kind = if registered {
                "registered mail server"
            } else if internal {
                "unregistered internal sender"
            } else if site.has_internal() {
                "external"
            } else {
                "unknown (no [site] internal)"
            };
            (internal, registered, kind.to_string())
        };
        let sender_rows = |rows: &[AggRow]| -> Vec<SenderRow> {
            rows.iter()
                .enumerate()
                .map(|(i, r)| {
                    let a = match r.keys[0] {
                        Value::Addr(a) => a,
                        _ => 0,
                    };
                    let (internal, registered, kind) = kind_of(a);
                    SenderRow {
                        rank: i + 1,
                        srcip: addr_text(&r.keys[0]),
                        flows: r.flows,
                        packets: r.packets,
                        bytes: r.bytes,
                        distinct_dstip: r.distinct.first().copied().unwrap_or(0),
                        first: iso_time(r.first_ms),
                        last: iso_time(r.last_ms),
                        internal,
                        registered,
                        kind,
                        owner: site.owner(a).map(|o| o.owner.clone()).unwrap_or_default(),
                    }
                })
                .collect()
        };
        let top_of = |limit: Option<usize>| Aggregate {
            keys: vec![Key::SrcIp],
            distinct: vec![Key::DstIp],
            order: Some(Order::Flows),
            limit,
        };
        let stat_args = |n: usize| format!("-s srcip/flows -n {n} --distinct dstip");

        // Totals, and every sender sorted out by kind.
        let (all_senders, t) = engine.aggregate_with_totals(
            &smtp,
            &Aggregate {
                keys: vec![Key::SrcIp],
                distinct: vec![],
                order: None,
                limit: None,
            },
        )?;
        let mut totals = SmtpTotals {
            flows: t.flows,
            packets: t.packets,
            bytes: t.bytes,
            senders: all_senders.len() as u64,
            ..SmtpTotals::default()
        };
        for r in &all_senders {
            if let Value::Addr(a) = r.keys[0] {
                let (internal, registered, _) = kind_of(a);
                totals.internal_senders += u64::from(internal);
                totals.unregistered_internal_senders += u64::from(internal && !registered);
            }
        }

        // Flows per hour: the engine's hour bins (UTC hours, which are the
        // site's hours for whole-hour offsets), every hour of the day shown.
        let bins = engine.aggregate(
            &smtp,
            &Aggregate {
                keys: vec![Key::TimeBin(HOUR_MS)],
                distinct: vec![],
                order: None,
                limit: None,
            },
        )?;
        let mut by_hour = section(
            "SMTP flows per hour",
            SMTP_FILTER,
            &window,
            ask.command(&window, "--bin 1h", SMTP_FILTER),
        );
        let by_start: BTreeMap<i64, &AggRow> = bins
            .iter()
            .filter_map(|r| match r.keys[0] {
                Value::Time(t) => Some((t, r)),
                _ => None,
            })
            .collect();
        let first_bin = day.start_ms - day.start_ms.rem_euclid(HOUR_MS);
        let mut hour = first_bin;
        while hour < day.end_ms {
            let r = by_start.get(&hour);
            by_hour.rows.push(HourRow {
                hour: day.clock(hour.max(day.start_ms)),
                start: iso_time(hour),
                flows: r.map_or(0, |r| r.flows),
                packets: r.map_or(0, |r| r.packets),
                bytes: r.map_or(0, |r| r.bytes),
                quiet: site.is_quiet(hour.max(day.start_ms)),
            });
            hour += HOUR_MS;
        }
        if day.start_ms != first_bin {
            by_hour.note = Some(
                "The site's day does not start on a UTC hour: the hours are UTC hour bins, \
                 labelled with the site's clock; the first and last are partial."
                    .into(),
            );
        }

        // Top senders.
        let n = options.top.max(1);
        let top = engine.aggregate(&smtp, &top_of(Some(n)))?;
        let mut top_senders = section(
            "Top SMTP senders by flows",
            SMTP_FILTER,
            &window,
            ask.command(&window, &stat_args(n), SMTP_FILTER),
        );
        top_senders.rows = sender_rows(&top);
        if !site.has_internal() {
            top_senders.note = Some(
                "The site's internal networks are not configured ([site] internal): \
                 internal senders cannot be told from external ones."
                    .into(),
            );
        } else if mail.is_none() {
            top_senders.note = Some(
                "No registered mail servers ([roles] mail_servers): every internal sender \
                 counts as unregistered."
                    .into(),
            );
        }

        // Internal senders that are not registered mail servers: story 1,
        // the compromised machines.
        let mut unregistered = match &internal {
            Some(int) => {
                let text = match &mail {
                    Some(m) => and(&and(SMTP_FILTER, int), &format!("not {m}")),
                    None => and(SMTP_FILTER, int),
                };
                let rows = engine.aggregate(&filter(&text)?, &top_of(Some(n)))?;
                let mut s = section(
                    "Unregistered internal senders",
                    &text,
                    &window,
                    ask.command(&window, &stat_args(n), &text),
                );
                s.rows = sender_rows(&rows);
                if s.rows.is_empty() {
                    s.note = Some(
                        "No internal host other than the registered mail servers sent SMTP.".into(),
                    );
                }
                s
            }
            None => {
                let mut s = section("Unregistered internal senders", "", &window, String::new());
                s.note = Some(
                    "Not available: the site's internal networks are not configured \
                     ([site] internal)."
                        .into(),
                );
                s
            }
        };
        if totals.unregistered_internal_senders as usize > unregistered.rows.len()
            && unregistered.note.is_none()
        {
            unregistered.note = Some(format!(
                "The {} busiest of {} unregistered internal senders.",
                unregistered.rows.len(),
                totals.unregistered_internal_senders
            ));
        }

        // Registered mail servers in the quiet hours.
        let quiet_hours = quiet_section(&ask, day, site, &mail, &engine)?;

        // Destination countries of the top senders: one grouping by sender
        // and country over the top senders' flows.
        let mut sender_countries = section(
            "Destination countries of the top senders",
            "",
            &window,
            String::new(),
        );
        let tops: Vec<(u128, u128)> = top
            .iter()
            .take(options.countries_of)
            .filter_map(|r| match r.keys[0] {
                Value::Addr(a) => Some((a, a)),
                _ => None,
            })
            .collect();
        if !countries {
            sender_countries.note = Some(
                "Destination countries are not available: these flows were stored without \
                 a country registry, and none is configured. Name one in --config \
                 ([registry] country = \"….mmdb\") to see where the mail went."
                    .into(),
            );
        } else if let Some(set) = src_set(tops) {
            let text = and(SMTP_FILTER, &set);
            let rows = engine.aggregate(
                &filter(&text)?,
                &Aggregate {
                    keys: vec![Key::SrcIp, Key::DstGeo],
                    distinct: vec![],
                    order: Some(Order::Flows),
                    limit: None,
                },
            )?;
            sender_countries.filter = text.clone();
            sender_countries.query = ask.command(&window, "-A srcip,dstgeo -O flows -n 0", &text);
            let home = site.countries();
            for sender in top.iter().take(options.countries_of) {
                let mine = rows
                    .iter()
                    .filter(|r| r.keys[0] == sender.keys[0])
                    .take(options.countries_per_sender);
                for r in mine {
                    let code = match r.keys[1] {
                        Value::Country(c) => c,
                        _ => flowhound_model::COUNTRY_NONE,
                    };
                    let known = country_str(&code).is_some() && code != COUNTRY_UNKNOWN;
                    sender_countries.rows.push(CountryRow {
                        srcip: addr_text(&r.keys[0]),
                        country: r.keys[1].to_string(),
                        flows: r.flows,
                        packets: r.packets,
                        bytes: r.bytes,
                        foreign: (known && !home.is_empty()).then(|| !home.contains(&code)),
                    });
                }
            }
            sender_countries.note = Some(format!(
                "The {} busiest destination countries of each of the {} top senders{}.",
                options.countries_per_sender,
                options.countries_of.min(top.len()),
                if home.is_empty() {
                    "; set [site] countries to mark foreign ones"
                } else {
                    ""
                }
            ));
        } else {
            sender_countries.note = Some("No SMTP senders this day.".into());
        }

        // The detections and the cases come in as rows.
        let mut detections = section(
            "Detections",
            "",
            &window,
            format!(
                "flowhound detect --data {}{} -t {window}",
                shell_word(&options.data_label),
                options
                    .config_label
                    .as_ref()
                    .map(|c| format!(" --config {}", shell_word(c)))
                    .unwrap_or_default()
            ),
        );
        detections.rows = detection.alerts.iter().map(DetectionRow::of).collect();
        let mut notes = vec![format!(
            "{} alerts from {} rules of the rule pack over the day.",
            detections.rows.len(),
            detection.rules_run
        )];
        for (rule, why) in &detection.skipped {
            notes.push(format!("Rule {rule} did not run: {why}."));
        }
        detections.note = Some(notes.join(" "));

        let mut open_cases = section("Open cases", "", "", String::new());
        match cases {
            None => {
                open_cases.note = Some(
                    "No case database: the abuse desk's cases are kept in DATA/cases.sqlite \
                     (flowhound cases update)."
                        .into(),
                )
            }
            Some(c) if c.is_empty() => open_cases.note = Some("No open cases.".into()),
            Some(c) => {
                open_cases.note = Some(format!("{} open cases.", c.len()));
                open_cases.rows = c;
            }
        }

        Ok(SmtpReport {
            report: "smtp",
            day: day.clone(),
            smtp_filter: SMTP_FILTER,
            site: info,
            totals,
            smtp_by_hour: by_hour,
            top_senders,
            unregistered_senders: unregistered,
            quiet_hours,
            sender_countries,
            detections,
            open_cases,
        })
    }

    /// The report as one JSON document (snake_case keys, plain integers).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as one self-contained HTML page (inline CSS and SVG, no
    /// script, nothing fetched): for a browser or the body of a mail.
    pub fn html(&self) -> String {
        crate::html::page(self)
    }

    /// One paragraph of plain text: what the day held, for a mail's text
    /// part or a log line.
    pub fn summary(&self) -> String {
        use crate::svg::thousands;
        let t = &self.totals;
        let mut s = format!(
            "SMTP report for {}: {} SMTP flows ({}) from {} senders.",
            self.day.date,
            thousands(t.flows),
            SMTP_FILTER,
            thousands(t.senders)
        );
        if let Some(top) = self.top_senders.rows.first() {
            s.push_str(&format!(
                " The top sender was {} ({}) with {} flows.",
                top.srcip,
                top.kind,
                thousands(top.flows)
            ));
        }
        if !self.site.internal.is_empty() {
            let listed: Vec<String> = self
                .unregistered_senders
                .rows
                .iter()
                .take(3)
                .map(|r| format!("{} ({} flows)", r.srcip, thousands(r.flows)))
                .collect();
            s.push_str(&match t.unregistered_internal_senders {
                0 => " No unregistered internal host sent mail.".to_string(),
                n => format!(
                    " {n} unregistered internal hosts sent mail, the busiest {}.",
                    listed.join(", ")
                ),
            });
        }
        if !self.site.quiet_hours.is_empty() && !self.site.mail_servers.is_empty() {
            let q: u64 = self.quiet_hours.rows.iter().map(|r| r.flows).sum();
            s.push_str(&format!(
                " Registered mail servers sent {} flows in the quiet hours ({}).",
                thousands(q),
                self.site.quiet_hours
            ));
        }
        let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &self.detections.rows {
            *by_category.entry(d.category.as_str()).or_default() += 1;
        }
        let cats: Vec<String> = by_category
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        s.push_str(&match self.detections.rows.len() {
            0 => " The rule pack found nothing.".to_string(),
            n => format!(" The rule pack raised {n} alerts ({}).", cats.join(", ")),
        });
        s.push_str(&format!(
            " Open cases: {}.",
            if self
                .open_cases
                .note
                .as_deref()
                .is_some_and(|n| n.starts_with("No case"))
            {
                "no case database".to_string()
            } else {
                self.open_cases.rows.len().to_string()
            }
        ));
        s
    }

    /// Write `report.html`, `report.json` and one CSV file a table into
    /// `out` (created), each atomically; the paths written, HTML first.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(out).map_err(|e| ReportError::write(out, e))?;
        let mut written = Vec::new();
        let mut put = |name: &str, bytes: &[u8]| -> Result<(), ReportError> {
            let path = out.join(name);
            write_atomic(&path, bytes)?;
            written.push(path);
            Ok(())
        };
        put("report.html", self.html().as_bytes())?;
        put("report.json", self.json().as_bytes())?;
        put("smtp_by_hour.csv", &csv_of(&self.smtp_by_hour.rows)?)?;
        put("top_senders.csv", &csv_of(&self.top_senders.rows)?)?;
        put(
            "unregistered_senders.csv",
            &csv_of(&self.unregistered_senders.rows)?,
        )?;
        put("quiet_hours.csv", &csv_of(&self.quiet_hours.rows)?)?;
        put(
            "sender_countries.csv",
            &csv_of(&self.sender_countries.rows)?,
        )?;
        put("detections.csv", &csv_of(&self.detections.rows)?)?;
        put("open_cases.csv", &csv_of(&self.open_cases.rows)?)?;
        Ok(written)
    }
}

/// `22:00-06:00`.
fn quiet_text(q: flowhound_enrich::QuietHours) -> String {
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!("{}-{}", hm(q.start_min), hm(q.end_min))
}

fn quiet_section(
    ask: &Asker<'_>,
    day: &ReportDay,
    site: &Site,
    mail: &Option<String>,
    day_engine: &QueryEngine,
) -> Result<Section<QuietRow>, ReportError> {
    let mut s = section(
        "Registered mail servers in the quiet hours",
        "",
        "",
        String::new(),
    );
    let (Some(q), Some(m)) = (site.quiet_hours(), mail) else {
        s.note = Some(match (site.quiet_hours(), mail) {
            (None, _) => "Not available: the site's quiet hours are not configured \
                          ([site] quiet_hours = \"22:00-06:00\")."
                .into(),
            _ => "Not available: no registered mail servers ([roles] mail_servers).".into(),
        });
        return Ok(s);
    };
    let text = and(SMTP_FILTER, m);
    let f = filter(&text)?;
    s.filter = text.clone();
    let per = Aggregate {
        keys: vec![Key::SrcIp],
        distinct: vec![Key::DstIp],
        order: Some(Order::Flows),
        limit: None,
    };
    let day_flows: BTreeMap<String, u64> = day_engine
        .aggregate(&f, &per)?
        .iter()
        .map(|r| (addr_text(&r.keys[0]), r.flows))
        .collect();
    let mut windows = Vec::new();
    let mut queries = Vec::new();
    for (a, b) in day.quiet_windows(q) {
        let w = window_text(a, b);
        let end = if b == day.end_ms {
            "24:00".to_string()
        } else {
            day.clock(b)
        };
        let label = format!("{}-{}", day.clock(a), end);
        for r in ask.engine(a, b)?.aggregate(&f, &per)? {
            let ip = addr_text(&r.keys[0]);
            let whole = day_flows.get(&ip).copied().unwrap_or(r.flows).max(1);
            s.rows.push(QuietRow {
                srcip: ip,
                quiet: label.clone(),
                window: w.clone(),
                flows: r.flows,
                packets: r.packets,
                bytes: r.bytes,
                distinct_dstip: r.distinct.first().copied().unwrap_or(0),
                day_flows: whole,
                percent_of_day: r.flows * 100 / whole,
            });
        }
        queries.push(ask.command(&w, "-s srcip/flows -n 0 --distinct dstip", &text));
        windows.push(w);
    }
    s.window = windows.join(" and ");
    s.query = queries.join("\n");
    let quiet_ms: i64 = day.quiet_windows(q).iter().map(|(a, b)| b - a).sum();
    let share = quiet_ms * 100 / (day.end_ms - day.start_ms).max(1);
    s.note = Some(if s.rows.is_empty() {
        format!(
            "No registered mail server sent SMTP in the quiet hours ({}).",
            quiet_text(q)
        )
    } else {
        format!(
            "The quiet hours ({}) are {share}% of the day: a server far above that share \
             of its own day worked at night. day_flows is the server's whole day, the same \
             filter over {}.",
            quiet_text(q),
            day.window_text()
        )
    });
    Ok(s)
}

/// A table as CSV: the header always, even with no rows.
pub(crate) fn csv_of<R: Row>(rows: &[R]) -> Result<Vec<u8>, ReportError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let internal = |e: csv::Error| ReportError::Internal(format!("CSV: {e}"));
    w.write_record(R::COLUMNS).map_err(internal)?;
    for r in rows {
        w.serialize(r).map_err(internal)?;
    }
    w.into_inner()
        .map_err(|e| ReportError::Internal(format!("CSV: {e}")))
}

/// Temp file beside the target, then rename: a reader never sees half a
/// report.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).map_err(|e| ReportError::write(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of<R: Row>(r: &R) -> Vec<String> {
        match serde_json::to_value(r).expect("json") {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            v => panic!("not an object: {v}"),
        }
    }

    fn sender() -> SenderRow {
        SenderRow {
            rank: 1,
            srcip: "10.0.3.7".into(),
            flows: 12_345,
            packets: 60_000,
            bytes: 9_000_000,
            distinct_dstip: 812,
            first: "2026-11-26T01:00:00Z".into(),
            last: "2026-11-26T03:00:00Z".into(),
            internal: true,
            registered: false,
            kind: "unregistered internal sender".into(),
            owner: "Dorm, \"B\" wing".into(),
        }
    }

    #[test]
    fn csv_columns_are_the_json_keys() {
        let mut k = keys_of(&sender());
        let mut c: Vec<String> = SenderRow::COLUMNS.iter().map(|s| s.to_string()).collect();
        k.sort();
        c.sort();
        assert_eq!(k, c);
        let case = OpenCase {
            id: "FH-2026-0001".into(),
            host: "h".into(),
            category: "spam".into(),
            state: "open".into(),
            notices: 0,
            owner: String::new(),
            first_seen: String::new(),
            last_seen: String::new(),
        };
        let mut k = keys_of(&case);
        k.sort();
        let mut c: Vec<String> = OpenCase::COLUMNS.iter().map(|s| s.to_string()).collect();
        c.sort();
        assert_eq!(k, c);
    }

    #[test]
    fn csv_quotes_and_keeps_the_header_of_empty_tables() {
        let text = String::from_utf8(csv_of(&[sender()]).expect("csv")).expect("utf8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(SenderRow::COLUMNS.join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some(
                "1,10.0.3.7,12345,60000,9000000,812,2026-11-26T01:00:00Z,2026-11-26T03:00:00Z,\
                 true,false,unregistered internal sender,\"Dorm, \"\"B\"\" wing\""
            )
        );
        let empty = String::from_utf8(csv_of::<QuietRow>(&[]).expect("csv")).expect("utf8");
        assert_eq!(empty, format!("{}\n", QuietRow::COLUMNS.join(",")));
        let row = CountryRow {
            srcip: "10.0.0.25".into(),
            country: "??".into(),
            flows: 1,
            packets: 2,
            bytes: 3,
            foreign: None,
        };
        let one = String::from_utf8(csv_of(&[row]).expect("csv")).expect("utf8");
        assert!(one.ends_with("\n10.0.0.25,??,1,2,3,\n"), "{one}");
    }

    #[test]
    fn printed_commands_quote_what_the_shell_would_split() {
        assert_eq!(shell_word("/var/lib/flowhound"), "/var/lib/flowhound");
        assert_eq!(shell_word("my data"), "'my data'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        let o = SmtpOptions {
            data_label: "/srv/flows".into(),
            config_label: Some("site.toml".into()),
            ..SmtpOptions::default()
        };
        let ask = Asker {
            data: Path::new("x"),
            enricher: None,
            options: &o,
        };
        assert_eq!(
            ask.command("A/B", "-s srcip/flows -n 5", SMTP_FILTER),
            "flowhound query --data /srv/flows --config site.toml -t A/B -s srcip/flows -n 5 \
             'proto tcp and dst port 25'"
        );
    }

    #[test]
    fn the_printed_filters_parse() {
        let a = flowhound_model::addr_from_v4(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 25)));
        let s = src_set(vec![(a, a)]).expect("set");
        assert_eq!(s, "src ip 10.0.0.25");
        let text = and(SMTP_FILTER, &format!("not {s}"));
        filter(&text).expect("parses");
        assert!(src_set(Vec::new()).is_none());
    }
}
