//! The abuse desk over one SQLite file: alerts in, cases and an outbox out.
//!
//! Escalation runs on flow time (the alerts' windows), never on the wall
//! clock, so the same flows give the same cases however often, and however
//! late, they are applied. An alert is recorded once (host, category, rule
//! and window); applying it again changes nothing and queues nothing.
//! Messages are queued in the same transaction as the transition that makes
//! them due and delivered afterwards ([`Desk::deliver`]), so a mail server
//! that is down delays a notice but never loses or repeats one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use flowhound_detect::{iso_time, Alert};
use flowhound_enrich::Site;

use crate::case::{Case, CaseRow, Change, Delivery, MessageRow, Sent, State, Transition, Update};
use crate::config::{format_duration_ms, NotifyConfig};
use crate::error::CaseError;
use crate::mail::{recipients, Mailer, Outgoing};
use crate::template::Kind;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cases(
  id TEXT PRIMARY KEY, year INTEGER NOT NULL, seq INTEGER NOT NULL,
  host TEXT NOT NULL, category TEXT NOT NULL, state TEXT NOT NULL,
  notices INTEGER NOT NULL, owner TEXT, network TEXT, contact TEXT, account TEXT,
  severity TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
  last_notice_ms INTEGER, ended_ms INTEGER, UNIQUE(year, seq));
CREATE INDEX IF NOT EXISTS cases_by_host ON cases(host, category);
CREATE TABLE IF NOT EXISTS history(
  case_id TEXT NOT NULL, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL, event TEXT NOT NULL,
  state TEXT NOT NULL, note TEXT NOT NULL, evidence TEXT, PRIMARY KEY(case_id, seq));
CREATE TABLE IF NOT EXISTS alerts(
  host TEXT NOT NULL, category TEXT NOT NULL, rule TEXT NOT NULL,
  window_start_ms INTEGER NOT NULL, window_end_ms INTEGER NOT NULL,
  case_id TEXT NOT NULL, alert TEXT NOT NULL,
  PRIMARY KEY(host, category, rule, window_start_ms, window_end_ms));
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, label TEXT NOT NULL, kind TEXT NOT NULL,
  sender TEXT NOT NULL, recipient TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
  message_id TEXT NOT NULL, in_reply_to TEXT, queued_ms INTEGER NOT NULL,
  delivered_ms INTEGER, via TEXT, error TEXT, cancelled INTEGER NOT NULL DEFAULT 0,
  UNIQUE(case_id, label));
PRAGMA user_version = 1;
";

const CASE_COLUMNS: &str = "id, host, category, state, notices, owner, network, contact, account, \
     severity, first_seen_ms, last_seen_ms, last_notice_ms, ended_ms";

const ACTIVE: &str = "('open', 'notified', 'suspension-recommended')";

/// The cases of one site, in SQLite.
pub struct Desk {
    conn: Connection,
    path: PathBuf,
    config: NotifyConfig,
}

