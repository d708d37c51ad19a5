//! What a case is, as the rest of flowhound sees it: plain rows and their
//! JSON.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use flowhound_detect::iso_time;

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Alerts came in; no notice yet.
    Open,
    /// The owner got one or more notices.
    Notified,
    /// Still active after the last notice: the desk was told to suspend.
    SuspensionRecommended,
    /// No alerts for the quiet period.
    Resolved,
    /// Closed by an analyst, with a reason.
    Closed,
}

impl State {
    /// Every state, in the order a case goes through them.
    pub const ALL: [State; 5] = [
        State::Open,
        State::Notified,
        State::SuspensionRecommended,
        State::Resolved,
        State::Closed,
    ];

    /// `open`, `notified`, `suspension-recommended`, `resolved`, `closed`.
    pub fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Notified => "notified",
            State::SuspensionRecommended => "suspension-recommended",
            State::Resolved => "resolved",
            State::Closed => "closed",
        }
    }

    /// Whether alerts still move the case (not resolved, not closed).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            State::Open | State::Notified | State::SuspensionRecommended
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<State, String> {
        State::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = State::ALL.iter().map(|s| s.name()).collect();
                format!("unknown state {s:?} (states: {})", names.join(", "))
            })
    }
}

/// One case, as a plain row (what `cases list` and the daily report show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    /// The reference, `FH-2026-0001`.
    pub id: String,
    /// The host (an IP address, as text).
    pub host: String,
    /// The alerts' category (`spam`, `worm`, …).
    pub category: String,
    /// Where it stands.
    pub state: State,
    /// Notices due so far (sent, or recorded as impossible).
    pub notices: u32,
    /// The owner, from the inventory.
    pub owner: Option<String>,
    /// The inventory's network that holds the host.
    pub network: Option<String>,
    /// How to reach the owner.
    pub contact: Option<String>,
    /// The owner's account.
    pub account: Option<String>,
    /// The worst severity among its alerts.
    pub severity: String,
    /// Its first alert's window start (flow time, Unix ms).
    pub first_seen_ms: i64,
    /// Its last alert's window end (flow time, Unix ms).
    pub last_seen_ms: i64,
    /// When the last notice was due (flow time).
    pub last_notice_ms: Option<i64>,
    /// When it was resolved (flow time) or closed (wall time).
    pub ended_ms: Option<i64>,
}

impl CaseRow {
    /// The row as JSON (times ISO 8601 UTC).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "host": self.host,
            "category": self.category,
            "state": self.state.name(),
            "notices": self.notices,
            "severity": self.severity,
            "owner": self.owner,
            "network": self.network,
            "contact": self.contact,
            "account": self.account,
            "first_seen": iso_time(self.first_seen_ms),
            "last_seen": iso_time(self.last_seen_ms),
            "ended": self.ended_ms.map(iso_time),
        })
    }
}

/// One step of a case's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When (flow time for what the alerts drove; wall time for an
    /// analyst's close), Unix ms.
    pub time_ms: i64,
    /// `opened`, `alert`, `notice`, `notice-not-sent`,
    /// `suspension-recommended`, `resolved`, `closed`.
    pub event: String,
    /// The case's state after it.
    pub state: State,
    /// What happened, in words.
    pub note: String,
    /// The alert behind it (rule, window, flows, top ports and countries,
    /// filter), when an alert drove it.
    pub evidence: Option<Value>,
}

/// A message of a case, queued or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// `notice-1`, `notice-2`, `suspend`, `no-contact-1`, `suspend-command`.
    pub label: String,
    /// The recipients (for a command: the command).
    pub to: String,
    /// The subject.
    pub subject: String,
    /// When it was delivered (wall time, Unix ms); `None`: waiting.
    pub delivered_ms: Option<i64>,
    /// Where it went (`smtp 127.0.0.1:25`, an `.eml` file).
    pub via: Option<String>,
    /// The last delivery error.
    pub error: Option<String>,
    /// Not sent because the case was closed first.
    pub cancelled: bool,
}

/// A case with its history and messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The case itself.
    pub row: CaseRow,
    /// Every transition, oldest first.
    pub history: Vec<Transition>,
    /// Its messages, oldest first.
    pub messages: Vec<MessageRow>,
}

impl Case {
    /// The case as JSON: the row's keys, `history` and `messages`.
    pub fn to_json(&self) -> Value {
        let mut v = self.row.to_json();
        v["history"] = self
            .history
            .iter()
            .map(|t| {
                json!({
                    "time": iso_time(t.time_ms),
                    "event": t.event,
                    "state": t.state.name(),
                    "note": t.note,
                    "evidence": t.evidence,
                })
            })
            .collect();
        v["messages"] = self
            .messages
            .iter()
            .map(|m| {
                json!({
                    "label": m.label,
                    "to": m.to,
                    "subject": m.subject,
                    "delivered": m.delivered_ms.map(iso_time),
                    "via": m.via,
                    "error": m.error,
                    "cancelled": m.cancelled,
                })
            })
            .collect();
        v
    }
}

/// Something `apply` did to one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The case reference.
    pub case: String,
    /// Its host.
    pub host: String,
    /// Its category.
    pub category: String,
    /// When (flow time, Unix ms).
    pub time_ms: i64,
    /// What, in words.
    pub note: String,
}

/// What one `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// New cases.
    pub opened: Vec<Change>,
    /// Notices that fell due (queued for the mailer, or impossible).
    pub notices: Vec<Change>,
    /// Cases now recommended for suspension.
    pub escalated: Vec<Change>,
    /// Cases resolved by quiet.
    pub resolved: Vec<Change>,
    /// Alerts not seen before.
    pub new_alerts: usize,
    /// Alerts already recorded (a re-run over the same flows).
    pub known_alerts: usize,
}

/// One message the mailer handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The case reference.
    pub case: String,
    /// Which message.
    pub label: String,
    /// To whom.
    pub to: String,
    /// Where it went, or why not.
    pub outcome: String,
}

/// What one `deliver` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Delivered (sent, written, run).
    pub sent: Vec<Sent>,
    /// Failed; they stay in the outbox and are tried again next time.
    pub failed: Vec<Sent>,
    /// Waiting for a mailer (no `[notify] smtp`).
    pub waiting: usize,
}
