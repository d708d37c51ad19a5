//! `flowhound serve`: the collector, with its rules evaluated on what
//! arrives, its alerts stored and delivered.
//!
//! ```text
//! UDP ─► collector ─► Parquet files
//!            │ tap (a copy of each decoded batch, never blocking)
//!            ▼
//!        detection ─► alert store (SQLite, deduplicated) ─► sinks (one thread each)
//! ```
//!
//! [`start`] binds everything and returns at once, with the addresses it
//! bound ([`Serving`]); [`run`] serves until a shutdown flag is set. Either
//! stops cleanly: every received flow is written, every alert raised is
//! stored and handed to the sinks.
//!
//! This crate wires the others together; it owns no format and no rule.
#![deny(missing_docs)]

mod config;
pub mod jobs;
pub mod schedule;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use chrono::NaiveDate;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use flowhound_collect::{CollectConfig, CollectError, Running};
use flowhound_detect::sink::{Sink, SinkError};
use flowhound_detect::{
    Alert, AlertDb, AlertDbError, DetectError, Detection, LiveDetector, LiveStats, Recorded,
};
use flowhound_report::ReportDay;
use flowhound_store::LocalStore;
use tracing::{error, info, warn};

pub use config::ServeConfig;

/// Decoded batches waiting for detection; more are dropped (and counted).
pub const TAP_BATCHES: usize = 16;
/// Alerts waiting for one sink; more are dropped for that sink (counted;
/// they stay in the store).
pub const SINK_QUEUE: usize = 1024;
const DAY_MS: i64 = 86_400_000;
/// What the schedules ran, in the data directory.
const SCHEDULE_STATE: &str = "schedule.json";

