//! The alerts raised live, in SQLite: one row per host, rule and incident.
//!
//! An incident goes on while its windows keep crossing the thresholds: a
//! new alert for the same rule and host whose window starts before the
//! stored row's end plus one window updates that row (its end moves on,
//! its counts rise to the busiest window's) and is not delivered again.
//! Anything else is a new incident and a new row.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::alert::{nfdump_window, Alert};

/// Why the alert store failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertDbError {
    /// SQLite failed (the file cannot be opened, the disk is full, ...).
    #[error("alert store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A stored alert is not valid JSON (a bug, or a file edited by hand).
    #[error("alert store {path}: alert {id} cannot be read: {source}")]
    Json {
        /// The database file.
        path: PathBuf,
        /// The row.
        id: i64,
        /// Why.
        source: serde_json::Error,
    },
}

/// What [`AlertDb::record`] did with an alert.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// A new incident: deliver it.
    New(StoredAlert),
    /// An incident going on: its row was updated; already delivered.
    Updated(StoredAlert),
}

/// One stored incident.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAlert {
    /// Row id.
    pub id: i64,
    /// The alert as it stands (windows merged, busiest window's counts).
    pub alert: Alert,
    /// When it was first raised, Unix ms (wall clock).
    pub raised_at_ms: i64,
    /// When it was last updated, Unix ms.
    pub updated_at_ms: i64,
    /// Alerts merged into it after the first.
    pub updates: u64,
}

