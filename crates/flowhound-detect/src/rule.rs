//! Rules as users write them (TOML), checked into [`Rule`]s.
//!
//! ```toml
//! [[rule]]
//! name = "sasser"
//! category = "worm"
//! severity = "high"
//! description = "Sasser: SYNs to tcp/445 at random addresses, backdoor on 9996, FTP on 5554"
//! references = ["https://www.cisa.gov/news-events/alerts/2004/05/01/sasser-worm"]
//! filter = "proto tcp and dst port 445"
//! key = "src"                     # the host to blame: src (default) or dst
//! window = "20m"
//! sliding = true                  # windows every half window (default: tumbling)
//! threshold = { flows = 1000, distinct_peers = 500, syn_only_share = 0.5 }
//! when = { internal = true, not_roles = ["vuln_scanners"] }
//! also = { filter = "port 5554 or port 9996", flows = 1 }
//! ```

use std::fmt;
use std::path::Path;

use flowhound_filter::Filter;
use flowhound_query::HostSide;
use serde::{Deserialize, Serialize};

use crate::error::DetectError;

/// How bad an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Someone should act today.
    Medium,
    /// A compromised or abusive host.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a host's window must reach. Every bound set must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// At least this many flows (0: no bound).
    pub flows: u64,
    /// At least this many packets.
    pub packets: u64,
    /// At least this many bytes.
    pub bytes: u64,
    /// At least this many distinct addresses at the other end.
    pub distinct_peers: u64,
    /// At least this many distinct destination ports.
    pub distinct_ports: u64,
    /// At least this share (0–1) of TCP flows with SYN and none of ACK,
    /// FIN, RST: connection attempts nobody answered.
    pub syn_only_share: Option<f64>,
    /// At least this share of tiny flows (at most 3 packets and 200 bytes).
    pub tiny_share: Option<f64>,
}

/// Compare the host's volume with its own past: at least `factor` × its
/// median flows in the same hour of the day over the last `days` days.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineCondition {
    /// How many times the usual volume.
    pub factor: f64,
    /// Days of history the median is taken over (the rule stays silent on
    /// a host until the store holds that many days before the window).
    pub days: u32,
}

/// Conditions on the blamed host and the window, from the site inventory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    /// `Some(true)`: the host must be inside `[site] internal`;
    /// `Some(false)`: outside.
    pub internal: Option<bool>,
    /// The host must have one of these roles (`[roles]`).
    pub roles: Vec<String>,
    /// The host must have none of these roles.
    pub not_roles: Vec<String>,
    /// Only windows that start in the site's quiet hours.
    pub quiet_hours: bool,
    /// Only windows far above the host's own baseline.
    pub baseline: Option<BaselineCondition>,
    /// At least this share (0–1) of the flows whose peer has a known
    /// country go to countries outside `[site] countries`.
    pub foreign_share: Option<f64>,
}

/// Corroborating flows of the same host, in either direction, in the
/// incident's time: a backdoor port, the worm's download.
#[derive(Clone, Debug, PartialEq)]
pub struct Also {
    /// The filter's text.
    pub filter_text: String,
    /// The filter.
    pub filter: Filter,
    /// At least this many such flows.
    pub flows: u64,
}

/// One detection rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Unique name, e.g. `sasser`.
    pub name: String,
    /// What it finds, for people.
    pub description: String,
    /// `spam`, `mail-anomaly`, `worm`, `scan`, `blocklist`, or the user's own.
    pub category: String,
    /// How bad a hit is.
    pub severity: Severity,
    /// Advisories and write-ups.
    pub references: Vec<String>,
    /// The flows the rule counts, in nfdump's syntax.
    pub filter_text: String,
    /// The parsed filter.
    pub filter: Filter,
    /// The end of a flow that is blamed.
    pub key: HostSide,
    /// Window length, ms.
    pub window_ms: i64,
    /// Windows every half window instead of back to back.
    pub sliding: bool,
    /// What a window must reach.
    pub threshold: Thresholds,
    /// Conditions on the host and the window.
    pub when: Conditions,
    /// Corroborating flows, when asked for.
    pub also: Option<Also>,
    /// Where the rule came from: `built-in` or a file and line.
    pub origin: String,
}

/// A rule file: `[[rule]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
}

