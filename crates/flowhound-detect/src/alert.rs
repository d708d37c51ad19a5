//! What a rule raises: one alert per host, rule and incident.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rule::Severity;

/// Flows to one destination port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortFlows {
    /// The port (for ICMP, type × 256 + code).
    pub port: u16,
    /// Flows.
    pub flows: u64,
}

/// Flows to peers in one country.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryFlows {
    /// ISO 3166 alpha-2, or `??` where the registry does not know.
    pub country: String,
    /// Flows.
    pub flows: u64,
}

/// Flows to one peer (the other end of the blamed host's flows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerFlows {
    /// The peer's address.
    pub ip: IpAddr,
    /// Its country, where the registry knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
    /// Flows.
    pub flows: u64,
}

/// One incident of one host under one rule: overlapping windows merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The address blamed.
    pub host: IpAddr,
    /// The rule's name.
    pub rule: String,
    /// `spam`, `mail-anomaly`, `worm`, `scan`, `blocklist` or a user's own.
    pub category: String,
    /// How bad.
    pub severity: Severity,
    /// The rule's description.
    pub description: String,
    /// The incident's first window start (flow time, Unix ms).
    #[serde(rename = "window_start", with = "iso")]
    pub window_start_ms: i64,
    /// Its last window end.
    #[serde(rename = "window_end", with = "iso")]
    pub window_end_ms: i64,
    /// Flows the rule's filter selects for the host in the incident.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct addresses at the other end.
    pub distinct_peers: u64,
    /// Distinct destination ports.
    pub distinct_ports: u64,
    /// Percent of the flows that were unanswered SYNs.
    pub syn_only_percent: u64,
    /// The busiest window's flows (what the threshold was tested on).
    pub peak_window_flows: u64,
    /// Top destination ports by flows.
    pub top_ports: Vec<PortFlows>,
    /// Top peer countries by flows (empty without countries).
    pub top_countries: Vec<CountryFlows>,
    /// Top peers by flows, with their countries (over stored history; live
    /// alerts leave it empty).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub top_peers: Vec<PeerFlows>,
    /// Percent of the flows with a known peer country that went abroad
    /// (outside `[site] countries`); absent when it cannot be told.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub foreign_percent: Option<u64>,
    /// The filter that shows the evidence in `flowhound query`.
    pub filter: String,
    /// The window for `flowhound query -t`.
    pub window: String,
    /// Advisories.
    pub references: Vec<String>,
}

impl Alert {
    /// The command that lists the evidence: the host's flows under the rule.
    pub fn query_command(&self, data: &str) -> String {
        format!(
            "flowhound query --data {data} -t {} -s dstip/flows '{}'",
            self.window, self.filter
        )
    }
}

/// `2026-11-26T14:00:00Z`.
pub fn iso_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// nfdump's `-t` form, `2026/11/26.14:00:00-2026/11/26.15:00:00`.
pub fn nfdump_window(start_ms: i64, end_ms: i64) -> String {
    let f = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y/%m/%d.%H:%M:%S").to_string())
            .unwrap_or_else(|| ms.to_string())
    };
    format!("{}-{}", f(start_ms), f(end_ms))
}

mod iso {
    use super::*;

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&iso_time(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let t = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| t.timestamp_millis())
            .map_err(serde::de::Error::custom)
    }
}