/// The alert store.
pub struct AlertDb {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    host TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    window_end_ms INTEGER NOT NULL,
    flows INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    distinct_peers INTEGER NOT NULL,
    distinct_ports INTEGER NOT NULL,
    alert_json TEXT NOT NULL,
    raised_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updates INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_by_rule_host ON alerts (rule, host, window_end_ms);
";

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl AlertDb {
    /// Open (or create) the store at `path`.
    pub fn open(path: &Path) -> Result<AlertDb, AlertDbError> {
        let err = |source| AlertDbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // WAL: readers (cases, the dashboard) never block the writer.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(AlertDb {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> AlertDbError {
        AlertDbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Store `alert` (of a rule whose window is `window_ms` long) at wall
    /// time `now_ms`: a new incident, or an update of one going on.
    pub fn record(
        &mut self,
        alert: &Alert,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Recorded, AlertDbError> {
        let host = alert.host.to_string();
        let tx = self.conn.transaction().map_err(|e| AlertDbError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        let found: Option<(i64, String, i64, i64)> = tx
            .query_row(
                "SELECT id, alert_json, raised_at_ms, updates FROM alerts
                 WHERE rule = ?1 AND host = ?2
                   AND ?3 < window_end_ms + ?5 AND ?4 + ?5 > window_start_ms
                 ORDER BY window_end_ms DESC LIMIT 1",
                params![
                    alert.rule,
                    host,
                    alert.window_start_ms,
                    alert.window_end_ms,
                    window_ms
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| AlertDbError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
        let (merged, id, raised_at, updates, new) = match found {
            Some((id, json, raised_at, updates)) => {
                let old: Alert =
                    serde_json::from_str(&json).map_err(|source| AlertDbError::Json {
                        path: self.path.clone(),
                        id,
                        source,
                    })?;
                (merge(&old, alert), id, raised_at, updates + 1, false)
            }
            None => (alert.clone(), 0, now_ms, 0, true),
        };
        let json = serde_json::to_string(&merged).map_err(|source| AlertDbError::Json {
            path: self.path.clone(),
            id,
            source,
        })?;
        let a = &merged;
        let id = if new {
            tx.execute(
                "INSERT INTO alerts (rule, host, category, severity, window_start_ms, window_end_ms,
                     flows, packets, bytes, distinct_peers, distinct_ports, alert_json,
                     raised_at_ms, updated_at_ms, updates)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 0)",
                params![
                    a.rule,
                    host,
                    a.category,
                    a.severity.name(),
                    a.window_start_ms,
                    a.window_end_ms,
                    int(a.flows),
                    int(a.packets),
                    int(a.bytes),
                    int(a.distinct_peers),
                    int(a.distinct_ports),
                    json,
                    now_ms
                ],
            )
            .map_err(|e| AlertDbError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            tx.last_insert_rowid()
        } else {
            tx.execute(
                "UPDATE alerts SET window_start_ms = ?2, window_end_ms = ?3, flows = ?4,
                     packets = ?5, bytes = ?6, distinct_peers = ?7, distinct_ports = ?8,
                     alert_json = ?9, updated_at_ms = ?10, updates = ?11
                 WHERE id = ?1",
                params![
                    id,
                    a.window_start_ms,
                    a.window_end_ms,
                    int(a.flows),
                    int(a.packets),
                    int(a.bytes),
                    int(a.distinct_peers),
                    int(a.distinct_ports),
                    json,
                    now_ms,
                    updates
                ],
            )
            .map_err(|e| AlertDbError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            id
        };
        tx.commit().map_err(|e| AlertDbError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        let stored = StoredAlert {
            id,
            alert: merged,
            raised_at_ms: raised_at,
            updated_at_ms: now_ms,
            updates: u64::try_from(updates).unwrap_or(0),
        };
        Ok(if new {
            Recorded::New(stored)
        } else {
            Recorded::Updated(stored)
        })
    }

    /// Every stored incident, oldest first.
    pub fn alerts(&self) -> Result<Vec<StoredAlert>, AlertDbError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, alert_json, raised_at_ms, updated_at_ms, updates FROM alerts ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json, raised_at_ms, updated_at_ms, updates) = row.map_err(|e| self.err(e))?;
            let alert = serde_json::from_str(&json).map_err(|source| AlertDbError::Json {
                path: self.path.clone(),
                id,
                source,
            })?;
            out.push(StoredAlert {
                id,
                alert,
                raised_at_ms,
                updated_at_ms,
                updates: u64::try_from(updates).unwrap_or(0),
            });
        }
        Ok(out)
    }
}

/// An incident with one more window: its span grows, its counts are the
/// busiest window's, and the evidence (top ports, countries) is that
/// window's too.
fn merge(old: &Alert, new: &Alert) -> Alert {
    let mut m = if new.flows >= old.flows {
        new.clone()
    } else {
        old.clone()
    };
    m.window_start_ms = old.window_start_ms.min(new.window_start_ms);
    m.window_end_ms = old.window_end_ms.max(new.window_end_ms);
    m.flows = old.flows.max(new.flows);
    m.packets = old.packets.max(new.packets);
    m.bytes = old.bytes.max(new.bytes);
    m.distinct_peers = old.distinct_peers.max(new.distinct_peers);
    m.distinct_ports = old.distinct_ports.max(new.distinct_ports);
    m.peak_window_flows = old.peak_window_flows.max(new.peak_window_flows);
    m.window = nfdump_window(m.window_start_ms, m.window_end_ms);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Severity;

    fn alert(start: i64, end: i64, flows: u64) -> Alert {
        Alert {
            host: "10.0.17.17".parse().expect("ip"),
            rule: "spam-bot".into(),
            category: "spam".into(),
            severity: Severity::High,
            description: String::new(),
            window_start_ms: start,
            window_end_ms: end,
            flows,
            packets: flows,
            bytes: flows * 100,
            distinct_peers: 60,
            distinct_ports: 1,
            syn_only_percent: 0,
            peak_window_flows: flows,
            top_ports: Vec::new(),
            top_countries: Vec::new(),
            top_peers: Vec::new(),
            foreign_percent: None,
            filter: "(proto tcp and dst port 25) and src ip 10.0.17.17".into(),
            window: nfdump_window(start, end),
            references: Vec::new(),
        }
    }

    #[test]
    fn an_incident_going_on_updates_its_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = AlertDb::open(&dir.path().join("alerts.sqlite")).expect("open");
        let h = 3_600_000;
        let first = db.record(&alert(0, h, 300), h, 1).expect("record");
        assert!(matches!(first, Recorded::New(_)));
        // The second phase's window, and the next hour: the same incident.
        let second = db
            .record(&alert(h / 2, h + h / 2, 500), h, 2)
            .expect("record");
        let Recorded::Updated(s) = second else {
            panic!("not merged: {second:?}");
        };
        assert_eq!(
            (s.alert.window_start_ms, s.alert.window_end_ms),
            (0, h + h / 2)
        );
        assert_eq!(s.alert.flows, 500);
        assert!(matches!(
            db.record(&alert(h, 2 * h, 400), h, 3).expect("record"),
            Recorded::Updated(_)
        ));
        // A day later: a new incident.
        assert!(matches!(
            db.record(&alert(24 * h, 25 * h, 400), h, 4)
                .expect("record"),
            Recorded::New(_)
        ));
        let all = db.alerts().expect("read");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].alert.window_end_ms, 2 * h);
        assert_eq!(all[0].updates, 2);
        assert_eq!(all[0].raised_at_ms, 1);
        assert_eq!(all[0].updated_at_ms, 3);
    }

    #[test]
    fn another_rule_or_host_is_another_incident() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = AlertDb::open(&dir.path().join("a.sqlite")).expect("open");
        let h = 3_600_000;
        db.record(&alert(0, h, 300), h, 1).expect("record");
        let mut other = alert(0, h, 300);
        other.rule = "mass-mailer".into();
        assert!(matches!(
            db.record(&other, h, 1).expect("record"),
            Recorded::New(_)
        ));
        let mut other = alert(0, h, 300);
        other.host = "10.0.17.18".parse().expect("ip");
        assert!(matches!(
            db.record(&other, h, 1).expect("record"),
            Recorded::New(_)
        ));
        // Reopened: the rows are still there.
        drop(db);
        let db = AlertDb::open(&dir.path().join("a.sqlite")).expect("reopen");
        assert_eq!(db.alerts().expect("read").len(), 3);
    }
}
