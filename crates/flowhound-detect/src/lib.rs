//! Finding compromised hosts in flows: rules over windows of flow time.
//!
//! A [`Rule`] (TOML, see [`rule`]) names the flows it counts with an nfdump
//! filter, the host it blames, a window, thresholds (flows, packets, bytes,
//! distinct peers and ports, the share of unanswered SYNs or tiny flows) and
//! conditions on the site inventory (internal or not, roles, quiet hours,
//! the host's own baseline, the share of foreign destinations). The
//! built-in pack ([`BUILTIN_RULES`]) finds spam bots, misbehaving mail
//! servers, worms (Sasser, Blaster, Slammer, Conficker, mass mailers) and
//! scans; a config tunes it and adds the site's own rules and blocklists
//! ([`RuleSet`]).
//!
//! [`detect`] runs rules over stored history through the query engine and
//! returns [`Alert`]s: one per host, rule and incident.
//!
//! This crate knows rules, windows and alerts. It does not know sockets,
//! files of flows (the store does) or what happens to an alert next (cases).
#![deny(missing_docs)]

mod alert;
mod alert_db;
mod blocklist;
mod config;
mod error;
mod history;
mod live;
pub mod rule;
pub mod sink;

pub use alert::{iso_time, nfdump_window, Alert, CountryFlows, PeerFlows, PortFlows};
pub use alert_db::{AlertDb, AlertDbError, Recorded, StoredAlert};
pub use blocklist::{blocklist_rules, parse_blocklist};
pub use config::RuleSet;
pub use error::DetectError;
pub use history::{detect, Context, Detection, TOP};
pub use live::{LiveDetector, LiveStats, LATENESS_MS};
pub use rule::{
    parse_rules, Also, BaselineCondition, Conditions, Rule, Severity, Thresholds, BUILTIN_RULES,
};