/// One rule as written; every field but the name may be left out when
/// tuning a built-in rule from the config.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    pub references: Option<Vec<String>>,
    pub filter: Option<String>,
    pub key: Option<String>,
    pub window: Option<String>,
    pub sliding: Option<bool>,
    pub threshold: Option<RawThresholds>,
    pub when: Option<RawConditions>,
    pub also: Option<RawAlso>,
    /// Only in tuning: `false` turns the rule off.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThresholds {
    flows: Option<u64>,
    packets: Option<u64>,
    bytes: Option<u64>,
    distinct_peers: Option<u64>,
    distinct_ports: Option<u64>,
    syn_only_share: Option<f64>,
    tiny_share: Option<f64>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConditions {
    internal: Option<bool>,
    roles: Option<Vec<String>>,
    not_roles: Option<Vec<String>>,
    quiet_hours: Option<bool>,
    baseline: Option<RawBaseline>,
    foreign_share: Option<f64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBaseline {
    factor: f64,
    days: u32,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlso {
    filter: String,
    #[serde(default = "one")]
    flows: u64,
}

fn one() -> u64 {
    1
}

/// 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// Parse a rule file's text (`origin` names it in errors and in alerts).
pub fn parse_rules(text: &str, origin: &Path) -> Result<Vec<Rule>, DetectError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| DetectError::Rule {
        file: origin.display().to_string(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        reason: e.message().to_string(),
    })?;
    let mut rules: Vec<Rule> = Vec::new();
    for spanned in raw.rule {
        let line = line_of(text, spanned.span().start);
        let file = origin.display().to_string();
        let r = spanned.into_inner();
        let at = |reason: String| DetectError::Rule {
            file: file.clone(),
            line,
            reason,
        };
        if r.enabled.is_some() {
            return Err(at(
                "`enabled` belongs in the config's [detect.tune.NAME] table, not in a rule".into(),
            ));
        }
        let rule = r.build(&format!("{file}:{line}")).map_err(at)?;
        if rules.iter().any(|o| o.name == rule.name) {
            return Err(at(format!("a second rule named {:?}", rule.name)));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// `30s`, `20m`, `1h`, `7d` in ms.
pub(crate) fn parse_window(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("window {s:?} is not a duration (examples: 30s, 20m, 1h, 1d)"))?;
    let ms = match unit {
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("window {s:?}: use s, m, h or d")),
    };
    if n <= 0 {
        return Err(format!("window {s:?} must be longer than 0"));
    }
    Ok(n * ms)
}

fn share(name: &str, v: Option<f64>) -> Result<Option<f64>, String> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) => {
            Err(format!("{name} = {x}: a share is between 0 and 1"))
        }
        v => Ok(v),
    }
}

fn filter(text: &str, what: &str) -> Result<Filter, String> {
    flowhound_filter::parse(text).map_err(|e| format!("{what}: {e}"))
}