impl Desk {
    /// Open (or create) the case database at `path`.
    pub fn open(path: &Path, config: NotifyConfig) -> Result<Desk, CaseError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CaseError::io(dir, e))?;
        }
        let db = |source| CaseError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Desk {
            conn,
            path: path.to_path_buf(),
            config,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Apply alerts (in any order) to the cases, in flow-time order: open
    /// cases, queue the notices that fall due, escalate, and resolve the
    /// cases quiet for `resolve_after` as of `now_flow_ms` (the end of the
    /// flows looked at). Alerts already applied are skipped.
    pub fn apply(
        &mut self,
        alerts: &[Alert],
        site: &Site,
        now_flow_ms: i64,
    ) -> Result<Update, CaseError> {
        let tx = write_lock(&mut self.conn, &self.path)?;
        let mut up = Update::default();
        {
            let w = Work {
                conn: &tx,
                path: &self.path,
                config: &self.config,
            };
            let mut sorted: Vec<&Alert> = alerts.iter().collect();
            sorted.sort_by(|a, b| {
                (a.window_end_ms, a.window_start_ms, a.host, &a.rule).cmp(&(
                    b.window_end_ms,
                    b.window_start_ms,
                    b.host,
                    &b.rule,
                ))
            });
            for a in sorted {
                w.alert(a, site, &mut up)?;
            }
            for c in w.cases(&format!("state IN {ACTIVE}"), &[])? {
                if now_flow_ms - c.last_seen_ms >= self.config.resolve_after_ms {
                    w.resolve(&c, &mut up)?;
                }
            }
        }
        tx.commit().map_err(|e| CaseError::Db {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(up)
    }

    /// Send (or write, or run) what waits in the outbox. Each message is
    /// marked as it goes, so a failure part-way repeats nothing; failed
    /// ones are tried again on the next call. `now_ms` (wall time) is
    /// recorded as the delivery time.
    pub fn deliver(&mut self, mailer: &Mailer, now_ms: i64) -> Result<Delivery, CaseError> {
        let w = self.work();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, case_id, label, kind, sender, recipient, subject, body, message_id, in_reply_to \
                 FROM outbox WHERE delivered_ms IS NULL AND cancelled = 0 ORDER BY id",
            )
            .map_err(|e| w.db(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(3)?,
                    Outgoing {
                        case: r.get(1)?,
                        label: r.get(2)?,
                        from: r.get(4)?,
                        to: r.get(5)?,
                        subject: r.get(6)?,
                        body: r.get(7)?,
                        html: None,
                        message_id: r.get(8)?,
                        in_reply_to: r.get(9)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| w.db(e))?;
        drop(stmt);
        let mut d = Delivery::default();
        for (row, kind, m) in rows {
            let outcome = match (kind.as_str(), mailer) {
                ("mail", Mailer::None) => {
                    d.waiting += 1;
                    continue;
                }
                ("mail", _) => mailer.send(&m).map_err(|e| e.to_string()),
                (_, Mailer::DryRun(_)) => Ok("dry run: not run".to_string()),
                _ => {
                    let case = self.case(&m.case)?;
                    run_command(&m.to, &case)
                }
            };
            let sent = |outcome: String| Sent {
                case: m.case.clone(),
                label: m.label.clone(),
                to: m.to.clone(),
                outcome,
            };
            match outcome {
                Ok(via) => {
                    self.conn
                        .execute(
                            "UPDATE outbox SET delivered_ms = ?1, via = ?2, error = NULL WHERE id = ?3",
                            params![now_ms, via, row],
                        )
                        .map_err(|e| self.work().db(e))?;
                    d.sent.push(sent(via));
                }
                Err(why) => {
                    self.conn
                        .execute(
                            "UPDATE outbox SET error = ?1 WHERE id = ?2",
                            params![why, row],
                        )
                        .map_err(|e| self.work().db(e))?;
                    d.failed.push(sent(why));
                }
            }
        }
        Ok(d)
    }

    /// The cases, newest activity first; only those in `state` if given.
    pub fn list(&self, state: Option<State>) -> Result<Vec<CaseRow>, CaseError> {
        match state {
            Some(s) => self.work().cases("state = ?1", &[&s.name()]),
            None => self.work().cases("1", &[]),
        }
    }

    /// The cases still active (open, notified, suspension recommended),
    /// newest activity first: for the daily report.
    pub fn open_cases(&self) -> Result<Vec<CaseRow>, CaseError> {
        self.work().cases(&format!("state IN {ACTIVE}"), &[])
    }

    /// One case with its history and messages.
    pub fn case(&self, id: &str) -> Result<Case, CaseError> {
        let w = self.work();
        let row = w
            .cases("id = ?1", &[&id])?
            .pop()
            .ok_or_else(|| CaseError::NoSuchCase(id.to_string()))?;
        let mut stmt = self
            .conn
            .prepare("SELECT time_ms, event, state, note, evidence FROM history WHERE case_id = ?1 ORDER BY seq")
            .map_err(|e| w.db(e))?;
        let raw = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| w.db(e))?;
        let mut history = Vec::with_capacity(raw.len());
        for (time_ms, event, state, note, evidence) in raw {
            history.push(Transition {
                time_ms,
                event,
                state: w.state(&state)?,
                note,
                evidence: evidence.and_then(|e| serde_json::from_str(&e).ok()),
            });
        }
        let mut stmt = self
            .conn
            .prepare("SELECT label, recipient, subject, delivered_ms, via, error, cancelled FROM outbox WHERE case_id = ?1 ORDER BY id")
            .map_err(|e| w.db(e))?;
        let messages = stmt
            .query_map([id], |r| {
                Ok(MessageRow {
                    label: r.get(0)?,
                    to: r.get(1)?,
                    subject: r.get(2)?,
                    delivered_ms: r.get(3)?,
                    via: r.get(4)?,
                    error: r.get(5)?,
                    cancelled: r.get::<_, i64>(6)? != 0,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| w.db(e))?;
        Ok(Case {
            row,
            history,
            messages,
        })
    }

    /// Close a case by hand at `now_ms` (wall time), with the reason on
    /// record; messages still waiting for it are cancelled. A resolved or
    /// closed case is refused.
    pub fn close(&mut self, id: &str, reason: &str, now_ms: i64) -> Result<Case, CaseError> {
        let reason = reason.trim();
        if reason.is_empty() {
            self.case(id)?;
            return Err(CaseError::Refused {
                case: id.into(),
                problem: "a reason is needed (--reason TEXT)".into(),
            });
        }
        // The state is read under the write lock: an update that resolves
        // the case meanwhile is not overwritten.
        let tx = write_lock(&mut self.conn, &self.path)?;
        let active = Work {
            conn: &tx,
            path: &self.path,
            config: &self.config,
        }
        .cases("id = ?1", &[&id])?
        .pop()
        .ok_or_else(|| CaseError::NoSuchCase(id.to_string()))?
        .state
        .is_active();
        if !active {
            drop(tx);
            let case = self.case(id)?;
            let when = case.row.ended_ms.map(iso_time).unwrap_or_default();
            let last = case
                .history
                .last()
                .map(|t| t.note.clone())
                .unwrap_or_default();
            return Err(CaseError::Refused {
                case: id.into(),
                problem: format!(
                    "already {} at {when} ({last}); nothing to close",
                    case.row.state
                ),
            });
        }
        {
            let w = Work {
                conn: &tx,
                path: &self.path,
                config: &self.config,
            };
            w.set_state(id, State::Closed)?;
            w.exec(
                "UPDATE cases SET ended_ms = ?1 WHERE id = ?2",
                params![now_ms, id],
            )?;
            w.exec(
                "UPDATE outbox SET cancelled = 1 WHERE case_id = ?1 AND delivered_ms IS NULL",
                params![id],
            )?;
            w.history(
                id,
                now_ms,
                "closed",
                State::Closed,
                &format!("closed by an analyst: {reason}"),
                None,
            )?;
        }
        tx.commit().map_err(|e| CaseError::Db {
            path: self.path.clone(),
            source: e,
        })?;
        self.case(id)
    }

    fn work(&self) -> Work<'_> {
        Work {
            conn: &self.conn,
            path: &self.path,
            config: &self.config,
        }
    }
}

/// The suspend command, with the case as JSON on stdin and in the environment.
fn run_command(command: &str, case: &Case) -> Result<String, String> {
    let r = &case.row;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("FLOWHOUND_CASE", &r.id)
        .env("FLOWHOUND_HOST", &r.host)
        .env("FLOWHOUND_CATEGORY", &r.category)
        .env("FLOWHOUND_OWNER", r.owner.as_deref().unwrap_or(""))
        .env("FLOWHOUND_CONTACT", r.contact.as_deref().unwrap_or(""))
        .env("FLOWHOUND_ACCOUNT", r.account.as_deref().unwrap_or(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin is fine.
        let _ = writeln!(stdin, "{}", case.to_json());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(format!("command {}", out.status))
    } else {
        Err(format!(
            "{command:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A transaction that holds the write lock from its start (IMMEDIATE): a
/// scheduled update and a hand-run `cases close` wait for each other (the
/// busy timeout) instead of one failing when both read, then both write.
fn write_lock<'c>(conn: &'c mut Connection, path: &Path) -> Result<Transaction<'c>, CaseError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|source| CaseError::Db {
            path: path.to_path_buf(),
            source,
        })
}

/// One pass over the database (a transaction or the plain connection).
struct Work<'a> {
    conn: &'a Connection,
    path: &'a Path,
    config: &'a NotifyConfig,
}

impl Work<'_> {
    #[cold]
    fn db(&self, source: rusqlite::Error) -> CaseError {
        CaseError::Db {
            path: self.path.to_path_buf(),
            source,
        }
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize, CaseError> {
        self.conn.execute(sql, p).map_err(|e| self.db(e))
    }

    fn state(&self, s: &str) -> Result<State, CaseError> {
        s.parse().map_err(|problem| CaseError::Corrupt {
            path: self.path.to_path_buf(),
            problem,
        })
    }

    fn cases(&self, cond: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<CaseRow>, CaseError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE {cond} ORDER BY last_seen_ms DESC, id DESC"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.db(e))?;
        let raw = stmt
            .query_map(p, |r| {
                Ok((
                    r.get::<_, String>(3)?,
                    CaseRow {
                        id: r.get(0)?,
                        host: r.get(1)?,
                        category: r.get(2)?,
                        state: State::Open,
                        notices: r.get(4)?,
                        owner: r.get(5)?,
                        network: r.get(6)?,
                        contact: r.get(7)?,
                        account: r.get(8)?,
                        severity: r.get(9)?,
                        first_seen_ms: r.get(10)?,
                        last_seen_ms: r.get(11)?,
                        last_notice_ms: r.get(12)?,
                        ended_ms: r.get(13)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.db(e))?;
        raw.into_iter()
            .map(|(state, mut row)| {
                row.state = self.state(&state)?;
                Ok(row)
            })
            .collect()
    }

    fn one(&self, id: &str) -> Result<CaseRow, CaseError> {
        self.cases("id = ?1", &[&id])?
            .pop()
            .ok_or_else(|| CaseError::NoSuchCase(id.to_string()))
    }

    fn history(
        &self,
        id: &str,
        time_ms: i64,
        event: &str,
        state: State,
        note: &str,
        evidence: Option<&Alert>,
    ) -> Result<(), CaseError> {
        let evidence = evidence.and_then(|a| serde_json::to_string(a).ok());
        self.exec(
            "INSERT INTO history(case_id, seq, time_ms, event, state, note, evidence) \
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM history WHERE case_id = ?1), ?2, ?3, ?4, ?5, ?6)",
            params![id, time_ms, event, state.name(), note, evidence],
        )?;
        Ok(())
    }

    fn set_state(&self, id: &str, s: State) -> Result<(), CaseError> {
        self.exec(
            "UPDATE cases SET state = ?1 WHERE id = ?2",
            params![s.name(), id],
        )?;
        Ok(())
    }

    fn record_alert(&self, a: &Alert, case: &str) -> Result<(), CaseError> {
        let json = serde_json::to_string(a).unwrap_or_default();
        self.exec(
            "INSERT INTO alerts(host, category, rule, window_start_ms, window_end_ms, case_id, alert) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![a.host.to_string(), a.category, a.rule, a.window_start_ms, a.window_end_ms, case, json],
        )?;
        Ok(())
    }

    fn alert(&self, a: &Alert, site: &Site, up: &mut Update) -> Result<(), CaseError> {
        let host = a.host.to_string();
        let known: Option<String> = self
            .conn
            .query_row(
                "SELECT case_id FROM alerts WHERE host = ?1 AND category = ?2 AND rule = ?3 \
                 AND window_start_ms = ?4 AND window_end_ms = ?5",
                params![host, a.category, a.rule, a.window_start_ms, a.window_end_ms],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db(e))?;
        if known.is_some() {
            up.known_alerts += 1;
            return Ok(());
        }
        up.new_alerts += 1;
        let t = a.window_end_ms;
        let mut active = self
            .cases(
                &format!("host = ?1 AND category = ?2 AND state IN {ACTIVE}"),
                &[&host, &a.category],
            )?
            .pop();
        if let Some(c) = &active {
            if t - c.last_seen_ms >= self.config.resolve_after_ms {
                self.resolve(c, up)?;
                active = None;
            }
        }
        let Some(c) = active else {
            // Late evidence of a case that ended after it: it stays with that case.
            let ended = self
                .cases(
                    "host = ?1 AND category = ?2 AND ended_ms >= ?3",
                    &[&host, &a.category, &t],
                )?
                .pop();
            if let Some(old) = ended {
                return self.record_alert(a, &old.id);
            }
            return self.open(a, site, up);
        };
        self.record_alert(a, &c.id)?;
        let severity = if severity_rank(a.severity.name()) > severity_rank(&c.severity) {
            a.severity.name().to_string()
        } else {
            c.severity.clone()
        };
        self.exec(
            "UPDATE cases SET first_seen_ms = MIN(first_seen_ms, ?1), last_seen_ms = MAX(last_seen_ms, ?2), \
             severity = ?3 WHERE id = ?4",
            params![a.window_start_ms, t, severity, c.id],
        )?;
        let note = alert_note(a);
        if t <= c.last_seen_ms {
            return self.history(
                &c.id,
                t,
                "alert",
                c.state,
                &format!("{note} (earlier than the last seen)"),
                Some(a),
            );
        }
        self.history(&c.id, t, "alert", c.state, &note, Some(a))?;
        let c = self.one(&c.id)?;
        match c.state {
            State::Open => self.notice(&c, 1, t, a, up),
            State::Notified => {
                let since = c.last_notice_ms.unwrap_or(c.first_seen_ms);
                if t - since < self.config.renotify_after_ms {
                    Ok(())
                } else if c.notices < self.config.max_notices {
                    self.notice(&c, c.notices + 1, t, a, up)
                } else {
                    self.suspend(&c, t, a, up)
                }
            }
            _ => Ok(()),
        }
    }

    fn open(&self, a: &Alert, site: &Site, up: &mut Update) -> Result<(), CaseError> {
        let t = a.window_end_ms;
        let year = chrono::DateTime::from_timestamp_millis(t)
            .map(|d| chrono::Datelike::year(&d))
            .unwrap_or(1970);
        let seq: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM cases WHERE year = ?1",
                [year],
                |r| r.get(0),
            )
            .map_err(|e| self.db(e))?;
        let id = format!("FH-{year}-{seq:04}");
        let owner = site.owner(flowhound_model::addr_from_ip(a.host));
        self.exec(
            &format!(
                "INSERT INTO cases(year, seq, {CASE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 'open', 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, NULL)"
            ),
            params![
                year,
                seq,
                id,
                a.host.to_string(),
                a.category,
                owner.map(|o| o.owner.clone()),
                owner.map(|o| o.network.clone()),
                owner.and_then(|o| o.contact.clone()).filter(|c| !c.trim().is_empty()),
                owner.and_then(|o| o.account.clone()).filter(|c| !c.trim().is_empty()),
                a.severity.name(),
                a.window_start_ms,
                t
            ],
        )?;
        self.record_alert(a, &id)?;
        let who = match owner {
            Some(o) => format!("owner {} ({})", o.owner, o.network),
            None => "no owner in the inventory".to_string(),
        };
        let note = format!("{}; {who}", alert_note(a));
        self.history(&id, t, "opened", State::Open, &note, Some(a))?;
        let c = self.one(&id)?;
        up.opened.push(change(&c, t, note));
        self.notice(&c, 1, t, a, up)
    }

    fn notice(
        &self,
        c: &CaseRow,
        n: u32,
        t: i64,
        a: &Alert,
        up: &mut Update,
    ) -> Result<(), CaseError> {
        let cfg = self.config;
        let mut vars = self.vars(c)?;
        vars.insert("notice", n.to_string());
        vars.insert("notices", n.to_string());
        let label = format!("notice-{n}");
        let note = match &c.contact {
            Some(contact) if recipients(contact).count() > 0 => {
                self.queue(c, &label, "mail", contact, Kind::Notice, &vars, t)?;
                format!("notice {n} of {} to {contact}", cfg.max_notices)
            }
            _ => {
                let why = match &c.owner {
                    Some(o) => format!("the owner {o} has no contact in the inventory"),
                    None => format!("no owner of {} in the inventory", c.host),
                };
                let mut note = format!("notice {n} could not be sent: {why}");
                vars.insert("why", why);
                match &cfg.desk {
                    Some(desk) if n == 1 => {
                        self.queue(
                            c,
                            &format!("no-contact-{n}"),
                            "mail",
                            desk,
                            Kind::NoContact,
                            &vars,
                            t,
                        )?;
                        note.push_str(&format!("; the desk ({desk}) was told"));
                    }
                    None if n == 1 => note.push_str("; no desk address in [notify] either"),
                    _ => {}
                }
                note
            }
        };
        self.exec(
            "UPDATE cases SET state = 'notified', notices = ?1, last_notice_ms = ?2 WHERE id = ?3",
            params![n, t, c.id],
        )?;
        let event = if note.contains("could not be sent") {
            "notice-not-sent"
        } else {
            "notice"
        };
        self.history(&c.id, t, event, State::Notified, &note, Some(a))?;
        up.notices.push(change(c, t, note));
        Ok(())
    }

    fn suspend(&self, c: &CaseRow, t: i64, a: &Alert, up: &mut Update) -> Result<(), CaseError> {
        let cfg = self.config;
        self.set_state(&c.id, State::SuspensionRecommended)?;
        let account = c
            .account
            .as_deref()
            .unwrap_or("(no account in the inventory)");
        let mut note = format!(
            "still active {} after notice {}: suspension of account {account} recommended",
            format_duration_ms(t - c.last_notice_ms.unwrap_or(c.first_seen_ms)),
            c.notices
        );
        // The history is part of the desk's message: write the step first.
        self.history(
            &c.id,
            t,
            "suspension-recommended",
            State::SuspensionRecommended,
            &note,
            Some(a),
        )?;
        let mut vars = self.vars(c)?;
        vars.insert("notice", c.notices.to_string());
        match &cfg.desk {
            Some(desk) => {
                self.queue(c, "suspend", "mail", desk, Kind::Suspend, &vars, t)?;
                note.push_str(&format!("; the desk ({desk}) was told"));
            }
            None => note.push_str("; no desk address in [notify]: nobody was told"),
        }
        if let Some(cmd) = &cfg.suspend_command {
            self.queue_command(c, cmd, t)?;
            note.push_str("; suspend_command queued");
        }
        self.exec(
            "UPDATE history SET note = ?1 WHERE case_id = ?2 AND seq = (SELECT MAX(seq) FROM history WHERE case_id = ?2)",
            params![note, c.id],
        )?;
        up.escalated.push(change(c, t, note));
        Ok(())
    }

    fn resolve(&self, c: &CaseRow, up: &mut Update) -> Result<(), CaseError> {
        let at = c.last_seen_ms + self.config.resolve_after_ms;
        self.set_state(&c.id, State::Resolved)?;
        self.exec(
            "UPDATE cases SET ended_ms = ?1 WHERE id = ?2",
            params![at, c.id],
        )?;
        let note = format!(
            "no alerts for {} since {}",
            format_duration_ms(self.config.resolve_after_ms),
            iso_time(c.last_seen_ms)
        );
        self.history(&c.id, at, "resolved", State::Resolved, &note, None)?;
        up.resolved.push(change(c, at, note));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn queue(
        &self,
        c: &CaseRow,
        label: &str,
        kind: &str,
        to: &str,
        template: Kind,
        vars: &BTreeMap<&str, String>,
        t: i64,
    ) -> Result<(), CaseError> {
        let (subject, body) = self.config.templates.get(template).render(vars);
        let domain = self
            .config
            .from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_string())
            .unwrap_or_else(|| "flowhound".into());
        let message_id = format!("<{}.{label}@{domain}>", c.id);
        let first = format!("<{}.notice-1@{domain}>", c.id);
        let in_reply_to = (label != "notice-1").then_some(first);
        self.exec(
            "INSERT OR IGNORE INTO outbox(case_id, label, kind, sender, recipient, subject, body, message_id, in_reply_to, queued_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![c.id, label, kind, self.config.from, to, subject, body, message_id, in_reply_to, t],
        )?;
        Ok(())
    }

    fn queue_command(&self, c: &CaseRow, cmd: &str, t: i64) -> Result<(), CaseError> {
        self.exec(
            "INSERT OR IGNORE INTO outbox(case_id, label, kind, sender, recipient, subject, body, message_id, queued_ms) \
             VALUES (?1, 'suspend-command', 'command', '', ?2, 'suspend_command', '', '', ?3)",
            params![c.id, cmd, t],
        )?;
        Ok(())
    }

    /// The placeholders' values for a case's messages.
    fn vars(&self, c: &CaseRow) -> Result<BTreeMap<&'static str, String>, CaseError> {
        let cfg = self.config;
        let mut stmt = self
            .conn
            .prepare("SELECT alert FROM alerts WHERE case_id = ?1 ORDER BY window_start_ms, rule")
            .map_err(|e| self.db(e))?;
        let alerts: Vec<Alert> = stmt
            .query_map([&c.id], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.db(e))?
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        let mut stmt = self
            .conn
            .prepare("SELECT time_ms, event, note FROM history WHERE case_id = ?1 ORDER BY seq")
            .map_err(|e| self.db(e))?;
        let history: Vec<String> = stmt
            .query_map([&c.id], |r| {
                Ok(format!(
                    "  {}  {:<24} {}",
                    human_time(r.get(0)?),
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.db(e))?;
        let unknown = |v: &Option<String>, what: &str| {
            v.clone().unwrap_or_else(|| format!("({what} unknown)"))
        };
        let (what, advice) = explain(&c.category, alerts.last());
        Ok(BTreeMap::from([
            ("case", c.id.clone()),
            ("max_notices", cfg.max_notices.to_string()),
            ("renotify_after", human_duration(cfg.renotify_after_ms)),
            ("host", c.host.clone()),
            ("category", c.category.clone()),
            (
                "owner",
                c.owner
                    .clone()
                    .unwrap_or_else(|| "owner of ".to_string() + &c.host),
            ),
            ("contact", unknown(&c.contact, "contact")),
            ("account", unknown(&c.account, "account")),
            ("network", unknown(&c.network, "network")),
            ("first_seen", human_time(c.first_seen_ms)),
            ("last_seen", human_time(c.last_seen_ms)),
            ("what", what),
            ("advice", advice),
            ("evidence", evidence_table(&alerts)),
            ("history", history.join("\n")),
            (
                "query",
                alerts
                    .last()
                    .map(|a| a.query_command("DATA"))
                    .unwrap_or_default(),
            ),
            ("why", String::new()),
            ("from", cfg.from.clone()),
            ("desk", cfg.desk.clone().unwrap_or_default()),
        ]))
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "low" => 0,
        "medium" => 1,
        "high" => 2,
        _ => 3,
    }
}

fn change(c: &CaseRow, t: i64, note: String) -> Change {
    Change {
        case: c.id.clone(),
        host: c.host.clone(),
        category: c.category.clone(),
        time_ms: t,
        note,
    }
}

fn alert_note(a: &Alert) -> String {
    format!(
        "{} ({}): {} flows to {} peers, {} to {}",
        a.rule,
        a.severity,
        a.flows,
        a.distinct_peers,
        iso_time(a.window_start_ms),
        iso_time(a.window_end_ms)
    )
}

/// `2026-11-26 14:05 UTC`.
fn human_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn human_duration(ms: i64) -> String {
    let h = ms / 3_600_000;
    match (h, ms % 3_600_000) {
        (1, 0) => "1 hour".into(),
        (h, 0) if h % 24 == 0 && h > 24 => format!("{} days", h / 24),
        (24, 0) => "24 hours".into(),
        (h, 0) => format!("{h} hours"),
        _ => format!("{} minutes", ms / 60_000),
    }
}

fn port_name(port: u16) -> &'static str {
    match port {
        22 => "ssh",
        23 => "telnet",
        25 => "smtp, e-mail",
        53 => "dns",
        80 => "http",
        135 => "ms-rpc",
        139 => "netbios",
        443 => "https",
        445 => "smb, windows file sharing",
        465 | 587 => "e-mail submission",
        1433 | 1434 => "ms-sql",
        3389 => "remote desktop",
        _ => "",
    }
}

/// The alerts as a table an owner can read.
fn evidence_table(alerts: &[Alert]) -> String {
    let mut out = format!(
        "  {:<16}  {:<16}  {:>8}  {:>6}  {:<22}  {}\n",
        "from (UTC)", "to (UTC)", "flows", "peers", "port", "destination countries"
    );
    let skip = alerts.len().saturating_sub(10);
    if skip > 0 {
        out.push_str(&format!("  ({skip} earlier alerts left out)\n"));
    }
    let t = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    for a in &alerts[skip..] {
        let port = a
            .top_ports
            .first()
            .map(|p| match port_name(p.port) {
                "" => p.port.to_string(),
                n => format!("{} ({n})", p.port),
            })
            .unwrap_or_default();
        let countries: Vec<String> = a
            .top_countries
            .iter()
            .take(5)
            .map(|c| format!("{} {}", c.country, c.flows))
            .collect();
        out.push_str(&format!(
            "  {:<16}  {:<16}  {:>8}  {:>6}  {:<22}  {}\n",
            t(a.window_start_ms),
            t(a.window_end_ms),
            a.flows,
            a.distinct_peers,
            port,
            if countries.is_empty() {
                "-".into()
            } else {
                countries.join(", ")
            }
        ));
    }
    // The busiest peers of the latest alert that names them.
    if let Some(a) = alerts.iter().rev().find(|a| !a.top_peers.is_empty()) {
        out.push_str(&format!(
            "\n  Most contacted ({} to {}):\n",
            t(a.window_start_ms),
            t(a.window_end_ms)
        ));
        for p in a.top_peers.iter().take(5) {
            out.push_str(&format!(
                "    {:<39}  {:<3}  {:>6} flows\n",
                p.ip.to_string(),
                p.country.as_deref().unwrap_or("-"),
                p.flows
            ));
        }
    }
    out.trim_end().to_string()
}

/// What was seen, and what to do, in the owner's words.
fn explain(category: &str, last: Option<&Alert>) -> (String, String) {
    let clean = "1. Disconnect the computer from the network (unplug it or turn off its Wi-Fi).\n\
                 2. Have it checked: scan it with an up-to-date anti-malware tool, or better,\n   \
                 reinstall it from clean media.\n\
                 3. Change the passwords used on it, from another computer.\n\
                 4. Reply to this message when it is done.";
    let what = match category {
        "spam" => "send e-mail directly to many mail servers on the Internet (SMTP, port 25).\n\
                   Ordinary computers send mail through their provider's mail server; one that\n\
                   talks to mail servers all over the world is almost always infected with\n\
                   spam-sending malware (a spam bot)."
            .to_string(),
        "worm" => "connect to a great many other computers on the same few ports, the way a\n\
                   network worm spreads. The computer is very likely infected."
            .to_string(),
        "scan" => "probe many addresses or ports (a scan). That is what infected machines and\n\
                   attack tools do."
            .to_string(),
        "mail-anomaly" => "send far more e-mail than usual, or at unusual hours, to many foreign\n\
                   destinations. The mail server may relay spam for someone else."
            .to_string(),
        "blocklist" => "talk to addresses on a blocklist of known malicious servers.".to_string(),
        _ => format!(
            "behave in a way our monitoring flags as harmful: {}.",
            last.map(|a| a.description.trim_end_matches('.').to_string())
                .unwrap_or_else(|| category.to_string())
        ),
    };
    let advice = match category {
        "mail-anomaly" => "1. Check the mail server's queue and logs for mail you did not expect.\n\
                           2. Make sure it is not an open relay and that no account's password leaked.\n\
                           3. Reply to this message with what you found."
            .to_string(),
        _ => clean.to_string(),
    };
    (what, advice)
}