/// Why serve cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The user's: the config file is wrong.
    #[error("{file}:{line}: {reason}")]
    Config {
        /// The config file.
        file: String,
        /// 1-based line (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The site inventory or the registries are wrong or unreadable.
    #[error("{0}")]
    Enrich(String),
    /// The rules are wrong.
    #[error(transparent)]
    Rules(DetectError),
    /// A sink is wrong.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The alert store cannot be opened.
    #[error(transparent)]
    AlertDb(#[from] AlertDbError),
    /// The collector cannot run.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// A file serve keeps cannot be read or written.
    #[error("{0}: {1}")]
    Io(String, String),
    /// A scheduled job failed.
    #[error("{0}")]
    Job(String),
    /// A report could not be made or written.
    #[error(transparent)]
    Report(#[from] flowhound_report::ReportError),
    /// The case database or a message failed.
    #[error(transparent)]
    Cases(#[from] flowhound_cases::CaseError),
    /// A bug: a thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServeError {
    /// Whether the user can fix it in the config.
    pub fn is_user(&self) -> bool {
        match self {
            ServeError::Config { .. } | ServeError::Enrich(_) | ServeError::Sink(_) => true,
            ServeError::Rules(e) => e.is_user(),
            ServeError::Report(e) => e.is_user(),
            ServeError::Cases(e) => e.is_user(),
            ServeError::Collect(CollectError::Bind { .. } | CollectError::Busy(_)) => true,
            _ => false,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One sink's counters.
#[derive(Default)]
struct SinkCounters {
    delivered: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
}

/// Detection's counters, on the collector's `/metrics`.
#[derive(Default)]
struct Counters {
    rules: AtomicU64,
    rules_skipped: AtomicU64,
    alerts_raised: AtomicU64,
    alerts_updated: AtomicU64,
    store_errors: AtomicU64,
    live: std::sync::Mutex<LiveStats>,
    sinks: Vec<(String, SinkCounters)>,
}

impl Counters {
    fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let r = Ordering::Relaxed;
        let live = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        let mut one = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        one(
            "flowhound_detect_rules",
            "gauge",
            "Rules evaluated live.",
            self.rules.load(r),
        );
        one(
            "flowhound_detect_rules_skipped",
            "gauge",
            "Rules that cannot run with this config (the log says why).",
            self.rules_skipped.load(r),
        );
        one(
            "flowhound_alerts_raised_total",
            "counter",
            "New incidents raised and handed to the sinks.",
            self.alerts_raised.load(r),
        );
        one(
            "flowhound_alerts_updated_total",
            "counter",
            "Alerts merged into an incident going on (not delivered again).",
            self.alerts_updated.load(r),
        );
        one(
            "flowhound_alert_store_errors_total",
            "counter",
            "Alerts the SQLite store failed to record.",
            self.store_errors.load(r),
        );
        one(
            "flowhound_detect_flows_total",
            "counter",
            "Flows evaluated by live detection.",
            live.flows,
        );
        one(
            "flowhound_detect_late_flows_total",
            "counter",
            "Flows for detection windows already closed (per rule group and phase).",
            live.late_flows,
        );
        one(
            "flowhound_detect_untracked_flows_total",
            "counter",
            "Flows of hosts not tracked because a rule group was over its host budget.",
            live.untracked_flows,
        );
        one(
            "flowhound_detect_errors_total",
            "counter",
            "Batches or baseline queries detection failed on.",
            live.errors,
        );
        one(
            "flowhound_detect_windows",
            "gauge",
            "Host windows held by live detection.",
            live.tracked_windows,
        );
        for (name, help, get) in [
            (
                "flowhound_sink_delivered_total",
                "Alerts a sink took.",
                (|s: &SinkCounters| s.delivered.load(Ordering::Relaxed))
                    as fn(&SinkCounters) -> u64,
            ),
            (
                "flowhound_sink_errors_total",
                "Alerts a sink failed to take (the log says why).",
                |s| s.errors.load(Ordering::Relaxed),
            ),
            (
                "flowhound_sink_dropped_total",
                "Alerts dropped because a sink was behind.",
                |s| s.dropped.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (sink, c) in &self.sinks {
                let label = sink.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{sink=\"{label}\"}} {}", get(c));
            }
        }
        out
    }
}

/// A running `flowhound serve`.
pub struct Serving {
    /// The UDP addresses bound, in the order of the config.
    pub listen: Vec<SocketAddr>,
    /// Where `/metrics` is served, when asked.
    pub metrics_addr: Option<SocketAddr>,
    /// The alert store.
    pub alerts_db: PathBuf,
    collector: Running,
    detection: JoinHandle<()>,
    sinks: Vec<JoinHandle<()>>,
    scheduler: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Serving {
    /// Whether a part ended on its own (an error): [`Serving::stop`] says why.
    pub fn is_finished(&self) -> bool {
        self.collector.is_finished() || self.detection.is_finished()
    }

    /// Stop: every received flow is written, every alert stored and handed
    /// to its sinks, then return.
    pub fn stop(self) -> Result<(), ServeError> {
        // No new job starts; one running now finishes after the flows are
        // written (it only reads them).
        if let Some((stop, _)) = &self.scheduler {
            stop.store(true, Ordering::Relaxed);
        }
        let collected = self.collector.stop();
        // The collector's end drops the tap: detection drains it and ends,
        // and with it the sinks' queues.
        let detected = self.detection.join();
        for s in self.sinks {
            let _ = s.join();
        }
        let scheduled = match self.scheduler {
            Some((_, h)) => h.join(),
            None => Ok(()),
        };
        collected?;
        detected.map_err(|_| ServeError::Internal("the detection thread panicked".into()))?;
        scheduled.map_err(|_| ServeError::Internal("the schedule thread panicked".into()))
    }
}

/// Start serving `config`: the alert store, the sinks, detection, then the
/// collector. Returns once every socket is bound.
pub fn start(config: ServeConfig) -> Result<Serving, ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| {
        ServeError::Collect(CollectError::DataDir {
            path: config.data_dir.clone(),
            source,
        })
    })?;
    if let Some(e) = &config.jobs.ctx.enricher {
        e.ready().map_err(ServeError::Enrich)?;
    }
    let mut opened = Vec::new();
    for s in &config.sinks {
        opened.push(s.open(&config.base)?);
    }
    let db = AlertDb::open(&config.alerts_db)?;
    // What the schedules ran, and how they mail: wrong, serve does not start.
    let state = schedule::ScheduleState::load(&config.data_dir.join(SCHEDULE_STATE))?;
    let mailer = flowhound_cases::Mailer::from_config(&config.jobs.notify)?;
    let windows: std::collections::HashMap<String, i64> = config
        .jobs
        .rules
        .iter()
        .map(|r| (r.name.clone(), r.window_ms))
        .collect();
    let detector = LiveDetector::with_store(
        config.jobs.rules.clone(),
        config.jobs.ctx.clone(),
        Box::new(LocalStore::new(&config.data_dir)),
    );
    for (rule, why) in detector.skipped() {
        warn!(rule = %rule, "rule does not run: {why}");
    }
    let counters = Arc::new(Counters {
        sinks: opened
            .iter()
            .map(|s| (s.name().to_string(), SinkCounters::default()))
            .collect(),
        ..Counters::default()
    });
    counters
        .rules
        .store(detector.rules_running() as u64, Ordering::Relaxed);
    counters
        .rules_skipped
        .store(detector.skipped().len() as u64, Ordering::Relaxed);
    info!(
        rules = detector.rules_running(),
        skipped = detector.skipped().len(),
        sinks = opened.len(),
        alerts = %config.alerts_db.display(),
        "live detection"
    );

    let mut queues = Vec::new();
    let mut sinks = Vec::new();
    for (i, sink) in opened.into_iter().enumerate() {
        let (tx, rx) = bounded::<Alert>(SINK_QUEUE);
        let c = counters.clone();
        let h = std::thread::Builder::new()
            .name(format!("sink-{i}"))
            .spawn(move || deliver(sink, rx, c, i))
            .map_err(|e| ServeError::Internal(e.to_string()))?;
        queues.push(tx);
        sinks.push(h);
    }

    let (tap_tx, tap_rx) = bounded::<RecordBatch>(TAP_BATCHES);
    let mut collect = CollectConfig::new(config.listen.clone(), config.data_dir.clone());
    collect.metrics = config.metrics;
    collect.enricher = config.jobs.ctx.enricher.clone();
    collect.file_interval = config.file_interval;
    collect.tap = Some(tap_tx);
    let detection = {
        let c = counters.clone();
        std::thread::Builder::new()
            .name("detect".into())
            .spawn(move || detect_loop(tap_rx, detector, db, windows, queues, c))
            .map_err(|e| ServeError::Internal(e.to_string()))?
    };
    // If the collector cannot start, its config (and the tap) is dropped:
    // detection and the sinks end by themselves.
    let collector = flowhound_collect::start(collect)?;
    let c = counters.clone();
    collector.metrics.add_source(Arc::new(move || c.render()));
    let alerts_db = config.alerts_db.clone();
    let scheduler = if config.schedules.is_empty() {
        None
    } else {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let h = std::thread::Builder::new()
            .name("schedule".into())
            .spawn(move || schedule_loop(&config, state, &mailer, &s))
            .map_err(|e| ServeError::Internal(e.to_string()))?;
        Some((stop, h))
    };
    Ok(Serving {
        listen: collector.listen.clone(),
        metrics_addr: collector.metrics_addr,
        alerts_db,
        collector,
        detection,
        sinks,
        scheduler,
    })
}

/// Serve `config` until `shutdown` is set (SIGINT, SIGTERM) or a part
/// fails.
pub fn run(config: ServeConfig, shutdown: &AtomicBool) -> Result<(), ServeError> {
    let serving = start(config)?;
    while !shutdown.load(Ordering::Relaxed) && !serving.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed = serving.is_finished() && !shutdown.load(Ordering::Relaxed);
    info!("stopping: writing every received flow, delivering every alert");
    serving.stop()?;
    if failed {
        return Err(ServeError::Internal(
            "a part of serve stopped unexpectedly (see the log)".into(),
        ));
    }
    Ok(())
}

/// Run the `[[schedule]]` jobs as they fall due (checked every 20 s),
/// until `stop`. What ran is kept in `DATA/schedule.json`, saved after
/// each job. A job that panics is logged as failed; the others go on.
fn schedule_loop(
    config: &ServeConfig,
    mut state: schedule::ScheduleState,
    mailer: &flowhound_cases::Mailer,
    stop: &AtomicBool,
) {
    let state_path = config.data_dir.join(SCHEDULE_STATE);
    for s in &config.schedules {
        info!(job = %s.key(), "scheduled");
    }
    let tz = config.jobs.ctx.site.timezone().clone();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            next = Instant::now() + Duration::from_secs(20);
            // The jobs due in one round for the same day (a report and the
            // cases update at the same hour) share one run of the rules.
            let mut detected: Detected = None;
            for s in &config.schedules {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ran = schedule::run_due(
                    std::slice::from_ref(s),
                    &mut state,
                    &tz,
                    now_ms(),
                    |s, day| run_job(&config.jobs, mailer, &mut detected, s, day),
                );
                if ran > 0 {
                    if let Err(e) = state.save(&state_path) {
                        error!(error = %e, "cannot record what the schedules ran");
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The day's detection, kept for the next job of the same day.
type Detected = Option<(NaiveDate, ReportDay, Detection)>;

/// Run `s` for `day`, with the day's detection from `detected` or made
/// now (and kept there). A panic is the job's failure, not serve's.
fn run_job(
    jobs: &jobs::Jobs,
    mailer: &flowhound_cases::Mailer,
    detected: &mut Detected,
    s: &schedule::Schedule,
    day: NaiveDate,
) -> Result<String, ServeError> {
    let job = std::panic::AssertUnwindSafe(|| {
        let (_, rday, detection) = match detected.take() {
            Some(d) if d.0 == day => detected.insert(d),
            _ => {
                let (rday, detection) = jobs.detect_day(day)?;
                info!(day = %day, alerts = detection.alerts.len(),
                    rules = detection.rules_run, "the rules ran over the day");
                detected.insert((day, rday, detection))
            }
        };
        jobs.run(s, rday, detection, mailer, now_ms())
    });
    std::panic::catch_unwind(job)
        .unwrap_or_else(|_| Err(ServeError::Internal(format!("{} panicked", s.key()))))
}

fn detect_loop(
    batches: Receiver<RecordBatch>,
    mut detector: LiveDetector,
    mut db: AlertDb,
    windows: std::collections::HashMap<String, i64>,
    queues: Vec<Sender<Alert>>,
    counters: Arc<Counters>,
) {
    let mut last_tick = Instant::now();
    loop {
        match batches.recv_timeout(Duration::from_millis(250)) {
            Ok(b) => {
                let raised = detector.push(&b);
                record(&mut db, raised, true, &windows, &queues, &counters);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            // Flow time, but not beyond a day past the clock: one exporter
            // with a clock far ahead must not close everyone's windows.
            let now = detector.watermark().min(now_ms() + DAY_MS);
            let finals = detector.tick(now);
            record(&mut db, finals, false, &windows, &queues, &counters);
            if let Ok(mut l) = counters.live.lock() {
                *l = detector.stats();
            }
        }
    }
    if let Ok(mut l) = counters.live.lock() {
        *l = detector.stats();
    }
}

/// Store alerts; hand the new incidents to every sink. `raised`: these are
/// alerts just raised (delivered even when the store fails), not a closed
/// window's final counts.
fn record(
    db: &mut AlertDb,
    alerts: Vec<Alert>,
    raised: bool,
    windows: &std::collections::HashMap<String, i64>,
    queues: &[Sender<Alert>],
    counters: &Counters,
) {
    for alert in alerts {
        let window = windows.get(&alert.rule).copied().unwrap_or(3_600_000);
        let deliver = match db.record(&alert, window, now_ms()) {
            Ok(Recorded::New(stored)) => {
                counters.alerts_raised.fetch_add(1, Ordering::Relaxed);
                info!(
                    id = stored.id,
                    rule = %alert.rule,
                    host = %alert.host,
                    category = %alert.category,
                    severity = %alert.severity,
                    flows = alert.flows,
                    "alert"
                );
                Some(stored.alert)
            }
            Ok(Recorded::Updated(_)) => {
                counters.alerts_updated.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(e) => {
                counters.store_errors.fetch_add(1, Ordering::Relaxed);
                error!(error = %e, rule = %alert.rule, host = %alert.host, "cannot store an alert");
                raised.then_some(alert)
            }
        };
        let Some(alert) = deliver else { continue };
        for (i, q) in queues.iter().enumerate() {
            match q.try_send(alert.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    if let Some((name, c)) = counters.sinks.get(i) {
                        c.dropped.fetch_add(1, Ordering::Relaxed);
                        warn!(sink = %name, rule = %alert.rule, host = %alert.host,
                            "a sink is behind: the alert is dropped for it (it stays in the store)");
                    }
                }
            }
        }
    }
}

fn deliver(mut sink: Sink, alerts: Receiver<Alert>, counters: Arc<Counters>, i: usize) {
    for alert in alerts {
        let c = counters.sinks.get(i).map(|(_, c)| c);
        match sink.deliver(&alert) {
            Ok(()) => {
                if let Some(c) = c {
                    c.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                if let Some(c) = c {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                }
                warn!(error = %e, rule = %alert.rule, host = %alert.host,
                    "a sink failed to take an alert (it stays in the store)");
            }
        }
    }
}