impl RawRule {
    /// Lay `over` on top of `self` (a config's tuning of a built-in rule).
    pub(crate) fn tuned(&self, over: &RawRule) -> RawRule {
        let mut t = self.clone();
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { t.$f = over.$f.clone(); } )* };
        }
        take!(
            description,
            category,
            severity,
            references,
            filter,
            key,
            window,
            sliding,
            also
        );
        if let Some(o) = &over.threshold {
            let mut th = t.threshold.take().unwrap_or_default();
            macro_rules! th {
                ($($f:ident),*) => { $( if o.$f.is_some() { th.$f = o.$f; } )* };
            }
            th!(
                flows,
                packets,
                bytes,
                distinct_peers,
                distinct_ports,
                syn_only_share,
                tiny_share
            );
            t.threshold = Some(th);
        }
        if let Some(o) = &over.when {
            let mut w = t.when.take().unwrap_or_default();
            if o.internal.is_some() {
                w.internal = o.internal;
            }
            if o.roles.is_some() {
                w.roles = o.roles.clone();
            }
            if o.not_roles.is_some() {
                w.not_roles = o.not_roles.clone();
            }
            if o.quiet_hours.is_some() {
                w.quiet_hours = o.quiet_hours;
            }
            if o.baseline.is_some() {
                w.baseline = o.baseline.clone();
            }
            if o.foreign_share.is_some() {
                w.foreign_share = o.foreign_share;
            }
            t.when = Some(w);
        }
        t
    }

    pub(crate) fn build(self, origin: &str) -> Result<Rule, String> {
        let name = self.name.ok_or("a rule needs a name")?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "rule name {name:?}: use letters, digits, '-' and '_'"
            ));
        }
        let filter_text = self
            .filter
            .ok_or_else(|| format!("rule {name:?} needs a filter"))?;
        let parsed = filter(&filter_text, &format!("rule {name:?}: filter"))?;
        let key = match self.key.as_deref().unwrap_or("src") {
            "src" => HostSide::Src,
            "dst" => HostSide::Dst,
            k => return Err(format!("rule {name:?}: key {k:?} is neither src nor dst")),
        };
        let window_ms = parse_window(
            self.window
                .as_deref()
                .ok_or_else(|| format!("rule {name:?} needs a window, e.g. window = \"20m\""))?,
        )
        .map_err(|e| format!("rule {name:?}: {e}"))?;
        let category = self.category.unwrap_or_else(|| "custom".into());
        if category.is_empty() {
            return Err(format!("rule {name:?}: an empty category"));
        }
        let th = self.threshold.unwrap_or_default();
        let threshold = Thresholds {
            flows: th.flows.unwrap_or(0),
            packets: th.packets.unwrap_or(0),
            bytes: th.bytes.unwrap_or(0),
            distinct_peers: th.distinct_peers.unwrap_or(0),
            distinct_ports: th.distinct_ports.unwrap_or(0),
            syn_only_share: share("threshold.syn_only_share", th.syn_only_share)
                .map_err(|e| format!("rule {name:?}: {e}"))?,
            tiny_share: share("threshold.tiny_share", th.tiny_share)
                .map_err(|e| format!("rule {name:?}: {e}"))?,
        };
        if threshold.flows == 0
            && threshold.packets == 0
            && threshold.bytes == 0
            && threshold.distinct_peers == 0
            && threshold.distinct_ports == 0
        {
            return Err(format!(
                "rule {name:?} needs a threshold on flows, packets, bytes, distinct_peers or \
                 distinct_ports (threshold = {{ flows = 1 }} for any flow)"
            ));
        }
        let w = self.when.unwrap_or_default();
        let baseline = match w.baseline {
            Some(b) if !(b.factor.is_finite() && b.factor > 0.0) => {
                return Err(format!(
                    "rule {name:?}: when.baseline.factor = {}: it must be above 0",
                    b.factor
                ))
            }
            Some(b) if b.days == 0 || b.days > 366 => {
                return Err(format!(
                    "rule {name:?}: when.baseline.days = {}: from 1 to 366",
                    b.days
                ))
            }
            Some(_) if 86_400_000 % window_ms != 0 => {
                return Err(format!(
                    "rule {name:?}: when.baseline compares a window with the same window of \
                     earlier days, so the window must divide a day (1h, 20m, 30m, …)"
                ))
            }
            Some(b) => Some(BaselineCondition {
                factor: b.factor,
                days: b.days,
            }),
            None => None,
        };
        let when = Conditions {
            internal: w.internal,
            roles: w.roles.unwrap_or_default(),
            not_roles: w.not_roles.unwrap_or_default(),
            quiet_hours: w.quiet_hours.unwrap_or(false),
            baseline,
            foreign_share: share("when.foreign_share", w.foreign_share)
                .map_err(|e| format!("rule {name:?}: {e}"))?,
        };
        let also = match self.also {
            Some(a) => Some(Also {
                filter: filter(&a.filter, &format!("rule {name:?}: also.filter"))?,
                filter_text: a.filter,
                flows: a.flows.max(1),
            }),
            None => None,
        };
        Ok(Rule {
            description: self.description.unwrap_or_default(),
            severity: self.severity.unwrap_or(Severity::Medium),
            references: self.references.unwrap_or_default(),
            filter_text,
            filter: parsed,
            key,
            window_ms,
            sliding: self.sliding.unwrap_or(false),
            threshold,
            when,
            also,
            category,
            name,
            origin: origin.to_string(),
        })
    }
}

/// The built-in rule pack's text (TOML, with the reasoning in comments).
pub const BUILTIN_RULES: &str = include_str!("../rules/builtin.toml");

/// The built-in rule pack, as raw tables (for tuning) and checked rules.
pub(crate) fn builtin_raw() -> Vec<RawRule> {
    #[derive(Deserialize)]
    struct F {
        rule: Vec<RawRule>,
    }
    // Checked by the crate's tests: a pack that does not parse never ships.
    toml::from_str::<F>(BUILTIN_RULES).map_or_else(|_| Vec::new(), |f| f.rule)
}
